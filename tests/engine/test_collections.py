"""``Collection.*``, ``AggregateFeatureCollection.*`` and ``Filter.*`` on the local engine,
driven through the real ``ee`` client.

Most tests use one stored table of five features (``FEATURES``) whose expected selections
and statistics are worked out by hand next to each test. Image-collection tests use a stored
annual collection (``ImageCollection.load``).
"""

from __future__ import annotations

import datetime as dt
import math

import ee
import numpy as np
import pytest
import xarray as xr


def ms(*args: int) -> int:
    """Milliseconds since the epoch of a UTC date/time."""
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp() * 1000)


def _feature(fid: str, x: float, props: dict) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [x, x]},
        "properties": props,
    }


# id: v (number, missing on e), w (weight), cat, name, tags, time
FEATURES = [
    ("a", 3, 1, "x", "alpha", ["red", "blue"], ms(2020, 1, 15)),  # Wed, doy 15
    ("b", 1, 3, "y", "beta", ["green"], ms(2020, 6, 10)),  # Wed, doy 162
    ("c", 2, 0, "x", "gamma", [], ms(2020, 11, 20)),  # Fri, doy 325
    ("d", -4, 1, "z", "delta", ["red"], ms(2021, 2, 1)),  # Mon, doy 32
    ("e", None, 2, "y", "epsilon", ["blue"], ms(2021, 12, 31, 23)),  # Fri, doy 365
]


def _table() -> dict:
    feats = []
    for i, (fid, v, w, cat, name, tags, t) in enumerate(FEATURES):
        props = {"w": w, "cat": cat, "name": name, "tags": tags, "system:time_start": t}
        if v is not None:
            props["v"] = v
        feats.append(_feature(fid, i + 1.0, props))
    return {"type": "FeatureCollection", "features": feats}


@pytest.fixture(scope="module")
def table_id(engine) -> str:
    asset = engine.asset_id("t/collections-module/table")
    engine.store.put_table(asset, _table(), {"title": "five features"})
    return asset


@pytest.fixture
def fc(table_id) -> ee.FeatureCollection:
    return ee.FeatureCollection(table_id)


def ids(collection: ee.Collection) -> list[str]:
    return collection.aggregate_array("system:index").getInfo()


# --- loading, size, first, toList --------------------------------------------------------------


def test_load_table_size_first_and_to_list(fc, table_id) -> None:
    assert fc.size().getInfo() == 5
    first = fc.first().getInfo()
    assert first["type"] == "Feature"
    assert first["id"] == "a"
    assert first["geometry"] == {"type": "Point", "coordinates": [1.0, 1.0]}
    assert first["properties"]["name"] == "alpha"
    got = ee.List(fc.toList(2, 1)).map(lambda f: ee.Feature(f).get("name")).getInfo()
    assert got == ["beta", "gamma"]
    assert fc.get("title").getInfo() == "five features"
    assert fc.get("system:id").getInfo() == table_id


def test_collection_properties_as_dictionary(fc) -> None:
    # What xee reads as dataset attributes: the non-system collection properties.
    assert fc.toDictionary().getInfo() == {"title": "five features"}
    assert fc.filter(ee.Filter.eq("cat", "x")).toDictionary().getInfo() == {
        "title": "five features"
    }


def test_first_of_empty_collection_is_null(fc) -> None:
    empty = fc.filter(ee.Filter.eq("cat", "nothing"))
    assert empty.size().getInfo() == 0
    assert empty.first().getInfo() is None
    with pytest.raises(ee.EEException, match="Parameter 'object' is required|Element.get"):
        ee.Feature(empty.first()).get("v").getInfo()


def test_load_table_errors(engine, tmp_asset) -> None:
    with pytest.raises(ee.EEException, match="not found"):
        ee.FeatureCollection(tmp_asset("missing")).size().getInfo()
    private = tmp_asset("private")
    engine.store.put_table(private, _table())
    with engine.as_user("user:stranger@example.com"):
        with pytest.raises(ee.EEException, match="Permission denied"):
            ee.FeatureCollection(private).size().getInfo()


def test_collection_constructor_from_a_list(fc) -> None:
    two = ee.FeatureCollection(fc.toList(2))
    assert two.size().getInfo() == 2
    assert ids(two) == ["a", "b"]


