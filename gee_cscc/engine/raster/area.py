"""Areas on the WGS84 ellipsoid: pixel areas (``ee.Image.pixelArea``) and lon/lat rings, in m².

For a geographic grid the area of the cell between latitudes φ1 < φ2 and spanning Δλ
radians is exact on the ellipsoid (semi-axes a, b, eccentricity e)::

    A = Δλ · b² / 2 · [q(φ2) − q(φ1)],
    q(φ) = sin φ / (1 − e² sin² φ) + 1/(2e) · ln((1 + e sin φ) / (1 − e sin φ)).

The same function gives the area of any region bounded by edges that are straight in
longitude/latitude, by Green's theorem: with G(φ) = b²/2 · q(φ) (so that dA = G'(φ) dφ dλ),
``A = −∮ G(φ) dλ`` along the boundary taken counter-clockwise (east = +x, north = +y). Each
straight lon/lat edge is integrated with Gauss–Legendre quadrature, which is exact to rounding
for the smooth G (:func:`lonlat_ring_area`).

Pixels of any other grid are bounded by edges that are straight in the grid's CRS: each pixel
edge is cut into pieces, the lattice of piece ends is taken to lon/lat in one transform, and
the pixel is the lon/lat polygon through them (the result is extrapolated from 1 and 2 pieces
per edge, which removes the leading chord error; for grids whose edges are meridians and
parallels, such as EPSG:3857, it is exact). Where the two disagree by more than 1e-4 (pixels
around a pole, pixels hundreds of kilometres wide) the pixel's outline is densified to 1024
points per edge and measured as a geodesic polygon with ``pyproj.Geod`` instead.
"""

from __future__ import annotations

import math

import numpy as np

from .grid import Grid

__all__ = [
    "pixel_area",
    "lonlat_ring_area",
    "lonlat_segment_integrals",
    "authalic_radius",
    "WGS84_A",
    "WGS84_F",
]

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
_E2 = WGS84_F * (2 - WGS84_F)
_B = WGS84_A * (1 - WGS84_F)

_GL_X, _GL_W = np.polynomial.legendre.leggauss(4)
_GL_T = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0
#: Longest straight lon/lat piece integrated with one quadrature, in degrees of latitude.
_MAX_PIECE_DEG = 1.0


def _q(phi: np.ndarray) -> np.ndarray:
    e = math.sqrt(_E2)
    s = np.sin(phi)
    return s / (1 - _E2 * s * s) + (1 / (2 * e)) * np.log((1 + e * s) / (1 - e * s))


def _g(phi: np.ndarray) -> np.ndarray:
    """G(φ) = b²/2 · q(φ), in m² per radian of longitude."""
    return _B * _B / 2 * _q(phi)


def authalic_radius() -> float:
    """The radius (m) of the sphere with the WGS84 ellipsoid's surface area."""
    e = math.sqrt(_E2)
    return math.sqrt(WGS84_A**2 / 2 * (1 + (1 - _E2) / e * math.atanh(e)))


def _wrap_dlon(dlon: np.ndarray) -> np.ndarray:
    return (dlon + 180.0) % 360.0 - 180.0


def lonlat_segment_integrals(
    lon0: np.ndarray,
    lat0: np.ndarray,
    lon1: np.ndarray,
    lat1: np.ndarray,
    ref_lat: np.ndarray | float = 0.0,
    *,
    wrap: bool = True,
) -> np.ndarray:
    """``−∫ (G(φ) − G(φ_ref)) dλ`` along straight lon/lat segments (degrees), in m².

    With ``wrap`` longitude steps are taken the short way round (|Δλ| ≤ 180°), as for points
    that come out of a projection; without it a step is the difference of the coordinates.
    Summed over a closed ring that does not enclose a pole this is the ring's signed area
    (positive when counter-clockwise) whatever the reference latitude; a reference near the
    ring keeps the terms small, so rounding in the longitudes does not swamp a small area.
    Segments longer than a degree of latitude should be cut first for full precision.
    """
    dlon = np.asarray(lon1, float) - np.asarray(lon0, float)
    dlam = np.radians(_wrap_dlon(dlon) if wrap else dlon)
    phi0 = np.radians(np.asarray(lat0, float))
    phi1 = np.radians(np.asarray(lat1, float))
    phis = phi0[..., None] + (phi1 - phi0)[..., None] * _GL_T
    g0 = _g(np.radians(np.asarray(ref_lat, float)))
    return -dlam * ((_g(phis) @ _GL_W) - g0)


