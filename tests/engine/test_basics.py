"""Basic value types of the local engine (Number, List, Dictionary, String, Date, DateRange,
If, Projection, Element properties), driven through the real ``ee`` client.

Every expectation is worked by hand (or from Earth Engine's documented examples) in the test,
never taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import math

import ee
import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("engine")


def ms(*args: int) -> int:
    """Milliseconds since the epoch of a UTC date/time."""
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp() * 1000)


# --- Number ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (lambda: ee.Number(7).add(5), 12),
        (lambda: ee.Number(7).subtract(10), -3),
        (lambda: ee.Number(6).multiply(7), 42),
        (lambda: ee.Number(7).divide(2), 3.5),
        (lambda: ee.Number(7).divide(0), 0),  # documented: 0 for a division by 0
        (lambda: ee.Number(7).mod(3), 1),
        (lambda: ee.Number(-7).mod(3), -1),  # sign of the dividend, as Java's %
        (lambda: ee.Number(7.5).mod(2), 1.5),
        (lambda: ee.Number(2).pow(10), 1024),
        (lambda: ee.Number(16).sqrt(), 4),
        (lambda: ee.Number(math.e).log(), 1),
        (lambda: ee.Number(1000).log10(), 3),
        (lambda: ee.Number(0).exp(), 1),
        (lambda: ee.Number(-3).abs(), 3),
        (lambda: ee.Number(10.5).round(), 11),
        (lambda: ee.Number(10.4).round(), 10),
        (lambda: ee.Number(-2.5).round(), -2),  # Java Math.round: halves go up
        (lambda: ee.Number(-1.5).floor(), -2),
        (lambda: ee.Number(1.2).ceil(), 2),
        (lambda: ee.Number(3).max(9), 9),
        (lambda: ee.Number(3).min(9), 3),
        (lambda: ee.Number(1).lt(2), 1),
        (lambda: ee.Number(2).lte(2), 1),
        (lambda: ee.Number(2).gt(2), 0),
        (lambda: ee.Number(2).gte(2), 1),
        (lambda: ee.Number(1).eq(1.0), 1),
        (lambda: ee.Number(1).neq(1), 0),
        (lambda: ee.Number(1).And(0), 0),
        (lambda: ee.Number(1).Or(0), 1),
        (lambda: ee.Number(0).Not(), 1),
        (lambda: ee.Number(3.7).int(), 3),
        (lambda: ee.Number(-3.7).toInt(), -3),
        (lambda: ee.Number(300).uint8(), 255),
        (lambda: ee.Number(-200).int8(), -128),
        (lambda: ee.Number(0.1).float(), float(np.float32(0.1))),
        (lambda: ee.Number(5).clamp(0, 3), 3),
        (lambda: ee.Number(5).unitScale(0, 10), 0.5),
        (lambda: ee.Number.parse("42"), 42),
        (lambda: ee.Number.parse("ff", 16), 255),
        (lambda: ee.Number.parse("2.5"), 2.5),
    ],
)
def test_number_algorithms(expr, expected) -> None:
    got = expr().getInfo()
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_integer_arithmetic_stays_integer() -> None:
    got = ee.List([ee.Number(2).add(3), ee.Number(4).multiply(5), ee.Number(9).mod(4)]).getInfo()
    assert got == [5, 20, 1]
    assert all(isinstance(v, int) for v in got)


def test_not_finite_results_are_null() -> None:
    assert ee.Number(-1).sqrt().getInfo() is None
    assert ee.Number(0).log().getInfo() is None


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        (3.14159, "%.2f", "3.14"),
        (42, "%05d", "00042"),
        (2.5, None, "2.5"),
        (3, None, "3"),
        (1234567, "%,d", "1,234,567"),
        (7, "Year %d!", "Year 7!"),
        (0.000123, "%.2e", "1.23e-04"),
        (12.0, "%d", "12"),
        (255, "%x", "ff"),
    ],
)
def test_number_format(value, pattern, expected) -> None:
    n = ee.Number(value)
    got = (n.format() if pattern is None else n.format(pattern)).getInfo()
    assert got == expected


def test_number_format_errors() -> None:
    with pytest.raises(ee.EEException, match="needs an integer"):
        ee.Number(2.5).format("%d").getInfo()
    with pytest.raises(ee.EEException, match="Invalid format string"):
        ee.Number(2.5).format("%f and %f").getInfo()


def test_missing_property_is_a_required_parameter_error() -> None:
    img = ee.Image.constant(1).set("a", 1)
    with pytest.raises(ee.EEException, match=r"^Number.add: Parameter 'left' is required\.$"):
        ee.Number(img.get("missing")).add(1).getInfo()


def test_wrong_type_error_names_algorithm_argument_and_types() -> None:
    img = ee.Image.constant(1).set("s", "abc")
    with pytest.raises(ee.EEException) as err:
        ee.Number(img.get("s")).multiply(2).getInfo()
    text = str(err.value)
    assert text.startswith("Number.multiply, argument 'left': Invalid type.")
    assert "Expected type: Number." in text
    assert "Actual type: String." in text
    assert "Actual value: abc" in text


# --- List -----------------------------------------------------------------------------------


def test_list_map_doubles() -> None:
    got = ee.List.sequence(1, 5).map(lambda x: ee.Number(x).multiply(2)).getInfo()
    assert got == [2, 4, 6, 8, 10]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Earth Engine's documented examples of ee.List.sequence.
        ((0, 5), [0, 1, 2, 3, 4, 5]),
        ((0, 10, 2), [0, 2, 4, 6, 8, 10]),
        ((0, None, 2, 6), [0, 2, 4, 6, 8, 10]),
        ((0, None, -2, 6), [0, -2, -4, -6, -8, -10]),
        ((0, 10, 2, 3), [0, 5, 10]),
        ((10, None, 1, 3), [10, 11, 12]),
        ((3, 6, 2), [3, 5]),
        ((-1e9, 1e9, None, 3), [-1e9, 0, 1e9]),
        ((0, 1, 0.25), [0, 0.25, 0.5, 0.75, 1.0]),
    ],
)
def test_list_sequence(args, expected) -> None:
    assert ee.List.sequence(*args).getInfo() == pytest.approx(expected)


def test_nested_map_with_closure() -> None:
    outer = ee.List([1, 2])
    got = outer.map(
        lambda a: ee.List([10, 20]).map(lambda b: ee.Number(b).add(ee.Number(a).multiply(100)))
    ).getInfo()
    assert got == [[110, 120], [210, 220]]


def test_list_iterate_with_outer_variable() -> None:
    factor = ee.Number(10)
    got = ee.List([1, 2, 3]).iterate(
        lambda x, acc: ee.Number(acc).add(ee.Number(x).multiply(factor)), 0
    )
    # 0 + 10 + 20 + 30
    assert ee.Number(got).getInfo() == 60


def test_list_iterate_order_is_element_then_accumulator() -> None:
    got = ee.List(["a", "b", "c"]).iterate(lambda x, acc: ee.String(acc).cat(x), "")
    assert ee.String(got).getInfo() == "abc"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (lambda L: L.slice(1, 3), [2, 3]),
        (lambda L: L.slice(-2), [4, 5]),
        (lambda L: L.slice(0, None, 2), [1, 3, 5]),
        (lambda L: L.get(-1), 5),
        (lambda L: L.size(), 5),
        (lambda L: L.length(), 5),
        (lambda L: L.add(6), [1, 2, 3, 4, 5, 6]),
        (lambda L: L.cat([9]), [1, 2, 3, 4, 5, 9]),
        (lambda L: L.reverse(), [5, 4, 3, 2, 1]),
        (lambda L: L.contains(3), True),
        (lambda L: L.contains(7), False),
        (lambda L: L.indexOf(4), 3),
        (lambda L: L.indexOf(7), -1),
        (lambda L: L.set(1, "x"), [1, "x", 3, 4, 5]),
        (lambda L: L.set(-1, 0), [1, 2, 3, 4, 0]),
        (lambda L: L.insert(0, 0), [0, 1, 2, 3, 4, 5]),
        (lambda L: L.swap(0, -1), [5, 2, 3, 4, 1]),
        (lambda L: L.rotate(2), [4, 5, 1, 2, 3]),
        (lambda L: L.splice(1, 2, ["a"]), [1, "a", 4, 5]),
        (lambda L: L.zip(["a", "b"]), [[1, "a"], [2, "b"]]),
        (lambda L: L.join("-"), "1-2-3-4-5"),
        (lambda L: L.filter(ee.Filter.gt("item", 3)), [4, 5]),
        (lambda L: L.removeAll([2, 4]), [1, 3, 5]),
        (lambda L: L.containsAll([5, 1]), True),
        (lambda L: L.equals([1, 2, 3, 4, 5]), True),
        (lambda L: L.indexOfSublist([3, 4]), 2),
    ],
)
def test_list_algorithms(expr, expected) -> None:
    assert expr(ee.List([1, 2, 3, 4, 5])).getInfo() == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (lambda: ee.List.repeat("a", 3), ["a", "a", "a"]),
        (lambda: ee.List([[1, [2]], 3]).flatten(), [1, 2, 3]),
        (lambda: ee.List([1, 2, 3, 2]).remove(2), [1, 3, 2]),
        (lambda: ee.List([1, 2, 1, 3, 2]).distinct(), [1, 2, 3]),
        (lambda: ee.List([1, 2, 1, 3, 1]).frequency(1), 3),
        (lambda: ee.List([3, 1, 2]).sort(), [1, 2, 3]),
        (lambda: ee.List(["b", "c", "a"]).sort(), ["a", "b", "c"]),
        (lambda: ee.List(["x", "y", "z"]).sort(["c", "a", "b"]), ["y", "z", "x"]),
        (lambda: ee.List([1, 2, 1]).replaceAll(1, 0), [0, 2, 0]),
        (lambda: ee.List([[1, "a"], [2, "b"]]).unzip(), [[1, 2], ["a", "b"]]),
        (lambda: ee.List(["a", 1, 2.5]).join(", "), "a, 1, 2.5"),
    ],
)
def test_more_list_algorithms(expr, expected) -> None:
    assert expr().getInfo() == expected


def test_list_get_out_of_range_is_an_error() -> None:
    with pytest.raises(ee.EEException, match=r"List.get: List index must be between -3 and 2"):
        ee.List([1, 2, 3]).get(5).getInfo()


def test_list_map_drop_nulls() -> None:
    got = ee.List([1, 2, 3, 4]).map(
        lambda x: ee.Algorithms.If(ee.Number(x).mod(2).eq(0), x, None), True
    )
    assert got.getInfo() == [2, 4]


# --- Dictionary -------------------------------------------------------------------------------


def test_dictionary_keys_are_sorted_and_values_follow() -> None:
    d = ee.Dictionary({"b": 2, "a": 1, "c": 3})
    assert d.keys().getInfo() == ["a", "b", "c"]
    assert d.values().getInfo() == [1, 2, 3]
    assert d.values(["c", "a"]).getInfo() == [3, 1]
    assert d.size().getInfo() == 3


def test_dictionary_get_with_default_and_missing_key() -> None:
    d = ee.Dictionary({"a": 1})
    assert d.get("a").getInfo() == 1
    assert d.get("z", 0).getInfo() == 0
    with pytest.raises(ee.EEException, match="Dictionary does not contain key: 'z'"):
        d.get("z").getInfo()


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (lambda d: d.set("c", 3), {"a": 1, "b": 2, "c": 3}),
        (lambda d: d.contains("b"), True),
        (lambda d: d.contains("z"), False),
        (lambda d: d.combine({"b": 20, "c": 30}), {"a": 1, "b": 20, "c": 30}),
        (lambda d: d.combine({"b": 20, "c": 30}, False), {"a": 1, "b": 2, "c": 30}),
        (lambda d: d.remove(["a"]), {"b": 2}),
        (lambda d: d.remove(["z"], True), {"a": 1, "b": 2}),
        (lambda d: d.select(["b"]), {"b": 2}),
        (lambda d: d.select(["[ab]"]), {"a": 1, "b": 2}),
        (lambda d: d.rename(["a"], ["x"]), {"b": 2, "x": 1}),
        (lambda d: d.map(lambda k, v: ee.Number(v).multiply(10)), {"a": 10, "b": 20}),
        (lambda d: d.toArray(), [1, 2]),
    ],
)
def test_dictionary_algorithms(expr, expected) -> None:
    assert expr(ee.Dictionary({"a": 1, "b": 2})).getInfo() == expected


def test_dictionary_from_lists_and_alternating_list() -> None:
    assert ee.Dictionary.fromLists(["y", "x"], [2, 1]).getInfo() == {"x": 1, "y": 2}
    assert ee.Dictionary(ee.List(["k", 1, "j", 2])).getInfo() == {"j": 2, "k": 1}


def test_dictionary_select_missing_key_is_an_error() -> None:
    with pytest.raises(ee.EEException, match="did not match any keys"):
        ee.Dictionary({"a": 1}).select(["q"]).getInfo()


# --- String -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (lambda: ee.String("ab").cat("cd"), "abcd"),
        (lambda: ee.String("hello").length(), 5),
        (lambda: ee.String("a").compareTo("b"), -1),
        (lambda: ee.String("b").compareTo("b"), 0),
        (lambda: ee.String("a,b,,c").split(","), ["a", "b", "", "c"]),
        (lambda: ee.String("abc").split(""), ["a", "b", "c"]),
        (lambda: ee.String("a-b-c").replace("-", "+"), "a+b-c"),
        (lambda: ee.String("a-b-c").replace("-", "+", "g"), "a+b+c"),
        (lambda: ee.String("x1 y2").replace(r"(\w)(\d)", "$2$1", "g"), "1x 2y"),
        (lambda: ee.String("ABC").replace("b", "_", "i"), "A_C"),
        (lambda: ee.String("hello").slice(1, 3), "el"),
        (lambda: ee.String("hello").slice(-3), "llo"),
        (lambda: ee.String("Hello").toUpperCase(), "HELLO"),
        (lambda: ee.String("Hello").toLowerCase(), "hello"),
        (lambda: ee.String("abc").equals("abc"), True),
        (lambda: ee.String("abc").equals(1), False),
        (lambda: ee.String("hello").index("lo"), 3),
        (lambda: ee.String("hello").index("z"), -1),
        (lambda: ee.String("  pad ").trim(), "pad"),
        (lambda: ee.String("a1b22").match(r"\d+", "g"), ["1", "22"]),
        (lambda: ee.String(ee.Number(5)), "5"),
        (lambda: ee.String(ee.Number(2.5)), "2.5"),
        (lambda: ee.String('{"a": [1, 2]}').decodeJSON(), {"a": [1, 2]}),
    ],
)
def test_string_algorithms(expr, expected) -> None:
    assert expr().getInfo() == expected


# --- Date and DateRange -----------------------------------------------------------------------


def test_date_from_string_number_and_ymd() -> None:
    assert ee.Date("2000-01-01").millis().getInfo() == 946684800000
    assert ee.Date("2000-01-01T06:30").millis().getInfo() == ms(2000, 1, 1, 6, 30)
    assert ee.Date("1996-032").millis().getInfo() == ms(1996, 2, 1)  # year-day-of-year
    assert ee.Date(946684800000).format().getInfo() == "2000-01-01T00:00:00"
    assert ee.Date.fromYMD(2020, 2, 29).millis().getInfo() == ms(2020, 2, 29)


def test_date_time_zone() -> None:
    # Earth Engine's documented example: 2020-08-18 UTC in Los Angeles.
    d = ee.Date("2020-08-18")
    assert d.format(None, "America/Los_Angeles").getInfo() == "2020-08-17T17:00:00"
    # Midnight in Shanghai (UTC+8) is 16:00 the day before in UTC.
    assert ee.Date("2020-01-01", "Asia/Shanghai").millis().getInfo() == ms(2019, 12, 31, 16)
    with pytest.raises(ee.EEException, match="Unknown time zone"):
        d.format(None, "Mars/Olympus").getInfo()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd HH:mm:ss", "2020-03-15 10:20:30"),
        ("yy/M/d", "20/3/15"),
        ("EEE, d MMM yyyy", "Sun, 15 Mar 2020"),
        ("EEEE MMMM", "Sunday March"),
        ("D", "75"),  # 31 + 29 + 15
        ("'day' DDD 'of' yyyy", "day 075 of 2020"),
        ("hh:mm a", "10:20 AM"),
        ("yyyyMMdd'T'HHmm", "20200315T1020"),
        ("Z", "+0000"),
    ],
)
def test_date_format_joda_patterns(pattern, expected) -> None:
    assert ee.Date("2020-03-15T10:20:30").format(pattern).getInfo() == expected


def test_date_get_and_get_relative() -> None:
    d = ee.Date("2020-03-15T10:20:30")  # a Sunday, ISO week 11
    got = ee.List(
        [d.get(u) for u in ("year", "month", "week", "day", "hour", "minute", "second")]
    ).getInfo()
    assert got == [2020, 3, 11, 15, 10, 20, 30]
    assert d.getRelative("day", "year").getInfo() == 74  # 0-based day of year
    assert d.getRelative("month", "year").getInfo() == 2
    assert d.getRelative("day", "week").getInfo() == 6  # Monday = 0
    assert d.getRelative("hour", "day").getInfo() == 10


def test_date_advance_calendar_arithmetic() -> None:
    jan31 = ee.Date("2020-01-31")
    assert jan31.advance(1, "month").format().getInfo() == "2020-02-29T00:00:00"
    assert ee.Date("2020-02-29").advance(-1, "year").format().getInfo() == "2019-02-28T00:00:00"
    assert jan31.advance(36, "hour").format().getInfo() == "2020-02-01T12:00:00"
    assert jan31.advance(2, "week").format().getInfo() == "2020-02-14T00:00:00"
    assert jan31.advance(1.5, "day").format().getInfo() == "2020-02-01T12:00:00"


def test_date_difference_uses_average_unit_lengths() -> None:
    a, b = ee.Date("2021-01-01"), ee.Date("2020-01-01")
    assert a.difference(b, "day").getInfo() == 366
    assert a.difference(b, "week").getInfo() == pytest.approx(366 / 7)
    # Joda-Time's average Gregorian year: 365.2425 days.
    assert a.difference(b, "year").getInfo() == pytest.approx(366 / 365.2425)
    assert a.difference(b, "month").getInfo() == pytest.approx(366 / (365.2425 / 12))
    assert b.difference(a, "day").getInfo() == -366


def test_date_range_fraction_update_parse() -> None:
    r = ee.Date("2020-02-10T05:00").getRange("month").getInfo()
    assert r == {"type": "DateRange", "dates": [ms(2020, 2, 1), ms(2020, 3, 1)]}
    week = ee.Date("2020-03-15").getRange("week").getInfo()["dates"]
    assert week == [ms(2020, 3, 9), ms(2020, 3, 16)]  # Monday to Monday
    # 2020-07-02 is 183 days into a 366-day year.
    assert ee.Date("2020-07-02").getFraction("year").getInfo() == pytest.approx(0.5)
    upd = ee.Date("2020-03-15T10:20:30").update(year=2001, hour=0)
    assert upd.format().getInfo() == "2001-03-15T00:20:30"
    parsed = ee.Date.parse("dd/MM/yyyy HH:mm", "15/03/2020 07:45")
    assert parsed.millis().getInfo() == ms(2020, 3, 15, 7, 45)
    assert ee.Date.unitRatio("day", "minute").getInfo() == 1440


def test_date_range() -> None:
    r = ee.DateRange("2020-01-01", "2020-02-01")
    assert r.contains(ee.Date("2020-01-31T23:59")).getInfo() is True
    assert r.contains(ee.Date("2020-02-01")).getInfo() is False  # end is exclusive
    assert r.contains(ee.DateRange("2020-01-05", "2020-01-06")).getInfo() is True
    assert r.start().millis().getInfo() == ms(2020, 1, 1)
    assert r.end().millis().getInfo() == ms(2020, 2, 1)
    other = ee.DateRange("2020-01-15", "2020-03-01")
    assert r.intersects(other).getInfo() is True
    assert r.intersection(other).getInfo()["dates"] == [ms(2020, 1, 15), ms(2020, 2, 1)]
    assert r.union(other).getInfo()["dates"] == [ms(2020, 1, 1), ms(2020, 3, 1)]
    assert ee.DateRange("2020-01-02", "2020-01-01").isEmpty().getInfo() is True
    assert ee.DateRange.unbounded().isUnbounded().getInfo() is True
    one = ee.DateRange(ee.Date("2020-01-01")).getInfo()["dates"]
    assert one == [ms(2020, 1, 1), ms(2020, 1, 1) + 1]


def test_bad_date_string_is_an_error() -> None:
    with pytest.raises(ee.EEException, match="Unable to parse date string 'not a date'"):
        ee.Date("not a date").millis().getInfo()


# --- If, ObjectType, IsEqual ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [(1, "yes"), (0, "no"), (0.5, "yes"), ("", "no"), ("x", "yes"), ([], "no"), ([0], "yes")],
)
def test_if_truth_rules(condition, expected) -> None:
    assert ee.Algorithms.If(condition, "yes", "no").getInfo() == expected


def test_if_with_computed_condition() -> None:
    got = ee.List([1, 5]).map(lambda v: ee.Algorithms.If(ee.Number(v).gt(2), "big", "small"))
    assert got.getInfo() == ["small", "big"]


def test_object_type_and_is_equal() -> None:
    # Earth Engine's documented examples.
    assert ee.Algorithms.ObjectType(ee.Number(1)).getInfo() == "Integer"
    assert ee.Algorithms.ObjectType(ee.String("a string")).getInfo() == "String"
    assert ee.Algorithms.ObjectType(ee.List([1, "a string"])).getInfo() == "List"
    assert ee.Algorithms.ObjectType(ee.Number(1.5)).getInfo() == "Float"
    assert ee.Algorithms.IsEqual(ee.List([1, 2]), [1, 2]).getInfo() is True
    assert ee.Algorithms.IsEqual(1, 2).getInfo() is False


# --- Projection ------------------------------------------------------------------------------

METERS_PER_DEGREE = 2 * math.pi * 6378137.0 / 360.0


def test_projection_constructor_and_accessors() -> None:
    p = ee.Projection("EPSG:4326", [0.5, 0, 10, 0, -0.5, 50])
    info = p.getInfo()
    assert info["crs"] == "EPSG:4326"
    assert info["transform"] == [0.5, 0, 10, 0, -0.5, 50]
    assert p.crs().getInfo() == "EPSG:4326"
    assert p.nominalScale().getInfo() == pytest.approx(0.5 * METERS_PER_DEGREE)
    assert ee.Projection("EPSG:4326").getInfo()["transform"] == [1, 0, 0, 0, 1, 0]
    wkt = p.transform().getInfo()
    assert wkt.startswith('PARAM_MT["Affine"')
    assert 'PARAMETER["elt_0_0", 0.5]' in wkt
    assert 'PARAMETER["elt_1_2", 50.0]' in wkt


def test_projection_scale_and_at_scale() -> None:
    p = ee.Projection("EPSG:3857", [30, 0, 100, 0, -30, 200])
    assert p.nominalScale().getInfo() == pytest.approx(30)
    assert p.scale(2, 3).getInfo()["transform"] == [60, 0, 100, 0, -90, 200]
    at = p.atScale(1000)
    assert at.nominalScale().getInfo() == pytest.approx(1000)
    assert at.getInfo()["transform"] == pytest.approx([1000, 0, 100, 0, -1000, 200])
    deg = ee.Projection("EPSG:4326").atScale(METERS_PER_DEGREE / 120)
    assert deg.getInfo()["transform"] == pytest.approx([1 / 120, 0, 0, 0, 1 / 120, 0])


def test_projection_errors() -> None:
    with pytest.raises(ee.EEException, match="6 numbers"):
        ee.Projection("EPSG:4326", [1, 0, 0]).getInfo()
    with pytest.raises(ee.EEException, match="Invalid CRS"):
        ee.Projection("EPSG:999999").getInfo()


def test_error_margin() -> None:
    assert ee.ErrorMargin(5).getInfo() == {"type": "ErrorMargin", "unit": "meters", "value": 5}


# --- Element properties on images -------------------------------------------------------------


def test_element_set_get_and_names() -> None:
    img = ee.Image.constant(1).set("a", 1).set({"b": "two", "c": [3]})
    assert img.get("a").getInfo() == 1
    assert img.get("b").getInfo() == "two"
    assert img.get("missing").getInfo() is None
    assert sorted(img.propertyNames().getInfo()) == ["a", "b", "c"]
    assert img.toDictionary().getInfo() == {"a": 1, "b": "two", "c": [3]}
    assert img.toDictionary(["a"]).getInfo() == {"a": 1}
    assert img.getNumber("a").getInfo() == 1
    assert img.getString("b").getInfo() == "two"
    # set returns a new element: the original is unchanged.
    base = ee.Image.constant(1).set("a", 1)
    assert base.set("a", 2).get("a").getInfo() == 2
    assert base.get("a").getInfo() == 1


def test_element_to_dictionary_skips_system_properties() -> None:
    img = ee.Image.constant(1).set({"system:time_start": 5, "system:index": "i", "x": 1})
    assert img.toDictionary().getInfo() == {"x": 1}


def test_copy_properties() -> None:
    src = ee.Image.constant(1).set({"a": 1, "b": 2, "system:time_start": 99})
    dst = ee.Image.constant(2).set("c", 3)
    all_ = ee.Image(dst.copyProperties(src)).toDictionary().getInfo()
    assert all_ == {"a": 1, "b": 2, "c": 3}
    some = ee.Image(dst.copyProperties(src, ["system:time_start"]))
    assert some.get("system:time_start").getInfo() == 99
    assert some.get("a").getInfo() is None
    excl = ee.Image(dst.copyProperties(src, exclude=["a"])).toDictionary().getInfo()
    assert excl == {"b": 2, "c": 3}
    with pytest.raises(ee.EEException, match="must not be specified together"):
        ee.Image(dst.copyProperties(src, ["a"], ["b"])).getInfo()


def test_get_number_on_string_property_is_a_type_error() -> None:
    img = ee.Image.constant(1).set("s", "abc")
    with pytest.raises(ee.EEException, match="Invalid type"):
        img.getNumber("s").getInfo()
