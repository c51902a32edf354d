"""The analysis grid: the user's choice of CRS, pixel size and extent, on any engine.

:func:`analysis_grid` turns the input's grid, the configuration (``crs``, ``scale`` or
``crs_transform``, ``extent``) and the regions into the one :class:`GridSpec` every
reduction, pull and export of a run uses; :func:`annual_on_analysis_grid` loads the input
and puts it on that grid (``reduceResolution`` mean + ``reproject`` when the pixels differ).

Rules
-----
* CRS: ``cfg.crs``, else the input's. A code PROJ does not know (MODIS's ``SR-ORG:6974``)
  is resolved through Earth Engine (``Projection.wkt()``) and carried as WKT.
* Pixels: ``cfg.crs_transform`` as given; else ``cfg.scale`` metres (degrees at Earth
  Engine's 111,319.49 m per degree for a geographic CRS), aligned to the input's origin when
  the CRS is the input's; else the input's pixels (a new CRS without a scale keeps the
  input's nominal pixel size).
* Extent: ``"input"`` the input's whole footprint; ``"regions"`` the regions' bounding box;
  ``(W, S, E, N)`` a lon/lat box; ``"auto"`` (default) regions when regions are given, else
  input, so a global input with regions never computes the globe. The box is taken to the
  grid's CRS with densified edges and the grid keeps every pixel that meets it.
"""

from __future__ import annotations

from typing import Any

import ee

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.method.grid import METERS_PER_DEGREE, GridSpec, resolve_crs
from gee_cscc.method.inputs import AnnualNPP, load_annual_npp

__all__ = ["analysis_grid", "annual_on_analysis_grid", "regions_box", "regions_on_grid"]


