"""Everything in ``gee_cscc.__all__`` resolves, and ``gee_cscc.viz`` is the map presets module."""

from __future__ import annotations

import importlib

import gee_cscc


def test_every_public_name_resolves():
    missing = [name for name in gee_cscc.__all__ if getattr(gee_cscc, name, None) is None]
    assert missing == []


def test_viz_is_the_report_presets_module():
    from gee_cscc import viz

    assert viz is importlib.import_module("gee_cscc.report.viz")
    assert gee_cscc.viz.add_to_map is viz.add_to_map
    assert viz.cscc_vis(500.0)["min"] == 0
