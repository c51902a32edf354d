"""docs/method.md §3 (paper eq. 6): the NPP trend of every cell and its significance.

Earth Engine has no Student-t distribution, so the critical values come from SciPy
client-side (every VCA cell has the same number of years) and are compared server-side
without dividing: ``|t| > t_c  ⇔  K²·Stt·(n − 2) > t_c²·(Syy − K²·Stt)``. The statistic
itself is returned as a band (``trend_stat``) for the p-value raster, computed with SciPy
where it is pulled (:func:`p_values`).
"""

from __future__ import annotations

import math
from typing import Any

import ee
import numpy as np

__all__ = [
    "TREND_CLASSES",
    "critical_t",
    "critical_z",
    "ols_trend",
    "sen_trend",
    "trend",
    "p_values",
    "centred_year_band",
]

#: Class codes of the ``trend_class`` bands and their names in the paper.
TREND_CLASSES = {2: "SI", 1: "II", 0: "0", -1: "ID", -2: "SD"}

#: Stands in for an infinite t statistic (a perfect line) in a float band.
_HUGE = 1e30


def critical_t(n: int, alpha: float) -> float:
    """The two-sided critical |t| for ``n − 2`` degrees of freedom."""
    from scipy.special import stdtrit  # Student's t quantile (scipy.stats' t.ppf)

    if n < 3:
        raise ValueError(f"A trend needs at least 3 years, got {n}.")
    return float(stdtrit(n - 2, 1.0 - alpha / 2.0))


def critical_z(alpha: float) -> float:
    """The two-sided critical |z| of the standard normal distribution."""
    from scipy.special import ndtri  # the standard normal quantile (scipy.stats' norm.ppf)

    return float(ndtri(1.0 - alpha / 2.0))


def p_values(stat: np.ndarray, *, n: int, method: str = "ols") -> np.ndarray:
    """Two-sided p-values of pulled ``trend_stat`` values (t for OLS, z for Mann–Kendall).

    NaN stays NaN (outside the VCA); a zero statistic gives 1 and a perfect line 0.
    """
    from scipy.special import ndtr, stdtr  # the normal and t CDFs (scipy.stats' sf)

    stat = np.asarray(stat, dtype=float)
    # A perfect line's statistic is sent as ±1e30 (a float band cannot hold infinity).
    with np.errstate(invalid="ignore"):
        stat = np.where(np.abs(stat) >= _HUGE / 10, np.copysign(np.inf, stat), stat)
        if method == "sen":
            return 2.0 * ndtr(-np.abs(stat))
        return 2.0 * stdtr(n - 2, -np.abs(stat))


def centred_year_band(img: Any, centre: float) -> Any:
    """``year − centre`` of an image as a constant double band named ``t``."""
    year = ee.Number(ee.Image(img).get("year"))
    return ee.Image.constant(year.subtract(centre)).toDouble().rename("t")


def _zeroed(k: Any, tolerance: float) -> Any:
    """Slopes with |K| < tolerance set to exactly 0 (docs/method.md §5b)."""
    return k.where(k.abs().lt(tolerance), 0)


def _classes(slope: Any, significant: Any, name: str) -> Any:
    """Class codes: sign(K) × (1 + significant): SI 2, II 1, 0, ID −1, SD −2."""
    sign = slope.gt(0).subtract(slope.lt(0))
    return sign.multiply(significant.add(1)).toInt8().rename(name)


def ols_trend(
    npp: Any,
    years: tuple[int, ...] | list[int],
    *,
    alpha: float = 0.05,
    alpha_strict: float = 0.01,
    tolerance: float = 1e-6,
) -> Any:
    """OLS slope of NPP on year with a two-sided t-test (docs/method.md §3, eq. 6).

    ``K = Σ(t − t̄)(y − ȳ) / Σ(t − t̄)²`` through ``ee.Reducer.linearFit`` on centred years;
    ``t = K·√(Stt·(n − 2)) / √(Syy − K²·Stt)`` with ``Syy = n·var(y)``.

    Returns
    -------
    ee.Image
        ``trend_slope`` (g C m⁻² yr⁻²; 0 where |K| < tolerance), ``trend_stat`` (t; 0 where
        K = 0, ±1e30 for a perfect line), ``trend_class`` (at ``alpha``) and
        ``trend_class_strict`` (at ``alpha_strict``), codes as :data:`TREND_CLASSES`.
    """
    years = list(years)
    n = len(years)
    centre = float(np.mean(years))
    stt = float(np.sum((np.asarray(years, float) - centre) ** 2))
    pairs = npp.map(
        lambda img: centred_year_band(img, centre).addBands(ee.Image(img).select("npp"))
    )
    fit = pairs.reduce(ee.Reducer.linearFit())
    k = _zeroed(fit.select("scale"), tolerance).rename("trend_slope")
    syy = npp.select("npp").reduce(ee.Reducer.variance()).multiply(n)
    resid = syy.subtract(k.pow(2).multiply(stt)).max(0)
    explained = k.pow(2).multiply(stt * (n - 2))
    t_stat = k.multiply(math.sqrt(stt * (n - 2))).divide(resid.sqrt())
    perfect = resid.eq(0).And(k.neq(0))
    t_stat = t_stat.where(perfect, k.gt(0).subtract(k.lt(0)).multiply(_HUGE)).rename("trend_stat")
    bands = [k, t_stat]
    for a, name in ((alpha, "trend_class"), (alpha_strict, "trend_class_strict")):
        tc = critical_t(n, a)
        significant = explained.gt(resid.multiply(tc * tc))
        bands.append(_classes(k, significant, name))
    return ee.Image.cat(bands)


