"""NumPy implementations of Earth Engine algorithms, one module per Earth Engine type.

Importing this package registers every module's algorithms under their exact Earth Engine
names (see :func:`gee_cscc.engine.core.registry.algorithm`).
"""

from __future__ import annotations

import importlib
import pkgutil

for _info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
    importlib.import_module(_info.name)
