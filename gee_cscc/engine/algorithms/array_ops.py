"""More ``Array.*`` algorithms: ``sort``, ``argmax``, ``reduce``, ``accum``, ``mask``,
``repeat``, ``pad``, ``cut`` and ``bitsToArray`` (the rest of ``ee.Array``: :mod:`.array`).

Semantics are the descriptions of earthengine-api's ``algorithms.json``:

* ``reduce``: the ``axes`` keep length 1 (the reducer's result); with a reducer of several
  inputs or outputs, ``fieldAxis`` gives the inputs and holds the outputs; other axes are
  reduced independently.
* ``accum``: each element becomes the reduction (default ``Reducer.sum``) of the elements
  along ``axis`` up to and including it.
* ``sort``: ascending and stable, by the values (1-D) or by ``keys``, whose one axis longer
  than 1 is the axis sorted.
* ``mask``: the positions along the mask's axis where the mask is non-zero.
* ``repeat``: ``copies`` copies of the array concatenated along ``axis``; ``pad``: ``pad``
  appended along each axis up to ``lengths``; ``cut``: position ``p`` of each axis (``-1``:
  the whole axis), keeping length 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import registry
from ..core.records import Batch
from ..core.registry import algorithm
from ..errors import EEError
from .array import array_value, as_array
from .reducer.tree import as_reducer

__all__: list[str] = []


def _axis(a: np.ndarray, axis: int, what: str) -> int:
    if not -a.ndim <= axis < a.ndim:
        raise EEError(f"{what}: Axis {axis} out of bounds for a {a.ndim}-D array.")
    return axis % a.ndim


def _reduce(a: np.ndarray, reducer: Any, axes: list[int], field: int | None, what: str):
    """``a`` reduced along ``axes`` (length 1 kept); inputs/outputs along ``field``."""
    red = sorted({_axis(a, ax, what) for ax in axes})
    k = 1 if field is None else a.shape[field]
    if field is None and (reducer.n_inputs != 1 or len(reducer.outputs) != 1):
        raise EEError(
            f"{what}: {reducer.name} has {reducer.n_inputs} inputs and "
            f"{len(reducer.outputs)} outputs; give fieldAxis."
        )
    if field is not None and (field in red or k != reducer.n_inputs):
        raise EEError(
            f"{what}: fieldAxis {field} must not be reduced and must have length "
            f"{reducer.n_inputs} (the reducer's inputs)."
        )
    other = [i for i in range(a.ndim) if i not in red and i != field]
    order = red + other + ([field] if field is not None else [])
    v = np.transpose(a.astype(float), order)
    n_rec = int(np.prod([a.shape[i] for i in red])) if red else 1
    v = v.reshape(n_rec, -1, k)
    p = v.shape[1]
    acc = reducer.accumulator(p, "pixels")
    ones = np.ones((n_rec, p), dtype=bool)
    xs = [np.ascontiguousarray(v[..., j]) for j in range(k)]
    acc.add(Batch(xs, [ones] * k, ones.astype(float), ones, np.arange(n_rec, dtype=np.int64)))
    cols = [np.asarray(c, dtype=float) for c in acc.result()]
    n_out = len(cols)
    res = np.stack(cols, axis=-1).reshape(*[a.shape[i] for i in other], n_out)
    out_shape = [1] * a.ndim
    for i in other:
        out_shape[i] = a.shape[i]
    src = list(other)
    if field is not None:
        out_shape[field] = n_out
        src.append(field)
    else:
        res = res[..., 0]
    dest = sorted(src)
    res = np.moveaxis(res, list(range(len(src))), [dest.index(x) for x in src])
    return res.reshape(out_shape)


@algorithm("Array.reduce")
def reduce(array: Any, reducer: Any, axes: list, fieldAxis: Any = None) -> Any:  # noqa: N803
    """The reducer applied along ``axes`` (see the module docstring)."""
    what = "Array.reduce"
    a = as_array(array, what)
    r = as_reducer(reducer, what)
    field = None if fieldAxis is None else _axis(a, fieldAxis, what)
    return array_value(_reduce(a, r, axes, field, what))


@algorithm("Array.accum")
def accum(array: Any, axis: int, reducer: Any = None) -> Any:
    """The running reduction (default: sum) along ``axis``."""
    what = "Array.accum"
    a = as_array(array, what)
    ax = _axis(a, axis, what)
    r = registry.call("Reducer.sum", {}) if reducer is None else as_reducer(reducer, what)
    if r.n_inputs != 1 or len(r.outputs) != 1:
        raise EEError(f"{what}: the reducer must have one input and one output.")
    parts = [
        _reduce(np.take(a, range(i + 1), axis=ax), r, [ax], None, what) for i in range(a.shape[ax])
    ]
    out = np.concatenate(parts, axis=ax) if parts else a.astype(float)
    if a.dtype.kind in "iu" and np.all(out == np.round(out)):
        out = out.astype(np.int64)
    return array_value(out)


@algorithm("Array.sort")
def sort(array: Any, keys: Any = None) -> Any:
    """The array sorted (ascending, stable) along one axis by its values or by ``keys``."""
    what = "Array.sort"
    a = as_array(array, what)
    k = a if keys is None else as_array(keys, what, "keys")
    if keys is None and a.ndim != 1:
        raise EEError(f"{what}: Arrays with more than one dimension need sort keys.")
    if k.ndim != a.ndim:
        raise EEError(f"{what}: The keys must have as many dimensions as the array.")
    long_axes = [i for i, n in enumerate(k.shape) if n > 1]
    if len(long_axes) > 1:
        raise EEError(f"{what}: The keys can only have multiple elements along one axis.")
    ax = long_axes[0] if long_axes else 0
    if a.ndim == 0 or k.shape[ax] != a.shape[ax]:
        raise EEError(f"{what}: The keys and the array differ in length along axis {ax}.")
    order = np.broadcast_to(np.argsort(k, axis=ax, kind="stable"), a.shape)
    return array_value(np.take_along_axis(a, order, axis=ax))


@algorithm("Array.argmax")
def argmax(array: Any) -> Any:
    """The position of the first maximum (one index per axis), or null if empty."""
    a = as_array(array, "Array.argmax")
    if a.size == 0:
        return None
    return [int(i) for i in np.unravel_index(int(np.argmax(a)), a.shape)]


@algorithm("Array.mask")
def mask(input: Any, mask: Any) -> Any:  # noqa: A002 (Earth Engine's name)
    """The positions of ``input`` along the mask's axis where the mask is non-zero."""
    what = "Array.mask"
    a = as_array(input, what, "input")
    m = as_array(mask, what, "mask")
    if m.ndim != a.ndim:
        raise EEError(f"{what}: The mask must have as many dimensions as the array.")
    long_axes = [i for i, n in enumerate(m.shape) if n > 1]
    if len(long_axes) > 1:
        raise EEError(f"{what}: The mask can only have multiple elements along one axis.")
    ax = long_axes[0] if long_axes else 0
    if m.shape[ax] != a.shape[ax]:
        raise EEError(f"{what}: The mask and the array differ in length along axis {ax}.")
    keep = np.flatnonzero(m.reshape(-1) != 0) if m.size > 1 else np.arange(a.shape[ax])
    if m.size == 1 and m.reshape(-1)[0] == 0:
        keep = np.arange(0)
    return array_value(np.take(a, keep, axis=ax))


