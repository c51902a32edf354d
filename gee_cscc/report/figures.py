"""PNG figures of one run: the maps and curves of the paper (docs/method.md §6).

:func:`make_figures` turns a :class:`gee_cscc.workflow.analyze.Results` into PNG files in a folder and
returns their paths by name; :func:`figure_captions` gives a one-sentence caption for each
name (the HTML report uses both). Maps are drawn on the rasters' own x/y coordinates (cell
edges from the cell-centre coordinates), north up, over the vegetation-covered area (VCA)
only; land outside the VCA is light grey. Province outlines and labels come from a GeoJSON
``FeatureCollection`` whose features carry the region name in the property
``config.region_property`` (``abbr`` for the packaged China provinces).

The maps are drawn in :mod:`._map_figures` (panels from :mod:`._map_canvas`), the curves
in :mod:`._curve_figures`; colours, units and the shared layout are in :mod:`._style`.

Matplotlib is used through :class:`matplotlib.figure.Figure` and the Agg canvas only (no
``pyplot``, no global backend switch), so making figures never touches a user's session.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from gee_cscc.report.csr_pixel import csr_pixel_caption, fig_csr_pixel
from gee_cscc.report.curve_figures import fig_decay_all, fig_decay_curves, fig_yearly
from gee_cscc.report.map_canvas import map_grid, outside_vca, province_outlines
from gee_cscc.report.map_figures import (
    fig_cscc,
    fig_cscc_year,
    fig_csr_grade,
    fig_maintenance,
    fig_maintenance_years,
    fig_pcs,
    fig_trend_class,
    fig_trend_slope,
)
from gee_cscc.report.paper_figures import (
    difference_years,
    fig_capacity_bars,
    fig_maintenance_bars,
    fig_pcs_difference,
    fig_study_area,
)
from gee_cscc.report.png_file import write_png
from gee_cscc.report.record_length import fig_running_capacity, running_caption
from gee_cscc.report.style import GRADE_COLOURS, TREND_CLASS_STYLE, FigureContext

__all__ = [
    "DEFAULT_DPI",
    "FIGURE_NAMES",
    "GRADE_COLOURS",
    "TREND_CLASS_STYLE",
    "figure_captions",
    "figure_context",
    "figure_titles",
    "make_figures",
]

#: Resolution of the PNG files, dots per inch (300 for print).
DEFAULT_DPI = 150

_FIGURES: dict[str, tuple[Callable[[FigureContext], Figure | None], str | None]] = {
    # name → (maker, raster variable it needs or None), in the report's order
    "study_area": (fig_study_area, "vca"),
    "yearly": (fig_yearly, None),
    "trend_slope": (fig_trend_slope, "trend_slope"),
    "trend_class": (fig_trend_class, "trend_class"),
    "cscc": (fig_cscc, "cscc"),
    "cscc_year": (fig_cscc_year, "cscc_year"),
    "running_capacity": (fig_running_capacity, None),  # with capacity_sensitivity only
    "capacity_bars": (fig_capacity_bars, None),
    "pcs": (fig_pcs, "pcs"),
    "pcs_difference": (fig_pcs_difference, "pcs"),
    "maintenance": (fig_maintenance, "maintenance"),
    "maintenance_years": (fig_maintenance_years, "maintenance_years"),
    "maintenance_bars": (fig_maintenance_bars, None),
    "decay_ALL": (fig_decay_all, None),
    "decay_curves": (fig_decay_curves, None),
    "csr_grade": (fig_csr_grade, None),
    "csr_pixel": (fig_csr_pixel, "csr_grade"),  # with csr_pixel only
}
#: Every figure name of :func:`make_figures`, in the report's order.
FIGURE_NAMES = tuple(_FIGURES)
# Drawing and saving cost (CPU seconds at 150 dpi, 0.05° China-like grid, 34 regions;
# benchmarks/bench_figures.py) to share the figures between processes.
_COST = {
    "decay_curves": 0.58, "pcs": 0.49, "maintenance": 0.42, "csr_pixel": 0.4, "csr_grade": 0.35,
    "maintenance_years": 0.33, "cscc_year": 0.31, "maintenance_bars": 0.27,
    "capacity_bars": 0.26, "running_capacity": 0.25, "trend_slope": 0.24, "cscc": 0.24,
    "pcs_difference": 0.24, "yearly": 0.22, "trend_class": 0.2, "study_area": 0.18,
    "decay_ALL": 0.13,
}  # fmt: skip


_FONTS = {"pdf.fonttype": 42, "ps.fonttype": 42}
#: zlib level of the PNG files (unfiltered rows, :mod:`gee_cscc.report.png_file`): at 3 the
#: files are written in about a quarter of the time of Pillow's default and are smaller.
PNG_COMPRESS_LEVEL = 3


def _write_png(fig: Figure, path: Path, dpi: int) -> None:
    """Render with Agg on white and write an RGB PNG (an opaque figure needs no alpha
    channel) with :func:`gee_cscc.report.png_file.write_png`."""
    from matplotlib import __version__ as mpl_version
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    face = fig.get_facecolor()
    fig.set_dpi(dpi)
    fig.set_facecolor("white")
    try:
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        software = f"Matplotlib version{mpl_version}, https://matplotlib.org/"
        write_png(
            path, rgba[..., :3], dpi=dpi, text={"Software": software}, level=PNG_COMPRESS_LEVEL
        )
    finally:
        fig.set_facecolor(face)


def _save(fig: Figure, path: Path, dpi: int) -> None:
    """Write a figure atomically (temporary file in the same folder, then rename); the format
    is the suffix of ``path`` (png, svg, pdf or any other matplotlib writes). PDF and
    PostScript embed TrueType fonts (type 42), not Type 3, as journals' checks require."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fmt = path.suffix.lstrip(".").lower()
    try:
        if fmt == "png":
            _write_png(fig, tmp, dpi)
        else:
            with rc_context(_FONTS):
                fig.savefig(tmp, dpi=dpi, format=fmt, facecolor="white")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def figure_context(
    results: Any, *, regions_geojson: dict | None = None, synthetic: bool = False,
    style: str | None = None, dpi: int | None = None,
) -> FigureContext:  # fmt: skip
    """What every figure of a run shares: the map previews, outlines, style (see :mod:`.style`).

    With ``dpi`` (the files' resolution), the maps' previews are no finer than their pixels
    at that dpi (:func:`gee_cscc.report.map_canvas.map_grid`) and the figures are laid out
    at it.
    """
    rasters = results.rasters
    prop = getattr(results.config, "region_property", "abbr")
    grid = map_grid(rasters, dpi)  # maps are drawn from bounded previews (report.map_preview)
    return FigureContext(
        results=results,
        synthetic=synthetic,
        provinces=province_outlines(regions_geojson, prop),
        vca=rasters["vca"] if "vca" in rasters else None,
        outside=outside_vca(rasters, grid),
        extent=grid.extent if grid is not None else None,
        grid=grid,
        style=style or getattr(results.config, "figure_style", "report"),
        dpi=dpi,
    )


