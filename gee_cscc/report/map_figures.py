"""The map figures of a run: CSCC, its year, trend, PCS, maintenance and CSR grade maps."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import PatchCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.ticker import FuncFormatter

from gee_cscc.report.map_canvas import (
    category_legend,
    colour_limits,
    decorate_map,
    legend_boxes,
    limit_sample,
    map_figure,
    show_layer,
    vca_masked_layer,
)
from gee_cscc.report.style import (
    CHANGED_COLOUR,
    GRADE_COLOURS,
    NEG_COLOUR,
    NPP_UNITS_TEX,
    POS_COLOUR,
    SLOPE_UNITS_TEX,
    TREND_CLASS_STYLE,
    FigureContext,
    all_label,
    finish_figure,
    format_years,
    panel_letters,
    plain_text,
    subtitle,
    years_text,
)


def fig_cscc(ctx: FigureContext) -> Figure | None:
    layer = ctx.results.rasters["cscc"]
    values = vca_masked_layer(ctx, layer)
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    lo, hi = colour_limits(limit_sample(ctx, layer, values))
    image = show_layer(ax, ctx, values, colormaps["YlGn"], Normalize(lo, hi))
    fig.colorbar(image, ax=ax, shrink=0.8, extend="max", label=f"CSCC ({NPP_UNITS_TEX})")
    subtitle(ax, ctx, f"maximum annual NPP over {years_text(ctx.cfg)} per cell")
    return finish_figure(fig, ctx, "Carbon sink carrying capacity (CSCC)", maps=[ax])


def _year_ticks(lo: int, hi: int, step: int) -> list[int]:
    """Multiples of ``step`` in lo … hi, plus lo and hi unless a multiple is too close."""
    ticks = [v for v in range(lo, hi + 1) if v % step == 0]
    for end in (lo, hi):
        if all(abs(end - v) >= max(step // 2, 1) for v in ticks):
            ticks.append(end)
    return sorted(ticks)


def fig_cscc_year(ctx: FigureContext) -> Figure | None:
    values = vca_masked_layer(ctx, ctx.results.rasters["cscc_year"], classes=True)
    start, end = int(ctx.cfg.start), int(ctx.cfg.end)
    finite = values[np.isfinite(values)]
    if finite.size:
        start, end = min(start, int(finite.min())), max(end, int(finite.max()))
    edges = np.arange(start - 0.5, end + 1.5, 1.0)
    cmap = colormaps["viridis"].resampled(edges.size - 1)
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    image = show_layer(ax, ctx, values, cmap, BoundaryNorm(edges, cmap.N))
    bar = fig.colorbar(image, ax=ax, shrink=0.8, label="year of the maximum NPP (CSCC year)")
    bar.set_ticks(_year_ticks(start, end, 5))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
    subtitle(ax, ctx, "earliest year of the maximum on ties")
    return finish_figure(fig, ctx, "Year the CSCC was reached", maps=[ax])


def fig_trend_slope(ctx: FigureContext) -> Figure | None:
    layer = ctx.results.rasters["trend_slope"]
    values = vca_masked_layer(ctx, layer)
    lo, hi = colour_limits(limit_sample(ctx, layer, values), symmetric=True)
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    image = show_layer(ax, ctx, values, colormaps["BrBG"], Normalize(lo, hi))
    fig.colorbar(
        image, ax=ax, shrink=0.8, extend="both", label=f"NPP trend slope K ({SLOPE_UNITS_TEX})"
    )
    subtitle(ax, ctx, f"OLS slope of annual NPP on year, {years_text(ctx.cfg)}")
    return finish_figure(fig, ctx, "Trend of NPP (evolution rate)", maps=[ax])


def _trend_shares(results: Any) -> dict[str, float]:
    table = results.trend_summary
    if table is None or table.empty:
        return {}
    rows = table[
        (table["region"].astype(str) == all_label(results))
        & np.isclose(table["alpha"].astype(float), results.config.alpha)
    ]
    return {str(r["class"]): float(r["area_share"]) for _, r in rows.iterrows()}


def fig_trend_class(ctx: FigureContext) -> Figure | None:
    values = vca_masked_layer(ctx, ctx.results.rasters["trend_class"], classes=True)
    codes = sorted(TREND_CLASS_STYLE)  # -2 … 2
    cmap = ListedColormap([TREND_CLASS_STYLE[c][2] for c in codes])
    norm = BoundaryNorm(np.arange(codes[0] - 0.5, codes[-1] + 1.0), cmap.N)
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    show_layer(ax, ctx, values, cmap, norm)
    shares = _trend_shares(ctx.results)
    entries = []
    for code in sorted(TREND_CLASS_STYLE, reverse=True):
        short, meaning, colour = TREND_CLASS_STYLE[code]
        share = shares.get(short, math.nan)
        text = f"{share * 100:.2f} %" if math.isfinite(share) else "n/a"
        entries.append((f"{short}  {meaning}: {text}", colour))
    alpha = ctx.cfg.alpha
    category_legend(ax, entries, f"class (α = {alpha:g}): share of VCA area")
    subtitle(ax, ctx, f"two-sided t-test of the OLS slope, {years_text(ctx.cfg)}")
    return finish_figure(fig, ctx, "NPP trend classes", maps=[ax])


def fig_pcs(ctx: FigureContext) -> Figure | None:
    rasters = ctx.results.rasters
    if (
        "pcs" not in rasters
        or "pcs_year" not in rasters["pcs"].dims
        or rasters["pcs"].sizes["pcs_year"] == 0
    ):
        return None
    pcs = rasters["pcs"]
    years = [int(y) for y in pcs["pcs_year"].values]
    layers = [vca_masked_layer(ctx, pcs.isel(pcs_year=i)) for i in range(len(years))]
    samples = [limit_sample(ctx, pcs.isel(pcs_year=i), v) for i, v in enumerate(layers)]
    lo, hi = colour_limits(np.concatenate([v.ravel() for v in samples]))
    norm = Normalize(min(lo, 0.0), hi)
    fig, axes = map_figure(ctx, len(years), panel_width=5.0 if len(years) > 1 else 7.5)
    image = None
    for ax, year, values in zip(axes, years, layers, strict=True):
        image = show_layer(ax, ctx, values, colormaps["YlOrRd"], norm, label_size=4.5, width=4.3)
        ax.set_title(f"PCS {year}", fontsize=10)
    fig.colorbar(
        image, ax=axes, shrink=0.8, extend="max", label=f"PCS = CSCC − NPP ({NPP_UNITS_TEX})"
    )
    panel_letters(axes)
    return finish_figure(fig, ctx, "Increase potential of NPP (PCS) in chosen years", maps=axes)


def _pick_years(years: Sequence[int]) -> list[int]:
    if not years:
        return []
    picks = [years[0], years[len(years) // 2], years[-1]]
    return sorted(set(picks))


def fig_maintenance(ctx: FigureContext) -> Figure | None:
    rasters = ctx.results.rasters
    if "maintenance" not in rasters or rasters["maintenance"].sizes.get("year", 0) == 0:
        return None
    surfaces = rasters["maintenance"]
    years = _pick_years([int(y) for y in surfaces["year"].values])
    cmap = ListedColormap([NEG_COLOUR, CHANGED_COLOUR, POS_COLOUR])
    norm = BoundaryNorm([-1.5, -0.5, 0.5, 1.5], cmap.N)
    fig, axes = map_figure(ctx, len(years), panel_width=5.0 if len(years) > 1 else 7.5)
    for ax, year in zip(axes, years, strict=True):
        show_layer(
            ax,
            ctx,
            vca_masked_layer(ctx, surfaces.sel(year=year), classes=True),
            cmap,
            norm,
            label_size=4.5,
            width=4.3,
        )
        ax.set_title(f"P {year}", fontsize=10)
    panel_letters(axes)
    ref = ctx.cfg.reference_year
    entries = [
        (f"+1: positive trend\nheld since {ref}", POS_COLOUR),
        (f"−1: negative trend\nheld since {ref}", NEG_COLOUR),
        ("0: trend changed\n(or zero)", CHANGED_COLOUR),
    ]
    fig.legend(
        handles=legend_boxes(entries),
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        title="maintenance surface P",
        title_fontsize=8.5,
        alignment="left",
    )
    return finish_figure(
        fig, ctx, f"Maintenance surfaces (growing windows from {ctx.cfg.start})", maps=axes
    )


def fig_maintenance_years(ctx: FigureContext) -> Figure | None:
    values = vca_masked_layer(ctx, ctx.results.rasters["maintenance_years"], classes=True)
    n = int(ctx.cfg.n_evaluation_years)
    finite = values[np.isfinite(values)]
    if finite.size:
        n = max(n, int(np.abs(finite).max()))
    n = max(n, 1)
    edges = np.arange(-n - 0.5, n + 1.0, 1.0)
    cmap = colormaps["RdBu"].resampled(edges.size - 1)
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    image = show_layer(ax, ctx, values, cmap, BoundaryNorm(edges, cmap.N))
    bar = fig.colorbar(
        image, ax=ax, shrink=0.8, label="years the initial trend held (− negative, + positive)"
    )
    bar.set_ticks(_year_ticks(-n, n, 5 if n > 8 else 1))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}" if v else "0"))
    cfg = ctx.cfg
    subtitle(ax, ctx, f"P$_{{t'}}$ × number of years with P ≠ 0, {cfg.reference_year}–{cfg.end}")
    return finish_figure(fig, ctx, "Maintenance years", maps=[ax])


def fig_csr_grade(ctx: FigureContext) -> Figure | None:
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
    view = dataclasses.replace(ctx, vca=None, outside=None, extent=extent, grid=None)
    fig, (ax,) = map_figure(view, 1, panel_width=7.5)
    fills, hatches = [], []
    for p in ctx.provinces:
        row = rows.get(p.name)
        grade = str(row["grade"]) if row is not None else "none"
        colour = GRADE_COLOURS.get(grade, GRADE_COLOURS["none"])
        fills.append(PathPatch(p.path, facecolor=colour, edgecolor="none"))
        if row is not None and "extrapolated" in str(row.get("flags", "")):
            hatches.append(PathPatch(p.path, fill=False, edgecolor="#6b6b6b", linewidth=0.0))
    # collections, not add_patch: that walks every Bézier segment of a patch for the limits
    ax.add_collection(PatchCollection(fills, match_original=True, zorder=1), autolim=False)
    hatched = bool(hatches)
    if hatched:
        ax.add_collection(
            PatchCollection(hatches, match_original=True, hatch="////", zorder=2), autolim=False
        )
    decorate_map(ax, view, label_size=6.0, width=6.5)
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
    category_legend(ax, list(GRADE_COLOURS.items()), "CSR grade\n(RS = τ⁺ − τ⁻)", extra=extra)
    national = rows.get(all_label(ctx.results))
    if national is not None:
        subtitle(
            ax,
            ctx,
            f"whole area: RS = {format_years(national.get('rs'))}, grade "
            f"“{plain_text(national.get('grade'))}”",
        )
    return finish_figure(fig, ctx, "Carbon sink resilience (CSR) grade", maps=[ax])
