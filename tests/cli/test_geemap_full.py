"""geemap on the local engine, and the result layers' map presets (:mod:`gee_cscc.report.viz`).

The presets and :func:`add_to_map` are tested in the default run with a stand-in map that
records its calls. geemap itself is not in the ``test`` extra (it comes with the
``notebooks`` extra), so the tests that drive geemap's own functions — ``ee_export_image``,
``ee_export_vector``, ``zonal_stats``, ``ee_to_df``, ``geemap.Map`` and
``geemap.foliumap.Map`` — skip when it is not installed (``pytest.importorskip``). Every
number is a slice or mean of the stored NumPy array, taken here.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import ee
import nbformat
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gee_cscc.report.viz import (
    GRADE_CODES,
    TREND_CLASS_VIS,
    add_to_map,
    cscc_vis,
    legend,
    maintenance_vis,
    nice_max,
    result_layers,
)
from gee_cscc.testing import compute_pixels, grid, image_of

# A 20 x 20 image on a 0.5-degree grid covering 100–110°E, 30–40°N; NaN = masked.
ORIGIN = (100.0, 40.0)
STEP = 0.5
SHAPE = (20, 20)
TRANSFORM = (STEP, 0.0, ORIGIN[0], 0.0, -STEP, ORIGIN[1])
VALUES = np.arange(SHAPE[0] * SHAPE[1], dtype=float).reshape(SHAPE) * 0.3 - 10.0
VALUES[3, 4] = np.nan
#: 0.5° in metres: Earth Engine's nominal scale of a degree grid.
NATIVE_SCALE = STEP * 111319.49079327357


@pytest.fixture
def image(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset("img")
    engine.store.put_image(asset, image_of({"a": VALUES, "b": VALUES * 2.0}, TRANSFORM))
    return ee.Image(asset)


def zones() -> ee.FeatureCollection:
    """Two pixel-aligned zones: rows 2–5 × columns 2–5 and rows 10–13 × columns 12–19."""
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Rectangle([101, 37, 103, 39], "EPSG:4326", False), {"zone": 1}),
            ee.Feature(ee.Geometry.Rectangle([106, 33, 110, 35], "EPSG:4326", False), {"zone": 2}),
        ]
    )


WINDOWS = [(slice(2, 6), slice(2, 6)), (slice(10, 14), slice(12, 20))]


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- presets (default run) ------------------------------------------------------------------------


def test_nice_max_rounds_up_to_1_2_2_5_5():
    assert nice_max([0, 10, 730]) == 1000.0  # the 98th percentile of three values is ~701
    assert nice_max(np.full(50, 180.0)) == 200.0
    assert nice_max([240.0] * 10) == 250.0
    assert nice_max([4.2] * 10) == 5.0
    assert nice_max([np.nan, -3.0], default=7.0) == 7.0  # nothing above 0
    assert cscc_vis(1500)["max"] == 1500.0 and cscc_vis()["bands"] == ["cscc"]


def test_maintenance_palette_has_one_colour_per_value():
    vis = maintenance_vis(3)
    assert (vis["min"], vis["max"], vis["bands"]) == (-3, 3, ["maintenance_years"])
    # -3 … 3: three reds (darkest first), the pale "changed" colour, three blues.
    assert vis["palette"] == ["b2182b", "d6604d", "f4a582", "f7f7c8", "92c5de", "4393c3", "2166ac"]
    # Interpolated: the middle of two palette colours is their mean, rounded.
    five = maintenance_vis(5)["palette"]
    assert five[1] == "".join(
        f"{round((int('b2182b'[i : i + 2], 16) + int('d6604d'[i : i + 2], 16)) / 2):02x}"
        for i in (0, 2, 4)
    )
    with pytest.raises(ValueError):
        maintenance_vis(0)


def test_trend_legend_and_palette_agree():
    colours = legend("trend_class")
    assert list(colours) == [
        "SI: significant increase",
        "II: insignificant increase",
        "0: no trend (K = 0)",
        "ID: insignificant decrease",
        "SD: significant decrease",
    ]
    # The palette runs from -2 (SD) to 2 (SI): the legend's colours in reverse.
    assert TREND_CLASS_VIS["palette"] == [c.lstrip("#") for c in reversed(colours.values())]
    with pytest.raises(ValueError, match="no legend"):
        legend("cscc")


class FakeMap:
    """Records ``addLayer`` / ``add_legend`` calls as geemap's maps take them."""

    def __init__(self) -> None:
        self.layers: list[tuple] = []
        self.legends: list[tuple] = []

    def addLayer(self, image, vis, name, shown):  # noqa: N802 (geemap's name)
        self.layers.append((image, vis, name, shown))

    def add_legend(self, title, legend_dict):
        self.legends.append((title, legend_dict))


