"""Image exports: to an asset, or to GeoTIFF files in a Drive or Cloud Storage folder.

What they do (grid, data types, masks, file splitting, overwriting) is specified in
:mod:`gee_cscc.engine.batch.tasks`.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.context import RequestContext
from ..core.memory import release_free_memory
from ..core.values import Band, Image, output_numpy_dtype
from ..errors import EEError, UnimplementedError
from ..raster import reduction
from ..raster.crs import file_crs
from ..raster.grid import Grid
from ..raster.reduction import compute_tiled
from ..raster.resample import PYRAMIDING_POLICIES
from ..store.assets import AssetName, AssetStore
from ..store.codec import store_compression, write_env
from ..store.space import check_free_space
from .destinations import (
    DEFAULT_MAX_PIXELS,
    GDAL_TYPE_NAMES,
    STRIP_COLS,
    STRIP_ROWS,
    ProgressFn,
    asset_destination,
    asset_file_dtype,
    cast_to_dtype,
    check_cancel,
    evaluate_expression,
    file_targets,
    store_properties,
    temp_beside,
    wrapped_float,
    wrapped_int,
)

__all__ = ["export_image"]


# --- image exports ----------------------------------------------------------------------------


def export_image(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    """Run an image export (to an asset, Drive or Cloud Storage folder); returns the URIs."""
    store: AssetStore = ctx.store
    asset_opts = body.get("assetExportOptions")
    file_opts = body.get("fileExportOptions")
    if asset_opts is None and file_opts is None:
        raise EEError("An image export needs assetExportOptions or fileExportOptions.")
    asset: AssetName | None = None
    overwrite = False
    if asset_opts is not None:
        asset, overwrite = asset_destination(ctx, asset_opts, "IMAGE")
    else:
        fmt = str(file_opts.get("fileFormat") or "GEO_TIFF").upper()
        if fmt not in ("GEO_TIFF", "GEOTIFF"):
            raise UnimplementedError(f"Image export to fileFormat {fmt}")
    image = evaluate_expression(body)
    if not isinstance(image, Image):
        raise EEError(f"Export.image: the expression is a {type(image).__name__}, not an Image.")
    if not image.bands:
        raise EEError("Export.image: the image has no bands.")
    grid = _export_grid(body, image)
    if grid is None:
        raise EEError(
            "Unable to export unbounded image. Give a region and scale, or crs, "
            "crsTransform and dimensions."
        )
    if grid.size == 0:
        raise EEError("Export region contains no pixels.")
    max_pixels = wrapped_int(body.get("maxPixels"), DEFAULT_MAX_PIXELS)
    if grid.size > max_pixels:
        raise EEError(
            f"Export too large: specified {grid.size} pixels (max: {max_pixels}). "
            "Specify higher maxPixels value if you intend to export a large area."
        )
    check_cancel(cancel)
    if asset is not None:
        policies = _pyramiding(asset_opts, image)
        return _image_to_asset(ctx, image, grid, asset, overwrite, cancel, progress, policies)
    return _image_to_files(store, image, grid, file_opts, cancel, progress)


def _export_grid(body: Mapping[str, Any], image: Image) -> Grid | None:
    """The grid an export writes: the first band's extent, or the whole ``region``.

    The client folds ``region`` (without ``scale`` or dimensions) into the expression as a
    top-level ``Image.clip(image, region)``, after ``Image.reproject`` when ``crs`` and
    ``crsTransform`` are given. Earth Engine writes the region's whole bounding window in the
    first band's projection, the pixels outside the image's footprint masked; the clipped
    image's extent ends at the footprint, so the window is taken from the region here.
    """
    band = image.bands[0]
    expression = body.get("expression") or {}
    values = expression.get("values") or {}
    node = values.get(expression.get("result"), {})
    call = node.get("functionInvocationValue") if isinstance(node, dict) else None
    if not call or call.get("functionName") != "Image.clip" or band.projection is None:
        return band.extent
    argument = (call.get("arguments") or {}).get("geometry")
    if argument is None:
        return band.extent
    from ..algorithms.image.spatial import as_geometry, extent_of
    from ..core.evaluate import evaluate

    key = "export-region"
    while key in values:
        key += "_"
    region = evaluate({"result": key, "values": {**values, key: argument}})
    return extent_of(as_geometry(region, "Export.image"), band.projection)


def _image_to_asset(
    ctx: RequestContext,
    image: Image,
    grid: Grid,
    asset: AssetName,
    overwrite: bool,
    cancel: threading.Event,
    progress: ProgressFn,
    policies: list[str],
) -> list[str]:
    store: AssetStore = ctx.store
    dtypes = [output_numpy_dtype(b.dtype).name for b in image.bands]
    file_dtype, nodata = asset_file_dtype(dtypes)
    tmp = store.scratch_dir() / f"export-{uuid.uuid4().hex}.tif"
    check_free_space(tmp.parent, grid.size * len(image.bands) * file_dtype.itemsize, asset.id)
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
            codec=store_compression(),
        )
        check_cancel(cancel)
        store.put_geotiff(
            asset,
            tmp,
            bands=[b.name for b in image.bands],
            dtypes=dtypes,
            properties=store_properties(image.properties),
            overwrite=overwrite,
            move=True,
            pyramiding=policies,
        )
    finally:
        tmp.unlink(missing_ok=True)
    return [asset.name]


def _pyramiding(options: Mapping[str, Any], image: Image) -> list[str]:
    """Each band's pyramiding policy: ``pyramidingPolicyOverrides``, else
    ``pyramidingPolicy``, else ``MEAN``; the stored asset is read at coarser scales with it."""
    default = str(options.get("pyramidingPolicy") or "MEAN").upper()
    overrides = {
        k: str(v).upper() for k, v in (options.get("pyramidingPolicyOverrides") or {}).items()
    }
    unknown = set(overrides) - set(image.band_names)
    if unknown:
        raise EEError(
            f"pyramidingPolicyOverrides names bands the image does not have: {sorted(unknown)}."
        )
    policies = [overrides.get(b.name, default) for b in image.bands]
    for policy in {default, *policies}:
        if policy not in PYRAMIDING_POLICIES:
            raise EEError(
                f"Invalid pyramiding policy '{policy}'; expected one of "
                f"{', '.join(PYRAMIDING_POLICIES)}."
            )
    return policies


def _file_dtype(image: Image) -> np.dtype:
    dtypes = [output_numpy_dtype(b.dtype) for b in image.bands]
    kinds = {np.issubdtype(d, np.integer) for d in dtypes}
    if len(kinds) > 1:
        names = sorted({GDAL_TYPE_NAMES.get(d.name, d.name) for d in dtypes})
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
    targets = file_targets(store.root, opts, "tif")
    tiff = opts.get("geoTiffOptions") or {}
    dtype = _file_dtype(image)
    nodata = wrapped_float(tiff.get("noData"))
    if nodata is not None and np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if not (float(nodata).is_integer() and info.min <= nodata <= info.max):
            raise EEError(
                f"noData value {nodata:g} cannot be represented in the exported data type "
                f"{GDAL_TYPE_NAMES.get(dtype.name, dtype.name)}."
            )
    cog = bool(tiff.get("cloudOptimized", False))
    skip_empty = bool(tiff.get("skipEmptyFiles", False))
    dims = tiff.get("tileDimensions") or opts.get("tileDimensions")
    file_w = int(dims.get("width", grid.width)) if dims else grid.width
    file_h = int(dims.get("height", grid.height)) if dims else grid.height
    shard = wrapped_int(tiff.get("tileSize"), 256)
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
    # The uncompressed size; a Cloud-Optimized copy is written beside the first file.
    check_free_space(
        base.parent, grid.size * len(image.bands) * dtype.itemsize * (2 if cog else 1), base.name
    )
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

            tmp = temp_beside(final)
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
                cog_tmp = temp_beside(final)
                written.append(cog_tmp)
                _to_cog(tmp, cog_tmp)
                tmp.unlink(missing_ok=True)
                tmp = cog_tmp
            finals.append((tmp, final))
        check_cancel(cancel)
        for tmp, final in finals:
            os.replace(tmp, final)
    finally:
        for tmp in written:
            tmp.unlink(missing_ok=True)
    return [final.resolve().as_uri() for _, final in finals]


def _windows(grid: Grid) -> Iterator[tuple[int, int, Grid]]:
    for r in range(0, grid.height, STRIP_ROWS):
        for c in range(0, grid.width, STRIP_COLS):
            h = min(STRIP_ROWS, grid.height - r)
            w = min(STRIP_COLS, grid.width - c)
            yield r, c, grid.window(r, c, h, w)


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
    codec: Mapping[str, Any] | None = None,
) -> bool:
    """Compute ``bands`` on ``grid`` window by window into a GeoTIFF; masked → ``fill``.

    ``codec``: the creation options of the store's codec for an asset; deflate (the
    default) for files people open.
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
        "crs": file_crs(grid.crs),
        "transform": Affine(*grid.transform),
        "nodata": nodata,
        **(codec or {"compress": "deflate"}),
        "BIGTIFF": "IF_SAFER",
    }
    if grid.height >= 256 and grid.width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    any_valid = False
    total = max(grid.size, 1)
    done = 0
    # GDAL's block cache holds written blocks until it is full (by default 5 % of the
    # machine's memory: more than a whole multi-band layer at 1 km); a small one keeps an
    # export's memory at its tiles' work
    with (
        write_env(),
        rasterio.open(path, "w", **profile) as dst,
    ):
        for i, band in enumerate(bands, start=1):
            dst.set_band_description(i, band.name)
        for r, c, sub in _windows(grid):
            # Tile by tile inside the strip, each tile's bands written as soon as they are
            # computed: memory stays one tile's bands and its live intermediates (no
            # strip-sized copies); tiles of 256 fall on the file's 256 x 256 blocks.
            for tr, tc, tile in sub.tiles(max(1, int(reduction.TILE))):
                check_cancel(cancel)
                data = compute_tiled(bands, tile)
                for i in range(len(data)):
                    values, mask = data[i]
                    data[i] = None  # released once written
                    any_valid = any_valid or bool(mask.any())
                    out = cast_to_dtype(np.where(mask, values, fill), dtype)
                    dst.write(out, i + 1, window=Window(c + tc, r + tr, tile.width, tile.height))
                    del values, mask, out
            done += sub.size
            progress(done / total)
            release_free_memory()  # the strip's freed arrays, from every thread's arena
    return any_valid


def _to_cog(src: Path, dst: Path) -> None:
    import rasterio.shutil

    with write_env():
        rasterio.shutil.copy(str(src), str(dst), driver="COG", COMPRESS="DEFLATE")
