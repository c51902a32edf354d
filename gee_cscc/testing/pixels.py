"""Pixels of an ``ee.Image`` on an exact grid, and comparing them with NumPy.

:func:`compute_pixels` asks the engine for an image's values and masks on a grid
(``ee.data.computePixels``), :func:`grid` and :func:`grid_of` make that grid, and
:func:`assert_pixels_equal` compares the result with a NumPy array in which NaN means masked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gee_cscc.method.grid import GridSpec

__all__ = ["assert_pixels_equal", "compute_pixels", "grid", "grid_of"]


def grid(transform: Sequence[float], shape: tuple[int, int], crs: str = "EPSG:4326") -> dict:
    """A ``computePixels`` grid: Earth Engine's 6-number affine, ``(height, width)``, CRS."""
    return GridSpec(crs, tuple(transform), shape).compute_pixels_grid()


def grid_of(data: Any) -> dict:
    """The ``computePixels`` grid of a DataArray's ``(y, x)`` pixels (north up).

    Uses the ``transform`` attribute when present, else the pixel-centre coordinates
    (at least two along each axis); see :meth:`gee_cscc.method.grid.GridSpec.from_dataarray`.
    """
    return GridSpec.from_dataarray(data).compute_pixels_grid()


def _structured_to_dict(arr: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(arr[name], dtype=np.float64) for name in arr.dtype.names}


def compute_pixels(image: Any, grid_spec: Mapping[str, Any]) -> dict[str, np.ma.MaskedArray]:
    """An ``ee.Image``'s pixels on a grid: ``{band: masked array (h, w) of float64}``.

    Two ``ee.data.computePixels`` requests (NUMPY_NDARRAY): the image itself for values
    and ``image.mask()`` for masks (a pixel is masked where its mask is 0).
    """
    import ee

    def fetch(img: Any) -> dict[str, np.ndarray]:
        arr = ee.data.computePixels(
            {"expression": img, "fileFormat": "NUMPY_NDARRAY", "grid": dict(grid_spec)}
        )
        return _structured_to_dict(arr)

    values = fetch(image)
    masks = fetch(ee.Image(image).mask())
    return {
        name: np.ma.MaskedArray(v, mask=~(m > 0))
        for (name, v), m in zip(values.items(), masks.values(), strict=True)
    }


def assert_pixels_equal(
    actual: np.ma.MaskedArray | np.ndarray,
    expected: np.ndarray,
    *,
    rtol: float = 1e-12,
    atol: float = 0.0,
    what: str = "pixels",
) -> None:
    """Assert a masked array equals ``expected`` (a NumPy array where NaN means masked).

    The masks must match exactly; valid values must agree within ``rtol``/``atol``.
    """
    expected = np.asarray(expected, dtype=float)
    act_mask = np.ma.getmaskarray(actual)
    act = np.asarray(np.ma.getdata(actual), dtype=float)
    if act.shape != expected.shape:
        raise AssertionError(f"{what}: shape {act.shape} != expected {expected.shape}")
    exp_mask = np.isnan(expected)
    if not np.array_equal(act_mask, exp_mask):
        raise AssertionError(
            f"{what}: masks differ (True = masked)\nactual:\n{act_mask.astype(int)}\n"
            f"expected:\n{exp_mask.astype(int)}"
        )
    valid = ~exp_mask
    if not np.allclose(act[valid], expected[valid], rtol=rtol, atol=atol, equal_nan=False):
        shown = np.where(act_mask, np.nan, act)
        raise AssertionError(f"{what}: values differ\nactual:\n{shown}\nexpected:\n{expected}")