def test_collection_constructor_from_features() -> None:
    col = ee.FeatureCollection([ee.Feature(None, {"k": 1}), ee.Feature(None, {"k": 2})])
    info = col.getInfo()
    assert info["type"] == "FeatureCollection"
    assert [f["id"] for f in info["features"]] == ["0", "1"]
    assert col.aggregate_array("k").getInfo() == [1, 2]


# --- map and iterate ---------------------------------------------------------------------------


def test_map_with_closure_over_outer_variable(fc) -> None:
    k = ee.Number(10)
    with_v = fc.filter(ee.Filter.notNull(["v"]))
    got = with_v.map(lambda f: f.set("w10", ee.Number(f.get("v")).multiply(k)))
    assert got.aggregate_array("w10").getInfo() == [30, 10, 20, -40]
    # The collection keeps its own properties and its elements their ids.
    assert got.get("title").getInfo() == "five features"
    assert ids(got) == ["a", "b", "c", "d"]


def test_nested_map_with_closure(fc) -> None:
    with_v = fc.filter(ee.Filter.notNull(["v"])).limit(2)
    got = with_v.map(
        lambda f: f.set("s", ee.List([1, 2]).map(lambda x: ee.Number(x).multiply(f.get("v"))))
    )
    assert got.aggregate_array("s").getInfo() == [[3, 6], [1, 2]]


def test_map_drop_nulls(fc) -> None:
    big = fc.map(lambda f: ee.Algorithms.If(ee.Number(f.get("w")).gte(2), f, None), dropNulls=True)
    assert ids(big) == ["b", "e"]


def test_map_must_return_an_element(fc) -> None:
    with pytest.raises(ee.EEException, match="must return a Feature or Image"):
        fc.map(lambda f: ee.Feature(f).get("w")).size().getInfo()


def test_iterate_element_first_and_result_of_last_call(fc) -> None:
    names = fc.iterate(lambda f, acc: ee.String(acc).cat(ee.Feature(f).get("name")), "")
    assert ee.String(names).getInfo() == "alphabetagammadeltaepsilon"


def test_iterate_with_closure(fc) -> None:
    k = ee.Number(2)
    total = fc.iterate(
        lambda f, acc: ee.Number(acc).add(ee.Number(ee.Feature(f).get("w")).multiply(k)), 100
    )
    # 100 + 2 * (1 + 3 + 0 + 1 + 2)
    assert ee.Number(total).getInfo() == 114


def test_iterate_over_empty_collection_returns_first(fc) -> None:
    empty = fc.filter(ee.Filter.eq("cat", "nothing"))
    assert ee.Number(empty.iterate(lambda f, acc: ee.Number(acc).add(1), 7)).getInfo() == 7


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_filter", "expected"),
    [
        (lambda: ee.Filter.eq("cat", "x"), ["a", "c"]),
        (lambda: ee.Filter.equals("cat", "x"), ["a", "c"]),
        (lambda: ee.Filter.neq("cat", "x"), ["b", "d", "e"]),
        (lambda: ee.Filter.notEquals("cat", "x"), ["b", "d", "e"]),
        (lambda: ee.Filter.lt("v", 2), ["b", "d"]),
        (lambda: ee.Filter.lessThan("v", 2), ["b", "d"]),
        (lambda: ee.Filter.gt("v", 2), ["a"]),
        (lambda: ee.Filter.greaterThan("v", 2), ["a"]),
        # gte and lte are sent as not(lt) / not(gt): an element without the property passes.
        (lambda: ee.Filter.gte("v", 2), ["a", "c", "e"]),
        (lambda: ee.Filter.lte("v", 2), ["b", "c", "d", "e"]),
        (lambda: ee.Filter.greaterThanOrEquals("v", 2), ["a", "c"]),
        (lambda: ee.Filter.lessThanOrEquals("v", 2), ["b", "c", "d"]),
        (lambda: ee.Filter.inList("cat", ["y", "z"]), ["b", "d", "e"]),
        (lambda: ee.Filter.listContains("tags", "red"), ["a", "d"]),
        (lambda: ee.Filter.rangeContains("v", 1, 2), ["b", "c"]),
        (lambda: ee.Filter.stringContains("name", "lph"), ["a"]),
        (lambda: ee.Filter.stringStartsWith("name", "ga"), ["c"]),
        (lambda: ee.Filter.stringEndsWith("name", "ta"), ["b", "d"]),
        (lambda: ee.Filter.And(ee.Filter.eq("cat", "x"), ee.Filter.gt("v", 2)), ["a"]),
        (lambda: ee.Filter([ee.Filter.eq("cat", "y"), ee.Filter.eq("w", 2)]), ["e"]),
        (lambda: ee.Filter.Or(ee.Filter.eq("cat", "z"), ee.Filter.eq("cat", "y")), ["b", "d", "e"]),
        (lambda: ee.Filter.eq("cat", "x").Not(), ["b", "d", "e"]),
        (lambda: ee.Filter.notNull(["v"]), ["a", "b", "c", "d"]),
        (lambda: ee.Filter.maxDifference(1, "v", 2), ["a", "b", "c"]),
        (lambda: ee.Filter.equals(leftValue=3, rightField="v"), ["a"]),
        (lambda: ee.Filter.lessThan(leftField="w", rightField="v"), ["a", "c"]),
        (lambda: ee.Filter.metadata_("name", "not_starts_with", "e"), ["a", "b", "c", "d"]),
    ],
)
def test_filters(fc, make_filter, expected) -> None:
    assert ids(fc.filter(make_filter())) == expected


