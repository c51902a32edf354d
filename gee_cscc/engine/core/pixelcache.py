"""The memo of band computations inside one request or one tile, and releasing its entries.

A graph often reads one sub-image many times (the maintenance chain of METHOD §4 reads each
year's NPP in every growing window), so every band computation is memoized per grid while
a request or a tile is computed: :class:`PixelCache`, keyed by ``(pixel function, grid)``.

Kept to the end of a tile, those entries were the whole working set of the tile (about
350 MB for a 256 x 256 tile of a 38-year chain), and every intermediate landed in fresh
memory. A *planned* cache (:func:`tile_scope`) releases an entry on the tile's own grid as
soon as it has been looked up as many times as the plan says its consumers will: the live
set is then what is still needed. The plan (:func:`release_plan`) counts the lookups of
each pixel function in a dry run of the same bands on one pixel; tiles that look a
function up more often than counted raise its count for the next tiles of the plan.

Correctness never depends on the counts: an entry looked up after its release is computed
again (the same function on the same grid, so the same values) and then kept to the end of
the tile, so a recomputation never cascades (each entry is computed at most twice per tile).
A count that is too high only keeps the entry to the end of the tile, as an unplanned
cache does. Entries on other grids than the tile's (a padded neighbourhood, a source
window of a reprojection) are always kept to the end of the tile.

:func:`cache_stats` collects, for tests and benchmarks, how many computations, releases and
recomputations the caches opened in its scope made, and their peak of live bytes.

A value computed from several pixel functions at once (the per-pixel stack of one
reducer input over a collection, see :func:`gee_cscc.engine.raster.reduction.reduce_pixels`)
is an entry too, keyed by :func:`combined_key`: one key object per tuple of functions, so
every reduction of the same images on a tile reads the same entry, and the plan counts and
releases it like any other.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_PLANS",
    "MIN_PLAN_PIXELS",
    "CacheStats",
    "CombinedKey",
    "PixelCache",
    "cache_stats",
    "clear_plans",
    "combined_key",
    "current_cache",
    "pixel_cache",
    "release_plan",
    "tile_cache",
    "tile_scope",
]

_CACHE: contextvars.ContextVar[PixelCache | None] = contextvars.ContextVar(
    "pixel_cache", default=None
)
_STATS: contextvars.ContextVar[CacheStats | None] = contextvars.ContextVar(
    "pixel_cache_stats", default=None
)

#: How many release plans are kept (one per set of bands computed tile by tile).
MAX_PLANS = 32

#: Grids with fewer pixels are computed without a plan (every entry kept to the end):
#: their intermediates are small, and the dry run would cost as much as the grid itself.
MIN_PLAN_PIXELS = 64 * 64

_plans_lock = threading.Lock()
_plans: collections.OrderedDict[tuple, tuple[tuple, dict]] = collections.OrderedDict()


@dataclass
class CacheStats:
    """What the pixel caches opened inside :func:`cache_stats` did.

    Attributes
    ----------
    computed
        Band computations (cache misses, recomputations included).
    recomputed
        Computations of an entry released earlier in the same tile.
    released
        Entries dropped before the end of their tile.
    live_bytes, peak_bytes
        Bytes of pixel arrays held by the caches now and at most (arrays that are one
        value broadcast over the grid count as nothing, a broadcast axis as one value).
    probes
        Dry runs made to plan releases.
    combined
        Computations of entries keyed by :func:`combined_key` (included in ``computed``).
    """

    computed: int = 0
    recomputed: int = 0
    released: int = 0
    live_bytes: int = 0
    peak_bytes: int = 0
    probes: int = 0
    combined: int = 0


def _nbytes(value: Any) -> int:
    """Bytes of the pixel arrays in a cached value (a ``(values, mask)`` or a list of them)."""
    if isinstance(value, np.ndarray):
        if not value.size or not any(value.strides):
            return 0  # empty, or one value broadcast over the grid
        # a broadcast row or column (a stack of constant bands) holds one value per row
        held = value.itemsize
        for size, stride in zip(value.shape, value.strides, strict=True):
            held *= size if stride else 1
        return held
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 0


class PixelCache:
    """Memoized band computations, keyed by ``(pixel function, grid key)``.

    Parameters
    ----------
    plan
        Lookups expected per pixel function on ``tile_key``'s grid; an entry on that grid
        is released when it has been looked up that many times. None: keep every entry.
    tile_key
        The grid key of the tile the cache serves.
    record
        A dictionary receiving the number of lookups per pixel function on ``tile_key``.
    """

    __slots__ = ("entries", "plan", "tile_key", "record", "seen", "pinned", "stats", "sizes")

    def __init__(
        self,
        plan: Any = None,
        tile_key: tuple | None = None,
        record: dict | None = None,
    ) -> None:
        self.entries: dict[tuple, Any] = {}
        self.plan = plan
        self.tile_key = tile_key
        self.record = record
        self.seen: dict[tuple, int] = {}
        self.pinned: set[tuple] = set()
        self.stats = _STATS.get()
        self.sizes: dict[tuple, int] = {}

    def get(self, fn: Any, grid_key: tuple, compute: Callable[[], Any]) -> Any:
        """The memoized ``compute()`` of ``fn`` on the grid of ``grid_key``."""
        key = (fn, grid_key)
        hit = self.entries.get(key)
        if hit is None:
            hit = compute()
            self.entries[key] = hit
            if key in self.seen:  # released earlier in this tile: keep it from now on
                self.pinned.add(key)
            if self.stats is not None:
                self._added(key, hit)
        if grid_key == self.tile_key:
            if self.record is not None:
                self.record[fn] = self.record.get(fn, 0) + 1
            if self.plan is not None and key not in self.pinned:
                n = self.seen[key] = self.seen.get(key, 0) + 1
                if n >= self.plan.get(fn, n + 1):
                    del self.entries[key]
                    if self.stats is not None:
                        self._dropped(key)
        return hit

    def _added(self, key: tuple, value: Any) -> None:
        stats = self.stats
        size = self.sizes[key] = _nbytes(value)
        stats.computed += 1
        stats.combined += isinstance(key[0], CombinedKey)
        stats.recomputed += key in self.pinned
        stats.live_bytes += size
        stats.peak_bytes = max(stats.peak_bytes, stats.live_bytes)

    def _dropped(self, key: tuple) -> None:
        self.stats.released += 1
        self.stats.live_bytes -= self.sizes.pop(key, 0)

    def close(self) -> None:
        """Drop every entry (the end of the request or tile)."""
        if self.stats is not None:
            self.stats.live_bytes -= sum(self.sizes.values())
            self.sizes.clear()
        self.entries.clear()


class CombinedKey:
    """The cache key of a value computed from several pixel functions (:func:`combined_key`).

    Compared by identity: :func:`combined_key` gives one object per tuple of functions.
    It references the functions weakly (a key never keeps a graph alive) and is forgotten
    when one of them is collected.
    """

    __slots__ = ("refs", "__weakref__")

    def __init__(self, refs: tuple) -> None:
        self.refs = refs


_keys_lock = threading.RLock()  # re-entrant: a collected function's callback takes it too
_keys: dict[tuple, CombinedKey] = {}


def _refers_to(key: CombinedKey, fns: Sequence[Any]) -> bool:
    return all(
        (r is None and f is None) or (r is not None and r() is f)
        for r, f in zip(key.refs, fns, strict=True)
    )


def combined_key(fns: Sequence[Any]) -> CombinedKey | None:
    """The one key of the tuple ``fns`` (pixel functions, None allowed for a missing one).

    Equal tuples (the same functions, by identity, in the same order) give the same
    object while the functions live, so it can key a shared :class:`PixelCache` entry and
    count in a release plan (whose keys are weak references). None when a function
    cannot be weakly referenced (the caller then computes its value unshared).
    """
    fns = tuple(fns)
    ident = tuple(None if f is None else id(f) for f in fns)
    with _keys_lock:
        hit = _keys.get(ident)
        if hit is not None and _refers_to(hit, fns):
            return hit

    def forget(_ref: Any) -> None:
        with _keys_lock:
            if _keys.get(ident) is key:
                del _keys[ident]

    try:
        refs = tuple(None if f is None else weakref.ref(f, forget) for f in fns)
    except TypeError:
        return None
    key = CombinedKey(refs)
    with _keys_lock:
        hit = _keys.get(ident)
        if hit is not None and _refers_to(hit, fns):
            return hit  # made by another thread meanwhile
        _keys[ident] = key
    return key


def current_cache() -> PixelCache | None:
    """The pixel cache of the running request or tile (None outside any)."""
    return _CACHE.get()


@contextlib.contextmanager
def _scope(cache: PixelCache) -> Iterator[PixelCache]:
    token = _CACHE.set(cache)
    try:
        yield cache
    finally:
        _CACHE.reset(token)
        cache.close()


def pixel_cache() -> contextlib.AbstractContextManager[PixelCache]:
    """Memoize band computations per grid for the duration of one request (kept to its end)."""
    return _scope(PixelCache())


def tile_cache(tile: Any, whole: Any) -> contextlib.AbstractContextManager:
    """The cache scope for computing one tile of a larger grid.

    When the tile is the whole grid, the running cache (if any) is kept, so every
    computation at that grid shares it (e.g. the 19 growing-window fits of a maintenance
    chain reading the same NPP images). When a grid is walked in several tiles, each tile
    gets a fresh cache, so memory stays bounded by one tile's intermediates.
    """
    if tile.key == whole.key and _CACHE.get() is not None:
        return contextlib.nullcontext()
    return pixel_cache()


def tile_scope(plan: Any, tile: Any) -> contextlib.AbstractContextManager[PixelCache]:
    """A fresh cache for computing one tile, releasing entries by ``plan`` (see
    :func:`release_plan`; None keeps every entry to the end of the tile).

    At the end, a function looked up more often than planned gets its count raised in
    ``plan``, so the next tiles keep its entry as long as this one needed it.
    """
    if plan is None:
        return pixel_cache()
    return _planned(plan, tile.key)


@contextlib.contextmanager
def _planned(plan: Any, tile_key: tuple) -> Iterator[PixelCache]:
    record: dict = {}
    with _scope(PixelCache(plan, tile_key, record)) as cache:
        yield cache
    for fn, n in record.items():
        if n > plan.get(fn, 0):
            plan[fn] = n


def _plan_key(fns: tuple) -> tuple:
    return tuple(id(f) for f in fns)


def _stored_plan(fns: tuple) -> Any:
    key = _plan_key(fns)
    with _plans_lock:
        hit = _plans.get(key)
        if hit is None:
            return None
        refs, plan = hit
        if any(r() is not f for r, f in zip(refs, fns, strict=True)):
            del _plans[key]  # an id reused by another function
            return None
        _plans.move_to_end(key)
        return plan


def _store_plan(fns: tuple, record: dict) -> Any:
    """Keep a counted plan for later requests; returns the plan to use.

    The kept plan references the pixel functions weakly, so it never keeps a graph (and
    what its functions hold) alive; it disappears with the functions.
    """
    try:
        refs = tuple(weakref.ref(f) for f in fns)
        plan = weakref.WeakKeyDictionary(record)
    except TypeError:  # a pixel function that cannot be weakly referenced: not kept
        return record
    with _plans_lock:
        _plans[_plan_key(fns)] = (refs, plan)
        while len(_plans) > MAX_PLANS:
            _plans.popitem(last=False)
    return plan


def release_plan(bands: Sequence[Any], grid: Any) -> Any:
    """How many times each pixel function is looked up when ``bands`` are computed on a tile.

    Counted by computing the bands on the first pixel of ``grid`` (a dry run, a few
    milliseconds), once per set of band functions: the plan is kept for later requests
    computing the same bands (a pull sends the same evaluated image for every chunk). None
    (keep every entry) for a grid smaller than :data:`MIN_PLAN_PIXELS`, and when the dry
    run fails (the tiles then report the error themselves).
    """
    fns = tuple(b.fn for b in bands)
    if not fns or grid.size < MIN_PLAN_PIXELS:
        return None
    plan = _stored_plan(fns)
    if plan is not None:
        return plan
    probe = grid.window(0, 0, 1, 1)
    record: dict = {}
    stats = _STATS.get()
    if stats is not None:
        stats.probes += 1
    try:
        with _scope(PixelCache(None, probe.key, record)):
            for band in bands:
                band.compute(probe)
    except Exception:  # noqa: BLE001  (the real tiles raise it again, or do not fail)
        return None
    return _store_plan(fns, record)


@contextlib.contextmanager
def cache_stats() -> Iterator[CacheStats]:
    """Collect :class:`CacheStats` of the pixel caches opened inside (tests, benchmarks)."""
    stats = CacheStats()
    token = _STATS.set(stats)
    try:
        yield stats
    finally:
        _STATS.reset(token)


def clear_plans() -> None:
    """Forget every release plan (tests)."""
    with _plans_lock:
        _plans.clear()
