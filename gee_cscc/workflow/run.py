"""One run end to end: inputs → method on the engine → tables, rasters, figures, report.

:func:`run` is what ``gee-cscc run`` and ``gee-cscc demo`` call. Outputs are written to a
staging folder beside ``OUT`` and moved into place only when everything succeeded, so a
failed run leaves no half-written file in ``OUT`` (earlier outputs there stay as they were).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gee_cscc import __version__
from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.workflow.analyze import Results, analyze

__all__ = ["RunInputs", "run", "write_outputs", "TABLE_FILES", "default_store"]

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

Progress = Callable[[str], None]


def default_store() -> Path:
    """The local engine's default store: ``$GEE_CSCC_STORE`` or ``~/.cache/gee-cscc/store``."""
    env = os.environ.get("GEE_CSCC_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gee-cscc" / "store"


@dataclass
class RunInputs:
    """What a run reads: NPP and regions as asset ids or local files.

    Attributes
    ----------
    npp
        An ImageCollection asset id, a NetCDF/Zarr file, or a folder of ``*_YYYY.tif``.
    regions
        A table asset id or an integer region image asset id, a GeoJSON file, a region
        GeoTIFF, or None (whole area only).
    region_names
        CSV (``region_id,name``) naming the ids of a region raster.
    regions_kind
        ``"auto"`` (decide from the asset type or file suffix), ``"table"`` or ``"image"``.
    synthetic
        True for the demo's synthetic data (said in every output).
    """

    npp: str
    regions: str | None = None
    region_names: str | None = None
    regions_kind: str = "auto"
    synthetic: bool = False
    extra: dict = field(default_factory=dict)


@contextlib.contextmanager
def _engine_for(cfg: Config, store: Path | None, progress: Progress | None) -> Iterator[Any]:
    if cfg.engine == "local":
        from gee_cscc.engine import LocalEngine

        path = Path(store) if store is not None else default_store()
        path.mkdir(parents=True, exist_ok=True)
        if progress:
            progress(f"starting the local engine (store {path})")
        with LocalEngine(store=path, project=cfg.project or "local-project") as eng:
            yield eng
        return
    import ee

    if not cfg.project:
        raise InputError(
            "--engine earthengine needs a Google Cloud project (--project or project = ...)."
        )
    if progress:
        progress(f"initializing Earth Engine (project {cfg.project})")
    try:
        ee.Initialize(project=cfg.project)
    except Exception as exc:
        raise InputError(
            f"Earth Engine could not be initialized for project '{cfg.project}': {exc}. "
            "Run `earthengine authenticate` (or ee.Authenticate()) first."
        ) from exc
    yield None


def _resolve_inputs(inputs: RunInputs, engine: Any, cfg: Config) -> tuple[str, Any]:
    """Asset ids of the NPP collection and the regions (loading local files into the store)."""
    import ee

    from gee_cscc.method import regions_from_features, regions_from_image
    from gee_cscc.workflow.inputs import (
        check_same_grid,
        is_local_path,
        read_geojson,
        read_npp,
        read_region_names,
        read_region_raster,
    )

    _check_file_exists(inputs.npp, "NPP input")
    npp_id = inputs.npp
    npp_data = None
    if is_local_path(inputs.npp):
        if engine is None:
            raise InputError(
                f"{inputs.npp} is a local file: on Earth Engine, upload it first "
                "(gee-cscc upload) and pass the asset id."
            )
        npp_data = read_npp(inputs.npp, band=cfg.band).data
        npp_id = engine.asset_id("inputs/npp")
        engine.store.put_collection(
            npp_id, npp_data, band=cfg.band, properties={"source": str(inputs.npp)}
        )
    names = read_region_names(inputs.region_names) if inputs.region_names else None
    if inputs.regions is None:
        return npp_id, None
    reg = inputs.regions
    _check_file_exists(reg, "Region file")
    kind = inputs.regions_kind
    if is_local_path(reg):
        if engine is None:
            raise InputError(
                f"{reg} is a local file: on Earth Engine, upload it first and pass the asset id."
            )
        suffix = Path(reg).suffix.lower()
        if suffix in (".geojson", ".json"):
            rid = engine.asset_id("inputs/regions")
            engine.store.put_table(rid, read_geojson(reg))
            return npp_id, regions_from_features(
                ee.FeatureCollection(rid), name_property=cfg.region_property, source=str(reg)
            )
        if suffix in (".tif", ".tiff"):
            raster = read_region_raster(reg)
            if npp_data is not None:
                check_same_grid(npp_data, raster, npp_name=str(inputs.npp), regions_name=str(reg))
            rid = engine.asset_id("inputs/region_ids")
            engine.store.put_image(rid, raster)
            ids = sorted(int(v) for v in np.unique(raster.values) if v > 0)
            return npp_id, regions_from_image(ee.Image(rid), names=names, ids=ids, source=str(reg))
        raise InputError(f"Unknown region file type '{suffix}' ({reg}): give a .geojson or a .tif.")
    # An asset id: a table or an image.
    if kind == "auto":
        try:
            info = ee.data.getAsset(reg)
        except ee.EEException as exc:
            raise InputError(f"Region asset '{reg}' cannot be read: {exc}") from exc
        kind = "image" if info.get("type") == "IMAGE" else "table"
    if kind == "image":
        img = ee.Image(reg)
        ids = sorted(names) if names else _region_ids(img)
        return npp_id, regions_from_image(img, names=names, ids=ids, source=reg)
    return npp_id, regions_from_features(
        ee.FeatureCollection(reg), name_property=cfg.region_property, source=reg
    )


#: Suffixes that mark an input as a local file (an asset id never ends like this).
_FILE_SUFFIXES = frozenset(
    {".nc", ".nc4", ".cdf", ".zarr", ".tif", ".tiff", ".geojson", ".json", ".csv", ".shp", ".gpkg"}
)


def _check_file_exists(value: str, what: str) -> None:
    """A missing local file is "not found", not an unreadable asset id of the same name."""
    from gee_cscc.workflow.inputs import is_local_path

    looks_like_file = Path(value).suffix.lower() in _FILE_SUFFIXES or value.startswith(
        ("./", "../", ".\\", "..\\")
    )
    if looks_like_file and not is_local_path(value):
        raise InputError(f"{what} not found: {value}")


def _region_ids(image: Any) -> list[int]:
    """The ids (> 0) present in a region-id image asset, counted on its own grid."""
    import ee

    ids = ee.Image(image).select([0]).toInt32()
    groups = (
        ids.addBands(ids)
        .reduceRegion(
            ee.Reducer.count().group(groupField=1, groupName="id"),
            geometry=ids.geometry(),
            maxPixels=1e13,
        )
        .get("groups")
    )
    return sorted(int(g["id"]) for g in (ee.List(groups).getInfo() or []) if int(g["id"]) > 0)


def run(
    cfg: Config,
    inputs: RunInputs,
    out: str | Path,
    *,
    store: str | Path | None = None,
    counting: str = "local",
    extent: str = "input",
    progress: Progress | None = None,
    engine: Any | None = None,
) -> Results:
    """Run the whole method and write every output into ``out``.

    Parameters
    ----------
    cfg
        The run configuration (``cfg.engine`` picks the engine).
    inputs
        The NPP and region inputs.
    out
        The output folder (created; existing files are replaced only on success).
    store
        The local engine's asset store (default :func:`default_store`).
    counting
        ``"local"`` or ``"server"`` maintenance counting (see :func:`gee_cscc.workflow.analyze.analyze`).
    extent
        ``"input"`` (the whole input grid) or ``"regions"`` (the input grid cut to the
        regions' bounding box; see :func:`gee_cscc.workflow.analyze.analyze`).
    progress
        Called with a message as each step starts.
    engine
        An already started :class:`gee_cscc.engine.LocalEngine` to use instead of starting one.
    """
    started = time.perf_counter()
    out = Path(out)
    ctx = (
        contextlib.nullcontext(engine) if engine is not None else _engine_for(cfg, store, progress)
    )
    with ctx as eng:
        npp_id, regions = _resolve_inputs(inputs, eng, cfg)
        results = analyze(
            npp_id, cfg, regions=regions, counting=counting, extent=extent, progress=progress
        )
        regions_geojson = _regions_geojson(inputs, regions)
    run_info = {
        "package": "gee-cscc",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "engine": cfg.engine,
        "project": cfg.project,
        "inputs": {
            "npp": inputs.npp,
            "npp_asset": npp_id,
            "regions": inputs.regions,
            "region_names": inputs.region_names,
            "synthetic": inputs.synthetic,
            **inputs.extra,
        },
        "config": cfg.to_dict(),
        "grid": results.summary.get("grid"),
        "counting": counting,
        "extent": extent,
        "summary": results.summary,
        "versions": versions(),
    }
    if progress:
        progress("writing tables, rasters, figures and the report")
    t0 = time.perf_counter()
    write_outputs(
        results, out, run_info=run_info, regions_geojson=regions_geojson, synthetic=inputs.synthetic
    )
    results.timings["write outputs"] = round(time.perf_counter() - t0, 3)
    results.timings["total"] = round(time.perf_counter() - started, 3)
    _patch_timings(out / "run.json", results.timings)
    return results


def _regions_geojson(inputs: RunInputs, regions: Any) -> dict | None:
    if regions is None or getattr(regions, "features", None) is None:
        return None
    try:
        return regions.features.getInfo()
    except Exception:
        return None


def versions() -> dict:
    """Versions of Python and the libraries a run depends on (for bug reports)."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in (
        "gee-cscc",
        "earthengine-api",
        "xee",
        "xarray",
        "numpy",
        "scipy",
        "pandas",
        "rasterio",
        "shapely",
        "pyproj",
        "matplotlib",
    ):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


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


def _patch_timings(path: Path, timings: dict) -> None:
    data = json.loads(path.read_text())
    data["timings_s"] = timings
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, default=_json_default))
    os.replace(tmp, path)


def write_outputs(
    results: Results,
    out: Path,
    *,
    run_info: dict,
    regions_geojson: dict | None = None,
    synthetic: bool = False,
) -> None:
    """Write tables, rasters, figures, report and run.json into ``out`` atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-staging-", dir=out.parent))
    try:
        _write_tables(results, staging / "tables")
        _write_rasters(results, staging / "rasters", synthetic=synthetic)
        from gee_cscc.report import write_report

        write_report(
            results,
            staging,
            regions_geojson=regions_geojson,
            run_info=_report_info(run_info),
            synthetic=synthetic,
        )
        (staging / "run.json").write_text(
            json.dumps(_clean(run_info), indent=2, default=_json_default)
        )
        _move_into(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    return info


def _move_into(staging: Path, out: Path) -> None:
    """Move every staged file into ``out`` (replacing same-named files)."""
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(staging.rglob("*")):
        if src.is_dir():
            continue
        dst = out / src.relative_to(staging)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def _write_tables(results: Results, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (attr, leading) in TABLE_FILES.items():
        frame: pd.DataFrame = getattr(results, attr)
        missing = [c for c in leading if c not in frame.columns]
        if missing:
            raise RuntimeError(f"Table {name} lacks columns {missing}.")
        ordered = frame[leading + [c for c in frame.columns if c not in leading]]
        ordered.to_csv(folder / name, index=False, float_format="%.10g")


def _write_rasters(results: Results, folder: Path, *, synthetic: bool) -> None:
    import rioxarray  # noqa: F401  (registers .rio)

    folder.mkdir(parents=True, exist_ok=True)
    ds = results.rasters
    crs = results.summary["grid"]["crs"]
    transform = results.summary["grid"]["crs_transform"]
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
        crs=crs,
        crs_transform=json.dumps(list(transform)),
        Conventions="CF-1.8",
    )
    encoded.to_netcdf(folder / "results.nc")
