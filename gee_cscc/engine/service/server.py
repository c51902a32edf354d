"""The loopback HTTP service that the unmodified ``ee`` client, ``xee`` and ``geemap`` talk to.

It serves the Earth Engine REST API as shared/reference/ee-protocol.md describes: the
discovery document and algorithm list shipped with ``earthengine-api``, ``value:compute``,
``image:computePixels``, assets (get, list, create, patch, delete, copy, move, IAM policy),
project config, and export/ingestion operations. Errors are JSON bodies with 4xx statuses
(never 5xx for deterministic failures, which the client would retry).
"""

from __future__ import annotations

import concurrent.futures
import functools
import io
import logging
import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..batch.tasks import run_operation
from ..core.context import RequestContext, request_context
from ..core.evaluate import evaluate
from ..core.serialize import to_info
from ..core.values import Image, output_numpy_dtype, pixel_cache
from ..errors import EEError
from ..raster import reduction
from ..store.assets import AssetStore
from .asset_filter import matches_filter, parse_filter
from .operations import Operations
from .pixels import cast_clipped, geotiff_bytes, request_grid, unique_band_names
from .routes import RequestHandler

__all__ = ["COMPUTE_PIXELS_LIMIT", "WORKERS", "EngineServer"]

log = logging.getLogger("gee_cscc.engine")


#: Earth Engine's computePixels request limit (bytes).
COMPUTE_PIXELS_LIMIT = 48 * 2**20

#: Requests computed at once (one per core, at most 4); others queue.
WORKERS = max(1, min(4, os.cpu_count() or 1))


class EngineServer:
    """The HTTP service over an :class:`AssetStore`, on 127.0.0.1.

    Parameters
    ----------
    store
        The asset store it serves.
    port
        The port (0 picks a free one).
    user
        The identity of callers (``user:…``); ACLs are checked against it.
    workers
        How many ``value:compute`` / ``computePixels`` requests compute at once
        (default: :data:`WORKERS`); more wait their turn. Clients such as ``xee`` send
        many chunk requests in parallel, each holding one tile's intermediates while it
        computes. The computations run on this fixed pool of threads, not on the
        per-connection handler threads, so the memory the allocator keeps for reuse
        stays with a few threads instead of growing with every connection.
    """

    def __init__(
        self,
        store: AssetStore,
        *,
        port: int = 0,
        user: str | None = None,
        workers: int | None = None,
    ) -> None:
        self.store = store
        self.user = user if user is not None else store.user
        self._workers = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, workers or WORKERS), thread_name_prefix="gee-cscc-compute"
        )
        handler = functools.partial(RequestHandler, self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.operations = Operations(Path(store.root) / "operations", run_operation)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="gee-cscc-engine", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.operations.shutdown()
        self._workers.shutdown(wait=False, cancel_futures=True)
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def context(self) -> RequestContext:
        return RequestContext(store=self.store, user=self.user)

    # --- endpoint implementations -------------------------------------------------------

    def compute_value(self, body: dict) -> dict:
        return self._workers.submit(self._compute_value, body).result()

    def compute_pixels(self, body: dict) -> tuple[bytes, str]:
        return self._workers.submit(self._compute_pixels, body).result()

    def _compute_value(self, body: dict) -> dict:
        with request_context(self.context()), pixel_cache():
            value = evaluate(body.get("expression") or {})
            return {"result": to_info(value)}

    def _compute_pixels(self, body: dict) -> tuple[bytes, str]:
        with request_context(self.context()), pixel_cache():
            image = evaluate(body.get("expression") or {})
            if not isinstance(image, Image):
                raise EEError("computePixels: the expression is not an Image.")
            band_ids = body.get("bandIds")
            if band_ids:
                image = image.with_bands([image.band(b) for b in band_ids])
            if not image.bands:
                raise EEError("computePixels: the image has no bands.")
            grid = request_grid(body.get("grid"), image)
            fmt = (body.get("fileFormat") or "AUTO_JPEG_PNG").upper()
            dtypes = [output_numpy_dtype(b.dtype) for b in image.bands]
            common = np.result_type(*dtypes)
            nbytes = grid.size * len(image.bands) * common.itemsize
            if nbytes > COMPUTE_PIXELS_LIMIT:
                raise EEError(
                    f"Total request size ({nbytes} bytes) must be less than or equal to "
                    f"{COMPUTE_PIXELS_LIMIT} bytes."
                )
            data = reduction.compute_tiled(image.bands, grid)
            if fmt == "NPY":
                names = unique_band_names([b.name for b in image.bands])
                arr = np.zeros(grid.shape, dtype=[(n, common) for n in names])
                for n, (values, mask) in zip(names, data, strict=True):
                    arr[n] = cast_clipped(np.where(mask, values, 0), common)
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                return buf.getvalue(), "application/octet-stream"
            if fmt in ("GEO_TIFF", "GEOTIFF"):
                return geotiff_bytes(grid, image, data, common), "image/tiff"
            raise EEError(
                f"computePixels: fileFormat {fmt} is not implemented by the local engine."
            )

    def get_asset(self, name: str) -> dict:
        asset = self.store.resolve(name)
        if asset.path:
            self.store.meta(asset)  # 404 first, then permission
            self.store.check_access(asset, self.user)
        return self.store.asset_info(asset)

    def list_assets(self, name: str, query: dict) -> dict:
        parent = self.store.resolve(name)
        if parent.path:
            meta = self.store.meta(parent)
            self.store.check_access(parent, self.user)
            if meta["type"] not in ("FOLDER", "IMAGE_COLLECTION"):
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
