"""The ``gee-cscc`` command line: argument parsing and printing only.

One module per group of verbs: :mod:`~gee_cscc.cli.main` (``demo``, ``run``, ``serve``,
``versions`` and the entry point), :mod:`~gee_cscc.cli.cloud` (the cloud verbs' options),
:mod:`~gee_cscc.cli.export` (``export``, ``annualize``), :mod:`~gee_cscc.cli.assets`
(``share``, ``upload``) and :mod:`~gee_cscc.cli.common` (what they share). The work itself
is done by :mod:`gee_cscc.workflow` and :mod:`gee_cscc.cloud`.
"""

from __future__ import annotations

from gee_cscc.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
