"""``ee.Image.expression`` (``Image.parseExpression``) against NumPy, with the guide's EVI
example (https://developers.google.com/earth-engine/guides/image_math#expressions)."""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

NAN = np.nan
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
NIR = np.array([[0.5, 0.4, 0.3], [0.6, NAN, 0.2]])
RED = np.array([[0.1, 0.2, 0.3], [0.05, 0.1, 0.4]])
BLUE = np.array([[0.05, 0.1, 0.02], [0.03, 0.04, 0.1]])
CODE = np.array([[1.0, 2.0, 7.0], [4.0, 5.0, 9.0]])
GRID = grid(TRANSFORM, NIR.shape)


@pytest.fixture
def img(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset()
    engine.store.put_image(
        asset, image_of({"B2": BLUE, "B4": RED, "B5": NIR, "code": CODE}, TRANSFORM)
    )
    return ee.Image(asset)


def _px(image: ee.Image) -> dict:
    return compute_pixels(image, GRID)


def test_guide_evi_example(img):
    evi = img.expression(
        "2.5 * ((NIR - RED) / (NIR + 6 * RED - 7.5 * BLUE + 1))",
        {"NIR": img.select("B5"), "RED": img.select("B4"), "BLUE": img.select("B2")},
    )
    got = _px(evi)
    # named as Image.multiply names its output: the first operand's band (a constant here)
    assert list(got) == ["constant"]
    expected = 2.5 * ((NIR - RED) / (NIR + 6 * RED - 7.5 * BLUE + 1))
    assert_pixels_equal(got["constant"], expected, rtol=1e-12)


def test_b_function_assignment_and_math_functions(img):
    out = img.expression("nd = (b('B5') - b(1)) / (b('B5') + b(1))")
    got = _px(out)
    assert list(got) == ["nd"]
    assert_pixels_equal(got["nd"], (NIR - RED) / (NIR + RED), rtol=1e-12)
    out = img.expression("sqrt(abs(b('B4') - 0.2)) + max(b('B5'), 0.45) + pow(2, 3) % 3")
    expected = np.sqrt(np.abs(RED - 0.2)) + np.maximum(NIR, 0.45) + (8 % 3)
    assert_pixels_equal(_px(out)["B4"], expected, rtol=1e-12)


def test_precedence_unary_and_power(img):
    out = img.expression("-b('code') ** 2 + 2 * 3 - 10 / 4")
    # ints: 10 / 4 is integer division (Image.divide of two integers truncates): 2
    expected = -(CODE**2) + 6 - 2
    assert_pixels_equal(_px(out)["code"], expected)
    assert_pixels_equal(
        _px(img.expression("2 ** 3 ** 2 + 0 * b('code')"))["constant"], 512 + 0 * CODE
    )


def test_comparisons_logic_and_ternary(img):
    out = img.expression("(b('code') > 3 && b('code') != 5) || !(b('code') >= 2)")
    code = CODE
    expected = (((code > 3) & (code != 5)) | ~(code >= 2)).astype(float)
    assert_pixels_equal(_px(out)["code"], expected)
    # ^ is the guide's logical xor; it binds tighter than && (JavaScript's order)
    out = img.expression("b('code') > 3 ^ b('code') > 6 && 1")
    assert_pixels_equal(_px(out)["code"], ((code > 3) != (code > 6)).astype(float))
    # the guide: dividing two integers discards the remainder; * 1.0 makes it a float
    ints = {"c": img.select("code").toInt32()}
    assert_pixels_equal(_px(img.expression("c / 2", ints))["code"], np.trunc(CODE / 2))
    assert_pixels_equal(_px(img.expression("c * 1.0 / 2", ints))["code"], CODE / 2)
    classes = img.expression("b('B5') > 0.35 ? 2 : (b('B5') > 0.25 ? 1 : 0)")
    expected = np.where(NIR > 0.35, 2, np.where(NIR > 0.25, 1, 0)).astype(float)
    expected[1, 1] = NAN  # the masked NIR pixel stays masked
    assert_pixels_equal(_px(classes)["constant"], expected)


def test_variable_band_access(img):
    out = img.expression("i.B5 - i[1] + i['B2']", {"i": img})
    assert_pixels_equal(_px(out)["B5"], NIR - RED + BLUE, rtol=1e-12)
    both = img.expression("b('B4', 'B5') * 10")
    got = _px(both)
    assert list(got) == ["B4", "B5"]
    assert_pixels_equal(got["B5"], NIR * 10, rtol=1e-12)


def test_expression_on_constant_images():
    value = ee.Image(3).expression("x * y + 1", {"x": 4, "y": ee.Image(2.5)})
    pt = ee.Geometry.Point(0, 0)
    assert value.reduceRegion(ee.Reducer.first(), pt, 1000).getInfo() == {"constant": 11.0}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("b('B5') +", "unexpected 'end of expression'"),
        ("foo(b(0))", "Unknown function 'foo'"),
        ("nope + 1", "Variable 'nope' is not defined"),
        ("b('B5') $ 2", "parse error at position"),
        ("x = b(0, 1)", "can't assign the name 'x' to 2 bands"),
        ("__import__('os')", "Unknown function '__import__'"),
    ],
)
def test_errors(img, text, match):
    with pytest.raises(ee.EEException, match=match):
        img.expression(text).getInfo()


def test_javascript_math_names(img):
    got = _px(img.expression("sign(b('B4') - 0.2) + hypot(3, 4) + atan2(1, 1) + min(1, 2)"))
    expected = np.sign(RED - 0.2) + 5 + np.pi / 4 + 1
    assert_pixels_equal(got["B4"], expected, rtol=1e-12)


# --- Number.expression ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("x * (y + 2) / 4", {"x": 3.0, "y": 5}, 3.0 * 7 / 4),
        ("-x ** 2 + 10 % 4", {"x": 3}, -9 + 2),
        ("x > 2 && y < 1 ? 10 : 20", {"x": 3, "y": 0}, 10),
        ("x > 2 ^ y > 2", {"x": 3, "y": 5}, 0),
        ("!(x == 3) || x != 3", {"x": 3}, 0),
        ("sqrt(pow(x, 2) + pow(y, 2)) + max(x, y) + sign(-x)", {"x": 3, "y": 4}, 5 + 4 - 1),
    ],
)
def test_number_expression(text, variables, expected):
    assert ee.Number.expression(text, variables).getInfo() == pytest.approx(expected, rel=1e-12)


def test_number_expression_errors():
    with pytest.raises(ee.EEException, match="Variable 'z' is not defined"):
        ee.Number.expression("z + 1", {"x": 1}).getInfo()
    with pytest.raises(ee.EEException, match="numbers have no bands"):
        ee.Number.expression("x.a + 1", {"x": 1}).getInfo()
