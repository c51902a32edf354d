"""Image downloads: ``ee.Image.getDownloadURL`` / ``ee.data.getDownloadId`` on the local engine.

The ``ee`` client folds the download's ``region``, ``scale``, ``crs``, ``crs_transform``
and ``dimensions`` into the image itself (``Image._build_download_id_image``: a
``reproject`` and/or ``Image.clipToBoundsAndScale`` per image, or per band for
``ZIPPED_GEO_TIFF_PER_BAND``), then asks for a download id with the same call as a
thumbnail:

* ``POST /v1/projects/{p}/thumbnails`` with ``{"expression", "fileFormat", "bandIds"?,
  "filenamePrefix"?}`` where ``fileFormat`` is ``GEO_TIFF``, ``ZIPPED_GEO_TIFF``,
  ``ZIPPED_GEO_TIFF_PER_BAND`` or ``NPY`` → ``{"name": "projects/{p}/thumbnails/{id}"}``;
* ``GET /v1/projects/{p}/thumbnails/{id}:getPixels`` → the file.

What is written:

* ``GEO_TIFF``: one GeoTIFF, every band on the first band's pixel grid (the grid the
  client's transformations give the image), in the bands' common pixel type; masked
  pixels are NaN in floating-point files (nodata NaN) and 0 in integer files, as
  ``image:computePixels`` writes them.
* ``ZIPPED_GEO_TIFF``: that GeoTIFF in a zip archive, as ``{name}.tif``.
* ``ZIPPED_GEO_TIFF_PER_BAND``: one GeoTIFF per band, each on its own grid and in its own
  pixel type, as ``{name}.{band}.tif``.
* ``NPY``: a NumPy structured array, one field per band (masked pixels 0).

``{name}`` is the request's ``filenamePrefix``, else the image's asset id (its last path
segment), else ``download`` (Earth Engine's default for computed images).

Earth Engine's download limits: at most :data:`DOWNLOAD_SIDE` pixels a side ("Pixel grid
dimensions (WxH) must be less than or equal to 10000.") and :data:`DOWNLOAD_BYTES`
bytes ("Total request size (N bytes) must be less than or equal to 33554432 bytes."),
counted like ``computePixels`` requests (every band's bytes per pixel plus one byte of mask,
summed over the files). Both are checked when the id is created, so ``getDownloadURL``
raises at once, and again when the file is fetched. With scaled limits
(:meth:`Limits.scaled`) both scale with :attr:`Limits.pixels_bytes` and
:attr:`Limits.pixels_side`.

An unbounded image (a constant, or a composite without ``region``) cannot be downloaded:
the error asks for a region.

Who may fetch: as for thumbnails (:mod:`.tiles`), creating the id needs the engine's token,
and the ``getPixels`` URL needs none (``requests.get(url)`` in geemap sends no header);
the id's 128 random bits are the key, and the file is computed as the identity that
created the id.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import numpy as np

from ..core.values import Image, output_numpy_dtype
from ..errors import EEError
from ..limits import GOOGLE, Limits
from ..raster import reduction
from ..raster.grid import Grid
from .pixels import geotiff_bytes, npy_bytes, request_image

__all__ = [
    "DOWNLOAD_BYTES",
    "DOWNLOAD_FORMATS",
    "DOWNLOAD_SIDE",
    "check_download",
    "download_file",
    "download_limits",
    "download_plan",
    "is_download_format",
    "validate",
]

#: The image file formats of downloads (the others of ``thumbnails`` are thumbnails).
DOWNLOAD_FORMATS = ("GEO_TIFF", "ZIPPED_GEO_TIFF", "ZIPPED_GEO_TIFF_PER_BAND", "NPY")
#: Earth Engine's largest download (``getDownloadURL``: "Maximum request size is 32 MB").
DOWNLOAD_BYTES = 32 * 2**20
#: Earth Engine's largest download width or height ("maximum grid dimension is 10000").
DOWNLOAD_SIDE = 10_000


def is_download_format(fmt: str | None) -> bool:
    """Whether a ``thumbnails`` request's ``fileFormat`` asks for a download."""
    return str(fmt or "").upper() in DOWNLOAD_FORMATS


