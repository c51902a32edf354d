"""Property tests of the local engine's basic reducers against NumPy, on random masked data.

Hypothesis draws small masked stacks (ties, constant series, pixels masked in every image
and finite values of both signs) and the tests reduce them through the real ``ee`` client:

* per pixel, ``ee.ImageCollection(images).reduce(reducer)`` over ``T`` images (1 to 8);
* over a region, ``image.reduceRegion(reducer, geometry, crs=…, crsTransform=…)`` with a
  rectangle that covers the whole grid (so every pixel centre is inside and every pixel is
  fully covered: the weighted and the unweighted reducers see the same pixels, weight 1).

Expected values are NumPy over the unmasked values only, computed here.

Semantics asserted (Earth Engine's documented behaviour, as the other engine tests use it):

* a masked input is skipped; ``linearFit`` (inputs x, y) skips a record when either is masked;
* ``Reducer.variance`` is the population variance (divides by n; the API docs: "computes
  the variance of its inputs") and ``Reducer.sampleVariance`` the sample variance (n − 1;
  "computes the sample variance"), both named ``variance``;
* per pixel of a collection, a pixel with no valid input is masked in every output (also
  ``count``), ``sampleVariance`` needs 2 values and ``linearFit`` two distinct x values;
* over a region with no valid pixel, ``count`` and ``sum`` are 0 and the others null.
"""

from __future__ import annotations

import itertools
import math

import ee
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gee_cscc.testing import compute_pixels, engine_fixture, grid

H, W = 3, 4
X0, Y0 = 10.0, 5.0  # north-west corner; 1-degree pixels, north up
TRANSFORM = [1.0, 0.0, X0, 0.0, -1.0, Y0]
CRS = "EPSG:4326"
GRID = grid(TRANSFORM, (H, W), CRS)
RTOL = 1e-9
ATOL = 1e-9  # relative to the data's magnitude (see _tol)

engine = engine_fixture(scope="module", name="engine")

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_ids = itertools.count(1)


# --- data ---------------------------------------------------------------------------------

# A few values that recur (ties, zero), and finite floats of moderate size.
TIE_VALUES = [0.0, 1.0, -2.5, 7.0, 7.0, 1000.0]
VALUES = st.one_of(
    st.sampled_from(TIE_VALUES),
    st.floats(-1000.0, 1000.0, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    st.integers(-20, 20).map(float),
)
# x values of linearFit on a 0.25 grid: two x values are equal or at least 0.25 apart, so
# the fit is either undefined (one distinct x) or well conditioned.
X_VALUES = st.integers(-40, 40).map(lambda k: k * 0.25)


@st.composite
def masked_stacks(draw, elements=VALUES, max_t: int = 8, min_t: int = 1) -> np.ndarray:
    """A ``(T, H, W)`` float64 stack, NaN = masked.

    Some pixels are constant through time, some are masked in every image; masks are drawn
    per value with a random density (from nearly none to nearly all masked).
    """
    t = draw(st.integers(min_t, max_t))
    values = draw(hnp.arrays(np.float64, (t, H, W), elements=elements))
    constant = draw(hnp.arrays(np.bool_, (H, W)))
    values = np.where(constant[None], values[:1], values)
    density = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))
    u = draw(hnp.arrays(np.float64, (t, H, W), elements=st.floats(0.0, 1.0, exclude_max=True)))
    masked = u < density
    masked |= draw(hnp.arrays(np.bool_, (H, W)))[None] & draw(st.booleans())
    return np.where(masked, np.nan, values)


def dataarray(data: np.ndarray, bands: list[str]) -> xr.DataArray:
    """A ``(band, y, x)`` DataArray on the test grid (pixel-centre coordinates)."""
    coords = {"band": bands, "y": Y0 - 0.5 - np.arange(H), "x": X0 + 0.5 + np.arange(W)}
    return xr.DataArray(
        data.reshape(len(bands), H, W),
        dims=("band", "y", "x"),
        coords=coords,
        attrs={"crs": CRS, "transform": tuple(TRANSFORM)},
    )


def put_images(engine, stacks: dict[str, np.ndarray]) -> list[ee.Image]:
    """Store one image per time step, bands = ``stacks`` keys; fresh ids for every call."""
    folder = f"props/e{next(_ids)}"
    bands = list(stacks)
    t = next(iter(stacks.values())).shape[0]
    images = []
    for i in range(t):
        data = np.stack([stacks[b][i] for b in bands])
        name = engine.store.put_image(engine.asset_id(f"{folder}/img{i}"), dataarray(data, bands))
        images.append(ee.Image(name))
    return images


