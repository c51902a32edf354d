"""The ``share`` and ``upload`` verbs of :mod:`gee_cscc.cli.cloud`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from gee_cscc.cli.common import (
    Reporter,
    ee_errors_as_engine_error,
    engine_config,
    full_asset_id,
    no_wait_note,
    project_of,
    say,
    wait_for,
    year_span,
)
from gee_cscc.config.units import NPP_UNITS
from gee_cscc.errors import InputError
from gee_cscc.workflow.engines import connect

# --- share ------------------------------------------------------------------------------------


def _members(values: Sequence[str]) -> list[str]:
    out = []
    for v in values:
        out += [m.strip() for m in v.split(",") if m.strip()]
    return out


@ee_errors_as_engine_error
def cmd_share(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.cloud.sharing import format_acl, share_asset, show_acl

    readers, writers = _members(args.reader), _members(args.writer)
    changing = bool(readers or writers or args.public)
    if not changing and not args.show:
        raise InputError(
            "Nothing to do: give --reader EMAIL, --writer EMAIL or --public, "
            "or --show to print the ACL."
        )
    cfg = engine_config(args)
    asset = full_asset_id(args.asset, project_of(cfg))
    with connect(cfg, args.store or None, report):
        if changing:
            changed = share_asset(
                asset,
                readers=readers,
                writers=writers,
                public=args.public,
                recursive=args.recursive,
            )
            if changed:
                say(args, f"ACL changed: {', '.join(changed)}")
            else:
                say(args, f"ACL unchanged: everyone named already had access to {asset}")
        if args.show:
            print(format_acl(asset, show_acl(asset)), flush=True)
    return 0


# --- upload -----------------------------------------------------------------------------------


@ee_errors_as_engine_error
def cmd_upload(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.cloud.exports import provenance
    from gee_cscc.cloud.upload import upload_annual_geotiffs

    folder = Path(args.folder)
    if not folder.is_dir():
        raise InputError(f"Not a folder: {folder}")
    cfg = engine_config(args)
    if args.gcs_prefix and not args.gcs_prefix.startswith("gs://"):
        raise InputError(f"--gcs-prefix must be a gs://bucket/dir URI, not {args.gcs_prefix!r}.")
    if cfg.engine != "local" and not args.gcs_prefix:
        raise InputError(
            "On Earth Engine, upload ingests the files from Cloud Storage: copy them to a "
            f"bucket (e.g. `gcloud storage cp {folder}/*.tif gs://BUCKET/DIR/`) and give "
            "--gcs-prefix gs://BUCKET/DIR."
        )
    asset = full_asset_id(args.asset, project_of(cfg))
    with connect(cfg, args.store or None, report) as eng:
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
            properties=provenance(None, inputs=[str(folder)], units=NPP_UNITS),
        )
        if result.tasks:
            if args.no_wait:
                no_wait_note(cfg, report, None)
            else:
                wait_for(result.tasks, args, cfg, None, report)
    years = sorted(result.images)
    verb = "started ingesting" if result.tasks and args.no_wait else "wrote"
    lines = [f"{asset}: {verb} {len(years)} image(s)" + (f" ({year_span(years)})" if years else "")]
    if result.skipped:
        lines.append(
            f"skipped {len(result.skipped)} existing image(s) ({year_span(result.skipped)}; "
            "--overwrite replaces them)"
        )
    say(args, "\n".join(lines))
    return 0
