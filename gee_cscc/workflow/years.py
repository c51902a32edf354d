"""The years of a run: ``start … end`` within the years the NPP input holds.

An NPP input (a file, a folder of ``*_YYYY.tif``, an asset or a collection) may hold more
years than a run asks for: the run then uses the years ``start … end`` only (the other
years are neither checked nor computed), and says so in one line. Years a user did not give
(not on the command line, not in the run file, not as an option of ``gee_cscc.analyze``)
are the input's first and last year. A run asking for a year the input does not hold is an
error naming the years it has. With a public product (``product = "modis-npp"``) the
product's years are the defaults instead.

The functions here take the input's years as a list: :func:`gee_cscc.workflow.inputs.input_years`
finds them (files, assets, collections) and applies these rules.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gee_cscc.config import Config
from gee_cscc.errors import ConfigError, InputError

__all__ = [
    "YEAR_FIELDS",
    "check_years",
    "infer_years",
    "years_note",
    "years_set_in",
    "years_to_infer",
    "years_text",
]

#: The fields taken from the input when not given.
YEAR_FIELDS = ("start", "end")


def years_text(years: Iterable[int]) -> str:
    """``1981–2018`` for consecutive years, else runs joined by commas (``1981–1990, 1995``)."""
    ordered = sorted(set(years))
    runs: list[list[int]] = []
    for year in ordered:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def check_years(available: Sequence[int], cfg: Config, what: str) -> tuple[int, ...]:
    """The run's years ``cfg.start … cfg.end``, each of which ``available`` must hold.

    Raises
    ------
    InputError
        A year of the run that the input does not hold; the message names the input, the
        missing years and the years it has.
    """
    have = set(available)
    missing = [y for y in cfg.years if y not in have]
    if missing:
        listed = missing if len(missing) <= 10 else years_text(missing)  # one short line
        raise InputError(
            f"Year {missing[0]} is missing from {what} (the run asks for every year "
            f"{cfg.start}–{cfg.end}; missing: {listed}); it has the years "
            f"{years_text(available)}: set start/end (--start/--end) within them."
        )
    return tuple(cfg.years)


def infer_years(available: Sequence[int], cfg: Config, infer: Collection[str], what: str) -> Config:
    """``cfg`` with the fields named in ``infer`` (``start``, ``end``) set to the input's
    first/last year.

    Raises
    ------
    ConfigError
        The years so found do not make a valid run (fewer than 3 years, or the reference
        year outside them); the message says where the years came from.
    """
    if not available or not infer:
        return cfg
    found = {"start": min(available), "end": max(available)}
    overrides = {k: found[k] for k in YEAR_FIELDS if k in infer}
    if all(getattr(cfg, k) == v for k, v in overrides.items()):
        return cfg
    try:
        return cfg.replace(**overrides)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (start/end taken from {what}, which has the years {years_text(available)}: "
            "set --start/--end and --reference, or start, end and reference_year)"
        ) from None


def years_note(
    available: Sequence[int], cfg: Config, infer: Collection[str], what: str
) -> str | None:
    """One line saying which years a run uses when they are not simply the ones asked for
    on an input holding exactly those (None then)."""
    used = years_text(cfg.years)
    if set(available) != set(cfg.years):
        return f"{what} has the years {years_text(available)}; the run uses {used} (start/end)"
    if infer:
        return f"years {used}: all the years of {what} (set start/end for fewer)"
    return None


def years_set_in(path: str | os.PathLike[str] | None) -> set[str]:
    """The year fields (``start``, ``end``) a run file sets, flat or under ``[years]``
    (an unreadable file: none; loading it reports why)."""
    if path is None:
        return set()
    from gee_cscc.config.toml import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    section = data.get("years")
    keys = set(data) | (set(section) if isinstance(section, Mapping) else set())
    return {k for k in YEAR_FIELDS if k in keys}


def years_to_infer(cfg: Config, config: Any, options: Collection[str]) -> tuple[str, ...]:
    """The year fields to take from the input: those neither among ``options`` (the
    command-line or keyword options given) nor set by ``config`` (a run file: the keys it
    sets; a :class:`Config`: the fields that differ from the defaults); none when the run
    (``cfg``, the final configuration) reads a public product, whose years are the defaults.
    """
    if cfg.product is not None:
        return ()
    if isinstance(config, Config):
        default = Config()
        given = {k for k in YEAR_FIELDS if getattr(config, k) != getattr(default, k)}
    else:
        given = years_set_in(config)
    return tuple(k for k in YEAR_FIELDS if k not in given and k not in options)
