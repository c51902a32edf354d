"""``gee-cscc run``: every input form of the same data gives the same tables.

NPP as a NetCDF file (``year, y, x``, or ``time, lat, lon`` with another variable name), a
Zarr store, a folder of ``npp_YYYY.tif``, or an ImageCollection asset already in the local
engine's store; regions as a GeoJSON file, a region GeoTIFF with a names CSV, a table asset,
or a region-id image asset with a names CSV. The figures and the HTML report are stubbed
(they do not depend on the input form, and are the slow part of a run): only tables count.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from helpers import YEAR_ARGS, populate_store, read_tables, stub_report

from gee_cscc.cli.main import main
from gee_cscc.report.outputs import TABLE_FILES


def run_tables(cli_data, tmp, *args: object) -> dict[str, pd.DataFrame]:
    """Run the CLI (quiet) with a store in ``tmp/store`` into ``tmp/out``; read its tables."""
    out = tmp / "out"
    argv = ["run", *map(str, args), *YEAR_ARGS]
    argv += ["--store", str(tmp / "store"), "--out", str(out), "--quiet"]
    assert main(argv) == 0, f"gee-cscc {' '.join(argv)} failed"
    return read_tables(out)


def assert_same_tables(got: dict, expected: dict) -> None:
    assert list(got) == list(TABLE_FILES)
    for name in TABLE_FILES:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def baseline(cli_data, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The tables of the NetCDF + GeoJSON run, which every other form must reproduce."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gee_cscc.report.write_report", stub_report([]))
        tables = run_tables(
            cli_data,
            tmp_path_factory.mktemp("baseline"),
            "--npp",
            cli_data.npp_nc,
            "--regions",
            cli_data.geojson,
        )
    assert tables["capacity_by_region.csv"]["region"].tolist() == ["ALL", "A", "B"]
    return tables


@pytest.mark.parametrize("form", ["tif-folder", "netcdf-time-lat-lon", "asset-id"])
def test_npp_input_forms_give_identical_tables(form, cli_data, baseline, tmp_path, quick_report):
    if form == "tif-folder":
        npp = cli_data.tifs
    elif form == "netcdf-time-lat-lon":
        npp = cli_data.npp_time_nc
    else:
        npp = populate_store(tmp_path / "store").npp
    tables = run_tables(cli_data, tmp_path, "--npp", npp, "--regions", cli_data.geojson)
    assert_same_tables(tables, baseline)


def test_zarr_input_gives_identical_tables(cli_data, baseline, tmp_path, quick_report):
    pytest.importorskip(
        "zarr",
        reason="zarr is not installed (not a dependency of gee-cscc); the Zarr input is untested",
    )
    store = tmp_path / "npp.zarr"
    with warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is not in the v3 spec (xarray writes it).
        warnings.simplefilter("ignore")
        cli_data.cube.to_dataset().to_zarr(store, mode="w")
    tables = run_tables(cli_data, tmp_path, "--npp", store, "--regions", cli_data.geojson)
    assert_same_tables(tables, baseline)


@pytest.mark.parametrize("form", ["region-tif+names", "table-asset", "image-asset+names"])
def test_region_input_forms_give_identical_tables(form, cli_data, baseline, tmp_path, quick_report):
    if form == "region-tif+names":
        regions = [cli_data.region_tif, "--region-names", cli_data.names]
    else:
        ids = populate_store(tmp_path / "store")
        if form == "table-asset":
            regions = [ids.table]
        else:
            regions = [ids.image, "--region-names", cli_data.names]
    tables = run_tables(cli_data, tmp_path, "--npp", cli_data.npp_nc, "--regions", *regions)
    assert_same_tables(tables, baseline)


def test_region_raster_without_names_reports_the_ids(cli_data, baseline, tmp_path, quick_report):
    tables = run_tables(
        cli_data, tmp_path, "--npp", cli_data.npp_nc, "--regions", cli_data.region_tif
    )
    renamed = {
        name: frame.assign(region=frame["region"].astype(str).replace({"1": "A", "2": "B"}))
        if "region" in frame
        else frame
        for name, frame in tables.items()
    }
    assert_same_tables(renamed, baseline)


@pytest.mark.parametrize("form", ["region-tif", "image-asset"])
def test_a_names_file_that_leaves_an_id_out_keeps_its_region(
    form, cli_data, baseline, tmp_path, quick_report, capsys
):
    """Region B (id 2) has no name: its rows are still in every table, named "2", and the
    run says so. Found: with a region image asset, B's rows were left out (exit 0)."""
    names = tmp_path / "names-a.csv"
    names.write_text("region_id,name\n1,A\n")
    regions = (
        cli_data.region_tif if form == "region-tif" else populate_store(tmp_path / "store").image
    )
    tables = run_tables(
        cli_data, tmp_path, "--npp", cli_data.npp_nc, "--regions", regions, "--region-names", names
    )
    renamed = {
        name: frame.assign(region=frame["region"].astype(str).replace({"2": "B"}))
        if "region" in frame
        else frame
        for name, frame in tables.items()
    }
    assert_same_tables(renamed, baseline)
    assert (
        f"warning: 1 region id(s) of {regions} have no name in the region names: named by the id (2)"
        in capsys.readouterr().err
    )


def test_an_unnamed_id_named_like_another_region_is_refused(cli_data, tmp_path, capsys):
    names = tmp_path / "names-2.csv"
    names.write_text("region_id,name\n1,2\n")  # region 1 named "2"; region 2 unnamed
    argv = ["run", "--npp", str(cli_data.npp_nc), "--regions", str(cli_data.region_tif)]
    argv += ["--region-names", str(names), *YEAR_ARGS, "--store", str(tmp_path / "s")]
    argv += ["--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"gee-cscc run: error: Region id 2 of {cli_data.region_tif} has no name, so it would be "
        "named '2', the name given to region id 1: name region id 2 too, or rename region id 1."
    )
    assert not (tmp_path / "out").exists()
