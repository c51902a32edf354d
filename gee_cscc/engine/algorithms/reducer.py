"""``Reducer.*`` algorithms: reducer values and the statistics they compute.

A :class:`Reducer` describes a computation over records (see
:mod:`gee_cscc.engine.reduction` for how records come from pixel stacks, regions and
collections). Leaves (:class:`Primitive`) compute one statistic; :class:`Composite` runs
several reducers side by side (``combine``, ``forEach``, ``forEachBand``, ``setOutputs``),
:class:`Repeat` gives list-valued outputs and :class:`Group` reduces per group key.

Semantics follow the descriptions in earthengine-api's ``algorithms.json``:

* Weighted reducers (``sum``, ``mean``, ``stdDev``, ``variance``, ``sampleStdDev``,
  ``sampleVariance``, ``linearFit``, ``frequencyHistogram``, ``fixedHistogram``) weight each
  record (in a region: the covered fraction of the pixel times its mask); all others count
  each record once. ``linearRegression``, ``pearsonsCorrelation``, ``spearmansCorrelation``,
  ``sensSlope`` and ``kendallsCorrelation`` are treated as unweighted (their descriptions do
  not say "weighted").
* A null input (masked pixel, missing property) is skipped; ``countEvery``, ``first`` and
  ``last`` see it (``first``/``last`` then give null), ``firstNonNull``/``lastNonNull`` skip it.
  A multi-input record is skipped when any of its inputs is null (``toList``'s optional
  inputs excepted).
* ``max``/``min`` keep the earliest record on ties; extra inputs are returned with it.
* ``median``, ``percentile``, ``mode`` and ``intervalMean`` are exact: the local engine never
  switches to Earth Engine's histogram estimate (``maxBuckets``, ``minBucketWidth`` and
  ``maxRaw`` are accepted and ignored). Percentiles interpolate linearly between order
  statistics (the median of an even count is the mean of the middle two); ``mode`` takes the
  smallest of equally frequent values.
* ``sampleVariance`` with weights divides by ``Σw − 1``.
* ``sensSlope``: the slope is the median of the pairwise slopes ``(yj − yi)/(xj − xi)`` over
  pairs with ``xj ≠ xi``; the offset is the median of ``y − slope·x``.
* ``kendallsCorrelation`` outputs ``tau`` (Kendall's tau-b) and ``p-value``: the two-sided
  p-value of the normal approximation with tie corrections (what
  ``scipy.stats.kendalltau(method="asymptotic")`` computes); with one input, x is the record
  order. ``pearsonsCorrelation`` outputs ``correlation`` and the two-sided t-test
  ``p-value`` (n − 2 degrees of freedom); ``spearmansCorrelation`` outputs ``correlation``
  (Pearson's r of average ranks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import EEError
from ..reduction import Batch, column_value
from ..registry import algorithm
from ..values import Image, is_integer_dtype

__all__ = ["Reducer", "Primitive", "Composite", "Repeat", "Group", "for_each", "as_reducer"]

Column = Any  # np.ndarray (P,) float with NaN = null, or a list of P Python objects

#: The most elements a pairwise statistic (sensSlope, kendall, spearman, mode) builds at once.
PAIR_CHUNK = 4_000_000
#: The most pairs ``sensSlope`` keeps for one median (N·(N−1)/2).
MAX_PAIRS = 20_000_000


# --- reducer values ---------------------------------------------------------------------------


class Reducer:
    """A reducer: its inputs, its outputs and how to accumulate records.

    Attributes:
        name: The Earth Engine algorithm that made it (``Reducer.mean`` …).
        args: The arguments it was made with.
        n_inputs: The number of inputs of each record.
        outputs: The output names.
        integer_outputs: Per output, whether it is a count (returned as an integer).
        scalar_outputs: Per output, whether it is a number (else a list, array or dictionary).
    """

    name: str
    args: dict
    n_inputs: int
    outputs: list[str]
    integer_outputs: list[bool]
    scalar_outputs: list[bool]

    def accumulator(self, p: int, mode: str) -> Any:
        """A fresh accumulator for ``p`` columns; ``mode`` is pixels, region or records."""
        raise NotImplementedError

    def output_dtypes(self, input_dtypes: Sequence[str]) -> list[str]:
        """The pixel type of each output for inputs of the given types."""
        raise NotImplementedError

    def weighting(self) -> set[str]:
        """``{"weighted", "unweighted"}`` or a subset: the region memberships needed."""
        raise NotImplementedError

    def unweighted(self) -> Reducer:
        raise NotImplementedError

    @property
    def num_inputs(self) -> int:
        """The number of inputs (the interface ``Collection.reduceColumns`` uses)."""
        return self.n_inputs

    def reduce_columns(
        self, columns: Sequence[Sequence[Any]], weights: Sequence[Sequence[Any]] | None = None
    ) -> dict[str, Any]:
        """Reduce columns of Python values (one per input); see :func:`reduce_records`.

        ``weights`` is None or a list with one column of weights (``weightSelectors``).
        """
        from ..reduction import reduce_records

        w = None
        if weights:
            first = list(weights[0])
            if any(list(other) != first for other in weights[1:]):
                raise EEError(
                    f"{self.name}: the local engine supports one weight per record; "
                    "give a single weightSelector."
                )
            w = first
        return reduce_records(self, columns, w)

    def info(self) -> dict:
        from ..serialize import to_info

        return {"type": self.name, **{k: to_info(v) for k, v in self.args.items()}}

    def __repr__(self) -> str:
        return f"<{self.name} inputs={self.n_inputs} outputs={self.outputs}>"


class Primitive(Reducer):
    """A reducer computing one statistic (a leaf of the reducer tree)."""

    def __init__(
        self,
        name: str,
        kernel: type[_Kernel],
        *,
        outputs: Sequence[str],
        n_inputs: int = 1,
        weighted: bool = False,
        args: dict | None = None,
        params: dict | None = None,
        dtypes: Callable[[Sequence[str]], list[str]] | None = None,
        integer: Sequence[bool] | None = None,
        scalar: Sequence[bool] | None = None,
        explicit_weight: bool = False,
    ) -> None:
        self.name = name
        self.kernel = kernel
        self.outputs = list(outputs)
        self.n_inputs = int(n_inputs)
        self.weighted = weighted
        self.args = dict(args or {})
        self.params = dict(params or {})
        self._dtypes = dtypes
        self.integer_outputs = list(integer or [False] * len(self.outputs))
        self.scalar_outputs = list(scalar or [True] * len(self.outputs))
        self.explicit_weight = explicit_weight

    def _copy(self, **changes: Any) -> Primitive:
        fields = {
            "outputs": self.outputs,
            "n_inputs": self.n_inputs,
            "weighted": self.weighted,
            "args": self.args,
            "params": self.params,
            "dtypes": self._dtypes,
            "integer": self.integer_outputs,
            "scalar": self.scalar_outputs,
            "explicit_weight": self.explicit_weight,
        }
        fields.update(changes)
        return Primitive(self.name, self.kernel, **fields)

    def accumulator(self, p: int, mode: str) -> _Kernel:
        return self.kernel(self, p, mode)

    def output_dtypes(self, input_dtypes: Sequence[str]) -> list[str]:
        if self._dtypes is None:
            return ["float64"] * len(self.outputs)
        return self._dtypes(input_dtypes)

    def weighting(self) -> set[str]:
        return {"weighted"} if self.weighted else {"unweighted"}

    def unweighted(self) -> Primitive:
        return self._copy(weighted=False)

    def split_weights(self) -> Primitive:
        if not self.weighted:
            return self
        return self._copy(weighted=False, explicit_weight=True, n_inputs=self.n_inputs + 1)


class Composite(Reducer):
    """Reducers run side by side, each on some of the inputs, outputs renamed or dropped.

    Args:
        parts: ``(reducer, input indexes, output names)``; a None name drops that output.
    """

    def __init__(
        self,
        name: str,
        parts: Sequence[tuple[Reducer, Sequence[int], Sequence[str | None]]],
        *,
        n_inputs: int,
        args: dict | None = None,
    ) -> None:
        self.name = name
        self.args = dict(args or {})
        self.parts = [(r, list(idx), list(names)) for r, idx, names in parts]
        self.n_inputs = int(n_inputs)
        self.outputs, self.integer_outputs, self.scalar_outputs = [], [], []
        for r, idx, names in self.parts:
            if len(names) != len(r.outputs):
                raise EEError(f"{name}: expected {len(r.outputs)} output names, got {len(names)}.")
            if any(i >= self.n_inputs for i in idx):
                raise EEError(f"{name}: input index out of range.")
            for j, out in enumerate(names):
                if out is None:
                    continue
                if out in self.outputs:
                    raise EEError(f"{name}: duplicate output name '{out}'.")
                self.outputs.append(out)
                self.integer_outputs.append(r.integer_outputs[j])
                self.scalar_outputs.append(r.scalar_outputs[j])

    def accumulator(self, p: int, mode: str) -> _CompositeAcc:
        return _CompositeAcc(self, p, mode)

    def output_dtypes(self, input_dtypes: Sequence[str]) -> list[str]:
        out = []
        for r, idx, names in self.parts:
            types = r.output_dtypes([input_dtypes[i] for i in idx])
            out.extend(t for t, n in zip(types, names, strict=False) if n is not None)
        return out

    def weighting(self) -> set[str]:
        return set().union(*(r.weighting() for r, _, _ in self.parts)) if self.parts else set()

    def unweighted(self) -> Composite:
        parts = [(r.unweighted(), idx, names) for r, idx, names in self.parts]
        return Composite(self.name, parts, n_inputs=self.n_inputs, args=self.args)


class Repeat(Reducer):
    """``count`` copies of a reducer on consecutive inputs; each output is a list."""

    def __init__(self, reducer: Reducer, count: int) -> None:
        if count < 1:
            raise EEError("Reducer.repeat: count must be at least 1.")
        self.name = "Reducer.repeat"
        self.args = {"reducer": reducer, "count": count}
        self.child = reducer
        self.count = int(count)
        self.n_inputs = reducer.n_inputs * self.count
        self.outputs = list(reducer.outputs)
        self.integer_outputs = [False] * len(self.outputs)
        self.scalar_outputs = [False] * len(self.outputs)

    def accumulator(self, p: int, mode: str) -> _RepeatAcc:
        return _RepeatAcc(self, p, mode)

    def output_dtypes(self, input_dtypes: Sequence[str]) -> list[str]:
        return ["float64"] * len(self.outputs)

    def weighting(self) -> set[str]:
        return self.child.weighting()

    def unweighted(self) -> Repeat:
        return Repeat(self.child.unweighted(), self.count)


class Group(Reducer):
    """Reduces records per value of one input (``Reducer.group``); output ``groups``."""

    def __init__(self, reducer: Reducer, group_field: int, group_name: str) -> None:
        self.name = "Reducer.group"
        self.args = {"reducer": reducer, "groupField": group_field, "groupName": group_name}
        self.child = reducer
        self.n_inputs = reducer.n_inputs + 1
        if not 0 <= group_field < self.n_inputs:
            raise EEError(
                f"Reducer.group: groupField {group_field} is out of range for a reducer "
                f"with {self.n_inputs} inputs."
            )
        self.group_field = int(group_field)
        self.group_name = str(group_name)
        self.outputs = ["groups"]
        self.integer_outputs = [False]
        self.scalar_outputs = [False]

    def accumulator(self, p: int, mode: str) -> _GroupAcc:
        return _GroupAcc(self, p, mode)

    def output_dtypes(self, input_dtypes: Sequence[str]) -> list[str]:
        return ["float64"]

    def weighting(self) -> set[str]:
        return self.child.weighting() | {"unweighted"}

    def unweighted(self) -> Group:
        return Group(self.child.unweighted(), self.group_field, self.group_name)


def for_each(
    reducer: Reducer, names: Sequence[str], *, always_prefix: bool = False, name: str = ""
) -> Reducer:
    """Copies of a reducer, one per name, on consecutive inputs (``Reducer.forEach``).

    A single-output reducer's outputs are the names themselves, unless ``always_prefix``
    (``ImageCollection.reduce``), which gives ``<name>_<output>`` as multi-output ones do.
    """
    parts = []
    k = reducer.n_inputs
    for i, n in enumerate(names):
        if len(reducer.outputs) == 1 and not always_prefix:
            outs = [str(n)]
        else:
            outs = [f"{n}_{o}" for o in reducer.outputs]
        parts.append((reducer, list(range(i * k, (i + 1) * k)), outs))
    return Composite(
        name or "Reducer.forEach",
        parts,
        n_inputs=k * len(names),
        args={"reducer": reducer, "outputNames": list(names)},
    )


def as_reducer(value: Any, what: str) -> Reducer:
    if not isinstance(value, Reducer):
        raise EEError(f"{what}: expected a Reducer, got {type(value).__name__}.")
    return value


# --- accumulators of composite reducers -------------------------------------------------------


class _CompositeAcc:
    def __init__(self, reducer: Composite, p: int, mode: str) -> None:
        self.parts = [(r.accumulator(p, mode), idx, names) for r, idx, names in reducer.parts]

    def add(self, batch: Batch) -> None:
        for acc, idx, _ in self.parts:
            acc.add(batch.select(idx))

    def result(self) -> list[Column]:
        out = []
        for acc, _, names in self.parts:
            out.extend(c for c, n in zip(acc.result(), names, strict=False) if n is not None)
        return out


class _RepeatAcc:
    def __init__(self, reducer: Repeat, p: int, mode: str) -> None:
        self.reducer = reducer
        self.p = p
        k = reducer.child.n_inputs
        self.copies = [
            (reducer.child.accumulator(p, mode), list(range(i * k, (i + 1) * k)))
            for i in range(reducer.count)
        ]

    def add(self, batch: Batch) -> None:
        for acc, idx in self.copies:
            acc.add(batch.select(idx))

    def result(self) -> list[Column]:
        results = [acc.result() for acc, _ in self.copies]
        ints = self.reducer.child.integer_outputs
        out = []
        for j in range(len(self.reducer.outputs)):
            out.append(
                [
                    [column_value(res[j], q, integer=ints[j]) for res in results]
                    for q in range(self.p)
                ]
            )
        return out


def _group_key(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return int(f) if f.is_integer() else f
    return v


class _GroupAcc:
    def __init__(self, reducer: Group, p: int, mode: str) -> None:
        if p != 1:
            raise EEError("Reducer.group gives a dictionary; it cannot make image pixels.")
        self.reducer = reducer
        self.mode = mode
        self.groups: dict[Any, Any] = {}

    def add(self, batch: Batch) -> None:
        g = self.reducer.group_field
        others = [i for i in range(self.reducer.n_inputs) if i != g]
        member = np.asarray(batch.centre, bool)[:, 0] | (np.asarray(batch.frac)[:, 0] > 0)
        ok = batch.valid[g][:, 0] & member
        if not ok.any():
            return
        sub = batch.select(others)
        keys = np.array([_group_key(v) for v in batch.x[g][:, 0][ok]], dtype=object)
        rows = np.nonzero(ok)[0]
        for key in dict.fromkeys(keys.tolist()):
            keep = np.zeros(batch.n, dtype=bool)
            keep[rows[keys == key]] = True
            acc = self.groups.get(key)
            if acc is None:
                acc = self.groups[key] = self.reducer.child.accumulator(1, self.mode)
            acc.add(sub.rows(keep))

    def result(self) -> list[Column]:
        child = self.reducer.child
        out = []
        for key in sorted(self.groups, key=lambda k: (isinstance(k, str), k)):
            entry = {self.reducer.group_name: key}
            cols = self.groups[key].result()
            for name, col, integer in zip(child.outputs, cols, child.integer_outputs, strict=False):
                entry[name] = column_value(col, 0, integer=integer)
            out.append(entry)
        return [[out]]


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


class _Kernel:
    """Base of the statistic accumulators: the records a primitive takes and their weights."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
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
        ok = member.copy()
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

    def empty(self, identity: float) -> float:
        """The value of an empty reduction: null for pixels, ``identity`` elsewhere."""
        return math.nan if self.mode == "pixels" else identity

    def add(self, batch: Batch) -> None:
        raise NotImplementedError

    def result(self) -> list[Column]:
        raise NotImplementedError


