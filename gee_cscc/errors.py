"""The exceptions of gee_cscc: one class per failure a user may want to catch."""

from __future__ import annotations

__all__ = [
    "GeeCsccError",
    "ConfigError",
    "InputError",
    "EngineError",
    "NotImplementedByEngine",
    "AssetNotFound",
    "PermissionDenied",
    "MemoryLimitExceeded",
    "ComputeTimeout",
    "TooManyRequests",
    "RequestTooLarge",
    "InvalidArgument",
    "ExportError",
    "ResumeMismatch",
    "FitError",
    "OutputError",
    "Stopped",
    "LIMIT_ERRORS",
    "LIMIT_HINT",
    "from_ee_exception",
    "ee_errors",
    "note_stop",
    "raise_if_stopped",
    "stop_requested",
]


class GeeCsccError(Exception):
    """Base class of every error raised by gee_cscc."""


class ConfigError(GeeCsccError, ValueError):
    """A run-configuration field has a wrong value; the message names the field."""


class InputError(GeeCsccError, ValueError):
    """Bad input data; the message names the year, band, asset or file."""


class EngineError(GeeCsccError):
    """An Earth Engine computation failed (on Google's servers or the local engine)."""


class NotImplementedByEngine(EngineError):
    """The local engine does not implement an Earth Engine algorithm."""


class AssetNotFound(EngineError):
    """An Earth Engine asset does not exist."""


class PermissionDenied(EngineError):
    """The caller may not read or write an Earth Engine asset."""


class MemoryLimitExceeded(EngineError):
    """Earth Engine reported 'User memory limit exceeded'."""


class ComputeTimeout(EngineError):
    """Earth Engine reported a computation timeout."""


class TooManyRequests(EngineError):
    """Earth Engine reported too many concurrent requests or a quota limit."""


class RequestTooLarge(EngineError):
    """Earth Engine refused an interactive request for its size (pixels or bytes)."""


class InvalidArgument(EngineError):
    """Earth Engine rejected an argument of an algorithm."""


class ExportError(GeeCsccError):
    """An export task failed or could not be started; the message names the task."""


class ResumeMismatch(ExportError):
    """OUT records tasks of another configuration, inputs or grid; nothing was resumed."""


class OutputError(GeeCsccError):
    """The output folder OUT cannot be used or written; the message names it."""


class Stopped(KeyboardInterrupt):
    """A signal (SIGINT or SIGTERM) asked the command to stop; ``signum`` is the signal.

    A ``KeyboardInterrupt``, so every ``finally`` and ``with`` block unwinds.
    """

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: The signal a stop was asked with, until the command ends (see :func:`note_stop`).
_STOP: list[int] = []


def note_stop(signum: int | None) -> None:
    """Record that a signal asked the command to stop (``None`` forgets it).

    The signal handler raises :class:`Stopped` as well; the record is there for when that
    exception is swallowed (a signal arriving inside a finalizer or a callback whose
    exceptions Python ignores): :func:`raise_if_stopped` raises it again before anything is
    published, so a stopped run never ends as a success.
    """
    _STOP.clear()
    if signum is not None:
        _STOP.append(signum)


def stop_requested() -> int | None:
    """The signal that asked the command to stop, or ``None``."""
    return _STOP[0] if _STOP else None


def raise_if_stopped() -> None:
    """Raise :class:`Stopped` if a signal asked the command to stop."""
    if _STOP:
        raise Stopped(_STOP[0])


class FitError(GeeCsccError):
    """A decay fit could not be computed for a reason other than the data's shape."""


_PATTERNS: tuple[tuple[type[EngineError], tuple[str, ...]], ...] = (
    (NotImplementedByEngine, ("is not implemented by the local engine",)),
    (MemoryLimitExceeded, ("memory limit exceeded", "out of memory")),
    (ComputeTimeout, ("timed out", "deadline exceeded", "timeout")),
    (TooManyRequests, ("too many", "quota", "rate limit", "ratelimitexceeded")),
    (RequestTooLarge, ("total request size", "pixel grid dimensions")),
    (PermissionDenied, ("permission denied", "permission_denied", "does not have", "may not")),
    (AssetNotFound, ("not found",)),
)


#: What to try when Earth Engine refuses interactive work for its size (time, memory,
#: concurrency): export tasks have none of those limits.
LIMIT_HINT = "try --mode batch, a coarser --scale or a larger --tile-scale"

#: The errors of work too large for an interactive request.
LIMIT_ERRORS = (MemoryLimitExceeded, ComputeTimeout, TooManyRequests, RequestTooLarge)


def from_ee_exception(exc: BaseException, *, context: str = "", hint: str = "") -> EngineError:
    """The gee_cscc error type for an ``ee.EEException`` (told apart by its message).

    Parameters
    ----------
    exc
        The exception the ``ee`` client raised.
    context
        What was being computed ("region sums", …); it prefixes the message.
    hint
        What to do, appended to a memory, timeout, too-many-requests or request-size error
        (e.g. :data:`LIMIT_HINT`).
    """
    message = str(exc).strip() or type(exc).__name__
    lowered = message.lower()
    cls: type[EngineError] = InvalidArgument
    for candidate, needles in _PATTERNS:
        if any(n in lowered for n in needles):
            cls = candidate
            break
    text = f"{context}: {message}" if context else message
    if hint and cls in LIMIT_ERRORS:
        text = f"{text.rstrip()} ({hint})"
    err = cls(text)
    err.__cause__ = exc
    return err


class ee_errors:  # noqa: N801 (used as a context manager, like contextlib's)
    """Re-raise ``ee.EEException`` as the matching :class:`EngineError` subclass.

    ``with ee_errors("region sums", hint=LIMIT_HINT): ...getInfo()``; ``hint`` is added to
    memory, timeout and too-many-requests errors (see :func:`from_ee_exception`).
    """

    def __init__(self, context: str = "", *, hint: str = "") -> None:
        self.context = context
        self.hint = hint

    def __enter__(self) -> ee_errors:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None:
            return False
        import ee

        if isinstance(exc, ee.EEException):
            raise from_ee_exception(exc, context=self.context, hint=self.hint) from exc
        return False
