"""Pixel-scale carbon sink resilience as Earth Engine expressions (docs/method.md §7).

For a cell p, K(p) is the set of cells whose centres lie in a neighbourhood around it (a
circle or square, radius in km on the WGS84 ellipsoid or in grid cells). Counting the kept
cells of the maintenance surfaces P_i inside K(p) gives N⁺ᵢ(p) and N⁻ᵢ(p) (one ``convolve``
of the 0/1 images ``P_i = +1`` / ``P_i = −1`` with a fixed 0/1 kernel), and so the ratios
``q±ᵢ(p) = N±ᵢ(p) / N±_{t'}(p)`` of eq. 10 with a moving window instead of a province. The
decay time per cell is a closed-form fit of ln q on ``x = tᵢ − t'`` over the points with
q > 0, done as band math over the years:

* ``loglinear``: τ = −1 / slope of the OLS of ln q on x (+∞ when the slope ≥ 0);
* ``fixed`` (λ = 1): τ = −Σx² / Σx·ln q (+∞ when Σx·ln q ≥ 0);
* ``free`` has no closed form; per cell it falls back to ``loglinear`` (:func:`pixel_fit_mode`).

A τ is undefined (masked) where N_{t'}(p) < ``csr_min_cells`` or where fewer than two
points have q > 0 (every neighbour lost after t': the log-scale fits have no slope; the
same rule as the regional log-linear fit). With ``plateau = "onset"`` a series whose last
``plateau_years`` steps are unchanged and that lost a cell takes τ = onset − t', as the
regional rule. ``RS = τ⁺ − τ⁻`` with the infinity rules of §5b, graded by the thresholds of
§5 (``csr_grade`` codes :data:`GRADE_CODES`; 0 "none" inside the VCA where RS is undefined).

Decisions where docs/method.md is silent: a km radius is turned into one fixed kernel of the
grid, the cells whose centres lie within r of the centre cell at the grid's middle
latitude (geodesic distance on WGS84; planar distance in the CRS's metres for a projected
grid), so the same kernel runs on every engine; neighbours are VCA cells of the input on
the analysis lattice, also just outside the analysis extent (no artificial edge there).
The counts are computed on the analysis grid whatever grid the result is requested on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gee_cscc.config import Config
from gee_cscc.config.fields import CSR_GRADE_CODES, csr_radius_parts
from gee_cscc.errors import ConfigError

__all__ = [
    "CSR_PIXEL_ATTRS",
    "CSR_PIXEL_BANDS",
    "GRADE_CODES",
    "kernel_cells",
    "kernel_weights",
    "neighbourhood_counts",
    "pixel_fit_mode",
    "pixel_resilience",
    "pixel_tau",
]

#: The bands of :func:`pixel_resilience` (and the raster layers of a run with csr_pixel).
CSR_PIXEL_BANDS = ("tau_pos", "tau_neg", "csr_rs", "csr_grade")

#: ``csr_grade`` codes → the grades of docs/method.md §5 (0: RS undefined).
GRADE_CODES = CSR_GRADE_CODES

#: A number far beyond any τ that ``multiply`` turns into +∞ (IEEE overflow), the value of
#: a non-decaying τ: Earth Engine's JSON has no literal for infinity.
_HUGE = 1e300
_WGS84 = "WGS84"

#: The largest neighbourhood half-size in cells (the kernel is at most 1001 × 1001 weights,
#: ~2 MB of request, within Earth Engine's 10 MB request limit).
MAX_KERNEL_HALF = 500


def pixel_fit_mode(mode: str) -> str:
    """The per-cell fit of a run's ``fit_mode``: ``free`` falls back to ``loglinear``."""
    return "loglinear" if mode == "free" else mode


