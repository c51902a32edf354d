"""This session's new features used as a hostile user would: each bad input fails in one line
naming what is wrong, and OUT is neither created nor left half-written.

Findings (each fixed in the code): a ``--csr-pixel`` radius of thousands of cells allocated
gigabytes and failed minutes later with Earth Engine's request-size error; a self-intersecting
region polygon reached the engine (a GEOS traceback, no feature named); ``--npp ../x=SOURCE``
said "NPP input not found" instead of naming the bad product name.
"""

from __future__ import annotations

import json

import numpy as np
import pyogrio.raw
import pytest
import shapely
from helpers import cube_dataarray, regions_geojson
from input_files import cli

from gee_cscc.errors import ConfigError, InputError
from gee_cscc.method.csr_pixel import kernel_weights
from gee_cscc.method.grid import GridSpec
from gee_cscc.workflow.ensemble import product_specs
from gee_cscc.workflow.region_files import read_vector_regions

GRID = GridSpec("EPSG:4326", (1.0, 0.0, 100.0, 0.0, -1.0, 40.0), (5, 6))


def _beside(tmp_path) -> list[str]:
    return sorted(
        p.name for p in tmp_path.iterdir() if "-staging-" in p.name or "-aside-" in p.name
    )


def test_csr_pixel_radius_beyond_an_earth_engine_request_is_refused():
    with pytest.raises(ConfigError) as info:
        kernel_weights(GRID, "501cells")
    assert str(info.value) == (
        "csr_pixel: '501cells' spans 1003 × 1003 cells of the analysis grid; at most "
        "1001 × 1001 (a radius of 500 cells) fits an Earth Engine request: give a smaller "
        "radius (or a coarser --scale)"
    )
    # 1° cells: 60,000 km is ~540 cells north-south (the east-west side is capped at 180°)
    with pytest.raises(ConfigError, match=r"^csr_pixel: '60000km' spans \d+ × \d+ cells"):
        kernel_weights(GRID, "60000km")
    # the largest allowed kernel is built: 1001 × 1001, the disc dx² + dy² <= 500²
    weights = kernel_weights(GRID, "500cells")
    assert weights.shape == (1001, 1001)
    assert weights[500, 0] == 1 and weights[0, 0] == 0 and weights[500, 500] == 1


def test_huge_csr_pixel_fails_fast_in_one_line(tmp_path, monkeypatch):
    npp = tmp_path / "npp.nc"
    cube_dataarray().to_dataset().to_netcdf(npp)
    regions = tmp_path / "regions.geojson"
    regions.write_text(json.dumps(regions_geojson()))
    code, err = cli(
        tmp_path, monkeypatch, "--npp", npp, "--regions", regions, "--csr-pixel", "5000cells"
    )
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(
        "gee-cscc run: error: csr_pixel: '5000cells' spans 10001 × 10001 cells"
    ), err[0]
    assert not (tmp_path / "out").exists() and _beside(tmp_path) == []


