"""``ee.Array`` and array images against NumPy: construction, array math, matrices,
``toArray``/``arrayGet``/``arraySlice``/``arrayProject``/``arrayFlatten``/``arrayReduce``/
``arrayLength``, ``matrixMultiply``/``matrixSolve`` and ``Reducer.linearRegression`` over a
collection (the pattern of https://developers.google.com/earth-engine/guides/reducers_regression
and https://developers.google.com/earth-engine/guides/arrays_array_images)."""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

T = (0.5, 0.0, -123.0, 0.0, -0.5, 38.0)
SHAPE = (3, 4)
GRID = grid(T, SHAPE)
RNG = np.random.default_rng(11)
BANDS = {f"b{i}": np.round(RNG.uniform(-2, 5, SHAPE), 3) for i in range(4)}
X = np.stack(list(BANDS.values()), axis=-1)  # (h, w, 4)


@pytest.fixture
def img(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset()
    engine.store.put_image(asset, image_of(BANDS, T))
    return ee.Image(asset)


# --- ee.Array ---------------------------------------------------------------------------------


def test_array_basics_match_numpy():
    m = [[1, 2, 3], [4, 5, 6]]
    a = ee.Array(m)
    assert a.getInfo() == m
    assert a.length().getInfo() == [2, 3]
    assert a.get([1, 2]).getInfo() == 6
    assert a.transpose().getInfo() == np.array(m).T.tolist()
    assert a.toList().getInfo() == m
    assert a.add(1).getInfo() == (np.array(m) + 1).tolist()
    assert a.multiply(ee.Array([[2, 2, 2], [3, 3, 3]])).getInfo() == [[2, 4, 6], [12, 15, 18]]
    assert a.divide(4).getInfo() == (np.array(m) / 4).tolist()
    assert a.divide(0).getInfo() == [[0, 0, 0], [0, 0, 0]]
    assert a.gt(3).getInfo() == [[0, 0, 0], [1, 1, 1]]
    assert ee.Array([1, 2, 3, 4]).slice(0, 1, 3).getInfo() == [2, 3]
    assert ee.Array([[1], [2]]).project([0]).getInfo() == [1, 2]


def test_array_matrices_match_numpy():
    a = np.array([[2.0, 1.0], [1.0, 3.0], [0.5, -1.0]])
    b = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    got = ee.Array(a.tolist()).matrixMultiply(ee.Array(b.tolist())).getInfo()
    np.testing.assert_allclose(got, a @ b, rtol=1e-12)
    sq = np.array([[4.0, 7.0], [2.0, 6.0]])
    np.testing.assert_allclose(
        ee.Array(sq.tolist()).matrixInverse().getInfo(), [[0.6, -0.7], [-0.2, 0.4]]
    )
    y = np.array([[1.0], [2.0], [4.0]])
    want = np.linalg.lstsq(a, y, rcond=None)[0]
    np.testing.assert_allclose(
        ee.Array(a.tolist()).matrixSolve(ee.Array(y.tolist())).getInfo(), want
    )


def test_array_errors_name_the_algorithm():
    with pytest.raises(
        ee.EEException, match=r"^Array.add: Array arguments must have the same shape"
    ):
        ee.Array([[1, 2], [3, 4]]).add(ee.Array([1, 2, 3])).getInfo()
    with pytest.raises(ee.EEException, match=r"^Array.matrixMultiply: Incompatible dimensions"):
        ee.Array([[1, 2]]).matrixMultiply(ee.Array([[1, 2]])).getInfo()
    with pytest.raises(ee.EEException, match=r"^Array.get: Position \[5, 0\] out of bounds"):
        ee.Array([[1, 2]]).get([5, 0]).getInfo()
    with pytest.raises(ee.EEException, match=r"^Array: Array must be rectangular"):
        ee.Array([[1, 2], [3]]).getInfo()


# --- array images -------------------------------------------------------------------------------


def test_to_array_get_slice_length_and_reduce(img):
    arr = img.toArray()
    info = arr.getInfo()["bands"][0]
    assert info["id"] == "array" and info["data_type"]["dimensions"] == 1
    got = compute_pixels(arr.arrayGet([2]), GRID)["array"]
    assert_pixels_equal(got, BANDS["b2"])
    sliced = arr.arraySlice(0, 1, 3)
    assert_pixels_equal(compute_pixels(sliced.arrayLength(0), GRID)["array"], np.full(SHAPE, 2.0))
    total = sliced.arrayReduce(ee.Reducer.sum(), [0]).arrayGet([0])
    assert_pixels_equal(compute_pixels(total, GRID)["array"], BANDS["b1"] + BANDS["b2"], rtol=1e-12)
    biggest = arr.arrayReduce(ee.Reducer.max(), [0]).arrayProject([0]).arrayFlatten([["max"]])
    assert_pixels_equal(compute_pixels(biggest, GRID)["max"], X.max(axis=-1))
    m = arr.toArray(1)  # 4x1 per pixel
    for t in (m.arrayTranspose(), m.matrixTranspose(0, 1)):
        assert_pixels_equal(compute_pixels(t.arrayGet([0, 3]), GRID)["array"], BANDS["b3"])
    last_two = arr.arraySlice(0, -2)
    flat = compute_pixels(last_two.arrayFlatten([["p", "q"]]), GRID)
    assert_pixels_equal(flat["q"], BANDS["b3"])


def test_matrix_multiply_then_project_and_flatten(img):
    coef = RNG.uniform(-1, 1, (2, 4))
    out = (
        ee.Image(ee.Array(coef.tolist()))
        .matrixMultiply(img.toArray().toArray(1))
        .arrayProject([0])
        .arrayFlatten([["u", "v"]])
    )
    got = compute_pixels(out, GRID)
    want = X @ coef.T
    assert_pixels_equal(got["u"], want[..., 0], rtol=1e-12)
    assert_pixels_equal(got["v"], want[..., 1], rtol=1e-12)


def test_array_image_errors(img):
    with pytest.raises(ee.EEException, match=r"^Image.arrayFlatten: Axis 0 has length 4"):
        compute_pixels(img.toArray().arrayFlatten([["a", "b"]]), GRID)
    with pytest.raises(ee.EEException, match=r"^Image.arrayProject: Projected-away dimensions"):
        compute_pixels(img.toArray().toArray(1).arrayProject([1]), GRID)
    with pytest.raises(ee.EEException, match=r"^Image.arrayGet: Band 'b0' is not an array band"):
        compute_pixels(img.arrayGet([0]), GRID)


def _collection(engine, tmp_asset, ys):
    cid = tmp_asset("col")
    engine.store.create(cid, "IMAGE_COLLECTION")
    for k, y in enumerate(ys):
        engine.store.put_image(f"{cid}/i{k}", image_of({"y": y}, T), {"t": float(k)})
    return ee.ImageCollection(cid)


def test_linear_regression_over_a_collection_and_matrix_solve(engine, tmp_asset):
    ys = [RNG.uniform(0, 10, SHAPE) for _ in range(6)]
    col = _collection(engine, tmp_asset, ys).map(
        lambda im: ee.Image(1).addBands(im.metadata("t")).addBands(im).rename(["c", "t", "y"])
    )
    fit = col.reduce(ee.Reducer.linearRegression(numX=2, numY=1))
    assert fit.bandNames().getInfo() == ["coefficients", "residuals"]
    coef = compute_pixels(
        fit.select("coefficients").arrayProject([0]).arrayFlatten([["b0", "b1"]]), GRID
    )
    a = np.column_stack([np.ones(6), np.arange(6.0)])
    y = np.stack(ys).reshape(6, -1)
    beta, *_ = np.linalg.lstsq(a, y, rcond=None)
    assert_pixels_equal(coef["b1"], beta[1].reshape(SHAPE), rtol=1e-9)
    assert_pixels_equal(coef["b0"], beta[0].reshape(SHAPE), rtol=1e-9)
    rms = np.sqrt(((y - a @ beta) ** 2).mean(axis=0)).reshape(SHAPE)
    resid = compute_pixels(fit.select("residuals").arrayFlatten([["r"]]), GRID)["r"]
    assert_pixels_equal(resid, rms, rtol=1e-9)
    # the same fit with arrays: x = columns 0-1, y = column 2 of ImageCollection.toArray
    arr = col.toArray()
    solved = arr.arraySlice(1, 0, 2).matrixSolve(arr.arraySlice(1, 2))
    got = compute_pixels(solved.arrayProject([0]).arrayFlatten([["b0", "b1"]]), GRID)
    assert_pixels_equal(got["b1"], beta[1].reshape(SHAPE), rtol=1e-9)


def test_collection_to_array_leaves_out_masked_images_per_pixel(engine, tmp_asset):
    ys = [RNG.uniform(0, 10, SHAPE) for _ in range(5)]
    for k, (r, c) in enumerate([(0, 0), (0, 0), (1, 2), (2, 3), (0, 0)]):
        ys[k][r, c] = np.nan  # pixel (0, 0) keeps images 2 and 3 only
    for k in range(5):
        ys[k][2, 0] = np.nan  # pixel (2, 0): every image masked
    col = _collection(engine, tmp_asset, ys)
    arr = col.toArray()
    stack = np.stack(ys)  # (t, h, w)
    valid = ~np.isnan(stack)
    n = valid.sum(axis=0).astype(float)
    got = compute_pixels(arr.arrayLength(0), GRID)["array"]
    assert_pixels_equal(got, np.where(n > 0, n, np.nan))
    mean = compute_pixels(arr.arrayReduce(ee.Reducer.mean(), [0]).arrayGet([0, 0]), GRID)["array"]
    want = np.where(n > 0, np.nansum(stack, axis=0) / np.maximum(n, 1), np.nan)
    assert_pixels_equal(mean, want, rtol=1e-12)
    # the two largest values of each pixel: sort, slice the last two, average them
    top2 = arr.arraySort(arr.arraySlice(1, 0, 1)).arraySlice(0, -2)
    got = compute_pixels(top2.arrayReduce(ee.Reducer.mean(), [0]).arrayGet([0, 0]), GRID)
    want = np.full(SHAPE, np.nan)
    for r, c in np.ndindex(*SHAPE):
        v = np.sort(stack[:, r, c][valid[:, r, c]])
        if v.size:
            want[r, c] = v[-2:].mean()
    assert_pixels_equal(got["array"], want, rtol=1e-12)
    # the second valid image of each pixel (masked where there is none)
    second = compute_pixels(arr.arrayGet([1, 0]), GRID)["array"]
    want = np.full(SHAPE, np.nan)
    for r, c in np.ndindex(*SHAPE):
        v = stack[:, r, c][valid[:, r, c]]
        if v.size > 1:
            want[r, c] = v[1]
    assert_pixels_equal(second, want)
    point = ee.Geometry.Point(-123 + 0.25, 38 - 0.25)  # pixel (0, 0)
    sampled = arr.sample(point, scale=55_659.75).first().get("array").getInfo()
    assert sampled == [[ys[2][0, 0]], [ys[3][0, 0]]]
    with pytest.raises(ee.EEException, match="Axis 0 has 5 labels, but some pixels' arrays"):
        compute_pixels(arr.arrayProject([0]).arrayFlatten([list("abcde")]), GRID)


def test_array_sort_by_values_and_by_keys(img):
    arr = img.toArray()
    got = compute_pixels(arr.arraySort().arrayFlatten([["s0", "s1", "s2", "s3"]]), GRID)
    want = np.sort(X, axis=-1)
    for k in range(4):
        assert_pixels_equal(got[f"s{k}"], want[..., k])
    # rows of a 4x2 matrix [value, -value] sorted by the second column (descending values)
    m = ee.Image.cat(arr, arr.multiply(-1)).toArray(1)
    by_key = m.arraySort(m.arraySlice(1, 1, 2)).arraySlice(1, 0, 1).arrayProject([0])
    got = compute_pixels(by_key.arrayFlatten([["a", "b", "c", "d"]]), GRID)
    assert_pixels_equal(got["a"], X.max(axis=-1))
    with pytest.raises(ee.EEException, match="^Image.arraySort: Arrays with more than one"):
        compute_pixels(m.arraySort().arrayLength(0), GRID)


def test_array_image_math_is_element_by_element(img):
    arr = img.toArray()
    out = arr.multiply(2).add(img.select("b0")).subtract(arr.pow(2))
    got = compute_pixels(out.arrayFlatten([["p", "q", "r", "s"]]), GRID)
    want = 2 * X + X[..., :1] - X**2
    for k, name in enumerate("pqrs"):
        assert_pixels_equal(got[name], want[..., k], rtol=1e-12, atol=1e-12)
    masked = arr.updateMask(img.select("b1").gt(0)).arrayGet([3])
    assert_pixels_equal(
        compute_pixels(masked, GRID)["array"], np.where(BANDS["b1"] > 0, BANDS["b3"], np.nan)
    )
    with pytest.raises(ee.EEException, match="Array images of different shapes"):
        compute_pixels(arr.add(arr.arraySlice(0, 0, 2)).arrayGet([0]), GRID)


def test_scalar_consumers_of_array_images_are_refused_clearly(img):
    arr = img.toArray()
    message = r"^Band 'array' holds arrays: this use of array images is not implemented"
    with pytest.raises(ee.EEException, match=message):
        arr.reduceRegion(ee.Reducer.mean(), scale=55_000).getInfo()
    with pytest.raises(ee.EEException, match=message):
        compute_pixels(arr.convolve(ee.Kernel.square(1)), GRID)


def test_matrix_solve_on_arrays_with_masked_images(engine, tmp_asset):
    ys = [RNG.uniform(0, 10, SHAPE) for _ in range(6)]
    ys[1][0, 0] = ys[4][0, 0] = ys[2][1, 3] = np.nan
    col = _collection(engine, tmp_asset, ys).map(
        lambda im: ee.Image(1).addBands(im.metadata("t")).addBands(im).rename(["c", "t", "y"])
    )
    arr = col.toArray()
    fit = arr.arraySlice(1, 0, 2).matrixSolve(arr.arraySlice(1, 2))
    got = compute_pixels(fit.arrayProject([0]).arrayFlatten([["b0", "b1"]]), GRID)
    stack = np.stack(ys)
    want = np.zeros((2, *SHAPE))
    for r, c in np.ndindex(*SHAPE):
        ok = ~np.isnan(stack[:, r, c])
        a = np.column_stack([np.ones(ok.sum()), np.arange(6.0)[ok]])
        want[:, r, c] = np.linalg.lstsq(a, stack[ok, r, c], rcond=None)[0]
    assert_pixels_equal(got["b0"], want[0], rtol=1e-9)
    assert_pixels_equal(got["b1"], want[1], rtol=1e-9)
