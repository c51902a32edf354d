"""Coarsening with a reducer: the pixels of ``Image.reduceResolution``.

Earth Engine's documented rule (``ee.Image.reduceResolution``): every input pixel that meets
an output pixel is an input of the reducer, with the weight *input mask × fraction of the
output pixel covered by the input pixel*; at most ``maxPixels`` input pixels may meet one
output pixel. For the mean this is the coverage-weighted mean of the unmasked input pixels::

    out[p] = Σ_q w[p, q] · v[q] / Σ_q w[p, q],   w[p, q] = m[q] · |p ∩ q| / |p|

An output pixel is unmasked where some unmasked input pixel covers part of it
(``Σ_q w[p, q] > 0``). Earth Engine also keeps that sum as a fractional mask; the local
engine's masks are binary, which every unweighted reduction reads the same way.

Any other reducer gets, for every output pixel, one record per input pixel that meets it:
the input's value and mask, the weight ``|p ∩ q| / |p|`` (weighted reducers: ``sum``,
``mean``, ``histogram`` …) and membership (unweighted reducers: ``min``, ``max``, ``count``
with ``unweighted()`` …) for every input pixel that meets the output pixel at all. An
output pixel where the reducer has no valid input is masked (:func:`coarsened`).

Coverage fractions are exact (products of 1-D interval overlaps) when the output grid is in
the input's CRS and both are north-up. In another CRS each output pixel is cut into an
``n × n`` lattice of sub-pixels (``n`` = 4 per input pixel across, at most 64) and a
sub-pixel counts for the input pixel its centre falls in: the fractions are then the
fraction of those sub-pixel centres.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import EEError
from .grid import Grid, Projection

__all__ = ["coarsened", "coarsened_mean", "inputs_per_output_pixel"]

PixelData = tuple[np.ndarray, np.ndarray]
Reader = Callable[[Grid], PixelData]

#: Sub-pixels per input pixel across, and at most per output pixel across (other CRS).
_SUBSAMPLE_PER_INPUT = 4
_MAX_SUBSAMPLE = 64


def _overlaps(out_edges: np.ndarray, in_edges: np.ndarray) -> np.ndarray:
    """``(n_out, n_in)`` lengths of overlap between two sets of ascending intervals."""
    lo = np.maximum(out_edges[:-1, None], in_edges[None, :-1])
    hi = np.minimum(out_edges[1:, None], in_edges[None, 1:])
    return np.clip(hi - lo, 0.0, None)


def _aligned(grid: Grid, native: Projection) -> bool:
    return (
        grid.crs == native.crs
        and grid.projection.is_axis_aligned()
        and native.is_axis_aligned()
        and grid.transform[0] > 0
        and native.transform[0] > 0
        and grid.transform[4] < 0
        and native.transform[4] < 0
    )


def _native_window(grid: Grid, native: Projection) -> tuple[int, int, int, int]:
    """``(row0, col0, h, w)`` of the native pixels that meet ``grid`` (same CRS, north up)."""
    xmin, ymin, xmax, ymax = grid.bounds()
    a, _, c, _, e, f = native.transform
    eps = 1e-9
    c0 = math.floor((xmin - c) / a + eps)
    c1 = math.ceil((xmax - c) / a - eps)
    r0 = math.floor((ymax - f) / e + eps)
    r1 = math.ceil((ymin - f) / e - eps)
    return r0, c0, max(r1 - r0, 0), max(c1 - c0, 0)


def inputs_per_output_pixel(grid: Grid, native: Projection) -> int:
    """The most input pixels of ``native`` that meet one output pixel of ``grid``."""
    if _aligned(grid, native):
        a, _, c, _, e, f = native.transform
        ga, _, gc, _, ge, gf = grid.transform
        rows = _count_touching(-gf, -ge, -f, -e, grid.height)
        cols = _count_touching(gc, ga, c, a, grid.width)
        return rows * cols
    # Another CRS: an output pixel ``ratio`` input pixels across meets at most
    # ``ceil(ratio) + 1`` of them along each axis.
    ratio = grid.projection.nominal_scale / max(native.nominal_scale, 1e-300)
    return (math.ceil(ratio - 1e-9) + 1) ** 2


def _count_touching(o0: float, step: float, i0: float, istep: float, n: int) -> int:
    """The most input intervals ``[i0 + k·istep, i0 + (k+1)·istep)`` that one output interval
    ``[o0 + j·step, o0 + (j+1)·step)`` meets (both steps > 0)."""
    starts = o0 + step * np.arange(max(n, 1))
    k0 = np.floor((starts - i0) / istep + 1e-9)
    k1 = np.ceil((starts + step - i0) / istep - 1e-9)
    return int(np.max(k1 - k0))


def _subsamples(grid: Grid, native: Projection) -> int:
    ratio = grid.projection.nominal_scale / max(native.nominal_scale, 1e-300)
    return int(min(_MAX_SUBSAMPLE, max(1, math.ceil(_SUBSAMPLE_PER_INPUT * ratio))))


def coarsened_mean(read: Reader, native: Projection, grid: Grid, max_pixels: int) -> PixelData:
    """The coverage-weighted mean of ``read``'s pixels of ``native`` on every pixel of ``grid``.

    Parameters
    ----------
    read
        ``read(window_grid) -> (values, mask)`` on windows of ``native``.
    native
        The input's projection.
    grid
        The output pixels.
    max_pixels
        ``maxPixels`` of ``reduceResolution``.

    Raises
    ------
    EEError
        More than ``max_pixels`` input pixels meet one output pixel.
    """
    need = inputs_per_output_pixel(grid, native)
    if need > max_pixels:
        raise EEError(
            f"Image.reduceResolution: Too many input pixels per output pixel. Need {need}, "
            f"but only {max_pixels} allowed (maxPixels)."
        )
    if grid.size == 0:
        return np.zeros(grid.shape), np.zeros(grid.shape, bool)
    if _aligned(grid, native):
        return _aligned_mean(read, native, grid)
    return _lattice_mean(read, native, grid)


def _aligned_mean(read: Reader, native: Projection, grid: Grid) -> PixelData:
    r0, c0, h, w = _native_window(grid, native)
    window = Grid(native, (0, 0)).window(r0, c0, h, w)
    values, mask = read(window)
    a, _, c, _, e, f = native.transform
    ga, _, gc, _, ge, gf = grid.transform
    # Distances measured down (rows) and right (columns) from each grid's origin.
    in_x = c + a * (c0 + np.arange(w + 1))
    out_x = gc + ga * np.arange(grid.width + 1)
    in_y = -(f + e * (r0 + np.arange(h + 1)))
    out_y = -(gf + ge * np.arange(grid.height + 1))
    wx = _overlaps(out_x, in_x) / abs(ga)  # (W, w): fraction of the output width
    wy = _overlaps(out_y, in_y) / abs(ge)  # (H, h)
    m = mask.astype(np.float64)
    v = np.where(mask, values, 0.0)
    weight = wy @ m @ wx.T
    total = wy @ (v * m) @ wx.T
    ok = weight > 0
    out = np.zeros(grid.shape)
    np.divide(total, weight, out=out, where=ok)
    return out, ok


def _lattice_pixels(
    native: Projection, grid: Grid
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int]] | None:
    """The native pixel under each sub-pixel centre of ``grid`` (``n × n`` per pixel).

    Returns ``(n, rows, cols, finite, (r0, c0, h, w))`` (rows and columns relative to the
    native window ``r0, c0, h, w`` that holds them all), or None when no sub-pixel has a
    position in the native CRS.
    """
    from .reproject import transformer

    n = _subsamples(grid, native)
    fine_t = list(grid.transform)
    fine_t[0] /= n
    fine_t[1] /= n
    fine_t[3] /= n
    fine_t[4] /= n
    fine = Grid(Projection(grid.crs, tuple(fine_t)), (grid.height * n, grid.width * n))
    xs, ys = fine.centres()
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if fine.crs != native.crs:
        xs, ys = transformer(fine.crs, native.crs).transform(xs, ys)
        xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    a, b, c, d, e, f = native.transform
    det = a * e - b * d
    cols = np.floor((e * (xs - c) - b * (ys - f)) / det)
    rows = np.floor((-d * (xs - c) + a * (ys - f)) / det)
    finite = np.isfinite(cols) & np.isfinite(rows)
    if not finite.any():
        return None
    cols = np.where(finite, cols, 0).astype(np.int64)
    rows = np.where(finite, rows, 0).astype(np.int64)
    r0, c0 = int(rows[finite].min()), int(cols[finite].min())
    h = int(rows[finite].max()) - r0 + 1
    w = int(cols[finite].max()) - c0 + 1
    return n, rows - r0, cols - c0, finite, (r0, c0, h, w)


def _lattice_mean(read: Reader, native: Projection, grid: Grid) -> PixelData:
    found = _lattice_pixels(native, grid)
    if found is None:
        return np.zeros(grid.shape), np.zeros(grid.shape, bool)
    n, rows, cols, finite, (r0, c0, h, w) = found
    values, mask = read(Grid(native, (0, 0)).window(r0, c0, h, w))
    sub_m = finite & mask[rows, cols]
    sub_v = np.where(sub_m, values[rows, cols], 0.0)
    shape4 = (grid.height, n, grid.width, n)
    weight = sub_m.reshape(shape4).sum(axis=(1, 3)).astype(np.float64)
    total = sub_v.reshape(shape4).sum(axis=(1, 3))
    ok = weight > 0
    out = np.zeros(grid.shape)
    np.divide(total, weight, out=out, where=ok)
    return out, ok


# --- any reducer ------------------------------------------------------------------------------

#: The most (output pixel, input pixel) records one reducer batch holds.
_BATCH_RECORDS = 1 << 20


def _aligned_contributions(
    native: Projection, grid: Grid
) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
    """``(window, index, frac)`` of the input pixels meeting each output pixel (same CRS).

    ``index`` and ``frac`` are ``(P, K)``: the flat index into the native window of the
    ``K`` input pixels meeting output pixel ``p`` (-1 for none) and the fraction of the output
    pixel each covers.
    """
    r0, c0, h, w = _native_window(grid, native)
    a, _, c, _, e, f = native.transform
    ga, _, gc, _, ge, gf = grid.transform
    wx = _overlaps(gc + ga * np.arange(grid.width + 1), c + a * (c0 + np.arange(w + 1)))
    wy = _overlaps(-(gf + ge * np.arange(grid.height + 1)), -(f + e * (r0 + np.arange(h + 1))))
    wx /= abs(ga)
    wy /= abs(ge)

    def runs(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per output row/column: the input indices that meet it (-1 padded) and weights."""
        meets = weights > 0
        count = meets.sum(axis=1)
        k = max(int(count.max()) if count.size else 0, 1)
        first = np.argmax(meets, axis=1)
        idx = first[:, None] + np.arange(k)[None, :]
        ok = np.arange(k)[None, :] < count[:, None]
        idx = np.where(ok, idx, 0)
        wt = np.where(ok, np.take_along_axis(weights, idx, axis=1), 0.0)
        return np.where(ok, idx, -1), wt

    ri, rw = runs(wy)  # (H, ky)
    ci, cw = runs(wx)  # (W, kx)
    ky, kx = ri.shape[1], ci.shape[1]
    index = ri[:, None, :, None] * w + ci[None, :, None, :]
    index = np.where((ri[:, None, :, None] >= 0) & (ci[None, :, None, :] >= 0), index, -1)
    frac = rw[:, None, :, None] * cw[None, :, None, :]
    shape = (grid.height * grid.width, ky * kx)
    return (r0, c0, h, w), index.reshape(shape), frac.reshape(shape)


