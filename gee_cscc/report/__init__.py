"""Report of one run: PNG figures and one self-contained HTML page (docs/method.md §6).

Two steps, or one: :func:`make_figures` draws the maps and curves of a
:class:`gee_cscc.workflow.analyze.Results` into a folder, and :func:`write_html` writes a page with the
headline numbers, the paper's tables and those figures embedded; :func:`write_report` does
both into ``out_dir/figures/`` and ``out_dir/report.html``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gee_cscc.report.figures import figure_captions, make_figures
from gee_cscc.report.html import write_html

__all__ = ["figure_captions", "make_figures", "write_html", "write_report"]


def write_report(
    results: Any,
    out_dir: Path,
    *,
    regions_geojson: dict | None = None,
    run_info: Mapping[str, Any] | None = None,
    synthetic: bool = False,
    dpi: int | None = None,
    alongside: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Draw the figures and write the HTML report of one run.

    Parameters
    ----------
    results : gee_cscc.workflow.analyze.Results
        One run's rasters, tables, summary and config.
    out_dir : pathlib.Path
        Output folder (made if missing): PNGs go to ``out_dir/figures/``, the page to
        ``out_dir/report.html``.
    regions_geojson : dict, optional, keyword-only
        Region boundaries (GeoJSON ``FeatureCollection``) for outlines, labels and the CSR
        grade map, e.g. :func:`gee_cscc.demo.provinces.load_provinces`.
    run_info : mapping, optional, keyword-only
        Header metadata (``date``, ``engine``, ``input`` and any other key), see
        :func:`write_html`.
    synthetic : bool, keyword-only
        Mark every figure and the page as synthetic demo data.
    dpi : int, optional, keyword-only
        Figure resolution in dots per inch; default ``results.config.dpi`` (150). The
        formats and style are the config's ``figure_format`` and ``figure_style``.
    alongside : callable, optional, keyword-only
        Other work done while the figures are drawn (see :func:`make_figures`).

    Returns
    -------
    dict
        ``{"html": Path, "figures": {name: Path}}``.
    """
    out_dir = Path(out_dir)
    asked = tuple(getattr(results.config, "figure_format", ("png",)))
    formats = ("png", *(f for f in asked if f != "png"))  # the page embeds the PNG files
    figures = make_figures(
        results,
        out_dir / "figures",
        regions_geojson=regions_geojson,
        synthetic=synthetic,
        dpi=dpi,
        formats=formats,
        alongside=alongside,
    )
    page = write_html(
        results,
        out_dir / "report.html",
        figures=figures,
        run_info=dict(run_info or {}),
        synthetic=synthetic,
    )
    return {"html": page, "figures": figures}
