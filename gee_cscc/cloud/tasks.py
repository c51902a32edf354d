"""Export and ingestion tasks: the run manifest, task status and waiting with progress.

:class:`TaskManifest` keeps a run's tasks in ``OUT/export_tasks.json`` so that a rerun
resumes instead of restarting (see :mod:`gee_cscc.cloud.exports`); :func:`wait_for_tasks` polls
tasks until they finish, with a progress line (:class:`StderrProgress`) and an offer to
cancel them on Ctrl-C.

A manifest can be bound to one run (:meth:`TaskManifest.bind_run`): a hash of everything
that decides the exported values (:func:`run_hash` of the configuration, the inputs and the
grid). Every task is recorded with it, and a manifest holding tasks of another hash is
refused (:class:`~gee_cscc.errors.ResumeMismatch`) unless the run restarts, so a changed
configuration is never "resumed" from the tasks of an old one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ee

from gee_cscc.cloud.assets import RUN_HASH_PROPERTY, made_by_twin
from gee_cscc.errors import ExportError, ResumeMismatch

__all__ = [
    "ACTIVE_STATES",
    "DONE_STATES",
    "RUN_HASH_PROPERTY",
    "StderrProgress",
    "TaskManifest",
    "bar_options",
    "cancel_if_active",
    "run_hash",
    "status_line",
    "task_status",
    "tasks_done",
    "wait_for_tasks",
]

#: What to do when a manifest holds another run's tasks (``gee-cscc run``'s wording).
RESTART_HINT = "rerun with --restart to redo them, or give a new --out"

#: The records of every export module go to the logger of :mod:`gee_cscc.cloud.exports`.
log = logging.getLogger("gee_cscc.cloud.exports")

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
        #: The run this manifest is bound to (:meth:`bind_run`), or None.
        self.run_hash: str | None = None
        #: What the run is, in a few words, kept beside its hash (for a reader of the file).
        self.run_identity: dict[str, Any] | None = None
        #: True after a restart: every destination is redone (assets overwritten).
        self.replace = False
        #: What a refusal tells the user to do.
        self.hint = RESTART_HINT
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ExportError(f"Cannot read the task manifest {self.path}: {exc}") from exc
            self._entries = dict(data.get("tasks", {}))
            self.run_hash = data.get("run_hash")
            self.run_identity = data.get("run")

    def bind_run(
        self,
        run_hash: str,
        *,
        identity: Mapping[str, Any] | None = None,
        restart: bool = False,
        hint: str = RESTART_HINT,
    ) -> None:
        """Tie the manifest to one run, refusing the tasks of another.

        Parameters
        ----------
        run_hash
            The run's :func:`run_hash`; recorded with every task from now on.
        identity
            A readable summary of what was hashed (stored in the file, not compared).
        restart
            Forget the tasks of other runs (active ones are cancelled) and redo every
            destination, replacing exported assets.
        hint
            What a refusal tells the user to do.

        Raises
        ------
        ResumeMismatch
            The manifest holds tasks of another run, and ``restart`` is False. Tasks
            recorded without a run hash (by ``annualize``, ``upload`` or an older version)
            are checked one by one when their destination is exported again
            (:mod:`gee_cscc.cloud.resume`).
        """
        self.hint = hint
        stale = {
            k: e
            for k, e in self._entries.items()
            if e.get("run_hash") is not None and e.get("run_hash") != run_hash
        }
        if stale and not restart:
            recorded = sorted({str(e.get("run_hash") or "none") for e in stale.values()})
            raise ResumeMismatch(
                f"{self.path} holds {len(stale)} task(s) of a different configuration, inputs "
                f"or grid (run {', '.join(r[:12] for r in recorded)}; this run is "
                f"{run_hash[:12]}), so nothing is resumed: {hint}."
            )
        if restart:
            for key, entry in stale.items():
                cancel_if_active(key, entry)
                del self._entries[key]
            self.replace = True
        self.run_hash = run_hash
        self.run_identity = dict(identity) if identity is not None else None
        self.save()

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
        if self.run_hash is not None:
            self._entries[key]["run_hash"] = self.run_hash
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
        data: dict[str, Any] = {"version": 1, "tasks": self._entries}
        if self.run_hash is not None:
            data["run_hash"] = self.run_hash
            data["run"] = self.run_identity
        text = json.dumps(data, indent=1, sort_keys=True, default=str)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def run_hash(identity: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of ``identity`` as canonical JSON (sorted keys, no spaces).

    ``identity`` holds everything that decides a run's exported values: the configuration,
    the inputs (ids and their versions) and the grid.
    """
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cancel_if_active(key: str, entry: Mapping[str, Any]) -> None:
    """Cancel the task of a forgotten entry if the server still runs it (best effort)."""
    name = entry.get("name")
    if not name or entry.get("state") in DONE_STATES:
        return
    try:
        op = ee.data.getOperation(name)
        if not op.get("done"):
            ee.data.cancelOperation(name)
            log.warning("cancelled task %s of an earlier run (%s)", entry.get("id"), key)
    except ee.EEException as exc:
        log.info("task %s of an earlier run (%s) is not running: %s", entry.get("id"), key, exc)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _enum_value(v: Any) -> Any:
    return getattr(v, "value", v)


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


