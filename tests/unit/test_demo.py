"""The synthetic demo NPP (gee_cscc.demo.synthetic), checked against plain NumPy readings of METHOD.md
§1–2 and the paper's published Table 1 (not against helpers of the module under test)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import xarray as xr
from shapely.geometry import Point, shape

from gee_cscc.demo.provinces import PROVINCE_ABBRS, load_provinces
from gee_cscc.demo.synthetic import demo_npp, demo_regions
from gee_cscc.errors import ConfigError
from gee_cscc.testing import lonlat_cell_area

# Wu et al. (2023), Table 1: CSCC and 2018 NPP, Tg C yr⁻¹ (Macau is not listed).
TABLE1 = {
    "HUN": (141.23, 113.59), "ZJ": (72.14, 60.88), "HUB": (131.97, 108.52),
    "YN": (333.06, 274.95), "HLJ": (361.66, 300.07), "XJ": (240.61, 114.40),
    "HN": (141.81, 124.81), "HK": (0.23, 0.17), "BJ": (11.26, 9.01), "TB": (143.54, 85.93),
    "TJ": (7.05, 5.47), "TW": (25.74, 20.71), "HAN": (24.31, 19.55), "SC": (261.63, 191.73),
    "GZ": (127.07, 102.28), "SAX": (135.70, 120.92), "GX": (192.13, 152.10),
    "SX": (93.30, 81.43), "GS": (102.03, 80.96), "SD": (108.17, 95.49), "FJ": (103.97, 94.62),
    "QH": (92.30, 61.41), "AH": (112.35, 95.11), "NX": (14.89, 12.85), "SH": (2.95, 1.64),
    "IM": (413.95, 315.37), "CQ": (62.99, 47.69), "LN": (102.41, 87.26), "JS": (54.93, 42.84),
    "JX": (116.23, 99.37), "GD": (133.40, 110.20), "JL": (140.39, 114.12),
    "HB": (128.94, 109.81),
}  # fmt: skip
PAPER_MEAN_CSCC = 658.59  # g C m⁻² yr⁻¹, paper §4.1


def cell_area_m2(lat_centres: np.ndarray, res: float) -> np.ndarray:
    """Ellipsoidal area (m²) of one res × res cell per row, by pyproj.Geod on a polygon whose
    edges follow the parallels (densified so that geodesic edges hug them)."""
    return np.asarray(
        [lonlat_cell_area(0.0, lat - res / 2, res, lat + res / 2, n=41) for lat in lat_centres]
    )


def capacity_by_region(npp: xr.DataArray, regions: np.ndarray) -> dict:
    """METHOD.md §1–2 in plain NumPy: VCA, CSCC and last-year totals per region (Tg)."""
    y = npp.values.astype(np.float64)
    res = abs(float(npp.x[1] - npp.x[0]))
    area = np.broadcast_to(cell_area_m2(npp.y.values, res)[:, None], y.shape[1:])
    valid = np.isfinite(y).all(axis=0)
    vca = valid & (np.where(valid, y, 0).mean(axis=0) > 0)
    cscc = np.where(vca, y.max(axis=0, initial=-np.inf, where=np.isfinite(y)), 0.0)
    last = np.where(vca, y[-1], 0.0)
    out = {"_mean_cscc": (cscc * area)[vca].sum() / area[vca].sum(), "_vca": vca}
    for i, abbr in enumerate(PROVINCE_ABBRS):
        sel = vca & (regions == i + 1)
        out[abbr] = (
            (cscc * area)[sel].sum() / 1e12,
            (last * area)[sel].sum() / 1e12,
            area[sel].sum(),
        )
    return out


def assert_calibrated(npp: xr.DataArray, regions: np.ndarray) -> None:
    got = capacity_by_region(npp, regions)
    for abbr, (cscc, last) in TABLE1.items():
        assert got[abbr][0] == pytest.approx(cscc, rel=0.15), f"{abbr} CSCC"
        assert got[abbr][1] == pytest.approx(last, rel=0.15), f"{abbr} 2018 NPP"
    assert got["_mean_cscc"] == pytest.approx(PAPER_MEAN_CSCC, rel=0.10)


@pytest.fixture(scope="module")
def npp() -> xr.DataArray:
    return demo_npp()


@pytest.fixture(scope="module")
def regions() -> xr.DataArray:
    return demo_regions()


def test_same_seed_gives_identical_array(npp: xr.DataArray) -> None:
    again = demo_npp()
    np.testing.assert_array_equal(npp.values, again.values)
    xr.testing.assert_identical(npp, again)


def test_other_seed_gives_other_array() -> None:
    a = demo_npp(resolution=0.5, start=1990, end=2000, seed=1)
    b = demo_npp(resolution=0.5, start=1990, end=2000, seed=2)
    assert not np.array_equal(a.values, b.values, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(a.values), np.isnan(b.values))


def test_dims_coords_and_attrs(npp: xr.DataArray) -> None:
    assert npp.dims == ("year", "y", "x")
    assert npp.dtype == np.float32
    np.testing.assert_array_equal(npp.year.values, np.arange(1981, 2019))
    res = 0.1
    for name, lo, hi in (("x", 73.0, 135.2), ("y", 18.0, 53.6)):
        c = npp[name].values
        np.testing.assert_allclose(np.abs(np.diff(c)), res, atol=1e-9)
        # cell centres sit half a cell off the multiples of the resolution
        offset = c / res - 0.5
        np.testing.assert_allclose(offset, np.round(offset), atol=1e-6)
        assert lo <= c.min() - res / 2 + 1e-9 and c.max() + res / 2 - 1e-9 <= hi
    assert npp.y.values[0] > npp.y.values[-1]  # north-up
    assert npp.sizes["x"] > 600 and npp.sizes["y"] > 350
    assert npp.attrs["units"] == "g C m-2 yr-1"
    assert npp.attrs["crs"] == "EPSG:4326"
    assert "SYNTHETIC" in npp.attrs["title"]
    assert "synthetic" in npp.attrs["description"].lower()


def test_regions_grid_and_values(npp: xr.DataArray, regions: xr.DataArray) -> None:
    assert regions.dims == ("y", "x")
    assert np.issubdtype(regions.dtype, np.integer)
    np.testing.assert_array_equal(regions.x.values, npp.x.values)
    np.testing.assert_array_equal(regions.y.values, npp.y.values)
    values = set(np.unique(regions.values).tolist())
    assert set(range(0, 34)) <= values <= set(range(0, 35))  # Macau may have no 0.1° centre


def test_nan_exactly_outside_land(npp: xr.DataArray, regions: xr.DataArray) -> None:
    land = regions.values > 0
    assert np.isnan(npp.values[:, ~land]).all()
    assert np.isfinite(npp.values[:, land]).all()


def test_regions_follow_the_pixel_centre_rule(regions: xr.DataArray) -> None:
    features = load_provinces()["features"]
    polys = [shape(f["geometry"]) for f in features]
    rng = np.random.default_rng(0)
    iy = rng.integers(0, regions.sizes["y"], 400)
    ix = rng.integers(0, regions.sizes["x"], 400)
    checked = 0
    for j, i in zip(iy, ix, strict=True):
        p = Point(float(regions.x[i]), float(regions.y[j]))
        if any(poly.boundary.distance(p) < 1e-6 for poly in polys):
            continue  # a centre on a border: either side is right
        expected = next((k + 1 for k, poly in enumerate(polys) if poly.contains(p)), 0)
        assert int(regions.values[j, i]) == expected, (p, expected)
        checked += 1
    assert checked > 350


@pytest.mark.parametrize(
    ("lon", "lat", "abbr"),
    [(116.4, 39.9, "BJ"), (114.3, 30.6, "HUB"), (87.6, 43.8, "XJ"), (91.1, 29.65, "TB"),
     (121.5, 25.0, "TW"), (110.3, 19.5, "HAN"), (125.0, 25.0, None)],
)  # fmt: skip
def test_known_places(regions: xr.DataArray, lon: float, lat: float, abbr: str | None):
    got = int(regions.sel(x=lon, y=lat, method="nearest"))
    assert got == (PROVINCE_ABBRS.index(abbr) + 1 if abbr else 0)


def test_calibrated_to_table1(npp: xr.DataArray, regions: xr.DataArray) -> None:
    assert_calibrated(npp, regions.values)


def test_realistic_pattern(npp: xr.DataArray, regions: xr.DataArray) -> None:
    y = npp.values.astype(np.float64)
    mean = y.mean(axis=0)
    lon = np.broadcast_to(npp.x.values, mean.shape)
    lat = np.broadcast_to(npp.y.values[:, None], mean.shape)
    land = regions.values > 0
    south_east = land & (lon > 105) & (lat < 32)
    north_west = land & (lon < 100) & (lat > 35)
    assert np.mean(mean[south_east]) > 3 * np.mean(mean[north_west])
    # deserts: non-VCA cells (mean <= 0) exist, mostly in the north-west
    bare = land & (mean <= 0)
    assert bare.sum() > 0.1 * land.sum()
    assert (bare & north_west).sum() > 0.5 * bare.sum()
    vca = land & (mean > 0)
    assert (y[:, vca] < 0).any()  # some VCA cells have negative NPP in some years
    assert ((mean > 0) & (mean < 5))[land].any()  # tiny values at desert margins


def test_trends_of_both_signs_and_a_shift_after_2000(npp: xr.DataArray) -> None:
    y = npp.values.astype(np.float64)
    vca = np.isfinite(y).all(axis=0) & (np.nan_to_num(y).mean(axis=0) > 0)
    series = y[:, vca]
    years = npp.year.values.astype(np.float64)

    def ols(t: np.ndarray, v: np.ndarray) -> np.ndarray:
        tc = t - t.mean()
        return (tc[:, None] * (v - v.mean(axis=0))).sum(axis=0) / (tc**2).sum()

    slope = ols(years, series)
    assert (slope > 0).mean() > 0.5
    assert (slope < 0).mean() > 0.05
    before = ols(years[years <= 2000], series[years <= 2000])
    after = ols(years[years >= 2000], series[years >= 2000])
    assert np.median(after) > np.median(before) + 1.0  # g C m⁻² yr⁻²
    assert (after > 0).mean() > 0.6 and (after < 0).mean() > 0.05


def test_drought_years_are_low_nationally(npp: xr.DataArray) -> None:
    y = np.nan_to_num(npp.values.astype(np.float64))
    total = y.sum(axis=(1, 2))
    years = list(npp.year.values)
    droughts = [int(d) for d in npp.attrs["drought_years"]]
    assert len(droughts) >= 3
    for d in droughts:
        i = years.index(d)
        assert total[i] < 0.95 * min(total[i - 1], total[i + 1]), d


@pytest.mark.parametrize(
    "kwargs", [{"resolution": 0}, {"resolution": -0.1}, {"resolution": 5},
               {"start": 2018, "end": 1981}, {"start": 2000, "end": 2001}],
)  # fmt: skip
def test_bad_options_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        demo_npp(**kwargs)


@pytest.mark.slow
def test_calibrated_at_005_degrees_in_under_a_minute() -> None:
    t0 = time.perf_counter()
    npp = demo_npp(resolution=0.05)
    assert time.perf_counter() - t0 < 60
    regions = demo_regions(resolution=0.05).values
    assert npp.sizes["x"] > 1200 and npp.sizes["y"] > 700
    assert_calibrated(npp, regions)
    got = capacity_by_region(npp, regions)
    macau_cscc, _, macau_area = got["MC"]
    assert macau_area > 0
    assert 50 < macau_cscc * 1e12 / macau_area < 1500  # plausible mean CSCC, g C m⁻² yr⁻¹


@pytest.mark.parametrize("part", ["synthetic", "synthetic_climate", "provinces"])
def test_the_demo_data_is_made_again_when_any_part_of_its_generator_changes(monkeypatch, part):
    import inspect

    import gee_cscc.demo.run as demo_run

    before = demo_run._generator_version()
    real = inspect.getsource

    def edited(obj):
        text = real(obj)
        return text + "\n# edited\n" if obj.__name__ == f"gee_cscc.demo.{part}" else text

    monkeypatch.setattr(inspect, "getsource", edited)
    assert demo_run._generator_version() != before
