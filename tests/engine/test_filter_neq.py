"""``ee.Filter.eq/neq`` with a null value: Earth Engine accepts it (the guides' grouping
example keeps the features whose property is set with ``ee.Filter.neq('prop', None)``)."""

from __future__ import annotations

import ee
import pytest


@pytest.fixture
def fc(engine) -> ee.FeatureCollection:
    feats = [
        ee.Feature(None, {"id": "a", "v": 1}),
        ee.Feature(None, {"id": "b"}),
        ee.Feature(None, {"id": "c", "v": 0}),
        ee.Feature(None, {"id": "d", "v": "x"}),
    ]
    return ee.FeatureCollection(feats)


def _ids(coll: ee.FeatureCollection) -> list[str]:
    return coll.aggregate_array("id").getInfo()


def test_neq_none_keeps_elements_with_the_property(fc):
    assert _ids(fc.filter(ee.Filter.neq("v", None))) == ["a", "c", "d"]


def test_eq_none_keeps_elements_without_the_property(fc):
    assert _ids(fc.filter(ee.Filter.eq("v", None))) == ["b"]


def test_other_comparisons_unchanged(fc):
    assert _ids(fc.filter(ee.Filter.neq("v", 1))) == ["b", "c", "d"]
    assert _ids(fc.filter(ee.Filter.eq("v", 0))) == ["c"]


def test_guide_grouping_example_shape(fc):
    # The guide's pattern: filter out nulls, then group.
    grouped = (
        fc.filter(ee.Filter.neq("v", None))
        .filter(ee.Filter.neq("v", "x"))
        .reduceColumns(ee.Reducer.sum().group(0, "v"), ["v", "v"])
        .get("groups")
    )
    assert grouped.getInfo() == [{"v": 0, "sum": 0}, {"v": 1, "sum": 1}]


def test_left_operand_still_required():
    with pytest.raises(ee.EEException, match="Either 'leftField' or 'leftValue'"):
        ee.FeatureCollection([]).filter(ee.Filter.equals(rightValue=1)).size().getInfo()


def test_field_to_field_equality_never_matches_two_missing_values(fc):
    # only the explicit null constant tests for a missing property
    both = ee.FeatureCollection(
        [ee.Feature(None, {"id": "x"}), ee.Feature(None, {"id": "y", "a": 1, "b": 1})]
    )
    assert _ids(both.filter(ee.Filter.equals(leftField="a", rightField="b"))) == ["y"]
    assert _ids(both.filter(ee.Filter.notEquals(leftField="a", rightField="b"))) == ["x"]
