"""The output folder OUT of a run: checked before computing, written whole, swapped in.

OUT is always either the complete result of the earlier run or the complete result of the
new one, never a mix, also when the run fails, is stopped (Ctrl-C, SIGTERM) or killed:

1. :func:`check_out` runs before anything is computed (after removing what killed runs
   left, step 4): OUT must not be a file, its nearest existing parent must be a writable
   folder, it must not be or hold the asset store or a local input, and an existing
   non-empty OUT must be a gee-cscc result (it holds ``run.json`` or
   ``export_tasks.json``), so that a rerun never replaces a folder of other files.
2. :func:`staged_out` gives a staging folder beside OUT (same filesystem):
   ``<parent>/.<OUT name>-staging-p<pid>-<hex>``. Everything is written there.
3. On success the staging folder is swapped in with renames, under an exclusive ``flock``
   on the parent folder (so two runs writing one OUT take turns): the old OUT is renamed
   to ``<parent>/.<OUT name>-aside-p<pid>-<hex>``, the staging folder to OUT, and the old
   one is removed. A failure between the two renames renames the old OUT back. Files of
   the earlier run that the new one does not write do not survive, except
   :data:`CARRIED_FILES` (the batch task manifests: a run's, and each product's of an
   ensemble, which a run keeps in OUT itself so that a stopped run loses none of its
   tasks), which are copied over.
4. On failure the staging folder is removed. Staging and aside folders of processes that
   no longer exist (killed runs) are removed by the next run beside them; if such
   a run died between the two renames, its aside folder (the complete old OUT) is renamed
   back to OUT first.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from gee_cscc.errors import OutputError, raise_if_stopped

__all__ = [
    "ASIDE_MARK",
    "CARRIED_FILES",
    "RESULT_MARKERS",
    "STAGING_MARK",
    "check_out",
    "clean_stale_out",
    "pid_alive",
    "staged_out",
    "swap_in",
]

#: Infix of a staging folder's name (``.<OUT name>-staging-p<pid>-<hex>``).
STAGING_MARK = "-staging-"
#: Infix of the folder an old OUT is renamed to during the swap.
ASIDE_MARK = "-aside-"
#: Files whose presence marks a folder as a gee-cscc OUT (glob patterns inside OUT): a
#: finished run's ``run.json``, or the task manifest of a batch run or of an ensemble's
#: product (``products/<name>/``), which a stopped run leaves behind.
RESULT_MARKERS = ("run.json", "export_tasks.json", "products/*/export_tasks.json")
#: Files of the old OUT kept in the new one when the new run does not write them (glob
#: patterns inside OUT). A product's manifest is kept when the new OUT has that product.
CARRIED_FILES = ("export_tasks.json", "products/*/export_tasks.json")

#: Staging and aside folders this process is using now (never cleaned as stale).
_ACTIVE: set[Path] = set()


def _resolved(out: str | os.PathLike) -> Path:
    p = Path(os.path.abspath(Path(out).expanduser()))
    return p.resolve() if p.is_symlink() else p


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or below it (both resolved)."""
    return a == b or b in a.parents


def check_out(
    out: str | os.PathLike,
    *,
    store: str | os.PathLike | None = None,
    inputs: Iterable[str | os.PathLike] = (),
) -> Path:
    """Check OUT can take a run's results, before anything is computed.

    Parameters
    ----------
    out
        The output folder (a symbolic link to a folder stands for its target).
    store
        The local engine's asset store, if one is used.
    inputs
        Local input files or folders of the run.

    Returns
    -------
    Path
        OUT as an absolute path (a link resolved).

    Raises
    ------
    OutputError
        OUT is a file, cannot be created or written, is or holds the store or an input, or
        is a non-empty folder that is not a gee-cscc result.
    """
    path = _resolved(out)
    if path.parent.is_dir() and path.parent != path:
        clean_stale_out(path)  # first: a killed swap's old OUT comes back
    if path.exists() and not path.is_dir():
        raise OutputError(f"OUT {out} is a file, not a folder: give a folder with --out.")
    if path.parent == path:
        raise OutputError(f"OUT {out} is the filesystem root: give a folder with --out.")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"OUT {out} cannot be created: {parent} is a file.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"OUT {out} cannot be written: no write permission in {parent}. "
            "Give another folder with --out."
        )
    real = path.resolve()
    if store is not None:
        s = Path(store).expanduser().resolve()
        if _inside(real, s) or _inside(s, real):
            raise OutputError(
                f"OUT {out} and the asset store {store} overlap: a run replaces OUT as a "
                "whole, so keep them apart (another --out or --store)."
            )
    for item in inputs:
        if _inside(Path(item).expanduser().resolve(), real):
            raise OutputError(
                f"The input {item} is inside OUT {out}, which a run replaces as a whole: "
                "move the input or give another --out."
            )
    if path.is_dir() and any(path.iterdir()):
        if not _is_result(path):
            raise OutputError(
                f"OUT {out} is a folder of other files (no run.json): a run replaces OUT "
                "as a whole, so give a new or empty folder with --out."
            )
    return path


