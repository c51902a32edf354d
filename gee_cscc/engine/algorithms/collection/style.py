"""``Collection.style``: a FeatureCollection drawn as an RGB image (binary masks, opaque fills)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.registry import algorithm
from ...core.values import Image
from ...errors import EEError
from .collection import element_geometries

# --- style ---


def _rgba(color: str, what: str) -> tuple[int, int, int, int]:
    """RGBA from a CSS name or hex ``RRGGBB`` / ``RRGGBBAA`` (alpha 255 when not given)."""
    import re

    from ..image.visualize import parse_color

    text = color.strip().lstrip("#").lower()
    if re.fullmatch(r"[0-9a-f]{8}", text):
        return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4, 6))  # type: ignore[return-value]
    try:
        return (*parse_color(color), 255)
    except EEError:
        raise EEError(f"{what}: Invalid color '{color}'.") from None


@algorithm("Collection.style")
def collection_style(
    collection: Any,
    color: Any = "black",
    pointSize: Any = 3,  # noqa: N803
    pointShape: Any = "circle",  # noqa: N803
    width: Any = 2,
    fillColor: Any = None,  # noqa: N803
    styleProperty: Any = None,  # noqa: N803
    neighborhood: Any = 5,
    lineType: Any = "solid",  # noqa: N803
) -> Image:
    """Draw a collection as an RGB image: polygons filled with ``fillColor`` (default:
    ``color`` at 0.66 opacity), outlines and lines ``width`` pixels wide in ``color``,
    points as discs of ``pointSize`` pixels. Pixels are drawn by the pixel-centre rule
    at whatever grid the image is computed on; a fully transparent colour draws nothing.
    ``styleProperty`` and line types other than solid are not supported.
    """
    import shapely

    from ...core.values import Band, Geometry
    from ...raster.rasterize import centre_mask
    from ...raster.reduction import shared_outputs

    what = "Collection.style"
    if styleProperty is not None:
        raise EEError(f"{what}: styleProperty is not implemented by the local engine.")
    if lineType != "solid":
        raise EEError(f"{what}: lineType '{lineType}' is not implemented by the local engine.")
    line = _rgba(color, what)
    fill = _rgba(fillColor, what) if fillColor is not None else (*line[:3], round(0.66 * 255))
    geoms = element_geometries(collection, what)
    shapes = [g.in_crs("EPSG:4326") for g in geoms]
    polys = [s for s in shapes if s.geom_type in ("Polygon", "MultiPolygon")]
    lines = [s.boundary for s in polys] + [
        s for s in shapes if s.geom_type in ("LineString", "MultiLineString")
    ]
    points = [s for s in shapes if s.geom_type in ("Point", "MultiPoint")]
    area = shapely.union_all(polys) if polys else None
    edges = shapely.union_all(lines) if lines else None
    dots = shapely.union_all(points) if points else None

    def strokes(shape: Any, grid: Any, size_px: float) -> np.ndarray:
        """Pixels within ``size_px / 2`` pixels of ``shape``, drawn in the grid's CRS."""
        a, _, _, _, e, _ = grid.transform
        pixel = (abs(a) + abs(e)) / 2
        local = Geometry(shape).in_crs(grid.crs).simplify(pixel / 4)
        return centre_mask(Geometry(local.buffer(max(size_px, 1.0) * pixel / 2), grid.crs), grid)

    def layers(grid: Any) -> tuple[np.ndarray, np.ndarray]:
        filled = np.zeros(grid.shape, dtype=bool)
        drawn = np.zeros(grid.shape, dtype=bool)
        if area is not None and fill[3] > 0:
            filled = centre_mask(Geometry(area), grid)
        if edges is not None and line[3] > 0 and float(width) > 0:
            drawn |= strokes(edges, grid, float(width))
        if dots is not None and line[3] > 0:
            drawn |= strokes(dots, grid, float(pointSize))
        return filled, drawn

    def rgb(grid: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        filled, drawn = layers(grid)
        valid = drawn | filled
        return [
            (np.where(drawn, line[i], np.where(filled, fill[i], 0)).astype(float), valid)
            for i in range(3)
        ]

    channel = shared_outputs(rgb)  # the geometry is rasterized once per grid

    names = ("vis-red", "vis-green", "vis-blue")
    return Image([Band(n, channel(i), dtype="uint8") for i, n in enumerate(names)])
