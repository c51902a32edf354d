"""Independent WGS84 area oracles for tests: ``pyproj.Geod`` and textbook formulas only.

Nothing here calls gee_cscc's own area code, so a test can compare the engine's
``ee.Image.pixelArea()``, ``Geometry.area()`` or a method's cell areas with these numbers.

* :func:`geodesic_area` — the area of a ring of lon/lat vertices joined by geodesics;
* :func:`lonlat_cell_area` — the area of a lon/lat cell whose north and south edges follow
  parallels (densified, since a geodesic edge would cut the corner);
* :func:`lonlat_cell_areas` — those areas on a whole north-up EPSG:4326 grid;
* :func:`wgs84_surface_area` — the ellipsoid's surface, ``4π R_q²``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "WGS84_A",
    "WGS84_F",
    "geodesic_area",
    "lonlat_cell_area",
    "lonlat_cell_areas",
    "wgs84_surface_area",
]

#: The WGS84 semi-major axis (m).
WGS84_A = 6378137.0
#: The WGS84 flattening.
WGS84_F = 1 / 298.257223563


def _geod() -> Any:
    import pyproj

    return pyproj.Geod(ellps="WGS84")


def geodesic_area(lon: Sequence[float], lat: Sequence[float]) -> float:
    """The area (m², positive) of a lon/lat ring on WGS84, edges geodesics (``pyproj.Geod``)."""
    area, _ = _geod().polygon_area_perimeter(lon, lat)
    return abs(area)


def lonlat_cell_area(west: float, south: float, east: float, north: float, n: int = 2000) -> float:
    """The area (m²) of a lon/lat cell on WGS84; its north and south edges follow parallels.

    The ring runs west → east along ``south`` (``n`` points), then east → west along
    ``north`` (``n`` points); the meridian edges are geodesics already.
    """
    along = np.linspace(west, east, n)
    lons = np.concatenate([along, along[::-1]])
    lats = np.concatenate([np.full(along.size, south), np.full(along.size, north)])
    return geodesic_area(lons, lats)


def lonlat_cell_areas(
    transform: Sequence[float], shape: tuple[int, int], n: int = 2000
) -> np.ndarray:
    """Cell areas (m²), ``(height, width)``, of a north-up EPSG:4326 grid.

    ``transform`` is Earth Engine's 6-number affine ``(xScale, 0, x0, 0, yScale, y0)``.
    A cell's area depends only on its latitudes, so each row is computed once (with the
    first column's longitudes) and repeated along the row.
    """
    a, b, c, d, e, f = (float(v) for v in transform)
    if b != 0 or d != 0 or e >= 0:
        raise ValueError(f"lonlat_cell_areas: not a north-up grid: {tuple(transform)}")
    h, w = shape
    out = np.zeros((h, w))
    for r in range(h):
        top, bottom = f + e * r, f + e * (r + 1)
        out[r, :] = lonlat_cell_area(c, bottom, c + a, top, n)
    return out


def wgs84_surface_area() -> float:
    """``4π R_q²``, the WGS84 ellipsoid's surface area (m²), from the textbook formula."""
    e2 = WGS84_F * (2 - WGS84_F)
    e = math.sqrt(e2)
    rq2 = WGS84_A**2 / 2 * (1 + (1 - e2) / (2 * e) * math.log((1 + e) / (1 - e)))
    return 4 * math.pi * rq2
