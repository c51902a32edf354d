"""Map tiles and thumbnails: ``ee.Image.getMapId`` / ``getThumbURL`` against the local engine.

The ``ee`` client applies visualization parameters itself, by wrapping the image in
``Image.visualize`` (implemented here, registered in ``algorithms/image.py``), and then asks
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

An image that is not already a visualization (one or three 8-bit bands) is rendered with
``Image.visualize``'s defaults, as Earth Engine renders a layer added without visualization
parameters: the first band (grayscale) or the first three (RGB), each stretched over its
pixel type's range for integer types and over ``[0, 1]`` for floating-point types.

Map and thumbnail ids live in memory, per running server, like Earth Engine's short-lived
map ids; they are not persisted in the asset store.
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

from ..core.context import request_context
from ..core.values import (
    INT_RANGES,
    Band,
    Image,
    PixelData,
    is_integer_dtype,
    pixel_cache,
    pointwise,
)
from ..errors import EEError, NotFoundError
from ..raster.grid import Grid, Projection

__all__ = [
    "TILE_SIZE",
    "VisBand",
    "MapRegistry",
    "visualize",
    "parse_color",
    "tile_grid",
    "display_bands",
    "render_rgba",
    "encode",
    "registry_of",
    "handle",
]

#: Width and height of a map tile, in pixels.
TILE_SIZE = 256
#: Half the side of the Web Mercator square (EPSG:3857), in metres.
MERCATOR_HALF_WORLD = math.pi * 6378137.0
#: The largest thumbnail Earth Engine renders (the computePixels request limit), in bytes.
THUMBNAIL_LIMIT = 48 * 2**20
#: The deepest zoom level served.
MAX_ZOOM = 30

VIS_RGB = ("vis-red", "vis-green", "vis-blue")
VIS_GRAY = "vis-gray"


# --- Image.visualize ----------------------------------------------------------------------


class VisBand(Band):
    """A band of an ``Image.visualize`` result that carries an opacity factor.

    The local engine's masks are boolean, so the fractional mask Earth Engine gives a
    visualization with ``opacity`` is kept as this factor; the tile and thumbnail renderer
    multiplies the alpha channel by it.
    """

    __slots__ = ("opacity",)

    def __init__(self, band: Band, opacity: float) -> None:
        super().__init__(
            band.name, band.fn, dtype=band.dtype, projection=band.projection, extent=band.extent
        )
        self.opacity = float(opacity)


def _split(value: Any) -> list:
    """A visualization argument as a list: lists stay, ``"a,b"`` strings are split."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _numbers(value: Any, what: str, n: int) -> list[float] | None:
    """One number per visualized band (a single value is repeated), or None if not given."""
    items = _split(value)
    if not items:
        return None
    try:
        nums = [float(v) for v in items]
    except (TypeError, ValueError):
        raise EEError(f"Image.visualize: Invalid value for '{what}': {value!r}.") from None
    if len(nums) == 1:
        return nums * n
    if len(nums) != n:
        counts = "1 value" if n == 1 else f"1 or {n} values"
        raise EEError(
            f"Image.visualize: Expected {counts} for '{what}' (one per visualized band), "
            f"got {len(nums)}."
        )
    return nums


def parse_color(color: Any) -> tuple[int, int, int]:
    """An RGB triple from a CSS color name or a hex string (``FF0000``, ``#f00`` …)."""
    from matplotlib.colors import CSS4_COLORS

    if not isinstance(color, str) or not color.strip():
        raise EEError(f"Image.visualize: Invalid color {color!r} in palette.")
    text = color.strip().lower()
    if text in CSS4_COLORS:
        text = CSS4_COLORS[text].lower()
    digits = text[1:] if text.startswith("#") else text
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    if len(digits) != 6 or not re.fullmatch(r"[0-9a-f]{6}", digits):
        raise EEError(f"Image.visualize: Invalid color '{color}' in palette.")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _default_range(dtype: str) -> tuple[float, float]:
    """Earth Engine's stretch when min/max are not given: the type range, or [0, 1]."""
    if is_integer_dtype(dtype):
        lo, hi = INT_RANGES[dtype]
        return float(lo), float(hi)
    return 0.0, 1.0


def _to_byte(values: np.ndarray) -> np.ndarray:
    """Values in [0, 255] rounded half up to integers (float64 holding 0..255)."""
    return np.floor(np.clip(values, 0.0, 255.0) + 0.5)


