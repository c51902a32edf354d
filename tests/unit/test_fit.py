"""Tests of gee_cscc.stats.fit (METHOD.md §5, §5b).

Every expected number comes from outside the code under test: the paper's Table 2 and its
figures, hand-worked cases, SciPy's curve_fit / linregress from several starts, or a plain
NumPy brute-force search of the least-squares objective written here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from gee_cscc.errors import ConfigError, InputError
from gee_cscc.stats.fit import FLAGS, DecayFit, fit_decay, plateau_onset
from gee_cscc.stats.resilience import fit_region, grade, resilience

# The paper's Table 2 (Wu et al. 2023): maintenance counts of China, 2000-2018.
YEARS = np.arange(2000, 2019)
N_POS = np.array(
    [250139, 239740, 234023, 227525, 223575, 219457, 215577, 211820, 208897, 205734,
     202627, 200074, 197873, 195627, 193896, 192211, 190575, 189153, 187513]
)  # fmt: skip
N_NEG = np.array(
    [134180, 93389, 79037, 68794, 61061, 55182, 50254, 47142, 44265, 41809,
     39510, 37720, 35503, 33249, 31906, 30707, 29414, 27925, 26226]
)  # fmt: skip
X = (YEARS - 2000).astype(float)
SERIES = {"pos": N_POS / N_POS[0], "neg": N_NEG / N_NEG[0]}


# --------------------------------------------------------------------------- references


def model(x, lam, tau):
    return lam * np.exp(-x / tau)


def reference_free(q: np.ndarray) -> tuple[float, float]:
    """Global (λ, τ) by curve_fit from many starts; the best sum of squares wins."""
    best = (math.inf, None)
    for tau0 in (0.5, 2.0, 5.0, 20.0, 60.0, 200.0, 1000.0):
        for lam0 in (0.5, 1.0):
            try:
                p, _ = optimize.curve_fit(model, X, q, p0=(lam0, tau0), maxfev=20000)
            except RuntimeError:
                continue
            sse = float(np.sum((q - model(X, *p)) ** 2))
            if p[1] > 0 and sse < best[0]:
                best = (sse, p)
    return float(best[1][0]), float(best[1][1])


def reference_fixed(q: np.ndarray) -> float:
    best = (math.inf, None)
    for tau0 in (0.5, 2.0, 5.0, 20.0, 60.0, 200.0):
        p, _ = optimize.curve_fit(lambda x, tau: np.exp(-x / tau), X, q, p0=(tau0,))
        sse = float(np.sum((q - np.exp(-X / p[0])) ** 2))
        if sse < best[0]:
            best = (sse, p[0])
    return float(best[1])


def brute_profile(q: np.ndarray, free: bool, taus: np.ndarray) -> np.ndarray:
    """SSE(τ) on a dense τ grid; λ by the normal equation of a one-column regression."""
    e = np.exp(-X[None, :] / taus[:, None])  # (grid, years)
    if free:
        lam = (e @ q) / np.einsum("ij,ij->i", e, e)
    else:
        lam = np.ones(taus.size)
    return np.sum((q[None, :] - lam[:, None] * e) ** 2, axis=1)


def brute_interval(q: np.ndarray, free: bool, lo: float, hi: float) -> tuple[float, float, float]:
    """τ̂ and the F-based 95 % profile interval from a dense brute-force τ grid."""
    taus = np.linspace(lo, hi, 40001)
    sse = brute_profile(q, free, taus)
    i = int(np.argmin(sse))
    p = 2 if free else 1
    dof = q.size - p
    inside = sse <= sse[i] * (1 + stats.f.ppf(0.95, 1, dof) / dof)
    assert not inside[0] and not inside[-1]  # the grid brackets the interval
    return float(taus[i]), float(taus[inside].min()), float(taus[inside].max())


# --------------------------------------------------------------------------- Table 2


@pytest.mark.parametrize("sign", ["pos", "neg"])
def test_free_fit_is_the_global_least_squares_optimum(sign):
    q = SERIES[sign]
    lam_ref, tau_ref = reference_free(q)
    fit = fit_decay(YEARS, q, reference_year=2000)
    assert fit.tau > 0
    assert fit.tau == pytest.approx(tau_ref, rel=1e-5)
    assert fit.lam == pytest.approx(lam_ref, rel=1e-6)
    assert fit.flags == ()
    # residuals and R² on the q scale, recomputed here
    resid = q - model(X, lam_ref, tau_ref)
    np.testing.assert_allclose(fit.residuals, resid, atol=1e-6)
    r2 = 1 - np.sum(resid**2) / np.sum((q - q.mean()) ** 2)
    assert fit.r2 == pytest.approx(r2, abs=1e-8)
    assert "profile" in fit.method and "λ free" in fit.method


@pytest.mark.parametrize("sign", ["pos", "neg"])
def test_free_fit_matches_a_brute_force_grid(sign):
    q = SERIES[sign]
    lo, hi = (40.0, 110.0) if sign == "pos" else (5.0, 20.0)
    tau_grid, _, _ = brute_interval(q, True, lo, hi)
    step = (hi - lo) / 40000
    assert abs(fit_decay(YEARS, q, reference_year=2000).tau - tau_grid) <= step


@pytest.mark.parametrize("sign", ["pos", "neg"])
def test_fixed_lambda_fit(sign):
    q = SERIES[sign]
    fit = fit_decay(YEARS, q, reference_year=2000, mode="fixed")
    assert fit.tau == pytest.approx(reference_fixed(q), rel=1e-5)
    assert fit.lam == 1.0
    assert "λ fixed at 1" in fit.method


def test_fixed_lambda_negative_series_gives_the_documented_7_3_years():
    # METHOD.md, "Known facts": with λ fixed at 1 the negative series gives τ⁻ ≈ 7.3
    fit = fit_decay(YEARS, SERIES["neg"], reference_year=2000, mode="fixed")
    assert round(fit.tau, 1) == 7.3


@pytest.mark.parametrize("sign", ["pos", "neg"])
def test_loglinear_fit_and_t_interval(sign):
    q = SERIES[sign]
    reg = stats.linregress(X, np.log(q))
    half = stats.t.ppf(0.975, X.size - 2) * reg.stderr
    fit = fit_decay(YEARS, q, reference_year=2000, mode="loglinear")
    assert fit.tau == pytest.approx(-1 / reg.slope, rel=1e-9)
    assert fit.lam == pytest.approx(math.exp(reg.intercept), rel=1e-9)
    assert fit.tau_low == pytest.approx(-1 / (reg.slope - half), rel=1e-9)
    assert fit.tau_high == pytest.approx(-1 / (reg.slope + half), rel=1e-9)
    q_hat = np.exp(reg.intercept + reg.slope * X)
    assert fit.r2 == pytest.approx(
        1 - np.sum((q - q_hat) ** 2) / np.sum((q - q.mean()) ** 2), rel=1e-9
    )


@pytest.mark.parametrize(
    ("sign", "free", "lo", "hi"),
    [("pos", True, 40.0, 110.0), ("neg", True, 5.0, 20.0), ("neg", False, 4.0, 12.0)],
)
def test_profile_interval_matches_a_brute_force_profile(sign, free, lo, hi):
    q = SERIES[sign]
    _, tau_low, tau_high = brute_interval(q, free, lo, hi)
    step = (hi - lo) / 40000
    fit = fit_decay(YEARS, q, reference_year=2000, mode="free" if free else "fixed")
    assert fit.tau_low == pytest.approx(tau_low, abs=2 * step)
    assert fit.tau_high == pytest.approx(tau_high, abs=2 * step)
    assert fit.tau_low < fit.tau < fit.tau_high


def test_interval_reaching_rate_zero_has_an_infinite_upper_end():
    # a slight, noisy decline: rate 0 lies inside the profile set
    years = np.arange(2000, 2008)
    q = np.array([1.0, 0.99, 1.0, 0.985, 1.0, 0.99, 0.995, 0.99])
    fit = fit_decay(years, q, reference_year=2000)
    x = (years - 2000).astype(float)
    # the brute-force check that rate 0 (the constant model) is inside the F region
    ks = np.linspace(1e-6, 0.2, 20001)
    e = np.exp(-ks[:, None] * x[None, :])
    lam = (e @ q) / np.sum(e * e, axis=1)
    sse = np.sum((q - lam[:, None] * e) ** 2, axis=1)
    sse0 = np.sum((q - q.mean()) ** 2)
    thr = sse.min() * (1 + stats.f.ppf(0.95, 1, x.size - 2) / (x.size - 2))
    assert sse0 <= thr
    assert math.isfinite(fit.tau) and fit.tau > 0
    assert fit.tau_high == math.inf
    assert fit.tau_low <= fit.tau


def test_table2_region_row():
    row = fit_region(YEARS, N_POS, N_NEG, reference_year=2000)
    _, tau_pos = reference_free(SERIES["pos"])
    _, tau_neg = reference_free(SERIES["neg"])
    assert row["tau_pos"] == pytest.approx(tau_pos, rel=1e-5)
    assert row["tau_neg"] == pytest.approx(tau_neg, rel=1e-5)
    assert row["rs"] == pytest.approx(tau_pos - tau_neg, rel=1e-5)
    assert row["grade"] == "strong"  # 0 ≤ RS ≤ 100
    assert row["flags"] == ""
    for key in (
        "tau_pos", "tau_pos_low", "tau_pos_high", "lambda_pos", "r2_pos",
        "tau_neg", "tau_neg_low", "tau_neg_high", "lambda_neg", "r2_neg",
        "rs", "grade", "flags",
    ):  # fmt: skip
        assert key in row


# --------------------------------------------------------------------------- edge cases


def test_flat_series_is_no_loss_with_infinite_tau():
    fit = fit_decay(range(2000, 2010), np.ones(10), reference_year=2000)
    assert fit.tau == math.inf
    assert fit.flags == ("no_loss",)
    assert fit.lam == 1.0
    assert fit.plateau_onset is None
    assert fit.residuals == (0.0,) * 10


@pytest.mark.parametrize("mode", ["free", "fixed", "loglinear"])
def test_increasing_series_is_non_decaying(mode):
    q = 1 + 0.05 * np.arange(8)
    fit = fit_decay(range(2000, 2008), q, reference_year=2000, mode=mode)
    assert fit.tau == math.inf
    assert "non_decaying" in fit.flags
    assert fit.tau_high == math.inf
    assert not math.isnan(fit.lam)


def test_non_decaying_free_fit_reports_the_constant_model():
    q = 1 + 0.05 * np.arange(8)
    fit = fit_decay(range(2000, 2008), q, reference_year=2000)
    assert fit.lam == pytest.approx(q.mean())
    np.testing.assert_allclose(fit.residuals, q - q.mean(), atol=1e-12)


@pytest.mark.parametrize("mode", ["free", "fixed", "loglinear"])
def test_no_cells_at_reference_year(mode):
    row = fit_region(YEARS, N_POS, np.zeros(19), reference_year=2000, mode=mode)
    assert math.isnan(row["tau_neg"])
    assert math.isnan(row["rs"])
    assert row["grade"] == "none"
    assert row["flags"] == "neg:no_cells"
    fit = fit_decay(YEARS, np.zeros(19), reference_year=2000, n_ref=0, mode=mode)
    assert fit.flags == ("no_cells",) and math.isnan(fit.tau)


def test_all_cells_lost_at_once_does_not_crash():
    q = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    years = range(2000, 2006)
    fit = fit_decay(years, q, reference_year=2000)
    assert fit.tau >= 0 and fit.tau < 0.1
    assert "plateau" in fit.flags and fit.plateau_onset == 2001
    onset = fit_decay(years, q, reference_year=2000, plateau="onset")
    assert onset.tau == 1.0
    log = fit_decay(years, q, reference_year=2000, mode="loglinear")
    assert "zero_dropped" in log.flags


def test_loglinear_drops_zeros():
    years = np.arange(2000, 2008)
    q = np.array([1.0, 0.5, 0.3, 0.0, 0.1, 0.05, 0.0, 0.02])
    keep = q > 0
    reg = stats.linregress((years - 2000)[keep], np.log(q[keep]))
    fit = fit_decay(years, q, reference_year=2000, mode="loglinear")
    assert "zero_dropped" in fit.flags
    assert fit.tau == pytest.approx(-1 / reg.slope, rel=1e-9)
    assert len(fit.residuals) == q.size


# --------------------------------------------------------------------------- plateau


@pytest.mark.parametrize(
    ("q", "plateau_years", "onset"),
    [
        ([1, 0.9, 0.8, 0.8, 0.8, 0.8], 3, 2002),
        ([1, 0.9, 0.8, 0.8, 0.8, 0.8], 4, None),
        ([1, 0.9, 0.8, 0.8, 0.8], 3, None),
        ([1, 0.9, 0.8, 0.8, 0.8], 2, 2002),
        ([1, 0.9, 0.9, 0.9, 0.8, 0.8], 2, None),
        ([1, 0.5, 0.5, 0.5, 0.5, 0.5], 3, 2001),
    ],
)
def test_plateau_detection(q, plateau_years, onset):
    years = list(range(2000, 2000 + len(q)))
    assert plateau_onset(years, q, plateau_years=plateau_years) == onset
    fit = fit_decay(years, q, reference_year=2000, plateau_years=plateau_years)
    assert ("plateau" in fit.flags) == (onset is not None)
    assert fit.plateau_onset == onset


def test_plateau_onset_rule_sets_tau_to_onset_minus_reference():
    years = np.arange(2000, 2019)
    n_neg = np.concatenate([N_NEG[:14], np.full(5, N_NEG[13])])  # flat from 2013 on
    fitted = fit_region(years, N_POS, n_neg, reference_year=2000)
    onset = fit_region(years, N_POS, n_neg, reference_year=2000, plateau="onset")
    assert "neg:plateau" in fitted["flags"]
    assert fitted["plateau_onset_neg"] == 2013
    assert onset["tau_neg"] == 13.0
    assert fitted["tau_neg"] != 13.0
    assert onset["tau_pos"] == fitted["tau_pos"]  # positive series has no plateau
    assert onset["rs"] == pytest.approx(onset["tau_pos"] - 13.0)


def test_flags_string_has_sign_prefixes():
    n_neg = [100, 90, 80, 80, 80, 80]
    row = fit_region(range(2000, 2006), [50] * 6, n_neg, reference_year=2000)
    assert row["flags"] == "pos:no_loss;neg:plateau"
    assert row["tau_pos"] == math.inf
    assert row["rs"] == math.inf and row["grade"] == "extremely strong"


# --------------------------------------------------------------------------- extrapolation


@pytest.mark.parametrize(("tau", "flagged"), [(200.0, True), (96.0, True), (90.0, False)])
def test_extrapolated_flag(tau, flagged):
    # an exact exponential over 19 years: the fit must return τ itself (5 × 19 = 95 years)
    fit = fit_decay(YEARS, np.exp(-X / tau), reference_year=2000)
    assert fit.tau == pytest.approx(tau, rel=1e-6)
    assert ("extrapolated" in fit.flags) == flagged


def test_infinite_tau_is_not_extrapolated():
    fit = fit_decay(YEARS, np.ones(19), reference_year=2000)
    assert "extrapolated" not in fit.flags


# --------------------------------------------------------------------------- RS and grades


@pytest.mark.parametrize(
    ("rs", "expected"),
    [
        (math.inf, "extremely strong"),
        (500.000001, "extremely strong"),
        (500.0, "stronger"),
        (100.000001, "stronger"),
        (100.0, "strong"),
        (0.0, "strong"),
        (-1e-9, "weak"),
        (-100.0, "weak"),
        (-100.000001, "weaker"),
        (-math.inf, "weaker"),
        (math.nan, "none"),
        (None, "none"),
        (189.0, "stronger"),  # the paper's China: 196 − 7
        (-10.0, "weak"),  # the paper's SH: 10 − 20
    ],
)
def test_grade_boundaries(rs, expected):
    assert grade(rs) == expected


@pytest.mark.parametrize(
    ("tau_pos", "tau_neg", "expected"),
    [
        (196.0, 7.0, 189.0),
        (math.inf, 7.0, math.inf),
        (10.0, math.inf, -math.inf),
        (math.inf, math.inf, math.nan),
        (math.nan, 7.0, math.nan),
        (10.0, None, math.nan),
    ],
)
def test_resilience_with_infinities(tau_pos, tau_neg, expected):
    rs = resilience(tau_pos, tau_neg)
    if math.isnan(expected):
        assert math.isnan(rs)
    else:
        assert rs == expected


def test_resilience_rejects_negative_tau():
    with pytest.raises(InputError):
        resilience(-1.0, 5.0)


# --------------------------------------------------------------------------- input errors


def test_percent_ratios_are_rejected():
    with pytest.raises(InputError, match="fractions"):
        fit_decay(YEARS, SERIES["neg"] * 100, reference_year=2000)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "exp"}, ConfigError),
        ({"plateau": "max"}, ConfigError),
        ({"plateau_years": 0}, ConfigError),
        ({"reference_year": 2001}, InputError),
    ],
)
def test_bad_options(kwargs, error):
    args = {"reference_year": 2000, **kwargs}
    with pytest.raises(error):
        fit_decay(YEARS, SERIES["pos"], **args)


def test_bad_ratio_names_the_year():
    q = SERIES["pos"].copy()
    q[5] = np.nan
    with pytest.raises(InputError, match="2005"):
        fit_decay(YEARS, q, reference_year=2000)


# --------------------------------------------------------------------------- properties


@st.composite
def count_series(draw):
    """Non-increasing counts N_i with N_t' > 0, as maintenance surfaces produce."""
    n_years = draw(st.integers(min_value=4, max_value=19))
    n0 = draw(st.integers(min_value=1, max_value=10_000))
    losses = draw(st.lists(st.floats(0, 0.5), min_size=n_years - 1, max_size=n_years - 1))
    counts = [n0]
    for f in losses:
        counts.append(int(counts[-1] * (1 - f)))
    return np.array(counts, dtype=float)


