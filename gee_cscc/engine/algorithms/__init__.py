"""NumPy implementations of Earth Engine algorithms, one module (or package) per Earth Engine type.

Importing this package registers every module's algorithms under their exact Earth Engine
names (see :func:`gee_cscc.engine.core.registry.algorithm`); the service imports it.

How to add an algorithm
-----------------------
1. **Where**: in the module named after the algorithm's Earth Engine type: ``Number.*`` in
   ``number.py``, ``Image.*`` in ``image/`` (by concept: ``operators``, ``masks``,
   ``spatial`` …), ``Reducer.*`` in ``reducer/``. A new type gets a new module; any module
   or package under ``algorithms/`` is imported (registered) automatically.
2. **Register** the function with its exact name from ``algorithms.json``::

       @algorithm("Number.hypot")
       def hypot(left: Any, right: Any) -> float:
           # one-line docstring: what it returns, with units
           return math.hypot(left, right)

   The function receives the arguments as keyword arguments by their Earth Engine
   ``argumentName``; optional arguments the client left out arrive with the default of
   ``algorithms.json``.
3. **What the registry already did** (:func:`gee_cscc.engine.core.registry.call`): rejected
   unknown arguments, raised ``"<Algo>: Parameter '<arg>' is required."`` for a missing
   required one, and coerced each given argument and each listed default from its declared
   type (:data:`gee_cscc.engine.core.arguments.COERCIONS`): ``Integer``/``Long`` → ``int``,
   ``Float``/``Number`` → ``int`` or ``float``, ``String`` → ``str``, ``Boolean`` → ``bool``,
   ``List<…>`` → a new ``list``, ``Dictionary<…>`` → a new ``dict``, with Earth Engine's
   "Invalid type" message for a wrong one. Do not coerce those again (``as_str(regex, …)``,
   ``int(count)``: ``tests/engine/test_coercion_home.py`` fails on it). Other types
   (``Image``, ``Geometry``, ``Object`` …) arrive as they are: use
   :func:`gee_cscc.engine.core.arguments.as_image` where Earth Engine promotes numbers to
   constant images. What the registry cannot check is checked with the same helpers: the
   elements of a list (``[as_str(s, algo, "selectors") for s in selectors]``), an ``Object``
   whose meaning depends on another argument, and values read from a list, dictionary or
   property (``as_number``, ``as_str``, ``as_array_value``, ``as_geometry_value``).
4. **Errors**: raise :class:`gee_cscc.engine.errors.EEError` (or a subclass: ``NotFoundError``
   …) with Earth Engine's own message text where it is known; an algorithm listed in
   ``algorithms.json`` without an implementation already fails with an error naming it.
5. **Test** it in ``tests/engine/`` through the unmodified ``ee`` client against a
   ``LocalEngine`` (``ee.Number(3).hypot(4).getInfo()``), with the expected value computed
   independently (NumPy, a hand-worked case, Earth Engine's documentation), including the
   error cases.
"""

from __future__ import annotations

import importlib
import pkgutil

for _info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
    importlib.import_module(_info.name)
