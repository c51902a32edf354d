"""The NPP value checks of a local input (docs/method.md §0–§1), a block of rows at a time.

:func:`check_npp_blocks` refuses NPP that would give a wrong answer, reading the input one
block of rows at a time and, within a block, one year at a time: only that block's per-cell
sums are kept, so the memory is a few blocks, whatever the grid (issue 11).
:func:`check_npp_values` is the same check on whole ``(y, x)`` slices, one per year.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gee_cscc.errors import InputError

__all__ = ["CHECK_BLOCK_CELLS", "check_npp_blocks", "check_npp_values", "file_rows", "row_blocks"]

#: Cells of a block of rows (at least one row) when a local NPP input's values are checked:
#: each temporary of the check is then 8 MB (float64), whatever the grid.
CHECK_BLOCK_CELLS = 1 << 20


def row_blocks(ny: int, nx: int, chunk_rows: int | None = None) -> list[slice]:
    """Bands of rows covering a ``ny`` x ``nx`` grid, about :data:`CHECK_BLOCK_CELLS` cells
    each. With ``chunk_rows`` (the file's own blocks of rows: a chunked NetCDF/Zarr, a tiled
    GeoTIFF) each band is a whole number of them, so no stored block is decoded twice."""
    rows = max(1, CHECK_BLOCK_CELLS // max(nx, 1))
    if chunk_rows:
        rows = max(chunk_rows, rows // chunk_rows * chunk_rows)
    return [slice(r, min(r + rows, ny)) for r in range(0, ny, rows)]


def file_rows(da: Any) -> int | None:
    """The rows of one stored block of a lazily opened array (its encoding's chunks along
    ``y``/``lat``/``latitude``), or None (contiguous, or unknown)."""
    chunks = dict(da.encoding.get("preferred_chunks") or {})
    sizes = da.encoding.get("chunksizes")
    if not chunks and sizes is not None and len(sizes) == da.ndim:
        chunks = dict(zip(da.dims, sizes, strict=True))
    for name in ("y", "lat", "latitude"):
        if chunks.get(name):
            return int(chunks[name])
    return None


def check_npp_values(
    values: Iterable[Any],
    years: list[int],
    what: str,
    *,
    max_abs_npp: float,
    vca_min_mean: float,
) -> None:
    """Refuse NPP that would give a wrong answer (docs/method.md §0–§1), one message each.

    Parameters
    ----------
    values
        NPP in g C m⁻² yr⁻¹ (after scale_factor/offset), one ``(y, x)`` slice per year: a
        ``(year, y, x)`` array or any iterable of slices (read one year at a time, only
        per-cell sums are kept); NaN = masked.
    years
        The year of each slice.
    what
        How messages name the input.
    max_abs_npp
        |NPP| above this (g C m⁻² yr⁻¹, ±inf included) is implausible.
    vca_min_mean
        A vegetated cell has a mean NPP above this (g C m⁻² yr⁻¹).
    """
    check_npp_blocks([values], years, what, max_abs_npp=max_abs_npp, vca_min_mean=vca_min_mean)


def check_npp_blocks(
    blocks: Iterable[Iterable[Any]],
    years: list[int],
    what: str,
    *,
    max_abs_npp: float,
    vca_min_mean: float,
) -> None:
    """:func:`check_npp_values` on blocks of cells: ``blocks`` gives, for each block of the
    grid (e.g. a band of rows), its values of every year in the order of ``years``. Every
    cell is in one block. The messages are those of the whole grid at once."""
    n = len(years)
    per_year = np.zeros(n, dtype=np.int64)
    bad_per_year = np.zeros(n, dtype=np.int64)
    worst = np.zeros(n)
    full = False  # a cell valid in every year
    highest = -np.inf  # the highest mean NPP over the years of such a cell
    for block in blocks:
        every_year: np.ndarray | None = None
        total: np.ndarray | None = None
        for i, year_values in enumerate(block):
            v = np.asarray(year_values, dtype=np.float64)
            present = ~np.isnan(v)
            per_year[i] += np.count_nonzero(present)
            bad = present & ~(np.abs(v) <= max_abs_npp)
            n_bad = np.count_nonzero(bad)
            bad_per_year[i] += n_bad
            if n_bad:
                worst[i] = max(worst[i], float(np.max(np.abs(v[bad]))))
            every_year = present if every_year is None else every_year & present
            if total is None:
                total = v.copy()
            else:
                total += v  # NaN where a year is missing
        if every_year is not None and total is not None and every_year.any():
            full = True
            highest = max(highest, float((total[every_year] / n).max()))
    if not per_year.any():
        raise InputError(
            f"{what} has no valid value in any year (every cell is masked or NaN): check the "
            "variable, the band and the fill value."
        )
    empty = [y for y, k in zip(years, per_year, strict=True) if k == 0]
    if empty:
        raise InputError(
            f"NPP year {empty[0]} of {what} has no valid cell (every value is masked or NaN)"
            f"{'; so have ' + str(empty[1:]) if len(empty) > 1 else ''}: the run needs every "
            "year; fix the year or leave it out with start/end."
        )
    if bad_per_year.any():
        i = int(np.flatnonzero(bad_per_year)[0])
        n_years = int(np.count_nonzero(bad_per_year))
        raise InputError(
            f"NPP year {years[i]} of {what} has {int(bad_per_year[i])} cell(s) with |NPP| > "
            f"{max_abs_npp:g} g C m-2 yr-1 (largest {worst[i]:g}; {n_years} year(s) affected): "
            "declare the fill value (_FillValue / nodata) or fix scale_factor; if the values "
            "are real, raise max_abs_npp under [input]."
        )
    if not full:
        raise InputError(
            f"No cell of {what} has a valid value in every year (the method needs a full "
            "series per cell): check the fill values and the years."
        )
    if not highest > vca_min_mean:
        raise InputError(
            f"No vegetated cell in {what}: the mean NPP over the years is <= {vca_min_mean:g} "
            f"g C m-2 yr-1 in every cell (highest mean {highest:g}); check the "
            "sign, scale_factor and offset."
        )
