"""Local table derivations from region totals and per-year counts (docs/method.md §2, §3, §4, §5b).

These functions turn numbers already reduced by the engine (per-region totals in g, areas in
m², per-year maintenance counts in cells) into the paper's tables: Table 1
(:func:`capacity_table`), the per-year national figures (:func:`yearly_table`,
:func:`trend_series_summary`) and Table 2 (:func:`maintenance_table`,
:func:`maintenance_slopes`). Pure NumPy/SciPy/pandas; nothing here talks to Earth Engine.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import stdtr  # Student's t CDF (scipy.stats' t.sf is stdtr(df, -t))

from gee_cscc.errors import InputError

__all__ = [
    "G_PER_PG",
    "G_PER_TG",
    "MAINTENANCE_COLUMNS",
    "capacity_table",
    "maintenance_slopes",
    "maintenance_table",
    "trend_series_summary",
    "yearly_table",
]

G_PER_TG = 1e12  # grams in one teragram
G_PER_PG = 1e15  # grams in one petagram
ZERO_SLOPE = 1e-6  # |K| below this counts as 0 (docs/method.md §5b), in the series' units per year

#: The columns of the paper's Table 2, in order. Shares are fractions (0–1) in every table
#: of a run, named ``*_share`` (the paper prints them in percent).
MAINTENANCE_COLUMNS = (
    "year",
    "n_pos",
    "q_pos_share",
    "n_neg",
    "q_neg_share",
    "changed",
    "changed_cum_share",
)


def _vector(name: str, values: ArrayLike, size: int | None = None) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise InputError(f"{name} must be a non-empty 1-D sequence, got shape {v.shape}")
    if size is not None and v.size != size:
        raise InputError(f"{name} must have {size} values (one per year/region), got {v.size}")
    return v


def _year_vector(years: ArrayLike) -> NDArray[np.int64]:
    y = _vector("years", years)
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        raise InputError(f"years must be whole calendar years, got {y.tolist()}")
    if np.any(np.diff(y) <= 0):
        raise InputError(f"years must be strictly increasing, got {y.astype(int).tolist()}")
    return y.astype(np.int64)


def _divide(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """num / den, NaN (empty) where den is 0."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _ols_slope(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Centred-year OLS slope ``Σ(t − t̄)(y − ȳ) / Σ(t − t̄)²`` (docs/method.md §5b); NaN for n < 2."""
    if x.size < 2:
        return math.nan
    xc = x - x.mean()
    return float(xc @ (y - y.mean()) / (xc @ xc))


# --------------------------------------------------------------------------- Table 2


