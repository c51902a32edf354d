"""Writing assets: images (from arrays, xarray objects or GeoTIFFs), image collections,
tables and folders.

Every write builds the asset's whole folder under the store's ``tmp/`` and publishes it with
one rename under the store lock (:meth:`~.folder.AssetFolder.publish`): concurrent writers in
several processes each publish a complete asset, and readers never see half of one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AlreadyExistsError, EEError
from ..raster.crs import crs_code, file_crs
from ..raster.grid import Projection
from .codec import store_compression, write_env
from .conversions import as_geojson, image_arrays, with_name
from .folder import AssetFolder, atomic_write_text
from .names import AssetName
from .space import check_free_space
from .times import asset_times, year_millis

__all__ = ["AssetWriter"]


class AssetWriter(AssetFolder):
    """The writing half of :class:`~.assets.AssetStore`."""

    def create(
        self, asset_id: str | AssetName, kind: str, properties: Mapping | None = None
    ) -> dict:
        """Create an empty ``FOLDER`` or ``IMAGE_COLLECTION``."""
        kind = kind.upper()
        if kind not in ("FOLDER", "IMAGE_COLLECTION"):
            raise EEError(f"Cannot create an empty asset of type {kind}.")
        name = self.resolve(asset_id)
        with self.lock:
            if self.exists(name):
                raise AlreadyExistsError(f"Cannot overwrite asset '{name.id}'.")
            self.ensure_parents(name)
            self.write_meta(name, self.new_meta(kind, properties))
        return self.asset_info(name)

    def put_image(
        self,
        asset_id: str | AssetName,
        data: Any,
        properties: Mapping[str, Any] | None = None,
        *,
        overwrite: bool = True,
    ) -> str:
        """Store an image from an xarray DataArray (``y``/``x``, optional ``band`` dim).

        NaN marks masked pixels. The CRS is the ``crs`` attribute, rioxarray's CRS, or
        EPSG:4326. Returns the asset name.
        """
        name = self.resolve(asset_id)
        bands, arrays, proj = image_arrays(data)
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            self._write_image(d, name, self.new_meta("IMAGE", properties), bands, arrays, proj)
            self.publish(d, name, overwrite=overwrite)
        return name.name

    def put_image_grids(
        self,
        asset_id: str | AssetName,
        parts: list[Any],
        properties: Mapping[str, Any] | None = None,
        *,
        overwrite: bool = True,
    ) -> str:
        """Store an image whose bands lie on several grids (e.g. 10, 20 and 60 m bands).

        ``parts`` are DataArrays as for :meth:`put_image`, each holding one or more bands on
        its own grid; the image's bands are those of every part, in order, each keeping its
        part's CRS, transform and shape. The first part is ``data.tif``, part ``k`` is
        ``data-<k>.tif``; each such band records ``file``, ``index`` and ``grid``.
        """
        name = self.resolve(asset_id)
        if not parts:
            raise EEError(f"Image '{name.id}' has no bands.")
        split = [image_arrays(part) for part in parts]
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            meta = self.new_meta("IMAGE", properties)
            bands, arrays, proj = split[0]
            self._write_image(d, name, meta, bands, arrays, proj)
            entries = [
                {**b, "file": "data.tif", "index": i, "grid": meta["grid"]}
                for i, b in enumerate(meta["bands"], start=1)
            ]
            size = int(meta["sizeBytes"])
            for k, (bands, arrays, proj) in enumerate(split[1:], start=2):
                part_meta = self.new_meta("IMAGE", {})
                self._write_image(d / f"part-{k}", name, part_meta, bands, arrays, proj)
                os.replace(d / f"part-{k}" / "data.tif", d / f"data-{k}.tif")
                shutil.rmtree(d / f"part-{k}")
                entries += [
                    {**b, "file": f"data-{k}.tif", "index": i, "grid": part_meta["grid"]}
                    for i, b in enumerate(part_meta["bands"], start=1)
                ]
                size += int(part_meta["sizeBytes"])
            ids = [b["id"] for b in entries]
            if len(set(ids)) != len(ids):
                raise EEError(f"Image '{name.id}': duplicate band names {ids}.")
            meta["bands"] = entries
            meta["sizeBytes"] = str(size)
            atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))
            self.publish(d, name, overwrite=overwrite)
        return name.name

    def write_image_arrays(
        self,
        asset_id: str | AssetName,
        bands: list[str],
        arrays: list[np.ndarray],
        projection: Projection,
        properties: Mapping[str, Any] | None = None,
        *,
        overwrite: bool = False,
        dtypes: list[str] | None = None,
    ) -> str:
        """Store an image from NumPy arrays (NaN = masked) on a projection's pixel grid."""
        name = self.resolve(asset_id)
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            meta = self.new_meta("IMAGE", properties)
            self._write_image(d, name, meta, bands, arrays, projection, dtypes=dtypes)
            self.publish(d, name, overwrite=overwrite)
        return name.name

    def _write_image(
        self,
        d: Path,
        name: AssetName,
        meta: dict,
        bands: list[str],
        arrays: list[np.ndarray],
        proj: Projection,
        *,
        dtypes: list[str] | None = None,
    ) -> None:
        import rasterio
        from affine import Affine

        if not bands:
            raise EEError(f"Image '{name.id}' has no bands.")
        h, w = arrays[0].shape
        dtype = np.result_type(*[a.dtype for a in arrays])
        if dtypes:
            dtype = np.result_type(*[np.dtype(d) for d in dtypes])
        if not np.issubdtype(dtype, np.floating):
            has_nan = any(np.isnan(a).any() for a in arrays if np.issubdtype(a.dtype, np.floating))
            if has_nan:
                dtype = np.dtype("float32") if dtype.itemsize <= 2 else np.dtype("float64")
        dtype = np.dtype(dtype)
        if dtype == np.float16:
            dtype = np.dtype("float32")
        if dtype == np.bool_:
            dtype = np.dtype("uint8")
        nodata = float("nan") if np.issubdtype(dtype, np.floating) else None
        d.mkdir(parents=True, exist_ok=True)
        check_free_space(d, sum(np.asarray(a).size for a in arrays) * dtype.itemsize, name.id)
        tmp = d / "data.tif"
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": len(bands),
            "dtype": dtype.name,
            "crs": file_crs(proj.crs),
            "transform": Affine(*proj.transform),
            "nodata": nodata,
            **store_compression(),
        }
        if h >= 256 and w >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        with (
            write_env(),
            rasterio.open(tmp, "w", **profile) as dst,
        ):
            for i, (band, arr) in enumerate(zip(bands, arrays, strict=True), start=1):
                dst.write(np.asarray(arr).astype(dtype, copy=False), i)
                dst.set_band_description(i, band)
        meta["bands"] = [{"id": b, "dtype": dtype.name} for b in bands]
        meta["grid"] = {
            "crs": proj.crs,
            "transform": list(proj.transform),
            "shape": [h, w],
        }
        meta["sizeBytes"] = str((d / "data.tif").stat().st_size)
        meta.update(asset_times(meta["properties"]))
        atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))

    def put_geotiff(
        self,
        asset_id: str | AssetName,
        path: str | os.PathLike,
        *,
        bands: list[str] | None = None,
        dtypes: list[str] | None = None,
        properties: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        move: bool = False,
        pyramiding: list[str] | None = None,
    ) -> str:
        """Store an image from a GeoTIFF file, one image band per file band.

        The file is used as the asset's pixel data as it is: NaN, or the file's nodata
        value, marks masked pixels. Exports and ingestions write the file first (under the
        store root, so ``move`` is an atomic rename) and publish it with this call, so a
        failed or cancelled task leaves no half-written asset.

        Parameters
        ----------
        asset_id
            The image id.
        path
            The GeoTIFF file.
        bands
            Band names (default: the file's band descriptions, else ``b1``, ``b2`` …).
        dtypes
            The Earth Engine pixel type of each band (NumPy names; default: the
            file's data type). The file may use a wider type than the band declares.
        properties
            Image properties; ``system:time_start``/``system:time_end``
            (milliseconds) set the asset's start and end times.
        overwrite
            Replace an existing asset (otherwise AlreadyExistsError).
        move
            Move the file into the store instead of copying it.
        pyramiding
            Each band's pyramiding policy (``MEAN`` when not given): how the band is
            read at coarser scales (:func:`~gee_cscc.engine.raster.resample.sample_pyramid`).

        Returns
        -------
        str
            The asset name.
        """
        import rasterio

        name = self.resolve(asset_id)
        path = Path(path)
        with rasterio.open(path) as src:
            count = src.count
            shape = (src.height, src.width)
            epsg = src.crs.to_epsg() if src.crs is not None else None
            crs = f"EPSG:{epsg}" if epsg else (crs_code(src.crs) if src.crs else "EPSG:4326")
            transform = tuple(src.transform)[:6]
            file_dtype = src.dtypes[0]
            descriptions = list(src.descriptions)
        if bands is None:
            bands = [d if d else f"b{i}" for i, d in enumerate(descriptions, start=1)]
        if len(bands) != count:
            raise EEError(
                f"Image '{name.id}': {len(bands)} band names for a file with {count} bands."
            )
        dtypes = list(dtypes) if dtypes else [file_dtype] * count
        proj = Projection(crs, transform)
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            d.mkdir()
            if move:
                os.replace(path, d / "data.tif")
            else:
                check_free_space(d, path.stat().st_size, name.id)
                shutil.copyfile(path, d / "data.tif")
            meta = self.new_meta("IMAGE", properties)
            meta["bands"] = [{"id": b, "dtype": t} for b, t in zip(bands, dtypes, strict=True)]
            for entry, policy in zip(meta["bands"], pyramiding or [], strict=False):
                if policy and policy != "MEAN":
                    entry["pyramidingPolicy"] = policy
            meta["grid"] = {
                "crs": proj.crs,
                "transform": list(proj.transform),
                "shape": [shape[0], shape[1]],
            }
            meta["sizeBytes"] = str((d / "data.tif").stat().st_size)
            meta.update(asset_times(meta["properties"]))
            atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))
            self.publish(d, name, overwrite=overwrite)
        return name.name

    def put_geotiffs(
        self,
        asset_id: str | AssetName,
        files: list[tuple[str | os.PathLike, list[str], list[str]]],
        *,
        properties: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        move: bool = False,
        pyramiding: list[str] | None = None,
    ) -> str:
        """Store an image from several GeoTIFFs, each on its own grid.

        ``files`` are ``(path, band names, dtypes)``; the image's bands are those of every
        file, in order, each on its file's grid (as :meth:`put_image_grids` lays them out).
        One file is :meth:`put_geotiff`. ``pyramiding``: each band's policy, in order.
        """
        if len(files) == 1:
            path, bands, dtypes = files[0]
            return self.put_geotiff(
                asset_id,
                path,
                bands=bands,
                dtypes=dtypes,
                properties=properties,
                overwrite=overwrite,
                move=move,
                pyramiding=pyramiding,
            )
        import rasterio

        name = self.resolve(asset_id)
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            d.mkdir()
            meta = self.new_meta("IMAGE", properties)
            entries: list[dict] = []
            size = 0
            for k, (path, bands, dtypes) in enumerate(files, start=1):
                target = d / ("data.tif" if k == 1 else f"data-{k}.tif")
                if move:
                    os.replace(path, target)
                else:
                    check_free_space(d, Path(path).stat().st_size, name.id)
                    shutil.copyfile(path, target)
                with rasterio.open(target) as src:
                    epsg = src.crs.to_epsg() if src.crs is not None else None
                    crs = (
                        f"EPSG:{epsg}" if epsg else (crs_code(src.crs) if src.crs else "EPSG:4326")
                    )
                    grid = {
                        "crs": Projection(crs).crs,
                        "transform": list(tuple(src.transform)[:6]),
                        "shape": [src.height, src.width],
                    }
                    if len(bands) != src.count:
                        raise EEError(
                            f"Image '{name.id}': {len(bands)} band names for a file with "
                            f"{src.count} bands."
                        )
                if k == 1:
                    meta["grid"] = grid
                entries += [
                    {"id": b, "dtype": t, "file": target.name, "index": i, "grid": grid}
                    for i, (b, t) in enumerate(zip(bands, dtypes, strict=True), start=1)
                ]
                size += target.stat().st_size
            for entry, policy in zip(entries, pyramiding or [], strict=False):
                if policy and policy != "MEAN":
                    entry["pyramidingPolicy"] = policy
            meta["bands"] = entries
            meta["sizeBytes"] = str(size)
            meta.update(asset_times(meta["properties"]))
            atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))
            self.publish(d, name, overwrite=overwrite)
        return name.name

    def put_collection(
        self,
        asset_id: str | AssetName,
        data: Any,
        *,
        band: str = "npp",
        properties: Mapping[str, Any] | None = None,
        overwrite: bool = True,
    ) -> str:
        """Store an annual image collection, one image per year.

        Each image gets ``year`` and ``system:time_start`` (1 January of the year, UTC) and
        is stored as ``<collection>/<year>``.

        Parameters
        ----------
        asset_id
            The collection id.
        data
            A DataArray with a ``year`` dimension, or a ``{year: DataArray}`` mapping (a
            value may be a function returning the DataArray, called when its year is written).
        band
            The band name of every image.
        properties
            Collection properties.
        """
        name = self.resolve(asset_id)
        if isinstance(data, Mapping):
            items = sorted((int(k), v) for k, v in data.items())
        else:
            if "year" not in getattr(data, "dims", ()):
                raise EEError("put_collection needs a DataArray with a 'year' dimension.")
            items = [(int(y), data.sel(year=y, drop=True)) for y in data["year"].values]
        years = [y for y, _ in items]
        if len(set(years)) != len(years):
            dup = sorted({y for y in years if years.count(y) > 1})
            raise EEError(f"Duplicate year {dup[0]} in collection '{name.id}'.")
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            d.mkdir()
            meta = self.new_meta("IMAGE_COLLECTION", properties)
            for year, arr in items:
                arr = arr() if callable(arr) else arr  # read when written (one year in memory)
                if hasattr(arr, "rename"):
                    arr = arr.rename(band)
                bands, arrays, proj = image_arrays(with_name(arr, band))
                props = {"year": year, "system:time_start": year_millis(year)}
                child = name.child(str(year))
                self._write_image(
                    d / str(year), child, self.new_meta("IMAGE", props), bands, arrays, proj
                )
            atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))
            self.publish(d, name, overwrite=overwrite)
        return name.name

    def put_table(
        self,
        asset_id: str | AssetName,
        features: Any,
        properties: Mapping[str, Any] | None = None,
        *,
        overwrite: bool = True,
    ) -> str:
        """Store a table from a GeoJSON dict, a GeoJSON file path, or a GeoDataFrame."""
        name = self.resolve(asset_id)
        gj = as_geojson(features)
        self.check_absent(name, overwrite)
        with self.stage() as staged:
            d = staged / "asset"
            d.mkdir()
            text = json.dumps(gj)
            check_free_space(d, len(text), name.id)
            (d / "data.geojson").write_text(text)
            meta = self.new_meta("TABLE", properties)
            meta["featureCount"] = len(gj.get("features", []))
            atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))
            self.publish(d, name, overwrite=overwrite)
        return name.name