@algorithm("Array.repeat")
def repeat(array: Any, axis: int = 0, copies: int = 2) -> Any:
    """``copies`` copies of the array concatenated along ``axis``."""
    what = "Array.repeat"
    a = as_array(array, what)
    ax = _axis(a, axis, what)
    if copies < 0:
        raise EEError(f"{what}: copies must not be negative, got {copies}.")
    return array_value(np.concatenate([a] * copies, axis=ax) if copies else np.take(a, [], ax))


@algorithm("Array.pad")
def pad(array: Any, lengths: list, pad: Any = 0) -> Any:
    """The array extended to ``lengths`` along each axis with the value ``pad``."""
    what = "Array.pad"
    a = as_array(array, what)
    if len(lengths) != a.ndim:
        raise EEError(f"{what}: Expected {a.ndim} lengths, got {len(lengths)}.")
    widths = [(0, max(0, int(n) - s)) for n, s in zip(lengths, a.shape, strict=True)]
    out = np.pad(a, widths, constant_values=pad)
    if isinstance(pad, float) and not float(pad).is_integer():
        out = np.pad(a.astype(float), widths, constant_values=pad)
    return array_value(out)


@algorithm("Array.cut")
def cut(array: Any, position: list) -> Any:
    """Position ``p`` of each axis (``-1``: the whole axis), each kept with length 1."""
    what = "Array.cut"
    a = as_array(array, what)
    if len(position) != a.ndim:
        raise EEError(f"{what}: Expected {a.ndim} positions, got {len(position)}.")
    index = []
    for p, n in zip(position, a.shape, strict=True):
        p = int(p)
        if p == -1:
            index.append(slice(None))
        elif 0 <= p < n:
            index.append(slice(p, p + 1))
        else:
            raise EEError(f"{what}: Position {p} out of bounds for an axis of length {n}.")
    return array_value(a[tuple(index)])


