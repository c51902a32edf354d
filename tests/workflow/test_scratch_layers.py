"""Layers on disk, read lazily (gee_cscc.workflow.scratch_layers) and the pull that streams
into them (workflow.pull.open_layers with ``scratch=``, count_maintenance by strips).

Every value is checked against the plain NumPy array the test wrote or computed itself.
"""

from __future__ import annotations

import copy
import gc
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import ee
import numpy as np
import pytest
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

import gee_cscc.workflow.counts as counts_module
import gee_cscc.workflow.scratch_layers as scratch_module
from gee_cscc.errors import EngineError, OutputError
from gee_cscc.method.grid import GridSpec
from gee_cscc.testing import npp_cube
from gee_cscc.workflow.pull import (
    count_maintenance,
    layer_stack,
    open_layers,
    stream_blocks,
)
from gee_cscc.workflow.scratch_layers import (
    SCRATCH_PREFIX,
    ScratchFolder,
    clean_stale_scratch,
    lazy_stack,
    map_layer,
    scratch_of,
)


def _written(scratch: ScratchFolder, arrays: dict[str, np.ndarray], band: int = 3) -> xr.Dataset:
    """``arrays`` written into scratch files a band of ``band`` rows at a time."""
    shape = next(iter(arrays.values())).shape
    writer = scratch.writer(list(arrays), shape, next(iter(arrays.values())).dtype)
    for y0 in range(0, shape[0], band):
        for i, a in enumerate(arrays.values()):
            writer.write_rows(i, y0, a[y0 : y0 + band])
    ny, nx = shape
    return xr.Dataset(
        writer.variables(), coords={"y": 40.0 - np.arange(ny), "x": 100.0 + np.arange(nx)}
    )


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(11, 7)).astype(np.float32)
    a[2, 3] = np.nan
    b = rng.integers(-2, 3, size=(11, 7)).astype(np.float32)
    return {"a": a, "b": b}


def test_lazy_layers_read_what_was_written(tmp_path, data):
    scratch = ScratchFolder(tmp_path)
    ds = _written(scratch, data)
    assert scratch.path.parent == tmp_path and scratch.path.name.startswith(SCRATCH_PREFIX)
    assert scratch_of(ds["a"]) is scratch
    a = data["a"]
    np.testing.assert_array_equal(ds["a"].values, a)
    assert ds["a"].dtype == np.float32 and ds["a"].values.flags.writeable
    np.testing.assert_array_equal(ds["a"].isel(y=slice(2, 9, 3)).values, a[2:9:3])
    np.testing.assert_array_equal(
        ds["a"].isel(y=[8, 1, 1, 5], x=[6, 0]).values, a[[8, 1, 1, 5]][:, [6, 0]]
    )
    np.testing.assert_array_equal(ds["a"].isel(y=-1).values, a[-1])
    np.testing.assert_array_equal(ds["a"].isel(x=3).values, a[:, 3])
    assert float(ds["b"].isel(y=4, x=5)) == data["b"][4, 5]
    np.testing.assert_array_equal(ds["a"].sel(y=37.0).values, a[3])
    np.testing.assert_array_equal(ds["a"][::-1, ::2].values, a[::-1, ::2])
    # a deep copy of the dataset reads the same files; a shallow one too
    np.testing.assert_array_equal(copy.deepcopy(ds)["b"].values, data["b"])
    np.testing.assert_array_equal(ds.copy()["b"].values, data["b"])


def test_stack_of_scratch_layers_reads_lazily(tmp_path, data):
    scratch = ScratchFolder(tmp_path)
    ds = _written(scratch, data)
    stack = layer_stack(ds, ["b", "a"], "year", [2001, 2002])
    assert stack.dims == ("year", "y", "x") and list(stack["year"].values) == [2001, 2002]
    assert scratch_of(stack) is scratch  # a stack of the files, nothing read
    np.testing.assert_array_equal(stack.values, np.stack([data["b"], data["a"]]))
    np.testing.assert_array_equal(stack.isel(y=slice(1, 4)).values[1], data["a"][1:4])
    np.testing.assert_array_equal(stack.isel(year=1, x=[2, 2]).values, data["a"][:, [2, 2]])
    one = layer_stack(ds, ["a"], "year", [2001])  # one year keeps its year dimension
    assert one.shape == (1, 11, 7)
    np.testing.assert_array_equal(one.values[0], data["a"])
    # layers of two folders, or in memory, are not stacked lazily
    other = _written(ScratchFolder(tmp_path), {"c": data["a"]})
    assert lazy_stack([ds["a"], other["c"]]) is None
    assert lazy_stack([xr.DataArray(data["a"])]) is None
    assert lazy_stack([ds["a"].isel(y=slice(1, 3))]) is None


