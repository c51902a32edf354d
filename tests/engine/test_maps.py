"""Map tiles, thumbnails and ``Image.visualize`` of the local engine, through the real client.

``ee.Image.getMapId`` / ``getThumbURL`` are driven with the unmodified ``ee`` client; tiles
and thumbnails are fetched over loopback with ``urllib`` and decoded with Pillow. Every
expected colour is computed here with NumPy and pyproj from the stored arrays: tile pixel
centres are mapped from Web Mercator (EPSG:3857) to lon/lat, looked up nearest-neighbour in
the stored grid, and coloured with the palette formula written below.
"""

from __future__ import annotations

import io
import json
import math
import urllib.error
import urllib.request

import ee
import numpy as np
import pytest
import xarray as xr
from PIL import Image as PILImage

from gee_cscc.testing import compute_pixels, grid, image_of

NAN = np.nan

# A 20 x 20 image on a 0.5-degree grid covering 100–110°E, 30–40°N; NaN = masked.
ORIGIN = (100.0, 40.0)
STEP = 0.5
SHAPE = (20, 20)
TRANSFORM = (STEP, 0.0, ORIGIN[0], 0.0, -STEP, ORIGIN[1])
VALUES = np.arange(SHAPE[0] * SHAPE[1], dtype=float).reshape(SHAPE) * 0.3 - 10.0  # -10 … 109.7
VALUES[3, 4] = NAN
VALUES[10, 10] = NAN
VALUES[12, 5:9] = NAN
NATIVE = grid(TRANSFORM, SHAPE)

# Tile (x=50, y=24) at zoom 6 spans 101.25–106.875°E and about 35.46–40.98°N: it overlaps the
# image and, north of 40°N, the area outside it.
TILE = (6, 50, 24)

R = math.pi * 6378137.0  # half the side of the Web Mercator square (m)


