"""Mechanisms that keep the local engine's memory bounded, proven on small data.

* ``computePixels`` of a window evaluates that window only: every stored-band read lies in
  it; a grid larger than a tile is computed tile by tile (no read larger than a tile) and
  gives the same pixels as NumPy.
* Region reductions walk the grid in tiles of ``reduction.TILE``: no read is larger than a
  tile, each stored band is read once per tile (sub-expressions shared within a tile).
* Constants cost no memory per pixel (broadcast views), and so does arithmetic on them.
* The store's band cache stays within its budget and does not thrash on a cyclic walk.
* At most ``server.WORKERS`` requests compute at once, on the engine's worker threads.

The large-grid numbers are in ``benchmarks/`` (run on demand).
"""

from __future__ import annotations

import threading
import time
import warnings

import ee
import numpy as np
import pytest

from gee_cscc.engine.core.values import constant_band, is_uniform, pixel_cache, pointwise
from gee_cscc.engine.raster import reduction
from gee_cscc.engine.raster.grid import Grid, Projection
from gee_cscc.engine.service import server
from gee_cscc.engine.store import assets as store
from gee_cscc.engine.store import raster_io
from gee_cscc.testing import compute_pixels, grid, grid_of, npp_cube

YEARS = range(2001, 2007)
SHAPE = (30, 40)  # (height, width)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int, int, int]]:
    """Every window read from a stored band, ``(file, row0, col0, h, w)``, from disk.

    The band cache is replaced by one that caches nothing, so each read is a windowed
    GeoTIFF read of exactly the recorded window.
    """
    log: list[tuple[str, int, int, int, int]] = []
    lock = threading.Lock()
    original = raster_io.GeoTiffBandReader.read

    def read(self, row0: int, col0: int, h: int, w: int):
        with lock:
            log.append((str(self.path), row0, col0, h, w))
        return original(self, row0, col0, h, w)

    monkeypatch.setattr(raster_io.GeoTiffBandReader, "read", read)
    monkeypatch.setattr(raster_io, "BAND_CACHE", raster_io.BandCache(max_band_bytes=0))
    return log


@pytest.fixture(scope="module")
def cube():
    """A 6-year 30 x 40 cube with scattered gaps and two cells masked in every year."""
    return npp_cube(YEARS, SHAPE, seed=7, gaps=0.1, masked_cells=[(12, 21), (0, 0)])


@pytest.fixture
def collection(engine, tmp_asset, cube) -> str:
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube)
    return asset


def _window(cube, row0: int, col0: int, h: int, w: int) -> dict:
    a, b, c, d, e, f = _transform(cube)
    return grid((a, b, c + a * col0, d, e, f + e * row0), (h, w))


def _transform(cube) -> tuple[float, ...]:
    at = grid_of(cube)["affineTransform"]
    return (
        at["scaleX"],
        at["shearX"],
        at["translateX"],
        at["shearY"],
        at["scaleY"],
        at["translateY"],
    )