class _Count(_Kernel):
    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.n = np.zeros(p)

    def add(self, batch: Batch) -> None:
        _, member, ok, _ = self.prepare(batch, numeric=False)
        self.n += (member if self.prim.params.get("every") else ok).sum(axis=0)

    def result(self) -> list[Column]:
        return [np.where(self.n > 0, self.n, self.empty(0.0))]


class _Moments(_Kernel):
    """Weighted sum, mean and (sample) variance with Chan's parallel update."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.w = np.zeros(p)
        self.mean = np.zeros(p)
        self.m2 = np.zeros(p)
        self.total = np.zeros(p)
        self.n = np.zeros(p)

    def add(self, batch: Batch) -> None:
        (x,), _, ok, w = self.prepare(batch)
        x = np.where(ok, x, 0.0)
        wb = w.sum(axis=0)
        sb = (w * x).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mb = np.where(wb > 0, sb / np.where(wb > 0, wb, 1.0), 0.0)
        m2b = (w * (x - mb) ** 2).sum(axis=0)
        wt = self.w + wb
        safe = np.where(wt > 0, wt, 1.0)
        delta = mb - self.mean
        self.mean = np.where(wt > 0, self.mean + delta * wb / safe, 0.0)
        self.m2 = self.m2 + m2b + delta**2 * self.w * wb / safe
        self.w = wt
        self.total += sb
        self.n += ok.sum(axis=0)

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


class _Fold(_Kernel):
    """product, allNonZero, anyNonZero."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
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


