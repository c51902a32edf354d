"""Resuming a run's exports from its task manifest: start, skip or wait, and recording starts.

Before an export starts, :func:`resume_action` asks the manifest (and the server) what
became of the task recorded for its destination key in an earlier run:

- none recorded, unknown to the server, failed or cancelled: ``"start"``;
- ``READY``, ``RUNNING`` or ``CANCEL_REQUESTED``: ``"wait"``, on a task reattached to it;
- ``COMPLETED`` (and, for an asset, the asset still exists), unless ``overwrite``: ``"skip"``;
- with nothing recorded, an existing destination asset is skipped unless ``overwrite``.

For a manifest bound to a run (:meth:`~gee_cscc.cloud.tasks.TaskManifest.bind_run`), an
asset is skipped only if it carries the same run hash (property
:data:`~gee_cscc.cloud.tasks.RUN_HASH_PROPERTY`): an asset of another configuration, or of
unknown origin, is refused with :class:`~gee_cscc.errors.ResumeMismatch` (a restarted run
replaces it). A restarted manifest (``manifest.replace``) redoes every destination.

:func:`start_task` starts a task and records it in the manifest so that the next run can
resume it. Records go to the logger of :mod:`gee_cscc.cloud.exports`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ee

from gee_cscc.cloud.assets import asset_info
from gee_cscc.cloud.tasks import (
    RUN_HASH_PROPERTY,
    TaskManifest,
    cancel_if_active,
    task_status,
)
from gee_cscc.errors import ExportError, ResumeMismatch

__all__ = ["effective_overwrite", "resume_action", "run_properties", "start_task"]

#: The records of every export module go to the logger of :mod:`gee_cscc.cloud.exports`.
log = logging.getLogger("gee_cscc.cloud.exports")


def _reattach(entry: Mapping[str, Any]) -> Any:
    """An ``ee.batch.Task`` for an operation started earlier (it cannot be started again)."""
    return ee.batch.Task(
        entry["id"],
        entry.get("task_type") or ee.batch.Task.Type.EXPORT_IMAGE,
        ee.batch.Task.State.RUNNING,
        {"description": entry.get("description", "")},
        entry.get("name"),
    )


def _same_run(info: dict, manifest: TaskManifest | None, asset_id: str) -> bool:
    """Whether an existing asset may be kept for this run (raises when it may not).

    Without a bound manifest every existing asset is kept (the library's plain resume).
    """
    if manifest is None or manifest.run_hash is None:
        return True
    recorded = (info.get("properties") or {}).get(RUN_HASH_PROPERTY)
    if recorded == manifest.run_hash:
        return True
    origin = f"run {str(recorded)[:12]}" if recorded else "an unknown run (no run hash)"
    raise ResumeMismatch(
        f"Asset {asset_id} exists from {origin}, not this configuration, inputs and grid "
        f"(run {manifest.run_hash[:12]}); it is not reused: {manifest.hint}."
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
    if manifest.run_hash is not None and entry.get("run_hash") != manifest.run_hash:
        if not overwrite:  # a task of another run (or of an unhashed one) at this destination
            raise ResumeMismatch(
                f"{manifest.path}: the task recorded for {key} is not of this configuration, "
                f"inputs and grid (run {manifest.run_hash[:12]}), so it is not resumed: "
                f"{manifest.hint}."
            )
        cancel_if_active(key, entry)
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
        if destination == "asset":
            asset_id = key.split(":", 1)[1]
            info = asset_info(asset_id)
            if info is None:
                return "start", None
            _same_run(info, manifest, asset_id)
        log.info("%s: done in an earlier run (task %s); skipped", key, entry["id"])
        return "skip", None
    return "start", None


def resume_action(
    manifest: TaskManifest | None,
    key: str,
    asset_id: str | None,
    overwrite: bool,
    destination: str,
) -> tuple[str, Any]:
    """What to do with an export to ``key``: ``("start" | "skip" | "wait", task or None)``.

    The manifest's verdict (:func:`_resume`), and ``skip`` for an existing destination asset
    (unless ``overwrite``, or the manifest restarted); the task is one reattached to a
    running task for ``wait``.

    Raises
    ------
    ResumeMismatch
        The destination asset exists from another run (bound manifests only).
    """
    overwrite = overwrite or (manifest is not None and manifest.replace)
    action, task = _resume(manifest, key, overwrite=overwrite, destination=destination)
    if action == "start" and destination == "asset" and not overwrite:
        info = asset_info(asset_id)
        if info is not None and _same_run(info, manifest, asset_id):
            log.info("asset %s exists; skipped (use overwrite to replace it)", asset_id)
            return "skip", None
    return action, task


def effective_overwrite(manifest: TaskManifest | None, overwrite: bool) -> bool:
    """``overwrite``, or True when the manifest restarted its run (every destination redone)."""
    return overwrite or (manifest is not None and manifest.replace)


def run_properties(
    properties: Mapping[str, Any] | None, manifest: TaskManifest | None
) -> dict[str, Any]:
    """``properties`` plus the manifest's run hash (when bound), for an exported asset."""
    props = dict(properties or {})
    if manifest is not None and manifest.run_hash is not None:
        props[RUN_HASH_PROPERTY] = manifest.run_hash
    return props


def start_task(
    task: Any, key: str, description: str, manifest: TaskManifest | None, start: bool
) -> Any:
    """Start ``task`` and record it in ``manifest`` under ``key`` (``start=False``: return it as is).

    Raises
    ------
    ExportError
        The server refused to start the task.
    """
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
