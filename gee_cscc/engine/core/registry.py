"""The algorithm registry: Earth Engine's algorithm list and the local implementations.

The list of algorithms and their arguments is the one shipped with ``earthengine-api``
(``ee/tests/algorithms.json``); it is served whole to the client. Implementations register
under their exact Earth Engine name with :func:`algorithm` when their module is imported
(importing :mod:`gee_cscc.engine.algorithms` imports them all; the engine's service does);
calling a listed algorithm that has no implementation raises an error that names it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Callable
from typing import Any

from ..errors import EEError, UnimplementedError
from .arguments import coerce

__all__ = [
    "algorithm",
    "algorithm_specs",
    "algorithms_json_bytes",
    "call",
    "implemented",
    "is_implemented",
]

_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {}


def algorithm(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as the implementation of the named Earth Engine algorithms.

    The function receives the algorithm's arguments as keyword arguments, by their Earth
    Engine ``argumentName``, coerced from their declared types
    (:func:`gee_cscc.engine.core.arguments.coerce`); optional arguments the client left out
    arrive with the default of the algorithm list, coerced the same way (or ``None``).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            if name in _IMPLEMENTATIONS:
                raise RuntimeError(f"Algorithm {name} registered twice.")
            _IMPLEMENTATIONS[name] = fn
        return fn

    return register


@functools.lru_cache(maxsize=1)
def algorithms_json_bytes() -> bytes:
    """The algorithm list shipped with earthengine-api, as bytes."""
    return importlib.resources.files("ee").joinpath("tests/algorithms.json").read_bytes()


@functools.lru_cache(maxsize=1)
def algorithm_specs() -> dict[str, dict]:
    """Algorithm name → its entry of the shipped list (``arguments``, ``returnType`` …)."""
    data = json.loads(algorithms_json_bytes())
    entries = data["algorithms"] if isinstance(data, dict) else data
    return {e["name"].removeprefix("algorithms/"): e for e in entries}


def implemented() -> set[str]:
    """The names of the algorithms the local engine implements."""
    return set(_IMPLEMENTATIONS)


def is_implemented(name: str) -> bool:
    """Whether the local engine implements the named algorithm."""
    return name in _IMPLEMENTATIONS


def call(name: str, args: dict[str, Any]) -> Any:
    """Invoke an algorithm with Earth Engine's argument rules.

    Raises
    ------
    EEError
        unknown algorithm, unknown or missing argument, or no implementation.
    """
    spec = algorithm_specs().get(name)
    fn = _IMPLEMENTATIONS.get(name)
    if spec is None and fn is None:
        raise EEError(f"Unknown algorithm: {name}.")
    if fn is None:
        raise UnimplementedError(name)
    kwargs = dict(args)
    if spec is not None:
        known = {a["argumentName"]: a for a in spec.get("arguments", [])}
        for arg in kwargs:
            if arg not in known:
                raise EEError(f"Unrecognized argument type for '{arg}' in {name}.")
        for arg_name, arg in known.items():
            value = kwargs.get(arg_name)
            # Earth Engine treats an explicit null as an argument not given.
            if value is None:
                if not arg.get("optional", False):
                    raise EEError(f"{name}: Parameter '{arg_name}' is required.")
                value = arg.get("defaultValue")
            # Defaults are coerced too: the list gives an Integer's default as 1.0.
            if value is not None:
                value = coerce(value, arg.get("type", ""), name, arg_name)
            kwargs[arg_name] = value
    return fn(**kwargs)
