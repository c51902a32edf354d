"""Bringing pixels of a band's native grid onto a requested grid.

Every computation runs on the grid of its request (a ``computePixels`` or export grid, a map
tile, the grid of a region reduction); a band on another grid is reprojected on the fly, as
Earth Engine does. Each requested pixel centre is mapped into the band's native pixel
coordinates ``(u, v)`` (column, row, continuous, corners at integers; through pyproj when the
CRSs differ), and then:

* **nearest** (the default, :func:`sample`): the native pixel the centre falls in,
  ``(floor(u), floor(v))``; a request on a grid pixel-aligned with the native one is a plain
  window read.
* **bilinear** and **bicubic** (``Image.resample``, :func:`interpolate`): a weighted sum of the
  native pixels around the centre, with weights ``k(x - i) · k(y - j)`` for the pixel
  ``(i, j)`` whose centre is at ``(i + ½, j + ½)``, ``x = u - ½``, ``y = v - ½``. Bilinear takes
  the 2 × 2 nearest centres with ``k(t) = 1 - |t|``; bicubic takes 4 × 4 with Keys' cubic
  convolution kernel, ``a = -½`` (GDAL's and Earth Engine's "cubic")::

      k(t) = 1.5|t|³ - 2.5|t|² + 1            for |t| ≤ 1
      k(t) = -0.5|t|³ + 2.5|t|² - 4|t| + 2    for 1 < |t| < 2

  A requested pixel is masked where the native pixel it falls in is masked (or outside the
  band's extent). Masked or missing neighbours drop out of the sum and the weights of the
  others are renormalized (``Σ wᵢvᵢ / Σ wᵢ``), as GDAL's warper does with a validity mask.
  The kernel is not widened when the request is coarser than the band (it samples the
  native grid at the pixel centre).

A stored band read at a coarser scale is read from its **pyramid** first, as Earth Engine
reads an asset (:func:`sample_pyramid`): level ``L`` has pixels ``2^L`` native pixels across
(the native transform scaled by ``2^L``, same origin), each combining the unmasked native
pixels of its ``2^L × 2^L`` block by the band's pyramiding policy: ``MEAN`` (the default),
``MIN``, ``MAX``, ``MEDIAN`` (the mean of the middle two on an even count), ``MODE`` (the
smallest of equally frequent values), each masked where the whole block is masked, or
``SAMPLE`` (the block's upper-left pixel, with its mask). Levels go up until the whole band fits in one 256 × 256
tile (a band of at most 256 × 256 pixels has only its own level). The level used is the
coarsest whose pixels are no larger than the requested ones (``L = floor(log2(requested
scale / native scale))``, at most the top level), and it is then sampled nearest neighbour. Computed images have no pyramid: they are computed on the
requested grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ..core.values import PixelData
from ..errors import EEError
from .grid import Grid, Projection

__all__ = [
    "RESAMPLING_MODES",
    "interpolate",
    "native_pixel_coordinates",
    "PYRAMIDING_POLICIES",
    "PYRAMID_TILE",
    "pyramid_level",
    "pyramid_source",
    "read_aligned",
    "read_padded",
    "sample",
    "sample_pyramid",
]

#: The resampling modes of ``Image.resample`` (nearest neighbour is the default of every image).
RESAMPLING_MODES = ("bilinear", "bicubic")

Reader = Callable[[int, int, int, int], PixelData]
"""``reader(row0, col0, height, width)`` for a window inside the native extent."""


def read_padded(
    reader: Reader, shape: tuple[int, int], row0: int, col0: int, h: int, w: int
) -> PixelData:
    """Read a window that may extend past the native extent; outside pixels are masked."""
    inside = row0 >= 0 and col0 >= 0 and row0 + h <= shape[0] and col0 + w <= shape[1]
    if inside and h > 0 and w > 0:
        return reader(row0, col0, h, w)  # wholly inside: the reader's own arrays
    values = np.zeros((h, w))
    mask = np.zeros((h, w), dtype=bool)
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, shape[0]), min(col0 + w, shape[1])
    if r1 > r0 and c1 > c0:
        v, m = reader(r0, c0, r1 - r0, c1 - c0)
        values[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = v
        mask[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = m
    return values, mask


def read_aligned(
    native: Projection, shape: tuple[int, int] | None, reader: Reader, grid: Grid
) -> PixelData | None:
    """The native pixels unchanged when ``grid`` is pixel-aligned with ``native``, else None."""
    offset = grid.offset_in(native)
    if offset is None:
        return None
    row0, col0 = offset
    if shape is None:
        return reader(row0, col0, grid.height, grid.width)
    return read_padded(reader, shape, row0, col0, grid.height, grid.width)


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
    aligned = read_aligned(native, shape, reader, grid)
    if aligned is not None:
        return aligned
    u, v, finite = native_pixel_coordinates(native, grid)
    cols = np.floor(u).astype(np.int64)
    rows = np.floor(v).astype(np.int64)
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


def native_pixel_coordinates(
    native: Projection, grid: Grid
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, v, finite)``: the grid's pixel centres as native column and row coordinates.

    ``u`` and ``v`` are continuous (pixel corners at integers, so the native pixel ``(i, j)``
    spans ``[i, i + 1) × [j, j + 1)``); ``finite`` is False where a centre has no position in
    the native CRS (then ``u`` and ``v`` are 0 there).
    """
    xs, ys = grid.centres()
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if grid.crs != native.crs:
        from .crs import transformer

        tf = transformer(grid.crs, native.crs)
        xs, ys = tf.transform(xs, ys)
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    a, b, c, d, e, f = native.transform
    det = a * e - b * d
    if det == 0.0:
        raise EEError(f"Invalid projection transform: {list(native.transform)}.")
    dx = xs - c
    dy = ys - f
    finite = np.isfinite(dx) & np.isfinite(dy)
    with np.errstate(invalid="ignore"):
        u = np.where(finite, (e * dx - b * dy) / det, 0.0)
        v = np.where(finite, (-d * dx + a * dy) / det, 0.0)
    return u, v, finite


