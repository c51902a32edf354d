"""``gee-cscc run``: the output folder (README "Outputs"), its numbers, and atomic writing.

One full run (real figures and report) on the synthetic NetCDF + GeoJSON inputs serves the
module; the numbers are checked against NumPy and pyproj on the cube (``cli_data.ref``).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from helpers import (
    REFERENCE,
    SHAPE,
    TRANSFORM,
    YEAR_ARGS,
    YEARS,
    read_tables,
    region_ids,
    run_args,
    snapshot,
    staging_dirs,
)

import gee_cscc
from gee_cscc.cli.main import main
from gee_cscc.config import Config
from gee_cscc.report.outputs import TABLE_FILES

#: README "Outputs": the files every run writes (rasters and figures checked separately).
EXPECTED_FILES = [
    "run.json",
    "tables/capacity_by_region.csv",
    "tables/maintenance_counts.csv",
    "tables/yearly.csv",
    "tables/trend_summary.csv",
    "tables/resilience.csv",
    "rasters/results.nc",
    "report.html",
]
#: Raster layers of METHOD.md that must come out as GeoTIFFs.
EXPECTED_RASTERS = ["vca", "cscc", "cscc_year", "pcs", "trend_slope", "trend_class"]
EXPECTED_RASTERS += ["trend_p", "maintenance", "maintenance_years", "region", "pixel_area"]


@pytest.fixture(scope="module")
def run(cli_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    out = root / "out"
    argv = ["run", "--npp", str(cli_data.npp_nc), "--regions", str(cli_data.geojson)]
    argv += [*YEAR_ARGS, "--store", str(root / "store"), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def tables(cli_data, run):
    return read_tables(run)


def test_every_output_of_the_readme_exists(run, cli_data):
    for name in EXPECTED_FILES:
        assert (run / name).is_file(), name
        assert (run / name).stat().st_size > 0, name
    for name in EXPECTED_RASTERS:
        assert (run / "rasters" / f"{name}.tif").is_file(), name
    figures = sorted(p.name for p in (run / "figures").glob("*.png"))
    assert {"cscc.png", "yearly.png", "decay_curves.png"} <= set(figures), figures
    assert not staging_dirs(run.parent)
    assert not list(run.rglob("*.tmp"))


def test_csv_columns_start_with_the_fixed_names(run):
    for name, (_, leading) in TABLE_FILES.items():
        with (run / "tables" / name).open(newline="") as fh:
            header = next(csv.reader(fh))
        assert header[: len(leading)] == leading, name


def test_rasters_are_georeferenced_on_the_input_grid(run, cli_data):
    h, w = SHAPE
    for path in sorted((run / "rasters").glob("*.tif")):
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 4326, path.name
            assert src.transform == Affine(*TRANSFORM), path.name
            assert (src.height, src.width) == (h, w), path.name
    with rasterio.open(run / "rasters" / "cscc.tif") as src:
        cscc = src.read(1)
    np.testing.assert_allclose(cscc, cli_data.ref.cscc, rtol=1e-6, equal_nan=True)
    evaluation_years = [y for y in YEARS if y >= REFERENCE]
    with rasterio.open(run / "rasters" / "maintenance.tif") as src:
        assert src.count == len(evaluation_years)
        assert src.descriptions == tuple(f"maintenance_{y}" for y in evaluation_years)


def test_results_nc_opens_with_xarray(run, cli_data):
    with xr.open_dataset(run / "rasters" / "results.nc") as ds:
        assert {"cscc", "vca", "maintenance", "pcs", "region"} <= set(ds.data_vars)
        assert ds.attrs["crs"] == "EPSG:4326"
        assert json.loads(ds.attrs["crs_transform"]) == list(TRANSFORM)
        np.testing.assert_allclose(ds["cscc"].values, cli_data.ref.cscc, rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(ds["vca"].values == 1, cli_data.ref.vca)
        np.testing.assert_array_equal(ds["region"].values, region_ids())
        assert ds["maintenance"]["year"].values.tolist() == [2003, 2004, 2005, 2006]


def test_report_is_one_self_contained_page(run):
    html = (run / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "data:image/png;base64," in html  # the figures are embedded
    assert '<img src="figures/' not in html
    assert "ALL" in html and "CSCC" in html


def test_run_json_has_config_versions_engine_inputs_and_timings(run, cli_data):
    info = json.loads((run / "run.json").read_text())
    expected = Config(start=2001, end=2006, reference_year=2003).to_dict()
    assert info["config"] == expected
    assert info["engine"] == "local"
    assert info["versions"]["gee-cscc"] == gee_cscc.__version__
    assert info["versions"]["earthengine-api"] and info["versions"]["xarray"]
    assert info["inputs"]["npp"] == str(cli_data.npp_nc)
    assert info["inputs"]["regions"] == str(cli_data.geojson)
    assert info["inputs"]["synthetic"] is False
    assert info["grid"] == {
        "crs": "EPSG:4326",
        "crs_transform": list(TRANSFORM),
        "shape": list(SHAPE),
    }
    timings = info["timings_s"]
    assert timings["total"] > 0 and "write outputs" in timings
    assert "validate input" in timings


def test_capacity_table_against_numpy(tables, cli_data):
    """Table 1: Σ max_t y · cell area over the VCA (cell areas from pyproj.Geod)."""
    table = tables["capacity_by_region.csv"].set_index("region")
    assert table.index.tolist() == ["ALL", "A", "B"]
    for name, expected in cli_data.ref.capacity.items():
        row = table.loc[name]
        for column in ("cscc_tg", "current_npp_tg", "potential_tg", "cscc_mean_gm2"):
            assert row[column] == pytest.approx(expected[column], rel=1e-8), (name, column)
        assert row["vca_cells"] == expected["vca_cells"]
        assert row["potential_share_of_cscc"] == pytest.approx(
            expected["potential_tg"] / expected["cscc_tg"], rel=1e-8
        )
    assert table.loc["ALL", "vca_cells"] == 27  # 30 cells less the three non-VCA ones
    # Row 4 of B's columns is in no region: ALL holds more than A + B.
    assert table.loc["ALL", "cscc_tg"] > table.loc["A", "cscc_tg"] + table.loc["B", "cscc_tg"]


def test_yearly_and_maintenance_tables_against_numpy(tables, cli_data):
    ref = cli_data.ref
    yearly = tables["yearly.csv"].set_index("year")
    assert yearly.index.tolist() == YEARS
    cscc_pg = ref.capacity["ALL"]["cscc_tg"] / 1e3
    for year, total in ref.total_npp_pg.items():
        assert yearly.loc[year, "total_npp_pg"] == pytest.approx(total, rel=1e-8)
        assert yearly.loc[year, "saturation_share"] == pytest.approx(total / cscc_pg, rel=1e-8)
    counts = tables["maintenance_counts.csv"]
    first = counts[(counts["region"] == "ALL") & (counts["year"] == REFERENCE)]
    assert first["n_pos"].item() == ref.n_pos_reference
    assert first["n_neg"].item() == ref.n_neg_reference
    assert first["q_pos_share"].item() == 1 and first["q_neg_share"].item() == 1
    assert first["changed"].item() == 0  # C = 0 at t' (METHOD.md §5b)
    assert sorted(counts["region"].unique()) == ["A", "ALL", "B"]
    trend = tables["trend_summary.csv"]
    for alpha in (0.05, 0.01):
        rows = trend[(trend["region"] == "ALL") & (trend["alpha"] == alpha)]
        assert rows["area_share"].sum() == pytest.approx(1.0)
        assert rows["cells"].sum() == 27


def test_failure_at_the_end_leaves_out_unchanged(cli_data, tmp_path, run_cli, monkeypatch):
    """A run failing while writing the report leaves an earlier OUT as it was."""
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text("{}\n")  # an earlier run's OUT
    (out / "tables" / "capacity_by_region.csv").write_text("earlier run\n")
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)

    def broken_report(*args, **kwargs):
        (args[1] / "report.html").write_text("half")  # something half-written first
        raise RuntimeError("disk full while drawing figures")

    monkeypatch.setattr("gee_cscc.report.write_report", broken_report)
    result = run_cli(*run_args(cli_data, tmp_path / "store", out, "--quiet"))
    assert result.code == 1
    assert result.err_lines == [
        "gee-cscc run: error: RuntimeError: disk full while drawing figures"
    ]
    assert snapshot(out) == before
    assert not staging_dirs(tmp_path)


def test_a_rerun_replaces_out_as_a_whole(cli_data, tmp_path, quick_report):
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text("{}\n")  # an earlier run's OUT
    (out / "tables" / "capacity_by_region.csv").write_text("earlier run\n")
    (out / "notes.txt").write_text("mine\n")
    argv = ["run", "--npp", str(cli_data.npp_nc), *YEAR_ARGS]
    argv += ["--store", str(tmp_path / "store"), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert not (out / "notes.txt").exists()  # OUT is the new result only (README: Outputs)
    capacity = (out / "tables" / "capacity_by_region.csv").read_text()
    assert capacity.startswith("region,cscc_tg,")
    assert capacity.splitlines()[1].startswith("ALL,")
    assert len(capacity.splitlines()) == 2  # no regions: the ALL row only
    assert quick_report and quick_report[0]["synthetic"] is False
    assert not staging_dirs(tmp_path)
