"""Tests of gee_cscc.report: PNG figures and the self-contained HTML page (METHOD.md §6).

The run is a small hand-made :class:`gee_cscc.workflow.analyze.Results` (6 × 8 cells, NaNs, a region
whose name needs escaping, a region with no cells, τ = ∞, a missing τ and an extrapolated τ);
no Earth Engine is involved. Expected strings are written out by hand from the numbers put in.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.image import imread

from gee_cscc.config import Config
from gee_cscc.report import figure_captions, make_figures, write_html, write_report
from gee_cscc.report.html import format_number, format_p, format_percent
from gee_cscc.stats.tables import maintenance_table
from gee_cscc.workflow.analyze import Results

DPI = 40  # small figures keep the test fast
CFG = Config(start=2000, end=2009, reference_year=2003)
REGIONS = ["ALL", "A<B", "R2", "EMPTY"]  # "A<B" needs escaping; EMPTY has no VCA cell
EXPECTED = {
    "yearly", "trend_slope", "trend_class", "cscc", "cscc_year", "pcs", "maintenance",
    "maintenance_years", "decay_ALL", "decay_curves", "csr_grade",
    "study_area", "capacity_bars", "pcs_difference", "maintenance_bars",
}  # fmt: skip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SYNTHETIC_RED = np.array([0xC0, 0x00, 0x00]) / 255  # colour of the synthetic-data note


# --------------------------------------------------------------------------- the run


def _rasters(rng: np.random.Generator, *, empty: bool = False) -> xr.Dataset:
    ny, nx = 6, 8
    x = 100.5 + np.arange(nx)  # cell centres, 1° cells, y north to south
    y = 35.5 - np.arange(ny)
    region = np.zeros((ny, nx))
    region[:, :4], region[:, 4:] = 1, 2
    region[0, :] = 0  # outside every region
    vca = np.ones((ny, nx))
    vca[1, 1:3] = 0  # inside a region, outside the VCA
    vca[0, :] = 0
    nan = np.full((ny, nx), np.nan)

    def on_vca(a: np.ndarray) -> np.ndarray:
        return nan.copy() if empty else np.where(vca == 1, a, np.nan)

    cscc = on_vca(rng.uniform(200, 900, (ny, nx)))
    slope = on_vca(rng.normal(0, 3, (ny, nx)))
    classes = on_vca(rng.integers(-2, 3, (ny, nx)).astype(float))
    years = list(CFG.evaluation_years)
    surfaces = np.stack([on_vca(rng.choice([-1.0, 0.0, 1.0], (ny, nx))) for _ in years])
    pcs = np.stack([on_vca(rng.uniform(0, 300, (ny, nx))) for _ in CFG.pcs_years])
    yx = ("y", "x")
    return xr.Dataset(
        {
            "vca": (yx, vca),
            "cscc": (yx, cscc),
            "cscc_year": (yx, on_vca(rng.integers(2000, 2010, (ny, nx)).astype(float))),
            "trend_slope": (yx, slope),
            "trend_stat": (yx, slope),
            "trend_p": (yx, on_vca(rng.uniform(0, 1, (ny, nx)))),
            "trend_class": (yx, classes),
            "trend_class_strict": (yx, classes),
            "maintenance_years": (yx, on_vca(rng.integers(-7, 8, (ny, nx)).astype(float))),
            "region": (yx, region),
            "pixel_area": (yx, np.full((ny, nx), 1.0e10)),
            "maintenance": (("year", *yx), surfaces),
            "pcs": (("pcs_year", *yx), pcs),
        },
        coords={"x": x, "y": y, "year": years, "pcs_year": list(CFG.pcs_years)},
    )


def _capacity() -> pd.DataFrame:
    nan = math.nan
    return pd.DataFrame(
        {
            "region": REGIONS,
            "cscc_tg": [1234.5678, 600.0, 634.5678, 0.0],
            "current_npp_tg": [1000.0, 500.0, 500.0, 0.0],
            "potential_tg": [234.5678, 100.0, 134.5678, 0.0],
            "cscc_mean_gm2": [658.594, 600.0, 700.0, nan],
            "potential_share_of_cscc": [0.21256, 0.1667, 0.2121, nan],
            "potential_share_of_npp": [0.27, 0.2, 0.2691, nan],
            "vca_area_km2": [98765.4, 50000.0, 48765.4, 0.0],
            "vca_cells": [12345, 6000, 6345, 0],
        }
    )


def _counts() -> pd.DataFrame:
    years = CFG.evaluation_years
    series = {
        "ALL": ([1000, 950, 930, 910, 900, 890, 880], [500, 300, 220, 180, 150, 140, 130]),
        "A<B": ([600] * 7, [200, 120, 90, 80, 70, 65, 60]),
        "R2": ([400, 350, 330, 310, 300, 290, 280], [300, 180, 130, 100, 80, 75, 70]),
        "EMPTY": ([0] * 7, [0] * 7),
    }
    tables = []
    for name, (pos, neg) in series.items():
        table = maintenance_table(years, pos, neg, reference_year=CFG.reference_year)
        table.insert(0, "region", name)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _resilience() -> pd.DataFrame:
    inf, nan = math.inf, math.nan
    rows = [
        # region, τ⁺, low, high, λ⁺, R²⁺, τ⁻, low, high, λ⁻, R²⁻, RS, grade, flags
        ("ALL", 196.04, 120.5, inf, 0.97, 0.88, 7.3, 6.1, 8.9, 1.0, 0.99, 188.74, "stronger",
         "pos:extrapolated"),
        ("A<B", inf, inf, inf, 1.0, nan, 3.2, 2.5, 4.1, 1.02, 0.97, inf, "extremely strong",
         "pos:no_loss"),
        ("R2", 12.0, 10.0, 15.0, 0.95, 0.9, 20.0, 15.0, 30.0, 0.9, 0.8, -8.0, "weak",
         "neg:plateau"),
        ("EMPTY", nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, "none",
         "pos:no_cells;neg:no_cells"),
    ]  # fmt: skip
    columns = [
        "region", "tau_pos", "tau_pos_low", "tau_pos_high", "lambda_pos", "r2_pos",
        "tau_neg", "tau_neg_low", "tau_neg_high", "lambda_neg", "r2_neg", "rs", "grade", "flags",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    frame["plateau_onset_pos"] = [None, None, None, None]
    frame["plateau_onset_neg"] = [None, None, 2007, None]
    return frame


def _trend_summary() -> pd.DataFrame:
    shares = {"SI": 0.3186, "II": 0.4958, "0": 0.0, "ID": 0.0426, "SD": 0.1430}
    rows = []
    for region in REGIONS:
        for alpha in (CFG.alpha, CFG.alpha_strict):
            for name, share in shares.items():
                empty = region == "EMPTY"
                rows.append(
                    {
                        "region": region,
                        "alpha": alpha,
                        "class": name,
                        "area_km2": 0.0 if empty else share * 98765.4,
                        "area_share": math.nan if empty else share,
                        "cells": 0 if empty else int(share * 12345),
                        "cell_share": math.nan if empty else share,
                    }
                )
    return pd.DataFrame(rows)


def _yearly() -> pd.DataFrame:
    years = np.arange(CFG.start, CFG.end + 1)
    mean = 300.0 + 1.66 * (years - years[0]) + np.tile([3.0, -3.0], years.size // 2)
    total = mean * 98765.4e6 / 1e15
    cscc_pg = 1.2345678
    return pd.DataFrame(
        {
            "year": years,
            "mean_npp_gm2": mean,
            "total_npp_pg": total,
            "saturation_share": total / cscc_pg,
            "potential_pg": cscc_pg - total,
        }
    )


def _summary() -> dict:
    return {
        "vca_area_km2": 98765.4,
        "vca_cells": 12345,
        "cscc_total_pg": 1.2345678,
        "cscc_mean_gm2": 658.594,
        "last_year": 2009,
        "npp_last_pg": 1.0,
        "saturation_last": 0.7874,
        "potential_last_pg": 0.2345678,
        "potential_share_of_cscc": 0.21256,
        "potential_share_of_npp": 0.27,
        "trend_class_area_share": {"SI": 0.3186, "II": 0.4958, "0": 0.0, "ID": 0.0426,
                                   "SD": 0.1430},
        "npp_series": {"slope": 1.66, "p_value": 0.0123, "net_change_slope": 14.94,
                       "net_change": 11.94, "pct_change": 3.98, "pct_change_slope": 4.98},
        "maintenance_slopes": {"slope_n_pos": -18.57, "slope_n_neg": -4162.4,
                               "slope_changed": 6210.7},
        "grid": {"crs": "EPSG:4326", "shape": [6, 8]},
    }  # fmt: skip


def _results(*, empty: bool = False) -> Results:
    rng = np.random.default_rng(7)
    return Results(
        config=CFG,
        graph=None,
        regions=None,
        rasters=_rasters(rng, empty=empty),
        capacity=_capacity(),
        maintenance_counts=_counts(),
        yearly=_yearly(),
        trend_summary=_trend_summary(),
        resilience=_resilience(),
        summary=_summary(),
    )


def _square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {  # a polygon with a hole
            "type": "Feature",
            "properties": {"abbr": "A<B"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [_square(100, 30, 104, 35), _square(101, 31, 102, 32)],
            },
        },
        {
            "type": "Feature",
            "properties": {"abbr": "R2"},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[_square(104, 30, 108, 35)], [_square(107.5, 35, 108, 35.5)]],
            },
        },
        {
            "type": "Feature",
            "properties": {"abbr": "EMPTY"},
            "geometry": {"type": "Polygon", "coordinates": [_square(101, 35, 101.5, 35.5)]},
        },
        {"type": "Feature", "properties": {"abbr": "NO_GEOMETRY"}, "geometry": None},
    ],
}


@pytest.fixture(scope="module")
def results() -> Results:
    return _results()


@pytest.fixture(scope="module")
def report(results: Results, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One full report (every figure, synthetic, with boundaries) shared by the tests."""
    out = tmp_path_factory.mktemp("run")
    run_info = {"date": "2026-01-02", "engine": "local", "input": "projects/p/assets/npp<1>"}
    return write_report(
        results, out, regions_geojson=GEOJSON, run_info=run_info, synthetic=True, dpi=DPI
    )