def draw_figure(ctx: FigureContext, name: str) -> Figure | None:
    """Draw the figure ``name`` of :data:`FIGURE_NAMES` (None when it cannot be drawn)."""
    maker, needs = _FIGURES[name]
    if needs is not None and needs not in ctx.results.rasters:
        return None
    return maker(ctx)


def _draw_and_save(
    ctx: FigureContext, names: Sequence[str], out_dir: Path, formats: Sequence[str], dpi: int
) -> dict[str, Path]:
    written = {}
    for name in names:
        fig = draw_figure(ctx, name)
        if fig is None:
            continue
        for fmt in formats:
            _save(fig, out_dir / f"{name}.{fmt}", dpi)
        written[name] = out_dir / f"{name}.{formats[0]}"
    return written


_FORKED: dict[str, Any] = {}  # the job a forked worker process draws (inherited, not pickled)


def _forked_job() -> dict[str, Path]:
    return _draw_and_save(**_FORKED)


@contextlib.contextmanager
def _forked(job: dict[str, Any], names: Sequence[str]) -> Iterator[Any]:
    """A process forked now to draw ``names`` (it inherits the job; nothing is pickled);
    yields the future of its ``{name: path}``."""
    _FORKED.clear()
    _FORKED.update(job, names=list(names))
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        future = pool.submit(_forked_job)  # the process is forked here, with _FORKED as now
        yield future


