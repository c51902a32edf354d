"""Issue 9's second Done-when: a local engine whose interactive limits are scaled down stands
for Earth Engine on a grid too large for interactive requests.

The grid (320 x 400 px, 40 years, 40 box regions) is above the engine's scaled ``maxPixels``
(so ``auto`` takes batch). Its full-grid interactive reductions must take longer than the
engine's 1.2 s deadline, as a national grid's do on Earth Engine; on an idle machine this
small grid's take 0.6–2 s, so the test does not rely on the machine's speed: a full-grid
``reduceRegion`` made by an *interactive* request (one with a deadline) first waits past the
deadline, as a slow server would (:func:`slow_interactive_reductions`). Batch work has no
deadline and is not slowed, and the interactive requests of a batch run (metadata, the tables
read back, the preview pull) make no ``reduceRegion``. ``--mode interactive`` must then fail
with Earth Engine's "Computation timed out." and the one-line hint, and ``--mode auto`` must
complete the same run through batch, with the tables of an unconstrained interactive run
(1e-9) and of NumPy. About 40 s: marked slow.
"""

from __future__ import annotations

import contextlib
import json
import math

import numpy as np
import pytest
from helpers import YEAR_ARGS, assert_tables_close, read_tables
from helpers import YEARS as SMALL_YEARS
from helpers import make_cube as make_small_cube
from helpers import region_ids as small_region_ids

from gee_cscc.engine.limits import Limits
from gee_cscc.testing import cube_of, ensure_initialized, local_engine, lonlat_cell_areas

H, W = 320, 400
YEARS = list(range(1971, 2011))
REFERENCE = 2006
X0, Y0, RES = 100.0, 40.0, 0.01
TRANSFORM = (RES, 0.0, X0, 0.0, -RES, Y0)
ROWS, COLS = 5, 8  # 40 box regions of 64 x 50 px
#: The scaled-down limits (see the module docstring): a 1.2 s deadline and a maxPixels the
#: grid exceeds, so auto takes batch.
LIMITS = Limits(compute_seconds=1.2, max_pixels=80_000)
HINT = "(try --mode batch, a coarser --scale or a larger --tile-scale)"


def make_cube() -> np.ndarray:
    rng = np.random.default_rng(2026)
    t = np.arange(len(YEARS), dtype=float)
    base = rng.uniform(150, 900, (H, W))
    slope = rng.normal(0, 10, (H, W))
    cube = base + slope * t[:, None, None] + rng.normal(0, 30, (len(YEARS), H, W))
    cube = np.maximum(np.round(cube * 2) / 2, 1.0)  # no stray -999 (a fill value)
    cube[:, :7, :9] = np.nan  # never valid
    cube[4, 100:110, 200:230] = np.nan  # one year missing: outside the VCA
    cube[:, 300:305, 10:20] = -4.0  # mean <= 0: outside the VCA
    return cube.astype(np.float32)


def region_ids() -> np.ndarray:
    rows = np.arange(H)[:, None] // (H // ROWS)
    cols = np.arange(W)[None, :] // (W // COLS)
    return (rows * COLS + cols + 1).astype(int)


