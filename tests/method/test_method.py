"""The method end to end on the local engine, against a plain NumPy reading of METHOD.md.

Everything expected here is computed in this file from the synthetic cube (NumPy, SciPy and
pyproj), never by calling gee_cscc's own method code.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from gee_cscc.config import Config
from gee_cscc.method import regions_from_features, regions_from_image
from gee_cscc.testing import cube_of, ensure_initialized, lonlat_cell_areas
from gee_cscc.workflow.analyze import ALL, analyze

# --- the synthetic case --------------------------------------------------------------------

X0, Y0, RES = 100.0, 36.0, 1.0
H, W = 6, 8
SPLIT_X = 103.6  # region A: x < 103.6 (pixel centres 100.5 … 103.5); region B beyond


def make_cube(years: list[int], seed: int = 7) -> np.ndarray:
    """A cube (year, y, x) with the hard cases of issue 3 at fixed cells."""
    rng = np.random.default_rng(seed)
    n = len(years)
    t = np.arange(n, dtype=float)
    base = rng.uniform(200, 900, size=(H, W))
    slope = rng.normal(0, 8, size=(H, W))
    # A break around the middle of the run flips some trends (maintenance changes).
    brk = np.where(t > n / 2, 1.0, 0.0)
    flip = rng.normal(0, 12, size=(H, W))
    noise = rng.normal(0, 25, size=(n, H, W))
    cube = base + slope * t[:, None, None] + flip * (brk * (t - n / 2))[:, None, None] + noise
    cube[:, 0, 0] = 450.0  # constant series: K = 0
    cube[:, 0, 1] = 300.0 + 5.0 * t  # a perfect line (exact in float32)
    cube[2, 1, 1] = np.nan  # masked in one year: not VCA
    cube[:, 1, 2] = 10.0 * np.sin(t)  # mean about 0 or below → check VCA rule
    cube[:, 1, 2] -= cube[:, 1, 2].mean() + 1.0  # mean exactly −1 → not VCA
    cube[:, 2, 2] = np.linspace(-50, 40, n)  # negative NPP, mean −5 → not VCA
    cube[:, 2, 3] = np.linspace(-20, 60, n)  # negative NPP in early years, mean 20 → VCA
    tie = cube[:, 3, 3].copy()
    tie[1] = tie[n - 2] = tie.max() + 50.0  # two equal maxima: earliest wins
    cube[:, 3, 3] = tie
    cube[:, 4, 4] = np.where(t < 3, 500.0 - 10 * t, 470.0)  # decline then flat (plateau)
    return cube.astype(np.float32)


def to_dataarray(cube: np.ndarray, years: list[int]) -> xr.DataArray:
    """The cube on the grid of this case, located by its coordinates only."""
    return cube_of(cube, years, origin=(X0, Y0), pixel_size=RES, crs=None, name=None, units=None)


def region_features() -> dict:
    def poly(x0: float, x1: float, y0: float, y1: float, name: str) -> dict:
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {
            "type": "Feature",
            "properties": {"abbr": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    # B leaves the top row out: those cells belong to no region (still in ALL).
    # C is the single cell of the perfect line (row 0, column 1), drawn over A: a region
    # whose cells all keep a positive trend, so it has no negative cells at t'.
    return {
        "type": "FeatureCollection",
        "features": [
            poly(X0, SPLIT_X, Y0 - H, Y0, "A"),
            poly(SPLIT_X, X0 + W, Y0 - H, Y0 - 1, "B"),
            poly(X0 + 1.1, X0 + 1.9, Y0 - 0.9, Y0 - 0.1, "C"),
        ],
    }


# --- the independent reference -----------------------------------------------------------------


def cell_areas() -> np.ndarray:
    """Cell areas (m²) on WGS84 by pyproj.Geod (:func:`gee_cscc.testing.lonlat_cell_areas`)."""
    return lonlat_cell_areas((RES, 0.0, X0, 0.0, -RES, Y0), (H, W))


def region_raster() -> np.ndarray:
    xs = X0 + RES * (np.arange(W) + 0.5)
    ys = Y0 - RES * (np.arange(H) + 0.5)
    xx, yy = np.meshgrid(xs, ys)
    reg = np.where(xx < SPLIT_X, 1, 2)
    reg[(reg == 2) & (yy > Y0 - 1)] = 0
    reg[0, 1] = 3  # region C, drawn last
    return reg


def ols(years: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope (centred formula) and two-sided p-value; p = 1 for K = 0, 0 for a perfect line."""
    t = years - years.mean()
    k = float(np.sum(t * (y - y.mean())) / np.sum(t * t))
    if abs(k) < 1e-6:
        return 0.0, 1.0
    resid = y - (y.mean() + k * t)
    sse = float(np.sum(resid**2))
    n = len(y)
    if sse <= 0:
        return k, 0.0
    se = np.sqrt(sse / (n - 2) / np.sum(t * t))
    return k, float(2 * stats.t.sf(abs(k / se), n - 2))


