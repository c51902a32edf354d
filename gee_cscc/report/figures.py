"""PNG figures of one run: the maps and curves of the paper (METHOD.md §6).

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

import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

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
from gee_cscc.report.record_length import fig_running_capacity, running_caption
from gee_cscc.report.style import GRADE_COLOURS, TREND_CLASS_STYLE, FigureContext

__all__ = ["DEFAULT_DPI", "GRADE_COLOURS", "TREND_CLASS_STYLE", "figure_captions", "make_figures"]

#: Resolution of the PNG files, dots per inch.
DEFAULT_DPI = 150


_FIGURES: dict[str, tuple[Callable[[FigureContext], Figure | None], str | None]] = {
    # name → (maker, raster variable it needs or None)
    "yearly": (fig_yearly, None),
    "trend_slope": (fig_trend_slope, "trend_slope"),
    "trend_class": (fig_trend_class, "trend_class"),
    "cscc": (fig_cscc, "cscc"),
    "cscc_year": (fig_cscc_year, "cscc_year"),
    "running_capacity": (fig_running_capacity, None),  # with capacity_sensitivity only
    "pcs": (fig_pcs, "pcs"),
    "maintenance": (fig_maintenance, "maintenance"),
    "maintenance_years": (fig_maintenance_years, "maintenance_years"),
    "decay_ALL": (fig_decay_all, None),
    "decay_curves": (fig_decay_curves, None),
    "csr_grade": (fig_csr_grade, None),
    "csr_pixel": (fig_csr_pixel, "csr_grade"),  # with csr_pixel only
}


def _save(fig: Figure, path: Path, dpi: int) -> None:
    """Write a PNG atomically (temporary file in the same folder, then rename)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fig.savefig(tmp, dpi=dpi, format="png", facecolor="white")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_figures(
    results: Any,
    out_dir: Path,
    *,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
    dpi: int = DEFAULT_DPI,
    names: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Draw the run's maps and curves as PNG files (METHOD.md §6).

    Parameters
    ----------
    results : gee_cscc.workflow.analyze.Results
        One run's rasters and tables (or an object with the same attributes).
    out_dir : pathlib.Path
        Folder for the PNG files; made if missing. Existing files of the same names are
        replaced atomically.
    regions_geojson : dict, optional, keyword-only
        A GeoJSON ``FeatureCollection`` of the regions: outlines and labels on every map
        (label = the feature property ``config.region_property``, e.g. ``abbr``) and the CSR
        grade map, which is only drawn when this is given.
    synthetic : bool, keyword-only
        Print a "synthetic demo data" note on every figure.
    dpi : int, keyword-only
        Resolution in dots per inch (default 150; tests use less).
    names : iterable of str, optional, keyword-only
        Draw only these figures (names as below); default all.

    Returns
    -------
    dict of str to pathlib.Path
        In display order, the figures that could be drawn: ``yearly`` (mean NPP with its OLS
        trend; total NPP and saturation), ``trend_slope`` (g C m⁻² yr⁻²), ``trend_class``
        (SI/II/0/ID/SD with area shares), ``cscc`` (g C m⁻² yr⁻¹), ``cscc_year``, ``pcs``
        (one panel per PCS year, g C m⁻² yr⁻¹), ``maintenance`` (surfaces P of the first,
        middle and last evaluation year), ``maintenance_years`` (−N … +N years),
        ``decay_ALL`` and ``decay_curves`` (observed q⁺/q⁻ and fitted
        q = λ·exp(−(t − t')/τ), whole area and every region) and ``csr_grade``. The file of
        ``name`` is ``out_dir / f"{name}.png"``. A figure whose raster layer or table is
        missing is left out; an all-empty layer gives a map that says so.

    Raises
    ------
    ValueError
        A dpi below 10 or a figure name that does not exist.
    """
    if not isinstance(dpi, int) or isinstance(dpi, bool) or dpi < 10:
        raise ValueError(f"dpi must be an integer ≥ 10, got {dpi!r}")
    wanted = set(_FIGURES) if names is None else set(names)
    unknown = sorted(wanted - set(_FIGURES))
    if unknown:
        raise ValueError(f"unknown figure names {unknown}; expected some of {list(_FIGURES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rasters = results.rasters
    prop = getattr(results.config, "region_property", "abbr")
    grid = map_grid(rasters)  # maps are drawn from bounded previews (report.map_preview)
    ctx = FigureContext(
        results=results,
        synthetic=synthetic,
        provinces=province_outlines(regions_geojson, prop),
        vca=rasters["vca"] if "vca" in rasters else None,
        outside=outside_vca(rasters, grid),
        extent=grid.extent if grid is not None else None,
        grid=grid,
    )
    written: dict[str, Path] = {}
    for name, (maker, needs) in _FIGURES.items():
        if name not in wanted or (needs is not None and needs not in rasters):
            continue
        fig = maker(ctx)
        if fig is None:
            continue
        path = out_dir / f"{name}.png"
        _save(fig, path, dpi)
        written[name] = path
    return written


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
    return {
        "yearly": (
            f"Area-weighted mean NPP of the vegetation-covered area per year, {start}–{end}, "
            "with its OLS trend (slope and p-value in the legend); below, total NPP "
            "(Pg C yr⁻¹) against total CSCC and the saturation S = total NPP / total CSCC."
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
            f"Increase potential PCS = CSCC − NPP of the year (g C m⁻² yr⁻¹) in {pcs_years}, "
            "on one colour scale."
        ),
        "maintenance": (
            f"Maintenance surfaces P of the first, middle and last evaluation year: +1 (blue) "
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