def _cost(ctx: FigureContext | None, name: str) -> float:
    """The drawing cost of a figure: 0 for one that will come out None (a missing layer, a
    grade map without outlines, no capacity_sensitivity table), as sharing goes by it."""
    if ctx is not None:
        results = ctx.results
        needs = _FIGURES[name][1]
        if needs is not None and needs not in results.rasters:
            return 0.0
        if name == "csr_grade" and not ctx.provinces:
            return 0.0
        table = getattr(results, "capacity_sensitivity", None)
        if name == "running_capacity" and (table is None or table.empty):
            return 0.0
    return _COST.get(name, 0.3)


def _share(names: Sequence[str], ctx: FigureContext | None = None) -> tuple[list[str], list[str]]:
    """Two groups of about equal drawing cost (the costliest figures first, greedily)."""
    groups: tuple[list[str], list[str]] = ([], [])
    loads = [0.0, 0.0]
    costs = {name: _cost(ctx, name) for name in names}
    for name in sorted(names, key=lambda n: -costs[n]):
        i = 0 if loads[0] <= loads[1] else 1
        groups[i].append(name)
        loads[i] += costs[name]
    return groups


def _parallel(workers: int | None, n: int) -> bool:
    if workers is None:
        workers = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if sys.version_info >= (3, 12) and threading.active_count() > 1:
        return False  # forking a process with threads is deprecated there (may deadlock)
    return workers >= 2 and n >= 4 and "fork" in multiprocessing.get_all_start_methods()


def make_figures(
    results: Any,
    out_dir: Path,
    *,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
    dpi: int | None = None,
    names: Iterable[str] | None = None,
    formats: Sequence[str] | None = None,
    style: str | None = None,
    workers: int | None = None,
    alongside: Callable[[], None] | None = None,
) -> dict[str, Path]:
    """Draw the run's maps and curves into files (docs/method.md §6).

    Parameters
    ----------
    results : gee_cscc.workflow.analyze.Results
        One run's rasters and tables (or an object with the same attributes).
    out_dir : pathlib.Path
        Folder for the files; made if missing. Existing files of the same names are
        replaced atomically.
    regions_geojson : dict, optional, keyword-only
        A GeoJSON ``FeatureCollection`` of the regions: outlines and labels on every map
        (label = the feature property ``config.region_property``, e.g. ``abbr``) and the CSR
        grade map, which is only drawn when this is given.
    synthetic : bool, keyword-only
        Print a "synthetic demo data" note on every figure.
    dpi : int, optional, keyword-only
        Resolution in dots per inch of PNG files and of the maps' images inside SVG/PDF;
        default ``results.config.dpi`` (150).
    names : iterable of str, optional, keyword-only
        Draw only these figures (names as below); default all.
    formats : sequence of str, optional, keyword-only
        File formats, the first one's paths returned; default ``results.config.figure_format``
        (``("png",)``). Any format matplotlib writes (png, svg, pdf, eps, …).
    style : {"report", "paper"}, optional, keyword-only
        ``"paper"``: no titles in the figures (the captions carry them); default
        ``results.config.figure_style``.
    workers : int, optional, keyword-only
        Processes drawing at once: 2 by default when the process may use 2 or more cores
        (this process and one forked from it, which inherits the run's data instead of being
        sent it), 1 to draw here only. Without ``fork`` (Windows), and on Python 3.12+ while
        other threads run (forking them is deprecated), the figures are drawn here.
    alongside : callable, optional, keyword-only
        Other work of this process (writing the run's rasters) done while the figures are
        drawn: with two drawing processes both are forked and this process does
        ``alongside()`` meanwhile, so the three share the cores; without them, it is done
        first. Its error is raised after the drawing processes have finished.

    Returns
    -------
    dict of str to pathlib.Path
        In display order, the figures that could be drawn, each the file of the first
        format: ``study_area`` (regions and VCA), ``yearly`` (mean NPP with its OLS trend;
        total NPP and saturation), ``trend_slope`` (g C m⁻² yr⁻²), ``trend_class``
        (SI/II/0/ID/SD with area shares), ``cscc`` (g C m⁻² yr⁻¹), ``cscc_year``,
        ``capacity_bars`` (Table 1 per region), ``pcs`` (one panel per PCS year),
        ``pcs_difference`` (PCS of the last year minus t'), ``maintenance`` (surfaces P of the
        first, middle and last evaluation year), ``maintenance_years`` (−N … +N years),
        ``maintenance_bars`` (Table 2 per region), ``decay_ALL`` and ``decay_curves``
        (observed q⁺/q⁻ and fitted q = λ·exp(−(t − t')/τ), whole area and every region)
        and ``csr_grade``. The file of ``name`` in format ``fmt`` is
        ``out_dir / f"{name}.{fmt}"``. A figure whose raster layer or table is missing is
        left out; an all-empty layer gives a map that says so. Multi-panel figures have
        panel letters (a, b, …); maps of geographic grids a scale bar and a north arrow, and
        maps of China the South China Sea inset (:mod:`gee_cscc.report.map_marks`).

    Raises
    ------
    ValueError
        A dpi below 10, an unknown figure name or an empty list of formats.
    """
    cfg = results.config
    dpi = getattr(cfg, "dpi", DEFAULT_DPI) if dpi is None else dpi
    if not isinstance(dpi, int) or isinstance(dpi, bool) or dpi < 10:
        raise ValueError(f"dpi must be an integer ≥ 10, got {dpi!r}")
    formats = tuple(formats if formats is not None else getattr(cfg, "figure_format", ("png",)))
    if not formats:
        raise ValueError("formats is empty: give at least one, e.g. ('png',)")
    wanted = set(_FIGURES) if names is None else set(names)
    unknown = sorted(wanted - set(_FIGURES))
    if unknown:
        raise ValueError(f"unknown figure names {unknown}; expected some of {list(_FIGURES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = figure_context(
        results, regions_geojson=regions_geojson, synthetic=synthetic, style=style, dpi=dpi
    )
    todo = [n for n in _FIGURES if n in wanted]
    job = {"ctx": ctx, "out_dir": out_dir, "formats": formats, "dpi": dpi}
    # The objects that exist now (the run's) live on: the garbage collector need not walk
    # them again and again while figures make and drop many, and a forked process does not
    # copy their pages by touching them.
    frozen = gc.get_freeze_count() == 0
    if frozen:
        gc.freeze()
    try:
        if not _parallel(workers, len(todo)):
            if alongside is not None:
                alongside()
            written = _draw_and_save(names=todo, **job)
        elif alongside is None:
            theirs, mine = _share(todo, ctx)
            with _forked(job, theirs) as future:
                written = _draw_and_save(names=mine, **job)
                written.update(future.result())
        else:  # both shares drawn by forked processes while this one does the other work
            first, second = _share(todo, ctx)
            with _forked(job, first) as one, _forked(job, second) as two:
                try:
                    alongside()
                except BaseException:
                    wait([one, two])  # the drawing ends before the error goes up
                    raise
                written = {**one.result(), **two.result()}
    finally:
        _FORKED.clear()
        if frozen:
            gc.unfreeze()
    return {name: written[name] for name in todo if name in written}


