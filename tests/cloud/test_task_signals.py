"""Stopping while export tasks run: Ctrl-C asks whether to cancel them, SIGTERM does not.

A SIGTERM comes from ``kill`` or a process manager, with nobody at the terminal to answer:
the wait stops (exit 143 in the CLI) and the tasks keep running, to be resumed by a rerun.
"""

from __future__ import annotations

import signal

import ee
import numpy as np
import pytest

from gee_cscc import cloud as export
from gee_cscc.cli.interrupts import Interrupted
from gee_cscc.testing import cube_of


@pytest.fixture
def stored(engine, tmp_asset):
    asset = tmp_asset("src")
    image = cube_of(np.arange(12.0).reshape(1, 3, 4), [2000]).isel(year=0, drop=True)
    engine.store.put_image(asset, image)
    return asset


@pytest.mark.parametrize(
    ("signum", "asks"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["int", "term"]
)
def test_only_ctrl_c_asks_to_cancel_running_tasks(engine, stored, tmp_asset, gate, signum, asks):
    task = export.export_image(ee.Image(stored), asset_id=tmp_asset(f"sig{int(signum)}"))
    asked = []

    def interrupt(statuses):
        raise Interrupted(signum)

    def confirm(active):
        asked.append([t.id for t in active])
        return False

    with pytest.raises(Interrupted):
        export.wait_for_tasks([task], poll_seconds=0.05, progress=interrupt, confirm=confirm)
    assert asked == ([[task.id]] if asks else [])
    gate.release.set()
    done = export.wait_for_tasks([task], poll_seconds=0.05, progress=lambda s: None)
    assert [s["state"] for s in done] == ["COMPLETED"]
