"""OUT is the complete old or the complete new result: faults at every move, dead runs, bad OUT.

The result is written into ``.<OUT>-staging-p<pid>-<hex>`` beside OUT and swapped in with
renames (old OUT to ``.<OUT>-aside-p<pid>-<hex>``, staging to OUT). Here a fault is injected
at every ``os.rename``/``os.replace``/``shutil.move`` of writing the outputs, one run per
call number, and OUT must be byte-identical to before, with nothing left beside it after
the next run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_procs import beside, tree_hash, write_case
from helpers import YEAR_ARGS, stub_report

from gee_cscc.cli.main import main
from gee_cscc.config import Config
from gee_cscc.errors import OutputError
from gee_cscc.report.out_folder import check_out, clean_stale_out, staged_out
from gee_cscc.report.outputs import write_outputs
from gee_cscc.workflow.inputs import RunInputs
from gee_cscc.workflow.run import run


class Fault(OSError):
    """The injected failure."""


@pytest.fixture(scope="module")
def results(engine, tmp_path_factory):
    """The results of one run on case ``a`` (figures and report stubbed)."""
    root = tmp_path_factory.mktemp("atomic")
    npp, regions = write_case(root / "in", "a")
    cfg = Config(start=2001, end=2006, reference_year=2003)
    mp = pytest.MonkeyPatch()
    mp.setattr("gee_cscc.report.write_report", stub_report([]))
    try:
        res = run(cfg, RunInputs(npp=str(npp), regions=str(regions)), root / "first", engine=engine)
    finally:
        mp.undo()
    return res


def _old_out(out: Path) -> None:
    """An earlier run's OUT: run.json, a table, a stale file the new run does not write."""
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text('{"earlier": true}\n')
    (out / "tables" / "capacity_by_region.csv").write_text("earlier run\n")
    (out / "tables" / "stale_from_old_version.csv").write_text("old\n")


def _write(results, out: Path) -> None:
    write_outputs(results, out, run_info={"inputs": {}, "created": "now"})


def _count_moves(monkeypatch, fail_at: int | None) -> list[str]:
    """Patch every file move; the ``fail_at``-th (1-based) raises :class:`Fault`."""
    calls: list[str] = []

    def wrap(name: str, real):
        def moved(*args, **kwargs):
            calls.append(name)
            if fail_at is not None and len(calls) == fail_at:
                raise Fault(f"injected fault at move {fail_at} ({name})")
            return real(*args, **kwargs)

        return moved

    monkeypatch.setattr(os, "rename", wrap("os.rename", os.rename))
    monkeypatch.setattr(os, "replace", wrap("os.replace", os.replace))
    monkeypatch.setattr(shutil, "move", wrap("shutil.move", shutil.move))
    return calls


@pytest.mark.parametrize("report", ["stub", pytest.param("real", marks=pytest.mark.slow)])
def test_a_fault_at_every_move_leaves_out_byte_identical(results, tmp_path, monkeypatch, report):
    if report == "stub":
        monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    out = tmp_path / "out"
    _old_out(out)
    # A clean write counts the moves (the swap's two renames at least).
    probe = tmp_path / "probe"
    _old_out(probe)
    with monkeypatch.context() as mp:
        moves = _count_moves(mp, None)
        _write(results, probe)
    assert moves.count("os.rename") >= 2, moves
    before = tree_hash(out)
    for k in range(1, len(moves) + 1):
        with monkeypatch.context() as mp:
            _count_moves(mp, k)
            with pytest.raises(Fault, match=f"move {k} "):
                _write(results, out)
        assert tree_hash(out) == before, f"fault at move {k}"
        assert beside(out) == [], f"fault at move {k}"
    # Then a run without faults replaces OUT whole: the stale file is gone.
    _write(results, out)
    assert sorted(tree_hash(out)) == sorted(tree_hash(probe))
    if report == "stub":  # (figures hold no time stamps with the stub)
        assert tree_hash(out) == tree_hash(probe)
    assert not (out / "tables" / "stale_from_old_version.csv").exists()
    assert beside(out) == []


