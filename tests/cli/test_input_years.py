"""Years: taken from the input when not given, a subset of a longer input, refused when absent.

The input is the synthetic cube of ``tests/helpers.py`` (2001–2006) with extra years around
it (1999, 2000, 2007, 2008) whose NPP is far above every real year: a run that used them
would get another CSCC. So a run on the long input with ``--start 2001 --end 2006`` must
give the tables of the run on the 2001–2006 file (and Table 1 from NumPy on the cube), in a
NetCDF file, a folder of GeoTIFFs, an asset, a run file and the Python API. Without
``--start/--end`` the years are the input's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from helpers import (
    REFERENCE,
    TRANSFORM,
    YEARS,
    assert_tables_close,
    cube_dataarray,
    make_cube,
    read_tables,
    region_ids,
    regions_geojson,
    write_tif_folder,
)

import gee_cscc
from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.workflow.readers import read_npp
from gee_cscc.workflow.years import check_years, years_text

EXTRA = (1999, 2000, 2007, 2008)
LONG_YEARS = sorted([*YEARS, *EXTRA])
SUBSET = ("--start", str(YEARS[0]), "--end", str(YEARS[-1]))


def long_cube() -> xr.DataArray:
    """The cube's years plus EXTRA, whose NPP (3000 g C m-2 yr-1) would be every CSCC."""
    short = cube_dataarray()
    extra = xr.full_like(short.isel(year=slice(0, len(EXTRA))), 3000.0).assign_coords(
        year=list(EXTRA)
    )
    return xr.concat([short, extra], dim="year").sortby("year").rename("npp")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("years")
    short, long = root / "short.nc", root / "long.nc"
    cube_dataarray().rename("npp").to_dataset().to_netcdf(short)
    long_cube().to_dataset().to_netcdf(long)
    regions = root / "regions.geojson"
    regions.write_text(json.dumps(regions_geojson()))
    return short, long, regions


@pytest.fixture(scope="module")
def short_tables(files, tmp_path_factory):
    """The tables of the run on the 2001–2006 file (the expected ones)."""
    from helpers import stub_report

    from gee_cscc.cli.main import main

    tmp = tmp_path_factory.mktemp("short-run")
    mp = pytest.MonkeyPatch()
    mp.setattr("gee_cscc.report.write_report", stub_report([]))
    try:
        code = main(_args(files[0], files[2], tmp, *SUBSET, "--reference", str(REFERENCE), "-q"))
    finally:
        mp.undo()
    assert code == 0
    return read_tables(tmp / "out")


def _args(npp, regions, tmp, *more) -> list[str]:
    argv = ["run", "--npp", npp, "--regions", regions, "--store", tmp / "store", "--out"]
    return [str(a) for a in (*argv, tmp / "out", *more)]


def _table1_from_numpy(tables) -> None:
    from input_files import capacity_reference  # noqa: I001  (tests/reliability on sys.path)

    ids = region_ids()
    want = capacity_reference(make_cube(), TRANSFORM, {"A": ids == 1, "B": ids == 2})
    got = tables["capacity_by_region.csv"].set_index("region")
    for name in ("A", "B"):
        assert got.loc[name, "cscc_tg"] == pytest.approx(want[name]["cscc_tg"], rel=1e-9)


@pytest.fixture(autouse=True)
def _reliability_helpers_on_path(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "reliability"))


def test_subset_of_a_longer_file_gives_the_short_file_tables(
    files, short_tables, tmp_path, run_cli, quick_report
):
    _, long, regions = files
    res = run_cli(*_args(long, regions, tmp_path, *SUBSET, "--reference", str(REFERENCE)))
    assert res.code == 0, res.err
    notes = [line for line in res.err_lines if "the run uses" in line]
    assert len(notes) == 1 and notes[0].endswith(
        f"NPP file {long} has the years 1999–2008; the run uses 2001–2006 (start/end)"
    )
    tables = read_tables(tmp_path / "out")
    assert_tables_close(short_tables, tables)
    _table1_from_numpy(tables)


def test_years_are_inferred_from_the_file(files, short_tables, tmp_path, run_cli, quick_report):
    short, _, regions = files
    res = run_cli(*_args(short, regions, tmp_path, "--reference", str(REFERENCE)))
    assert res.code == 0, res.err
    assert any(
        line.endswith(
            f"years 2001–2006: all the years of NPP file {short} (set start/end for fewer)"
        )
        for line in res.err_lines
    )
    assert_tables_close(short_tables, read_tables(tmp_path / "out"))


def test_only_start_given_takes_the_end_from_the_file(files, tmp_path, run_cli, quick_report):
    _, long, regions = files
    res = run_cli(*_args(long, regions, tmp_path, "--start", "2001", "--reference", "2003", "-q"))
    assert res.code == 0, res.err
    yearly = read_tables(tmp_path / "out")["yearly.csv"]
    assert yearly["year"].tolist() == list(range(2001, 2009))


def test_year_outside_the_file_names_the_years_it_has(files, tmp_path, run_cli, quick_report):
    short, _, regions = files
    res = run_cli(*_args(short, regions, tmp_path, "--start", "1995", "--end", "2006", "-q"))
    assert res.code == 1
    assert res.err_lines == [
        f"gee-cscc run: error: Year 1995 is missing from NPP file {short} (the run asks for "
        "every year 1995–2006; missing: [1995, 1996, 1997, 1998, 1999, 2000]); it has the years "
        "2001–2006: set start/end (--start/--end) within them."
    ]
    assert not (tmp_path / "out").exists()


