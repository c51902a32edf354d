"""The ``export`` and ``annualize`` verbs of :mod:`gee_cscc.cli.cloud`."""

from __future__ import annotations

import argparse
import csv
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gee_cscc.cli.common import (
    DEFAULT_ASSET_FOLDER,
    DEFAULT_EXPORT_OUT,
    DEFAULT_PREFIX,
    FILE_NO_DATA,
    UNITS,
    Reporter,
    _destination,
    _ee_errors,
    _engine,
    _engine_config,
    _full_id,
    _no_wait_note,
    _not_a_file,
    _project,
    _say,
    _span,
    _wait,
)
from gee_cscc.errors import InputError

# --- export -----------------------------------------------------------------------------------


def _load_config(args: argparse.Namespace) -> tuple[Any, dict]:
    """The run configuration of ``--config`` with the command-line overrides, and the
    ``[inputs]`` section of the file (the same rules as ``gee-cscc run``)."""
    from gee_cscc.cli.main import config_from_args

    return config_from_args(args)


_INT = re.compile(r"[+-]?\d+")


def _cell(text: str) -> Any:
    """A CSV cell as a number when it is one (finite), else the text; '' → None."""
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _read_tables(folder: str) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """The ``*.csv`` files of a folder: ``{stem: (columns, rows)}``."""
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"--tables: not a folder: {path}")
    files = sorted(path.glob("*.csv"))
    if not files:
        raise InputError(
            f"--tables: no *.csv files in {path} (give the tables/ folder of a `gee-cscc run`)."
        )
    tables = {}
    for f in files:
        try:
            with f.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                columns = list(reader.fieldnames or [])
                rows = [{k: _cell(v or "") for k, v in row.items() if k} for row in reader]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"Cannot read the table {f}: {exc}") from exc
        if not columns:
            raise InputError(f"The table {f} has no header row.")
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", f.stem).strip("_") or "table"
        tables[name] = (columns, rows)
    return tables


def _feature_collection(rows: Sequence[Mapping[str, Any]]) -> Any:
    import ee

    return ee.FeatureCollection(
        [ee.Feature(None, {k: v for k, v in row.items() if v is not None}) for row in rows]
    )


def _by_year(collection: Any, years: Sequence[int]) -> Any:
    """A collection of one image per year, each with ``system:index`` = the year."""
    import ee

    images = [
        ee.Image(collection.filter(ee.Filter.eq("year", int(y))).first()).set(
            "system:index", str(int(y))
        )
        for y in years
    ]
    return ee.ImageCollection.fromImages(images)


def _grid_options(grid: Any, *, files: bool) -> dict[str, Any]:
    """The export keywords of a grid (and, for files, the value of masked pixels)."""
    options: dict[str, Any] = {
        "crs": grid.crs,
        "crs_transform": grid.transform,
        "dimensions": (grid.width, grid.height),
    }
    if files:
        options["no_data"] = FILE_NO_DATA
    return options


def _files_place(dest: Mapping[str, Any]) -> str:
    """Where files of a Drive or Cloud Storage destination go, for the summary."""
    return (
        f"Drive folder {dest['folder']}"
        if dest["destination"] == "drive"
        else f"gs://{dest['bucket']}"
    )


