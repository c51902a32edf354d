"""Regions as a GeoPackage or an ESRI shapefile (issue 12): the same tables as GeoJSON.

The region files are written here with pyogrio from the two boxes of ``tests/helpers.py``
(region A: columns 0–2, region B: columns 3–5 of rows 0–3 of the synthetic grid), in
EPSG:4326 and in other CRSs (Web Mercator, UTM 48N: reprojected to longitude/latitude with
pyproj on reading). The expected tables are those of the same run on the GeoJSON file and
Table 1 from NumPy (``input_files.capacity_reference``); a bad region file fails before
the NPP is stored (the store holds no NPP asset afterwards).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from helpers import (
    REFERENCE,
    TRANSFORM,
    YEARS,
    assert_tables_close,
    make_cube,
    read_tables,
    region_ids,
    regions_geojson,
    stub_report,
)
from input_files import capacity, capacity_reference, cli, geojson, nc
from pyproj import Transformer

import gee_cscc
from gee_cscc.cli.main import main
from gee_cscc.errors import InputError
from gee_cscc.workflow.region_files import read_vector_regions


def write_vector(
    path: Path,
    *,
    crs: str | None = "EPSG:4326",
    driver: str = "GPKG",
    layer: str | None = None,
    append: bool = False,
    names: tuple[str, str] = ("A", "B"),
) -> Path:
    """The helpers' two regions as a vector file, their coordinates projected to ``crs``."""
    features = regions_geojson()["features"]
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True) if crs else None
    geoms = []
    for feature in features:
        geom = shapely.geometry.shape(feature["geometry"])
        if to is not None and crs != "EPSG:4326":
            geom = shapely.transform(geom, lambda xy, t=to: np.column_stack(t.transform(*xy.T)))
        geoms.append(shapely.to_wkb(geom))
    pyogrio.raw.write(
        path,
        np.array(geoms, dtype=object),
        [np.array(names, dtype=object), np.array([f"Region {n}" for n in names], dtype=object)],
        ["abbr", "name"],
        layer=layer,
        driver=driver,
        geometry_type="Polygon",
        crs=crs,
        append=append,
    )
    return path


def test_geopackage_reads_as_the_geojson(tmp_path):
    got = read_vector_regions(write_vector(tmp_path / "r.gpkg"))
    want = regions_geojson()
    assert [f["properties"] for f in got["features"]] == [f["properties"] for f in want["features"]]
    for g, w in zip(got["features"], want["features"], strict=True):
        assert shapely.geometry.shape(g["geometry"]).equals(shapely.geometry.shape(w["geometry"]))


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:32648"])
def test_projected_shapefile_is_reprojected_to_lonlat(tmp_path, crs):
    got = read_vector_regions(write_vector(tmp_path / "r.shp", crs=crs, driver="ESRI Shapefile"))
    for g, w in zip(got["features"], regions_geojson()["features"], strict=True):
        ring = np.asarray(g["geometry"]["coordinates"][0])
        want = np.asarray(w["geometry"]["coordinates"][0])
        # The same corners (a shapefile may start its ring elsewhere and turn the other way).
        assert sorted(map(tuple, np.round(ring, 6))) == sorted(map(tuple, np.round(want, 6)))


def test_zipped_shapefile(tmp_path):
    shp = write_vector(tmp_path / "r.shp", crs="EPSG:3857", driver="ESRI Shapefile")
    archive = tmp_path / "regions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in tmp_path.glob("r.*"):
            z.write(f, f.name)
    got = read_vector_regions(archive)
    assert got == read_vector_regions(shp)


def test_geopackage_with_two_layers_needs_one_named(tmp_path):
    path = write_vector(tmp_path / "two.gpkg", layer="provinces")
    write_vector(path, layer="other", append=True, names=("X", "Y"))
    with pytest.raises(InputError) as info:
        read_vector_regions(path)
    assert str(info.value) == (
        f"Region file {path} has 2 layers (provinces, other): choose one with "
        "--regions-layer (regions_layer in [inputs] or in gee_cscc.analyze)."
    )
    names = [f["properties"]["abbr"] for f in read_vector_regions(path, layer="other")["features"]]
    assert names == ["X", "Y"]
    with pytest.raises(
        InputError, match=r"has no layer 'nope'; its layers are provinces, other\.$"
    ):
        read_vector_regions(path, layer="nope")


def test_shapefile_without_prj_in_metres_is_refused(tmp_path):
    shp = write_vector(tmp_path / "r.shp", crs="EPSG:3857", driver="ESRI Shapefile")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"declares no CRS \(a shapefile needs its \.prj\)"):
        read_vector_regions(shp)


def test_shapefile_without_dbf_is_refused(tmp_path):
    shp = write_vector(tmp_path / "r.shp", driver="ESRI Shapefile")
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(InputError, match=r"is a shapefile without its \.dbf file beside it"):
        read_vector_regions(shp)


# --- end to end: gee-cscc run gives the GeoJSON run's tables -----------------------------------


