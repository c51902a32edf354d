"""Bringing results back: rasters through ``xee`` into xarray, region sums into pandas.

Pixels come back with ``xr.open_dataset(..., engine="ee")`` on the run's grid (its CRS and
transform given explicitly: composites have no fixed projection). Region statistics are
unweighted grouped sums computed server-side (:func:`gee_cscc.method.regions.grouped_sums`);
maintenance counts are by default counted locally from the pulled surfaces and region
raster (:func:`count_maintenance`), or server-side for grids too large to pull, as grouped
sums of :func:`maintenance_count_bands` (read by :func:`counts_from_sums`; the run adds
them to its region sums' reduction) — both count the same pixels.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import ee
import numpy as np
import pandas as pd
import xarray as xr

from gee_cscc.engine.core.memory import release_free_memory
from gee_cscc.method.grid import GridSpec
from gee_cscc.method.regions import REGION_BAND, Regions, grouped_sums
from gee_cscc.stats.run_tables import ALL_ID
from gee_cscc.workflow.counts import count_maintenance
from gee_cscc.workflow.scratch_layers import ScratchFolder, lazy_stack

__all__ = [
    "MIN_REQUEST_BYTES",
    "PULL_RETRIES",
    "open_image",
    "open_collection",
    "open_layers",
    "pull_tiles",
    "stream_blocks",
    "STREAM_TILES_ACROSS",
    "count_maintenance",
    "layer_stack",
    "counts_from_sums",
    "maintenance_count_bands",
    "region_sums",
    "sums_frame",
]


#: Retries of each xee pixel request: xee's own defaults (``xee.ext.EarthEngineStore.
#: GETITEM_KWARGS``: 6 retries, exponential back-off from 500 ms, about 30 s in all), so a
#: transient 429/5xx or a busy server does not discard a pull of thousands of tiles. xee
#: retries every ``EEException``; the ``ee`` client retries 429 and 5xx on top of that.
PULL_RETRIES = {"max_retries": 6, "initial_delay": 500}
#: The smallest request size a pull asks xee for (xee's chunk arithmetic needs >= 2 KiB).
MIN_REQUEST_BYTES = 4096


def _open(
    collection: Any, grid: GridSpec, request_bytes: int | None = None, **kwargs: Any
) -> xr.Dataset:
    if request_bytes:  # xee sizes chunks in powers of two: below 4 KiB it cannot
        kwargs["request_byte_limit"] = max(int(request_bytes), MIN_REQUEST_BYTES)
    from xee import EarthEngineBackendEntrypoint  # "ee" by name loads every xarray backend

    ds = xr.open_dataset(
        collection,
        engine=EarthEngineBackendEntrypoint,
        crs=grid.crs,
        crs_transform=grid.transform,
        shape_2d=grid.shape_2d,
        getitem_kwargs=PULL_RETRIES,
        **kwargs,
    )
    x, y = (None, None)
    try:
        x, y = grid.cell_centres()
    except ValueError:
        pass
    ds = ds.transpose(..., "y", "x")
    if x is not None:
        ds = ds.assign_coords(x=("x", x), y=("y", y))
    return ds


def _backend_store(variable: xr.DataArray) -> Any:
    """The xee store behind a lazily opened variable (None if xarray wraps it otherwise)."""
    data = variable.variable._data
    for _ in range(8):  # MemoryCachedArray → CopyOnWriteArray → LazilyIndexedArray → backend
        store = getattr(data, "store", None)
        if store is not None and hasattr(store, "image_to_array"):
            return store
        data = getattr(data, "array", None)
        if data is None:
            return None
    return None


def _row_step(variable: xr.DataArray) -> int:
    """Rows per band of a streamed pull: xee's chunk height (its requests stay the same)."""
    chunks = variable.encoding.get("preferred_chunks") or {}
    height = int(variable.sizes["y"]) if "y" in variable.sizes else 1
    return max(1, int(chunks.get("y") or height))


