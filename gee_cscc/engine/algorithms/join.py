"""``Join.*`` algorithms: the joins of Earth Engine's guide "Joins" and ``Join.apply``.

A join condition is a :class:`~gee_cscc.engine.algorithms.filter.Filter` tested on each
(primary, secondary) pair: ``leftField`` is read from the primary element and ``rightField``
from the secondary one. ``withinDistance`` and ``maxDifference`` conditions (alone or inside
``Filter.and``) give a *join measure*: the distance in metres, the absolute difference.

* ``simple``: the primary elements that match at least one secondary element.
* ``inverted``: the primary elements that match none.
* ``inner``: one feature without geometry per matching pair, with the two elements under
  ``primaryKey``/``secondaryKey`` (and the measure under ``measureKey`` if given).
* ``saveAll``: each primary element with the list of its matches under ``matchesKey``
  (sorted by the ``ordering`` property if given; each match carries its measure under
  ``measureKey`` if given); with ``outer`` a primary element without matches is kept with an
  empty list, else it is dropped.
* ``saveFirst``: the first match (after ``ordering``) under ``matchKey``.
* ``saveBest``: the match with the smallest measure under ``matchKey``, its measure under
  ``measureKey`` on the match (the first one on ties).

Results keep the primary collection's order (and matches the secondary's, unless ordered)
and its kind (an image collection stays one; ``inner`` gives a feature collection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.arguments import invalid_type
from ..core.registry import algorithm
from ..core.values import Feature, FeatureCollection, ImageCollection
from ..errors import EEError
from .filter import Filter, JoinPair

__all__ = ["Join"]

Match = tuple[Any, float | None]  # (secondary element, measure)


class Join:
    """A join: how ``Join.apply`` builds its results from each primary element's matches."""

    ee_type = "Join"

    def __init__(
        self,
        build: Callable[[Any, list[Match]], list[Any]],
        description: dict,
        *,
        needs_measure: bool = False,
    ) -> None:
        self.build = build
        self.description = description
        self.needs_measure = needs_measure

    def info(self) -> dict:
        return {"type": "Join", **self.description}


def _with(element: Any, props: dict) -> Any:
    return element.with_properties(props) if props else element


def _ordered(matches: list[Match], ordering: str | None, ascending: bool) -> list[Match]:
    if not ordering:
        return matches

    def key(m: Match) -> tuple:
        v = m[0].properties.get(ordering)
        v = getattr(v, "millis", v)
        return (v is None, v if v is not None else 0)

    present = [m for m in matches if m[0].properties.get(ordering) is not None]
    missing = [m for m in matches if m[0].properties.get(ordering) is None]
    present.sort(key=key, reverse=not ascending)
    return present + missing


def _measured(match: Match, measure_key: str | None) -> Any:
    element, measure = match
    if measure_key and measure is not None:
        return _with(element, {measure_key: measure})
    return element


@algorithm("Join.simple")
def simple() -> Join:
    return Join(lambda p, ms: [p] if ms else [], {"name": "Join.simple"})


@algorithm("Join.inverted")
def inverted() -> Join:
    return Join(lambda p, ms: [] if ms else [p], {"name": "Join.inverted"})


@algorithm("Join.inner")
def inner(
    primaryKey: Any = "primary",  # noqa: N803
    secondaryKey: Any = "secondary",  # noqa: N803
    measureKey: Any = None,  # noqa: N803
) -> Join:
    pk, sk = primaryKey or "primary", secondaryKey or "secondary"

    def build(p: Any, ms: list[Match]) -> list[Any]:
        out = []
        for s, m in ms:
            props = {pk: p, sk: s}
            if measureKey and m is not None:
                props[measureKey] = m
            out.append(Feature(None, props))
        return out

    return Join(build, {"name": "Join.inner", "primaryKey": pk, "secondaryKey": sk})


@algorithm("Join.saveAll")
def save_all(
    matchesKey: str,  # noqa: N803
    ordering: Any = None,
    ascending: Any = True,
    measureKey: Any = None,  # noqa: N803
    outer: Any = False,
) -> Join:
    def build(p: Any, ms: list[Match]) -> list[Any]:
        if not ms and not outer:
            return []
        matches = [_measured(m, measureKey) for m in _ordered(ms, ordering, ascending)]
        return [_with(p, {matchesKey: matches})]

    return Join(build, {"name": "Join.saveAll", "matchesKey": matchesKey})


@algorithm("Join.saveFirst")
def save_first(
    matchKey: str,  # noqa: N803
    ordering: Any = None,
    ascending: Any = True,
    measureKey: Any = None,  # noqa: N803
    outer: Any = False,
) -> Join:
    def build(p: Any, ms: list[Match]) -> list[Any]:
        if not ms:
            return [p] if outer else []
        first = _ordered(ms, ordering, ascending)[0]
        return [_with(p, {matchKey: _measured(first, measureKey)})]

    return Join(build, {"name": "Join.saveFirst", "matchKey": matchKey})


@algorithm("Join.saveBest")
def save_best(matchKey: str, measureKey: str, outer: Any = False) -> Join:  # noqa: N803
    def build(p: Any, ms: list[Match]) -> list[Any]:
        if not ms:
            return [p] if outer else []
        best = min(ms, key=lambda m: m[1])  # first of the smallest measure
        return [_with(p, {matchKey: _measured(best, measureKey)})]

    return Join(
        build,
        {"name": "Join.saveBest", "matchKey": matchKey, "measureKey": measureKey},
        needs_measure=True,
    )


def _elements(value: Any, algo: str, arg: str) -> list[Any]:
    elements = getattr(value, "elements", None)
    if elements is None:
        raise invalid_type(algo, arg, "FeatureCollection", value)
    return list(elements)


@algorithm("Join.apply")
def apply(join: Any, primary: Any, secondary: Any, condition: Any) -> Any:
    algo = "Join.apply"
    if not isinstance(join, Join):
        raise invalid_type(algo, "join", "Join", join)
    if not isinstance(condition, Filter):
        raise invalid_type(algo, "condition", "Filter", condition)
    prim = _elements(primary, algo, "primary")
    sec = _elements(secondary, algo, "secondary")
    results: list[Any] = []
    for p in prim:
        matches: list[Match] = []
        for s in sec:
            pair = JoinPair(p, s)
            if condition.test(pair):
                measure = condition.measure(pair)
                if join.needs_measure and measure is None:
                    raise EEError(
                        f"{join.description['name']}: the join condition gives no measure; "
                        "use a withinDistance or maxDifference filter."
                    )
                matches.append((s, measure))
        results.extend(join.build(p, matches))
    if join.description["name"] == "Join.inner" or not isinstance(primary, ImageCollection):
        return FeatureCollection(results)
    return ImageCollection(results)
