"""The loopback HTTP service that the unmodified ``ee`` client, ``xee`` and ``geemap`` talk to.

It serves the Earth Engine REST API as shared/reference/ee-protocol.md describes: the
discovery document and algorithm list shipped with ``earthengine-api``, ``value:compute``,
``image:computePixels``, assets (get, list, create, patch, delete, copy, move, IAM policy),
project config, and export/ingestion operations. Errors are JSON bodies with 4xx statuses
(never 5xx for deterministic failures, which the client would retry).
"""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import io
import json
import logging
import os
import re
import threading
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..batch.tasks import run_operation
from ..core import registry
from ..core.context import RequestContext, request_context
from ..core.evaluate import evaluate
from ..core.serialize import to_info
from ..core.values import Image, output_numpy_dtype, pixel_cache
from ..errors import EEError, NotFoundError
from ..raster import reduction
from ..raster.grid import Grid, Projection
from ..store.assets import AssetName, AssetStore
from .operations import Operations

__all__ = ["EngineServer", "discovery_document"]

log = logging.getLogger("gee_cscc.engine")

#: Earth Engine's computePixels request limit (bytes).
COMPUTE_PIXELS_LIMIT = 48 * 2**20

#: Requests computed at once (one per core, at most 4); others queue.
WORKERS = max(1, min(4, os.cpu_count() or 1))

INIT_MESSAGE = "gee_cscc local engine: computations run on this machine, not on Google's servers."


@functools.lru_cache(maxsize=4)
def discovery_document(base_url: str) -> bytes:
    """The shipped discovery document, adapted: ``v1`` paths, missing parameters/methods."""
    import importlib.resources

    raw = importlib.resources.files("ee").joinpath("tests/cloud_api_discovery_document.json")
    doc = json.loads(raw.read_text())

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("path", "flatPath"):
                if isinstance(node.get(key), str):
                    node[key] = node[key].replace("v1alpha/", "v1/")
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    fix(doc)
    doc["version"] = "v1"
    doc["rootUrl"] = base_url + "/"
    doc["baseUrl"] = base_url + "/"
    projects = doc["resources"]["projects"]
    query = {"location": "query", "type": "string", "description": ""}
    for method in (
        projects["methods"]["listAssets"],
        projects["resources"]["assets"]["methods"]["listAssets"],
    ):
        method["parameters"].setdefault("filter", dict(query))
        method["parameters"].setdefault("view", dict(query))
    projects["methods"]["getConfig"] = {
        "description": "",
        "flatPath": "v1/projects/{projectsId}/config",
        "httpMethod": "GET",
        "id": "earthengine.projects.getConfig",
        "parameterOrder": ["name"],
        "parameters": {
            "name": {
                "description": "",
                "location": "path",
                "pattern": "^projects/[^/]+/config$",
                "required": True,
                "type": "string",
            }
        },
        "path": "v1/{+name}",
        "response": {"type": "any"},
    }
    return json.dumps(doc).encode()


