"""``Image.resample``, ``Image.reduceResolution`` and ``Image.paint``: changing what a pixel
stands for.

``resample`` makes an image interpolate (bilinear or bicubic, see
:mod:`gee_cscc.engine.raster.resample`) instead of taking the nearest pixel whenever it is
computed on a grid other than its default projection's.
``reduceResolution`` makes an image combine its input pixels when it is computed on a
coarser grid (``reproject``, or the grid of a request): the coverage-weighted mean of
:mod:`gee_cscc.engine.raster.aggregate`. ``paint`` burns the geometries of a feature
collection into an image with the centre rule of :mod:`gee_cscc.engine.raster.rasterize`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.records import Batch
from ...core.registry import algorithm
from ...core.values import Band, Feature, FeatureCollection, Image, PixelData
from ...errors import EEError, UnimplementedError
from ...raster.aggregate import coarsened, coarsened_mean, inputs_per_output_pixel
from ...raster.grid import Grid, Projection
from ...raster.rasterize import centre_mask
from ...raster.reduction import shared_outputs
from ...raster.resample import RESAMPLING_MODES, interpolate
from ..reducer.tree import as_reducer

__all__ = ["paint", "reduce_resolution", "resample"]


@algorithm("Image.resample")
def resample(image: Any, mode: Any = "bilinear") -> Image:
    """The image, interpolated with ``mode`` wherever it is computed off its own grid.

    Each band's default projection is its grid; on a grid pixel-aligned with it the band's
    pixels are unchanged. A band without a fixed projection (a composite or a constant)
    cannot be resampled, as Earth Engine documents.
    """
    what = "Image.resample"
    if not isinstance(image, Image):
        raise EEError(f"{what}: expected an Image, got {type(image).__name__}.")
    if mode not in RESAMPLING_MODES:
        raise EEError(
            f"{what}: Unknown resampling mode: '{mode}'. "
            f"Expected one of {', '.join(RESAMPLING_MODES)}."
        )
    bands = []
    for band in image.bands:
        native = band.projection
        if native is None:
            raise EEError(
                f"{what}: band '{band.name}' has no fixed projection (it is a composite or a "
                "constant), so it has no grid to interpolate between; resample the images "
                "the composite is made of instead."
            )

        def compute(grid: Grid, _b: Band = band, _p=native) -> PixelData:
            stored = getattr(_b.fn, "pyramid_source", None)
            if stored is not None and getattr(_b.fn, "proj", None) == _p:
                # A stored band: interpolate between the pixels of the pyramid level it is
                # read from at this grid's scale, as Earth Engine does.
                level, shape, read = stored(grid)
                return interpolate(level, shape, read, grid, mode)

            def reader(r0: int, c0: int, h: int, w: int) -> PixelData:
                return _b.compute(Grid(_p, (0, 0)).window(r0, c0, h, w))

            return interpolate(_p, None, reader, grid, mode)

        bands.append(band.replace(fn=compute))
    return image.with_bands(bands)


@algorithm("Image.reduceResolution")
def reduce_resolution(
    image: Any,
    reducer: Any,
    bestEffort: bool = False,  # noqa: N803
    maxPixels: int = 64,  # noqa: N803
) -> Image:
    """The image, combined by the reducer wherever it is computed on a coarser grid.

    Each output pixel reduces the input pixels that meet it, weighted by input mask ×
    the fraction of the output pixel they cover (:mod:`gee_cscc.engine.raster.aggregate`).
    A single-input reducer runs on each band (outputs ``<band>``, or ``<band>_<output>`` for
    several outputs); a multi-input reducer takes the bands in order (outputs named as the
    reducer's). On a grid as fine as the input's or finer the input's own pixels are used
    (nearest neighbour). With ``bestEffort``, when more than ``maxPixels`` input pixels would
    meet an output pixel, the input is read at 2, 4, 8 … times its scale (a stored band's
    pyramid level; a computed band computed at that scale) until they do not.
    """
    what = "Image.reduceResolution"
    if not isinstance(image, Image):
        raise EEError(f"{what}: expected an Image, got {type(image).__name__}.")
    r = as_reducer(reducer, what)
    best = bestEffort
    for band in image.bands:
        if band.projection is None:
            raise EEError(
                f"{what}: band '{band.name}' has no fixed projection (it is a composite or a "
                "constant); give it one with setDefaultProjection first."
            )
    limit = maxPixels
    if r.name == "Reducer.mean" and r.n_inputs == 1:
        return image.with_bands([_coarsened_mean_band(b, limit, best) for b in image.bands])
    if r.n_inputs == 1:
        groups = [([b], r, _names(b.name, r)) for b in image.bands]
    elif r.n_inputs == len(image.bands):
        groups = [(list(image.bands), r, list(r.outputs))]
    else:
        raise EEError(
            f"{what}: {r.name} has {r.n_inputs} inputs, but the image has "
            f"{len(image.bands)} bands {image.band_names}."
        )
    bands = []
    for inputs, red, names in groups:
        native = inputs[0].projection
        dtypes = red.output_dtypes([b.dtype for b in inputs])
        memo = shared_outputs(
            lambda grid, _in=inputs, _r=red, _p=native: _combined(_r, _in, _p, grid, limit, best)
        )
        for k, name in enumerate(names):
            bands.append(
                Band(
                    name,
                    memo(k),
                    dtype=dtypes[k],
                    projection=native,
                    extent=inputs[0].extent,
                )
            )
    return image.with_bands(bands)


def _names(band: str, reducer: Any) -> list[str]:
    if len(reducer.outputs) == 1:
        return [band]
    return [f"{band}_{o}" for o in reducer.outputs]


def _input_projection(native: Projection, grid: Grid, limit: int, best: bool) -> Projection:
    """The projection the input is read in: its own, or with ``bestEffort`` the first of its
    2^L-times coarser levels (same origin) at which at most ``limit`` input pixels meet an
    output pixel."""
    if not best:
        return native
    a, b, c, d, e, f = native.transform
    for level in range(40):
        k = 2**level
        proj = Projection(native.crs, (a * k, b * k, c, d * k, e * k, f))
        if inputs_per_output_pixel(grid, proj) <= limit:
            return proj
    return native


def _combined(
    reducer: Any, inputs: list[Band], native: Any, grid: Grid, limit: int, best: bool
) -> list[PixelData]:
    if grid.projection.nominal_scale <= native.nominal_scale * (1 + 1e-9):
        # As fine as the input or finer: each output pixel is one input pixel (nearest).
        data = [b.compute(grid) for b in inputs]
        acc = reducer.accumulator(grid.size, "pixels")
        one = np.ones((1, grid.size))
        acc.add(
            Batch(
                [v.reshape(1, -1) for v, _ in data],
                [m.reshape(1, -1) for _, m in data],
                one,
                one > 0,
                np.zeros(1, dtype=np.int64),
            )
        )
        out = []
        for col in acc.result():
            vals = np.asarray(col, dtype=float).reshape(grid.shape)
            ok = ~np.isnan(vals)
            out.append((np.where(ok, vals, 0.0), ok))
        return out
    source = _input_projection(native, grid, limit, best)
    return coarsened(reducer, [b.compute for b in inputs], source, grid, limit)


def _coarsened_mean_band(band: Band, limit: int, best: bool) -> Band:
    native = band.projection

    def compute(grid: Grid) -> PixelData:
        if grid.projection.nominal_scale <= native.nominal_scale * (1 + 1e-9):
            return band.compute(grid)
        source = _input_projection(native, grid, limit, best)
        return coarsened_mean(band.compute, source, grid, limit)

    return Band(band.name, compute, dtype="float64", projection=native, extent=band.extent)


def _color(feature: Any, color: Any, index: int) -> float:
    if isinstance(color, str):
        props = getattr(feature, "properties", {}) or {}
        value = props.get(color)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            name = props.get("system:index", index)
            raise EEError(
                f"Image.paint: Feature '{name}' has no numeric property '{color}' (got {value!r})."
            )
        return float(value)
    if isinstance(color, bool) or not isinstance(color, (int, float)):
        raise EEError(f"Image.paint: color must be a number or a property name, got {color!r}.")
    return float(color)


@algorithm("Image.paint")
def paint(image: Any, featureCollection: Any, color: Any = 0, width: Any = None) -> Image:  # noqa: N803
    """Every band of ``image`` with each feature's ``color`` where its geometry covers the
    pixel centre; features later in the collection paint over earlier ones, and painted
    pixels are unmasked. Outlines (``width``) are not served."""
    if not isinstance(image, Image):
        raise EEError(f"Image.paint: expected an Image, got {type(image).__name__}.")
    if width is not None:
        raise UnimplementedError("Image.paint with a line width")
    if isinstance(featureCollection, Feature):
        featureCollection = FeatureCollection([featureCollection])
    if not isinstance(featureCollection, FeatureCollection):
        raise EEError(
            "Image.paint: featureCollection must be a FeatureCollection, got "
            f"{type(featureCollection).__name__}."
        )
    items = [
        (f.geometry, _color(f, color, i))
        for i, f in enumerate(featureCollection.features)
        if getattr(f, "geometry", None) is not None
    ]
    integral = all(float(v).is_integer() for _, v in items)
    bands = []
    for band in image.bands:

        def compute(grid: Grid, _b: Band = band) -> PixelData:
            values, mask = _b.compute(grid)
            values = np.array(values, dtype=np.float64)
            mask = np.array(mask, dtype=bool)
            for geometry, value in items:
                inside = centre_mask(geometry, grid)
                values[inside] = value
                mask |= inside
            return values, mask

        is_int = np.issubdtype(np.dtype(band.dtype), np.integer)
        dtype = band.dtype if integral and is_int else "float64"
        bands.append(band.replace(fn=compute, dtype=dtype))
    return image.with_bands(bands)
