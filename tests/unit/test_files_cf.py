"""The raster files of a run, written from hand-made layers: results.nc (CF-1.8) and the
Cloud-Optimized GeoTIFFs (:mod:`gee_cscc.report.netcdf`, :mod:`gee_cscc.report.rasters`).

Expected values are the layers built here; CRS facts are checked against hand formulas
(the sinusoidal projection on the MODIS sphere) or the grid given to the writer.
"""

from __future__ import annotations

import math

import netCDF4
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from helpers import INTEGER_LAYERS
from rio_cogeo.cogeo import cog_validate

from gee_cscc.report.netcdf import write_netcdf
from gee_cscc.report.rasters import (
    SYNTHETIC_NOTE,
    FileGrid,
    layer_spec,
    storage_type,
    write_geotiffs,
)
from gee_cscc.testing.modis import MODIS_SINUSOIDAL_PROJ4

MODIS_R = 6371007.181
#: A grid a little larger than one 512-pixel tile, so the GeoTIFFs get an overview.
H, W = 530, 600
LONLAT = FileGrid("EPSG:4326", "", (0.05, 0.0, 100.0, 0.0, -0.05, 45.0))
#: The only dataset tags a GeoTIFF may carry (GDAL adds AREA_OR_POINT).
ALLOWED_TAGS = {"layer", "long_name", "source", "references", "AREA_OR_POINT"}


def _lonlat_grid() -> FileGrid:
    import pyproj

    return FileGrid(LONLAT.crs, pyproj.CRS.from_epsg(4326).to_wkt(), LONLAT.transform)


def _layers(grid: FileGrid, h: int = H, w: int = W, seed: int = 0) -> xr.Dataset:
    """Every layer kind of Results.rasters, NaN outside a VCA disc."""
    rng = np.random.default_rng(seed)
    a, _, c, _, e, f = grid.transform
    xs, ys = c + a * (np.arange(w) + 0.5), f + e * (np.arange(h) + 0.5)
    rows, cols = np.mgrid[0:h, 0:w]
    vca = ((rows - h / 2) ** 2 + (cols - w / 2) ** 2) < (min(h, w) / 2.2) ** 2

    def masked(values: np.ndarray) -> np.ndarray:
        return np.where(vca, values, np.nan).astype("float32")

    ds = xr.Dataset(
        {
            "vca": (("y", "x"), vca.astype("float32")),
            "cscc": (("y", "x"), masked(rng.uniform(100, 2000, (h, w)))),
            "cscc_year": (("y", "x"), masked(rng.integers(1981, 2019, (h, w)))),
            "trend_slope": (("y", "x"), masked(rng.normal(0, 5, (h, w)))),
            "trend_class": (("y", "x"), masked(rng.integers(-2, 3, (h, w)))),
            "trend_class_strict": (("y", "x"), masked(rng.integers(-2, 3, (h, w)))),
            "maintenance_years": (("y", "x"), masked(rng.integers(-19, 20, (h, w)))),
            "region": (("y", "x"), rng.integers(0, 35, (h, w)).astype("float32")),
            "trend_p": (("y", "x"), np.where(vca, rng.uniform(0, 1, (h, w)), np.nan)),
            "maintenance": (
                ("year", "y", "x"),
                np.stack([masked(rng.integers(-1, 2, (h, w))) for _ in range(3)]),
            ),
            "pcs": (("pcs_year", "y", "x"), np.stack([masked(rng.uniform(0, 500, (h, w)))] * 2)),
        },
        coords={"y": ys, "x": xs, "year": [2010, 2011, 2012], "pcs_year": [1981, 2018]},
    )
    # what xee leaves on pulled layers: must not reach the files
    ds["cscc"].attrs.update(crs_transform=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], id="value")
    return ds


@pytest.fixture(scope="module")
def lonlat_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    grid = _lonlat_grid()
    ds = _layers(grid)
    write_geotiffs(ds, folder, grid, source="gee_cscc test", synthetic=True)
    write_netcdf(
        ds, folder / "results.nc", grid, title="t", source="gee_cscc test", history="h",
        synthetic=True,
    )  # fmt: skip
    return folder, ds, grid


# --- results.nc ----------------------------------------------------------------------------


def test_netcdf_has_a_cf_grid_mapping_and_coordinate_attributes(lonlat_files):
    folder, ds, grid = lonlat_files
    with netCDF4.Dataset(folder / "results.nc") as nc:
        assert nc.Conventions == "CF-1.8"
        assert nc.synthetic == "true" and nc.comment == SYNTHETIC_NOTE
        assert nc.title.startswith("SYNTHETIC")
        assert "10.3389/ffgc.2023.1266688" in nc.references
        assert nc.source and nc.history
        crs = nc.variables["crs"]
        assert crs.grid_mapping_name == "latitude_longitude"
        assert crs.semi_major_axis == 6378137.0
        assert 'ID["EPSG",4326]' in crs.crs_wkt and crs.spatial_ref == crs.crs_wkt
        assert [float(v) for v in crs.GeoTransform.split()] == [100.0, 0.05, 0.0, 45.0, 0.0, -0.05]
        x, y = nc.variables["x"], nc.variables["y"]
        assert (x.standard_name, x.units, x.axis) == ("longitude", "degrees_east", "X")
        assert (y.standard_name, y.units, y.axis) == ("latitude", "degrees_north", "Y")
        np.testing.assert_allclose(x[:], 100.0 + 0.05 * (np.arange(W) + 0.5))
        for name in ds.data_vars:
            var = nc.variables[name]
            assert var.grid_mapping == "crs", name
            assert var.units and var.long_name, name
            assert "_FillValue" in var.ncattrs(), name
            assert "crs_transform" not in var.ncattrs() and "id" not in var.ncattrs(), name
            # the grid mapping is no coordinate: CF readers would take it for one
            assert "coordinates" not in var.ncattrs(), name


