"""The values an expression graph evaluates to in the local engine.

Images are lazy: an :class:`Image` is a list of :class:`Band` objects, each of which knows
how to compute its pixels for any requested :class:`~gee_cscc.engine.raster.grid.Grid` (values as
float64 and a boolean mask, ``True`` where the pixel is valid). Nothing is computed until a
request asks for pixels (``computePixels``, a region reduction, an export), and then only for
the requested window. Inside one request or tile, a pixel cache
(:mod:`gee_cscc.engine.core.pixelcache`) memoizes each band computation per grid, so a graph
that uses a sub-image many times (``iterate`` chains) computes it once.

Collections, features and the other Earth Engine types are plain Python objects.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import EEError
from ..raster.grid import DEFAULT_PROJECTION, Grid, Projection
from .pixelcache import current_cache, pixel_cache, tile_cache

__all__ = [
    "PixelData",
    "Band",
    "Image",
    "ImageCollection",
    "Feature",
    "FeatureCollection",
    "Geometry",
    "Date",
    "DateRange",
    "Element",
    "INT_RANGES",
    "pixel_cache",
    "tile_cache",
    "pointwise",
    "precision_info",
    "constant_band",
    "is_uniform",
]

PixelData = tuple[np.ndarray, np.ndarray]
"""``(values, mask)``: float64 values and a boolean validity mask, both ``(h, w)``."""

_ids = itertools.count()


# --- pixel types -------------------------------------------------------------------------

#: The value range of each integer pixel type.
INT_RANGES = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "uint16": (0, 65535),
    "int16": (-32768, 32767),
    "uint32": (0, 4294967295),
    "int32": (-2147483648, 2147483647),
    "int64": (-(2**63), 2**63 - 1),
}


def is_integer_dtype(dtype: str) -> bool:
    return dtype in INT_RANGES


def precision_info(dtype: str) -> dict:
    """Earth Engine's ``PixelType`` dictionary for a NumPy dtype name."""
    if dtype in INT_RANGES:
        lo, hi = INT_RANGES[dtype]
        return {"type": "PixelType", "precision": "int", "min": lo, "max": hi}
    if dtype == "float32":
        return {"type": "PixelType", "precision": "float"}
    return {"type": "PixelType", "precision": "double"}


def output_numpy_dtype(dtype: str) -> np.dtype:
    """The dtype pixels of this Earth Engine type are sent in."""
    if dtype in INT_RANGES:
        return np.dtype(dtype)
    return np.dtype("float32" if dtype == "float32" else "float64")


def promote(*dtypes: str) -> str:
    """The output type of an arithmetic operation on pixels of these types."""
    if all(is_integer_dtype(d) for d in dtypes):
        return "int64" if "int64" in dtypes or "uint32" in dtypes else "int32"
    if all(d == "float32" or is_integer_dtype(d) for d in dtypes) and "float32" in dtypes:
        return "float32"
    return "float64"


# --- bands and images ---------------------------------------------------------------------