@pytest.fixture(scope="module")
def figures(report: dict) -> dict[str, Path]:
    return report["figures"]


@pytest.fixture(scope="module")
def page(report: dict) -> str:
    return report["html"].read_text(encoding="utf-8")


def _without_images(text: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,", text)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _has_colour(path: Path, rgb: np.ndarray, tol: float = 0.03) -> bool:
    image = imread(path)[..., :3]
    return bool((np.abs(image - rgb).max(axis=-1) < tol).any())


# --------------------------------------------------------------------------- figures


def test_every_figure_is_a_png_of_reasonable_size(figures: dict[str, Path]) -> None:
    assert set(figures) == EXPECTED
    for name, path in figures.items():
        assert path == path.parent / f"{name}.png"
        width, height = _png_size(path)
        assert 150 <= width <= 3000 and 100 <= height <= 3000, (name, width, height)
        assert path.stat().st_size > 3_000, name
    leftovers = [
        p.name for p in next(iter(figures.values())).parent.iterdir() if p.suffix != ".png"
    ]
    assert leftovers == []  # no temporary files left behind


def test_synthetic_note_is_drawn_only_when_asked(
    results: Results, figures: dict[str, Path], tmp_path: Path
) -> None:
    names = ("cscc", "decay_curves", "csr_grade")
    plain = make_figures(results, tmp_path, dpi=DPI, names=names)
    assert set(plain) == {"cscc", "decay_curves"}  # the grade map needs region boundaries
    for name in ("cscc", "decay_curves"):
        assert _has_colour(figures[name], SYNTHETIC_RED), name
        assert not _has_colour(plain[name], SYNTHETIC_RED), name


@pytest.mark.parametrize("workers", [1, 2])
def test_other_work_is_done_while_the_figures_are_drawn(
    results: Results, tmp_path: Path, workers: int
) -> None:
    """``alongside`` runs in this process (both shares are drawn by forked ones when two
    processes draw), the same figures come out, and its error goes up after the drawing."""
    import os

    names = ("cscc", "trend_class", "yearly", "decay_curves", "maintenance")
    seen: list[int] = []

    def work() -> None:
        seen.append(os.getpid())
        assert not list(tmp_path.glob("a/*.png")) or workers == 2

    got = make_figures(
        results, tmp_path / "a", dpi=DPI, names=names, workers=workers, alongside=work
    )
    assert seen == [os.getpid()]
    assert set(got) == set(names)
    assert all(p.is_file() and p.stat().st_size > 0 for p in got.values())

    def fails() -> None:
        raise OSError("disk full while writing the rasters")

    with pytest.raises(OSError, match="disk full"):
        make_figures(
            results, tmp_path / "b", dpi=DPI, names=names, workers=workers, alongside=fails
        )
    if workers == 2:  # the drawing went on and finished before the error went up
        assert {p.stem for p in (tmp_path / "b").glob("*.png")} == set(names)


def test_trend_class_map_uses_the_class_colours(figures: dict[str, Path]) -> None:
    from gee_cscc.report.figures import TREND_CLASS_STYLE

    for short, _, colour in TREND_CLASS_STYLE.values():
        if short == "0":
            continue  # the random classes here have no exact zero slope, only legend
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        assert _has_colour(figures["trend_class"], rgb), short


def test_all_nan_layers_and_empty_tables_do_not_crash(tmp_path: Path) -> None:
    full = _results(empty=True)
    empty = {
        name: getattr(full, name).iloc[0:0]
        for name in ("maintenance_counts", "yearly", "trend_summary", "resilience")
    }
    results = SimpleNamespace(config=full.config, rasters=full.rasters, summary={}, **empty)
    written = make_figures(results, tmp_path, regions_geojson=GEOJSON, dpi=DPI)
    # Maps of all-NaN layers are drawn (saying "no data"); curves and bars without rows are
    # left out.
    no_rows = {"yearly", "decay_ALL", "decay_curves", "capacity_bars", "maintenance_bars"}
    assert set(written) == EXPECTED - no_rows
    for path in written.values():
        _png_size(path)


def test_missing_layers_leave_their_maps_out(results: Results, tmp_path: Path) -> None:
    rasters = results.rasters.drop_vars(["pcs", "maintenance", "trend_class", "cscc_year"])
    partial = SimpleNamespace(**{**vars(results), "rasters": rasters})
    maps = ["trend_slope", "trend_class", "cscc", "cscc_year", "pcs", "maintenance"]
    written = make_figures(partial, tmp_path, dpi=DPI, names=maps)
    assert set(written) == {"trend_slope", "cscc"}


def test_maps_do_not_depend_on_the_order_of_the_coordinates(
    results: Results, tmp_path: Path
) -> None:
    # y north to south (as built) and south to north, x reversed: the same picture.
    flipped = results.rasters.isel(y=slice(None, None, -1), x=slice(None, None, -1))
    twin = SimpleNamespace(**{**vars(results), "rasters": flipped})
    a = make_figures(results, tmp_path / "a", dpi=DPI, names=["cscc"])["cscc"]
    b = make_figures(twin, tmp_path / "b", dpi=DPI, names=["cscc"])["cscc"]
    assert np.array_equal(imread(a), imread(b))


def test_every_figure_has_a_caption(results: Results) -> None:
    captions = figure_captions(results)
    assert EXPECTED <= set(captions)
    assert all(len(text) > 20 for text in captions.values())


def test_bad_arguments_are_refused(results: Results, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dpi must be an integer"):
        make_figures(results, tmp_path, dpi=0)
    with pytest.raises(ValueError, match="unknown figure names \\['maps'\\]"):
        make_figures(results, tmp_path, names=["cscc", "maps"])


# --------------------------------------------------------------------------- HTML


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (1234.5678, 2, "1,234.57"),
        (12345, 0, "12,345"),
        (98765.4, 0, "98,765"),
        (-4162.4, 1, "-4,162.4"),
        (-0.001, 2, "0.00"),
        (math.nan, 2, "—"),
        (None, 2, "—"),
        ("n/a", 2, "—"),
        (math.inf, 1, "∞"),
        (-math.inf, 1, "-∞"),
        (np.float32(658.594), 2, "658.59"),
    ],
)
def test_format_number(value: object, decimals: int, text: str) -> None:
    assert format_number(value, decimals) == text


