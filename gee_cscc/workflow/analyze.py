"""One analysis: build the method's expressions, compute region tables, pull rasters, fit.

:func:`analyze` runs METHOD.md §0–§5 for an annual NPP collection and a set of regions and
returns :class:`Results`: rasters as an ``xarray.Dataset`` and tables as pandas DataFrames.
It works the same on Google Earth Engine and on the local engine (only ``ee.Initialize``
differs).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ee
import pandas as pd
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.errors import ee_errors
from gee_cscc.method import MethodGraph, Regions, build
from gee_cscc.method.trend import TREND_CLASSES, p_values
from gee_cscc.method.zonal import zonal_band_stack
from gee_cscc.stats.run_tables import (
    ALL,
    ALL_ID,
    capacity_by_region,
    maintenance_and_resilience,
    run_summary,
    trend_class_summary,
    yearly_totals,
)
from gee_cscc.workflow.grid_choice import annual_on_analysis_grid
from gee_cscc.workflow.pull import (
    count_maintenance,
    maintenance_counts_server,
    open_layers,
    region_sums,
)

__all__ = ["Results", "analyze", "ALL"]

#: The per-cell result layers pulled into ``Results.rasters`` (besides P and PCS).
RESULT_BANDS = (
    "vca",
    "cscc",
    "cscc_year",
    "trend_slope",
    "trend_stat",
    "trend_class",
    "trend_class_strict",
    "maintenance_years",
    "region",
    "pixel_area",
)

Progress = Callable[[str], None]


@dataclass
class Results:
    """Everything one run computes.

    Attributes
    ----------
    rasters
        ``xarray.Dataset`` on the input grid: ``vca``, ``cscc`` and ``pcs`` (g C m⁻² yr⁻¹),
        ``cscc_year``, ``trend_slope`` (g C m⁻² yr⁻²), ``trend_stat``, ``trend_p``,
        ``trend_class``, ``trend_class_strict``, ``maintenance_years``, ``region``,
        ``pixel_area`` (m²), ``maintenance`` (dims ``year, y, x``: the surfaces P; only with
        local counting) and
        ``pcs`` (dims ``pcs_year, y, x``).
    capacity
        Table 1: ``region, cscc_tg, current_npp_tg, potential_tg, cscc_mean_gm2,
        potential_share_of_cscc, potential_share_of_npp`` (+ ``vca_area_km2``, ``vca_cells``).
    maintenance_counts
        Table 2 per region and ALL: ``region, year, n_pos, ratio_pos, n_neg, ratio_neg,
        changed, changed_ratio``.
    yearly
        ``year, mean_npp_gm2, total_npp_pg, saturation, potential_pg`` (whole area).
    trend_summary
        ``region, alpha, class, area_km2, area_share, cells, cell_share``.
    resilience
        ``region, tau_pos, tau_pos_low, tau_pos_high, lambda_pos, r2_pos, tau_neg, …, rs,
        grade, flags``.
    summary
        Headline numbers (VCA area, national trend, totals, proportions, slopes).
    """

    config: Config
    graph: MethodGraph
    regions: Regions | None
    rasters: xr.Dataset
    capacity: pd.DataFrame
    maintenance_counts: pd.DataFrame
    yearly: pd.DataFrame
    trend_summary: pd.DataFrame
    resilience: pd.DataFrame
    summary: dict
    timings: dict = field(default_factory=dict)


@contextlib.contextmanager
def _step(progress: Progress | None, timings: dict, name: str) -> Iterator[None]:
    """Report a step, time it, and turn Earth Engine errors into gee_cscc errors."""
    if progress is not None:
        progress(name)
    start = time.perf_counter()
    with ee_errors(name):
        yield
    timings[name] = round(time.perf_counter() - start, 3)


def analyze(
    npp: Any,
    cfg: Config,
    *,
    regions: Regions | None = None,
    counting: str = "local",
    extent: str | tuple[float, float, float, float] | None = None,
    progress: Progress | None = None,
) -> Results:
    """Run the method (METHOD.md §0–§5) and bring the results back.

    Parameters
    ----------
    npp
        An annual NPP ImageCollection asset id or ``ee.ImageCollection``.
    cfg
        The run configuration.
    regions
        Regions (provinces); without them only the whole-area (ALL) rows are made.
    counting
        ``"local"`` (default): pull the maintenance surfaces and the region raster and count
        them here; ``"server"``: grouped counts on the server, for grids too large to pull
        (the maintenance surfaces are then not pulled: ``rasters`` has no ``maintenance``;
        export them with ``gee-cscc export`` instead).
    extent
        Overrides ``cfg.extent``: ``"input"`` (the input's whole footprint, so "ALL" covers
        every VCA cell of it), ``"regions"`` (the regions' bounding box; "ALL" then covers
        the VCA cells of that box), ``(W, S, E, N)`` degrees, or ``"auto"``/None (the
        config's; by default regions when given, else input). The analysis grid's CRS and
        pixels come from the config (:mod:`gee_cscc.workflow.grid_choice`).
    progress
        Called with the name of each step as it starts.
    """
    if counting not in ("local", "server"):
        raise ValueError(f"counting must be 'local' or 'server', got {counting!r}")
    timings: dict[str, float] = {}
    with _step(progress, timings, "validate input"):
        annual, grid = annual_on_analysis_grid(npp, cfg, regions, extent=extent)
        graph = build(annual, cfg)
        if regions is None:
            from gee_cscc.method.regions import regions_from_image

            regions = regions_from_image(ee.Image.constant(0), names={}, ids=[])

    names = {**regions.names}
    area = ee.Image.pixelArea().rename("area")

    with _step(progress, timings, "region sums (capacity, yearly, trend classes)"):
        stack = zonal_band_stack(graph, annual)
        # One grouped reduction for every table: shared sub-expressions are computed once.
        sums = region_sums(stack.image, stack.names, regions, grid)
        cap = sums[list(stack.capacity)]
        yearly_sums = sums[list(stack.yearly)]
        class_sums = sums[list(stack.trend_classes)]

    with _step(progress, timings, "pull rasters (xee)"):
        eval_years = graph.evaluation_years
        pcs_years = [y for y in cfg.pcs_years if y in annual.years]
        result = ee.Image.cat([graph.result_image(), regions.image, area.rename("pixel_area")])
        layers = {name: result.select([name]) for name in RESULT_BANDS}
        if counting == "local":  # server counting is for grids too large to pull P
            for y in eval_years:
                layers[f"P_{y}"] = ee.Image(
                    graph.maintenance.filter(ee.Filter.eq("year", y)).first()
                )
        for y in pcs_years:
            layers[f"pcs_{y}"] = ee.Image(graph.potential.filter(ee.Filter.eq("year", y)).first())
        pulled = open_layers(layers, grid)
        rasters = pulled[list(RESULT_BANDS)]
        surfaces = (
            xr.concat([pulled[f"P_{y}"] for y in eval_years], dim="year")
            .assign_coords(year=eval_years)
            .rename("maintenance")
            if counting == "local"
            else None
        )
        pcs = (
            xr.concat([pulled[f"pcs_{y}"] for y in pcs_years], dim="year").assign_coords(
                year=pcs_years
            )
            if pcs_years
            else None
        )

    with _step(progress, timings, "maintenance counts"):
        if counting == "local":
            counts = count_maintenance(surfaces, rasters["region"].fillna(0).values, regions.ids)
        else:
            counts = maintenance_counts_server(graph.maintenance, eval_years, regions, grid)

    with _step(progress, timings, "tables and fits"):
        rasters = _assemble_rasters(rasters, surfaces, pcs, n=len(annual.years), method=cfg.trend)
        order = [ALL_ID, *regions.ids]
        label = {ALL_ID: ALL, **names}
        capacity = capacity_by_region(cap, order, label)
        yearly, series = yearly_totals(yearly_sums, cap, annual.years)
        trend_summary = trend_class_summary(class_sums, order, label, cfg, TREND_CLASSES)
        maintenance_counts, resilience = maintenance_and_resilience(
            counts, order, label, cfg, eval_years
        )

    summary = run_summary(cfg, capacity, yearly, series, trend_summary, maintenance_counts, grid)
    return Results(
        config=cfg,
        graph=graph,
        regions=regions,
        rasters=rasters,
        capacity=capacity,
        maintenance_counts=maintenance_counts,
        yearly=yearly,
        trend_summary=trend_summary,
        resilience=resilience,
        summary=summary,
        timings=timings,
    )


def _assemble_rasters(
    ds: xr.Dataset,
    surfaces: xr.DataArray | None,
    pcs: xr.DataArray | None,
    *,
    n: int,
    method: str,
) -> xr.Dataset:
    out = ds.copy()
    out["trend_p"] = xr.DataArray(
        p_values(out["trend_stat"].values, n=n, method=method), dims=("y", "x")
    )
    if surfaces is not None:
        out["maintenance"] = surfaces.rename("maintenance")
    if pcs is not None:
        out["pcs"] = pcs.rename({"year": "pcs_year"}).rename("pcs")
    attrs = {
        "vca": ("1", "vegetation-covered area (1 inside)"),
        "cscc": ("g C m-2 yr-1", "carbon sink carrying capacity (max NPP)"),
        "cscc_year": ("year", "year CSCC was reached (earliest on ties)"),
        "trend_slope": ("g C m-2 yr-2", "NPP trend slope"),
        "trend_stat": ("1", "trend test statistic (t for OLS, z for Mann-Kendall)"),
        "trend_p": ("1", "two-sided p-value of the trend"),
        "trend_class": ("1", "trend class at alpha: 2 SI, 1 II, 0 zero, -1 ID, -2 SD"),
        "trend_class_strict": ("1", "trend class at alpha_strict: 2 SI, 1 II, 0, -1 ID, -2 SD"),
        "maintenance_years": ("year", "signed number of years the initial trend held"),
        "region": ("1", "region id (0 outside every region)"),
        "pixel_area": ("m2", "cell area on the WGS84 ellipsoid"),
        "maintenance": ("1", "maintenance surface P: +1/-1 trend maintained, 0 changed"),
        "pcs": ("g C m-2 yr-1", "increase potential CSCC - NPP"),
    }
    for name, (units, long_name) in attrs.items():
        if name in out:
            out[name].attrs.update(units=units, long_name=long_name)
    return out
