"""A run's inputs: asset ids as they are, local files loaded into the local engine's store.

``--npp`` may be an Earth Engine asset id or a local file (read by
:mod:`gee_cscc.workflow.readers`); ``--regions`` an asset id (table or integer image), a
GeoJSON file or a region GeoTIFF. Local files become assets of the local engine; nothing
else about the run changes.

Local files are stored under content-addressed asset ids, so runs that share a store (every
run on one machine shares the default store) never read each other's inputs:

``inputs/<kind>-<sha12>`` in the engine's project, where ``kind`` is ``npp`` (the NPP
collection), ``regions`` (a GeoJSON table) or ``region-ids`` (a region raster), and
``sha12`` is the first 12 hex digits of :func:`input_key`: a SHA-256 over the scheme
(:data:`INPUT_SCHEME`, the package version), the kind, the options that change what is
stored (the NPP band) and the bytes of the file (for a folder: the relative name and bytes
of each file in it). The asset carries the full digest as its ``gee_cscc_sha256``
property. A file is always read and checked; it is stored only when no asset with its
digest exists. The check and the write happen under the store's lock of that asset, so two
runs loading the same file store it once and both use it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.version import __version__
from gee_cscc.workflow.npp_values import row_blocks
from gee_cscc.workflow.readers import (
    check_same_grid,
    is_local_path,
    npp_file_years,
    read_geojson,
    read_npp,
    read_region_names,
    read_region_raster,
)
from gee_cscc.workflow.region_files import (
    VECTOR_SUFFIXES,
    check_region_names,
    read_vector_regions,
    vector_files,
)
from gee_cscc.workflow.years import check_years, infer_years, years_note

log = logging.getLogger("gee_cscc")

__all__ = [
    "HASH_PROPERTY",
    "INPUT_SCHEME",
    "RunInputs",
    "collection_years",
    "input_key",
    "input_years",
    "resolve_inputs",
]

#: Versions the content addressing of local inputs (with the package version).
INPUT_SCHEME = "gee-cscc-inputs-1"
#: The asset property holding an input's full SHA-256 (:func:`input_key`).
HASH_PROPERTY = "gee_cscc_sha256"


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
    regions_layer
        The layer of a GeoPackage (or other multi-layer vector file) holding the regions.
    infer_years
        The year fields (``"start"``, ``"end"``) not given by the user, to be taken from
        the NPP input (:func:`input_years`).
    """

    npp: str
    regions: str | None = None
    region_names: str | None = None
    regions_kind: str = "auto"
    synthetic: bool = False
    extra: dict = field(default_factory=dict)
    regions_layer: str | None = None
    infer_years: tuple[str, ...] = ()


