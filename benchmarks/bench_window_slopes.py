"""Growing-window slopes (METHOD.md §4): running sums against one refit per window.

Run on demand (not part of the test suite)::

    python benchmarks/bench_window_slopes.py                       # 200 x 200 and 400 x 400
    python benchmarks/bench_window_slopes.py --sizes 100 --repeat 1 --json out.json

For each grid size, a synthetic float32 NPP collection of 1981–2018 (38 years, 0.01 degree
cells, scattered missing cell-years) is stored in a :class:`LocalEngine`, prepared with
:func:`gee_cscc.method.load_annual_npp` (reference year 2000, so 19 evaluation years), and
the maintenance surfaces are built twice, through the unmodified ``ee`` client:

* ``refit`` (before): every window refitted from t0 with ``Reducer.linearFit``, the
  implementation the package had until the running sums replaced it (kept here only);
* ``running sums`` (after): :func:`gee_cscc.method.maintenance.window_slopes`, one
  ``iterate`` accumulating n, Σt, Σy, Σty and Σt².

Both go through the package's :func:`slope_surfaces` and :func:`maintenance_surfaces`.
Measured per implementation:

* ``graph chars``: ``len(ee.serializer.toJSON(...))`` of the maintenance collection (what
  every tile request and every per-year export sends);
* ``seconds`` / ``cpu``: wall and process CPU time of one ``computePixels`` of the
  19 maintenance surfaces (``toBands``) over the whole grid, best of ``--repeat``;
* that both give the same surfaces (``P`` equal in every pixel) and how far their slopes
  differ (largest relative difference of ``K_i`` where both are valid).

Results (``--sizes 200 400 --repeat 2``, 2 cores shared with other jobs, load ≈ 4, so
wall times are rough; CPU time is the process's, engine threads included):

| grid (38 years) | K_i from | graph chars (slopes / maintenance) | slopes: s (CPU s) | maintenance: s (CPU s) |
| --- | --- | ---: | ---: | ---: |
| 200 x 200 | refit | 37,726 / 43,883 | 2.62 (1.50) | 5.73 (2.06) |
| 200 x 200 | running sums | 11,340 / 17,398 | 0.80 (0.35) | 2.09 (1.05) |
| 400 x 400 | refit | 37,726 / 43,883 | 5.66 (5.59) | 17.04 (8.39) |
| 400 x 400 | running sums | 11,340 / 17,398 | 3.11 (1.19) | 6.43 (3.62) |

The slopes take 4.3–4.7x less CPU, the maintenance surfaces (which also compute the VCA,
the same in both) 2.0–2.3x less; the surfaces are identical and the slopes agree to
≤ 9.2e-12 relative. The graph sizes include the input preparation of
``load_annual_npp`` (about 3,400 chars); the running sums' own graph does not grow with
the number of years (one ``iterate``), the refit's grows with the evaluation years.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

FIRST_YEAR, LAST_YEAR, REFERENCE_YEAR = 1981, 2018, 2000
#: Cell size of the synthetic grid (degrees) and its north-west corner (lon, lat).
CELL_DEG = 0.01
ORIGIN = (100.0, 40.0)

__all__ = ["refit_window_slopes", "synthetic_cube", "maintenance_graph", "bench_size", "main"]


def refit_window_slopes(npp: Any, years: Any, reference_year: int) -> Any:
    """The slopes as computed before the running sums: one ``linearFit`` per window.

    ``K_i`` = ``Reducer.linearFit`` of NPP on the centred year over ``t0 … t_i``, refitted
    from t0 for every evaluation year (Σ windows ≈ 550 image reads per pixel for
    1981–2018 with t' = 2000). Same output as :func:`gee_cscc.method.maintenance.window_slopes`.
    """
    import datetime as dt

    import ee

    from gee_cscc.method.trend import centred_year_band

    years = sorted(int(y) for y in years)
    images = []
    for ti in [y for y in years if y >= reference_year]:
        window = [y for y in years if y <= ti]
        centre = float(np.mean(window))
        pairs = npp.filter(ee.Filter.lte("year", ti)).map(
            lambda img, c=centre: centred_year_band(img, c).addBands(ee.Image(img).select("npp"))
        )
        k = pairs.reduce(ee.Reducer.linearFit()).select(["scale"], ["slope"])
        start = int(dt.datetime(ti, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
        images.append(k.set({"year": ti, "system:time_start": start}))
    return ee.ImageCollection.fromImages(images)


def synthetic_cube(size: int, years: list[int], seed: int = 0) -> np.ndarray:
    """A ``(year, size, size)`` float32 NPP cube: smooth mean, trends that change sign, noise,
    a masked corner and 0.2 % missing cell-years (g C m⁻² yr⁻¹)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / max(size, 1)
    mean = 150.0 + 500.0 * (1.0 - y) * (0.5 + 0.5 * np.sin(6.0 * x) * np.cos(4.0 * y))
    trend = 4.0 * np.sin(9.0 * x + 3.0 * y) - 0.5
    k = np.arange(len(years), dtype=float)[:, None, None]
    bend = np.cos(5.0 * x + 2.0 * y) * np.maximum(k - len(years) / 2, 0.0)  # late sign changes
    cube = mean + trend * k + 3.0 * bend + rng.normal(0.0, 25.0, size=(len(years), size, size))
    cube[:, (x - 0.95) ** 2 + (y - 0.9) ** 2 < 0.05] = np.nan
    cube[rng.random(cube.shape) < 0.002] = np.nan
    return cube.astype(np.float32)


def maintenance_graph(annual: Any, cfg: Any, slopes_fn: Callable[..., Any]) -> tuple[Any, Any]:
    """``(window slopes, maintenance surfaces)`` of the package, with ``slopes_fn`` for K_i."""
    from gee_cscc.method.maintenance import maintenance_surfaces, slope_surfaces
    from gee_cscc.method.vca import vegetation_covered_area

    col = annual.collection
    vca = vegetation_covered_area(col, n_years=len(annual.years), min_mean=cfg.vca_min_mean)
    slopes = slopes_fn(col, annual.years, cfg.reference_year)
    surfaces = slope_surfaces(slopes, vca, tolerance=cfg.zero_slope_tolerance)
    return slopes, maintenance_surfaces(surfaces, cfg.reference_year)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pixels(collection: Any, grid: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(values, valid)`` of every image of a collection, stacked (image, y, x)."""
    import ee

    bands = collection.toBands()

    def fetch(img: Any) -> np.ndarray:
        arr = ee.data.computePixels(
            {"expression": img, "fileFormat": "NUMPY_NDARRAY", "grid": grid}
        )
        return np.stack([np.asarray(arr[n], dtype=np.float64) for n in arr.dtype.names])

    return fetch(bands), fetch(bands.mask()) > 0


def bench_size(
    engine: Any, size: int, *, repeat: int = 2, say: Callable[[str], None] = print
) -> dict:
    """Store a ``size`` x ``size`` x 38 cube and time both implementations on it."""
    import ee

    from gee_cscc.config import Config
    from gee_cscc.method import load_annual_npp
    from gee_cscc.method.maintenance import window_slopes
    from gee_cscc.testing import cube_of, grid_of

    years = list(range(FIRST_YEAR, LAST_YEAR + 1))
    cube = synthetic_cube(size, years)
    da = cube_of(cube, years, origin=ORIGIN, pixel_size=CELL_DEG)
    asset = f"projects/{engine.project}/assets/bench-window-slopes/npp_{size}"
    if not engine.store.exists(asset):
        engine.store.put_collection(asset, da, band="npp")
    grid = grid_of(da)
    cfg = Config(start=years[0], end=years[-1], reference_year=REFERENCE_YEAR, pcs_years=[2018])
    annual = load_annual_npp(asset, cfg)

    out: dict[str, Any] = {"size": size, "years": len(years)}
    results = {}
    for label, fn in (("refit", refit_window_slopes), ("running_sums", window_slopes)):
        slopes, maintenance = maintenance_graph(annual, cfg, fn)
        m = {
            "graph_chars": len(ee.serializer.toJSON(maintenance)),
            "slopes_graph_chars": len(ee.serializer.toJSON(slopes)),
        }
        for what, col in (("slopes", slopes), ("maintenance", maintenance)):
            times, cpus = [], []
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), _cpu()
                pixels = _pixels(col, grid)
                times.append(time.perf_counter() - t0)
                cpus.append(_cpu() - c0)
            results[label, what] = pixels
            m[f"{what}_seconds"], m[f"{what}_cpu_seconds"] = min(times), min(cpus)
            say(
                f"  {size} x {size}  {label:12s} {what:11s} {min(times):7.2f} s  {min(cpus):7.2f} s CPU"
            )
        out[label] = m
    (pa, va), (pb, vb) = results["refit", "maintenance"], results["running_sums", "maintenance"]
    (ka, kva), (kb, kvb) = results["refit", "slopes"], results["running_sums", "slopes"]
    both = kva & kvb
    rel = np.abs(ka[both] - kb[both]) / np.maximum(np.abs(ka[both]), 1e-300)
    out["same_surfaces"] = bool(np.array_equal(va, vb) and np.array_equal(pa[va], pb[vb]))
    out["same_slope_mask"] = bool(np.array_equal(kva, kvb))
    out["max_rel_slope_difference"] = float(rel.max()) if rel.size else 0.0
    for what in ("slopes", "maintenance"):
        before, after = (
            out["refit"][f"{what}_cpu_seconds"],
            out["running_sums"][f"{what}_cpu_seconds"],
        )
        out[f"{what}_cpu_speedup"] = before / after
    return out


def _table(rows: list[dict]) -> str:
    lines = [
        "| grid (38 years) | K_i from | graph chars (slopes / maintenance) "
        "| slopes: s (CPU s) | maintenance: s (CPU s) | same P | max rel ΔK |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        for label in ("refit", "running_sums"):
            m = r[label]
            lines.append(
                f"| {r['size']} x {r['size']} | {label.replace('_', ' ')} "
                f"| {m['slopes_graph_chars']:,} / {m['graph_chars']:,} "
                f"| {m['slopes_seconds']:.2f} ({m['slopes_cpu_seconds']:.2f}) "
                f"| {m['maintenance_seconds']:.2f} ({m['maintenance_cpu_seconds']:.2f}) "
                f"| {r['same_surfaces']} | {r['max_rel_slope_difference']:.1e} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 400], help="grid sides (px)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per case (best kept)")
    parser.add_argument("--json", help="write the numbers here as JSON")
    args = parser.parse_args(argv)

    from gee_cscc.testing import local_engine

    rows = []
    with tempfile.TemporaryDirectory() as tmp, local_engine(tmp) as engine:
        for size in args.sizes:
            rows.append(bench_size(engine, size, repeat=args.repeat))
    print(_table(rows))
    for r in rows:
        print(
            f"{r['size']} x {r['size']}: running sums use {r['slopes_cpu_speedup']:.1f}x less CPU "
            f"for the slopes, {r['maintenance_cpu_speedup']:.1f}x for the maintenance surfaces"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0 if all(r["same_surfaces"] and r["same_slope_mask"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
