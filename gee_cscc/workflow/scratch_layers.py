"""A run's per-cell layers kept on disk, read back lazily: memory that does not grow with the grid.

A pull (:func:`gee_cscc.workflow.pull.open_layers` with ``scratch=``) writes each band of
rows straight into one raw file per layer (the layer's type, C order, no header) in a
:class:`ScratchFolder`, and ``Results.rasters`` is an ``xarray.Dataset`` over those files:
``.values``, ``.sel``, ``.isel``, ``.plot`` read what they index (a strip of rows reads
those rows only, with ``pread``; never ``np.memmap``, whose touched pages would stay in the
process's resident memory), nothing is cached, and whole layers are only in memory when
asked for (``.values``, ``.load()``).

The scratch folder is ``<temp>/gee-cscc-layers.p<pid>-<random>``, in the system's
temporary folder (``TMPDIR``), never inside OUT. It lives as long as something reads
from it (the Results, or a layer taken out of it) and is removed when the last of them
goes away, or when the process ends (``atexit``). A run killed before it could clean up
leaves its folder behind: the next :class:`ScratchFolder` removes the folders of processes
that no longer run. Layers over a scratch folder cannot be pickled: ``.load()`` them
first (then they are plain arrays).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from gee_cscc.errors import EngineError, OutputError
from gee_cscc.report.out_folder import pid_alive

__all__ = [
    "SCRATCH_PREFIX",
    "FileLayers",
    "LayerWriter",
    "ScratchFolder",
    "clean_stale_scratch",
    "lazy_stack",
    "map_layer",
    "map_layers",
    "scratch_of",
]

#: The name of every scratch folder starts with this, then ``p<pid>-``.
SCRATCH_PREFIX = "gee-cscc-layers."
_STALE_RE = re.compile(rf"^{re.escape(SCRATCH_PREFIX)}p(?P<pid>\d+)-")
#: Space kept free beside the layers (bytes), so a full disk is found before it is full.
_MARGIN = 256 << 20


def clean_stale_scratch(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove the scratch folders of processes that no longer run from ``root`` (default
    the system's temporary folder); returns them."""
    folder = Path(root or tempfile.gettempdir())
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _STALE_RE.match(entry.name)
        if not m or entry.is_symlink() or not entry.is_dir() or pid_alive(int(m.group("pid"))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


def _remove(path: str, pid: int) -> None:
    if os.getpid() == pid:  # never from a forked child
        shutil.rmtree(path, ignore_errors=True)


class ScratchFolder:
    """A folder of layer files, removed when the object is collected or the process ends.

    Everything that reads from the folder holds a reference to it, so it outlives every
    lazy layer over it. ``root`` defaults to the system's temporary folder; creating one
    first removes the folders of dead processes there (:func:`clean_stale_scratch`).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        root_path = Path(root or tempfile.gettempdir())
        clean_stale_scratch(root_path)
        try:
            path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}p{os.getpid()}-", dir=root_path)
        except OSError as exc:
            raise OutputError(
                f"Cannot make a scratch folder for the run's layers in {root_path} ({exc}): "
                "set TMPDIR to a writable folder with free space."
            ) from exc
        self.path = Path(path)
        self.files = 0  # layer files made so far (their names' numbers)
        self._finalizer = weakref.finalize(self, _remove, path, os.getpid())

    @property
    def alive(self) -> bool:
        """False once the folder has been removed."""
        return self._finalizer.alive

    def remove(self) -> None:
        """Remove the folder now (lazy layers over it cannot be read afterwards)."""
        self._finalizer()

    def reserve(self, nbytes: int, what: str) -> None:
        """Raise :class:`OutputError` unless ``nbytes`` (and a margin) fit on its disk."""
        free = shutil.disk_usage(self.path).free
        if nbytes + _MARGIN > free:
            raise OutputError(
                f"{what} need {_size(nbytes + _MARGIN)} in {self.path.parent} and "
                f"{_size(free)} are free: set TMPDIR to a folder with more space."
            )

    def writer(
        self, names: Sequence[str], shape: tuple[int, int], dtype: Any = np.float32
    ) -> LayerWriter:
        """Files for the ``(y, x)`` layers ``names``, to be written by bands of rows."""
        return LayerWriter(self, names, shape, np.dtype(dtype))

    def __deepcopy__(self, memo: dict) -> ScratchFolder:
        return self

    def __reduce__(self) -> Any:
        raise TypeError(
            "Layers read lazily from a run's scratch folder cannot be pickled: "
            "load them first (results.rasters.load())."
        )


def _size(nbytes: float) -> str:
    """Bytes in words: GiB from 1 GiB on, else MiB (0.0 GiB said nothing)."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def _write_all(fd: int, data: memoryview, offset: int, path: Path) -> None:
    while len(data):
        try:
            n = os.pwrite(fd, data, offset)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise OutputError(
                    f"The disk of {path.parent} is full while writing the run's layers: "
                    "set TMPDIR to a folder with more space."
                ) from exc
            raise
        data, offset = data[n:], offset + n


def _read_into(fd: int, out: np.ndarray, offset: int, path: Path) -> None:
    view = memoryview(out).cast("B")
    while len(view):
        n = os.preadv(fd, [view], offset)
        if n == 0:
            raise OutputError(f"The scratch layer {path} is shorter than its grid.")
        view, offset = view[n:], offset + n


class LayerWriter:
    """One raw file per layer; :meth:`write_rows` puts a band of rows where it belongs.

    The files start as zeros. Every write is counted, so a layer that was not written
    whole (a pull that stopped short, a block lost on the way) is refused when the layers
    are taken (:meth:`layers`), instead of reading as zeros: a number from it would be wrong.
    """

    def __init__(self, scratch: ScratchFolder, names: Sequence[str], shape: tuple, dtype: Any):
        self.scratch = scratch
        self.names = list(names)
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        row_bytes = self.shape[1] * self.dtype.itemsize
        scratch.reserve(len(self.names) * self.shape[0] * row_bytes, "The run's layers")
        self.paths = []
        self._fds = []
        self._written = [0] * len(self.names)  # cells written, per layer
        for name in self.names:
            scratch.files += 1
            path = scratch.path / f"{scratch.files:04d}-{_safe(name)}.raw"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            os.ftruncate(fd, self.shape[0] * row_bytes)
            self.paths.append(path)
            self._fds.append(fd)

    def write_rows(self, index: int, y0: int, rows: np.ndarray) -> None:
        """Write ``rows`` (``(n, x)``) of layer ``index`` from row ``y0`` on."""
        block = np.ascontiguousarray(rows, dtype=self.dtype)
        if block.ndim != 2 or block.shape[1] != self.shape[1]:
            raise ValueError(f"rows of shape {block.shape} for a grid of {self.shape}")
        if y0 < 0 or y0 + block.shape[0] > self.shape[0]:
            raise ValueError(f"{block.shape[0]} rows at row {y0} of a grid of {self.shape}")
        offset = y0 * self.shape[1] * self.dtype.itemsize
        _write_all(self._fds[index], memoryview(block).cast("B"), offset, self.paths[index])
        self._written[index] += block.size

    def write_block(self, index: int, y0: int, x0: int, block: np.ndarray) -> None:
        """Write ``block`` (``(n, m)``) of layer ``index`` at row ``y0``, column ``x0``."""
        if x0 == 0 and block.shape[1] == self.shape[1]:
            self.write_rows(index, y0, block)
            return
        rows = np.ascontiguousarray(block, dtype=self.dtype)
        if (
            rows.ndim != 2
            or x0 < 0
            or x0 + rows.shape[1] > self.shape[1]
            or y0 < 0
            or y0 + rows.shape[0] > self.shape[0]
        ):
            raise ValueError(
                f"a block of {rows.shape} at row {y0}, column {x0} of a grid of {self.shape}"
            )
        size = self.dtype.itemsize
        for r in range(rows.shape[0]):  # one write per row segment
            offset = ((y0 + r) * self.shape[1] + x0) * size
            _write_all(self._fds[index], memoryview(rows[r]).cast("B"), offset, self.paths[index])
        self._written[index] += rows.size

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def layers(self) -> list[FileLayers]:
        """Each written layer as a lazily read ``(y, x)`` array (closes the files).

        Raises
        ------
        EngineError
            A layer's cells were not all written (or some twice): it names the layer.
        """
        self.close()
        cells = self.shape[0] * self.shape[1]
        for name, written in zip(self.names, self._written, strict=True):
            if written != cells:
                raise EngineError(
                    f"The layer '{name}' came back incomplete: {written:,} of its {cells:,} "
                    "cells were written. Nothing was computed from it; run again."
                )
        return [FileLayers(self.scratch, [p], self.shape, self.dtype) for p in self.paths]

    def variables(self, dims: tuple[str, str] = ("y", "x"), attrs: dict | None = None) -> dict:
        """Each written layer as a lazy ``xarray.Variable``, by name (closes the files)."""
        return {
            name: xr.Variable(dims, indexing.LazilyIndexedArray(layer), dict(attrs or {}))
            for name, layer in zip(self.names, self.layers(), strict=True)
        }


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]


