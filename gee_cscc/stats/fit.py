"""Decay fit of maintenance ratios, docs/method.md §5 and §5b.

The flow is two steps: :func:`fit_decay` fits ``q(t) = λ·exp(−(t − t')/τ)`` (paper eq. 11)
to one ratio series, and :func:`gee_cscc.stats.resilience.fit_region` does that for the
positive and negative series of a region and adds ``RS = τ⁺ − τ⁻`` (eq. 12) and its grade.

Ratios are fractions (``q = N_i / N_t'``, so ``q = 1`` at the reference year t'); years are
calendar years and every τ is in years. Nothing here talks to Earth Engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.special import fdtri, stdtrit  # F and t quantiles (scipy.stats' f.ppf, t.ppf)

from gee_cscc.errors import ConfigError, InputError

__all__ = [
    "CONFIDENCE",
    "EXTRAPOLATION_FACTOR",
    "FLAGS",
    "DecayFit",
    "Mode",
    "PlateauRule",
    "fit_decay",
    "plateau_onset",
]

Mode = Literal["free", "fixed", "loglinear"]
PlateauRule = Literal["fit", "onset"]

#: Every flag a :class:`DecayFit` may carry, in the order they are listed.
FLAGS = (
    "no_cells",
    "too_few_cells",
    "no_loss",
    "non_decaying",
    "zero_dropped",
    "plateau",
    "extrapolated",
)

#: The fewest cells N_t' of a sign a regional fit needs (``Config.min_fit_cells``): with
#: fewer, q moves in steps of 1/N_t' and τ with its "95 % CI" means nothing, so no τ is
#: given (flag ``too_few_cells``). 10 as the per-cell ``csr_min_cells`` (docs/method.md §7).
MIN_FIT_CELLS = 10

CONFIDENCE = 0.95
EXTRAPOLATION_FACTOR = 5  # τ > 5 × (number of evaluation years) is "extrapolated"
_STEP_TOL = 1e-12  # two ratios closer than this are "unchanged"
_REF_TOL = 1e-9  # tolerance on q(t') = 1
_DECADES = 100  # grid points per decade of the rate search
_POLISH = 3  # grid minima polished by bounded Brent


@dataclass(frozen=True)
class DecayFit:
    """One fitted ratio series (docs/method.md §5, §5b).

    Attributes
    ----------
    tau : float
        Decay time τ in years; ``math.inf`` for a series that does not decay, NaN only with
        the ``no_cells`` or ``too_few_cells`` flag (or a log-linear fit with fewer than two
        non-zero ratios).
    tau_low, tau_high : float
        95 % confidence interval of τ in years (``tau_high`` is ``inf`` when the interval
        reaches rate 0); NaN when it cannot be computed (too few years, or τ from the
        plateau onset).
    lam : float
        λ of eq. 11 (dimensionless); for a non-decaying series the λ of the constant model.
    r2 : float
        Coefficient of determination on the q scale; NaN when the ratios have no variance.
    residuals : tuple of float
        ``q − q̂`` for every year given (fractions), at the reported τ and λ.
    flags : tuple of str
        A subset of :data:`FLAGS`.
    plateau_onset : int or None
        First year of the final run of unchanged ratios when ``plateau`` is flagged (a
        series that never changed, ``no_loss``, has no plateau).
    method : str
        How τ was fitted and how its interval was computed.
    """

    tau: float
    tau_low: float
    tau_high: float
    lam: float
    r2: float
    residuals: tuple[float, ...]
    flags: tuple[str, ...]
    plateau_onset: int | None
    method: str


# --------------------------------------------------------------------------- validation


def _years(years: ArrayLike, reference_year: int) -> NDArray[np.int64]:
    y = np.asarray(years, dtype=float)
    if y.ndim != 1 or y.size == 0:
        raise InputError(f"years must be a non-empty 1-D sequence, got shape {y.shape}")
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        raise InputError(f"years must be whole calendar years, got {y.tolist()}")
    if np.any(np.diff(y) <= 0):
        raise InputError(f"years must be strictly increasing, got {y.astype(int).tolist()}")
    if y[0] != reference_year:
        raise InputError(
            f"the first year must be the reference year t' = {reference_year} (the evaluation "
            f"years are t' … tN, docs/method.md §4), got {int(y[0])}"
        )
    return y.astype(np.int64)


def _check_options(mode: str, plateau: str, plateau_years: int) -> None:
    if mode not in ("free", "fixed", "loglinear"):
        raise ConfigError(f"mode must be 'free', 'fixed' or 'loglinear', got {mode!r}")
    if plateau not in ("fit", "onset"):
        raise ConfigError(f"plateau must be 'fit' or 'onset', got {plateau!r}")
    if isinstance(plateau_years, bool) or not isinstance(plateau_years, (int, np.integer)):
        raise ConfigError(f"plateau_years must be an integer ≥ 1, got {plateau_years!r}")
    if plateau_years < 1:
        raise ConfigError(f"plateau_years must be an integer ≥ 1, got {plateau_years}")


# --------------------------------------------------------------------------- plateau


def plateau_onset(years: ArrayLike, ratios: ArrayLike, *, plateau_years: int = 3) -> int | None:
    """Year a final plateau of a ratio series began (docs/method.md §5, §5b plateau rule).

    Parameters
    ----------
    years : array_like of int
        Evaluation years, strictly increasing.
    ratios : array_like of float
        The ratio series (fractions), one per year.
    plateau_years : int, keyword-only
        Least number of unchanged year-to-year steps at the end of the series (default 3).

    Returns
    -------
    int or None
        The first year of the final run of unchanged ratios when that run has at least
        ``plateau_years`` steps, else None. Ratios closer than 1e-12 count as unchanged.
    """
    y = np.asarray(years)
    q = np.asarray(ratios, dtype=float)
    steps = 0
    for i in range(q.size - 1, 0, -1):
        if not abs(q[i] - q[i - 1]) <= _STEP_TOL:
            break
        steps += 1
    if steps < plateau_years:
        return None
    return int(y[q.size - 1 - steps])


# --------------------------------------------------------------------------- NLS pieces


def _basis(k: float, x: NDArray[np.float64], scaled: bool) -> NDArray[np.float64]:
    """exp(−k·x); scaled so its largest value is 1 when λ is free (λ absorbs the scale)."""
    if scaled and k < 0:
        return np.exp(-k * (x - x[-1]))
    return np.exp(-k * x)


def _sse(k: float, x: NDArray[np.float64], q: NDArray[np.float64], free: bool) -> float:
    """Residual sum of squares at rate k, with λ profiled out (free) or λ = 1 (fixed)."""
    e = _basis(k, x, free)
    if free:
        e = e * ((q @ e) / (e @ e))  # λ is linear given k: closed-form least squares
    r = q - e
    return float(r @ r)


def _sse_grid(
    ks: NDArray[np.float64], x: NDArray[np.float64], q: NDArray[np.float64], free: bool
) -> NDArray[np.float64]:
    """:func:`_sse` at every rate of ``ks`` at once (one row of the basis per rate)."""
    k = ks[:, None]
    if free:  # the basis of a negative rate scaled to 1 at the end, as in _basis
        e = np.exp(-k * (x[None, :] - np.where(k < 0, x[-1], 0.0)))
        e = e * ((e @ q) / np.einsum("ij,ij->i", e, e))[:, None]
    else:
        e = np.exp(-k * x[None, :])
    r = q[None, :] - e
    return np.einsum("ij,ij->i", r, r)


def _lam(k: float, x: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    e = np.exp(-k * x)
    return float((q @ e) / (e @ e))


def _rate_grid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rates k = 1/τ (yr⁻¹) to search: 0, log-spaced positive and negative rates."""
    span = float(x[-1])
    k_small = 1e-6 / span  # τ a million times the window: indistinguishable from ∞
    k_pos = 50.0 / float(np.min(np.diff(x)))  # exp(−50) after one step: τ → 0
    k_neg = 50.0 / span  # growth of e⁵⁰ over the window
    pos = np.logspace(np.log10(k_small), np.log10(k_pos), int(np.log10(k_pos / k_small) * _DECADES))
    neg = -np.logspace(
        np.log10(k_small), np.log10(k_neg), int(np.log10(k_neg / k_small) * _DECADES)
    )
    return np.concatenate([neg[::-1], [0.0], pos])