_PROJECT = r"projects/(?P<project>[^/:]+)"


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
        handler = functools.partial(_Handler, self)
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
            grid = _request_grid(body.get("grid"), image)
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
                names = _unique_names([b.name for b in image.bands])
                arr = np.zeros(grid.shape, dtype=[(n, common) for n in names])
                for n, (values, mask) in zip(names, data, strict=True):
                    arr[n] = _cast(np.where(mask, values, 0), common)
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                return buf.getvalue(), "application/octet-stream"
            if fmt in ("GEO_TIFF", "GEOTIFF"):
                return _geotiff_bytes(grid, image, data, common), "image/tiff"
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
            terms = _parse_filter(flt)  # parsed first: a bad filter fails even with no children
            children = [c for c in children if _matches_filter(c, terms)]
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


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.trunc(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def _request_grid(spec: dict | None, image: Image) -> Grid:
    band = image.bands[0]
    spec = spec or {}
    if "crsCode" in spec:
        crs = spec["crsCode"]
    elif band.projection is not None:
        crs = band.projection.crs
    else:
        crs = "EPSG:4326"
    at = spec.get("affineTransform")
    if at:
        transform = (
            float(at.get("scaleX", 0.0)),
            float(at.get("shearX", 0.0)),
            float(at.get("translateX", 0.0)),
            float(at.get("shearY", 0.0)),
            float(at.get("scaleY", 0.0)),
            float(at.get("translateY", 0.0)),
        )
    elif band.extent is not None:
        transform = band.extent.transform
    else:
        transform = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    dims = spec.get("dimensions")
    if dims:
        shape = (int(dims.get("height", 0)), int(dims.get("width", 0)))
    elif band.extent is not None:
        shape = band.extent.shape
    else:
        raise EEError("computePixels: an image without a fixed projection needs grid dimensions.")
    return Grid(Projection(crs, transform), shape)


def _geotiff_bytes(grid: Grid, image: Image, data: list, dtype: np.dtype) -> bytes:
    from affine import Affine
    from rasterio.io import MemoryFile

    nodata = float("nan") if np.issubdtype(dtype, np.floating) else None
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            height=grid.height,
            width=grid.width,
            count=len(data),
            dtype=dtype.name,
            crs=grid.crs,
            transform=Affine(*grid.transform),
            nodata=nodata,
        ) as dst:
            for i, (band, (values, mask)) in enumerate(
                zip(image.bands, data, strict=True), start=1
            ):
                fill = np.nan if nodata is not None else 0
                dst.write(_cast(np.where(mask, values, fill), dtype), i)
                dst.set_band_description(i, band.name)
        return mem.read()


_FILTER_TERM_RE = re.compile(
    r'^(?P<field>properties\.(?:"[^"]+"|[\w.-]+)|[A-Za-z_]\w*)\s*'
    r'(?P<op>>=|<=|!=|=|<|>|:)\s*(?P<value>"[^"]*"|[^\s"]+)$'
)
_TIME_FIELDS = ("startTime", "endTime", "updateTime")


