"""Bringing pixels of a band's native grid onto a requested grid.

Earth Engine resamples with nearest neighbour unless told otherwise. A request on a grid
that is pixel-aligned with the native one is a plain window read; anything else maps each
requested pixel centre into the native grid (through pyproj when the CRSs differ) and
takes the native pixel it falls in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.values import PixelData
from .grid import Grid, Projection

__all__ = ["sample", "read_padded"]

Reader = Callable[[int, int, int, int], PixelData]
"""``reader(row0, col0, height, width)`` for a window inside the native extent."""


def read_padded(
    reader: Reader, shape: tuple[int, int], row0: int, col0: int, h: int, w: int
) -> PixelData:
    """Read a window that may extend past the native extent; outside pixels are masked."""
    values = np.zeros((h, w))
    mask = np.zeros((h, w), dtype=bool)
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, shape[0]), min(col0 + w, shape[1])
    if r1 > r0 and c1 > c0:
        v, m = reader(r0, c0, r1 - r0, c1 - c0)
        values[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = v
        mask[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = m
    return values, mask


def sample(
    native: Projection, shape: tuple[int, int] | None, reader: Reader, grid: Grid
) -> PixelData:
    """The native band's pixels on ``grid`` (nearest neighbour).

    Parameters
    ----------
    native
        The band's native projection.
    shape
        The native extent ``(height, width)``, or None for an unbounded band (then
        ``reader`` must accept any window).
    reader
        Reads a window of the native grid.
    grid
        The requested grid.
    """
    bounded_shape = shape if shape is not None else (2**62, 2**62)
    offset = grid.offset_in(native)
    if offset is not None:
        row0, col0 = offset
        if shape is None:
            return reader(row0, col0, grid.height, grid.width)
        return read_padded(reader, shape, row0, col0, grid.height, grid.width)
    xs, ys = grid.centres()
    if grid.crs != native.crs:
        from .reproject import transformer

        tf = transformer(grid.crs, native.crs)
        xs, ys = tf.transform(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    a, b, c, d, e, f = native.transform
    det = a * e - b * d
    dx = np.asarray(xs, dtype=float) - c
    dy = np.asarray(ys, dtype=float) - f
    cols = np.floor((e * dx - b * dy) / det).astype(np.int64)
    rows = np.floor((-d * dx + a * dy) / det).astype(np.int64)
    finite = np.isfinite(xs) & np.isfinite(ys)
    inside = finite & (rows >= 0) & (cols >= 0)
    inside &= (rows < bounded_shape[0]) & (cols < bounded_shape[1])
    values = np.zeros(grid.shape)
    mask = np.zeros(grid.shape, dtype=bool)
    if not inside.any():
        return values, mask
    r0, r1 = int(rows[inside].min()), int(rows[inside].max()) + 1
    c0, c1 = int(cols[inside].min()), int(cols[inside].max()) + 1
    wv, wm = reader(r0, c0, r1 - r0, c1 - c0)
    ri = rows[inside] - r0
    ci = cols[inside] - c0
    values[inside] = wv[ri, ci]
    mask[inside] = wm[ri, ci]
    return values, mask
