"""Input checks made on the engine, for inputs that are assets (no local file to read).

:func:`check_inputs` makes, in **one request**, the checks of docs/method.md §0–§1 that a local
file gets from :mod:`gee_cscc.workflow.file_checks`, plus the checks of the regions against
the run's grid. One ``reduceRegion`` over the run's grid (its ``crs`` and ``crsTransform``,
``maxPixels`` = :data:`~gee_cscc.method.regions.MAX_PIXELS`, ``tileScale`` =
:data:`TILE_SCALE`, or the batch run's) with the combined reducer
``count + sum + minMax`` (unweighted) over these bands:

=================  ======================================================================
``v<year>``        NPP of the year (``toBands``, g C m⁻² yr⁻¹): ``count`` = valid cells, ``min``/``max``
``b<year>``        ``|NPP| > max_abs_npp`` (1/0, masked with NPP): ``sum`` = implausible cells;
                   an interactive check reduces these only for the years whose
                   ``v<year>`` min/max lie beyond ±max_abs_npp (a second request)
``m``              mean NPP over the years where valid every year: ``count``, ``max``
``p``              ``m > vca_min_mean``: ``sum`` = vegetation-covered cells
``r``              region id > 0: ``sum`` = cells inside a region
``o``, ``oa``      cells claimed by more than one region feature (each painted alone
                   with ``Image.paint``, the centre rule of method.regions): ``sum`` =
                   cells, and their area (m²)
=================  ======================================================================

a grouped count of the region band (cells per region id), and with a ``valid_range`` the
stored values outside it per year on the input's own pixels (fill values and class codes:
``masked_codes`` in the report; :func:`gee_cscc.method.inputs.masked_counts_dictionary`),
all in one FeatureCollection
(:func:`check_table`). Interactive runs read it with one ``getInfo`` (:func:`check_inputs`);
batch runs export it as a table asset and read that back, so no full-grid interactive
request is made (:mod:`gee_cscc.workflow.batch`); :func:`evaluate_checks` gives the same
verdict on either. Refused with one line naming the asset: no valid value at all, a year without a valid cell,
implausible values (year and count), no cell valid every year, no vegetated cell, regions
that meet no cell of the grid. Reported (a warning line and the returned dict, for
``run.json``): cells claimed by several regions (each goes to the last of them) and regions
that hold no cell.

:func:`collection_grid` and :func:`image_grid` read an asset's pixel grid, so that a region
raster can be held to the NPP grid for every input kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ee

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.method.grid import GridSpec
from gee_cscc.method.inputs import masked_counts_dictionary, read_masked_counts
from gee_cscc.method.regions import MAX_PIXELS, Regions

__all__ = [
    "check_inputs",
    "check_table",
    "collection_grid",
    "evaluate_checks",
    "image_grid",
    "TILE_SCALE",
]

#: ``tileScale`` of the check's reductions: Earth Engine's default tile size (1). Raise it
#: when Earth Engine reports "User memory limit exceeded" for a very long series: smaller
#: tiles allow more bands per pixel, at the cost of more tiles (the local engine: 1.6 s for
#: 38 years of 400 × 620 cells at 1, 5.6 s at 4).
TILE_SCALE = 1


def _implausible(values: Any, years: Sequence[int], cfg: Config) -> Any:
    """``b<year>``: 1 where ``|NPP| > max_abs_npp``, 0 elsewhere, masked with NPP."""
    return values.abs().gt(cfg.max_abs_npp).rename([f"b{y}" for y in years])


def _values(annual: Any) -> Any:
    """``v<year>``: the NPP of every year as one image (the collection is sorted by year)."""
    return annual.collection.toBands().rename([f"v{y}" for y in annual.years])


def _where(grid: GridSpec, tile_scale: float = TILE_SCALE) -> dict[str, Any]:
    """The ``reduceRegion`` arguments of the checks: the whole grid, on its pixels."""
    return {
        "geometry": grid.region(),
        "maxPixels": MAX_PIXELS,
        "tileScale": float(tile_scale),
        **grid.reduce_args(),
    }


def _stack(annual: Any, regions: Regions | None, cfg: Config, *, counts: bool = True) -> Any:
    coll = annual.collection  # one image per year, sorted by year (method.inputs)
    values = _values(annual)
    bands = [values, _implausible(values, annual.years, cfg)] if counts else [values]
    full = coll.reduce(ee.Reducer.count()).unmask(0).eq(len(annual.years))
    mean = coll.reduce(ee.Reducer.mean()).updateMask(full).rename("m")
    bands += [mean, mean.gt(cfg.vca_min_mean).rename("p")]
    if regions is not None:
        bands.append(regions.image.gt(0).rename("r"))
        if regions.features is not None:
            n = len(regions.names)
            # Each feature painted alone (0/1, centre rule as in method.regions), summed.
            layers = (
                ee.FeatureCollection(regions.features)
                .toList(n)
                .map(
                    lambda f: ee.Image(0).toInt32().paint(ee.FeatureCollection([ee.Feature(f)]), 1)
                )
            )
            claims = ee.ImageCollection.fromImages(layers).reduce(ee.Reducer.sum())
            overlap = claims.gt(1)
            bands += [
                overlap.rename("o"),
                overlap.multiply(ee.Image.pixelArea()).rename("oa"),
            ]
    return ee.Image.cat(bands)


def check_table(
    annual: Any,
    regions: Regions | None,
    cfg: Config,
    *,
    grid: GridSpec | None = None,
    tile_scale: float = TILE_SCALE,
    implausible_counts: bool = True,
) -> Any:
    """The check's reductions (see the module doc) as a FeatureCollection, not yet computed.

    Without ``implausible_counts`` the ``b<year>`` bands are left out: NPP's per-year
    min/max already tell whether any value is implausible, and :func:`check_inputs` counts
    them only then (an interactive run; a batch run's exported table keeps them).

    One feature without geometry holds the stats (property ``check`` = ``"stats"``, one
    property per ``<band>_<count|sum|min|max>``); with regions, one feature per region id
    on the grid holds its cell count (``check`` = ``"region"``, ``region``, ``count``).
    :func:`check_inputs` reads it with one ``getInfo``; a batch run exports it as a table
    asset and reads that back (:mod:`gee_cscc.workflow.batch`); :func:`evaluate_checks`
    turns either into the report, so both give the same answer.
    """
    grid = grid or annual.grid
    where = _where(grid, tile_scale)
    reducer = (
        ee.Reducer.count()
        .combine(ee.Reducer.sum(), sharedInputs=True)
        .combine(ee.Reducer.minMax(), sharedInputs=True)
        .unweighted()
    )
    stats = _stack(annual, regions, cfg, counts=implausible_counts).reduceRegion(
        reducer=reducer, **where
    )
    features = ee.List([ee.Feature(None, ee.Dictionary(stats)).set("check", "stats")])
    masked = masked_counts_dictionary(annual, grid)
    if masked is not None:  # stored values outside valid_range (fill, class codes) per year
        features = features.add(ee.Feature(None, masked).set("check", "masked"))
    if regions is not None:
        ids = regions.image.rename("cells").addBands(regions.image)
        grouped = ids.reduceRegion(
            reducer=ee.Reducer.count().group(groupField=1, groupName="region"), **where
        )
        groups = ee.List(grouped.get("groups")).map(
            lambda g: ee.Feature(None, ee.Dictionary(g)).set("check", "region")
        )
        features = features.cat(groups)
    return ee.FeatureCollection(features)


def check_inputs(
    annual: Any,
    regions: Regions | None,
    cfg: Config,
    *,
    grid: GridSpec | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict:
    """Check the NPP values and the regions on the engine (one interactive request); see
    the module doc.

    Parameters
    ----------
    annual
        The prepared input (:class:`gee_cscc.method.inputs.AnnualNPP`), in g C m⁻² yr⁻¹.
    regions
        The run's regions, or None.
    cfg
        The run configuration (``max_abs_npp``, ``vca_min_mean``).
    grid
        The run's grid (default ``annual.grid``).
    warn
        Called with each warning line (cells in several regions, regions without cells).

    Returns
    -------
    dict
        ``valid_cells`` ({year: cells}), ``cells_valid_every_year``, ``vca_cells`` and,
        with regions, ``region_cells``, ``regions_without_cells`` (names), and for regions
        given as features ``overlap_cells`` and ``overlap_area_km2``; with a
        ``valid_range``, ``masked_codes`` ({year: stored values outside it}).

    Raises
    ------
    InputError
        See the module docstring; the message names the asset and the year. A request
        Earth Engine refuses is an InputError too, caused by its ``ee.EEException``.
    """
    name = annual.source or "the NPP collection"
    table = check_table(annual, regions, cfg, grid=grid, implausible_counts=False)
    try:
        info = table.getInfo()
    except ee.EEException as exc:
        raise InputError(f"Cannot check the NPP input '{name}': {exc}") from exc
    features = (info or {}).get("features") or []
    stats = next((f.get("properties") or {} for f in features if _kind(f) == "stats"), {})
    hit = _beyond(stats, annual.years, cfg)
    if hit:  # the min/max show implausible values: count them, in those years only
        bad = _implausible(_values(annual).select([f"v{y}" for y in hit]), hit, cfg)
        where = _where(grid or annual.grid)
        try:
            sums = bad.reduceRegion(reducer=ee.Reducer.sum().unweighted(), **where).getInfo()
        except ee.EEException as exc:
            raise InputError(f"Cannot check the NPP input '{name}': {exc}") from exc
        features = [
            {**f, "properties": {**(f.get("properties") or {}), **_suffixed(sums, "_sum")}}
            if _kind(f) == "stats"
            else f
            for f in features
        ]
    return evaluate_checks(features, annual, regions, cfg, grid=grid, warn=warn)


def _kind(feature: Mapping[str, Any]) -> Any:
    return (feature.get("properties") or {}).get("check")


def _suffixed(values: Mapping[str, Any] | None, suffix: str) -> dict[str, Any]:
    return {f"{k}{suffix}": v for k, v in (values or {}).items()}


def _beyond(stats: Mapping[str, Any], years: Sequence[int], cfg: Config) -> list[int]:
    """The years whose NPP min or max lies beyond ±``max_abs_npp`` (so |NPP| exceeds it)."""
    out = []
    for y in years:
        low, high = stats.get(f"v{y}_min"), stats.get(f"v{y}_max")
        if (low is not None and low < -cfg.max_abs_npp) or (
            high is not None and high > cfg.max_abs_npp
        ):
            out.append(int(y))
    return out


def evaluate_checks(
    features: Sequence[Mapping[str, Any]],
    annual: Any,
    regions: Regions | None,
    cfg: Config,
    *,
    grid: GridSpec | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict:
    """The checks' verdict on the features of :func:`check_table` (as ``getInfo`` gives
    them, from the expression or from an exported table); arguments, result and errors as
    :func:`check_inputs`."""
    grid = grid or annual.grid
    stats: dict[str, Any] = {}
    groups: list[dict] = []
    masked: dict[int, int] | None = None
    for feature in features:
        props = dict(feature.get("properties") or {})
        kind = props.pop("check", None)
        if kind == "stats":
            stats = {k: (v if v is not None else 0) for k, v in props.items()}
        elif kind == "region":
            groups.append(props)
        elif kind == "masked":
            masked = read_masked_counts(props)
    name = annual.source or "the NPP collection"
    report = _check_npp(stats, list(annual.years), name, cfg)
    if masked is not None:
        report["masked_codes"] = masked
    if regions is not None:
        report.update(_check_regions(stats, groups, regions, grid, warn))
    return report


def _check_npp(stats: dict, years: list[int], name: str, cfg: Config) -> dict:
    valid = {y: int(stats.get(f"v{y}_count", 0)) for y in years}
    if not any(valid.values()):
        raise InputError(
            f"NPP '{name}' has no valid value in any year (every cell is masked): check the "
            "band and the asset's mask / no-data value."
        )
    empty = [y for y in years if valid[y] == 0]
    if empty:
        more = f"; so have {empty[1:]}" if len(empty) > 1 else ""
        raise InputError(
            f"NPP year {empty[0]} of '{name}' has no valid cell (every value is masked){more}: "
            "the run needs every year; fix the year or leave it out with start/end."
        )
    bad = {y: int(stats.get(f"b{y}_sum", 0)) for y in years}
    hit = [y for y in years if bad[y] > 0]
    if hit:
        y = hit[0]
        worst = max(abs(float(stats.get(f"v{y}_min", 0))), abs(float(stats.get(f"v{y}_max", 0))))
        raise InputError(
            f"NPP year {y} of '{name}' has {bad[y]} cell(s) with |NPP| > {cfg.max_abs_npp:g} "
            f"g C m-2 yr-1 after scale_factor/offset (largest {worst:g}; {len(hit)} year(s) "
            "affected): mask the fill value or fix scale_factor; if the values are real, "
            "raise max_abs_npp under [input]."
        )
    full = int(stats.get("m_count", 0))
    if full == 0:
        raise InputError(
            f"No cell of '{name}' has a valid value in every year (the method needs a full "
            "series per cell): check the masks and the years."
        )
    vca = int(stats.get("p_sum", 0))
    if vca == 0:
        raise InputError(
            f"No vegetated cell in '{name}': the mean NPP over the years is <= "
            f"{cfg.vca_min_mean:g} g C m-2 yr-1 in every cell (highest mean "
            f"{float(stats.get('m_max', 0)):g}); check the sign, scale_factor and offset."
        )
    return {"valid_cells": valid, "cells_valid_every_year": full, "vca_cells": vca}


def _check_regions(
    stats: dict,
    groups: list[dict],
    regions: Regions,
    grid: GridSpec,
    warn: Callable[[str], None] | None,
) -> dict:
    source = regions.source or "the regions"
    inside = int(stats.get("r_sum", 0))
    if inside == 0:
        raise InputError(
            f"The regions {source} do not overlap the NPP grid ({grid.describe()}): no cell "
            "centre lies in any region; check the regions' coordinates (longitude/latitude) "
            "and the grid's CRS."
        )
    cells = {int(g["region"]): int(g.get("count", 0)) for g in groups}
    missing = [name for rid, name in regions.names.items() if cells.get(rid, 0) == 0]
    report: dict = {"region_cells": inside, "regions_without_cells": missing}
    if missing and warn is not None:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        warn(f"warning: {len(missing)} region(s) of {source} hold no grid cell: {shown}")
    if regions.unnamed and warn is not None:
        ids = [str(i) for i in regions.unnamed]
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        warn(
            f"warning: {len(ids)} region id(s) of {source} have no name in the region names: "
            f"named by the id ({shown})"
        )
    if regions.features is not None:
        overlap = int(stats.get("o_sum", 0))
        area_km2 = float(stats.get("oa_sum", 0.0)) / 1e6
        report.update(overlap_cells=overlap, overlap_area_km2=area_km2)
        if overlap and warn is not None:
            warn(
                f"warning: {overlap} cell(s) ({area_km2:.6g} km²) lie in more than one region "
                f"of {source}; each is counted in the last of them (in file order)"
            )
    return report


def collection_grid(asset_id: str, band: str) -> GridSpec:
    """The pixel grid of an ImageCollection asset's first image (band ``band`` or the first)."""
    try:
        info = ee.ImageCollection(asset_id).first().getInfo()
    except ee.EEException as exc:
        raise InputError(f"Cannot read the NPP collection '{asset_id}': {exc}") from exc
    if not info or not info.get("bands"):
        raise InputError(f"NPP collection '{asset_id}' has no images.")
    return _band_grid(info, band, f"the first image of '{asset_id}'")


def image_grid(asset_id: str) -> GridSpec:
    """The pixel grid of an image asset's first band."""
    try:
        info = ee.Image(asset_id).getInfo()
    except ee.EEException as exc:
        raise InputError(f"Cannot read the region image '{asset_id}': {exc}") from exc
    return _band_grid(info or {}, None, f"'{asset_id}'")


def _band_grid(info: dict, band: str | None, what: str) -> GridSpec:
    bands = info.get("bands") or []
    chosen = next((b for b in bands if b.get("id") == band), bands[0] if bands else None)
    if chosen is None or "dimensions" not in chosen:
        raise InputError(f"{what} has no fixed pixel grid; export it to an asset first.")
    return GridSpec.from_band_info(chosen)
