"""Projections and pixel grids of the local engine.

A :class:`Projection` is Earth Engine's (crs, crsTransform) pair; a :class:`Grid` is a
projection plus a shape: the pixels a computation produces. Transforms are the six affine
coefficients Earth Engine uses, ``[xScale, xShearing, xTranslation, yShearing, yScale,
yTranslation]`` (the order of ``affine.Affine``): ``x = a*col + b*row + c`` and
``y = d*col + e*row + f`` at a pixel's corner.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import EEError

__all__ = ["Projection", "Grid", "DEFAULT_PROJECTION", "KEY_DIGITS", "METERS_PER_DEGREE"]

#: Earth Engine's nominal metres per degree at the equator (WGS84 semi-major axis).
METERS_PER_DEGREE = 2 * math.pi * 6378137.0 / 360.0


def normalize_crs(crs: str) -> str:
    """Return a canonical CRS code (``EPSG:4326`` for every spelling of WGS84 lon/lat)."""
    if not isinstance(crs, str) or not crs:
        raise EEError(f"Invalid CRS: {crs!r}.")
    text = crs.strip()
    upper = text.upper()
    if upper in ("EPSG:4326", "WGS84", "CRS:84", "OGC:CRS84"):
        return "EPSG:4326"
    if upper.startswith("EPSG:") or re.fullmatch(r"[A-Z][A-Z-]*:\d+", upper):
        return upper
    return text


@functools.lru_cache(maxsize=64)
def _is_geographic(crs: str) -> bool:
    if crs == "EPSG:4326":
        return True
    from .crs import pyproj_crs

    return bool(pyproj_crs(crs).is_geographic)


@dataclass(frozen=True)
class Projection:
    """A coordinate reference system and the affine transform of its pixels.

    Attributes
    ----------
    crs
        The CRS code, e.g. ``"EPSG:4326"``.
    transform
        ``(a, b, c, d, e, f)``; units of the CRS (degrees or metres).
    """

    crs: str
    transform: tuple[float, float, float, float, float, float] = (
        1.0,
        0.0,
        0.0,
        0.0,
        1.0,
        0.0,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "crs", normalize_crs(self.crs))
        t = tuple(float(v) for v in self.transform)
        if len(t) != 6:
            raise EEError(f"A crsTransform has 6 numbers, got {len(t)}.")
        object.__setattr__(self, "transform", t)

    @property
    def is_geographic(self) -> bool:
        return _is_geographic(self.crs)

    @property
    def nominal_scale(self) -> float:
        """The nominal pixel size in metres (Earth Engine's ``nominalScale``)."""
        a, b, _, d, e, _ = self.transform
        size = math.sqrt(abs(a * e - b * d))
        return size * METERS_PER_DEGREE if self.is_geographic else size

    def is_axis_aligned(self) -> bool:
        return self.transform[1] == 0.0 and self.transform[3] == 0.0

    def same_scale(self, other: Projection, *, rtol: float = 1e-9) -> bool:
        """Whether two projections share CRS and pixel size (not necessarily origin)."""
        if self.crs != other.crs:
            return False
        a1, b1, _, d1, e1, _ = self.transform
        a2, b2, _, d2, e2, _ = other.transform
        return all(
            math.isclose(u, v, rel_tol=rtol, abs_tol=1e-12)
            for u, v in ((a1, a2), (b1, b2), (d1, d2), (e1, e2))
        )

    def with_scale(self, scale_m: float) -> Projection:
        """This CRS with square pixels of ``scale_m`` metres (degrees for geographic CRSs)."""
        size = scale_m / METERS_PER_DEGREE if self.is_geographic else scale_m
        return Projection(self.crs, (size, 0.0, 0.0, 0.0, -size, 0.0))

    def info(self) -> dict:
        """The ``getInfo`` form of the projection."""
        return {
            "type": "Projection",
            "crs": self.crs,
            "transform": list(self.transform),
        }


#: The projection of images without a fixed one (constants, composites): WGS84 at 1 degree.
DEFAULT_PROJECTION = Projection("EPSG:4326", (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))


#: Decimals of a transform's numbers in a grid's key (degrees: 1e-9 is 0.1 mm; metres: a
#: nanometre): grids closer than that are the same pixels.
KEY_DIGITS = 9


@dataclass(frozen=True)
class Grid:
    """The pixels of a computation: a projection and a ``(height, width)`` shape."""

    projection: Projection
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        h, w = (int(v) for v in self.shape)
        if h < 0 or w < 0:
            raise EEError(f"Invalid grid dimensions {w}x{h}.")
        object.__setattr__(self, "shape", (h, w))
        # The key rounds the transform to KEY_DIGITS decimals: one grid reached by two
        # float paths (a strip's tile, the same tile re-derived from the native grid:
        # 34.40000000000001 against 34.400000000000006) is one grid to the pixel caches,
        # whose release plans count lookups on the tile's key. Unrounded, a batch export's
        # tiles released nothing and held about 800 MiB each at 0.025°.
        t = tuple(round(v, KEY_DIGITS) + 0.0 for v in self.projection.transform)
        object.__setattr__(self, "_key", (self.projection.crs, t, (h, w)))

    @property
    def crs(self) -> str:
        return self.projection.crs

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        return self.projection.transform

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def key(self) -> tuple:
        """What identifies the grid's pixels: CRS, transform (to :data:`KEY_DIGITS`
        decimals) and shape."""
        return self._key  # type: ignore[attr-defined]

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """The x and y coordinates of every pixel centre, each of shape ``(h, w)``."""
        a, b, c, d, e, f = self.transform
        cols = np.arange(self.width) + 0.5
        rows = np.arange(self.height) + 0.5
        if b == 0.0 and d == 0.0:
            xs = c + a * cols
            ys = f + e * rows
            return np.broadcast_to(xs, self.shape), np.broadcast_to(ys[:, None], self.shape)
        cc, rr = np.meshgrid(cols, rows)
        return c + a * cc + b * rr, f + d * cc + e * rr

    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the grid's outer edges in its CRS."""
        a, b, c, d, e, f = self.transform
        xs, ys = [], []
        for col, row in (
            (0, 0),
            (self.width, 0),
            (0, self.height),
            (self.width, self.height),
        ):
            xs.append(c + a * col + b * row)
            ys.append(f + d * col + e * row)
        return min(xs), min(ys), max(xs), max(ys)

    def window(self, row0: int, col0: int, height: int, width: int) -> Grid:
        """The sub-grid starting at pixel ``(row0, col0)``."""
        a, b, c, d, e, f = self.transform
        t = (a, b, c + a * col0 + b * row0, d, e, f + d * col0 + e * row0)
        return Grid(Projection(self.crs, t), (height, width))

    def tiles(self, tile: int = 512, width: int | None = None):
        """Yield ``(row0, col0, sub_grid)`` tiles covering the grid, row-major: ``tile``
        rows high and ``width`` (default ``tile``) columns wide."""
        across = tile if width is None else width
        for r in range(0, self.height, tile):
            for c in range(0, self.width, across):
                h = min(tile, self.height - r)
                w = min(across, self.width - c)
                yield r, c, self.window(r, c, h, w)

    def offset_in(self, native: Projection) -> tuple[int, int] | None:
        """The integer ``(row, col)`` of this grid's origin in a same-scale native projection.

        Returns None when the grid is not pixel-aligned with ``native``.
        """
        if not self.projection.same_scale(native) or not native.is_axis_aligned():
            return None
        a, _, c0, _, e, f0 = native.transform
        _, _, c, _, _, f = self.transform
        col = (c - c0) / a
        row = (f - f0) / e
        rc, rr = round(col), round(row)
        if abs(col - rc) > 1e-6 or abs(row - rr) > 1e-6:
            return None
        return int(rr), int(rc)

    def info(self) -> dict:
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
