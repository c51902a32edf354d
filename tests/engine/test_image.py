"""``Image.*`` algorithms of the local engine, driven through the real ``ee`` client.

Every expected array is computed here with NumPy (or worked by hand) from the input arrays;
pixels come back through ``ee.data.computePixels`` on an explicit grid, masks through
``Image.mask()`` (see :func:`gee_cscc.testing.compute_pixels`).
"""

from __future__ import annotations

import math

import ee
import numpy as np
import pytest

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of, lonlat_cell_area

NAN = np.nan

# Two 4x5 bands on a 1-degree grid whose north-west corner is (10°E, 50°N). NaN = masked.
A = np.array(
    [
        [1.5, -2.0, 0.0, 4.0, NAN],
        [3.0, NAN, 7.5, -1.0, 2.0],
        [0.0, 5.0, -3.5, 6.0, 8.0],
        [NAN, 2.5, 1.0, -4.0, 9.0],
    ]
)
B = np.array(
    [
        [2.0, 0.0, 0.0, -2.0, 1.0],
        [NAN, 3.0, 2.5, 0.5, 0.0],
        [4.0, -1.0, 1.0, NAN, 2.0],
        [1.0, 5.0, 0.0, 3.0, -3.0],
    ]
)
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
GRID = grid(TRANSFORM, A.shape)
PROPS = {"p": 7, "name": "base"}


@pytest.fixture
def put(engine, tmp_asset):
    """``put(bands, properties=None) -> ee.Image`` of a stored image made of NumPy arrays."""

    def _put(
        bands: dict[str, np.ndarray], properties=None, transform=TRANSFORM, crs="EPSG:4326"
    ) -> ee.Image:
        asset = tmp_asset()
        engine.store.put_image(asset, image_of(bands, transform, crs=crs), properties)
        return ee.Image(asset)

    return _put


@pytest.fixture
def ab(put) -> ee.Image:
    """The two-band image (a, b) with properties PROPS."""
    return put({"a": A, "b": B}, PROPS)


def px(image: ee.Image, grid_spec: dict = GRID) -> dict[str, np.ma.MaskedArray]:
    return compute_pixels(image, grid_spec)


def raw(image: ee.Image, grid_spec: dict = GRID) -> np.ndarray:
    """The structured array computePixels returns (masked pixels as 0)."""
    return ee.data.computePixels(
        {"expression": image, "fileFormat": "NUMPY_NDARRAY", "grid": grid_spec}
    )


