"""docs/method.md §7: how far the carrying capacity can be trusted with the record's length.

The capacity is the largest NPP of one record (eq. 4), so a longer record can only raise it.
Three per-cell quantities say how settled it is, as Earth Engine expressions:

- **Running capacity** ``M_k[p] = max_{t0 ≤ t ≤ t_k} y[t, p]`` for every year ``t_k``
  (``M_{tN} = CSCC``). A cell's running capacity stops rising in its ``cscc_year``.
- **Jackknife over years.** Leaving year ``j`` out, a cell's capacity is
  ``CSCC₍₋ⱼ₎[p] = max_{t ≠ j} y[t, p]``: CSCC itself, except in the year CSCC was set
  (``cscc_year``), where it is the largest NPP of the other years, ``second[p]`` (equal to
  CSCC when the maximum is reached twice). So a region's total without year ``j`` is
  ``total(CSCC) − D_j`` with ``D_j = Σ_{p: cscc_year[p] = j} (CSCC[p] − second[p])·A[p]``.
- **Capacity still rising**: the VCA cells whose ``cscc_year`` is within the last
  :data:`RISING_YEARS` years of the record.

:func:`record_length_stack` gives the per-cell bands that region tables sum (0 outside the
VCA, as :func:`gee_cscc.method.zonal.zonal_band_stack`); :func:`capacity_jackknife` the
per-cell jackknife standard errors (``cscc_jk_se``, ``pcs_jk_se``) for maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ee

from gee_cscc.method.capacity import year_band

__all__ = [
    "RECORD_LENGTH_BANDS",
    "RISING_YEARS",
    "RecordLengthStack",
    "capacity_jackknife",
    "record_length_stack",
    "second_largest",
]

#: A cell whose CSCC was set in the last this many years of the record is "still rising".
RISING_YEARS = 5
#: The per-cell map bands of :func:`capacity_jackknife`.
RECORD_LENGTH_BANDS = ("cscc_jk_se", "pcs_jk_se")


@dataclass(frozen=True)
class RecordLengthStack:
    """The band stack of the record-length region sums and its band names.

    Attributes
    ----------
    image
        ``ee.Image`` of every band below, 0 outside the VCA.
    running
        ``runmax_{year}``: the running capacity ``M_year × A`` (g C yr⁻¹), one per year.
    drops
        ``jkdrop_{year}``: ``(CSCC − second) × A`` where ``cscc_year == year``, else 0
        (g C yr⁻¹): what leaving that year out takes from a region's total CSCC.
    rising
        ``rising_m2``: the area (m²) of the cells whose CSCC was set in the last
        :data:`RISING_YEARS` years.
    """

    image: Any
    running: tuple[str, ...]
    drops: tuple[str, ...]
    rising: tuple[str, ...] = ("rising_m2",)

    @property
    def names(self) -> list[str]:
        """Every band name, in the image's order."""
        return [*self.running, *self.drops, *self.rising]


def second_largest(npp: Any, capacity: Any) -> Any:
    """Each cell's largest NPP over the years other than its ``cscc_year`` (docs/method.md §7).

    Parameters
    ----------
    npp
        ``ee.ImageCollection`` of annual NPP (band ``npp``, g C m⁻² yr⁻¹, property ``year``).
    capacity
        The image of :func:`gee_cscc.method.capacity.carrying_capacity` (``cscc``,
        ``cscc_year``).

    Returns
    -------
    ee.Image
        Band ``second`` (g C m⁻² yr⁻¹): CSCC itself where the maximum is reached in two or
        more years; masked where ``capacity`` is.
    """
    year_set = ee.Image(capacity).select("cscc_year")
    others = ee.ImageCollection(npp).map(
        lambda img: ee.Image(img).select("npp").updateMask(year_band(img).neq(year_set))
    )
    return others.reduce(ee.Reducer.max()).rename("second")


def record_length_stack(graph: Any, annual: Any) -> RecordLengthStack:
    """The per-cell bands of the record-length region sums (docs/method.md §7).

    Parameters
    ----------
    graph : gee_cscc.method.MethodGraph
        The method's expressions (VCA and capacity).
    annual : gee_cscc.method.AnnualNPP
        The validated annual NPP (g C m⁻² yr⁻¹).
    """
    area = ee.Image.pixelArea()
    inside = graph.vca.eq(1)

    def masked(img: Any) -> Any:
        return ee.Image(img).multiply(inside).unmask(0, False)

    years = list(annual.years)
    running, names = [], []
    current = None
    for y in years:  # M_k = max(M_{k-1}, y_k): one max a year
        npp = annual.image(y).select("npp")
        current = npp if current is None else ee.Image(current).max(npp)
        running.append(masked(ee.Image(current).multiply(area)).rename(f"runmax_{y}"))
        names.append(f"runmax_{y}")
    cscc = graph.capacity.select("cscc")
    year_set = graph.capacity.select("cscc_year")
    gap = cscc.subtract(second_largest(annual.collection, graph.capacity)).multiply(area)
    drops = [masked(gap.multiply(year_set.eq(y))).rename(f"jkdrop_{y}") for y in years]
    rising = masked(area.multiply(year_set.gt(years[-1] - RISING_YEARS))).rename("rising_m2")
    return RecordLengthStack(
        image=ee.Image.cat([*running, *drops, rising]),
        running=tuple(names),
        drops=tuple(f"jkdrop_{y}" for y in years),
    )


def capacity_jackknife(graph: Any, annual: Any) -> Any:
    """Per-cell jackknife standard errors of CSCC and of the potential (docs/method.md §7).

    With ``n`` years, ``d = CSCC − second`` and the capacity set in year ``j*``, the
    leave-one-out capacities are CSCC for ``j ≠ j*`` and ``CSCC − d`` for ``j*``, so the
    jackknife standard error ``√((n−1)/n · Σⱼ (θ₍₋ⱼ₎ − θ̄)²)`` is ``(n−1)/n · d``.
    The potential ``CSCC − y[tN]`` (paper eq. 5 at the record's last year) without year
    ``j`` is ``CSCC₍₋ⱼ₎ − y[tN]``, and without ``tN`` itself ``CSCC₍₋tN₎ − y[tN−1]`` (the
    remaining record ends a year earlier). Its deviations from a constant are
    ``zⱼ = −d·[j = j*] + e·[j = tN]`` with ``e = y[tN] − y[tN−1]``, so its standard error is
    ``√((n−1)/n · (Σz² − (Σz)²/n))``.

    Returns
    -------
    ee.Image
        Bands ``cscc_jk_se`` and ``pcs_jk_se`` (g C m⁻² yr⁻¹), masked outside the VCA.
    """
    n = len(annual.years)
    last, before = annual.years[-1], annual.years[-2]
    cscc = graph.capacity.select("cscc")
    d = cscc.subtract(second_largest(annual.collection, graph.capacity))
    e = annual.image(last).select("npp").subtract(annual.image(before).select("npp"))
    at_last = graph.capacity.select("cscc_year").eq(last)
    sum_z = e.subtract(d)
    sum_z2 = d.multiply(d).add(e.multiply(e)).where(at_last, sum_z.multiply(sum_z))
    spread = sum_z2.subtract(sum_z.multiply(sum_z).divide(n)).max(0)
    factor = (n - 1) / n
    cscc_se = d.multiply(factor).rename("cscc_jk_se")
    pcs_se = spread.multiply(factor).sqrt().rename("pcs_jk_se")
    return ee.Image.cat([cscc_se, pcs_se]).updateMask(graph.vca.eq(1))
