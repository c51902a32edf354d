"""Writers of hostile input files for the ``tests/reliability/test_inputs_*`` tests.

Built on the synthetic case of ``tests/helpers.py`` (6 years × 5×6 px at 1°, two regions):
each writer produces one file a user might give, and :func:`cli` runs ``gee-cscc run`` on it
in this process (figures and report stubbed) and returns the exit code and stderr lines.
Expected numbers are computed here with NumPy only (:func:`capacity_reference`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from helpers import YEAR_ARGS, YEARS, coords, cube_dataarray, make_cube, stub_report

from gee_cscc.cli.main import main
from gee_cscc.testing import lonlat_cell_areas


def nc(path: Path, da: xr.DataArray, **attrs: object) -> Path:
    """Write ``da`` (``year, y, x``) as a NetCDF variable ``npp`` with extra attributes."""
    da = da.rename("npp")
    da.attrs.update(attrs)
    da.to_dataset().to_netcdf(path)
    return path


def cube_with(values: np.ndarray) -> xr.DataArray:
    """The synthetic cube's coordinates with other values."""
    return cube_dataarray(np.asarray(values, dtype=np.float32))


def geojson(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def box(x0: float, x1: float, y0: float, y1: float, abbr: str) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"abbr": abbr},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def collection(*features: dict, **extra: object) -> dict:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def cli(tmp: Path, monkeypatch, *args: object, years: tuple = YEAR_ARGS) -> tuple[int, list[str]]:
    """Run ``gee-cscc run ARGS --store tmp/store --out tmp/out --quiet``; (code, stderr lines)."""
    import contextlib
    import io

    monkeypatch.setattr("gee_cscc.report.write_report", stub_report([]))
    argv = ["run", *map(str, args), *years]
    argv += ["--store", str(tmp / "store"), "--out", str(tmp / "out"), "--quiet"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


def capacity(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / "capacity_by_region.csv").set_index("region")


def capacity_reference(
    cube: np.ndarray, transform: tuple, regions: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Table 1 (CSCC and current NPP in Tg, VCA cells) per region mask, with NumPy only."""
    y = np.asarray(cube, dtype=np.float64)
    valid = np.all(np.isfinite(y), axis=0)
    vca = valid & (np.where(valid, y.mean(axis=0), 0.0) > 0)
    area = lonlat_cell_areas(transform, y.shape[1:])
    out = {}
    for name, sel in regions.items():
        m = vca & sel
        out[name] = {
            "cscc_tg": float(np.sum(y.max(axis=0)[m] * area[m])) / 1e12,
            "current_npp_tg": float(np.sum(y[-1][m] * area[m])) / 1e12,
            "vca_cells": int(m.sum()),
        }
    return out


__all__ = [
    "YEARS",
    "box",
    "capacity",
    "capacity_reference",
    "cli",
    "collection",
    "coords",
    "cube_with",
    "geojson",
    "make_cube",
    "nc",
]
