"""``gee-cscc run`` with several NPP products: ``--npp NAME=SOURCE`` given more than once, or
``[products.NAME]`` tables in the run file (:mod:`gee_cscc.workflow.ensemble`)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gee_cscc.errors import GeeCsccError

__all__ = ["cmd_ensemble", "is_ensemble", "print_ensemble"]


def is_ensemble(npp: Sequence[str] | None, file_inputs: dict) -> bool:
    """Whether ``gee-cscc run`` compares several products: ``--npp`` given more than once,
    or a run file with ``[products.NAME]`` tables."""
    return len(npp or ()) > 1 or bool(file_inputs.get("products"))


def cmd_ensemble(
    args: argparse.Namespace,
    report: Any,
    cfg: Any,
    file_inputs: dict,
    batch_options: Callable[[Path], Any],
) -> int:
    """Run every product and write the ensemble (the options of ``gee-cscc run``)."""
    from gee_cscc.workflow.ensemble import product_specs, run_ensemble
    from gee_cscc.workflow.years import years_to_infer

    if file_inputs.get("npp"):
        raise GeeCsccError(
            "The run file gives npp in [inputs] and products too: give the NPP of each product "
            "as npp in its [products.NAME] table (or --npp NAME=SOURCE), not in [inputs]."
        )
    specs = product_specs(args.npp, file_inputs.get("products"))
    out = Path(args.out or file_inputs.get("out") or "cscc-out")
    mode = args.mode or file_inputs.get("mode") or "auto"
    if mode not in ("interactive", "batch", "auto"):
        raise GeeCsccError(f"mode: {mode!r} is not 'interactive', 'batch' or 'auto' (in [inputs]).")

    def batch(folder: Path) -> Any:
        options = batch_options(folder)
        if options.asset_root:  # one root per product
            options = dataclasses.replace(options, asset_root=f"{options.asset_root}/{folder.name}")
        return options

    ensemble = run_ensemble(
        cfg,
        specs,
        out,
        regions=args.regions or file_inputs.get("regions"),
        region_names=args.region_names or file_inputs.get("region_names"),
        regions_layer=getattr(args, "regions_layer", None) or file_inputs.get("regions_layer"),
        infer_years=years_to_infer(
            cfg, args.config, [k for k in ("start", "end") if getattr(args, k) is not None]
        ),
        store=args.store or file_inputs.get("store"),
        counting=args.counting or file_inputs.get("counting") or "local",
        extent=None if args.extent else file_inputs.get("extent"),
        mode=mode,
        batch=batch,
        progress=report,
    )
    print_ensemble(ensemble, out, quiet=args.quiet)
    return 0


def print_ensemble(ensemble: Any, out: Path, *, quiet: bool) -> None:
    """The ensemble's headline numbers, a few lines on stdout."""
    if quiet:
        return
    s = ensemble.summary
    lines = [f"{len(s['products'])} NPP products: {', '.join(s['products'])}"]
    for name, p in s["per_product"].items():
        lines.append(f"  {name}: CSCC {p['cscc_total_pg']:.3f} Pg C/yr")
    lines += [
        f"CSCC mean {s['cscc_total_pg_mean']:.3f} ± {s['cscc_total_pg_sd']:.3f} Pg C/yr (SD); "
        f"modal CSR grade {s['modal_grade']} ({100 * s['grade_agreement']:.0f} % agree)",
        f"Outputs in {out}/ (report.html, tables/ensemble.csv, rasters/, products/<name>/)",
    ]
    print("\n".join(lines))
