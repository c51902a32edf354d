"""Table exports of the local engine (CSV, GeoJSON, table assets); see :mod:`.exports`."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.context import RequestContext
from ..core.serialize import to_info
from ..errors import EEError, UnimplementedError
from ..store.assets import AssetName, AssetStore
from ..store.space import check_free_space
from .destinations import (
    EMPTY_GEOMETRY,
    ProgressFn,
    asset_destination,
    check_cancel,
    evaluate_expression,
    file_targets,
    plain_geojson,
    store_properties,
    temp_beside,
    wrapped_int,
)

# --- table exports ----------------------------------------------------------------------------


def _elements(value: Any) -> list[Any]:
    elements = getattr(value, "elements", None)
    if elements is None:
        raise EEError(
            f"Export.table: the expression is a {type(value).__name__}, not a FeatureCollection."
        )
    return list(elements)


def _geometry_info(element: Any) -> dict | None:
    geometry = getattr(element, "geometry", None)
    if geometry is None or callable(geometry):
        return None
    return to_info(geometry)


def _check_vertices(elements: Sequence[Any], max_vertices: int | None) -> None:
    if not max_vertices:
        return
    import shapely

    for el in elements:
        geometry = getattr(el, "geometry", None)
        if geometry is None or callable(geometry):
            continue
        n = int(shapely.get_num_coordinates(geometry.shape))
        if n > max_vertices:
            raise UnimplementedError(
                f"Cutting a geometry of {n} vertices to maxVertices={max_vertices}"
            )


def export_table(
    ctx: RequestContext,
    body: Mapping[str, Any],
    cancel: threading.Event,
    progress: ProgressFn,
) -> list[str]:
    """Run a table export (to an asset, Drive or Cloud Storage folder); returns the written paths."""
    store: AssetStore = ctx.store
    asset_opts = body.get("assetExportOptions")
    file_opts = body.get("fileExportOptions")
    for other in ("featureViewExportOptions", "bigqueryExportOptions"):
        if body.get(other) is not None:
            raise UnimplementedError(f"Table export with {other}")
    if asset_opts is None and file_opts is None:
        raise EEError("A table export needs assetExportOptions or fileExportOptions.")
    asset: AssetName | None = None
    overwrite = False
    fmt = "CSV"
    if asset_opts is not None:
        asset, overwrite = asset_destination(ctx, asset_opts, "TABLE")
    else:
        fmt = str(file_opts.get("fileFormat") or "CSV").upper()
        if fmt not in ("CSV", "GEO_JSON"):
            raise UnimplementedError(f"Table export to fileFormat {fmt}")
    collection = evaluate_expression(body)
    elements = _elements(collection)
    _check_vertices(elements, wrapped_int(body.get("maxVertices"), None))
    check_cancel(cancel)
    selectors = body.get("selectors")
    if asset is not None:
        gj = _geojson(elements, None)
        store.put_table(
            asset,
            gj,
            properties=store_properties(getattr(collection, "properties", {}) or {}),
            overwrite=overwrite,
        )
        progress(1.0)
        return [asset.name]
    ext = "csv" if fmt == "CSV" else "geojson"
    target = file_targets(store.root, file_opts, ext)
    if fmt == "CSV":
        text = _csv_text(elements, selectors)
    else:
        text = json.dumps(_geojson(elements, selectors))
    check_cancel(cancel)
    tmp = temp_beside(target)
    try:
        check_free_space(target.parent, len(text.encode("utf-8")), target.name)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    progress(1.0)
    return [target.resolve().as_uri()]


def _properties_of(element: Any) -> dict[str, Any]:
    props = dict(getattr(element, "properties", {}) or {})
    props.pop("system:index", None)
    return props


def _index_of(element: Any, i: int) -> str:
    props = getattr(element, "properties", {}) or {}
    index = props.get("system:index")
    return str(index) if index is not None else str(i)


def _cell(value: Any) -> str:
    value = to_info(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _csv_text(elements: Sequence[Any], selectors: Sequence[str] | None) -> str:
    if selectors:
        columns = [str(s) for s in selectors]
    else:
        names: set[str] = set()
        for el in elements:
            names.update(_properties_of(el))
        columns = ["system:index", *sorted(names), ".geo"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for i, el in enumerate(elements):
        props = _properties_of(el)
        row = []
        for col in columns:
            if col == "system:index":
                row.append(_index_of(el, i))
            elif col == ".geo":
                geo = _geometry_info(el)
                row.append(json.dumps(geo or EMPTY_GEOMETRY, separators=(",", ":")))
            else:
                row.append(_cell(props.get(col)))
        writer.writerow(row)
    return buf.getvalue()


def _geojson(elements: Sequence[Any], selectors: Sequence[str] | None) -> dict:
    features = []
    for i, el in enumerate(elements):
        props = _properties_of(el)
        if selectors:
            props = {k: props.get(k) for k in selectors if k not in ("system:index", ".geo")}
        features.append(
            {
                "type": "Feature",
                "id": _index_of(el, i),
                "geometry": plain_geojson(_geometry_info(el)),
                "properties": {k: to_info(v) for k, v in props.items()},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def table_csv(elements: Sequence[Any], selectors: Sequence[str] | None) -> str:
    """A table export's CSV text (also what table downloads serve; see :mod:`.tasks`)."""
    return _csv_text(elements, selectors)


def table_geojson(elements: Sequence[Any], selectors: Sequence[str] | None) -> dict:
    """A table export's GeoJSON FeatureCollection (also what table downloads serve)."""
    return _geojson(elements, selectors)
