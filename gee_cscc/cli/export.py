"""The ``export`` and ``annualize`` verbs of :mod:`gee_cscc.cli.cloud`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from gee_cscc.cli.common import (
    DEFAULT_ASSET_FOLDER,
    DEFAULT_EXPORT_OUT,
    DEFAULT_PREFIX,
    Reporter,
    config_from_args,
    destination_of,
    ee_errors_as_engine_error,
    engine_config,
    full_asset_id,
    no_wait_note,
    not_a_file,
    project_of,
    say,
    source_asset_id,
    wait_for,
    year_span,
)
from gee_cscc.errors import InputError
from gee_cscc.workflow.engines import connect

# --- the analysis grid and products (options of `run` and `export`) --------------------------


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def add_grid_options(p: argparse.ArgumentParser) -> None:
    """``--product``, ``--valid-range``, ``--crs``, ``--scale``, ``--crs-transform`` and
    ``--extent``: the product and the analysis grid (Config fields; the CLI wins)."""
    from gee_cscc.config.products import PRODUCTS

    p.add_argument(
        "--product",
        choices=sorted(PRODUCTS),
        help="a public product: sets band, scale factor, valid range and years, and the "
        "collection when --npp is not given ("
        + "; ".join(f"{k}: {v.description}" for k, v in PRODUCTS.items())
        + ")",
    )
    p.add_argument(
        "--valid-range",
        type=_numbers,
        metavar="LOW,HIGH",
        help="stored values outside LOW..HIGH are masked before scaling (fill, class codes)",
    )
    p.add_argument("--crs", help="CRS of the analysis grid (default: the input's)")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument(
        "--scale", type=float, help="pixel size of the analysis grid in metres (coarser: mean)"
    )
    grid.add_argument(
        "--crs-transform",
        type=_numbers,
        metavar="A,B,C,D,E,F",
        help="the analysis grid's affine xScale,xShear,xOrigin,yShear,yScale,yOrigin",
    )
    p.add_argument(
        "--extent",
        default=None,
        metavar="input|regions|auto|W,S,E,N",
        help="where to compute: the input's whole grid, the regions' bounding box, a lon/lat "
        "box, or auto (default: regions when regions are given, else input)",
    )


def product_collection(cfg: Any) -> str | None:
    """The catalog collection of the configured product (None without a product)."""
    from gee_cscc.config.products import PRODUCTS

    return PRODUCTS[cfg.product].collection if cfg.product else None


# --- export -----------------------------------------------------------------------------------


@ee_errors_as_engine_error
def cmd_export(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.cloud.tasks import TaskManifest
    from gee_cscc.workflow.export_run import export_run, read_run_tables

    cfg, file_inputs = config_from_args(args)
    npp = args.npp or file_inputs.get("npp") or product_collection(cfg)
    if not npp:
        raise InputError("No NPP input: give --npp ASSET (or npp in [inputs] of --config).")
    not_a_file(str(npp), "--npp")
    dest = destination_of(args, DEFAULT_PREFIX)
    tables = read_run_tables(args.tables) if args.tables else {}
    out = Path(args.out or DEFAULT_EXPORT_OUT)
    manifest = TaskManifest.in_dir(out)
    store = args.store or file_inputs.get("store")
    project = project_of(cfg)
    npp_id = source_asset_id(str(npp), project)
    root = full_asset_id(args.asset_root or DEFAULT_ASSET_FOLDER, project)

    with connect(cfg, store or None, report):
        exported = export_run(
            npp_id,
            cfg,
            destination=dest["destination"],
            asset_root=root,
            prefix=dest["prefix"],
            folder=dest["folder"],
            bucket=dest["bucket"],
            tables=tables,
            overwrite=args.overwrite,
            manifest=manifest,
            progress=report,
        )
        if args.no_wait:
            no_wait_note(cfg, report, manifest.path)
            say(args, exported.summary())
            return 0
        wait_for(exported.tasks, args, cfg, manifest, report)
    say(args, exported.summary())
    return 0


# --- annualize --------------------------------------------------------------------------------


def _parse_years(text: str | None) -> list[int] | None:
    """``2001-2018``, ``2001,2005``, ``2003`` (and combinations) → sorted years."""
    if text is None:
        return None
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{4})\s*[-–:]\s*(\d{4})", part) or re.fullmatch(r"(\d{4})", part)
        if not m:
            raise InputError(f"--years: cannot read {part!r}; give e.g. 2001-2018 or 2001,2005.")
        first = int(m.group(1))
        last = int(m.group(2)) if m.lastindex == 2 else first
        if last < first:
            raise InputError(f"--years: {part!r} ends before it starts.")
        years.update(range(first, last + 1))
    return sorted(years)


def _composite_grid(composites: Any, band: str, name: str) -> Any:
    """The grid of the first composite's ``band`` (one ``getInfo``)."""
    import ee

    from gee_cscc.method import GridSpec

    info = ee.Image(composites.first()).getInfo() or {}
    bands = info.get("bands") or []
    ids = [b.get("id") for b in bands]
    if band not in ids:
        raise InputError(f"Band '{band}' not found in the composites of '{name}'; bands: {ids}.")
    b = bands[ids.index(band)]
    if "dimensions" not in b or "crs_transform" not in b:
        raise InputError(f"The composites of '{name}' have no fixed grid (band '{band}').")
    return GridSpec.from_band_info(b)


