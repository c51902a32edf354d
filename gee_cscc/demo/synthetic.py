"""Deterministic SYNTHETIC annual NPP over China, for demos and tests (not real data).

:func:`demo_npp` makes an annual NPP cube (g C m⁻² yr⁻¹) on a lon/lat grid over China's land,
shaped like the real thing: high in the south and east, near zero in the north-western
deserts, interannual noise, a few national drought years, and per-cell trends of both signs
that change around 2000. It is calibrated so that each province's carbon sink carrying
capacity (CSCC, Σ max_t NPP × cell area over the vegetation-covered area, docs/method.md §1–2) and
last-year NPP total match the paper's Table 1 (Wu et al. 2023), and the national area-weighted
mean CSCC matches its 658.59 g C m⁻² yr⁻¹. :func:`demo_regions` gives the province region
ids (``gee_cscc.demo.provinces``) on the same grid.

How the cube is built, per land cell p and year t (all fields seeded by ``seed``)::

    y[t, p] = a_r · m[p] · (1 + k_r · h[t, p])      in the vegetation-covered area (m > 0)
    y[t, p] = small values around a mean ≤ 0         elsewhere (deserts, bare plateau)

``m`` is a climate-like productivity surface (a moisture gradient from the south-east coast,
colder Tibetan plateau, smooth random texture) shifted so that the cells with ``m > 0`` cover
exactly the area that gives the paper's national mean CSCC; ``h`` is a zero-mean relative
anomaly (piecewise-linear trend broken in 2000, drought years, spatially correlated and
white noise, stronger at dry margins). Per province ``r``: the amplitude ``k_r`` sets the ratio
of last-year NPP to CSCC (with, where ``k_r`` would leave a plausible range, a province-wide
anomaly of the last year) and ``a_r`` the CSCC total; the scale is smoothed across province
borders before the exact per-province step.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.features import rasterize
from scipy.interpolate import make_interp_spline
from scipy.ndimage import gaussian_filter

from gee_cscc.demo.provinces import PROVINCE_ABBRS, load_provinces
from gee_cscc.demo.synthetic_climate import productivity
from gee_cscc.errors import ConfigError

__all__ = ["TABLE1_TG", "NATIONAL_MEAN_CSCC", "DemoNppYears", "demo_npp", "demo_npp_years"]
__all__ += ["demo_regions"]

DEFAULT_SEED = 20231266688
EXTENT = (73.0, 18.0, 135.1, 53.6)
"""Grid extent (west, south, east, north), degrees; snapped outward to the resolution."""
BREAK_YEAR = 2000
"""Year in which the synthetic trends change slope."""
DROUGHT_YEARS = (1986, 1997, 2001, 2006, 2011)
"""National drought years of the synthetic cube (lower NPP over large areas)."""

TABLE1_TG: dict[str, tuple[float, float]] = {
    "BJ": (11.26, 9.01), "TJ": (7.05, 5.47), "HB": (128.94, 109.81), "SX": (93.30, 81.43),
    "IM": (413.95, 315.37), "LN": (102.41, 87.26), "JL": (140.39, 114.12),
    "HLJ": (361.66, 300.07), "SH": (2.95, 1.64), "JS": (54.93, 42.84), "ZJ": (72.14, 60.88),
    "AH": (112.35, 95.11), "FJ": (103.97, 94.62), "JX": (116.23, 99.37),
    "SD": (108.17, 95.49), "HN": (141.81, 124.81), "HUB": (131.97, 108.52),
    "HUN": (141.23, 113.59), "GD": (133.40, 110.20), "GX": (192.13, 152.10),
    "HAN": (24.31, 19.55), "CQ": (62.99, 47.69), "SC": (261.63, 191.73),
    "GZ": (127.07, 102.28), "YN": (333.06, 274.95), "TB": (143.54, 85.93),
    "SAX": (135.70, 120.92), "GS": (102.03, 80.96), "QH": (92.30, 61.41), "NX": (14.89, 12.85),
    "XJ": (240.61, 114.40), "TW": (25.74, 20.71), "HK": (0.23, 0.17),
}  # fmt: skip
"""Wu et al. (2023) Table 1 per province: (CSCC, 2018 NPP) in Tg C yr⁻¹. Macau is not listed;
the demo gives it Hong Kong's mean CSCC (g C m⁻² yr⁻¹) and NPP/CSCC ratio."""
NATIONAL_MEAN_CSCC = 658.59
"""The paper's national area-weighted mean CSCC, g C m⁻² yr⁻¹."""