def test_a_fault_after_the_old_out_moved_aside_puts_it_back(results, tmp_path, monkeypatch):
    """The second rename of the swap fails: the old OUT is renamed back."""
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    out = tmp_path / "out"
    _old_out(out)
    before = tree_hash(out)
    real = os.rename

    def rename(src, dst, *a, **k):
        if "-staging-" in str(src) and Path(dst) == out:
            raise Fault("disk gone")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(Fault):
        _write(results, out)
    assert tree_hash(out) == before
    assert beside(out) == []


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_folders_of_killed_runs_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    _old_out(out)
    before = tree_hash(out)
    pid = _dead_pid()
    for kind in ("staging", "aside"):
        d = tmp_path / f".out-{kind}-p{pid}-0123456789ab"
        d.mkdir()
        (d / "half.csv").write_text("half")
    alive = tmp_path / ".other-staging-p1-0123456789ab"  # pid 1 is alive: left alone
    alive.mkdir()
    (tmp_path / f".other-staging-p{pid}-0123456789ab").mkdir()  # another OUT's, dead: removed
    with staged_out(out) as staging:
        (staging / "run.json").write_text("{}")
        assert beside(out) == [".other-staging-p1-0123456789ab", staging.name]
    assert tree_hash(out) == {"run.json": hashlib.sha256(b"{}").hexdigest()}
    assert beside(out) == [".other-staging-p1-0123456789ab"]
    assert before != tree_hash(out)


def test_a_run_killed_between_the_two_renames_gets_the_old_out_back(tmp_path):
    out = tmp_path / "out"
    _old_out(out)
    before = tree_hash(out)
    pid = _dead_pid()
    out.rename(tmp_path / f".out-aside-p{pid}-0123456789ab")  # where the kill left it
    (tmp_path / f".out-staging-p{pid}-0123456789ab").mkdir()
    clean_stale_out(out)
    assert tree_hash(out) == before
    assert beside(out) == []


