"""Batch mode (gee_cscc.workflow.batch): tables from table exports, rasters exported, a preview.

One demo-like case (24 x 30 px at 0.5°, 2001–2008, reference 2004, three regions and cells
outside every region and outside the VCA) runs on the session's local engine in both modes.
Batch tables must equal the interactive ones to 1e-9 and NumPy's reading of METHOD.md; the
preview must be the analysis pixels at the preview pixels' centres; reruns resume, and a
changed configuration is never resumed.
"""

from __future__ import annotations

import json
import math

import ee
import numpy as np
import pandas as pd
import pytest

from gee_cscc.cloud.tasks import RUN_HASH_PROPERTY, TaskManifest
from gee_cscc.config import Config
from gee_cscc.errors import ResumeMismatch
from gee_cscc.method import regions_from_features
from gee_cscc.testing import (
    assert_pixels_equal,
    compute_pixels,
    cube_of,
    ensure_initialized,
    grid,
    lonlat_cell_areas,
)
from gee_cscc.workflow.analyze import analyze
from gee_cscc.workflow.batch import BatchOptions
from gee_cscc.workflow.export_run import export_run

YEARS = list(range(2001, 2009))
H, W = 24, 30
X0, Y0, RES = 100.0, 40.0, 0.5
TRANSFORM = (RES, 0.0, X0, 0.0, -RES, Y0)
CFG = Config(start=2001, end=2008, reference_year=2004, pcs_years=(2001, 2008))
POLL = 0.05
#: Preview pixels per layer that force a coarsening factor of 4 on the 24 x 30 grid.
PREVIEW = 50
TABLES = ("capacity", "maintenance_counts", "yearly", "trend_summary", "resilience")


def make_cube() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(len(YEARS), dtype=float)
    base = rng.uniform(100, 900, (H, W))
    slope = rng.normal(0, 20, (H, W))
    cube = base + slope * t[:, None, None] + rng.normal(0, 25, (len(YEARS), H, W))
    cube = np.round(cube * 4) / 4
    cube[:, :2, :3] = np.nan  # never valid: outside the VCA
    cube[5, 10, 10] = np.nan  # one gap: outside the VCA
    cube[:, 20, 25] = -3.0  # mean <= 0: outside the VCA
    return cube


