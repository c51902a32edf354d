"""METHOD.md §0: annual NPP from 8-day composites (gee_cscc.method.annual) on the local engine.

A synthetic 8-day product: 46 composites a year starting on day-of-year 1, 9, …, 361, so
the last one covers 5 days (2019) or 6 days (2020, a leap year). Expected annual sums are
NumPy sums of rate × days written here, plus hand-worked cells (a rate of 1 g C m⁻² d⁻¹ all
year gives 365 or 366).
"""

from __future__ import annotations

import datetime as dt

import ee
import numpy as np
import pytest
import xarray as xr

from gee_cscc.errors import InputError
from gee_cscc.method import annual
from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid

TRANSFORM = (1.0, 0.0, 20.0, 0.0, -1.0, 30.0)
SHAPE = (2, 3)
GRID = grid(TRANSFORM, SHAPE)
YEARS = (2019, 2020)


def days_covered(year: int) -> np.ndarray:
    """Days each of the 46 composites covers (by hand: 45 × 8, then the rest of the year)."""
    length = 366 if year % 4 == 0 else 365
    return np.array([8] * 45 + [length - 360])


def composite_start(year: int, i: int) -> int:
    t = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=8 * i)
    return int(t.timestamp() * 1000)


def layer(values: np.ndarray) -> xr.DataArray:
    h, w = values.shape
    a, _, c, _, e, f = TRANSFORM
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": f + e * (np.arange(h) + 0.5), "x": c + a * (np.arange(w) + 0.5)},
        name="npp",
        attrs={"crs": "EPSG:4326", "transform": TRANSFORM},
    )


@pytest.fixture(scope="module")
def product(engine, tmp_path_factory):
    """The 8-day collection and its rates, ``{year: (46, h, w) array, NaN = masked}``."""
    rng = np.random.default_rng(5)
    asset = engine.asset_id(f"t/annual-{tmp_path_factory.mktemp('a').name}/c8")
    engine.store.create(asset, "IMAGE_COLLECTION")
    rates = {}
    for year in YEARS:
        r = rng.uniform(0.0, 3.0, (46, *SHAPE))
        r[:, 0, 0] = 1.0  # hand-worked cell: 365 or 366
        r[:, 0, 1] = -0.5  # negative rates are kept
        r[7, 1, 2] = np.nan  # one missing composite
        rates[year] = r
        for i in range(46):
            engine.store.put_image(
                f"{asset}/d{year}_{i:02d}",
                layer(r[i]),
                {"system:time_start": composite_start(year, i)},
            )
    return ee.ImageCollection(asset), rates


def test_days_covered_by_each_composite(product):
    col, _ = product
    for year in YEARS:
        days = annual.composite_days(col, year).aggregate_array("days").getInfo()
        assert days == list(days_covered(year))


@pytest.mark.parametrize("year", YEARS)
def test_annual_npp_per_day_is_the_days_weighted_sum(product, year):
    col, rates = product
    img = annual.annual_npp(col, year)
    got = compute_pixels(img, GRID)["npp"]
    expected = np.einsum("t,tyx->yx", days_covered(year), rates[year])  # NaN where a gap
    assert_pixels_equal(got, expected, rtol=1e-6)
    assert got[0, 0] == pytest.approx(366 if year == 2020 else 365)
    assert got[0, 1] == pytest.approx(-0.5 * (366 if year == 2020 else 365))
    props = img.toDictionary(["year", "composites", "system:time_start"]).getInfo()
    assert props == {
        "year": year,
        "composites": 46,
        "system:time_start": composite_start(year, 0),
    }


def test_per_composite_totals_are_summed_and_gaps_may_be_allowed(product):
    col, rates = product
    img = annual.annual_npp(col, 2019, composite_unit="per_composite", allow_gaps=True)
    expected = np.nansum(rates[2019], axis=0)
    assert_pixels_equal(compute_pixels(img, GRID)["npp"], expected, rtol=1e-6)


def test_scale_factor_and_offset_apply_to_the_stored_rates(product):
    col, rates = product
    img = annual.annual_npp(col, 2020, scale_factor=0.1, offset=1.0)
    expected = np.einsum("t,tyx->yx", days_covered(2020), rates[2020] * 0.1 + 1.0)
    assert_pixels_equal(compute_pixels(img, GRID)["npp"], expected, rtol=1e-6)


def test_annualize_gives_one_image_per_year(product):
    col, rates = product
    out = annual.annualize(col)
    assert out.aggregate_array("year").getInfo() == list(YEARS)
    second = ee.Image(out.toList(2).get(1))
    expected = np.einsum("t,tyx->yx", days_covered(2020), rates[2020])
    assert_pixels_equal(compute_pixels(second, GRID)["npp"], expected, rtol=1e-6)


def test_layout_check_counts_composites(product):
    col, _ = product
    assert annual.check_composite_layout(col) == {2019: 46, 2020: 46}
    with pytest.raises(InputError, match="Year 2021: no composite"):
        annual.check_composite_layout(col, [2020, 2021])


