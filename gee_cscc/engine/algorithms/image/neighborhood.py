"""``Image.*`` neighbourhood operations: ``convolve``, ``reduceNeighborhood`` and the
morphological ``focalMax/Min/Mean/Median/Mode`` (and their snake_case aliases), and the
windowed ``entropy``.

How a tile is computed: the output band, asked for a grid, computes its input on that grid
grown by the kernel's extent on each side (the halo), so tiles of any size give the same
pixels as the whole grid. The kernel is laid on the grid being computed (in its pixels, or
in metres through the grid's nominal scale), as Earth Engine applies a kernel in the
output's projection. Weights are applied without flipping: weight ``[i][j]`` multiplies the
pixel ``i − y`` rows and ``j − x`` columns from the output pixel (``x``, ``y``: the focus).

Masks, as documented:

* ``reduceNeighborhood``: a neighbour takes part when its weight is non-zero and it is
  unmasked; weighted reducers (``mean``, ``sum`` …) weight it by the kernel value
  (``inputWeight='kernel'``), by 1 (``'mask'``) or by ``min(kernel, 1)`` (``'min'``);
  unweighted ones (``min``, ``max``, ``median``, ``mode``, ``count`` …) take it once. A
  weighted reducer skips neighbours with a negative weight. With ``skipMasked`` (the
  default) the output is masked where the input pixel is masked; it is masked where no
  neighbour takes part. Single-input reducers run per band, named ``<band>_<output>``.
* ``focal*``: ``reduceNeighborhood`` with the named kernel, ``skipMasked=false`` and the
  input band names (so ``focalMax`` grows valid areas into masked ones, as a dilation).
* ``convolve``: the sum of weight × value over the unmasked neighbours (masked ones count
  as 0, weights are not renormalized); masked where no neighbour with a non-zero weight is
  unmasked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core import registry
from ...core.context import check_interrupt
from ...core.records import Batch
from ...core.registry import algorithm
from ...core.values import Band, Image, PixelData, promote
from ...errors import EEError
from ...raster.grid import Grid
from ...raster.reduction import shared_outputs
from ..kernel import Kernel, as_kernel, named_kernel
from ..reducer.tree import as_reducer, for_each

__all__ = ["reduce_neighborhood", "convolve"]

#: The most values one batch of neighbours holds (offsets × pixels × inputs).
_CHUNK = 4_000_000


def _kernel_on(kernel: Kernel, grid: Grid) -> tuple[np.ndarray, int, int]:
    px = grid.projection.nominal_scale if kernel.meters else 1.0
    w, x, y = kernel.weights(px)
    if w.size > 1_000_000:
        raise EEError(f"Kernel too large: {w.shape[1]}x{w.shape[0]} pixels at this scale.")
    return w, x, y


def _halo(band: Band, grid: Grid, w: np.ndarray, x: int, y: int) -> PixelData:
    """The band on ``grid`` grown by the kernel's extent (the halo)."""
    kh, kw = w.shape
    h, wd = grid.shape
    return band.compute(grid.window(-y, -x, h + kh - 1, wd + kw - 1))


def _out_type(dtype: str) -> str:
    return "float32" if dtype == "float32" else "float64"


def _per_window(
    img: Image,
    k: Kernel,
    window: Callable[..., PixelData],
    dtype: Callable[[str], str],
) -> Image:
    """``img`` with each band computed by ``window(values, mask, w, x, y, shape)``: the band
    grown by the kernel's halo, the kernel's weights ``w`` at the grid's scale and centre
    ``x, y``, the grid's ``shape``; the band's type becomes ``dtype(band type)``."""
    bands = []
    for band in img.bands:

        def fn(grid: Grid, _b=band) -> PixelData:
            w, x, y = _kernel_on(k, grid)
            values, mask = _halo(_b, grid, w, x, y)
            return window(values, mask, w, x, y, grid.shape)

        bands.append(band.replace(fn=fn, dtype=dtype(band.dtype)))
    return img.with_bands(bands)


# --- convolve --------------------------------------------------------------------------------


