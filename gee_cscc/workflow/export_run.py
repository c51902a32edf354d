"""Export a run to Earth Engine assets, Drive or Cloud Storage, without pulling anything.

:func:`export_run` starts the export tasks of one run: the result image (every per-cell
layer), the maintenance surfaces (one image, band ``P_<year>`` per evaluation year:
:mod:`gee_cscc.workflow.batch_layers`), the increase potential
(one image per PCS year) and, optionally, the tables of an earlier run read back with
:func:`read_run_tables`. Every export carries provenance (configuration, inputs, version)
and is recorded in a :class:`~gee_cscc.cloud.tasks.TaskManifest`, so a rerun skips what is
done, waits on what runs and restarts what failed (:mod:`gee_cscc.cloud.exports`).

The manifest is bound to the run (:func:`~gee_cscc.workflow.identity.run_identity`: the configuration, each input's
version, the grid and the export layout, hashed), so a rerun after a change of any of them is refused instead
of skipping destinations that hold the old values; ``overwrite`` redoes everything.
:func:`export_layers` (the image exports alone) is what batch runs reuse.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gee_cscc.cloud.assets import ensure_folder
from gee_cscc.cloud.exports import (
    Destination,
    export_collection,
    export_image,
    export_table,
    provenance,
)
from gee_cscc.cloud.tasks import TaskManifest
from gee_cscc.config import Config
from gee_cscc.config.units import FILE_NO_DATA, NPP_UNITS
from gee_cscc.errors import InputError
from gee_cscc.method import GridSpec, build, load_annual_npp
from gee_cscc.workflow.batch_layers import (
    EXPORT_LAYOUT,
    check_layout,
    clear_old_maintenance,
    maintenance_image,
)
from gee_cscc.workflow.grid_choice import annual_on_analysis_grid

__all__ = [
    "EXPORT_RESTART_HINT",
    "FILE_NO_DATA",
    "UNITS",
    "LayerExports",
    "RunExport",
    "export_layers",
    "export_run",
    "files_location",
    "grid_export_options",
    "read_run_tables",
]

#: The value masked pixels get in exported GeoTIFF files.
#: The units every exported NPP-valued layer carries in its properties.
UNITS = NPP_UNITS

#: ``{name: (columns, rows)}`` of a run's CSV tables.
Tables = Mapping[str, tuple[list[str], list[dict[str, Any]]]]

_INT = re.compile(r"[+-]?\d+")


def _cell(text: str) -> Any:
    """A CSV cell as a number when it is one (finite), else the text; '' → None."""
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def read_run_tables(folder: str | Path) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """The ``*.csv`` files of a run's ``tables/`` folder: ``{stem: (columns, rows)}``.

    Numbers become int or float, empty cells None, anything else stays text.

    Raises
    ------
    InputError
        Not a folder, no CSV files, or a file that cannot be read.
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"--tables: not a folder: {path}")
    files = sorted(path.glob("*.csv"))
    if not files:
        raise InputError(
            f"--tables: no *.csv files in {path} (give the tables/ folder of a `gee-cscc run`)."
        )
    tables = {}
    for f in files:
        try:
            with f.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                columns = list(reader.fieldnames or [])
                rows = [{k: _cell(v or "") for k, v in row.items() if k} for row in reader]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"Cannot read the table {f}: {exc}") from exc
        if not columns:
            raise InputError(f"The table {f} has no header row.")
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", f.stem).strip("_") or "table"
        tables[name] = (columns, rows)
    return tables


