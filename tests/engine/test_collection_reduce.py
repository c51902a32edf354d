"""``ImageCollection.*`` compositing and reduction through the real ``ee`` client.

Output band names follow Earth Engine (``<band>_<output>`` for single-input reducers, the
reducer's own names for multi-input ones, band names for the ``max()``/``mean()`` …
shortcuts); composites have no fixed projection; values are checked against NumPy on the
stored cube.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.engine.raster import reduction
from gee_cscc.testing import cube_of, grid

YEARS = np.arange(2001, 2006)
H, W = 4, 5
SENTINEL = -99999
GRID = grid((0.5, 0.0, 30.0, 0.0, -0.5, 50.0), (H, W))
FOLDER = "t/test_collection_reduce"  # this module's assets in the session engine


def make_cube() -> np.ndarray:
    rng = np.random.default_rng(7)
    cube = rng.integers(-5, 30, size=(len(YEARS), H, W)).astype(float)
    cube[rng.random(cube.shape) < 0.25] = np.nan
    cube[:, 0, 0] = [4, 6, 6, 1, 6]  # tied maxima: earliest is 2002
    cube[:, 0, 1] = np.nan  # never valid
    cube[:, 0, 2] = [-3, np.nan, -3, -1, np.nan]
    return cube


CUBE = make_cube()


@pytest.fixture(scope="module")
def npp(engine) -> ee.ImageCollection:
    """The cube as a collection ``npp`` in the session engine."""
    asset = engine.asset_id(f"{FOLDER}/npp")
    da = cube_of(CUBE, YEARS, origin=(30.0, 50.0), pixel_size=0.5, crs=None, name=None, units=None)
    engine.store.put_collection(asset, da, band="npp")
    return ee.ImageCollection(asset)


def with_year(col: ee.ImageCollection) -> ee.ImageCollection:
    """Bands ``npp`` and ``t`` (the year)."""
    return col.map(
        lambda im: im.addBands(ee.Image.constant(ee.Number(im.get("year"))).toInt16().rename("t"))
    )


def pixels(image: ee.Image, grid: dict = GRID) -> dict[str, np.ndarray]:
    arr = ee.data.computePixels(
        {"expression": image.unmask(SENTINEL), "fileFormat": "NUMPY_NDARRAY", "grid": grid}
    )
    return {n: np.where(arr[n] == SENTINEL, np.nan, arr[n].astype(float)) for n in arr.dtype.names}


def nan_reduce(fn, cube: np.ndarray = CUBE) -> np.ndarray:
    """``fn`` over the valid years of each pixel; NaN where no year is valid."""
    out = np.full(cube.shape[1:], np.nan)
    for i in range(cube.shape[1]):
        for j in range(cube.shape[2]):
            v = cube[:, i, j][~np.isnan(cube[:, i, j])]
            if v.size:
                out[i, j] = fn(v)
    return out


def test_single_input_reducer_names_are_band_prefixed(npp):
    assert npp.reduce(ee.Reducer.mean()).bandNames().getInfo() == ["npp_mean"]
    two = with_year(npp)
    assert two.reduce(ee.Reducer.max()).bandNames().getInfo() == ["npp_max", "t_max"]
    assert two.reduce(ee.Reducer.minMax()).bandNames().getInfo() == [
        "npp_min",
        "npp_max",
        "t_min",
        "t_max",
    ]


def test_multi_input_reducer_names_are_the_outputs(npp):
    two = with_year(npp)
    assert two.reduce(ee.Reducer.max(2)).bandNames().getInfo() == ["max", "max1"]
    assert two.select(["t", "npp"]).reduce(ee.Reducer.linearFit()).bandNames().getInfo() == [
        "scale",
        "offset",
    ]


def test_reduce_values_and_masks(npp):
    got = pixels(npp.reduce(ee.Reducer.mean().combine(ee.Reducer.count(), "", True)))
    np.testing.assert_allclose(got["npp_mean"], nan_reduce(np.mean), rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(got["npp_count"], nan_reduce(len))
    assert np.isnan(got["npp_mean"][0, 1]) and np.isnan(got["npp_count"][0, 1])


def test_max_with_year_is_the_earliest_maximum(npp):
    got = pixels(with_year(npp).reduce(ee.Reducer.max(2)))
    np.testing.assert_array_equal(got["max"], nan_reduce(np.max))
    expected_year = np.full((H, W), np.nan)
    for i in range(H):
        for j in range(W):
            s = CUBE[:, i, j]
            if not np.isnan(s).all():
                expected_year[i, j] = YEARS[np.nanargmax(s)]  # first occurrence
    np.testing.assert_array_equal(got["max1"], expected_year)
    assert got["max1"][0, 0] == 2002


def test_composites_have_no_fixed_projection(npp):
    info = npp.reduce(ee.Reducer.mean()).getInfo()
    band = info["bands"][0]
    assert band["crs"] == "EPSG:4326"
    assert band["crs_transform"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert "dimensions" not in band
    proj = npp.max().projection().getInfo()
    assert proj["crs"] == "EPSG:4326" and proj["transform"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("method", "fn"),
    [
        ("max", np.max),
        ("min", np.min),
        ("mean", np.mean),
        ("sum", np.sum),
        ("count", len),
        ("median", np.median),
        ("product", np.prod),
    ],
)
def test_shortcuts_keep_band_names(npp, method, fn):
    image = getattr(npp, method)()
    assert image.bandNames().getInfo() == ["npp"]
    np.testing.assert_allclose(pixels(image)["npp"], nan_reduce(fn), rtol=1e-12, equal_nan=True)


def test_mosaic_puts_the_last_valid_image_on_top(npp):
    got = pixels(npp.mosaic())["npp"]
    assert list(pixels(npp.mosaic())) == ["npp"]
    np.testing.assert_array_equal(got, nan_reduce(lambda v: v[-1]))


def test_quality_mosaic_takes_all_bands_of_the_best_image(npp):
    got = pixels(with_year(npp).qualityMosaic("npp"))
    assert list(got) == ["npp", "t"]
    np.testing.assert_array_equal(got["npp"], nan_reduce(np.max))
    assert got["t"][0, 0] == 2002  # earliest of the tied maxima
    assert np.isnan(got["t"][0, 1])


def test_to_bands_and_merge_names(npp):
    assert npp.toBands().bandNames().getInfo() == [f"{y}_npp" for y in YEARS]
    merged = npp.limit(2).merge(npp.limit(1))
    assert merged.toBands().bandNames().getInfo() == ["1_2001_npp", "1_2002_npp", "2_2001_npp"]
    got = pixels(npp.toBands())
    np.testing.assert_array_equal(got["2003_npp"], CUBE[2])


def test_from_images_with_different_bands(engine):
    a = ee.Image.constant([1, 2]).rename(["a", "b"])
    b = ee.Image.constant(5).rename("a")
    col = ee.ImageCollection.fromImages([a, b])
    got = pixels(col.reduce(ee.Reducer.sum().combine(ee.Reducer.count(), "", True)))
    assert list(got) == ["a_sum", "a_count", "b_sum", "b_count"]
    assert (got["a_sum"] == 6).all() and (got["a_count"] == 2).all()
    assert (got["b_sum"] == 2).all() and (got["b_count"] == 1).all()


def test_tiled_composite_equals_untiled(npp, monkeypatch):
    sens = with_year(npp).select(["t", "npp"]).reduce(ee.Reducer.sensSlope())
    image = npp.reduce(ee.Reducer.median()).addBands(sens)
    whole = pixels(image)
    monkeypatch.setattr(reduction, "TILE", 2)  # 4x5 pixels in six tiles, some partial
    tiled = pixels(image)
    assert list(whole) == ["npp_median", "slope", "offset"]
    for name in whole:
        np.testing.assert_array_equal(tiled[name], whole[name])


def test_list_valued_outputs_are_refused(npp):
    # array outputs (linearRegression) become array bands: tests/engine/test_arrays.py
    with pytest.raises(ee.EEException, match="list or dictionary outputs per pixel are not"):
        npp.reduce(ee.Reducer.toList()).getInfo()


def test_input_count_mismatch_is_an_error(npp):
    with pytest.raises(ee.EEException, match=r"needs 2 inputs, but image 2001 has 1 bands"):
        npp.reduce(ee.Reducer.linearFit()).getInfo()


def test_load_checks_read_access(engine, npp):
    with engine.as_user("user:stranger@example.com"):
        with pytest.raises(ee.EEException, match="Permission denied"):
            npp.size().getInfo()
