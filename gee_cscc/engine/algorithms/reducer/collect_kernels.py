"""The statistics of the ``Reducer.*`` primitives that need all records.

Percentiles, ``intervalMean``, ``mode``, ``toList``, the histograms, ``sensSlope``,
``kendallsCorrelation`` and ``spearmansCorrelation`` keep the records they take and compute
the statistic at the end, in record order; see :mod:`.reducers` for their semantics.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np

from ...core.records import Batch
from ...errors import EEError
from .kernels import Column, Kernel, KernelSpec, take_per_column

#: The most elements a pairwise statistic (sensSlope, kendall, spearman, mode) builds at once.
PAIR_CHUNK = 4_000_000
#: The most pairs ``sensSlope`` keeps for one median (N·(N−1)/2).
MAX_PAIRS = 20_000_000


class _Collect(Kernel):
    """Keeps the records it takes and computes the statistic at the end (in record order)."""

    numeric = True

    def __init__(self, prim: KernelSpec, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.parts: list[tuple] = []

    def add(self, batch: Batch) -> None:
        xs, member, ok, w = self.prepare(batch, numeric=self.numeric)
        keep = member.any(axis=1)
        if not keep.any():
            return
        if self.numeric:
            raw = [x[keep] for x in xs]
        else:
            raw = [np.asarray(x)[keep] for x in batch.x[: self.prim.n_inputs]]
        valid = [np.asarray(v)[keep] & member[keep] for v in batch.valid[: self.prim.n_inputs]]
        self.parts.append((raw, valid, member[keep], ok[keep], w[keep], batch.order[keep]))

    def gathered(
        self,
    ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        k = self.prim.n_inputs - (1 if self.prim.explicit_weight else 0)
        if not self.parts:
            dtype = float if self.numeric else object
            empty = np.zeros((0, self.p), dtype=dtype)
            none = np.zeros((0, self.p), dtype=bool)
            return [empty] * k, [none] * k, none, none, np.zeros((0, self.p)), np.zeros(0, np.int64)
        order = np.concatenate([part[5] for part in self.parts])
        perm = np.argsort(order, kind="stable")
        xs = [np.concatenate([part[0][i] for part in self.parts])[perm] for i in range(k)]
        vs = [np.concatenate([part[1][i] for part in self.parts])[perm] for i in range(k)]
        member, ok, w = (np.concatenate([part[j] for part in self.parts])[perm] for j in (2, 3, 4))
        return xs, vs, member, ok, w, order[perm]

    def result(self) -> list[Column]:
        return self.compute(*self.gathered())

    @abstractmethod
    def compute(self, *data: Any) -> list[Column]:
        """Implemented by each subclass."""


def _quantile(x: np.ndarray, ok: np.ndarray, q: float) -> np.ndarray:
    """Per column, the ``q`` quantile (0…1) of the valid values, interpolated linearly."""
    n_rec = x.shape[0]
    n = ok.sum(axis=0)
    if n_rec == 0:
        return np.full(x.shape[1], math.nan)
    s = np.sort(np.where(ok, x, math.nan), axis=0)
    pos = q * np.maximum(n - 1, 0)
    lo = np.clip(np.floor(pos).astype(np.int64), 0, n_rec - 1)
    hi = np.clip(np.ceil(pos).astype(np.int64), 0, n_rec - 1)
    a = take_per_column(s, lo)
    b = take_per_column(s, hi)
    with np.errstate(invalid="ignore"):
        v = np.where(hi == lo, a, a + (b - a) * (pos - lo))
    return np.where(n > 0, v, math.nan)


class Percentiles(_Collect):
    """``percentile``/``median``: linear interpolation between order statistics."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        return [_quantile(xs[0], ok, q / 100.0) for q in self.prim.params["percentiles"]]


class IntervalMean(_Collect):
    """``intervalMean``: the mean of the values between two percentiles."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        x = xs[0]
        lo = _quantile(x, ok, self.prim.params["min"] / 100.0)
        hi = _quantile(x, ok, self.prim.params["max"] / 100.0)
        inside = ok & (x >= lo[None, :]) & (x <= hi[None, :])
        n = inside.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return [
                np.where(n > 0, np.where(inside, x, 0.0).sum(axis=0) / np.maximum(n, 1), math.nan)
            ]


def _column_chunks(n_rec: int, p: int, per_column: int) -> list[slice]:
    step = max(1, PAIR_CHUNK // max(per_column, 1))
    return [slice(i, min(i + step, p)) for i in range(0, p, step)]


class Mode(_Collect):
    """``mode``: the most frequent value."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        x = xs[0]
        n_rec = x.shape[0]
        out = np.full(self.p, math.nan)
        if self.p == 1:
            vals = x[ok[:, 0], 0]
            if vals.size:
                uniq, counts = np.unique(vals, return_counts=True)
                out[0] = uniq[np.argmax(counts)]
            return [out]
        for sl in _column_chunks(n_rec, self.p, n_rec * n_rec):
            v = np.where(ok[:, sl], x[:, sl], math.nan)
            counts = (v[:, None, :] == v[None, :, :]).sum(axis=1).astype(float)
            counts[~ok[:, sl]] = -1
            top = counts.max(axis=0)
            cand = ok[:, sl] & (counts == top[None, :])
            best = np.where(cand, v, np.inf).min(axis=0)
            out[sl] = np.where(ok[:, sl].any(axis=0), best, math.nan)
        return [out]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


