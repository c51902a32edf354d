"""The files of one run: tables (CSV), rasters (GeoTIFF, NetCDF), run.json, the report.

:func:`write_outputs` writes everything into a staging folder beside ``OUT`` and swaps it
in whole only when everything succeeded (:mod:`gee_cscc.report.out_folder`), so ``OUT`` is
always the complete old or the complete new result. :func:`write_results` writes into a
folder as it is (the staging folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gee_cscc.report.out_folder import staged_out

__all__ = ["TABLE_FILES", "update_run_json", "write_outputs", "write_results"]

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
        ["region", "year", "n_pos", "ratio_pos", "n_neg", "ratio_neg", "changed", "changed_ratio"],
    ),
    "yearly.csv": (
        "yearly",
        ["year", "mean_npp_gm2", "total_npp_pg", "saturation", "potential_pg"],
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


def write_results(
    results: Any,
    folder: Path,
    *,
    run_info: dict,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
) -> None:
    """Write tables, rasters, figures, report and (last) run.json into ``folder``."""
    folder = Path(folder)
    _write_tables(results, folder / "tables")
    _write_rasters(results, folder / "rasters", synthetic=synthetic)
    from gee_cscc.report import write_report

    write_report(
        results,
        folder,
        regions_geojson=regions_geojson,
        run_info=_report_info(run_info),
        synthetic=synthetic,
    )
    (folder / "run.json").write_text(json.dumps(_clean(run_info), indent=2, default=_json_default))


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


def _write_tables(results: Any, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (attr, leading) in TABLE_FILES.items():
        frame: pd.DataFrame = getattr(results, attr)
        missing = [c for c in leading if c not in frame.columns]
        if missing:
            raise RuntimeError(f"Table {name} lacks columns {missing}.")
        ordered = frame[leading + [c for c in frame.columns if c not in leading]]
        ordered.to_csv(folder / name, index=False, float_format="%.10g")


def _write_rasters(results: Any, folder: Path, *, synthetic: bool) -> None:
    import rioxarray  # noqa: F401  (registers .rio)

    folder.mkdir(parents=True, exist_ok=True)
    ds = results.rasters
    grid = results.summary.get("raster_grid") or results.summary["grid"]  # batch: preview
    crs = grid.get("crs_wkt") or grid["crs"]  # crs_wkt: a CRS PROJ lacks (SR-ORG:6974)
    transform = grid["crs_transform"]
    from affine import Affine

    aff = Affine(*transform)
    for name, da in ds.data_vars.items():
        arr = da
        if arr.ndim == 3:
            dim = arr.dims[0]
            arr = arr.transpose(dim, "y", "x")
            band_names = [f"{name}_{int(v)}" for v in arr[dim].values]
        else:
            band_names = [name]
        arr = arr.astype("float32")
        arr = (
            arr.rio.write_crs(crs).rio.write_transform(aff).rio.write_nodata(np.nan, encoded=False)
        )
        arr.attrs["long_name"] = tuple(band_names) if len(band_names) > 1 else band_names[0]
        arr.rio.to_raster(folder / f"{name}.tif", compress="deflate")
    encoded = ds.copy()
    encoded.attrs.update(
        title="gee_cscc results (Wu et al. 2023 method)",
        source="synthetic demo data" if synthetic else "gee_cscc",
        crs=grid["crs"],
        crs_wkt=grid.get("crs_wkt") or "",
        crs_transform=json.dumps(list(transform)),
        Conventions="CF-1.8",
    )
    encoded.to_netcdf(folder / "results.nc")
