"""docs/method.md §1: the vegetation-covered area (VCA)."""

from __future__ import annotations

from typing import Any

import ee

__all__ = ["vegetation_covered_area"]


def vegetation_covered_area(
    npp: Any, *, n_years: int, min_mean: float = 0.0, landcover: Any | None = None
) -> Any:
    """The VCA mask (docs/method.md §1): valid in every year and mean NPP above ``min_mean``.

    Parameters
    ----------
    npp
        ``ee.ImageCollection`` of annual NPP (band ``npp``, g C m⁻² yr⁻¹), one image a year.
    n_years
        The number of years of the run: a VCA cell has a valid value in each of them.
    min_mean
        The arithmetic mean over the years must be strictly greater (g C m⁻² yr⁻¹).
    landcover
        Optional ``ee.Image``; where it is 0 or masked the cell is not in the VCA.

    Returns
    -------
    ee.Image
        Band ``vca``: 1 in the VCA, 0 elsewhere (never masked), no fixed projection.
    """
    values = npp.select("npp")
    count = values.reduce(ee.Reducer.count())
    mean = values.reduce(ee.Reducer.mean())
    vca = count.eq(n_years).And(mean.gt(min_mean)).unmask(0)
    if landcover is not None:
        vca = vca.And(ee.Image(landcover).select(0).neq(0).unmask(0))
    return vca.rename("vca").toUint8()