def regions_geojson() -> dict:
    features = []
    dy, dx = RES * H / ROWS, RES * W / COLS
    for i in range(ROWS):
        for j in range(COLS):
            x0, x1 = X0 + j * dx, X0 + (j + 1) * dx
            y1, y0 = Y0 - i * dy, Y0 - (i + 1) * dy
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
            features.append(
                {
                    "type": "Feature",
                    "properties": {"abbr": f"R{i * COLS + j + 1:02d}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture(scope="module", autouse=True)
def _ee_back_at_the_session_engine(engine):
    """The CLI runs here leave ``ee`` pointed at their stopped engines: point it back for the
    next module (module-scoped fixtures elsewhere use ``ee`` before the per-test re-point)."""
    yield
    ensure_initialized(engine)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaled-limits")
    cube = cube_of(make_cube(), YEARS, origin=(X0, Y0), pixel_size=RES, crs=None)
    cube.to_dataset().to_netcdf(root / "npp.nc")
    (root / "regions.geojson").write_text(json.dumps(regions_geojson()))
    return root


def args(root, out, mode):
    return (
        "run",
        "--npp",
        root / "npp.nc",
        "--regions",
        root / "regions.geojson",
        "--start",
        YEARS[0],
        "--end",
        YEARS[-1],
        "--reference",
        REFERENCE,
        "--store",
        root / "store",
        "--out",
        out,
        "--mode",
        mode,
        "-q",
    )


@pytest.fixture
def slow_interactive_reductions(monkeypatch):
    """Every ``reduceRegion`` of a request with a deadline (an interactive one) first waits
    until past that deadline; batch tasks (no deadline) run as they are. Counts the waits."""
    import time

    from gee_cscc.engine.core import context
    from gee_cscc.engine.raster import reduction

    original = reduction.reduce_region
    waits = []

    def slow(*args, **kwargs):
        deadline = context.current().deadline
        if deadline is not None:
            waits.append(deadline)
            time.sleep(max(0.0, deadline - time.monotonic()) + 0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(reduction, "reduce_region", slow)
    return waits


@pytest.mark.slow
def test_interactive_times_out_and_auto_completes_through_batch(
    inputs, tmp_path, run_cli, quick_report, monkeypatch, request
):
    # An unconstrained interactive run (the CLI's own engine, Google's limits).
    free = run_cli(*args(inputs, tmp_path / "free", "interactive"))
    assert free.code == 0, free.err

    waits = request.getfixturevalue("slow_interactive_reductions")  # after the free run
    with local_engine(inputs / "store", limits=LIMITS) as eng:
        monkeypatch.setattr(
            "gee_cscc.workflow.run.connect", lambda *a, **k: contextlib.nullcontext(eng)
        )
        refused = run_cli(*args(inputs, tmp_path / "interactive", "interactive"))
        assert waits, "the interactive run made no full-grid reduceRegion"
        waits.clear()

        def interactive_check(*args, **kwargs):
            raise AssertionError("batch mode made the interactive (full-grid) input check")

        monkeypatch.setattr("gee_cscc.workflow.analyze.check_inputs", interactive_check)
        auto = run_cli(*args(inputs, tmp_path / "auto", "auto"))
        assert waits == [], "batch mode made a full-grid interactive reduceRegion"

    # Interactive: Earth Engine's message and the hint, in one line; OUT not written.
    assert refused.code == 1
    assert len(refused.err_lines) == 1, refused.err
    line = refused.err_lines[0]
    assert line.startswith("gee-cscc run: error: ")
    assert "Computation timed out." in line and line.endswith(HINT)
    assert not (tmp_path / "interactive").exists()

    # Auto: batch, because the grid exceeds the engine's maxPixels; the same tables.
    assert auto.code == 0, auto.err
    info = json.loads((tmp_path / "auto" / "run.json").read_text())
    assert info["mode"] == "batch"
    assert info["mode_choice"]["max_pixels"] == LIMITS.max_pixels
    assert (
        f"{H * W:,} pixels exceed maxPixels {LIMITS.max_pixels:,}" in info["mode_choice"]["reason"]
    )
    # The preview stays within an eighth of the engine's maxPixels per layer.
    preview = info["batch"]["preview"]
    assert math.prod(preview["grid"]["shape"]) <= LIMITS.max_pixels // 8
    tables = read_tables(tmp_path / "auto")
    assert_tables_close(read_tables(tmp_path / "free"), tables)
    free_info = json.loads((tmp_path / "free" / "run.json").read_text())
    assert info["summary"]["input_checks"] == free_info["summary"]["input_checks"]

    # Against NumPy: the input checks' counts and the capacity table.
    y = make_cube().astype(np.float64)
    finite = np.isfinite(y)
    valid = finite.all(axis=0)
    vca = valid & (np.where(finite, y, 0.0).mean(axis=0) > 0)
    checks = info["summary"]["input_checks"]
    assert checks["valid_cells"] == {str(yr): int(finite[i].sum()) for i, yr in enumerate(YEARS)}
    assert checks["cells_valid_every_year"] == int(valid.sum())
    assert checks["vca_cells"] == int(vca.sum())
    assert checks["region_cells"] == H * W
    assert checks["regions_without_cells"] == [] and checks["overlap_cells"] == 0
    area = lonlat_cell_areas(TRANSFORM, (H, W))
    cscc = np.where(vca, np.max(np.where(finite, y, -np.inf), axis=0), np.nan)
    cap = tables["capacity_by_region.csv"].set_index("region")
    ids = region_ids()
    for name, sel in (("ALL", np.ones((H, W), bool)), ("R01", ids == 1), ("R33", ids == 33)):
        m = vca & sel
        assert cap.at[name, "vca_cells"] == m.sum()
        assert math.isclose(cap.at[name, "cscc_tg"], np.sum(cscc[m] * area[m]) / 1e12, rel_tol=1e-9)
        npp_last = np.sum(y[-1][m] * area[m]) / 1e12
        assert math.isclose(cap.at[name, "current_npp_tg"], npp_last, rel_tol=1e-9)


# --- the input checks in batch mode (fast, on the CLI's small case) ----------------------------


def small_args(npp, regions, store, out, mode):
    return (
        "run",
        "--npp",
        npp,
        "--regions",
        regions,
        *YEAR_ARGS,
        "--store",
        store,
        "--out",
        out,
        "--mode",
        mode,
    )


def test_batch_makes_the_input_checks_as_a_table_export(
    cli_data, tmp_path, run_cli, quick_report, monkeypatch
):
    """Batch never calls the interactive check; its report equals the interactive one."""
    store = tmp_path / "store"
    inter = run_cli(
        *small_args(cli_data.npp_nc, cli_data.geojson, store, tmp_path / "i", "interactive")
    )
    assert inter.code == 0, inter.err

    def interactive_check(*args, **kwargs):
        raise AssertionError("batch mode made the interactive input check")

    monkeypatch.setattr("gee_cscc.workflow.analyze.check_inputs", interactive_check)
    batch = run_cli(*small_args(cli_data.npp_nc, cli_data.geojson, store, tmp_path / "b", "batch"))
    assert batch.code == 0, batch.err
    assert "input checks: 1/1 done" in batch.err
    info = json.loads((tmp_path / "b" / "run.json").read_text())
    checks = info["summary"]["input_checks"]
    assert (
        checks == json.loads((tmp_path / "i" / "run.json").read_text())["summary"]["input_checks"]
    )
    # Against NumPy (tests/helpers.py's cube and regions).
    cube = make_small_cube()
    finite = np.isfinite(cube)
    assert checks["valid_cells"] == {
        str(y): int(finite[i].sum()) for i, y in enumerate(SMALL_YEARS)
    }
    assert checks["cells_valid_every_year"] == int(finite.all(axis=0).sum())
    assert checks["region_cells"] == int((small_region_ids() > 0).sum())
    table = info["batch"]["input_checks"]
    assert table == f"{info['batch']['asset_root']}/tables/input_checks"
    manifest = json.loads((tmp_path / "b" / "export_tasks.json").read_text())
    entry = manifest["tasks"][f"asset:{table}"]
    assert entry["state"] == "COMPLETED" and entry["run_hash"] == info["batch"]["run_hash"]

    # A rerun reads the finished check back and starts nothing.
    again = run_cli(*small_args(cli_data.npp_nc, cli_data.geojson, store, tmp_path / "b", "batch"))
    assert again.code == 0, again.err
    assert "input checks: exported in an earlier run" in again.err
    rerun = json.loads((tmp_path / "b" / "run.json").read_text())
    assert rerun["summary"]["input_checks"] == checks


@pytest.mark.parametrize("mode", ["interactive", "batch"])
def test_a_refused_input_and_a_warning_read_the_same_in_both_modes(
    mode, cli_data, tmp_path, run_cli, quick_report
):
    """An NPP asset with a year without a valid cell: the same one-line refusal in both
    modes, and nothing else is exported in batch; a region outside the grid: the same
    warning."""
    from gee_cscc.engine import AssetStore

    store = tmp_path / "store"
    cube = make_small_cube()
    cube[3] = np.nan  # 2004: no valid cell
    asset = "projects/local-project/assets/mine/npp_gap"
    AssetStore(store).put_collection(
        asset, cube_of(cube, SMALL_YEARS, origin=(100.0, 40.0), pixel_size=1.0), band="npp"
    )
    result = run_cli(*small_args(asset, cli_data.geojson, store, tmp_path / "o", mode), "-q")
    assert result.code == 1
    assert result.err_lines == [
        f"gee-cscc run: error: NPP year 2004 of '{asset}' has no valid cell (every value is "
        "masked): the run needs every year; fix the year or leave it out with start/end."
    ]
    if mode == "batch":  # only the check's table export was made
        manifest = json.loads((tmp_path / "o" / "export_tasks.json").read_text())
        assert [k.rsplit("/", 1)[1] for k in manifest["tasks"]] == ["input_checks"]

    regions = json.loads(cli_data.geojson.read_text())
    far = json.loads(json.dumps(regions["features"][0]))
    far["properties"] = {"abbr": "Far", "name": "Far away"}
    far["geometry"]["coordinates"] = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
    regions["features"].append(far)
    with_far = tmp_path / "far.geojson"
    with_far.write_text(json.dumps(regions))
    quiet = ("-q",) if mode == "batch" else ()  # --quiet still shows warnings, alone
    ok = run_cli(*small_args(cli_data.npp_nc, with_far, store, tmp_path / "w", mode), *quiet)
    assert ok.code == 0, ok.err
    warning = "warning: 1 region(s) of "
    lines = [line.split("] ", 1)[-1] for line in ok.err_lines if warning in line]
    assert lines == [f"{warning}{with_far} hold no grid cell: Far"], ok.err
    if quiet:
        assert ok.err_lines == [f"{warning}{with_far} hold no grid cell: Far"]


@pytest.mark.parametrize(
    ("budget", "limits", "expected"),
    [
        (2**20, Limits(), 2**20),  # Google's 10 M / 8 = 1.25 M: the 1 Mpx default stands
        (2**20, LIMITS, 10_000),  # 80,000 / 8
        (50, LIMITS, 50),  # a smaller budget wins
        (2**20, Limits(max_pixels=4), 1),  # at least one pixel
    ],
)
def test_the_preview_is_an_eighth_of_the_engines_max_pixels_at_most(budget, limits, expected):
    from gee_cscc.workflow.modes import preview_pixels

    assert preview_pixels(budget, limits) == expected
