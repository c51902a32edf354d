"""The expression-graph interpreter of the local engine.

Evaluates the ``{"result": KEY, "values": {KEY: ValueNode}}`` graphs the ``ee`` client sends
(see shared/reference/ee-protocol.md §2.1): constants, arrays, dictionaries, algorithm
invocations, function definitions (closures over an environment chain, for ``map`` and
``iterate``), argument references and shared value references. A shared entry that contains
no argument reference is evaluated once per graph; one that does is evaluated in the
environment of each place that references it.

The same holds for an invocation written inline in a function's body (the ``ee`` client's
serializer inlines every value referenced once): when it refers to no argument of any
enclosing function, it is evaluated at the first call and its value reused by the others.
Earth Engine's algorithms are pure functions of their arguments (randomness comes from
explicit seeds), so this changes no result; it keeps a loop-invariant image, e.g. a mask
that a ``map`` body applies to every year, one image object whose pixels the tile's pixel
cache computes once, not once per call.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..errors import EEError, UnimplementedError
from . import registry
from .context import check_interrupt

__all__ = ["Closure", "evaluate"]


class _Env:
    __slots__ = ("frame", "parent")

    def __init__(self, frame: Mapping[str, Any], parent: _Env | None) -> None:
        self.frame = frame
        self.parent = parent

    def lookup(self, name: str) -> Any:
        env: _Env | None = self
        while env is not None:
            if name in env.frame:
                return env.frame[name]
            env = env.parent
        raise EEError(f"Unbound argument reference: {name}.")


class Closure:
    """A function defined in an expression, callable from Python by position or name."""

    def __init__(self, graph: _Graph, arg_names: list[str], body: str, env: _Env | None) -> None:
        self.graph = graph
        self.arg_names = arg_names
        self.body = body
        self.env = env

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(self.arg_names):
            raise EEError(f"Function takes {len(self.arg_names)} arguments, got {len(args)}.")
        frame = dict(zip(self.arg_names, args, strict=False))
        frame.update(kwargs)
        return self.graph.eval_key(self.body, _Env(frame, self.env))

    def info(self) -> dict:
        return {"type": "Function", "argumentNames": list(self.arg_names)}


class _Graph:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.cache: dict[str, Any] = {}
        self._free: dict[str, frozenset[str]] = {}
        # Inline invocations inside function bodies, by id of their (kept) node: their free
        # argument names, and the values of the closed ones.
        self._inline_free: dict[int, frozenset[str]] = {}
        self._inline_cache: dict[int, Any] = {}

    def free(self, key: str) -> frozenset[str]:
        """The argument names a key refers to that no function inside it binds."""
        if key not in self._free:
            if key not in self.values:
                raise EEError(f"Invalid expression: no value with key {key!r}.")
            self._free[key] = frozenset()  # guards against cycles
            self._free[key] = self._node_free(self.values[key])
        return self._free[key]

    def closed(self, key: str) -> bool:
        """A key is closed when it refers to no argument of an enclosing function: its
        value is the same wherever it is referenced, so it is evaluated once."""
        return not self.free(key)

    def _node_free(self, node: Any) -> frozenset[str]:
        if not isinstance(node, dict):
            return frozenset()
        if "argumentReference" in node:
            return frozenset([node["argumentReference"]])
        if "valueReference" in node:
            return self.free(node["valueReference"])
        if "functionDefinitionValue" in node:
            fdef = node["functionDefinitionValue"]
            return self.free(fdef["body"]) - frozenset(fdef.get("argumentNames", []))
        out: frozenset[str] = frozenset()
        if "arrayValue" in node:
            for v in node["arrayValue"].get("values", []):
                out |= self._node_free(v)
            return out
        if "dictionaryValue" in node:
            for v in node["dictionaryValue"].get("values", {}).values():
                out |= self._node_free(v)
            return out
        if "functionInvocationValue" in node:
            return self._invocation_free(node)
        return out

    def _invocation_free(self, node: dict) -> frozenset[str]:
        """The free argument names of an invocation node (memoized per node)."""
        hit = self._inline_free.get(id(node))
        if hit is not None:
            return hit
        inv = node["functionInvocationValue"]
        out: frozenset[str] = frozenset()
        if "functionReference" in inv:
            out |= self.free(inv["functionReference"])
        for v in inv.get("arguments", {}).values():
            out |= self._node_free(v)
        self._inline_free[id(node)] = out
        return out

    def eval_key(self, key: str, env: _Env | None) -> Any:
        if key not in self.values:
            raise EEError(f"Invalid expression: no value with key {key!r}.")
        if self.closed(key):
            if key not in self.cache:
                self.cache[key] = self.eval_node(self.values[key], None)
            return self.cache[key]
        return self.eval_node(self.values[key], env)

    def eval_node(self, node: Any, env: _Env | None) -> Any:
        if not isinstance(node, dict) or len(node) != 1:
            raise EEError(f"Invalid expression node: {str(node)[:200]}")
        ((kind, content),) = node.items()
        if kind == "constantValue":
            return content
        if kind == "integerValue":
            return int(content)
        if kind == "bytesValue":
            return base64.b64decode(content)
        if kind == "valueReference":
            return self.eval_key(content, env)
        if kind == "argumentReference":
            if env is None:
                raise EEError(f"Unbound argument reference: {content}.")
            return env.lookup(content)
        if kind == "arrayValue":
            return [self.eval_node(v, env) for v in content.get("values", [])]
        if kind == "dictionaryValue":
            return {k: self.eval_node(v, env) for k, v in content.get("values", {}).items()}
        if kind == "functionDefinitionValue":
            return Closure(self, list(content.get("argumentNames", [])), content["body"], env)
        if kind == "functionInvocationValue":
            if env is not None and not self._invocation_free(node):
                # Closed, inside a function's body: the same value at every call.
                key = id(node)
                if key not in self._inline_cache:
                    self._inline_cache[key] = self._invoke(content, None)
                return self._inline_cache[key]
            return self._invoke(content, env)
        raise EEError(f"Invalid expression node type: {kind}.")

    def _invoke(self, content: Mapping[str, Any], env: _Env | None) -> Any:
        check_interrupt()  # a request past its deadline or cancelled stops here
        if content.get("functionName") == "If":
            return self._eval_if(content.get("arguments", {}), env)
        if "functionReference" not in content:
            # Fail before evaluating the arguments, so the error names this algorithm
            # rather than an unimplemented one among its arguments (and costs nothing).
            _check_implemented(content.get("functionName"))
        args = {k: self.eval_node(v, env) for k, v in content.get("arguments", {}).items()}
        if "functionReference" in content:
            fn = self.eval_key(content["functionReference"], env)
            if not callable(fn):
                raise EEError("functionReference does not name a function.")
            return fn(**args)
        return registry.call(content["functionName"], args)

    def _eval_if(self, arguments: Mapping[str, Any], env: _Env | None) -> Any:
        """``If`` evaluates only the chosen case, as Earth Engine does."""
        from .objects import truthy

        cond = self.eval_node(arguments["condition"], env) if "condition" in arguments else None
        case = arguments.get("trueCase" if truthy(cond) else "falseCase")
        return None if case is None else self.eval_node(case, env)


def _check_implemented(name: Any) -> None:
    """Raise the error ``registry.call`` would raise for an algorithm it cannot run."""
    if registry.is_implemented(name):
        return
    if name in registry.algorithm_specs():
        raise UnimplementedError(name)
    raise EEError(f"Unknown algorithm: {name}.")


def evaluate(expression: Mapping[str, Any]) -> Any:
    """Evaluate a serialized Earth Engine expression graph to a Python value."""
    if not isinstance(expression, Mapping) or "values" not in expression:
        raise EEError("Invalid expression: expected an object with 'result' and 'values'.")
    graph = _Graph(expression["values"])
    return graph.eval_key(str(expression.get("result", "0")), None)
