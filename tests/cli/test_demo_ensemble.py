"""``gee-cscc demo --ensemble``: two synthetic NPP products compared (slow: two demo runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gee_cscc.cli.main import build_parser


def test_demo_takes_ensemble_flag() -> None:
    assert build_parser().parse_args(["demo", "--ensemble"]).ensemble is True
    assert build_parser().parse_args(["demo"]).ensemble is False


@pytest.mark.slow
def test_demo_ensemble_compares_two_products(tmp_path) -> None:
    from gee_cscc.demo.ensemble import run_demo_ensemble

    ens = run_demo_ensemble(tmp_path / "out", resolution=0.5, store=tmp_path / "store")
    a = pd.read_csv(tmp_path / "out/products/synthetic-a/tables/capacity_by_region.csv")
    b = pd.read_csv(tmp_path / "out/products/synthetic-b/tables/capacity_by_region.csv")
    table = pd.read_csv(tmp_path / "out/tables/ensemble.csv")
    both = np.stack([a["cscc_tg"].to_numpy(), b["cscc_tg"].to_numpy()])
    np.testing.assert_allclose(table["cscc_tg_mean"], both.mean(0), rtol=1e-9)
    # the CSV keeps 10 digits: the difference of two close totals loses some of them
    np.testing.assert_allclose(table["cscc_tg_sd"], both.std(0, ddof=1), rtol=1e-6)
    # the demo's first product is calibrated to the paper's Table 1 (4134.34 Tg C/yr)
    assert a["cscc_tg"].iloc[0] == pytest.approx(4134.34, rel=1e-6)
    assert ens.summary["products"] == ["synthetic-a", "synthetic-b"]
    assert (tmp_path / "out/products/synthetic-b/tables/capacity_sensitivity.csv").is_file()
