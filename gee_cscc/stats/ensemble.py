"""docs/method.md §7, several products: the ensemble of per-product runs on one grid and regions.

Each NPP product runs the whole method (§0–§5) on the same analysis grid and regions; these
functions compare the runs:

- :func:`ensemble_table`: per region, each product's total CSCC and potential (Tg C yr⁻¹),
  RS (years) and CSR grade; the mean and the sample standard deviation (``ddof = 1``) over
  products of CSCC, potential and RS (RS over the products with a finite RS only, so an
  infinite or undefined RS does not swamp the others); the modal grade (the most frequent;
  on a tie, the one of the earliest product among the tied) and the share of products that
  agree with it.
- :func:`ensemble_maps`: per cell the mean and sample standard deviation of CSCC over
  products (g C m⁻² yr⁻¹), where every product has a CSCC (a cell outside one product's VCA
  is left out of the ensemble map).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["ensemble_maps", "ensemble_table", "modal_grade"]


def modal_grade(grades: Sequence[str]) -> tuple[str, float]:
    """The most frequent grade (ties: the earliest in ``grades``) and its share of them."""
    counts: dict[str, int] = {}
    for g in grades:
        counts[g] = counts.get(g, 0) + 1
    best = max(counts.values())
    modal = next(g for g in grades if counts[g] == best)
    return modal, best / len(grades)


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size >= 2 else math.nan


def ensemble_table(
    capacity: Mapping[str, pd.DataFrame], resilience: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The ensemble table (``ensemble.csv``) from each product's Table 1 and resilience.

    Parameters
    ----------
    capacity
        Product name → its ``capacity`` table (``region``, ``cscc_tg``, ``potential_tg``).
    resilience
        Product name → its ``resilience`` table (``region``, ``rs``, ``grade``).

    Returns
    -------
    pandas.DataFrame
        ``region``; for each product ``p`` in order ``cscc_tg_<p>``, ``potential_tg_<p>``,
        ``rs_<p>``, ``grade_<p>``; then ``cscc_tg_mean``, ``cscc_tg_sd``,
        ``potential_tg_mean``, ``potential_tg_sd``, ``rs_mean``, ``rs_sd``, ``modal_grade``,
        ``grade_agreement`` (0–1). Regions in the first product's order.
    """
    names = list(capacity)
    regions = list(capacity[names[0]]["region"])
    cap = {p: capacity[p].set_index("region") for p in names}
    res = {p: resilience[p].set_index("region") for p in names}
    rows = []
    for region in regions:
        row: dict = {"region": region}
        values: dict[str, list] = {"cscc_tg": [], "potential_tg": [], "rs": [], "grade": []}
        for p in names:
            c = cap[p].loc[region] if region in cap[p].index else None
            r = res[p].loc[region] if region in res[p].index else None
            cscc = float(c["cscc_tg"]) if c is not None else math.nan
            potential = float(c["potential_tg"]) if c is not None else math.nan
            rs = float(r["rs"]) if r is not None and pd.notna(r["rs"]) else math.nan
            grade = str(r["grade"]) if r is not None and pd.notna(r["grade"]) else "none"
            row.update(
                {
                    f"cscc_tg_{p}": cscc,
                    f"potential_tg_{p}": potential,
                    f"rs_{p}": rs,
                    f"grade_{p}": grade,
                }
            )
            for key, value in zip(values, (cscc, potential, rs, grade), strict=True):
                values[key].append(value)
        for key in ("cscc_tg", "potential_tg", "rs"):
            row[f"{key}_mean"], row[f"{key}_sd"] = _mean_sd(values[key])
        row["modal_grade"], row["grade_agreement"] = modal_grade(values["grade"])
        rows.append(row)
    return pd.DataFrame(rows)


def ensemble_maps(cscc: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell mean and sample standard deviation (``ddof = 1``) of CSCC over products
    (g C m⁻² yr⁻¹); NaN where any product has no CSCC."""
    stack = np.stack([np.asarray(a, dtype=np.float64) for a in cscc])
    if stack.shape[0] < 2:
        raise ValueError(f"an ensemble needs at least 2 products, got {stack.shape[0]}")
    ok = np.all(np.isfinite(stack), axis=0)
    safe = np.where(ok, stack, 0.0)
    mean = np.where(ok, safe.mean(axis=0), np.nan)
    sd = np.where(ok, safe.std(axis=0, ddof=1), np.nan)
    return mean, sd
