"""``Image.*`` algorithms: loading, band management, per-pixel math, masks, projections.

Semantics follow the descriptions in earthengine-api's ``algorithms.json``: binary operators
pair bands (a one-band image is used against every band of the other) and mask the output
where either input is masked; comparisons and logic give 0/1; ``divide`` gives 0 for a
division by 0; integer ÷ integer stays integer (truncated toward zero).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...core.arguments import as_image
from ...core.context import current
from ...core.registry import algorithm
from ...core.values import (
    Band,
    Date,
    Feature,
    FeatureCollection,
    Geometry,
    Image,
    PixelData,
    constant_band,
    is_integer_dtype,
    pointwise,
    promote,
)
from ...errors import EEError
from ...raster import area as _area
from ...raster.grid import DEFAULT_PROJECTION, Grid, Projection
from ...raster.rasterize import centre_mask, geometry_shape_in
from ...raster.resample import sample
from ..bands import binary_image_op, match_bands, select_names, unary_image_op

# --- construction --------------------------------------------------------------------------


@algorithm("Image.load")
def load(id: str, version: Any = None) -> Image:  # noqa: A002 (Earth Engine's name)
    ctx = current()
    image = ctx.store.load_image(id)
    ctx.store.check_access(id, ctx.user)
    return image


@algorithm("Image.constant")
def constant(value: Any) -> Image:
    if isinstance(value, (list, tuple)):
        if not value:
            raise EEError("Image.constant: the list of values is empty.")
        return Image([constant_band(_number(v), f"constant_{i}") for i, v in enumerate(value)])
    return Image([constant_band(_number(value))])


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise EEError(f"Image.constant: Invalid value {v!r}; expected a number.")
    return float(v)


@algorithm("Image.pixelArea")
def pixel_area() -> Image:
    return Image([Band("area", lambda g: (_area.pixel_area(g), True), dtype="float64")])


@algorithm("Image.pixelLonLat")
def pixel_lon_lat() -> Image:
    def lonlat(grid: Grid, index: int) -> PixelData:
        xs, ys = grid.centres()
        if grid.crs != "EPSG:4326":
            import pyproj

            tf = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
            xs, ys = tf.transform(np.asarray(xs, float), np.asarray(ys, float))
        return (np.asarray(xs, float) if index == 0 else np.asarray(ys, float)), True

    return Image(
        [
            Band("longitude", lambda g: lonlat(g, 0), dtype="float64"),
            Band("latitude", lambda g: lonlat(g, 1), dtype="float64"),
        ]
    )


# --- bands -------------------------------------------------------------------------------


@algorithm("Image.select")
def select(input: Image, bandSelectors: list, newNames: list | None = None) -> Image:  # noqa: A002,N803
    if not isinstance(bandSelectors, (list, tuple)):
        bandSelectors = [bandSelectors]
    idx = select_names(input.band_names, bandSelectors)
    bands = [input.bands[i] for i in idx]
    if newNames is not None:
        if len(newNames) != len(bands):
            raise EEError(
                f"Image.select: The number of new names ({len(newNames)}) does not match the "
                f"number of selected bands ({len(bands)})."
            )
        bands = [b.replace(name=str(n)) for b, n in zip(bands, newNames, strict=True)]
    return input.with_bands(bands)


@algorithm("Image.rename")
def rename(input: Image, names: list) -> Image:  # noqa: A002
    if isinstance(names, str):
        names = [names]
    if len(names) != len(input.bands):
        raise EEError(
            f"Image.rename: Can't rename {len(input.bands)} bands to {len(names)} names: {names}."
        )
    return input.with_bands(
        [b.replace(name=str(n)) for b, n in zip(input.bands, names, strict=True)]
    )


@algorithm("Image.addBands")
def add_bands(
    dstImg: Image, srcImg: Image, names: list | None = None, overwrite: bool = False
) -> Image:  # noqa: N803
    src = srcImg.bands
    if names is not None:
        src = [srcImg.bands[i] for i in select_names(srcImg.band_names, names)]
    bands = list(dstImg.bands)
    for band in src:
        existing = [i for i, b in enumerate(bands) if b.name == band.name]
        if existing and overwrite:
            bands[existing[0]] = band
            continue
        if existing:
            taken = {b.name for b in bands}
            k = 1
            while f"{band.name}_{k}" in taken:
                k += 1
            band = band.replace(name=f"{band.name}_{k}")
        bands.append(band)
    return dstImg.with_bands(bands)


@algorithm("Image.bandNames")
def band_names(image: Image) -> list[str]:
    return image.band_names


@algorithm("Image.bandTypes")
def band_types(image: Image) -> dict:
    from ...core.values import precision_info

    return {b.name: precision_info(b.dtype) for b in image.bands}


# --- arithmetic ----------------------------------------------------------------------------

_ARITH = {
    "Image.add": np.add,
    "Image.subtract": np.subtract,
    "Image.multiply": np.multiply,
    "Image.max": np.maximum,
    "Image.min": np.minimum,
    "Image.atan2": np.arctan2,
    "Image.hypot": np.hypot,
}


def _register_arith(name: str, fn: Any) -> None:
    op = name.split(".", 1)[1]

    @algorithm(name)
    def impl(image1: Any, image2: Any) -> Image:
        return binary_image_op(image1, image2, op, fn)


for _name, _fn in _ARITH.items():
    _register_arith(_name, _fn)


def _int_result(a: str, b: str) -> bool:
    return is_integer_dtype(a) and is_integer_dtype(b)


@algorithm("Image.divide")
def divide(image1: Any, image2: Any) -> Image:
    def types(a: str, b: str) -> str:
        return promote(a, b)

    a_img, b_img = as_image(image1), as_image(image2)
    out = []
    for x, y, name in match_bands(a_img, b_img, "divide"):
        integer = _int_result(x.dtype, y.dtype)

        def compute(px: PixelData, py: PixelData, _int=integer) -> PixelData:
            with np.errstate(all="ignore"):
                q = np.where(py[0] == 0, 0.0, px[0] / np.where(py[0] == 0, 1.0, py[0]))
            if _int:
                q = np.trunc(q)
            return q, px[1] & py[1]

        out.append(pointwise([x, y], compute, name=name, dtype=types(x.dtype, y.dtype)))
    return Image(out, {})


@algorithm("Image.mod")
def mod(image1: Any, image2: Any) -> Image:
    return binary_image_op(
        image1,
        image2,
        "mod",
        lambda a, b: np.where(b == 0, 0.0, np.fmod(a, np.where(b == 0, 1.0, b))),
    )


@algorithm("Image.pow")
def power(image1: Any, image2: Any) -> Image:
    return binary_image_op(
        image1,
        image2,
        "pow",
        np.power,
        dtype=lambda a, b: "float64",
        mask=lambda px, py, v: px[1] & py[1] & np.isfinite(v),
    )


def _bool_type(a: str, b: str = "") -> str:
    return "uint8"


_COMPARE = {
    "Image.lt": np.less,
    "Image.lte": np.less_equal,
    "Image.gt": np.greater,
    "Image.gte": np.greater_equal,
    "Image.eq": np.equal,
    "Image.neq": np.not_equal,
    "Image.and": lambda a, b: (a != 0) & (b != 0),
    "Image.or": lambda a, b: (a != 0) | (b != 0),
}


def _register_compare(name: str, fn: Any) -> None:
    op = name.split(".", 1)[1]

    @algorithm(name)
    def impl(image1: Any, image2: Any) -> Image:
        return binary_image_op(
            image1, image2, op, lambda a, b: fn(a, b).astype(float), dtype=_bool_type
        )


for _name, _fn in _COMPARE.items():
    _register_compare(_name, _fn)


@algorithm("Image.not")
def logical_not(value: Any) -> Image:
    return unary_image_op(value, "not", lambda v: (v == 0).astype(float), dtype=lambda d: "uint8")


def _float_type(d: str) -> str:
    return "float32" if d == "float32" else "float64"


_UNARY = {
    "Image.log": (np.log, True),
    "Image.log10": (np.log10, True),
    "Image.exp": (np.exp, True),
    "Image.sqrt": (np.sqrt, True),
    "Image.sin": (np.sin, True),
    "Image.cos": (np.cos, True),
    "Image.tan": (np.tan, True),
    "Image.asin": (np.arcsin, True),
    "Image.acos": (np.arccos, True),
    "Image.atan": (np.arctan, True),
    "Image.sinh": (np.sinh, True),
    "Image.cosh": (np.cosh, True),
    "Image.tanh": (np.tanh, True),
    "Image.cbrt": (np.cbrt, True),
    "Image.abs": (np.abs, False),
    "Image.floor": (np.floor, False),
    "Image.ceil": (np.ceil, False),
    "Image.round": (lambda v: np.floor(v + 0.5), False),
    "Image.signum": (np.sign, False),
}


def _register_unary(name: str, fn: Any, floating: bool) -> None:
    op = name.split(".", 1)[1]

    @algorithm(name)
    def impl(value: Any) -> Image:
        return unary_image_op(
            value,
            op,
            fn,
            dtype=_float_type if floating else None,
            valid=(lambda v: np.isfinite(v)) if floating else None,
        )


for _name, (_fn, _floating) in _UNARY.items():
    _register_unary(_name, _fn, _floating)


@algorithm("Image.clamp")
def clamp(input: Image, low: float, high: float) -> Image:  # noqa: A002
    return unary_image_op(input, "clamp", lambda v: np.clip(v, low, high))


@algorithm("Image.unitScale")
def unit_scale(input: Image, low: float, high: float) -> Image:  # noqa: A002
    span = high - low
    return unary_image_op(
        input,
        "unitScale",
        lambda v: (v - low) / span if span else np.zeros_like(v),
        dtype=_float_type,
    )


# --- casts ---------------------------------------------------------------------------------

_CASTS = {
    "uint8": ("Image.uint8", "Image.toUint8", "Image.byte", "Image.toByte"),
    "int8": ("Image.int8", "Image.toInt8"),
    "uint16": ("Image.uint16", "Image.toUint16"),
    "int16": ("Image.int16", "Image.toInt16", "Image.short", "Image.toShort"),
    "uint32": ("Image.uint32", "Image.toUint32"),
    "int32": ("Image.int32", "Image.toInt32", "Image.int", "Image.toInt"),
    "int64": ("Image.int64", "Image.toInt64", "Image.long", "Image.toLong"),
    "float32": ("Image.float", "Image.toFloat"),
    "float64": ("Image.double", "Image.toDouble"),
}


def cast_values(values: np.ndarray, dtype: str) -> np.ndarray:
    """Values converted as a cast to ``dtype`` converts them (truncation, saturation)."""
    if is_integer_dtype(dtype):
        info = np.iinfo(np.dtype(dtype))
        return np.clip(np.trunc(values), info.min, info.max)
    if dtype == "float32":
        return values.astype(np.float32).astype(np.float64)
    return values


def cast_image(value: Any, dtype: str) -> Image:
    return unary_image_op(
        value, f"cast to {dtype}", lambda v: cast_values(v, dtype), dtype=lambda d: dtype
    )


def _register_cast(dtype: str, names: tuple[str, ...]) -> None:
    @algorithm(*names)
    def impl(value: Any) -> Image:
        return cast_image(value, dtype)


for _dtype, _names in _CASTS.items():
    _register_cast(_dtype, _names)

_PRECISIONS = {
    "int": "int32",
    "float": "float32",
    "double": "float64",
    "byte": "uint8",
    "short": "int16",
    "long": "int64",
}


@algorithm("Image.cast")
def cast(image: Image, bandTypes: dict, bandOrder: list | None = None) -> Image:  # noqa: N803
    bands = []
    for band in image.bands:
        spec = bandTypes.get(band.name)
        if spec is None:
            bands.append(band)
            continue
        if isinstance(spec, dict):
            prec = spec.get("precision", "double")
            dtype = _PRECISIONS.get(prec, prec)
            if prec == "int" and "min" in spec and "max" in spec:
                for cand in ("uint8", "int8", "uint16", "int16", "uint32", "int32"):
                    info = np.iinfo(np.dtype(cand))
                    if info.min <= spec["min"] and spec["max"] <= info.max:
                        dtype = cand
                        break
        else:
            dtype = _PRECISIONS.get(str(spec), str(spec))
        bands.extend(cast_image(Image([band]), dtype).bands)
    out = image.with_bands(bands)
    if bandOrder:
        out = select(out, bandOrder)
    return out


# --- masks -------------------------------------------------------------------------------


def _mask_pairs(image: Image, mask_img: Image, op: str) -> list[tuple[Band, Band]]:
    pairs = match_bands(image, mask_img, op)
    if len(pairs) != len(image.bands):
        raise EEError(f"Image.{op}: the mask must have 1 band or as many bands as the image.")
    return [(x, y) for x, y, _ in pairs]


@algorithm("Image.updateMask")
def update_mask(image: Image, mask: Any) -> Image:
    mask_img = as_image(mask, "Image.updateMask mask")
    bands = []
    for band, mband in _mask_pairs(image, mask_img, "updateMask"):

        def compute(p: PixelData, m: PixelData) -> PixelData:
            return p[0], p[1] & m[1] & (m[0] != 0)

        b = pointwise([band, mband], compute, name=band.name, dtype=band.dtype)
        bands.append(b.replace(projection=band.projection, extent=band.extent))
    return image.with_bands(bands)


@algorithm("Image.mask")
def mask(image: Image, mask: Any = None) -> Image:
    if mask is None:
        bands = []
        for band in image.bands:
            b = pointwise(
                [band], lambda p: (p[1].astype(float), True), name=band.name, dtype="float32"
            )
            bands.append(b)
        return image.with_bands(bands)
    mask_img = as_image(mask, "Image.mask mask")
    bands = []
    for band, mband in _mask_pairs(image, mask_img, "mask"):

        def compute(p: PixelData, m: PixelData) -> PixelData:
            new = m[1] & (m[0] != 0)
            return np.where(p[1], p[0], 0.0), new

        b = pointwise([band, mband], compute, name=band.name, dtype=band.dtype)
        bands.append(b.replace(projection=band.projection, extent=band.extent))
    return image.with_bands(bands)


@algorithm("Image.selfMask")
def self_mask(image: Image) -> Image:
    return update_mask(image, image)


def _footprint(band: Band, grid: Grid) -> np.ndarray:
    """Pixels of ``grid`` whose centre lies inside the band's native extent."""
    if band.extent is None:
        return np.ones(grid.shape, dtype=bool)

    def reader(r0: int, c0: int, h: int, w: int) -> PixelData:
        return np.zeros((h, w)), np.ones((h, w), dtype=bool)

    return sample(band.extent.projection, band.extent.shape, reader, grid)[1]


