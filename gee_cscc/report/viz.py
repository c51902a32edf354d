"""Visualization presets of the result layers, for geemap maps (and any ``ee`` map client).

Each preset is the ``vis_params`` dict that ``geemap.Map.addLayer`` (or
``ee.Image.getMapId``) takes, in the colours of the report's figures
(:mod:`gee_cscc.report.style`):

* :func:`cscc_vis` — CSCC, g C m⁻² yr⁻¹, sequential greens from 0;
* :func:`pcs_vis` — PCS (increase potential), g C m⁻² yr⁻¹, sequential oranges from 0;
* :data:`TREND_CLASS_VIS` — trend classes −2 … 2 (SD, ID, 0, II, SI; docs/method.md §3);
* :func:`maintenance_vis` — maintenance years −N … +N (negative: a negative trend held for
  that many evaluation years; positive: a positive one; 0: changed);
* :data:`GRADE_VIS` — the CSR grade of each region (codes of :data:`GRADE_CODES`).

:func:`legend` gives the ``{label: colour}`` dict of a categorical layer (for
``Map.add_legend(legend_dict=...)``), and :func:`add_to_map` adds every result layer of a
run to a geemap map in one call. Nothing here imports ``ee`` or ``geemap`` at module level:
:func:`add_to_map` and :func:`result_layers` import ``ee`` when called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gee_cscc.config.fields import CSR_GRADE_CODES
from gee_cscc.report.map_preview import preview_sample
from gee_cscc.report.style import GRADE_COLOURS, TREND_CLASS_STYLE

__all__ = [
    "CSCC_PALETTE",
    "GRADE_CODES",
    "GRADE_VIS",
    "MAINTENANCE_NEG_PALETTE",
    "MAINTENANCE_POS_PALETTE",
    "PCS_PALETTE",
    "TREND_CLASS_VIS",
    "Layer",
    "add_to_map",
    "cscc_vis",
    "legend",
    "maintenance_vis",
    "nice_max",
    "pcs_vis",
    "result_layers",
]

#: CSCC colours, low to high (ColorBrewer YlGn, 7 classes).
CSCC_PALETTE = ["ffffcc", "d9f0a3", "addd8e", "78c679", "41ab5d", "238443", "005a32"]
#: PCS colours, low to high (ColorBrewer Oranges, 7 classes).
PCS_PALETTE = ["feedde", "fdd0a2", "fdae6b", "fd8d3c", "f16913", "d94801", "8c2d04"]
#: Maintenance-years colours: negative trends held (red, longest first) ...
MAINTENANCE_NEG_PALETTE = ["b2182b", "d6604d", "f4a582"]
#: ... and positive trends held (blue, shortest first); 0 (changed) is pale yellow between.
MAINTENANCE_POS_PALETTE = ["92c5de", "4393c3", "2166ac"]
_CHANGED = "f7f7c8"

_TREND_CODES = (-2, -1, 0, 1, 2)

#: Trend classes −2 … 2 (band ``trend_class``; also fits ``trend_class_strict``).
TREND_CLASS_VIS: dict[str, Any] = {
    "bands": ["trend_class"],
    "min": -2,
    "max": 2,
    "palette": [TREND_CLASS_STYLE[c][2].lstrip("#") for c in _TREND_CODES],
}

#: CSR grade → integer code of the grade layer (strongest 5 … none 0).
GRADE_CODES: dict[str, int] = {
    name: code for code, name in sorted(CSR_GRADE_CODES.items(), reverse=True)
}

#: The CSR grade layer (band ``csr_grade``, codes of :data:`GRADE_CODES`).
GRADE_VIS: dict[str, Any] = {
    "bands": ["csr_grade"],
    "min": 0,
    "max": 5,
    "palette": [
        GRADE_COLOURS[g].lstrip("#") for g in sorted(GRADE_CODES, key=GRADE_CODES.__getitem__)
    ],
}


def nice_max(values: Any, percentile: float = 98.0, default: float = 1000.0) -> float:
    """A round upper end of a colour ramp: the ``percentile`` of the finite values, rounded
    up to 1, 2, 2.5 or 5 times a power of ten (``default`` when there is no finite value
    above 0)."""
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float(default)
    top = float(np.percentile(arr, percentile))
    if not top > 0:
        return float(default)
    power = 10.0 ** math.floor(math.log10(top))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if top <= step * power * (1 + 1e-12):
            return step * power
    return 10.0 * power  # pragma: no cover (the loop ends at 10 × power ≥ top)


def cscc_vis(max_value: float = 1000.0) -> dict[str, Any]:
    """CSCC (band ``cscc``), g C m⁻² yr⁻¹, from 0 to ``max_value``."""
    return {"bands": ["cscc"], "min": 0, "max": float(max_value), "palette": list(CSCC_PALETTE)}


def pcs_vis(max_value: float = 500.0) -> dict[str, Any]:
    """PCS (band ``pcs``), g C m⁻² yr⁻¹, from 0 to ``max_value``."""
    return {"bands": ["pcs"], "min": 0, "max": float(max_value), "palette": list(PCS_PALETTE)}


def maintenance_vis(n_years: int) -> dict[str, Any]:
    """Maintenance years (band ``maintenance_years``), −``n_years`` … +``n_years``.

    The palette has one colour per integer value, so every value has its own colour:
    reds for a negative trend held (darker: longer), pale yellow for 0, blues for a
    positive trend held.
    """
    n = int(n_years)
    if n < 1:
        raise ValueError(f"maintenance_vis: n_years must be ≥ 1, got {n_years!r}")
    neg = _ramp(MAINTENANCE_NEG_PALETTE, n)  # −n … −1
    pos = _ramp(MAINTENANCE_POS_PALETTE, n)  # 1 … n
    return {
        "bands": ["maintenance_years"],
        "min": -n,
        "max": n,
        "palette": [*neg, _CHANGED, *pos],
    }


def _ramp(colours: list[str], n: int) -> list[str]:
    """``n`` colours evenly interpolated along ``colours`` (hex without ``#``)."""
    rgb = np.array([[int(c[i : i + 2], 16) for i in (0, 2, 4)] for c in colours], dtype=float)
    if n == 1:
        return [colours[len(colours) // 2]]
    t = np.linspace(0, len(colours) - 1, n)
    out = []
    for x in t:
        i = min(int(x), len(colours) - 2)
        f = x - i
        c = rgb[i] * (1 - f) + rgb[i + 1] * f
        out.append("".join(f"{int(round(v)):02x}" for v in c))
    return out


def legend(name: str) -> dict[str, str]:
    """``{label: '#rrggbb'}`` of a categorical layer: ``"trend_class"`` or ``"csr_grade"``."""
    if name in ("trend_class", "trend_class_strict"):
        return {
            f"{TREND_CLASS_STYLE[c][0]}: {TREND_CLASS_STYLE[c][1]}": TREND_CLASS_STYLE[c][2]
            for c in sorted(TREND_CLASS_STYLE, reverse=True)
        }
    if name == "csr_grade":
        return dict(GRADE_COLOURS)
    raise ValueError(f"legend: no legend for {name!r} (trend_class or csr_grade)")


@dataclass
class Layer:
    """One map layer of a run: its name, ``ee.Image``, ``vis_params`` and legend."""

    name: str
    image: Any
    vis: dict[str, Any]
    shown: bool = True
    legend: dict[str, str] | None = None
    colorbar_label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _raster_max(results: Any, var: str, default: float) -> float:
    rasters = getattr(results, "rasters", None)
    if rasters is None or var not in getattr(rasters, "data_vars", {}):
        return default
    return nice_max(preview_sample(rasters[var]), default=default)  # bounded, by rows


def _grade_image(results: Any) -> Any | None:
    """Each region's CSR grade code painted on its cells (band ``csr_grade``), or None."""
    import ee

    regions = getattr(results, "regions", None)
    table = getattr(results, "resilience", None)
    if regions is None or table is None or not getattr(regions, "names", None):
        return None
    if "region" not in table or "grade" not in table:
        return None
    grades = dict(zip(table["region"].astype(str), table["grade"].astype(str), strict=True))
    region = ee.Image(regions.image).select("region")
    out = region.multiply(0)  # on the region image's grid (a constant has none)
    cover = region.multiply(0)
    for rid, name in regions.names.items():
        code = GRADE_CODES.get(grades.get(str(name), "none"), 0)
        inside = region.eq(int(rid))
        out = out.add(inside.multiply(code))
        cover = cover.add(inside)
    return out.updateMask(cover.gt(0)).toInt8().rename("csr_grade")


def result_layers(results: Any) -> list[Layer]:
    """The map layers of a run's :class:`~gee_cscc.workflow.Results` (or anything with the
    same ``graph``, ``config``, ``rasters``, ``regions``, ``resilience``), bottom first.

    CSCC and PCS ramps end at a round number above the run's 98th percentile (from
    ``results.rasters`` when it has them).
    """
    import ee

    graph = results.graph
    cfg = results.config
    layers = [
        Layer(
            "CSCC (g C m⁻² yr⁻¹)",
            ee.Image(graph.capacity).select("cscc"),
            cscc_vis(_raster_max(results, "cscc", 1000.0)),
            colorbar_label="CSCC (g C m⁻² yr⁻¹)",
        )
    ]
    pcs_max = _raster_max(results, "pcs", 500.0)
    for year in list(getattr(cfg, "pcs_years", None) or []):
        image = ee.Image(graph.potential.filter(ee.Filter.eq("year", int(year))).first())
        layers.append(
            Layer(f"PCS {year} (g C m⁻² yr⁻¹)", image.select("pcs"), pcs_vis(pcs_max), shown=False)
        )
    layers.append(
        Layer(
            "Trend class",
            ee.Image(graph.trend).select("trend_class"),
            dict(TREND_CLASS_VIS),
            legend=legend("trend_class"),
        )
    )
    n_eval = len(graph.evaluation_years)
    if n_eval >= 1:
        layers.append(
            Layer(
                "Maintenance years",
                ee.Image(graph.maintenance_years).select("maintenance_years"),
                maintenance_vis(n_eval),
                shown=False,
                colorbar_label="Maintenance years (− negative, + positive trend held)",
            )
        )
    grade = _grade_image(results)
    if grade is not None:
        layers.append(
            Layer("CSR grade", grade, dict(GRADE_VIS), shown=False, legend=legend("csr_grade"))
        )
    return layers


def add_to_map(m: Any, results: Any, *, legends: bool = True) -> Any:
    """Add every result layer of ``results`` to the geemap map ``m``; returns ``m``.

    Layers: CSCC, PCS per ``pcs_years`` (hidden), trend classes, maintenance years (hidden)
    and the CSR grade of each region (hidden), with :func:`legend` legends for the
    categorical layers when ``legends`` and the map has ``add_legend``. Works with
    ``geemap.Map`` and ``geemap.foliumap.Map`` (both have ``addLayer``).
    """
    titled = set()
    for layer in result_layers(results):
        m.addLayer(layer.image, layer.vis, layer.name, layer.shown)
        if legends and layer.legend and hasattr(m, "add_legend") and layer.name not in titled:
            m.add_legend(title=layer.name, legend_dict=layer.legend)
            titled.add(layer.name)
    return m
