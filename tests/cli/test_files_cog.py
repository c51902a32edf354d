"""Every file of a run on synthetic data is clean: COG rasters, CF-1.8 results.nc, CSV tables
and run.json carry the synthetic mark, class layers are integers, no leftover tags.

The run is the small synthetic case of :mod:`helpers` (6 years × 5×6 px), run through
``gee_cscc.workflow.run.run`` with ``synthetic=True`` as ``gee-cscc demo`` runs the demo;
the figures and the HTML report are stubbed (their files are another module's). Expected
values come from :func:`helpers.reference` (NumPy on the cube).
"""

from __future__ import annotations

import json

import netCDF4
import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers import INTEGER_LAYERS, SHAPE, TRANSFORM, YEARS, region_ids, stub_report
from rio_cogeo.cogeo import cog_validate

from gee_cscc.config import Config
from gee_cscc.report.outputs import TABLE_FILES
from gee_cscc.workflow.export_run import read_run_tables
from gee_cscc.workflow.inputs import RunInputs
from gee_cscc.workflow.run import run

GDAL_TAGS = {"AREA_OR_POINT", "TIFFTAG_IMAGEDESCRIPTION"}
OUR_TAGS = {"layer", "long_name", "source", "references", "synthetic"}


@pytest.fixture(scope="module")
def synthetic_run(cli_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("files-cog")
    out = root / "out"
    cfg = Config(start=YEARS[0], end=YEARS[-1], reference_year=2003)
    inputs = RunInputs(npp=str(cli_data.npp_nc), regions=str(cli_data.geojson), synthetic=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gee_cscc.report.write_report", stub_report([]))
        run(cfg, inputs, out, store=root / "store")
    return out


def test_every_table_is_marked_and_still_reads(synthetic_run):
    tables = read_run_tables(synthetic_run / "tables")
    assert set(tables) == {name[:-4] for name in TABLE_FILES}
    for name, (_, leading) in TABLE_FILES.items():
        frame = pd.read_csv(synthetic_run / "tables" / name)
        assert list(frame.columns[: len(leading)]) == leading, name
        assert frame.columns[-1] == "synthetic", name
        assert frame["synthetic"].tolist() == [True] * len(frame), name
        columns, rows = tables[name[:-4]]
        assert columns[-1] == "synthetic" and rows and all(r["synthetic"] == "true" for r in rows)
    capacity = pd.read_csv(synthetic_run / "tables" / "capacity_by_region.csv")
    assert capacity.set_index("region").loc["ALL", "vca_cells"] > 0


def test_every_geotiff_is_a_marked_cog_on_the_grid(synthetic_run, cli_data):
    paths = sorted((synthetic_run / "rasters").glob("*.tif"))
    assert {p.stem for p in paths} >= set(INTEGER_LAYERS) | {"cscc", "pcs", "trend_p"}
    assert not list((synthetic_run / "rasters").glob(".*"))  # no temporary file left
    for path in paths:
        assert cog_validate(str(path), strict=True) == (True, [], []), path.name
        with rasterio.open(path) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert src.profile["tiled"] and src.block_shapes[0] == (512, 512)
            assert src.compression.name.lower() == "deflate"
            assert src.dtypes[0] == INTEGER_LAYERS.get(path.stem, "float32"), path.name
            assert src.nodata is not None, path.name
            assert src.crs.to_epsg() == 4326
            assert tuple(src.transform)[:6] == TRANSFORM and src.shape == SHAPE
            tags = src.tags()
            assert set(tags) <= OUR_TAGS | GDAL_TAGS, tags
            assert tags["synthetic"] == "true" and "SYNTHETIC" in tags["TIFFTAG_IMAGEDESCRIPTION"]
            assert all(src.tags(b).keys() <= {"year"} for b in range(1, src.count + 1))
            assert all(u for u in src.units) and all(src.descriptions)
    with rasterio.open(synthetic_run / "rasters" / "region.tif") as src:
        np.testing.assert_array_equal(src.read(1), region_ids())
    with rasterio.open(synthetic_run / "rasters" / "vca.tif") as src:
        np.testing.assert_array_equal(src.read(1), cli_data.ref.vca.astype("uint8"))
    with rasterio.open(synthetic_run / "rasters" / "cscc.tif") as src:
        np.testing.assert_allclose(src.read(1), cli_data.ref.cscc, rtol=1e-6, equal_nan=True)
    with rasterio.open(synthetic_run / "rasters" / "maintenance.tif") as src:
        p = src.read(1, masked=True)  # the reference year: the sign of the OLS slope
    assert int((p == 1).sum()) == cli_data.ref.n_pos_reference
    assert int((p == -1).sum()) == cli_data.ref.n_neg_reference
    np.testing.assert_array_equal(~p.mask, cli_data.ref.vca)


def test_results_nc_is_cf_and_marked(synthetic_run, cli_data):
    with netCDF4.Dataset(synthetic_run / "rasters" / "results.nc") as nc:
        assert nc.Conventions == "CF-1.8" and nc.synthetic == "true"
        assert "SYNTHETIC" in nc.title and "10.3389/ffgc.2023.1266688" in nc.references
        assert nc.variables["crs"].grid_mapping_name == "latitude_longitude"
        assert nc.variables["x"].standard_name == "longitude"
        assert nc.variables["y"].units == "degrees_north"
        for name, var in nc.variables.items():
            if var.dimensions[-2:] != ("y", "x"):
                continue
            assert var.grid_mapping == "crs", name
            assert var.filters()["zlib"] and var.filters()["shuffle"], name
            assert var.dtype == np.dtype(INTEGER_LAYERS.get(name, "float32")), name
            assert "crs_transform" not in var.ncattrs(), name
        var = nc.variables["region"]
        np.testing.assert_array_equal(var[:].filled(-1), region_ids())


def test_run_json_says_synthetic(synthetic_run):
    info = json.loads((synthetic_run / "run.json").read_text())
    assert info["inputs"]["synthetic"] is True
