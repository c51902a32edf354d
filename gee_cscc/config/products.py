"""Public NPP products by name: what ``product = "modis-npp"`` sets.

A product fills the fields of a :class:`~gee_cscc.config.Config` that are left at their
defaults (the band, the scale factor, the stored values that are data, the years) and names
the Earth Engine catalog collection, which is used as it is (never moved into the user's
project).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PRODUCTS", "Product"]


@dataclass(frozen=True)
class Product:
    """A public annual NPP product.

    Attributes
    ----------
    name
        The name given to ``--product``.
    collection
        The Earth Engine catalog ImageCollection id.
    fields
        Config fields the product sets (when left at their defaults).
    description
        One line for help texts.
    """

    name: str
    collection: str
    fields: dict[str, Any]
    description: str


PRODUCTS: dict[str, Product] = {
    "modis-npp": Product(
        name="modis-npp",
        collection="MODIS/061/MOD17A3HGF",
        fields={
            "band": "Npp",
            # Npp is stored in kg C m-2 × 10⁴ (scale 0.0001 kg C m-2): × 0.1 gives g C m-2.
            "scale_factor": 0.1,
            # 0…32700 are data; 32761–32766 are land-cover classes (water, barren, urban …)
            # and 32767 is fill: without this they would count as ~3,276 g C m-2 yr-1.
            "valid_range": (0.0, 32700.0),
            "start": 2001,
            "end": 2024,
            "reference_year": 2010,
        },
        description="MODIS/061/MOD17A3HGF annual NPP, 500 m, 2001-2024 (band Npp)",
    ),
}
