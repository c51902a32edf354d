"""Several NPP products at once (docs/method.md §7): one full run per product, then the ensemble.

An orchestration over the single-product run (:func:`gee_cscc.workflow.run.run`):
:func:`run_ensemble` runs the whole method for each product into ``OUT/products/<name>/``
(each a complete run folder: tables, rasters, figures, report, run.json), all on the same
analysis grid and regions, then compares them (:mod:`gee_cscc.stats.ensemble`) and writes
``OUT/tables/ensemble.csv``, ``OUT/rasters/ensemble_cscc_mean.tif`` and
``ensemble_cscc_sd.tif``, the figures, ``OUT/report.html`` and ``OUT/run.json``
(:mod:`gee_cscc.report.ensemble`). OUT is replaced as a whole on success, as a single run's.

**Products.** :func:`product_specs` reads ``--npp`` values, each ``NAME=SOURCE`` or
``SOURCE`` (the name is then the product's, the file's stem or the asset's last part):
SOURCE is an ImageCollection asset id, a NetCDF/Zarr file or a folder of ``*_YYYY.tif``, or
a public product by name (``modis-npp``: its collection and settings). A run file's
``[products.NAME]`` tables give each product's own settings — any of :data:`PRODUCT_KEYS`
(``npp`` the source when ``--npp`` gives none, ``product``, ``band``, ``scale_factor``,
``offset``, ``valid_range``, ``composite_unit``, ``max_abs_npp``) — over the shared
configuration.

**The grid.** Without ``crs``/``scale``/``crs_transform`` in the configuration, the products
after the first are reprojected to the first product's analysis grid (its CRS and
``crs_transform``; the extent rule picks the same window when the regions give it). The runs'
grids must then be equal; if a product's footprint gives another window, the run stops and
says to give ``--extent``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.config.products import PRODUCTS
from gee_cscc.config.units import NPP_UNITS
from gee_cscc.errors import ConfigError, GeeCsccError, InputError
from gee_cscc.report.ensemble import write_ensemble
from gee_cscc.report.out_folder import check_out, staged_out
from gee_cscc.stats.ensemble import ensemble_maps, ensemble_table
from gee_cscc.version import __version__
from gee_cscc.workflow.analyze import Results
from gee_cscc.workflow.inputs import RunInputs
from gee_cscc.workflow.scratch_layers import map_layers

__all__ = [
    "PRODUCT_KEYS",
    "Ensemble",
    "ProductSpec",
    "compare_products",
    "product_specs",
    "run_ensemble",
]

#: The keys of a run file's ``[products.NAME]`` table.
PRODUCT_KEYS = (
    "npp",
    "product",
    "band",
    "scale_factor",
    "offset",
    "valid_range",
    "composite_unit",
    "max_abs_npp",
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ProductSpec:
    """One NPP product of an ensemble.

    Attributes
    ----------
    name
        Its name (letters, digits, ``_`` and ``-``; a folder ``OUT/products/<name>``).
    npp
        The source: an asset id, a local file or folder.
    settings
        The Config fields of this product (``product``, ``band``, ``scale_factor``, …).
    """

    name: str
    npp: str
    settings: dict = field(default_factory=dict)


@dataclass
class Ensemble:
    """The runs of every product and their comparison.

    Attributes
    ----------
    products
        Product name → its :class:`~gee_cscc.workflow.analyze.Results`.
    specs
        The products as given.
    table
        ``ensemble.csv`` (:func:`gee_cscc.stats.ensemble.ensemble_table`).
    maps
        ``cscc_mean`` and ``cscc_sd`` (g C m⁻² yr⁻¹) on the products' raster grid.
    summary
        The whole-area row's numbers (what run.json's ``summary`` holds).
    """

    products: dict[str, Results]
    specs: list[ProductSpec]
    table: pd.DataFrame
    maps: xr.Dataset
    summary: dict


def _derived_name(source: str) -> str:
    if source in PRODUCTS:
        return source
    path = Path(source)
    if path.exists():
        return path.stem if path.is_file() else path.name
    return source.rstrip("/").rsplit("/", 1)[-1]


def _check_name(name: str, where: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if not _NAME.fullmatch(clean):
        raise ConfigError(
            f"{where}: product name {name!r} must start with a letter and hold at most 40 "
            "letters, digits, '_' or '-' (give NAME=SOURCE)"
        )
    return clean


def product_specs(
    npp: Sequence[str] | None, table: Mapping[str, Any] | None = None
) -> list[ProductSpec]:
    """The products of ``--npp`` values and a run file's ``[products]`` tables.

    Raises
    ------
    ConfigError
        Fewer than 2 products, a name given twice, a bad name, an unknown key in
        ``[products.NAME]``, a table naming a product ``--npp`` does not give, or a product
        without a source.
    """
    table = dict(table or {})
    for name, settings in table.items():
        if not isinstance(settings, Mapping):
            raise ConfigError(f"[products.{name}] must be a table (npp = ..., band = ...)")
        unknown = sorted(set(settings) - set(PRODUCT_KEYS))
        if unknown:
            raise ConfigError(
                f"[products.{name}]: unknown key(s) {unknown}; known: {', '.join(PRODUCT_KEYS)}"
            )
    given: list[tuple[str, str | None]] = []
    if npp:
        for value in npp:
            head, sep, tail = value.partition("=")
            if sep and _NAME.fullmatch(head) and tail:
                given.append((head, tail))
            elif sep and tail and not Path(value).exists():  # NAME=SOURCE with a bad NAME
                raise ConfigError(
                    f"--npp {value}: product name {head!r} must start with a letter and hold "
                    "at most 40 letters, digits, '_' or '-' (give NAME=SOURCE)"
                )
            else:
                given.append((_check_name(_derived_name(value), f"--npp {value}"), value))
        extra = sorted(set(table) - {name for name, _ in given})
        if extra:
            raise ConfigError(
                f"[products.{extra[0]}] names no product of --npp ({', '.join(n for n, _ in given)}): "
                f"give --npp {extra[0]}=SOURCE or remove the table"
            )
    else:
        for n in table:  # a table's name is the folder's: not changed, so settings stay on it
            if not _NAME.fullmatch(str(n)):
                raise ConfigError(
                    f"[products.{n}]: product name {str(n)!r} must start with a letter and hold "
                    "at most 40 letters, digits, '_' or '-'"
                )
        given = [(str(n), None) for n in table]
    specs, seen = [], {}
    for name, source in given:
        if name in seen:
            raise ConfigError(f"--npp: product name {name!r} is given twice")
        if name.lower() in seen.values():  # one folder OUT/products/<name> on macOS, Windows
            other = next(n for n, low in seen.items() if low == name.lower())
            raise ConfigError(
                f"--npp: product names {other!r} and {name!r} differ only in case (one folder "
                "on macOS and Windows): rename one"
            )
        seen[name] = name.lower()
        settings = {k: v for k, v in (table.get(name) or {}).items() if k != "npp"}
        source = source or (table.get(name) or {}).get("npp")
        if source in PRODUCTS:
            settings.setdefault("product", source)
        if source is None and settings.get("product") in PRODUCTS:
            source = PRODUCTS[settings["product"]].collection
        if source in PRODUCTS:
            source = PRODUCTS[source].collection
        if not source:
            raise ConfigError(f"product {name!r} has no NPP source: give --npp {name}=SOURCE")
        specs.append(ProductSpec(name, str(source), settings))
    if len(specs) < 2:
        raise ConfigError(
            f"an ensemble needs at least 2 products, got {len(specs)}: repeat --npp NAME=SOURCE"
        )
    return specs


def product_config(cfg: Config, spec: ProductSpec, grid: Mapping[str, Any] | None) -> Config:
    """The configuration of one product: the shared one with the product's settings, on the
    first product's grid (``grid``, its run summary's grid) unless the configuration sets one."""
    try:
        out = cfg.replace(**spec.settings) if spec.settings else cfg
    except ConfigError as exc:
        raise ConfigError(f"[products.{spec.name}]: {exc}") from None
    if grid is not None and out.crs is None and out.scale is None and out.crs_transform is None:
        out = out.replace(crs=str(grid["crs"]), crs_transform=tuple(grid["crs_transform"]))
    return out


def run_ensemble(
    cfg: Config,
    specs: Sequence[ProductSpec],
    out: str | Path,
    *,
    regions: str | None = None,
    region_names: str | None = None,
    regions_layer: str | None = None,
    infer_years: tuple[str, ...] = (),
    store: str | Path | None = None,
    counting: str = "local",
    extent: Any = None,
    mode: str = "auto",
    batch: Callable[[Path], Any] | None = None,
    synthetic: bool = False,
    progress: Progress | None = None,
    engine: Any = None,
) -> Ensemble:
    """Run every product (see the module docstring) and write the ensemble into ``out``.

    ``batch`` makes a product's :class:`~gee_cscc.workflow.batch.BatchOptions` from its task
    folder ``OUT/products/<name>`` (default: its manifest there and nothing else). The
    manifest is written in OUT itself as the product runs, not in the staging folder, so a
    stopped or failed ensemble keeps the tasks of every product it reached, and the rerun
    waits on them or skips them, as a single run does with ``OUT/export_tasks.json``. The
    other options are those of :func:`gee_cscc.workflow.run.run`, shared by every product.
    """
    from gee_cscc.workflow.batch import BatchOptions
    from gee_cscc.workflow.engines import connect
    from gee_cscc.workflow.readers import is_local_path
    from gee_cscc.workflow.run import run, versions

    say = progress or (lambda message: None)
    local = [v for v in (*(s.npp for s in specs), regions, region_names) if v and is_local_path(v)]
    if engine is not None:
        store_folder = getattr(getattr(engine, "store", None), "root", None)
    elif cfg.engine == "local":
        from gee_cscc.workflow.engines import store_path

        store_folder = store_path(store)
    else:
        store_folder = None
    out = check_out(out, store=store_folder, inputs=local)
    ctx = contextlib.nullcontext(engine) if engine is not None else connect(cfg, store, progress)
    products: dict[str, Results] = {}
    with ctx as eng, staged_out(out) as staging:
        grid, years = None, {}
        for i, spec in enumerate(specs, start=1):
            say(f"product {i}/{len(specs)} {spec.name}: {spec.npp}")
            pcfg = product_config(cfg, spec, grid)
            if years:  # the years taken from the first product's input apply to every product
                pcfg = pcfg.replace(**years)
            folder = staging / "products" / spec.name
            tasks = out / "products" / spec.name
            inputs = RunInputs(
                npp=spec.npp,
                regions=regions,
                region_names=region_names,
                regions_layer=regions_layer,
                synthetic=synthetic,
                infer_years=infer_years if i == 1 else (),
                extra={"product": spec.name},
            )
            try:
                products[spec.name] = run(
                    pcfg,
                    inputs,
                    folder,
                    store=store,
                    counting=counting,
                    extent=extent,
                    mode=mode,
                    # The product's task manifest lives in OUT itself, not in the staging
                    # folder: a stopped ensemble keeps every product's tasks for the rerun
                    # (swap_in carries it into the new OUT), as a single run keeps its own.
                    batch=batch(tasks) if batch is not None else BatchOptions(task_dir=tasks),
                    progress=progress,
                    engine=eng,
                )
            except GeeCsccError as exc:
                raise _named(exc, f"product {spec.name!r} ({i} of {len(specs)})") from exc
            grid = grid or products[spec.name].summary["grid"]
            if i == 1 and infer_years:
                first = products[spec.name].config
                years = {k: getattr(first, k) for k in ("start", "end")}
        say("ensemble: comparing the products")
        ensemble = _compare(products, list(specs))
        run_info = {
            "package": "gee-cscc",
            "version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kind": "ensemble",
            "engine": cfg.engine,
            "inputs": {"regions": regions, "region_names": region_names, "synthetic": synthetic},
            "products": [
                {"name": s.name, "npp": s.npp, "settings": s.settings, "out": f"products/{s.name}"}
                for s in specs
            ],
            "config": cfg.to_dict(),
            "grid": grid,
            "summary": ensemble.summary,
            "versions": versions(),
        }
        write_ensemble(ensemble, staging, run_info=run_info, synthetic=synthetic)
    return ensemble


def compare_products(
    npp: Mapping[str, str],
    regions: str | None = None,
    *,
    out: str | Path,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    config: Config | str | Path | None = None,
    **options: Any,
) -> Ensemble:
    """Several NPP products in one call (``gee_cscc.compare_products``).

    Parameters
    ----------
    npp
        Product name → source (asset id, NetCDF/Zarr file, folder of ``*_YYYY.tif``, or a
        public product's name such as ``"modis-npp"``), in order (the first sets the grid).
    regions
        A GeoJSON/GeoPackage/shapefile or region GeoTIFF path, or a table asset id.
    out
        The output folder (``OUT/products/<name>/`` per product, the ensemble files in OUT).
    settings
        Product name → its own Config fields (:data:`PRODUCT_KEYS` but ``npp``), e.g.
        ``{"modis": {"scale_factor": 0.1, "valid_range": [0, 32700]}}``.
    config
        The shared :class:`Config` or a TOML file (default ``Config()``).
    **options
        :func:`run_ensemble`'s options (``region_names``, ``store``, ``mode``, ``counting``,
        ``extent``, ``batch``, ``progress``, ``engine``) and shared Config fields.
    """
    from gee_cscc.workflow.years import years_to_infer

    base = Config.from_toml(Path(config)) if isinstance(config, (str, Path)) else config
    cfg = base or Config()
    run_keys = {
        "region_names", "regions_layer", "store", "counting", "extent", "mode", "batch",
        "progress", "engine", "synthetic", "infer_years",
    }  # fmt: skip
    fields = {k: v for k, v in options.items() if k not in run_keys}
    cfg = cfg.replace(**fields) if fields else cfg
    for name in npp:
        if not _NAME.fullmatch(str(name)):
            raise ConfigError(
                f"compare_products: product name {name!r} must start with a letter and hold "
                "at most 40 letters, digits, '_' or '-'"
            )
    unknown = sorted(map(str, set(settings or {}) - set(npp)))
    if unknown:  # a misspelt name would silently run that product without its settings
        raise ConfigError(
            f"compare_products: settings for {unknown[0]!r}, which is not a product of npp "
            f"({', '.join(map(str, npp))})"
        )
    table = {name: dict((settings or {}).get(name, {})) for name in npp}
    specs = product_specs([f"{name}={source}" for name, source in npp.items()], table)
    run_options = {k: v for k, v in options.items() if k in run_keys}
    run_options.setdefault("infer_years", years_to_infer(cfg, config, fields))
    return run_ensemble(cfg, specs, out, regions=regions, **run_options)


def _named(exc: GeeCsccError, where: str) -> GeeCsccError:
    """``exc`` with its message prefixed by ``where`` (the same type when it can be made)."""
    try:
        return type(exc)(f"{where}: {exc}")
    except Exception:  # a type with another constructor: the message as it was
        return exc


def _compare(products: dict[str, Results], specs: list[ProductSpec]) -> Ensemble:
    """The ensemble of finished runs: the grids checked equal, the table and the maps."""
    first = next(iter(products))
    grids = {n: r.summary.get("raster_grid") or r.summary["grid"] for n, r in products.items()}
    ref = grids[first]
    for name, g in grids.items():
        same = list(g["shape"]) == list(ref["shape"]) and np.allclose(
            g["crs_transform"],
            ref["crs_transform"],
            rtol=0,
            atol=1e-9 * abs(ref["crs_transform"][0]),
        )
        if not same or g["crs"] != ref["crs"]:
            raise InputError(
                f"product {name!r} ran on another grid ({g['crs']} {g['shape']}) than "
                f"{first!r} ({ref['crs']} {ref['shape']}): give --extent W,S,E,N (and --crs/--scale) "
                "so that every product covers the same window"
            )
    table = ensemble_table(
        {n: r.capacity for n, r in products.items()},
        {n: r.resilience for n, r in products.items()},
    )
    base = products[first].rasters["cscc"]
    mean, sd = _ensemble_maps([r.rasters["cscc"] for r in products.values()])
    maps = xr.Dataset(
        {
            "ensemble_cscc_mean": base.copy(data=mean).assign_attrs(
                units=NPP_UNITS, long_name="mean CSCC over the NPP products"
            ),
            "ensemble_cscc_sd": base.copy(data=sd).assign_attrs(
                units=NPP_UNITS,
                long_name="sample standard deviation of CSCC over the NPP products",
            ),
        }
    )
    whole = products[first].config.all_label
    row = table[table["region"] == whole].iloc[0]
    summary = {
        "products": [s.name for s in specs],
        "grid": ref,
        "all_label": whole,
        "cscc_total_pg_mean": float(row["cscc_tg_mean"]) / 1e3,
        "cscc_total_pg_sd": float(row["cscc_tg_sd"]) / 1e3,
        "potential_pg_mean": float(row["potential_tg_mean"]) / 1e3,
        "potential_pg_sd": float(row["potential_tg_sd"]) / 1e3,
        "modal_grade": str(row["modal_grade"]),
        "grade_agreement": float(row["grade_agreement"]),
        "regions_full_grade_agreement": float((table["grade_agreement"] == 1.0).mean()),
        "per_product": {
            n: {
                "cscc_total_pg": float(r.summary["cscc_total_pg"]),
                "potential_last_pg": float(r.summary["potential_last_pg"]),
                "years": [int(r.config.start), int(r.config.end)],
            }
            for n, r in products.items()
        },
    }
    return Ensemble(products, specs, table, maps, summary)


def _ensemble_maps(layers: list[xr.DataArray]) -> tuple[Any, Any]:
    """Mean and sd of CSCC (float32): by strips of rows into the first run's scratch folder
    when its layers are read from one (:mod:`gee_cscc.workflow.scratch_layers`), else in
    memory."""

    def strips(rows: list[np.ndarray]) -> list[np.ndarray]:
        return [m.astype(np.float32) for m in ensemble_maps(rows)]

    lazy = map_layers(layers, strips, ["ensemble_cscc_mean", "ensemble_cscc_sd"], np.float32)
    if lazy is not None:
        return lazy[0], lazy[1]
    mean, sd = strips([layer.values for layer in layers])
    return mean, sd
