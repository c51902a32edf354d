"""Reading a user's local input files: NPP cubes, region rasters, region names, GeoJSON.

``--npp`` may be a NetCDF/Zarr file with a ``year`` (or ``time``) dimension or a folder of
one GeoTIFF per year (``*_YYYY.tif``); ``--regions`` a GeoJSON file or an integer-coded
region GeoTIFF (0 = outside every region) whose ids are named by ``--region-names
FILE.csv`` (columns ``region_id``, ``name``). Every reader checks what it reads
(:mod:`gee_cscc.workflow.file_checks`: a regular north-up grid in −180…180°, units, the
NPP values) and raises :class:`gee_cscc.errors.InputError` naming the file, in one line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.method.grid import GridSpec
from gee_cscc.workflow.file_checks import (
    FILL_SENTINELS,
    check_features,
    crs_of,
    fill_sentinel_hits,
    normalise_grid,
    packing_of,
    raise_fill_sentinels,
    units_factor,
)
from gee_cscc.workflow.npp_folder import YEAR_TIF, one_band, read_tif_folder, tif_grid
from gee_cscc.workflow.npp_values import check_npp_blocks, file_rows, row_blocks
from gee_cscc.workflow.years import check_years

__all__ = ["is_local_path", "read_npp", "npp_file_years", "coordinate_years", "NppSource"]
__all__ += ["read_region_raster", "read_region_names", "read_geojson", "check_same_grid"]

_DEFAULT_BAND = "npp"  # Config().band: with it, a file's only variable is the NPP

_MAX_REGION_ID = 2**31 - 1  # region ids are int32 on the engine


def is_local_path(value: str | Path) -> bool:
    """Whether an input names a file or folder on this machine (not an asset id)."""
    return Path(value).exists()


@dataclass(frozen=True)
class NppSource:
    """Annual NPP read from files: ``raw``, the ``(year, y, x)`` values as stored (lazy for
    NetCDF/Zarr), and where they came from. :meth:`year` (one year) and ``data`` (all) are
    float32, in g C m⁻² yr⁻¹ when the file declared its units (times ``units_factor``)."""

    raw: xr.DataArray
    path: Path
    units: str | None = None
    units_factor: float = 1.0
    band: str = _DEFAULT_BAND

    def convert(self, da: xr.DataArray) -> xr.DataArray:
        """Stored values (any years) as float32 NPP, named ``band``, attrs crs/transform."""
        f = self.units_factor  # no copy of values that are float32 already (issue 11)
        out = (da * f if f != 1.0 else da).astype(np.float32, copy=False)
        out = out.rename(self.band)
        out.attrs = {k: self.raw.attrs[k] for k in ("crs", "transform") if k in self.raw.attrs}
        return out

    def year(self, year: int) -> xr.DataArray:
        """One year's ``(y, x)`` float32 NPP (only that year is read)."""
        return self.convert(self.raw.sel(year=year, drop=True).load())

    @property
    def data(self) -> xr.DataArray:
        """Every year's float32 NPP, ``(year, y, x)`` (the whole cube, in memory)."""
        return self.convert(self.raw)


def _spatial(da: xr.DataArray, what: str) -> xr.DataArray:
    rename = {}
    for src, dst in (("lat", "y"), ("latitude", "y"), ("lon", "x"), ("longitude", "x")):
        if src in da.dims:
            rename[src] = dst
    da = da.rename(rename)
    if "y" not in da.dims or "x" not in da.dims:
        raise InputError(f"{what} needs 'y'/'x' (or lat/lon) dimensions; it has {tuple(da.dims)}.")
    return da


def _open_netcdf(p: Path) -> xr.Dataset:
    """``p`` with a CF grid mapping as a coordinate: read with netCDF4 (NetCDF 3 and 4),
    else with the engine xarray guesses. Naming the engine spares loading every installed
    xarray backend (rioxarray, and dask with it: 0.3 s of every run)."""
    try:
        return xr.open_dataset(p, decode_coords="all", engine="netcdf4")
    except Exception:  # not a file netCDF4 reads: the guessed engine says why, if none does
        return xr.open_dataset(p, decode_coords="all")


def _open(p: Path, what: str) -> Any:
    try:
        if p.is_dir() or p.suffix == ".zarr":
            return xr.open_zarr(p, decode_coords="all")
        return _open_netcdf(p)
    except PermissionError:
        raise InputError(f"Cannot read {what} {p}: permission denied.") from None
    except Exception as exc:  # the file format's own error, reported with the path
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"Cannot read {what} {p}: {text[:300]}") from exc


