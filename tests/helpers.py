"""The synthetic case of the ``gee-cscc`` CLI tests, importable as ``helpers``.

One small NPP cube (6 years × 5×6 px at 1°, reference year 2003) with two regions, the
functions that write it in every input form, and the expected numbers, computed here with
NumPy and pyproj only (never with gee_cscc's method code). ``tests/cli/conftest.py`` writes
the files once per session (the ``cli_data`` fixture); test modules import the constants and
helpers from here (``tests/`` is on ``sys.path``: pytest puts the directory of the rootdir
``conftest.py`` there, as the test folders have no ``__init__.py``). :func:`window_stat` is
the NumPy reference of the engine's focal (kernel window) tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import xarray as xr

from gee_cscc.testing import cube_of, lonlat_cell_areas

YEARS = list(range(2001, 2007))
REFERENCE = 2003
H, W = 5, 6
X0, Y0, RES = 100.0, 40.0, 1.0
CRS = "EPSG:4326"
TRANSFORM = (RES, 0.0, X0, 0.0, -RES, Y0)
SHAPE = (H, W)
#: ``--start/--end/--reference`` of every run on the synthetic cube.
YEAR_ARGS = ("--start", str(YEARS[0]), "--end", str(YEARS[-1]), "--reference", str(REFERENCE))
#: The asset ids that :func:`populate_store` writes (project of the CLI's local engine).
ASSET_ROOT = "projects/local-project/assets/mine"

#: The layers written as integers in output files and their types (every other layer is
#: float32): what tests of GeoTIFF / NetCDF outputs expect (METHOD.md / README).
INTEGER_LAYERS = {
    "vca": "uint8",
    "trend_class": "int8",
    "trend_class_strict": "int8",
    "cscc_year": "int16",
    "maintenance_years": "int8",
    "region": "int16",
    "maintenance": "int8",
}


def make_cube() -> np.ndarray:
    """``(year, y, x)`` NPP in g C m⁻² yr⁻¹: trends of both signs, noise and three non-VCA cells.

    Values are multiples of 0.5, so float32 holds them exactly in every file format.
    """
    rng = np.random.default_rng(42)
    t = np.arange(len(YEARS), dtype=float)
    base = rng.uniform(200, 800, (H, W))
    slope = rng.normal(0, 25, (H, W))
    noise = rng.normal(0, 30, (len(YEARS), H, W))
    cube = np.round((base + slope * t[:, None, None] + noise) * 2) / 2
    cube[:, 0, 0] = np.nan  # masked every year: outside the VCA
    cube[3, 1, 1] = np.nan  # one gap (2004): outside the VCA
    cube[:, 4, 5] = -5.0 + t  # mean -2.5 <= 0: outside the VCA
    return cube.astype(np.float32)


def coords() -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre ``(y, x)`` coordinates, north up."""
    return Y0 - RES * (np.arange(H) + 0.5), X0 + RES * (np.arange(W) + 0.5)


def cube_dataarray(cube: np.ndarray | None = None) -> xr.DataArray:
    """The cube located by its coordinates only (no ``crs`` attribute), as a file holds it."""
    values = make_cube() if cube is None else cube
    return cube_of(values, YEARS, origin=(X0, Y0), pixel_size=RES, crs=None)


def region_ids() -> np.ndarray:
    """Region A: columns 0–2; B: columns 3–5 of rows 0–3; row 4 of B's columns: no region."""
    ids = np.zeros((H, W), dtype=np.int32)
    ids[:, :3] = 1
    ids[:4, 3:] = 2
    return ids


