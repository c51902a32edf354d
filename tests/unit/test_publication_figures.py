"""Publication figures (gee_cscc.report): file formats, dpi, panel letters, the paper style,
the scale bar against a hand-computed geodesic distance, the South China Sea inset, the new
figures of the paper, the figure options of Config / CLI, and the figures drawn in two
processes giving the same files as in one.

The run is a small hand-made one on 1° cells over China's extent (or Europe's, where no
inset belongs); no Earth Engine is involved.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.errors import ConfigError
from gee_cscc.report.figures import draw_figure, figure_captions, figure_context, make_figures
from gee_cscc.stats.tables import maintenance_table
from gee_cscc.workflow.results_api import ResultsPlot

DPI = 30
CFG = Config(start=2000, end=2009, reference_year=2003)
CHINA = (73.0, 135.0, 18.0, 54.0)  # W, E, S, N of the grid's cell edges
EUROPE = (-10.0, 30.0, 36.0, 60.0)


def figure_run(
    box: tuple[float, float, float, float] = CHINA, cfg: Config = CFG
) -> SimpleNamespace:
    w, e, s, n = box
    x = np.arange(w + 0.5, e)  # 1° cells, centres
    y = np.arange(n - 0.5, s, -1.0)
    ny, nx = y.size, x.size
    rng = np.random.default_rng(3)
    region = np.where(np.arange(nx)[None, :] < nx // 2, 1.0, 2.0) * np.ones((ny, 1))
    vca = np.ones((ny, nx))
    vca[: ny // 4, : nx // 3] = 0
    on = lambda a: np.where(vca == 1, a, np.nan)  # noqa: E731
    yx = ("y", "x")
    years = list(cfg.evaluation_years)
    rasters = xr.Dataset(
        {
            "vca": (yx, vca),
            "region": (yx, region),
            "cscc": (yx, on(rng.uniform(200, 900, (ny, nx)))),
            "cscc_year": (yx, on(rng.integers(2000, 2010, (ny, nx)).astype(float))),
            "trend_slope": (yx, on(rng.normal(0, 3, (ny, nx)))),
            "trend_class": (yx, on(rng.integers(-2, 3, (ny, nx)).astype(float))),
            "maintenance_years": (yx, on(rng.integers(-7, 8, (ny, nx)).astype(float))),
            "maintenance": (
                ("year", *yx),
                np.stack([on(rng.choice([-1.0, 0.0, 1.0], (ny, nx))) for _ in years]),
            ),
            "pcs": (
                ("pcs_year", *yx),
                np.stack([on(rng.uniform(0, 300, (ny, nx))) for _ in cfg.pcs_years]),
            ),
        },
        coords={"x": x, "y": y, "year": years, "pcs_year": list(cfg.pcs_years)},
    )
    capacity = pd.DataFrame(
        {
            "region": ["ALL", "R1", "R2"],
            "cscc_tg": [30.0, 10.0, 20.0],
            "current_npp_tg": [24.0, 9.0, 15.0],
            "potential_tg": [6.0, 1.0, 5.0],
            "cscc_mean_gm2": [600.0, 500.0, 700.0],
            "potential_share_of_cscc": [0.2, 0.1, 0.25],
            "potential_share_of_npp": [0.25, 0.111, 0.333],
        }
    )
    tables = []
    for name, pos, neg in (
        ("ALL", [100, 90, 85, 80, 78, 77, 76], [50, 40, 30, 25, 22, 20, 19]),
        ("R1", [60, 55, 52, 50, 49, 48, 48], [20, 15, 12, 10, 9, 8, 8]),
        ("R2", [40, 35, 33, 30, 29, 29, 28], [30, 25, 18, 15, 13, 12, 11]),
    ):
        table = maintenance_table(years, pos, neg, reference_year=cfg.reference_year)
        table.insert(0, "region", name)
        tables.append(table)
    return SimpleNamespace(
        config=cfg,
        rasters=rasters,
        capacity=capacity,
        maintenance_counts=pd.concat(tables, ignore_index=True),
        yearly=None,
        trend_summary=None,
        resilience=pd.DataFrame(
            {
                "region": ["ALL", "R1", "R2"],
                **{
                    f"{k}_{sign}": [12.345678, 1234.5678, math.inf]
                    for sign in ("pos", "neg")
                    for k in ("tau", "tau_low", "tau_high")
                },
                **{
                    f"{k}_{sign}": [0.987654, 0.912345, 1.0]
                    for sign in ("pos", "neg")
                    for k in ("lambda", "r2")
                },
                "plateau_onset_pos": [2007.0, math.nan, math.nan],
                "plateau_onset_neg": [math.nan, 2008.0, math.nan],
                "rs": [-1222.2, 1234.5, math.nan],
                "grade": ["weaker", "extremely strong", "none"],
                "flags": ["pos:plateau;neg:extrapolated", "pos:extrapolated", "neg:no_loss"],
            }
        ),  # fmt: skip
        summary={"vca_area_km2": 1.0e6},
    )


def regions_geojson_of(box: tuple[float, float, float, float]) -> dict:
    w, e, s, n = box
    mid = (w + e) / 2

    def rect(name: str, x0: float, x1: float) -> dict:
        ring = [[x0, s], [x1, s], [x1, n], [x0, n], [x0, s]]
        return {
            "type": "Feature",
            "properties": {"abbr": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    return {"type": "FeatureCollection", "features": [rect("R1", w, mid), rect("R2", mid, e)]}


def _ctx(box=CHINA, style=None, cfg=CFG):
    return figure_context(
        figure_run(box, cfg), regions_geojson=regions_geojson_of(box), style=style
    )


# --------------------------------------------------------------------------- files


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_svg_and_pdf_files_are_valid(tmp_path: Path) -> None:
    results = figure_run()
    written = make_figures(
        results, tmp_path, regions_geojson=regions_geojson_of(CHINA), dpi=DPI,
        names=["cscc", "pcs", "capacity_bars"], formats=("svg", "pdf"), workers=1,
    )  # fmt: skip
    assert set(written) == {"cscc", "pcs", "capacity_bars"}
    for name, path in written.items():
        assert path == tmp_path / f"{name}.svg"  # the first format's file is returned
        root = ET.parse(path).getroot()  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        pdf = (tmp_path / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
        assert _pdf_pages(pdf) == 1
        assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType fonts embedded
        assert not (tmp_path / f"{name}.png").exists()  # only the formats asked for


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_dpi_sets_the_png_pixel_size(tmp_path: Path) -> None:
    results = figure_run()
    a = make_figures(results, tmp_path / "a", dpi=40, names=["capacity_bars"], workers=1)
    b = make_figures(results, tmp_path / "b", dpi=80, names=["capacity_bars"], workers=1)
    fig = draw_figure(figure_context(results), "capacity_bars")
    w_in, h_in = fig.get_size_inches()
    (wa, ha), (wb, hb) = _png_size(a["capacity_bars"]), _png_size(b["capacity_bars"])
    assert abs(wa - w_in * 40) <= 1 and abs(ha - h_in * 40) <= 1
    assert abs(wb - w_in * 80) <= 1 and abs(hb - h_in * 80) <= 1


def test_two_processes_write_the_same_files_as_one(tmp_path: Path) -> None:
    results = figure_run()
    names = ["cscc", "pcs", "capacity_bars", "maintenance_bars"]
    kw = {"regions_geojson": regions_geojson_of(CHINA), "dpi": DPI, "names": names}
    one = make_figures(results, tmp_path / "one", workers=1, **kw)
    two = make_figures(results, tmp_path / "two", workers=2, **kw)
    assert (
        list(one)
        == list(two)
        == [n for n in make_figures.__globals__["FIGURE_NAMES"] if n in names]
    )
    for name in names:
        assert one[name].read_bytes() == two[name].read_bytes(), name


# --------------------------------------------------------------------------- letters, titles


def _letters(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "panel-letter"]


def test_multi_panel_figures_have_panel_letters() -> None:
    ctx = _ctx()
    assert _letters(draw_figure(ctx, "pcs")) == ["a", "b", "c"]  # 3 PCS years
    assert _letters(draw_figure(ctx, "maintenance")) == ["a", "b", "c"]
    assert _letters(draw_figure(ctx, "capacity_bars")) == ["a", "b"]
    assert _letters(draw_figure(ctx, "maintenance_bars")) == ["a", "b"]
    assert _letters(draw_figure(ctx, "cscc")) == []  # one panel: no letter


def test_paper_style_draws_no_titles() -> None:
    report = draw_figure(_ctx(style="report"), "cscc")
    paper = draw_figure(_ctx(style="paper"), "cscc")
    assert report._suptitle is not None and "CSCC" in report._suptitle.get_text()
    assert paper._suptitle is None
    assert report.axes[0].get_title() != "" and paper.axes[0].get_title() == ""
    # the caption carries the title instead
    assert figure_captions(figure_run())["cscc"].startswith("Carbon sink carrying capacity (CSCC).")
    # the style comes from the config by default
    cfg = Config(start=2000, end=2009, reference_year=2003, figure_style="paper")
    assert draw_figure(_ctx(cfg=cfg), "capacity_bars")._suptitle is None


# --------------------------------------------------------------------------- scale bar


def _vincenty_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on WGS84 by Vincenty's inverse formula (1975), written out here."""
    a, f = 6378137.0, 1 / 298.257223563
    b = (1 - f) * a
    u1, u2 = (
        math.atan((1 - f) * math.tan(math.radians(lat1))),
        math.atan((1 - f) * math.tan(math.radians(lat2))),
    )
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    for _ in range(200):
        sin_s = math.hypot(
            math.cos(u2) * math.sin(lam),
            math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * math.cos(lam),
        )
        cos_s = math.sin(u1) * math.sin(u2) + math.cos(u1) * math.cos(u2) * math.cos(lam)
        sigma = math.atan2(sin_s, cos_s)
        sin_a = math.cos(u1) * math.cos(u2) * math.sin(lam) / sin_s
        cos2_a = 1 - sin_a**2
        cos_2sm = cos_s - 2 * math.sin(u1) * math.sin(u2) / cos2_a
        c = f / 16 * cos2_a * (4 + f * (4 - 3 * cos2_a))
        new = big_l + (1 - c) * f * sin_a * (
            sigma + c * sin_s * (cos_2sm + c * cos_s * (-1 + 2 * cos_2sm**2))
        )
        if abs(new - lam) < 1e-13:
            lam = new
            break
        lam = new
    u_sq = cos2_a * (a**2 - b**2) / b**2
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    d_sigma = big_b * sin_s * (
        cos_2sm
        + big_b / 4 * (cos_s * (-1 + 2 * cos_2sm**2)
                       - big_b / 6 * cos_2sm * (-3 + 4 * sin_s**2) * (-3 + 4 * cos_2sm**2))
    )  # fmt: skip
    return b * big_a * (sigma - d_sigma) / 1000.0


