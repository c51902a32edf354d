"""One analysis: build the method's expressions, compute region tables, pull rasters, fit.

:func:`analyze` runs docs/method.md §0–§5 for an annual NPP collection and a set of regions and
returns :class:`Results`: rasters as an ``xarray.Dataset`` and tables as pandas DataFrames.
It works the same on Google Earth Engine and on the local engine (only ``ee.Initialize``
differs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ee
import pandas as pd
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.engine.limits import Limits
from gee_cscc.errors import LIMIT_ERRORS, LIMIT_HINT, InputError, ee_errors, from_ee_exception
from gee_cscc.method import RESULT_IMAGE_BANDS, MethodGraph, Regions, build
from gee_cscc.method.checks import check_inputs
from gee_cscc.method.csr_pixel import CSR_PIXEL_ATTRS, CSR_PIXEL_BANDS, kernel_cells
from gee_cscc.method.trend import TREND_CLASSES, p_values
from gee_cscc.method.zonal import zonal_band_stack
from gee_cscc.stats.csr_pixel import pixel_csr_summary
from gee_cscc.stats.run_tables import (
    ALL,
    ALL_ID,
    capacity_by_region,
    maintenance_and_resilience,
    run_summary,
    trend_class_summary,
    yearly_totals,
)
from gee_cscc.workflow.batch import BatchOptions, run_batch
from gee_cscc.workflow.grid_choice import annual_on_analysis_grid, regions_on_grid
from gee_cscc.workflow.modes import ModeChoice, choose_mode, preview_pixels
from gee_cscc.workflow.pull import (
    count_maintenance,
    counts_from_sums,
    layer_stack,
    maintenance_count_bands,
    open_layers,
    region_sums,
)
from gee_cscc.workflow.record_length import record_length_parts, record_length_tables
from gee_cscc.workflow.results_api import ResultsApi
from gee_cscc.workflow.scratch_layers import ScratchFolder, map_layer

__all__ = ["Results", "analyze", "ALL", "BatchOptions"]

#: The per-cell result layers pulled into ``Results.rasters`` (besides P and PCS).
RESULT_BANDS = (*RESULT_IMAGE_BANDS, "region", "pixel_area")

Progress = Callable[[str], None]


@dataclass
class Results(ResultsApi):
    """Everything one run computes (``to_files``, ``plot`` and ``images``: :class:`ResultsApi`).

    Attributes
    ----------
    rasters
        ``xarray.Dataset`` on the input grid (interactive runs read it lazily from a
        scratch folder that lives as long as the Results: ``.values``/``.sel`` read from
        disk, ``.load()`` brings it into memory; see :mod:`gee_cscc.workflow.scratch_layers`):
        ``vca``, ``cscc`` and ``pcs`` (g C m⁻² yr⁻¹),
        ``cscc_year``, ``trend_slope`` (g C m⁻² yr⁻²), ``trend_stat``, ``trend_p``,
        ``trend_class``, ``trend_class_strict``, ``maintenance_years``, ``region``,
        ``pixel_area`` (m²), with ``csr_pixel`` also ``tau_pos``, ``tau_neg``, ``csr_rs``
        (years, ±inf) and ``csr_grade`` (docs/method.md §7), ``maintenance`` (dims
        ``year, y, x``: the surfaces P; only with local counting) and
        ``pcs`` (dims ``pcs_year, y, x``).
    capacity
        Table 1: ``region, cscc_tg, current_npp_tg, potential_tg, cscc_mean_gm2,
        potential_share_of_cscc, potential_share_of_npp`` (+ ``vca_area_km2``, ``vca_cells``).
    maintenance_counts
        Table 2 per region and ALL: ``region, year, n_pos, q_pos_share, n_neg,
        q_neg_share, changed, changed_cum_share`` (shares as fractions 0–1).
    yearly
        ``year, mean_npp_gm2, total_npp_pg, saturation_share, potential_pg`` (whole area).
    trend_summary
        ``region, alpha, class, area_km2, area_share, cells, cell_share``.
    resilience
        ``region, tau_pos, tau_pos_low, tau_pos_high, lambda_pos, r2_pos, tau_neg, …, rs,
        grade, flags``.
    summary
        Headline numbers (VCA area, national trend, totals, proportions, slopes).
    mode
        ``"interactive"`` or ``"batch"`` (see :mod:`gee_cscc.workflow.modes`).
    raster_grid
        The grid of ``rasters``: the analysis grid (interactive), or the preview grid
        (batch: the analysis grid coarsened by an integer factor; the full-resolution
        rasters are exported, see ``run_notes["batch"]``).
    run_notes
        What run.json records about how the run computed: ``mode``, ``mode_choice``,
        ``counting`` and, in batch mode, ``batch`` (run hash, asset root, table assets,
        raster destination, task manifest, preview grid) and ``rasters_note``.
    origin
        What :func:`gee_cscc.analyze` knew of the inputs, for ``to_files``: ``run_info``
        (run.json), ``regions_geojson``, ``synthetic``, ``local_inputs``.
    capacity_sensitivity, capacity_stability
        With ``capacity_sensitivity`` on (docs/method.md §7, :mod:`gee_cscc.stats.record_length`):
        per region and year the running capacity and leave-one-year-out totals, and per
        region the stable-since year and jackknife spreads; else None.
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
    mode: str = "interactive"
    raster_grid: Any = None
    run_notes: dict = field(default_factory=dict)
    origin: dict = field(default_factory=dict)
    capacity_sensitivity: pd.DataFrame | None = None
    capacity_stability: pd.DataFrame | None = None


