"""Locks of the asset store that hold across threads and processes.

Several processes may use one store folder at once (every ``gee-cscc run`` starts its own
local engine on the default store). Every change to the store's tree is made under a lock
taken with ``fcntl.flock`` on a lock file below ``<root>/locks/``:

- ``<root>/locks/store.lock``: the store lock. Held while an asset is published (its staged
  folder renamed into place), replaced, moved, copied into place or deleted, and while an
  ``asset.json`` is read, changed and written back (properties, ACLs, parent folders). It is
  held for renames and small files only, never while pixels are computed or written.
- ``<root>/locks/assets/<sha256(asset name)[:32]>.lock``: an asset lock, taken by writers
  that want to compute an asset only once (:meth:`StoreLocks.asset`): the second process
  waits for the first and then finds the asset there.

Lock files are never deleted (deleting a lock file another process waits on would split the
lock in two). Inside one process the locks are re-entrant per thread; ``flock`` is taken by
the outermost holder only. On systems without ``fcntl`` (Windows) ``msvcrt.locking`` is used.

Staged writes go to ``<root>/tmp/<kind>-p<pid>-<random>`` (same filesystem as the assets, so
publishing is one ``os.rename``); :func:`clean_stale` removes the entries of processes that
are no longer alive.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["FileLock", "StoreLocks", "clean_stale", "exchange", "pid_alive", "stage_name"]

try:  # pragma: no branch
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None  # type: ignore[assignment]


def _lock_fd(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    import msvcrt  # pragma: no cover

    while True:  # pragma: no cover
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            return
        except OSError:
            continue


def _unlock_fd(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    import msvcrt  # pragma: no cover

    os.lseek(fd, 0, os.SEEK_SET)  # pragma: no cover
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # pragma: no cover


class FileLock:
    """An exclusive lock on ``path`` across processes, re-entrant within one thread.

    Threads of one process exclude each other through a :class:`threading.RLock`; the file
    lock is taken when the first level is entered and released when the last one is left.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self) -> None:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    _lock_fd(fd)
                except BaseException:
                    os.close(fd)
                    raise
            except BaseException:
                self._thread_lock.release()
                raise
            self._fd = fd
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                _unlock_fd(fd)
            finally:
                os.close(fd)
        self._thread_lock.release()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class StoreLocks:
    """The store lock and the per-asset locks of one store folder (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / "locks"
        self.store = FileLock(self.folder / "store.lock")
        self._assets: dict[str, FileLock] = {}
        self._guard = threading.Lock()

    def asset_lock_path(self, asset_name: str) -> Path:
        """The lock file of an asset (``asset_name``: ``projects/<p>/assets/<path>``)."""
        digest = hashlib.sha256(asset_name.encode()).hexdigest()[:32]
        return self.folder / "assets" / f"{digest}.lock"

    @contextlib.contextmanager
    def asset(self, asset_name: str) -> Iterator[None]:
        """Hold the lock of one asset for the block (writers that compute it only once)."""
        with self._guard:
            lock = self._assets.get(asset_name)
            if lock is None:
                lock = self._assets[asset_name] = FileLock(self.asset_lock_path(asset_name))
        with lock:
            yield


def _renameat2() -> Any:
    """libc's ``renameat2`` (Linux, glibc 2.28+), or None."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2() if sys.platform.startswith("linux") else None
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot.

    Uses Linux's ``renameat2(RENAME_EXCHANGE)``: nobody sees a moment where either path
    is missing. Returns False (nothing changed) when the call or the filesystem does not
    support it; the caller then renames in two steps.
    """
    if _RENAMEAT2 is None:
        return False
    import ctypes

    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


_STAGE_RE = re.compile(r"^[a-z]+-p(\d+)-[0-9a-f]+")


def stage_name(kind: str) -> str:
    """A fresh name for a staged entry of this process: ``<kind>-p<pid>-<random hex>``."""
    return f"{kind}-p{os.getpid()}-{os.urandom(6).hex()}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this host)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:  # pragma: no cover  (Windows: no signal 0)
        return True
    return True


def clean_stale(folder: Path) -> list[Path]:
    """Remove the staged entries in ``folder`` whose process is gone; returns them."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        m = _STAGE_RE.match(entry.name)
        if not m or pid_alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed
