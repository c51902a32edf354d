"""One self-contained HTML page of a run: headline numbers, the paper's tables, all figures.

:func:`write_html` writes the page atomically. Everything it needs is inside the file: the
figures are embedded as base64 PNG, the CSS is inline, and nothing is loaded from elsewhere,
so the page can be mailed or archived as it is. Every piece of text is HTML-escaped. Numbers
use thousands separators and a fixed number of decimals; a missing value shows as "—" and an
infinite one as "∞" (never "nan").
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gee_cscc.report.figures import figure_captions

__all__ = ["format_number", "format_percent", "format_p", "write_html"]

MISSING = "—"
_ALL = "ALL"
_TREND_ORDER = ("SI", "II", "0", "ID", "SD")

# --------------------------------------------------------------------------- formatting


def _float(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number."""
    if value is None or value is pd.NA or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def format_number(value: Any, decimals: int = 2, *, signed: bool = False) -> str:
    """A number with thousands separators and ``decimals`` decimals.

    Parameters
    ----------
    value : float, int or None
        The number; None, NaN and values that are not numbers give "—".
    decimals : int
        Digits after the decimal point.
    signed : bool, keyword-only
        Always show the sign (``+1.66``).

    Returns
    -------
    str
        E.g. ``"4,134.32"``; ``"∞"`` / ``"-∞"`` for infinities, ``"—"`` when missing.
    """
    v = _float(value)
    if v is None or math.isnan(v):
        return MISSING
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    text = f"{v:{'+' if signed else ''},.{decimals}f}"
    if text[0] == "-" and float(text[1:].replace(",", "")) == 0:  # no "-0.00"
        text = ("+" if signed else "") + text[1:]
    return text


def format_percent(fraction: Any, decimals: int = 2) -> str:
    """A fraction as a percentage, ``0.2126 → "21.26 %"`` ("—" when missing)."""
    v = _float(fraction)
    if v is None or math.isnan(v):
        return MISSING
    return f"{format_number(v * 100, decimals)} %"


def format_p(p: Any) -> str:
    """A p-value: three decimals, ``< 0.001`` below that ("—" when missing)."""
    v = _float(p)
    if v is None or math.isnan(v):
        return MISSING
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def _int(value: Any) -> str:
    return format_number(value, 0)


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return str(value) if str(value) != "" else MISSING


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# --------------------------------------------------------------------------- HTML pieces

Column = tuple[str, str, Callable[[Any], str]]  # (column, header, formatter)


