"""Grids and regions that used to give silent wrong answers or raw exceptions (issue 10).

Each case asserts the exact outcome: the one-line InputError (naming the file and what to do)
or the correct numbers against NumPy (``input_files.capacity_reference``).
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from helpers import (
    REFERENCE,
    coords,
    populate_store,
    reference,
    region_ids,
    regions_geojson,
    stub_report,
    write_tif,
)
from input_files import (
    YEARS,
    box,
    capacity,
    capacity_reference,
    cli,
    collection,
    cube_with,
    geojson,
    make_cube,
    nc,
)

from gee_cscc.cli.main import main
from gee_cscc.errors import InputError
from gee_cscc.testing import lonlat_cell_areas
from gee_cscc.workflow.readers import read_geojson, read_npp

# --- grids of NPP files ------------------------------------------------------------------------


def test_irregular_x_spacing_is_refused(tmp_path):
    da = cube_with(make_cube())
    xs = da["x"].values.copy()
    xs[3:] += 0.4  # one uneven step
    path = nc(tmp_path / "uneven.nc", da.assign_coords(x=xs))
    with pytest.raises(InputError, match=r"uneven\.nc: the x coordinates are not evenly spaced"):
        read_npp(path)


def test_south_up_file_is_read_north_up(tmp_path):
    da = cube_with(make_cube())
    path = nc(tmp_path / "south_up.nc", da.isel(y=slice(None, None, -1)))
    got = read_npp(path).data
    np.testing.assert_array_equal(got["y"].values, da["y"].values)
    np.testing.assert_array_equal(got.values, da.values)


def _global_0_360(res: float = 10.0) -> xr.DataArray:
    """A global cube on 0…360° longitudes (cell centres 5…355), 4 years, seeded values."""
    rng = np.random.default_rng(7)
    w, h = int(360 / res), int(180 / res)
    values = rng.uniform(100, 900, (4, h, w)).astype(np.float32)
    xs = res / 2 + res * np.arange(w)
    ys = 90 - res / 2 - res * np.arange(h)
    return xr.DataArray(
        values, dims=("year", "y", "x"), coords={"year": [2001, 2002, 2003, 2004], "y": ys, "x": xs}
    )


def test_0_360_grid_with_180_regions_gives_correct_region_rows(tmp_path, monkeypatch):
    da = _global_0_360()
    path = nc(tmp_path / "global_0_360.nc", da)
    west = box(-150.0, -60.0, 0.0, 60.0, "W")  # 210…300° in the file's longitudes
    east = box(30.0, 120.0, -60.0, 0.0, "E")
    regions = geojson(tmp_path / "r.geojson", collection(west, east))
    years = ("--start", "2001", "--end", "2004", "--reference", "2003")
    code, err = cli(tmp_path, monkeypatch, "--npp", path, "--regions", regions, years=years)
    assert (code, err) == (0, [])
    # NumPy: the same cube rolled to -180…180 (centres -175…175).
    lon = (da["x"].values + 180) % 360 - 180
    order = np.argsort(lon)
    cube = da.values[:, :, order]
    xs, ys = lon[order], da["y"].values
    xx, yy = np.meshgrid(xs, ys)
    masks = {
        "W": (xx > -150) & (xx < -60) & (yy > 0) & (yy < 60),
        "E": (xx > 30) & (xx < 120) & (yy > -60) & (yy < 0),
    }
    expected = capacity_reference(cube, (10.0, 0.0, -180.0, 0.0, -10.0, 90.0), masks)
    table = capacity(tmp_path / "out")
    for name, exp in expected.items():
        assert exp["vca_cells"] == 54
        assert int(table.loc[name, "vca_cells"]) == exp["vca_cells"]
        assert table.loc[name, "cscc_tg"] == pytest.approx(exp["cscc_tg"], rel=1e-6)
        assert table.loc[name, "current_npp_tg"] == pytest.approx(exp["current_npp_tg"], rel=1e-6)


def test_grid_wholly_east_of_180_is_shifted(tmp_path):
    da = cube_with(make_cube())
    shifted = da.assign_coords(x=da["x"].values + 100.0)  # 200.5 … 205.5
    got = read_npp(nc(tmp_path / "east.nc", shifted)).data
    np.testing.assert_allclose(got["x"].values, da["x"].values + 100.0 - 360.0)
    np.testing.assert_array_equal(got.values, da.values)


def test_regional_grid_across_180_is_refused(tmp_path):
    da = cube_with(make_cube())
    across = da.assign_coords(x=da["x"].values + 77.0)  # 177.5 … 182.5
    with pytest.raises(InputError, match=r"across\.nc spans longitudes 177…183°, across 180°"):
        read_npp(nc(tmp_path / "across.nc", across))


def test_projected_grid_without_crs_is_refused(tmp_path):
    da = cube_with(make_cube())
    metres = da.assign_coords(x=500000.0 + 1000 * np.arange(6), y=4.4e6 - 1000 * np.arange(5))
    with pytest.raises(InputError, match=r"metres\.nc declares no CRS and its coordinates are not"):
        read_npp(nc(tmp_path / "metres.nc", metres))


def test_projected_grid_with_cf_grid_mapping_keeps_its_crs(tmp_path):
    da = cube_with(make_cube())
    metres = da.assign_coords(x=500000.0 + 1000 * np.arange(6), y=4.4e6 - 1000 * np.arange(5))
    metres = metres.rio.write_crs("EPSG:32650")
    metres.rename("npp").to_dataset().to_netcdf(tmp_path / "utm.nc")
    got = read_npp(tmp_path / "utm.nc").data
    assert got.attrs["crs"] == "EPSG:32650"


def test_single_row_netcdf_is_refused(tmp_path):
    da = cube_with(make_cube()).isel(y=[2])
    with pytest.raises(InputError, match=r"row\.nc has a single cell along y, so its cell size"):
        read_npp(nc(tmp_path / "row.nc", da))


def test_single_pixel_geotiff_folder_keeps_its_cell_size(tmp_path):
    da = cube_with(make_cube()).isel(y=[1], x=[2])
    folder = tmp_path / "tifs"
    folder.mkdir()
    from affine import Affine

    for year in YEARS:
        one = da.sel(year=year, drop=True).rio.write_transform(Affine(1, 0, 102, 0, -1, 39))
        write_tif(one, folder / f"npp_{year}.tif")
    got = read_npp(folder).data
    assert got.shape == (6, 1, 1)
    assert got.attrs["transform"] == (1.0, 0.0, 102.0, 0.0, -1.0, 39.0)
    np.testing.assert_array_equal(got.values, da.values)


def test_multi_band_geotiff_in_year_folder_is_refused(tmp_path):
    da = cube_with(make_cube())
    folder = tmp_path / "tifs"
    folder.mkdir()
    for year in YEARS:
        two = xr.concat([da.sel(year=year, drop=True)] * 2, dim="band").assign_coords(band=[1, 2])
        write_tif(two, folder / f"npp_{year}.tif")
    with pytest.raises(InputError, match=r"npp_2001\.tif has 2 bands; it must have one band"):
        read_npp(folder)


def test_4d_netcdf_is_refused_and_a_size_1_level_is_dropped(tmp_path):
    da = cube_with(make_cube())
    four = xr.concat([da, da], dim="level").transpose("year", "level", "y", "x")
    with pytest.raises(InputError, match=r"select one level first"):
        read_npp(nc(tmp_path / "4d.nc", four))
    one = da.expand_dims(level=[850])
    got = read_npp(nc(tmp_path / "4d1.nc", one)).data
    np.testing.assert_array_equal(got.values, da.values)


# --- region files ------------------------------------------------------------------------------


def _to_3857(gj: dict) -> dict:
    from pyproj import Transformer

    tf = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    out = json.loads(json.dumps(gj))
    for f in out["features"]:
        ring = f["geometry"]["coordinates"][0]
        f["geometry"]["coordinates"][0] = [list(tf.transform(x, y)) for x, y in ring]
    out["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    return out


def test_geojson_crs_member_is_honoured(tmp_path, monkeypatch):
    cube = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    regions = geojson(tmp_path / "r3857.geojson", _to_3857(regions_geojson()))
    code, err = cli(tmp_path, monkeypatch, "--npp", cube, "--regions", regions)
    assert (code, err) == (0, [])
    table = capacity(tmp_path / "out")
    ref = reference().capacity
    for name in ("A", "B"):
        assert int(table.loc[name, "vca_cells"]) == ref[name]["vca_cells"]
        assert table.loc[name, "cscc_tg"] == pytest.approx(ref[name]["cscc_tg"], rel=1e-9)


def test_geojson_in_metres_without_crs_is_refused(tmp_path):
    gj = _to_3857(regions_geojson())
    del gj["crs"]
    path = geojson(tmp_path / "metres.geojson", gj)
    with pytest.raises(InputError, match=r"feature 1 \(abbr = 'A'\) has coordinates outside"):
        read_geojson(path)


def test_geojson_unknown_crs_is_refused(tmp_path):
    gj = regions_geojson()
    gj["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}}
    with pytest.raises(InputError, match=r"unknown CRS 'urn:ogc:def:crs:EPSG::999999'"):
        read_geojson(geojson(tmp_path / "bad_crs.geojson", gj))


def test_null_geometry_names_the_feature(tmp_path):
    gj = regions_geojson()
    gj["features"][1]["geometry"] = None
    with pytest.raises(
        InputError, match=r"null\.geojson: feature 2 \(abbr = 'B'\) has no geometry \(null\)"
    ):
        read_geojson(geojson(tmp_path / "null.geojson", gj))


def test_regions_that_miss_the_grid_are_refused(tmp_path, monkeypatch):
    cube = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    far = geojson(tmp_path / "far.geojson", collection(box(-50, -40, 0, 10, "X")))
    code, err = cli(tmp_path, monkeypatch, "--npp", cube, "--regions", far)
    assert code == 1 and len(err) == 1
    assert "do not overlap the NPP grid EPSG:4326 6x5 px of 1x1 at (100, 40)" in err[0]


def test_regions_between_cell_centres_are_refused(tmp_path, monkeypatch):
    # The box meets the grid but holds no cell centre (pixel-centre rule): nothing counted.
    cube = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    tiny = geojson(tmp_path / "tiny.geojson", collection(box(100.1, 100.4, 38.1, 38.4, "T")))
    code, err = cli(tmp_path, monkeypatch, "--npp", cube, "--regions", tiny)
    assert code == 1 and len(err) == 1
    assert f"The regions {tiny} do not overlap the NPP grid" in err[0]
    assert "no cell centre lies in any region" in err[0]


def test_overlapping_regions_are_counted_and_reported(tmp_path, monkeypatch):
    cube = nc(tmp_path / "npp.nc", cube_with(make_cube()))
    gj = regions_geojson()
    gj["features"].append(box(101.0, 105.0, 37.0, 39.0, "C"))  # over parts of A and B
    regions = geojson(tmp_path / "overlap.geojson", gj)
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    err = io.StringIO()
    argv = ["run", "--npp", str(cube), "--regions", str(regions), "--start", "2001"]
    argv += ["--end", "2006", "--reference", str(REFERENCE), "--store", str(tmp_path / "s")]
    with contextlib.redirect_stderr(err):
        assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    ys, xs = coords()
    xx, yy = np.meshgrid(xs, ys)
    in_a = (xx > 100) & (xx < 103) & (yy > 35) & (yy < 40)
    in_b = (xx > 103) & (xx < 106) & (yy > 36) & (yy < 40)
    in_c = (xx > 101) & (xx < 105) & (yy > 37) & (yy < 39)
    shared = (in_a.astype(int) + in_b + in_c) > 1
    area_km2 = float(lonlat_cell_areas((1.0, 0, 100.0, 0, -1.0, 40.0), (5, 6))[shared].sum()) / 1e6
    assert int(shared.sum()) == 8
    lines = [line for line in err.getvalue().splitlines() if "warning:" in line]
    assert len(lines) == 1
    assert lines[0].endswith(
        f"warning: 8 cell(s) ({area_km2:.6g} km²) lie in more than one region of {regions}; "
        "each is counted in the last of them (in file order)"
    )
    checks = json.loads((tmp_path / "out" / "run.json").read_text())["summary"]["input_checks"]
    assert checks["overlap_cells"] == 8
    assert checks["overlap_area_km2"] == pytest.approx(area_km2, rel=1e-9)


def test_region_raster_two_rows_short_is_refused_for_an_asset_input(tmp_path, monkeypatch):
    ids = populate_store(tmp_path / "store")
    ys, xs = coords()
    short = xr.DataArray(region_ids()[:3], dims=("y", "x"), coords={"y": ys[:3], "x": xs})
    tif = write_tif(short, tmp_path / "short.tif", nodata=None)
    code, err = cli(tmp_path, monkeypatch, "--npp", ids.npp, "--regions", tif)
    assert code == 1 and len(err) == 1
    assert f"The region raster {tif} is on another grid than the NPP input {ids.npp}" in err[0]
    assert "EPSG:4326 6x3 px of 1x1 at (100, 40) vs EPSG:4326 6x5 px" in err[0]


def test_region_image_asset_on_another_grid_is_refused(tmp_path, monkeypatch):
    from gee_cscc.engine import AssetStore

    ids = populate_store(tmp_path / "store")
    ys, xs = coords()
    short = xr.DataArray(region_ids()[2:], dims=("y", "x"), coords={"y": ys[2:], "x": xs})
    image = "projects/local-project/assets/mine/short_ids"
    AssetStore(tmp_path / "store").put_image(image, short.rename("region"))
    code, err = cli(tmp_path, monkeypatch, "--npp", ids.npp, "--regions", image)
    assert code == 1 and len(err) == 1
    assert f"The region raster {image} is on another grid than the NPP input {ids.npp}" in err[0]
    assert "EPSG:4326 6x3 px of 1x1 at (100, 38) vs EPSG:4326 6x5 px of 1x1 at (100, 40)" in err[0]


def test_single_pixel_geotiff_run_is_right(tmp_path, monkeypatch):
    from affine import Affine

    cube = make_cube()
    da = cube_with(cube).isel(y=[1], x=[2])
    folder = tmp_path / "px"
    folder.mkdir()
    for year in YEARS:
        one = da.sel(year=year, drop=True).rio.write_transform(Affine(1, 0, 102, 0, -1, 39))
        write_tif(one, folder / f"npp_{year}.tif")
    code, err = cli(tmp_path, monkeypatch, "--npp", folder)
    assert (code, err) == (0, [])
    series = cube[:, 1, 2].astype(np.float64)
    area = float(lonlat_cell_areas((1.0, 0.0, 102.0, 0.0, -1.0, 39.0), (1, 1))[0, 0])
    row = capacity(tmp_path / "out").loc["ALL"]
    assert int(row["vca_cells"]) == 1
    assert row["cscc_tg"] == pytest.approx(series.max() * area / 1e12, rel=1e-9)
    assert row["current_npp_tg"] == pytest.approx(series[-1] * area / 1e12, rel=1e-9)


def test_region_image_check_counts_cells_and_names_empty_regions(engine, tmp_asset):
    import ee

    from gee_cscc.config import Config
    from gee_cscc.method import load_annual_npp, regions_from_image
    from gee_cscc.method.checks import check_inputs

    npp = tmp_asset("npp")
    engine.store.put_collection(npp, cube_with(make_cube()), band="npp")
    ys, xs = coords()
    image = tmp_asset("ids")
    engine.store.put_image(
        image, xr.DataArray(region_ids(), dims=("y", "x"), coords={"y": ys, "x": xs})
    )
    regions = regions_from_image(
        ee.Image(image), names={1: "A", 2: "B", 3: "C"}, ids=[1, 2, 3], source="ids.tif"
    )
    cfg = Config(start=YEARS[0], end=YEARS[-1], reference_year=REFERENCE)
    warnings: list[str] = []
    report = check_inputs(load_annual_npp(npp, cfg), regions, cfg, warn=warnings.append)
    assert report["region_cells"] == int((region_ids() > 0).sum()) == 27
    assert report["regions_without_cells"] == ["C"]
    assert "overlap_cells" not in report  # an id image cannot overlap itself
    assert warnings == ["warning: 1 region(s) of ids.tif hold no grid cell: C"]