@algorithm("Image.unmask")
def unmask(input: Image, value: Any = None, sameFootprint: bool = True) -> Image:  # noqa: A002,N803
    fill = as_image(0 if value is None else value, "Image.unmask value")
    bands = []
    for band, fband, _name in match_bands(input, fill, "unmask"):
        if len(fill.bands) > 1 and len(input.bands) == 1:
            raise EEError("Image.unmask: the value image has more bands than the input.")

        def compute(grid: Grid, _b=band, _f=fband) -> PixelData:
            v, m = _b.compute(grid)
            fv, fm = _f.compute(grid)
            out_v = np.where(m, v, fv)
            out_m = m | fm
            if sameFootprint:
                out_m &= _footprint(_b, grid)
            return out_v, out_m

        dtype = promote(band.dtype, fband.dtype) if is_integer_dtype(band.dtype) else band.dtype
        bands.append(
            Band(band.name, compute, dtype=dtype, projection=band.projection, extent=band.extent)
        )
    return input.with_bands(bands)


@algorithm("Image.where")
def where(input: Image, test: Any, value: Any) -> Image:  # noqa: A002
    test_img = as_image(test, "Image.where test")
    value_img = as_image(value, "Image.where value")
    bands = []
    for i, band in enumerate(input.bands):
        tb = test_img.bands[i if len(test_img.bands) > 1 else 0]
        vb = value_img.bands[i if len(value_img.bands) > 1 else 0]

        def compute(p: PixelData, t: PixelData, v: PixelData) -> PixelData:
            take = t[1] & v[1] & (t[0] != 0)
            return np.where(take, v[0], p[0]), p[1]

        b = pointwise([band, tb, vb], compute, name=band.name, dtype=promote(band.dtype, vb.dtype))
        bands.append(b.replace(projection=band.projection, extent=band.extent))
    return input.with_bands(bands)


