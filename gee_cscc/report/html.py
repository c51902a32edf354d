"""The report page of a run as one self-contained HTML file, written atomically.

:func:`write_html` puts the sections of :mod:`gee_cscc.report.html_sections` in page order
into one HTML document with inline CSS and the figures embedded as base64 PNG, so nothing is
loaded from elsewhere and the page can be mailed or archived as it is. The file is written
to a temporary file in the same folder and then moved into place (:func:`os.replace`), so a
reader never sees half a page. The number formats of :mod:`gee_cscc.report.html_format` are
importable from here too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gee_cscc.report.csr_pixel import csr_pixel_section
from gee_cscc.report.html_format import escape, format_number, format_p, format_percent
from gee_cscc.report.html_sections import (
    capacity_section,
    counts_section,
    figures_section,
    header_section,
    headline_section,
    resilience_section,
    trend_section,
    yearly_section,
)
from gee_cscc.report.record_length import record_length_section

__all__ = [
    "PRINT_CSS",
    "SYNTHETIC_PAGE_CSS",
    "format_number",
    "format_percent",
    "format_p",
    "write_html",
]

#: The page printed (A4, e.g. "Save as PDF"): no table, row or figure cut at a page break or
#: at the page's right edge (a synthetic run adds :data:`SYNTHETIC_PAGE_CSS`).
PRINT_CSS = """
@media print {
  @page { size: A4; margin: 14mm 12mm 12mm 12mm; }
  html, body { background: #fff; font-size: 9pt; }
  main { max-width: none; margin: 0; padding: 0; }
  .scroll { overflow: visible; }
  table { width: 100%; max-width: 100%; table-layout: auto; font-size: 7pt; }
  table.kv th { width: auto; }
  th, td { padding: 1px 3px; white-space: normal !important; overflow-wrap: anywhere; }
  thead { display: table-header-group; }
  thead th { position: static; }
  tr, td, th { page-break-inside: avoid; break-inside: avoid; }
  figure, img, .banner, .note, table.kv { page-break-inside: avoid; break-inside: avoid; }
  figure { margin: 0.6em 0; }
  figure img { max-width: 100% !important; max-height: 240mm; width: auto; height: auto;
               border: 0; }
  figure:target { position: static; padding: 0; }
  figure a.close { display: none !important; }
  h1, h2, h3 { page-break-after: avoid; break-after: avoid; }
}
"""
#: A synthetic run's pages: the synthetic-data line in the top margin of every printed page.
SYNTHETIC_PAGE_CSS = """
@media print {
  @page { @top-center { content: "SYNTHETIC DEMO DATA: generated, not observations. Do not cite.";
                        color: #8b0000; font: bold 8pt sans-serif; } }
}
"""

_CSS = (
    """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; line-height: 1.45; }
main { max-width: 1150px; margin: 0 auto; padding: 1.2em 1.6em 3em; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 2px solid #e3e3e3;
     padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.2em; }
.banner { background: #fde2e1; border: 2px solid #c00000; color: #8b0000; padding: 0.6em 1em;
          font-weight: bold; margin: 0.8em 0; border-radius: 4px; }
.note { background: #fff6e5; border-left: 4px solid #e08214; padding: 0.5em 0.9em;
        margin: 0.8em 0; }
.muted { color: #666; font-size: 0.9em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.5em 0; }
th, td { border: 1px solid #d9d9d9; padding: 0.25em 0.55em; }
thead th { background: #f0f3f6; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #f8f8f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.txt { text-align: left; }
td.extrap { background: #fff1dc; font-style: italic; }
table.kv th { text-align: left; background: #f0f3f6; font-weight: 600; width: 19em; }
table.kv td { font-variant-numeric: tabular-nums; }
table.config { font-size: 0.8em; }
details { margin: 0.4em 0; }
summary { cursor: pointer; font-weight: 600; }
figure { margin: 1.4em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e3; cursor: zoom-in; }
figure a.close { display: none; }
figure:target { position: fixed; inset: 0; margin: 0; padding: 1em; overflow: auto;
                background: rgba(255, 255, 255, 0.97); z-index: 10; }
figure:target img { max-width: none; cursor: default; }
figure:target a.close { display: inline; position: fixed; top: 0.5em; right: 1em;
                        font-weight: bold; }
figcaption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
"""
    + PRINT_CSS
)


# --------------------------------------------------------------------------- public


def write_html(
    results: Any,
    out_path: Path,
    *,
    figures: Mapping[str, Path],
    run_info: Mapping[str, Any],
    synthetic: bool = False,
) -> Path:
    """Write the run's report as one self-contained HTML page (docs/method.md §2–§6).

    Parameters
    ----------
    results : gee_cscc.workflow.analyze.Results
        One run's tables, summary and config.
    out_path : pathlib.Path
        The HTML file; its folder is made if missing; written atomically (temporary file in
        the same folder, then :func:`os.replace`).
    figures : mapping of str to pathlib.Path, keyword-only
        PNG files by name (from :func:`gee_cscc.report.make_figures`), embedded as base64 in
        this order with the captions of :func:`gee_cscc.report.figures.figure_captions`.
    run_info : mapping, keyword-only
        Run metadata for the header: ``date`` (default: now, UTC), ``engine`` (default: the
        config's), ``input`` (the NPP asset); any other key is listed as given.
    synthetic : bool, keyword-only
        Show a banner saying the data are synthetic.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    out_path = Path(out_path)
    body = "\n".join(
        [
            header_section(results, run_info, synthetic),
            headline_section(results),
            capacity_section(results),
            record_length_section(results),
            yearly_section(results),
            counts_section(results),
            trend_section(results),
            resilience_section(results),
            csr_pixel_section(results),
            figures_section(results, figures),
        ]
    )
    cfg = results.config
    title = f"gee_cscc report {cfg.start}–{cfg.end}" + (" (synthetic data)" if synthetic else "")
    css = _CSS + (SYNTHETIC_PAGE_CSS if synthetic else "")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{css}</style>\n</head>\n"
        f"<body><main>\n{body}\n</main></body>\n</html>\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path