def regions_geojson() -> dict:
    def box(x0, x1, y0, y1, abbr):
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {
            "type": "Feature",
            "properties": {"abbr": abbr},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    # Columns 0-9 / 10-19 / 20-29; rows 20-23 of the last one belong to no region.
    return {
        "type": "FeatureCollection",
        "features": [
            box(100.0, 105.0, 28.0, 40.0, "A"),
            box(105.0, 110.0, 28.0, 40.0, "B"),
            box(110.0, 115.0, 30.0, 40.0, "C"),
        ],
    }


def vca_and_cscc() -> tuple[np.ndarray, np.ndarray]:
    """METHOD.md §1–§2 with NumPy: valid every year with mean > 0; CSCC = max NPP."""
    y = make_cube()
    valid = np.all(np.isfinite(y), axis=0)
    filled = np.where(np.isfinite(y), y, 0.0)
    vca = valid & (filled.mean(axis=0) > 0)
    cscc = np.where(vca, np.where(np.isfinite(y), y, -np.inf).max(axis=0), np.nan)
    return vca, cscc


def numpy_maintenance() -> dict[int, np.ndarray]:
    """METHOD.md §4 with NumPy: P per evaluation year 2004–2008, NaN outside the VCA.

    S = sign of the OLS slope over 2001..year (0 within 1e-6); P starts as S at 2004 and
    keeps its value where S equals it, else becomes 0.
    """
    y, (vca, _) = make_cube(), vca_and_cscc()
    years = np.array(YEARS, dtype=float)
    p, prev = {}, None
    for i, year in enumerate(YEARS):
        if year < 2004:
            continue
        t = years[: i + 1] - years[: i + 1].mean()
        k = np.einsum("t,tyx->yx", t, y[: i + 1] - y[: i + 1].mean(axis=0)) / np.sum(t * t)
        s = np.where(np.abs(k) < 1e-6, 0.0, np.sign(k))
        prev = s if prev is None else np.where(s != prev, 0.0, prev)
        p[year] = np.where(vca, prev, np.nan)
    return p


def region_ids() -> np.ndarray:
    ids = np.zeros((H, W), dtype=int)
    ids[:, :10] = 1
    ids[:, 10:20] = 2
    ids[:20, 20:] = 3
    return ids


@pytest.fixture(scope="module")
def case(engine):
    # The module's fixtures use ``ee`` before the per-test re-point: point it at the session
    # engine here, whatever an earlier module left it on.
    ensure_initialized(engine)
    root = "projects/local-project/assets/t/batch-mode"
    npp = f"{root}/npp"
    engine.store.put_collection(
        npp, cube_of(make_cube(), YEARS, origin=(X0, Y0), pixel_size=RES), band="npp"
    )
    engine.store.put_table(f"{root}/regions", regions_geojson())
    return {"npp": npp, "regions": f"{root}/regions", "root": root}


def regions(case):
    return regions_from_features(
        ee.FeatureCollection(case["regions"]), name_property="abbr", source=case["regions"]
    )


def run(case, mode, *, cfg=CFG, **options):
    batch = BatchOptions(poll_seconds=POLL, preview_pixels=PREVIEW, **options)
    return analyze(case["npp"], cfg, regions=regions(case), extent="input", mode=mode, batch=batch)


@pytest.fixture(scope="module")
def interactive(case):
    return analyze(case["npp"], CFG, regions=regions(case), extent="input", mode="interactive")


@pytest.fixture(scope="module")
def batch(case, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch-out")
    return run(case, "batch", task_dir=out, asset_root=f"{case['root']}/exports"), out


def assert_tables_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if pd.api.types.is_numeric_dtype(a[col]) and pd.api.types.is_numeric_dtype(b[col]):
            np.testing.assert_allclose(y.astype(float), x.astype(float), rtol=1e-9, atol=0)
        else:
            assert list(map(str, x)) == list(map(str, y)), col


# --- identical tables -------------------------------------------------------------------------


def test_batch_tables_equal_interactive_tables(interactive, batch):
    results, _ = batch
    assert (interactive.mode, results.mode) == ("interactive", "batch")
    for name in TABLES:
        assert_tables_equal(getattr(interactive, name), getattr(results, name))


def test_batch_tables_match_numpy(batch):
    results, _ = batch
    y = make_cube()
    vca, cscc = vca_and_cscc()
    area = lonlat_cell_areas(TRANSFORM, (H, W))
    ids = region_ids()
    cap = results.capacity.set_index("region")
    for name, sel in (("ALL", np.ones((H, W), bool)), ("A", ids == 1), ("C", ids == 3)):
        m = vca & sel
        assert cap.at[name, "vca_cells"] == m.sum()
        assert math.isclose(cap.at[name, "cscc_tg"], np.sum(cscc[m] * area[m]) / 1e12, rel_tol=1e-9)
        npp_last = np.sum(y[-1][m] * area[m]) / 1e12
        assert math.isclose(cap.at[name, "current_npp_tg"], npp_last, rel_tol=1e-9)
    yearly = results.yearly.set_index("year")
    for i, year in enumerate(YEARS):
        total = np.sum(y[i][vca] * area[vca]) / 1e15
        assert math.isclose(yearly.at[year, "total_npp_pg"], total, rel_tol=1e-9)
    # Maintenance at the reference year: the sign of the OLS slope over 2001..2004.
    t = np.arange(4, dtype=float) - 1.5
    slopes = np.einsum("t,tyx->yx", t, y[:4]) / np.sum(t * t)
    counts = results.maintenance_counts
    ref = counts[(counts["region"] == "B") & (counts["year"] == 2004)].iloc[0]
    assert ref["n_pos"] == np.sum(vca & (ids == 2) & (slopes > 1e-6))
    assert ref["n_neg"] == np.sum(vca & (ids == 2) & (slopes < -1e-6))


# --- what batch mode writes and brings back ---------------------------------------------------


def test_the_preview_is_the_analysis_pixels_at_its_centres(batch):
    results, _ = batch
    k = 4  # the smallest factor with ceil(24/k) * ceil(30/k) <= 50
    assert results.run_notes["batch"]["preview"]["factor"] == k
    grid = results.raster_grid
    assert grid.shape == (6, 8)
    assert grid.transform == (RES * k, 0.0, X0, 0.0, -RES * k, Y0)
    _, cscc = vca_and_cscc()
    # Preview pixel (i, j) covers analysis rows 4i..4i+3 and columns 4j..4j+3; its centre
    # falls on analysis pixel (4i + 2, 4j + 2). The last column's centre (column 30) lies
    # beyond the 30-column grid: masked.
    rows, cols = np.arange(k // 2, H, k), np.arange(k // 2, W, k)
    centre = np.ix_(rows, cols)
    expected = np.full((6, 8), np.nan)
    expected[:, :7] = cscc[centre]
    got = results.rasters["cscc"].values
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-6)
    np.testing.assert_array_equal(results.rasters["region"].values[:, :7], region_ids()[centre])
    assert results.rasters["maintenance"].sizes["year"] == 5
    assert results.summary["raster_grid"]["shape"] == [6, 8]
    assert results.summary["grid"]["shape"] == [H, W]
    assert "preview" in results.run_notes["rasters_note"]


def test_exports_carry_the_run_hash_and_the_manifest_records_it(batch, case):
    results, out = batch
    info = results.run_notes["batch"]
    root = info["asset_root"]
    assert root == f"{case['root']}/exports"
    manifest = json.loads((out / "export_tasks.json").read_text())
    assert manifest["run_hash"] == info["run_hash"]
    entries = manifest["tasks"]
    # the input checks, the sums table, the result image, the maintenance image, 2 PCS years.
    assert len(entries) == 1 + 1 + 1 + 1 + 2
    assert {e["state"] for e in entries.values()} == {"COMPLETED"}
    assert {e["run_hash"] for e in entries.values()} == {info["run_hash"]}
    for asset in (f"{root}/result", f"{root}/tables/sums", f"{root}/maintenance"):
        props = ee.data.getAsset(asset)["properties"]
        assert props[RUN_HASH_PROPERTY] == info["run_hash"]
    table = ee.FeatureCollection(f"{root}/tables/sums").getInfo()["features"]
    assert sorted(f["properties"]["region_id"] for f in table) == [0, 1, 2, 3]
    # every table's sums in that one table: capacity, yearly, trend classes, counts
    columns = set(table[0]["properties"])
    assert {"region_id", "pos_2004", "neg_2008"} <= columns and len(columns) > 20
    exported = ee.data.computePixels(
        {
            "expression": ee.Image(f"{root}/result").select("cscc_year"),
            "fileFormat": "NUMPY_NDARRAY",
        }
    )["cscc_year"]
    cell = (15, 12)
    assert exported[cell] == YEARS[int(np.argmax(make_cube()[:, cell[0], cell[1]]))]


def test_the_maintenance_surfaces_are_one_export_with_a_band_per_year(batch):
    results, out = batch
    root = results.run_notes["batch"]["asset_root"]
    keys = [k for k in TaskManifest.in_dir(out).entries if "maintenance" in k]
    assert keys == [f"asset:{root}/maintenance"]
    info = ee.data.getAsset(f"{root}/maintenance")
    assert info["type"] == "IMAGE"
    assert json.loads(info["properties"]["gee_cscc_years"]) == [2004, 2005, 2006, 2007, 2008]
    image = ee.Image(f"{root}/maintenance")
    expected = numpy_maintenance()
    assert image.bandNames().getInfo() == [f"P_{y}" for y in expected]
    pixels = compute_pixels(image, grid(TRANSFORM, (H, W)))
    for year, p in expected.items():
        assert_pixels_equal(pixels[f"P_{year}"], p, rtol=0, what=f"P_{year}")
    # the preview's maintenance layers are read from those bands (factor 4: centre pixels)
    preview = results.rasters["maintenance"]
    centre = np.ix_(np.arange(2, H, 4), np.arange(2, W, 4))
    for year, p in expected.items():
        got = preview.sel(year=year).values[:, :7]
        np.testing.assert_array_equal(got, p[centre])


def _old_manifest_refused(case, task_dir, root, old: dict) -> str:
    """Write an older version's manifest to ``task_dir``, run there: the one-line refusal
    (it names ``--restart``)."""
    (task_dir / "export_tasks.json").write_text(json.dumps(old))
    with pytest.raises(ResumeMismatch) as info:
        run(case, "batch", task_dir=task_dir, asset_root=root)
    message = str(info.value)
    assert "--restart" in message and "\n" not in message
    return message


def test_a_manifest_of_the_old_layout_is_refused_then_redone_with_restart(engine, case, tmp_path):
    root = f"{case['root']}/old-layout"
    old = {  # what an older version recorded: one maintenance task per year, no layout
        "version": 1,
        "run_hash": "b" * 64,
        "run": {"version": "0.1.0", "kind": "batch"},
        "tasks": {
            f"asset:{root}/maintenance/2004": {
                "id": "X1",
                "name": "projects/local-project/operations/X1",
                "state": "COMPLETED",
                "run_hash": "b" * 64,
            }
        },
    }
    message = _old_manifest_refused(case, tmp_path, root, old)
    assert "older version" in message and "ROOT/maintenance/<year>" in message
    # The old ImageCollection at ROOT/maintenance (one image per year) is replaced too.
    old_surfaces = cube_of(make_cube()[3:5], [2004, 2005], origin=(X0, Y0), pixel_size=RES)
    engine.store.put_collection(f"{root}/maintenance", old_surfaces, band="P")
    assert ee.data.getAsset(f"{root}/maintenance/2004")["type"] == "IMAGE"
    fresh = tmp_path / "fresh"
    with pytest.raises(ResumeMismatch, match="ImageCollection of one maintenance surface"):
        run(case, "batch", task_dir=fresh, asset_root=root)
    redone = run(case, "batch", task_dir=tmp_path, asset_root=root, restart=True)
    entries = TaskManifest.in_dir(tmp_path).entries
    assert f"asset:{root}/maintenance/2004" not in entries
    assert entries[f"asset:{root}/maintenance"]["state"] == "COMPLETED"
    assert ee.data.getAsset(f"{root}/maintenance")["type"] == "IMAGE"
    assert redone.capacity["vca_cells"].iloc[0] > 0


def test_a_manifest_of_four_table_exports_is_refused_then_redone_with_restart(case, tmp_path):
    from gee_cscc.workflow.batch_layers import EXPORT_LAYOUT

    root = f"{case['root']}/four-tables"
    old = {  # an older batch run: a table export per table (capacity, yearly, ...)
        "version": 1,
        "run_hash": "c" * 64,
        "run": {"version": "0.1.0", "kind": "batch", "layout": EXPORT_LAYOUT},
        "tasks": {
            f"asset:{root}/tables/{t}": {
                "id": f"T{i}",
                "name": f"projects/local-project/operations/T{i}",
                "state": "COMPLETED",
                "run_hash": "c" * 64,
            }
            for i, t in enumerate(("capacity", "yearly", "trend_classes", "maintenance"))
        },
    }
    message = _old_manifest_refused(case, tmp_path, root, old)
    assert "four tables" in message and "ROOT/tables/sums" in message
    assert json.loads((tmp_path / "export_tasks.json").read_text()) == old  # untouched
    redone = run(case, "batch", task_dir=tmp_path, asset_root=root, restart=True)
    entries = TaskManifest.in_dir(tmp_path).entries
    assert not any(k.endswith(("/capacity", "/yearly", "/trend_classes")) for k in entries)
    assert entries[f"asset:{root}/tables/sums"]["state"] == "COMPLETED"
    assert redone.capacity["vca_cells"].iloc[0] > 0


# --- resuming ----------------------------------------------------------------------------------


def test_a_rerun_skips_every_finished_task(batch, case):
    results, out = batch
    before = TaskManifest.in_dir(out).entries
    again = run(case, "batch", task_dir=out, asset_root=f"{case['root']}/exports")
    assert TaskManifest.in_dir(out).entries.keys() == before.keys()
    assert {k: e["id"] for k, e in TaskManifest.in_dir(out).entries.items()} == {
        k: e["id"] for k, e in before.items()
    }
    assert_tables_equal(results.capacity, again.capacity)


class Interrupted(Exception):
    pass


def test_killed_between_tasks_the_rerun_keeps_what_finished(case, tmp_path):
    root = f"{case['root']}/killed"

    def stop_after_the_table_exports(message: str) -> None:
        if message.startswith("table exports"):
            raise Interrupted

    batch = BatchOptions(task_dir=tmp_path, asset_root=root, poll_seconds=POLL)
    with pytest.raises(Interrupted):
        analyze(
            case["npp"],
            CFG,
            regions=regions(case),
            extent="input",
            mode="batch",
            batch=batch,
            progress=stop_after_the_table_exports,
        )
    first = TaskManifest.in_dir(tmp_path).entries
    tables = sorted(("input_checks", *TABLES_EXPORTED))
    assert sorted(first) == [f"asset:{root}/tables/{t}" for t in tables]
    for entry in first.values():  # let the started table tasks finish
        while not ee.data.getOperation(entry["name"]).get("done"):
            pass
    results = run(case, "batch", task_dir=tmp_path, asset_root=root)
    entries = TaskManifest.in_dir(tmp_path).entries
    assert len(entries) == 6
    for key, entry in first.items():
        assert entries[key]["id"] == entry["id"]  # not started again
    assert results.capacity["vca_cells"].iloc[0] > 0


TABLES_EXPORTED = ("sums",)


def test_a_missing_exported_asset_is_exported_again(batch, case, tmp_path):
    root = f"{case['root']}/redo"
    run(case, "batch", task_dir=tmp_path, asset_root=root)
    before = TaskManifest.in_dir(tmp_path).entries
    ee.data.deleteAsset(f"{root}/pcs/2008")
    run(case, "batch", task_dir=tmp_path, asset_root=root)
    after = TaskManifest.in_dir(tmp_path).entries
    changed = sorted(k for k in after if after[k]["id"] != before[k]["id"])
    assert changed == [f"asset:{root}/pcs/2008"]


def test_a_changed_configuration_is_refused_then_redone_with_restart(batch, case):
    results, out = batch
    changed = CFG.replace(alpha=0.1)
    with pytest.raises(ResumeMismatch) as info:
        run(case, "batch", cfg=changed, task_dir=out, asset_root=f"{case['root']}/exports")
    message = str(info.value)
    assert "\n" not in message
    assert "--restart" in message and "different configuration" in message
    old_hash = results.run_notes["batch"]["run_hash"]
    assert TaskManifest.in_dir(out).run_hash == old_hash  # nothing was touched

    # The same asset root from a fresh OUT: the old run's assets are not taken either.
    fresh = out.parent / "fresh-out"
    with pytest.raises(ResumeMismatch, match="exists from run"):
        run(case, "batch", cfg=changed, task_dir=fresh, asset_root=f"{case['root']}/exports")

    redone = run(
        case, "batch", cfg=changed, task_dir=out, asset_root=f"{case['root']}/exports", restart=True
    )
    new_hash = redone.run_notes["batch"]["run_hash"]
    assert new_hash != old_hash
    entries = TaskManifest.in_dir(out).entries
    assert {e["run_hash"] for e in entries.values()} == {new_hash}
    assert sorted(set(redone.trend_summary["alpha"])) == [0.01, 0.1]
    props = ee.data.getAsset(f"{case['root']}/exports/tables/sums")["properties"]
    assert props[RUN_HASH_PROPERTY] == new_hash


def test_export_refuses_a_manifest_of_another_configuration(case, tmp_path):
    root = f"{case['root']}/export-verb"
    manifest = TaskManifest.in_dir(tmp_path)
    export_run(case["npp"], CFG, asset_root=root, manifest=manifest)
    changed = CFG.replace(reference_year=2005)
    with pytest.raises(ResumeMismatch, match="--overwrite"):
        export_run(case["npp"], changed, asset_root=root, manifest=TaskManifest.in_dir(tmp_path))
    again = TaskManifest.in_dir(tmp_path)
    exported = export_run(case["npp"], changed, asset_root=root, manifest=again, overwrite=True)
    assert len(exported.tasks) == exported.skipped + len(exported.tasks)  # all started
    assert exported.skipped == 0


def test_tasks_without_a_run_hash_are_refused_only_where_reused(engine, tmp_asset, tmp_path):
    """``annualize`` and ``upload`` record unhashed tasks in the same default OUT: a bound
    run ignores them unless it exports to their destination."""
    from gee_cscc.cloud.exports import export_image
    from gee_cscc.cloud.tasks import wait_for_tasks

    taken, other, free = tmp_asset("taken"), tmp_asset("other"), tmp_asset("free")
    old = {"id": "X1", "name": "projects/local-project/operations/X1", "state": "COMPLETED"}
    (tmp_path / "export_tasks.json").write_text(
        json.dumps({"version": 1, "tasks": {f"asset:{taken}": old, f"asset:{other}": old}})
    )
    manifest = TaskManifest.in_dir(tmp_path)
    manifest.bind_run("a" * 64)  # nothing bound to another run: accepted
    grid = {"crs": "EPSG:4326", "crs_transform": TRANSFORM, "dimensions": (2, 2)}
    task = export_image(ee.Image.constant(1), asset_id=free, manifest=manifest, **grid)
    wait_for_tasks([task], poll_seconds=POLL, progress=lambda s: None, manifest=manifest)
    assert TaskManifest.in_dir(tmp_path).get(f"asset:{free}")["run_hash"] == "a" * 64
    with pytest.raises(ResumeMismatch, match="not of this configuration"):
        export_image(ee.Image.constant(1), asset_id=taken, manifest=manifest, **grid)
    restarted = TaskManifest.in_dir(tmp_path)
    restarted.bind_run("a" * 64, restart=True)
    again = export_image(ee.Image.constant(1), asset_id=taken, manifest=restarted, **grid)
    assert again is not None and again.id != "X1"


def test_rasters_to_drive_files_and_a_preview_evaluated_on_the_preview_grid(
    engine, case, interactive, tmp_path
):
    results = run(
        case,
        "batch",
        task_dir=tmp_path,
        asset_root=f"{case['root']}/to-drive",
        destination="drive",
        folder="batch-test",
        prefix="bm",
    )
    for name in TABLES:
        assert_tables_equal(getattr(interactive, name), getattr(results, name))
    folder = engine.store.root / "drive" / "batch-test"
    names = sorted(p.name for p in folder.glob("bm_*.tif"))
    assert names == sorted(
        ["bm_result.tif"] + ["bm_maintenance.tif"] + ["bm_pcs_2001.tif", "bm_pcs_2008.tif"]
    )
    info = results.run_notes["batch"]
    assert info["rasters"]["destination"] == "drive"
    assert info["preview"]["source"] == "expressions evaluated on the preview grid"
    _, cscc = vca_and_cscc()
    expected = np.full((6, 8), np.nan)
    expected[:, :7] = cscc[np.ix_(np.arange(2, H, 4), np.arange(2, W, 4))]
    got = results.rasters["cscc"].values
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-6)


def test_input_versions_follow_content_not_timestamps(engine, tmp_asset, tmp_path):
    import hashlib
    import os

    from gee_cscc.workflow.identity import input_version

    path = tmp_path / "regions.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    first = input_version(str(path))
    assert first["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    os.utime(path, (1_000_000, 1_000_000))  # touched, same bytes
    assert input_version(str(path)) == first
    path.write_text('{"type": "FeatureCollection", "features": [] }')
    assert input_version(str(path)) != first
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube_of(make_cube()[:3], YEARS[:3], origin=(X0, Y0)))
    version = input_version(asset)
    assert version["asset"] == asset and version["updated"] == ee.data.getAsset(asset)["updateTime"]
