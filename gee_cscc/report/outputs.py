"""The files of one run: tables (CSV), rasters (GeoTIFF, NetCDF), run.json, the report.

:func:`write_outputs` writes everything into a staging folder beside ``OUT`` and swaps it
in whole only when everything succeeded (:mod:`gee_cscc.report.out_folder`), so ``OUT`` is
always the complete old or the complete new result. :func:`write_results` writes into a
folder as it is (the staging folder).

The rasters are Cloud-Optimized GeoTIFFs (:mod:`gee_cscc.report.rasters`) and one CF-1.8
``results.nc`` (:mod:`gee_cscc.report.netcdf`). A run on synthetic data says so in every
file: a tag of each GeoTIFF, global attributes of results.nc, ``inputs.synthetic`` in
run.json, and a last column ``synthetic`` (``true``) in each CSV table — a column rather
than a ``#`` comment line, which ``csv``, Excel and ``pandas.read_csv`` without
``comment='#'`` would misread.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gee_cscc.report.netcdf import write_netcdf
from gee_cscc.report.out_folder import staged_out
from gee_cscc.report.rasters import FileGrid, write_geotiffs
from gee_cscc.stats.record_length import SENSITIVITY_COLUMNS, STABILITY_COLUMNS
from gee_cscc.stats.tables import MAINTENANCE_COLUMNS

__all__ = [
    "OPTIONAL_TABLE_FILES",
    "SYNTHETIC_COLUMN",
    "TABLE_FILES",
    "update_run_json",
    "write_outputs",
    "write_results",
]

#: The last column of every table of a run on synthetic data (``true`` on every row).
SYNTHETIC_COLUMN = "synthetic"

#: The table files of a run and their leading columns (names fixed: other tools read them).
TABLE_FILES = {
    "capacity_by_region.csv": (
        "capacity",
        [
            "region",
            "cscc_tg",
            "current_npp_tg",
            "potential_tg",
            "cscc_mean_gm2",
            "potential_share_of_cscc",
            "potential_share_of_npp",
        ],
    ),
    "maintenance_counts.csv": (
        "maintenance_counts",
        ["region", *MAINTENANCE_COLUMNS],
    ),
    "yearly.csv": (
        "yearly",
        ["year", "mean_npp_gm2", "total_npp_pg", "saturation_share", "potential_pg"],
    ),
    "trend_summary.csv": ("trend_summary", ["region", "alpha", "class", "area_km2", "area_share"]),
    "resilience.csv": (
        "resilience",
        [
            "region",
            "tau_pos",
            "tau_pos_low",
            "tau_pos_high",
            "lambda_pos",
            "r2_pos",
            "tau_neg",
            "tau_neg_low",
            "tau_neg_high",
            "lambda_neg",
            "r2_neg",
            "rs",
            "grade",
            "flags",
        ],
    ),
}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        v = float(obj)
        return v if np.isfinite(v) else str(v)
    if isinstance(obj, (Path,)):
        return str(obj)
    return str(obj)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else ("inf" if obj > 0 else "-inf" if obj < 0 else None)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def update_run_json(path: Path, **fields: Any) -> None:
    """Set top-level ``fields`` of a written ``run.json`` (atomically)."""
    data = json.loads(path.read_text())
    data.update(fields)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, default=_json_default))
    os.replace(tmp, path)


def write_outputs(
    results: Any,
    out: Path,
    *,
    run_info: dict,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
) -> None:
    """Write tables, rasters, figures, report and run.json into ``out`` atomically.

    ``out`` is replaced as a whole (see :mod:`gee_cscc.report.out_folder`).
    """
    with staged_out(out) as staging:
        write_results(
            results,
            staging,
            run_info=run_info,
            regions_geojson=regions_geojson,
            synthetic=synthetic,
        )


#: Tables of the analyses beyond the paper (docs/method.md §7), written when the run made them.
OPTIONAL_TABLE_FILES = {
    "capacity_sensitivity.csv": ("capacity_sensitivity", list(SENSITIVITY_COLUMNS)),
    "capacity_stability.csv": ("capacity_stability", list(STABILITY_COLUMNS)),
}


def write_results(
    results: Any,
    folder: Path,
    *,
    run_info: dict,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
    on_file: Callable[[int, int], None] | None = None,
) -> None:
    """Write tables, rasters, figures, report and (last) run.json into ``folder``.

    ``on_file(done, total)`` is told of the progress: every table, GeoTIFF and
    ``results.nc`` counts one, the figures with the report one, ``run.json`` one.
    """
    folder = Path(folder)
    optional = sum(getattr(results, a, None) is not None for a, _ in OPTIONAL_TABLE_FILES.values())
    total = len(TABLE_FILES) + optional + len(results.rasters.data_vars) + 3
    done = [0]

    def tick() -> None:
        done[0] += 1
        if on_file is not None:
            on_file(done[0], total)

    if on_file is not None:
        on_file(0, total)
    _write_tables(results, folder / "tables", synthetic=synthetic, tick=tick)
    from gee_cscc.report import write_report

    written: list[bool] = []

    def rasters() -> None:
        _write_rasters(
            results, folder / "rasters", run_info=run_info, synthetic=synthetic, tick=tick
        )
        written.append(True)

    write_report(  # the rasters are written while forked processes draw the figures
        results,
        folder,
        regions_geojson=regions_geojson,
        run_info=_report_info(run_info),
        synthetic=synthetic,
        alongside=rasters,
    )
    if not written:  # a report function that does not take the work along (a stand-in)
        rasters()
    tick()
    (folder / "run.json").write_text(json.dumps(_clean(run_info), indent=2, default=_json_default))
    tick()


def _report_info(run_info: dict) -> dict:
    """The run facts the report's header shows (the rest is in run.json)."""
    inputs = run_info.get("inputs", {})
    info = {
        "run_date": run_info.get("created"),
        "engine": run_info.get("engine"),
        "input": inputs.get("npp_asset") or inputs.get("npp"),
        "regions": inputs.get("regions") or "none (whole area only)",
        "package": f"gee-cscc {run_info.get('version')}",
    }
    if run_info.get("project"):
        info["project"] = run_info["project"]
    if inputs.get("region_names"):
        info["region names"] = inputs["region_names"]
    if run_info.get("mode"):
        info["mode"] = run_info["mode"]
    if run_info.get("rasters_note"):
        info["rasters"] = run_info["rasters_note"]
    return info


