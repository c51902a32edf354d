"""Interpreting a pixels request's expression once, not once per tile.

A pull cuts a grid into chunks and sends one ``computePixels`` per chunk, each with the same
expression (xee sends the same image for every chunk; only the ``grid`` differs). Turning
the expression into an :class:`~..core.values.Image` (the interpreter walking the whole
graph: a run's pull sends 58 kB of expression whose ``map`` and ``iterate`` bodies run once
per year) cost about a tenth of every chunk's time at 0.05°. :func:`evaluate_image` keeps the evaluated image and serves the next request with the
same expression from it.

The image is kept under

* the expression's text (a hash of its JSON, keys sorted);
* the files of every asset it loads (``*.load`` invocations: each asset folder's files with
  their sizes and modification times, and the ``asset.json`` of every folder above it,
  where read access is inherited from): a changed, replaced, deleted or re-shared asset
  gives a new key, and the expression is evaluated again, with its access checks;
* the caller (``user:…``), the store and the limits of the request;
* the worker thread: an image can hold per-grid memos behind locks (a composite's outputs
  for the last grid, when computed outside a pixel cache), so two workers computing two
  tiles of one pull each use their own. Each worker's image also keeps its band functions,
  so the tile release plan counted for them (``core/pixelcache.py``) serves every later
  chunk of the pull.

Only successful evaluations are kept (an error is raised again by evaluating again), at
most :data:`MAX_ENTRIES` of them. Nothing else changes for the request: its pixel limits
are checked on the request's grid before any pixel is computed, and its deadline by the
computation's own checks.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core.context import current

__all__ = ["MAX_ENTRIES", "evaluate_image", "expression_key", "clear"]

#: How many evaluated images are kept (a few per worker thread).
MAX_ENTRIES = 8

_lock = threading.Lock()
_images: collections.OrderedDict[tuple, Any] = collections.OrderedDict()


class _NoKey(Exception):
    """The expression reads something that cannot be identified by its text."""


def _load_ids(values: Mapping[str, Any]) -> list[str]:
    """The asset ids of every ``*.load`` invocation (constant arguments only)."""
    ids: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            inv = node.get("functionInvocationValue")
            if isinstance(inv, dict) and "load" in str(inv.get("functionName", "")).lower():
                for arg in inv.get("arguments", {}).values():
                    if not isinstance(arg, dict) or "constantValue" not in arg:
                        raise _NoKey()  # an asset named by a computed id
                    if isinstance(arg["constantValue"], str):
                        ids.append(arg["constantValue"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(values)
    return sorted(set(ids))


def _files(store: Any, asset_id: str) -> list:
    """An asset's files (path, size, mtime) and the ``asset.json`` of the folders above it."""
    try:
        folder = Path(store.asset_dir(store.resolve(asset_id)))
    except Exception:  # noqa: BLE001  (a bad id: evaluation reports it; here, no key)
        raise _NoKey() from None
    out: list = [str(folder)]
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:
                raise _NoKey() from None
            out.append((os.path.relpath(path, folder), st.st_size, st.st_mtime_ns))
    for parent in folder.parents:
        try:
            st = os.stat(parent / "asset.json")
            out.append((str(parent), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(parent), None))
        if parent.name == "assets":
            break
    return out


def expression_key(expression: Mapping[str, Any]) -> tuple | None:
    """The cache key of an expression in the current request (None: not cacheable)."""
    ctx = current()
    try:
        text = json.dumps(expression, sort_keys=True)
        files = [_files(ctx.store, a) for a in _load_ids(expression.get("values", {}))]
    except (_NoKey, TypeError, ValueError):
        return None
    digest = hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
    files_digest = hashlib.blake2b(repr(files).encode(), digest_size=20).hexdigest()
    return (
        digest,
        files_digest,
        ctx.user,
        id(ctx.store),
        ctx.limits,
        ctx.max_pixels,
        threading.get_ident(),
    )


def evaluate_image(
    expression: Mapping[str, Any],
    evaluate: Callable[[Any], Any],
    keep: Callable[[Any], bool] = lambda value: True,
) -> Any:
    """``evaluate(expression)``, or the value it gave for the same key before (values
    for which ``keep`` is false are not kept)."""
    key = expression_key(expression) if isinstance(expression, Mapping) else None
    if key is not None:
        with _lock:
            hit = _images.get(key)
            if hit is not None:
                _images.move_to_end(key)
                return hit
    value = evaluate(expression)
    if key is not None and keep(value):
        with _lock:
            _images[key] = value
            while len(_images) > MAX_ENTRIES:
                _images.popitem(last=False)
    return value


def clear() -> None:
    """Forget every evaluated image (an engine stopping, tests)."""
    with _lock:
        _images.clear()