def test_map_layer_by_strips_equals_the_whole(tmp_path, data, monkeypatch):
    monkeypatch.setattr(scratch_module, "STRIP_CELLS", 15)  # two rows of 7 a strip
    ds = _written(ScratchFolder(tmp_path), data)
    lazy = map_layer(ds["a"], lambda v: np.abs(v.astype(np.float64)) * 2.5, "twice", "float64")
    assert lazy is not None and lazy.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(lazy), np.abs(data["a"].astype(np.float64)) * 2.5)
    assert map_layer(xr.DataArray(data["a"], dims=("y", "x")), np.abs, "x", "float32") is None


def test_folder_removed_with_its_last_reader(tmp_path, data):
    ds = _written(ScratchFolder(tmp_path), data)
    layer = ds["a"]
    folder = scratch_of(layer).path
    del ds
    gc.collect()
    assert folder.is_dir()  # the layer still reads from it
    np.testing.assert_array_equal(layer.values, data["a"])
    del layer
    gc.collect()
    assert not folder.exists()


def test_removed_folder_says_so(tmp_path, data):
    scratch = ScratchFolder(tmp_path)
    ds = _written(scratch, data)
    scratch.remove()
    assert not scratch.path.exists()
    with pytest.raises(OutputError, match="were removed"):
        _ = ds["a"].values


def test_not_picklable_until_loaded(tmp_path, data):
    ds = _written(ScratchFolder(tmp_path), data)
    with pytest.raises(TypeError, match=r"load\(\)"):
        pickle.dumps(ds)
    back = pickle.loads(pickle.dumps(ds.load()))
    np.testing.assert_array_equal(back["a"].values, data["a"])


def test_no_room_is_an_output_error(tmp_path, monkeypatch):
    scratch = ScratchFolder(tmp_path)
    usage = type("U", (), {"free": 10 << 20})()
    monkeypatch.setattr(scratch_module.shutil, "disk_usage", lambda path: usage)
    with pytest.raises(OutputError, match="TMPDIR") as caught:
        scratch.writer(["a"], (1000, 1000))
    # 4 MB of float32 and the 256 MiB margin, against 10 MiB: in MiB, not "0.0 GiB".
    need = (1000 * 1000 * 4 + (256 << 20)) / 2**20
    assert f"need {need:.1f} MiB in {tmp_path} and 10.0 MiB are free" in str(caught.value)


def test_a_layer_not_written_whole_is_refused(tmp_path):
    """A pull that stopped short must not leave zeros that read as NPP of 0."""
    writer = ScratchFolder(tmp_path).writer(["cscc", "trend_p"], (4, 6), np.float32)
    full = np.arange(24, dtype=np.float32).reshape(4, 6)
    writer.write_rows(0, 0, full)  # cscc whole
    writer.write_block(1, 0, 0, full[:, :3])  # trend_p: the left half only
    with pytest.raises(EngineError, match=r"'trend_p' came back incomplete: 12 of its 24"):
        writer.layers()


def test_a_layer_written_in_blocks_is_whole(tmp_path):
    writer = ScratchFolder(tmp_path).writer(["a"], (4, 6), np.float32)
    full = np.arange(24, dtype=np.float32).reshape(4, 6)
    for y0 in (0, 2):
        for x0 in (0, 4):
            writer.write_block(0, y0, x0, full[y0 : y0 + 2, x0 : x0 + 4])
    (layer,) = writer.layers()
    np.testing.assert_array_equal(layer[indexing.BasicIndexer((slice(None),) * 2)], full)