def _best_rate(
    x: NDArray[np.float64], q: NDArray[np.float64], free: bool
) -> tuple[float, float, bool, NDArray[np.float64], NDArray[np.float64]]:
    """Global least-squares rate: grid search, then bounded Brent around the best grid minima.

    Returns k̂ (may be ≤ 0), SSE(k̂), whether k̂ sits on the upper end of the grid, and the
    grid with its SSE values (reused for the profile interval).
    """
    grid = _rate_grid(x)
    with np.errstate(over="ignore", invalid="ignore"):  # as the scalar form's float()
        sse = _sse_grid(grid, x, q, free)
    i_best = int(np.argmin(sse))
    k_best, s_best = float(grid[i_best]), float(sse[i_best])
    interior = np.flatnonzero((sse[1:-1] <= sse[:-2]) & (sse[1:-1] <= sse[2:])) + 1
    # polish the lowest few grid minima (round-off makes spurious ones on flat stretches)
    for i in interior[np.argsort(sse[interior], kind="stable")][:_POLISH]:
        lo, hi = float(grid[i - 1]), float(grid[i + 1])
        res = optimize.minimize_scalar(
            _sse,
            bounds=(lo, hi),
            args=(x, q, free),
            method="bounded",
            options={"xatol": 1e-12 * max(abs(lo), abs(hi)) + 1e-300, "maxiter": 500},
        )
        if res.fun < s_best:
            k_best, s_best = float(res.x), float(res.fun)
    at_upper = i_best == grid.size - 1 and k_best >= grid[-1]
    return k_best, s_best, at_upper, grid, sse


