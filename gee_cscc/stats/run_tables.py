"""A run's tables from its grouped region sums and maintenance counts (docs/method.md §2–§5b).

The engine reduces per-cell layers to sums per region id (:mod:`gee_cscc.method.zonal`);
these functions turn those sums into the tables of a run, with the whole-area row first
(id :data:`gee_cscc.method.regions.ALL_ID`, named ``cfg.all_label``, :data:`ALL` by default),
using the derivations of
:mod:`gee_cscc.stats.tables` and the fits of :mod:`gee_cscc.stats.resilience`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gee_cscc.config import Config
from gee_cscc.stats.resilience import fit_region
from gee_cscc.stats.tables import (
    capacity_table,
    maintenance_slopes,
    maintenance_table,
    trend_series_summary,
    yearly_table,
)

__all__ = [
    "ALL",
    "ALL_ID",
    "capacity_by_region",
    "maintenance_and_resilience",
    "run_summary",
    "trend_class_summary",
    "yearly_totals",
]

#: The default name of the whole-area row in every table (``Config.all_label`` sets another,
#: e.g. ``CN`` as in the paper).
ALL = "ALL"
#: The region id of the whole-area row in grouped sums and counts.
ALL_ID = -1


def capacity_by_region(cap: pd.DataFrame, order: list[int], label: dict) -> pd.DataFrame:
    """Table 1 (capacity_by_region.csv) from grouped sums (``cscc_g, npp_g, area_m2, cells``
    per region id), rows in ``order`` named by ``label``; the ALL row sums every region."""
    totals = cap.sum(axis=0)
    rows = []
    for rid in order:
        src = totals if rid == ALL_ID else cap.loc[rid]
        rows.append((label[rid], src["cscc_g"], src["npp_g"], src["area_m2"], src["cells"]))
    frame = capacity_table(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    )
    frame["vca_area_km2"] = [r[3] / 1e6 for r in rows]
    frame["vca_cells"] = [int(round(r[4])) for r in rows]
    return frame


def yearly_totals(
    yearly_sums: pd.DataFrame, cap: pd.DataFrame, years: tuple[int, ...]
) -> tuple[pd.DataFrame, dict]:
    """yearly.csv from grouped ``npp_{year}`` sums (g) and the capacity sums, and the
    whole-area NPP trend summary (docs/method.md §2, §3)."""
    totals = yearly_sums.sum(axis=0)
    total_npp = [totals[f"npp_{y}"] for y in years]
    cscc_total = float(cap["cscc_g"].sum())
    area = float(cap["area_m2"].sum())
    frame = yearly_table(list(years), total_npp, cscc_total, area)
    series = trend_series_summary(list(years), frame["mean_npp_gm2"].to_numpy())
    return frame, series


def trend_class_summary(
    class_sums: pd.DataFrame,
    order: list[int],
    label: dict,
    cfg: Config,
    classes: Mapping[int, str],
) -> pd.DataFrame:
    """trend_summary.csv: area and cells of each trend class per region, at ``cfg.alpha``
    and ``cfg.alpha_strict``, from grouped sums ``a_{band}_{code}`` (m²) and
    ``n_{band}_{code}`` (cells); ``classes`` maps class codes to names (docs/method.md §3)."""
    totals = class_sums.sum(axis=0)
    rows = []
    for rid in order:
        src = totals if rid == ALL_ID else class_sums.loc[rid]
        for band, alpha in (("trend_class", cfg.alpha), ("trend_class_strict", cfg.alpha_strict)):
            area_all = sum(src[f"a_{band}_{c}"] for c in classes)
            cells_all = sum(src[f"n_{band}_{c}"] for c in classes)
            for code, cname in classes.items():
                a = src[f"a_{band}_{code}"]
                n = src[f"n_{band}_{code}"]
                rows.append(
                    {
                        "region": label[rid],
                        "alpha": alpha,
                        "class": cname,
                        "area_km2": a / 1e6,
                        "area_share": a / area_all if area_all > 0 else math.nan,
                        "cells": int(round(n)),
                        "cell_share": n / cells_all if cells_all > 0 else math.nan,
                    }
                )
    return pd.DataFrame(rows)


def maintenance_and_resilience(
    counts: pd.DataFrame, order: list[int], label: dict, cfg: Config, eval_years: list[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2 (maintenance_counts.csv) and resilience.csv from per-year counts
    (``region_id, year, n_pos, n_neg``; docs/method.md §4–§5b)."""
    tables, fits = [], []
    for rid in order:
        sub = counts[counts["region_id"] == rid].set_index("year").reindex(eval_years, fill_value=0)
        table = maintenance_table(
            eval_years,
            sub["n_pos"].to_numpy(),
            sub["n_neg"].to_numpy(),
            reference_year=cfg.reference_year,
        )
        table.insert(0, "region", label[rid])
        tables.append(table)
        row = fit_region(
            eval_years,
            sub["n_pos"].to_numpy(),
            sub["n_neg"].to_numpy(),
            reference_year=cfg.reference_year,
            mode=cfg.fit_mode,
            plateau=cfg.plateau,
            plateau_years=cfg.plateau_years,
            extrapolation_factor=cfg.extrapolation_factor,
            min_cells=cfg.min_fit_cells,
            grade_thresholds=cfg.grade_thresholds,
        )
        fits.append({"region": label[rid], **row})
    return pd.concat(tables, ignore_index=True), pd.DataFrame(fits)


def run_summary(
    cfg: Config,
    capacity: pd.DataFrame,
    yearly: pd.DataFrame,
    series: dict,
    trend_summary: pd.DataFrame,
    counts: pd.DataFrame,
    grid: Any,
) -> dict:
    whole = cfg.all_label
    all_row = capacity[capacity["region"] == whole].iloc[0]
    last = yearly.iloc[-1]
    shares = trend_summary[
        (trend_summary["region"] == whole) & (trend_summary["alpha"] == cfg.alpha)
    ]
    table_all = counts[counts["region"] == whole]
    slopes = maintenance_slopes(table_all.drop(columns=["region"]))
    return {
        "vca_area_km2": float(all_row["vca_area_km2"]),
        "vca_cells": int(all_row["vca_cells"]),
        "cscc_total_pg": float(all_row["cscc_tg"]) / 1e3,
        "cscc_mean_gm2": float(all_row["cscc_mean_gm2"]),
        "last_year": int(last["year"]),
        "npp_last_pg": float(last["total_npp_pg"]),
        "saturation_last": float(last["saturation_share"]),
        "potential_last_pg": float(last["potential_pg"]),
        "potential_share_of_cscc": float(all_row["potential_share_of_cscc"]),
        "potential_share_of_npp": float(all_row["potential_share_of_npp"]),
        "trend_class_area_share": {
            r["class"]: float(r["area_share"]) for _, r in shares.iterrows()
        },
        "npp_series": {k: (float(v) if v is not None else None) for k, v in series.items()},
        "maintenance_slopes": {k: float(v) for k, v in slopes.items()},
        "grid": grid.to_dict(),
        "all_label": whole,
    }


def _finite(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None
