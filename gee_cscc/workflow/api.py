"""``gee_cscc.analyze``: one call from NPP data to :class:`~gee_cscc.workflow.analyze.Results`.

In the spirit of xee and rioxarray, the NPP may be whatever a Python user holds:

- an ``xarray.DataArray`` with dims ``year`` (or ``time``), ``y``/``x`` (or ``lat``/``lon``),
  or a ``Dataset`` whose variable ``band`` (default ``npp``) is the NPP;
- a NetCDF/Zarr file or a folder of ``*_YYYY.tif`` (:mod:`gee_cscc.workflow.readers`);
- an ImageCollection asset id, or an ``ee.ImageCollection`` on the engine ``ee`` points at.

and the regions a GeoJSON, GeoPackage or shapefile path or a GeoJSON ``dict``, an integer region raster (GeoTIFF path or a
``(y, x)`` DataArray; name its ids with ``region_names``), a table or image asset id, or an
``ee.FeatureCollection``. In-memory data is written to a temporary file and read back by
the same readers as ``gee-cscc run`` (so it is checked the same way: grid, units, values).
Options are the fields of :class:`gee_cscc.config.Config` (``start``, ``end``,
``reference_year``, ``band``, ``scale_factor``, ``trend``, ``fit_mode``, ``product``,
``scale``, ``extent``, ...). With files, xarray objects or asset ids and no ``engine``, the
local engine (``engine = "local"``, the default) is started on ``store`` for the call and
stopped after; ``ee`` objects are computed on the engine ``ee`` is already pointed at.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gee_cscc.config import Config
from gee_cscc.errors import ConfigError, InputError
from gee_cscc.workflow.analyze import Results
from gee_cscc.workflow.results_api import run_info_of
from gee_cscc.workflow.years import years_to_infer

__all__ = ["analyze"]

_FIELDS = tuple(f.name for f in dataclasses.fields(Config))


def analyze(
    npp: Any,
    regions: Any = None,
    *,
    region_names: str | Path | dict[int, str] | None = None,
    regions_layer: str | None = None,
    out: str | Path | None = None,
    engine: Any = None,
    store: str | Path | None = None,
    mode: str = "auto",
    counting: str = "local",
    batch: Any = None,
    config: Config | str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> Results:
    """Run the whole method on ``npp`` (and ``regions``) and return the :class:`Results`.

    Parameters
    ----------
    npp
        A ``DataArray``/``Dataset``, a file or folder path, an asset id or an
        ``ee.ImageCollection`` (see the module docstring).
    regions
        A GeoJSON path or dict, a region raster path or ``DataArray``, an asset id, an
        ``ee.FeatureCollection``, or None (only the whole-area rows).
    region_names
        Names of a region raster's ids: a ``{id: name}`` dict or a CSV path
        (``region_id,name``).
    regions_layer
        The layer of a GeoPackage holding the regions (needed when it has several).
    out
        Also write every output there, as ``gee-cscc run --out`` (same as
        ``results.to_files(out)``; also where batch-mode tasks are kept).
    engine
        A started :class:`gee_cscc.LocalEngine` to use (kept running, so ``results.images``
        stay usable); default: one started and stopped for this call when needed.
    store
        The local engine's asset store (default ``~/.cache/gee-cscc/store``).
    mode, counting
        As ``gee-cscc run --mode/--counting`` (:func:`gee_cscc.workflow.analyze.analyze`).
    batch
        Where a batch-mode run keeps its tasks and exports
        (:class:`gee_cscc.workflow.batch.BatchOptions`; default: the task manifest in
        ``out``). Batch mode without ``out`` or ``batch`` is refused, naming both.
    config
        A :class:`Config` or TOML file the ``options`` are applied on (default ``Config()``).
    progress
        Called with a message as each step starts.
    **options
        Fields of :class:`Config`. ``start``/``end`` not given (here or in ``config``) are
        the first/last year of the NPP input; an input with more years is used for
        ``start … end`` only (:mod:`gee_cscc.workflow.years`).

    Raises
    ------
    ConfigError
        An unknown option (the message names the close matches) or a bad value.
    InputError
        An input that cannot be read or would give a wrong answer (one line naming it).
    """
    if isinstance(regions, Config) and config is None:  # analyze(npp, Config(...)) as before
        regions, config = None, regions
    cfg = _config(config, options)
    infer = years_to_infer(cfg, config, options)
    if batch is None and out is not None:
        from gee_cscc.workflow.batch import BatchOptions

        batch = BatchOptions(task_dir=Path(out))
    ee_input = _is_ee(npp) or _is_ee(regions)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gee-cscc-")))
        if ee_input:
            results = _analyze_ee(
                npp, regions, region_names, cfg, infer, mode, counting, batch, progress
            )
        else:
            results = _analyze_files(
                npp,
                regions,
                region_names,
                regions_layer,
                cfg,
                infer,
                tmp,
                engine,
                store,
                mode,
                counting,
                out,
                progress,
                batch,
            )
    if out is not None:
        results.to_files(out)
    return results


def _config(config: Any, options: dict[str, Any]) -> Config:
    unknown = [k for k in options if k not in _FIELDS]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, _FIELDS, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ConfigError(
            f"{key}: not an option of gee_cscc.analyze; {hint}"
            f"options are the fields of gee_cscc.Config: {', '.join(_FIELDS)}"
        )
    if config is None:
        base = Config()
    elif isinstance(config, Config):
        base = config
    else:
        base = Config.from_toml(Path(config))
    return base.replace(**options) if options else base


def _run_info(results: Results, inputs: dict) -> dict:
    """run.json as ``gee-cscc run`` writes it (with the library versions)."""
    from gee_cscc.workflow.run import versions

    return {**run_info_of(results, inputs=inputs), "versions": versions()}


def _is_ee(value: Any) -> bool:
    if value is None or isinstance(value, str | Path | dict):
        return False
    return type(value).__module__.split(".")[0] == "ee"


# --- files, xarray objects, asset ids: through the CLI's input machinery ------------------------


def _analyze_files(
    npp: Any,
    regions: Any,
    region_names: Any,
    regions_layer: str | None,
    cfg: Config,
    infer: tuple[str, ...],
    tmp: Path,
    engine: Any,
    store: Any,
    mode: str,
    counting: str,
    out: Any,
    progress: Any,
    batch: Any,
) -> Results:
    from gee_cscc.report.out_folder import check_out
    from gee_cscc.workflow import analyze as analysis
    from gee_cscc.workflow.engines import connect, store_path
    from gee_cscc.workflow.inputs import RunInputs, input_years, resolve_inputs
    from gee_cscc.workflow.modes import engine_limits
    from gee_cscc.workflow.readers import is_local_path

    inputs = RunInputs(
        npp=_npp_path(npp, cfg, tmp),
        regions=_regions_path(regions, tmp),
        region_names=_names_path(region_names, tmp),
        regions_layer=regions_layer,
        infer_years=infer,
    )
    local = [v for v in (inputs.npp, inputs.regions, inputs.region_names) if v and is_local_path(v)]
    given = [str(v) for v in (npp, regions, region_names) if isinstance(v, str | Path)]
    if out is not None:  # before anything is computed, as gee-cscc run
        if engine is not None:
            store_root = getattr(getattr(engine, "store", None), "root", None)
        else:
            store_root = store_path(store) if cfg.engine == "local" else None
        check_out(out, store=store_root, inputs=local)
    if engine is not None:
        ctx: Any = contextlib.nullcontext(engine)
    else:
        ctx = connect(cfg, store, progress)
    with ctx as eng:
        cfg = input_years(inputs, cfg, progress=progress)
        npp_id, reg = resolve_inputs(inputs, eng, cfg)
        results = analysis.analyze(
            npp_id,
            cfg,
            regions=reg,
            counting=counting,
            mode=mode,
            batch=batch,
            limits=engine_limits(eng),
            progress=progress,
        )
        geojson = _features_geojson(reg)
    shown = {
        "npp": _described(npp, inputs.npp),
        "npp_asset": npp_id,
        "regions": _described(regions, inputs.regions),
        "region_names": _described(region_names, inputs.region_names),
        "synthetic": False,
    }
    results.origin = {
        "run_info": _run_info(results, shown),
        "regions_geojson": geojson,
        "synthetic": False,
        "local_inputs": [p for p in given if is_local_path(p)],
    }
    return results


def _described(value: Any, path: str | None) -> str | None:
    """What run.json says an input was: its path or id, or what kind of object it was."""
    if value is None:
        return None
    if isinstance(value, str | Path):
        return str(value)
    return f"<in-memory {type(value).__name__}>"


def _npp_path(npp: Any, cfg: Config, tmp: Path) -> str:
    import xarray as xr

    if isinstance(npp, str | Path):
        return str(npp)
    if isinstance(npp, xr.DataArray):
        da = npp.rename(cfg.band)
        ds = da.to_dataset()
    elif isinstance(npp, xr.Dataset):
        ds = npp
    else:
        raise InputError(
            f"npp must be an xarray DataArray/Dataset, a file path, an asset id or an "
            f"ee.ImageCollection; got {type(npp).__name__}."
        )
    from gee_cscc.workflow.file_checks import crs_of

    ds = ds.copy()
    for name in ds.data_vars:  # a rioxarray CRS kept as the attribute the readers read first
        crs = crs_of(ds[name])
        if crs:
            ds[name].attrs["crs"] = crs
    path = tmp / "npp.nc"
    _write_netcdf(ds, path)
    return str(path)


def _write_netcdf(ds: Any, path: Path) -> None:
    """``ds`` as a NetCDF file the readers read back as they would the user's own file."""
    ds = ds.copy()
    for name in list(ds.variables):  # attrs that NetCDF cannot hold (e.g. a tuple transform)
        attrs = ds[name].attrs
        for key, value in list(attrs.items()):
            if isinstance(value, tuple | list):
                attrs[key] = (
                    list(value) if all(isinstance(v, int | float) for v in value) else str(value)
                )
            elif value is None or isinstance(value, dict):
                attrs.pop(key)
        ds[name].encoding = {}
    try:
        ds.to_netcdf(path)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        raise InputError(f"The in-memory NPP cannot be stored for reading: {text}") from exc


