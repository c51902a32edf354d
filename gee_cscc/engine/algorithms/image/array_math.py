"""Matrix algebra and reductions on array images: ``Image.matrixMultiply``,
``Image.matrixSolve``, ``Image.arrayReduce``, and per-pixel collection reductions whose outputs
are arrays (``ImageCollection.reduce`` with ``Reducer.linearRegression``).

Array bands are :class:`~.arrays.ArrayBand` (one fixed array shape per band).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...core import registry
from ...core.records import Batch
from ...core.registry import algorithm
from ...core.values import Band, Image, PixelData, promote
from ...errors import EEError
from ...raster.grid import Grid
from ..reducer.tree import as_reducer
from .arrays import (
    ArrayBand,
    array_bands,
    is_ragged,
    lengths_of,
    like_band,
    pairwise,
    pixels,
    refuse_ragged,
)

__all__ = ["array_composite"]


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def _axis(b: ArrayBand, axis: Any, what: str) -> int:
    ax = int(axis)
    if not -len(b.shape) <= ax < len(b.shape):
        raise EEError(f"{what}: Axis {ax} out of bounds for {len(b.shape)}-D arrays.")
    return ax % len(b.shape)


# --- matrices ----------------------------------------------------------------------------------


def _matrix_pair(image1: Any, image2: Any, what: str) -> list[tuple[ArrayBand, ArrayBand]]:
    left, right = array_bands(image1, what), array_bands(image2, what)
    if len(right) == 1:
        right = right * len(left)
    if len(left) == 1:
        left = left * len(right)
    if len(left) != len(right):
        raise EEError(f"{what}: Images must have the same number of bands, or one band.")
    for a, b in zip(left, right, strict=True):
        if len(a.shape) != 2 or len(b.shape) not in (1, 2):
            raise EEError(f"{what}: Arguments must be 2-D arrays (matrices).")
    return list(zip(left, right, strict=True))


@algorithm("Image.matrixMultiply")
def matrix_multiply(image1: Any, image2: Any) -> Image:
    """The per-pixel matrix product ``image1 · image2``."""
    what = "Image.matrixMultiply"
    out = []
    for a, b in _matrix_pair(image1, image2, what):
        if a.shape[1] != b.shape[0] or len(b.shape) != 2:
            raise EEError(f"{what}: Incompatible dimensions {list(a.shape)} and {list(b.shape)}.")
        refuse_ragged(b, what, " (as the right matrix)")

        fn = pairwise(a, b, np.matmul)
        shape = (a.shape[0], b.shape[1])
        out.append(like_band(a, a.name, fn, shape, promote(a.dtype, b.dtype), lengths=a.lengths))
    return _image(image1, what).with_bands(out)


@algorithm("Image.matrixSolve")
def matrix_solve(image1: Any, image2: Any) -> Image:
    """The per-pixel least-squares solution ``x`` of ``image1 · x = image2`` (pseudo-inverse)."""
    what = "Image.matrixSolve"
    out = []
    for a, b in _matrix_pair(image1, image2, what):
        if a.shape[0] != b.shape[0]:
            raise EEError(f"{what}: Incompatible dimensions {list(a.shape)} and {list(b.shape)}.")
        shape = (a.shape[1], *b.shape[1:])

        def fn(grid: Grid, _a=a, _b=b) -> PixelData:
            va, ma = pixels(_a, grid)
            vb, mb = pixels(_b, grid)
            ok = ma & mb
            # rows beyond a pixel's length (ragged arrays) are zero: they add nothing to the
            # least-squares system
            na, nb = lengths_of(_a, grid), lengths_of(_b, grid)
            if np.any(ok & (na != nb)):
                raise EEError(f"{what}: The two arrays have different numbers of rows.")
            rows = np.arange(va.shape[2]) < na[..., None]
            va = np.where((ok[..., None] & rows)[..., None], va, 0.0)
            vb = np.where((ok[..., None] & rows).reshape(rows.shape + (1,) * (vb.ndim - 3)), vb, 0)
            x = np.matmul(np.linalg.pinv(va), vb)
            return x, ok

        out.append(like_band(a, a.name, fn, shape, "float64"))
    return _image(image1, what).with_bands(out)


# --- reductions ----------------------------------------------------------------------------------


@algorithm("Image.arrayReduce")
def array_reduce(input: Any, reducer: Any, axes: list, fieldAxis: Any = None) -> Image:  # noqa: A002, N803
    """Each band's arrays reduced along ``axes`` (kept with length 1). With ``fieldAxis``,
    the reducer's inputs are taken from, and its outputs laid along, that axis."""
    what = "Image.arrayReduce"
    r = as_reducer(reducer, what)
    out = []
    for b in array_bands(input, what):
        red = sorted({_axis(b, a, what) for a in axes})
        fa = None if fieldAxis is None else _axis(b, fieldAxis, what)
        if fa is None and (r.n_inputs != 1 or len(r.outputs) != 1):
            raise EEError(
                f"{what}: {r.name} has {r.n_inputs} inputs and {len(r.outputs)} outputs; "
                "give fieldAxis."
            )
        if fa is not None and (fa in red or b.shape[fa] != r.n_inputs):
            raise EEError(
                f"{what}: fieldAxis {fa} must not be reduced and must have length "
                f"{r.n_inputs} (the reducer's inputs)."
            )
        if not all(r.scalar_outputs):
            raise EEError(f"{what}: {r.name} gives arrays; not implemented by the local engine.")
        if fa == 0:
            refuse_ragged(b, what, " (as the field axis)")
        shape = list(b.shape)
        for ax in red:
            shape[ax] = 1
        if fa is not None:
            shape[fa] = len(r.outputs)
        lengths = b.lengths if 0 not in red else None
        fn = _reduce_fn(b, r, red, fa)
        out.append(like_band(b, b.name, fn, tuple(shape), "float64", lengths=lengths))
    return _image(input, what).with_bands(out)


