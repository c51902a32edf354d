"""The report's record-length part and the table arithmetic of gee_cscc.stats.record_length,
against hand-worked numbers."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gee_cscc.config import Config
from gee_cscc.report.record_length import fig_running_capacity, record_length_section
from gee_cscc.report.style import FigureContext
from gee_cscc.stats.record_length import (
    capacity_sensitivity,
    jackknife_se,
    sensitivity_summary,
    stable_since,
)

YEARS = [2001, 2002, 2003, 2004]


def sums() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two regions (ids 1, 2) and the outside id 0, by hand (g C yr⁻¹ and m²)."""
    rl = pd.DataFrame(
        {
            "runmax_2001": [0.0, 1e12, 2e12],
            "runmax_2002": [0.0, 2e12, 2e12],
            "runmax_2003": [0.0, 2e12, 3e12],
            "runmax_2004": [0.0, 2.001e12, 3e12],  # region 1: +0.05 %, not a rise
            "jkdrop_2001": [0.0, 0.0, 0.0],
            "jkdrop_2002": [0.0, 0.5e12, 0.0],
            "jkdrop_2003": [0.0, 0.0, 1e12],
            "jkdrop_2004": [0.0, 0.001e12, 0.0],
            "rising_m2": [0.0, 10.0, 30.0],
        },
        index=[0, 1, 2],
    )
    cap = pd.DataFrame(
        {"cscc_g": [0.0, 2.001e12, 3e12], "area_m2": [0.0, 40.0, 60.0]}, index=[0, 1, 2]
    )
    yearly = pd.DataFrame(
        {f"npp_{y}": [0.0, 1e12 + k * 1e11, 2e12 + k * 1e11] for k, y in enumerate(YEARS)},
        index=[0, 1, 2],
    )
    return rl, cap, yearly


def test_stable_since_and_jackknife_by_hand() -> None:
    assert stable_since(YEARS, [1, 2, 2, 2.001]) == 2002  # 0.05 % is no rise
    assert stable_since(YEARS, [1, 1, 1, 1]) == 2001
    assert stable_since(YEARS, [1, 1, 1, 1.01]) == 2004
    # θ = (1, 2, 3): mean 2, Σ(θ−θ̄)² = 2, √(2/3·2) = √(4/3)
    assert jackknife_se([1.0, 2.0, 3.0]) == pytest.approx(math.sqrt(4 / 3), rel=1e-15)


def test_tables_by_hand() -> None:
    rl, cap, yearly = sums()
    table, stab = capacity_sensitivity(
        rl, cap, yearly, YEARS, [-1, 1, 2], {-1: "ALL", 1: "A", 2: "B"}, -1
    )
    a = table[table["region"] == "A"]
    np.testing.assert_allclose(a["running_cscc_tg"], [1, 2, 2, 2.001])
    np.testing.assert_allclose(a["cscc_without_year_tg"], [2.001, 1.501, 2.001, 2.0])
    # potential without year j: CSCC₋ⱼ − NPP 2004 (1.3 Tg), without 2004: − NPP 2003 (1.2)
    np.testing.assert_allclose(a["potential_without_year_tg"], [0.701, 0.201, 0.701, 0.8])
    row = stab.set_index("region").loc["A"]
    assert row["stable_since"] == 2002
    assert row["rising_area_share"] == pytest.approx(0.25)
    assert row["cscc_jk_se_tg"] == pytest.approx(jackknife_se([2.001, 1.501, 2.001, 2.0]))
    assert row["potential_jk_se_tg"] == pytest.approx(jackknife_se([0.701, 0.201, 0.701, 0.8]))
    whole = stab.set_index("region").loc["ALL"]
    assert whole["cscc_tg"] == pytest.approx(5.001)
    assert whole["rising_area_share"] == pytest.approx(40 / 100)
    assert whole["stable_since"] == 2003  # ALL: 3, 4, 5, 5.001


def test_section_and_figure() -> None:
    rl, cap, yearly = sums()
    table, stab = capacity_sensitivity(
        rl, cap, yearly, YEARS, [-1, 1, 2], {-1: "ALL", 1: "A", 2: "B"}, -1
    )
    summary = sensitivity_summary(stab, "ALL", YEARS, rising_years=5)
    results = SimpleNamespace(
        config=Config(start=2001, end=2004, reference_year=2003),
        capacity_sensitivity=table,
        capacity_stability=stab,
        summary={"capacity_sensitivity": summary},
    )
    html = record_length_section(results)
    assert summary["sentence"] in html.replace("&#x27;", "'")
    assert "has not risen by more than 0.1 % since 2003" in summary["sentence"]
    assert "40% of the VCA" in summary["sentence"]
    ctx = FigureContext(
        results=results, synthetic=False, provinces=[], vca=None, outside=None, extent=None
    )
    fig = fig_running_capacity(ctx)
    top, bottom = fig.axes[:2]
    bold = [
        line for line in top.get_lines() if line.get_linewidth() == 2.0 and len(line.get_xdata())
    ]
    np.testing.assert_allclose(
        bold[0].get_ydata(), 100 * np.array([3, 4, 5, 5.001]) / 5.001, rtol=1e-12
    )
    heights = [p.get_height() for p in bottom.patches]
    want = 100 * (np.array([5.001, 4.501, 4.001, 5.0]) / 5.001 - 1)
    np.testing.assert_allclose(heights, want, rtol=1e-12, atol=1e-12)


def test_a_region_without_vca_cells() -> None:
    rl, cap, yearly = sums()
    rl.loc[3], cap.loc[3], yearly.loc[3] = 0.0, 0.0, 0.0  # region 3: no VCA cell
    order, label = [-1, 1, 2, 3], {-1: "ALL", 1: "A", 2: "B", 3: "C"}
    table, stab = capacity_sensitivity(rl, cap, yearly, YEARS, order, label, -1)
    row = stab.set_index("region").loc["C"]
    assert pd.isna(row["stable_since"]) and pd.isna(row["rising_area_share"])
    assert table[table["region"] == "C"]["share_of_cscc"].isna().all()
    summary = sensitivity_summary(stab, "ALL", YEARS, rising_years=5)
    results = SimpleNamespace(
        config=Config(start=2001, end=2004, reference_year=2003),
        capacity_sensitivity=table,
        capacity_stability=stab,
        summary={"capacity_sensitivity": summary},
    )
    assert '<td class="num">—</td>' in record_length_section(results)


def test_nothing_when_off() -> None:
    results = SimpleNamespace(
        config=Config(), capacity_sensitivity=None, capacity_stability=None, summary={}
    )
    assert record_length_section(results) == ""
    ctx = FigureContext(
        results=results, synthetic=False, provinces=[], vca=None, outside=None, extent=None
    )
    assert fig_running_capacity(ctx) is None


@pytest.mark.parametrize(
    ("since", "rel", "rising", "verdict"),
    [
        (2010, 0.005, 0.1, "is stable:"),
        (2018, 0.005, 0.1, "is moderately stable:"),  # rose in the last year
        (2010, 0.03, 0.4, "is moderately stable:"),
        (2010, 0.005, 0.6, "is not yet stable:"),
        (2010, 0.08, 0.1, "is not yet stable:"),
    ],
)
def test_stability_verdicts(since, rel, rising, verdict) -> None:
    from gee_cscc.stats.record_length import stability_sentence

    text = stability_sentence(since, rel, rising, 2018)
    assert verdict in text and f"{rel:.1%}" in text and f"{rising:.0%} of the VCA" in text