@contextlib.contextmanager
def _step(
    progress: Progress | None, timings: dict, name: str, hint: str = LIMIT_HINT
) -> Iterator[None]:
    """Report a step, time it, and turn Earth Engine errors into gee_cscc errors (a size
    limit error also says what to try: ``hint``)."""
    if progress is not None:
        progress(name)
    start = time.perf_counter()
    try:
        with ee_errors(name, hint=hint):
            yield
    except InputError as exc:  # an input check that Earth Engine refused for its size
        cause = exc.__cause__
        if hint and isinstance(cause, ee.EEException):
            limit = from_ee_exception(cause)
            if isinstance(limit, LIMIT_ERRORS):
                raise type(limit)(f"{str(exc).rstrip()} ({hint})") from cause
        raise
    timings[name] = round(time.perf_counter() - start, 3)


def analyze(
    npp: Any,
    cfg: Config,
    *,
    regions: Regions | None = None,
    counting: str = "local",
    extent: str | tuple[float, float, float, float] | None = None,
    mode: str = "interactive",
    batch: BatchOptions | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> Results:
    """Run the method (docs/method.md §0–§5) and bring the results back.

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
    mode
        ``"interactive"`` (default: getInfo and pulls), ``"batch"`` (export tasks, tables
        read back, a preview pull; :mod:`gee_cscc.workflow.batch`) or ``"auto"`` (batch
        when the grid exceeds what interactive requests serve; the rule is in
        :mod:`gee_cscc.workflow.modes`). Both give the same tables.
    batch
        Where a batch run keeps its tasks and exports (needed when batch is used).
    limits
        The engine's interactive limits for ``"auto"`` (default: Google's).
    progress
        Called with the name of each step as it starts.
    """
    if counting not in ("local", "server"):
        raise ValueError(f"counting must be 'local' or 'server', got {counting!r}")
    timings: dict[str, float] = {}
    with _step(progress, timings, "validate input"):
        annual, grid = annual_on_analysis_grid(npp, cfg, regions, extent=extent)
        regions = regions_on_grid(regions, grid)  # an id image: sampled on the analysis grid
        graph = build(annual, cfg)
    checked_regions = regions  # None: the checks look at no regions
    if regions is None:
        from gee_cscc.method.regions import regions_from_image

        regions = regions_from_image(ee.Image.constant(0), names={}, ids=[])

    eval_years = graph.evaluation_years
    pcs_years = [y for y in cfg.pcs_years if y in annual.years]
    surfaces_pulled = counting == "local"
    n_layers = (
        len(_result_bands(graph)) + len(pcs_years) + (len(eval_years) if surfaces_pulled else 0)
    )
    record = record_length_parts(graph, annual, cfg)  # docs/method.md §7, empty when off
    n_layers += len(record.bands)
    choice = choose_mode(mode, grid, layers=n_layers, limits=limits)
    if progress is not None:
        progress(f"mode {choice.mode}: {choice.reason}")
    if choice.mode == "interactive":  # batch: the same checks, its first table export
        with _step(progress, timings, "input checks"):
            input_checks = check_inputs(
                annual, checked_regions, cfg, grid=grid, warn=getattr(progress, "warn", progress)
            )
    names = {**regions.names}
    if cfg.all_label in names.values():  # two rows of one name: the tables would be ambiguous
        raise InputError(
            f"A region is named {cfg.all_label!r}, the whole-area row's name: set another "
            "all_label in the config (e.g. all_label = 'CN')."
        )
    stack = zonal_band_stack(graph, annual)
    batch_info = None
    if choice.mode == "batch":
        if batch is None:
            raise InputError(
                f"Batch mode is needed ({choice.reason}) but no task folder was given: pass "
                "batch=BatchOptions(task_dir=OUT), or mode='interactive'."
            )
        with _step(progress, timings, "batch tasks (tables and rasters)", hint=""):
            out = run_batch(
                annual=annual,
                checked_regions=checked_regions,
                graph=graph,
                stack=stack,
                count_bands=maintenance_count_bands(graph.maintenance, eval_years),
                layers={
                    **_layers(graph, regions, eval_years, pcs_years, surfaces=True),
                    **record.layers,
                },
                regions=regions,
                grid=grid,
                cfg=cfg,
                options=dataclasses.replace(
                    batch, preview_pixels=preview_pixels(batch.preview_pixels, choice.limits)
                ),
                inputs=_input_ids(npp, regions, cfg),
                request_bytes=choice.limits.pixels_bytes,
                progress=progress,
                extra_tables=record.tables,
                extra_images=record.images,
            )
        cap = out.sums["capacity"]
        record_sums = out.sums.get("record_length")
        yearly_sums = out.sums["yearly"]
        class_sums = out.sums["trend_classes"]
        counts = counts_from_sums(out.sums["maintenance"], eval_years, regions)
        pulled, raster_grid, batch_info = out.preview, out.grid, out
        input_checks = out.input_checks
        surfaces_pulled = True
    else:
        image, names_summed = record.with_stack(stack)
        what = "region sums (capacity, yearly, trend classes)"
        if counting == "server":  # the counts' bands in the same reduction (the year
            # stack and VCA are then read and computed once per tile, not twice)
            count_image, count_names = maintenance_count_bands(graph.maintenance, eval_years)
            image = ee.Image.cat([image, count_image])
            names_summed = [*names_summed, *count_names]
            what = "region sums (capacity, yearly, trend classes, maintenance counts)"
        with _step(progress, timings, what):
            # One grouped reduction for every table: shared sub-expressions computed once.
            sums = region_sums(image, names_summed, regions, grid)
            if counting == "server":
                counts = counts_from_sums(sums[count_names], eval_years, regions)
            record_sums = sums
            cap = sums[list(stack.capacity)]
            yearly_sums = sums[list(stack.yearly)]
            class_sums = sums[list(stack.trend_classes)]
        with _step(progress, timings, "pull rasters (xee)"):
            layers = _layers(graph, regions, eval_years, pcs_years, surfaces=surfaces_pulled)
            layers.update(record.layers)
            counter = getattr(progress, "counter", None)  # a bar on a terminal (the CLI)
            pulled = open_layers(
                layers,
                grid,
                request_bytes=choice.limits.pixels_bytes,
                on_tile=counter("tiles pulled", unit="tiles") if counter else None,
                scratch=ScratchFolder(),  # layers on disk, read lazily: see Results.rasters
            )
            raster_grid = grid

    rasters = pulled[list(_result_bands(graph))].assign(record.rasters(pulled))
    surfaces = (
        layer_stack(pulled, [f"P_{y}" for y in eval_years], "year", eval_years).rename(
            "maintenance"
        )
        if surfaces_pulled
        else None
    )
    pcs = (
        layer_stack(pulled, [f"pcs_{y}" for y in pcs_years], "year", pcs_years)
        if pcs_years
        else None
    )

    if choice.mode == "interactive" and counting == "local":  # server: with the sums
        with _step(progress, timings, "maintenance counts"):
            counts = count_maintenance(surfaces, rasters["region"], regions.ids)

    with _step(progress, timings, "tables and fits"):
        rasters = _assemble_rasters(rasters, surfaces, pcs, n=len(annual.years), method=cfg.trend)
        order = [ALL_ID, *regions.ids]
        label = {ALL_ID: cfg.all_label, **names}
        capacity = capacity_by_region(cap, order, label)
        yearly, series = yearly_totals(yearly_sums, cap, annual.years)
        trend_summary = trend_class_summary(class_sums, order, label, cfg, TREND_CLASSES)
        maintenance_counts, resilience = maintenance_and_resilience(
            counts, order, label, cfg, eval_years
        )
        sensitivity, stability, record_summary = record_length_tables(
            record, record_sums, cap, yearly_sums, annual.years, order, label, cfg, ALL_ID
        )

    summary = run_summary(cfg, capacity, yearly, series, trend_summary, maintenance_counts, grid)
    summary["input_checks"] = input_checks
    if graph.csr_pixel is not None:  # docs/method.md §7
        summary["csr_pixel"] = pixel_csr_summary(rasters, cfg, kernel_cells(grid, cfg))
    if record_summary is not None:
        summary["capacity_sensitivity"] = record_summary
    notes = _run_notes(choice, counting, batch_info)
    if batch_info is not None:
        summary["raster_grid"] = raster_grid.to_dict()
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
        mode=choice.mode,
        raster_grid=raster_grid,
        run_notes=notes,
        capacity_sensitivity=sensitivity,
        capacity_stability=stability,
    )