def pull_tiles(
    variable: xr.DataArray,
    on_tile: Callable[[int, int], None] | None = None,
    *,
    on_rows: Callable[[int, int, np.ndarray], None] | None = None,
) -> xr.DataArray:
    """Load a variable opened with xee, calling ``on_tile(done, total)`` as tiles arrive.

    xee cuts the pull into tiles of its ``preferred_chunks`` (one ``computePixels`` request
    each, fetched in parallel): ``total`` is their number, ``Π ceil(size / chunk)``, and
    ``done`` counts the tiles received so far (``on_tile(0, total)`` first). Only this pull's
    requests are counted: the store of this dataset is wrapped, nothing global.

    A variable with a ``y`` dimension is pulled one band of rows at a time (xee's chunk
    height, so the requests are the ones a whole load makes) into one array allocated
    up front: xee keeps every tile of a load and then joins them with ``np.block``, so a
    whole load holds the result twice; by bands, only one band is held twice.
    ``on_rows(y0, y1, block)`` is told of each band as it lands (``block`` is the band of
    the result, every dimension but ``y`` whole, read-only to the caller).
    """
    return _counted(variable, on_tile, lambda: _load_by_rows(variable, on_rows))


#: Tiles (xee chunks) side by side that :func:`stream_blocks` pulls at once: enough requests
#: in flight for the engine's workers (and Earth Engine's latency), while a wide grid's
#: band of rows is never held whole.
STREAM_TILES_ACROSS = 4


def stream_blocks(
    variable: xr.DataArray,
    on_block: Callable[[int, int, np.ndarray], None],
    on_tile: Callable[[int, int], None] | None = None,
    *,
    tiles_across: int = STREAM_TILES_ACROSS,
) -> None:
    """Pull a ``(…, y, x)`` variable a block at a time: xee's chunk height, ``tiles_across``
    chunk widths (aligned to xee's chunks, so the requests are those of a whole load),
    handing each to ``on_block(y0, x0, block)`` and keeping none. Memory holds one block,
    whatever the grid's width."""
    if "y" not in variable.dims or "x" not in variable.dims:
        raise ValueError(f"stream_blocks needs 'y' and 'x' dimensions, got {variable.dims}")
    height, width = int(variable.sizes["y"]), int(variable.sizes["x"])
    ystep = _row_step(variable)
    chunks = variable.encoding.get("preferred_chunks") or {}
    xstep = max(1, int(chunks.get("x") or width)) * max(1, int(tiles_across))

    def load() -> None:
        for y0 in range(0, height, ystep):
            for x0 in range(0, width, xstep):
                piece = variable.isel(y=slice(y0, y0 + ystep), x=slice(x0, x0 + xstep))
                block = np.asarray(piece.values)
                on_block(y0, x0, block)
                del block
                release_free_memory()

    _counted(variable, on_tile, load)


def _counted(
    variable: xr.DataArray, on_tile: Callable[[int, int], None] | None, load: Callable[[], Any]
) -> Any:
    """``load()``, telling ``on_tile`` of the tiles of ``variable`` as they arrive."""
    chunks = variable.encoding.get("preferred_chunks") or {}
    total = 1
    for dim, size in variable.sizes.items():
        step = int(chunks.get(dim) or size) or 1
        total *= max(1, math.ceil(size / step))
    store = _backend_store(variable) if on_tile is not None else None
    if on_tile is not None and store is None:
        on_tile(0, total)
        loaded = load()
        on_tile(total, total)
        return loaded
    if store is None:
        return load()
    fetch = store.image_to_array
    lock = threading.Lock()
    done = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        out = fetch(*args, **kwargs)
        with lock:
            done[0] += 1
            on_tile(min(done[0], total), total)
        return out

    on_tile(0, total)
    store.image_to_array = counted  # this store only; restored below
    try:
        loaded = load()
    finally:
        del store.image_to_array
    if done[0] < total:  # fewer, larger requests than the chunks say: the pull is complete
        on_tile(total, total)
    return loaded


def _load_by_rows(
    variable: xr.DataArray, on_rows: Callable[[int, int, np.ndarray], None] | None
) -> xr.DataArray:
    if "y" not in variable.dims:
        return variable.load()
    axis = variable.dims.index("y")
    height = int(variable.sizes["y"])
    step = _row_step(variable)
    out: np.ndarray | None = None
    for y0 in range(0, height, step):
        y1 = min(height, y0 + step)
        block = np.asarray(variable.isel(y=slice(y0, y1)).values)
        if out is None:
            shape = list(variable.shape)
            out = np.empty(shape, dtype=block.dtype)
        index = [slice(None)] * variable.ndim
        index[axis] = slice(y0, y1)
        out[tuple(index)] = block
        del block
        release_free_memory()
        if on_rows is not None:
            on_rows(y0, y1, out[tuple(index)])
    if out is None:  # no rows
        return variable.load()
    return variable.copy(data=out)