def test_filter_date_start_inclusive_end_exclusive(fc) -> None:
    assert ids(fc.filterDate("2020-06-01", "2021-01-01")) == ["b", "c"]
    assert ids(fc.filterDate("2020-01-15", "2020-01-16")) == ["a"]
    assert ids(fc.filterDate("2020-01-01", "2020-01-15")) == []
    assert ids(fc.filter(ee.Filter.date(ee.Date("2021-01-01"), ee.Date("2100-01-01")))) == [
        "d",
        "e",
    ]


@pytest.mark.parametrize(
    ("start", "end", "field", "expected"),
    [
        (6, 6, "month", ["b"]),
        (11, 2, "month", ["a", "c", "d", "e"]),  # wraps: month >= 11 or month <= 2
        (2021, 2021, "year", ["d", "e"]),
        (5, 5, "day_of_week", ["c", "e"]),  # Fridays (Monday = 1)
        (300, 31, "day_of_year", ["a", "c", "e"]),  # wraps: 15, 325, 365
        (20, 20, "day_of_month", ["c"]),
        (23, 23, "hour", ["e"]),
    ],
)
def test_calendar_range(fc, start, end, field, expected) -> None:
    assert ids(fc.filter(ee.Filter.calendarRange(start, end, field))) == expected


def test_calendar_range_defaults(fc) -> None:
    # field defaults to day_of_year, end to start.
    assert ids(fc.filter(ee.Filter.calendarRange(162))) == ["b"]
    assert ids(fc.filter(ee.Filter.dayOfYear(300, 31))) == ["a", "c", "e"]


def test_calendar_range_agrees_with_python_datetime(fc) -> None:
    for field, attr in (("month", "month"), ("day_of_month", "day")):
        for value in (1, 2, 6, 11, 12, 15):
            expected = [
                fid
                for fid, *_, t in FEATURES
                if getattr(dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc), attr) == value
            ]
            got = ids(fc.filter(ee.Filter.calendarRange(value, value, field)))
            assert got == expected, (field, value)


def test_geometry_filter_bounds(fc) -> None:
    box = ee.Geometry.Rectangle([1.5, 1.5, 3.5, 3.5])
    assert ids(fc.filterBounds(box)) == ["b", "c"]


def test_list_filter_on_items() -> None:
    got = ee.List([5, 1, 4, 2]).filter(
        ee.Filter.And(ee.Filter.gt("item", 1), ee.Filter.lt("item", 5))
    )
    assert got.getInfo() == [4, 2]


# --- sort, limit, merge, flatten, distinct, remap --------------------------------------------


def test_sort(fc) -> None:
    assert fc.sort("v").aggregate_array("name").getInfo() == [
        "delta",
        "beta",
        "gamma",
        "alpha",
        "epsilon",  # without the property: last
    ]
    assert fc.sort("v", False).aggregate_array("name").getInfo() == [
        "alpha",
        "gamma",
        "beta",
        "delta",
        "epsilon",
    ]
    assert fc.sort("name").aggregate_array("name").getInfo() == [
        "alpha",
        "beta",
        "delta",
        "epsilon",
        "gamma",
    ]
    # A stable sort: ties keep the collection order.
    assert ids(fc.sort("cat")) == ["a", "c", "b", "e", "d"]


