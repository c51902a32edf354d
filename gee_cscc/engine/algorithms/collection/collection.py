"""``Collection.*`` algorithms (``AggregateFeatureCollection.*`` are in :mod:`..aggregate`).

They work on both collection types of :mod:`~gee_cscc.engine.core.values` (an
``ImageCollection``'s ``images`` and a ``FeatureCollection``'s ``features`` are both its
``elements``), as Earth Engine's ``Collection.*`` algorithms do. A collection whose elements
are all images comes back as an ``ImageCollection``, any other as a ``FeatureCollection``;
the collection's own properties are kept by ``filter``, ``limit``, ``map``, ``distinct`` and
``remap``.

The client sends ``sort(key, ascending)`` as ``Collection.limit`` without ``limit``,
``filterDate`` as ``Collection.filter`` with ``Filter.dateRangeContains``, and every
``aggregate_*`` as ``AggregateFeatureCollection.*``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...core.arguments import as_list, as_str, invalid_type
from ...core.context import current
from ...core.objects import ee_equal, sort_key, type_name
from ...core.registry import algorithm
from ...core.serialize import to_info
from ...core.values import Element, FeatureCollection, Image, ImageCollection
from ...errors import EEError
from ..element import get_property
from ..filter import Filter

__all__ = [
    "as_collection",
    "element_geometries",
    "make_collection",
    "reducer_input_count",
    "run_reducer",
]

Collection = ImageCollection | FeatureCollection


def as_collection(value: Any, algo: str, arg: str = "collection") -> Collection:
    """An argument that must be a collection (of images or features)."""
    if isinstance(value, (ImageCollection, FeatureCollection)):
        return value
    raise invalid_type(algo, arg, "FeatureCollection", value)


def make_collection(
    elements: Sequence[Any], properties: dict | None = None, like: Any = None
) -> Collection:
    """A collection of the elements: an ImageCollection when they are all images (or when
    there are none and ``like`` is one), otherwise a FeatureCollection."""
    elements = list(elements)
    if elements and all(isinstance(e, Image) for e in elements):
        return ImageCollection(elements, properties)
    if not elements and isinstance(like, ImageCollection):
        return ImageCollection([], properties)
    return FeatureCollection(elements, properties)


def _index_of(element: Any, position: int) -> str:
    idx = element.properties.get("system:index") if isinstance(element, Element) else None
    return str(position) if idx is None else str(idx)


# --- reducers ------------------------------------------------------------------------------------


def reducer_input_count(reducer: Any, algo: str) -> int:
    """The number of inputs of a reducer argument (checking that it is a Reducer)."""
    from ..reducer.tree import Reducer

    if not isinstance(reducer, Reducer):
        raise invalid_type(algo, "reducer", "Reducer", reducer)
    return reducer.num_inputs


def run_reducer(
    reducer: Any, columns: list[list[Any]], weights: list[list[Any]] | None, algo: str
) -> dict[str, Any]:
    """Apply a reducer to columns of Python values (one column per reducer input).

    Uses :meth:`gee_cscc.engine.algorithms.reducer.Reducer.reduce_columns`; ``weights`` is
    None or one column of weights per weighted input. Returns the outputs by name.
    """
    n = reducer_input_count(reducer, algo)
    if len(columns) != n:
        raise EEError(
            f"{algo}: The reducer takes {n} inputs but {len(columns)} selectors were given."
        )
    return dict(reducer.reduce_columns(columns, weights))


# --- construction ------------------------------------------------------------------------------


@algorithm("Collection")
def collection(features: Any) -> Collection:
    out = []
    for i, item in enumerate(features):
        if not isinstance(item, Element):
            raise invalid_type("Collection", "features", "List<Element>", item)
        if "system:index" in item.properties:
            out.append(item)
        else:
            out.append(item.with_properties({"system:index": str(i)}))
    return make_collection(out, {})


@algorithm("Collection.loadTable")
def load_table(tableId: Any, geometryColumn: Any = None, version: Any = None) -> FeatureCollection:
    ctx = current()
    ctx.store.check_access(tableId, ctx.user)  # first: a non-reader learns nothing of it
    table = ctx.store.load_table(tableId)
    return table


# --- per-element -------------------------------------------------------------------------------


@algorithm("Collection.map")
def map_(collection: Any, baseAlgorithm: Any, dropNulls: Any = False) -> Collection:
    col = as_collection(collection, "Collection.map")
    if not callable(baseAlgorithm):
        raise invalid_type("Collection.map", "baseAlgorithm", "Algorithm", baseAlgorithm)
    out = []
    for element in col.elements:
        result = baseAlgorithm(element)
        if result is None:
            if dropNulls:
                continue
            raise EEError(
                "Collection.map: A mapped algorithm must return a Feature or Image; it "
                "returned null (set dropNulls to drop such elements)."
            )
        if not isinstance(result, Element):
            raise EEError(
                "Collection.map: A mapped algorithm must return a Feature or Image, "
                f"not a {type_name(result)}."
            )
        if "system:index" not in result.properties and "system:index" in element.properties:
            # A mapped element keeps the id of the element it came from.
            result = result.with_properties({"system:index": element.properties["system:index"]})
        out.append(result)
    return make_collection(out, col.properties, like=col)


@algorithm("Collection.iterate")
def iterate(collection: Any, function: Any, first: Any = None) -> Any:
    col = as_collection(collection, "Collection.iterate")
    if not callable(function):
        raise invalid_type("Collection.iterate", "function", "Algorithm", function)
    acc = first
    for element in col.elements:
        acc = function(element, acc)
    return acc


@algorithm("Collection.filter")
def filter_(collection: Any, filter: Any) -> Collection:
    col = as_collection(collection, "Collection.filter")
    if not isinstance(filter, Filter):
        raise invalid_type("Collection.filter", "filter", "Filter", filter)
    return make_collection([e for e in col.elements if filter.test(e)], col.properties, like=col)


# --- ordering and slicing -------------------------------------------------------------------


@algorithm("Collection.limit")
def limit(collection: Any, limit: Any = None, key: Any = None, ascending: Any = True) -> Collection:
    """Sort by ``key`` (if given; stable, elements without the property last) and keep at
    most ``limit`` elements (all when null)."""
    col = as_collection(collection, "Collection.limit")
    elements = list(col.elements)
    if key is not None:
        name = key
        present = [e for e in elements if get_property(e, name) is not None]
        missing = [e for e in elements if get_property(e, name) is None]
        present.sort(
            key=lambda e: sort_key(get_property(e, name)),
            reverse=ascending is not None and not ascending,
        )
        elements = present + missing
    if limit is not None:
        if limit < 0:
            raise EEError(f"Collection.limit: limit must not be negative, got {limit}.")
        elements = elements[:limit]
    return make_collection(elements, col.properties, like=col)


@algorithm("Collection.size")
def size(collection: Any) -> int:
    return len(as_collection(collection, "Collection.size").elements)


@algorithm("Collection.first")
def first(collection: Any) -> Any:
    """The first element, or null for an empty collection (as Earth Engine returns)."""
    elements = as_collection(collection, "Collection.first").elements
    return elements[0] if elements else None


@algorithm("Collection.toList")
def to_list(collection: Any, count: Any, offset: Any = 0) -> list:
    col = as_collection(collection, "Collection.toList")
    n = count
    k = 0 if offset is None else offset
    if n < 0 or k < 0:
        raise EEError("Collection.toList: count and offset must not be negative.")
    return list(col.elements[k : k + n])


# --- combining ------------------------------------------------------------------------------


@algorithm("Collection.merge")
def merge(collection1: Any, collection2: Any) -> Collection:
    """Both collections' elements, their ids prefixed with ``1_`` and ``2_``."""
    a = as_collection(collection1, "Collection.merge", "collection1")
    b = as_collection(collection2, "Collection.merge", "collection2")
    out = []
    for prefix, col in (("1_", a), ("2_", b)):
        for i, e in enumerate(col.elements):
            out.append(e.with_properties({"system:index": prefix + _index_of(e, i)}))
    like = a if isinstance(a, ImageCollection) and isinstance(b, ImageCollection) else None
    return make_collection(out, {}, like=like)


