"""Several NPP products (``--npp NAME=SOURCE`` repeated) as a hostile user runs them: a product
that fails, a signal during the second product, two ensembles into one OUT at once.

Every failure leaves OUT as it was (the earlier result, byte for byte) and nothing beside it
(no staging or aside folder), and says in one line which product failed.

Finding fixed here: a product holding fewer years than the first, with the years taken from
the inputs (no --start/--end), ran on its own years, and the ensemble compared CSCC over
different periods with exit code 0. Every product now runs on the first product's years; a
product without them fails naming the product and the year it lacks.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_procs import beside, tree_hash
from helpers import REFERENCE, cube_dataarray, regions_geojson, stub_report

from gee_cscc.cli.main import main


@pytest.fixture
def case(tmp_path):
    """npp.nc (2001–2006), few.nc (2001–2005), the regions and an earlier result in OUT."""
    da = cube_dataarray()
    da.to_dataset().to_netcdf(tmp_path / "npp.nc")
    da.isel(year=slice(0, 5)).to_dataset().to_netcdf(tmp_path / "few.nc")
    (tmp_path / "regions.geojson").write_text(json.dumps(regions_geojson()))
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text('{"earlier": true}\n')
    (out / "tables" / "ensemble.csv").write_text("earlier run\n")
    return tmp_path


def _ensemble(tmp: Path, monkeypatch, *npp: str, more: tuple = ()) -> tuple[int, list[str]]:
    import contextlib
    import io

    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    argv = ["run", *(a for n in npp for a in ("--npp", n)), "--regions"]
    argv += [str(tmp / "regions.geojson"), "--reference", str(REFERENCE), *more]
    argv += ["--store", str(tmp / "store"), "--out", str(tmp / "out"), "--quiet"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


def test_product_with_fewer_years_fails_naming_it_and_out_is_untouched(case, monkeypatch):
    before = tree_hash(case / "out")
    code, err = _ensemble(case, monkeypatch, f"a={case / 'npp.nc'}", f"b={case / 'few.nc'}")
    assert code == 1 and len(err) == 1, err
    assert err[0] == (
        "gee-cscc run: error: product 'b' (2 of 2): Year 2006 is missing from NPP file "
        f"{case / 'few.nc'} (the run asks for every year 2001–2006; missing: [2006]); it has the years "
        "2001–2005: set start/end (--start/--end) within them."
    )
    assert tree_hash(case / "out") == before
    assert beside(case / "out") == []


def test_product_failing_mid_way_leaves_out_untouched(case, monkeypatch):
    """The second product fails inside the method (its years do not make a run): the first
    product's complete folder is not left anywhere."""
    before = tree_hash(case / "out")
    few = case / "few.nc"
    code, err = _ensemble(
        case, monkeypatch, f"a={case / 'npp.nc'}", f"b={few}", more=("--end", "2006")
    )
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("gee-cscc run: error: product 'b' (2 of 2): Year 2006 is missing")
    assert tree_hash(case / "out") == before
    assert beside(case / "out") == []
    assert sorted(p.name for p in case.iterdir()) == [
        "few.nc",
        "npp.nc",
        "out",
        "regions.geojson",
        "store",
    ]


def test_years_given_for_both_products_run_and_both_use_them(case, monkeypatch):
    code, err = _ensemble(
        case,
        monkeypatch,
        f"a={case / 'npp.nc'}",
        f"b={case / 'few.nc'}",
        more=("--start", "2001", "--end", "2005"),
    )
    assert code == 0, err
    info = json.loads((case / "out" / "run.json").read_text())
    years = {n: p["years"] for n, p in info["summary"]["per_product"].items()}
    assert years == {"a": [2001, 2005], "b": [2001, 2005]}
    assert beside(case / "out") == []


