"""Figures made fast: previews no finer than the map's pixels, PNG files as RGB."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image

from gee_cscc.config import Config
from gee_cscc.report import make_figures
from gee_cscc.report.map_canvas import map_grid, map_pixels
from gee_cscc.report.map_preview import pixel_step


def _brute_step(ny: int, nx: int, w: float, h: float) -> int:
    """Independent: the largest s whose blocks are ≤ 1 pixel (s·w/nx ≤ 1, s·h/ny ≤ 1)."""
    best = 1
    for s in range(1, max(nx, ny) + 1):
        if s * w <= nx and s * h <= ny:
            best = s
    return best


@pytest.mark.parametrize(
    "ny,nx,w,h",
    [(712, 1242, 1125, 800), (2848, 4968, 1125, 797.3), (100, 100, 30, 30), (10, 10, 500, 500),
     (3000, 900, 600, 1000.5), (7, 5000, 100, 1)],
)  # fmt: skip
def test_pixel_step_is_the_coarsest_block_within_a_pixel(ny, nx, w, h):
    assert pixel_step(ny, nx, w, h) == _brute_step(ny, nx, w, h)


def test_map_pixels_of_a_geographic_map():
    extent = (73.0, 135.1, 18.0, 53.6)
    w, h = map_pixels(extent, 150)
    assert w == 7.5 * 150  # the widest map panel
    # hand-worked: height = width × (35.6° / 62.1°) / cos(35.8°) (the map's aspect)
    assert h == pytest.approx(1125 * 35.6 / 62.1 / math.cos(math.radians(35.8)), rel=1e-9)


def _rasters(ny: int, nx: int, res: float) -> xr.Dataset:
    zeros = np.broadcast_to(np.float32(0), (ny, nx))  # no memory for a large grid
    coords = {"y": 53.6 - res * (np.arange(ny) + 0.5), "x": 73.0 + res * (np.arange(nx) + 0.5)}
    return xr.Dataset({"cscc": (("y", "x"), zeros)}, coords=coords)


def test_map_grid_previews_at_most_one_cell_per_pixel():
    # 0.01° over China: 3560 × 6210 cells, 22 M; the map is 1125 px wide, h px high
    rasters = _rasters(3560, 6210, 0.01)
    h = 1125.0 * 35.6 / 62.1 / math.cos(math.radians(35.8))
    want = min(6210 // 1125, math.floor(3560 / h))  # 5 along x, 3560 / 794.6 → 4 along y
    assert map_grid(rasters, 150).step == want == 4
    assert map_grid(rasters, 100).step == 6  # fewer pixels: coarser blocks (3560 / 529.7)
    assert map_grid(rasters).step == 4  # no dpi: the 2 M-cell cap alone (ceil √11)
    # a small grid keeps its own cells at any dpi
    assert map_grid(_rasters(712, 1242, 0.05), 150).step == 1
    # the memory cap still bounds a preview at a high dpi
    assert map_grid(rasters, 600).step == 4


def test_png_files_are_opaque_rgb_with_their_dpi(tmp_path):
    rng = np.random.default_rng(2)
    years = np.arange(2000, 2010)
    yearly = pd.DataFrame(
        {"year": years, "mean_npp_gm2": rng.normal(400, 10, years.size),
         "total_npp_pg": rng.normal(3, 0.1, years.size),
         "saturation_share": rng.uniform(0.6, 0.8, years.size)}
    )  # fmt: skip
    results = SimpleNamespace(
        rasters=xr.Dataset(), config=Config(start=2000, end=2009, reference_year=2003),
        yearly=yearly, summary={}, maintenance_counts=None, resilience=None,
        trend_summary=None, capacity=None,
    )  # fmt: skip
    written = make_figures(results, tmp_path, names=["yearly"], dpi=72, workers=1)
    with Image.open(written["yearly"]) as im:
        assert im.mode == "RGB"
        assert im.info["dpi"] == pytest.approx((72, 72), abs=0.01)
        assert im.size == (round(8.0 * 72), round(6.6 * 72))  # the figure's 8 × 6.6 inches
        pixels = np.asarray(im)
    assert (pixels < 128).any() and (pixels == 255).all(axis=2).mean() > 0.5  # drawn on white


def _laid_out(canvas_class) -> list[tuple[float, ...]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0), dpi=120, layout="constrained")
    axes = fig.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 10_000], [0, 1])
        ax.set_ylabel("a long label of the y axis")
        ax.set_title("a title", fontsize=14)
    fig.suptitle("Suptitle")
    fig.colorbar(axes[0].imshow(np.arange(4.0).reshape(2, 2)), ax=axes[1], label="units")
    canvas = canvas_class(fig)
    canvas.measuring = True
    fig.get_layout_engine().execute(fig)
    canvas.measuring = False
    return [tuple(np.round(a.get_position().bounds, 9)) for a in fig.axes]


def test_measuring_canvas_lays_out_as_a_plain_agg_canvas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gee_cscc.report.agg_canvas import MeasuringCanvas

    assert _laid_out(MeasuringCanvas) == _laid_out(FigureCanvasAgg)
    # one measuring renderer per dpi, shared by figures; drawing uses the figure's own
    from matplotlib.figure import Figure

    a, b = MeasuringCanvas(Figure(figsize=(2, 2), dpi=90)), MeasuringCanvas(Figure(dpi=90))
    a.measuring = b.measuring = True
    assert a.get_renderer() is b.get_renderer()
    a.measuring = False
    assert a.get_renderer() is not b.get_renderer()
    assert (a.get_renderer().width, a.get_renderer().height) == (180, 180)


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (120, 333)])
def test_write_png_round_trips_through_pillow(tmp_path, shape):
    from gee_cscc.report.png_file import write_png

    rng = np.random.default_rng(sum(shape))
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    rgb[: shape[0] // 2] = (255, 255, 255)  # flat colour as in figures, and noise
    path = tmp_path / "a.png"
    write_png(path, rgb, dpi=150, text={"Software": "gee-cscc test"}, level=3)
    with Image.open(path) as im:
        im.load()  # Pillow checks every chunk's CRC and the deflate stream
        assert im.mode == "RGB" and im.size == (shape[1], shape[0])
        np.testing.assert_array_equal(np.asarray(im), rgb)
        # 150 dpi = 5906 pixels per metre (rounded), read back as 150.0124 dpi
        assert im.info["dpi"] == pytest.approx((5906 * 0.0254,) * 2, abs=1e-6)
        assert im.info["Software"] == "gee-cscc test"


def test_write_png_refuses_what_is_not_rgb_bytes(tmp_path):
    from gee_cscc.report.png_file import write_png

    with pytest.raises(ValueError, match="height × width × 3 uint8"):
        write_png(tmp_path / "a.png", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        write_png(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32))


def test_shared_text_sizes_are_agg_text_sizes():
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    from gee_cscc.report.agg_canvas import SharedMetricsRenderer

    for dpi, text, size, ismath in [
        (150, "100°E", 7, False), (72, "τ⁺ = 45.9 yr", 5.5, False),
        (150, r"g C m$^{-2}$ yr$^{-1}$", 9, True), (300, "Wg", 12, False),
    ]:  # fmt: skip
        prop = FontProperties(size=size, weight="bold" if size > 10 else "normal")
        plain = RendererAgg(50, 50, dpi).get_text_width_height_descent(text, prop, ismath)
        for w, h in ((1, 1), (640, 480)):
            shared = SharedMetricsRenderer(w, h, dpi).get_text_width_height_descent(
                text, prop, ismath
            )
            assert shared == pytest.approx(plain, abs=1e-9)


def test_measuring_canvas_draws_the_pixels_of_a_plain_agg_canvas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gee_cscc.report.agg_canvas import MeasuringCanvas

    def drawn(canvas_class) -> np.ndarray:
        fig = Figure(figsize=(3.0, 2.0), dpi=100, layout="constrained")
        ax = fig.subplots()
        ax.plot([1, 2, 3], [3, 1, 2], label="a line")
        ax.set_title(r"Title $\alpha^2$ and τ")
        ax.legend()
        canvas = canvas_class(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()

    np.testing.assert_array_equal(drawn(MeasuringCanvas), drawn(FigureCanvasAgg))
