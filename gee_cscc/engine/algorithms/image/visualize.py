"""``Image.visualize`` and ``Image.blend``: 8-bit renderings of images, and layering them.

``visualize`` is what the ``ee`` client wraps an image in for ``getMapId`` / ``getThumbURL``
(and what the tile server applies, with its defaults, to an image that is not already a
rendering); ``parse_color`` reads the CSS colour names and hex strings of palettes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core.arguments import as_image
from ...core.registry import algorithm
from ...core.values import (
    INT_RANGES,
    Band,
    Image,
    PixelData,
    is_integer_dtype,
    pointwise,
    promote,
)
from ...errors import EEError
from ..bands import match_bands, select_names

__all__ = ["VIS_GRAY", "VIS_RGB", "VisBand", "blend", "parse_color", "visualize"]

#: Band names of an RGB rendering.
VIS_RGB = ("vis-red", "vis-green", "vis-blue")
#: Band name of a grayscale rendering.
VIS_GRAY = "vis-gray"


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


@algorithm("Image.visualize")
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
