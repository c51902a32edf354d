"""Pixel-scale carbon sink resilience (METHOD.md §7) on the local engine, against NumPy.

Every expected number is computed in this file from the synthetic cube: the maintenance
surfaces by growing-window OLS (METHOD.md §4), the neighbourhood counts by looping over the
kernel's offsets, and the decay fits by ``np.polyfit`` / the λ = 1 formula of §7. No
gee_cscc code computes an expected value.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest

from gee_cscc.config import Config
from gee_cscc.errors import ConfigError
from gee_cscc.method import regions_from_features
from gee_cscc.method.grid import GridSpec
from gee_cscc.testing import cube_of
from gee_cscc.workflow.analyze import ALL, analyze

X0, Y0, RES = 100.0, 40.0, 1.0
H, W = 9, 11
YEARS = list(range(1990, 2004))
REF = 1994
EVALS = [y for y in YEARS if y >= REF]


def make_cube(seed: int = 11) -> np.ndarray:
    """Trends that break at different years, so neighbourhoods lose cells at different rates."""
    rng = np.random.default_rng(seed)
    n = len(YEARS)
    t = np.arange(n, dtype=float)
    base = rng.uniform(300, 800, size=(H, W))
    slope = rng.normal(0, 6, size=(H, W))
    brk = rng.integers(5, n, size=(H, W)).astype(float)
    flip = rng.normal(0, 15, size=(H, W))
    noise = rng.normal(0, 10, size=(n, H, W))
    after = np.clip(t[:, None, None] - brk[None], 0, None)
    cube = base + slope * t[:, None, None] + flip * after + noise
    cube[:, 0, 0] = np.nan  # never valid: outside the VCA
    cube[:, 8, 10] = -50.0  # mean ≤ 0: outside the VCA
    cube[:, 4, 5] = 500.0 + 3.0 * t  # a perfect positive line: its trend never changes
    return cube.astype(np.float32)


def region_features() -> dict:
    ring = [[X0, Y0 - H], [X0 + 5, Y0 - H], [X0 + 5, Y0], [X0, Y0], [X0, Y0 - H]]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"abbr": "A"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }


# --- the independent reference -------------------------------------------------------------


def slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    k = float(np.sum(xc * (y - y.mean())) / np.sum(xc * xc))
    return 0.0 if abs(k) < 1e-6 else k


def surfaces(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The VCA and the maintenance surfaces P (eval year, y, x), NaN outside the VCA."""
    y = cube.astype(float)
    vca = np.all(np.isfinite(y), axis=0)
    vca &= np.where(vca, np.nan_to_num(y).mean(axis=0), 0.0) > 0
    yrs = np.asarray(YEARS, dtype=float)
    P = np.full((len(EVALS), H, W), np.nan)
    for r in range(H):
        for c in range(W):
            if not vca[r, c]:
                continue
            prev = None
            for i, ti in enumerate(EVALS):
                m = YEARS.index(ti) + 1
                s = float(np.sign(slope(yrs[:m], y[:m, r, c])))
                prev = s if prev is None else (prev if s == prev else 0.0)
                P[i, r, c] = prev
    return vca, P


def window(k: int, shape: str) -> list[tuple[int, int]]:
    return [
        (dy, dx)
        for dy in range(-k, k + 1)
        for dx in range(-k, k + 1)
        if shape == "square" or dx * dx + dy * dy <= k * k
    ]


def counts(P: np.ndarray, offsets: list[tuple[int, int]], sign: int) -> np.ndarray:
    """N_i(p): cells of ``sign`` kept in year i among the offsets of p (inside the grid)."""
    out = np.zeros(P.shape)
    for r in range(H):
        for c in range(W):
            for dy, dx in offsets:
                rr, cc = r + dy, c + dx
                if 0 <= rr < H and 0 <= cc < W:
                    out[:, r, c] += P[:, rr, cc] == sign
    return out