def _sse_grid(q: np.ndarray, x: np.ndarray) -> float:
    """Least SSE of the λ-free model over a dense log grid of positive rates."""
    ks = np.logspace(-5, 1.5, 3000)
    e = np.exp(-ks[:, None] * x[None, :])
    lam = (e @ q) / np.sum(e * e, axis=1)
    return float(np.min(np.sum((q - lam[:, None] * e) ** 2, axis=1)))


@settings(max_examples=40, deadline=None)
@given(count_series(), st.sampled_from(["free", "fixed", "loglinear"]))
def test_fit_never_negative_never_nan(counts, mode):
    years = np.arange(2000, 2000 + counts.size)
    fit = fit_decay(years, counts / counts[0], reference_year=2000, mode=mode)
    assert isinstance(fit, DecayFit)
    assert set(fit.flags) <= set(FLAGS)
    if mode == "loglinear" and np.count_nonzero(counts) < 2:
        return
    assert fit.tau >= 0 and not math.isnan(fit.tau)
    if not (math.isnan(fit.tau_low) or math.isnan(fit.tau_high)):
        assert 0 <= fit.tau_low <= fit.tau * (1 + 1e-9) + 1e-12
        assert fit.tau * (1 - 1e-9) <= fit.tau_high
    if math.isfinite(fit.tau) and fit.tau > 0:
        assert ("extrapolated" in fit.flags) == (fit.tau > 5 * counts.size)