def _positions(key: Any, n: int) -> tuple[np.ndarray, bool]:
    """Indices an outer-indexer key selects on an axis of ``n``, and whether it drops it."""
    if isinstance(key, slice):
        return np.arange(n)[key], False
    if isinstance(key, (int, np.integer)):
        return np.array([int(key) % n if n else 0]), True
    index = np.asarray(key, dtype=np.int64)
    return np.where(index < 0, index + n, index), False


def _runs(rows: np.ndarray) -> list[tuple[int, int, int]]:
    """``(position in rows, first row, count)`` of each run of consecutive rows."""
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [rows.size]])
    return [(int(s), int(rows[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


class FileLayers(BackendArray):
    """Raw ``(y, x)`` layer files read lazily: one file a ``(y, x)`` array, several a
    ``(layer, y, x)`` stack. Each read opens the files, reads the rows asked for with
    ``pread`` into a fresh array and closes them; nothing is kept."""

    def __init__(
        self,
        scratch: ScratchFolder,
        paths: Sequence[Path],
        shape2d: tuple,
        dtype: Any,
        stacked: bool | None = None,
    ) -> None:
        self.scratch = scratch
        self.paths = [Path(p) for p in paths]
        self.shape2d = (int(shape2d[0]), int(shape2d[1]))
        self.dtype = np.dtype(dtype)
        self.stacked = len(self.paths) != 1 if stacked is None else bool(stacked)
        self.shape = (len(self.paths), *self.shape2d) if self.stacked else self.shape2d

    def __getitem__(self, key: Any) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._read
        )

    def _read(self, key: tuple) -> np.ndarray:
        if not self.scratch.alive:
            raise OutputError(
                f"The run's scratch layers in {self.scratch.path} were removed: "
                "keep the Results (or load() the layers) while you use them."
            )
        if self.stacked:
            files, drop_file = _positions(key[0], len(self.paths))
            key = key[1:]
        else:
            files, drop_file = np.array([0]), True
        rows, drop_y = _positions(key[0], self.shape2d[0])
        cols_key = key[1]
        ny, nx = self.shape2d
        width = nx * self.dtype.itemsize
        cols, drop_x = _positions(cols_key, nx)
        out = np.empty((files.size, rows.size, cols.size), dtype=self.dtype)
        whole_width = (
            isinstance(cols_key, slice) and cols.size == nx and (cols_key.step in (None, 1))
        )
        for i, f in enumerate(files):
            fd = os.open(self.paths[int(f)], os.O_RDONLY)
            try:
                for at, first, count in _runs(rows):
                    if whole_width:
                        _read_into(fd, out[i, at : at + count], first * width, self.paths[f])
                        continue
                    part = np.empty((count, nx), dtype=self.dtype)
                    _read_into(fd, part, first * width, self.paths[f])
                    out[i, at : at + count] = part[:, cols]
            finally:
                os.close(fd)
        index = (0 if drop_file else slice(None), 0 if drop_y else slice(None))
        index = (*index, 0 if drop_x else slice(None))
        return out[index]

    def __deepcopy__(self, memo: dict) -> FileLayers:
        return self  # the files do not change: a copy reads the same

    def __copy__(self) -> FileLayers:
        return self

    def __reduce__(self) -> Any:
        return self.scratch.__reduce__()  # raises: see ScratchFolder


def _file_layers(variable: xr.Variable | xr.DataArray) -> FileLayers | None:
    """The :class:`FileLayers` a variable reads without any indexing, or None."""
    data = getattr(variable, "variable", variable)._data
    for _ in range(4):
        if isinstance(data, indexing.LazilyIndexedArray):
            whole = all(isinstance(k, slice) and k == slice(None) for k in data.key.tuple)
            array = data.array
            if whole and isinstance(array, FileLayers):
                return array
            return None
        data = getattr(data, "array", None)
        if data is None:
            return None
    return None


def scratch_of(variable: Any) -> ScratchFolder | None:
    """The scratch folder a lazily read layer comes from, or None (any other array)."""
    layers = _file_layers(variable)
    return layers.scratch if layers is not None else None


def lazy_stack(layers: Sequence[Any]) -> indexing.LazilyIndexedArray | None:
    """Whole ``(y, x)`` scratch layers of one folder as a lazy ``(layer, y, x)`` array
    (no read), or None when any of them is not such a layer."""
    files = [_file_layers(layer) for layer in layers]
    if not files or any(f is None or f.stacked for f in files):
        return None
    first = files[0]
    if any(f.scratch is not first.scratch or f.shape != first.shape for f in files):
        return None
    if any(f.dtype != first.dtype for f in files):
        return None
    paths = [f.paths[0] for f in files]
    stack = FileLayers(first.scratch, paths, first.shape, first.dtype, stacked=True)
    return indexing.LazilyIndexedArray(stack)


#: Cells of one strip when a layer is computed from another (:func:`map_layer`).
STRIP_CELLS = 1 << 22


def map_layer(
    layer: xr.DataArray, func: Callable[[np.ndarray], np.ndarray], name: str, dtype: Any
) -> xr.Variable | None:
    """``func`` of a scratch ``(y, x)`` layer, computed a strip of rows at a time into a new
    scratch layer of ``dtype`` (``func`` must work cell by cell); None when ``layer`` is not
    read from a scratch folder."""
    out = map_layers([layer], lambda strips: [func(strips[0])], [name], dtype)
    return None if out is None else xr.Variable(layer.dims, out[0])


def map_layers(
    layers: Sequence[xr.DataArray],
    func: Callable[[list[np.ndarray]], Sequence[np.ndarray]],
    names: Sequence[str],
    dtype: Any,
) -> list[indexing.LazilyIndexedArray] | None:
    """``func`` of ``(y, x)`` layers of one shape (the first one read from a scratch folder),
    a strip of rows of each at a time: ``func(strips)`` returns one strip per name, written
    into new layers of ``dtype`` in the first layer's folder (``func`` must work cell by
    cell). None when the first layer is not read from a scratch folder."""
    scratch = scratch_of(layers[0]) if layers else None
    if scratch is None or any(layer.ndim != 2 for layer in layers):
        return None
    if any(layer.shape != layers[0].shape for layer in layers):
        raise ValueError(f"layers of shapes {[layer.shape for layer in layers]}")
    ny, nx = (int(n) for n in layers[0].shape)
    step = max(1, STRIP_CELLS // max(1, nx * len(layers)))
    writer = scratch.writer(names, (ny, nx), dtype)
    try:
        for r0 in range(0, ny, step):
            strips = [
                np.asarray(layer.isel({layer.dims[0]: slice(r0, r0 + step)}).values)
                for layer in layers
            ]
            for i, rows in enumerate(func(strips)):
                writer.write_rows(i, r0, rows)
    finally:
        writer.close()
    return [indexing.LazilyIndexedArray(layer) for layer in writer.layers()]