def _regions_path(regions: Any, tmp: Path) -> str | None:
    import xarray as xr

    if regions is None or isinstance(regions, str | Path):
        return None if regions is None else str(regions)
    if isinstance(regions, dict):
        path = tmp / "regions.geojson"
        path.write_text(json.dumps(regions))
        return str(path)
    if isinstance(regions, xr.DataArray):
        return str(_write_region_tif(regions, tmp / "regions.tif"))
    raise InputError(
        "regions must be a GeoJSON path or dict, a region raster path or DataArray, an asset "
        f"id or an ee.FeatureCollection; got {type(regions).__name__}."
    )


def _write_region_tif(da: Any, path: Path) -> Path:
    import rioxarray  # noqa: F401  (registers .rio)

    from gee_cscc.workflow.file_checks import crs_of

    rename = {k: v for k, v in (("lat", "y"), ("lon", "x"), ("latitude", "y"), ("longitude", "x"))}
    da = da.rename({k: v for k, v in rename.items() if k in da.dims})
    if set(da.dims) != {"y", "x"}:
        raise InputError(f"The region raster must have dims (y, x); it has {tuple(da.dims)}.")
    crs = da.rio.crs or crs_of(da) or "EPSG:4326"
    da = da.transpose("y", "x").rio.write_crs(crs).rio.set_spatial_dims(x_dim="x", y_dim="y")
    da.attrs = {}
    da.encoding = {}
    da.rio.to_raster(path)
    return path


