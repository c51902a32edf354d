"""What an algorithm may need to know about the request it serves: the store, the caller,
the limits, and whether the request must stop.

An interactive request (``value:compute``, ``computePixels``, map tiles) runs with a
deadline (:attr:`RequestContext.deadline`, from :attr:`Limits.compute_seconds`) and a
cancel event that the service sets when the client goes away or the engine stops. Long
loops call :func:`check_interrupt` (the interpreter before every algorithm call, the
tiled reductions before every tile), which raises Earth Engine's "Computation timed out."
past the deadline and :class:`~gee_cscc.engine.errors.CancelledError` once cancelled.
Batch work (exports, ingestion) runs without a deadline, as on Earth Engine.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import CancelledError, ComputationTimedOutError, EEError
from ..limits import GOOGLE, Limits

if TYPE_CHECKING:
    from ..store.assets import AssetStore

__all__ = [
    "RequestContext",
    "check_interrupt",
    "current",
    "current_limits",
    "request_context",
]


@dataclass(frozen=True)
class RequestContext:
    """The store the request reads, the identity of the caller (``user:…``) and its bounds.

    Attributes
    ----------
    store
        The asset store.
    user
        The caller's identity; None skips ACL checks.
    max_pixels
        The most pixels one request may compute at once (a memory guard).
    limits
        The interactive limits of the engine serving the request.
    deadline
        ``time.monotonic()`` value after which the request times out; None: no deadline.
    cancel
        Set when the request must stop (client gone, engine stopping, task cancelled).
    """

    store: AssetStore
    user: str | None = None
    max_pixels: int = 1_000_000_000
    limits: Limits = GOOGLE
    deadline: float | None = None
    cancel: threading.Event | None = field(default=None, compare=False)

    def check(self) -> None:
        """Raise if the request was cancelled or ran past its deadline."""
        if self.cancel is not None and self.cancel.is_set():
            raise CancelledError()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ComputationTimedOutError()


_CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)


def current() -> RequestContext:
    ctx = _CURRENT.get()
    if ctx is None:
        raise EEError("No asset store is attached to this evaluation.")
    return ctx


def current_limits() -> Limits:
    """The limits of the request being served (Google's outside a request)."""
    ctx = _CURRENT.get()
    return ctx.limits if ctx is not None else GOOGLE


def check_interrupt() -> None:
    """Raise if the current request was cancelled or ran past its deadline (cheap)."""
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.check()


@contextlib.contextmanager
def request_context(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
