"""How values become escaped HTML text for the report page: number formats and table builders.

Number formats use thousands separators and a fixed number of decimals; a missing value
(None, NaN, ``pd.NA``, anything that is not a number) shows as :data:`MISSING` ("—") and an
infinite one as "∞" / "-∞", never "nan". The table builders escape every piece of text they
are given; numbers are right-aligned (``td.num``), text left-aligned (``td.txt``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "MISSING",
    "Column",
    "as_float",
    "escape",
    "format_config_value",
    "format_count",
    "format_number",
    "format_p",
    "format_percent",
    "format_text",
    "html_table",
    "key_value_table",
]

#: What a missing value shows as.
MISSING = "—"

# --------------------------------------------------------------------------- formatting


def as_float(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number."""
    if value is None or value is pd.NA or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def format_number(value: Any, decimals: int = 2, *, signed: bool = False) -> str:
    """A number with thousands separators and ``decimals`` decimals.

    Parameters
    ----------
    value : float, int or None
        The number; None, NaN and values that are not numbers give "—".
    decimals : int
        Digits after the decimal point.
    signed : bool, keyword-only
        Always show the sign (``+1.66``).

    Returns
    -------
    str
        E.g. ``"4,134.32"``; ``"∞"`` / ``"-∞"`` for infinities, ``"—"`` when missing.
    """
    v = as_float(value)
    if v is None or math.isnan(v):
        return MISSING
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    text = f"{v:{'+' if signed else ''},.{decimals}f}"
    if text[0] == "-" and float(text[1:].replace(",", "")) == 0:  # no "-0.00"
        text = ("+" if signed else "") + text[1:]
    return text


def format_percent(fraction: Any, decimals: int = 2) -> str:
    """A fraction as a percentage, ``0.2126 → "21.26 %"`` ("—" when missing)."""
    v = as_float(fraction)
    if v is None or math.isnan(v):
        return MISSING
    return f"{format_number(v * 100, decimals)} %"


def format_p(p: Any) -> str:
    """A p-value: three decimals, ``< 0.001`` below that ("—" when missing)."""
    v = as_float(p)
    if v is None or math.isnan(v):
        return MISSING
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def format_count(value: Any) -> str:
    """A whole number with thousands separators, ``1234 → "1,234"`` ("—" when missing)."""
    return format_number(value, 0)


def format_text(value: Any) -> str:
    """``value`` as text; "—" when it is None, NA, NaN or empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return str(value) if str(value) != "" else MISSING


def escape(value: Any) -> str:
    """``str(value)`` with ``&``, ``<``, ``>`` and quotes HTML-escaped."""
    return html.escape(str(value), quote=True)


def format_config_value(value: Any) -> str:
    """A configuration value as text: lists comma-joined, floats as ``:g``, None "(not set)"."""
    if value is None:
        return "(not set)"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_config_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --------------------------------------------------------------------------- HTML pieces

#: One column of :func:`html_table`: ``(column name, header, formatter of a value)``.
Column = tuple[str, str, Callable[[Any], str]]


def html_table(
    frame: pd.DataFrame | None,
    columns: Sequence[Column],
    *,
    cell_class: Callable[[str, Any], str] | None = None,
) -> str:
    """An HTML table of the given columns (missing columns show "—"); all text escaped."""
    if frame is None or frame.empty:
        return '<p class="empty">No rows.</p>'
    head = "".join(f"<th>{escape(header)}</th>" for _, header, _ in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for name, _, fmt in columns:
            value = row[name] if name in row.index else None
            classes = "num" if fmt is not format_text else "txt"
            extra = cell_class(name, row) if cell_class else ""
            cls = f"{classes} {extra}".strip()
            cells.append(f'<td class="{cls}">{escape(fmt(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def key_value_table(pairs: Iterable[tuple[str, str]], *, css: str = "kv") -> str:
    """A two-column table, one ``(label, value)`` pair a row, of CSS class ``css``; escaped."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)
    return f'<table class="{css}"><tbody>{rows}</tbody></table>'
