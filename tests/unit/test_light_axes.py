"""Light ticks of small panels look as Matplotlib's own ticks: same pixels, fewer artists."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gee_cscc.report.light_axes import PanelTicks


def _panels(light: bool) -> np.ndarray:
    fig = Figure(figsize=(5.0, 3.2), dpi=100)
    axes = fig.subplots(2, 2, gridspec_kw={"wspace": 0.3, "hspace": 0.4}).ravel()
    rng = np.random.default_rng(1)
    for ax in axes:
        ax.plot(np.arange(2000, 2019), rng.random(19), "o", ms=2)
        ax.set_xlim(1999.5, 2018.5)
        ax.set_ylim(0, 1.08)
    labels = [{"labelbottom": i >= 2, "labelleft": i % 2 == 0} for i in range(4)]
    if light:
        ticks = PanelTicks.of(axes[0], x_locator=MaxNLocator(integer=True, nbins=3), labelsize=6)
        assert ticks is not None
        for ax, lab in zip(axes, labels, strict=True):
            ticks.draw(ax, **lab)
    else:  # the reference: Matplotlib's own ticks and grid
        for ax, lab in zip(axes, labels, strict=True):
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
            ax.tick_params(labelsize=6, **lab)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_light_ticks_draw_the_same_pixels_as_matplotlib_ticks():
    real, light = _panels(False), _panels(True)
    assert real.shape == light.shape
    differ = np.abs(real.astype(int) - light.astype(int)).max(axis=2) > 0
    assert differ.mean() < 1e-4, f"{differ.sum()} pixels differ"
    # there is something to compare: tick labels and grid lines darken the panels
    assert (real[..., :3] < 200).any(axis=2).sum() > 1000


def test_ticks_are_located_and_labelled_as_matplotlib_would():
    fig = Figure(figsize=(2.5, 2.0), dpi=150)
    ax = fig.subplots()
    ax.set_xlim(1999.5, 2018.5)
    ax.set_ylim(0, 1.08)
    ticks = PanelTicks.of(ax, x_locator=MaxNLocator(integer=True, nbins=3))
    # hand-worked: integer steps of 8 years inside 1999.5 … 2018.5; y in steps of 0.2
    np.testing.assert_array_equal(ticks.xlocs, [2000, 2008, 2016])
    assert ticks.xlabels == ["2000", "2008", "2016"]
    np.testing.assert_allclose(ticks.ylocs, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert ticks.ylabels[0] == "0.0" and ticks.ylabels[-1] == "1.0"


def test_an_offset_formatter_keeps_real_ticks():
    fig = Figure(figsize=(2.5, 2.0))
    ax = fig.subplots()
    ax.set_xlim(1_000_000.0, 1_000_000.5)  # labels need an offset text
    ax.set_ylim(0, 1)
    assert PanelTicks.of(ax) is None


@pytest.mark.parametrize("direction", ["in", "out", "inout"])
def test_tick_direction_follows_rcparams(direction):
    from matplotlib import rc_context

    with rc_context({"xtick.direction": direction, "ytick.direction": direction}):
        real, light = _panels(False), _panels(True)
    differ = np.abs(real.astype(int) - light.astype(int)).max(axis=2) > 0
    assert differ.mean() < 5e-4  # inward ticks: a few pixels where a mark meets a point
