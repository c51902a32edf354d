"""``String`` and ``String.*`` algorithms.

Regular expressions are Java's in Earth Engine; the local engine runs them with Python's
``re``, which agrees for the common syntax. In replacements ``$1`` refers to a group, as in
Java.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.arguments import invalid_type
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


def _flags(flags: str | None, algo: str, allowed: str) -> tuple[int, bool]:
    text = flags or ""
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
def cat(string1: str, string2: str) -> str:
    return string1 + string2


@algorithm("String.length")
def length(string: str) -> int:
    return len(string)


@algorithm("String.compareTo")
def compare_to(string1: str, string2: str) -> int:
    return (string1 > string2) - (string1 < string2)


@algorithm("String.equals")
def equals(reference: str, target: Any) -> bool:
    return isinstance(target, str) and target == reference


@algorithm("String.index")
def index(target: str, pattern: str) -> int:
    return target.find(pattern)


@algorithm("String.rindex")
def rindex(target: str, pattern: str) -> int:
    return target.rfind(pattern)


@algorithm("String.slice")
def slice_(string: str, start: int, end: int | None = None) -> str:
    return string[start:end]


@algorithm("String.split")
def split(string: str, regex: str, flags: str = "") -> list[str]:
    f, _ = _flags(flags, "String.split", "i")
    if regex == "":
        return list(string)
    parts = _compile(regex, f, "String.split").split(string)
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
def replace(input: str, regex: str, replacement: str, flags: str = "") -> str:
    f, global_ = _flags(flags, "String.replace", "gi")
    pattern = _compile(regex, f, "String.replace")
    try:
        return pattern.sub(_java_replacement(replacement), input, count=0 if global_ else 1)
    except (re.error, IndexError) as exc:
        raise EEError(f"String.replace: {exc}.") from None


@algorithm("String.match")
def match(input: str, regex: str, flags: str = "") -> list[str]:
    """The first match and its groups, or every match with the ``g`` flag (JavaScript style)."""
    f, global_ = _flags(flags, "String.match", "gi")
    pattern = _compile(regex, f, "String.match")
    if global_:
        return [m.group(0) for m in pattern.finditer(input)]
    m = pattern.search(input)
    if m is None:
        return []
    return [m.group(0)] + [g if g is not None else "" for g in m.groups()]


@algorithm("String.toUpperCase")
def to_upper(string: str) -> str:
    return string.upper()


@algorithm("String.toLowerCase")
def to_lower(string: str) -> str:
    return string.lower()


@algorithm("String.trim")
def trim(string: str) -> str:
    return string.strip()


@algorithm("String.decodeJSON")
def decode_json(string: str) -> Any:
    try:
        return json.loads(string)
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