@algorithm("Image.convolve")
def convolve(image: Any, kernel: Any) -> Image:
    what = "Image.convolve"

    def window(values: np.ndarray, mask: np.ndarray, w: np.ndarray, x: int, y: int, shape):
        h, wd = shape
        v = np.where(mask, values, 0.0)
        runs = _runs(w)
        if len(runs) * 2 < np.count_nonzero(w) and _exact_sums(v, w):
            return _convolve_runs(v, mask, runs, shape)
        total = np.zeros(shape)
        any_valid = np.zeros(shape, dtype=bool)
        for (i, j), weight in np.ndenumerate(w):
            if weight == 0:
                continue
            total += weight * v[i : i + h, j : j + wd]
            any_valid |= mask[i : i + h, j : j + wd]
        return np.where(any_valid, total, 0.0), any_valid

    return _per_window(
        _image(image, what),
        as_kernel(kernel, what),
        window,
        lambda dtype: _out_type(promote(dtype, "float32")),
    )


# --- reduceNeighborhood ----------------------------------------------------------------------


def _runs(w: np.ndarray) -> list[tuple[int, int, int, float]]:
    """The kernel as runs ``(row, first column, last column, weight)`` of equal non-zero
    weights along its rows."""
    runs = []
    for i, row in enumerate(w):
        j = 0
        while j < row.size:
            if row[j] == 0:
                j += 1
                continue
            k = j
            while k + 1 < row.size and row[k + 1] == row[j]:
                k += 1
            runs.append((i, j, k, float(row[j])))
            j = k + 1
    return runs


def _exact_sums(v: np.ndarray, w: np.ndarray) -> bool:
    """Whether every partial sum of weights × values along a row is an exact float64
    integer (integral weights and values, small enough): then any order of summing gives
    the same result."""
    if not (np.array_equal(w, np.trunc(w)) and np.array_equal(v, np.trunc(v))):
        return False
    bound = float(np.abs(v).max(initial=0.0)) * v.shape[1] * float(np.abs(w).max(initial=0.0))
    return bound * w.shape[0] < 2.0**52


