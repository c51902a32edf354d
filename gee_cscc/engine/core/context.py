"""What an algorithm may need to know about the request it serves (the store, the caller)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import EEError

if TYPE_CHECKING:
    from ..store.assets import AssetStore

__all__ = ["RequestContext", "current", "request_context"]


@dataclass(frozen=True)
class RequestContext:
    """The store the request reads and the identity of the caller (``user:…``)."""

    store: AssetStore
    user: str | None = None
    #: The most pixels one request may compute at once (a memory guard).
    max_pixels: int = 1_000_000_000


_CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)


def current() -> RequestContext:
    ctx = _CURRENT.get()
    if ctx is None:
        raise EEError("No asset store is attached to this evaluation.")
    return ctx


@contextlib.contextmanager
def request_context(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
