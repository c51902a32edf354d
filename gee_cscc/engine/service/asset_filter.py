"""The ``filter`` of ``listAssets``: terms such as ``startTime >= "2001-01-01T00:00:00Z"``
``AND`` ``properties.year = 2005``, parsed once and matched against asset JSON.
"""

from __future__ import annotations

import re
from typing import Any

from .. import algorithms  # noqa: F401  (registers every algorithm)
from ..errors import EEError
from ..store.times import rfc3339_to_millis

__all__ = ["matches_filter", "parse_filter"]

_FILTER_TERM_RE = re.compile(
    r'^(?P<field>properties\.(?:"[^"]+"|[\w.-]+)|[A-Za-z_]\w*)\s*'
    r'(?P<op>>=|<=|!=|=|<|>|:)\s*(?P<value>"[^"]*"|[^\s"]+)$'
)
_TIME_FIELDS = ("startTime", "endTime", "updateTime")


def _filter_millis(text: str) -> float:
    """Milliseconds of an RFC 3339 / ISO 8601 time (``2002``, ``2002-01-01``, ``…T00:00:00Z``)."""
    t = text.strip()
    if re.fullmatch(r"\d{4}", t):
        t += "-01-01"
    millis = rfc3339_to_millis(t)
    if millis is None:
        raise EEError(f"listAssets: Invalid time in filter: '{text}'.")
    return millis


def parse_filter(flt: str) -> list[tuple[str, str, Any]]:
    """AND-joined comparisons of AIP-160, as ``ee.data.listImages`` writes them.

    Supported: ``startTime``/``endTime``/``updateTime`` against a quoted time, other top-level
    fields and ``properties.<name>`` against a quoted string or a number. Anything else (OR,
    ``intersects(...)``, functions) is an error rather than being ignored.
    """
    terms = []
    for term in re.split(r"\s+AND\s+", flt.strip()):
        m = _FILTER_TERM_RE.match(term.strip())
        if not m:
            raise EEError(
                f"listAssets: the filter term '{term.strip()}' is not supported by the local "
                "engine (it supports AND-joined comparisons of startTime, endTime, updateTime, "
                "type, name and properties.<name>)."
            )
        field, op, raw = m.group("field"), m.group("op"), m.group("value")
        value: Any
        if raw.startswith('"'):
            value = raw[1:-1]
        else:
            try:
                value = float(raw)
            except ValueError:
                value = {"true": True, "false": False}.get(raw.lower(), raw)
        if field in _TIME_FIELDS:
            value = _filter_millis(str(value))
        terms.append((field, op, value))
    return terms


def _compare(have: Any, op: str, want: Any) -> bool:
    if isinstance(have, bool) or isinstance(want, bool):
        return op in ("=", ":") and have == want or op == "!=" and have != want
    if isinstance(have, (int, float)) and isinstance(want, (int, float)):
        pass
    elif isinstance(want, (int, float)):
        try:
            have = float(have)
        except (TypeError, ValueError):
            return op == "!="
    else:
        have = str(have)
        want = str(want)
    return {
        ">=": lambda: have >= want,
        "<=": lambda: have <= want,
        "<": lambda: have < want,
        ">": lambda: have > want,
        "=": lambda: have == want,
        ":": lambda: have == want,
        "!=": lambda: have != want,
    }[op]()


def matches_filter(asset: dict, terms: list[tuple[str, str, Any]]) -> bool:
    """Whether an asset's JSON satisfies the terms of a listAssets ``filter``."""
    for field, op, want in terms:
        if field.startswith("properties."):
            key = field[len("properties.") :].strip('"')
            have = (asset.get("properties") or {}).get(key)
        else:
            have = asset.get(field)
            if have is not None and field in _TIME_FIELDS:
                have = _filter_millis(have)
        if have is None or not _compare(have, op, want):
            return False
    return True
