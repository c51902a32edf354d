"""Earth Engine errors become gee_cscc's own types, told apart by their messages."""

from __future__ import annotations

import ee
import pytest

from gee_cscc import errors


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("User memory limit exceeded.", errors.MemoryLimitExceeded),
        ("Computation timed out.", errors.ComputeTimeout),
        ("Too many concurrent aggregations.", errors.TooManyRequests),
        ("Image.load: Image asset 'x' not found.", errors.AssetNotFound),
        ("Permission denied: user:b@x may not read asset 'a'.", errors.PermissionDenied),
        ("Image.entropy is not implemented by the local engine.", errors.NotImplementedByEngine),
        ("Image.select: Pattern 'q' did not match any bands.", errors.InvalidArgument),
    ],
)
def test_from_ee_exception(message, cls):
    err = errors.from_ee_exception(ee.EEException(message), context="region sums")
    assert type(err) is cls
    assert isinstance(err, errors.EngineError) and isinstance(err, errors.GeeCsccError)
    assert str(err) == f"region sums: {message}"


def test_ee_errors_context_manager_translates_and_keeps_the_cause():
    original = ee.EEException("User memory limit exceeded.")
    with pytest.raises(errors.MemoryLimitExceeded) as info, errors.ee_errors("pull"):
        raise original
    assert info.value.__cause__ is original
    with pytest.raises(KeyError), errors.ee_errors("pull"):
        raise KeyError("not an Earth Engine error")


def test_public_surface():
    import gee_cscc

    for name in gee_cscc.__all__:
        assert getattr(gee_cscc, name) is not None
    with pytest.raises(AttributeError):
        gee_cscc.no_such_thing  # noqa: B018
