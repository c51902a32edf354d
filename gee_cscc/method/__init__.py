"""The method of Wu et al. (2023) as Earth Engine expressions (docs/method.md §0–§4).

Every function maps ``ee`` objects to ``ee`` objects and runs unchanged on Google Earth
Engine and on the local engine; :func:`build` assembles the whole graph of a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gee_cscc.config import Config
from gee_cscc.method.capacity import carrying_capacity, increase_potential
from gee_cscc.method.grid import GridSpec
from gee_cscc.method.inputs import AnnualNPP, load_annual_npp
from gee_cscc.method.maintenance import (
    evaluation_years,
    maintenance_surfaces,
    maintenance_years,
    slope_surfaces,
    window_slopes,
)
from gee_cscc.method.regions import Regions, regions_from_features, regions_from_image
from gee_cscc.method.trend import TREND_CLASSES, trend
from gee_cscc.method.vca import vegetation_covered_area

__all__ = [
    "AnnualNPP",
    "GridSpec",
    "MethodGraph",
    "RESULT_IMAGE_BANDS",
    "Regions",
    "TREND_CLASSES",
    "build",
    "load_annual_npp",
    "regions_from_features",
    "regions_from_image",
]


#: The bands of :meth:`MethodGraph.result_image`, in order.
RESULT_IMAGE_BANDS = (
    "vca",
    "cscc",
    "cscc_year",
    "trend_slope",
    "trend_stat",
    "trend_class",
    "trend_class_strict",
    "maintenance_years",
)


@dataclass(frozen=True)
class MethodGraph:
    """The Earth Engine objects of one run (nothing is computed until asked).

    Attributes
    ----------
    vca
        ``ee.Image`` band ``vca`` (1 inside the vegetation-covered area, else 0).
    capacity
        ``ee.Image`` bands ``cscc`` (g C m⁻² yr⁻¹), ``cscc_year``.
    potential
        ``ee.ImageCollection`` of ``pcs`` per year (g C m⁻² yr⁻¹).
    trend
        ``ee.Image`` bands ``trend_slope``, ``trend_stat``, ``trend_class``,
        ``trend_class_strict``.
    window_slopes, slope_surfaces, maintenance
        ``ee.ImageCollection`` per evaluation year: ``slope`` (K_i), ``S`` and ``P``.
    maintenance_years
        ``ee.Image`` band ``maintenance_years``.
    csr_pixel
        ``ee.Image`` of :data:`~gee_cscc.method.csr_pixel.CSR_PIXEL_BANDS` when
        ``config.csr_pixel`` is set (docs/method.md §7), else None.
    """

    npp: AnnualNPP
    config: Config
    vca: Any
    capacity: Any
    potential: Any
    trend: Any
    window_slopes: Any
    slope_surfaces: Any
    maintenance: Any
    maintenance_years: Any
    csr_pixel: Any = None

    @property
    def evaluation_years(self) -> list[int]:
        return evaluation_years(self.npp.years, self.config.reference_year)

    def result_image(self) -> Any:
        """One multi-band image of the per-cell results (for pulls and exports)."""
        import ee

        return ee.Image.cat(
            [
                self.vca,
                self.capacity,
                self.trend,
                self.maintenance_years,
                *([self.csr_pixel] if self.csr_pixel is not None else []),
            ]
        )


def build(npp: AnnualNPP, cfg: Config, *, landcover: Any | None = None) -> MethodGraph:
    """Assemble the method's expressions for a validated input (docs/method.md §1–§4)."""
    import ee

    if landcover is None and cfg.landcover_mask:
        landcover = ee.Image(cfg.landcover_mask)
    col = npp.collection
    vca = vegetation_covered_area(
        col, n_years=len(npp.years), min_mean=cfg.vca_min_mean, landcover=landcover
    )
    capacity = carrying_capacity(col, vca)
    potential = increase_potential(col, capacity)
    trend_image = trend(
        col,
        npp.years,
        method=cfg.trend,
        alpha=cfg.alpha,
        alpha_strict=cfg.alpha_strict,
        tolerance=cfg.zero_slope_tolerance,
    ).updateMask(vca.eq(1))
    slopes = window_slopes(col, npp.years, cfg.reference_year)
    surfaces = slope_surfaces(slopes, vca, tolerance=cfg.zero_slope_tolerance)
    maintenance = maintenance_surfaces(surfaces, cfg.reference_year)
    csr = None
    if cfg.csr_pixel is not None:  # docs/method.md §7, pixel-scale CSR
        from gee_cscc.method.csr_pixel import pixel_resilience

        years = evaluation_years(npp.years, cfg.reference_year)
        csr = pixel_resilience(maintenance, vca, years, cfg, npp.grid)
    return MethodGraph(
        npp=npp,
        config=cfg,
        vca=vca,
        capacity=capacity,
        potential=potential,
        trend=trend_image,
        window_slopes=slopes,
        slope_surfaces=surfaces,
        maintenance=maintenance,
        maintenance_years=maintenance_years(maintenance),
        csr_pixel=csr,
    )
