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
Expected values in tests should come from NumPy on these arrays, never from the engine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "EDGE_CASES",
    "NetworkBlockedError",
    "NetworkBlocker",
    "assert_pixels_equal",
    "block_network",
    "compute_pixels",
    "edge_case_cube",
    "engine_fixture",
    "ensure_initialized",
    "grid",
    "grid_of",
    "local_engine",
    "npp_cube",
    "safe_asset_part",
]

#: Units of the generated NPP values.
NPP_UNITS = "g C m-2 yr-1"

#: Where :func:`edge_case_cube` puts each hard case, as ``(row, col)`` of the ``(y, x)`` plane.
EDGE_CASES: dict[str, tuple[int, int]] = {
    "all_masked": (0, 0),  # NaN in every year
    "one_gap": (0, 1),  # NaN in the second year only
    "tie_max": (0, 2),  # the maximum is reached in the first and the last year
    "flat": (0, 3),  # the same value every year
    "negative": (0, 4),  # every value negative, all distinct
    "mixed_sign": (1, 0),  # values of both signs, and a zero
    "single_valid": (1, 1),  # one valid year (the middle one), NaN elsewhere
    "zero": (1, 2),  # 0 every year
}


# --- network -----------------------------------------------------------------------------


class NetworkBlockedError(RuntimeError):
    """A test tried to reach an address that is not on this machine's loopback."""


