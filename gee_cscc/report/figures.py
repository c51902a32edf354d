"""PNG figures of one run: the maps and curves of the paper (METHOD.md §6).

:func:`make_figures` turns a :class:`gee_cscc.analysis.Results` into PNG files in a folder and
returns their paths by name; :func:`figure_captions` gives a one-sentence caption for each
name (the HTML report uses both). Maps are drawn on the rasters' own x/y coordinates (cell
edges from the cell-centre coordinates), north up, over the vegetation-covered area (VCA)
only; land outside the VCA is light grey. Province outlines and labels come from a GeoJSON
``FeatureCollection`` whose features carry the region name in the property
``config.region_property`` (``abbr`` for the packaged China provinces).

Matplotlib is used through :class:`matplotlib.figure.Figure` and the Agg canvas only (no
``pyplot``, no global backend switch), so making figures never touches a user's session.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, MaxNLocator
from shapely.geometry import shape
from shapely.geometry.polygon import orient

__all__ = ["DEFAULT_DPI", "GRADE_COLOURS", "TREND_CLASS_STYLE", "figure_captions", "make_figures"]

#: Resolution of the PNG files, dots per inch.
DEFAULT_DPI = 150
#: Trend class code → (short name, meaning, colour) (METHOD.md §3; colours from BrBG).
TREND_CLASS_STYLE: dict[int, tuple[str, str, str]] = {
    2: ("SI", "significant increase", "#01665e"),
    1: ("II", "insignificant increase", "#80cdc1"),
    0: ("0", "no trend (K = 0)", "#bdbdbd"),
    -1: ("ID", "insignificant decrease", "#dfc27d"),
    -2: ("SD", "significant decrease", "#8c510a"),
}
#: CSR grade (METHOD.md §5) → fill colour, strongest first.
GRADE_COLOURS: dict[str, str] = {
    "extremely strong": "#08519c",
    "stronger": "#4292c6",
    "strong": "#9ecae1",
    "weak": "#fdae6b",
    "weaker": "#d94801",
    "none": "#e0e0e0",
}
_POS, _NEG = "#2166ac", "#b2182b"  # maintained positive (blue) / negative (red), paper Fig. 8
_CHANGED = "#f2d675"  # trend changed: muted yellow, apart from the grey of non-VCA land
_OUTSIDE_VCA = "#e2e2e2"
_SYNTHETIC_NOTE = "SYNTHETIC DEMO DATA (not real observations)"
_NPP_UNITS = r"g C m$^{-2}$ yr$^{-1}$"
_SLOPE_UNITS = r"g C m$^{-2}$ yr$^{-2}$"
_ALL = "ALL"


# --------------------------------------------------------------------------- inputs


class _Province(NamedTuple):
    name: str
    rings: list[np.ndarray]  # every boundary ring (lon, lat), for outlines
    path: MplPath  # filled outline, holes wound the other way
    label_at: tuple[float, float]
    size: float  # area in square degrees (larger provinces keep their label spot)


@dataclass
class _Context:
    """What every figure of one call shares."""

    results: Any
    synthetic: bool
    provinces: list[_Province]
    vca: np.ndarray | None  # north-up vca layer (1 inside), or None when there is none
    outside: np.ndarray | None  # north-up: True on region cells outside the VCA
    extent: tuple[float, float, float, float] | None

    @property
    def cfg(self) -> Any:
        return self.results.config


def _plain(text: object) -> str:
    """Text safe from Matplotlib's mathtext (a ``$`` in a region name stays a ``$``)."""
    return str(text).replace("$", r"\$")


def _provinces(geojson: dict | None, prop: str) -> list[_Province]:
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
        out.append(_Province(str(name), rings, path, (point.x, point.y), size))
    return out


