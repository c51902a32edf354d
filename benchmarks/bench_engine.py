"""Speed and memory of the local Earth Engine on a synthetic annual NPP collection.

Run on demand (not part of the test suite)::

    python benchmarks/bench_engine.py --width 5000 --height 3500 --years 38 [--store DIR] [--quick]

Steps (each timed, each with the process's peak resident memory while it ran):

1. ``build``: a synthetic float32 NPP collection of ``years`` images on a ``width`` x
   ``height`` EPSG:4326 grid (0.01 degree cells, about 1 km), written year by year with
   :meth:`AssetStore.write_image_arrays` (the whole cube is never in memory), and an int32
   region-id image of 34 block "provinces". Skipped when ``--store`` already holds it.
2. ``grouped_sums``: through the real ``ee`` client against a :class:`LocalEngine` on that
   store, the method's VCA and CSCC (:func:`gee_cscc.method.build`) reduced to per-region
   totals of ``cscc x pixelArea``, VCA area and VCA cells with one grouped ``reduceRegion``
   (:func:`gee_cscc.workflow.pull.region_sums`, crs and crsTransform explicit). The VCA cell counts
   are checked against NumPy counts made while generating the data.
3. ``window``: ``computePixels`` of a 256 x 256 window of the maintenance-years image (the
   whole METHOD.md §4 chain); every stored-band read is recorded and must lie inside the
   window.
4. ``analyze``: the whole :func:`gee_cscc.workflow.analyze.analyze` at a smaller size (1000 x 700,
   ``--quick``: 200 x 140) on a collection of its own.

Peak memory is the process's ``VmHWM`` (the engine serves from a thread of this process),
reset before each step through ``/proc/self/clear_refs`` where the kernel allows it;
otherwise the numbers are the process's peak so far (``ru_maxrss``). The script prints a
table and writes the numbers as JSON (``--json``, default ``<store>/bench_<W>x<H>x<N>.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Cell size of the synthetic grid in degrees (about 1.1 km at the equator).
CELL_DEG = 0.01
#: North-west corner of the synthetic grid (lon, lat): a China-like extent.
ORIGIN = (73.0, 54.0)
#: First year of the synthetic collections.
FIRST_YEAR = 1981
#: Region blocks across and down (34 of the 6 x 6 blocks are regions, ids 1…34).
REGION_BLOCKS = 6
N_REGIONS = 34

__all__ = [
    "Measure",
    "SyntheticCollection",
    "build_collection",
    "bench_grouped_sums",
    "bench_window",
    "bench_analyze",
    "config_for",
    "memory_step",
    "read_recorder",
    "main",
]


# --- memory and time --------------------------------------------------------------------------


def _status_kib(field_name: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field_name}:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) if m else None


def _reset_peak() -> bool:
    """Reset the process's peak RSS (``VmHWM``); False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _maxrss_mib() -> float:
    """``ru_maxrss`` of this process in MiB (KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024.0


@dataclass
class Measure:
    """Time and memory of one step.

    Attributes:
        name: The step.
        seconds: Wall-clock time (s).
        cpu_seconds: CPU time of the process, all threads, user + system (s): less
            sensitive than wall-clock time to other work on the machine.
        peak_rss_mib: Peak resident memory of the whole process during the step (MiB).
        start_rss_mib: Resident memory when the step started (MiB).
        peak_is_step_local: Whether the peak was reset at the start of the step (else it
            is the process's peak so far).
        extra: Step-specific numbers (disk size, reads, results …).
    """

    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mib: float = 0.0
    start_rss_mib: float = 0.0
    peak_is_step_local: bool = False
    extra: dict = field(default_factory=dict)


@contextlib.contextmanager
def memory_step(name: str) -> Iterator[Measure]:
    """Time a block and record the process's peak resident memory while it ran."""
    import gc

    gc.collect()
    m = Measure(name)
    m.peak_is_step_local = _reset_peak()
    rss = _status_kib("VmRSS")
    m.start_rss_mib = rss / 1024.0 if rss is not None else float("nan")
    t0 = time.perf_counter()
    c0 = _cpu_seconds()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - t0
        m.cpu_seconds = _cpu_seconds() - c0
        hwm = _status_kib("VmHWM")
        m.peak_rss_mib = hwm / 1024.0 if hwm is not None else _maxrss_mib()


@dataclass
class _Reads:
    windows: list[tuple[int, int, int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> dict:
        if not self.windows:
            return {"reads": 0, "pixels_read": 0, "largest_read": None}
        sizes = [h * w for _, _, h, w in self.windows]
        big = self.windows[int(np.argmax(sizes))]
        return {
            "reads": len(self.windows),
            "pixels_read": int(sum(sizes)),
            "largest_read": [big[2], big[3]],
        }


@contextlib.contextmanager
def read_recorder() -> Iterator[_Reads]:
    """Record every window read from stored GeoTIFF bands ``(row0, col0, h, w)``.

    A small band (up to the band cache's ``max_band_bytes``) is loaded whole into the
    store's band cache on its first read and served from memory afterwards; the windows
    recorded are those the computation asks for.
    """
    from gee_cscc.engine import store as store_mod

    reads = _Reads()
    original_read = store_mod._GeoTiffBandReader.read

    def read(self: Any, row0: int, col0: int, h: int, w: int) -> Any:
        with reads.lock:
            reads.windows.append((row0, col0, h, w))
        return original_read(self, row0, col0, h, w)

    store_mod._GeoTiffBandReader.read = read
    try:
        yield reads
    finally:
        store_mod._GeoTiffBandReader.read = original_read


# --- synthetic data ---------------------------------------------------------------------------


@dataclass
class SyntheticCollection:
    """Ids and NumPy-side facts of a generated collection.

    Attributes:
        collection: The ImageCollection asset id.
        regions: The region-id image asset id.
        width, height, years: The size.
        vca_cells: ``{region id: cells valid in every year}`` counted with NumPy while
            generating (region 0 = outside every region).
        disk_bytes: Bytes on disk of the collection and the region image.
    """

    collection: str
    regions: str
    width: int
    height: int
    years: list[int]
    vca_cells: dict[int, int]
    disk_bytes: int

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        return (CELL_DEG, 0.0, ORIGIN[0], 0.0, -CELL_DEG, ORIGIN[1])


def _region_ids(height: int, width: int) -> np.ndarray:
    """34 rectangular regions on a 6 x 6 block layout; 0 in the two corner blocks."""
    rb = np.minimum(np.arange(height) * REGION_BLOCKS // max(height, 1), REGION_BLOCKS - 1)
    cb = np.minimum(np.arange(width) * REGION_BLOCKS // max(width, 1), REGION_BLOCKS - 1)
    block = rb[:, None] * REGION_BLOCKS + cb[None, :]  # 0 … 35
    ids = block.astype(np.int32)  # blocks 1 … 34 are regions 1 … 34
    ids[(block == 0) | (block == REGION_BLOCKS * REGION_BLOCKS - 1)] = 0
    return ids


def _base_field(height: int, width: int, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean NPP (g C m⁻² yr⁻¹) and trend (g C m⁻² yr⁻²) of rows ``r0:r1``; NaN = no data."""
    y = (np.arange(r0, r1, dtype=np.float32) / max(height, 1))[:, None]
    x = (np.arange(width, dtype=np.float32) / max(width, 1))[None, :]
    mean = 150.0 + 500.0 * (1.0 - y) * (0.5 + 0.5 * np.sin(6.0 * x) * np.cos(4.0 * y))
    trend = 4.0 * np.sin(9.0 * x + 3.0 * y) - 0.5
    sea = (x - 0.95) ** 2 + (y - 0.9) ** 2 < 0.08  # a masked "sea" corner
    desert = (x - 0.2) ** 2 / 0.03 + (y - 0.35) ** 2 / 0.01 < 1.0  # a masked "desert"
    mean = np.where(sea | desert, np.float32(np.nan), mean).astype(np.float32)
    return mean, trend.astype(np.float32)


def _year_array(height: int, width: int, k: int, seed: int) -> np.ndarray:
    """The NPP of year index ``k`` (float32, NaN = masked), built in row strips."""
    out = np.empty((height, width), dtype=np.float32)
    rng = np.random.default_rng(seed * 100_003 + k)
    step = 512
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        mean, trend = _base_field(height, width, r0, r1)
        noise = rng.standard_normal((r1 - r0, width), dtype=np.float32) * np.float32(25.0)
        strip = mean + trend * np.float32(k) + noise
        gaps = rng.random((r1 - r0, width), dtype=np.float32) < np.float32(0.002)
        strip[gaps] = np.nan  # scattered missing years: those cells leave the VCA
        out[r0:r1] = strip
    return out


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_collection(
    store: Any,
    *,
    width: int,
    height: int,
    years: int,
    seed: int = 0,
    prefix: str = "bench",
    progress: Callable[[str], None] | None = None,
) -> SyntheticCollection:
    """Write (or reuse) a synthetic collection and its region image in ``store``.

    Years are generated and written one at a time; only the per-cell count of valid
    years (uint8) is kept across years, for the VCA check.
    """
    from gee_cscc.engine.grid import Projection

    from gee_cscc.engine.store import year_millis

    tag = f"{width}x{height}x{years}"
    root = f"projects/{store.default_project}/assets/{prefix}"
    coll_id = f"{root}/npp_{tag}"
    reg_id = f"{root}/regions_{width}x{height}"
    done_file = store._dir(store.resolve(coll_id)) / "bench_facts.json"
    year_list = list(range(FIRST_YEAR, FIRST_YEAR + years))
    proj = Projection("EPSG:4326", (CELL_DEG, 0.0, ORIGIN[0], 0.0, -CELL_DEG, ORIGIN[1]))
    if done_file.is_file():
        facts = json.loads(done_file.read_text())
    else:
        if store.exists(coll_id):
            store.delete(coll_id, recursive=True)
        store.create(coll_id, "IMAGE_COLLECTION")
        valid_years = np.zeros((height, width), dtype=np.uint8)
        for k, year in enumerate(year_list):
            arr = _year_array(height, width, k, seed)
            valid_years += np.isfinite(arr)
            store.write_image_arrays(
                f"{coll_id}/{year}",
                ["npp"],
                [arr],
                proj,
                {"year": year, "system:time_start": year_millis(year)},
            )
            del arr
            if progress is not None:
                progress(f"  wrote {year} ({k + 1}/{years})")
        ids = _region_ids(height, width)
        if not store.exists(reg_id):
            store.write_image_arrays(reg_id, ["region"], [ids], proj, dtypes=["int32"])
        in_vca = valid_years == years
        counts = np.bincount(ids[in_vca].ravel(), minlength=N_REGIONS + 1)
        facts = {"vca_cells": {str(i): int(c) for i, c in enumerate(counts)}}
        done_file.write_text(json.dumps(facts))
    disk = _dir_bytes(store._dir(store.resolve(coll_id))) + _dir_bytes(
        store._dir(store.resolve(reg_id))
    )
    return SyntheticCollection(
        collection=coll_id,
        regions=reg_id,
        width=width,
        height=height,
        years=year_list,
        vca_cells={int(k): v for k, v in facts["vca_cells"].items()},
        disk_bytes=disk,
    )


# --- the method through the ee client ---------------------------------------------------------


def config_for(years: list[int]) -> Any:
    """The run configuration of a synthetic collection (reference year mid-way)."""
    from gee_cscc.config import Config

    start, end = years[0], years[-1]
    reference = max(start + 2, start + len(years) // 2)
    reference = min(reference, end)
    return Config(start=start, end=end, reference_year=reference, pcs_years=[start, end])


def _regions(data: SyntheticCollection) -> Any:
    import ee

    from gee_cscc.method import regions_from_image

    ids = list(range(1, N_REGIONS + 1))
    return regions_from_image(
        ee.Image(data.regions), names={i: f"R{i:02d}" for i in ids}, ids=ids, source="bench"
    )


def bench_grouped_sums(data: SyntheticCollection) -> dict:
    """VCA + CSCC + totals: one grouped ``reduceRegion`` per region id (server-side).

    Returns the totals and whether the VCA cell counts match NumPy's.
    """
    import ee

    from gee_cscc.method import build, load_annual_npp
    from gee_cscc.workflow.pull import region_sums

    cfg = config_for(data.years)
    annual = load_annual_npp(data.collection, cfg)
    graph = build(annual, cfg)
    inside = graph.vca.eq(1)
    area = ee.Image.pixelArea()

    def masked(img: Any) -> Any:
        return ee.Image(img).multiply(inside).unmask(0, False)

    bands = ee.Image.cat(
        [
            masked(graph.capacity.select("cscc").multiply(area)).rename("cscc_g"),
            masked(area).rename("area_m2"),
            masked(ee.Image.constant(1)).rename("cells"),
        ]
    )
    names = ["cscc_g", "area_m2", "cells"]
    sums = region_sums(bands, names, _regions(data), annual.grid)
    cells = {int(rid): int(round(v)) for rid, v in sums["cells"].items()}
    expected = {rid: n for rid, n in data.vca_cells.items()}
    got = {rid: cells.get(rid, 0) for rid in expected}
    return {
        "cscc_total_tg": float(sums["cscc_g"].sum()) / 1e12,
        "vca_area_km2": float(sums["area_m2"].sum()) / 1e6,
        "vca_cells": int(sum(cells.values())),
        "vca_cells_match_numpy": got == expected,
    }


def _window_grid(data: SyntheticCollection, size: int) -> tuple[int, int, dict]:
    a, _, c, _, e, f = data.transform
    h = min(size, data.height)
    w = min(size, data.width)
    r0 = (data.height - h) // 2
    c0 = (data.width - w) // 2
    grid = {
        "dimensions": {"width": w, "height": h},
        "affineTransform": {
            "scaleX": a,
            "shearX": 0.0,
            "translateX": c + a * c0,
            "shearY": 0.0,
            "scaleY": e,
            "translateY": f + e * r0,
        },
        "crsCode": "EPSG:4326",
    }
    return r0, c0, grid


def bench_window(data: SyntheticCollection, *, size: int = 256) -> dict:
    """``computePixels`` of a ``size`` x ``size`` window of the maintenance-years image."""
    import ee

    from gee_cscc.method import build, load_annual_npp

    cfg = config_for(data.years)
    annual = load_annual_npp(data.collection, cfg)
    graph = build(annual, cfg)
    r0, c0, grid = _window_grid(data, size)
    h, w = grid["dimensions"]["height"], grid["dimensions"]["width"]
    with read_recorder() as reads:
        arr = ee.data.computePixels(
            {
                "expression": graph.maintenance_years.unmask(-9999),
                "fileFormat": "NUMPY_NDARRAY",
                "grid": grid,
            }
        )
    values = np.asarray(arr["maintenance_years"])
    inside = all(
        rr >= r0 and cc >= c0 and rr + hh <= r0 + h and cc + ww <= c0 + w
        for rr, cc, hh, ww in reads.windows
    )
    n_eval = len([y for y in data.years if y >= cfg.reference_year])
    return {
        "window": [h, w],
        "valid_cells": int((values != -9999).sum()),
        "in_range": bool(np.all((values == -9999) | (np.abs(values) <= n_eval))),
        "reads_inside_window": inside,
        **reads.summary(),
    }


def bench_analyze(data: SyntheticCollection) -> dict:
    """The whole :func:`gee_cscc.workflow.analyze.analyze` (region sums, pulls, counts, fits)."""
    from gee_cscc.workflow.analyze import analyze

    cfg = config_for(data.years)
    res = analyze(data.collection, cfg, regions=_regions(data))
    return {
        "timings": res.timings,
        "vca_cells": int(res.summary["vca_cells"]),
        "vca_cells_match_numpy": int(res.summary["vca_cells"]) == sum(data.vca_cells.values()),
    }


# --- the script -------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024.0
    return f"{n:.1f} GiB"


def _table(rows: list[Measure]) -> str:
    head = f"{'step':<28} {'time (s)':>9} {'CPU (s)':>8} {'start RSS':>11} {'peak RSS':>11}  notes"
    lines = [head, "-" * len(head)]
    for m in rows:
        notes = ", ".join(
            f"{k}={v}"
            for k, v in m.extra.items()
            if not isinstance(v, (dict, list)) or k == "largest_read"
        )
        lines.append(
            f"{m.name:<28} {m.seconds:>9.1f} {m.cpu_seconds:>8.1f} {m.start_rss_mib:>7.0f} MiB {m.peak_rss_mib:>7.0f} MiB"
            f"  {notes}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=5000, help="grid width in cells")
    parser.add_argument("--height", type=int, default=3500, help="grid height in cells")
    parser.add_argument("--years", type=int, default=38, help="number of annual images")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="asset-store folder, kept and reused (default: a temporary one)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="run the whole-analysis step at 200x140 (default 1000x700)",
    )
    parser.add_argument(
        "--analyze-size", type=_size, default=None, help="WIDTHxHEIGHT of the analyze step"
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["grouped_sums", "window", "analyze"]
    )
    parser.add_argument("--window", type=int, default=256, help="side of the computePixels window")
    parser.add_argument("--json", type=Path, default=None, help="where to write the numbers")
    args = parser.parse_args(argv)

    from gee_cscc.engine import LocalEngine

    tmp = None
    if args.store is None:
        tmp = tempfile.mkdtemp(prefix="gee-cscc-bench-")
        store_dir = Path(tmp)
    else:
        store_dir = args.store
        store_dir.mkdir(parents=True, exist_ok=True)
    a_w, a_h = args.analyze_size or ((200, 140) if args.quick else (1000, 700))
    rows: list[Measure] = []
    cube_bytes = args.width * args.height * args.years * 4

    def say(msg: str) -> None:
        print(msg, flush=True)

    say(
        f"gee_cscc local engine benchmark: {args.width}x{args.height} cells x {args.years} years "
        f"(float32 cube {_fmt_bytes(cube_bytes)}), store {store_dir}, {os.cpu_count()} cores"
    )
    try:
        with LocalEngine(store=store_dir) as engine:
            with memory_step("build") as m:
                data = build_collection(
                    engine.store,
                    width=args.width,
                    height=args.height,
                    years=args.years,
                    progress=say,
                )
            m.extra = {"disk": _fmt_bytes(data.disk_bytes), "disk_bytes": data.disk_bytes}
            rows.append(m)
            say(_table(rows[-1:]))
            if "grouped_sums" not in args.skip:
                with memory_step("grouped_sums (VCA+CSCC)") as m:
                    m.extra = bench_grouped_sums(data)
                rows.append(m)
                say(_table(rows[-1:]))
            if "window" not in args.skip:
                with memory_step(f"computePixels {args.window}x{args.window}") as m:
                    m.extra = bench_window(data, size=args.window)
                rows.append(m)
                say(_table(rows[-1:]))
            if "analyze" not in args.skip:
                with memory_step(f"build {a_w}x{a_h}x{args.years}") as m:
                    small = build_collection(engine.store, width=a_w, height=a_h, years=args.years)
                m.extra = {"disk": _fmt_bytes(small.disk_bytes), "disk_bytes": small.disk_bytes}
                rows.append(m)
                with memory_step(f"analyze {a_w}x{a_h}x{args.years}") as m:
                    m.extra = bench_analyze(small)
                rows.append(m)
                say(_table(rows[-1:]))
        say("")
        say(_table(rows))
        peak = max([m.peak_rss_mib for m in rows] + [_maxrss_mib()])
        say(f"process peak RSS over all steps: {peak:.0f} MiB")
        out = {
            "width": args.width,
            "height": args.height,
            "years": args.years,
            "cube_float32_bytes": cube_bytes,
            "cpu_count": os.cpu_count(),
            "process_peak_rss_mib": peak,
            "steps": [asdict(m) for m in rows],
        }
        target = args.json or (
            (store_dir if tmp is None else Path.cwd())
            / f"bench_{args.width}x{args.height}x{args.years}.json"
        )
        target.write_text(json.dumps(out, indent=1, default=str))
        say(f"wrote {target}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
