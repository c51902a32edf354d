"""Giving memory that the engine's threads freed back to the system.

The engine computes every tile in many short-lived NumPy arrays on several threads (the
request workers, the tile pool, the export tasks). glibc keeps what each thread frees in
that thread's arena, so without a trim a long pull or export keeps the high-water mark of
every arena: a 0.025° batch run's two image exports held about 1 GB they had freed.
:func:`release_free_memory` returns it (``malloc_trim``); a no-op off glibc.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["release_free_memory"]


def release_free_memory() -> None:
    """Give memory freed by every thread back to the system (glibc ``malloc_trim``)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None
