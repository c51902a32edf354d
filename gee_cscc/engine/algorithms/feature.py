"""``Feature`` and ``Feature.*``: a geometry with properties.

Geometry algorithms on a feature act on its geometry (see :mod:`.geometry`); those that return
a geometry return the feature with that geometry and its properties (for two features, the
left one's). A feature without a geometry has none to measure: the measures raise an error.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.arguments import invalid_type, required
from ..core.registry import algorithm
from ..core.values import Feature, Geometry
from ..errors import EEError
from .geometry import geometry as geo

__all__ = ["as_feature"]


def as_feature(value: Any, algo: str, arg: str = "feature") -> Feature:
    """A Feature argument (a bare Geometry is a feature without properties)."""
    if isinstance(value, Feature):
        return value
    if isinstance(value, Geometry):
        return Feature(value, {})
    raise invalid_type(algo, arg, "Feature", value)


def _geometry_of(value: Any, algo: str, arg: str = "feature") -> Geometry:
    feature = as_feature(value, algo, arg)
    if feature.geometry is None:
        raise EEError(f"{algo}: the feature has no geometry.")
    return feature.geometry


def _with_geometry(feature: Feature, geometry: Geometry | None) -> Feature:
    return Feature(geometry, feature.properties)


@algorithm("Feature")
def feature(geometry: Any = None, metadata: Any = None, geometryKey: Any = None) -> Feature:
    if geometry is not None and not isinstance(geometry, (Geometry, Feature)):
        raise invalid_type("Feature", "geometry", "Geometry", geometry)
    if isinstance(geometry, Feature):
        geometry = geometry.geometry
    return Feature(geometry, {} if metadata is None else metadata)


@algorithm("Feature.geometry", "Element.geometry")  # Collection.first() is an Element
def feature_geometry(
    feature: Any,
    maxError: Any = None,
    proj: Any = None,
    geodesics: Any = None,
) -> Geometry | None:
    algo = "Feature.geometry"
    f = as_feature(feature, algo)
    target = geo.as_projection_arg(proj, algo)
    if f.geometry is None or target is None:
        return f.geometry
    geodesic = f.geometry.geodesic if geodesics is None else geodesics
    return geo.transform_of(f.geometry, target, geodesic, geo.margin_metres(maxError, algo))


@algorithm("Feature.setGeometry")
def set_geometry(feature: Any, geometry: Any = None) -> Feature:
    algo = "Feature.setGeometry"
    f = as_feature(feature, algo)
    if geometry is not None:
        geometry = geo.as_geometry(geometry, algo)
    return _with_geometry(f, geometry)


@algorithm("Feature.id")
def feature_id(element: Any) -> Any:
    return as_feature(element, "Feature.id", "element").properties.get("system:index")


# --- measures ----------------------------------------------------------------------------


@algorithm("Feature.area")
def feature_area(feature: Any, maxError: Any = None, proj: Any = None) -> float:
    algo = "Feature.area"
    geo.margin_metres(maxError, algo)
    return geo.geometry_area(_geometry_of(feature, algo), geo.as_projection_arg(proj, algo))


@algorithm("Feature.length")
def feature_length(feature: Any, maxError: Any = None, proj: Any = None) -> float:
    algo = "Feature.length"
    geo.margin_metres(maxError, algo)
    return geo.geometry_length(_geometry_of(feature, algo), geo.as_projection_arg(proj, algo))


@algorithm("Feature.perimeter")
def feature_perimeter(feature: Any, maxError: Any = None, proj: Any = None) -> float:
    algo = "Feature.perimeter"
    geo.margin_metres(maxError, algo)
    return geo.geometry_perimeter(_geometry_of(feature, algo), geo.as_projection_arg(proj, algo))


# --- derived geometries --------------------------------------------------------------------


@algorithm("Feature.bounds")
def feature_bounds(feature: Any, maxError: Any = None, proj: Any = None) -> Feature:
    algo = "Feature.bounds"
    f = as_feature(feature, algo)
    g = geo.bounds_of(
        _geometry_of(f, algo),
        geo.as_projection_arg(proj, algo),
        geo.tolerance_metres(maxError, algo),
    )
    return _with_geometry(f, g)


@algorithm("Feature.centroid")
def feature_centroid(feature: Any, maxError: Any = None, proj: Any = None) -> Feature:
    algo = "Feature.centroid"
    f = as_feature(feature, algo)
    geo.margin_metres(maxError, algo)
    return _with_geometry(
        f, geo.centroid_of(_geometry_of(f, algo), geo.as_projection_arg(proj, algo))
    )


@algorithm("Feature.buffer")
def feature_buffer(
    feature: Any,
    distance: Any,
    maxError: Any = None,
    proj: Any = None,
) -> Feature:
    algo = "Feature.buffer"
    f = as_feature(feature, algo)
    g = geo.buffer_of(
        _geometry_of(f, algo),
        float(distance),
        geo.margin_metres(maxError, algo),
        geo.as_projection_arg(proj, algo),
    )
    return _with_geometry(f, g)


@algorithm("Feature.simplify")
def feature_simplify(feature: Any, maxError: Any, proj: Any = None) -> Feature:
    algo = "Feature.simplify"
    f = as_feature(feature, algo)
    err = geo.margin_metres(maxError, algo)
    if err is None:
        raise required(algo, "maxError")
    return _with_geometry(
        f, geo.simplify_of(_geometry_of(f, algo), err, geo.as_projection_arg(proj, algo))
    )


@algorithm("Feature.transform")
def feature_transform(
    feature: Any,
    proj: Any = None,
    maxError: Any = None,
    geodesic: Any = None,
) -> Feature:
    algo = "Feature.transform"
    f = as_feature(feature, algo)
    if f.geometry is None:
        return f
    target = geo.as_projection_arg(proj, algo) or geo.Projection("EPSG:4326")
    g = geo.transform_of(f.geometry, target, geodesic, geo.margin_metres(maxError, algo))
    return _with_geometry(f, g)


@algorithm("Feature.dissolve")
def feature_dissolve(feature: Any, maxError: Any = None, proj: Any = None) -> Feature:
    algo = "Feature.dissolve"
    f = as_feature(feature, algo)
    g = geo.dissolve_of(
        _geometry_of(f, algo),
        geo.as_projection_arg(proj, algo),
        geo.tolerance_metres(maxError, algo),
    )
    return _with_geometry(f, g)


# --- two features --------------------------------------------------------------------------


def _register_pair(name: str, returns_feature: bool) -> None:
    from ..core.registry import call

    @algorithm(f"Feature.{name}")
    def impl(left: Any, right: Any, maxError: Any = None, proj: Any = None) -> Any:
        algo = f"Feature.{name}"
        a = as_feature(left, algo, "left")
        out = call(
            f"Geometry.{name}",
            {
                "left": _geometry_of(a, algo, "left"),
                "right": _geometry_of(right, algo, "right"),
                "maxError": maxError,
                "proj": proj,
            },
        )
        return _with_geometry(a, out) if returns_feature else out


for _name in ("intersects", "disjoint", "contains", "containedIn"):
    _register_pair(_name, False)
for _name in ("intersection", "union", "difference", "symmetricDifference"):
    _register_pair(_name, True)


@algorithm("Feature.distance")
def feature_distance(
    left: Any,
    right: Any,
    maxError: Any = None,
    proj: Any = None,
    spherical: Any = False,
) -> float:
    algo = "Feature.distance"
    return geo.distance_between(
        _geometry_of(left, algo, "left"),
        _geometry_of(right, algo, "right"),
        geo.as_projection_arg(proj, algo),
        spherical,
        geo.tolerance_metres(maxError, algo),
    )


# --- properties ----------------------------------------------------------------------------


@algorithm("Feature.select")
def select(
    input: Any,  # noqa: A002 (Earth Engine's name)
    propertySelectors: Any,
    newProperties: Any = None,
    retainGeometry: Any = True,
) -> Feature:
    algo = "Feature.select"
    f = as_feature(input, algo, "input")
    names = [k for k in f.properties if not k.startswith("system:")]
    chosen: list[str] = []
    for sel in propertySelectors:
        if not isinstance(sel, str):
            raise invalid_type(algo, "propertySelectors", "List<String>", propertySelectors)
        try:
            pattern = re.compile(sel)
        except re.error as exc:
            raise EEError(f"{algo}: invalid property selector {sel!r}: {exc}.") from None
        hits = [n for n in names if n == sel or pattern.fullmatch(n)]
        chosen.extend(h for h in hits if h not in chosen)
    if newProperties is not None:
        if len(newProperties) != len(chosen):
            raise EEError(
                f"{algo}: the number of new names ({len(newProperties)}) does not match the number of "
                f"selected properties ({len(chosen)}): {chosen}."
            )
        renamed = [str(n) for n in newProperties]
    else:
        renamed = chosen
    props = {new: f.properties[old] for old, new in zip(chosen, renamed, strict=True)}
    if "system:index" in f.properties:
        props["system:index"] = f.properties["system:index"]
    keep = True if retainGeometry is None else retainGeometry
    return Feature(f.geometry if keep else None, props)