def tau_of(n: np.ndarray, mode: str, min_cells: int, plateau: str = "fit", steps: int = 3):
    """τ of one count series (METHOD.md §7); NaN where undefined."""
    if n[0] < min_cells:
        return math.nan
    q = n / n[0]
    x = np.arange(len(n), dtype=float)
    keep = q > 0
    tau = math.nan
    if keep.sum() >= 2:
        lq = np.log(q[keep])
        if mode == "loglinear":
            b = np.polyfit(x[keep], lq, 1)[0]
            tau = math.inf if b >= 0 else -1.0 / b
        else:
            sxl = float(np.sum(x[keep] * lq))
            tau = math.inf if sxl >= 0 else -float(np.sum(x[keep] ** 2)) / sxl
    if plateau == "onset":
        changes = [i for i in range(1, len(n)) if n[i] != n[i - 1]]
        if changes and len(n) - 1 - changes[-1] >= steps:
            tau = float(changes[-1])
    return tau


def grade_of(rs: float, thresholds: tuple[float, ...]) -> int:
    if math.isnan(rs):
        return 0
    t1, t2, t3, t4 = thresholds
    if rs > t1:
        return 5
    if rs > t2:
        return 4
    if rs >= t3:
        return 3
    if rs >= t4:
        return 2
    return 1


def rs_of(tp: float, tn: float) -> float:
    if math.isnan(tp) or math.isnan(tn) or (math.isinf(tp) and math.isinf(tn)):
        return math.nan
    return tp - tn


def expected(P, vca, offsets, mode, min_cells, thresholds, plateau="fit"):
    npos, nneg = counts(P, offsets, 1), counts(P, offsets, -1)
    out = {k: np.full((H, W), np.nan) for k in ("tau_pos", "tau_neg", "csr_rs", "csr_grade")}
    for r in range(H):
        for c in range(W):
            if not vca[r, c]:
                continue
            tp = tau_of(npos[:, r, c], mode, min_cells, plateau)
            tn = tau_of(nneg[:, r, c], mode, min_cells, plateau)
            rs = rs_of(tp, tn)
            out["tau_pos"][r, c], out["tau_neg"][r, c], out["csr_rs"][r, c] = tp, tn, rs
            out["csr_grade"][r, c] = grade_of(rs, thresholds)
    return out


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def case(engine):
    cube = make_cube()
    base = "projects/local-project/assets/csr-pixel"
    npp = f"{base}/npp"
    da = cube_of(cube, YEARS, origin=(X0, Y0), pixel_size=RES, crs=None, name=None, units=None)
    engine.store.put_collection(npp, da, band="npp")
    engine.store.put_table(f"{base}/regions", region_features())
    vca, P = surfaces(cube)
    return {"npp": npp, "regions": f"{base}/regions", "vca": vca, "P": P}


def run(case, mode="interactive", batch=None, **options):
    import ee

    options = {"extent": "input", **options}
    cfg = Config(start=YEARS[0], end=YEARS[-1], reference_year=REF, min_fit_cells=1, **options)
    regions = regions_from_features(ee.FeatureCollection(case["regions"]), name_property="abbr")
    return analyze(case["npp"], cfg, regions=regions, mode=mode, batch=batch)


THRESHOLDS = (40.0, 10.0, 0.0, -10.0)


