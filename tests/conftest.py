"""Shared fixtures: no network, one local Earth Engine for the session, per-test asset ids.

* ``network_guard`` (session, autouse): every connection or DNS look-up to anything but the
  loopback range raises :class:`gee_cscc.testing.NetworkBlockedError`; refused hosts are
  recorded in ``network_guard.attempts``.
* ``engine`` (session): a started :class:`gee_cscc.engine.LocalEngine` on a temporary store,
  with ``ee`` initialized against it. Tests share it, so they write assets only under the
  ids that ``tmp_asset`` gives them.
* ``tmp_asset`` (function): ``tmp_asset("coll")`` is ``projects/local-project/assets/
  t/n<k>-<test name>/coll``, a folder of the test's own; ``tmp_asset()`` gives a fresh id each call.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from gee_cscc.testing import (
    NetworkBlocker,
    block_network,
    engine_fixture,
    ensure_initialized,
    safe_asset_part,
)


def pytest_configure(config: pytest.Config) -> None:
    # The ee client's @Deprecated functions (getAssetAcl, setAssetProperties, getInfo …) warn
    # with warnings.warn_explicit, so the warning's module is the file path (…/ee/data), which
    # pyproject's "ignore::DeprecationWarning:ee.*" does not match.
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:.*[/\\]ee[/\\]")


@pytest.fixture(scope="session", autouse=True)
def network_guard() -> Iterator[NetworkBlocker | None]:
    """Block non-loopback network access for the whole test session.

    The one exception: a live session against Google Earth Engine, asked for explicitly
    with ``GEE_CSCC_LIVE_PROJECT=<gcp project> pytest -m live tests/live``.
    """
    if os.environ.get("GEE_CSCC_LIVE_PROJECT"):
        yield None
        return
    with block_network() as blocker:
        yield blocker


# Starts after ``network_guard`` (session autouse fixtures come first)
session_engine = engine_fixture(scope="session", name="session_engine")


@pytest.fixture(scope="module")
def engine(session_engine):
    """The session's engine, with ``ee`` pointed at it when a module starts using it.

    Module fixtures that use ``ee`` run before the function-level re-pointing below, so a
    module after one that moved ``ee`` (a CLI run with its own engine) would otherwise send
    their requests elsewhere (401).
    """
    ensure_initialized(session_engine)
    return session_engine


@pytest.fixture(autouse=True)
def _ee_points_at_session_engine(request: pytest.FixtureRequest) -> None:
    """Re-point ``ee`` at the session engine for tests that use it (if a test moved it)."""
    if "engine" in request.fixturenames:
        ensure_initialized(request.getfixturevalue("engine"))


_namespaces = itertools.count(1)


@pytest.fixture
def tmp_asset(request: pytest.FixtureRequest, engine) -> Callable[..., str]:
    """A factory of asset ids inside a folder that belongs to the current test only."""
    folder = f"t/n{next(_namespaces)}-{safe_asset_part(request.node.name, 40)}"
    return _AssetIds(engine, folder)


class _AssetIds:
    """``ids("name")`` → a fixed id in the test's folder; ``ids()`` → a fresh one each call."""

    def __init__(self, engine, folder: str) -> None:
        self.engine = engine
        self.folder = folder
        self._fresh = itertools.count(1)

    def __call__(self, name: str | None = None) -> str:
        if name is None:
            name = f"a{next(self._fresh)}"
        parts = [safe_asset_part(p) for p in name.strip("/").split("/")]
        return self.engine.asset_id("/".join([self.folder, *parts]))

    @property
    def root(self) -> str:
        """The id of the test's folder (it may not exist yet)."""
        return self.engine.asset_id(self.folder)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """Hold the local engine's image exports before their first tile until released.

    ``gate.entered`` is set when an export reaches its first tile; ``gate.release.set()``
    lets it go on (it is released at teardown in any case).
    """
    from gee_cscc.engine.batch import image_exports

    release = threading.Event()
    entered = threading.Event()
    original = image_exports._windows

    def gated(grid_):
        entered.set()
        release.wait(20)
        yield from original(grid_)

    monkeypatch.setattr(image_exports, "_windows", gated)
    yield SimpleNamespace(release=release, entered=entered)
    release.set()
