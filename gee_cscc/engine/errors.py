"""Errors raised while the local engine serves a request.

Each maps to the HTTP status and JSON error body that Google's servers send for the same
failure, so the unmodified ``ee`` client raises ``ee.EEException`` with the message.
"""

from __future__ import annotations

__all__ = [
    "CancelledError",
    "EEError",
    "NotFoundError",
    "PermissionDeniedError",
    "AlreadyExistsError",
    "UnimplementedError",
    "MemoryLimitError",
    "ComputationTimedOutError",
    "TooManyRequestsError",
]


class EEError(Exception):
    """An evaluation error: HTTP 400 INVALID_ARGUMENT, never retried by the client."""

    http_status = 400
    status = "INVALID_ARGUMENT"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {
            "error": {
                "code": self.http_status,
                "message": self.message,
                "status": self.status,
            }
        }


class NotFoundError(EEError):
    """A missing asset or operation: HTTP 404 NOT_FOUND."""

    http_status = 404
    status = "NOT_FOUND"


class PermissionDeniedError(EEError):
    """The caller may not read or write an asset: HTTP 403 PERMISSION_DENIED."""

    http_status = 403
    status = "PERMISSION_DENIED"


class AlreadyExistsError(EEError):
    """An asset that is to be created exists: HTTP 409 ALREADY_EXISTS."""

    http_status = 409
    status = "ALREADY_EXISTS"


class UnimplementedError(EEError):
    """An algorithm the local engine does not implement (still a 400: it is deterministic)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not implemented by the local engine.")
        self.algorithm = name


class MemoryLimitError(EEError):
    """A computation would exceed the engine's memory budget."""

    def __init__(self, detail: str = "") -> None:
        msg = "User memory limit exceeded."
        super().__init__(f"{msg} {detail}".strip())


class ComputationTimedOutError(EEError):
    """An interactive request ran past its deadline: Earth Engine's "Computation timed out."."""

    def __init__(self) -> None:
        super().__init__("Computation timed out.")


class TooManyRequestsError(EEError):
    """More interactive requests at once than allowed: HTTP 429 RESOURCE_EXHAUSTED."""

    http_status = 429
    status = "RESOURCE_EXHAUSTED"

    def __init__(self) -> None:
        super().__init__("Too many concurrent aggregations.")


class CancelledError(Exception):
    """Raised inside a running export or ingestion when its operation was cancelled.

    Not an :class:`EEError`: it ends the operation as CANCELLED, not FAILED.
    """
