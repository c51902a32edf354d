"""``gee-cscc run --npp a=... --npp b=...``: several NPP products end to end, against NumPy.

Product ``a`` is the synthetic cube; product ``b`` stores 2.4 × the cube with no units and
its ``[products.b]`` table sets ``scale_factor = 0.5``, so its NPP is 1.2 × a's. Expected
numbers come from :func:`helpers.reference` (NumPy) and that factor.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers import REFERENCE, X0, Y0, YEARS, make_cube, reference

from gee_cscc.testing import cube_of


@pytest.fixture(scope="module")
def ensemble_out(tmp_path_factory, cli_data):
    from gee_cscc.cli.main import main

    root = tmp_path_factory.mktemp("ensemble")
    stored = (make_cube() * 2.4).astype(np.float32)
    cube_of(stored, YEARS, origin=(X0, Y0), pixel_size=1.0, crs=None, units=None).to_dataset(
        name="npp"
    ).to_netcdf(root / "b.nc")
    run_file = root / "run.toml"
    run_file.write_text(
        f"[years]\nstart = {YEARS[0]}\nend = {YEARS[-1]}\nreference_year = {REFERENCE}\n"
        "[products.b]\nscale_factor = 0.5\n"
    )
    args = [
        "run",
        "--config",
        run_file,
        "--npp",
        f"a={cli_data.npp_nc}",
        "--npp",
        f"b={root / 'b.nc'}",
    ]
    args += ["--regions", cli_data.geojson, "--store", root / "store", "--out", root / "out"]
    assert main([str(a) for a in args]) == 0
    return root / "out"


def test_each_product_is_a_full_run(ensemble_out):
    ref = reference()
    for name, factor in (("a", 1.0), ("b", 1.2)):
        cap = pd.read_csv(ensemble_out / "products" / name / "tables" / "capacity_by_region.csv")
        for region in ("ALL", "A", "B"):
            row = cap[cap["region"] == region].iloc[0]
            want = factor * ref.capacity[region]["cscc_tg"]
            assert row["cscc_tg"] == pytest.approx(want, rel=1e-6)
        assert (ensemble_out / "products" / name / "report.html").is_file()


def test_ensemble_table_maps_and_report(ensemble_out):
    ref = reference()
    table = pd.read_csv(ensemble_out / "tables" / "ensemble.csv")
    for region in ("ALL", "A", "B"):
        row = table[table["region"] == region].iloc[0]
        values = np.array([1.0, 1.2]) * ref.capacity[region]["cscc_tg"]
        assert row["cscc_tg_mean"] == pytest.approx(values.mean(), rel=1e-6)
        assert row["cscc_tg_sd"] == pytest.approx(values.std(ddof=1), rel=1e-5)
        pots = np.array([1.0, 1.2]) * ref.capacity[region]["potential_tg"]
        assert row["potential_tg_sd"] == pytest.approx(pots.std(ddof=1), rel=1e-5)
    with rasterio.open(ensemble_out / "rasters" / "ensemble_cscc_sd.tif") as src:
        sd = src.read(1)
    with rasterio.open(ensemble_out / "rasters" / "ensemble_cscc_mean.tif") as src:
        mean = src.read(1)
    vca = ref.vca
    pair = np.stack([ref.cscc, 1.2 * ref.cscc])
    np.testing.assert_allclose(mean[vca], pair.mean(0)[vca], rtol=1e-6)
    np.testing.assert_allclose(sd[vca], pair.std(0, ddof=1)[vca], rtol=1e-5)
    run = json.loads((ensemble_out / "run.json").read_text())
    assert [p["name"] for p in run["products"]] == ["a", "b"]
    assert run["products"][1]["settings"] == {"scale_factor": 0.5}
    page = (ensemble_out / "report.html").read_text()
    assert "several NPP products compared" in page and "products/b/report.html" in page
    assert (ensemble_out / "figures" / "ensemble_cscc.png").is_file()


@pytest.mark.slow  # two batch runs (export tasks on the local engine)
def test_python_api_in_batch_mode_gives_the_same_ensemble(ensemble_out, cli_data, tmp_path):
    import gee_cscc
    from gee_cscc.workflow.batch import BatchOptions

    ens = gee_cscc.compare_products(
        {"a": str(cli_data.npp_nc), "b": str(ensemble_out.parent / "b.nc")},
        str(cli_data.geojson),
        out=tmp_path / "out",
        settings={"b": {"scale_factor": 0.5}},
        reference_year=REFERENCE,
        store=tmp_path / "store",
        mode="batch",
        batch=lambda folder: BatchOptions(task_dir=folder, poll_seconds=0.05),
    )
    assert all(r.mode == "batch" for r in ens.products.values())
    assert [r.config.start for r in ens.products.values()] == [YEARS[0]] * 2  # from the input
    interactive = pd.read_csv(ensemble_out / "tables" / "ensemble.csv")
    batch = pd.read_csv(tmp_path / "out" / "tables" / "ensemble.csv")
    assert list(batch.columns) == list(interactive.columns)
    for col in batch.columns:
        if pd.api.types.is_numeric_dtype(interactive[col]):
            np.testing.assert_allclose(batch[col], interactive[col], rtol=1e-9)
        else:
            assert list(batch[col]) == list(interactive[col])


def test_python_api_refuses_a_bad_name(tmp_path):
    import gee_cscc
    from gee_cscc.errors import ConfigError

    with pytest.raises(ConfigError, match="product name 'a b' must start with a letter"):
        gee_cscc.compare_products({"a b": "x", "c": "y"}, out=tmp_path / "out")
