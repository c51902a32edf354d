"""Bounded previews of raster layers for the map figures.

A map is drawn from a preview of at most :data:`PREVIEW_MAX_CELLS` cells, whatever the size
of the grid: the layer is cut into ``step × step`` blocks (``step`` from the grid's size,
1 up to 2 M cells) and each block becomes one preview cell. The figures also make the
blocks as large as the map's pixels allow (:func:`pixel_step`: never a preview cell for
more than one output pixel), so a preview is no larger than the image drawn from it needs. Continuous layers (CSCC, PCS,
trend slope) take the mean of the block's finite cells in the vegetation-covered area (VCA);
class and count layers (trend class, maintenance surfaces, years) take the block's centre
cell, so every preview value is a value the grid really holds. Blocks at the right and
bottom edges may be partial; their preview cell is drawn over the cells they hold.

The layer is read a strip of block rows at a time (``DataArray.isel``), in float32, so
memory stays at the preview plus one strip even for a grid that does not fit in memory or
is read lazily from a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

__all__ = [
    "PREVIEW_MAX_CELLS",
    "MapGrid",
    "block_mean",
    "centre_cells",
    "lazy_difference",
    "preview_sample",
    "pixel_step",
    "preview_step",
]

#: At most this many preview cells per map (about 1,700 × 1,200 cells).
PREVIEW_MAX_CELLS = 2_000_000
#: Rows of full-resolution cells read at once (times the grid width, in float32).
_STRIP_CELLS = 4_000_000


def preview_step(ny: int, nx: int, max_cells: int | None = None) -> int:
    """Block side so that ``ceil(ny/step) × ceil(nx/step) ≤ max_cells`` (default 2 M)."""
    max_cells = max_cells or PREVIEW_MAX_CELLS
    step = max(1, math.ceil(math.sqrt(ny * nx / max_cells)))
    while math.ceil(ny / step) * math.ceil(nx / step) > max_cells:
        step += 1
    return step


def pixel_step(ny: int, nx: int, width_px: float, height_px: float) -> int:
    """The coarsest block side whose blocks are at most one output pixel wide and high on a
    map of ``width_px`` × ``height_px`` pixels: ``nx/step ≥ width_px`` and
    ``ny/step ≥ height_px`` (1 when the grid has fewer cells than pixels)."""
    fits = min(nx / max(width_px, 1.0), ny / max(height_px, 1.0))
    return max(1, math.floor(fits))


def _strips(ny: int, nx: int, step: int) -> list[tuple[int, int]]:
    rows = max(step, (_STRIP_CELLS // max(nx, 1)) // step * step)
    return [(r0, min(r0 + rows, ny)) for r0 in range(0, ny, rows)]


def _rows(da: xr.DataArray, r0: int, r1: int) -> np.ndarray:
    return np.asarray(da.isel({da.dims[-2]: slice(r0, r1)}).values, dtype=np.float32)


def block_mean(da: xr.DataArray, step: int, mask: xr.DataArray | None = None) -> np.ndarray:
    """Mean of each ``step × step`` block's finite cells (where ``mask == 1``), float32.

    The result is in the layer's own row/column order; a block without such cells is NaN.
    """
    ny, nx = da.shape[-2:]
    if step == 1 and mask is None:
        return np.asarray(da.values, dtype=np.float32)
    out = np.empty((math.ceil(ny / step), math.ceil(nx / step)), dtype=np.float32)
    for r0, r1 in _strips(ny, nx, step):
        values = _rows(da, r0, r1)
        keep = np.isfinite(values)
        if mask is not None:
            keep &= _rows(mask, r0, r1) == 1
        if step == 1:
            out[r0:r1] = np.where(keep, values, np.nan)
            continue
        values[~keep] = 0.0
        sums, counts = _block_sums(values, step), _block_sums(keep, step)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[r0 // step : r0 // step + sums.shape[0]] = np.where(
                counts > 0, sums / counts, np.float32(np.nan)
            )
    return out


def _block_sums(a: np.ndarray, step: int) -> np.ndarray:
    """Sums of ``step × step`` blocks (partial at the right and bottom edges), float32: ``step``
    strided adds along each axis (faster than ``np.add.reduceat`` on short segments)."""
    acc = a[:, 0::step].astype(np.float32)
    for j in range(1, step):
        part = a[:, j::step]
        acc[:, : part.shape[1]] += part
    out = acc[0::step].copy()
    for i in range(1, step):
        part = acc[i::step]
        out[: part.shape[0]] += part
    return out


def _centres(n: int, step: int) -> np.ndarray:
    """Index of each block's centre cell (the last cell for a short last block)."""
    return np.minimum(np.arange(0, n, step) + step // 2, n - 1)


def centre_cells(da: xr.DataArray, step: int, mask: xr.DataArray | None = None) -> np.ndarray:
    """The centre cell of each ``step × step`` block, float32; NaN where ``mask != 1``."""
    ny, nx = da.shape[-2:]
    iy, ix = _centres(ny, step), _centres(nx, step)
    pick = {da.dims[-2]: iy, da.dims[-1]: ix}
    values = np.asarray(da.isel(pick).values, dtype=np.float32)
    if mask is not None:
        inside = np.asarray(mask.isel({mask.dims[-2]: iy, mask.dims[-1]: ix}).values) == 1
        values = np.where(inside, values, np.float32(np.nan))
    return values


def _axis(da: xr.DataArray, dim: str, fallback: np.ndarray) -> np.ndarray:
    return np.asarray(da[dim].values if dim in da.coords else fallback, dtype=float)


@dataclass(frozen=True)
class MapGrid:
    """Where a layer's preview goes on the map: orientation, block side and extents.

    ``extent`` is the whole grid's (cell edges, for the axes limits); ``image_extent`` the
    preview's (its last blocks may reach past the grid by less than a block).
    """

    shape: tuple[int, int]  # the layer's (rows, columns)
    step: int
    flip_y: bool  # rows run south to north: flip to draw north up
    flip_x: bool  # columns run east to west
    extent: tuple[float, float, float, float]
    image_extent: tuple[float, float, float, float]

    @classmethod
    def of(cls, da: xr.DataArray, max_cells: int | None = None, *, step: int = 1) -> MapGrid:
        """The preview grid of ``da``: blocks of ``step`` cells, or more when the preview
        would have more than ``max_cells`` cells (default :data:`PREVIEW_MAX_CELLS`)."""
        ydim, xdim = da.dims[-2], da.dims[-1]
        ny, nx = da.sizes[ydim], da.sizes[xdim]
        x = _axis(da, xdim, np.arange(nx))
        y = _axis(da, ydim, -np.arange(ny))
        dx = abs(x[1] - x[0]) if x.size > 1 else (abs(y[1] - y[0]) if y.size > 1 else 1.0)
        dy = abs(y[1] - y[0]) if y.size > 1 else dx
        step = max(int(step), preview_step(ny, nx, max_cells or PREVIEW_MAX_CELLS))
        flip_y = bool(y.size > 1 and y[0] < y[-1])
        flip_x = bool(x.size > 1 and x[0] > x[-1])
        extent = (x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2)
        span_x = math.ceil(nx / step) * step * dx
        span_y = math.ceil(ny / step) * step * dy
        # the first block starts at the first row/column's outer edge
        x0, x1 = (extent[1] - span_x, extent[1]) if flip_x else (extent[0], extent[0] + span_x)
        y0, y1 = (extent[2], extent[2] + span_y) if flip_y else (extent[3] - span_y, extent[3])
        return cls((ny, nx), step, flip_y, flip_x, extent, (x0, x1, y0, y1))

    def north_up(self, values: np.ndarray) -> np.ndarray:
        """A preview (in the layer's order) with rows north to south, columns west to east."""
        if self.flip_y:
            values = values[::-1]
        if self.flip_x:
            values = values[:, ::-1]
        return values

    def mean(self, da: xr.DataArray, mask: xr.DataArray | None = None) -> np.ndarray:
        """North-up block means (continuous layers)."""
        return self.north_up(block_mean(da, self.step, mask))

    def centre(self, da: xr.DataArray, mask: xr.DataArray | None = None) -> np.ndarray:
        """North-up block centre cells (classes, counts, years)."""
        return self.north_up(centre_cells(da, self.step, mask))


def preview_sample(da: xr.DataArray, max_cells: int | None = None) -> np.ndarray:
    """The centre cells of the blocks of :func:`preview_step` of every 2-D slice of ``da``
    (all its cells when it has at most ``max_cells``, default 2 M), float32: a bounded
    sample for colour ramps, read without the whole layer."""
    ny, nx = da.shape[-2:]
    step = preview_step(ny, nx, max_cells)
    if step == 1:
        return np.asarray(da.values, dtype=np.float32)
    pick = {da.dims[-2]: _centres(ny, step), da.dims[-1]: _centres(nx, step)}
    return np.asarray(da.isel(pick).values, dtype=np.float32)


class _Difference(BackendArray):
    """``a - b`` of two arrays of one shape, computed for what is indexed only."""

    def __init__(self, a: xr.DataArray, b: xr.DataArray):
        self.a, self.b = a, b
        self.shape = a.shape
        self.dtype = np.result_type(a.dtype, b.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw
        )

    def _raw(self, key: tuple) -> np.ndarray:
        pick = dict(zip(self.a.dims, key, strict=True))
        return np.asarray(self.a.isel(pick).values) - np.asarray(self.b.isel(pick).values)


def lazy_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """``a - b`` (same dims and shape) as a DataArray computed when read: a preview of it
    reads a strip of each at a time instead of both layers whole."""
    if a.dims != b.dims or a.shape != b.shape:
        raise ValueError(f"a difference of {a.dims} {a.shape} and {b.dims} {b.shape}")
    data = indexing.LazilyIndexedArray(_Difference(a, b))
    coords = {d: a[d] for d in a.dims if d in a.coords}
    return xr.DataArray(xr.Variable(a.dims, data), coords=coords, attrs=dict(a.attrs))
