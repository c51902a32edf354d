"""``ee.Kernel.*``, ``Image.convolve``, ``focal*`` and ``reduceNeighborhood`` against NumPy and
scipy.ndimage, and the kernels against the weight matrices printed in Earth Engine's API
reference (https://developers.google.com/earth-engine/apidocs/ee-kernel-circle and the
pages of cross, plus, octagon, euclidean, rectangle, fixed)."""

from __future__ import annotations

import ee
import numpy as np
import pytest
from helpers import window_stat
from scipy import ndimage

from gee_cscc.engine.raster import reduction
from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

NAN = np.nan
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
RNG = np.random.default_rng(7)
A = np.round(RNG.uniform(-5, 10, (9, 11)), 2)
A[2, 3] = NAN
A[6, 8] = NAN
A[0, 10] = NAN
B = np.round(RNG.uniform(0, 4, (9, 11)))
GRID = grid(TRANSFORM, A.shape)


@pytest.fixture
def img(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset()
    engine.store.put_image(asset, image_of({"a": A, "b": B}, TRANSFORM))
    return ee.Image(asset)


def _weights(kernel: ee.Kernel) -> np.ndarray:
    return np.array(kernel.getInfo()["weights"])


# --- kernels ---------------------------------------------------------------------------------


def test_shaped_kernels_match_the_reference_examples():
    circle = _weights(ee.Kernel.circle(3))
    # the reference prints 0.034 (= 1/29) on a 7x7 disk without the outer corners
    assert circle.shape == (7, 7)
    assert np.count_nonzero(circle) == 29
    assert circle[3, 3] == pytest.approx(1 / 29)
    assert circle[0, 2] == 0 and circle[0, 3] > 0 and circle[1, 1] > 0
    cross = _weights(ee.Kernel.cross(3))
    assert np.array_equal(cross > 0, np.eye(7, dtype=bool) | np.fliplr(np.eye(7, dtype=bool)))
    assert cross[0, 0] == pytest.approx(1 / 13)
    plus = _weights(ee.Kernel.plus(3))
    expected_plus = np.zeros((7, 7), dtype=bool)
    expected_plus[3, :] = expected_plus[:, 3] = True
    assert np.array_equal(plus > 0, expected_plus)
    octagon = _weights(ee.Kernel.octagon(3))
    assert [int(np.count_nonzero(r)) for r in octagon] == [3, 5, 7, 7, 7, 5, 3]
    assert octagon[3, 3] == pytest.approx(1 / 37)
    rect = _weights(ee.Kernel.rectangle(2, 1))
    assert rect.shape == (3, 5)
    assert np.allclose(rect, 1 / 15)
    assert np.array_equal(_weights(ee.Kernel.square(1, "pixels", False)), np.ones((3, 3)))
    diamond = _weights(ee.Kernel.diamond(2, normalize=False))
    dy, dx = np.mgrid[-2:3, -2:3]
    assert np.array_equal(diamond, (abs(dx) + abs(dy) <= 2).astype(float))


def test_distance_and_gaussian_kernels():
    dy, dx = np.mgrid[-3:4, -3:4]
    assert np.allclose(_weights(ee.Kernel.euclidean(3)), np.hypot(dx, dy))
    # the reference prints 4.242 in the corner and 0 at the focus
    assert _weights(ee.Kernel.euclidean(3))[0, 0] == pytest.approx(4.2426, abs=1e-4)
    assert np.allclose(_weights(ee.Kernel.manhattan(3)), abs(dx) + abs(dy))
    assert np.allclose(_weights(ee.Kernel.chebyshev(3)), np.maximum(abs(dx), abs(dy)))
    dy, dx = np.mgrid[-2:3, -2:3]
    g = np.exp(-(dx**2 + dy**2) / (2 * 1.5**2))
    assert np.allclose(_weights(ee.Kernel.gaussian(2, 1.5)), g / g.sum())
    assert np.allclose(_weights(ee.Kernel.gaussian(2, 1.5, "pixels", False, 2.0)), 2 * g)


def test_fixed_add_rotate_inverse():
    w = [[4, 3, 2, 1, 2, 3, 4]] * 3
    info = ee.Kernel.fixed(weights=w).getInfo()
    assert info["weights"] == w and (info["x"], info["y"]) == (3, 1)
    k = ee.Kernel.fixed(weights=[[1, 2], [3, 4]], x=0, y=0)
    rot = ee.Kernel.fixed(weights=[[1, 2], [3, 4]], x=0, y=0).rotate(1).getInfo()
    assert rot["weights"] == [[3, 1], [4, 2]]  # one quarter turn clockwise
    assert (rot["x"], rot["y"]) == (1, 0)
    assert ee.Kernel.fixed(weights=[[1, 2], [0, 4]]).inverse().getInfo()["weights"] == [
        [1, 0.5],
        [0, 0.25],
    ]
    total = k.add(ee.Kernel.square(1, "pixels", False)).getInfo()
    # focus (0,0) of k aligned with the centre of the 3x3 square
    assert total["weights"] == [[1, 1, 1], [1, 2, 3], [1, 4, 5]]
    # normalized with negative weights: the positive ones sum to 1, the negative ones to -1
    lap = np.array(ee.Kernel.laplacian8(normalize=True).getInfo()["weights"])
    assert np.allclose(lap, np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]]) / 8)
    assert ee.Kernel.laplacian8(normalize=False).getInfo()["weights"] == [
        [1, 1, 1],
        [1, -8, 1],
        [1, 1, 1],
    ]


