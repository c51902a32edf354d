"""xee end to end against the local engine: ``xr.open_dataset(..., engine="ee")``.

A stored annual collection (3 years × 4×5 pixels, float32, NaN = masked) must come back
exactly: the same numbers, NaN at the masked cells (and outside the stored extent), the
``time`` coordinate from ``system:time_start`` and the collection properties as attributes.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest
import xarray as xr

from gee_cscc.testing import cube_of

# xee multiplies affine.Affine objects with ``*``, which affine >= 3.1 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

NAN = np.nan
YEARS = [2001, 2002, 2003]
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)  # north-west corner (10°E, 50°N), 1° pixels

CUBE = np.array(
    [
        [
            [1.5, -2.0, 0.0, 4.25, NAN],
            [3.0, NAN, 7.5, -1.0, 2.0],
            [0.0, 5.0, -3.5, 6.0, 8.0],
            [NAN, 2.5, 1.0, -4.0, 9.0],
        ],
        [
            [2.0, 2.0, 2.0, 2.0, 2.0],
            [NAN, NAN, NAN, NAN, NAN],
            [-0.125, 1e6, 3.0, 4.0, 5.0],
            [6.0, 7.0, 8.0, 9.0, 10.0],
        ],
        [
            [NAN, 1.0, 1.0, 1.0, 1.0],
            [0.5, 0.5, 0.5, 0.5, 0.5],
            [123.5, NAN, -7.0, 0.0, 0.0],
            [1.0, 2.0, NAN, 4.0, 5.0],
        ],
    ],
    dtype=np.float32,
)


def _cube_array() -> xr.DataArray:
    a, _, c, _, _, f = TRANSFORM
    return cube_of(CUBE, YEARS, origin=(c, f), pixel_size=a, name=None, units=None)


@pytest.fixture(scope="module")
def collection_id(engine) -> str:
    asset = engine.asset_id("t/xee-module/npp")
    engine.store.put_collection(
        asset, _cube_array(), band="npp", properties={"title": "xee test cube"}
    )
    return asset


def open_ee(obj, transform=TRANSFORM, shape=(5, 4), **kwargs) -> xr.Dataset:
    return xr.open_dataset(
        obj,
        engine="ee",
        crs="EPSG:4326",
        crs_transform=transform,
        shape_2d=shape,
        getitem_kwargs={"max_retries": 0},
        **kwargs,
    )


def as_tyx(da: xr.DataArray) -> np.ndarray:
    """The values as (time, y, x) with y from north to south, as the stored cube."""
    out = da.transpose("time", "y", "x")
    if out["y"].values[0] < out["y"].values[-1]:
        out = out.isel(y=slice(None, None, -1))
    return out.values


def test_open_and_load_returns_the_stored_numbers(collection_id) -> None:
    ds = open_ee(ee.ImageCollection(collection_id)).load()
    assert list(ds.data_vars) == ["npp"]
    assert ds.sizes["time"] == 3
    got = as_tyx(ds["npp"])
    assert got.shape == CUBE.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(CUBE))
    np.testing.assert_array_equal(got, CUBE)  # NaN == NaN for assert_array_equal
    expected_times = np.array([f"{y}-01-01" for y in YEARS], dtype="datetime64[ns]")
    np.testing.assert_array_equal(ds["time"].values.astype("datetime64[ns]"), expected_times)
    assert ds.attrs.get("title") == "xee test cube"
    # Pixel centres: x from 10.5°E, y from 49.5°N (xee computes them from the transform).
    np.testing.assert_allclose(np.sort(ds["x"].values), 10.5 + np.arange(5))
    np.testing.assert_allclose(np.sort(ds["y"].values), 46.5 + np.arange(4))


def test_io_chunks_give_the_same_numbers(collection_id, monkeypatch) -> None:
    calls = []
    original = ee.data.computePixels

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ee.data, "computePixels", counting)
    ds = open_ee(ee.ImageCollection(collection_id), io_chunks={"time": 1, "x": 2, "y": 2}).load()
    np.testing.assert_array_equal(as_tyx(ds["npp"]), CUBE)
    # 3 time steps × 2 row blocks (4 rows by 2) × 3 column blocks (5 columns by 2).
    assert len(calls) == 18


def test_window_and_outside_extent(collection_id) -> None:
    # One pixel in from the north-west corner, 3 wide and 2 high: cube[:, 1:3, 1:4].
    inner = (1.0, 0.0, 11.0, 0.0, -1.0, 49.0)
    ds = open_ee(ee.ImageCollection(collection_id), transform=inner, shape=(3, 2)).load()
    np.testing.assert_array_equal(as_tyx(ds["npp"]), CUBE[:, 1:3, 1:4])
    # Two pixels west of the stored extent: the first two columns are outside → NaN.
    west = (1.0, 0.0, 8.0, 0.0, -1.0, 50.0)
    ds = open_ee(ee.ImageCollection(collection_id), transform=west, shape=(4, 4)).load()
    got = as_tyx(ds["npp"])
    assert np.isnan(got[:, :, :2]).all()
    np.testing.assert_array_equal(got[:, :, 2:], CUBE[:, :, :2])


def test_computed_collection(collection_id) -> None:
    col = (
        ee.ImageCollection(collection_id)
        .filterDate("2002-01-01", "2004-01-01")
        .map(lambda img: img.multiply(2).copyProperties(img, ["system:time_start"]))
    )
    ds = open_ee(col).load()
    assert ds.sizes["time"] == 2
    np.testing.assert_array_equal(as_tyx(ds["npp"]), CUBE[1:] * 2)


def test_image_wrapped_with_from_images(engine, collection_id) -> None:
    img = ee.Image(f"{collection_id}/2002")
    ds = open_ee(img).load()
    assert ds.sizes["time"] == 1
    np.testing.assert_array_equal(as_tyx(ds["npp"]), CUBE[1:2])
