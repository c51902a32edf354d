"""The embedded local Earth Engine.

A loopback service that the unmodified ``earthengine-api`` client, ``xee`` and ``geemap``
talk to, over a local asset store (a folder). Use it in two steps::

    from gee_cscc.engine import LocalEngine
    with LocalEngine(store="some/dir") as engine:      # serves on 127.0.0.1 and points
        engine.store.put_collection("npp", cube)      # ee.Initialize at itself
        ee.ImageCollection("projects/local-project/assets/npp").size().getInfo()

No Google credentials are used and no request leaves the machine. The service answers
only callers holding the store's secret token (``<store>/.service-token``, mode 0600):
``LocalEngine`` sends it for you; another process connects with
:func:`initialize_ee` ``(url, token=read_token(store))``. It enforces Earth Engine's
interactive limits (:class:`Limits`; Google's by default, ``limits="scale=0.01"`` scales
them down for tests).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import EEError
from .limits import Limits
from .service.auth import TOKEN_FILE, ServiceCredentials, read_token
from .service.server import EngineServer
from .store.assets import AssetStore, year_millis

__all__ = [
    "LocalEngine",
    "AssetStore",
    "EEError",
    "Limits",
    "TOKEN_FILE",
    "initialize_ee",
    "read_token",
    "year_millis",
]

DEFAULT_PROJECT = "local-project"

#: The token source of each local engine running in this process, by URL, so that
#: ``initialize_ee(url)`` without a token can authenticate to an engine started here.
_RUNNING: dict[str, Callable[[], str]] = {}
_RUNNING_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_catalog_fetch() -> Iterator[None]:
    """Keep ``ee.Initialize`` from fetching Google's data-catalog file (no DNS lookup).

    ``ee.Initialize`` calls ``ee.deprecation._FetchDataCatalogStac`` to warn about
    deprecated datasets; inside the block that function returns an empty catalog. The
    original is put back on exit, also when ``ee.Initialize`` raises, so the patch never
    outlives the call.
    """
    import ee.deprecation

    original = ee.deprecation._FetchDataCatalogStac
    ee.deprecation._FetchDataCatalogStac = lambda: {}
    try:
        yield
    finally:
        ee.deprecation._FetchDataCatalogStac = original


def initialize_ee(
    url: str,
    project: str = DEFAULT_PROJECT,
    *,
    token: str | Callable[[], str] | None = None,
) -> None:
    """Point the ``ee`` client at a local engine listening at ``url``.

    Parameters
    ----------
    url
        The engine's URL (``http://127.0.0.1:PORT``, no trailing slash).
    project
        The Cloud project id the client uses.
    token
        The engine's token (``read_token(store)``), or a callable returning it. Without
        one, the token of an engine started in this process at ``url`` is used.
    """
    import ee

    if token is None:
        with _RUNNING_LOCK:
            token = _RUNNING.get(url)
        if token is None:
            raise ValueError(
                f"No token for the local engine at {url}: pass token=read_token(<store>) "
                f"(the token is in <store>/{TOKEN_FILE})."
            )
    # Credentials that send the token as a bearer token on every request (xee and geemap
    # use the client's credentials too); tools that check for credentials before they work
    # (geemap.Map) see some and do not try to authenticate with Google.
    with _no_catalog_fetch():
        ee.Initialize(credentials=ServiceCredentials(token), project=project, url=url)


class LocalEngine:
    """The local Earth Engine: a store, a loopback server and an initialized ``ee`` client.

    Parameters
    ----------
    store
        The asset-store folder; a temporary one (removed on stop) when None.
    port
        The port on 127.0.0.1 (0 picks a free one).
    project
        The Cloud project id the client uses (6–30 characters, as the ``ee``
        client requires).
    user
        The identity (``user:email``) of callers holding the store's token: it owns new
        assets and the engine checks its access.
    initialize
        Call ``ee.Initialize`` against the engine on start.
    limits
        Earth Engine's interactive limits to enforce: a :class:`Limits`, a text such as
        ``"scale=0.01"`` or ``"compute_seconds=2,max_pixels=1e5"``
        (:meth:`Limits.parse`), or None for Google's.
    """

    def __init__(
        self,
        store: str | os.PathLike | None = None,
        *,
        port: int = 0,
        project: str = DEFAULT_PROJECT,
        user: str = "user:local-user@localhost",
        initialize: bool = True,
        limits: Limits | str | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        if store is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gee-cscc-store-")
            store = self._tmp.name
        self.project = project
        self.store = AssetStore(Path(store), default_project=project, user=user)
        self.limits = Limits.of(limits)
        self._port = port
        self._initialize = initialize
        self._client_token: str | None = None
        self.server: EngineServer | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("The local engine is not running; call start() first.")
        return self.server.url

    @property
    def token_file(self) -> Path:
        """The store's token file (``<store>/.service-token``, mode 0600)."""
        return Path(self.store.root) / TOKEN_FILE

    @property
    def token(self) -> str:
        """The token this engine's ``ee`` client sends now (the store's, or ``as_user``'s)."""
        if self.server is None:
            raise RuntimeError("The local engine is not running; call start() first.")
        return self._client_token or self.server.token

    @property
    def user(self) -> str | None:
        """The identity requests of this engine's ``ee`` client run as."""
        if self.server is None:
            return self.store.user
        return self.server.tokens.identity(self.token)

    def issue_token(self, user: str) -> str:
        """A token that authenticates as ``user`` (``user:email``) while the engine runs."""
        if self.server is None:
            raise RuntimeError("The local engine is not running.")
        return self.server.tokens.issue(user)

    def _make_server(self) -> EngineServer:
        return EngineServer(self.store, port=self._port, limits=self.limits)

    def start(self) -> LocalEngine:
        """Start serving and (by default) initialize the ``ee`` client against the engine."""
        if self.server is None:
            self.server = self._make_server()
            self.server.start()
            with _RUNNING_LOCK:
                _RUNNING[self.server.url] = self._current_token
            if self._initialize:
                initialize_ee(self.server.url, self.project, token=self._current_token)
        return self

    def _current_token(self) -> str:
        if self._client_token:
            return self._client_token
        if self.server is not None:
            return self.server.token
        return ""

    def stop(self) -> None:
        """Stop serving (promptly: running computations are cancelled); a temporary store
        is removed."""
        if self.server is not None:
            with _RUNNING_LOCK:
                _RUNNING.pop(self.server.url, None)
            self.server.stop()
            self.server = None
        self._client_token = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @contextlib.contextmanager
    def as_user(self, user: str) -> Iterator[LocalEngine]:
        """Make this engine's ``ee`` requests as another identity (``user:email``) inside
        the block: the client sends a token issued for that identity."""
        if self.server is None:
            raise RuntimeError("The local engine is not running.")
        previous = self._client_token
        token = self.server.tokens.issue(user)
        self._client_token = token
        try:
            yield self
        finally:
            self._client_token = previous
            if self.server is not None:
                self.server.tokens.revoke(token)

    def asset_id(self, path: str) -> str:
        """The full asset id of a path in this engine's project."""
        return f"projects/{self.project}/assets/{path.strip('/')}"

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, ready: Callable[[LocalEngine], None] | None = None) -> None:
        """Serve in the foreground until interrupted (``gee-cscc serve``); stops promptly.

        ``ready(engine)`` is called once the engine listens (its ``url`` and token file exist).
        """
        if self.server is None:
            self.server = self._make_server()
        try:
            if ready is not None:
                ready(self)
            self.server.serve_forever()
        finally:
            self.server.stop()
            self.server = None
