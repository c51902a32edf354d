"""Tables out of the local engine: ``table:computeFeatures`` and table downloads.

* ``POST /v1/projects/{p}/table:computeFeatures`` with ``{"expression", "pageSize"?,
  "pageToken"?}`` (``ee.data.computeFeatures``, which ``geemap.ee_to_df`` and the client's
  ``PANDAS_DATAFRAME`` / ``GEOPANDAS_GEODATAFRAME`` formats use) → ``{"type":
  "FeatureCollection", "features": [...], "nextPageToken"?}``: the collection's features
  as GeoJSON (geometry in EPSG:4326, ``id`` = ``system:index``), ``pageSize`` at a time
  (default and largest :data:`PAGE_SIZE`); ``nextPageToken`` is there while features
  remain. A page larger than :attr:`Limits.response_bytes` is refused with Earth Engine's
  "User memory limit exceeded." (ask for smaller pages).
* ``POST /v1/projects/{p}/tables`` with ``{"expression", "fileFormat", "selectors"?,
  "filename"?}`` (``ee.FeatureCollection.getDownloadURL`` / ``ee.data.getTableDownloadId``)
  → ``{"name": "projects/{p}/tables/{id}"}``; ``GET /v1/projects/{p}/tables/{id}:getFeatures``
  → the file, named ``{filename}.{csv|geojson}`` (``table`` by default) in its
  ``Content-Disposition``. Formats: ``CSV`` and ``GEO_JSON`` (``JSON`` is GeoJSON too, as
  the client documents), written exactly as a table export writes them (see
  :mod:`gee_cscc.engine.batch.tasks`: CSV columns ``system:index``, the properties in
  sorted order, ``.geo``; or the ``selectors`` in their order); ``KML`` (a Placemark per
  feature: ``system:index`` as its name, the properties as ExtendedData) and ``KMZ`` (that
  KML zipped as ``doc.kml``). SHP and TF_RECORD_TABLE are not implemented by the local
  engine.

Who may fetch: as for thumbnails and downloads (:mod:`.tiles`), creating the download id
needs the engine's token, the ``getFeatures`` URL needs none; the id's 128 random bits
are the key and the table is computed as the identity that created it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from typing import Any

from ..batch.table_exports import table_csv, table_geojson
from ..core.serialize import to_info
from ..errors import EEError, MemoryLimitError, NotFoundError
from .tiles import registry_of

__all__ = [
    "PAGE_SIZE",
    "TABLE_FORMATS",
    "compute_features",
    "handle",
    "is_table_download_url",
    "kml_bytes",
    "serve_table_download",
]

#: ``computeFeatures``' default and largest page (features per answer).
PAGE_SIZE = 1000
#: Table download formats: fileFormat → (file extension, content type).
TABLE_FORMATS = {
    "CSV": ("csv", "text/csv; charset=UTF-8"),
    "GEO_JSON": ("geojson", "application/geo+json; charset=UTF-8"),
    "JSON": ("geojson", "application/geo+json; charset=UTF-8"),
    "KML": ("kml", "application/vnd.google-earth.kml+xml"),
    "KMZ": ("kmz", "application/vnd.google-earth.kmz"),
}

_COMPUTE_RE = re.compile(r"projects/(?P<project>[^/:]+)/table:computeFeatures")
_CREATE_RE = re.compile(r"projects/(?P<project>[^/:]+)/tables")
_GET_RE = re.compile(r"projects/(?P<project>[^/:]+)/tables/(?P<id>[^/:]+):getFeatures")

Compute = Callable[..., Any]


def is_table_download_url(path: str) -> bool:
    """Whether ``path`` is a table download (``getFeatures``) URL, fetched without the token."""
    rest = path[len("/v1/") :] if path.startswith("/v1/") else None
    return rest is not None and bool(_GET_RE.fullmatch(rest))


def _elements(body: dict, what: str) -> list[Any]:
    from ..core.evaluate import evaluate
    from ..core.values import Feature

    value = evaluate(body.get("expression") or {})
    elements = getattr(value, "elements", None)
    if elements is None:
        raise EEError(f"{what}: the expression is a {type(value).__name__}, not a collection.")
    elements = list(elements)
    for el in elements:
        if not isinstance(el, Feature):
            raise EEError(
                f"{what}: the collection holds a {type(el).__name__}, not Features; "
                "map it to Features first."
            )
    return elements


def _int(value: Any, default: int, what: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EEError(f"Invalid {what}: {value!r}.") from None


def _plain(feature_info: dict) -> dict:
    geometry = feature_info.get("geometry")
    if isinstance(geometry, dict):
        feature_info["geometry"] = {k: v for k, v in geometry.items() if k != "geodesic"}
    return feature_info


def compute_features(body: dict, response_bytes: int) -> bytes:
    """The JSON answer of ``table:computeFeatures`` (one page)."""
    elements = _elements(body, "computeFeatures")
    size = _int(body.get("pageSize"), PAGE_SIZE, "pageSize")
    if size <= 0:
        size = PAGE_SIZE
    size = min(size, PAGE_SIZE)
    start = _int(body.get("pageToken"), 0, "pageToken")
    if start < 0 or start > len(elements):
        raise EEError(f"Invalid pageToken: {body.get('pageToken')!r}.")
    page = elements[start : start + size]
    out: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [_plain(to_info(f)) for f in page],
    }
    if start + size < len(elements):
        out["nextPageToken"] = str(start + size)
    payload = json.dumps(out).encode()
    if len(payload) > response_bytes:
        raise MemoryLimitError()
    return payload


def _table_format(body: dict) -> str:
    fmt = str(body.get("fileFormat") or "CSV").upper()
    if fmt not in TABLE_FORMATS:
        raise EEError(
            f"FeatureCollection.getDownloadURL: fileFormat {fmt} is not implemented by the "
            "local engine (CSV, GEO_JSON, KML or KMZ)."
        )
    return fmt


def _selectors(body: dict) -> list[str] | None:
    selectors = body.get("selectors")
    if isinstance(selectors, str):
        selectors = selectors.split(",")
    return [str(s).strip() for s in selectors] if selectors else None


def _filename(body: dict) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", str(body.get("filename") or "table"))
    return name or "table"


def _create(engine: Any, project: str, body: dict, user: str) -> tuple[bytes, str, dict]:
    fmt = _table_format(body)
    _elements(body, "FeatureCollection.getDownloadURL")  # fails now, at getDownloadURL
    name = registry_of(engine).add(project, "tables", body, fmt, user)
    return json.dumps({"name": name}).encode(), "application/json; charset=UTF-8", {}


def _table_file(body: dict, fmt: str) -> tuple[bytes, str, dict]:
    elements = _elements(body, "FeatureCollection.getDownloadURL")
    selectors = _selectors(body)
    if fmt == "CSV":
        payload = table_csv(elements, selectors).encode("utf-8")
    elif fmt in ("KML", "KMZ"):
        payload = kml_bytes(table_geojson(elements, selectors))
        if fmt == "KMZ":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("doc.kml", payload)
            payload = buf.getvalue()
    else:
        payload = json.dumps(table_geojson(elements, selectors)).encode("utf-8")
    ext, ctype = TABLE_FORMATS[fmt]
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Content-Disposition": f'attachment; filename="{_filename(body)}.{ext}"',
    }
    return payload, ctype, headers


_KML_NS = "http://www.opengis.net/kml/2.2"


def _kml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _kml_coords(points: list) -> str:
    return " ".join(",".join(repr(float(v)) for v in p[:3]) for p in points)


def _kml_geometry(parent: Any, geometry: dict | None) -> None:
    """Append the KML form of a GeoJSON geometry to ``parent``."""
    from xml.etree.ElementTree import SubElement

    if not geometry:
        return
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        SubElement(SubElement(parent, "Point"), "coordinates").text = _kml_coords([coords])
    elif kind == "LineString":
        SubElement(SubElement(parent, "LineString"), "coordinates").text = _kml_coords(coords)
    elif kind == "Polygon":
        poly = SubElement(parent, "Polygon")
        for i, ring in enumerate(coords):
            boundary = SubElement(poly, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
            SubElement(SubElement(boundary, "LinearRing"), "coordinates").text = _kml_coords(ring)
    elif kind in ("MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"):
        multi = SubElement(parent, "MultiGeometry")
        if kind == "GeometryCollection":
            parts = geometry.get("geometries") or []
        else:
            single = kind[len("Multi") :]
            parts = [{"type": single, "coordinates": c} for c in coords]
        for part in parts:
            _kml_geometry(multi, part)
    else:
        raise EEError(f"KML: geometry type {kind} cannot be written.")


def kml_bytes(collection: dict) -> bytes:
    """A GeoJSON FeatureCollection as a KML 2.2 document: a Placemark per feature (its
    ``id`` as name), the properties as ``ExtendedData``, the geometry in lon/lat."""
    from xml.etree.ElementTree import Element, SubElement, tostring

    root = Element("kml", xmlns=_KML_NS)
    doc = SubElement(root, "Document")
    for feature in collection.get("features", []):
        mark = SubElement(doc, "Placemark", id=str(feature.get("id", "")))
        SubElement(mark, "name").text = str(feature.get("id", ""))
        props = feature.get("properties") or {}
        if props:
            data = SubElement(mark, "ExtendedData")
            for key, value in props.items():
                SubElement(SubElement(data, "Data", name=str(key)), "value").text = _kml_value(
                    value
                )
        _kml_geometry(mark, feature.get("geometry"))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8")


def serve_table_download(engine: Any, rest: str, compute: Compute) -> tuple[bytes, str, dict]:
    """A table download's file, computed as the identity that created its id."""
    m = _GET_RE.fullmatch(rest)
    if not m:
        raise NotFoundError(f"Unknown path: GET /v1/{rest}")
    name = f"projects/{m.group('project')}/tables/{m.group('id')}"
    entry = registry_of(engine).get(name, "tables")
    return compute(entry.user, lambda ctx: _table_file(entry.body, entry.fmt), counted=False)


def handle(
    engine: Any,
    method: str,
    rest: str,
    read_body: Callable[[], dict],
    user: str,
    compute: Compute,
) -> tuple[bytes, str, dict] | None:
    """Serve ``table:computeFeatures`` or a table download call, or return None.

    Arguments as :func:`gee_cscc.engine.service.tiles.handle`.
    """
    if method == "POST" and _COMPUTE_RE.fullmatch(rest):
        body = read_body()
        limit = engine.limits.response_bytes
        payload = compute(user, lambda ctx: compute_features(body, limit))
        return payload, "application/json; charset=UTF-8", {}
    m = _CREATE_RE.fullmatch(rest)
    if m and method == "POST":
        body = read_body()
        project = m.group("project")
        return compute(user, lambda ctx: _create(engine, project, body, user))
    if method == "GET" and _GET_RE.fullmatch(rest):
        return serve_table_download(engine, rest, compute)
    return None
