"""docs/method.md §0: the annual NPP input, validated and prepared for the method.

One ``getInfo`` of the collection gives every image's year, bands and grid; everything is
checked client-side against the run configuration, and the collection the method uses is
then an Earth Engine expression: the chosen band with stored values outside ``valid_range``
masked, renamed ``npp``, converted to g C m⁻² yr⁻¹ (``scale_factor``, ``offset``), as
double, sorted by year, each image carrying an integer ``year`` property.

On an analysis grid other than the input's (:meth:`AnnualNPP.on_grid`), each year is
coarsened with Earth Engine's recommended ``reduceResolution(Reducer.mean())`` followed by
``reproject`` onto that grid: a coarse cell is the coverage-weighted mean of the valid input
pixels it holds.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import ee

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.method.grid import GridSpec, resolve_crs

__all__ = [
    "AnnualNPP",
    "load_annual_npp",
    "image_year",
    "masked_counts",
    "masked_counts_dictionary",
    "read_masked_counts",
    "prepare",
]


@dataclass(frozen=True)
class AnnualNPP:
    """The prepared annual NPP collection and what was learnt validating it.

    Attributes
    ----------
    collection
        ``ee.ImageCollection``: one image per year, band ``npp`` (g C m⁻² yr⁻¹, double),
        property ``year`` (int), sorted by year.
    years
        The years, ascending (every year of the configured range).
    grid
        The input's pixel grid (CRS, transform, shape); every reduction, pull and export
        of the run uses it explicitly.
    source
        The asset id of the input, or ``None`` for a computed collection.
    band
        The band of the input that holds NPP.
    stored
        The input collection as stored (``ee.ImageCollection``), for :func:`masked_counts`.
    valid_range
        ``(low, high)`` of the stored values that are data, or None.
    input_grid
        The input's own grid (``grid`` is the analysis grid once :meth:`on_grid` ran).
    """

    collection: Any
    years: tuple[int, ...]
    grid: GridSpec
    source: str | None
    band: str
    stored: Any = None
    valid_range: tuple[float, float] | None = None
    input_grid: GridSpec | None = None

    @property
    def first_year(self) -> int:
        return self.years[0]

    @property
    def last_year(self) -> int:
        return self.years[-1]

    def image(self, year: int) -> Any:
        """The ``npp`` image of one year (``ee.Image``)."""
        return ee.Image(self.collection.filter(ee.Filter.eq("year", year)).first())

    def on_grid(self, grid: GridSpec) -> AnnualNPP:
        """The collection on an analysis grid (docs/method.md §0 on a chosen grid).

        A window of the input grid (same CRS and pixels) needs no resampling. Any other grid
        gets each year through ``reduceResolution(Reducer.mean(), maxPixels)`` (when its
        pixels are coarser than the input's) and ``reproject(crs, crsTransform)``:
        g C m⁻² yr⁻¹ stay g C m⁻² yr⁻¹ (a coverage-weighted mean of the valid pixels).
        """
        native = resolve_crs(self.input_grid or self.grid)
        if _same_lattice(native, grid):
            return replace(self, grid=grid, input_grid=native)
        ratio = grid.nominal_scale() / native.nominal_scale()
        max_pixels = int(math.ceil(ratio + 2) ** 2)
        transform = list(grid.transform)

        def one(img: Any) -> Any:
            img = ee.Image(img)
            src = img.reduceResolution(ee.Reducer.mean(), False, max_pixels) if ratio > 1 else img
            out = src.reproject(crs=grid.crs, crsTransform=transform)
            return (
                ee.Image(out)
                .set("year", img.get("year"))
                .set("system:time_start", img.get("system:time_start"))
                .set("system:index", img.get("system:index"))
            )

        collection = ee.ImageCollection(self.collection).map(one)
        return replace(self, collection=collection, grid=grid, input_grid=native)


def image_year(properties: dict) -> int | None:
    """The year of an image from its ``year`` property or its ``system:time_start`` (UTC)."""
    year = properties.get("year")
    if year is not None:
        try:
            return int(year)
        except (TypeError, ValueError):
            return None
    t = properties.get("system:time_start")
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(float(t) / 1000.0, tz=_dt.timezone.utc).year


def _describe(source: Any) -> tuple[list[dict], str]:
    try:
        info = source.getInfo()
    except ee.EEException as exc:
        name = source if isinstance(source, str) else "the NPP collection"
        raise InputError(f"Cannot read {name}: {exc}") from exc
    return info.get("features", []), info.get("id") or ""


def load_annual_npp(source: str | Any, cfg: Config) -> AnnualNPP:
    """Validate an annual NPP collection (docs/method.md §0) and prepare it for the method.

    Parameters
    ----------
    source
        An ImageCollection asset id, or an ``ee.ImageCollection``.
    cfg
        The run configuration (years, band, scale factor and offset).

    Raises
    ------
    InputError
        No images; an image without a year; a duplicate or missing year (images of years
        outside ``start … end`` are left out); the band missing, or several bands and none
        named; images on different grids. The message names the year, the band and the
        asset.
    """
    asset_id = source if isinstance(source, str) else None
    collection = ee.ImageCollection(source) if isinstance(source, str) else source
    images, coll_id = _describe(collection)
    name = asset_id or coll_id or "the NPP collection"
    if not images:
        raise InputError(f"NPP collection '{name}' has no images.")

    by_year: dict[int, list[str]] = {}
    for k, img in enumerate(images):
        props = img.get("properties", {})
        index = props.get("system:index", img.get("id", str(k)))
        year = image_year(props)
        if year is None:
            raise InputError(
                f"Image '{index}' of '{name}' has neither a 'year' nor a 'system:time_start' "
                "property, so its year is unknown."
            )
        by_year.setdefault(year, []).append(str(index))
    dupes = sorted(y for y, ids in by_year.items() if len(ids) > 1)
    if dupes:
        y = dupes[0]
        raise InputError(
            f"Year {y} appears {len(by_year[y])} times in '{name}' (images {by_year[y]}); "
            "give one image per year."
        )
    # Years outside start…end are left out (the filter below): a run may take a subset.
    missing = [y for y in cfg.years if y not in by_year]
    if missing:
        raise InputError(
            f"Year {missing[0]} is missing from '{name}' (the run needs every year "
            f"{cfg.start}–{cfg.end}; missing: {missing}; it has {sorted(by_year)})."
        )

    band = _choose_band(images, cfg, name)
    grid = _common_grid(images, band, name)
    prepared = prepare(
        collection,
        band=band,
        scale_factor=cfg.scale_factor,
        offset=cfg.offset,
        valid_range=cfg.valid_range,
    )
    prepared = prepared.filter(ee.Filter.rangeContains("year", cfg.start, cfg.end))
    return AnnualNPP(
        prepared,
        tuple(cfg.years),
        grid,
        asset_id or coll_id or None,
        band,
        stored=collection,
        valid_range=cfg.valid_range,
        input_grid=grid,
    )


def _same_lattice(a: GridSpec, b: GridSpec) -> bool:
    """Whether ``b`` is a window of ``a``'s pixels (same CRS and scale, whole-pixel offset)."""
    if a.crs != b.crs or a.transform[1] or a.transform[3] or b.transform[1] or b.transform[3]:
        return False
    ax, _, ac, _, ay, af = a.transform
    bx, _, bc, _, by, bf = b.transform
    if not (math.isclose(ax, bx, rel_tol=1e-9) and math.isclose(ay, by, rel_tol=1e-9)):
        return False
    col, row = (bc - ac) / ax, (bf - af) / ay
    return abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6


def masked_counts(annual: AnnualNPP, grid: GridSpec | None = None) -> dict[int, int]:
    """Stored values outside ``valid_range`` per year (fill values, class codes), counted on
    the input's pixels inside the analysis grid, in one server-side reduction.

    Returns ``{year: count}`` (empty without a ``valid_range``). The pixels are the input
    grid's window over ``grid`` when both share a CRS, else ``grid``'s own pixels. A run
    gets the same counts from its input checks (:mod:`gee_cscc.method.checks`, which put
    :func:`masked_counts_dictionary` in their table), in one request with the other checks.
    """
    counts = masked_counts_dictionary(annual, grid)
    if counts is None:
        return {}
    return read_masked_counts(counts.getInfo())


def read_masked_counts(info: Mapping[str, Any] | None) -> dict[int, int]:
    """``{year: count}`` from the dictionary of :func:`masked_counts_dictionary` as
    ``getInfo`` (or an exported table's feature) gives it: keys ``"y<year>"``."""
    out = {}
    for key, value in (info or {}).items():
        key = str(key)
        if key.startswith("y") and key[1:].isdigit():
            out[int(key[1:])] = int(round(value or 0))
    return dict(sorted(out.items()))


def masked_counts_dictionary(annual: AnnualNPP, grid: GridSpec | None = None) -> Any:
    """The ``ee.Dictionary`` ``{"y<year>": count}`` of :func:`masked_counts`, not computed
    (keys start with a letter, as table columns must); None without a ``valid_range``."""
    if annual.valid_range is None or annual.stored is None:
        return None
    low, high = annual.valid_range
    native = annual.input_grid or annual.grid
    target = grid or annual.grid
    if target.crs == native.crs and not (native.transform[1] or native.transform[3]):
        try:
            target = native.crop(target.bounds())
        except ValueError:
            return ee.Dictionary({f"y{y}": 0 for y in annual.years})
    band = annual.band

    def outside(img: Any) -> Any:
        img = ee.Image(img)
        stored = img.select([band])
        flag = stored.lt(low).Or(stored.gt(high)).unmask(0, False)
        year = ee.Number(
            ee.Algorithms.If(
                img.propertyNames().contains("year"),
                img.get("year"),
                ee.Date(img.get("system:time_start")).get("year"),
            )
        ).toInt()
        return flag.rename("outside").set("year", year)

    flags = ee.ImageCollection(annual.stored).map(outside)
    flags = flags.filter(ee.Filter.rangeContains("year", annual.years[0], annual.years[-1]))
    stack = flags.sort("year").toBands()
    sums = stack.reduceRegion(
        reducer=ee.Reducer.sum().unweighted(),
        geometry=target.region(),
        crs=target.crs,
        crsTransform=list(target.transform),
        maxPixels=1e13,
    )
    years = ee.List(flags.sort("year").aggregate_array("year"))
    return ee.Dictionary.fromLists(
        years.map(lambda y: ee.Number(y).format("y%d")), sums.values(stack.bandNames())
    )


def _choose_band(images: list[dict], cfg: Config, name: str) -> str:
    default = Config().band
    for img in images:
        bands = [b["id"] for b in img.get("bands", [])]
        year = image_year(img.get("properties", {}))
        if cfg.band in bands:
            continue
        if cfg.band == default and len(bands) == 1:
            continue
        if cfg.band == default and len(bands) > 1:
            raise InputError(
                f"Image of year {year} in '{name}' has several bands {bands} and no band is "
                f"named 'npp'; name the NPP band in the configuration (band = ...)."
            )
        raise InputError(
            f"Band '{cfg.band}' not found in the image of year {year} of '{name}'; "
            f"its bands are {bands}."
        )
    first_bands = [b["id"] for b in images[0].get("bands", [])]
    if cfg.band in first_bands:
        return cfg.band
    names = {b["id"] for img in images for b in img.get("bands", [])}
    if len(names) != 1:
        raise InputError(
            f"The images of '{name}' have different single bands {sorted(names)}; "
            "name the NPP band in the configuration."
        )
    return first_bands[0]


def _common_grid(images: list[dict], band: str, name: str) -> GridSpec:
    grid: GridSpec | None = None
    first_year = None
    for img in images:
        year = image_year(img.get("properties", {}))
        info = next(
            (b for b in img.get("bands", []) if b["id"] == band),
            img.get("bands", [None])[0],
        )
        if info is None or "dimensions" not in info:
            raise InputError(
                f"The image of year {year} in '{name}' has no fixed grid (is it a computed "
                "composite?); export it to an asset first."
            )
        this = GridSpec.from_band_info(info)
        if grid is None:
            grid, first_year = this, year
        elif this != grid:
            raise InputError(
                f"The image of year {year} in '{name}' is on another grid than year "
                f"{first_year}: {this.describe()} vs {grid.describe()}."
            )
    assert grid is not None
    return grid


def prepare(
    collection: Any,
    *,
    band: str,
    scale_factor: float,
    offset: float,
    valid_range: tuple[float, float] | None = None,
) -> Any:
    """The method's view of the input: band ``npp`` in g C m⁻² yr⁻¹, double, with ``year``.

    ``npp = stored × scale_factor + offset`` (docs/method.md §0), where stored values outside
    ``valid_range`` (inclusive bounds, in stored units) are masked first.
    """

    def one(img: Any) -> Any:
        img = ee.Image(img)
        time_start = img.get("system:time_start")
        year = ee.Number(
            ee.Algorithms.If(
                img.propertyNames().contains("year"),
                img.get("year"),
                ee.Date(time_start).get("year"),
            )
        ).toInt()
        stored = img.select([band])
        if valid_range is not None:
            low, high = valid_range
            stored = stored.updateMask(stored.gte(low).And(stored.lte(high)))
        value = stored.toDouble().multiply(scale_factor).add(offset).rename("npp")
        return (
            value.set("year", year)
            .set("system:time_start", ee.Date.fromYMD(year, 1, 1).millis())
            .set("system:index", img.get("system:index"))
        )

    return ee.ImageCollection(collection).map(one).sort("year")
