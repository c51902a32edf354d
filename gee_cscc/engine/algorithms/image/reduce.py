"""``Image.reduce``, ``Image.reduceRegion`` and ``Image.reduceRegions``.

Region reductions follow Earth Engine's rules (``algorithms.json`` and the Earth Engine
guides on region reductions and weighting):

* The grid is ``crs`` + ``crsTransform``, or ``crs`` (or the image's projection) at
  ``scale`` metres, or the image's default projection. An image without a fixed projection
  (a composite or a constant) needs a scale or a crs and crsTransform, else Earth Engine's
  error "The default WGS84 projection is invalid for aggregations …"; with only a scale it
  is reduced in EPSG:4326 at that scale.
* A band whose grid differs from the reduction's is reprojected onto it on the fly
  (nearest neighbour, or the band's ``resample`` mode; see
  :mod:`gee_cscc.engine.raster.resample`), as Earth Engine does.
* Unweighted reducers take the pixels whose centre lies in the geometry; weighted reducers
  weight every pixel by the fraction of it the geometry covers (exact polygon/pixel
  intersection; Earth Engine quantizes this weight to 1/255 steps and drops pixels covered
  less than about 0.4 %). The default region is the footprint of the image's first band.
* ``maxPixels`` counts the pixels of the region's bounding window in the grid; without
  one, the engine's default applies (:attr:`~gee_cscc.engine.limits.Limits.max_pixels`,
  Earth Engine's 10 million unless the engine's limits were scaled).
  ``bestEffort`` coarsens the scale by powers of two until the window fits.
* A single-input reducer is applied to each band (outputs ``<band>`` or
  ``<band>_<output>``); a multi-input reducer takes the bands in order.
* ``tileScale`` is accepted and changes nothing: on Earth Engine it only shrinks the
  aggregation tiles to stay under a per-tile memory limit, with the same result; this
  engine has no such limit and always works in 256-pixel tiles
  (:func:`gee_cscc.engine.raster.reduction.reduce_region`).
"""

from __future__ import annotations

from typing import Any

from ...core.context import current_limits
from ...core.registry import algorithm
from ...core.values import Band, Feature, FeatureCollection, Image
from ...errors import EEError
from ...limits import GOOGLE
from ...raster import reduction
from ...raster.grid import Projection
from ..image_collection import composite
from ..reducer.tree import Reducer, as_reducer, for_each
from .spatial import as_geometry

#: Earth Engine's default ``maxPixels`` of a region reduction (the engine's limits may
#: scale it: :func:`max_pixels_limit`).
DEFAULT_MAX_PIXELS = GOOGLE.max_pixels


def max_pixels_limit(value: int | None) -> int:
    """The ``maxPixels`` a reduction applies: the serving engine's limit when none was given.

    The registry fills in algorithms.json's default (Earth Engine's 10 million) for an
    argument not given, so that value stands for "not given": the engine's
    :attr:`~gee_cscc.engine.limits.Limits.max_pixels` replaces it (the same number
    unless the engine's limits were scaled down).
    """
    if value is None or value == DEFAULT_MAX_PIXELS:
        return int(current_limits().max_pixels)
    return value


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


@algorithm("Image.reduce")
def reduce(image: Any, reducer: Any) -> Image:
    """Reduce the bands of each pixel; one output band per reducer output."""
    what = "Image.reduce"
    img = _image(image, what)
    r = as_reducer(reducer, what)
    if r.n_inputs != 1:
        raise EEError(f"{what}: the reducer must have a single input; {r.name} has {r.n_inputs}.")
    dtypes = [b.dtype for b in img.bands]
    dtype = dtypes[0] if len(set(dtypes)) == 1 else "float64"
    out = composite(r, [[b] for b in img.bands], [dtype])
    projection = next((b.projection for b in img.bands if b.projection is not None), None)
    extent = next((b.extent for b in img.bands if b.extent is not None), None)
    return img.with_bands([b.replace(projection=projection, extent=extent) for b in out.bands])


