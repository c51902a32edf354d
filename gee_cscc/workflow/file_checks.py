"""Checks of data read from a user's files: the grid, the units, the NPP values.

The readers (:mod:`gee_cscc.workflow.readers`) call these on what they read, so that a file
that would give a wrong answer is refused with one line naming the file (and the year), and
a file in a usable but unusual layout is brought to the one layout the method expects:

* **Grid.** ``(y, x)`` cell-centre coordinates, evenly spaced (every centre within 1 % of a
  cell of its regular position), north up and west to east (south-up or east-to-west
  files are flipped). A geographic grid stored in 0…360° longitudes is converted to
  −180…180° (a global grid is rolled at 180°, a grid wholly east of 180° is shifted by
  −360°; a regional grid across 180° is refused). A grid without a CRS is taken as
  EPSG:4326 only if its coordinates are longitudes/latitudes; otherwise it is refused.
* **Units.** A ``units`` attribute is read: ``g C m-2 yr-1`` (and spellings such as
  ``gC/m2/yr``), ``kg C m-2 yr-1`` (× 1000), ``g C m-2``/``kg C m-2`` (annual sums) and
  other mass-of-carbon per area units are converted to g C m⁻² yr⁻¹. Units that are not a
  mass of carbon per area (per year), e.g. rates per second or day, are refused. When a
  file declares its units, the file's units are what converts the values: the
  configuration's ``scale_factor``/``offset`` must then stay 1 and 0 (setting them too is
  refused, since the values would be converted twice).
* **Fill values.** Stored values equal to -9999, -32768 or -999 that the file does not
  declare as its fill value (``_FillValue``/``missing_value``, GeoTIFF nodata) are refused.
* **Values** (after ``scale_factor``/``offset``, docs/method.md §0–§1): a year with no valid
  cell, an input with no valid cell at all, |NPP| above ``max_abs_npp``
  (g C m⁻² yr⁻¹), no cell valid in every year, and no cell whose mean NPP is above
  ``vca_min_mean`` (no vegetation-covered cell) are each refused with their own message.
* **Regions (GeoJSON).** Every feature a Polygon/MultiPolygon of finite positions (a null
  geometry is refused naming the feature's number and name); a legacy ``crs`` member is
  honoured (reprojected to EPSG:4326 with pyproj); coordinates must then be longitudes in
  −180…180° and latitudes in ±90° (metres read as degrees are refused).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from gee_cscc.errors import InputError
from gee_cscc.workflow.npp_values import check_npp_values

__all__ = [
    "normalise_grid",
    "units_factor",
    "check_npp_values",
    "packing_of",
    "check_features",
    "check_fill_sentinels",
    "fill_sentinel_hits",
    "raise_fill_sentinels",
    "FILL_SENTINELS",
    "crs_of",
    "REGULAR_TOLERANCE",
]

#: How far (in cells) a coordinate may sit from its evenly spaced position.
REGULAR_TOLERANCE = 0.01

_MASS_G = {
    "mg": 1e-3,
    "g": 1.0,
    "kg": 1e3,
    "t": 1e6,
    "mt": 1e12,
    "tg": 1e12,
    "gt": 1e15,
    "pg": 1e15,
}
_AREA_M2 = {"m": 1.0, "km": 1e6, "ha": 1e4}
_YEAR = {"yr", "year", "a", "y"}


def _cell_size(values: np.ndarray, axis: str, what: str) -> float:
    """The signed step of evenly spaced coordinates (InputError when uneven)."""
    n = values.size
    if n < 2:
        raise InputError(
            f"{what} has a single cell along {axis}, so its cell size is unknown: give at "
            "least 2 cells along each axis (or a GeoTIFF, whose transform says the cell size)."
        )
    step = (values[-1] - values[0]) / (n - 1)
    if not np.isfinite(step) or step == 0:
        raise InputError(f"{what}: the {axis} coordinates are not increasing or decreasing.")
    regular = values[0] + step * np.arange(n)
    off = np.abs(values - regular) / abs(step)
    if np.any(~np.isfinite(values)) or off.max() > REGULAR_TOLERANCE:
        steps = np.diff(values)
        raise InputError(
            f"{what}: the {axis} coordinates are not evenly spaced (steps from {steps.min():g} "
            f"to {steps.max():g}); the method needs a regular grid: regrid the input first."
        )
    return float(step)


def crs_of(da: xr.DataArray) -> str | None:
    """The CRS of a DataArray: its ``crs`` attribute or its CF grid mapping.

    The grid mapping is read as rioxarray's ``da.rio.crs`` reads it (its WKT attribute
    ``spatial_ref`` or ``crs_wkt``, else its CF parameters), without importing rioxarray,
    which imports dask (0.3 s of every run that reads a NetCDF file).
    """
    crs = da.attrs.get("crs")
    if crs:
        return str(crs)
    try:
        found = _grid_mapping_crs(da)
    except Exception:  # no readable grid mapping: treated as absent
        found = None
    return found.to_string() if found is not None else None


def _grid_mapping_crs(da: xr.DataArray) -> Any:
    """The ``rasterio`` CRS of ``da``'s grid-mapping coordinate, or None (see :func:`crs_of`)."""
    import pyproj
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    name = da.encoding.get("grid_mapping", da.attrs.get("grid_mapping")) or "spatial_ref"
    if name not in da.coords:
        return None
    attrs = da.coords[name].attrs
    text = attrs.get("spatial_ref", attrs.get("crs_wkt"))
    if text is None:
        try:
            text = pyproj.CRS.from_cf(attrs)
        except pyproj.exceptions.CRSError:
            return None
    try:
        return CRS.from_user_input(text)
    except CRSError:  # what GDAL does not read, PROJ may (as rioxarray falls back)
        return CRS.from_wkt(pyproj.CRS.from_user_input(text).to_wkt())


