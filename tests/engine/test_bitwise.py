"""``Image`` bit operators, ``normalizedDifference`` and ``metadata`` against NumPy.

Inputs are stored NumPy arrays (NaN = masked); every expected array is computed here with
NumPy's integer operators or worked by hand.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

NAN = np.nan
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
# QA-like integer codes (Landsat QA_PIXEL style bits) and shift counts.
QA = np.array([[21824.0, 22280.0, 0.0], [1.0, NAN, 55052.0]])
NS = np.array([[0.0, 1.0, 3.0], [5.0, 2.0, NAN]])
GRID = grid(TRANSFORM, QA.shape)


@pytest.fixture
def put(engine, tmp_asset):
    def _put(bands: dict[str, np.ndarray], properties=None) -> ee.Image:
        asset = tmp_asset()
        engine.store.put_image(asset, image_of(bands, TRANSFORM), properties)
        return ee.Image(asset)

    return _put


def _int_op(fn, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    valid = ~np.isnan(a) & ~np.isnan(b)
    out = fn(np.nan_to_num(a).astype(np.int64), np.nan_to_num(b).astype(np.int64))
    return np.where(valid, out.astype(float), NAN)


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("bitwiseAnd", np.bitwise_and),
        ("bitwiseOr", np.bitwise_or),
        ("bitwiseXor", np.bitwise_xor),
        ("leftShift", np.left_shift),
        ("rightShift", np.right_shift),
    ],
)
def test_binary_bit_operators_match_numpy(put, method, fn):
    img = put({"qa": QA, "n": NS})
    got = compute_pixels(getattr(img.select("qa"), method)(img.select("n")), GRID)
    assert list(got) == ["qa"]
    assert_pixels_equal(got["qa"], _int_op(fn, QA, NS))


def test_cloud_mask_bits_as_in_the_landsat_guide(put):
    # Bit 3 (cloud) and bit 4 (cloud shadow) of QA_PIXEL, by hand:
    # 21824 = 0b101010101000000 -> bits 3, 4 clear; 22280 = 0b101011100001000 -> bit 3 set;
    # 55052 = 0b1101011100001100 -> bit 3 set; 1 -> clear.
    qa = put({"QA_PIXEL": QA}).select("QA_PIXEL")
    clear = qa.bitwiseAnd(1 << 3).eq(0).And(qa.bitwiseAnd(1 << 4).eq(0))
    got = compute_pixels(clear, GRID)["QA_PIXEL"]
    assert_pixels_equal(got, np.array([[1, 0, 1], [1, NAN, 0]], dtype=float))


def test_constant_operands_and_band_pairing(put):
    img = put({"a": QA, "b": QA})
    got = compute_pixels(img.bitwiseAnd(0xFF), GRID)
    assert list(got) == ["a", "b"]
    expected = _int_op(np.bitwise_and, QA, np.full(QA.shape, 255.0))
    assert_pixels_equal(got["a"], expected)
    assert_pixels_equal(got["b"], expected)


def test_bitwise_not_and_types():
    assert ee.Image(5).bitwiseNot().reduceRegion(
        ee.Reducer.first(), ee.Geometry.Point(0, 0), 1000
    ).getInfo() == {"constant": -6}
    # uint8 -> int16 (the smallest signed type holding 0..255)
    info = ee.Image(5).toUint8().bitwiseNot().getInfo()
    assert info["bands"][0]["data_type"]["min"] == -32768
    info = ee.Image(5).toUint8().bitwiseAnd(ee.Image(3).toUint8()).getInfo()
    assert info["bands"][0]["data_type"]["precision"] == "int"


def test_bitwise_aliases_and_bitcount():
    pt = ee.Geometry.Point(0, 0)

    def first(img):
        return img.reduceRegion(ee.Reducer.first(), pt, 1000).getInfo()["constant"]

    assert first(ee.Image(12).bitwise_and(10)) == 12 & 10
    assert first(ee.Image(12).bitwise_or(3)) == 12 | 3
    assert first(ee.Image(12).bitwise_xor(10)) == 12 ^ 10
    assert first(ee.Image(12).bitwise_not()) == ~12
    assert first(ee.Image(0b1011011).bitCount()) == 5
    assert first(ee.Image(-1).bitCount()) == 64
    # non-integer pixels are truncated toward zero first (a cast to long)
    assert first(ee.Image(7.9).bitwiseAnd(6)) == 6


def test_band_count_mismatch_error():
    img = ee.Image([1, 2, 3])
    with pytest.raises(ee.EEException, match="same number of bands or only 1 band"):
        img.bitwiseAnd(ee.Image([1, 2])).getInfo()


# --- normalizedDifference ------------------------------------------------------------------

NIR = np.array([[0.5, 0.4, 0.0], [0.3, NAN, -0.1]])
RED = np.array([[0.1, 0.4, 0.0], [0.2, 0.1, 0.2]])


def test_normalized_difference_matches_numpy(put):
    img = put({"B4": RED, "B5": NIR, "B6": RED}, {"p": 1})
    nd = img.normalizedDifference(["B5", "B4"])
    got = compute_pixels(nd, GRID)
    assert list(got) == ["nd"]
    with np.errstate(all="ignore"):
        expected = (NIR - RED) / (NIR + RED)
    # masked: NIR masked; 0/0; a negative input (-0.1), as documented
    expected[0, 2] = NAN
    expected[1, 2] = NAN
    assert_pixels_equal(got["nd"], expected, rtol=1e-6)
    info = nd.getInfo()
    assert info["bands"][0]["data_type"]["precision"] == "float"
    assert "properties" not in info  # the input's properties are not kept


def test_normalized_difference_default_bands_are_first_two(put):
    img = put({"x": NIR, "y": RED})
    got = compute_pixels(img.normalizedDifference(), GRID)["nd"]
    assert got[0, 0] == pytest.approx((0.5 - 0.1) / 0.6)


def test_normalized_difference_errors(put):
    img = put({"x": NIR})
    with pytest.raises(ee.EEException, match="at least 2 bands"):
        img.normalizedDifference().getInfo()
    with pytest.raises(ee.EEException, match="did not match any bands"):
        img.normalizedDifference(["x", "nope"]).getInfo()


# --- metadata ------------------------------------------------------------------------------


def test_metadata_is_a_constant_double_band(put):
    img = put({"x": NIR}, {"CLOUD_COVER": 12.5, "label": "a"})
    got = compute_pixels(img.metadata("CLOUD_COVER"), GRID)
    assert list(got) == ["CLOUD_COVER"]
    assert_pixels_equal(got["CLOUD_COVER"], np.full(NIR.shape, 12.5))
    named = img.metadata("CLOUD_COVER", "cc").getInfo()["bands"][0]
    assert named["id"] == "cc"
    assert named["data_type"]["precision"] == "double"
    with pytest.raises(ee.EEException, match="not a number"):
        img.metadata("label").getInfo()
    with pytest.raises(ee.EEException, match="does not have a property named 'nope'"):
        img.metadata("nope").getInfo()