def open_image(image: Any, grid: GridSpec, *, bands: Sequence[str] | None = None) -> xr.Dataset:
    """Pull an ``ee.Image`` onto ``grid``: one ``(y, x)`` variable per band (NaN = masked)."""
    img = ee.Image(image)
    if bands is not None:
        img = img.select(list(bands))
    # xee reads a time coordinate from system:time_start; a result image has none.
    ds = _open(ee.ImageCollection.fromImages([img.set("system:time_start", 0)]), grid)
    ds = ds.isel({d: 0 for d in ds.dims if d not in ("x", "y")}, drop=True)
    return ds.load()


def open_collection(
    collection: Any, grid: GridSpec, *, band: str, dim: str = "year", dim_property: str = "year"
) -> xr.DataArray:
    """Pull one band of an ``ee.ImageCollection`` as a ``(dim, y, x)`` DataArray."""
    col = ee.ImageCollection(collection).select([band])
    ds = _open(col, grid, primary_dim_name=dim, primary_dim_property=dim_property)
    da = ds[band].load()
    if dim in da.coords:
        da = da.assign_coords({dim: da[dim].values.astype(int)})
    return da


def open_layers(
    layers: dict[str, Any],
    grid: GridSpec,
    *,
    request_bytes: int | None = None,
    on_tile: Callable[[int, int], None] | None = None,
    scratch: ScratchFolder | None = None,
) -> xr.Dataset:
    """Pull many single-band images at once: one ``(y, x)`` variable per named layer.

    The layers travel as one image collection (one image per layer, band ``value``), so
    ``xee`` fetches every layer of a tile in one ``computePixels`` request and the server
    computes their shared sub-expressions once per tile instead of once per layer. Values
    travel and arrive as float32 (xee delivers float32 whatever the server sends: casting
    on the server rounds the same way and halves the bytes of every request, so xee's
    chunks are twice as large), NaN where masked. ``request_bytes`` caps each
    ``computePixels`` request (the engine's ``Limits.pixels_bytes``; default xee's 48 MiB).
    ``on_tile(done, total)`` is told of every tile received (:func:`pull_tiles`).

    With ``scratch`` (a :class:`~gee_cscc.workflow.scratch_layers.ScratchFolder`), each
    band of rows goes straight into the layers' files there as it arrives and the result
    reads them lazily (:mod:`gee_cscc.workflow.scratch_layers`): memory holds one band,
    whatever the grid's size. Without it, the layers are loaded into memory.
    """
    names = list(layers)
    images = [
        ee.Image(layers[name]).select([0]).toFloat().rename("value").set({"layer": i})
        for i, name in enumerate(names)
    ]
    ds = _open(
        ee.ImageCollection.fromImages(images),
        grid,
        request_bytes,
        primary_dim_name="layer",
        primary_dim_property="layer",
    )
    if scratch is not None:
        return _stream_layers(ds["value"], names, scratch, on_tile)
    stack = pull_tiles(ds["value"], on_tile)
    out = xr.Dataset(
        {name: stack.isel(layer=i, drop=True) for i, name in enumerate(names)},
        coords={"y": stack["y"], "x": stack["x"]},
    )
    return out


def _stream_layers(
    stack: xr.DataArray,
    names: list[str],
    scratch: ScratchFolder,
    on_tile: Callable[[int, int], None] | None,
) -> xr.Dataset:
    """Pull the ``(layer, y, x)`` stack by bands into one scratch file per layer."""
    stack = stack.transpose("layer", "y", "x")
    writer = scratch.writer(names, (stack.sizes["y"], stack.sizes["x"]), np.float32)

    def write(y0: int, x0: int, block: np.ndarray) -> None:
        for i in range(len(names)):
            writer.write_block(i, y0, x0, block[i])

    try:
        stream_blocks(stack, write, on_tile)
    finally:
        writer.close()
    variables = writer.variables(attrs=stack.attrs)
    return xr.Dataset(variables, coords={"y": stack["y"], "x": stack["x"]})


