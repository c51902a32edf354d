"""The report's record-length part (docs/method.md §7): how far the capacity can be trusted.

:func:`fig_running_capacity` draws the running capacity of every region as a share of its
final CSCC, year by year, and the whole area's CSCC with each year left out;
:func:`record_length_section` is the report's section (one sentence on how stable the
estimate is, then the per-region table). Both are empty when the run did not compute the
analysis (``capacity_sensitivity`` off).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gee_cscc.report.html_format import (
    Column,
    escape,
    format_number,
    format_percent,
    format_text,
    html_table,
)
from gee_cscc.report.style import FigureContext, all_label, finish_figure

__all__ = ["RUNNING_CAPACITY", "fig_running_capacity", "record_length_section", "running_caption"]

#: The figure's name (``figures/running_capacity.png``).
RUNNING_CAPACITY = "running_capacity"


def fig_running_capacity(ctx: FigureContext) -> Figure | None:
    """(a) Running capacity total / final CSCC per year, every region thin, the whole area
    bold; (b) the whole area's total CSCC with each year left out, relative to the full
    record (%). None when the run has no ``capacity_sensitivity`` table."""
    table = getattr(ctx.results, "capacity_sensitivity", None)
    if table is None or table.empty:
        return None
    whole = all_label(ctx.results)
    fig = Figure(figsize=(8.0, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for name, rows in table.groupby("region", sort=False):
        if name == whole:
            continue
        top.plot(rows["year"], 100 * rows["share_of_cscc"], color="#9e9e9e", lw=0.7, alpha=0.7)
    rows = table[table["region"] == whole]
    years = rows["year"].to_numpy(dtype=float)
    top.plot(years, 100 * rows["share_of_cscc"], "o-", color="#1b7837", lw=2.0, ms=3.5)
    top.plot([], [], color="#9e9e9e", lw=0.7, label="each region")
    top.plot([], [], "o-", color="#1b7837", lw=2.0, ms=3.5, label=whole)
    top.set_ylabel("running capacity / CSCC (%)")
    top.set_title("(a) CSCC with the record ending in each year", fontsize=9, loc="left")
    top.legend(loc="lower right", fontsize=8)
    top.grid(alpha=0.3)
    full = float(rows["running_cscc_tg"].iloc[-1])
    change = 100 * (rows["cscc_without_year_tg"].to_numpy(dtype=float) / full - 1.0)
    bottom.bar(years, change, color=np.where(change < 0, "#b2182b", "#2166ac"), width=0.7)
    bottom.axhline(0.0, color="black", lw=0.6)
    bottom.set_ylabel(f"{whole} CSCC change (%)")
    bottom.set_xlabel("year left out")
    bottom.set_title("(b) total CSCC with one year left out (jackknife)", fontsize=9, loc="left")
    bottom.grid(alpha=0.3, axis="y")
    return finish_figure(fig, ctx, "How far the carrying capacity can be trusted")


def running_caption(results: Any) -> str:
    """The caption of :func:`fig_running_capacity`."""
    cfg = results.config
    return (
        f"(a) The running capacity max(NPP) from {cfg.start} to each year, summed over the "
        "VCA, as a share of the final CSCC: the whole area bold, each region grey; a curve "
        "still climbing at the end means a longer record would raise the capacity. "
        "(b) The whole area's total CSCC with one year left out, relative to the full record "
        "(the leave-one-out values of the jackknife)."
    )


_COLUMNS: list[Column] = [
    ("region", "Region", format_text),
    ("cscc_tg", "CSCC (Tg C yr⁻¹)", format_number),
    ("stable_since", "Last rise > 0.1 %", lambda v: "—" if pd.isna(v) else str(int(v))),
    ("cscc_jk_se_tg", "Jackknife SE of CSCC (Tg C yr⁻¹)", lambda v: format_number(v, 3)),
    ("cscc_jk_rel_se", "SE / CSCC", format_percent),
    ("potential_tg", "Potential (Tg C yr⁻¹)", format_number),
    ("potential_jk_se_tg", "Jackknife SE of potential (Tg C yr⁻¹)", lambda v: format_number(v, 3)),
    ("rising_area_share", "VCA with CSCC in the last 5 years", format_percent),
]


def record_length_section(results: Any) -> str:
    """The report section on the record length (""; when the run did not compute it)."""
    stability = getattr(results, "capacity_stability", None)
    summary = (results.summary or {}).get("capacity_sensitivity")
    if stability is None or summary is None:
        return ""
    return (
        "<h2>How far the capacity can be trusted (record length)</h2>\n"
        f"<p><b>{escape(summary['sentence'])}</b></p>\n"
        '<p class="muted">CSCC is the largest NPP of the record, so a longer record can only '
        "raise it. The running capacity is that maximum with the record ending in each year; "
        "“last rise” is the last year its regional total rose by more than 0.1 %. The "
        "jackknife leaves one year out at a time (CSCC then is the largest NPP of the other "
        "years) and gives the standard error √((n−1)/n·Σ(θ₋ⱼ − θ̄)²) of the total CSCC and of "
        "the potential CSCC − NPP of the record's last year; the VCA is held fixed. Cells whose "
        "CSCC was set in the last 5 years are a capacity still rising. Per year: "
        "tables/capacity_sensitivity.csv; per cell: rasters/cscc_jk_se.tif, pcs_jk_se.tif "
        "(and the year CSCC stopped rising, cscc_year.tif).</p>\n" + html_table(stability, _COLUMNS)
    )
