"""Exports, task polling, resumable runs, sharing and upload, with the public ``ee`` API only.

The same code runs against Google Earth Engine and the embedded local engine (which serves
the same endpoints). Two steps cover a run's exports::

    manifest = TaskManifest.in_dir(out_dir)                      # OUT/export_tasks.json
    tasks = [export_image(img, destination="asset", asset_id=ID, crs=..., crs_transform=...,
                          dimensions=(w, h), properties=provenance(cfg), manifest=manifest)]
    wait_for_tasks(tasks, manifest=manifest)                     # progress; ExportError

- **Idempotent**: an existing destination asset is skipped (logged, ``None`` returned)
  unless ``overwrite``; a task the manifest records as still running is waited on instead of
  started again; one that succeeded is not redone; failed or cancelled ones are restarted.
- **Provenance**: :func:`provenance` gives properties (package version, configuration,
  input asset ids) that :func:`export_image` sets on the image before exporting.
- **Sharing**: :func:`share_asset` / :func:`show_acl` through ``ee.data.getAssetAcl`` /
  ``setAssetAcl``; public read access is only ever given when asked for.
- **Upload**: :func:`upload_annual_geotiffs` turns a folder of ``*_YYYY.tif`` into an
  image collection (local engine: straight into its store; Earth Engine: ingestion from
  Cloud Storage, one manifest per file from :func:`ingestion_manifest`).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ee

from . import __version__
from .errors import ExportError, InputError

if TYPE_CHECKING:
    from .engine import LocalEngine

__all__ = [
    "Destination",
    "TaskManifest",
    "Upload",
    "annual_geotiffs",
    "asset_exists",
    "destination_key",
    "export_collection",
    "export_image",
    "export_table",
    "format_acl",
    "ingestion_manifest",
    "provenance",
    "share_asset",
    "show_acl",
    "task_status",
    "upload_annual_geotiffs",
    "wait_for_tasks",
]

log = logging.getLogger("gee_cscc.export")

Destination = Literal["asset", "drive", "gcs"]
_DESTINATIONS = ("asset", "drive", "gcs")

#: Operation states (REST) → task states (``ee.batch.Task.State``).
_TASK_STATES = {
    "PENDING": "READY",
    "RUNNING": "RUNNING",
    "CANCELLING": "CANCEL_REQUESTED",
    "SUCCEEDED": "COMPLETED",
    "CANCELLED": "CANCELLED",
    "FAILED": "FAILED",
}
ACTIVE_STATES = frozenset({"READY", "RUNNING", "CANCEL_REQUESTED"})
DONE_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

#: The default ``maxPixels`` of an image export (Earth Engine's own default is 1e8).
DEFAULT_MAX_PIXELS = 10**10


# --- names and small helpers ------------------------------------------------------------------


def _check_destination(destination: str) -> str:
    if destination not in _DESTINATIONS:
        raise InputError(
            f"Unknown export destination {destination!r}; expected one of {_DESTINATIONS}."
        )
    return destination


def destination_key(
    destination: Destination,
    *,
    asset_id: str | None = None,
    folder: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
) -> str:
    """The manifest key of an export destination.

    ``asset:<id>``, ``drive:<folder>/<prefix>`` or ``gcs:<bucket>/<prefix>``.
    """
    _check_destination(destination)
    if destination == "asset":
        if not asset_id:
            raise InputError("An export to an asset needs asset_id.")
        return f"asset:{asset_id}"
    if not prefix:
        raise InputError(f"An export to {destination} needs a file name prefix.")
    if destination == "drive":
        return f"drive:{folder or ''}/{prefix}"
    if not bucket:
        raise InputError("An export to Cloud Storage needs a bucket.")
    return f"gcs:{bucket}/{prefix}"


def _description(text: str) -> str:
    """A valid task description: letters, digits, ``-``, ``_``; at most 100 characters."""
    text = re.sub(r"^projects/[^/]+/assets/", "", text)
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "gee_cscc_export"
    return clean[:100]


def _safe_part(text: str) -> str:
    """One asset-path component made of letters, digits, ``_``, ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_") or "x"


