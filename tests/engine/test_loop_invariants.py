"""An invocation inside a function's body that uses none of the function's arguments is
evaluated once, not at every call (core/evaluate.py).

The ``ee`` client inlines every value that is referenced once, so a mask computed outside a
``map`` and applied inside it travels inside the mapped body. Evaluated at every call, it
was a new image each time, and the tile's pixel cache computed its pixels once per year
(the maintenance surfaces re-reduced the vegetation mask 19 times per tile). Expected
values are written by hand or computed with NumPy here.
"""

from __future__ import annotations

import json

import ee
import numpy as np
import pytest

from gee_cscc.engine.core import evaluate as evaluate_module
from gee_cscc.engine.core import registry
from gee_cscc.testing import grid, image_of

TRANSFORM = (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)
SHAPE = (4, 5)


@pytest.fixture
def calls(monkeypatch):
    """The algorithm names the interpreter invoked, in order."""
    names: list[str] = []
    real = registry.call

    def counting(name, args):
        names.append(name)
        return real(name, args)

    monkeypatch.setattr(registry, "call", counting)
    return names


def _graph(obj) -> dict:
    return json.loads(obj.serialize(for_cloud_api=True))


def _inlined_in_a_body(graph: dict, algorithm: str) -> bool:
    """Whether ``algorithm`` is invoked inside a function body's value (not its own key)."""
    for value in graph["values"].values():
        text = json.dumps(value)
        if f'"{algorithm}"' in text and not text.startswith(
            '{"functionInvocationValue": {"functionName": "' + algorithm + '"'
        ):
            return True
    return False


def test_a_closed_invocation_in_a_map_body_is_evaluated_once(engine, calls):
    seq = ee.List.sequence(1, 5).map(lambda x: ee.Number(x).add(ee.Number(10).multiply(3)))
    graph = _graph(seq)
    assert _inlined_in_a_body(graph, "Number.multiply")  # the case this is about
    assert evaluate_module.evaluate(graph) == [31, 32, 33, 34, 35]
    assert calls.count("Number.multiply") == 1
    assert calls.count("Number.add") == 5  # uses the argument: once per element


def test_an_invocation_using_an_outer_argument_is_evaluated_per_outer_call(engine, calls):
    outer = ee.List([1, 2])
    result = outer.map(
        lambda x: ee.List([10, 20]).map(lambda y: ee.Number(y).add(ee.Number(x).multiply(100)))
    )
    assert evaluate_module.evaluate(_graph(result)) == [[110, 120], [210, 220]]
    # ``x * 100`` is free in the inner body (x is the outer argument): evaluated at each
    # inner call, with that call's x; nothing is shared across outer elements.
    assert calls.count("Number.multiply") == 4


def test_a_mask_reduced_outside_a_map_is_reduced_once_and_pixels_match(engine, tmp_asset, calls):
    rng = np.random.default_rng(3)
    years = [rng.uniform(0, 100, SHAPE) for _ in range(4)]
    years[1][0, 0] = np.nan
    ids = []
    for i, values in enumerate(years):
        ids.append(tmp_asset(f"y{i}"))
        engine.store.put_image(ids[-1], image_of(values, TRANSFORM, name="b"))
    coll = ee.ImageCollection([ee.Image(a) for a in ids])
    inside = coll.reduce(ee.Reducer.mean()).gt(50)  # closed: no argument of the body
    masked = coll.map(lambda img: ee.Image(img).multiply(2).updateMask(inside))
    image = masked.toBands()
    assert _inlined_in_a_body(_graph(image), "Reducer.mean")
    arr = ee.data.computePixels(
        {"expression": image, "fileFormat": "NUMPY_NDARRAY", "grid": grid(TRANSFORM, SHAPE)}
    )
    mean = np.nanmean(np.stack(years), axis=0)  # mean of the valid years, per cell
    keep = mean > 50
    for i, name in enumerate(arr.dtype.names):
        expected = np.where(keep & ~np.isnan(years[i]), years[i] * 2, 0.0)  # masked: 0
        np.testing.assert_allclose(np.asarray(arr[name], float), expected, rtol=1e-12)
    assert calls.count("ImageCollection.reduce") == 1