def figure_captions(results: Any) -> dict[str, str]:
    """One caption per figure name of :func:`make_figures` (plain text, not escaped).

    Parameters
    ----------
    results : gee_cscc.workflow.analyze.Results
        The run the figures show (its config gives the years and levels).

    Returns
    -------
    dict of str to str
        Figure name → caption.
    """
    cfg = results.config
    ref, start, end = cfg.reference_year, cfg.start, cfg.end
    pcs_years = ", ".join(str(y) for y in (cfg.pcs_years or ()))
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    pcs = [int(y) for y in cfg.pcs_years or ()]
    rasters = getattr(results, "rasters", None)
    if rasters is not None and "pcs" in rasters and "pcs_year" in rasters["pcs"].dims:
        pcs = [int(y) for y in rasters["pcs"]["pcs_year"].values]
    first, last = difference_years(cfg, pcs) or (ref, end)
    captions = {
        "study_area": (
            "The regions (outlines and labels) and the vegetation-covered area (VCA, green: "
            f"cells whose mean NPP over {start}–{end} is above {cfg.vca_min_mean:g} "
            "g C m⁻² yr⁻¹); grey land is in a region but outside the VCA."
        ),
        "yearly": (
            f"(a) Area-weighted mean NPP of the vegetation-covered area per year, {start}–{end}, "
            "with its OLS trend (slope and p-value in the legend); (b) total NPP "
            "(Pg C yr⁻¹) against total CSCC and the saturation S = total NPP / total CSCC."
        ),
        "capacity_bars": (
            f"Per region (Table 1): (a) CSCC (bar length, Tg C yr⁻¹) split into NPP of {end} "
            f"and the increase potential CSCC − NPP; (b) the potential as a share of CSCC. "
            "Regions sorted by CSCC; the whole area is in the table."
        ),
        "pcs_difference": (
            f"Change of the increase potential: PCS {last} − PCS {first} per cell "
            "(g C m⁻² yr⁻¹); red where the room to grow widened, blue where it narrowed; "
            "colours clipped at the 98th percentile of the absolute change."
        ),
        "maintenance_bars": (
            f"Per region (Table 2): cells with (a) a positive and (b) a negative trend in "
            f"t′ = {ref} (light) and those that kept it to {end} (dark)."
        ),
        "trend_slope": (
            f"OLS slope K of annual NPP on year per cell, {start}–{end} (g C m⁻² yr⁻²); "
            "colours clipped at the 98th percentile of |K|."
        ),
        "trend_class": (
            f"Trend classes at α = {cfg.alpha:g}: SI significant increase, II insignificant "
            "increase, 0 no trend, ID insignificant decrease, SD significant decrease; the "
            "legend gives each class's share of the VCA area."
        ),
        "cscc": (
            f"Carbon sink carrying capacity CSCC = maximum annual NPP over {start}–{end} per "
            "cell (g C m⁻² yr⁻¹); grey land is outside the vegetation-covered area."
        ),
        "cscc_year": "Year in which each cell reached its CSCC (earliest year on ties).",
        "running_capacity": running_caption(results),
        "csr_pixel": csr_pixel_caption(results),
        "pcs": (
            f"Increase potential PCS = CSCC − NPP of the year (g C m⁻² yr⁻¹) in {pcs_years} "
            "(panels a, b, … in this order), on one colour scale."
        ),
        "maintenance": (
            f"Maintenance surfaces P of the first, middle and last evaluation year (panels a, b, "
            f"c): +1 (blue) "
            f"where the sign of the growing-window trend from {start} has stayed positive since "
            f"{ref}, −1 (red) where it stayed negative, 0 where it changed."
        ),
        "maintenance_years": (
            f"Maintenance years P_{ref} × #{{years with P ≠ 0}}, {ref}–{end}: blue, the number "
            "of years a positive trend held; red, a negative one."
        ),
        "decay_ALL": (
            f"Whole area: observed ratios q⁺ = N⁺/N⁺_{ref} and q⁻ = N⁻/N⁻_{ref} and the fitted "
            f"q = λ·exp(−(t − {ref})/τ), with τ, its 95 % interval, λ and R² in the legend. "
            f"τ above {limit:g} years is an extrapolation far beyond the fitting window."
        ),
        "decay_curves": (
            "Observed q⁺ (blue) and q⁻ (red) and fitted decay curves for the whole area and "
            "every region; τ = ∞ is a flat line, a region without cells of a sign has no curve."
        ),
        "csr_grade": (
            "Carbon sink resilience grade per region, from RS = τ⁺ − τ⁻ (years); hatching marks "
            "regions with an extrapolated τ."
        ),
    }
    titles = figure_titles(results)
    return {name: f"{titles[name]}. {text}" for name, text in captions.items()}


def figure_titles(results: Any) -> dict[str, str]:
    """The title of each figure, the start of its caption (the paper style draws none)."""
    cfg = results.config
    return {
        "study_area": "Study area",
        "yearly": f"Annual NPP {cfg.start}–{cfg.end}",
        "trend_slope": "Trend of NPP",
        "trend_class": "NPP trend classes",
        "cscc": "Carbon sink carrying capacity (CSCC)",
        "cscc_year": "Year the CSCC was reached",
        "running_capacity": "How far the carrying capacity can be trusted",
        "capacity_bars": "Carrying capacity and increase potential per region",
        "pcs": "Increase potential of NPP (PCS)",
        "pcs_difference": "Change of the increase potential",
        "maintenance": "Maintenance surfaces",
        "maintenance_years": "Maintenance years",
        "maintenance_bars": "Cells that kept their trend per region",
        "decay_ALL": "Decay of the maintained trends, whole area",
        "decay_curves": "Decay of the maintained trends per region",
        "csr_grade": "Carbon sink resilience (CSR) grade",
        "csr_pixel": "Carbon sink resilience per cell",
    }
