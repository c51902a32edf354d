"""Whole-run benchmark: ``gee-cscc run`` against two plain NumPy implementations of METHOD.md.

The run and the baselines are separate processes on the same generated China-like inputs
(the demo generator, ``gee_cscc.demo.synthetic``: 1981–2018, 34 provinces), alternating
(gee, lean, full, then each kind first in turn), ``--repeat`` times each; the table reports
medians of wall time and of CPU time (user + system of every thread: on a shared machine it
depends less on the other jobs than wall time), the run's ratio to each baseline and each
process's peak RSS (``os.wait4``'s ``ru_maxrss``, the process and the children it waited
for). The run's own per-step times come from its ``run.json`` (``timings_s``), the full
baseline's from its ``timings.json``. After each round the baselines' tables are checked
against the run's (below): a benchmark of a wrong answer is worthless, so a mismatch stops it.

    python benchmarks/bench_run.py --res 0.1 0.05 --repeat 3 --data /tmp/bench-data
    python benchmarks/bench_run.py --res 0.025 --repeat 1      # 3.6 M cells, minutes
    python benchmarks/bench_run.py --res 0.0125 --repeat 1     # 14 M cells (optional)
    python benchmarks/bench_run.py --res 0.05 --baselines lean # without the full baseline

Two baselines, both what a researcher might write by hand (``--baselines lean full``):

- **lean** (``numpy_run``; JSON keys ``numpy_s``, ``numpy_all``, ``numpy_cpu_s``,
  ``numpy_rss_mib``): METHOD.md §1–4 only. ``numpy_core`` reads the NetCDF cube and makes one
  pass over the years accumulating per-cell sums for the whole-run OLS trend, the maximum and
  its year, and prefix sums Σy, Σt·y from which every growing window's slope (§4) follows as
  that year is reached, updating the maintenance surface in place; then ``np.bincount`` per
  region. It writes the VCA cells, CSCC and last-year NPP per region, total NPP per year,
  trend-class cells and N⁺/N⁻ as CSV and the rasters as ``.npy``: no input refusals, no
  ratios or changed cells, no decay fits, no GeoTIFF, no figures, no report. Its tables are
  checked against the run's: cells and trend-class cells exactly, N⁺/N⁻ per region and year
  exactly, CSCC, NPP and yearly totals to 1e-5.
- **full** (``numpy_full.numpy_full_run``; keys ``numpy_full_s``, ``numpy_full_all``,
  ``numpy_full_cpu_s``, ``numpy_full_rss_mib``, ``numpy_full_steps_s``): the whole of
  METHOD.md §0–§6 on the same ``numpy_core`` (with §0/§1's refusals in the pass): every
  table of the run (capacity with potential and shares, yearly series, trend classes at
  α = 0.05 and 0.01 with areas, maintenance counts with q⁺/q⁻ and changed cells, resilience
  by the λ-free NLS fit with its profile CI, RS and grade) plus national figures, the
  rasters as tiled deflate GeoTIFFs (the 19 maintenance surfaces as one 19-band int8 file),
  nine PNG figures drawn from strided previews and a plain ``report.html``. Its tables are
  checked as the lean's, plus potential and VCA area per region and class areas (1e-5),
  classes at both levels (exact) and τ⁺/τ⁻ per region (1e-3, or both infinite) with the
  grades (identical) — except where the run declines a fit for fewer than its
  ``min_fit_cells`` cells of a sign (a rule beyond METHOD.md; listed in the summary line).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

START, END, REF = 1981, 2018, 2000
ALPHA = 0.05
SLOPE_ZERO = 1e-6  # |K| below this is 0 (METHOD.md §5b)
MAX_ABS_NPP = 5000.0  # |NPP| above this (g C m-2 yr-1) is refused by the full baseline
WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563


# --------------------------------------------------------------------------- inputs


def prepare(res: float, data: Path) -> dict[str, Path]:
    """The inputs at ``res`` degrees as files (made once, kept in ``data``)."""
    folder = data / f"china_{res:g}"
    files = {
        "npp": folder / "npp.nc",
        "regions": folder / "regions.tif",
        "names": folder / "names.csv",
    }
    if all(p.exists() for p in files.values()):
        return files
    import rioxarray  # noqa: F401  (registers .rio)

    from gee_cscc.demo.provinces import PROVINCE_ABBRS
    from gee_cscc.demo.synthetic import demo_regions
    from gee_cscc.demo.synthetic_write import write_demo_npp

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # Year by year: at 0.0125° the cube is 2.2 GB and building it whole took several times that.
    write_demo_npp(files["npp"], resolution=res, start=START, end=END)
    ids = demo_regions(resolution=res).astype("int32")
    ids = ids.rio.write_crs("EPSG:4326").rio.set_spatial_dims(x_dim="x", y_dim="y")
    ids.rio.to_raster(files["regions"])
    rows = ["region_id,name"] + [f"{i},{a}" for i, a in enumerate(PROVINCE_ABBRS, start=1)]
    files["names"].write_text("\n".join(rows) + "\n")
    print(f"  generated {res:g}° inputs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return files


# --------------------------------------------------------------------------- NumPy baseline


def cell_areas(lat: np.ndarray, dlon: float, dlat: float) -> np.ndarray:
    """Area (m²) of lon/lat cells centred at ``lat`` on the WGS84 ellipsoid (authalic form)."""
    e2 = WGS84_F * (2 - WGS84_F)
    e = math.sqrt(e2)

    def q(phi: np.ndarray) -> np.ndarray:
        s = np.sin(phi)
        return s / (1 - e2 * s * s) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)

    north = np.radians(lat + dlat / 2)
    south = np.radians(lat - dlat / 2)
    return WGS84_A**2 * (1 - e2) / 2 * np.radians(dlon) * np.abs(q(north) - q(south))


def trend_classes(k: np.ndarray, p: np.ndarray, alpha: float) -> np.ndarray:
    """METHOD.md §3 classes: SI 2, II 1, 0, ID −1, SD −2 (|K| < 1e-6 is 0) at level ``alpha``."""
    return np.where(
        np.abs(k) < SLOPE_ZERO,
        0,
        np.where(k > 0, np.where(p < alpha, 2, 1), np.where(p < alpha, -2, -1)),
    ).astype(np.int8)


def numpy_core(npp: Path, regions: Path, names: Path, *, checks: bool = False) -> SimpleNamespace:
    """METHOD.md §1–4 in plain NumPy: the arrays and per-region sums both baselines write.

    One pass over the years; the growing-window slopes from prefix sums. With ``checks``
    (the full baseline) the input is refused as METHOD.md §0/§1 say (ValueError naming the
    year): years not exactly ``START … END``, a year without any valid cell, |NPP| above
    ``MAX_ABS_NPP``, no VCA cell. ``times`` holds the seconds of the imports, reading, the
    pass and the trend with the per-region sums.
    """
    times = {}
    t_start = time.perf_counter()
    import rasterio
    import xarray as xr
    from scipy.stats import t as student_t

    times["imports"] = time.perf_counter() - t_start
    t_start = time.perf_counter()
    with xr.open_dataset(npp) as ds:
        da = ds["npp"]
        years = da["year"].values.astype(int)
        lat = da["y"].values.astype(float)
        lon = da["x"].values.astype(float)
        cube = da.values.astype(np.float32, copy=False)  # (T, ny, nx)
    with rasterio.open(regions) as src:
        ids = src.read(1).astype(np.int64)
        transform = src.transform
    region_names = {
        int(line.split(",")[0]): line.split(",")[1]
        for line in names.read_text().splitlines()[1:]
        if line
    }
    if checks and list(years) != list(range(START, END + 1)):
        want = set(range(START, END + 1))
        odd = sorted(want - set(years)) or sorted(set(years) - want) or [int(years[0])]
        raise ValueError(f"{npp}: the years must be {START}…{END} once each; see year {odd[0]}")
    nt, ny, nx = cube.shape
    area = np.broadcast_to(
        cell_areas(lat, abs(lon[1] - lon[0]), abs(lat[1] - lat[0]))[:, None], (ny, nx)
    )
    times["read"] = time.perf_counter() - t_start

    # one pass over the years
    t_start = time.perf_counter()
    tc = (years - years.mean()).astype(np.float64)  # centred years of the whole run
    n_valid = np.zeros((ny, nx), np.int16)
    s_y = np.zeros((ny, nx))
    s_ty = np.zeros((ny, nx))  # Σ (t − t0)·y for the growing windows
    s_tcy = np.zeros((ny, nx))  # Σ tc·y for the whole-run trend
    s_yy = np.zeros((ny, nx))
    cmax = np.full((ny, nx), -np.inf, np.float32)
    cyear = np.zeros((ny, nx), np.int16)
    p_surface = None
    held = np.zeros((ny, nx), np.int16)
    eval_years = [y for y in years if y >= REF]
    surfaces = []  # the maintenance surface P of every evaluation year (int8 maps)
    n_regions = int(max(ids.max(), max(region_names))) + 1
    for i, year in enumerate(years):
        y = cube[i].astype(np.float64)
        ok = np.isfinite(y)
        if checks:
            if not ok.any():
                raise ValueError(f"{npp}: year {year} has no valid cell")
            n_bad = int(np.count_nonzero(np.abs(cube[i]) > MAX_ABS_NPP))
            if n_bad:
                raise ValueError(
                    f"{npp}: year {year}: {n_bad} cells with |NPP| > {MAX_ABS_NPP:g} "
                    "g C m-2 yr-1 (an undeclared fill value or wrong units?)"
                )
        y0 = np.where(ok, y, 0.0)
        n_valid += ok
        s_y += y0
        s_ty += (year - years[0]) * y0
        s_tcy += tc[i] * y0
        s_yy += y0 * y0
        newmax = ok & (cube[i] > cmax)
        cmax[newmax] = cube[i][newmax]
        cyear[newmax] = year
        if year >= REF:  # growing window t0 … year: slope from the prefix sums
            n = i + 1
            u = np.arange(n, dtype=np.float64)
            ubar, suu = u.mean(), ((u - u.mean()) ** 2).sum()
            k = (s_ty - ubar * s_y) / suu
            s = np.where(np.abs(k) < SLOPE_ZERO, 0, np.sign(k)).astype(np.int8)
            p_surface = s if p_surface is None else np.where(s == p_surface, p_surface, 0)
            held += p_surface != 0
            surfaces.append(p_surface.copy())
    vca = (n_valid == nt) & (s_y / nt > 0)
    if checks and not vca.any():
        raise ValueError(f"{npp}: no cell is in the VCA (valid every year, mean NPP > 0)")
    p_ref = surfaces[0]
    times["pass"] = time.perf_counter() - t_start

    # whole-run OLS trend and its two-sided t-test (n − 2 degrees of freedom)
    t_start = time.perf_counter()
    stt = float((tc**2).sum())
    sxy = s_tcy  # Σ tc·y = Σ (t − t̄)(y − ȳ)
    syy = s_yy - s_y * s_y / nt
    k = sxy / stt
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.clip(sxy * sxy / (stt * syy), 0, 1)
        tstat = np.sqrt(r2 * (nt - 2) / (1 - r2))
    p = np.where(r2 >= 1, 0.0, 2 * student_t.sf(np.nan_to_num(tstat), nt - 2))
    p[np.abs(k) < SLOPE_ZERO] = 1.0
    cls = trend_classes(k, p, ALPHA)

    # per-region sums over the VCA (np.bincount)
    rid = np.where(vca, ids, 0)[vca]
    a = area[vca]

    def per_region(weights: np.ndarray) -> np.ndarray:
        return np.bincount(rid, weights=weights, minlength=n_regions)

    cscc_tg = per_region(cmax[vca] * a) / 1e12
    last = cube[-1][vca].astype(np.float64)
    npp_tg = per_region(last * a) / 1e12
    cscc_all_tg, npp_all_tg = (cmax[vca] * a).sum() / 1e12, (last * a).sum() / 1e12
    cells = np.bincount(rid, minlength=n_regions)
    flat = cube.reshape(nt, -1)[:, vca.ravel()]
    total_pg = (flat.astype(np.float64) @ a) / 1e15
    counts = []  # per evaluation year: N⁺ per region, N⁺ of all, N⁻ per region, N⁻ of all
    for surface in surfaces:
        sv = surface[vca]
        pos = np.bincount(rid, weights=(sv == 1), minlength=n_regions)
        neg = np.bincount(rid, weights=(sv == -1), minlength=n_regions)
        counts.append((pos, float((sv == 1).sum()), neg, float((sv == -1).sum())))
    times["trend_sums"] = time.perf_counter() - t_start
    return SimpleNamespace(
        years=years, eval_years=eval_years, lat=lat, lon=lon, transform=transform,
        cube=cube, ids=ids, region_names=region_names, n_regions=n_regions, area=area,
        vca=vca, cmax=cmax, cyear=cyear, k=k, p=p, cls=cls, held=held, p_ref=p_ref,
        surfaces=surfaces, rid=rid, a=a, cscc_tg=cscc_tg, npp_tg=npp_tg,
        cscc_all_tg=cscc_all_tg, npp_all_tg=npp_all_tg, cells=cells, total_pg=total_pg,
        counts=counts, times=times,
    )  # fmt: skip


def numpy_run(npp: Path, regions: Path, names: Path, out: Path) -> None:
    """The lean baseline: METHOD.md §1–4 (:func:`numpy_core`), tables as CSV, rasters as .npy."""
    r = numpy_core(npp, regions, names)
    out.mkdir(parents=True, exist_ok=True)
    vca, rid, n_regions, years = r.vca, r.rid, r.n_regions, r.years

    def rows(values: np.ndarray, total: float) -> list[tuple[str, float]]:
        return [("ALL", total)] + [(name, values[i]) for i, name in r.region_names.items()]

    with open(out / "capacity_by_region.csv", "w") as f:
        f.write("region,cscc_tg,current_npp_tg,vca_cells\n")
        for (name, c), (_, nv), (_, cc) in zip(
            rows(r.cscc_tg, r.cscc_all_tg),
            rows(r.npp_tg, r.npp_all_tg),
            rows(r.cells, int(vca.sum())),
            strict=True,
        ):
            f.write(f"{name},{float(c)!r},{float(nv)!r},{int(cc)}\n")
    with open(out / "yearly.csv", "w") as f:
        f.write("year,total_npp_pg\n")
        for year, total in zip(years, r.total_pg, strict=True):
            f.write(f"{year},{float(total)!r}\n")
    with open(out / "trend_summary.csv", "w") as f:
        f.write("region,class,cells\n")
        labels = {2: "SI", 1: "II", 0: "0", -1: "ID", -2: "SD"}
        c = r.cls[vca]
        for code, label in labels.items():
            by = np.bincount(rid, weights=(c == code), minlength=n_regions)
            for name, v in rows(by, float((c == code).sum())):
                f.write(f"{name},{label},{int(v)}\n")
    with open(out / "maintenance_counts.csv", "w") as f:
        f.write("region,year,n_pos,n_neg\n")
        for year, (pos, pos_all, neg, neg_all) in zip(r.eval_years, r.counts, strict=True):
            for (name, np_), (_, nn) in zip(rows(pos, pos_all), rows(neg, neg_all), strict=True):
                f.write(f"{name},{year},{int(np_)},{int(nn)}\n")
    # rasters (float32, NaN outside the VCA)
    nan = np.float32(np.nan)
    np.save(out / "cscc.npy", np.where(vca, r.cmax, nan))
    np.save(out / "cscc_year.npy", np.where(vca, r.cyear, 0).astype(np.int16))
    np.save(out / "trend_slope.npy", np.where(vca, r.k, np.nan).astype(np.float32))
    np.save(out / "trend_class.npy", np.where(vca, r.cls, 0).astype(np.int8))
    np.save(out / "maintenance_years.npy", (np.where(vca, r.p_ref, 0) * r.held).astype(np.int8))
    np.save(out / "vca.npy", vca)
    for year in (START, REF, END):
        pcs = np.where(vca, r.cmax - r.cube[list(years).index(year)], nan)
        np.save(out / f"pcs_{year}.npy", pcs.astype(np.float32))


# --------------------------------------------------------------------------- agreement


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(text: str) -> float:
    """A table cell as a number: empty is NaN, ``inf`` is infinite."""
    return float(text) if text else math.nan


def _close(have: float, want: float, rel: float, *, abs_tol: float = 1e-6) -> bool:
    """Equal within ``rel`` (relative), both NaN, or both infinite with the same sign."""
    if math.isnan(have) or math.isnan(want):
        return math.isnan(have) and math.isnan(want)
    if math.isinf(have) or math.isinf(want):
        return have == want
    return math.isclose(have, want, rel_tol=rel, abs_tol=abs_tol)


def check_agreement(run_out: Path, numpy_out: Path, *, full: bool = False) -> str:
    """Raise AssertionError where the NumPy tables and the run's differ; a summary line.

    ``numpy_out`` is the folder of the baseline's CSV tables. With ``full`` (the full
    baseline's tables) also: potential and VCA area per region, the trend classes at both
    levels with their areas, and the resilience (τ⁺, τ⁻ within 1e-3 relative or both
    infinite with the same sign, and the grade). Where the run declines a fit because a sign
    has fewer than its ``min_fit_cells`` cells at t' (flag ``too_few_cells``, a rule of the
    tool beyond METHOD.md §5, which fits every sign with cells) the baseline's τ of that sign
    and the grade are not compared; the baseline's N_t' is checked to be below the limit, and
    the summary line counts these regions.
    """
    tables = run_out / "tables"
    cap = {r["region"]: r for r in _csv(tables / "capacity_by_region.csv")}
    missing = []
    for r in _csv(numpy_out / "capacity_by_region.csv"):
        got = cap.get(r["region"])
        if got is None:  # the run leaves out a region without VCA cells
            assert int(r["vca_cells"]) == 0, ("region missing from the run's table", r)
            missing.append(r["region"])
            continue
        assert int(float(got["vca_cells"] or 0)) == int(r["vca_cells"]), (r, got)
        cols = ("cscc_tg", "current_npp_tg") + (("potential_tg", "vca_area_km2") if full else ())
        for col in cols:
            want, have = float(r[col]), float(got[col] or 0)
            assert math.isclose(have, want, rel_tol=1e-5, abs_tol=1e-6), (col, r, got)
    counts = {(r["region"], r["year"]): r for r in _csv(tables / "maintenance_counts.csv")}
    n_counts = 0
    for r in _csv(numpy_out / "maintenance_counts.csv"):
        got = counts.get((r["region"], r["year"]))
        if got is None and r["region"] in missing:
            assert int(r["n_pos"]) == int(r["n_neg"]) == 0, r
            continue
        for col in ("n_pos", "n_neg"):
            assert int(float(got[col] or 0)) == int(r[col]), (col, r, got)
        n_counts += 1
    classes = {
        (r["region"], float(r["alpha"]), r["class"]): r for r in _csv(tables / "trend_summary.csv")
    }
    for r in _csv(numpy_out / "trend_summary.csv"):
        alpha = float(r.get("alpha", ALPHA))
        if not full and not math.isclose(alpha, ALPHA):
            continue
        got = classes.get((r["region"], alpha, r["class"]))
        have = int(float(got["cells"] or 0)) if got else 0
        assert have == int(r["cells"]), ("trend class cells", r, got)
        if full:
            have_area = float(got["area_km2"] or 0) if got else 0.0
            want_area = float(r["area_km2"])
            assert math.isclose(have_area, want_area, rel_tol=1e-5, abs_tol=1e-6), (r, got)
    yearly = {r["year"]: r for r in _csv(tables / "yearly.csv")}
    for r in _csv(numpy_out / "yearly.csv"):
        have = float(yearly[r["year"]]["total_npp_pg"])
        assert math.isclose(have, float(r["total_npp_pg"]), rel_tol=1e-5), (r, have)
    note = f"; without VCA cells, not in the run's tables: {', '.join(missing)}" if missing else ""
    if not full:
        return f"tables agree ({len(cap)} rows of regions, {n_counts} count rows){note}"

    config = json.loads((run_out / "run.json").read_text()).get("config", {})
    min_cells = int(config.get("min_fit_cells", 1))
    n_ref = {
        (r["region"], sign): int(r[f"n_{sign}"])
        for r in _csv(numpy_out / "maintenance_counts.csv")
        if int(r["year"]) == REF
        for sign in ("pos", "neg")
    }
    res = {r["region"]: r for r in _csv(tables / "resilience.csv")}
    declined, n_tau = [], 0
    for r in _csv(numpy_out / "resilience.csv"):
        got = res[r["region"]]
        skip = False
        for sign in ("pos", "neg"):
            if f"{sign}:too_few_cells" in got["flags"].split(";"):
                assert 0 < n_ref[r["region"], sign] < min_cells, ("too_few_cells", r, got)
                declined.append(f"{r['region']} {sign} ({n_ref[r['region'], sign]})")
                skip = True
                continue
            have, want = _num(got[f"tau_{sign}"]), _num(r[f"tau_{sign}"])
            assert _close(have, want, 1e-3), (f"tau_{sign}", r, got)
            n_tau += 1
        if skip:
            assert got["grade"] == "none", ("grade of a declined fit", got)
        else:
            assert got["grade"] == r["grade"], ("grade", r, got)
    note += f"; {n_tau} τ and the grades agree"
    if declined:
        note += (
            f"; the run fits no sign with fewer than min_fit_cells = {min_cells} cells at t' "
            f"(beyond METHOD.md; τ and grade not compared): {', '.join(declined)}"
        )
    return f"full tables agree ({len(cap)} rows of regions, {n_counts} count rows){note}"


# --------------------------------------------------------------------------- timing


def timed(argv: list[str], *, env: dict | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system, every thread) of one
    child process (``os.wait4``)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} … exited {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def gee_run_argv(
    files: dict[str, Path], out: Path, store: Path, extra: Sequence[str] = ()
) -> list[str]:
    exe = shutil.which("gee-cscc") or "gee-cscc"
    return [
        exe, "run",
        "--npp", str(files["npp"]),
        "--regions", str(files["regions"]),
        "--region-names", str(files["names"]),
        "--start", str(START), "--end", str(END), "--reference", str(REF),
        "--extent", "input",
        "--out", str(out), "--store", str(store), "-q", *extra,
    ]  # fmt: skip


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, NumPy {np.__version__}; "
        f"load average at the end {load}"
    )


#: The kinds of process timed: the run and the two NumPy baselines (``--baselines``).
KINDS = {"gee": "gee", "lean": "numpy", "full": "numpy_full"}


def precompile() -> None:
    """Compile gee_cscc's modules and the baselines' to bytecode before timing, as an
    installed package has them. (This machine sets ``PYTHONDONTWRITEBYTECODE=1``, so an
    editable install compiled its 220 modules from source in every timed run: about
    0.3 s of each.)"""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("gee_cscc")
    folders = [*(spec.submodule_search_locations or []), str(Path(__file__).parent)]
    for folder in folders:
        compileall.compile_dir(folder, quiet=1)


def bench(
    res: float,
    repeat: int,
    data: Path,
    work: Path,
    extra: Sequence[str] = (),
    baselines: Sequence[str] = ("lean", "full"),
) -> dict:
    files = prepare(res, data)
    kinds = ["gee"] + [KINDS[b] for b in ("lean", "full") if b in baselines]
    runs: dict[str, list] = {f"{k}{s}": [] for k in kinds for s in ("", "_rss", "_cpu")}
    runs["steps"], runs["full_steps"] = [], []
    agree = {}
    for i in range(repeat):
        order = kinds[i % len(kinds) :] + kinds[: i % len(kinds)]  # each kind first in turn
        for kind in order:
            out = work / f"{kind}_{res:g}_{i}"
            shutil.rmtree(out, ignore_errors=True)
            if kind == "gee":
                store = work / f"store_{res:g}_{i}"  # a fresh store: the inputs are loaded
                shutil.rmtree(store, ignore_errors=True)
                wall, rss, cpu = timed(gee_run_argv(files, out, store, extra))
                steps = json.loads((out / "run.json").read_text()).get("timings_s", {})
                runs["steps"].append(steps)
                shutil.rmtree(store, ignore_errors=True)
            else:
                flag = "--numpy-run" if kind == "numpy" else "--numpy-full-run"
                argv = [sys.executable, __file__, flag, str(files["npp"])]
                argv += [str(files["regions"]), str(files["names"]), str(out)]
                wall, rss, cpu = timed(argv)
                if kind == "numpy_full":
                    steps = json.loads((out / "timings.json").read_text())
                    steps = {k: v for k, v in steps.items() if isinstance(v, float)}
                    steps["exit and the rest"] = wall - sum(steps.values())
                    runs["full_steps"].append(steps)
            runs[kind].append(wall)
            runs[f"{kind}_rss"].append(rss)
            runs[f"{kind}_cpu"].append(cpu)
            print(
                f"  {res:g}° {kind:10s} run {i + 1}: {wall:6.1f} s, {cpu:6.1f} s CPU, "
                f"{rss:6.0f} MiB",
                flush=True,
            )
        gee_out = work / f"gee_{res:g}_{i}"
        if "numpy" in kinds:
            agree["lean"] = check_agreement(gee_out, work / f"numpy_{res:g}_{i}")
            print(f"  lean: {agree['lean']}", flush=True)
        if "numpy_full" in kinds:
            full_tables = work / f"numpy_full_{res:g}_{i}" / "tables"
            agree["full"] = check_agreement(gee_out, full_tables, full=True)
            print(f"  full: {agree['full']}", flush=True)
    import xarray as xr

    with xr.open_dataset(files["npp"]) as ds:
        ny, nx = ds.sizes["y"], ds.sizes["x"]

    def medians(step_dicts: list[dict]) -> dict:
        if not step_dicts:
            return {}
        return {
            key: statistics.median(s.get(key, math.nan) for s in step_dicts)
            for key in step_dicts[-1]
        }

    result = {"res": res, "cells": ny * nx}
    for kind in kinds:  # numpy_s … for the lean baseline, numpy_full_s … for the full one
        result[f"{kind}_s"] = statistics.median(runs[kind])
        result[f"{kind}_all"] = runs[kind]
        result[f"{kind}_cpu_s"] = statistics.median(runs[f"{kind}_cpu"])
        result[f"{kind}_rss_mib"] = max(runs[f"{kind}_rss"])
    result["steps_s"] = medians(runs["steps"])
    if runs["full_steps"]:
        result["numpy_full_steps_s"] = medians(runs["full_steps"])
    result["agreement"] = agree.get("lean", "")
    if "full" in agree:
        result["agreement_full"] = agree["full"]
    return result


def table(results: list[dict]) -> str:
    def cell(r: dict, key: str, fmt: str, unit: str) -> str:
        return f"{format(r[key], fmt)} {unit}" if key in r else "—"

    def ratio(r: dict, a: str, b: str) -> str:
        return f"{r[a] / r[b]:.1f}×" if a in r and b in r else "—"

    lines = [
        "| grid | cells | gee-cscc run (median) | NumPy lean (median) | ratio | NumPy full "
        "(median) | ratio | gee-cscc CPU | lean CPU | CPU ratio | full CPU | CPU ratio "
        "| gee-cscc peak RSS | lean peak RSS | full peak RSS | runs (gee / lean / full, s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        runs = " / ".join(
            " ".join(f"{v:.1f}" for v in r.get(f"{k}_all", [])) or "—"
            for k in ("gee", "numpy", "numpy_full")
        )
        lines.append(
            f"| {r['res']:g}° | {r['cells'] / 1e6:.2f} M | {r['gee_s']:.1f} s | "
            f"{cell(r, 'numpy_s', '.1f', 's')} | {ratio(r, 'gee_s', 'numpy_s')} | "
            f"{cell(r, 'numpy_full_s', '.1f', 's')} | {ratio(r, 'gee_s', 'numpy_full_s')} | "
            f"{r['gee_cpu_s']:.1f} s | {cell(r, 'numpy_cpu_s', '.1f', 's')} | "
            f"{ratio(r, 'gee_cpu_s', 'numpy_cpu_s')} | {cell(r, 'numpy_full_cpu_s', '.1f', 's')} | "
            f"{ratio(r, 'gee_cpu_s', 'numpy_full_cpu_s')} | {r['gee_rss_mib']:,.0f} MiB | "
            f"{cell(r, 'numpy_rss_mib', ',.0f', 'MiB')} | "
            f"{cell(r, 'numpy_full_rss_mib', ',.0f', 'MiB')} | {runs} |"
        )
    for title, field in (
        ("Per step of `gee-cscc run` (run.json `timings_s`, medians, s):", "steps_s"),
        ("Per step of the full NumPy baseline (its `timings.json`, medians, s):",
         "numpy_full_steps_s"),
    ):  # fmt: skip
        keys = list(dict.fromkeys(k for r in results for k in r.get(field, {})))
        if not keys:
            continue
        lines += ["", title, ""]
        lines.append("| step | " + " | ".join(f"{r['res']:g}°" for r in results) + " |")
        lines.append("|---|" + "---:|" * len(results))
        for key in keys:
            cells = " | ".join(f"{r.get(field, {}).get(key, math.nan):.2f}" for r in results)
            lines.append(f"| {key} | {cells} |")
    return "\n".join(lines + floor_lines(results))


#: The steps of ``gee-cscc run`` that the engine computes (what a faster engine shortens).
ENGINE_STEPS = ("input checks", "region sums", "pull rasters", "batch tasks")
#: The steps of the full baseline that compute the method (its one pass and the trend sums).
BASELINE_COMPUTE = ("pass", "trend_sums")


def floor_lines(results: list[dict], target: float = 1.5) -> list[str]:
    """The run split into the engine's steps and everything else, against ``target`` × each
    baseline: what the engine steps may take for the run to meet it (issue 11)."""
    rows = []
    for r in results:
        steps = r.get("steps_s") or {}
        engine = sum(v for k, v in steps.items() if k.startswith(ENGINE_STEPS))
        if not engine:
            continue
        rest = r["gee_s"] - engine
        full = r.get("numpy_full_s")
        computes = r.get("numpy_full_steps_s") or {}
        compute = sum(computes.get(k, 0.0) for k in BASELINE_COMPUTE)
        budget = target * full - rest if full else math.nan
        rows.append(
            f"| {r['res']:g}° | {engine:.1f} s | {rest:.1f} s | "
            + (f"{target * r['numpy_s']:.1f} s" if "numpy_s" in r else "—")
            + " | "
            + (f"{target * full:.1f} s | {budget:.1f} s" if full else "— | —")
            + " | "
            + (f"{compute:.1f} s" if compute else "—")
            + " |"
        )
    if not rows:
        return []
    return [
        "",
        f"The floor ({target:g}× target): the run's engine steps ({', '.join(ENGINE_STEPS)}) "
        "against everything else, and what the engine steps may take (medians, s):",
        "",
        f"| grid | engine steps | everything else | {target:g} × lean | {target:g} × full "
        "| engine budget against full | full baseline's computation |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--numpy-run":
        numpy_run(*(Path(a) for a in sys.argv[2:6]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--numpy-full-run":
        from numpy_full import numpy_full_run

        numpy_full_run(*(Path(a) for a in sys.argv[2:6]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, nargs="+", default=[0.1, 0.05])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "gee-cscc-bench")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    ap.add_argument("--prepare", action="store_true", help="only generate the inputs")
    ap.add_argument(
        "--mode",
        choices=("auto", "interactive", "batch"),
        default=None,
        help="gee-cscc run --mode (default: the tool's own choice, auto)",
    )
    ap.add_argument(
        "--counting",
        choices=("local", "server"),
        default=None,
        help="gee-cscc run --counting (default: local)",
    )
    ap.add_argument(
        "--baselines",
        nargs="+",
        choices=("lean", "full"),
        default=["lean", "full"],
        help="the NumPy baselines to time beside the run (default: both)",
    )
    args = ap.parse_args()
    if args.prepare:
        for res in args.res:
            print(*prepare(res, args.data).values())
        return
    work = args.data / "runs"
    work.mkdir(parents=True, exist_ok=True)
    precompile()
    extra = [f"--{k}={v}" for k in ("mode", "counting") if (v := getattr(args, k))]
    results = [bench(res, args.repeat, args.data, work, extra, args.baselines) for res in args.res]
    print()
    print(f"Machine: {machine()}")
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
