"""One run end to end: inputs → method on the engine → tables, rasters, figures, report.

:func:`run` is what ``gee-cscc run`` and ``gee-cscc demo`` call: it connects to the engine
(:mod:`~gee_cscc.workflow.engines`), loads local inputs into it
(:mod:`~gee_cscc.workflow.inputs`), analyses (:mod:`~gee_cscc.workflow.analyze`) and writes
the outputs (:mod:`gee_cscc.report.outputs`, staged and moved into place on success).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gee_cscc.config import Config
from gee_cscc.report.out_folder import check_out, staged_out
from gee_cscc.report.outputs import update_run_json, write_results
from gee_cscc.version import __version__
from gee_cscc.workflow.analyze import Results, analyze
from gee_cscc.workflow.batch import BatchOptions
from gee_cscc.workflow.engines import connect
from gee_cscc.workflow.inputs import RunInputs, input_years, resolve_inputs
from gee_cscc.workflow.modes import engine_limits

__all__ = ["check_out", "run", "versions"]

Progress = Callable[[str], None]


def run(
    cfg: Config,
    inputs: RunInputs,
    out: str | Path,
    *,
    store: str | Path | None = None,
    counting: str = "local",
    extent: str | tuple[float, float, float, float] | None = None,
    mode: str = "auto",
    batch: BatchOptions | None = None,
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
        The output folder, checked before anything is computed and replaced as a whole
        on success (:mod:`gee_cscc.report.out_folder`; a failed run leaves it as it was).
    store
        The local engine's asset store (default :func:`default_store`).
    counting
        ``"local"`` or ``"server"`` maintenance counting (see :func:`gee_cscc.workflow.analyze.analyze`).
    extent
        Overrides ``cfg.extent`` (``"input"``, ``"regions"``, ``(W, S, E, N)``); None uses
        the config's (see :mod:`gee_cscc.workflow.grid_choice`).
    mode
        ``"auto"`` (default), ``"interactive"`` or ``"batch"``
        (see :mod:`gee_cscc.workflow.modes`).
    batch
        Where batch tasks and exports go (default: the task manifest in ``out``, exports
        under the default asset root).
    progress
        Called with a message as each step starts.
    engine
        An already started :class:`gee_cscc.engine.LocalEngine` to use instead of starting one.
    """
    started = time.perf_counter()
    out = check_out(out, store=_store_path(cfg, store, engine), inputs=_local_inputs(inputs))
    ctx = contextlib.nullcontext(engine) if engine is not None else connect(cfg, store, progress)
    with ctx as eng:
        cfg = input_years(inputs, cfg, progress=progress)  # start/end against the input's years
        npp_id, regions = resolve_inputs(inputs, eng, cfg)
        results = analyze(
            npp_id,
            cfg,
            regions=regions,
            counting=counting,
            extent=extent,
            mode=mode,
            batch=batch if batch is not None else BatchOptions(task_dir=out),
            limits=engine_limits(eng),
            progress=progress,
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
        "extent": extent if extent is not None else cfg.extent,
        "summary": results.summary,
        "versions": versions(),
    }
    run_info.update(results.run_notes)  # mode, counting, batch tasks and preview
    if progress:
        progress("writing tables, rasters, figures and the report")
    t0 = time.perf_counter()
    counter = getattr(progress, "counter", None)  # a bar on a terminal (the CLI)
    with staged_out(out) as staging:  # OUT: the complete old or the complete new result
        write_results(
            results,
            staging,
            run_info=run_info,
            regions_geojson=regions_geojson,
            synthetic=inputs.synthetic,
            on_file=counter("files written", unit="files") if counter else None,
        )
        results.timings["write outputs"] = round(time.perf_counter() - t0, 3)
        results.timings["total"] = round(time.perf_counter() - started, 3)
        update_run_json(staging / "run.json", timings_s=results.timings)
    return results


def _store_path(cfg: Config, store: str | Path | None, engine: Any) -> Path | None:
    """The local engine's store folder of this run (None on Earth Engine)."""
    if engine is not None:
        return getattr(getattr(engine, "store", None), "root", None)
    if cfg.engine != "local":
        return None
    from gee_cscc.workflow.engines import store_path

    return store_path(store)


def _local_inputs(inputs: RunInputs) -> list[str]:
    """The run's inputs that are local files or folders."""
    from gee_cscc.workflow.readers import is_local_path

    values = (inputs.npp, inputs.regions, inputs.region_names)
    return [v for v in values if v and is_local_path(v)]


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
