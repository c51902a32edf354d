"""The report's pixel-scale CSR part (docs/method.md §7): the map figure and the section.

:func:`fig_csr_pixel` maps the CSR grade and RS of every cell (each from the maintenance
ratios of its neighbourhood); :func:`csr_pixel_section` says in a few sentences how they
were made and how the vegetation-covered area splits over the grades. Both are empty when
the run did not compute pixel CSR (``csr_pixel`` unset).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from gee_cscc.config.fields import CSR_GRADE_CODES
from gee_cscc.report.html_format import escape
from gee_cscc.report.map_canvas import category_legend, map_figure, show_layer, vca_masked_layer
from gee_cscc.report.style import GRADE_COLOURS, FigureContext, finish_figure

__all__ = [
    "CSR_PIXEL_FIGURE",
    "NONE_COLOUR",
    "csr_pixel_caption",
    "csr_pixel_section",
    "fig_csr_pixel",
    "subtitle",
]

#: The figure's name (``figures/csr_pixel.png``).
CSR_PIXEL_FIGURE = "csr_pixel"

#: The colour of VCA cells without a grade (not the grey of land outside the VCA).
NONE_COLOUR = "#cbb89d"

#: ``csr_grade`` codes (rasters/csr_grade.tif) → grades, weakest to strongest after "none".
_CODES = CSR_GRADE_CODES


def subtitle(ax: Any, ctx: FigureContext, text: str) -> None:
    """A panel's title (left out in the paper style, whose captions carry them)."""
    if not getattr(ctx, "paper", False):
        ax.set_title(text, fontsize=9)


def _summary(results: Any) -> dict | None:
    return (getattr(results, "summary", None) or {}).get("csr_pixel")


def _share(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f} %"


def fig_csr_pixel(ctx: FigureContext) -> Figure | None:
    """(a) The CSR grade per cell; (b) RS per cell (years, ±∞ at the colour bar's ends).
    None without pixel CSR."""
    rasters = ctx.results.rasters
    summary = _summary(ctx.results)
    if summary is None or "csr_grade" not in rasters:
        return None
    grade = vca_masked_layer(ctx, rasters["csr_grade"], classes=True)
    fig, (left, right) = map_figure(ctx, 2, panel_width=5.5)
    codes = sorted(_CODES)
    colours = {**GRADE_COLOURS, "none": NONE_COLOUR}
    cmap = ListedColormap([colours[_CODES[c]] for c in codes])
    show_layer(left, ctx, grade, cmap, BoundaryNorm(np.arange(-0.5, len(codes)), cmap.N))
    shares = summary.get("grade_area_share") or {}
    entries = [
        (f"{_CODES[c]}: {_share(shares.get(_CODES[c]))}", colours[_CODES[c]])
        for c in reversed(codes)
    ]
    category_legend(left, entries, "CSR grade: share of VCA area")
    subtitle(left, ctx, f"(a) grade, neighbourhood {summary['radius']} {summary['kernel']}")
    rs = vca_masked_layer(ctx, rasters["csr_rs"], classes=True)
    top = float(ctx.cfg.grade_thresholds[0])
    edges = np.array([-2 * top, -top, -100.0, -50.0, 0.0, 50.0, 100.0, top, 2 * top])
    edges = np.unique(np.clip(edges, -2 * top, 2 * top))
    rs_cmap = colormaps["RdBu"].resampled(edges.size - 1)
    image = show_layer(
        right, ctx, np.clip(rs, edges[0], edges[-1]), rs_cmap, BoundaryNorm(edges, rs_cmap.N)
    )
    fig.colorbar(image, ax=right, shrink=0.8, label="RS = τ⁺ − τ⁻ (years; ends include ±∞)")
    subtitle(right, ctx, f"(b) RS per cell, {summary['fit_mode']} fit")
    return finish_figure(fig, ctx, "Carbon sink resilience per cell", maps=[left, right])


def csr_pixel_caption(results: Any) -> str:
    """The caption of :func:`fig_csr_pixel`."""
    s = _summary(results) or {}
    cfg = results.config
    return (
        f"Carbon sink resilience per cell: for each cell, the maintenance ratios q⁺, q⁻ of "
        f"the cells within {s.get('radius')} ({s.get('kernel')}) give τ⁺, τ⁻ by a "
        f"{s.get('fit_mode')} fit and RS = τ⁺ − τ⁻, graded as the regions "
        f"(thresholds {', '.join(f'{t:g}' for t in cfg.grade_thresholds)} years). Tan "
        f"(none): fewer than {s.get('min_cells')} kept cells of a sign at "
        f"{cfg.reference_year} in the neighbourhood, or RS undefined (∞ − ∞); those cells are "
        "blank in (b), whose colour bar's ends hold RS beyond it, ±∞ included."
    )


def csr_pixel_section(results: Any) -> str:
    """The report section on pixel-scale CSR ("" when the run did not compute it)."""
    s = _summary(results)
    if s is None:
        return ""
    cfg = results.config
    shares = s.get("grade_area_share") or {}
    split = ", ".join(
        f"{name} {_share(shares.get(name))}" for name in reversed(list(_CODES.values()))
    )
    cells = s.get("kernel_cells")
    size = f", {cells} cells" if cells else ""
    sentences = [
        f"Resilience per cell uses a moving window instead of a province: around every cell "
        f"the cells within {s['radius']} ({s['kernel']}{size}) give the maintenance ratios "
        f"q⁺ᵢ, q⁻ᵢ of eq. 10, and τ⁺, τ⁻ come from a closed-form decay fit of ln q on the "
        f"years since {cfg.reference_year} ({s['fit_note']}).",
        f"A sign with fewer than {s['min_cells']} kept cells at {cfg.reference_year} in the "
        "window has no τ, and RS = τ⁺ − τ⁻ follows the regions' rules for infinite τ.",
        f"{_share(s.get('graded_share'))} of the vegetation-covered area has a grade: {split}.",
        f"{_share(s.get('extrapolated_share'))} of it has a τ beyond "
        f"{s['extrapolation_limit_years']:g} years, an extrapolation far past the "
        f"{cfg.n_evaluation_years} years fitted; read those grades as 'no decay seen'.",
        "Neighbouring cells share most of their windows, so the map is smooth by "
        "construction and its cells are not independent estimates.",
    ]
    note = ""
    if getattr(results, "mode", "") == "batch":
        note = (
            '<p class="muted">Batch mode: these shares are from the preview rasters; the '
            "exported result image holds the full-resolution bands.</p>\n"
        )
    return (
        "<h2>Carbon sink resilience per cell</h2>\n"
        f"<p>{escape(' '.join(sentences))}</p>\n"
        f"{note}"
        '<p class="muted">Rasters: rasters/csr_grade.tif (5 extremely strong … 1 weaker, '
        "0 none), csr_rs.tif, tau_pos.tif, tau_neg.tif (years; inf where a trend does not "
        "decay), also in results.nc.</p>\n"
    )