def _tau_of_rate(k: float) -> float:
    """τ = 1/k in years; rate ≤ 0 → ∞, infinite rate → 0, NaN stays NaN."""
    if math.isnan(k):
        return math.nan
    if k <= 0:
        return math.inf
    return 0.0 if math.isinf(k) else 1.0 / k


def _profile_interval(
    x: NDArray[np.float64],
    q: NDArray[np.float64],
    free: bool,
    k_hat: float,
    sse_min: float,
    grid: NDArray[np.float64],
    sse: NDArray[np.float64],
) -> tuple[float, float]:
    """95 % profile-likelihood interval of τ (F-based, λ profiled out), docs/method.md §5b.

    The rate interval is the connected set around k̂ where
    ``SSE(k) ≤ SSE(k̂)·(1 + F₀.₉₅(1, n − p)/(n − p))``; rates ≤ 0 map to τ = ∞.
    """
    n_par = 2 if free else 1
    dof = q.size - n_par
    if dof <= 0:
        return math.nan, math.nan
    threshold = sse_min * (1.0 + fdtri(1, dof, CONFIDENCE) / dof)

    def excess(k: float) -> float:
        return _sse(k, x, q, free) - threshold

    def crossing(inside: float, outward: NDArray[np.float64], above: NDArray[np.float64]) -> float:
        """First rate beyond which SSE exceeds the threshold, walking out from k̂."""
        previous = inside
        for k, s in zip(outward, above, strict=True):
            if s > threshold:
                if excess(previous) >= 0:  # perfect fit: the interval is the point k̂
                    return previous
                return float(optimize.brentq(excess, previous, float(k), xtol=1e-15, rtol=1e-13))
            previous = float(k)
        return math.inf if outward[-1] > inside else -math.inf

    up, down = grid > k_hat, grid < k_hat
    k_hi = crossing(k_hat, grid[up], sse[up]) if up.any() else math.inf
    k_lo = crossing(k_hat, grid[down][::-1], sse[down][::-1]) if down.any() else -math.inf
    return _tau_of_rate(k_hi), _tau_of_rate(k_lo)


# --------------------------------------------------------------------------- fits


def _r2(q: NDArray[np.float64], residuals: NDArray[np.float64]) -> float:
    sst = float(np.sum((q - q.mean()) ** 2))
    return math.nan if sst == 0 else 1.0 - float(residuals @ residuals) / sst


class _Estimate(NamedTuple):
    """What a fitting method returns to :func:`fit_decay`."""

    k: float  # rate 1/τ in yr⁻¹: ≤ 0 non-decaying, inf for τ → 0, NaN for no estimate
    lam: float
    q_hat: NDArray[np.float64]
    tau_low: float
    tau_high: float
    method: str
    flags: tuple[str, ...] = ()


