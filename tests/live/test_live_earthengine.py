"""The method on Google Earth Engine itself (needs an account and network).

Run with ``GEE_CSCC_LIVE_PROJECT=<gcp project> pytest -m live tests/live`` after
``earthengine authenticate``. Without that variable every test here is skipped, and the
default test run (``-m 'not slow and not live'``) does not collect them either.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

PROJECT = os.environ.get("GEE_CSCC_LIVE_PROJECT")
#: The analysis grid's pixel size (m) of the China run.
CHINA_SCALE = 5000.0

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not PROJECT, reason="GEE_CSCC_LIVE_PROJECT is not set (no Earth Engine account)"
    ),
]


@pytest.fixture(scope="module")
def earthengine():
    import ee

    ee.Initialize(project=PROJECT)
    return ee


def test_modis_npp_over_beijing(earthengine):
    """MOD17A3HGF annual NPP over Beijing, 2001–2010: the run completes on Google's servers
    and its numbers are plausible (CSCC ≥ every year's NPP, shares in range)."""
    ee = earthengine
    from gee_cscc.config import Config
    from gee_cscc.demo.provinces import load_provinces
    from gee_cscc.method import regions_from_features
    from gee_cscc.workflow.analyze import analyze

    provinces = load_provinces()
    beijing = [f for f in provinces["features"] if f["properties"]["abbr"] == "BJ"]
    regions = regions_from_features(
        ee.FeatureCollection({"type": "FeatureCollection", "features": beijing}),
        name_property="abbr",
    )
    npp = (
        ee.ImageCollection("MODIS/061/MOD17A3HGF")
        .select("Npp")
        .filter(ee.Filter.calendarRange(2001, 2010, "year"))
    )
    cfg = Config(start=2001, end=2010, reference_year=2005, band="Npp", scale_factor=0.1)
    results = analyze(npp, cfg, regions=regions, extent="regions")
    cscc = results.rasters["cscc"].values
    assert np.nanmax(cscc) > 0
    row = results.capacity.set_index("region").loc["BJ"]
    assert row["cscc_tg"] >= row["current_npp_tg"] > 0
    assert 0 <= row["potential_share_of_cscc"] < 1


def test_modis_npp_over_china_at_5km_in_batch_mode(earthengine, tmp_path):
    """Issue 9: MOD17A3HGF (the public catalog id, as it is) over China's 34 provinces on a
    5 km grid in MODIS's own sinusoidal projection, in batch mode: input checks, tables and
    rasters are export tasks (assets under ``cscc_batch/<run hash>``; a rerun resumes
    them), only small tables and a preview come back. The land-cover codes (32761-32766)
    and the fill value are masked, so no CSCC exceeds the valid range (3270 g C m-2 yr-1).

    The same run from the command line (with the provinces uploaded as a table asset)::

        gee-cscc run --engine earthengine --project P --product modis-npp \\
            --regions projects/P/assets/china_provinces --extent regions --scale 5000 \\
            --mode batch --start 2001 --end 2024 --reference 2012 --out modis-china
    """
    ee = earthengine
    from gee_cscc.config import Config
    from gee_cscc.demo.provinces import load_provinces
    from gee_cscc.method import regions_from_features
    from gee_cscc.workflow.analyze import analyze
    from gee_cscc.workflow.batch import BatchOptions

    provinces = load_provinces()
    regions = regions_from_features(
        ee.FeatureCollection(provinces), name_property="abbr", source="gee_cscc.demo.provinces"
    )
    cfg = Config(
        product="modis-npp",
        start=2001,
        end=2024,
        reference_year=2012,
        scale=CHINA_SCALE,
        extent="regions",
        engine="earthengine",
        project=PROJECT,
    )
    results = analyze(
        "MODIS/061/MOD17A3HGF",
        cfg,
        regions=regions,
        mode="batch",
        batch=BatchOptions(task_dir=tmp_path),
        progress=print,
    )
    assert results.mode == "batch"
    grid = results.summary["grid"]
    assert grid["crs"] == "SR-ORG:6974"
    assert abs(grid["crs_transform"][0]) == pytest.approx(CHINA_SCALE)
    checks = results.summary["input_checks"]
    assert checks["vca_cells"] > 0 and checks["region_cells"] > 0
    assert results.run_notes["batch"]["input_checks"].endswith("/tables/input_checks")
    cap = results.capacity.set_index("region")
    provinces_only = cap.drop(index="ALL")  # ALL: the regions' bounding box
    assert 2e6 < provinces_only["vca_area_km2"].sum() < 9.7e6  # China's land: 9.6 M km²
    vegetated = provinces_only[provinces_only["vca_cells"] > 0]
    assert len(vegetated) >= 30
    assert (vegetated["cscc_tg"] >= vegetated["current_npp_tg"]).all()
    assert (vegetated["current_npp_tg"] > 0).all()
    assert (
        (vegetated["potential_share_of_cscc"] >= 0) & (vegetated["potential_share_of_cscc"] < 1)
    ).all()
    assert np.nanmax(results.rasters["cscc"].values) <= 3270.0  # codes masked, x 0.1
    assert (vegetated["cscc_mean_gm2"] <= 3270.0).all()