def _is_geographic(crs: str) -> bool:
    from pyproj import CRS

    try:
        return bool(CRS.from_user_input(crs).is_geographic)
    except Exception as exc:
        raise InputError(f"Unknown CRS '{crs}': {exc}") from None


def normalise_grid(
    da: xr.DataArray, what: str, *, cell: tuple[float, float] | None = None
) -> xr.DataArray:
    """``da`` on a regular, north-up, −180…180° grid with a ``crs`` attribute.

    Parameters
    ----------
    da
        A DataArray with ``y`` and ``x`` dimensions and 1-D cell-centre coordinates.
    what
        How messages name the input ("NPP file npp.nc").
    cell
        ``(x step, y step)`` in CRS units when known from a file's transform (GeoTIFF); a
        single row or column then has a known cell size. Without it, every axis needs at
        least 2 evenly spaced cells.

    Raises
    ------
    InputError
        An empty, uneven or one-cell-wide grid (without ``cell``), a projected grid without
        a CRS, latitudes beyond ±90°, a geographic grid across 180° that is not global.
    """
    for axis in ("y", "x"):
        if da.sizes[axis] == 0:
            raise InputError(f"{what} has no cells along {axis}.")
        if axis not in da.coords:  # xarray would number the cells 0, 1, … (read as degrees)
            raise InputError(
                f"{what} has no {axis} coordinate values (cell centres); a curvilinear or "
                "index-only grid must be regridded to a regular one first."
            )
        if da[axis].ndim != 1 or not np.issubdtype(da[axis].dtype, np.number):
            raise InputError(f"{what}: the {axis} coordinate must be 1-D numbers.")
    xs = np.asarray(da["x"].values, dtype=float)
    ys = np.asarray(da["y"].values, dtype=float)
    dx = cell[0] if cell and xs.size < 2 else _cell_size(xs, "x", what)
    dy = cell[1] if cell and ys.size < 2 else _cell_size(ys, "y", what)
    if dx < 0:
        da, xs, dx = da.isel(x=slice(None, None, -1)), xs[::-1], -dx
    if dy > 0:
        da, ys, dy = da.isel(y=slice(None, None, -1)), ys[::-1], -dy
    crs = crs_of(da)
    lonlat = bool(np.all(np.abs(ys) <= 90.0) and xs.min() >= -180.0 and xs.max() <= 360.0)
    if crs is None:
        if not lonlat:
            raise InputError(
                f"{what} declares no CRS and its coordinates are not longitude/latitude "
                f"(x {xs.min():g}…{xs.max():g}, y {ys.min():g}…{ys.max():g}): write its CRS "
                "into the file (a CF grid_mapping, or rioxarray's write_crs)."
            )
        crs = "EPSG:4326"
    if _is_geographic(crs):
        if np.any(np.abs(ys) > 90.0):
            raise InputError(f"{what}: latitudes beyond ±90° ({ys.min():g}…{ys.max():g}).")
        da, xs = _to_180(da, xs, dx, what)
    out = da.assign_coords(x=xs, y=ys)
    out.attrs = {**da.attrs, "crs": crs}
    if xs.size < 2 or ys.size < 2:  # the transform is the only record of the cell size
        out.attrs["transform"] = (
            dx,
            0.0,
            float(xs[0] - dx / 2),
            0.0,
            dy,
            float(ys[0] - dy / 2),
        )
    return out