class ToList(_Collect):
    """``toList``: the inputs as a list (of tuples when ``tupleSize`` is given)."""

    numeric = False

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        k = self.prim.n_inputs
        n_opt = self.prim.params["numOptional"]
        required = member.copy()
        for v in vs[: k - n_opt]:
            required &= v
        tuples = self.prim.params["tupleSize"] is not None
        out = []
        for q in range(self.p):
            rows = np.nonzero(required[:, q])[0]
            if tuples:
                out.append(
                    [[_plain(xs[j][i, q]) if vs[j][i, q] else None for j in range(k)] for i in rows]
                )
            else:
                out.append([_plain(xs[0][i, q]) for i in rows])
        return [out]


def _number_key(v: Any) -> str:
    if isinstance(v, (bool, int, float, np.number)):
        f = float(v)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(v)


def _compact(v: float) -> Any:
    return int(v) if float(v).is_integer() else float(v)


class FrequencyHistogram(_Collect):
    """``frequencyHistogram``: value → (weighted) count."""

    numeric = False

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        out = []
        for q in range(self.p):
            table: dict[Any, float] = {}
            for i in np.nonzero(ok[:, q])[0]:
                v = _plain(xs[0][i, q])
                if isinstance(v, float) and math.isnan(v):
                    continue
                table[v] = table.get(v, 0.0) + float(w[i, q])
            keys = sorted(table, key=lambda k: (isinstance(k, str), k))
            out.append({_number_key(k): _compact(table[k]) for k in keys})
        return [out]


