"""Zonal statistics per region (province) and for the whole area (docs/method.md §2–§4).

Regions arrive as an ``ee.FeatureCollection`` of polygons (a property names each region)
or as an integer region-id image (0 = outside every region). Polygons are rasterized with
``ee.Image(0).paint(features, id)``: a pixel of the run's grid takes the id of the region
whose polygon holds its **centre** (binary: a pixel is in one region or none, on Earth
Engine and on the local engine alike; ``clip`` would give fractional masks at the borders
on Earth Engine). Every path — grouped sums server-side, or pulled rasters counted locally
— counts the same pixels. Every sum here is an unweighted grouped ``reduceRegion`` over the
run's grid, with its ``crs`` and ``crsTransform`` given explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ee

from gee_cscc.method.grid import GridSpec

__all__ = [
    "Regions",
    "regions_from_features",
    "regions_from_image",
    "grouped_sums",
    "MAX_PIXELS",
    "REGION_BAND",
]

REGION_BAND = "region"
_ID_PROPERTY = "gee_cscc_region_id"
#: ``maxPixels`` of every region reduction: high enough that Earth Engine never refuses a
#: national grid for its size (its interactive time and memory limits still apply).
MAX_PIXELS = 1e13


@dataclass(frozen=True)
class Regions:
    """Regions as a region-id image and the names of its ids.

    Attributes
    ----------
    image
        ``ee.Image`` with band ``region`` (int32): the id of the region whose polygon holds
        the pixel centre, 0 outside every region; never masked.
    names
        ``{id: name}`` for every region (ids ≥ 1), in the order regions are reported.
    source
        Asset id or file the regions came from (for provenance), if known.
    unnamed
        Ids that a names file left out: named by the id itself (the input checks say so).
    """

    image: Any
    names: dict[int, str]
    source: str | None = None
    features: Any = field(default=None, compare=False)
    unnamed: tuple[int, ...] = field(default=(), compare=False)

    @property
    def ids(self) -> list[int]:
        return list(self.names)


def regions_from_features(
    features: Any, *, name_property: str, source: str | None = None
) -> Regions:
    """Regions from an ``ee.FeatureCollection`` whose ``name_property`` names each region.

    Ids 1…n follow the order of the features. One ``getInfo`` reads the names.

    Raises
    ------
    gee_cscc.errors.InputError
        The property is missing on a feature, or two features share a name.
    """
    from gee_cscc.errors import InputError

    fc = ee.FeatureCollection(features)
    try:
        names = fc.aggregate_array(name_property).getInfo()
        n_features = fc.size().getInfo()
    except ee.EEException as exc:
        raise InputError(f"Cannot read regions {source or ''}: {exc}") from exc
    if len(names) != n_features:
        raise InputError(
            f"{n_features - len(names)} of {n_features} region features in {source or 'the regions'} "
            f"have no '{name_property}' property; set region_property to the property that names them."
        )
    if not names:
        raise InputError(f"The regions {source or ''} have no features.")
    seen: set[str] = set()
    for n in names:
        if str(n) in seen:
            raise InputError(f"Region name '{n}' appears twice in {source or 'the regions'}.")
        seen.add(str(n))
    ids = list(range(1, len(names) + 1))
    keyed = ee.Dictionary.fromLists([str(n) for n in names], ids)
    tagged = fc.map(
        lambda f: f.set(_ID_PROPERTY, keyed.get(ee.String(ee.Feature(f).get(name_property))))
    )
    image = ee.Image(0).toInt32().paint(tagged, _ID_PROPERTY).toInt32().rename(REGION_BAND)
    return Regions(image, {i: str(n) for i, n in zip(ids, names, strict=True)}, source, tagged)


def regions_from_image(
    image: Any,
    *,
    names: dict[int, str] | None = None,
    ids: list[int] | None = None,
    source: str | None = None,
) -> Regions:
    """Regions from an integer region-id image (0 = outside every region).

    Parameters
    ----------
    image
        ``ee.Image``; its first band holds the ids.
    names
        ``{id: name}``; ids without a name are named by the id itself (listed in
        :attr:`Regions.unnamed` when ``names`` is given).
    ids
        The ids present (read from the image when not given).

    Raises
    ------
    InputError
        An id without a name would be named like another region (``names`` gives the name
        ``"3"`` to another id than 3): the tables would hold two rows of one name.
    """
    from gee_cscc.errors import InputError

    img = ee.Image(image).select([0]).unmask(0, False).toInt32().rename(REGION_BAND)
    names = {int(k): v for k, v in (names or {}).items()}
    if ids is None:
        ids = sorted(set(names))
    ids = sorted(int(i) for i in ids)
    unnamed = tuple(i for i in ids if names and i not in names)
    taken = {str(v): k for k, v in names.items()}
    for i in unnamed:
        if str(i) in taken:
            raise InputError(
                f"Region id {i} of {source or 'the region image'} has no name, so it would "
                f"be named '{i}', the name given to region id {taken[str(i)]}: name region "
                f"id {i} too, or rename region id {taken[str(i)]}."
            )
    return Regions(img, {i: names.get(i, str(i)) for i in ids}, source, unnamed=unnamed)


def grouped_sums(
    bands: Any, n_bands: int, regions: Regions, grid: GridSpec, *, tile_scale: float | None = None
) -> Any:
    """Unweighted sums of every band per region id, server-side.

    ``bands`` has ``n_bands`` bands. Masked pixels of ``bands`` must be unmasked (to 0) by the caller; the region band is
    never masked, so each group gets every pixel of its region exactly once. ``tile_scale``
    is ``reduceRegion``'s ``tileScale`` (smaller tiles, less memory per tile; same sums).

    Returns
    -------
    ee.List
        ``[{"region": id, "sum": [band sums…]}, …]`` for every id present (0 included).
    """
    stacked = ee.Image(bands).addBands(regions.image)
    reducer = (
        ee.Reducer.sum()
        .unweighted()
        .repeat(n_bands)
        .group(groupField=n_bands, groupName=REGION_BAND)
    )
    extra = {"tileScale": float(tile_scale)} if tile_scale else {}
    result = stacked.reduceRegion(
        reducer=reducer,
        geometry=grid.region(),
        maxPixels=MAX_PIXELS,
        **grid.reduce_args(),
        **extra,
    )
    return ee.List(result.get("groups"))