_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_K_RANGE = (0.5, 2.5)  # plausible amplitudes of the relative anomaly per province
_SMOOTHING_DEG = 1.5  # Gaussian σ (degrees) of the scale factor across province borders
_SMOOTHING_ROUNDS = 3


class _Grid(NamedTuple):
    """A north-up lon/lat grid: cell-centre coordinates (degrees), transform and shape."""

    x: np.ndarray
    y: np.ndarray
    transform: Affine
    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y.size, self.x.size)


def _grid(resolution: float) -> _Grid:
    if not (isinstance(resolution, Real) and 0.005 <= resolution <= 1.0):
        raise ConfigError(
            f"resolution must be a number of degrees in [0.005, 1], got {resolution!r}"
        )
    west, south, east, north = EXTENT
    i_w = int(np.floor(west / resolution + 1e-9))
    i_e = int(np.ceil(east / resolution - 1e-9))
    i_s = int(np.floor(south / resolution + 1e-9))
    i_n = int(np.ceil(north / resolution - 1e-9))
    x = (i_w + np.arange(i_e - i_w) + 0.5) * resolution
    y = (i_n - np.arange(i_n - i_s) - 0.5) * resolution
    transform = Affine(resolution, 0.0, i_w * resolution, 0.0, -resolution, i_n * resolution)
    return _Grid(x, y, transform, float(resolution))


def _region_raster(grid: _Grid) -> np.ndarray:
    features = load_provinces()["features"]
    shapes = ((f["geometry"], int(f["properties"]["region_id"])) for f in features)
    return rasterize(
        shapes, out_shape=grid.shape, transform=grid.transform, fill=0,
        all_touched=False, dtype="int32",
    )  # fmt: skip


def _cell_area_m2(grid: _Grid) -> np.ndarray:
    """Exact WGS84 area (m²) of the cells of each grid row (authalic-latitude formula)."""
    e2 = _WGS84_F * (2 - _WGS84_F)
    e = np.sqrt(e2)

    def s(lat_deg: np.ndarray) -> np.ndarray:  # area from the equator per radian of lon
        sp = np.sin(np.radians(lat_deg))
        return (_WGS84_A**2 * (1 - e2) / 2) * (
            sp / (1 - e2 * sp**2) + np.log((1 + e * sp) / (1 - e * sp)) / (2 * e)
        )

    half = grid.resolution / 2
    return np.radians(grid.resolution) * (s(grid.y + half) - s(grid.y - half))


def _smooth_fields(rng: np.random.Generator, grid: _Grid, spacing: float, n: int) -> np.ndarray:
    """``n`` smooth standard-normal-ish fields: a random lattice of ``spacing`` degrees,
    cubic-spline interpolated to the cell centres (so the same seed gives the same pattern at
    every resolution). Shape (n, ny, nx)."""
    west, south, east, north = EXTENT
    lon = west - 2 * spacing + spacing * np.arange(int(np.ceil((east - west) / spacing)) + 5)
    lat = south - 2 * spacing + spacing * np.arange(int(np.ceil((north - south) / spacing)) + 5)
    values = rng.standard_normal((n, lat.size, lon.size))
    wx = make_interp_spline(lon, np.eye(lon.size), k=3)(grid.x)  # (nx, Lx)
    wy = make_interp_spline(lat, np.eye(lat.size), k=3)(grid.y)  # (ny, Ly)
    return np.einsum("yi,nij,xj->nyx", wy, values, wx, optimize=True)


