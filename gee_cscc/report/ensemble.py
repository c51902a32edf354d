"""The files of an ensemble of NPP products (docs/method.md §7): table, maps, figures, report.

:func:`write_ensemble` writes, beside the per-product run folders ``products/<name>/``:
``tables/ensemble.csv``, ``rasters/ensemble_cscc_mean.tif`` and ``ensemble_cscc_sd.tif``
(Cloud-Optimized GeoTIFFs on the products' grid), ``figures/ensemble_cscc.png`` (the two
maps) and ``figures/ensemble_regions.png`` (each product's CSCC per region side by side),
``report.html`` (one self-contained page comparing the products) and ``run.json``.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from gee_cscc.report.html_format import (
    Column,
    escape,
    format_number,
    format_percent,
    format_text,
    html_table,
    key_value_table,
)
from gee_cscc.report.map_preview import MapGrid
from gee_cscc.report.rasters import FileGrid, write_geotiffs

__all__ = ["fig_ensemble_maps", "fig_ensemble_regions", "write_ensemble"]

_SYNTHETIC = "SYNTHETIC demo data — not observations"


def fig_ensemble_maps(maps: Any, *, synthetic: bool = False) -> Figure:
    """Two maps: the mean and the standard deviation of CSCC over the products."""
    fig = Figure(figsize=(11.0, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name, title, cmap in (
        (axes[0], "ensemble_cscc_mean", "(a) mean CSCC over products", "YlGn"),
        (axes[1], "ensemble_cscc_sd", "(b) standard deviation over products", "magma_r"),
    ):
        da = maps[name]
        grid = MapGrid.of(da)  # a bounded preview (block means), north up, read by strips
        values = grid.mean(da)
        im = ax.imshow(
            values,
            extent=grid.image_extent,
            cmap=cmap,
            interpolation="nearest",
            interpolation_stage="data",
        )
        fig.colorbar(im, ax=ax, shrink=0.8, label="g C m⁻² yr⁻¹")
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_aspect("equal")
    fig.suptitle("Carbon sink carrying capacity across NPP products", fontweight="bold")
    if synthetic:
        fig.supxlabel(_SYNTHETIC, color="#c00000", fontweight="bold")
    return fig


def fig_ensemble_regions(
    table: Any, products: list[str], *, whole: str = "ALL", synthetic: bool = False
) -> Figure:
    """Each product's total CSCC per region side by side (Tg C yr⁻¹); the whole-area row
    ``whole`` is left out (it would dwarf the regions; its numbers are in the report)."""
    table = table[table["region"] != whole] if (table["region"] != whole).any() else table
    regions = list(table["region"])
    fig = Figure(figsize=(min(14.0, max(7.0, 0.16 * len(regions) * len(products) + 3)), 4.8))
    ax = fig.add_subplot()
    width = 0.8 / len(products)
    x = np.arange(len(regions))
    for i, p in enumerate(products):
        ax.bar(x + (i - (len(products) - 1) / 2) * width, table[f"cscc_tg_{p}"], width, label=p)
    ax.set_xticks(x, regions, rotation=60, fontsize=8)
    ax.set_ylabel("CSCC (Tg C yr⁻¹)")
    ax.set_yscale("log")
    ax.legend(title="product", fontsize=8)
    ax.set_title("Total CSCC per region and product", fontsize=10, loc="left")
    fig.tight_layout()
    if synthetic:
        fig.text(0.5, 0.005, _SYNTHETIC, color="#c00000", ha="center", fontweight="bold")
    return fig


def _columns(products: list[str]) -> list[Column]:
    cols: list[Column] = [("region", "Region", format_text)]
    for p in products:
        cols.append((f"cscc_tg_{p}", f"CSCC {p}", format_number))
    cols += [
        ("cscc_tg_mean", "CSCC mean", format_number),
        ("cscc_tg_sd", "CSCC SD", format_number),
    ]
    for p in products:
        cols.append((f"potential_tg_{p}", f"Potential {p}", format_number))
    cols += [
        ("potential_tg_mean", "Potential mean", format_number),
        ("potential_tg_sd", "Potential SD", format_number),
    ]
    for p in products:
        cols.append((f"rs_{p}", f"RS {p} (yr)", lambda v: format_number(v, 1)))
    for p in products:
        cols.append((f"grade_{p}", f"Grade {p}", format_text))
    cols += [
        ("modal_grade", "Modal grade", format_text),
        ("grade_agreement", "Agreement", lambda v: format_percent(v, 0)),
    ]
    return cols


def _img(path: Path, caption: str, number: int) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>Figure {number}.</b> {escape(caption)}</figcaption></figure>"
    )


def _page(ensemble: Any, figures: dict[str, Path], run_info: dict, synthetic: bool) -> str:
    names = [s.name for s in ensemble.specs]
    s = ensemble.summary
    side = []
    for spec in ensemble.specs:
        r = ensemble.products[spec.name]
        rs = r.resilience[r.resilience["region"] == s["all_label"]].iloc[0]
        side.append(
            {
                "product": spec.name,
                "source": spec.npp,
                "years": f"{r.config.start}–{r.config.end}",
                "vca_area_km2": r.summary["vca_area_km2"],
                "cscc_pg": r.summary["cscc_total_pg"],
                "npp_pg": r.summary["npp_last_pg"],
                "potential_pg": r.summary["potential_last_pg"],
                "rs": rs["rs"],
                "grade": rs["grade"],
                "report": f"products/{spec.name}/report.html",
            }
        )
    import pandas as pd

    side_cols: list[Column] = [
        ("product", "Product", format_text),
        ("source", "NPP source", format_text),
        ("years", "Years", format_text),
        ("vca_area_km2", "VCA (km²)", lambda v: format_number(v, 0)),
        ("cscc_pg", "CSCC (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
        ("npp_pg", "NPP last year (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
        ("potential_pg", "Potential (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
        ("rs", "RS (years)", lambda v: format_number(v, 1)),
        ("grade", "CSR grade", format_text),
        ("report", "Full report", format_text),
    ]
    cv = s["cscc_total_pg_sd"] / s["cscc_total_pg_mean"] if s["cscc_total_pg_mean"] else math.nan
    sentence = (
        f"Across {len(names)} NPP products the whole area's CSCC is "
        f"{s['cscc_total_pg_mean']:.3f} ± {s['cscc_total_pg_sd']:.3f} Pg C yr⁻¹ (mean ± SD, "
        f"{cv:.1%} of the mean); {s['grade_agreement']:.0%} of the products give its modal "
        f"CSR grade “{s['modal_grade']}”, and every product agrees on the grade in "
        f"{s['regions_full_grade_agreement']:.0%} of the rows."
    )
    parts = [
        "<h1>gee_cscc: several NPP products compared</h1>",
        f'<div class="banner">{escape(_SYNTHETIC)}</div>' if synthetic else "",
        key_value_table(
            [
                ("run date", str(run_info.get("created"))),
                ("engine", str(run_info.get("engine"))),
                ("regions", str((run_info.get("inputs") or {}).get("regions") or "none")),
                ("package", f"gee-cscc {run_info.get('version')}"),
            ]
        ),
        f"<p><b>{escape(sentence)}</b></p>",
        '<p class="muted">Each product ran the whole method on the same grid and regions; '
        "its own outputs are in products/&lt;name&gt;/. NPP products differ in their light-use "
        "and respiration models, so their CSCC differs; the spread says how much the "
        "capacity depends on that choice. SD is the sample standard deviation over products; "
        "RS mean and SD use the products with a finite RS; the modal grade is the most "
        "frequent one (ties: the earlier product's), the agreement the share of products "
        "giving it. The ensemble maps cover the cells inside every product's VCA.</p>",
        "<h2>The products side by side (whole area)</h2>",
        html_table(pd.DataFrame(side), side_cols),
        "<h2>Ensemble table per region (Tg C yr⁻¹)</h2>",
        html_table(ensemble.table, _columns(names)),
        "<h2>Figures</h2>",
    ]
    captions = {
        "ensemble_cscc": "Mean (a) and sample standard deviation (b) of CSCC over the "
        "products per cell (g C m⁻² yr⁻¹), where every product has a CSCC.",
        "ensemble_regions": "Total CSCC per region for each product (Tg C yr⁻¹, log scale); "
        "the whole area is in the tables above.",
    }
    for i, (name, path) in enumerate(figures.items(), start=1):
        parts.append(_img(path, captions[name], i))
    css = (
        "body{font-family:Helvetica,Arial,sans-serif;max-width:1150px;margin:auto;"
        "padding:1em}table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid "
        "#ddd;padding:.2em .5em}td.num{text-align:right}.banner{background:#fde2e1;border:2px "
        "solid #c00000;color:#8b0000;padding:.5em;font-weight:bold}.muted{color:#555}"
        "figure img{max-width:100%}.scroll{overflow-x:auto}"
    )
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>gee_cscc ensemble</title><style>{css}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def write_ensemble(ensemble: Any, folder: Path, *, run_info: dict, synthetic: bool = False) -> None:
    """Write the ensemble's files into ``folder`` (see the module docstring); ``ensemble`` is
    a :class:`gee_cscc.workflow.ensemble.Ensemble`."""
    folder = Path(folder)
    tables = folder / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    table = ensemble.table.assign(synthetic="true") if synthetic else ensemble.table
    table.to_csv(tables / "ensemble.csv", index=False, float_format="%.10g")
    grid = FileGrid.from_summary(ensemble.summary["grid"])
    source = f"gee_cscc {run_info.get('version', '')}, ensemble of {len(ensemble.specs)} products"
    write_geotiffs(ensemble.maps, folder / "rasters", grid, source=source, synthetic=synthetic)
    figdir = folder / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in ensemble.specs]
    figures = {
        "ensemble_cscc": fig_ensemble_maps(ensemble.maps, synthetic=synthetic),
        "ensemble_regions": fig_ensemble_regions(
            ensemble.table, names, whole=ensemble.summary["all_label"], synthetic=synthetic
        ),
    }
    paths = {}
    for name, fig in figures.items():
        paths[name] = figdir / f"{name}.png"
        fig.savefig(paths[name], dpi=120, facecolor="white")
    (folder / "report.html").write_text(_page(ensemble, paths, run_info, synthetic), "utf-8")
    (folder / "run.json").write_text(json.dumps(_plain(run_info), indent=2))


def _plain(obj: Any) -> Any:
    """JSON values: NaN and infinities become null, NumPy scalars Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)
