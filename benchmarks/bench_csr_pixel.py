"""What pixel-scale CSR (``--csr-pixel``, METHOD.md §7) adds to a run's compute time.

``gee-cscc run`` on the China-like inputs of :mod:`bench_run` (the demo generator at
``--res`` degrees, ``--extent input``), alternating a run without and a run with
``--csr-pixel RADIUS``, ``--repeat`` times each. Reported: the medians of the wall time and of
the compute steps of ``run.json``'s ``timings_s`` (everything but writing the outputs), the
process's CPU seconds when :func:`bench_run.timed` gives them (robust on a loaded machine), and
the ratio with / without (issue 13: at most 1.5 at 0.05°). The paper's tables of the two
runs must be identical (pixel CSR is off by default and changes no table), else it stops.

    python benchmarks/bench_csr_pixel.py --res 0.05 --radius 50km --repeat 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_run import gee_run_argv, machine, prepare, timed  # noqa: E402

WRITE_STEP = "write outputs"


def compute_seconds(steps: dict) -> float:
    """The run's compute time: its total less writing the files."""
    return float(steps.get("total", 0.0)) - float(steps.get(WRITE_STEP, 0.0))


def tables_equal(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in (a / "tables").glob("*.csv"))
    return all((a / "tables" / n).read_bytes() == (b / "tables" / n).read_bytes() for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, default=0.05)
    ap.add_argument("--radius", default="50km")
    ap.add_argument("--kernel", default="circle", choices=("circle", "square"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "gee-cscc-bench")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = ap.parse_args()
    files = prepare(args.res, args.data)
    work = args.data / "csr_runs"
    work.mkdir(parents=True, exist_ok=True)
    extra = ["--csr-pixel", args.radius, "--csr-kernel", args.kernel]
    runs: dict[str, dict[str, list]] = {
        k: {"wall": [], "compute": [], "cpu": [], "steps": []} for k in "ab"
    }
    for i in range(args.repeat):
        for kind in ("a", "b") if i % 2 == 0 else ("b", "a"):
            out, store = work / f"{kind}_{i}", work / f"store_{kind}_{i}"
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(store, ignore_errors=True)
            argv = gee_run_argv(files, out, store) + (extra if kind == "b" else [])
            measured = timed(argv)  # (wall, peak RSS[, CPU seconds])
            wall = measured[0]
            cpu = measured[2] if len(measured) > 2 else float("nan")
            steps = json.loads((out / "run.json").read_text()).get("timings_s", {})
            runs[kind]["wall"].append(wall)
            runs[kind]["compute"].append(compute_seconds(steps))
            runs[kind]["cpu"].append(cpu)
            runs[kind]["steps"].append(steps)
            shutil.rmtree(store, ignore_errors=True)
            label = "with --csr-pixel" if kind == "b" else "without       "
            print(f"  run {i + 1} {label}: {wall:6.1f} s wall, {cpu:6.1f} s CPU, "
                  f"{compute_seconds(steps):6.1f} s compute", flush=True)  # fmt: skip
        if not tables_equal(work / f"a_{i}", work / f"b_{i}"):
            raise SystemExit("the tables of the runs with and without --csr-pixel differ")
    kinds = ("wall", "cpu", "compute")
    med = {k: {m: statistics.median(v[m]) for m in kinds} for k, v in runs.items()}
    ratio_c = med["b"]["compute"] / med["a"]["compute"]
    ratio_w = med["b"]["wall"] / med["a"]["wall"]
    print()
    print(f"Machine: {machine()}")
    print(f"grid {args.res:g}°, --csr-pixel {args.radius} ({args.kernel}), {args.repeat} runs each")
    print("| | without | with --csr-pixel | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| compute (s) | {med['a']['compute']:.1f} | {med['b']['compute']:.1f} | {ratio_c:.2f} |"
    )
    print(f"| wall (s) | {med['a']['wall']:.1f} | {med['b']['wall']:.1f} | {ratio_w:.2f} |")
    ratio_u = med["b"]["cpu"] / med["a"]["cpu"]
    print(f"| CPU (s) | {med['a']['cpu']:.1f} | {med['b']['cpu']:.1f} | {ratio_u:.2f} |")
    print("tables identical: yes")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": runs, "median": med}))


if __name__ == "__main__":
    main()
