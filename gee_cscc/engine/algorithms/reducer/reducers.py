"""``Reducer.*`` algorithms: reducer values and the statistics they compute.

A :class:`Reducer` describes a computation over records (see
:mod:`gee_cscc.engine.raster.reduction` for how records come from pixel stacks, regions and
collections). Leaves (:class:`Primitive`) compute one statistic; :class:`Composite` runs
several reducers side by side (``combine``, ``forEach``, ``forEachBand``, ``setOutputs``),
:class:`Repeat` gives list-valued outputs and :class:`Group` reduces per group key. The
values are defined in :mod:`.tree`, the statistics in :mod:`.kernels`
(one pass) and :mod:`.collect_kernels` (all records); this module registers the
algorithms that make them (the combinators are in :mod:`.combinators`).

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

from collections.abc import Callable, Sequence
from typing import Any

from ...core.arguments import as_number
from ...core.registry import algorithm
from ...core.values import is_integer_dtype
from ...errors import EEError
from .collect_kernels import (
    FixedHistogram,
    FrequencyHistogram,
    IntervalMean,
    Kendall,
    Mode,
    Percentiles,
    SensSlope,
    Spearman,
    ToList,
)
from .kernels import (
    CoMoments,
    Count,
    Extreme,
    Fold,
    Kernel,
    LinearRegression,
    Moments,
    Pick,
)
from .tree import Composite, Primitive, Reducer

__all__ = ["int_at_least"]


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


def int_at_least(value: int, what: str, *, minimum: int = 1) -> int:
    """An ``Integer`` argument (an ``int`` from the registry) checked to be at least ``minimum``."""
    if value < minimum:
        raise EEError(f"{what}: must be at least {minimum}, got {value}.")
    return value


def _simple(name: str, kernel: type[Kernel], output: str, **kw: Any) -> None:
    @algorithm(name)
    def make() -> Reducer:
        return Primitive(name, kernel, outputs=[output], **kw)


_simple("Reducer.count", Count, "count", integer=[True], dtypes=lambda t: ["int64"])
_simple(
    "Reducer.countEvery",
    Count,
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
        Moments,
        _out,
        weighted=True,
        params={"stat": _stat},
        dtypes=_sum_type if _stat == "sum" else _float(1),
    )
_simple("Reducer.product", Fold, "product", params={"op": "product"})
for _name, _op, _out in (
    ("Reducer.allNonZero", "all", "all"),
    ("Reducer.and", "all", "all"),
    ("Reducer.anyNonZero", "any", "any"),
    ("Reducer.or", "any", "any"),
):
    _simple(_name, Fold, _out, params={"op": _op}, dtypes=lambda t: ["uint8"])
for _stat, _last, _nonnull, _out in (
    ("first", False, False, "first"),
    ("firstNonNull", False, True, "first"),
    ("last", True, False, "last"),
    ("lastNonNull", True, True, "last"),
):
    _simple(
        f"Reducer.{_stat}",
        Pick,
        _out,
        params={"last": _last, "nonnull": _nonnull},
        dtypes=_first_type,
    )


def _extreme(kind: str, num_inputs: Any) -> Primitive:
    k = int_at_least(num_inputs, f"Reducer.{kind}: numInputs")
    return Primitive(
        f"Reducer.{kind}",
        Extreme,
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
    return Primitive("Reducer.sensSlope", SensSlope, outputs=["slope", "offset"], n_inputs=2)


@algorithm("Reducer.linearFit")
def linear_fit() -> Reducer:
    return Primitive(
        "Reducer.linearFit",
        CoMoments,
        outputs=["scale", "offset"],
        n_inputs=2,
        weighted=True,
        params={"stat": "linearFit"},
    )


@algorithm("Reducer.pearsonsCorrelation")
def pearsons_correlation() -> Reducer:
    return Primitive(
        "Reducer.pearsonsCorrelation",
        CoMoments,
        outputs=["correlation", "p-value"],
        n_inputs=2,
        params={"stat": "pearson"},
    )


@algorithm("Reducer.spearmansCorrelation")
def spearmans_correlation() -> Reducer:
    return Primitive("Reducer.spearmansCorrelation", Spearman, outputs=["correlation"], n_inputs=2)


@algorithm("Reducer.kendallsCorrelation")
def kendalls_correlation(numInputs: Any = 1) -> Reducer:
    k = int_at_least(numInputs, "Reducer.kendallsCorrelation: numInputs")
    if k not in (1, 2):
        raise EEError(f"Reducer.kendallsCorrelation: numInputs must be 1 or 2, got {k}.")
    return Primitive(
        "Reducer.kendallsCorrelation",
        Kendall,
        outputs=["tau", "p-value"],
        n_inputs=k,
        args={"numInputs": k},
    )


@algorithm("Reducer.linearRegression")
def linear_regression(numX: Any, numY: Any = 1) -> Reducer:
    nx = int_at_least(numX, "Reducer.linearRegression: numX")
    ny = int_at_least(numY, "Reducer.linearRegression: numY")
    return Primitive(
        "Reducer.linearRegression",
        LinearRegression,
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
        Percentiles,
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
    if not percentiles:
        raise EEError("Reducer.percentile: percentiles must be a non-empty list of numbers.")
    qs = [float(as_number(q, "Reducer.percentile", "percentiles")) for q in percentiles]
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
        "Reducer.percentile", Percentiles, outputs=names, args=args, params={"percentiles": qs}
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
        IntervalMean,
        outputs=["mean"],
        args={"minPercentile": lo, "maxPercentile": hi},
        params={"min": lo, "max": hi},
    )


@algorithm("Reducer.mode")
def mode(maxBuckets: Any = None, minBucketWidth: Any = None, maxRaw: Any = None) -> Reducer:
    return Primitive(
        "Reducer.mode",
        Mode,
        outputs=["mode"],
        args=_histogram_args(maxBuckets, minBucketWidth, maxRaw),
        dtypes=_first_type,
    )


@algorithm("Reducer.toList")
def to_list(tupleSize: Any = None, numOptional: Any = 0) -> Reducer:
    k = 1 if tupleSize is None else int_at_least(tupleSize, "Reducer.toList: tupleSize")
    n_opt = int_at_least(numOptional or 0, "Reducer.toList: numOptional", minimum=0)
    if n_opt > k:
        raise EEError("Reducer.toList: numOptional exceeds the number of inputs.")
    return Primitive(
        "Reducer.toList",
        ToList,
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
        FrequencyHistogram,
        outputs=["histogram"],
        weighted=True,
        scalar=[False],
    )


@algorithm("Reducer.fixedHistogram")
def fixed_histogram(min: Any, max: Any, steps: Any, cumulative: Any = False) -> Reducer:  # noqa: A002
    n = int_at_least(steps, "Reducer.fixedHistogram: steps")
    lo, hi = float(min), float(max)
    if not hi > lo:
        raise EEError("Reducer.fixedHistogram: max must be greater than min.")
    params = {"min": lo, "max": hi, "steps": n, "cumulative": cumulative}
    return Primitive(
        "Reducer.fixedHistogram",
        FixedHistogram,
        outputs=["histogram"],
        weighted=True,
        args=params,
        params=params,
        scalar=[False],
    )
