"""The full NumPy baseline of ``bench_run.py``: the whole of METHOD.md (§0–§6) by hand.

What a researcher competent in NumPy/SciPy would write to get everything ``gee-cscc run``
writes, with the paper's defaults (1981–2018, t' = 2000, α = 0.05 and 0.01, λ-free decay
fit, plateau_years 3, plateau rule ``fit``): the one pass of the lean baseline
(``bench_run.numpy_core``, with the §0/§1 refusals made in the same pass), then

- tables as CSV (``tables/``): capacity per region, yearly series, trend classes at both
  levels, maintenance counts with q⁺/q⁻ and the changed cells, national figures, and the
  resilience per region (§5: grid search of the rate, then bounded Brent; λ in closed form;
  95 % profile-likelihood CI of τ; plateau, RS, grade, ``extrapolated``);
- rasters as tiled, deflate-compressed GeoTIFFs (``rasters/``), the 19 maintenance surfaces
  as one int8 GeoTIFF of 19 bands;
- PNG figures from a strided preview (``figures/``) and a plain ``report.html``.

It does not import gee_cscc. Run it through ``bench_run.py --numpy-full-run NPP REGIONS
NAMES OUT``; ``OUT/timings.json`` holds the seconds of each step.
"""

from __future__ import annotations

import json
import math
import os
import time
from html import escape
from pathlib import Path

import numpy as np
from bench_run import ALPHA, END, REF, START, numpy_core, trend_classes

ALPHA_STRICT = 0.01  # the "extremely significant" level reported beside α
PLATEAU_YEARS = 3
PLATEAU_RULE = "fit"  # "fit" | "onset" (METHOD.md §5)
EXTRAPOLATION = 5  # τ > 5 × the number of evaluation years is "extrapolated"
GRADE_LIMITS = (500.0, 100.0, 0.0, -100.0)
GRADES = ("extremely strong", "stronger", "strong", "weak", "weaker", "none")
CLASSES = ((2, "SI"), (1, "II"), (0, "0"), (-1, "ID"), (-2, "SD"))
PREVIEW_PX = 2_000_000  # pixels of a map preview
SMALL_PX = 150_000  # pixels of one panel of the maintenance-surface grid
DPI = 100


