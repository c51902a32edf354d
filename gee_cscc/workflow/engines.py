"""Connecting to an engine: the embedded local Earth Engine or Google's, in one place.

Every command and library entry point that needs an engine goes through :func:`connect`:

- ``engine = "local"``: a :class:`gee_cscc.engine.LocalEngine` is started on the asset store
  (``--store``, else :func:`default_store`), and ``ee`` is initialized against it; it stops
  when the block ends.
- ``engine = "earthengine"``: ``ee.Initialize(project=...)`` with the user's credentials;
  the block yields None (there is no local store).

Both send the configuration's ``workload_tag`` with every request of the block.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gee_cscc.config import Config
from gee_cscc.errors import InputError

if TYPE_CHECKING:
    from gee_cscc.engine import LocalEngine

__all__ = ["DEFAULT_PROJECT", "connect", "default_store", "local_engine", "store_path"]

#: The Cloud project id the local engine serves when the configuration names none.
DEFAULT_PROJECT = "local-project"

Progress = Callable[[str], None]


def default_store() -> Path:
    """The local engine's default store: ``$GEE_CSCC_STORE`` or ``~/.cache/gee-cscc/store``."""
    env = os.environ.get("GEE_CSCC_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gee-cscc" / "store"


def store_path(store: str | os.PathLike | None) -> Path:
    """The asset store folder: ``store``, or :func:`default_store` when None.

    Raises
    ------
    InputError
        ``store`` is an empty string (``--store ""``), which names no folder.
    """
    if store is None:
        return default_store()
    if not str(store).strip():
        raise InputError(
            "--store (or store in [inputs]) is empty: give the asset store folder, or leave "
            "it out for the default store (~/.cache/gee-cscc/store or $GEE_CSCC_STORE)."
        )
    return Path(store)


def local_engine(
    store: str | os.PathLike | None = None,
    *,
    project: str | None = None,
    port: int = 0,
    initialize: bool = True,
    progress: Progress | None = None,
    limits: Any = None,
) -> LocalEngine:
    """A local engine (not yet started) on ``store`` (default :func:`default_store`).

    The store folder is created if missing. ``limits`` are the engine's Earth Engine
    limits: None (Google's), a text such as ``"scale=0.01"``, or an
    :class:`gee_cscc.engine.limits.Limits`; a bad text raises :class:`InputError`.
    """
    from gee_cscc.engine import LocalEngine

    path = store_path(store)
    path.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"starting the local engine (store {path})")
    from gee_cscc.engine.limits import Limits

    try:
        engine_limits = Limits.of(limits)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--limits: {exc}") from None
    return LocalEngine(
        store=path,
        project=project or DEFAULT_PROJECT,
        port=port,
        initialize=initialize,
        limits=engine_limits,
    )


@contextlib.contextmanager
def connect(
    cfg: Config,
    store: str | os.PathLike | None = None,
    progress: Progress | None = None,
    *,
    limits: Any = None,
) -> Iterator[LocalEngine | None]:
    """Initialize ``ee`` against the engine ``cfg.engine`` names, for the block.

    ``limits`` are the local engine's Earth Engine limits (see :func:`local_engine`);
    Google's service has its own.

    Yields
    ------
    LocalEngine or None
        The started local engine, or None on Google Earth Engine.

    Raises
    ------
    InputError
        Earth Engine without a project, or ``ee.Initialize`` failed (no credentials).
    """
    import ee

    if cfg.engine == "local":
        with local_engine(store, project=cfg.project, progress=progress, limits=limits) as eng:
            with _workload_tag(cfg.workload_tag):
                yield eng
        return

    if not cfg.project:
        raise InputError(
            "--engine earthengine needs a Google Cloud project (--project or project = ...)."
        )
    if progress:
        progress(f"initializing Earth Engine (project {cfg.project})")
    try:
        ee.Initialize(project=cfg.project)
    except Exception as exc:
        raise InputError(
            f"Earth Engine could not be initialized for project '{cfg.project}': {exc}. "
            "Run `earthengine authenticate` (or ee.Authenticate()) first."
        ) from exc
    with _workload_tag(cfg.workload_tag):
        yield None


@contextlib.contextmanager
def _workload_tag(tag: str) -> Iterator[None]:
    """Send ``tag`` as the Earth Engine workload tag of every request in the block.

    Earth Engine attributes compute usage to the tag (Cloud Monitoring, quotas); an empty
    tag sends none.
    """
    import ee

    if not tag:
        yield
        return
    ee.data.setDefaultWorkloadTag(tag)
    try:
        yield
    finally:
        ee.data.resetWorkloadTag(True)