def _linear_kernel(t: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(t), 0.0, None)


def _cubic_kernel(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (GDAL's ``cubic``)."""
    t = np.abs(t)
    near = (1.5 * t - 2.5) * t * t + 1.0
    far = ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))


_KERNELS = {
    "bilinear": ((0, 1), _linear_kernel),
    "bicubic": ((-1, 0, 1, 2), _cubic_kernel),
}


def interpolate(
    native: Projection,
    shape: tuple[int, int] | None,
    reader: Reader,
    grid: Grid,
    mode: str,
) -> PixelData:
    """The native band's pixels on ``grid`` by bilinear or bicubic interpolation.

    Parameters are those of :func:`sample`, and ``mode`` (``"bilinear"`` or ``"bicubic"``).
    A grid pixel-aligned with the native one reads the native pixels unchanged.
    """
    if mode not in _KERNELS:
        raise EEError(f"Unknown resampling mode '{mode}'; expected one of {list(_KERNELS)}.")
    aligned = read_aligned(native, shape, reader, grid)
    if aligned is not None:
        return aligned
    values = np.zeros(grid.shape)
    mask = np.zeros(grid.shape, dtype=bool)
    u, v, finite = native_pixel_coordinates(native, grid)
    if not finite.any():
        return values, mask
    offsets, kernel = _KERNELS[mode]
    x = u - 0.5
    y = v - 0.5
    i0 = np.floor(x).astype(np.int64)
    j0 = np.floor(y).astype(np.int64)
    tx = x - i0
    ty = y - j0
    c0 = int(i0[finite].min()) + offsets[0]
    r0 = int(j0[finite].min()) + offsets[0]
    c1 = int(i0[finite].max()) + offsets[-1] + 1
    r1 = int(j0[finite].max()) + offsets[-1] + 1
    h, w = r1 - r0, c1 - c0
    if shape is None:
        wv, wm = reader(r0, c0, h, w)
    else:
        wv, wm = read_padded(reader, shape, r0, c0, h, w)
    wv = np.where(wm, wv, 0.0)
    # The native pixel each centre falls in decides the mask (floor(u) = i0 or i0 + 1).
    ni = np.where(finite, np.floor(u).astype(np.int64) - c0, 0)
    nj = np.where(finite, np.floor(v).astype(np.int64) - r0, 0)
    nearest_valid = finite & wm[nj, ni]
    total = np.zeros(grid.shape)
    weight = np.zeros(grid.shape)
    ii = np.where(finite, i0 - c0, 0)
    jj = np.where(finite, j0 - r0, 0)
    kx = [kernel(tx - o) for o in offsets]
    ky = [kernel(ty - o) for o in offsets]
    for oy, wy in zip(offsets, ky, strict=True):
        for ox, wx in zip(offsets, kx, strict=True):
            r = jj + oy
            c = ii + ox
            wk = wx * wy * wm[r, c]
            total += wk * wv[r, c]
            weight += wk
    ok = nearest_valid & (np.abs(weight) > 1e-12)
    np.divide(total, weight, out=values, where=ok)
    return values, ok


#: Pyramid levels stop at the first one whose whole image fits in one tile this wide.
PYRAMID_TILE = 256