@_ee_errors
def _cmd_export(args: argparse.Namespace, report: Reporter) -> int:
    import ee

    from gee_cscc.cloud.assets import ensure_folder
    from gee_cscc.cloud.exports import export_collection, export_image, export_table, provenance
    from gee_cscc.cloud.tasks import TaskManifest
    from gee_cscc.method import build, load_annual_npp

    cfg, file_inputs = _load_config(args)
    npp = args.npp or file_inputs.get("npp")
    if not npp:
        raise InputError("No NPP input: give --npp ASSET (or npp in [inputs] of --config).")
    _not_a_file(str(npp), "--npp")
    dest = _destination(args, DEFAULT_PREFIX)
    tables = _read_tables(args.tables) if args.tables else {}
    out = Path(args.out or DEFAULT_EXPORT_OUT)
    manifest = TaskManifest.in_dir(out)
    store = args.store or file_inputs.get("store")
    project = _project(cfg)
    npp_id = _full_id(str(npp), project)
    root = _full_id(args.asset_root or DEFAULT_ASSET_FOLDER, project)
    files = dest["destination"] != "asset"

    with _engine(cfg, store, report):
        report(f"reading {npp_id}")
        annual = load_annual_npp(npp_id, cfg)
        graph = build(annual, cfg)
        grid = annual.grid
        inputs = [npp_id] + ([cfg.landcover_mask] if cfg.landcover_mask else [])
        config = cfg.to_dict()

        def props(product: str) -> dict:
            return provenance(config, inputs=inputs, gee_cscc_product=product, units=UNITS)

        options = _grid_options(grid, files=files)
        common = {**dest, "overwrite": args.overwrite, "manifest": manifest}

        def where(name: str) -> dict[str, Any]:
            if files:
                return {"prefix": f"{dest['prefix']}_{name}"}
            return {"asset_id": f"{root}/{name}"}

        eval_years = list(graph.evaluation_years)
        pcs_years = [int(y) for y in cfg.pcs_years]
        planned = 1 + len(eval_years) + len(pcs_years) + len(tables)
        if not files:
            ensure_folder(root)
            if tables:
                ensure_folder(f"{root}/tables")
        tasks: list[Any] = []
        report(f"exporting the result image ({grid.describe()})")
        result = graph.result_image()
        if files:  # a GeoTIFF has one data type for all bands
            result = result.toDouble()
        task = export_image(
            result, **{**common, **where("result")}, properties=props("result"), **options
        )
        tasks += [task] if task is not None else []

        report(f"exporting the maintenance surfaces {eval_years}")
        maintenance = _by_year(graph.maintenance, eval_years)
        if files:
            maintenance = maintenance.map(lambda img: ee.Image(img).toInt16())
        tasks += export_collection(
            maintenance,
            **{**common, **where("maintenance")},
            properties=props("maintenance"),
            **options,
        )

        report(f"exporting the increase potential (PCS) {pcs_years}")
        pcs = _by_year(graph.potential, pcs_years)
        tasks += export_collection(
            pcs, **{**common, **where("pcs")}, properties=props("pcs"), **options
        )

        for name, (columns, rows) in tables.items():
            report(f"exporting the table {name} ({len(rows)} rows)")
            fc = _feature_collection(rows)
            if files:
                task = export_table(
                    fc, **{**common, "prefix": f"{dest['prefix']}_{name}"}, selectors=columns
                )
            else:
                task = export_table(
                    fc,
                    **{**common, "asset_id": f"{root}/tables/{name}"},
                    properties=props(f"table:{name}"),
                )
            tasks += [task] if task is not None else []

        skipped = planned - len(tasks)
        report(
            f"{len(tasks)} task(s) started or running"
            + (
                f", {skipped} destination(s) already exported (skipped; --overwrite replaces them)"
                if skipped
                else ""
            )
        )
        if args.no_wait:
            _no_wait_note(cfg, report, manifest.path)
            _say(args, _export_summary(dest, root, tables, eval_years, pcs_years, manifest.path))
            return 0
        _wait(tasks, args, cfg, manifest, report)
    _say(args, _export_summary(dest, root, tables, eval_years, pcs_years, manifest.path))
    return 0


def _export_summary(
    dest: Mapping[str, Any],
    root: str,
    tables: Mapping[str, Any],
    eval_years: Sequence[int],
    pcs_years: Sequence[int],
    manifest_path: Path,
) -> str:
    years = ", ".join(str(y) for y in eval_years)
    pyears = ", ".join(str(y) for y in pcs_years)
    if dest["destination"] == "asset":
        lines = [
            f"result image: {root}/result",
            f"maintenance surfaces ({years}): {root}/maintenance",
            f"PCS ({pyears}): {root}/pcs",
        ]
        if tables:
            lines.append(f"tables ({', '.join(tables)}): {root}/tables")
    else:
        base = _files_place(dest)
        p = dest["prefix"]
        lines = [
            f"result image: {p}_result.tif",
            f"maintenance surfaces ({years}): {p}_maintenance_<year>.tif",
            f"PCS ({pyears}): {p}_pcs_<year>.tif",
        ]
        if tables:
            lines.append(f"tables: {', '.join(f'{p}_{n}.csv' for n in tables)}")
        lines = [f"{line} in {base}" for line in lines]
    lines.append(f"task manifest: {manifest_path}")
    return "\n".join(lines)


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


@_ee_errors
def _cmd_annualize(args: argparse.Namespace, report: Reporter) -> int:
    import ee

    from gee_cscc.cloud.exports import export_collection, provenance
    from gee_cscc.cloud.tasks import TaskManifest
    from gee_cscc.method.annual import annualize

    years = _parse_years(args.years)
    dest = _destination(args, "npp")
    if dest["destination"] == "asset" and not args.asset:
        raise InputError("--to asset needs --asset OUT_ID (the annual collection to write).")
    if not args.scale_factor > 0:
        raise InputError(f"--scale-factor must be > 0, got {args.scale_factor:g}.")
    cfg = _engine_config(args)
    project = _project(cfg)
    _not_a_file(args.composites, "--composites")
    source = _full_id(args.composites, project)
    out_id = _full_id(args.asset, project) if args.asset else None
    manifest = TaskManifest.in_dir(Path(args.out or DEFAULT_EXPORT_OUT))
    with _engine(cfg, args.store, report):
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
        options = _grid_options(grid, files=dest["destination"] != "asset")
        report(f"exporting annual NPP {_span(done_years)} ({grid.describe()})")
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
            _no_wait_note(cfg, report, manifest.path)
        else:
            _wait(tasks, args, cfg, manifest, report)
    if dest["destination"] == "asset":
        where = out_id
    else:
        where = f"{dest['prefix']}_<year>.tif in {_files_place(dest)}"
    _say(args, f"annual NPP {_span(done_years)} ({UNITS}, already scaled): {where}")
    return 0
