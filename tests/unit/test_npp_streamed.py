"""A local NPP NetCDF is read, checked and stored one year at a time (issue 11).

``read_npp`` used to load the whole cube, convert it to float32 (a copy), check it with
whole-cube temporaries and hand the whole array to the store: at 0.025° the process peak
of a run. Checked here: the traced memory of resolving (reading, checking, storing) a
NetCDF of 32 years stays well below the cube itself (the loaded cube alone was 1×), the
stored values are the file's kg C m⁻² yr⁻¹ times 1000 in float32 as NumPy computes them,
and the value checks give the same answer for a cube and for its years one at a time.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import rasterio
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.workflow.file_checks import check_npp_values
from gee_cscc.workflow.inputs import RunInputs, resolve_inputs

YEARS = list(range(1981, 2013))  # 32 years


def _write(path, shape, seed):
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.05, 1.2, size=(len(YEARS), *shape)).astype(np.float32)
    values[:, :4, :6] = np.nan  # outside the land, every year
    values[3, 10, 10] = np.nan  # one year missing in one cell
    ys = 40.0 - 0.05 * (np.arange(shape[0]) + 0.5)
    xs = 100.0 + 0.05 * (np.arange(shape[1]) + 0.5)
    da = xr.DataArray(
        values,
        dims=("year", "lat", "lon"),
        coords={"year": YEARS, "lat": ys, "lon": xs},
        attrs={"units": "kg C m-2 yr-1"},
    )
    xr.Dataset({"npp": da}).to_netcdf(path)
    return values


def test_resolving_a_netcdf_never_holds_the_cube(tmp_path, engine):
    cfg = Config(start=1981, end=2012, reference_year=2000)
    small = tmp_path / "warm.nc"
    _write(small, (20, 30), seed=1)
    resolve_inputs(RunInputs(npp=str(small)), engine, cfg)  # imports, GDAL, the store
    path = tmp_path / "npp.nc"
    cube = _write(path, (300, 400), seed=2)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        npp_id, _ = resolve_inputs(RunInputs(npp=str(path)), engine, cfg)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 0.4 * cube.nbytes, peak / cube.nbytes
    folder = engine.store.asset_dir(engine.store.resolve(npp_id))
    for k in (0, 3, 31):
        with rasterio.open(folder / str(YEARS[k]) / "data.tif") as src:
            got = src.read(1, masked=True)
        want = cube[k] * np.float32(1000.0)  # kg → g, in float32 as xarray multiplies
        assert got.dtype == np.float32
        np.testing.assert_array_equal(np.ma.getmaskarray(got), np.isnan(want))
        np.testing.assert_array_equal(got.filled(np.nan), want)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda v: v.__setitem__((2, 1, 1), 5e4), "NPP year 2002 of f has 1 cell(s) with"),
        (lambda v: v.__setitem__(1, np.nan), "NPP year 2001 of f has no valid cell"),
        (lambda v: v.__setitem__(slice(None), -3.0), "No vegetated cell in f"),
    ],
)
def test_checks_of_years_one_at_a_time_equal_the_cube_checks(edit, message):
    values = np.full((4, 3, 5), 200.0)
    edit(values)
    years = [2000, 2001, 2002, 2003]
    kw = {"max_abs_npp": 1e4, "vca_min_mean": 0.0}
    with pytest.raises(InputError) as whole:
        check_npp_values(values, years, "f", **kw)
    with pytest.raises(InputError) as streamed:
        check_npp_values((values[i] for i in range(4)), years, "f", **kw)
    assert str(whole.value) == str(streamed.value)
    assert str(whole.value).startswith(message), str(whole.value)