def asset_exists(asset_id: str) -> bool:
    """Whether an Earth Engine asset exists (False when the server answers 'not found').

    Raises
    ------
    ExportError
        Any other failure (for example a permission error).
    """
    try:
        ee.data.getAsset(asset_id)
    except ee.EEException as exc:
        text = str(exc).lower()
        if "not found" in text or "does not exist" in text:
            return False
        raise ExportError(f"Cannot look up asset '{asset_id}': {exc}") from exc
    return True


def _create_collection(asset_id: str, properties: Mapping[str, Any] | None) -> None:
    """Create an ImageCollection asset (and missing parent folders), with properties."""
    try:
        _quiet(ee.data.create_assets, [asset_id], "IMAGE_COLLECTION", True)
        if properties:
            ee.data.updateAsset(
                asset_id,
                {"properties": dict(properties)},
                [f"properties.{json.dumps(str(k))}" for k in properties],
            )
    except ee.EEException as exc:
        raise ExportError(f"Cannot create the image collection '{asset_id}': {exc}") from exc


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


# --- the run manifest -------------------------------------------------------------------------


class TaskManifest:
    """The export tasks of a run, kept as JSON so that a rerun resumes instead of restarting.

    One entry per destination key (:func:`destination_key`): the task id and operation
    name, description, destination, task type, last known state and error message. Every
    change is written atomically (temporary file + rename).

    Parameters
    ----------
    path
        The JSON file (created on the first record).
    """

    FILE_NAME = "export_tasks.json"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ExportError(f"Cannot read the task manifest {self.path}: {exc}") from exc
            self._entries = dict(data.get("tasks", {}))

    @classmethod
    def in_dir(cls, out_dir: str | os.PathLike) -> TaskManifest:
        """The manifest ``<out_dir>/export_tasks.json``."""
        return cls(Path(out_dir) / cls.FILE_NAME)

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        """A copy of the entries, by destination key."""
        return json.loads(json.dumps(self._entries))

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        return dict(entry) if entry is not None else None

    def key_of(self, task_id: str) -> str | None:
        """The destination key of the entry holding a task id."""
        for key, entry in self._entries.items():
            if entry.get("id") == task_id:
                return key
        return None

    def record(self, key: str, task: Any, *, destination: str, description: str) -> None:
        """Record a started task under a destination key."""
        self._entries[key] = {
            "id": getattr(task, "id", None),
            "name": getattr(task, "name", None),
            "task_type": str(_enum_value(getattr(task, "task_type", "")) or ""),
            "description": description,
            "destination": destination,
            "state": "READY",
            "updated": _now(),
        }
        self.save()

    def update(self, key: str, **fields: Any) -> None:
        """Change fields of an entry (state, error_message …)."""
        entry = self._entries.setdefault(key, {})
        entry.update(fields)
        entry["updated"] = _now()
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": 1, "tasks": self._entries}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _enum_value(v: Any) -> Any:
    return getattr(v, "value", v)


def _reattach(entry: Mapping[str, Any]) -> Any:
    """An ``ee.batch.Task`` for an operation started earlier (it cannot be started again)."""
    return ee.batch.Task(
        entry["id"],
        entry.get("task_type") or ee.batch.Task.Type.EXPORT_IMAGE,
        ee.batch.Task.State.RUNNING,
        {"description": entry.get("description", "")},
        entry.get("name"),
    )


def _resume(
    manifest: TaskManifest | None, key: str, *, overwrite: bool, destination: str
) -> tuple[str, Any]:
    """What to do with a destination the manifest knows: ``start``, ``skip`` or ``wait``."""
    if manifest is None:
        return "start", None
    entry = manifest.get(key)
    if not entry or not entry.get("name"):
        return "start", None
    try:
        status = task_status(_reattach(entry))
    except ee.EEException as exc:
        log.info(
            "task %s of %s is unknown to the server (%s); starting again", entry["id"], key, exc
        )
        return "start", None
    state = status["state"]
    manifest.update(key, state=state, error_message=status.get("error_message"))
    if state in ("READY", "RUNNING", "CANCEL_REQUESTED"):
        log.info("%s: task %s is still %s; waiting on it", key, entry["id"], state)
        return "wait", _reattach(entry)
    if state == "COMPLETED" and not overwrite:
        if destination == "asset" and not asset_exists(key.split(":", 1)[1]):
            return "start", None
        log.info("%s: done in an earlier run (task %s); skipped", key, entry["id"])
        return "skip", None
    return "start", None


