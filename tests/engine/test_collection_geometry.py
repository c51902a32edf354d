"""Collection.geometry and Collection.bounds through the real ee client."""

from __future__ import annotations

import ee
import pytest
import shapely.geometry


def _square(x0: float, y0: float, size: float, name: str) -> dict:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture
def table(engine, tmp_asset):
    asset = tmp_asset("squares")
    engine.store.put_table(
        asset,
        {
            "type": "FeatureCollection",
            "features": [
                _square(10, 20, 1, "a"),
                _square(10.5, 20.5, 1, "b"),
                _square(15, 25, 2, "c"),
            ],
        },
    )
    return ee.FeatureCollection(asset)


def test_collection_geometry_is_the_union(table):
    got = shapely.geometry.shape(table.geometry().getInfo())
    expected = shapely.union_all(
        [
            shapely.box(10, 20, 11, 21),
            shapely.box(10.5, 20.5, 11.5, 21.5),
            shapely.box(15, 25, 17, 27),
        ]
    )
    assert got.symmetric_difference(expected).area == pytest.approx(0.0, abs=1e-9)


def test_collection_bounds(table):
    got = shapely.geometry.shape(table.bounds().getInfo())
    assert got.bounds == pytest.approx((10, 20, 17, 27))


def test_empty_collection_geometry(table):
    empty = table.filter(ee.Filter.eq("name", "nobody"))
    assert shapely.geometry.shape(empty.geometry().getInfo()).is_empty
