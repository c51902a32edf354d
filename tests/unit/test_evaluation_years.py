"""``evaluation_years`` (t' … tN, docs/method.md §4) has one home: config.fields.

The config and the method layer use the same function; the expected years are written out
by hand from the definition (the years from the reference year t' to the last year tN).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import gee_cscc
from gee_cscc import method
from gee_cscc.config import Config, fields
from gee_cscc.method import maintenance

PACKAGE = pathlib.Path(gee_cscc.__file__).parent


@pytest.mark.parametrize(
    ("years", "reference_year", "expected"),
    [
        (range(1981, 2019), 2000, list(range(2000, 2019))),  # the paper: 19 years
        ([2003, 2001, 2002, 2004], 2002, [2003, 2002, 2004]),  # order kept, earlier dropped
        (["2010", 2011.0, 2012], 2011, [2011, 2012]),  # years as text or floats count as ints
        ([2001, 2002], 2005, []),
    ],
)
def test_evaluation_years_are_the_years_from_the_reference_year_on(years, reference_year, expected):
    got = fields.evaluation_years(years, reference_year)
    assert got == expected
    assert all(type(y) is int for y in got)


def test_config_and_method_use_the_one_definition():
    assert maintenance.evaluation_years is fields.evaluation_years
    assert method.evaluation_years is fields.evaluation_years
    cfg = Config(start=1990, end=2005, reference_year=1996)
    assert cfg.evaluation_years == tuple(range(1996, 2006))
    assert cfg.n_evaluation_years == 10  # 1996 … 2005
    assert list(cfg.evaluation_years) == fields.evaluation_years(cfg.years, cfg.reference_year)


def test_no_other_module_defines_evaluation_years():
    """One module-level definition; properties of that name only call it."""
    homes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "evaluation_years":
                homes.append(path.relative_to(PACKAGE).as_posix())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "evaluation_years":
                    calls = [
                        getattr(c.func, "id", getattr(c.func, "attr", None))
                        for c in ast.walk(fn)
                        if isinstance(c, ast.Call)
                    ]
                    assert "evaluation_years" in calls, f"{path}:{fn.lineno} computes it again"
    assert homes == ["config/fields.py"]
