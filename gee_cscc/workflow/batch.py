"""Batch mode: every table and raster from export tasks; only small tables and a preview return.

:func:`run_batch` is what :func:`gee_cscc.workflow.analyze.analyze` does with
``mode="batch"``, in six steps:

1. **Bind** the task manifest ``OUT/export_tasks.json`` to the run: the hash of its
   configuration, input versions and grid (:mod:`~gee_cscc.workflow.identity`). Tasks or
   assets of another run are refused (``--restart`` redoes them).
2. **Input checks**: the interactive mode's reduction (:mod:`gee_cscc.method.checks`, with
   ``tileScale``) exported to ``ROOT/tables/input_checks``, waited for and read back with one
   small ``getInfo``: the same verdict and numbers, and nothing else starts before they pass.
3. **One table export** of every table's per-cell bands — the same band stacks as the
   interactive mode (:func:`gee_cscc.method.zonal.zonal_band_stack`, the maintenance count
   bands of :func:`gee_cscc.workflow.pull.maintenance_count_bands`) — summed per region id
   by one grouped ``reduceRegion`` with ``tileScale``
   (:func:`gee_cscc.method.regions.grouped_sums`); the groups become a FeatureCollection
   (one feature per region id, one property per band) exported with
   ``Export.table.toAsset`` to ``ROOT/tables/sums`` (:mod:`~gee_cscc.workflow.batch_tables`).
4. **Image exports** of the result image, the maintenance surfaces (one image, band
   ``P_<year>`` per evaluation year: :mod:`gee_cscc.workflow.batch_layers`) and the increase
   potential on the analysis grid (:func:`gee_cscc.workflow.export_run.export_layers`): to
   assets under ``ROOT`` (``SAMPLE`` pyramids) by default, or to Drive/Cloud Storage.
5. **Wait** for every task, one progress line of task states at each change. A rerun skips
   finished tasks, waits on running ones and restarts failed ones.
6. **Read back** the sums table with one ``getInfo``, and pull a **preview** of the layers
   on a coarser grid (:func:`preview_grid`).

The preview grid coarsens the analysis grid by the smallest integer factor ``k`` that keeps
it within ``preview_pixels`` (default :data:`PREVIEW_PIXELS`, 1 Mpx per layer): same CRS and
origin, pixels ``k`` times larger, ``ceil(height / k) x ceil(width / k)`` of them. Each
preview pixel shows one analysis pixel inside it (Earth Engine's nearest-neighbour
resampling of the exported assets, whose pyramids are ``SAMPLE``), not a mean. With files
destinations there are no assets to read, so the layers are evaluated on the preview grid
instead: on the local engine that samples the same pixels; on Earth Engine the input is then
read at the preview's scale (from its pyramids, averaged), so those maps are a sketch, not
the exported values. The pull holds at most
``layers x preview_pixels x 8`` bytes, whatever the grid's size. Tables never use the
preview: they are sums over every analysis pixel.

``ROOT`` defaults to ``projects/<project>/assets/cscc_batch/<run hash, 16 hex>``, so a run
with the same configuration, inputs and grid finds its finished exports, and another run
never touches them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ee
import pandas as pd
import xarray as xr

from gee_cscc.cloud.assets import ensure_folder
from gee_cscc.cloud.exports import export_table, provenance
from gee_cscc.cloud.tasks import TaskManifest, run_hash, status_line, tasks_done, wait_for_tasks
from gee_cscc.config import Config
from gee_cscc.errors import ExportError
from gee_cscc.method.checks import check_table, evaluate_checks
from gee_cscc.method.grid import GridSpec
from gee_cscc.method.regions import Regions
from gee_cscc.workflow.batch_layers import (
    BATCH_LAYOUT,
    check_layout,
    clear_old_maintenance,
    exported_layers,
)
from gee_cscc.workflow.batch_tables import (
    SUMS_TABLE,
    read_sums,
    sums_collection,
    sums_image,
)
from gee_cscc.workflow.export_run import UNITS, export_layers, files_location
from gee_cscc.workflow.identity import run_identity
from gee_cscc.workflow.pull import open_layers

__all__ = [
    "BATCH_RESTART_HINT",
    "CHECKS_TABLE",
    "PREVIEW_PIXELS",
    "BatchOptions",
    "BatchOutput",
    "preview_grid",
    "run_batch",
]

#: The most pixels per layer of the preview pull (1 Mpx: 8 MiB a layer as float64).
PREVIEW_PIXELS = 2**20
#: The table of the input checks (``ROOT/tables/input_checks``), exported and read first.
CHECKS_TABLE = "input_checks"
#: What a batch run tells the user when OUT or ROOT holds another run's work.
BATCH_RESTART_HINT = "rerun with --restart to redo them, or give a new --out (and --asset-root)"
#: The folder of default batch roots, under the project's assets.
BATCH_FOLDER = "cscc_batch"
#: The hint added to a task that failed for its size.
TASK_LIMIT_HINT = "try a coarser --scale or a larger --tile-scale"

Progress = Callable[[str], None]


@dataclass
class BatchOptions:
    """Where a batch run puts its tasks and exports.

    Attributes
    ----------
    task_dir
        The folder of the task manifest (``export_tasks.json``): the run's OUT.
    asset_root
        The asset folder of the table exports (always assets: they are read back) and, with
        ``destination="asset"``, of the image exports. Default:
        ``projects/<project>/assets/cscc_batch/<run hash>``.
    destination
        Where the rasters go: ``"asset"``, ``"drive"`` (``folder``) or ``"gcs"``
        (``bucket``); files are named ``{prefix}_{layer}[_{year}].tif``
        (``{prefix}_maintenance.tif``: one band per evaluation year).
    folder, bucket, prefix
        The Drive folder, Cloud Storage bucket and file prefix (files destinations).
    restart
        Forget the tasks of another run recorded in ``task_dir`` (cancelling active ones)
        and redo every export, replacing assets.
    tile_scale
        ``tileScale`` of the grouped reductions (1–16; larger uses less memory per tile).
    preview_pixels
        The most pixels per layer of the preview pull.
    poll_seconds
        Seconds between task polls (default: 0.2 on the local engine, 10 on Earth Engine).
    """

    task_dir: str | Path
    asset_root: str | None = None
    destination: str = "asset"
    folder: str | None = None
    bucket: str | None = None
    prefix: str | None = None
    restart: bool = False
    tile_scale: float = 4.0
    preview_pixels: int = PREVIEW_PIXELS
    poll_seconds: float | None = None


@dataclass
class BatchOutput:
    """What a batch run brings back.

    Attributes
    ----------
    sums
        Grouped sums by table (``capacity``, ``yearly``, ``trend_classes``, ``maintenance``
        and the optional analyses' tables: the parts of the sums table), indexed by region
        id.
    preview
        The layers on ``grid`` (NaN where masked).
    grid
        The preview grid.
    factor
        How many analysis pixels a preview pixel spans along each axis.
    info
        What run.json records under ``batch``.
    input_checks
        The input checks' report (as :func:`gee_cscc.method.checks.check_inputs` returns it).
    """

    sums: dict[str, pd.DataFrame]
    preview: xr.Dataset
    grid: GridSpec
    factor: int
    info: dict[str, Any] = field(default_factory=dict)
    input_checks: dict[str, Any] = field(default_factory=dict)


def preview_grid(grid: GridSpec, max_pixels: int = PREVIEW_PIXELS) -> tuple[GridSpec, int]:
    """The analysis grid coarsened by the smallest integer factor that keeps it within
    ``max_pixels`` pixels, and that factor (1: the grid itself)."""
    if max_pixels < 1:
        raise ValueError(f"preview_pixels must be >= 1, got {max_pixels}")
    h, w = grid.shape
    k = max(1, math.ceil(math.sqrt(grid.n_pixels / max_pixels)))
    while math.ceil(h / k) * math.ceil(w / k) > max_pixels:
        k += 1
    if k == 1:
        return grid, 1
    a, b, c, d, e, f = grid.transform
    coarse = dataclasses.replace(  # the same CRS (and WKT), pixels k times larger
        grid,
        transform=(a * k, b * k, c, d * k, e * k, f),
        shape=(math.ceil(h / k), math.ceil(w / k)),
    )
    return coarse, k


def _wait(
    tasks: list[Any],
    manifest: TaskManifest,
    poll: float,
    progress: Progress | None,
    what: str = "batch tasks",
) -> None:
    """Wait for the tasks with one progress line per change of states (a bar of tasks done,
    elapsed time and ETA instead when ``progress`` draws bars: the CLI on a terminal)."""
    last = [""]
    counter = getattr(progress, "counter", None)
    tick = counter(what, unit="tasks") if counter else None

    def show(statuses: Sequence[Mapping[str, Any]]) -> None:
        line = status_line(statuses, what=what)
        if tick is not None:
            tick(round(tasks_done(statuses), 2), len(statuses), line.split(": ", 1)[-1])
        elif progress is not None and line != last[0]:
            progress(line)
        last[0] = line

    try:
        wait_for_tasks(tasks, poll_seconds=poll, progress=show, manifest=manifest)
    except ExportError as exc:
        text = str(exc)
        lowered = text.lower()
        if any(s in lowered for s in ("memory limit", "timed out", "too many", "out of memory")):
            raise ExportError(f"{text} ({TASK_LIMIT_HINT})") from exc
        raise


def _input_checks(
    annual: Any,
    regions: Regions | None,
    cfg: Config,
    grid: GridSpec,
    options: BatchOptions,
    root: str,
    manifest: TaskManifest,
    input_ids: list[str],
    poll: float,
    progress: Progress | None,
) -> dict[str, Any]:
    """The input checks as a table export, waited for, read back and judged (step 2)."""
    asset_id = f"{root}/tables/{CHECKS_TABLE}"
    table = check_table(annual, regions, cfg, grid=grid, tile_scale=options.tile_scale)
    task = export_table(
        table,
        destination="asset",
        asset_id=asset_id,
        description=f"cscc_{(manifest.run_hash or '')[:8]}_{CHECKS_TABLE}",
        properties=provenance(
            cfg.to_dict(), inputs=input_ids, gee_cscc_product=CHECKS_TABLE, units="cells"
        ),
        overwrite=options.restart,
        manifest=manifest,
    )
    if task is not None:
        _wait([task], manifest, poll, progress, what="input checks")
    elif progress is not None:
        progress("input checks: exported in an earlier run")
    features = (ee.FeatureCollection(asset_id).getInfo() or {}).get("features") or []
    return evaluate_checks(
        features, annual, regions, cfg, grid=grid, warn=getattr(progress, "warn", progress)
    )


def run_batch(
    *,
    annual: Any,
    checked_regions: Regions | None,
    graph: Any,
    stack: Any,
    count_bands: tuple[Any, list[str]],
    layers: Mapping[str, Any],
    regions: Regions,
    grid: GridSpec,
    cfg: Config,
    options: BatchOptions,
    inputs: Mapping[str, str | None],
    request_bytes: int | None = None,
    progress: Progress | None = None,
    extra_tables: Mapping[str, tuple[Any, list[str]]] | None = None,
    extra_images: Mapping[str, Any] | None = None,
) -> BatchOutput:
    """Compute a run's tables and rasters with export tasks (see the module docstring).

    Parameters
    ----------
    annual
        The prepared input on the analysis grid (:class:`gee_cscc.method.inputs.AnnualNPP`),
        for the input checks.
    checked_regions
        The regions the input checks look at (None: the run has none; ``regions`` is then
        the empty stand-in).
    graph
        The method graph (:class:`gee_cscc.method.MethodGraph`).
    stack
        Its zonal band stack (:class:`gee_cscc.method.zonal.ZonalStack`).
    count_bands
        The maintenance count bands and their names.
    layers
        The preview layers ``{name: ee.Image}`` when the rasters are not exported to assets
        (evaluated on the preview grid); with assets the preview reads the exports.
    regions
        The regions.
    grid
        The analysis grid.
    cfg
        The configuration.
    options
        Where tasks and exports go.
    inputs
        The input ids (``{"npp": id, "regions": id or file}``) whose versions enter the
        run's identity.
    request_bytes
        The largest ``computePixels`` request of the preview pull (the engine's
        ``pixels_bytes``; default xee's 48 MiB).
    progress
        Called with one line per step and per change of task states.
    extra_tables, extra_images
        Optional analyses' ``{name: (image, bands)}``: their sums in the sums table (part
        ``name`` of :attr:`BatchOutput.sums`), their images at ROOT/<name>.

    Raises
    ------
    InputError
        The input checks refused the inputs (the interactive mode's message); nothing else
        was started.
    ResumeMismatch
        OUT or ROOT holds the work of another run, and ``options.restart`` is False.
    ExportError
        A task failed (the message names it; for size limits it says what to try).
    """
    say = progress or (lambda message: None)
    identity = run_identity(
        cfg,
        grid,
        inputs=dict(inputs),
        kind="batch",
        regions={str(k): v for k, v in regions.names.items()},
        layout=BATCH_LAYOUT,
    )
    digest = run_hash(identity)
    project = cfg.project or "local-project"
    root = options.asset_root or f"projects/{project}/assets/{BATCH_FOLDER}/{digest[:16]}"
    manifest = TaskManifest.in_dir(options.task_dir)
    check_layout(manifest, restart=options.restart, hint=BATCH_RESTART_HINT, layout=BATCH_LAYOUT)
    manifest.bind_run(digest, identity=identity, restart=options.restart, hint=BATCH_RESTART_HINT)
    say(f"batch run {digest[:12]}: tasks in {manifest.path}, exports under {root}")

    parts = {
        "capacity": (stack.image.select(list(stack.capacity)), list(stack.capacity)),
        "yearly": (stack.image.select(list(stack.yearly)), list(stack.yearly)),
        "trend_classes": (stack.image.select(list(stack.trend_classes)), list(stack.trend_classes)),
        "maintenance": count_bands,
        **(extra_tables or {}),
    }
    ensure_folder(root)
    ensure_folder(f"{root}/tables")
    if options.destination == "asset":  # an older version's per-year collection: before any task
        old = f"{root}/maintenance"
        clear_old_maintenance(old, overwrite=options.restart, hint=BATCH_RESTART_HINT)
    input_ids = [v for v in inputs.values() if v]
    poll = options.poll_seconds or (0.2 if cfg.engine == "local" else 10.0)
    checked = _input_checks(
        annual, checked_regions, cfg, grid, options, root, manifest, input_ids, poll, progress
    )
    sums_id = f"{root}/tables/{SUMS_TABLE}"
    image, names = sums_image(parts)  # every table's bands: shared layers computed once
    task = export_table(
        sums_collection(image, names, regions, grid, options.tile_scale),
        destination="asset",
        asset_id=sums_id,
        description=f"cscc_{digest[:8]}_table_{SUMS_TABLE}",
        properties=provenance(
            cfg.to_dict(),
            inputs=input_ids,
            gee_cscc_product=f"sums:{','.join(parts)}",
            units="sums",
        ),
        overwrite=options.restart,
        manifest=manifest,
    )
    tasks: list[Any] = [task] if task is not None else []
    state = "started or running" if tasks else "done in an earlier run"
    say(f"table exports: the grouped sums of {', '.join(parts)} in one table, {state}")

    exported = export_layers(
        graph,
        grid,
        cfg,
        inputs=input_ids,
        destination=options.destination,
        asset_root=root,
        prefix=options.prefix or f"cscc_{digest[:8]}",
        folder=options.folder,
        bucket=options.bucket,
        overwrite=options.restart,
        manifest=manifest,
        pyramiding_policy="SAMPLE",
        say=say,
        extra={k: v[0] for k, v in (extra_images or {}).items()},
    )
    tasks += exported.tasks
    planned = 1 + exported.planned
    say(f"{len(tasks)} task(s) started or running, {planned - len(tasks)} done in an earlier run")
    if tasks:
        _wait(tasks, manifest, poll, progress)

    say("reading the exported sums table back")
    sums = read_sums(sums_id, {t: part[1] for t, part in parts.items()}, regions)

    coarse, factor = preview_grid(grid, options.preview_pixels)
    say(f"pulling the preview ({coarse.describe()}, 1:{factor})")
    exported_only = options.destination == "asset"
    preview_layers = exported_layers(root, layers, extra_images) if exported_only else layers
    counter = getattr(progress, "counter", None)  # a bar on a terminal (the CLI)
    preview = open_layers(
        dict(preview_layers),
        coarse,
        request_bytes=request_bytes,
        on_tile=counter("preview tiles pulled", unit="tiles") if counter else None,
    )

    where = (
        root
        if options.destination == "asset"
        else files_location(options.destination, folder=options.folder, bucket=options.bucket)
    )
    info = {
        "run_hash": digest,
        "asset_root": root,
        "tables": {SUMS_TABLE: sums_id},
        "input_checks": f"{root}/tables/{CHECKS_TABLE}",
        "rasters": {
            "destination": options.destination,
            "where": where,
            "prefix": None if options.destination == "asset" else exported_prefix(options, digest),
            "units": UNITS,
        },
        "task_manifest": str(manifest.path),
        "tile_scale": options.tile_scale,
        "preview": {
            "grid": coarse.to_dict(),
            "factor": factor,
            "max_pixels": options.preview_pixels,
            "source": "exported assets (sampled)"
            if options.destination == "asset"
            else "expressions evaluated on the preview grid",
        },
    }
    return BatchOutput(
        sums=sums, preview=preview, grid=coarse, factor=factor, info=info, input_checks=checked
    )


def exported_prefix(options: BatchOptions, digest: str) -> str:
    """The file prefix of a batch run's raster files."""
    return options.prefix or f"cscc_{digest[:8]}"
