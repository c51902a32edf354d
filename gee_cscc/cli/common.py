"""What the cloud verbs of :mod:`gee_cscc.cli.cloud` share: engine, asset ids, destination,
waiting on tasks and output.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gee_cscc.errors import EngineError, InputError

#: Seconds between task polls on Earth Engine and on the local engine (``--poll``).
POLL_EARTH_ENGINE = 10.0
POLL_LOCAL = 0.2
DEFAULT_EXPORT_OUT = "cscc-export"
DEFAULT_ASSET_FOLDER = "cscc_results"
DEFAULT_DRIVE_FOLDER = "gee_cscc"
DEFAULT_PREFIX = "cscc"

Reporter = Callable[[str], None]


# --- shared helpers ---------------------------------------------------------------------------


def ee_errors_as_engine_error(fn: Callable[[argparse.Namespace, Reporter], int]) -> Callable:
    """Turn an ``ee.EEException`` into an :class:`EngineError` (one clear line)."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace, report: Reporter) -> int:
        import ee

        try:
            return fn(args, report)
        except ee.EEException as exc:
            raise EngineError(f"Earth Engine: {exc}") from exc

    return wrapper


def engine_config(args: argparse.Namespace, base: Any = None) -> Any:
    from gee_cscc.config import Config

    cfg = base if base is not None else Config()
    overrides = {"engine": getattr(args, "engine", None), "project": getattr(args, "project", None)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return cfg.replace(**overrides) if overrides else cfg


def project_of(cfg: Any) -> str:
    return cfg.project or "local-project"


def full_asset_id(asset_id: str, project: str) -> str:
    """``projects/<project>/assets/<id>`` for a short id; full and legacy ids as given."""
    text = asset_id.strip()
    if not text:
        raise InputError("Empty asset id.")
    if text.startswith(("projects/", "users/")):
        return text.rstrip("/")
    return f"projects/{project}/assets/{text.strip('/')}"


def source_asset_id(asset_id: str, project: str) -> str:
    """An input's asset id: a name without ``/`` is the user's project's (as
    :func:`full_asset_id`); an id with ``/`` is read as Earth Engine reads it, so a public
    catalog id such as ``MODIS/061/MOD17A3HGF`` stays as it is."""
    text = asset_id.strip().strip("/")
    if "/" in text:
        return text
    return full_asset_id(text, project)


def not_a_file(value: str, what: str) -> None:
    from gee_cscc.workflow.readers import is_local_path

    if is_local_path(value):
        raise InputError(
            f"{what} '{value}' is a local file or folder; give an asset id "
            "(upload files first with `gee-cscc upload`)."
        )


def poll_interval(args: argparse.Namespace, cfg: Any) -> float:
    if getattr(args, "poll", None):
        return float(args.poll)
    return POLL_LOCAL if cfg.engine == "local" else POLL_EARTH_ENGINE


def task_progress(args: argparse.Namespace) -> Callable[[Sequence[Mapping[str, Any]]], None]:
    from gee_cscc.cloud.tasks import StderrProgress

    if getattr(args, "quiet", False):
        return lambda statuses: None
    return StderrProgress()


def destination_of(args: argparse.Namespace, default_prefix: str) -> dict[str, Any]:
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


def wait_for(
    tasks: Sequence[Any], args: argparse.Namespace, cfg: Any, manifest: Any, report: Reporter
) -> list[dict[str, Any]]:
    from gee_cscc.cloud.tasks import wait_for_tasks

    if not tasks:
        return []
    report(f"waiting for {len(tasks)} task(s)")
    return wait_for_tasks(
        tasks,
        poll_seconds=poll_interval(args, cfg),
        progress=task_progress(args),
        manifest=manifest,
    )


def no_wait_note(cfg: Any, report: Reporter, manifest_path: Path | None) -> None:
    where = f" (manifest {manifest_path})" if manifest_path is not None else ""
    report(f"not waiting; run the same command again to wait on the tasks{where}")
    if cfg.engine == "local":
        report(
            "note: the local engine stops when this command exits, which cancels unfinished "
            "tasks; running the command again starts them again"
        )


def say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def year_span(years: Sequence[int]) -> str:
    years = sorted(years)
    if len(years) > 2 and years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}–{years[-1]}"
    return ", ".join(str(y) for y in years)