class FixedHistogram(_Collect):
    """``fixedHistogram``: counts in equal-width buckets between ``min`` and ``max``."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        lo, hi, steps = self.prim.params["min"], self.prim.params["max"], self.prim.params["steps"]
        width = (hi - lo) / steps
        edges = lo + width * np.arange(steps)
        out = []
        for q in range(self.p):
            x = xs[0][ok[:, q], q]
            wq = w[ok[:, q], q]
            inside = (x >= lo) & (x < hi)
            idx = np.clip(np.floor((x[inside] - lo) / width).astype(int), 0, steps - 1)
            counts = np.bincount(idx, weights=wq[inside], minlength=steps)
            if self.prim.params["cumulative"]:
                counts = np.cumsum(counts)
            out.append([[float(e), _compact(c)] for e, c in zip(edges, counts, strict=False)])
        return [out]


def _pairs(n_rec: int) -> tuple[np.ndarray, np.ndarray]:
    if n_rec * (n_rec - 1) // 2 > MAX_PAIRS:
        raise EEError(
            f"Too many inputs for a pairwise statistic: {n_rec} records give "
            f"{n_rec * (n_rec - 1) // 2} pairs; the local engine handles at most {MAX_PAIRS}."
        )
    return np.triu_indices(n_rec, 1)


class SensSlope(_Collect):
    """``sensSlope``: the median of pairwise slopes, and the median offset."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        x, y = xs
        n_rec = x.shape[0]
        iu, ju = _pairs(n_rec)
        slope = np.full(self.p, math.nan)
        for sl in _column_chunks(n_rec, self.p, len(iu)):
            dx = x[ju, sl] - x[iu, sl]
            good = ok[iu, sl] & ok[ju, sl] & (dx != 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                s = (y[ju, sl] - y[iu, sl]) / np.where(dx != 0, dx, 1.0)
            slope[sl] = _quantile(s, good, 0.5)
        with np.errstate(invalid="ignore"):
            offset = _quantile(y - slope[None, :] * x, ok & ~np.isnan(slope)[None, :], 0.5)
        return [slope, offset]


class Kendall(_Collect):
    """``kendallsCorrelation``: Kendall's tau-b and its two-sided p-value."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        from scipy.special import erfc

        if len(xs) == 1:
            y = xs[0]
            x = np.broadcast_to(order.astype(float)[:, None], y.shape)
        else:
            x, y = xs
        n_rec = x.shape[0]
        tau = np.full(self.p, math.nan)
        pval = np.full(self.p, math.nan)
        if n_rec < 2:
            return [tau, pval]
        if self.p == 1 and ok[:, 0].sum() > 2:
            return _kendall_one(x[ok[:, 0], 0], y[ok[:, 0], 0])
        iu, ju = _pairs(n_rec)
        for sl in _column_chunks(n_rec, self.p, max(len(iu), n_rec * n_rec)):
            okc = ok[:, sl]
            xc, yc = x[:, sl], y[:, sl]
            good = okc[iu] & okc[ju]
            dx = xc[ju] - xc[iu]
            dy = yc[ju] - yc[iu]
            s = (good * np.sign(dx) * np.sign(dy)).sum(axis=0)
            xtie = (good & (dx == 0)).sum(axis=0).astype(float)
            ytie = (good & (dy == 0)).sum(axis=0).astype(float)
            n = okc.sum(axis=0).astype(float)
            tot = n * (n - 1) / 2
            both = okc[:, None, :] & okc[None, :, :]
            cx = ((xc[:, None, :] == xc[None, :, :]) & both).sum(axis=1).astype(float)
            cy = ((yc[:, None, :] == yc[None, :, :]) & both).sum(axis=1).astype(float)
            x0 = (okc * (cx - 1) * (cx - 2)).sum(axis=0)
            y0 = (okc * (cy - 1) * (cy - 2)).sum(axis=0)
            x1 = (okc * (cx - 1) * (2 * cx + 5)).sum(axis=0)
            y1 = (okc * (cy - 1) * (2 * cy + 5)).sum(axis=0)
            defined = (n >= 2) & (xtie < tot) & (ytie < tot)
            with np.errstate(invalid="ignore", divide="ignore"):
                t = s / np.sqrt(tot - xtie) / np.sqrt(tot - ytie)
                m = n * (n - 1)
                var = (
                    (m * (2 * n + 5) - x1 - y1) / 18
                    + 2 * xtie * ytie / m
                    + np.where(n > 2, x0 * y0 / (9 * m * (n - 2)), 0.0)
                )
                z = s / np.sqrt(var)
                p = erfc(np.abs(z) / math.sqrt(2))
            tau[sl] = np.where(defined, np.clip(t, -1, 1), math.nan)
            pval[sl] = np.where(defined & (var > 0), p, math.nan)
        return [tau, pval]


def _kendall_one(x: np.ndarray, y: np.ndarray) -> list[Column]:
    """tau-b and its asymptotic p-value of one column of more than two records, in
    O(N log N) (``scipy.stats.kendalltau`` evaluates the same formula as the pairwise path).
    """
    import warnings

    from scipy.stats import kendalltau

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return [np.array([math.nan]), np.array([math.nan])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = kendalltau(x, y, method="asymptotic")
    return [np.array([float(res.statistic)]), np.array([float(res.pvalue)])]


def _ranks(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of the valid values of each column; NaN elsewhere."""
    n_rec, p = x.shape
    out = np.full(x.shape, math.nan)
    if p == 1:
        from scipy.stats import rankdata

        sel = ok[:, 0]
        out[sel, 0] = rankdata(x[sel, 0], method="average")
        return out
    for sl in _column_chunks(n_rec, p, n_rec * n_rec):
        v = x[:, sl]
        okc = ok[:, sl]
        both = okc[:, None, :] & okc[None, :, :]
        less = ((v[None, :, :] < v[:, None, :]) & both).sum(axis=1)
        same = ((v[None, :, :] == v[:, None, :]) & both).sum(axis=1)
        out[:, sl] = np.where(okc, less + (same + 1) / 2.0, math.nan)
    return out


class Spearman(_Collect):
    """``spearmansCorrelation``: Pearson's correlation of the ranks."""

    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        x, y = xs
        rx, ry = _ranks(x, ok), _ranks(y, ok)
        n = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx = np.where(ok, rx, 0).sum(axis=0) / np.maximum(n, 1)
            my = np.where(ok, ry, 0).sum(axis=0) / np.maximum(n, 1)
            dx = np.where(ok, rx - mx, 0.0)
            dy = np.where(ok, ry - my, 0.0)
            sxx, syy, sxy = (dx * dx).sum(axis=0), (dy * dy).sum(axis=0), (dx * dy).sum(axis=0)
            r = np.where((sxx > 0) & (syy > 0), sxy / np.sqrt(sxx * syy), math.nan)
        return [np.clip(r, -1.0, 1.0)]
