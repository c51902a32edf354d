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
from gee_cscc.method.grid import GridSpec

__all__ = ["input_version", "run_identity"]


def input_version(value: str) -> dict[str, Any]:
    """What identifies one version of an input: a file's size and modification time, or an
    asset's ``updateTime`` (one ``ee.data.getAsset``).

    A local file loaded into the local engine's store is identified by the file (the store
    copy is rewritten on every run); an asset id that cannot be read gives its id only.
    """
    import ee

    from gee_cscc.workflow.readers import is_local_path

    if is_local_path(value):
        path = Path(value)
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
    source = (info.get("properties") or {}).get("source")
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
        "config": cfg.to_dict(),
        "inputs": {k: (input_version(v) if v else None) for k, v in inputs.items()},
        "grid": grid.to_dict(),
        **extra,
    }
