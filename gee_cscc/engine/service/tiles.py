"""Map tiles and thumbnails: ``ee.Image.getMapId`` / ``getThumbURL`` against the local engine.

The ``ee`` client applies visualization parameters itself, by wrapping the image in
``Image.visualize`` (:mod:`gee_cscc.engine.algorithms.image.visualize`), and then asks
the server for a map or a thumbnail id:

* ``POST /v1/projects/{p}/maps`` with ``{"expression", "fileFormat", "bandIds",
  "visualizationOptions"?}`` → ``{"name": "projects/{p}/maps/{id}"}``; the client's tile URL
  is ``{url}/v1/projects/{p}/maps/{id}/tiles/{z}/{x}/{y}`` (``TileFetcher.format_tile_url``).
  A tile is 256 × 256 pixels of the standard XYZ tiling of Web Mercator (EPSG:3857): the
  expression is evaluated on the tile's grid (stored bands are resampled, nearest neighbour;
  composites are computed directly on it) and rendered as PNG (alpha = mask) or JPEG.
* ``POST /v1/projects/{p}/thumbnails`` with the same body → ``{"name":
  "projects/{p}/thumbnails/{id}"}``; ``GET …/thumbnails/{id}:getPixels`` renders the image on
  its own pixel grid (``getThumbURL`` folds ``region`` / ``dimensions`` into the image with
  ``Image.clipToBoundsAndScale``, so that grid is the thumbnail's).

The same ``thumbnails`` call with ``fileFormat`` ``GEO_TIFF``, ``ZIPPED_GEO_TIFF``,
``ZIPPED_GEO_TIFF_PER_BAND`` or ``NPY`` is ``getDownloadURL``'s: those ids are served by
:mod:`.downloads` (and tables' download ids, ``projects/{p}/tables/{id}``, by
:mod:`.features`; they share this registry).

An image that is not already a visualization (one or three 8-bit bands) is rendered with
``Image.visualize``'s defaults, as Earth Engine renders a layer added without visualization
parameters: the first band (grayscale) or the first three (RGB), each stretched over its
pixel type's range for integer types and over ``[0, 1]`` for floating-point types.

Map and thumbnail ids live in memory, per running server, like Earth Engine's short-lived
map ids; they are not persisted in the asset store.

Who may fetch: creating a map or thumbnail needs the engine's token like every call; the
tile and ``getPixels`` URLs need none, because a browser fetches them for a notebook map
and cannot send a header. The 128 random bits of the id are the capability (as Earth
Engine's map ids are), and the pixels are drawn as the identity that created the id, with
its ACLs. Tiles and thumbnails compute on the engine's fair scheduler with the interactive
deadline, but do not count toward the concurrent-request limit (a browser fetches many
tiles at once and does not retry a 429).
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..algorithms.image.visualize import visualize
from ..core.values import Band, Image
from ..errors import EEError, NotFoundError
from ..raster.grid import Grid, Projection
from . import downloads
from .pixels import request_image

__all__ = [
    "TILE_SIZE",
    "MapRegistry",
    "tile_grid",
    "display_bands",
    "render_rgba",
    "encode",
    "registry_of",
    "handle",
    "is_capability_url",
    "serve_capability",
]

#: Width and height of a map tile, in pixels.
TILE_SIZE = 256
#: Half the side of the Web Mercator square (EPSG:3857), in metres.
MERCATOR_HALF_WORLD = math.pi * 6378137.0
#: The largest thumbnail Earth Engine renders (the computePixels request limit), in bytes.
THUMBNAIL_LIMIT = 48 * 2**20
#: The deepest zoom level served.
MAX_ZOOM = 30


# --- rendering ----------------------------------------------------------------------------


def tile_grid(z: int, x: int, y: int) -> Grid:
    """The 256 × 256 pixel grid of XYZ tile ``(z, x, y)`` in Web Mercator (EPSG:3857).

    Tile ``(0, 0)`` of every zoom is the north-west corner of the world square
    ``[-πR, πR]²`` (R = 6378137 m); ``x`` grows east and ``y`` south.
    """
    if not 0 <= z <= MAX_ZOOM:
        raise EEError(f"Tile zoom level {z} is out of range [0, {MAX_ZOOM}].")
    n = 2**z
    if not (0 <= x < n and 0 <= y < n):
        raise EEError(f"Tile coordinates ({x}, {y}) are out of range for zoom level {z}.")
    side = 2 * MERCATOR_HALF_WORLD / n
    pixel = side / TILE_SIZE
    transform = (
        pixel,
        0.0,
        -MERCATOR_HALF_WORLD + x * side,
        0.0,
        -pixel,
        MERCATOR_HALF_WORLD - y * side,
    )
    return Grid(Projection("EPSG:3857", transform), (TILE_SIZE, TILE_SIZE))


def display_bands(image: Image) -> list[Band]:
    """The 8-bit bands to draw: the image's own if it is a visualization, else defaults."""
    bands = image.bands
    if len(bands) in (1, 3) and all(b.dtype == "uint8" for b in bands):
        return list(bands)
    return visualize(image).bands