@pytest.mark.parametrize("box", [CHINA, EUROPE])
def test_scale_bar_length_is_the_geodesic_distance_it_says(box) -> None:
    fig = draw_figure(_ctx(box), "cscc")
    ax = fig.axes[0]
    (bar,) = [line for line in ax.lines if line.get_gid() == "scale-bar"]
    (label,) = [t for t in ax.texts if t.get_gid() == "scale-bar-label"]
    (x0, x1), (y0, y1) = bar.get_xdata(), bar.get_ydata()
    assert y0 == y1  # on one parallel
    km = float(label.get_text().removesuffix(" km"))
    assert _vincenty_km(x0, y0, x1, y1) == pytest.approx(km, rel=1e-6)
    # a round length: 1, 2 or 5 × 10^n km, and the bar inside the map
    mantissa = km / 10 ** math.floor(math.log10(km))
    assert mantissa in (1.0, 2.0, 5.0)
    assert box[0] < x0 < x1 < box[1] and box[2] < y0 < box[3]
    # about a fifth of the map's width at its narrower (poleward) edge, never more
    width = _vincenty_km(box[0], box[3], box[1], box[3])
    assert width / 12.5 <= km <= width / 5


def test_north_arrow_on_every_map_panel() -> None:
    fig = draw_figure(_ctx(), "maintenance")
    arrows = [t for ax in fig.axes for t in ax.texts if t.get_gid() == "north-arrow"]
    assert len(arrows) == 3 and all(t.get_text() == "N" for t in arrows)


