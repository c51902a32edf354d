"""Synthetic inputs for the ``gee-cscc run`` tests: one small NPP cube in every input form.

* ``cli_data`` (session): the cube (6 years × 5×6 px at 1°, reference year 2003) written as
  a NetCDF file (``year, y, x``), a NetCDF file with ``time, lat, lon`` and variable ``NPP``,
  a folder of ``npp_YYYY.tif``, a GeoJSON of two regions named by ``abbr``, the same regions
  as an integer GeoTIFF with a names CSV — and the expected numbers, computed here with
  NumPy and pyproj only (never with gee_cscc's method code). It also carries this module's
  constants and helpers (``year_args``, ``populate_store``, ``read_tables`` …): a conftest
  cannot be imported by name from the test modules.
* ``run_cli`` (function): ``run_cli("run", ...)`` calls ``gee_cscc.cli.main.main`` in this process
  and returns the exit code, stdout and stderr.
* ``quick_report`` (function): replaces the figures and HTML report (the slow part of a run)
  by a stub page, for tests that only look at tables; it records how it was called.

Every run of the CLI starts its own local engine and points ``ee`` at it; tests that need the
session ``engine`` get ``ee`` pointed back by the autouse fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr

from gee_cscc.cli.main import main

YEARS = list(range(2001, 2007))
REFERENCE = 2003
H, W = 5, 6
X0, Y0, RES = 100.0, 40.0, 1.0
CRS = "EPSG:4326"
#: ``--start/--end/--reference`` of every run on the synthetic cube.
YEAR_ARGS = ("--start", str(YEARS[0]), "--end", str(YEARS[-1]), "--reference", str(REFERENCE))
#: The asset ids that :func:`populate_store` writes (project of the CLI's local engine).
ASSET_ROOT = "projects/local-project/assets/mine"


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
    ys, xs = coords()
    return xr.DataArray(
        make_cube() if cube is None else cube,
        dims=("year", "y", "x"),
        coords={"year": YEARS, "y": ys, "x": xs},
        name="npp",
        attrs={"units": "g C m-2 yr-1"},
    )


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
    """Cell areas (m²) on the WGS84 ellipsoid with pyproj.Geod; the north and south edges
    follow parallels, so they are densified (a geodesic edge would cut the corner)."""
    geod = pyproj.Geod(ellps="WGS84")
    along = np.linspace(X0, X0 + RES, 2000)
    out = np.zeros((H, W))
    for r in range(H):
        top, bottom = Y0 - r * RES, Y0 - (r + 1) * RES
        lons = np.concatenate([along, along[::-1]])
        lats = np.concatenate([np.full(along.size, bottom), np.full(along.size, top)])
        area, _ = geod.polygon_area_perimeter(lons, lats)
        out[r, :] = abs(area)
    return out


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


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cli_data(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The synthetic inputs as files (see the module docstring) and the expected numbers."""
    root = tmp_path_factory.mktemp("cli-inputs")
    cube = cube_dataarray()
    npp_nc = root / "npp.nc"
    cube.to_dataset().to_netcdf(npp_nc)
    # The same data as a CF-style file: time (mid-year), lat, lon and a variable NPP.
    time = pd.to_datetime([f"{y}-07-01" for y in YEARS])
    cf = cube.rename(year="time", y="lat", x="lon").assign_coords(time=time).rename("NPP")
    npp_time_nc = root / "npp_time_lat_lon.nc"
    cf.to_dataset().to_netcdf(npp_time_nc)
    tifs = write_tif_folder(root / "tifs", cube)
    geojson = root / "regions.geojson"
    geojson.write_text(json.dumps(regions_geojson()))
    ys, xs = coords()
    ids = xr.DataArray(region_ids(), dims=("y", "x"), coords={"y": ys, "x": xs})
    region_tif = write_tif(ids, root / "regions.tif", nodata=None)
    names = root / "names.csv"
    names.write_text("region_id,name\n1,A\n2,B\n")
    return SimpleNamespace(
        root=root,
        cube=cube,
        npp_nc=npp_nc,
        npp_time_nc=npp_time_nc,
        tifs=tifs,
        geojson=geojson,
        region_tif=region_tif,
        names=names,
        ref=reference(),
        # constants and helpers for the test modules (a conftest is not importable by name)
        years=YEARS,
        reference_year=REFERENCE,
        year_args=YEAR_ARGS,
        transform=(RES, 0.0, X0, 0.0, -RES, Y0),
        shape=(H, W),
        crs=CRS,
        coords=coords,
        region_ids=region_ids,
        write_tif=write_tif,
        write_tif_folder=write_tif_folder,
        populate_store=populate_store,
        read_tables=read_tables,
        snapshot=snapshot,
        staging_dirs=staging_dirs,
        stub_report=stub_report,
    )


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture):
    """``run_cli(*args)`` → :class:`CliResult` of ``gee_cscc.cli.main.main`` run in this process."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


def stub_report(calls: list):
    def write_report(results, out_dir, **kwargs):
        calls.append({"results": results, **kwargs})
        page = Path(out_dir) / "report.html"
        page.write_text("<!doctype html><title>stub report</title>")
        return {"html": page, "figures": {}}

    return write_report


@pytest.fixture
def quick_report(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace ``gee_cscc.report.write_report`` by a stub; returns the list of its calls."""
    calls: list = []
    monkeypatch.setattr("gee_cscc.report.write_report", stub_report(calls))
    return calls