def render_rgba(image: Image, grid: Grid) -> np.ndarray:
    """The image drawn on ``grid``: a ``(h, w, 4)`` uint8 RGBA array (alpha = mask).

    Masked pixels are fully transparent (and black); a pixel masked in any of three RGB
    bands is masked. Opacity from ``Image.visualize`` scales alpha.
    """
    bands = display_bands(image)
    data = [b.compute(grid) for b in bands]
    values = [np.clip(np.nan_to_num(v), 0, 255) for v, _ in data]
    if len(values) == 1:
        values = values * 3
    alpha = np.full(grid.shape, 255.0)
    for band, (_, mask) in zip(bands, data, strict=True):
        factor = getattr(band, "opacity", 1.0)
        alpha = np.minimum(alpha, np.where(mask, 255.0 * factor, 0.0))
    alpha = np.floor(alpha + 0.5)
    rgba = np.zeros((*grid.shape, 4), dtype=np.uint8)
    for c in range(3):
        rgba[..., c] = np.where(alpha > 0, values[c], 0).astype(np.uint8)
    rgba[..., 3] = alpha.astype(np.uint8)
    return rgba


_FORMATS = {"AUTO_JPEG_PNG": "PNG", "PNG": "PNG", "JPEG": "JPEG"}


def _file_format(body: dict, what: str) -> str:
    fmt = str(body.get("fileFormat") or "AUTO_JPEG_PNG").upper()
    if fmt not in _FORMATS:
        raise EEError(
            f"{what}: fileFormat {fmt} is not supported by the local engine "
            "(PNG, JPEG or AUTO_JPEG_PNG)."
        )
    return _FORMATS[fmt]


def encode(rgba: np.ndarray, fmt: str) -> tuple[bytes, str]:
    """PNG (RGBA) or JPEG (RGB, masked pixels black) bytes and their content type.

    ``AUTO_JPEG_PNG`` is always served as PNG, so that masked pixels stay transparent.
    """
    from PIL import Image as PILImage

    buf = io.BytesIO()
    if fmt == "JPEG":
        PILImage.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB").save(buf, "JPEG", quality=90)
        return buf.getvalue(), "image/jpeg"
    PILImage.fromarray(np.ascontiguousarray(rgba), "RGBA").save(buf, "PNG")
    return buf.getvalue(), "image/png"


# --- the map / thumbnail registry ---------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    kind: str  # "maps" or "thumbnails"
    body: dict
    fmt: str
    user: str | None = None  # the identity that created it (tiles are drawn as it)


