"""Upload: a folder of annual ``*_YYYY.tif`` files as an image collection asset.

:func:`upload_annual_geotiffs` writes the files straight into the store of the local
engine, or starts one Earth Engine ingestion from Cloud Storage per file (the manifest of
each from :func:`ingestion_manifest`).
"""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ee

from gee_cscc.cloud.assets import asset_exists, create_collection
from gee_cscc.errors import ExportError, InputError

__all__ = ["Upload", "annual_geotiffs", "ingestion_manifest", "upload_annual_geotiffs"]

#: The records of every export module go to the logger of :mod:`gee_cscc.cloud.exports`.
log = logging.getLogger("gee_cscc.cloud.exports")

_YEAR_FILE = re.compile(r"_(\d{4})\.tiff?$", re.IGNORECASE)


def annual_geotiffs(folder: str | os.PathLike) -> dict[int, Path]:
    """The ``*_YYYY.tif`` files of a folder, by year.

    Raises
    ------
    InputError
        No such file, or two files for one year (the message names them).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Not a folder: {folder}")
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        m = _YEAR_FILE.search(path.name)
        if not m or not path.is_file():
            continue
        year = int(m.group(1))
        if year in found:
            raise InputError(f"Two files for year {year}: {found[year].name} and {path.name}.")
        found[year] = path
    if not found:
        raise InputError(f"No *_YYYY.tif files in {folder}.")
    return dict(sorted(found.items()))


def _asset_name(asset_id: str) -> str:
    if asset_id.startswith("projects/"):
        return asset_id
    if asset_id.startswith("users/"):
        return f"projects/earthengine-legacy/assets/{asset_id}"
    raise InputError(f"Give the full asset id ('projects/<project>/assets/…'), not {asset_id!r}.")


def _rfc3339(year: int) -> str:
    return f"{year:04d}-01-01T00:00:00Z"


def _year_start_millis(year: int) -> int:
    """``system:time_start`` of 1 January of ``year`` (UTC), in milliseconds."""
    return int(datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc).timestamp() * 1000)


def ingestion_manifest(
    name: str,
    uris: str | Sequence[str],
    *,
    year: int | None = None,
    band: str = "npp",
    properties: Mapping[str, Any] | None = None,
    missing_data: Sequence[float] | None = None,
    pyramiding_policy: str = "MEAN",
) -> dict[str, Any]:
    """The image manifest that ingests one single-band GeoTIFF from Cloud Storage.

    Parameters
    ----------
    name
        The image asset (``projects/<p>/assets/…``).
    uris
        The ``gs://`` URI of the file (or a list: the file and its sidecars).
    year
        The calendar year: ``startTime``/``endTime`` span it, ``year`` is a property.
    band
        The band name.
    properties
        More image properties.
    missing_data
        Values that mark masked pixels.
    pyramiding_policy
        How Earth Engine builds coarser levels.

    Returns
    -------
    dict
        A dict for ``ee.data.startIngestion``.
    """
    uris = [uris] if isinstance(uris, str) else list(uris)
    for uri in uris:
        if not uri.startswith("gs://"):
            raise InputError(f"Ingestion reads from Cloud Storage: {uri!r} is not a gs:// URI.")
    manifest: dict[str, Any] = {
        "name": _asset_name(name),
        "tilesets": [{"sources": [{"uris": uris}]}],
        "bands": [{"id": band, "tilesetBandIndex": 0}],
    }
    props = dict(properties or {})
    if year is not None:
        manifest["startTime"] = _rfc3339(year)
        manifest["endTime"] = _rfc3339(year + 1)
        props = {"year": int(year), **props}
    if props:
        manifest["properties"] = props
    if missing_data:
        manifest["missingData"] = {"values": [float(v) for v in missing_data]}
    manifest["pyramidingPolicy"] = pyramiding_policy.upper()
    return manifest


@dataclass
class Upload:
    """What :func:`upload_annual_geotiffs` did.

    Attributes
    ----------
    collection
        The ImageCollection asset id.
    images
        The image asset ids written or being ingested, by year.
    skipped
        Years whose image existed (not overwritten).
    tasks
        Ingestion tasks to wait on (Earth Engine only; empty on the local engine).
    """

    collection: str
    images: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)


def _single_band(path: Path) -> tuple[float | None, str]:
    import rasterio

    try:
        with rasterio.open(path) as src:
            if src.count != 1:
                raise InputError(f"{path.name} has {src.count} bands; annual NPP files have one.")
            return src.nodata, src.dtypes[0]
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"Cannot read {path}: {exc}") from exc


def upload_annual_geotiffs(
    folder: str | os.PathLike,
    asset_id: str,
    *,
    engine: Any | None = None,
    band: str = "npp",
    gcs_prefix: str | None = None,
    overwrite: bool = False,
    properties: Mapping[str, Any] | None = None,
) -> Upload:
    """Make an annual ImageCollection asset from a folder of ``*_YYYY.tif`` files.

    Each file (one band; its nodata value or NaN marks masked pixels) becomes the image
    ``<asset_id>/<YYYY>`` with band ``band``, property ``year`` and ``system:time_start`` at
    1 January (UTC), ending 1 January of the next year.

    - On the local engine (``engine`` given) the files go straight into its store.
    - On Earth Engine the files must already be in Cloud Storage under ``gcs_prefix``
      (``gs://bucket/dir``, same file names; e.g. copied with ``gcloud storage cp``); one
      ingestion task per file is started (``ee.data.startIngestion``); wait on
      ``Upload.tasks`` with :func:`wait_for_tasks`.

    Parameters
    ----------
    folder
        The folder of GeoTIFFs.
    asset_id
        The ImageCollection asset (created if missing).
    engine
        The local engine, or None for the initialized Earth Engine.
    band
        The band name of every image.
    gcs_prefix
        Where the files are in Cloud Storage (Earth Engine only).
    overwrite
        Replace existing images (otherwise they are skipped).
    properties
        Properties of a new collection asset.

    Returns
    -------
    Upload
        The collection, the images written or being ingested, the years skipped and the
        ingestion tasks.

    Raises
    ------
    InputError
        No files, two for one year, a multi-band file, or no ``gcs_prefix`` on
        Earth Engine.
    ExportError
        An ingestion could not be started.
    """
    files = annual_geotiffs(folder)
    for path in files.values():
        _single_band(path)
    result = Upload(collection=asset_id)
    if engine is not None:
        return _upload_local(engine, files, asset_id, band, overwrite, properties, result)
    if not gcs_prefix or not gcs_prefix.startswith("gs://"):
        raise InputError(
            "Uploading to Earth Engine ingests from Cloud Storage: copy the files to a bucket "
            "and give gcs_prefix='gs://bucket/dir'."
        )
    name = _asset_name(asset_id)
    if not asset_exists(name):
        create_collection(name, properties)
    for year, path in files.items():
        image = f"{name}/{year}"
        if not overwrite and asset_exists(image):
            log.info("%s exists; skipped", image)
            result.skipped.append(year)
            continue
        nodata, _ = _single_band(path)
        missing = [nodata] if nodata is not None and nodata == nodata else None
        manifest = ingestion_manifest(
            image,
            f"{gcs_prefix.rstrip('/')}/{path.name}",
            year=year,
            band=band,
            missing_data=missing,
        )
        try:
            reply = ee.data.startIngestion(ee.data.newTaskId()[0], manifest, overwrite)
        except ee.EEException as exc:
            raise ExportError(
                f"Cannot start the ingestion of {path.name} into {image}: {exc}"
            ) from exc
        result.tasks.append(
            ee.batch.Task(
                reply["id"],
                "INGEST_IMAGE",
                ee.batch.Task.State.READY,
                {"description": f"ingest {path.name}"},
                reply.get("name"),
            )
        )
        result.images[year] = image
    return result


def _upload_local(
    engine: Any,
    files: Mapping[int, Path],
    asset_id: str,
    band: str,
    overwrite: bool,
    properties: Mapping[str, Any] | None,
    result: Upload,
) -> Upload:
    store = engine.store
    if not store.exists(asset_id):
        store.create(asset_id, "IMAGE_COLLECTION", properties)
    elif store.meta(asset_id)["type"] != "IMAGE_COLLECTION":
        raise InputError(f"'{asset_id}' exists and is not an ImageCollection.")
    collection = store.resolve(asset_id)
    for year, path in files.items():
        image = collection.child(str(year))
        if store.exists(image) and not overwrite:
            log.info("%s exists; skipped", image.name)
            result.skipped.append(year)
            continue
        props = {
            "year": year,
            "system:time_start": _year_start_millis(year),
            "system:time_end": _year_start_millis(year + 1),
        }
        store.put_geotiff(image, path, bands=[band], properties=props, overwrite=overwrite)
        result.images[year] = image.name
    return result
