"""``Reducer.*`` combinators: ``combine``, ``group``, ``repeat``, ``forEach``, ``forEachBand``,
``setOutputs``, ``unweighted``, ``splitWeights`` and ``getOutputs``.
"""

from __future__ import annotations

from typing import Any

from ...core.registry import algorithm
from ...core.values import Image
from ...errors import EEError
from .reducers import int_at_least
from .tree import Composite, Group, Primitive, Reducer, Repeat, as_reducer, for_each

# --- combinators --------------------------------------------------------------------------------


@algorithm("Reducer.combine")
def combine(
    reducer1: Any, reducer2: Any, outputPrefix: Any = "", sharedInputs: Any = False
) -> Reducer:
    r1 = as_reducer(reducer1, "Reducer.combine reducer1")
    r2 = as_reducer(reducer2, "Reducer.combine reducer2")
    prefix = outputPrefix or ""
    if sharedInputs:
        if r1.n_inputs != r2.n_inputs:
            raise EEError(
                "Reducer.combine: with sharedInputs the reducers must have the same number "
                f"of inputs; got {r1.n_inputs} and {r2.n_inputs}."
            )
        idx2 = list(range(r2.n_inputs))
        n = r1.n_inputs
    else:
        idx2 = list(range(r1.n_inputs, r1.n_inputs + r2.n_inputs))
        n = r1.n_inputs + r2.n_inputs
    parts = [
        (r1, list(range(r1.n_inputs)), list(r1.outputs)),
        (r2, idx2, [prefix + o for o in r2.outputs]),
    ]
    args = {
        "reducer1": r1,
        "reducer2": r2,
        "outputPrefix": prefix,
        "sharedInputs": sharedInputs,
    }
    return Composite("Reducer.combine", parts, n_inputs=n, args=args)


@algorithm("Reducer.group")
def group(reducer: Any, groupField: Any = 0, groupName: Any = "group") -> Reducer:
    r = as_reducer(reducer, "Reducer.group")
    field = int_at_least(groupField, "Reducer.group: groupField", minimum=0)
    return Group(r, field, groupName or "group")


@algorithm("Reducer.repeat")
def repeat(reducer: Any, count: Any) -> Reducer:
    return Repeat(
        as_reducer(reducer, "Reducer.repeat"), int_at_least(count, "Reducer.repeat: count")
    )


@algorithm("Reducer.forEach")
def for_each_names(reducer: Any, outputNames: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.forEach")
    return for_each(r, [str(n) for n in outputNames])


@algorithm("Reducer.forEachBand")
def for_each_band(reducer: Any, image: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.forEachBand")
    if not isinstance(image, Image):
        raise EEError("Reducer.forEachBand: expected an Image.")
    return for_each(r, image.band_names, name="Reducer.forEachBand")


@algorithm("Reducer.setOutputs")
def set_outputs(reducer: Any, outputs: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.setOutputs")
    if len(outputs) != len(r.outputs):
        raise EEError(
            f"Reducer.setOutputs: expected {len(r.outputs)} output names, got {outputs!r}."
        )
    names = [str(o) if o else None for o in outputs]
    return Composite(
        "Reducer.setOutputs",
        [(r, list(range(r.n_inputs)), names)],
        n_inputs=r.n_inputs,
        args={"reducer": r, "outputs": outputs},
    )


@algorithm("Reducer.unweighted")
def unweighted(reducer: Any) -> Reducer:
    return as_reducer(reducer, "Reducer.unweighted").unweighted()


@algorithm("Reducer.splitWeights")
def split_weights(reducer: Any) -> Reducer:
    r = as_reducer(reducer, "Reducer.splitWeights")
    if isinstance(r, Primitive):
        return r.split_weights()
    if "weighted" not in r.weighting():
        return r
    raise EEError(
        "Reducer.splitWeights: the local engine splits the weights of single reducers only "
        f"(not of {r.name})."
    )


@algorithm("Reducer.getOutputs")
def get_outputs(reducer: Any) -> list[str]:
    return list(as_reducer(reducer, "Reducer.getOutputs").outputs)
