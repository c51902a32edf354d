"""Stopping ``gee-cscc serve``: Ctrl-C is the normal way (exit 0), SIGTERM exits 143 as every
other command does; both promptly, with no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 0), (signal.SIGTERM, 143)])
def test_serve_stops_promptly_on_a_signal(tmp_path, signum, code):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gee_cscc.cli.main", "serve", "--store", str(tmp_path / "s")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("gee_cscc local Earth Engine on http://127.0.0.1:"), first
        proc.send_signal(signum)
        started = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code
    assert "Traceback" not in err
