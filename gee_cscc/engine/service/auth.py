"""Who may call the local engine: a secret token per store, and the identities tokens carry.

The server side
    Every store has a secret, ``<store>/.service-token`` (:data:`TOKEN_FILE`): 43 random
    URL-safe characters, created on the first start with mode 0600 (readable by the
    store's owner only). A request must carry it as ``Authorization: Bearer <token>``; it
    authenticates as the store's owner identity. :meth:`TokenTable.issue` adds tokens for
    other identities (``user:…``), kept in memory while the server runs
    (:meth:`gee_cscc.engine.LocalEngine.issue_token`, ``as_user``). A request without a
    known token gets HTTP 401 and changes nothing. A token file that others may read
    (group or world permission bits) is replaced by a new secret.

    Map tiles and thumbnail pixels are the exception, as on Earth Engine: a browser
    fetches them for a notebook map and cannot send a header. Their URLs carry the map or
    thumbnail id, 128 random bits that only an authenticated ``getMapId``/``getThumbURL``
    call returns and that last while the server runs; they are drawn as the identity that
    created them.

The client side
    :class:`ServiceCredentials` is a ``google.auth`` credentials object that sends the
    token as a bearer token on every request of the ``ee`` client (and so of ``xee`` and
    ``geemap``, which use the client's credentials). Its token may come from a callable,
    so a :class:`~gee_cscc.engine.LocalEngine` can switch identities (``as_user``)
    without re-initializing ``ee``; a refresh (after a 401) re-reads it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from google.auth import credentials as ga_credentials

__all__ = [
    "TOKEN_FILE",
    "ServiceCredentials",
    "TokenTable",
    "bearer_token",
    "read_token",
    "store_token",
]

log = logging.getLogger("gee_cscc.engine")

#: The token's file name inside the store folder.
TOKEN_FILE = ".service-token"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (atomic: written aside, renamed)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
        os.chmod(tmp, 0o600)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def store_token(root: str | os.PathLike) -> str:
    """The store's service token, created (mode 0600) if the store has none.

    Creation is atomic (written aside, then linked into place), so engines starting
    together on one store agree on one token. A token file with group or world
    permissions is replaced by a new secret.
    """
    path = Path(root) / TOKEN_FILE
    while True:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            token = _new_secret()
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.new")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(token + "\n")
                os.link(tmp, path)  # fails if another engine created it first
            except FileExistsError:
                continue  # read theirs
            finally:
                tmp.unlink(missing_ok=True)
            return token
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s was readable by others; it now holds a new token", path)
            token = _new_secret()
            _write_private(path, token)
            return token
        token = path.read_text().strip()
        if token:
            return token
        _write_private(path, _new_secret())  # an empty file: replace it


def read_token(store: str | os.PathLike) -> str:
    """The service token of the engine serving ``store`` (from ``<store>/.service-token``)."""
    path = Path(store) / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No service token at {path}: start the engine on this store first "
            "(gee-cscc serve --store ...)."
        ) from None
    if not token:
        raise ValueError(f"The service token file {path} is empty.")
    return token


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class TokenTable:
    """The tokens a server accepts and the identity each authenticates as.

    Parameters
    ----------
    owner_token
        The store's token (:func:`store_token`).
    owner
        The identity it authenticates as (the store's owner).
    """

    def __init__(self, owner_token: str, owner: str) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {owner_token: owner}
        self.owner_token = owner_token

    def issue(self, identity: str) -> str:
        """A new token that authenticates as ``identity`` while the server runs."""
        token = _new_secret()
        with self._lock:
            self._tokens[token] = identity
        return token

    def revoke(self, token: str) -> None:
        """Forget an issued token (the store's token cannot be revoked)."""
        with self._lock:
            if token != self.owner_token:
                self._tokens.pop(token, None)

    def identity(self, token: str | None) -> str | None:
        """The identity ``token`` authenticates as, or None (compared in constant time)."""
        if not token:
            return None
        with self._lock:
            items = list(self._tokens.items())
        found = None
        for known, who in items:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = who
        return found


class ServiceCredentials(ga_credentials.Credentials):
    """``google.auth`` credentials that send a local engine's token as a bearer token.

    Parameters
    ----------
    token
        The token, or a callable returning the current one (asked before every
        request, so the identity can change without re-initializing ``ee``).
    """

    def __init__(self, token: str | Callable[[], str]) -> None:
        super().__init__()
        self._source: Callable[[], str] = token if callable(token) else _Constant(token)
        self.token = self._source()

    @property
    def valid(self) -> bool:
        return bool(self.token)

    @property
    def expired(self) -> bool:
        return False

    def refresh(self, request: object) -> None:
        self.token = self._source()

    def before_request(self, request: object, method: str, url: str, headers: dict) -> None:
        self.token = self._source()
        self.apply(headers)


class _Constant:
    """A fixed token as a token source (picklable, unlike a lambda)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self) -> str:
        return self.token
