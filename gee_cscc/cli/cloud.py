"""CLI verbs that act on Earth Engine assets: ``export``, ``share``, ``upload``, ``annualize``.

Every verb runs on the embedded local engine (``--engine local``, the default, on the asset
store ``--store``) or on Google Earth Engine (``--engine earthengine --project P``). Long
tasks (exports, ingestions) are recorded in a run manifest (``OUT/export_tasks.json``) and
polled with a progress line on stderr until they finish, unless ``--no-wait``; running the
same command again resumes: finished destinations are skipped (``--overwrite`` replaces
them) and tasks still running are waited on rather than started again.

This module holds the parsers and the handler registry; the handlers run in
:mod:`._cli_cloud_export` (``export``, ``annualize``) and :mod:`._cli_cloud_assets`
(``share``, ``upload``), with the helpers they share in :mod:`._cli_cloud_common`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from gee_cscc.cli.assets import cmd_share, cmd_upload
from gee_cscc.cli.common import (
    DEFAULT_ASSET_FOLDER,
    DEFAULT_DRIVE_FOLDER,
    DEFAULT_EXPORT_OUT,
    DEFAULT_PREFIX,
    POLL_EARTH_ENGINE,
    POLL_LOCAL,
    add_csr_options,
)
from gee_cscc.cli.export import add_grid_options, cmd_annualize, cmd_export
from gee_cscc.config.units import FILE_NO_DATA

__all__ = ["add_parsers", "HANDLERS"]


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
            "               (+ tau_pos, tau_neg, csr_rs, csr_grade with --csr-pixel)\n"
            "  maintenance  the maintenance surfaces P: one image, band P_<year> per\n"
            "               evaluation year\n"
            "  pcs          the increase potential, one image per configured pcs year\n"
            "and, with --tables, the CSV tables of an earlier `gee-cscc run --out DIR`.\n"
            "To assets: ROOT/result, ROOT/maintenance, ROOT/pcs/<year>,\n"
            "ROOT/tables/<name> (asset properties carry the configuration, the package\n"
            "version and the input ids). To Drive/Cloud Storage: PREFIX_result.tif,\n"
            "PREFIX_maintenance.tif (int16, a band per year), PREFIX_pcs_<year>.tif,\n"
            "PREFIX_<name>.csv "
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
    add_grid_options(p)
    add_csr_options(p)  # the result image gains tau_pos, tau_neg, csr_rs, csr_grade
    p.add_argument(
        "--capacity-sensitivity",
        action="store_true",
        default=None,
        help="also export the per-cell jackknife maps cscc_jk_se, pcs_jk_se "
        "(ROOT/record_length or PREFIX_record_length.tif)",
    )
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
            "Sum 8-day composites into annual NPP (docs/method.md §0): rate × days covered for\n"
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
        help="sum the composites present (default: a cell missing in any composite is masked, "
        "and a year missing a whole composite is refused, naming the days)",
    )
    _add_destination_options(p, default_prefix="npp")
    _add_task_options(p, out_help=f"folder of the task manifest (default ./{DEFAULT_EXPORT_OUT})")
    _add_engine_options(p)
    add_common(p)


HANDLERS: dict[str, Callable] = {
    "export": cmd_export,
    "share": cmd_share,
    "upload": cmd_upload,
    "annualize": cmd_annualize,
}
