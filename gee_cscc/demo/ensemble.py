"""``gee-cscc demo --ensemble``: the synthetic China demo with a second synthetic NPP product.

The second product stands for another NPP model: the demo generator with another seed (other
spatial and year-to-year noise) scaled by :data:`SECOND_PRODUCT_FACTOR` (a model with 10 %
lower NPP). Both run the whole method on the same grid and provinces and are compared as an
ensemble (:func:`gee_cscc.workflow.ensemble.run_ensemble`): ``OUT/products/synthetic-a/``,
``OUT/products/synthetic-b/`` and the ensemble table, maps and report in ``OUT``.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path

from gee_cscc.config import Config
from gee_cscc.config.units import NPP_UNITS
from gee_cscc.demo.run import DEMO_FOLDER, ensure_demo_assets
from gee_cscc.workflow.ensemble import Ensemble, ProductSpec, run_ensemble

__all__ = ["SECOND_PRODUCT_FACTOR", "ensure_second_product", "run_demo_ensemble"]

#: The second synthetic product is the demo NPP of another seed times this factor.
SECOND_PRODUCT_FACTOR = 0.9


def ensure_second_product(
    engine, *, resolution: float = 0.1, progress: Callable[[str], None] | None = None
) -> str:
    """Store the second synthetic NPP product in the engine (once); returns its asset id."""
    from gee_cscc.demo import synthetic as demo

    tag = f"{resolution:g}".replace(".", "p")
    asset = engine.asset_id(f"{DEMO_FOLDER}/npp_{tag}_second")
    version = hashlib.sha256(inspect.getsource(demo).encode()).hexdigest()[:12]
    wanted = {
        "generator": "gee_cscc.demo.synthetic.demo_npp",
        "seed": demo.DEFAULT_SEED + 1,
        "factor": SECOND_PRODUCT_FACTOR,
        "resolution": resolution,
        "synthetic": True,
        "generator_version": version,
    }
    store = engine.store
    with store.locks.asset(store.resolve(asset).name):
        current = store.meta(asset)["properties"] if store.exists(asset) else {}
        if any(current.get(k) != v for k, v in wanted.items()):
            if progress:
                progress(f"generating the second synthetic NPP product at {resolution:g}°")
            cube = demo.demo_npp(resolution=resolution, seed=demo.DEFAULT_SEED + 1)
            cube = (cube * SECOND_PRODUCT_FACTOR).astype("float32").assign_attrs(cube.attrs)
            store.put_collection(
                asset,
                cube,
                band="npp",
                properties={
                    **wanted,
                    "title": "SYNTHETIC second demo NPP product (not observations)",
                    "units": NPP_UNITS,
                },
            )
    return asset


def run_demo_ensemble(
    out: str | Path,
    *,
    resolution: float = 0.1,
    store: str | Path | None = None,
    counting: str = "local",
    progress: Callable[[str], None] | None = None,
    config: Config | None = None,
) -> Ensemble:
    """Run the demo on two synthetic NPP products and compare them; outputs go to ``out``."""
    from gee_cscc.workflow.engines import local_engine

    cfg = config or Config(capacity_sensitivity=True)
    with local_engine(store, progress=progress) as engine:
        first, provinces = ensure_demo_assets(engine, resolution=resolution, progress=progress)
        second = ensure_second_product(engine, resolution=resolution, progress=progress)
        specs = [ProductSpec("synthetic-a", first), ProductSpec("synthetic-b", second)]
        return run_ensemble(
            cfg,
            specs,
            out,
            regions=provinces,
            counting=counting,
            synthetic=True,
            progress=progress,
            engine=engine,
        )
