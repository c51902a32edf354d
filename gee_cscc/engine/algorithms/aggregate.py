"""``AggregateFeatureCollection.*`` algorithms: statistics of one property over a collection.

The client sends every ``aggregate_*`` method (``aggregate_mean``, ``aggregate_histogram`` …)
as one of these. Elements without the property are skipped; ``count`` counts the elements
that have it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from ..core.objects import number_to_string, type_name
from ..core.registry import algorithm
from ..core.serialize import to_info
from ..errors import EEError
from .collection.collection import as_collection
from .element import get_property

# --- aggregates ---


def _values(collection: Any, prop: str, algo: str) -> list:
    col = as_collection(collection, algo)
    return [v for v in (get_property(e, prop) for e in col.elements) if v is not None]


def _numbers(values: list, algo: str) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise EEError(
                f"{algo}: the property values must be numbers, found {type_name(v)} {v!r}."
            )
        out.append(v)
    return out


def _min_max(values: list, algo: str, pick: Callable) -> Any:
    if not values:
        return None
    kinds = {
        "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__
        for v in values
    }
    if len(kinds) > 1 or not kinds <= {"number", "str"}:
        raise EEError(f"{algo}: the property values must be all numbers or all strings.")
    return pick(values)


def _var(values: list[float], sample: bool) -> float | None:
    n = len(values)
    if n == 0 or (sample and n < 2):
        return None
    mean = math.fsum(values) / n
    ss = math.fsum((v - mean) ** 2 for v in values)
    return ss / (n - 1 if sample else n)


def _sqrt(v: float | None) -> float | None:
    return None if v is None else math.sqrt(v)


@algorithm("AggregateFeatureCollection.array")
def aggregate_array(collection: Any, property: Any) -> list:
    return _values(collection, property, "AggregateFeatureCollection.array")


@algorithm("AggregateFeatureCollection.count")
def aggregate_count(collection: Any, property: Any) -> int:
    return len(_values(collection, property, "AggregateFeatureCollection.count"))


@algorithm("AggregateFeatureCollection.count_distinct")
def aggregate_count_distinct(collection: Any, property: Any) -> int:
    values = _values(collection, property, "AggregateFeatureCollection.count_distinct")
    return len({json.dumps(to_info(v), sort_keys=True) for v in values})


@algorithm("AggregateFeatureCollection.first")
def aggregate_first(collection: Any, property: Any) -> Any:
    values = _values(collection, property, "AggregateFeatureCollection.first")
    return values[0] if values else None


@algorithm("AggregateFeatureCollection.min")
def aggregate_min(collection: Any, property: Any) -> Any:
    algo = "AggregateFeatureCollection.min"
    return _min_max(_values(collection, property, algo), algo, min)


@algorithm("AggregateFeatureCollection.max")
def aggregate_max(collection: Any, property: Any) -> Any:
    algo = "AggregateFeatureCollection.max"
    return _min_max(_values(collection, property, algo), algo, max)


@algorithm("AggregateFeatureCollection.sum")
def aggregate_sum(collection: Any, property: Any) -> Any:
    algo = "AggregateFeatureCollection.sum"
    values = _numbers(_values(collection, property, algo), algo)
    if all(isinstance(v, int) for v in values):
        return sum(values)
    return math.fsum(values)


@algorithm("AggregateFeatureCollection.product")
def aggregate_product(collection: Any, property: Any) -> Any:
    algo = "AggregateFeatureCollection.product"
    return math.prod(_numbers(_values(collection, property, algo), algo))


@algorithm("AggregateFeatureCollection.mean")
def aggregate_mean(collection: Any, property: Any) -> float | None:
    algo = "AggregateFeatureCollection.mean"
    values = _numbers(_values(collection, property, algo), algo)
    return math.fsum(values) / len(values) if values else None


@algorithm("AggregateFeatureCollection.sample_var")
def aggregate_sample_var(collection: Any, property: Any) -> float | None:
    algo = "AggregateFeatureCollection.sample_var"
    return _var(_numbers(_values(collection, property, algo), algo), True)


@algorithm("AggregateFeatureCollection.sample_sd")
def aggregate_sample_sd(collection: Any, property: Any) -> float | None:
    algo = "AggregateFeatureCollection.sample_sd"
    return _sqrt(_var(_numbers(_values(collection, property, algo), algo), True))


@algorithm("AggregateFeatureCollection.total_var")
def aggregate_total_var(collection: Any, property: Any) -> float | None:
    algo = "AggregateFeatureCollection.total_var"
    return _var(_numbers(_values(collection, property, algo), algo), False)


@algorithm("AggregateFeatureCollection.total_sd")
def aggregate_total_sd(collection: Any, property: Any) -> float | None:
    algo = "AggregateFeatureCollection.total_sd"
    return _sqrt(_var(_numbers(_values(collection, property, algo), algo), False))


@algorithm("AggregateFeatureCollection.stats")
def aggregate_stats(collection: Any, property: Any) -> dict:
    """Earth Engine's summary: max, mean, min, sample_sd, sample_var, sum, sum_sq,
    total_count, total_sd, total_var, valid_count, weight_sum, weighted_sum."""
    algo = "AggregateFeatureCollection.stats"
    col = as_collection(collection, algo)
    values = _numbers(_values(col, property, algo), algo)
    n = len(values)
    total = math.fsum(values) if values else 0
    if values and all(isinstance(v, int) for v in values):
        total = sum(values)
    return {
        "max": max(values) if values else None,
        "mean": total / n if n else None,
        "min": min(values) if values else None,
        "sample_sd": _sqrt(_var(values, True)),
        "sample_var": _var(values, True),
        "sum": total,
        "sum_sq": math.fsum(v * v for v in values),
        "total_count": len(col.elements),
        "total_sd": _sqrt(_var(values, False)),
        "total_var": _var(values, False),
        "valid_count": n,
        "weight_sum": n,
        "weighted_sum": total,
    }


def _histogram_key(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, bool)):
        return number_to_string(v)
    return json.dumps(to_info(v), sort_keys=True)


@algorithm("AggregateFeatureCollection.histogram")
def aggregate_histogram(collection: Any, property: Any) -> dict:
    """The number of elements with each value of the property (keys as strings)."""
    counts: dict[str, int] = {}
    for v in _values(collection, property, "AggregateFeatureCollection.histogram"):
        k = _histogram_key(v)
        counts[k] = counts.get(k, 0) + 1
    return {k: counts[k] for k in sorted(counts)}