def test_format_percent_and_p() -> None:
    assert format_percent(0.21256) == "21.26 %"
    assert format_percent(math.nan) == "—"
    assert format_number(1.66, 2, signed=True) == "+1.66"
    assert format_p(0.0123) == "0.012"
    assert format_p(2e-5) == "< 0.001"
    assert format_p(None) == "—"


def test_page_shows_the_tables_numbers_formatted(page: str) -> None:
    text = _without_images(page)
    # Table 1 (ALL row) and the headline numbers.
    for expected in ("1,234.57", "12,345", "98,765", "21.26 %", "27.00 %", "658.59", "234.57"):
        assert expected in text, expected
    assert "1.235 Pg C yr⁻¹" in text  # total CSCC, Pg
    assert "+1.66 g C m⁻² yr⁻² (p = 0.012)" in text  # national trend and its p-value
    assert "SI 31.86 %, II 49.58 %, 0 0.00 %, ID 4.26 %, SD 14.30 %" in text
    assert "N⁻ -4,162.4" in text and "C +6,210.7 cells yr⁻¹" in text
    # Table 2 of ALL: counts with separators, shares in percent (930/1000, 220/500).
    assert ">1,000<" in text and ">93.00 %<" in text and ">44.00 %<" in text
    # Resilience: τ with one decimal, the extrapolated mark, ∞ and missing values.
    assert "196.0 †" in text and "120.5 – ∞" in text
    assert ">∞<" in text  # τ⁺ and RS of the region that lost no cell
    assert ">—<" in text
    assert "extremely strong" in text