def _f(v: float | None) -> str:
    """A CSV/HTML number: empty for a missing value, ``inf``/``-inf``, else repr."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(float(v))


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(v if isinstance(v, str) else _f(v) for v in row) + "\n")


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    return float(xc @ (y - y.mean()) / (xc @ xc))


# --------------------------------------------------------------------------- tables


def tables(r, folder: Path) -> dict[str, tuple[list[str], list[list]]]:
    """Capacity, yearly, trend summary, maintenance counts and national figures (§1–4)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["ALL", *r.region_names.values()]
    idx = [0, *r.region_names]  # row of each name in the per-region arrays (0: ALL, below)
    nreg, rid, a = r.n_regions, r.rid, r.a

    def with_all(values: np.ndarray, total: float) -> np.ndarray:
        v = np.asarray(values, dtype=float).copy()
        v[0] = total  # id 0 (cells outside every region) is replaced by the whole area
        return v[idx]

    area_km2 = with_all(np.bincount(rid, weights=a, minlength=nreg), a.sum()) / 1e6
    cells = with_all(r.cells, r.vca.sum())
    cscc = with_all(r.cscc_tg, r.cscc_all_tg)
    npp = with_all(r.npp_tg, r.npp_all_tg)
    pot = cscc - npp
    out: dict[str, tuple[list[str], list[list]]] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gm2 = np.where(cells > 0, cscc * 1e12 / (area_km2 * 1e6), np.nan)
        share_c = np.where(cells > 0, pot / cscc, np.nan)
        share_n = np.where(cells > 0, pot / npp, np.nan)
    out["capacity_by_region.csv"] = (
        ["region", "cscc_tg", "current_npp_tg", "potential_tg", "cscc_mean_gm2",
         "potential_share_of_cscc", "potential_share_of_npp", "vca_area_km2", "vca_cells"],
        [[n, cscc[i], npp[i], pot[i], mean_gm2[i], share_c[i], share_n[i], area_km2[i],
          str(int(cells[i]))] for i, n in enumerate(names)],
    )  # fmt: skip

    total_area = float(r.a.sum())
    total = r.total_pg
    cscc_pg = r.cscc_all_tg / 1e3
    pcs_pg = cscc_pg - total
    mean_npp = total * 1e15 / total_area
    out["yearly.csv"] = (
        ["year", "mean_npp_gm2", "total_npp_pg", "saturation_share", "potential_pg",
         "potential_share_of_cscc", "potential_share_of_npp"],
        [[str(int(y)), mean_npp[i], total[i], total[i] / cscc_pg, pcs_pg[i],
          pcs_pg[i] / cscc_pg, pcs_pg[i] / total[i]] for i, y in enumerate(r.years)],
    )  # fmt: skip

    # trend classes at both levels: one bincount of (region, class) per level
    rows = []
    per_level = {}
    for alpha in (ALPHA, ALPHA_STRICT):
        cls = r.cls if alpha == ALPHA else trend_classes(r.k, r.p, alpha)
        code = 2 - cls[r.vca].astype(np.int64)  # SI 0, II 1, 0 2, ID 3, SD 4
        key = rid * 5 + code
        n = np.bincount(key, minlength=nreg * 5).reshape(nreg, 5)
        ar = np.bincount(key, weights=a, minlength=nreg * 5).reshape(nreg, 5) / 1e6
        n[0], ar[0] = (
            np.bincount(code, minlength=5),
            np.bincount(code, weights=a, minlength=5) / 1e6,
        )
        per_level[alpha] = (n[idx], ar[idx])
    for i, name in enumerate(names):
        for alpha in (ALPHA, ALPHA_STRICT):
            n, ar = per_level[alpha]
            for j, (_, label) in enumerate(CLASSES):
                has = cells[i] > 0
                rows.append([name, alpha, label, ar[i, j], ar[i, j] / area_km2[i] if has else None,
                             str(int(n[i, j])), n[i, j] / cells[i] if has else None])  # fmt: skip
    out["trend_summary.csv"] = (
        ["region", "alpha", "class", "area_km2", "area_share", "cells", "cell_share"],
        rows,
    )

    # maintenance counts (§4): N⁺, N⁻ per region and evaluation year, q, C and its share
    pos = np.array([with_all(c[0], c[1]) for c in r.counts]).T  # (rows, years)
    neg = np.array([with_all(c[2], c[3]) for c in r.counts]).T
    changed = (pos[:, :1] - pos) + (neg[:, :1] - neg)
    rows = []
    for i, name in enumerate(names):
        c_sum = changed[i].sum()
        cum = np.cumsum(changed[i])
        for j, year in enumerate(r.eval_years):
            rows.append([
                name, str(int(year)),
                str(int(pos[i, j])), pos[i, j] / pos[i, 0] if pos[i, 0] else None,
                str(int(neg[i, j])), neg[i, j] / neg[i, 0] if neg[i, 0] else None,
                str(int(changed[i, j])), cum[j] / c_sum if (j and c_sum) else None,
            ])  # fmt: skip
    out["maintenance_counts.csv"] = (
        ["region", "year", "n_pos", "q_pos_share", "n_neg", "q_neg_share", "changed",
         "changed_cum_share"],
        rows,
    )  # fmt: skip

    # national figures (§2–4)
    yrs = r.years.astype(float)
    ev = np.asarray(r.eval_years, dtype=float)
    k_mean = _slope(yrs, mean_npp)
    span = yrs[-1] - yrs[0]
    nat = [
        ("vca_cells", float(cells[0])),
        ("vca_area_km2", area_km2[0]),
        ("cscc_total_pg", cscc_pg),
        ("cscc_mean_gm2", mean_gm2[0]),
        ("potential_share_of_cscc_last_year", pcs_pg[-1] / cscc_pg),
        ("potential_share_of_npp_last_year", pcs_pg[-1] / total[-1]),
        ("mean_npp_slope_gm2_per_yr", k_mean),
        ("total_npp_slope_pg_per_yr", _slope(yrs, total)),
        ("mean_npp_net_change_slope_gm2", k_mean * span),
        ("mean_npp_net_change_last_first_gm2", mean_npp[-1] - mean_npp[0]),
        ("mean_npp_percent_change_slope", 100 * k_mean * span / mean_npp[0]),
        ("mean_npp_percent_change_last_first", 100 * (mean_npp[-1] - mean_npp[0]) / mean_npp[0]),
        ("n_pos_slope_cells_per_yr", _slope(ev, pos[0])),
        ("n_neg_slope_cells_per_yr", _slope(ev, neg[0])),
        ("changed_slope_cells_per_yr", _slope(ev[1:], changed[0, 1:])),
    ]
    out["national.csv"] = (["quantity", "value"], [[k, v] for k, v in nat])
    for name, (header, rows) in out.items():
        _write_csv(folder / name, header, rows)
    out["_counts"] = (names, [pos, neg])  # for the fits
    return out