def test_netcdf_is_compressed_and_chunked_with_integer_classes(lonlat_files):
    folder, ds, _ = lonlat_files
    with netCDF4.Dataset(folder / "results.nc") as nc:
        for name in ds.data_vars:
            var = nc.variables[name]
            filters = var.filters()
            assert filters["zlib"] and filters["shuffle"] and filters["complevel"] >= 1
            want = INTEGER_LAYERS.get(name, "float32")
            assert var.dtype == np.dtype(want), name
            chunks = var.chunking()
            assert chunks[-2:] == [512, 512], name
            assert chunks[:-2] == [1] * (var.ndim - 2), name
        fill = nc.variables["trend_class"]._FillValue
        assert fill == -128
        assert list(nc.variables["trend_class"].flag_values) == [-2, -1, 0, 1, 2]
        assert len(nc.variables["trend_class"].flag_meanings.split()) == 5
        assert nc.variables["vca"]._FillValue == 255
        raw = nc.variables["trend_class"]
        raw.set_auto_mask(False)
        stored = raw[:]
        expected = ds["trend_class"].values
        np.testing.assert_array_equal(stored[np.isnan(expected)], -128)
        np.testing.assert_array_equal(stored[~np.isnan(expected)], expected[~np.isnan(expected)])
    size = (folder / "results.nc").stat().st_size
    raw_bytes = sum(v.values.astype("float32").nbytes for v in ds.data_vars.values())
    assert size < raw_bytes / 2, (size, raw_bytes)


def test_netcdf_reads_back_with_xarray_and_rioxarray(lonlat_files):
    folder, ds, grid = lonlat_files
    import rioxarray  # noqa: F401

    with xr.open_dataset(folder / "results.nc", decode_coords="all") as got:
        assert got.rio.crs.to_epsg() == 4326
        assert got["cscc"].rio.crs.to_epsg() == 4326
        assert tuple(got["cscc"].rio.transform())[:6] == pytest.approx(
            (0.05, 0.0, 100.0, 0.0, -0.05, 45.0)
        )
        for name in ds.data_vars:
            np.testing.assert_array_equal(
                got[name].values, ds[name].values.astype("float32"), err_msg=name
            )
        assert got["maintenance"]["year"].values.tolist() == [2010, 2011, 2012]
    with xr.open_dataset(folder / "results.nc") as plain:  # default decoding
        assert plain.rio.crs.to_epsg() == 4326
        assert plain.attrs["crs"] == "EPSG:4326"


def test_netcdf_of_a_sinusoidal_grid_has_the_sphere_and_lat_lon(tmp_path):
    """MODIS's sinusoidal grid: CF grid mapping 'sinusoidal' on R = 6371007.181 m and 2-D
    lat/lon from the inverse sinusoidal by hand (φ = y/R, λ = x/(R cos φ))."""
    import pyproj

    t = (926.625433, 0.0, 9_000_000.0, 0.0, -926.625433, 4_000_000.0)
    grid = FileGrid("SR-ORG:6974", pyproj.CRS.from_proj4(MODIS_SINUSOIDAL_PROJ4).to_wkt(), t)
    ds = _layers(grid, h=7, w=9)
    write_netcdf(ds, tmp_path / "r.nc", grid, title="t", source="s", history="h")
    with netCDF4.Dataset(tmp_path / "r.nc") as nc:
        crs = nc.variables["crs"]
        assert crs.grid_mapping_name == "sinusoidal"
        assert crs.GeoTransform.split()[0] == "9000000.0"
        assert nc.variables["x"].standard_name == "projection_x_coordinate"
        assert nc.variables["x"].units == "m"
        assert nc.variables["cscc"].coordinates == "lat lon"
        assert "synthetic" not in nc.ncattrs()
        xs, ys = nc.variables["x"][:], nc.variables["y"][:]
        lat, lon = nc.variables["lat"][:], nc.variables["lon"][:]
    phi = ys / MODIS_R
    np.testing.assert_allclose(lat, np.degrees(phi)[:, None] * np.ones((1, 9)), atol=1e-9)
    want_lon = np.degrees(xs[None, :] / (MODIS_R * np.cos(phi)[:, None]))
    np.testing.assert_allclose(lon, want_lon, atol=1e-9)
    import rioxarray  # noqa: F401

    with xr.open_dataset(tmp_path / "r.nc", decode_coords="all") as got:
        wkt = got.rio.crs.to_wkt()  # PROJ reads the sphere back
    gx, gy = pyproj.Transformer.from_crs("EPSG:4326", wkt, always_xy=True).transform(110.0, 35.0)
    assert gx == pytest.approx(MODIS_R * math.radians(110.0) * math.cos(math.radians(35.0)))
    assert gy == pytest.approx(MODIS_R * math.radians(35.0))
    with rasterio.open(f'NETCDF:"{tmp_path / "r.nc"}":trend_class') as src:  # GDAL reads it too
        assert tuple(src.transform)[:6] == pytest.approx(t, rel=1e-12)
        assert src.crs.to_dict()["R"] == MODIS_R
        assert (src.dtypes[0], src.nodata) == ("int8", -128)


