"""``ErrorMargin``: the tolerance of geometry operations (meters, projected units, infinite)."""

from __future__ import annotations

from typing import Any

from ..core.arguments import required
from ..core.registry import algorithm
from ..errors import EEError

__all__ = ["ErrorMargin"]


class ErrorMargin:
    """Earth Engine's error margin: a value in ``meters`` or ``projected`` units, or infinite."""

    ee_type = "ErrorMargin"

    def __init__(self, value: float | None, unit: str = "meters") -> None:
        self.value = value
        self.unit = unit

    def info(self) -> dict:
        out: dict[str, Any] = {"type": "ErrorMargin", "unit": self.unit}
        if self.unit != "infinite":
            out["value"] = self.value
        return out


@algorithm("ErrorMargin")
def error_margin(value: Any = None, unit: Any = "meters") -> ErrorMargin:
    """An error margin of ``value`` in ``unit`` (no value for ``infinite``)."""
    unit = "meters" if unit is None else unit
    if unit not in ("meters", "projected", "infinite"):
        raise EEError(
            f"ErrorMargin: unit must be 'meters', 'projected' or 'infinite', got {unit!r}."
        )
    if unit != "infinite":
        if value is None:
            raise required("ErrorMargin", "value")
        value = float(value)
    return ErrorMargin(value, unit)
