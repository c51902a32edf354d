"""The per-cell result layers as files: what each layer is stored as, and Cloud-Optimized GeoTIFFs.

Every layer of ``Results.rasters`` has one :class:`LayerSpec`: its units, a description, the
type it is stored as and, for a categorical layer, its classes. The same specification is
used by the GeoTIFFs (:func:`write_geotiffs`) and by ``results.nc``
(:mod:`gee_cscc.report.netcdf`), so both files hold the same values in the same types:

* continuous layers (CSCC, PCS, slopes, statistics, p-values, cell areas) are ``float32``
  with NaN where there is no value;
* categorical and count layers (``vca``, ``trend_class``, ``trend_class_strict``,
  ``cscc_year``, ``maintenance_years``, ``maintenance``, ``region``, ``csr_grade``) are
  integers, with the type's most negative value (255 for ``uint8``) as the no-data value.
  A layer whose values do not fit the listed type is stored in the next wider one
  (``int16``, then ``int32``); a layer with non-integral values stays ``float32`` (never
  rounded). The pixel-CSR layers ``tau_pos``, ``tau_neg``, ``csr_rs`` hold ``inf``/``-inf``
  where a trend does not decay (docs/method.md §5b); NaN is no data.

Each GeoTIFF is a Cloud-Optimized GeoTIFF written by GDAL's ``COG`` driver: 512 × 512
tiles, DEFLATE with the predictor that suits the type, overviews down to one tile (averaged
for continuous layers, nearest for categorical ones), the no-data value set, the grid's CRS
(its full WKT for a CRS PROJ has no code for, such as MODIS's sinusoidal ``SR-ORG:6974``)
and affine transform, one band per year for ``(year, y, x)`` layers (band descriptions
``<layer>_<year>``), band units, and only the tags this module writes: ``layer``,
``long_name``, ``source``, ``references`` and, for the demo's data, ``synthetic=true``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LAYERS",
    "REFERENCES",
    "SYNTHETIC_NOTE",
    "FileGrid",
    "LayerSpec",
    "fill_value",
    "layer_spec",
    "storage_type",
    "stored",
    "write_geotiffs",
]

#: The method's publication, cited in every file's metadata.
REFERENCES = (
    "Wu et al. (2023), Characteristics of vegetation carbon sink carrying capacity and "
    "restoration potential of China in recent 40 years, Front. For. Glob. Change 6:1266688, "
    "doi:10.3389/ffgc.2023.1266688"
)
#: What every file of a run on the demo's synthetic data says about its data.
SYNTHETIC_NOTE = "SYNTHETIC demo data made by gee_cscc.demo: not an observation or a model output"

#: The tile size of the GeoTIFFs and the chunk size of results.nc along x and y (pixels).
BLOCK = 512
#: GDAL's block cache while a GeoTIFF is written (MiB): its default, 5 % of the machine's
#: memory, would keep a whole layer's blocks (all years of one) in the process's memory.
GDAL_CACHE_MB = 64


@dataclass(frozen=True)
class LayerSpec:
    """How one result layer is stored.

    Attributes
    ----------
    units
        Units as people write them (GeoTIFF band units), e.g. ``"g C m-2 yr-1"``.
    cf_units
        The same units as UDUNITS reads them (NetCDF ``units``): carbon is said in the
        long name, since ``C`` is the coulomb to UDUNITS.
    long_name
        What the layer is.
    dtype
        The storage type (``float32``, ``uint8``, ``int8``, ``int16``).
    flag_values, flag_meanings
        The classes of a categorical layer (CF ``flag_values`` / ``flag_meanings``).
    """

    units: str
    cf_units: str
    long_name: str
    dtype: str = "float32"
    flag_values: tuple[int, ...] | None = None
    flag_meanings: str | None = None

    @property
    def categorical(self) -> bool:
        return self.dtype != "float32"


_GC = "g C m-2 yr-1"
_TREND_FLAGS = (-2, -1, 0, 1, 2)
_TREND_MEANINGS = (
    "significant_decrease insignificant_decrease no_trend insignificant_increase "
    "significant_increase"
)

#: The result layers of :class:`gee_cscc.workflow.analyze.Results` ``.rasters``.
LAYERS: dict[str, LayerSpec] = {
    "vca": LayerSpec(
        "1", "1", "vegetation-covered area (1 inside, 0 outside)", "uint8", (0, 1),
        "outside_vca inside_vca",
    ),
    "cscc": LayerSpec(_GC, "g m-2 yr-1", "carbon sink carrying capacity (max NPP), grams of carbon"),
    "cscc_year": LayerSpec("year", "1", "calendar year CSCC was reached (earliest on ties)", "int16"),
    "trend_slope": LayerSpec(
        "g C m-2 yr-2", "g m-2 yr-2", "NPP trend slope, grams of carbon per m2 per year per year"
    ),
    "trend_stat": LayerSpec("1", "1", "trend test statistic (t for OLS, z for Mann-Kendall)"),
    "trend_p": LayerSpec("1", "1", "two-sided p-value of the trend"),
    "trend_class": LayerSpec(
        "1", "1", "trend class at alpha: 2 SI, 1 II, 0 zero, -1 ID, -2 SD", "int8",
        _TREND_FLAGS, _TREND_MEANINGS,
    ),
    "trend_class_strict": LayerSpec(
        "1", "1", "trend class at alpha_strict: 2 SI, 1 II, 0 zero, -1 ID, -2 SD", "int8",
        _TREND_FLAGS, _TREND_MEANINGS,
    ),
    "maintenance_years": LayerSpec(
        "years", "1", "signed number of years the initial trend held (+ rising, - falling)",
        "int8",
    ),
    "region": LayerSpec("1", "1", "region id (0 outside every region)", "int16"),
    "pixel_area": LayerSpec("m2", "m2", "cell area on the WGS84 ellipsoid"),
    "maintenance": LayerSpec(
        "1", "1", "maintenance surface P: +1/-1 trend maintained, 0 changed", "int8",
        (-1, 0, 1), "negative_trend_maintained trend_changed positive_trend_maintained",
    ),
    "pcs": LayerSpec(_GC, "g m-2 yr-1", "increase potential CSCC - NPP, grams of carbon"),
    # pixel-scale CSR (docs/method.md §7): inf where a trend does not decay
    "tau_pos": LayerSpec(
        "years", "year", "decay time of the positive trends in the neighbourhood (inf: none)"
    ),
    "tau_neg": LayerSpec(
        "years", "year", "decay time of the negative trends in the neighbourhood (inf: none)"
    ),
    "csr_rs": LayerSpec("years", "year", "pixel carbon sink resilience RS = tau_pos - tau_neg"),
    "csr_grade": LayerSpec(
        "1", "1", "pixel CSR grade: 5 extremely strong ... 1 weaker, 0 none (RS undefined)",
        "int8", (0, 1, 2, 3, 4, 5), "none weaker weak strong stronger extremely_strong",
    ),
}  # fmt: skip

_WIDER = {"uint8": "int16", "int8": "int16", "int16": "int32"}


def layer_spec(name: str, attrs: Mapping[str, Any] | None = None) -> LayerSpec:
    """The :class:`LayerSpec` of ``name``; a layer not listed in :data:`LAYERS` is a
    ``float32`` layer described by its ``units``/``long_name`` attributes."""
    if name in LAYERS:
        return LAYERS[name]
    attrs = attrs or {}
    units = str(attrs.get("units", "1"))
    return LayerSpec(units, units, str(attrs.get("long_name", name)))


def fill_value(dtype: str) -> float | int:
    """The no-data value of a storage type: NaN for floats, 255 for ``uint8``, else the
    type's most negative value."""
    if dtype.startswith("float"):
        return float("nan")
    if dtype == "uint8":
        return 255
    return int(np.iinfo(dtype).min)


