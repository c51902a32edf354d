"""``Filter.*`` algorithms. A :class:`Filter` value is a predicate on an element.

Binary filters take a left and a right operand, each either a field (a property of the
element tested, ``leftField``/``rightField``) or a constant (``leftValue``/``rightValue``),
exactly as the ``ee`` client sends them: ``ee.Filter.eq(name, v)`` is
``Filter.equals(leftField=name, rightValue=v)``; ``filterDate`` is
``Filter.dateRangeContains(leftValue=DateRange, rightField='system:time_start')``; ``inList``
is ``Filter.listContains`` with the operands swapped; ``gte``/``lte``/``neq`` are ``not`` of
``lessThan``/``greaterThan``/``equals``. A missing (null) property fails every comparison,
so ``not`` of a comparison passes it, as on Earth Engine.

When a filter is applied to a list (``List.filter``), an item that is not an element is
tested through a property named ``item``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.arguments import as_str, invalid_type
from ..core.objects import ee_equal, type_name
from ..core.registry import algorithm
from ..core.values import Date, DateRange, Element, Feature, Geometry, Image
from ..errors import EEError
from .date.date import calendar_field

__all__ = ["Filter", "JoinPair", "field_value"]


class Filter:
    """A predicate on elements, with a description for ``getInfo``."""

    ee_type = "Filter"

    def __init__(
        self,
        test: Callable[[Any], bool],
        description: dict,
        measure: Callable[[Any], float | None] | None = None,
    ) -> None:
        self._test = test
        self.description = description
        self._measure = measure

    def measure(self, element: Any) -> float | None:
        """The join measure of ``element`` (``withinDistance``: the distance in metres,
        ``maxDifference``: the absolute difference); None for filters without one."""
        return None if self._measure is None else self._measure(element)

    def test(self, element: Any) -> bool:
        """Whether ``element`` passes the filter."""
        return bool(self._test(element))

    def __call__(self, element: Any) -> bool:
        return self.test(element)

    def info(self) -> dict:
        return {"type": "Filter", **self.description}


_MISSING = object()


@dataclass(frozen=True)
class JoinPair:
    """A (primary, secondary) pair tested by a join condition: ``leftField`` is read from the
    primary element and ``rightField`` from the secondary one, as in Earth Engine's joins."""

    primary: Any
    secondary: Any


def field_value(element: Any, name: str) -> Any:
    """The value of a field of an element: a property, ``.geo``/``.all`` for its geometry,
    or ``item`` for a non-element list item. None when absent."""
    if isinstance(element, Element):
        if name in (".geo", ".all"):
            return _element_geometry(element)
        if name in element.properties:
            return element.properties[name]
        if isinstance(element, Image) and name == "system:band_names":
            return element.band_names
        return None
    if isinstance(element, Mapping):
        return element.get(name)
    if name == "item":
        return element
    return None


def _element_geometry(element: Element) -> Geometry | None:
    if isinstance(element, Feature):
        return element.geometry
    if isinstance(element, Image):
        from .image.spatial import image_geometry

        return image_geometry(element)
    return None


def _operands(
    algo: str,
    leftField: Any,
    rightValue: Any,
    rightField: Any,
    leftValue: Any,
) -> tuple[Callable[[Any], Any], Callable[[Any], Any], dict]:
    """Getters of the left and right operands of a binary filter, and its description."""
    if leftField is not None and leftValue is not None:
        raise EEError(f"{algo}: Only one of 'leftField' and 'leftValue' may be specified.")
    if rightField is not None and rightValue is not None:
        raise EEError(f"{algo}: Only one of 'rightField' and 'rightValue' may be specified.")
    if leftField is None and leftValue is None:
        raise EEError(f"{algo}: Either 'leftField' or 'leftValue' must be specified.")
    # A null right operand is a value (``ee.Filter.neq('prop', None)`` keeps the elements
    # whose property is set), as on Earth Engine.
    desc: dict[str, Any] = {}

    def getter(field: Any, value: Any, side: str) -> Callable[[Any], Any]:
        if field is not None:
            name = field
            desc[f"{side}Field"] = name
            part = "primary" if side == "left" else "secondary"

            def read(el: Any) -> Any:
                if isinstance(el, JoinPair):
                    el = getattr(el, part)
                return field_value(el, name)

            return read
        desc[f"{side}Value"] = value
        return lambda el: value

    return getter(leftField, leftValue, "left"), getter(rightField, rightValue, "right"), desc