def test_page_never_shows_nan(page: str) -> None:
    assert not re.search(r"\bnan\b", _without_images(page), flags=re.IGNORECASE)
    assert "None" not in _without_images(page)


def test_page_is_self_contained_with_every_figure(page: str, figures: dict[str, Path]) -> None:
    assert page.count('src="data:image/png;base64,') == len(figures)
    lowered = page.lower()
    for external in ("<link", "<script", 'src="http', "url(", "@import"):
        assert external not in lowered, external
    assert "<style>" in page


def test_page_escapes_text(page: str) -> None:
    text = _without_images(page)
    assert "A&lt;B" in text
    assert "A<B" not in text
    assert "projects/p/assets/npp&lt;1&gt;" in text


def test_page_explains_the_fit_and_the_extrapolation(page: str) -> None:
    text = _without_images(page)
    assert "SYNTHETIC DEMO DATA" in text
    assert "fit mode <code>free</code>" in text
    assert "profile-likelihood" in text
    assert "extrapolat" in text and "35 years" in text  # 5 × 7 evaluation years
    assert "<details><summary>A&lt;B</summary>" in text  # per-region Table 2, collapsible
    assert "2026-01-02" in text


def test_page_without_synthetic_flag_has_no_banner(results: Results, tmp_path: Path) -> None:
    out = write_html(results, tmp_path / "r.html", figures={}, run_info={})
    text = out.read_text(encoding="utf-8")
    assert "SYNTHETIC" not in text
    assert "data:image/png" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_write_report_makes_figures_and_page(report: dict) -> None:
    run = report["html"].parent
    assert report["html"] == run / "report.html"
    assert set(report["figures"]) == EXPECTED
    assert all(p.parent == run / "figures" for p in report["figures"].values())
    assert sorted(p.name for p in run.iterdir()) == ["figures", "report.html"]  # no temp files
