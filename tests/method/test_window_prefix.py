"""Growing-window slopes from running sums (METHOD.md §4, eq. 7) against NumPy and linearFit.

``window_slopes`` computes every window's OLS slope from prefix sums of n, Σt, Σy, Σty and
Σt². Expected values here come from ``np.polyfit`` per window over the valid years (a year
masked at a cell is left out of that cell's fit), from exact rational arithmetic for the
hard cells, and from ``ee.Reducer.linearFit`` refitted per window on the engine (the
computation the running sums replace).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from gee_cscc.method.maintenance import window_slopes
from gee_cscc.testing import compute_pixels, cube_of, grid_of

YEARS = list(range(1981, 2019))
REF = 2000
EVALS = [y for y in YEARS if y >= REF]
H, W = 4, 6

#: Fixed cells of the hard cases.
FLAT = (0, 0)
LINE = (0, 1)
FIRST_MASKED = (0, 2)  # masked in 1981 (the first year), and in a few more years
EARLY_SPARSE = (0, 3)  # a single valid year in 1981..2000, valid afterwards
ALL_MASKED = (0, 4)
HIGH_LEVEL = (0, 5)  # NPP around 1e5 with a tiny slope: cancellation-prone
TIES = (1, 0)  # values from a set of three: many ties
ONE_VALID = (1, 1)  # a single valid year in the whole run


def at(cell: tuple[int, int], years=slice(None)) -> tuple:
    """The index of a cell's series (or of some of its years) in a (year, y, x) cube."""
    return years, cell[0], cell[1]


