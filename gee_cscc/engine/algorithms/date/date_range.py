"""``DateRange`` and ``DateRange.*`` algorithms.

A date range is a half-open interval ``[start, end)`` of milliseconds since
1970-01-01T00:00:00Z (:class:`~gee_cscc.engine.core.values.DateRange`); an unbounded end is
infinite. Dates given as strings are read in the requested time zone (UTC by default), as
``Date`` reads them (:mod:`.date`).
"""

from __future__ import annotations

import math
from typing import Any

from ...core.arguments import invalid_type
from ...core.registry import algorithm
from ...core.values import Date, DateRange
from .date import time_zone_arg, to_millis


def _range_arg(value: Any, algo: str, arg: str = "dateRange") -> DateRange:
    if isinstance(value, DateRange):
        return value
    raise invalid_type(algo, arg, "DateRange", value)


@algorithm("DateRange")
def date_range(start: Any, end: Any = None, timeZone: Any = None) -> DateRange:
    tz = time_zone_arg(timeZone, "DateRange")
    if isinstance(start, DateRange) and end is None:
        return start
    a = to_millis(start, "DateRange", "start", tz)
    b = a + 1 if end is None else to_millis(end, "DateRange", "end", tz)
    return DateRange(a, b)


@algorithm("DateRange.unbounded")
def unbounded() -> DateRange:
    return DateRange(-math.inf, math.inf)


@algorithm("DateRange.start")
def range_start(dateRange: Any) -> Date:
    return Date(_range_arg(dateRange, "DateRange.start").start)


@algorithm("DateRange.end")
def range_end(dateRange: Any) -> Date:
    return Date(_range_arg(dateRange, "DateRange.end").end)


@algorithm("DateRange.contains")
def range_contains(dateRange: Any, other: Any) -> bool:
    r = _range_arg(dateRange, "DateRange.contains")
    if isinstance(other, DateRange):
        if other.start >= other.end:
            return r.start <= other.start <= r.end
        return r.start <= other.start and other.end <= r.end
    return r.contains(to_millis(other, "DateRange.contains", "other"))


@algorithm("DateRange.intersects")
def range_intersects(dateRange: Any, other: Any) -> bool:
    r = _range_arg(dateRange, "DateRange.intersects")
    o = _range_arg(other, "DateRange.intersects", "other")
    return r.start < o.end and o.start < r.end


@algorithm("DateRange.intersection")
def range_intersection(dateRange: Any, other: Any) -> DateRange:
    r = _range_arg(dateRange, "DateRange.intersection")
    o = _range_arg(other, "DateRange.intersection", "other")
    start = max(r.start, o.start)
    return DateRange(start, max(start, min(r.end, o.end)))


@algorithm("DateRange.union")
def range_union(dateRange: Any, other: Any) -> DateRange:
    r = _range_arg(dateRange, "DateRange.union")
    o = _range_arg(other, "DateRange.union", "other")
    return DateRange(min(r.start, o.start), max(r.end, o.end))


@algorithm("DateRange.isEmpty")
def range_is_empty(dateRange: Any) -> bool:
    r = _range_arg(dateRange, "DateRange.isEmpty")
    return r.start >= r.end


@algorithm("DateRange.isUnbounded")
def range_is_unbounded(dateRange: Any) -> bool:
    r = _range_arg(dateRange, "DateRange.isUnbounded")
    return math.isinf(r.start) and math.isinf(r.end)