#: The child: the figures and report stubbed; given a flag file, product b's report signals
#: that it is being written (the file) and then takes a minute, so a SIGTERM sent then hits the second product.
CHILD = """
import sys, time
from pathlib import Path
import gee_cscc.report

FLAG = Path(sys.argv[1]) if sys.argv[1] else None

def write_report(results, out_dir, **kwargs):
    page = Path(out_dir) / "report.html"
    page.write_text("<!doctype html><title>stub report</title>")
    if FLAG and Path(out_dir).name.lstrip(".").split("-staging-")[0] == "b":  # products/b
        FLAG.write_text("writing b")
        time.sleep(60)
    return {"html": page, "figures": {}}

gee_cscc.report.write_report = write_report
del sys.argv[1]
from gee_cscc.cli import main
sys.exit(main())
"""


def _start(case: Path, flag: Path | None, out: Path) -> subprocess.Popen:
    argv = ["run", "--npp", f"a={case / 'npp.nc'}", "--npp", f"b={case / 'npp.nc'}"]
    argv += ["--regions", str(case / "regions.geojson"), "--reference", str(REFERENCE)]
    argv += ["--store", str(case / "store"), "--out", str(out), "--quiet"]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(flag or ""), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigterm_during_the_second_product(case):
    before = tree_hash(case / "out")
    flag = case / "flag"
    proc = _start(case, flag, case / "out")
    end = time.monotonic() + 180
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < end, "product b's report never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["gee-cscc run: stopped by SIGTERM"]
    assert tree_hash(case / "out") == before
    assert beside(case / "out") == []


@pytest.mark.slow
def test_two_ensembles_into_one_out_at_once(case):
    """Both finish; OUT is one complete ensemble (run.json, the table, both product folders),
    nothing is left beside it."""
    procs = [_start(case, None, case / "out") for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    info = json.loads((case / "out" / "run.json").read_text())
    assert info["kind"] == "ensemble"
    assert [p["name"] for p in info["products"]] == ["a", "b"]
    table = (case / "out" / "tables" / "ensemble.csv").read_text().splitlines()
    assert table[0].startswith("region,") and len(table) == 4  # header, ALL, A, B
    for name in ("a", "b"):
        assert (case / "out" / "products" / name / "tables" / "capacity_by_region.csv").is_file()
    assert beside(case / "out") == []


def _task_ids(manifest: Path) -> dict[str, tuple[str, str]]:
    tasks = json.loads(manifest.read_text())["tasks"]
    return {key: (t["id"], t["state"]) for key, t in tasks.items()}


def test_a_failed_batch_ensemble_keeps_the_tasks_of_the_products_it_ran(case, monkeypatch):
    """Batch mode: product b fails after product a's exports finished. OUT keeps the earlier
    result and gains a's task manifest (as a single batch run keeps OUT/export_tasks.json);
    the rerun, with b fixed, starts none of a's tasks again and keeps both manifests."""
    before = tree_hash(case / "out")
    b = case / "b.nc"
    b.write_bytes((case / "few.nc").read_bytes())  # lacks 2006: b fails, a has finished
    batch = ("--mode", "batch")
    code, err = _ensemble(case, monkeypatch, f"a={case / 'npp.nc'}", f"b={b}", more=batch)
    assert code == 1 and err[-1].startswith("gee-cscc run: error: product 'b' (2 of 2)"), err
    manifest = case / "out" / "products" / "a" / "export_tasks.json"
    first = _task_ids(manifest)
    assert first and {state for _, state in first.values()} == {"COMPLETED"}
    after = tree_hash(case / "out")
    assert after.pop("products/a/export_tasks.json")
    assert [after.pop("products"), after.pop("products/a")] == ["dir", "dir"]
    assert after == before  # the earlier result is whole, beside a's manifest
    assert beside(case / "out") == []

    b.write_bytes((case / "npp.nc").read_bytes())  # b fixed
    code, err = _ensemble(case, monkeypatch, f"a={case / 'npp.nc'}", f"b={b}", more=batch)
    assert code == 0, err
    assert _task_ids(manifest) == first  # a's exports were not started again
    assert _task_ids(case / "out" / "products" / "b" / "export_tasks.json")
    info = json.loads((case / "out" / "run.json").read_text())
    assert info["kind"] == "ensemble"
    assert beside(case / "out") == []