def _layers(
    graph: Any, regions: Regions, eval_years: list[int], pcs_years: list[int], *, surfaces: bool
) -> dict[str, Any]:
    """The single-band images a run pulls: the result bands, ``P_<year>``, ``pcs_<year>``."""
    area = ee.Image.pixelArea().rename("pixel_area")
    result = ee.Image.cat([graph.result_image(), regions.image, area])
    layers = {name: result.select([name]) for name in _result_bands(graph)}
    if surfaces:
        for y in eval_years:
            layers[f"P_{y}"] = ee.Image(graph.maintenance.filter(ee.Filter.eq("year", y)).first())
    for y in pcs_years:
        layers[f"pcs_{y}"] = ee.Image(graph.potential.filter(ee.Filter.eq("year", y)).first())
    return layers


def _result_bands(graph: MethodGraph) -> tuple[str, ...]:
    """:data:`RESULT_BANDS` and, with pixel CSR, :data:`CSR_PIXEL_BANDS`."""
    return (*RESULT_BANDS, *(CSR_PIXEL_BANDS if graph.csr_pixel is not None else ()))


def _input_ids(npp: Any, regions: Regions, cfg: Config) -> dict[str, str | None]:
    """The inputs whose versions identify a batch run."""
    if isinstance(npp, str):
        npp_id = npp
    else:  # an expression: its serialized graph stands for it
        import hashlib

        npp_id = "graph:" + hashlib.sha256(ee.ImageCollection(npp).serialize().encode()).hexdigest()
    return {
        "npp": npp_id,
        "regions": regions.source,
        "landcover_mask": cfg.landcover_mask,
    }