def _reduce_fn(b: ArrayBand, r: Any, red: list[int], fa: int | None) -> Callable:
    """The pixel function of ``arrayReduce``: records along the ``red`` axes, the reducer's
    inputs along ``fa`` (if given), one reduction per pixel and per kept position."""
    nd = len(b.shape)
    other = [i for i in range(nd) if i not in red and i != fa]
    k = 1 if fa is None else b.shape[fa]
    n_rec = int(np.prod([b.shape[i] for i in red])) if red else 1
    n_out = len(r.outputs)

    def fn(grid: Grid) -> PixelData:
        values, mask = pixels(b, grid)
        h, w = grid.shape
        # (reduced axes..., h, w, kept axes..., field) → (records, columns, field)
        order = [2 + i for i in red] + [0, 1] + [2 + i for i in other]
        order += [2 + fa] if fa is not None else []
        v = np.transpose(values, order)
        if fa is None:
            v = v[..., None]
        v = v.reshape(n_rec, -1, k)
        p = v.shape[1]
        per_pixel = p // (h * w)
        m = np.broadcast_to(np.repeat(mask.reshape(-1), per_pixel)[None, :], (n_rec, p))
        if 0 in red and is_ragged(b):  # records beyond a pixel's length are not records
            row = np.arange(n_rec) // (n_rec // b.shape[0])
            n = np.repeat(lengths_of(b, grid).reshape(-1), per_pixel)
            m = m & (row[:, None] < n[None, :])
        xs = [np.ascontiguousarray(v[..., j]) for j in range(k)]
        acc = r.accumulator(p, "pixels")
        ones = np.broadcast_to(1.0, (n_rec, p))
        acc.add(Batch(xs, [m] * k, ones, np.broadcast_to(True, (n_rec, p)),
                      np.arange(n_rec, dtype=np.int64)))  # fmt: skip
        res = np.stack([np.asarray(c, dtype=float) for c in acc.result()], axis=-1)
        kept = [b.shape[i] for i in other]
        res = res.reshape(h, w, *kept, n_out)  # axes: h, w, other..., field
        # Put the kept axes and the field axis back in place, reduced axes with length 1.
        out_shape = [1] * nd
        for i in other:
            out_shape[i] = b.shape[i]
        if fa is not None:
            out_shape[fa] = n_out
            src = other + [fa]
        else:
            res = res[..., 0]
            src = other
        dest_order = sorted(src)
        res = np.moveaxis(res, [2 + j for j in range(len(src))],
                          [2 + dest_order.index(a) for a in src])  # fmt: skip
        res = res.reshape(h, w, *out_shape)
        bad = np.isnan(res).reshape(h, w, -1).any(axis=-1)
        return np.nan_to_num(res), mask & ~bad

    return fn


