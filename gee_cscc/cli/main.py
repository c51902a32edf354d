"""The ``gee-cscc`` command line: ``demo``, ``run``, ``serve`` and the cloud verbs.

Errors are one clear line on stderr (a traceback only with ``--verbose``) and a non-zero
exit code; every long step reports progress on stderr unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from gee_cscc.cli.common import (
    FIGURE_FIELDS,
    add_csr_options,
    add_figure_options,
    check_path_options,
    config_from_args,
)
from gee_cscc.cli.export import add_grid_options, product_collection
from gee_cscc.cli.interrupts import StderrGuard, exit_code, signals_as_interrupts
from gee_cscc.cli.progress import Progress
from gee_cscc.errors import GeeCsccError, note_stop, raise_if_stopped
from gee_cscc.version import __version__

__all__ = ["main", "build_parser"]

CSR_FIELDS = ("csr_pixel", "csr_kernel", "csr_min_cells")

log = logging.getLogger("gee_cscc")


class Reporter(Progress):
    """Progress on stderr: step lines ``[  12.3s] step``, and bars with counts and ETA for
    the long steps when stderr is a terminal (:class:`gee_cscc.cli.progress.Progress`);
    silent when quiet."""


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but warnings and errors"
    )
    g.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="output folder (default: ./cscc-out)")
    p.add_argument(
        "--store", default=None, help="local engine asset store (default: ~/.cache/gee-cscc/store)"
    )
    p.add_argument(
        "--counting",
        choices=("local", "server"),
        default=None,
        help="count maintenance surfaces locally after pulling them (default) or server-side",
    )


def _add_mode_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("interactive or batch (see README: Large grids)")
    g.add_argument(
        "--mode",
        choices=("interactive", "batch", "auto"),
        default=None,
        help="interactive: getInfo and pulls; batch: export tasks, tables read back, a "
        "preview of the rasters; auto (default): batch when the grid exceeds Earth Engine's "
        "interactive limits",
    )
    g.add_argument(
        "--restart",
        action="store_true",
        help="batch: redo every task, also when OUT holds tasks of another configuration",
    )
    g.add_argument(
        "--tile-scale",
        type=float,
        default=None,
        help="batch: tileScale of the grouped reductions, 1-16 (default 4; larger uses less "
        "memory per tile)",
    )
    g.add_argument(
        "--asset-root",
        default=None,
        help="batch: asset folder of the exports (default cscc_batch/<run hash>)",
    )
    g.add_argument(
        "--to",
        choices=("asset", "drive", "gcs"),
        default=None,
        help="batch: where the rasters go (default asset; tables are always table assets)",
    )
    g.add_argument("--folder", default=None, help="batch --to drive: the Drive folder")
    g.add_argument("--bucket", default=None, help="batch --to gcs: the Cloud Storage bucket")
    g.add_argument("--prefix", default=None, help="batch --to drive/gcs: file name prefix")


def _batch_options(args: argparse.Namespace, cfg: Any, out: Path) -> Any:
    """The batch options of ``gee-cscc run`` (used when the run is in batch mode)."""
    from gee_cscc.cli.common import destination_of, full_asset_id, project_of
    from gee_cscc.workflow.batch import BatchOptions

    if args.tile_scale is not None and not 1 <= args.tile_scale <= 16:
        raise GeeCsccError(f"--tile-scale must be within 1..16, got {args.tile_scale:g}.")
    to = args.to or "asset"
    dest = destination_of(argparse.Namespace(**{**vars(args), "to": to}), "cscc")
    root = full_asset_id(args.asset_root, project_of(cfg)) if args.asset_root else None
    return BatchOptions(
        task_dir=out,
        asset_root=root,
        restart=args.restart,
        tile_scale=args.tile_scale or 4.0,
        **dest,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gee-cscc",
        description=(
            "Vegetation carbon sink carrying capacity, increase potential, NPP trends, "
            "maintenance surfaces and carbon sink resilience (Wu et al. 2023) on Google Earth "
            "Engine or the embedded local engine."
        ),
    )
    parser.add_argument("--version", action="version", version=f"gee-cscc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run everything on synthetic demo data (local engine)")
    demo.add_argument(
        "--resolution", type=float, choices=(0.1, 0.05), default=0.1, help="grid (degrees)"
    )
    _add_run_options(demo)
    add_csr_options(demo)  # the demo shows --csr-pixel 50km unless told otherwise
    demo.add_argument(
        "--ensemble",
        action="store_true",
        help="add a second synthetic NPP product and compare the two (products/<name>/, "
        "tables/ensemble.csv, ensemble maps and report)",
    )
    add_figure_options(demo)
    _add_common(demo)

    run = sub.add_parser("run", help="run the method on your NPP and regions")
    run.add_argument("--config", help="TOML run configuration (see README)")
    run.add_argument(
        "--npp",
        action="append",
        help="ImageCollection asset id, NetCDF/Zarr file, or folder of *_YYYY.tif; give it "
        "more than once as NAME=SOURCE to compare several NPP products (SOURCE may also be a "
        "--product name; settings per product in the run file's [products.NAME])",
    )
    run.add_argument(
        "--regions",
        help="table or region-image asset id, GeoJSON, GeoPackage or shapefile, or region GeoTIFF",
    )
    run.add_argument("--region-names", help="CSV with columns region_id,name for a region raster")
    run.add_argument(
        "--regions-layer", help="the layer of a GeoPackage holding the regions (if several)"
    )
    run.add_argument(
        "--region-property", help="feature property naming each region (default: abbr)"
    )
    run.add_argument(
        "--engine", choices=("local", "earthengine"), help="where to compute (default: local)"
    )
    run.add_argument("--project", help="Google Cloud project (Earth Engine)")
    run.add_argument("--start", type=int, help="first year (default: the input's first)")
    run.add_argument("--end", type=int, help="last year (default: the input's last)")
    run.add_argument("--reference", type=int, help="reference year t'")
    run.add_argument("--band", help="NPP band name")
    run.add_argument(
        "--scale-factor", type=float, help="stored value × factor (+ offset) = g C m-2 yr-1"
    )
    run.add_argument("--trend", choices=("ols", "sen"), help="trend method")
    run.add_argument("--fit-mode", choices=("free", "fixed", "loglinear"), help="decay fit")
    run.add_argument(
        "--capacity-sensitivity",
        action="store_true",
        default=None,
        help="also how far CSCC can be trusted with this record length: running maximum, "
        "jackknife over years (tables/capacity_sensitivity.csv)",
    )
    add_grid_options(run)
    add_csr_options(run)
    add_figure_options(run)
    _add_run_options(run)
    _add_mode_options(run)
    _add_common(run)

    serve = sub.add_parser("serve", help="run the local Earth Engine service in the foreground")
    serve.add_argument("--store", default=None, help="asset store folder")
    serve.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    serve.add_argument(
        "--limits",
        default=None,
        help="Earth Engine's interactive limits, scaled down or set one by one: 'scale=0.01' "
        "or 'compute_seconds=60,max_pixels=1e6' (default: Google's)",
    )
    _add_common(serve)

    versions = sub.add_parser("versions", help="print versions for bug reports")
    _add_common(versions)

    from gee_cscc.cli import cloud as cli_cloud

    cli_cloud.add_parsers(sub, _add_common)
    return parser


def _cmd_demo(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.demo.run import run_demo

    out = Path(args.out or "cscc-demo")
    if getattr(args, "ensemble", False):  # two synthetic products (docs/method.md §7)
        from gee_cscc.cli.ensemble import print_ensemble
        from gee_cscc.config import Config
        from gee_cscc.demo.ensemble import run_demo_ensemble

        fields = (*CSR_FIELDS, *FIGURE_FIELDS)
        options = {k: v for k in fields if (v := getattr(args, k, None)) is not None}
        ensemble = run_demo_ensemble(
            out,
            resolution=args.resolution,
            store=args.store,
            counting=args.counting or "local",
            progress=report,
            config=Config(capacity_sensitivity=True, **options),
        )
        print_ensemble(ensemble, out, quiet=args.quiet)
        return 0
    results = run_demo(
        out,
        resolution=args.resolution,
        store=args.store,
        counting=args.counting or "local",
        progress=report,
        csr={k: v for k in CSR_FIELDS if (v := getattr(args, k, None)) is not None},
        figures={k: v for k in FIGURE_FIELDS if (v := getattr(args, k, None)) is not None},
    )
    _print_summary(results, out, quiet=args.quiet)
    return 0


def _cmd_run(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.cli.ensemble import cmd_ensemble, is_ensemble
    from gee_cscc.workflow.inputs import RunInputs
    from gee_cscc.workflow.run import run
    from gee_cscc.workflow.years import years_to_infer

    cfg, file_inputs = config_from_args(args)
    if is_ensemble(args.npp, file_inputs):  # several NPP products (docs/method.md §7)
        return cmd_ensemble(
            args, report, cfg, file_inputs, lambda folder: _batch_options(args, cfg, folder)
        )
    npp = (args.npp or [None])[0] or file_inputs.get("npp") or product_collection(cfg)
    if not npp:
        raise GeeCsccError("No NPP input: give --npp (or npp in the [inputs] section of --config).")
    inputs = RunInputs(
        npp=str(npp),
        regions=args.regions or file_inputs.get("regions"),
        region_names=args.region_names or file_inputs.get("region_names"),
        regions_layer=args.regions_layer or file_inputs.get("regions_layer"),
        infer_years=years_to_infer(
            cfg, args.config, [k for k in ("start", "end") if getattr(args, k) is not None]
        ),
    )
    out = Path(args.out or file_inputs.get("out") or "cscc-out")
    store = args.store or file_inputs.get("store")
    counting = args.counting or file_inputs.get("counting") or "local"  # the CLI wins
    extent = None if args.extent else file_inputs.get("extent")  # else the config's extent
    mode = args.mode or file_inputs.get("mode") or "auto"
    if mode not in ("interactive", "batch", "auto"):
        raise GeeCsccError(f"mode: {mode!r} is not 'interactive', 'batch' or 'auto' (in [inputs]).")
    results = run(
        cfg,
        inputs,
        out,
        store=store,
        counting=counting,
        extent=extent,
        mode=mode,
        batch=_batch_options(args, cfg, out),
        progress=report,
    )
    _print_summary(results, out, quiet=args.quiet)
    return 0


def _print_summary(results: Any, out: Path, *, quiet: bool) -> None:
    if quiet:
        return
    s = results.summary
    lines = [
        f"VCA: {s['vca_area_km2']:,.0f} km² in {s['vca_cells']:,} cells",
        f"CSCC: {s['cscc_total_pg']:.3f} Pg C/yr, mean {s['cscc_mean_gm2']:.2f} g C m-2 yr-1",
        f"NPP {s['last_year']}: {s['npp_last_pg']:.3f} Pg C/yr ({100 * s['saturation_last']:.2f} % of CSCC)",
        f"Potential: {s['potential_last_pg']:.3f} Pg C/yr "
        f"({100 * s['potential_share_of_cscc']:.2f} % of CSCC, {100 * s['potential_share_of_npp']:.2f} % of NPP)",
        f"Outputs in {out}/ (report.html, tables/, rasters/, figures/, run.json)",
    ]
    if "capacity_sensitivity" in s:  # --capacity-sensitivity: one sentence on its stability
        lines.insert(-1, s["capacity_sensitivity"]["sentence"])
    print("\n".join(lines))


def _cmd_serve(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.workflow.engines import default_store, local_engine

    store = Path(args.store) if args.store else default_store()
    engine = local_engine(store, port=args.port, initialize=False, limits=args.limits)
    try:
        engine.serve_forever(ready=_print_how_to_connect)
    except KeyboardInterrupt as exc:  # Ctrl-C is the way to stop serving: exit 0
        note_stop(None)  # handled here: not a stop main() should raise again
        code = exit_code(exc)
        return 0 if code == 130 else code  # SIGTERM: 143, as every other command
    return 0


def _print_how_to_connect(engine: Any) -> None:
    """What ``gee-cscc serve`` prints once it listens: the token file and how to connect."""
    store = Path(engine.store.root).resolve()
    limits = engine.limits.describe()
    if engine.limits == type(engine.limits)():
        limits = f"Google's ({limits})"
    print(
        f"gee_cscc local Earth Engine on {engine.url} (store {store}).\n"
        f"Clients must send its token, kept in {engine.token_file} (readable by you only).\n"
        "In Python:\n"
        "    from gee_cscc.engine import initialize_ee, read_token\n"
        f"    initialize_ee({engine.url!r}, {engine.project!r}, token=read_token({str(store)!r}))\n"
        "or with the ee client alone:\n"
        "    from google.oauth2.credentials import Credentials\n"
        f"    token = open({str(engine.token_file)!r}).read().strip()\n"
        f"    ee.Initialize(credentials=Credentials(token), project={engine.project!r}, "
        f"url={engine.url!r})\n"
        f"Interactive limits: {limits}. Ctrl-C stops it.",
        flush=True,
    )


def _cmd_versions(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.workflow.run import versions

    for k, v in versions().items():
        print(f"{k}: {v}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    verbose = getattr(args, "verbose", False)
    report = Reporter(quiet=getattr(args, "quiet", False))
    # --quiet: nothing but warnings and errors, so not the engine's "*** Earth Engine ***"
    # notice either.
    guard = StderrGuard(sys.stderr, drop_notice=report.quiet)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=guard,
    )
    handlers = {
        "demo": _cmd_demo,
        "run": _cmd_run,
        "serve": _cmd_serve,
        "versions": _cmd_versions,
    }
    from gee_cscc.cli import cloud as cli_cloud

    handlers.update(cli_cloud.HANDLERS)
    try:
        with contextlib.redirect_stderr(guard), signals_as_interrupts(guard):
            check_path_options(args)
            try:
                code = handlers[args.command](args, report)
                raise_if_stopped()  # a signal whose exception was swallowed is not a success
                return code
            finally:
                report.close()  # a bar left open by an error ends before the error line
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: everything unwound, OUT untouched
        guard.mute_threads()
        if argv is None:  # the program itself: engine threads winding down stay quiet
            sys.stderr = guard
        what = "stopped by SIGTERM" if exit_code(exc) == 143 else "interrupted"
        print(f"gee-cscc {args.command}: {what}", file=guard)  # (a closed pipe: no error)
        return exit_code(exc)
    except BrokenPipeError:  # stdout closed early (`gee-cscc ... | head`): not an error
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # one clear line; the traceback with --verbose
        if verbose:
            raise
        print(f"gee-cscc {args.command}: error: {_one_line(exc)}", file=guard)
        return 1


#: The longest error line printed without ``--verbose`` (characters).
MAX_ERROR_CHARS = 400


def _one_line(exc: BaseException) -> str:
    """One short line for an error, at most :data:`MAX_ERROR_CHARS` characters.

    The lines of the message are joined; what is cut (a long server message, many failed
    tasks) is shown with ``--verbose``.
    """
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, GeeCsccError):
        text = f"{type(exc).__name__}: {text}"
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    line = "; ".join(lines)
    if len(line) > MAX_ERROR_CHARS:
        cut = line[: MAX_ERROR_CHARS - 30]
        space = cut.rfind(" ")
        if space > len(cut) - 40:  # end at a word when one ends near the limit
            cut = cut[:space]
        line = cut + " … (--verbose shows all)"
    return line


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
