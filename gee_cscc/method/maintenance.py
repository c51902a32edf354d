"""docs/method.md §4 (paper §3.3, eqs. 7–9): growing-window slopes, slope and maintenance surfaces."""

from __future__ import annotations

from typing import Any

import ee
import numpy as np

from gee_cscc.config.fields import evaluation_years

__all__ = [
    "WINDOW_SUM_BANDS",
    "window_sums",
    "window_slopes",
    "slope_surfaces",
    "maintenance_surfaces",
    "maintenance_years",
    "evaluation_years",
]


#: Bands of the running sums over a growing window (docs/method.md §4): the count of valid
#: years ``n``, ``Σt``, ``Σy``, ``Σty`` and ``Σt²`` (t: centred year, y: shifted NPP).
WINDOW_SUM_BANDS = ["n", "st", "sy", "sty", "stt"]


def window_sums(npp: Any, years: Any) -> Any:
    """Running (prefix) sums of the OLS fit over the growing windows ``t0 … t`` (eq. 7).

    One ``ImageCollection.iterate`` over the years in order adds each year's terms to the
    previous year's sums, so every window costs one image read and five additions instead
    of a fresh fit over all its years: O(years) per pixel for all windows together.

    Numerics: ``t = year − t̄`` with ``t̄`` the mean of all years, so ``n``, ``Σt`` and ``Σt²``
    are exact in float64 (integers or multiples of ¼); ``y`` is NPP minus the cell's first-year
    value (0 where that is masked), which leaves every slope unchanged and keeps
    ``nΣty − ΣtΣy`` from cancelling NPP's level (the shifted-data form of the sums).
    A year in which a cell is masked adds nothing to that cell's sums (``Reducer.linearFit``
    skips it the same way); a mask is read as valid where it is > 0.

    Returns
    -------
    ee.ImageCollection
        One double image per year of ``years``, bands :data:`WINDOW_SUM_BANDS` (``n``
        count, ``st`` years, ``sy`` g C m⁻² yr⁻¹, ``sty`` g C m⁻² yr⁻¹ × years, ``stt``
        years²), properties ``year`` and ``system:time_start``.
    """
    years = sorted(int(y) for y in years)
    centre = float(np.mean(years))
    ordered = npp.sort("year")
    shift = ee.Image(ordered.first()).select("npp").toDouble().unmask(0)
    zero = ee.Image.constant([0.0] * len(WINDOW_SUM_BANDS)).toDouble()

    def step(img: Any, acc: Any) -> Any:
        acc = ee.List(acc)
        img = ee.Image(img)
        npp_band = img.select("npp")
        t = ee.Number(img.get("year")).subtract(centre)
        valid = npp_band.mask().gt(0)
        # NPP − shift is double (the shift is): every sum is double from the first year on.
        y = npp_band.subtract(shift).unmask(0)
        terms = ee.Image.cat(
            [valid, valid.multiply(t), y, y.multiply(t), valid.multiply(t.multiply(t))]
        ).rename(WINDOW_SUM_BANDS)
        sums = terms.add(ee.Image(acc.get(-1)))
        return acc.add(ee.Image(sums.copyProperties(img, ["year", "system:time_start"])))

    sums = ee.List(ordered.iterate(step, ee.List([zero]))).slice(1)
    return ee.ImageCollection.fromImages(sums)


def window_slopes(npp: Any, years: Any, reference_year: int) -> Any:
    """``K_i``: the OLS slope of NPP over the growing window ``t0 … t_i`` (eq. 7).

    From the running sums of :func:`window_sums`:
    ``K_i = (nΣty − ΣtΣy) / (nΣt² − (Σt)²)``, which is the centred formula
    ``Σ(t − t̄)(y − ȳ) / Σ(t − t̄)²`` of docs/method.md §5b multiplied out, and the same slope as
    ``Reducer.linearFit``'s ``scale`` over the window (masked where fewer than two years
    are valid).

    Returns
    -------
    ee.ImageCollection
        One image per evaluation year ``t_i``, band ``slope`` (g C m⁻² yr⁻²), properties
        ``year`` and ``system:time_start``.
    """

    def slope(img: Any) -> Any:
        s = ee.Image(img)
        n, st, sy, sty, stt = (s.select(b) for b in WINDOW_SUM_BANDS)
        num = n.multiply(sty).subtract(st.multiply(sy))
        den = n.multiply(stt).subtract(st.multiply(st))
        k = num.divide(den).updateMask(den.gt(0)).rename("slope")
        return ee.Image(k.copyProperties(s, ["year", "system:time_start"]))

    sums = window_sums(npp, years)
    return sums.filter(ee.Filter.gte("year", reference_year)).map(slope)


def slope_surfaces(slopes: Any, vca: Any, *, tolerance: float = 1e-6) -> Any:
    """``S_i = sign(K_i)`` ∈ {−1, 0, +1}, 0 where |K_i| < tolerance (eq. 8, docs/method.md §5b).

    Returns
    -------
    ee.ImageCollection
        Band ``S`` (int8), masked outside the VCA, with each slope's year properties.
    """
    inside = ee.Image(vca).eq(1)

    def one(img: Any) -> Any:
        k = ee.Image(img).select("slope")
        s = k.gt(tolerance).subtract(k.lt(-tolerance)).toInt8().rename("S").updateMask(inside)
        return ee.Image(s.copyProperties(img, ["year", "system:time_start"]))

    return slopes.map(one)


def maintenance_surfaces(surfaces: Any, reference_year: int) -> Any:
    """Maintenance surfaces with ``ImageCollection.iterate`` (eq. 9).

    ``P_{t'} = S_{t'}``; ``P_i = P_{i−1}`` where ``S_i == P_{i−1}``, else 0 — once 0, a cell
    stays 0.

    Returns
    -------
    ee.ImageCollection
        Band ``P`` (int8: +1 positive trend maintained, −1 negative maintained, 0 changed),
        one image per evaluation year, with ``year`` and ``system:time_start``.
    """
    ordered = surfaces.sort("year")
    first = ee.Image(ordered.filter(ee.Filter.eq("year", reference_year)).first())
    start = ee.Image(
        first.select("S").rename("P").copyProperties(first, ["year", "system:time_start"])
    )
    rest = ordered.filter(ee.Filter.gt("year", reference_year))

    def step(img: Any, acc: Any) -> Any:
        acc = ee.List(acc)
        prev = ee.Image(acc.get(-1))
        s = ee.Image(img).select("S")
        p = prev.where(s.neq(prev), 0).toInt8().rename("P")
        return acc.add(ee.Image(p.copyProperties(img, ["year", "system:time_start"])))

    return ee.ImageCollection.fromImages(ee.List(rest.iterate(step, ee.List([start]))))


def maintenance_years(surfaces: Any) -> Any:
    """Per cell ``P_{t'} × #{i : P_i ≠ 0}`` (paper Fig. 8): signed years a trend held.

    Returns
    -------
    ee.Image
        Band ``maintenance_years`` (int16), −N … +N for N evaluation years.
    """
    ordered = surfaces.sort("year")
    first = ee.Image(ordered.first()).select("P")
    held = ordered.map(lambda img: ee.Image(img).select("P").neq(0)).reduce(ee.Reducer.sum())
    return held.multiply(first).toInt16().rename("maintenance_years")