def _is_result(path: Path) -> bool:
    """Whether the folder holds one of :data:`RESULT_MARKERS`."""
    return any(f.is_file() for m in RESULT_MARKERS for f in path.glob(m))


def _carry(out: Path, staging: Path) -> None:
    """Copy :data:`CARRIED_FILES` of the old OUT into ``staging`` where it has none."""
    for pattern in CARRIED_FILES:
        for old in out.glob(pattern):
            new = staging / old.relative_to(out)
            if old.is_file() and not new.exists() and new.parent.is_dir():
                shutil.copy2(old, new)


_STALE_RE = re.compile(
    rf"^\.(?P<name>.+)(?P<kind>{STAGING_MARK}|{ASIDE_MARK})p(?P<pid>\d+)-[0-9a-f]+$"
)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (this process counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours, or no signal 0 on this system
        return True
    return True


def clean_stale_out(out: str | os.PathLike) -> list[Path]:
    """Remove the staging and aside folders of dead runs beside OUT; returns them.

    Every such folder in OUT's parent counts (also those of another OUT name there). A
    folder of this process that is not in use any more counts as stale too. If a dead
    run's aside folder (its complete old OUT) is there and its OUT is missing, the run was
    killed between the two renames of the swap: the folder becomes that OUT again.
    """
    path = _resolved(out)
    removed: list[Path] = []
    try:
        entries = sorted(path.parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        m = _STALE_RE.match(entry.name)
        if not m or entry in _ACTIVE or not entry.is_dir() or entry.is_symlink():
            continue
        pid = int(m.group("pid"))
        if pid != os.getpid() and pid_alive(pid):
            continue
        target = entry.with_name(m.group("name"))
        if m.group("kind") == ASIDE_MARK and not target.exists() and not target.is_symlink():
            os.rename(entry, target)  # the killed run's complete old OUT
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _new_name(path: Path, mark: str) -> Path:
    return path.with_name(f".{path.name}{mark}p{os.getpid()}-{os.urandom(6).hex()}")


@contextlib.contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the parent folder (no lock file is left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (Windows: renames are not shared by two runs)
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def swap_in(staging: Path, out: Path) -> None:
    """Replace OUT by the complete ``staging`` folder (see the module docstring, step 3)."""
    out = _resolved(out)
    with _parent_lock(out.parent):
        if out.exists() and not out.is_dir():
            raise OutputError(f"OUT {out} is a file, not a folder: give a folder with --out.")
        if out.is_dir():
            _carry(out, staging)
        aside = None
        if out.exists():
            aside = _new_name(out, ASIDE_MARK)
            _ACTIVE.add(aside)
            os.rename(out, aside)
        try:
            os.rename(staging, out)
        except BaseException:
            if aside is not None:
                os.rename(aside, out)
            raise
        finally:  # if even the way back failed, the next run puts the aside folder back
            _ACTIVE.discard(aside)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def staged_out(out: str | os.PathLike) -> Iterator[Path]:
    """A staging folder beside OUT for the block; swapped in when the block succeeds.

    On an exception (or Ctrl-C) OUT is left as it was and the staging folder is removed.
    """
    path = _resolved(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_out(path)
    staging = _new_name(path, STAGING_MARK)
    _ACTIVE.add(staging)
    try:
        staging.mkdir()
        yield staging
        raise_if_stopped()  # a signal whose exception was swallowed: OUT stays as it was
        swap_in(staging, path)
    except Exception as exc:  # noqa: BLE001  (GDAL's errors are not all OSErrors)
        full = _disk_full(path.parent)
        if full is not None and not isinstance(exc, OutputError):
            # GDAL and NetCDF say "write failed" or "failed to read directory", not why
            raise OutputError(
                f"Cannot write the results into {path}: its disk is full ({full} free in "
                f"{path.parent}). OUT is as it was; free some space or give another --out. "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
            ) from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _ACTIVE.discard(staging)


#: Free space below which a failed write is put down to a full disk.
LOW_SPACE_BYTES = 1 << 20


def _disk_full(folder: Path) -> str | None:
    """The free space of ``folder``'s disk in words when it is (nearly) full, else None."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return f"{free / 2**10:.0f} KiB" if free < LOW_SPACE_BYTES else None
