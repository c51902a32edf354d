"""Times of assets: RFC 3339 timestamps of the REST API and ``system:time_start`` millis."""

from __future__ import annotations

import datetime as _dt

__all__ = ["asset_times", "millis_to_rfc3339", "now_rfc3339", "rfc3339_to_millis", "year_millis"]


def year_millis(year: int) -> int:
    """``system:time_start`` of 1 January of ``year`` (UTC), in milliseconds."""
    return int(_dt.datetime(int(year), 1, 1, tzinfo=_dt.timezone.utc).timestamp() * 1000)


def now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with milliseconds (``2024-01-31T12:00:00.000Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def millis_to_rfc3339(ms: float) -> str:
    """Milliseconds since the epoch as an RFC 3339 UTC timestamp."""
    t = _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rfc3339_to_millis(text: str) -> float | None:
    """Milliseconds since the epoch of an RFC 3339 / ISO 8601 time; None if unreadable.

    A trailing ``Z`` means UTC, and so does a time without an offset.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        t = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.timestamp() * 1000.0


def asset_times(properties: dict) -> dict[str, str]:
    """``startTime``/``endTime`` of an asset from its ``system:time_start``/``_end`` (ms).

    An image with a ``year`` property and no ``system:time_end`` ends on 1 January of the
    next year. No ``system:time_start``: no times.
    """
    start = properties.get("system:time_start")
    if start is None:
        return {}
    out = {"startTime": millis_to_rfc3339(start)}
    end = properties.get("system:time_end")
    if end is None and "year" in properties:
        end = year_millis(int(properties["year"]) + 1)
    if end is not None:
        out["endTime"] = millis_to_rfc3339(end)
    return out
