"""The tiles of one region reduction, computed on every core and taken in tile order.

A region reduction (``reduceRegion``, ``reduceRegions``, the grouped sums of a run's tables)
walks its window tile by tile. One request runs on one engine worker, so a whole-grid
reduction used to keep one core busy and leave the other idle. :func:`map_in_order` computes
up to :data:`TILE_WORKERS` tiles at once on a pool shared by every request, and gives the
results back in tile order, so the reducer's accumulator sees the same rows in the same
order as a walk on one thread: the result is the same to the last bit.

Each tile runs in a copy of the caller's context: the request (its store, deadline and
cancel event) and its own pixel cache (:func:`~.pixelcache.tile_scope`). NumPy releases the
GIL inside its array loops, so the tiles overlap where the work is array arithmetic.
At most ``TILE_WORKERS + 1`` tiles are in flight, so memory is a few tiles' working sets.
A tile computed inside a pool task (a reduction nested in another's pixels) runs on its
caller's thread, so the pool never waits on itself.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["TILE_WORKERS", "map_in_order", "usable_cores"]

T = TypeVar("T")
R = TypeVar("R")


def usable_cores(cap: int = 4) -> int:
    """The cores this process may use (its CPU affinity, not the machine's count: a
    container or ``taskset`` may allow fewer), at least 1 and at most ``cap``."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(cap, n))


#: Tiles computed at once (the cores this process may use, at most 4).
TILE_WORKERS = usable_cores()

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_IN_TASK: contextvars.ContextVar[bool] = contextvars.ContextVar("in_tile_task", default=False)


def _shared_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=TILE_WORKERS, thread_name_prefix="gee-cscc-tile"
            )
        return _pool


def _task(fn: Callable[[T], R], item: T) -> R:
    _IN_TASK.set(True)  # in this task's own copy of the context
    return fn(item)


def map_in_order(
    fn: Callable[[T], R], items: Iterable[T], workers: int | None = None
) -> Iterator[R]:
    """``fn(item)`` for every item, up to ``workers`` (default :data:`TILE_WORKERS`) at
    once, yielded in the items' order.

    The first error (in order) is raised where its result would have been yielded; the
    tiles not started are cancelled and the running ones are waited for, also when the
    caller stops early, so no tile of a finished request is still computing.
    """
    workers = TILE_WORKERS if workers is None else workers
    if workers <= 1 or _IN_TASK.get():
        for item in items:
            yield fn(item)
        return
    pool = _shared_pool()
    pending: collections.deque[concurrent.futures.Future] = collections.deque()
    try:
        for item in items:
            ctx = contextvars.copy_context()
            pending.append(pool.submit(ctx.run, _task, fn, item))
            while len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        concurrent.futures.wait(pending)
