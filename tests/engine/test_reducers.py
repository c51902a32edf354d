"""Every reducer against a plain NumPy/SciPy computation, per pixel of a small NPP cube.

The reducers run through the real ``ee`` client: ``ImageCollection.reduce`` over a stored
6-year, 4×5 collection with masked cells, tied maxima and minima, a constant series, a
series with one and with two valid years, negative values and a pixel masked in every
year. Expected values are computed here from the cube with NumPy (and SciPy for the
p-values), pixel by pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ee
import numpy as np
import pytest
import scipy.stats

from gee_cscc.testing import cube_of, grid

YEARS = np.arange(2000, 2006)
H, W = 4, 5
SENTINEL = -99999
GRID = grid((1.0, 0.0, 100.0, 0.0, -1.0, 10.0), (H, W))
FOLDER = "t/test_reducers"  # this module's assets in the session engine


def make_cube() -> np.ndarray:
    """(year, y, x) NPP with NaN = masked and the hard cases at fixed pixels."""
    rng = np.random.default_rng(42)
    cube = rng.integers(-20, 40, size=(len(YEARS), H, W)).astype(float)
    cube[rng.random(cube.shape) < 0.2] = np.nan
    cube[:, 0, 0] = 7.0  # constant series
    cube[:, 0, 1] = np.nan  # never valid
    cube[:, 0, 2] = [np.nan, np.nan, 3, np.nan, np.nan, np.nan]  # one valid year
    cube[:, 0, 3] = [np.nan, 2, np.nan, np.nan, 8, np.nan]  # two valid years
    cube[:, 1, 0] = [5, 9, 3, 9, 1, 9]  # tied maxima: earliest is 2001
    cube[:, 1, 1] = [-4, -8, -1, -8, -3, -6]  # negative, tied minima
    cube[0, 1, 2] = np.nan  # first year masked
    cube[-1, 1, 3] = np.nan  # last year masked
    cube[:, 2, 0] = [0, 0, 1, 0, np.nan, 0]  # zeros (allNonZero / anyNonZero)
    return cube


CUBE = make_cube()


@pytest.fixture(scope="module")
def npp(engine) -> ee.ImageCollection:
    """The cube as a collection ``npp`` in the session engine."""
    asset = engine.asset_id(f"{FOLDER}/npp")
    da = cube_of(CUBE, YEARS, origin=(100.0, 10.0), pixel_size=1.0, crs=None, name=None, units=None)
    engine.store.put_collection(asset, da, band="npp")
    return ee.ImageCollection(asset)


@pytest.fixture(scope="module")
def with_year(npp) -> ee.ImageCollection:
    """Two bands per image: the year as a number band ``t``, then ``npp``."""

    def add_t(im):
        t = ee.Image.constant(ee.Number(im.get("year"))).toFloat().rename("t")
        return t.addBands(im)

    return npp.map(add_t)


def pixels(image: ee.Image) -> dict[str, np.ndarray]:
    """The image's bands on the cube's grid, NaN where masked."""
    arr = ee.data.computePixels(
        {"expression": image.unmask(SENTINEL), "fileFormat": "NUMPY_NDARRAY", "grid": GRID}
    )
    return {n: np.where(arr[n] == SENTINEL, np.nan, arr[n].astype(float)) for n in arr.dtype.names}


def per_pixel(fn: Callable[[np.ndarray], list], n_out: int) -> list[np.ndarray]:
    """Apply ``fn(series)`` (series with NaN = masked) to every pixel; None → NaN."""
    out = [np.full((H, W), np.nan) for _ in range(n_out)]
    for i in range(H):
        for j in range(W):
            for k, v in enumerate(fn(CUBE[:, i, j])):
                out[k][i, j] = np.nan if v is None else v
    return out


def valid(series: np.ndarray) -> np.ndarray:
    return series[~np.isnan(series)]


def _or_none(f: Callable[[np.ndarray], float], minimum: int = 1):
    def g(series: np.ndarray) -> list:
        v = valid(series)
        return [f(v) if v.size >= minimum else None]

    return g


def _mode(v: np.ndarray) -> float:
    vals, counts = np.unique(v, return_counts=True)
    return vals[np.argmax(counts)]  # first of the most frequent = the smallest


def _interval_mean(v: np.ndarray) -> float | None:
    lo, hi = np.percentile(v, [25, 75])
    inside = v[(v >= lo) & (v <= hi)]
    return inside.mean() if inside.size else None  # e.g. two values: none between p25, p75


def _nan_none(x: float) -> float | None:
    return None if np.isnan(x) else x


SINGLE = [
    ("mean", ee.Reducer.mean, ["mean"], _or_none(np.mean)),
    ("sum", ee.Reducer.sum, ["sum"], _or_none(np.sum)),
    ("count", ee.Reducer.count, ["count"], _or_none(len)),
    ("countEvery", ee.Reducer.countEvery, ["count"], lambda s: [len(s)]),
    ("median", ee.Reducer.median, ["median"], _or_none(np.median)),
    ("stdDev", ee.Reducer.stdDev, ["stdDev"], _or_none(np.std)),
    ("variance", ee.Reducer.variance, ["variance"], _or_none(np.var)),
    (
        "sampleStdDev",
        ee.Reducer.sampleStdDev,
        ["stdDev"],
        _or_none(lambda v: np.std(v, ddof=1), 2),
    ),
    (
        "sampleVariance",
        ee.Reducer.sampleVariance,
        ["variance"],
        _or_none(lambda v: np.var(v, ddof=1), 2),
    ),
    ("min", ee.Reducer.min, ["min"], _or_none(np.min)),
    ("max", ee.Reducer.max, ["max"], _or_none(np.max)),
    (
        "minMax",
        ee.Reducer.minMax,
        ["min", "max"],
        lambda s: [*_or_none(np.min)(s), *_or_none(np.max)(s)],
    ),
    ("first", ee.Reducer.first, ["first"], lambda s: [_nan_none(s[0])]),
    ("last", ee.Reducer.last, ["last"], lambda s: [_nan_none(s[-1])]),
    ("firstNonNull", ee.Reducer.firstNonNull, ["first"], _or_none(lambda v: v[0])),
    ("lastNonNull", ee.Reducer.lastNonNull, ["last"], _or_none(lambda v: v[-1])),
    ("product", ee.Reducer.product, ["product"], _or_none(np.prod)),
    ("mode", ee.Reducer.mode, ["mode"], _or_none(_mode)),
    (
        "allNonZero",
        ee.Reducer.allNonZero,
        ["all"],
        _or_none(lambda v: float(np.all(v != 0))),
    ),
    (
        "anyNonZero",
        ee.Reducer.anyNonZero,
        ["any"],
        _or_none(lambda v: float(np.any(v != 0))),
    ),
    (
        "percentile",
        lambda: ee.Reducer.percentile([10, 50, 90]),
        ["p10", "p50", "p90"],
        lambda s: [_or_none(lambda v, q=q: np.percentile(v, q))(s)[0] for q in (10, 50, 90)],
    ),
    (
        "intervalMean",
        lambda: ee.Reducer.intervalMean(25, 75),
        ["mean"],
        _or_none(_interval_mean),
    ),
]


@pytest.mark.parametrize(
    ("factory", "outputs", "expected"),
    [pytest.param(f, o, e, id=name) for name, f, o, e in SINGLE],
)
def test_single_input_reducer_per_pixel(npp, factory, outputs, expected):
    got = pixels(npp.reduce(factory()))
    assert list(got) == [f"npp_{o}" for o in outputs]
    for o, want in zip(outputs, per_pixel(expected, len(outputs)), strict=True):
        np.testing.assert_allclose(got[f"npp_{o}"], want, rtol=1e-12, atol=1e-9, equal_nan=True)


def test_max_with_extra_input_takes_earliest_of_ties(npp):
    def add_year(im):
        return im.addBands(ee.Image.constant(ee.Number(im.get("year"))).toInt16().rename("t"))

    got = pixels(npp.map(add_year).reduce(ee.Reducer.max(2)))
    assert list(got) == ["max", "max1"]

    def expect(series: np.ndarray) -> list:
        ok = ~np.isnan(series)
        if not ok.any():
            return [None, None]
        k = int(np.argmax(np.where(ok, series, -np.inf)))  # first occurrence = earliest
        return [series[k], YEARS[k]]

    want_max, want_year = per_pixel(expect, 2)
    np.testing.assert_array_equal(got["max"], want_max)
    np.testing.assert_array_equal(got["max1"], want_year)
    assert got["max1"][1, 0] == 2001  # maxima 9 in 2001, 2003 and 2005


def test_min_with_extra_input_takes_earliest_of_ties(npp):
    def add_year(im):
        return im.addBands(ee.Image.constant(ee.Number(im.get("year"))).rename("t"))

    got = pixels(npp.map(add_year).reduce(ee.Reducer.min(2)))
    assert list(got) == ["min", "min1"]
    assert got["min"][1, 1] == -8 and got["min1"][1, 1] == 2001


def _xy(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ~np.isnan(series)
    return YEARS[ok].astype(float), series[ok]


def test_linear_fit(with_year):
    got = pixels(with_year.reduce(ee.Reducer.linearFit()))
    assert list(got) == ["scale", "offset"]

    def expect(series: np.ndarray) -> list:
        t, y = _xy(series)
        if t.size < 2:
            return [None, None]
        scale, offset = np.polyfit(t, y, 1)
        return [scale, offset]

    want_scale, want_offset = per_pixel(expect, 2)
    np.testing.assert_allclose(got["scale"], want_scale, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(got["offset"], want_offset, rtol=1e-9, atol=1e-6, equal_nan=True)
    assert abs(got["scale"][0, 0]) < 1e-12  # constant series
    assert math.isclose(got["offset"][0, 0], 7.0)
    assert np.isnan(got["scale"][0, 2])  # one valid year: undefined


def test_pearsons_correlation_and_p_value(with_year):
    got = pixels(with_year.reduce(ee.Reducer.pearsonsCorrelation()))
    assert list(got) == ["correlation", "p-value"]

    def expect(series: np.ndarray) -> list:
        t, y = _xy(series)
        if t.size < 2 or np.ptp(y) == 0:
            return [None, None]
        if t.size == 2:  # r = ±1; a t-test needs n > 2
            return [float(np.sign((y[1] - y[0]) * (t[1] - t[0]))), None]
        res = scipy.stats.pearsonr(t, y)
        return [res.statistic, res.pvalue]

    want_r, want_p = per_pixel(expect, 2)
    np.testing.assert_allclose(got["correlation"], want_r, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["p-value"], want_p, rtol=1e-7, atol=1e-12, equal_nan=True)


def test_spearmans_correlation(with_year):
    got = pixels(with_year.reduce(ee.Reducer.spearmansCorrelation()))
    assert list(got) == ["correlation"]

    def expect(series: np.ndarray) -> list:
        t, y = _xy(series)
        if t.size < 2 or np.ptp(y) == 0:
            return [None]
        return [scipy.stats.spearmanr(t, y).statistic]

    (want,) = per_pixel(expect, 1)
    np.testing.assert_allclose(got["correlation"], want, rtol=1e-9, atol=1e-12, equal_nan=True)


def _kendall(x: np.ndarray, y: np.ndarray) -> list:
    """tau-b and the asymptotic two-sided p-value (SciPy; n = 2 by the same formula)."""
    if x.size < 2 or np.ptp(y) == 0 or np.ptp(x) == 0:
        return [None, None]
    if x.size == 2:  # SciPy's variance formula divides 0 by 0 for n = 2 (no ties possible)
        return [float(np.sign((y[1] - y[0]) * (x[1] - x[0]))), math.erfc(1 / math.sqrt(2))]
    res = scipy.stats.kendalltau(x, y, method="asymptotic")
    return [res.statistic, res.pvalue]


def test_kendalls_correlation_two_inputs(with_year):
    got = pixels(with_year.reduce(ee.Reducer.kendallsCorrelation(2)))
    assert list(got) == ["tau", "p-value"]
    want_tau, want_p = per_pixel(lambda s: _kendall(*_xy(s)), 2)
    np.testing.assert_allclose(got["tau"], want_tau, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["p-value"], want_p, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_kendalls_correlation_one_input_uses_sequence_numbers(npp):
    got = pixels(npp.reduce(ee.Reducer.kendallsCorrelation()))
    assert list(got) == ["npp_tau", "npp_p-value"]

    def expect(series: np.ndarray) -> list:
        y = valid(series)
        return _kendall(np.arange(y.size, dtype=float), y)

    want_tau, want_p = per_pixel(expect, 2)
    np.testing.assert_allclose(got["npp_tau"], want_tau, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["npp_p-value"], want_p, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_sens_slope(with_year):
    got = pixels(with_year.reduce(ee.Reducer.sensSlope()))
    assert list(got) == ["slope", "offset"]

    def expect(series: np.ndarray) -> list:
        t, y = _xy(series)
        slopes = [
            (y[j] - y[i]) / (t[j] - t[i]) for i in range(t.size) for j in range(i + 1, t.size)
        ]
        if not slopes:
            return [None, None]
        slope = float(np.median(slopes))
        return [slope, float(np.median(y - slope * t))]

    want_slope, want_offset = per_pixel(expect, 2)
    np.testing.assert_allclose(got["slope"], want_slope, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["offset"], want_offset, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert got["slope"][0, 0] == 0.0  # constant series


def test_image_reduce_across_bands(npp):
    got = pixels(npp.toBands().reduce(ee.Reducer.mean().combine(ee.Reducer.max(), "", True)))
    assert list(got) == ["mean", "max"]
    want_mean = per_pixel(_or_none(np.mean), 1)[0]
    want_max = per_pixel(_or_none(np.max), 1)[0]
    np.testing.assert_allclose(got["mean"], want_mean, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["max"], want_max, rtol=1e-12, equal_nan=True)


def test_combined_reducer_with_shared_inputs_and_prefix(npp):
    reducer = ee.Reducer.mean().combine(ee.Reducer.count(), outputPrefix="n_", sharedInputs=True)
    got = pixels(npp.reduce(reducer))
    assert list(got) == ["npp_mean", "npp_n_count"]
    np.testing.assert_allclose(got["npp_n_count"], per_pixel(_or_none(len), 1)[0], equal_nan=True)


def test_output_names_of_combinators(engine):
    assert ee.Reducer.max(3).getOutputs().getInfo() == ["max", "max1", "max2"]
    assert ee.Reducer.minMax().getOutputs().getInfo() == ["min", "max"]
    assert ee.Reducer.linearRegression(2, 1).getOutputs().getInfo() == [
        "coefficients",
        "residuals",
    ]
    assert ee.Reducer.mean().combine(ee.Reducer.stdDev(), "s_", True).getOutputs().getInfo() == [
        "mean",
        "s_stdDev",
    ]
    assert ee.Reducer.mean().forEach(["a", "b"]).getOutputs().getInfo() == ["a", "b"]
    assert ee.Reducer.minMax().forEach(["a"]).getOutputs().getInfo() == ["a_min", "a_max"]
    assert ee.Reducer.minMax().setOutputs(["lo", ""]).getOutputs().getInfo() == ["lo"]
    assert ee.Reducer.percentile([5, 50]).getOutputs().getInfo() == ["p5", "p50"]
    assert ee.Reducer.kendallsCorrelation().getOutputs().getInfo() == ["tau", "p-value"]


def test_reduce_columns_uses_the_same_reducers(engine):
    """The records path (Collection.reduceColumns) against NumPy, grouped and weighted."""
    features = [
        {"type": "Feature", "geometry": None, "properties": {"v": v, "zone": z, "w": w}}
        for v, z, w in [(1.5, 1, 1.0), (-2.0, 2, 0.5), (4.0, 1, 2.0), (3.0, 2, 1.0), (8.0, 1, 0.0)]
    ]
    records = engine.asset_id(f"{FOLDER}/records")
    engine.store.put_table(records, {"type": "FeatureCollection", "features": features})
    fc = ee.FeatureCollection(records)
    v = np.array([1.5, -2.0, 4.0, 3.0, 8.0])
    zone = np.array([1, 2, 1, 2, 1])
    w = np.array([1.0, 0.5, 2.0, 1.0, 0.0])
    grouped = fc.reduceColumns(ee.Reducer.sum().group(1, "zone"), ["v", "zone"]).getInfo()
    assert grouped == {
        "groups": [
            {"zone": 1, "sum": pytest.approx(v[zone == 1].sum())},
            {"zone": 2, "sum": pytest.approx(v[zone == 2].sum())},
        ]
    }
    weighted = fc.reduceColumns(ee.Reducer.mean(), ["v"], ["w"]).getInfo()
    assert weighted["mean"] == pytest.approx(np.average(v, weights=w))
    listed = fc.reduceColumns(ee.Reducer.toList(2), ["zone", "v"]).getInfo()
    assert listed["list"] == [[int(z), float(x)] for z, x in zip(zone, v, strict=True)]
