"""Pixel areas on the WGS84 ellipsoid (``ee.Image.pixelArea``), in square metres.

For a geographic grid the area of the cell between latitudes φ1 < φ2 and spanning Δλ
radians is exact on the ellipsoid (semi-axes a, b, eccentricity e)::

    A = Δλ · b² / 2 · [q(φ2) − q(φ1)],
    q(φ) = sin φ / (1 − e² sin² φ) + 1/(2e) · ln((1 + e sin φ) / (1 − e sin φ)).

For other CRSs each pixel's corners are taken to lon/lat and the geodesic polygon area is
computed with ``pyproj.Geod``.
"""

from __future__ import annotations

import math

import numpy as np

from .grid import Grid

__all__ = ["pixel_area", "WGS84_A", "WGS84_F"]

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563


def _q(phi: np.ndarray) -> np.ndarray:
    e2 = WGS84_F * (2 - WGS84_F)
    e = math.sqrt(e2)
    s = np.sin(phi)
    return s / (1 - e2 * s * s) + (1 / (2 * e)) * np.log((1 + e * s) / (1 - e * s))


def pixel_area(grid: Grid) -> np.ndarray:
    """The area of every pixel of ``grid`` in m², shape ``(h, w)``."""
    a, b, c, d, e, f = grid.transform
    if grid.projection.is_geographic and b == 0.0 and d == 0.0:
        rows = np.arange(grid.height + 1)
        lat_edges = np.clip(f + e * rows, -90.0, 90.0)
        q = _q(np.radians(lat_edges))
        bb = WGS84_A * (1 - WGS84_F)
        dlam = math.radians(abs(a))
        band = dlam * bb * bb / 2 * np.abs(np.diff(q))
        return np.broadcast_to(band[:, None], grid.shape).copy()
    import pyproj

    geod = pyproj.Geod(ellps="WGS84")
    tf = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    out = np.zeros(grid.shape)
    for r in range(grid.height):
        for col in range(grid.width):
            xs = [
                c + a * cc + b * rr
                for cc, rr in ((col, r), (col + 1, r), (col + 1, r + 1), (col, r + 1))
            ]
            ys = [
                f + d * cc + e * rr
                for cc, rr in ((col, r), (col + 1, r), (col + 1, r + 1), (col, r + 1))
            ]
            lon, lat = tf.transform(xs, ys)
            area, _ = geod.polygon_area_perimeter(lon, lat)
            out[r, col] = abs(area)
    return out