# --- geometry --------------------------------------------------------------------------------


def as_geometry(obj: Any, what: str) -> Geometry:
    """A Geometry from a Geometry, a Feature or a FeatureCollection (union of features)."""
    if isinstance(obj, Geometry):
        return obj
    if isinstance(obj, Feature):
        if obj.geometry is None:
            raise EEError(f"{what}: the feature has no geometry.")
        return obj.geometry
    if isinstance(obj, FeatureCollection):
        import shapely

        shapes = [
            f.geometry.in_crs("EPSG:4326") for f in obj.features if getattr(f, "geometry", None)
        ]
        return Geometry(shapely.union_all(shapes) if shapes else shapely.GeometryCollection())
    raise EEError(f"{what}: expected a Geometry or Feature, got {type(obj).__name__}.")


def _clip_extent(band: Band, geometry: Geometry) -> Grid | None:
    """The band's pixel extent after a clip: its grid's window over the geometry's bounds.

    A clipped image is bounded (it can be exported without a region); a band that already
    has an extent on the same pixel lattice keeps only the overlap.
    """
    proj = band.projection or DEFAULT_PROJECTION
    shape = geometry_shape_in(geometry, Grid(proj, (0, 0)))
    if shape.is_empty or not proj.is_axis_aligned():
        return band.extent if not shape.is_empty else _window(proj, 0, 0, 0, 0)
    window = extent_of(geometry, proj)
    ext = band.extent
    if ext is None:
        return window
    a = Grid(ext.projection, (1, 1)).offset_in(proj)
    b = Grid(window.projection, (1, 1)).offset_in(proj)
    if a is None or b is None:
        return window
    r0, c0 = max(a[0], b[0]), max(a[1], b[1])
    r1 = min(a[0] + ext.height, b[0] + window.height)
    c1 = min(a[1] + ext.width, b[1] + window.width)
    return _window(proj, r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))