def _to_180(da: xr.DataArray, xs: np.ndarray, dx: float, what: str) -> tuple[xr.DataArray, Any]:
    """Longitudes −180…180° (x ascending): shift a grid east of 180°, roll a global one."""
    west, east = xs[0] - dx / 2, xs[-1] + dx / 2
    eps = dx * 1e-6
    if east <= 180.0 + eps:
        return da, xs
    if west >= 180.0 - eps:
        return da, xs - 360.0
    if abs((east - west) - 360.0) < dx / 2:
        wrapped = (xs + 180.0) % 360.0 - 180.0
        order = np.argsort(wrapped, kind="stable")
        return da.isel(x=order), wrapped[order]
    raise InputError(
        f"{what} spans longitudes {west:g}…{east:g}°, across 180°, and is not global: "
        "regions use −180…180°; cut the grid at 180° or convert its longitudes to −180…180°."
    )


def _unit_terms(units: str) -> list[tuple[str, int]] | None:
    """``"gC/m2/yr"`` → ``[("g", 1), ("c", 1), ("m", -2), ("yr", -1)]`` (None if unparsable)."""
    text = re.sub(r"(?<![A-Za-z])Mg", "t", units.strip())  # megagram; mg is milligram
    text = text.lower().replace("carbon", "c").replace("**", "").replace("^", "")
    text = text.replace("·", " ").replace("*", " ").replace(".", " ")
    terms: list[tuple[str, int]] = []
    for k, part in enumerate(text.split("/")):
        for token in part.split():
            m = re.fullmatch(r"([a-z]+)(-?\d+)?", token)
            if not m:
                return None
            name, power = m.group(1), int(m.group(2) or 1)
            if k > 0:
                power = -power
            if name.endswith("c") and name[:-1] in _MASS_G:  # gC, kgC
                terms += [(name[:-1], power), ("c", power)]
            else:
                terms.append((name, power))
    return terms