def nan_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` with NaN where ``mask`` is False (the expected-array convention)."""
    return np.where(mask, values, NAN)


def valid(*arrays: np.ndarray) -> np.ndarray:
    out = np.ones(arrays[0].shape, dtype=bool)
    for arr in arrays:
        out &= ~np.isnan(arr)
    return out


# --- reading ---------------------------------------------------------------------------------


def test_load_round_trip_values_masks_and_info(ab):
    got = px(ab)
    assert list(got) == ["a", "b"]
    assert_pixels_equal(got["a"], A)
    assert_pixels_equal(got["b"], B)
    info = ab.getInfo()
    assert [b["id"] for b in info["bands"]] == ["a", "b"]
    assert info["bands"][0]["crs"] == "EPSG:4326"
    assert info["bands"][0]["crs_transform"] == list(TRANSFORM)
    assert info["bands"][0]["dimensions"] == [5, 4]
    assert info["properties"]["p"] == 7


def test_masked_pixels_arrive_as_zero_in_computepixels(ab):
    arr = raw(ab)
    assert arr.dtype.names == ("a", "b")
    assert arr.shape == A.shape
    np.testing.assert_array_equal(arr["a"], np.nan_to_num(A, nan=0.0))


def test_band_ids_and_grid_of_another_window(ab):
    # A 2x2 window starting at row 1, col 2 of the native grid.
    window = grid((1, 0, 12.0, 0, -1, 49.0), (2, 2))
    arr = ee.data.computePixels(
        {"expression": ab, "fileFormat": "NUMPY_NDARRAY", "grid": window, "bandIds": ["b"]}
    )
    assert arr.dtype.names == ("b",)
    np.testing.assert_array_equal(arr["b"], np.nan_to_num(B[1:3, 2:4]))


# --- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("add", np.add),
        ("subtract", np.subtract),
        ("multiply", np.multiply),
        ("max", np.maximum),
        ("min", np.minimum),
    ],
)
def test_binary_arithmetic_masks_and_names(ab, method, fn):
    a, b = ab.select("a"), ab.select("b")
    out = getattr(a, method)(b)
    got = px(out)
    assert list(got) == ["a"]  # equal band counts: image1's names
    assert_pixels_equal(got["a"], nan_where(valid(A, B), fn(A, B)))


def test_divide_by_zero_gives_zero(ab):
    got = px(ab.select("a").divide(ab.select("b")))["a"]
    with np.errstate(all="ignore"):
        expected = np.where(B == 0, 0.0, A / B)
    assert_pixels_equal(got, nan_where(valid(A, B), expected))


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (6, 3, 2), (5, 0, 0), (1, 3, 0)],
)
def test_integer_division_truncates_toward_zero(num, den, expected):
    out = ee.Image(num).divide(ee.Image(den))
    arr = raw(out, grid(TRANSFORM, (1, 1)))
    assert arr["constant"][0, 0] == expected
    assert out.getInfo()["bands"][0]["data_type"]["precision"] == "int"


def test_float_division_does_not_truncate():
    # JSON cannot tell 2.0 from 2 (both are integer constants on Earth Engine): cast instead.
    arr = raw(ee.Image(7).divide(ee.Image(2).toFloat()), grid(TRANSFORM, (1, 1)))
    assert arr["constant"][0, 0] == 3.5
    arr = raw(ee.Image(7.5).divide(2), grid(TRANSFORM, (1, 1)))
    assert arr["constant"][0, 0] == 3.75


def test_one_band_image_is_used_against_every_band(ab):
    got = px(ab.multiply(ee.Image(2)).add(ab.select("b")))
    assert list(got) == ["a", "b"]  # the longer input's names
    assert_pixels_equal(got["a"], A * 2 + B)
    assert_pixels_equal(got["b"], B * 2 + B)
    got = px(ee.Image(10).subtract(ab))
    assert list(got) == ["a", "b"]
    assert_pixels_equal(got["a"], 10 - A)


def test_mod_keeps_the_sign_of_the_dividend(ab):
    got = px(ab.select("a").mod(ab.select("b")))["a"]
    with np.errstate(all="ignore"):
        expected = np.where(B == 0, 0.0, np.fmod(A, np.where(B == 0, 1.0, B)))
    assert_pixels_equal(got, nan_where(valid(A, B), expected))


def test_mismatched_band_counts_is_an_error(ab):
    three = ee.Image([1, 2, 3])
    with pytest.raises(ee.EEException, match="same number of bands"):
        ab.add(three).getInfo()


def test_pow_is_float_and_masks_invalid_results(ab):
    a = ab.select("a")
    got = px(a.pow(2))["a"]
    assert_pixels_equal(got, A**2)
    got = px(a.pow(0.5))["a"]
    with np.errstate(invalid="ignore"):
        expected = np.power(A, 0.5)  # NaN (masked) for negative bases
    assert_pixels_equal(got, expected)
    assert ee.Image(2).pow(3).getInfo()["bands"][0]["data_type"]["precision"] in (
        "float",
        "double",
    )


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("log", np.log),
        ("log10", np.log10),
        ("exp", np.exp),
        ("abs", np.abs),
        ("sqrt", np.sqrt),
        ("floor", np.floor),
        ("ceil", np.ceil),
    ],
)
def test_unary_math(ab, method, fn):
    got = px(getattr(ab.select("a"), method)())["a"]
    with np.errstate(all="ignore"):
        expected = fn(A)
    expected[~np.isfinite(expected)] = NAN  # log of 0 or negatives is masked
    assert_pixels_equal(got, expected, rtol=1e-12)


def test_log_of_zero_and_negatives_is_masked(ab):
    got = px(ab.select("a").log())["a"]
    assert got.mask[A <= 0].all()
    assert not got.mask[A > 0].any()


# --- comparisons and logic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("lt", np.less),
        ("lte", np.less_equal),
        ("gt", np.greater),
        ("gte", np.greater_equal),
        ("eq", np.equal),
        ("neq", np.not_equal),
        ("And", lambda x, y: (x != 0) & (y != 0)),
        ("Or", lambda x, y: (x != 0) | (y != 0)),
    ],
)
def test_comparisons_and_logic_give_0_or_1(ab, method, fn):
    out = getattr(ab.select("a"), method)(ab.select("b"))
    got = px(out)["a"]
    with np.errstate(invalid="ignore"):
        expected = fn(A, B).astype(float)
    assert_pixels_equal(got, nan_where(valid(A, B), expected))
    assert set(np.unique(got.compressed())) <= {0.0, 1.0}


def test_not(ab):
    got = px(ab.select("a").Not())["a"]
    assert_pixels_equal(got, nan_where(valid(A), (A == 0).astype(float)))


# --- where, masks ---------------------------------------------------------------------------


def test_where_replaces_where_test_is_nonzero_and_keeps_input_where_masked(ab):
    a, b = ab.select("a"), ab.select("b")
    value = ee.Image(100)
    got = px(a.where(b, value))["a"]
    # b nonzero -> 100; b zero or masked -> a; a masked -> masked.
    take = ~np.isnan(B) & (np.nan_to_num(B) != 0)
    expected = np.where(take, 100.0, A)
    assert_pixels_equal(got, nan_where(valid(A), expected))


def test_where_with_masked_value_keeps_input(ab):
    a, b = ab.select("a"), ab.select("b")
    got = px(a.where(ee.Image(1), b))["a"]
    # test is 1 everywhere: b where b is valid, else a; masked where a is masked.
    expected = np.where(np.isnan(B), A, B)
    assert_pixels_equal(got, nan_where(valid(A), expected))


def test_update_mask_ands_with_existing_mask(ab):
    a, b = ab.select("a"), ab.select("b")
    got = px(a.updateMask(b))["a"]
    keep = valid(A, B) & (np.nan_to_num(B) != 0)
    assert_pixels_equal(got, nan_where(keep, A))


def test_mask_get_returns_zero_one_mask(ab):
    got = raw(ab.mask())
    np.testing.assert_array_equal(got["a"], valid(A).astype(float))
    np.testing.assert_array_equal(got["b"], valid(B).astype(float))
    assert ab.mask().bandNames().getInfo() == ["a", "b"]


def test_mask_set_replaces_the_mask_and_fills_zero(ab):
    a = ab.select("a")
    new_mask = ee.Image(1)
    got = px(a.mask(new_mask))["a"]
    # Previously masked pixels become valid with value 0.
    assert_pixels_equal(got, np.nan_to_num(A, nan=0.0))
    got = px(a.mask(ab.select("b")))["a"]
    keep = valid(B) & (np.nan_to_num(B) != 0)
    assert_pixels_equal(got, nan_where(keep, np.nan_to_num(A, nan=0.0)))


def test_empty_image_is_masked_everywhere():
    # ee.Image() is Image.mask(Image.constant(0), Image.constant(0)).
    got = px(ee.Image(), grid(TRANSFORM, (2, 3)))
    assert list(got) == ["constant"]
    assert got["constant"].mask.all()


def test_unmask_default_value_is_zero(ab):
    got = px(ab.unmask())
    assert_pixels_equal(got["a"], np.nan_to_num(A, nan=0.0))
    assert_pixels_equal(got["b"], np.nan_to_num(B, nan=0.0))


def test_unmask_with_value_and_image(ab):
    got = px(ab.unmask(-9999))
    assert_pixels_equal(got["a"], np.nan_to_num(A, nan=-9999.0))
    got = px(ab.select("a").unmask(ab.select("b")))["a"]
    expected = np.where(np.isnan(A), B, A)  # masked where both are masked
    assert_pixels_equal(got, expected)


def test_unmask_same_footprint(ab):
    # A 4x7 grid: two columns east of the image's footprint.
    wide = grid(TRANSFORM, (4, 7))
    a = ab.select("a")
    inside = np.nan_to_num(A, nan=-1.0)
    kept = px(a.unmask(-1), wide)["a"]  # sameFootprint defaults to True
    assert_pixels_equal(kept, np.hstack([inside, np.full((4, 2), NAN)]))
    extended = px(a.unmask(-1, False), wide)["a"]
    assert_pixels_equal(extended, np.hstack([inside, np.full((4, 2), -1.0)]))


def test_self_mask(ab):
    got = px(ab.selfMask())
    assert_pixels_equal(got["a"], nan_where(valid(A) & (np.nan_to_num(A) != 0), A))
    assert_pixels_equal(got["b"], nan_where(valid(B) & (np.nan_to_num(B) != 0), B))


# --- casts ---------------------------------------------------------------------------------

CAST_INPUT = np.array([[-300.7, -128.5, -1.5, -0.4, 0.0], [0.6, 2.7, 127.9, 255.5, 70000.2]])


@pytest.mark.parametrize(
    ("method", "dtype"),
    [
        ("toUint8", np.uint8),
        ("toInt8", np.int8),
        ("toUint16", np.uint16),
        ("toInt16", np.int16),
        ("toInt32", np.int32),
        ("toInt", np.int32),
        ("toByte", np.uint8),
        ("toShort", np.int16),
    ],
)
def test_integer_casts_truncate_and_saturate(put, method, dtype):
    img = put({"v": CAST_INPUT})
    cast = getattr(img, method)()
    arr = raw(cast, grid(TRANSFORM, CAST_INPUT.shape))
    info = np.iinfo(dtype)
    expected = np.clip(np.trunc(CAST_INPUT), info.min, info.max)
    np.testing.assert_array_equal(arr["v"].astype(float), expected)
    assert arr["v"].dtype == np.dtype(dtype)
    assert cast.getInfo()["bands"][0]["data_type"]["precision"] == "int"


def test_float_casts(put):
    img = put({"v": np.array([[0.1, 1e39, -2.5]])}, transform=TRANSFORM)
    g = grid(TRANSFORM, (1, 3))
    f32 = raw(img.toFloat(), g)["v"]
    assert f32.dtype == np.float32
    assert f32[0, 0] == np.float32(0.1)
    assert np.isinf(f32[0, 1])  # beyond float32's range
    f64 = raw(img.toInt().toDouble(), g)["v"]
    assert f64.dtype == np.float64
    np.testing.assert_array_equal(f64[0], [0.0, 2147483647.0, -2.0])


# --- bands ---------------------------------------------------------------------------------


@pytest.fixture
def three(put) -> ee.Image:
    return put({"red": A, "nir": B, "ndvi_x": -A}, PROPS)


@pytest.mark.parametrize(
    ("selectors", "names"),
    [
        (["nir"], ["nir"]),
        (["nir", "red"], ["nir", "red"]),
        ([2, 0], ["ndvi_x", "red"]),
        (["n.*"], ["nir", "ndvi_x"]),
        ([".*"], ["red", "nir", "ndvi_x"]),
        ("red", ["red"]),
    ],
)
def test_select(three, selectors, names):
    out = three.select(selectors)
    assert out.bandNames().getInfo() == names
    got = px(out)
    lookup = {"red": A, "nir": B, "ndvi_x": -A}
    for n in names:
        assert_pixels_equal(got[n], lookup[n])


def test_select_with_new_names_and_errors(three):
    out = three.select(["nir", "red"], ["x", "y"])
    assert out.bandNames().getInfo() == ["x", "y"]
    assert_pixels_equal(px(out)["x"], B)
    with pytest.raises(ee.EEException, match="did not match any bands"):
        three.select("blue").getInfo()
    with pytest.raises(ee.EEException, match="out of range"):
        three.select([5]).getInfo()
    with pytest.raises(ee.EEException, match="number of new names"):
        three.select(["nir", "red"], ["x"]).getInfo()


def test_rename(three):
    out = three.rename(["x", "y", "z"])
    assert out.bandNames().getInfo() == ["x", "y", "z"]
    assert_pixels_equal(px(out)["z"], -A)
    assert three.select("nir").rename("only").bandNames().getInfo() == ["only"]
    with pytest.raises(ee.EEException, match="rename"):
        three.rename(["x"]).getInfo()


def test_add_bands_duplicate_names_get_suffixes(ab):
    out = ab.addBands(ab.select("a")).addBands(ab.select("a"))
    assert out.bandNames().getInfo() == ["a", "b", "a_1", "a_2"]
    got = raw(out)
    np.testing.assert_array_equal(got["a_2"], np.nan_to_num(A))
    const = ee.Image(1).addBands(ee.Image(2)).addBands(ee.Image(3))
    assert const.bandNames().getInfo() == ["constant", "constant_1", "constant_2"]


def test_add_bands_overwrite_and_names(ab):
    replaced = ab.addBands(ab.select(["b"], ["a"]), None, True)
    assert replaced.bandNames().getInfo() == ["a", "b"]
    assert_pixels_equal(px(replaced)["a"], B)
    picked = ee.Image(5).addBands(ab, ["b"])
    assert picked.bandNames().getInfo() == ["constant", "b"]
    # addBands keeps the first image's properties.
    assert ab.addBands(ee.Image(1)).getInfo()["properties"]["p"] == 7


def test_constant_images():
    g = grid(TRANSFORM, (2, 3))
    one = raw(ee.Image.constant(2.5), g)
    assert one.dtype.names == ("constant",)
    np.testing.assert_array_equal(one["constant"], np.full((2, 3), 2.5))
    multi = ee.Image.constant([1, 2, 3])
    assert multi.bandNames().getInfo() == ["constant_0", "constant_1", "constant_2"]
    arr = raw(multi, g)
    for i, v in enumerate([1, 2, 3]):
        np.testing.assert_array_equal(arr[f"constant_{i}"], np.full((2, 3), v))
    listed = ee.Image([4, 5])  # the client combines constants with addBands
    assert listed.bandNames().getInfo() == ["constant", "constant_1"]


# --- properties -----------------------------------------------------------------------------


def test_arithmetic_drops_properties(ab):
    for out in (ab.add(1), ab.multiply(ab), ab.gt(0), ab.log(), ab.toInt()):
        info = out.getInfo()
        assert "properties" not in info or "p" not in info["properties"]
        assert "id" not in info


@pytest.mark.parametrize(
    "op",
    [
        lambda img: img.select("a"),
        lambda img: img.rename(["x", "y"]),
        lambda img: img.updateMask(img.select("b")),
        lambda img: img.unmask(0),
        lambda img: img.clip(ee.Geometry.Rectangle([10, 46, 12, 50], None, False)),
        lambda img: img.where(img, 1),
        lambda img: img.selfMask(),
        lambda img: img.addBands(ee.Image(1)),
    ],
    ids=["select", "rename", "updateMask", "unmask", "clip", "where", "selfMask", "addBands"],
)
def test_band_and_mask_operations_keep_properties(ab, op):
    info = op(ab).getInfo()
    assert info["properties"]["p"] == 7
    assert info["properties"]["name"] == "base"


# --- projections -----------------------------------------------------------------------------


def test_projection_of_stored_and_constant_images(ab):
    proj = ab.select("a").projection().getInfo()
    assert proj["crs"] == "EPSG:4326"
    assert proj["transform"] == list(TRANSFORM)
    const = ee.Image(1).projection().getInfo()
    assert const["crs"] == "EPSG:4326"
    assert const["transform"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_set_default_projection(ab):
    proj = ee.Projection("EPSG:4326", [0.5, 0, 0, 0, -0.5, 0])
    out = ee.Image(3).setDefaultProjection(proj)
    info = out.projection().getInfo()
    assert info["crs"] == "EPSG:4326"
    assert info["transform"] == [0.5, 0.0, 0.0, 0.0, -0.5, 0.0]
    # Values are unchanged: a default projection does not resample.
    got = raw(ab.select("a").setDefaultProjection(proj))
    np.testing.assert_array_equal(got["a"], np.nan_to_num(A))


def test_set_default_projection_of_a_stored_image_keeps_its_pixels(ab):
    out = ab.select("a").setDefaultProjection("EPSG:3857", [1000, 0, 0, 0, -1000, 0])
    proj = out.projection().getInfo()
    assert proj["crs"] == "EPSG:3857"
    assert proj["transform"] == [1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0]
    band = out.getInfo()["bands"][0]
    assert (band["crs"], band["crs_transform"]) == ("EPSG:3857", proj["transform"])
    assert_pixels_equal(px(out)["a"], A)  # asked for on the native grid: same values


def _native_6x6():
    return np.arange(36, dtype=float).reshape(6, 6)


def test_reproject_nearest_to_coarser_grid(put):
    values = _native_6x6()
    img = put({"v": values})
    coarse = [3.0, 0.0, 10.0, 0.0, -3.0, 50.0]  # 3-degree pixels, same corner
    out = img.reproject("EPSG:4326", coarse)
    # Each coarse pixel's centre lies in native pixel (3i+1, 3j+1).
    got = raw(out, grid(coarse, (2, 2)))["v"]
    np.testing.assert_array_equal(got, [[values[1, 1], values[1, 4]], [values[4, 1], values[4, 4]]])
    # Asked for on the native grid, the reprojected image is blocky: every 1-degree pixel
    # takes the value of the coarse pixel it lies in.
    fine = raw(out, grid(TRANSFORM, (6, 6)))["v"]
    rows = 3 * (np.arange(6) // 3) + 1
    np.testing.assert_array_equal(fine, values[np.ix_(rows, rows)])
    assert out.projection().getInfo()["transform"] == coarse


def test_reproject_keeps_the_footprint(put):
    values = _native_6x6()
    img = put({"v": values})
    out = img.reproject("EPSG:4326", [3.0, 0.0, 10.0, 0.0, -3.0, 50.0])
    # No grid: the coarse pixels over the image.
    np.testing.assert_array_equal(
        native_pixels(out), [[values[1, 1], values[1, 4]], [values[4, 1], values[4, 4]]]
    )
    # unmask keeps the footprint: a 3-degree ring around the image stays masked.
    got = px(out.unmask(-1), grid([3.0, 0.0, 7.0, 0.0, -3.0, 53.0], (4, 4)))["v"]
    expected = np.full((4, 4), NAN)
    expected[1:3, 1:3] = [[values[1, 1], values[1, 4]], [values[4, 1], values[4, 4]]]
    assert_pixels_equal(got, expected)


def test_reproject_to_another_crs(put):
    pyproj = pytest.importorskip("pyproj")
    values = _native_6x6()
    img = put({"v": values})
    t = [50_000.0, 0.0, 0.0, 0.0, -50_000.0, 0.0]
    out = img.reproject("EPSG:3857", t)
    band = out.getInfo()["bands"][0]
    assert (band["crs"], band["crs_transform"]) == ("EPSG:3857", t)
    arr = ee.data.computePixels({"expression": out.unmask(-99), "fileFormat": "NUMPY_NDARRAY"})
    got = arr["v"]
    # The window covers the image's corners, transformed to EPSG:3857.
    fwd = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    xs, ys = fwd.transform([10, 16, 10, 16], [44, 44, 50, 50])
    c0, c1 = int(np.floor(min(xs) / 50_000)), int(np.ceil(max(xs) / 50_000))
    r0, r1 = int(np.floor(-max(ys) / 50_000)), int(np.ceil(-min(ys) / 50_000))
    assert got.shape == (r1 - r0, c1 - c0)
    # Each pixel: the native pixel under its centre, or masked (-99) outside the image.
    cx = (c0 + np.arange(c1 - c0) + 0.5) * 50_000
    cy = -(r0 + np.arange(r1 - r0) + 0.5) * 50_000
    lon, lat = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(
        *np.meshgrid(cx, cy)
    )
    cols, rows = np.floor(lon - 10).astype(int), np.floor(50 - lat).astype(int)
    inside = (cols >= 0) & (cols < 6) & (rows >= 0) & (rows < 6)
    expected = np.full(got.shape, -99.0)
    expected[inside] = values[rows[inside], cols[inside]]
    np.testing.assert_array_equal(got, expected)


def test_reproject_by_scale(put):
    values = _native_6x6()
    img = put({"v": values})
    scale = 2 * 2 * math.pi * 6378137.0 / 360.0  # 2 degrees of Earth Engine's nominal metre
    out = img.reproject("EPSG:4326", None, scale)
    t = out.projection().getInfo()["transform"]
    assert t[0] == pytest.approx(2.0) and t[4] == pytest.approx(-2.0)
    # 2-degree pixels aligned on (0, 0): the pixel covering 10..12E, 48..50N has its centre
    # at (11, 49): native pixel (row 1, col 1).
    got = raw(out, grid([2.0, 0, 10.0, 0, -2.0, 50.0], (3, 3)))["v"]
    rows = np.array([1, 3, 5])
    np.testing.assert_array_equal(got, values[np.ix_(rows, rows)])


def test_clip_to_bounds_and_scale(put):
    values = _native_6x6()
    img = put({"v": values})
    region = ee.Geometry.Rectangle([11, 45, 14, 48], None, False)
    out = img.clipToBoundsAndScale(geometry=region)
    got = px(out, grid(TRANSFORM, (6, 6)))["v"]
    expected = np.full((6, 6), NAN)
    expected[2:5, 1:4] = values[2:5, 1:4]  # rows 48..45N, columns 11..14E
    assert_pixels_equal(got, expected)
    # width/height: the region's bounds on a 3x3 grid of 1-degree pixels, same values.
    sized = img.clipToBoundsAndScale(geometry=region, width=3, height=3)
    info = sized.getInfo()["bands"][0]
    assert info["dimensions"] == [3, 3]
    assert info["crs_transform"] == [1.0, 0.0, 11.0, 0.0, -1.0, 48.0]


def native_pixels(image: ee.Image) -> np.ndarray:
    """computePixels with no grid: the image's own bounded grid (masked pixels as -99)."""
    arr = ee.data.computePixels({"expression": image.unmask(-99), "fileFormat": "NUMPY_NDARRAY"})
    return arr[arr.dtype.names[0]]


def test_clip_bounds_the_image_to_the_region(put):
    values = _native_6x6()
    img = put({"v": values})
    inside = img.clip(ee.Geometry.Rectangle([11, 46, 14, 49], None, False))
    np.testing.assert_array_equal(native_pixels(inside), values[1:4, 1:4])
    # A region reaching past the image keeps only the overlap.
    across = img.clip(ee.Geometry.Rectangle([14, 40, 30, 45.5], None, False))
    np.testing.assert_array_equal(native_pixels(across), values[4:6, 4:6])
    # A triangle (south-west half): pixels whose centre is outside it are masked. The
    # hypotenuse x + y = 60.5 passes between pixel centres (x + y = 60 + col - row).
    tri = img.clip(ee.Geometry.Polygon([[[10, 44], [16.5, 44], [10, 50.5]]], None, False))
    rows, cols = np.mgrid[0:6, 0:6]
    expected = np.where(cols <= rows, values, -99.0)
    np.testing.assert_array_equal(native_pixels(tri), expected)


def test_clip_of_an_unbounded_image_is_bounded(put):
    # The export pattern region + crs + crsTransform: Image.clip(Image.reproject(...)).
    out = ee.Image(5).reproject("EPSG:4326", [1, 0, 10, 0, -1, 50])
    out = out.clip(ee.Geometry.Rectangle([11, 46, 14, 49], None, False))
    band = out.getInfo()["bands"][0]
    assert band["crs_transform"] == [1.0, 0.0, 10.0, 0.0, -1.0, 50.0]  # the projection
    np.testing.assert_array_equal(native_pixels(out), np.full((3, 3), 5.0))


def test_clip_to_bounds_and_scale_with_scale(put):
    # The image's corner (9E, 51N) lies on the 3-degree lattice of the CRS origin, so the
    # scaled grid is the same whether or not scaling keeps the image's translation.
    values = _native_6x6()
    img = put({"v": values}, transform=(1.0, 0.0, 9.0, 0.0, -1.0, 51.0))
    region = ee.Geometry.Rectangle([9, 45, 15, 51], None, False)
    scale = 3 * 2 * math.pi * 6378137.0 / 360.0  # 3 degrees
    out = img.clipToBoundsAndScale(geometry=region, scale=scale)
    info = out.getInfo()["bands"][0]
    assert info["dimensions"] == [2, 2]
    t = info["crs_transform"]
    assert t == pytest.approx([3.0, 0.0, 9.0, 0.0, -3.0, 51.0])
    got = raw(out, grid(t, (2, 2)))["v"]
    np.testing.assert_array_equal(got, [[values[1, 1], values[1, 4]], [values[4, 1], values[4, 4]]])


def test_clip_to_bounds_and_scale_without_geometry_uses_the_footprint(put):
    values = _native_6x6()
    img = put({"v": values})
    out = img.clipToBoundsAndScale(width=4, height=2)
    info = out.getInfo()["bands"][0]
    assert info["dimensions"] == [4, 2]
    assert info["crs_transform"] == [1.5, 0.0, 10.0, 0.0, -3.0, 50.0]
    # 1.5x3-degree pixels: centres at x = 10.75, 12.25, 13.75, 15.25 (native columns
    # 0, 2, 3, 5) and y = 48.5, 45.5 (rows 1 and 4).
    got = raw(out, grid(info["crs_transform"], (2, 4)))["v"]
    np.testing.assert_array_equal(got, values[np.ix_([1, 4], [0, 2, 3, 5])])


def test_clip_to_bounds_and_scale_of_a_constant_needs_a_region():
    with pytest.raises(ee.EEException, match="no bounds"):
        ee.Image(1).clipToBoundsAndScale(width=2, height=2).getInfo()


# --- resampling on other grids ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("shift", "first_col"),
    [(0.3, 0), (0.49, 0), (0.6, 1), (-0.4, 0), (-0.6, -1)],
)
def test_unaligned_grid_takes_the_pixel_containing_each_centre(put, shift, first_col):
    values = _native_6x6()
    img = put({"v": values})
    g = grid((1, 0, 10.0 + shift, 0, -1, 50.0), (6, 4))
    got = px(img, g)["v"]
    cols = first_col + np.arange(4)
    expected = np.full((6, 4), NAN)
    ok = (cols >= 0) & (cols < 6)
    expected[:, ok] = values[:, cols[ok]]
    assert_pixels_equal(got, expected)


def test_finer_grid_repeats_pixels(put):
    values = _native_6x6()
    img = put({"v": values})
    g = grid((0.5, 0, 10.0, 0, -0.5, 50.0), (12, 12))
    got = px(img, g)["v"]
    idx = np.arange(12) // 2
    assert_pixels_equal(got, values[np.ix_(idx, idx)])


def test_coarser_unaligned_grid_is_nearest_neighbour(put):
    values = _native_6x6()
    img = put({"v": values})
    # 2.5-degree pixels from (10.2E, 49.9N): centres at x = 11.45, 13.95 and
    # y = 48.65, 46.15 fall in native columns 1, 3 and rows 1, 3.
    g = grid((2.5, 0, 10.2, 0, -2.5, 49.9), (2, 2))
    got = px(img, g)["v"]
    assert_pixels_equal(got, values[np.ix_([1, 3], [1, 3])])


def test_grid_partly_outside_the_image_is_masked(put):
    values = _native_6x6()
    img = put({"v": values})
    g = grid((1, 0, 8.0, 0, -1, 52.0), (4, 4))  # two rows north and two columns west
    got = px(img, g)["v"]
    expected = np.full((4, 4), NAN)
    expected[2:, 2:] = values[:2, :2]
    assert_pixels_equal(got, expected)
    assert_pixels_equal(px(img, grid((1, 0, 30.0, 0, -1, 50.0), (2, 2)))["v"], np.full((2, 2), NAN))


def test_south_up_grid_flips_rows(put):
    values = _native_6x6()
    img = put({"v": values})
    got = px(img, grid((1, 0, 10.0, 0, 1, 44.0), (6, 6)))["v"]
    assert_pixels_equal(got, values[::-1, :])


def test_grid_in_another_crs_samples_by_pixel_centre(put):
    values = _native_6x6()
    img = put({"v": values})
    pyproj = pytest.importorskip("pyproj")
    tf = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x0, y0 = tf.transform(10.0, 50.0)
    x1, y1 = tf.transform(16.0, 44.0)
    size = (x1 - x0) / 12
    g = grid((size, 0, x0, 0, -size, y0), (int((y0 - y1) / size), 12), "EPSG:3857")
    got = px(img, g)["v"]
    h, w = got.shape
    back = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    xs = x0 + size * (np.arange(w) + 0.5)
    ys = y0 - size * (np.arange(h) + 0.5)
    lon, lat = back.transform(*np.meshgrid(xs, ys))
    cols = np.floor(lon - 10.0).astype(int)
    rows = np.floor(50.0 - lat).astype(int)
    inside = (rows >= 0) & (rows < 6) & (cols >= 0) & (cols < 6)
    expected = np.full((h, w), NAN)
    expected[inside] = values[rows[inside], cols[inside]]
    assert_pixels_equal(got, expected)


# --- pixel area --------------------------------------------------------------------------------


def _geod_cell_area(lon0: float, lat0: float, dlon: float, dlat: float) -> float:
    """The area of a lon/lat cell on WGS84 by pyproj.Geod, with densified parallels."""
    return lonlat_cell_area(lon0, lat0, lon0 + dlon, lat0 + dlat, n=400)


def test_pixel_area_geographic_matches_geod():
    g = grid((0.5, 0, 10.0, 0, -0.5, 70.0), (3, 2))
    arr = raw(ee.Image.pixelArea(), g)
    assert arr.dtype.names == ("area",)
    for r in range(3):
        top = 70.0 - 0.5 * r
        expected = _geod_cell_area(10.0, top - 0.5, 0.5, 0.5)
        np.testing.assert_allclose(arr["area"][r], expected, rtol=1e-6)


def test_pixel_area_equator_degree():
    arr = raw(ee.Image.pixelArea(), grid((1, 0, 0, 0, -1, 1.0), (2, 1)))
    # 1x1 degree cells either side of the equator: about 12,308 km^2 each.
    expected = _geod_cell_area(0.0, 0.0, 1.0, 1.0)
    np.testing.assert_allclose(arr["area"][:, 0], expected, rtol=1e-6)
    assert 1.230e10 < expected < 1.232e10


def test_pixel_area_in_an_equal_area_crs_is_the_pixel_size():
    # EPSG:6933 (EASE-Grid 2.0) is equal-area on WGS84: a 1 km pixel covers 1 km^2.
    g = grid((1000.0, 0, 1_000_000.0, 0, -1000.0, 5_000_000.0), (2, 2), "EPSG:6933")
    arr = raw(ee.Image.pixelArea(), g)
    np.testing.assert_allclose(arr["area"], 1e6, rtol=1e-6)


# --- the other per-pixel algorithms -------------------------------------------------------------


@pytest.mark.parametrize(("method", "fn"), [("atan2", np.arctan2), ("hypot", np.hypot)])
def test_two_argument_math(ab, method, fn):
    got = px(getattr(ab.select("a"), method)(ab.select("b")))["a"]
    assert_pixels_equal(got, nan_where(valid(A, B), fn(A, B)), rtol=1e-12)


TRIG = A / 10.0  # inside [-1, 1] for asin/acos


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("sin", np.sin),
        ("cos", np.cos),
        ("tan", np.tan),
        ("asin", np.arcsin),
        ("acos", np.arccos),
        ("atan", np.arctan),
        ("sinh", np.sinh),
        ("cosh", np.cosh),
        ("tanh", np.tanh),
        ("cbrt", np.cbrt),
        ("signum", np.sign),
        ("round", lambda v: np.floor(v + 0.5)),
    ],
)
def test_more_unary_math(put, method, fn):
    # TRIG + 0.01 keeps round() away from .5 ties (whose direction the docs do not give).
    values = TRIG + 0.01
    got = px(getattr(put({"v": values}).select("v"), method)())["v"]
    assert_pixels_equal(got, fn(values), rtol=1e-12, atol=1e-15)


def test_asin_outside_its_domain_is_masked(ab):
    got = px(ab.select("a").asin())["a"]
    with np.errstate(invalid="ignore"):
        assert_pixels_equal(got, np.arcsin(A))  # NaN (masked) where |a| > 1


def test_clamp_and_unit_scale(ab):
    a = ab.select("a")
    assert_pixels_equal(px(a.clamp(-1, 3))["a"], np.clip(A, -1, 3))
    assert_pixels_equal(px(a.unitScale(-2, 6))["a"], (A + 2) / 8)  # not clamped
    assert a.unitScale(-2, 6).getInfo()["bands"][0]["data_type"]["precision"] == "double"


def test_cast_by_band_types(ab):
    out = ab.cast({"a": "int8", "b": "float"})
    types = out.bandTypes().getInfo()
    assert types["a"] == {"type": "PixelType", "precision": "int", "min": -128, "max": 127}
    assert types["b"]["precision"] == "float"
    arr = raw(out)
    np.testing.assert_array_equal(arr["a"].astype(float), np.nan_to_num(np.trunc(A)))
    ordered = ab.cast({"a": "int16"}, ["b", "a"])
    assert ordered.bandNames().getInfo() == ["b", "a"]


def test_band_types(ab, put):
    assert ab.bandTypes().getInfo() == {
        "a": {"type": "PixelType", "precision": "double"},
        "b": {"type": "PixelType", "precision": "double"},
    }
    assert ee.Image(1).toUint8().bandTypes().getInfo()["constant"] == {
        "type": "PixelType",
        "precision": "int",
        "min": 0,
        "max": 255,
    }


@pytest.mark.parametrize(
    ("method", "dtype"), [("toUint32", np.uint32), ("toInt64", np.int64), ("toLong", np.int64)]
)
def test_wide_integer_casts(put, method, dtype):
    values = np.array([[-5.7, 0.2, 3e9, 5e9, -3e9]])
    img = put({"v": values})
    arr = raw(getattr(img, method)(), grid(TRANSFORM, values.shape))
    info = np.iinfo(dtype)
    assert arr["v"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(arr["v"], np.clip(np.trunc(values), info.min, info.max))


def test_pixel_lon_lat():
    arr = raw(ee.Image.pixelLonLat(), grid((0.5, 0, 100.0, 0, -0.5, 40.0), (2, 3)))
    assert arr.dtype.names == ("longitude", "latitude")
    np.testing.assert_array_equal(arr["longitude"][0], [100.25, 100.75, 101.25])
    np.testing.assert_array_equal(arr["latitude"][:, 0], [39.75, 39.25])


def test_pixel_lon_lat_in_a_projected_grid():
    pyproj = pytest.importorskip("pyproj")
    g = grid((1000.0, 0, 1_000_000.0, 0, -1000.0, 5_000_000.0), (2, 2), "EPSG:3857")
    arr = raw(ee.Image.pixelLonLat(), g)
    xs = 1_000_000.0 + 1000.0 * (np.arange(2) + 0.5)
    ys = 5_000_000.0 - 1000.0 * (np.arange(2) + 0.5)
    tf = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(*np.meshgrid(xs, ys))
    np.testing.assert_allclose(arr["longitude"], lon, rtol=1e-12)
    np.testing.assert_allclose(arr["latitude"], lat, rtol=1e-12)


# --- metadata algorithms -----------------------------------------------------------------------


def test_date_id_and_copy_properties(engine, tmp_asset):
    cube = np.zeros((2, 2))
    asset = tmp_asset("img_2003")
    props = {"system:time_start": 1041379200000, "year": 2003, "note": "x"}
    engine.store.put_image(asset, image_of({"v": cube}, TRANSFORM), props)
    img = ee.Image(asset)
    assert img.date().getInfo() == {"type": "Date", "value": 1041379200000}
    assert img.id().getInfo() == "img_2003"
    copied = ee.Image(1).copyProperties(img, ["year", "note"])
    assert ee.Image(copied).getInfo()["properties"] == {"year": 2003, "note": "x"}
    with pytest.raises(ee.EEException, match="system:time_start"):
        ee.Image(1).date().getInfo()


def test_image_geometry(ab):
    geom = ab.geometry().getInfo()
    assert geom["type"] == "Polygon"
    xs = [p[0] for p in geom["coordinates"][0]]
    ys = [p[1] for p in geom["coordinates"][0]]
    assert (min(xs), max(xs), min(ys), max(ys)) == (10.0, 15.0, 46.0, 50.0)


def test_clip_to_collection(engine, tmp_asset, ab):
    table = tmp_asset("regions")
    ring = [[10, 46], [12, 46], [12, 48], [10, 48], [10, 46]]
    engine.store.put_table(
        table,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ],
        },
    )
    out = ab.clipToCollection(ee.FeatureCollection(table))
    got = px(out)["a"]
    expected = np.full(A.shape, NAN)
    expected[2:4, 0:2] = A[2:4, 0:2]  # rows 48..46N, columns 10..12E
    assert_pixels_equal(got, expected)
    assert out.getInfo()["properties"]["p"] == 7


# Every algorithm registered by gee_cscc/engine/algorithms/image.py, and where it is tested.
TESTED = {
    "test_binary_arithmetic_masks_and_names": "add subtract multiply max min",
    "test_divide_by_zero_gives_zero": "divide",
    "test_mod_keeps_the_sign_of_the_dividend": "mod",
    "test_pow_is_float_and_masks_invalid_results": "pow",
    "test_unary_math": "log log10 exp abs sqrt floor ceil",
    "test_more_unary_math": "sin cos tan asin acos atan sinh cosh tanh cbrt signum round",
    "test_two_argument_math": "atan2 hypot",
    "test_comparisons_and_logic_give_0_or_1": "lt lte gt gte eq neq and or",
    "test_not": "not",
    "test_clamp_and_unit_scale": "clamp unitScale",
    "test_integer_casts_truncate_and_saturate": (
        "toUint8 toInt8 toUint16 toInt16 toInt32 toInt toByte toShort"
    ),
    "test_wide_integer_casts": "toUint32 toInt64 toLong",
    "test_float_casts": "toFloat toDouble",
    "test_cast_by_band_types": "cast",
    "test_band_types": "bandTypes",
    "test_where_replaces_where_test_is_nonzero_and_keeps_input_where_masked": "where",
    "test_update_mask_ands_with_existing_mask": "updateMask",
    "test_mask_get_returns_zero_one_mask": "mask",
    "test_unmask_same_footprint": "unmask",
    "test_self_mask": "selfMask",
    "test_select": "select",
    "test_rename": "rename",
    "test_add_bands_duplicate_names_get_suffixes": "addBands bandNames",
    "test_constant_images": "constant",
    "test_load_round_trip_values_masks_and_info": "load",
    "test_pixel_area_geographic_matches_geod": "pixelArea",
    "test_pixel_lon_lat": "pixelLonLat",
    "test_projection_of_stored_and_constant_images": "projection",
    "test_set_default_projection": "setDefaultProjection",
    "test_reproject_nearest_to_coarser_grid": "reproject",
    "test_clip_bounds_the_image_to_the_region": "clip",
    "test_clip_to_collection": "clipToCollection",
    "test_clip_to_bounds_and_scale": "clipToBoundsAndScale",
    "test_image_geometry": "geometry",
    "test_date_id_and_copy_properties": "date id copyProperties",
}
# Aliases registered with the same implementation as a tested name.
ALIASES = {
    "uint8": "toUint8",
    "byte": "toUint8",
    "int8": "toInt8",
    "uint16": "toUint16",
    "int16": "toInt16",
    "short": "toInt16",
    "toShort": "toInt16",
    "uint32": "toUint32",
    "int32": "toInt32",
    "int": "toInt32",
    "toInt": "toInt32",
    "toByte": "toUint8",
    "int64": "toInt64",
    "long": "toInt64",
    "toLong": "toInt64",
    "float": "toFloat",
    "double": "toDouble",
}


def test_every_image_algorithm_has_a_test():
    from gee_cscc.engine.core import registry

    registry.implemented()
    impls = registry._IMPLEMENTATIONS
    here = globals()
    covered = set()
    for test_name, methods in TESTED.items():
        assert test_name in here, test_name
        covered |= {f"Image.{m}" for m in methods.split()}
    registered = {
        n
        for n, f in impls.items()
        if f.__module__.startswith("gee_cscc.engine.algorithms.image.")
        and not f.__module__.endswith(".reduce")
    }
    covered |= {"Image.visualize"}  # tested in test_maps.py (tiles, thumbnails)
    covered |= {"Image.blend"}  # tested in test_style_blend.py
    covered |= {"Image.paint", "Image.reduceResolution"}  # tested in test_paint.py
    covered |= {"Image.resample"}  # tested in test_resampling.py
    # tested in test_bitwise.py, test_expression.py and test_kernels.py
    covered |= {f"Image.{m}" for m in "bitCount bitwiseAnd bitwiseNot bitwiseOr".split()}
    covered |= {f"Image.{m}" for m in "bitwiseXor bitwise_and bitwise_not bitwise_or".split()}
    covered |= {f"Image.{m}" for m in "bitwise_xor leftShift rightShift metadata".split()}
    covered |= {"Image.normalizedDifference", "Image.parseExpression", "Image.convolve"}
    covered |= {"Image.entropy", "Image.reduceNeighborhood"}
    # tested in test_arrays.py
    covered |= {f"Image.{m}" for m in "toArray arrayGet arraySlice arrayFlatten".split()}
    covered |= {f"Image.{m}" for m in "arrayProject arrayLength arrayTranspose".split()}
    covered |= {f"Image.{m}" for m in "matrixTranspose matrixMultiply matrixSolve".split()}
    covered |= {"Image.arrayReduce", "Image.arraySort", "ImageCollection.toArray"}
    # tested in test_array_images_more.py
    covered |= {f"Image.{m}" for m in "arrayReshape arrayCat arrayDotProduct arrayPad".split()}
    covered |= {"Image.arrayLengths", "Image.arrayDimensions", "Image.arrayArgmax"}
    covered |= {f"Image.{m}" for m in "arrayRepeat arrayMask arrayAccum matrixInverse".split()}
    covered |= {f"Image.matrix{m}" for m in "PseudoInverse Determinant Trace Fnorm".split()}
    covered |= {f"Image.matrix{m}" for m in "Diagonal ToDiag Identity".split()}
    # tested in test_vectors_sampling.py
    covered |= {"Image.reduceToVectors", "Image.sample", "Image.sampleRegions"}
    covered |= {"ImageCollection.getRegion", "Collection.reduceToImage"}
    covered |= {f"Image.focal{m}" for m in ("Max", "Mean", "Median", "Min", "Mode")}
    covered |= {f"Image.focal_{m}" for m in ("max", "mean", "median", "min", "mode")}
    for name in registered - covered:
        alias = ALIASES.get(name.split(".", 1)[1])
        assert alias is not None, f"{name} has no test"
        assert impls[name] is impls[f"Image.{alias}"], name
