"""``Results.rasters`` of an interactive run reads its layers lazily from a scratch folder.

Checked on the synthetic case of ``helpers`` (6 years, 5 x 6 cells): the layers are read
from files (nothing whole in memory), give the values a plain NumPy computation of the
cube gives, behave like any Dataset (``.values``, ``.sel``, ``.plot``, ``.load()``), and the
folder goes away with the Results. The consumers that read strips (CSR summary, ensemble
maps) agree with NumPy on whole arrays.
"""

from __future__ import annotations

import gc
import pickle
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr
from helpers import REFERENCE, cube_dataarray, make_cube, regions_geojson

import gee_cscc
import gee_cscc.stats.csr_pixel as csr_module
import gee_cscc.workflow.scratch_layers as scratch_module
from gee_cscc.config import Config
from gee_cscc.stats.csr_pixel import pixel_csr_summary
from gee_cscc.stats.ensemble import ensemble_maps
from gee_cscc.workflow.scratch_layers import (
    SCRATCH_PREFIX,
    ScratchFolder,
    map_layers,
    scratch_of,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    store = tmp_path_factory.mktemp("lazy-store")
    return gee_cscc.analyze(
        cube_dataarray(), regions_geojson(), reference_year=REFERENCE, store=store
    )


def test_rasters_are_read_from_the_scratch_folder(results):
    rasters = results.rasters
    folder = scratch_of(rasters["cscc"]).path
    assert folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith(SCRATCH_PREFIX) and folder.is_dir()
    for name in ("cscc", "trend_p", "maintenance", "pcs", "region", "vca"):
        assert scratch_of(rasters[name]) is not None, name  # lazily read, nothing loaded
    assert rasters["trend_p"].dtype == np.float64 and rasters["cscc"].dtype == np.float32


def test_lazy_values_are_the_numpy_ones(results):
    cube = make_cube()  # (year, y, x), north up, as cube_dataarray holds it
    rasters = results.rasters
    vca = rasters["vca"].values == 1
    want = cube.max(axis=0).astype(np.float32)
    np.testing.assert_allclose(rasters["cscc"].values[vca], want[vca], rtol=1e-6)
    np.testing.assert_allclose(
        rasters["cscc"].sel(y=rasters["y"][2], x=rasters["x"][4]).item(),
        want[2, 4] if vca[2, 4] else np.nan,
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        rasters["cscc"][1:3, ::2].values, rasters["cscc"].values[1:3, ::2]
    )
    # maintenance counts (counted by strips) are the cells of the surfaces
    counts = results.maintenance_counts.set_index(["region", "year"])
    for year in rasters["maintenance"]["year"].values:
        p = rasters["maintenance"].sel(year=year).values
        assert counts.loc[("ALL", int(year)), "n_pos"] == int((p == 1).sum())
        assert counts.loc[("ALL", int(year)), "n_neg"] == int((p == -1).sum())


def test_plot_load_and_pickle(results):
    artist = results.rasters["cscc"].plot()
    assert artist is not None
    matplotlib.pyplot.close("all")
    with pytest.raises(TypeError, match=r"load\(\)"):
        pickle.dumps(results.rasters)
    loaded = results.rasters.copy().load()
    assert scratch_of(loaded["cscc"]) is None
    back = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(back["maintenance"].values, results.rasters["maintenance"].values)


def test_the_folder_goes_with_the_results(tmp_path):
    res = gee_cscc.analyze(
        cube_dataarray(), regions_geojson(), reference_year=REFERENCE, store=tmp_path / "s"
    )
    folder = scratch_of(res.rasters["cscc"]).path
    assert any(folder.iterdir())
    del res
    gc.collect()
    assert not folder.exists()


def _layer(scratch: ScratchFolder, a: np.ndarray) -> xr.DataArray:
    writer = scratch.writer(["a"], a.shape, a.dtype)
    writer.write_rows(0, 0, a)
    return xr.DataArray(xr.Variable(("y", "x"), writer.variables()["a"]._data))


def test_csr_summary_by_strips_is_the_numpy_one(tmp_path, monkeypatch):
    monkeypatch.setattr(csr_module, "STRIP_CELLS", 8)  # one row of 8 cells a strip
    rng = np.random.default_rng(5)
    shape = (9, 8)
    vca = rng.integers(0, 2, shape).astype(np.float32)
    area = rng.uniform(1e6, 2e6, shape).astype(np.float32)
    grade = rng.integers(0, 6, shape).astype(np.float32)
    tau_pos = rng.choice(np.array([5, 40, 500, np.inf, np.nan], np.float32), shape)
    tau_neg = rng.choice(np.array([3, 70, 900, -np.inf, np.nan], np.float32), shape)
    scratch = ScratchFolder(tmp_path)
    layers = {"vca": vca, "pixel_area": area, "csr_grade": grade, "tau_pos": tau_pos}
    layers["tau_neg"] = tau_neg
    ds = xr.Dataset({k: _layer(scratch, v) for k, v in layers.items()})
    cfg = Config(start=2001, end=2018, reference_year=2005, csr_pixel="50km")
    got = pixel_csr_summary(ds, cfg)
    inside = vca == 1
    w = np.where(inside, area.astype(float), 0.0)
    total = w.sum()
    limit = cfg.extrapolation_factor * cfg.n_evaluation_years
    assert got["vca_cells"] == int(inside.sum())
    assert got["graded_share"] == pytest.approx(w[(grade > 0) & inside].sum() / total, rel=1e-12)
    for code, name in csr_module.GRADE_CODES.items():
        want = w[(grade == code) & inside].sum() / total
        assert got["grade_area_share"][name] == pytest.approx(want, rel=1e-12)
    assert got["tau_pos_infinite_share"] == pytest.approx(w[np.isinf(tau_pos)].sum() / total)
    assert got["tau_neg_defined_share"] == pytest.approx(w[~np.isnan(tau_neg)].sum() / total)
    far = (np.isfinite(tau_pos) & (tau_pos > limit)) | (np.isfinite(tau_neg) & (tau_neg > limit))
    assert got["extrapolated_share"] == pytest.approx(w[far].sum() / total, rel=1e-12)


def test_ensemble_maps_by_strips(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch_module, "STRIP_CELLS", 20)
    rng = np.random.default_rng(9)
    arrays = [rng.uniform(100, 900, (7, 5)).astype(np.float32) for _ in range(3)]
    arrays[1][2, 3] = np.nan
    scratch = ScratchFolder(tmp_path)
    layers = [_layer(scratch, a) for a in arrays]

    def strips(rows):
        return [m.astype(np.float32) for m in ensemble_maps(rows)]

    mean, sd = map_layers(layers, strips, ["mean", "sd"], np.float32)
    stack = np.stack(arrays).astype(float)
    np.testing.assert_allclose(np.asarray(mean), stack.mean(axis=0).astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(sd), stack.std(axis=0, ddof=1).astype(np.float32), rtol=1e-6
    )
    assert np.isnan(np.asarray(mean)[2, 3]) and np.isnan(np.asarray(sd)[2, 3])
    assert map_layers([xr.DataArray(arrays[0], dims=("y", "x"))], strips, ["m", "s"], "f4") is None