def units_factor(units: str) -> float:
    """The factor converting values in ``units`` to g C m⁻² yr⁻¹ (InputError when unknown).

    A mass of carbon per area, optionally per year (an annual sum has no time unit):
    ``g C m-2 yr-1`` → 1, ``kg C m-2 yr-1`` and ``kg C m-2`` → 1000, ``g C ha-1`` → 1e-4.
    """
    terms = _unit_terms(units) or [("?", 0)]
    mass = [t for t in terms if t[0] in _MASS_G and t[1] == 1]
    carbon = [t for t in terms if t == ("c", 1)]
    area = [t for t in terms if t[0] in _AREA_M2 and t[1] in (-1, -2)]
    per_year = [t for t in terms if t[0] in _YEAR and t[1] == -1]
    if len(mass) == 1 and len(carbon) == 1 and len(area) == 1 and len(per_year) <= 1:
        if len(mass) + len(carbon) + len(area) + len(per_year) == len(terms):
            name, power = area[0]
            if (name == "ha") == (power == -1):  # ha-1, or m-2 / km-2
                return _MASS_G[mass[0][0]] / _AREA_M2[name]
    raise InputError(
        f"units '{units}' are not a mass of carbon per area and year: give NPP in "
        "g C m-2 yr-1 (or kg C m-2 yr-1, g C m-2, kg C m-2 for annual sums) and set the "
        "variable's units attribute accordingly."
    )


def packing_of(da: xr.DataArray) -> str | None:
    """A file's own CF packing (``scale_factor``/``add_offset``, applied when read), or None."""
    scale = float(da.encoding.get("scale_factor", 1.0))
    offset = float(da.encoding.get("add_offset", 0.0))
    if scale == 1.0 and offset == 0.0:
        return None
    return f"scale_factor {scale:g}, add_offset {offset:g}"


#: Stored values that are fill values, never NPP: refused when a file does not declare them.
FILL_SENTINELS = (-9999.0, -32768.0, -999.0)


def fill_sentinel_hits(values: np.ndarray) -> list[int]:
    """How many stored values of one year equal each of :data:`FILL_SENTINELS`."""
    v = np.asarray(values)
    return [int(np.count_nonzero(v == sentinel)) for sentinel in FILL_SENTINELS]


def check_fill_sentinels(values: Iterable[Any], years: list[int], what: str) -> None:
    """Refuse stored values equal to a common fill value (:data:`FILL_SENTINELS`).

    ``values`` are as stored (before scale_factor/offset), one ``(y, x)`` slice per year
    (a ``(year, y, x)`` array or any iterable of slices), NaN = masked.
    """
    raise_fill_sentinels([fill_sentinel_hits(v) for v in values], years, what)


def raise_fill_sentinels(hits: list[list[int]], years: list[int], what: str) -> None:
    """The error of :func:`check_fill_sentinels` from per-year :func:`fill_sentinel_hits`."""
    for k, sentinel in enumerate(FILL_SENTINELS):
        for year, counts in zip(years, hits, strict=False):
            if counts[k]:
                raise InputError(
                    f"NPP year {year} of {what} has {counts[k]} cell(s) equal to "
                    f"{sentinel:g}, a fill value the file does not declare: declare it "
                    "(_FillValue in NetCDF, nodata in GeoTIFF) so those cells are masked."
                )


# --------------------------------------------------------------------------- GeoJSON regions

_LONLAT_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:ogc::crs84",
    "ogc:crs84",
    "crs84",
    "urn:ogc:def:crs:epsg::4326",
    "urn:ogc:def:crs:epsg:4326",
    "epsg:4326",
}


def _feature_label(k: int, feature: Any) -> str:
    props = feature.get("properties") if isinstance(feature, dict) else None
    label = f"feature {k + 1}"
    if isinstance(props, dict):
        for key in ("abbr", "name", "NAME", "id"):
            if key in props and props[key] is not None:
                return f"{label} ({key} = {props[key]!r})"
    return label


def _positions(geometry: dict) -> list:
    """Every ring of a Polygon/MultiPolygon (a list of positions each)."""
    coords = geometry.get("coordinates")
    polygons = [coords] if geometry["type"] == "Polygon" else coords
    if not isinstance(polygons, list):
        raise ValueError("its coordinates are not a list")
    rings = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise ValueError("a polygon has no ring")
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                raise ValueError("a ring has fewer than 4 positions")
            for pos in ring:
                if (
                    not isinstance(pos, list)
                    or len(pos) < 2
                    or not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos[:2]
                    )
                    or not all(np.isfinite(pos[:2]))
                ):
                    raise ValueError(f"the position {pos!r} is not a pair of finite numbers")
            rings.append(ring)
    return rings