@settings(max_examples=40, deadline=None)
@given(count_series())
def test_free_fit_is_never_beaten_by_a_dense_grid(counts):
    q = counts / counts[0]
    x = np.arange(q.size, dtype=float)
    fit = fit_decay(2000 + x.astype(int), q, reference_year=2000)
    if "non_decaying" in fit.flags:  # τ = ∞ reports the constant model instead
        return
    sse_fit = float(np.sum(np.square(fit.residuals)))
    assert sse_fit <= _sse_grid(q, x) + 1e-12


@settings(max_examples=25, deadline=None)
@given(count_series(), count_series())
def test_region_row_is_consistent(pos, neg):
    n = min(pos.size, neg.size)
    row = fit_region(np.arange(2000, 2000 + n), pos[:n], neg[:n], reference_year=2000)
    assert row["grade"] in {
        "extremely strong",
        "stronger",
        "strong",
        "weak",
        "weaker",
        "none",
    }
    expected = resilience(row["tau_pos"], row["tau_neg"])
    assert (math.isnan(row["rs"]) and math.isnan(expected)) or row["rs"] == expected
    for part in filter(None, row["flags"].split(";")):
        sign, flag = part.split(":")
        assert sign in {"pos", "neg"} and flag in FLAGS


def test_region_counts_must_match_the_years():
    with pytest.raises(InputError, match="n_neg"):
        fit_region(YEARS, N_POS, N_NEG[:-1], reference_year=2000)