def reference(cube: np.ndarray, years: list[int], ref: int) -> dict:
    y = cube.astype(np.float64)
    yrs = np.asarray(years, dtype=float)
    valid = np.all(np.isfinite(y), axis=0)
    vca = valid & (np.nanmean(np.where(np.isfinite(y), y, np.nan), axis=0) > 0)
    cscc = np.where(vca, np.nanmax(np.where(np.isfinite(y), y, -np.inf), axis=0), np.nan)
    cscc_year = np.full((H, W), np.nan)
    slope = np.full((H, W), np.nan)
    pval = np.full((H, W), np.nan)
    cls = np.full((H, W), np.nan)
    evals = [v for v in years if v >= ref]
    P = np.full((len(evals), H, W), np.nan)
    for r in range(H):
        for c in range(W):
            if not vca[r, c]:
                continue
            series = y[:, r, c]
            cscc_year[r, c] = years[int(np.argmax(series == series.max()))]
            k, p = ols(yrs, series)
            slope[r, c], pval[r, c] = k, p
            cls[r, c] = 0 if k == 0 else np.sign(k) * (2 if p < 0.05 else 1)
            prev = None
            for i, ti in enumerate(evals):
                n_i = years.index(ti) + 1
                ki, _ = ols(yrs[:n_i], series[:n_i])
                s = float(np.sign(ki))
                prev = s if prev is None else (prev if s == prev else 0.0)
                P[i, r, c] = prev
    myears = np.where(vca, P[0] * np.sum(P != 0, axis=0), np.nan)
    return {
        "vca": vca,
        "cscc": cscc,
        "cscc_year": cscc_year,
        "slope": slope,
        "p": pval,
        "class": cls,
        "P": P,
        "evals": evals,
        "maintenance_years": myears,
        "npp": y,
    }


# --- fixtures ------------------------------------------------------------------------------------

YEARS = list(range(1990, 2002))
REF = 1995


@pytest.fixture(scope="module")
def case(engine, request):
    ensure_initialized(engine)  # module fixtures run before the autouse re-pointing of ee
    cube = make_cube(YEARS)
    base = f"projects/local-project/assets/method-{request.module.__name__.split('.')[-1]}"
    npp_id, regions_id = f"{base}/npp", f"{base}/regions"
    engine.store.put_collection(npp_id, to_dataarray(cube, YEARS), band="npp")
    engine.store.put_table(regions_id, region_features())
    return {"cube": cube, "npp": npp_id, "regions": regions_id, "base": base}


@pytest.fixture(scope="module")
def results(engine, case):
    import ee

    # min_fit_cells=1: the tiny regions here are fitted (the default 10 would skip them)
    cfg = Config(
        start=YEARS[0], end=YEARS[-1], reference_year=REF, pcs_years=(1990, 1995, 2001),
        min_fit_cells=1,
    )  # fmt: skip
    regions = regions_from_features(ee.FeatureCollection(case["regions"]), name_property="abbr")
    return analyze(case["npp"], cfg, regions=regions)


@pytest.fixture(scope="module")
def ref(case):
    return reference(case["cube"], YEARS, REF)


# --- rasters ---------------------------------------------------------------------------------------