def test_the_export_task_manifest_is_carried_into_the_new_out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "export_tasks.json").write_text('{"tasks": {}}')
    (out / "old.txt").write_text("old")
    with staged_out(out) as staging:
        (staging / "run.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["export_tasks.json", "run.json"]
    assert (out / "export_tasks.json").read_text() == '{"tasks": {}}'


# --- OUT is checked before anything is computed ------------------------------------------------


def test_check_out_refuses_what_a_run_must_not_replace(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (tmp_path / "file").write_text("x")
    others = tmp_path / "others"
    others.mkdir()
    (others / "thesis.tex").write_text("mine")
    npp = tmp_path / "data" / "npp.nc"
    npp.parent.mkdir()
    npp.write_text("x")
    cases = {
        tmp_path / "file": r"is a file, not a folder",
        tmp_path / "file" / "sub": r"cannot be created: .* is a file",
        others: r"is a folder of other files \(no run.json\)",
        store: r"and the asset store .* overlap",
        store / "out": r"and the asset store .* overlap",
        tmp_path: r"and the asset store .* overlap",  # OUT would hold the store
        npp.parent: r"The input .*npp.nc is inside OUT",
        Path("/"): r"is the filesystem root",
    }
    for out, message in cases.items():
        with pytest.raises(OutputError, match=message):
            check_out(out, store=store, inputs=[npp])
    assert (others / "thesis.tex").read_text() == "mine"


def test_check_out_accepts_new_empty_and_result_folders_and_follows_a_link(tmp_path):
    assert check_out(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    (tmp_path / "empty").mkdir()
    assert check_out(tmp_path / "empty") == tmp_path / "empty"
    _old_out(tmp_path / "result")
    assert check_out(tmp_path / "result") == tmp_path / "result"
    (tmp_path / "link").symlink_to(tmp_path / "result")
    assert check_out(tmp_path / "link") == tmp_path / "result"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_out_refuses_a_folder_it_cannot_write(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="no write permission"):
            check_out(locked / "out")
    finally:
        locked.chmod(0o700)


def test_an_unusable_out_fails_before_the_engine_starts(tmp_path, capsys):
    npp, _ = write_case(tmp_path / "in", "a")
    (tmp_path / "out").write_text("a file")
    argv = ["run", "--npp", str(npp), *YEAR_ARGS, "--store", str(tmp_path / "store")]
    assert main([*argv, "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"gee-cscc run: error: OUT {tmp_path / 'out'} is a file, not a folder: "
        "give a folder with --out.\n"
    )
    assert not (tmp_path / "store").exists()  # nothing was started, nothing computed


def test_an_empty_store_option_is_one_line(tmp_path, capsys):
    npp, _ = write_case(tmp_path / "in", "a")
    argv = ["run", "--npp", str(npp), *YEAR_ARGS, "--store", "", "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "gee-cscc run: error: --store (or store in [inputs]) is empty: give the asset store "
        "folder, or leave it out for the default store (~/.cache/gee-cscc/store or "
        "$GEE_CSCC_STORE).\n"
    )
    assert not (tmp_path / "o").exists()


SWAPPER = """
import sys
from gee_cscc.report.out_folder import staged_out
out, tag = sys.argv[1], sys.argv[2]
for i in range(int(sys.argv[3])):
    with staged_out(out) as staging:
        (staging / "tables").mkdir()
        for name in ("a.csv", "b.csv", "c.csv"):
            (staging / "tables" / name).write_text(f"{tag} {i}\\n")
        (staging / "run.json").write_text(f'{{"tag": "{tag}", "i": {i}}}')
"""


def test_two_processes_writing_one_out_leave_one_complete_result(tmp_path):
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SWAPPER, str(out), tag, "25"], stderr=subprocess.PIPE, text=True
        )
        for tag in ("x", "y")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    run_json = (out / "run.json").read_text()
    tag, i = run_json.split('"tag": "')[1][0], run_json.split('"i": ')[1].rstrip("}")
    assert i == "24"  # each writer's last result is whole; the later one is OUT
    for name in ("a.csv", "b.csv", "c.csv"):
        assert (out / "tables" / name).read_text() == f"{tag} 24\n"
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "tables"]
    assert beside(out) == []


def test_an_empty_store_in_the_run_file_is_the_same_error(tmp_path, capsys):
    npp, _ = write_case(tmp_path / "in", "a")
    run_file = tmp_path / "run.toml"
    run_file.write_text(f'[inputs]\nnpp = "{npp}"\nstore = ""\nout = "o"\n')
    assert main(["run", "--config", str(run_file), *YEAR_ARGS]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gee-cscc run: error: --store (or store in [inputs]) is empty")
    assert not (tmp_path / "o").exists() and not (tmp_path / "assets").exists()


def test_an_empty_out_option_is_one_line(tmp_path, capsys, monkeypatch):
    npp, _ = write_case(tmp_path / "in", "a")
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--npp", str(npp), *YEAR_ARGS, "--store", str(tmp_path / "s"), "--out", ""]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "gee-cscc run: error: --out is empty: give the output folder (or leave --out out).\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_failed_results_nc_fails_the_write_and_leaves_out(results, tmp_path, monkeypatch):
    """results.nc is written in a thread beside the GeoTIFFs: its error is the write's."""
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    out = tmp_path / "out"
    _old_out(out)
    before = tree_hash(out)

    def broken(*args, **kwargs):
        raise Fault("results.nc could not be written")

    monkeypatch.setattr("gee_cscc.report.outputs.write_netcdf", broken)
    with pytest.raises(Fault, match="results.nc could not be written"):
        _write(results, out)
    assert tree_hash(out) == before
    assert beside(out) == []


def test_a_failed_geotiff_waits_for_results_nc_before_the_staging_goes(
    results, tmp_path, monkeypatch
):
    """The GeoTIFF error propagates only once the results.nc thread has stopped: nothing is
    left writing into the staging folder that the failure removes."""
    import threading
    import time

    from gee_cscc.report import outputs

    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    finished: list[bool] = []
    started = threading.Event()
    real = outputs.write_netcdf

    def slow_netcdf(*args, **kwargs):
        started.set()
        time.sleep(0.5)
        path = real(*args, **kwargs)
        finished.append(True)
        return path

    def broken(*args, **kwargs):
        assert started.wait(10)  # fails while results.nc is being written
        raise Fault("GeoTIFF could not be written")

    monkeypatch.setattr(outputs, "write_netcdf", slow_netcdf)
    monkeypatch.setattr(outputs, "write_geotiffs", broken)
    out = tmp_path / "out"
    _old_out(out)
    before = tree_hash(out)
    with pytest.raises(Fault, match="GeoTIFF could not be written"):
        _write(results, out)
    assert finished == [True]  # waited for (it had started before the GeoTIFF failed)
    assert not [t for t in threading.enumerate() if t.name.startswith("results.nc")]
    assert tree_hash(out) == before
    assert beside(out) == []


def test_an_ensembles_product_manifests_are_carried_for_the_products_it_has(tmp_path):
    """Each product of an ensemble keeps its task manifest in OUT/products/<name> while it
    runs; the swap keeps those of the products the new OUT has, and no other."""
    out = tmp_path / "out"
    for name in ("a", "gone"):
        (out / "products" / name).mkdir(parents=True)
        (out / "products" / name / "export_tasks.json").write_text(f'{{"tasks": "{name}"}}')
    with staged_out(out) as staging:
        (staging / "products" / "a").mkdir(parents=True)
        (staging / "products" / "a" / "run.json").write_text("{}")
        (staging / "run.json").write_text("{}")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "products/a/export_tasks.json",
        "products/a/run.json",
        "run.json",
    ]
    assert (out / "products" / "a" / "export_tasks.json").read_text() == '{"tasks": "a"}'


def test_check_out_takes_an_out_holding_only_a_stopped_ensembles_manifests(tmp_path):
    out = tmp_path / "out"
    (out / "products" / "a").mkdir(parents=True)
    (out / "products" / "a" / "export_tasks.json").write_text('{"tasks": {}}')
    assert check_out(out) == out
    (out / "products" / "a" / "export_tasks.json").unlink()  # a folder of other things
    with pytest.raises(OutputError, match="is a folder of other files"):
        check_out(out)


def test_a_write_failing_on_a_full_disk_says_so_and_leaves_out_as_it_was(tmp_path, monkeypatch):
    """GDAL reports a full disk as "Write failed" or a directory it cannot read; the run says
    the disk is full (checked on a 3 MB tmpfs by hand: the same line)."""
    import collections

    from gee_cscc.report import out_folder

    out = tmp_path / "out"
    _old_out(out)
    before = tree_hash(out)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(out_folder.shutil, "disk_usage", lambda p: usage(10, 10, 2048))
    with pytest.raises(OutputError) as caught, staged_out(out) as staging:
        (staging / "run.json").write_text("{}")
        raise RuntimeError("Write failed. See previous exception for details.")
    assert str(caught.value) == (
        f"Cannot write the results into {out}: its disk is full (2 KiB free in {tmp_path}). "
        "OUT is as it was; free some space or give another --out. (RuntimeError: Write "
        "failed. See previous exception for details.)"
    )
    assert tree_hash(out) == before
    assert beside(out) == []
    # With room on the disk, the error is the writer's own.
    monkeypatch.setattr(out_folder.shutil, "disk_usage", lambda p: usage(10, 0, 10 << 30))
    with pytest.raises(RuntimeError, match="Write failed"), staged_out(out):
        raise RuntimeError("Write failed.")
    assert tree_hash(out) == before
