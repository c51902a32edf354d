"""docs/method.md §7: the record-length tables of the capacity, from grouped region sums.

The engine sums per region (:mod:`gee_cscc.method.record_length`) the running capacity
``runmax_{year}``, the jackknife drops ``jkdrop_{year}`` and the area ``rising_m2`` whose
CSCC was set in the last 5 years; with the capacity sums (``cscc_g``, ``area_m2``) and the
yearly NPP sums (``npp_{year}``, g C yr⁻¹) these give, per region:

- the running capacity total ``R_k`` (Tg C yr⁻¹) of each year and its share of the final
  ``R_tN = total(CSCC)``;
- ``stable_since``: the last year whose ``R_k`` rose by more than :data:`RISE_TOLERANCE`
  (0.1 %) over ``R_{k−1}`` (the first year when it never did): the capacity has not risen
  measurably since;
- the leave-one-year-out totals ``CSCC₍₋ⱼ₎ = total(CSCC) − D_j`` and potentials
  ``P₍₋ⱼ₎ = CSCC₍₋ⱼ₎ − NPP(last remaining year)`` (the last remaining year is tN, or
  tN−1 when tN is left out), and their jackknife standard errors
  ``√((n−1)/n · Σⱼ (θ₍₋ⱼ₎ − θ̄)²)``;
- the share of the VCA area whose CSCC was set in the last 5 years ("still rising").

The VCA is held fixed (the one of the whole record): the jackknife measures how the
capacity depends on the years, not how the VCA does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "RISE_TOLERANCE",
    "SENSITIVITY_COLUMNS",
    "STABILITY_COLUMNS",
    "capacity_sensitivity",
    "jackknife_se",
    "sensitivity_summary",
    "stability_sentence",
    "stable_since",
]

#: A rise of the running capacity total by more than this fraction counts as rising.
RISE_TOLERANCE = 1e-3
G_PER_TG = 1e12

#: Columns of ``capacity_sensitivity.csv`` (one row per region and year).
SENSITIVITY_COLUMNS = (
    "region",
    "year",
    "running_cscc_tg",
    "share_of_cscc",
    "cscc_without_year_tg",
    "potential_without_year_tg",
)
#: Columns of ``capacity_stability.csv`` (one row per region).
STABILITY_COLUMNS = (
    "region",
    "cscc_tg",
    "stable_since",
    "cscc_jk_se_tg",
    "cscc_jk_rel_se",
    "potential_tg",
    "potential_jk_se_tg",
    "rising_area_share",
)


def jackknife_se(values: Sequence[float]) -> float:
    """The jackknife standard error ``√((n−1)/n · Σ (θ₍₋ⱼ₎ − θ̄)²)`` of leave-one-out values."""
    v = np.asarray(values, dtype=float)
    n = v.size
    if n < 2:
        return math.nan
    return float(math.sqrt((n - 1) / n * float(np.sum((v - v.mean()) ** 2))))


def stable_since(years: Sequence[int], running: Sequence[float]) -> int:
    """The last year in which ``running`` rose by more than :data:`RISE_TOLERANCE` over the
    year before (the first year when it never did)."""
    last = int(years[0])
    for k in range(1, len(years)):
        before, now = float(running[k - 1]), float(running[k])
        if now > before + RISE_TOLERANCE * abs(before):
            last = int(years[k])
    return last


def capacity_sensitivity(
    sums: pd.DataFrame,
    cap: pd.DataFrame,
    yearly_sums: pd.DataFrame,
    years: Sequence[int],
    order: Sequence[int],
    label: Mapping[int, str],
    all_id: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``capacity_sensitivity.csv`` and ``capacity_stability.csv`` from grouped sums.

    Parameters
    ----------
    sums
        Grouped sums by region id of ``runmax_{year}``, ``jkdrop_{year}`` (g C yr⁻¹) and
        ``rising_m2`` (m²).
    cap
        The capacity sums by region id (``cscc_g``, ``area_m2``).
    yearly_sums
        The yearly NPP sums by region id (``npp_{year}``, g C yr⁻¹).
    years
        The record's years, ascending.
    order, label, all_id
        The rows in order, their names, and the id of the whole-area row (every id summed).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        :data:`SENSITIVITY_COLUMNS` (Tg C yr⁻¹; share 0–1) and :data:`STABILITY_COLUMNS`.
    """
    years = [int(y) for y in years]
    n = len(years)
    per_year, per_region = [], []
    for rid in order:
        src = sums.sum(axis=0) if rid == all_id else sums.loc[rid]
        csrc = cap.sum(axis=0) if rid == all_id else cap.loc[rid]
        ysrc = yearly_sums.sum(axis=0) if rid == all_id else yearly_sums.loc[rid]
        running = np.array([float(src[f"runmax_{y}"]) for y in years])
        drops = np.array([float(src[f"jkdrop_{y}"]) for y in years])
        total = float(csrc["cscc_g"])
        without = total - drops
        current = np.full(n, float(ysrc[f"npp_{years[-1]}"]))
        current[-1] = float(ysrc[f"npp_{years[-2]}"])  # without tN the record ends at tN−1
        potential_without = without - current
        final = running[-1]
        for k, y in enumerate(years):
            per_year.append(
                (
                    label[rid],
                    y,
                    running[k] / G_PER_TG,
                    running[k] / final if final > 0 else math.nan,
                    without[k] / G_PER_TG,
                    potential_without[k] / G_PER_TG,
                )
            )
        area = float(csrc["area_m2"])
        se = jackknife_se(without) / G_PER_TG
        cscc_tg = total / G_PER_TG
        per_region.append(
            (
                label[rid],
                cscc_tg,
                stable_since(years, running) if final > 0 else None,
                se,
                se / cscc_tg if cscc_tg > 0 else math.nan,
                (total - float(ysrc[f"npp_{years[-1]}"])) / G_PER_TG,
                jackknife_se(potential_without) / G_PER_TG,
                float(src["rising_m2"]) / area if area > 0 else math.nan,
            )
        )
    table = pd.DataFrame(per_year, columns=list(SENSITIVITY_COLUMNS))
    stability = pd.DataFrame(per_region, columns=list(STABILITY_COLUMNS))
    stability["stable_since"] = stability["stable_since"].astype("Int64")
    return table, stability


