"""Validators of :class:`~gee_cscc.config.Config` fields.

Each takes the field's name and the value given and returns the value in its canonical
type, or raises :class:`~gee_cscc.errors.ConfigError` with a message that starts with the
field's name and says what is allowed.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gee_cscc.errors import ConfigError

__all__ = [
    "CSR_GRADE_CODES",
    "EXTENTS",
    "CSR_KERNELS",
    "EXTRA_SECTIONS",
    "ExtraFields",
    "FIGURE_FORMATS",
    "FIGURE_STYLES",
    "PRESENTATION_FIELDS",
    "boolean",
    "choice",
    "crs_transform",
    "csr_fields",
    "csr_radius",
    "csr_radius_parts",
    "evaluation_years",
    "extent",
    "figure_formats",
    "identifier",
    "integer",
    "number",
    "pcs_years",
    "product",
    "sequence",
    "text",
    "thresholds",
    "valid_range",
    "validate_extra",
]

#: The named extents of the analysis grid (besides a W, S, E, N box).
EXTENTS = ("auto", "input", "regions")


def integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name}: {value!r} ({type(value).__name__}) is not an integer")
    return int(value)


def number(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name}: {value!r} ({type(value).__name__}) is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{name}: {value!r} is not a finite number")
    if positive and number <= 0.0:
        raise ConfigError(f"{name}: {value!r} must be > 0")
    return number


def text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: {value!r} is not a non-empty string")
    return value


def identifier(name: str, value: Any, what: str) -> str:
    found = text(name, value)
    if any(char.isspace() for char in found):
        raise ConfigError(f"{name}: {value!r} is not a valid {what} (it contains whitespace)")
    return found


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise ConfigError(f"{name}: {value!r} is not one of {options}")
    return value


def sequence(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(f"{name}: {value!r} is not a list")
    return list(value)


#: The integer codes of the CSR grades (``csr_grade`` rasters and bands, the region grade
#: layer of the map presets): 0 where RS is undefined ("none"), then weakest to strongest
#: (docs/method.md §5). The one table: method, stats and report read it from here.
CSR_GRADE_CODES: dict[int, str] = {
    0: "none",
    1: "weaker",
    2: "weak",
    3: "strong",
    4: "stronger",
    5: "extremely strong",
}


def thresholds(value: Any) -> tuple[float, float, float, float]:
    items = sequence("grade_thresholds", value)
    numbers_ = tuple(number(f"grade_thresholds[{i}]", item) for i, item in enumerate(items))
    if len(numbers_) != 4 or any(a <= b for a, b in itertools.pairwise(numbers_)):
        raise ConfigError(
            f"grade_thresholds: {value!r} must be 4 numbers in strictly decreasing order "
            "(RS bounds of extremely strong, stronger, strong, weak; default "
            "500, 100, 0, -100 years)"
        )
    return numbers_  # type: ignore[return-value]


def product(name: Any) -> Any:
    from gee_cscc.config.products import PRODUCTS

    if not isinstance(name, str) or name not in PRODUCTS:
        raise ConfigError(f"product: {name!r} is not one of {', '.join(repr(p) for p in PRODUCTS)}")
    return PRODUCTS[name]


def valid_range(value: Any) -> tuple[float, float]:
    items = sequence("valid_range", value)
    if len(items) != 2:
        raise ConfigError(f"valid_range: {value!r} must be [low, high] (stored values)")
    low, high = (number(f"valid_range[{i}]", v) for i, v in enumerate(items))
    if low > high:
        raise ConfigError(f"valid_range: low {low:g} is above high {high:g}")
    return (low, high)


def crs_transform(value: Any) -> tuple[float, ...]:
    items = sequence("crs_transform", value)
    if len(items) != 6:
        raise ConfigError(
            f"crs_transform: {value!r} must be 6 numbers [xScale, xShear, xOrigin, yShear, "
            "yScale, yOrigin]"
        )
    t = tuple(number(f"crs_transform[{i}]", v) for i, v in enumerate(items))
    if t[0] * t[4] - t[1] * t[3] == 0:
        raise ConfigError(f"crs_transform: {value!r} is singular (pixels of no size)")
    return t


def extent(value: Any) -> str | tuple[float, float, float, float]:
    """``"auto"``, ``"input"``, ``"regions"``, or a ``(W, S, E, N)`` box in degrees (also
    given as the text ``"W,S,E,N"``)."""
    if isinstance(value, str) and value.strip().lower() in EXTENTS:
        return value.strip().lower()
    items: Any = value
    if isinstance(value, str):
        items = [v for v in value.replace(" ", "").split(",") if v]
        try:
            items = [float(v) for v in items]
        except ValueError:
            items = None
    if not isinstance(items, (list, tuple)) or len(items) != 4:
        raise ConfigError(
            f"extent: {value!r} is not 'auto', 'input', 'regions' or W,S,E,N (degrees)"
        )
    w, s, e, n = (number(f"extent[{i}]", v) for i, v in enumerate(items))
    if not (-180.0 <= w < e <= 180.0 and -90.0 <= s < n <= 90.0):
        raise ConfigError(
            f"extent: {value!r} must be W,S,E,N with -180 <= W < E <= 180 and -90 <= S < N <= 90"
        )
    return (w, s, e, n)


def pcs_years(value: Any, start: int, end: int) -> tuple[int, ...]:
    years = [integer("pcs_years", item) for item in sequence("pcs_years", value)]
    for year in years:
        if not start <= year <= end:
            raise ConfigError(f"pcs_years: {year} is outside the run years {start} … {end}")
    if len(set(years)) != len(years):
        raise ConfigError(f"pcs_years: {value!r} lists a year twice")
    return tuple(sorted(years))


def evaluation_years(years: Iterable[Any], reference_year: int) -> list[int]:
    """``t', t'+1, …, tN``: the years of ``years`` from the reference year on, at which the
    maintenance surfaces are evaluated (docs/method.md §4). The one definition, used by
    :attr:`Config.evaluation_years <gee_cscc.config.Config.evaluation_years>` and
    :mod:`gee_cscc.method`."""
    return [int(y) for y in years if int(y) >= reference_year]


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} ({type(value).__name__}) is not true or false")
    return value


#: The TOML sections of the fields of :class:`ExtraFields`, in the order ``to_toml`` writes.
EXTRA_SECTIONS: dict[str, tuple[str, ...]] = {
    "sensitivity": ("capacity_sensitivity",),
    "csr": ("csr_pixel", "csr_kernel", "csr_min_cells"),
    "figures": ("figure_format", "dpi", "figure_style"),
}
#: The figure file formats (``figure_format``) and styles (``figure_style``).
FIGURE_FORMATS = ("png", "svg", "pdf")
FIGURE_STYLES = ("report", "paper")
#: Fields that change how the outputs look, not a value: left out of the run identity.
PRESENTATION_FIELDS = ("figure_format", "dpi", "figure_style")


@dataclass(frozen=True, kw_only=True)
class ExtraFields:
    """The fields of the analyses beyond the paper (docs/method.md §7), all off by default so
    the paper's run is unchanged. :class:`~gee_cscc.config.Config` inherits them.

    Parameters
    ----------
    capacity_sensitivity : bool
        Compute how far the capacity can be trusted with this record length (docs/method.md §7):
        the running maximum per year, the year the capacity stopped rising, the jackknife
        over years and the share of the VCA whose CSCC was set in the last 5 years
        (``tables/capacity_sensitivity.csv``). Default False.
    csr_pixel : str or None
        Pixel-scale carbon sink resilience (docs/method.md §7) with a neighbourhood of this
        radius: ``"50km"`` (cell centres within 50 km on the WGS84 ellipsoid) or
        ``"5cells"`` (grid cells); None (default) computes none.
    csr_kernel : {"circle", "square"}
        The neighbourhood's shape (a square of half-width the radius); default circle.
    csr_min_cells : int
        The fewest kept cells of a sign at t' in a cell's neighbourhood for its τ of that
        sign (fewer: masked); >= 1, default 10.

    figure_format : tuple of str
        The figure files' formats, any of ``"png"``, ``"svg"``, ``"pdf"`` (also the text
        ``"png,pdf"``); default ``("png",)``. The report embeds the PNG (drawn as well
        when not asked for, beside the others).
    dpi : int
        Resolution of the PNG files and of the maps' raster layers inside SVG/PDF, dots per
        inch, 10–1200; default 150 (300 for print).
    figure_style : {"report", "paper"}
        ``"paper"`` leaves the titles out of the figures (the captions carry them, as a
        journal's figures); ``"report"`` (default) draws them in.
    """

    capacity_sensitivity: bool = False
    csr_pixel: str | None = None
    csr_kernel: str = "circle"
    csr_min_cells: int = 10
    figure_format: tuple[str, ...] = ("png",)
    dpi: int = 150
    figure_style: str = "report"


def validate_extra(cfg: Any, put: Callable[[str, Any], None]) -> None:
    """Validate the fields of :class:`ExtraFields` of ``cfg`` (``put`` stores a value)."""
    put("capacity_sensitivity", boolean("capacity_sensitivity", cfg.capacity_sensitivity))
    csr_fields(cfg, put)
    put("figure_format", figure_formats(cfg.figure_format))
    dpi = integer("dpi", cfg.dpi)
    if not 10 <= dpi <= 1200:
        raise ConfigError(f"dpi: {dpi} must be 10 … 1200 (dots per inch; 150 screen, 300 print)")
    put("dpi", dpi)
    put("figure_style", choice("figure_style", cfg.figure_style, FIGURE_STYLES))


def figure_formats(value: Any) -> tuple[str, ...]:
    """``"png,pdf"`` or ``["png", "pdf"]`` → ``("png", "pdf")`` (lower case, no repeats)."""
    items = value.split(",") if isinstance(value, str) else sequence("figure_format", value)
    out: list[str] = []
    for item in items:
        name = str(item).strip().lower().lstrip(".")
        if name not in FIGURE_FORMATS:
            raise ConfigError(
                f"figure_format: {item!r} is not one of {', '.join(FIGURE_FORMATS)} "
                "(several with commas, e.g. png,pdf)"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("figure_format: empty; give png, svg or pdf (e.g. png,pdf)")
    return tuple(out)


#: The shapes of the pixel-CSR neighbourhood (docs/method.md §7).
CSR_KERNELS = ("circle", "square")


def csr_radius(value: Any) -> str:
    """The pixel-CSR radius as ``"<number>km"`` or ``"<integer>cells"`` (docs/method.md §7).

    Accepts ``"50km"``, ``"50 km"``, ``"5cells"``, ``"5 cell"``; returns the canonical text
    (``"50km"``, ``"5cells"``). :func:`csr_radius_parts` splits it.
    """
    import re

    found = (
        re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(km|cells?)\s*", value.lower())
        if isinstance(value, str)
        else None
    )
    if found is None:
        raise ConfigError(
            f"csr_pixel: {value!r} is not a radius such as '50km' (kilometres on the "
            "ellipsoid) or '5cells' (grid cells)"
        )
    size, unit = float(found.group(1)), found.group(2)
    if unit.startswith("cell"):
        if size != int(size) or size < 1:
            raise ConfigError(f"csr_pixel: {value!r} must be a whole number of cells >= 1")
        return f"{int(size)}cells"
    if size <= 0:
        raise ConfigError(f"csr_pixel: {value!r} must be > 0 km")
    return f"{size:g}km"


def csr_radius_parts(value: str) -> tuple[float, str]:
    """``(size, unit)`` of a canonical :func:`csr_radius` text, unit ``"km"`` or ``"cells"``."""
    text_ = csr_radius(value)
    if text_.endswith("cells"):
        return float(text_[: -len("cells")]), "cells"
    return float(text_[: -len("km")]), "km"


def csr_fields(cfg: Any, put: Any) -> None:
    """Validate the pixel-CSR fields of a Config in place (``put(name, value)``)."""
    if cfg.csr_pixel is not None:
        put("csr_pixel", csr_radius(cfg.csr_pixel))
    put("csr_kernel", choice("csr_kernel", cfg.csr_kernel, CSR_KERNELS))
    cells = integer("csr_min_cells", cfg.csr_min_cells)
    if cells < 1:
        raise ConfigError(f"csr_min_cells: {cells} must be >= 1")
    put("csr_min_cells", cells)
