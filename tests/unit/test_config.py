"""Unit tests of gee_cscc.config: defaults, validation, TOML and dict round trips."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import tomllib
from hypothesis import given
from hypothesis import strategies as st

from gee_cscc.config import SECTIONS, Config
from gee_cscc.errors import ConfigError

# The paper's choices as METHOD.md states them, written out here rather than read from code.
PAPER_DEFAULTS = {
    "start": 1981,
    "end": 2018,
    "reference_year": 2000,
    "alpha": 0.05,
    "alpha_strict": 0.01,
    "band": "npp",
    "scale_factor": 1.0,
    "offset": 0.0,
    "composite_unit": "per_day",
    "vca_min_mean": 0.0,
    "max_abs_npp": 10000.0,
    "landcover_mask": None,
    "trend": "ols",
    "zero_slope_tolerance": 1e-6,
    "fit_mode": "free",
    "plateau": "fit",
    "plateau_years": 3,
    "extrapolation_factor": 5.0,
    "grade_thresholds": (500.0, 100.0, 0.0, -100.0),
    "min_fit_cells": 10,
    "region_property": "abbr",
    "pcs_years": (1981, 2000, 2018),
    "all_label": "ALL",
    "engine": "local",
    "project": None,
    "scale": None,
    "workload_tag": "gee-cscc",
    "product": None,
    "valid_range": None,
    "crs": None,
    "crs_transform": None,
    "extent": "auto",
    "capacity_sensitivity": False,
    "figure_format": ("png",),
    "dpi": 150,
    "figure_style": "report",
    "csr_pixel": None,
    "csr_kernel": "circle",
    "csr_min_cells": 10,
}

# A config where every field differs from the default.
CUSTOM = {
    "start": 2000,
    "end": 2010,
    "reference_year": 2005,
    "alpha": 0.1,
    "alpha_strict": 0.02,
    "band": "b1",
    "scale_factor": 0.1,
    "offset": -3.5,
    "composite_unit": "per_composite",
    "vca_min_mean": 12.5,
    "max_abs_npp": 2500.0,
    "landcover_mask": "projects/p/assets/mask",
    "trend": "sen",
    "zero_slope_tolerance": 1e-9,
    "fit_mode": "loglinear",
    "plateau": "onset",
    "plateau_years": 4,
    "extrapolation_factor": 2.5,
    "grade_thresholds": (50.0, 10.0, -1.0, -10.0),
    "min_fit_cells": 3,
    "region_property": "name",
    "pcs_years": (2001, 2010),
    "all_label": "CN",
    "engine": "earthengine",
    "project": "my-project",
    "scale": 5000.0,
    "workload_tag": "run_2",
    # every field it sets differs from the default already, so it changes nothing here
    "product": "modis-npp",
    "valid_range": (1.0, 30000.0),
    "crs": "EPSG:3857",
    # crs_transform is exclusive with scale: tested apart
    "extent": (70.0, 15.0, 140.0, 55.0),
    "capacity_sensitivity": True,
    "csr_pixel": "25km",
    "csr_kernel": "square",
    "csr_min_cells": 4,
    "figure_format": ("svg", "pdf"),
    "dpi": 300,
    "figure_style": "paper",
}


def test_defaults_are_the_papers_values() -> None:
    cfg = Config()
    assert {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)} == PAPER_DEFAULTS
    assert cfg.n_years == 38
    assert cfg.n_evaluation_years == 19
    assert cfg.years[0] == 1981 and cfg.years[-1] == 2018 and len(cfg.years) == 38
    assert cfg.evaluation_years[0] == 2000 and cfg.evaluation_years[-1] == 2018


def test_other_year_settings_give_their_evaluation_years() -> None:
    cfg = Config(start=2000, end=2010, reference_year=2005)
    assert cfg.years == (
        2000,
        2001,
        2002,
        2003,
        2004,
        2005,
        2006,
        2007,
        2008,
        2009,
        2010,
    )
    assert cfg.n_years == 11
    assert cfg.evaluation_years == (2005, 2006, 2007, 2008, 2009, 2010)
    assert cfg.n_evaluation_years == 6
    assert cfg.pcs_years == (2000, 2005, 2010)


@pytest.mark.parametrize(
    ("start", "end", "reference_year", "evaluation_years"),
    [
        (2000, 2002, 2002, (2002,)),  # shortest run: three years, reference at the end
        (1990, 2000, 1992, tuple(range(1992, 2001))),  # reference at start + 2
    ],
)
def test_year_bounds_accepted(
    start: int, end: int, reference_year: int, evaluation_years: tuple[int, ...]
) -> None:
    cfg = Config(start=start, end=end, reference_year=reference_year)
    assert cfg.evaluation_years == evaluation_years
    assert cfg.n_evaluation_years == len(evaluation_years)


def test_every_field_is_in_exactly_one_section() -> None:
    in_sections = [name for names in SECTIONS.values() for name in names]
    assert sorted(in_sections) == sorted(f.name for f in dataclasses.fields(Config))
    assert len(in_sections) == len(set(in_sections))


def test_fields_are_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        Config(1981)  # type: ignore[misc]
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.trend = "sen"  # type: ignore[misc]


BAD_VALUES = [
    ("start", "1981"),
    ("start", 1981.0),
    ("start", True),
    ("start", None),
    ("end", 1982),
    ("end", 1970),
    ("end", "2018"),
    ("reference_year", 1982),
    ("reference_year", 1981),
    ("reference_year", 2019),
    ("reference_year", 2000.5),
    ("alpha", 0),
    ("alpha", 1),
    ("alpha", 1.5),
    ("alpha", float("nan")),
    ("alpha", "0.05"),
    ("alpha_strict", 0.05),
    ("alpha_strict", 0.0),
    ("alpha_strict", -0.01),
    ("alpha_strict", None),
    ("band", ""),
    ("band", "   "),
    ("band", 3),
    ("band", None),
    ("scale_factor", 0),
    ("scale_factor", -0.1),
    ("scale_factor", float("inf")),
    ("scale_factor", "1"),
    ("offset", float("nan")),
    ("offset", "0"),
    ("offset", None),
    ("composite_unit", "per_month"),
    ("composite_unit", None),
    ("vca_min_mean", float("-inf")),
    ("vca_min_mean", "0"),
    ("max_abs_npp", 0.0),
    ("max_abs_npp", -1.0),
    ("max_abs_npp", float("inf")),
    ("landcover_mask", ""),
    ("landcover_mask", "my mask"),
    ("landcover_mask", 5),
    ("trend", "slope"),
    ("trend", "OLS"),
    ("trend", 1),
    ("zero_slope_tolerance", -1e-6),
    ("zero_slope_tolerance", float("nan")),
    ("fit_mode", "lambda"),
    ("fit_mode", None),
    ("plateau", "mean"),
    ("plateau_years", 0),
    ("plateau_years", 2.5),
    ("plateau_years", True),
    ("extrapolation_factor", 0),
    ("extrapolation_factor", -5.0),
    ("grade_thresholds", (500.0, 100.0, 0.0)),
    ("grade_thresholds", (500.0, 100.0, 0.0, -100.0, -200.0)),
    ("grade_thresholds", (100.0, 500.0, 0.0, -100.0)),
    ("grade_thresholds", (500.0, 100.0, 100.0, -100.0)),
    ("grade_thresholds", (500.0, 100.0, 0.0, "x")),
    ("grade_thresholds", (500.0, 100.0, 0.0, float("nan"))),
    ("grade_thresholds", "500,100,0,-100"),
    ("grade_thresholds", None),
    ("region_property", ""),
    ("region_property", None),
    ("all_label", ""),
    ("all_label", "  "),
    ("all_label", 3),
    ("min_fit_cells", 0),
    ("min_fit_cells", 2.5),
    ("pcs_years", (1980,)),
    ("pcs_years", (2019,)),
    ("pcs_years", (2000, 2000)),
    ("pcs_years", 2000),
    ("pcs_years", ("2000",)),
    ("pcs_years", "2000"),
    ("engine", "gee"),
    ("engine", None),
    ("project", ""),
    ("project", "projects/my-project"),
    ("project", "my project"),
    ("project", 123),
    ("scale", 0),
    ("scale", -30.0),
    ("scale", "30"),
    ("scale", float("nan")),
    ("product", "modis"),
    ("product", 1),
    ("valid_range", (10, 1)),
    ("valid_range", (0, 1, 2)),
    ("valid_range", "0-100"),
    ("crs", ""),
    ("crs", 4326),
    ("crs_transform", (1, 0, 0, 0, -1)),
    ("crs_transform", (0, 0, 0, 0, 0, 0)),
    ("extent", "world"),
    ("extent", (10, 0, 5, 1)),
    ("extent", "70,15,140"),
    ("extent", (70, 15, 140, 95)),
    ("workload_tag", "Bad Tag"),
    ("workload_tag", "-leading-dash"),
    ("workload_tag", "x" * 64),
    ("workload_tag", "UPPER"),
    ("workload_tag", None),
    ("capacity_sensitivity", 1),
    ("capacity_sensitivity", "yes"),
    ("csr_pixel", "50"),
    ("csr_pixel", 5),
    ("csr_kernel", "hexagon"),
    ("csr_min_cells", 0),
    ("csr_min_cells", 2.0),
    ("figure_format", "jpg"),
    ("figure_format", []),
    ("figure_format", 5),
    ("dpi", 9),
    ("dpi", 150.0),
    ("figure_style", "poster"),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=lambda v: repr(v)[:30])
def test_bad_value_raises_config_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{field}") and message[len(field)] in ":[", message
    assert isinstance(info.value, ValueError)


def test_every_field_has_a_bad_value_case() -> None:
    assert {field for field, _ in BAD_VALUES} == {f.name for f in dataclasses.fields(Config)}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"trend": "slope"}, "trend: 'slope' is not one of 'ols', 'sen'"),
        ({"fit_mode": "x"}, "fit_mode: 'x' is not one of 'free', 'fixed', 'loglinear'"),
        ({"engine": "gee"}, "engine: 'gee' is not one of 'local', 'earthengine'"),
        ({"start": "1981"}, "start: '1981' (str) is not an integer"),
        ({"alpha_strict": 0.05}, "alpha_strict: 0.05 must be > 0 and < alpha (0.05)"),
        ({"reference_year": 2019}, "reference_year: 2019 is outside 1983 … 2018"),
        (
            {"pcs_years": (1980,)},
            "pcs_years: 1980 is outside the run years 1981 … 2018",
        ),
    ],
)
def test_messages_name_field_value_and_allowed(overrides: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**overrides)
    assert str(info.value).startswith(expected)


def test_numbers_are_normalised() -> None:
    cfg = Config(
        start=np.int64(2000),
        end=2010,
        reference_year=2005,
        scale_factor=1,
        alpha=np.float32(0.25),
        scale=30,
        grade_thresholds=[5, 1, 0, -1],
        pcs_years=[2010, 2000],
        workload_tag="",
    )
    assert type(cfg.start) is int and type(cfg.scale_factor) is float
    assert type(cfg.scale) is float and cfg.scale == 30.0
    assert cfg.grade_thresholds == (5.0, 1.0, 0.0, -1.0)
    assert all(type(t) is float for t in cfg.grade_thresholds)
    assert cfg.pcs_years == (2000, 2010)
    assert cfg.workload_tag == ""
    json.dumps(cfg.to_dict())  # plain Python types only
    hash(cfg)


FLAT_TOML = """
start = 2000
end = 2010
reference_year = 2005
trend = "sen"
alpha = 0.1
alpha_strict = 0.02
grade_thresholds = [50, 10, -1, -10]
pcs_years = [2010, 2001]
engine = "earthengine"
project = "my-project"
"""

SECTIONED_TOML = """
[years]
start = 2000
end = 2010
reference_year = 2005