def _nan_reduce(fn, values: np.ndarray) -> np.ma.MaskedArray:
    valid = np.isfinite(values).any(axis=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = fn(values, axis=0)
    return np.ma.MaskedArray(np.where(valid, out, 0.0), mask=~valid)


def test_window_of_a_composite_reads_only_that_window(collection, cube, reads):
    row0, col0 = 10, 20
    composite = (
        ee.ImageCollection(collection)
        .max()
        .addBands(ee.ImageCollection(collection).mean().rename("mean"))
    )
    got = compute_pixels(composite, _window(cube, row0, col0, 4, 4))

    window = cube.values[:, row0 : row0 + 4, col0 : col0 + 4]
    np.testing.assert_array_equal(got["npp"].mask, _nan_reduce(np.nanmax, window).mask)
    np.testing.assert_allclose(got["npp"].filled(0), _nan_reduce(np.nanmax, window).filled(0))
    np.testing.assert_allclose(
        got["mean"].filled(0), _nan_reduce(np.nanmean, window).filled(0), rtol=1e-12
    )
    assert reads, "the composite read no stored band"
    assert len({r[0] for r in reads}) == len(YEARS)  # every image, each only in the window
    assert all(r[1:] == (row0, col0, 4, 4) for r in reads), sorted(set(reads))


def test_a_grid_larger_than_a_tile_is_computed_tile_by_tile(collection, cube, reads, monkeypatch):
    monkeypatch.setattr(reduction, "TILE", 8)
    col = ee.ImageCollection(collection)
    image = col.max().subtract(col.min()).rename("range").addBands(col.count().rename("n"))
    got = compute_pixels(image, grid_of(cube))

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmax(cube.values, axis=0) - np.nanmin(cube.values, axis=0)
    count = np.isfinite(cube.values).sum(axis=0)
    np.testing.assert_array_equal(got["range"].mask, count == 0)
    np.testing.assert_allclose(got["range"].filled(0), np.where(count > 0, expected, 0.0))
    np.testing.assert_array_equal(got["n"].filled(0), count)
    # tiles 8 rows high and WIDE x 8 columns wide (computePixels' tiles)
    across = 8 * reduction.WIDE
    assert max(h for *_, h, _ in reads) <= 8 and max(w for *_, w in reads) <= across
    # Two requests (values and masks), every image read once per tile.
    height, width = cube.sizes["y"], cube.sizes["x"]
    tiles = -(-height // 8) * -(-width // across)
    assert tiles > 1
    per_file = {}
    for r in reads:
        per_file[r[0]] = per_file.get(r[0], 0) + 1
    assert set(per_file.values()) == {2 * tiles}


def test_region_reduction_walks_tiles(collection, cube, reads, monkeypatch):
    monkeypatch.setattr(reduction, "TILE", 8)
    col = ee.ImageCollection(collection)
    image = col.max().rename("max").addBands(col.count().rename("n"))
    t = _transform(cube)
    got = image.reduceRegion(
        reducer=ee.Reducer.sum(),
        geometry=ee.Geometry.Rectangle(
            [t[2], t[5] + t[4] * SHAPE[0], t[2] + t[0] * SHAPE[1], t[5]], None, False
        ),
        crs="EPSG:4326",
        crsTransform=list(t),
    ).getInfo()

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected_max = np.nansum(np.nanmax(cube.values, axis=0))
    assert got["max"] == pytest.approx(expected_max, rel=1e-12)
    assert got["n"] == int(np.isfinite(cube.values).sum())
    across = 8 * reduction.WIDE  # tiles 8 rows high, WIDE x 8 columns wide
    assert max(h for *_, h, _ in reads) <= 8 and max(w for *_, w in reads) <= across
    windows = {r[1:] for r in reads}
    assert len(windows) == 4 * -(-40 // across)  # ceil(30 / 8) x ceil(40 / across) tiles
    per_file = {}
    for r in reads:
        per_file[r[0]] = per_file.get(r[0], 0) + 1
    assert len(per_file) == len(YEARS)
    assert set(per_file.values()) == {len(windows)}  # each image once per tile, both bands


def test_constants_and_their_arithmetic_are_broadcast_views():
    g = Grid(Projection("EPSG:4326", (0.5, 0, 100, 0, -0.5, 40)), (300, 400))
    two = constant_band(2.0)
    three = pointwise(
        [two, constant_band(1.0)], lambda a, b: (a[0] + b[0], a[1] & b[1]), name="c", dtype="f"
    )
    with pixel_cache():
        values, mask = three.compute(g)
    assert values.shape == g.shape and is_uniform(values) and is_uniform(mask)
    assert values.base is not None and values.base.nbytes <= 8
    assert float(values[123, 321]) == 3.0 and bool(mask.all())

    def ramp(grid: Grid):
        h, w = grid.shape
        return np.arange(h * w, dtype=float).reshape(h, w), np.arange(h * w).reshape(h, w) % 3 > 0

    mixed = pointwise(
        [three, pointwise([], lambda: (0, True), name="z", dtype="f")],
        lambda a, b: (a[0] * 2 + b[0], a[1] & b[1]),
        name="m",
        dtype="f",
    )
    with pixel_cache():
        mv, mm = mixed.compute(g)
    assert is_uniform(mv) and float(mv[0, 0]) == 6.0 and bool(mm.all())

    from gee_cscc.engine.core.values import Band

    real = Band("r", ramp)
    summed = pointwise([real, three], lambda a, b: (a[0] + b[0], a[1] & b[1]), name="s", dtype="f")
    with pixel_cache():
        sv, sm = summed.compute(g)
    expected_v, expected_m = ramp(g)
    assert not is_uniform(sv)
    np.testing.assert_array_equal(sv, expected_v + 3.0)
    np.testing.assert_array_equal(sm, expected_m)


def test_constant_arithmetic_through_the_client(collection, cube):
    image = ee.Image.constant(2).multiply(3).add(ee.ImageCollection(collection).first())
    got = compute_pixels(image, grid_of(cube))
    first = cube.values[0]
    np.testing.assert_array_equal(got["constant"].mask, ~np.isfinite(first))
    np.testing.assert_allclose(
        got["constant"].filled(0), np.where(np.isfinite(first), first + 6, 0)
    )


def _write_bands(tmp_path, n: int, shape: tuple[int, int]) -> list:
    s = store.AssetStore(tmp_path)
    proj = Projection("EPSG:4326", (0.5, 0.0, 100.0, 0.0, -0.5, 40.0))
    paths = []
    for i in range(n):
        s.write_image_arrays(f"b{i}", ["v"], [np.full(shape, float(i))], proj)
        paths.append(s.asset_dir(s.resolve(f"b{i}")) / "data.tif")
    return paths


def test_band_cache_stays_within_its_budget(tmp_path):
    shape = (20, 25)  # 500 float64 = 4000 bytes a band
    paths = _write_bands(tmp_path, 8, shape)
    cache = raster_io.BandCache(max_bytes=9000, max_band_bytes=64 << 20, min_idle=0.0)
    for _ in range(3):
        for p in paths:
            arr, _ = cache.get(p, 1, shape)
            assert float(arr[0, 0]) == float(paths.index(p))
            assert cache.size <= cache.max_bytes
    assert len(cache._items) == 2


def test_band_cache_keeps_bands_in_use_and_reads_others_by_windows(tmp_path):
    shape = (20, 25)
    paths = _write_bands(tmp_path, 6, shape)
    cache = raster_io.BandCache(max_bytes=12_000, max_band_bytes=64 << 20, min_idle=3600.0)
    first = [cache.get(p, 1, shape) is not None for p in paths]
    assert first == [True, True, True, False, False, False]  # 3 fit; no eviction of recent
    kept = set(cache._items)
    for _ in range(3):  # a cyclic walk: the cached bands stay, the others are not loaded
        assert [cache.get(p, 1, shape) is not None for p in paths] == first
        assert set(cache._items) == kept and cache.size <= cache.max_bytes
    too_big = raster_io.BandCache(max_bytes=1 << 30, max_band_bytes=3999)
    assert too_big.get(paths[0], 1, shape) is None  # larger than max_band_bytes


def test_band_cache_rereads_a_replaced_file(tmp_path):
    shape = (4, 5)
    s = store.AssetStore(tmp_path)
    proj = Projection("EPSG:4326", (0.5, 0.0, 100.0, 0.0, -0.5, 40.0))
    s.write_image_arrays("img", ["v"], [np.full(shape, 1.0, np.float32)], proj)
    path = s.asset_dir(s.resolve("img")) / "data.tif"
    cache = raster_io.BandCache(min_idle=0.0)
    assert float(cache.get(path, 1, shape)[0][0, 0]) == 1.0
    time.sleep(0.01)
    s.write_image_arrays("img", ["v"], [np.full(shape, 2.0, np.float32)], proj, overwrite=True)
    assert float(cache.get(path, 1, shape)[0][0, 0]) == 2.0


def test_requests_compute_on_a_bounded_pool(engine, collection, cube, monkeypatch):
    active, peak, names = [0], [0], set()
    lock = threading.Lock()
    original = reduction.compute_tiled

    def slow(bands, g):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            names.add(threading.current_thread().name)
        try:
            time.sleep(0.05)
            return original(bands, g)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(reduction, "compute_tiled", slow)
    image = ee.ImageCollection(collection).max()
    spec = _window(cube, 0, 0, 4, 4)
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            ee.data.computePixels(
                {"expression": image, "fileFormat": "NUMPY_NDARRAY", "grid": spec}
            )
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2 * server.WORKERS + 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 1 <= peak[0] <= server.WORKERS
    assert all(n.startswith("gee-cscc-compute") for n in names)