def test_self_intersecting_region_is_refused_naming_the_feature(tmp_path):
    bowtie = shapely.Polygon([(100, 40), (103, 36), (103, 40), (100, 36), (100, 40)])
    path = tmp_path / "bow.gpkg"
    pyogrio.raw.write(
        path,
        np.array([shapely.to_wkb(bowtie), shapely.to_wkb(shapely.box(103, 36, 106, 40))]),
        [np.array(["A", "B"], dtype=object)],
        ["abbr"],
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    with pytest.raises(InputError) as info:
        read_vector_regions(path)
    assert str(info.value) == (
        f"Region file {path} (layer 'bow'): feature 1 (abbr = 'A') is not a valid polygon "
        "(Self-intersection[101.5 38]); repair it (e.g. QGIS 'Fix geometries' or "
        "shapely.make_valid) and give the file again."
    )


@pytest.mark.parametrize("value", ["../evil=npp.nc", "a/b=npp.nc", "..=npp.nc"])
def test_product_name_with_a_path_is_refused_as_a_name(value):
    with pytest.raises(ConfigError) as info:
        product_specs([value, "b=other.nc"])
    head = value.partition("=")[0]
    assert str(info.value) == (
        f"--npp {value}: product name {head!r} must start with a letter and hold at most 40 "
        "letters, digits, '_' or '-' (give NAME=SOURCE)"
    )


def test_existing_source_with_an_equals_sign_is_still_a_source(tmp_path):
    npp = tmp_path / "year=all" / "npp.nc"
    npp.parent.mkdir()
    npp.write_bytes(b"")
    specs = product_specs([str(npp), "b=other.nc"])
    assert [(s.name, s.npp) for s in specs] == [("npp", str(npp)), ("b", "other.nc")]


def test_compare_products_settings_for_a_product_not_given_are_refused(tmp_path):
    """A misspelt product name in ``settings`` used to be ignored: the product then ran
    without its scale factor and the call succeeded."""
    import gee_cscc

    with pytest.raises(ConfigError) as info:
        gee_cscc.compare_products(
            {"glopem": "a.nc", "modis": "b.nc"},
            "regions.geojson",
            out=tmp_path / "out",
            settings={"modsi": {"scale_factor": 0.1}},
        )
    assert str(info.value) == (
        "compare_products: settings for 'modsi', which is not a product of npp (glopem, modis)"
    )
    assert list(tmp_path.iterdir()) == []


def _zip(path, members: dict[str, bytes]):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_without_a_shapefile_at_its_top_is_refused_in_plain_words(tmp_path):
    """GDAL's own message suggested prefixing the path with a driver name."""
    empty = _zip(tmp_path / "none.zip", {"readme.txt": b"regions"})
    with pytest.raises(InputError) as info:
        read_vector_regions(empty)
    assert str(info.value) == (
        f"Region file {empty} holds no shapefile (.shp): zip the .shp with its .shx, .dbf and .prj."
    )
    nested = _zip(tmp_path / "nested.zip", {"prov/r.shp": b"", "prov/r.shx": b""})
    with pytest.raises(InputError) as info:
        read_vector_regions(nested)
    assert str(info.value) == (
        f"Region file {nested} holds its shapefile in a folder (prov/r.shp): zip the .shp, "
        ".shx, .dbf and .prj at the top level of the archive (or give the .shp itself)."
    )
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK not really")
    with pytest.raises(InputError, match=r"^Cannot read Region file .*broken\.zip: not a zip"):
        read_vector_regions(broken)


def test_product_names_differing_only_in_case_are_refused():
    """OUT/products/A and OUT/products/a are one folder on macOS and Windows: the second
    product's run would replace the first's folder."""
    with pytest.raises(ConfigError) as info:
        product_specs(["A=a.nc", "a=b.nc"])
    assert str(info.value) == (
        "--npp: product names 'A' and 'a' differ only in case (one folder on macOS and "
        "Windows): rename one"
    )
    with pytest.raises(ConfigError, match=r"^--npp: product name 'x' is given twice$"):
        product_specs(["x=a.nc", "x=b.nc"])


@pytest.mark.parametrize("name", ["a b", "../x", "x/../y"])
def test_run_file_product_table_with_a_bad_name_is_refused_as_given(name):
    """``[products."a b"]`` was renamed to ``a_b`` and then lost its own settings (its npp:
    "has no NPP source")."""
    with pytest.raises(ConfigError) as info:
        product_specs(None, {name: {"npp": "a.nc", "band": "b1"}, "b": {"npp": "b.nc"}})
    assert str(info.value) == (
        f"[products.{name}]: product name {name!r} must start with a letter and hold at most "
        "40 letters, digits, '_' or '-'"
    )


def test_many_missing_years_are_listed_as_ranges(tmp_path, monkeypatch):
    """A year coordinate holding a fill value (-1) made start -1: the message listed 2,000
    missing years one by one."""
    da = cube_dataarray()
    da = da.assign_coords(year=np.array([2001, 2002, 2003, 2004, 2005, -1]))
    npp = tmp_path / "npp.nc"
    da.to_dataset().to_netcdf(npp)
    regions = tmp_path / "regions.geojson"
    regions.write_text(json.dumps(regions_geojson()))
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", regions, years=())
    assert code == 1 and len(err) == 1, err
    assert err[0] == (
        f"gee-cscc run: error: Year 0 is missing from NPP file {npp} (the run asks for every "
        "year -1–2005; missing: 0–2000); it has the years -1, 2001–2005: set start/end "
        "(--start/--end) within them."
    )
    assert not (tmp_path / "out").exists() and _beside(tmp_path) == []


def _text_shapefile(path, names, encoding):
    pyogrio.raw.write(
        path,
        np.array(
            [
                shapely.to_wkb(shapely.box(100, 36, 103, 40)),
                shapely.to_wkb(shapely.box(103, 36, 106, 40)),
            ]
        ),
        [np.array(names, dtype=object)],
        ["abbr"],
        driver="ESRI Shapefile",
        geometry_type="Polygon",
        crs="EPSG:4326",
        encoding=encoding,
    )
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "latin1"])
def test_shapefile_text_without_cpg_keeps_its_names(tmp_path, encoding):
    """A UTF-8 shapefile without its .cpg was read as Latin-1: '北京' became 'å\\x8c\\x97äº¬'
    in every table, exit 0. Real Latin-1 text stays as it is."""
    names = ["北京", "Genève"] if encoding == "utf-8" else ["Zürich", "Genève"]
    shp = _text_shapefile(tmp_path / "r.shp", names, encoding)
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    got = [f["properties"]["abbr"] for f in read_vector_regions(shp)["features"]]
    assert got == names


