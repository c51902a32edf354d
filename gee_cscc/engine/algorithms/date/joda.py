"""Joda-Time patterns of ``Date.format`` and ``Date.parse``.

A pattern is split into literal text and runs of one pattern letter (``yyyy``, ``MM``,
``'T'`` …); each run is formatted from a local date-time, or turned into a named group of a
regular expression that reads it back. Month and day names are English, as Earth Engine's.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ...errors import EEError

MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_PATTERN_LETTERS = set("GCYxwweEyDMdaKhHkmsSzZ")


def pattern_tokens(pattern: str, algo: str) -> list[tuple[str, Any]]:
    """Split a Joda-Time pattern into ``("lit", text)`` and ``(letter, count)`` tokens."""
    out: list[tuple[str, Any]] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                out.append(("lit", "'"))
                i += 2
                continue
            j = i + 1
            text = []
            while j < n:
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            if j >= n:
                raise EEError(f"{algo}: Unterminated quote in pattern '{pattern}'.")
            out.append(("lit", "".join(text)))
            i = j + 1
            continue
        if ch.isascii() and ch.isalpha():
            if ch not in _PATTERN_LETTERS:
                raise EEError(f"{algo}: Illegal pattern component: {ch}")
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            out.append((ch, j - i))
            i = j
            continue
        out.append(("lit", ch))
        i += 1
    return out


def _offset_text(local: dt.datetime, colon: bool) -> str:
    off = local.utcoffset() or dt.timedelta(0)
    total = int(off.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    h, m = divmod(abs(total), 60)
    return f"{sign}{h:02d}:{m:02d}" if colon else f"{sign}{h:02d}{m:02d}"


def _zone_id(tz: dt.tzinfo) -> str:
    key = getattr(tz, "key", None)
    if key:
        return key
    return "UTC" if tz is dt.timezone.utc else str(tz)


def _num(v: int, count: int) -> str:
    return f"{'-' if v < 0 else ''}{abs(v):0{count}d}"


def format_field(local: dt.datetime, kind: str, count: int, tz: dt.tzinfo, algo: str) -> str:
    """The text of one Joda pattern field (``kind`` letter repeated ``count`` times) of a time."""
    if kind in "yY":
        if count == 2:
            return f"{local.year % 100:02d}"
        return _num(local.year, count)
    if kind == "x":
        wy = local.isocalendar()[0]
        return f"{wy % 100:02d}" if count == 2 else _num(wy, count)
    if kind == "M":
        if count >= 4:
            return MONTH_NAMES[local.month - 1]
        if count == 3:
            return MONTH_NAMES[local.month - 1][:3]
        return _num(local.month, count)
    if kind == "d":
        return _num(local.day, count)
    if kind == "D":
        return _num(local.timetuple().tm_yday, count)
    if kind == "w":
        return _num(local.isocalendar()[1], count)
    if kind == "e":
        return _num(local.isoweekday(), count)
    if kind == "E":
        name = _DAYS[local.weekday()]
        return name if count >= 4 else name[:3]
    if kind == "H":
        return _num(local.hour, count)
    if kind == "k":
        return _num(local.hour or 24, count)
    if kind == "K":
        return _num(local.hour % 12, count)
    if kind == "h":
        return _num(local.hour % 12 or 12, count)
    if kind == "m":
        return _num(local.minute, count)
    if kind == "s":
        return _num(local.second, count)
    if kind == "S":
        frac = f"{local.microsecond // 1000:03d}" + "0" * max(0, count - 3)
        return frac[:count]
    if kind == "a":
        return "AM" if local.hour < 12 else "PM"
    if kind == "G":
        return "AD" if local.year > 0 else "BC"
    if kind == "C":
        return _num(local.year // 100, count)
    if kind == "Z":
        if count == 1:
            return _offset_text(local, False)
        if count == 2:
            return _offset_text(local, True)
        return _zone_id(tz)
    if kind == "z":
        if count >= 4:
            raise EEError(
                f"{algo}: the long time-zone name pattern 'zzzz' is not implemented by the "
                "local engine."
            )
        return local.tzname() or _zone_id(tz)
    raise EEError(f"{algo}: Illegal pattern component: {kind}")


def parse_regex(tokens: list[tuple[str, Any]], algo: str) -> str:
    """A regular expression with one group per field of a tokenized Joda pattern."""
    parts = []
    for idx, (kind, count) in enumerate(tokens):
        if kind == "lit":
            parts.append(re.escape(count))
            continue
        nxt = tokens[idx + 1][0] if idx + 1 < len(tokens) else "lit"
        fixed = nxt != "lit"  # adjacent numeric fields are read with their exact width
        if kind == "M" and count >= 3:
            names = MONTH_NAMES if count >= 4 else [m[:3] for m in MONTH_NAMES]
            parts.append(f"(?P<M>{'|'.join(names)})")
        elif kind == "E":
            names = _DAYS if count >= 4 else [d[:3] for d in _DAYS]
            parts.append(f"(?:{'|'.join(names)})")
        elif kind == "a":
            parts.append("(?P<a>AM|PM|am|pm)")
        elif kind == "Z":
            parts.append(r"(?P<Z>Z|[+-]\d{2}:?\d{2}|[A-Za-z_]+(?:/[A-Za-z_]+)*)")
        elif kind == "z":
            parts.append(r"(?P<z>[A-Za-z]+)")
        elif kind in "yYxwedDMHkKhmsSC":
            if kind in "yY" and count == 2:
                width = r"\d{2}"
            elif fixed:
                width = rf"\d{{{count}}}"
            else:
                width = r"[+-]?\d+" if kind in "yYx" else r"\d+"
            if kind in ("w", "e", "x", "C", "k", "K"):
                raise EEError(
                    f"{algo}: parsing the pattern letter '{kind}' is not implemented by the "
                    "local engine."
                )
            parts.append(f"(?P<{kind}{'2' if kind in 'yY' and count == 2 else ''}>{width})")
        else:
            raise EEError(f"{algo}: Illegal pattern component: {kind}")
    return "".join(parts)