def _convolve_runs(v: np.ndarray, mask: np.ndarray, runs: list, shape: tuple[int, int]):
    """:func:`convolve` by running sums along rows: each run of equal weights costs one
    difference of prefix sums instead of one pass per weight. Used for integer-valued
    data only, whose prefix sums are exact in float64, so the result is the same."""
    h, wd = shape
    zero = np.zeros((v.shape[0], 1))
    sums = np.concatenate([zero, np.cumsum(v, axis=1)], axis=1)
    counts = np.concatenate([zero, np.cumsum(mask, axis=1, dtype=np.float64)], axis=1)
    total = np.zeros(shape)
    valid = np.zeros(shape)
    for i, j0, j1, weight in runs:
        total += weight * (sums[i : i + h, j1 + 1 : j1 + 1 + wd] - sums[i : i + h, j0 : j0 + wd])
        valid += counts[i : i + h, j1 + 1 : j1 + 1 + wd] - counts[i : i + h, j0 : j0 + wd]
    any_valid = valid > 0
    return np.where(any_valid, total, 0.0), any_valid


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def reduce_neighborhood(
    img: Image,
    reducer: Any,
    kernel: Kernel,
    *,
    input_weight: str = "kernel",
    skip_masked: bool = True,
    keep_names: bool = False,
    what: str = "Image.reduceNeighborhood",
) -> Image:
    """The neighbourhood reduction of every band (see the module docstring)."""
    if input_weight not in ("kernel", "mask", "min"):
        raise EEError(f"{what}: inputWeight must be one of 'mask', 'kernel' or 'min'.")
    n = len(img.bands)
    if reducer.n_inputs == 1:
        bound = for_each(reducer, img.band_names, always_prefix=not keep_names, name=reducer.name)
    elif reducer.n_inputs == n:
        bound = reducer
    else:
        raise EEError(
            f"{what}: {reducer.name} has {reducer.n_inputs} inputs, but the image has {n} bands."
        )
    if not all(bound.scalar_outputs):
        raise EEError(
            f"{what}: {reducer.name} gives arrays or lists; array-valued pixels are not "
            "supported by the local engine."
        )
    inputs = list(img.bands)
    per_band = len(reducer.outputs) if reducer.n_inputs == 1 else len(bound.outputs)

    def source(k: int) -> int | None:
        """The input band of output ``k`` (None: all bands, a multi-input reducer)."""
        return k // per_band if reducer.n_inputs == 1 else None

    def compute(grid: Grid) -> list[PixelData]:
        w, x, y = _kernel_on(kernel, grid)
        data = [_halo(b, grid, w, x, y) for b in inputs]
        h, wd = grid.shape
        p = h * wd
        offsets = [(i, j, float(v)) for (i, j), v in np.ndenumerate(w) if v != 0]
        acc = bound.accumulator(p, "pixels")
        step = max(1, _CHUNK // max(1, p * len(inputs)))
        for s in range(0, len(offsets), step):
            check_interrupt()
            part = offsets[s : s + step]
            xs = [
                np.stack([v[i : i + h, j : j + wd].reshape(-1) for i, j, _ in part])
                for v, _ in data
            ]
            vs = [
                np.stack([m[i : i + h, j : j + wd].reshape(-1) for i, j, _ in part])
                for _, m in data
            ]
            kw = np.array([wt for _, _, wt in part])
            if input_weight == "mask":
                kw = np.ones_like(kw)
            elif input_weight == "min":
                kw = np.minimum(kw, 1.0)
            frac = np.broadcast_to(kw[:, None], (len(part), p))
            centre = np.broadcast_to(True, (len(part), p))
            order = np.arange(s, s + len(part), dtype=np.int64)
            acc.add(Batch(xs, vs, frac, centre, order))
        out = []
        masks = [m[y : y + h, x : x + wd] for _, m in data]
        for k, col in enumerate(acc.result()):
            vals = np.asarray(col, dtype=float).reshape(h, wd)
            valid = ~np.isnan(vals)
            if skip_masked:
                src = source(k)
                valid &= masks[src] if src is not None else np.logical_and.reduce(masks)
            out.append((np.where(valid, vals, 0.0), valid))
        return out

    output = shared_outputs(compute)

    types = bound.output_dtypes([b.dtype for b in inputs])
    bands = []
    for k, (name, t) in enumerate(zip(bound.outputs, types, strict=True)):
        src = inputs[source(k) or 0]
        bands.append(Band(name, output(k), dtype=t, projection=src.projection, extent=src.extent))
    return Image(bands, dict(img.properties))


@algorithm("Image.reduceNeighborhood")
def reduce_neighborhood_algo(
    image: Any,
    reducer: Any,
    kernel: Any,
    inputWeight: Any = "kernel",  # noqa: N803
    skipMasked: Any = True,  # noqa: N803
    optimization: Any = None,
) -> Image:
    what = "Image.reduceNeighborhood"
    if optimization not in (None, "boxcar", "window"):
        raise EEError(f"{what}: optimization must be 'boxcar' or 'window', got '{optimization}'.")
    return reduce_neighborhood(
        _image(image, what),
        as_reducer(reducer, what),
        as_kernel(kernel, what),
        input_weight=inputWeight,
        skip_masked=skipMasked,
        what=what,
    )


# --- focal operations ------------------------------------------------------------------------

_KERNEL_TYPES = ("circle", "square", "cross", "plus", "octagon", "diamond")


def _focal(
    algo: str,
    reducer_name: str,
    image: Any,
    radius: Any,
    kernelType: Any,  # noqa: N803
    units: Any,
    iterations: Any,
    kernel: Any,
) -> Image:
    img = _image(image, algo)
    if kernel is not None:
        k = as_kernel(kernel, algo)
    else:
        kt = "circle" if kernelType is None else str(kernelType)
        if kt not in _KERNEL_TYPES:
            raise EEError(
                f"{algo}: Unknown kernelType '{kt}'; expected one of {', '.join(_KERNEL_TYPES)}."
            )
        r = 1.5 if radius is None else float(radius)
        k = named_kernel(kt, r, units or "pixels", True, 1.0)
    n = 1 if iterations is None else int(iterations)
    if n < 1 or not math.isfinite(n):
        raise EEError(f"{algo}: iterations must be at least 1.")
    reducer = registry.call(reducer_name, {})
    out = img
    for _ in range(n):
        out = reduce_neighborhood(
            out, reducer, k, input_weight="kernel", skip_masked=False, keep_names=True, what=algo
        )
    if reducer_name in ("Reducer.max", "Reducer.min", "Reducer.mode"):
        out = out.with_bands(
            [b.replace(dtype=s.dtype) for b, s in zip(out.bands, img.bands, strict=True)]
        )
    return out


_FOCAL = {
    "Max": "Reducer.max",
    "Min": "Reducer.min",
    "Mean": "Reducer.mean",
    "Median": "Reducer.median",
    "Mode": "Reducer.mode",
}


def _register_focal(suffix: str, reducer_name: str) -> None:
    names = (f"Image.focal{suffix}", f"Image.focal_{suffix.lower()}")

    @algorithm(*names)
    def impl(
        image: Any,
        radius: Any = 1.5,
        kernelType: Any = "circle",  # noqa: N803
        units: Any = "pixels",
        iterations: Any = 1,
        kernel: Any = None,
    ) -> Image:
        return _focal(names[0], reducer_name, image, radius, kernelType, units, iterations, kernel)


for _suffix, _reducer in _FOCAL.items():
    _register_focal(_suffix, _reducer)


# --- entropy -----------------------------------------------------------------------------------


def _window_entropy(values: np.ndarray) -> np.ndarray:
    """``-Σ p·log2 p`` per column of ``(N, P)`` values (NaN = not in the window)."""
    n_rec, p = values.shape
    s = np.sort(values, axis=0)  # NaN last
    valid = ~np.isnan(s)
    starts = valid.copy()
    starts[1:] &= s[1:] != s[:-1]
    run = np.cumsum(starts, axis=0) - 1  # the run (distinct value) of each record
    cols = np.broadcast_to(np.arange(p), (n_rec, p))
    counts = np.zeros((n_rec, p))
    np.add.at(counts, (run[valid], cols[valid]), 1.0)
    n = valid.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = counts / np.where(n > 0, n, 1.0)
        terms = np.where(prob > 0, prob * np.log2(np.where(prob > 0, prob, 1.0)), 0.0)
    h = -terms.sum(axis=0)
    return np.where(n > 0, h + 0.0, np.nan)


@algorithm("Image.entropy")
def entropy(image: Any, kernel: Any) -> Image:
    """The entropy ``-Σ p·log2 p`` of the values in each window (the kernel's non-zero
    cells), ``p`` the share of the window's unmasked pixels holding each distinct value;
    masked where the input pixel is masked (as ``reduceNeighborhood`` by default)."""
    what = "Image.entropy"

    def window(values: np.ndarray, mask: np.ndarray, w: np.ndarray, x: int, y: int, shape):
        h, wd = shape
        v = np.where(mask, values, np.nan)
        out = np.full(h * wd, np.nan)
        cells = [(i, j) for (i, j), wt in np.ndenumerate(w) if wt != 0]
        rows = max(1, _CHUNK // max(1, len(cells) * wd))
        for r0 in range(0, h, rows):
            check_interrupt()
            r1 = min(h, r0 + rows)
            stack = np.stack([v[i + r0 : i + r1, j : j + wd].reshape(-1) for i, j in cells])
            out[r0 * wd : r1 * wd] = _window_entropy(stack)
        result = out.reshape(h, wd)
        valid = ~np.isnan(result) & mask[y : y + h, x : x + wd]
        return np.where(valid, result, 0.0), valid

    return _per_window(
        _image(image, what), as_kernel(kernel, what), window, lambda dtype: "float64"
    )
