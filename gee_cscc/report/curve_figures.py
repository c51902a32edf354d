"""The curve figures of a run: annual NPP and the decay of the maintained trends."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gee_cscc.report.light_axes import PanelTicks
from gee_cscc.report.style import (
    NEG_COLOUR,
    NPP_UNITS_TEX,
    POS_COLOUR,
    SLOPE_UNITS_TEX,
    FigureContext,
    all_label,
    finish_figure,
    format_years,
    panel_letters,
    plain_text,
    subtitle,
    years_text,
)


def fig_yearly(ctx: FigureContext) -> Figure | None:
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
            label=f"OLS trend: {slope:+.2f} {SLOPE_UNITS_TEX}{p_text}",
        )
    top.set_ylabel(f"mean NPP ({NPP_UNITS_TEX})")
    subtitle(top, ctx, "national (whole VCA) mean NPP", fontsize=9.5)
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
        sat = yearly["saturation_share"].to_numpy(dtype=float) * 100
        right.plot(years, sat, "s-", color="#e08214", ms=3, lw=1.0, label="saturation S")
        right.set_ylabel("saturation S (%)")
    bottom.legend(fontsize=8, loc="lower right", framealpha=0.9)
    subtitle(bottom, ctx, "total NPP and saturation", fontsize=9.5)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    panel_letters([top, bottom])
    return finish_figure(fig, ctx, f"Annual NPP {years_text(ctx.cfg)}")


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
    symbol = "τ⁺" if sign == "pos" else "τ⁻"  # Unicode, not mathtext: no parsing per panel
    tau = _num(row, f"tau_{sign}")
    if math.isnan(tau):
        why = "no cells" if f"{sign}:no_cells" in flags else "not fitted"
        if f"{sign}:too_few_cells" in flags:
            why = "too few cells"
        return f"{symbol}: none ({why})"
    if math.isinf(tau):
        return f"{symbol} = ∞ ({'no cell lost' if f'{sign}:no_loss' in flags else 'no decay'})"
    text = f"{symbol} = {format_years(tau)}"
    if detailed:
        low, high = _num(row, f"tau_{sign}_low"), _num(row, f"tau_{sign}_high")
        if math.isfinite(low) or math.isinf(high):
            bounds = "–".join(format_years(v).removesuffix(" yr") for v in (low, high))
            text += f" [95 % CI {bounds}]"
        lam, r2 = _num(row, f"lambda_{sign}"), _num(row, f"r2_{sign}")
        text += f", λ = {lam:.3f}" if math.isfinite(lam) else ""
        text += f", R² = {r2:.3f}" if math.isfinite(r2) else ""
    if f"{sign}:extrapolated" in flags:
        text += " (extrapolated)" if detailed else "*"
    return text


def _decay_panel(
    ax: Axes, ctx: FigureContext, counts: pd.DataFrame, row: Any, *, detailed: bool
) -> None:
    """Observed q⁺, q⁻ of one region and the fitted q = λ·exp(−(t − t')/τ) (paper Fig. 9A)."""
    cfg = ctx.cfg
    ref, end = int(cfg.reference_year), int(cfg.end)
    flags = set(str(row.get("flags", "") or "").split(";")) if row is not None else set()
    t = np.linspace(ref, end, 200)
    for sign, colour, marker in (("pos", POS_COLOUR, "o"), ("neg", NEG_COLOUR, "s")):
        if not counts.empty:
            q = counts[f"q_{sign}_share"].to_numpy(dtype=float)
            symbol = "q⁺" if sign == "pos" else "q⁻"
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
        if not detailed:  # a small panel: the τ as a line of text, no legend to lay out
            y = 0.04 if sign == "neg" else 0.15
            ax.text(0.04, y, label, transform=ax.transAxes, fontsize=5.5, color=colour,
                    ha="left", va="bottom")  # fmt: skip
            label = "_nolegend_"
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
                label=f"plateau of q{'⁺' if sign == 'pos' else '⁻'} from {int(onset)}",
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
    ratios = (
        counts[["q_pos_share", "q_neg_share"]].to_numpy(dtype=float) * 100
        if not counts.empty
        else None
    )
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
    if not detailed:  # the grid of small panels draws light ticks (fig_decay_curves)
        return
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.tick_params(labelsize=8)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            fontsize=8 if detailed else 5.5,
            loc="best",
            framealpha=0.85,
            handlelength=1.2 if detailed else 0.9,
            borderpad=0.3,
        )


def _decay_inputs(results: Any) -> list[tuple[str, pd.DataFrame, Any]]:
    """(region, its counts by year, its resilience row or None), in table order."""
    counts = results.maintenance_counts
    table = results.resilience
    names: dict[str, None] = {}
    groups: dict[str, pd.DataFrame] = {}
    rows: dict[str, Any] = {}
    if table is not None and not table.empty:
        for _, row in table.iterrows():
            names.setdefault(str(row["region"]))
            rows.setdefault(str(row["region"]), row)
    if counts is not None and not counts.empty:
        keys = counts["region"].astype(str)
        names.update(dict.fromkeys(keys))
        groups = {name: sub.sort_values("year") for name, sub in counts.groupby(keys, sort=False)}
    return [(name, groups.get(name, pd.DataFrame()), rows.get(name)) for name in names]


def fig_decay_all(ctx: FigureContext) -> Figure | None:
    inputs = [i for i in _decay_inputs(ctx.results) if i[0] == all_label(ctx.results)]
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
        title += f"; RS = τ⁺ − τ⁻ = {format_years(row.get('rs'))}, grade “{plain_text(row.get('grade'))}”"
    subtitle(ax, ctx, title)
    return finish_figure(fig, ctx, "Decay of the maintained trends, whole area")


def fig_decay_curves(ctx: FigureContext) -> Figure | None:
    inputs = _decay_inputs(ctx.results)
    if not inputs:
        return None
    ncols = min(len(inputs), 6)
    nrows = math.ceil(len(inputs) / ncols)
    cfg = ctx.cfg
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    extrapolated = any(
        row is not None and "extrapolated" in str(row.get("flags", "")) for *_, row in inputs
    )
    # A fixed grid (margins in inches), not a constrained layout: the panels' text is
    # the same size in every panel, so measuring it for each of ~35 panels is wasted work.
    top_in = 0.55 + 0.02 * (2.1 * nrows + 1.0) + (0.22 if extrapolated else 0.0)
    bottom_in = 0.45 if ctx.synthetic else 0.25
    width, height = 2.55 * ncols + 0.4, 2.1 * nrows + 0.2 + top_in + bottom_in
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(  # not shared: each panel has the same limits and light ticks
        nrows,
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": 0.62 / width,
            "right": 1 - 0.12 / width,
            "top": 1 - top_in / height,
            "bottom": (bottom_in + 0.2) / height,
            "wspace": 0.12 / 2.4,
            "hspace": 0.5 / 1.6,
        },
    ).ravel()
    for ax, (name, counts, row) in zip(axes, inputs, strict=False):
        _decay_panel(ax, ctx, counts, row, detailed=False)
        ax.set_title(
            plain_text(name),
            fontsize=8.5,
            fontweight="bold" if name == all_label(ctx.results) else "normal",
            y=1.0,  # a fixed y: the axes below the title are not measured for each panel
        )
    # ticks located and formatted once, drawn as plain artists on every panel
    ticks = PanelTicks.of(axes[0], x_locator=MaxNLocator(integer=True, nbins=3), labelsize=6)
    for i, ax in enumerate(axes[: len(inputs)]):  # year labels under each column's last panel
        labels = {"labelbottom": i + ncols >= len(inputs), "labelleft": i % ncols == 0}
        if ticks is not None:
            ticks.draw(ax, **labels)
        else:
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
            ax.tick_params(labelsize=6, **labels)
    for ax in axes[len(inputs) :]:
        ax.set_visible(False)
    fig.supylabel(f"q = N / N$_{{{cfg.reference_year}}}$", fontsize=9, x=0.1 / width)
    title = "Decay of the maintained trends: q⁺ (blue circles), q⁻ (red squares), fitted curves"
    if extrapolated:
        title += (
            f"\n* τ extrapolated: τ > {limit:g} yr, far beyond the "
            f"{cfg.n_evaluation_years}-year fitting window"
        )
    return finish_figure(fig, ctx, title)
