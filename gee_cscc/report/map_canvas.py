"""Map panels: raster layers north up over the VCA, region outlines and labels, legends.

Maps are drawn on the rasters' own x/y coordinates (cell edges from the cell-centre
coordinates), north up, over the vegetation-covered area (VCA) only; land outside the VCA is
light grey. Region outlines and labels come from a GeoJSON ``FeatureCollection`` whose
features carry the region name in the property ``config.region_property``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter
from shapely.geometry import shape
from shapely.geometry.polygon import orient

from gee_cscc.report.map_marks import north_arrow, scale_bar, south_china_sea_inset
from gee_cscc.report.map_preview import MapGrid, pixel_step
from gee_cscc.report.style import OUTSIDE_VCA_COLOUR, FigureContext, Province, plain_text

# --------------------------------------------------------------------------- inputs


def province_outlines(geojson: dict | None, prop: str) -> list[Province]:
    if not geojson:
        return []
    out = []
    for feature in geojson.get("features", []):
        geometry = feature.get("geometry")
        props = feature.get("properties") or {}
        if not geometry:
            continue
        geom = shape(geometry)
        polygons = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
        polygons = [orient(p, 1.0) for p in polygons if not p.is_empty]
        if not polygons:
            continue
        rings = [np.asarray(r.coords) for p in polygons for r in (p.exterior, *p.interiors)]
        path = MplPath.make_compound_path(*(MplPath(r, closed=True) for r in rings))
        point = max(polygons, key=lambda p: p.area).representative_point()
        name = props.get(prop, props.get("abbr", props.get("name", "")))
        size = float(sum(p.area for p in polygons))
        out.append(Province(str(name), rings, path, (point.x, point.y), size))
    return out


#: The widest map panel of the figures, inches (a single map; panels side by side are narrower).
MAX_PANEL_WIDTH_IN = 7.5


def map_pixels(extent: tuple[float, float, float, float], dpi: float) -> tuple[float, float]:
    """Width and height in pixels of the largest map of ``extent`` at ``dpi``: at most
    :data:`MAX_PANEL_WIDTH_IN` wide (the axes within a panel are narrower), its height
    from the map's aspect."""
    width = MAX_PANEL_WIDTH_IN * dpi
    span_x = max(extent[1] - extent[0], 1e-12)
    return width, width * (extent[3] - extent[2]) * _aspect(extent) / span_x


def map_grid(rasters: xr.Dataset, dpi: float | None = None) -> MapGrid | None:
    """The preview grid of the run's maps (from ``cscc``, ``vca`` or ``region``), or None.

    With ``dpi``, blocks are as large as the largest map's pixels at that dpi allow
    (:func:`gee_cscc.report.map_preview.pixel_step`): a preview cell never covers more
    than one pixel of the file, and the preview is no larger than the map needs.
    """
    base = next((rasters[v] for v in ("cscc", "vca", "region") if v in rasters), None)
    if base is None:
        return None
    grid = MapGrid.of(base)
    if dpi:
        step = pixel_step(*grid.shape, *map_pixels(grid.extent, dpi))
        if step > grid.step:
            grid = MapGrid.of(base, step=step)
    return grid


def outside_vca(rasters: xr.Dataset, grid: MapGrid | None) -> np.ndarray | None:
    """Preview cells inside some region (region id > 0) but outside the VCA, or None."""
    if grid is None or "vca" not in rasters or "region" not in rasters:
        return None
    vca, region = grid.centre(rasters["vca"]), grid.centre(rasters["region"])
    with np.errstate(invalid="ignore"):
        outside = (region > 0) & (vca != 1)
    return outside if outside.any() else None


def _grid_of(ctx: FigureContext, da: xr.DataArray) -> MapGrid:
    grid = ctx.grid
    return grid if grid is not None and grid.shape == tuple(da.shape[-2:]) else MapGrid.of(da)


