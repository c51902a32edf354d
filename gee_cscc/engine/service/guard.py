"""What a request must look like before the local engine reads or changes anything.

Checked in this order, each refusal an Earth Engine style JSON error that changes nothing:

1. **Host** is a loopback name with the server's port (``127.0.0.1:P``, ``localhost:P``,
   ``[::1]:P``): 403. A web page that re-binds its own domain name to 127.0.0.1 sends
   its domain here.
2. **Path**: every segment of the URL path is checked (see below): 400.
3. **Origin**, when a browser sends one, is a loopback origin (any port): 403. A foreign
   web page cannot call the service. Map tiles and thumbnail pixels are exempt: notebook
   pages of any origin draw them, and their random id authorizes them (:mod:`.auth`).
4. **Token** (:mod:`.auth`): 401.
5. **Size**: a body longer than :attr:`Limits.request_bytes` gets Earth Engine's
   "Request payload size exceeds the limit: N bytes." (400).
6. **Content type**: a request with a body must say ``application/json``: 415 (a web
   form's ``text/plain`` post is refused).

Path segments: no empty segment, no ``.`` or ``..`` (also percent-encoded), no encoded
``/`` or ``\\``, no control character; the project is a Cloud project id (6–30
characters: lowercase letters, digits and hyphens, starting with a letter, not ending with
a hyphen); asset path segments are letters, digits, ``_``, ``-`` and ``.``; other segments
letters, digits and ``_ - . : $ ~``. The same asset-segment rule applies to the
``assetId`` query value.
"""

from __future__ import annotations

import re
import urllib.parse

from ..errors import EEError, PermissionDeniedError

__all__ = [
    "PROJECT_ID_RE",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "UnauthenticatedError",
    "UnsupportedMediaTypeError",
    "check_asset_id",
    "check_content_type",
    "check_host",
    "check_origin",
    "checked_path",
]

#: A Cloud project id (what the ``ee`` client's asset-name pattern accepts too).
PROJECT_ID_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_ASSET_PART_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_OTHER_PART_RE = re.compile(r"[A-Za-z0-9_.:$~\-]+")
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class UnauthenticatedError(EEError):
    """A request without a valid token: HTTP 401 UNAUTHENTICATED."""

    http_status = 401
    status = "UNAUTHENTICATED"


class UnsupportedMediaTypeError(EEError):
    """A request body that is not declared JSON: HTTP 415."""

    http_status = 415
    status = "INVALID_ARGUMENT"


class PayloadTooLargeError(EEError):
    """A body over the request size limit: Earth Engine's 400 text."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request payload size exceeds the limit: {limit} bytes.")


class RequestTimeoutError(EEError):
    """A request whose headers or body did not arrive in time: HTTP 408."""

    http_status = 408
    status = "DEADLINE_EXCEEDED"


def check_host(host: str | None, port: int) -> None:
    """Refuse (403) a Host header that is not a loopback name with the server's port."""
    allowed = {f"{h}:{port}" for h in _LOOPBACK}
    if (host or "").strip().lower() not in allowed:
        raise PermissionDeniedError(
            f"Request refused: Host {host!r} is not this local engine "
            f"(expected 127.0.0.1:{port} or localhost:{port})."
        )


def check_origin(origin: str | None) -> None:
    """Refuse (403) a request from a web page that is not served from this machine."""
    if origin is None:
        return
    parts = urllib.parse.urlsplit(origin.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in ("127.0.0.1", "localhost", "::1"):
        raise PermissionDeniedError(
            f"Request refused: Origin {origin!r} is not on this machine; the local "
            "engine answers only local clients."
        )


def check_content_type(content_type: str | None, body_length: int) -> None:
    """Refuse (415) a request body that is not declared ``application/json``."""
    if body_length <= 0:
        return
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaTypeError(
            f"Request refused: a request body must be JSON (Content-Type: application/json), "
            f"got {content_type or 'none'!r}."
        )


def _bad_path(raw: str, why: str) -> EEError:
    shown = raw if len(raw) <= 200 else raw[:200] + "…"
    return EEError(f"Invalid request path {shown!r}: {why}.")


def checked_path(raw_path: str) -> str:
    """The decoded URL path, after checking every segment; raises EEError (400) if bad."""
    if not raw_path.startswith("/"):
        raise _bad_path(raw_path, "it must start with '/'")
    segments = raw_path[1:].split("/")
    decoded: list[str] = []
    for i, raw in enumerate(segments):
        if re.search(r"%(2f|5c)", raw, re.IGNORECASE):
            raise _bad_path(raw_path, "an encoded '/' or '\\' in a segment")
        seg = urllib.parse.unquote(raw, errors="strict")
        if not seg:
            raise _bad_path(raw_path, "an empty segment")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in seg):
            raise _bad_path(raw_path, "a control character")
        name = seg.split(":", 1)[0]
        if name in (".", "..") or seg in (".", ".."):
            raise _bad_path(raw_path, f"the segment {seg!r}")
        previous = decoded[i - 1] if i else ""
        if previous == "projects" and i == 2:
            if not PROJECT_ID_RE.fullmatch(name):
                raise _bad_path(
                    raw_path,
                    f"{name!r} is not a Cloud project id (6-30 lowercase letters, digits or "
                    "hyphens, starting with a letter)",
                )
            if seg != name and not _OTHER_PART_RE.fullmatch(seg[len(name) :]):
                raise _bad_path(raw_path, f"the segment {seg!r}")
        elif _in_asset_path(decoded):
            if not _ASSET_PART_RE.fullmatch(name) or (
                seg != name and not _OTHER_PART_RE.fullmatch(seg[len(name) + 1 :])
            ):
                raise _bad_path(raw_path, f"the asset path segment {seg!r}")
        elif not _OTHER_PART_RE.fullmatch(seg):
            raise _bad_path(raw_path, f"the segment {seg!r}")
        decoded.append(seg)
    return "/" + "/".join(decoded)


def _in_asset_path(before: list[str]) -> bool:
    """Whether the next segment is part of an asset path (``…/projects/<p>/assets/…``)."""
    return len(before) >= 4 and before[1] == "projects" and before[3] == "assets"


def check_asset_id(asset_id: str) -> None:
    """Check the ``assetId`` of an asset creation (a relative path: ``folder/name``)."""
    parts = asset_id.split("/")
    for part in parts:
        if not part or part in (".", "..") or not _ASSET_PART_RE.fullmatch(part):
            raise EEError(
                f"Invalid asset id {asset_id!r}: each part must be letters, digits, '_', '-' "
                "or '.' (not '.' or '..')."
            )
