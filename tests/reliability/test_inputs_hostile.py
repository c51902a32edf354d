"""A catalogue of hostile input files: each gets one clear line or the right numbers (issue 10).

Files, folders, names, encodings, empty files, symlinks, unreadable files, years (gaps,
duplicates, fractions, monthly steps, far-off years), region rasters (fractional, negative,
NaN, above 65535 and above int32 ids) and names CSVs (BOM, duplicates, missing ids). Reader
cases call the readers; end-to-end cases run ``gee-cscc run`` in this process.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import coords, reference, region_ids, regions_geojson, write_tif, write_tif_folder
from input_files import YEARS, capacity, cli, cube_with, geojson, make_cube, nc

from gee_cscc.errors import InputError
from gee_cscc.workflow.readers import (
    read_geojson,
    read_npp,
    read_region_names,
    read_region_raster,
)


def _raises(pattern: str, fn, *args, **kwargs) -> None:
    with pytest.raises(InputError, match=pattern) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


# --- NPP files and folders ------------------------------------------------------------------------


def test_empty_netcdf_file(tmp_path):
    path = tmp_path / "empty.nc"
    path.write_bytes(b"")
    _raises(rf"^Cannot read NPP file {re.escape(str(path))}: ", read_npp, path)


def test_text_file_named_nc(tmp_path):
    path = tmp_path / "notes.nc"
    path.write_text("year,npp\n2001,500\n")
    _raises(rf"^Cannot read NPP file {re.escape(str(path))}: ", read_npp, path)


def test_empty_folder(tmp_path):
    (tmp_path / "tifs").mkdir()
    _raises(r"^No GeoTIFF named \*_YYYY\.tif in ", read_npp, tmp_path / "tifs")


def test_stray_geotiff_in_year_folder(tmp_path):
    folder = write_tif_folder(tmp_path / "tifs", cube_with(make_cube()))
    write_tif(cube_with(make_cube()).isel(year=0, drop=True), folder / "mask.tif")
    _raises(r"^mask\.tif in .* is not named \*_YYYY\.tif: rename it", read_npp, folder)


def test_five_digit_year_in_a_file_name(tmp_path):
    folder = write_tif_folder(tmp_path / "tifs", cube_with(make_cube()))
    (folder / "npp_2006.tif").rename(folder / "npp_20066.tif")
    _raises(r"^npp_20066\.tif in .* is not named \*_YYYY\.tif", read_npp, folder)


def test_duplicate_year_in_folder(tmp_path):
    folder = write_tif_folder(tmp_path / "tifs", cube_with(make_cube()))
    write_tif(cube_with(make_cube()).isel(year=0, drop=True), folder / "npp-2001.tif")
    _raises(r"^Year 2001 appears twice in .*: npp-2001\.tif and npp_2001\.tif\.$", read_npp, folder)


def test_unicode_and_spaces_in_names(tmp_path):
    folder = tmp_path / "données NPP"
    folder.mkdir()
    cube = cube_with(make_cube())
    for year in YEARS:
        write_tif(cube.sel(year=year, drop=True), folder / f"npp été_{year}.tif")
    np.testing.assert_array_equal(read_npp(folder).data.values, cube.values)


def test_duplicate_years_in_netcdf(tmp_path):
    da = cube_with(make_cube()).assign_coords(year=[2001, 2002, 2002, 2003, 2004, 2005])
    _raises(
        r"^Year 2002 appears 2 times in NPP file .*: the input must be annual",
        read_npp,
        nc(tmp_path / "d.nc", da),
    )


def test_fractional_years(tmp_path):
    da = cube_with(make_cube()).assign_coords(year=[2001.5 + i for i in range(6)])
    _raises(
        r"the years \[2001\.5, 2002\.5, .* are not whole years", read_npp, nc(tmp_path / "f.nc", da)
    )


def test_monthly_time_steps(tmp_path):
    da = cube_with(make_cube()).rename(year="time")
    da = da.assign_coords(time=pd.date_range("2001-01-01", periods=6, freq="MS"))
    _raises(
        r"^Year 2001 appears 6 times in NPP file .*: the input must be annual",
        read_npp,
        nc(tmp_path / "m.nc", da),
    )


def test_time_that_is_not_a_date(tmp_path):
    da = cube_with(make_cube()).rename(year="time").assign_coords(time=np.arange(6.0))
    _raises(r"its 'time' coordinate is not a date\.$", read_npp, nc(tmp_path / "t.nc", da))


def test_year_gap_end_to_end(tmp_path, monkeypatch):
    da = cube_with(make_cube()).drop_sel(year=2004)
    code, err = cli(tmp_path, monkeypatch, "--npp", nc(tmp_path / "gap.nc", da))
    assert code == 1 and len(err) == 1
    assert "Year 2004 is missing from" in err[0] and "missing: [2004]" in err[0]


def test_far_off_year_end_to_end(tmp_path, monkeypatch):
    da = cube_with(make_cube()).assign_coords(year=[2001, 2002, 2003, 2004, 2005, 9999])
    code, err = cli(tmp_path, monkeypatch, "--npp", nc(tmp_path / "far.nc", da))
    assert code == 1 and len(err) == 1
    assert err[0] == (  # the years asked for are all needed; the file's others are not
        f"gee-cscc run: error: Year 2006 is missing from NPP file {tmp_path / 'far.nc'} (the "
        "run asks for every year 2001–2006; missing: [2006]); it has the years 2001–2005, "
        "9999: set start/end (--start/--end) within them."
    )


def test_symlinked_file_and_folder_read_like_the_target(tmp_path):
    cube = cube_with(make_cube())
    target = nc(tmp_path / "npp.nc", cube)
    (tmp_path / "link.nc").symlink_to(target)
    folder = write_tif_folder(tmp_path / "tifs", cube)
    (tmp_path / "tif_link").symlink_to(folder, target_is_directory=True)
    np.testing.assert_array_equal(read_npp(tmp_path / "link.nc").data.values, cube.values)
    np.testing.assert_array_equal(read_npp(tmp_path / "tif_link").data.values, cube.values)


def test_broken_symlink_end_to_end(tmp_path, monkeypatch):
    (tmp_path / "gone.nc").symlink_to(tmp_path / "missing.nc")
    code, err = cli(tmp_path, monkeypatch, "--npp", tmp_path / "gone.nc")
    assert (code, err) == (1, [f"gee-cscc run: error: NPP input not found: {tmp_path / 'gone.nc'}"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission")
def test_unreadable_file_for_real(tmp_path):
    path = nc(tmp_path / "locked.nc", cube_with(make_cube()))
    path.chmod(0)
    _raises(r"permission denied", read_npp, path)


def test_unreadable_files_say_permission_denied(tmp_path, monkeypatch):
    npp = nc(tmp_path / "locked.nc", cube_with(make_cube()))
    names = tmp_path / "names.csv"
    names.write_text("region_id,name\n1,A\n")
    gj = geojson(tmp_path / "r.geojson", regions_geojson())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(xr, "open_dataset", denied)
    monkeypatch.setattr("pathlib.Path.read_bytes", denied)
    _raises(rf"^Cannot read NPP file {re.escape(str(npp))}: permission denied\.$", read_npp, npp)
    _raises(
        r"^Cannot read region names file .*names\.csv: permission denied\.$",
        read_region_names,
        names,
    )
    _raises(r"^Cannot read region file .*r\.geojson: permission denied\.$", read_geojson, gj)


def test_missing_variable_named_with_band(tmp_path):
    path = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    _raises(
        r"^Band 'gpp' not found in NPP file .*; its variables are \['npp'\]",
        read_npp,
        path,
        band="gpp",
    )


def test_two_variables_and_none_named_npp(tmp_path):
    cube = cube_with(make_cube())
    ds = xr.Dataset({"a": cube, "b": cube})
    ds.to_netcdf(tmp_path / "two.nc")
    _raises(
        r"its variables are \['a', 'b'\]: name the NPP one with --band",
        read_npp,
        tmp_path / "two.nc",
    )


def test_string_coordinates(tmp_path):
    da = cube_with(make_cube()).assign_coords(x=[f"c{i}" for i in range(6)])
    _raises(r"the x coordinate must be 1-D numbers\.$", read_npp, nc(tmp_path / "s.nc", da))


# --- region rasters -------------------------------------------------------------------------------


def _raster(tmp_path, values: np.ndarray, name: str = "ids.tif", nodata=None):
    ys, xs = coords()
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs})
    return write_tif(da, tmp_path / name, nodata=nodata)


def test_fractional_region_ids(tmp_path):
    path = _raster(tmp_path, region_ids().astype(np.float32) * 1.5)
    _raises(r"has non-integer values; it must hold integer ids\.$", read_region_raster, path)


def test_negative_region_ids(tmp_path):
    path = _raster(tmp_path, region_ids() - 1)
    _raises(r"has negative ids \(lowest -1\)", read_region_raster, path)


def test_region_ids_beyond_int32(tmp_path):
    ids = region_ids().astype(np.int64) * 3_000_000_000
    _raises(
        r"has ids above 2147483647 \(largest 6000000000\)",
        read_region_raster,
        _raster(tmp_path, ids.astype(np.int64)),
    )


def test_raster_without_regions(tmp_path):
    path = _raster(tmp_path, np.zeros((5, 6), np.int32))
    _raises(r"has no region \(no id > 0\)\.$", read_region_raster, path)


def _tables_match_reference(out, names: dict[str, str]) -> None:
    table = capacity(out)
    ref = reference().capacity
    for label, ref_name in names.items():
        assert int(table.loc[label, "vca_cells"]) == ref[ref_name]["vca_cells"]
        assert table.loc[label, "cscc_tg"] == pytest.approx(ref[ref_name]["cscc_tg"], rel=1e-9)


def test_region_ids_above_65535_end_to_end(tmp_path, monkeypatch):
    ids = np.where(region_ids() == 1, 70000, np.where(region_ids() == 2, 100000, 0)).astype(
        np.int32
    )
    tif = _raster(tmp_path, ids)
    names = tmp_path / "names.csv"
    names.write_text("region_id,name\n70000,A\n100000,B\n")
    npp = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", tif, "--region-names", names)
    assert (code, err) == (0, [])
    _tables_match_reference(tmp_path / "out", {"A": "A", "B": "B", "ALL": "ALL"})


def test_nan_region_ids_are_outside_end_to_end(tmp_path, monkeypatch):
    ids = np.where(region_ids() == 0, np.nan, region_ids()).astype(np.float32)
    tif = _raster(tmp_path, ids, nodata=np.nan)
    np.testing.assert_array_equal(read_region_raster(tif).values, region_ids())
    npp = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    names = tmp_path / "names.csv"
    names.write_text("region_id,name\n1,A\n2,B\n")
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", tif, "--region-names", names)
    assert (code, err) == (0, [])
    _tables_match_reference(tmp_path / "out", {"A": "A", "B": "B"})


def test_names_csv_missing_an_id_names_it_by_number(tmp_path, monkeypatch):
    tif = _raster(tmp_path, region_ids())
    names = tmp_path / "names.csv"
    names.write_text("region_id,name\n1,A\n")
    npp = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", tif, "--region-names", names)
    assert (code, err) == (
        0,
        [f"warning: 1 region id(s) of {tif} have no name in the region names: named by the id (2)"],
    )
    assert list(capacity(tmp_path / "out").index) == ["ALL", "A", "2"]
    _tables_match_reference(tmp_path / "out", {"A": "A", "2": "B"})


# --- region names CSVs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"region_id,name\n1,A\n2,A\n", r"line 3: the name 'A' is given to region_id 1 and 2"),
        (b"region_id,name\n1,A\n1,B\n", r"line 3: region_id 1 is given twice\.$"),
        (b"id,label\n1,A\n", r"needs columns 'region_id' and 'name'\.$"),
        (b"", r"needs columns 'region_id' and 'name'\.$"),
        (b"region_id,name\n", r"names no region\.$"),
        (b"region_id,name\n0,Sea\n", r"line 2: region_id 0 must be >= 1 \(0 is outside\)\.$"),
        (b"region_id,name\n1.5,A\n", r"line 2: region_id '1\.5' is not an integer\.$"),
        (b"region_id,name\n1,\n", r"line 2: region_id 1 has an empty name\.$"),
        ("region_id,name\n1,Québec\n".encode("latin-1"), r"is not UTF-8 text"),
    ],
    ids=[
        "dup-name",
        "dup-id",
        "columns",
        "empty",
        "header-only",
        "id-0",
        "fraction",
        "no-name",
        "latin1",
    ],
)
def test_bad_names_csv(tmp_path, content, pattern):
    path = tmp_path / "names.csv"
    path.write_bytes(content)
    _raises(pattern, read_region_names, path)


def test_names_csv_with_bom_and_spaces(tmp_path):
    path = tmp_path / "names.csv"
    path.write_bytes("\ufeffregion_id , name\n 1 , Île \n2,B\n".encode())
    assert read_region_names(path) == {1: "Île", 2: "B"}


# --- GeoJSON files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", r"is not valid GeoJSON"),
        (b"[1, 2]", r"is not a GeoJSON FeatureCollection with features\.$"),
        (b'{"type": "FeatureCollection", "features": []}', r"with features\.$"),
        ('{"type": "FeatureCollection", "name": "é"}'.encode("latin-1"), r"is not UTF-8 text"),
    ],
    ids=["empty", "array", "no-features", "latin1"],
)
def test_bad_geojson_file(tmp_path, content, pattern):
    path = tmp_path / "r.geojson"
    path.write_bytes(content)
    _raises(pattern, read_geojson, path)


def _one(geometry) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"abbr": "A"}, "geometry": geometry}],
    }


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (
            _one({"type": "Point", "coordinates": [100, 35]}),
            r"feature 1 \(abbr = 'A'\) is a Point geometry; regions must be Polygon",
        ),
        (
            _one({"type": "Polygon", "coordinates": [[[100, 35], [101, 35]]]}),
            r"is malformed: a ring has fewer than 4 positions",
        ),
        (
            _one(
                {"type": "Polygon", "coordinates": [[[100, 35], [101, "x"], [101, 36], [100, 35]]]}
            ),
            r"is malformed: the position \[101, 'x'\]",
        ),
        (
            _one(
                {"type": "Polygon", "coordinates": [[[100, 35], [400, 35], [400, 36], [100, 35]]]}
            ),
            r"has coordinates outside longitude",
        ),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature"}]},
            r"feature 1 has no geometry \(null\)",
        ),
        (
            {"type": "FeatureCollection", "features": [[1, 2]]},
            r"feature 1 is not a GeoJSON Feature\.$",
        ),
        (
            {**regions_geojson(), "crs": {"type": "link", "properties": {"href": "x"}}},
            r"its 'crs' member .* is not a named CRS",
        ),
    ],
    ids=[
        "point",
        "short-ring",
        "text-coordinate",
        "lon-400",
        "no-geometry",
        "not-a-feature",
        "crs-link",
    ],
)
def test_bad_geojson_features(tmp_path, data, pattern):
    _raises(pattern, read_geojson, geojson(tmp_path / "r.geojson", data))


def test_geojson_nan_coordinate(tmp_path):
    path = tmp_path / "nan.geojson"
    path.write_text(
        json.dumps(
            _one({"type": "Polygon", "coordinates": [[[100, 35], [101, 35], [101, 36], [100, 35]]]})
        ).replace("36]", "NaN]")
    )
    _raises(
        r"is malformed: the position \[101, nan\] is not a pair of finite numbers",
        read_geojson,
        path,
    )


def test_geojson_with_bom_single_feature_and_crs84(tmp_path):
    feature = regions_geojson()["features"][0]
    feature_crs = {
        **feature,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    }
    path = tmp_path / "one.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(feature_crs).encode())
    got = read_geojson(path)
    assert got["type"] == "FeatureCollection" and "crs" not in got
    assert [f["geometry"] for f in got["features"]] == [feature["geometry"]]


def test_unknown_region_file_type_end_to_end(tmp_path, monkeypatch):
    kml = tmp_path / "regions.kml"
    kml.write_bytes(b"\x00" * 100)
    npp = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", kml)
    assert (code, err) == (
        1,
        [
            f"gee-cscc run: error: Unknown region file type '.kml' ({kml}): give a GeoJSON "
            "(.geojson), GeoPackage (.gpkg), shapefile (.shp or .zip) or region GeoTIFF (.tif)."
        ],
    )


def test_undeclared_fill_value_minus_9999(tmp_path):
    cube = make_cube()
    cube[2, 3, 4] = -9999.0  # 2003, no nodata declared: would lower the mean, not mask
    folder = tmp_path / "tifs"
    folder.mkdir()
    da = cube_with(cube)
    for year in YEARS:
        write_tif(da.sel(year=year, drop=True), folder / f"npp_{year}.tif", nodata=None)
    _raises(
        r"^NPP year 2003 of NPP file .*tifs has 1 cell\(s\) equal to -9999, a fill value the "
        r"file does not declare: declare it",
        read_npp,
        folder,
    )


def test_index_only_grid_is_refused(tmp_path):
    da = cube_with(make_cube()).drop_vars(["x", "y"])  # cells numbered 0, 1, … by xarray
    _raises(r"has no y coordinate values \(cell centres\)", read_npp, nc(tmp_path / "i.nc", da))


def test_rotated_geotiff_is_refused(tmp_path):
    import rasterio
    from affine import Affine

    folder = tmp_path / "tifs"
    folder.mkdir()
    for year in YEARS:
        profile = dict(driver="GTiff", width=6, height=5, count=1, dtype="float32", crs="EPSG:4326")
        profile["transform"] = Affine(1.0, 0.2, 100.0, 0.1, -1.0, 40.0)
        with rasterio.open(folder / f"npp_{year}.tif", "w", **profile) as dst:
            dst.write(np.full((1, 5, 6), 500.0, np.float32))
    _raises(
        r"npp_2001\.tif is rotated or sheared .*; warp it to a north-up grid first\.$",
        read_npp,
        folder,
    )


def test_empty_npp_name(tmp_path):
    _raises(
        r"^The NPP input is an empty name: give a file, a folder or an asset id\.$", read_npp, ""
    )


def test_a_named_region_without_cells_is_still_listed(tmp_path, monkeypatch):
    """METHOD.md: a region with no VCA cells is listed with zero counts (a names CSV id that
    the raster does not hold, as a small province on a coarse grid)."""
    tif = _raster(tmp_path, region_ids())
    names = tmp_path / "names.csv"
    names.write_text("region_id,name\n1,A\n2,B\n3,C\n")
    npp = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", tif, "--region-names", names)
    # --quiet (as every run here) still says so: the one line on stderr
    assert (code, err) == (0, [f"warning: 1 region(s) of {tif} hold no grid cell: C"])
    table = capacity(tmp_path / "out")
    assert list(table.index) == ["ALL", "A", "B", "C"]
    assert int(table.loc["C", "vca_cells"]) == 0 and table.loc["C", "cscc_tg"] == 0
    _tables_match_reference(tmp_path / "out", {"A": "A", "B": "B", "ALL": "ALL"})
