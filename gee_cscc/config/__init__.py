"""The run configuration: every choice of docs/method.md, validated once, and run files.

- :class:`Config` (:mod:`~gee_cscc.config.settings`): the frozen, validated configuration.
- :func:`load_run_file` (:mod:`~gee_cscc.config.run_file`): a TOML run file → a
  :class:`Config` and its ``[inputs]``.
"""

from __future__ import annotations

from gee_cscc.config.run_file import INPUT_KEYS, load_run_file
from gee_cscc.config.settings import SECTIONS, Config
from gee_cscc.config.toml import tomllib

__all__ = ["INPUT_KEYS", "SECTIONS", "Config", "load_run_file", "tomllib"]
