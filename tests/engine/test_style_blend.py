"""Collection.style and Image.blend (what geemap draws FeatureCollection layers with)."""

from __future__ import annotations

import ee
import numpy as np

from gee_cscc.testing import compute_pixels, grid


def _table(engine, tmp_asset):
    ring = [[2.0, 2.0], [6.0, 2.0], [6.0, 6.0], [2.0, 6.0], [2.0, 2.0]]
    asset = tmp_asset("square")
    engine.store.put_table(
        asset,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ],
        },
    )
    return ee.FeatureCollection(asset)


def test_style_fills_and_outlines_by_pixel_centres(engine, tmp_asset):
    fc = _table(engine, tmp_asset)
    styled = fc.style(color="ff0000", fillColor="0000ffff", width=2)
    got = compute_pixels(styled, grid((1, 0, 0, 0, -1, 8), (8, 8)))
    xs = np.arange(8) + 0.5
    ys = 8 - (np.arange(8) + 0.5)
    inside = (xs[None, :] > 2) & (xs[None, :] < 6) & (ys[:, None] > 2) & (ys[:, None] < 6)
    # A 2-pixel line: centres within one pixel of the square's edges (none exactly at 1).
    dx = np.minimum(np.abs(xs - 2), np.abs(xs - 6))[None, :]
    dy = np.minimum(np.abs(ys - 2), np.abs(ys - 6))[:, None]
    within_x = (xs[None, :] >= 1.5) & (xs[None, :] <= 6.5)
    within_y = (ys[:, None] >= 1.5) & (ys[:, None] <= 6.5)
    edge = ((dx < 1) & within_y) | ((dy < 1) & within_x)
    red, blue = got["vis-red"], got["vis-blue"]
    assert np.array_equal(~red.mask, edge | inside)
    assert np.all(red[edge] == 255) and np.all(blue[edge] == 0)
    assert np.all(red[inside & ~edge] == 0) and np.all(blue[inside & ~edge] == 255)


def test_blend_puts_valid_top_pixels_over_bottom(engine):
    bottom = ee.Image.constant([10, 20, 30]).toUint8()
    top = (
        ee.Image.constant(99).toUint8().updateMask(ee.Image.pixelLonLat().select("longitude").lt(2))
    )
    got = compute_pixels(bottom.blend(top), grid((1, 0, 0, 0, -1, 1), (1, 4)))
    names = list(got)
    assert len(names) == 3
    for band, base in zip(names, (10, 20, 30), strict=True):
        assert got[band].tolist() == [[99, 99, base, base]]