def read_npp(path: str | Path, *, band: str = "npp", cfg: Config | None = None) -> NppSource:
    """Read annual NPP from a NetCDF/Zarr file or a folder of ``*_YYYY.tif`` files.

    Parameters
    ----------
    path
        The file or folder.
    band
        The variable (NetCDF/Zarr) or band description (GeoTIFF) holding NPP.
    cfg
        The run configuration: with it, the file must hold every year ``start … end``;
        the values of those years are checked after ``scale_factor`` and ``offset``
        (:func:`gee_cscc.workflow.file_checks.check_npp_values`; other years stay in
        ``data`` unchecked, and the method leaves them out), and a file declaring its units
        may not be scaled again by the configuration.

    Raises
    ------
    InputError
        Missing or unreadable file, no ``year``/``time`` dimension, a duplicate or
        fractional year, the variable not found, more dimensions than year/y/x, GeoTIFFs on
        different grids or with several bands, an uneven or projected-without-CRS grid,
        unknown units, a year of the run not in the file (naming the years it has), or
        values that would give a wrong answer (naming the file and year).
    """
    if not str(path).strip():
        raise InputError("The NPP input is an empty name: give a file, a folder or an asset id.")
    p = Path(path)
    if not p.exists():
        raise InputError(f"NPP input not found: {p}")
    if p.is_dir() and not (p / ".zgroup").exists() and not (p / "zarr.json").exists():
        da = read_tif_folder(p, band)
    else:
        da = _read_cube(p, band)
    units = da.attrs.get("units")
    factor = 1.0
    if units is not None and str(units).strip():
        try:
            factor = units_factor(str(units))
        except InputError as exc:
            raise InputError(f"NPP file {p}: {exc}") from None
        if cfg is not None and (cfg.scale_factor != 1.0 or cfg.offset != 0.0):
            raise InputError(
                f"NPP file {p} declares its units ('{units}', converted to g C m-2 yr-1 by "
                f"the reader) and the configuration sets scale_factor = {cfg.scale_factor:g}, "
                f"offset = {cfg.offset:g} too: the file's units win; set scale_factor = 1 "
                "and offset = 0 (or remove the units attribute to convert with them)."
            )
    packing = da.attrs.get("packing")
    if packing and cfg is not None and (cfg.scale_factor != 1.0 or cfg.offset != 0.0):
        raise InputError(
            f"NPP file {p} is packed ({packing}, applied when reading) and the configuration "
            f"sets scale_factor = {cfg.scale_factor:g}, offset = {cfg.offset:g} too: the "
            "file's packing wins; set scale_factor = 1 and offset = 0."
        )
    chunk_rows = da.attrs.pop("chunk_rows", None)  # the file's own blocks of rows, if any
    years = [int(y) for y in da["year"].values]
    # The run's years only are checked (the others are stored, never computed).
    used = list(check_years(years, cfg, f"NPP file {p}")) if cfg is not None else years
    src = NppSource(da, p, str(units) if units is not None else None, factor, band)
    what, hits = f"NPP file {p}", [[0] * len(FILL_SENTINELS) for _ in used]
    scale, offset = (cfg.scale_factor, cfg.offset) if cfg is not None else (1.0, 0.0)

    def block(rows: slice) -> Any:  # one band of rows, one year at a time (issue 11)
        for i, year in enumerate(used):
            stored = da.sel(year=year).isel(y=rows).load()
            counts = fill_sentinel_hits(stored.values)
            hits[i] = [a + b for a, b in zip(hits[i], counts, strict=True)]
            yield src.convert(stored).values.astype(np.float64) * scale + offset

    blocks = (block(rows) for rows in row_blocks(da.sizes["y"], da.sizes["x"], chunk_rows))
    try:
        if cfg is None:
            for values in blocks:
                all(True for _ in values)
        else:
            limits = {"max_abs_npp": cfg.max_abs_npp, "vca_min_mean": cfg.vca_min_mean}
            check_npp_blocks(blocks, used, what, **limits)
    except InputError:  # an undeclared fill value is the better explanation
        raise_fill_sentinels(hits, used, what)
        raise
    raise_fill_sentinels(hits, used, what)
    return src


def npp_file_years(path: str | Path) -> list[int]:
    """The years of an NPP file or folder, read cheaply (the ``year``/``time`` coordinate,
    or the ``*_YYYY.tif`` names); none when they cannot be read (:func:`read_npp` says why)."""
    p = Path(path)
    if p.is_dir() and not (p / ".zgroup").exists() and not (p / "zarr.json").exists():
        found = (YEAR_TIF.search(f.name) for f in p.iterdir())
        return sorted({int(m.group(1)) for m in found if m})
    try:
        with _open(p, "NPP file") as ds:
            return coordinate_years(ds)
    except Exception:  # unreadable here: read_npp reports it, naming the file
        return []


