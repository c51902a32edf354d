"""Asset look-ups and creation through ``ee.data``, shared by exports, upload and the CLI."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import ee

from gee_cscc.errors import ExportError

__all__ = [
    "RUN_HASH_PROPERTY",
    "asset_exists",
    "asset_info",
    "call_quietly",
    "create_collection",
    "delete_collection",
    "ensure_folder",
    "made_by_twin",
]

#: The asset property holding the run hash of an export (see
#: :meth:`~gee_cscc.cloud.tasks.TaskManifest.bind_run`).
RUN_HASH_PROPERTY = "gee_cscc_run_hash"


def call_quietly(fn: Callable[..., Any], *args: Any) -> Any:
    """Call an ``ee.data`` function without its deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args)


def asset_info(asset_id: str | None) -> dict | None:
    """The asset's metadata (``ee.data.getAsset``), or None when it does not exist (or no
    id is given).

    Raises
    ------
    ExportError
        Any other failure than 'not found' (for example a permission error).
    """
    if not asset_id:
        return None
    try:
        return ee.data.getAsset(asset_id)
    except ee.EEException as exc:
        text = str(exc).lower()
        if "not found" in text or "does not exist" in text:
            return None
        raise ExportError(f"Cannot look up asset '{asset_id}': {exc}") from exc


def asset_exists(asset_id: str) -> bool:
    """Whether an Earth Engine asset exists (False when the server answers 'not found').

    Raises
    ------
    ExportError
        Any other failure (for example a permission error).
    """
    return asset_info(asset_id) is not None


def create_collection(asset_id: str, properties: Mapping[str, Any] | None) -> None:
    """Create an ImageCollection asset (and missing parent folders), with properties.

    A collection that another run created between the look-up and the creation (see
    :func:`ensure_folder`) is taken, and given the properties.
    """
    try:
        try:
            call_quietly(ee.data.create_assets, [asset_id], "IMAGE_COLLECTION", True)
        except ee.EEException as exc:
            info = asset_info(asset_id) if _exists_race(exc) else None
            if info is None or str(info.get("type", "")).upper() != "IMAGE_COLLECTION":
                raise
        if properties:
            ee.data.updateAsset(
                asset_id,
                {"properties": dict(properties)},
                [f"properties.{json.dumps(str(k))}" for k in properties],
            )
    except ee.EEException as exc:
        raise ExportError(f"Cannot create the image collection '{asset_id}': {exc}") from exc


def delete_collection(asset_id: str) -> None:
    """Delete an ImageCollection asset and the images in it.

    Raises
    ------
    ExportError
        An image or the collection cannot be deleted (for example, no permission).
    """
    try:
        listing = call_quietly(ee.data.listAssets, {"parent": asset_id})
        for asset in listing.get("assets", []):
            call_quietly(ee.data.deleteAsset, asset.get("name") or asset.get("id"))
        call_quietly(ee.data.deleteAsset, asset_id)
    except ee.EEException as exc:
        raise ExportError(f"Cannot delete the image collection '{asset_id}': {exc}") from exc


def ensure_folder(asset_id: str) -> None:
    """Create an asset folder (and its parents) if it is missing.

    Earth Engine's asset exports need the parent folder to exist. Another run may create
    the same folder (or a parent) between the look-up and the creation (two runs of one
    configuration share their export root): creating then fails with "Cannot overwrite
    asset", and the folder made by the other run is taken, after a fresh look-up, when it
    is a folder. The client creates parents one by one, so this is tried a few times.

    Raises
    ------
    ExportError
        The folder cannot be created (for example, no permission), or the id is taken by an
        asset that is not a folder.
    """
    for attempt in range(_FOLDER_TRIES):
        info = asset_info(asset_id)
        if info is not None:
            if str(info.get("type", "")).upper() not in ("FOLDER", "PROJECT"):
                raise ExportError(
                    f"Cannot create the asset folder '{asset_id}': an asset of type "
                    f"{info.get('type')} has that id."
                )
            return
        try:
            call_quietly(ee.data.create_assets, [asset_id], "FOLDER", True)
            return
        except ee.EEException as exc:
            if not _exists_race(exc) or attempt + 1 == _FOLDER_TRIES:
                raise ExportError(f"Cannot create the asset folder '{asset_id}': {exc}") from exc
            # another run made it (or a parent) meanwhile: look again


#: Look-ups and creations of a folder that another run may be creating at the same time.
_FOLDER_TRIES = 3


def _exists_race(exc: Exception) -> bool:
    """Whether a creation failed because the asset (or a parent) appeared meanwhile."""
    text = str(exc).lower()
    return "overwrite" in text or "already exists" in text


def made_by_twin(manifest: Any, status: Mapping[str, Any], task_id: Any) -> bool:
    """Whether a failed export only lost a race: another run of this configuration (the same
    run hash, so the same export root) exported the same asset meanwhile.

    Two runs of one configuration at once start the same exports (neither saw the other's
    task); Earth Engine then fails the later one with "Cannot overwrite asset". The asset
    the other run made holds exactly what this task would have written, so the task counts
    as completed.
    """
    if manifest.run_hash is None:
        return False
    if "overwrite" not in str(status.get("error_message") or "").lower():
        return False
    key = manifest.key_of(status.get("id") or task_id)
    if not key or not key.startswith("asset:"):
        return False
    asset_id = key.split(":", 1)[1]
    info = asset_info(asset_id) or {}
    return (info.get("properties") or {}).get(RUN_HASH_PROPERTY) == manifest.run_hash
