"""Reading a user's local input files: NPP cubes, region rasters, region names, GeoJSON.

``--npp`` may be a NetCDF/Zarr file with a ``year`` dimension or a folder of one GeoTIFF per
year (``*_YYYY.tif``); ``--regions`` a GeoJSON file or an integer-coded region GeoTIFF
(0 = outside every region) whose ids are named by ``--region-names FILE.csv`` (columns
``region_id``, ``name``). Every reader checks what it reads and raises
:class:`gee_cscc.errors.InputError` naming the file.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from gee_cscc.errors import InputError
from gee_cscc.method.grid import GridSpec

__all__ = [
    "is_local_path",
    "read_npp",
    "read_region_raster",
    "read_region_names",
    "read_geojson",
    "check_same_grid",
    "NppSource",
]

_DEFAULT_BAND = "npp"  # Config().band: with it, a file's only variable is the NPP

_YEAR_TIF = re.compile(r"(?:^|[_\-.])(\d{4})\.tiff?$", re.IGNORECASE)


def is_local_path(value: str | Path) -> bool:
    """Whether an input names a file or folder on this machine (not an asset id)."""
    return Path(value).exists()


@dataclass(frozen=True)
class NppSource:
    """Annual NPP read from files: a ``(year, y, x)`` DataArray and where it came from."""

    data: xr.DataArray
    path: Path


def _spatial(da: xr.DataArray, what: str) -> xr.DataArray:
    rename = {}
    for src, dst in (("lat", "y"), ("latitude", "y"), ("lon", "x"), ("longitude", "x")):
        if src in da.dims:
            rename[src] = dst
    da = da.rename(rename)
    if "y" not in da.dims or "x" not in da.dims:
        raise InputError(f"{what} needs 'y'/'x' (or lat/lon) dimensions; it has {tuple(da.dims)}.")
    return da


def read_npp(path: str | Path, *, band: str = "npp") -> NppSource:
    """Read annual NPP from a NetCDF/Zarr file or a folder of ``*_YYYY.tif`` files.

    Raises
    ------
    InputError
        Missing file, no ``year`` dimension, the variable not found, a duplicate year, or
        GeoTIFFs on different grids (naming the file and year).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"NPP input not found: {p}")
    if p.is_dir() and not (p / ".zgroup").exists() and not (p / "zarr.json").exists():
        return NppSource(_read_tif_folder(p, band), p)
    try:
        ds = xr.open_zarr(p) if p.is_dir() or p.suffix == ".zarr" else xr.open_dataset(p)
    except Exception as exc:  # the file format's own error, reported with the path
        raise InputError(f"Cannot read NPP file {p}: {exc}") from exc
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
    if "year" not in da.dims:
        if "time" in da.dims:
            da = da.assign_coords(time=da["time"].dt.year).rename(time="year")
        else:
            raise InputError(
                f"NPP file {p} has no 'year' (or 'time') dimension: dims {tuple(da.dims)}."
            )
    years = [int(y) for y in da["year"].values]
    dup = sorted({y for y in years if years.count(y) > 1})
    if dup:
        raise InputError(f"Year {dup[0]} appears twice in NPP file {p}.")
    da = _spatial(da, f"NPP file {p}").transpose("year", "y", "x")
    crs = da.attrs.get("crs")
    if crs is None:
        try:
            crs = da.rio.crs.to_string() if da.rio.crs is not None else None
        except Exception:
            crs = None
    out = da.load().astype(np.float32).rename(band)
    out.attrs["crs"] = crs or "EPSG:4326"
    return NppSource(out, p)