def _calibrate_province(
    w: np.ndarray, h_last: np.ndarray, h_max_prev: np.ndarray, *, cscc: float, ratio: float
) -> tuple[float, float, float]:
    """Amplitude k, last-year shift δ and scale a for one province.

    With ``y = a·m·(1 + k·h')`` (``h'`` = ``h`` with ``δ`` added in the last year) and
    weights ``w = m·A`` (g C m⁻² yr⁻¹ × m²), returns (k, δ, a) with
    Σ w(1 + k·h'_T) / Σ w(1 + k·max_t h') = ``ratio`` and a·Σ w(1 + k·max_t h') = ``cscc`` (g);
    ``h_last`` is h of the last year, ``h_max_prev`` its maximum over the earlier years.
    """
    total = w.sum()

    def sums(k: float, delta: float) -> tuple[float, float]:
        last = h_last + delta
        return total + k * (w @ last), total + k * (w @ np.maximum(h_max_prev, last))

    def last_over_max(k: float, delta: float) -> float:
        s_last, s_max = sums(k, delta)
        return s_last / s_max

    s_last, s_max = sums(1.0, 0.0)
    h_last_sum, h_max_sum = s_last - total, s_max - total
    denom = ratio * h_max_sum - h_last_sum
    k_free = total * (1 - ratio) / denom if denom > 0 else np.inf  # exact with δ = 0
    k = float(np.clip(k_free, *_K_RANGE))
    delta = 0.0
    if k != k_free:  # a province-wide anomaly of the last year makes up the rest
        lo, hi = -1.0, 1.0  # last_over_max increases with δ
        while last_over_max(k, lo) > ratio:
            lo *= 2
        while last_over_max(k, hi) < ratio:
            hi *= 2
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if last_over_max(k, mid) < ratio else (lo, mid)
        delta = (lo + hi) / 2
    return k, delta, cscc / sums(k, delta)[1]


def _check_years(start: int, end: int) -> np.ndarray:
    if not (isinstance(start, Integral) and isinstance(end, Integral) and end - start >= 2):
        raise ConfigError(
            f"start and end must be integer years with end - start >= 2, "
            f"got start={start!r}, end={end!r}"
        )
    return np.arange(int(start), int(end) + 1)


class _LandCells(NamedTuple):
    """The land cells of a grid as 1-D arrays (row-major order of ``mask``)."""

    region: np.ndarray  # region id, 1 … 34
    area: np.ndarray  # m²
    lon: np.ndarray  # degrees east, cell centre
    lat: np.ndarray  # degrees north, cell centre
    mask: np.ndarray  # (ny, nx) bool, True on land


