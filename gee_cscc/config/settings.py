"""The run configuration: every choice of docs/method.md, validated once.

A :class:`Config` is a frozen value. Build it from keywords, a TOML file, a mapping or the
``to_dict`` of an earlier run, then change it with :meth:`Config.replace` (CLI overrides).
Each constructor validates every field in ``__post_init__`` and raises
:class:`~gee_cscc.errors.ConfigError` naming the field, the value given and what is allowed.

TOML layout
-----------
Keys are the field names. They may be written flat at the top level, or grouped in the
sections below (both forms may be mixed; a key given twice is an error). Keys left out keep
the paper's defaults; TOML has no null, so an optional field is unset by leaving it out::

    [years]                      # docs/method.md §2-§4; reference_year is t'
    start = 1981
    end = 2018
    reference_year = 2000

    [input]                      # docs/method.md §0-§1
    # product = "modis-npp"      # a public product: sets band, scale_factor, valid_range, years
    band = "npp"
    scale_factor = 1.0           # stored value × scale_factor + offset = g C m⁻² yr⁻¹
    offset = 0.0
    # valid_range = [0, 32700]   # stored values outside are masked before scaling
    composite_unit = "per_day"   # "per_day" | "per_composite"
    vca_min_mean = 0.0           # VCA: mean NPP over the run must be > this
    max_abs_npp = 10000.0        # |NPP| above this (g C m⁻² yr⁻¹) is refused as implausible
    # landcover_mask = "projects/my-project/assets/vegetation_mask"

    [trend]                      # docs/method.md §3
    trend = "ols"                # "ols" | "sen"
    alpha = 0.05
    alpha_strict = 0.01
    zero_slope_tolerance = 1e-6  # g C m⁻² yr⁻²

    [fit]                        # docs/method.md §5
    fit_mode = "free"            # "free" | "fixed" | "loglinear"
    plateau = "fit"              # "fit" | "onset"
    plateau_years = 3
    extrapolation_factor = 5.0
    grade_thresholds = [500.0, 100.0, 0.0, -100.0]
    min_fit_cells = 10           # fewer cells of a sign at t': no τ (flag too_few_cells)

    [regions]
    region_property = "abbr"
    pcs_years = [1981, 2000, 2018]   # default: start, reference_year, end
    all_label = "ALL"                # the whole-area row's name ("CN" as in the paper)

    [grid]                       # the analysis grid (default: the input's)
    # crs = "EPSG:4326"          # default: the input's CRS
    # scale = 5000.0             # metres (coarser: mean of the input pixels)
    # crs_transform = [0.05, 0, 70, 0, -0.05, 55]   # instead of scale
    extent = "auto"              # "auto" | "input" | "regions" | [W, S, E, N] (degrees)

    [engine]
    engine = "local"             # "local" | "earthengine"
    # project = "my-gcp-project"
    workload_tag = "gee-cscc"

The flat form of the same file is ``start = 1981``, ``trend = "ols"`` and so on, without
section headers. :meth:`Config.to_toml` writes the sectioned form.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gee_cscc.config import fields
from gee_cscc.config.toml import toml_value, tomllib
from gee_cscc.errors import ConfigError

__all__ = ["SECTIONS", "Config"]

#: The TOML sections and the fields each one holds, in the order ``to_toml`` writes them.
SECTIONS: dict[str, tuple[str, ...]] = {
    "years": ("start", "end", "reference_year"),
    "input": (
        "product",
        "band",
        "scale_factor",
        "offset",
        "valid_range",
        "composite_unit",
        "vca_min_mean",
        "max_abs_npp",
        "landcover_mask",
    ),
    "trend": ("trend", "alpha", "alpha_strict", "zero_slope_tolerance"),
    "fit": (
        "fit_mode",
        "plateau",
        "plateau_years",
        "extrapolation_factor",
        "grade_thresholds",
        "min_fit_cells",
    ),
    "regions": ("region_property", "pcs_years", "all_label"),
    "grid": ("crs", "scale", "crs_transform", "extent"),
    "engine": ("engine", "project", "workload_tag"),
    **fields.EXTRA_SECTIONS,
}

_COMPOSITE_UNITS = ("per_day", "per_composite")
_TRENDS = ("ols", "sen")
_FIT_MODES = ("free", "fixed", "loglinear")
_PLATEAUS = ("fit", "onset")
_ENGINES = ("local", "earthengine")
# Earth Engine's own rule for workload tags (ee._state._WorkloadTag.validate); "" means none.
_WORKLOAD_TAG = re.compile(r"[a-z0-9]|[a-z0-9][-_a-z0-9]{0,61}[a-z0-9]")
_YEAR_KEYS = ("start", "end", "reference_year")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(fields.ExtraFields):
    """Every configurable choice of a run, with the paper's defaults (docs/method.md).

    Parameters
    ----------
    start, end : int
        First and last year of the run, t0 and tN (paper: 1981, 2018).
    reference_year : int
        The reference year t' where the evaluation years begin (paper: 2000). Must satisfy
        ``start + 2 <= reference_year <= end`` so the first growing window has >= 3 years.
    alpha, alpha_strict : float
        Significance levels of the trend test (0.05 "significant", 0.01 "extremely
        significant"); ``0 < alpha_strict < alpha < 1``.
    product : str or None
        A public product by name (:data:`~gee_cscc.config.products.PRODUCTS`, e.g.
        ``"modis-npp"``): fills band, scale_factor, valid_range and the years where they are
        left at their defaults, and names the catalog collection.
    band : str
        Name of the NPP band of the input collection.
    scale_factor, offset : float
        ``stored × scale_factor + offset`` gives NPP in g C m⁻² yr⁻¹ (scale_factor > 0).
    valid_range : tuple of 2 float or None
        ``(low, high)`` of the stored values that are data (inclusive); others (fill values,
        class codes) are masked before scaling. None keeps every value.
    composite_unit : {"per_day", "per_composite"}
        What an 8-day composite stores: a daily-mean rate or a total (docs/method.md §0).
    vca_min_mean : float
        A cell is in the VCA only if its mean NPP over the run is strictly greater than
        this, in g C m⁻² yr⁻¹ (docs/method.md §1).
    max_abs_npp : float
        NPP whose absolute value exceeds this after scaling (g C m⁻² yr⁻¹; > 0) is refused
        as physically implausible, naming the year and the number of cells (an undeclared
        fill value such as 1e30 is the usual cause). Raise it to accept such values.
    landcover_mask : str or None
        Optional asset id of a land-cover mask ANDed into the VCA.
    trend : {"ols", "sen"}
        OLS slope with a t-test, or Sen's slope with Mann–Kendall (docs/method.md §3).
    zero_slope_tolerance : float
        |K| below this counts as 0, in g C m⁻² yr⁻² (docs/method.md §5b); >= 0.
    fit_mode : {"free", "fixed", "loglinear"}
        Decay fit with λ free, λ fixed at 1, or OLS of ln q (docs/method.md §5).
    plateau : {"fit", "onset"}
        Whether the CSR of a plateaued series uses the fitted τ or the plateau onset.
    plateau_years : int
        Unchanged year-to-year steps at the end of a ratio series that make a plateau; >= 1.
    extrapolation_factor : float
        τ above this × the number of evaluation years (years) is flagged ``extrapolated``.
    grade_thresholds : tuple of 4 float
        RS bounds t1 > t2 > t3 > t4 in years: RS > t1 "extremely strong", t2 < RS <= t1
        "stronger", t3 <= RS <= t2 "strong", t4 <= RS < t3 "weak", RS < t4 "weaker".
    min_fit_cells : int
        The fewest cells of a sign at t' (N⁺_t' or N⁻_t') for which a region's decay is
        fitted; >= 1. With fewer, that sign has no τ and is flagged ``too_few_cells`` (so
        RS is undefined, grade "none"). Default 10, as ``csr_min_cells`` per cell.
    region_property : str
        The feature property naming each region (e.g. a province abbreviation).
    pcs_years : tuple of int or None
        Years whose PCS maps are made, each within start…end, stored sorted; None (the
        default) means ``(start, reference_year, end)``. Always a tuple after construction.
    all_label : str
        The name of the whole-area row in every table (default ``"ALL"``; ``"CN"`` for the
        paper's China run). It must differ from every region's name.
    engine : {"local", "earthengine"}
        The embedded local engine or Google Earth Engine.
    project : str or None
        Google Cloud project id for Earth Engine (no ``projects/`` prefix).
    crs : str or None
        CRS of the analysis grid (e.g. ``"EPSG:4326"``); None keeps the input's.
    scale : float or None
        Pixel size of the analysis grid in metres (Earth Engine's ``scale``; degrees at the
        equator for a geographic CRS); None keeps the input's. A coarser grid averages the
        input pixels (``reduceResolution`` with the mean, then ``reproject``).
    crs_transform : tuple of 6 float or None
        The analysis grid's affine ``[xScale, xShear, xOrigin, yShear, yScale, yOrigin]`` in
        CRS units, instead of ``scale`` (the grid is aligned to this origin).
    extent : str or tuple of 4 float
        Where to compute: ``"input"`` (the input's whole grid), ``"regions"`` (the regions'
        bounding box), ``(W, S, E, N)`` in degrees, or ``"auto"`` (regions when regions are
        given, else input: a global input is never computed whole by default).
    workload_tag : str
        Earth Engine workload tag labelling the run's computations; "" sets none.
    """

    start: int = 1981
    end: int = 2018
    reference_year: int = 2000
    alpha: float = 0.05
    alpha_strict: float = 0.01
    product: str | None = None
    band: str = "npp"
    scale_factor: float = 1.0
    offset: float = 0.0
    valid_range: tuple[float, float] | None = None
    composite_unit: str = "per_day"
    vca_min_mean: float = 0.0
    max_abs_npp: float = 10000.0
    landcover_mask: str | None = None
    trend: str = "ols"
    zero_slope_tolerance: float = 1e-6
    fit_mode: str = "free"
    plateau: str = "fit"
    plateau_years: int = 3
    extrapolation_factor: float = 5.0
    grade_thresholds: tuple[float, float, float, float] = (500.0, 100.0, 0.0, -100.0)
    min_fit_cells: int = 10
    region_property: str = "abbr"
    pcs_years: tuple[int, ...] | None = None
    all_label: str = "ALL"
    engine: str = "local"
    project: str | None = None
    crs: str | None = None
    scale: float | None = None
    crs_transform: tuple[float, float, float, float, float, float] | None = None
    extent: str | tuple[float, float, float, float] = "auto"
    workload_tag: str = "gee-cscc"

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if self.product is not None:
            for name, value in fields.product(self.product).fields.items():
                if getattr(self, name) == _DEFAULTS[name]:
                    put(name, value)

        start = fields.integer("start", self.start)
        put("start", start)
        end = fields.integer("end", self.end)
        if end < start + 2:
            raise ConfigError(
                f"end: {end} must be >= start + 2 ({start + 2}); a run needs at least 3 years"
            )
        put("end", end)
        ref = fields.integer("reference_year", self.reference_year)
        if not start + 2 <= ref <= end:
            raise ConfigError(
                f"reference_year: {ref} is outside {start + 2} … {end} (start + 2 … end; the "
                "first growing window start … reference_year needs at least 3 years)"
            )
        put("reference_year", ref)

        alpha = fields.number("alpha", self.alpha)
        if not 0.0 < alpha < 1.0:
            raise ConfigError(f"alpha: {alpha!r} must be > 0 and < 1")
        put("alpha", alpha)
        strict = fields.number("alpha_strict", self.alpha_strict)
        if not 0.0 < strict < alpha:
            raise ConfigError(f"alpha_strict: {strict!r} must be > 0 and < alpha ({alpha!r})")
        put("alpha_strict", strict)

        put("band", fields.text("band", self.band))
        put("scale_factor", fields.number("scale_factor", self.scale_factor, positive=True))
        put("offset", fields.number("offset", self.offset))
        if self.valid_range is not None:
            put("valid_range", fields.valid_range(self.valid_range))
        composite = fields.choice("composite_unit", self.composite_unit, _COMPOSITE_UNITS)
        put("composite_unit", composite)
        put("vca_min_mean", fields.number("vca_min_mean", self.vca_min_mean))
        put("max_abs_npp", fields.number("max_abs_npp", self.max_abs_npp, positive=True))
        if self.landcover_mask is not None:
            put(
                "landcover_mask",
                fields.identifier("landcover_mask", self.landcover_mask, "asset id"),
            )

        put("trend", fields.choice("trend", self.trend, _TRENDS))
        tolerance = fields.number("zero_slope_tolerance", self.zero_slope_tolerance)
        if tolerance < 0.0:
            raise ConfigError(f"zero_slope_tolerance: {tolerance!r} must be >= 0")
        put("zero_slope_tolerance", tolerance)

        put("fit_mode", fields.choice("fit_mode", self.fit_mode, _FIT_MODES))
        put("plateau", fields.choice("plateau", self.plateau, _PLATEAUS))
        plateau_years = fields.integer("plateau_years", self.plateau_years)
        if plateau_years < 1:
            raise ConfigError(f"plateau_years: {plateau_years} must be >= 1")
        put("plateau_years", plateau_years)
        put(
            "extrapolation_factor",
            fields.number("extrapolation_factor", self.extrapolation_factor, positive=True),
        )
        put("grade_thresholds", fields.thresholds(self.grade_thresholds))
        min_fit_cells = fields.integer("min_fit_cells", self.min_fit_cells)
        if min_fit_cells < 1:
            raise ConfigError(f"min_fit_cells: {min_fit_cells} must be >= 1")
        put("min_fit_cells", min_fit_cells)

        put("region_property", fields.text("region_property", self.region_property))
        put("all_label", fields.text("all_label", self.all_label).strip())
        if self.pcs_years is None:
            put("pcs_years", tuple(dict.fromkeys((start, ref, end))))  # ref may be end
        else:
            put("pcs_years", fields.pcs_years(self.pcs_years, start, end))

        put("engine", fields.choice("engine", self.engine, _ENGINES))
        if self.project is not None:
            project = fields.identifier("project", self.project, "Google Cloud project id")
            if "/" in project:
                raise ConfigError(
                    f"project: {project!r} must be a bare project id such as 'my-project', "
                    "without 'projects/' or other slashes"
                )
            put("project", project)
        if self.crs is not None:
            crs = fields.text("crs", self.crs).strip()  # a code such as EPSG:4326, or WKT
            put("crs", crs.upper() if re.fullmatch(r"[A-Za-z][A-Za-z-]*:\d+", crs) else crs)
        if self.scale is not None:
            put("scale", fields.number("scale", self.scale, positive=True))
        if self.crs_transform is not None:
            if self.scale is not None:
                raise ConfigError(
                    "crs_transform and scale both set: give one (crs_transform fixes the pixel "
                    "size and origin, scale only the pixel size)"
                )
            put("crs_transform", fields.crs_transform(self.crs_transform))
        put("extent", fields.extent(self.extent))
        tag = self.workload_tag
        if not isinstance(tag, str) or not (tag == "" or _WORKLOAD_TAG.fullmatch(tag)):
            raise ConfigError(
                f"workload_tag: {tag!r} must be '' or 1-63 characters of a-z, 0-9, '-' and "
                "'_', beginning and ending with a-z or 0-9 (Earth Engine's rule)"
            )
        fields.validate_extra(self, put)  # the fields beyond the paper (docs/method.md §7)

    # ------------------------------------------------------------------ derived values
    @property
    def years(self) -> tuple[int, ...]:
        """The run years t0 … tN, inclusive."""
        return tuple(range(self.start, self.end + 1))

    @property
    def n_years(self) -> int:
        """Number of run years n (paper: 38)."""
        return self.end - self.start + 1

    @property
    def evaluation_years(self) -> tuple[int, ...]:
        """The evaluation years t' … tN of the maintenance surfaces (docs/method.md §4)."""
        return tuple(fields.evaluation_years(self.years, self.reference_year))

    @property
    def n_evaluation_years(self) -> int:
        """Number of evaluation years (paper: 19)."""
        return len(self.evaluation_years)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Config:
        """Build a config from a flat or sectioned mapping (the TOML layout).

        Parameters
        ----------
        mapping : Mapping
            Field names as keys, at the top level or inside the sections of :data:`SECTIONS`.

        Raises
        ------
        ConfigError
            An unknown key, a key given twice, or a field with a wrong value.
        """
        return cls(**_flatten(mapping, sectioned=True, source="mapping"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build a config from the flat dictionary of :meth:`to_dict` (e.g. a run.json)."""
        return cls(**_flatten(data, sectioned=False, source="dict"))

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str]) -> Config:
        """Read a config from a TOML file or TOML text (layout in the module docstring).

        Parameters
        ----------
        source : str or path-like
            A path-like is a file. A string is TOML text when it is blank or contains a
            newline or ``=``, otherwise the path of a file.

        Raises
        ------
        ConfigError
            The file cannot be read, is not valid TOML, or holds a bad key or value; the
            message names the file.
        """
        text_given = isinstance(source, str) and (
            not source.strip() or "\n" in source or "=" in source
        )
        if text_given:
            text, name = str(source), "TOML text"
        else:
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from exc
            name = str(path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{name}: not valid TOML: {exc}") from exc
        try:
            return cls(**_flatten(data, sectioned=True, source=name))
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in {name})") from None

    # ------------------------------------------------------------------ changes and output
    def replace(self, **overrides: Any) -> Config:
        """Return a copy with some fields changed, validated like a new config.

        When the years change and ``pcs_years`` is not given, a ``pcs_years`` that was the
        default (start, reference_year, end) follows the new years.
        """
        unknown = [key for key in overrides if key not in _FIELD_NAMES]
        if unknown:
            raise ConfigError(_unknown_key_message(unknown[0], _FIELD_NAMES, "overrides"))
        follows_years = self.pcs_years == tuple(sorted({self.start, self.reference_year, self.end}))
        # A product may set the years too (see __post_init__).
        years_change = any(key in overrides for key in (*_YEAR_KEYS, "product"))
        if "pcs_years" not in overrides and follows_years and years_change:
            overrides["pcs_years"] = None
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Return every field as a flat JSON-serialisable dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_toml(self) -> str:
        """Return the config as sectioned TOML text that :meth:`from_toml` reads back equal."""
        lines = ["# gee_cscc run configuration (docs/method.md); unset optional keys are comments"]
        for section, names in SECTIONS.items():
            lines.append("")
            lines.append(f"[{section}]")
            for name in names:
                value = getattr(self, name)
                if value is None:
                    lines.append(f"# {name} is not set")
                else:
                    lines.append(f"{name} = {toml_value(value)}")
        return "\n".join(lines) + "\n"


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config))
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Config)}


# ---------------------------------------------------------------------- mappings and TOML
def _unknown_key_message(key: Any, known: Iterable[str], where: str) -> str:
    known = list(known)
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{key}: unknown key in {where}{hint}; known keys: {', '.join(known)}"


def _flatten(mapping: Mapping[str, Any], *, sectioned: bool, source: str) -> dict[str, Any]:
    """Return the field values of a flat or sectioned mapping, rejecting unknown keys."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"config {source}: expected a mapping, got {type(mapping).__name__}")
    flat: dict[str, Any] = {}

    def put(name: str, value: Any, where: str) -> None:
        if name in flat:
            raise ConfigError(f"{name}: given twice in {source} (again in {where})")
        flat[name] = value

    for key, value in mapping.items():
        if sectioned and key in SECTIONS and isinstance(value, Mapping):
            for name, item in value.items():
                if name not in SECTIONS[key]:
                    raise ConfigError(_unknown_key_message(name, SECTIONS[key], f"[{key}]"))
                put(name, item, f"[{key}]")
        elif key in _FIELD_NAMES:
            put(key, value, "the top level")
        elif sectioned and key in SECTIONS:
            raise ConfigError(f"{key}: {value!r} must be a table of {', '.join(SECTIONS[key])}")
        else:
            known = _FIELD_NAMES + tuple(f"[{s}]" for s in SECTIONS) if sectioned else _FIELD_NAMES
            raise ConfigError(_unknown_key_message(key, known, source))
    return flat
