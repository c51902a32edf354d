"""docs/method.md §0: annual NPP from an 8-day composite product, as Earth Engine expressions.

Each composite holds a daily-mean rate for the days it covers, from its start day to the day
before the next composite of the same year; the last composite of a year runs to 31 December
(5 days, or 6 in a leap year, in the 46-composite MuSyQ/GLASS layout). Annual NPP is the sum
over the composites of rate × days covered, which equals the paper's "monthly mean weighted
by days, summed over months". A product that stores a per-composite total instead of a rate
(``composite_unit="per_composite"``) is summed as it is.

The pixel work is server-side (``ee.ImageCollection`` expressions); only the composite
dates are read client-side, once, to check the layout (:func:`check_composite_layout`) and
to learn the years.
"""

from __future__ import annotations

import collections
import datetime as _dt
from collections.abc import Sequence
from typing import Any

import ee

from gee_cscc.errors import InputError

__all__ = [
    "COMPOSITE_UNITS",
    "DAY_MILLIS",
    "annual_npp",
    "annualize",
    "check_composite_layout",
    "composite_days",
]

#: Milliseconds in a day (composite dates are UTC, so every day has this many).
DAY_MILLIS = 86_400_000
COMPOSITE_UNITS = ("per_day", "per_composite")


def _year_bounds(year: Any) -> tuple[Any, Any]:
    start = ee.Date.fromYMD(year, 1, 1)
    return start, start.advance(1, "year")


def composite_days(composites: Any, year: int) -> Any:
    """The composites of one calendar year, each with the days it covers.

    Parameters
    ----------
    composites
        ``ee.ImageCollection`` of composites, each with ``system:time_start`` (its first day,
        UTC).
    year
        The calendar year.

    Returns
    -------
    ee.ImageCollection
        The year's composites sorted by start, each with the property ``days``: the days
        from its start to the next composite's start, or to 1 January of the next year for
        the last one (docs/method.md §0).
    """
    start, end = _year_bounds(year)
    col = ee.ImageCollection(composites).filterDate(start, end).sort("system:time_start")
    starts = ee.List(col.aggregate_array("system:time_start"))
    ends = starts.slice(1).add(end.millis())
    n = starts.size()
    images = col.toList(n)

    def with_days(i: Any) -> Any:
        i = ee.Number(i)
        days = ee.Number(ends.get(i)).subtract(ee.Number(starts.get(i))).divide(DAY_MILLIS)
        return ee.Image(images.get(i)).set("days", days)

    return ee.ImageCollection.fromImages(ee.List.sequence(0, n.subtract(1)).map(with_days))


def annual_npp(
    composites: Any,
    year: int,
    *,
    band: str = "npp",
    composite_unit: str = "per_day",
    scale_factor: float = 1.0,
    offset: float = 0.0,
    allow_gaps: bool = False,
) -> Any:
    """Annual NPP of one year from 8-day composites (docs/method.md §0).

    ``NPP_year[p] = Σ_i v_i[p] · d_i`` for ``per_day`` composites (``v_i`` a daily rate,
    g C m⁻² d⁻¹; ``d_i`` the days composite ``i`` covers), or ``Σ_i v_i[p]`` for
    ``per_composite`` totals (g C m⁻² per composite), where ``v = stored × scale_factor +
    offset``.

    Parameters
    ----------
    composites
        ``ee.ImageCollection`` of composites with ``system:time_start`` and the band ``band``.
    year
        The calendar year (UTC).
    band
        The NPP band of the composites; also the output band's name.
    composite_unit
        ``"per_day"`` (a daily-mean rate) or ``"per_composite"`` (a total per composite).
    scale_factor, offset
        Convert the stored composite values to g C m⁻² d⁻¹ (per_day) or g C m⁻² (per_composite).
    allow_gaps
        False (default): a cell masked in any composite of the year is masked in the annual
        image (its annual sum is unknown). True: sum the composites that are present.

    Returns
    -------
    ee.Image
        Band ``band`` (g C m⁻² yr⁻¹, double) with properties ``year``, ``composites`` (the
        number of composites), ``system:time_start`` (1 January, UTC), ``system:time_end``
        (1 January of the next year) and ``system:index`` (the year as text). A composite
        image: no fixed projection, export it on the input's grid.
    """
    if composite_unit not in COMPOSITE_UNITS:
        raise InputError(
            f"composite_unit must be one of {COMPOSITE_UNITS}, got {composite_unit!r}."
        )
    year = int(year)
    start, end = _year_bounds(year)
    parts = composite_days(composites, year)
    n = parts.size()

    def weighted(img: Any) -> Any:
        img = ee.Image(img)
        value = img.select([band]).toDouble()
        if scale_factor != 1.0:
            value = value.multiply(float(scale_factor))
        if offset != 0.0:
            value = value.add(float(offset))
        if composite_unit == "per_day":
            value = value.multiply(ee.Number(img.get("days")))
        return value.rename(band)

    values = parts.map(weighted)
    total = values.reduce(ee.Reducer.sum()).rename(band)
    if not allow_gaps:
        total = total.updateMask(values.reduce(ee.Reducer.count()).eq(n))
    return total.set(
        {
            "year": year,
            "composites": n,
            "system:time_start": start.millis(),
            "system:time_end": end.millis(),
            "system:index": str(year),
        }
    )


