"""The Agg canvas of the figures: text measured once per process, not once per pass and figure.

Matplotlib caches the size of a text per renderer object. A figure without a canvas gets a
new renderer for every layout pass, and the file's renderer is new again: every tick label,
title and legend entry was measured anew in each pass of each figure and once more when
drawn. The size of a text depends on its font and the dpi only, so here:

* :class:`MeasuringCanvas` lays a figure out (while ``measuring`` is set) on one small
  renderer per dpi shared by every figure of the process;
* it draws on a :class:`SharedMetricsRenderer`, an Agg renderer whose text sizes come from
  that same shared measure (:func:`text_size`, an LRU cache), so what the layout measured
  is not measured again when the figure is drawn.

Both are ordinary subclasses (Agg canvas, Agg renderer): the pixels are those of
``FigureCanvasAgg``.
"""

from __future__ import annotations

import functools
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

__all__ = ["MeasuringCanvas", "SharedMetricsRenderer", "text_size"]

_MEASURE: dict[float, RendererAgg] = {}  # one measuring renderer per dpi, for every figure


def _measurer(dpi: float) -> RendererAgg:
    renderer = _MEASURE.get(dpi)
    if renderer is None:
        renderer = _MEASURE[dpi] = SharedMetricsRenderer(1, 1, dpi)
    return renderer


@functools.lru_cache(maxsize=16384)
def text_size(text: str, prop: Any, ismath: Any, dpi: float) -> tuple[float, float, float]:
    """Width, height and descent in pixels of ``text`` in the font ``prop`` at ``dpi`` (as
    ``RendererAgg.get_text_width_height_descent``), measured once per process."""
    return RendererAgg.get_text_width_height_descent(_measurer(dpi), text, prop, ismath)


class SharedMetricsRenderer(RendererAgg):
    """An Agg renderer whose text sizes come from :func:`text_size` (shared by all)."""

    def get_text_width_height_descent(self, s: str, prop: Any, ismath: Any) -> Any:
        if ismath == "TeX":  # usetex: the TeX manager's own measure
            return super().get_text_width_height_descent(s, prop, ismath)
        # a copy: FontProperties is mutable and hashed by its state
        return text_size(s, prop.copy(), ismath, float(self.dpi))


class MeasuringCanvas(FigureCanvasAgg):
    """An Agg canvas that lays out on the shared measuring renderer of its dpi while
    ``measuring`` is set, and draws on its own :class:`SharedMetricsRenderer`."""

    measuring = False
    _drawn_key: tuple[int, int, float] | None = None

    def get_renderer(self) -> RendererAgg:
        if self.measuring:
            return _measurer(float(self.figure.dpi))
        w, h = self.get_width_height(physical=True)
        key = (w, h, float(self.figure.dpi))
        if self._drawn_key != key:  # as FigureCanvasAgg: a new renderer for a new size
            self.renderer = SharedMetricsRenderer(w, h, self.figure.dpi)
            self._drawn_key = key
        return self.renderer
