"""Reading stored GeoTIFF bands for the local engine.

:class:`GeoTiffBandReader` is the pixel function of a stored band: window reads when the
request is pixel-aligned with the band, nearest-neighbour resampling otherwise (from the
band's mean pyramid when the request is 2× coarser or more, as Earth Engine reads assets).
:class:`BandCache` keeps whole small bands in memory across requests, within a budget.
Stored GeoTIFFs stay open between reads (:func:`open_band_file`): opening one costs as much
as decompressing a tile, and a run reads every year of its input once per tile and request.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..raster.grid import Grid, Projection
from .codec import read_env

__all__ = ["BandCache", "GeoTiffBandReader", "BAND_CACHE", "open_band_file"]

#: Stored GeoTIFFs kept open between reads, in the whole process (least recently used
#: closed first). A run's readers cycle through the years of its input, tile after tile.
#: None on Windows, where a file open for reading cannot be replaced or deleted.
IDLE_HANDLES = 0 if os.name == "nt" else 96


class _OpenFiles:
    """Open ``rasterio`` datasets of stored GeoTIFFs, lent to one thread at a time.

    GDAL handles are not thread-safe, so a handle is taken out for a read and given back
    after it; two threads reading the same file at once use two handles. The key holds
    the file's inode, size and modification time: a replaced asset (the store writes by
    rename) is opened again and its old handles are closed then. A deleted asset's handles
    are closed as they fall out of the :data:`IDLE_HANDLES` most recently used (until then
    its disk space stays in use).
    """

    def __init__(self) -> None:
        self._idle: collections.OrderedDict = collections.OrderedDict()  # (key, n) -> src
        self._lock = threading.Lock()
        self._serial = 0

    @contextlib.contextmanager
    def borrow(self, path: Path) -> Iterator:
        st = os.stat(path)  # FileNotFoundError for a deleted asset
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        src, stale = None, []
        with self._lock:
            for slot in list(self._idle):
                if slot[0] == key and src is None:
                    src = self._idle.pop(slot)
                elif slot[0][0] == key[0] and slot[0] != key:  # the file was replaced
                    stale.append(self._idle.pop(slot))
        for old in stale:
            old.close()
        if src is None:
            import rasterio

            with read_env():
                src = rasterio.open(path)
        try:
            yield src
        finally:
            with self._lock:
                self._serial += 1
                self._idle[(key, self._serial)] = src
                while len(self._idle) > IDLE_HANDLES:
                    self._idle.popitem(last=False)[1].close()


_OPEN_FILES = _OpenFiles()
open_band_file = _OPEN_FILES.borrow


class BandCache:
    """Whole stored bands kept in memory across requests, within a memory budget.

    Only bands up to ``max_band_bytes`` (counted as float64) are cached; larger ones are
    read window by window. The cache holds at most ``max_bytes``. When a band does not fit,
    entries idle for ``min_idle`` seconds or more are dropped (least recently used first);
    if it still does not fit, the band is not loaded whole and is read by windows instead.
    So a walk that cycles through more bands than fit (the images of a collection, tile
    after tile) keeps the bands it has and reads the others by windows, instead of
    reloading whole bands for every tile. Entries are keyed by file modification time, so
    a replaced asset is read again.
    """

    def __init__(
        self,
        *,
        max_bytes: int = 256 << 20,
        max_band_bytes: int = 64 << 20,
        min_idle: float = 60.0,
    ) -> None:
        import collections

        self.max_bytes = max_bytes
        self.max_band_bytes = max_band_bytes
        self.min_idle = min_idle
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes of the cached arrays."""
        return self._size

    def _make_room(self, need: int, now: float) -> bool:
        while self._size + need > self.max_bytes and self._items:
            key, (old, _, used) = next(iter(self._items.items()))
            if now - used < self.min_idle:
                break
            del self._items[key]
            self._size -= old.nbytes
        return self._size + need <= self.max_bytes

    def get(self, path: Path, index: int, shape: tuple[int, int]):
        need = shape[0] * shape[1] * 8
        if need > self.max_band_bytes:
            return None
        try:
            key = (str(path), os.stat(path).st_mtime_ns, index)
        except FileNotFoundError:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items[key] = (hit[0], hit[1], now)
                self._items.move_to_end(key)
                return hit[0], hit[1]
            if not self._make_room(need, now):
                return None
        with open_band_file(path) as src:
            arr = src.read(index)
            nodata = src.nodata
        arr.setflags(write=False)
        with self._lock:
            if key not in self._items and self._make_room(arr.nbytes, now):
                self._items[key] = (arr, nodata, now)
                self._size += arr.nbytes
        return arr, nodata


BAND_CACHE = BandCache()


class GeoTiffBandReader:
    """Pixel function of a stored band: windowed GeoTIFF reads, nearest-neighbour elsewhere."""

    def __init__(
        self,
        path: Path,
        index: int,
        proj: Projection,
        shape: tuple[int, int],
        pyramiding: str = "MEAN",
    ) -> None:
        self.path = path
        self.index = index
        self.proj = proj
        self.shape = shape
        self.pyramiding = pyramiding

    def read(self, row0: int, col0: int, h: int, w: int):
        from rasterio.windows import Window

        whole = BAND_CACHE.get(self.path, self.index, self.shape)
        if whole is not None:
            arr, nodata = whole
            arr = arr[row0 : row0 + h, col0 : col0 + w]
        else:
            with open_band_file(self.path) as src:
                arr = src.read(self.index, window=Window(col0, row0, w, h))
                nodata = src.nodata
        # No data: NaN (±inf are values, as in EE) and the band's nodata value, found on the
        # stored type before the float64 copy.
        bad = np.isnan(arr) if arr.dtype.kind == "f" else None
        if nodata is not None and not np.isnan(nodata):
            bad = arr == nodata if bad is None else np.logical_or(bad, arr == nodata, out=bad)
        values = arr.astype(np.float64)
        if bad is None or not bad.any():  # every cell valid: one True broadcast, so
            return values, np.broadcast_to(True, values.shape)  # per-pixel ops skip the mask
        np.copyto(values, 0.0, where=bad)
        return values, ~bad

    def __call__(self, grid: Grid):
        from ..raster.resample import sample_pyramid

        return sample_pyramid(self.proj, self.shape, self.read, grid, self.pyramiding)

    def pyramid_source(self, grid: Grid):
        """``(projection, shape, reader)`` of the pyramid level read for ``grid``."""
        from ..raster.resample import pyramid_source

        return pyramid_source(self.proj, self.shape, self.read, grid, self.pyramiding)
