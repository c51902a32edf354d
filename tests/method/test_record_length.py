"""The record-length sensitivity of CSCC (METHOD.md §7) against a NumPy reading of it.

Every expected number is computed here from the synthetic cube with NumPy and pyproj (cell
areas): the running maximum by ``np.maximum.accumulate``, the jackknife by brute force
(deleting each year and taking the max again), never by calling gee_cscc's code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gee_cscc.config import Config
from gee_cscc.method import regions_from_features
from gee_cscc.testing import cube_of, ensure_initialized, lonlat_cell_areas
from gee_cscc.workflow.analyze import analyze
from gee_cscc.workflow.batch import BatchOptions

X0, Y0, RES = 100.0, 36.0, 1.0
H, W = 5, 6
YEARS = list(range(2000, 2012))
REF = 2004
SPLIT_X = 103.0  # region A: x < 103, region B beyond


def make_cube(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(YEARS)
    t = np.arange(n, dtype=float)
    base = rng.uniform(200, 800, size=(H, W))
    slope = rng.normal(0, 10, size=(H, W))
    cube = base + slope * t[:, None, None] + rng.normal(0, 30, size=(n, H, W))
    cube[:, 0, 0] = 400.0 + 10.0 * t  # rising to the end: CSCC set in the last year
    cube[:, 0, 1] = 500.0 - 10.0 * t  # falling: CSCC set in the first year
    tie = cube[:, 1, 1].copy()
    tie[2] = tie[7] = tie.max() + 40.0  # two equal maxima: leaving one out changes nothing
    cube[:, 1, 1] = tie
    cube[:, 2, 2] = -5.0  # not VCA (mean ≤ 0)
    return np.round(cube).astype(np.float32)  # whole numbers: exact in float32


def regions() -> dict:
    def poly(x0: float, x1: float, name: str) -> dict:
        ring = [[x0, Y0 - H], [x1, Y0 - H], [x1, Y0], [x0, Y0], [x0, Y0 - H]]
        return {
            "type": "Feature",
            "properties": {"abbr": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    return {
        "type": "FeatureCollection",
        "features": [poly(X0, SPLIT_X, "A"), poly(SPLIT_X, X0 + W, "B")],
    }


def reference(cube: np.ndarray) -> dict:
    """Per-region running totals, leave-one-out totals and jackknife spreads in NumPy."""
    y = cube.astype(np.float64)
    n = len(YEARS)
    vca = np.all(np.isfinite(y), axis=0) & (y.mean(axis=0) > 0)
    area = lonlat_cell_areas((RES, 0.0, X0, 0.0, -RES, Y0), (H, W))
    xs = X0 + RES * (np.arange(W) + 0.5)
    region = np.broadcast_to(np.where(xs < SPLIT_X, 1, 2), (H, W))
    running = np.maximum.accumulate(y, axis=0)  # (year, y, x)
    cscc = y.max(axis=0)
    first_max = np.argmax(y, axis=0)  # earliest on ties
    out = {}
    for name, sel in (("ALL", vca), ("A", vca & (region == 1)), ("B", vca & (region == 2))):
        w = area * sel
        run_tg = np.array([np.sum(running[k] * w) for k in range(n)]) / 1e12
        loo = np.array([np.sum(np.delete(y, j, axis=0).max(axis=0) * w) for j in range(n)])
        npp_last = np.sum(y[-1] * w)
        npp_before = np.sum(y[-2] * w)
        pot = loo - np.where(np.arange(n) == n - 1, npp_before, npp_last)
        rises = [k for k in range(1, n) if run_tg[k] > run_tg[k - 1] * 1.001]
        out[name] = {
            "running_tg": run_tg,
            "loo_tg": loo / 1e12,
            "pot_loo_tg": pot / 1e12,
            "se_cscc_tg": math.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)) / 1e12,
            "se_pot_tg": math.sqrt((n - 1) / n * np.sum((pot - pot.mean()) ** 2)) / 1e12,
            "stable_since": YEARS[rises[-1]] if rises else YEARS[0],
            "rising": np.sum(w * (first_max >= n - 5)) / np.sum(w),
            "potential_tg": (np.sum(cscc * w) - npp_last) / 1e12,
        }
    # per cell: the jackknife SE by brute force
    loo_cells = np.stack([np.delete(y, j, axis=0).max(axis=0) for j in range(n)])
    pot_cells = loo_cells - np.where(
        (np.arange(n) == n - 1)[:, None, None], y[-2][None], y[-1][None]
    )

    def se(v: np.ndarray) -> np.ndarray:
        return np.sqrt((n - 1) / n * np.sum((v - v.mean(axis=0)) ** 2, axis=0))

    out["cscc_jk_se"] = np.where(vca, se(loo_cells), np.nan)
    out["pcs_jk_se"] = np.where(vca, se(pot_cells), np.nan)
    return out


@pytest.fixture(scope="module")
def case(engine, request):
    # The module's fixtures use ``ee`` before the per-test re-point: point it at the session
    # engine here, whatever an earlier module left it on.
    ensure_initialized(engine)
    cube = make_cube()
    base = f"projects/local-project/assets/method-{request.module.__name__.split('.')[-1]}"
    npp_id, regions_id = f"{base}/npp", f"{base}/regions"
    da = cube_of(cube, YEARS, origin=(X0, Y0), pixel_size=RES, crs=None, name=None, units=None)
    engine.store.put_collection(npp_id, da, band="npp")
    engine.store.put_table(regions_id, regions())
    return {"cube": cube, "npp": npp_id, "regions": regions_id, "ref": reference(cube)}


def _cfg(**extra) -> Config:
    return Config(start=YEARS[0], end=YEARS[-1], reference_year=REF, min_fit_cells=1, **extra)


def _regions(case):
    import ee

    return regions_from_features(ee.FeatureCollection(case["regions"]), name_property="abbr")


@pytest.fixture(scope="module")
def results(engine, case):
    return analyze(case["npp"], _cfg(capacity_sensitivity=True), regions=_regions(case))


def check_tables(res, ref: dict) -> None:
    table, stab = res.capacity_sensitivity, res.capacity_stability
    assert list(stab["region"]) == ["ALL", "A", "B"]
    for name in ("ALL", "A", "B"):
        r = ref[name]
        rows = table[table["region"] == name]
        assert list(rows["year"]) == YEARS
        np.testing.assert_allclose(rows["running_cscc_tg"], r["running_tg"], rtol=1e-9)
        np.testing.assert_allclose(
            rows["share_of_cscc"], r["running_tg"] / r["running_tg"][-1], rtol=1e-9
        )
        np.testing.assert_allclose(rows["cscc_without_year_tg"], r["loo_tg"], rtol=1e-9)
        np.testing.assert_allclose(rows["potential_without_year_tg"], r["pot_loo_tg"], rtol=1e-9)
        row = stab[stab["region"] == name].iloc[0]
        assert row["stable_since"] == r["stable_since"]
        assert row["cscc_jk_se_tg"] == pytest.approx(r["se_cscc_tg"], rel=1e-7, abs=1e-15)
        assert row["potential_jk_se_tg"] == pytest.approx(r["se_pot_tg"], rel=1e-7, abs=1e-15)
        assert row["potential_tg"] == pytest.approx(r["potential_tg"], rel=1e-9)
        assert row["rising_area_share"] == pytest.approx(r["rising"], rel=1e-12)


def test_tables_match_numpy(results, case):
    check_tables(results, case["ref"])


def test_final_running_total_is_table1_cscc(results):
    last = results.capacity_sensitivity.groupby("region")["running_cscc_tg"].last()
    cap = results.capacity.set_index("region")["cscc_tg"]
    for name in ("ALL", "A", "B"):
        assert last[name] == pytest.approx(cap[name], rel=1e-12)


def test_per_cell_jackknife_maps(results, case):
    for band in ("cscc_jk_se", "pcs_jk_se"):
        got = results.rasters[band].values
        want = case["ref"][band]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=1e-3)
    # hard cells: a tie of two maxima leaves CSCC unchanged whichever year is left out
    assert results.rasters["cscc_jk_se"].values[1, 1] == 0.0
    # a straight rise by 10 a year: without its last year CSCC falls by 10 → SE (n-1)/n·10
    n = len(YEARS)
    assert results.rasters["cscc_jk_se"].values[0, 0] == pytest.approx((n - 1) / n * 10, abs=1e-4)


def test_summary_states_the_share_still_rising(results, case):
    s = results.summary["capacity_sensitivity"]
    assert s["rising_area_share"] == pytest.approx(case["ref"]["ALL"]["rising"], rel=1e-12)
    assert s["stable_since"] == case["ref"]["ALL"]["stable_since"]
    assert s["sentence"].startswith("The capacity estimate is ")
    assert f"{s['rising_area_share']:.0%}" in s["sentence"]


def test_off_by_default_changes_nothing(engine, case, results):
    plain = analyze(case["npp"], _cfg(), regions=_regions(case))
    assert plain.capacity_sensitivity is None and plain.capacity_stability is None
    assert "capacity_sensitivity" not in plain.summary
    assert "cscc_jk_se" not in plain.rasters
    np.testing.assert_allclose(plain.capacity["cscc_tg"], results.capacity["cscc_tg"], rtol=0)


def test_batch_mode_gives_the_same_tables(engine, case, tmp_path):
    res = analyze(
        case["npp"],
        _cfg(capacity_sensitivity=True),
        regions=_regions(case),
        mode="batch",
        batch=BatchOptions(task_dir=tmp_path, poll_seconds=0.05),
    )
    check_tables(res, case["ref"])
    assert "cscc_jk_se" in res.rasters
    got = res.rasters["cscc_jk_se"].values  # the preview is the whole grid here
    want = case["ref"]["cscc_jk_se"]
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=1e-3)


def test_python_api_images_and_plot(results, case):
    import ee
    from matplotlib.figure import Figure

    img = results.images["cscc_jk_se"]
    box = ee.Geometry.Rectangle([X0, Y0 - H, X0 + W, Y0], None, False)
    got = ee.Image(img).reduceRegion(
        ee.Reducer.max(), box, None, "EPSG:4326", [1, 0, X0, 0, -1, Y0]
    )
    want = float(np.nanmax(case["ref"]["cscc_jk_se"]))
    assert got.getInfo()["cscc_jk_se"] == pytest.approx(want, abs=1e-3)
    assert isinstance(results.plot.running_capacity(), Figure)