class Band:
    """One band of an image: a name, a pixel type, a projection and a pixel function.

    Parameters
    ----------
    name
        The band name.
    fn
        ``fn(grid) -> (values, mask)`` computing the band on any grid.
    dtype
        A NumPy dtype name (``float32``, ``float64``, ``int32``, ``uint8`` …).
    projection
        The band's fixed projection, or None for an image without one
        (a constant or a composite), which Earth Engine reports as WGS84 at 1 degree.
    footprint
        Optional ``(projection, shape)`` of the native pixel extent.
    """

    __slots__ = ("name", "fn", "dtype", "projection", "extent", "uid")

    def __init__(
        self,
        name: str,
        fn: Callable[[Grid], PixelData],
        *,
        dtype: str = "float64",
        projection: Projection | None = None,
        extent: Grid | None = None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.dtype = dtype
        self.projection = projection
        self.extent = extent
        self.uid = next(_ids)

    def compute(self, grid: Grid) -> PixelData:
        """The band's ``(values, mask)`` on ``grid``, memoized within :func:`pixel_cache`."""
        cache = current_cache()
        if cache is None:
            return self._checked(grid)
        return cache.get(self.fn, grid.key, lambda: self._checked(grid))

    def _checked(self, grid: Grid) -> PixelData:
        values, mask = self.fn(grid)
        values = np.asarray(values, dtype=np.float64)
        mask = np.asarray(mask, dtype=bool)
        if values.shape != grid.shape:
            values = np.broadcast_to(values, grid.shape)
        if mask.shape != grid.shape:
            mask = np.broadcast_to(mask, grid.shape)
        return values, mask

    #: The keyword attributes a copy carries over (a subclass adds its own).
    KEYWORDS: tuple[str, ...] = ("dtype", "projection", "extent")

    def replace(self, **changes: Any) -> Band:
        """A copy with some attributes changed (the pixel function is shared)."""
        return self.copy_as(Band, **changes)

    def copy_as(self, cls: type[Band], **changes: Any) -> Any:
        """A ``cls`` with this band's name, function and :attr:`KEYWORDS`, some changed."""
        fields = {k: getattr(self, k) for k in ("name", "fn", *self.KEYWORDS)}
        fields.update(changes)
        return cls(fields.pop("name"), fields.pop("fn"), **fields)

    def info(self) -> dict:
        """The ``getInfo`` form of the band."""
        out: dict[str, Any] = {"id": self.name, "data_type": precision_info(self.dtype)}
        proj = self.projection or DEFAULT_PROJECTION
        # The native grid describes the band only while it is in the band's projection
        # (setDefaultProjection changes the projection, not the stored pixels).
        native = self.extent is not None and self.extent.projection == self.projection
        if native:
            out["dimensions"] = [self.extent.width, self.extent.height]
        out["crs"] = proj.crs
        out["crs_transform"] = list(self.extent.transform if native else proj.transform)
        return out


def constant_band(value: float, name: str = "constant", dtype: str | None = None) -> Band:
    """A band with the same value everywhere and no fixed projection.

    Its pixels are read-only broadcast views of one value (no memory per pixel), so a
    graph with many constants (a year band per image) costs nothing per tile.
    """
    v = float(value)
    if dtype is None:
        dtype = "int32" if float(v).is_integer() and abs(v) < 2**31 else "float64"
    one = np.float64(v)

    def fn(grid: Grid) -> PixelData:
        return np.broadcast_to(one, grid.shape), np.broadcast_to(True, grid.shape)

    return Band(name, fn, dtype=dtype)


def is_uniform(array: np.ndarray) -> bool:
    """Whether ``array`` is one value broadcast over its shape (every stride 0, not empty)."""
    return array.size > 0 and all(s == 0 for s in array.strides)


def pointwise(
    inputs: Sequence[Band],
    op: Callable[..., PixelData],
    *,
    name: str,
    dtype: str,
) -> Band:
    """A band computed pixel by pixel from other bands.

    ``op(*pixel_data)`` receives one ``(values, mask)`` per input and returns the output's
    ``(values, mask)``. The output takes the first fixed projection among the inputs.
    When every input is uniform (constants and what is computed from them only), ``op``
    runs on one pixel and the result is broadcast, so it stays a view of one value.
    """
    inputs = list(inputs)
    array_input = next((b for b in inputs if getattr(b, "shape", None)), None)
    if array_input is not None:  # array pixels, element by element (algorithms/image/arrays.py)
        return type(array_input).pointwise(inputs, op, name=name, dtype=dtype)

    def fn(grid: Grid) -> PixelData:
        data = [b.compute(grid) for b in inputs]
        if data and grid.size > 1 and all(is_uniform(v) and is_uniform(m) for v, m in data):
            values, mask = op(*((v[:1, :1], m[:1, :1]) for v, m in data))
            values = np.asarray(values, dtype=np.float64)
            mask = np.asarray(mask, dtype=bool)
            if values.size == 1 and mask.size == 1:
                return (
                    np.broadcast_to(values.reshape(()), grid.shape),
                    np.broadcast_to(mask.reshape(()), grid.shape),
                )
            return op(*data)  # an op whose result is not one pixel per pixel: run it fully
        return op(*data)

    projection = next((b.projection for b in inputs if b.projection is not None), None)
    extent = next((b.extent for b in inputs if b.extent is not None), None)
    return Band(name, fn, dtype=dtype, projection=projection, extent=extent)


class Element:
    """Something with properties (images, features, collections)."""

    properties: dict

    def get(self, name: str) -> Any:
        return self.properties.get(name)

    def with_properties(self, props: dict) -> Element:
        """A shallow copy with ``props`` merged into the properties."""
        out = copy.copy(self)
        out.properties = {**self.properties, **props}
        return out


def _put_identity(out: dict, props: dict) -> None:
    """Move ``system:id``/``system:version`` to getInfo's ``id``/``version``; the rest of
    the properties (if any) go under ``properties``."""
    if "system:id" in props:
        out["id"] = props.pop("system:id")
    if "system:version" in props:
        out["version"] = props.pop("system:version")
    if props:
        out["properties"] = props


class Image(Element):
    """An image: bands and properties (``system:id``, ``system:time_start`` …)."""

    def __init__(self, bands: Sequence[Band], properties: dict | None = None) -> None:
        self.bands = list(bands)
        self.properties = dict(properties or {})

    @property
    def band_names(self) -> list[str]:
        return [b.name for b in self.bands]

    def band(self, name: str) -> Band:
        for b in self.bands:
            if b.name == name:
                return b
        raise EEError(
            f"Image.select: Pattern '{name}' did not match any bands. "
            f"Available bands: {self.band_names}"
        )

    def with_bands(self, bands: Sequence[Band]) -> Image:
        return Image(bands, self.properties)

    def default_projection(self) -> Projection | None:
        """The first band's fixed projection (None for a composite or a constant)."""
        return self.bands[0].projection if self.bands else None

    def info(self) -> dict:
        props = dict(self.properties)
        out: dict[str, Any] = {"type": "Image", "bands": [b.info() for b in self.bands]}
        _put_identity(out, props)
        return out


class ImageCollection(Element):
    """An ordered list of images and the collection's own properties."""

    def __init__(self, images: Sequence[Image], properties: dict | None = None) -> None:
        self.images = list(images)
        self.properties = dict(properties or {})

    @property
    def elements(self) -> list[Image]:
        return self.images

    def with_elements(self, images: Sequence[Image]) -> ImageCollection:
        return ImageCollection(images, self.properties)

    def info(self) -> dict:
        props = dict(self.properties)
        out: dict[str, Any] = {
            "type": "ImageCollection",
            "bands": [],
            "features": [im.info() for im in self.images],
        }
        _put_identity(out, props)
        return out


class Geometry:
    """A geometry: a shapely shape in a CRS (EPSG:4326 lon/lat by default).

    Attributes
    ----------
    shape
        The shapely geometry, in ``crs`` coordinates.
    crs
        The CRS code of the coordinates.
    geodesic
        Earth Engine's ``geodesic`` flag (edges as great circles); the local
        engine treats edges as straight lines in the CRS, which is what Earth Engine does
        for the planar rectangles and polygons this package sends.
    """

    def __init__(self, shape: Any, crs: str = "EPSG:4326", *, geodesic: bool = False) -> None:
        self.shape = shape
        self.crs = crs
        self.geodesic = geodesic

    def in_crs(self, crs: str) -> Any:
        """The shapely shape transformed into ``crs``."""
        import shapely.affinity

        from ..raster.grid import normalize_crs

        target = normalize_crs(crs)
        shape, source = self.shape, self.crs
        if isinstance(source, Projection):
            # Coordinates in a projection's pixel units: apply its affine transform first.
            a, b, c, d, e, f = source.transform
            shape = shapely.affinity.affine_transform(shape, [a, b, d, e, c, f])
            source = source.crs
        if normalize_crs(source) == target:
            return shape
        import shapely

        from ..raster.crs import transformer

        tf = transformer(normalize_crs(source), target)
        return shapely.transform(
            shape, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1]))
        )

    def info(self) -> dict:
        import shapely.geometry

        out = _lists(shapely.geometry.mapping(self.in_crs("EPSG:4326")))
        if out.get("type") in (
            "Polygon",
            "MultiPolygon",
            "LineString",
            "MultiLineString",
        ):
            out["geodesic"] = self.geodesic
        return out


