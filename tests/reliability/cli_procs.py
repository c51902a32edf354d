"""``gee-cscc run`` in separate processes, for the concurrency and signal tests.

:func:`start_run` starts the command line in a child process (``python -c``: the CLI's
``main()``), optionally with the figures and the HTML report stubbed (the slow part of a
run, and not what these tests look at). :func:`write_case` writes one of two different
synthetic NPP cubes of ``tests/helpers.py`` (6 years × 5×6 px at 1°) with the two-region
GeoJSON.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from helpers import YEAR_ARGS, cube_dataarray, make_cube, regions_geojson

#: The child: the figures and report stubbed (``stub``), stubbed and taking a minute
#: (``slow``) or real (``real``), then the CLI's main().
CHILD = """
import sys
if sys.argv[1] in ("stub", "slow"):
    import time
    from pathlib import Path
    import gee_cscc.report

    def write_report(results, out_dir, *, slow=sys.argv[1] == "slow", **kwargs):
        page = Path(out_dir) / "report.html"
        page.write_text("<!doctype html><title>stub report</title>")
        if slow:  # a report that takes a minute: the outputs are being written
            time.sleep(60)
        return {"html": page, "figures": {}}

    gee_cscc.report.write_report = write_report
del sys.argv[1]
from gee_cscc.cli import main
sys.exit(main())
"""


def start_run(
    npp: Path,
    regions: Path | None,
    store: Path,
    out: Path,
    *,
    report: str = "stub",
    quiet: bool = True,
    extra: Sequence[str] = (),
) -> subprocess.Popen:
    """Start ``gee-cscc run`` on the synthetic years in a child process.

    ``report``: ``"stub"`` (figures and report replaced by a page), ``"slow"`` (the same,
    taking a minute, so that a signal sent while the outputs are written hits) or
    ``"real"``. ``extra``: more arguments of ``gee-cscc run``.
    """
    argv = ["run", "--npp", str(npp), *YEAR_ARGS, "--store", str(store), "--out", str(out)]
    if regions is not None:
        argv += ["--regions", str(regions)]
    if quiet:
        argv.append("--quiet")
    argv += list(extra)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, report, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def write_case(folder: Path, which: str) -> tuple[Path, Path]:
    """NPP (NetCDF) and regions (GeoJSON) of case ``a`` or ``b``; returns their paths.

    Case ``b`` has other values (the cube of ``a`` reversed in time and scaled by 1.3) and
    the regions under other names, so any mixing of the two shows in every table.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cube = make_cube()
    gj = regions_geojson()
    if which == "b":
        cube = np.round(cube[::-1] * 1.3 * 2) / 2
        for f, name in zip(gj["features"], ("P", "Q"), strict=True):
            f["properties"]["abbr"] = name
    npp = folder / f"npp_{which}.nc"
    cube_dataarray(cube.astype(np.float32)).to_dataset().to_netcdf(npp)
    regions = folder / f"regions_{which}.geojson"
    regions.write_text(json.dumps(gj))
    return npp, regions


def tree_hash(folder: Path) -> dict[str, str]:
    """Every file and folder below ``folder``: relative path → SHA-256 (or 'dir')."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def beside(out: Path) -> list[str]:
    """Staging and aside folders left beside OUT."""
    return sorted(
        p.name for p in out.parent.iterdir() if "-staging-" in p.name or "-aside-" in p.name
    )
