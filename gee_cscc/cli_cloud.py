"""CLI verbs that act on Earth Engine assets: ``export``, ``share``, ``upload``, ``annualize``.

Every verb runs on the embedded local engine (``--engine local``, the default, on the asset
store ``--store``) or on Google Earth Engine (``--engine earthengine --project P``). Long
tasks (exports, ingestions) are recorded in a run manifest (``OUT/export_tasks.json``) and
polled with a progress line on stderr until they finish, unless ``--no-wait``; running the
same command again resumes: finished destinations are skipped (``--overwrite`` replaces
them) and tasks still running are waited on rather than started again.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import EngineError, InputError

__all__ = ["add_parsers", "HANDLERS"]

#: Seconds between task polls on Earth Engine and on the local engine (``--poll``).
POLL_EARTH_ENGINE = 10.0
POLL_LOCAL = 0.2
#: The value masked pixels get in exported GeoTIFF files.
FILE_NO_DATA = -9999.0
DEFAULT_EXPORT_OUT = "cscc-export"
DEFAULT_ASSET_FOLDER = "cscc_results"
DEFAULT_DRIVE_FOLDER = "gee_cscc"
DEFAULT_PREFIX = "cscc"
UNITS = "g C m-2 yr-1"

Reporter = Callable[[str], None]


# --- parsers ----------------------------------------------------------------------------------


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        choices=("local", "earthengine"),
        default=None,
        help="the embedded local engine (default) or Google Earth Engine",
    )
    g.add_argument(
        "--project",
        help="Google Cloud project (Earth Engine; also the project of short asset ids)",
    )
    g.add_argument(
        "--store",
        default=None,
        help="local engine asset store (default: $GEE_CSCC_STORE or ~/.cache/gee-cscc/store)",
    )


def _add_task_options(p: argparse.ArgumentParser, *, out_help: str) -> None:
    g = p.add_argument_group("tasks")
    g.add_argument("--overwrite", action="store_true", help="replace existing destination assets")
    g.add_argument(
        "--no-wait",
        action="store_true",
        help="start the tasks and return; run the same command again to wait on them",
    )
    g.add_argument("--out", default=None, help=out_help)
    g.add_argument(
        "--poll",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help=f"seconds between task polls (default: {POLL_EARTH_ENGINE:g} on Earth Engine, "
        f"{POLL_LOCAL:g} locally)",
    )


def _add_destination_options(
    p: argparse.ArgumentParser, *, default_prefix: str, asset_help: str | None = None
) -> None:
    g = p.add_argument_group("destination")
    g.add_argument(
        "--to",
        choices=("asset", "drive", "gcs"),
        default="asset",
        help="export to Earth Engine assets (default), Google Drive or Cloud Storage "
        "(Cloud-Optimized GeoTIFF / CSV files)",
    )
    if asset_help:
        g.add_argument("--asset-root", help=asset_help)
    g.add_argument(
        "--folder",
        default=None,
        help=f"Drive folder (--to drive; default {DEFAULT_DRIVE_FOLDER})",
    )
    g.add_argument("--bucket", help="Cloud Storage bucket (--to gcs; required there)")
    g.add_argument(
        "--prefix",
        default=None,
        help=f"file name prefix (--to drive/gcs; default {default_prefix})",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def add_parsers(sub: argparse._SubParsersAction, add_common: Callable) -> None:
    """Add the cloud verbs to the ``gee-cscc`` parser."""
    fmt = argparse.RawDescriptionHelpFormatter

    # export ------------------------------------------------------------------------------
    p = sub.add_parser(
        "export",
        help="export the result rasters (and tables) to assets, Drive or Cloud Storage",
        formatter_class=fmt,
        description=(
            "Build the method on an annual NPP collection and export, on the input's grid:\n"
            "  result       one image: vca, cscc, cscc_year, trend_*, maintenance_years\n"
            "  maintenance  the maintenance surfaces P, one image per evaluation year\n"
            "  pcs          the increase potential, one image per configured pcs year\n"
            "and, with --tables, the CSV tables of an earlier `gee-cscc run --out DIR`.\n"
            "To assets: ROOT/result, ROOT/maintenance/<year>, ROOT/pcs/<year>,\n"
            "ROOT/tables/<name> (asset properties carry the configuration, the package\n"
            "version and the input ids). To Drive/Cloud Storage: PREFIX_result.tif,\n"
            "PREFIX_maintenance_<year>.tif, PREFIX_pcs_<year>.tif, PREFIX_<name>.csv\n"
            f"(masked pixels are {FILE_NO_DATA:g}).\n\n"
            "Tasks are recorded in OUT/export_tasks.json; running the command again skips\n"
            "what was exported (unless --overwrite) and waits on tasks still running."
        ),
    )
    p.add_argument("--npp", help="annual NPP ImageCollection asset id")
    p.add_argument("--config", help="TOML run configuration (as for `gee-cscc run`)")
    p.add_argument("--start", type=int, help="first year")
    p.add_argument("--end", type=int, help="last year")
    p.add_argument("--reference", type=int, help="reference year t'")
    p.add_argument("--band", help="NPP band name")
    p.add_argument(
        "--scale-factor", type=float, help="stored value × factor (+ offset) = g C m-2 yr-1"
    )
    p.add_argument("--trend", choices=("ols", "sen"), help="trend method")
    p.add_argument(
        "--tables",
        metavar="DIR",
        help="also export the *.csv tables of this folder (e.g. OUT/tables of `gee-cscc run`)",
    )
    _add_destination_options(
        p,
        default_prefix=DEFAULT_PREFIX,
        asset_help=f"asset folder of an asset export (default projects/<project>/assets/"
        f"{DEFAULT_ASSET_FOLDER})",
    )
    _add_task_options(p, out_help=f"folder of the task manifest (default ./{DEFAULT_EXPORT_OUT})")
    _add_engine_options(p)
    add_common(p)

    # share -------------------------------------------------------------------------------
    p = sub.add_parser(
        "share",
        help="give collaborators access to an asset, or show its ACL",
        description=(
            "Add readers and writers to an asset's ACL (nobody loses access). Public read "
            "access is given only with --public. With only --show, print the ACL."
        ),
    )
    p.add_argument("asset", metavar="ASSET", help="the asset id")
    p.add_argument(
        "--reader",
        action="append",
        default=[],
        metavar="EMAIL",
        help="give read access (an email, or group:/serviceAccount:/domain: member; repeat)",
    )
    p.add_argument(
        "--writer", action="append", default=[], metavar="EMAIL", help="give write access (repeat)"
    )
    p.add_argument("--public", action="store_true", help="make the asset readable by anyone")
    p.add_argument(
        "--recursive", action="store_true", help="for a folder, also every asset below it"
    )
    p.add_argument("--show", action="store_true", help="print the ACL (after any change)")
    _add_engine_options(p)
    add_common(p)

    # upload ------------------------------------------------------------------------------
    p = sub.add_parser(
        "upload",
        help="turn a folder of annual *_YYYY.tif into an ImageCollection asset",
        description=(
            "Each DIR/*_YYYY.tif (one band) becomes the image ID/YYYY with property year and "
            "system:time_start on 1 January. On the local engine the files go into the store; "
            "on Earth Engine they are ingested from Cloud Storage: copy them first (e.g. "
            "`gcloud storage cp DIR/*.tif gs://bucket/dir/`) and give --gcs-prefix."
        ),
    )
    p.add_argument("folder", metavar="DIR", help="folder of *_YYYY.tif files")
    p.add_argument("--asset", required=True, metavar="ID", help="the ImageCollection asset")
    p.add_argument("--band", default="npp", help="band name of every image (default npp)")
    p.add_argument(
        "--gcs-prefix",
        metavar="gs://BUCKET/DIR",
        help="where the same files are in Cloud Storage (Earth Engine ingestion)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing images")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the ingestions")
    p.add_argument(
        "--poll", type=_positive_float, default=None, metavar="SECONDS", help="poll interval"
    )
    _add_engine_options(p)
    add_common(p)

    # annualize ---------------------------------------------------------------------------
    p = sub.add_parser(
        "annualize",
        help="8-day NPP composites → annual NPP collection (server-side)",
        formatter_class=fmt,
        description=(
            "Sum 8-day composites into annual NPP (METHOD.md §0): rate × days covered for\n"
            "per_day composites, the plain sum for per_composite totals; computed on the\n"
            "server and exported on the composites' grid, one image per year.\n\n"
            "--scale-factor/--offset convert the stored composite values (to g C m-2 d-1,\n"
            "or g C m-2 per composite) and are applied here only: the resulting collection\n"
            "is in g C m-2 yr-1 already, so run the method on it with scale_factor = 1\n"
            "(applying the product's factor again would scale it twice)."
        ),
    )
    p.add_argument("--composites", required=True, metavar="ASSET", help="8-day ImageCollection")
    p.add_argument(
        "--asset",
        metavar="OUT_ID",
        help="the annual ImageCollection asset to write (--to asset; required there)",
    )
    p.add_argument(
        "--years", help="years to compute: 2001-2018, 2001,2005 or 2003 (default: every year)"
    )
    p.add_argument("--band", default="npp", help="NPP band of the composites (default npp)")
    p.add_argument(
        "--composite-unit",
        choices=("per_day", "per_composite"),
        default="per_day",
        help="a composite holds a daily-mean rate (default) or a total per composite",
    )
    p.add_argument(
        "--scale-factor",
        type=float,
        default=1.0,
        help="stored × factor (+ offset) = g C m-2 d-1 (per_day) or g C m-2 (per_composite); "
        "the output is g C m-2 yr-1 already, do not scale it again",
    )
    p.add_argument("--offset", type=float, default=0.0, help="added after the scale factor")
    p.add_argument(
        "--allow-gaps",
        action="store_true",
        help="sum the composites present (default: a cell missing in any composite is masked)",
    )
    _add_destination_options(p, default_prefix="npp")
    _add_task_options(p, out_help=f"folder of the task manifest (default ./{DEFAULT_EXPORT_OUT})")
    _add_engine_options(p)
    add_common(p)


# --- shared helpers ---------------------------------------------------------------------------


def _ee_errors(fn: Callable[[argparse.Namespace, Reporter], int]) -> Callable:
    """Turn an ``ee.EEException`` into an :class:`EngineError` (one clear line)."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace, report: Reporter) -> int:
        import ee

        try:
            return fn(args, report)
        except ee.EEException as exc:
            raise EngineError(f"Earth Engine: {exc}") from exc

    return wrapper