@pytest.fixture
def image(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset("img")
    engine.store.put_image(asset, image_of({"v": VALUES}, TRANSFORM))
    return ee.Image(asset)


# --- the expectation, written independently of the engine ------------------------------------


def hex_rgb(text: str) -> np.ndarray:
    text = text.lstrip("#")
    return np.array([int(text[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def round_half_up(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5)


def palette_rgb(values: np.ndarray, lo: float, hi: float, colors: list[str]) -> np.ndarray:
    """``(…, 3)`` colours: ``t = clamp((v - lo) / (hi - lo))`` interpolated along the palette."""
    table = np.array([hex_rgb(c) for c in colors])
    t = np.clip((np.nan_to_num(values) - lo) / (hi - lo), 0.0, 1.0)
    pos = t * (len(table) - 1)
    i0 = np.minimum(np.floor(pos).astype(int), len(table) - 2)
    frac = (pos - i0)[..., None]
    return round_half_up(table[i0] * (1 - frac) + table[i0 + 1] * frac)


def tile_lonlat(z: int, x: int, y: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of every pixel centre of XYZ tile (z, x, y), each ``(size, size)``."""
    import pyproj

    side = 2 * R / 2**z
    cx = -R + x * side + (np.arange(size) + 0.5) * side / size
    cy = R - y * side - (np.arange(size) + 0.5) * side / size
    mx, my = np.meshgrid(cx, cy)
    to_lonlat = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    return to_lonlat.transform(mx, my)


def nearest(values: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The stored pixel each lon/lat falls in (NaN outside the image)."""
    col = np.floor((lon - ORIGIN[0]) / STEP).astype(int)
    row = np.floor((ORIGIN[1] - lat) / STEP).astype(int)
    inside = (row >= 0) & (row < SHAPE[0]) & (col >= 0) & (col < SHAPE[1])
    out = np.full(lon.shape, NAN)
    out[inside] = values[row[inside], col[inside]]
    return out


def expected_rgba(sampled: np.ndarray, rgb: np.ndarray, alpha: int = 255) -> np.ndarray:
    valid = ~np.isnan(sampled)
    out = np.zeros((*sampled.shape, 4), dtype=np.uint8)
    out[..., :3] = np.where(valid[..., None], rgb, 0).astype(np.uint8)
    out[..., 3] = np.where(valid, alpha, 0)
    return out


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        return resp.read()


def decode_png(payload: bytes) -> np.ndarray:
    assert payload[:8] == b"\x89PNG\r\n\x1a\n"
    img = PILImage.open(io.BytesIO(payload))
    assert img.mode == "RGBA"
    return np.asarray(img)


# --- Image.visualize ---------------------------------------------------------------------------


def test_visualize_palette_matches_numpy(image):
    colors = ["0000ff", "ff0000"]
    vis = image.visualize(min=0, max=100, palette=["blue", "red"])
    info = vis.getInfo()
    assert [b["id"] for b in info["bands"]] == ["vis-red", "vis-green", "vis-blue"]
    assert info["bands"][0]["data_type"] == {
        "type": "PixelType",
        "precision": "int",
        "min": 0,
        "max": 255,
    }
    got = compute_pixels(vis, NATIVE)
    rgb = palette_rgb(VALUES, 0, 100, colors)
    for c, name in enumerate(["vis-red", "vis-green", "vis-blue"]):
        np.testing.assert_array_equal(got[name].mask, np.isnan(VALUES))
        np.testing.assert_array_equal(
            got[name].filled(-1), np.where(np.isnan(VALUES), -1, rgb[..., c])
        )


def test_visualize_three_color_palette_of_hex_strings(image):
    colors = ["000000", "#00ff00", "ffffff"]
    got = compute_pixels(
        image.visualize(min=-5, max=95, palette=["000000", "#00FF00", "white"]), NATIVE
    )
    rgb = palette_rgb(VALUES, -5, 95, colors)
    valid = ~np.isnan(VALUES)
    for c, name in enumerate(["vis-red", "vis-green", "vis-blue"]):
        np.testing.assert_array_equal(got[name].data[valid], rgb[..., c][valid])


def test_visualize_gray_gamma_and_force_rgb(image):
    lo, hi, gamma = -5.0, 105.0, 2.0
    t = np.clip((VALUES - lo) / (hi - lo), 0, 1) ** (1 / gamma)
    want = round_half_up(255 * t)
    valid = ~np.isnan(VALUES)

    gray = image.visualize(min=lo, max=hi, gamma=gamma)
    assert gray.bandNames().getInfo() == ["vis-gray"]
    got = compute_pixels(gray, NATIVE)["vis-gray"]
    np.testing.assert_array_equal(got.mask, ~valid)
    np.testing.assert_array_equal(got.data[valid], want[valid])

    rgb = image.visualize(min=lo, max=hi, gamma=gamma, forceRgbOutput=True)
    got = compute_pixels(rgb, NATIVE)
    assert list(got) == ["vis-red", "vis-green", "vis-blue"]
    for band in got.values():
        np.testing.assert_array_equal(band.data[valid], want[valid])


def test_visualize_gain_bias_and_default_float_range(image):
    valid = ~np.isnan(VALUES)
    got = compute_pixels(image.visualize(gain=2, bias=10), NATIVE)["vis-gray"]
    np.testing.assert_array_equal(
        got.data[valid], round_half_up(np.clip(VALUES * 2 + 10, 0, 255))[valid]
    )
    # No min/max on a floating-point band: [0, 1] is stretched over 0–255.
    scaled = image.divide(100)
    got = compute_pixels(scaled.visualize(), NATIVE)["vis-gray"]
    want = round_half_up(255 * np.clip(VALUES / 100, 0, 1))
    np.testing.assert_array_equal(got.data[valid], want[valid])


def test_visualize_three_bands_with_per_band_ranges(engine, tmp_asset):
    a = VALUES
    b = np.nan_to_num(VALUES) * -1.0
    c = np.full(SHAPE, 42.0)
    asset = tmp_asset("rgb")
    engine.store.put_image(asset, image_of({"a": a, "b": b, "c": c, "d": a}, TRANSFORM))
    img = ee.Image(asset)
    vis = img.visualize(bands=["c", "a", "b"], min=[0, -10, -100], max=[84, 110, 0])
    got = compute_pixels(vis, NATIVE)
    valid = ~np.isnan(VALUES)
    for name, arr, lo, hi in (
        ("vis-red", c, 0, 84),
        ("vis-green", a, -10, 110),
        ("vis-blue", b, -100, 0),
    ):
        want = round_half_up(255 * np.clip((arr - lo) / (hi - lo), 0, 1))
        np.testing.assert_array_equal(got[name].data[valid], want[valid])
    # Masks stay per band: only vis-green (band a) has masked pixels.
    np.testing.assert_array_equal(got["vis-green"].mask, ~valid)
    assert not got["vis-red"].mask.any()
    # No bands given: the first three (a, b, c), with the same min/max for all.
    first3 = compute_pixels(img.visualize(min=-20, max=120), NATIVE)
    want = round_half_up(255 * np.clip((b - -20) / 140, 0, 1))
    np.testing.assert_array_equal(first3["vis-green"].data, want)


def test_visualize_integer_default_is_the_type_range(engine, tmp_asset):
    raw = np.array([[0, 1000, 65535, 30000]] * 2, dtype=np.uint16)
    asset = tmp_asset("u16")
    da = xr.DataArray(
        raw,
        dims=("y", "x"),
        coords={"y": [40.75, 40.25], "x": [0.25, 0.75, 1.25, 1.75]},
        name="dn",
    )
    engine.store.put_image(asset, da)
    got = compute_pixels(ee.Image(asset).visualize(), grid((0.5, 0, 0, 0, -0.5, 41), (2, 4)))[
        "vis-gray"
    ]
    np.testing.assert_array_equal(got.data, round_half_up(255 * raw.astype(float) / 65535.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bands": ["v", "v"]}, "Expected 1 or 3 bands"),
        ({"min": 0, "max": 1, "gain": 2}, "Gain and bias cannot be specified together"),
        ({"palette": ["blue", "nocolor"]}, "Invalid color 'nocolor'"),
        ({"min": [0, 1], "max": 1}, "Expected 1 value for 'min'"),
        ({"opacity": 2}, "opacity must be between 0 and 1"),
        ({"gamma": 0}, "gamma must be positive"),
    ],
)
def test_visualize_errors(image, kwargs, message):
    with pytest.raises(ee.EEException, match=message):
        image.visualize(**kwargs).getInfo()


def test_visualize_palette_needs_one_band(image):
    three = image.addBands(image).addBands(image)
    with pytest.raises(ee.EEException, match="palette can only be used when visualizing one"):
        three.visualize(palette=["red", "blue"]).getInfo()


# --- map tiles ---------------------------------------------------------------------------------


def test_get_map_id_tile_matches_palette_and_footprint(image):
    colors = ["0000ff", "ff0000"]
    mapid = image.getMapId({"min": 0, "max": 100, "palette": ["blue", "red"]})
    assert mapid["mapid"].startswith("projects/local-project/maps/")
    z, x, y = TILE
    url = mapid["tile_fetcher"].format_tile_url(x, y, z)
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith(f"/v1/{mapid['mapid']}/tiles/{z}/{x}/{y}")
    tile = decode_png(fetch(url))
    assert tile.shape == (256, 256, 4)

    lon, lat = tile_lonlat(z, x, y)
    sampled = nearest(VALUES, lon, lat)
    want = expected_rgba(sampled, palette_rgb(sampled, 0, 100, colors))
    np.testing.assert_array_equal(tile, want)
    # The tile holds all three cases: data, masked cells and the area north of the image.
    assert (tile[..., 3] == 255).sum() > 10_000
    assert (lat > 40).any() and (tile[lat > 40][:, 3] == 0).all()
    masked_inside = np.isnan(sampled) & (lat < 40)
    assert masked_inside.any() and (tile[masked_inside][:, 3] == 0).all()

    # The client's own fetch (discovery path of maps.tiles.get) gets the same bytes.
    assert mapid["tile_fetcher"].fetch_tile(x, y, z) == fetch(url)


def test_tile_of_a_composite(engine, tmp_asset):
    rng = np.random.default_rng(3)
    cube = np.round(rng.uniform(-20, 120, size=(3, *SHAPE)), 1)
    cube[:, 0, 0] = NAN  # masked in every year
    cube[1, 5, 5] = NAN
    xs = ORIGIN[0] + STEP * (np.arange(SHAPE[1]) + 0.5)
    ys = ORIGIN[1] - STEP * (np.arange(SHAPE[0]) + 0.5)
    asset = tmp_asset("coll")
    engine.store.put_collection(
        asset,
        xr.DataArray(
            cube, dims=("year", "y", "x"), coords={"year": [2001, 2002, 2003], "y": ys, "x": xs}
        ),
    )
    composite = ee.ImageCollection(asset).max()
    colors = ["000000", "00ff00", "ffffff"]
    mapid = composite.getMapId({"min": 0, "max": 100, "palette": colors})
    z, x, y = 5, 25, 12  # 101.25–112.5°E, about 31.95–40.98°N
    tile = decode_png(fetch(mapid["tile_fetcher"].format_tile_url(x, y, z)))

    # Per-pixel maximum over the unmasked years; NaN (masked) where every year is masked.
    top = np.where(
        np.isnan(cube).all(axis=0), NAN, np.where(np.isnan(cube), -np.inf, cube).max(axis=0)
    )
    lon, lat = tile_lonlat(z, x, y)
    sampled = nearest(top, lon, lat)
    np.testing.assert_array_equal(
        tile, expected_rgba(sampled, palette_rgb(sampled, 0, 100, colors))
    )
    assert (tile[..., 3] == 255).any() and (tile[..., 3] == 0).any()


def test_visualization_options_of_ee_data_get_map_id(image):
    """``ee.data.getMapId`` sends min/max/palette/gamma as ``visualizationOptions``."""
    z, x, y = TILE
    direct = ee.data.getMapId(
        {"image": image, "min": "0", "max": "100", "palette": "0000ff,ff0000", "gamma": "2"}
    )
    tile = decode_png(fetch(direct["tile_fetcher"].format_tile_url(x, y, z)))
    lon, lat = tile_lonlat(z, x, y)
    sampled = nearest(VALUES, lon, lat)
    t = np.clip(np.nan_to_num(sampled) / 100, 0, 1) ** 0.5
    want = expected_rgba(sampled, palette_rgb(t, 0, 1, ["0000ff", "ff0000"]))
    np.testing.assert_array_equal(tile, want)


def test_default_rendering_of_an_rgb_byte_image(engine, tmp_asset):
    rng = np.random.default_rng(5)
    bands = {k: rng.integers(0, 256, size=SHAPE).astype(np.uint8) for k in ("r", "g", "b")}
    asset = tmp_asset("bytes")
    engine.store.put_image(asset, image_of(bands, TRANSFORM))
    mapid = ee.Image(asset).getMapId()
    z, x, y = TILE
    tile = decode_png(fetch(mapid["tile_fetcher"].format_tile_url(x, y, z)))
    lon, lat = tile_lonlat(z, x, y)
    sampled = [nearest(bands[k].astype(float), lon, lat) for k in ("r", "g", "b")]
    rgb = np.stack([np.nan_to_num(s) for s in sampled], axis=-1)
    np.testing.assert_array_equal(tile, expected_rgba(sampled[0], rgb))


def test_opacity_scales_alpha(image):
    mapid = image.getMapId({"min": 0, "max": 100, "opacity": 0.4})
    z, x, y = TILE
    tile = decode_png(fetch(mapid["tile_fetcher"].format_tile_url(x, y, z)))
    lon, lat = tile_lonlat(z, x, y)
    sampled = nearest(VALUES, lon, lat)
    gray = round_half_up(255 * np.clip(np.nan_to_num(sampled) / 100, 0, 1))
    want = expected_rgba(sampled, np.repeat(gray[..., None], 3, axis=-1), alpha=102)
    np.testing.assert_array_equal(tile, want)


def test_jpeg_tiles(image):
    mapid = image.getMapId({"min": 0, "max": 100, "format": "jpg"})
    payload = fetch(mapid["tile_fetcher"].format_tile_url(50, 24, 6))
    assert payload[:2] == b"\xff\xd8"
    assert PILImage.open(io.BytesIO(payload)).size == (256, 256)


def http_error(url: str) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as info:
        fetch(url)
    return info.value.code, json.loads(info.value.read())["error"]["message"]


def test_tile_errors(image, engine):
    mapid = image.getMapId({"min": 0, "max": 100})
    code, message = http_error(mapid["tile_fetcher"].format_tile_url(0, 64, 6))
    assert code == 400 and "out of range" in message
    unknown = f"{engine.url}/v1/projects/local-project/maps/nosuchmap/tiles/6/50/24"
    code, message = http_error(unknown)
    assert code == 404 and "not found" in message


def test_get_map_id_fails_for_a_bad_image(engine, tmp_asset):
    with pytest.raises(ee.EEException, match="not found"):
        ee.Image(tmp_asset("missing")).getMapId({"min": 0, "max": 1})


# --- thumbnails --------------------------------------------------------------------------------


def test_thumbnail_png(image):
    colors = ["0000ff", "ff0000"]
    url = image.getThumbURL(
        {
            "min": 0,
            "max": 100,
            "palette": ["blue", "red"],
            "dimensions": 64,
            "region": [100, 30, 110, 40],
            "format": "png",
        }
    )
    assert url.startswith("http://127.0.0.1:") and url.endswith(":getPixels")
    thumb = decode_png(fetch(url))
    assert thumb.shape == (64, 64, 4)
    # The thumbnail grid: the region's bounds in the image's CRS, 64 pixels on the long side.
    size = 10.0 / 64
    lon, lat = np.meshgrid(100 + (np.arange(64) + 0.5) * size, 40 - (np.arange(64) + 0.5) * size)
    sampled = nearest(VALUES, lon, lat)
    np.testing.assert_array_equal(
        thumb, expected_rgba(sampled, palette_rgb(sampled, 0, 100, colors))
    )


def test_thumbnail_of_an_unbounded_image_needs_a_region(engine, tmp_asset):
    asset = tmp_asset("coll")
    xs = ORIGIN[0] + STEP * (np.arange(SHAPE[1]) + 0.5)
    ys = ORIGIN[1] - STEP * (np.arange(SHAPE[0]) + 0.5)
    engine.store.put_collection(
        asset,
        xr.DataArray(
            VALUES[None], dims=("year", "y", "x"), coords={"year": [2001], "y": ys, "x": xs}
        ),
    )
    composite = ee.ImageCollection(asset).mean()
    with pytest.raises(ee.EEException, match="unbounded"):
        composite.getThumbURL({"min": 0, "max": 100})
    # With a region and dimensions it renders.
    url = composite.getThumbURL(
        {"min": 0, "max": 100, "region": [100, 30, 105, 40], "dimensions": 20}
    )
    assert decode_png(fetch(url)).shape == (20, 10, 4)


def test_video_thumbnails_are_reported_unimplemented(engine, tmp_asset):
    asset = tmp_asset("coll")
    xs = ORIGIN[0] + STEP * (np.arange(SHAPE[1]) + 0.5)
    ys = ORIGIN[1] - STEP * (np.arange(SHAPE[0]) + 0.5)
    engine.store.put_collection(
        asset,
        xr.DataArray(
            VALUES[None], dims=("year", "y", "x"), coords={"year": [2001], "y": ys, "x": xs}
        ),
    )
    with pytest.raises(ee.EEException, match="getVideoThumbURL.*not implemented"):
        ee.ImageCollection(asset).getVideoThumbURL({"dimensions": 16, "region": [100, 30, 110, 40]})
    # The refused request's body was consumed: the kept-alive connection still works.
    assert ee.Number(1).add(1).getInfo() == 2
