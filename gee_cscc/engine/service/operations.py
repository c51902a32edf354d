"""Long-running operations of the local engine: exports and ingestions.

An operation moves PENDING → RUNNING → SUCCEEDED / FAILED / CANCELLED and is kept in
``<store>/operations/<id>.json`` so it can be listed after a restart (an operation that was
running when the engine stopped is marked FAILED with a message saying so). A start with a
``requestId`` already seen returns the existing operation instead of starting another.

Who may see and cancel an operation (:meth:`Operations.check`): operations belong to a
Cloud project, as on Earth Engine. The identity that started one, and whoever may read
the project (its root; the store's owner always) may get, wait for and list it; its
starter and whoever may write the project may cancel or delete it. Anyone else gets Earth
Engine's 403 "Permission 'earthengine.operations.get' denied on resource '<name>' (or it
may not exist)." (``.update`` for a cancel, ``.delete`` for a delete), the same for an
operation that does not exist, and ``listOperations`` shows them only their own.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from ..core.context import RequestContext
from ..errors import CancelledError, EEError, NotFoundError
from ..store.acl import denied

__all__ = ["Operations", "OperationRunner"]

_TYPES = {
    ("image", "export"): "EXPORT_IMAGE",
    ("table", "export"): "EXPORT_FEATURES",
    ("video", "export"): "EXPORT_VIDEO",
    ("map", "export"): "EXPORT_TILES",
    ("image", "import"): "INGEST_IMAGE",
    ("table", "import"): "INGEST_TABLE",
}
_DONE = ("SUCCEEDED", "FAILED", "CANCELLED")


class OperationRunner(Protocol):
    """What runs one operation's work (:func:`gee_cscc.engine.batch.tasks.run_operation`).

    Called on a worker thread with the starter's request context, the operation's kind
    (``image``, ``table`` …) and verb (``export``, ``import``), the request body, an event
    set on cancel and a progress callback (fraction 0–1); returns the destination URIs and
    raises :class:`EEError` (FAILED) or :class:`CancelledError` (CANCELLED).
    """

    def __call__(
        self,
        ctx: RequestContext,
        kind: str,
        verb: str,
        body: dict,
        cancel_event: threading.Event,
        progress: Any,
    ) -> list[str]: ...


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Operations:
    """The operations of one engine, executed on a small thread pool.

    Parameters
    ----------
    folder
        Where the operations are kept (one JSON file each).
    runner
        What does an operation's work.
    workers
        How many operations run at once.
    """

    def __init__(self, folder: Path, runner: OperationRunner, *, workers: int = 2) -> None:
        self.runner = runner
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._ops: dict[str, dict] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._done: dict[str, threading.Event] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gee-cscc-op")
        self._load()

    def _load(self) -> None:
        for path in sorted(self.dir.glob("*.json")):
            try:
                op = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if op["metadata"]["state"] not in _DONE:
                op["metadata"]["state"] = "FAILED"
                op["done"] = True
                op["error"] = {
                    "code": 10,
                    "message": "The local engine stopped while the task ran.",
                }
            self._ops[op["name"]] = op
            ev = threading.Event()
            ev.set()
            self._done[op["name"]] = ev

    def _save(self, op: dict) -> None:
        path = self.dir / (op["name"].rsplit("/", 1)[-1] + ".json")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(op))
        tmp.replace(path)

    def _set(self, name: str, **changes: Any) -> dict:
        with self._lock:
            op = self._ops[name]
            meta = op["metadata"]
            for k, v in changes.items():
                if k in ("done", "error", "response"):
                    op[k] = v
                else:
                    meta[k] = v
            meta["updateTime"] = _now()
            self._save(op)
            return json.loads(json.dumps(op))

    def start(self, ctx: RequestContext, project: str, kind: str, verb: str, body: dict) -> dict:
        """Start an export or ingestion as the caller of ``ctx``; returns the Operation JSON."""
        request_id = body.get("requestId")
        with self._lock:
            if request_id:
                for op in self._ops.values():
                    if op.get("_requestId") == request_id and op.get("_user") == ctx.user:
                        return self._public(op)
            op_id = uuid.uuid4().hex.upper()[:24]
            name = f"projects/{project}/operations/{op_id}"
            now = _now()
            op = {
                "name": name,
                "metadata": {
                    "@type": "type.googleapis.com/google.earthengine.v1.OperationMetadata",
                    "state": "PENDING",
                    "description": body.get("description") or "",
                    "type": _TYPES.get((kind, verb), "EXPORT_IMAGE"),
                    "createTime": now,
                    "updateTime": now,
                    "attempt": 1,
                },
                "done": False,
                "_requestId": request_id,
                "_user": ctx.user,
            }
            self._ops[name] = op
            self._cancel[name] = threading.Event()
            self._done[name] = threading.Event()
            self._save(op)
        self._pool.submit(self._run, name, kind, verb, body, ctx)
        return self._public(op)

    def _run(self, name: str, kind: str, verb: str, body: dict, ctx: RequestContext) -> None:
        cancel = self._cancel[name]
        # Batch work: no deadline (as on Earth Engine), but evaluation stops on a cancel.
        ctx = dataclasses.replace(ctx, deadline=None, cancel=cancel)
        try:
            if cancel.is_set():
                raise CancelledError()
            self._set(name, state="RUNNING", startTime=_now(), progress=0.0)
            uris = self.runner(ctx, kind, verb, body, cancel, self._progress_reporter(name))
            # Work that finished is kept even if a cancel arrived after its last check.
            self._set(
                name,
                state="SUCCEEDED",
                progress=1.0,
                done=True,
                destinationUris=list(uris or []),
                endTime=_now(),
                response={"@type": "type.googleapis.com/google.protobuf.Empty"},
            )
        except CancelledError:
            self._set(
                name,
                state="CANCELLED",
                done=True,
                endTime=_now(),
                error={"code": 1, "message": "Cancelled."},
            )
        except EEError as exc:
            self._set(
                name,
                state="FAILED",
                done=True,
                endTime=_now(),
                error={"code": 3, "message": exc.message},
            )
        except Exception as exc:  # report, do not kill the pool
            self._set(
                name,
                state="FAILED",
                done=True,
                endTime=_now(),
                error={"code": 13, "message": f"{type(exc).__name__}: {exc}"},
            )
        finally:
            self._done[name].set()

    def _progress_reporter(self, name: str, interval: float = 0.2) -> Any:
        """A callable that records ``metadata.progress`` (0–1), at most every ``interval`` s."""
        last = [0.0]

        def report(fraction: float) -> None:
            now = time.monotonic()
            if fraction < 1.0 and now - last[0] < interval:
                return
            last[0] = now
            with self._lock:
                if self._ops[name]["metadata"].get("state") == "RUNNING":
                    self._set(name, progress=round(min(max(float(fraction), 0.0), 1.0), 4))

        return report

    @staticmethod
    def _public(op: dict) -> dict:
        return {k: v for k, v in json.loads(json.dumps(op)).items() if not k.startswith("_")}

    def get(self, name: str) -> dict:
        with self._lock:
            op = self._ops.get(name)
            if op is None:
                raise NotFoundError(f"Operation '{name}' not found.")
            return self._public(op)

    def check(self, name: str, user: str | None, project_access: str, verb: str = "get") -> None:
        """Raise unless ``user`` may ``verb`` (get, update, delete) the operation.

        ``project_access`` is what the caller may do in the operation's project:
        ``"write"``, ``"read"`` or ``""``. A caller who may do nothing there and did not
        start the operation gets the same 403 whether or not it exists.
        """
        if user is None:
            return
        with self._lock:
            op = self._ops.get(name)
            starter = op.get("_user") if op is not None else None
        if op is not None and starter is not None and starter == user:
            return
        needed = ("read", "write") if verb == "get" else ("write",)
        if project_access in needed:
            return  # a missing one is then the 404 of get/cancel/delete
        raise denied(f"earthengine.operations.{verb}", name)

    def list(
        self, project: str, query: dict, user: str | None = None, project_access: str = "write"
    ) -> dict:
        """``listOperations``: all of the project's to a caller who may read the project,
        else only those the caller started."""
        everyone = user is None or project_access in ("read", "write")
        with self._lock:
            ops = [
                self._public(op)
                for op in self._ops.values()
                if op["name"].startswith(f"projects/{project}/")
                and (everyone or (op.get("_user") is not None and op.get("_user") == user))
            ]
        ops.sort(key=lambda o: o["metadata"].get("createTime", ""), reverse=True)
        size = int(query.get("pageSize", ["500"])[0] or 500)
        start = int(query.get("pageToken", ["0"])[0] or 0)
        out: dict[str, Any] = {"operations": ops[start : start + size]}
        if start + size < len(ops):
            out["nextPageToken"] = str(start + size)
        return out

    def cancel(self, name: str) -> None:
        with self._lock:
            op = self._ops.get(name)
            if op is None:
                raise NotFoundError(f"Operation '{name}' not found.")
            if op["metadata"]["state"] in _DONE:
                return
            self._cancel[name].set()
            if op["metadata"]["state"] == "PENDING":
                return
            self._set(name, state="CANCELLING")

    def wait(self, name: str, timeout: float = 60.0) -> dict:
        self.get(name)
        self._done[name].wait(timeout)
        return self.get(name)

    def delete(self, name: str) -> None:
        with self._lock:
            op = self._ops.pop(name, None)
            if op is None:
                raise NotFoundError(f"Operation '{name}' not found.")
            (self.dir / (name.rsplit("/", 1)[-1] + ".json")).unlink(missing_ok=True)

    def shutdown(self, timeout: float | None = None) -> None:
        """Cancel every operation; wait for the running ones to stop (at most ``timeout`` s)."""
        with self._lock:
            for ev in self._cancel.values():
                ev.set()
            running = [
                self._done[n]
                for n, op in self._ops.items()
                if op["metadata"].get("state") in ("RUNNING", "CANCELLING")
            ]
        self._pool.shutdown(wait=False, cancel_futures=True)
        end = None if timeout is None else time.monotonic() + timeout
        for done in running:
            done.wait(None if end is None else max(0.0, end - time.monotonic()))