class _Anomaly:
    """Relative anomaly h[t, p] (dimensionless, zero mean over the years of each cell), one
    year at a time: a trend whose slope changes in 2000, drought years, spatially correlated
    and white noise, amplified at dry margins.

    :meth:`raw_rows` gives h before its centring (each pass draws the same numbers from
    fresh streams); :meth:`summarise` takes one pass for the per-cell mean, last year and
    maximum before it. ``batched`` computes the 38 weather fields at once and keeps them
    (the in-memory cube); otherwise each year's field is computed when reached, which
    differs from the batched one by rounding only (≈ 1e-15 relative).
    """

    def __init__(
        self, seed: int, grid: _Grid, cells: _LandCells, years: np.ndarray, m: np.ndarray,
        *, batched: bool,
    ) -> None:  # fmt: skip
        land = cells.mask
        streams = _streams(seed)
        self.seed, self.grid, self.land, self.years = seed, grid, land, years
        trend = _smooth_fields(streams[2], grid, 3.0, 2)[:, land]
        self.slope_before = 0.001 + 0.003 * trend[0]  # yr⁻¹, up to BREAK_YEAR
        self.slope_after = 0.004 + 0.006 * trend[1]  # yr⁻¹, from BREAK_YEAR: mostly greening
        del trend
        self.droughts = [int(y) for y in DROUGHT_YEARS if years[0] <= y <= years[-1]]
        footprint = _smooth_fields(streams[5], grid, 6.0, len(self.droughts))[:, land]
        drops = 0.12 / (1 + np.exp(-2.5 * (footprint + 0.3)))
        self.drop = dict(zip(np.searchsorted(years, self.droughts).tolist(), drops, strict=True))
        self.amp = 1 + 1.5 * np.exp(-np.maximum(m, 0) / 40)  # dry margins vary most
        self.weather = (
            _smooth_fields(streams[3], grid, 2.0, years.size)[:, land] if batched else None
        )

    def raw_rows(self) -> Iterator[np.ndarray]:
        """h[t] before centring, year by year."""
        streams = _streams(self.seed)
        for i, year in enumerate(self.years.tolist()):
            row = (min(year, BREAK_YEAR) - BREAK_YEAR) * self.slope_before
            row += (max(year, BREAK_YEAR) - BREAK_YEAR) * self.slope_after
            if self.weather is None:  # this year's field alone
                weather = 0.09 * _smooth_fields(streams[3], self.grid, 2.0, 1)[0][self.land]
            else:
                weather = 0.09 * self.weather[i]
            weather += 0.05 * streams[4].standard_normal(row.size)
            if i in self.drop:
                weather -= self.drop[i]
            row += weather * self.amp
            yield row

    def summarise(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell: the mean of h over the years (before centring), and the centred h of
        the last year and the centred maximum over the earlier years."""
        total = last = top = None
        for row in self.raw_rows():
            if total is None:
                total, top = row.copy(), np.full_like(row, -np.inf)
            else:
                total += row
            if last is not None:
                np.maximum(top, last, out=top)
            last = row
        assert total is not None and last is not None and top is not None
        mean = total / self.years.size
        return mean, last - mean, top - mean


def _calibrate(
    grid: _Grid,
    cells: _LandCells,
    m: np.ndarray,
    vca: np.ndarray,
    h_last: np.ndarray,
    h_max_prev: np.ndarray,
) -> tuple[np.ndarray, dict[int, tuple[float, float, float]]]:
    """Per-province (k, δ, a) to Table 1 (see :func:`_calibrate_province`), after a few
    rounds that fold the provincial scales, smoothed across borders, into ``scale``."""
    targets = {r + 1: TABLE1_TG.get(abbr) for r, abbr in enumerate(PROVINCE_ABBRS)}
    hk = cells.region == PROVINCE_ABBRS.index("HK") + 1
    scale = np.ones_like(m)
    sigma_cells = _SMOOTHING_DEG / grid.resolution
    weight = gaussian_filter(cells.mask.astype(float), sigma_cells, mode="constant")
    for round_ in range(_SMOOTHING_ROUNDS + 1):
        w = np.where(vca, m * scale * cells.area, 0.0)
        a_cell = np.ones_like(m)
        params: dict[int, tuple[float, float, float]] = {}
        for r, target in targets.items():
            sel = (cells.region == r) & vca
            if not sel.any():
                continue
            if target is None:  # Macau: Hong Kong's mean CSCC and NPP/CSCC ratio
                hk_cscc, hk_last = TABLE1_TG["HK"]
                hk_area = cells.area[hk & vca].sum()
                cscc = hk_cscc * cells.area[sel].sum() / hk_area if hk_area > 0 else 1e-3
                target = (cscc, cscc * hk_last / hk_cscc)
            cscc, last = target
            params[r] = _calibrate_province(
                w[sel], h_last[sel], h_max_prev[sel], cscc=cscc * 1e12, ratio=last / cscc
            )
            a_cell[sel] = params[r][2]
        if round_ == _SMOOTHING_ROUNDS:
            return scale, params
        log_a = np.zeros(grid.shape)
        log_a[cells.mask] = np.log(a_cell)
        smooth = gaussian_filter(log_a, sigma_cells, mode="constant")
        scale *= np.exp(smooth[cells.mask] / weight[cells.mask])
    raise AssertionError("unreachable")


def demo_regions(*, resolution: float = 0.1) -> xr.DataArray:
    """Province region ids on the demo grid.

    Parameters
    ----------
    resolution : float
        Cell size, degrees (the grid is aligned to multiples of it).

    Returns
    -------
    xarray.DataArray
        int32, dims (``y``, ``x``), cell-centre coordinates in degrees; 1 … 34 as in
        :data:`gee_cscc.demo.provinces.PROVINCES` (a cell belongs to the province containing its
        centre), 0 outside China's land.
    """
    grid = _grid(resolution)
    return _regions_array(grid, _region_raster(grid))


def _regions_array(grid: _Grid, regions: np.ndarray) -> xr.DataArray:
    return xr.DataArray(
        regions,
        dims=("y", "x"),
        coords=_coords(grid),
        name="region_id",
        attrs={
            "long_name": "province region id (0 = outside China's land)",
            "flag_values": np.arange(1, len(PROVINCE_ABBRS) + 1, dtype="int32"),
            "flag_meanings": " ".join(PROVINCE_ABBRS),
            "crs": "EPSG:4326",
        },
    )


def _coords(grid: _Grid) -> dict[str, xr.Variable]:
    return {
        "y": xr.Variable("y", grid.y, {"units": "degrees_north", "standard_name": "latitude"}),
        "x": xr.Variable("x", grid.x, {"units": "degrees_east", "standard_name": "longitude"}),
    }


def demo_npp(
    *,
    resolution: float = 0.1,
    start: int = 1981,
    end: int = 2018,
    seed: int = DEFAULT_SEED,
) -> xr.DataArray:
    """SYNTHETIC annual NPP over China, calibrated to the paper's Table 1.

    Parameters
    ----------
    resolution : float
        Cell size, degrees (0.1 takes a few seconds, 0.05 well under a minute).
    start, end : int
        First and last year (inclusive). The calibration targets the last year's NPP.
    seed : int
        Seed of every random field; the same arguments give an identical array.

    Returns
    -------
    xarray.DataArray
        float32 NPP in g C m⁻² yr⁻¹, dims (``year``, ``y``, ``x``), cell-centre lon/lat
        coordinates (degrees, ``y`` north to south), NaN outside China's land; attrs say it
        is synthetic. Over the cells whose mean is > 0 and valid every year, each province's
        Σ max_t NPP × area and last-year NPP × area equal Table 1 (Tg C yr⁻¹) and the national
        area-weighted mean of max_t NPP equals 658.59 g C m⁻² yr⁻¹.
    """
    yearly = demo_npp_years(resolution=resolution, start=start, end=end, seed=seed, batched=True)
    cube = np.full((yearly.years.size, *yearly.shape), np.nan, dtype=np.float32)
    for i, row in enumerate(yearly.rows):
        cube[i] = row
    return xr.DataArray(
        cube, dims=("year", "y", "x"), coords=yearly.coords, name="npp", attrs=yearly.attrs
    )


class DemoNppYears(NamedTuple):
    """The demo NPP cube one year at a time (:func:`demo_npp_years`): the ``years`` in order,
    each year's grid ``shape`` (ny, nx), the ``coords`` and ``attrs`` of :func:`demo_npp`'s
    array, and ``rows``: each year's float32 (ny, nx) NPP, NaN outside China's land, in the
    order of ``years`` (a RuntimeError after the last one if the calibration failed)."""

    years: np.ndarray
    shape: tuple[int, int]
    coords: dict[str, xr.Variable]
    attrs: dict
    rows: Iterator[np.ndarray]


def demo_npp_years(
    *,
    resolution: float = 0.1,
    start: int = 1981,
    end: int = 2018,
    seed: int = DEFAULT_SEED,
    batched: bool = False,
) -> DemoNppYears:
    """:func:`demo_npp` one year at a time, without the whole cube in memory.

    The arguments are those of :func:`demo_npp`. Memory is a few per-cell fields of the
    grid, not the cube: the anomalies are drawn twice (once for the calibration, once for
    the values). With ``batched=False`` each year's correlated weather field is computed on
    its own, which changes the values by rounding only (≈ 1e-15 relative) from
    :func:`demo_npp`'s; ``batched=True`` keeps the 38 fields in memory and gives exactly
    :func:`demo_npp`'s values.
    """
    years = _check_years(start, end)
    grid = _grid(resolution)
    regions = _region_raster(grid)
    land = regions > 0
    cells = _LandCells(
        region=regions[land],
        area=np.broadcast_to(_cell_area_m2(grid)[:, None], grid.shape)[land],
        lon=np.broadcast_to(grid.x, grid.shape)[land],
        lat=np.broadcast_to(grid.y[:, None], grid.shape)[land],
        mask=land,
    )
    del regions
    streams = _streams(seed)

    # Productivity m (> 0 on the vegetation-covered area: its top part by area).
    texture = 0.15 * _smooth_fields(streams[0], grid, 2.0, 1)[0]
    texture += 0.08 * _smooth_fields(streams[1], grid, 0.5, 1)[0]
    base = productivity(cells.lon, cells.lat, texture[land])
    del texture
    total_cscc = sum(c for c, _ in TABLE1_TG.values()) * 1e12
    order = np.argsort(-base, kind="stable")
    n_vca = int(np.searchsorted(np.cumsum(cells.area[order]), total_cscc / NATIONAL_MEAN_CSCC))
    m = base - base[order[min(n_vca, base.size - 1)]]
    del order, base
    vca = m > 0

    anomaly = _Anomaly(seed, grid, cells, years, m, batched=batched)
    h_mean, h_last, h_max_prev = anomaly.summarise()
    scale, params = _calibrate(grid, cells, m, vca, h_last, h_max_prev)
    del h_last, h_max_prev
    bare = ~vca  # deserts: small values around a mean <= -0.2 g C m-2 yr-1
    n_bare = int(bare.sum())
    noise_mean, noise = np.zeros(n_bare), _streams(seed)[6]
    for _ in range(years.size):
        noise_mean += noise.standard_normal(n_bare)
    noise_mean /= years.size
    offset = 0.2 + 2.0 * streams[7].random(n_bare)
    sels = {r: np.flatnonzero((cells.region == r) & vca) for r in params}  # cells by index
    values = {r: params[r][2] * (m * scale)[sels[r]] for r in params}
    attrs = {
        "title": "SYNTHETIC demo annual NPP of China (not real data)",
        "description": (
            "Synthetic, deterministic annual net primary production made by "
            "gee_cscc.demo.synthetic.demo_npp for demos and tests. Not an observation or a model "
            "output: provincial CSCC and last-year NPP totals are calibrated to Table 1 of "
            "Wu et al. (2023), doi:10.3389/ffgc.2023.1266688."
        ),
        "long_name": "annual net primary production (synthetic)",
        "units": "g C m-2 yr-1",
        "crs": "EPSG:4326",
        "resolution_deg": grid.resolution,
        "seed": seed,
        "drought_years": np.asarray(anomaly.droughts, dtype="int32"),
        "trend_break_year": BREAK_YEAR,
    }

    def rows() -> Iterator[np.ndarray]:
        noise = _streams(seed)[6]
        rel_sum = {r: np.zeros(sel.size) for r, sel in sels.items()}
        for i, h_raw in enumerate(anomaly.raw_rows()):
            h = h_raw - h_mean
            npp = np.empty(h.size)
            for r, (k, delta, _a) in params.items():
                rel = k * h[sels[r]]
                if i == years.size - 1:
                    rel += k * delta
                rel_sum[r] += rel
                npp[sels[r]] = values[r] * (1 + rel)
            npp[bare] = (noise.standard_normal(n_bare) - noise_mean) - offset
            out = np.full(grid.shape, np.nan, dtype=np.float32)
            out[land] = npp
            yield out
        for r, total in rel_sum.items():
            if not (total / years.size > -1).all():  # the mean must stay > 0 on the VCA
                raise RuntimeError(f"demo calibration left region {r} with a mean <= 0")

    coords = {"year": xr.Variable("year", years, {"units": "year"}), **_coords(grid)}
    return DemoNppYears(years, grid.shape, coords, attrs, rows())


def _streams(seed: int) -> list[np.random.Generator]:
    """The generator's eight independent random streams (the same for the same seed)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
