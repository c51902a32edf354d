"""NumPy implementations of Earth Engine algorithms, one module per Earth Engine type.

Importing this package registers every module's algorithms under their exact Earth Engine
names (see :func:`gee_cscc.engine.registry.algorithm`).
"""

from __future__ import annotations

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