def _geodesic_km(lon0: float, lat0: float, lon: Any, lat: Any) -> np.ndarray:
    import pyproj

    geod = pyproj.Geod(ellps=_WGS84)
    lon = np.broadcast_to(np.asarray(lon, dtype=float), np.shape(lat))
    _, _, dist = geod.inv(np.full(lon.shape, lon0), np.full(lon.shape, lat0), lon, lat)
    return np.asarray(dist) / 1000.0


def kernel_weights(grid: Any, radius: str, shape: str = "circle") -> np.ndarray:
    """The 0/1 weights of the neighbourhood on ``grid`` (odd height × width, centre cell 1).

    Parameters
    ----------
    grid
        The analysis :class:`~gee_cscc.method.grid.GridSpec` (axis-aligned).
    radius
        ``"<r>km"`` or ``"<k>cells"`` (:func:`gee_cscc.config.fields.csr_radius`).
    shape
        ``"circle"``: the cells whose centres lie within r of the centre cell's (cells:
        ``dx² + dy² ≤ k²``); ``"square"``: within r along the row and along the column
        (cells: the (2k+1)² square).
    """
    size, unit = csr_radius_parts(radius)
    if unit == "cells":
        k = int(size)
        _check_kernel_size(k, k, radius)
        dy, dx = np.mgrid[-k : k + 1, -k : k + 1]
        keep = (dx * dx + dy * dy <= k * k) if shape == "circle" else np.ones(dx.shape, bool)
        return keep.astype(float)
    a, b, _, d, e, _ = grid.transform
    if b or d:
        raise ValueError("a km neighbourhood needs an axis-aligned grid (no shear)")
    if grid.pyproj_crs().is_geographic:
        xs, ys = grid.cell_centres()
        lon0, lat0 = float(xs[len(xs) // 2]), float(ys[len(ys) // 2])
        step_y = _geodesic_km(lon0, lat0, lon0, lat0 + abs(e))
        poleward = min(89.9, abs(lat0) + size / 100.0)  # 1° of latitude > 100 km
        step_x = _geodesic_km(0.0, poleward, abs(a), poleward)
        ny = int(math.ceil(size / float(step_y))) + 1
        nx = min(int(math.ceil(size / float(step_x))) + 1, int(180 / abs(a)))
        _check_kernel_size(ny, nx, radius)
        dy, dx = np.mgrid[-ny : ny + 1, -nx : nx + 1]
        lon, lat = lon0 + dx * a, np.clip(lat0 - dy * e, -90.0, 90.0)  # rows go south
        if shape == "circle":
            dist = _geodesic_km(lon0, lat0, lon, lat)
            keep = dist <= size
        else:
            along_x = _geodesic_km(lon0, lat0, lon0 + dx[0] * a, np.full(dx.shape[1], lat0))
            along_y = _geodesic_km(lon0, lat0, np.full(dy.shape[0], lon0), lat[:, 0])
            keep = (along_x[None, :] <= size) & (along_y[:, None] <= size)
    else:
        unit_m = grid.pyproj_crs().axis_info[0].unit_conversion_factor
        wx, wy = abs(a) * unit_m / 1000.0, abs(e) * unit_m / 1000.0
        nx, ny = int(size / wx), int(size / wy)
        _check_kernel_size(ny, nx, radius)
        dy, dx = np.mgrid[-ny : ny + 1, -nx : nx + 1]
        if shape == "circle":
            keep = np.hypot(dx * wx, dy * wy) <= size
        else:
            keep = np.ones(dx.shape, bool)
    # trim rows/columns of zeros symmetrically (the kernel stays centred)
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    cy, cx = keep.shape[0] // 2, keep.shape[1] // 2
    hy = max(cy - rows.min(), rows.max() - cy)
    hx = max(cx - cols.min(), cols.max() - cx)
    return keep[cy - hy : cy + hy + 1, cx - hx : cx + hx + 1].astype(float)


def _check_kernel_size(ny: int, nx: int, radius: str) -> None:
    """Refuse a neighbourhood wider than :data:`MAX_KERNEL_HALF` cells from its centre (a
    fixed kernel of more than 1001 × 1001 weights does not fit an Earth Engine request)."""
    if max(ny, nx) > MAX_KERNEL_HALF:
        side = MAX_KERNEL_HALF * 2 + 1
        raise ConfigError(
            f"csr_pixel: {radius!r} spans {2 * ny + 1} × {2 * nx + 1} cells of the analysis "
            f"grid; at most {side} × {side} (a radius of {MAX_KERNEL_HALF} cells) fits an Earth "
            "Engine request: give a smaller radius (or a coarser --scale)"
        )


def _kernel(weights: np.ndarray) -> Any:
    import ee

    h, w = weights.shape
    rows = [[int(v) for v in row] for row in weights]
    return ee.Kernel.fixed(w, h, rows, w // 2, h // 2, False)


def neighbourhood_counts(maintenance: Any, years: list[int], weights: np.ndarray, grid: Any) -> Any:
    """N⁺ᵢ(p) and N⁻ᵢ(p): the kept cells of each sign in every cell's neighbourhood.

    Returns
    -------
    ee.Image
        Bands ``pos_<year>``, ``neg_<year>`` (cells) per evaluation year, computed on
        ``grid`` (a ``reproject`` fixes the scale the kernel is applied at).
    """
    import ee

    bands = []
    for y in years:
        p = ee.Image(maintenance.filter(ee.Filter.eq("year", y)).first()).select("P")
        bands.append(p.eq(1).unmask(0, False).rename(f"pos_{y}"))
        bands.append(p.eq(-1).unmask(0, False).rename(f"neg_{y}"))
    stack = ee.Image.cat(bands).toDouble()
    counts = stack.convolve(_kernel(weights))
    return counts.reproject(crs=grid.crs, crsTransform=list(grid.transform))


def pixel_tau(
    counts: Any,
    years: list[int],
    sign: str,
    *,
    mode: str,
    min_cells: int,
    plateau: str = "fit",
    plateau_years: int = 3,
) -> Any:
    """τ of one sign per cell from the counts of :func:`neighbourhood_counts` (years).

    Returns
    -------
    ee.Image
        Band ``tau_<sign>`` (double, years; +∞ for a non-decaying series), masked where
        N_{t'} < ``min_cells`` or the fit has fewer than two points with q > 0.
    """
    import ee

    mode = pixel_fit_mode(mode)
    n = [counts.select(f"{sign}_{y}") for y in years]
    n0 = n[0]
    zero = ee.Image.constant(0).toDouble()
    s_w, s_x, s_xx, s_l, s_xl = ee.Image.constant(1).toDouble(), zero, zero, zero, zero
    last_change = zero
    for i in range(1, len(years)):
        x = float(years[i] - years[0])
        kept = n[i].gt(0)
        # ln q over kept points (q of a dropped point is set to 1: its ln is 0)
        ln_q = n[i].divide(n0).where(kept.Not(), 1).log()
        s_w = s_w.add(kept)
        s_x = s_x.add(kept.multiply(x))
        s_xx = s_xx.add(kept.multiply(x * x))
        s_l = s_l.add(ln_q)
        s_xl = s_xl.add(ln_q.multiply(x))
        last_change = last_change.max(n[i].neq(n[i - 1]).multiply(float(i)))
    infinity = ee.Image.constant(_HUGE).multiply(_HUGE)
    if mode == "loglinear":
        den = s_w.multiply(s_xx).subtract(s_x.multiply(s_x))
        slope = s_w.multiply(s_xl).subtract(s_x.multiply(s_l)).divide(den)
        decays = slope.lt(0)
        tau = ee.Image.constant(-1).divide(slope).where(decays.Not(), infinity)
    elif mode == "fixed":
        decays = s_xl.lt(0)
        tau = s_xx.multiply(-1).divide(s_xl).where(decays.Not(), infinity)
    else:
        raise ValueError(f"fit mode must be 'free', 'fixed' or 'loglinear', got {mode!r}")
    defined = s_w.gte(2)
    if plateau == "onset":
        steps = ee.Image.constant(float(len(years) - 1)).subtract(last_change)
        flat = steps.gte(plateau_years).And(last_change.gte(1))
        # the onset is the year of the last change; its x is its index (consecutive years)
        tau = tau.where(flat, last_change)
        defined = defined.Or(flat)
    return tau.updateMask(defined.And(n0.gte(min_cells))).rename(f"tau_{sign}")


def pixel_resilience(maintenance: Any, vca: Any, years: list[int], cfg: Config, grid: Any) -> Any:
    """τ⁺, τ⁻, RS and the grade per cell (docs/method.md §7), masked outside the VCA.

    Returns
    -------
    ee.Image
        Bands :data:`CSR_PIXEL_BANDS`: ``tau_pos``, ``tau_neg`` (years, +∞ non-decaying,
        masked undefined), ``csr_rs`` (years, ±∞, masked undefined), ``csr_grade`` (int8
        codes of :data:`GRADE_CODES`, 0 where RS is undefined).
    """
    import ee

    weights = kernel_weights(grid, cfg.csr_pixel, cfg.csr_kernel)
    if weights.sum() < cfg.csr_min_cells:
        raise ConfigError(
            f"csr_min_cells: {cfg.csr_min_cells} is more than the {int(weights.sum())} cells of "
            f"the {cfg.csr_pixel} {cfg.csr_kernel} on this grid, so every cell would be masked; "
            "give a larger csr_pixel radius or a smaller csr_min_cells"
        )
    counts = neighbourhood_counts(maintenance, years, weights, grid)
    options = {
        "mode": cfg.fit_mode,
        "min_cells": cfg.csr_min_cells,
        "plateau": cfg.plateau,
        "plateau_years": cfg.plateau_years,
    }
    tau_pos = pixel_tau(counts, years, "pos", **options)
    tau_neg = pixel_tau(counts, years, "neg", **options)
    inf_pos, inf_neg = tau_pos.gt(_HUGE), tau_neg.gt(_HUGE)
    infinity = ee.Image.constant(_HUGE).multiply(_HUGE)
    rs = (
        tau_pos.subtract(tau_neg)
        .where(inf_pos.And(inf_neg.Not()), infinity)
        .where(inf_neg.And(inf_pos.Not()), infinity.multiply(-1))
        .updateMask(inf_pos.And(inf_neg).Not())
        .rename("csr_rs")
    )
    t1, t2, t3, t4 = cfg.grade_thresholds
    code = rs.gt(t1).add(rs.gt(t2)).add(rs.gte(t3)).add(rs.gte(t4)).add(1)
    inside = ee.Image(vca).eq(1)
    grade = code.unmask(0, False).toInt8().rename("csr_grade").updateMask(inside)
    return ee.Image.cat(
        [tau_pos.updateMask(inside), tau_neg.updateMask(inside), rs.updateMask(inside), grade]
    )


#: Units and long names of :data:`CSR_PIXEL_BANDS` (the pulled layers' attributes).
CSR_PIXEL_ATTRS = {
    "tau_pos": ("years", "decay time of the positive trends in the neighbourhood (inf: none)"),
    "tau_neg": ("years", "decay time of the negative trends in the neighbourhood (inf: none)"),
    "csr_rs": ("years", "pixel carbon sink resilience RS = tau_pos - tau_neg"),
    "csr_grade": (
        "1",
        "pixel CSR grade: 5 extremely strong, 4 stronger, 3 strong, 2 weak, 1 weaker, 0 none",
    ),
}


def kernel_cells(grid: Any, cfg: Config) -> int | None:
    """The number of cells of a run's neighbourhood kernel (None without pixel CSR)."""
    if cfg.csr_pixel is None:
        return None
    return int(kernel_weights(grid, cfg.csr_pixel, cfg.csr_kernel).sum())