def pyramid_level(native: Projection, shape: tuple[int, int], grid: Grid) -> int:
    """The pyramid level a stored band of ``shape`` is read from for ``grid`` (0 = native).

    Earth Engine builds levels until the whole image fits in one 256 × 256 tile, so an
    image of at most 256 × 256 pixels has no level but its own.
    """
    import math

    native_scale = native.nominal_scale
    if native_scale <= 0:
        return 0
    ratio = grid.projection.nominal_scale / native_scale
    if not ratio >= 2.0 * (1 - 1e-9):
        return 0
    top = 0
    while max(-(-shape[0] // 2**top), -(-shape[1] // 2**top)) > PYRAMID_TILE:
        top += 1
    return min(top, max(0, int(math.floor(math.log2(ratio) + 1e-9))))


#: Earth Engine's pyramiding policies (``PyramidingPolicy`` of the REST API).
PYRAMIDING_POLICIES = ("MEAN", "SAMPLE", "MIN", "MAX", "MODE", "MEDIAN")


def _block_mode(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The most frequent unmasked value along the last axis (smallest on ties; NaN if none)."""
    v = np.sort(np.where(mask, values, np.nan), axis=-1)  # NaN (masked) sort last
    k = v.shape[-1]
    new_run = np.ones(v.shape, dtype=bool)
    new_run[..., 1:] = v[..., 1:] != v[..., :-1]
    start = np.maximum.accumulate(np.where(new_run, np.arange(k), 0), axis=-1)
    length = np.arange(k) - start + 1  # position within its run
    length = np.where(np.isnan(v), 0, length)
    best = np.argmax(length, axis=-1)  # the first run reaching the longest length
    end = np.take_along_axis(v, best[..., None], axis=-1)[..., 0]
    return end


def _combine_blocks(values: np.ndarray, mask: np.ndarray, k: int, policy: str) -> PixelData:
    """One pyramid level from native pixels ``(h·k, w·k)``: ``(h, w)`` values and mask."""
    hk, wk = values.shape
    h, w = hk // k, wk // k
    if policy == "SAMPLE":
        return values[::k, ::k].copy(), mask[::k, ::k].copy()
    vb = values.reshape(h, k, w, k).transpose(0, 2, 1, 3).reshape(h, w, k * k)
    mb = mask.reshape(h, k, w, k).transpose(0, 2, 1, 3).reshape(h, w, k * k)
    ok = mb.any(axis=-1)
    out = np.zeros((h, w))
    if policy == "MEAN":
        n = mb.sum(axis=-1)
        np.divide(np.where(mb, vb, 0.0).sum(axis=-1), n, out=out, where=ok)
        return out, ok
    if policy == "MIN":
        out = np.where(mb, vb, np.inf).min(axis=-1)
    elif policy == "MAX":
        out = np.where(mb, vb, -np.inf).max(axis=-1)
    elif policy == "MEDIAN":
        with warnings.catch_warnings():  # all-masked blocks: "All-NaN slice encountered"
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmedian(np.where(mb, vb, np.nan), axis=-1)
    elif policy == "MODE":
        out = _block_mode(vb, mb)
    else:
        raise EEError(
            f"Unknown pyramiding policy '{policy}'; expected one of {PYRAMIDING_POLICIES}."
        )
    return np.where(ok, out, 0.0), ok


def sample_pyramid(
    native: Projection,
    shape: tuple[int, int],
    reader: Reader,
    grid: Grid,
    policy: str = "MEAN",
) -> PixelData:
    """A stored band on ``grid``: nearest neighbour from its pyramid level for the grid.

    Parameters are those of :func:`sample` (the band's extent is bounded), and the band's
    pyramiding ``policy``.
    """
    return sample(*pyramid_source(native, shape, reader, grid, policy), grid)


def pyramid_source(
    native: Projection,
    shape: tuple[int, int],
    reader: Reader,
    grid: Grid,
    policy: str = "MEAN",
) -> tuple[Projection, tuple[int, int], Reader]:
    """``(projection, shape, reader)`` of the pyramid level a stored band is read from for
    ``grid`` (the band itself at level 0); ``Image.resample`` interpolates between its pixels."""
    level = pyramid_level(native, shape, grid)
    if level == 0:
        return native, shape, reader
    k = 2**level
    a, b, c, d, e, f = native.transform
    coarse = Projection(native.crs, (a * k, b * k, c, d * k, e * k, f))
    coarse_shape = (-(-shape[0] // k), -(-shape[1] // k))

    def blocks(row0: int, col0: int, h: int, w: int) -> PixelData:
        values, mask = read_padded(reader, shape, row0 * k, col0 * k, h * k, w * k)
        return _combine_blocks(values, mask, k, policy)

    return coarse, coarse_shape, blocks
