"""A batch run's grouped sums: one table export for every table, read back in one request.

The run's tables are sums per region of per-cell bands: capacity, yearly totals, trend
classes, the maintenance count bands and any optional analysis's (record length). They
share their sub-expressions (the year stack, the VCA composite, the window slopes, the
maintenance chain), so they are **one** grouped reduction (:func:`sums_image`: the parts'
bands side by side) exported once to ``ROOT/tables/sums`` (:data:`SUMS_TABLE`): one task
computes every shared layer once per tile, where a task per table computed them once per
table. The interactive mode sums the same bands in one reduction too.

:func:`sums_collection` makes the table (one feature per region id, one property per band,
:func:`column_name`); :func:`read_sums` reads it back with one ``getInfo`` and splits it
into the parts' frames again, so the rest of the run sees the tables as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import ee
import pandas as pd

from gee_cscc.method.grid import GridSpec
from gee_cscc.method.regions import REGION_BAND, Regions, grouped_sums
from gee_cscc.workflow.pull import sums_frame

__all__ = [
    "SUMS_TABLE",
    "column_name",
    "read_sums",
    "sums_collection",
    "sums_image",
]

#: The table asset of a batch run's grouped sums (``ROOT/tables/sums``).
SUMS_TABLE = "sums"


def column_name(band: str) -> str:
    """A table column for a band name: ``-`` becomes ``m`` (``a_trend_class_-1`` →
    ``a_trend_class_m1``), anything else but letters, digits and ``_`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", band.replace("-", "m"))


def sums_image(parts: Mapping[str, tuple[Any, Sequence[str]]]) -> tuple[Any, list[str]]:
    """The parts' bands as one image (``ee.Image.cat``, in the parts' order) and its band
    names.

    Raises
    ------
    ValueError
        Two parts share a band name, or two band names give one column
        (:func:`column_name`): their sums could not be told apart in the table.
    """
    names = [str(n) for _, part_names in parts.values() for n in part_names]
    columns: dict[str, str] = {}
    for name in names:
        column = column_name(name)
        if column in columns:
            raise ValueError(
                f"bands {columns[column]!r} and {name!r} would share the sums table's column "
                f"{column!r}"
            )
        columns[column] = name
    return ee.Image.cat([image for image, _ in parts.values()]), names


def sums_collection(
    image: Any, names: Sequence[str], regions: Regions, grid: GridSpec, tile_scale: float
) -> Any:
    """The grouped sums of ``image`` as a FeatureCollection: one feature per region id
    (property ``region_id``), one property per band (:func:`column_name`)."""
    groups = grouped_sums(image, len(names), regions, grid, tile_scale=tile_scale)
    columns = ee.List([column_name(n) for n in names])

    def feature(group: Any) -> Any:
        g = ee.Dictionary(group)
        props = ee.Dictionary.fromLists(columns, ee.List(g.get("sum"))).set(
            "region_id", g.get(REGION_BAND)
        )
        return ee.Feature(None, props)

    return ee.FeatureCollection(groups.map(feature))


def read_sums(
    asset_id: str, parts: Mapping[str, Sequence[str]], regions: Regions
) -> dict[str, pd.DataFrame]:
    """The exported sums table, read back with one ``getInfo``, as one grouped-sum frame per
    part (indexed by region id, one column per band of the part; a sum the table lacks or
    holds as null is 0, as in :func:`~gee_cscc.workflow.pull.sums_frame`)."""
    limit = len(regions.names) + 1_000  # every region id, 0 and ids without a name
    features = ee.FeatureCollection(asset_id).toList(limit).getInfo() or []
    names = [n for part in parts.values() for n in part]
    groups = []
    for feat in features:
        props = feat.get("properties") or {}
        sums = [props.get(column_name(n)) for n in names]
        groups.append({REGION_BAND: int(props["region_id"]), "sum": sums})
    frame = sums_frame(groups, names, regions)
    return {part: frame[list(bands)] for part, bands in parts.items()}
