"""The pixel grid of a run: CRS, affine transform and shape, passed to every reduction.

Composites (a collection reduced to an image) have no fixed projection on Earth Engine, so
every reduction, pull and export of the method gives the input's ``crs`` and
``crsTransform`` explicitly. A :class:`GridSpec` is that grid as one value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["GridSpec"]


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
    """

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]

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
        a, b, c, d, e, f = self.transform
        if b or d:
            raise ValueError("crop needs an axis-aligned grid.")
        xmin, ymin, xmax, ymax = bounds
        cols = sorted(((xmin - c) / a, (xmax - c) / a))
        rows = sorted(((ymin - f) / e, (ymax - f) / e))
        eps = 1e-9
        c0 = max(0, math.floor(cols[0] + eps))
        c1 = min(self.width, math.ceil(cols[1] - eps))
        r0 = max(0, math.floor(rows[0] + eps))
        r1 = min(self.height, math.ceil(rows[1] - eps))
        if c1 <= c0 or r1 <= r0:
            raise ValueError(f"The bounds {bounds} do not meet the grid {self.describe()}.")
        return GridSpec(self.crs, (a, 0.0, c + a * c0, 0.0, e, f + e * r0), (r1 - r0, c1 - c0))

    def to_dict(self) -> dict:
        return {"crs": self.crs, "crs_transform": list(self.transform), "shape": list(self.shape)}