# --------------------------------------------------------------------------- §5 fits


def _rate_grid(n: int) -> np.ndarray:
    """Decay rates k = 1/τ (yr⁻¹) searched: negative, 0, positive, log-spaced, 100 per decade."""
    span = n - 1.0
    pos = np.logspace(-7, np.log10(50.0), 870)  # τ from 10⁷ years down to 0.02 year
    neg = -np.logspace(-7, np.log10(50.0 / span), 700)[::-1]
    return np.concatenate([neg, [0.0], pos])


def _sse(k: float, x: np.ndarray, q: np.ndarray) -> float:
    e = np.exp(-k * x)
    lam = (q @ e) / (e @ e)  # λ in closed form given the rate
    d = q - lam * e
    return float(d @ d)


def fit_series(counts: np.ndarray, years: list[int]) -> dict:
    """λ-free NLS fit of q = λ·exp(−(t − t')/τ) to N_i / N_t' (METHOD.md §5, §5b)."""
    from scipy.optimize import brentq, minimize_scalar
    from scipy.stats import f as f_dist

    nan, inf = math.nan, math.inf
    n_ref = counts[0]
    res = {"tau": nan, "low": nan, "high": nan, "lam": nan, "r2": nan, "flags": [], "onset": None}
    if n_ref == 0:
        res["flags"] = ["no_cells"]
        return res
    q = counts / n_ref
    x = np.arange(q.size, dtype=float)
    if np.all(counts == n_ref):
        res.update(tau=inf, low=inf, high=inf, lam=1.0, flags=["no_loss"])
        return res
    steps = 0
    while steps < q.size - 1 and counts[-1 - steps] == counts[-2 - steps]:
        steps += 1
    if steps >= PLATEAU_YEARS:
        res["flags"].append("plateau")
        res["onset"] = int(years[q.size - 1 - steps])

    grid = _rate_grid(q.size)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-grid[:, None] * x[None, :])
        lam = (e @ q) / np.einsum("ij,ij->i", e, e)
        d = q[None, :] - lam[:, None] * e
        sse = np.einsum("ij,ij->i", d, d)
    i = int(np.nanargmin(sse))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    opt = minimize_scalar(_sse, bounds=(lo, hi), args=(x, q), method="bounded",
                          options={"xatol": 1e-14 + 1e-12 * abs(grid[i])})  # fmt: skip
    k, sse_min = (float(opt.x), float(opt.fun)) if opt.fun < sse[i] else (grid[i], sse[i])

    # 95 % profile-likelihood interval of the rate (F-based, λ profiled out)
    dof = q.size - 2
    limit = sse_min * (1 + f_dist.ppf(0.95, 1, dof) / dof)

    def edge(side: np.ndarray) -> float:
        """The rate where SSE crosses the limit walking from k over ``side`` (grid order)."""
        prev = k
        for kk in side:
            if _sse(kk, x, q) > limit:
                return brentq(lambda z: _sse(z, x, q) - limit, prev, kk, xtol=1e-15)
            prev = kk
        return math.copysign(inf, side[-1] - k) if side.size else nan

    k_up = edge(grid[grid > k]) if sse_min > 0 else k
    k_down = edge(grid[grid < k][::-1]) if sse_min > 0 else k
    res["low"] = 0.0 if k_up == inf else (1 / k_up if k_up > 0 else inf)
    res["high"] = 1 / k_down if k_down > 0 else inf

    if k <= 0:  # the best rate does not decay: τ = ∞, the model is the constant mean
        res["flags"].insert(0, "non_decaying")
        tau, lam_hat, fit = inf, float(q.mean()), np.full_like(q, q.mean())
    elif i == grid.size - 1:  # every cell lost at once: τ → 0
        tau, lam_hat, fit = 0.0, float(q[0]), np.where(x == 0, q[0], 0.0)
    else:
        e = np.exp(-k * x)
        lam_hat = float((q @ e) / (e @ e))
        tau, fit = 1 / k, lam_hat * e
    if "plateau" in res["flags"] and PLATEAU_RULE == "onset" and q.min() < 1:
        tau = float(res["onset"] - years[0])
    sst = float(((q - q.mean()) ** 2).sum())
    res.update(tau=tau, lam=lam_hat, r2=1 - float(((q - fit) ** 2).sum()) / sst if sst else nan)
    if math.isfinite(tau) and tau > EXTRAPOLATION * q.size:
        res["flags"].append("extrapolated")
    return res