def _xy(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    ydim, xdim = da.dims[-2], da.dims[-1]
    x = np.asarray(da[xdim].values if xdim in da.coords else np.arange(da.sizes[xdim]), float)
    y = np.asarray(da[ydim].values if ydim in da.coords else -np.arange(da.sizes[ydim]), float)
    return x, y


def _north_up(da: xr.DataArray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A 2-D layer as a north-up float array and its imshow extent (cell edges)."""
    values = np.asarray(da.values, dtype=float)
    x, y = _xy(da)
    if y.size > 1 and y[0] < y[-1]:
        values = values[::-1]
    if x.size > 1 and x[0] > x[-1]:
        values = values[:, ::-1]
    dx = abs(x[1] - x[0]) if x.size > 1 else (abs(y[1] - y[0]) if y.size > 1 else 1.0)
    dy = abs(y[1] - y[0]) if y.size > 1 else dx
    return values, (x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2)


def _vca_layer(rasters: xr.Dataset) -> np.ndarray | None:
    return _north_up(rasters["vca"])[0] if "vca" in rasters else None


def _outside_vca(rasters: xr.Dataset) -> np.ndarray | None:
    """Cells inside some region (region id > 0) but outside the VCA, or None."""
    if "vca" not in rasters or "region" not in rasters:
        return None
    vca, region = _north_up(rasters["vca"])[0], _north_up(rasters["region"])[0]
    with np.errstate(invalid="ignore"):
        outside = (region > 0) & (vca != 1)
    return outside if outside.any() else None


def _layer(ctx: _Context, da: xr.DataArray) -> np.ndarray:
    """A 2-D layer north up, NaN outside the VCA."""
    values, _ = _north_up(da)
    if ctx.vca is not None and ctx.vca.shape == values.shape:
        values = np.where(ctx.vca == 1, values, np.nan)
    return values


def _limits(values: np.ndarray, *, symmetric: bool = False) -> tuple[float, float]:
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


def _map_figure(ctx: _Context, n: int, *, panel_width: float) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` map panels (at most 3 a row); :func:`_finish` trims its height."""
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


def _trim(fig: Figure, maps: Sequence[Axes]) -> None:
    """Shrink a figure of fixed-aspect map axes so that no empty band is left around them.

    Constrained layout gives each axes a box; a map keeps its aspect inside it, so the box's
    spare height (or width) is blank. Measure it after one layout pass and take it off.
    """
    if not maps:
        return
    engine = fig.get_layout_engine()
    if engine is None:
        return
    engine.execute(fig)  # the layout alone, without rendering
    for ax in maps:
        ax.apply_aspect()
    width, height = fig.get_size_inches()
    spare_h = min(a.get_position(original=True).height - a.get_position().height for a in maps)
    spare_w = min(a.get_position(original=True).width - a.get_position().width for a in maps)
    rows = len({round(a.get_position(original=True).y0, 3) for a in maps})
    cols = len({round(a.get_position(original=True).x0, 3) for a in maps})
    new_h = height - 0.97 * max(spare_h, 0.0) * height * rows
    new_w = width - 0.97 * max(spare_w, 0.0) * width * cols
    fig.set_size_inches(max(new_w, 3.0), max(new_h, 2.5))


def _label_spots(
    provinces: Sequence[_Province],
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


def _decorate_map(ax: Axes, ctx: _Context, *, label_size: float, width: float) -> None:
    extent = ctx.extent or (0.0, 1.0, 0.0, 1.0)
    if ctx.outside is not None:  # region land outside the VCA, light grey beneath the data
        outside = np.ma.masked_where(~ctx.outside, np.ones(ctx.outside.shape))
        ax.imshow(
            outside,
            extent=extent,
            origin="upper",
            cmap=ListedColormap([_OUTSIDE_VCA]),
            norm=Normalize(0, 2),
            interpolation="nearest",
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
                _plain(name),
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


def _show(
    ax: Axes,
    ctx: _Context,
    values: np.ndarray,
    cmap: Colormap,
    norm: Normalize,
    *,
    label_size: float = 6.0,
    width: float = 6.5,
) -> AxesImage:
    image = ax.imshow(
        np.ma.masked_invalid(values),
        extent=ctx.extent,
        origin="upper",
        cmap=cmap,
        norm=norm,
        interpolation="nearest",
        zorder=1,
    )
    _decorate_map(ax, ctx, label_size=label_size, width=width)
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


def _category_legend(
    ax: Axes, entries: Sequence[tuple[str, str]], title: str, *, extra: Sequence[Patch] = ()
) -> None:
    """A legend of coloured boxes (label, colour) and extra handles to the right of a map."""
    handles = [
        Patch(facecolor=colour, edgecolor="#555555", linewidth=0.4, label=label)
        for label, colour in entries
    ]
    handles += list(extra)
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


def _finish(fig: Figure, ctx: _Context, title: str, *, maps: Sequence[Axes] = ()) -> Figure:
    """Add the figure title and the synthetic-data note; trim the blank around maps."""
    fig.suptitle(_plain(title), fontsize=11.5, fontweight="bold")
    if ctx.synthetic:
        fig.supxlabel(_SYNTHETIC_NOTE, color="#c00000", fontsize=9.5, fontweight="bold")
    _trim(fig, maps)
    return fig


def _years_text(cfg: Any) -> str:
    return f"{cfg.start}–{cfg.end}"


# --------------------------------------------------------------------------- maps


def _fig_cscc(ctx: _Context) -> Figure | None:
    values = _layer(ctx, ctx.results.rasters["cscc"])
    fig, (ax,) = _map_figure(ctx, 1, panel_width=7.5)
    lo, hi = _limits(values)
    image = _show(ax, ctx, values, colormaps["YlGn"], Normalize(lo, hi))
    fig.colorbar(image, ax=ax, shrink=0.8, extend="max", label=f"CSCC ({_NPP_UNITS})")
    ax.set_title(f"maximum annual NPP over {_years_text(ctx.cfg)} per cell", fontsize=9)
    return _finish(fig, ctx, "Carbon sink carrying capacity (CSCC)", maps=[ax])


def _year_ticks(lo: int, hi: int, step: int) -> list[int]:
    """Multiples of ``step`` in lo … hi, plus lo and hi unless a multiple is too close."""
    ticks = [v for v in range(lo, hi + 1) if v % step == 0]
    for end in (lo, hi):
        if all(abs(end - v) >= max(step // 2, 1) for v in ticks):
            ticks.append(end)
    return sorted(ticks)


def _fig_cscc_year(ctx: _Context) -> Figure | None:
    values = _layer(ctx, ctx.results.rasters["cscc_year"])
    start, end = int(ctx.cfg.start), int(ctx.cfg.end)
    finite = values[np.isfinite(values)]
    if finite.size:
        start, end = min(start, int(finite.min())), max(end, int(finite.max()))
    edges = np.arange(start - 0.5, end + 1.5, 1.0)
    cmap = colormaps["viridis"].resampled(edges.size - 1)
    fig, (ax,) = _map_figure(ctx, 1, panel_width=7.5)
    image = _show(ax, ctx, values, cmap, BoundaryNorm(edges, cmap.N))
    bar = fig.colorbar(image, ax=ax, shrink=0.8, label="year of the maximum NPP (CSCC year)")
    bar.set_ticks(_year_ticks(start, end, 5))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
    ax.set_title("earliest year of the maximum on ties", fontsize=9)
    return _finish(fig, ctx, "Year the CSCC was reached", maps=[ax])


def _fig_trend_slope(ctx: _Context) -> Figure | None:
    values = _layer(ctx, ctx.results.rasters["trend_slope"])
    lo, hi = _limits(values, symmetric=True)
    fig, (ax,) = _map_figure(ctx, 1, panel_width=7.5)
    image = _show(ax, ctx, values, colormaps["BrBG"], Normalize(lo, hi))
    fig.colorbar(
        image, ax=ax, shrink=0.8, extend="both", label=f"NPP trend slope K ({_SLOPE_UNITS})"
    )
    ax.set_title(f"OLS slope of annual NPP on year, {_years_text(ctx.cfg)}", fontsize=9)
    return _finish(fig, ctx, "Trend of NPP (evolution rate)", maps=[ax])


def _trend_shares(results: Any) -> dict[str, float]:
    table = results.trend_summary
    if table is None or table.empty:
        return {}
    rows = table[
        (table["region"].astype(str) == _ALL)
        & np.isclose(table["alpha"].astype(float), results.config.alpha)
    ]
    return {str(r["class"]): float(r["area_share"]) for _, r in rows.iterrows()}


def _fig_trend_class(ctx: _Context) -> Figure | None:
    values = _layer(ctx, ctx.results.rasters["trend_class"])
    codes = sorted(TREND_CLASS_STYLE)  # -2 … 2
    cmap = ListedColormap([TREND_CLASS_STYLE[c][2] for c in codes])
    norm = BoundaryNorm(np.arange(codes[0] - 0.5, codes[-1] + 1.0), cmap.N)
    fig, (ax,) = _map_figure(ctx, 1, panel_width=7.5)
    _show(ax, ctx, values, cmap, norm)
    shares = _trend_shares(ctx.results)
    entries = []
    for code in sorted(TREND_CLASS_STYLE, reverse=True):
        short, meaning, colour = TREND_CLASS_STYLE[code]
        share = shares.get(short, math.nan)
        text = f"{share * 100:.2f} %" if math.isfinite(share) else "n/a"
        entries.append((f"{short}  {meaning}: {text}", colour))
    alpha = ctx.cfg.alpha
    _category_legend(ax, entries, f"class (α = {alpha:g}): share of VCA area")
    ax.set_title(f"two-sided t-test of the OLS slope, {_years_text(ctx.cfg)}", fontsize=9)
    return _finish(fig, ctx, "NPP trend classes", maps=[ax])


def _fig_pcs(ctx: _Context) -> Figure | None:
    rasters = ctx.results.rasters
    if (
        "pcs" not in rasters
        or "pcs_year" not in rasters["pcs"].dims
        or rasters["pcs"].sizes["pcs_year"] == 0
    ):
        return None
    pcs = rasters["pcs"]
    years = [int(y) for y in pcs["pcs_year"].values]
    layers = [_layer(ctx, pcs.isel(pcs_year=i)) for i in range(len(years))]
    lo, hi = _limits(np.concatenate([v.ravel() for v in layers]))
    norm = Normalize(min(lo, 0.0), hi)
    fig, axes = _map_figure(ctx, len(years), panel_width=5.0 if len(years) > 1 else 7.5)
    image = None
    for ax, year, values in zip(axes, years, layers, strict=True):
        image = _show(ax, ctx, values, colormaps["YlOrRd"], norm, label_size=4.5, width=4.3)
        ax.set_title(f"PCS {year}", fontsize=10)
    fig.colorbar(image, ax=axes, shrink=0.8, extend="max", label=f"PCS = CSCC − NPP ({_NPP_UNITS})")
    return _finish(fig, ctx, "Increase potential of NPP (PCS) in chosen years", maps=axes)


def _pick_years(years: Sequence[int]) -> list[int]:
    if not years:
        return []
    picks = [years[0], years[len(years) // 2], years[-1]]
    return sorted(set(picks))


def _fig_maintenance(ctx: _Context) -> Figure | None:
    rasters = ctx.results.rasters
    if "maintenance" not in rasters or rasters["maintenance"].sizes.get("year", 0) == 0:
        return None
    surfaces = rasters["maintenance"]
    years = _pick_years([int(y) for y in surfaces["year"].values])
    cmap = ListedColormap([_NEG, _CHANGED, _POS])
    norm = BoundaryNorm([-1.5, -0.5, 0.5, 1.5], cmap.N)
    fig, axes = _map_figure(ctx, len(years), panel_width=5.0 if len(years) > 1 else 7.5)
    for ax, year in zip(axes, years, strict=True):
        _show(ax, ctx, _layer(ctx, surfaces.sel(year=year)), cmap, norm, label_size=4.5, width=4.3)
        ax.set_title(f"P {year}", fontsize=10)
    ref = ctx.cfg.reference_year
    entries = [
        (f"+1: positive trend\nheld since {ref}", _POS),
        (f"−1: negative trend\nheld since {ref}", _NEG),
        ("0: trend changed\n(or zero)", _CHANGED),
    ]
    handles = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.4, label=t) for t, c in entries]
    fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        title="maintenance surface P",
        title_fontsize=8.5,
        alignment="left",
    )
    return _finish(
        fig, ctx, f"Maintenance surfaces (growing windows from {ctx.cfg.start})", maps=axes
    )


def _fig_maintenance_years(ctx: _Context) -> Figure | None:
    values = _layer(ctx, ctx.results.rasters["maintenance_years"])
    n = int(ctx.cfg.n_evaluation_years)
    finite = values[np.isfinite(values)]
    if finite.size:
        n = max(n, int(np.abs(finite).max()))
    n = max(n, 1)
    edges = np.arange(-n - 0.5, n + 1.0, 1.0)
    cmap = colormaps["RdBu"].resampled(edges.size - 1)
    fig, (ax,) = _map_figure(ctx, 1, panel_width=7.5)
    image = _show(ax, ctx, values, cmap, BoundaryNorm(edges, cmap.N))
    bar = fig.colorbar(
        image, ax=ax, shrink=0.8, label="years the initial trend held (− negative, + positive)"
    )
    bar.set_ticks(_year_ticks(-n, n, 5 if n > 8 else 1))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}" if v else "0"))
    cfg = ctx.cfg
    ax.set_title(
        f"P$_{{t'}}$ × number of years with P ≠ 0, {cfg.reference_year}–{cfg.end}", fontsize=9
    )
    return _finish(fig, ctx, "Maintenance years", maps=[ax])


def _fig_csr_grade(ctx: _Context) -> Figure | None:
    if not ctx.provinces:
        return None
    table = ctx.results.resilience
    rows = (
        {} if table is None or table.empty else {str(r["region"]): r for _, r in table.iterrows()}
    )
    if ctx.extent is not None:
        extent = ctx.extent
    else:
        points = np.concatenate([r for p in ctx.provinces for r in p.rings])
        extent = (points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max())
    view = _Context(ctx.results, ctx.synthetic, ctx.provinces, None, None, extent)
    fig, (ax,) = _map_figure(view, 1, panel_width=7.5)
    hatched = False
    for p in ctx.provinces:
        row = rows.get(p.name)
        grade = str(row["grade"]) if row is not None else "none"
        ax.add_patch(
            PathPatch(
                p.path,
                facecolor=GRADE_COLOURS.get(grade, GRADE_COLOURS["none"]),
                edgecolor="none",
                zorder=1,
            )
        )
        if row is not None and "extrapolated" in str(row.get("flags", "")):
            hatched = True
            ax.add_patch(
                PathPatch(
                    p.path, fill=False, hatch="////", edgecolor="#6b6b6b", linewidth=0.0, zorder=2
                )
            )
    _decorate_map(ax, view, label_size=6.0, width=6.5)
    extra = []
    if hatched:
        limit = ctx.cfg.extrapolation_factor * ctx.cfg.n_evaluation_years
        extra.append(
            Patch(
                facecolor="white",
                edgecolor="#6b6b6b",
                hatch="////",
                label=f"a τ extrapolated\n(τ > {limit:g} yr)",
            )
        )
    _category_legend(ax, list(GRADE_COLOURS.items()), "CSR grade\n(RS = τ⁺ − τ⁻)", extra=extra)
    national = rows.get(_ALL)
    if national is not None:
        ax.set_title(
            f"whole area: RS = {_years(national.get('rs'))}, grade "
            f"“{_plain(national.get('grade'))}”",
            fontsize=9,
        )
    return _finish(fig, ctx, "Carbon sink resilience (CSR) grade", maps=[ax])


# --------------------------------------------------------------------------- curves


def _years(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:,.0f} yr" if abs(v) >= 100 else f"{v:,.1f} yr"


def _fig_yearly(ctx: _Context) -> Figure | None:
    yearly = ctx.results.yearly
    if yearly is None or yearly.empty:
        return None
    years = yearly["year"].to_numpy(dtype=float)
    mean = yearly["mean_npp_gm2"].to_numpy(dtype=float)
    fig = Figure(figsize=(8.0, 6.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(years, mean, "o-", color="#1b7837", ms=3.5, lw=1.2, label="area-weighted mean NPP")
    ok = np.isfinite(mean)
    series = (ctx.results.summary or {}).get("npp_series") or {}
    if ok.sum() >= 2:
        slope = series.get("slope")
        if slope is None or not math.isfinite(slope):
            slope = float(np.polyfit(years[ok], mean[ok], 1)[0])
        line = mean[ok].mean() + slope * (years - years[ok].mean())
        p = series.get("p_value")
        p_text = (
            ""
            if p is None or not math.isfinite(p)
            else (", p < 0.001" if p < 0.001 else f", p = {p:.3f}")
        )
        top.plot(
            years,
            line,
            "--",
            color="#762a83",
            lw=1.3,
            label=f"OLS trend: {slope:+.2f} {_SLOPE_UNITS}{p_text}",
        )
    top.set_ylabel(f"mean NPP ({_NPP_UNITS})")
    top.set_title("national (whole VCA) mean NPP", fontsize=9.5)
    top.legend(fontsize=8, loc="best")
    top.grid(alpha=0.3)

    total = yearly["total_npp_pg"].to_numpy(dtype=float)
    bottom.plot(years, total, "o-", color="#1b7837", ms=3.5, lw=1.2, label="total NPP")
    cscc = float((ctx.results.summary or {}).get("cscc_total_pg") or math.nan)
    bottom.set_ylabel(r"total NPP (Pg C yr$^{-1}$)")
    bottom.set_xlabel("year")
    bottom.grid(alpha=0.3)
    if math.isfinite(cscc) and cscc > 0:  # saturation S = NPP / CSCC is a second scale
        bottom.axhline(
            cscc,
            color="#444444",
            ls=":",
            lw=1.2,
            label=f"total CSCC {cscc:,.2f} Pg C yr$^{{-1}}$ (S = 100 %)",
        )
        bottom.fill_between(
            years,
            total,
            cscc,
            color="#fdb863",
            alpha=0.35,
            lw=0,
            label="increase potential CSCC − NPP",
        )
        finite = total[np.isfinite(total)]
        low = min(float(finite.min()) if finite.size else cscc, cscc)
        bottom.set_ylim(max(0.0, low - 0.25 * (cscc - low) - 0.02 * cscc), 1.04 * cscc)
        right = bottom.secondary_yaxis(
            "right", functions=(lambda v: v / cscc * 100, lambda v: v * cscc / 100)
        )
        right.set_ylabel("saturation S = NPP / CSCC (%)")
    else:
        right = bottom.twinx()
        sat = yearly["saturation"].to_numpy(dtype=float) * 100
        right.plot(years, sat, "s-", color="#e08214", ms=3, lw=1.0, label="saturation S")
        right.set_ylabel("saturation S (%)")
    bottom.legend(fontsize=8, loc="lower right", framealpha=0.9)
    bottom.set_title("total NPP and saturation", fontsize=9.5)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(fig, ctx, f"Annual NPP {_years_text(ctx.cfg)}")


def _decay_curve(t: np.ndarray, ref: int, tau: float, lam: float) -> np.ndarray | None:
    if math.isnan(tau):
        return None
    if math.isinf(tau):
        return np.full(t.shape, 1.0 if math.isnan(lam) else lam)
    if math.isnan(lam) or tau <= 0:
        return None
    return lam * np.exp(-(t - ref) / tau)


def _num(row: Any, key: str) -> float:
    try:
        return float(row.get(key, math.nan))
    except (TypeError, ValueError):
        return math.nan


def _tau_label(row: Any, sign: str, flags: set[str], *, detailed: bool) -> str:
    """Legend text of one fitted τ: value (interval, λ, R² when detailed) or why there is none."""
    symbol = r"$\tau^{+}$" if sign == "pos" else r"$\tau^{-}$"
    tau = _num(row, f"tau_{sign}")
    if math.isnan(tau):
        return f"{symbol}: none ({'no cells' if f'{sign}:no_cells' in flags else 'not fitted'})"
    if math.isinf(tau):
        return f"{symbol} = ∞ ({'no cell lost' if f'{sign}:no_loss' in flags else 'no decay'})"
    text = f"{symbol} = {_years(tau)}"
    if detailed:
        low, high = _num(row, f"tau_{sign}_low"), _num(row, f"tau_{sign}_high")
        if math.isfinite(low) or math.isinf(high):
            bounds = "–".join(_years(v).removesuffix(" yr") for v in (low, high))
            text += f" [95 % CI {bounds}]"
        lam, r2 = _num(row, f"lambda_{sign}"), _num(row, f"r2_{sign}")
        text += f", λ = {lam:.3f}" if math.isfinite(lam) else ""
        text += f", R² = {r2:.3f}" if math.isfinite(r2) else ""
    if f"{sign}:extrapolated" in flags:
        text += " (extrapolated)" if detailed else "*"
    return text


def _decay_panel(
    ax: Axes, ctx: _Context, counts: pd.DataFrame, row: Any, *, detailed: bool
) -> None:
    """Observed q⁺, q⁻ of one region and the fitted q = λ·exp(−(t − t')/τ) (paper Fig. 9A)."""
    cfg = ctx.cfg
    ref, end = int(cfg.reference_year), int(cfg.end)
    flags = set(str(row.get("flags", "") or "").split(";")) if row is not None else set()
    t = np.linspace(ref, end, 200)
    for sign, colour, marker in (("pos", _POS, "o"), ("neg", _NEG, "s")):
        if not counts.empty:
            q = counts[f"ratio_{sign}"].to_numpy(dtype=float) / 100
            symbol = "q$^{+}$" if sign == "pos" else "q$^{-}$"
            ax.plot(
                counts["year"].to_numpy(dtype=float),
                q,
                marker,
                color=colour,
                ms=4.0 if detailed else 2.5,
                ls="none",
                label=f"{symbol} observed" if detailed else "_nolegend_",
            )
        if row is None:
            continue
        curve = _decay_curve(t, ref, _num(row, f"tau_{sign}"), _num(row, f"lambda_{sign}"))
        label = _tau_label(row, sign, flags, detailed=detailed)
        if curve is None:
            ax.plot([], [], ls="none", label=label)
        else:
            ax.plot(t, curve, "-", color=colour, lw=1.4 if detailed else 1.0, label=label)
        onset = row.get(f"plateau_onset_{sign}")
        if detailed and onset is not None and not pd.isna(onset):
            ax.axvline(
                float(onset),
                color=colour,
                ls=":",
                lw=0.9,
                label=f"plateau of q$^{{{'+' if sign == 'pos' else '-'}}}$ from {int(onset)}",
            )
    extrapolated = [s for s in ("pos", "neg") if f"{s}:extrapolated" in flags]
    if extrapolated and detailed:
        limit = cfg.extrapolation_factor * cfg.n_evaluation_years
        which = " and ".join("τ⁺" if s == "pos" else "τ⁻" for s in extrapolated)
        ax.text(
            0.02,
            0.03,
            f"{which} > {limit:g} yr: an extrapolation far beyond the "
            f"{cfg.n_evaluation_years}-year fitting window",
            transform=ax.transAxes,
            fontsize=8,
            color="#a63603",
            va="bottom",
            ha="left",
        )
    ratios = counts[["ratio_pos", "ratio_neg"]].to_numpy(dtype=float) if not counts.empty else None
    if ratios is None or not np.isfinite(ratios).any():
        ax.text(
            0.5,
            0.5,
            "no cells",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9 if detailed else 7,
            color="#555555",
        )
    ax.set_xlim(ref - 0.5, end + 0.5)
    ax.set_ylim(0, 1.08)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5 if detailed else 3))
    ax.tick_params(labelsize=8 if detailed else 6)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            fontsize=8 if detailed else 5.5,
            loc="best",
            framealpha=0.85,
            handlelength=1.2 if detailed else 0.9,
            borderpad=0.3,
        )


def _decay_inputs(results: Any) -> list[tuple[str, pd.DataFrame, Any]]:
    counts = results.maintenance_counts
    table = results.resilience
    names: list[str] = []
    for frame in (table, counts):
        if frame is not None and not frame.empty:
            names += [str(r) for r in frame["region"] if str(r) not in names]
    out = []
    for name in names:
        sub = counts[counts["region"].astype(str) == name] if counts is not None else pd.DataFrame()
        rows = table[table["region"].astype(str) == name] if table is not None else pd.DataFrame()
        row = rows.iloc[0] if not rows.empty else None
        out.append((name, sub.sort_values("year") if not sub.empty else sub, row))
    return out


def _fig_decay_all(ctx: _Context) -> Figure | None:
    inputs = [i for i in _decay_inputs(ctx.results) if i[0] == _ALL]
    if not inputs:
        return None
    _, counts, row = inputs[0]
    cfg = ctx.cfg
    fig = Figure(figsize=(8.0, 5.0), layout="constrained")
    ax = fig.subplots()
    _decay_panel(ax, ctx, counts, row, detailed=True)
    ax.set_xlabel("evaluation year")
    ax.set_ylabel(f"q = N / N$_{{{cfg.reference_year}}}$ (fraction of cells)")
    title = f"q = λ·exp(−(t − {cfg.reference_year})/τ), fit mode “{cfg.fit_mode}”"
    if row is not None:
        title += f"; RS = τ⁺ − τ⁻ = {_years(row.get('rs'))}, grade “{_plain(row.get('grade'))}”"
    ax.set_title(title, fontsize=9)
    return _finish(fig, ctx, "Decay of the maintained trends, whole area")


def _fig_decay_curves(ctx: _Context) -> Figure | None:
    inputs = _decay_inputs(ctx.results)
    if not inputs:
        return None
    ncols = min(len(inputs), 6)
    nrows = math.ceil(len(inputs) / ncols)
    fig = Figure(figsize=(2.55 * ncols + 0.4, 2.1 * nrows + 1.0), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    for ax, (name, counts, row) in zip(axes, inputs, strict=False):
        _decay_panel(ax, ctx, counts, row, detailed=False)
        ax.set_title(_plain(name), fontsize=8.5, fontweight="bold" if name == _ALL else "normal")
        ax.tick_params(labelbottom=True)
    for ax in axes[len(inputs) :]:
        ax.set_visible(False)
    cfg = ctx.cfg
    fig.supylabel(f"q = N / N$_{{{cfg.reference_year}}}$", fontsize=9)
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    title = "Decay of the maintained trends: q⁺ (blue circles), q⁻ (red squares), fitted curves"
    if any(row is not None and "extrapolated" in str(row.get("flags", "")) for *_, row in inputs):
        title += (
            f"\n* τ extrapolated: τ > {limit:g} yr, far beyond the "
            f"{cfg.n_evaluation_years}-year fitting window"
        )
    return _finish(fig, ctx, title)


# --------------------------------------------------------------------------- public


_FIGURES: dict[str, tuple[Callable[[_Context], Figure | None], str | None]] = {
    # name → (maker, raster variable it needs or None)
    "yearly": (_fig_yearly, None),
    "trend_slope": (_fig_trend_slope, "trend_slope"),
    "trend_class": (_fig_trend_class, "trend_class"),
    "cscc": (_fig_cscc, "cscc"),
    "cscc_year": (_fig_cscc_year, "cscc_year"),
    "pcs": (_fig_pcs, "pcs"),
    "maintenance": (_fig_maintenance, "maintenance"),
    "maintenance_years": (_fig_maintenance_years, "maintenance_years"),
    "decay_ALL": (_fig_decay_all, None),
    "decay_curves": (_fig_decay_curves, None),
    "csr_grade": (_fig_csr_grade, None),
}


def _save(fig: Figure, path: Path, dpi: int) -> None:
    """Write a PNG atomically (temporary file in the same folder, then rename)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fig.savefig(tmp, dpi=dpi, format="png", facecolor="white")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_figures(
    results: Any,
    out_dir: Path,
    *,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
    dpi: int = DEFAULT_DPI,
    names: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Draw the run's maps and curves as PNG files (METHOD.md §6).

    Parameters
    ----------
    results : gee_cscc.analysis.Results
        One run's rasters and tables (or an object with the same attributes).
    out_dir : pathlib.Path
        Folder for the PNG files; made if missing. Existing files of the same names are
        replaced atomically.
    regions_geojson : dict, optional, keyword-only
        A GeoJSON ``FeatureCollection`` of the regions: outlines and labels on every map
        (label = the feature property ``config.region_property``, e.g. ``abbr``) and the CSR
        grade map, which is only drawn when this is given.
    synthetic : bool, keyword-only
        Print a "synthetic demo data" note on every figure.
    dpi : int, keyword-only
        Resolution in dots per inch (default 150; tests use less).
    names : iterable of str, optional, keyword-only
        Draw only these figures (names as below); default all.

    Returns
    -------
    dict of str to pathlib.Path
        In display order, the figures that could be drawn: ``yearly`` (mean NPP with its OLS
        trend; total NPP and saturation), ``trend_slope`` (g C m⁻² yr⁻²), ``trend_class``
        (SI/II/0/ID/SD with area shares), ``cscc`` (g C m⁻² yr⁻¹), ``cscc_year``, ``pcs``
        (one panel per PCS year, g C m⁻² yr⁻¹), ``maintenance`` (surfaces P of the first,
        middle and last evaluation year), ``maintenance_years`` (−N … +N years),
        ``decay_ALL`` and ``decay_curves`` (observed q⁺/q⁻ and fitted
        q = λ·exp(−(t − t')/τ), whole area and every region) and ``csr_grade``. The file of
        ``name`` is ``out_dir / f"{name}.png"``. A figure whose raster layer or table is
        missing is left out; an all-empty layer gives a map that says so.

    Raises
    ------
    ValueError
        A dpi below 10 or a figure name that does not exist.
    """
    if not isinstance(dpi, int) or isinstance(dpi, bool) or dpi < 10:
        raise ValueError(f"dpi must be an integer ≥ 10, got {dpi!r}")
    wanted = set(_FIGURES) if names is None else set(names)
    unknown = sorted(wanted - set(_FIGURES))
    if unknown:
        raise ValueError(f"unknown figure names {unknown}; expected some of {list(_FIGURES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rasters = results.rasters
    base = next((rasters[v] for v in ("cscc", "vca", "region") if v in rasters), None)
    prop = getattr(results.config, "region_property", "abbr")
    ctx = _Context(
        results=results,
        synthetic=synthetic,
        provinces=_provinces(regions_geojson, prop),
        vca=_vca_layer(rasters),
        outside=_outside_vca(rasters),
        extent=_north_up(base)[1] if base is not None else None,
    )
    written: dict[str, Path] = {}
    for name, (maker, needs) in _FIGURES.items():
        if name not in wanted or (needs is not None and needs not in rasters):
            continue
        fig = maker(ctx)
        if fig is None:
            continue
        path = out_dir / f"{name}.png"
        _save(fig, path, dpi)
        written[name] = path
    return written


def figure_captions(results: Any) -> dict[str, str]:
    """One caption per figure name of :func:`make_figures` (plain text, not escaped).

    Parameters
    ----------
    results : gee_cscc.analysis.Results
        The run the figures show (its config gives the years and levels).

    Returns
    -------
    dict of str to str
        Figure name → caption.
    """
    cfg = results.config
    ref, start, end = cfg.reference_year, cfg.start, cfg.end
    pcs_years = ", ".join(str(y) for y in (cfg.pcs_years or ()))
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    return {
        "yearly": (
            f"Area-weighted mean NPP of the vegetation-covered area per year, {start}–{end}, "
            "with its OLS trend (slope and p-value in the legend); below, total NPP "
            "(Pg C yr⁻¹) against total CSCC and the saturation S = total NPP / total CSCC."
        ),
        "trend_slope": (
            f"OLS slope K of annual NPP on year per cell, {start}–{end} (g C m⁻² yr⁻²); "
            "colours clipped at the 98th percentile of |K|."
        ),
        "trend_class": (
            f"Trend classes at α = {cfg.alpha:g}: SI significant increase, II insignificant "
            "increase, 0 no trend, ID insignificant decrease, SD significant decrease; the "
            "legend gives each class's share of the VCA area."
        ),
        "cscc": (
            f"Carbon sink carrying capacity CSCC = maximum annual NPP over {start}–{end} per "
            "cell (g C m⁻² yr⁻¹); grey land is outside the vegetation-covered area."
        ),
        "cscc_year": "Year in which each cell reached its CSCC (earliest year on ties).",
        "pcs": (
            f"Increase potential PCS = CSCC − NPP of the year (g C m⁻² yr⁻¹) in {pcs_years}, "
            "on one colour scale."
        ),
        "maintenance": (
            f"Maintenance surfaces P of the first, middle and last evaluation year: +1 (blue) "
            f"where the sign of the growing-window trend from {start} has stayed positive since "
            f"{ref}, −1 (red) where it stayed negative, 0 where it changed."
        ),
        "maintenance_years": (
            f"Maintenance years P_{ref} × #{{years with P ≠ 0}}, {ref}–{end}: blue, the number "
            "of years a positive trend held; red, a negative one."
        ),
        "decay_ALL": (
            f"Whole area: observed ratios q⁺ = N⁺/N⁺_{ref} and q⁻ = N⁻/N⁻_{ref} and the fitted "
            f"q = λ·exp(−(t − {ref})/τ), with τ, its 95 % interval, λ and R² in the legend. "
            f"τ above {limit:g} years is an extrapolation far beyond the fitting window."
        ),
        "decay_curves": (
            "Observed q⁺ (blue) and q⁻ (red) and fitted decay curves for the whole area and "
            "every region; τ = ∞ is a flat line, a region without cells of a sign has no curve."
        ),
        "csr_grade": (
            "Carbon sink resilience grade per region, from RS = τ⁺ − τ⁻ (years); hatching marks "
            "regions with an extrapolated τ."
        ),
    }