def _clip_image(image: Image, geometry: Geometry) -> Image:
    bands = []
    for band in image.bands:

        def compute(grid: Grid, _b=band) -> PixelData:
            v, m = _b.compute(grid)
            return v, m & centre_mask(geometry, grid)

        bands.append(
            Band(
                band.name,
                compute,
                dtype=band.dtype,
                projection=band.projection,
                extent=_clip_extent(band, geometry),
            )
        )
    return image.with_bands(bands)


@algorithm("Image.clip")
def clip(input: Image, geometry: Any) -> Image:  # noqa: A002
    return _clip_image(input, as_geometry(geometry, "Image.clip"))


@algorithm("Image.clipToCollection")
def clip_to_collection(input: Image, collection: Any) -> Image:  # noqa: A002
    return _clip_image(input, as_geometry(collection, "Image.clipToCollection"))


# --- projections ----------------------------------------------------------------------------


def as_projection(
    crs: Any, crs_transform: Any = None, scale: Any = None, *, what: str
) -> Projection:
    """A Projection from Earth Engine's (crs, crsTransform, scale) arguments."""
    if isinstance(crs, Projection):
        proj = crs
    elif isinstance(crs, str):
        proj = Projection(crs, DEFAULT_PROJECTION.transform)
    else:
        raise EEError(f"{what}: invalid crs {crs!r}.")
    if crs_transform is not None:
        if len(crs_transform) != 6:
            raise EEError(f"{what}: crsTransform must have 6 numbers, got {len(crs_transform)}.")
        proj = Projection(proj.crs, tuple(float(v) for v in crs_transform))
    elif scale is not None:
        proj = proj.with_scale(float(scale))
    return proj