def sensitivity_summary(
    stability: pd.DataFrame, whole: str, years: Sequence[int], *, rising_years: int
) -> dict:
    """What run.json's ``summary.capacity_sensitivity`` holds: the whole-area row's numbers
    and one sentence on how stable the capacity estimate is (:func:`stability_sentence`);
    ``rising_years`` is the window of "still rising" (5 years)."""
    row = stability[stability["region"] == whole].iloc[0]
    rising = float(row["rising_area_share"])
    rel = float(row["cscc_jk_rel_se"])
    since = None if pd.isna(row["stable_since"]) else int(row["stable_since"])
    last = int(years[-1])
    return {
        "stable_since": since,
        "cscc_jk_se_pg": float(row["cscc_jk_se_tg"]) / 1e3,
        "cscc_jk_rel_se": rel,
        "potential_jk_se_pg": float(row["potential_jk_se_tg"]) / 1e3,
        "rising_area_share": rising,
        "rising_years": rising_years,
        "sentence": stability_sentence(since, rel, rising, last, rising_years),
    }


def stability_sentence(
    since: int | None, rel_se: float, rising: float, last: int, rising_years: int = 5
) -> str:
    """One sentence on how stable the capacity estimate is (for the report and run.json).

    "stable": the jackknife standard error of total CSCC is below 1 % of it, under 20 %
    of the VCA set its CSCC in the last ``rising_years`` and the total did not rise in the
    record's last year; "moderately stable": below 5 % and under 50 %; otherwise "not yet
    stable".
    """
    if since is None:
        return "The area has no VCA cells, so the capacity's stability is undefined."
    settled = "has not risen by more than 0.1 % since" if since < last else "was still rising in"
    verdict = (
        "stable"
        if rel_se < 0.01 and rising < 0.2 and since < last
        else "moderately stable"
        if rel_se < 0.05 and rising < 0.5
        else "not yet stable"
    )
    return (
        f"The capacity estimate is {verdict}: the whole area's running capacity {settled} "
        f"{since}, leaving out any one year changes total CSCC by a jackknife standard error "
        f"of {rel_se:.1%}, and {rising:.0%} of the VCA set its capacity in the last "
        f"{rising_years} years."
    )