def _raw_take(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x[idx[p], p]`` for every column ``p``."""
    return np.take_along_axis(x, idx[None, :], axis=0)[0]


class _Extreme(_Kernel):
    """max/min of the first input, the others taken from the same record; earliest on ties."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.has = np.zeros(p, dtype=bool)
        self.best = np.full(p, -np.inf)
        self.order = np.zeros(p, dtype=np.int64)
        self.values: list[np.ndarray] | None = None

    def add(self, batch: Batch) -> None:
        xs, _, ok, _ = self.prepare(batch)
        if batch.n == 0:
            return
        sign = self.prim.params["sign"]
        key = np.where(ok, xs[0] * sign, -np.inf)
        top = key.max(axis=0)
        idx = np.argmax(ok & (key == top[None, :]), axis=0)
        has = ok.any(axis=0)
        order = batch.order[idx]
        better = has & (~self.has | (top > self.best) | ((top == self.best) & (order < self.order)))
        raw = [_raw_take(np.asarray(x), idx) for x in batch.x[: self.prim.n_inputs]]
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


class _Pick(_Kernel):
    """first, last, firstNonNull, lastNonNull (by record order)."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
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
        raw = _raw_take(np.asarray(batch.x[0]), idx)
        if self.value is None:
            self.value = np.full(self.p, None if raw.dtype == object else math.nan, dtype=raw.dtype)
        self.value[better] = raw[better]
        self.null = np.where(better, ~_raw_take(ok, idx), self.null)
        self.order = np.where(better, order, self.order)
        self.has |= has

    def result(self) -> list[Column]:
        if self.value is None:
            return [np.full(self.p, math.nan)]
        keep = self.has & ~self.null
        if self.value.dtype == object:
            return [[v if k else None for v, k in zip(self.value, keep, strict=False)]]
        return [np.where(keep, self.value.astype(float), math.nan)]


class _CoMoments(_Kernel):
    """linearFit (weighted) and pearsonsCorrelation: merged means and co-moments of (x, y)."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
        super().__init__(prim, p, mode)
        self.w = np.zeros(p)
        self.n = np.zeros(p)
        self.mx = np.zeros(p)
        self.my = np.zeros(p)
        self.sxx = np.zeros(p)
        self.syy = np.zeros(p)
        self.sxy = np.zeros(p)

    def add(self, batch: Batch) -> None:
        (x, y), _, ok, w = self.prepare(batch)
        x = np.where(ok, x, 0.0)
        y = np.where(ok, y, 0.0)
        wb = w.sum(axis=0)
        safe_b = np.where(wb > 0, wb, 1.0)
        mxb = (w * x).sum(axis=0) / safe_b
        myb = (w * y).sum(axis=0) / safe_b
        dxb, dyb = x - mxb, y - myb
        sxxb = (w * dxb * dxb).sum(axis=0)
        syyb = (w * dyb * dyb).sum(axis=0)
        sxyb = (w * dxb * dyb).sum(axis=0)
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
        self.n += ok.sum(axis=0)

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


class _LinearRegression(_Kernel):
    """Least squares of numY outputs on numX inputs via accumulated normal equations."""

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
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


# --- statistics that need all records ----------------------------------------------------------


class _Collect(_Kernel):
    """Keeps the records it takes and computes the statistic at the end (in record order)."""

    numeric = True

    def __init__(self, prim: Primitive, p: int, mode: str) -> None:
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

    def compute(self, *data: Any) -> list[Column]:
        raise NotImplementedError


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
    a = _raw_take(s, lo)
    b = _raw_take(s, hi)
    with np.errstate(invalid="ignore"):
        v = np.where(hi == lo, a, a + (b - a) * (pos - lo))
    return np.where(n > 0, v, math.nan)


class _Percentiles(_Collect):
    def compute(self, xs, vs, member, ok, w, order) -> list[Column]:
        return [_quantile(xs[0], ok, q / 100.0) for q in self.prim.params["percentiles"]]


class _IntervalMean(_Collect):
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


class _Mode(_Collect):
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


class _ToList(_Collect):
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


class _FrequencyHistogram(_Collect):
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


class _FixedHistogram(_Collect):
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


class _SensSlope(_Collect):
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


class _Kendall(_Collect):
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


class _Spearman(_Collect):
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


# --- pixel types of outputs --------------------------------------------------------------------


def _float(n: int) -> Callable[[Sequence[str]], list[str]]:
    return lambda types: ["float64"] * n


def _same(types: Sequence[str]) -> list[str]:
    return list(types)


def _first_type(types: Sequence[str]) -> list[str]:
    return [types[0] if types else "float64"]


def _sum_type(types: Sequence[str]) -> list[str]:
    return ["int64" if types and is_integer_dtype(types[0]) else "float64"]


# --- algorithms -------------------------------------------------------------------------------


def _int_arg(value: Any, what: str, *, minimum: int = 1) -> int:
    if value is None or isinstance(value, bool) or not float(value).is_integer():
        raise EEError(f"{what}: expected an integer, got {value!r}.")
    if int(value) < minimum:
        raise EEError(f"{what}: must be at least {minimum}, got {int(value)}.")
    return int(value)


def _simple(name: str, kernel: type[_Kernel], output: str, **kw: Any) -> None:
    @algorithm(name)
    def make() -> Reducer:
        return Primitive(name, kernel, outputs=[output], **kw)


_simple("Reducer.count", _Count, "count", integer=[True], dtypes=lambda t: ["int64"])
_simple(
    "Reducer.countEvery",
    _Count,
    "count",
    integer=[True],
    dtypes=lambda t: ["int64"],
    params={"every": True},
)
for _stat, _out in (
    ("sum", "sum"),
    ("mean", "mean"),
    ("stdDev", "stdDev"),
    ("variance", "variance"),
    ("sampleStdDev", "stdDev"),
    ("sampleVariance", "variance"),
):
    _simple(
        f"Reducer.{_stat}",
        _Moments,
        _out,
        weighted=True,
        params={"stat": _stat},
        dtypes=_sum_type if _stat == "sum" else _float(1),
    )
_simple("Reducer.product", _Fold, "product", params={"op": "product"})
for _name, _op, _out in (
    ("Reducer.allNonZero", "all", "all"),
    ("Reducer.and", "all", "all"),
    ("Reducer.anyNonZero", "any", "any"),
    ("Reducer.or", "any", "any"),
):
    _simple(_name, _Fold, _out, params={"op": _op}, dtypes=lambda t: ["uint8"])
for _stat, _last, _nonnull, _out in (
    ("first", False, False, "first"),
    ("firstNonNull", False, True, "first"),
    ("last", True, False, "last"),
    ("lastNonNull", True, True, "last"),
):
    _simple(
        f"Reducer.{_stat}",
        _Pick,
        _out,
        params={"last": _last, "nonnull": _nonnull},
        dtypes=_first_type,
    )


def _extreme(kind: str, num_inputs: Any) -> Primitive:
    k = _int_arg(num_inputs, f"Reducer.{kind}: numInputs")
    return Primitive(
        f"Reducer.{kind}",
        _Extreme,
        outputs=[kind] + [f"{kind}{i}" for i in range(1, k)],
        n_inputs=k,
        args={"numInputs": k},
        params={"sign": 1.0 if kind == "max" else -1.0},
        dtypes=_same,
    )


@algorithm("Reducer.max")
def max_(numInputs: Any = 1) -> Reducer:
    return _extreme("max", numInputs)


@algorithm("Reducer.min")
def min_(numInputs: Any = 1) -> Reducer:
    return _extreme("min", numInputs)


@algorithm("Reducer.minMax")
def min_max() -> Reducer:
    parts = [(_extreme("min", 1), [0], ["min"]), (_extreme("max", 1), [0], ["max"])]
    return Composite("Reducer.minMax", parts, n_inputs=1)


@algorithm("Reducer.sensSlope")
def sens_slope() -> Reducer:
    return Primitive("Reducer.sensSlope", _SensSlope, outputs=["slope", "offset"], n_inputs=2)


@algorithm("Reducer.linearFit")
def linear_fit() -> Reducer:
    return Primitive(
        "Reducer.linearFit",
        _CoMoments,
        outputs=["scale", "offset"],
        n_inputs=2,
        weighted=True,
        params={"stat": "linearFit"},
    )


@algorithm("Reducer.pearsonsCorrelation")
def pearsons_correlation() -> Reducer:
    return Primitive(
        "Reducer.pearsonsCorrelation",
        _CoMoments,
        outputs=["correlation", "p-value"],
        n_inputs=2,
        params={"stat": "pearson"},
    )


@algorithm("Reducer.spearmansCorrelation")
def spearmans_correlation() -> Reducer:
    return Primitive("Reducer.spearmansCorrelation", _Spearman, outputs=["correlation"], n_inputs=2)


@algorithm("Reducer.kendallsCorrelation")
def kendalls_correlation(numInputs: Any = 1) -> Reducer:
    k = _int_arg(numInputs, "Reducer.kendallsCorrelation: numInputs")
    if k not in (1, 2):
        raise EEError(f"Reducer.kendallsCorrelation: numInputs must be 1 or 2, got {k}.")
    return Primitive(
        "Reducer.kendallsCorrelation",
        _Kendall,
        outputs=["tau", "p-value"],
        n_inputs=k,
        args={"numInputs": k},
    )


@algorithm("Reducer.linearRegression")
def linear_regression(numX: Any, numY: Any = 1) -> Reducer:
    nx = _int_arg(numX, "Reducer.linearRegression: numX")
    ny = _int_arg(numY, "Reducer.linearRegression: numY")
    return Primitive(
        "Reducer.linearRegression",
        _LinearRegression,
        outputs=["coefficients", "residuals"],
        n_inputs=nx + ny,
        args={"numX": nx, "numY": ny},
        params={"numX": nx, "numY": ny},
        scalar=[False, False],
    )


def _histogram_args(maxBuckets: Any, minBucketWidth: Any, maxRaw: Any) -> dict:
    return {
        k: v
        for k, v in (
            ("maxBuckets", maxBuckets),
            ("minBucketWidth", minBucketWidth),
            ("maxRaw", maxRaw),
        )
        if v is not None
    }


@algorithm("Reducer.median")
def median(maxBuckets: Any = None, minBucketWidth: Any = None, maxRaw: Any = None) -> Reducer:
    return Primitive(
        "Reducer.median",
        _Percentiles,
        outputs=["median"],
        args=_histogram_args(maxBuckets, minBucketWidth, maxRaw),
        params={"percentiles": [50.0]},
    )


def _percentile_name(q: float) -> str:
    return f"p{int(q)}" if float(q).is_integer() else f"p{q}"


@algorithm("Reducer.percentile")
def percentile(
    percentiles: Any,
    outputNames: Any = None,
    maxBuckets: Any = None,
    minBucketWidth: Any = None,
    maxRaw: Any = None,
) -> Reducer:
    if not isinstance(percentiles, (list, tuple)) or not percentiles:
        raise EEError("Reducer.percentile: percentiles must be a non-empty list of numbers.")
    qs = [float(q) for q in percentiles]
    if any(not 0 <= q <= 100 for q in qs):
        raise EEError(f"Reducer.percentile: percentiles must be between 0 and 100, got {qs}.")
    names = (
        [_percentile_name(q) for q in qs] if outputNames is None else [str(n) for n in outputNames]
    )
    if len(names) != len(qs):
        raise EEError("Reducer.percentile: outputNames must have one name per percentile.")
    args = {"percentiles": qs, **_histogram_args(maxBuckets, minBucketWidth, maxRaw)}
    if outputNames is not None:
        args["outputNames"] = names
    return Primitive(
        "Reducer.percentile", _Percentiles, outputs=names, args=args, params={"percentiles": qs}
    )


@algorithm("Reducer.intervalMean")
def interval_mean(
    minPercentile: Any,
    maxPercentile: Any,
    maxBuckets: Any = None,
    minBucketWidth: Any = None,
    maxRaw: Any = None,
) -> Reducer:
    lo, hi = float(minPercentile), float(maxPercentile)
    return Primitive(
        "Reducer.intervalMean",
        _IntervalMean,
        outputs=["mean"],
        args={"minPercentile": lo, "maxPercentile": hi},
        params={"min": lo, "max": hi},
    )


@algorithm("Reducer.mode")
def mode(maxBuckets: Any = None, minBucketWidth: Any = None, maxRaw: Any = None) -> Reducer:
    return Primitive(
        "Reducer.mode",
        _Mode,
        outputs=["mode"],
        args=_histogram_args(maxBuckets, minBucketWidth, maxRaw),
        dtypes=_first_type,
    )


@algorithm("Reducer.toList")
def to_list(tupleSize: Any = None, numOptional: Any = 0) -> Reducer:
    k = 1 if tupleSize is None else _int_arg(tupleSize, "Reducer.toList: tupleSize")
    n_opt = _int_arg(numOptional or 0, "Reducer.toList: numOptional", minimum=0)
    if n_opt > k:
        raise EEError("Reducer.toList: numOptional exceeds the number of inputs.")
    return Primitive(
        "Reducer.toList",
        _ToList,
        outputs=["list"],
        n_inputs=k,
        args={"tupleSize": tupleSize, "numOptional": n_opt},
        params={"tupleSize": tupleSize, "numOptional": n_opt},
        scalar=[False],
    )


@algorithm("Reducer.frequencyHistogram")
def frequency_histogram() -> Reducer:
    return Primitive(
        "Reducer.frequencyHistogram",
        _FrequencyHistogram,
        outputs=["histogram"],
        weighted=True,
        scalar=[False],
    )


@algorithm("Reducer.fixedHistogram")
def fixed_histogram(min: Any, max: Any, steps: Any, cumulative: Any = False) -> Reducer:  # noqa: A002
    n = _int_arg(steps, "Reducer.fixedHistogram: steps")
    lo, hi = float(min), float(max)
    if not hi > lo:
        raise EEError("Reducer.fixedHistogram: max must be greater than min.")
    params = {"min": lo, "max": hi, "steps": n, "cumulative": bool(cumulative)}
    return Primitive(
        "Reducer.fixedHistogram",
        _FixedHistogram,
        outputs=["histogram"],
        weighted=True,
        args=params,
        params=params,
        scalar=[False],
    )


# --- combinators --------------------------------------------------------------------------------


@algorithm("Reducer.combine")
def combine(
    reducer1: Any, reducer2: Any, outputPrefix: Any = "", sharedInputs: Any = False
) -> Reducer:
    r1 = as_reducer(reducer1, "Reducer.combine reducer1")
    r2 = as_reducer(reducer2, "Reducer.combine reducer2")
    prefix = outputPrefix or ""
    if sharedInputs:
        if r1.n_inputs != r2.n_inputs:
            raise EEError(
                "Reducer.combine: with sharedInputs the reducers must have the same number "
                f"of inputs; got {r1.n_inputs} and {r2.n_inputs}."
            )
        idx2 = list(range(r2.n_inputs))
        n = r1.n_inputs
    else:
        idx2 = list(range(r1.n_inputs, r1.n_inputs + r2.n_inputs))
        n = r1.n_inputs + r2.n_inputs
    parts = [
        (r1, list(range(r1.n_inputs)), list(r1.outputs)),
        (r2, idx2, [prefix + o for o in r2.outputs]),
    ]
    args = {
        "reducer1": r1,
        "reducer2": r2,
        "outputPrefix": prefix,
        "sharedInputs": bool(sharedInputs),
    }
    return Composite("Reducer.combine", parts, n_inputs=n, args=args)


@algorithm("Reducer.group")
def group(reducer: Any, groupField: Any = 0, groupName: Any = "group") -> Reducer:
    r = as_reducer(reducer, "Reducer.group")
    field = _int_arg(groupField, "Reducer.group: groupField", minimum=0)
    return Group(r, field, groupName or "group")


@algorithm("Reducer.repeat")
def repeat(reducer: Any, count: Any) -> Reducer:
    return Repeat(as_reducer(reducer, "Reducer.repeat"), _int_arg(count, "Reducer.repeat: count"))


@algorithm("Reducer.forEach")
def for_each_names(reducer: Any, outputNames: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.forEach")
    if not isinstance(outputNames, (list, tuple)):
        raise EEError("Reducer.forEach: outputNames must be a list of strings.")
    return for_each(r, [str(n) for n in outputNames])


@algorithm("Reducer.forEachBand")
def for_each_band(reducer: Any, image: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.forEachBand")
    if not isinstance(image, Image):
        raise EEError("Reducer.forEachBand: expected an Image.")
    return for_each(r, image.band_names, name="Reducer.forEachBand")


@algorithm("Reducer.setOutputs")
def set_outputs(reducer: Any, outputs: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.setOutputs")
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(r.outputs):
        raise EEError(
            f"Reducer.setOutputs: expected {len(r.outputs)} output names, got {outputs!r}."
        )
    names = [str(o) if o else None for o in outputs]
    return Composite(
        "Reducer.setOutputs",
        [(r, list(range(r.n_inputs)), names)],
        n_inputs=r.n_inputs,
        args={"reducer": r, "outputs": list(outputs)},
    )


@algorithm("Reducer.unweighted")
def unweighted(reducer: Any) -> Reducer:
    return as_reducer(reducer, "Reducer.unweighted").unweighted()


@algorithm("Reducer.splitWeights")
def split_weights(reducer: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.splitWeights")
    if isinstance(r, Primitive):
        return r.split_weights()
    if "weighted" not in r.weighting():
        return r
    raise EEError(
        "Reducer.splitWeights: the local engine splits the weights of single reducers only "
        f"(not of {r.name})."
    )


@algorithm("Reducer.getOutputs")
def get_outputs(reducer: Any) -> list[str]:
    return list(as_reducer(reducer, "Reducer.getOutputs").outputs)
