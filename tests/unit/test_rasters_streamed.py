"""The GeoTIFF writer works a block of rows at a time (report.rasters).

Choosing a categorical layer's storage type and writing it used to make whole copies of
the layer (its finite values, their rounding, the no-data fill): for the maintenance cube
several copies of a ``(year, y, x)`` array. Checked here: the traced memory of writing a
categorical cube stays a small fraction of the cube, the values read back are the ones a
plain NumPy conversion gives, and the storage type is chosen as before on hand cases.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import rasterio
import xarray as xr

from gee_cscc.report.rasters import FileGrid, layer_spec, storage_type, write_geotiffs

GRID = FileGrid("EPSG:4326", "", (0.01, 0.0, 100.0, 0.0, -0.01, 40.0))


def _maintenance(shape: tuple[int, int, int]) -> xr.DataArray:
    rng = np.random.default_rng(3)
    values = rng.integers(-1, 2, size=shape).astype(np.float32)
    values[:, :5, :7] = np.nan  # outside the VCA
    return xr.DataArray(
        values, dims=("year", "y", "x"), coords={"year": 2000 + np.arange(shape[0])}
    )


def test_writing_a_categorical_cube_makes_no_whole_copy(tmp_path):
    cube = _maintenance((8, 768, 512))
    ds = xr.Dataset({"maintenance": cube})
    write_geotiffs(ds, tmp_path / "warm", GRID, source="test")  # imports, GDAL start
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        (path,) = write_geotiffs(ds, tmp_path / "out", GRID, source="test")
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 0.35 * cube.values.nbytes, peak / cube.values.nbytes
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "int8" and src.nodata == -128
        got = src.read()
    want = np.where(np.isnan(cube.values), -128, cube.values).astype(np.int8)
    np.testing.assert_array_equal(got, want)


def test_storage_type_hand_cases():
    spec = layer_spec("maintenance")
    assert storage_type(spec, np.array([[-1.0, 0.0, np.nan], [1.0, 1.0, 0.0]])) == "int8"
    assert storage_type(spec, np.array([[np.nan, np.nan]])) == "int8"  # no value at all
    assert storage_type(spec, np.array([[-1.0, 0.5]])) == "float32"  # never rounded
    assert storage_type(spec, np.array([[300.0, -1.0]])) == "int16"  # wider
    assert storage_type(spec, np.array([[-128.0]])) == "int16"  # the fill is not a value
    assert storage_type(layer_spec("vca"), np.array([[0, 1, 254]], dtype=np.int64)) == "uint8"
    assert storage_type(layer_spec("vca"), np.array([[0, 255]], dtype=np.int64)) == "int16"
    # a non-integral value in a later block is still found
    big = np.zeros((3000, 1000), dtype=np.float32)
    big[-1, -1] = 0.25
    assert storage_type(spec, big) == "float32"
    assert storage_type(layer_spec("cscc"), np.array([[1.0]])) == "float32"
