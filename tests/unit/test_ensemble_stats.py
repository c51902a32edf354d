"""The ensemble table and maps (METHOD.md §7, several products) and the --npp products,
against NumPy and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gee_cscc.config import Config
from gee_cscc.errors import ConfigError
from gee_cscc.stats.ensemble import ensemble_maps, ensemble_table, modal_grade
from gee_cscc.workflow.ensemble import ProductSpec, product_config, product_specs


def frames(cscc, potential, rs, grades):
    cap = pd.DataFrame({"region": ["ALL", "A"], "cscc_tg": cscc, "potential_tg": potential})
    res = pd.DataFrame({"region": ["ALL", "A"], "rs": rs, "grade": grades})
    return cap, res


def test_table_against_numpy() -> None:
    data = {
        "p": frames([10.0, 4.0], [2.0, 1.0], [50.0, math.inf], ["strong", "none"]),
        "q": frames([12.0, 5.0], [3.0, 0.5], [150.0, 20.0], ["stronger", "strong"]),
        "r": frames([11.0, 6.0], [2.5, 0.7], [60.0, math.nan], ["strong", "strong"]),
    }
    table = ensemble_table({k: v[0] for k, v in data.items()}, {k: v[1] for k, v in data.items()})
    all_row = table.iloc[0]
    assert list(table["region"]) == ["ALL", "A"]
    assert all_row["cscc_tg_q"] == 12.0 and all_row["grade_r"] == "strong"
    assert all_row["cscc_tg_mean"] == pytest.approx(np.mean([10, 12, 11]))
    assert all_row["cscc_tg_sd"] == pytest.approx(np.std([10, 12, 11], ddof=1))
    assert all_row["potential_tg_sd"] == pytest.approx(np.std([2, 3, 2.5], ddof=1))
    assert all_row["rs_mean"] == pytest.approx(np.mean([50, 150, 60]))
    assert all_row["modal_grade"] == "strong"
    assert all_row["grade_agreement"] == pytest.approx(2 / 3)
    a = table.iloc[1]
    # RS over finite values only: 20 alone → mean 20, SD undefined
    assert a["rs_mean"] == 20.0 and math.isnan(a["rs_sd"])
    assert a["modal_grade"] == "strong" and a["grade_agreement"] == pytest.approx(2 / 3)


def test_modal_grade_ties_go_to_the_earliest() -> None:
    assert modal_grade(["weak", "strong"]) == ("weak", 0.5)
    assert modal_grade(["none", "strong", "strong", "none"]) == ("none", 0.5)


def test_maps_against_numpy() -> None:
    rng = np.random.default_rng(1)
    a, b, c = (rng.uniform(100, 900, (4, 5)) for _ in range(3))
    b[0, 0] = np.nan  # outside one product's VCA: no ensemble value
    mean, sd = ensemble_maps([a, b, c])
    stack = np.stack([a, b, c])
    ok = np.all(np.isfinite(stack), axis=0)
    np.testing.assert_allclose(mean[ok], stack.mean(axis=0)[ok], rtol=1e-14)
    np.testing.assert_allclose(sd[ok], stack.std(axis=0, ddof=1)[ok], rtol=1e-14)
    assert np.isnan(mean[0, 0]) and np.isnan(sd[0, 0])
    with pytest.raises(ValueError, match="at least 2"):
        ensemble_maps([a])


def test_product_specs(tmp_path) -> None:
    nc = tmp_path / "glo_pem.nc"
    nc.write_bytes(b"")
    specs = product_specs(
        [f"a={nc}", "modis-npp", "projects/p/assets/casa_npp"],
        {"a": {"scale_factor": 0.1, "valid_range": [0, 30000]}},
    )
    assert specs == [
        ProductSpec("a", str(nc), {"scale_factor": 0.1, "valid_range": [0, 30000]}),
        ProductSpec("modis-npp", "MODIS/061/MOD17A3HGF", {"product": "modis-npp"}),
        ProductSpec("casa_npp", "projects/p/assets/casa_npp", {}),
    ]
    from_file = product_specs(None, {"x": {"npp": "projects/p/assets/x"}, "y": {"npp": str(nc)}})
    assert [s.name for s in from_file] == ["x", "y"]
    assert [s.npp for s in from_file] == ["projects/p/assets/x", str(nc)]


@pytest.mark.parametrize(
    ("npp", "table", "message"),
    [
        (["a=x"], None, "at least 2 products, got 1"),
        (["a=x", "a=y"], None, "'a' is given twice"),
        (["a=x", "b=y"], {"c": {"band": "b1"}}, r"\[products.c\] names no product"),
        (["a=x", "b=y"], {"a": {"bands": "b1"}}, r"unknown key\(s\) \['bands'\]"),
        (None, {"a": {"band": "x"}, "b": {"npp": "y"}}, "product 'a' has no NPP source"),
    ],
)
def test_product_spec_errors(npp, table, message) -> None:
    with pytest.raises(ConfigError, match=message):
        product_specs(npp, table)


def test_product_config_takes_the_first_grid_unless_one_is_set() -> None:
    grid = {"crs": "EPSG:4326", "crs_transform": [0.5, 0, 100, 0, -0.5, 40], "shape": [4, 4]}
    spec = ProductSpec("b", "x", {"scale_factor": 0.5})
    cfg = product_config(Config(), spec, grid)
    assert cfg.scale_factor == 0.5 and cfg.crs_transform == (0.5, 0, 100, 0, -0.5, 40)
    assert product_config(Config(scale=1000.0), spec, grid).crs_transform is None
    with pytest.raises(ConfigError, match=r"\[products.b\]: scale_factor"):
        product_config(Config(), ProductSpec("b", "x", {"scale_factor": -1}), None)


def test_out_is_checked_before_anything_runs(tmp_path) -> None:
    from gee_cscc.errors import OutputError
    from gee_cscc.workflow.ensemble import run_ensemble

    specs = [ProductSpec("a", "x"), ProductSpec("b", "y")]
    with pytest.raises(OutputError, match="overlap"):
        run_ensemble(Config(), specs, tmp_path / "out", store=tmp_path / "out" / "store")
    assert not (tmp_path / "out").exists()
