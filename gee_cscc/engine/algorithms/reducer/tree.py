"""The reducer values of ``Reducer.*``: a tree of statistics and how it accumulates records.

A :class:`Reducer` describes a computation over records (see
:mod:`gee_cscc.engine.raster.reduction` for how records come from pixel stacks, regions and
collections). Leaves (:class:`Primitive`) compute one statistic with a kernel of
:mod:`.kernels` or :mod:`.collect_kernels`; :class:`Composite` runs
several reducers side by side (``combine``, ``forEach``, ``forEachBand``, ``setOutputs``),
:class:`Repeat` gives list-valued outputs and :class:`Group` reduces per group key. The
algorithms that make them are registered in :mod:`.reducers`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...core.records import Batch, column_value
from ...errors import EEError
from .copies import CopiesAcc
from .kernels import Column, Kernel

__all__ = ["Reducer", "Primitive", "Composite", "Repeat", "Group", "for_each", "as_reducer"]


# --- reducer values ---------------------------------------------------------------------------


class Reducer(ABC):
    """A reducer: its inputs, its outputs and how to accumulate records.

    Attributes
    ----------
    name : str
        The Earth Engine algorithm that made it (``Reducer.mean`` …).
    args : dict
        The arguments it was made with.
    n_inputs : int
        The number of inputs of each record.
    outputs : list of str
        The output names.
    integer_outputs : list of bool
        Per output, whether it is a count (returned as an integer).
    scalar_outputs : list of bool
        Per output, whether it is a number (else a list, array or dictionary).
    """

    ee_type = "Reducer"

    name: str
    args: dict
    n_inputs: int
    outputs: list[str]
    integer_outputs: list[bool]
    scalar_outputs: list[bool]

    @abstractmethod
    def accumulator(self, p: int, mode: str) -> Any:
        """A fresh accumulator for ``p`` columns; ``mode`` is pixels, region or records."""

    @abstractmethod
    def output_dtypes(self, input_dtypes: Sequence[str]) -> list[str]:
        """The pixel type of each output for inputs of the given types."""

    @abstractmethod
    def weighting(self) -> set[str]:
        """``{"weighted", "unweighted"}`` or a subset: the region memberships needed."""

    @abstractmethod
    def unweighted(self) -> Reducer:
        """Implemented by each subclass."""

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
        from ...core.records import reduce_records

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
        from ...core.serialize import to_info

        return {"type": self.name, **{k: to_info(v) for k, v in self.args.items()}}

    def __repr__(self) -> str:
        return f"<{self.name} inputs={self.n_inputs} outputs={self.outputs}>"


class Primitive(Reducer):
    """A reducer computing one statistic (a leaf of the reducer tree)."""

    def __init__(
        self,
        name: str,
        kernel: type[Kernel],
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

    def accumulator(self, p: int, mode: str) -> Kernel:
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

    Parameters
    ----------
    name : str
        The Earth Engine algorithm that made it.
    parts : sequence of (Reducer, sequence of int, sequence of str or None)
        ``(reducer, input indexes, output names)``; a None name drops that output.
    n_inputs : int, keyword-only
        The number of inputs of each record.
    args : dict, optional, keyword-only
        The arguments it was made with.
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


def _columnwise(reducer: Reducer) -> bool:
    """Whether every output column of the reducer's accumulator reads only its own column."""
    if isinstance(reducer, Primitive):
        return bool(getattr(reducer.kernel, "columnwise", False))
    if isinstance(reducer, Composite):
        return all(_columnwise(r) for r, _, _ in reducer.parts)
    if isinstance(reducer, Repeat):
        return _columnwise(reducer.child)
    return False


def _copies(reducer: Reducer, count: int, p: int, mode: str) -> CopiesAcc:
    # side by side only for region records (P = 1, numbers): bounded extra memory
    wide = mode == "region" and p == 1 and count > 1 and _columnwise(reducer)
    return CopiesAcc(reducer, count, p, mode, wide=wide)


class _CompositeAcc:
    def __init__(self, reducer: Composite, p: int, mode: str) -> None:
        parts = reducer.parts
        first = parts[0][0] if parts else None
        k = first.n_inputs if first is not None else 0
        # forEach: one reducer on consecutive inputs, reduced as copies
        self.copies = (
            _copies(first, len(parts), p, mode)
            if parts
            and all(r is first and idx == list(range(i * k, (i + 1) * k))
                    for i, (r, idx, _) in enumerate(parts))
            else None
        )  # fmt: skip
        self.names = [names for _, _, names in parts]
        if self.copies is None:
            self.parts = [(r.accumulator(p, mode), idx, names) for r, idx, names in parts]

    def add(self, batch: Batch) -> None:
        if self.copies is not None:
            self.copies.add(batch)
            return
        for acc, idx, _ in self.parts:
            acc.add(batch.select(idx))

    def result(self) -> list[Column]:
        if self.copies is not None:
            results = self.copies.results()
        else:
            results = [acc.result() for acc, _, _ in self.parts]
        out = []
        for cols, names in zip(results, self.names, strict=True):
            out.extend(c for c, n in zip(cols, names, strict=False) if n is not None)
        return out


class _RepeatAcc:
    def __init__(self, reducer: Repeat, p: int, mode: str) -> None:
        self.reducer = reducer
        self.p = p
        self.copies = _copies(reducer.child, reducer.count, p, mode)

    def add(self, batch: Batch) -> None:
        self.copies.add(batch)

    def result(self) -> list[Column]:
        results = self.copies.results()
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


def _group_runs(column: np.ndarray, rows: np.ndarray):
    """``(rows by group, [(key, start, stop), ...])`` for a numeric column without NaN, else None.

    One stable sort puts every group's rows together, each group's in their order, so a
    group is the run ``start:stop`` of the sorted rows; groups in order of first appearance.
    """
    if (
        column.dtype == object
        or not np.issubdtype(column.dtype, np.number)
        or np.isnan(column.astype(float)).any()
    ):
        return None
    distinct, first, inverse = np.unique(column, return_index=True, return_inverse=True)
    by_group = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[by_group], np.arange(len(distinct) + 1))
    runs = [
        (_group_key(distinct[u]), int(bounds[u]), int(bounds[u + 1]))
        for u in np.argsort(first, kind="stable")
    ]
    return rows[by_group], runs


def _groups_of(column: np.ndarray, rows: np.ndarray):
    """``(key, rows)`` per distinct group value, in order of first appearance.

    Numeric columns without NaN are grouped with one sort (:func:`_group_runs`); anything
    else value by value through :func:`_group_key`.
    """
    grouped = _group_runs(column, rows)
    if grouped is not None:
        ordered, runs = grouped
        for key, start, stop in runs:
            yield key, ordered[start:stop]
        return
    keys = np.array([_group_key(v) for v in column], dtype=object)
    for key in dict.fromkeys(keys.tolist()):
        yield key, rows[keys == key]


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
        rows = np.nonzero(ok)[0]
        column = batch.x[g][:, 0][ok]
        grouped = _group_runs(column, rows)
        if grouped is not None:  # the records taken once in group order; a group is a slice
            ordered, runs = grouped
            taken = sub.take(ordered)
            for key, start, stop in runs:
                self._child(key).add(taken.slice(start, stop))
            return
        for key, selected in _groups_of(column, rows):
            # ``selected`` is ascending: the records keep their order
            self._child(key).add(sub.take(selected))

    def _child(self, key: Any) -> Any:
        acc = self.groups.get(key)
        if acc is None:
            acc = self.groups[key] = self.reducer.child.accumulator(1, self.mode)
        return acc

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