@pytest.mark.parametrize(
    ("starts", "message"),
    [
        ([(2019, 1, 9), (2019, 1, 17)], "first composite starts on 2019-01-09"),
        ([(2019, 1, 1), (2019, 1, 1)], "two composites start on 2019-01-01"),
    ],
)
def test_layout_errors_name_the_year(engine, tmp_asset, starts, message):
    asset = tmp_asset("bad")
    engine.store.create(asset, "IMAGE_COLLECTION")
    for k, (y, m, d) in enumerate(starts):
        t = int(dt.datetime(y, m, d, tzinfo=dt.timezone.utc).timestamp() * 1000)
        engine.store.put_image(f"{asset}/c{k}", layer(np.ones(SHAPE)), {"system:time_start": t})
    with pytest.raises(InputError, match=message):
        annual.check_composite_layout(ee.ImageCollection(asset))


def test_unknown_composite_unit_is_an_input_error(product):
    col, _ = product
    with pytest.raises(InputError, match="composite_unit"):
        annual.annual_npp(col, 2019, composite_unit="per_month")


def test_annual_collection_exports_to_an_asset_per_year(engine, product, tmp_asset):
    from gee_cscc import cloud as export

    col, rates = product
    out = tmp_asset("annual")
    tasks = export.export_collection(
        annual.annualize(col),
        out,
        crs="EPSG:4326",
        crs_transform=TRANSFORM,
        dimensions=(SHAPE[1], SHAPE[0]),
    )
    export.wait_for_tasks(tasks, poll_seconds=0.05, progress=lambda s: None)
    for year in YEARS:
        image = ee.Image(f"{out}/{year}")
        assert image.get("year").getInfo() == year
        expected = np.einsum("t,tyx->yx", days_covered(year), rates[year])
        assert_pixels_equal(compute_pixels(image, GRID)["npp"], expected, rtol=1e-6)


def _collection(engine, tmp_asset, starts: list[dt.date]):
    asset = tmp_asset("holes")
    engine.store.create(asset, "IMAGE_COLLECTION")
    for k, d in enumerate(starts):
        t = int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
        engine.store.put_image(f"{asset}/c{k:02d}", layer(np.ones(SHAPE)), {"system:time_start": t})
    return ee.ImageCollection(asset)


def _eight_day(year: int) -> list[dt.date]:
    return [dt.date(year, 1, 1) + dt.timedelta(days=8 * i) for i in range(46)]


@pytest.mark.parametrize(
    ("unit", "does"),
    [
        ("per_day", "the rate of the 2019-07-04 composite would stand for those days"),
        ("per_composite", "the annual sum would leave those days out"),
    ],
)
def test_a_missing_composite_is_refused_naming_its_days(engine, tmp_asset, unit, does):
    starts = _eight_day(2019)
    assert starts[24] == dt.date(2019, 7, 12)
    del starts[24]  # 4 July is followed by 20 July: 12–19 July have no composite
    col = _collection(engine, tmp_asset, starts)
    with pytest.raises(InputError) as caught:
        annual.annualize(col, composite_unit=unit)
    assert str(caught.value) == (
        "Year 2019: no composite covers 2019-07-12 to 2019-07-19 (the composites of 2019 "
        f"start every 8 days): {does}. Add the missing composite, or accept the gap with "
        "--allow-gaps (allow_gaps=True)."
    )


def test_a_missing_last_composite_is_refused(engine, tmp_asset):
    col = _collection(engine, tmp_asset, _eight_day(2020)[:-1])  # 18 Dec starts the last
    with pytest.raises(InputError, match="no composite covers 2020-12-26 to 2020-12-31"):
        annual.check_composite_layout(col)


def test_allowed_gaps_extend_the_rate_or_sum_what_is_there(engine, tmp_asset):
    """With allow_gaps, a rate of 1 g C m⁻² d⁻¹ covers every day of 2019 (365) per day, and
    45 per-composite totals of 1 sum to 45 (by hand)."""
    starts = _eight_day(2019)
    del starts[24]
    col = _collection(engine, tmp_asset, starts)
    assert annual.check_composite_layout(col, allow_gaps=True) == {2019: 45}
    per_day = annual.annual_npp(col, 2019, allow_gaps=True)
    assert_pixels_equal(compute_pixels(per_day, GRID)["npp"], np.full(SHAPE, 365.0))
    totals = annual.annual_npp(col, 2019, composite_unit="per_composite", allow_gaps=True)
    assert_pixels_equal(compute_pixels(totals, GRID)["npp"], np.full(SHAPE, 45.0))


def test_a_regular_layout_of_another_step_is_not_a_gap(engine, tmp_asset):
    """16-day composites (MODIS's layout): every interval is the step, the last runs to the
    end of the year within it."""
    starts = [dt.date(2019, 1, 1) + dt.timedelta(days=16 * i) for i in range(23)]
    assert annual.check_composite_layout(_collection(engine, tmp_asset, starts)) == {2019: 23}
