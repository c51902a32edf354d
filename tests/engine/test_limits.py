"""``Limits``: Google's documented interactive limits by default, scaled or set one by one,
and the ``limits=`` knob of ``LocalEngine``, ``workflow.engines`` and ``gee-cscc serve``."""

from __future__ import annotations

import dataclasses

import pytest

from gee_cscc.cli.main import main
from gee_cscc.engine import LocalEngine
from gee_cscc.engine.limits import GOOGLE, Limits
from gee_cscc.errors import InputError
from gee_cscc.workflow.engines import local_engine


def test_defaults_are_googles_documented_limits():
    # Earth Engine docs: 5-minute interactive requests, 40 concurrent requests, computePixels
    # at most 48 MB and 32768 px a side, reduceRegion maxPixels 1e7, 10 MiB request payload.
    assert GOOGLE == Limits()
    assert GOOGLE.compute_seconds == 5 * 60
    assert GOOGLE.concurrent_requests == 40
    assert GOOGLE.pixels_bytes == 50_331_648
    assert GOOGLE.pixels_side == 32_768
    assert GOOGLE.max_pixels == 10_000_000
    assert GOOGLE.request_bytes == 10_485_760


def test_scaled_multiplies_the_work_limits_and_keeps_the_read_timeout():
    small = GOOGLE.scaled(0.01)
    assert small.compute_seconds == pytest.approx(3.0)
    assert small.concurrent_requests == 1  # 0.4 rounds to 0: at least 1
    assert small.pixels_bytes == round(50_331_648 * 0.01)
    assert small.pixels_side == round(32_768 * 0.01)
    assert small.max_pixels == 100_000
    assert small.read_seconds == GOOGLE.read_seconds
    assert isinstance(small.pixels_bytes, int) and isinstance(small.compute_seconds, float)
    with pytest.raises(ValueError, match="must be positive"):
        GOOGLE.scaled(0)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", {}),
        (
            "scale=0.5",
            {"compute_seconds": 150.0, "concurrent_requests": 20, "max_pixels": 5_000_000},
        ),
        ("compute_seconds=2", {"compute_seconds": 2.0, "max_pixels": 10_000_000}),
        ("scale=0.01, compute_seconds=2", {"compute_seconds": 2.0, "max_pixels": 100_000}),
        ("max_pixels=1e6,read_seconds=0.5", {"max_pixels": 1_000_000, "read_seconds": 0.5}),
    ],
)
def test_parse(text, expected):
    limits = Limits.parse(text)
    for name, value in expected.items():
        assert getattr(limits, name) == value
    assert Limits.of(text) == limits


@pytest.mark.parametrize(
    "text,message",
    [
        ("speed=2", "limits: unknown limit 'speed' (known: scale, compute_seconds"),
        ("max_pixels=lots", "limits: max_pixels must be a number, got 'lots'"),
        ("compute_seconds", "limits: expected name=value, got 'compute_seconds'"),
        ("compute_seconds=-1", "limit compute_seconds must be a positive number, got -1.0"),
        ("scale=0", "the scale of the limits must be positive, got 0.0"),
    ],
)
def test_parse_errors_name_the_limit(text, message):
    with pytest.raises(ValueError) as info:
        Limits.parse(text)
    assert str(info.value).startswith(message)


def test_of_accepts_limits_text_mappings_and_none():
    custom = dataclasses.replace(GOOGLE, max_pixels=5)
    assert Limits.of(None) == GOOGLE
    assert Limits.of(custom) is custom
    assert Limits.of({"max_pixels": 5}) == custom
    with pytest.raises(TypeError, match="expected Limits"):
        Limits.of(5)


def test_the_knob_reaches_the_engine(tmp_path):
    engine = LocalEngine(tmp_path / "a", initialize=False, limits="scale=0.01")
    assert engine.limits == GOOGLE.scaled(0.01)
    with engine:
        assert engine.server.limits == engine.limits
    assert LocalEngine(tmp_path / "b", initialize=False).limits == GOOGLE
    via_workflow = local_engine(tmp_path / "c", initialize=False, limits="compute_seconds=7")
    assert via_workflow.limits.compute_seconds == 7.0
    with pytest.raises(InputError, match="--limits: limits: unknown limit 'bogus'"):
        local_engine(tmp_path / "d", initialize=False, limits="bogus=1")


def test_serve_refuses_bad_limits_in_one_line(tmp_path, capsys):
    assert main(["serve", "--store", str(tmp_path / "s"), "--limits", "max_pixels=many"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "gee-cscc serve: error: --limits: limits: max_pixels must be a number, got 'many'"
    ]
