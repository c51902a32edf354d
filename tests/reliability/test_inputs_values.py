"""NPP values and units that used to give silent wrong answers or one vague message (issue 10).

Local files are checked by the readers (NumPy), assets on the engine in one request
(:func:`gee_cscc.method.checks.check_inputs`); both refuse with a message of their own for
all-NaN input, a fully-NaN year, implausible values (year and count), no full series and no
vegetated cell. Expected counts come from NumPy on the same cube.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import REFERENCE, reference
from input_files import YEARS, capacity, cli, cube_with, make_cube, nc

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.method import load_annual_npp
from gee_cscc.method.checks import check_inputs
from gee_cscc.stats.tables import trend_series_summary
from gee_cscc.workflow.file_checks import units_factor
from gee_cscc.workflow.readers import read_npp

CFG = Config(start=YEARS[0], end=YEARS[-1], reference_year=REFERENCE)


def _bad_cubes() -> dict[str, tuple[np.ndarray, str]]:
    """Hostile cubes and the message each gets (``{name}`` = how the input is named)."""
    cube = make_cube()
    all_nan = np.full_like(cube, np.nan)
    year_nan = cube.copy()
    year_nan[2] = np.nan  # 2003
    negative = -np.abs(cube)
    gaps = cube.copy()
    for i in range(len(YEARS)):  # every cell misses one year, no year is empty
        gaps[i].flat[i :: len(YEARS)] = np.nan
    huge = cube.copy()
    huge[3, 1, 2] = 1e30  # 2004: two implausible cells
    huge[3, 2, 2] = -5e4
    return {
        "all-nan": (all_nan, r"{name} has no valid value in any year"),
        "year-nan": (year_nan, r"NPP year 2003 of {name} has no valid cell"),
        "negative": (negative, r"No vegetated cell in {name}: the mean NPP over the years is <= 0"),
        "gaps": (gaps, r"No cell of {name} has a valid value in every year"),
        "1e30": (
            huge,
            r"NPP year 2004 of {name} has 2 cell\(s\) with \|NPP\| > 10000 g C m-2 yr-1",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_cubes()))
def test_local_file_gets_its_own_message(case, tmp_path):
    values, pattern = _bad_cubes()[case]
    path = nc(tmp_path / f"{case}.nc", cube_with(values))
    with pytest.raises(InputError, match=pattern.format(name=re.escape(f"NPP file {path}"))):
        read_npp(path, cfg=CFG)


@pytest.mark.parametrize("case", list(_bad_cubes()))
def test_asset_gets_its_own_message_from_one_server_request(case, engine, tmp_asset):
    values, pattern = _bad_cubes()[case]
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube_with(values), band="npp")
    annual = load_annual_npp(asset, CFG)
    with pytest.raises(InputError, match=pattern.format(name=re.escape(f"'{asset}'"))):
        check_inputs(annual, None, CFG)


def test_asset_implausible_counts_are_made_only_for_the_years_beyond_the_bound(engine, tmp_asset):
    """The interactive check reads per-year min/max; the years beyond ±max_abs_npp are then
    counted (a second request), so the message gives NumPy's counts."""
    cube = make_cube()
    cube[1, 0, 3] = -2.5e4  # 2002: one implausible cell
    cube[3, 1, 2] = 1e30  # 2004: three
    cube[3, 2, 2] = -5e4
    cube[3, 0, 0] = 10000.5
    over = np.abs(np.nan_to_num(cube)) > CFG.max_abs_npp
    assert [int(over[i].sum()) for i in range(len(YEARS))][1:4] == [1, 0, 3]
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube_with(cube), band="npp")
    annual = load_annual_npp(asset, CFG)
    pattern = (
        rf"NPP year 2002 of '{re.escape(asset)}' has {int(over[1].sum())} cell\(s\) with "
        r"\|NPP\| > 10000 g C m-2 yr-1 .*\(largest 25000; 2 year\(s\) affected\)"
    )
    with pytest.raises(InputError, match=pattern):
        check_inputs(annual, None, CFG)
    cube[1, 0, 3] = 500.0  # now 2004 is the first
    asset = tmp_asset("npp2")
    engine.store.put_collection(asset, cube_with(cube), band="npp")
    with pytest.raises(InputError, match=r"NPP year 2004 .* has 3 cell\(s\) .*1 year\(s\)"):
        check_inputs(load_annual_npp(asset, CFG), None, CFG)


