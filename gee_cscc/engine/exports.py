"""What the local engine's export and ingestion operations do.

:func:`run_operation` is called by :mod:`gee_cscc.engine.operations` on a worker thread for
every ``image:export``, ``table:export``, ``image:import`` and ``table:import`` request (bodies
as in shared/reference/ee-protocol.md §4–§5). It returns the operation's destination URIs;
an :class:`~gee_cscc.engine.errors.EEError` fails the operation with its message, a set
``cancel_event`` cancels it (checked between tiles).

Where things land (``<root>`` is the asset store folder):

- asset exports and ingestions: in the store, readable back with ``ee.Image(id)`` /
  ``ee.FeatureCollection(id)``;
- Drive exports: ``<root>/drive/<folder>/<filenamePrefix>.<ext>`` (no folder: ``<root>/drive/``);
- Cloud Storage exports: ``<root>/gcs/<bucket>/<filenamePrefix>.<ext>``;
- ingestion sources ``gs://bucket/object`` are read from ``<root>/gcs/bucket/object``.

Everything is written under a temporary name and renamed at the end, so a failed or
cancelled task leaves nothing behind.

Image exports follow Earth Engine:

- The export grid is the image's extent: the client folds region, scale, crs, crsTransform
  and dimensions into the expression (``Image.clipToBoundsAndScale``, ``Image.reproject``,
  ``Image.clip``). An image without one (a constant, a composite not clipped to a region)
  fails with "Unable to export unbounded image." like Earth Engine's. All bands are computed
  on the first band's grid, tile by tile (bounded memory).
- ``maxPixels`` (default 1e8) bounds the grid's pixel count.
- GeoTIFF files: all bands share one data type; integer bands of different types are widened
  to a common integer type, and a mix of integer and floating-point bands fails with Earth
  Engine's "Exported bands must have compatible data types" message (cast with ``toFloat``
  or ``toDouble`` first). Masked pixels are written as ``geoTiffOptions.noData`` when given
  (also recorded as the file's nodata value), else as 0 with no nodata value, as Earth Engine
  does. ``cloudOptimized`` gives a Cloud-Optimized GeoTIFF (GDAL's COG driver, deflate).
  ``tileDimensions`` (``fileDimensions``) smaller than the grid splits the output into files
  named ``<prefix>-<row offset:010d>-<col offset:010d>.tif``; ``skipEmptyFiles`` leaves out
  files with no unmasked pixel. TFRecord is not implemented.
- Asset exports keep every band's pixel type and mask, and the image's properties (without
  the ``system:`` ones other than ``system:time_start``/``system:time_end``). ``overwrite``
  false and an existing asset fail with "Cannot overwrite asset '<id>'.". Missing parent
  folders are created. Pyramiding policies are accepted and not used (the local store keeps
  no pyramids).

Table exports:

- CSV: columns ``system:index``, then every property name in sorted order, then ``.geo``
  (the geometry as compact GeoJSON; a feature without geometry gets
  ``{"type":"MultiPoint","coordinates":[]}``, as Earth Engine writes). With ``selectors``, the
  columns are exactly the selectors in their order (``system:index`` and ``.geo`` only when
  listed). Numbers are written in Python's shortest form, lists and dictionaries as JSON,
  missing values as empty cells. (Column order and ``.geo`` form follow Earth Engine's CSV
  exports as far as we know them.)
- GeoJSON: a FeatureCollection with each feature's ``system:index`` as ``id``; selectors
  restrict the properties. KML, KMZ, SHP and TFRecord are not implemented.
- Table assets keep geometries, properties and the collection's properties.
- ``maxVertices``: a geometry with more vertices than that fails (the local engine does not
  cut geometries).

Ingestion (``image:import``): one GeoTIFF source per tileset (``uris`` may add sidecar files),
tilesets on the same grid; ``bands`` pick ``tilesetId``/``tilesetBandIndex`` (default: every
band of every tileset, named ``b1``, ``b2`` …); ``missingData.values`` (image or band level)
and the file's nodata value mask pixels; ``startTime``/``endTime`` become
``system:time_start``/``system:time_end``; ``properties`` are kept. ``maskBands`` and
mosaics of several sources per tileset are not implemented. ``table:import`` reads a CSV
(geometry from ``primaryGeometryColumn`` as GeoJSON or WKT, default ``.geo``, or from
``xColumn``/``yColumn``) or a GeoJSON file.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .context import RequestContext, request_context
from .errors import AlreadyExistsError, EEError, UnimplementedError
from .grid import Grid
from .operations import CancelledError
from .reduction import compute_tiled
from .serialize import to_info
from .store import AssetName, AssetStore
from .values import Band, Image, output_numpy_dtype, pixel_cache

__all__ = [
    "run_operation",
    "drive_path",
    "gcs_path",
    "gcs_uri_to_path",
    "DEFAULT_MAX_PIXELS",
    "STRIP_ROWS",
]

#: Earth Engine's default ``maxPixels`` of an image export.
DEFAULT_MAX_PIXELS = 100_000_000
#: Rows and columns of the windows an image export computes at once (bounds memory).
STRIP_ROWS = 512
STRIP_COLS = 4096

ProgressFn = Callable[[float], None]

_GDAL_NAMES = {
    "uint8": "UInt8",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "int64": "Int64",
    "float32": "Float32",
    "float64": "Float64",
}
_EMPTY_GEO = {"type": "MultiPoint", "coordinates": []}


def run_operation(
    ctx: RequestContext,
    kind: str,
    verb: str,
    body: Mapping[str, Any],
    cancel_event: threading.Event,
    progress: ProgressFn | None = None,
) -> list[str]:
    """Run one export or ingestion; returns its destination URIs.

    Parameters
    ----------
    ctx
        The request context of the caller who started the operation (store and user).
    kind
        ``image`` or ``table`` (``video`` and ``map`` are not implemented).
    verb
        ``export`` or ``import``.
    body
        The request body the ``ee`` client sent.
    cancel_event
        Set when the operation is cancelled; checked between tiles.
    progress
        Called with the fraction done (0–1) as the work proceeds.

    Raises
    ------
    EEError
        The operation fails with this message.
    CancelledError
        The operation was cancelled.
    """
    report = progress or (lambda fraction: None)
    with request_context(ctx):
        if (kind, verb) == ("image", "export"):
            return _export_image(ctx, body, cancel_event, report)
        if (kind, verb) == ("table", "export"):
            return _export_table(ctx, body, cancel_event, report)
        if (kind, verb) == ("image", "import"):
            return _import_image(ctx, body, cancel_event, report)
        if (kind, verb) == ("table", "import"):
            return _import_table(ctx, body, cancel_event, report)
    raise EEError(f"{kind}:{verb} is not implemented by the local engine.")


# --- small helpers ----------------------------------------------------------------------------


def _check_cancel(cancel_event: threading.Event) -> None:
    if cancel_event.is_set():
        raise CancelledError()


def _wrapped_int(value: Any, default: int | None) -> int | None:
    """An Int64Value/Int32Value (``{"value": "123"}``), a number or a numeric string."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        value = value.get("value", default)
        if value is None:
            return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EEError(f"Invalid integer value: {value!r}.") from None


