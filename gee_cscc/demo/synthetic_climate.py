"""The climate-like productivity surface of the synthetic demo NPP (:mod:`gee_cscc.demo.synthetic`).

Not data: a smooth stand-in for potential NPP over China, wet in the south-east, cold on the
Tibetan plateau, near zero in the deserts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["productivity"]


def _bump(
    lon: np.ndarray, lat: np.ndarray, x0: float, y0: float, sx: float, sy: float
) -> np.ndarray:
    return np.exp(-(((lon - x0) / sx) ** 2 + ((lat - y0) / sy) ** 2) / 2)


_MOISTURE_BUMPS = (  # lon, lat, σ lon, σ lat (degrees), extra precipitation (mm)
    (125, 47, 6, 6, 400), (95.5, 29, 2.5, 2.5, 600), (99, 23, 3, 3, 300),
    (83, 43.5, 6, 1.8, 600), (88, 48, 2, 1.5, 400), (100, 37.5, 2, 1.5, 150),
)  # fmt: skip
_DESERTS = (  # lon, lat, σ lon, σ lat (degrees), depth: Taklamakan, Gurbantünggüt, Kumtag
    (83, 39, 4, 1.6, 1.0), (87.5, 45.2, 1.8, 0.8, 0.9), (91, 40.5, 2.5, 1.2, 1.0),
    (94.5, 37.4, 2.6, 1.0, 0.95), (93.5, 42.7, 2.5, 1.3, 0.9), (102, 40.5, 3.5, 1.3, 0.95),
    (86, 34.2, 6, 2.2, 0.9), (80.5, 35.5, 2.5, 1.8, 0.95), (108.5, 42.3, 3, 0.8, 0.6),
)  # fmt: skip
"""Qaidam, Hami Gobi, Badain Jaran/Tengger, Changtang, Aksai Chin/Kunlun, Gobi of central
Inner Mongolia follow the first three."""


def productivity(lon: np.ndarray, lat: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """Climate-like potential productivity (arbitrary units ~ g C m⁻² yr⁻¹): monsoon
    moisture falling away from the south-east coast, a cold Tibetan plateau, deserts."""
    precip = 1900 * np.exp(-np.hypot(lon - 116, 1.2 * (lat - 22)) / 15)  # mm
    for x0, y0, sx, sy, amount in _MOISTURE_BUMPS:
        precip = precip + amount * _bump(lon, lat, x0, y0, sx, sy)
    cold = 1 - 0.6 * _bump(lon, lat, 88, 33, 8, 4)
    dry = np.ones_like(lon)
    for x0, y0, sx, sy, depth in _DESERTS:
        dry = dry * (1 - depth * _bump(lon, lat, x0, y0, sx, sy))
    return 1300 * (1 - np.exp(-precip / 800)) * cold * dry * np.exp(texture)
