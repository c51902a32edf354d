"""``Date`` and ``Date.*`` algorithms.

A date is milliseconds since 1970-01-01T00:00:00Z (:class:`~gee_cscc.engine.core.values.Date`).
Calendar arithmetic runs in the requested time zone (UTC by default) with the ISO calendar
Earth Engine uses (Joda-Time): weeks start on Monday, ``Date.difference`` divides by the
average length of a unit (a year of 365.2425 days, a month of a twelfth of that), and
patterns of ``Date.format``/``Date.parse`` are Joda-Time patterns (:mod:`.joda`).
``DateRange`` and ``DateRange.*`` are in :mod:`.date_range`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...core.arguments import invalid_type
from ...core.registry import algorithm
from ...core.values import Date, DateRange
from ...errors import EEError
from .joda import MONTH_NAMES, format_field, parse_regex, pattern_tokens

__all__ = [
    "UNIT_MILLIS",
    "calendar_field",
    "local_datetime",
    "parse_date_string",
    "to_millis",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DAY = 86_400_000
#: Average length of each unit in milliseconds (Joda-Time's Gregorian averages).
UNIT_MILLIS = {
    "year": 31_556_952_000,
    "month": 31_556_952_000 // 12,
    "week": 7 * _DAY,
    "day": _DAY,
    "hour": 3_600_000,
    "minute": 60_000,
    "second": 1_000,
}
_UNITS = tuple(UNIT_MILLIS)


# --- conversions ---------------------------------------------------------------------------


def time_zone_arg(time_zone: str | None, algo: str) -> dt.tzinfo:
    """The ``timeZone`` argument as a tzinfo (UTC when null; IANA names and UTC offsets)."""
    if time_zone is None:
        return dt.timezone.utc
    name = time_zone
    if name.upper() in ("UTC", "Z", "GMT", "ZULU", "ETC/UTC", "ETC/GMT"):
        return dt.timezone.utc
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", name)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        return dt.timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise EEError(f"{algo}: Unknown time zone: '{name}'.") from None


def local_datetime(millis: float, tz: dt.tzinfo = dt.timezone.utc) -> dt.datetime:
    """The aware datetime of a millisecond timestamp in a zone (millisecond precision)."""
    return (_EPOCH + dt.timedelta(milliseconds=millis)).astimezone(tz)


def _millis(d: dt.datetime) -> float:
    delta = d - _EPOCH
    ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds / 1000
    return float(ms)


def _localize(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return naive.replace(tzinfo=tz)


_DATE_RE = re.compile(
    r"^(?P<year>[+-]?\d{4,})"
    r"(?:-(?:(?P<doy>\d{3})|(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?))?"
    r"(?:[T ](?P<hour>\d{1,2})(?::(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<frac>\d+))?)?)?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_date_string(text: str, tz: dt.tzinfo = dt.timezone.utc, algo: str = "Date") -> float:
    """Milliseconds of an ISO 8601 date string (``1996``, ``1996-01``, ``1996-01-01``,
    ``1996-001``, ``1996-01-01T08:00[:00[.000]]``, optionally with ``Z`` or an offset)."""
    m = _DATE_RE.match(text.strip())
    if m is None:
        raise EEError(
            f"{algo}: Unable to parse date string '{text}'. Expected an ISO 8601 date such as "
            "'1996-01-01', '1996-001' or '1996-01-01T08:00'."
        )
    g = m.groupdict()
    try:
        year = int(g["year"])
        if g["doy"]:
            base = dt.datetime(year, 1, 1) + dt.timedelta(days=int(g["doy"]) - 1)
            if base.year != year:
                raise ValueError("day of year out of range")
            month, day = base.month, base.day
        else:
            month, day = int(g["month"] or 1), int(g["day"] or 1)
        frac = g["frac"] or ""
        micro = int((frac + "000000")[:6]) if frac else 0
        naive = dt.datetime(
            year,
            month,
            day,
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            int(g["second"] or 0),
            micro,
        )
    except ValueError as exc:
        raise EEError(f"{algo}: Invalid date '{text}': {exc}.") from None
    zone = g["zone"]
    if zone:
        tz = time_zone_arg("UTC" if zone == "Z" else zone, algo)
    return _millis(_localize(naive, tz))


def to_millis(value: Any, algo: str, arg: str, tz: dt.tzinfo = dt.timezone.utc) -> float:
    """A Date, a number of milliseconds or a date string as milliseconds."""
    if isinstance(value, Date):
        return value.millis
    if isinstance(value, bool):
        raise invalid_type(algo, arg, "Date", value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return parse_date_string(value, tz, algo)
    raise invalid_type(algo, arg, "Date", value)


def _date(value: Any, algo: str, arg: str = "date") -> float:
    if isinstance(value, Date):
        return value.millis
    raise invalid_type(algo, arg, "Date", value)


def _unit(value: str, algo: str, allowed: tuple[str, ...] = _UNITS) -> str:
    text = value.lower()
    if text.endswith("s") and text[:-1] in allowed:
        text = text[:-1]
    if text not in allowed:
        raise EEError(f"{algo}: Invalid unit '{value}'; expected one of {', '.join(allowed)}.")
    return text


def _long(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


# --- calendar helpers -----------------------------------------------------------------------


def _floor(local: dt.datetime, unit: str) -> dt.datetime:
    """The start (local wall clock) of the unit containing ``local``."""
    naive = local.replace(tzinfo=None)
    if unit == "year":
        return naive.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return naive.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        day = naive.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - dt.timedelta(days=naive.weekday())
    if unit == "day":
        return naive.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return naive.replace(minute=0, second=0, microsecond=0)
    if unit == "minute":
        return naive.replace(second=0, microsecond=0)
    return naive.replace(microsecond=0)


def _add_months(naive: dt.datetime, months: int) -> dt.datetime:
    """Calendar month arithmetic; the day is clamped to the month's length (Joda-Time)."""
    total = naive.year * 12 + (naive.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise EEError("Date.advance: the resulting date is out of range.")
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return naive.replace(year=year, month=month, day=min(naive.day, last))


def _advance(millis: float, delta: float, unit: str, tz: dt.tzinfo, algo: str) -> float:
    if unit in ("hour", "minute", "second"):
        return millis + delta * UNIT_MILLIS[unit]
    local = local_datetime(millis, tz).replace(tzinfo=None)
    if unit in ("year", "month"):
        if not float(delta).is_integer():
            raise EEError(
                f"{algo}: a fractional number of {unit}s ({delta}) is not supported by the "
                "local engine; use whole months or years, or days."
            )
        months = int(delta) * (12 if unit == "year" else 1)
        return _millis(_localize(_add_months(local, months), tz))
    days = delta * (7 if unit == "week" else 1)
    whole = math.trunc(days)
    moved = _millis(_localize(local + dt.timedelta(days=whole), tz))
    return moved + (days - whole) * _DAY


def _range(millis: float, unit: str, tz: dt.tzinfo, algo: str) -> tuple[float, float]:
    start_local = _floor(local_datetime(millis, tz), unit)
    start = _millis(_localize(start_local, tz))
    end = _advance(start, 1, unit, tz, algo)
    return start, end


def calendar_field(millis: float, field: str, tz: dt.tzinfo = dt.timezone.utc) -> int:
    """A calendar field of a date: ``year``, ``month``, ``week``, ``day`` (of month),
    ``day_of_year``, ``day_of_month``, ``day_of_week`` (Monday = 1), ``hour``, ``minute``,
    ``second``."""
    d = local_datetime(millis, tz)
    if field == "year":
        return d.year
    if field == "month":
        return d.month
    if field == "week":
        return d.isocalendar()[1]
    if field in ("day", "day_of_month"):
        return d.day
    if field == "day_of_year":
        return d.timetuple().tm_yday
    if field == "day_of_week":
        return d.isoweekday()
    if field == "hour":
        return d.hour
    if field == "minute":
        return d.minute
    if field == "second":
        return d.second
    raise EEError(f"Unknown calendar field '{field}'.")


# --- Date ----------------------------------------------------------------------------------


@algorithm("Date")
def date(value: Any, timeZone: Any = None) -> Date:
    tz = time_zone_arg(timeZone, "Date")
    return Date(to_millis(value, "Date", "value", tz))


@algorithm("Date.fromYMD")
def from_ymd(year: Any, month: Any, day: Any, timeZone: Any = None) -> Date:
    tz = time_zone_arg(timeZone, "Date.fromYMD")
    try:
        naive = dt.datetime(year, month, day)
    except ValueError as exc:
        raise EEError(f"Date.fromYMD: Invalid date {year}-{month}-{day}: {exc}.") from None
    return Date(_millis(_localize(naive, tz)))


@algorithm("Date.millis")
def millis(date: Any) -> int | float:
    return _long(_date(date, "Date.millis"))


@algorithm("Date.get")
def get(date: Any, unit: Any, timeZone: Any = None) -> int:
    ms = _date(date, "Date.get")
    u = _unit(unit, "Date.get")
    return calendar_field(ms, u, time_zone_arg(timeZone, "Date.get"))


@algorithm("Date.getRange")
def get_range(date: Any, unit: Any, timeZone: Any = None) -> DateRange:
    ms = _date(date, "Date.getRange")
    u = _unit(unit, "Date.getRange")
    return DateRange(*_range(ms, u, time_zone_arg(timeZone, "Date.getRange"), "Date.getRange"))


@algorithm("Date.getFraction")
def get_fraction(date: Any, unit: Any, timeZone: Any = None) -> float:
    ms = _date(date, "Date.getFraction")
    u = _unit(unit, "Date.getFraction")
    start, end = _range(ms, u, time_zone_arg(timeZone, "Date.getFraction"), "Date.getFraction")
    return (ms - start) / (end - start)


@algorithm("Date.getRelative")
def get_relative(date: Any, unit: Any, inUnit: Any, timeZone: Any = None) -> int:
    """The 0-based count of whole ``unit``s since the start of the enclosing ``inUnit``."""
    algo = "Date.getRelative"
    ms = _date(date, algo)
    u = _unit(unit, algo, _UNITS[1:])
    outer = _unit(inUnit, algo, _UNITS[:-1])
    if _UNITS.index(u) <= _UNITS.index(outer):
        raise EEError(f"{algo}: unit '{u}' must be smaller than inUnit '{outer}'.")
    tz = time_zone_arg(timeZone, algo)
    local = local_datetime(ms, tz).replace(tzinfo=None)
    start = _floor(local, outer)
    if u == "month":
        return (local.year - start.year) * 12 + local.month - start.month
    days = (local.date() - start.date()).days
    if u == "week":
        return days // 7
    if u == "day":
        return days
    seconds = (local - start).total_seconds()
    return int(seconds * 1000 // UNIT_MILLIS[u])


@algorithm("Date.advance")
def advance(date: Any, delta: Any, unit: Any, timeZone: Any = None) -> Date:
    algo = "Date.advance"
    ms = _date(date, algo)
    d = float(delta)
    u = _unit(unit, algo)
    return Date(_advance(ms, d, u, time_zone_arg(timeZone, algo), algo))


@algorithm("Date.difference")
def difference(date: Any, start: Any, unit: Any) -> float:
    algo = "Date.difference"
    a = _date(date, algo)
    b = _date(start, algo, "start")
    return (a - b) / UNIT_MILLIS[_unit(unit, algo)]


@algorithm("Date.unitRatio")
def unit_ratio(numerator: Any, denominator: Any) -> float:
    algo = "Date.unitRatio"
    return UNIT_MILLIS[_unit(numerator, algo)] / UNIT_MILLIS[_unit(denominator, algo)]


@algorithm("Date.update")
def update(
    date: Any,
    year: Any = None,
    month: Any = None,
    day: Any = None,
    hour: Any = None,
    minute: Any = None,
    second: Any = None,
    timeZone: Any = None,
) -> Date:
    algo = "Date.update"
    ms = _date(date, algo)
    tz = time_zone_arg(timeZone, algo)
    local = local_datetime(ms, tz).replace(tzinfo=None)
    given = {"year": year, "month": month, "day": day, "hour": hour, "minute": minute}
    fields: dict[str, int] = {k: v for k, v in given.items() if v is not None}
    if second is not None:
        s = float(second)
        fields["second"] = int(math.floor(s))
        fields["microsecond"] = int(round((s - math.floor(s)) * 1000)) * 1000
    try:
        naive = local.replace(**fields)
    except ValueError as exc:
        raise EEError(f"{algo}: Invalid date: {exc}.") from None
    return Date(_millis(_localize(naive, tz)))


# --- Date.format and Date.parse -------------------------------------------------------------


def _format(ms: float, pattern: str, tz: dt.tzinfo, algo: str) -> str:
    local = local_datetime(ms, tz)
    out = []
    for kind, count in pattern_tokens(pattern, algo):
        if kind == "lit":
            out.append(count)
            continue
        out.append(format_field(local, kind, count, tz, algo))
    return "".join(out)


@algorithm("Date.format")
def format_(date: Any, format: Any = None, timeZone: Any = None) -> str:
    ms = _date(date, "Date.format")
    tz = time_zone_arg(timeZone, "Date.format")
    if format is None or format == "":
        return _format(ms, "yyyy-MM-dd'T'HH:mm:ss", tz, "Date.format")
    return _format(ms, format, tz, "Date.format")


@algorithm("Date.parse")
def parse(format: Any, date: Any, timeZone: Any = None) -> Date:
    algo = "Date.parse"
    pattern = format
    text = date
    tz = time_zone_arg(timeZone, algo)
    tokens = pattern_tokens(pattern, algo)
    try:
        regex = re.compile(parse_regex(tokens, algo))
    except re.error:
        raise EEError(f"{algo}: a pattern letter repeats in '{pattern}'.") from None
    m = regex.fullmatch(text.strip())
    if m is None:
        raise EEError(f"{algo}: Invalid format: \"{text}\" does not match the pattern '{pattern}'.")
    g = {k: v for k, v in m.groupdict().items() if v is not None}
    year = 1970
    if "y" in g or "Y" in g:
        year = int(g.get("y", g.get("Y")))
    if "y2" in g or "Y2" in g:
        yy = int(g.get("y2", g.get("Y2")))
        year = 2000 + yy if yy < 50 else 1900 + yy
    month = 1
    if "M" in g:
        v = g["M"]
        month = (
            int(v) if v.isdigit() else [x[:3].lower() for x in MONTH_NAMES].index(v[:3].lower()) + 1
        )
    day = int(g.get("d", 1))
    hour = int(g.get("H", 0))
    if "h" in g:
        hour = int(g["h"]) % 12 + (12 if g.get("a", "AM").upper() == "PM" else 0)
    minute = int(g.get("m", 0))
    second = int(g.get("s", 0))
    micro = int((g.get("S", "") + "000000")[:6]) if "S" in g else 0
    try:
        if "D" in g:
            naive = dt.datetime(year, 1, 1, hour, minute, second, micro) + dt.timedelta(
                days=int(g["D"]) - 1
            )
        else:
            naive = dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError as exc:
        raise EEError(f'{algo}: Invalid date "{text}": {exc}.') from None
    if "Z" in g:
        tz = time_zone_arg("UTC" if g["Z"] == "Z" else g["Z"], algo)
    elif "z" in g:
        tz = time_zone_arg(g["z"], algo)
    return Date(_millis(_localize(naive, tz)))
