"""Raw HTTP to a local engine, for the service misuse tests: exact headers and paths, the
error of a reply, and a snapshot of the store to show that nothing changed."""

from __future__ import annotations

import hashlib
import http.client
import json
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under the store, with a hash of each file's bytes."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def request(
    engine,
    method: str,
    path: str,
    body: bytes | dict | None = None,
    *,
    token: str | None = "owner",
    host: str | None = "default",
    headers: dict | None = None,
    content_type: str | None = "application/json",
):
    """``(status, headers, parsed JSON or bytes)`` of one raw request."""
    port = engine.server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host == "default":
            conn.putheader("Host", f"127.0.0.1:{port}")
        elif host is not None:
            conn.putheader("Host", host)
        if token == "owner":
            conn.putheader("Authorization", f"Bearer {engine.server.token}")
        elif token is not None:
            conn.putheader("Authorization", token)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
            if content_type is not None:
                conn.putheader("Content-Type", content_type)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders(data)
        resp = conn.getresponse()
        payload = resp.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload
        return resp.status, dict(resp.getheaders()), parsed
    finally:
        conn.close()


def error_of(status: int, payload: dict) -> tuple[int, str, str]:
    err = payload["error"]
    assert err["code"] == status
    return status, err["status"], err["message"]
