"""Maintenance counts from pulled surfaces, a strip of rows at a time (docs/method.md §4).

The surfaces may be in memory or read lazily from a run's scratch folder
(:mod:`gee_cscc.workflow.scratch_layers`): either way only one strip of rows of every year
is in memory at once, so counting does not grow with the grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from gee_cscc.stats.run_tables import ALL_ID

__all__ = ["count_maintenance"]


def count_maintenance(
    surfaces: xr.DataArray, region: xr.DataArray | np.ndarray, ids: Sequence[int]
) -> pd.DataFrame:
    """Count maintained cells per region and year from pulled rasters (docs/method.md §4).

    Parameters
    ----------
    surfaces
        Maintenance surfaces ``P`` with dims ``(year, y, x)``; NaN outside the VCA.
    region
        Region ids ``(y, x)``, 0 (or NaN) outside every region; read a strip of rows at a
        time, like ``surfaces`` (lazily read layers stay on disk).
    ids
        The region ids to report (ids ≥ 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``region_id, year, n_pos, n_neg``; :data:`ALL_ID` rows count the whole area.
    """
    years = [int(y) for y in surfaces["year"].values]
    ny = int(surfaces.shape[-2])
    n_ids = int(max([0, *ids])) + 1
    pos_counts = np.zeros((len(years), n_ids), dtype=np.int64)
    neg_counts = np.zeros((len(years), n_ids), dtype=np.int64)
    pos_total = np.zeros(len(years), dtype=np.int64)
    neg_total = np.zeros(len(years), dtype=np.int64)
    width = max(1, int(surfaces.shape[-1]))
    step = max(1, _COUNT_STRIP_CELLS // (width * max(1, len(years))))
    for r0 in range(0, ny, step):  # a strip of rows of every year at a time
        r1 = min(ny, r0 + step)
        reg = _region_rows(region, r0, r1)
        if reg.size and int(reg.max()) >= n_ids:
            grow = int(reg.max()) + 1 - n_ids
            pos_counts = np.pad(pos_counts, ((0, 0), (0, grow)))
            neg_counts = np.pad(neg_counts, ((0, 0), (0, grow)))
            n_ids += grow
        strip = np.asarray(surfaces.isel({surfaces.dims[-2]: slice(r0, r1)}).values)
        for i, p in enumerate(strip):
            pos = p == 1
            neg = p == -1
            pos_counts[i] += np.bincount(reg[pos], minlength=n_ids)
            neg_counts[i] += np.bincount(reg[neg], minlength=n_ids)
            pos_total[i] += int(pos.sum())
            neg_total[i] += int(neg.sum())
    rows = []
    for i, year in enumerate(years):
        rows.append((ALL_ID, year, int(pos_total[i]), int(neg_total[i])))
        for rid in ids:
            rows.append((int(rid), year, int(pos_counts[i, rid]), int(neg_counts[i, rid])))
    return pd.DataFrame(rows, columns=["region_id", "year", "n_pos", "n_neg"])


#: Cells (all years together) of one strip of :func:`count_maintenance` (64 MiB float32).
_COUNT_STRIP_CELLS = 1 << 24


def _region_rows(region: xr.DataArray | np.ndarray, r0: int, r1: int) -> np.ndarray:
    """Rows ``r0:r1`` of the region ids as int64, 0 for NaN and negative ids."""
    if isinstance(region, xr.DataArray):
        rows = np.asarray(region.isel({region.dims[-2]: slice(r0, r1)}).values)
    else:
        rows = np.asarray(region)[r0:r1]
    if rows.dtype.kind == "f":
        rows = np.nan_to_num(rows, nan=0.0)
    rows = rows.astype(np.int64)
    return np.where(rows < 0, 0, rows)