# --------------------------------------------------------------------------- inset


def _insets(fig):
    return [c for ax in fig.axes for c in ax.child_axes if c.get_gid() == "scs-inset"]


def test_south_china_sea_inset_for_china_only() -> None:
    from gee_cscc.report.map_marks import SCS_EXTENT

    (inset,) = _insets(draw_figure(_ctx(CHINA), "cscc"))
    assert (inset.get_xlim(), inset.get_ylim()) == (SCS_EXTENT[:2], SCS_EXTENT[2:])
    # the maritime boundary: the ten dashes of the packaged line, as they are in the file
    data = json.loads(
        (Path(__file__).parents[2] / "gee_cscc/data/china_maritime_boundary.geojson").read_text()
    )
    dashes = data["features"][0]["geometry"]["coordinates"]
    assert len(dashes) == 10
    drawn = [seg for coll in inset.collections for seg in coll.get_segments()]
    first = np.asarray(dashes[0], dtype=float)
    assert any(seg.shape == first.shape and np.allclose(seg, first) for seg in drawn)
    assert len(_insets(draw_figure(_ctx(CHINA), "pcs"))) == 3  # one per map panel
    assert _insets(draw_figure(_ctx(EUROPE), "cscc")) == []
    assert _insets(draw_figure(_ctx(CHINA), "capacity_bars")) == []  # not a map