@ee_errors_as_engine_error
def cmd_annualize(args: argparse.Namespace, report: Reporter) -> int:
    import ee

    from gee_cscc.cloud.exports import export_collection, provenance
    from gee_cscc.cloud.tasks import TaskManifest
    from gee_cscc.method.annual import annualize
    from gee_cscc.workflow.export_run import UNITS, files_location, grid_export_options

    years = _parse_years(args.years)
    dest = destination_of(args, "npp")
    if dest["destination"] == "asset" and not args.asset:
        raise InputError("--to asset needs --asset OUT_ID (the annual collection to write).")
    if not args.scale_factor > 0:
        raise InputError(f"--scale-factor must be > 0, got {args.scale_factor:g}.")
    cfg = engine_config(args)
    project = project_of(cfg)
    not_a_file(args.composites, "--composites")
    source = source_asset_id(args.composites, project)
    out_id = full_asset_id(args.asset, project) if args.asset else None
    manifest = TaskManifest.in_dir(Path(args.out or DEFAULT_EXPORT_OUT))
    with connect(cfg, args.store or None, report):
        composites = ee.ImageCollection(source)
        report(f"checking the composites of {source}")
        annual = annualize(
            composites,
            years,
            band=args.band,
            composite_unit=args.composite_unit,
            scale_factor=args.scale_factor,
            offset=args.offset,
            allow_gaps=args.allow_gaps,
        )
        grid = _composite_grid(composites, args.band, source)
        done_years = annual.aggregate_array("year").getInfo()
        params = {
            "band": args.band,
            "composite_unit": args.composite_unit,
            "scale_factor": args.scale_factor,
            "offset": args.offset,
            "allow_gaps": args.allow_gaps,
            "years": done_years,
        }
        props = provenance(
            params,
            inputs=[source],
            units=UNITS,
            gee_cscc_product="annual_npp",
            gee_cscc_note="annual sums in g C m-2 yr-1, already scaled: use scale_factor = 1",
        )
        options = grid_export_options(grid, files=dest["destination"] != "asset")
        report(f"exporting annual NPP {year_span(done_years)} ({grid.describe()})")
        tasks = export_collection(
            annual,
            out_id,
            **dest,
            properties=props,
            overwrite=args.overwrite,
            manifest=manifest,
            **options,
        )
        skipped = len(done_years) - len(tasks)
        if skipped:
            report(f"{skipped} year(s) already exported (skipped; --overwrite replaces them)")
        if args.no_wait:
            no_wait_note(cfg, report, manifest.path)
        else:
            wait_for(tasks, args, cfg, manifest, report)
    if dest["destination"] == "asset":
        where = out_id
    else:
        where = f"{dest['prefix']}_<year>.tif in {files_location(dest['destination'], folder=dest['folder'], bucket=dest['bucket'])}"
    say(args, f"annual NPP {year_span(done_years)} ({UNITS}, already scaled): {where}")
    return 0
