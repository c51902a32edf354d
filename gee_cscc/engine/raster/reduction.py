"""How reducers run in the local engine: over an image stack per pixel, over a region, over records.

A reducer (:mod:`gee_cscc.engine.algorithms.reducer`) is fed :class:`~gee_cscc.engine.core.records.Batch` es of *records*.
Each record has one value per reducer input, a validity flag per input (``False`` = null,
i.e. a masked pixel or a missing property), a membership flag for unweighted reducers
(``centre``), a weight for weighted ones (``frac``) and an order key. A batch holds ``N``
records for each of ``P`` independent columns, as ``(N, P)`` arrays:

* **pixels** (``ImageCollection.reduce``, ``Image.reduce``): ``N`` = images (or bands),
  ``P`` = the pixels of one tile; every record is a member with weight 1, and a masked pixel
  is a null input. One batch per tile, tiles of :data:`TILE` rows × :data:`WIDE` ×
  :data:`TILE` columns.
* **region** (``Image.reduceRegion``, ``reduceRegions``): ``P`` = 1, ``N`` = the pixels of one
  tile of the region's bounding window. Unweighted reducers take pixels whose centre lies in
  the geometry; weighted ones take every pixel the geometry covers, weighted by the covered
  fraction (times the mask). The window is walked tile by tile, so memory stays bounded:
  sums-based reducers keep running sums, the others keep only the region's records.
* **records** (``Collection.reduceColumns``, ``List.reduce``): ``P`` = 1, values are Python
  objects (strings allowed where a reducer accepts them).

An accumulator's ``result()`` gives one column per output: a float array of shape ``(P,)``
with NaN for null, or a list of ``P`` Python objects (lists, dictionaries, arrays).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.context import check_interrupt
from ..core.pixelcache import (
    combined_key,
    current_cache,
    release_plan,
    tile_cache,
    tile_scope,
)
from ..core.records import Batch, column_value
from ..core.tile_pool import map_in_order
from ..core.values import Band, PixelData
from ..errors import EEError
from .grid import Grid
from .region_grid import (
    DEFAULT_PROJECTION_ERROR,
    RegionPlan,
    plan_region,
    reduction_grid,
    rescaled,
    too_many_pixels,
)

__all__ = [
    "TILE",
    "WIDE",
    "tile_shape",
    "REGION_TILE_BANDS",
    "region_tile_shape",
    "reduce_pixels",
    "input_stack",
    "compute_tiled",
    "shared_outputs",
    "reduction_grid",
    "rescaled",
    "too_many_pixels",
    "RegionPlan",
    "plan_region",
    "reduce_region",
    "DEFAULT_PROJECTION_ERROR",
]

#: Height in pixels of the tiles reductions walk (region windows and per-pixel stacks) and
#: that ``computePixels`` computes a larger grid in (their width: :data:`WIDE` x ``TILE``;
#: Earth Engine's tiles are 256 x 256; batch image exports walk ``TILE`` x ``TILE``).
#: A tile's intermediates are released when their last consumer has read them
#: (:func:`~gee_cscc.engine.core.pixelcache.tile_scope`); kept to the end of the tile, a
#: 38-year maintenance chain held about 350 MB at 256 x 256, four times that at 512.
TILE = 256

#: ``computePixels``, per-pixel reductions (composites) and region reductions walk tiles
#: :data:`TILE` rows high and ``WIDE`` x :data:`TILE` columns wide. Most of a tile's time is
#: Python around NumPy calls (about as many calls whatever the tile's size), and that part
#: holds the GIL; a tile twice as wide halves it per pixel. 256 x 512 is also the chunk xee
#: asks for when it pulls a run's layers, so a pull request is one tile. At 0.0125° the
#: checks took 13.9 → 8.9 s, the region sums 21.2 → 17.2 s and the pull 46.9 → 37.6 s; the
#: peak rose 957 → 1,205 MiB. Wider region tiles than pixel tiles are slower (a composite
#: asked for on a region tile is then computed in pieces): 256 x 1024 doubled the sums.
#: Batch image exports keep square tiles (each holds an export strip's work).
WIDE = 2


def tile_shape() -> tuple[int, int]:
    """``(rows, columns)`` of the tiles that per-pixel and region reductions and
    ``computePixels`` walk (:data:`TILE` and :data:`WIDE`, read when called)."""
    rows = max(1, int(TILE))
    return rows, rows * max(1, int(WIDE))


#: A region reduction of more bands than this walks shorter tiles: its tiles in flight hold
#: every band's values, so a 100-band reduction (a batch run's tables in one export) on
#: full tiles held 300 MiB more than the run's other steps at 0.0125°.
REGION_TILE_BANDS = 48


def region_tile_shape(n_bands: int) -> tuple[int, int]:
    """The tiles of a region reduction of ``n_bands`` bands: :func:`tile_shape`, with the
    rows cut so that a tile holds at most :data:`REGION_TILE_BANDS` full tiles' bands."""
    rows, cols = tile_shape()
    if n_bands > REGION_TILE_BANDS:
        rows = max(1, rows * REGION_TILE_BANDS // n_bands)
    return rows, cols


# --- per-pixel reduction of band stacks ------------------------------------------------------


def reduce_pixels(
    reducer: Any, records: Sequence[Sequence[Band | None]], grid: Grid
) -> list[PixelData]:
    """Reduce a stack of records per pixel of ``grid``.

    Parameters
    ----------
    reducer
        The reducer (``n_inputs`` bands per record).
    records
        One entry per image (or band) in order; each a list of ``n_inputs`` bands,
        None where the image lacks the band (a null input everywhere).
    grid
        The output grid; it is walked in tiles of :data:`TILE` pixels.

    Returns
    -------
    list of PixelData
        One ``(values, mask)`` per reducer output; an output is masked where it is null
        (for instance where no image has a valid pixel).
    """
    n_out = len(reducer.outputs)
    tiles = list(grid.tiles(*tile_shape()))
    single = len(tiles) == 1  # the outputs are the tile's own arrays (no grid-sized copy)
    out: list = [None] * n_out
    if not single:
        out = [(np.zeros(grid.shape), np.zeros(grid.shape, dtype=bool)) for _ in range(n_out)]
    n_rec = len(records)
    k = reducer.n_inputs
    inputs = [[record[i] if i < len(record) else None for record in records] for i in range(k)]
    for r0, c0, tile in tiles:
        check_interrupt()
        h, w = tile.shape
        p = h * w
        with tile_cache(tile, grid):
            stacks = [input_stack(bands, tile) for bands in inputs]
        batch = Batch(
            [x for x, _ in stacks],
            [v for _, v in stacks],
            np.broadcast_to(1.0, (n_rec, p)),
            np.broadcast_to(True, (n_rec, p)),
            np.arange(n_rec, dtype=np.int64),
        )
        del stacks
        acc = reducer.accumulator(p, "pixels")
        acc.add(batch)
        for j, col in enumerate(acc.result()):
            if not isinstance(col, np.ndarray) or col.dtype == object:
                raise EEError(
                    f"{reducer.name}: output '{reducer.outputs[j]}' is not a number; "
                    "array-valued pixels are not supported by the local engine."
                )
            vals = col.reshape(h, w)
            valid = ~np.isnan(vals)
            if single:
                out[j] = (np.where(valid, vals, 0.0), valid)
                continue
            out[j][0][r0 : r0 + h, c0 : c0 + w] = np.where(valid, vals, 0.0)
            out[j][1][r0 : r0 + h, c0 : c0 + w] = valid
    return out


class _Rows:
    """An ``(n, p)`` stack filled row by row, kept as one value per row while it can be.

    While every row is one value broadcast over the tile (a constant band, such as the
    centred year of a trend fit), the rows are an ``(n, 1)`` column; the first row with
    distinct values makes the full array (earlier rows filled with their values).
    """

    __slots__ = ("col", "full", "p")

    def __init__(self, n: int, p: int, dtype: Any) -> None:
        self.col = np.empty((n, 1), dtype=dtype)
        self.full: np.ndarray | None = None
        self.p = p

    def put(self, t: int, a: np.ndarray | float | bool) -> None:
        """Row ``t``: an array of the tile's pixels (any shape of ``p`` values) or one value."""
        uniform = not isinstance(a, np.ndarray) or (a.size > 0 and not any(a.strides))
        if uniform:
            value = a.flat[0] if isinstance(a, np.ndarray) else a
            if self.full is None:
                self.col[t, 0] = value
            else:
                self.full[t] = value
            return
        if self.full is None:
            self.full = np.empty((self.col.shape[0], self.p), dtype=self.col.dtype)
            self.full[:t] = self.col[:t]
        self.full[t] = a.reshape(-1)

    def array(self) -> np.ndarray:
        """The stack, read-only (it is shared by the reductions of the tile)."""
        if self.full is None:
            return np.broadcast_to(self.col, (self.col.shape[0], self.p))
        self.full.flags.writeable = False
        return self.full


def _build_stack(bands: Sequence[Band | None], tile: Grid) -> tuple[np.ndarray, np.ndarray]:
    p = tile.size
    values, mask = _Rows(len(bands), p, np.float64), _Rows(len(bands), p, bool)
    for t, band in enumerate(bands):
        check_interrupt()
        if band is None:  # the image lacks the band: a null input everywhere
            values.put(t, 0.0)
            mask.put(t, False)
            continue
        v, m = band.compute(tile)
        values.put(t, v)
        mask.put(t, m)
    return values.array(), mask.array()


def input_stack(bands: Sequence[Band | None], tile: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The ``(n, P)`` values and mask of one reducer input on ``tile``, one row per image.

    ``bands[t]`` is image ``t``'s band of that input (None: the image lacks it, a null
    input everywhere). A band that is one value over the tile stays a broadcast row, and
    the values (or the mask) are a broadcast ``(n, 1)`` column when every row is; the
    arrays are read-only. Inside a pixel cache the stack is an entry of it, keyed by the
    bands' pixel functions (:func:`~gee_cscc.engine.core.pixelcache.combined_key`): every
    reduction of the same images on the tile (a count, a mean, a fit …) reads the one
    stack, which the tile's release plan drops after its last reader.
    """
    cache = current_cache()
    key = combined_key([None if b is None else b.fn for b in bands]) if cache is not None else None
    if key is None:
        return _build_stack(bands, tile)
    return cache.get(key, tile.key, lambda: _build_stack(bands, tile))


def compute_tiled(bands: Sequence[Band], grid: Grid) -> list[PixelData]:
    """The bands' ``(values, mask)`` on ``grid``, computed tile by tile.

    A grid larger than one tile (:func:`tile_shape`) is walked in tiles, each computing
    every band in a fresh cache that releases an intermediate as soon as its last
    consumer has read it (:func:`~gee_cscc.engine.core.pixelcache.release_plan`), so the
    intermediates held at once are what one tile still needs (shared sub-expressions are
    still computed once per tile); only the output arrays cover the whole grid.
    """
    tile, across = tile_shape()
    plan = release_plan(bands, grid)
    if grid.height <= tile and grid.width <= across:
        with tile_scope(plan, grid):
            return [band.compute(grid) for band in bands]
    out = [(np.zeros(grid.shape), np.zeros(grid.shape, dtype=bool)) for _ in bands]
    for r0, c0, sub in grid.tiles(tile, across):
        check_interrupt()
        h, w = sub.shape
        with tile_scope(plan, sub):
            for band, (values, mask) in zip(bands, out, strict=True):
                v, m = band.compute(sub)
                values[r0 : r0 + h, c0 : c0 + w] = v
                mask[r0 : r0 + h, c0 : c0 + w] = m
                del v, m
    return out


def shared_outputs(
    compute: Callable[[Grid], list[PixelData]],
) -> Callable[[int], Callable[[Grid], PixelData]]:
    """Share one multi-output computation between the output bands that read it.

    ``compute(grid)`` runs once per grid, whichever output band asks first; the returned
    factory gives the pixel function of output ``i``. Inside a request or a tile, the
    outputs are an entry of its pixel cache (released with the rest of the tile's
    intermediates); outside any, the last grid's outputs are remembered here.
    """
    lock = threading.Lock()
    memo: dict[tuple, list[PixelData]] = {}

    def result(grid: Grid) -> list[PixelData]:
        cache = current_cache()
        if cache is not None:
            return cache.get(compute, grid.key, lambda: compute(grid))
        with lock:
            hit = memo.get(grid.key)
            if hit is None:
                hit = compute(grid)
                memo.clear()
                memo[grid.key] = hit
            return hit

    def output(i: int) -> Callable[[Grid], PixelData]:
        def fn(grid: Grid) -> PixelData:
            return result(grid)[i]

        return fn

    return output


def _column(a: np.ndarray) -> np.ndarray:
    """``a`` as an ``(N, 1)`` column in row-major order: one broadcast value when ``a`` is
    one (a broadcast, every membership True, every weight exactly 1), so the reducers take
    their unit-weight path with one look (``Kernel.prepare_unit``)."""
    if a.size and (not any(a.strides) or (a.all() if a.dtype == bool else bool((a == 1.0).all()))):
        return np.broadcast_to(np.array(a.flat[0], dtype=a.dtype), (a.size, 1))
    return np.array(a).reshape(-1, 1)


def reduce_region(
    reducer: Any,
    bands: Sequence[Band],
    plan: RegionPlan,
) -> list[Any]:
    """Reduce the pixels of a region; one Python value per reducer output.

    Parameters
    ----------
    reducer
        The reducer; ``bands[i]`` is its input ``i``.
    bands
        The bands to read, on the plan's grid.
    plan
        The window and geometry (from :func:`plan_region`).

    The window is walked in tiles of :func:`region_tile_shape` (shorter tiles for many
    bands, to bound the bands' values in flight) whatever the request's ``tileScale``. On
    Earth Engine, ``tileScale`` only makes aggregation tiles smaller, to keep a tile's
    memory under the per-tile limit; it does not change the result. This
    engine has no per-tile limit (the pixel cache releases a tile's intermediates after
    their last reader), so smaller tiles would only repeat the graph's per-tile work: a
    ``tileScale`` of 4 made 16 times as many tiles, and the table exports of a 0.05° batch
    run (which use it) took about 3.5 times as long. The tiles are computed on every core
    and added to the accumulator in tile order (:func:`~..core.tile_pool.map_in_order`), so
    the result is the one-thread walk's, to the last bit.
    """
    from .rasterize import centre_mask, coverage_fraction

    acc = reducer.accumulator(1, "region")
    needs = reducer.weighting()
    window = plan.grid
    width = window.width
    release = release_plan(bands, window)

    def tile_batch(item: tuple[int, int, Grid]) -> Batch | None:
        r, c, tile = item
        check_interrupt()
        if plan.geometry is None:  # every pixel taken with weight 1: one broadcast value each
            centre = np.broadcast_to(True, tile.shape)
            frac = np.broadcast_to(1.0, tile.shape)
        else:
            centre = (
                centre_mask(plan.geometry, tile)
                if "unweighted" in needs
                else np.zeros(tile.shape, dtype=bool)
            )
            frac = (
                coverage_fraction(plan.geometry, tile)
                if "weighted" in needs
                else np.zeros(tile.shape)
            )
        take = centre | (frac > 0)
        if not take.any():
            return None
        rows, cols = np.nonzero(take)
        with tile_scope(release, tile):
            data = [band.compute(tile) for band in bands]
        if rows.size == take.size:  # every pixel: a row-major copy is the same gather
            xs = [np.array(v).reshape(-1, 1) for v, _ in data]
            vs = [np.array(m).reshape(-1, 1) for _, m in data]
            fr, ce = _column(frac), _column(centre)
        else:
            xs = [v[rows, cols][:, None] for v, _ in data]
            vs = [m[rows, cols][:, None] for _, m in data]
            fr, ce = frac[rows, cols][:, None], centre[rows, cols][:, None]
        del data  # not held while the next tile is computed
        order = ((r + rows) * width + (c + cols)).astype(np.int64)
        return Batch(xs, vs, fr, ce, order)

    # tiles on every core, added in tile order: the same accumulation as one thread's walk
    for batch in map_in_order(tile_batch, window.tiles(*region_tile_shape(len(bands)))):
        if batch is not None:
            acc.add(batch)
    integers = reducer.integer_outputs
    return [column_value(col, 0, integer=i) for col, i in zip(acc.result(), integers, strict=False)]
