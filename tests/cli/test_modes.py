"""``gee-cscc run --mode interactive|batch|auto`` on the synthetic CLI case.

Both modes must give the same tables (1e-9) and the numbers NumPy reads off METHOD.md;
``auto`` must follow the documented rule with the engine's limits; batch runs resume from
OUT and never resume another configuration; size-limit errors name the step and say what
to try, in one line.
"""

from __future__ import annotations

import json
import math

import ee
import pytest
from helpers import YEARS, assert_tables_close, read_tables, run_args

from gee_cscc.config import Config
from gee_cscc.engine.limits import Limits
from gee_cscc.method.grid import GridSpec
from gee_cscc.testing import local_engine
from gee_cscc.workflow.batch import preview_grid
from gee_cscc.workflow.inputs import RunInputs
from gee_cscc.workflow.modes import choose_mode
from gee_cscc.workflow.run import run

CFG = Config(start=YEARS[0], end=YEARS[-1], reference_year=2003)


def test_batch_and_interactive_give_the_same_tables(cli_data, tmp_path, run_cli, quick_report):
    store = tmp_path / "store"
    inter = run_cli(*run_args(cli_data, store, tmp_path / "i", "--mode", "interactive", "-q"))
    assert inter.code == 0, inter.err
    batch = run_cli(*run_args(cli_data, store, tmp_path / "b", "--mode", "batch"))
    assert batch.code == 0, batch.err
    assert "batch tasks: 6/6 done" in batch.err
    tables = read_tables(tmp_path / "b")
    assert_tables_close(read_tables(tmp_path / "i"), tables)

    # The batch tables against NumPy (tests/helpers.py reference).
    cap = tables["capacity_by_region.csv"].set_index("region")
    for name, ref in cli_data.ref.capacity.items():
        assert cap.at[name, "vca_cells"] == ref["vca_cells"]
        assert math.isclose(cap.at[name, "cscc_tg"], ref["cscc_tg"], rel_tol=1e-9)
        assert math.isclose(cap.at[name, "potential_tg"], ref["potential_tg"], rel_tol=1e-9)

    info = json.loads((tmp_path / "b" / "run.json").read_text())
    assert (info["mode"], info["counting"]) == ("batch", "server")
    assert info["mode_choice"]["requested"] == "batch"
    assert info["batch"]["preview"]["factor"] == 1  # 30 px: the preview is the grid itself
    assert info["batch"]["asset_root"].endswith(info["batch"]["run_hash"][:16])
    manifest = json.loads((tmp_path / "b" / "export_tasks.json").read_text())
    assert manifest["run_hash"] == info["batch"]["run_hash"]
    # input checks, ONE sums table, result, ONE maintenance image (P 2003-06 as bands), PCS
    assert len(manifest["tasks"]) == 1 + 1 + 1 + 1 + 3
    inter_info = json.loads((tmp_path / "i" / "run.json").read_text())
    assert inter_info["mode"] == "interactive" and "batch" not in inter_info

    # A rerun starts nothing and writes the same tables.
    again = run_cli(*run_args(cli_data, store, tmp_path / "b", "--mode", "batch"))
    assert again.code == 0, again.err
    assert "0 task(s) started or running, 6 done in an earlier run" in again.err
    assert_tables_close(tables, read_tables(tmp_path / "b"))

    # Another configuration in the same OUT: refused in one line, then redone on --restart.
    changed = run_cli(
        *run_args(cli_data, store, tmp_path / "b", "--mode", "batch", "--trend", "sen", "-q")
    )
    assert changed.code == 1
    assert len(changed.err_lines) == 1, changed.err
    assert "different configuration" in changed.err and "--restart" in changed.err
    redone = run_cli(
        *run_args(
            cli_data, store, tmp_path / "b", "--mode", "batch", "--trend", "sen", "--restart", "-q"
        )
    )
    assert redone.code == 0, redone.err
    assert json.loads((tmp_path / "b" / "run.json").read_text())["config"]["trend"] == "sen"