# --- exports ----------------------------------------------------------------------------------


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
    _check_destination(destination)
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
    description = _description(description or key.split(":", 1)[1])
    action, task = _resume(manifest, key, overwrite=overwrite, destination=destination)
    if action == "wait":
        return task
    if action == "skip":
        return None
    if destination == "asset" and not overwrite and asset_exists(asset_id):
        log.info("asset %s exists; skipped (use overwrite to replace it)", asset_id)
        return None
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
    return _start(task, key, description, manifest, start)


def _start(
    task: Any, key: str, description: str, manifest: TaskManifest | None, start: bool
) -> Any:
    if not start:
        return task
    try:
        task.start()
    except ee.EEException as exc:
        raise ExportError(f"Cannot start export task '{description}' ({key}): {exc}") from exc
    log.info("started task %s (%s) → %s", task.id, description, key)
    if manifest is not None:
        manifest.record(key, task, destination=key, description=description)
    return task


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
    _check_destination(destination)
    if not isinstance(collection, ee.FeatureCollection):
        raise InputError(
            f"export_table needs an ee.FeatureCollection, got {type(collection).__name__}."
        )
    key = destination_key(
        destination, asset_id=asset_id, folder=folder, bucket=bucket, prefix=prefix
    )
    description = _description(description or key.split(":", 1)[1])
    action, task = _resume(manifest, key, overwrite=overwrite, destination=destination)
    if action == "wait":
        return task
    if action == "skip":
        return None
    if destination == "asset" and not overwrite and asset_exists(asset_id):
        log.info("asset %s exists; skipped (use overwrite to replace it)", asset_id)
        return None
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
    return _start(task, key, description, manifest, start)


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
    _check_destination(destination)
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
            _create_collection(asset_id, properties)
    elif not prefix:
        raise InputError(f"An export to {destination} needs a file name prefix.")
    base = description or (asset_id.rsplit("/", 1)[-1] if asset_id else prefix)
    tasks = []
    for index in indices:
        part = _safe_part(index)
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


# --- polling ----------------------------------------------------------------------------------


def task_status(task: Any) -> dict[str, Any]:
    """A task's status as ``task.status()`` gives it, plus ``progress`` (0–1) when known.

    An ``ee.batch.Task`` with an operation name is read with one ``ee.data.getOperation``
    (which also carries the progress); anything else with ``task.status()``.
    """
    name = getattr(task, "name", None)
    if isinstance(task, ee.batch.Task) and name:
        op = ee.data.getOperation(name)
        meta = op.get("metadata") or {}
        status: dict[str, Any] = {
            "id": name.rsplit("/", 1)[-1],
            "name": name,
            "state": _TASK_STATES.get(meta.get("state", ""), "UNKNOWN"),
            "description": meta.get("description", ""),
            "task_type": meta.get("type"),
            "progress": meta.get("progress"),
            "destination_uris": meta.get("destinationUris", []),
        }
        if op.get("done") and "error" in op:
            status["error_message"] = op["error"].get("message", "")
        return status
    status = dict(task.status())
    status["state"] = str(_enum_value(status.get("state", "UNKNOWN")))
    status.setdefault("id", getattr(task, "id", None))
    status.setdefault("description", (getattr(task, "config", None) or {}).get("description", ""))
    return status