def test_configured_grade_thresholds_and_extrapolation_factor():
    """The config's grade thresholds and extrapolation factor reach the grades and flags."""
    from gee_cscc.stats.resilience import fit_region, grade

    assert grade(150.0) == "stronger"
    assert grade(150.0, (1000.0, 200.0, 0.0, -200.0)) == "strong"
    assert grade(-150.0, (1000.0, 200.0, 0.0, -200.0)) == "weak"
    years = list(range(2000, 2010))
    # Exact exponential counts: τ⁺ = 99 yr and τ⁻ = 3 yr, so RS ≈ 96 yr.
    n_pos = [10000 * math.exp(-(y - 2000) / 99.0) for y in years]
    n_neg = [10000 * math.exp(-(y - 2000) / 3.0) for y in years]
    default = fit_region(years, n_pos, n_neg, reference_year=2000, mode="fixed")
    assert default["tau_pos"] == pytest.approx(99.0, rel=1e-6)
    assert default["rs"] == pytest.approx(96.0, rel=1e-6)
    assert default["grade"] == "strong"
    assert "pos:extrapolated" in default["flags"]  # 99 > 5 × 10 evaluation years
    other = fit_region(
        years,
        n_pos,
        n_neg,
        reference_year=2000,
        mode="fixed",
        extrapolation_factor=20.0,
        grade_thresholds=(1000.0, 50.0, 0.0, -200.0),
    )
    assert "extrapolated" not in other["flags"]  # 99 < 20 × 10
    assert other["grade"] == "stronger"  # 50 < 96 ≤ 1000


@pytest.mark.parametrize("free", [True, False])
def test_the_rate_grid_is_searched_as_the_scalar_sse_would(free):
    """The grid search evaluates every rate at once: the same SSE as one rate at a time
    (the residual of the closed-form λ, the negative rates' scaled basis)."""
    from gee_cscc.stats.fit import _rate_grid, _sse, _sse_grid

    rng = np.random.default_rng(7)
    for n in (3, 8, 19):
        x = np.arange(n, dtype=float)
        for q in (np.exp(-x / 4) + rng.normal(0, 0.03, n), np.ones(n), np.linspace(0.2, 1, n)):
            grid = _rate_grid(x)
            with np.errstate(all="ignore"):
                one = np.array([_sse(k, x, q, free) for k in grid])
                every = _sse_grid(grid, x, q, free)
            np.testing.assert_allclose(every, one, rtol=1e-9, atol=1e-12)
            assert int(np.argmin(every)) == int(np.argmin(one))