def test_asset_check_counts_match_numpy(engine, tmp_asset):
    cube = make_cube()
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube_with(cube), band="npp")
    report = check_inputs(load_annual_npp(asset, CFG), None, CFG)
    valid = ~np.isnan(cube)
    full = valid.all(axis=0)
    vca = full & (np.where(full, np.nan_to_num(cube).mean(axis=0), 0) > 0)
    assert report == {
        "valid_cells": {y: int(valid[i].sum()) for i, y in enumerate(YEARS)},
        "cells_valid_every_year": int(full.sum()),
        "vca_cells": int(vca.sum()),
    }
    assert report["vca_cells"] == int(reference().vca.sum()) == 27


def test_infinite_values_count_as_implausible(tmp_path):
    cube = make_cube()
    cube[1, 0, 3] = np.inf
    path = nc(tmp_path / "inf.nc", cube_with(cube))
    with pytest.raises(InputError, match=r"NPP year 2002 .* has 1 cell\(s\) .* \(largest inf;"):
        read_npp(path, cfg=CFG)


def test_implausible_bound_is_the_config_value(tmp_path):
    cube = make_cube()
    path = nc(tmp_path / "npp.nc", cube_with(cube))
    cfg = CFG.replace(max_abs_npp=700.0)
    over = np.abs(np.nan_to_num(cube)) > 700.0
    first = int(np.flatnonzero(over.any(axis=(1, 2)))[0])
    n = int(over[first].sum())
    with pytest.raises(
        InputError, match=rf"NPP year {YEARS[first]} .* has {n} cell\(s\) with \|NPP\| > 700 "
    ):
        read_npp(path, cfg=cfg)
    assert read_npp(path, cfg=CFG.replace(max_abs_npp=1e4)).data.shape == cube.shape


def test_scaled_values_are_checked_after_scale_factor(tmp_path):
    # Stored × 0.1 (like MODIS): 12345 stored is 1234.5 g C m-2 yr-1, plausible.
    cube = make_cube() * 10
    path = nc(tmp_path / "stored.nc", cube_with(cube).drop_attrs())
    got = read_npp(path, cfg=CFG.replace(scale_factor=0.1)).data
    np.testing.assert_array_equal(got.values, cube_with(cube).values)
    with pytest.raises(InputError, match=r"has \d+ cell\(s\) with \|NPP\| > 10000"):
        read_npp(path, cfg=CFG.replace(scale_factor=10.0))


def test_1e30_declared_as_fill_value_is_masked_and_the_run_is_right(tmp_path, monkeypatch):
    cube = make_cube()
    filled = np.where(np.isnan(cube), np.float32(1e30), cube)
    da = cube_with(filled)
    da.encoding["_FillValue"] = np.float32(1e30)
    path = nc(tmp_path / "filled.nc", da)
    code, err = cli(tmp_path, monkeypatch, "--npp", path)
    assert (code, err) == (0, [])
    got = capacity(tmp_path / "out").loc["ALL"]
    ref = reference().capacity["ALL"]
    assert int(got["vca_cells"]) == ref["vca_cells"]
    assert got["cscc_tg"] == pytest.approx(ref["cscc_tg"], rel=1e-9)


def test_1e30_undeclared_is_refused_by_the_cli_in_one_line(tmp_path, monkeypatch):
    values, _ = _bad_cubes()["1e30"]
    path = nc(tmp_path / "huge.nc", cube_with(values))
    code, err = cli(tmp_path, monkeypatch, "--npp", path)
    assert code == 1
    assert err == [
        f"gee-cscc run: error: NPP year 2004 of NPP file {path} has 2 cell(s) with |NPP| > 10000 "
        "g C m-2 yr-1 (largest 1e+30; 1 year(s) affected): declare the fill value (_FillValue / "
        "nodata) or fix scale_factor; if the values are real, raise max_abs_npp under [input]."
    ]


