"""``crs_of`` reads a CF grid mapping as rioxarray does, without importing rioxarray.

rioxarray (and through it dask) cost 0.3 s of every run that reads a NetCDF input, only to
read the CRS. The expected value of each case is rioxarray's own ``da.rio.crs``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pyproj
import pytest
import xarray as xr

from gee_cscc.workflow.file_checks import crs_of

WGS84 = pyproj.CRS.from_epsg(4326)
ALBERS_PROJ = (
    "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=krass +units=m"
)
ALBERS = pyproj.CRS.from_proj4(ALBERS_PROJ)
SINUSOIDAL = pyproj.CRS.from_proj4("+proj=sinu +lon_0=0 +R=6371007.181 +units=m")


def _array(mapping: dict | None, *, name: str = "crs", link: str | None = "crs") -> xr.DataArray:
    da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"), coords={"y": [1.0, 0.0], "x": [0, 1, 2]})
    if mapping is not None:
        da = da.assign_coords({name: xr.DataArray(0, attrs=mapping)})
    if link is not None:
        da.attrs["grid_mapping"] = link
    return da


CASES = {
    "spatial_ref WKT": _array({"spatial_ref": WGS84.to_wkt(), "grid_mapping_name": "x"}),
    "crs_wkt only": _array({"crs_wkt": ALBERS.to_wkt()}),
    "CF parameters only (Albers)": _array(ALBERS.to_cf()),
    "CF parameters only (sinusoidal)": _array(
        {k: v for k, v in SINUSOIDAL.to_cf().items() if k != "crs_wkt"}
    ),
    "default name spatial_ref, no link": _array(
        {"spatial_ref": WGS84.to_wkt()}, name="spatial_ref", link=None
    ),
    "PROJ string as spatial_ref": _array({"spatial_ref": ALBERS_PROJ}),
    "link to a missing coordinate": _array(None, link="crs"),
    "no grid mapping": _array(None, link=None),
    "unreadable WKT": _array({"spatial_ref": "not a CRS"}),
    "CF parameters that name no projection": _array({"grid_mapping_name": "no_such_thing"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crs_of_matches_rioxarray(case):
    rioxarray = pytest.importorskip("rioxarray")
    assert rioxarray  # registers .rio
    da = CASES[case]
    try:
        want = da.rio.crs
    except Exception:
        want = None
    expected = want.to_string() if want is not None else None
    assert crs_of(da) == expected


def test_the_known_cases_are_read():
    """Not only equal to rioxarray: the CRS is found where one is written."""
    assert crs_of(CASES["spatial_ref WKT"]) == "EPSG:4326"
    assert pyproj.CRS.from_user_input(crs_of(CASES["crs_wkt only"])).equals(ALBERS)
    assert crs_of(CASES["no grid mapping"]) is None
    assert crs_of(CASES["unreadable WKT"]) is None


def test_a_crs_attribute_comes_first():
    da = CASES["crs_wkt only"].copy()
    da.attrs["crs"] = "EPSG:3857"
    assert crs_of(da) == "EPSG:3857"


def test_reading_a_netcdf_input_does_not_import_rioxarray(tmp_path):
    """The NPP reader names its xarray engine: no scan of every backend (rioxarray, xee)."""
    path = tmp_path / "npp.nc"
    npp = xr.DataArray(
        np.full((3, 2, 3), 500.0, dtype=np.float32),
        dims=("year", "y", "x"),
        coords={"year": [2000, 2001, 2002], "y": [31.5, 30.5], "x": [100.5, 101.5, 102.5]},
        attrs={"units": "g C m-2 yr-1", "grid_mapping": "crs"},
    )
    npp = npp.assign_coords(crs=xr.DataArray(0, attrs=WGS84.to_cf()))
    xr.Dataset({"npp": npp}).to_netcdf(path)
    code = textwrap.dedent(
        f"""
        import sys
        from gee_cscc.workflow.readers import read_npp
        source = read_npp({str(path)!r})
        print(source.raw.attrs.get("crs"), "rioxarray" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["EPSG:4326", "False"], out.stdout + out.stderr
