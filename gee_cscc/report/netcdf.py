"""``results.nc``: every result layer of a run in one CF-1.8 NetCDF-4 file.

What the file holds (CF-1.8 and the GDAL/rioxarray conventions for the CRS):

* a grid-mapping variable ``crs`` (scalar): the CF grid-mapping attributes of the grid's CRS
  (``grid_mapping_name = "latitude_longitude"`` for EPSG:4326, ``"sinusoidal"`` for MODIS's
  ``SR-ORG:6974``, …), its WKT as ``crs_wkt`` and ``spatial_ref``, and the affine transform
  as ``GeoTransform`` (GDAL's order ``c a b f d e``); every data variable names it in
  ``grid_mapping``, so ``xr.open_dataset(path, decode_coords="all").rio.crs`` and GDAL read
  the CRS back;
* cell-centre coordinates ``x``/``y`` with ``standard_name``, ``units`` and ``axis``
  (``longitude``/``latitude`` in degrees for a geographic CRS, ``projection_x_coordinate``/
  ``projection_y_coordinate`` otherwise, with 2-D ``lat``/``lon`` auxiliary coordinates as
  CF-1.8 §5.6 asks for a projected grid), and ``year``/``pcs_year`` for the layers by year;
* each layer in the type and with the no-data value of :mod:`gee_cscc.report.rasters`
  (``float32`` with NaN; integers for the categorical layers, with ``flag_values`` and
  ``flag_meanings`` for the classes), as ``_FillValue``; ``units`` as UDUNITS reads them
  (``g m-2 yr-1``: grams of carbon, said in ``long_name``);
* zlib level 4 with the shuffle filter, chunks of one year × 512 × 512 pixels;
* global attributes ``Conventions``, ``title``, ``source``, ``history``, ``references``
  (Wu et al. 2023), Earth Engine's ``crs`` code and ``crs_transform``, and for the demo's
  data ``synthetic = "true"`` and a ``comment`` saying so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gee_cscc.report.rasters import (
    BLOCK,
    REFERENCES,
    SYNTHETIC_NOTE,
    FileGrid,
    fill_value,
    layer_spec,
    storage_type,
    stored,
)

__all__ = ["CHUNK_CACHE_BYTES", "COMPRESSION", "cf_grid_mapping", "write_netcdf"]

#: The compression of every variable of results.nc: zlib level 1 with the byte shuffle. A
#: 0.025° run's layers take 1.0 s of CPU at level 1 against 1.7 s at level 4, for a file
#: 6 % larger (28.8 against 27.1 MB).
COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}

#: The HDF5 chunk cache of each layer while results.nc is written (bytes).
CHUNK_CACHE_BYTES = 1 << 20

#: Long names of the by-year dimensions.
_YEAR_DIMS = {
    "year": "calendar year: evaluation year of the maintenance surface",
    "pcs_year": "calendar year of the increase potential",
}


def cf_grid_mapping(grid: FileGrid) -> dict[str, Any]:
    """The attributes of the ``crs`` grid-mapping variable of ``grid``."""
    import pyproj

    crs = pyproj.CRS.from_wkt(grid.wkt)
    if grid.crs.upper().startswith("EPSG:"):
        crs = pyproj.CRS.from_user_input(grid.crs)  # keeps the EPSG identifier in the WKT
    attrs = dict(crs.to_cf())
    a, b, c, d, e, f = grid.transform
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["GeoTransform"] = " ".join(repr(float(v)) for v in (c, a, b, f, d, e))
    return attrs


def _axis_attrs(grid: FileGrid) -> tuple[dict, dict, bool]:
    import pyproj

    crs = pyproj.CRS.from_wkt(grid.wkt)
    if crs.is_geographic:
        x = {"standard_name": "longitude", "long_name": "longitude of the cell centre"}
        y = {"standard_name": "latitude", "long_name": "latitude of the cell centre"}
        x.update(units="degrees_east", axis="X")
        y.update(units="degrees_north", axis="Y")
        return x, y, True
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    units = "m" if unit in ("metre", "meter") else unit
    x = {"standard_name": "projection_x_coordinate", "long_name": "x of the cell centre"}
    y = {"standard_name": "projection_y_coordinate", "long_name": "y of the cell centre"}
    x.update(units=units, axis="X")
    y.update(units=units, axis="Y")
    return x, y, False


def _lat_lon(grid: FileGrid, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitude and longitude (degrees) of a projected grid, ``(y, x)``."""
    import pyproj

    to_lonlat = pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(grid.wkt), pyproj.CRS.from_epsg(4326), always_xy=True
    )
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = to_lonlat.transform(xx, yy)
    return np.asarray(lat), np.asarray(lon)


