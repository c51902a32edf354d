"""``Element.*`` algorithms: the properties of images, features and collections.

An element's properties are its ``.properties`` dict (``system:index``, ``system:id``,
``system:time_start`` … among them). Setting a property returns a new element; the input is
never changed. ``Image.set`` and ``Feature.set`` are sent as ``Element.set``.
"""

from __future__ import annotations

from typing import Any

from ..core.arguments import as_array_value, as_number, as_str, invalid_type, required
from ..core.registry import algorithm
from ..core.values import Element, Image
from ..errors import EEError

__all__ = ["as_element", "copy_properties", "get_property", "is_system"]


def as_element(value: Any, algo: str, arg: str) -> Element:
    """An argument that must be an Element (image, feature or collection)."""
    if isinstance(value, Element):
        return value
    raise invalid_type(algo, arg, "Element", value)


def is_system(name: str) -> bool:
    """Whether a property is a system property (``system:…``)."""
    return name.startswith("system:")


def get_property(element: Element, name: str) -> Any:
    """A property of an element, null when absent (``system:band_names`` for images too)."""
    if name in element.properties:
        return element.properties[name]
    if isinstance(element, Image) and name == "system:band_names":
        return element.band_names
    return None


@algorithm("Element.get")
def get(object: Any, property: Any) -> Any:
    el = as_element(object, "Element.get", "object")
    return get_property(el, property)


def _required_property(obj: Any, name: str, algo: str) -> tuple[str, Any]:
    """``(name, value)`` of a property that must be present and not null."""
    el = as_element(obj, algo, "object")
    value = get_property(el, name)
    if value is None:
        raise EEError(f"{algo}: Property '{name}' is missing or null.")
    return name, value


@algorithm("Element.getNumber")
def get_number(object: Any, property: Any) -> Any:
    name, value = _required_property(object, property, "Element.getNumber")
    return as_number(value, "Element.getNumber", name)


@algorithm("Element.getString")
def get_string(object: Any, property: Any) -> str:
    name, value = _required_property(object, property, "Element.getString")
    return as_str(value, "Element.getString", name)


@algorithm("Element.getArray")
def get_array(object: Any, property: Any) -> Any:
    name, value = _required_property(object, property, "Element.getArray")
    return as_array_value(value, "Element.getArray", name)


@algorithm("Element.set")
def set_(object: Any, key: Any, value: Any = None) -> Element:
    el = as_element(object, "Element.set", "object")
    return el.with_properties({key: value})


@algorithm("Element.setMulti")
def set_multi(object: Any, properties: Any) -> Element:
    el = as_element(object, "Element.setMulti", "object")
    return el.with_properties(
        {as_str(k, "Element.setMulti", "key"): v for k, v in properties.items()}
    )


@algorithm("Element.propertyNames")
def property_names(element: Any) -> list[str]:
    el = as_element(element, "Element.propertyNames", "element")
    return list(el.properties)


@algorithm("Element.toDictionary")
def to_dictionary(element: Any, properties: Any = None) -> dict:
    """The element's properties as a dictionary: all non-system ones, or those named."""
    el = as_element(element, "Element.toDictionary", "element")
    if properties is None:
        out = {k: v for k, v in el.properties.items() if not is_system(k)}
    else:
        names = [as_str(p, "Element.toDictionary", "properties") for p in properties]
        out = {}
        for name in names:
            value = get_property(el, name)
            if value is None:
                raise EEError(f"Element.toDictionary: Property '{name}' is missing or null.")
            out[name] = value
    return {k: out[k] for k in sorted(out)}


def copy_properties(
    destination: Any = None,
    source: Any = None,
    properties: Any = None,
    exclude: Any = None,
    *,
    algo: str = "Element.copyProperties",
) -> Element:
    """``destination`` with properties of ``source`` copied onto it.

    Parameters
    ----------
    destination
        The element that receives the properties.
    source
        The element they come from.
    properties
        The names to copy (system properties allowed); all non-system
        properties when None.
    exclude
        Names not to copy when copying all; not allowed together with
        ``properties``.
    """
    if destination is None:
        raise required(algo, "destination")
    if source is None:
        raise required(algo, "source")
    dst = as_element(destination, algo, "destination")
    src = as_element(source, algo, "source")
    if properties is not None and exclude is not None:
        raise EEError(f"{algo}: 'exclude' must not be specified together with 'properties'.")
    if properties is not None:
        names = [as_str(p, algo, "properties") for p in properties]
        copied = {n: src.properties[n] for n in names if n in src.properties}
    else:
        skip = set()
        if exclude is not None:
            skip = {as_str(p, algo, "exclude") for p in exclude}
        copied = {k: v for k, v in src.properties.items() if not is_system(k) and k not in skip}
    return dst.with_properties(copied)


@algorithm("Element.copyProperties")
def element_copy_properties(
    destination: Any = None, source: Any = None, properties: Any = None, exclude: Any = None
) -> Element:
    return copy_properties(destination, source, properties, exclude)


@algorithm("Element.replaceProperties")
def replace_properties(destination: Any, source: Any = None) -> Element:
    """``destination`` with all its properties replaced by those of ``source`` (or none)."""
    dst = as_element(destination, "Element.replaceProperties", "destination")
    props: dict = {}
    if source is not None:
        props = dict(as_element(source, "Element.replaceProperties", "source").properties)
    out = dst.with_properties({})
    out.properties = props
    return out
