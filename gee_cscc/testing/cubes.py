"""Small annual NPP cubes for tests: random series and the hard cases of docs/method.md.

Cubes are ``xarray.DataArray`` with dims ``(year, y, x)``, pixel-centre coordinates (``y``
descending, north up), ``crs`` and ``transform`` attributes and NaN for masked cells, in
g C m⁻² yr⁻¹. Expected values in tests should come from NumPy on these arrays, never from
the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["EDGE_CASES", "NPP_UNITS", "cube_of", "edge_case_cube", "image_of", "npp_cube"]

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
    return cube_of(data, years, origin=origin, pixel_size=pixel_size, crs=crs, name=name)


def cube_of(
    values: Any,
    years: Iterable[int],
    *,
    origin: tuple[float, float] = (100.0, 40.0),
    pixel_size: float = 0.5,
    crs: str | None = "EPSG:4326",
    name: str | None = "npp",
    units: str | None = NPP_UNITS,
) -> Any:
    """A ``(year, y, x)`` DataArray of given values on a north-up grid, for hand-made cases.

    Parameters
    ----------
    values
        The ``(year, y, x)`` array (NaN for masked cells); kept as given (no copy or cast).
    years
        The ``year`` coordinate.
    origin
        ``(x, y)`` of the north-west corner of the grid, in CRS units.
    pixel_size
        The pixel size in CRS units; ``y`` and ``x`` are the pixel centres, ``y`` descending.
    crs
        Stored in ``attrs["crs"]``, with ``attrs["transform"]`` (Earth Engine's 6-number
        affine). None leaves both out: a cube located by its coordinates only, as a
        file read by the CLI would be.
    name
        The DataArray name (the band name when stored); None for none.
    units
        Stored in ``attrs["units"]``; None leaves it out.
    """
    import xarray as xr

    values = np.asarray(values) if not hasattr(values, "shape") else values
    if values.ndim != 3:
        raise ValueError(f"cube_of: values must be (year, y, x); got shape {values.shape}.")
    years = [int(y) for y in years]
    ys, xs = _coords(values.shape[1:], origin, pixel_size)
    attrs: dict[str, Any] = {}
    if crs is not None:
        attrs["crs"] = crs
        attrs["transform"] = (pixel_size, 0.0, origin[0], 0.0, -pixel_size, origin[1])
    if units is not None:
        attrs["units"] = units
    return xr.DataArray(
        values,
        dims=("year", "y", "x"),
        coords={"year": years, "y": ys, "x": xs},
        name=name,
        attrs=attrs,
    )


def image_of(
    values: Any,
    transform: Sequence[float],
    *,
    crs: str = "EPSG:4326",
    name: str | None = None,
) -> Any:
    """An image DataArray for ``store.put_image``, on the grid of an Earth Engine affine.

    Parameters
    ----------
    values
        A ``(y, x)`` array (one band, named ``name``) or a mapping ``{band: (y, x) array}``
        (a ``(band, y, x)`` DataArray, bands in the mapping's order); NaN for masked cells.
    transform
        Earth Engine's 6-number affine ``(a, b, c, d, e, f)``; ``y`` and ``x`` are the pixel
        centres ``f + e·(row + ½)`` and ``c + a·(col + ½)`` (no shear).
    crs
        Stored in ``attrs["crs"]``, with ``attrs["transform"]``.
    name
        The DataArray name (a single band's name when stored); None for none.
    """
    import xarray as xr

    if isinstance(values, Mapping):
        data = np.stack(list(values.values()))
        dims: tuple[str, ...] = ("band", "y", "x")
        coords: dict[str, Any] = {"band": list(values)}
    else:
        data = values
        dims, coords = ("y", "x"), {}
    h, w = data.shape[-2:]
    a, _, c, _, e, f = transform
    coords["y"] = f + e * (np.arange(h) + 0.5)
    coords["x"] = c + a * (np.arange(w) + 0.5)
    return xr.DataArray(
        data,
        dims=dims,
        coords=coords,
        name=name,
        attrs={"crs": crs, "transform": tuple(transform)},
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
