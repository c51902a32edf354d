"""Fixtures of the ``gee-cscc`` CLI tests; the synthetic case itself is in ``tests/helpers.py``.

* ``cli_data`` (session): the cube of :mod:`helpers` (6 years × 5×6 px at 1°, reference year
  2003) written as a NetCDF file (``year, y, x``), a NetCDF file with ``time, lat, lon`` and
  variable ``NPP``, a folder of ``npp_YYYY.tif``, a GeoJSON of two regions named by ``abbr``,
  the same regions as an integer GeoTIFF with a names CSV — and the expected numbers
  (:func:`helpers.reference`), as a :class:`helpers.CliData`.
* ``run_cli`` (function): ``run_cli("run", ...)`` calls ``gee_cscc.cli.main.main`` in this process
  and returns the exit code, stdout and stderr.
* ``quick_report`` (function): replaces the figures and HTML report (the slow part of a run)
  by a stub page, for tests that only look at tables; it records how it was called.

Every run of the CLI starts its own local engine and points ``ee`` at it; tests that need the
session ``engine`` get ``ee`` pointed back by the autouse fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import pytest
import xarray as xr
from helpers import (
    YEARS,
    CliData,
    coords,
    cube_dataarray,
    reference,
    region_ids,
    regions_geojson,
    stub_report,
    write_tif,
    write_tif_folder,
)

from gee_cscc.cli.main import main

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cli_data(tmp_path_factory: pytest.TempPathFactory) -> CliData:
    """The synthetic inputs as files (see the module docstring) and the expected numbers."""
    root = tmp_path_factory.mktemp("cli-inputs")
    cube = cube_dataarray()
    npp_nc = root / "npp.nc"
    cube.to_dataset().to_netcdf(npp_nc)
    # The same data as a CF-style file: time (mid-year), lat, lon and a variable NPP.
    time = pd.to_datetime([f"{y}-07-01" for y in YEARS])
    cf = cube.rename(year="time", y="lat", x="lon").assign_coords(time=time).rename("NPP")
    npp_time_nc = root / "npp_time_lat_lon.nc"
    cf.to_dataset().to_netcdf(npp_time_nc)
    tifs = write_tif_folder(root / "tifs", cube)
    geojson = root / "regions.geojson"
    geojson.write_text(json.dumps(regions_geojson()))
    ys, xs = coords()
    ids = xr.DataArray(region_ids(), dims=("y", "x"), coords={"y": ys, "x": xs})
    region_tif = write_tif(ids, root / "regions.tif", nodata=None)
    names = root / "names.csv"
    names.write_text("region_id,name\n1,A\n2,B\n")
    return CliData(
        root=root,
        cube=cube,
        npp_nc=npp_nc,
        npp_time_nc=npp_time_nc,
        tifs=tifs,
        geojson=geojson,
        region_tif=region_tif,
        names=names,
        ref=reference(),
    )


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture):
    """``run_cli(*args)`` → :class:`CliResult` of ``gee_cscc.cli.main.main`` run in this process."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def quick_report(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace ``gee_cscc.report.write_report`` by a stub; returns the list of its calls."""
    calls: list = []
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report(calls))
    return calls