def test_auto_takes_batch_above_the_engines_max_pixels(cli_data, tmp_path, quick_report):
    inputs = RunInputs(npp=str(cli_data.npp_nc), regions=str(cli_data.geojson))
    n_pixels = 30  # the synthetic grid: 5 x 6
    modes = {}
    for max_pixels in (n_pixels, n_pixels - 1):
        with local_engine(tmp_path / "store", limits=Limits(max_pixels=max_pixels)) as eng:
            out = tmp_path / f"out{max_pixels}"
            modes[max_pixels] = run(CFG, inputs, out, engine=eng).mode
            info = json.loads((out / "run.json").read_text())
            assert info["mode_choice"]["max_pixels"] == max_pixels
    assert modes == {n_pixels: "interactive", n_pixels - 1: "batch"}
    assert "exceed maxPixels 29" in info["mode_choice"]["reason"]


GRID = GridSpec("EPSG:4326", (0.01, 0.0, 70.0, 0.0, -0.01, 55.0), (3000, 4000))


@pytest.mark.parametrize(
    ("limits", "layers", "expected"),
    [
        # 12e6 px > maxPixels 1e7
        (Limits(), 1, "batch"),
        # 12e6 px x 21 layers x 8 B = 2.016e9 B > 40 x 48 MiB = 2.0133e9 B
        (Limits(max_pixels=12_000_000), 21, "batch"),
        # 20 layers: 1.92e9 B fits
        (Limits(max_pixels=12_000_000), 20, "interactive"),
        # half the concurrent requests: 1.0066e9 B
        (Limits(max_pixels=12_000_000, concurrent_requests=20), 20, "batch"),
    ],
)
def test_the_auto_rule(limits, layers, expected):
    choice = choose_mode("auto", GRID, layers=layers, limits=limits)
    assert choice.mode == expected
    assert choose_mode("interactive", GRID, layers=layers, limits=limits).mode == "interactive"
    assert choose_mode("batch", GRID, layers=1, limits=Limits()).mode == "batch"
    with pytest.raises(ValueError, match="mode must be one of"):
        choose_mode("fast", GRID, layers=1)


@pytest.mark.parametrize(
    ("shape", "budget", "factor", "coarse"),
    [
        ((5, 6), 30, 1, (5, 6)),
        ((5, 6), 29, 2, (3, 3)),
        ((3000, 4000), 2**20, 4, (750, 1000)),
        ((3001, 4000), 2**20, 4, (751, 1000)),
        ((24, 30), 50, 4, (6, 8)),
    ],
)
def test_preview_grid_coarsens_by_the_smallest_integer_factor(shape, budget, factor, coarse):
    grid = GridSpec("EPSG:4326", (0.5, 0.0, 100.0, 0.0, -0.5, 40.0), shape)
    got, k = preview_grid(grid, budget)
    assert (k, got.shape) == (factor, coarse)
    assert got.shape[0] * got.shape[1] <= budget
    # The smallest factor: one less would not fit.
    if k > 1:
        smaller = math.ceil(shape[0] / (k - 1)) * math.ceil(shape[1] / (k - 1))
        assert smaller > budget
    assert got.transform == (0.5 * k, 0.0, 100.0, 0.0, -0.5 * k, 40.0)


@pytest.mark.parametrize(
    "message",
    ["Computation timed out.", "User memory limit exceeded.", "Too many concurrent aggregations."],
)
def test_size_limit_errors_name_the_step_and_say_what_to_try(
    message, cli_data, tmp_path, run_cli, monkeypatch
):
    def refused(*args, **kwargs):
        raise ee.EEException(message)

    monkeypatch.setattr("gee_cscc.workflow.analyze.region_sums", refused)
    result = run_cli(
        *run_args(cli_data, tmp_path / "store", tmp_path / "o", "--mode", "interactive", "-q")
    )
    assert result.code == 1
    assert result.err_lines == [
        "gee-cscc run: error: region sums (capacity, yearly, trend classes): "
        f"{message} (try --mode batch, a coarser --scale or a larger --tile-scale)"
    ]


