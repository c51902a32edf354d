"""The cloud verbs of the command line: ``export``, ``share``, ``upload``, ``annualize``.

Each test drives ``gee_cscc.cli.main.main`` in-process against a local asset store in
``tmp_path``: every CLI call starts its own local engine on that store (and re-points
``ee`` at it), so results are read back with an engine of the test's own
(:func:`gee_cscc.testing.local_engine`, which points ``ee`` back when it stops). Expected
values come from NumPy on the inputs written here.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
import xarray as xr

import gee_cscc
from gee_cscc.cli.main import main
from gee_cscc.cloud.exports import TaskManifest
from gee_cscc.engine import AssetStore, LocalEngine
from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid_of, local_engine, npp_cube

PROJECT = "projects/local-project/assets"
NPP = f"{PROJECT}/inputs/npp"
ROOT = f"{PROJECT}/cscc_results"
YEARS = ["--start", "2001", "--end", "2005", "--reference", "2003"]
EVAL_YEARS = [2003, 2004, 2005]
PCS_YEARS = [2001, 2003, 2005]
BOB = "bob@example.com"

CUBE = npp_cube(range(2001, 2006), (4, 5), seed=7)  # all positive: every cell is in the VCA
GRID = grid_of(CUBE)
VALUES = CUBE.values  # (year, y, x)


@pytest.fixture
def store(tmp_path) -> Path:
    """A local store holding the annual NPP collection ``NPP``."""
    root = tmp_path / "store"
    AssetStore(root).put_collection(NPP, CUBE)
    return root


def cli(*args: str, store: Path) -> int:
    return main([*args, "--store", str(store)])


def export(store: Path, out: Path, *extra: str) -> int:
    return cli("export", "--npp", NPP, *YEARS, "--out", str(out), *extra, store=store)


def manifest_ids(out: Path) -> dict[str, str]:
    return {k: e["id"] for k, e in TaskManifest.in_dir(out).entries.items()}


def write_table(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "capacity_by_region.csv"
    path.write_text("region,cscc_tg,vca_cells\nALL,49.5,20\nBJ,1.25,3\n")
    return folder


# --- expected values (NumPy) ------------------------------------------------------------------


def expected_maintenance() -> dict[int, np.ndarray]:
    """P per evaluation year: signs of growing-window OLS slopes, kept while unchanged."""
    years = np.arange(2001, 2006)
    surfaces = {}
    for ti in EVAL_YEARS:
        n = int(ti - 2000)
        x = years[:n] - years[:n].mean()
        k = np.tensordot(x, VALUES[:n] - VALUES[:n].mean(axis=0), axes=(0, 0)) / (x**2).sum()
        surfaces[ti] = np.where(np.abs(k) < 1e-6, 0, np.sign(k))
    p = {EVAL_YEARS[0]: surfaces[EVAL_YEARS[0]]}
    for prev, ti in zip(EVAL_YEARS[:-1], EVAL_YEARS[1:], strict=True):
        p[ti] = np.where(surfaces[ti] != p[prev], 0, p[prev])
    return p


# --- export -----------------------------------------------------------------------------------


def test_export_to_assets_with_provenance_then_a_rerun_skips_and_overwrite_replaces(
    store, tmp_path, capsys
):
    out = tmp_path / "exp"
    tables = write_table(tmp_path / "run" / "tables")
    assert export(store, out, "--tables", str(tables)) == 0
    printed = capsys.readouterr()
    assert f"{ROOT}/result" in printed.out and "exports: 6/6 done" in printed.err
    assert f"{ROOT}/maintenance (bands P_<year>)" in printed.out

    entries = TaskManifest.in_dir(out).entries
    # result, ONE maintenance image (every evaluation year), the PCS years, the table
    assert len(entries) == 1 + 1 + len(PCS_YEARS) + 1
    assert {e["state"] for e in entries.values()} == {"COMPLETED"}
    assert f"asset:{ROOT}/result" in entries and f"asset:{ROOT}/pcs/2003" in entries
    assert f"asset:{ROOT}/maintenance" in entries
    assert not [k for k in entries if "/maintenance/" in k]

    with local_engine(store):
        result = ee.Image(f"{ROOT}/result")
        info = result.getInfo()
        assert [b["id"] for b in info["bands"]][:3] == ["vca", "cscc", "cscc_year"]
        assert "maintenance_years" in [b["id"] for b in info["bands"]]
        props = info["properties"]
        assert props["gee_cscc_version"] == gee_cscc.__version__
        assert json.loads(props["gee_cscc_inputs"]) == [NPP]
        config = json.loads(props["gee_cscc_config"])
        assert (config["start"], config["end"], config["reference_year"]) == (2001, 2005, 2003)
        pixels = compute_pixels(result, GRID)
        assert_pixels_equal(pixels["cscc"], VALUES.max(axis=0))
        assert_pixels_equal(pixels["cscc_year"], 2001 + VALUES.argmax(axis=0))
        assert_pixels_equal(pixels["vca"], np.ones(VALUES.shape[1:]))

        maintenance = expected_maintenance()
        asset = ee.data.getAsset(f"{ROOT}/maintenance")
        assert asset["type"] == "IMAGE"
        assert json.loads(asset["properties"]["gee_cscc_years"]) == EVAL_YEARS
        img = ee.Image(f"{ROOT}/maintenance")
        assert img.bandNames().getInfo() == [f"P_{y}" for y in EVAL_YEARS]
        got = compute_pixels(img, GRID)
        for year in EVAL_YEARS:
            assert_pixels_equal(got[f"P_{year}"], maintenance[year])
        held = sum((maintenance[y] != 0).astype(int) for y in EVAL_YEARS)
        assert_pixels_equal(pixels["maintenance_years"], held * maintenance[EVAL_YEARS[0]])

        pcs = ee.ImageCollection(f"{ROOT}/pcs")
        assert sorted(pcs.aggregate_array("year").getInfo()) == PCS_YEARS
        for year in PCS_YEARS:
            got = compute_pixels(ee.Image(f"{ROOT}/pcs/{year}"), GRID)["pcs"]
            assert_pixels_equal(got, VALUES.max(axis=0) - VALUES[year - 2001])
        assert ee.data.getAsset(f"{ROOT}/pcs")["properties"]["gee_cscc_product"] == "pcs"

        table = ee.FeatureCollection(f"{ROOT}/tables/capacity_by_region").getInfo()
        rows = [f["properties"] for f in table["features"]]
        assert rows == [
            {"region": "ALL", "cscc_tg": 49.5, "vca_cells": 20},
            {"region": "BJ", "cscc_tg": 1.25, "vca_cells": 3},
        ]

    # A rerun starts nothing: every destination exists.
    first = manifest_ids(out)
    assert export(store, out, "--tables", str(tables)) == 0
    assert "0 task(s) started or running, 6 destination(s) already exported" in (
        capsys.readouterr().err
    )
    assert manifest_ids(out) == first

    # --overwrite replaces them (new tasks, same values).
    assert export(store, out, "--overwrite", "-q") == 0
    again = manifest_ids(out)
    assert again[f"asset:{ROOT}/result"] != first[f"asset:{ROOT}/result"]
    assert (
        again[f"asset:{ROOT}/tables/capacity_by_region"]
        == (
            first[f"asset:{ROOT}/tables/capacity_by_region"]  # no --tables this time
        )
    )
    with local_engine(store):
        got = compute_pixels(ee.Image(f"{ROOT}/result"), GRID)["cscc"]
        assert_pixels_equal(got, VALUES.max(axis=0))


def read_tif(path: Path) -> dict[str, np.ndarray]:
    with rasterio.open(path) as src:
        assert src.nodata == -9999.0
        return {name: src.read(i + 1) for i, name in enumerate(src.descriptions)}


def test_export_to_cloud_storage_and_drive_files(store, tmp_path):
    tables = write_table(tmp_path / "tables")
    to_gcs = ["--to", "gcs", "--bucket", "bkt", "--prefix", "runs/a", "--tables", str(tables)]
    assert export(store, tmp_path / "e1", *to_gcs) == 0
    base = store / "gcs" / "bkt" / "runs"
    names = sorted(p.name for p in base.iterdir())
    assert names == sorted(
        ["a_result.tif", "a_capacity_by_region.csv"]
        + ["a_maintenance.tif"]
        + [f"a_pcs_{y}.tif" for y in PCS_YEARS]
    )
    bands = read_tif(base / "a_result.tif")
    np.testing.assert_array_equal(bands["cscc"], VALUES.max(axis=0))
    np.testing.assert_array_equal(
        read_tif(base / "a_pcs_2005.tif")["pcs"], VALUES.max(axis=0) - VALUES[-1]
    )
    with (base / "a_capacity_by_region.csv").open(newline="") as fh:
        assert list(csv.reader(fh)) == [
            ["region", "cscc_tg", "vca_cells"],
            ["ALL", "49.5", "20"],
            ["BJ", "1.25", "3"],
        ]

    assert export(store, tmp_path / "e2", "--to", "drive", "--folder", "results", "-q") == 0
    folder = store / "drive" / "results"
    assert (folder / "cscc_result.tif").is_file()
    assert sorted(p.name for p in folder.glob("cscc_maintenance*.tif")) == ["cscc_maintenance.tif"]
    with rasterio.open(folder / "cscc_maintenance.tif") as src:
        assert src.count == len(EVAL_YEARS) and set(src.dtypes) == {"int16"}
        assert list(src.descriptions) == [f"P_{y}" for y in EVAL_YEARS]
    bands = read_tif(folder / "cscc_maintenance.tif")
    for year, expected in expected_maintenance().items():
        np.testing.assert_array_equal(bands[f"P_{year}"], expected)


def test_an_old_per_year_maintenance_collection_is_refused_then_replaced(store, tmp_path, capsys):
    """An older version exported ROOT/maintenance as an ImageCollection (one image per year)."""
    AssetStore(store).put_collection(f"{ROOT}/maintenance", CUBE, band="P")
    assert export(store, tmp_path / "e1") != 0
    err = capsys.readouterr().err
    assert f"{ROOT}/maintenance is an ImageCollection" in err and "--overwrite" in err
    assert export(store, tmp_path / "e1", "--overwrite", "-q") == 0
    with local_engine(store):
        assert ee.data.getAsset(f"{ROOT}/maintenance")["type"] == "IMAGE"
        got = compute_pixels(ee.Image(f"{ROOT}/maintenance"), GRID)
        for year, expected in expected_maintenance().items():
            assert_pixels_equal(got[f"P_{year}"], expected)


def test_no_wait_returns_at_once_and_a_rerun_finishes(store, tmp_path, capsys):
    out = tmp_path / "exp"
    assert export(store, out, "--no-wait") == 0
    err = capsys.readouterr().err
    assert "not waiting" in err and "exports:" not in err  # no polling
    entries = TaskManifest.in_dir(out).entries
    assert len(entries) == 5 and all(e["id"] for e in entries.values())
    assert export(store, out) == 0
    assert {e["state"] for e in TaskManifest.in_dir(out).entries.values()} == {"COMPLETED"}
    with local_engine(store):
        got = compute_pixels(ee.Image(f"{ROOT}/result"), GRID)["cscc"]
        assert_pixels_equal(got, VALUES.max(axis=0))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", *YEARS], "No NPP input"),
        (["export", "--npp", NPP, "--to", "gcs"], "--to gcs needs --bucket"),
        (["export", "--npp", NPP, "--to", "gcs", "--bucket", "gs://b"], "bucket name"),
        (["export", "--npp", NPP, "--start", "2001", "--end", "2002"], "end: 2002"),
        (["export", "--npp", NPP, "--tables", "/nonexistent/tables"], "not a folder"),
        (["annualize", "--composites", "c8"], "needs --asset"),
        (["annualize", "--composites", "c8", "--asset", "a", "--years", "20x1"], "--years"),
        (["share", f"{PROJECT}/x"], "Nothing to do"),
        (["upload", "/nonexistent/dir", "--asset", "a"], "Not a folder"),
    ],
)
def test_bad_arguments_are_one_clear_line(tmp_path, capsys, args, message):
    assert main([*args, "--store", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"gee-cscc {args[0]}: error: ")
    assert message in err[0]


def test_earth_engine_without_credentials_says_how_to_authenticate(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise ee.EEException("Please authorize access to your Earth Engine account.")

    monkeypatch.setattr(ee, "Initialize", refuse)
    code = main(["share", "projects/my-project/assets/x", "--show"] + ["--engine", "earthengine"])
    assert code == 1 and "--project" in capsys.readouterr().err
    code = main(["share", "x", "--show", "--engine", "earthengine", "--project", "my-project"])
    err = capsys.readouterr().err
    assert code == 1 and "earthengine authenticate" in err and "my-project" in err


# --- share ------------------------------------------------------------------------------------


def test_share_a_reader_then_show_and_the_acl_is_enforced(store, capsys):
    shared, private = f"{PROJECT}/shared", f"{PROJECT}/private"
    writer = AssetStore(store)
    writer.put_image(shared, CUBE.sel(year=2001, drop=True))
    writer.put_image(private, CUBE.sel(year=2002, drop=True))

    assert cli("share", shared, "--reader", BOB, store=store) == 0
    assert "ACL changed" in capsys.readouterr().out
    assert cli("share", shared, "--show", store=store) == 0
    shown = capsys.readouterr().out
    assert f"readers: user:{BOB}" in shown
    assert "public read: no" in shown  # --public is never implied
    assert cli("share", shared, "--reader", BOB, store=store) == 0
    assert "ACL unchanged" in capsys.readouterr().out

    with LocalEngine(store=store) as engine, engine.as_user(f"user:{BOB}"):
        assert ee.Image(shared).getInfo()["bands"][0]["id"] == "npp"
        with pytest.raises(ee.EEException, match="Permission denied"):
            ee.Image(private).getInfo()

    assert (
        cli("share", private, "--public", "--writer", "carol@example.com", "--show", store=store)
        == 0
    )
    shown = capsys.readouterr().out
    assert "public read: yes" in shown and "writers: user:carol@example.com" in shown


# --- upload -----------------------------------------------------------------------------------


def write_tif(path: Path, values: np.ndarray, nodata: float = -9999.0) -> None:
    h, w = values.shape
    a, b, c, d, e, f = CUBE.attrs["transform"]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=rasterio.Affine(a, b, c, d, e, f),
        nodata=nodata,
    ) as dst:
        dst.write(np.where(np.isnan(values), nodata, values).astype("float32"), 1)


def test_upload_a_folder_of_annual_geotiffs(tmp_path, capsys):
    store = tmp_path / "store"
    folder = tmp_path / "annual"
    folder.mkdir()
    arrays = {2001: VALUES[0].copy(), 2002: VALUES[1].copy()}
    arrays[2002][0, 0] = np.nan
    for year, arr in arrays.items():
        write_tif(folder / f"npp_{year}.tif", arr)
    (folder / "README.txt").write_text("not a raster")

    assert cli("upload", str(folder), "--asset", "uploads/npp", store=store) == 0
    assert "wrote 2 image(s) (2001, 2002)" in capsys.readouterr().out
    coll = f"{PROJECT}/uploads/npp"
    with local_engine(store):
        for year, arr in arrays.items():
            props = ee.Image(f"{coll}/{year}").getInfo()["properties"]
            assert props["year"] == year
            start = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000
            assert props["system:time_start"] == int(start)
            assert_pixels_equal(compute_pixels(ee.Image(f"{coll}/{year}"), GRID)["npp"], arr)
    assert cli("upload", str(folder), "--asset", "uploads/npp", store=store) == 0
    assert "skipped 2 existing image(s)" in capsys.readouterr().out

    # Through ingestion from (the local engine's) Cloud Storage, as on Earth Engine.
    target = store / "gcs" / "bkt" / "annual"
    target.mkdir(parents=True)
    for path in folder.glob("*.tif"):
        (target / path.name).write_bytes(path.read_bytes())
    ingest = ["--asset", "uploads/ingested", "--gcs-prefix", "gs://bkt/annual", "--band", "b"]
    assert cli("upload", str(folder), *ingest, store=store) == 0
    with local_engine(store):
        img = ee.Image(f"{PROJECT}/uploads/ingested/2002")
        assert img.get("year").getInfo() == 2002
        assert_pixels_equal(compute_pixels(img, GRID)["b"], arrays[2002])


def test_upload_to_earth_engine_needs_a_gcs_prefix(tmp_path, capsys):
    folder = tmp_path / "annual"
    folder.mkdir()
    code = main(["upload", str(folder), "--asset", "a", "--engine", "earthengine"])
    assert code == 1 and "--gcs-prefix" in capsys.readouterr().err


# --- annualize --------------------------------------------------------------------------------

T8 = (1.0, 0.0, 20.0, 0.0, -1.0, 30.0)
SHAPE8 = (2, 3)


def layer(values: np.ndarray) -> xr.DataArray:
    h, w = values.shape
    a, _, c, _, e, f = T8
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": f + e * (np.arange(h) + 0.5), "x": c + a * (np.arange(w) + 0.5)},
        name="npp",
        attrs={"crs": "EPSG:4326", "transform": T8},
    )


def test_annualize_an_8_day_year(tmp_path, capsys):
    store = tmp_path / "store"
    writer = AssetStore(store)
    c8 = f"{PROJECT}/modis/c8"
    writer.create(c8, "IMAGE_COLLECTION")
    rng = np.random.default_rng(3)
    rates = rng.uniform(0.0, 3.0, (46, *SHAPE8))  # g C m-2 d-1
    rates[:, 0, 0] = 1.0  # hand-worked: 365 days × 1
    rates[:, 0, 1] = np.arange(46) / 10.0  # hand-worked below
    rates[7, 1, 2] = np.nan  # one missing composite: the year is unknown there
    for i in range(46):
        start = dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=8 * i)
        # Stored as integers × 0.5, like a product with a scale factor.
        writer.put_image(
            f"{c8}/d{i:02d}",
            layer(rates[i] * 2.0),
            {"system:time_start": int(start.timestamp() * 1000)},
        )
    args = ["--composites", c8, "--asset", "modis/annual", "--scale-factor", "0.5"]
    args += ["--years", "2019", "--out", str(tmp_path / "exp")]
    assert cli("annualize", *args, store=store) == 0
    assert "g C m-2 yr-1, already scaled" in capsys.readouterr().out

    days = np.array([8] * 45 + [5])  # the last composite of 2019 covers 27–31 December
    expected = np.tensordot(days, rates, axes=(0, 0))
    # By hand: 0.8 × (0 + 1 + … + 44) + 5 × 4.5 = 792 + 22.5.
    assert expected[0, 0] == pytest.approx(365.0) and expected[0, 1] == pytest.approx(814.5)
    out = f"{PROJECT}/modis/annual"
    with local_engine(store):
        img = ee.Image(f"{out}/2019")
        info = img.getInfo()
        band = info["bands"][0]
        assert band["crs_transform"] == list(T8) and band["dimensions"] == [3, 2]
        assert info["properties"]["year"] == 2019
        assert info["properties"]["units"] == "g C m-2 yr-1"
        assert json.loads(info["properties"]["gee_cscc_inputs"]) == [c8]
        got = compute_pixels(img, grid_of(layer(rates[0])))["npp"]
        assert got[0, 0] == pytest.approx(365.0, rel=1e-12)
        assert got[0, 1] == pytest.approx(814.5, rel=1e-12)
        assert_pixels_equal(got, expected, rtol=1e-9)  # NaN (1, 2): masked
        assert ee.data.getAsset(out)["properties"]["gee_cscc_product"] == "annual_npp"
