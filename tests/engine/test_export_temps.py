"""Temporary export files that a killed engine left in a Drive folder are removed.

An export writes ``.<name>.p<pid>-<hex>.tmp`` beside its file and renames it into place; a
SIGKILL between the two leaves the temporary file. The next export into that folder removes
the ones whose process is gone and keeps those of a process still writing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import ee
import numpy as np

from gee_cscc.testing import image_of

TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_export_removes_the_temporary_files_of_dead_processes(engine, tmp_asset):
    asset = tmp_asset("src")
    engine.store.put_image(asset, image_of(np.arange(6.0).reshape(2, 3), TRANSFORM, name="b"))
    folder = f"temps-{uuid.uuid4().hex[:8]}"
    drive = engine.store.root / "drive" / folder
    drive.mkdir(parents=True)
    dead = drive / f".old.tif.p{_dead_pid()}-0123456789ab.tmp"
    alive = drive / f".busy.tif.p{os.getpid()}-0123456789ab.tmp"
    mine = drive / "notes.tmp"  # not an export's temporary file: never touched
    for p in (dead, alive, mine):
        p.write_bytes(b"partial")
    task = ee.batch.Export.image.toDrive(
        ee.Image(asset), description="t", folder=folder, fileNamePrefix="out"
    )
    task.start()
    end = time.monotonic() + 30
    while task.status()["state"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < end, "export still running after 30 s"
        time.sleep(0.05)
    assert task.status()["state"] == "COMPLETED", task.status().get("error_message")
    assert sorted(p.name for p in drive.iterdir()) == sorted([alive.name, mine.name, "out.tif"])
