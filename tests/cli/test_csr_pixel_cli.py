"""``gee-cscc run --csr-pixel``, the Python API and ``gee-cscc export --csr-pixel``: the
pixel-CSR files end to end, against a NumPy reading of METHOD.md §4 and §7."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from helpers import REFERENCE, YEAR_ARGS, YEARS, H, W, cube_dataarray, make_cube, regions_geojson
from helpers import run_args as run_arguments

import gee_cscc
from gee_cscc.cli.main import main

OPTIONS = ("--csr-pixel", "1cells", "--csr-kernel", "square", "--csr-min-cells", "2",
           "--fit-mode", "loglinear")  # fmt: skip
EVALS = [y for y in YEARS if y >= REFERENCE]


def reference() -> dict[str, np.ndarray]:
    """τ±, RS and grade per cell: P by growing-window OLS signs, counts over the 3 × 3
    square inside the grid, log-linear fit by np.polyfit (METHOD.md §4, §7)."""
    y = make_cube().astype(float)
    vca = np.all(np.isfinite(y), axis=0)
    vca &= np.where(vca, np.nan_to_num(y).mean(axis=0), 0.0) > 0
    t = np.asarray(YEARS, float)
    P = np.zeros((len(EVALS), H, W))
    for r, c in zip(*np.nonzero(vca), strict=True):
        prev = None
        for i, ti in enumerate(EVALS):
            m = YEARS.index(ti) + 1
            tc = t[:m] - t[:m].mean()
            k = float(np.sum(tc * (y[:m, r, c] - y[:m, r, c].mean())) / np.sum(tc * tc))
            s = 0.0 if abs(k) < 1e-6 else float(np.sign(k))
            prev = s if prev is None else (prev if s == prev else 0.0)
            P[i, r, c] = prev
    out = {k: np.full((H, W), np.nan) for k in ("tau_pos", "tau_neg", "csr_rs", "csr_grade")}
    x = np.arange(len(EVALS), dtype=float)
    for r, c in zip(*np.nonzero(vca), strict=True):
        taus = {}
        for name, sign in (("pos", 1), ("neg", -1)):
            win = P[:, max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
            n = (win == sign).sum(axis=(1, 2)).astype(float)
            tau = math.nan
            if n[0] >= 2 and (n > 0).sum() >= 2:
                b = np.polyfit(x[n > 0], np.log(n[n > 0] / n[0]), 1)[0]
                tau = math.inf if b >= 0 else -1 / b
            taus[name] = out[f"tau_{name}"][r, c] = tau
        tp, tn = taus["pos"], taus["neg"]
        rs = math.nan if math.isnan(tp + tn) or (math.isinf(tp) and math.isinf(tn)) else tp - tn
        out["csr_rs"][r, c] = rs
        grade = 0
        if not math.isnan(rs):
            grade = 5 if rs > 500 else 4 if rs > 100 else 3 if rs >= 0 else 2 if rs >= -100 else 1
        out["csr_grade"][r, c] = grade
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory, cli_data):
    root = tmp_path_factory.mktemp("csr-pixel")
    code = main([str(a) for a in run_arguments(cli_data, root / "store", root / "out", *OPTIONS)])
    assert code == 0
    return root / "out"


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.dtypes[0], src.nodata


def test_files_against_numpy(out):
    want = reference()
    for name in ("tau_pos", "tau_neg", "csr_rs"):
        got, dtype, _ = read(out / "rasters" / f"{name}.tif")
        assert dtype == "float32"
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want[name]), err_msg=name)
        np.testing.assert_allclose(got, want[name], rtol=1e-6, equal_nan=True, err_msg=name)
    grade, dtype, nodata = read(out / "rasters" / "csr_grade.tif")
    assert dtype == "int8" and nodata == -128
    np.testing.assert_array_equal(
        np.where(np.isnan(want["csr_grade"]), -128, want["csr_grade"]), grade
    )
    assert np.isinf(want["tau_pos"]).any() or np.isinf(want["tau_neg"]).any()
    import xarray as xr

    with xr.open_dataset(out / "rasters" / "results.nc") as nc:
        np.testing.assert_allclose(nc["csr_rs"].values, want["csr_rs"], rtol=1e-6)
        assert list(nc["csr_grade"].attrs["flag_values"]) == [0, 1, 2, 3, 4, 5]
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["csr_pixel"] == "1cells" and run["config"]["csr_kernel"] == "square"
    assert run["summary"]["csr_pixel"]["kernel_cells"] == 9
    html = (out / "report.html").read_text()
    assert "Carbon sink resilience per cell" in html
    assert (out / "figures" / "csr_pixel.png").is_file()


def test_python_api_gives_the_cli_files(out, tmp_path):
    results = gee_cscc.analyze(
        cube_dataarray(), regions_geojson(), start=YEARS[0], end=YEARS[-1],
        reference_year=REFERENCE, csr_pixel="1cells", csr_kernel="square", csr_min_cells=2,
        fit_mode="loglinear", store=tmp_path / "store",
    )  # fmt: skip
    for name in ("tau_pos", "tau_neg", "csr_rs", "csr_grade"):
        got, _, nodata = read(out / "rasters" / f"{name}.tif")
        values = results.rasters[name].values
        if name == "csr_grade":
            values = np.where(np.isnan(values), nodata, values)
        np.testing.assert_allclose(values, got, rtol=1e-6, equal_nan=True, err_msg=name)
    assert {"tau_pos", "tau_neg", "csr_rs", "csr_grade"} <= set(results.images)
    assert results.plot.csr_pixel() is not None


def test_off_by_default(tmp_path, cli_data, run_cli, quick_report):
    result = run_cli(*run_arguments(cli_data, tmp_path / "store", tmp_path / "out"))
    assert result.code == 0
    assert not (tmp_path / "out" / "rasters" / "csr_rs.tif").exists()
    assert "csr_pixel" not in json.loads((tmp_path / "out" / "run.json").read_text())["summary"]


def test_bad_radius_is_one_line(tmp_path, cli_data, run_cli):
    result = run_cli(
        *run_arguments(cli_data, tmp_path / "store", tmp_path / "out", "--csr-pixel", "50")
    )
    assert result.code != 0
    assert "csr_pixel: '50' is not a radius" in result.err


def test_export_files_hold_the_bands(tmp_path, cli_data):
    """``gee-cscc export --csr-pixel`` to Cloud Storage files: the result GeoTIFF gains the
    four bands with the run's values."""
    store = tmp_path / "store"
    root = tmp_path / "run"
    assert main([str(a) for a in run_arguments(cli_data, store, root, *OPTIONS)]) == 0
    npp = json.loads((root / "run.json").read_text())["inputs"]
    npp_id = npp.get("npp_asset") or npp.get("npp")
    code = main(["export", "--npp", str(npp_id), *YEAR_ARGS, "--store", str(store), "--out",
                 str(tmp_path / "exp"), "--to", "gcs", "--bucket", "bkt", "--prefix", "x",
                 *OPTIONS[:6], "-q"])  # fmt: skip
    assert code == 0
    with rasterio.open(store / "gcs" / "bkt" / "x_result.tif") as src:
        bands = {d: src.read(i + 1) for i, d in enumerate(src.descriptions)}
    want = reference()
    assert {"tau_pos", "tau_neg", "csr_rs", "csr_grade"} <= set(bands)
    got_grade = bands["csr_grade"]
    inside = ~np.isnan(want["csr_grade"])
    np.testing.assert_array_equal(got_grade[inside], want["csr_grade"][inside])
