"""Per-pixel operations whose masks are all valid, or whose operands are one constant value.

The engine keeps an all-valid mask or a constant as one value broadcast over the grid and
then skips the per-pixel mask work (``bands.both_valid``, ``bands.operand``,
``masks.footprint``). Each case here is checked against NumPy on the same arrays, through
the real ``ee`` client, on grids inside the stored extent (the fast path) and reaching past
it (the general path).
"""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.engine.algorithms.bands import both_valid, operand
from gee_cscc.engine.algorithms.image.masks import footprint, nonzero
from gee_cscc.engine.core.values import Band, is_uniform
from gee_cscc.engine.raster.grid import Grid, Projection
from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

NAN = np.nan
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
RNG = np.random.default_rng(7)
FULL = np.round(RNG.standard_normal((6, 7)) * 50, 1)  # every cell valid
FULL[2, 3] = 0.0
HOLES = FULL.copy()
HOLES[[0, 3, 5], [1, 4, 6]] = NAN
EMPTY = np.full((6, 7), NAN)
INSIDE = grid((1.0, 0.0, 11.0, 0.0, -1.0, 49.0), (4, 5))  # rows 1-4, cols 1-5 of the band
PAST = grid((1.0, 0.0, 8.0, 0.0, -1.0, 51.0), (8, 10))  # one row and two columns beyond
NORTH = grid((1.0, 0.0, 11.0, 0.0, -1.0, 51.0), (5, 4))  # one row beyond, columns inside


@pytest.fixture
def put(engine, tmp_asset):
    def _put(bands: dict[str, np.ndarray]) -> ee.Image:
        asset = tmp_asset()
        engine.store.put_image(asset, image_of(bands, TRANSFORM))
        return ee.Image(asset)

    return _put


def _on(arr: np.ndarray, spec: dict, fill: float = NAN) -> np.ndarray:
    """The band's cells on a request grid (``fill`` outside the stored extent)."""
    t = spec["affineTransform"]
    h, w = spec["dimensions"]["height"], spec["dimensions"]["width"]
    row0, col0 = int(round(50.0 - t["translateY"])), int(round(t["translateX"] - 10.0))
    out = np.full((h, w), fill)
    for r in range(h):
        for c in range(w):
            rr, cc = row0 + r, col0 + c
            if 0 <= rr < arr.shape[0] and 0 <= cc < arr.shape[1]:
                out[r, c] = arr[rr, cc]
    return out


@pytest.mark.parametrize("spec", [INSIDE, PAST, NORTH], ids=["inside", "past", "north"])
@pytest.mark.parametrize("name", ["full", "holes", "empty"])
def test_unmask_fills_masked_cells_and_keeps_the_footprint(put, spec, name):
    arr = {"full": FULL, "holes": HOLES, "empty": EMPTY}[name]
    img = put({"v": arr})
    inside = ~np.isnan(_on(np.zeros_like(arr), spec))  # the stored extent on the grid
    on = _on(arr, spec)
    expected = np.where(inside, np.where(np.isnan(on), -5.0, on), NAN)
    got = compute_pixels(img.unmask(-5), spec)["v"]
    assert_pixels_equal(got, expected, rtol=0)
    everywhere = np.where(np.isnan(on), -5.0, on)  # sameFootprint=False: past it too
    got = compute_pixels(img.unmask(-5, False), spec)["v"]
    assert_pixels_equal(got, everywhere, rtol=0)


@pytest.mark.parametrize("spec", [INSIDE, PAST], ids=["inside", "past"])
def test_arithmetic_and_comparisons_with_a_constant_operand(put, spec):
    img = put({"v": HOLES})
    on = _on(HOLES, spec)
    cases = {
        "add": (img.add(2.5), on + 2.5),
        "rsub": (ee.Image.constant(3.0).subtract(img), 3.0 - on),
        "mul": (img.multiply(-0.5), on * -0.5),
        "lt": (img.lt(1.0), np.where(np.isnan(on), NAN, (on < 1.0).astype(float))),
        "gte": (ee.Image(0).gte(img), np.where(np.isnan(on), NAN, (0 >= on).astype(float))),
        "neq": (img.neq(0), np.where(np.isnan(on), NAN, (on != 0).astype(float))),
    }
    for name, (image, expected) in cases.items():
        got = compute_pixels(image.rename("x"), spec)["x"]
        assert_pixels_equal(got, expected, rtol=0, what=name)


