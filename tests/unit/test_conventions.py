"""Conventions of a run's tables (issue 12, 13 §4): shares as fractions named ``*_share``,
Table 2's ``changed`` = 0 at t', the fewest cells of a regional fit (``min_fit_cells``),
the configurable whole-area label and the flags in words in the report.

Expected numbers are worked out by hand here or with plain NumPy, never read back from the
code under test.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from gee_cscc.config import Config
from gee_cscc.report.html_sections import readable_flags
from gee_cscc.report.outputs import TABLE_FILES
from gee_cscc.stats.fit import FLAGS, fit_decay
from gee_cscc.stats.resilience import fit_region
from gee_cscc.stats.run_tables import (
    ALL_ID,
    capacity_by_region,
    maintenance_and_resilience,
    run_summary,
    trend_class_summary,
    yearly_totals,
)
from gee_cscc.stats.tables import MAINTENANCE_COLUMNS, maintenance_table

# ------------------------------------------------------------------ Table 2 at t' (13 §4)


def test_table2_by_hand_changed_is_zero_at_the_reference_year():
    # N⁺ = 10, 8, 8, 5; N⁻ = 6, 6, 3, 2 over 2000–2003, t' = 2000.
    # C_i = (10 − N⁺_i) + (6 − N⁻_i) = 0, 2, 5, 9; Σ_{i>t'} C = 16;
    # cumulative shares 2/16, 7/16, 16/16, empty at t'.
    table = maintenance_table([2000, 2001, 2002, 2003], [10, 8, 8, 5], [6, 6, 3, 2],
                              reference_year=2000)  # fmt: skip
    assert table["changed"].tolist() == [0, 2, 5, 9]
    assert table["changed"].iloc[0] == 0 and not math.isnan(table["changed"].iloc[0])
    share = table["changed_cum_share"].to_numpy()
    assert math.isnan(share[0])
    np.testing.assert_allclose(share[1:], [2 / 16, 7 / 16, 1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(table["q_pos_share"], [1.0, 0.8, 0.8, 0.5])
    np.testing.assert_allclose(table["q_neg_share"], [1.0, 1.0, 0.5, 1 / 3])


def test_table2_csv_cell_at_the_reference_year_is_0_not_empty(tmp_path):
    table = maintenance_table([2000, 2001], [4, 3], [2, 2], reference_year=2000)
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    first = path.read_text().splitlines()[1].split(",")
    row = dict(zip(MAINTENANCE_COLUMNS, first, strict=True))
    assert row["changed"] == "0"
    assert row["changed_cum_share"] == ""  # stays empty at t'


# ------------------------------------------------------------------ one unit per kind


def test_no_table_has_a_percent_or_ratio_column():
    for name, (_, leading) in TABLE_FILES.items():
        for column in leading:
            words = column.split("_")
            assert "pct" not in words and "ratio" not in words, (name, column)
    assert "q_pos_share" in MAINTENANCE_COLUMNS and "changed_cum_share" in MAINTENANCE_COLUMNS


def _sums():
    """Grouped sums of two regions (ids 1, 2) and the outside (0), by hand."""
    cap = pd.DataFrame(
        {"cscc_g": [0.0, 3e12, 1e12], "npp_g": [0.0, 2e12, 0.5e12],
         "area_m2": [0.0, 2e9, 1e9], "cells": [0, 20, 10]},
        index=pd.Index([0, 1, 2], name="region_id"),
    )  # fmt: skip
    yearly = pd.DataFrame(
        {"npp_2000": [0.0, 1e12, 0.25e12], "npp_2001": [0.0, 1.5e12, 0.5e12],
         "npp_2002": [0.0, 2e12, 0.5e12]},
        index=cap.index,
    )  # fmt: skip
    return cap, yearly


def test_every_share_of_the_tables_is_a_fraction_by_hand():
    cap, yearly_sums = _sums()
    cfg = Config(start=2000, end=2002, reference_year=2002)
    order, label = [ALL_ID, 1, 2], {ALL_ID: cfg.all_label, 1: "A", 2: "B"}
    capacity = capacity_by_region(cap, order, label).set_index("region")
    # ALL: CSCC 4e12, NPP 2.5e12 → potential 1.5e12: 1.5/4 of CSCC, 1.5/2.5 of NPP
    assert capacity.loc["ALL", "potential_share_of_cscc"] == pytest.approx(1.5 / 4)
    assert capacity.loc["ALL", "potential_share_of_npp"] == pytest.approx(1.5 / 2.5)
    yearly, _ = yearly_totals(yearly_sums, cap, cfg.years)
    # saturation S_t = total NPP / total CSCC = 1.25/4, 2/4, 2.5/4
    np.testing.assert_allclose(yearly["saturation_share"], [1.25 / 4, 0.5, 2.5 / 4])
    classes = {1: "SI", 2: "SD"}
    class_sums = pd.DataFrame(
        {"a_trend_class_1": [0.0, 1.5e9, 0.0], "a_trend_class_2": [0.0, 0.5e9, 1e9],
         "n_trend_class_1": [0, 15, 0], "n_trend_class_2": [0, 5, 10],
         "a_trend_class_strict_1": [0.0, 1e9, 0.0], "a_trend_class_strict_2": [0.0, 1e9, 1e9],
         "n_trend_class_strict_1": [0, 10, 0], "n_trend_class_strict_2": [0, 10, 10]},
        index=cap.index,
    )  # fmt: skip
    trend = trend_class_summary(class_sums, order, label, cfg, classes)
    si = trend[(trend["region"] == "ALL") & (trend["alpha"] == cfg.alpha)]
    si = si.set_index("class")
    assert si.loc["SI", "area_share"] == pytest.approx(1.5 / 3)  # 1.5e9 of 3e9 m²
    assert si.loc["SD", "cell_share"] == pytest.approx(15 / 30)


# ------------------------------------------------------------------ min_fit_cells


def _decaying(n0: int, years: int = 6) -> np.ndarray:
    return np.round(n0 * np.exp(-np.arange(years) / 4.0)).astype(int)


def test_too_few_cells_gives_no_tau_and_its_flag():
    years = np.arange(2000, 2006)
    n_pos = np.array([3, 3, 2, 2, 1, 1])  # 3 cells: q moves in thirds
    n_neg = _decaying(400)
    row = fit_region(years, n_pos, n_neg, reference_year=2000, min_cells=10)
    assert math.isnan(row["tau_pos"]) and math.isnan(row["tau_pos_low"])
    assert math.isnan(row["tau_pos_high"]) and math.isnan(row["r2_pos"])
    assert row["flags"].split(";")[0] == "pos:too_few_cells"
    assert math.isfinite(row["tau_neg"])  # 400 cells: fitted
    assert math.isnan(row["rs"]) and row["grade"] == "none"
    assert "too_few_cells" in FLAGS


@pytest.mark.parametrize(("n0", "fitted"), [(9, False), (10, True), (11, True)])
def test_the_threshold_is_inclusive(n0, fitted):
    years = np.arange(2000, 2006)
    q = _decaying(n0) / n0
    fit = fit_decay(years, q, reference_year=2000, n_ref=n0, min_cells=10)
    assert ("too_few_cells" in fit.flags) is not fitted
    assert math.isfinite(fit.tau) is fitted


def test_no_cells_stays_no_cells_whatever_the_minimum():
    fit = fit_decay([2000, 2001, 2002], [0, 0, 0], reference_year=2000, n_ref=0, min_cells=10)
    assert fit.flags == ("no_cells",)


def test_the_run_tables_use_config_min_fit_cells():
    years = [2000, 2001, 2002, 2003, 2004]
    rows = []
    for rid, pos, neg in ((ALL_ID, [60, 50, 45, 41, 40], [30, 20, 15, 12, 10]),
                          (1, [5, 4, 4, 3, 3], [30, 20, 15, 12, 10])):  # fmt: skip
        rows += [(rid, y, p, n) for y, p, n in zip(years, pos, neg, strict=True)]
    counts = pd.DataFrame(rows, columns=["region_id", "year", "n_pos", "n_neg"])
    label = {ALL_ID: "CN", 1: "HUN"}
    for minimum, hun_fitted in ((1, True), (6, False)):
        cfg = Config(start=1998, end=2004, reference_year=2000, min_fit_cells=minimum)
        _, res = maintenance_and_resilience(counts, [ALL_ID, 1], label, cfg, years)
        res = res.set_index("region")
        assert math.isfinite(res.loc["CN", "tau_pos"])  # 60 cells
        assert math.isfinite(res.loc["HUN", "tau_pos"]) is hun_fitted
        assert ("pos:too_few_cells" in res.loc["HUN", "flags"]) is not hun_fitted


# ------------------------------------------------------------------ the whole-area label


def test_all_label_names_the_whole_area_row_everywhere():
    cap, yearly_sums = _sums()
    cfg = Config(start=2000, end=2002, reference_year=2002, all_label="CN")
    order, label = [ALL_ID, 1, 2], {ALL_ID: cfg.all_label, 1: "A", 2: "B"}
    capacity = capacity_by_region(cap, order, label)
    assert capacity["region"].tolist() == ["CN", "A", "B"]
    yearly, series = yearly_totals(yearly_sums, cap, cfg.years)
    classes = {1: "SI"}
    class_sums = pd.DataFrame({"a_trend_class_1": [0.0, 2e9, 1e9], "n_trend_class_1": [0, 20, 10],
                               "a_trend_class_strict_1": [0.0, 2e9, 1e9],
                               "n_trend_class_strict_1": [0, 20, 10]}, index=cap.index)  # fmt: skip
    trend = trend_class_summary(class_sums, order, label, cfg, classes)
    counts = pd.DataFrame(
        [(rid, 2002, 5, 3) for rid in order], columns=["region_id", "year", "n_pos", "n_neg"]
    )
    table2, _ = maintenance_and_resilience(counts, order, label, cfg, [2002])

    class Grid:
        def to_dict(self):
            return {}

    summary = run_summary(cfg, capacity, yearly, series, trend, table2, Grid())
    assert summary["all_label"] == "CN"
    assert summary["vca_cells"] == 30 and summary["cscc_total_pg"] == pytest.approx(4e-3)


def test_all_label_default_is_ALL_and_must_not_be_empty():
    from gee_cscc.errors import ConfigError

    assert Config().all_label == "ALL"
    assert Config(all_label=" CN ").all_label == "CN"
    with pytest.raises(ConfigError, match="all_label"):
        Config(all_label="")


# ------------------------------------------------------------------ flags in words


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        ("pos:plateau;neg:no_cells", "positive trend: plateau; negative trend: no cells"),
        ("pos:no_loss", "positive trend: no cell lost"),
        (
            "pos:plateau;pos:extrapolated;neg:too_few_cells",
            "positive trend: plateau, extrapolated; negative trend: too few cells",
        ),
        ("neg:zero_dropped;neg:non_decaying", "negative trend: zero ratios dropped, not decaying"),
        ("pos:something_new", "positive trend: something_new"),
        ("", "—"),
        (None, "—"),
        (float("nan"), "—"),
    ],
)
def test_flags_read_as_words(tokens, words):
    assert readable_flags(tokens) == words


# ------------------------------------------------------------------ end to end (the CLI)


@pytest.fixture
def small_inputs(tmp_path, monkeypatch):
    """The tests' 6-year 5×6 cube (regions A and B) as files; the report a stub page."""
    from helpers import stub_report, write_small_inputs

    npp, regions = write_small_inputs(tmp_path)
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    return npp, regions