@algorithm("Image.projection")
def projection(image: Image) -> Projection:
    projs = {b.projection for b in image.bands}
    if len(projs) > 1:
        raise EEError(
            "Image.projection: The bands of the specified image contains different projections. "
            "Use Image.select to pick a single band."
        )
    # The default projection (setDefaultProjection replaces it; the native grid stays the
    # band's extent, which is what pixels are read from).
    proj = image.default_projection()
    return DEFAULT_PROJECTION if proj is None else proj


@algorithm("Image.setDefaultProjection")
def set_default_projection(
    image: Image, crs: Any, crsTransform: Any = None, scale: Any = None
) -> Image:  # noqa: N803
    proj = as_projection(crs, crsTransform, scale, what="Image.setDefaultProjection")
    return image.with_bands([b.replace(projection=proj) for b in image.bands])


@algorithm("Image.reproject")
def reproject(image: Image, crs: Any, crsTransform: Any = None, scale: Any = None) -> Image:  # noqa: N803
    proj = as_projection(crs, crsTransform, scale, what="Image.reproject")
    bands = []
    for band in image.bands:

        def compute(grid: Grid, _b=band) -> PixelData:
            def reader(r0: int, c0: int, h: int, w: int) -> PixelData:
                return _b.compute(_window(proj, r0, c0, h, w))

            return sample(proj, None, reader, grid)

        bands.append(
            Band(
                band.name,
                compute,
                dtype=band.dtype,
                projection=proj,
                extent=_reprojected_extent(band, proj),
            )
        )
    return image.with_bands(bands)