@dataclass
class RunExport:
    """What :func:`export_run` started.

    Attributes
    ----------
    tasks
        The tasks started or still running (finished destinations are skipped).
    skipped
        How many destinations were already exported.
    destination, asset_root, prefix, folder, bucket
        Where the exports go.
    tables
        Names of the exported tables.
    evaluation_years, pcs_years
        The years of the maintenance surfaces and of the increase potential.
    manifest_path
        The task manifest.
    """

    tasks: list[Any]
    skipped: int
    destination: Destination
    asset_root: str
    prefix: str | None
    folder: str | None
    bucket: str | None
    evaluation_years: list[int]
    pcs_years: list[int]
    manifest_path: Path
    tables: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Where each export goes, one line each, and the manifest."""
        years = ", ".join(str(y) for y in self.evaluation_years)
        pyears = ", ".join(str(y) for y in self.pcs_years)
        root = self.asset_root
        if self.destination == "asset":
            lines = [
                f"result image: {root}/result",
                f"maintenance surfaces ({years}): {root}/maintenance (bands P_<year>)",
                f"PCS ({pyears}): {root}/pcs",
            ]
            if self.tables:
                lines.append(f"tables ({', '.join(self.tables)}): {root}/tables")
        else:
            base = files_location(self.destination, folder=self.folder, bucket=self.bucket)
            p = self.prefix
            lines = [
                f"result image: {p}_result.tif",
                f"maintenance surfaces ({years}): {p}_maintenance.tif (bands P_<year>)",
                f"PCS ({pyears}): {p}_pcs_<year>.tif",
            ]
            if self.tables:
                lines.append(f"tables: {', '.join(f'{p}_{n}.csv' for n in self.tables)}")
            lines = [f"{line} in {base}" for line in lines]
        lines.append(f"task manifest: {self.manifest_path}")
        return "\n".join(lines)


def files_location(destination: Destination, *, folder: str | None, bucket: str | None) -> str:
    """Where files of a Drive or Cloud Storage export go, in words (for summaries)."""
    return f"Drive folder {folder}" if destination == "drive" else f"gs://{bucket}"


def _feature_collection(rows: Sequence[Mapping[str, Any]]) -> Any:
    import ee

    return ee.FeatureCollection(
        [ee.Feature(None, {k: v for k, v in row.items() if v is not None}) for row in rows]
    )


def _by_year(collection: Any, years: Sequence[int]) -> Any:
    """A collection of one image per year, each with ``system:index`` = the year."""
    import ee

    images = [
        ee.Image(collection.filter(ee.Filter.eq("year", int(y))).first()).set(
            "system:index", str(int(y))
        )
        for y in years
    ]
    return ee.ImageCollection.fromImages(images)


def grid_export_options(grid: GridSpec, *, files: bool) -> dict[str, Any]:
    """The export keywords of a grid (and, for files, the value of masked pixels).

    Exports name the run's grid exactly (``crs``, ``crs_transform``, ``dimensions``), so an
    exported layer lines up pixel for pixel with the analysis.
    """
    options: dict[str, Any] = {
        "crs": grid.crs,
        "crs_transform": grid.transform,
        "dimensions": (grid.width, grid.height),
    }
    if files:
        options["no_data"] = FILE_NO_DATA
    return options


@dataclass
class LayerExports:
    """The image exports of a run's layers (:func:`export_layers`).

    Attributes
    ----------
    tasks
        Tasks started or still running.
    planned
        How many destinations there are (started + running + skipped).
    evaluation_years, pcs_years
        The years of the maintenance surfaces and of the increase potential.
    """

    tasks: list[Any]
    planned: int
    evaluation_years: list[int]
    pcs_years: list[int]


def export_layers(
    graph: Any,
    grid: GridSpec,
    cfg: Config,
    *,
    inputs: Sequence[str],
    destination: Destination = "asset",
    asset_root: str | None = None,
    prefix: str | None = None,
    folder: str | None = None,
    bucket: str | None = None,
    overwrite: bool = False,
    manifest: TaskManifest | None = None,
    pyramiding_policy: str | None = None,
    say: Callable[[str], None] = lambda message: None,
    extra: Mapping[str, Any] | None = None,
) -> LayerExports:
    """Start the image exports of a run's layers on ``grid``.

    The result image (``root/result`` or ``{prefix}_result.tif``), the maintenance surfaces
    (one task: one image ``root/maintenance`` or ``{prefix}_maintenance.tif``, band
    ``P_<year>`` per evaluation year, int16 in files) and the increase potential
    (``root/pcs/<year>``, ``{prefix}_pcs_<year>.tif``), each with provenance.
    ``pyramiding_policy`` applies to every band of an asset (``"SAMPLE"``: a coarser
    zoom shows analysis pixels, not their means). ``extra`` images (``{name: ee.Image}``, the
    optional analyses' per-cell bands) are exported like the result image, as
    ``root/<name>`` or ``{prefix}_<name>.tif``.
    """
    import ee

    files = destination != "asset"
    config = cfg.to_dict()

    def props(product: str) -> dict:
        return provenance(config, inputs=inputs, gee_cscc_product=product, units=UNITS)

    options = grid_export_options(grid, files=files)
    if pyramiding_policy and not files:
        options["pyramiding_policy"] = pyramiding_policy
    common = {
        "destination": destination,
        "folder": folder,
        "bucket": bucket,
        "prefix": prefix,
        "overwrite": overwrite,
        "manifest": manifest,
    }

    def where(name: str) -> dict[str, Any]:
        if files:
            return {"prefix": f"{prefix}_{name}"}
        return {"asset_id": f"{asset_root}/{name}"}

    eval_years = list(graph.evaluation_years)
    pcs_years = [int(y) for y in cfg.pcs_years]
    if not files:
        ensure_folder(asset_root)
        # before any task starts: an ImageCollection an older version exported there
        hint = manifest.hint if manifest is not None else "export with overwrite"
        replace = overwrite or (manifest is not None and manifest.replace)
        clear_old_maintenance(f"{asset_root}/maintenance", overwrite=replace, hint=hint)
    tasks: list[Any] = []
    say(f"exporting the result image ({grid.describe()})")
    result = graph.result_image()
    if files:  # a GeoTIFF has one data type for all bands
        result = result.toDouble()
    task = export_image(
        result, **{**common, **where("result")}, properties=props("result"), **options
    )
    tasks += [task] if task is not None else []
    for name, image in (extra or {}).items():
        say(f"exporting {name} ({grid.describe()})")
        image = ee.Image(image).toDouble() if files else image
        task = export_image(image, **{**common, **where(name)}, properties=props(name), **options)
        tasks += [task] if task is not None else []

    say(f"exporting the maintenance surfaces {eval_years} (one image, a band per year)")
    maintenance = maintenance_image(graph.maintenance, eval_years)
    if files:
        maintenance = maintenance.toInt16()
    task = export_image(
        maintenance,
        **{**common, **where("maintenance")},
        properties=props("maintenance"),
        **options,
    )
    tasks += [task] if task is not None else []

    say(f"exporting the increase potential (PCS) {pcs_years}")
    pcs = _by_year(graph.potential, pcs_years)
    tasks += export_collection(
        pcs, **{**common, **where("pcs")}, properties=props("pcs"), **options
    )
    planned = 1 + len(extra or {}) + 1 + len(pcs_years)
    return LayerExports(tasks, planned, eval_years, pcs_years)


#: What ``gee-cscc export`` tells the user when OUT holds another run's tasks.
EXPORT_RESTART_HINT = (
    "rerun with --overwrite to redo the exports, or give a new --out (and --asset-root)"
)


def export_run(
    npp: str,
    cfg: Config,
    *,
    destination: Destination = "asset",
    asset_root: str,
    prefix: str | None = None,
    folder: str | None = None,
    bucket: str | None = None,
    tables: Tables | None = None,
    overwrite: bool = False,
    manifest: TaskManifest | None = None,
    grid: GridSpec | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunExport:
    """Start the export tasks of one run (the caller waits on them).

    Parameters
    ----------
    npp
        The annual NPP ImageCollection asset id.
    cfg
        The run configuration.
    destination
        ``"asset"`` (under ``asset_root``), ``"drive"`` (``folder``) or ``"gcs"``
        (``bucket``); files are named ``{prefix}_{layer}[_{year}]`` (``{prefix}_maintenance``:
        one band per evaluation year).
    asset_root
        The asset folder of the exports (made if missing); named in the summary.
    tables
        Tables of an earlier run (:func:`read_run_tables`) to export too.
    overwrite
        Replace destinations already exported (else they are skipped); also restarts a
        manifest that holds another run's tasks.
    manifest
        Where tasks are recorded for resuming (none: not recorded). It is bound to this
        run (configuration, input version, grid): tasks or assets of another run are
        refused (:class:`~gee_cscc.errors.ResumeMismatch`) unless ``overwrite``.
    grid
        The grid of the exports (default: the configuration's analysis grid,
        :func:`gee_cscc.workflow.grid_choice.analysis_grid`; without regions its extent is
        the input's or ``cfg.extent``'s W, S, E, N box).
    progress
        Called with a message as each export starts.

    Returns
    -------
    RunExport
    """
    from gee_cscc.cloud.tasks import run_hash
    from gee_cscc.workflow.identity import run_identity

    say = progress or (lambda message: None)
    tables = dict(tables or {})
    files = destination != "asset"
    say(f"reading {npp}")
    if grid is None:  # the configured analysis grid (crs, scale, extent W,S,E,N or input)
        annual, grid = annual_on_analysis_grid(npp, cfg)
    else:
        annual = load_annual_npp(npp, cfg).on_grid(grid)
    graph = build(annual, cfg)
    from gee_cscc.workflow.record_length import record_length_parts  # pandas: not at --help

    record = record_length_parts(graph, annual, cfg)  # docs/method.md §7, empty when off
    inputs = [npp] + ([cfg.landcover_mask] if cfg.landcover_mask else [])
    if manifest is not None:
        identity = run_identity(
            cfg,
            grid,
            inputs={"npp": npp, "landcover_mask": cfg.landcover_mask},
            kind="export",
            layout=EXPORT_LAYOUT,
        )
        check_layout(manifest, restart=overwrite, hint=EXPORT_RESTART_HINT)
        manifest.bind_run(
            run_hash(identity), identity=identity, restart=overwrite, hint=EXPORT_RESTART_HINT
        )
    common = {
        "destination": destination,
        "folder": folder,
        "bucket": bucket,
        "prefix": prefix,
        "overwrite": overwrite,
        "manifest": manifest,
    }
    layers = export_layers(
        graph,
        grid,
        cfg,
        inputs=inputs,
        destination=destination,
        asset_root=asset_root,
        prefix=prefix,
        folder=folder,
        bucket=bucket,
        overwrite=overwrite,
        manifest=manifest,
        say=say,
        extra={name: image for name, (image, _) in record.images.items()},
    )
    tasks = list(layers.tasks)
    planned = layers.planned + len(tables)
    if tables and not files:
        ensure_folder(f"{asset_root}/tables")
    config = cfg.to_dict()
    for name, (columns, rows) in tables.items():
        say(f"exporting the table {name} ({len(rows)} rows)")
        fc = _feature_collection(rows)
        if files:
            task = export_table(fc, **{**common, "prefix": f"{prefix}_{name}"}, selectors=columns)
        else:
            props = provenance(config, inputs=inputs, gee_cscc_product=f"table:{name}", units=UNITS)
            task = export_table(
                fc, **{**common, "asset_id": f"{asset_root}/tables/{name}"}, properties=props
            )
        tasks += [task] if task is not None else []

    skipped = planned - len(tasks)
    say(
        f"{len(tasks)} task(s) started or running"
        + (
            f", {skipped} destination(s) already exported (skipped; --overwrite replaces them)"
            if skipped
            else ""
        )
    )
    return RunExport(
        tasks=tasks,
        skipped=skipped,
        destination=destination,
        asset_root=asset_root,
        prefix=prefix,
        folder=folder,
        bucket=bucket,
        evaluation_years=layers.evaluation_years,
        pcs_years=layers.pcs_years,
        manifest_path=manifest.path if manifest is not None else Path(),
        tables=list(tables),
    )