def _write_tables(
    results: Any, folder: Path, *, synthetic: bool = False, tick: Callable[[], None] = lambda: None
) -> None:
    """The CSV tables; for synthetic data each gets a last column ``synthetic`` (``true`` on
    every row: a column, not a comment line, so every CSV reader keeps working)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (attr, leading) in {**TABLE_FILES, **OPTIONAL_TABLE_FILES}.items():
        frame: pd.DataFrame = getattr(results, attr, None)
        if frame is None and name in OPTIONAL_TABLE_FILES:
            continue
        missing = [c for c in leading if c not in frame.columns]
        if missing:
            raise RuntimeError(f"Table {name} lacks columns {missing}.")
        ordered = frame[
            leading + [c for c in frame.columns if c not in leading + [SYNTHETIC_COLUMN]]
        ]
        if synthetic:
            ordered = ordered.assign(**{SYNTHETIC_COLUMN: "true"})
        ordered.to_csv(folder / name, index=False, float_format="%.10g")
        tick()


def _write_rasters(
    results: Any,
    folder: Path,
    *,
    run_info: dict,
    synthetic: bool,
    tick: Callable[[], None] = lambda: None,
) -> None:
    """Every layer as a Cloud-Optimized GeoTIFF and all of them in ``results.nc`` (CF-1.8)."""
    grid = results.summary.get("raster_grid") or results.summary["grid"]  # batch: preview
    file_grid = FileGrid.from_summary(grid)
    version = run_info.get("version") or run_info.get("versions", {}).get("gee-cscc", "")
    source = f"gee_cscc {version}".strip()
    if run_info.get("engine"):
        source += f", {run_info['engine']} Earth Engine"
    folder.mkdir(parents=True, exist_ok=True)
    created = run_info.get("created") or ""
    mode = run_info.get("mode") or getattr(results, "mode", "")
    history = f"{created} gee_cscc {version}: {mode} run of the CSCC method".strip()
    # results.nc is written in a thread while the GeoTIFFs are: GDAL compresses and copies
    # the COGs without the GIL, so the two share the cores (at 0.0125° the GeoTIFFs take
    # about 10 s and results.nc 5 s, one after the other before). The layers are read from
    # their files by each writer on its own.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="results.nc") as pool:
        netcdf = pool.submit(
            write_netcdf,
            results.rasters,
            folder / "results.nc",
            file_grid,
            title="Vegetation carbon sink carrying capacity (CSCC) and its trends, gee_cscc",
            source=source,
            history=history,
            synthetic=synthetic,
        )
        try:
            for name in results.rasters.data_vars:  # one layer at a time: a tick per file
                write_geotiffs(
                    results.rasters[[name]], folder, file_grid, source=source, synthetic=synthetic
                )
                tick()
        except BaseException:
            netcdf.cancel()
            concurrent.futures.wait([netcdf])  # not left writing into the folder
            raise
        netcdf.result()  # its error, if it failed
    tick()