[trend]
trend = "sen"
alpha = 0.1
alpha_strict = 0.02

[fit]
grade_thresholds = [50, 10, -1, -10]

[regions]
pcs_years = [2010, 2001]

[engine]
engine = "earthengine"
project = "my-project"
"""

EXPECTED_FROM_TOML = dict(
    PAPER_DEFAULTS,
    start=2000,
    end=2010,
    reference_year=2005,
    trend="sen",
    alpha=0.1,
    alpha_strict=0.02,
    grade_thresholds=(50.0, 10.0, -1.0, -10.0),
    pcs_years=(2001, 2010),
    engine="earthengine",
    project="my-project",
)


def _fields(cfg: Config) -> dict:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


@pytest.mark.parametrize("text", [FLAT_TOML, SECTIONED_TOML], ids=["flat", "sectioned"])
def test_toml_text_flat_and_sectioned(text: str) -> None:
    assert _fields(Config.from_toml(text)) == EXPECTED_FROM_TOML


@pytest.mark.parametrize("as_path", [True, False], ids=["Path", "str"])
def test_toml_file(tmp_path, as_path: bool) -> None:
    path = tmp_path / "run.toml"
    path.write_text(SECTIONED_TOML, encoding="utf-8")
    cfg = Config.from_toml(path if as_path else str(path))
    assert _fields(cfg) == EXPECTED_FROM_TOML


def test_toml_mixed_flat_and_sections() -> None:
    cfg = Config.from_toml('trend = "sen"\n[years]\nstart = 1990\n')
    assert (cfg.trend, cfg.start, cfg.end) == ("sen", 1990, 2018)


def test_empty_toml_gives_defaults() -> None:
    assert _fields(Config.from_toml("")) == PAPER_DEFAULTS


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            'tren = "sen"',
            ["tren: unknown key", "did you mean 'trend'", "reference_year"],
        ),
        ("[fit]\nalpha = 0.1", ["alpha: unknown key in [fit]", "fit_mode, plateau"]),
        ("[output]\nscale = 30", ["output: unknown key", "workload_tag", "[engine]"]),
        ("[years]\nfirst = 1990", ["first: unknown key in [years]", "start, end"]),
    ],
)
def test_unknown_toml_key_names_it_and_lists_known(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_toml(text)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("start = 1990\n[years]\nstart = 1991", "start: given twice"),
        ("years = 5", "years: 5 must be a table"),
        ('trend = "slope"', "trend: 'slope' is not one of 'ols', 'sen' (in TOML text)"),
        ("start = ", "not valid TOML"),
    ],
)
def test_bad_toml_content(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Config.from_toml(text)


def test_bad_value_in_file_names_field_and_file(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[fit]\nplateau_years = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Config.from_toml(path)
    assert str(info.value).startswith("plateau_years: 0 must be >= 1")
    assert str(path) in str(info.value)


def test_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="missing.toml"):
        Config.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="missing.toml"):
        Config.from_toml(str(tmp_path / "missing.toml"))


def test_from_mapping_sectioned_and_flat() -> None:
    sectioned = Config.from_mapping({"years": {"start": 1990}, "grid": {"scale": 30}})
    flat = Config.from_mapping({"start": 1990, "scale": 30})
    assert sectioned == flat == Config(start=1990, scale=30.0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Config.from_mapping({"alpah": 0.1}),
        lambda: Config.from_dict({"alpah": 0.1}),
        lambda: Config().replace(alpah=0.1),
    ],
    ids=["from_mapping", "from_dict", "replace"],
)
def test_unknown_key_in_mapping_dict_and_replace(build) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    message = str(info.value)
    assert message.startswith("alpah: unknown key")
    assert "did you mean 'alpha'" in message and "alpha_strict" in message


def test_from_dict_is_flat_only() -> None:
    with pytest.raises(ConfigError, match="years: unknown key"):
        Config.from_dict({"years": {"start": 1990}})


def test_replace_validates_and_keeps_the_rest() -> None:
    cfg = Config(band="b1")
    changed = cfg.replace(trend="sen", alpha=0.1)
    assert (changed.trend, changed.alpha, changed.band) == ("sen", 0.1, "b1")
    assert cfg.trend == "ols"
    with pytest.raises(ConfigError, match="^trend: 'slope'"):
        cfg.replace(trend="slope")


def test_replace_years_moves_default_pcs_years_but_keeps_explicit_ones() -> None:
    moved = Config().replace(start=2000, end=2010, reference_year=2005)
    assert moved.pcs_years == (2000, 2005, 2010)
    kept = Config(pcs_years=(2001, 2005)).replace(start=2000, end=2010, reference_year=2005)
    assert kept.pcs_years == (2001, 2005)
    with pytest.raises(ConfigError, match="^pcs_years: 1990 is outside"):
        Config(pcs_years=(1990,)).replace(start=2000, end=2010, reference_year=2005)


@pytest.mark.parametrize("values", [{}, CUSTOM], ids=["defaults", "custom"])
def test_round_trips(values: dict) -> None:
    cfg = Config(**values)
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert Config.from_toml(cfg.to_toml()) == cfg
    assert _fields(Config.from_toml(cfg.to_toml())) == _fields(cfg)


def test_to_dict_is_flat_and_json_ready() -> None:
    data = Config(**CUSTOM).to_dict()
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in CUSTOM.items()}
    assert data == {**expected, "crs_transform": None}


def test_to_toml_is_sectioned_and_omits_unset_fields() -> None:
    parsed = tomllib.loads(Config(**CUSTOM).to_toml())
    assert parsed == {
        section: {name: _plain(CUSTOM[name]) for name in names if name in CUSTOM}
        for section, names in SECTIONS.items()
    }
    parsed_defaults = tomllib.loads(Config().to_toml())
    assert "landcover_mask" not in parsed_defaults["input"]
    assert "project" not in parsed_defaults["engine"] and "scale" not in parsed_defaults["grid"]


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


_names = st.text(min_size=1, max_size=20).filter(lambda s: s.strip())
_finite = st.floats(allow_nan=False, allow_infinity=False)


@given(band=_names, region_property=_names, offset=_finite, vca_min_mean=_finite)
def test_toml_round_trip_of_any_text_and_float(
    band: str, region_property: str, offset: float, vca_min_mean: float
) -> None:
    cfg = Config(
        band=band,
        region_property=region_property,
        offset=offset,
        vca_min_mean=vca_min_mean,
    )
    back = Config.from_toml(cfg.to_toml())
    assert back == cfg
    assert math.copysign(1.0, back.offset) == math.copysign(1.0, cfg.offset)


def test_product_fills_the_fields_left_at_their_defaults() -> None:
    cfg = Config(product="modis-npp")
    assert (cfg.band, cfg.scale_factor, cfg.valid_range) == ("Npp", 0.1, (0.0, 32700.0))
    assert (cfg.start, cfg.end) == (2001, 2024)
    assert cfg.pcs_years == (2001, cfg.reference_year, 2024)
    own = Config(product="modis-npp", end=2020, scale_factor=0.2)
    assert (own.end, own.scale_factor, own.band) == (2020, 0.2, "Npp")
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_grid_fields() -> None:
    cfg = Config(crs="EPSG:4326", crs_transform=[0.5, 0, 70, 0, -0.5, 55], extent="70,15,140,55")
    assert cfg.crs_transform == (0.5, 0.0, 70.0, 0.0, -0.5, 55.0)
    assert cfg.extent == (70.0, 15.0, 140.0, 55.0)
    assert Config(extent="Regions").extent == "regions"
    assert Config(crs=" sr-org:6974").crs == "SR-ORG:6974"
    with pytest.raises(ConfigError, match="crs_transform and scale"):
        Config(scale=1000, crs_transform=[1000, 0, 0, 0, -1000, 0])
    assert Config.from_toml(Config(extent=(1, 2, 3, 4)).to_toml()).extent == (1.0, 2.0, 3.0, 4.0)
