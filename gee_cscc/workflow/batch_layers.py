"""The layout of a run's exported layers, and reading them back for a batch run's preview.

The maintenance surfaces (docs/method.md §4: one surface ``P`` per evaluation year, built by
one ``iterate`` chain) are exported as **one multi-band image**: band ``P_<year>`` holds the
surface of that evaluation year, in year order (:func:`maintenance_image`; asset
``ROOT/maintenance``, file ``{prefix}_maintenance.tif``). One export task computes the chain
once per tile for every year; one task per year would recompute it up to its year in every
task.

Earlier versions exported one image per year (``ROOT/maintenance/<year>``, an
ImageCollection, and ``{prefix}_maintenance_<year>.tif``). Runs never mix the two layouts:
:data:`EXPORT_LAYOUT` enters the run identity (so an old manifest's tasks belong to another
run, :func:`check_layout` says so in words), and an old ImageCollection at the destination
is refused, or removed when the run restarts (:func:`clear_old_maintenance`).

A batch run's layout (:data:`BATCH_LAYOUT`) adds how its grouped sums are exported: one
table for every table (``ROOT/tables/sums``, :mod:`~gee_cscc.workflow.batch_tables`), where
earlier versions exported four (``ROOT/tables/capacity``, ``yearly``, ``trend_classes``,
``maintenance``), each computing the shared layers again. A manifest of those is refused in
words too; its old table assets are left where they are (the new table has another name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gee_cscc.cloud.assets import asset_info, delete_collection
from gee_cscc.cloud.tasks import TaskManifest
from gee_cscc.errors import ResumeMismatch

__all__ = [
    "BATCH_LAYOUT",
    "EXPORT_LAYOUT",
    "check_layout",
    "clear_old_maintenance",
    "exported_layers",
    "maintenance_band",
    "maintenance_image",
]

#: The export layout, recorded in the run identity (``run_identity(..., layout=...)``).
EXPORT_LAYOUT = "maintenance-one-multiband-image"

#: A batch run's layout: the export layout, and every grouped sum in one table.
BATCH_LAYOUT = f"{EXPORT_LAYOUT}; sums-one-table"

#: The old layouts, in words (for messages).
OLD_LAYOUT = "the maintenance surfaces as one image per year (ROOT/maintenance/<year>)"
OLD_TABLES = (
    "the grouped sums as four tables (ROOT/tables/capacity, yearly, trend_classes, maintenance)"
)


def maintenance_band(year: int) -> str:
    """The band of the maintenance surface of an evaluation year: ``P_<year>``."""
    return f"P_{int(year)}"


def maintenance_image(maintenance: Any, years: Sequence[int]) -> Any:
    """The maintenance surfaces as one image, band ``P_<year>`` per evaluation year.

    ``maintenance`` is the method's collection (one image per year of ``years``, in that
    order, band ``P``): ``ImageCollection.toBands`` then ``Image.rename``, so the chain is one
    expression shared by every band. The image carries ``gee_cscc_years`` (the years, JSON)
    and ``gee_cscc_bands`` (what a band holds).
    """
    import ee

    years = [int(y) for y in years]
    names = [maintenance_band(y) for y in years]
    image = ee.ImageCollection(maintenance).toBands().rename(names)
    return image.set(
        {
            "gee_cscc_years": json.dumps(years),
            "gee_cscc_bands": "P_<year>: maintenance surface P of that evaluation year "
            "(+1 positive trend maintained, -1 negative maintained, 0 changed)",
        }
    )


def check_layout(
    manifest: TaskManifest, *, restart: bool, hint: str, layout: str = EXPORT_LAYOUT
) -> None:
    """Refuse a manifest whose tasks were recorded with another export layout than
    ``layout`` (:data:`EXPORT_LAYOUT`, or a batch run's :data:`BATCH_LAYOUT`).

    Such a manifest's run hash differs anyway (the layout is part of the identity); this
    says why, before :meth:`~gee_cscc.cloud.tasks.TaskManifest.bind_run` would only say
    "a different configuration, inputs or grid".

    Raises
    ------
    ResumeMismatch
        The manifest holds tasks of a run with an older layout, and ``restart`` is False.
    """
    recorded = manifest.run_identity
    if restart or not recorded or not manifest.entries:
        return
    old = recorded.get("layout")
    if old == layout:
        return
    if old is None or EXPORT_LAYOUT not in str(old):
        raise ResumeMismatch(
            f"{manifest.path} holds the tasks of a run exported by an older version, with "
            f"{OLD_LAYOUT}; this version exports them as one multi-band image "
            f"(ROOT/maintenance, bands P_<year>), so nothing is resumed: {hint}."
        )
    if layout == BATCH_LAYOUT and old == EXPORT_LAYOUT and recorded.get("kind") == "batch":
        raise ResumeMismatch(
            f"{manifest.path} holds the tasks of a batch run by an older version, with "
            f"{OLD_TABLES}; this version exports them as one table (ROOT/tables/sums), so "
            f"nothing is resumed: {hint}."
        )


def clear_old_maintenance(asset_id: str, *, overwrite: bool, hint: str) -> None:
    """Make way for the maintenance image at ``asset_id`` where an older version left an
    ImageCollection (one image per year): removed with ``overwrite``, refused without.

    Raises
    ------
    ResumeMismatch
        The collection exists and ``overwrite`` is False.
    ExportError
        It cannot be looked up or removed.
    """
    info = asset_info(asset_id)
    if info is None:
        return
    kind = str(info.get("type", "")).upper().replace("_", "")
    if kind != "IMAGECOLLECTION":
        return
    if not overwrite:
        raise ResumeMismatch(
            f"Asset {asset_id} is an ImageCollection of one maintenance surface per year "
            f"(the layout of an older version); this version exports one multi-band image "
            f"there: {hint}."
        )
    delete_collection(asset_id)


def exported_layers(
    root: str, layers: Mapping[str, Any], extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The preview layers read from the exported assets under ``root``: ``P_<year>`` from the
    band of ``maintenance``, ``pcs_<year>`` from ``pcs/<year>``, ``region`` and
    ``pixel_area`` (not exported) as given, ``extra`` bands (``{name: (image, bands)}``)
    from ``<name>``, others from ``result``."""
    import ee

    result = ee.Image(f"{root}/result")
    maintenance = ee.Image(f"{root}/maintenance")
    owner = {b: name for name, (_, bands) in (extra or {}).items() for b in bands}
    out: dict[str, Any] = {}
    for name, expr in layers.items():
        if name in owner:
            out[name] = ee.Image(f"{root}/{owner[name]}").select([name])
        elif name in ("region", "pixel_area"):
            out[name] = expr
        elif name.startswith("P_"):
            out[name] = maintenance.select([name])
        elif name.startswith("pcs_"):
            out[name] = ee.Image(f"{root}/pcs/{name[4:]}").select(["pcs"])
        else:
            out[name] = result.select([name])
    return out
