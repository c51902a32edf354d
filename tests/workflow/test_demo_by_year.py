"""The demo NPP generated and written one year at a time (issue 11).

At 0.0125° (14 M cells) the float32 cube is 2.2 GB and ``demo_npp`` built it, with float64
copies of it, in memory. ``write_demo_npp`` writes the same cube to NetCDF one year at a
time. Checked here: the file holds the values of ``demo_npp`` (to float32 rounding) with its
coordinates and attributes, its provinces' CSCC totals (Σ max_t NPP × cell area over the
cells whose mean NPP is > 0, computed in NumPy with pyproj's ellipsoidal cell areas) are
the paper's Table 1 values the generator is calibrated to, and writing traces far less
memory than the in-memory cube path did (≥ 4× the cube).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr

from gee_cscc.demo.provinces import PROVINCE_ABBRS
from gee_cscc.demo.synthetic import TABLE1_TG, demo_npp, demo_regions
from gee_cscc.demo.synthetic_write import write_demo_npp
from gee_cscc.testing import lonlat_cell_area


def test_written_file_holds_the_demo_cube(tmp_path):
    path = write_demo_npp(tmp_path / "npp.nc", resolution=0.5, start=1990, end=2001, seed=7)
    want = demo_npp(resolution=0.5, start=1990, end=2001, seed=7)
    with xr.open_dataset(path) as ds:
        got = ds["npp"].load()
    assert got.dtype == np.float32 and got.dims == ("year", "y", "x")
    np.testing.assert_array_equal(got["year"].values, np.arange(1990, 2002))
    np.testing.assert_array_equal(got["y"].values, want["y"].values)
    np.testing.assert_array_equal(got["x"].values, want["x"].values)
    np.testing.assert_array_equal(np.isnan(got.values), np.isnan(want.values))
    np.testing.assert_allclose(got.values, want.values, rtol=1e-6, equal_nan=True)
    assert got.attrs["units"] == "g C m-2 yr-1" and got.attrs["crs"] == "EPSG:4326"
    assert list(got.attrs["drought_years"]) == [1997, 2001]  # 1986 is before the start
    assert not list(tmp_path.glob("*.part"))


def test_written_provinces_match_table1(tmp_path):
    res = 0.25
    path = write_demo_npp(tmp_path / "npp.nc", resolution=res)
    with xr.open_dataset(path) as ds:
        y = ds["npp"].values.astype(np.float64)
        lat = ds["y"].values
    regions = demo_regions(resolution=res).values
    area = np.array([lonlat_cell_area(0.0, a - res / 2, res, a + res / 2, n=41) for a in lat])[
        :, None
    ]
    valid = np.isfinite(y).all(axis=0)
    vca = valid & (np.where(valid, y, 0).mean(axis=0) > 0)
    cscc = np.where(vca, np.where(valid, y, 0.0).max(axis=0), 0.0) * area
    last = np.where(vca, y[-1], 0.0) * area
    checked = 0
    for i, abbr in enumerate(PROVINCE_ABBRS):
        sel = vca & (regions == i + 1)
        if abbr not in TABLE1_TG or sel.sum() < 20:  # Macau; provinces of a few cells
            continue
        tg_cscc, tg_last = TABLE1_TG[abbr]
        assert cscc[sel].sum() / 1e12 == pytest.approx(tg_cscc, rel=1e-4), abbr
        assert last[sel].sum() / 1e12 == pytest.approx(tg_last, rel=1e-4), abbr
        checked += 1
    assert checked >= 25


def test_writing_never_holds_the_cube(tmp_path):
    write_demo_npp(tmp_path / "warm.nc", resolution=1.0)  # imports, province shapes
    cube_bytes = 38 * 143 * 249 * 4  # 1981-2018 on the 0.25° grid, float32
    tracemalloc.start()
    try:
        write_demo_npp(tmp_path / "npp.nc", resolution=0.25)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with xr.open_dataset(tmp_path / "npp.nc") as ds:
        assert ds["npp"].shape == (38, 143, 249)
    # The cube path held the cube and float64 copies of it: 4.1x. Now about 1.4x: per-cell
    # fields of one year, the anomaly's mean and extremes, the calibration's grids.
    assert peak < 2.0 * cube_bytes, peak / cube_bytes