def test_update_mask_where_and_casts_with_constants(put):
    img = put({"v": HOLES, "w": FULL})
    v, w = img.select("v"), img.select("w")
    on_v, on_w = _on(HOLES, INSIDE), _on(FULL, INSIDE)
    cases = {
        "updateMask 1": (v.updateMask(1), on_v),
        "updateMask 0": (v.updateMask(0), np.full(on_v.shape, NAN)),
        "updateMask w": (v.updateMask(w), np.where(on_w != 0, on_v, NAN)),
        "where const": (w.where(w.gt(10), 99), np.where(on_w > 10, 99.0, on_w)),
        "where image": (w.where(1, v), np.where(np.isnan(on_v), on_w, on_v)),
        "toInt8": (w.multiply(3).toInt8(), np.clip(np.trunc(on_w * 3), -128, 127)),
        "toUint8": (w.toUint8(), np.clip(np.trunc(on_w), 0, 255)),
        "mask full": (w.mask(), np.ones(on_w.shape)),
        "mask holes": (v.mask(), np.where(np.isnan(on_v), 0.0, 1.0)),
        "mask gt": (w.mask().gt(0).multiply(2), np.full(on_w.shape, 2.0)),
    }
    for name, (image, expected) in cases.items():
        got = compute_pixels(ee.Image(image).rename("x"), INSIDE)["x"]
        assert_pixels_equal(got, expected, rtol=0, what=name)


def test_both_valid_and_operand_keep_arrays_and_give_numpys_results():
    a = RNG.random((3, 4)) > 0.3
    true = np.broadcast_to(True, (3, 4))
    false = np.broadcast_to(False, (3, 4))
    assert both_valid(a, true) is a and both_valid(true, a) is a
    np.testing.assert_array_equal(both_valid(a, false), np.zeros((3, 4), bool))
    b = RNG.random((3, 4)) > 0.5
    np.testing.assert_array_equal(both_valid(a, b), a & b)
    x = RNG.random((3, 4))
    c = np.broadcast_to(np.float64(2.5), (3, 4))
    assert operand(c, x) == 2.5 and np.ndim(operand(c, x)) == 0
    assert operand(x, c) is x
    assert operand(c, c) is c  # both constant: left as arrays
    np.testing.assert_array_equal(nonzero(np.broadcast_to(0.0, (2, 2))), np.zeros((2, 2), bool))
    assert is_uniform(nonzero(np.broadcast_to(3.0, (2, 2))))
    np.testing.assert_array_equal(nonzero(np.array([[0.0, -0.0, 1e-300]])), [[False, False, True]])


def test_footprint_is_one_value_inside_the_extent_and_exact_past_it():
    proj = Projection("EPSG:4326", TRANSFORM)
    band = Band("b", lambda g: (0.0, True), extent=Grid(proj, (6, 7)))
    inside = Grid(proj, (0, 0)).window(1, 1, 4, 5)
    fp = footprint(band, inside)
    assert is_uniform(fp) and fp.flat[0] and fp.shape == (4, 5)
    past = Grid(proj, (0, 0)).window(-1, -2, 8, 10)
    expected = np.zeros((8, 10), bool)
    expected[1:7, 2:9] = True
    np.testing.assert_array_equal(footprint(band, past), expected)
    north = Grid(proj, (0, 0)).window(-1, 1, 4, 5)  # one row above the extent
    expected = np.ones((4, 5), bool)
    expected[0] = False
    np.testing.assert_array_equal(footprint(band, north), expected)
    coarse = Grid(Projection("EPSG:4326", (2.0, 0.0, 10.0, 0.0, -2.0, 50.0)), (3, 4))
    expected = np.zeros((3, 4), bool)  # centres of 2-degree cells: inside for cols 0-3 < 7°
    expected[:3, :4] = True
    expected[:, 3] = False  # centre at 17°E is past the 7 columns (10-17°E)
    np.testing.assert_array_equal(footprint(band, coarse), expected)


def test_stored_reads_give_one_true_mask_only_where_every_cell_is_valid(tmp_path):
    import rasterio
    from rasterio.transform import Affine

    from gee_cscc.engine.raster.resample import read_padded
    from gee_cscc.engine.store.raster_io import GeoTiffBandReader

    path = tmp_path / "b.tif"
    data = HOLES.astype(np.float32)
    profile = {
        "driver": "GTiff",
        "height": 6,
        "width": 7,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(*TRANSFORM),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    reader = GeoTiffBandReader(path, 1, Projection("EPSG:4326", TRANSFORM), (6, 7))
    values, mask = reader.read(1, 0, 2, 3)  # rows 1-2, cols 0-2: no hole
    assert is_uniform(mask) and mask.flat[0] and mask.shape == (2, 3)
    np.testing.assert_array_equal(values, data[1:3, 0:3].astype(np.float64))
    values, mask = reader.read(0, 0, 6, 7)  # the holes: a mask per pixel, 0 under it
    np.testing.assert_array_equal(mask, ~np.isnan(data))
    np.testing.assert_array_equal(values, np.where(np.isnan(data), 0.0, data))
    values, mask = read_padded(reader.read, (6, 7), -1, 5, 3, 4)  # past the corner
    expected = np.full((3, 4), NAN)
    expected[1:, :2] = data[0:2, 5:7]
    np.testing.assert_array_equal(mask, ~np.isnan(expected))
    np.testing.assert_array_equal(values, np.where(np.isnan(expected), 0.0, expected))
