"""``Image.*`` masks: ``updateMask``, ``mask``, ``selfMask``, ``unmask`` and ``where``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.arguments import as_image
from ...core.registry import algorithm
from ...core.values import (
    Band,
    Image,
    PixelData,
    is_integer_dtype,
    is_uniform,
    pointwise,
    promote,
)
from ...errors import EEError
from ...raster.grid import Grid
from ...raster.resample import sample
from ..bands import both_valid, match_bands, operand

# --- masks -------------------------------------------------------------------------------


def _mask_pairs(image: Image, mask_img: Image, op: str) -> list[tuple[Band, Band]]:
    pairs = match_bands(image, mask_img, op)
    if len(pairs) != len(image.bands):
        raise EEError(f"Image.{op}: the mask must have 1 band or as many bands as the image.")
    return [(x, y) for x, y, _ in pairs]


@algorithm("Image.updateMask")
def update_mask(image: Image, mask: Any) -> Image:
    mask_img = as_image(mask, "Image.updateMask mask")
    bands = []
    for band, mband in _mask_pairs(image, mask_img, "updateMask"):

        def compute(p: PixelData, m: PixelData) -> PixelData:
            return p[0], both_valid(both_valid(p[1], m[1]), nonzero(m[0]))

        b = pointwise([band, mband], compute, name=band.name, dtype=band.dtype)
        bands.append(b.replace(projection=band.projection, extent=band.extent))
    return image.with_bands(bands)


def _mask_values(p: PixelData) -> PixelData:
    """A band's mask as 0/1 values (valid everywhere); one value stays one broadcast value."""
    m = p[1]
    if is_uniform(m):
        return np.broadcast_to(np.float64(m.flat[0]), m.shape), True
    return m.astype(float), True


@algorithm("Image.mask")
def mask(image: Image, mask: Any = None) -> Image:
    if mask is None:
        bands = []
        for band in image.bands:
            b = pointwise([band], _mask_values, name=band.name, dtype="float32")
            bands.append(b)
        return image.with_bands(bands)
    mask_img = as_image(mask, "Image.mask mask")
    bands = []
    for band, mband in _mask_pairs(image, mask_img, "mask"):

        def compute(p: PixelData, m: PixelData) -> PixelData:
            new = m[1] & (m[0] != 0)
            return np.where(p[1], p[0], 0.0), new

        b = pointwise([band, mband], compute, name=band.name, dtype=band.dtype)
        bands.append(b.replace(projection=band.projection, extent=band.extent))
    return image.with_bands(bands)


@algorithm("Image.selfMask")
def self_mask(image: Image) -> Image:
    return update_mask(image, image)


def nonzero(values: np.ndarray) -> np.ndarray:
    """``values != 0``; one broadcast value stays one (no array per pixel)."""
    if is_uniform(values):
        return np.broadcast_to(values.flat[0] != 0, values.shape)
    return values != 0


def footprint(band: Band, grid: Grid) -> np.ndarray:
    """Pixels of ``grid`` whose centre lies inside the band's native extent.

    All True is one True broadcast over the grid (read-only, no array per pixel): no
    extent, or a grid pixel-aligned with the extent and inside it.
    """
    if band.extent is None:
        return np.broadcast_to(True, grid.shape)
    offset = grid.offset_in(band.extent.projection)
    if offset is not None:
        row, col = offset
        height, width = band.extent.shape
        if row >= 0 and col >= 0 and row + grid.height <= height and col + grid.width <= width:
            return np.broadcast_to(True, grid.shape)

    def reader(r0: int, c0: int, h: int, w: int) -> PixelData:
        return np.zeros((h, w)), np.ones((h, w), dtype=bool)

    return sample(band.extent.projection, band.extent.shape, reader, grid)[1]


@algorithm("Image.unmask")
def unmask(input: Image, value: Any = None, sameFootprint: bool = True) -> Image:  # noqa: A002,N803
    fill = as_image(0 if value is None else value, "Image.unmask value")
    bands = []
    for band, fband, _name in match_bands(input, fill, "unmask"):
        if len(fill.bands) > 1 and len(input.bands) == 1:
            raise EEError("Image.unmask: the value image has more bands than the input.")

        def compute(grid: Grid, _b=band, _f=fband) -> PixelData:
            v, m = _b.compute(grid)
            fv, fm = _f.compute(grid)
            if is_uniform(m) and v.shape == m.shape:  # every pixel valid or none
                out_v = v if m.flat[0] else fv
                out_m = np.broadcast_to(True, m.shape) if m.flat[0] else fm
            else:
                out_v = np.where(m, v, operand(fv, v))
                out_m = np.broadcast_to(True, m.shape) if is_uniform(fm) and fm.flat[0] else m | fm
            if sameFootprint:
                out_m = both_valid(out_m, footprint(_b, grid))
            return out_v, out_m

        dtype = promote(band.dtype, fband.dtype) if is_integer_dtype(band.dtype) else band.dtype
        bands.append(
            Band(band.name, compute, dtype=dtype, projection=band.projection, extent=band.extent)
        )
    return input.with_bands(bands)


@algorithm("Image.where")
def where(input: Image, test: Any, value: Any) -> Image:  # noqa: A002
    test_img = as_image(test, "Image.where test")
    value_img = as_image(value, "Image.where value")
    bands = []
    for i, band in enumerate(input.bands):
        tb = test_img.bands[i if len(test_img.bands) > 1 else 0]
        vb = value_img.bands[i if len(value_img.bands) > 1 else 0]

        def compute(p: PixelData, t: PixelData, v: PixelData) -> PixelData:
            take = both_valid(both_valid(t[1], v[1]), nonzero(t[0]))
            return np.where(take, operand(v[0], p[0]), operand(p[0], v[0])), p[1]

        b = pointwise([band, tb, vb], compute, name=band.name, dtype=promote(band.dtype, vb.dtype))
        bands.append(b.replace(projection=band.projection, extent=band.extent))
    return input.with_bands(bands)