# --- the GeoTIFFs -------------------------------------------------------------------------------


def test_geotiffs_are_valid_cogs_with_integer_classes(lonlat_files):
    folder, ds, grid = lonlat_files
    for name in ds.data_vars:
        path = folder / f"{name}.tif"
        valid, errors, warnings = cog_validate(str(path), strict=True)
        assert valid and not errors and not warnings, (name, errors, warnings)
        with rasterio.open(path) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert src.profile["tiled"] and src.block_shapes[0] == (512, 512), name
            assert src.compression.name.lower() == "deflate", name
            predictor = src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"]
            assert predictor == ("2" if name in INTEGER_LAYERS else "3"), name
            assert src.overviews(1) == [2], name
            assert src.dtypes[0] == INTEGER_LAYERS.get(name, "float32"), name
            assert src.crs.to_epsg() == 4326
            assert src.transform == Affine(0.05, 0.0, 100.0, 0.0, -0.05, 45.0)
            assert src.units == (layer_spec(name).units,) * src.count
            assert not src.tags(1).get("crs_transform")
            tags = src.tags()
            assert set(tags) - {"synthetic", "TIFFTAG_IMAGEDESCRIPTION"} <= ALLOWED_TAGS, tags
            assert tags["synthetic"] == "true" and tags["layer"] == name
            data = src.read(masked=True)
        expected = ds[name].values.astype("float32")
        expected = expected if expected.ndim == 3 else expected[None]
        np.testing.assert_array_equal(data.mask, np.isnan(expected), err_msg=name)
        np.testing.assert_array_equal(data.astype("float32").filled(np.nan), expected, err_msg=name)


def test_geotiff_nodata_and_band_descriptions(lonlat_files):
    folder, _, _ = lonlat_files
    nodata = {"trend_class": -128, "vca": 255, "region": -32768, "cscc": None}
    for name, value in nodata.items():
        with rasterio.open(folder / f"{name}.tif") as src:
            if value is None:
                assert math.isnan(src.nodata)
            else:
                assert src.nodata == value
    with rasterio.open(folder / "maintenance.tif") as src:
        assert src.descriptions == ("maintenance_2010", "maintenance_2011", "maintenance_2012")
        assert [src.tags(b)["year"] for b in (1, 2, 3)] == ["2010", "2011", "2012"]


def test_geotiff_of_a_sinusoidal_grid_keeps_the_modis_sphere(tmp_path):
    import pyproj

    t = (926.625433, 0.0, 9_000_000.0, 0.0, -926.625433, 4_000_000.0)
    grid = FileGrid("SR-ORG:6974", pyproj.CRS.from_proj4(MODIS_SINUSOIDAL_PROJ4).to_wkt(), t)
    write_geotiffs(_layers(grid, h=7, w=9)[["cscc"]], tmp_path, grid, source="s")
    with rasterio.open(tmp_path / "cscc.tif") as src:
        assert tuple(src.transform)[:6] == pytest.approx(t, rel=1e-12)
        to_xy = pyproj.Transformer.from_crs("EPSG:4326", src.crs.to_wkt(), always_xy=True)
        assert "synthetic" not in src.tags()
    gx, gy = to_xy.transform(110.0, 35.0)
    assert gx == pytest.approx(MODIS_R * math.radians(110.0) * math.cos(math.radians(35.0)))
    assert gy == pytest.approx(MODIS_R * math.radians(35.0))
    assert not list(tmp_path.glob(".*.tmp.tif"))


@pytest.mark.parametrize(
    ("name", "values", "want"),
    [
        ("trend_class", [-2.0, 2.0, np.nan], "int8"),
        ("region", [0.0, 40_000.0], "int32"),  # wider than int16
        ("maintenance_years", [-200.0, 5.0], "int16"),
        ("vca", [0.0, 255.0], "int16"),  # 255 is uint8's no-data value
        ("trend_class", [0.5, 1.0], "float32"),  # never rounded
        ("cscc_year", [np.nan, np.nan], "int16"),
        ("cscc", [1.0, 2.0], "float32"),
    ],
)
def test_storage_type_widens_and_never_rounds(name, values, want):
    assert storage_type(layer_spec(name), np.asarray(values, dtype="float64")) == want