def storage_type(spec: LayerSpec, values: Any) -> str:
    """The type ``values`` are stored as: ``spec.dtype`` when every finite value is integral
    and fits it (besides the no-data value), else the next wider integer type, else
    ``float32`` (non-integral values are never rounded). ``values`` is an array or an
    ``xarray.DataArray`` (read a strip of rows at a time: a lazily read layer is never
    whole in memory)."""
    if not spec.categorical:
        return "float32"
    lo, hi = float("inf"), float("-inf")
    for part in _row_blocks(values):  # a block of rows at a time: no copy of the layer
        finite = part[np.isfinite(part)] if part.dtype.kind == "f" else part.ravel()
        if not finite.size:
            continue
        if not np.array_equal(finite, np.round(finite)):
            return "float32"
        lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    if lo > hi:  # no finite value
        lo, hi = 0.0, 0.0
    dtype: str | None = spec.dtype
    while dtype is not None:
        info = np.iinfo(dtype)
        fill = fill_value(dtype)
        low = info.min + (1 if fill == info.min else 0)
        high = info.max - (1 if fill == info.max else 0)
        if low <= lo and hi <= high:
            return dtype
        dtype = _WIDER.get(dtype)
    return "float32"


#: Cells per block of :func:`_row_blocks` (1 MiB of float32).
_BLOCK_CELLS = 1 << 18


