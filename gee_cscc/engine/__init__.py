"""The embedded local Earth Engine.

A loopback service that the unmodified ``earthengine-api`` client, ``xee`` and ``geemap``
talk to, over a local asset store (a folder). Use it in two steps::

    from gee_cscc.engine import LocalEngine
    with LocalEngine(store="some/dir") as engine:      # serves on 127.0.0.1 and points
        engine.store.put_collection("npp", cube)      # ee.Initialize at itself
        ee.ImageCollection("projects/local-project/assets/npp").size().getInfo()

No credentials are used and no request leaves the machine.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import EEError
from .service.server import EngineServer
from .store.assets import AssetStore, year_millis

__all__ = ["LocalEngine", "AssetStore", "EEError", "initialize_ee", "year_millis"]

DEFAULT_PROJECT = "local-project"


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


def initialize_ee(url: str, project: str = DEFAULT_PROJECT) -> None:
    """Point the ``ee`` client at a local engine listening at ``url``."""
    import ee
    from google.auth.credentials import AnonymousCredentials

    # Anonymous credentials (not None): the client sends no token, and tools that check for
    # credentials before they work (geemap.Map) see some and do not try to authenticate.
    with _no_catalog_fetch():
        ee.Initialize(credentials=AnonymousCredentials(), project=project, url=url)


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
        The caller identity (``user:email``) that owns new assets and whose access
        the engine checks.
    initialize
        Call ``ee.Initialize`` against the engine on start.
    """

    def __init__(
        self,
        store: str | os.PathLike | None = None,
        *,
        port: int = 0,
        project: str = DEFAULT_PROJECT,
        user: str = "user:local-user@localhost",
        initialize: bool = True,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        if store is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gee-cscc-store-")
            store = self._tmp.name
        self.project = project
        self.store = AssetStore(Path(store), default_project=project, user=user)
        self._port = port
        self._initialize = initialize
        self.server: EngineServer | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("The local engine is not running; call start() first.")
        return self.server.url

    @property
    def user(self) -> str | None:
        return self.server.user if self.server is not None else self.store.user

    def start(self) -> LocalEngine:
        """Start serving and (by default) initialize the ``ee`` client against the engine."""
        if self.server is None:
            self.server = EngineServer(self.store, port=self._port)
            self.server.start()
            if self._initialize:
                initialize_ee(self.server.url, self.project)
        return self

    def stop(self) -> None:
        """Stop serving; a temporary store is removed."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @contextlib.contextmanager
    def as_user(self, user: str) -> Iterator[LocalEngine]:
        """Make requests as another identity (``user:email``) inside the block."""
        if self.server is None:
            raise RuntimeError("The local engine is not running.")
        previous = self.server.user
        self.server.user = user
        try:
            yield self
        finally:
            self.server.user = previous

    def asset_id(self, path: str) -> str:
        """The full asset id of a path in this engine's project."""
        return f"projects/{self.project}/assets/{path.strip('/')}"

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (``gee-cscc serve``)."""
        if self.server is None:
            self.server = EngineServer(self.store, port=self._port)
        try:
            self.server.serve_forever()
        finally:
            self.server.stop()
            self.server = None