class StderrProgress:
    """The default progress display: one line on stderr, rewritten in place on a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = ""

    def __call__(self, statuses: Sequence[Mapping[str, Any]]) -> None:
        counts: dict[str, int] = {}
        for s in statuses:
            counts[s["state"]] = counts.get(s["state"], 0) + 1
        running = [s for s in statuses if s["state"] == "RUNNING"]
        fractions = [float(s.get("progress") or 0.0) for s in running]
        parts = [f"{counts.get('COMPLETED', 0)}/{len(statuses)} done"]
        if running:
            parts.append(f"{len(running)} running ({100 * sum(fractions) / len(running):.0f}%)")
        if counts.get("READY"):
            parts.append(f"{counts['READY']} waiting")
        for state in ("FAILED", "CANCELLED"):
            if counts.get(state):
                parts.append(f"{counts[state]} {state.lower()}")
        line = "exports: " + ", ".join(parts)
        if line == self._last:
            return
        self._last = line
        if self.tty:
            self.stream.write("\r" + line.ljust(72))
            if all(s["state"] in DONE_STATES for s in statuses):
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _ask_on_tty(tasks: Sequence[Any]) -> bool:
    if not (sys.stdin and sys.stdin.isatty()):
        return False
    try:
        answer = input(f"\nCancel the {len(tasks)} export task(s) still running? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def wait_for_tasks(
    tasks: Iterable[Any],
    *,
    poll_seconds: float = 10.0,
    progress: Callable[[Sequence[Mapping[str, Any]]], None] | None = None,
    confirm: Callable[[Sequence[Any]], bool] | None = None,
    manifest: TaskManifest | None = None,
    timeout: float | None = None,
    fail_fast: bool = True,
) -> list[dict[str, Any]]:
    """Poll tasks until every one has finished, showing progress.

    Parameters
    ----------
    tasks
        ``ee.batch.Task`` objects (None entries, i.e. skipped exports, are ignored).
    poll_seconds
        Seconds between polls.
    progress
        Called with the list of statuses after every poll (default: a line on
        stderr, :class:`StderrProgress`).
    confirm
        Asked, on Ctrl-C, with the tasks still active; True cancels them. Default:
        a y/N question when stdin is a terminal, otherwise no.
    manifest
        Updated with every task's state.
    timeout
        Give up (ExportError) after this many seconds; None waits for ever.
    fail_fast
        Raise as soon as one task fails (the others keep running on the server
        and a rerun with the manifest waits on them); otherwise after all have finished.

    Returns
    -------
    list of dict
        The final status of every task.

    Raises
    ------
    ExportError
        A task failed or was cancelled; the message names it and gives the
        server's error message.
    KeyboardInterrupt
        Re-raised after offering to cancel the active tasks.
    """
    tasks = [t for t in tasks if t is not None]
    show = progress if progress is not None else StderrProgress()
    ask = confirm if confirm is not None else _ask_on_tty
    statuses: dict[int, dict[str, Any]] = {}
    started = time.monotonic()
    try:
        while True:
            for i, task in enumerate(tasks):
                if i in statuses and statuses[i]["state"] in DONE_STATES:
                    continue
                status = task_status(task)
                if status["state"] in ("UNSUBMITTED", "UNKNOWN"):
                    raise ExportError(
                        f"Task '{status.get('description', '')}' ({status.get('id')}) is "
                        f"{status['state'].lower()}: start it before waiting on it."
                    )
                previous = statuses.get(i, {}).get("state")
                statuses[i] = status
                if manifest is not None and status["state"] != previous:
                    key = manifest.key_of(status.get("id") or getattr(task, "id", None))
                    if key is not None:
                        manifest.update(
                            key, state=status["state"], error_message=status.get("error_message")
                        )
            ordered = [statuses[i] for i in range(len(tasks))]
            show(ordered)
            failed = [s for s in ordered if s["state"] in ("FAILED", "CANCELLED")]
            if failed and (fail_fast or all(s["state"] in DONE_STATES for s in ordered)):
                raise ExportError(_failure_message(failed, ordered))
            if all(s["state"] in DONE_STATES for s in ordered):
                return ordered
            if timeout is not None and time.monotonic() - started > timeout:
                raise ExportError(
                    f"Gave up waiting after {timeout:g} s; "
                    f"{sum(s['state'] not in DONE_STATES for s in ordered)} task(s) still active."
                )
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        active = [
            t for i, t in enumerate(tasks) if statuses.get(i, {}).get("state") not in DONE_STATES
        ]
        if active and ask(active):
            for task in active:
                try:
                    task.cancel()
                except ee.EEException as exc:
                    log.warning("could not cancel task %s: %s", getattr(task, "id", "?"), exc)
                else:
                    log.warning("cancelled task %s", getattr(task, "id", "?"))
                    if manifest is not None:
                        key = manifest.key_of(getattr(task, "id", None))
                        if key is not None:
                            manifest.update(key, state="CANCEL_REQUESTED")
        raise


def _failure_message(failed: Sequence[Mapping[str, Any]], all_: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for s in failed:
        what = "failed" if s["state"] == "FAILED" else "was cancelled"
        msg = s.get("error_message") or "(no message)"
        lines.append(f"Export task '{s.get('description', '')}' ({s.get('id')}) {what}: {msg}")
    active = sum(s["state"] not in DONE_STATES for s in all_)
    if active:
        lines.append(
            f"{active} other task(s) are still running; rerun with the same manifest to wait on them."
        )
    return "\n".join(lines)


# --- sharing ----------------------------------------------------------------------------------

_MEMBER_PREFIXES = ("user:", "group:", "serviceAccount:", "domain:")


def _member(text: str) -> str:
    """``user:<email>`` for a plain email; typed members (``group:…``) and allUsers as given."""
    text = text.strip()
    if text == "allUsers" or text.startswith(_MEMBER_PREFIXES):
        return text
    if not re.fullmatch(r"[^@\s:]+@[^@\s:]+", text):
        raise InputError(
            f"Invalid collaborator {text!r}: give an email address or a typed member "
            "such as 'group:team@example.com'."
        )
    return f"user:{text}"


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    """Call an ``ee.data`` function without its deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args)


