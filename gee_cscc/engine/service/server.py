"""The loopback HTTP service that the unmodified ``ee`` client, ``xee`` and ``geemap`` talk to.

It serves the Earth Engine REST API as shared/reference/ee-protocol.md describes: the
discovery document and algorithm list shipped with ``earthengine-api``, ``value:compute``,
``image:computePixels``, map tiles and thumbnails (:mod:`.tiles`), image downloads
(:mod:`.downloads`), ``table:computeFeatures`` and table downloads (:mod:`.features`), assets
(get, list, create, patch, delete, copy, move, IAM policy), project config, and
export/ingestion operations. Errors are JSON bodies with 4xx statuses
(never 5xx for deterministic failures, which the client would retry).

Who may call it and how much work a call may cause:

* Only callers that send the store's token (:mod:`.auth`) from this machine
  (:mod:`.guard`); each caller has an identity, and every ACL check is made for it.
* Interactive requests (``value:compute``, ``computePixels``, maps) compute on a fair
  :class:`~.scheduler.Scheduler`, each with a deadline of :attr:`Limits.compute_seconds`
  ("Computation timed out."), cancelled when the client disconnects, at most
  :attr:`Limits.concurrent_requests` per client (429 "Too many concurrent
  aggregations."); ``computePixels`` answers at most :attr:`Limits.pixels_bytes` and
  :attr:`Limits.pixels_side` pixels a side, ``value:compute`` at most
  :attr:`Limits.response_bytes` ("User memory limit exceeded."). Exports and ingestion
  (operations) have none of these limits, as on Earth Engine.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..batch.tasks import run_operation
from ..core.context import RequestContext, request_context
from ..core.evaluate import evaluate
from ..core.serialize import to_info
from ..core.tile_pool import usable_cores
from ..core.values import output_numpy_dtype, pixel_cache
from ..errors import EEError, MemoryLimitError
from ..limits import GOOGLE, Limits
from ..raster import reduction
from ..store.assets import AssetStore
from .asset_filter import matches_filter, parse_filter
from .auth import TOKEN_FILE, TokenTable, store_token
from .operations import Operations
from .pixels import geotiff_bytes, npy_bytes, request_grid, request_image
from .routes import RequestHandler
from .scheduler import Scheduler

__all__ = [
    "COMPUTE_PIXELS_LIMIT",
    "MAX_CONNECTIONS",
    "WORKERS",
    "EngineServer",
    "check_pixels_request",
]

log = logging.getLogger("gee_cscc.engine")

T = TypeVar("T")

#: Earth Engine's computePixels request limit (bytes).
COMPUTE_PIXELS_LIMIT = GOOGLE.pixels_bytes

#: Requests one client computes at once (one per core this process may use, at most 4, as
#: the tile pool counts them: ``os.cpu_count()`` would oversubscribe a container or a
#: ``taskset`` that allows fewer cores than the machine has); others queue.
WORKERS = usable_cores()


def check_pixels_request(
    width: int, height: int, band_dtypes: list[np.dtype], limits: Limits
) -> None:
    """Refuse a ``computePixels`` grid as Earth Engine does: a side over
    :attr:`Limits.pixels_side`, or more than :attr:`Limits.pixels_bytes` (every band's
    bytes per pixel plus one byte of mask, Earth Engine's count)."""
    side = limits.pixels_side
    if width > side or height > side:
        raise EEError(
            f"Pixel grid dimensions ({width}x{height}) must be less than or equal to {side}."
        )
    nbytes = width * height * sum(np.dtype(d).itemsize + 1 for d in band_dtypes)
    if nbytes > limits.pixels_bytes:
        raise EEError(
            f"Total request size ({nbytes} bytes) must be less than or equal to "
            f"{limits.pixels_bytes} bytes."
        )


#: Connections served at once; more are closed at once (each holds a thread until its
#: client is done or :attr:`Limits.read_seconds` pass).
MAX_CONNECTIONS = 256


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a connection's thread never keeps the process alive
    block_on_close = False

    def __init__(self, *args: Any, max_connections: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(max(1, max_connections))

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.debug("too many connections: closing one from %s", client_address)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or went away is routine: a debug line, no traceback."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (TimeoutError, ConnectionError)):
            log.debug("connection from %s closed: %s", client_address, type(exc).__name__)
            return
        super().handle_error(request, client_address)


class EngineServer:
    """The HTTP service over an :class:`AssetStore`, on 127.0.0.1.

    Parameters
    ----------
    store
        The asset store it serves.
    port
        The port (0 picks a free one).
    user
        The identity of callers holding the store's token (``user:…``; default the
        store's owner); ACLs are checked against the identity of each request's token.
    workers
        How many interactive requests one client computes at once (default:
        :data:`WORKERS`); the pool has one more thread, always left to other clients.
        The computations run on these threads, not on the per-connection handler
        threads, so the memory the allocator keeps for reuse stays with a few threads.
    limits
        Earth Engine's interactive limits to enforce (:class:`~gee_cscc.engine.limits.Limits`,
        a text such as ``"scale=0.01"``, or None for Google's).
    """

    def __init__(
        self,
        store: AssetStore,
        *,
        port: int = 0,
        user: str | None = None,
        workers: int | None = None,
        limits: Limits | str | None = None,
    ) -> None:
        self.store = store
        self.user = user if user is not None else store.user
        self.limits = Limits.of(limits)
        self.token_file = Path(store.root) / TOKEN_FILE
        self.tokens = TokenTable(store_token(store.root), self.user)
        self.scheduler = Scheduler(workers or WORKERS, self.limits.concurrent_requests)
        handler = functools.partial(RequestHandler, self)
        self.httpd = _HTTPServer(("127.0.0.1", port), handler, max_connections=MAX_CONNECTIONS)
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.operations = Operations(Path(store.root) / "operations", run_operation)

    @property
    def token(self) -> str:
        """The store's token (authenticates as :attr:`user`)."""
        return self.tokens.owner_token

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="gee-cscc-engine",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop promptly: running computations and operations are cancelled, not awaited."""
        self.stopping.set()
        self.scheduler.shutdown()
        self.operations.shutdown(timeout=1.0)
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    def context(
        self,
        user: str | None,
        *,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
    ) -> RequestContext:
        """The request context of a caller (no deadline: batch work)."""
        return RequestContext(
            store=self.store, user=user, limits=self.limits, deadline=deadline, cancel=cancel
        )

    def submit(
        self,
        user: str,
        fn: Callable[[RequestContext], T],
        cancel: threading.Event,
        *,
        counted: bool = True,
    ) -> Any:
        """Queue an interactive computation for ``user``; returns a future of ``fn(ctx)``.

        The deadline starts when the computation starts; ``fn`` runs inside its request
        context and a fresh pixel cache.
        """

        def run() -> T:
            deadline = time.monotonic() + self.limits.compute_seconds
            ctx = self.context(user, deadline=deadline, cancel=cancel)
            with request_context(ctx), pixel_cache():
                return fn(ctx)

        return self.scheduler.submit(user, run, cancel, counted=counted)

    # --- endpoint implementations (called inside a request context) -------------------------

    def compute_value(self, body: dict) -> bytes:
        """The JSON answer of ``value:compute``."""
        value = evaluate(body.get("expression") or {})
        payload = json.dumps({"result": to_info(value)}).encode()
        if len(payload) > self.limits.response_bytes:
            raise MemoryLimitError()
        return payload

    def compute_pixels(self, body: dict) -> tuple[bytes, str]:
        image = request_image(body, "computePixels")
        grid = request_grid(body.get("grid"), image)
        fmt = (body.get("fileFormat") or "AUTO_JPEG_PNG").upper()
        dtypes = [output_numpy_dtype(b.dtype) for b in image.bands]
        common = np.result_type(*dtypes)
        check_pixels_request(grid.width, grid.height, dtypes, self.limits)
        data = reduction.compute_tiled(image.bands, grid)
        if fmt == "NPY":
            return npy_bytes(grid, image, data, common), "application/octet-stream"
        if fmt in ("GEO_TIFF", "GEOTIFF"):
            return geotiff_bytes(grid, image, data, common), "image/tiff"
        raise EEError(f"computePixels: fileFormat {fmt} is not implemented by the local engine.")

    def project_access(self, project: str, user: str | None) -> str:
        """What ``user`` may do in a project: ``"write"``, ``"read"`` or ``""`` (its root's
        policy; the store's owner owns every project)."""
        root = f"projects/{project}/assets"
        if self.store.may_access(root, user, write=True):
            return "write"
        return "read" if self.store.may_access(root, user) else ""

    def get_asset(self, name: str, user: str | None) -> dict:
        """``getAsset``: 404 for a missing asset only to a caller who may read where it would
        be; anyone else gets the same 403 for a missing asset as for an unreadable one."""
        asset = self.store.resolve(name)
        self.store.check_visible(asset, user)
        return self.store.asset_info(asset)

    def list_assets(self, name: str, query: dict, user: str | None) -> dict:
        """``listAssets``: needs read access to the folder, collection or project listed
        (else Earth Engine's 403, which names nothing inside); children inherit it."""
        parent = self.store.resolve(name)
        meta = self.store.check_visible(parent, user, "earthengine.assets.list")
        if meta is not None and meta["type"] not in ("FOLDER", "IMAGE_COLLECTION"):
            raise EEError(f"Asset '{parent.id}' is not a folder or an image collection.")
        children = [self.store.asset_info(c) for c in self.store.children(parent)]
        flt = query.get("filter", [""])[0]
        if flt:
            terms = parse_filter(flt)  # parsed first: a bad filter fails even with no children
            children = [c for c in children if matches_filter(c, terms)]
        size = int(query.get("pageSize", ["0"])[0] or 0)
        start = int(query.get("pageToken", ["0"])[0] or 0)
        out: dict[str, Any] = {}
        if size > 0:
            out["assets"] = children[start : start + size]
            if start + size < len(children):
                out["nextPageToken"] = str(start + size)
        else:
            out["assets"] = children[start:]
        return out