def _lattice_contributions(
    native: Projection, grid: Grid
) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """As :func:`_aligned_contributions`, from the sub-pixel lattice (another CRS)."""
    found = _lattice_pixels(native, grid)
    if found is None:
        return None
    n, rows, cols, finite, window = found
    flat = np.where(finite, rows * window[3] + cols, -1)
    per_pixel = flat.reshape(grid.height, n, grid.width, n).transpose(0, 2, 1, 3)
    per_pixel = per_pixel.reshape(grid.height * grid.width, n * n)
    ordered = np.sort(per_pixel, axis=1)
    first = np.ones(ordered.shape, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    # Each distinct input pixel once, weighted by the share of sub-pixels it holds.
    start = np.maximum.accumulate(np.where(first, np.arange(n * n)[None, :], 0), axis=1)
    counts = np.zeros(ordered.shape)
    np.add.at(counts, (np.arange(ordered.shape[0])[:, None], start), 1.0)
    keep = first & (ordered >= 0)
    index = np.where(keep, ordered, -1)
    frac = np.where(keep, counts / (n * n), 0.0)
    return window, index, frac


def coarsened(
    reducer: Any, reads: list[Reader], native: Projection, grid: Grid, max_pixels: int
) -> list[PixelData]:
    """Every output of ``reducer`` over the input pixels meeting each pixel of ``grid``.

    Parameters
    ----------
    reducer
        A reducer whose input ``i`` is ``reads[i]`` (a band on windows of ``native``).
    reads, native, grid, max_pixels
        As for :func:`coarsened_mean`.

    Returns
    -------
    list of PixelData
        One ``(values, mask)`` per reducer output; masked where the output is null.
    """
    from ..core.records import Batch

    need = inputs_per_output_pixel(grid, native)
    if need > max_pixels:
        raise EEError(
            f"Image.reduceResolution: Too many input pixels per output pixel. Need {need}, "
            f"but only {max_pixels} allowed (maxPixels)."
        )
    n_out = len(reducer.outputs)
    empty = [(np.zeros(grid.shape), np.zeros(grid.shape, bool)) for _ in range(n_out)]
    if grid.size == 0:
        return empty
    found = (
        _aligned_contributions(native, grid)
        if _aligned(grid, native)
        else _lattice_contributions(native, grid)
    )
    if found is None:
        return empty
    (r0, c0, h, w), index, frac = found
    window = Grid(native, (0, 0)).window(r0, c0, h, w)
    data = [read(window) for read in reads]
    flat_v = [v.reshape(-1) for v, _ in data]
    flat_m = [m.reshape(-1) for _, m in data]
    outputs = [np.full(grid.size, np.nan) for _ in range(n_out)]
    k = index.shape[1]
    step = max(1, _BATCH_RECORDS // max(k, 1))
    for p0 in range(0, grid.size, step):
        idx = index[p0 : p0 + step].T  # (K, P)
        wt = frac[p0 : p0 + step].T
        has = idx >= 0
        safe = np.where(has, idx, 0)
        batch = Batch(
            [v[safe] for v in flat_v],
            [m[safe] & has for m in flat_m],
            wt,
            has & (wt > 0),
            np.arange(k, dtype=np.int64),
        )
        acc = reducer.accumulator(idx.shape[1], "pixels")
        acc.add(batch)
        for j, col in enumerate(acc.result()):
            if not isinstance(col, np.ndarray) or col.dtype == object:
                raise EEError(
                    f"Image.reduceResolution: {reducer.name} output '{reducer.outputs[j]}' is "
                    "not a number; array-valued pixels are not supported by the local engine."
                )
            outputs[j][p0 : p0 + step] = col
    out = []
    for col in outputs:
        vals = col.reshape(grid.shape)
        ok = ~np.isnan(vals)
        out.append((np.where(ok, vals, 0.0), ok))
    return out