def _wrapped_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.get("floatValue", value.get("value"))
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EEError(f"Invalid number: {value!r}.") from None


def _relative_parts(text: str, what: str) -> list[str]:
    """The path parts of a Drive folder, bucket or prefix; rejects ``..`` and absolute paths."""
    if not isinstance(text, str):
        raise EEError(f"Invalid {what}: {text!r}.")
    parts = [p for p in PurePosixPath(text.replace("\\", "/")).parts if p not in ("", "/")]
    if text.startswith("/") or any(p in (".", "..") for p in parts):
        raise EEError(f"Invalid {what}: {text!r}.")
    return parts


def drive_path(root: Path, folder: str | None, prefix: str, ext: str) -> Path:
    """``<root>/drive/<folder>/<prefix>.<ext>`` (a Drive export's local file)."""
    base = Path(root) / "drive"
    if folder:
        base = base.joinpath(*_relative_parts(folder, "Drive folder"))
    parts = _relative_parts(prefix, "file name prefix")
    if not parts:
        raise EEError("Invalid file name prefix: ''.")
    return base.joinpath(*parts[:-1], f"{parts[-1]}.{ext}")


def gcs_path(root: Path, bucket: str, prefix: str, ext: str | None = None) -> Path:
    """``<root>/gcs/<bucket>/<prefix>[.<ext>]`` (a Cloud Storage object's local file)."""
    bparts = _relative_parts(bucket, "bucket")
    if len(bparts) != 1:
        raise EEError(f"Invalid bucket: {bucket!r}.")
    parts = _relative_parts(prefix, "file name prefix")
    if not parts:
        raise EEError("Invalid file name prefix: ''.")
    last = f"{parts[-1]}.{ext}" if ext else parts[-1]
    return Path(root).joinpath("gcs", bparts[0], *parts[:-1], last)


