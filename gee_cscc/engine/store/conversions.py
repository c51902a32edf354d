"""Turning a user's xarray data and GeoJSON into what the asset store writes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EEError
from ..raster.grid import Projection

__all__ = ["image_arrays", "as_geojson", "with_name"]


def with_name(arr: Any, band: str) -> Any:
    try:
        return arr.rename(band)
    except (AttributeError, TypeError, ValueError):
        return arr


def _crs_of(data: Any) -> str:
    crs = data.attrs.get("crs") if hasattr(data, "attrs") else None
    if crs is None:
        try:
            rio_crs = data.rio.crs
        except Exception:  # rioxarray absent or no CRS
            rio_crs = None
        if rio_crs is not None:
            crs = rio_crs.to_string()
    return str(crs) if crs else "EPSG:4326"


def image_arrays(data: Any) -> tuple[list[str], list[np.ndarray], Projection]:
    """Bands, north-up arrays and projection of a DataArray with ``y``/``x`` coordinates."""
    if not hasattr(data, "dims"):
        raise EEError("An image is given as an xarray DataArray with 'y' and 'x' coordinates.")
    dims = set(data.dims)
    ydim = (
        "y"
        if "y" in dims
        else "lat"
        if "lat" in dims
        else "latitude"
        if "latitude" in dims
        else None
    )
    xdim = (
        "x"
        if "x" in dims
        else "lon"
        if "lon" in dims
        else "longitude"
        if "longitude" in dims
        else None
    )
    if ydim is None or xdim is None:
        raise EEError(f"An image needs 'y' and 'x' dimensions; got {tuple(data.dims)}.")
    other = [d for d in data.dims if d not in (ydim, xdim)]
    if len(other) > 1 or (other and other[0] != "band"):
        raise EEError(f"An image has dims (y, x) or (band, y, x); got {tuple(data.dims)}.")
    xs = np.asarray(data[xdim].values, dtype=float)
    ys = np.asarray(data[ydim].values, dtype=float)
    transform = data.attrs.get("transform")
    if len(xs) >= 2 and len(ys) >= 2:
        dx = (xs[-1] - xs[0]) / (len(xs) - 1)
        dy = (ys[-1] - ys[0]) / (len(ys) - 1)
    elif transform is not None:
        dx, dy = float(transform[0]), float(transform[4])
    else:
        raise EEError("An image with a single row or column needs a 'transform' attribute.")
    flip_y = dy > 0
    if flip_y:
        dy = -dy
    x0 = xs.min() - abs(dx) / 2 if dx > 0 else xs.max() + abs(dx) / 2
    y0 = ys.max() + abs(dy) / 2
    proj = Projection(_crs_of(data), (dx, 0.0, float(x0), 0.0, dy, float(y0)))
    if other:
        names = [str(v) for v in data["band"].values]
        arrays = [
            np.asarray(data.sel(band=b).transpose(ydim, xdim).values) for b in data["band"].values
        ]
    else:
        names = [str(data.name) if data.name is not None else "b1"]
        arrays = [np.asarray(data.transpose(ydim, xdim).values)]
    if flip_y:
        arrays = [a[::-1, :] for a in arrays]
    return names, arrays, proj


def as_geojson(features: Any) -> dict:
    if isinstance(features, (str, os.PathLike)):
        path = Path(features)
        if not path.is_file():
            raise EEError(f"GeoJSON file not found: {path}")
        return json.loads(path.read_text())
    if isinstance(features, Mapping):
        if features.get("type") == "Feature":
            return {"type": "FeatureCollection", "features": [dict(features)]}
        return dict(features)
    if hasattr(features, "to_json"):
        gdf = features
        if getattr(gdf, "crs", None) is not None and gdf.crs.to_epsg() != 4326:
            gdf = gdf.to_crs(4326)
        return json.loads(gdf.to_json())
    raise EEError(f"Cannot make a table from a {type(features).__name__}.")
