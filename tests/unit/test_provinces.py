"""The packaged province boundaries (gee_cscc/data/china_provinces.geojson)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, shape

from gee_cscc.demo.provinces import (
    PROVINCE_ABBRS,
    PROVINCES,
    load_provinces,
    province_geojson_path,
)

# The paper's abbreviations in region-id order, with adcodes (GB/T 2260) and Chinese names.
EXPECTED = [
    ("BJ", 110000, "北京市"), ("TJ", 120000, "天津市"), ("HB", 130000, "河北省"),
    ("SX", 140000, "山西省"), ("IM", 150000, "内蒙古自治区"), ("LN", 210000, "辽宁省"),
    ("JL", 220000, "吉林省"), ("HLJ", 230000, "黑龙江省"), ("SH", 310000, "上海市"),
    ("JS", 320000, "江苏省"), ("ZJ", 330000, "浙江省"), ("AH", 340000, "安徽省"),
    ("FJ", 350000, "福建省"), ("JX", 360000, "江西省"), ("SD", 370000, "山东省"),
    ("HN", 410000, "河南省"), ("HUB", 420000, "湖北省"), ("HUN", 430000, "湖南省"),
    ("GD", 440000, "广东省"), ("GX", 450000, "广西壮族自治区"), ("HAN", 460000, "海南省"),
    ("CQ", 500000, "重庆市"), ("SC", 510000, "四川省"), ("GZ", 520000, "贵州省"),
    ("YN", 530000, "云南省"), ("TB", 540000, "西藏自治区"), ("SAX", 610000, "陕西省"),
    ("GS", 620000, "甘肃省"), ("QH", 630000, "青海省"), ("NX", 640000, "宁夏回族自治区"),
    ("XJ", 650000, "新疆维吾尔自治区"), ("TW", 710000, "台湾省"),
    ("HK", 810000, "香港特别行政区"), ("MC", 820000, "澳门特别行政区"),
]  # fmt: skip

# Published land areas (km², rounded; government figures). Coastal units whose source outline
# takes in tidal flats or reef lagoons (Shanghai, Hong Kong, Hainan's South China Sea islands)
# are left out; Hainan Island is checked on its own below.
KNOWN_AREA_KM2 = {
    "XJ": 1_664_900, "TB": 1_228_400, "IM": 1_183_000, "QH": 722_300, "SC": 486_000,
    "HLJ": 473_000, "YN": 394_100, "BJ": 16_410, "TJ": 11_966, "CQ": 82_400, "TW": 36_000,
}  # fmt: skip

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def collection() -> dict:
    return load_provinces()


@pytest.fixture(scope="module")
def by_abbr(collection: dict) -> dict[str, dict]:
    return {f["properties"]["abbr"]: f for f in collection["features"]}


def test_file_is_packaged_and_small() -> None:
    path = province_geojson_path()
    assert path.is_file()
    assert path.parent.name == "data" and path.parent.parent.name == "gee_cscc"
    assert path.stat().st_size < 2_000_000
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    assert data["type"] == "FeatureCollection"
    # the MIT notice of the source travels with the data
    assert data["source"]["license"] == "MIT"
    assert "Copyright (c) 2026 Clarmy" in data["source"]["license_text"]


def test_34_features_in_order_with_expected_properties(collection: dict) -> None:
    features = collection["features"]
    assert len(features) == 34
    got = [
        (f["properties"]["abbr"], f["properties"]["adcode"], f["properties"]["name_zh"])
        for f in features
    ]
    assert got == EXPECTED
    assert [f["properties"]["region_id"] for f in features] == list(range(1, 35))
    adcodes = [f["properties"]["adcode"] for f in features]
    assert len(set(adcodes)) == 34 and all(type(a) is int for a in adcodes)
    assert all(f["properties"]["name"] for f in features)
    assert list(PROVINCE_ABBRS) == [e[0] for e in EXPECTED]
    assert [(p.region_id, p.abbr) for p in PROVINCES] == [
        (i + 1, e[0]) for i, e in enumerate(EXPECTED)
    ]


def test_geometries_valid_lonlat_and_non_overlapping(collection: dict) -> None:
    geoms = [shape(f["geometry"]) for f in collection["features"]]
    for f, g in zip(collection["features"], geoms, strict=True):
        assert g.geom_type in ("Polygon", "MultiPolygon"), f["properties"]["abbr"]
        assert g.is_valid and not g.is_empty, f["properties"]["abbr"]
        west, south, east, north = g.bounds
        assert 73 <= west and east <= 135.2 and 3 <= south and north <= 53.6
    assert shapely.coverage_is_valid(np.array(geoms, dtype=object))


@pytest.mark.parametrize("abbr", sorted(KNOWN_AREA_KM2))
def test_areas_match_published_figures(by_abbr: dict, abbr: str) -> None:
    area_m2, _ = GEOD.geometry_area_perimeter(shape(by_abbr[abbr]["geometry"]))
    assert abs(area_m2) / 1e6 == pytest.approx(KNOWN_AREA_KM2[abbr], rel=0.08)


@pytest.mark.parametrize(
    ("lon", "lat", "abbr"),
    [
        (116.40, 39.90, "BJ"), (117.20, 39.12, "TJ"), (114.51, 38.04, "HB"),
        (112.55, 37.87, "SX"), (108.94, 34.34, "SAX"), (113.62, 34.75, "HN"),
        (114.30, 30.59, "HUB"), (112.94, 28.23, "HUN"), (110.33, 20.03, "HAN"),
        (91.13, 29.65, "TB"), (111.75, 40.84, "IM"), (87.62, 43.82, "XJ"),
        (121.56, 25.04, "TW"), (114.17, 22.32, "HK"), (113.55, 22.19, "MC"),
    ],
)  # fmt: skip
def test_capitals_fall_in_their_province(by_abbr: dict, lon: float, lat: float, abbr: str):
    assert shape(by_abbr[abbr]["geometry"]).contains(Point(lon, lat))


@pytest.mark.parametrize(("abbr", "island_km2"), [("HAN", 33_920), ("TW", 35_800)])
def test_hainan_and_taiwan_islands_kept(by_abbr: dict, abbr: str, island_km2: float) -> None:
    largest = max(shape(by_abbr[abbr]["geometry"]).geoms, key=lambda p: p.area)
    area_m2, _ = GEOD.geometry_area_perimeter(largest)
    # The source outlines take in some coastal water (Hainan's is ~10 % over the land area).
    assert abs(area_m2) / 1e6 == pytest.approx(island_km2, rel=0.12)