def _select_vis_bands(image: Image, bands: Any) -> list[Band]:
    from ..algorithms.bands import select_names

    names = _split(bands)
    if names:
        chosen = [image.bands[i] for i in select_names(image.band_names, names)]
    elif len(image.bands) >= 3:
        chosen = image.bands[:3]
    else:
        chosen = list(image.bands)
    if not chosen:
        raise EEError("Image.visualize: The image has no bands to visualize.")
    if len(chosen) not in (1, 3):
        raise EEError(
            f"Image.visualize: Expected 1 or 3 bands to visualize, got {len(chosen)}: "
            f"{[b.name for b in chosen]}."
        )
    return chosen


def visualize(
    image: Image,
    *,
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
    """Earth Engine's ``Image.visualize``: an 8-bit grayscale or RGB rendering of an image.

    Each visualized band ``x`` is scaled to ``t`` in [0, 1]: ``t = (x - min) / (max - min)``
    or, with gain/bias (in 8-bit units, as "map onto 00-FF"), ``t = (x * gain + bias) / 255``;
    ``t`` is clamped to [0, 1] and gamma-corrected as ``t ** (1 / gamma)``. Without a palette
    the output is ``round(255 * t)``: band ``vis-gray`` for one band (``vis-red``,
    ``vis-green``, ``vis-blue`` copies with ``forceRgbOutput``), or ``vis-red``,
    ``vis-green``, ``vis-blue`` for three. With a palette of ``k`` colors (one band only),
    ``t`` indexes the colors linearly: ``t * (k - 1)`` is interpolated between its two
    nearest colors, per channel, and rounded. Rounding is half up. Output bands are uint8
    and keep the input band's mask; ``opacity`` (0–1) scales the rendered alpha.

    Raises
    ------
    EEError
        Two bands (or none), a palette with three bands, gain/bias together with
        min/max, a list of values of the wrong length, an invalid color or opacity.
    """
    if not isinstance(image, Image):
        raise EEError(f"Image.visualize: expected an Image, got {type(image).__name__}.")
    chosen = _select_vis_bands(image, bands)
    n = len(chosen)
    colors = [parse_color(c) for c in _split(palette)]
    if colors and n != 1:
        raise EEError("Image.visualize: A palette can only be used when visualizing one band.")
    gains, biases = _numbers(gain, "gain", n), _numbers(bias, "bias", n)
    mins, maxs = _numbers(min, "min", n), _numbers(max, "max", n)
    gammas = _numbers(gamma, "gamma", n)
    if (gains or biases) and (mins or maxs):
        raise EEError(
            "Image.visualize: Gain and bias cannot be specified together with min and max."
        )
    if gammas and any(g <= 0 or not math.isfinite(g) for g in gammas):
        raise EEError(f"Image.visualize: gamma must be positive, got {gamma!r}.")
    if opacity is not None:
        try:
            opacity = float(opacity)
        except (TypeError, ValueError):
            raise EEError(f"Image.visualize: Invalid opacity {opacity!r}.") from None
        if not 0.0 <= opacity <= 1.0:
            raise EEError(f"Image.visualize: opacity must be between 0 and 1, got {opacity}.")

    def scaler(i: int, band: Band) -> Callable[[np.ndarray], np.ndarray]:
        g_inv = 1.0 / gammas[i] if gammas else None
        if gains or biases:
            k = gains[i] if gains else 1.0
            b = biases[i] if biases else 0.0

            def linear(x: np.ndarray) -> np.ndarray:
                return (x * k + b) / 255.0

        else:
            d_lo, d_hi = _default_range(band.dtype)
            lo = mins[i] if mins else d_lo
            hi = maxs[i] if maxs else d_hi

            def linear(x: np.ndarray) -> np.ndarray:
                if hi == lo:
                    return (x >= hi).astype(float)
                return (x - lo) / (hi - lo)

        def scale(x: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                t = np.clip(np.nan_to_num(linear(x), nan=0.0), 0.0, 1.0)
                if g_inv is not None:
                    t = t**g_inv
            return t

        return scale

    out: list[Band] = []
    if colors:
        table = np.asarray(colors, dtype=float)
        scale = scaler(0, chosen[0])

        def channel(c: int) -> Callable[[PixelData], PixelData]:
            def op(p: PixelData) -> PixelData:
                t = scale(p[0])
                if len(table) == 1:
                    return np.full(t.shape, table[0, c]), p[1]
                pos = t * (len(table) - 1)
                i0 = np.clip(np.floor(pos).astype(int), 0, len(table) - 2)
                frac = pos - i0
                v = table[i0, c] * (1.0 - frac) + table[i0 + 1, c] * frac
                return _to_byte(v), p[1]

            return op

        out = [
            pointwise([chosen[0]], channel(c), name=name, dtype="uint8")
            for c, name in enumerate(VIS_RGB)
        ]
    else:

        def gray(scale: Callable[[np.ndarray], np.ndarray]) -> Callable[[PixelData], PixelData]:
            return lambda p: (_to_byte(255.0 * scale(p[0])), p[1])

        if n == 1 and not forceRgbOutput:
            out = [pointwise(chosen, gray(scaler(0, chosen[0])), name=VIS_GRAY, dtype="uint8")]
        elif n == 1:
            op = gray(scaler(0, chosen[0]))
            out = [pointwise(chosen, op, name=name, dtype="uint8") for name in VIS_RGB]
        else:
            out = [
                pointwise([band], gray(scaler(i, band)), name=name, dtype="uint8")
                for i, (band, name) in enumerate(zip(chosen, VIS_RGB, strict=True))
            ]
    if opacity is not None and opacity != 1.0:
        out = [VisBand(b, opacity) for b in out]
    return Image(out, {})


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

    def add(self, project: str, kind: str, body: dict, fmt: str) -> str:
        name = f"projects/{project}/{kind}/{uuid.uuid4().hex}"
        with self._lock:
            self._entries[name] = _Entry(kind, body, fmt)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return name

    def get(self, name: str, kind: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or entry.kind != kind:
            what = "Map" if kind == "maps" else "Thumbnail"
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
    from ..core.evaluate import evaluate

    image = evaluate(body.get("expression") or {})
    if not isinstance(image, Image):
        raise EEError(f"{what}: the expression is not an Image.")
    band_ids = body.get("bandIds")
    if band_ids:
        image = image.with_bands([image.band(b) for b in band_ids])
    if not image.bands:
        raise EEError(f"{what}: the image has no bands.")
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


def _thumbnail_grid(image: Image) -> Grid:
    band = image.bands[0]
    if band.extent is None:
        raise EEError(
            "getThumbURL: the image is unbounded (a composite or a constant); give a region."
        )
    grid = band.extent
    if grid.width <= 0 or grid.height <= 0:
        raise EEError("getThumbURL: the thumbnail region does not overlap the image.")
    nbytes = grid.size * len(display_bands(image))
    if nbytes > THUMBNAIL_LIMIT:
        raise EEError(
            f"Total request size ({nbytes} bytes) must be less than or equal to "
            f"{THUMBNAIL_LIMIT} bytes."
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


def handle(
    engine: Any, method: str, rest: str, read_body: Callable[[], dict]
) -> tuple[bytes, str, dict] | None:
    """Serve a maps / thumbnails call, or return None if ``rest`` is not one.

    Parameters
    ----------
    engine
        The :class:`~gee_cscc.engine.server.EngineServer` (its context and store).
    method
        The HTTP method.
    rest
        The path after ``/v1/``.
    read_body
        Reads the JSON request body (called only for POST calls).

    Returns
    -------
    tuple or None
        ``(payload, content type, extra headers)`` of a 200 reply, or None.
    """
    m = _CREATE_RE.fullmatch(rest)
    if m and method == "POST":
        return _create(engine, m.group("project"), m.group("kind"), read_body())
    m = _TILE_RE.fullmatch(rest)
    if m and method == "GET":
        name = f"projects/{m.group('project')}/maps/{m.group('id')}"
        z, x, y = (int(m.group(k)) for k in ("z", "x", "y"))
        return _tile(engine, name, z, x, y)
    m = _PIXELS_RE.fullmatch(rest)
    if m and method == "GET":
        return _thumbnail(engine, f"projects/{m.group('project')}/thumbnails/{m.group('id')}")
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


def _create(engine: Any, project: str, kind: str, body: dict) -> tuple[bytes, str, dict]:
    what = "getMapId" if kind == "maps" else "getThumbURL"
    fmt = _file_format(body, what)
    with request_context(engine.context()), pixel_cache():
        image = _image_of(body, what)
        if kind == "thumbnails":
            _thumbnail_grid(image)
    name = registry_of(engine).add(project, kind, body, fmt)
    return json.dumps({"name": name}).encode(), "application/json; charset=UTF-8", {}


def _tile(engine: Any, name: str, z: int, x: int, y: int) -> tuple[bytes, str, dict]:
    entry = registry_of(engine).get(name, "maps")
    grid = tile_grid(z, x, y)
    with request_context(engine.context()), pixel_cache():
        image = _image_of(entry.body, "getMapId")
        rgba = render_rgba(image, grid)
    payload, ctype = encode(rgba, entry.fmt)
    return payload, ctype, IMAGE_HEADERS


def _thumbnail(engine: Any, name: str) -> tuple[bytes, str, dict]:
    entry = registry_of(engine).get(name, "thumbnails")
    with request_context(engine.context()), pixel_cache():
        image = _image_of(entry.body, "getThumbURL")
        rgba = render_rgba(image, _thumbnail_grid(image))
    payload, ctype = encode(rgba, entry.fmt)
    return payload, ctype, IMAGE_HEADERS
