"""Resuming a run's exports from its task manifest: start, skip or wait, and recording starts.

Before an export starts, :func:`resume_action` asks the manifest (and the server) what
became of the task recorded for its destination key in an earlier run:

- none recorded, unknown to the server, failed or cancelled: ``"start"``;
- ``READY``, ``RUNNING`` or ``CANCEL_REQUESTED``: ``"wait"``, on a task reattached to it;
- ``COMPLETED`` (and, for an asset, the asset still exists), unless ``overwrite``: ``"skip"``;
- with nothing recorded, an existing destination asset is skipped unless ``overwrite``.

:func:`start_task` starts a task and records it in the manifest so that the next run can
resume it. Records go to the logger of :mod:`gee_cscc.cloud.exports`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ee

from gee_cscc.cloud.assets import asset_exists
from gee_cscc.cloud.tasks import TaskManifest, task_status
from gee_cscc.errors import ExportError

__all__ = ["resume_action", "start_task"]

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


def resume_action(
    manifest: TaskManifest | None,
    key: str,
    asset_id: str | None,
    overwrite: bool,
    destination: str,
) -> tuple[str, Any]:
    """What to do with an export to ``key``: ``("start" | "skip" | "wait", task or None)``.

    The manifest's verdict (:func:`_resume`), and ``skip`` for an existing destination asset
    (unless ``overwrite``); the task is one reattached to a running task for ``wait``.
    """
    action, task = _resume(manifest, key, overwrite=overwrite, destination=destination)
    if action == "start" and destination == "asset" and not overwrite and asset_exists(asset_id):
        log.info("asset %s exists; skipped (use overwrite to replace it)", asset_id)
        return "skip", None
    return action, task


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