def _cut(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut a closed lon/lat ring's edges into pieces of at most a degree of latitude."""
    dlon = np.diff(lon)
    dlat = np.diff(lat)
    n = np.maximum(np.ceil(np.abs(dlat) / _MAX_PIECE_DEG), 1).astype(np.int64)
    if np.all(n == 1):
        return lon, lat
    edge = np.repeat(np.arange(n.size), n)
    frac = (np.arange(edge.size) - np.repeat(np.cumsum(n) - n, n)) / n[edge]
    new_lon = lon[edge] + dlon[edge] * frac
    new_lat = lat[edge] + dlat[edge] * frac
    return np.append(new_lon, lon[-1]), np.append(new_lat, lat[-1])


def lonlat_ring_area(lon: np.ndarray, lat: np.ndarray) -> float:
    """Signed area (m², positive counter-clockwise) of a ring with straight lon/lat edges.

    Parameters
    ----------
    lon, lat
        The ring's vertices in degrees; it is closed if it is not already. Edges are
        straight in these coordinates as given: a step from 170° to −170° is an edge 340°
        long to the west, not 20° to the east.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.size < 3:
        return 0.0
    if lon[0] != lon[-1] or lat[0] != lat[-1]:
        lon, lat = np.append(lon, lon[0]), np.append(lat, lat[0])
    lon, lat = _cut(lon, lat)
    ref = float(np.mean(lat))
    terms = lonlat_segment_integrals(lon[:-1], lat[:-1], lon[1:], lat[1:], ref_lat=ref, wrap=False)
    return float(np.sum(terms))


def pixel_area(grid: Grid) -> np.ndarray:
    """The area of every pixel of ``grid`` in m², shape ``(h, w)``."""
    a, b, c, d, e, f = grid.transform
    if grid.size == 0:
        return np.zeros(grid.shape)
    if grid.crs == "EPSG:4326" and b == 0.0 and d == 0.0:
        rows = np.arange(grid.height + 1)
        lat_edges = np.clip(f + e * rows, -90.0, 90.0)
        q = _q(np.radians(lat_edges))
        dlam = math.radians(abs(a))
        band = dlam * _B * _B / 2 * np.abs(np.diff(q))
        return np.broadcast_to(band[:, None], grid.shape).copy()
    fine, coarse = _lattice_areas(grid, 2)
    out = np.abs((4.0 * fine - coarse) / 3.0)
    # Where one and two pieces per edge disagree much (pixels near a pole, huge pixels),
    # the chord extrapolation is not trusted: measure a densified outline instead.
    doubtful = ~(np.abs(fine - coarse) <= _DOUBT * np.abs(fine))
    for r, col in zip(*np.nonzero(doubtful), strict=True):
        out[r, col] = abs(_outline_area(grid, int(r), int(col)))
    return out


#: Relative disagreement between 1 and 2 chords per edge above which a pixel is densified.
_DOUBT = 1e-4
#: Points per pixel edge of a densified outline.
_OUTLINE_POINTS = 1024


def _outline_area(grid: Grid, row: int, col: int) -> float:
    """A pixel's area from its outline densified along the grid's straight edges.

    The outline (1024 points per edge) is measured as a geodesic polygon with
    ``pyproj.Geod``, which stays accurate where lon/lat chords do not (around a pole).
    """
    import pyproj

    from .reproject import transformer

    a, b, c, d, e, f = grid.transform
    t = np.arange(_OUTLINE_POINTS) / _OUTLINE_POINTS
    one, zero = np.ones_like(t), np.zeros_like(t)
    cols = col + np.concatenate([t, one, 1 - t, zero])
    rows = row + np.concatenate([zero, t, one, 1 - t])
    x = c + a * cols + b * rows
    y = f + d * cols + e * rows
    if grid.crs != "EPSG:4326":
        x, y = transformer(grid.crs, "EPSG:4326").transform(x, y)
    return float(pyproj.Geod(ellps="WGS84").polygon_area_perimeter(x, y)[0])


def _lattice_areas(grid: Grid, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed pixel areas with every pixel edge cut into ``k`` and ``k / 2`` lon/lat pieces."""
    from .reproject import transformer

    h, w = grid.shape
    a, b, c, d, e, f = grid.transform
    tf = None if grid.crs == "EPSG:4326" else transformer(grid.crs, "EPSG:4326")

    def lonlat(cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = c + a * cols + b * rows
        y = f + d * cols + e * rows
        if tf is None:
            return x, y
        lon, lat = tf.transform(x, y)
        return np.asarray(lon, float), np.asarray(lat, float)

    # Horizontal lattice lines (rows 0..h), points every 1/k pixel along them.
    hc, hr = np.meshgrid(np.arange(w * k + 1) / k, np.arange(h + 1))
    hlon, hlat = lonlat(hc, hr)
    # Vertical lattice lines (cols 0..w), points every 1/k pixel along them.
    vc, vr = np.meshgrid(np.arange(w + 1), np.arange(h * k + 1) / k)
    vlon, vlat = lonlat(vc, vr)
    # Reference latitude of pixel row r (see lonlat_segment_integrals): its top-left corner's.
    ref = hlat[:-1, :1]
    g_ref = _g(np.radians(ref))
    out = []
    for step in (1, 2):
        hl, ht = hlon[:, ::step], hlat[:, ::step]
        vl, vt = vlon[::step, :], vlat[::step, :]
        n = k // step
        # Horizontal line i, once with the reference of pixel row i and once with row i - 1's.
        hs_own = lonlat_segment_integrals(
            hl[:-1, :-1], ht[:-1, :-1], hl[:-1, 1:], ht[:-1, 1:], ref_lat=ref
        )
        hs_above = lonlat_segment_integrals(
            hl[1:, :-1], ht[1:, :-1], hl[1:, 1:], ht[1:, 1:], ref_lat=ref
        )
        row_of_v = np.repeat(np.arange(h), n)[:, None]
        vs = lonlat_segment_integrals(
            vl[:-1, :], vt[:-1, :], vl[1:, :], vt[1:, :], ref_lat=ref[row_of_v, 0]
        )
        vd = np.radians(_wrap_dlon(np.diff(vl, axis=0)))
        hd = np.radians(_wrap_dlon(np.diff(hl, axis=1)))
        top = hs_own.reshape(h, w, n).sum(axis=2)
        bottom = hs_above.reshape(h, w, n).sum(axis=2)
        V = vs.reshape(h, n, w + 1).sum(axis=1)
        HD = hd.reshape(h + 1, w, n).sum(axis=2)
        VD = vd.reshape(h, n, w + 1).sum(axis=1)
        # Around each pixel: top edge left→right, right edge down, bottom right→left, left up.
        area = top + V[:, 1:] - bottom - V[:, :-1]
        wind = HD[:-1, :] + VD[:, 1:] - HD[1:, :] - VD[:, :-1]
        around = np.abs(wind) > math.pi
        if around.any():
            # A pixel around a pole: the pole on the side of the pixel's mean latitude.
            lat_c = (hlat[:-1, : w * k : k] + hlat[1:, : w * k : k]) / 2
            pole = np.copysign(math.pi / 2, lat_c)
            area = np.where(around, area + (_g(pole) - g_ref) * wind, area)
        out.append(area)
    return out[0], out[1]
