"""The files and previews of a run read its layers a strip of rows at a time.

``results.nc`` (report.netcdf), the GeoTIFFs (report.rasters), the colour-ramp sample
(report.map_preview.preview_sample) and the PCS difference (lazy_difference) are given
layers that are read lazily and record every read: no read may hold a whole layer, and the
values written must be the test's own NumPy arrays (in the storage type, with its no-data
value). The same files written from the layers in memory must hold the same values.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from gee_cscc.report import rasters as rasters_module
from gee_cscc.report.map_preview import lazy_difference, preview_sample
from gee_cscc.report.netcdf import write_netcdf
from gee_cscc.report.rasters import FileGrid, write_geotiffs

NY, NX = 1100, 700  # more than two 512-row bands


class _Recorded(BackendArray):
    """A NumPy array served lazily; ``reads`` lists the cells of every read."""

    def __init__(self, values: np.ndarray, reads: list[int]):
        self.values = values
        self.shape = values.shape
        self.dtype = values.dtype
        self.reads = reads

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw
        )

    def _raw(self, key):
        out = self.values[
            np.ix_(
                *(
                    np.arange(n)[k] if isinstance(k, slice) else np.atleast_1d(k)
                    for k, n in zip(key, self.shape, strict=True)
                )
            )
        ]
        self.reads.append(out.size)
        drop = tuple(0 if isinstance(k, (int, np.integer)) else slice(None) for k in key)
        return out[drop]


def _layers() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    cscc = rng.uniform(100, 900, (NY, NX)).astype(np.float32)
    cscc[:, :5] = np.nan
    trend = rng.integers(-2, 3, (NY, NX)).astype(np.float32)
    trend[7, :] = np.nan
    maint = rng.choice(np.array([-1, 0, 1, np.nan], np.float32), (3, NY, NX))
    return {"cscc": cscc, "trend_class": trend, "maintenance": maint}


def _dataset(arrays: dict[str, np.ndarray], reads: list[int] | None) -> xr.Dataset:
    coords = {
        "y": 50 - 0.01 * np.arange(NY),
        "x": 80 + 0.01 * np.arange(NX),
        "year": [2001, 2002, 2003],
    }
    out = {}
    for name, a in arrays.items():
        dims = ("y", "x") if a.ndim == 2 else ("year", "y", "x")
        data = a if reads is None else indexing.LazilyIndexedArray(_Recorded(a, reads))
        out[name] = xr.Variable(dims, data)
    return xr.Dataset(out, coords=coords)


@pytest.fixture
def grid():
    import pyproj

    transform = (0.01, 0.0, 79.995, 0.0, -0.01, 50.005)
    return FileGrid("EPSG:4326", pyproj.CRS.from_epsg(4326).to_wkt(), transform)


def _stored(a: np.ndarray, fill) -> np.ndarray:
    return np.where(np.isfinite(a), a, fill)


def test_netcdf_written_by_strips_holds_the_values(tmp_path, grid):
    arrays = _layers()
    reads: list[int] = []
    lazy = write_netcdf(
        _dataset(arrays, reads), tmp_path / "lazy.nc", grid, title="t", source="s", history="h"
    )
    assert reads and max(reads) <= 512 * NX < NY * NX  # never a whole layer
    whole = write_netcdf(
        _dataset(arrays, None), tmp_path / "whole.nc", grid, title="t", source="s", history="h"
    )
    with (
        xr.open_dataset(lazy, mask_and_scale=False) as a,
        xr.open_dataset(whole, mask_and_scale=False) as b,
    ):
        assert a["cscc"].dtype == np.float32
        np.testing.assert_array_equal(a["cscc"].values, arrays["cscc"])
        assert a["trend_class"].dtype == np.int8 and a["trend_class"].attrs["_FillValue"] == -128
        np.testing.assert_array_equal(a["trend_class"].values, _stored(arrays["trend_class"], -128))
        assert a["maintenance"].dims == ("year", "y", "x") and a["maintenance"].dtype == np.int8
        np.testing.assert_array_equal(a["maintenance"].values, _stored(arrays["maintenance"], -128))
        assert list(a["trend_class"].attrs["flag_values"]) == [-2, -1, 0, 1, 2]
        assert a["cscc"].attrs["grid_mapping"] == "crs" and "crs_wkt" in a["crs"].attrs
        for name in arrays:
            np.testing.assert_array_equal(a[name].values, b[name].values)
            assert a[name].attrs.keys() == b[name].attrs.keys()
            assert a[name].encoding["chunksizes"] == b[name].encoding["chunksizes"]
            assert a[name].encoding["zlib"] and a[name].encoding["shuffle"]


def test_geotiffs_read_by_strips(tmp_path, grid, monkeypatch):
    monkeypatch.setattr(rasters_module, "_BLOCK_CELLS", 1 << 16)
    arrays = _layers()
    reads: list[int] = []
    paths = write_geotiffs(_dataset(arrays, reads), tmp_path, grid, source="s")
    assert len(paths) == 3
    assert max(reads) <= 512 * NX  # a band of tiles of one year at a time
    with rasterio.open(tmp_path / "maintenance.tif") as f:
        assert f.count == 3 and f.dtypes[0] == "int8"
        np.testing.assert_array_equal(f.read(), _stored(arrays["maintenance"], -128))
    with rasterio.open(tmp_path / "cscc.tif") as f:
        np.testing.assert_array_equal(f.read(1), arrays["cscc"])


def test_a_widened_class_layer_is_found_by_strips(tmp_path, grid, monkeypatch):
    monkeypatch.setattr(rasters_module, "_BLOCK_CELLS", 1 << 16)
    arrays = {"trend_class": _layers()["trend_class"]}
    arrays["trend_class"][NY - 1, NX - 1] = 300  # in the last strip: int16 is needed
    reads: list[int] = []
    write_geotiffs(_dataset(arrays, reads), tmp_path, grid, source="s")
    with rasterio.open(tmp_path / "trend_class.tif") as f:
        assert f.dtypes[0] == "int16"
        np.testing.assert_array_equal(f.read(1), _stored(arrays["trend_class"], -32768))


def test_preview_sample_and_lazy_difference():
    arrays = _layers()
    reads: list[int] = []
    ds = _dataset(arrays, reads)
    small = preview_sample(ds["cscc"], max_cells=NY * NX)
    np.testing.assert_array_equal(small, arrays["cscc"])
    reads.clear()
    sample = preview_sample(ds["maintenance"], max_cells=20_000)
    step = int(np.ceil(np.sqrt(NY * NX / 20_000)))
    while np.ceil(NY / step) * np.ceil(NX / step) > 20_000:
        step += 1
    iy = np.minimum(np.arange(0, NY, step) + step // 2, NY - 1)
    ix = np.minimum(np.arange(0, NX, step) + step // 2, NX - 1)
    np.testing.assert_array_equal(sample, arrays["maintenance"][:, iy][:, :, ix])
    assert sum(reads) == sample.size  # only the sampled cells were read
    a, b = ds["maintenance"].isel(year=2), ds["maintenance"].isel(year=0)
    diff = lazy_difference(a, b)
    want = arrays["maintenance"][2] - arrays["maintenance"][0]
    reads.clear()
    np.testing.assert_array_equal(diff.isel(y=slice(10, 20)).values, want[10:20])
    assert max(reads) == 10 * NX
    np.testing.assert_array_equal(
        diff.isel(y=[3, 900], x=[1, 2, 600]).values, want[[3, 900]][:, [1, 2, 600]]
    )
    np.testing.assert_array_equal(diff.values, want)
    assert diff.dims == ("y", "x") and "year" not in diff.coords
    with pytest.raises(ValueError):
        lazy_difference(ds["cscc"], ds["maintenance"])
