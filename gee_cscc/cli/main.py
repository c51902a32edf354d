"""The ``gee-cscc`` command line: ``demo``, ``run``, ``serve`` and the cloud verbs.

Errors are one clear line on stderr (a traceback only with ``--verbose``) and a non-zero
exit code; every long step reports progress on stderr unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

from gee_cscc.cli.common import config_from_args
from gee_cscc.cli.export import add_grid_options, product_collection
from gee_cscc.errors import GeeCsccError
from gee_cscc.version import __version__

__all__ = ["main", "build_parser"]

log = logging.getLogger("gee_cscc")


class Reporter:
    """Progress lines on stderr: ``[  12.3s] step``; silent when quiet."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(
                f"[{time.perf_counter() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True
            )


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
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
    _add_common(demo)

    run = sub.add_parser("run", help="run the method on your NPP and regions")
    run.add_argument("--config", help="TOML run configuration (see README)")
    run.add_argument(
        "--npp", help="ImageCollection asset id, NetCDF/Zarr file, or folder of *_YYYY.tif"
    )
    run.add_argument(
        "--regions", help="table or region-image asset id, GeoJSON file, or region GeoTIFF"
    )
    run.add_argument("--region-names", help="CSV with columns region_id,name for a region raster")
    run.add_argument(
        "--region-property", help="feature property naming each region (default: abbr)"
    )
    run.add_argument(
        "--engine", choices=("local", "earthengine"), help="where to compute (default: local)"
    )
    run.add_argument("--project", help="Google Cloud project (Earth Engine)")
    run.add_argument("--start", type=int, help="first year")
    run.add_argument("--end", type=int, help="last year")
    run.add_argument("--reference", type=int, help="reference year t'")
    run.add_argument("--band", help="NPP band name")
    run.add_argument(
        "--scale-factor", type=float, help="stored value × factor (+ offset) = g C m-2 yr-1"
    )
    run.add_argument("--trend", choices=("ols", "sen"), help="trend method")
    run.add_argument("--fit-mode", choices=("free", "fixed", "loglinear"), help="decay fit")
    add_grid_options(run)
    _add_run_options(run)
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
    results = run_demo(
        out,
        resolution=args.resolution,
        store=args.store,
        counting=args.counting or "local",
        progress=report,
    )
    _print_summary(results, out, quiet=args.quiet)
    return 0


def _cmd_run(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.workflow.inputs import RunInputs
    from gee_cscc.workflow.run import run

    cfg, file_inputs = config_from_args(args)
    npp = args.npp or file_inputs.get("npp") or product_collection(cfg)
    if not npp:
        raise GeeCsccError("No NPP input: give --npp (or npp in the [inputs] section of --config).")
    inputs = RunInputs(
        npp=str(npp),
        regions=args.regions or file_inputs.get("regions"),
        region_names=args.region_names or file_inputs.get("region_names"),
    )
    out = Path(args.out or file_inputs.get("out") or "cscc-out")
    store = args.store or file_inputs.get("store")
    counting = args.counting or file_inputs.get("counting") or "local"  # the CLI wins
    extent = None if args.extent else file_inputs.get("extent")  # else the config's extent
    results = run(cfg, inputs, out, store=store, counting=counting, extent=extent, progress=report)
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
    print("\n".join(lines))


def _cmd_serve(args: argparse.Namespace, report: Reporter) -> int:
    from gee_cscc.workflow.engines import default_store, local_engine

    store = Path(args.store) if args.store else default_store()
    engine = local_engine(store, port=args.port, initialize=False, limits=args.limits)
    try:
        engine.serve_forever(ready=_print_how_to_connect)
    except KeyboardInterrupt:
        pass
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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    report = Reporter(quiet=getattr(args, "quiet", False))
    handlers = {
        "demo": _cmd_demo,
        "run": _cmd_run,
        "serve": _cmd_serve,
        "versions": _cmd_versions,
    }
    from gee_cscc.cli import cloud as cli_cloud

    handlers.update(cli_cloud.HANDLERS)
    # --quiet: nothing but errors, so not the engine's "*** Earth Engine ***" notice either.
    stderr = _without_engine_notice() if report.quiet else contextlib.nullcontext()
    try:
        with stderr:
            return handlers[args.command](args, report)
    except KeyboardInterrupt:
        print("gee-cscc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line; the traceback with --verbose
        if verbose:
            raise
        print(f"gee-cscc {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


class _NoticeFilter:
    """A stderr wrapper dropping the lines the ``ee`` client prints as ``*** Earth Engine ***``."""

    MARK = "*** Earth Engine ***"

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._dropping = False

    def write(self, text: str) -> int:
        if not self._dropping and text.startswith(self.MARK):
            self._dropping = True  # print() writes the parts, the separators and the end apart
        if self._dropping:
            if "\n" not in text:
                return len(text)
            self._dropping = False
            rest = text.split("\n", 1)[1]
            if rest:
                self._stream.write(rest)
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _without_engine_notice() -> contextlib.AbstractContextManager:
    return contextlib.redirect_stderr(_NoticeFilter(sys.stderr))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, GeeCsccError):
        text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