def regions_geojson() -> dict:
    def box(x0: float, x1: float, y0: float, y1: float, abbr: str) -> dict:
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {
            "type": "Feature",
            "properties": {"abbr": abbr, "name": f"Region {abbr}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    return {
        "type": "FeatureCollection",
        "features": [box(100.0, 103.0, 35.0, 40.0, "A"), box(103.0, 106.0, 36.0, 40.0, "B")],
    }


def write_tif(da: xr.DataArray, path: Path, *, nodata: float | None = np.nan) -> Path:
    """A one-band GeoTIFF of a ``(y, x)`` DataArray in EPSG:4326."""
    import rioxarray  # noqa: F401  (registers .rio)

    da = da.rio.write_crs(CRS).rio.set_spatial_dims(x_dim="x", y_dim="y")
    if nodata is not None:
        da = da.rio.write_nodata(nodata, encoded=False)
    da.rio.to_raster(path)
    return path


def write_tif_folder(folder: Path, cube: xr.DataArray, years: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for year in years or [int(y) for y in cube["year"].values]:
        write_tif(cube.sel(year=year, drop=True), folder / f"npp_{year}.tif")
    return folder


def populate_store(store: Path) -> SimpleNamespace:
    """Put the cube, the regions table and the region-id image into a local engine store."""
    from gee_cscc.engine import AssetStore

    s = AssetStore(store)
    ids = SimpleNamespace(
        npp=f"{ASSET_ROOT}/npp",
        table=f"{ASSET_ROOT}/regions",
        image=f"{ASSET_ROOT}/region_ids",
    )
    s.put_collection(ids.npp, cube_dataarray(), band="npp")
    s.put_table(ids.table, regions_geojson())
    ys, xs = coords()
    region = xr.DataArray(region_ids(), dims=("y", "x"), coords={"y": ys, "x": xs}, name="region")
    s.put_image(ids.image, region)
    return ids


# --- the independent reference -----------------------------------------------------------------


def cell_areas() -> np.ndarray:
    """Cell areas (m²) on the WGS84 ellipsoid (:func:`gee_cscc.testing.lonlat_cell_areas`)."""
    return lonlat_cell_areas(TRANSFORM, (H, W))


def ols_slope(t: np.ndarray, y: np.ndarray) -> float:
    tc = t - t.mean()
    return float(np.sum(tc * (y - y.mean())) / np.sum(tc * tc))


def reference() -> SimpleNamespace:
    """What METHOD.md says the run must give, from the cube with NumPy."""
    y = make_cube().astype(np.float64)
    valid = np.all(np.isfinite(y), axis=0)
    vca = valid & (np.where(np.isfinite(y), y, 0.0).mean(axis=0) > 0)
    cscc = np.where(vca, np.max(np.where(np.isfinite(y), y, -np.inf), axis=0), np.nan)
    area = cell_areas()
    regions = region_ids()
    capacity = {}
    for name, sel in (("ALL", np.ones((H, W), bool)), ("A", regions == 1), ("B", regions == 2)):
        m = vca & sel
        cscc_g = float(np.sum(cscc[m] * area[m]))
        npp_g = float(np.sum(y[-1][m] * area[m]))
        capacity[name] = {
            "cscc_tg": cscc_g / 1e12,
            "current_npp_tg": npp_g / 1e12,
            "potential_tg": (cscc_g - npp_g) / 1e12,
            "cscc_mean_gm2": cscc_g / float(np.sum(area[m])),
            "vca_cells": int(m.sum()),
        }
    total_npp_pg = {
        year: float(np.sum(y[i][vca] * area[vca])) / 1e15 for i, year in enumerate(YEARS)
    }
    # Maintenance at the reference year: the sign of the OLS slope over start…reference.
    n = YEARS.index(REFERENCE) + 1
    t = np.asarray(YEARS[:n], dtype=float)
    signs = np.zeros((H, W))
    for r, c in zip(*np.nonzero(vca), strict=True):
        k = ols_slope(t, y[:n, r, c])
        signs[r, c] = 0.0 if abs(k) < 1e-6 else np.sign(k)
    return SimpleNamespace(
        vca=vca,
        cscc=cscc,
        area=area,
        capacity=capacity,
        total_npp_pg=total_npp_pg,
        n_pos_reference=int(np.sum(signs > 0)),
        n_neg_reference=int(np.sum(signs < 0)),
    )


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    from gee_cscc.report.outputs import TABLE_FILES

    return {name: pd.read_csv(out / "tables" / name) for name in TABLE_FILES}


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative path → bytes)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def staging_dirs(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if "-staging-" in p.name]


def stub_report(calls: list):
    def write_report(results, out_dir, **kwargs):
        calls.append({"results": results, **kwargs})
        page = Path(out_dir) / "report.html"
        page.write_text("<!doctype html><title>stub report</title>")
        return {"html": page, "figures": {}}

    return write_report


def write_small_inputs(folder: Path) -> tuple[Path, Path]:
    """The synthetic cube as ``folder/npp.nc`` and its regions as ``folder/regions.geojson``;
    returns the two paths."""
    npp = folder / "npp.nc"
    cube_dataarray().to_dataset().to_netcdf(npp)
    regions = folder / "regions.geojson"
    regions.write_text(json.dumps(regions_geojson()))
    return npp, regions


def run_args(cli_data: CliData, store: Path, out: Path, *more) -> tuple:
    """``gee-cscc run`` on the synthetic NetCDF and GeoJSON (the ``cli_data`` fixture) with
    the synthetic years, ``--store store --out out`` and ``more``."""
    return (
        "run",
        "--npp",
        cli_data.npp_nc,
        "--regions",
        cli_data.geojson,
        *YEAR_ARGS,
        "--store",
        store,
        "--out",
        out,
        *more,
    )


def assert_tables_close(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    """The same tables, columns and rows; numbers equal to 1e-9 (relative), text exactly."""
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        assert list(x.columns) == list(y.columns), name
        assert len(x) == len(y), name
        for col in x.columns:
            if pd.api.types.is_numeric_dtype(x[col]):
                np.testing.assert_allclose(
                    y[col].to_numpy(float), x[col].to_numpy(float), rtol=1e-9, err_msg=name
                )
            else:
                assert x[col].astype(str).tolist() == y[col].astype(str).tolist(), (name, col)


def window_stat(x: np.ndarray, footprint: np.ndarray, fn) -> np.ndarray:
    """``fn`` of the unmasked (non-NaN) values of ``x`` under the odd square boolean
    ``footprint`` centred on each pixel (outside ``x`` counts as masked); NaN where the
    window holds no value."""
    r = footprint.shape[0] // 2
    padded = np.pad(x, r, constant_values=np.nan)
    out = np.full(x.shape, np.nan)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            win = padded[i : i + 2 * r + 1, j : j + 2 * r + 1][footprint]
            win = win[~np.isnan(win)]
            if win.size:
                out[i, j] = fn(win)
    return out


@dataclass(frozen=True)
class CliData:
    """The synthetic inputs written as files (the ``cli_data`` fixture) and the expected numbers."""

    root: Path
    cube: xr.DataArray
    npp_nc: Path
    npp_time_nc: Path
    tifs: Path
    geojson: Path
    region_tif: Path
    names: Path
    ref: SimpleNamespace