def array_composite(reducer: Any, records: Sequence[Sequence[Band | None]]) -> Image:
    """A per-pixel collection reduction whose outputs may be arrays (``linearRegression``):
    array outputs become array bands, masked where the reducer gives null."""
    from ...raster.reduction import shared_outputs

    def compute(grid: Grid) -> list[PixelData]:
        h, w = grid.shape
        p, n_rec, k = h * w, len(records), reducer.n_inputs
        xs = [np.zeros((n_rec, p)) for _ in range(k)]
        vs = [np.zeros((n_rec, p), dtype=bool) for _ in range(k)]
        for t, record in enumerate(records):
            for i, band in enumerate(record):
                if band is not None:
                    values, mask = pixels(band, grid)
                    xs[i][t], vs[i][t] = values.reshape(-1), mask.reshape(-1)
        acc = reducer.accumulator(p, "pixels")
        acc.add(Batch(xs, vs, np.broadcast_to(1.0, (n_rec, p)),
                      np.broadcast_to(True, (n_rec, p)), np.arange(n_rec, dtype=np.int64)))  # fmt: skip
        out = []
        for col, shape in zip(acc.result(), shapes, strict=True):
            vals = np.zeros((p, *shape))
            ok = np.zeros(p, dtype=bool)
            for q, x in enumerate(col):
                if x is not None and not (np.isscalar(x) and np.isnan(x)):
                    vals[q] = np.asarray(x, dtype=float).reshape(shape)
                    ok[q] = True
            out.append((vals.reshape(h, w, *shape), ok.reshape(h, w)))
        return out

    shapes = _output_shapes(reducer)
    output = shared_outputs(compute)
    bands: list[Band] = []
    for i, (name, shape) in enumerate(zip(reducer.outputs, shapes, strict=True)):
        fn = output(i)
        bands.append(ArrayBand(name, fn, shape=shape) if shape else Band(name, fn))
    return Image(bands, {})


def _output_shapes(reducer: Any) -> list[tuple[int, ...]]:
    params = getattr(reducer, "params", {})
    if reducer.name == "Reducer.linearRegression":
        return [(params["numX"], params["numY"]), (params["numY"],)]
    if all(reducer.scalar_outputs):
        return [()] * len(reducer.outputs)
    raise EEError(
        f"{reducer.name}: list or dictionary outputs per pixel are not implemented by the "
        "local engine."
    )


# --- per-pixel matrix functions ----------------------------------------------------------------


_MATRIX_FUNCTIONS = {
    # name: (function of a (p, n, m) stack, output shape from the input shape, scalar output)
    "Image.matrixInverse": (np.linalg.inv, lambda s: s, True),
    "Image.matrixPseudoInverse": (np.linalg.pinv, lambda s: (s[1], s[0]), False),
    "Image.matrixDeterminant": (np.linalg.det, lambda s: (), True),
    "Image.matrixTrace": (lambda a: np.trace(a, axis1=1, axis2=2), lambda s: (), True),
    "Image.matrixDiagonal": (
        lambda a: np.diagonal(a, axis1=1, axis2=2)[..., None],
        lambda s: (min(s), 1),
        False,
    ),
    "Image.matrixFnorm": (lambda a: np.sqrt((a**2).sum(axis=(1, 2))), lambda s: (), False),
}


