"""Starting exports of images, tables and image collections, with provenance.

:func:`export_image`, :func:`export_table` and :func:`export_collection` start
``ee.batch.Export`` tasks to an asset, Google Drive or Cloud Storage with the public ``ee``
API only, so the same code runs against Google Earth Engine and the embedded local engine.
Two steps cover a run's exports::

    manifest = TaskManifest.in_dir(out_dir)                      # OUT/export_tasks.json
    tasks = [export_image(img, destination="asset", asset_id=ID, crs=..., crs_transform=...,
                          dimensions=(w, h), properties=provenance(cfg), manifest=manifest)]
    wait_for_tasks(tasks, manifest=manifest)                     # progress; ExportError

- **Idempotent**: an existing destination asset is skipped (logged, ``None`` returned)
  unless ``overwrite``; a task the manifest records as still running is waited on instead of
  started again; one that succeeded is not redone; failed or cancelled ones are restarted
  (:mod:`gee_cscc.cloud.resume`). A manifest bound to a run (``manifest.bind_run``) also
  stamps every exported asset with the run hash and refuses assets and tasks of another
  run, so a changed configuration is never mistaken for a finished one.
- **Provenance**: :func:`provenance` gives properties (package version, configuration,
  input asset ids) that :func:`export_image` sets on the image before exporting.

Destinations and their manifest keys are defined in :mod:`gee_cscc.cloud.destinations`
(:data:`Destination` and :func:`destination_key` are importable from here too); the manifest
and polling live in :mod:`gee_cscc.cloud.tasks`. The modules of :mod:`gee_cscc.cloud` that
log (resume, tasks, sharing, upload) all use this module's logger, ``gee_cscc.cloud.exports``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ee

from gee_cscc.cloud.assets import asset_exists, create_collection
from gee_cscc.cloud.destinations import (
    Destination,
    asset_path_part,
    check_destination,
    destination_key,
    task_description,
)
from gee_cscc.cloud.resume import (
    effective_overwrite,
    resume_action,
    run_properties,
    start_task,
)
from gee_cscc.cloud.tasks import TaskManifest
from gee_cscc.errors import InputError
from gee_cscc.version import __version__

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Destination",
    "destination_key",
    "export_collection",
    "export_image",
    "export_table",
    "provenance",
]

#: The logger of every module of :mod:`gee_cscc.cloud` that logs.
log = logging.getLogger("gee_cscc.cloud.exports")


#: The default ``maxPixels`` of an image export (Earth Engine's own default is 1e8).
DEFAULT_MAX_PIXELS = 10**10


def provenance(
    config: Mapping[str, Any] | None = None,
    *,
    inputs: Iterable[str] = (),
    **extra: str | int | float,
) -> dict[str, str | int | float]:
    """Provenance properties for an exported asset.

    Earth Engine asset properties are numbers or strings, so the configuration and the
    input ids are stored as JSON text.

    Parameters
    ----------
    config
        The run configuration (any JSON-serializable mapping).
    inputs
        The input asset ids the result was computed from.
    **extra
        More properties, stored as given.

    Returns
    -------
    dict
        ``gee_cscc_version``, ``gee_cscc_config`` (JSON), ``gee_cscc_inputs`` (JSON list),
        ``gee_cscc_created`` (UTC, ISO 8601) and ``extra``.
    """
    props: dict[str, str | int | float] = {
        "gee_cscc_version": __version__,
        "gee_cscc_inputs": json.dumps(list(inputs)),
        "gee_cscc_created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if config is not None:
        props["gee_cscc_config"] = json.dumps(dict(config), sort_keys=True, default=str)
    props.update(extra)
    return props


def export_image(
    image: Any,
    *,
    destination: Destination = "asset",
    asset_id: str | None = None,
    description: str | None = None,
    folder: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    crs: str | None = None,
    crs_transform: Sequence[float] | None = None,
    dimensions: tuple[int, int] | None = None,
    region: Any = None,
    scale: float | None = None,
    properties: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    file_format: str = "GeoTIFF",
    cloud_optimized: bool = True,
    no_data: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    pyramiding_policy: str | None = None,
    manifest: TaskManifest | None = None,
    start: bool = True,
) -> Any:
    """Export an image to an asset, Google Drive or Cloud Storage with ``ee.batch.Export.image``.

    The output grid is given either as ``crs`` + ``crs_transform`` + ``dimensions`` (exactly
    the grid of the run; recommended), or as ``region`` + ``scale`` (+ ``crs``), or not at
    all (the image's own grid; fails for an unbounded image).

    Parameters
    ----------
    image
        The ``ee.Image``.
    destination
        ``"asset"``, ``"drive"`` or ``"gcs"``.
    asset_id
        The destination asset (``destination="asset"``).
    description
        The task description (default: made from the destination).
    folder
        The Drive folder (``"drive"``).
    bucket
        The Cloud Storage bucket (``"gcs"``).
    prefix
        The file name prefix, without extension (``"drive"``/``"gcs"``).
    crs
        The output CRS, e.g. ``"EPSG:4326"``.
    crs_transform
        The output affine ``[xScale, xShear, xOrigin, yShear, yScale, yOrigin]``
        in CRS units.
    dimensions
        ``(width, height)`` in pixels.
    region
        An ``ee.Geometry`` to export (with ``scale``).
    scale
        The pixel size in metres (with ``region``).
    properties
        Properties set on the image before the export (see :func:`provenance`);
        asset exports keep them, files do not.
    overwrite
        Replace an existing destination asset (otherwise it is skipped).
    file_format
        ``"GeoTIFF"`` (files only).
    cloud_optimized
        Write a Cloud-Optimized GeoTIFF (files only).
    no_data
        The value masked pixels get in a file (otherwise 0, which cannot be told
        from data: give one for results with masked cells).
    max_pixels
        The most pixels the export may have.
    pyramiding_policy
        ``"MEAN"``, ``"SAMPLE"``, ``"MIN"``, ``"MAX"`` or ``"MODE"``
        for every band of an asset (Earth Engine's default: mean).
    manifest
        The run manifest: records the task, and makes a rerun wait on a task
        still running, skip a finished one and restart a failed one.
    start
        Start the task (otherwise it is returned unstarted and not recorded).

    Returns
    -------
    ee.batch.Task or None
        The started ``ee.batch.Task`` (or one reattached to a task still running), or
        None when the destination was skipped.

    Raises
    ------
    InputError
        Inconsistent arguments.
    ExportError
        The task could not be started.
    """
    check_destination(destination)
    if not isinstance(image, ee.Image):
        raise InputError(f"export_image needs an ee.Image, got {type(image).__name__}.")
    if crs_transform is not None and crs is None:
        raise InputError("crs_transform needs crs.")
    if crs_transform is not None and scale is not None:
        raise InputError("Exactly one of 'scale' or 'crs_transform' may be given.")
    if scale is not None and region is None:
        raise InputError("scale needs a region.")
    key = destination_key(
        destination, asset_id=asset_id, folder=folder, bucket=bucket, prefix=prefix
    )
    description = task_description(description or key.split(":", 1)[1])
    action, task = resume_action(manifest, key, asset_id, overwrite, destination)
    if action != "start":
        return task
    overwrite = effective_overwrite(manifest, overwrite)
    properties = run_properties(properties, manifest)
    if properties:
        image = image.set(dict(properties))
    params: dict[str, Any] = {
        "image": image,
        "description": description,
        "maxPixels": int(max_pixels),
    }
    if crs is not None:
        params["crs"] = crs
    if crs_transform is not None:
        params["crsTransform"] = [float(v) for v in crs_transform]
    if dimensions is not None:
        w, h = (int(v) for v in dimensions)
        params["dimensions"] = f"{w}x{h}"
    if region is not None:
        params["region"] = region
    if scale is not None:
        params["scale"] = float(scale)
    if destination == "asset":
        params["assetId"] = asset_id
        params["overwrite"] = bool(overwrite)
        if pyramiding_policy:
            params["pyramidingPolicy"] = {".default": pyramiding_policy.lower()}
        task = ee.batch.Export.image.toAsset(**params)
    else:
        if file_format.lower() not in ("geotiff", "geo_tiff", "tif", "tiff"):
            raise InputError(f"Unsupported image file format {file_format!r}; use 'GeoTIFF'.")
        params["fileFormat"] = "GeoTIFF"
        params["fileNamePrefix"] = prefix
        options: dict[str, Any] = {"cloudOptimized": bool(cloud_optimized)}
        if no_data is not None:
            options["noData"] = float(no_data)
        params["formatOptions"] = options
        if destination == "drive":
            if folder:
                params["folder"] = folder
            task = ee.batch.Export.image.toDrive(**params)
        else:
            params["bucket"] = bucket
            task = ee.batch.Export.image.toCloudStorage(**params)
    return start_task(task, key, description, manifest, start)


def export_table(
    collection: Any,
    *,
    destination: Destination = "drive",
    asset_id: str | None = None,
    description: str | None = None,
    folder: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    selectors: Sequence[str] | None = None,
    file_format: str = "CSV",
    properties: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    manifest: TaskManifest | None = None,
    start: bool = True,
) -> Any:
    """Export a FeatureCollection as CSV/GeoJSON to Drive or Cloud Storage, or to a table asset.

    Parameters
    ----------
    collection
        The ``ee.FeatureCollection``.
    destination
        ``"drive"``, ``"gcs"`` or ``"asset"``.
    asset_id, description, folder, bucket, prefix, overwrite, manifest, start
        As in
        :func:`export_image`.
    selectors
        The columns (properties) to write, in order; ``system:index`` and
        ``.geo`` (the geometry) are written only when listed.
    file_format
        ``"CSV"`` or ``"GeoJSON"`` (files only).
    properties
        Properties set on the collection before the export (asset exports).

    Returns
    -------
    ee.batch.Task or None
        The started ``ee.batch.Task``, one reattached to a running task, or None (skipped).
    """
    check_destination(destination)
    if not isinstance(collection, ee.FeatureCollection):
        raise InputError(
            f"export_table needs an ee.FeatureCollection, got {type(collection).__name__}."
        )
    key = destination_key(
        destination, asset_id=asset_id, folder=folder, bucket=bucket, prefix=prefix
    )
    description = task_description(description or key.split(":", 1)[1])
    action, task = resume_action(manifest, key, asset_id, overwrite, destination)
    if action != "start":
        return task
    overwrite = effective_overwrite(manifest, overwrite)
    properties = run_properties(properties, manifest)
    if properties:
        collection = collection.set(dict(properties))
    params: dict[str, Any] = {"collection": collection, "description": description}
    if destination == "asset":
        task = ee.batch.Export.table.toAsset(assetId=asset_id, overwrite=bool(overwrite), **params)
    else:
        fmt = {"csv": "CSV", "geojson": "GeoJSON", "geo_json": "GeoJSON"}.get(file_format.lower())
        if fmt is None:
            raise InputError(f"Unsupported table file format {file_format!r}; use CSV or GeoJSON.")
        params.update(fileFormat=fmt, fileNamePrefix=prefix)
        if selectors:
            params["selectors"] = list(selectors)
        if destination == "drive":
            if folder:
                params["folder"] = folder
            task = ee.batch.Export.table.toDrive(**params)
        else:
            task = ee.batch.Export.table.toCloudStorage(bucket=bucket, **params)
    return start_task(task, key, description, manifest, start)


def export_collection(
    collection: Any,
    asset_id: str | None = None,
    *,
    destination: Destination = "asset",
    folder: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    description: str | None = None,
    properties: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    manifest: TaskManifest | None = None,
    **image_options: Any,
) -> list[Any]:
    """Export every image of an ImageCollection, one task per image.

    To an asset, image ``i`` goes to ``<asset_id>/<system:index of i>``, and the
    ImageCollection asset ``asset_id`` is created first (with ``properties``) if missing.
    To files, each image gets the prefix ``<prefix>_<system:index>``.

    Parameters
    ----------
    collection
        The ``ee.ImageCollection`` (one ``getInfo`` reads its ``system:index`` list).
    asset_id
        The destination ImageCollection (``destination="asset"``).
    destination, folder, bucket, prefix, description, overwrite, manifest
        As in
        :func:`export_image`.
    properties
        Set on every image (and on a new collection asset).
    **image_options
        Passed to :func:`export_image` (``crs``, ``crs_transform``,
        ``dimensions``, ``no_data`` …).

    Returns
    -------
    list of ee.batch.Task
        The started or reattached tasks (skipped images give none).
    """
    check_destination(destination)
    if not isinstance(collection, ee.ImageCollection):
        raise InputError(
            f"export_collection needs an ee.ImageCollection, got {type(collection).__name__}."
        )
    indices = collection.aggregate_array("system:index").getInfo() or []
    if len(set(indices)) != len(indices):
        raise InputError(
            "The collection has duplicate system:index values; cannot name the exports."
        )
    if destination == "asset":
        if not asset_id:
            raise InputError("An export to an asset needs asset_id.")
        if not asset_exists(asset_id):
            create_collection(asset_id, properties)
    elif not prefix:
        raise InputError(f"An export to {destination} needs a file name prefix.")
    base = description or (asset_id.rsplit("/", 1)[-1] if asset_id else prefix)
    tasks = []
    for index in indices:
        part = asset_path_part(index)
        image = ee.Image(collection.filter(ee.Filter.eq("system:index", index)).first())
        task = export_image(
            image,
            destination=destination,
            asset_id=f"{asset_id}/{part}" if destination == "asset" else None,
            folder=folder,
            bucket=bucket,
            prefix=f"{prefix}_{part}" if destination != "asset" else None,
            description=f"{base}_{part}",
            properties=properties,
            overwrite=overwrite,
            manifest=manifest,
            **image_options,
        )
        if task is not None:
            tasks.append(task)
    return tasks