def gcs_uri_to_path(root: Path, uri: str) -> Path:
    """The local file of a ``gs://bucket/object`` URI."""
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise EEError(f"Invalid Cloud Storage URI {uri!r}: expected gs://bucket/object.")
    bucket, _, obj = uri[len("gs://") :].partition("/")
    if not bucket or not obj:
        raise EEError(f"Invalid Cloud Storage URI {uri!r}: expected gs://bucket/object.")
    return gcs_path(root, bucket, obj)


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _millis(value: Any, what: str) -> float:
    """Milliseconds since the epoch of an RFC 3339 timestamp (or a number of ms)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Mapping) and "seconds" in value:
        return float(value["seconds"]) * 1000.0 + float(value.get("nanos", 0)) / 1e6
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            t = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise EEError(f"Invalid {what}: {value!r}.") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return t.timestamp() * 1000.0
    raise EEError(f"Invalid {what}: {value!r}.")


def _evaluate(body: Mapping[str, Any]) -> Any:
    from .evaluate import evaluate

    expression = body.get("expression")
    if not expression:
        raise EEError("The export request has no expression.")
    with pixel_cache():
        return evaluate(expression)


def _asset_destination(
    ctx: RequestContext, options: Mapping[str, Any], kind: str
) -> tuple[AssetName, bool]:
    dest = options.get("earthEngineDestination") or {}
    name = dest.get("name")
    if not name:
        raise EEError("An asset export needs earthEngineDestination.name.")
    store: AssetStore = ctx.store
    asset = store.resolve(name)
    overwrite = bool(dest.get("overwrite", False))
    _check_destination(ctx, asset, overwrite, kind)
    return asset, overwrite


def _check_destination(
    ctx: RequestContext, asset: AssetName, overwrite: bool, kind: str = "IMAGE"
) -> None:
    """Fail early (before computing) when the destination asset may not be written.

    An existing asset is replaced only with ``overwrite`` and only by one of its own type
    (an export never replaces a folder or a collection).
    """
    store: AssetStore = ctx.store
    if not asset.path:
        raise EEError(f"Invalid asset id: '{asset.id}'.")
    if store.exists(asset):
        if not overwrite:
            raise AlreadyExistsError(f"Cannot overwrite asset '{asset.id}'.")
        store.check_access(asset, ctx.user, write=True)
        existing = store.meta(asset).get("type")
        if existing != kind:
            raise AlreadyExistsError(
                f"Cannot overwrite asset '{asset.id}': it is a {existing}, not a {kind}."
            )
    parent = asset.parent()
    while parent.path and not store.exists(parent):
        parent = parent.parent()
    if parent.path:
        store.check_access(parent, ctx.user, write=True)


def _store_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """An element's properties as an asset keeps them (no ``system:`` ones but the times)."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith("system:") and key not in ("system:time_start", "system:time_end"):
            continue
        out[key] = to_info(value)
    return out


# --- image exports ----------------------------------------------------------------------------


