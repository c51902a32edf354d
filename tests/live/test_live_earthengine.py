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
