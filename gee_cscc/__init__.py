"""gee_cscc: vegetation carbon sink carrying capacity as an Earth Engine workflow.

The method of Wu et al. (2023) written once as Earth Engine expressions; it runs on
Google Earth Engine or on the embedded local engine (the default), which needs no account.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