def make_cube(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(YEARS)
    t = np.arange(n, dtype=float)
    cube = rng.uniform(200, 900, size=(1, H, W)) + rng.normal(0, 30, size=(n, H, W))
    cube += rng.normal(0, 5, size=(1, H, W)) * t[:, None, None]
    cube[rng.random(cube.shape) < 0.08] = np.nan  # scattered gaps
    cube[at(FLAT)] = 450.0
    cube[at(LINE)] = 300.0 + 5.0 * t
    cube[at(FIRST_MASKED, [0, 4, 20, 37])] = np.nan
    sparse = cube[at(EARLY_SPARSE)]
    sparse[: REF - YEARS[0] + 1] = np.nan
    sparse[7] = 610.0
    cube[at(ALL_MASKED)] = np.nan
    cube[at(HIGH_LEVEL)] = 1.0e5 + 0.001 * t + rng.normal(0, 0.01, size=n)
    cube[at(TIES)] = rng.choice([400.0, 410.0, 420.0], size=n)
    cube[at(ONE_VALID)] = np.nan
    cube[at(ONE_VALID, 9)] = 500.0
    return cube.astype(np.float32).astype(np.float64)  # the stored values, exactly


def polyfit_slopes(cube: np.ndarray) -> np.ndarray:
    """(eval year, y, x): np.polyfit slope over the valid years ≤ t_i; NaN with < 2 years."""
    yrs = np.asarray(YEARS, dtype=float)
    out = np.full((len(EVALS), H, W), np.nan)
    for i, ti in enumerate(EVALS):
        upto = yrs <= ti
        for r in range(H):
            for c in range(W):
                ok = upto & np.isfinite(cube[:, r, c])
                if ok.sum() >= 2:
                    out[i, r, c] = np.polyfit(yrs[ok], cube[ok, r, c], 1)[0]
    return out


def exact_slope(years: list[int], values: list[float]) -> Fraction:
    """OLS slope in rational arithmetic: Σ(t − t̄)(y − ȳ) / Σ(t − t̄)²."""
    t = [Fraction(y) for y in years]
    v = [Fraction(x) for x in values]
    tm, vm = sum(t) / len(t), sum(v) / len(v)
    return sum((a - tm) * (b - vm) for a, b in zip(t, v, strict=True)) / sum(
        (a - tm) ** 2 for a in t
    )


@pytest.fixture(scope="module")
def case(engine, request):
    import ee

    cube = make_cube()
    da = cube_of(cube.astype(np.float32), YEARS, origin=(100.0, 40.0), pixel_size=0.5)
    asset = f"projects/local-project/assets/method-{request.module.__name__.split('.')[-1]}/npp"
    engine.store.put_collection(asset, da, band="npp")
    return {"cube": cube, "collection": ee.ImageCollection(asset), "grid": grid_of(da)}


def _stack(collection, grid) -> np.ma.MaskedArray:
    pixels = compute_pixels(collection.toBands(), grid)
    assert len(pixels) == len(EVALS)
    return np.ma.stack(list(pixels.values()))


@pytest.fixture(scope="module")
def slopes(case) -> np.ma.MaskedArray:
    col = window_slopes(case["collection"], YEARS, REF)
    return _stack(col, case["grid"])


def test_one_image_per_evaluation_year(case):
    col = window_slopes(case["collection"], YEARS, REF)
    info = col.getInfo()
    assert [f["properties"]["year"] for f in info["features"]] == EVALS
    assert [[b["id"] for b in f["bands"]] for f in info["features"]] == [["slope"]] * len(EVALS)
    starts = [f["properties"]["system:time_start"] for f in info["features"]]
    expected = [int(np.datetime64(f"{y}-01-01", "ms").astype(np.int64)) for y in EVALS]
    assert starts == expected


def test_slopes_match_polyfit_per_window(case, slopes):
    expected = polyfit_slopes(case["cube"])
    np.testing.assert_array_equal(np.ma.getmaskarray(slopes), np.isnan(expected))
    got = np.ma.getdata(slopes)
    ok = ~np.isnan(expected)
    # polyfit's own round-off on a flat series is ~1e-13; 1e-10 g C m⁻² yr⁻² is far below
    # the 1e-6 zero-slope tolerance of the slope surfaces.
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("cell", [FLAT, LINE, HIGH_LEVEL, TIES, FIRST_MASKED])
def test_hard_cells_against_exact_arithmetic(case, slopes, cell):
    series = case["cube"][:, cell[0], cell[1]]
    for i, ti in enumerate(EVALS):
        keep = [k for k, y in enumerate(YEARS) if y <= ti and np.isfinite(series[k])]
        exact = exact_slope([YEARS[k] for k in keep], [series[k] for k in keep])
        got = float(slopes[i, cell[0], cell[1]])
        assert got == pytest.approx(float(exact), rel=1e-9, abs=1e-12), (cell, ti)
    if cell in (FLAT, LINE):  # shifted sums of small integers: no round-off at all
        assert np.all(np.ma.getdata(slopes[:, cell[0], cell[1]]) == (0.0 if cell == FLAT else 5.0))


def test_double_inputs_keep_full_precision(case):
    """Scaled (float64) NPP at a high level: the shifted sums stay within 1e-9 of exact."""
    import ee

    factor = 0.1  # a scale_factor: stored float32 × 0.1 is no longer short in float64
    scaled = case["collection"].map(
        lambda img: (
            ee.Image(img).multiply(factor).copyProperties(img, ["year", "system:time_start"])
        )
    )
    got = _stack(window_slopes(scaled, YEARS, REF), case["grid"])
    series = case["cube"][:, HIGH_LEVEL[0], HIGH_LEVEL[1]] * factor
    for i, ti in enumerate(EVALS):
        keep = [k for k, y in enumerate(YEARS) if y <= ti]
        exact = exact_slope([YEARS[k] for k in keep], [float(series[k]) for k in keep])
        assert float(got[i, HIGH_LEVEL[0], HIGH_LEVEL[1]]) == pytest.approx(
            float(exact), rel=1e-9, abs=0
        )


def test_masked_where_fewer_than_two_valid_years(slopes):
    assert np.all(np.ma.getmaskarray(slopes[:, ALL_MASKED[0], ALL_MASKED[1]]))
    assert np.all(np.ma.getmaskarray(slopes[:, ONE_VALID[0], ONE_VALID[1]]))
    # EARLY_SPARSE: only 1988 is valid up to 2000, so the t' window has no slope; later ones do.
    early = np.ma.getmaskarray(slopes[:, EARLY_SPARSE[0], EARLY_SPARSE[1]])
    assert early[0] and not early[1:].any()


def test_equal_to_linear_fit_per_window(case, slopes):
    """The running sums give Reducer.linearFit's ``scale`` over each window (1e-9 relative)."""
    import ee

    col = case["collection"]

    def refit(ti: int):
        window = col.filter(ee.Filter.lte("year", ti))
        pairs = window.map(
            lambda img: (
                ee.Image.constant(ee.Number(ee.Image(img).get("year")))
                .toDouble()
                .rename("t")
                .addBands(ee.Image(img).select("npp"))
            )
        )
        return pairs.reduce(ee.Reducer.linearFit()).select(["scale"], ["slope"])

    fits = _stack(ee.ImageCollection.fromImages([refit(ti) for ti in EVALS]), case["grid"])
    np.testing.assert_array_equal(np.ma.getmaskarray(slopes), np.ma.getmaskarray(fits))
    ok = ~np.ma.getmaskarray(fits)
    np.testing.assert_allclose(
        np.ma.getdata(slopes)[ok], np.ma.getdata(fits)[ok], rtol=1e-9, atol=1e-10
    )


def test_graph_size_does_not_grow_with_the_years():
    """One ``iterate`` over the years: the serialized graph is the same for 10 or 38 years."""
    import ee

    col = ee.ImageCollection("projects/local-project/assets/any/npp")
    short = ee.serializer.toJSON(window_slopes(col, list(range(1981, 1991)), 1985))
    long = ee.serializer.toJSON(window_slopes(col, YEARS, REF))
    assert abs(len(long) - len(short)) < 20