def _run_notes(choice: ModeChoice, counting: str, batch: Any) -> dict[str, Any]:
    """What run.json records about the mode (see :attr:`Results.run_notes`)."""
    notes: dict[str, Any] = {"mode": choice.mode, "mode_choice": choice.to_dict()}
    if batch is None:
        notes["counting"] = counting
        return notes
    notes["counting"] = "server"
    notes["batch"] = batch.info
    where = batch.info["rasters"]["where"]
    if batch.factor > 1:
        notes["rasters_note"] = (
            f"maps and rasters/ are a preview: one pixel per {batch.factor}x{batch.factor} "
            f"analysis pixels ({batch.grid.describe()}), each showing one analysis pixel; "
            f"tables use every analysis pixel; full-resolution rasters were exported to {where}"
        )
    else:
        notes["rasters_note"] = (
            f"rasters at the analysis resolution (the grid is within the preview size); "
            f"also exported to {where}"
        )
    return notes


def _assemble_rasters(
    ds: xr.Dataset,
    surfaces: xr.DataArray | None,
    pcs: xr.DataArray | None,
    *,
    n: int,
    method: str,
) -> xr.Dataset:
    out = ds.copy()
    p_of = lambda stat: p_values(stat, n=n, method=method)  # noqa: E731
    lazy_p = map_layer(out["trend_stat"], p_of, "trend_p", "float64")  # None: in memory
    out["trend_p"] = lazy_p if lazy_p is not None else (("y", "x"), p_of(out["trend_stat"].values))
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
        **CSR_PIXEL_ATTRS,
    }
    for name, (units, long_name) in attrs.items():
        if name in out:
            out[name].attrs.update(units=units, long_name=long_name)
    return out