@pytest.fixture(scope="module")
def geojson_tables(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("geojson-run")
    mp = pytest.MonkeyPatch()
    try:
        npp = nc(tmp / "npp.nc", _cube())
        code, err = cli(
            tmp, mp, "--npp", npp, "--regions", geojson(tmp / "r.geojson", regions_geojson())
        )
    finally:
        mp.undo()
    assert (code, err) == (0, [])
    return read_tables(tmp / "out")


def _cube():
    from input_files import cube_with

    return cube_with(make_cube())


@pytest.mark.parametrize(
    "kind",
    ["gpkg", "shp-3857", "gpkg-layer"],
)
def test_vector_regions_give_the_geojson_tables(tmp_path, monkeypatch, geojson_tables, kind):
    more: tuple = ()
    if kind == "gpkg":
        regions = write_vector(tmp_path / "r.gpkg")
    elif kind == "gpkg-layer":
        regions = write_vector(tmp_path / "r.gpkg", layer="other", names=("X", "Y"))
        write_vector(regions, layer="provinces", append=True)
        more = ("--regions-layer", "provinces")
    else:
        regions = write_vector(tmp_path / "r.shp", crs="EPSG:3857", driver="ESRI Shapefile")
    npp = nc(tmp_path / "npp.nc", _cube())
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", regions, *more)
    assert (code, err) == (0, [])
    assert_tables_close(geojson_tables, read_tables(tmp_path / "out"))
    # And Table 1 from NumPy on the region masks (independent of the GeoJSON run).
    ids = region_ids()
    want = capacity_reference(make_cube(), TRANSFORM, {"A": ids == 1, "B": ids == 2})
    got = capacity(tmp_path / "out")
    for name in ("A", "B"):
        assert got.loc[name, "cscc_tg"] == pytest.approx(want[name]["cscc_tg"], rel=1e-9)


def _stored_npp(store: Path) -> list[str]:
    return [p.name for p in store.rglob("*") if p.name.startswith("npp-")]


@pytest.mark.parametrize(
    "problem, message",
    [
        ("no-name", "Region file {path}: feature 1 has no 'abbr' property (its properties: "),
        ("twice", "Region file {path}: features 1 and 2 are both named 'A' ('abbr')"),
        ("no-shx", "Region file {path} is a shapefile without its .shx file beside it"),
    ],
)
def test_bad_region_file_fails_before_the_npp_is_stored(tmp_path, monkeypatch, problem, message):
    if problem == "no-name":
        path = write_vector(tmp_path / "r.gpkg")
        data = read_vector_regions(path)
        for f in data["features"]:
            f["properties"] = {"name": f["properties"]["name"]}
        path = geojson(tmp_path / "r.geojson", data)
    elif problem == "twice":
        path = write_vector(tmp_path / "r.gpkg", names=("A", "A"))
    else:
        path = write_vector(tmp_path / "r.shp", driver="ESRI Shapefile")
        path.with_suffix(".shx").unlink()
    npp = nc(tmp_path / "npp.nc", _cube())
    code, err = cli(tmp_path, monkeypatch, "--npp", npp, "--regions", path)
    assert code == 1 and len(err) == 1
    assert err[0].startswith("gee-cscc run: error: " + message.format(path=path)), err[0]
    assert _stored_npp(tmp_path / "store") == []


def _two_layer_gpkg(path: Path) -> Path:
    write_vector(path, layer="other", names=("X", "Y"))
    return write_vector(path, layer="provinces", append=True)


def test_run_file_names_the_layer(tmp_path, geojson_tables, monkeypatch):
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    gpkg = _two_layer_gpkg(tmp_path / "r.gpkg")
    nc(tmp_path / "npp.nc", _cube())
    (tmp_path / "run.toml").write_text(
        '[inputs]\nnpp = "npp.nc"\nregions = "r.gpkg"\nregions_layer = "provinces"\n'
        f"[years]\nstart = {YEARS[0]}\nend = {YEARS[-1]}\nreference_year = {REFERENCE}\n"
    )
    argv = ["run", "--config", tmp_path / "run.toml", "--store", tmp_path / "store", "-q"]
    assert main([str(a) for a in (*argv, "--out", tmp_path / "out")]) == 0
    assert gpkg.exists()
    assert_tables_close(geojson_tables, read_tables(tmp_path / "out"))


def test_python_api_reads_a_geopackage_layer(tmp_path, geojson_tables):
    gpkg = _two_layer_gpkg(tmp_path / "r.gpkg")
    res = gee_cscc.analyze(
        _cube(), gpkg, regions_layer="provinces", reference_year=REFERENCE, store=tmp_path / "s"
    )
    want = geojson_tables["capacity_by_region.csv"].set_index("region")
    got = res.capacity.set_index("region")
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got["cscc_tg"], want["cscc_tg"], rtol=1e-9)
    with pytest.raises(InputError, match=r"has 2 layers \(other, provinces\)"):
        gee_cscc.analyze(_cube(), gpkg, reference_year=REFERENCE, store=tmp_path / "s")
