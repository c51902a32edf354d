"""The asset store under concurrent writers in several processes (no engine is started).

Every write is staged under ``<root>/tmp/`` and published with one rename under the store's
``flock`` (``<root>/locks/store.lock``); these tests run writers in separate processes and
check the outcome against values the test wrote itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from gee_cscc.engine import AssetStore, EEError
from gee_cscc.engine.store.locks import FileLock, exchange, pid_alive

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="flock semantics: Linux")

#: A child process: write ``count`` times the collection ``asset_id`` (value = its ``fill``).
WRITER = textwrap.dedent(
    """
    import sys, numpy as np, xarray as xr
    from gee_cscc.engine import AssetStore, EEError
    from gee_cscc.engine.errors import AlreadyExistsError
    root, asset, fill, count, overwrite = sys.argv[1:6]
    store = AssetStore(root)
    years = [2001, 2002, 2003]
    data = np.full((3, 4, 5), float(fill), dtype=np.float32)
    cube = xr.DataArray(
        data, dims=("year", "y", "x"),
        coords={"year": years, "y": 40.5 - np.arange(4), "x": 100.5 + np.arange(5)},
    )
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for _ in range(int(count)):
        try:
            store.put_collection(asset, cube, band="npp", overwrite=overwrite == "1",
                                 properties={"fill": float(fill)})
        except AlreadyExistsError:
            pass
    print("done", flush=True)
    """
)


def _start(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _run_together(*arg_lists: tuple[str, ...]) -> None:
    procs = [_start(*args) for args in arg_lists]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"


def _collection_values(root: Path, asset: str) -> tuple[dict, dict[int, np.ndarray]]:
    folder = root / "assets" / "local-project" / asset
    meta = json.loads((folder / "asset.json").read_text())
    values = {}
    for year in (2001, 2002, 2003):
        ymeta = json.loads((folder / str(year) / "asset.json").read_text())
        assert ymeta["properties"]["year"] == year
        with rasterio.open(folder / str(year) / "data.tif") as src:
            values[year] = src.read(1)
    return meta, values


def _no_leftovers(root: Path) -> None:
    assert sorted(p.name for p in (root / "tmp").iterdir()) == []


@pytest.mark.parametrize("overwrite", ["1", pytest.param("0", marks=pytest.mark.slow)])
def test_two_processes_writing_the_same_asset_both_leave_a_complete_one(tmp_path, overwrite):
    _run_together(
        (str(tmp_path), "same", "7", "3", overwrite),
        (str(tmp_path), "same", "7", "3", overwrite),
    )
    meta, values = _collection_values(tmp_path, "same")
    assert meta["type"] == "IMAGE_COLLECTION"
    assert meta["properties"] == {"fill": 7.0}
    for year, arr in values.items():
        assert arr.shape == (4, 5), year
        np.testing.assert_array_equal(arr, np.full((4, 5), 7.0, np.float32))
    _no_leftovers(tmp_path)


def test_two_processes_replacing_one_asset_leave_one_writer_s_whole_asset(tmp_path):
    _run_together((str(tmp_path), "both", "1", "3", "1"), (str(tmp_path), "both", "2", "3", "1"))
    meta, values = _collection_values(tmp_path, "both")
    fill = meta["properties"]["fill"]
    assert fill in (1.0, 2.0)
    for arr in values.values():  # every image from the same writer as the collection
        np.testing.assert_array_equal(arr, np.full((4, 5), fill, np.float32))
    _no_leftovers(tmp_path)


@pytest.mark.slow  # (the CLI's concurrent runs on one store cover it too)
def test_two_processes_writing_different_assets_keep_both(tmp_path):
    a, b = "projects/local-project/assets/f/a", "projects/local-project/assets/f/b"
    _run_together((str(tmp_path), a, "3", "2", "1"), (str(tmp_path), b, "5", "2", "1"))
    for asset, fill in (("f/a", 3.0), ("f/b", 5.0)):
        meta, values = _collection_values(tmp_path, asset)
        assert meta["properties"] == {"fill": fill}
        for arr in values.values():
            np.testing.assert_array_equal(arr, np.full((4, 5), fill, np.float32))
    folder = json.loads((tmp_path / "assets" / "local-project" / "f" / "asset.json").read_text())
    assert folder["type"] == "FOLDER"
    _no_leftovers(tmp_path)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from gee_cscc.engine.store.locks import FileLock
    with FileLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_the_store_lock_excludes_another_process(tmp_path):
    lock_file = tmp_path / "locks" / "store.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_file), "1.0"], stdout=subprocess.PIPE, text=True
    )
    with holder:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with AssetStore(tmp_path).lock:  # the store lock is that file's flock
            waited = time.monotonic() - t0
        assert waited > 0.5  # held by the other process for 1 s after it printed
    assert holder.returncode == 0


def test_the_lock_is_reentrant_in_one_thread_and_released_after(tmp_path):
    lock = FileLock(tmp_path / "x.lock")
    with lock, lock:
        pass
    holder = subprocess.run(
        [sys.executable, "-c", HOLDER, str(tmp_path / "x.lock"), "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert holder.stdout.strip() == "locked"


def test_a_reader_sees_the_old_or_the_new_image_never_a_mix(tmp_path):
    store = AssetStore(tmp_path)

    def image(v: float) -> xr.DataArray:
        return xr.DataArray(
            np.full((3, 3), v, np.float32),
            dims=("y", "x"),
            coords={"y": [2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5]},
        )

    store.put_image("img", image(1.0), {"v": 1.0})
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, numpy as np, xarray as xr
                from gee_cscc.engine import AssetStore, EEError
                s = AssetStore(sys.argv[1])
                for i in range(40):
                    v = float(2 + i % 2)
                    da = xr.DataArray(np.full((3, 3), v, np.float32), dims=("y", "x"),
                                      coords={"y": [2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5]})
                    s.put_image("img", da, {"v": v})
                """
            ),
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    folder = tmp_path / "assets" / "local-project" / "img"
    reads = 0
    with writer:
        while writer.poll() is None or reads == 0:
            meta = json.loads((folder / "asset.json").read_text())  # never missing
            with rasterio.open(folder / "data.tif") as src:
                values = np.unique(src.read(1))
            assert len(values) == 1 and values[0] in (1.0, 2.0, 3.0)
            assert meta["properties"]["v"] in (1.0, 2.0, 3.0)
            reads += 1
        err = writer.stderr.read()
    assert writer.returncode == 0, err
    assert store.meta("img")["properties"] == {"v": 3.0}
    _no_leftovers(tmp_path)