def download_limits(limits: Limits) -> tuple[int, int]:
    """``(bytes, side)`` of a download under ``limits`` (Google's: 32 MiB, 10000 px)."""
    nbytes = max(1, round(DOWNLOAD_BYTES * limits.pixels_bytes / GOOGLE.pixels_bytes))
    side = max(1, round(DOWNLOAD_SIDE * limits.pixels_side / GOOGLE.pixels_side))
    return nbytes, side


def _grid_of(band: Any) -> Grid:
    grid = band.extent
    if grid is None:
        raise EEError(
            f"getDownloadURL: band '{band.name}' is unbounded (a constant or a composite); "
            "give a region (and a scale or dimensions)."
        )
    if grid.width <= 0 or grid.height <= 0:
        raise EEError("getDownloadURL: the download region does not overlap the image.")
    return grid


def download_plan(image: Image, fmt: str) -> list[tuple[Image, Grid, np.dtype]]:
    """The files of a download: ``(image, grid, pixel type)`` each, in order."""
    if fmt == "ZIPPED_GEO_TIFF_PER_BAND":
        return [
            (image.with_bands([b]), _grid_of(b), output_numpy_dtype(b.dtype)) for b in image.bands
        ]
    dtypes = [output_numpy_dtype(b.dtype) for b in image.bands]
    return [(image, _grid_of(image.bands[0]), np.result_type(*dtypes))]


def check_download(plan: list[tuple[Image, Grid, np.dtype]], limits: Limits) -> None:
    """Refuse a download Earth Engine refuses for its size (see the module docstring)."""
    max_bytes, max_side = download_limits(limits)
    total = 0
    for image, grid, _ in plan:
        if grid.width > max_side or grid.height > max_side:
            raise EEError(
                f"Pixel grid dimensions ({grid.width}x{grid.height}) must be less than or "
                f"equal to {max_side}."
            )
        per_pixel = sum(output_numpy_dtype(b.dtype).itemsize + 1 for b in image.bands)
        total += grid.width * grid.height * per_pixel
    if total > max_bytes:
        raise EEError(
            f"Total request size ({total} bytes) must be less than or equal to {max_bytes} bytes."
        )


_SAFE_RE = re.compile(r"[^A-Za-z0-9_.\-]+")


def _prefix(body: dict, image: Image) -> str:
    name = body.get("filenamePrefix")
    if not name:
        asset = image.properties.get("system:id")
        name = str(asset).rstrip("/").rsplit("/", 1)[-1] if asset else "download"
    return _SAFE_RE.sub("_", str(name)) or "download"


def validate(body: dict, limits: Limits) -> str:
    """Check a download request (image, format, size) when its id is created; its format."""
    fmt = str(body.get("fileFormat") or "").upper()
    check_download(download_plan(request_image(body, "getDownloadURL"), fmt), limits)
    return fmt


def download_file(body: dict, limits: Limits) -> tuple[bytes, str, dict]:
    """The downloaded file: ``(payload, content type, headers)``."""
    fmt = str(body.get("fileFormat") or "").upper()
    image = request_image(body, "getDownloadURL")
    plan = download_plan(image, fmt)
    check_download(plan, limits)
    prefix = _prefix(body, image)
    files = []
    for part, grid, dtype in plan:
        data = reduction.compute_tiled(part.bands, grid)
        if fmt == "NPY":
            files.append(npy_bytes(grid, part, data, dtype))
        else:
            files.append(geotiff_bytes(grid, part, data, dtype))
    headers = {"Access-Control-Allow-Origin": "*"}
    if fmt == "NPY":
        headers["Content-Disposition"] = f'attachment; filename="{prefix}.npy"'
        return files[0], "application/octet-stream", headers
    if fmt == "GEO_TIFF":
        headers["Content-Disposition"] = f'attachment; filename="{prefix}.tif"'
        return files[0], "image/tiff", headers
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if fmt == "ZIPPED_GEO_TIFF":
            zf.writestr(f"{prefix}.tif", files[0])
        else:
            for (part, _, _), payload in zip(plan, files, strict=True):
                band = _SAFE_RE.sub("_", part.bands[0].name)
                zf.writestr(f"{prefix}.{band}.tif", payload)
    headers["Content-Disposition"] = f'attachment; filename="{prefix}.zip"'
    return buf.getvalue(), "application/zip", headers
