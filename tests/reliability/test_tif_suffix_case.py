"""A folder of yearly GeoTIFFs named ``*_YYYY.TIF`` (upper case, as some tools write them) is
read like ``*_YYYY.tif``: before, the upper-case files were ignored on Linux and the run
failed saying their years were missing."""

from __future__ import annotations

import numpy as np
from helpers import cube_dataarray, make_cube, write_tif_folder

from gee_cscc.workflow.readers import read_npp


def test_upper_case_tif_suffixes_are_read(tmp_path):
    cube = cube_dataarray(make_cube().astype(np.float32))
    folder = write_tif_folder(tmp_path / "tifs", cube)
    for i, f in enumerate(sorted(folder.iterdir())):  # a mix of .TIF, .Tiff and .tif
        f.rename(f.with_suffix((".TIF", ".Tiff", ".tif")[i % 3]))
    source = read_npp(folder)
    got = source.data
    assert [int(y) for y in got["year"].values] == [int(y) for y in cube["year"].values]
    np.testing.assert_array_equal(got.values, cube.values)