def _lists(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    return obj


class Feature(Element):
    """A feature: an optional geometry and properties (``system:index`` among them)."""

    def __init__(self, geometry: Geometry | None, properties: dict | None = None) -> None:
        self.geometry = geometry
        self.properties = dict(properties or {})

    def info(self) -> dict:
        props = dict(self.properties)
        out: dict[str, Any] = {
            "type": "Feature",
            "geometry": self.geometry.info() if self.geometry is not None else None,
        }
        if "system:index" in props:
            out["id"] = props.pop("system:index")
        out["properties"] = props
        return out


class FeatureCollection(Element):
    """An ordered list of features (or other elements) and the collection's properties."""

    def __init__(self, features: Sequence[Any], properties: dict | None = None) -> None:
        self.features = list(features)
        self.properties = dict(properties or {})

    @property
    def elements(self) -> list[Any]:
        return self.features

    def with_elements(self, features: Sequence[Any]) -> FeatureCollection:
        return FeatureCollection(features, self.properties)

    def info(self) -> dict:
        props = dict(self.properties)
        out: dict[str, Any] = {"type": "FeatureCollection", "columns": {}}
        if "system:id" in props:
            out["id"] = props.pop("system:id")
        from .serialize import to_info

        out["features"] = [to_info(f) for f in self.features]
        if props:
            out["properties"] = props
        return out


class Date:
    """A point in time: milliseconds since 1970-01-01T00:00:00Z."""

    def __init__(self, millis: float) -> None:
        self.millis = float(millis)

    def info(self) -> dict:
        return {"type": "Date", "value": self.millis}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Date) and other.millis == self.millis

    def __hash__(self) -> int:
        return hash(self.millis)


class DateRange:
    """A half-open interval of time ``[start, end)`` in milliseconds."""

    def __init__(self, start: float, end: float) -> None:
        self.start = float(start)
        self.end = float(end)

    def contains(self, millis: float) -> bool:
        return self.start <= millis < self.end

    def info(self) -> dict:
        return {"type": "DateRange", "dates": [self.start, self.end]}
