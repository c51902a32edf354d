"""Ingestion of the local engine (``image:import``, ``table:import``); see :mod:`.exports`."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.context import RequestContext
from ..errors import EEError, UnimplementedError
from ..raster.resample import PYRAMIDING_POLICIES
from ..store.assets import AssetName, AssetStore
from ..store.codec import store_compression, write_env
from ..store.space import check_free_space
from .destinations import (
    STRIP_ROWS,
    ProgressFn,
    asset_file_dtype,
    cast_to_dtype,
    check_cancel,
    check_destination,
    gcs_uri_to_path,
    plain_geojson,
    timestamp_millis,
)

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


def _manifest_destination(
    ctx: RequestContext, body: Mapping[str, Any], kind: str
) -> tuple[Mapping[str, Any], AssetName, bool]:
    """The ``<kind>Manifest`` of an ingestion, its destination asset and ``overwrite``,
    after checking that the destination may be written."""
    manifest = body.get(f"{kind}Manifest") or {}
    name = manifest.get("name")
    if not name:
        raise EEError(f"The {kind} manifest has no name.")
    asset = ctx.store.resolve(name)
    overwrite = bool(body.get("overwrite", False))
    check_destination(ctx, asset, overwrite, kind.upper())
    return manifest, asset, overwrite


def _manifest_properties(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest's properties, with ``startTime``/``endTime`` as system times."""
    props = dict(manifest.get("properties") or {})
    if manifest.get("startTime") is not None:
        props["system:time_start"] = timestamp_millis(manifest["startTime"], "startTime")
    if manifest.get("endTime") is not None:
        props["system:time_end"] = timestamp_millis(manifest["endTime"], "endTime")
    return props


def import_image(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    """Run an image ingestion (GeoTIFF sources → an image asset); returns the written paths."""
    import rasterio

    store: AssetStore = ctx.store
    manifest, asset, overwrite = _manifest_destination(ctx, body, "image")
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
    policies: list[str] = []
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
        policy = spec.get("pyramidingPolicy") or manifest.get("pyramidingPolicy") or "MEAN"
        if str(policy).upper() not in PYRAMIDING_POLICIES:
            raise EEError(f"Band '{bid}': invalid pyramiding policy '{policy}'.")
        policies.append(str(policy).upper())
    dtypes = [file_dtypes[tid][k] for _, tid, k, _ in plan]
    file_dtype, nodata = asset_file_dtype(dtypes)
    props = _manifest_properties(manifest)
    # Bands of tilesets on one grid share a file; a tileset on another grid (Sentinel-2's
    # 10, 20 and 60 m bands) gives its bands a file and grid of their own.
    groups: dict[tuple, list[int]] = {}
    for n, (_, tid, _, _) in enumerate(plan):
        crs, transform, shape = grids[tid]
        groups.setdefault((str(crs), transform, shape), []).append(n)
    order = [n for members in groups.values() for n in members]
    if order != list(range(len(plan))):
        raise UnimplementedError(
            "Image ingestion whose bands interleave tilesets on different grids (list the "
            "bands of each grid together)"
        )
    total = sum(
        grids[plan[m[0]][1]][2][0] * grids[plan[m[0]][1]][2][1] * len(m) for m in groups.values()
    )
    check_free_space(store.scratch_dir(), total * file_dtype.itemsize, asset.id)
    tmps: list[Path] = []
    try:
        srcs = {tid: rasterio.open(path) for tid, path in files.items()}
        try:
            done = 0
            for members in groups.values():
                part = [plan[n] for n in members]
                crs, transform, (height, width) = grids[part[0][1]]
                tmp = store.scratch_dir() / f"import-{uuid.uuid4().hex}.tif"
                tmps.append(tmp)
                size = height * width * len(part)

                def part_progress(f: float, _d: int = done, _s: int = size) -> None:
                    progress((_d + f * _s) / max(total, 1))

                _write_bands(
                    tmp,
                    part,
                    srcs,
                    nodatas,
                    crs,
                    transform,
                    (height, width),
                    file_dtype,
                    nodata,
                    cancel,
                    part_progress,
                )
                done += size
        finally:
            for src in srcs.values():
                src.close()
        check_cancel(cancel)
        store.put_geotiffs(
            asset,
            [
                (tmp, [plan[n][0] for n in members], [dtypes[n] for n in members])
                for tmp, members in zip(tmps, groups.values(), strict=True)
            ],
            properties=props,
            overwrite=overwrite,
            move=True,
            pyramiding=policies,
        )
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return [asset.name]


def _write_bands(
    tmp: Path,
    part: list,
    srcs: dict,
    nodatas: dict,
    crs: Any,
    transform: tuple,
    shape: tuple[int, int],
    file_dtype: np.dtype,
    nodata: Any,
    cancel: threading.Event,
    progress: ProgressFn,
) -> None:
    """Write the bands ``part`` (``(id, tileset, index, missing values)``) of tilesets on one
    grid into the GeoTIFF ``tmp``, masked pixels as ``nodata``."""
    import rasterio
    from rasterio.windows import Window

    height, width = shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": len(part),
        "dtype": file_dtype.name,
        "crs": crs,
        "transform": rasterio.Affine(*transform),
        "nodata": nodata,
        **store_compression(),
        "BIGTIFF": "IF_SAFER",
    }
    if height >= 256 and width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with write_env(), rasterio.open(tmp, "w", **profile) as dst:
        for i, (bid, _, _, _) in enumerate(part, start=1):
            dst.set_band_description(i, bid)
        for r in range(0, height, STRIP_ROWS):
            check_cancel(cancel)
            h = min(STRIP_ROWS, height - r)
            win = Window(0, r, width, h)
            for i, (_, tid, k, missing) in enumerate(part, start=1):
                raw = srcs[tid].read(k + 1, window=win)
                values = raw.astype(np.float64)
                mask = np.isfinite(values)
                nd = nodatas[tid]
                if nd is not None and not math.isnan(nd):
                    mask &= raw != nd
                for v in missing:
                    mask &= values != v
                out = np.where(mask, values, nodata)
                dst.write(cast_to_dtype(out, file_dtype), i, window=win)
            progress(min(r + h, height) / height)


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
        return plain_geojson(geo)
    import shapely
    import shapely.geometry

    try:
        return shapely.geometry.mapping(shapely.from_wkt(text))
    except Exception:  # shapely raises several types for bad WKT
        raise EEError(f"Cannot parse geometry {text[:40]!r}.") from None


def import_table(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    """Run a table ingestion (a CSV or GeoJSON source → a table asset); returns the written paths."""
    store: AssetStore = ctx.store
    manifest, asset, overwrite = _manifest_destination(ctx, body, "table")
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
            check_cancel(cancel)
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
    props = _manifest_properties(manifest)
    check_cancel(cancel)
    store.put_table(asset, gj, properties=props, overwrite=overwrite)
    progress(1.0)
    return [asset.name]
