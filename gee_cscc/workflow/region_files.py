"""Region files in vector formats GDAL reads: GeoPackage, ESRI shapefile, and GeoJSON.

``--regions`` may be a GeoJSON file (:func:`gee_cscc.workflow.readers.read_geojson`), a
GeoPackage (``.gpkg``), an ESRI shapefile (``.shp`` with its ``.shx``, ``.dbf`` and
``.prj`` beside it) or a ``.zip`` holding one shapefile. They are read with ``pyogrio``
(GDAL's OGR, bundled in its wheels) into the same GeoJSON FeatureCollection the GeoJSON
reader gives, and then checked the same way
(:func:`gee_cscc.workflow.file_checks.check_features`):

* **Layer.** A file with one layer is read whole; a file with several (a GeoPackage may
  hold many) needs the layer named (``--regions-layer``, ``regions_layer`` in
  ``[inputs]`` or in ``gee_cscc.analyze``); the message lists the layers.
* **CRS.** Coordinates in any CRS the file declares are reprojected to EPSG:4326
  longitude/latitude with pyproj (a CGCS2000 or Web Mercator file as well as a UTM one).
  A file that declares no CRS (a shapefile without its ``.prj``) is taken as
  longitude/latitude only if its coordinates are; otherwise it is refused.
* **Geometries.** Polygons and multipolygons of finite positions; a feature without
  geometry is refused naming it (its number, and its name when it has one).
* **Names.** Every feature has the property that names the regions (``region_property``,
  ``--region-property``; default ``abbr``), and no two features share a name.

All of it happens before the NPP is read or stored, so a bad region file fails first.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from gee_cscc.errors import InputError
from gee_cscc.workflow.file_checks import check_features

__all__ = [
    "VECTOR_SUFFIXES",
    "check_region_names",
    "read_vector_regions",
    "vector_files",
]

#: Region file suffixes read by :func:`read_vector_regions` (GeoJSON has its own reader).
VECTOR_SUFFIXES = (".gpkg", ".shp", ".zip")

#: The files of a shapefile besides the ``.shp`` (read by GDAL when present).
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def vector_files(path: str | Path) -> list[Path]:
    """The files that make up a vector region file: a shapefile's ``.shp`` and the sidecar
    files present beside it, or the one file (so a changed ``.prj`` or ``.dbf`` is a
    changed input)."""
    p = Path(path)
    if p.suffix.lower() != ".shp":
        return [p]
    found = [p]
    for sibling in sorted(p.parent.iterdir()):
        if sibling.stem == p.stem and sibling.suffix.lower() in _SHAPEFILE_SIDECARS:
            found.append(sibling)
    return found


def read_vector_regions(path: str | Path, *, layer: str | None = None) -> dict:
    """A GeoPackage, shapefile (or zipped shapefile) as a GeoJSON FeatureCollection of
    polygons in EPSG:4326 longitude/latitude.

    Parameters
    ----------
    path
        The ``.gpkg``, ``.shp`` or ``.zip`` file.
    layer
        The layer to read; needed when the file has more than one.

    Raises
    ------
    InputError
        Missing or unreadable file, a missing shapefile sidecar, several layers and none
        named (listing them), an unknown layer, no feature, a null or non-polygon geometry
        (naming the feature), no CRS and coordinates that are not longitude/latitude.
    """
    p = Path(path)
    what = f"Region file {p}"
    if not p.is_file():
        raise InputError(f"Region file not found: {p}")
    if p.suffix.lower() == ".shp":
        for needed in (".shx", ".dbf"):
            if not any(f.suffix.lower() == needed for f in vector_files(p)):
                raise InputError(
                    f"{what} is a shapefile without its {needed} file beside it: copy every "
                    f"file of the shapefile ({p.stem}.shp, .shx, .dbf, .prj) together."
                )
    if p.suffix.lower() == ".zip":
        _check_zip(p, what)
    import pyogrio
    import pyogrio.raw

    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(p)]
    except Exception as exc:  # GDAL's own message, with the path
        raise InputError(f"Cannot read {what}: {_text(exc)}") from exc
    if not layers:
        raise InputError(f"{what} has no layer.")
    if layer is None:
        if len(layers) > 1:
            raise InputError(
                f"{what} has {len(layers)} layers ({', '.join(layers)}): choose one with "
                "--regions-layer (regions_layer in [inputs] or in gee_cscc.analyze)."
            )
        layer = layers[0]
    elif layer not in layers:
        raise InputError(f"{what} has no layer {layer!r}; its layers are {', '.join(layers)}.")
    try:
        meta, _, geometry, values = pyogrio.raw.read(p, layer=layer, force_2d=True)
    except Exception as exc:
        raise InputError(f"Cannot read layer {layer!r} of {what}: {_text(exc)}") from exc
    if geometry is None or len(geometry) == 0:
        raise InputError(f"{what} (layer {layer!r}) has no features with a geometry.")
    import shapely

    fields = [str(f) for f in meta.get("fields", [])]
    features = []
    for k, wkb in enumerate(geometry):
        geom = None if wkb is None else json.loads(shapely.to_geojson(shapely.from_wkb(wkb)))
        props = {name: _plain(column[k]) for name, column in zip(fields, values, strict=True)}
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    if meta.get("encoding", "").upper() in ("ISO-8859-1", "LATIN1") and not _has_cpg(p):
        _utf8_read_as_latin1(features)
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    crs = meta.get("crs")
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": str(crs)}}
    else:
        _check_lonlat(features, what)
    return check_features(collection, f"{what} (layer {layer!r})")


def check_region_names(collection: dict, name_property: str, what: str) -> list[str]:
    """The region names of a FeatureCollection: each feature's ``name_property``.

    Raises
    ------
    InputError
        A feature without the property (or with an empty one), or a name given twice.
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    for k, feature in enumerate(collection.get("features", [])):
        props = feature.get("properties") or {}
        value = props.get(name_property)
        if value is None or not str(value).strip():
            known = ", ".join(sorted(map(str, props))) or "none"
            raise InputError(
                f"{what}: feature {k + 1} has no '{name_property}' property (its properties: "
                f"{known}); set region_property (--region-property) to the one that names "
                "the regions."
            )
        name = str(value)
        if name in seen:
            raise InputError(
                f"{what}: features {seen[name] + 1} and {k + 1} are both named {name!r} "
                f"('{name_property}'); region names must be unique (merge them or rename one)."
            )
        seen[name] = k
        names.append(name)
    return names