def test_a_block_outside_the_grid_is_refused(tmp_path):
    writer = ScratchFolder(tmp_path).writer(["a"], (4, 6), np.float32)
    with pytest.raises(ValueError, match="row 3"):
        writer.write_block(0, 3, 2, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="rows at row 3"):
        writer.write_rows(0, 3, np.zeros((2, 6), np.float32))
    writer.close()


_CHILD = """
import os, signal, sys, numpy as np
from gee_cscc.workflow.scratch_layers import ScratchFolder
s = ScratchFolder(sys.argv[1])
w = s.writer(["a"], (2, 3)); w.write_rows(0, 0, np.ones((2, 3), np.float32)); w.close()
print(s.path, flush=True)
if sys.argv[2] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _child(root: Path, how: str) -> Path:
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD), str(root), how],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == (-signal.SIGKILL if how == "kill" else 0), run.stderr
    return Path(run.stdout.strip())


def test_process_end_removes_it_and_a_killed_run_s_is_swept(tmp_path):
    assert not _child(tmp_path, "exit").exists()  # atexit
    left = _child(tmp_path, "kill")
    assert left.is_dir() and (left / "0001-a.raw").stat().st_size == 24
    mine = ScratchFolder(tmp_path)  # a new folder sweeps the dead process's
    assert not left.exists() and mine.path.is_dir()
    assert clean_stale_scratch(tmp_path) == []  # a live process's folder stays
    assert mine.path.is_dir()
    other = tmp_path / f"{SCRATCH_PREFIX}p{os.getpid()}x"  # not our name pattern
    other.mkdir()
    clean_stale_scratch(tmp_path)
    assert other.is_dir()


def _counts_numpy(p: np.ndarray, reg: np.ndarray, ids: list[int]) -> dict:
    out = {}
    for k in range(p.shape[0]):
        out[(-1, k)] = (int((p[k] == 1).sum()), int((p[k] == -1).sum()))
        for rid in ids:
            inside = reg == rid
            out[(rid, k)] = (int((p[k][inside] == 1).sum()), int((p[k][inside] == -1).sum()))
    return out


def test_count_maintenance_by_strips_of_scratch_layers(tmp_path, monkeypatch):
    monkeypatch.setattr(counts_module, "_COUNT_STRIP_CELLS", 40)  # strips of 1 row x 3 years
    rng = np.random.default_rng(3)
    p = rng.choice(np.array([-1, 0, 1, np.nan], np.float32), size=(3, 9, 13))
    reg = rng.integers(0, 4, size=(9, 13)).astype(np.float32)
    reg[0, 0] = np.nan
    ds = _written(ScratchFolder(tmp_path), {"P_1": p[0], "P_2": p[1], "P_3": p[2], "region": reg})
    surfaces = layer_stack(ds, ["P_1", "P_2", "P_3"], "year", [2001, 2002, 2003])
    got = count_maintenance(surfaces, ds["region"], [1, 2, 3])
    want = _counts_numpy(p, np.nan_to_num(reg), [1, 2, 3])
    assert len(got) == 3 * 4
    for row in got.itertuples():
        rid = -1 if row.region_id not in (1, 2, 3) else row.region_id
        assert (row.n_pos, row.n_neg) == want[(rid, row.year - 2001)]
    # the same from arrays in memory
    again = count_maintenance(surfaces.load(), np.nan_to_num(reg), [1, 2, 3])
    assert again.equals(got)


def _lon_layers(n: int) -> dict:
    lon = ee.Image.pixelLonLat().select("longitude")
    return {f"l{i}": lon.multiply(i + 1).add(0.25) for i in range(n)}


def test_open_layers_into_scratch_equals_the_pull_in_memory(engine, tmp_path):
    cube = npp_cube(range(2001, 2003), shape=(64, 48), pixel_size=0.1)
    grid = GridSpec.from_dataarray(cube)
    in_memory = open_layers(_lon_layers(4), grid, request_bytes=4096)
    scratch = ScratchFolder(tmp_path)
    ticks = []
    lazy = open_layers(
        _lon_layers(4),
        grid,
        request_bytes=4096,
        scratch=scratch,
        on_tile=lambda d, t: ticks.append((d, t)),
    )
    assert ticks[0][0] == 0 and ticks[-1][0] == ticks[-1][1] > 1
    assert len(list(scratch.path.iterdir())) == 4
    x, _ = grid.cell_centres()
    for i in range(4):
        assert scratch_of(lazy[f"l{i}"]) is scratch
        np.testing.assert_array_equal(lazy[f"l{i}"].values, in_memory[f"l{i}"].values)
        want = (np.asarray(x, np.float64) * (i + 1) + 0.25).astype(np.float32)
        np.testing.assert_allclose(lazy[f"l{i}"].values, np.broadcast_to(want, (64, 48)), rtol=1e-6)
    np.testing.assert_array_equal(lazy["y"].values, in_memory["y"].values)
    np.testing.assert_array_equal(lazy["x"].values, in_memory["x"].values)


class _Served(BackendArray):
    """A ``(layer, y, x)`` float32 array computed on request (value ``1000 l + y + x/1000``),
    like xee serves a pull: nothing exists before it is asked for."""

    def __init__(self, shape: tuple[int, int, int]):
        self.shape = shape
        self.dtype = np.dtype("float32")

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._raw
        )

    def _raw(self, key):
        ll, yy, xx = (np.arange(n)[k] for n, k in zip(self.shape, key, strict=True))
        return (1000 * ll[:, None, None] + yy[None, :, None] + xx[None, None, :] / 1000).astype(
            np.float32
        )


def _served_layers(shape: tuple[int, int, int], chunk_x: int, tmp_path) -> tuple:
    """A lazily served ``(layer, y, x)`` array in chunks of 16 rows × ``chunk_x`` columns,
    and a scratch writer for its layers."""
    served = xr.DataArray(
        xr.Variable(("layer", "y", "x"), indexing.LazilyIndexedArray(_Served(shape)))
    )
    served.encoding["preferred_chunks"] = {"layer": shape[0], "y": 16, "x": chunk_x}
    writer = ScratchFolder(tmp_path).writer([f"l{i}" for i in range(shape[0])], shape[1:])
    return served, writer


def test_streamed_pull_holds_one_band_not_the_grid(tmp_path):
    shape = (6, 512, 256)
    served, writer = _served_layers(shape, 256, tmp_path)
    result = 6 * 512 * 256 * 4
    bands = []

    def write(y0, x0, block):  # one chunk across: each block is a whole band of rows
        assert x0 == 0 and block.shape[2] == shape[2]
        bands.append((y0, y0 + block.shape[1]))
        for i in range(6):
            writer.write_rows(i, y0, block[i])

    tracemalloc.start()
    try:
        stream_blocks(served, write)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bands == [(y, y + 16) for y in range(0, 512, 16)]
    assert peak < 0.2 * result, peak / result  # a band or two, not the grid
    layers = writer.layers()
    ll, yy, xx = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    want = (1000 * ll + yy + xx / 1000).astype(np.float32)
    for i, layer in enumerate(layers):
        np.testing.assert_array_equal(layer[indexing.BasicIndexer((slice(None),) * 2)], want[i])


def test_stream_blocks_holds_a_few_tiles_of_a_wide_band(tmp_path):
    shape = (6, 32, 4096)
    served, writer = _served_layers(shape, 64, tmp_path)
    band = 6 * 16 * 4096 * 4
    blocks = []

    def write(y0, x0, block):
        blocks.append((y0, x0, block.shape))
        for i in range(6):
            writer.write_block(i, y0, x0, block[i])

    tracemalloc.start()
    try:
        stream_blocks(served, write, tiles_across=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    xs = list(range(0, 4096, 192))  # 3 chunks of 64 columns a block, the last one shorter
    assert [(y0, x0) for y0, x0, _ in blocks] == [(y, x) for y in range(0, 32, 16) for x in xs]
    assert blocks[-1][2] == (6, 16, 4096 - xs[-1])
    assert peak < 0.35 * band, peak / band  # a block of 3 tiles, not the band of 64
    ll, yy, xx = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    want = (1000 * ll + yy + xx / 1000).astype(np.float32)
    for i, layer in enumerate(writer.layers()):
        np.testing.assert_array_equal(layer[indexing.BasicIndexer((slice(None),) * 2)], want[i])
    with pytest.raises(ValueError):
        ScratchFolder(tmp_path).writer(["a"], (4, 4)).write_block(0, 0, 2, np.zeros((1, 3)))
