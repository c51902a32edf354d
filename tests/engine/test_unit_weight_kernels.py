"""Per-pixel reducer kernels on stacks whose records all weigh 1 (``Kernel.prepare_unit``).

A per-pixel stack (``ImageCollection.reduce``) has every record a member with weight 1, so
the kernels skip the float weight array. Every number here is checked against plain NumPy
on the same stack (a masked or NaN record left out), and the fast path against the general
one (the same records with a materialized weight of 1), bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from gee_cscc.engine.algorithms.reducer import kernels
from gee_cscc.engine.algorithms.reducer.tree import Primitive
from gee_cscc.engine.core.records import Batch

N, P = 23, 500


def _stack(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, P)) * 300 + 50
    x[rng.random((N, P)) < 0.05] = np.nan  # NaN inputs count as null
    x[:, :40] = np.round(x[:, :40])  # ties for max/min
    ok = rng.random((N, P)) > 0.2
    ok[:, 100:120] = False  # columns without any record
    ok[:, 120:130] = True
    x[:, 120:130] = 7.0  # constant columns
    return x, ok


def _batch(xs: list[np.ndarray], vs: list[np.ndarray], *, unit: bool) -> Batch:
    n, p = xs[0].shape
    if unit:  # as reduce_pixels makes it: one broadcast weight and membership
        frac, centre = np.broadcast_to(1.0, (n, p)), np.broadcast_to(True, (n, p))
    else:
        frac, centre = np.ones((n, p)), np.ones((n, p), dtype=bool)
    return Batch(xs, vs, frac, centre, np.arange(n, dtype=np.int64))


def _prim(kernel: type, name: str, outputs: list[str], **kw: object) -> Primitive:
    return Primitive(name, kernel, outputs=outputs, **kw)


def _run(prim: Primitive, xs: list[np.ndarray], vs: list[np.ndarray], *, unit: bool) -> list:
    acc = prim.accumulator(xs[0].shape[1], "pixels")
    acc.add(_batch([x.copy() for x in xs], [v.copy() for v in vs], unit=unit))
    return acc.result()


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool((a.view(np.int64) == b.view(np.int64)).all())


@pytest.mark.parametrize("stat", ["sum", "mean", "variance"])
def test_moments_unit_weights_match_numpy_and_the_weighted_path(stat):
    x, ok = _stack(1)
    prim = _prim(kernels.Moments, f"Reducer.{stat}", [stat], weighted=True, params={"stat": stat})
    (fast,) = _run(prim, [x], [ok], unit=True)
    (general,) = _run(prim, [x], [ok], unit=False)
    assert _same_bits(fast, general)
    valid = ok & ~np.isnan(x)
    z = np.where(valid, x, 0.0)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = z.sum(axis=0) / n
        var = (np.where(valid, x - mean, 0.0) ** 2).sum(axis=0) / n
    expected = {"sum": z.sum(axis=0), "mean": mean, "variance": var}[stat]
    expected = np.where(n > 0, expected, np.nan)
    np.testing.assert_allclose(fast, expected, rtol=1e-12, atol=1e-9)


def test_count_unit_weights_is_the_number_of_valid_records():
    x, ok = _stack(2)
    prim = _prim(kernels.Count, "Reducer.count", ["count"])
    (got,) = _run(prim, [x], [ok], unit=True)
    n = ok.sum(axis=0)  # count looks at masks only, not at NaN values
    np.testing.assert_array_equal(got, np.where(n > 0, n, np.nan))


@pytest.mark.parametrize("kind", ["max", "min"])
def test_extreme_unit_weights_value_and_earliest_record(kind):
    x, ok = _stack(3)
    sign = 1.0 if kind == "max" else -1.0
    prim = _prim(kernels.Extreme, f"Reducer.{kind}", [kind], params={"sign": sign})
    (fast,) = _run(prim, [x], [ok], unit=True)
    (general,) = _run(prim, [x], [ok], unit=False)
    assert _same_bits(fast, general)
    valid = ok & ~np.isnan(x)
    if kind == "max":
        expected = np.where(valid, x, -np.inf).max(axis=0)
    else:
        expected = np.where(valid, x, np.inf).min(axis=0)
    expected = np.where(valid.any(axis=0), expected, np.nan)
    np.testing.assert_array_equal(fast, expected)


def test_extreme_with_a_second_input_takes_it_from_the_earliest_extreme_record():
    x, ok = _stack(4)
    year = np.broadcast_to(np.arange(N, dtype=float)[:, None], (N, P)).copy()
    prim = _prim(kernels.Extreme, "Reducer.max", ["max", "max1"], n_inputs=2, params={"sign": 1.0})
    _, got_year = _run(prim, [x, year], [ok, np.ones((N, P), dtype=bool)], unit=True)
    valid = ok & ~np.isnan(x)
    key = np.where(valid, x, -np.inf)
    first = np.argmax(valid & (key == key.max(axis=0)), axis=0)
    expected = np.where(valid.any(axis=0), first.astype(float), np.nan)
    np.testing.assert_array_equal(got_year, expected)


def test_linear_fit_unit_weights_match_numpy_and_the_weighted_path():
    _, ok = _stack(5)
    rng = np.random.default_rng(5)
    t = np.broadcast_to((np.arange(N) - (N - 1) / 2)[:, None], (N, P)).copy()
    y = 2.5 * t + rng.standard_normal((N, P)) * 10 + 400
    prim = _prim(
        kernels.CoMoments,
        "Reducer.linearFit",
        ["scale", "offset"],
        n_inputs=2,
        weighted=True,
        params={"stat": "linearFit"},
    )
    vs = [np.ones((N, P), dtype=bool), ok]
    fast = _run(prim, [t, y], vs, unit=True)
    general = _run(prim, [t, y], vs, unit=False)
    assert all(_same_bits(a, b) for a, b in zip(fast, general, strict=True))
    for col in (0, 150, P - 1):
        sel = ok[:, col]
        if sel.sum() < 2:
            continue
        slope, offset = np.polyfit(t[sel, col], y[sel, col], 1)
        assert fast[0][col] == pytest.approx(slope, rel=1e-9)
        assert fast[1][col] == pytest.approx(offset, rel=1e-9)
    assert np.isnan(fast[0][100:120]).all()  # no records: no fit


@pytest.mark.parametrize("n", [1, 2, 38, 255, 256])
def test_first_true_is_argmax_of_each_column(n):
    rng = np.random.default_rng(n)
    mask = rng.random((n, 300)) < 0.1
    mask[:, :5] = False  # none: row 0, as argmax
    mask[:, 5:8] = True
    got = kernels.first_true(mask)
    expected = np.array(
        [np.flatnonzero(mask[:, j])[0] if mask[:, j].any() else 0 for j in range(300)]
    )
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("stat", ["sum", "mean", "variance"])
def test_region_tile_with_every_weight_one_is_numpys_sum_bit_for_bit(stat):
    rng = np.random.default_rng(9)
    n = 4099
    x = rng.standard_normal(n) * 1e4
    ok = rng.random(n) > 0.3
    ok[0] = True  # the record given a partial weight below
    prim = _prim(kernels.Moments, f"Reducer.{stat}", [stat], weighted=True, params={"stat": stat})
    frac = np.ones((n, 1))  # a region tile wholly inside the region: materialized weights 1

    def reduce(weights: np.ndarray) -> float:
        acc = prim.accumulator(1, "region")
        acc.add(
            Batch(
                [x[:, None].copy()],
                [ok[:, None].copy()],
                weights,
                np.ones((n, 1), dtype=bool),
                np.arange(n, dtype=np.int64),
            )
        )
        return float(acc.result()[0][0])

    got = reduce(frac)
    z = np.where(ok, x, 0.0)
    if stat == "sum":
        assert got == float(z.sum())  # NumPy's pairwise sum of the same column, exactly
    else:
        mean = z.sum() / ok.sum()
        expected = mean if stat == "mean" else float(((x[ok] - mean) ** 2).sum() / ok.sum())
        assert got == pytest.approx(expected, rel=1e-12)
    half = frac.copy()
    half[0, 0] = 0.5  # one partial weight: the general path, a different sum
    assert reduce(half) != got