def status_line(statuses: Sequence[Mapping[str, Any]], *, what: str = "exports") -> str:
    """One line of task states: ``exports: 3/10 done, 2 running (40%), 5 waiting``."""
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
    return f"{what}: " + ", ".join(parts)


def tasks_done(statuses: Sequence[Mapping[str, Any]]) -> float:
    """Tasks finished, counting each running task by its progress (0–1): ``3.4`` of 10."""
    done = sum(s["state"] in DONE_STATES for s in statuses)
    running = sum(float(s.get("progress") or 0.0) for s in statuses if s["state"] == "RUNNING")
    return done + min(running, len(statuses) - done)


def bar_options(stream: Any) -> dict[str, Any]:
    """tqdm's size options on ``stream``: follow the terminal, or a fixed $COLUMNS × $LINES
    (80 × 24) where it reports 0 × 0 (``script``, some CI runners: tqdm would draw nothing)."""
    try:
        if os.get_terminal_size(stream.fileno()).columns > 0:
            return {"dynamic_ncols": True}
    except (AttributeError, ValueError, OSError):
        pass
    size = shutil.get_terminal_size((80, 24))
    return {"ncols": size.columns or 80, "nrows": size.lines or 24}


class StderrProgress:
    """The default progress display of :func:`wait_for_tasks` on stderr.

    On a terminal, a bar (``tqdm``): tasks finished (running ones by their progress), elapsed
    time and ETA, then ``2 running (40%), 5 waiting``. Elsewhere (a log file, a pipe), one
    :func:`status_line` per change of the states.
    """

    def __init__(self, stream: Any = None, *, what: str = "exports") -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.what = what
        self._last = ""
        self._bar: Any = None

    def __call__(self, statuses: Sequence[Mapping[str, Any]]) -> None:
        line = status_line(statuses, what=self.what)
        if not self.tty:
            if line != self._last:
                self._last = line
                self.stream.write(line + "\n")
                self.stream.flush()
            return
        from tqdm import tqdm

        if self._bar is None:
            fmt = "{desc}: {percentage:3.0f}% |{bar}| [{elapsed}<{remaining}] {postfix}"
            self._bar = tqdm(desc=self.what, file=self.stream, bar_format=fmt, leave=True,
                             **bar_options(self.stream))  # fmt: skip
        self._bar.total = len(statuses)
        self._bar.n = round(tasks_done(statuses), 2)
        self._bar.set_postfix_str(line.split(": ", 1)[-1], refresh=False)
        self._bar.refresh()
        if all(s["state"] in DONE_STATES for s in statuses):
            self.close()

    def close(self) -> None:
        """Finish the bar (it stays on screen with its last counts); a no-op off a terminal."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.close()


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
                twin = status["state"] == "FAILED" and manifest is not None
                if twin and made_by_twin(manifest, status, getattr(task, "id", None)):
                    log.info("%s: exported meanwhile by a run of this hash", status.get("id"))
                    status = {**status, "state": "COMPLETED", "error_message": None}
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
    except KeyboardInterrupt as exc:
        getattr(show, "close", lambda: None)()  # the bar ends before the question
        active = [
            t for i, t in enumerate(tasks) if statuses.get(i, {}).get("state") not in DONE_STATES
        ]
        # Only Ctrl-C asks: a SIGTERM (a signum other than SIGINT's 2) comes from a process
        # manager or `kill`, with nobody at the terminal to answer; the tasks keep running.
        asked_by_user = getattr(exc, "signum", 2) == 2
        if active and asked_by_user and ask(active):
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
    except ExportError:
        getattr(show, "close", lambda: None)()  # the bar ends before the error line
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
