"""The local asset store: images, image collections, tables and folders in a plain folder.

Layout: every asset is a directory ``<root>/assets/<project>/<path>/`` holding
``asset.json`` (type, properties, IAM policy, times). An image also holds ``data.tif``
(one band per GeoTIFF band, described by name; NaN, or the recorded nodata value for
integers, marks masked pixels); a table holds ``data.geojson``. An image collection or a
folder is a directory whose child directories are its assets. The store survives restarts.

Asset ids are accepted in every form the ``ee`` client accepts: ``projects/<p>/assets/<path>``,
``users/...`` (→ project ``earthengine-legacy``) and bare public ids such as
``MODIS/061/MOD17A3HGF`` (→ project ``earthengine-public``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..core.values import Band, Feature, FeatureCollection, Geometry, Image, ImageCollection
from ..errors import AlreadyExistsError, EEError, NotFoundError, PermissionDeniedError
from ..raster.grid import Grid, Projection
from .conversions import as_geojson, image_arrays, with_name
from .raster_io import GeoTiffBandReader

__all__ = ["AssetStore", "AssetName", "year_millis"]

_PROJECT_RE = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
_NAME_RE = re.compile(rf"^projects/({_PROJECT_RE})/assets/?(.*)$")
_ASSET_PART_RE = re.compile(r"^[A-Za-z0-9_\-.]+$")
DEFAULT_OWNER = "user:local-user@localhost"


def year_millis(year: int) -> int:
    """``system:time_start`` of 1 January of ``year`` (UTC), in milliseconds."""
    return int(_dt.datetime(int(year), 1, 1, tzinfo=_dt.timezone.utc).timestamp() * 1000)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _millis_to_rfc3339(ms: float) -> str:
    t = _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class AssetName:
    """A parsed asset id: ``project`` and ``path`` (``""`` for the project root)."""

    def __init__(self, project: str, path: str) -> None:
        self.project = project
        self.path = path.strip("/")

    @classmethod
    def parse(cls, asset_id: str, default_project: str = "local-project") -> AssetName:
        if not isinstance(asset_id, str) or not asset_id.strip():
            raise EEError(f"Invalid asset id: {asset_id!r}.")
        text = asset_id.strip()
        m = _NAME_RE.match(text)
        if m:
            return cls(m.group(1), m.group(2))
        if text.startswith("projects/earthengine-legacy/assets/"):
            return cls("earthengine-legacy", text.split("/assets/", 1)[1])
        if text.startswith("users/") or text.startswith("projects/"):
            return cls("earthengine-legacy", text)
        return cls("earthengine-public", text)

    @property
    def name(self) -> str:
        if not self.path:
            return f"projects/{self.project}/assets"
        return f"projects/{self.project}/assets/{self.path}"

    @property
    def id(self) -> str:
        """The asset id as the ``ee`` client shows it."""
        if self.project == "earthengine-public":
            return self.path
        if self.project == "earthengine-legacy":
            return self.path
        return self.name

    def child(self, part: str) -> AssetName:
        return AssetName(self.project, f"{self.path}/{part}" if self.path else part)

    def parent(self) -> AssetName:
        return AssetName(self.project, self.path.rsplit("/", 1)[0] if "/" in self.path else "")

    def __repr__(self) -> str:
        return f"AssetName({self.name!r})"


class AssetStore:
    """A folder of Earth Engine assets.

    Parameters
    ----------
    root
        The store folder (created if needed).
    default_project
        The project of ids given without one.
    user
        The identity that owns the assets this store creates (``user:…``).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        default_project: str = "local-project",
        user: str = DEFAULT_OWNER,
    ) -> None:
        self.root = Path(root)
        (self.root / "assets").mkdir(parents=True, exist_ok=True)
        self.default_project = default_project
        self.user = user
        self._lock = threading.RLock()

    # --- names and metadata -----------------------------------------------------------

    def resolve(self, asset_id: str | AssetName) -> AssetName:
        if isinstance(asset_id, AssetName):
            return asset_id
        if not isinstance(asset_id, str) or not asset_id.strip():
            raise EEError(f"Invalid asset id: {asset_id!r}.")
        text = asset_id.strip()
        if not text.startswith("projects/") and "/" not in text.strip("/"):
            text = f"projects/{self.default_project}/assets/{text}"
        return AssetName.parse(text, self.default_project)

    def _dir(self, name: AssetName) -> Path:
        parts = [p for p in name.path.split("/") if p]
        for p in parts:
            if not _ASSET_PART_RE.match(p) or p in (".", ".."):
                raise EEError(f"Invalid asset id: '{name.id}'.")
        return self.root.joinpath("assets", name.project, *parts)

    def exists(self, asset_id: str | AssetName) -> bool:
        name = self.resolve(asset_id)
        return not name.path or (self._dir(name) / "asset.json").is_file()

    def meta(self, asset_id: str | AssetName) -> dict:
        """The stored ``asset.json`` of an asset (NotFoundError when missing)."""
        name = self.resolve(asset_id)
        path = self._dir(name) / "asset.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFoundError(f"Asset '{name.id}' not found.") from None

    def _write_meta(self, name: AssetName, meta: dict) -> None:
        d = self._dir(name)
        d.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))

    def _new_meta(self, kind: str, properties: Mapping[str, Any] | None) -> dict:
        return {
            "type": kind,
            "properties": dict(properties or {}),
            "updateTime": _now(),
            "iam": {"bindings": [{"role": "roles/owner", "members": [self.user]}]},
        }

    def _ensure_parents(self, name: AssetName) -> None:
        parent = name.parent()
        chain = []
        while parent.path and not self.exists(parent):
            chain.append(parent)
            parent = parent.parent()
        for p in reversed(chain):
            self._write_meta(p, self._new_meta("FOLDER", None))

    def _check_absent(self, name: AssetName, overwrite: bool) -> None:
        if not name.path:  # a project root: never written to or replaced
            raise EEError(f"Invalid asset id: '{name.name}' is a project root, not an asset.")
        if self.exists(name):
            if not overwrite:
                raise AlreadyExistsError(f"Cannot overwrite asset '{name.id}'.")
            self.delete(name, recursive=True)

    # --- writing ----------------------------------------------------------------------

    def create(
        self, asset_id: str | AssetName, kind: str, properties: Mapping | None = None
    ) -> dict:
        """Create an empty ``FOLDER`` or ``IMAGE_COLLECTION``."""
        kind = kind.upper()
        if kind not in ("FOLDER", "IMAGE_COLLECTION"):
            raise EEError(f"Cannot create an empty asset of type {kind}.")
        name = self.resolve(asset_id)
        with self._lock:
            if self.exists(name):
                raise AlreadyExistsError(f"Cannot overwrite asset '{name.id}'.")
            self._ensure_parents(name)
            self._write_meta(name, self._new_meta(kind, properties))
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
        with self._lock:
            self._check_absent(name, overwrite)
            self._ensure_parents(name)
            meta = self._new_meta("IMAGE", properties)
            self._write_image(name, meta, bands, arrays, proj)
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
        with self._lock:
            self._check_absent(name, overwrite)
            self._ensure_parents(name)
            meta = self._new_meta("IMAGE", properties)
            self._write_image(name, meta, bands, arrays, projection, dtypes=dtypes)
        return name.name

    def _write_image(
        self,
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
        d = self._dir(name)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / ".data.tif.tmp"
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": len(bands),
            "dtype": dtype.name,
            "crs": proj.crs,
            "transform": Affine(*proj.transform),
            "nodata": nodata,
            "compress": "deflate",
        }
        if h >= 256 and w >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, (band, arr) in enumerate(zip(bands, arrays, strict=True), start=1):
                dst.write(np.asarray(arr).astype(dtype, copy=False), i)
                dst.set_band_description(i, band)
        os.replace(tmp, d / "data.tif")
        meta["bands"] = [{"id": b, "dtype": dtype.name} for b in bands]
        meta["grid"] = {
            "crs": proj.crs,
            "transform": list(proj.transform),
            "shape": [h, w],
        }
        meta["sizeBytes"] = str((d / "data.tif").stat().st_size)
        props = meta["properties"]
        if "system:time_start" in props:
            meta["startTime"] = _millis_to_rfc3339(props["system:time_start"])
            end = props.get("system:time_end")
            if end is None and "year" in props:
                end = year_millis(int(props["year"]) + 1)
            if end is not None:
                meta["endTime"] = _millis_to_rfc3339(end)
        self._write_meta(name, meta)

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
            crs = f"EPSG:{epsg}" if epsg else (src.crs.to_string() if src.crs else "EPSG:4326")
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
        with self._lock:
            self._check_absent(name, overwrite)
            self._ensure_parents(name)
            d = self._dir(name)
            d.mkdir(parents=True, exist_ok=True)
            if move:
                os.replace(path, d / "data.tif")
            else:
                tmp = d / ".data.tif.tmp"
                shutil.copyfile(path, tmp)
                os.replace(tmp, d / "data.tif")
            meta = self._new_meta("IMAGE", properties)
            meta["bands"] = [{"id": b, "dtype": t} for b, t in zip(bands, dtypes, strict=True)]
            meta["grid"] = {
                "crs": proj.crs,
                "transform": list(proj.transform),
                "shape": [shape[0], shape[1]],
            }
            meta["sizeBytes"] = str((d / "data.tif").stat().st_size)
            props = meta["properties"]
            if props.get("system:time_start") is not None:
                meta["startTime"] = _millis_to_rfc3339(props["system:time_start"])
                end = props.get("system:time_end")
                if end is None and "year" in props:
                    end = year_millis(int(props["year"]) + 1)
                if end is not None:
                    meta["endTime"] = _millis_to_rfc3339(end)
            self._write_meta(name, meta)
        return name.name

    def scratch_dir(self) -> Path:
        """A folder under the store root for files being written (same filesystem)."""
        d = self.root / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d

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
            A DataArray with a ``year`` dimension, or a ``{year: DataArray}`` mapping.
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
        with self._lock:
            self._check_absent(name, overwrite)
            self._ensure_parents(name)
            self._write_meta(name, self._new_meta("IMAGE_COLLECTION", properties))
            for year, arr in items:
                if hasattr(arr, "rename"):
                    arr = arr.rename(band)
                props = {"year": year, "system:time_start": year_millis(year)}
                self.put_image(name.child(str(year)), with_name(arr, band), props)
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
        with self._lock:
            self._check_absent(name, overwrite)
            self._ensure_parents(name)
            d = self._dir(name)
            d.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(d / "data.geojson", json.dumps(gj))
            meta = self._new_meta("TABLE", properties)
            meta["featureCount"] = len(gj.get("features", []))
            self._write_meta(name, meta)
        return name.name

    def set_properties(self, asset_id: str | AssetName, properties: Mapping[str, Any]) -> None:
        name = self.resolve(asset_id)
        with self._lock:
            meta = self.meta(name)
            for k, v in properties.items():
                if v is None:
                    meta["properties"].pop(k, None)
                else:
                    meta["properties"][k] = v
            meta["updateTime"] = _now()
            self._write_meta(name, meta)

    def delete(self, asset_id: str | AssetName, *, recursive: bool = False) -> None:
        name = self.resolve(asset_id)
        if not name.path:
            raise EEError(f"Cannot delete the project root '{name.name}'.")
        with self._lock:
            self.meta(name)
            d = self._dir(name)
            if not recursive and self.children(name):
                raise EEError(f"Asset '{name.id}' is not empty.")
            shutil.rmtree(d)

    def copy(self, src: str | AssetName, dst: str | AssetName, *, overwrite: bool = False) -> None:
        s, t = self.resolve(src), self.resolve(dst)
        with self._lock:
            self.meta(s)
            self._check_absent(t, overwrite)
            self._ensure_parents(t)
            shutil.copytree(self._dir(s), self._dir(t))

    def move(self, src: str | AssetName, dst: str | AssetName) -> None:
        s, t = self.resolve(src), self.resolve(dst)
        with self._lock:
            self.meta(s)
            self._check_absent(t, False)
            self._ensure_parents(t)
            os.replace(self._dir(s), self._dir(t))

    # --- IAM -------------------------------------------------------------------------

    def get_policy(self, asset_id: str | AssetName) -> dict:
        meta = self.meta(asset_id)
        return {
            "version": 1,
            "etag": "local",
            "bindings": meta.get("iam", {}).get("bindings", []),
        }

    def set_policy(self, asset_id: str | AssetName, policy: Mapping[str, Any]) -> dict:
        """Replace readers/writers; the owner binding is kept as Earth Engine does."""
        name = self.resolve(asset_id)
        with self._lock:
            meta = self.meta(name)
            old = meta.get("iam", {}).get("bindings", [])
            owners = [b for b in old if b.get("role") == "roles/owner"]
            new = [b for b in policy.get("bindings", []) if b.get("role") != "roles/owner"]
            meta["iam"] = {"bindings": owners + [b for b in new if b.get("members")]}
            meta["updateTime"] = _now()
            self._write_meta(name, meta)
        return self.get_policy(name)

    def roles_of(self, asset_id: str | AssetName, member: str) -> set[str]:
        """The roles ``member`` holds on the asset or any of its parents."""
        name = self.resolve(asset_id)
        roles: set[str] = set()
        node = name
        while node.path:
            if self.exists(node):
                for b in self.meta(node).get("iam", {}).get("bindings", []):
                    members = b.get("members", [])
                    if member in members or "allUsers" in members:
                        roles.add(b.get("role", ""))
            node = node.parent()
        return roles

    def check_access(
        self, asset_id: str | AssetName, member: str | None, *, write: bool = False
    ) -> None:
        """Raise PermissionDeniedError unless ``member`` may read (or write) the asset."""
        if member is None:
            return
        roles = self.roles_of(asset_id, member)
        allowed = (
            {"roles/owner", "roles/editor"}
            if write
            else {
                "roles/owner",
                "roles/editor",
                "roles/viewer",
            }
        )
        if not roles & allowed:
            name = self.resolve(asset_id)
            verb = "write" if write else "read"
            raise PermissionDeniedError(
                f"Permission denied: {member} may not {verb} asset '{name.id}'."
            )

    # --- reading ---------------------------------------------------------------------

    def children(self, asset_id: str | AssetName) -> list[AssetName]:
        name = self.resolve(asset_id)
        d = self._dir(name)
        if not d.is_dir():
            return []
        out = []
        for child in sorted(d.iterdir()):
            if child.is_dir() and (child / "asset.json").is_file():
                out.append(name.child(child.name))
        return out

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
            "updateTime": meta.get("updateTime", _now()),
            "properties": meta.get("properties", {}),
        }
        for key in ("startTime", "endTime", "sizeBytes"):
            if key in meta:
                out[key] = meta[key]
        if meta["type"] == "IMAGE":
            g = meta["grid"]
            a, b, c, d, e, f = g["transform"]
            out["bands"] = [
                {
                    "id": band["id"],
                    "dataType": {"precision": _rest_precision(band["dtype"])},
                    "grid": {
                        "crsCode": g["crs"],
                        "dimensions": {"width": g["shape"][1], "height": g["shape"][0]},
                        "affineTransform": {
                            "scaleX": a,
                            "shearX": b,
                            "translateX": c,
                            "shearY": d,
                            "scaleY": e,
                            "translateY": f,
                        },
                    },
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
        g = meta["grid"]
        proj = Projection(g["crs"], tuple(g["transform"]))
        shape = (int(g["shape"][0]), int(g["shape"][1]))
        extent = Grid(proj, shape)
        path = self._dir(name) / "data.tif"
        bands = []
        for i, band in enumerate(meta["bands"], start=1):
            bands.append(
                Band(
                    band["id"],
                    GeoTiffBandReader(path, i, proj, shape),
                    dtype=band["dtype"],
                    projection=proj,
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
        props["system:version"] = int(self._dir(name).stat().st_mtime_ns // 1000)
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
        gj = json.loads((self._dir(name) / "data.geojson").read_text())
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


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
