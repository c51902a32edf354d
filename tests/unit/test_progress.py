"""Progress on stderr (issue 12): step lines always, bars with counts and ETA only on a
terminal, nothing under ``--quiet``.

A "terminal" here is a ``StringIO`` that says it is one; the bars are read back from what
tqdm wrote to it. Counts are checked against counts made in the test (requests seen by a
wrapper of ``ee.data.computePixels``, files on disk, task states by hand).
"""

from __future__ import annotations

import io
import re
import sys

import ee
import numpy as np
import pytest
from helpers import YEAR_ARGS, stub_report, write_small_inputs

from gee_cscc.cli.main import main
from gee_cscc.cli.progress import Progress
from gee_cscc.cloud.tasks import StderrProgress, status_line, tasks_done, wait_for_tasks
from gee_cscc.method.grid import GridSpec
from gee_cscc.report.outputs import TABLE_FILES
from gee_cscc.testing import npp_cube
from gee_cscc.workflow.pull import open_layers

STEP_LINE = re.compile(r"^\[ *\d+\.\ds\] \S.*$")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def last_states(text: str) -> list[str]:
    """What a terminal shows at the end: the last rewrite of every line."""
    shown = []
    for line in text.split("\n"):
        parts = [p for p in line.split("\r") if p.strip()]
        if parts:
            shown.append(parts[-1].rstrip())
    return shown


# ------------------------------------------------------------------ Progress (the CLI's)


def test_off_a_terminal_only_step_lines_and_no_counter():
    stream = io.StringIO()
    progress = Progress(stream=stream)
    assert progress.counter("tiles pulled", unit="tiles") is None
    progress("pull rasters (xee)")
    progress("tables and fits")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(STEP_LINE.match(line) for line in lines), lines
    assert lines[0].endswith("] pull rasters (xee)") and "\r" not in stream.getvalue()


def test_on_a_terminal_a_bar_with_counts_then_the_next_step_on_its_own_line():
    stream = FakeTerminal()
    progress = Progress(stream=stream)
    progress("pull rasters (xee)")
    tick = progress.counter("tiles pulled", unit="tiles")
    assert tick is not None
    for done in range(0, 13, 3):
        tick(done, 12)
    progress("maintenance counts")
    shown = last_states(stream.getvalue())
    assert STEP_LINE.match(shown[0]) and STEP_LINE.match(shown[-1])
    bar = shown[1]
    assert bar.startswith("tiles pulled: 12/12 tiles |"), bar
    assert re.search(r"\|[█#]{10,}\|", bar), bar  # a full bar (# where not UTF-8)
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d\]", bar), bar  # elapsed < ETA
    # each tick rewrote the line in place: 0, 3, 6, 9, 12 of 12 were drawn
    drawn = re.findall(r"tiles pulled: (\d+)/12", stream.getvalue())
    assert {"0", "3", "6", "9", "12"} <= set(drawn)


def test_a_note_is_shown_beside_the_bar_and_a_new_counter_closes_the_old_bar():
    stream = FakeTerminal()
    progress = Progress(stream=stream)
    first = progress.counter("batch tasks", unit="tasks")
    first(1.5, 4, "1/4 done, 1 running (50%), 2 waiting")
    second = progress.counter("files written", unit="files")
    second(2, 2)
    shown = last_states(stream.getvalue())
    assert shown[0].startswith("batch tasks: 1.5/4 tasks") and "2 waiting" in shown[0]
    assert shown[1].startswith("files written: 2/2 files")


def test_quiet_prints_nothing_even_on_a_terminal():
    stream = FakeTerminal()
    progress = Progress(quiet=True, stream=stream)
    assert progress.counter("tiles pulled") is None
    progress("pull rasters (xee)")
    progress.close()
    assert stream.getvalue() == ""


# ------------------------------------------------------------------ export tasks


def _status(state: str, progress: float | None = None) -> dict:
    return {"id": "t", "description": "d", "state": state, "progress": progress}


def test_tasks_done_counts_running_tasks_by_their_progress():
    statuses = [
        _status("COMPLETED"), _status("FAILED"), _status("RUNNING", 0.4),
        _status("RUNNING", 0.3), _status("READY"),
    ]  # fmt: skip
    assert tasks_done(statuses) == pytest.approx(2 + 0.4 + 0.3)
    assert tasks_done([_status("RUNNING", None)]) == 0


def test_task_display_off_a_terminal_is_one_line_per_change():
    stream = io.StringIO()
    show = StderrProgress(stream)
    polls = [
        [_status("READY"), _status("READY")],
        [_status("READY"), _status("READY")],  # unchanged: no line
        [_status("RUNNING", 0.5), _status("READY")],
        [_status("COMPLETED"), _status("COMPLETED")],
    ]
    for statuses in polls:
        show(statuses)
    assert stream.getvalue().splitlines() == [
        "exports: 0/2 done, 2 waiting",
        "exports: 0/2 done, 1 running (50%), 1 waiting",
        "exports: 2/2 done",
    ]
    assert status_line(polls[2]) == "exports: 0/2 done, 1 running (50%), 1 waiting"