def _engine_config(args: argparse.Namespace, base: Any = None) -> Any:
    from .config import Config

    cfg = base if base is not None else Config()
    overrides = {"engine": getattr(args, "engine", None), "project": getattr(args, "project", None)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return cfg.replace(**overrides) if overrides else cfg


@contextlib.contextmanager
def _engine(cfg: Any, store: str | None, report: Reporter) -> Iterator[Any]:
    """The local engine (started on ``store``) or None after ``ee.Initialize(project=…)``."""
    from .pipeline import _engine_for

    with _engine_for(cfg, Path(store) if store else None, report) as eng:
        yield eng


def _project(cfg: Any) -> str:
    return cfg.project or "local-project"


def _full_id(asset_id: str, project: str) -> str:
    """``projects/<project>/assets/<id>`` for a short id; full and legacy ids as given."""
    text = asset_id.strip()
    if not text:
        raise InputError("Empty asset id.")
    if text.startswith(("projects/", "users/")):
        return text.rstrip("/")
    return f"projects/{project}/assets/{text.strip('/')}"


def _not_a_file(value: str, what: str) -> None:
    from .sources import is_local_path

    if is_local_path(value):
        raise InputError(
            f"{what} '{value}' is a local file or folder; give an asset id "
            "(upload files first with `gee-cscc upload`)."
        )


def _poll_seconds(args: argparse.Namespace, cfg: Any) -> float:
    if getattr(args, "poll", None):
        return float(args.poll)
    return POLL_LOCAL if cfg.engine == "local" else POLL_EARTH_ENGINE


def _progress(args: argparse.Namespace) -> Callable[[Sequence[Mapping[str, Any]]], None]:
    from .export import StderrProgress

    if getattr(args, "quiet", False):
        return lambda statuses: None
    return StderrProgress()


def _destination(args: argparse.Namespace, default_prefix: str) -> dict[str, Any]:
    """``destination``, ``folder``, ``bucket``, ``prefix`` keywords for the export helpers."""
    to = args.to
    if to == "gcs":
        if not args.bucket:
            raise InputError("--to gcs needs --bucket BUCKET.")
        bucket = args.bucket
        if bucket.startswith("gs://") or "/" in bucket:
            raise InputError(
                f"--bucket takes a bucket name such as 'my-bucket', not {bucket!r}; "
                "put folders in --prefix."
            )
    if to in ("drive", "gcs"):
        prefix = (args.prefix or default_prefix).strip("/")
        if not prefix:
            raise InputError("--prefix must not be empty.")
        return {
            "destination": to,
            "folder": (args.folder or DEFAULT_DRIVE_FOLDER) if to == "drive" else None,
            "bucket": args.bucket if to == "gcs" else None,
            "prefix": prefix,
        }
    return {"destination": "asset", "folder": None, "bucket": None, "prefix": None}


def _ensure_folder(asset_id: str) -> None:
    """Create an asset folder (and its parents) if missing: Earth Engine's asset exports
    need the parent folder to exist."""
    import ee

    from .errors import ExportError
    from .export import _quiet, asset_exists

    if asset_exists(asset_id):
        return
    try:
        _quiet(ee.data.create_assets, [asset_id], "FOLDER", True)
    except ee.EEException as exc:
        raise ExportError(f"Cannot create the asset folder '{asset_id}': {exc}") from exc


def _wait(
    tasks: Sequence[Any], args: argparse.Namespace, cfg: Any, manifest: Any, report: Reporter
) -> list[dict[str, Any]]:
    from .export import wait_for_tasks

    if not tasks:
        return []
    report(f"waiting for {len(tasks)} task(s)")
    return wait_for_tasks(
        tasks,
        poll_seconds=_poll_seconds(args, cfg),
        progress=_progress(args),
        manifest=manifest,
    )


def _no_wait_note(cfg: Any, report: Reporter, manifest_path: Path | None) -> None:
    where = f" (manifest {manifest_path})" if manifest_path is not None else ""
    report(f"not waiting; run the same command again to wait on the tasks{where}")
    if cfg.engine == "local":
        report(
            "note: the local engine stops when this command exits, which cancels unfinished "
            "tasks; running the command again starts them again"
        )


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, flush=True)


