"""The grid and the window of a region reduction (``reduceRegion``, ``sample``, …).

:func:`reduction_grid` picks the pixel grid a reduction runs on (its ``crs``,
``crsTransform`` or ``scale``, else the image's own); :func:`plan_region` the window of that
grid that a geometry covers (:class:`RegionPlan`). :mod:`.reduction` walks the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.values import Geometry, Image
from ..errors import EEError
from .grid import DEFAULT_PROJECTION, Grid, Projection

__all__ = [
    "DEFAULT_PROJECTION_ERROR",
    "RegionPlan",
    "plan_region",
    "reduction_grid",
    "rescaled",
    "too_many_pixels",
]

#: Earth Engine's error text for an aggregation on the default (1-degree WGS84) projection.
DEFAULT_PROJECTION_ERROR = (
    "The default WGS84 projection is invalid for aggregations. "
    "Specify a scale or crs & crs_transform."
)


# --- the grid of a region reduction -----------------------------------------------------------


def rescaled(proj: Projection, scale: float) -> Projection:
    """``proj`` with its pixel size changed to ``scale`` metres, keeping orientation and origin."""
    nominal = proj.nominal_scale
    if nominal <= 0:
        raise EEError(f"Invalid projection transform: {list(proj.transform)}.")
    factor = float(scale) / nominal
    a, b, c, d, e, f = proj.transform
    return Projection(proj.crs, (a * factor, b * factor, c, d * factor, e * factor, f))


def reduction_grid(
    image: Image,
    crs: Any = None,
    crs_transform: Any = None,
    scale: Any = None,
    *,
    what: str,
) -> Projection:
    """The projection a region reduction works in (Earth Engine's ``crs``/``scale`` rules).

    ``crsTransform`` replaces the transform of ``crs`` (or of the image's projection);
    ``scale`` rescales ``crs`` (or the image's projection) to that many metres per pixel;
    without either, the image's default projection is used. An image without a fixed
    projection (a composite or a constant) needs ``scale`` or ``crsTransform``: with only a
    scale it is reduced in EPSG:4326 at that scale.
    """
    if scale is not None and crs_transform is not None:
        raise EEError(f"{what}: 'scale' and 'crsTransform' are mutually exclusive.")
    if scale is not None and (not isinstance(scale, (int, float)) or scale <= 0):
        raise EEError(f"{what}: scale must be a positive number of metres, got {scale!r}.")
    native = image.default_projection()
    if crs is not None and not isinstance(crs, (str, Projection)):
        raise EEError(f"{what}: invalid crs {crs!r}.")
    if crs_transform is not None:
        if not isinstance(crs_transform, (list, tuple)) or len(crs_transform) != 6:
            raise EEError(f"{what}: crsTransform must be a list of 6 numbers.")
        base_crs = (
            crs.crs
            if isinstance(crs, Projection)
            else crs
            if isinstance(crs, str)
            else native.crs
            if native is not None
            else "EPSG:4326"
        )
        return Projection(base_crs, tuple(float(v) for v in crs_transform))
    if isinstance(crs, Projection):
        return rescaled(crs, scale) if scale is not None else crs
    if isinstance(crs, str):
        proj = Projection(crs, DEFAULT_PROJECTION.transform)
        if scale is not None:
            return proj.with_scale(float(scale))
        if native is None:
            raise EEError(DEFAULT_PROJECTION_ERROR)
        return proj
    if native is None:
        if scale is None:
            raise EEError(DEFAULT_PROJECTION_ERROR)
        return DEFAULT_PROJECTION.with_scale(float(scale))
    return rescaled(native, scale) if scale is not None else native


# --- regions ------------------------------------------------------------------------------


@dataclass
class RegionPlan:
    """The pixels a region reduction visits: a window of the reduction grid and a geometry.

    Attributes
    ----------
    grid
        The window (a sub-grid of the reduction projection).
    geometry
        The region in the grid's CRS, or None when every pixel of the window is
        fully in the region (an image footprint on its own grid).
    """

    grid: Grid
    geometry: Geometry | None

    @property
    def pixels(self) -> int:
        return self.grid.size


def _window(bounds: tuple[float, float, float, float], proj: Projection) -> Grid:
    if not proj.is_axis_aligned():
        raise EEError("Region reductions on a sheared projection are not supported.")
    a, _, c, _, e, f = proj.transform
    xmin, ymin, xmax, ymax = bounds
    cols = sorted(((xmin - c) / a, (xmax - c) / a))
    rows = sorted(((ymin - f) / e, (ymax - f) / e))
    eps = 1e-9
    c0, c1 = math.floor(cols[0] + eps), math.ceil(cols[1] - eps)
    r0, r1 = math.floor(rows[0] + eps), math.ceil(rows[1] - eps)
    c1 = max(c1, c0 + 1)
    r1 = max(r1, r0 + 1)
    return Grid(proj, (0, 0)).window(r0, c0, r1 - r0, c1 - c0)


def plan_region(
    geometry: Geometry | None, image: Image, proj: Projection, *, what: str
) -> RegionPlan:
    """The window and geometry of a region reduction (None = the image's footprint)."""
    import shapely.geometry

    if geometry is None:
        extent = image.bands[0].extent if image.bands else None
        if extent is None:
            raise EEError(
                f"{what}: the image has no footprint (it is a composite or a constant); "
                "give a geometry."
            )
        offset = Grid(extent.projection, (1, 1)).offset_in(proj)
        if offset is not None:
            row, col = offset
            return RegionPlan(Grid(proj, (0, 0)).window(row, col, *extent.shape), None)
        xmin, ymin, xmax, ymax = extent.bounds()
        geometry = Geometry(shapely.geometry.box(xmin, ymin, xmax, ymax), extent.crs)
    shape = geometry.in_crs(proj.crs)
    if shape.is_empty:
        return RegionPlan(Grid(proj, (0, 0)), None)
    local = Geometry(shape, proj.crs, geodesic=geometry.geodesic)
    return RegionPlan(_window(shape.bounds, proj), local)


def too_many_pixels(what: str, found: int, allowed: int) -> EEError:
    """Earth Engine's error for a region with more pixels than ``maxPixels``."""
    return EEError(
        f"{what}: Too many pixels in the region. Found {found}, but maxPixels allows only "
        f"{allowed}.\n\nEnsure that you are not aggregating at a higher resolution than you "
        "intended; that is a frequent cause of this error. If not, then you may set the "
        "'maxPixels' argument to a limit suitable for your computation; set 'bestEffort' to "
        "true to aggregate at whatever scale results in 'maxPixels' total pixels; or both."
    )
