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
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    masks = {
        "graded": lambda g, tp, tn: np.isfinite(g) & (g > 0),
        **{f"grade_{c}": (lambda g, tp, tn, c=c: g == c) for c in GRADE_CODES},
        "tau_pos_defined": lambda g, tp, tn: ~np.isnan(tp),
        "tau_pos_infinite": lambda g, tp, tn: np.isinf(tp),
        "tau_neg_defined": lambda g, tp, tn: ~np.isnan(tn),
        "tau_neg_infinite": lambda g, tp, tn: np.isinf(tn),
        "far": lambda g, tp, tn: (
            (np.isfinite(tp) & (tp > limit)) | (np.isfinite(tn) & (tn > limit))
        ),
    }
    sums = dict.fromkeys(masks, 0.0)
    total, vca_cells = 0.0, 0
    for rows in _strips(rasters):  # a strip of rows of each layer at a time
        vca = rows["vca"] == 1
        area = np.where(vca, np.nan_to_num(np.asarray(rows["pixel_area"], float)), 0.0)
        total += float(area.sum())
        vca_cells += int(vca.sum())
        grade = np.asarray(rows["csr_grade"], dtype=float)
        tau_pos = np.asarray(rows["tau_pos"], dtype=float)
        tau_neg = np.asarray(rows["tau_neg"], dtype=float)
        for key, mask in masks.items():
            sums[key] += float(area[mask(grade, tau_pos, tau_neg) & vca].sum())

    def share(key: str) -> float | None:
        return sums[key] / total if total > 0 else None

    out: dict[str, Any] = {
        "radius": cfg.csr_pixel,
        "kernel": cfg.csr_kernel,
        "min_cells": cfg.csr_min_cells,
        "fit_mode": mode,
        "fit_note": note,
        "kernel_cells": kernel_cells,
        "vca_cells": vca_cells,
        "graded_share": share("graded"),
        "grade_area_share": {
            name: share(f"grade_{code}") for code, name in sorted(GRADE_CODES.items(), reverse=True)
        },
    }
    for sign in ("pos", "neg"):
        out[f"tau_{sign}_defined_share"] = share(f"tau_{sign}_defined")
        out[f"tau_{sign}_infinite_share"] = share(f"tau_{sign}_infinite")
    out["extrapolated_share"] = share("far")
    out["extrapolation_limit_years"] = limit
    return out


#: Cells of one strip of :func:`pixel_csr_summary` (per layer).
STRIP_CELLS = 1 << 21
_LAYERS = ("vca", "pixel_area", "csr_grade", "tau_pos", "tau_neg")


def _strips(rasters: Any) -> Any:
    """``{layer: rows}`` of the summary's layers, a strip of rows at a time (a layer read
    lazily from a file is never whole in memory)."""
    first = rasters["vca"]
    ydim = first.dims[0]
    height, width = (int(n) for n in first.shape)
    step = max(1, STRIP_CELLS // max(1, width))
    for r0 in range(0, height, step):
        yield {
            name: np.asarray(rasters[name].isel({ydim: slice(r0, r0 + step)}).values)
            for name in _LAYERS
        }
