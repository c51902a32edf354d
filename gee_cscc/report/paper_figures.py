"""The paper's figures beyond the per-layer maps: the study area, the PCS difference between two
years and the per-region bar charts of Table 1 (capacity and potential) and Table 2
(maintenance counts).

Bars are drawn for the regions only (the whole-area row ``Config.all_label`` is left out: its
bar would dwarf every region's), sorted by CSCC, largest first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

from gee_cscc.report.map_canvas import (
    category_legend,
    colour_limits,
    limit_sample,
    map_figure,
    show_layer,
    vca_masked_layer,
)
from gee_cscc.report.map_preview import lazy_difference
from gee_cscc.report.style import (
    NEG_COLOUR,
    NPP_UNITS_TEX,
    POS_COLOUR,
    FigureContext,
    all_label,
    finish_figure,
    panel_letters,
    plain_text,
    subtitle,
)

__all__ = [
    "difference_years",
    "fig_capacity_bars",
    "fig_maintenance_bars",
    "fig_pcs_difference",
    "fig_study_area",
]

VCA_COLOUR = "#74a95b"


def fig_study_area(ctx: FigureContext) -> Figure | None:
    """The regions (outlines, labels) and the vegetation-covered area (VCA) in green."""
    if ctx.vca is None:
        return None
    values = vca_masked_layer(ctx, ctx.vca, classes=True)  # 1 in the VCA, NaN elsewhere
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    show_layer(ax, ctx, values, ListedColormap([VCA_COLOUR]), Normalize(0.0, 2.0))
    entries = [("vegetation-covered area (VCA)", VCA_COLOUR)]
    if ctx.outside is not None:
        entries.append(("region land outside the VCA", "#e2e2e2"))
    category_legend(ax, entries, "study area")
    area = (ctx.results.summary or {}).get("vca_area_km2")
    if area is not None and math.isfinite(float(area)):
        subtitle(ax, ctx, f"VCA: {float(area):,.0f} km²")
    return finish_figure(fig, ctx, "Study area: regions and vegetation-covered area", maps=[ax])


def difference_years(cfg: Any, years: list[int]) -> tuple[int, int] | None:
    """The two PCS years of the difference: t' and the last year when both have a PCS layer,
    else the first and last PCS years; None with fewer than two."""
    if len(years) < 2:
        return None
    if cfg.reference_year in years and cfg.end in years and cfg.reference_year != cfg.end:
        return int(cfg.reference_year), int(cfg.end)
    return int(years[0]), int(years[-1])


def fig_pcs_difference(ctx: FigureContext) -> Figure | None:
    """PCS of the later year minus PCS of the earlier one (g C m⁻² yr⁻¹)."""
    rasters = ctx.results.rasters
    if "pcs" not in rasters or "pcs_year" not in rasters["pcs"].dims:
        return None
    pcs = rasters["pcs"]
    years = [int(y) for y in pcs["pcs_year"].values]
    pair = difference_years(ctx.cfg, years)
    if pair is None:
        return None
    first, last = pair
    diff = lazy_difference(pcs.sel(pcs_year=last), pcs.sel(pcs_year=first))  # by strips
    values = vca_masked_layer(ctx, diff)
    lo, hi = colour_limits(limit_sample(ctx, diff, values), symmetric=True)
    fig, (ax,) = map_figure(ctx, 1, panel_width=7.5)
    image = show_layer(ax, ctx, values, colormaps["RdBu_r"], Normalize(lo, hi))
    fig.colorbar(
        image, ax=ax, shrink=0.8, extend="both",
        label=f"PCS$_{{{last}}}$ − PCS$_{{{first}}}$ ({NPP_UNITS_TEX})",
    )  # fmt: skip
    subtitle(ax, ctx, f"red: more room to grow in {last} than in {first}; blue: less")
    return finish_figure(
        fig, ctx, f"Change of the increase potential, {first} to {last}", maps=[ax]
    )


def _regions_only(frame: pd.DataFrame | None, results: Any) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame()
    return frame[frame["region"].astype(str) != all_label(results)]


def _bar_figure(n: int, panels: int) -> tuple[Figure, list[Any]]:
    height = max(3.0, 0.19 * n + 1.2)
    fig = Figure(figsize=(4.2 * panels + 0.8, height), layout="constrained")
    axes = fig.subplots(1, panels, sharey=True, squeeze=False).ravel().tolist()
    return fig, axes


def fig_capacity_bars(ctx: FigureContext) -> Figure | None:
    """Table 1 per region: CSCC split into NPP of the last year and the potential (a), and the
    potential as a share of CSCC (b)."""
    table = _regions_only(getattr(ctx.results, "capacity", None), ctx.results)
    if table.empty:
        return None
    table = table.sort_values("cscc_tg", ascending=True)  # largest at the top
    names = [plain_text(r) for r in table["region"]]
    y = np.arange(len(names))
    npp = table["current_npp_tg"].to_numpy(dtype=float)
    potential = table["potential_tg"].to_numpy(dtype=float)
    share = table["potential_share_of_cscc"].to_numpy(dtype=float) * 100
    end = ctx.cfg.end
    fig, (left, right) = _bar_figure(len(names), 2)
    left.barh(y, npp, color="#1b7837", label=f"NPP {end}")
    left.barh(y, potential, left=npp, color="#fdb863", label=f"potential {end} (CSCC − NPP)")
    left.set_yticks(y, names, fontsize=7)
    left.set_xlabel(r"Tg C yr$^{-1}$ (bar length: CSCC)")
    left.legend(fontsize=7, loc="lower right")
    subtitle(left, ctx, "carrying capacity and increase potential")
    right.barh(y, share, color="#e08214")
    right.set_xlabel("potential / CSCC (%)")
    subtitle(right, ctx, f"increase potential {end} as a share of CSCC")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.7, len(names) - 0.3)
    panel_letters([left, right])
    return finish_figure(fig, ctx, "Carrying capacity and increase potential per region (Table 1)")


def fig_maintenance_bars(ctx: FigureContext) -> Figure | None:
    """Table 2 per region: cells with a positive (a) and a negative (b) trend at t' and those
    that kept it to the last year."""
    counts = _regions_only(getattr(ctx.results, "maintenance_counts", None), ctx.results)
    if counts.empty:
        return None
    cfg = ctx.cfg
    ref, end = int(cfg.reference_year), int(counts["year"].max())
    counts = counts.assign(region=counts["region"].astype(str))
    first = counts[counts["year"] == ref].set_index("region")
    last = counts[counts["year"] == end].set_index("region")
    order = _regions_only(getattr(ctx.results, "capacity", None), ctx.results)
    names = [str(r) for r in order.sort_values("cscc_tg")["region"]] if not order.empty else []
    names = [n for n in names if n in first.index] or sorted(first.index)
    y = np.arange(len(names))
    fig, axes = _bar_figure(len(names), 2)
    for ax, sign, colour, symbol in (
        (axes[0], "pos", POS_COLOUR, "N⁺"),
        (axes[1], "neg", NEG_COLOUR, "N⁻"),
    ):
        at_ref = first.reindex(names)[f"n_{sign}"].to_numpy(dtype=float)
        at_end = last.reindex(names)[f"n_{sign}"].to_numpy(dtype=float)
        ax.barh(y + 0.2, at_ref, height=0.4, color=colour, alpha=0.35, label=f"{symbol} {ref}")
        ax.barh(y - 0.2, at_end, height=0.4, color=colour, label=f"{symbol} {end} (kept)")
        ax.set_xlabel("cells")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.7, len(names) - 0.3)
        what = "positive" if sign == "pos" else "negative"
        subtitle(ax, ctx, f"cells whose {what} trend of {ref} held to {end}")
    axes[0].set_yticks(y, [plain_text(n) for n in names], fontsize=7)
    panel_letters(axes)
    return finish_figure(fig, ctx, "Cells that kept their trend per region (Table 2)")
