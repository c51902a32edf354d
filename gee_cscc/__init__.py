"""gee_cscc: vegetation carbon sink carrying capacity as an Earth Engine workflow.

The method of Wu et al. (2023) is written once as Earth Engine expressions; it runs on
Google Earth Engine or on the embedded local engine (the default), which needs no account.
For Python users, one call (:func:`gee_cscc.workflow.api.analyze`)::

    import gee_cscc
    res = gee_cscc.analyze("npp.nc", "provinces.geojson", reference_year=2000)
    res.capacity                        # the tables as pandas DataFrames
    res.plot.cscc()                     # the report's figures as matplotlib Figures
    res.to_files("cscc-out")            # the folder `gee-cscc run` writes

``npp`` may also be an ``xarray.DataArray``/``Dataset``, an asset id or an
``ee.ImageCollection``; options are :class:`Config`'s fields. ``gee_cscc.viz`` holds the
result layers' map presets for geemap (``gee_cscc.viz.add_to_map(Map, res)``). The lower level:
``analyze`` of :mod:`gee_cscc.workflow.analyze` (an asset id and a :class:`Config` on the
engine ``ee`` points at) and ``run(...)`` (also writes the outputs).

Several NPP products at once: ``gee_cscc.compare_products({"a": "a.nc", "b": "b.nc"},
"provinces.geojson", out="cscc-out")`` (one full run each, then the ensemble).

The command line (``gee-cscc demo | run | serve | export | share | upload | annualize``)
wraps the same functions.
"""

from __future__ import annotations

from gee_cscc.version import __version__

__all__ = [
    "__version__",
    "Config",
    "LocalEngine",
    "Results",
    "analyze",
    "compare_products",
    "run",
    "show_versions",
    "viz",
]


def __getattr__(name: str):  # lazy: importing gee_cscc stays cheap (no ee, no xarray)
    if name == "Config":
        from gee_cscc.config import Config

        return Config
    if name == "LocalEngine":
        from gee_cscc.engine import LocalEngine

        return LocalEngine
    if name == "Results":
        from gee_cscc.workflow.analyze import Results

        return Results
    if name == "analyze":
        from gee_cscc.workflow.api import analyze

        return analyze
    if name == "run":
        from gee_cscc.workflow.run import run

        return run
    if name == "compare_products":  # several NPP products (gee_cscc.workflow.ensemble)
        from gee_cscc.workflow.ensemble import compare_products

        return compare_products
    if name == "show_versions":
        return show_versions
    if name == "viz":  # the map presets: gee_cscc.viz.add_to_map(Map, results), cscc_vis, ...
        from gee_cscc.report import viz

        return viz
    raise AttributeError(f"module 'gee_cscc' has no attribute {name!r}")


def show_versions() -> None:
    """Print the versions of Python, gee_cscc and its main dependencies (for bug reports)."""
    from gee_cscc.workflow.run import versions

    for key, value in versions().items():
        print(f"{key}: {value}")
