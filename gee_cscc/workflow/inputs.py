"""A run's inputs: asset ids as they are, local files loaded into the local engine's store.

``--npp`` may be an Earth Engine asset id or a local file (read by
:mod:`gee_cscc.workflow.readers`); ``--regions`` an asset id (table or integer image), a
GeoJSON file or a region GeoTIFF. Local files become assets of the local engine; nothing
else about the run changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.workflow.readers import (
    check_same_grid,
    is_local_path,
    read_geojson,
    read_npp,
    read_region_names,
    read_region_raster,
)

__all__ = ["RunInputs", "resolve_inputs"]


@dataclass
class RunInputs:
    """What a run reads: NPP and regions as asset ids or local files.

    Attributes
    ----------
    npp
        An ImageCollection asset id, a NetCDF/Zarr file, or a folder of ``*_YYYY.tif``.
    regions
        A table asset id or an integer region image asset id, a GeoJSON file, a region
        GeoTIFF, or None (whole area only).
    region_names
        CSV (``region_id,name``) naming the ids of a region raster.
    regions_kind
        ``"auto"`` (decide from the asset type or file suffix), ``"table"`` or ``"image"``.
    synthetic
        True for the demo's synthetic data (said in every output).
    """

    npp: str
    regions: str | None = None
    region_names: str | None = None
    regions_kind: str = "auto"
    synthetic: bool = False
    extra: dict = field(default_factory=dict)


def resolve_inputs(inputs: RunInputs, engine: Any, cfg: Config) -> tuple[str, Any]:
    """Asset ids of the NPP collection and the regions (loading local files into the store)."""
    import ee

    from gee_cscc.method import regions_from_features, regions_from_image

    _check_file_exists(inputs.npp, "NPP input")
    npp_id = inputs.npp
    npp_data = None
    if is_local_path(inputs.npp):
        if engine is None:
            raise InputError(
                f"{inputs.npp} is a local file: on Earth Engine, upload it first "
                "(gee-cscc upload) and pass the asset id."
            )
        npp_data = read_npp(inputs.npp, band=cfg.band).data
        npp_id = engine.asset_id("inputs/npp")
        engine.store.put_collection(
            npp_id, npp_data, band=cfg.band, properties={"source": str(inputs.npp)}
        )
    names = read_region_names(inputs.region_names) if inputs.region_names else None
    if inputs.regions is None:
        return npp_id, None
    reg = inputs.regions
    _check_file_exists(reg, "Region file")
    kind = inputs.regions_kind
    if is_local_path(reg):
        if engine is None:
            raise InputError(
                f"{reg} is a local file: on Earth Engine, upload it first and pass the asset id."
            )
        suffix = Path(reg).suffix.lower()
        if suffix in (".geojson", ".json"):
            rid = engine.asset_id("inputs/regions")
            engine.store.put_table(rid, read_geojson(reg))
            return npp_id, regions_from_features(
                ee.FeatureCollection(rid), name_property=cfg.region_property, source=str(reg)
            )
        if suffix in (".tif", ".tiff"):
            raster = read_region_raster(reg)
            if npp_data is not None:
                check_same_grid(npp_data, raster, npp_name=str(inputs.npp), regions_name=str(reg))
            rid = engine.asset_id("inputs/region_ids")
            engine.store.put_image(rid, raster)
            ids = sorted(int(v) for v in np.unique(raster.values) if v > 0)
            return npp_id, regions_from_image(ee.Image(rid), names=names, ids=ids, source=str(reg))
        raise InputError(f"Unknown region file type '{suffix}' ({reg}): give a .geojson or a .tif.")
    # An asset id: a table or an image.
    if kind == "auto":
        try:
            info = ee.data.getAsset(reg)
        except ee.EEException as exc:
            raise InputError(f"Region asset '{reg}' cannot be read: {exc}") from exc
        kind = "image" if info.get("type") == "IMAGE" else "table"
    if kind == "image":
        img = ee.Image(reg)
        ids = sorted(names) if names else _region_ids(img)
        return npp_id, regions_from_image(img, names=names, ids=ids, source=reg)
    return npp_id, regions_from_features(
        ee.FeatureCollection(reg), name_property=cfg.region_property, source=reg
    )


#: Suffixes that mark an input as a local file (an asset id never ends like this).
_FILE_SUFFIXES = frozenset(
    {".nc", ".nc4", ".cdf", ".zarr", ".tif", ".tiff", ".geojson", ".json", ".csv", ".shp", ".gpkg"}
)


def _check_file_exists(value: str, what: str) -> None:
    """A missing local file is "not found", not an unreadable asset id of the same name."""
    looks_like_file = Path(value).suffix.lower() in _FILE_SUFFIXES or value.startswith(
        ("./", "../", ".\\", "..\\")
    )
    if looks_like_file and not is_local_path(value):
        raise InputError(f"{what} not found: {value}")


def _region_ids(image: Any) -> list[int]:
    """The ids (> 0) present in a region-id image asset, counted on its own grid."""
    import ee

    from gee_cscc.method.regions import MAX_PIXELS

    ids = ee.Image(image).select([0]).toInt32()
    groups = (
        ids.addBands(ids)
        .reduceRegion(
            ee.Reducer.count().group(groupField=1, groupName="id"),
            geometry=ids.geometry(),
            maxPixels=MAX_PIXELS,
        )
        .get("groups")
    )
    return sorted(int(g["id"]) for g in (ee.List(groups).getInfo() or []) if int(g["id"]) > 0)
