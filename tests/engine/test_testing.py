"""The public test helpers in gee_cscc.testing: cube generators, grids, pixel assertions,
the engine context manager and the network blocker."""

from __future__ import annotations

import socket

import ee
import numpy as np
import pytest

from gee_cscc.testing import (
    EDGE_CASES,
    NetworkBlockedError,
    assert_pixels_equal,
    block_network,
    compute_pixels,
    edge_case_cube,
    grid,
    grid_of,
    local_engine,
    npp_cube,
    safe_asset_part,
)


def series(cube, case: str) -> np.ndarray:
    r, c = EDGE_CASES[case]
    return cube.values[:, r, c]


def test_npp_cube_shape_coordinates_and_values():
    cube = npp_cube(range(2001, 2005), (3, 4), origin=(100.0, 40.0), pixel_size=0.5)
    assert cube.dims == ("year", "y", "x")
    assert cube["year"].values.tolist() == [2001, 2002, 2003, 2004]
    np.testing.assert_allclose(cube["x"], [100.25, 100.75, 101.25, 101.75])
    np.testing.assert_allclose(cube["y"], [39.75, 39.25, 38.75])  # north up
    assert cube.attrs["crs"] == "EPSG:4326"
    assert cube.attrs["transform"] == (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)
    v = cube.values
    assert ((v >= 100) & (v < 1200)).all()
    assert (v * 2 == np.round(v * 2)).all()  # multiples of 0.5
    for s in v.reshape(4, -1).T:
        assert len(set(s)) == 4  # no accidental ties
    np.testing.assert_array_equal(npp_cube(seed=1).values, npp_cube(seed=1).values)
    assert not np.array_equal(npp_cube(seed=1).values, npp_cube(seed=2).values)


def test_npp_cube_gaps_and_masked_cells():
    cube = npp_cube(gaps=0.3, seed=5, masked_cells=[(1, 2)])
    assert np.isnan(cube.values[:, 1, 2]).all()
    frac = np.isnan(cube.values).mean()
    assert 0.15 < frac < 0.5
    with pytest.raises(ValueError, match="duplicate years"):
        npp_cube([2001, 2001])


def test_edge_case_cube_layout():
    cube = edge_case_cube(range(2001, 2007))
    assert np.isnan(series(cube, "all_masked")).all()
    assert np.isnan(series(cube, "one_gap")).tolist() == [False, True] + [False] * 4
    tie = series(cube, "tie_max")
    assert tie[0] == tie[-1] == 1500.0 and (tie[1:-1] < 1500.0).all()
    assert (series(cube, "flat") == 400.0).all()
    neg = series(cube, "negative")
    assert (neg < 0).all() and len(set(neg)) == 6
    mixed = series(cube, "mixed_sign")
    assert (mixed < 0).any() and (mixed > 0).any() and (mixed == 0).any()
    single = series(cube, "single_valid")
    assert np.flatnonzero(~np.isnan(single)).tolist() == [3] and single[3] == 700.0
    assert (series(cube, "zero") == 0.0).all()
    ordinary = cube.values[:, 2:, :].reshape(6, -1).T
    assert all(len(set(s)) == 6 for s in ordinary)
    with pytest.raises(ValueError, match="at least 3 years"):
        edge_case_cube(range(2001, 2003))
    with pytest.raises(ValueError, match=r"\(2, 5\) plane"):
        edge_case_cube(shape=(2, 4))


def test_grid_helpers():
    g = grid((0.5, 0, 100.0, 0, -0.5, 40.0), (3, 4))
    assert g["dimensions"] == {"width": 4, "height": 3}
    assert g["affineTransform"]["translateY"] == 40.0
    assert g["crsCode"] == "EPSG:4326"
    cube = npp_cube(shape=(3, 4))
    assert grid_of(cube) == g
    no_attr = cube.copy()
    no_attr.attrs = {}
    assert grid_of(no_attr) == g  # from the coordinates


def test_assert_pixels_equal():
    expected = np.array([[1.0, np.nan], [3.0, 4.0]])
    ok = np.ma.MaskedArray([[1.0, 0.0], [3.0, 4.0]], mask=[[False, True], [False, False]])
    assert_pixels_equal(ok, expected)
    with pytest.raises(AssertionError, match="masks differ"):
        assert_pixels_equal(np.ma.MaskedArray(ok.data), expected)
    with pytest.raises(AssertionError, match="values differ"):
        assert_pixels_equal(ok * 2, expected)
    with pytest.raises(AssertionError, match="shape"):
        assert_pixels_equal(ok[:1], expected)


def test_safe_asset_part():
    assert safe_asset_part("test_x[a-b c]") == "test_x_a-b_c"
    assert safe_asset_part("///") == "x"


def test_block_network_restores_socket_functions():
    before = (socket.create_connection, socket.getaddrinfo, socket.socket.connect)
    with block_network() as inner:
        with pytest.raises(NetworkBlockedError):
            socket.getaddrinfo("example.org", 80)
        assert inner.attempts == ["example.org"]
    assert (socket.create_connection, socket.getaddrinfo, socket.socket.connect) == before


def test_nested_local_engine_points_ee_back(engine):
    with local_engine() as inner:
        assert ee.data._get_state().cloud_api_base_url == inner.url
        inner.store.put_image("only_here", npp_cube(range(2001, 2002)).isel(year=0, drop=True))
        assert ee.data.getAsset(inner.asset_id("only_here"))["type"] == "IMAGE"
    assert ee.data._get_state().cloud_api_base_url == engine.url
    with pytest.raises(ee.EEException, match="not found"):
        ee.data.getAsset(engine.asset_id("only_here"))


def test_compute_pixels_helper(engine, tmp_asset):
    cube = edge_case_cube(range(2001, 2004))
    asset = tmp_asset()
    engine.store.put_image(asset, cube.sel(year=2002, drop=True))
    got = compute_pixels(ee.Image(asset), grid_of(cube))
    assert list(got) == ["npp"]
    assert_pixels_equal(got["npp"], cube.sel(year=2002).values)