def vca_masked_layer(ctx: FigureContext, da: xr.DataArray, *, classes: bool = False) -> np.ndarray:
    """A 2-D layer's north-up preview (float32), NaN outside the VCA.

    Continuous layers are block means of their VCA cells; ``classes=True`` (classes, counts,
    years) takes each block's centre cell instead. At most 2 M cells (see
    :mod:`gee_cscc.report.map_preview`); below that the layer's own cells.
    """
    grid = _grid_of(ctx, da)
    mask = ctx.vca if ctx.vca is not None and ctx.vca.shape == da.shape else None
    return grid.centre(da, mask) if classes else grid.mean(da, mask)


def limit_sample(ctx: FigureContext, da: xr.DataArray, preview: np.ndarray) -> np.ndarray:
    """Cells whose percentiles set the colour limits: the grid's own cells, not block means."""
    grid = _grid_of(ctx, da)
    if grid.step == 1:
        return preview
    mask = ctx.vca if ctx.vca is not None and ctx.vca.shape == da.shape else None
    return grid.centre(da, mask)


def colour_limits(values: np.ndarray, *, symmetric: bool = False) -> tuple[float, float]:
    """Colour limits from the 2nd–98th percentiles of the finite values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (-1.0, 1.0) if symmetric else (0.0, 1.0)
    if symmetric:
        v = float(np.percentile(np.abs(finite), 98)) or float(np.abs(finite).max()) or 1.0
        return -v, v
    lo, hi = (float(v) for v in np.percentile(finite, [2, 98]))
    if lo >= 0 and float(finite.min()) >= 0:
        lo = 0.0
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


# --------------------------------------------------------------------------- map helpers


def _is_geographic(extent: tuple[float, float, float, float]) -> bool:
    return -180.5 <= extent[0] and extent[1] <= 360.5 and -90.5 <= extent[2] and extent[3] <= 90.5


def _aspect(extent: tuple[float, float, float, float]) -> float:
    if not _is_geographic(extent):
        return 1.0
    mid = math.radians((extent[2] + extent[3]) / 2)
    return 1.0 / max(math.cos(mid), 0.2)


def map_figure(ctx: FigureContext, n: int, *, panel_width: float) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` map panels (at most 3 a row); :func:`finish_figure` trims its height."""
    extent = ctx.extent or (0.0, 1.0, 0.0, 1.0)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    ratio = (extent[3] - extent[2]) * _aspect(extent) / max(extent[1] - extent[0], 1e-9)
    height = min(max(panel_width * ratio, 2.0), 9.0)
    fig = Figure(figsize=(panel_width * ncols + 1.6, height * nrows + 1.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _label_spots(
    provinces: Sequence[Province],
    extent: tuple[float, float, float, float],
    width_in: float,
    size_pt: float,
) -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """Where each province label goes: its representative point, or nearby if that is taken.

    Larger provinces are placed first; a label whose box (estimated from the font size and
    the axes width in inches) would overlap one already placed moves right, left, down or up.
    """
    per_in_x = (extent[1] - extent[0]) / max(width_in, 0.5)
    per_in_y = per_in_x / _aspect(extent)
    char_w, height = 0.62 * size_pt / 72 * per_in_x, 1.25 * size_pt / 72 * per_in_y
    placed: list[tuple[float, float, float, float]] = []
    spots = []
    for p in sorted(provinces, key=lambda p: -p.size):
        x, y = p.label_at
        if not (extent[0] <= x <= extent[1] and extent[2] <= y <= extent[3]):
            continue
        half = char_w * max(len(p.name), 1) / 2
        moves = [(0.0, 0.0)]
        for k in (1.0, 2.0, 3.0):
            moves += [
                (k * (half + char_w), 0),
                (-k * (half + char_w), 0),
                (0, -k * height),
                (0, k * height),
                (k * (half + char_w), -k * height),
                (-k * (half + char_w), -k * height),
            ]
        for dx, dy in moves:
            box = (x + dx - half, x + dx + half, y + dy - height / 2, y + dy + height / 2)
            if not any(
                b[0] < box[1] and box[0] < b[1] and b[2] < box[3] and box[2] < b[3] for b in placed
            ):
                break
        else:
            dx, dy = 0.0, 0.0
        placed.append(box)
        spots.append((p.name, (x, y), (x + dx, y + dy)))
    return spots


def decorate_map(ax: Axes, ctx: FigureContext, *, label_size: float, width: float) -> None:
    """Outlines, labels, the grey of land outside the VCA, axes in degrees, and the marks of
    :mod:`gee_cscc.report.map_marks` (scale bar, north arrow, South China Sea inset)."""
    extent = ctx.extent or (0.0, 1.0, 0.0, 1.0)
    if ctx.outside is not None:  # region land outside the VCA, light grey beneath the data
        outside = np.ma.masked_where(~ctx.outside, np.ones(ctx.outside.shape, np.float32))
        ax.imshow(
            outside,
            extent=ctx.grid.image_extent if ctx.grid is not None else extent,
            origin="upper",
            cmap=ListedColormap([OUTSIDE_VCA_COLOUR]),
            norm=Normalize(0, 2),
            interpolation="nearest",
            interpolation_stage="data",  # colour the drawn pixels, not every cell
            zorder=0,
        )
        ax.text(
            0.01,
            0.01,
            "grey: outside the VCA",
            transform=ax.transAxes,
            fontsize=6.5,
            color="#555555",
            ha="left",
            va="bottom",
            zorder=6,
            in_layout=False,
        )
    if ctx.provinces:
        lines = LineCollection(
            [r for p in ctx.provinces for r in p.rings], colors="#3a3a3a", linewidths=0.35, zorder=3
        )
        ax.add_collection(lines)
        halo = [patheffects.withStroke(linewidth=1.6, foreground="white")]
        for name, (x, y), (lx, ly) in _label_spots(ctx.provinces, extent, width, label_size):
            if (lx, ly) != (x, y):  # moved off a crowded spot: a leader line to the province
                ax.plot([x, lx], [y, ly], color="#404040", lw=0.4, zorder=4, in_layout=False)
            ax.text(
                lx,
                ly,
                plain_text(name),
                fontsize=label_size,
                ha="center",
                va="center",
                color="#202020",
                path_effects=halo,
                zorder=5,
                clip_on=True,
                in_layout=False,
            )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect(_aspect(extent))
    if _is_geographic(extent):
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{abs(v):g}°{'E' if v >= 0 else 'W'}")
        )
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{abs(v):g}°{'N' if v >= 0 else 'S'}")
        )
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    else:
        ax.set_xlabel("x (grid units)")
        ax.set_ylabel("y (grid units)")
    ax.tick_params(labelsize=7)
    small = width < 5.0
    scale_bar(ax, extent, fontsize=5.5 if small else 7.0)
    north_arrow(ax, size=7.0 if small else 9.0)
    south_china_sea_inset(ax, [r for p in ctx.provinces for r in p.rings], ctx.extent)


