"""A run file: the configuration and, in an optional ``[inputs]`` section, the inputs.

``gee-cscc run --config run.toml`` and ``gee-cscc export --config run.toml`` read the same
file through :func:`load_run_file`: every section but ``[inputs]`` is a
:class:`~gee_cscc.config.Config` (see its TOML layout); ``[inputs]`` names the NPP, the
regions and where outputs go, with paths relative to the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gee_cscc.config.settings import Config
from gee_cscc.config.toml import tomllib
from gee_cscc.errors import ConfigError

__all__ = ["INPUT_KEYS", "load_run_file"]

#: Keys of a run file's ``[inputs]`` section.
INPUT_KEYS = (
    "npp",
    "regions",
    "region_names",
    "regions_layer",
    "out",
    "store",
    "counting",
    "extent",
    "mode",
)


def load_run_file(path: str | os.PathLike) -> tuple[Config, dict[str, Any]]:
    """The configuration and the ``[inputs]`` of a run file.

    Returns
    -------
    (Config, dict)
        The validated configuration, and the inputs with paths made relative to the file's
        folder (``out`` and ``store`` always; ``npp``, ``regions`` and ``region_names``
        when such a file exists there, otherwise they are asset ids and stay as written).
        A ``[products.NAME]`` table per NPP product of an ensemble (its ``npp`` and own
        settings, :mod:`gee_cscc.workflow.ensemble`) is returned as ``inputs["products"]``.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, has unknown ``[inputs]`` keys or an invalid field;
        the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    inputs = data.pop("inputs", {}) or {}
    products = data.pop("products", None)
    if not isinstance(inputs, dict):
        raise ConfigError(f"{path}: [inputs] must be a table (npp = ..., regions = ...).")
    unknown = set(inputs) - set(INPUT_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {sorted(unknown)} in [inputs]; known: {', '.join(INPUT_KEYS)}"
        )
    try:
        cfg = Config.from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {path})") from None
    inputs = _relative_to(path.parent, inputs)
    if products is not None:
        if not isinstance(products, dict):
            raise ConfigError(f"{path}: [products] must hold tables [products.NAME] (npp = ...).")
        inputs["products"] = {
            name: _relative_to(path.parent, table) if isinstance(table, dict) else table
            for name, table in products.items()
        }
    return cfg, inputs


def _relative_to(base: Path, inputs: dict[str, Any]) -> dict[str, Any]:
    out = dict(inputs)
    for key in ("out", "store"):
        if isinstance(out.get(key), str) and out[key].strip() and not Path(out[key]).is_absolute():
            out[key] = str(base / out[key])
    for key in ("npp", "regions", "region_names"):
        value = out.get(key)
        if isinstance(value, str) and not Path(value).is_absolute() and (base / value).exists():
            out[key] = str(base / value)
    return out
