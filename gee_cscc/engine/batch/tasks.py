"""What the local engine's export and ingestion operations do.

:func:`run_operation` is called by :class:`gee_cscc.engine.service.operations.Operations` on a worker thread for
every ``image:export``, ``table:export``, ``image:import`` and ``table:import`` request (bodies
as in shared/reference/ee-protocol.md §4–§5). It returns the operation's destination URIs;
an :class:`~gee_cscc.engine.errors.EEError` fails the operation with its message, a set
``cancel_event`` cancels it (checked between tiles).

Where things land (``<root>`` is the asset store folder):

- asset exports and ingestions: in the store, readable back with ``ee.Image(id)`` /
  ``ee.FeatureCollection(id)``;
- Drive exports: ``<root>/drive/<folder>/<filenamePrefix>.<ext>`` (no folder: ``<root>/drive/``);
- Cloud Storage exports: ``<root>/gcs/<bucket>/<filenamePrefix>.<ext>``;
- ingestion sources ``gs://bucket/object`` are read from ``<root>/gcs/bucket/object``.

Everything is written under a temporary name and renamed at the end, so a failed or
cancelled task leaves nothing behind.

Image exports follow Earth Engine:

- The export grid is the image's extent: the client folds region, scale, crs, crsTransform
  and dimensions into the expression (``Image.clipToBoundsAndScale``, ``Image.reproject``,
  ``Image.clip``); a ``region`` (a top-level ``Image.clip``) gives the region's whole
  bounding window in the first band's projection, pixels outside the image masked. An image
  without one (a constant, a composite not clipped to a region) fails with "Unable to export
  unbounded image." like Earth Engine's. A computed image without a projection is written in
  EPSG:4326 north up. All bands are computed on the first band's grid (each resampled onto
  it, see :mod:`gee_cscc.engine.raster.resample`), tile by tile (bounded memory).
- ``maxPixels`` (default 1e8) bounds the grid's pixel count.
- GeoTIFF files: all bands share one data type; integer bands of different types are widened
  to a common integer type, and a mix of integer and floating-point bands fails with Earth
  Engine's "Exported bands must have compatible data types" message (cast with ``toFloat``
  or ``toDouble`` first). Masked pixels are written as ``geoTiffOptions.noData`` when given
  (also recorded as the file's nodata value), else as 0 with no nodata value, as Earth Engine
  does. ``cloudOptimized`` gives a Cloud-Optimized GeoTIFF (GDAL's COG driver, deflate).
  ``tileDimensions`` (``fileDimensions``) smaller than the grid splits the output into files
  named ``<prefix>-<row offset:010d>-<col offset:010d>.tif``; ``skipEmptyFiles`` leaves out
  files with no unmasked pixel. TFRecord is not implemented.
- Asset exports keep every band's pixel type and mask, and the image's properties (without
  the ``system:`` ones other than ``system:time_start``/``system:time_end``). ``overwrite``
  false and an existing asset fail with "Cannot overwrite asset '<id>'.". Missing parent
  folders are created. ``pyramidingPolicy`` (and per-band overrides) are kept with the
  asset: they decide how it is read at coarser scales (its pyramid levels).

Table exports:

- CSV: columns ``system:index``, then every property name in sorted order, then ``.geo``
  (the geometry as compact GeoJSON; a feature without geometry gets
  ``{"type":"MultiPoint","coordinates":[]}``, as Earth Engine writes). With ``selectors``, the
  columns are exactly the selectors in their order (``system:index`` and ``.geo`` only when
  listed). Numbers are written in Python's shortest form, lists and dictionaries as JSON,
  missing values as empty cells. (Column order and ``.geo`` form follow Earth Engine's CSV
  exports as far as we know them.)
- GeoJSON: a FeatureCollection with each feature's ``system:index`` as ``id``; selectors
  restrict the properties. KML, KMZ, SHP and TFRecord are not implemented.
- Table assets keep geometries, properties and the collection's properties.
- ``maxVertices``: a geometry with more vertices than that fails (the local engine does not
  cut geometries).

Ingestion (``image:import``): one GeoTIFF source per tileset (``uris`` may add sidecar files),
tilesets on one grid or several (each band keeps its tileset's grid, as Sentinel-2's 10, 20
and 60 m bands do; list the bands of each grid together); ``bands`` pick
``tilesetId``/``tilesetBandIndex`` (default: every band of every tileset, named ``b1``,
``b2`` …); ``pyramidingPolicy`` (image or band level) is kept; ``missingData.values`` (image
or band level) and the file's nodata value mask pixels; ``startTime``/``endTime`` become
``system:time_start``/``system:time_end``; ``properties`` are kept. ``maskBands`` and
mosaics of several sources per tileset are not implemented. ``table:import`` reads a CSV
(geometry from ``primaryGeometryColumn`` as GeoJSON or WKT, default ``.geo``, or from
``xColumn``/``yColumn``) or a GeoJSON file.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..core.context import RequestContext, request_context
from ..errors import EEError
from .destinations import ProgressFn
from .image_exports import export_image
from .ingestion import import_image, import_table
from .table_exports import export_table

__all__ = ["run_operation"]


def run_operation(
    ctx: RequestContext,
    kind: str,
    verb: str,
    body: Mapping[str, Any],
    cancel_event: threading.Event,
    progress: ProgressFn | None = None,
) -> list[str]:
    """Run one export or ingestion; returns its destination URIs.

    Parameters
    ----------
    ctx
        The request context of the caller who started the operation (store and user).
    kind
        ``image`` or ``table`` (``video`` and ``map`` are not implemented).
    verb
        ``export`` or ``import``.
    body
        The request body the ``ee`` client sent.
    cancel_event
        Set when the operation is cancelled; checked between tiles.
    progress
        Called with the fraction done (0–1) as the work proceeds.

    Raises
    ------
    EEError
        The operation fails with this message.
    CancelledError
        The operation was cancelled.
    """
    report = progress or (lambda fraction: None)
    with request_context(ctx):
        if (kind, verb) == ("image", "export"):
            return export_image(ctx, body, cancel_event, report)
        if (kind, verb) == ("table", "export"):
            return export_table(ctx, body, cancel_event, report)
        if (kind, verb) == ("image", "import"):
            return import_image(ctx, body, cancel_event, report)
        if (kind, verb) == ("table", "import"):
            return import_table(ctx, body, cancel_event, report)
    raise EEError(f"{kind}:{verb} is not implemented by the local engine.")
