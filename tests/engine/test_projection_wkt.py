"""Projections PROJ does not know: MODIS's sinusoidal ``SR-ORG:6974`` in the local store.

The store keeps the code as Earth Engine reports it; ``Projection.wkt()`` gives Earth
Engine's WKT (whose ``semi_major``/``semi_minor`` PROJ would ignore); every computation is
on the MODIS sphere (R = 6371007.181 m). Expected numbers come from pyproj with the PROJ
string of the MODIS sinusoidal and from ``pyproj.Geod`` areas (gee_cscc.testing.geodesy).
"""

from __future__ import annotations

import ee
import numpy as np
import pyproj
import pytest
import rasterio
import xarray as xr

from gee_cscc.testing import compute_pixels, geodesic_area, grid

SINU = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
MODIS_CELL = 463.3127165279165
X0, Y0 = -20015109.354, 10007554.677


def _sinusoidal_image(engine, asset: str, shape=(3, 4), k: int = 200, row0=40, col0=230):
    size = MODIS_CELL * k
    t = (size, 0.0, X0 + col0 * size, 0.0, -size, Y0 - row0 * size)
    h, w = shape
    xs = t[2] + (np.arange(w) + 0.5) * size
    ys = t[5] - (np.arange(h) + 0.5) * size
    values = np.arange(h * w, dtype="int16").reshape(h, w)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs}, name="Npp")
    da.attrs.update(crs="SR-ORG:6974", transform=t)
    engine.store.put_image(asset, da, {"system:time_start": 978307200000})
    return t, values


def test_store_reports_the_code_and_earth_engines_wkt(engine, tmp_asset):
    asset = tmp_asset("sinu")
    t, _ = _sinusoidal_image(engine, asset)
    info = ee.Image(asset).getInfo()["bands"][0]
    assert info["crs"] == "SR-ORG:6974"
    assert info["crs_transform"] == pytest.approx(list(t), rel=1e-12)
    proj = ee.Image(asset).projection()
    assert proj.getInfo()["crs"] == "SR-ORG:6974"
    wkt = proj.wkt().getInfo()
    assert 'PARAMETER["semi_major", 6371007.181]' in wkt
    assert 'AUTHORITY["SR-ORG","6974"]' in wkt
    # PROJ alone reads that WKT on the WGS84 ellipsoid: the engine must not.
    naive = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_wkt(wkt), always_xy=True)
    sphere = pyproj.Transformer.from_crs("EPSG:4326", SINU, always_xy=True)
    assert abs(naive.transform(100, 40)[1] - sphere.transform(100, 40)[1]) > 10_000


def test_projection_from_earth_engines_wkt_is_the_code(engine):
    wkt = ee.Projection("SR-ORG:6974").wkt().getInfo()
    assert ee.Projection(wkt).crs().getInfo() == "SR-ORG:6974"


def test_pixel_lon_lat_and_area_on_the_modis_sphere(engine, tmp_asset):
    size = MODIS_CELL * 200
    t = [size, 0.0, X0 + 230 * size, 0.0, -size, Y0 - 40 * size]
    shape = (3, 4)
    g = grid(t, shape, "SR-ORG:6974")
    lonlat = compute_pixels(ee.Image.pixelLonLat(), g)
    area = compute_pixels(ee.Image.pixelArea(), g)["area"]
    inverse = pyproj.Transformer.from_crs(SINU, "EPSG:4326", always_xy=True)
    n = 400
    s = np.linspace(0.0, 1.0, n, endpoint=False)
    for r in range(shape[0]):
        for c in range(shape[1]):
            xc, yc = t[2] + (c + 0.5) * size, t[5] - (r + 0.5) * size
            lon, lat = inverse.transform(xc, yc)
            assert lonlat["longitude"][r, c] == pytest.approx(lon, abs=1e-9)
            assert lonlat["latitude"][r, c] == pytest.approx(lat, abs=1e-9)
            # The pixel's outline, densified along its straight sinusoidal edges.
            x0, x1 = t[2] + c * size, t[2] + (c + 1) * size
            y0, y1 = t[5] - r * size, t[5] - (r + 1) * size
            xs = np.concatenate(
                [x0 + (x1 - x0) * s, np.full(n, x1), x1 - (x1 - x0) * s, np.full(n, x0)]
            )
            ys = np.concatenate(
                [np.full(n, y0), y0 + (y1 - y0) * s, np.full(n, y1), y1 - (y1 - y0) * s]
            )
            lons, lats = inverse.transform(xs, ys)
            assert area[r, c] == pytest.approx(geodesic_area(lons, lats), rel=1e-6)


def test_geotiff_export_carries_the_modis_sphere(engine, tmp_asset, tmp_path):
    asset = tmp_asset("sinu")
    t, values = _sinusoidal_image(engine, asset)
    out = tmp_asset("copy")
    task = ee.batch.Export.image.toAsset(
        ee.Image(asset), assetId=out, crs="SR-ORG:6974", crsTransform=list(t), dimensions="4x3"
    )
    task.start()
    import time

    for _ in range(200):
        if task.status()["state"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.05)
    assert task.status()["state"] == "COMPLETED", task.status()
    info = ee.Image(out).getInfo()["bands"][0]
    assert info["crs"] == "SR-ORG:6974"  # the file's CRS is recognised again
    path = engine.store.asset_dir(engine.store.resolve(out)) / "data.tif"
    with rasterio.open(path) as src:
        crs = pyproj.CRS.from_wkt(src.crs.to_wkt())
        assert np.array_equal(src.read(1), values)
    tf = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ref = pyproj.Transformer.from_crs("EPSG:4326", SINU, always_xy=True)
    assert tf.transform(100.0, 40.0) == pytest.approx(ref.transform(100.0, 40.0), abs=1e-6)


def test_catalog_id_is_stored_in_the_public_catalog(engine):
    asset = "MODIS/061/GEE_CSCC_TEST_ONLY/2001_01_01"
    _sinusoidal_image(engine, asset)
    assert ee.data.getAsset(asset)["name"] == (
        "projects/earthengine-public/assets/MODIS/061/GEE_CSCC_TEST_ONLY/2001_01_01"
    )
    assert ee.Image(asset).bandNames().getInfo() == ["Npp"]


def test_unknown_code_is_earth_engines_invalid_crs(engine):
    with pytest.raises(ee.EEException, match="Invalid CRS"):
        ee.Projection("SR-ORG:1").getInfo()
