"""``Array.*`` algorithms: Earth Engine arrays (``ee.Array``) as nested lists of numbers.

An array value is an :class:`ArrayValue` (a ``list`` subclass, so it serializes and behaves as
the nested list ``getInfo`` returns, and :func:`Image.constant` can tell it from a list of
band values). Any nested list of numbers (``Dictionary.toArray`` …) is accepted where an
array is expected; it must be rectangular. Arithmetic follows Earth Engine's array math:
element by element, on arrays of the same shape or where one side has length 1 in an axis
(or is a number); integer arrays stay integer except for ``divide`` (a true division, 0 for a
division by 0, as for numbers), ``pow`` with negative exponents and the float functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from ..core.registry import algorithm
from ..errors import EEError

__all__ = ["ArrayValue", "as_array", "array_value", "is_array_value"]


class ArrayValue(list):
    """An Earth Engine array: a (nested) list of numbers."""

    ee_type = "Array"


def is_array_value(value: Any) -> bool:
    """Whether ``value`` is an array (an :class:`ArrayValue` or a list holding lists)."""
    return isinstance(value, ArrayValue) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in value)
    )


def as_array(value: Any, algo: str, arg: str = "array") -> np.ndarray:
    """An array argument as a NumPy array (numbers become 0-d arrays)."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        return np.asarray(value)
    if not isinstance(value, (list, tuple)):
        from ..core.arguments import invalid_type

        raise invalid_type(algo, arg, "Array", value)
    try:
        out = np.asarray(value)
    except ValueError:
        out = None
    if out is None or out.dtype == object or out.dtype.kind not in "biuf":
        raise EEError(f"{algo}: Array must be rectangular and hold only numbers, got {value!r}.")
    return out.astype(np.int64) if out.dtype.kind in "bu" else out