def _export_image(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    store: AssetStore = ctx.store
    asset_opts = body.get("assetExportOptions")
    file_opts = body.get("fileExportOptions")
    if asset_opts is None and file_opts is None:
        raise EEError("An image export needs assetExportOptions or fileExportOptions.")
    asset: AssetName | None = None
    overwrite = False
    if asset_opts is not None:
        asset, overwrite = _asset_destination(ctx, asset_opts, "IMAGE")
    else:
        fmt = str(file_opts.get("fileFormat") or "GEO_TIFF").upper()
        if fmt not in ("GEO_TIFF", "GEOTIFF"):
            raise UnimplementedError(f"Image export to fileFormat {fmt}")
    image = _evaluate(body)
    if not isinstance(image, Image):
        raise EEError(f"Export.image: the expression is a {type(image).__name__}, not an Image.")
    if not image.bands:
        raise EEError("Export.image: the image has no bands.")
    grid = image.bands[0].extent
    if grid is None:
        raise EEError(
            "Unable to export unbounded image. Give a region and scale, or crs, "
            "crsTransform and dimensions."
        )
    if grid.size == 0:
        raise EEError("Export region contains no pixels.")
    max_pixels = _wrapped_int(body.get("maxPixels"), DEFAULT_MAX_PIXELS)
    if grid.size > max_pixels:
        raise EEError(
            f"Export too large: specified {grid.size} pixels (max: {max_pixels}). "
            "Specify higher maxPixels value if you intend to export a large area."
        )
    _check_cancel(cancel)
    if asset is not None:
        return _image_to_asset(ctx, image, grid, asset, overwrite, cancel, progress)
    return _image_to_files(store, image, grid, file_opts, cancel, progress)


def _asset_file_dtype(dtypes: Sequence[str]) -> tuple[np.dtype, float]:
    """The file type that keeps every band's values and mask, and its nodata value."""
    small_ints = {"uint8", "int8", "uint16", "int16"}
    if all(d in small_ints for d in dtypes):
        return np.dtype("int32"), float(np.iinfo(np.int32).min)
    if all(d in small_ints or d == "float32" for d in dtypes):
        return np.dtype("float32"), float("nan")
    return np.dtype("float64"), float("nan")


def _image_to_asset(
    ctx: RequestContext,
    image: Image,
    grid: Grid,
    asset: AssetName,
    overwrite: bool,
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    store: AssetStore = ctx.store
    dtypes = [output_numpy_dtype(b.dtype).name for b in image.bands]
    file_dtype, nodata = _asset_file_dtype(dtypes)
    tmp = store.scratch_dir() / f"export-{uuid.uuid4().hex}.tif"
    try:
        _write_geotiff(
            tmp,
            grid,
            image.bands,
            file_dtype,
            fill=nodata,
            nodata=nodata,
            cancel=cancel,
            progress=progress,
        )
        _check_cancel(cancel)
        store.put_geotiff(
            asset,
            tmp,
            bands=[b.name for b in image.bands],
            dtypes=dtypes,
            properties=_store_properties(image.properties),
            overwrite=overwrite,
            move=True,
        )
    finally:
        tmp.unlink(missing_ok=True)
    return [asset.name]


def _file_dtype(image: Image) -> np.dtype:
    dtypes = [output_numpy_dtype(b.dtype) for b in image.bands]
    kinds = {np.issubdtype(d, np.integer) for d in dtypes}
    if len(kinds) > 1:
        names = sorted({_GDAL_NAMES.get(d.name, d.name) for d in dtypes})
        raise EEError(
            "Exported bands must have compatible data types; found inconsistent types: "
            f"{' and '.join(names)}."
        )
    return np.dtype(np.result_type(*dtypes))


def _image_to_files(
    store: AssetStore,
    image: Image,
    grid: Grid,
    opts: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    targets = _file_targets(store.root, opts, "tif")
    tiff = opts.get("geoTiffOptions") or {}
    dtype = _file_dtype(image)
    nodata = _wrapped_float(tiff.get("noData"))
    if nodata is not None and np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if not (float(nodata).is_integer() and info.min <= nodata <= info.max):
            raise EEError(
                f"noData value {nodata:g} cannot be represented in the exported data type "
                f"{_GDAL_NAMES.get(dtype.name, dtype.name)}."
            )
    cog = bool(tiff.get("cloudOptimized", False))
    skip_empty = bool(tiff.get("skipEmptyFiles", False))
    dims = tiff.get("tileDimensions") or opts.get("tileDimensions")
    file_w = int(dims.get("width", grid.width)) if dims else grid.width
    file_h = int(dims.get("height", grid.height)) if dims else grid.height
    shard = _wrapped_int(tiff.get("tileSize"), 256)
    if dims and (file_w <= 0 or file_h <= 0 or file_w % shard or file_h % shard):
        raise EEError(
            f"fileDimensions ({file_w}x{file_h}) must be positive multiples of shardSize ({shard})."
        )
    windows = [
        (r, c, grid.window(r, c, min(file_h, grid.height - r), min(file_w, grid.width - c)))
        for r in range(0, grid.height, file_h)
        for c in range(0, grid.width, file_w)
    ]
    base = targets
    written: list[Path] = []
    done_px = 0
    try:
        finals = []
        for r, c, sub in windows:
            if len(windows) == 1:
                final = base
            else:
                final = base.with_name(f"{base.stem}-{r:010d}-{c:010d}{base.suffix}")
            offset, share = done_px / grid.size, sub.size / grid.size

            def sub_progress(f: float, _o: float = offset, _s: float = share) -> None:
                progress(_o + f * _s)

            tmp = _temp_beside(final)
            written.append(tmp)
            any_valid = _write_geotiff(
                tmp,
                sub,
                image.bands,
                dtype,
                fill=0.0 if nodata is None else nodata,
                nodata=nodata,
                cancel=cancel,
                progress=sub_progress,
            )
            done_px += sub.size
            if skip_empty and not any_valid:
                tmp.unlink(missing_ok=True)
                continue
            if cog:
                cog_tmp = _temp_beside(final)
                written.append(cog_tmp)
                _to_cog(tmp, cog_tmp)
                tmp.unlink(missing_ok=True)
                tmp = cog_tmp
            finals.append((tmp, final))
        _check_cancel(cancel)
        for tmp, final in finals:
            os.replace(tmp, final)
    finally:
        for tmp in written:
            tmp.unlink(missing_ok=True)
    return [final.resolve().as_uri() for _, final in finals]


def _file_targets(root: Path, opts: Mapping[str, Any], ext: str) -> Path:
    drive = opts.get("driveDestination")
    gcs = opts.get("cloudStorageDestination") or opts.get("gcsDestination")
    if drive is not None:
        prefix = drive.get("filenamePrefix") or "export"
        return drive_path(root, drive.get("folder"), prefix, ext)
    if gcs is not None:
        bucket = gcs.get("bucket")
        if not bucket:
            raise EEError("A Cloud Storage export needs a bucket.")
        prefix = gcs.get("filenamePrefix") or "export"
        return gcs_path(root, bucket, prefix, ext)
    raise EEError("A file export needs driveDestination or cloudStorageDestination.")


def _windows(grid: Grid) -> Iterator[tuple[int, int, Grid]]:
    for r in range(0, grid.height, STRIP_ROWS):
        for c in range(0, grid.width, STRIP_COLS):
            h = min(STRIP_ROWS, grid.height - r)
            w = min(STRIP_COLS, grid.width - c)
            yield r, c, grid.window(r, c, h, w)


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        v = np.where(np.isfinite(values), values, 0.0)
        return np.clip(np.trunc(v), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def _write_geotiff(
    path: Path,
    grid: Grid,
    bands: Sequence[Band],
    dtype: np.dtype,
    *,
    fill: float,
    nodata: float | None,
    cancel: threading.Event,
    progress: ProgressFn,
) -> bool:
    """Compute ``bands`` on ``grid`` window by window into a GeoTIFF; masked → ``fill``.

    Returns whether any pixel of any band was unmasked.
    """
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": grid.height,
        "width": grid.width,
        "count": len(bands),
        "dtype": dtype.name,
        "crs": grid.crs,
        "transform": Affine(*grid.transform),
        "nodata": nodata,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }
    if grid.height >= 256 and grid.width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    any_valid = False
    total = max(grid.size, 1)
    done = 0
    with rasterio.open(path, "w", **profile) as dst:
        for i, band in enumerate(bands, start=1):
            dst.set_band_description(i, band.name)
        for r, c, sub in _windows(grid):
            _check_cancel(cancel)
            # Tile by tile inside the strip: memory stays one tile's intermediates.
            for i, (values, mask) in enumerate(compute_tiled(bands, sub), start=1):
                any_valid = any_valid or bool(mask.any())
                out = _cast(np.where(mask, values, fill), dtype)
                dst.write(out, i, window=Window(c, r, sub.width, sub.height))
            done += sub.size
            progress(done / total)
    return any_valid


def _to_cog(src: Path, dst: Path) -> None:
    import rasterio.shutil

    rasterio.shutil.copy(str(src), str(dst), driver="COG", COMPRESS="DEFLATE")


# --- table exports ----------------------------------------------------------------------------


def _elements(value: Any) -> list[Any]:
    elements = getattr(value, "elements", None)
    if elements is None:
        raise EEError(
            f"Export.table: the expression is a {type(value).__name__}, not a FeatureCollection."
        )
    return list(elements)


def _geometry_info(element: Any) -> dict | None:
    geometry = getattr(element, "geometry", None)
    if geometry is None or callable(geometry):
        return None
    return to_info(geometry)


def _check_vertices(elements: Sequence[Any], max_vertices: int | None) -> None:
    if not max_vertices:
        return
    import shapely

    for el in elements:
        geometry = getattr(el, "geometry", None)
        if geometry is None or callable(geometry):
            continue
        n = int(shapely.get_num_coordinates(geometry.shape))
        if n > max_vertices:
            raise UnimplementedError(
                f"Cutting a geometry of {n} vertices to maxVertices={max_vertices}"
            )


def _export_table(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    store: AssetStore = ctx.store
    asset_opts = body.get("assetExportOptions")
    file_opts = body.get("fileExportOptions")
    for other in ("featureViewExportOptions", "bigqueryExportOptions"):
        if body.get(other) is not None:
            raise UnimplementedError(f"Table export with {other}")
    if asset_opts is None and file_opts is None:
        raise EEError("A table export needs assetExportOptions or fileExportOptions.")
    asset: AssetName | None = None
    overwrite = False
    fmt = "CSV"
    if asset_opts is not None:
        asset, overwrite = _asset_destination(ctx, asset_opts, "TABLE")
    else:
        fmt = str(file_opts.get("fileFormat") or "CSV").upper()
        if fmt not in ("CSV", "GEO_JSON"):
            raise UnimplementedError(f"Table export to fileFormat {fmt}")
    collection = _evaluate(body)
    elements = _elements(collection)
    _check_vertices(elements, _wrapped_int(body.get("maxVertices"), None))
    _check_cancel(cancel)
    selectors = body.get("selectors")
    if asset is not None:
        gj = _geojson(elements, None)
        store.put_table(
            asset,
            gj,
            properties=_store_properties(getattr(collection, "properties", {}) or {}),
            overwrite=overwrite,
        )
        progress(1.0)
        return [asset.name]
    ext = "csv" if fmt == "CSV" else "geojson"
    target = _file_targets(store.root, file_opts, ext)
    if fmt == "CSV":
        text = _csv_text(elements, selectors)
    else:
        text = json.dumps(_geojson(elements, selectors))
    _check_cancel(cancel)
    tmp = _temp_beside(target)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    progress(1.0)
    return [target.resolve().as_uri()]


def _properties_of(element: Any) -> dict[str, Any]:
    props = dict(getattr(element, "properties", {}) or {})
    props.pop("system:index", None)
    return props


def _index_of(element: Any, i: int) -> str:
    props = getattr(element, "properties", {}) or {}
    index = props.get("system:index")
    return str(index) if index is not None else str(i)


def _cell(value: Any) -> str:
    value = to_info(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _csv_text(elements: Sequence[Any], selectors: Sequence[str] | None) -> str:
    if selectors:
        columns = [str(s) for s in selectors]
    else:
        names: set[str] = set()
        for el in elements:
            names.update(_properties_of(el))
        columns = ["system:index", *sorted(names), ".geo"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for i, el in enumerate(elements):
        props = _properties_of(el)
        row = []
        for col in columns:
            if col == "system:index":
                row.append(_index_of(el, i))
            elif col == ".geo":
                geo = _geometry_info(el)
                row.append(json.dumps(geo or _EMPTY_GEO, separators=(",", ":")))
            else:
                row.append(_cell(props.get(col)))
        writer.writerow(row)
    return buf.getvalue()


def _plain_geojson(info: dict | None) -> dict | None:
    if info is None:
        return None
    return {k: v for k, v in info.items() if k != "geodesic"}


def _geojson(elements: Sequence[Any], selectors: Sequence[str] | None) -> dict:
    features = []
    for i, el in enumerate(elements):
        props = _properties_of(el)
        if selectors:
            props = {k: props.get(k) for k in selectors if k not in ("system:index", ".geo")}
        features.append(
            {
                "type": "Feature",
                "id": _index_of(el, i),
                "geometry": _plain_geojson(_geometry_info(el)),
                "properties": {k: to_info(v) for k, v in props.items()},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# --- ingestion --------------------------------------------------------------------------------


def _source_file(root: Path, source: Mapping[str, Any], exts: Sequence[str]) -> tuple[str, Path]:
    uris = source.get("uris") or []
    if not uris:
        raise EEError("An ingestion source needs at least one URI.")
    primary = next((u for u in uris if str(u).lower().endswith(tuple(exts))), uris[0])
    path = gcs_uri_to_path(root, primary)
    if not path.is_file():
        raise EEError(
            f"Cannot read '{primary}': the object does not exist "
            f"(the local engine looks for it at {path})."
        )
    return primary, path


def _import_image(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    import rasterio
    from rasterio.windows import Window

    store: AssetStore = ctx.store
    manifest = body.get("imageManifest") or {}
    name = manifest.get("name")
    if not name:
        raise EEError("The image manifest has no name.")
    asset = store.resolve(name)
    overwrite = bool(body.get("overwrite", False))
    _check_destination(ctx, asset, overwrite)
    if manifest.get("maskBands"):
        raise UnimplementedError("Image ingestion with maskBands")
    tilesets = manifest.get("tilesets") or []
    if not tilesets:
        raise EEError("The image manifest has no tilesets.")
    files: dict[str, Path] = {}
    for ts in tilesets:
        sources = ts.get("sources") or []
        if len(sources) != 1:
            raise UnimplementedError(
                f"Image ingestion of a tileset with {len(sources)} sources (mosaics)"
            )
        tid = str(ts.get("id", ""))
        if tid in files:
            raise EEError(f"Duplicate tileset id '{tid}'.")
        files[tid] = _source_file(store.root, sources[0], (".tif", ".tiff"))[1]
    grids = {}
    counts = {}
    file_dtypes = {}
    nodatas = {}
    for tid, path in files.items():
        with rasterio.open(path) as src:
            grids[tid] = (src.crs, tuple(src.transform)[:6], (src.height, src.width))
            counts[tid] = src.count
            file_dtypes[tid] = list(src.dtypes)
            nodatas[tid] = src.nodata
    if len({(str(c), t, s) for c, t, s in grids.values()}) > 1:
        raise UnimplementedError("Image ingestion of tilesets on different grids")
    specs = manifest.get("bands")
    if not specs:
        specs = [
            {"id": f"b{n}", "tilesetId": tid, "tilesetBandIndex": k}
            for n, (tid, k) in enumerate(
                ((tid, k) for tid in files for k in range(counts[tid])), start=1
            )
        ]
    missing_all = (manifest.get("missingData") or {}).get("values") or []
    plan = []
    for spec in specs:
        bid = spec.get("id")
        if not bid:
            raise EEError("Every band of the image manifest needs an id.")
        tid = str(spec.get("tilesetId", ""))
        if tid not in files:
            raise EEError(f"Band '{bid}' refers to unknown tileset '{tid}'.")
        k = int(spec.get("tilesetBandIndex", 0))
        if not 0 <= k < counts[tid]:
            raise EEError(
                f"Band '{bid}': tilesetBandIndex {k} is out of range (the file has "
                f"{counts[tid]} bands)."
            )
        missing = list(missing_all) + list((spec.get("missingData") or {}).get("values") or [])
        plan.append((bid, tid, k, [float(v) for v in missing]))
    dtypes = [file_dtypes[tid][k] for _, tid, k, _ in plan]
    file_dtype, nodata = _asset_file_dtype(dtypes)
    props = dict(manifest.get("properties") or {})
    if manifest.get("startTime") is not None:
        props["system:time_start"] = _millis(manifest["startTime"], "startTime")
    if manifest.get("endTime") is not None:
        props["system:time_end"] = _millis(manifest["endTime"], "endTime")
    crs, transform, (height, width) = next(iter(grids.values()))
    tmp = store.scratch_dir() / f"import-{uuid.uuid4().hex}.tif"
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": len(plan),
        "dtype": file_dtype.name,
        "crs": crs,
        "transform": rasterio.Affine(*transform),
        "nodata": nodata,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }
    if height >= 256 and width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    try:
        srcs = {tid: rasterio.open(path) for tid, path in files.items()}
        try:
            with rasterio.open(tmp, "w", **profile) as dst:
                for i, (bid, _, _, _) in enumerate(plan, start=1):
                    dst.set_band_description(i, bid)
                for r in range(0, height, STRIP_ROWS):
                    _check_cancel(cancel)
                    h = min(STRIP_ROWS, height - r)
                    win = Window(0, r, width, h)
                    for i, (_, tid, k, missing) in enumerate(plan, start=1):
                        raw = srcs[tid].read(k + 1, window=win)
                        values = raw.astype(np.float64)
                        mask = np.isfinite(values)
                        nd = nodatas[tid]
                        if nd is not None and not math.isnan(nd):
                            mask &= raw != nd
                        for v in missing:
                            mask &= values != v
                        out = np.where(mask, values, nodata)
                        dst.write(_cast(out, file_dtype), i, window=win)
                    progress(min(r + h, height) / height)
        finally:
            for src in srcs.values():
                src.close()
        _check_cancel(cancel)
        store.put_geotiff(
            asset,
            tmp,
            bands=[bid for bid, _, _, _ in plan],
            dtypes=dtypes,
            properties=props,
            overwrite=overwrite,
            move=True,
        )
    finally:
        tmp.unlink(missing_ok=True)
    return [asset.name]


def _parse_scalar(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_geometry(text: str) -> dict | None:
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        geo = json.loads(text)
        if geo.get("type") == "MultiPoint" and not geo.get("coordinates"):
            return None
        return _plain_geojson(geo)
    import shapely
    import shapely.geometry

    try:
        return shapely.geometry.mapping(shapely.from_wkt(text))
    except Exception:  # shapely raises several types for bad WKT
        raise EEError(f"Cannot parse geometry {text[:40]!r}.") from None


def _import_table(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    store: AssetStore = ctx.store
    manifest = body.get("tableManifest") or {}
    name = manifest.get("name")
    if not name:
        raise EEError("The table manifest has no name.")
    asset = store.resolve(name)
    overwrite = bool(body.get("overwrite", False))
    _check_destination(ctx, asset, overwrite, "TABLE")
    sources = manifest.get("sources") or []
    if len(sources) != 1:
        raise UnimplementedError(f"Table ingestion of {len(sources)} sources")
    source = sources[0]
    uri, path = _source_file(store.root, source, (".csv", ".geojson", ".json"))
    charset = source.get("charset") or "UTF-8"
    text = path.read_text(encoding=charset)
    if uri.lower().endswith(".csv"):
        geo_col = source.get("primaryGeometryColumn") or ".geo"
        xcol, ycol = source.get("xColumn"), source.get("yColumn")
        features = []
        for i, row in enumerate(csv.DictReader(io.StringIO(text))):
            _check_cancel(cancel)
            geometry = None
            if xcol and ycol:
                geometry = {
                    "type": "Point",
                    "coordinates": [float(row.pop(xcol)), float(row.pop(ycol))],
                }
            elif geo_col in row:
                geometry = _parse_geometry(row.pop(geo_col))
            index = row.pop("system:index", None) or str(i)
            props = {k: _parse_scalar(v) for k, v in row.items()}
            features.append(
                {"type": "Feature", "id": index, "geometry": geometry, "properties": props}
            )
        gj: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    elif uri.lower().endswith((".geojson", ".json")):
        gj = json.loads(text)
    else:
        raise UnimplementedError(f"Table ingestion of '{uri}' (CSV and GeoJSON only)")
    props = dict(manifest.get("properties") or {})
    if manifest.get("startTime") is not None:
        props["system:time_start"] = _millis(manifest["startTime"], "startTime")
    if manifest.get("endTime") is not None:
        props["system:time_end"] = _millis(manifest["endTime"], "endTime")
    _check_cancel(cancel)
    store.put_table(asset, gj, properties=props, overwrite=overwrite)
    progress(1.0)
    return [asset.name]
