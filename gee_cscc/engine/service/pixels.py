"""``image:computePixels`` and download answers: the request's grid, band names and the
encoded bytes (a GeoTIFF or a NumPy structured array).
"""

from __future__ import annotations

import io

import numpy as np

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..core.values import Image
from ..errors import EEError
from ..raster.grid import Grid, Projection

__all__ = [
    "cast_clipped",
    "geotiff_bytes",
    "npy_bytes",
    "request_grid",
    "request_image",
    "unique_band_names",
]


def unique_band_names(names: list[str]) -> list[str]:
    """Band names made unique for a structured array: repeats get ``_1``, ``_2`` …"""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def cast_clipped(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values cast to ``dtype``: integers truncated toward zero and clipped to its range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.trunc(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def request_image(body: dict, what: str) -> Image:
    """The image of a pixels request (``expression``, selected by ``bandIds`` if given);
    ``what`` (``computePixels``, ``getDownloadURL``) starts the error texts."""
    from ..core.evaluate import evaluate
    from .evaluated import evaluate_image

    expression = body.get("expression") or {}
    image = evaluate_image(expression, evaluate, keep=lambda v: isinstance(v, Image))
    if not isinstance(image, Image):
        raise EEError(f"{what}: the expression is not an Image.")
    band_ids = body.get("bandIds")
    if band_ids:
        image = image.with_bands([image.band(b) for b in band_ids])
    if not image.bands:
        raise EEError(f"{what}: the image has no bands.")
    return image


def request_grid(spec: dict | None, image: Image) -> Grid:
    """The grid of a computePixels request (``grid`` of the body; the first band's by default)."""
    band = image.bands[0]
    spec = spec or {}
    if "crsCode" in spec:
        crs = spec["crsCode"]
    elif band.projection is not None:
        crs = band.projection.crs
    else:
        crs = "EPSG:4326"
    at = spec.get("affineTransform")
    if at:
        transform = (
            float(at.get("scaleX", 0.0)),
            float(at.get("shearX", 0.0)),
            float(at.get("translateX", 0.0)),
            float(at.get("shearY", 0.0)),
            float(at.get("scaleY", 0.0)),
            float(at.get("translateY", 0.0)),
        )
    elif band.extent is not None:
        transform = band.extent.transform
    else:
        transform = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    dims = spec.get("dimensions")
    if dims:
        shape = (int(dims.get("height", 0)), int(dims.get("width", 0)))
    elif band.extent is not None:
        shape = band.extent.shape
    else:
        raise EEError("computePixels: an image without a fixed projection needs grid dimensions.")
    return Grid(Projection(crs, transform), shape)


def geotiff_bytes(grid: Grid, image: Image, data: list, dtype: np.dtype) -> bytes:
    """The computed bands as an in-memory GeoTIFF (masked pixels: NaN for floats, 0 for integers)."""
    from affine import Affine
    from rasterio.io import MemoryFile

    nodata = float("nan") if np.issubdtype(dtype, np.floating) else None
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            height=grid.height,
            width=grid.width,
            count=len(data),
            dtype=dtype.name,
            crs=grid.crs,
            transform=Affine(*grid.transform),
            nodata=nodata,
        ) as dst:
            for i, (band, (values, mask)) in enumerate(
                zip(image.bands, data, strict=True), start=1
            ):
                fill = np.nan if nodata is not None else 0
                dst.write(cast_clipped(np.where(mask, values, fill), dtype), i)
                dst.set_band_description(i, band.name)
        return mem.read()


def npy_bytes(grid: Grid, image: Image, data: list, dtype: np.dtype) -> bytes:
    """The computed bands as a ``.npy`` structured array, one field per band (masked: 0)."""
    names = unique_band_names([b.name for b in image.bands])
    arr = np.zeros(grid.shape, dtype=[(n, dtype) for n in names])
    floating = np.issubdtype(dtype, np.floating)
    for n, (values, mask) in zip(names, data, strict=True):
        if floating:  # cast straight into the field; masked pixels keep the zeros
            np.copyto(arr[n], values, casting="unsafe", where=mask)
        else:
            arr[n] = cast_clipped(np.where(mask, values, 0), dtype)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()
