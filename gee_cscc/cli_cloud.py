"""CLI verbs that act on Earth Engine assets: export, share, upload, annualize."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["add_parsers", "HANDLERS"]

HANDLERS: dict[str, Callable] = {}


def add_parsers(sub: argparse._SubParsersAction, add_common: Callable) -> None:
    """Add the cloud verbs to the ``gee-cscc`` parser."""
