"""Ticks, tick labels and grid lines of many equal small panels, drawn as a few plain artists.

Matplotlib gives every axis its own ``Tick`` objects (five artists each, located, formatted
and measured again for each panel and at every draw); in a grid of ~35 equal panels that is
most of the figure's cost. :class:`PanelTicks` locates and formats the ticks once, on the
first panel (with the locators and formatters Matplotlib would use), and draws them on
every panel as one line of tick marks per axis, one collection of grid lines and plain
texts for the labels, with Matplotlib's own sizes, pads, colours and z-order (rcParams), so
the panels look as with real ticks (tests compare the pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import TICKDOWN, TICKLEFT, TICKRIGHT, TICKUP, Line2D
from matplotlib.ticker import Locator, NullLocator

__all__ = ["PanelTicks"]


def _inside(locs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    lo, hi = min(lo, hi), max(lo, hi)
    tol = 1e-10 * max(hi - lo, 1e-300)  # as Matplotlib keeps ticks on the view limits
    return locs[(locs >= lo - tol) & (locs <= hi + tol)]


@dataclass(frozen=True)
class PanelTicks:
    """Major tick positions and labels shared by panels with the same limits."""

    xlocs: np.ndarray
    ylocs: np.ndarray
    xlabels: list[str]
    ylabels: list[str]
    labelsize: float
    grid_alpha: float | None  # None: no grid lines

    @classmethod
    def of(
        cls,
        ax: Axes,
        *,
        x_locator: Locator | None = None,
        labelsize: float = 6.0,
        grid_alpha: float | None = 0.3,
    ) -> PanelTicks | None:
        """The ticks Matplotlib would draw on ``ax`` (limits set; ``x_locator`` replaces the
        x axis's), or None when a formatter needs an offset text (then keep real ticks)."""
        if x_locator is not None:
            ax.xaxis.set_major_locator(x_locator)
        ax.tick_params(labelsize=labelsize)  # the y locator's "auto" bins count on it
        out = []
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            locs = _inside(np.asarray(axis.get_major_locator()(), dtype=float), *lim)
            formatter = axis.get_major_formatter()
            labels = list(formatter.format_ticks(locs))
            if formatter.get_offset():
                return None
            out.append((locs, labels))
        (xlocs, xlabels), (ylocs, ylabels) = out
        return cls(xlocs, ylocs, xlabels, ylabels, labelsize, grid_alpha)

    def draw(self, ax: Axes, *, labelbottom: bool, labelleft: bool) -> None:
        """Put the ticks on ``ax`` (its limits as the first panel's) instead of its own."""
        ax.xaxis.set_major_locator(NullLocator())
        ax.yaxis.set_major_locator(NullLocator())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_locator(NullLocator())
        zorder = 1.5 if rcParams["axes.axisbelow"] == "line" else 2.5
        if rcParams["axes.axisbelow"] is True:
            zorder = 0.5
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        if self.grid_alpha is not None:
            segments = [((x, y0), (x, y1)) for x in self.xlocs]
            segments += [((x0, y), (x1, y)) for y in self.ylocs]
            ax.add_collection(
                LineCollection(
                    segments,
                    colors=rcParams["grid.color"],
                    linewidths=rcParams["grid.linewidth"],
                    linestyles=rcParams["grid.linestyle"],
                    alpha=self.grid_alpha,
                    zorder=zorder,
                ),
                autolim=False,
            )
        for which, locs, labels, show in (
            ("x", self.xlocs, self.xlabels, labelbottom),
            ("y", self.ylocs, self.ylabels, labelleft),
        ):
            size = rcParams[f"{which}tick.major.size"]
            direction = rcParams[f"{which}tick.direction"]
            pad = rcParams[f"{which}tick.major.pad"] + size * {"in": 0.0, "inout": 0.5}.get(
                direction, 1.0
            )
            colour = rcParams[f"{which}tick.color"]
            label_colour = rcParams[f"{which}tick.labelcolor"]
            label_colour = colour if label_colour == "inherit" else label_colour
            if which == "x":
                marker = {"out": TICKDOWN, "in": TICKUP}.get(direction, "|")
                data = (locs, np.zeros_like(locs))
                transform = ax.get_xaxis_transform(which="tick1")
                text_transform, va, ha = ax.get_xaxis_text1_transform(pad)
            else:
                marker = {"out": TICKLEFT, "in": TICKRIGHT}.get(direction, "_")
                data = (np.zeros_like(locs), locs)
                transform = ax.get_yaxis_transform(which="tick1")
                text_transform, va, ha = ax.get_yaxis_text1_transform(pad)
            if size > 0 and locs.size:
                ax.add_line(
                    Line2D(
                        *data,
                        ls="none",
                        marker=marker,
                        markersize=size,
                        color=colour,
                        markeredgewidth=rcParams[f"{which}tick.major.width"],
                        transform=transform,
                        clip_on=False,
                        zorder=zorder,
                    )  # fmt: skip
                )
            if not show:
                continue
            for loc, label in zip(locs, labels, strict=True):
                xy = (loc, 0.0) if which == "x" else (0.0, loc)
                ax.text(
                    *xy, label, transform=text_transform, va=va, ha=ha, color=label_colour,
                    fontsize=self.labelsize, clip_on=False, zorder=zorder,
                )  # fmt: skip
