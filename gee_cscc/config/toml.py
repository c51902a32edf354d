"""TOML for run files: the reader (``tomllib``, or ``tomli`` on Python 3.10) and a writer.

The writer covers what :meth:`gee_cscc.config.Config.to_toml` needs: basic strings, integers,
floats in their shortest round-trip form, and arrays of those.
"""

from __future__ import annotations

from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["tomllib", "toml_string", "toml_value"]

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n"}
_TOML_ESCAPES.update({"\f": "\\f", "\r": "\\r"})


def toml_string(text: str) -> str:
    """A TOML basic string: escape quote, backslash and every control character."""
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A config value (str, bool, int, float, or a tuple of them) as TOML text."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form, e.g. 1e-06: valid TOML
    return str(value)  # int
