"""The Sen's slope / Mann–Kendall trend option against a plain NumPy reading of METHOD.md.

METHOD.md §3 and §5b: Sen's slope is the median of pairwise slopes; the Mann–Kendall test
uses the tie-corrected variance and the continuity correction; the class takes its sign
from Sen's slope and its significance from the MK p-value.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from gee_cscc.config import Config
from gee_cscc.workflow.analyze import analyze

YEARS = list(range(2001, 2011))
H, W = 4, 5


def mann_kendall(y: np.ndarray) -> tuple[float, float]:
    """(z, p) of the Mann–Kendall test with tie and continuity corrections."""
    n = len(y)
    s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in counts)) / 18.0
    if s == 0 or var == 0:
        return 0.0, 1.0
    z = (s - np.sign(s)) / np.sqrt(var)
    return float(z), float(2 * stats.norm.sf(abs(z)))


def sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    slopes = [(y[j] - y[i]) / (x[j] - x[i]) for i in range(len(x)) for j in range(i + 1, len(x))]
    return float(np.median(slopes))


@pytest.fixture(scope="module")
def case(engine):
    rng = np.random.default_rng(3)
    t = np.arange(len(YEARS), dtype=float)
    cube = rng.integers(300, 320, size=(len(YEARS), H, W)).astype(float)  # many ties
    cube += (rng.integers(-3, 4, size=(H, W)) * t[:, None, None]).astype(float)
    cube[:, 0, 0] = 500.0  # constant: S = 0, slope 0
    cube[:, 0, 1] = 400.0 + 7.0 * t  # monotone: strongly significant
    cube[:, 0, 2] = [400, 400, 401, 401, 402, 402, 403, 403, 404, 404]  # ties in pairs
    da = xr.DataArray(
        cube.astype(np.float32),
        dims=("year", "y", "x"),
        coords={"year": YEARS, "y": 30.0 - np.arange(H) - 0.5, "x": 110.0 + np.arange(W) + 0.5},
    )
    asset = "projects/local-project/assets/method-sen/npp"
    engine.store.put_collection(asset, da, band="npp")
    cfg = Config(start=2001, end=2010, reference_year=2004, trend="sen", pcs_years=(2010,))
    return cube.astype(np.float32).astype(float), analyze(asset, cfg)


def test_sen_slope_mk_p_and_classes(case):
    cube, results = case
    x = np.asarray(YEARS, dtype=float)
    ds = results.rasters
    for r in range(H):
        for c in range(W):
            y = cube[:, r, c]
            k = sen_slope(x, y)
            k = 0.0 if abs(k) < 1e-6 else k
            z, p = mann_kendall(y)
            cls = 0 if k == 0 else int(np.sign(k)) * (2 if p < 0.05 else 1)
            assert ds["trend_slope"].values[r, c] == pytest.approx(k, abs=1e-5), (r, c)
            assert ds["trend_stat"].values[r, c] == pytest.approx(z, rel=1e-5, abs=1e-6), (r, c)
            assert ds["trend_p"].values[r, c] == pytest.approx(p, rel=1e-4, abs=1e-7), (r, c)
            assert ds["trend_class"].values[r, c] == cls, (r, c)


def test_tied_series_uses_the_tie_correction(case):
    cube, results = case
    y = cube[:, 0, 2]
    z_tied, _ = mann_kendall(y)
    n = len(y)
    s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    z_untied = (s - 1) / np.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    assert z_tied != pytest.approx(z_untied)  # the case really exercises ties
    assert results.rasters["trend_stat"].values[0, 2] == pytest.approx(z_tied, rel=1e-5)