def test_limit(fc) -> None:
    assert ids(fc.limit(2)) == ["a", "b"]
    assert ids(fc.limit(2, "v")) == ["d", "b"]
    assert ids(fc.limit(2, "v", False)) == ["a", "c"]
    assert ids(fc.limit(0)) == []


def test_merge_prefixes_ids(fc) -> None:
    merged = fc.limit(2).merge(fc.filter(ee.Filter.eq("cat", "z")))
    assert ids(merged) == ["1_a", "1_b", "2_d"]
    assert merged.aggregate_array("name").getInfo() == ["alpha", "beta", "delta"]


def test_flatten_collection_of_collections(fc) -> None:
    nested = fc.limit(2).map(lambda f: ee.FeatureCollection(ee.List([f, f.set("copy", 1)])))
    flat = nested.flatten()
    assert flat.size().getInfo() == 4
    assert ids(flat) == ["a_a", "a_a", "b_b", "b_b"]
    assert flat.aggregate_array("copy").getInfo() == [1, 1]


def test_distinct(fc) -> None:
    assert ids(fc.distinct("cat")) == ["a", "b", "d"]
    assert ids(fc.distinct(["cat", "w"])) == ["a", "b", "c", "d", "e"]


def test_remap(fc) -> None:
    got = fc.remap(["x", "y"], ["X", "Y"], "cat")
    assert ids(got) == ["a", "b", "c", "e"]
    assert got.aggregate_array("cat").getInfo() == ["X", "Y", "X", "Y"]


# --- aggregates ------------------------------------------------------------------------------

V = [3, 1, 2, -4]  # v of a..d; e has none
MEAN = 0.5
SS = (3 - MEAN) ** 2 + (1 - MEAN) ** 2 + (2 - MEAN) ** 2 + (-4 - MEAN) ** 2  # 29.0


@pytest.mark.parametrize(
    ("method", "prop", "expected"),
    [
        ("aggregate_array", "v", V),
        ("aggregate_array", "cat", ["x", "y", "x", "z", "y"]),
        ("aggregate_sum", "v", 2),
        ("aggregate_mean", "v", MEAN),
        ("aggregate_min", "v", -4),
        ("aggregate_max", "v", 3),
        ("aggregate_min", "name", "alpha"),
        ("aggregate_max", "name", "gamma"),
        ("aggregate_count", "v", 4),
        ("aggregate_count", "cat", 5),
        ("aggregate_count_distinct", "cat", 3),
        ("aggregate_first", "name", "alpha"),
        ("aggregate_product", "v", -24),
        ("aggregate_sample_var", "v", SS / 3),
        ("aggregate_sample_sd", "v", math.sqrt(SS / 3)),
        ("aggregate_total_var", "v", SS / 4),
        ("aggregate_total_sd", "v", math.sqrt(SS / 4)),
        ("aggregate_histogram", "cat", {"x": 2, "y": 2, "z": 1}),
        ("aggregate_histogram", "v", {"-4": 1, "1": 1, "2": 1, "3": 1}),
    ],
)
def test_aggregates(fc, method, prop, expected) -> None:
    got = getattr(fc, method)(prop).getInfo()
    if isinstance(expected, float):
        assert got == pytest.approx(expected)
    else:
        assert got == expected


def test_aggregate_stats(fc) -> None:
    got = fc.aggregate_stats("v").getInfo()
    assert got == pytest.approx(
        {
            "max": 3,
            "mean": MEAN,
            "min": -4,
            "sample_sd": math.sqrt(SS / 3),
            "sample_var": SS / 3,
            "sum": 2,
            "sum_sq": 9 + 1 + 4 + 16,
            "total_count": 5,
            "total_sd": math.sqrt(SS / 4),
            "total_var": SS / 4,
            "valid_count": 4,
            "weight_sum": 4,
            "weighted_sum": 2,
        }
    )


def test_aggregate_of_strings_is_a_clear_error(fc) -> None:
    with pytest.raises(ee.EEException, match="AggregateFeatureCollection.sum: .*must be numbers"):
        fc.aggregate_sum("name").getInfo()


