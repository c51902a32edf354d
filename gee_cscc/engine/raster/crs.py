"""Coordinate reference systems of the local engine: codes, WKT, and their pyproj CRSs.

Earth Engine names a projection by a code (``EPSG:4326``, ``SR-ORG:6974``) or by WKT. PROJ
knows the EPSG and ESRI codes but not every code Earth Engine knows: MODIS's sinusoidal grid
is ``SR-ORG:6974`` (spatialreference.org), which ``pyproj.CRS("SR-ORG:6974")`` refuses. The
local engine keeps those codes as Earth Engine reports them (a band's ``crs`` stays
``"SR-ORG:6974"``) and resolves them here, once, for every computation (:func:`pyproj_crs`).

:data:`EE_WKT` holds the WKT Earth Engine returns from ``Projection.wkt()`` for such codes.
For ``SR-ORG:6974`` that WKT is spatialreference.org's: a WGS84 ``GEOGCS`` with
``PARAMETER["semi_major", 6371007.181]`` and ``PARAMETER["semi_minor", 6371007.181]`` inside
the ``PROJCS``. Earth Engine honours those parameters (the projection is on the MODIS sphere of
radius 6371007.181 m); GDAL and PROJ ignore them and read a sinusoidal on the WGS84 ellipsoid,
which puts a point at 40° N about 20 km off. :func:`pyproj_crs` reads such WKT the way
Earth Engine does: the ``semi_major``/``semi_minor`` parameters replace the ellipsoid (and
the datum, which is then unnamed: no datum shift is applied to or from it).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ..errors import EEError

__all__ = [
    "EE_WKT",
    "MODIS_SINUSOIDAL_PROJ4",
    "crs_code",
    "crs_wkt",
    "file_crs",
    "is_wkt",
    "pyproj_crs",
    "transformer",
]

#: The MODIS sinusoidal projection as a PROJ string (sphere of radius 6371007.181 m).
MODIS_SINUSOIDAL_PROJ4 = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"

#: WKT of codes PROJ does not know, as Earth Engine's ``Projection.wkt()`` gives them.
EE_WKT: dict[str, str] = {
    "SR-ORG:6974": (
        'PROJCS["MODIS Sinusoidal", '
        'GEOGCS["WGS 84", DATUM["WGS_1984", SPHEROID["WGS 84", 6378137.0, 298.257223563, '
        'AUTHORITY["EPSG","7030"]], AUTHORITY["EPSG","6326"]], '
        'PRIMEM["Greenwich", 0.0, AUTHORITY["EPSG","8901"]], '
        'UNIT["degree", 0.017453292519943295], AUTHORITY["EPSG","4326"]], '
        'PROJECTION["Sinusoidal"], '
        'PARAMETER["false_easting", 0.0], PARAMETER["false_northing", 0.0], '
        'PARAMETER["central_meridian", 0.0], '
        'PARAMETER["semi_major", 6371007.181], PARAMETER["semi_minor", 6371007.181], '
        'UNIT["m", 1.0], AUTHORITY["SR-ORG","6974"]]'
    ),
}

_WKT_START = ("PROJCS", "GEOGCS", "PROJCRS", "GEOGCRS", "COMPD", "GEOCCS", "BOUNDCRS")
_AXIS_PARAM = re.compile(
    r'PARAMETER\s*\[\s*"semi_(major|minor)"\s*,\s*([-+0-9.eE]+)\s*\]\s*,?\s*', re.IGNORECASE
)


def is_wkt(text: str) -> bool:
    """Whether a CRS string is WKT rather than a code."""
    return text.lstrip().upper().startswith(_WKT_START)


def _semi_axes(wkt: str) -> tuple[float, float] | None:
    """``(a, b)`` of the ``semi_major``/``semi_minor`` parameters of a WKT1 ``PROJCS``."""
    if not wkt.lstrip().upper().startswith("PROJCS"):
        return None
    axes = {m.group(1).lower(): float(m.group(2)) for m in _AXIS_PARAM.finditer(wkt)}
    if "major" not in axes:
        return None
    return axes["major"], axes.get("minor", axes["major"])


def _with_axes(crs: Any, a: float, b: float) -> Any:
    """``crs`` (projected) on the ellipsoid of semi-axes ``a``, ``b`` m, with no datum."""
    import warnings

    import pyproj

    with warnings.catch_warnings():  # to_dict warns that PROJ strings drop details: wanted
        warnings.simplefilter("ignore", UserWarning)
        found = crs.to_dict()
    params = {k: v for k, v in found.items() if k not in ("datum", "ellps", "towgs84")}
    params.update(a=a, b=b)
    params.pop("R", None)
    return pyproj.CRS.from_dict(params)


@functools.lru_cache(maxsize=128)
def pyproj_crs(crs: str) -> Any:
    """The ``pyproj.CRS`` of an Earth Engine CRS code or WKT.

    Raises
    ------
    EEError
        Neither PROJ nor :data:`EE_WKT` knows the code, or the WKT is invalid
        (Earth Engine's ``Invalid CRS`` message).
    """
    import pyproj

    text = crs.strip() if isinstance(crs, str) else crs
    if not isinstance(text, str) or not text:
        raise EEError(f"Invalid CRS: {crs!r}.")
    source = EE_WKT.get(text.upper(), text)
    try:
        crs_ = pyproj.CRS.from_user_input(source)
        axes = _semi_axes(source) if is_wkt(source) else None
        if axes is not None and crs_.is_projected:
            crs_ = _with_axes(crs_, *axes)
    except pyproj.exceptions.CRSError:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise EEError(f"Invalid CRS: '{shown}'.") from None
    return crs_


@functools.lru_cache(maxsize=128)
def transformer(source: str, target: str) -> Any:
    """A cached ``pyproj.Transformer`` from ``source`` to ``target`` (x/y = lon/lat order),
    both Earth Engine CRS strings resolved by :func:`pyproj_crs`."""
    import pyproj

    return pyproj.Transformer.from_crs(pyproj_crs(source), pyproj_crs(target), always_xy=True)


def crs_wkt(crs: str) -> str:
    """The WKT ``Projection.wkt()`` returns: Earth Engine's own text for the codes of
    :data:`EE_WKT`, WKT as given, otherwise PROJ's WKT1 (GDAL flavour)."""
    text = crs.strip()
    if text.upper() in EE_WKT:
        return EE_WKT[text.upper()]
    if is_wkt(text):
        return text
    return pyproj_crs(text).to_wkt("WKT1_GDAL")


def file_crs(crs: str) -> Any:
    """The CRS to write into a GeoTIFF: the EPSG code when there is one, else full WKT of
    :func:`pyproj_crs` (so a file in ``SR-ORG:6974`` carries the MODIS sphere)."""
    from rasterio.crs import CRS

    text = crs.strip()
    if text.upper().startswith("EPSG:"):
        return CRS.from_user_input(text)
    return CRS.from_wkt(pyproj_crs(text).to_wkt())


def crs_code(crs: Any) -> str:
    """The Earth Engine CRS string of a file's CRS (a ``rasterio``/``pyproj`` CRS or WKT):
    ``EPSG:n`` when it has an EPSG code, the code of :data:`EE_WKT` it equals (a file in the
    MODIS sinusoidal projection reads back as ``SR-ORG:6974``), else its WKT."""
    import pyproj

    found = pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    epsg = found.to_epsg()
    if epsg:
        return f"EPSG:{epsg}"
    for code in EE_WKT:
        if found.equals(pyproj_crs(code), ignore_axis_order=True):
            return code
    return found.to_wkt()