def _read_tif_folder(folder: Path, band: str) -> xr.DataArray:
    import rioxarray  # noqa: F401  (registers .rio)

    files = sorted(folder.glob("*.tif")) + sorted(folder.glob("*.tiff"))
    by_year: dict[int, Path] = {}
    for f in files:
        m = _YEAR_TIF.search(f.name)
        if not m:
            continue
        year = int(m.group(1))
        if year in by_year:
            raise InputError(
                f"Year {year} appears twice in {folder}: {by_year[year].name} and {f.name}."
            )
        by_year[year] = f
    if not by_year:
        raise InputError(f"No GeoTIFF named *_YYYY.tif in {folder}.")
    arrays = []
    ref = None
    for year in sorted(by_year):
        f = by_year[year]
        da = rioxarray.open_rasterio(f, masked=True).squeeze("band", drop=True)
        grid = (str(da.rio.crs), tuple(da.rio.transform()), da.shape)
        if ref is None:
            ref = (year, f, grid)
        elif grid != ref[2]:
            raise InputError(
                f"{f.name} (year {year}) is on another grid than {ref[1].name} (year {ref[0]}): "
                "every year must share one grid."
            )
        arrays.append(da.astype(np.float32).expand_dims(year=[year]))
    out = xr.concat(arrays, dim="year").rename(band)
    out = out.drop_vars([c for c in out.coords if c not in ("year", "y", "x")])
    out.attrs = {"crs": ref[2][0] if ref and ref[2][0] != "None" else "EPSG:4326"}
    return out


def read_geojson(path: str | Path) -> dict:
    """A GeoJSON FeatureCollection from a file (InputError when unreadable)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Region file not found: {p}")
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Region file {p} is not valid GeoJSON: {exc}") from exc
    if data.get("type") != "FeatureCollection" or not data.get("features"):
        raise InputError(f"Region file {p} is not a GeoJSON FeatureCollection with features.")
    return data


def read_region_raster(path: str | Path) -> xr.DataArray:
    """An integer region-id GeoTIFF (0 = outside every region) as a ``(y, x)`` DataArray."""
    import rioxarray

    p = Path(path)
    if not p.is_file():
        raise InputError(f"Region file not found: {p}")
    da = rioxarray.open_rasterio(p).squeeze("band", drop=True)
    if not np.issubdtype(da.dtype, np.integer):
        values = np.asarray(da.values, dtype=float)
        if np.any(np.isfinite(values) & (values != np.round(values))):
            raise InputError(f"Region raster {p} has non-integer values; it must hold integer ids.")
    crs = str(da.rio.crs) if da.rio.crs is not None else "EPSG:4326"
    out = da.fillna(0).astype(np.int32).rename("region")
    out = out.drop_vars([c for c in out.coords if c not in ("y", "x")])
    out.attrs = {"crs": crs}
    return out


def read_region_names(path: str | Path) -> dict[int, str]:
    """``{region_id: name}`` from a CSV with columns ``region_id`` and ``name``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Region names file not found: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"region_id", "name"} <= set(reader.fieldnames):
            raise InputError(f"Region names file {p} needs columns 'region_id' and 'name'.")
        names: dict[int, str] = {}
        for line, row in enumerate(reader, start=2):
            try:
                rid = int(row["region_id"])
            except (TypeError, ValueError):
                raise InputError(
                    f"{p}, line {line}: region_id {row['region_id']!r} is not an integer."
                ) from None
            if rid in names:
                raise InputError(f"{p}, line {line}: region_id {rid} is given twice.")
            names[rid] = str(row["name"]).strip()
    return names


def check_same_grid(
    npp: xr.DataArray, regions: xr.DataArray, *, npp_name: str, regions_name: str
) -> None:
    """Raise InputError unless the region raster is on the NPP grid."""
    try:
        a, b = GridSpec.from_dataarray(npp), GridSpec.from_dataarray(regions)
    except ValueError as exc:
        raise InputError(f"{regions_name} or {npp_name}: {exc}") from None
    if not a.same_as(b):
        raise InputError(
            f"The region raster {regions_name} is on another grid than the NPP input {npp_name}: "
            f"{b.describe()} vs {a.describe()}."
        )