# --- export -----------------------------------------------------------------------------------


def _load_config(args: argparse.Namespace) -> tuple[Any, dict]:
    """The run configuration of ``--config`` with the command-line overrides, and the
    ``[inputs]`` section of the file."""
    from .config import Config, tomllib

    inputs: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise InputError(f"Config file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"Cannot read the config file {path}: {exc}") from exc
        inputs = dict(data.pop("inputs", {}) or {})
        cfg = Config.from_mapping(data)
    else:
        cfg = Config()
    overrides = {
        "engine": args.engine,
        "project": args.project,
        "start": args.start,
        "end": args.end,
        "reference_year": args.reference,
        "band": args.band,
        "scale_factor": args.scale_factor,
        "trend": args.trend,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        cfg = cfg.replace(**overrides)
    return cfg, inputs


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


@_ee_errors
def _cmd_export(args: argparse.Namespace, report: Reporter) -> int:
    import ee

    from .export import TaskManifest, export_collection, export_image, export_table, provenance
    from .method import build, load_annual_npp

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

        options: dict[str, Any] = {
            "crs": grid.crs,
            "crs_transform": grid.transform,
            "dimensions": (grid.width, grid.height),
        }
        if files:
            options["no_data"] = FILE_NO_DATA
        common = {**dest, "overwrite": args.overwrite, "manifest": manifest}

        def where(name: str) -> dict[str, Any]:
            if files:
                return {"prefix": f"{dest['prefix']}_{name}"}
            return {"asset_id": f"{root}/{name}"}

        eval_years = list(graph.evaluation_years)
        pcs_years = [int(y) for y in cfg.pcs_years]
        planned = 1 + len(eval_years) + len(pcs_years) + len(tables)
        if not files:
            _ensure_folder(root)
            if tables:
                _ensure_folder(f"{root}/tables")
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
        base = (
            f"Drive folder {dest['folder']}"
            if dest["destination"] == "drive"
            else f"gs://{dest['bucket']}"
        )
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


# --- share ------------------------------------------------------------------------------------


def _members(values: Sequence[str]) -> list[str]:
    out = []
    for v in values:
        out += [m.strip() for m in v.split(",") if m.strip()]
    return out


@_ee_errors
def _cmd_share(args: argparse.Namespace, report: Reporter) -> int:
    from .export import format_acl, share_asset, show_acl

    readers, writers = _members(args.reader), _members(args.writer)
    changing = bool(readers or writers or args.public)
    if not changing and not args.show:
        raise InputError(
            "Nothing to do: give --reader EMAIL, --writer EMAIL or --public, "
            "or --show to print the ACL."
        )
    cfg = _engine_config(args)
    asset = _full_id(args.asset, _project(cfg))
    with _engine(cfg, args.store, report):
        if changing:
            changed = share_asset(
                asset,
                readers=readers,
                writers=writers,
                public=args.public,
                recursive=args.recursive,
            )
            if changed:
                _say(args, f"ACL changed: {', '.join(changed)}")
            else:
                _say(args, f"ACL unchanged: everyone named already had access to {asset}")
        if args.show:
            print(format_acl(asset, show_acl(asset)), flush=True)
    return 0


# --- upload -----------------------------------------------------------------------------------


@_ee_errors
def _cmd_upload(args: argparse.Namespace, report: Reporter) -> int:
    from .export import provenance, upload_annual_geotiffs

    folder = Path(args.folder)
    if not folder.is_dir():
        raise InputError(f"Not a folder: {folder}")
    cfg = _engine_config(args)
    if args.gcs_prefix and not args.gcs_prefix.startswith("gs://"):
        raise InputError(f"--gcs-prefix must be a gs://bucket/dir URI, not {args.gcs_prefix!r}.")
    if cfg.engine != "local" and not args.gcs_prefix:
        raise InputError(
            "On Earth Engine, upload ingests the files from Cloud Storage: copy them to a "
            f"bucket (e.g. `gcloud storage cp {folder}/*.tif gs://BUCKET/DIR/`) and give "
            "--gcs-prefix gs://BUCKET/DIR."
        )
    asset = _full_id(args.asset, _project(cfg))
    with _engine(cfg, args.store, report) as eng:
        report(f"uploading {folder} to {asset}")
        result = upload_annual_geotiffs(
            folder,
            asset,
            # With --gcs-prefix, ingest through ee (on the local engine too: it reads
            # gs://bucket/… from <store>/gcs/bucket/…); otherwise straight into the store.
            engine=None if args.gcs_prefix else eng,
            band=args.band,
            gcs_prefix=args.gcs_prefix,
            overwrite=args.overwrite,
            properties=provenance(None, inputs=[str(folder)], units=UNITS),
        )
        if result.tasks:
            if args.no_wait:
                _no_wait_note(cfg, report, None)
            else:
                _wait(result.tasks, args, cfg, None, report)
    years = sorted(result.images)
    verb = "started ingesting" if result.tasks and args.no_wait else "wrote"
    lines = [f"{asset}: {verb} {len(years)} image(s)" + (f" ({_span(years)})" if years else "")]
    if result.skipped:
        lines.append(
            f"skipped {len(result.skipped)} existing image(s) ({_span(result.skipped)}; "
            "--overwrite replaces them)"
        )
    _say(args, "\n".join(lines))
    return 0


def _span(years: Sequence[int]) -> str:
    years = sorted(years)
    if len(years) > 2 and years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}–{years[-1]}"
    return ", ".join(str(y) for y in years)


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

    from .method import GridSpec

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

    from .export import TaskManifest, export_collection, provenance
    from .method.annual import annualize

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
        options: dict[str, Any] = {
            "crs": grid.crs,
            "crs_transform": grid.transform,
            "dimensions": (grid.width, grid.height),
        }
        if dest["destination"] != "asset":
            options["no_data"] = FILE_NO_DATA
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
        base = (
            f"Drive folder {dest['folder']}"
            if dest["destination"] == "drive"
            else f"gs://{dest['bucket']}"
        )
        where = f"{dest['prefix']}_<year>.tif in {base}"
    _say(args, f"annual NPP {_span(done_years)} ({UNITS}, already scaled): {where}")
    return 0


HANDLERS: dict[str, Callable] = {
    "export": _cmd_export,
    "share": _cmd_share,
    "upload": _cmd_upload,
    "annualize": _cmd_annualize,
}