def resolve_inputs(inputs: RunInputs, engine: Any, cfg: Config) -> tuple[str, Any]:
    """Asset ids of the NPP collection and the regions (loading local files into the store).

    A local region file is read and checked first (its names too), so a bad region file
    fails before the NPP is read or stored.
    """
    import ee

    from gee_cscc.method import regions_from_features, regions_from_image
    from gee_cscc.method.checks import collection_grid, image_grid

    _check_file_exists(inputs.npp, "NPP input")
    reg = inputs.regions
    names = read_region_names(inputs.region_names) if inputs.region_names else None
    table = raster = None
    if reg is not None:
        _check_file_exists(reg, "Region file")
        if is_local_path(reg):
            if engine is None:
                raise InputError(
                    f"{reg} is a local file: on Earth Engine, upload it first and pass the "
                    "asset id."
                )
            table, raster = _read_region_file(reg, inputs.regions_layer, cfg)
    npp_id = inputs.npp
    npp_data = None
    if is_local_path(inputs.npp):
        if engine is None:
            raise InputError(
                f"{inputs.npp} is a local file: on Earth Engine, upload it first "
                "(gee-cscc upload) and pass the asset id."
            )
        source = read_npp(inputs.npp, band=cfg.band, cfg=cfg)
        npp_data = source.raw  # its grid; the values are read and stored one year at a time
        yearly = {int(y): partial(source.year, int(y)) for y in source.raw["year"].values}
        npp_id = _stored_input(
            engine,
            "npp",
            inputs.npp,
            {"band": cfg.band},
            lambda aid, props: engine.store.put_collection(
                aid, yearly, band=cfg.band, properties=props
            ),
        )
    if reg is None:
        return npp_id, None
    if table is not None:
        options = {"layer": inputs.regions_layer} if inputs.regions_layer else {}
        rid = _stored_input(
            engine,
            "regions",
            reg,
            options,
            lambda aid, props: engine.store.put_table(aid, table, props),
        )
        return npp_id, regions_from_features(
            ee.FeatureCollection(rid), name_property=cfg.region_property, source=str(reg)
        )
    if raster is not None:
        npp_grid = npp_data if npp_data is not None else collection_grid(npp_id, cfg.band)
        check_same_grid(npp_grid, raster, npp_name=str(inputs.npp), regions_name=str(reg))
        rid = _stored_input(
            engine,
            "region-ids",
            reg,
            {},
            lambda aid, props: engine.store.put_image(aid, raster, props),
        )
        # Named ids without cells stay: a region with no cells is still listed (zeros).
        present = _present_ids(raster.values)
        ids = sorted(present | set(names or {}))
        return npp_id, regions_from_image(ee.Image(rid), names=names, ids=ids, source=str(reg))
    # An asset id: a table or an image.
    kind = inputs.regions_kind
    if kind == "auto":
        try:
            info = ee.data.getAsset(reg)
        except ee.EEException as exc:
            raise InputError(f"Region asset '{reg}' cannot be read: {exc}") from exc
        kind = "image" if info.get("type") == "IMAGE" else "table"
    if kind == "image":
        img = ee.Image(reg)
        npp_grid = npp_data if npp_data is not None else collection_grid(npp_id, cfg.band)
        check_same_grid(npp_grid, image_grid(reg), npp_name=str(inputs.npp), regions_name=reg)
        # Every id the image holds, named or not (a names file that leaves ids out must not
        # leave their regions out of the tables), and named ids without cells (zeros).
        ids = sorted(set(_region_ids(img)) | set(names or {}))
        return npp_id, regions_from_image(img, names=names, ids=ids, source=reg)
    return npp_id, regions_from_features(
        ee.FeatureCollection(reg), name_property=cfg.region_property, source=reg
    )


def _read_region_file(path: str, layer: str | None, cfg: Config) -> tuple[Any, Any]:
    """``(table, raster)`` of a local region file, one of them None, read and checked."""
    suffix = Path(path).suffix.lower()
    if layer is not None and suffix not in VECTOR_SUFFIXES:
        raise InputError(
            f"A region layer ({layer!r}) is given but {path} is not a GeoPackage or "
            "shapefile: leave regions_layer out."
        )
    if suffix in (".geojson", ".json"):
        table = read_geojson(path)
    elif suffix in VECTOR_SUFFIXES:
        table = read_vector_regions(path, layer=layer)
    elif suffix in (".tif", ".tiff"):
        return None, read_region_raster(path)
    else:
        raise InputError(
            f"Unknown region file type '{suffix}' ({path}): give a GeoJSON (.geojson), "
            "GeoPackage (.gpkg), shapefile (.shp or .zip) or region GeoTIFF (.tif)."
        )
    check_region_names(table, cfg.region_property, f"Region file {path}")
    return table, None


