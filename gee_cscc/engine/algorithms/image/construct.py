"""Making images and keeping their bands and properties: ``Image.load``, ``constant``,
``pixelArea``, ``pixelLonLat``, ``select``, ``rename``, ``addBands``, ``bandNames``,
``bandTypes``, ``date``, ``id`` and ``copyProperties``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.context import current
from ...core.registry import algorithm
from ...core.values import (
    Band,
    Date,
    Image,
    PixelData,
    constant_band,
)
from ...errors import EEError
from ...raster import area as _area
from ...raster.grid import Grid
from ..bands import select_names

# --- construction --------------------------------------------------------------------------


@algorithm("Image.load")
def load(id: str, version: Any = None) -> Image:  # noqa: A002 (Earth Engine's name)
    ctx = current()
    ctx.store.check_access(id, ctx.user)  # first: a non-reader learns nothing of the asset
    image = ctx.store.load_image(id)
    return image


@algorithm("Image.constant")
def constant(value: Any) -> Image:
    from ..array import is_array_value

    if is_array_value(value):  # an ee.Array: one band of array pixels
        from .arrays import constant_array_image

        return constant_array_image(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise EEError("Image.constant: the list of values is empty.")
        return Image([constant_band(_number(v), f"constant_{i}") for i, v in enumerate(value)])
    return Image([constant_band(_number(value))])


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise EEError(f"Image.constant: Invalid value {v!r}; expected a number.")
    return float(v)


@algorithm("Image.pixelArea")
def pixel_area() -> Image:
    return Image([Band("area", lambda g: (_area.pixel_area(g), True), dtype="float64")])


@algorithm("Image.pixelLonLat")
def pixel_lon_lat() -> Image:
    def lonlat(grid: Grid, index: int) -> PixelData:
        xs, ys = grid.centres()
        if grid.crs != "EPSG:4326":
            from ...raster.reproject import transformer

            tf = transformer(grid.crs, "EPSG:4326")
            xs, ys = tf.transform(np.asarray(xs, float), np.asarray(ys, float))
        return (np.asarray(xs, float) if index == 0 else np.asarray(ys, float)), True

    return Image(
        [
            Band("longitude", lambda g: lonlat(g, 0), dtype="float64"),
            Band("latitude", lambda g: lonlat(g, 1), dtype="float64"),
        ]
    )


# --- bands -------------------------------------------------------------------------------


@algorithm("Image.select")
def select(input: Image, bandSelectors: list, newNames: list | None = None) -> Image:  # noqa: A002,N803
    if not isinstance(bandSelectors, (list, tuple)):
        bandSelectors = [bandSelectors]
    idx = select_names(input.band_names, bandSelectors)
    bands = [input.bands[i] for i in idx]
    if newNames is not None:
        if len(newNames) != len(bands):
            raise EEError(
                f"Image.select: The number of new names ({len(newNames)}) does not match the "
                f"number of selected bands ({len(bands)})."
            )
        bands = [b.replace(name=str(n)) for b, n in zip(bands, newNames, strict=True)]
    return input.with_bands(bands)


@algorithm("Image.rename")
def rename(input: Image, names: list) -> Image:  # noqa: A002
    if len(names) != len(input.bands):
        raise EEError(
            f"Image.rename: Can't rename {len(input.bands)} bands to {len(names)} names: {names}."
        )
    return input.with_bands(
        [b.replace(name=str(n)) for b, n in zip(input.bands, names, strict=True)]
    )


@algorithm("Image.addBands")
def add_bands(
    dstImg: Image, srcImg: Image, names: list | None = None, overwrite: bool = False
) -> Image:  # noqa: N803
    src = srcImg.bands
    if names is not None:
        src = [srcImg.bands[i] for i in select_names(srcImg.band_names, names)]
    bands = list(dstImg.bands)
    for band in src:
        existing = [i for i, b in enumerate(bands) if b.name == band.name]
        if existing and overwrite:
            bands[existing[0]] = band
            continue
        if existing:
            taken = {b.name for b in bands}
            k = 1
            while f"{band.name}_{k}" in taken:
                k += 1
            band = band.replace(name=f"{band.name}_{k}")
        bands.append(band)
    return dstImg.with_bands(bands)


@algorithm("Image.bandNames")
def band_names(image: Image) -> list[str]:
    return image.band_names


@algorithm("Image.bandTypes")
def band_types(image: Image) -> dict:
    from ...core.values import precision_info

    return {b.name: precision_info(b.dtype) for b in image.bands}


# --- metadata -------------------------------------------------------------------------------


@algorithm("Image.date")
def image_date(image: Image) -> Date:
    t = image.properties.get("system:time_start")
    if t is None:
        raise EEError("Image.date: the image has no 'system:time_start' property.")
    return Date(t)


@algorithm("Image.id")
def image_id(element: Any) -> Any:
    return element.properties.get("system:index")


@algorithm("Image.copyProperties")
def copy_properties(
    destination: Any = None,
    source: Any = None,
    properties: list | None = None,
    exclude: list | None = None,
) -> Any:
    from ..element import copy_properties as _copy

    return _copy(destination=destination, source=source, properties=properties, exclude=exclude)