# --- reduceColumns and List.reduce -----------------------------------------------------------


def test_reduce_columns(fc) -> None:
    names = fc.reduceColumns(ee.Reducer.toList(), ["name"]).getInfo()
    assert names == {"list": ["alpha", "beta", "gamma", "delta", "epsilon"]}
    assert fc.reduceColumns(ee.Reducer.mean(), ["v"]).getInfo() == {"mean": MEAN}
    # Weighted mean (3·1 + 1·3 + 2·0 − 4·1) / (1 + 3 + 0 + 1)
    weighted = fc.reduceColumns(ee.Reducer.mean(), ["v"], ["w"]).getInfo()
    assert weighted["mean"] == pytest.approx(2 / 5)


def test_reduce_columns_as_xee_sends_it(fc) -> None:
    got = fc.reduceColumns(ee.Reducer.toList().repeat(2), ["system:index", "w"]).get("list")
    assert got.getInfo() == [["a", "b", "c", "d", "e"], [1, 3, 0, 1, 2]]


def test_reduce_columns_wrong_selector_count(fc) -> None:
    with pytest.raises(ee.EEException, match="takes 1 inputs but 2 selectors"):
        fc.reduceColumns(ee.Reducer.mean(), ["v", "w"]).getInfo()


def test_list_reduce() -> None:
    assert ee.List([1, 2, 3, 6]).reduce(ee.Reducer.mean()).getInfo() == 3
    assert ee.List([1, 2, 3, 6]).reduce(ee.Reducer.minMax()).getInfo() == {"min": 1, "max": 6}


# --- image collections ----------------------------------------------------------------------

YEARS = [2018, 2019, 2020, 2021]


@pytest.fixture(scope="module")
def npp_id(engine) -> str:
    rng = np.random.default_rng(7)
    data = rng.normal(500, 100, size=(len(YEARS), 2, 3))
    da = xr.DataArray(
        data,
        dims=("year", "y", "x"),
        coords={"year": YEARS, "y": [1.5, 0.5], "x": [0.5, 1.5, 2.5]},
        attrs={"crs": "EPSG:4326"},
    )
    asset = engine.asset_id("t/collections-module/npp")
    engine.store.put_collection(asset, da, band="npp", properties={"units": "gC"})
    return asset


def test_image_collection_filter_sort_aggregate(npp_id) -> None:
    col = ee.ImageCollection(npp_id)
    assert col.aggregate_array("year").getInfo() == YEARS
    assert col.filterDate("2019-01-01", "2021-01-01").aggregate_array("year").getInfo() == [
        2019,
        2020,
    ]
    assert col.filter(ee.Filter.rangeContains("year", 2020, 2030)).size().getInfo() == 2
    newest = col.sort("system:time_start", False).first()
    assert ee.Image(newest).get("year").getInfo() == 2021
    assert col.filter(ee.Filter.calendarRange(2018, 2019, "year")).size().getInfo() == 2
    assert col.toDictionary().getInfo() == {"units": "gC"}


def test_image_collection_map_keeps_images(npp_id) -> None:
    col = ee.ImageCollection(npp_id)
    mapped = col.map(lambda img: img.multiply(2).set("doubled", img.get("year")))
    assert mapped.aggregate_array("doubled").getInfo() == YEARS
    assert ee.Image(mapped.first()).bandNames().getInfo() == ["npp"]
    last = col.iterate(lambda img, acc: ee.Image(img).get("year"), 0)
    assert ee.Number(last).getInfo() == 2021


def test_image_collection_filter_bounds_uses_footprints(npp_id) -> None:
    col = ee.ImageCollection(npp_id)  # footprint: 0..3°E, 0..2°N
    assert col.filterBounds(ee.Geometry.Point([1.0, 1.0])).size().getInfo() == 4
    assert col.filterBounds(ee.Geometry.Point([10.0, 10.0])).size().getInfo() == 0


def test_object_type_of_engine_values(fc) -> None:
    types = [
        ee.Algorithms.ObjectType(v).getInfo()
        for v in (fc, fc.first(), ee.Date("2020-01-01"), ee.Reducer.mean(), ee.Filter.eq("a", 1))
    ]
    assert types == ["FeatureCollection", "Feature", "Date", "Reducer", "Filter"]
