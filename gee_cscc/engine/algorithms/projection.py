"""``Projection.*`` algorithms: build a projection, read its CRS, transform and WKT, and
scale, translate or rescale it."""

from __future__ import annotations

import re
from typing import Any

from ..core.arguments import as_number, invalid_type
from ..core.registry import algorithm
from ..errors import EEError
from ..raster.crs import EE_WKT, crs_wkt, is_wkt, pyproj_crs
from ..raster.grid import METERS_PER_DEGREE, Projection

__all__ = ["as_projection", "NOMINAL_METERS_PER_DEGREE"]


# --- Projection ------------------------------------------------------------------------------

_WKT_ELT = re.compile(r'PARAMETER\s*\[\s*"elt_(\d)_(\d)"\s*,\s*([-+0-9.eE]+)\s*\]')


def _parse_transform_wkt(text: str) -> tuple[float, ...]:
    """The affine coefficients of a ``PARAM_MT["Affine", PARAMETER["elt_i_j", v] ...]``."""
    if "Affine" not in text:
        raise EEError(
            f"Projection: cannot parse transformWkt {text[:80]!r}; expected an Affine PARAM_MT."
        )
    m = {(0, 0): 1.0, (0, 1): 0.0, (0, 2): 0.0, (1, 0): 0.0, (1, 1): 1.0, (1, 2): 0.0}
    for i, j, v in _WKT_ELT.findall(text):
        if int(i) < 2:
            m[(int(i), int(j))] = float(v)
    return (m[(0, 0)], m[(0, 1)], m[(0, 2)], m[(1, 0)], m[(1, 1)], m[(1, 2)])


def _crs_from_wkt(text: str) -> str:
    """The CRS string of a WKT: its EPSG code, a code of :data:`EE_WKT` it equals, or the
    WKT itself (read Earth Engine's way, see :mod:`~gee_cscc.engine.raster.crs`)."""
    import pyproj

    try:
        crs = pyproj.CRS.from_wkt(text)
    except pyproj.exceptions.CRSError as exc:
        raise EEError(f"Projection: invalid crs WKT: {exc}") from None
    epsg = crs.to_epsg()
    if epsg:
        return f"EPSG:{epsg}"
    fixed = pyproj_crs(text)
    for code in EE_WKT:
        if fixed.equals(pyproj_crs(code), ignore_axis_order=True):
            return code
    return text.strip()


def as_projection(value: Any, algo: str, arg: str) -> Projection:
    if isinstance(value, Projection):
        return value
    raise invalid_type(algo, arg, "Projection", value)


@algorithm("Projection")
def projection(crs: Any, transform: Any = None, transformWkt: Any = None) -> Projection:
    if transform is not None and transformWkt is not None:
        raise EEError("Projection: may not specify both 'transform' and 'transformWkt'.")
    if isinstance(crs, Projection):
        base = crs
        code = base.crs
    elif isinstance(crs, str):
        code = crs.strip()
        if is_wkt(code):
            code = _crs_from_wkt(code)
        base = None
    else:
        raise invalid_type("Projection", "crs", "String", crs)
    if transform is not None:
        t = transform
        if len(t) != 6:
            raise EEError(
                f"Projection: the transform must have 6 numbers "
                f"[xScale, xShearing, xTranslation, yShearing, yScale, yTranslation], got {len(t)}."
            )
        coeffs = tuple(float(as_number(v, "Projection", "transform")) for v in t)
    elif transformWkt is not None:
        coeffs = _parse_transform_wkt(transformWkt)
    elif base is not None:
        coeffs = base.transform
    else:
        coeffs = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    try:
        pyproj_crs(code)
    except EEError:
        raise EEError(f"Projection: Invalid CRS: '{code}'.") from None
    return Projection(code, coeffs)


@algorithm("Projection.crs")
def projection_crs(projection: Any) -> str:
    return as_projection(projection, "Projection.crs", "projection").crs


def _num_text(v: float) -> str:
    return repr(float(v))


@algorithm("Projection.transform")
def projection_transform(projection: Any) -> str:
    """The transform as an OGC ``PARAM_MT["Affine", ...]`` WKT (identity entries omitted)."""
    p = as_projection(projection, "Projection.transform", "projection")
    a, b, c, d, e, f = p.transform
    entries = [
        ("elt_0_0", a, 1.0),
        ("elt_0_1", b, 0.0),
        ("elt_0_2", c, 0.0),
        ("elt_1_0", d, 0.0),
        ("elt_1_1", e, 1.0),
        ("elt_1_2", f, 0.0),
    ]
    params = ['PARAMETER["num_row", 3]', 'PARAMETER["num_col", 3]']
    params += [f'PARAMETER["{n}", {_num_text(v)}]' for n, v, dflt in entries if v != dflt]
    return 'PARAM_MT["Affine", \n  ' + ", \n  ".join(params) + "]"


@algorithm("Projection.wkt")
def projection_wkt(projection: Any) -> str:
    """The base CRS as WKT: Earth Engine's own text for codes PROJ lacks (``SR-ORG:6974``)."""
    p = as_projection(projection, "Projection.wkt", "projection")
    return crs_wkt(p.crs)


@algorithm("Projection.nominalScale")
def projection_nominal_scale(proj: Any) -> float:
    return as_projection(proj, "Projection.nominalScale", "proj").nominal_scale


def _scaled(p: Projection, x: float, y: float) -> Projection:
    a, b, c, d, e, f = p.transform
    return Projection(p.crs, (a * x, b * y, c, d * x, e * y, f))


@algorithm("Projection.scale")
def projection_scale(projection: Any, x: Any, y: Any) -> Projection:
    p = as_projection(projection, "Projection.scale", "projection")
    return _scaled(p, float(x), float(y))


@algorithm("Projection.translate")
def projection_translate(projection: Any, x: Any, y: Any) -> Projection:
    """The projection with its origin moved by ``(x, y)`` units of the base CRS."""
    p = as_projection(projection, "Projection.translate", "projection")
    a, b, c, d, e, f = p.transform
    return Projection(p.crs, (a, b, c + float(x), d, e, f + float(y)))


@algorithm("Projection.atScale")
def projection_at_scale(projection: Any, meters: Any) -> Projection:
    """The projection scaled uniformly so that its nominal scale is ``meters``."""
    p = as_projection(projection, "Projection.atScale", "projection")
    m = float(meters)
    if m <= 0:
        raise EEError(f"Projection.atScale: the scale must be positive, got {m}.")
    current = p.nominal_scale
    if current == 0:
        raise EEError("Projection.atScale: the projection has a degenerate transform.")
    factor = m / current
    return _scaled(p, factor, factor)


#: Metres per degree used by ``nominalScale`` for geographic CRSs (re-exported for tests).
NOMINAL_METERS_PER_DEGREE = METERS_PER_DEGREE
