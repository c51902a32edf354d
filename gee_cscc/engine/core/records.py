"""Records that reducers consume: a :class:`Batch` of columns, and plain output values.

A reducer sees its inputs as records: ``N`` records for each of ``P`` independent columns
(one column per pixel of a tile for per-pixel reductions, one column for a region or a
collection). :func:`reduce_records` reduces records given as Python values
(``Collection.reduceColumns``, ``List.reduce``); :mod:`gee_cscc.engine.raster.reduction`
makes batches from pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EEError

# --- batches -------------------------------------------------------------------------------


@dataclass
class Batch:
    """``N`` records for each of ``P`` columns (see :mod:`gee_cscc.engine.raster.reduction`).

    Attributes
    ----------
    x
        One ``(N, P)`` array per input: float64 (pixels) or object (records).
    valid
        One ``(N, P)`` bool array per input; False marks a null input.
    frac
        ``(N, P)`` weights of weighted reducers (0 = not in the region).
    centre
        ``(N, P)`` membership of unweighted reducers.
    order
        ``(N,)`` int64 order keys (image index, pixel index in the window, row).
    """

    x: list[np.ndarray]
    valid: list[np.ndarray]
    frac: np.ndarray
    centre: np.ndarray
    order: np.ndarray

    @property
    def n(self) -> int:
        return int(self.order.shape[0])

    def select(self, inputs: Sequence[int]) -> Batch:
        """The batch restricted to some inputs (in the given order)."""
        return Batch(
            [self.x[i] for i in inputs],
            [self.valid[i] for i in inputs],
            self.frac,
            self.centre,
            self.order,
        )

    def take(self, index: np.ndarray) -> Batch:
        """The records at ``index`` (``(M,)`` int, in that order)."""
        return Batch(
            [v[index] for v in self.x],
            [v[index] for v in self.valid],
            np.asarray(self.frac)[index],
            np.asarray(self.centre)[index],
            self.order[index],
        )

    def slice(self, start: int, stop: int) -> Batch:
        """The records ``start:stop`` (views, no copies)."""
        return Batch(
            [v[start:stop] for v in self.x],
            [v[start:stop] for v in self.valid],
            np.asarray(self.frac)[start:stop],
            np.asarray(self.centre)[start:stop],
            self.order[start:stop],
        )

    def rows(self, keep: np.ndarray) -> Batch:
        """The records where ``keep`` (``(N,)`` bool) is True."""
        return Batch(
            [v[keep] for v in self.x],
            [v[keep] for v in self.valid],
            np.asarray(self.frac)[keep],
            np.asarray(self.centre)[keep],
            self.order[keep],
        )


def column_value(column: Any, index: int = 0, *, integer: bool = False) -> Any:
    """Element ``index`` of an output column as a plain Python value (NaN → None)."""
    if isinstance(column, np.ndarray) and column.dtype != object:
        v = float(column[index])
        if math.isnan(v):
            return None
        if integer and v.is_integer():
            return int(v)
        return v
    v = column[index]
    if isinstance(v, (float, np.floating)) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


# --- records (collections of features, lists) -------------------------------------------------


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def reduce_records(
    reducer: Any,
    columns: Sequence[Sequence[Any]],
    weights: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Reduce records given as columns of Python values (``Collection.reduceColumns``).

    Parameters
    ----------
    reducer
        The reducer; ``columns[i]`` is its input ``i``.
    columns
        One sequence of ``N`` values per input; None (or NaN) is a null input.
    weights
        Optional ``N`` weights for weighted reducers (``weightSelectors``);
        unweighted reducers ignore them.

    Returns
    -------
    dict
        The reducer's outputs by name, as plain Python values.
    """
    if len(columns) != reducer.n_inputs:
        raise EEError(f"{reducer.name}: Need {reducer.n_inputs} inputs, got {len(columns)}.")
    n = len(columns[0]) if columns else 0
    if any(len(col) != n for col in columns):
        raise EEError(f"{reducer.name}: the input columns have different lengths.")
    xs, vs = [], []
    for col in columns:
        arr = np.empty((n, 1), dtype=object)
        arr[:, 0] = list(col)
        xs.append(arr)
        vs.append(np.array([[not _is_null(v)] for v in col], dtype=bool).reshape(n, 1))
    if weights is None:
        frac = np.ones((n, 1))
    else:
        if len(weights) != n:
            raise EEError(f"{reducer.name}: the weights have a different length.")
        frac = np.array([[0.0 if _is_null(w) else float(w)] for w in weights], dtype=float).reshape(
            n, 1
        )
    acc = reducer.accumulator(1, "records")
    acc.add(Batch(xs, vs, frac, np.ones((n, 1), dtype=bool), np.arange(n, dtype=np.int64)))
    return {
        name: column_value(col, 0, integer=i)
        for name, col, i in zip(
            reducer.outputs, acc.result(), reducer.integer_outputs, strict=False
        )
    }