class MapRegistry:
    """Map and thumbnail ids of one server and the requests they were created with.

    Parameters
    ----------
    max_entries
        How many ids are remembered; the oldest are forgotten first.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def add(self, project: str, kind: str, body: dict, fmt: str, user: str | None = None) -> str:
        name = f"projects/{project}/{kind}/{uuid.uuid4().hex}"
        with self._lock:
            self._entries[name] = _Entry(kind, body, fmt, user)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return name

    def get(self, name: str, kind: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or entry.kind != kind:
            what = {"maps": "Map", "thumbnails": "Thumbnail", "tables": "Table download"}[kind]
            raise NotFoundError(f"{what} '{name}' not found (ids last while the engine runs).")
        return entry


_REGISTRIES: weakref.WeakKeyDictionary[Any, MapRegistry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def registry_of(engine: Any) -> MapRegistry:
    """The map registry of a running :class:`~gee_cscc.engine.server.EngineServer`."""
    with _REGISTRIES_LOCK:
        reg = _REGISTRIES.get(engine)
        if reg is None:
            reg = _REGISTRIES[engine] = MapRegistry()
        return reg


def _unwrap(value: Any) -> Any:
    """A number of the REST API, bare or in a wrapper message (``{"value": 1.5}``)."""
    return value.get("value") if isinstance(value, dict) else value


def _image_of(body: dict, what: str) -> Image:
    """The request's image: expression, ``bandIds`` and ``visualizationOptions`` applied."""
    image = request_image(body, what)
    opts = body.get("visualizationOptions")
    if opts:
        ranges = opts.get("ranges") or []
        image = visualize(
            image,
            min=[r.get("min", 0.0) for r in ranges] or None,
            max=[r.get("max", 0.0) for r in ranges] or None,
            palette=opts.get("paletteColors"),
            gamma=_unwrap(opts.get("gamma")),
            opacity=_unwrap(opts.get("opacity")),
        )
    display_bands(image)  # fails now (at getMapId) for an image that cannot be drawn
    return image


def _thumbnail_grid(image: Image, limit: int = THUMBNAIL_LIMIT) -> Grid:
    band = image.bands[0]
    if band.extent is None:
        raise EEError(
            "getThumbURL: the image is unbounded (a composite or a constant); give a region."
        )
    grid = band.extent
    if grid.width <= 0 or grid.height <= 0:
        raise EEError("getThumbURL: the thumbnail region does not overlap the image.")
    nbytes = grid.size * len(display_bands(image))
    if nbytes > limit:
        raise EEError(
            f"Total request size ({nbytes} bytes) must be less than or equal to {limit} bytes."
        )
    return grid


_CREATE_RE = re.compile(r"projects/(?P<project>[^/:]+)/(?P<kind>maps|thumbnails)")
_TILE_RE = re.compile(
    r"projects/(?P<project>[^/:]+)/maps/(?P<id>[^/:]+)/tiles/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)"
)
_PIXELS_RE = re.compile(r"projects/(?P<project>[^/:]+)/thumbnails/(?P<id>[^/:]+):getPixels")
_UNSUPPORTED_RE = re.compile(r"projects/[^/:]+/(?P<kind>videoThumbnails|filmstripThumbnails)\b.*")

#: Headers of tile and thumbnail replies (browsers may fetch them from a notebook page).
IMAGE_HEADERS = {"Access-Control-Allow-Origin": "*"}


def is_capability_url(path: str) -> bool:
    """Whether ``path`` is a tile or thumbnail-pixels URL (fetched without the token)."""
    rest = path[len("/v1/") :] if path.startswith("/v1/") else None
    return rest is not None and bool(_TILE_RE.fullmatch(rest) or _PIXELS_RE.fullmatch(rest))


Compute = Callable[..., Any]


