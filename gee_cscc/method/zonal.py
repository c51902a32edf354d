"""The per-cell quantities that region tables sum (docs/method.md §2–§3), as one band stack.

Region tables are sums over the VCA cells of each region: CSCC and NPP times the cell
area (g C yr⁻¹, paper eq. 4–5 totals), the VCA area (m²) and cell count, each year's NPP
times area, and for every trend class the class's area and cells. :func:`zonal_band_stack`
builds all of them as bands of one image, outside the VCA 0 (so a region's sum counts VCA
cells only), for one grouped reduction: shared sub-expressions are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ee

from gee_cscc.method.trend import TREND_CLASSES

__all__ = ["ZonalStack", "zonal_band_stack"]


@dataclass(frozen=True)
class ZonalStack:
    """The band stack of the region sums and its band names, by table.

    Attributes
    ----------
    image
        ``ee.Image`` of every band below, 0 outside the VCA.
    capacity
        ``cscc_g`` (CSCC × area, g C yr⁻¹), ``npp_g`` (last year's NPP × area), ``area_m2``,
        ``cells``.
    yearly
        ``npp_{year}``: each year's NPP × area (g C yr⁻¹).
    trend_classes
        ``a_{band}_{code}`` (m²) and ``n_{band}_{code}`` (cells) for ``band`` in
        ``trend_class``, ``trend_class_strict`` and every class code.
    """

    image: Any
    capacity: tuple[str, ...]
    yearly: tuple[str, ...]
    trend_classes: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """Every band name, in the image's order."""
        return [*self.capacity, *self.yearly, *self.trend_classes]


def zonal_band_stack(graph: Any, annual: Any) -> ZonalStack:
    """The bands that region tables sum, for a built method graph (docs/method.md §2–§3).

    Parameters
    ----------
    graph : gee_cscc.method.MethodGraph
        The method's expressions (VCA, capacity, trend).
    annual : gee_cscc.method.AnnualNPP
        The validated annual NPP (g C m⁻² yr⁻¹).
    """
    area = ee.Image.pixelArea().rename("area")
    inside = graph.vca.eq(1)
    last = annual.image(annual.last_year)

    def masked(img: Any) -> Any:
        return ee.Image(img).multiply(inside).unmask(0, False)

    capacity = ee.Image.cat(
        [
            masked(graph.capacity.select("cscc").multiply(area)).rename("cscc_g"),
            masked(last.select("npp").multiply(area)).rename("npp_g"),
            masked(area).rename("area_m2"),
            masked(ee.Image.constant(1)).rename("cells"),
        ]
    )
    year_names = tuple(f"npp_{y}" for y in annual.years)
    yearly = ee.Image.cat(
        [
            masked(annual.image(y).select("npp").multiply(area)).rename(f"npp_{y}")
            for y in annual.years
        ]
    )
    class_bands, class_names = [], []
    for band in ("trend_class", "trend_class_strict"):
        cls = graph.trend.select(band)
        for code in TREND_CLASSES:
            hit = masked(cls.eq(code))
            class_bands += [
                hit.multiply(area).rename(f"a_{band}_{code}"),
                hit.rename(f"n_{band}_{code}"),
            ]
            class_names += [f"a_{band}_{code}", f"n_{band}_{code}"]
    return ZonalStack(
        image=ee.Image.cat([capacity, yearly, ee.Image.cat(class_bands)]),
        capacity=("cscc_g", "npp_g", "area_m2", "cells"),
        yearly=year_names,
        trend_classes=tuple(class_names),
    )
