"""Copies of one reducer on consecutive inputs (``Reducer.repeat``, ``Reducer.forEach``).

Each copy reduces its own group of inputs. Copies whose statistics are column by column
(``Kernel.columnwise``) can share one accumulator: the copies' inputs are laid side by
side as the columns of one batch, so one kernel call reduces up to :data:`WIDE_COPIES`
copies at once instead of one call each. This is the region sums' case: a
``sum().repeat(n)`` per region group, a few thousand records per group and tile.

The side-by-side arrays are column-major, so each column is still reduced as one
contiguous run of values, with the same (pairwise) summation as a single column: the
results are bit for bit those of one accumulator per copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.records import Batch
from .kernels import Column

#: At most this many copies are reduced together by one accumulator.
WIDE_COPIES = 32

#: Records x copies of one side-by-side batch: side by side pays where a batch is small
#: (a region group's records: NumPy's per-call cost dominates); a large batch (a whole
#: region tile, 65,536 records or more) is reduced copy by copy.
#: Measured on 80 bands: a 65,536-record tile took twice the CPU side by side (32
#: copies) as copy by copy; 35 groups of ~1,900 records took 20 % less.
WIDE_RECORDS = 1 << 16


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
    (see the module docstring); how many is chosen at the first batch, from its size
    (:data:`WIDE_RECORDS`). Otherwise each copy has its own accumulator.
    """

    def __init__(self, child: Any, count: int, p: int, mode: str, *, wide: bool) -> None:
        self.child = child
        self.count = count
        self.k = child.n_inputs
        self.p = p
        self.mode = mode
        self.wide = wide
        self.chunks: list[tuple[Any, int, int]] | None = None

    def _make_chunks(self, n: int) -> list[tuple[Any, int, int]]:
        step = 1
        if self.wide:
            step = max(1, min(WIDE_COPIES, WIDE_RECORDS // max(1, n * self.p)))
        chunks = []
        for start in range(0, self.count, step):
            m = min(step, self.count - start)
            chunks.append((self.child.accumulator(self.p * m, self.mode), start, m))
        return chunks

    def add(self, batch: Batch) -> None:
        if self.chunks is None:
            self.chunks = self._make_chunks(batch.n)
        k = self.k
        for acc, start, m in self.chunks:
            if m == 1:
                acc.add(batch.select(list(range(start * k, (start + 1) * k))))
            else:
                acc.add(side_by_side(batch, start, m, k))

    def results(self) -> list[list[Column]]:
        """Per copy, in order, its output columns (``P`` entries each)."""
        if self.chunks is None:  # no records: every copy's empty result
            self.chunks = self._make_chunks(WIDE_RECORDS)
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