#: Command-line options (argparse ``dest``) that override a config field.
CONFIG_OVERRIDES = {
    "engine": "engine",
    "project": "project",
    "start": "start",
    "end": "end",
    "reference": "reference_year",
    "band": "band",
    "scale_factor": "scale_factor",
    "trend": "trend",
    "fit_mode": "fit_mode",
    "region_property": "region_property",
    "product": "product",
    "valid_range": "valid_range",
    "crs": "crs",
    "scale": "scale",
    "crs_transform": "crs_transform",
    "extent": "extent",
    "csr_pixel": "csr_pixel",
    "csr_kernel": "csr_kernel",
    "csr_min_cells": "csr_min_cells",
    "capacity_sensitivity": "capacity_sensitivity",
    "figure_format": "figure_format",
    "dpi": "dpi",
    "figure_style": "figure_style",
}

#: The figure options (argparse ``dest``), also those of ``gee-cscc demo``.
FIGURE_FIELDS = ("figure_format", "dpi", "figure_style")


def add_figure_options(p: argparse.ArgumentParser) -> None:
    """``--figure-format``, ``--dpi`` and ``--figure-style`` (the Config fields of the names)."""
    g = p.add_argument_group("figures")
    g.add_argument(
        "--figure-format",
        metavar="FORMATS",
        help="figure files: png, svg, pdf or several, e.g. png,pdf (default png; the report "
        "embeds PNG, drawn too)",
    )
    g.add_argument(
        "--dpi", type=int, help="dots per inch of PNG figures (default 150; 300 for print)"
    )
    g.add_argument(
        "--figure-style",
        choices=("report", "paper"),
        help="paper: no titles drawn in the figures, the report's captions carry them",
    )


def add_csr_options(p: argparse.ArgumentParser) -> None:
    """``--csr-pixel RADIUS``, ``--csr-kernel`` and ``--csr-min-cells`` (docs/method.md §7)."""
    g = p.add_argument_group("pixel-scale carbon sink resilience (off by default)")
    g.add_argument(
        "--csr-pixel",
        metavar="RADIUS",
        help="also τ+, τ-, RS and the CSR grade per cell from the maintenance ratios of the "
        "cells within RADIUS ('50km' on the ellipsoid or '5cells'): rasters/csr_rs.tif, "
        "csr_grade.tif, tau_pos.tif, tau_neg.tif",
    )
    g.add_argument(
        "--csr-kernel", choices=("circle", "square"), help="neighbourhood shape (default circle)"
    )
    g.add_argument(
        "--csr-min-cells",
        type=int,
        metavar="N",
        help="fewest kept cells of a sign at t' in a neighbourhood for its τ (default 10)",
    )


def config_from_args(args: argparse.Namespace) -> tuple[Any, dict]:
    """The run configuration of ``--config`` (if any) with the command-line overrides,
    and the file's ``[inputs]`` section (paths relative to the file)."""
    from gee_cscc.config import Config, load_run_file

    cfg, inputs = load_run_file(args.config) if getattr(args, "config", None) else (Config(), {})
    overrides = {
        field: getattr(args, dest)
        for dest, field in CONFIG_OVERRIDES.items()
        if getattr(args, dest, None) is not None
    }
    if overrides:
        cfg = cfg.replace(**overrides)
    return cfg, inputs


def check_path_options(args: argparse.Namespace) -> None:
    """``--store ""`` and ``--out ""`` are errors (empty folder names), not the defaults."""
    from gee_cscc.workflow.engines import store_path

    if getattr(args, "store", None) is not None:
        store_path(args.store)  # raises InputError for ""
    out = getattr(args, "out", None)
    if out is not None and not str(out).strip():
        raise InputError("--out is empty: give the output folder (or leave --out out).")
