"""``Array.reduce/accum/sort/argmax/mask/repeat/pad/cut/bitsToArray`` against NumPy (their
descriptions in earthengine-api's algorithms.json)."""

from __future__ import annotations

import ee
import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("engine")

M = np.array([[1, 5, 3], [4, 2, 6]])


def test_reduce_keeps_the_reduced_axes_with_length_one():
    a = ee.Array(M.tolist())
    assert a.reduce(ee.Reducer.sum(), [0]).getInfo() == M.sum(axis=0, keepdims=True).tolist()
    assert a.reduce(ee.Reducer.max(), [1]).getInfo() == M.max(axis=1, keepdims=True).tolist()
    assert a.reduce(ee.Reducer.mean(), [0, 1]).getInfo() == [[M.mean()]]
    # a two-input reducer takes its inputs from fieldAxis: x = column 0, y = column 1
    pts = np.array([[1.0, 2.0], [3.0, 5.0], [4.0, 5.5]])
    slope, offset = np.polyfit(pts[:, 0], pts[:, 1], 1)
    got = ee.Array(pts.tolist()).reduce(ee.Reducer.linearFit(), [0], 1).getInfo()
    np.testing.assert_allclose(got, [[slope, offset]], rtol=1e-12)
    with pytest.raises(ee.EEException, match="give fieldAxis"):
        ee.Array(pts.tolist()).reduce(ee.Reducer.linearFit(), [0]).getInfo()


def test_accum_sort_argmax():
    a = ee.Array(M.tolist())
    assert a.accum(1).getInfo() == np.cumsum(M, axis=1).tolist()
    assert a.accum(0, ee.Reducer.max()).getInfo() == np.maximum.accumulate(M, axis=0).tolist()
    assert ee.Array([3, 1, 2]).sort().getInfo() == [1, 2, 3]
    assert a.sort(ee.Array([[2], [1]])).getInfo() == M[::-1].tolist()
    assert a.argmax().getInfo() == list(np.unravel_index(M.argmax(), M.shape))
    assert ee.Array([1, 7, 7]).argmax().getInfo() == [1]  # the first maximum


def test_mask_repeat_pad_cut_bits():
    assert ee.Array([1, 2, 3, 4]).mask(ee.Array([1, 0, 0, 1])).getInfo() == [1, 4]
    assert ee.Array(M.tolist()).mask(ee.Array([[0], [1]])).getInfo() == [M[1].tolist()]
    assert ee.Array([1, 2]).repeat(0, 3).getInfo() == [1, 2, 1, 2, 1, 2]
    assert ee.Array(M.tolist()).repeat(1).getInfo() == np.concatenate([M, M], axis=1).tolist()
    assert ee.Array([1, 2]).pad([4], 9).getInfo() == [1, 2, 9, 9]
    assert ee.Array([1, 2, 3]).pad([2]).getInfo() == [1, 2, 3]  # already longer: unchanged
    assert ee.Array(M.tolist()).cut([-1, 1]).getInfo() == M[:, 1:2].tolist()
    assert ee.Array.bitsToArray(6).getInfo() == [0, 1, 1]
    assert ee.Array.bitsToArray(0).getInfo() == [0]


def test_matrix_numbers_and_element_functions():
    from scipy import special

    m = [[1, 2], [3, 4]]
    assert ee.Array(m).matrixDeterminant().getInfo() == pytest.approx(np.linalg.det(m))
    assert ee.Array(m).matrixTrace().getInfo() == 5
    assert ee.Array([[3], [4]]).matrixFnorm().getInfo() == pytest.approx(5.0)
    assert ee.Array([[3], [4]]).matrixToDiag().getInfo() == [[3, 0], [0, 4]]
    assert ee.Array([7, -1]).bitCount().getInfo() == [3, 64]
    np.testing.assert_allclose(
        ee.Array([1.0, 2.5]).trigamma().getInfo(), special.polygamma(1, [1, 2.5])
    )
    want = special.gammainc([2.0, 3.0], [1.0, 4.0])
    np.testing.assert_allclose(ee.Array([2.0, 3.0]).gammainc(ee.Array([1.0, 4.0])).getInfo(), want)
    assert ee.Number(2.0).gammainc(1.0).getInfo() == pytest.approx(want[0])  # same order


def test_an_array_is_of_type_array():
    assert ee.Algorithms.ObjectType(ee.Array([1, 2])).getInfo() == "Array"
    assert ee.Algorithms.ObjectType(ee.List([1, 2])).getInfo() == "List"
