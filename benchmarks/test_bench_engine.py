"""pytest-benchmark cases of the local engine (marked ``slow``: the default run skips them).

Run on demand, on their own (they start their own engine)::

    pytest benchmarks/test_bench_engine.py -m slow -p no:cacheprovider
    GEE_CSCC_BENCH_SIZE=5000x3500x38 GEE_CSCC_BENCH_STORE=/data/bench-store \\
        pytest benchmarks/test_bench_engine.py -m slow -k grouped

``GEE_CSCC_BENCH_SIZE`` (``WIDTHxHEIGHTxYEARS``, default ``1000x700x38``) sizes the
grouped-sum and window cases; ``GEE_CSCC_BENCH_STORE`` keeps the generated store between
runs (default: a temporary folder). Each case records the process's peak resident memory
in ``extra_info`` and checks it against a budget, and checks its result against NumPy
counts made while generating the data. ``benchmarks/bench_engine.py`` is the script form
with a table and JSON.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import bench_engine as bench
import pytest

pytestmark = pytest.mark.slow

#: Peak resident memory allowed for the whole process during one case (MiB).
PEAK_BUDGET_MIB = 1536


def _size() -> tuple[int, int, int]:
    text = os.environ.get("GEE_CSCC_BENCH_SIZE", "1000x700x38")
    m = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text.strip())
    if not m:
        raise ValueError(f"GEE_CSCC_BENCH_SIZE must be WIDTHxHEIGHTxYEARS, got {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from gee_cscc.engine import LocalEngine

    root = os.environ.get("GEE_CSCC_BENCH_STORE")
    store = Path(root) if root else tmp_path_factory.mktemp("bench-store")
    with LocalEngine(store=store) as eng:
        yield eng


@pytest.fixture(scope="module")
def data(engine) -> bench.SyntheticCollection:
    width, height, years = _size()
    return bench.build_collection(engine.store, width=width, height=height, years=years)


def _measured(benchmark, name: str, fn):
    holder: dict = {}

    def run() -> None:
        with bench.memory_step(name) as m:
            holder["result"] = fn()
        holder["measure"] = m

    benchmark.pedantic(run, rounds=1, iterations=1)
    m = holder["measure"]
    benchmark.extra_info.update(
        peak_rss_mib=round(m.peak_rss_mib, 1),
        cpu_seconds=round(m.cpu_seconds, 2),
        peak_is_step_local=m.peak_is_step_local,
    )
    return holder["result"], m


def test_grouped_sums(benchmark, data):
    """VCA + CSCC totals per region: one grouped reduceRegion over the whole grid."""
    result, m = _measured(benchmark, "grouped_sums", lambda: bench.bench_grouped_sums(data))
    benchmark.extra_info.update(result)
    assert result["vca_cells_match_numpy"]
    assert m.peak_rss_mib < PEAK_BUDGET_MIB


def test_window_of_maintenance_years(benchmark, data):
    """computePixels of a 256 x 256 window of the whole maintenance chain."""
    result, m = _measured(benchmark, "window", lambda: bench.bench_window(data, size=256))
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "largest_read"})
    assert result["reads_inside_window"] and result["in_range"]
    assert result["largest_read"] is not None
    assert result["largest_read"][0] <= 256 and result["largest_read"][1] <= 256
    assert m.peak_rss_mib < PEAK_BUDGET_MIB


def test_analyze_small(benchmark, engine):
    """The whole analysis (region sums, xee pulls, counts, fits) on a 200 x 140 grid."""
    _, _, years = _size()
    small = bench.build_collection(engine.store, width=200, height=140, years=years)
    result, m = _measured(benchmark, "analyze", lambda: bench.bench_analyze(small))
    benchmark.extra_info.update(result["timings"])
    assert result["vca_cells_match_numpy"]
    assert m.peak_rss_mib < PEAK_BUDGET_MIB
