"""A folder of one NPP GeoTIFF per year (``*_YYYY.tif``), read lazily.

:func:`read_tif_folder` checks every file's grid and band when the folder is opened, but
reads no values: the ``(year, y, x)`` array it returns reads a window of the files it needs
when indexed, one year at a time (:class:`YearStack`). Reading the NPP values (the checks,
then the store) therefore never holds the cube (issue 11); before, every year was read
into one in-memory cube first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from gee_cscc.errors import InputError
from gee_cscc.method.grid import GridSpec
from gee_cscc.workflow.file_checks import normalise_grid, packing_of
from gee_cscc.workflow.npp_values import file_rows

__all__ = ["YEAR_TIF", "YearStack", "one_band", "open_tif", "read_tif_folder", "tif_grid"]

#: A yearly GeoTIFF's name: ``..._YYYY.tif`` (or ``-YYYY``, ``.YYYY``; any suffix case).
YEAR_TIF = re.compile(r"(?:^|[_\-.])(\d{4})\.tiff?$", re.IGNORECASE)


def open_tif(f: Path, what: str) -> Any:
    """A GeoTIFF as a lazy DataArray (nodata masked, scale/offset applied, no cache: each
    read reads its window from the file)."""
    import rioxarray

    try:
        return rioxarray.open_rasterio(f, mask_and_scale=True, cache=False)
    except PermissionError:
        raise InputError(f"Cannot read {what} {f}: permission denied.") from None
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"Cannot read {what} {f}: {text[:300]}") from exc


def one_band(da: xr.DataArray, f: Path, band: str | None) -> xr.DataArray:
    """The band of a GeoTIFF: the only one, or the one described as ``band``."""
    if da.sizes["band"] == 1:
        return da.squeeze("band", drop=True)
    names = da.attrs.get("long_name")
    names = [names] if isinstance(names, str) else list(names or [])
    names = names if len(names) == da.sizes["band"] else []
    if band is not None and names.count(band) == 1:
        return da.isel(band=names.index(band), drop=True)
    raise InputError(
        f"{f} has {da.sizes['band']} bands{' ' + str(names) if names else ''}; it must have one "
        f"band{' (or one described as ' + repr(band) + ')' if band else ''}."
    )


def tif_grid(da: xr.DataArray, what: str) -> xr.DataArray:
    """A GeoTIFF band on the method's grid layout (:func:`normalise_grid`), attrs crs,
    units and packing."""
    crs = da.rio.crs
    a, b, _, d, e, _ = tuple(da.rio.transform())[:6]
    if b or d:
        raise InputError(
            f"{what} is rotated or sheared (transform {tuple(da.rio.transform())[:6]}); warp it to a north-up grid first."
        )
    keep = {"units": da.attrs.get("units"), "packing": packing_of(da)}
    da = da.drop_vars([c for c in da.coords if c not in ("y", "x")])
    da.attrs = {"crs": crs.to_string()} if crs is not None else {}
    out = normalise_grid(da, what, cell=(a, e))
    out.attrs.update({k: v for k, v in keep.items() if v})
    return out


class YearStack(BackendArray):
    """A lazy float32 ``(year, y, x)`` array over one GeoTIFF per year.

    Indexing reads only the years and the window asked for (each year's values as float32,
    as the folder's years were always converted). Every read opens its file and closes it,
    which drops the blocks GDAL cached for it: files left open (xarray keeps up to 128)
    keep their cached blocks, which grow to the whole cube (up to GDAL's cache, 5 % of the
    machine's memory).
    """

    def __init__(self, files: list[Path], band: str, shape: tuple[int, int]) -> None:
        self.files, self.band = files, band
        self.shape = (len(files), *shape)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _year(self, i: int, window: tuple) -> np.ndarray:
        f = self.files[i]
        with open_tif(f, "NPP file") as raw:
            da = tif_grid(one_band(raw, f, self.band), f"NPP file {f}")
            return np.asarray(da[window].values, dtype=np.float32)

    def _read(self, key: tuple) -> np.ndarray:
        which, window = key[0], key[1:]
        if isinstance(which, int | np.integer):
            return self._year(int(which), window)
        parts = [self._year(i, window) for i in range(self.shape[0])[which]]
        if not parts:
            return np.empty((0, *np.empty(self.shape[1:])[window].shape), np.float32)
        return np.stack(parts)


def read_tif_folder(folder: Path, band: str) -> xr.DataArray:
    """The folder's years as a lazy ``(year, y, x)`` float32 DataArray named ``band``.

    Every file is opened and its grid and band checked here; no value is read. InputError
    for a file not named ``*_YYYY.tif``, a year given twice, no such file, a file that
    cannot be read, several bands, a rotated grid or years on different grids.
    """
    files = sorted(  # .TIF too: the suffix's case is not the user's choice on every system
        f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in (".tif", ".tiff")
    )
    by_year: dict[int, Path] = {}
    for f in files:
        m = YEAR_TIF.search(f.name)
        if not m:
            raise InputError(
                f"{f.name} in {folder} is not named *_YYYY.tif: rename it with its year or "
                "move it out of the folder."
            )
        year = int(m.group(1))
        if year in by_year:
            raise InputError(
                f"Year {year} appears twice in {folder}: {by_year[year].name} and {f.name}."
            )
        by_year[year] = f
    if not by_year:
        raise InputError(f"No GeoTIFF named *_YYYY.tif in {folder}.")
    ref, rows = None, None
    for year in sorted(by_year):
        f = by_year[year]
        with open_tif(f, "NPP file") as raw:  # closed: the values are read later, by window
            da = tif_grid(one_band(raw, f, band), f"NPP file {f}")
            grid = GridSpec.from_dataarray(da)
            if ref is None:
                ref, rows = (year, f, grid, da), file_rows(raw)
        if not grid.same_as(ref[2]):
            raise InputError(
                f"{f.name} (year {year}) is on another grid than {ref[1].name} (year {ref[0]}): "
                "every year must share one grid."
            )
    assert ref is not None
    first = ref[3]
    files = [by_year[y] for y in sorted(by_year)]
    lazy = indexing.LazilyIndexedArray(YearStack(files, band, first.shape))
    years = sorted(by_year)
    return xr.DataArray(
        xr.Variable(("year", "y", "x"), lazy),
        coords={"year": years, "y": first["y"].values, "x": first["x"].values},
        name=band,
        attrs={**first.attrs, **({"chunk_rows": rows} if rows else {})},
    )
