"""``gee-cscc export --capacity-sensitivity``: the per-cell jackknife maps are exported too.

The exported ``PREFIX_record_length.tif`` holds ``cscc_jk_se`` and ``pcs_jk_se``; the first
is checked against a brute-force leave-one-year-out computation in NumPy.
"""

from __future__ import annotations

import json

import numpy as np
import rasterio
from helpers import YEAR_ARGS, YEARS, make_cube, run_args

from gee_cscc.cli.main import main


def test_export_holds_the_jackknife_maps(tmp_path, cli_data):
    store, root = tmp_path / "store", tmp_path / "run"
    assert main([str(a) for a in run_args(cli_data, store, root, "-q")]) == 0
    inputs = json.loads((root / "run.json").read_text())["inputs"]
    npp_id = inputs.get("npp_asset") or inputs.get("npp")

    def export(prefix: str, *more: str) -> int:
        return main(["export", "--npp", str(npp_id), *YEAR_ARGS, "--store", str(store), "--out",
                     str(tmp_path / prefix), "--to", "gcs", "--bucket", "bkt", "--prefix", prefix,
                     "-q", *more])  # fmt: skip

    assert export("x", "--capacity-sensitivity") == 0
    with rasterio.open(store / "gcs" / "bkt" / "x_record_length.tif") as src:
        bands = {d: src.read(i + 1) for i, d in enumerate(src.descriptions)}
    assert set(bands) == {"cscc_jk_se", "pcs_jk_se"}
    y = make_cube().astype(np.float64)
    n = len(YEARS)
    vca = np.all(np.isfinite(y), axis=0) & (np.nan_to_num(y).mean(axis=0) > 0)
    loo = np.stack([np.delete(y, j, 0).max(0) for j in range(n)])
    want = np.sqrt((n - 1) / n * np.sum((loo - loo.mean(0)) ** 2, 0))
    np.testing.assert_allclose(bands["cscc_jk_se"][vca], want[vca], atol=1e-3)
    assert want[vca].max() > 0  # the case has cells whose capacity depends on one year
    # Without the option nothing more is exported.
    assert export("y") == 0
    assert not (store / "gcs" / "bkt" / "y_record_length.tif").exists()
    assert (store / "gcs" / "bkt" / "y_result.tif").exists()