@pytest.fixture
def fake_results(engine, tmp_asset):
    """A results-like object on the test grid: two regions (ids 1 and 2, 0 outside)."""
    region = np.zeros(SHAPE)
    region[:, :10] = 1
    region[:10, 10:] = 2
    cscc = np.where(np.isnan(VALUES), np.nan, np.abs(VALUES) * 10)  # 0 … 1097
    asset = tmp_asset("res")
    engine.store.put_image(
        asset,
        image_of(
            {
                "cscc": cscc,
                "trend_class": np.clip(np.round(VALUES / 30), -2, 2),
                "maintenance_years": np.clip(np.round(VALUES / 10), -3, 3),
                "region": region,
            },
            TRANSFORM,
        ),
    )
    img = ee.Image(asset)
    pcs = ee.ImageCollection(
        [img.select(["cscc"], ["pcs"]).multiply(0.5).set("year", y) for y in (2000, 2018)]
    )
    graph = SimpleNamespace(
        capacity=img.select(["cscc"]),
        potential=pcs,
        trend=img.select(["trend_class"]),
        maintenance_years=img.select(["maintenance_years"]).toInt16(),
        evaluation_years=[2016, 2017, 2018],
    )
    rasters = xr.Dataset({"cscc": (("y", "x"), cscc)})
    resilience = pd.DataFrame(
        {"region": ["ALL", "north", "south"], "grade": ["strong", "stronger", "weak"]}
    )
    return SimpleNamespace(
        graph=graph,
        config=SimpleNamespace(pcs_years=(2000, 2018)),
        rasters=rasters,
        regions=SimpleNamespace(image=img.select(["region"]), names={1: "north", 2: "south"}),
        resilience=resilience,
        region=region,
        cscc=cscc,
    )


def test_add_to_map_adds_every_result_layer(fake_results):
    m = FakeMap()
    assert add_to_map(m, fake_results) is m
    names = [name for _, _, name, _ in m.layers]
    assert names == [
        "CSCC (g C m⁻² yr⁻¹)",
        "PCS 2000 (g C m⁻² yr⁻¹)",
        "PCS 2018 (g C m⁻² yr⁻¹)",
        "Trend class",
        "Maintenance years",
        "CSR grade",
    ]
    assert [shown for *_, shown in m.layers] == [True, False, False, True, False, False]
    assert [title for title, _ in m.legends] == ["Trend class", "CSR grade"]
    # Each layer's image has the band its preset draws.
    for image, vis, name, _ in m.layers:
        assert ee.Image(image).bandNames().getInfo() == vis["bands"], name
    # The CSCC ramp ends at a round number above the 98th percentile of the run's CSCC.
    top = np.nanpercentile(fake_results.cscc, 98)
    assert m.layers[0][1]["max"] == 2000.0 and 1000 < top <= 2000
    assert m.layers[4][1] == maintenance_vis(3)


def test_grade_layer_paints_each_regions_grade(fake_results):
    layer = [x for x in result_layers(fake_results) if x.name == "CSR grade"][0]
    px = compute_pixels(layer.image, grid(TRANSFORM, SHAPE))["csr_grade"]
    expected = np.select(
        [fake_results.region == 1, fake_results.region == 2],
        [GRADE_CODES["stronger"], GRADE_CODES["weak"]],
        0,
    )
    inside = fake_results.region > 0
    np.testing.assert_array_equal(px.mask, ~inside)  # masked outside every region
    np.testing.assert_array_equal(px.data[inside], expected[inside])


# --- the quickstart's geemap cell ---------------------------------------------------------------

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def run_geemap_cell(results) -> list:
    """Run the quickstart's geemap cell with ``results``; returns what it displayed."""
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "add_to_map(" in c.source]
    assert len(cells) == 1
    shown: list = []
    exec(
        compile(cells[0], "quickstart geemap cell", "exec"),
        {"results": results, "display": shown.append},
    )
    return shown


def test_quickstart_geemap_cell_says_how_to_get_geemap(fake_results, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "geemap", None)  # as if not installed
    assert run_geemap_cell(fake_results) == []
    assert 'pip install "gee-cscc[notebooks]"' in capsys.readouterr().out


def test_quickstart_geemap_cell_draws_the_result_layers(fake_results):
    pytest.importorskip("geemap")
    (m,) = run_geemap_cell(fake_results)
    assert [layer.name for layer in m.layers][-6:] == [x.name for x in result_layers(fake_results)]