def check_composite_layout(
    composites: Any,
    years: Sequence[int] | None = None,
    *,
    allow_gaps: bool = False,
    composite_unit: str = "per_day",
) -> dict[int, int]:
    """Check the composites' dates client-side (one ``getInfo``) before annualizing.

    Parameters
    ----------
    composites
        ``ee.ImageCollection`` of composites with ``system:time_start``.
    years
        The years to check; None: every year that has a composite.
    allow_gaps
        Accept missing composites (see Raises): a ``per_day`` rate then covers the days up
        to the next composite's start, and ``per_composite`` totals sum what is there.
    composite_unit
        ``"per_day"`` or ``"per_composite"``: what the message says a missing composite does.

    Returns
    -------
    dict[int, int]
        The number of composites of each year.

    Raises
    ------
    InputError
        A composite without ``system:time_start``; a year with no composite; two composites
        starting on the same day; a year whose first composite does not start on 1 January
        (its first days would be missing from the sum); without ``allow_gaps``, a missing
        composite: a year whose composites start further apart than their usual step (the
        most common interval of that year, 8 days in the MuSyQ/GLASS layout), or whose last
        composite starts more than a step before 31 December. A composite missing whole is
        every cell missing in it, which the default (``allow_gaps`` False) masks; left in,
        a ``per_day`` rate would silently stand for the missing days and ``per_composite``
        totals would leave them out. The message names the year and the days.
    """
    times = ee.ImageCollection(composites).aggregate_array("system:time_start").getInfo()
    by_year: dict[int, list[_dt.datetime]] = {}
    for t in times or []:
        if t is None:
            raise InputError("A composite has no system:time_start.")
        day = _dt.datetime.fromtimestamp(float(t) / 1000.0, tz=_dt.timezone.utc)
        by_year.setdefault(day.year, []).append(day)
    wanted = sorted(by_year) if years is None else [int(y) for y in years]
    if not wanted:
        raise InputError("The composite collection is empty.")
    counts = {}
    for year in wanted:
        days = sorted(by_year.get(year, []))
        if not days:
            raise InputError(f"Year {year}: no composite.")
        seen = set()
        for d in days:
            if d in seen:
                raise InputError(f"Year {year}: two composites start on {d:%Y-%m-%d}.")
            seen.add(d)
        if (days[0].month, days[0].day) != (1, 1):
            raise InputError(
                f"Year {year}: the first composite starts on {days[0]:%Y-%m-%d}, not on "
                "1 January; the annual sum would miss the days before it."
            )
        if not allow_gaps:
            _check_no_missing_composite(year, days, composite_unit)
        counts[year] = len(days)
    return counts


def _check_no_missing_composite(year: int, days: list[_dt.datetime], unit: str) -> None:
    """Raise when a composite of ``year`` is missing (see :func:`check_composite_layout`)."""
    if len(days) < 2:
        return  # no interval to tell the step from
    gaps = [(b - a).total_seconds() / 86400.0 for a, b in zip(days, days[1:], strict=False)]
    counted = collections.Counter(round(g, 6) for g in gaps)
    step = min(g for g, n in counted.items() if n == max(counted.values()))
    starts = [*days, _dt.datetime(year + 1, 1, 1, tzinfo=_dt.timezone.utc)]
    for a, b in zip(starts, starts[1:], strict=False):
        if (b - a).total_seconds() / 86400.0 > step + 1e-6:
            first = a + _dt.timedelta(days=step)
            last = b - _dt.timedelta(days=1)
            does = (
                f"the rate of the {a:%Y-%m-%d} composite would stand for those days"
                if unit == "per_day"
                else "the annual sum would leave those days out"
            )
            raise InputError(
                f"Year {year}: no composite covers {first:%Y-%m-%d} to {last:%Y-%m-%d} "
                f"(the composites of {year} start every {step:g} days): {does}. Add the "
                "missing composite, or accept the gap with --allow-gaps (allow_gaps=True)."
            )


def annualize(
    composites: Any,
    years: Sequence[int] | None = None,
    *,
    band: str = "npp",
    composite_unit: str = "per_day",
    scale_factor: float = 1.0,
    offset: float = 0.0,
    allow_gaps: bool = False,
    validate: bool = True,
) -> Any:
    """Annual NPP for every year of an 8-day product (docs/method.md §0), server-side.

    Parameters
    ----------
    composites
        ``ee.ImageCollection`` of 8-day composites (``system:time_start``, band ``band``).
    years
        The years to compute; None: every year with a composite (read client-side).
    band, composite_unit, scale_factor, offset, allow_gaps
        As in :func:`annual_npp`.
    validate
        Check the composite layout first (:func:`check_composite_layout`).

    Returns
    -------
    ee.ImageCollection
        One image per year (see :func:`annual_npp`), sorted by year: the input the method
        expects (band ``band``, property ``year``, ``system:time_start``).
    """
    if composite_unit not in COMPOSITE_UNITS:
        raise InputError(
            f"composite_unit must be one of {COMPOSITE_UNITS}, got {composite_unit!r}."
        )
    if validate or years is None:
        counts = check_composite_layout(
            composites, years, allow_gaps=allow_gaps, composite_unit=composite_unit
        )
        years = sorted(counts)
    images = [
        annual_npp(
            composites,
            y,
            band=band,
            composite_unit=composite_unit,
            scale_factor=scale_factor,
            offset=offset,
            allow_gaps=allow_gaps,
        )
        for y in sorted(int(y) for y in years)
    ]
    return ee.ImageCollection.fromImages(images)
