"""A pull's expression is interpreted once, not once per chunk (service/evaluated.py).

The pixels must be those of the stored asset as it is when the request comes: rewriting
the asset, or changing who may read it, must be seen by the next request. Expected values
are computed here with NumPy from the arrays written.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.engine.core import evaluate as evaluate_module
from gee_cscc.engine.core.context import RequestContext, request_context
from gee_cscc.engine.service import evaluated
from gee_cscc.engine.service.server import WORKERS
from gee_cscc.testing import grid, image_of

TRANSFORM = (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)
SHAPE = (6, 8)


@pytest.fixture
def counted(monkeypatch):
    """How many times the interpreter evaluated a whole request expression."""
    calls = []
    real = evaluate_module.evaluate

    def counting(expression):
        calls.append(1)
        return real(expression)

    monkeypatch.setattr(evaluate_module, "evaluate", counting)
    evaluated.clear()
    yield calls
    evaluated.clear()


def _values(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).uniform(0, 100, SHAPE)
    values[2, 3] = np.nan
    return values


def _window(row0: int, col0: int, h: int, w: int) -> dict:
    a, b, c, d, e, f = TRANSFORM
    return grid((a, b, c + a * col0, d, e, f + e * row0), (h, w))


def _pixels(image, grid_spec) -> np.ndarray:
    arr = ee.data.computePixels(
        {"expression": image, "fileFormat": "NUMPY_NDARRAY", "grid": grid_spec}
    )
    return np.asarray(arr[arr.dtype.names[0]], dtype=float)


def _expected(values: np.ndarray, row0: int, col0: int, h: int, w: int) -> np.ndarray:
    part = values[row0 : row0 + h, col0 : col0 + w] * 3 + 1
    return np.where(np.isnan(part), 0.0, part)  # masked: 0 in computePixels' arrays


def test_chunks_of_one_expression_are_evaluated_once(engine, tmp_asset, counted):
    asset = tmp_asset("img")
    values = _values(1)
    engine.store.put_image(asset, image_of(values, TRANSFORM, name="b"))
    image = ee.Image(asset).multiply(3).add(1)
    windows = [(r, c, 3, 2) for r in (0, 3) for c in (0, 2, 4, 6)]  # 8 chunks
    for window in windows:
        np.testing.assert_allclose(_pixels(image, _window(*window)), _expected(values, *window))
    # Once per worker thread that served a chunk (an evaluated image is kept per thread),
    # never once per chunk.
    assert 1 <= len(counted) <= min(WORKERS, len(windows) - 1)
    # Another expression is evaluated on its own.
    before = len(counted)
    np.testing.assert_allclose(
        _pixels(ee.Image(asset).multiply(2), _window(0, 0, 6, 8)),
        np.where(np.isnan(values), 0.0, values * 2),
    )
    assert len(counted) == before + 1


def test_a_rewritten_asset_is_read_again(engine, tmp_asset, counted):
    asset = tmp_asset("img")
    first, second = _values(2), _values(3)
    engine.store.put_image(asset, image_of(first, TRANSFORM, name="b"))
    image = ee.Image(asset).multiply(3).add(1)
    np.testing.assert_allclose(_pixels(image, _window(0, 0, 6, 8)), _expected(first, 0, 0, 6, 8))
    engine.store.put_image(asset, image_of(second, TRANSFORM, name="b"), overwrite=True)
    np.testing.assert_allclose(_pixels(image, _window(0, 0, 6, 8)), _expected(second, 0, 0, 6, 8))
    assert len(counted) == 2


def test_a_failed_evaluation_is_not_kept(engine, tmp_asset, counted):
    asset = tmp_asset("later")
    image = ee.Image(asset).multiply(3).add(1)
    for _ in range(2):
        with pytest.raises(ee.EEException, match="not found"):
            _pixels(image, _window(0, 0, 6, 8))
    values = _values(4)
    engine.store.put_image(asset, image_of(values, TRANSFORM, name="b"))
    np.testing.assert_allclose(_pixels(image, _window(0, 0, 6, 8)), _expected(values, 0, 0, 6, 8))
    assert len(counted) == 3


def test_the_key_names_the_caller_the_asset_files_and_the_folders_above(engine, tmp_asset):
    asset = tmp_asset("img")
    engine.store.put_image(asset, image_of(_values(5), TRANSFORM, name="b"))
    expression = ee.serializer.encode(ee.Image(asset).add(1), for_cloud_api=True)

    def key(user: str) -> tuple:
        with request_context(RequestContext(store=engine.store, user=user)):
            return evaluated.expression_key(expression)

    a = key("user:a")
    assert a == key("user:a")
    assert a != key("user:b")  # pixels are never shared between callers
    # Read access is inherited from the folders above: a changed policy there is a new key.
    parent = asset.rsplit("/", 1)[0]
    policy = engine.store.get_policy(parent)
    engine.store.set_policy(
        parent, {"bindings": [*policy["bindings"], {"role": "roles/viewer", "members": ["user:c"]}]}
    )
    assert key("user:a") != a


def test_an_asset_named_by_a_computed_id_has_no_key(engine):
    name = ee.String("projects/local-project/assets/").cat("x")
    expression = ee.serializer.encode(ee.Image(ee.Image.load(name)), for_cloud_api=True)
    with request_context(RequestContext(store=engine.store, user="user:a")):
        assert evaluated.expression_key(expression) is None