def _check_zip(path: Path, what: str) -> None:
    """A ``.zip`` must hold its shapefile(s) at the top level (GDAL reads nothing else)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"Cannot read {what}: not a zip archive ({_text(exc)}).") from None
    shapefiles = [n for n in names if n.lower().endswith(".shp")]
    if not shapefiles:
        raise InputError(
            f"{what} holds no shapefile (.shp): zip the .shp with its .shx, .dbf and .prj."
        )
    if not any("/" not in n for n in shapefiles):
        raise InputError(
            f"{what} holds its shapefile in a folder ({shapefiles[0]}): zip the .shp, .shx, "
            ".dbf and .prj at the top level of the archive (or give the .shp itself)."
        )


def _has_cpg(path: Path) -> bool:
    """Whether a shapefile (or the shapefile in a ``.zip``) declares its encoding (``.cpg``)."""
    if path.suffix.lower() == ".zip":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith(".cpg") for n in archive.namelist())
    return any(f.suffix.lower() == ".cpg" for f in vector_files(path))


def _utf8_read_as_latin1(features: list[dict]) -> None:
    """Text of a shapefile without ``.cpg`` is read as Latin-1 (GDAL's default); when every
    non-ASCII value is then UTF-8 bytes (``GenÃ¨ve``, most shapefiles written today), it is
    decoded as UTF-8 (``Genève``) in place, so region names are not garbled."""
    texts = [
        (props, key, value)
        for feature in features
        for props in [feature["properties"]]
        for key, value in props.items()
        if isinstance(value, str) and not value.isascii()
    ]
    try:
        fixed = [value.encode("latin-1").decode("utf-8") for _, _, value in texts]
    except (UnicodeEncodeError, UnicodeDecodeError):  # real Latin-1 text: kept as read
        return
    for (props, key, _), value in zip(texts, fixed, strict=True):
        props[key] = value


def _check_lonlat(features: list[dict], what: str) -> None:
    """A file without a CRS: refused unless its coordinates are longitudes/latitudes."""
    xs: list[float] = []
    ys: list[float] = []
    for feature in features:
        coords = np.asarray(_flat_positions((feature.get("geometry") or {}).get("coordinates")))
        if coords.size:
            xs += [float(coords[:, 0].min()), float(coords[:, 0].max())]
            ys += [float(coords[:, 1].min()), float(coords[:, 1].max())]
    if xs and (max(map(abs, xs)) > 180.0 or max(map(abs, ys)) > 90.0):
        raise InputError(
            f"{what} declares no CRS (a shapefile needs its .prj) and its coordinates are not "
            f"longitude/latitude (x {min(xs):g}…{max(xs):g}, y {min(ys):g}…{max(ys):g}): "
            "give the file its CRS, or reproject it to EPSG:4326."
        )


def _flat_positions(coords: Any) -> list[list[float]]:
    if not isinstance(coords, list) or not coords:
        return []
    if isinstance(coords[0], (int, float)):
        return [coords[:2]]
    out: list[list[float]] = []
    for item in coords:
        out += _flat_positions(item)
    return out


def _plain(value: Any) -> Any:
    """A property value as JSON holds it (NumPy scalars, NaN as null, dates as text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _text(exc: Exception) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]