def regions_box(regions: Any) -> tuple[float, float, float, float]:
    """``(W, S, E, N)`` in degrees of the regions' polygons (one ``getInfo``).

    Raises
    ------
    InputError
        The regions are an id image, not polygons.
    """
    if regions is None or getattr(regions, "features", None) is None:
        raise InputError(
            "extent 'regions' needs regions given as polygons (a table asset or GeoJSON); "
            "give --extent input or W,S,E,N instead."
        )
    ring = ee.FeatureCollection(regions.features).geometry().bounds().getInfo()["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return (min(lons), min(lats), max(lons), max(lats))


def _box_in(grid: GridSpec, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    from pyproj import Transformer

    tf = Transformer.from_crs("EPSG:4326", grid.pyproj_crs(), always_xy=True)
    return tuple(tf.transform_bounds(*box, densify_pts=101))


def _pixels(input_grid: GridSpec, cfg: Config, crs: str, wkt: str | None) -> GridSpec:
    """A grid in ``crs`` with the configured pixels (shape 0; the extent comes next)."""
    if cfg.crs_transform is not None:
        return GridSpec(crs, tuple(cfg.crs_transform), (0, 0), wkt)
    probe = GridSpec(crs, (1.0, 0.0, 0.0, 0.0, -1.0, 0.0), (0, 0), wkt)
    geographic = probe.pyproj_crs().is_geographic
    same_crs = crs == input_grid.crs
    if cfg.scale is None:
        if same_crs:
            return input_grid
        metres = input_grid.nominal_scale()
    else:
        metres = float(cfg.scale)
    size = metres / METERS_PER_DEGREE if geographic else metres
    if same_crs and not (input_grid.transform[1] or input_grid.transform[3]):
        _, _, c, _, _, f = input_grid.transform
        return GridSpec(crs, (size, 0.0, c, 0.0, -size, f), (0, 0), wkt)
    return GridSpec(crs, (size, 0.0, 0.0, 0.0, -size, 0.0), (0, 0), wkt)


def _cover(pixels: GridSpec, bounds: tuple[float, ...]) -> GridSpec:
    """The pixels of ``pixels``' lattice that meet ``bounds`` (CRS units)."""
    if pixels.transform[1] or pixels.transform[3]:
        raise InputError("A sheared crs_transform is not supported for the analysis grid.")
    r0, r1, c0, c1 = pixels.lattice_span(bounds)
    if c1 <= c0 or r1 <= r0:
        raise InputError(f"The extent {bounds} holds no pixel of {pixels.describe()}.")
    return pixels.shifted(r0, r1, c0, c1)


def analysis_grid(
    input_grid: GridSpec,
    cfg: Config,
    regions: Any = None,
    *,
    extent: str | tuple[float, float, float, float] | None = None,
) -> GridSpec:
    """The grid a run computes on (rules in the module docstring).

    Parameters
    ----------
    input_grid
        The input collection's grid.
    cfg
        The configuration (``crs``, ``scale``, ``crs_transform``, ``extent``).
    regions
        The run's regions (:class:`gee_cscc.method.Regions`) or None.
    extent
        Overrides ``cfg.extent`` when given (same values).

    Raises
    ------
    InputError
        ``extent`` regions without polygon regions; an extent that misses the input.
    """
    chosen = Config(extent=extent).extent if extent is not None else cfg.extent
    if chosen == "auto":
        has_polygons = regions is not None and getattr(regions, "features", None) is not None
        chosen = "regions" if has_polygons else "input"
    native = resolve_crs(input_grid)
    crs = cfg.crs or native.crs
    wkt = native.wkt if crs == native.crs else None
    if wkt is None and crs != native.crs:
        wkt = resolve_crs(GridSpec(crs, (1.0, 0.0, 0.0, 0.0, -1.0, 0.0), (1, 1))).wkt
    pixels = _pixels(native, cfg, crs, wkt)
    if crs == native.crs:
        footprint = native.bounds()
    else:
        from pyproj import Transformer

        tf = Transformer.from_crs(native.pyproj_crs(), pixels.pyproj_crs(), always_xy=True)
        footprint = tuple(tf.transform_bounds(*native.bounds(), densify_pts=101))
    if chosen == "input":
        bounds = footprint
    else:
        box = regions_box(regions) if chosen == "regions" else tuple(chosen)
        inner = _box_in(pixels, box)
        bounds = (
            max(inner[0], footprint[0]),
            max(inner[1], footprint[1]),
            min(inner[2], footprint[2]),
            min(inner[3], footprint[3]),
        )
        if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
            what = "the regions" if chosen == "regions" else f"the extent {box}"
            raise InputError(f"{what} do not overlap the NPP grid {native.describe()}.")
    if pixels is native:
        try:
            return native.crop(bounds)
        except ValueError as exc:
            raise InputError(f"The extent does not overlap the NPP grid: {exc}") from exc
    return _cover(pixels, bounds)


def annual_on_analysis_grid(
    npp: Any,
    cfg: Config,
    regions: Any = None,
    *,
    extent: str | tuple[float, float, float, float] | None = None,
) -> tuple[AnnualNPP, GridSpec]:
    """Load the annual NPP (docs/method.md §0) and put it on the analysis grid.

    Returns the prepared collection (on the analysis grid) and that grid.
    """
    annual = load_annual_npp(npp, cfg)
    grid = analysis_grid(annual.grid, cfg, regions, extent=extent)
    return annual.on_grid(grid), grid


def regions_on_grid(regions: Any, grid: GridSpec) -> Any:
    """Regions whose id image is sampled on ``grid``.

    Polygons (painted, no grid of their own) are returned as they are. An integer region-id
    image has its own grid: it is reprojected onto the analysis grid, each analysis pixel
    taking the id at its centre (Earth Engine's default nearest-neighbour resampling), so
    every engine counts the same pixels.
    """
    from dataclasses import replace

    if regions is None or getattr(regions, "features", None) is not None:
        return regions
    image = ee.Image(regions.image).reproject(crs=grid.crs, crsTransform=list(grid.transform))
    return replace(regions, image=image)