def _crs_transformer(data: dict, what: str) -> Any:
    """A pyproj transformer to EPSG:4326 for a legacy ``crs`` member (None: lon/lat)."""
    member = data.get("crs")
    if member is None:
        return None
    name = None
    if isinstance(member, dict) and member.get("type") == "name":
        name = (member.get("properties") or {}).get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(
            f"{what}: its 'crs' member {member!r} is not a named CRS; reproject the file to "
            "longitude/latitude (EPSG:4326) and remove the member."
        )
    if name.strip().lower() in _LONLAT_NAMES:
        return None
    from pyproj import CRS, Transformer

    try:
        crs = CRS.from_user_input(name.strip())
    except Exception:
        raise InputError(
            f"{what}: unknown CRS {name!r} in its 'crs' member; reproject the file to "
            "longitude/latitude (EPSG:4326)."
        ) from None
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def check_features(data: dict, what: str) -> dict:
    """A FeatureCollection checked and in EPSG:4326 longitude/latitude (a new dict).

    Every feature must be a Feature with a Polygon or MultiPolygon geometry of finite
    positions; a legacy ``crs`` member is honoured (coordinates reprojected with pyproj,
    the member dropped). Longitudes must then lie in −180…180° and latitudes in ±90°.
    """
    transformer = _crs_transformer(data, what)
    out = {k: v for k, v in data.items() if k not in ("crs", "bbox")}
    out["features"] = copy.deepcopy(data["features"])
    for k, feature in enumerate(out["features"]):
        label = _feature_label(k, feature)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise InputError(f"{what}: {label} is not a GeoJSON Feature.")
        geometry = feature.get("geometry")
        if geometry is None:
            raise InputError(
                f"{what}: {label} has no geometry (null); give it a polygon or remove it."
            )
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if kind not in ("Polygon", "MultiPolygon"):
            raise InputError(
                f"{what}: {label} is a {kind or 'malformed'} geometry; regions must be "
                "Polygon or MultiPolygon."
            )
        try:
            rings = _positions(geometry)
        except ValueError as exc:
            raise InputError(f"{what}: {label} is malformed: {exc}.") from None
        feature.pop("bbox", None)
        for ring in rings:
            if transformer is not None:
                xs, ys = transformer.transform([p[0] for p in ring], [p[1] for p in ring])
                ring[:] = [[float(x), float(y)] for x, y in zip(xs, ys, strict=True)]
            lon = [p[0] for p in ring]
            lat = [p[1] for p in ring]
            if (
                not all(np.isfinite(lon + lat))
                or max(map(abs, lon)) > 180.0
                or max(map(abs, lat)) > 90.0
            ):
                raise InputError(
                    f"{what}: {label} has coordinates outside longitude −180…180° / latitude "
                    f"±90° (x {min(lon):g}…{max(lon):g}, y {min(lat):g}…{max(lat):g}): "
                    "GeoJSON is longitude/latitude; declare the file's CRS in a 'crs' member "
                    "or reproject it to EPSG:4326."
                )
        _check_valid(geometry, f"{what}: {label}")
    return out


def _check_valid(geometry: dict, where: str) -> None:
    """A self-intersecting (or otherwise invalid) polygon is refused: its cells are ambiguous."""
    import shapely
    import shapely.geometry

    reason = shapely.is_valid_reason(shapely.geometry.shape(geometry))
    if reason != "Valid Geometry":
        raise InputError(
            f"{where} is not a valid polygon ({reason}); repair it (e.g. QGIS 'Fix "
            "geometries' or shapely.make_valid) and give the file again."
        )