def test_inset_rule() -> None:
    from gee_cscc.report.map_marks import is_china_map

    assert is_china_map((73.0, 135.0, 18.0, 54.0))
    assert not is_china_map((110.0, 118.0, 20.0, 26.0))  # one province: no national map
    assert not is_china_map((73.0, 135.0, 0.0, 54.0))  # the sea is already on the map
    assert not is_china_map((-10.0, 30.0, 36.0, 60.0))
    assert not is_china_map((0.0, 5e5, 0.0, 4e5))  # metres, not degrees


# --------------------------------------------------------------------------- new figures


def test_pcs_difference_is_last_minus_reference_year() -> None:
    results = figure_run()
    fig = draw_figure(figure_context(results), "pcs_difference")
    (image,) = [im for im in fig.axes[0].images if im.get_cmap().name == "RdBu_r"]
    pcs = results.rasters["pcs"]
    expected = (pcs.sel(pcs_year=2009) - pcs.sel(pcs_year=2003)).values  # 1° cells: no blocks
    shown = np.ma.filled(image.get_array().astype(float), np.nan)
    np.testing.assert_allclose(shown, expected, rtol=1e-6, equal_nan=True)
    assert "PCS 2009 − PCS 2003" in figure_captions(results)["pcs_difference"]


def test_bars_show_the_tables_per_region_without_the_whole_area() -> None:
    results = figure_run()
    fig = draw_figure(figure_context(results), "capacity_bars")
    left = fig.axes[0]
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert labels == ["R1", "R2"]  # sorted by CSCC, the largest on top; no ALL
    npp, potential = left.containers[0], left.containers[1]
    assert [p.get_width() for p in npp] == [9.0, 15.0]
    assert [p.get_x() for p in potential] == [9.0, 15.0]  # stacked: NPP + potential = CSCC
    assert [p.get_width() for p in potential] == [1.0, 5.0]
    assert [p.get_width() for p in fig.axes[1].containers[0]] == pytest.approx([10.0, 25.0])
    fig = draw_figure(figure_context(results), "maintenance_bars")
    at_ref, at_end = fig.axes[0].containers  # N⁺ in 2003 and 2009, regions R1, R2
    assert [p.get_width() for p in at_ref] == [60.0, 40.0]
    assert [p.get_width() for p in at_end] == [48.0, 28.0]
    assert [p.get_width() for p in fig.axes[1].containers[1]] == [8.0, 11.0]


def test_results_plot_saves_any_format(tmp_path: Path) -> None:
    plot = ResultsPlot(figure_run(), regions_geojson=regions_geojson_of(CHINA), synthetic=False)
    written = plot.save(tmp_path, formats="pdf,png", dpi=DPI, names=["study_area"])
    assert written == {"study_area": tmp_path / "study_area.pdf"}
    assert (tmp_path / "study_area.png").read_bytes()[:4] == b"\x89PNG"
    assert plot.paper().study_area()._suptitle is None
    assert plot.capacity_bars()._suptitle is not None


# --------------------------------------------------------------------------- options


def test_config_figure_fields() -> None:
    cfg = Config(figure_format="PNG, pdf,png", dpi=300, figure_style="paper")
    assert (cfg.figure_format, cfg.dpi, cfg.figure_style) == (("png", "pdf"), 300, "paper")
    assert Config.from_toml(cfg.to_toml()) == cfg
    for bad in ({"figure_format": "jpg"}, {"figure_format": ""}, {"dpi": 5}, {"dpi": 1.5},
                {"figure_style": "poster"}):  # fmt: skip
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Config(**bad)


def test_cli_figure_options_reach_the_config() -> None:
    from gee_cscc.cli.common import config_from_args
    from gee_cscc.cli.main import build_parser

    opts = ["--figure-format", "svg,pdf", "--dpi", "300", "--figure-style", "paper"]
    for argv in (["run", "--npp", "x", *opts], ["demo", *opts]):
        cfg, _ = config_from_args(build_parser().parse_args(argv))
        assert (cfg.figure_format, cfg.dpi, cfg.figure_style) == (("svg", "pdf"), 300, "paper")


def test_figure_options_do_not_change_the_run_identity() -> None:
    from gee_cscc.method.grid import GridSpec
    from gee_cscc.workflow.identity import run_identity

    grid = GridSpec("EPSG:4326", (1.0, 0.0, 73.0, 0.0, -1.0, 54.0), (36, 62))
    a = run_identity(CFG, grid, inputs={})
    b = run_identity(CFG.replace(dpi=300, figure_format="pdf"), grid, inputs={})
    c = run_identity(CFG.replace(alpha=0.1), grid, inputs={})
    assert a == b and a != c
