"""Carbon sink resilience (CSR) of a region, docs/method.md §5 and §5b (paper eq. 12).

:func:`fit_region` fits the decay of a region's positive and negative maintenance ratios
(:func:`gee_cscc.stats.fit.fit_decay`), then gives ``RS = τ⁺ − τ⁻`` (:func:`resilience`, in
years) and its grade (:func:`grade`). Nothing here talks to Earth Engine.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from gee_cscc.errors import InputError
from gee_cscc.stats.fit import EXTRAPOLATION_FACTOR, DecayFit, Mode, PlateauRule, fit_decay

__all__ = ["GRADES", "GRADE_THRESHOLDS", "fit_region", "grade", "resilience"]

#: The CSR grades of docs/method.md §5, strongest first, then the grade of an undefined RS.
GRADES = ("extremely strong", "stronger", "strong", "weak", "weaker", "none")


def resilience(tau_pos: float | None, tau_neg: float | None) -> float:
    """Carbon sink resilience ``RS = τ⁺ − τ⁻`` in years (paper eq. 12; docs/method.md §5, §5b).

    Parameters
    ----------
    tau_pos, tau_neg : float
        Decay times of the positive and negative trends in years (``inf`` allowed, NaN or
        None for a missing τ).

    Returns
    -------
    float
        RS in years: ``+∞ − finite = +∞``, ``finite − ∞ = −∞``; ``∞ − ∞`` or a missing τ
        gives NaN (undefined, graded ``none``).
    """
    values = []
    for name, tau in (("tau_pos", tau_pos), ("tau_neg", tau_neg)):
        t = math.nan if tau is None else float(tau)
        if t < 0:
            raise InputError(f"{name} must be ≥ 0 years, got {t}")
        values.append(t)
    if any(math.isnan(t) for t in values) or all(math.isinf(t) for t in values):
        return math.nan
    return values[0] - values[1]


#: The RS thresholds of the grades (years): extremely strong > 500 ≥ stronger > 100 ≥
#: strong ≥ 0 > weak ≥ −100 > weaker (docs/method.md §5).
GRADE_THRESHOLDS = (500.0, 100.0, 0.0, -100.0)


def grade(
    rs: float | None, thresholds: tuple[float, float, float, float] = GRADE_THRESHOLDS
) -> str:
    """CSR grade of RS in years (docs/method.md §5), one of :data:`GRADES`.

    With the default ``thresholds`` ``(500, 100, 0, −100)``: ``RS > 500`` extremely strong;
    ``100 < RS ≤ 500`` stronger; ``0 ≤ RS ≤ 100`` strong; ``−100 ≤ RS < 0`` weak;
    ``RS < −100`` weaker; undefined (NaN or None) ``none``.
    """
    top, high, zero, low = thresholds
    if rs is None or math.isnan(rs):
        return "none"
    if rs > top:
        return "extremely strong"
    if rs > high:
        return "stronger"
    if rs >= zero:
        return "strong"
    if rs >= low:
        return "weak"
    return "weaker"


def fit_region(
    years: ArrayLike,
    n_pos: ArrayLike,
    n_neg: ArrayLike,
    *,
    reference_year: int,
    mode: Mode = "free",
    plateau: PlateauRule = "fit",
    plateau_years: int = 3,
    extrapolation_factor: float = EXTRAPOLATION_FACTOR,
    grade_thresholds: tuple[float, float, float, float] = GRADE_THRESHOLDS,
    min_cells: int = 1,
) -> dict[str, float | str | int | None]:
    """One region's row of resilience.csv from its maintenance counts (docs/method.md §4–§5b).

    Parameters
    ----------
    years : array_like of int
        Evaluation years t' … tN.
    n_pos, n_neg : array_like of int
        Counts N⁺_i and N⁻_i of cells that kept a positive / negative trend (cells).
    reference_year, mode, plateau, plateau_years, extrapolation_factor, min_cells
        As in :func:`fit_decay` (a sign with fewer than ``min_cells`` cells at t' gets no τ,
        flag ``too_few_cells``, so RS is undefined and the grade ``none``).
    grade_thresholds
        As in :func:`grade`.

    Returns
    -------
    dict
        ``tau_pos, tau_pos_low, tau_pos_high, lambda_pos, r2_pos`` and the same for ``neg``
        (τ in years), ``rs`` (years), ``grade``, ``flags`` (';'-joined, prefixed ``pos:`` /
        ``neg:``, e.g. ``pos:no_loss;neg:plateau``), then ``plateau_onset_pos`` and
        ``plateau_onset_neg`` (year or None).
    """
    row: dict[str, float | str | int | None] = {}
    flags: list[str] = []
    onsets: dict[str, int | None] = {}
    fits: dict[str, DecayFit] = {}
    n_years = np.asarray(years).size
    for sign, counts in (("pos", n_pos), ("neg", n_neg)):
        n = np.asarray(counts, dtype=float)
        if n.ndim != 1 or n.size == 0 or n.size != n_years:
            raise InputError(f"n_{sign} must hold one count per year ({n_years}), got {n.shape}")
        if not np.all(np.isfinite(n)) or np.any(n < 0):
            raise InputError(f"n_{sign} must be finite counts ≥ 0, got {n.tolist()}")
        n_ref = float(n[0])
        q = n / n_ref if n_ref > 0 else np.zeros_like(n)
        fit = fit_decay(
            years,
            q,
            reference_year=reference_year,
            mode=mode,
            n_ref=int(n_ref),
            plateau=plateau,
            plateau_years=plateau_years,
            extrapolation_factor=extrapolation_factor,
            min_cells=min_cells,
        )
        fits[sign] = fit
        row.update(
            {
                f"tau_{sign}": fit.tau,
                f"tau_{sign}_low": fit.tau_low,
                f"tau_{sign}_high": fit.tau_high,
                f"lambda_{sign}": fit.lam,
                f"r2_{sign}": fit.r2,
            }
        )
        flags.extend(f"{sign}:{f}" for f in fit.flags)
        onsets[f"plateau_onset_{sign}"] = fit.plateau_onset
    rs = resilience(fits["pos"].tau, fits["neg"].tau)
    row.update({"rs": rs, "grade": grade(rs, grade_thresholds), "flags": ";".join(flags), **onsets})
    return row