def _row_blocks(values: Any) -> Any:
    """``values`` as views of whole rows (the last axis), about :data:`_BLOCK_CELLS` cells
    each; a non-contiguous array is reshaped (copied) first. An ``xarray.DataArray`` of two
    or more dimensions is read a strip of rows of one 2-D slice at a time."""
    if not isinstance(values, np.ndarray) and hasattr(values, "isel") and values.ndim >= 2:
        height, width = values.shape[-2:]
        step = max(1, _BLOCK_CELLS // max(1, width))
        for lead in np.ndindex(*values.shape[:-2]):
            for r0 in range(0, height, step):
                yield np.asarray(values[(*lead, slice(r0, r0 + step))].values)
        return
    values = np.asarray(values)
    if values.ndim == 0:
        yield values.reshape(1)
        return
    rows = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(1, -1)
    step = max(1, _BLOCK_CELLS // max(1, rows.shape[1]))
    for r0 in range(0, rows.shape[0], step):
        yield rows[r0 : r0 + step]


def stored(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values`` in ``dtype``, NaN replaced by the type's no-data value (one copy)."""
    if dtype.startswith("float"):
        return values.astype(dtype, copy=False)
    fill = fill_value(dtype)
    if values.dtype.kind == "f":
        return np.where(np.isfinite(values), values, fill).astype(dtype)
    return values.astype(dtype)


@dataclass(frozen=True)
class FileGrid:
    """The grid the files are written on.

    Attributes
    ----------
    crs
        The CRS as Earth Engine names it (``EPSG:4326``, ``SR-ORG:6974``).
    wkt
        The CRS as WKT that PROJ/GDAL read right (for ``SR-ORG:6974`` the MODIS sphere).
    transform
        Earth Engine's ``crsTransform`` ``(a, b, c, d, e, f)`` in CRS units.
    """

    crs: str
    wkt: str
    transform: tuple[float, float, float, float, float, float]

    @classmethod
    def from_summary(cls, grid: Mapping[str, Any]) -> FileGrid:
        """From a grid dict of a run's summary (``crs``, ``crs_transform``, ``crs_wkt``)."""
        import pyproj

        wkt = grid.get("crs_wkt") or pyproj.CRS.from_user_input(grid["crs"]).to_wkt()
        return cls(str(grid["crs"]), wkt, tuple(float(v) for v in grid["crs_transform"]))

    def rasterio_crs(self) -> Any:
        """The rasterio CRS: the EPSG code when PROJ knows it (keeps the authority), else
        the WKT."""
        from rasterio.crs import CRS
        from rasterio.errors import CRSError

        if self.crs.upper().startswith("EPSG:"):
            try:
                return CRS.from_user_input(self.crs)
            except CRSError:
                pass
        return CRS.from_wkt(self.wkt)


def _bands(name: str, da: Any) -> tuple[list[str], list[int | None]]:
    if da.ndim == 2:
        return [name], [None]
    dim = da.dims[0]
    years = [int(v) for v in da[dim].values]
    return [f"{name}_{y}" for y in years], years


def write_geotiffs(
    rasters: Any,
    folder: Path,
    grid: FileGrid,
    *,
    source: str,
    synthetic: bool = False,
) -> list[Path]:
    """Write each layer of ``rasters`` (an ``xarray.Dataset`` of ``(y, x)`` and
    ``(year, y, x)`` layers on ``grid``) as ``folder/<layer>.tif``, a Cloud-Optimized GeoTIFF
    (see the module docstring). Returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, da in rasters.data_vars.items():
        if da.ndim not in (2, 3) or da.dims[-2:] != ("y", "x"):
            raise ValueError(f"Layer {name}: dims {da.dims}, expected (y, x) or (<year>, y, x).")
        paths.append(_write_cog(name, da, folder, grid, source=source, synthetic=synthetic))
    return paths


def _write_cog(
    name: str, da: Any, folder: Path, grid: FileGrid, *, source: str, synthetic: bool
) -> Path:
    """One layer as a COG: a plain tiled GeoTIFF beside it, then GDAL's COG copy of it (the
    COG driver only copies; the temporary file keeps the layer out of memory twice)."""
    import rasterio
    import rasterio.shutil
    from affine import Affine
    from rasterio.windows import Window

    spec = layer_spec(name, da.attrs)
    dtype = storage_type(spec, da)  # a strip at a time, like the writing below
    nodata = fill_value(dtype)
    descriptions, years = _bands(name, da)
    height, width = da.shape[-2:]
    tmp = folder / f".{name}.tmp.tif"
    path = folder / f"{name}.tif"
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": len(descriptions),
        "dtype": dtype,
        "crs": grid.rasterio_crs(),
        "transform": Affine(*grid.transform),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "BIGTIFF": "IF_SAFER",
    }
    tags = {"layer": name, "long_name": spec.long_name, "source": source}
    tags["references"] = REFERENCES
    if synthetic:
        tags["synthetic"] = "true"
        tags["TIFFTAG_IMAGEDESCRIPTION"] = SYNTHETIC_NOTE
    try:
        with (
            rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB << 20),
            rasterio.open(tmp, "w", **profile) as dst,
        ):
            dst.update_tags(**tags)
            for band, (description, year) in enumerate(zip(descriptions, years, strict=True), 1):
                layer = da if da.ndim == 2 else da[band - 1]
                for r0 in range(0, height, BLOCK):  # a row of tiles at a time: no band copy
                    rows = np.asarray(layer[r0 : r0 + BLOCK].values)
                    window = Window(0, r0, width, rows.shape[0])
                    dst.write(stored(rows, dtype), band, window=window)
                dst.set_band_description(band, description)
                dst.set_band_unit(band, spec.units)
                if year is not None:
                    dst.update_tags(band, year=str(year))
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB << 20):
            _cog_copy(tmp, path, spec)
    finally:
        if tmp.exists():
            os.remove(tmp)
    return path


def _cog_copy(tmp: Path, path: Path, spec: LayerSpec) -> None:
    import rasterio.shutil

    rasterio.shutil.copy(
        tmp,
        path,
        driver="COG",
        BLOCKSIZE=BLOCK,
        COMPRESS="DEFLATE",
        LEVEL=6,
        PREDICTOR="YES",
        OVERVIEWS="AUTO",
        RESAMPLING="NEAREST" if spec.categorical else "AVERAGE",
        BIGTIFF="IF_SAFER",
        # Tiles and overviews compressed on every core: the same bytes, in less time.
        NUM_THREADS="ALL_CPUS",
    )