def layer_stack(
    layers: xr.Dataset, names: Sequence[str], dim: str, values: Sequence[Any]
) -> xr.DataArray:
    """The ``(y, x)`` layers ``names`` of a pull as one ``(dim, y, x)`` DataArray.

    Layers that :func:`open_layers` pulled next to each other share one array: the result
    is then a view of it (no copy of the layers); otherwise the layers are stacked (one
    copy). Layers read lazily from one scratch folder give a lazy stack over their files
    (nothing read). Coordinates ``dim`` (``values``), ``y`` and ``x``; the first layer's
    attributes.
    """
    data: Any = lazy_stack([layers[name] for name in names])
    arrays = [] if data is not None else [np.asarray(layers[name].data) for name in names]
    base = arrays[0].base if arrays else None
    if data is None and (
        isinstance(base, np.ndarray)
        and base.ndim == 3
        and base.flags.c_contiguous
        and base.shape[1:] == arrays[0].shape
        and all(a.base is base for a in arrays)
    ):
        start = base.__array_interface__["data"][0]
        size = arrays[0].nbytes
        offsets = [a.__array_interface__["data"][0] - start for a in arrays]
        first = offsets[0] // size if size else 0
        if size and offsets == [(first + i) * size for i in range(len(arrays))]:
            data = base[first : first + len(arrays)]
    if data is None:
        data = np.stack(arrays)
    first_layer = layers[names[0]]
    return xr.DataArray(
        data,
        dims=(dim, "y", "x"),
        coords={dim: list(values), "y": first_layer["y"], "x": first_layer["x"]},
        attrs=dict(first_layer.attrs),
    )


def region_sums(
    bands: Any,
    band_names: Sequence[str],
    regions: Regions,
    grid: GridSpec,
    *,
    tile_scale: float | None = None,
) -> pd.DataFrame:
    """Grouped unweighted sums of ``bands`` per region id (0 = outside every region).

    Returns a DataFrame indexed by region id with one column per band name; every id in
    ``regions.names`` and 0 is present (zeros where the region has no pixels).
    """
    groups = grouped_sums(bands, len(band_names), regions, grid, tile_scale=tile_scale)
    return sums_frame(groups.getInfo() or [], band_names, regions)


def sums_frame(groups: Sequence[dict], band_names: Sequence[str], regions: Regions) -> pd.DataFrame:
    """The grouped sums ``[{"region": id, "sum": [...]}, ...]`` as a DataFrame by region id.

    Every id in ``regions.names`` and 0 is present (zeros where a region has no pixels);
    one column per band name, in order.
    """
    rows = {}
    for g in groups:
        rid = int(g[REGION_BAND])
        sums = g.get("sum") or [0.0] * len(band_names)
        rows[rid] = [0.0 if v is None else float(v) for v in sums]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(band_names))
    frame = frame.reindex(sorted(set(frame.index) | {0} | set(regions.names)), fill_value=0.0)
    frame.index.name = "region_id"
    return frame


def maintenance_count_bands(maintenance: Any, years: Sequence[int]) -> tuple[Any, list[str]]:
    """The 0/1 bands whose grouped sums count maintained cells (docs/method.md §4).

    For each evaluation year, ``pos_{year}`` is 1 where the surface P is +1 and
    ``neg_{year}`` 1 where it is -1, 0 elsewhere (never masked). Returns the image and its
    band names.
    """
    col = ee.ImageCollection(maintenance)
    bands = []
    names = []
    for y in years:
        p = ee.Image(col.filter(ee.Filter.eq("year", int(y))).first()).select("P")
        bands.append(p.eq(1).unmask(0, False).rename(f"pos_{y}"))
        bands.append(p.eq(-1).unmask(0, False).rename(f"neg_{y}"))
        names += [f"pos_{y}", f"neg_{y}"]
    return ee.Image.cat(bands), names


def counts_from_sums(sums: pd.DataFrame, years: Sequence[int], regions: Regions) -> pd.DataFrame:
    """Maintenance counts (``region_id, year, n_pos, n_neg``) from grouped sums of
    :func:`maintenance_count_bands`; :data:`ALL_ID` rows count the whole area."""
    rows = []
    for y in years:
        total_pos = int(round(sums[f"pos_{y}"].sum()))
        total_neg = int(round(sums[f"neg_{y}"].sum()))
        rows.append((ALL_ID, int(y), total_pos, total_neg))
        for rid in regions.ids:
            rows.append(
                (
                    rid,
                    int(y),
                    int(round(sums.at[rid, f"pos_{y}"])),
                    int(round(sums.at[rid, f"neg_{y}"])),
                )
            )
    return pd.DataFrame(rows, columns=["region_id", "year", "n_pos", "n_neg"])
