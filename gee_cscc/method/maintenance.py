"""METHOD.md §4 (paper §3.3, eqs. 7–9): growing-window slopes, slope and maintenance surfaces."""

from __future__ import annotations

from typing import Any

import ee
import numpy as np

from gee_cscc.method.trend import centred_year_band

__all__ = [
    "window_slopes",
    "slope_surfaces",
    "maintenance_surfaces",
    "maintenance_years",
    "evaluation_years",
]


def evaluation_years(years: Any, reference_year: int) -> list[int]:
    """``t', t'+1, …, tN``: the years the maintenance surfaces are evaluated at."""
    return [int(y) for y in years if int(y) >= reference_year]


def _year_millis(year: int) -> int:
    import datetime as dt

    return int(dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)


def window_slopes(npp: Any, years: Any, reference_year: int) -> Any:
    """``K_i``: the OLS slope of NPP over the growing window ``t0 … t_i`` (eq. 7).

    Returns
    -------
    ee.ImageCollection
        One image per evaluation year ``t_i``, band ``slope`` (g C m⁻² yr⁻²), properties
        ``year`` and ``system:time_start``.
    """
    years = sorted(int(y) for y in years)
    images = []
    for ti in evaluation_years(years, reference_year):
        window = [y for y in years if y <= ti]
        centre = float(np.mean(window))
        pairs = npp.filter(ee.Filter.lte("year", ti)).map(
            lambda img, c=centre: centred_year_band(img, c).addBands(ee.Image(img).select("npp"))
        )
        k = pairs.reduce(ee.Reducer.linearFit()).select(["scale"], ["slope"])
        images.append(k.set({"year": ti, "system:time_start": _year_millis(ti)}))
    return ee.ImageCollection.fromImages(images)


def slope_surfaces(slopes: Any, vca: Any, *, tolerance: float = 1e-6) -> Any:
    """``S_i = sign(K_i)`` ∈ {−1, 0, +1}, 0 where |K_i| < tolerance (eq. 8, METHOD.md §5b).

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