def test_implausible_asset_is_refused_by_the_cli(tmp_path, monkeypatch):
    from gee_cscc.engine import AssetStore

    values, _ = _bad_cubes()["1e30"]
    asset = "projects/local-project/assets/mine/huge"
    AssetStore(tmp_path / "store").put_collection(asset, cube_with(values), band="npp")
    code, err = cli(tmp_path, monkeypatch, "--npp", asset)
    assert code == 1 and len(err) == 1
    assert f"NPP year 2004 of '{asset}' has 2 cell(s) with |NPP| > 10000" in err[0]


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "factor"),
    [
        ("g C m-2 yr-1", 1.0),
        ("gC/m2/yr", 1.0),
        ("g C m^-2 year^-1", 1.0),
        ("kg C m-2 yr-1", 1000.0),
        ("kg C m-2", 1000.0),
        ("kgC m**-2", 1000.0),
        ("g C m-2", 1.0),
        ("Mg C ha-1 yr-1", 1e6 / 1e4),
        ("mg C m-2", 1e-3),
    ],
)
def test_known_units_convert_to_g_c_per_m2_and_year(units, factor):
    assert units_factor(units) == pytest.approx(factor)


@pytest.mark.parametrize(
    "units", ["kg m-2 s-1", "g m-2 yr-1", "mol m-2 s-1", "gC/m2/day", "K", "%"]
)
def test_unknown_units_are_refused(units):
    with pytest.raises(InputError, match=re.escape(f"units '{units}' are not a mass of carbon")):
        units_factor(units)


def test_kg_file_is_converted_and_the_run_is_right(tmp_path, monkeypatch):
    cube = make_cube()
    path = nc(tmp_path / "kg.nc", cube_with(cube / 1000).drop_attrs(), units="kg C m-2 yr-1")
    np.testing.assert_allclose(read_npp(path, cfg=CFG).data.values, cube, rtol=1e-6)
    code, err = cli(tmp_path, monkeypatch, "--npp", path)
    assert (code, err) == (0, [])
    got = capacity(tmp_path / "out").loc["ALL"]
    assert got["cscc_tg"] == pytest.approx(reference().capacity["ALL"]["cscc_tg"], rel=1e-6)


def test_units_and_scale_factor_together_are_refused(tmp_path):
    path = nc(tmp_path / "kg.nc", cube_with(make_cube() / 1000).drop_attrs(), units="kg C m-2")
    with pytest.raises(
        InputError,
        match=r"declares its units \('kg C m-2'.* the file's units win; set scale_factor = 1",
    ):
        read_npp(path, cfg=CFG.replace(scale_factor=0.1))


def test_unknown_units_in_a_file_name_the_file(tmp_path):
    path = nc(tmp_path / "flux.nc", cube_with(make_cube()).drop_attrs(), units="kg m-2 s-1")
    with pytest.raises(InputError, match=rf"NPP file {re.escape(str(path))}: units 'kg m-2 s-1'"):
        read_npp(path, cfg=CFG)


# --- the yearly series fallback ---------------------------------------------------------------


def test_series_without_vegetation_says_so():
    with pytest.raises(InputError, match=r"The area has no vegetation-covered cell"):
        trend_series_summary([2001, 2002, 2003], [np.nan, np.nan, np.nan])


def test_series_with_an_infinite_year_names_it():
    with pytest.raises(InputError, match=r"The mean NPP of year 2002 is inf \(not finite\)"):
        trend_series_summary([2001, 2002, 2003], [1.0, np.inf, 2.0])


def test_packed_file_is_unpacked_once(tmp_path):
    cube = make_cube()
    da = cube_with(cube).drop_attrs()
    da.encoding.update(dtype="int16", scale_factor=0.5, add_offset=0.0, _FillValue=-32767)
    path = nc(tmp_path / "packed.nc", da)
    got = read_npp(path, cfg=CFG).data  # int16 × 0.5: the cube's values are multiples of 0.5
    np.testing.assert_array_equal(got.values, cube)
    with pytest.raises(
        InputError,
        match=r"packed\.nc is packed \(scale_factor 0\.5, add_offset 0, applied when reading\) "
        r"and the configuration sets scale_factor = 0\.1, offset = 0 too: the file's packing wins",
    ):
        read_npp(path, cfg=CFG.replace(scale_factor=0.1))


@pytest.mark.parametrize("case", ["all-nan", "year-nan", "negative"])
def test_the_three_old_vague_cases_are_three_clear_cli_lines(case, tmp_path, monkeypatch):
    values, pattern = _bad_cubes()[case]
    path = nc(tmp_path / f"{case}.nc", cube_with(values))
    code, err = cli(tmp_path, monkeypatch, "--npp", path)
    assert code == 1 and len(err) == 1
    prefix = re.escape("gee-cscc run: error: ")
    assert re.match(prefix + ".*" + pattern.format(name=re.escape(f"NPP file {path}")), err[0])
    assert "mean_npp must be finite" not in err[0]
