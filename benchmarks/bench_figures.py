"""Time each PNG figure of a finished run (issue 11: the figures of ``write outputs``).

Loads a run's output folder (``rasters/results.nc`` into memory, the ``tables/*.csv`` and the
configuration and summary of ``run.json``) and, for every figure of
:data:`gee_cscc.report.figures.FIGURE_NAMES`, times building it (:func:`draw_figure`) and
saving it in this process, ``--repeat`` times, reporting the median CPU seconds of each (robust
on a shared machine) and the PNG's size. Then the wall time of the whole :func:`make_figures` call (two processes by
default), the median of ``--repeat`` calls. Figures are written to ``--out``.

    python benchmarks/bench_figures.py /tmp/r05 --out /tmp/hB/figs --repeat 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.report import figures as figs

TABLES = {
    "capacity": "capacity_by_region.csv",
    "maintenance_counts": "maintenance_counts.csv",
    "resilience": "resilience.csv",
    "trend_summary": "trend_summary.csv",
    "yearly": "yearly.csv",
}


def load_run(folder: Path, *, lazy: bool = False, upsample: int = 1) -> SimpleNamespace:
    """A Results-like object of a finished run's output folder (rasters in memory, or read
    from results.nc when indexed with ``lazy``, as a run reads its scratch layers).

    ``upsample`` > 1 repeats every cell ``upsample × upsample`` times (in memory): a grid of
    that many times the cells, e.g. 4 turns a 0.05° run into a 0.0125° grid for drawing.
    """
    meta = json.loads((folder / "run.json").read_text())
    names = {f.name for f in dataclasses.fields(Config)}
    cfg = Config(
        **{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in meta["config"].items()
            if k in names
        }
    )
    rasters = xr.open_dataset(folder / "rasters" / "results.nc").drop_vars("crs", errors="ignore")
    if not lazy or upsample > 1:
        rasters = rasters.load()
    if upsample > 1:
        rasters = _upsampled(rasters, upsample)
    tables = {}
    for attr, name in TABLES.items():
        path = folder / "tables" / name
        tables[attr] = pd.read_csv(path, keep_default_na=True) if path.exists() else None
    return SimpleNamespace(rasters=rasters, config=cfg, summary=meta.get("summary") or {}, **tables)


def _upsampled(rasters: xr.Dataset, k: int) -> xr.Dataset:
    ydim, xdim = "y", "x"
    out = {}
    for name, da in rasters.data_vars.items():
        if ydim in da.dims and xdim in da.dims:
            data = np.repeat(np.repeat(da.values, k, axis=-2), k, axis=-1)
            out[name] = (da.dims, data, da.attrs)
    coords = {d: rasters[d] for d in rasters.dims if d not in (ydim, xdim) and d in rasters.coords}
    for dim in (ydim, xdim):
        c = rasters[dim].values
        step = (c[1] - c[0]) / k
        coords[dim] = c[0] - (k - 1) / 2 * step + step * np.arange(c.size * k)
    return xr.Dataset(out, coords=coords)


def time_each(results, out: Path, dpi: int, repeat: int, geojson: dict | None) -> list[tuple]:
    try:
        ctx = figs.figure_context(results, regions_geojson=geojson, dpi=dpi)
    except TypeError:  # a version before figure_context(dpi=): to compare before/after
        ctx = figs.figure_context(results, regions_geojson=geojson)
        ctx.dpi = dpi
    rows = []
    for name in figs.FIGURE_NAMES:
        draws, saves, size = [], [], 0
        for _ in range(repeat):
            t0 = time.process_time()
            fig = figs.draw_figure(ctx, name)
            t1 = time.process_time()
            if fig is None:
                break
            path = out / f"{name}.png"
            figs._save(fig, path, dpi)  # noqa: SLF001 (the writer make_figures uses)
            t2 = time.process_time()
            draws.append(t1 - t0)
            saves.append(t2 - t1)
            size = path.stat().st_size
        if draws:
            rows.append((name, statistics.median(draws), statistics.median(saves), size))
    return rows


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run's output folder (with run.json)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/hB/figs"))
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="make_figures workers")
    parser.add_argument("--geojson", type=Path, default=None, help="region outlines to draw")
    parser.add_argument("--skip-each", action="store_true", help="only the make_figures wall")
    parser.add_argument("--lazy", action="store_true", help="read results.nc when indexed")
    parser.add_argument("--upsample", type=int, default=1, help="repeat each cell k × k times")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = load_run(args.run, lazy=args.lazy, upsample=args.upsample)
    geojson = json.loads(args.geojson.read_text()) if args.geojson else None
    ny, nx = results.rasters["cscc"].shape
    print(f"run {args.run}: grid {ny} × {nx} ({ny * nx / 1e6:.2f} M cells), loaded in "
          f"{time.perf_counter() - t0:.1f} s; dpi {args.dpi}")  # fmt: skip
    make = lambda: figs.make_figures(  # noqa: E731
        results, args.out, dpi=args.dpi, workers=args.workers, regions_geojson=geojson
    )
    make()  # warm: imports, font caches
    if not args.skip_each:
        rows = time_each(results, args.out, args.dpi, args.repeat, geojson)
        print(f"{'figure':<18} {'build':>8} {'save':>8} {'CPU s':>8} {'PNG kB':>8}")
        for name, build, save, size in rows:
            print(f"{name:<18} {build:8.3f} {save:8.3f} {build + save:8.3f} {size / 1e3:8.0f}")
        b, s = sum(r[1] for r in rows), sum(r[2] for r in rows)
        kb = sum(r[3] for r in rows) / 1e3
        print(f"{'sum':<18} {b:8.3f} {s:8.3f} {b + s:8.3f} {kb:8.0f}")
    walls, cpus = [], []
    for _ in range(args.repeat):
        c0, t0 = cpu_seconds(), time.perf_counter()
        make()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    print(f"make_figures wall (median of {args.repeat}): {statistics.median(walls):.2f} s "
          f"[{', '.join(f'{w:.2f}' for w in walls)}]; CPU of all its processes "
          f"{statistics.median(cpus):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
