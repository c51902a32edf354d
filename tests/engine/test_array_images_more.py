"""``Image.arrayReshape/arrayCat/arrayDotProduct/arrayLengths/arrayDimensions/arrayPad/
arrayArgmax`` against NumPy, on fixed-shape and ragged (masked-image) arrays."""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

T = (0.5, 0.0, -123.0, 0.0, -0.5, 38.0)
SHAPE = (2, 3)
GRID = grid(T, SHAPE)
RNG = np.random.default_rng(5)
YS = [RNG.uniform(0, 10, SHAPE) for _ in range(4)]
YS[0][0, 0] = YS[2][0, 0] = np.nan  # pixel (0, 0) keeps images 1 and 3


def _sample(img: ee.Image, name: str = "array"):
    return img.sample(ee.Geometry.Point([-121, 42]), 500).first().get(name).getInfo()


def test_reshape_cat_dot_dimensions():
    a = ee.Image([0, 1, 2, 3, 4, 5]).toArray()
    r = a.arrayReshape(ee.Image([2, 3]).toArray(), 2)
    want = np.arange(6).reshape(2, 3)
    assert _sample(r) == want.tolist()
    assert _sample(r.arrayCat(r, 1)) == np.concatenate([want, want], axis=1).tolist()
    assert _sample(a.arrayDotProduct(a)) == int(np.dot(np.arange(6), np.arange(6)))
    assert _sample(r.arrayLengths()) == [2, 3]
    assert _sample(r.arrayDimensions()) == 2
    assert _sample(r.arrayArgmax()) == [1, 2]
    assert _sample(a.arrayPad([8], 9)) == [0, 1, 2, 3, 4, 5, 9, 9]
    with pytest.raises(ee.EEException, match=r"cannot reshape arrays of shape \[6\] to \[4, 2\]"):
        _sample(a.arrayReshape(ee.Image([4, 2]).toArray(), 2))


@pytest.fixture
def ragged(engine, tmp_asset) -> ee.Image:
    cid = tmp_asset("col")
    engine.store.create(cid, "IMAGE_COLLECTION")
    for k, y in enumerate(YS):
        engine.store.put_image(f"{cid}/i{k}", image_of({"y": y}, T))
    return ee.ImageCollection(cid).toArray()


def test_lengths_pad_and_argmax_of_ragged_arrays(ragged):
    stack = np.stack(YS)
    valid = ~np.isnan(stack)
    got = compute_pixels(ragged.arrayLengths().arrayFlatten([["n", "k"]]), GRID)
    assert_pixels_equal(got["n"], valid.sum(axis=0).astype(float))
    assert_pixels_equal(got["k"], np.ones(SHAPE))
    # padded to 4 rows with -1: pixel (0, 0) holds its two values, then -1, -1
    padded = ragged.arrayPad([4, 1], -1).arrayProject([0]).arrayFlatten([list("abcd")])
    got = compute_pixels(padded, GRID)
    assert [got[c][0, 0] for c in "abcd"] == [YS[1][0, 0], YS[3][0, 0], -1, -1]
    assert_pixels_equal(got["d"], np.where(valid.sum(axis=0) == 4, stack[3], -1.0))
    # the row of the largest value among each pixel's valid images
    arg = compute_pixels(ragged.arrayArgmax().arrayFlatten([["row", "col"]]), GRID)["row"]
    want = np.zeros(SHAPE)
    for r, c in np.ndindex(*SHAPE):
        v = stack[:, r, c][valid[:, r, c]]
        want[r, c] = np.argmax(v)
    assert_pixels_equal(arg, want)


def test_repeat_mask_accum():
    a = ee.Image([1, 2, 3, 4]).toArray()
    assert _sample(a.arrayRepeat(0, 2)) == [1, 2, 3, 4, 1, 2, 3, 4]
    assert _sample(a.arrayMask(ee.Image([1, 0, 1, 0]).toArray())) == [1, 3]
    assert _sample(a.arrayAccum(0)) == np.cumsum([1, 2, 3, 4]).tolist()
    assert _sample(ee.Image([3, 1, 4, 2]).toArray().arrayAccum(0, ee.Reducer.max())) == [3, 3, 4, 4]


def test_matrix_functions_match_numpy():
    m = np.array([[4.0, 7.0], [2.0, 6.0]])
    img = ee.Image(m.ravel().tolist()).toArray().arrayReshape(ee.Image([2, 2]).toArray(), 2)
    np.testing.assert_allclose(_sample(img.matrixInverse()), np.linalg.inv(m), rtol=1e-12)
    np.testing.assert_allclose(_sample(img.matrixPseudoInverse()), np.linalg.pinv(m), rtol=1e-12)
    assert _sample(img.matrixDeterminant()) == pytest.approx(np.linalg.det(m), rel=1e-12)
    assert _sample(img.matrixTrace()) == pytest.approx(10.0)
    assert _sample(img.matrixFnorm()) == pytest.approx(np.linalg.norm(m), rel=1e-12)
    assert _sample(img.matrixDiagonal()) == [[4.0], [6.0]]
    assert _sample(img.matrixDiagonal().matrixToDiag()) == [[4.0, 0.0], [0.0, 6.0]]
    identity = ee.Image.matrixIdentity(3).sample(ee.Geometry.Point([-121, 42]), 500)
    assert identity.first().get("identity").getInfo() == np.eye(3).tolist()
    singular = ee.Image([1, 2, 2, 4]).toArray().arrayReshape(ee.Image([2, 2]).toArray(), 2)
    assert singular.matrixInverse().sample(ee.Geometry.Point([-121, 42]), 500).size().getInfo() == 0
