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
    "InvalidArgument",
    "ExportError",
    "FitError",
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


class InvalidArgument(EngineError):
    """Earth Engine rejected an argument of an algorithm."""


class ExportError(GeeCsccError):
    """An export task failed or could not be started; the message names the task."""


class FitError(GeeCsccError):
    """A decay fit could not be computed for a reason other than the data's shape."""
