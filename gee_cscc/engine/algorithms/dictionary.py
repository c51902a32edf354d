"""``Dictionary`` and ``Dictionary.*`` algorithms.

Dictionaries are plain Python dicts with string keys. Earth Engine keeps their keys in
natural (sorted) order, so ``keys``, ``values`` and ``toArray`` list them sorted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.arguments import (
    as_array_value,
    as_geometry_value,
    as_number,
    as_str,
    invalid_type,
)
from ..core.registry import algorithm
from ..core.values import Element
from ..errors import EEError

__all__ = ["sorted_dict"]


def sorted_dict(d: Mapping[str, Any]) -> dict:
    """The dictionary with its keys in natural order."""
    return {k: d[k] for k in sorted(d)}


def _keys(keys: list, algo: str, arg: str) -> list[str]:
    """The elements of a ``List<String>`` argument, each checked to be a string."""
    return [as_str(k, algo, arg) for k in keys]


@algorithm("Dictionary")
def dictionary(input: Any = None) -> dict:
    """A dictionary from a dictionary, a list of alternating keys and values, or null."""
    if input is None:
        return {}
    if isinstance(input, Mapping):
        return sorted_dict(input)
    if isinstance(input, Element):
        return sorted_dict(input.properties)
    if isinstance(input, (list, tuple)):
        if len(input) % 2:
            raise EEError(
                "Dictionary: a list of alternating keys and values must have an even length, "
                f"got {len(input)} items."
            )
        out = {}
        for k, v in zip(input[::2], input[1::2], strict=False):
            out[as_str(k, "Dictionary", "input key")] = v
        return sorted_dict(out)
    raise invalid_type("Dictionary", "input", "Dictionary", input)


@algorithm("Dictionary.get")
def get(dictionary: Any, key: Any, defaultValue: Any = None) -> Any:
    d = dictionary
    k = key
    if k in d:
        return d[k]
    if defaultValue is not None:
        return defaultValue
    raise EEError(
        f"Dictionary.get: Dictionary does not contain key: '{k}'. Available keys: {sorted(d)}"
    )


@algorithm("Dictionary.getNumber")
def get_number(dictionary: Any, key: Any) -> Any:
    return as_number(get(dictionary, key), "Dictionary.getNumber", "value")


@algorithm("Dictionary.getString")
def get_string(dictionary: Any, key: Any) -> str:
    return as_str(get(dictionary, key), "Dictionary.getString", "value")


@algorithm("Dictionary.getArray")
def get_array(dictionary: Any, key: Any) -> Any:
    return as_array_value(get(dictionary, key), "Dictionary.getArray", "value")


@algorithm("Dictionary.getGeometry")
def get_geometry(dictionary: Any, key: Any) -> Any:
    return as_geometry_value(get(dictionary, key), "Dictionary.getGeometry", "value")


@algorithm("Dictionary.set")
def set_(dictionary: Any, key: Any, value: Any) -> dict:
    d = dictionary
    d[key] = value
    return sorted_dict(d)


@algorithm("Dictionary.contains")
def contains(dictionary: Any, key: Any) -> bool:
    return key in dictionary


@algorithm("Dictionary.size")
def size(dictionary: Any) -> int:
    return len(dictionary)


@algorithm("Dictionary.keys")
def keys(dictionary: Any) -> list[str]:
    return sorted(dictionary)


@algorithm("Dictionary.values")
def values(dictionary: Any, keys: Any = None) -> list:
    d = dictionary
    if keys is None:
        return [d[k] for k in sorted(d)]
    wanted = _keys(keys, "Dictionary.values", "keys")
    missing = [k for k in wanted if k not in d]
    if missing:
        raise EEError(f"Dictionary.values: Dictionary does not contain key: '{missing[0]}'.")
    return [d[k] for k in wanted]


@algorithm("Dictionary.combine")
def combine(first: Any, second: Any, overwrite: Any = True) -> dict:
    a = {k: v for k, v in first.items() if v is not None}
    b = {k: v for k, v in second.items() if v is not None}
    over = True if overwrite is None else overwrite
    out = dict(a)
    for k, v in b.items():
        if over or k not in out:
            out[k] = v
    return sorted_dict(out)


def _match_keys(d: dict, selectors: list[str], algo: str, ignore_missing: bool) -> list[str]:
    """Keys matched by each selector (an exact key or a full-match regular expression)."""
    hits: list[str] = []
    for sel in selectors:
        if sel in d:
            found = [sel]
        else:
            try:
                pattern = re.compile(sel)
            except re.error:
                found = []
            else:
                found = [k for k in sorted(d) if pattern.fullmatch(k)]
        if not found and not ignore_missing:
            raise EEError(
                f"{algo}: Selector '{sel}' did not match any keys. Available keys: {sorted(d)}"
            )
        hits.extend(k for k in found if k not in hits)
    return hits


@algorithm("Dictionary.select")
def select(dictionary: Any, selectors: Any, ignoreMissing: Any = False) -> dict:
    d = dictionary
    sel = _keys(selectors, "Dictionary.select", "selectors")
    hits = _match_keys(d, sel, "Dictionary.select", ignoreMissing)
    return sorted_dict({k: d[k] for k in hits})


@algorithm("Dictionary.remove")
def remove(dictionary: Any, selectors: Any, ignoreMissing: Any = False) -> dict:
    d = dictionary
    sel = _keys(selectors, "Dictionary.remove", "selectors")
    drop = set(_match_keys(d, sel, "Dictionary.remove", ignoreMissing))
    return sorted_dict({k: v for k, v in d.items() if k not in drop})


@algorithm("Dictionary.rename")
def rename(dictionary: Any, overwrite: Any = False, **kwargs: Any) -> dict:
    """Rename keys (``from`` → ``to``); ``from`` is a Python keyword, hence ``**kwargs``."""
    d = dictionary
    src = _keys(kwargs.get("from"), "Dictionary.rename", "from")
    dst = _keys(kwargs.get("to"), "Dictionary.rename", "to")
    if len(src) != len(dst):
        raise EEError(
            f"Dictionary.rename: 'from' and 'to' must have the same length, got {len(src)} "
            f"and {len(dst)}."
        )
    missing = [k for k in src if k not in d]
    if missing:
        raise EEError(f"Dictionary.rename: Dictionary does not contain key: '{missing[0]}'.")
    out = {k: v for k, v in d.items() if k not in src}
    for s, t in zip(src, dst, strict=False):
        if t in out and not overwrite:
            raise EEError(
                f"Dictionary.rename: the key '{t}' already exists; set overwrite to replace it."
            )
        out[t] = d[s]
    return sorted_dict(out)


@algorithm("Dictionary.fromLists")
def from_lists(keys: Any, values: Any) -> dict:
    k = _keys(keys, "Dictionary.fromLists", "keys")
    v = values
    if len(k) != len(v):
        raise EEError(
            f"Dictionary.fromLists: keys and values must have the same length, got {len(k)} "
            f"and {len(v)}."
        )
    return sorted_dict(dict(zip(k, v, strict=False)))


@algorithm("Dictionary.map")
def map_(dictionary: Any, baseAlgorithm: Any) -> dict:
    d = dictionary
    if not callable(baseAlgorithm):
        raise invalid_type("Dictionary.map", "baseAlgorithm", "Algorithm", baseAlgorithm)
    out = {}
    for k in sorted(d):
        v = baseAlgorithm(k, d[k])
        if v is not None:
            out[k] = v
    return out


@algorithm("Dictionary.toArray")
def to_array(dictionary: Any, keys: Any = None, axis: Any = 0) -> list:
    """The numeric values as an array (nested lists): a vector, or stacked along ``axis``."""
    d = dictionary
    names = sorted(d) if keys is None else _keys(keys, "Dictionary.toArray", "keys")
    rows = []
    for k in names:
        if k not in d:
            raise EEError(f"Dictionary.toArray: Dictionary does not contain key: '{k}'.")
        v = d[k]
        if isinstance(v, bool) or not isinstance(v, (int, float, list)):
            raise EEError(
                f"Dictionary.toArray: the value of '{k}' is not a number or an array of numbers."
            )
        rows.append(v)
    ax = 0 if axis is None else axis
    if all(not isinstance(r, list) for r in rows):
        return rows
    if not all(isinstance(r, list) for r in rows):
        raise EEError("Dictionary.toArray: values must be all numbers or all arrays.")
    if ax == 0:
        return rows
    if ax == 1:
        n = {len(r) for r in rows}
        if len(n) != 1:
            raise EEError("Dictionary.toArray: arrays of different lengths cannot be stacked.")
        return [list(col) for col in zip(*rows, strict=False)]
    raise EEError(f"Dictionary.toArray: axis must be 0 or 1, got {ax}.")


@algorithm("Dictionary.toImage")
def to_image(dictionary: Any, names: Any = None) -> Any:
    """A constant image with one band per (numeric) value, named by its key."""
    from ..core.values import Image, constant_band

    d = dictionary
    keys_ = sorted(d) if names is None else _keys(names, "Dictionary.toImage", "names")
    bands = []
    for k in keys_:
        if k not in d:
            raise EEError(f"Dictionary.toImage: Dictionary does not contain key: '{k}'.")
        bands.append(constant_band(as_number(d[k], "Dictionary.toImage", k), k))
    return Image(bands)