def mann_kendall_s(npp: Any, n: int) -> tuple[Any, Any]:
    """Mann–Kendall ``S`` and its tie-corrected variance, per pixel (server-side).

    ``S = Σ_{i<j} sign(y_j − y_i)``; ``var(S) = [n(n−1)(2n+5) − Σ_i (c_i−1)(2c_i+5)] / 18``
    where ``c_i`` counts the years whose value equals year i's (itself included), which
    equals the usual sum over tie groups.
    """
    images = npp.select("npp").toList(n)
    idx = ee.List.sequence(0, n - 1)

    def later_signs(i: Any) -> Any:
        i = ee.Number(i)
        yi = ee.Image(images.get(i))
        later = ee.List.sequence(i.add(1), n - 1)
        signs = later.map(lambda j: ee.Image(images.get(j)).subtract(yi).signum())
        return ee.ImageCollection.fromImages(signs).reduce(ee.Reducer.sum())

    s = ee.ImageCollection.fromImages(idx.slice(0, n - 1).map(later_signs)).reduce(ee.Reducer.sum())

    def tie_term(i: Any) -> Any:
        yi = ee.Image(images.get(ee.Number(i)))
        c = ee.ImageCollection.fromImages(idx.map(lambda j: ee.Image(images.get(j)).eq(yi))).reduce(
            ee.Reducer.sum()
        )
        return c.subtract(1).multiply(c.multiply(2).add(5))

    ties = ee.ImageCollection.fromImages(idx.map(tie_term)).reduce(ee.Reducer.sum())
    # Integer images divide as integers on Earth Engine: go to double first.
    var = ties.toDouble().multiply(-1).add(n * (n - 1) * (2 * n + 5)).divide(18.0)
    return s.rename("S").toDouble(), var.rename("var").toDouble()


def sen_trend(
    npp: Any,
    years: tuple[int, ...] | list[int],
    *,
    alpha: float = 0.05,
    alpha_strict: float = 0.01,
    tolerance: float = 1e-6,
) -> Any:
    """Sen's slope with the Mann–Kendall test (docs/method.md §3 option, §5b).

    The class takes its sign from Sen's slope and its significance from the MK test with
    the tie and continuity corrections: ``z = (S − sign(S)) / √var(S)``.

    Returns
    -------
    ee.Image
        ``trend_slope`` (Sen's slope, g C m⁻² yr⁻²), ``trend_stat`` (z), ``trend_class``,
        ``trend_class_strict``.
    """
    years = list(years)
    n = len(years)
    centre = float(np.mean(years))
    pairs = npp.map(
        lambda img: centred_year_band(img, centre).addBands(ee.Image(img).select("npp"))
    )
    slope = _zeroed(pairs.reduce(ee.Reducer.sensSlope()).select("slope"), tolerance)
    slope = slope.rename("trend_slope")
    s, var = mann_kendall_s(npp, n)
    sign_s = s.gt(0).subtract(s.lt(0))
    num = s.subtract(sign_s)
    z = num.divide(var.sqrt()).rename("trend_stat")
    bands = [slope, z]
    for a, name in ((alpha, "trend_class"), (alpha_strict, "trend_class_strict")):
        zc = critical_z(a)
        significant = num.pow(2).gt(var.multiply(zc * zc))
        bands.append(_classes(slope, significant, name))
    return ee.Image.cat(bands)


def trend(npp: Any, years: Any, *, method: str = "ols", **kwargs: Any) -> Any:
    """The trend image by the configured method (``ols`` or ``sen``)."""
    if method == "ols":
        return ols_trend(npp, years, **kwargs)
    if method == "sen":
        return sen_trend(npp, years, **kwargs)
    raise ValueError(f"trend method must be 'ols' or 'sen', got {method!r}")
