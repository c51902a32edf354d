"""The headline numbers of pixel-scale CSR (docs/method.md §7) from its pulled rasters.

:func:`pixel_csr_summary` says how the neighbourhood was set up and how the graded area
splits over the CSR grades; it goes into ``run.json``'s summary and the report. Nothing
here talks to Earth Engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gee_cscc.config import Config
from gee_cscc.config.fields import CSR_GRADE_CODES

__all__ = ["GRADE_CODES", "PIXEL_FIT_NOTE", "pixel_csr_summary"]

#: ``csr_grade`` codes → grades (the same codes as ``gee_cscc.method.csr_pixel``).
GRADE_CODES = CSR_GRADE_CODES

#: How each fit mode is done per cell (docs/method.md §7).
PIXEL_FIT_NOTE = {
    "loglinear": "log-linear OLS of ln q on x = t − t′ over q > 0",
    "fixed": "λ = 1: τ = −Σx² / Σx·ln q over q > 0, x = t − t′",
}


def pixel_csr_summary(rasters: Any, cfg: Config, kernel_cells: int | None = None) -> dict:
    """What a run's ``tau_pos``, ``tau_neg``, ``csr_rs`` and ``csr_grade`` layers show.

    Parameters
    ----------
    rasters
        The run's ``xarray.Dataset`` with those layers, ``vca`` and ``pixel_area`` (m²).
    cfg
        The run's config (csr_pixel, csr_kernel, csr_min_cells, fit_mode, factors).
    kernel_cells
        The number of cells in the neighbourhood kernel, if known.

    Returns
    -------
    dict
        ``radius``, ``kernel``, ``min_cells``, ``fit_mode`` (the per-cell fit),
        ``fit_note`` (says when ``free`` fell back to ``loglinear``), ``kernel_cells``,
        ``vca_cells``, ``graded_share`` (area share of VCA cells with a defined RS),
        ``grade_area_share`` (grade → share of the VCA area, incl. ``none``),
        ``tau_pos_defined_share``/``tau_neg_defined_share``, ``tau_pos_infinite_share``/
        ``tau_neg_infinite_share``, ``extrapolated_share`` (VCA cells with a finite τ of
        either sign above ``extrapolation_factor`` × the evaluation years).
    """
    mode = "loglinear" if cfg.fit_mode == "free" else cfg.fit_mode
    note = PIXEL_FIT_NOTE[mode]
    if cfg.fit_mode == "free":
        note = "the λ-free fit has no closed form per cell, so " + note
    vca = np.asarray(rasters["vca"].values) == 1
    area = np.where(vca, np.nan_to_num(np.asarray(rasters["pixel_area"].values, float)), 0.0)
    total = float(area.sum())
    grade = np.asarray(rasters["csr_grade"].values, dtype=float)

    def share(mask: np.ndarray) -> float | None:
        return float(area[mask & vca].sum() / total) if total > 0 else None

    out: dict[str, Any] = {
        "radius": cfg.csr_pixel,
        "kernel": cfg.csr_kernel,
        "min_cells": cfg.csr_min_cells,
        "fit_mode": mode,
        "fit_note": note,
        "kernel_cells": kernel_cells,
        "vca_cells": int(vca.sum()),
        "graded_share": share(np.isfinite(grade) & (grade > 0)),
        "grade_area_share": {
            name: share(grade == code) for code, name in sorted(GRADE_CODES.items(), reverse=True)
        },
    }
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    far = np.zeros(vca.shape, bool)
    for sign in ("pos", "neg"):
        tau = np.asarray(rasters[f"tau_{sign}"].values, dtype=float)
        out[f"tau_{sign}_defined_share"] = share(~np.isnan(tau))
        out[f"tau_{sign}_infinite_share"] = share(np.isinf(tau))
        far |= np.isfinite(tau) & (tau > limit)
    out["extrapolated_share"] = share(far)
    out["extrapolation_limit_years"] = limit
    return out
