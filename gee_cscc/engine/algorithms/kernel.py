"""``Kernel.*`` algorithms: the weights of neighbourhood operations.

A :class:`Kernel` is a 2-D array of weights with a focus pixel (``x`` from the left, ``y``
from the top). Shapes follow the examples of Earth Engine's API reference (radius 3 in
pixels): a kernel of radius ``r`` is ``2⌊r⌋+1`` pixels a side; ``square``/``rectangle`` are
all ones; ``circle`` keeps the offsets at Euclidean distance ≤ r; ``plus`` the focus row and
column; ``cross`` the two diagonals; ``diamond`` the offsets at Manhattan distance ≤ r;
``octagon`` the offsets with ``|dx|+|dy| ≤ ⌊1.5·r⌋``; ``euclidean``/``manhattan``/
``chebyshev`` the distance of each offset (no cut-off); ``gaussian`` ``exp(−d²/2σ²)``.
``normalize`` makes the weights sum to 1 (to 0 when some are negative: positive ones to
1, negative ones to −1, as the guide "Convolutions" says); then ``magnitude`` multiplies.

A kernel in ``meters`` is sized when it is applied: its radius (and ``sigma``) is divided
by the nominal pixel size of the grid being computed, so it resizes with the scale, as the
reference says.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.registry import algorithm
from ..errors import EEError

__all__ = ["Kernel", "as_kernel", "named_kernel"]

Weights = tuple[np.ndarray, int, int]  # (weights (h, w), focus x, focus y)


class Kernel:
    """Kernel weights, possibly sized by the pixel size (``units='meters'``)."""

    ee_type = "Kernel"

    def __init__(self, build: Callable[[float], Weights], description: dict, meters: bool) -> None:
        self._build = build
        self.description = description
        self.meters = meters

    def weights(self, pixel_size_m: float = 1.0) -> Weights:
        """``(weights, x, y)`` for a grid whose pixels are ``pixel_size_m`` metres."""
        return self._build(pixel_size_m)

    def info(self) -> dict:
        out = {"type": "Kernel", **self.description}
        if not self.meters:
            w, x, y = self.weights()
            out.update(
                {"width": w.shape[1], "height": w.shape[0], "x": x, "y": y, "weights": w.tolist()}
            )
        return out


def as_kernel(value: Any, what: str) -> Kernel:
    if not isinstance(value, Kernel):
        raise EEError(f"{what}: expected a Kernel, got {type(value).__name__}.")
    return value


def _finish(w: np.ndarray, normalize: bool, magnitude: float) -> np.ndarray:
    """Normalized weights sum to 1; with negative weights, as the guide "Convolutions"
    says, they sum to 0 (the positive ones to 1, the negative ones to −1). Then
    ``magnitude`` multiplies them."""
    w = np.asarray(w, dtype=float)
    if normalize:
        pos, neg = w[w > 0].sum(), -w[w < 0].sum()
        if neg > 0:
            w = np.where(w > 0, w / (pos or 1.0), w / neg)
        elif pos > 0:
            w = w / pos
    return w * float(magnitude)


def _offsets(rx: float, ry: float) -> tuple[np.ndarray, np.ndarray]:
    nx, ny = int(math.floor(rx)), int(math.floor(ry))
    dy, dx = np.mgrid[-ny : ny + 1, -nx : nx + 1]
    return dx.astype(float), dy.astype(float)


_SHAPES: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "square": lambda dx, dy, r: np.ones_like(dx),
    "circle": lambda dx, dy, r: (np.hypot(dx, dy) <= r + 1e-9).astype(float),
    "plus": lambda dx, dy, r: ((dx == 0) | (dy == 0)).astype(float),
    "cross": lambda dx, dy, r: (np.abs(dx) == np.abs(dy)).astype(float),
    "diamond": lambda dx, dy, r: (np.abs(dx) + np.abs(dy) <= r + 1e-9).astype(float),
    "octagon": lambda dx, dy, r: (np.abs(dx) + np.abs(dy) <= math.floor(1.5 * r)).astype(float),
    "euclidean": lambda dx, dy, r: np.hypot(dx, dy),
    "manhattan": lambda dx, dy, r: np.abs(dx) + np.abs(dy),
    "chebyshev": lambda dx, dy, r: np.maximum(np.abs(dx), np.abs(dy)),
}


def _units(units: str | None, what: str) -> bool:
    u = "pixels" if units is None else units
    if u not in ("pixels", "meters"):
        raise EEError(f"{what}: units must be 'pixels' or 'meters', got '{u}'.")
    return u == "meters"


def _in_pixels(value: float, meters: bool, pixel_size_m: float) -> float:
    return value / pixel_size_m if meters else value


def named_kernel(
    shape: str,
    radius: float,
    units: Any = "pixels",
    normalize: bool = True,
    magnitude: float = 1.0,
    *,
    y_radius: float | None = None,
) -> Kernel:
    """A shaped kernel (``square``, ``circle`` … or ``rectangle`` with ``y_radius``)."""
    what = f"Kernel.{shape}"
    meters = _units(units, what)
    if radius is None or radius < 0 or (y_radius is not None and y_radius < 0):
        raise EEError(f"{what}: radius must be a non-negative number.")
    fn = _SHAPES["square" if shape == "rectangle" else shape]

    def build(px: float) -> Weights:
        r = _in_pixels(float(radius), meters, px)
        ry = r if y_radius is None else _in_pixels(float(y_radius), meters, px)
        dx, dy = _offsets(r, ry)
        w = _finish(fn(dx, dy, r), normalize, magnitude)
        return w, w.shape[1] // 2, w.shape[0] // 2

    desc = {"name": what, "radius": radius, "units": "meters" if meters else "pixels"}
    return Kernel(build, desc, meters)


def _register_shape(shape: str, default_normalize: bool) -> None:
    @algorithm(f"Kernel.{shape}")
    def impl(
        radius: float,
        units: Any = "pixels",
        normalize: Any = default_normalize,
        magnitude: Any = 1.0,
    ) -> Kernel:
        return named_kernel(shape, radius, units, normalize, float(magnitude))


for _shape in ("square", "circle", "plus", "cross", "diamond", "octagon"):
    _register_shape(_shape, True)
for _shape in ("euclidean", "manhattan", "chebyshev"):
    _register_shape(_shape, False)


@algorithm("Kernel.rectangle")
def rectangle(
    xRadius: float,  # noqa: N803
    yRadius: float,  # noqa: N803
    units: Any = "pixels",
    normalize: Any = True,
    magnitude: Any = 1.0,
) -> Kernel:
    return named_kernel("rectangle", xRadius, units, normalize, float(magnitude), y_radius=yRadius)


@algorithm("Kernel.gaussian")
def gaussian(
    radius: float,
    sigma: Any = 1.0,
    units: Any = "pixels",
    normalize: Any = True,
    magnitude: Any = 1.0,
) -> Kernel:
    what = "Kernel.gaussian"
    meters = _units(units, what)
    if sigma is None or float(sigma) <= 0:
        raise EEError(f"{what}: sigma must be positive.")

    def build(px: float) -> Weights:
        r = _in_pixels(float(radius), meters, px)
        s = _in_pixels(float(sigma), meters, px)
        dx, dy = _offsets(r, r)
        w = _finish(np.exp(-(dx**2 + dy**2) / (2 * s * s)), normalize, float(magnitude))
        return w, w.shape[1] // 2, w.shape[0] // 2

    desc = {
        "name": what,
        "radius": radius,
        "sigma": sigma,
        "units": "meters" if meters else "pixels",
    }
    return Kernel(build, desc, meters)


@algorithm("Kernel.fixed")
def fixed(
    weights: Any,
    width: Any = -1,
    height: Any = -1,
    x: Any = -1,
    y: Any = -1,
    normalize: Any = False,
) -> Kernel:
    what = "Kernel.fixed"
    rows = [list(r) if isinstance(r, (list, tuple)) else None for r in weights]
    if not rows or any(r is None for r in rows) or len({len(r) for r in rows}) != 1:
        raise EEError(f"{what}: weights must be a non-empty 2-D list of equal-length rows.")
    w = np.array(rows, dtype=float)
    h_, w_ = w.shape
    if (width not in (-1, w_)) or (height not in (-1, h_)):
        raise EEError(
            f"{what}: width and height ({width}x{height}) do not match the weights ({w_}x{h_})."
        )
    fx = w_ // 2 if x < 0 else x
    fy = h_ // 2 if y < 0 else y
    if not (0 <= fx < w_ and 0 <= fy < h_):
        raise EEError(f"{what}: the focus ({fx}, {fy}) is outside the kernel.")
    out = _finish(w, normalize, 1.0)
    return Kernel(lambda px: (out, fx, fy), {"name": what}, False)


#: The named edge kernels as the API reference prints them (focus: the centre; Roberts's
#: focus is position [1, 1]).
_NAMED = {
    "laplacian4": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "laplacian8": [[1, 1, 1], [1, -8, 1], [1, 1, 1]],
    "sobel": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "prewitt": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "kirsch": [[5, -3, -3], [5, 0, -3], [5, -3, -3]],
    "compass": [[1, 1, -1], [1, -2, -1], [1, 1, -1]],
    "roberts": [[1, 0], [0, -1]],
}


def _register_fixed(name: str, rows: list[list[int]]) -> None:
    @algorithm(f"Kernel.{name}")
    def impl(magnitude: Any = 1.0, normalize: Any = False) -> Kernel:
        w = _finish(np.array(rows, dtype=float), normalize, float(magnitude))
        return Kernel(lambda px: (w, 1, 1), {"name": f"Kernel.{name}"}, False)


for _name, _rows in _NAMED.items():
    _register_fixed(_name, _rows)


# --- operations on kernels ---------------------------------------------------------------------


@algorithm("Kernel.add")
def add(kernel1: Any, kernel2: Any, normalize: Any = False) -> Kernel:
    k1, k2 = as_kernel(kernel1, "Kernel.add"), as_kernel(kernel2, "Kernel.add")

    def build(px: float) -> Weights:
        (w1, x1, y1), (w2, x2, y2) = k1.weights(px), k2.weights(px)
        left, top = max(x1, x2), max(y1, y2)
        right = max(w1.shape[1] - x1, w2.shape[1] - x2)
        bottom = max(w1.shape[0] - y1, w2.shape[0] - y2)
        out = np.zeros((top + bottom, left + right))
        out[top - y1 : top - y1 + w1.shape[0], left - x1 : left - x1 + w1.shape[1]] += w1
        out[top - y2 : top - y2 + w2.shape[0], left - x2 : left - x2 + w2.shape[1]] += w2
        return _finish(out, normalize, 1.0), left, top

    return Kernel(build, {"name": "Kernel.add"}, k1.meters or k2.meters)


@algorithm("Kernel.inverse")
def inverse(kernel: Any) -> Kernel:
    k = as_kernel(kernel, "Kernel.inverse")

    def build(px: float) -> Weights:
        w, x, y = k.weights(px)
        with np.errstate(divide="ignore"):
            return np.where(w != 0, 1.0 / np.where(w != 0, w, 1.0), 0.0), x, y

    return Kernel(build, {"name": "Kernel.inverse"}, k.meters)


@algorithm("Kernel.rotate")
def rotate(kernel: Any, rotations: int) -> Kernel:
    """Quarter turns clockwise (negative: counter-clockwise); the focus turns with them."""
    k = as_kernel(kernel, "Kernel.rotate")
    n = rotations % 4

    def build(px: float) -> Weights:
        w, x, y = k.weights(px)
        for _ in range(n):  # one clockwise quarter turn: (row, col) -> (col, h - 1 - row)
            h = w.shape[0]
            w, x, y = np.rot90(w, -1), h - 1 - y, x
        return w, x, y

    return Kernel(build, {"name": "Kernel.rotate", "rotations": rotations}, k.meters)
