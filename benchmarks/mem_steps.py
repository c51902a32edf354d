"""Resident memory of one ``gee-cscc run`` per step, in this process.

Runs the CLI in-process (the local engine serves from threads of the same process, so
its memory is included), samples ``VmRSS`` every 0.1 s on a thread, and marks the steps
of ``workflow.analyze`` (its ``_step`` timer) and the writing of the outputs. Prints, per
step, its wall time, its process CPU time (user + system of every thread) and the RSS at
its start, its peak and its end (MiB), then the process's CPU time and ``VmHWM`` (peak RSS). "start" is everything before the first step: imports,
the engine, reading the inputs and loading them into the store.

    python benchmarks/mem_steps.py run --npp npp.nc --regions regions.tif \\
        --region-names names.csv --start 1981 --end 2018 --reference 2000 \\
        --extent input --out OUT --store STORE -q
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any


def rss_mib(field: str = "VmRSS") -> float:
    """A ``/proc/self/status`` field in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str]) -> None:
    import gee_cscc.workflow.analyze as analyze
    import gee_cscc.workflow.run as run
    from gee_cscc.cli.main import main as cli_main

    samples: list[tuple[float, float]] = []
    marks: list[tuple[float, str, float]] = [(time.perf_counter(), "start", time.process_time())]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter(), rss_mib()))
            time.sleep(0.1)

    timer = analyze._step

    @contextlib.contextmanager
    def step(progress: Any, timings: dict, name: str, *args: Any, **kwargs: Any) -> Iterator[None]:
        marks.append((time.perf_counter(), name, time.process_time()))
        with timer(progress, timings, name, *args, **kwargs):
            yield
        marks.append((time.perf_counter(), f"after {name}", time.process_time()))

    write = run.write_results

    def written(*args: Any, **kwargs: Any) -> Any:
        marks.append((time.perf_counter(), "write outputs", time.process_time()))
        out = write(*args, **kwargs)
        marks.append((time.perf_counter(), "after write outputs", time.process_time()))
        return out

    analyze._step = step
    run.write_results = written
    threading.Thread(target=sample, daemon=True).start()
    sys.argv = ["gee-cscc", *argv]
    try:
        cli_main()
    except SystemExit:
        pass
    time.sleep(0.3)
    done.set()
    marks.append((time.perf_counter(), "end", time.process_time()))
    for (t0, name, c0), (t1, _, c1) in zip(marks, marks[1:], strict=False):
        seg = [r for t, r in samples if t0 <= t < t1]
        if seg:
            print(
                f"{name:48s} {t1 - t0:7.1f} s  CPU {c1 - c0:6.1f} s  start {seg[0]:6.0f}  "
                f"peak {max(seg):6.0f}  end {seg[-1]:6.0f} MiB"
            )
    cpu = time.process_time()
    print(f"process CPU {cpu:.1f} s (imports before the first step included)")
    print(f"peak RSS (VmHWM) {rss_mib('VmHWM'):.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