def test_an_input_check_refused_for_its_size_says_what_to_try(
    cli_data, tmp_path, run_cli, monkeypatch
):
    """The input checks are one interactive request too: a timeout there is not an input
    error, and it says what to try."""
    from gee_cscc.errors import InputError

    def timed_out(*args, **kwargs):
        try:
            raise ee.EEException("Computation timed out.")
        except ee.EEException as exc:
            raise InputError("Cannot check the NPP input 'npp': Computation timed out.") from exc

    monkeypatch.setattr("gee_cscc.workflow.analyze.check_inputs", timed_out)
    result = run_cli(*run_args(cli_data, tmp_path / "store", tmp_path / "o", "-q"))
    assert result.code == 1
    assert result.err_lines == [
        "gee-cscc run: error: Cannot check the NPP input 'npp': Computation timed out. "
        "(try --mode batch, a coarser --scale or a larger --tile-scale)"
    ]


def test_pull_retries_are_at_least_xees_defaults():
    from xee.ext import EarthEngineStore

    from gee_cscc.workflow.pull import PULL_RETRIES

    defaults = EarthEngineStore.GETITEM_KWARGS
    assert PULL_RETRIES["max_retries"] >= defaults["max_retries"]
    assert PULL_RETRIES["initial_delay"] >= defaults["initial_delay"]


def test_batch_export_requests_carry_the_workload_tag(
    cli_data, tmp_path, quick_report, monkeypatch
):
    """Every export task a batch run starts is sent with the run's workload tag."""
    import ee.data

    sent = []
    original = ee.data._prepare_and_run_export

    def spy(request_id, params, export_endpoint):
        result = original(request_id, params, export_endpoint)
        sent.append(params.get("workloadTag"))
        return result

    monkeypatch.setattr(ee.data, "_prepare_and_run_export", spy)
    cfg = CFG.replace(workload_tag="cscc-test-7")
    inputs = RunInputs(npp=str(cli_data.npp_nc), regions=str(cli_data.geojson))
    run(cfg, inputs, tmp_path / "o", store=tmp_path / "store", mode="batch")
    assert sent and set(sent) == {"cscc-test-7"}


@pytest.mark.slow
def test_modis_like_product_over_china_batch_equals_interactive(tmp_path, run_cli, quick_report):
    """Issue 9's offline case: a MOD17A3HGF-like collection (sinusoidal SR-ORG:6974, int16
    Npp with land-cover and fill codes) with China's provinces, --product modis-npp
    --extent regions, gives the same tables in both modes; rasters keep the sinusoidal CRS."""
    import rasterio

    from gee_cscc.demo.provinces import province_geojson_path
    from gee_cscc.engine import AssetStore
    from gee_cscc.testing.modis import MODIS_SINUSOIDAL_PROJ4, modis_like_collection

    store = tmp_path / "store"
    modis_like_collection(AssetStore(store), cells=400, years=range(2001, 2011))
    args = ["run", "--product", "modis-npp", "--end", "2010", "--reference", "2005"]
    args += ["--regions", str(province_geojson_path()), "--extent", "regions"]
    args += ["--store", str(store), "-q"]
    for mode in ("interactive", "batch"):
        result = run_cli(*args, "--out", tmp_path / mode, "--mode", mode)
        assert result.code == 0, result.err
    assert_tables_close(read_tables(tmp_path / "interactive"), read_tables(tmp_path / "batch"))
    info = json.loads((tmp_path / "batch" / "run.json").read_text())
    assert info["mode"] == "batch" and info["grid"]["crs"] == "SR-ORG:6974"
    cap = read_tables(tmp_path / "batch")["capacity_by_region.csv"].set_index("region")
    assert cap.at["ALL", "vca_cells"] > 0
    with rasterio.open(tmp_path / "batch" / "rasters" / "cscc.tif") as src:
        import pyproj

        got = pyproj.Transformer.from_crs("EPSG:4326", src.crs.to_wkt(), always_xy=True)
    ref = pyproj.Transformer.from_crs("EPSG:4326", MODIS_SINUSOIDAL_PROJ4, always_xy=True)
    assert got.transform(110.0, 35.0) == pytest.approx(ref.transform(110.0, 35.0), abs=1e-6)
