"""``gee_cscc.analyze`` (the Python API) against ``gee-cscc run`` on the synthetic CLI case.

The CLI runs once (module fixture) on the NetCDF file and the GeoJSON of ``helpers``; the
Python API then runs on the same data held in memory (a ``DataArray`` and a GeoJSON
``dict``) and as a file path. Its numbers are checked against the NumPy reference of
``helpers`` (independent of the method code), its tables against the CLI's files, and
``Results.to_files`` against the CLI's OUT folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, YEAR_ARGS, YEARS, cube_dataarray, read_tables, regions_geojson

import gee_cscc
from gee_cscc.cli.main import main
from gee_cscc.errors import ConfigError, InputError

YEARS_KW = {"start": YEARS[0], "end": YEARS[-1], "reference_year": REFERENCE}


@pytest.fixture(scope="module")
def cli_out(cli_data, tmp_path_factory) -> Path:
    """OUT of ``gee-cscc run`` on the NetCDF cube and the GeoJSON regions (full report)."""
    root = tmp_path_factory.mktemp("api-cli")
    out = root / "out"
    args = ["run", "--npp", cli_data.npp_nc, "--regions", cli_data.geojson, *YEAR_ARGS]
    code = main([str(a) for a in (*args, "--store", root / "store", "--out", out, "--quiet")])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def api_results(tmp_path_factory):
    """``gee_cscc.analyze`` on the cube in memory and the regions as a GeoJSON dict."""
    store = tmp_path_factory.mktemp("api-store")
    return gee_cscc.analyze(
        cube_dataarray(), regions_geojson(), reference_year=REFERENCE, store=store
    )


def _same_tables(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=1e-9, obj=name)


def test_analyze_on_a_dataarray_gives_the_reference_numbers(api_results, cli_data):
    ref = cli_data.ref
    cap = api_results.capacity.set_index("region")
    assert list(cap.index) == ["ALL", "A", "B"]
    for name, expected in ref.capacity.items():
        for column in ("cscc_tg", "current_npp_tg", "potential_tg", "cscc_mean_gm2"):
            assert cap.loc[name, column] == pytest.approx(expected[column], rel=1e-6), (
                name,
                column,
            )
        assert int(cap.loc[name, "vca_cells"]) == expected["vca_cells"]
    # The years were taken from the DataArray (no start/end given).
    assert (api_results.config.start, api_results.config.end) == (YEARS[0], YEARS[-1])
    yearly = api_results.yearly.set_index("year")["total_npp_pg"]
    for year, total in ref.total_npp_pg.items():
        assert yearly[year] == pytest.approx(total, rel=1e-6)
    np.testing.assert_array_equal(api_results.rasters["vca"].values == 1, ref.vca)


def test_analyze_on_a_dataarray_equals_the_cli_tables(api_results, cli_out, tmp_path):
    out = api_results.to_files(tmp_path / "api-out")
    _same_tables(read_tables(out), read_tables(cli_out))


def test_to_files_writes_the_files_of_the_cli(api_results, cli_out, tmp_path):
    out = api_results.to_files(tmp_path / "api-out")

    def names(folder: Path) -> set[str]:
        return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}

    cli_names = names(cli_out)
    assert names(out) == cli_names
    assert {"run.json", "report.html", "tables/capacity_by_region.csv"} <= cli_names
    run = json.loads((out / "run.json").read_text())
    cli_run = json.loads((cli_out / "run.json").read_text())
    assert run["config"] == cli_run["config"]
    assert set(run) == set(cli_run)
    assert run["inputs"]["npp"] == "<in-memory DataArray>"
    # A second call replaces the folder as a whole (an earlier result may be overwritten).
    (out / "tables" / "capacity_by_region.csv").write_text("stale\n")
    api_results.to_files(out)
    _same_tables(read_tables(out), read_tables(cli_out))


def test_analyze_on_a_file_path_and_a_dataset(cli_data, cli_out, tmp_path):
    store = tmp_path / "store"
    by_path = gee_cscc.analyze(  # start/end: the file's years
        str(cli_data.npp_nc),
        str(cli_data.geojson),
        reference_year=REFERENCE,
        store=store,
        out=tmp_path / "o",
    )
    assert (by_path.config.start, by_path.config.end) == (YEARS[0], YEARS[-1])
    _same_tables(read_tables(tmp_path / "o"), read_tables(cli_out))
    by_tifs = gee_cscc.analyze(
        cli_data.tifs, cli_data.geojson, reference_year=REFERENCE, store=store
    )
    pd.testing.assert_frame_equal(by_tifs.capacity, by_path.capacity)
    ds = cube_dataarray().rename("npp").to_dataset()
    ds["other"] = ds["npp"] * 0  # the band option picks the NPP variable
    by_ds = gee_cscc.analyze(ds, cli_data.geojson, band="npp", **YEARS_KW, store=store)
    pd.testing.assert_frame_equal(by_ds.capacity, by_path.capacity)


def test_region_raster_as_a_dataarray_with_names(api_results, cli_data, tmp_path):
    import xarray as xr
    from helpers import coords, region_ids

    ys, xs = coords()
    ids = xr.DataArray(region_ids(), dims=("y", "x"), coords={"y": ys, "x": xs})
    res = gee_cscc.analyze(
        cube_dataarray(), ids, region_names={1: "A", 2: "B"}, **YEARS_KW, store=tmp_path / "s"
    )
    cap = res.capacity.set_index("region")
    for name, expected in cli_data.ref.capacity.items():
        assert cap.loc[name, "cscc_tg"] == pytest.approx(expected["cscc_tg"], rel=1e-6)


def test_an_unknown_option_is_one_line_naming_close_matches(tmp_path):
    with pytest.raises(ConfigError) as err:
        gee_cscc.analyze(cube_dataarray(), reference_yaer=REFERENCE, store=tmp_path)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("reference_yaer: not an option")
    assert "'reference_year'" in text
    assert not (tmp_path / "inputs").exists()  # refused before the engine started


def test_an_in_memory_cube_is_checked_like_a_file(tmp_path):
    cube = cube_dataarray()
    cube[2, 2, 2] = -9999.0  # a fill value left in the data
    with pytest.raises(InputError, match="2003") as err:
        gee_cscc.analyze(cube, **YEARS_KW, store=tmp_path)
    assert "\n" not in str(err.value)


def test_plot_returns_figures(api_results):
    from matplotlib.figure import Figure

    for name in ("cscc", "cscc_map", "yearly", "trend_class", "pcs", "decay_curves", "csr_grade"):
        assert isinstance(getattr(api_results.plot, name)(), Figure), name
    whole = api_results.plot.decay()
    one = api_results.plot.decay("A")
    assert isinstance(whole, Figure) and isinstance(one, Figure)
    assert one.get_suptitle().endswith(", A")
    # The region's panel shows its own observed shares, not the whole area's.
    counts = api_results.maintenance_counts
    q_a = counts[counts["region"] == "A"].sort_values("year")["q_pos_share"].to_numpy()
    points = one.axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(points, q_a)
    with pytest.raises(InputError, match="No region 'Z'"):
        api_results.plot.decay("Z")


def test_gee_cscc_exports_the_api():
    assert gee_cscc.analyze.__module__ == "gee_cscc.workflow.api"
    assert {"analyze", "Results", "Config", "LocalEngine"} <= set(gee_cscc.__all__)
    assert callable(gee_cscc.Results.to_files)


def test_images_on_a_kept_engine_and_ee_objects_as_input(engine, cli_data, api_results):
    import ee

    res = gee_cscc.analyze(cube_dataarray(), regions_geojson(), engine=engine, **YEARS_KW)
    images = res.images
    assert {"cscc", "vca", "trend_class", "region", f"maintenance_{REFERENCE}"} <= set(images)
    # The engine given is still running: the images compute (max CSCC vs NumPy).
    top = (
        images["cscc"]
        .reduceRegion(
            ee.Reducer.max(),
            geometry=ee.Geometry.Rectangle([100, 35, 106, 40], None, False),
            crs="EPSG:4326",
            crsTransform=[1, 0, 100, 0, -1, 40],
        )
        .getInfo()
    )
    assert top["cscc"] == pytest.approx(float(np.nanmax(cli_data.ref.cscc)), rel=1e-6)
    # ee objects go straight to the engine ee points at: the same tables.
    npp_asset = res.origin["run_info"]["inputs"]["npp_asset"]
    on_ee = gee_cscc.analyze(ee.ImageCollection(npp_asset), res.regions.features, **YEARS_KW)
    pd.testing.assert_frame_equal(on_ee.capacity, api_results.capacity)


def test_batch_mode_writes_the_cli_tables_and_needs_a_folder(cli_out, tmp_path):
    store = tmp_path / "store"
    with pytest.raises(InputError, match="batch=BatchOptions") as err:
        gee_cscc.analyze(cube_dataarray(), reference_year=REFERENCE, store=store, mode="batch")
    assert "\n" not in str(err.value)
    out = tmp_path / "out"
    res = gee_cscc.analyze(
        cube_dataarray(),
        regions_geojson(),
        reference_year=REFERENCE,
        store=store,
        mode="batch",
        out=out,
    )
    assert res.mode == "batch"
    _same_tables(read_tables(out), read_tables(cli_out))
