"""The ``gee-cscc`` command line: the console script, bad inputs, ``--config``, ``demo``.

Runs go through ``gee_cscc.cli.main.main`` in this process (``run_cli``); the console script
itself runs in a subprocess for ``--version`` and ``run --help``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import (
    YEAR_ARGS,
    coords,
    populate_store,
    read_tables,
    region_ids,
    snapshot,
    staging_dirs,
    write_tif,
    write_tif_folder,
)

import gee_cscc
from gee_cscc.errors import InputError

# --- the console script -----------------------------------------------------------------------


def console_script() -> str:
    """The ``gee-cscc`` script of the interpreter running the tests (the venv's)."""
    beside = Path(sys.executable).with_name("gee-cscc")
    if beside.is_file():
        return str(beside)
    found = shutil.which("gee-cscc")
    assert found, "the gee-cscc console script is not installed (pip install -e .)"
    return found


def test_console_script_version():
    done = subprocess.run(
        [console_script(), "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"gee-cscc {gee_cscc.__version__}"


def test_console_script_run_help():
    done = subprocess.run(
        [console_script(), "run", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for option in ("--npp", "--regions", "--region-names", "--config", "--out", "--store"):
        assert option in done.stdout
    for option in ("--start", "--end", "--reference", "--band", "--quiet", "--verbose"):
        assert option in done.stdout


def test_no_command_prints_help_and_exits_2(run_cli):
    result = run_cli()
    assert result.code == 2
    assert "usage: gee-cscc" in result.err


# --- bad inputs -------------------------------------------------------------------------------


def _gap(d, tmp):
    """A tif folder without 2003."""
    return ["--npp", write_tif_folder(tmp / "gap", d.cube, [2001, 2002, 2004, 2005, 2006])]


def _years_beyond_the_data(d, tmp):
    return ["--npp", d.npp_nc, "--start", "2001", "--end", "2007", "--reference", "2003"]


def _duplicate_tif(d, tmp):
    folder = write_tif_folder(tmp / "dup", d.cube)
    write_tif(d.cube.sel(year=2003, drop=True), folder / "other_2003.tif")
    return ["--npp", folder]


def _duplicate_netcdf_year(d, tmp):
    import xarray as xr

    path = tmp / "repeated_year.nc"
    xr.concat([d.cube, d.cube.sel(year=[2003])], dim="year").to_dataset().to_netcdf(path)
    return ["--npp", path]


def _wrong_band_netcdf(d, tmp):
    return ["--npp", d.npp_nc, "--band", "NPP_gC"]


def _wrong_band_asset(d, tmp):
    return ["--npp", populate_store(tmp / "store").npp, "--band", "NPP_gC"]


def _missing_npp_file(d, tmp):
    return ["--npp", tmp / "nowhere" / "npp.nc"]


def _missing_region_file(d, tmp):
    return ["--npp", d.npp_nc, "--regions", tmp / "provinces.geojson"]


def _unsupported_region_file(d, tmp):
    path = tmp / "provinces.kml"  # a shapefile or GeoPackage is read (region_files)
    path.write_bytes(b"\0" * 100)
    return ["--npp", d.npp_nc, "--regions", path]


def _missing_region_names(d, tmp):
    return ["--npp", d.npp_nc, "--regions", d.region_tif, "--region-names", tmp / "ids.csv"]


def _region_tif_on_another_grid(d, tmp):
    import xarray as xr

    ys, xs = coords()
    ids = xr.DataArray(region_ids(), dims=("y", "x"), coords={"y": ys, "x": xs + 0.5})
    path = write_tif(ids, tmp / "shifted_regions.tif", nodata=None)
    return ["--npp", d.npp_nc, "--regions", path, "--region-names", d.names]


def _tif_year_on_another_grid(d, tmp):
    folder = write_tif_folder(tmp / "grids", d.cube)
    shifted = d.cube.sel(year=2005, drop=True)
    write_tif(shifted.assign_coords(x=shifted.x + 0.25), folder / "npp_2005.tif")
    return ["--npp", folder]


BAD_INPUTS = {
    "missing year (tif folder)": (_gap, ["Year 2003", "missing"]),
    "missing year (config beyond the data)": (_years_beyond_the_data, ["Year 2007", "missing"]),
    "duplicate year (two tifs)": (_duplicate_tif, ["Year 2003", "npp_2003.tif", "other_2003.tif"]),
    "duplicate year (NetCDF)": (_duplicate_netcdf_year, ["Year 2003", "repeated_year.nc"]),
    "wrong band (NetCDF)": (_wrong_band_netcdf, ["'NPP_gC'", "npp.nc"]),
    "wrong band (asset)": (_wrong_band_asset, ["'NPP_gC'", "mine/npp"]),
    "missing NPP file": (_missing_npp_file, ["not found", "nowhere/npp.nc"]),
    "missing region file": (_missing_region_file, ["not found", "provinces.geojson"]),
    "unsupported region file": (_unsupported_region_file, ["'.kml'", "provinces.kml"]),
    "missing region names file": (_missing_region_names, ["not found", "ids.csv"]),
    "region tif on another grid": (_region_tif_on_another_grid, ["shifted_regions.tif", "grid"]),
    "tif year on another grid": (_tif_year_on_another_grid, ["npp_2005.tif", "year 2005", "grid"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_line_and_writes_nothing(case, cli_data, tmp_path, run_cli):
    make, words = BAD_INPUTS[case]
    args = [str(a) for a in make(cli_data, tmp_path)]
    if "--start" not in args:
        args += YEAR_ARGS
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{}\n")  # an earlier run's OUT
    (out / "earlier.txt").write_text("an earlier run\n")
    before = snapshot(out)
    result = run_cli("run", *args, "--store", tmp_path / "store", "--out", out, "--quiet")
    assert result.code == 1, result.err
    assert result.out == ""
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("gee-cscc run: error: "), line
    assert "Traceback" not in result.err
    for word in words:
        assert word in line, (word, line)
    assert snapshot(out) == before
    assert not staging_dirs(tmp_path)


def test_bad_input_without_out_creates_no_out(cli_data, tmp_path, run_cli):
    out = tmp_path / "never"
    args = _gap(cli_data, tmp_path)
    result = run_cli("run", *args, *YEAR_ARGS, "--store", tmp_path / "s", "--out", out)
    assert result.code == 1
    assert not out.exists()
    assert result.err.rstrip().splitlines()[-1].startswith("gee-cscc run: error: Year 2003")


def test_verbose_raises_with_the_traceback(cli_data, tmp_path, run_cli):
    args = _duplicate_tif(cli_data, tmp_path)
    with pytest.raises(InputError, match="Year 2003 appears twice"):
        run_cli("run", *args, *YEAR_ARGS, "--store", tmp_path / "s", "--verbose")


def test_progress_goes_to_stderr_unless_quiet(cli_data, tmp_path, run_cli, quick_report):
    args = ["--npp", cli_data.npp_nc, *YEAR_ARGS, "--store", tmp_path / "store"]
    loud = run_cli("run", *args, "--out", tmp_path / "loud")
    assert loud.code == 0, loud.err
    assert "validate input" in loud.err and "writing tables" in loud.err
    assert "CSCC:" in loud.out and "Outputs in" in loud.out
    quiet = run_cli("run", *args, "--out", tmp_path / "quiet", "--quiet")
    assert quiet.code == 0
    assert quiet.out == "" and quiet.err == ""


# --- --config ---------------------------------------------------------------------------------


def toml_path(path: Path) -> str:
    return json.dumps(str(path))  # a TOML basic string (JSON escaping is valid TOML)


def test_config_file_with_inputs_and_cli_overrides(cli_data, tmp_path, run_cli, quick_report):
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
[inputs]
npp = {toml_path(cli_data.npp_nc)}
regions = {toml_path(cli_data.geojson)}
out = {toml_path(tmp_path / "from-config")}
store = {toml_path(tmp_path / "store")}
counting = "local"

[years]
start = 2000
end = 2006
reference_year = 2004

[trend]
trend = "sen"
alpha = 0.1
"""
    )
    out = tmp_path / "from-cli"
    overrides = ["--start", "2001", "--reference", "2003", "--out", out, "--counting", "server"]
    result = run_cli("run", "--config", config, *overrides, "--quiet")
    assert result.code == 0, result.err
    assert not (tmp_path / "from-config").exists()  # --out overrides [inputs] out
    assert (tmp_path / "store").is_dir()  # [inputs] store is used
    info = json.loads((out / "run.json").read_text())
    cfg = info["config"]
    assert (cfg["start"], cfg["end"], cfg["reference_year"]) == (2001, 2006, 2003)
    assert cfg["pcs_years"] == [2001, 2003, 2006]  # the default follows the new years
    assert (cfg["trend"], cfg["alpha"]) == ("sen", 0.1)  # from the file
    assert info["inputs"]["npp"] == str(cli_data.npp_nc)
    assert info["inputs"]["regions"] == str(cli_data.geojson)
    assert info["counting"] == "server"  # --counting overrides [inputs] counting
    counts = read_tables(out)["maintenance_counts.csv"]
    assert counts["year"].min() == 2003


BAD_CONFIGS = {
    "start not an integer": ('[years]\nstart = "1981"\n', [], ["start", "'1981'"]),
    "alpha out of range": ("[trend]\nalpha = 2.0\n", [], ["alpha", "2.0"]),
    "unknown fit mode": ('[fit]\nfit_mode = "magic"\n', [], ["fit_mode", "'magic'"]),
    "misspelt key": ("[trend]\nalfa = 0.1\n", [], ["alfa", "alpha"]),
    "unknown inputs key": ('[inputs]\nnppp = "x.nc"\n', [], ["nppp", "[inputs]"]),
    "not TOML": ("[years\nstart = 1\n", [], ["not valid TOML"]),
    "bad override": ("", ["--reference", "2030"], ["reference_year", "2030"]),
    "no NPP input": ('[trend]\ntrend = "sen"\n', [], ["No NPP input", "--npp"]),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_is_one_line_naming_the_field(case, tmp_path, run_cli):
    text, extra, words = BAD_CONFIGS[case]
    config = tmp_path / "run.toml"
    config.write_text(text)
    npp = [] if case == "no NPP input" else ["--npp", "projects/local-project/assets/none"]
    store, out = tmp_path / "s", tmp_path / "o"
    result = run_cli("run", "--config", config, *npp, *extra, "--store", store, "--out", out, "-q")
    assert result.code == 1
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("gee-cscc run: error: ")
    for word in words:
        assert word in line, (word, line)
    if text and case != "no NPP input":
        assert str(config) in line  # a bad file is named
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "s").exists()  # rejected before the engine starts


def test_missing_config_file(tmp_path, run_cli):
    result = run_cli("run", "--config", tmp_path / "nope.toml", "--quiet")
    assert result.code == 1
    assert result.err_lines == [f"gee-cscc run: error: Config file not found: {tmp_path}/nope.toml"]


# --- demo ---------------------------------------------------------------------------------------


def small_demo_cube(*, resolution: float = 0.1, start: int = 1981, end: int = 2018, **_):
    """A stand-in for the demo's China-wide cube: 8×8 cells at 0.25° over Beijing–Tianjin."""
    from gee_cscc.testing import npp_cube

    # (The origin keeps every province vertex off the last row's centre line: see the report
    # of issue 4 on the engine's polygon fill.)
    return npp_cube(range(start, end + 1), (8, 8), origin=(115.8, 41.05), pixel_size=0.25)


def test_demo_command_on_a_small_cube(tmp_path, run_cli, monkeypatch, quick_report):
    """``gee-cscc demo`` end to end (paper years 1981–2018, provinces, synthetic flags) with
    the China-wide cube replaced by a small one; the real cube is the slow test below."""
    calls = []

    def fake_demo_npp(**kwargs):
        calls.append(kwargs)
        return small_demo_cube(**kwargs)

    monkeypatch.setattr("gee_cscc.demo.synthetic.demo_npp", fake_demo_npp)
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "--store", tmp_path / "store", "--quiet")
    assert result.code == 0, result.err
    assert calls == [{"resolution": 0.1}]
    info = json.loads((out / "run.json").read_text())
    assert info["inputs"]["synthetic"] is True
    assert "SYNTHETIC" in info["inputs"]["note"]
    assert info["inputs"]["npp"].endswith("demo/npp_0p1")
    assert (info["config"]["start"], info["config"]["end"]) == (1981, 2018)
    assert quick_report[0]["synthetic"] is True
    assert len(quick_report[0]["regions_geojson"]["features"]) == 34
    # the paper's five tables and the record-length two (the demo shows capacity_sensitivity)
    assert len(list((out / "tables").glob("*.csv"))) == 7
    assert info["config"]["capacity_sensitivity"] is True
    capacity = pd.read_csv(out / "tables" / "capacity_by_region.csv").set_index("region")
    assert capacity.index[0] == "ALL" and len(capacity) == 35  # ALL + 34 provinces
    assert capacity.loc["BJ", "vca_cells"] > 0 and capacity.loc["TJ", "vca_cells"] > 0
    assert capacity.loc["XJ", "vca_cells"] == 0  # far from the small cube
    assert capacity.loc["ALL", "vca_cells"] == 64
    provinces = capacity.drop("ALL")
    assert provinces["vca_cells"].sum() == 64  # every cell lies in exactly one province
    assert capacity.loc["ALL", "cscc_tg"] == pytest.approx(provinces["cscc_tg"].sum(), rel=1e-9)


@pytest.mark.slow
def test_demo_at_01_degree_matches_the_paper(tmp_path, run_cli):
    """The real demo (about 2 minutes): the report and Table 1's ALL row (CSCC 4134 Tg)."""
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "--store", tmp_path / "store", "--quiet")
    assert result.code == 0, result.err
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC" in html.upper()
    capacity = pd.read_csv(out / "tables" / "capacity_by_region.csv").set_index("region")
    assert capacity.loc["ALL", "cscc_tg"] == pytest.approx(4134.34, rel=0.15)
    assert capacity.loc["ALL", "current_npp_tg"] == pytest.approx(3255.26, rel=0.15)
    assert capacity.loc["ALL", "cscc_mean_gm2"] == pytest.approx(658.59, rel=0.15)
    assert len(capacity) == 35


def test_config_paths_are_relative_to_the_config_file(cli_data, tmp_path, run_cli, quick_report):
    """Relative paths in [inputs] are read from the config file's folder, not the cwd."""
    import shutil

    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(cli_data.npp_nc, folder / "npp.nc")
    shutil.copy(cli_data.geojson, folder / "regions.geojson")
    (folder / "run.toml").write_text(
        '[inputs]\nnpp = "npp.nc"\nregions = "regions.geojson"\nout = "results"\nstore = "store"\n'
        "[years]\nstart = 2001\nend = 2006\nreference_year = 2003\n"
    )
    result = run_cli("run", "--config", folder / "run.toml", "--quiet")
    assert result.code == 0, result.err
    assert (folder / "results" / "tables" / "capacity_by_region.csv").is_file()
    assert (folder / "store").is_dir()


def test_extent_regions_option(cli_data, tmp_path, run_cli, quick_report):
    """--extent regions cuts the grid to the regions' bounding box (recorded in run.json)."""
    out = tmp_path / "out"
    result = run_cli(
        "run",
        "--npp",
        cli_data.npp_nc,
        "--regions",
        cli_data.geojson,
        "--start",
        "2001",
        "--end",
        "2006",
        "--reference",
        "2003",
        "--extent",
        "regions",
        "--out",
        out,
        "--store",
        tmp_path / "store",
        "--quiet",
    )
    assert result.code == 0, result.err
    info = json.loads((out / "run.json").read_text())
    assert info["extent"] == "regions"
    height, width = info["grid"]["shape"]
    assert height * width <= 5 * 6
