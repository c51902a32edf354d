"""``Image.convolve`` with kernels of runs of equal integral weights on integer-valued data
(the local engine sums each run by prefix sums): exactly scipy.ndimage's correlation."""

from __future__ import annotations

import ee
import numpy as np
import pytest
from scipy import ndimage

from gee_cscc.engine.raster import reduction
from gee_cscc.testing import compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
RNG = np.random.default_rng(3)
C = RNG.integers(-40, 60, (23, 31)).astype(float)
C[4, 7] = C[10, 0] = C[22, 30] = np.nan
GRID = grid(TRANSFORM, C.shape)


@pytest.fixture
def img(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset()
    engine.store.put_image(asset, image_of({"c": C}, TRANSFORM))
    return ee.Image(asset)


def expected(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = ~np.isnan(C)
    total = ndimage.correlate(np.where(valid, C, 0.0), w, mode="constant", cval=0.0)
    support = ndimage.correlate(valid.astype(float), (w != 0).astype(float), mode="constant")
    return total, support > 0


@pytest.mark.parametrize(
    ("kernel", "weights"),
    [
        (lambda: ee.Kernel.circle(4, "pixels", False), None),
        (lambda: ee.Kernel.square(3, "pixels", False, 2), None),
        (
            lambda: ee.Kernel.fixed(weights=[[0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 3, 3, 3]]),
            np.array([[0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 3, 3, 3]], float),
        ),
    ],
)
def test_runs_of_integral_weights_are_exact(img, kernel, weights, monkeypatch):
    k = kernel()
    w = np.array(k.getInfo()["weights"]) if weights is None else weights
    total, valid = expected(w)
    got = compute_pixels(img.convolve(k), GRID)["c"]
    np.testing.assert_array_equal(~np.ma.getmaskarray(got), valid)
    np.testing.assert_array_equal(got.filled(0.0)[valid], total[valid])  # exact
    monkeypatch.setattr(reduction, "TILE", 8)  # tiles with halos give the same
    tiled = compute_pixels(img.convolve(k), GRID)["c"]
    np.testing.assert_array_equal(tiled.filled(0.0), got.filled(0.0))


def test_fractional_weights_or_values_take_the_direct_sum(img):
    k = ee.Kernel.circle(4)  # normalized: weights 1/49
    w = np.array(k.getInfo()["weights"])
    total, valid = expected(w)
    got = compute_pixels(img.convolve(k), GRID)["c"]
    np.testing.assert_allclose(got.filled(0.0)[valid], total[valid], rtol=1e-12, atol=1e-12)
    half = compute_pixels(img.add(0.5).convolve(ee.Kernel.circle(4, "pixels", False)), GRID)["c"]
    total_h, _ = expected((w > 0).astype(float))
    support = ndimage.correlate((~np.isnan(C)).astype(float), (w > 0).astype(float),
                                mode="constant")  # fmt: skip
    np.testing.assert_allclose(
        half.filled(0.0)[valid], (total_h + 0.5 * support)[valid], rtol=1e-12
    )