def test_vca_and_capacity(results, ref):
    ds = results.rasters
    np.testing.assert_array_equal(ds["vca"].values == 1, ref["vca"])
    np.testing.assert_allclose(ds["cscc"].values, ref["cscc"], rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(ds["cscc_year"].values, ref["cscc_year"])
    assert ds["cscc_year"].values[3, 3] == YEARS[1]  # the earliest of two equal maxima


def test_potential_per_year(results, ref):
    pcs = results.rasters["pcs"]
    assert list(pcs["pcs_year"].values) == [1990, 1995, 2001]
    for year in (1990, 1995, 2001):
        expected = np.where(ref["vca"], ref["cscc"] - ref["npp"][YEARS.index(year)], np.nan)
        np.testing.assert_allclose(
            pcs.sel(pcs_year=year).values, expected, rtol=1e-5, atol=1e-3, equal_nan=True
        )


def test_trend_slope_p_and_classes(results, ref):
    ds = results.rasters
    np.testing.assert_allclose(
        ds["trend_slope"].values, ref["slope"], rtol=1e-5, atol=1e-6, equal_nan=True
    )
    np.testing.assert_allclose(ds["trend_p"].values, ref["p"], rtol=1e-4, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(ds["trend_class"].values, ref["class"])
    assert ds["trend_slope"].values[0, 0] == 0 and ds["trend_p"].values[0, 0] == 1  # constant
    assert ds["trend_p"].values[0, 1] == 0 and ds["trend_class"].values[0, 1] == 2  # perfect line


def test_maintenance_surfaces_and_years(results, ref):
    P = results.rasters["maintenance"]
    assert list(P["year"].values) == ref["evals"]
    np.testing.assert_array_equal(P.values, ref["P"])
    np.testing.assert_array_equal(
        results.rasters["maintenance_years"].values, ref["maintenance_years"]
    )


def test_region_raster_uses_pixel_centres(results):
    np.testing.assert_array_equal(results.rasters["region"].values, region_raster())


# --- tables ----------------------------------------------------------------------------------------


def test_capacity_table(results, ref):
    area = cell_areas()
    reg = region_raster()
    vca = ref["vca"]
    last = ref["npp"][-1]
    table = results.capacity.set_index("region")
    for name, sel in (("A", reg == 1), ("B", reg == 2), (ALL, np.ones_like(vca))):
        m = vca & sel
        cscc_g = np.sum(ref["cscc"][m] * area[m])
        npp_g = np.sum(last[m] * area[m])
        row = table.loc[name]
        assert row["cscc_tg"] == pytest.approx(cscc_g / 1e12, rel=1e-9)
        assert row["current_npp_tg"] == pytest.approx(npp_g / 1e12, rel=1e-9)
        assert row["potential_tg"] == pytest.approx((cscc_g - npp_g) / 1e12, rel=1e-9)
        assert row["cscc_mean_gm2"] == pytest.approx(cscc_g / np.sum(area[m]), rel=1e-9)
        assert row["vca_cells"] == int(m.sum())


def test_yearly_table(results, ref):
    area = cell_areas()
    vca = ref["vca"]
    cscc_total = np.sum(ref["cscc"][vca] * area[vca])
    for i, year in enumerate(YEARS):
        total = np.sum(ref["npp"][i][vca] * area[vca])
        row = results.yearly[results.yearly["year"] == year].iloc[0]
        assert row["total_npp_pg"] == pytest.approx(total / 1e15, rel=1e-9)
        assert row["mean_npp_gm2"] == pytest.approx(total / np.sum(area[vca]), rel=1e-9)
        assert row["saturation_share"] == pytest.approx(total / cscc_total, rel=1e-9)
        assert row["potential_pg"] == pytest.approx((cscc_total - total) / 1e15, rel=1e-9)


def test_trend_summary_shares(results, ref):
    area = cell_areas()
    vca = ref["vca"]
    rows = results.trend_summary
    all_05 = rows[(rows["region"] == ALL) & (rows["alpha"] == 0.05)].set_index("class")
    names = {2: "SI", 1: "II", 0: "0", -1: "ID", -2: "SD"}
    for code, name in names.items():
        m = vca & (ref["class"] == code)
        assert all_05.loc[name, "area_km2"] == pytest.approx(np.sum(area[m]) / 1e6, rel=1e-9)
        assert all_05.loc[name, "area_share"] == pytest.approx(
            np.sum(area[m]) / np.sum(area[vca]), rel=1e-9
        )
        assert all_05.loc[name, "cells"] == int(m.sum())


def test_maintenance_counts_table(results, ref):
    reg = region_raster()
    P = ref["P"]
    counts = results.maintenance_counts
    assert list(counts.columns) == [
        "region",
        "year",
        "n_pos",
        "q_pos_share",
        "n_neg",
        "q_neg_share",
        "changed",
        "changed_cum_share",
    ]
    for name, sel in (("A", reg == 1), ("B", reg == 2), (ALL, np.ones_like(reg, bool))):
        sub = counts[counts["region"] == name].set_index("year")
        n_pos = [(P[i][sel] == 1).sum() for i in range(len(ref["evals"]))]
        n_neg = [(P[i][sel] == -1).sum() for i in range(len(ref["evals"]))]
        assert sub["n_pos"].tolist() == n_pos
        assert sub["n_neg"].tolist() == n_neg
        if n_pos[0]:
            np.testing.assert_allclose(sub["q_pos_share"].to_numpy(), np.array(n_pos) / n_pos[0])


def test_server_counting_agrees_with_local(engine, case, results):
    import ee

    cfg = results.config
    regions = regions_from_features(ee.FeatureCollection(case["regions"]), name_property="abbr")
    server = analyze(case["npp"], cfg, regions=regions, counting="server")
    assert "maintenance" not in server.rasters  # not pulled: that is the point of server counting
    left = results.maintenance_counts.fillna(-1)
    right = server.maintenance_counts.fillna(-1)
    assert left.equals(right)


def test_region_image_gives_identical_tables(engine, case, results):
    import ee

    ids = region_raster().astype(np.int32)
    da = xr.DataArray(
        ids,
        dims=("y", "x"),
        coords=to_dataarray(case["cube"], YEARS).isel(year=0, drop=True).coords,
    )
    rid = f"{case['base']}/region_ids"
    engine.store.put_image(rid, da.rename("region"))
    regions = regions_from_image(ee.Image(rid), names={1: "A", 2: "B", 3: "C"})
    other = analyze(case["npp"], results.config, regions=regions)
    for attr in ("capacity", "maintenance_counts", "trend_summary", "yearly"):
        a = getattr(results, attr)
        b = getattr(other, attr)
        assert a.round(9).fillna(-1).equals(b.round(9).fillna(-1)), attr


def test_region_without_negative_cells(results):
    """Region C has no negative cells at t': no τ⁻ (flag no_cells), RS undefined, grade none."""
    row = results.resilience.set_index("region").loc["C"]
    assert "neg:no_cells" in row["flags"]
    assert np.isnan(row["tau_neg"]) and np.isnan(row["rs"]) and row["grade"] == "none"
    assert "pos:no_loss" in row["flags"] and row["tau_pos"] == np.inf  # the line never turns
    counts = results.maintenance_counts
    c = counts[counts["region"] == "C"]
    assert (c["n_neg"] == 0).all() and (c["n_pos"] == 1).all()
    assert c["q_neg_share"].isna().all()


def test_resilience_rows(results):
    res = results.resilience.set_index("region")
    assert set(res.index) == {ALL, "A", "B", "C"}
    for _, row in res.iterrows():
        assert row["grade"] in ("extremely strong", "stronger", "strong", "weak", "weaker", "none")
        for col in ("tau_pos", "tau_neg"):
            assert not (row[col] < 0)


def test_other_year_settings(engine, request):
    """2000–2010 with reference 2005: evaluation years, windows and VCA follow the config."""
    years = list(range(2000, 2011))
    cube = make_cube(years, seed=11)
    nid = f"projects/local-project/assets/method-years-{request.node.name[:20]}/npp"
    engine.store.put_collection(nid, to_dataarray(cube, years), band="npp")
    cfg = Config(start=2000, end=2010, reference_year=2005, pcs_years=(2005,))
    res = analyze(nid, cfg)
    expected = reference(cube, years, 2005)
    assert list(res.rasters["maintenance"]["year"].values) == list(range(2005, 2011))
    np.testing.assert_array_equal(res.rasters["maintenance"].values, expected["P"])
    np.testing.assert_array_equal(res.rasters["trend_class"].values, expected["class"])
    assert set(res.capacity["region"]) == {ALL}


def test_graph_does_not_depend_on_engine(engine, case):
    """The serialized expression graph is the same whether ee talks to the local engine or
    to Google's servers (here: ee initialized for earthengine.googleapis.com with the
    algorithm list Google serves, i.e. the one bundled with earthengine-api, no network)."""
    import importlib.resources
    from unittest import mock

    import ee

    from gee_cscc.engine import initialize_ee
    from gee_cscc.method import build
    from gee_cscc.method.grid import GridSpec
    from gee_cscc.method.inputs import AnnualNPP, prepare

    cfg = Config(start=YEARS[0], end=YEARS[-1], reference_year=REF)
    grid = GridSpec("EPSG:4326", (1, 0, X0, 0, -1, Y0), (H, W))

    def graph_json() -> str:
        col = prepare(ee.ImageCollection(case["npp"]), band="npp", scale_factor=1.0, offset=0.0)
        g = build(AnnualNPP(col, tuple(YEARS), grid, case["npp"], "npp"), cfg)
        objs = (g.result_image(), g.maintenance, g.potential, g.trend)
        return json.dumps(
            [ee.serializer.encode(o, for_cloud_api=True) for o in objs], sort_keys=True
        )

    local = graph_json()
    algorithms = json.loads(
        importlib.resources.files("ee").joinpath("tests/algorithms.json").read_text()
    )
    try:
        with (
            mock.patch.object(
                ee.data,
                "getAlgorithms",
                return_value=ee._cloud_api_utils.convert_algorithms(algorithms),
            ),
            mock.patch("ee._cloud_api_utils.build_cloud_resource", return_value=mock.MagicMock()),
            mock.patch("ee.deprecation._FetchDataCatalogStac", return_value={}),
        ):
            ee.Reset()
            ee.Initialize(credentials=None, project="my-gcp-project")
            assert ee._state.get_state().cloud_api_base_url.startswith("https://earthengine")
            google = graph_json()
    finally:
        ee.Reset()
        initialize_ee(engine.url, engine.project)
    assert local == google


def test_extent_regions_crops_the_grid(engine, case, results, ref):
    """extent="regions": the grid is cut to the regions' bounding box (pixel-aligned)."""
    import ee

    ring = [[102.2, 32.4], [104.8, 32.4], [104.8, 34.6], [102.2, 34.6], [102.2, 32.4]]
    rid = f"{case['base']}/small_region"
    engine.store.put_table(
        rid,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"abbr": "S"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ],
        },
    )
    regions = regions_from_features(ee.FeatureCollection(rid), name_property="abbr")
    small = analyze(case["npp"], results.config, regions=regions, extent="regions")
    # Columns 2..4 (x 102–105) and rows 1..3 (y 35–32) meet the box.
    assert small.summary["grid"]["shape"] == [3, 3]
    assert small.summary["grid"]["crs_transform"] == [1.0, 0.0, 102.0, 0.0, -1.0, 35.0]
    np.testing.assert_allclose(
        small.rasters["cscc"].values, ref["cscc"][1:4, 2:5], rtol=1e-6, equal_nan=True
    )
    np.testing.assert_array_equal(small.rasters["maintenance"].values, ref["P"][:, 1:4, 2:5])
    area = cell_areas()[1:4, 2:5]
    vca = ref["vca"][1:4, 2:5]
    xs = X0 + RES * (np.arange(2, 5) + 0.5)
    ys = Y0 - RES * (np.arange(1, 4) + 0.5)
    inside = (
        (xs[None, :] > 102.2) & (xs[None, :] < 104.8) & (ys[:, None] > 32.4) & (ys[:, None] < 34.6)
    )
    m = vca & inside
    row = small.capacity.set_index("region").loc["S"]
    expected = np.sum(ref["cscc"][1:4, 2:5][m] * area[m]) / 1e12
    assert row["cscc_tg"] == pytest.approx(expected, rel=1e-9)
    all_row = small.capacity.set_index("region").loc[ALL]
    assert all_row["vca_cells"] == int(vca.sum())  # ALL covers the cropped grid