def show_layer(
    ax: Axes,
    ctx: FigureContext,
    values: np.ndarray,
    cmap: Colormap,
    norm: Normalize,
    *,
    label_size: float = 6.0,
    width: float = 6.5,
) -> AxesImage:
    image = ax.imshow(
        np.ma.masked_invalid(values),
        extent=ctx.grid.image_extent if ctx.grid is not None else ctx.extent,
        origin="upper",
        cmap=cmap,
        norm=norm,
        interpolation="nearest",
        interpolation_stage="data",  # colour the drawn pixels, not every cell
        zorder=1,
    )
    decorate_map(ax, ctx, label_size=label_size, width=width)
    if not np.isfinite(values).any():
        ax.text(
            0.5,
            0.5,
            "no data in the vegetation-covered area",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="#555555",
            zorder=5,
        )
    return image


def legend_boxes(entries: Sequence[tuple[str, str]]) -> list[Patch]:
    """Legend handles: one coloured box per (label, colour)."""
    return [
        Patch(facecolor=colour, edgecolor="#555555", linewidth=0.4, label=label)
        for label, colour in entries
    ]


def category_legend(
    ax: Axes, entries: Sequence[tuple[str, str]], title: str, *, extra: Sequence[Patch] = ()
) -> None:
    """A legend of coloured boxes (label, colour) and extra handles to the right of a map."""
    handles = legend_boxes(entries) + list(extra)
    ax.legend(
        handles=handles,
        title=title,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=7.5,
        title_fontsize=8,
        frameon=False,
        alignment="left",
    )
