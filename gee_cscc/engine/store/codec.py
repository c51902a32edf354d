"""How the store's GeoTIFFs are compressed, and how they are opened for reading.

Every stored image is one tiled GeoTIFF (``data.tif``, 256 × 256 blocks) that only this
engine reads, so its codec is chosen for reading speed: ZSTD decodes a float32 NPP block
about a quarter faster than deflate, at the same size (2,484 × 1,424 cells: 5.42 MB against
5.44 MB). A GDAL built without ZSTD writes deflate; GDAL reads either, whatever wrote it.
Files for people (exports to Drive or Cloud Storage, the run's outputs) keep deflate, which
every GIS reads.

:data:`READ_OPTIONS` are the GDAL settings of a store read: a stored image has no side-car
files (``.aux.xml``, ``.ovr``, ``.msk``), so GDAL need not list the asset's folder at every
open (one open per tile and band read).

GDAL's block cache is one per process. :func:`bound_gdal_cache` caps it at
:data:`GDAL_CACHE_MB` once, the first time the engine reads or writes a GeoTIFF, and every
engine read and write runs under that one cap. (A cap set by each writer's ``rasterio.Env``
and restored when it was left could be undone by another thread's writer while the first
still wrote.)
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

__all__ = [
    "GDAL_CACHE_MB",
    "READ_OPTIONS",
    "bound_gdal_cache",
    "read_env",
    "store_compression",
    "write_env",
]

#: ZSTD level of the store: NPP floats barely compress, and level 1 writes a year at
#: 0.025° in 19 ms against 45 ms at GDAL's default 9, within 0.2 % of the size.
ZSTD_LEVEL = 1

READ_OPTIONS = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

#: GDAL's block cache in a process that runs the engine, in MiB. GDAL keeps the blocks it
#: wrote or read until its cache is full, by default 5 % of the machine's memory (1.2 GB
#: here): a 0.025° batch run peaked at 2,017 MiB with it and at 1,573 MiB with 64 MiB, in
#: the same time. A ``GDAL_CACHEMAX`` in the environment is left as it is.
GDAL_CACHE_MB = 64

_bounded = False
_bound_lock = threading.Lock()


def bound_gdal_cache() -> None:
    """Cap GDAL's block cache at :data:`GDAL_CACHE_MB` for the whole process, once.

    Nothing changes when the environment sets ``GDAL_CACHEMAX`` (the user's choice) or the
    cache is already smaller. rasterio takes the value in bytes (64 alone would be 64 bytes).
    """
    global _bounded
    if _bounded:
        return
    with _bound_lock:
        if _bounded:
            return
        if "GDAL_CACHEMAX" not in os.environ:
            from rasterio.env import get_gdal_config, set_gdal_config

            current = get_gdal_config("GDAL_CACHEMAX")
            if not isinstance(current, int) or current > GDAL_CACHE_MB << 20:
                set_gdal_config("GDAL_CACHEMAX", GDAL_CACHE_MB << 20)
        _bounded = True


def read_env() -> Any:
    """The GDAL settings of a store read (:data:`READ_OPTIONS`), as a ``rasterio.Env``,
    under the process's bounded block cache."""
    import rasterio

    bound_gdal_cache()
    return rasterio.Env(**READ_OPTIONS)


def write_env() -> Any:
    """A ``rasterio.Env`` for writing a GeoTIFF, under the process's bounded block cache
    (:func:`bound_gdal_cache`)."""
    import rasterio

    bound_gdal_cache()
    return rasterio.Env()


def store_compression() -> dict[str, object]:
    """The creation options of a stored GeoTIFF's codec (for ``rasterio.open(..., "w")``)."""
    if _codec() == "zstd":
        return {"compress": "zstd", "zstd_level": ZSTD_LEVEL}
    return {"compress": "deflate"}


@functools.cache
def _codec() -> str:
    """``"zstd"`` when this GDAL can write it (checked once, in memory), else ``"deflate"``."""
    import warnings

    import numpy as np
    from rasterio.io import MemoryFile

    profile = {"driver": "GTiff", "width": 1, "height": 1, "count": 1, "dtype": "float32"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a 1 x 1 probe has no georeferencing
            with MemoryFile() as mem, mem.open(**profile, compress="zstd") as dst:
                dst.write(np.zeros((1, 1, 1), dtype="float32"))
    except Exception:  # noqa: BLE001 - any failure means: not this codec
        return "deflate"
    return "zstd"
