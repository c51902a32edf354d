"""``List.*`` algorithms. Lists are plain Python lists; elements compare as Earth Engine
compares them (``1`` equals ``1.0``, nested lists element by element)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.arguments import (
    as_array_value,
    as_geometry_value,
    as_number,
    as_str,
    invalid_type,
    required,
)
from ..core.objects import ee_equal, sort_key
from ..core.registry import algorithm
from ..errors import EEError
from .string import to_string

__all__ = ["map_list", "sequence"]


def _index(lst: list, i: int, algo: str, *, allow_end: bool = False) -> int:
    """A (possibly negative) index into ``lst``, checked against its bounds."""
    n = len(lst)
    hi = n if allow_end else n - 1
    j = i + n if i < 0 else i
    if not 0 <= j <= hi:
        raise EEError(f"{algo}: List index must be between {-n} and {hi}, got {i}.")
    return j


def _find(lst: list, element: Any) -> int:
    for i, v in enumerate(lst):
        if ee_equal(v, element):
            return i
    return -1


def _call(fn: Any, algo: str, *args: Any) -> Any:
    if not callable(fn):
        raise invalid_type(algo, "baseAlgorithm", "Algorithm", fn)
    return fn(*args)


def map_list(items: list, fn: Callable[..., Any], drop_nulls: bool, algo: str) -> list:
    """Apply a function to every item; a null result is dropped or kept per ``drop_nulls``."""
    out = []
    for item in items:
        v = _call(fn, algo, item)
        if v is None and drop_nulls:
            continue
        out.append(v)
    return out


@algorithm("List.map")
def list_map(list: Any, baseAlgorithm: Any, dropNulls: Any = False) -> list:
    return map_list(list, baseAlgorithm, dropNulls, "List.map")


@algorithm("List.iterate")
def list_iterate(list: Any, function: Any, first: Any) -> Any:
    acc = first
    for item in list:
        if not callable(function):
            raise invalid_type("List.iterate", "function", "Algorithm", function)
        acc = function(item, acc)
    return acc


@algorithm("List.filter")
def list_filter(list: Any, filter: Any) -> list:
    from .filter import Filter

    if not isinstance(filter, Filter):
        raise invalid_type("List.filter", "filter", "Filter", filter)
    return [item for item in list if filter.test(item)]


@algorithm("List.reduce")
def list_reduce(list: Any, reducer: Any) -> Any:
    """A reducer over the list (each item a list of inputs for a multi-input reducer)."""
    from .collection.collection import run_reducer

    items = list
    n_inputs = _reducer_inputs(reducer)
    if n_inputs == 1:
        columns = [items]
    else:
        for row in items:
            if not isinstance(row, (tuple, type([]))) or len(row) != n_inputs:
                raise EEError(
                    f"List.reduce: the reducer takes {n_inputs} inputs, so each list element "
                    f"must be a list of {n_inputs} values; got {row!r}."
                )
        columns = [[row[k] for row in items] for k in range(n_inputs)]
    out = run_reducer(reducer, columns, None, "List.reduce")
    if len(out) == 1:
        return next(iter(out.values()))
    return out


def _reducer_inputs(reducer: Any) -> int:
    from .collection.collection import reducer_input_count

    return reducer_input_count(reducer, "List.reduce")


@algorithm("List.slice")
def list_slice(list: Any, start: Any, end: Any = None, step: Any = None) -> list:
    if step == 0:
        raise EEError("List.slice: step must not be 0.")
    return list[start:end:step]


@algorithm("List.get")
def list_get(list: Any, index: Any) -> Any:
    lst = list
    return lst[_index(lst, index, "List.get")]


@algorithm("List.getNumber")
def list_get_number(list: Any, index: Any) -> Any:
    v = list_get(list, index)
    return as_number(v, "List.getNumber", "element")


@algorithm("List.getString")
def list_get_string(list: Any, index: Any) -> str:
    v = list_get(list, index)
    return as_str(v, "List.getString", "element")


@algorithm("List.getArray")
def list_get_array(list: Any, index: Any) -> Any:
    return as_array_value(list_get(list, index), "List.getArray", "element")


@algorithm("List.getGeometry")
def list_get_geometry(list: Any, index: Any) -> Any:
    return as_geometry_value(list_get(list, index), "List.getGeometry", "element")


@algorithm("List.size", "List.length")
def list_size(list: Any) -> int:
    return len(list)


@algorithm("List.add")
def list_add(list: Any, element: Any) -> list:
    return list + [element]


@algorithm("List.cat")
def list_cat(list: Any, other: Any) -> list:
    return list + other


@algorithm("List.insert")
def list_insert(list: Any, index: Any, element: Any) -> list:
    lst = list
    i = _index(lst, index, "List.insert", allow_end=True)
    return lst[:i] + [element] + lst[i:]


@algorithm("List.set")
def list_set(list: Any, index: Any, element: Any) -> list:
    lst = list
    lst[_index(lst, index, "List.set")] = element
    return lst


@algorithm("List.swap")
def list_swap(list: Any, pos1: Any, pos2: Any) -> list:
    lst = list
    i = _index(lst, pos1, "List.swap")
    j = _index(lst, pos2, "List.swap")
    lst[i], lst[j] = lst[j], lst[i]
    return lst


@algorithm("List.splice")
def list_splice(list: Any, start: Any, count: Any, other: Any = None) -> list:
    lst = list
    i = _index(lst, start, "List.splice", allow_end=True)
    if count < 0:
        raise EEError(f"List.splice: count must not be negative, got {count}.")
    extra = [] if other is None else other
    return lst[:i] + extra + lst[i + count :]


@algorithm("List.sequence")
def sequence(start: Any, end: Any = None, step: Any = 1, count: Any = None) -> list:
    """``start`` to ``end`` (inclusive) by ``step``, or ``count`` evenly spaced numbers.

    ``count`` is the number of elements: with ``end`` they span ``start``…``end``; without
    it they are ``start + step * i``. ``step`` is ignored when ``count`` is given.
    """
    a = start
    s = 1 if step is None else step
    if isinstance(s, float) and s.is_integer():
        s = int(s)  # the algorithm list's default step is 1.0
    ints = isinstance(a, int) and isinstance(s, int)
    if count is not None:
        n = count
        if n < 0:
            raise EEError(f"List.sequence: count must not be negative, got {n}.")
        if end is None:
            values = [a + s * i for i in range(n)]
        else:
            b = end
            ints = isinstance(a, int) and isinstance(b, int)
            if n == 1:
                values = [a]
            else:
                values = [a + (b - a) * i / (n - 1) for i in range(n)]
            return [_tidy(v, ints) for v in values]
        return values
    if end is None:
        raise EEError("List.sequence: at least one of 'end' or 'count' must be specified.")
    b = end
    if s == 0:
        raise EEError("List.sequence: step must not be 0.")
    n = int((b - a) / s + 1e-9) + 1 if (b - a) * s >= 0 else 0
    if n > 10_000_000:
        raise EEError(f"List.sequence: the sequence would have {n} elements (too many).")
    ints = ints and isinstance(b, int)
    return [_tidy(a + s * i, ints) for i in range(n)]


def _tidy(v: float, ints: bool) -> int | float:
    if ints and float(v).is_integer():
        return int(v)
    return v


@algorithm("List.repeat")
def list_repeat(value: Any, count: Any) -> list:
    if count < 0:
        raise EEError(f"List.repeat: count must not be negative, got {count}.")
    return [value] * count


@algorithm("List.sort")
def list_sort(list: Any, keys: Any = None) -> list:
    lst = list
    if keys is None:
        return sorted(lst, key=sort_key)
    k = keys
    if len(k) != len(lst):
        raise EEError(
            f"List.sort: 'keys' must have the same length as 'list' ({len(lst)}), got {len(k)}."
        )
    order = sorted(range(len(lst)), key=lambda i: sort_key(k[i]))
    return [lst[i] for i in order]


@algorithm("List.reverse")
def list_reverse(list: Any) -> list:
    return list[::-1]


@algorithm("List.rotate")
def list_rotate(list: Any, distance: Any) -> list:
    lst = list
    if not lst:
        return lst
    d = distance % len(lst)
    return lst[-d:] + lst[:-d] if d else lst


@algorithm("List.contains")
def list_contains(list: Any, element: Any) -> bool:
    return _find(list, element) >= 0


@algorithm("List.containsAll")
def list_contains_all(list: Any, other: Any) -> bool:
    lst = list
    return all(_find(lst, v) >= 0 for v in other)


@algorithm("List.equals")
def list_equals(list: Any, other: Any) -> bool:
    return ee_equal(list, other)


@algorithm("List.indexOf")
def list_index_of(list: Any, element: Any) -> int:
    return _find(list, element)


def _sublist_positions(lst: list, target: list) -> list[int]:
    n = len(target)
    return [i for i in range(len(lst) - n + 1) if ee_equal(lst[i : i + n], target)]


@algorithm("List.indexOfSublist")
def list_index_of_sublist(list: Any, target: Any) -> int:
    hits = _sublist_positions(list, target)
    return hits[0] if hits else -1


@algorithm("List.lastIndexOfSubList")
def list_last_index_of_sublist(list: Any, target: Any) -> int:
    hits = _sublist_positions(
        list,
        target,
    )
    return hits[-1] if hits else -1


@algorithm("List.frequency")
def list_frequency(list: Any, element: Any) -> int:
    return sum(1 for v in list if ee_equal(v, element))


@algorithm("List.remove")
def list_remove(list: Any, element: Any) -> list:
    lst = list
    i = _find(lst, element)
    return lst if i < 0 else lst[:i] + lst[i + 1 :]


@algorithm("List.removeAll")
def list_remove_all(list: Any, other: Any) -> list:
    drop = other
    return [v for v in list if _find(drop, v) < 0]


@algorithm("List.replace")
def list_replace(list: Any, oldval: Any, newval: Any) -> list:
    lst = list
    i = _find(lst, oldval)
    if i >= 0:
        lst[i] = newval
    return lst


@algorithm("List.replaceAll")
def list_replace_all(list: Any, oldval: Any, newval: Any) -> list:
    return [newval if ee_equal(v, oldval) else v for v in list]


@algorithm("List.distinct")
def list_distinct(list: Any) -> list:
    out: list = []
    for v in list:
        if _find(out, v) < 0:
            out.append(v)
    return out


def _flatten(items: list) -> list:
    out = []
    for v in items:
        if isinstance(v, (type([]), tuple)):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


@algorithm("List.flatten")
def list_flatten(list: Any) -> list:
    return _flatten(list)


@algorithm("List.zip")
def list_zip(list: Any, other: Any) -> list:
    return [[a, b] for a, b in zip(list, other, strict=False)]


@algorithm("List.unzip")
def list_unzip(list: Any) -> list:
    rows = list
    for r in rows:
        if not isinstance(r, (type([]), tuple)):
            raise EEError(f"List.unzip: every element must be a list, got {r!r}.")
    if not rows:
        return []
    n = min(len(r) for r in rows)
    return [[r[k] for r in rows] for k in range(n)]


@algorithm("List.join")
def list_join(list: Any, separator: Any = "") -> str:
    sep = separator or ""
    parts = []
    for v in list:
        if v is None:
            raise required("List.join", "list element")
        parts.append(to_string(v, "List.join", "list element"))
    return sep.join(parts)
