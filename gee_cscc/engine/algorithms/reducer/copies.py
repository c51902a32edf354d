"""Copies of one reducer on consecutive inputs (``Reducer.repeat``, ``Reducer.forEach``).

Each copy reduces its own group of inputs. Copies whose statistics are column by column
(``Kernel.columnwise``) can share one accumulator: the copies' inputs are laid side by
side as the columns of one batch, so one kernel call reduces up to :data:`WIDE_COPIES`
copies at once instead of one call each. This is the region sums' case: a
``sum().repeat(n)`` per region group, or ``count``/``sum``/``minMax`` over many bands.

The side-by-side arrays are column-major, so each column is still reduced as one
contiguous run of values, with the same (pairwise) summation as a single column: the
results are bit for bit those of one accumulator per copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.records import Batch
from .kernels import Column

#: Copies reduced together by one accumulator (bounds the side-by-side batch: at most
#: 32 x one region tile's records, 16 MB of float64 per input at 256 x 256).
WIDE_COPIES = 32


def _columns(arrays: list[Any], dtype: Any = None) -> np.ndarray:
    """The ``(N, P)`` arrays side by side as one column-major ``(N, m * P)`` array."""
    first = np.asarray(arrays[0])
    n, p = first.shape
    if dtype is None:
        dtype = np.result_type(*[np.asarray(a).dtype for a in arrays])
    out = np.empty((n, p * len(arrays)), dtype=dtype, order="F")
    for i, a in enumerate(arrays):
        out[:, i * p : (i + 1) * p] = a
    return out


def side_by_side(batch: Batch, start: int, m: int, k: int) -> Batch:
    """Copies ``start .. start + m - 1`` of a ``k``-input reducer as one ``m``-times wider batch.

    Input ``j`` of the wide batch holds input ``(start + i) * k + j`` of ``batch`` in
    columns ``i * P .. (i + 1) * P``; the weights and memberships are repeated.
    """
    xs = [_columns([batch.x[(start + i) * k + j] for i in range(m)]) for j in range(k)]
    vs = [_columns([batch.valid[(start + i) * k + j] for i in range(m)], bool) for j in range(k)]
    frac = _columns([batch.frac] * m, float)
    centre = _columns([batch.centre] * m, bool)
    return Batch(xs, vs, frac, centre, batch.order)


class CopiesAcc:
    """Accumulates ``count`` copies of ``child`` (``k`` inputs each, consecutive).

    ``wide``: the child's accumulator is column by column, so copies may share one
    (see the module docstring); otherwise each copy has its own.
    """

    def __init__(self, child: Any, count: int, p: int, mode: str, *, wide: bool) -> None:
        self.k = child.n_inputs
        self.p = p
        step = WIDE_COPIES if wide else 1
        self.chunks = []
        for start in range(0, count, step):
            m = min(step, count - start)
            self.chunks.append((child.accumulator(p * m, mode), start, m))

    def add(self, batch: Batch) -> None:
        k = self.k
        for acc, start, m in self.chunks:
            if m == 1:
                acc.add(batch.select(list(range(start * k, (start + 1) * k))))
            else:
                acc.add(side_by_side(batch, start, m, k))

    def results(self) -> list[list[Column]]:
        """Per copy, in order, its output columns (``P`` entries each)."""
        p = self.p
        out = []
        for acc, _, m in self.chunks:
            cols = acc.result()
            if m == 1:
                out.append(cols)
                continue
            for i in range(m):
                out.append([c[i * p : (i + 1) * p] for c in cols])
        return out