def maintenance_table(
    years: ArrayLike, n_pos: ArrayLike, n_neg: ArrayLike, *, reference_year: int
) -> pd.DataFrame:
    """The paper's Table 2 from maintenance counts (docs/method.md §4, §5b).

    Parameters
    ----------
    years : array_like of int
        Evaluation years t' … tN, strictly increasing, the first being t'.
    n_pos, n_neg : array_like of int
        N⁺_i and N⁻_i, cells whose maintenance surface is +1 / −1 in year i (cells).
    reference_year : int, keyword-only
        t' (the paper: 2000).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MAINTENANCE_COLUMNS`: ``q_pos_share``/``q_neg_share`` are the ratios
        ``q_i = N_i / N_t'`` (fractions, 1 at t'; NaN where N_t' = 0); ``changed`` is
        ``C_i = (N⁺_t' − N⁺_i) + (N⁻_t' − N⁻_i)`` (cells, 0 at t' by definition, docs/method.md
        §5b); ``changed_cum_share`` is the cumulative share ``Σ_{j≤i} C_j / Σ_j C_j`` over
        i > t' (fraction, 1 in tN; NaN at t', and NaN everywhere when no cell ever changes).
    """
    y = _year_vector(years)
    if y[0] != reference_year:
        raise InputError(
            f"the first year must be the reference year t' = {reference_year}, got {int(y[0])}"
        )
    pos = _vector("n_pos", n_pos, y.size)
    neg = _vector("n_neg", n_neg, y.size)
    for name, n in (("n_pos", pos), ("n_neg", neg)):
        bad = ~np.isfinite(n) | (n < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{name} of year {int(y[i])} must be a count ≥ 0, got {n[i]}")
    changed = (pos[0] - pos) + (neg[0] - neg)  # 0 at t' (docs/method.md §5b), not empty
    total = float(np.sum(changed[1:]))
    share = np.full(y.size, np.nan)
    if y.size > 1 and total != 0:
        share[1:] = np.cumsum(changed[1:]) / total
    return pd.DataFrame(
        {
            "year": y,
            "n_pos": pos.astype(np.int64) if np.all(pos == np.round(pos)) else pos,
            "q_pos_share": _divide(pos, pos[0]),
            "n_neg": neg.astype(np.int64) if np.all(neg == np.round(neg)) else neg,
            "q_neg_share": _divide(neg, neg[0]),
            "changed": changed.astype(np.int64)
            if np.all(changed == np.round(changed))
            else changed,
            "changed_cum_share": share,
        },
        columns=list(MAINTENANCE_COLUMNS),
    )


def maintenance_slopes(table: pd.DataFrame) -> dict[str, float]:
    """Linear slopes of the maintenance counts per year (docs/method.md §4, §5b).

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`maintenance_table` (first row = t').

    Returns
    -------
    dict
        ``slope_n_pos`` and ``slope_n_neg``: OLS slopes of N⁺ and N⁻ on year over t' … tN;
        ``slope_changed``: OLS slope of C over t'+1 … tN. All in cells yr⁻¹ (NaN when the
        window has fewer than two years).
    """
    missing = [c for c in ("year", "n_pos", "n_neg", "changed") if c not in table.columns]
    if missing:
        raise InputError(f"maintenance table lacks the columns {missing}")
    t = table["year"].to_numpy(dtype=float)
    return {
        "slope_n_pos": _ols_slope(t, table["n_pos"].to_numpy(dtype=float)),
        "slope_n_neg": _ols_slope(t, table["n_neg"].to_numpy(dtype=float)),
        "slope_changed": _ols_slope(t[1:], table["changed"].to_numpy(dtype=float)[1:]),
    }


# --------------------------------------------------------------------------- Table 1, §2


def capacity_table(
    regions: ArrayLike,
    cscc_total_g: ArrayLike,
    current_npp_total_g: ArrayLike,
    area_m2: ArrayLike,
) -> pd.DataFrame:
    """The paper's Table 1 from per-region totals (docs/method.md §2, §5b).

    Parameters
    ----------
    regions : array_like of str
        Region codes (e.g. ``CN``, ``HUN``).
    cscc_total_g : array_like of float
        ``total(CSCC) = Σ CSCC[p]·A[p]`` per region, g C yr⁻¹.
    current_npp_total_g : array_like of float
        ``total(y_tN)`` per region (the last year, "current NPP"), g C yr⁻¹.
    area_m2 : array_like of float
        VCA area per region, m².

    Returns
    -------
    pandas.DataFrame
        ``region``; ``cscc_tg``, ``current_npp_tg``, ``potential_tg`` (CSCC − current NPP)
        in Tg C yr⁻¹; ``cscc_mean_gm2`` (total / area, g C m⁻² yr⁻¹);
        ``potential_share_of_cscc`` and ``potential_share_of_npp`` (fractions). Means and
        shares are NaN where their denominator is 0 (e.g. a region with no VCA).
    """
    names = np.asarray(regions, dtype=object)
    if names.ndim != 1 or names.size == 0:
        raise InputError(f"regions must be a non-empty 1-D sequence, got shape {names.shape}")
    cscc = _vector("cscc_total_g", cscc_total_g, names.size)
    npp = _vector("current_npp_total_g", current_npp_total_g, names.size)
    area = _vector("area_m2", area_m2, names.size)
    if np.any(area < 0) or not np.all(np.isfinite(area)):
        raise InputError(f"area_m2 must be finite and ≥ 0, got {area.tolist()}")
    potential = cscc - npp
    return pd.DataFrame(
        {
            "region": names,
            "cscc_tg": cscc / G_PER_TG,
            "current_npp_tg": npp / G_PER_TG,
            "potential_tg": potential / G_PER_TG,
            "cscc_mean_gm2": _divide(cscc, area),
            "potential_share_of_cscc": _divide(potential, np.where(area > 0, cscc, 0.0)),
            "potential_share_of_npp": _divide(potential, np.where(area > 0, npp, 0.0)),
        }
    )


def yearly_table(
    years: ArrayLike, total_npp_g: ArrayLike, total_cscc_g: float, area_m2: float
) -> pd.DataFrame:
    """Per-year national figures: mean NPP, total NPP, saturation, potential (docs/method.md §2).

    Parameters
    ----------
    years : array_like of int
        The run years t0 … tN.
    total_npp_g : array_like of float
        ``total(y_t)`` per year, g C yr⁻¹.
    total_cscc_g : float
        ``total(CSCC)``, g C yr⁻¹.
    area_m2 : float
        VCA area, m².

    Returns
    -------
    pandas.DataFrame
        ``year``; ``mean_npp_gm2`` (total / area, g C m⁻² yr⁻¹, NaN for zero area);
        ``total_npp_pg`` (Pg C yr⁻¹); ``saturation_share`` ``S_t = total(y_t)/total(CSCC)``
        (fraction); ``potential_pg`` ``total(CSCC) − total(y_t)`` (Pg C yr⁻¹); then the
        increase proportions ``potential_share_of_cscc`` and ``potential_share_of_npp``
        (fractions). Ratios are NaN where their denominator is 0.
    """
    y = _year_vector(years)
    npp = _vector("total_npp_g", total_npp_g, y.size)
    cscc = float(total_cscc_g)
    area = float(area_m2)
    if not math.isfinite(area) or area < 0:
        raise InputError(f"area_m2 must be finite and ≥ 0, got {area}")
    potential = cscc - npp
    cscc_v = np.full(y.size, cscc if area > 0 else 0.0)
    return pd.DataFrame(
        {
            "year": y,
            "mean_npp_gm2": _divide(npp, np.full(y.size, area)),
            "total_npp_pg": npp / G_PER_PG,
            "saturation_share": _divide(npp, cscc_v),
            "potential_pg": potential / G_PER_PG,
            "potential_share_of_cscc": _divide(potential, cscc_v),
            "potential_share_of_npp": _divide(potential, np.where(area > 0, npp, 0.0)),
        }
    )


# --------------------------------------------------------------------------- §3 series


def trend_series_summary(years: ArrayLike, mean_npp: ArrayLike) -> dict[str, float]:
    """Trend and net change of a regional NPP series (docs/method.md §3, §5b).

    Parameters
    ----------
    years : array_like of int
        t0 … tN.
    mean_npp : array_like of float
        The area-weighted mean NPP per year, g C m⁻² yr⁻¹ (any series works; units follow).

    Returns
    -------
    dict
        ``slope``: centred-year OLS slope, g C m⁻² yr⁻² (|slope| < 1e-6 counts as 0);
        ``p_value``: two-sided t-test of the slope (1 for slope 0, 0 for a perfect line);
        ``net_change_slope``: slope × (tN − t0); ``net_change``: last − first;
        ``pct_change``: (last − first)/first × 100 and ``pct_change_slope``:
        slope × (tN − t0)/first × 100 (percent, NaN when first is 0).
    """
    y = _year_vector(years).astype(float)
    v = _vector("mean_npp", mean_npp, y.size)
    bad = ~np.isfinite(v)
    if bad.all():
        raise InputError(
            "The area has no vegetation-covered cell (none is valid in every year with a mean "
            "NPP above vca_min_mean), so its mean NPP is undefined: check the input's fill "
            "values, sign, scale_factor and the landcover mask."
        )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"The mean NPP of year {int(y[i])} is {v[i]} (not finite): an input value is "
            "infinite or too large; check the year's values or lower max_abs_npp."
        )
    slope = _ols_slope(y, v)
    if abs(slope) < ZERO_SLOPE:
        slope = 0.0
    n = y.size
    if math.isnan(slope) or n < 3:
        p_value = math.nan
    elif slope == 0:
        p_value = 1.0
    else:
        xc = y - y.mean()
        resid = v - v.mean() - slope * xc
        sse = float(resid @ resid)
        if sse == 0:
            p_value = 0.0
        else:
            t_stat = slope / math.sqrt(sse / (n - 2) / float(xc @ xc))
            p_value = float(2 * stdtr(n - 2, -abs(t_stat)))
    net_slope = float(slope * (y[-1] - y[0]))
    first = float(v[0])
    return {
        "slope": slope,
        "p_value": p_value,
        "net_change_slope": net_slope,
        "net_change": float(v[-1] - v[0]),
        "pct_change": float(v[-1] - first) / first * 100.0 if first != 0 else math.nan,
        "pct_change_slope": float(net_slope) / first * 100.0 if first != 0 else math.nan,
    }