def _names_path(names: Any, tmp: Path) -> str | None:
    if names is None or isinstance(names, str | Path):
        return None if names is None else str(names)
    if isinstance(names, dict):
        path = tmp / "names.csv"
        rows = "".join(f"{int(k)},{json.dumps(str(v))}\n" for k, v in names.items())
        path.write_text("region_id,name\n" + rows)
        return str(path)
    raise InputError(f"region_names must be a {{id: name}} dict or a CSV path; got {names!r}.")


def _features_geojson(regions: Any) -> dict | None:
    features = getattr(regions, "features", None)
    if features is None:
        return None
    try:
        return features.getInfo()
    except Exception:  # outlines are a nicety of the maps; the run does not need them
        return None


# --- ee objects: on the engine ee already points at ---------------------------------------------


def _analyze_ee(
    npp: Any,
    regions: Any,
    region_names: Any,
    cfg: Config,
    infer: tuple[str, ...],
    mode: str,
    counting: str,
    batch: Any,
    progress: Any,
) -> Results:
    import ee

    from gee_cscc.method import regions_from_features, regions_from_image
    from gee_cscc.workflow import analyze as analysis
    from gee_cscc.workflow.inputs import RunInputs, input_years

    if isinstance(npp, Path) or (isinstance(npp, str) and Path(npp).exists()):
        raise InputError(
            f"{npp} is a local file but the regions are an ee object: pass both as files "
            "(or both on the engine, e.g. npp as an ee.ImageCollection)."
        )
    if isinstance(regions, Path) or (isinstance(regions, str) and Path(regions).exists()):
        raise InputError(
            f"{regions} is a local file but the NPP is an ee object: pass the NPP as a file or "
            "DataArray too, or the regions as an ee.FeatureCollection or asset id."
        )
    reg = None
    if isinstance(regions, ee.FeatureCollection) or isinstance(regions, str):
        reg = regions_from_features(
            ee.FeatureCollection(regions), name_property=cfg.region_property, source=None
        )
    elif isinstance(regions, ee.Image):
        names = dict(region_names or {})
        if not names:
            raise InputError("A region ee.Image needs region_names={id: name, ...}.")
        reg = regions_from_image(regions, names=names, ids=sorted(names), source=None)
    elif regions is not None:
        raise InputError(
            "With an ee.ImageCollection, regions must be an ee.FeatureCollection, an ee.Image "
            f"or an asset id; got {type(regions).__name__}."
        )
    cfg = input_years(RunInputs(npp=npp, infer_years=infer), cfg, progress=progress)
    results = analysis.analyze(
        npp,
        cfg,
        regions=reg,
        counting=counting,
        mode=mode,
        batch=batch,
        progress=progress,
    )
    shown = {"npp": _described(npp, None), "regions": _described(regions, None)}
    results.origin = {
        "run_info": _run_info(results, shown),
        "regions_geojson": _features_geojson(reg),
        "synthetic": False,
    }
    return results
