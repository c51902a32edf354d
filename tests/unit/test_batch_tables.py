"""The batch run's one sums table (gee_cscc.workflow.batch_tables): its columns and split."""

from __future__ import annotations

import ee
import pandas as pd
import pytest

from gee_cscc.method.regions import Regions
from gee_cscc.workflow import batch_tables
from gee_cscc.workflow.batch_tables import column_name, read_sums, sums_image


def test_band_names_become_distinct_columns():
    assert column_name("a_trend_class_-1") == "a_trend_class_m1"
    assert column_name("pos_2004") == "pos_2004"
    assert column_name("x.y z") == "x_y_z"


def test_two_bands_that_would_share_a_column_are_refused(engine):
    parts = {
        "trend_classes": (ee.Image.constant(1), ["a_class_-1"]),
        "extra": (ee.Image.constant(2), ["a_class_m1"]),
    }
    with pytest.raises(ValueError, match="a_class_-1.*a_class_m1.*share"):
        sums_image(parts)
    _, names = sums_image({"a": (ee.Image.constant(1), ["p"]), "b": (ee.Image.constant(2), ["q"])})
    assert names == ["p", "q"]


def test_the_table_is_split_back_into_its_parts(monkeypatch):
    features = [  # as getInfo gives an exported table: region 2 has no trend-class sum
        {"properties": {"region_id": 0, "cscc": 1.5, "npp_2004": 7.0, "a_class_m1": 3.0}},
        {"properties": {"region_id": 2, "cscc": 4.0, "npp_2004": 2.5}},
    ]

    class Table:
        def __init__(self, asset_id):
            assert asset_id == "projects/p/assets/r/tables/sums"

        def toList(self, limit):  # noqa: N802 - the ee name
            assert limit >= 1000
            return self

        def getInfo(self):  # noqa: N802 - the ee name
            return features

    monkeypatch.setattr(batch_tables.ee, "FeatureCollection", Table)
    regions = Regions(image=None, names={1: "A", 2: "B"})
    parts = {"capacity": ["cscc"], "yearly": ["npp_2004"], "trend_classes": ["a_class_-1"]}
    got = read_sums("projects/p/assets/r/tables/sums", parts, regions)
    assert list(got) == ["capacity", "yearly", "trend_classes"]
    index = pd.Index([0, 1, 2], name="region_id")  # every named region, 0 too
    pd.testing.assert_frame_equal(
        got["capacity"], pd.DataFrame({"cscc": [1.5, 0.0, 4.0]}, index=index)
    )
    pd.testing.assert_frame_equal(
        got["yearly"], pd.DataFrame({"npp_2004": [7.0, 0.0, 2.5]}, index=index)
    )
    pd.testing.assert_frame_equal(
        got["trend_classes"], pd.DataFrame({"a_class_-1": [3.0, 0.0, 0.0]}, index=index)
    )