def array_value(a: np.ndarray) -> Any:
    """A NumPy result as an Earth Engine value: an :class:`ArrayValue`, or a number for 0-d."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        a = a.astype(object)
        a[~np.isfinite(a.astype(float))] = None
    if a.ndim == 0:
        return a.item()
    return ArrayValue(a.tolist())


# --- construction and shape ------------------------------------------------------------------


@algorithm("Array")
def array(values: Any, pixelType: Any = None) -> ArrayValue:  # noqa: N803
    """An array from a number or a (nested) list of numbers."""
    a = as_array(values, "Array", "values")
    if a.ndim == 0:
        a = a.reshape(1)
    if a.size == 0 and a.ndim == 1:
        return ArrayValue([])
    return array_value(a)


@algorithm("Array.get")
def get(array: Any, position: list) -> Any:
    """The element at ``position`` (one index per axis)."""
    a = as_array(array, "Array.get")
    if len(position) != a.ndim:
        raise EEError(
            f"Array.get: Position has {len(position)} coordinates, but the array has "
            f"{a.ndim} dimensions."
        )
    pos = [int(p) for p in position]
    if any(not 0 <= p < n for p, n in zip(pos, a.shape, strict=True)):
        raise EEError(
            f"Array.get: Position {pos} out of bounds for array of shape {list(a.shape)}."
        )
    return a[tuple(pos)].item()


@algorithm("Array.length")
def length(array: Any) -> ArrayValue:
    """The length of each axis, as a 1-D array."""
    return ArrayValue(list(as_array(array, "Array.length").shape))


@algorithm("Array.toList")
def to_list(array: Any) -> list:
    """The array as nested lists."""
    return array_value(as_array(array, "Array.toList"))


def _axis(a: np.ndarray, axis: int, algo: str) -> int:
    if not -a.ndim <= axis < a.ndim:
        raise EEError(f"{algo}: Axis {axis} out of bounds for a {a.ndim}-D array.")
    return axis % a.ndim


@algorithm("Array.transpose")
def transpose(array: Any, axis1: int = 0, axis2: int = 1) -> ArrayValue:
    """The array with two axes swapped."""
    a = as_array(array, "Array.transpose")
    return array_value(
        np.swapaxes(a, _axis(a, axis1, "Array.transpose"), _axis(a, axis2, "Array.transpose"))
    )


@algorithm("Array.matrixTranspose")
def matrix_transpose(array: Any, axis1: int = 0, axis2: int = 1) -> ArrayValue:
    return transpose(array, axis1, axis2)


@algorithm("Array.slice")
def slice_(array: Any, axis: int = 0, start: int = 0, end: Any = None, step: int = 1) -> Any:
    """Elements ``start`` (inclusive) to ``end`` (exclusive) by ``step`` along ``axis``;
    negative positions count from the end."""
    a = as_array(array, "Array.slice")
    ax = _axis(a, axis, "Array.slice")
    if step == 0:
        raise EEError("Array.slice: step must not be 0.")
    index = [slice(None)] * a.ndim
    index[ax] = slice(start, end, step)
    return array_value(a[tuple(index)])


@algorithm("Array.project")
def project(array: Any, axes: list) -> Any:
    """The array with the axes not in ``axes`` (each of length 1) removed."""
    a = as_array(array, "Array.project")
    keep = [_axis(a, int(x), "Array.project") for x in axes]
    drop = [i for i in range(a.ndim) if i not in keep]
    if any(a.shape[i] != 1 for i in drop):
        raise EEError(
            f"Array.project: Projected-away dimensions must have length 1; shape {list(a.shape)}."
        )
    return array_value(
        np.transpose(a.reshape([a.shape[i] for i in range(a.ndim)]), keep + drop).reshape(
            [a.shape[i] for i in keep]
        )
    )


@algorithm("Array.cat")
def cat(arrays: list, axis: int = 0) -> ArrayValue:
    """The arrays joined along ``axis``."""
    parts = [as_array(x, "Array.cat", "arrays") for x in arrays]
    try:
        return array_value(np.concatenate(parts, axis=axis))
    except ValueError as err:
        raise EEError(f"Array.cat: {err}.") from None


@algorithm("Array.reshape")
def reshape(array: Any, shape: Any) -> ArrayValue:
    a = as_array(array, "Array.reshape")
    dims = [int(s) for s in as_array(shape, "Array.reshape", "shape").reshape(-1)]
    try:
        return array_value(a.reshape(dims))
    except ValueError:
        raise EEError(
            f"Array.reshape: cannot reshape an array of shape {list(a.shape)} to {dims}."
        ) from None


@algorithm("Array.identity")
def identity(size: int) -> ArrayValue:
    return array_value(np.eye(size, dtype=np.int64))


# --- matrices ----------------------------------------------------------------------------------


def _matrix(value: Any, algo: str, arg: str) -> np.ndarray:
    a = as_array(value, algo, arg)
    if a.ndim != 2:
        raise EEError(f"{algo}: Argument '{arg}' must be a 2-D array, got {a.ndim}-D.")
    return a


@algorithm("Array.matrixMultiply")
def matrix_multiply(left: Any, right: Any) -> ArrayValue:
    """The matrix product ``left · right``."""
    a = _matrix(left, "Array.matrixMultiply", "left")
    b = _matrix(right, "Array.matrixMultiply", "right")
    if a.shape[1] != b.shape[0]:
        raise EEError(
            f"Array.matrixMultiply: Incompatible dimensions {list(a.shape)} and {list(b.shape)}."
        )
    return array_value(a @ b)


@algorithm("Array.matrixSolve")
def matrix_solve(left: Any, right: Any) -> ArrayValue:
    """The least-squares solution ``x`` of ``left · x = right`` (pseudo-inverse)."""
    a = _matrix(left, "Array.matrixSolve", "left").astype(float)
    b = as_array(right, "Array.matrixSolve", "right").astype(float)
    if b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise EEError(
            f"Array.matrixSolve: Incompatible dimensions {list(a.shape)} and {list(b.shape)}."
        )
    return array_value(np.linalg.pinv(a) @ b)


@algorithm("Array.matrixInverse")
def matrix_inverse(input: Any) -> ArrayValue:  # noqa: A002 (Earth Engine's name)
    array = input
    a = _matrix(array, "Array.matrixInverse", "array").astype(float)
    if a.shape[0] != a.shape[1]:
        raise EEError(f"Array.matrixInverse: the matrix must be square, got {list(a.shape)}.")
    return array_value(
        np.linalg.pinv(a) if np.linalg.matrix_rank(a) < a.shape[0] else np.linalg.inv(a)
    )


@algorithm("Array.matrixPseudoInverse")
def matrix_pseudo_inverse(input: Any) -> ArrayValue:  # noqa: A002 (Earth Engine's name)
    array = input
    return array_value(np.linalg.pinv(_matrix(array, "Array.matrixPseudoInverse", "array")))


@algorithm("Array.matrixDeterminant")
def matrix_determinant(input: Any) -> float:  # noqa: A002 (Earth Engine's name)
    array = input
    a = _matrix(array, "Array.matrixDeterminant", "array").astype(float)
    if a.shape[0] != a.shape[1]:
        raise EEError(f"Array.matrixDeterminant: the matrix must be square, got {list(a.shape)}.")
    return float(np.linalg.det(a))


@algorithm("Array.matrixTrace")
def matrix_trace(input: Any) -> Any:  # noqa: A002 (Earth Engine's name)
    array = input
    a = _matrix(array, "Array.matrixTrace", "array")
    return np.trace(a).item()


@algorithm("Array.matrixDiagonal")
def matrix_diagonal(input: Any) -> ArrayValue:  # noqa: A002 (Earth Engine's name)
    array = input
    return array_value(np.diagonal(_matrix(array, "Array.matrixDiagonal", "array")).reshape(-1, 1))


@algorithm("Array.dotProduct")
def dot_product(array1: Any, array2: Any) -> Any:
    a = as_array(array1, "Array.dotProduct", "array1")
    b = as_array(array2, "Array.dotProduct", "array2")
    if a.ndim != 1 or a.shape != b.shape:
        raise EEError("Array.dotProduct: the arguments must be 1-D arrays of the same length.")
    return np.dot(a, b).item()


# --- element-wise math ------------------------------------------------------------------------


def _broadcast(a: np.ndarray, b: np.ndarray, algo: str) -> tuple[np.ndarray, np.ndarray]:
    """The operands, checked: the same shape, length 1 where they differ, or one element
    (a number given for an array, which the client sends as a 1-element array)."""
    if a.size == 1 and a.ndim != b.ndim:
        return a.reshape(()), b
    if b.size == 1 and a.ndim != b.ndim:
        return a, b.reshape(())
    ok = a.ndim == b.ndim and all(
        x == y or 1 in (x, y) for x, y in zip(a.shape, b.shape, strict=True)
    )
    if not ok:
        raise EEError(
            f"{algo}: Array arguments must have the same shape, got {list(a.shape)} and "
            f"{list(b.shape)}."
        )
    return a, b


def _int(a: np.ndarray) -> bool:
    return a.dtype.kind in "iu"


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.true_divide(a, b)
    return np.where(b == 0, 0, q)


def _mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.fmod(a, np.where(b == 0, 1, b))
    return np.where(b == 0, 0, r)


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if _int(a) and _int(b) and np.all(b >= 0):
        return np.power(a, b)
    with np.errstate(all="ignore"):
        return np.power(a.astype(float), b)


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": _divide,
    "mod": _mod,
    "pow": _pow,
    "max": np.maximum,
    "min": np.minimum,
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "first": lambda a, b: np.broadcast_arrays(a, b)[0],
    "firstNonZero": lambda a, b: np.where(a != 0, a, b),
    "first_nonzero": lambda a, b: np.where(a != 0, a, b),
    "lt": lambda a, b: (a < b).astype(np.int64),
    "lte": lambda a, b: (a <= b).astype(np.int64),
    "gt": lambda a, b: (a > b).astype(np.int64),
    "gte": lambda a, b: (a >= b).astype(np.int64),
    "eq": lambda a, b: (a == b).astype(np.int64),
    "neq": lambda a, b: (a != b).astype(np.int64),
    "and": lambda a, b: ((a != 0) & (b != 0)).astype(np.int64),
    "or": lambda a, b: ((a != 0) | (b != 0)).astype(np.int64),
}

_BITWISE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "bitwiseAnd": np.bitwise_and,
    "bitwise_and": np.bitwise_and,
    "bitwiseOr": np.bitwise_or,
    "bitwise_or": np.bitwise_or,
    "bitwiseXor": np.bitwise_xor,
    "bitwise_xor": np.bitwise_xor,
    "leftShift": np.left_shift,
    "left_shift": np.left_shift,
    "rightShift": np.right_shift,
    "right_shift": np.right_shift,
}


def _register_binary(op: str, fn: Callable, *, integers: bool = False) -> None:
    name = f"Array.{op}"

    @algorithm(name)
    def impl(left: Any, right: Any) -> Any:
        a, b = as_array(left, name, "left"), as_array(right, name, "right")
        a, b = _broadcast(a, b, name)
        if integers:
            a, b = a.astype(np.int64), b.astype(np.int64)
        return array_value(fn(a, b))


for _op, _fn in _BINARY.items():
    _register_binary(_op, _fn)
for _op, _fn in _BITWISE.items():
    _register_binary(_op, _fn, integers=True)


_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "sqrt": np.sqrt,
    "log": np.log,
    "log10": np.log10,
    "exp": np.exp,
    "cbrt": np.cbrt,
    "erf": special.erf,
    "erfc": special.erfc,
    "erfInv": special.erfinv,
    "erfcInv": special.erfcinv,
    "gamma": special.gamma,
    "digamma": special.digamma,
    "abs": np.abs,
    "signum": lambda a: np.sign(a).astype(a.dtype),
    "floor": lambda a: np.floor(a) if not _int(a) else a,
    "ceil": lambda a: np.ceil(a) if not _int(a) else a,
    "round": lambda a: np.floor(a + 0.5) if not _int(a) else a,
    "not": lambda a: (a == 0).astype(np.int64),
    "bitwiseNot": lambda a: np.invert(a.astype(np.int64)),
    "bitwise_not": lambda a: np.invert(a.astype(np.int64)),
}

_CASTS = {
    "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
    "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "float": np.float32,
    "double": np.float64, "byte": np.uint8, "short": np.int16, "int": np.int32,
    "long": np.int64,
}  # fmt: skip


def _cast(dtype: Any) -> Callable[[np.ndarray], np.ndarray]:
    def fn(a: np.ndarray) -> np.ndarray:
        if np.dtype(dtype).kind in "iu" and a.dtype.kind == "f":
            info = np.iinfo(dtype)
            a = np.clip(np.trunc(np.nan_to_num(a)), info.min, info.max)
        out = a.astype(dtype)
        return out.astype(np.int64) if out.dtype.kind in "iu" else out.astype(np.float64)

    return fn


def _register_unary(op: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    name = f"Array.{op}"

    @algorithm(name)
    def impl(input: Any) -> Any:  # noqa: A002 (Earth Engine's name)
        a = as_array(input, name, "input")
        with np.errstate(all="ignore"):
            return array_value(fn(a))


for _op, _fn in _UNARY.items():
    _register_unary(_op, _fn)
for _op, _t in _CASTS.items():
    _register_unary(_op, _cast(_t))
    _register_unary("to" + _op[0].upper() + _op[1:], _cast(_t))
