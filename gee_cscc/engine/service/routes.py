"""The HTTP handler of the local engine: request plumbing and the REST API's routes.

It serves the Earth Engine REST API as shared/reference/ee-protocol.md describes: the
discovery document and algorithm list shipped with ``earthengine-api``, ``value:compute``,
``image:computePixels``, map tiles and thumbnails (:mod:`.tiles`), image downloads
(:mod:`.downloads`), ``table:computeFeatures`` and table downloads (:mod:`.features`), assets
(get, list, create, patch, delete, copy, move, IAM policy), project config, and
export/ingestion operations. Errors are JSON bodies with 4xx statuses
(never 5xx for deterministic failures, which the client would retry).

Every request is checked before anything is read or changed (:mod:`.guard`, :mod:`.auth`)
and runs as the identity of its token. Interactive computations run on the engine's
scheduler while the handler watches the connection: a client that hangs up cancels its
computation, and no answer is sent.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import re
import select
import socket
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..core import registry
from ..errors import CancelledError, EEError, NotFoundError
from ..store.assets import AssetName
from . import features, guard
from . import tiles as maps
from .auth import bearer_token
from .discovery import discovery_document
from .guard import PayloadTooLargeError, RequestTimeoutError, UnauthenticatedError

__all__ = [
    "INIT_MESSAGE",
    "PROJECT_PATTERN",
    "RequestHandler",
    "discovery_document",
    "is_tokenless",
]

log = logging.getLogger("gee_cscc.engine")

#: The ``X-Earth-Engine-Init-Message`` header the client prints on ``ee.Initialize``.
INIT_MESSAGE = "gee_cscc local engine: computations run on this machine, not on Google's servers."


def is_tokenless(method: str, path: str) -> bool:
    """Whether a request is a capability URL (tile, thumbnail or download), sent without
    the token: its random id authorizes it (see :mod:`.tiles`)."""
    return method == "GET" and (
        maps.is_capability_url(path) or features.is_table_download_url(path)
    )


#: A project path (``projects/<p>``) with the project captured.
PROJECT_PATTERN = r"projects/(?P<project>[^/:]+)"


class _ClientGone(Exception):
    """The client closed its connection while its request computed."""


#: Bodies up to this many bytes are read (and discarded) even when the request is refused,
#: so the client can read the refusal on a clean connection; larger ones close it.
DRAIN_BYTES = 64 * 2**20


class RequestHandler(BaseHTTPRequestHandler):
    """One connection's requests, answered for ``engine`` (an :class:`~.server.EngineServer`).

    Before anything is read or changed, a request passes :mod:`.guard` (Host, Origin,
    path) and the token check (:mod:`.auth`); then its body is read within the size
    limit and the read timeout (:attr:`Limits.read_seconds`, which also closes idle
    kept-alive connections) and checked to be JSON.
    """

    protocol_version = "HTTP/1.1"
    server_version = "gee-cscc-local-engine"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (~40 ms per request on Linux). TCP_NODELAY sends it at once.
    disable_nagle_algorithm = True

    def __init__(self, engine: Any, *args: Any, **kwargs: Any) -> None:
        self.engine = engine
        self.timeout = engine.limits.read_seconds  # every socket read (StreamRequestHandler)
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
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EEError(f"Invalid JSON payload: {exc}") from None

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client went away: nothing to tell it
            self.close_connection = True

    def _json(self, obj: Any, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=UTF-8", headers)

    def _content_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise EEError(
                "Request refused: chunked request bodies are not accepted; send Content-Length."
            )
        if raw is None:
            return 0
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if n < 0:
            self.close_connection = True
            raise EEError(f"Invalid Content-Length: {raw!r}.")
        return n

    def _read(self, n: int) -> bytes:
        """``n`` body bytes, within :attr:`Limits.read_seconds` for the whole body."""
        deadline = time.monotonic() + self.engine.limits.read_seconds
        chunks, got = [], 0
        try:
            while got < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(n - got, 1 << 20))
                if not chunk:
                    self.close_connection = True
                    raise RequestTimeoutError("The request body ended before Content-Length.")
                chunks.append(chunk)
                got += len(chunk)
        except TimeoutError:
            self.close_connection = True
            raise RequestTimeoutError(
                f"Request timed out: the body did not arrive within "
                f"{self.engine.limits.read_seconds:g} s ({got} of {n} bytes)."
            ) from None
        finally:
            try:
                self.connection.settimeout(self.timeout)
            except OSError:
                pass
        return b"".join(chunks)

    def _drain(self, n: int) -> None:
        """Discard an unwanted body, so the refusal is read on a clean connection."""
        if n > DRAIN_BYTES:
            self.close_connection = True
            return
        try:
            self._read(n)
        except RequestTimeoutError:
            pass

    def _authenticate(self, method: str, path: str) -> str | None:
        """The caller's identity; map tiles and thumbnail pixels need none (see .auth)."""
        if is_tokenless(method, path):
            return None
        header = self.headers.get("Authorization")
        user = self.engine.tokens.identity(bearer_token(header))
        if user is None:
            why = "no token was sent" if not header else "the token is not this engine's"
            raise UnauthenticatedError(
                "Request had invalid authentication credentials: "
                f"{why}. Send the local engine's token as 'Authorization: Bearer <token>'; "
                f"it is in {self.engine.token_file} (gee-cscc serve prints how to connect)."
            )
        return user

    def _dispatch(self, method: str) -> None:
        eng = self.engine
        self._raw_body = b""
        length = 0
        read = False
        try:
            length = self._content_length()
            guard.check_host(self.headers.get("Host"), eng.port)
            raw_path, _, raw_query = self.path.partition("?")
            path = guard.checked_path(raw_path)
            if not is_tokenless(method, path):
                # Tiles are drawn into notebook pages of any origin (VS Code, JupyterLab);
                # their random map id is what authorizes them.
                guard.check_origin(self.headers.get("Origin"))
            query = urllib.parse.parse_qs(raw_query)
            user = self._authenticate(method, path)
            if length > eng.limits.request_bytes:
                raise PayloadTooLargeError(eng.limits.request_bytes)
            guard.check_content_type(self.headers.get("Content-Type"), length)
            self._raw_body = self._read(length) if length else b""
            read = True
            self._route(method, path, query, user)
        except _ClientGone:
            self.close_connection = True
        except CancelledError:  # the engine is stopping
            self.close_connection = True
        except EEError as exc:
            if not read and length and not self.close_connection:
                self._drain(length)
            headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
            self._json(exc.body(), exc.http_status, headers)
        except Exception as exc:  # a bug in the engine: report it, as a 400 so it is not retried
            log.error("local engine error on %s %s\n%s", method, self.path, traceback.format_exc())
            err = EEError(f"Local engine internal error: {type(exc).__name__}: {exc}")
            if not read and length and not self.close_connection:
                self._drain(length)
            self._json(err.body(), 400)

    def _client_gone(self) -> bool:
        """Whether the client closed the connection (a peek at the socket, no read)."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _compute(self, user: str, fn: Callable[[Any], Any], *, counted: bool = True) -> Any:
        """Run an interactive computation for ``user`` and wait for it, watching the client.

        The computation is cancelled when the client disconnects (then no answer is sent)
        or the engine stops.
        """
        cancel = threading.Event()
        future = self.engine.submit(user, fn, cancel, counted=counted)
        try:
            while True:
                try:
                    return future.result(timeout=0.1)
                except concurrent.futures.TimeoutError:
                    pass
                if self.engine.stopping.is_set():
                    raise CancelledError()
                if self._client_gone():
                    raise _ClientGone()
        finally:
            if not future.done():
                cancel.set()

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

    def _route(self, method: str, path: str, query: dict, user: str | None) -> None:
        eng = self.engine
        if path.rstrip("/").endswith("$discovery/rest"):
            self._send(200, discovery_document(eng.url), "application/json; charset=UTF-8")
            return
        if not path.startswith("/v1/"):
            raise NotFoundError(f"Unknown path: {path}")
        rest = path[len("/v1/") :]
        if user is None:  # a tile, thumbnail or download: made as the identity that created it
            if features.is_table_download_url(path):
                reply = features.serve_table_download(eng, rest, self._compute)
            else:
                reply = maps.serve_capability(eng, rest, self._compute)
            self._send(200, *reply)
            return
        if method == "GET" and re.fullmatch(PROJECT_PATTERN + r"/algorithms", rest):
            self._send(
                200,
                registry.algorithms_json_bytes(),
                "application/json; charset=UTF-8",
                {"X-Earth-Engine-Init-Message": INIT_MESSAGE},
            )
            return
        if method == "POST" and re.fullmatch(PROJECT_PATTERN + r"/value:compute", rest):
            body = self._body()
            payload = self._compute(user, lambda ctx: eng.compute_value(body))
            self._send(200, payload, "application/json; charset=UTF-8")
            return
        if method == "POST" and re.fullmatch(PROJECT_PATTERN + r"/image:computePixels", rest):
            body = self._body()
            payload, ctype = self._compute(user, lambda ctx: eng.compute_pixels(body))
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
                eng.context(user),
                m.group("project"),
                m.group("kind"),
                m.group("verb"),
                self._body(),
            )
            self._json(op)
            return
        m = re.fullmatch(PROJECT_PATTERN + r"/operations", rest)
        if method == "GET" and m:
            access = eng.project_access(m.group("project"), user)
            self._json(eng.operations.list(m.group("project"), query, user, access))
            return
        # --- maps, thumbnails and image downloads (getMapId, getThumbURL, getDownloadURL):
        # see tiles.py and downloads.py; tables (computeFeatures, table downloads): features.py
        reply = maps.handle(eng, method, rest, self._body, user, self._compute)
        if reply is None:
            reply = features.handle(eng, method, rest, self._body, user, self._compute)
        if reply is not None:
            self._send(200, *reply)
            return
        m = re.fullmatch(
            PROJECT_PATTERN + r"/operations/(?P<id>[^/:]+)(?P<verb>:cancel|:wait)?", rest
        )
        if m:
            name = f"projects/{m.group('project')}/operations/{m.group('id')}"
            verb = {"DELETE": "delete"}.get(
                method, "update" if m.group("verb") == ":cancel" else "get"
            )
            eng.operations.check(name, user, eng.project_access(m.group("project"), user), verb)
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
            self._json(eng.list_assets(f"projects/{m.group('project')}/assets", query, user))
            return
        m = re.fullmatch(PROJECT_PATTERN + r"/assets", rest)
        if method == "POST" and m:
            asset_id = query.get("assetId", [""])[0]
            guard.check_asset_id(asset_id)
            body = self._body()
            name = AssetName(m.group("project"), asset_id)
            store = eng.store
            store.check_create(name, user)
            kind = str(body.get("type", "")).upper()
            self._json(store.create(name, kind, body.get("properties")))
            return
        # Asset calls: projects/<p>/assets/<path>[:verb]
        m = re.fullmatch(r"(?P<name>projects/[^/:]+/assets/[^:]*)(?::(?P<verb>\w+))?", rest)
        if m:
            self._asset_call(method, m.group("name"), m.group("verb"), query, user)
            return
        raise NotFoundError(f"Unknown path: {method} {path}")

    def _asset_call(self, method: str, name: str, verb: str | None, query: dict, user: str) -> None:
        eng = self.engine
        store = eng.store
        asset = store.resolve(name)
        if verb is None and method == "GET":
            self._json(eng.get_asset(asset.name, user))
        elif verb == "listAssets" and method == "GET":
            self._json(eng.list_assets(asset.name, query, user))
        elif verb is None and method == "DELETE":
            store.check_visible(asset, user)  # a non-reader learns nothing, not even a 404
            store.check_access(asset, user, write=True)
            store.delete(asset)
            self._json({})
        elif verb is None and method == "PATCH":
            body = self._body()
            store.check_visible(asset, user)
            store.check_access(asset, user, write=True)
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
            store.check_visible(asset, user, "earthengine.assets.getIamPolicy")
            self._json(store.get_policy(asset))
        elif verb == "setIamPolicy" and method == "POST":
            body = self._body()
            store.check_visible(asset, user, "earthengine.assets.setIamPolicy")
            if "roles/owner" not in store.roles_of(asset, user):
                store.check_access(asset, user, write=True)
            self._json(store.set_policy(asset, body.get("policy") or {}))
        elif verb in ("copy", "move") and method == "POST":
            body = self._body()
            dst = body.get("destinationName") or ""
            overwrite = bool(body.get("overwrite")) and verb == "copy"
            store.check_transfer(asset, dst, user, move=(verb == "move"), overwrite=overwrite)
            if verb == "copy":
                store.copy(asset, dst, overwrite=overwrite)
            else:
                store.move(asset, dst)
            self._json(store.asset_info(dst))
        else:
            raise NotFoundError(f"Unknown asset call: {method} {name}:{verb}")