@algorithm("Collection.flatten")
def flatten(collection: Any) -> Collection:
    """The elements of a collection of collections, ids as ``<outer>_<inner>``."""
    col = as_collection(collection, "Collection.flatten")
    out = []
    for i, inner in enumerate(col.elements):
        if not isinstance(inner, (ImageCollection, FeatureCollection)):
            raise EEError(
                "Collection.flatten: the collection must contain collections, found a "
                f"{type_name(inner)}."
            )
        outer = _index_of(inner, i)
        for j, e in enumerate(inner.elements):
            out.append(e.with_properties({"system:index": f"{outer}_{_index_of(e, j)}"}))
    return make_collection(out, {})


def _selected(element: Any, names: list[str]) -> str:
    values = []
    for n in names:
        if n == ".geo":
            geom = getattr(element, "geometry", None)
            values.append(to_info(geom) if geom is not None and not callable(geom) else None)
        else:
            values.append(to_info(get_property(element, n)))
    return json.dumps(values, sort_keys=True)


@algorithm("Collection.distinct")
def distinct(collection: Any, properties: Any) -> Collection:
    col = as_collection(collection, "Collection.distinct")
    if isinstance(properties, str):
        names = [properties]
    else:
        names = [
            as_str(p, "Collection.distinct", "properties")
            for p in as_list(properties, "Collection.distinct", "properties")
        ]
    seen: set[str] = set()
    out = []
    for e in col.elements:
        k = _selected(e, names)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return make_collection(out, col.properties, like=col)