def grade(rs: float) -> str:
    if math.isnan(rs):
        return GRADES[-1]
    top, high, zero, low = GRADE_LIMITS
    if rs > top:
        return GRADES[0]
    if rs > high:
        return GRADES[1]
    if rs >= zero:
        return GRADES[2]
    return GRADES[3] if rs >= low else GRADES[4]


def resilience(names: list[str], pos: np.ndarray, neg: np.ndarray, years: list[int], folder: Path):
    """resilience.csv: τ± with CI, λ, R², RS and grade per region (METHOD.md §5, §5b)."""
    rows, fits = [], {}
    for i, name in enumerate(names):
        fp, fn = fit_series(pos[i], years), fit_series(neg[i], years)
        tp, tn = fp["tau"], fn["tau"]
        if math.isnan(tp) or math.isnan(tn) or (math.isinf(tp) and math.isinf(tn)):
            rs = math.nan
        else:
            rs = tp - tn
        flags = [f"pos:{f}" for f in fp["flags"]] + [f"neg:{f}" for f in fn["flags"]]
        rows.append([name, tp, fp["low"], fp["high"], fp["lam"], fp["r2"],
                     tn, fn["low"], fn["high"], fn["lam"], fn["r2"], rs, grade(rs),
                     ";".join(flags), str(fp["onset"] or ""), str(fn["onset"] or "")])  # fmt: skip
        fits[name] = (fp, fn, rs, grade(rs))
    header = ["region", "tau_pos", "tau_pos_low", "tau_pos_high", "lambda_pos", "r2_pos",
              "tau_neg", "tau_neg_low", "tau_neg_high", "lambda_neg", "r2_neg", "rs", "grade",
              "flags", "plateau_onset_pos", "plateau_onset_neg"]  # fmt: skip
    _write_csv(folder / "resilience.csv", header, rows)
    return header, rows, fits


# --------------------------------------------------------------------------- rasters


def rasters(r, folder: Path) -> None:
    """The rasters as tiled, deflate-compressed GeoTIFFs (EPSG:4326, the input's transform)."""
    import rasterio

    folder.mkdir(parents=True, exist_ok=True)
    vca = r.vca
    ny, nx = vca.shape
    nan = np.float32(np.nan)
    years = list(r.years)

    def write(name: str, bands: list[np.ndarray], nodata: float | None) -> None:
        profile = dict(driver="GTiff", height=ny, width=nx, count=len(bands),
                       dtype=bands[0].dtype, crs="EPSG:4326", transform=r.transform,
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                       nodata=nodata)  # fmt: skip
        with rasterio.open(folder / f"{name}.tif", "w", **profile) as dst:
            for b, band in enumerate(bands, start=1):
                dst.write(band, b)

    write("cscc", [np.where(vca, r.cmax, nan)], float("nan"))
    write("cscc_year", [np.where(vca, r.cyear, 0).astype(np.int16)], 0)
    write("trend_slope", [np.where(vca, r.k, np.nan).astype(np.float32)], float("nan"))
    write("trend_class", [np.where(vca, r.cls, 0).astype(np.int8)], None)
    write("maintenance_years", [(np.where(vca, r.p_ref, 0) * r.held).astype(np.int8)], None)
    write("vca", [vca.astype(np.uint8)], None)
    for year in (START, REF, END):
        pcs = np.where(vca, r.cmax - r.cube[years.index(year)], nan)
        write(f"pcs_{year}", [pcs.astype(np.float32)], float("nan"))
    write("maintenance", [np.where(vca, s, 0).astype(np.int8) for s in r.surfaces], None)


# --------------------------------------------------------------------------- figures