def write_netcdf(
    rasters: Any,
    path: Path,
    grid: FileGrid,
    *,
    title: str,
    source: str,
    history: str,
    synthetic: bool = False,
    extra_attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write the layers of ``rasters`` (an ``xarray.Dataset`` on ``grid``) to ``path`` as a
    CF-1.8 NetCDF-4 file (see the module docstring).

    xarray writes the coordinates, ``crs`` and the global attributes; the layers are then
    added with netCDF4 a band of rows at a time, so no layer is ever whole in memory (a
    layer read lazily from a file stays there).
    """
    import xarray as xr

    x_attrs, y_attrs, geographic = _axis_attrs(grid)
    xs = np.asarray(rasters["x"].values, dtype="float64")
    ys = np.asarray(rasters["y"].values, dtype="float64")
    coords: dict[str, Any] = {
        "x": xr.Variable("x", xs, x_attrs),
        "y": xr.Variable("y", ys, y_attrs),
    }
    encoding: dict[str, dict] = {"crs": {"dtype": "int32"}}
    if not geographic:
        lat, lon = _lat_lon(grid, xs, ys)
        lat_attrs = {"standard_name": "latitude", "units": "degrees_north"}
        lon_attrs = {"standard_name": "longitude", "units": "degrees_east"}
        coords["lat"] = xr.Variable(("y", "x"), lat, lat_attrs)
        coords["lon"] = xr.Variable(("y", "x"), lon, lon_attrs)
        chunks = (min(len(ys), BLOCK), min(len(xs), BLOCK))
        for name in ("lat", "lon"):
            encoding[name] = {**COMPRESSION, "chunksizes": chunks, "dtype": "float64"}
    for dim, long_name in _YEAR_DIMS.items():
        if dim in rasters.dims:
            values = np.asarray(rasters[dim].values).astype("int32")
            coords[dim] = xr.Variable(dim, values, {"long_name": long_name, "units": "1"})
    # a data variable, not a coordinate: xarray would list a scalar coordinate in every
    # variable's ``coordinates`` attribute, which makes CF readers take it for one
    variables = {"crs": xr.Variable((), np.int32(0), cf_grid_mapping(grid))}
    if not geographic:  # variables of the skeleton: the layers name them in ``coordinates``
        variables["lat"] = coords.pop("lat")
        variables["lon"] = coords.pop("lon")
    layers = []
    for name, da in rasters.data_vars.items():
        spec = layer_spec(name, da.attrs)
        dtype = storage_type(spec, da)  # a strip of rows at a time
        attrs: dict[str, Any] = {"long_name": spec.long_name, "units": spec.cf_units}
        if spec.flag_values is not None and dtype != "float32":
            attrs["flag_values"] = np.asarray(spec.flag_values, dtype=dtype)
            attrs["flag_meanings"] = spec.flag_meanings
        attrs["grid_mapping"] = "crs"
        if not geographic:
            attrs["coordinates"] = "lat lon"
        chunks = tuple(1 if d not in ("y", "x") else min(da.sizes[d], BLOCK) for d in da.dims)
        layers.append((name, da, dtype, attrs, chunks))
    attrs = {
        "Conventions": "CF-1.8",
        "title": (f"{SYNTHETIC_NOTE}. " if synthetic else "") + title,
        "source": source,
        "history": history,
        "references": REFERENCES,
        "crs": grid.crs,
        "crs_transform": json.dumps(list(grid.transform)),
    }
    if synthetic:
        attrs.update(synthetic="true", comment=SYNTHETIC_NOTE)
    attrs.update(extra_attrs or {})
    ds = xr.Dataset(variables, coords=coords, attrs=attrs)
    ds.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)
    _write_layers(path, layers)
    return path


def _write_layers(path: Path, layers: list[tuple[str, Any, str, dict, tuple]]) -> None:
    """Add each layer to the file a band of :data:`BLOCK` rows at a time (of one year at a
    time for a ``(year, y, x)`` layer), in its storage type with its no-data value."""
    import netCDF4

    with netCDF4.Dataset(path, "a") as nc:
        nc.set_auto_maskandscale(False)
        for name, da, dtype, attrs, chunks in layers:
            fill = fill_value(dtype)
            var = nc.createVariable(
                name,
                np.dtype(dtype),
                da.dims,
                zlib=COMPRESSION["zlib"],
                complevel=COMPRESSION["complevel"],
                shuffle=COMPRESSION["shuffle"],
                chunksizes=chunks,
                fill_value=np.nan if dtype == "float32" else np.asarray(fill, dtype=dtype),
            )
            var.setncatts(attrs)
            # every write covers whole chunks: a small cache, not HDF5's per-variable default
            # (kept until the file closes: hundreds of MiB for a run's layers at 1 km)
            var.set_var_chunk_cache(size=CHUNK_CACHE_BYTES)
            height = da.shape[-2]
            for lead in np.ndindex(*da.shape[:-2]):
                for r0 in range(0, height, BLOCK):
                    index = (*lead, slice(r0, r0 + BLOCK))
                    var[index] = stored(np.asarray(da[index].values), dtype)