def handle(
    engine: Any,
    method: str,
    rest: str,
    read_body: Callable[[], dict],
    user: str,
    compute: Compute,
) -> tuple[bytes, str, dict] | None:
    """Serve a maps / thumbnails call, or return None if ``rest`` is not one.

    Parameters
    ----------
    engine
        The :class:`~gee_cscc.engine.server.EngineServer` (its store and limits).
    method
        The HTTP method.
    rest
        The path after ``/v1/``.
    read_body
        Reads the JSON request body (called only for POST calls).
    user
        The caller's identity.
    compute
        Runs ``fn(ctx)`` as an interactive computation: ``compute(user, fn, counted=...)``
        (the request handler's, which watches the client).

    Returns
    -------
    tuple or None
        ``(payload, content type, extra headers)`` of a 200 reply, or None.
    """
    m = _CREATE_RE.fullmatch(rest)
    if m and method == "POST":
        body = read_body()
        project, kind = m.group("project"), m.group("kind")
        return compute(user, lambda ctx: _create(engine, project, kind, body, user), counted=False)
    if _TILE_RE.fullmatch(rest) or _PIXELS_RE.fullmatch(rest):
        return serve_capability(engine, rest, compute)
    m = _UNSUPPORTED_RE.fullmatch(rest)
    if m:
        if method == "POST":
            read_body()  # consume it: a body left unread would corrupt the kept-alive connection
        call = {
            "videoThumbnails": "ImageCollection.getVideoThumbURL",
            "filmstripThumbnails": "ImageCollection.getFilmstripThumbURL",
        }[m.group("kind")]
        raise EEError(f"{call} ({m.group('kind')}) is not implemented by the local engine.")
    return None


def serve_capability(engine: Any, rest: str, compute: Compute) -> tuple[bytes, str, dict]:
    """A tile or a thumbnail's pixels, drawn as the identity that created the map id."""
    m = _TILE_RE.fullmatch(rest)
    if m:
        name = f"projects/{m.group('project')}/maps/{m.group('id')}"
        z, x, y = (int(m.group(k)) for k in ("z", "x", "y"))
        entry = registry_of(engine).get(name, "maps")
        grid = tile_grid(z, x, y)
        return compute(entry.user, lambda ctx: _tile(entry, grid), counted=False)
    m = _PIXELS_RE.fullmatch(rest)
    if m:
        name = f"projects/{m.group('project')}/thumbnails/{m.group('id')}"
        entry = registry_of(engine).get(name, "thumbnails")
        return compute(entry.user, lambda ctx: _thumbnail(entry, ctx), counted=False)
    raise NotFoundError(f"Unknown path: GET /v1/{rest}")


def _create(engine: Any, project: str, kind: str, body: dict, user: str) -> tuple[bytes, str, dict]:
    what = "getMapId" if kind == "maps" else "getThumbURL"
    if kind == "thumbnails" and downloads.is_download_format(body.get("fileFormat")):
        fmt = downloads.validate(body, engine.limits)  # getDownloadId: see downloads.py
        name = registry_of(engine).add(project, kind, body, fmt, user)
        return json.dumps({"name": name}).encode(), "application/json; charset=UTF-8", {}
    fmt = _file_format(body, what)
    image = _image_of(body, what)
    if kind == "thumbnails":
        _thumbnail_grid(image, engine.limits.pixels_bytes)
    name = registry_of(engine).add(project, kind, body, fmt, user)
    return json.dumps({"name": name}).encode(), "application/json; charset=UTF-8", {}


def _tile(entry: _Entry, grid: Grid) -> tuple[bytes, str, dict]:
    image = _image_of(entry.body, "getMapId")
    rgba = render_rgba(image, grid)
    payload, ctype = encode(rgba, entry.fmt)
    return payload, ctype, IMAGE_HEADERS


def _thumbnail(entry: _Entry, ctx: Any) -> tuple[bytes, str, dict]:
    if downloads.is_download_format(entry.fmt):
        return downloads.download_file(entry.body, ctx.limits)
    image = _image_of(entry.body, "getThumbURL")
    rgba = render_rgba(image, _thumbnail_grid(image, ctx.limits.pixels_bytes))
    payload, ctype = encode(rgba, entry.fmt)
    return payload, ctype, IMAGE_HEADERS