def figures(
    r, names: list[str], pos, neg, fits: dict, yearly: list[list], folder: Path
) -> dict[str, float]:
    """§6 figures as PNG from strided previews (matplotlib, Agg); ``fits``: name → (τ⁺ fit,
    τ⁻ fit, RS, grade). Returns the seconds of each figure (build and save)."""
    t_start = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    folder.mkdir(parents=True, exist_ok=True)
    seconds = {"import": time.perf_counter() - t_start}
    t_last = [time.perf_counter()]

    def save(fig, file: str, tight: bool = False) -> None:
        fig.savefig(folder / file, dpi=DPI, bbox_inches="tight" if tight else None)
        plt.close(fig)
        seconds[file.removesuffix(".png")] = time.perf_counter() - t_last[0]
        t_last[0] = time.perf_counter()

    ny, nx = r.vca.shape
    step = max(1, math.ceil(math.sqrt(ny * nx / PREVIEW_PX)))
    small = max(1, math.ceil(math.sqrt(ny * nx / SMALL_PX)))
    t = r.transform
    extent = [t.c, t.c + t.a * nx, t.f + t.e * ny, t.f]
    vca = r.vca[::step, ::step]

    def prev(a: np.ndarray, s: int = step) -> np.ndarray:
        return a[::s, ::s]

    def masked(a: np.ndarray) -> np.ma.MaskedArray:
        return np.ma.masked_where(~vca, prev(a))

    def map_figure(name: str, data, title: str, label: str, labels=None, **kw) -> None:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        im = ax.imshow(data, extent=extent, interpolation="nearest", **kw)
        cb = fig.colorbar(im, ax=ax, shrink=0.8, label=label)
        if labels:  # categories: one tick per code
            cb.set_ticks(list(labels))
            cb.set_ticklabels(list(labels.values()))
        ax.set_title(title)
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        save(fig, f"{name}.png", tight=True)

    map_figure("cscc", masked(r.cmax), "Carbon sink carrying capacity (CSCC)",
               "g C m⁻² yr⁻¹", cmap="viridis")  # fmt: skip
    map_figure("cscc_year", masked(r.cyear), "Year of the CSCC", "year", cmap="plasma")
    cls_cmap = ListedColormap(["#b2182b", "#ef8a62", "#f7f7f7", "#67a9cf", "#2166ac"])
    map_figure("trend_class", masked(r.cls), f"Trend class (α = {ALPHA})", "class",
               labels=dict(CLASSES), cmap=cls_cmap,
               norm=BoundaryNorm(np.arange(-2.5, 3), 5))  # fmt: skip
    my = np.where(r.vca, r.p_ref, 0) * r.held
    map_figure("maintenance_years", masked(my), "Maintenance years (sign × years held)",
               "years", cmap="RdBu", vmin=-len(r.surfaces), vmax=len(r.surfaces))  # fmt: skip

    # PCS of three years, one colour scale
    years = list(r.years)
    pcs = [masked(r.cmax - r.cube[years.index(y)]) for y in (START, REF, END)]
    vmax = float(max(p.max() for p in pcs))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, p, y in zip(axes, pcs, (START, REF, END), strict=True):
        im = ax.imshow(p, extent=extent, interpolation="nearest", cmap="YlOrRd", vmin=0, vmax=vmax)
        ax.set_title(f"PCS {y}")
    fig.colorbar(im, ax=axes, shrink=0.8, label="g C m⁻² yr⁻¹")
    save(fig, "pcs.png", tight=True)

    # CSR grade per region, coloured on the region raster
    code = np.full(max(r.n_regions, 1), len(GRADES) - 1, np.int8)
    for rid, name in r.region_names.items():
        code[rid] = GRADES.index(fits[name][3])
    ids = prev(r.ids)
    grades = np.ma.masked_where(~vca | (ids <= 0), code[np.clip(ids, 0, code.size - 1)])
    grade_cmap = ListedColormap(["#006d2c", "#31a354", "#a1d99b", "#fdae6b", "#e6550d", "#bdbdbd"])
    fig, ax = plt.subplots(figsize=(8, 5.5))
    im = ax.imshow(grades, extent=extent, interpolation="nearest", cmap=grade_cmap,
                   norm=BoundaryNorm(np.arange(-0.5, 6), 6))  # fmt: skip
    cb = fig.colorbar(im, ax=ax, shrink=0.8, ticks=range(6))
    cb.ax.set_yticklabels(GRADES)
    ax.set_title("Carbon sink resilience grade per region")
    save(fig, "csr_grade.png", tight=True)

    # the 19 maintenance surfaces, small multiples from a coarser preview
    vs = r.vca[::small, ::small]
    ncol = 5
    nrow = math.ceil(len(r.surfaces) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3 * ncol, 2.1 * nrow))
    p_cmap = ListedColormap(["#2166ac", "#f0f0f0", "#b2182b"])
    for ax in axes.flat[len(r.surfaces) :]:
        ax.axis("off")
    for ax, s, y in zip(axes.flat, r.surfaces, r.eval_years, strict=False):
        ax.imshow(np.ma.masked_where(~vs, s[::small, ::small]), extent=extent,
                  interpolation="nearest", cmap=p_cmap, vmin=-1, vmax=1)  # fmt: skip
        ax.set_title(f"P {y}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(wspace=0.05, hspace=0.25)
    save(fig, "maintenance.png")

    # decay curves with their fits, one panel per region (ALL first)
    ev = np.asarray(r.eval_years)
    x = ev - ev[0]
    xs = np.linspace(0, x[-1], 60)
    ncol = 6
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.0 * nrow), sharex=True,
                             sharey=True)  # fmt: skip
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, i, name in zip(axes.flat, range(len(names)), names, strict=False):
        for counts, fit, colour in ((pos[i], fits[name][0], "C3"), (neg[i], fits[name][1], "C0")):
            if counts[0] == 0:
                continue
            ax.plot(ev, counts / counts[0], "o", ms=2.5, color=colour)
            tau = fit["tau"]
            if math.isfinite(fit["lam"]) and not math.isnan(tau):
                curve = fit["lam"] * (np.exp(-xs / tau) if tau > 0 else (xs == 0))
                ax.plot(ev[0] + xs, curve, "-", lw=1, color=colour)
        rs = fits[name][2]
        ax.set_title(f"{name}  RS {'—' if math.isnan(rs) else f'{rs:.0f}'}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.subplots_adjust(wspace=0.08, hspace=0.35)
    save(fig, "decay_curves.png")

    # national yearly series: total NPP and the CSCC total
    yrs = [int(row[0]) for row in yearly]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(yrs, [row[2] for row in yearly], "-o", ms=3, label="total NPP")
    ax.axhline(r.cscc_all_tg / 1e3, color="C2", ls="--", label="CSCC total")
    ax.set_xlabel("year")
    ax.set_ylabel("Pg C yr⁻¹")
    ax.legend()
    ax.set_title("National NPP and carrying capacity")
    save(fig, "yearly.png", tight=True)
    return seconds


# --------------------------------------------------------------------------- report


def report(out: Path, tables_: dict, figure_names: list[str]) -> None:
    """A plain report.html: every table as an HTML table, the PNGs by relative path."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>CSCC (NumPy)</title>",
             "<style>td,th{padding:2px 6px;font:12px sans-serif;text-align:right}</style>",
             "</head><body><h1>Carbon sink carrying capacity: NumPy baseline</h1>"]  # fmt: skip
    for name, (header, rows) in tables_.items():
        parts.append(f"<h2>{escape(name)}</h2><table><tr>")
        parts.append("".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = (v if isinstance(v, str) else (_f(v) and f"{v:.6g}") for v in row)
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    for name in figure_names:
        parts.append(f"<h2>{name}</h2><img src='figures/{name}.png' style='max-width:100%'>")
    parts.append("</body></html>")
    (out / "report.html").write_text("\n".join(parts))


def _process_age() -> float:
    """Seconds since this process started (interpreter start and imports), Linux; else NaN."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def numpy_full_run(npp: Path, regions: Path, names: Path, out: Path) -> None:
    """The whole of METHOD.md into ``out`` (tables/, rasters/, figures/, report.html)."""
    times = {"start_imports": _process_age()}
    out.mkdir(parents=True, exist_ok=True)
    r = numpy_core(npp, regions, names, checks=True)
    times.update(r.times)
    t0 = time.perf_counter()
    tab = tables(r, out / "tables")
    region_names, (pos, neg) = tab.pop("_counts")
    times["tables"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    header, rows, fits = resilience(region_names, pos, neg, r.eval_years, out / "tables")
    tab["resilience.csv"] = (header, rows)
    times["fits"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rasters(r, out / "rasters")
    times["geotiffs"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    each = figures(r, region_names, pos, neg, fits, tab["yearly.csv"][1], out / "figures")
    times["figures"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report(out, tab, sorted(p.stem for p in (out / "figures").glob("*.png")))
    times["html"] = time.perf_counter() - t0
    times["figures_each"] = each
    (out / "timings.json").write_text(json.dumps(times, indent=1))