def _cli_run(tmp_path, npp, regions, toml: str) -> int:
    from helpers import YEAR_ARGS

    from gee_cscc.cli.main import main

    config = tmp_path / "run.toml"
    config.write_text(toml, encoding="utf-8")
    return main(["run", "--npp", str(npp), "--regions", str(regions), *YEAR_ARGS,
                 "--config", str(config), "--store", str(tmp_path / "store"),
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip


def test_a_run_names_the_whole_area_row_by_all_label(tmp_path, small_inputs):
    npp, regions = small_inputs
    assert _cli_run(tmp_path, npp, regions, '[regions]\nall_label = "CN"\n') == 0
    tables = tmp_path / "out" / "tables"
    for name in TABLE_FILES:
        if name == "yearly.csv":  # the whole area only: no region column
            continue
        frame = pd.read_csv(tables / name)
        assert frame["region"].iloc[0] == "CN", name
        assert set(frame["region"]) == {"CN", "A", "B"}, name
    table2 = pd.read_csv(tables / "maintenance_counts.csv")
    first = table2[table2["region"] == "CN"].iloc[0]
    assert first["changed"] == 0 and math.isnan(first["changed_cum_share"])


def test_a_region_named_like_the_whole_area_is_refused(tmp_path, small_inputs, capsys):
    npp, regions = small_inputs
    assert _cli_run(tmp_path, npp, regions, '[regions]\nall_label = "A"\n') == 1
    err = capsys.readouterr().err
    assert "A region is named 'A', the whole-area row's name" in err
    assert not (tmp_path / "out").exists()


def test_the_report_shows_flags_in_words_and_the_minimum_of_cells():
    from types import SimpleNamespace

    from gee_cscc.report.html_sections import resilience_section

    nan = math.nan
    row = {"region": "HK", "tau_pos": nan, "tau_pos_low": nan, "tau_pos_high": nan,
           "lambda_pos": nan, "r2_pos": nan, "tau_neg": 5.0, "tau_neg_low": 4.0,
           "tau_neg_high": 6.5, "lambda_neg": 1.0, "r2_neg": 0.9, "rs": nan, "grade": "none",
           "flags": "pos:too_few_cells;neg:plateau", "plateau_onset_pos": None,
           "plateau_onset_neg": 2016}  # fmt: skip
    results = SimpleNamespace(
        config=Config(start=2000, end=2010, reference_year=2003, min_fit_cells=7),
        resilience=pd.DataFrame([row]),
    )
    html = resilience_section(results)
    assert "fewer than 7 cells at t′ is not fitted" in html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert "positive trend: too few cells; negative trend: plateau" in cells
    assert not any("too_few_cells" in c for c in cells)  # the raw tokens stay in the CSV