@algorithm("Array.bitsToArray")
def bits_to_array(input: Any) -> Any:  # noqa: A002 (Earth Engine's name)
    """The bits of an integer, lowest first, up to its highest set bit ([0] for 0)."""
    v = int(input)
    if v < 0:
        raise EEError("Array.bitsToArray: the value must not be negative.")
    return array_value(np.array([(v >> i) & 1 for i in range(max(1, v.bit_length()))]))


@algorithm("Array.matrixFnorm")
def matrix_fnorm(input: Any) -> float:  # noqa: A002 (Earth Engine's name)
    """The Frobenius norm of a matrix."""
    a = as_array(input, "Array.matrixFnorm", "input")
    if a.ndim != 2:
        raise EEError(f"Array.matrixFnorm: the argument must be a 2-D array, got {a.ndim}-D.")
    return float(np.linalg.norm(a.astype(float)))


@algorithm("Array.matrixToDiag")
def matrix_to_diag(input: Any) -> Any:  # noqa: A002 (Earth Engine's name)
    """The square diagonal matrix of a single-column matrix."""
    a = as_array(input, "Array.matrixToDiag", "input")
    if a.ndim != 2 or a.shape[1] != 1:
        raise EEError(f"Array.matrixToDiag: expected a single-column matrix, got {list(a.shape)}.")
    return array_value(np.diag(a[:, 0]))


@algorithm("Array.bitCount")
def bit_count(input: Any) -> Any:  # noqa: A002 (Earth Engine's name)
    """The number of one-bits of each element's 64-bit two's complement."""
    a = as_array(input, "Array.bitCount", "input").astype(np.int64)
    u = a.view(np.uint64)
    return array_value(np.array([bin(int(v)).count("1") for v in u.reshape(-1)]).reshape(a.shape))


@algorithm("Array.trigamma")
def trigamma(input: Any) -> Any:  # noqa: A002 (Earth Engine's name)
    """The trigamma function of each element."""
    from scipy import special

    return array_value(special.polygamma(1, as_array(input, "Array.trigamma", "input")))


@algorithm("Array.gammainc")
def gammainc(left: Any, right: Any) -> Any:
    """The regularized lower incomplete gamma function element by element, with the arguments
    in the order ``Number.gammainc`` takes them (``scipy.special.gammainc(left, right)``)."""
    from scipy import special

    a = as_array(left, "Array.gammainc", "left").astype(float)
    x = as_array(right, "Array.gammainc", "right").astype(float)
    return array_value(special.gammainc(a, x))
