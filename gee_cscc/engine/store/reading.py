"""Reading assets: the REST API's ``EarthEngineAsset`` JSON and images, collections and
tables as engine values (rasters read lazily, tile by tile).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..core.values import Band, Feature, FeatureCollection, Geometry, Image, ImageCollection
from ..errors import EEError, NotFoundError
from ..raster.grid import Grid, Projection
from .folder import AssetFolder
from .names import AssetName
from .raster_io import GeoTiffBandReader
from .times import now_rfc3339

__all__ = ["AssetReader"]


class AssetReader(AssetFolder):
    """The reading half of :class:`~.assets.AssetStore`."""

    def asset_info(self, asset_id: str | AssetName) -> dict:
        """The ``EarthEngineAsset`` JSON of the REST API."""
        name = self.resolve(asset_id)
        if not name.path:
            return {"type": "FOLDER", "name": name.name, "id": ""}
        meta = self.meta(name)
        out: dict[str, Any] = {
            "type": meta["type"],
            "name": name.name,
            "id": name.path,
            "updateTime": meta.get("updateTime", now_rfc3339()),
            "properties": meta.get("properties", {}),
        }
        for key in ("startTime", "endTime", "sizeBytes"):
            if key in meta:
                out[key] = meta[key]
        if meta["type"] == "IMAGE":
            out["bands"] = [
                {
                    "id": band["id"],
                    "dataType": {"precision": _rest_precision(band["dtype"])},
                    "grid": _band_grid(meta, band).info(),
                    "pyramidingPolicy": band.get("pyramidingPolicy", "MEAN"),
                }
                for band in meta["bands"]
            ]
        if meta["type"] == "TABLE":
            out["featureCount"] = str(meta.get("featureCount", 0))
        return out

    def load_image(self, asset_id: str | AssetName, *, kind_for_error: str = "Image.load") -> Image:
        """The lazy :class:`Image` of an image asset."""
        name = self.resolve(asset_id)
        try:
            meta = self.meta(name)
        except NotFoundError:
            raise NotFoundError(f"{kind_for_error}: Image asset '{name.id}' not found.") from None
        if meta["type"] != "IMAGE":
            raise EEError(
                f"{kind_for_error}: Asset '{name.id}' is not an Image (it is {_kind_word(meta)})."
            )
        return self._image_from_meta(name, meta)

    def _image_from_meta(self, name: AssetName, meta: dict) -> Image:
        folder = self.asset_dir(name)
        path = folder / "data.tif"
        bands = []
        for i, band in enumerate(meta["bands"], start=1):
            # A band on a grid of its own lives in a file of its own (``file``, ``index``).
            extent = _band_grid(meta, band)
            reader = GeoTiffBandReader(
                folder / band.get("file", "data.tif"),
                int(band.get("index", i)),
                extent.projection,
                extent.shape,
                band.get("pyramidingPolicy", "MEAN"),
            )
            bands.append(
                Band(
                    band["id"],
                    reader,
                    dtype=band["dtype"],
                    projection=extent.projection,
                    extent=extent,
                )
            )
        props = dict(meta.get("properties", {}))
        props.setdefault("system:index", name.path.rsplit("/", 1)[-1])
        props["system:id"] = name.id
        props["system:version"] = int(os.stat(path).st_mtime_ns // 1000)
        props["system:asset_size"] = int(meta.get("sizeBytes", 0))
        return Image(bands, props)

    def load_collection(self, asset_id: str | AssetName) -> ImageCollection:
        """The :class:`ImageCollection` of a collection asset (images by id order)."""
        name = self.resolve(asset_id)
        try:
            meta = self.meta(name)
        except NotFoundError:
            raise NotFoundError(
                f"ImageCollection.load: ImageCollection asset '{name.id}' not found."
            ) from None
        if meta["type"] != "IMAGE_COLLECTION":
            raise EEError(
                f"ImageCollection.load: Asset '{name.id}' is not an ImageCollection "
                f"(it is {_kind_word(meta)})."
            )
        images = []
        for child in self.children(name):
            cmeta = self.meta(child)
            if cmeta["type"] == "IMAGE":
                images.append(self._image_from_meta(child, cmeta))
        images.sort(key=lambda im: im.properties.get("system:index", ""))
        props = dict(meta.get("properties", {}))
        props["system:id"] = name.id
        props["system:version"] = int(self.asset_dir(name).stat().st_mtime_ns // 1000)
        return ImageCollection(images, props)

    def load_table(self, asset_id: str | AssetName) -> FeatureCollection:
        """The :class:`FeatureCollection` of a table asset."""
        import shapely.geometry

        name = self.resolve(asset_id)
        try:
            meta = self.meta(name)
        except NotFoundError:
            raise NotFoundError(
                f"Collection.loadTable: Table asset '{name.id}' not found."
            ) from None
        if meta["type"] != "TABLE":
            raise EEError(
                f"Collection.loadTable: Asset '{name.id}' is not a Table (it is {_kind_word(meta)})."
            )
        gj = json.loads((self.asset_dir(name) / "data.geojson").read_text())
        feats = []
        for i, f in enumerate(gj.get("features", [])):
            geom = f.get("geometry")
            shape = shapely.geometry.shape(geom) if geom else None
            props = dict(f.get("properties") or {})
            props["system:index"] = str(f.get("id", i))
            feats.append(Feature(Geometry(shape) if shape is not None else None, props))
        props = dict(meta.get("properties", {}))
        props["system:id"] = name.id
        return FeatureCollection(feats, props)


def _band_grid(meta: dict, band: dict) -> Grid:
    """A stored band's pixel grid: its own ``grid``, else the image's."""
    g = band.get("grid") or meta["grid"]
    return Grid(
        Projection(g["crs"], tuple(float(v) for v in g["transform"])),
        (int(g["shape"][0]), int(g["shape"][1])),
    )


def _kind_word(meta: dict) -> str:
    return {
        "IMAGE": "an Image",
        "IMAGE_COLLECTION": "an ImageCollection",
        "TABLE": "a Table",
        "FOLDER": "a Folder",
    }.get(meta.get("type"), "unknown")


def _rest_precision(dtype: str) -> str:
    if dtype == "float32":
        return "FLOAT"
    if dtype == "float64":
        return "DOUBLE"
    return "INT"
