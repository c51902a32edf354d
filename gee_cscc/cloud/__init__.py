"""Earth Engine's cloud side as a library: exports, tasks, sharing, upload and assets.

Everything here uses the public ``ee`` API only, so it runs unchanged against Google Earth
Engine and the embedded local engine. The command line's cloud verbs (``gee-cscc export``,
``share``, ``upload``, ``annualize``) only parse arguments and print; the work is here:

- :mod:`~gee_cscc.cloud.exports`: image, table and collection exports with provenance,
  skipped when already done, restarted when failed.
- :mod:`~gee_cscc.cloud.destinations`: export destinations, their manifest keys and task
  names.
- :mod:`~gee_cscc.cloud.resume`: whether an export starts, is skipped or is waited on, from
  the task manifest of an earlier run.
- :mod:`~gee_cscc.cloud.tasks`: the task manifest kept in OUT, task status, waiting with
  progress.
- :mod:`~gee_cscc.cloud.sharing`: reading and extending asset ACLs.
- :mod:`~gee_cscc.cloud.upload`: annual GeoTIFFs as an image collection asset.
- :mod:`~gee_cscc.cloud.assets`: asset look-ups and folder/collection creation.
"""

from __future__ import annotations

from gee_cscc.cloud.assets import asset_exists, create_collection
from gee_cscc.cloud.destinations import Destination, destination_key
from gee_cscc.cloud.exports import (
    DEFAULT_MAX_PIXELS,
    export_collection,
    export_image,
    export_table,
    provenance,
)
from gee_cscc.cloud.sharing import format_acl, share_asset, show_acl
from gee_cscc.cloud.tasks import (
    ACTIVE_STATES,
    DONE_STATES,
    StderrProgress,
    TaskManifest,
    task_status,
    wait_for_tasks,
)
from gee_cscc.cloud.upload import (
    Upload,
    annual_geotiffs,
    ingestion_manifest,
    upload_annual_geotiffs,
)

__all__ = [
    "ACTIVE_STATES",
    "DEFAULT_MAX_PIXELS",
    "DONE_STATES",
    "Destination",
    "StderrProgress",
    "TaskManifest",
    "Upload",
    "annual_geotiffs",
    "asset_exists",
    "create_collection",
    "destination_key",
    "export_collection",
    "export_image",
    "export_table",
    "format_acl",
    "ingestion_manifest",
    "provenance",
    "share_asset",
    "show_acl",
    "task_status",
    "upload_annual_geotiffs",
    "wait_for_tasks",
]
