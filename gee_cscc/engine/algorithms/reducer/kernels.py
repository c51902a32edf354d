"""The one-pass statistics of the ``Reducer.*`` primitives (their accumulators, "kernels").

A kernel accumulates :class:`~gee_cscc.engine.core.records.Batch` es of records column by
column and gives one column per output; see :mod:`.reducers` for the semantics of each
statistic. The statistics that keep every record (percentiles, ranks, pairs, lists and
histograms) are in :mod:`.collect_kernels`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Protocol

import numpy as np

from ...core.records import Batch
from ...errors import EEError

Column = Any  # np.ndarray (P,) float with NaN = null, or a list of P Python objects


class KernelSpec(Protocol):
    """What a kernel reads of its reducer leaf (:class:`.tree.Primitive` provides it)."""

    name: str
    outputs: list[str]
    n_inputs: int
    weighted: bool
    explicit_weight: bool
    params: dict[str, Any]


# --- statistics (kernels) --------------------------------------------------------------------


def _as_float(x: np.ndarray, ok: np.ndarray, what: str) -> np.ndarray:
    """Numbers of an input as float64 (object inputs: the valid entries converted)."""
    if x.dtype != object:
        return np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)
    for i, j in zip(*np.nonzero(ok), strict=False):
        v = x[i, j]
        if isinstance(v, (bool, int, float, np.number)):
            out[i, j] = float(v)
        else:
            raise EEError(f"{what}: expected a number, got {type(v).__name__} {v!r}.")
    return out


def _all_equal(a: Any, value: Any) -> bool:
    """Whether every element of the array ``a`` is ``value`` (one look when it is broadcast)."""
    if not isinstance(a, np.ndarray) or a.size == 0:
        return False
    if all(st == 0 for st in a.strides):
        return bool(a.flat[0] == value)
    return bool((a == value).all())


def _row_values(a: np.ndarray) -> bool:
    """Whether ``a`` is one value per row broadcast over the columns (a constant band's stack)."""
    return a.ndim == 2 and a.strides[1] == 0


class Kernel(ABC):
    """Base of the statistic accumulators: the records a primitive takes and their weights."""

    #: True when every output column depends only on the same input column (and the
    #: records' order), with the same arithmetic whatever the other columns: such kernels
    #: can reduce copies side by side (``tree._CopiesAcc``).
    columnwise = False

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        self.prim = prim
        self.p = p
        self.mode = mode

    def prepare(
        self, batch: Batch, numeric: bool = True
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """``(inputs, member, ok, weight)``: all ``(N, P)``; ``ok`` = member with no null."""
        prim = self.prim
        xs = list(batch.x[: prim.n_inputs])
        vs = list(batch.valid[: prim.n_inputs])
        if prim.weighted:
            frac = np.asarray(batch.frac, dtype=float)
            member = frac > 0
        else:
            member = np.asarray(batch.centre, dtype=bool)
        ok = member.copy(order="K")  # keeps a column-major batch column-major (see tree.py)
        for v in vs:
            ok &= v
        if numeric:
            xs = [_as_float(x, ok, prim.name) for x in xs]
            for x in xs:
                ok &= ~np.isnan(x)
        if prim.explicit_weight:
            weight = _as_float(batch.x[prim.n_inputs - 1], ok, prim.name)
            xs = xs[:-1]
            w = np.where(ok, weight, 0.0)
        elif prim.weighted:
            w = np.where(ok, frac, 0.0)
        else:
            w = ok.astype(float)
        return xs, member, ok, w

    def prepare_unit(
        self, batch: Batch, numeric: bool = True
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
        """``(inputs, ok, weight)`` like :meth:`prepare`, the weights left implicit when they can be.

        When every record is a member with weight 1 (a per-pixel stack, where ``frac`` and
        ``centre`` are one broadcast value, or a region tile wholly inside its region) and
        the inputs are C-ordered float64 (or one value per row, broadcast), ``weight`` is
        None: it is ``ok`` as 0/1, by which a kernel multiplies as the boolean ``ok`` itself
        or leaves the product out where it is exact (``x · 1 = x``, ``0 · 0 = 0``).
        Otherwise the weights of :meth:`prepare`.
        """
        prim = self.prim
        xs = list(batch.x[: prim.n_inputs])
        vs = list(batch.valid[: prim.n_inputs])
        unit = (
            not prim.explicit_weight
            and bool(vs)
            and all(isinstance(x, np.ndarray) and x.dtype == np.float64 for x in xs)
            and all(a.flags.c_contiguous or _row_values(a) for a in (*xs, *vs))
            and (_all_equal(batch.frac, 1.0) if prim.weighted else _all_equal(batch.centre, True))
        )
        if not unit:
            xs, _, ok, w = self.prepare(batch, numeric)
            return xs, ok, w
        ok = np.array(vs[0], dtype=bool, order="C")
        for v in vs[1:]:
            ok &= v
        if numeric:
            for x in xs:
                ok &= np.equal(x, x)  # not NaN
        return xs, ok, None

    def empty(self, identity: float) -> float:
        """The value of an empty reduction: null for pixels, ``identity`` elsewhere."""
        return math.nan if self.mode == "pixels" else identity

    @abstractmethod
    def add(self, batch: Batch) -> None:
        """Implemented by each subclass."""

    @abstractmethod
    def result(self) -> list[Column]:
        """Implemented by each subclass."""


class Count(Kernel):
    """``count`` and ``countEvery``: the number of unmasked inputs (of all, for countEvery)."""

    columnwise = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.n = np.zeros(p)

    def add(self, batch: Batch) -> None:
        if self.prim.params.get("every"):
            _, member, _, _ = self.prepare(batch, numeric=False)
            self.n += member.sum(axis=0)
            return
        _, ok, _ = self.prepare_unit(batch, numeric=False)
        self.n += ok.sum(axis=0)

    def result(self) -> list[Column]:
        return [np.where(self.n > 0, self.n, self.empty(0.0))]


class Moments(Kernel):
    """Weighted sum, mean and (sample) variance with Chan's parallel update."""

    columnwise = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.w = np.zeros(p)
        self.mean = np.zeros(p)
        self.m2 = np.zeros(p)
        self.total = np.zeros(p)
        self.n = np.zeros(p)

    def add(self, batch: Batch) -> None:
        (x,), ok, w = self.prepare_unit(batch)
        x = np.where(ok, x, 0.0)
        count = np.count_nonzero(ok, axis=0)
        # unit weights (w is ok as 0/1): w * x is x (0 where not ok), Σw the count, exactly
        sb = (x if w is None else w * x).sum(axis=0)
        self.total += sb
        self.n += count
        if self.prim.params["stat"] == "sum":
            return  # the sum needs neither the mean nor the second moment
        wb = count.astype(np.float64) if w is None else w.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mb = np.where(wb > 0, sb / np.where(wb > 0, wb, 1.0), 0.0)
        wt = self.w + wb
        safe = np.where(wt > 0, wt, 1.0)
        delta = mb - self.mean
        self.mean = np.where(wt > 0, self.mean + delta * wb / safe, 0.0)
        if self.prim.params["stat"] != "mean":  # the mean needs no second moment
            d = np.subtract(x, mb, out=x)  # x is this batch's own copy
            np.square(d, out=d)
            m2b = np.multiply(ok if w is None else w, d, out=d).sum(axis=0)
            self.m2 = self.m2 + m2b + delta**2 * self.w * wb / safe
        self.w = wt

    def result(self) -> list[Column]:
        stat = self.prim.params["stat"]
        has = self.n > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            if stat == "sum":
                return [np.where(has, self.total, self.empty(0.0))]
            if stat == "mean":
                return [np.where(has & (self.w > 0), self.mean, math.nan)]
            if stat in ("variance", "stdDev"):
                var = np.where(
                    has & (self.w > 0), self.m2 / np.where(self.w > 0, self.w, 1), math.nan
                )
            else:
                d = self.w - 1.0
                var = np.where(has & (d > 0), self.m2 / np.where(d > 0, d, 1), math.nan)
            var = np.maximum(var, 0.0)
            return [np.sqrt(var) if "StdDev" in stat or stat == "stdDev" else var]


class Fold(Kernel):
    """product, allNonZero, anyNonZero."""

    columnwise = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        op = prim.params["op"]
        self.acc = np.full(p, 0.0 if op == "any" else 1.0)
        self.n = np.zeros(p)

    def add(self, batch: Batch) -> None:
        (x,), _, ok, _ = self.prepare(batch)
        op = self.prim.params["op"]
        if op == "product":
            self.acc *= np.where(ok, x, 1.0).prod(axis=0)
        elif op == "all":
            self.acc = np.minimum(self.acc, (~ok | (x != 0)).all(axis=0).astype(float))
        else:
            self.acc = np.maximum(self.acc, (ok & (x != 0)).any(axis=0).astype(float))
        self.n += ok.sum(axis=0)

    def result(self) -> list[Column]:
        op = self.prim.params["op"]
        identity = {"product": 1.0, "all": 1.0, "any": 0.0}[op]
        return [np.where(self.n > 0, self.acc, self.empty(identity))]


def first_true(mask: np.ndarray) -> np.ndarray:
    """Per column of an ``(N, P)`` boolean array, the first row that is True (0 if none).

    ``np.argmax(mask, axis=0)``, which walks a C-ordered array column by column; for up to
    255 rows the largest of ``mask × (N − row)`` in uint8 is found row by row instead.
    """
    n = mask.shape[0]
    if not 0 < n <= 255 or mask.ndim != 2:
        return np.argmax(mask, axis=0)
    rank = (n - np.arange(n)).astype(np.uint8)[:, None]  # N … 1: the first row ranks highest
    best = np.multiply(mask, rank, dtype=np.uint8).max(axis=0)
    return np.where(best == 0, 0, n - best.astype(np.int64))


def take_per_column(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x[idx[p], p]`` for every column ``p``."""
    return np.take_along_axis(x, idx[None, :], axis=0)[0]


class Extreme(Kernel):
    """max/min of the first input, the others taken from the same record; earliest on ties."""

    columnwise = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.has = np.zeros(p, dtype=bool)
        self.best = np.full(p, -np.inf)
        self.order = np.zeros(p, dtype=np.int64)
        self.values: list[np.ndarray] | None = None

    def add(self, batch: Batch) -> None:
        xs, ok, _ = self.prepare_unit(batch)
        if batch.n == 0:
            return
        sign = self.prim.params["sign"]
        # The largest of x × sign (−inf where not ok): for min, −(the smallest x), the same
        # numbers (negation is exact) without the products.
        if sign == -1.0:
            key = np.where(ok, xs[0], np.inf)
            low = key.min(axis=0)
            top = -low
        else:
            key = np.where(ok, xs[0] if sign == 1.0 else xs[0] * sign, -np.inf)
            low = top = key.max(axis=0)
        first = np.equal(key, low[None, :], out=np.empty(key.shape, dtype=bool))
        first &= ok
        idx = first_true(first)
        has = ok.any(axis=0)
        order = batch.order[idx]
        better = has & (~self.has | (top > self.best) | ((top == self.best) & (order < self.order)))
        raw = [take_per_column(np.asarray(x), idx) for x in batch.x[: self.prim.n_inputs]]
        if self.values is None:
            self.values = [np.full(self.p, math.nan, dtype=r.dtype) for r in raw]
            if any(r.dtype == object for r in raw):
                self.values = [np.full(self.p, None, dtype=object) for _ in raw]
        for store, r in zip(self.values, raw, strict=False):
            store[better] = r[better]
        self.best = np.where(better, top, self.best)
        self.order = np.where(better, order, self.order)
        self.has |= has

    def result(self) -> list[Column]:
        if self.values is None:
            return [np.full(self.p, math.nan) for _ in self.prim.outputs]
        out = []
        for store in self.values:
            if store.dtype == object:
                out.append([v if h else None for v, h in zip(store, self.has, strict=False)])
            else:
                out.append(np.where(self.has, store.astype(float), math.nan))
        return out


class Pick(Kernel):
    """first, last, firstNonNull, lastNonNull (by record order)."""

    columnwise = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.has = np.zeros(p, dtype=bool)
        self.order = np.zeros(p, dtype=np.int64)
        self.null = np.zeros(p, dtype=bool)
        self.value: np.ndarray | None = None

    def add(self, batch: Batch) -> None:
        _, member, ok, _ = self.prepare(batch, numeric=False)
        if batch.n == 0:
            return
        last = self.prim.params["last"]
        cand = ok if self.prim.params["nonnull"] else member
        idx = (batch.n - 1 - np.argmax(cand[::-1], axis=0)) if last else np.argmax(cand, axis=0)
        has = cand.any(axis=0)
        order = batch.order[idx]
        better = has & (~self.has | ((order > self.order) if last else (order < self.order)))
        raw = take_per_column(np.asarray(batch.x[0]), idx)
        if self.value is None:
            self.value = np.full(self.p, None if raw.dtype == object else math.nan, dtype=raw.dtype)
        self.value[better] = raw[better]
        self.null = np.where(better, ~take_per_column(ok, idx), self.null)
        self.order = np.where(better, order, self.order)
        self.has |= has

    def result(self) -> list[Column]:
        if self.value is None:
            return [np.full(self.p, math.nan)]
        keep = self.has & ~self.null
        if self.value.dtype == object:
            return [[v if k else None for v, k in zip(self.value, keep, strict=False)]]
        return [np.where(keep, self.value.astype(float), math.nan)]


class CoMoments(Kernel):
    """linearFit (weighted) and pearsonsCorrelation: merged means and co-moments of (x, y)."""

    columnwise = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.w = np.zeros(p)
        self.n = np.zeros(p)
        self.mx = np.zeros(p)
        self.my = np.zeros(p)
        self.sxx = np.zeros(p)
        self.syy = np.zeros(p)
        self.sxy = np.zeros(p)

    def add(self, batch: Batch) -> None:
        (x, y), ok, w = self.prepare_unit(batch)
        x = np.where(ok, x, 0.0)
        y = np.where(ok, y, 0.0)
        count = np.count_nonzero(ok, axis=0)
        if w is None:  # unit weights: the products below with ok as 0/1, Σw the count
            wb = count.astype(np.float64)
            safe_b = np.where(wb > 0, wb, 1.0)
            mxb = x.sum(axis=0) / safe_b
            myb = y.sum(axis=0) / safe_b
            w = ok  # multiplied as 0/1: the same products as with a float array of them
        else:
            wb = w.sum(axis=0)
            safe_b = np.where(wb > 0, wb, 1.0)
            mxb = (w * x).sum(axis=0) / safe_b
            myb = (w * y).sum(axis=0) / safe_b
        # x and y are this batch's own copies: centred in place; with one more buffer for
        # w·dx, the products (w·dx)·dx, (w·dx)·dy and (w·dy)·dy are made in those three.
        dxb = np.subtract(x, mxb, out=x)
        dyb = np.subtract(y, myb, out=y)
        wdx = np.multiply(w, dxb, out=np.empty_like(dxb))
        sxxb = np.multiply(wdx, dxb, out=dxb).sum(axis=0)  # dx is not needed after this
        sxyb = np.multiply(wdx, dyb, out=wdx).sum(axis=0)
        wdy = np.multiply(w, dyb, out=wdx)
        syyb = np.multiply(wdy, dyb, out=wdy).sum(axis=0)
        wt = self.w + wb
        safe = np.where(wt > 0, wt, 1.0)
        dx, dy = mxb - self.mx, myb - self.my
        f = self.w * wb / safe
        self.sxx += sxxb + dx * dx * f
        self.syy += syyb + dy * dy * f
        self.sxy += sxyb + dx * dy * f
        self.mx = np.where(wt > 0, self.mx + dx * wb / safe, 0.0)
        self.my = np.where(wt > 0, self.my + dy * wb / safe, 0.0)
        self.w = wt
        self.n += count

    def _degenerate(self, s: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Whether a spread is zero up to round-off (a constant input)."""
        return (self.w <= 0) | (s <= 1e-13 * self.w * np.maximum(m * m, 1e-300))

    def result(self) -> list[Column]:
        with np.errstate(invalid="ignore", divide="ignore"):
            flat_x = self._degenerate(self.sxx, self.mx)
            if self.prim.params["stat"] == "linearFit":
                scale = np.where(flat_x, math.nan, self.sxy / np.where(flat_x, 1, self.sxx))
                return [scale, self.my - scale * self.mx]
            flat = flat_x | self._degenerate(self.syy, self.my)
            r = np.where(flat, math.nan, self.sxy / np.sqrt(np.where(flat, 1, self.sxx * self.syy)))
            r = np.clip(r, -1.0, 1.0)
            return [r, _pearson_p(r, self.n)]


def _pearson_p(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of the t-test of Pearson's r with ``n − 2`` degrees of freedom."""
    from scipy.special import stdtr

    df = n - 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(r) * np.sqrt(df / np.maximum(1.0 - r * r, 0.0))
        p = 2.0 * stdtr(np.where(df > 0, df, 1.0), -t)
    p = np.where(np.abs(r) >= 1.0, 0.0, p)
    return np.where((df > 0) & ~np.isnan(r), p, math.nan)


class LinearRegression(Kernel):
    """Least squares of numY outputs on numX inputs via accumulated normal equations."""

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        nx, ny = prim.params["numX"], prim.params["numY"]
        self.xtx = np.zeros((p, nx, nx))
        self.xty = np.zeros((p, nx, ny))
        self.yty = np.zeros((p, ny))
        self.n = np.zeros(p)

    def add(self, batch: Batch) -> None:
        xs, _, ok, _ = self.prepare(batch)
        nx = self.prim.params["numX"]
        a = np.stack([np.where(ok, x, 0.0) for x in xs[:nx]], axis=-1)
        b = np.stack([np.where(ok, x, 0.0) for x in xs[nx:]], axis=-1)
        self.xtx += np.einsum("npi,npj->pij", a, a)
        self.xty += np.einsum("npi,npj->pij", a, b)
        self.yty += np.einsum("npj,npj->pj", b, b)
        self.n += ok.sum(axis=0)

    def result(self) -> list[Column]:
        nx = self.prim.params["numX"]
        coefs: list[Any] = []
        resid: list[Any] = []
        for q in range(self.p):
            if self.n[q] <= nx or np.linalg.matrix_rank(self.xtx[q]) < nx:
                coefs.append(None)
                resid.append(None)
                continue
            beta = np.linalg.solve(self.xtx[q], self.xty[q])
            ssr = (
                self.yty[q]
                - 2 * np.einsum("ij,ij->j", beta, self.xty[q])
                + np.einsum("ij,ik,kj->j", beta, self.xtx[q], beta)
            )
            coefs.append(beta.tolist())
            resid.append(np.sqrt(np.maximum(ssr, 0.0) / self.n[q]).tolist())
        return [coefs, resid]