def _is_loopback(host: Any) -> bool:
    if host is None or host == "" or host == b"":
        return True  # a passive (bind) lookup, not a connection
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").lower()
    if text in ("localhost", "ip6-localhost", "ip6-loopback"):
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkBlocker:
    """Refuses connections and name look-ups for anything but the loopback range.

    Attributes
    ----------
    attempts
        Every refused host, in order (a test can check that none were made).
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _refuse(self, host: Any, what: str) -> None:
        self.attempts.append(str(host))
        raise NetworkBlockedError(
            f"Network access is blocked in tests: {what} to {host!r} (only 127.0.0.0/8, "
            "::1 and localhost are allowed)."
        )

    def install(self) -> None:
        """Patch ``socket.create_connection``, ``socket.getaddrinfo`` and ``socket.connect``."""
        if self._saved:
            return
        real_create = socket.create_connection
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        blocker = self

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not _is_loopback(address[0]):
                blocker._refuse(address[0], "create_connection")
            return real_create(address, *args, **kwargs)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> list:
            if not _is_loopback(host):
                blocker._refuse(host, "getaddrinfo")
            return real_getaddrinfo(host, *args, **kwargs)

        def _check_address(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                blocker._refuse(address[0], "connect")

        def connect(sock: socket.socket, address: Any) -> None:
            _check_address(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            _check_address(sock, address)
            return real_connect_ex(sock, address)

        self._saved = [
            (socket, "create_connection", real_create),
            (socket, "getaddrinfo", real_getaddrinfo),
            (socket.socket, "connect", real_connect),
            (socket.socket, "connect_ex", real_connect_ex),
        ]
        socket.create_connection = create_connection  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]

    def uninstall(self) -> None:
        """Restore the original socket functions."""
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        self._saved = []


@contextlib.contextmanager
def block_network() -> Iterator[NetworkBlocker]:
    """Block every non-loopback connection and DNS look-up inside the block.

    Blocked calls raise :class:`NetworkBlockedError` and are recorded in the yielded
    blocker's ``attempts``.
    """
    blocker = NetworkBlocker()
    blocker.install()
    try:
        yield blocker
    finally:
        blocker.uninstall()


# --- engines -----------------------------------------------------------------------------


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


# --- NPP cubes ---------------------------------------------------------------------------


def _coords(
    shape: tuple[int, int], origin: tuple[float, float], pixel_size: float
) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    x0, y0 = origin
    xs = x0 + (np.arange(w) + 0.5) * pixel_size
    ys = y0 - (np.arange(h) + 0.5) * pixel_size
    return ys, xs


def npp_cube(
    years: Iterable[int] = range(2001, 2007),
    shape: tuple[int, int] = (4, 5),
    *,
    seed: int = 0,
    origin: tuple[float, float] = (100.0, 40.0),
    pixel_size: float = 0.5,
    crs: str = "EPSG:4326",
    low: float = 100.0,
    high: float = 1200.0,
    gaps: float = 0.0,
    masked_cells: Sequence[tuple[int, int]] = (),
    name: str = "npp",
) -> Any:
    """A small random annual NPP cube, ``(year, y, x)``, in g C m⁻² yr⁻¹.

    Values are multiples of 0.5 (exact in float32 and float64) drawn from ``[low, high)``
    and are distinct within each cell's series, so a maximum or a rank is never tied by
    accident.

    Parameters
    ----------
    years
        The years (the ``year`` coordinate).
    shape
        ``(height, width)`` in pixels.
    seed
        The random seed.
    origin
        ``(x, y)`` of the north-west corner of the grid, in CRS units.
    pixel_size
        The pixel size in CRS units (degrees for EPSG:4326).
    crs
        The CRS code, stored in ``attrs["crs"]``.
    low
        The smallest value (g C m⁻² yr⁻¹).
    high
        The upper bound of values (g C m⁻² yr⁻¹), exclusive.
    gaps
        The fraction of (year, pixel) values set to NaN at random.
    masked_cells
        ``(row, col)`` pixels that are NaN in every year.
    name
        The DataArray name (the band name when stored).

    Returns
    -------
    xarray.DataArray
        An ``xarray.DataArray`` (float64), with ``transform`` (Earth Engine's 6-number affine)
        and ``crs`` attributes.
    """
    import xarray as xr

    years = [int(y) for y in years]
    if len(set(years)) != len(years):
        raise ValueError(f"npp_cube: duplicate years in {years}.")
    h, w = (int(v) for v in shape)
    if h < 1 or w < 1 or not years:
        raise ValueError(f"npp_cube: empty cube (years={years}, shape={shape}).")
    steps = int(round((high - low) * 2))
    if steps < len(years):
        raise ValueError(
            f"npp_cube: the range [{low}, {high}) has fewer than {len(years)} distinct values."
        )
    rng = np.random.default_rng(seed)
    data = np.empty((len(years), h, w))
    for r in range(h):
        for c in range(w):
            data[:, r, c] = low + rng.choice(steps, size=len(years), replace=False) * 0.5
    if gaps > 0:
        data[rng.random(data.shape) < gaps] = np.nan
    for r, c in masked_cells:
        data[:, r, c] = np.nan
    ys, xs = _coords((h, w), origin, pixel_size)
    transform = (pixel_size, 0.0, origin[0], 0.0, -pixel_size, origin[1])
    return xr.DataArray(
        data,
        dims=("year", "y", "x"),
        coords={"year": years, "y": ys, "x": xs},
        name=name,
        attrs={"crs": crs, "transform": transform, "units": NPP_UNITS},
    )


def edge_case_cube(
    years: Iterable[int] = range(2001, 2007),
    shape: tuple[int, int] = (4, 5),
    **kwargs: Any,
) -> Any:
    """An NPP cube with the hard cases at the pixels named in :data:`EDGE_CASES`.

    The other pixels hold :func:`npp_cube` values. Needs at least 3 years and a
    ``(2, 5)`` plane. ``kwargs`` go to :func:`npp_cube`.

    The cases (values in g C m⁻² yr⁻¹, ``n`` years):

    * ``all_masked``: NaN every year;
    * ``one_gap``: random values, NaN in the second year;
    * ``tie_max``: 1500 in the first and the last year, distinct smaller values between;
    * ``flat``: 400 every year;
    * ``negative``: ``-10, -20, … -10n`` in a shuffled order;
    * ``mixed_sign``: ``-15, 0, 15, -30, 30, …`` (cycled);
    * ``single_valid``: NaN except 700 in the middle year (index ``n // 2``);
    * ``zero``: 0 every year.
    """
    cube = npp_cube(years, shape, **kwargs)
    n = cube.sizes["year"]
    h, w = cube.shape[1:]
    if n < 3 or h < 2 or w < 5:
        raise ValueError(
            f"edge_case_cube needs at least 3 years and a (2, 5) plane; got {n} years and {(h, w)}."
        )
    data = cube.values
    rng = np.random.default_rng(kwargs.get("seed", 0) + 1)

    def at(case: str) -> tuple[slice, int, int]:
        r, c = EDGE_CASES[case]
        return slice(None), r, c

    data[at("all_masked")] = np.nan
    data[1, EDGE_CASES["one_gap"][0], EDGE_CASES["one_gap"][1]] = np.nan
    tie = 200.0 + rng.choice(2000, size=n, replace=False) * 0.5  # < 1200
    tie[0] = tie[-1] = 1500.0
    data[at("tie_max")] = tie
    data[at("flat")] = 400.0
    data[at("negative")] = -10.0 * (rng.permutation(n) + 1)
    pattern = [-15.0, 0.0, 15.0, -30.0, 30.0, -45.0, 45.0]
    data[at("mixed_sign")] = [pattern[i % len(pattern)] for i in range(n)]
    single = np.full(n, np.nan)
    single[n // 2] = 700.0
    data[at("single_valid")] = single
    data[at("zero")] = 0.0
    return cube.copy(data=data)


# --- pixels ------------------------------------------------------------------------------


def grid(transform: Sequence[float], shape: tuple[int, int], crs: str = "EPSG:4326") -> dict:
    """A ``computePixels`` grid: Earth Engine's 6-number affine, ``(height, width)``, CRS."""
    a, b, c, d, e, f = (float(v) for v in transform)
    h, w = (int(v) for v in shape)
    return {
        "dimensions": {"width": w, "height": h},
        "affineTransform": {
            "scaleX": a,
            "shearX": b,
            "translateX": c,
            "shearY": d,
            "scaleY": e,
            "translateY": f,
        },
        "crsCode": crs,
    }


def grid_of(data: Any) -> dict:
    """The ``computePixels`` grid of a DataArray's ``(y, x)`` pixels (north up).

    Uses the ``transform`` attribute when present, else the pixel-centre coordinates
    (at least two along each axis).
    """
    crs = str(data.attrs.get("crs", "EPSG:4326"))
    h, w = data.sizes["y"], data.sizes["x"]
    transform = data.attrs.get("transform")
    if transform is None:
        xs = np.asarray(data["x"].values, float)
        ys = np.asarray(data["y"].values, float)
        if len(xs) < 2 or len(ys) < 2:
            raise ValueError("grid_of: give a 'transform' attribute for a 1-pixel-wide array.")
        dx = (xs[-1] - xs[0]) / (len(xs) - 1)
        dy = abs(ys[-1] - ys[0]) / (len(ys) - 1)
        transform = (dx, 0.0, xs[0] - dx / 2, 0.0, -dy, ys.max() + dy / 2)
    return grid(transform, (h, w), crs)


def _structured_to_dict(arr: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(arr[name], dtype=np.float64) for name in arr.dtype.names}


def compute_pixels(image: Any, grid_spec: Mapping[str, Any]) -> dict[str, np.ma.MaskedArray]:
    """An ``ee.Image``'s pixels on a grid: ``{band: masked array (h, w) of float64}``.

    Two ``ee.data.computePixels`` requests (NUMPY_NDARRAY): the image itself for values
    and ``image.mask()`` for masks (a pixel is masked where its mask is 0).
    """
    import ee

    def fetch(img: Any) -> dict[str, np.ndarray]:
        arr = ee.data.computePixels(
            {"expression": img, "fileFormat": "NUMPY_NDARRAY", "grid": dict(grid_spec)}
        )
        return _structured_to_dict(arr)

    values = fetch(image)
    masks = fetch(ee.Image(image).mask())
    return {
        name: np.ma.MaskedArray(v, mask=~(m > 0))
        for (name, v), m in zip(values.items(), masks.values(), strict=True)
    }


def assert_pixels_equal(
    actual: np.ma.MaskedArray | np.ndarray,
    expected: np.ndarray,
    *,
    rtol: float = 1e-12,
    atol: float = 0.0,
    what: str = "pixels",
) -> None:
    """Assert a masked array equals ``expected`` (a NumPy array where NaN means masked).

    The masks must match exactly; valid values must agree within ``rtol``/``atol``.
    """
    expected = np.asarray(expected, dtype=float)
    act_mask = np.ma.getmaskarray(actual)
    act = np.asarray(np.ma.getdata(actual), dtype=float)
    if act.shape != expected.shape:
        raise AssertionError(f"{what}: shape {act.shape} != expected {expected.shape}")
    exp_mask = np.isnan(expected)
    if not np.array_equal(act_mask, exp_mask):
        raise AssertionError(
            f"{what}: masks differ (True = masked)\nactual:\n{act_mask.astype(int)}\n"
            f"expected:\n{exp_mask.astype(int)}"
        )
    valid = ~exp_mask
    if not np.allclose(act[valid], expected[valid], rtol=rtol, atol=atol, equal_nan=False):
        shown = np.where(act_mask, np.nan, act)
        raise AssertionError(f"{what}: values differ\nactual:\n{shown}\nexpected:\n{expected}")
