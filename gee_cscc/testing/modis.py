"""A synthetic MODIS MOD17A3HGF-like collection for offline tests of the public-product path.

:func:`modis_like_collection` writes, into a local engine store, an annual collection laid
out like ``MODIS/061/MOD17A3HGF``: images ``YYYY_01_01`` with only ``system:time_start``,
bands ``Npp`` (int16, kg C m⁻² × 10⁴, i.e. g C m⁻² × 10) and ``Npp_QC`` (uint8), on the
global MODIS sinusoidal grid ``SR-ORG:6974`` coarsened by a whole factor (``cells``: 200
gives 92.7 km pixels, 432 × 216 for the globe). Stored codes as the product has them:
32761–32766 land-cover classes (constant over the years) at some cells, 32767 fill off the
projection's valid domain and at a few (cell, year) pairs.

The returned :class:`ModisLike` holds the stored values as NumPy, so tests compute every
expected number themselves (mask codes, × 0.1, …) and never from gee_cscc.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FILL",
    "LAND_COVER_CODES",
    "MODIS_CELL",
    "MODIS_CRS",
    "MODIS_ORIGIN",
    "MODIS_SINUSOIDAL_PROJ4",
    "ModisLike",
    "modis_like_collection",
]

#: The CRS code Earth Engine reports for MODIS's sinusoidal grid.
MODIS_CRS = "SR-ORG:6974"
#: The same projection as a PROJ string (sphere of radius 6371007.181 m): for test oracles.
MODIS_SINUSOIDAL_PROJ4 = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
#: MODIS's 500 m pixel (m) and the grid's north-west corner (m).
MODIS_CELL = 463.3127165279165
MODIS_ORIGIN = (-20015109.354, 10007554.677)
#: Stored ``Npp`` codes that are not data.
LAND_COVER_CODES = (32761, 32762, 32763, 32764, 32765, 32766)
FILL = 32767
_R = 6371007.181


@dataclass(frozen=True)
class ModisLike:
    """What :func:`modis_like_collection` stored.

    Attributes
    ----------
    asset_id
        The collection id (a catalog id by default).
    stored
        ``(year, y, x)`` int16 ``Npp`` as stored (codes included).
    years
        The years.
    transform
        Earth Engine's 6-number affine of the grid (m).
    shape
        ``(height, width)``.
    crs
        ``"SR-ORG:6974"``.
    """

    asset_id: str
    stored: np.ndarray
    years: tuple[int, ...]
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    crs: str = MODIS_CRS

    def centres_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat (degrees) of every pixel centre, ``(h, w)`` each (inverse sinusoidal)."""
        a, _, c, _, e, f = self.transform
        h, w = self.shape
        x = c + a * (np.arange(w) + 0.5)
        y = f + e * (np.arange(h) + 0.5)
        xx, yy = np.meshgrid(x, y)
        lat = np.degrees(yy / _R)
        with np.errstate(divide="ignore", invalid="ignore"):
            lon = np.degrees(xx / (_R * np.cos(np.radians(lat))))
        return lon, lat


def modis_like_collection(
    store: Any,
    asset_id: str = "MODIS/061/MOD17A3HGF",
    *,
    years: Iterable[int] = range(2001, 2025),
    cells: int = 200,
    seed: int = 0,
    code_share: float = 0.04,
    fill_share: float = 0.01,
) -> ModisLike:
    """Write the synthetic collection into ``store`` (an ``AssetStore`` or ``engine.store``).

    Parameters
    ----------
    store
        The local engine's asset store.
    asset_id
        Where to write it; a catalog id (``MODIS/061/MOD17A3HGF``) lands in the store's
        public catalog, as on Earth Engine.
    years
        The years (default the product's 2001–2024).
    cells
        MODIS 500 m pixels per synthetic pixel, across (200: 92.7 km; the globe is then
        432 × 216 pixels).
    seed
        Random seed.
    code_share, fill_share
        Share of valid cells holding a land-cover code in every year, and share of
        (cell, year) pairs holding the fill value.
    """
    import xarray as xr

    years = tuple(int(y) for y in years)
    size = MODIS_CELL * cells
    width = int(round(86400 / cells))
    height = int(round(43200 / cells))
    x0, y0 = MODIS_ORIGIN
    transform = (size, 0.0, x0, 0.0, -size, y0)
    xs = x0 + size * (np.arange(width) + 0.5)
    ys = y0 - size * (np.arange(height) + 0.5)
    xx, yy = np.meshgrid(xs, ys)
    lat = yy / _R
    inside = np.abs(xx) < _R * math.pi * np.cos(lat)  # the sinusoidal's valid domain
    rng = np.random.default_rng(seed)
    base = 2000.0 + 8000.0 * np.cos(lat) ** 2 + rng.uniform(0, 2000, (height, width))
    trend = rng.normal(0.0, 40.0, (height, width))
    t = np.asarray(years, float) - years[0]
    noise = rng.normal(0.0, 300.0, (len(years), height, width))
    npp = base[None] + trend[None] * t[:, None, None] + noise
    stored = np.clip(np.round(npp), 0, 32700).astype(np.int16)
    codes = inside & (rng.random((height, width)) < code_share)
    code_values = rng.choice(LAND_COVER_CODES, size=(height, width))
    stored[:, codes] = code_values[codes]
    fills = inside[None] & ~codes[None] & (rng.random(stored.shape) < fill_share)
    stored[fills] = FILL
    stored[:, ~inside] = FILL
    if not store.exists(asset_id):
        store.create(asset_id, "IMAGE_COLLECTION")
    for k, year in enumerate(years):
        npp_band = xr.DataArray(stored[k], dims=("y", "x"), coords={"y": ys, "x": xs})
        qc = xr.DataArray(
            np.where(stored[k] > 32700, 255, 0).astype(np.uint8),
            dims=("y", "x"),
            coords={"y": ys, "x": xs},
        )
        image = xr.concat([npp_band, qc], dim="band").assign_coords(band=["Npp", "Npp_QC"])
        image.attrs.update(crs=MODIS_CRS, transform=transform)
        millis = int(np.datetime64(f"{year}-01-01", "ms").astype(np.int64))
        store.put_image(f"{asset_id}/{year}_01_01", image, {"system:time_start": millis})
    return ModisLike(asset_id, stored, years, transform, (height, width))