def show_acl(asset_id: str) -> dict[str, Any]:
    """The access control list of an asset (``owners``, ``writers``, ``readers``,
    ``all_users_can_read``)."""
    try:
        acl = _quiet(ee.data.getAssetAcl, asset_id)
    except ee.EEException as exc:
        raise ExportError(f"Cannot read the ACL of '{asset_id}': {exc}") from exc
    acl.setdefault("all_users_can_read", False)
    return acl


def format_acl(asset_id: str, acl: Mapping[str, Any]) -> str:
    """An ACL as readable lines."""
    lines = [asset_id]
    for role in ("owners", "writers", "readers"):
        members = acl.get(role) or []
        lines.append(f"  {role}: {', '.join(members) if members else '(none)'}")
    lines.append(f"  public read: {'yes' if acl.get('all_users_can_read') else 'no'}")
    return "\n".join(lines)


def _descendants(asset_id: str) -> list[str]:
    """Every asset below a folder (recursively); images of a collection follow the collection."""
    out = []
    pending = [asset_id]
    while pending:
        parent = pending.pop(0)
        listing = ee.data.listAssets({"parent": parent})
        for asset in listing.get("assets", []):
            name = asset.get("name") or asset.get("id")
            out.append(name)
            if asset.get("type") in ("FOLDER", "Folder"):
                pending.append(name)
    return out


def share_asset(
    asset_id: str,
    *,
    readers: Iterable[str] = (),
    writers: Iterable[str] = (),
    public: bool = False,
    recursive: bool = False,
) -> list[str]:
    """Give collaborators read or write access to an asset (and what is below a folder).

    Members are added to the existing ACL (nobody loses access). Public read access is
    given only with ``public=True``; it is never implied.

    Parameters
    ----------
    asset_id
        The asset.
    readers
        Emails (``user:`` is added) or typed members (``group:…``) to give read access.
    writers
        Members to give write access.
    public
        Make the asset readable by anyone.
    recursive
        For a folder, also every asset below it; the images of an image
        collection follow the collection's ACL and are not changed one by one.

    Returns
    -------
    list of str
        The ids of the assets whose ACL changed.
    """
    new_readers = [_member(m) for m in readers]
    new_writers = [_member(m) for m in writers]
    if not (new_readers or new_writers or public):
        raise InputError("Nothing to share: give readers, writers or public.")
    targets = [asset_id]
    if recursive:
        asset = ee.data.getAsset(asset_id)
        if asset.get("type") in ("FOLDER", "Folder"):
            targets += _descendants(asset_id)
    changed = []
    for target in targets:
        acl = show_acl(target)
        update = {
            "owners": list(acl.get("owners") or []),
            "readers": list(acl.get("readers") or []),
            "writers": list(acl.get("writers") or []),
            "all_users_can_read": bool(acl.get("all_users_can_read")) or public,
        }
        for m in new_readers:
            if m not in update["readers"] and m not in update["writers"]:
                update["readers"].append(m)
        for m in new_writers:
            if m not in update["writers"]:
                update["writers"].append(m)
            if m in update["readers"]:
                update["readers"].remove(m)
        if _same_acl(acl, update):
            continue
        try:
            _quiet(ee.data.setAssetAcl, target, update)
        except ee.EEException as exc:
            raise ExportError(f"Cannot change the ACL of '{target}': {exc}") from exc
        log.info("shared %s", target)
        changed.append(target)
    return changed


