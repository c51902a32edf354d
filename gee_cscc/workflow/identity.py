"""What identifies a run's exported values: its configuration, input versions and grid.

Batch runs and ``gee-cscc export`` record their tasks in a manifest in OUT and resume from
it. A rerun must never take the tasks (or assets) of a run with another configuration, other
inputs or another grid for its own, so each manifest is bound to the hash
(:func:`gee_cscc.cloud.tasks.run_hash`) of :func:`run_identity`: the package version, the
configuration, one :func:`input_version` per input and the grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gee_cscc.config import Config
from gee_cscc.config.fields import PRESENTATION_FIELDS
from gee_cscc.method.grid import GridSpec

__all__ = ["HASHED_FILE_BYTES", "input_version", "run_identity"]

#: Local files up to this size are identified by their content's SHA-256.
HASHED_FILE_BYTES = 64 * 2**20


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_version(value: str) -> dict[str, Any]:
    """What identifies one version of an input: a file's SHA-256 (files up to
    :data:`HASHED_FILE_BYTES`; larger files and folders: each file's size and modification
    time), or an asset's ``updateTime`` (one ``ee.data.getAsset``).

    A local file a run stored in the local engine (:mod:`gee_cscc.workflow.inputs`) is
    identified by the SHA-256 of its content that the asset carries; an asset id that
    cannot be read gives its id only.
    """
    import ee

    from gee_cscc.workflow.readers import is_local_path

    if is_local_path(value):
        path = Path(value)
        if path.is_file() and path.stat().st_size <= HASHED_FILE_BYTES:
            return {"file": str(path.resolve()), "sha256": _sha256(path)}
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stats = [(str(p.relative_to(path) if path.is_dir() else p.name), p.stat()) for p in files]
        return {
            "file": str(path.resolve()),
            "files": [[name, st.st_size, st.st_mtime_ns] for name, st in stats],
        }
    try:
        info = ee.data.getAsset(value)
    except ee.EEException:
        return {"asset": value}
    props = info.get("properties") or {}
    if props.get("gee_cscc_sha256"):  # a local file a run stored: its content digest
        return {"asset": value, "sha256": props["gee_cscc_sha256"]}
    source = props.get("source")
    if isinstance(source, str) and is_local_path(source):  # loaded from a file by a run
        return {"asset": value, "source": input_version(source)}
    return {"asset": value, "updated": info.get("updateTime")}


def run_identity(
    cfg: Config,
    grid: GridSpec,
    *,
    inputs: dict[str, str | None],
    **extra: Any,
) -> dict[str, Any]:
    """Everything that decides a run's exported values, as JSON-ready data.

    The package version, the configuration, each input's :func:`input_version` and the
    grid; ``extra`` adds more (the regions' names, …). Its
    :func:`~gee_cscc.cloud.tasks.run_hash` binds a task manifest to the run.
    """
    from gee_cscc.version import __version__

    return {
        "version": __version__,
        # how the figures look does not change an exported value
        "config": {k: v for k, v in cfg.to_dict().items() if k not in PRESENTATION_FIELDS},
        "inputs": {k: (input_version(v) if v else None) for k, v in inputs.items()},
        "grid": grid.to_dict(),
        **extra,
    }