def check(rasters, want) -> None:
    for name in ("tau_pos", "tau_neg", "csr_rs"):
        got = rasters[name].values
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want[name]), err_msg=name)
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want[name]), err_msg=name)
        np.testing.assert_allclose(got, want[name], rtol=2e-6, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(rasters["csr_grade"].values, want["csr_grade"])


# --- tests -----------------------------------------------------------------------------------


def test_loglinear_circle_against_numpy(case):
    res = run(case, fit_mode="loglinear", csr_pixel="2cells", csr_min_cells=3,
              grade_thresholds=THRESHOLDS)  # fmt: skip
    want = expected(case["P"], case["vca"], window(2, "circle"), "loglinear", 3, THRESHOLDS)
    check(res.rasters, want)
    # the case covers every rule: finite, infinite and masked τ, each grade but one
    tau = res.rasters["tau_pos"].values
    assert np.isfinite(tau).any() and np.isinf(tau).any()
    assert np.isnan(res.rasters["tau_neg"].values[case["vca"]]).any()  # too few cells
    assert len(np.unique(want["csr_grade"][case["vca"]])) >= 4
    summary = res.summary["csr_pixel"]
    assert summary["radius"] == "2cells" and summary["fit_mode"] == "loglinear"
    assert summary["kernel_cells"] == len(window(2, "circle")) == 13


def test_fixed_square_with_plateau_onset_against_numpy(case):
    res = run(case, fit_mode="fixed", csr_pixel="1cells", csr_kernel="square", csr_min_cells=2,
              plateau="onset", grade_thresholds=THRESHOLDS)  # fmt: skip
    want = expected(
        case["P"], case["vca"], window(1, "square"), "fixed", 2, THRESHOLDS, plateau="onset"
    )
    check(res.rasters, want)


def test_neighbours_beyond_the_analysis_extent_count(case):
    """With the regions' box as the extent (5 of 11 columns), a cell at the box's edge
    counts its VCA neighbours just outside it: the same values as the whole grid's."""
    res = run(case, fit_mode="loglinear", csr_pixel="2cells", csr_min_cells=3,
              grade_thresholds=THRESHOLDS, extent="regions")  # fmt: skip
    assert res.rasters.sizes["x"] == 5
    want = expected(case["P"], case["vca"], window(2, "circle"), "loglinear", 3, THRESHOLDS)
    check(res.rasters, {k: v[:, :5] for k, v in want.items()})


def test_masked_cells(case):
    """Outside the VCA every layer is masked; inside, a τ of a sign with fewer than
    csr_min_cells neighbours at t' is masked and the grade is 0 (none)."""
    res = run(case, fit_mode="loglinear", csr_pixel="1cells", csr_kernel="square",
              csr_min_cells=5)  # fmt: skip
    ds = res.rasters
    vca = case["vca"]
    for name in ("tau_pos", "tau_neg", "csr_rs", "csr_grade"):
        assert np.isnan(ds[name].values[~vca]).all(), name
    npos = counts(case["P"], window(1, "square"), 1)[0]
    few = vca & (npos < 5)
    assert few.any() and (vca & ~few).any()
    assert np.isnan(ds["tau_pos"].values[few]).all()
    assert not np.isnan(ds["tau_pos"].values[vca & ~few]).any()
    assert (ds["csr_grade"].values[few] == 0).all()


def test_free_falls_back_to_loglinear(case):
    free = run(case, csr_pixel="2cells", csr_min_cells=3)  # fit_mode free (the default)
    want = expected(case["P"], case["vca"], window(2, "circle"), "loglinear", 3,
                    (500.0, 100.0, 0.0, -100.0))  # fmt: skip
    check(free.rasters, want)
    assert "no closed form per cell" in free.summary["csr_pixel"]["fit_note"]


@pytest.mark.parametrize("mode", ["loglinear", "fixed"])
def test_whole_grid_kernel_equals_the_all_row(case, mode):
    """A kernel covering the whole grid: every cell's q is the ALL row's, so its τ is ALL's
    τ of the same closed-form fit (log-linear: the table's own fit; λ = 1: the §7 formula
    on the table's counts, since the regional λ = 1 fit is least squares on the q scale)."""
    res = run(case, fit_mode=mode, csr_pixel=f"{max(H, W)}cells", csr_kernel="square",
              csr_min_cells=1)  # fmt: skip
    counts_all = res.maintenance_counts[res.maintenance_counts["region"] == ALL]
    vca = case["vca"]
    for sign in ("pos", "neg"):
        got = res.rasters[f"tau_{sign}"].values[vca]
        n = counts_all[f"n_{sign}"].to_numpy(float)
        want = tau_of(n, mode, 1)
        if mode == "loglinear":
            row = res.resilience[res.resilience["region"] == ALL].iloc[0]
            assert row[f"tau_{sign}"] == pytest.approx(want, rel=1e-9)
        np.testing.assert_allclose(got, want, rtol=2e-6)
        assert np.all(got == got[0])


def test_batch_mode_gives_the_same_rasters(case, tmp_path):
    from gee_cscc.workflow.analyze import BatchOptions

    options = dict(fit_mode="loglinear", csr_pixel="2cells", csr_min_cells=3,
                   grade_thresholds=THRESHOLDS)  # fmt: skip
    res = run(case, mode="batch", batch=BatchOptions(task_dir=tmp_path), **options)
    assert res.mode == "batch"
    want = expected(case["P"], case["vca"], window(2, "circle"), "loglinear", 3, THRESHOLDS)
    check(res.rasters, want)


def test_paper_run_unchanged(case):
    res = run(case)
    assert "csr_rs" not in res.rasters and "csr_pixel" not in res.summary
    assert res.graph.csr_pixel is None


# --- the kernel in km, the config ------------------------------------------------------------


def test_km_kernel_is_the_cells_within_the_radius_on_the_ellipsoid():
    from gee_cscc.method.csr_pixel import kernel_weights

    grid = GridSpec("EPSG:4326", (0.05, 0.0, 100.0, 0.0, -0.05, 45.0), (200, 300))
    w = kernel_weights(grid, "30km", "circle")
    lat0 = 45.0 - 0.05 * (100 + 0.5)  # the middle row's centre
    lon0 = 100.0 + 0.05 * (150 + 0.5)
    geod = pyproj.Geod(ellps="WGS84")
    hy, hx = w.shape[0] // 2, w.shape[1] // 2
    inside = set()
    for dy in range(-15, 16):
        for dx in range(-15, 16):
            d = geod.inv(lon0, lat0, lon0 + 0.05 * dx, lat0 - 0.05 * dy)[2]
            if d <= 30_000:
                inside.add((dy, dx))
    got = {(i - hy, j - hx) for i, j in zip(*np.nonzero(w), strict=True)}
    assert got == inside
    # at ~40° N a degree of longitude is ~0.77 of one of latitude: wider than tall
    assert w.shape[1] > w.shape[0]
    sq = kernel_weights(grid, "30km", "square")
    assert sq.all() and sq.shape == (max(dy for dy, _ in inside) * 2 + 1, w.shape[1])


def test_projected_km_kernel():
    from gee_cscc.method.csr_pixel import kernel_weights

    grid = GridSpec("EPSG:3857", (1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0), (50, 50))
    w = kernel_weights(grid, "3km", "circle")
    want = np.array([[dx * dx + dy * dy <= 9 for dx in range(-3, 4)] for dy in range(-3, 4)])
    np.testing.assert_array_equal(w.astype(bool), want)


@pytest.mark.parametrize(
    ("given", "stored"),
    [("50km", "50km"), (" 12.5 KM ", "12.5km"), ("5cells", "5cells"), ("1 cell", "1cells")],
)
def test_config_radius(given, stored):
    assert Config(csr_pixel=given).csr_pixel == stored


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"csr_pixel": "50"}, "csr_pixel: '50' is not a radius"),
        ({"csr_pixel": "2.5cells"}, "whole number of cells"),
        ({"csr_pixel": "0km"}, "must be > 0 km"),
        ({"csr_pixel": "5cells", "csr_kernel": "hexagon"}, "csr_kernel"),
        ({"csr_pixel": "5cells", "csr_min_cells": 0}, "csr_min_cells: 0 must be >= 1"),
    ],
)
def test_config_errors(options, words):
    with pytest.raises(ConfigError, match=words):
        Config(**options)


def test_min_cells_above_the_kernel_is_refused(case):
    with pytest.raises(ConfigError, match="more than the 5 cells of the 1cells circle"):
        run(case, csr_pixel="1cells")  # 5 cells < the default csr_min_cells 10


def test_config_default_is_off_and_round_trips():
    cfg = Config()
    assert cfg.csr_pixel is None and cfg.csr_kernel == "circle" and cfg.csr_min_cells == 10
    on = cfg.replace(csr_pixel="40km", csr_kernel="square", csr_min_cells=4)
    assert Config.from_toml(on.to_toml()) == on
    assert Config.from_dict(on.to_dict()) == on