def _reprojected_extent(band: Band, proj: Projection) -> Grid | None:
    """The pixels of ``proj`` that meet the band's native footprint (None if unbounded).

    Keeps a reprojected image bounded: exportable without a region, and ``unmask`` with
    ``sameFootprint`` does not fill beyond the data.
    """
    ext = band.extent
    if ext is None or not proj.is_axis_aligned():
        return None
    import shapely.geometry

    xmin, ymin, xmax, ymax = ext.bounds()
    box = shapely.geometry.box(xmin, ymin, xmax, ymax)
    if ext.crs != proj.crs:  # edges curve in another CRS: transform more than the corners
        box = box.segmentize(max(xmax - xmin, ymax - ymin) / 32)
    return extent_of(Geometry(box, ext.crs), proj)


def _window(proj: Projection, row0: int, col0: int, h: int, w: int) -> Grid:
    return Grid(proj, (0, 0)).window(row0, col0, h, w)


def extent_of(geometry: Geometry, proj: Projection) -> Grid:
    """The pixels of ``proj`` whose area meets the geometry's bounding box."""
    shape = geometry_shape_in(geometry, Grid(proj, (0, 0)))
    xmin, ymin, xmax, ymax = shape.bounds
    a, b, c, d, e, f = proj.transform
    if b or d:
        raise EEError("Sheared projections are not supported by the local engine for bounds.")
    cols = sorted(((xmin - c) / a, (xmax - c) / a))
    rows = sorted(((ymin - f) / e, (ymax - f) / e))
    eps = 1e-7
    c0, c1 = math.floor(cols[0] + eps), math.ceil(cols[1] - eps)
    r0, r1 = math.floor(rows[0] + eps), math.ceil(rows[1] - eps)
    return _window(proj, r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))


def _rescaled(proj: Projection, scale: float) -> Projection:
    """The projection scaled to a nominal ``scale`` in metres, keeping its origin (as the
    docs of clipToBoundsAndScale say: the image's own projection is scaled)."""
    k = float(scale) / proj.nominal_scale
    a, b, c, d, e, f = proj.transform
    return Projection(proj.crs, (a * k, b * k, c, d * k, e * k, f))


@algorithm("Image.clipToBoundsAndScale")
def clip_to_bounds_and_scale(
    input: Image,  # noqa: A002
    geometry: Any = None,
    width: int | None = None,
    height: int | None = None,
    maxDimension: int | None = None,  # noqa: N803
    scale: float | None = None,
) -> Image:
    bands = []
    for band in input.bands:
        if geometry is not None:
            geom = as_geometry(geometry, "Image.clipToBoundsAndScale")
        elif band.extent is not None:
            geom = None
        else:
            raise EEError(
                "Image.clipToBoundsAndScale: the image has no bounds; give a region (geometry)."
            )
        proj = band.projection
        if (
            proj is None
            and scale is None
            and width is None
            and height is None
            and maxDimension is None
        ):
            raise EEError(
                "The image has no fixed projection (it is a composite or a constant): on Earth "
                "Engine an export or download of it runs at the default WGS84 projection of 1 "
                "degree. Give crs and crsTransform (or scale)."
            )
        proj = proj or DEFAULT_PROJECTION
        if geom is None:
            base = band.extent
        else:
            base = extent_of(geom, _rescaled(proj, scale) if scale is not None else proj)
        if width is not None or height is not None or maxDimension is not None:
            bounds_geom = geom.in_crs(proj.crs) if geom is not None else None
            xmin, ymin, xmax, ymax = (
                bounds_geom.bounds if bounds_geom is not None else base.bounds()
            )
            w = int(width) if width is not None else None
            h = int(height) if height is not None else None
            if maxDimension is not None and w is None and h is None:
                ratio = (xmax - xmin) / max(ymax - ymin, 1e-300)
                w, h = (
                    (int(maxDimension), max(1, round(maxDimension / ratio)))
                    if ratio >= 1
                    else (max(1, round(maxDimension * ratio)), int(maxDimension))
                )
            if w is None:
                w = max(1, round(h * (xmax - xmin) / (ymax - ymin)))
            if h is None:
                h = max(1, round(w * (ymax - ymin) / (xmax - xmin)))
            t = ((xmax - xmin) / w, 0.0, xmin, 0.0, -(ymax - ymin) / h, ymax)
            base = Grid(Projection(proj.crs, t), (h, w))
        elif scale is not None and geom is None:
            raise EEError("Image.clipToBoundsAndScale: scale needs a geometry.")
        target = base

        def compute(grid: Grid, _b=band, _t=target) -> PixelData:
            v, m = _b.compute(grid)
            return v, m & _footprint(Band("x", lambda g: (0, True), extent=_t), grid)

        bands.append(
            Band(band.name, compute, dtype=band.dtype, projection=target.projection, extent=target)
        )
    return input.with_bands(bands)