def _fit_nls(x: NDArray[np.float64], q: NDArray[np.float64], free: bool) -> _Estimate:
    """Least-squares fit with λ free (profiled out) or fixed at 1, at the global optimum."""
    k, sse_min, at_upper, grid, sse = _best_rate(x, q, free)
    tau_low, tau_high = _profile_interval(x, q, free, k, sse_min, grid, sse)
    if k <= 0:  # non-decaying: τ = ∞, so the model is the constant λ
        lam = float(q.mean()) if free else 1.0
        q_hat = np.full_like(q, lam)
    elif at_upper:  # every cell lost after t': τ → 0, the model is q(t') then 0
        k, lam, q_hat = math.inf, float(q[0]), np.where(x == 0, q[0], 0.0)
    else:
        lam = _lam(k, x, q) if free else 1.0
        q_hat = lam * np.exp(-k * x)
    lam_text = "λ free, profiled out in closed form" if free else "λ fixed at 1"
    method = (
        f"NLS q = λ·exp(−(t − t')/τ), {lam_text}; global search of the rate k = 1/τ on a "
        f"log grid (k ≤ 0 = non-decaying) polished by bounded Brent; 95 % CI: profile "
        f"likelihood, F(1, n − {2 if free else 1})"
    )
    return _Estimate(k, lam, q_hat, tau_low, tau_high, method)


def _fit_loglinear(x: NDArray[np.float64], q: NDArray[np.float64]) -> _Estimate:
    """OLS of ln q on t − t' with q = 0 dropped; t-interval of the slope."""
    keep = q > 0
    flags = () if keep.all() else ("zero_dropped",)
    method = "log-linear OLS of ln q on t − t' (q = 0 dropped); 95 % CI: OLS t-interval"
    xs, ls = x[keep], np.log(q[keep])
    if xs.size < 2:
        nan = math.nan
        q_hat = np.full_like(q, nan)
        return _Estimate(nan, nan, q_hat, nan, nan, method + "; too few non-zero ratios", flags)
    xc = xs - xs.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ (ls - ls.mean())) / sxx
    intercept = float(ls.mean() - slope * xs.mean())
    k = -slope
    tau_low = tau_high = math.nan
    dof = xs.size - 2
    if dof > 0:
        resid = ls - (intercept + slope * xs)
        half = float(stdtrit(dof, 0.5 + CONFIDENCE / 2)) * math.sqrt(
            float(resid @ resid) / dof / sxx
        )
        tau_low, tau_high = _tau_of_rate(k + half), _tau_of_rate(k - half)
    if k <= 0:  # non-decaying: τ = ∞, so the model is the constant exp(mean ln q)
        lam = math.exp(float(ls.mean()))
        q_hat = np.full_like(q, lam)
    else:
        lam = math.exp(intercept)
        q_hat = lam * np.exp(-k * x)
    return _Estimate(k, lam, q_hat, tau_low, tau_high, method, flags)


