"""SIGTERM and SIGINT stop a run cleanly: exit 143/130, one line, OUT untouched, nothing left.

The run is a separate ``gee-cscc run`` process on the synthetic case with ``--quiet`` (so
stderr holds nothing but the final line). The signal is sent while the method computes
(the run's input asset is in the store) or while the outputs are written (the staging
folder beside OUT exists).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_procs import beside, finish, start_run, tree_hash, write_case

from gee_cscc.cli.interrupts import Interrupted, StderrGuard, exit_code, signals_as_interrupts
from gee_cscc.cli.main import MAX_ERROR_CHARS, main
from gee_cscc.errors import ExportError


def _wait_for(condition, proc, what: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(
                f"the run ended (code {proc.returncode}) before {what}: {proc.stderr.read()}"
            )
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.01)


def _earlier_result(out: Path) -> dict:
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text('{"earlier": true}\n')
    (out / "tables" / "capacity_by_region.csv").write_text("earlier run\n")
    return tree_hash(out)


def _computing(store: Path):
    inputs = store / "assets" / "local-project" / "inputs"
    return lambda: inputs.is_dir() and any(p.name.startswith("npp-") for p in inputs.iterdir())


def _writing(out: Path):
    return lambda: any("-staging-" in p.name for p in out.parent.iterdir())


@pytest.mark.parametrize(
    ("sig", "code", "line", "phase"),
    [
        (signal.SIGTERM, 143, "gee-cscc run: stopped by SIGTERM", "computing"),
        (signal.SIGINT, 130, "gee-cscc run: interrupted", "computing"),
        (signal.SIGTERM, 143, "gee-cscc run: stopped by SIGTERM", "writing"),
        (signal.SIGINT, 130, "gee-cscc run: interrupted", "writing"),
    ],
)
def test_a_signal_stops_the_run_cleanly(tmp_path, sig, code, line, phase):
    npp, regions = write_case(tmp_path / "in", "a")
    out, store = tmp_path / "work" / "out", tmp_path / "store"
    before = _earlier_result(out)
    # Writing: a report that takes a minute, so the signal hits the write phase.
    proc = start_run(npp, regions, store, out, report="stub" if phase == "computing" else "slow")
    condition = _computing(store) if phase == "computing" else _writing(out)
    _wait_for(condition, proc, phase)
    proc.send_signal(sig)
    got, stdout, stderr = finish(proc)
    assert got == code
    assert stderr.splitlines() == [line]
    assert stdout == ""
    assert tree_hash(out) == before
    assert beside(out) == []
    assert not list((store / "tmp").iterdir())


# --- in this process ----------------------------------------------------------------------------


def test_signals_raise_interrupted_with_the_exit_code_and_are_restored():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, signals_as_interrupts():
        signal.raise_signal(signal.SIGTERM)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert exit_code(caught.value) == 143
    assert exit_code(Interrupted(signal.SIGINT)) == 130
    assert exit_code(KeyboardInterrupt()) == 130  # a plain Ctrl-C
    assert signal.getsignal(signal.SIGTERM) is previous


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


def test_after_a_signal_only_the_main_thread_writes_to_stderr():
    sink = _Sink()
    guard = StderrGuard(sink)

    def worker(text: str) -> None:
        guard.write(text)

    t = threading.Thread(target=worker, args=("before\n",))
    t.start()
    t.join()
    guard.mute_threads()
    t = threading.Thread(target=worker, args=("BrokenPipeError: [Errno 32] Broken pipe\n",))
    t.start()
    t.join()
    guard.write("gee-cscc run: interrupted\n")
    assert sink.text == "before\ngee-cscc run: interrupted\n"


def test_the_guard_drops_the_engine_notice_when_quiet():
    sink = _Sink()
    guard = StderrGuard(sink, drop_notice=True)
    print("*** Earth Engine ***", "local engine notice", file=guard)
    print("an error line", file=guard)
    assert sink.text == "an error line\n"


def test_a_long_failure_message_is_one_short_line(monkeypatch, capsys):
    detail = "Export task 'cscc_result' (T1) failed: " + "x" * 3600
    message = detail + "\n2 other task(s) are still running; rerun to wait on them."

    def failing(args, report):
        raise ExportError(message)

    monkeypatch.setattr(sys.modules["gee_cscc.cli.main"], "_cmd_versions", failing)
    assert main(["versions"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    line = err.rstrip("\n")
    assert line.startswith("gee-cscc versions: error: Export task 'cscc_result' (T1) failed: xxx")
    assert line.endswith(" … (--verbose shows all)")
    assert len(line) <= len("gee-cscc versions: error: ") + MAX_ERROR_CHARS
    with pytest.raises(ExportError) as caught:  # --verbose: the whole error, traceback and all
        main(["versions", "--verbose"])
    assert str(caught.value) == message


def test_a_short_multi_line_message_keeps_every_line(monkeypatch, capsys):
    def failing(args, report):
        raise ExportError("Export task 'a' failed: boom\n1 other task(s) are still running.")

    monkeypatch.setattr(sys.modules["gee_cscc.cli.main"], "_cmd_versions", failing)
    assert main(["versions"]) == 1
    assert capsys.readouterr().err == (
        "gee-cscc versions: error: Export task 'a' failed: boom; "
        "1 other task(s) are still running.\n"
    )


class _Broken:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stderr_pipe_does_not_raise_through_the_guard():
    """`gee-cscc run ... 2>&1 | tee log` and Ctrl-C: tee is gone, the line goes nowhere."""
    guard = StderrGuard(_Broken())
    assert guard.write("gee-cscc run: interrupted\n") == len("gee-cscc run: interrupted\n")
    guard.flush()


def test_a_killed_run_leaves_a_staging_folder_that_the_next_run_removes(tmp_path):
    npp, regions = write_case(tmp_path / "in", "a")
    out, store = tmp_path / "work" / "out", tmp_path / "store"
    before = _earlier_result(out)
    proc = start_run(npp, regions, store, out, report="slow")
    _wait_for(_writing(out), proc, "writing")
    proc.kill()  # SIGKILL: nothing can be cleaned up
    finish(proc)
    assert tree_hash(out) == before
    assert [p.name.split("-staging-")[0] for p in out.parent.iterdir() if p != out] == [".out"]
    code, _, err = finish(start_run(npp, regions, store, out))  # the next run
    assert code == 0, err
    assert beside(out) == []
    assert (out / "tables" / "capacity_by_region.csv").read_text().startswith("region,")


class _SignalsWhenCollected:
    """An object whose finalizer receives a signal: Python prints and swallows the
    ``KeyboardInterrupt`` the handler raises there ("Exception ignored in ...")."""

    def __init__(self, sig: int) -> None:
        self.sig = sig

    def __del__(self) -> None:
        signal.raise_signal(self.sig)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_signal_still_stops_the_command(monkeypatch, capsys):
    def handler(args, report):
        obj = _SignalsWhenCollected(signal.SIGTERM)
        del obj  # the finalizer runs now; its exception is swallowed
        return 0

    monkeypatch.setattr(sys.modules["gee_cscc.cli.main"], "_cmd_versions", handler)
    assert main(["versions"]) == 143
    assert capsys.readouterr().err.splitlines()[-1] == "gee-cscc versions: stopped by SIGTERM"
    assert main(["versions"]) == 143  # the record is per command: a new one starts clean
    monkeypatch.setattr(sys.modules["gee_cscc.cli.main"], "_cmd_versions", lambda a, r: 0)
    assert main(["versions"]) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_signal_leaves_out_as_it_was(tmp_path):
    from gee_cscc.report.out_folder import staged_out

    out = tmp_path / "out"
    before = _earlier_result(out)
    with pytest.raises(Interrupted) as caught, signals_as_interrupts():
        with staged_out(out) as staging:
            (staging / "run.json").write_text('{"new": true}\n')
            obj = _SignalsWhenCollected(signal.SIGINT)
            del obj
    assert exit_code(caught.value) == 130
    assert tree_hash(out) == before
    assert beside(out) == []