@algorithm("Image.geometry")
def image_geometry(
    feature: Any, maxError: Any = None, proj: Any = None, geodesics: Any = None
) -> Geometry:  # noqa: N803
    import shapely.geometry

    if not isinstance(feature, Image):
        raise EEError("Image.geometry: expected an Image.")
    extents = [b.extent for b in feature.bands if b.extent is not None]
    if not extents:
        return Geometry(shapely.geometry.box(-180, -90, 180, 90), geodesic=False)
    ext = extents[0]
    xmin, ymin, xmax, ymax = ext.bounds()
    return Geometry(shapely.geometry.box(xmin, ymin, xmax, ymax), ext.crs, geodesic=False)


# --- metadata -------------------------------------------------------------------------------


@algorithm("Image.date")
def image_date(image: Image) -> Date:
    t = image.properties.get("system:time_start")
    if t is None:
        raise EEError("Image.date: the image has no 'system:time_start' property.")
    return Date(t)


@algorithm("Image.id")
def image_id(element: Any) -> Any:
    return element.properties.get("system:index")


@algorithm("Image.copyProperties")
def copy_properties(
    destination: Any = None,
    source: Any = None,
    properties: list | None = None,
    exclude: list | None = None,
) -> Any:
    from ..element import copy_properties as _copy

    return _copy(destination=destination, source=source, properties=properties, exclude=exclude)


# --- visualization ---------------------------------------------------------------------------


@algorithm("Image.visualize")
def visualize(
    image: Image,
    bands: Any = None,
    gain: Any = None,
    bias: Any = None,
    min: Any = None,  # noqa: A002 (Earth Engine's name)
    max: Any = None,  # noqa: A002
    gamma: Any = None,
    opacity: Any = None,
    palette: Any = None,
    forceRgbOutput: bool = False,  # noqa: N803
) -> Image:
    """An 8-bit grayscale or RGB rendering (see :func:`gee_cscc.engine.maps.visualize`)."""
    from ...service.tiles import visualize as _visualize

    return _visualize(
        image,
        bands=bands,
        gain=gain,
        bias=bias,
        min=min,
        max=max,
        gamma=gamma,
        opacity=opacity,
        palette=palette,
        forceRgbOutput=bool(forceRgbOutput),
    )


@algorithm("Image.blend")
def blend(bottom: Image, top: Image) -> Image:
    """``top`` over ``bottom``, the masks as opacity (binary here: a valid top pixel wins).

    A one-band image is replicated to the other's band count; band names are the longer
    image's (``bottom``'s when equal).
    """
    bottom = as_image(bottom, "Image.blend bottom")
    top = as_image(top, "Image.blend top")
    pairs = match_bands(bottom, top, "blend")
    bands = []
    for low, high, name in pairs:

        def compute(pb: PixelData, pt: PixelData) -> PixelData:
            return np.where(pt[1], pt[0], pb[0]), pb[1] | pt[1]

        dtype = low.dtype if low.dtype == high.dtype else promote(low.dtype, high.dtype)
        bands.append(pointwise([low, high], compute, name=name, dtype=dtype))
    return Image(bands, bottom.properties)