def coordinate_years(data: xr.DataArray | xr.Dataset) -> list[int]:
    """The whole years of an xarray object's ``year`` or ``time`` coordinate (none if it
    has neither or they are not whole years)."""
    if "year" in data.coords:
        values = np.asarray(data["year"].values)
    elif "time" in data.coords:
        try:
            values = np.asarray(data["time"].dt.year.values)
        except (AttributeError, TypeError):
            return []
    else:
        return []
    if not np.issubdtype(values.dtype, np.number) or np.any(values != np.round(values)):
        return []
    return sorted({int(v) for v in values.ravel()})


def _read_cube(p: Path, band: str) -> xr.DataArray:
    what = f"NPP file {p}"
    ds = _open(p, "NPP file")
    if isinstance(ds, xr.Dataset):
        names = list(ds.data_vars)
        if band in names:
            da = ds[band]
        elif len(names) == 1 and band == _DEFAULT_BAND:
            da = ds[names[0]]
        else:  # a band named explicitly must exist, as for an asset (method.inputs)
            raise InputError(
                f"Band '{band}' not found in NPP file {p}; its variables are {names}: "
                "name the NPP one with --band (band = ... in the config)."
            )
    else:
        da = ds
    packing = packing_of(da)  # before any operation drops the encoding
    chunk_rows = file_rows(da)
    if "year" not in da.dims:
        if "time" not in da.dims:
            raise InputError(f"{what} has no 'year' (or 'time') dimension: dims {tuple(da.dims)}.")
        try:
            years = da["time"].dt.year
        except (AttributeError, TypeError):
            raise InputError(f"{what}: its 'time' coordinate is not a date.") from None
        da = da.assign_coords(time=years).rename(time="year")
    da = _spatial(da, what)
    extra = [d for d in da.dims if d not in ("year", "y", "x")]
    if any(da.sizes[d] != 1 for d in extra):
        raise InputError(
            f"{what}: variable '{da.name}' has dimensions {tuple(da.dims)}; NPP must have "
            f"only year (or time), y and x: select one {'/'.join(extra)} first."
        )
    da = da.squeeze(extra, drop=True) if extra else da
    raw = np.asarray(da["year"].values)
    if not np.issubdtype(raw.dtype, np.number) or np.any(raw != np.round(raw)):
        raise InputError(f"{what}: the years {raw.tolist()[:5]} are not whole years.")
    years = [int(y) for y in raw]
    dup = sorted({y for y in years if years.count(y) > 1})
    if dup:
        raise InputError(
            f"Year {dup[0]} appears {years.count(dup[0])} times in {what}: the input must be "
            "annual (one value per year)."
        )
    da = da.assign_coords(year=years).sortby("year").transpose("year", "y", "x")
    crs = crs_of(da)  # before the grid-mapping coordinate is dropped
    da = da.drop_vars([c for c in da.coords if c not in ("year", "y", "x")])
    keep = {"units": da.attrs.get("units"), "packing": packing, "chunk_rows": chunk_rows}
    da.attrs = {"crs": crs} if crs else {}
    da = normalise_grid(da, what)  # lazy: read_npp reads one year at a time
    da.attrs.update({k: v for k, v in keep.items() if v})
    return da