# --- geemap itself (skipped without the notebooks extra) -------------------------------------------


def test_ee_export_image_matches_numpy(image, tmp_path):
    geemap = pytest.importorskip("geemap")
    import rasterio

    region = ee.Geometry.Rectangle([101, 35, 103, 37], "EPSG:4326", False)
    out = tmp_path / "window.tif"
    geemap.ee_export_image(image, str(out), scale=NATIVE_SCALE, region=region, verbose=False)
    with rasterio.open(out) as src:
        assert src.count == 2 and src.crs.to_string() == "EPSG:4326"
        assert tuple(src.transform)[:6] == pytest.approx((STEP, 0, 101.0, 0, -STEP, 37.0))
        np.testing.assert_array_equal(src.read(1), VALUES[6:10, 2:6])
        np.testing.assert_array_equal(src.read(2), VALUES[6:10, 2:6] * 2.0)
    (tmp_path / "bands").mkdir()
    geemap.ee_export_image(image, str(tmp_path / "bands" / "x.tif"), file_per_band=True)
    assert sorted(p.name for p in (tmp_path / "bands").iterdir()) == ["x.a.tif", "x.b.tif"]
    with rasterio.open(tmp_path / "bands" / "x.b.tif") as src:
        np.testing.assert_array_equal(src.read(1), VALUES * 2.0)


def test_zonal_stats_csv_matches_numpy(image, tmp_path):
    geemap = pytest.importorskip("geemap")
    out = tmp_path / "zonal.csv"
    geemap.zonal_stats(image, zones(), str(out), stat_type="MEAN", scale=NATIVE_SCALE)
    rows = read_csv(out)
    assert [int(r["zone"]) for r in rows] == [1, 2]
    for row, (ys, xs) in zip(rows, WINDOWS, strict=True):
        assert float(row["a"]) == pytest.approx(np.nanmean(VALUES[ys, xs]), rel=1e-12)
        assert float(row["b"]) == pytest.approx(np.nanmean(VALUES[ys, xs] * 2), rel=1e-12)
    out = tmp_path / "zonal_sum.csv"
    geemap.zonal_stats(image, zones(), str(out), stat_type="SUM", scale=NATIVE_SCALE)
    rows = read_csv(out)
    sums = [np.nansum(VALUES[ys, xs]) for ys, xs in WINDOWS]
    assert [float(r["a"]) for r in rows] == pytest.approx(sums, rel=1e-12)


def test_ee_to_df_and_ee_export_vector(image, tmp_path):
    geemap = pytest.importorskip("geemap")
    stats = image.select("a").reduceRegions(zones(), ee.Reducer.mean())
    df = geemap.ee_to_df(stats)
    assert sorted(df.columns) == ["mean", "zone"]
    expected = [np.nanmean(VALUES[ys, xs]) for ys, xs in WINDOWS]
    np.testing.assert_allclose(df.sort_values("zone")["mean"], expected, rtol=1e-12)
    out = tmp_path / "zones.geojson"
    geemap.ee_export_vector(zones(), str(out), verbose=False)
    gj = json.loads(out.read_text())
    assert [f["properties"]["zone"] for f in gj["features"]] == [1, 2]


def test_ee_to_gdf(image):
    geemap = pytest.importorskip("geemap")
    pytest.importorskip("geopandas")
    stats = image.select("a").reduceRegions(zones(), ee.Reducer.mean())
    gdf = geemap.ee_to_gdf(stats)
    assert list(gdf["zone"]) == [1, 2] and gdf.crs.to_string() == "EPSG:4326"
    assert gdf.geometry[0].bounds == (101.0, 37.0, 103.0, 39.0)
    expected = [np.nanmean(VALUES[ys, xs]) for ys, xs in WINDOWS]
    np.testing.assert_allclose(gdf["mean"], expected, rtol=1e-12)


def test_geemap_maps_take_the_result_layers(fake_results):
    geemap = pytest.importorskip("geemap")
    foliumap = pytest.importorskip("geemap.foliumap")
    m = add_to_map(geemap.Map(center=(35, 105), zoom=5), fake_results)
    names = [layer.name for layer in m.layers]
    assert names[-6:] == [x.name for x in result_layers(fake_results)]
    f = add_to_map(foliumap.Map(center=(35, 105), zoom=5), fake_results)
    html = f.to_html()
    assert "/maps/" in html and "/tiles/" in html  # the local engine's tile URLs