def bind_inputs(image: Image, reducer: Reducer, *, what: str, plain_single: bool) -> Reducer:
    """The reducer whose inputs are the image's bands in order.

    A single-input reducer is repeated per band (``forEachBand``), except on a one-band
    image when ``plain_single`` (``reduceRegions`` keeps the reducer's output names there).
    """
    n = len(image.bands)
    if reducer.n_inputs == 1 and not (plain_single and n == 1):
        return for_each(reducer, image.band_names, name=reducer.name)
    if reducer.n_inputs != n:
        raise EEError(
            f"{what}: {reducer.name} has {reducer.n_inputs} inputs, but the image has {n} "
            f"bands {image.band_names}; select {reducer.n_inputs} bands or use a "
            "single-input reducer."
        )
    return reducer


def _best_effort(
    image: Image, proj: Projection, geometry: Any, limit: int, *, what: str
) -> reduction.RegionPlan:
    plan = reduction.plan_region(geometry, image, proj, what=what)
    scale = proj.nominal_scale
    for _ in range(64):
        if plan.pixels <= limit:
            return plan
        scale *= 2.0
        proj = reduction.rescaled(proj, scale)
        plan = reduction.plan_region(geometry, image, proj, what=what)
    raise reduction.too_many_pixels(what, plan.pixels, limit)


def _geometry_arg(value: Any, what: str) -> Any:
    return None if value is None else as_geometry(value, what)


@algorithm("Image.reduceRegion")
def reduce_region(
    image: Any,
    reducer: Any,
    geometry: Any = None,
    scale: Any = None,
    crs: Any = None,
    crsTransform: Any = None,  # noqa: N803
    bestEffort: Any = False,  # noqa: N803
    maxPixels: Any = DEFAULT_MAX_PIXELS,  # noqa: N803
    tileScale: Any = 1.0,  # noqa: N803
) -> dict[str, Any]:
    what = "Image.reduceRegion"
    img = _image(image, what)
    bound = bind_inputs(img, as_reducer(reducer, what), what=what, plain_single=False)
    geom = _geometry_arg(geometry, what)
    proj = reduction.reduction_grid(img, crs, crsTransform, scale, what=what)
    limit = max_pixels_limit(maxPixels)
    plan = reduction.plan_region(geom, img, proj, what=what)
    if plan.pixels > limit:
        if not bestEffort:
            raise reduction.too_many_pixels(what, plan.pixels, limit)
        plan = _best_effort(img, proj, geom, limit, what=what)
    values = reduction.reduce_region(bound, img.bands, plan)
    return dict(zip(bound.outputs, values, strict=True))


@algorithm("Image.reduceRegions")
def reduce_regions(
    image: Any,
    collection: Any,
    reducer: Any,
    scale: Any = None,
    crs: Any = None,
    crsTransform: Any = None,  # noqa: N803
    tileScale: Any = 1.0,  # noqa: N803
    maxPixelsPerRegion: Any = None,  # noqa: N803
) -> FeatureCollection:
    """Each feature with the reducer's outputs over its geometry as new properties."""
    what = "Image.reduceRegions"
    img = _image(image, what)
    if isinstance(collection, Feature):
        collection = FeatureCollection([collection])
    if not isinstance(collection, FeatureCollection):
        raise EEError(f"{what}: expected a FeatureCollection, got {type(collection).__name__}.")
    bound = bind_inputs(img, as_reducer(reducer, what), what=what, plain_single=True)
    proj = reduction.reduction_grid(img, crs, crsTransform, scale, what=what)
    limit = max_pixels_limit(maxPixelsPerRegion)
    bands: list[Band] = img.bands
    out = []
    for feature in collection.features:
        geometry = getattr(feature, "geometry", None)
        if geometry is None:
            raise EEError(f"{what}: feature {feature.get('system:index')!r} has no geometry.")
        plan = reduction.plan_region(geometry, img, proj, what=what)
        if plan.pixels > limit:
            raise reduction.too_many_pixels(what, plan.pixels, limit)
        values = reduction.reduce_region(bound, bands, plan)
        out.append(feature.with_properties(dict(zip(bound.outputs, values, strict=True))))
    return collection.with_elements(out)
