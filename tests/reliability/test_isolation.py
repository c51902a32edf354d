"""Runs that share a store never mix their data (content-addressed inputs, store locks).

Two ``gee-cscc run`` processes on one store, with different inputs, started 0, 0.5, 1 and
2 s apart, must each write exactly what the same run writes alone (tables byte for byte,
rasters value for value). Before the fix both wrote ``inputs/npp`` and ``inputs/regions``,
and a run could come out with the other run's rasters.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from cli_procs import finish, start_run, write_case

from gee_cscc.report.outputs import TABLE_FILES
from gee_cscc.version import __version__
from gee_cscc.workflow.inputs import HASH_PROPERTY, INPUT_SCHEME, input_key

RASTERS = ("vca", "cscc", "cscc_year", "pcs", "trend_slope", "maintenance", "region")


def _result(out: Path) -> dict:
    """Tables as bytes, rasters as arrays (run.json and the report hold times)."""
    got = {name: (out / "tables" / name).read_bytes() for name in TABLE_FILES}
    for name in RASTERS:
        with rasterio.open(out / "rasters" / f"{name}.tif") as src:
            got[name] = src.read()
    return got


def _assert_same(got: dict, want: dict, label: str) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, bytes):
            assert got[key] == value, f"{label}: {key} differs from the solo run"
        else:
            np.testing.assert_array_equal(got[key], value, err_msg=f"{label}: {key}")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("isolation")
    a, b = write_case(root / "in", "a"), write_case(root / "in", "b")
    solo = {}
    procs = {
        k: start_run(*case, root / f"store-{k}", root / f"solo-{k}")
        for k, case in (("a", a), ("b", b))
    }
    for k, proc in procs.items():  # each alone on its own store
        code, _, err = finish(proc)
        assert code == 0, err
        solo[k] = _result(root / f"solo-{k}")
    # The two cases differ in every table (so a mix cannot pass unnoticed).
    for name in TABLE_FILES:
        assert solo["a"][name] != solo["b"][name], name
    return root, a, b, solo


@pytest.mark.parametrize(
    "delay",
    [
        0.0,
        pytest.param(0.5, marks=pytest.mark.slow),
        1.0,
        pytest.param(2.0, marks=pytest.mark.slow),
    ],
)
def test_concurrent_runs_on_one_store_give_their_solo_results(cases, tmp_path, delay):
    root, a, b, solo = cases
    store = tmp_path / "shared-store"
    first = start_run(*a, store, tmp_path / "out-a")
    time.sleep(delay)
    second = start_run(*b, store, tmp_path / "out-b")
    for proc in (first, second):
        code, _, err = finish(proc)
        assert code == 0, err
        assert err == ""
    _assert_same(_result(tmp_path / "out-a"), solo["a"], f"a (delay {delay})")
    _assert_same(_result(tmp_path / "out-b"), solo["b"], f"b (delay {delay})")


def test_two_runs_on_the_same_input_at_once_store_it_once(cases, tmp_path):
    root, a, _, solo = cases
    store = tmp_path / "shared-store"
    procs = [start_run(*a, store, tmp_path / f"out-{i}") for i in range(2)]
    for proc in procs:
        code, _, err = finish(proc)
        assert code == 0, err
    for i in range(2):
        _assert_same(_result(tmp_path / f"out-{i}"), solo["a"], f"run {i}")
    inputs = sorted(
        p.name for p in (store / "assets" / "local-project" / "inputs").iterdir() if p.is_dir()
    )
    key_npp = input_key("npp", a[0], {"band": "npp"})
    key_regions = input_key("regions", a[1], {})
    assert inputs == sorted([f"npp-{key_npp[:12]}", f"regions-{key_regions[:12]}"])
    assert not list((store / "tmp").iterdir())


def test_two_batch_runs_of_one_configuration_into_one_out_at_once_both_finish(cases, tmp_path):
    """They share the export root (one run hash), so they race to create its folders and
    collection and to export the same assets. Found: one of them stopped with "Cannot
    overwrite asset"; now both finish, with the result of the run alone."""
    _, a, _, solo = cases
    store, out = tmp_path / "store", tmp_path / "out"
    procs = [start_run(*a, store, out, extra=("--mode", "batch")) for _ in range(2)]
    for proc in procs:
        code, _, err = finish(proc)
        assert code == 0, err
    got = _result(out)
    for name in TABLE_FILES:
        assert got[name] == solo["a"][name], name


def test_the_input_key_is_a_sha256_of_scheme_kind_options_and_bytes(tmp_path):
    f = tmp_path / "npp.nc"
    f.write_bytes(b"0123456789")
    head = f"{INPUT_SCHEME}\0{__version__}\0npp\0band='npp'\0file\0\0{10}\0".encode()
    assert input_key("npp", f, {"band": "npp"}) == hashlib.sha256(head + b"0123456789").hexdigest()
    # Another band or other bytes give another key.
    assert input_key("npp", f, {"band": "b1"}) != input_key("npp", f, {"band": "npp"})
    f.write_bytes(b"0123456788")
    assert input_key("npp", f, {"band": "npp"}) != hashlib.sha256(head + b"0123456789").hexdigest()


def test_a_folder_key_covers_each_file_by_name(tmp_path):
    folder = tmp_path / "tifs"
    folder.mkdir()
    (folder / "npp_2001.tif").write_bytes(b"A")
    (folder / "npp_2002.tif").write_bytes(b"B")
    h = hashlib.sha256(f"{INPUT_SCHEME}\0{__version__}\0npp\0band='npp'\0".encode())
    for name, data in (("npp_2001.tif", b"A"), ("npp_2002.tif", b"B")):
        h.update(f"file\0{name}\0{len(data)}\0".encode() + data)
    assert input_key("npp", folder, {"band": "npp"}) == h.hexdigest()
    (folder / "npp_2002.tif").rename(folder / "npp_2003.tif")  # same bytes, another year
    assert input_key("npp", folder, {"band": "npp"}) != h.hexdigest()


def test_an_unchanged_input_is_not_stored_again(tmp_path, engine):
    from gee_cscc.config import Config
    from gee_cscc.workflow.inputs import RunInputs, resolve_inputs

    a = write_case(tmp_path, "a")
    cfg = Config(start=2001, end=2006, reference_year=2003)
    npp_id, _ = resolve_inputs(RunInputs(npp=str(a[0])), engine, cfg)
    key = input_key("npp", a[0], {"band": "npp"})
    assert npp_id == engine.asset_id(f"inputs/npp-{key[:12]}")
    assert engine.store.meta(npp_id)["properties"][HASH_PROPERTY] == key
    folder = engine.store.asset_dir(engine.store.resolve(npp_id))
    stamp = [(folder / name).stat().st_mtime_ns for name in ("asset.json", "2001/data.tif")]
    assert resolve_inputs(RunInputs(npp=str(a[0])), engine, cfg)[0] == npp_id
    assert [(folder / name).stat().st_mtime_ns for name in ("asset.json", "2001/data.tif")] == stamp
    # The bytes decide, not the file name: a copy of the file maps to the same asset.
    copy = a[0].parent / "copy_of_a.nc"
    copy.write_bytes(a[0].read_bytes())
    assert resolve_inputs(RunInputs(npp=str(copy)), engine, cfg)[0] == npp_id