class FakeTask:
    """A task whose status() walks through the given states, one per poll."""

    def __init__(self, states):
        self.states = list(states)
        self.id = f"task{id(self)}"

    def status(self):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"id": self.id, "description": "d", "state": state}


def test_waiting_on_a_terminal_draws_a_bar_of_tasks_with_elapsed_time():
    stream = FakeTerminal()
    tasks = [FakeTask(["READY", "RUNNING", "COMPLETED"]), FakeTask(["RUNNING", "COMPLETED"])]
    final = wait_for_tasks(tasks, poll_seconds=0, progress=StderrProgress(stream))
    assert [s["state"] for s in final] == ["COMPLETED", "COMPLETED"]
    shown = last_states(stream.getvalue())
    assert len(shown) == 1, shown
    assert shown[0].startswith("exports: 100% |") and "2/2 done" in shown[0], shown
    assert re.search(r"\[\d\d:\d\d<", shown[0])
    assert "1 running" in stream.getvalue()  # an intermediate state was drawn


# ------------------------------------------------------------------ tiles pulled (xee)


def test_the_tile_hook_counts_every_computepixels_request(engine, tmp_asset, monkeypatch):
    cube = npp_cube(range(2001, 2004), shape=(40, 50), pixel_size=0.1)
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube, band="npp")
    col = ee.ImageCollection(asset)
    layers = {"max": col.max(), "min": col.min(), "mean": col.mean()}
    grid = GridSpec.from_dataarray(cube)
    requests = []
    real = ee.data.computePixels

    def counting(params, *args, **kwargs):
        requests.append(1)
        return real(params, *args, **kwargs)

    monkeypatch.setattr(ee.data, "computePixels", counting)
    ticks: list[tuple[int, int]] = []
    pulled = open_layers(
        layers, grid, request_bytes=4096, on_tile=lambda d, t: ticks.append((d, t))
    )
    assert len(requests) > 4  # small requests: many tiles
    totals = {t for _, t in ticks}
    assert totals == {len(requests)}  # the announced total is the requests made
    assert ticks[0] == (0, len(requests)) and ticks[-1] == (len(requests), len(requests))
    assert [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    requests.clear()
    plain = open_layers(layers, grid, request_bytes=4096)  # the hook changes nothing pulled
    for name in layers:
        np.testing.assert_array_equal(pulled[name].values, plain[name].values)
    np.testing.assert_allclose(pulled["max"].values, cube.max("year").values, rtol=1e-6)


# ------------------------------------------------------------------ the CLI end to end


@pytest.fixture
def small_run(tmp_path, monkeypatch):
    """``gee-cscc run`` on the tests' 6-year 5×6 cube, report stubbed; returns argv."""
    npp, regions = write_small_inputs(tmp_path)
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    return ["run", "--npp", str(npp), "--regions", str(regions), *YEAR_ARGS,
            "--store", str(tmp_path / "store"), "--out", str(tmp_path / "out")]  # fmt: skip


def _run(argv, stream, monkeypatch) -> int:
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        return main(argv)
    finally:
        monkeypatch.undo()


def test_cli_off_a_terminal_prints_step_lines_only(small_run, monkeypatch):
    stream = io.StringIO()
    assert _run(small_run, stream, monkeypatch) == 0
    text = stream.getvalue()
    assert "\r" not in text and "tiles pulled" not in text and "files written" not in text
    steps = [line for line in text.splitlines() if line.startswith("[")]
    assert steps and all(STEP_LINE.match(line) for line in steps)
    assert any(line.endswith("] pull rasters (xee)") for line in steps)
    assert steps[-1].endswith("] writing tables, rasters, figures and the report")


def test_cli_on_a_terminal_draws_tiles_and_files_bars(small_run, monkeypatch, tmp_path):
    stream = FakeTerminal()
    assert _run(small_run, stream, monkeypatch) == 0
    shown = last_states(stream.getvalue())
    tiles = [line for line in shown if line.startswith("tiles pulled:")]
    files = [line for line in shown if line.startswith("files written:")]
    assert len(tiles) == 1 and re.match(r"tiles pulled: (\d+)/\1 tiles \|", tiles[0]), tiles
    out = tmp_path / "out"
    n_rasters = len(list((out / "rasters").glob("*.tif")))
    # every table, GeoTIFF and results.nc, the report, run.json
    expected = len(TABLE_FILES) + n_rasters + 1 + 1 + 1
    assert files == [f"files written: {expected}/{expected} files |" + files[0].split("|", 1)[1]]
    assert len(list((out / "tables").glob("*.csv"))) == len(TABLE_FILES)
    # the step lines are still there, each on its own line
    assert any(STEP_LINE.match(line) and line.endswith("] pull rasters (xee)") for line in shown)


def test_cli_quiet_on_a_terminal_prints_nothing(small_run, monkeypatch):
    stream = FakeTerminal()
    assert _run([*small_run, "--quiet"], stream, monkeypatch) == 0
    assert stream.getvalue() == ""
