"""The pull's layers travel as float32 (workflow.pull.open_layers).

xee hands every pulled value over as float32 whatever the server sends, so the layers are
cast on the server: each ``computePixels`` answer is half the bytes, and the values are the
same as before (float64 rounded to float32 once, on either side). Checked against NumPy's
own float32 rounding of the stored values and of their float64 mean, and the masked cells.
"""

from __future__ import annotations

import ee
import numpy as np

from gee_cscc.method.grid import GridSpec
from gee_cscc.testing import npp_cube
from gee_cscc.workflow.pull import open_layers


def test_layers_are_float32_on_the_wire_and_equal_to_numpy(engine, tmp_asset, monkeypatch):
    cube = npp_cube(range(2001, 2005), shape=(30, 40), pixel_size=0.1, gaps=0.0)
    cube[:, 3, 4] = np.nan  # masked in every year
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube, band="npp")
    col = ee.ImageCollection(asset)
    # A value that float32 cannot hold exactly, so the rounding is visible.
    third = col.mean().divide(3)
    layers = {"first": ee.Image(col.first()), "third": third, "area": ee.Image.pixelArea()}
    answers = []
    real = ee.data.computePixels

    def recording(params, *args, **kwargs):
        out = real(params, *args, **kwargs)
        answers.append(out)
        return out

    monkeypatch.setattr(ee.data, "computePixels", recording)
    pulled = open_layers(layers, GridSpec.from_dataarray(cube))
    assert answers and all(a.dtype[0] == np.float32 for a in answers)

    values = cube.values.astype(np.float64)
    first = values[0].astype(np.float32)
    np.testing.assert_array_equal(
        pulled["first"].values[np.isfinite(first)], first[np.isfinite(first)]
    )
    assert np.isnan(pulled["first"].values[3, 4])
    third_np = (values.mean(axis=0) / 3).astype(np.float32)
    ok = np.isfinite(third_np)
    np.testing.assert_allclose(pulled["third"].values[ok], third_np[ok], rtol=2e-7)
    assert np.isnan(pulled["third"].values[3, 4])
    assert pulled["area"].dtype == np.float32
    assert np.isfinite(pulled["area"].values).all()