def test_exchange_swaps_two_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f").write_text("A")
    (tmp_path / "b" / "f").write_text("B")
    if not exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("renameat2(RENAME_EXCHANGE) not supported here")
    assert (tmp_path / "a" / "f").read_text() == "B"
    assert (tmp_path / "b" / "f").read_text() == "A"


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(proc.stdout)
    assert not pid_alive(pid)
    return pid


def test_staged_writes_of_dead_processes_are_removed_when_a_store_opens(tmp_path):
    (tmp_path / "tmp").mkdir(parents=True)
    dead = tmp_path / "tmp" / f"put-p{_dead_pid()}-0123456789ab"
    (dead / "asset").mkdir(parents=True)
    (dead / "asset" / "data.tif").write_bytes(b"half")
    alive = tmp_path / "tmp" / f"put-p{os.getppid()}-0123456789ab"
    alive.mkdir()
    other = tmp_path / "tmp" / "export-ab12.tif"  # not a staged name: left alone
    other.write_bytes(b"x")
    AssetStore(tmp_path)
    assert not dead.exists()
    assert alive.exists() and other.exists()


def test_a_full_disk_half_way_leaves_no_asset_and_no_staging(tmp_path, monkeypatch):
    """The second image of a collection finds the disk full: nothing is published."""
    import shutil
    from collections import namedtuple

    store = AssetStore(tmp_path)
    cube = xr.DataArray(
        np.ones((2, 2, 2), np.float32),
        dims=("year", "y", "x"),
        coords={"year": [2001, 2002], "y": [1.5, 0.5], "x": [0.5, 1.5]},
    )
    usage = namedtuple("usage", "total used free")
    calls = []

    def disk_usage(path):
        calls.append(path)
        return usage(10**9, 10**9, 0 if len(calls) >= 2 else 10**9)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    with pytest.raises(
        EEError, match=r"^Not enough disk space to write 'projects/local-project/assets/c/2002'"
    ):
        store.put_collection("c", cube)
    assert len(calls) == 2
    assert not store.exists("c")
    assert not (tmp_path / "assets" / "local-project" / "c").exists()
    _no_leftovers(tmp_path)
