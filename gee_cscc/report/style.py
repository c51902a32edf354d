"""What every figure of :mod:`gee_cscc.report.figures` shares: colours, units, the context.

A :class:`FigureContext` carries the run, the region outlines and the VCA layers to every figure
maker; :func:`finish_figure` gives each figure its title (none in the ``"paper"`` style, where
the captions carry the titles) and, for demo data, the synthetic-data note, and trims the blank
around map panels; :func:`panel_letters` letters the panels of a multi-panel figure (a, b, …).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath

from gee_cscc.report.agg_canvas import MeasuringCanvas

#: Trend class code → (short name, meaning, colour) (docs/method.md §3; colours from BrBG).
TREND_CLASS_STYLE: dict[int, tuple[str, str, str]] = {
    2: ("SI", "significant increase", "#01665e"),
    1: ("II", "insignificant increase", "#80cdc1"),
    0: ("0", "no trend (K = 0)", "#bdbdbd"),
    -1: ("ID", "insignificant decrease", "#dfc27d"),
    -2: ("SD", "significant decrease", "#8c510a"),
}
#: CSR grade (docs/method.md §5) → fill colour, strongest first.
GRADE_COLOURS: dict[str, str] = {
    "extremely strong": "#08519c",
    "stronger": "#4292c6",
    "strong": "#9ecae1",
    "weak": "#fdae6b",
    "weaker": "#d94801",
    "none": "#e0e0e0",
}
POS_COLOUR, NEG_COLOUR = (
    "#2166ac",
    "#b2182b",
)  # maintained positive (blue) / negative (red), paper Fig. 8
CHANGED_COLOUR = "#f2d675"  # trend changed: muted yellow, apart from the grey of non-VCA land
OUTSIDE_VCA_COLOUR = "#e2e2e2"
SYNTHETIC_NOTE = "SYNTHETIC DEMO DATA (not real observations)"
NPP_UNITS_TEX = r"g C m$^{-2}$ yr$^{-1}$"
SLOPE_UNITS_TEX = r"g C m$^{-2}$ yr$^{-2}$"
ALL_LABEL = "ALL"


def all_label(results: Any) -> str:
    """The name of a run's whole-area row: ``Config.all_label`` (:data:`ALL_LABEL` unset)."""
    return str(getattr(getattr(results, "config", None), "all_label", None) or ALL_LABEL)


# --------------------------------------------------------------------------- context


class Province(NamedTuple):
    name: str
    rings: list[np.ndarray]  # every boundary ring (lon, lat), for outlines
    path: MplPath  # filled outline, holes wound the other way
    label_at: tuple[float, float]
    size: float  # area in square degrees (larger provinces keep their label spot)


@dataclass
class FigureContext:
    """What every figure of one call shares."""

    results: Any
    synthetic: bool
    provinces: list[Province]
    vca: Any  # the full-resolution vca layer (xarray, 1 inside), or None when there is none
    outside: np.ndarray | None  # north-up preview: True on region cells outside the VCA
    extent: tuple[float, float, float, float] | None
    grid: Any = None  # gee_cscc.report.map_preview.MapGrid of the maps' previews
    style: str = "report"  # "paper": no titles baked in (the captions carry them)
    dpi: float | None = None  # the files' dpi: laid out at it, text is measured once

    @property
    def paper(self) -> bool:
        return self.style == "paper"

    @property
    def cfg(self) -> Any:
        return self.results.config


def plain_text(text: object) -> str:
    """Text safe from Matplotlib's mathtext (a ``$`` in a region name stays a ``$``)."""
    return str(text).replace("$", r"\$")


def years_text(cfg: Any) -> str:
    return f"{cfg.start}–{cfg.end}"


def format_years(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:,.0f} yr" if abs(v) >= 100 else f"{v:,.1f} yr"


# --------------------------------------------------------------------------- titles and layout


def finish_figure(
    fig: Figure, ctx: FigureContext, title: str, *, maps: Sequence[Axes] = ()
) -> Figure:
    """Add the figure title (not in the paper style) and the synthetic-data note; trim the
    blank around maps."""
    if not ctx.paper:
        fig.suptitle(plain_text(title), fontsize=11.5, fontweight="bold")
    if ctx.synthetic:
        fig.supxlabel(SYNTHETIC_NOTE, color="#c00000", fontsize=9.5, fontweight="bold")
    if ctx.dpi:  # text laid out at the dpi it is saved at: its measures are reused when drawn
        fig.set_dpi(ctx.dpi)
    canvas = fig.canvas if isinstance(fig.canvas, MeasuringCanvas) else MeasuringCanvas(fig)
    canvas.measuring = True
    try:
        _trim(fig, maps)
        _freeze_layout(fig)
    finally:
        canvas.measuring = False
    return fig


def subtitle(ax: Axes, ctx: FigureContext, text: str, *, fontsize: float = 9) -> None:
    """A panel's descriptive title: drawn in the report style, left out in the paper style."""
    if not ctx.paper:
        ax.set_title(text, fontsize=fontsize)


def letter(i: int) -> str:
    """The panel letter of the ``i``-th panel (0 → a, 25 → z, 26 → aa)."""
    text = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        text = chr(ord("a") + r) + text
    return text


def panel_letters(axes: Sequence[Axes]) -> None:
    """Bold letters a, b, c … at the top left of each panel, outside the plotting area.

    Each letter is an axes text with the gid ``panel-letter`` (tests and users find them).
    """
    if len(axes) < 2:
        return
    for i, ax in enumerate(axes):
        ax.text(
            -0.02, 1.02, letter(i), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=12, fontweight="bold", gid="panel-letter", in_layout=False,
        )  # fmt: skip


def _freeze_layout(fig: Figure) -> None:
    """Lay the figure out once, here, and switch the layout engine off.

    With a layout engine on, ``savefig`` first draws the whole figure without output (to
    lay it out), resampling every image, then draws it again; laid out beforehand it draws once.
    """
    engine = fig.get_layout_engine()
    if engine is None or not engine.__class__.__name__.startswith("Constrained"):
        return
    engine.execute(fig)
    # None (not "none", a placeholder savefig would still lay out for): no engine at all,
    # whatever the user's rcParams say about a default one
    with rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)


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