# --- expectations (NumPy) -------------------------------------------------------------------


def _tol(values: np.ndarray, power: int = 1) -> float:
    """An absolute floor: ATOL times the data's scale (to ``power``) and the count."""
    scale = max(1.0, float(np.max(np.abs(values)))) if values.size else 1.0
    return ATOL * scale**power * max(1, values.size)


def stats(v: np.ndarray) -> dict[str, float | None]:
    """The single-input statistics of the valid values ``v`` (None = undefined)."""
    n = v.size
    return {
        "count": float(n) if n else None,
        "sum": float(np.sum(v)) if n else None,
        "mean": float(np.mean(v)) if n else None,
        "min": float(np.min(v)) if n else None,
        "max": float(np.max(v)) if n else None,
        "variance": float(np.var(v, ddof=0)) if n else None,
        "sample_variance": float(np.var(v, ddof=1)) if n >= 2 else None,
    }


def fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least squares ``y ≈ scale·x + offset``; None when x has fewer than 2 distinct values."""
    if np.unique(x).size < 2:
        return None
    a = np.stack([x, np.ones_like(x)], axis=1)
    (scale, offset), *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(scale), float(offset)


def close(got: float | None, want: float | None, atol: float) -> bool:
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and math.isclose(got, want, rel_tol=RTOL, abs_tol=atol)


# Output name, reducer, tolerance power (None = exact).
SINGLE = [
    ("count", ee.Reducer.count, None),
    ("sum", ee.Reducer.sum, 1),
    ("mean", ee.Reducer.mean, 1),
    ("min", ee.Reducer.min, None),
    ("max", ee.Reducer.max, None),
    ("variance", ee.Reducer.variance, 2),
    ("sample_variance", ee.Reducer.sampleVariance, 2),
]


def single_reducer(*, unweighted: bool = False) -> ee.Reducer:
    """All single-input reducers side by side; outputs named as in :data:`SINGLE`."""
    reducer = None
    for name, factory, _ in SINGLE:
        r = factory().setOutputs([name])
        if unweighted:
            r = r.unweighted()
        reducer = r if reducer is None else reducer.combine(r, "", True)
    return reducer


def check_pixels(got: dict[str, np.ma.MaskedArray], stack: np.ndarray, band: str) -> None:
    """Every single-input output of ``got`` against NumPy, pixel by pixel."""
    problems = []
    for r in range(H):
        for c in range(W):
            series = stack[:, r, c]
            v = series[~np.isnan(series)]
            want = stats(v)
            for name, _, power in SINGLE:
                px = got[f"{band}_{name}"][r, c]
                value = None if px is np.ma.masked else float(px)
                atol = 0.0 if power is None else _tol(v, power)
                ok = value == want[name] if power is None else close(value, want[name], atol)
                if not ok:
                    problems.append(f"{name} at {(r, c)}: {value} != {want[name]} for {v}")
    assert not problems, "\n".join(problems)


# --- per pixel over a collection -------------------------------------------------------------


def test_single_reducer_output_names(engine):
    assert single_reducer().getOutputs().getInfo() == [name for name, _, _ in SINGLE]


@SETTINGS
@given(stack=masked_stacks())
def test_collection_reduce_per_pixel(engine, stack):
    col = ee.ImageCollection(put_images(engine, {"v": stack}))
    got = compute_pixels(col.reduce(single_reducer()), GRID)
    assert list(got) == [f"v_{name}" for name, _, _ in SINGLE]
    check_pixels(got, stack, "v")


@pytest.mark.parametrize(("name", "factory", "power"), SINGLE, ids=[s[0] for s in SINGLE])
@settings(SETTINGS, max_examples=10)
@given(stack=masked_stacks(max_t=5))
def test_collection_reduce_one_reducer(engine, name, factory, power, stack):
    """Each reducer alone (not combined) gives the band-prefixed output NumPy gives."""
    col = ee.ImageCollection(put_images(engine, {"v": stack}))
    img = col.reduce(factory())
    out = "variance" if name == "sample_variance" else name
    got = compute_pixels(img, GRID)
    assert list(got) == [f"v_{out}"]
    for r in range(H):
        for c in range(W):
            series = stack[:, r, c]
            v = series[~np.isnan(series)]
            want = stats(v)[name]
            px = got[f"v_{out}"][r, c]
            value = None if px is np.ma.masked else float(px)
            if power is None:
                assert value == want, (r, c, v)
            else:
                assert close(value, want, _tol(v, power)), (r, c, value, want, v)


@SETTINGS
@given(
    xs=masked_stacks(elements=X_VALUES),
    ys=st.data(),
)
def test_collection_linear_fit_per_pixel(engine, xs, ys):
    y = ys.draw(masked_stacks(min_t=xs.shape[0], max_t=xs.shape[0]), label="y")
    col = ee.ImageCollection(put_images(engine, {"x": xs, "y": y}))
    got = compute_pixels(col.reduce(ee.Reducer.linearFit()), GRID)
    assert list(got) == ["scale", "offset"]
    problems = []
    for r in range(H):
        for c in range(W):
            ok = ~np.isnan(xs[:, r, c]) & ~np.isnan(y[:, r, c])
            x_ok, y_ok = xs[ok, r, c], y[ok, r, c]
            want = fit(x_ok, y_ok)
            px_scale, px_offset = got["scale"][r, c], got["offset"][r, c]
            if want is None:
                if px_scale is not np.ma.masked or px_offset is not np.ma.masked:
                    problems.append(f"{(r, c)}: a fit {px_scale}, {px_offset} for x={x_ok}")
                continue
            scale, offset = want
            tol = _tol(y_ok)
            if not close(None if px_scale is np.ma.masked else float(px_scale), scale, tol):
                problems.append(f"scale at {(r, c)}: {px_scale} != {scale} (x={x_ok}, y={y_ok})")
            if not close(None if px_offset is np.ma.masked else float(px_offset), offset, tol * 20):
                problems.append(f"offset at {(r, c)}: {px_offset} != {offset}")
    assert not problems, "\n".join(problems)


# --- over a region ---------------------------------------------------------------------------


def region() -> ee.Geometry:
    """A planar rectangle half a pixel larger than the grid on every side.

    Every pixel of the grid is inside (centre and whole area); the ring of pixels around the
    grid that has its centres inside lies outside the image's footprint, so it is masked.
    """
    return ee.Geometry.Rectangle(
        [X0 - 0.5, Y0 - H - 0.5, X0 + W + 0.5, Y0 + 0.5], proj=CRS, geodesic=False
    )


@SETTINGS
@given(stack=masked_stacks(max_t=1), unweighted=st.booleans())
def test_reduce_region(engine, stack, unweighted):
    """Weighted (covered fraction 1 everywhere) and unweighted (pixel centres) alike."""
    (image,) = put_images(engine, {"v": stack})
    reducer = single_reducer(unweighted=unweighted)
    got = image.reduceRegion(reducer, region(), crs=CRS, crsTransform=TRANSFORM).getInfo()
    assert sorted(got) == sorted(f"v_{name}" for name, _, _ in SINGLE)
    v = stack[0][~np.isnan(stack[0])]
    want = stats(v)
    if v.size == 0:  # no valid pixel: counts and sums are 0, the rest null
        want["count"] = want["sum"] = 0.0
    assert got["v_count"] == want["count"] and isinstance(got["v_count"], int)
    for name, _, power in SINGLE:
        value = got[f"v_{name}"]
        if power is None:
            assert value == want[name], (name, value, want[name], v)
        else:
            assert close(value, want[name], _tol(v, power)), (name, value, want[name], v)


@SETTINGS
@given(
    xs=masked_stacks(elements=X_VALUES, max_t=1),
    ys=masked_stacks(max_t=1),
    unweighted=st.booleans(),
)
def test_reduce_region_linear_fit(engine, xs, ys, unweighted):
    (image,) = put_images(engine, {"x": xs, "y": ys})
    reducer = ee.Reducer.linearFit()
    if unweighted:
        reducer = reducer.unweighted()
    got = image.reduceRegion(reducer, region(), crs=CRS, crsTransform=TRANSFORM).getInfo()
    assert sorted(got) == ["offset", "scale"]
    ok = ~np.isnan(xs[0]) & ~np.isnan(ys[0])
    x, y = xs[0][ok], ys[0][ok]
    want = fit(x, y)
    if want is None:
        assert close(got["scale"], None, 0.0) and close(got["offset"], None, 0.0), (got, x, y)
        return
    tol = _tol(y)
    assert close(got["scale"], want[0], tol), (got, want, x, y)
    assert close(got["offset"], want[1], tol * 20), (got, want, x, y)
