"""``gee-cscc run --capacity-sensitivity``: the record-length files, end to end, against NumPy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers import YEARS, cell_areas, make_cube, region_ids, run_args


@pytest.fixture(scope="module")
def out(tmp_path_factory, cli_data):
    from gee_cscc.cli.main import main

    root = tmp_path_factory.mktemp("record-length")
    code = main(
        [str(a) for a in run_args(cli_data, root / "store", root / "out", "--capacity-sensitivity")]
    )
    assert code == 0
    return root / "out"


def test_files_and_numbers(out):
    y = make_cube().astype(np.float64)
    vca = np.all(np.isfinite(y), axis=0) & (np.nan_to_num(y).mean(axis=0) > 0)
    area = cell_areas() * vca
    running = np.maximum.accumulate(np.nan_to_num(y), axis=0)
    table = pd.read_csv(out / "tables" / "capacity_sensitivity.csv")
    stab = pd.read_csv(out / "tables" / "capacity_stability.csv")
    ids = region_ids()
    n = len(YEARS)
    for name, sel in (("ALL", np.ones_like(vca)), ("A", ids == 1), ("B", ids == 2)):
        w = area * sel
        want = [np.sum(running[k] * w) / 1e12 for k in range(n)]
        rows = table[table["region"] == name]
        np.testing.assert_allclose(rows["running_cscc_tg"], want, rtol=1e-9)
        loo = np.array([np.sum(np.delete(np.nan_to_num(y), j, 0).max(0) * w) for j in range(n)])
        se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)) / 1e12
        row = stab[stab["region"] == name].iloc[0]
        assert row["cscc_jk_se_tg"] == pytest.approx(se, rel=1e-7)
    with rasterio.open(out / "rasters" / "cscc_jk_se.tif") as src:
        got = src.read(1)
    loo_cells = np.stack([np.delete(y, j, 0).max(0) for j in range(n)])
    want = np.sqrt((n - 1) / n * np.sum((loo_cells - loo_cells.mean(0)) ** 2, 0))
    np.testing.assert_allclose(got[vca], want[vca], atol=1e-3)
    assert (out / "figures" / "running_capacity.png").is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["capacity_sensitivity"] is True
    sentence = run["summary"]["capacity_sensitivity"]["sentence"]
    assert sentence in (out / "report.html").read_text().replace("&#x27;", "'")


def test_off_by_default_writes_none(tmp_path, cli_data, run_cli, quick_report):
    result = run_cli(*run_args(cli_data, tmp_path / "store", tmp_path / "out"))
    assert result.code == 0
    assert not (tmp_path / "out" / "tables" / "capacity_sensitivity.csv").exists()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert "capacity_sensitivity" not in run["summary"]