def test_kernel_errors():
    with pytest.raises(ee.EEException, match="units must be 'pixels' or 'meters'"):
        ee.Kernel.square(1, "feet").getInfo()
    with pytest.raises(ee.EEException, match="Kernel.fixed: the focus"):
        ee.Kernel.fixed(weights=[[1, 2]], x=5).getInfo()


def test_named_kernels_and_their_operations_match_the_reference():
    # https://developers.google.com/earth-engine/apidocs/ee-kernel-sobel (rotate, inverse, add)
    sobel = ee.Kernel.sobel()
    assert _weights(sobel).tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert _weights(sobel.rotate(1)).tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert _weights(sobel.rotate(-2)).tolist() == [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    assert _weights(sobel.inverse()).tolist() == [[-1, 0, 1], [-0.5, 0, 0.5], [-1, 0, 1]]
    assert _weights(ee.Kernel.prewitt()).tolist() == [[1, 0, -1]] * 3
    assert _weights(ee.Kernel.kirsch()).tolist() == [[5, -3, -3], [5, 0, -3], [5, -3, -3]]
    assert _weights(ee.Kernel.compass()).tolist() == [[1, 1, -1], [1, -2, -1], [1, 1, -1]]
    roberts = ee.Kernel.roberts().getInfo()
    assert roberts["weights"] == [[1, 0], [0, -1]] and (roberts["x"], roberts["y"]) == (1, 1)
    total = _weights(
        ee.Kernel.chebyshev(3).add(ee.Kernel.square(1, normalize=False, magnitude=100))
    )
    dy, dx = np.mgrid[-3:4, -3:4]
    expected = np.maximum(abs(dx), abs(dy)).astype(float)
    expected[2:5, 2:5] += 100
    assert np.array_equal(total, expected)
    assert _weights(ee.Kernel.diamond(3)).round(2).max() == 0.04  # 25 cells, as printed


# --- convolve ----------------------------------------------------------------------------------


def _padded(x: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Values (masked → 0) and validity padded by r masked pixels."""
    valid = ~np.isnan(x)
    v = np.pad(np.where(valid, x, 0.0), r)
    m = np.pad(valid, r)
    return v, m


def test_convolve_matches_scipy_correlate(img):
    w = np.array([[0.0, 1.0, 2.0], [1.0, -3.0, 0.5], [0.0, 0.0, 4.0]])
    got = compute_pixels(img.convolve(ee.Kernel.fixed(weights=w.tolist())), GRID)
    assert list(got) == ["a", "b"]
    for name, x in (("a", A), ("b", B)):
        valid = ~np.isnan(x)
        total = ndimage.correlate(np.where(valid, x, 0.0), w, mode="constant", cval=0.0)
        support = ndimage.correlate(valid.astype(float), (w != 0).astype(float), mode="constant")
        expected = np.where(support > 0, total, NAN)
        assert_pixels_equal(got[name], expected, rtol=1e-9, atol=1e-9)


def test_convolve_tiles_use_a_halo(img, monkeypatch):
    kernel = ee.Kernel.square(2)
    whole = compute_pixels(img.select("a").convolve(kernel), GRID)["a"]
    monkeypatch.setattr(reduction, "TILE", 4)
    tiled = compute_pixels(img.select("a").convolve(kernel), GRID)["a"]
    assert np.array_equal(np.ma.getmaskarray(whole), np.ma.getmaskarray(tiled))
    assert np.allclose(whole.filled(0), tiled.filled(0))
    # and the value: boxcar 5x5 sum of valid neighbours / 25
    valid = ~np.isnan(A)
    s = ndimage.correlate(np.where(valid, A, 0.0), np.ones((5, 5)), mode="constant") / 25
    assert whole[4, 5] == pytest.approx(s[4, 5])


# --- focal operations ------------------------------------------------------------------------


def _mode(v: np.ndarray) -> float:
    vals, counts = np.unique(v, return_counts=True)
    return float(vals[np.argmax(counts)])  # the smallest of the most frequent


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("focalMax", np.max),
        ("focal_max", np.max),
        ("focalMin", np.min),
        ("focal_min", np.min),
        ("focalMean", np.mean),
        ("focal_mean", np.mean),
        ("focalMedian", np.median),
        ("focal_median", np.median),
        ("focalMode", _mode),
        ("focal_mode", _mode),
    ],
)
def test_focal_operations_match_a_sliding_window(img, method, fn):
    out = getattr(img, method)()  # radius 1.5 circle: the full 3x3 window
    got = compute_pixels(out, GRID)
    assert list(got) == ["a", "b"]
    fp = np.ones((3, 3), dtype=bool)
    assert_pixels_equal(got["a"], window_stat(A, fp, fn), rtol=1e-9)
    assert_pixels_equal(got["b"], window_stat(B, fp, fn), rtol=1e-9)


def test_focal_kernel_types_iterations_and_meters(img):
    dy, dx = np.mgrid[-2:3, -2:3]
    plus = (dx == 0) | (dy == 0)
    got = compute_pixels(img.select("a").focalMax(2, "plus"), GRID)["a"]
    assert_pixels_equal(got, window_stat(A, plus, np.max))
    twice = compute_pixels(img.select("a").focalMin(1, "square", iterations=2), GRID)["a"]
    once = window_stat(A, np.ones((3, 3), dtype=bool), np.min)
    assert_pixels_equal(twice, window_stat(once, np.ones((3, 3), dtype=bool), np.min))
    # 1 degree ≈ 111 km: a 250 km radius is 2 pixels at this grid's nominal scale
    meters = compute_pixels(img.select("a").focalMax(250_000, "square", "meters"), GRID)["a"]
    assert_pixels_equal(meters, window_stat(A, np.ones((5, 5), dtype=bool), np.max))
    # a focal max grows into masked pixels (a dilation): A[2, 3] is masked but gets a value
    assert not np.ma.getmaskarray(got)[2, 3]
    with pytest.raises(ee.EEException, match="Unknown kernelType 'hexagon'"):
        img.focalMax(1, "hexagon").getInfo()


# --- reduceNeighborhood ------------------------------------------------------------------------


def test_reduce_neighborhood_mean_with_kernel_weights_and_skip_masked(img):
    w = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    kernel = ee.Kernel.fixed(weights=w.tolist())
    out = img.reduceNeighborhood(ee.Reducer.mean(), kernel)
    got = compute_pixels(out, GRID)
    assert list(got) == ["a_mean", "b_mean"]
    valid = ~np.isnan(A)
    num = ndimage.correlate(np.where(valid, A, 0.0), w, mode="constant")
    den = ndimage.correlate(valid.astype(float), w, mode="constant")
    expected = np.where(valid & (den > 0), num / np.where(den > 0, den, 1), NAN)
    assert_pixels_equal(got["a_mean"], expected, rtol=1e-9)
    # skipMasked=false: the masked centre gets the mean of its neighbours
    loose = compute_pixels(
        img.select("a").reduceNeighborhood(ee.Reducer.mean(), kernel, skipMasked=False), GRID
    )["a_mean"]
    assert loose[2, 3] == pytest.approx(num[2, 3] / den[2, 3])
    # inputWeight='mask': every unmasked neighbour counts once
    flat = compute_pixels(
        img.select("a").reduceNeighborhood(ee.Reducer.mean(), kernel, "mask"), GRID
    )["a_mean"]
    fp = np.ones((3, 3), dtype=bool)
    assert_pixels_equal(flat, np.where(valid, window_stat(A, fp, np.mean), NAN), rtol=1e-9)


def test_reduce_neighborhood_multi_output_and_count(img):
    kernel = ee.Kernel.square(1)
    red = ee.Reducer.min().combine(ee.Reducer.max(), sharedInputs=True)
    got = compute_pixels(img.select("b").reduceNeighborhood(red, kernel), GRID)
    assert list(got) == ["b_min", "b_max"]
    fp = np.ones((3, 3), dtype=bool)
    assert_pixels_equal(got["b_min"], window_stat(B, fp, np.min))
    assert_pixels_equal(got["b_max"], window_stat(B, fp, np.max))
    count = compute_pixels(img.select("a").reduceNeighborhood(ee.Reducer.count(), kernel), GRID)
    valid = ~np.isnan(A)
    n = ndimage.correlate(valid.astype(float), np.ones((3, 3)), mode="constant")
    assert_pixels_equal(count["a_count"], np.where(valid, n, NAN))


def test_reduce_neighborhood_errors(img):
    with pytest.raises(ee.EEException, match="inputWeight must be one of"):
        img.reduceNeighborhood(ee.Reducer.mean(), ee.Kernel.square(1), "area").getInfo()
    with pytest.raises(ee.EEException, match="has 2 inputs, but the image has 1 bands"):
        img.select("a").reduceNeighborhood(
            ee.Reducer.pearsonsCorrelation(), ee.Kernel.square(1)
        ).getInfo()


# --- entropy -------------------------------------------------------------------------------------


def _entropy(win: np.ndarray) -> float:
    _, counts = np.unique(win, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def test_entropy_matches_a_sliding_window(img):
    got = compute_pixels(img.select("b").entropy(ee.Kernel.square(1)), GRID)["b"]
    assert_pixels_equal(
        got, window_stat(B, np.ones((3, 3), dtype=bool), _entropy), rtol=1e-12, atol=1e-12
    )
    # masked where the input is masked; masked neighbours are left out of the window
    dy, dx = np.mgrid[-2:3, -2:3]
    plus = (dx == 0) | (dy == 0)
    got = compute_pixels(img.select("a").entropy(ee.Kernel.plus(2)), GRID)["a"]
    expected = np.where(np.isnan(A), NAN, window_stat(A, plus, _entropy))
    assert_pixels_equal(got, expected, rtol=1e-12, atol=1e-12)
    # hand check: a window of values {0, 0, 1, 1} has entropy 1 bit
    assert _entropy(np.array([0, 0, 1, 1])) == 1.0
