"""Start fast: importing the package and its command line loads no heavy library.

Checked in a fresh interpreter (``sys.modules`` after the import), not by timing:
matplotlib, scipy, xarray, pandas, xee and the local engine load only when a verb needs them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "scipy", "xarray", "pandas", "xee", "rasterio", "dask", "shapely")


def _loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    names = set(json.loads(out.strip().splitlines()[-1]))
    return names | {n.split(".")[0] for n in names}


@pytest.mark.parametrize("statement", ["import gee_cscc", "import gee_cscc.cli"])
def test_import_loads_no_heavy_library(statement):
    loaded = _loaded_after(statement)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "gee_cscc.engine" not in loaded


def test_import_gee_cscc_loads_not_even_numpy_or_ee():
    loaded = _loaded_after("import gee_cscc; gee_cscc.__version__")
    assert not loaded & {"numpy", "ee", *HEAVY}, sorted(loaded & {"numpy", "ee", *HEAVY})


def test_help_builds_every_parser_without_heavy_libraries():
    loaded = _loaded_after(
        "from gee_cscc.cli.main import build_parser\n"
        "p = build_parser()\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    p.parse_args(['run', '--help'])"
    )
    # Not even the Earth Engine client or NumPy: `gee-cscc --help` answers at once.
    unwanted = {"numpy", "ee", *HEAVY}
    assert not loaded & unwanted, sorted(loaded & unwanted)
