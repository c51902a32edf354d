"""The pixel grid of a run: CRS, affine transform and shape, passed to every reduction.

Composites (a collection reduced to an image) have no fixed projection on Earth Engine, so
every reduction, pull and export of the method gives the analysis grid's ``crs`` and
``crsTransform`` explicitly. A :class:`GridSpec` is that grid as one value.

Earth Engine names some projections by codes PROJ does not know: MODIS's sinusoidal grid is
``SR-ORG:6974``. :func:`resolve_crs` asks Earth Engine for the WKT of such a code
(``ee.Projection(code).wkt()``) and keeps it in the grid (:attr:`GridSpec.wkt`), so bounds,
cell areas and output files use it (:meth:`GridSpec.pyproj_crs`). Earth Engine's WKT for
``SR-ORG:6974`` puts ``PARAMETER["semi_major", 6371007.181]`` and ``["semi_minor", …]``
inside the ``PROJCS`` of a WGS84 ``GEOGCS``; Earth Engine projects on that sphere, while
PROJ would silently ignore the two parameters and use the WGS84 ellipsoid (about 20 km off at
40° N). :meth:`GridSpec.pyproj_crs` reads them the way Earth Engine does.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["METERS_PER_DEGREE", "GridSpec", "crs_from_earth_engine", "resolve_crs"]

#: Earth Engine's metres per degree (a geographic CRS's nominal scale at the equator).
METERS_PER_DEGREE = 2 * math.pi * 6378137.0 / 360.0

_AXIS_PARAM = re.compile(
    r'PARAMETER\s*\[\s*"semi_(major|minor)"\s*,\s*([-+0-9.eE]+)\s*\]', re.IGNORECASE
)
_WKT_START = ("PROJCS", "GEOGCS", "PROJCRS", "GEOGCRS", "COMPD", "GEOCCS", "BOUNDCRS")


def crs_from_earth_engine(crs: str, wkt: str | None = None) -> Any:
    """The ``pyproj.CRS`` of an Earth Engine CRS (a code, or WKT as Earth Engine gives it).

    A WKT1 ``PROJCS`` with ``semi_major``/``semi_minor`` parameters is put on the ellipsoid
    of those axes (Earth Engine's reading; PROJ would keep the ``GEOGCS`` ellipsoid).

    Raises
    ------
    ValueError
        PROJ does not know the code and no WKT is given.
    """
    import pyproj

    source = wkt or crs
    try:
        found = pyproj.CRS.from_user_input(source)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(
            f"The CRS '{crs}' is unknown to PROJ; resolve it through Earth Engine "
            "(gee_cscc.method.grid.resolve_crs) to get its WKT."
        ) from exc
    text = source.lstrip()
    axes = {m.group(1).lower(): float(m.group(2)) for m in _AXIS_PARAM.finditer(text)}
    if text.upper().startswith("PROJCS") and "major" in axes and found.is_projected:
        with warnings.catch_warnings():  # to_dict warns that a PROJ string drops details
            warnings.simplefilter("ignore", UserWarning)
            params = found.to_dict()
        params = {k: v for k, v in params.items() if k not in ("datum", "ellps", "towgs84", "R")}
        params.update(a=axes["major"], b=axes.get("minor", axes["major"]))
        found = pyproj.CRS.from_dict(params)
    return found


def _proj_knows(crs: str) -> bool:
    import pyproj

    try:
        pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        return False
    return True


def resolve_crs(grid: GridSpec) -> GridSpec:
    """The grid with the WKT of its CRS from Earth Engine when PROJ does not know the code.

    One ``getInfo`` of ``ee.Projection(crs).wkt()``, only for such codes (``SR-ORG:6974``);
    other grids are returned as they are.
    """
    if grid.wkt is not None or grid.crs.lstrip().upper().startswith(_WKT_START):
        return grid
    if _proj_knows(grid.crs):
        return grid
    import ee

    return replace(grid, wkt=str(ee.Projection(grid.crs).wkt().getInfo()))


@dataclass(frozen=True)
class GridSpec:
    """A pixel grid.

    Attributes
    ----------
    crs
        CRS code, e.g. ``"EPSG:4326"``.
    transform
        ``(xScale, xShearing, xTranslation, yShearing, yScale, yTranslation)`` in CRS units
        (degrees or metres), Earth Engine's ``crsTransform``.
    shape
        ``(height, width)`` in pixels.
    wkt
        The CRS as Earth Engine's WKT, for a code PROJ does not know (``SR-ORG:6974``);
        None otherwise (see :func:`resolve_crs`).
    """

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    wkt: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "transform", tuple(float(v) for v in self.transform))
        object.__setattr__(self, "shape", (int(self.shape[0]), int(self.shape[1])))

    @classmethod
    def from_band_info(cls, info: dict) -> GridSpec:
        """From a band of ``ee.Image.getInfo()`` (``crs``, ``crs_transform``, ``dimensions``)."""
        width, height = info["dimensions"]
        return cls(info["crs"], tuple(info["crs_transform"]), (height, width))

    @classmethod
    def from_dataarray(cls, da: Any) -> GridSpec:
        """The grid of a DataArray's ``(y, x)`` pixels, north up.

        Uses the ``transform`` attribute (Earth Engine's 6-number affine) when present,
        else the evenly spaced cell-centre ``x``/``y`` coordinates (at least two along each
        axis); the CRS is the ``crs`` attribute, ``EPSG:4326`` when absent.

        Raises
        ------
        ValueError
            A one-pixel-wide axis without a ``transform`` attribute.
        """
        import numpy as np

        crs = str(da.attrs.get("crs", "EPSG:4326"))
        shape = (int(da.sizes["y"]), int(da.sizes["x"]))
        transform = da.attrs.get("transform")
        if transform is None:
            xs = np.asarray(da["x"].values, dtype=float)
            ys = np.asarray(da["y"].values, dtype=float)
            if len(xs) < 2 or len(ys) < 2:
                raise ValueError(
                    "the grid of a one-pixel-wide array needs a 'transform' attribute "
                    f"(got {shape[1]} x {shape[0]} px)"
                )
            dx = (xs[-1] - xs[0]) / (len(xs) - 1)
            dy = abs(ys[-1] - ys[0]) / (len(ys) - 1)
            transform = (
                float(round(dx, 12)),
                0.0,
                float(round(xs.min() - abs(dx) / 2, 9)),
                0.0,
                -float(round(dy, 12)),
                float(round(ys.max() + dy / 2, 9)),
            )
        return cls(crs, tuple(transform), shape)

    def pyproj_crs(self) -> Any:
        """The grid's ``pyproj.CRS`` (from :attr:`wkt` when set, read as Earth Engine does)."""
        return crs_from_earth_engine(self.crs, self.wkt)

    def nominal_scale(self) -> float:
        """The pixel size in metres, Earth Engine's ``nominalScale``: the square root of a
        pixel's area in CRS units, × :data:`METERS_PER_DEGREE` for a geographic CRS."""
        a, b, _, d, e, _ = self.transform
        size = math.sqrt(abs(a * e - b * d))
        return size * METERS_PER_DEGREE if self.pyproj_crs().is_geographic else size

    def file_crs_wkt(self) -> str:
        """The CRS as WKT for output files (GeoTIFF, NetCDF): the EPSG code's, or the full
        definition of :meth:`pyproj_crs` (the MODIS sphere for ``SR-ORG:6974``)."""
        return self.pyproj_crs().to_wkt()

    def compute_pixels_grid(self) -> dict:
        """The grid as the ``grid`` field of a ``computePixels`` request (``PixelGrid``)."""
        a, b, c, d, e, f = self.transform
        return {
            "dimensions": {"width": self.width, "height": self.height},
            "affineTransform": {
                "scaleX": a,
                "shearX": b,
                "translateX": c,
                "shearY": d,
                "scaleY": e,
                "translateY": f,
            },
            "crsCode": self.crs,
        }

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def shape_2d(self) -> tuple[int, int]:
        """``(width, height)``, the order ``xee`` takes."""
        return (self.width, self.height)

    @property
    def n_pixels(self) -> int:
        return self.width * self.height

    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the grid's outer edges, in CRS units."""
        a, b, c, d, e, f = self.transform
        xs = [
            c + a * col + b * row
            for col, row in ((0, 0), (self.width, 0), (0, self.height), (self.width, self.height))
        ]
        ys = [
            f + d * col + e * row
            for col, row in ((0, 0), (self.width, 0), (0, self.height), (self.width, self.height))
        ]
        return min(xs), min(ys), max(xs), max(ys)

    def region(self) -> Any:
        """The grid's extent as a planar ``ee.Geometry`` rectangle in the grid's CRS."""
        import ee

        xmin, ymin, xmax, ymax = self.bounds()
        return ee.Geometry.Rectangle([xmin, ymin, xmax, ymax], self.crs, False)

    def reduce_args(self) -> dict:
        """``crs`` and ``crsTransform`` keyword arguments for ``reduceRegion(s)``."""
        return {"crs": self.crs, "crsTransform": list(self.transform)}

    def xee_args(self) -> dict:
        """``crs``, ``crs_transform`` and ``shape_2d`` keyword arguments for ``xee``."""
        return {"crs": self.crs, "crs_transform": self.transform, "shape_2d": self.shape_2d}

    def cell_centres(self) -> tuple[Any, Any]:
        """The x (columns) and y (rows) cell-centre coordinates of an axis-aligned grid."""
        import numpy as np

        a, b, c, d, e, f = self.transform
        if b or d:
            raise ValueError("cell_centres needs an axis-aligned grid.")
        return c + a * (np.arange(self.width) + 0.5), f + e * (np.arange(self.height) + 0.5)

    def describe(self) -> str:
        a, _, c, _, e, f = self.transform
        return (
            f"{self.crs} {self.width}x{self.height} px of {abs(a):g}x{abs(e):g} at ({c:g}, {f:g})"
        )

    def same_as(self, other: GridSpec, *, rtol: float = 1e-9) -> bool:
        return (
            self.crs == other.crs
            and self.shape == other.shape
            and all(
                math.isclose(u, v, rel_tol=rtol, abs_tol=1e-12)
                for u, v in zip(self.transform, other.transform, strict=True)
            )
        )

    def crop(self, bounds: tuple[float, float, float, float]) -> GridSpec:
        """The part of the grid whose pixels meet ``(xmin, ymin, xmax, ymax)`` (CRS units).

        The cropped grid keeps the pixel alignment (same scale, origin moved by whole
        pixels). Raises ValueError for a sheared grid or bounds outside the grid.
        """
        if self.transform[1] or self.transform[3]:
            raise ValueError("crop needs an axis-aligned grid.")
        r0, r1, c0, c1 = self.lattice_span(bounds)
        r0, r1 = max(0, r0), min(self.height, r1)
        c0, c1 = max(0, c0), min(self.width, c1)
        if c1 <= c0 or r1 <= r0:
            raise ValueError(f"The bounds {bounds} do not meet the grid {self.describe()}.")
        return self.shifted(r0, r1, c0, c1)

    def lattice_span(self, bounds: tuple[float, ...]) -> tuple[int, int, int, int]:
        """``(r0, r1, c0, c1)``: the rows ``r0:r1`` and columns ``c0:c1`` of this grid's
        pixel lattice (indices may fall outside the grid) whose pixels meet ``(xmin, ymin,
        xmax, ymax)`` (CRS units; a pixel merely touched at its edge does not count). For an
        axis-aligned grid (``transform[1] == transform[3] == 0``)."""
        a, _, c, _, e, f = self.transform
        xmin, ymin, xmax, ymax = bounds
        cols = sorted(((xmin - c) / a, (xmax - c) / a))
        rows = sorted(((ymin - f) / e, (ymax - f) / e))
        eps = 1e-9
        c0, c1 = math.floor(cols[0] + eps), math.ceil(cols[1] - eps)
        r0, r1 = math.floor(rows[0] + eps), math.ceil(rows[1] - eps)
        return r0, r1, c0, c1

    def shifted(self, r0: int, r1: int, c0: int, c1: int) -> GridSpec:
        """The grid of rows ``r0:r1`` and columns ``c0:c1`` of this grid's (axis-aligned)
        pixel lattice: same CRS and scale, origin moved by whole pixels."""
        a, _, c, _, e, f = self.transform
        t = (a, 0.0, c + a * c0, 0.0, e, f + e * r0)
        return GridSpec(self.crs, t, (r1 - r0, c1 - c0), self.wkt)

    def to_dict(self) -> dict:
        """``crs``, ``crs_transform``, ``shape``; for a grid that carries Earth Engine's WKT
        also ``wkt`` (as Earth Engine gave it) and ``crs_wkt`` (the same CRS as WKT that
        PROJ/GDAL read right: what output files are written with)."""
        out = {"crs": self.crs, "crs_transform": list(self.transform), "shape": list(self.shape)}
        if self.wkt is not None:
            out["wkt"] = self.wkt
            out["crs_wkt"] = self.file_crs_wkt()
        return out