def _filter_millis(text: str) -> float:
    """Milliseconds of an RFC 3339 / ISO 8601 time (``2002``, ``2002-01-01``, ``…T00:00:00Z``)."""
    import datetime as dt

    t = text.strip()
    if re.fullmatch(r"\d{4}", t):
        t += "-01-01"
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(t)
    except ValueError:
        raise EEError(f"listAssets: Invalid time in filter: '{text}'.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp() * 1000.0


def _parse_filter(flt: str) -> list[tuple[str, str, Any]]:
    """AND-joined comparisons of AIP-160, as ``ee.data.listImages`` writes them.

    Supported: ``startTime``/``endTime``/``updateTime`` against a quoted time, other top-level
    fields and ``properties.<name>`` against a quoted string or a number. Anything else (OR,
    ``intersects(...)``, functions) is an error rather than being ignored.
    """
    terms = []
    for term in re.split(r"\s+AND\s+", flt.strip()):
        m = _FILTER_TERM_RE.match(term.strip())
        if not m:
            raise EEError(
                f"listAssets: the filter term '{term.strip()}' is not supported by the local "
                "engine (it supports AND-joined comparisons of startTime, endTime, updateTime, "
                "type, name and properties.<name>)."
            )
        field, op, raw = m.group("field"), m.group("op"), m.group("value")
        value: Any
        if raw.startswith('"'):
            value = raw[1:-1]
        else:
            try:
                value = float(raw)
            except ValueError:
                value = {"true": True, "false": False}.get(raw.lower(), raw)
        if field in _TIME_FIELDS:
            value = _filter_millis(str(value))
        terms.append((field, op, value))
    return terms


def _compare(have: Any, op: str, want: Any) -> bool:
    if isinstance(have, bool) or isinstance(want, bool):
        return op in ("=", ":") and have == want or op == "!=" and have != want
    if isinstance(have, (int, float)) and isinstance(want, (int, float)):
        pass
    elif isinstance(want, (int, float)):
        try:
            have = float(have)
        except (TypeError, ValueError):
            return op == "!="
    else:
        have = str(have)
        want = str(want)
    return {
        ">=": lambda: have >= want,
        "<=": lambda: have <= want,
        "<": lambda: have < want,
        ">": lambda: have > want,
        "=": lambda: have == want,
        ":": lambda: have == want,
        "!=": lambda: have != want,
    }[op]()


def _matches_filter(asset: dict, terms: list[tuple[str, str, Any]]) -> bool:
    """Whether an asset's JSON satisfies the terms of a listAssets ``filter``."""
    for field, op, want in terms:
        if field.startswith("properties."):
            key = field[len("properties.") :].strip('"')
            have = (asset.get("properties") or {}).get(key)
        else:
            have = asset.get(field)
            if have is not None and field in _TIME_FIELDS:
                have = _filter_millis(have)
        if have is None or not _compare(have, op, want):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gee-cscc-local-engine"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (~40 ms per request on Linux). TCP_NODELAY sends it at once.
    disable_nagle_algorithm = True

    def __init__(self, engine: EngineServer, *args: Any, **kwargs: Any) -> None:
        self.engine = engine
        super().__init__(*args, **kwargs)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    # --- plumbing ----------------------------------------------------------------------

    def _body(self) -> dict:
        raw = self._raw_body
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EEError(f"Invalid JSON payload: {exc}") from None

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, obj: Any, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=UTF-8", headers)

    def _dispatch(self, method: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        query = urllib.parse.parse_qs(parsed.query)
        # Read the whole body first, so a request that fails early never leaves unread
        # bytes on the kept-alive connection.
        n = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(n) if n else b""
        try:
            self._route(method, path, query)
        except EEError as exc:
            self._json(exc.body(), exc.http_status)
        except Exception as exc:  # a bug in the engine: report it, as a 400 so it is not retried
            log.error("local engine error on %s %s\n%s", method, path, traceback.format_exc())
            err = EEError(f"Local engine internal error: {type(exc).__name__}: {exc}")
            self._json(err.body(), 400)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_PUT(self) -> None:  # noqa: N802 (no EE call uses PUT: a JSON 404, not the stdlib's 501)
        self._dispatch("PUT")

    # --- routes --------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict) -> None:
        eng = self.engine
        if path.rstrip("/").endswith("$discovery/rest"):
            self._send(200, discovery_document(eng.url), "application/json; charset=UTF-8")
            return
        if not path.startswith("/v1/"):
            raise NotFoundError(f"Unknown path: {path}")
        rest = path[len("/v1/") :]
        if method == "GET" and re.fullmatch(_PROJECT + r"/algorithms", rest):
            self._send(
                200,
                registry.algorithms_json_bytes(),
                "application/json; charset=UTF-8",
                {"X-Earth-Engine-Init-Message": INIT_MESSAGE},
            )
            return
        if method == "POST" and re.fullmatch(_PROJECT + r"/value:compute", rest):
            self._json(eng.compute_value(self._body()))
            return
        if method == "POST" and re.fullmatch(_PROJECT + r"/image:computePixels", rest):
            payload, ctype = eng.compute_pixels(self._body())
            self._send(200, payload, ctype)
            return
        if method == "GET" and re.fullmatch(_PROJECT + r"/config", rest):
            m = re.fullmatch(_PROJECT + r"/config", rest)
            self._json({"name": rest, "maxConcurrentExports": 4, "project": m.group("project")})
            return
        m = re.fullmatch(
            _PROJECT + r"/(?P<kind>image|table|video|map):(?P<verb>export|import)", rest
        )
        if method == "POST" and m:
            op = eng.operations.start(
                eng.context(), m.group("project"), m.group("kind"), m.group("verb"), self._body()
            )
            self._json(op)
            return
        m = re.fullmatch(_PROJECT + r"/operations", rest)
        if method == "GET" and m:
            self._json(eng.operations.list(m.group("project"), query))
            return
        # --- maps and thumbnails (getMapId tiles, getThumbURL): see maps.py -----------------
        from . import tiles as maps

        reply = maps.handle(eng, method, rest, self._body)
        if reply is not None:
            self._send(200, *reply)
            return
        # --- end maps and thumbnails ------------------------------------------------------
        m = re.fullmatch(_PROJECT + r"/operations/(?P<id>[^/:]+)(?P<verb>:cancel|:wait)?", rest)
        if m:
            name = f"projects/{m.group('project')}/operations/{m.group('id')}"
            if method == "GET" and not m.group("verb"):
                self._json(eng.operations.get(name))
            elif method == "POST" and m.group("verb") == ":cancel":
                eng.operations.cancel(name)
                self._json({})
            elif method == "POST" and m.group("verb") == ":wait":
                self._json(eng.operations.wait(name))
            elif method == "DELETE":
                eng.operations.delete(name)
                self._json({})
            else:
                raise NotFoundError(f"Unknown operation call: {method} {path}")
            return
        # Project-root listing and asset creation.
        m = re.fullmatch(_PROJECT + r":listAssets", rest)
        if method == "GET" and m:
            self._json(eng.list_assets(f"projects/{m.group('project')}/assets", query))
            return
        m = re.fullmatch(_PROJECT + r"/assets", rest)
        if method == "POST" and m:
            asset_id = query.get("assetId", [""])[0]
            body = self._body()
            name = AssetName(m.group("project"), asset_id)
            store = eng.store
            parent = name.parent()
            if parent.path and store.exists(parent):
                store.check_access(parent, eng.user, write=True)
            kind = str(body.get("type", "")).upper()
            self._json(store.create(name, kind, body.get("properties")))
            return
        # Asset calls: projects/<p>/assets/<path>[:verb]
        m = re.fullmatch(r"(?P<name>projects/[^/:]+/assets/[^:]*)(?::(?P<verb>\w+))?", rest)
        if m:
            self._asset_call(method, m.group("name"), m.group("verb"), query)
            return
        raise NotFoundError(f"Unknown path: {method} {path}")

    def _asset_call(self, method: str, name: str, verb: str | None, query: dict) -> None:
        eng = self.engine
        store = eng.store
        asset = store.resolve(name)
        if verb is None and method == "GET":
            self._json(eng.get_asset(asset.name))
        elif verb == "listAssets" and method == "GET":
            self._json(eng.list_assets(asset.name, query))
        elif verb is None and method == "DELETE":
            store.meta(asset)
            store.check_access(asset, eng.user, write=True)
            store.delete(asset)
            self._json({})
        elif verb is None and method == "PATCH":
            body = self._body()
            store.meta(asset)
            store.check_access(asset, eng.user, write=True)
            props = (body.get("asset") or {}).get("properties") or {}
            paths = (body.get("updateMask") or {}).get("paths") or []
            updates: dict[str, Any] = {}
            for p in paths:
                if p.startswith("properties."):
                    key = p[len("properties.") :].strip('"')
                    updates[key] = props.get(key)
                elif p == "properties":
                    current = store.meta(asset)["properties"]
                    updates.update({k: None for k in current})
                    updates.update(props)
            if not paths:
                updates.update(props)
            store.set_properties(asset, updates)
            self._json(store.asset_info(asset))
        elif verb == "getIamPolicy" and method == "POST":
            self._body()
            store.meta(asset)
            store.check_access(asset, eng.user)
            self._json(store.get_policy(asset))
        elif verb == "setIamPolicy" and method == "POST":
            body = self._body()
            store.meta(asset)
            if "roles/owner" not in store.roles_of(asset, eng.user or store.user):
                store.check_access(asset, eng.user, write=True)
            self._json(store.set_policy(asset, body.get("policy") or {}))
        elif verb in ("copy", "move") and method == "POST":
            body = self._body()
            dst = body.get("destinationName") or ""
            store.meta(asset)
            store.check_access(asset, eng.user, write=(verb == "move"))
            if verb == "copy":
                store.copy(asset, dst, overwrite=bool(body.get("overwrite")))
            else:
                store.move(asset, dst)
            self._json(store.asset_info(dst))
        else:
            raise NotFoundError(f"Unknown asset call: {method} {name}:{verb}")


def _deepcopy(obj: Any) -> Any:
    return copy.deepcopy(obj)
