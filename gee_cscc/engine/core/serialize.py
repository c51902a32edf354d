"""Turn evaluated values into the JSON that ``value:compute`` returns (``getInfo``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["to_info"]


def to_info(value: Any) -> Any:
    """The ``getInfo`` JSON form of any value the evaluator produces.

    NaN and infinite numbers become ``None`` (Earth Engine returns null for them).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return None
        return int(v) if v.is_integer() and abs(v) < 2**53 and isinstance(value, int) else v
    if isinstance(value, np.ndarray):
        return to_info(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_info(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_info(v) for k, v in value.items()}
    info = getattr(value, "info", None)
    if callable(info):
        return to_info(info())
    raise TypeError(f"Cannot serialize a {type(value).__name__}.")
