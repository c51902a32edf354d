"""Test helpers for code that runs on the embedded local Earth Engine.

Two steps cover most tests::

    from gee_cscc.testing import local_engine, edge_case_cube, compute_pixels, grid_of

    with local_engine() as engine:                         # ee.Initialize points at it
        cube = edge_case_cube()                            # (year, y, x), g C m⁻² yr⁻¹
        engine.store.put_collection("npp", cube)
        img = ee.ImageCollection(engine.asset_id("npp")).max()
        pixels = compute_pixels(img, grid_of(cube))        # {band: numpy masked array}

In a pytest suite, ``engine = engine_fixture()`` in ``conftest.py`` gives one engine for the
session, and :func:`block_network` keeps tests off the network (only loopback addresses
may be reached).

Cube generators return xarray DataArrays with dims ``(year, y, x)``, pixel-centre
coordinates (``y`` descending, north up), a ``crs`` attribute and NaN for masked cells.
Expected values in tests should come from NumPy on these arrays, never from the engine;
:mod:`gee_cscc.testing.geodesy` gives independent WGS84 areas (``pyproj.Geod``) to compare
``ee.Image.pixelArea()`` or ``Geometry.area()`` with.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

from gee_cscc.testing.cubes import (
    EDGE_CASES,
    NPP_UNITS,
    cube_of,
    edge_case_cube,
    image_of,
    npp_cube,
)
from gee_cscc.testing.geodesy import (
    geodesic_area,
    lonlat_cell_area,
    lonlat_cell_areas,
    wgs84_surface_area,
)
from gee_cscc.testing.network import NetworkBlockedError, NetworkBlocker, block_network
from gee_cscc.testing.pixels import assert_pixels_equal, compute_pixels, grid, grid_of

__all__ = [
    "EDGE_CASES",
    "NPP_UNITS",
    "NetworkBlockedError",
    "NetworkBlocker",
    "assert_pixels_equal",
    "block_network",
    "compute_pixels",
    "cube_of",
    "edge_case_cube",
    "engine_fixture",
    "ensure_initialized",
    "geodesic_area",
    "grid",
    "grid_of",
    "image_of",
    "local_engine",
    "lonlat_cell_area",
    "lonlat_cell_areas",
    "npp_cube",
    "safe_asset_part",
    "wgs84_surface_area",
]


def _ee_state() -> tuple[str | None, str | None]:
    """``(cloud_api_base_url, project)`` the ``ee`` client is initialized with, if any."""
    try:
        import ee

        state = ee.data._get_state()  # noqa: SLF001 (ee offers no public getter)
        if not state.initialized:
            return None, None
        return state.cloud_api_base_url, state.cloud_api_user_project
    except Exception:  # an ee version without this state object
        return None, None


def _listening(url: str) -> bool:
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url or "")
    if not m:
        return False
    try:
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_initialized(engine: Any) -> Any:
    """Point ``ee`` back at ``engine`` if something (another engine) re-pointed it.

    Returns the engine, so a fixture can ``return ensure_initialized(engine)``.
    """
    from gee_cscc.engine import initialize_ee

    url, project = _ee_state()
    if url != engine.url or project != engine.project:
        initialize_ee(engine.url, engine.project)
    return engine


@contextlib.contextmanager
def local_engine(store: Any = None, **kwargs: Any) -> Iterator[Any]:
    """A started :class:`~gee_cscc.engine.LocalEngine` with ``ee`` initialized against it.

    On exit the engine stops, and if ``ee`` was pointed at another local engine that is
    still listening (nested use), ``ee`` is pointed back at it.

    Parameters
    ----------
    store
        The asset-store folder (a temporary folder, removed on exit, when None).
    **kwargs
        Passed to :class:`~gee_cscc.engine.LocalEngine` (``project``, ``user`` …).
    """
    from gee_cscc.engine import LocalEngine, initialize_ee

    previous_url, previous_project = _ee_state()
    engine = LocalEngine(store, **kwargs)
    engine.start()
    url = engine.url
    try:
        yield engine
    finally:
        engine.stop()
        if previous_url and previous_project and previous_url != url and _listening(previous_url):
            initialize_ee(previous_url, previous_project)


def engine_fixture(
    *, scope: str = "session", name: str = "engine", **engine_kwargs: Any
) -> Callable[..., Any]:
    """A pytest fixture giving a started local engine on a temporary store.

    Put ``engine = engine_fixture()`` in a ``conftest.py``. With the default session scope
    one engine serves every test (the ``ee`` client keeps global state, so only one engine
    can be the initialized one at a time). A test that needs an engine of its own should
    use :func:`local_engine`, which points ``ee`` back at the session engine on exit; an
    autouse fixture calling :func:`ensure_initialized` guards against engines started
    any other way.

    Parameters
    ----------
    scope
        The pytest scope of the engine.
    name
        The fixture name.
    **engine_kwargs
        Passed to :class:`~gee_cscc.engine.LocalEngine`.
    """
    import pytest

    @pytest.fixture(scope=scope, name=name)
    def _engine(tmp_path_factory: Any) -> Iterator[Any]:
        store = tmp_path_factory.mktemp("ee-store")
        with local_engine(store, **engine_kwargs) as engine:
            yield engine

    return _engine


def safe_asset_part(text: str, max_len: int = 60) -> str:
    """``text`` made into one valid asset-path component (letters, digits, ``_-.``)."""
    part = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-") or "x"
    return part[:max_len]
