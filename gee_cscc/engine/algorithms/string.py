"""``String`` and ``String.*`` algorithms.

Regular expressions are Java's in Earth Engine; the local engine runs them with Python's
``re``, which agrees for the common syntax. In replacements ``$1`` refers to a group, as in
Java.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.arguments import as_int, as_str, invalid_type
from ..core.objects import number_to_string
from ..core.registry import algorithm
from ..core.serialize import to_info
from ..errors import EEError

__all__ = ["to_string"]


def to_string(value: Any, algo: str = "String", arg: str = "input") -> str:
    """A value as Earth Engine's ``String`` constructor converts it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_to_string(value)
    if value is None:
        raise invalid_type(algo, arg, "String", value)
    if isinstance(value, (list, dict)) or hasattr(value, "info"):
        return json.dumps(to_info(value), separators=(",", ":"))
    raise invalid_type(algo, arg, "String", value)


@algorithm("String")
def string(input: Any) -> str:
    return to_string(input)


def _flags(flags: Any, algo: str, allowed: str) -> tuple[int, bool]:
    text = "" if flags is None else as_str(flags, algo, "flags")
    bad = set(text) - set(allowed)
    if bad:
        raise EEError(
            f"{algo}: Invalid regular expression flags '{text}'; allowed: {', '.join(allowed)}."
        )
    return (re.IGNORECASE if "i" in text else 0), "g" in text


def _compile(regex: str, flags: int, algo: str) -> re.Pattern:
    try:
        return re.compile(regex, flags)
    except re.error as exc:
        raise EEError(f"{algo}: Invalid regular expression '{regex}': {exc}.") from None


@algorithm("String.cat")
def cat(string1: Any, string2: Any) -> str:
    return as_str(string1, "String.cat", "string1") + as_str(string2, "String.cat", "string2")


@algorithm("String.length")
def length(string: Any) -> int:
    return len(as_str(string, "String.length", "string"))


@algorithm("String.compareTo")
def compare_to(string1: Any, string2: Any) -> int:
    a = as_str(string1, "String.compareTo", "string1")
    b = as_str(string2, "String.compareTo", "string2")
    return (a > b) - (a < b)


@algorithm("String.equals")
def equals(reference: Any, target: Any) -> bool:
    ref = as_str(reference, "String.equals", "reference")
    return isinstance(target, str) and target == ref


@algorithm("String.index")
def index(target: Any, pattern: Any) -> int:
    return as_str(target, "String.index", "target").find(as_str(pattern, "String.index", "pattern"))


@algorithm("String.rindex")
def rindex(target: Any, pattern: Any) -> int:
    t = as_str(target, "String.rindex", "target")
    return t.rfind(as_str(pattern, "String.rindex", "pattern"))


@algorithm("String.slice")
def slice_(string: Any, start: Any, end: Any = None) -> str:
    s = as_str(string, "String.slice", "string")
    i = as_int(start, "String.slice", "start")
    j = len(s) if end is None else as_int(end, "String.slice", "end")
    return s[i:j]


@algorithm("String.split")
def split(string: Any, regex: Any, flags: Any = "") -> list[str]:
    s = as_str(string, "String.split", "string")
    r = as_str(regex, "String.split", "regex")
    f, _ = _flags(flags, "String.split", "i")
    if r == "":
        return list(s)
    parts = _compile(r, f, "String.split").split(s)
    # Java's String.split drops trailing empty strings.
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _java_replacement(replacement: str) -> str:
    """A Java replacement string (``$1``, ``\\$``) in Python's ``re`` syntax."""
    out = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
            continue
        if ch == "$":
            m = re.match(r"\$(\d+|\{\w+\})", replacement[i:])
            if m is None:
                raise EEError(f"String.replace: Illegal group reference in '{replacement}'.")
            ref = m.group(1).strip("{}")
            out.append(f"\\g<{ref}>")
            i += len(m.group(0))
            continue
        out.append("\\\\" if ch == "\\" else ch)
        i += 1
    return "".join(out)


@algorithm("String.replace")
def replace(input: Any, regex: Any, replacement: Any, flags: Any = "") -> str:
    s = as_str(input, "String.replace", "input")
    r = as_str(regex, "String.replace", "regex")
    rep = as_str(replacement, "String.replace", "replacement")
    f, global_ = _flags(flags, "String.replace", "gi")
    pattern = _compile(r, f, "String.replace")
    try:
        return pattern.sub(_java_replacement(rep), s, count=0 if global_ else 1)
    except (re.error, IndexError) as exc:
        raise EEError(f"String.replace: {exc}.") from None


@algorithm("String.match")
def match(input: Any, regex: Any, flags: Any = "") -> list[str]:
    """The first match and its groups, or every match with the ``g`` flag (JavaScript style)."""
    s = as_str(input, "String.match", "input")
    r = as_str(regex, "String.match", "regex")
    f, global_ = _flags(flags, "String.match", "gi")
    pattern = _compile(r, f, "String.match")
    if global_:
        return [m.group(0) for m in pattern.finditer(s)]
    m = pattern.search(s)
    if m is None:
        return []
    return [m.group(0)] + [g if g is not None else "" for g in m.groups()]


@algorithm("String.toUpperCase")
def to_upper(string: Any) -> str:
    return as_str(string, "String.toUpperCase", "string").upper()


@algorithm("String.toLowerCase")
def to_lower(string: Any) -> str:
    return as_str(string, "String.toLowerCase", "string").lower()


@algorithm("String.trim")
def trim(string: Any) -> str:
    return as_str(string, "String.trim", "string").strip()


@algorithm("String.decodeJSON")
def decode_json(string: Any) -> Any:
    s = as_str(string, "String.decodeJSON", "string")
    try:
        return json.loads(s)
    except json.JSONDecodeError as exc:
        raise EEError(f"String.decodeJSON: Invalid JSON: {exc}.") from None


@algorithm("String.encodeJSON")
def encode_json(object: Any) -> str:
    if object is not None and not isinstance(object, (bool, int, float, str, list, dict)):
        raise EEError(
            "String.encodeJSON: only primitives, lists and dictionaries can be encoded, "
            f"got a {type(object).__name__}."
        )
    return json.dumps(to_info(object), separators=(",", ":"))