def fit_decay(
    years: ArrayLike,
    ratios: ArrayLike,
    *,
    reference_year: int,
    mode: Mode = "free",
    n_ref: int | None = None,
    plateau: PlateauRule = "fit",
    plateau_years: int = 3,
    extrapolation_factor: float = EXTRAPOLATION_FACTOR,
    min_cells: int = 1,
) -> DecayFit:
    """Fit the trend decay ``q(t) = λ·exp(−(t − t')/τ)`` (paper eq. 11; docs/method.md §5, §5b).

    Parameters
    ----------
    years : array_like of int
        Evaluation years t' … tN (calendar years, strictly increasing, first = t').
    ratios : array_like of float
        Maintenance ratios as **fractions** ``q_i = N_i / N_t'`` (so 1 at t', not 100).
    reference_year : int, keyword-only
        t' (the paper: 2000).
    mode : {"free", "fixed", "loglinear"}, keyword-only
        ``free`` (default): nonlinear least squares with λ free, at the global optimum;
        ``fixed``: λ = 1; ``loglinear``: OLS of ln q on t − t', q = 0 dropped.
    n_ref : int, optional, keyword-only
        N_t', the count behind the ratios; 0 means there are no cells of this sign.
    plateau : {"fit", "onset"}, keyword-only
        With ``onset``, a plateau-flagged series that lost at least one cell gets
        τ = onset year − t' (no interval); with ``fit`` (default) τ is the fitted one.
    plateau_years : int, keyword-only
        Least number of unchanged final steps that makes a plateau (default 3).
    extrapolation_factor : float, keyword-only
        τ beyond this many times the number of evaluation years is flagged
        ``extrapolated`` (default 5).
    min_cells : int, keyword-only
        The fewest cells N_t' (``n_ref``) worth a fit: with ``0 < n_ref < min_cells`` no τ
        is given (NaN) and the series is flagged ``too_few_cells`` (default 1: every
        series with cells is fitted; runs use ``Config.min_fit_cells``).

    Returns
    -------
    DecayFit
        τ and its 95 % interval in years (``inf`` when the series does not decay, NaN when
        there are no cells), λ, R² on the q scale, residuals, flags and the method used.

    Raises
    ------
    InputError
        Years not strictly increasing or not starting at t'; ratios of another length,
        negative or non-finite, or q(t') ≠ 1 (e.g. percent given).
    ConfigError
        An unknown mode or plateau rule, or plateau_years < 1.
    """
    _check_options(mode, plateau, plateau_years)
    y = _years(years, reference_year)
    q = np.asarray(ratios, dtype=float)
    if q.shape != y.shape:
        raise InputError(f"ratios must have one value per year ({y.size}), got shape {q.shape}")
    if n_ref is not None and n_ref < 0:
        raise InputError(f"n_ref (N at t' = {reference_year}) must be ≥ 0, got {n_ref}")
    nan = math.nan
    if n_ref == 0 or np.all(np.isnan(q)) or np.all(q == 0):
        return DecayFit(nan, nan, nan, nan, nan, (nan,) * q.size, ("no_cells",), None,
                        f"no cells at t' = {reference_year}; nothing to fit")  # fmt: skip
    if n_ref is not None and n_ref < min_cells:
        return DecayFit(nan, nan, nan, nan, nan, (nan,) * q.size, ("too_few_cells",), None,
                        f"{n_ref} cell(s) at t' = {reference_year}, fewer than the "
                        f"{min_cells} a fit needs (min_fit_cells); not fitted")  # fmt: skip
    bad = ~np.isfinite(q) | (q < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"ratio of year {int(y[i])} must be finite and ≥ 0, got {q[i]}")
    if abs(q[0] - 1.0) > _REF_TOL:
        raise InputError(
            f"ratio at t' = {reference_year} must be 1 (give fractions N_i / N_t', not "
            f"percent), got {q[0]}"
        )
    x = (y - y[0]).astype(float)
    if np.all(np.abs(q - 1.0) <= _STEP_TOL):  # never changed: no loss and no plateau
        inf = math.inf
        return DecayFit(inf, inf, inf, 1.0, nan, (0.0,) * q.size, ("no_loss",), None,
                        "no cell lost: q = 1 in every year, τ = ∞")  # fmt: skip
    onset = plateau_onset(y, q, plateau_years=plateau_years)
    tail = ("plateau",) if onset is not None else ()
    fit = _fit_loglinear(x, q) if mode == "loglinear" else _fit_nls(x, q, mode == "free")
    tau, tau_low, tau_high, method = _tau_of_rate(fit.k), fit.tau_low, fit.tau_high, fit.method
    flags = ["non_decaying"] if fit.k <= 0 else []
    flags += [*fit.flags, *tail]
    if onset is not None and plateau == "onset" and np.any(q < 1.0 - _STEP_TOL):
        tau, tau_low, tau_high = float(onset - reference_year), nan, nan
        method += f"; τ taken as plateau onset {onset} − t' (no interval)"
    if math.isfinite(tau) and tau > extrapolation_factor * y.size:
        flags.append("extrapolated")
    residuals = q - fit.q_hat
    return DecayFit(
        tau=tau,
        tau_low=tau_low,
        tau_high=tau_high,
        lam=fit.lam,
        r2=_r2(q, residuals),
        residuals=tuple(float(r) for r in residuals),
        flags=tuple(flags),
        plateau_onset=onset,
        method=method,
    )
