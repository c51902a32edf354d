"""A run's Earth Engine errors reach the user as gee_cscc's own error types."""

from __future__ import annotations

import pytest

from gee_cscc import errors
from gee_cscc.config import Config
from gee_cscc.workflow.analyze import analyze


def test_analyze_reports_engine_errors_as_gee_cscc_errors(engine):
    with pytest.raises(errors.InputError, match="not found"):
        analyze("projects/local-project/assets/no/such/collection", Config())
