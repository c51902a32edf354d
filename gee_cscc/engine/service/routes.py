"""The HTTP handler of the local engine: request plumbing and the REST API's routes.

It serves the Earth Engine REST API as shared/reference/ee-protocol.md describes: the
discovery document and algorithm list shipped with ``earthengine-api``, ``value:compute``,
``image:computePixels``, assets (get, list, create, patch, delete, copy, move, IAM policy),
project config, and export/ingestion operations. Errors are JSON bodies with 4xx statuses
(never 5xx for deterministic failures, which the client would retry).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..core import registry
from ..errors import EEError, NotFoundError
from ..store.assets import AssetName

__all__ = ["INIT_MESSAGE", "PROJECT_PATTERN", "RequestHandler", "discovery_document"]

log = logging.getLogger("gee_cscc.engine")

#: The ``X-Earth-Engine-Init-Message`` header the client prints on ``ee.Initialize``.
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


#: A project path (``projects/<p>``) with the project captured.
PROJECT_PATTERN = r"projects/(?P<project>[^/:]+)"


class RequestHandler(BaseHTTPRequestHandler):
    """One connection's requests, answered for ``engine`` (an :class:`~.server.EngineServer`)."""

    protocol_version = "HTTP/1.1"
    server_version = "gee-cscc-local-engine"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (~40 ms per request on Linux). TCP_NODELAY sends it at once.
    disable_nagle_algorithm = True

    def __init__(self, engine: Any, *args: Any, **kwargs: Any) -> None:
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
        if method == "GET" and re.fullmatch(PROJECT_PATTERN + r"/algorithms", rest):
            self._send(
                200,
                registry.algorithms_json_bytes(),
                "application/json; charset=UTF-8",
                {"X-Earth-Engine-Init-Message": INIT_MESSAGE},
            )
            return
        if method == "POST" and re.fullmatch(PROJECT_PATTERN + r"/value:compute", rest):
            self._json(eng.compute_value(self._body()))
            return
        if method == "POST" and re.fullmatch(PROJECT_PATTERN + r"/image:computePixels", rest):
            payload, ctype = eng.compute_pixels(self._body())
            self._send(200, payload, ctype)
            return
        if method == "GET" and re.fullmatch(PROJECT_PATTERN + r"/config", rest):
            m = re.fullmatch(PROJECT_PATTERN + r"/config", rest)
            self._json({"name": rest, "maxConcurrentExports": 4, "project": m.group("project")})
            return
        m = re.fullmatch(
            PROJECT_PATTERN + r"/(?P<kind>image|table|video|map):(?P<verb>export|import)", rest
        )
        if method == "POST" and m:
            op = eng.operations.start(
                eng.context(), m.group("project"), m.group("kind"), m.group("verb"), self._body()
            )
            self._json(op)
            return
        m = re.fullmatch(PROJECT_PATTERN + r"/operations", rest)
        if method == "GET" and m:
            self._json(eng.operations.list(m.group("project"), query))
            return
        # --- maps and thumbnails (getMapId tiles, getThumbURL): see tiles.py ----------------
        from . import tiles as maps

        reply = maps.handle(eng, method, rest, self._body)
        if reply is not None:
            self._send(200, *reply)
            return
        # --- end maps and thumbnails ------------------------------------------------------
        m = re.fullmatch(
            PROJECT_PATTERN + r"/operations/(?P<id>[^/:]+)(?P<verb>:cancel|:wait)?", rest
        )
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
        m = re.fullmatch(PROJECT_PATTERN + r":listAssets", rest)
        if method == "GET" and m:
            self._json(eng.list_assets(f"projects/{m.group('project')}/assets", query))
            return
        m = re.fullmatch(PROJECT_PATTERN + r"/assets", rest)
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