def _same_acl(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(
        sorted(a.get(k) or []) == sorted(b.get(k) or []) for k in ("owners", "readers", "writers")
    ) and bool(a.get("all_users_can_read")) == bool(b.get("all_users_can_read"))


# --- upload -----------------------------------------------------------------------------------

_YEAR_FILE = re.compile(r"_(\d{4})\.tiff?$", re.IGNORECASE)


def annual_geotiffs(folder: str | os.PathLike) -> dict[int, Path]:
    """The ``*_YYYY.tif`` files of a folder, by year.

    Raises
    ------
    InputError
        No such file, or two files for one year (the message names them).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Not a folder: {folder}")
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        m = _YEAR_FILE.search(path.name)
        if not m or not path.is_file():
            continue
        year = int(m.group(1))
        if year in found:
            raise InputError(f"Two files for year {year}: {found[year].name} and {path.name}.")
        found[year] = path
    if not found:
        raise InputError(f"No *_YYYY.tif files in {folder}.")
    return dict(sorted(found.items()))


def _asset_name(asset_id: str) -> str:
    if asset_id.startswith("projects/"):
        return asset_id
    if asset_id.startswith("users/"):
        return f"projects/earthengine-legacy/assets/{asset_id}"
    raise InputError(f"Give the full asset id ('projects/<project>/assets/…'), not {asset_id!r}.")


def _rfc3339(year: int) -> str:
    return f"{year:04d}-01-01T00:00:00Z"


def ingestion_manifest(
    name: str,
    uris: str | Sequence[str],
    *,
    year: int | None = None,
    band: str = "npp",
    properties: Mapping[str, Any] | None = None,
    missing_data: Sequence[float] | None = None,
    pyramiding_policy: str = "MEAN",
) -> dict[str, Any]:
    """The image manifest that ingests one single-band GeoTIFF from Cloud Storage.

    Parameters
    ----------
    name
        The image asset (``projects/<p>/assets/…``).
    uris
        The ``gs://`` URI of the file (or a list: the file and its sidecars).
    year
        The calendar year: ``startTime``/``endTime`` span it, ``year`` is a property.
    band
        The band name.
    properties
        More image properties.
    missing_data
        Values that mark masked pixels.
    pyramiding_policy
        How Earth Engine builds coarser levels.

    Returns
    -------
    dict
        A dict for ``ee.data.startIngestion``.
    """
    uris = [uris] if isinstance(uris, str) else list(uris)
    for uri in uris:
        if not uri.startswith("gs://"):
            raise InputError(f"Ingestion reads from Cloud Storage: {uri!r} is not a gs:// URI.")
    manifest: dict[str, Any] = {
        "name": _asset_name(name),
        "tilesets": [{"sources": [{"uris": uris}]}],
        "bands": [{"id": band, "tilesetBandIndex": 0}],
    }
    props = dict(properties or {})
    if year is not None:
        manifest["startTime"] = _rfc3339(year)
        manifest["endTime"] = _rfc3339(year + 1)
        props = {"year": int(year), **props}
    if props:
        manifest["properties"] = props
    if missing_data:
        manifest["missingData"] = {"values": [float(v) for v in missing_data]}
    manifest["pyramidingPolicy"] = pyramiding_policy.upper()
    return manifest


@dataclass
class Upload:
    """What :func:`upload_annual_geotiffs` did.

    Attributes
    ----------
    collection
        The ImageCollection asset id.
    images
        The image asset ids written or being ingested, by year.
    skipped
        Years whose image existed (not overwritten).
    tasks
        Ingestion tasks to wait on (Earth Engine only; empty on the local engine).
    """

    collection: str
    images: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)


def _single_band(path: Path) -> tuple[float | None, str]:
    import rasterio

    try:
        with rasterio.open(path) as src:
            if src.count != 1:
                raise InputError(f"{path.name} has {src.count} bands; annual NPP files have one.")
            return src.nodata, src.dtypes[0]
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"Cannot read {path}: {exc}") from exc


def upload_annual_geotiffs(
    folder: str | os.PathLike,
    asset_id: str,
    *,
    engine: LocalEngine | None = None,
    band: str = "npp",
    gcs_prefix: str | None = None,
    overwrite: bool = False,
    properties: Mapping[str, Any] | None = None,
) -> Upload:
    """Make an annual ImageCollection asset from a folder of ``*_YYYY.tif`` files.

    Each file (one band; its nodata value or NaN marks masked pixels) becomes the image
    ``<asset_id>/<YYYY>`` with band ``band``, property ``year`` and ``system:time_start`` at
    1 January (UTC), ending 1 January of the next year.

    - On the local engine (``engine`` given) the files go straight into its store.
    - On Earth Engine the files must already be in Cloud Storage under ``gcs_prefix``
      (``gs://bucket/dir``, same file names; e.g. copied with ``gcloud storage cp``); one
      ingestion task per file is started (``ee.data.startIngestion``); wait on
      ``Upload.tasks`` with :func:`wait_for_tasks`.

    Parameters
    ----------
    folder
        The folder of GeoTIFFs.
    asset_id
        The ImageCollection asset (created if missing).
    engine
        The local engine, or None for the initialized Earth Engine.
    band
        The band name of every image.
    gcs_prefix
        Where the files are in Cloud Storage (Earth Engine only).
    overwrite
        Replace existing images (otherwise they are skipped).
    properties
        Properties of a new collection asset.

    Returns
    -------
    Upload
        The collection, the images written or being ingested, the years skipped and the
        ingestion tasks.

    Raises
    ------
    InputError
        No files, two for one year, a multi-band file, or no ``gcs_prefix`` on
        Earth Engine.
    ExportError
        An ingestion could not be started.
    """
    files = annual_geotiffs(folder)
    for path in files.values():
        _single_band(path)
    result = Upload(collection=asset_id)
    if engine is not None:
        return _upload_local(engine, files, asset_id, band, overwrite, properties, result)
    if not gcs_prefix or not gcs_prefix.startswith("gs://"):
        raise InputError(
            "Uploading to Earth Engine ingests from Cloud Storage: copy the files to a bucket "
            "and give gcs_prefix='gs://bucket/dir'."
        )
    name = _asset_name(asset_id)
    if not asset_exists(name):
        _create_collection(name, properties)
    for year, path in files.items():
        image = f"{name}/{year}"
        if not overwrite and asset_exists(image):
            log.info("%s exists; skipped", image)
            result.skipped.append(year)
            continue
        nodata, _ = _single_band(path)
        missing = [nodata] if nodata is not None and nodata == nodata else None
        manifest = ingestion_manifest(
            image,
            f"{gcs_prefix.rstrip('/')}/{path.name}",
            year=year,
            band=band,
            missing_data=missing,
        )
        try:
            reply = ee.data.startIngestion(ee.data.newTaskId()[0], manifest, overwrite)
        except ee.EEException as exc:
            raise ExportError(
                f"Cannot start the ingestion of {path.name} into {image}: {exc}"
            ) from exc
        result.tasks.append(
            ee.batch.Task(
                reply["id"],
                "INGEST_IMAGE",
                ee.batch.Task.State.READY,
                {"description": f"ingest {path.name}"},
                reply.get("name"),
            )
        )
        result.images[year] = image
    return result


def _upload_local(
    engine: LocalEngine,
    files: Mapping[int, Path],
    asset_id: str,
    band: str,
    overwrite: bool,
    properties: Mapping[str, Any] | None,
    result: Upload,
) -> Upload:
    from .engine.store import year_millis

    store = engine.store
    if not store.exists(asset_id):
        store.create(asset_id, "IMAGE_COLLECTION", properties)
    elif store.meta(asset_id)["type"] != "IMAGE_COLLECTION":
        raise InputError(f"'{asset_id}' exists and is not an ImageCollection.")
    collection = store.resolve(asset_id)
    for year, path in files.items():
        image = collection.child(str(year))
        if store.exists(image) and not overwrite:
            log.info("%s exists; skipped", image.name)
            result.skipped.append(year)
            continue
        props = {
            "year": year,
            "system:time_start": year_millis(year),
            "system:time_end": year_millis(year + 1),
        }
        store.put_geotiff(image, path, bands=[band], properties=props, overwrite=overwrite)
        result.images[year] = image.name
    return result