def read_geojson(path: str | Path) -> dict:
    """A GeoJSON FeatureCollection of polygons in longitude/latitude (EPSG:4326).

    A legacy ``crs`` member (``{"type": "name", "properties": {"name":
    "urn:ogc:def:crs:EPSG::3857"}}``) is honoured: the coordinates are reprojected to
    EPSG:4326 (:func:`~gee_cscc.workflow.file_checks.check_features`). A single Feature is taken as a collection
    of one. InputError for an unreadable file, a null or non-polygon geometry (naming the
    feature) or coordinates that are not longitude/latitude.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Region file not found: {p}")
    try:
        data = json.loads(p.read_bytes().decode("utf-8-sig"))
    except PermissionError:
        raise InputError(f"Cannot read region file {p}: permission denied.") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"Region file {p} is not UTF-8 text: {exc.reason}.") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Region file {p} is not valid GeoJSON: {exc}") from exc
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data], **_crs_member(data)}
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
        or not data["features"]
    ):
        raise InputError(f"Region file {p} is not a GeoJSON FeatureCollection with features.")
    return check_features(data, f"Region file {p}")


def _crs_member(data: dict) -> dict:
    return {"crs": data["crs"]} if "crs" in data else {}


def read_region_raster(path: str | Path) -> xr.DataArray:
    """An integer region-id GeoTIFF (0 = outside every region) as a ``(y, x)`` DataArray.

    Masked (nodata/NaN) cells are outside every region. InputError for several bands,
    non-integer, negative or over-large (> 2³¹ − 1) ids, or no id > 0.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Region file not found: {p}")
    import rioxarray

    try:
        raw = rioxarray.open_rasterio(p, masked=True, cache=False)  # read by windows below
    except PermissionError:
        raise InputError(f"Cannot read region file {p}: permission denied.") from None
    except Exception as exc:
        raise InputError(f"Cannot read region raster {p}: {' '.join(str(exc).split())}") from exc
    rows = file_rows(raw)
    da = tif_grid(one_band(raw, p, None), f"Region raster {p}")
    ids = np.zeros(da.shape, dtype=np.int32)  # checked and converted a band of rows at a time
    odd, lowest, largest, regions = False, np.inf, -np.inf, False
    for band in row_blocks(*da.shape, rows):
        values = np.asarray(da[band].values, dtype=np.float64)
        finite = np.isfinite(values)
        known = values[finite]
        odd = odd or bool(np.any(np.isinf(values)) or np.any(known != np.round(known)))
        if known.size:
            lowest, largest = min(lowest, known.min()), max(largest, known.max())
            regions = regions or bool(np.any(known > 0))
        if not odd and lowest >= 0 and largest <= _MAX_REGION_ID:
            ids[band] = np.where(finite, values, 0)
    raw.close()  # with the blocks GDAL cached for it
    if odd:
        raise InputError(f"Region raster {p} has non-integer values; it must hold integer ids.")
    if lowest < 0:
        raise InputError(
            f"Region raster {p} has negative ids (lowest {lowest:g}): ids are >= 1, "
            "0 or nodata outside every region."
        )
    if largest > _MAX_REGION_ID:
        raise InputError(
            f"Region raster {p} has ids above {_MAX_REGION_ID} (largest {largest:.0f}): "
            "renumber the regions."
        )
    if not regions:
        raise InputError(f"Region raster {p} has no region (no id > 0).")
    return xr.DataArray(ids, dims=("y", "x"), coords=da.coords, name="region", attrs=da.attrs)


def read_region_names(path: str | Path) -> dict[int, str]:
    """``{region_id: name}`` from a CSV with columns ``region_id`` and ``name`` (UTF-8).

    A byte-order mark is allowed. InputError for a missing column, an id that is not an
    integer >= 1, an id or a name given twice, or an empty name.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Region names file not found: {p}")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except PermissionError:
        raise InputError(f"Cannot read region names file {p}: permission denied.") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"Region names file {p} is not UTF-8 text: {exc.reason}.") from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in reader.fieldnames or []]
    if not {"region_id", "name"} <= set(fields):
        raise InputError(f"Region names file {p} needs columns 'region_id' and 'name'.")
    reader.fieldnames = fields
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        raw = (row.get("region_id") or "").strip()
        try:
            rid = int(raw)
        except ValueError:
            raise InputError(f"{p}, line {line}: region_id {raw!r} is not an integer.") from None
        if rid < 1:
            raise InputError(f"{p}, line {line}: region_id {rid} must be >= 1 (0 is outside).")
        if rid in names:
            raise InputError(f"{p}, line {line}: region_id {rid} is given twice.")
        name = (row.get("name") or "").strip()
        if not name:
            raise InputError(f"{p}, line {line}: region_id {rid} has an empty name.")
        if name in seen:
            raise InputError(
                f"{p}, line {line}: the name {name!r} is given to region_id {seen[name]} and "
                f"{rid}; names must be unique."
            )
        names[rid] = name
        seen[name] = rid
    if not names:
        raise InputError(f"Region names file {p} names no region.")
    return names


def check_same_grid(
    npp: xr.DataArray | GridSpec,
    regions: xr.DataArray | GridSpec,
    *,
    npp_name: str,
    regions_name: str,
) -> None:
    """Raise InputError unless the region raster is on the NPP grid (DataArrays or grids)."""
    try:
        a = npp if isinstance(npp, GridSpec) else GridSpec.from_dataarray(npp)
        b = regions if isinstance(regions, GridSpec) else GridSpec.from_dataarray(regions)
    except ValueError as exc:
        raise InputError(f"{regions_name} or {npp_name}: {exc}") from None
    if not a.same_as(b):
        raise InputError(
            f"The region raster {regions_name} is on another grid than the NPP input {npp_name}: "
            f"{b.describe()} vs {a.describe()}; resample it to the NPP grid."
        )
