"""The record-length analysis of a run (docs/method.md §7), wired into both run modes.

:func:`record_length_parts` holds the Earth Engine side for :func:`gee_cscc.workflow.analyze.analyze`:
the region-sum bands (:func:`gee_cscc.method.record_length.record_length_stack`), added to
the interactive mode's one grouped reduction or exported as the batch table
``record_length``, and the per-cell jackknife maps ``cscc_jk_se`` and ``pcs_jk_se``
(:func:`gee_cscc.method.record_length.capacity_jackknife`), pulled with the other layers or
exported as the batch image ``record_length``. With ``capacity_sensitivity`` off every part
is empty and a run is unchanged. :func:`record_length_tables` turns the sums into the tables
(:mod:`gee_cscc.stats.record_length`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ee
import pandas as pd
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.config.units import NPP_UNITS
from gee_cscc.method.record_length import (
    RECORD_LENGTH_BANDS,
    RISING_YEARS,
    capacity_jackknife,
    record_length_stack,
)
from gee_cscc.stats.record_length import capacity_sensitivity, sensitivity_summary

__all__ = [
    "RECORD_LENGTH_TABLE",
    "RecordLengthParts",
    "record_length_parts",
    "record_length_tables",
]

#: The name of the batch table (``ROOT/tables/record_length``) and image (``ROOT/record_length``).
RECORD_LENGTH_TABLE = "record_length"

#: Units and long names of the per-cell layers.
_ATTRS = {
    "cscc_jk_se": (
        NPP_UNITS,
        "jackknife standard error of CSCC over years (leave one year out)",
    ),
    "pcs_jk_se": (
        NPP_UNITS,
        "jackknife standard error of the potential CSCC - NPP(last year) over years",
    ),
}


@dataclass(frozen=True)
class RecordLengthParts:
    """The expressions of the record-length analysis (all empty when it is off).

    Attributes
    ----------
    names
        The region-sum band names (``runmax_{year}``, ``jkdrop_{year}``, ``rising_m2``).
    image
        Their band stack (None when off).
    maps
        The per-cell image ``cscc_jk_se``, ``pcs_jk_se`` (None when off).
    """

    names: tuple[str, ...] = ()
    image: Any = None
    maps: Any = None
    bands: tuple[str, ...] = field(default=())

    @property
    def enabled(self) -> bool:
        return self.image is not None

    def with_stack(self, stack: Any) -> tuple[Any, list[str]]:
        """The zonal stack's image and names, with these bands added (one reduction)."""
        if not self.enabled:
            return stack.image, list(stack.names)
        return ee.Image.cat([stack.image, self.image]), [*stack.names, *self.names]

    @property
    def tables(self) -> dict[str, tuple[Any, list[str]]]:
        """The batch table export ``{name: (image, band names)}``."""
        return {RECORD_LENGTH_TABLE: (self.image, list(self.names))} if self.enabled else {}

    @property
    def images(self) -> dict[str, tuple[Any, tuple[str, ...]]]:
        """The batch image export ``{name: (image, bands)}``."""
        return {RECORD_LENGTH_TABLE: (self.maps, self.bands)} if self.enabled else {}

    @property
    def layers(self) -> dict[str, Any]:
        """The single-band layers pulled into ``Results.rasters``."""
        return {b: self.maps.select([b]) for b in self.bands} if self.enabled else {}

    def rasters(self, pulled: xr.Dataset) -> dict[str, xr.DataArray]:
        """The pulled per-cell layers with units and long names."""
        out = {}
        for b in self.bands if self.enabled else ():
            units, long_name = _ATTRS[b]
            out[b] = pulled[b].assign_attrs(units=units, long_name=long_name)
        return out


def record_length_parts(graph: Any, annual: Any, cfg: Config) -> RecordLengthParts:
    """The record-length expressions of a run, or empty parts when
    ``cfg.capacity_sensitivity`` is off."""
    if not cfg.capacity_sensitivity:
        return RecordLengthParts()
    stack = record_length_stack(graph, annual)
    return RecordLengthParts(
        names=tuple(stack.names),
        image=stack.image,
        maps=capacity_jackknife(graph, annual),
        bands=RECORD_LENGTH_BANDS,
    )


def record_length_tables(
    parts: RecordLengthParts,
    sums: pd.DataFrame | None,
    cap: pd.DataFrame,
    yearly_sums: pd.DataFrame,
    years: tuple[int, ...],
    order: list[int],
    label: dict,
    cfg: Config,
    all_id: int,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, dict | None]:
    """``capacity_sensitivity.csv``, ``capacity_stability.csv`` and run.json's
    ``summary.capacity_sensitivity`` from the grouped sums (all None when off)."""
    if not parts.enabled or sums is None:
        return None, None, None
    table, stability = capacity_sensitivity(
        sums[list(parts.names)], cap, yearly_sums, years, order, label, all_id
    )
    summary = sensitivity_summary(stability, cfg.all_label, years, rising_years=RISING_YEARS)
    return table, stability, summary