def _register_matrix_function(name: str) -> None:
    fn_of, shape_of, square = _MATRIX_FUNCTIONS[name]

    @algorithm(name)
    def impl(value: Any) -> Image:
        out = []
        for b in array_bands(value, name):
            refuse_ragged(b, name)
            if len(b.shape) != 2 or (square and b.shape[0] != b.shape[1]):
                kind = "square 2-D" if square else "2-D"
                raise EEError(f"{name}: Band '{b.name}' must hold {kind} arrays (matrices).")

            def fn(grid: Grid, _b=b) -> PixelData:
                v, m = pixels(_b, grid)
                stack = np.where(m[..., None, None], v, 0.0).reshape(-1, *_b.shape)
                if name == "Image.matrixInverse":  # singular matrices are masked
                    ok = np.abs(np.linalg.det(stack)) > 0
                    stack = np.where(ok[:, None, None], stack, np.eye(_b.shape[0]))
                    res = fn_of(stack)
                    return res.reshape(*grid.shape, *_b.shape), m & ok.reshape(grid.shape)
                res = fn_of(stack)
                return res.reshape(*grid.shape, *shape_of(_b.shape)), m

            out.append(like_band(b, b.name, fn, shape_of(b.shape), "float64"))
        return _image(value, name).with_bands(out)


for _name in _MATRIX_FUNCTIONS:
    _register_matrix_function(_name)


@algorithm("Image.matrixToDiag")
def matrix_to_diag(value: Any) -> Image:
    """The square diagonal matrix of each single-column matrix."""
    what = "Image.matrixToDiag"
    out = []
    for b in array_bands(value, what):
        refuse_ragged(b, what)
        if len(b.shape) != 2 or b.shape[1] != 1:
            raise EEError(f"{what}: Band '{b.name}' must hold single-column matrices.")
        n = b.shape[0]

        def fn(grid: Grid, _b=b, _n=n) -> PixelData:
            v, m = pixels(_b, grid)
            return v[..., 0][..., :, None] * np.eye(_n), m

        out.append(like_band(b, b.name, fn, (n, n), b.dtype))
    return _image(value, what).with_bands(out)


@algorithm("Image.matrixIdentity")
def matrix_identity(size: int) -> Image:
    """An image whose every pixel is the ``size`` × ``size`` identity matrix."""
    eye = np.eye(size)

    def fn(grid: Grid) -> PixelData:
        return np.broadcast_to(eye, (*grid.shape, size, size)), np.broadcast_to(True, grid.shape)

    return Image([ArrayBand("identity", fn, shape=(size, size), dtype="int32")])


@algorithm("Image.arrayAccum")
def array_accum(input: Any, axis: int, reducer: Any = None) -> Image:  # noqa: A002
    """Each element becomes the reduction (default: sum) of the elements along ``axis`` up to
    and including it."""
    what = "Image.arrayAccum"
    r = registry.call("Reducer.sum", {}) if reducer is None else as_reducer(reducer, what)
    if r.n_inputs != 1 or len(r.outputs) != 1:
        raise EEError(f"{what}: the reducer must have one input and one output.")
    out = []
    for b in array_bands(input, what):
        ax = _axis(b, axis, what)
        if ax != 0:
            refuse_ragged(b, what, " (accumulated along another axis)")
        n = b.shape[ax]
        parts = []
        for i in range(n):  # the prefix 0..i reduced along the axis
            prefix = _prefix_band(b, ax, i + 1)
            parts.append(_reduce_fn(prefix, r, [ax], None))

        def fn(grid: Grid, _parts=parts, _ax=ax) -> PixelData:
            results = [p(grid) for p in _parts]
            values = np.concatenate([v for v, _ in results], axis=2 + _ax)
            return values, results[0][1] | np.logical_or.reduce([m for _, m in results])

        out.append(like_band(b, b.name, fn, b.shape, "float64", lengths=b.lengths))
    return _image(input, what).with_bands(out)


def _prefix_band(b: ArrayBand, ax: int, k: int) -> ArrayBand:
    """The first ``k`` positions of ``b`` along ``ax`` (padding beyond a ragged length stays)."""

    def fn(grid: Grid) -> PixelData:
        v, m = pixels(b, grid)
        return np.take(v, range(k), axis=2 + ax), m

    shape = list(b.shape)
    shape[ax] = k
    lengths = None
    if is_ragged(b):

        def lengths(grid: Grid) -> np.ndarray:
            return np.minimum(lengths_of(b, grid), k)

    return ArrayBand(b.name, fn, shape=shape, dtype=b.dtype, lengths=lengths)
