"""Geodesic distance between any two geometries (points, lines, polygons), in metres.

Used by ``Filter.withinDistance`` (and its join measure). Earth Engine measures on the
ellipsoid; here the distance is the smallest, over the vertices of each geometry, of the
distance from that vertex to the other geometry, measured in a WGS84 azimuthal equidistant
projection centred on the vertex (where distances from the centre are exact geodesic
distances). Between two disjoint shapes the minimum is always reached at a vertex of one of
them, so this is the geodesic minimum distance, up to the shape of the edges between
vertices (edges are straight in longitude/latitude, split every :data:`SEGMENT` degrees).
Geometries that intersect are 0 apart.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..core.values import Geometry

__all__ = ["distance_between_geometries", "geodesic_distance"]

#: The most vertices measured from on each side (more are thinned evenly).
MAX_VERTICES = 2000
#: Edges are split into pieces of at most this many degrees (about 1 km) before measuring.
SEGMENT = 0.01


@functools.lru_cache(maxsize=256)
def _aeqd(lon: float, lat: float) -> Any:
    import pyproj

    crs = f"+proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +ellps=WGS84 +units=m +no_defs"
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _vertices(shape: Any) -> np.ndarray:
    import shapely

    xy = shapely.get_coordinates(shape)
    if len(xy) > MAX_VERTICES:
        xy = xy[np.linspace(0, len(xy) - 1, MAX_VERTICES).astype(int)]
    return xy


def _from_vertices(a: Any, b: Any) -> float:
    import shapely

    best = np.inf
    origin = shapely.Point(0.0, 0.0)
    for lon, lat in _vertices(a):
        tf = _aeqd(float(lon), float(lat))
        other = shapely.transform(
            b, lambda xy, _tf=tf: np.column_stack(_tf.transform(xy[:, 0], xy[:, 1]))
        )
        best = min(best, float(other.distance(origin)))
    return best


def geodesic_distance(left: Any, right: Any) -> float:
    """The geodesic distance in metres between two lon/lat shapely shapes (0 if they meet)."""
    if left.is_empty or right.is_empty:
        return float("nan")
    if left.intersects(right):
        return 0.0
    return min(_from_vertices(left, _dense(right)), _from_vertices(right, _dense(left)))


def _dense(shape: Any) -> Any:
    """Edges split every :data:`SEGMENT` degrees (so they bend as they do in the projection)."""
    return shape if shape.geom_type in ("Point", "MultiPoint") else shape.segmentize(SEGMENT)


def distance_between_geometries(left: Geometry, right: Geometry) -> float:
    """:func:`geodesic_distance` of two engine geometries."""
    return geodesic_distance(left.in_crs("EPSG:4326"), right.in_crs("EPSG:4326"))