@algorithm("Collection.remap")
def remap(collection: Any, lookupIn: Any, lookupOut: Any, columnName: Any) -> Collection:
    col = as_collection(collection, "Collection.remap")
    src, dst, name = lookupIn, lookupOut, columnName
    if len(src) != len(dst):
        raise EEError(
            f"Collection.remap: lookupIn and lookupOut must have the same length, got "
            f"{len(src)} and {len(dst)}."
        )
    out = []
    for e in col.elements:
        v = get_property(e, name)
        for a, b in zip(src, dst, strict=False):
            if v is not None and ee_equal(a, v):
                out.append(e.with_properties({name: b}))
                break
    return make_collection(out, col.properties, like=col)


# --- reductions -----------------------------------------------------------------------------


@algorithm("Collection.reduceColumns")
def reduce_columns(
    collection: Any,
    reducer: Any,
    selectors: Any,
    weightSelectors: Any = None,
) -> dict:
    """A reducer over properties of the elements (one selector per reducer input).

    A missing property is a null input; the reducer decides (as Earth Engine's reducers do)
    whether a record with a null input is skipped.
    """
    algo = "Collection.reduceColumns"
    col = as_collection(collection, algo)
    names = [as_str(s, algo, "selectors") for s in selectors]
    columns = [[get_property(e, n) for e in col.elements] for n in names]
    weights = None
    if weightSelectors is not None:
        wnames = [as_str(s, algo, "weightSelectors") for s in weightSelectors]
        weights = [[get_property(e, n) for e in col.elements] for n in wnames] or None
    return run_reducer(reducer, columns, weights, algo)


# --- geometry ---


def element_geometries(collection: Any, what: str) -> list[Any]:
    """The geometries of a collection's elements (features without one are skipped)."""
    from ...core.values import Geometry

    if not hasattr(collection, "elements"):
        raise EEError(f"{what}: expected a collection, got {type(collection).__name__}.")
    shapes = []
    for element in collection.elements:
        geometry = getattr(element, "geometry", None)
        if isinstance(element, Image):
            from ...core.registry import call

            geometry = call("Image.geometry", {"feature": element})
        if isinstance(geometry, Geometry):
            shapes.append(geometry)
    return shapes


@algorithm("Collection.geometry")
def collection_geometry(collection: Any, maxError: Any = None) -> Any:  # noqa: N803
    """The merged geometries of a collection's elements (a union, in EPSG:4326)."""
    import shapely

    from ...core.values import Geometry

    geoms = element_geometries(collection, "Collection.geometry")
    if not geoms:
        return Geometry(shapely.GeometryCollection(), geodesic=False)
    kinds = {g.geodesic for g in geoms}
    if len(kinds) > 1:
        raise EEError(
            "Collection.geometry: the geometries do not share one edge interpretation "
            "(geodesic and planar mixed)."
        )
    shapes = [g.in_crs("EPSG:4326") for g in geoms]
    return Geometry(shapely.union_all(shapes), geodesic=kinds.pop())


@algorithm("Collection.bounds")
def collection_bounds(collection: Any, maxError: Any = None, proj: Any = None) -> Any:  # noqa: N803
    """The bounding box of a collection's geometries (through ``Geometry.bounds``)."""
    from ...core.registry import call

    merged = collection_geometry(collection, maxError)
    args = {"geometry": merged}
    if maxError is not None:
        args["maxError"] = maxError
    if proj is not None:
        args["proj"] = proj
    return call("Geometry.bounds", args)