def test_inferred_years_without_a_valid_reference_say_where_they_came_from(
    files, tmp_path, run_cli, quick_report
):
    short, _, regions = files
    res = run_cli(*_args(short, regions, tmp_path, "-q"))  # reference_year 2000 by default
    assert res.code == 1
    assert res.err_lines[0].startswith(
        "gee-cscc run: error: reference_year: 2000 is outside 2003 … 2006"
    )
    assert f"(start/end taken from NPP file {short}, which has the years 2001–2006" in res.err


def test_subset_of_a_tif_folder(files, short_tables, tmp_path, run_cli, quick_report):
    folder = write_tif_folder(tmp_path / "tifs", long_cube())
    res = run_cli(*_args(folder, files[2], tmp_path, *SUBSET, "--reference", "2003", "-q"))
    assert res.code == 0, res.err
    assert_tables_close(short_tables, read_tables(tmp_path / "out"))


def test_subset_of_an_asset_and_years_from_an_asset(
    files, short_tables, tmp_path, run_cli, quick_report
):
    from gee_cscc.engine import AssetStore

    asset = "projects/local-project/assets/mine/npp_long"
    AssetStore(tmp_path / "store").put_collection(asset, long_cube(), band="npp")
    res = run_cli(*_args(asset, files[2], tmp_path, *SUBSET, "--reference", "2003"))
    assert res.code == 0, res.err
    assert any(
        line.endswith(f"NPP '{asset}' has the years 1999–2008; the run uses 2001–2006 (start/end)")
        for line in res.err_lines
    )
    assert_tables_close(short_tables, read_tables(tmp_path / "out"))
    res = run_cli(*_args(asset, files[2], tmp_path, "--reference", "2003", "-q"))
    assert res.code == 0, res.err  # the asset's years: 1999–2008
    assert read_tables(tmp_path / "out")["yearly.csv"]["year"].tolist() == LONG_YEARS
    res = run_cli(
        *_args(
            asset,
            files[2],
            tmp_path,
            "--start",
            "2001",
            "--end",
            "2010",
            "--reference",
            "2003",
            "-q",
        )
    )
    assert res.code == 1
    assert "Year 2009 is missing from NPP '" in res.err and "it has the years 1999–2008" in res.err


def test_run_file_years_select_the_subset(files, short_tables, tmp_path, run_cli, quick_report):
    _, long, regions = files
    run_file = tmp_path / "run.toml"
    run_file.write_text(
        f'[inputs]\nnpp = "{long}"\nregions = "{regions}"\n\n'
        "[years]\nstart = 2001\nend = 2006\nreference_year = 2003\n"
    )
    res = run_cli(
        "run", "--config", run_file, "--store", tmp_path / "store", "--out", tmp_path / "out", "-q"
    )
    assert res.code == 0, res.err
    assert_tables_close(short_tables, read_tables(tmp_path / "out"))


def test_python_api_subset_and_inference(files, short_tables, tmp_path, quick_report):
    _, long, regions = files
    res = gee_cscc.analyze(
        long_cube(), str(regions), start=2001, end=2006, reference_year=2003, store=tmp_path / "s"
    )
    assert res.config.years == tuple(YEARS)
    got = res.capacity.set_index("region")
    want = short_tables["capacity_by_region.csv"].set_index("region")
    np.testing.assert_allclose(
        got.loc[["A", "B"], "cscc_tg"], want.loc[["A", "B"], "cscc_tg"], rtol=1e-9
    )
    inferred = gee_cscc.analyze(str(long), str(regions), reference_year=2003, store=tmp_path / "s")
    assert inferred.config.years == tuple(LONG_YEARS)
    with pytest.raises(InputError, match=r"it has the years 1999–2008: set start/end"):
        gee_cscc.analyze(
            str(long), str(regions), start=1990, reference_year=2003, store=tmp_path / "s"
        )


def test_reader_checks_only_the_run_years(tmp_path):
    cube = long_cube()
    cube.loc[{"year": 2008}] = np.nan  # an empty year outside the run: not its concern
    path = tmp_path / "gap.nc"
    cube.to_dataset().to_netcdf(path)
    cfg = Config(start=2001, end=2006, reference_year=2003)
    src = read_npp(path, cfg=cfg)
    assert [int(y) for y in src.data["year"]] == LONG_YEARS  # stored whole, used in part
    with pytest.raises(InputError, match=r"^NPP year 2008 of NPP file .* has no valid cell"):
        read_npp(path, cfg=cfg.replace(end=2008))


@pytest.mark.parametrize(
    "years, text",
    [
        ([2001, 2002, 2003], "2001–2003"),
        ([1999, 2001, 2002, 2005], "1999, 2001–2002, 2005"),
        ([7], "7"),
    ],
)
def test_years_text(years, text):
    assert years_text(years) == text


def test_check_years_returns_the_run_years():
    cfg = Config(start=2001, end=2006, reference_year=2003)
    assert check_years(LONG_YEARS, cfg, "x") == tuple(YEARS)