def _comparable(v: Any) -> Any:
    if isinstance(v, Date):
        return v.millis
    if isinstance(v, bool):
        return int(v)
    return v


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def test(a: Any, b: Any) -> bool:
        a, b = _comparable(a), _comparable(b)
        if a is None or b is None:
            return False
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
                return False
            return op(a, b)
        if isinstance(a, str) and isinstance(b, str):
            return op(a, b)
        return False

    return test


def _equals(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return ee_equal(_comparable(a), _comparable(b))


def _not_equals(a: Any, b: Any) -> bool:
    return not _equals(a, b)


def _string_test(fn: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def test(a: Any, b: Any) -> bool:
        return isinstance(a, str) and isinstance(b, str) and fn(a, b)

    return test


def _list_contains(a: Any, b: Any) -> bool:
    if not isinstance(a, (list, tuple)) or b is None:
        return False
    return any(_equals(v, b) for v in a)


def _date_range_contains(a: Any, b: Any) -> bool:
    if not isinstance(a, DateRange):
        return False
    b = _comparable(b)
    if isinstance(b, bool) or not isinstance(b, (int, float)):
        return False
    return a.contains(float(b))


_BINARY: dict[str, Callable[[Any, Any], bool]] = {
    "Filter.equals": _equals,
    "Filter.eq": _equals,
    "Filter.notEquals": _not_equals,
    "Filter.neq": _not_equals,
    "Filter.lessThan": _compare(operator.lt),
    "Filter.lt": _compare(operator.lt),
    "Filter.lessThanOrEquals": _compare(operator.le),
    "Filter.lte": _compare(operator.le),
    "Filter.greaterThan": _compare(operator.gt),
    "Filter.gt": _compare(operator.gt),
    "Filter.greaterThanOrEquals": _compare(operator.ge),
    "Filter.gte": _compare(operator.ge),
    "Filter.stringContains": _string_test(lambda a, b: b in a),
    "Filter.stringStartsWith": _string_test(lambda a, b: a.startswith(b)),
    "Filter.stringEndsWith": _string_test(lambda a, b: a.endswith(b)),
    "Filter.listContains": _list_contains,
    "Filter.inList": _list_contains,
    "Filter.dateRangeContains": _date_range_contains,
}


def _register_binary(name: str, fn: Callable[[Any, Any], bool]) -> None:
    @algorithm(name)
    def impl(
        leftField: Any = None,
        rightValue: Any = None,
        rightField: Any = None,
        leftValue: Any = None,
    ) -> Filter:
        left, right, desc = _operands(name, leftField, rightValue, rightField, leftValue)
        if rightField is None and rightValue is None and fn in (_equals, _not_equals):
            # equals(field, null): the field is null (missing); notEquals: it is set.
            want_null = fn is _equals
            return Filter(lambda el: (left(el) is None) == want_null, {"name": name, **desc})
        return Filter(lambda el: fn(left(el), right(el)), {"name": name, **desc})


for _name, _fn in _BINARY.items():
    _register_binary(_name, _fn)


@algorithm("Filter.maxDifference")
def max_difference(
    difference: Any,
    leftField: Any = None,
    rightValue: Any = None,
    rightField: Any = None,
    leftValue: Any = None,
) -> Filter:
    name = "Filter.maxDifference"
    d = float(difference)
    left, right, desc = _operands(name, leftField, rightValue, rightField, leftValue)

    def test(el: Any) -> bool:
        a, b = _comparable(left(el)), _comparable(right(el))
        if not all(isinstance(v, (int, float)) for v in (a, b)):
            return False
        return abs(a - b) <= d

    def measure(el: Any) -> float | None:
        a, b = _comparable(left(el)), _comparable(right(el))
        if not all(isinstance(v, (int, float)) for v in (a, b)):
            return None
        return float(abs(a - b))

    return Filter(test, {"name": name, "difference": d, **desc}, measure)


# --- type test -----------------------------------------------------------------------------

_SUPERTYPES = {
    "Integer": ("Number", "Long", "Float", "Double"),
    "Long": ("Number",),
    "Float": ("Number", "Double"),
    "Double": ("Number",),
    "Boolean": ("Number", "Integer"),
    "ImageCollection": ("Collection", "FeatureCollection", "Element"),
    "FeatureCollection": ("Collection", "Element"),
    "Image": ("Element",),
    "Feature": ("Element",),
}


@algorithm("Filter.hasType")
def has_type(
    leftField: Any = None,
    rightValue: Any = None,
    rightField: Any = None,
    leftValue: Any = None,
) -> Filter:
    name = "Filter.hasType"
    left, right, desc = _operands(name, leftField, rightValue, rightField, leftValue)

    def test(el: Any) -> bool:
        value, wanted = left(el), right(el)
        if value is None or not isinstance(wanted, str):
            return False
        actual = type_name(value)
        return wanted in ("Object", actual) or wanted in _SUPERTYPES.get(actual, ())

    return Filter(test, {"name": name, **desc})


# --- logic ---------------------------------------------------------------------------------


def _filters(items: list, algo: str) -> list[Filter]:
    for f in items:
        if not isinstance(f, Filter):
            raise invalid_type(algo, "filters", "Filter", f)
    return items


def _register_logic(name: str, combine: Callable[[Iterable[bool]], bool]) -> None:
    """``Filter.and``/``Filter.or``: every/any of ``filters`` passes. A combined filter has
    no join measure (the guide "Save-best joins": combined filters do not work with
    saveBest)."""

    @algorithm(name)
    def impl(filters: list) -> Filter:
        fs = _filters(filters, name)
        return Filter(
            lambda el: combine(f.test(el) for f in fs),
            {"name": name, "filters": [f.description for f in fs]},
        )


_register_logic("Filter.and", all)
_register_logic("Filter.or", any)


@algorithm("Filter.not")
def not_(filter: Any) -> Filter:
    if not isinstance(filter, Filter):
        raise invalid_type("Filter.not", "filter", "Filter", filter)
    return Filter(
        lambda el: not filter.test(el), {"name": "Filter.not", "filter": filter.description}
    )


@algorithm("Filter.always")
def always() -> Filter:
    return Filter(lambda el: True, {"name": "Filter.always"})


@algorithm("Filter.never")
def never() -> Filter:
    return Filter(lambda el: False, {"name": "Filter.never"})


@algorithm("Filter.notNull")
def not_null(properties: Any) -> Filter:
    names = [as_str(p, "Filter.notNull", "properties") for p in properties]
    return Filter(
        lambda el: all(field_value(el, n) is not None for n in names),
        {"name": "Filter.notNull", "properties": names},
    )


@algorithm("Filter.hasGeometry")
def has_geometry() -> Filter:
    return Filter(
        lambda el: isinstance(el, Feature) and el.geometry is not None,
        {"name": "Filter.hasGeometry"},
    )


# --- ranges and calendars --------------------------------------------------------------------


@algorithm("Filter.rangeContains")
def range_contains(field: Any, minValue: Any, maxValue: Any) -> Filter:
    name = field
    lo, hi = _comparable(minValue), _comparable(maxValue)
    ge, le = _compare(operator.ge), _compare(operator.le)
    return Filter(
        lambda el: ge(field_value(el, name), lo) and le(field_value(el, name), hi),
        {"name": "Filter.rangeContains", "field": name, "minValue": lo, "maxValue": hi},
    )


_CALENDAR_FIELDS = ("year", "month", "hour", "minute", "day_of_year", "day_of_month", "day_of_week")


def _calendar_filter(start: int, end: int, field: str, algo: str) -> Filter:
    """Pass when ``field`` of ``system:time_start`` (UTC) is in [start, end], wrapping when
    ``end < start`` (``value >= start or value <= end``)."""

    def test(el: Any) -> bool:
        t = _comparable(field_value(el, "system:time_start"))
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            return False
        v = calendar_field(float(t), field)
        if end < start:
            return v >= start or v <= end
        return start <= v <= end

    return Filter(test, {"name": algo, "field": field, "start": start, "end": end})


@algorithm("Filter.calendarRange")
def calendar_range(start: Any, end: Any = None, field: Any = "day_of_year") -> Filter:
    algo = "Filter.calendarRange"
    f = "day_of_year" if field is None else field
    if f not in _CALENDAR_FIELDS:
        raise EEError(
            f"{algo}: Unknown field '{f}'; expected one of {', '.join(_CALENDAR_FIELDS)}."
        )
    return _calendar_filter(start, start if end is None else end, f, algo)


@algorithm("Filter.dayOfYear")
def day_of_year(start: Any, end: Any) -> Filter:
    algo = "Filter.dayOfYear"
    return _calendar_filter(start, end, "day_of_year", algo)


# --- geometry tests --------------------------------------------------------------------------


def _shape(value: Any) -> Any:
    """A shapely shape in EPSG:4326 of a Geometry, Feature or FeatureCollection; None if none."""
    if value is None:
        return None
    if isinstance(value, (Element, Geometry)):
        from .image.spatial import as_geometry

        try:
            geom = value if isinstance(value, Geometry) else as_geometry(value, "Filter")
        except EEError:
            geom = _element_geometry(value) if isinstance(value, Element) else None
        if geom is None:
            return None
        return geom.in_crs("EPSG:4326")
    return None


def _register_geometry(name: str, fn: Callable[[Any, Any], bool]) -> None:
    @algorithm(name)
    def impl(
        leftField: Any = None,
        rightValue: Any = None,
        rightField: Any = None,
        leftValue: Any = None,
        maxError: Any = None,
    ) -> Filter:
        left, right, desc = _operands(name, leftField, rightValue, rightField, leftValue)

        def test(el: Any) -> bool:
            a, b = _shape(left(el)), _shape(right(el))
            if a is None or b is None:
                return False
            return fn(a, b)

        return Filter(test, {"name": name, **desc})


_register_geometry("Filter.intersects", lambda a, b: a.intersects(b))
_register_geometry("Filter.disjoint", lambda a, b: a.disjoint(b))
_register_geometry("Filter.contains", lambda a, b: not b.is_empty and a.contains(b))
_register_geometry("Filter.isContained", lambda a, b: not a.is_empty and b.contains(a))


@algorithm("Filter.withinDistance")
def within_distance(
    distance: Any,
    leftField: Any = None,
    rightValue: Any = None,
    rightField: Any = None,
    leftValue: Any = None,
    maxError: Any = None,
) -> Filter:
    """Passes when the geometries are within ``distance`` metres (geodesic, WGS84; see
    :mod:`.distance`); as a join condition the distance is the join measure."""
    from .distance import geodesic_distance

    name = "Filter.withinDistance"
    d = float(distance)
    left, right, desc = _operands(name, leftField, rightValue, rightField, leftValue)

    def measure(el: Any) -> float | None:
        a, b = _shape(left(el)), _shape(right(el))
        if a is None or b is None or a.is_empty or b.is_empty:
            return None
        return geodesic_distance(a, b)

    def test(el: Any) -> bool:
        m = measure(el)
        return m is not None and m <= d

    return Filter(test, {"name": name, "distance": d, **desc}, measure)