def input_years(
    inputs: RunInputs, cfg: Config, *, progress: Callable[[str], None] | None = None
) -> Config:
    """The run's configuration with its years settled against the NPP input's years.

    The years named in ``inputs.infer_years`` are taken from the input (its first and last
    year); the run's years ``start … end`` must then all be in the input (an input holding
    more is used for those years only). One line through ``progress`` says which years
    are used when they are a subset or were taken from the input
    (:mod:`gee_cscc.workflow.years`).

    Raises
    ------
    InputError
        A year of the run that the input does not hold (naming the years it has).
    ConfigError
        Years taken from the input that do not make a valid run (e.g. the reference year
        outside them).
    """
    npp = inputs.npp
    if isinstance(npp, (str, Path)) and is_local_path(npp):
        available = npp_file_years(npp)
        what = f"NPP file {npp}"
    else:
        available = collection_years(npp)
        what = f"NPP '{npp}'" if isinstance(npp, str) else "the NPP collection"
    if not available:  # unreadable here: the reader or load_annual_npp says why
        return cfg
    cfg = infer_years(available, cfg, inputs.infer_years, what)
    check_years(available, cfg, what)
    note = years_note(available, cfg, inputs.infer_years, what)
    if note:
        log.info(note)
        if progress is not None:
            progress(note)
    return cfg


def collection_years(collection: Any) -> list[int]:
    """The years of an ImageCollection (asset id or ``ee.ImageCollection``) from its
    images' ``year`` or ``system:time_start``; none when it cannot be read (the run's
    loading of the collection then says why)."""
    import ee

    from gee_cscc.method.inputs import image_year

    try:
        info = ee.ImageCollection(collection).getInfo()
    except Exception:  # reported, naming the asset, when the run loads it
        return []
    years = [image_year(f.get("properties", {})) for f in (info or {}).get("features", [])]
    return sorted({y for y in years if y is not None})


def input_key(kind: str, path: str | Path, options: dict[str, Any]) -> str:
    """The SHA-256 (hex) that names a local input's asset (see the module docstring).

    Parameters
    ----------
    kind
        ``npp``, ``regions`` or ``region-ids``.
    path
        The file (a shapefile with its sidecar files), or a folder (every file below it,
        by relative name).
    options
        The options that change what is stored (e.g. ``{"band": "npp"}``).
    """
    h = hashlib.sha256()
    head = f"{INPUT_SCHEME}\0{__version__}\0{kind}\0"
    head += "".join(f"{k}={options[k]!r}\0" for k in sorted(options))
    h.update(head.encode())
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else vector_files(p)
    for f in files:
        if p.is_dir():
            rel = f.relative_to(p).as_posix()
        else:  # the file itself, or a shapefile's sidecar by its suffix
            rel = "" if f == p else f.name[len(p.stem) :]
        h.update(f"file\0{rel}\0{f.stat().st_size}\0".encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _stored_input(
    engine: Any,
    kind: str,
    path: str | Path,
    options: dict[str, Any],
    write: Callable[[str, dict[str, Any]], Any],
) -> str:
    """The content-addressed asset id of a local input, written by ``write`` unless stored."""
    key = input_key(kind, path, options)
    asset = engine.asset_id(f"inputs/{kind}-{key[:12]}")
    store = engine.store
    with store.locks.asset(store.resolve(asset).name):
        if store.exists(asset) and store.meta(asset)["properties"].get(HASH_PROPERTY) == key:
            return asset
        write(asset, {HASH_PROPERTY: key, "source": str(path), **options})
    return asset


#: Suffixes that mark an input as a local file (an asset id never ends like this).
_FILE_SUFFIXES = frozenset(
    {
        ".nc",
        ".nc4",
        ".cdf",
        ".zarr",
        ".tif",
        ".tiff",
        ".geojson",
        ".json",
        ".csv",
        ".shp",
        ".gpkg",
        ".zip",
    }
)


def _check_file_exists(value: str, what: str) -> None:
    """A missing local file is "not found", not an unreadable asset id of the same name."""
    looks_like_file = Path(value).suffix.lower() in _FILE_SUFFIXES or value.startswith(
        ("./", "../", ".\\", "..\\")
    )
    if looks_like_file and not is_local_path(value):
        raise InputError(f"{what} not found: {value}")


def _present_ids(ids: np.ndarray) -> set[int]:
    """The ids > 0 of a region raster, a band of rows at a time (no sorted whole-grid copy)."""
    present: set[int] = set()
    for band in row_blocks(*ids.shape):
        present.update(int(v) for v in np.unique(ids[band]) if v > 0)
    return present


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
