"""Local inputs read by blocks of rows and years, never whole (issue 11).

A folder of yearly GeoTIFFs was read into one in-memory cube before anything else; the
region raster was checked with float64 copies of the whole grid; the NPP checks kept
whole-grid temporaries per year. Checked here, with blocks made small
(``CHECK_BLOCK_CELLS``) so that small files span many blocks:

- the checks' messages over several blocks are the hand-worked ones of the whole grid;
- a GeoTIFF folder is read, checked and stored with traced memory far below its cube, the
  stored years equal each file as rasterio reads it, and no file is left open (an open
  file keeps the blocks GDAL cached for it);
- a region raster read block by block gives the ids rasterio reads, the lowest/largest id
  of the whole raster in its messages, and traces about the int32 grid, not float64 copies.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

import gee_cscc.workflow.npp_values as npp_values
from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.workflow.inputs import RunInputs, resolve_inputs
from gee_cscc.workflow.npp_values import check_npp_blocks, row_blocks
from gee_cscc.workflow.readers import read_npp, read_region_raster

YEARS = list(range(1990, 2002))  # 12 years
FOLDER_YEARS = list(range(1991, 2007))  # 16 years
KW = {"max_abs_npp": 1e4, "vca_min_mean": 0.0}


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(npp_values, "CHECK_BLOCK_CELLS", 256)


def _blocks(cube: np.ndarray, rows: int):
    return ([cube[i, r : r + rows] for i in range(cube.shape[0])] for r in range(0, 6, rows))


def test_row_blocks_cover_the_grid_in_whole_file_blocks(small_blocks):
    assert row_blocks(10, 100) == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8), slice(8, 10)]
    # The file's blocks of 3 rows: bands of whole blocks (3 rows >= 256 cells / 100).
    assert row_blocks(10, 100, 3) == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    assert row_blocks(5, 1000) == [slice(r, r + 1) for r in range(5)]  # one row at least


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # Bad cells in two blocks; the largest in the second: counted and found over both.
        (
            lambda v: (v.__setitem__((2, 0, 1), 5e4), v.__setitem__((2, 5, 3), 6e4)),
            "NPP year 1992 of f has 2 cell(s) with |NPP| > 10000 g C m-2 yr-1 (largest 60000; "
            "1 year(s) affected)",
        ),
        # A year empty in every block.
        (lambda v: v.__setitem__(4, np.nan), "NPP year 1994 of f has no valid cell"),
        # Every cell misses one year, in each block another one.
        (
            lambda v: (
                v.__setitem__((0, slice(0, 3)), np.nan),
                v.__setitem__((1, slice(3, 6)), np.nan),
            ),
            "No cell of f has a valid value in every year",
        ),
        # Means -5 (first block) and -2 (second): the highest is the second block's.
        (
            lambda v: (
                v.__setitem__((slice(None), slice(0, 3)), -5.0),
                v.__setitem__((slice(None), slice(3, 6)), -2.0),
            ),
            "No vegetated cell in f: the mean NPP over the years is <= 0 g C m-2 yr-1 in every "
            "cell (highest mean -2)",
        ),
    ],
)
def test_block_checks_give_the_whole_grid_messages(edit, message):
    cube = np.full((len(YEARS), 6, 4), 300.0)
    edit(cube)
    with pytest.raises(InputError) as err:
        check_npp_blocks(_blocks(cube, 3), YEARS, "f", **KW)
    assert str(err.value).startswith(message), str(err.value)


def test_block_checks_pass_a_good_cube():
    cube = np.full((len(YEARS), 6, 4), 300.0)
    cube[3, 1, 1] = np.nan  # one cell-year missing; the other cells are complete
    check_npp_blocks(_blocks(cube, 2), YEARS, "f", **KW)


def _write_folder(folder: Path, shape: tuple[int, int], seed: int) -> np.ndarray:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    cube = rng.uniform(10.0, 900.0, size=(len(FOLDER_YEARS), *shape)).astype(np.float32)
    cube[:, :5, :7] = np.nan  # outside the land
    transform = from_origin(100.0, 40.0, 0.05, 0.05)
    for i, year in enumerate(FOLDER_YEARS):
        profile = {
            "driver": "GTiff", "width": shape[1], "height": shape[0], "count": 1,
            "dtype": "float32", "crs": "EPSG:4326", "transform": transform,
            "nodata": np.nan, "tiled": True, "blockxsize": 64, "blockysize": 64,
            "compress": "deflate",
        }  # fmt: skip
        with rasterio.open(folder / f"npp_{year}.tif", "w", **profile) as dst:
            dst.write(cube[i], 1)
    return cube


def _open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_tif_folder_is_read_by_windows_and_stored_year_by_year(tmp_path, engine, small_blocks):
    cfg = Config(start=1991, end=2006, reference_year=2000)
    _write_folder(tmp_path / "warm", (20, 30), seed=1)
    resolve_inputs(RunInputs(npp=str(tmp_path / "warm")), engine, cfg)  # imports, GDAL
    folder = tmp_path / "npp"
    cube = _write_folder(folder, (192, 256), seed=2)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        source = read_npp(folder, cfg=cfg)
        read_peak = tracemalloc.get_traced_memory()[1] - base
        assert not _open_files_under(folder)
        npp_id, _ = resolve_inputs(RunInputs(npp=str(folder)), engine, cfg)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert not _open_files_under(folder)
    assert source.raw.shape == cube.shape
    # The old reader held the float32 cube and its concatenation (over 2x) at once; now a
    # few years' worth (reading one year through rioxarray's masking takes about 5 copies).
    assert read_peak < 0.5 * cube.nbytes, read_peak / cube.nbytes
    assert peak < 0.6 * cube.nbytes, peak / cube.nbytes
    stored = engine.store.asset_dir(engine.store.resolve(npp_id))
    for i in (0, 5, 15):
        with rasterio.open(folder / f"npp_{FOLDER_YEARS[i]}.tif") as src:
            want = src.read(1)
        with rasterio.open(stored / str(FOLDER_YEARS[i]) / "data.tif") as src:
            got = src.read(1)
        np.testing.assert_array_equal(got, want)


def _write_regions(path: Path, ids: np.ndarray, nodata: float | None = None) -> None:
    profile = {
        "driver": "GTiff", "width": ids.shape[1], "height": ids.shape[0], "count": 1,
        "dtype": ids.dtype.name, "crs": "EPSG:4326",
        "transform": from_origin(100.0, 40.0, 0.05, 0.05), "nodata": nodata,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(ids, 1)


def test_region_raster_read_block_by_block(tmp_path, small_blocks):
    ids = np.zeros((600, 400), dtype=np.int32)
    ids[100:300, 50:350] = 3
    ids[400:590, 10:200] = 17
    ids[599, 399] = -1  # nodata, in the last block
    path = tmp_path / "regions.tif"
    _write_regions(path, ids, nodata=-1)
    read_region_raster(path)  # warm
    tracemalloc.start()
    try:
        got = read_region_raster(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    want = np.where(ids == -1, 0, ids)
    np.testing.assert_array_equal(got.values, want)
    assert got.dtype == np.int32
    # The int32 result plus blocks; the whole-grid float64 checks traced about 6x of it.
    assert peak < 2.0 * ids.nbytes, peak / ids.nbytes


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda v: (v.__setitem__((0, 0), -3), v.__setitem__((500, 0), -7)),
            "has negative ids (lowest -7)",
        ),
        (
            lambda v: (v.__setitem__((0, 0), 2**33), v.__setitem__((550, 3), 2**34)),
            f"has ids above {2**31 - 1} (largest {2**34})",
        ),
        (lambda v: v.__setitem__((580, 5), 2.5), "has non-integer values"),
        (lambda v: v.__setitem__(slice(None), 0), "has no region (no id > 0)"),
    ],
)
def test_region_raster_messages_span_the_blocks(tmp_path, small_blocks, edit, message):
    ids = np.zeros((600, 40), dtype=np.float64)
    ids[10:20, :] = 4
    edit(ids)
    path = tmp_path / "regions.tif"
    _write_regions(path, ids)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_region_raster(path)


def test_chunked_netcdf_is_checked_in_whole_chunks(tmp_path, monkeypatch, small_blocks):
    import xarray as xr

    import gee_cscc.workflow.readers as readers

    values = np.full((len(YEARS), 40, 30), 250.0, dtype=np.float32)
    values[7, 33, 3] = 7e4  # implausible, in the last chunk of rows
    da = xr.DataArray(
        values,
        dims=("year", "lat", "lon"),
        coords={
            "year": YEARS,
            "lat": 40.0 - 0.1 * np.arange(40),
            "lon": 100.0 + 0.1 * np.arange(30),
        },
    )
    path = tmp_path / "npp.nc"
    encoding = {"npp": {"zlib": True, "chunksizes": (1, 12, 30)}}
    xr.Dataset({"npp": da}).to_netcdf(path, encoding=encoding)
    seen = []

    def recording(ny, nx, chunk_rows=None):
        seen.append(chunk_rows)
        return row_blocks(ny, nx, chunk_rows)

    monkeypatch.setattr(readers, "row_blocks", recording)
    with pytest.raises(InputError, match=r"NPP year 1997 of NPP file .* has 1 cell\(s\)"):
        read_npp(path, cfg=Config(start=1990, end=2001, reference_year=1995))
    assert seen == [12]
    # 256 cells / 30 columns = 8 rows, rounded up to one chunk of 12 rows.
    assert row_blocks(40, 30, 12) == [slice(0, 12), slice(12, 24), slice(24, 36), slice(36, 40)]
