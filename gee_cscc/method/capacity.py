"""docs/method.md §2 (paper eqs. 4–5): carbon sink carrying capacity and increase potential."""

from __future__ import annotations

from typing import Any

import ee

__all__ = ["carrying_capacity", "increase_potential", "year_band"]


def year_band(img: Any) -> Any:
    """An image's ``year`` property as a constant int32 band named ``year``."""
    return ee.Image.constant(ee.Number(ee.Image(img).get("year"))).toInt32().rename("year")


def carrying_capacity(npp: Any, vca: Any) -> Any:
    """The carbon sink carrying capacity (CSCC) and the year it was reached (eq. 4).

    ``CSCC[p] = max_t y[t, p]``; ``CSCC_year[p]`` is the earliest year that reaches it.

    Parameters
    ----------
    npp
        ``ee.ImageCollection`` of annual NPP (band ``npp``, g C m⁻² yr⁻¹, property ``year``).
    vca
        The VCA image (band ``vca``, 1 inside).

    Returns
    -------
    ee.Image
        Bands ``cscc`` (g C m⁻² yr⁻¹) and ``cscc_year`` (int), masked outside the VCA.
        A composite: no fixed projection.
    """
    inside = ee.Image(vca).eq(1)
    cscc = npp.select("npp").reduce(ee.Reducer.max()).rename("cscc")
    # The earliest year whose NPP equals the maximum (ties → earliest, docs/method.md §2).
    at_max = npp.map(lambda img: year_band(img).updateMask(ee.Image(img).select("npp").eq(cscc)))
    cscc_year = at_max.reduce(ee.Reducer.min()).rename("cscc_year").toInt32()
    return cscc.addBands(cscc_year).updateMask(inside)


def increase_potential(npp: Any, cscc: Any) -> Any:
    """The increase potential of each year, ``PCS[t, p] = CSCC[p] − y[t, p]`` (eq. 5).

    Returns
    -------
    ee.ImageCollection
        One image a year, band ``pcs`` (g C m⁻² yr⁻¹, ≥ 0 for non-negative NPP), masked
        where CSCC is (outside the VCA), with the input's ``year`` and
        ``system:time_start``.
    """
    cap = ee.Image(cscc).select("cscc")

    def one(img: Any) -> Any:
        img = ee.Image(img)
        pcs = cap.subtract(img.select("npp")).rename("pcs")
        return ee.Image(pcs.copyProperties(img, ["year", "system:time_start", "system:index"]))

    return npp.map(one)
