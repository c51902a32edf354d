"""The demo: a SYNTHETIC annual NPP collection over China and the run that analyses it.

- :mod:`~gee_cscc.demo.provinces`: China's 34 province-level units (packaged GeoJSON).
- :mod:`~gee_cscc.demo.synthetic`: the deterministic, calibrated synthetic NPP cube.
- :mod:`~gee_cscc.demo.run`: ``gee-cscc demo``, end to end on the local engine.
"""

from __future__ import annotations

from gee_cscc.demo.provinces import PROVINCE_ABBRS, load_provinces
from gee_cscc.demo.synthetic import demo_npp, demo_regions

__all__ = ["PROVINCE_ABBRS", "demo_npp", "demo_regions", "load_provinces"]