def _table(
    frame: pd.DataFrame | None,
    columns: Sequence[Column],
    *,
    cell_class: Callable[[str, Any], str] | None = None,
) -> str:
    """An HTML table of the given columns (missing columns show "—"); all text escaped."""
    if frame is None or frame.empty:
        return '<p class="empty">No rows.</p>'
    head = "".join(f"<th>{_esc(header)}</th>" for _, header, _ in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for name, _, fmt in columns:
            value = row[name] if name in row.index else None
            classes = "num" if fmt is not _text else "txt"
            extra = cell_class(name, row) if cell_class else ""
            cls = f"{classes} {extra}".strip()
            cells.append(f'<td class="{cls}">{_esc(fmt(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _key_values(pairs: Iterable[tuple[str, str]], *, css: str = "kv") -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="{css}"><tbody>{rows}</tbody></table>'


def _config_value(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, (list, tuple)):
        return ", ".join(_config_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --------------------------------------------------------------------------- sections

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; line-height: 1.45; }
main { max-width: 1150px; margin: 0 auto; padding: 1.2em 1.6em 3em; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 2px solid #e3e3e3;
     padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.2em; }
.banner { background: #fde2e1; border: 2px solid #c00000; color: #8b0000; padding: 0.6em 1em;
          font-weight: bold; margin: 0.8em 0; border-radius: 4px; }
.note { background: #fff6e5; border-left: 4px solid #e08214; padding: 0.5em 0.9em;
        margin: 0.8em 0; }
.muted { color: #666; font-size: 0.9em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.5em 0; }
th, td { border: 1px solid #d9d9d9; padding: 0.25em 0.55em; }
thead th { background: #f0f3f6; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #f8f8f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.txt { text-align: left; }
td.extrap { background: #fff1dc; font-style: italic; }
table.kv th { text-align: left; background: #f0f3f6; font-weight: 600; width: 19em; }
table.kv td { font-variant-numeric: tabular-nums; }
table.config { font-size: 0.8em; }
details { margin: 0.4em 0; }
summary { cursor: pointer; font-weight: 600; }
figure { margin: 1.4em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e3; }
figcaption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
"""

_FIT_MODES = {
    "free": (
        "nonlinear least squares of q = λ·exp(−(t − t′)/τ) with λ free, at the global "
        "optimum (a search over the decay rate 1/τ, then a bounded polish)"
    ),
    "fixed": "nonlinear least squares of q = exp(−(t − t′)/τ) with λ fixed at 1",
    "loglinear": (
        "ordinary least squares of ln q on t − t′ (years with q = 0 are dropped and flagged "
        "zero_dropped)"
    ),
}
_CI = {
    "free": (
        "95 % profile-likelihood interval of τ (F-based, λ profiled out); an interval that "
        "reaches decay rate 0 has an infinite upper end (∞)"
    ),
    "fixed": (
        "95 % profile-likelihood interval of τ (F-based); an interval that reaches decay "
        "rate 0 has an infinite upper end (∞)"
    ),
    "loglinear": "95 % OLS t-interval of the log-linear slope, turned into τ",
}
_FLAGS = (
    ("no_cells", "no cells had this sign at t′: no τ (shown as —)"),
    ("no_loss", "no cell was lost: q = 1 throughout, τ = ∞"),
    ("non_decaying", "the best fit does not decay (rate ≤ 0): τ = ∞"),
    ("zero_dropped", "log-linear fit only: years with q = 0 were left out"),
    ("plateau", "the ratio stayed unchanged over the last years; the onset year is listed"),
    ("extrapolated", "τ is far beyond the fitting window (see the note above)"),
)


def _header(results: Any, run_info: Mapping[str, Any], synthetic: bool) -> str:
    cfg = results.config
    info = dict(run_info)
    date = info.pop("date", None) or info.pop("run_date", None)
    if date is None:
        date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    engine = info.pop("engine", None) or getattr(cfg, "engine", None)
    source = info.pop("input", None) or info.pop("asset", None)
    pairs = [("run date", _text(date)), ("engine", _text(engine)), ("input asset", _text(source))]
    pairs += [(str(k), _config_value(v)) for k, v in info.items()]
    grid = (results.summary or {}).get("grid")
    if isinstance(grid, Mapping) and grid:
        pairs.append(("grid", "; ".join(f"{k}: {_config_value(v)}" for k, v in grid.items())))
    parts = [
        f"<h1>Vegetation carbon sink carrying capacity: {_esc(cfg.start)}–{_esc(cfg.end)}</h1>"
    ]
    if synthetic:
        parts.append(
            '<div class="banner">SYNTHETIC DEMO DATA: every number and map on this page comes '
            "from a generated NPP cube, not from observations. Do not cite.</div>"
        )
    parts.append(
        '<p class="muted">Method of Wu et al. (2023), Front. For. Glob. Change 6:1266688 '
        "(doi:10.3389/ffgc.2023.1266688), as settled in METHOD.md of gee_cscc.</p>"
    )
    parts.append(_key_values(pairs))
    config = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(vars(cfg))
    parts.append(
        "<details><summary>Run configuration</summary>"
        + _key_values(((k, _config_value(v)) for k, v in config.items()), css="kv config")
        + "</details>"
    )
    return "\n".join(parts)


def _national_fit(results: Any) -> Any:
    table = results.resilience
    if table is None or table.empty:
        return None
    rows = table[table["region"].astype(str) == _ALL]
    return rows.iloc[0] if not rows.empty else None


def _headline(results: Any) -> str:
    cfg = results.config
    s = results.summary or {}
    last = s.get("last_year", cfg.end)
    series = s.get("npp_series") or {}
    slopes = s.get("maintenance_slopes") or {}
    shares = s.get("trend_class_area_share") or {}
    pairs = [
        (
            "Vegetation-covered area (VCA)",
            f"{format_number(s.get('vca_area_km2'), 0)} km² ({_int(s.get('vca_cells'))} cells)",
        ),
        ("Total CSCC", f"{format_number(s.get('cscc_total_pg'), 3)} Pg C yr⁻¹"),
        ("Mean CSCC (area-weighted)", f"{format_number(s.get('cscc_mean_gm2'))} g C m⁻² yr⁻¹"),
        (f"Total NPP {last}", f"{format_number(s.get('npp_last_pg'), 3)} Pg C yr⁻¹"),
        (f"Saturation {last} (NPP / CSCC)", format_percent(s.get("saturation_last"))),
        (f"Increase potential {last}", f"{format_number(s.get('potential_last_pg'), 3)} Pg C yr⁻¹"),
        ("  … as a share of CSCC", format_percent(s.get("potential_share_of_cscc"))),
        (f"  … as a share of NPP {last}", format_percent(s.get("potential_share_of_npp"))),
        (
            "National mean NPP trend (OLS)",
            f"{format_number(series.get('slope'), 2, signed=True)} g C m⁻² yr⁻² "
            f"(p {_p_phrase(series.get('p_value'))})",
        ),
        (
            f"Net change {cfg.start}–{cfg.end}",
            f"{format_number(series.get('net_change'), 2, signed=True)} g C m⁻² yr⁻¹ "
            f"({format_number(series.get('pct_change'), 2, signed=True)} %); from the slope "
            f"{format_number(series.get('net_change_slope'), 2, signed=True)} g C m⁻² yr⁻¹ "
            f"({format_number(series.get('pct_change_slope'), 2, signed=True)} %)",
        ),
        (
            f"Trend class area shares (α = {cfg.alpha:g})",
            ", ".join(f"{c} {format_percent(shares.get(c))}" for c in _TREND_ORDER),
        ),
        (
            "Maintenance slopes",
            f"N⁺ {format_number(slopes.get('slope_n_pos'), 1, signed=True)}, "
            f"N⁻ {format_number(slopes.get('slope_n_neg'), 1, signed=True)}, "
            f"C {format_number(slopes.get('slope_changed'), 1, signed=True)} cells yr⁻¹",
        ),
    ]
    row = _national_fit(results)
    if row is not None:
        pairs.append(
            (
                "Carbon sink resilience (whole area)",
                f"τ⁺ {_tau(row.get('tau_pos'))} yr, τ⁻ {_tau(row.get('tau_neg'))} yr, "
                f"RS {format_number(row.get('rs'), 1)} yr, grade “{_text(row.get('grade'))}”",
            )
        )
    return "<h2>Headline numbers</h2>\n" + _key_values(pairs)


def _p_phrase(p: Any) -> str:
    text = format_p(p)
    return text if text.startswith("<") or text == MISSING else f"= {text}"


def _tau(value: Any) -> str:
    return format_number(value, 1)


def _capacity_section(results: Any) -> str:
    columns: list[Column] = [
        ("region", "Region", _text),
        ("vca_area_km2", "VCA area (km²)", lambda v: format_number(v, 0)),
        ("vca_cells", "VCA cells", _int),
        ("cscc_tg", "CSCC (Tg C yr⁻¹)", format_number),
        ("current_npp_tg", f"NPP {results.config.end} (Tg C yr⁻¹)", format_number),
        ("potential_tg", "Possible growth (Tg C yr⁻¹)", format_number),
        ("cscc_mean_gm2", "Mean CSCC (g C m⁻² yr⁻¹)", format_number),
        ("potential_share_of_cscc", "Growth / CSCC", format_percent),
        ("potential_share_of_npp", "Growth / NPP", format_percent),
    ]
    return (
        "<h2>Table 1: carrying capacity and increase potential</h2>\n"
        f'<p class="muted">Current NPP is the last year, {_esc(results.config.end)}. '
        "Totals are Σ value × cell area over the VCA cells of each region.</p>\n"
        + _table(results.capacity, columns)
    )


_COUNT_COLUMNS: list[Column] = [
    ("year", "Year", lambda v: format_number(v, 0).replace(",", "")),
    ("n_pos", "N⁺ (cells)", _int),
    ("ratio_pos", "q⁺ (%)", format_number),
    ("n_neg", "N⁻ (cells)", _int),
    ("ratio_neg", "q⁻ (%)", format_number),
    ("changed", "Changed C (cells)", _int),
    ("changed_ratio", "Cumulative share of C (%)", format_number),
]


def _counts_section(results: Any) -> str:
    counts = results.maintenance_counts
    ref = results.config.reference_year
    parts = [
        "<h2>Table 2: cells that kept their trend</h2>",
        f'<p class="muted">N⁺ / N⁻: cells whose maintenance surface is still +1 / −1, i.e. '
        f"whose growing-window trend has kept the sign it had in t′ = {_esc(ref)}; "
        f"q = N / N<sub>{_esc(ref)}</sub> in percent. C: cells whose trend changed since t′, "
        "C = (N⁺<sub>t′</sub> − N⁺) + (N⁻<sub>t′</sub> − N⁻); its ratio is the cumulative "
        "share Σ<sub>j≤i</sub> C<sub>j</sub> / Σ<sub>j</sub> C<sub>j</sub> (100 % in the last "
        "year), as in the paper's Table 2.</p>",
    ]
    if counts is None or counts.empty:
        return "\n".join([*parts, '<p class="empty">No rows.</p>'])
    names = list(dict.fromkeys(counts["region"].astype(str)))
    parts.append("<h3>Whole area (ALL)</h3>")
    parts.append(_table(counts[counts["region"].astype(str) == _ALL], _COUNT_COLUMNS))
    regions = [n for n in names if n != _ALL]
    if regions:
        inner = "".join(
            f"<details><summary>{_esc(name)}</summary>"
            f"{_table(counts[counts['region'].astype(str) == name], _COUNT_COLUMNS)}</details>"
            for name in regions
        )
        parts.append(
            f"<details><summary>Table 2 per region ({len(regions)} regions)</summary>"
            f"{inner}</details>"
        )
    return "\n".join(parts)


def _trend_section(results: Any) -> str:
    table = results.trend_summary
    cfg = results.config
    parts = [
        "<h2>Trend classes</h2>",
        '<p class="muted">Share of each region\'s VCA area in each class (SI significant '
        "increase, II insignificant increase, 0 no trend, ID insignificant decrease, SD "
        "significant decrease); two-sided t-test of the OLS slope (Mann–Kendall with Sen's "
        "slope when the run used it).</p>",
    ]
    if table is None or table.empty:
        return "\n".join([*parts, '<p class="empty">No rows.</p>'])
    for i, alpha in enumerate((cfg.alpha, cfg.alpha_strict)):
        sub = table[(table["alpha"].astype(float) - alpha).abs() < 1e-12]
        if sub.empty:
            continue
        rows = []
        for region, group in sub.groupby(sub["region"].astype(str), sort=False):
            row = {"region": region, "area_km2": group["area_km2"].sum()}
            row.update({str(r["class"]): r["area_share"] for _, r in group.iterrows()})
            rows.append(row)
        wide = pd.DataFrame(rows)
        columns: list[Column] = [
            ("region", "Region", _text),
            ("area_km2", "VCA area (km²)", lambda v: format_number(v, 0)),
            *((c, c, format_percent) for c in _TREND_ORDER),
        ]
        title = f"α = {alpha:g}" + (" (significant)" if i == 0 else " (extremely significant)")
        body = _table(wide, columns)
        if i == 0:
            parts.append(f"<h3>{_esc(title)}</h3>{body}")
        else:
            parts.append(f"<details><summary>{_esc(title)}</summary>{body}</details>")
    return "\n".join(parts)


def _flags(row: Any) -> set[str]:
    return set(str(row.get("flags", "") or "").split(";"))


def _ci(sign: str) -> Callable[[Any], str]:
    def fmt(row: Any) -> str:
        low, high = _float(row.get(f"tau_{sign}_low")), _float(row.get(f"tau_{sign}_high"))
        if (low is None or math.isnan(low)) and (high is None or math.isnan(high)):
            return MISSING
        return f"{_tau(low)} – {_tau(high)}"

    return fmt


def _resilience_section(results: Any) -> str:
    cfg = results.config
    table = results.resilience
    n_eval = cfg.n_evaluation_years
    limit = cfg.extrapolation_factor * n_eval
    mode = getattr(cfg, "fit_mode", "free")
    parts = [
        "<h2>Decay times and carbon sink resilience (CSR)</h2>",
        f"<p><b>How τ was fitted</b> (fit mode <code>{_esc(mode)}</code>): "
        f"{_esc(_FIT_MODES.get(mode, mode))}, to the ratios q of every evaluation year "
        f"{_esc(cfg.reference_year)}–{_esc(cfg.end)} including t′ (q = 1). "
        f"Confidence interval: {_esc(_CI.get(mode, '95 % interval'))}. Plateau rule: "
        + (
            "the fitted τ is used (the onset year of a plateau is listed beside it)."
            if cfg.plateau == "fit"
            else "a plateaued series takes τ = onset year − t′ (no interval)."
        )
        + " RS = τ⁺ − τ⁻ (years); +∞ − finite = +∞, finite − ∞ = −∞, ∞ − ∞ or a missing τ "
        "leaves RS undefined (grade “none”).</p>",
        f'<div class="note"><b>Extrapolated τ.</b> Values marked † are flagged '
        f"<code>extrapolated</code>: τ exceeds {_esc(format_number(limit, 0))} years "
        f"({_esc(f'{cfg.extrapolation_factor:g}')} × the {_esc(n_eval)}-year fitting window). "
        "Such a τ is an extrapolation of an exponential fitted to a short, barely decaying "
        "series, far beyond anything observed, not a measured decay time (METHOD.md §5); the "
        "paper's provincial τ of 1,000–2,000 years are such extrapolations. Read them, and "
        "the RS and grade built on them, as “little decay within the window”, not as the "
        "time a trend will actually hold.</div>",
    ]
    if table is None or table.empty:
        return "\n".join([*parts, '<p class="empty">No rows.</p>'])
    frame = table.copy()
    for sign in ("pos", "neg"):
        frame[f"_ci_{sign}"] = [_ci(sign)(row) for _, row in table.iterrows()]
        frame[f"_tau_{sign}"] = [
            _tau(row.get(f"tau_{sign}")) + (" †" if f"{sign}:extrapolated" in _flags(row) else "")
            for _, row in table.iterrows()
        ]

    def extrapolated(name: str, row: Any) -> str:
        for sign in ("pos", "neg"):
            if name == f"_tau_{sign}" and f"{sign}:extrapolated" in _flags(row):
                return "extrap"
        return ""

    def onset(value: Any) -> str:
        v = _float(value)
        return MISSING if v is None or math.isnan(v) else f"{v:.0f}"

    def right(value: Any) -> str:  # preformatted numbers, right-aligned
        return _text(value)

    columns: list[Column] = [
        ("region", "Region", _text),
        ("_tau_pos", "τ⁺ (yr)", right),
        ("_ci_pos", "95 % CI τ⁺", right),
        ("lambda_pos", "λ⁺", lambda v: format_number(v, 3)),
        ("r2_pos", "R²⁺", lambda v: format_number(v, 3)),
        ("plateau_onset_pos", "Plateau⁺ from", onset),
        ("_tau_neg", "τ⁻ (yr)", right),
        ("_ci_neg", "95 % CI τ⁻", right),
        ("lambda_neg", "λ⁻", lambda v: format_number(v, 3)),
        ("r2_neg", "R²⁻", lambda v: format_number(v, 3)),
        ("plateau_onset_neg", "Plateau⁻ from", onset),
        ("rs", "RS (yr)", lambda v: format_number(v, 1)),
        ("grade", "Grade", _text),
        ("flags", "Flags", lambda v: _text(v).replace(";", "; ")),
    ]
    parts.append(_table(frame, columns, cell_class=extrapolated))
    parts.append(
        '<p class="muted">Flags (prefixed pos: / neg:): '
        + "; ".join(f"<code>{_esc(k)}</code> {_esc(v)}" for k, v in _FLAGS)
        + ".</p>"
    )
    return "\n".join(parts)


def _yearly_section(results: Any) -> str:
    columns: list[Column] = [
        ("year", "Year", lambda v: format_number(v, 0).replace(",", "")),
        ("mean_npp_gm2", "Mean NPP (g C m⁻² yr⁻¹)", format_number),
        ("total_npp_pg", "Total NPP (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
        ("saturation", "Saturation", format_percent),
        ("potential_pg", "Potential (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
    ]
    return (
        "<details><summary>National series per year</summary>"
        + _table(results.yearly, columns)
        + "</details>"
    )


def _figures_section(results: Any, figures: Mapping[str, Path]) -> str:
    if not figures:
        return ""
    captions = figure_captions(results)
    parts = ["<h2>Figures</h2>"]
    for i, (name, path) in enumerate(figures.items(), start=1):
        caption = captions.get(name, name)
        path = Path(path)
        if not path.is_file():
            parts.append(f'<p class="empty">Figure {_esc(name)} is missing ({_esc(path)}).</p>')
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="fig-{_esc(name)}"><img alt="{_esc(caption)}" '
            f'src="data:image/png;base64,{data}">'
            f"<figcaption><b>Figure {i}.</b> {_esc(caption)}</figcaption></figure>"
        )
    return "\n".join(parts)


# --------------------------------------------------------------------------- public


def write_html(
    results: Any,
    out_path: Path,
    *,
    figures: Mapping[str, Path],
    run_info: Mapping[str, Any],
    synthetic: bool = False,
) -> Path:
    """Write the run's report as one self-contained HTML page (METHOD.md §2–§6).

    Parameters
    ----------
    results : gee_cscc.workflow.analyze.Results
        One run's tables, summary and config.
    out_path : pathlib.Path
        The HTML file; its folder is made if missing; written atomically (temporary file in
        the same folder, then :func:`os.replace`).
    figures : mapping of str to pathlib.Path, keyword-only
        PNG files by name (from :func:`gee_cscc.report.make_figures`), embedded as base64 in
        this order with the captions of :func:`gee_cscc.report.figures.figure_captions`.
    run_info : mapping, keyword-only
        Run metadata for the header: ``date`` (default: now, UTC), ``engine`` (default: the
        config's), ``input`` (the NPP asset); any other key is listed as given.
    synthetic : bool, keyword-only
        Show a banner saying the data are synthetic.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    out_path = Path(out_path)
    body = "\n".join(
        [
            _header(results, run_info, synthetic),
            _headline(results),
            _capacity_section(results),
            _yearly_section(results),
            _counts_section(results),
            _trend_section(results),
            _resilience_section(results),
            _figures_section(results, figures),
        ]
    )
    cfg = results.config
    title = f"gee_cscc report {cfg.start}–{cfg.end}" + (" (synthetic data)" if synthetic else "")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body><main>\n{body}\n</main></body>\n</html>\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path
