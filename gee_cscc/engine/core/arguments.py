"""Arguments of Earth Engine algorithms: coercion to Python types and Earth Engine's errors.

A missing (null) required argument gives ``"Number.add: Parameter 'left' is required."`` and
a value of the wrong type gives ``"Number.add, argument 'left': Invalid type.\\nExpected
type: Number.\\nActual type: String.\\nActual value: abc"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import EEError
from .objects import truthy, type_name
from .values import Geometry, Image, constant_band

__all__ = [
    "COERCIONS",
    "as_array_value",
    "as_bool",
    "as_dict",
    "as_geometry_value",
    "as_image",
    "as_int",
    "as_list",
    "as_number",
    "as_str",
    "coerce",
    "invalid_type",
    "required",
]


def _short(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"  # as Earth Engine (Java) prints them
    text = str(value) if not hasattr(value, "info") else type_name(value)
    return text if len(text) <= 200 else text[:197] + "..."


def required(algo: str, arg: str) -> EEError:
    """The error for a required argument that is missing or null."""
    return EEError(f"{algo}: Parameter '{arg}' is required.")


def invalid_type(algo: str, arg: str, expected: str, value: Any) -> EEError:
    """The error for an argument of the wrong type (Earth Engine's wording)."""
    if value is None:
        return required(algo, arg)
    return EEError(
        f"{algo}, argument '{arg}': Invalid type.\nExpected type: {expected}.\n"
        f"Actual type: {type_name(value)}.\nActual value: {_short(value)}"
    )


def as_number(value: Any, algo: str, arg: str, expected: str = "Number") -> int | float:
    """A number argument as a Python ``int`` or ``float`` (booleans count as 0/1).

    ``expected`` is the type the error names (the declared one: ``Float``, ``Long`` …).
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise invalid_type(algo, arg, expected, value)


def as_int(value: Any, algo: str, arg: str, expected: str = "Integer") -> int:
    """An integer argument; a float with an integral value is accepted."""
    v = as_number(value, algo, arg, expected)
    if isinstance(v, float):
        if not v.is_integer():
            raise invalid_type(algo, arg, expected, value)
        return int(v)
    return v


def as_bool(value: Any, algo: str, arg: str, expected: str = "Boolean") -> bool:
    """A boolean argument by Earth Engine's truth rules (null is a missing argument)."""
    if value is None:
        raise required(algo, arg)
    return truthy(value)


def as_str(value: Any, algo: str, arg: str, expected: str = "String") -> str:
    """A string argument."""
    if isinstance(value, str):
        return value
    raise invalid_type(algo, arg, expected, value)


def as_list(value: Any, algo: str, arg: str, expected: str = "List") -> list:
    """A list argument (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    raise invalid_type(algo, arg, expected, value)


def as_dict(value: Any, algo: str, arg: str, expected: str = "Dictionary") -> dict:
    """A dictionary argument, as a new ``dict``."""
    if isinstance(value, Mapping):
        return dict(value)
    raise invalid_type(algo, arg, expected, value)


def as_array_value(value: Any, algo: str, arg: str) -> Any:
    """A value read as an ``Array`` (``getArray`` of a list, dictionary or property): a number
    or a (nested) list; a boolean is not one."""
    if isinstance(value, bool) or not isinstance(value, (list, int, float)):
        raise invalid_type(algo, arg, "Array", value)
    return value


def as_geometry_value(value: Any, algo: str, arg: str) -> Geometry:
    """A value read as a ``Geometry`` (``getGeometry`` of a list or dictionary)."""
    if not isinstance(value, Geometry):
        raise invalid_type(algo, arg, "Geometry", value)
    return value


def as_image(value: Any, what: str = "image") -> Image:
    """An argument as an Image: numbers become constant images, lists multi-band constants."""
    if isinstance(value, Image):
        return value
    if isinstance(value, bool):
        return Image([constant_band(int(value))])
    if isinstance(value, (int, float, np.integer, np.floating)):
        return Image([constant_band(float(value))])
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return Image([constant_band(float(v), f"constant_{i}") for i, v in enumerate(value)])
    raise EEError(f"Invalid argument for {what}: expected an Image, got {type(value).__name__}.")


#: How an argument of each declared ``algorithms.json`` type is coerced (by the type's name
#: before any ``<…>`` parameter: ``List<String>`` is a ``List``). Types not listed (images,
#: collections, geometries, objects …) reach the implementation as they are.
COERCIONS = {
    "Integer": as_int,
    "Long": as_int,
    "Float": as_number,
    "Number": as_number,
    "String": as_str,
    "Boolean": as_bool,
    "List": as_list,
    "Dictionary": as_dict,
}


def coerce(value: Any, ee_type: str, algo: str, arg: str) -> Any:
    """An argument coerced from its declared Earth Engine type (see :data:`COERCIONS`).

    A wrong type names the declared one (``Expected type: Float.``). The elements of a
    ``List<…>`` are not checked (Earth Engine does not either: ``Collection.remap`` takes
    strings in its ``List<Integer>``); an algorithm that needs, say, strings in a list coerces
    each element with :func:`as_str` and the like.

    Raises
    ------
    EEError
        The value is not of the declared type (Earth Engine's "Invalid type" message).
    """
    convert = COERCIONS.get(ee_type.partition("<")[0])
    return value if convert is None else convert(value, algo, arg, ee_type)