def test_shortest_run_has_each_pcs_year_once():
    """start, reference_year = end: the default pcs_years repeated the last year, so the
    PCS raster had two 2003 layers and the new PCS-change figure failed ("Invalid shape
    (2, 5, 6) for image data", exit 1) on the shortest run the configuration allows."""
    from gee_cscc.config import Config

    cfg = Config(start=2001, end=2003, reference_year=2003)
    assert cfg.pcs_years == (2001, 2003)
    assert cfg.replace(end=2006).pcs_years == (2001, 2003, 2006)  # still follows the years
    assert Config(start=2001, end=2006, reference_year=2003).replace(end=2003).pcs_years == (
        2001,
        2003,
    )


@pytest.mark.slow
def test_shortest_run_with_the_real_figures(tmp_path):
    import rasterio

    from gee_cscc.cli.main import main

    cube = cube_dataarray()
    npp = tmp_path / "npp.nc"
    cube.to_dataset().to_netcdf(npp)
    regions = tmp_path / "regions.geojson"
    regions.write_text(json.dumps(regions_geojson()))
    out = tmp_path / "out"
    argv = ["run", "--npp", str(npp), "--regions", str(regions), "--start", "2001"]
    argv += ["--end", "2003", "--reference", "2003", "--capacity-sensitivity", "--quiet"]
    assert main([*argv, "--store", str(tmp_path / "store"), "--out", str(out)]) == 0
    assert (out / "figures" / "pcs_difference.png").is_file()
    y = cube.values[:3].astype(np.float64)
    valid = np.all(np.isfinite(y), axis=0)
    vca = valid & (np.where(valid, y.mean(axis=0), 0) > 0)
    with rasterio.open(out / "rasters" / "pcs.tif") as src:
        assert src.descriptions == ("pcs_2001", "pcs_2003")
        got = src.read().astype(np.float64)
    for k, year_index in enumerate((0, 2)):  # PCS = CSCC − NPP of the year, on the VCA
        want = y.max(axis=0) - y[year_index]
        np.testing.assert_allclose(got[k][vca], want[vca], rtol=1e-6)
