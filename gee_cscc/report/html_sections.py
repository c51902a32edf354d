"""The sections of the report page, each a function of the run's results returning HTML.

In page order: the header (title, run metadata, configuration), the headline numbers,
Table 1 (carrying capacity and increase potential), the national series per year, Table 2
(cells that kept their trend), the trend-class shares, the decay times and carbon sink
resilience, and the figures (embedded as base64 PNG with their captions). Each returns an
HTML fragment with all text escaped; a missing or empty table gives a "No rows." line.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gee_cscc.report.figures import figure_captions
from gee_cscc.report.html_format import (
    MISSING,
    Column,
    as_float,
    escape,
    format_config_value,
    format_count,
    format_number,
    format_p,
    format_percent,
    format_text,
    html_table,
    key_value_table,
)
from gee_cscc.report.style import all_label

__all__ = [
    "ALL_LABEL",
    "readable_flags",
    "capacity_section",
    "counts_section",
    "figures_section",
    "header_section",
    "headline_section",
    "resilience_section",
    "trend_section",
    "yearly_section",
]

#: The region label of the whole area in the run's tables.
ALL_LABEL = "ALL"
#: The trend classes in table order.
_TREND_ORDER = ("SI", "II", "0", "ID", "SD")


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
    ("too_few_cells", "fewer cells of this sign at t′ than min_fit_cells: no τ (shown as —)"),
    ("no_loss", "no cell was lost: q = 1 throughout, τ = ∞"),
    ("non_decaying", "the best fit does not decay (rate ≤ 0): τ = ∞"),
    ("zero_dropped", "log-linear fit only: years with q = 0 were left out"),
    ("plateau", "the ratio stayed unchanged over the last years; the onset year is listed"),
    ("extrapolated", "τ is far beyond the fitting window (see the note above)"),
)

#: How a flag token reads in the report (the CSV keeps the tokens).
_FLAG_WORDS = {
    "no_cells": "no cells",
    "too_few_cells": "too few cells",
    "no_loss": "no cell lost",
    "non_decaying": "not decaying",
    "zero_dropped": "zero ratios dropped",
    "plateau": "plateau",
    "extrapolated": "extrapolated",
}
_SIGN_WORDS = {"pos": "positive trend", "neg": "negative trend"}


def readable_flags(flags: Any) -> str:
    """resilience.csv's flag tokens in words, grouped by sign.

    ``"pos:plateau;neg:no_cells"`` → ``"positive trend: plateau; negative trend: no cells"``;
    an unknown token is shown as it is; no flags give "—".
    """
    text = "" if flags is None else str(flags)
    if text.strip() in ("", "nan", "None"):
        return MISSING
    groups: dict[str, list[str]] = {}
    for token in (t.strip() for t in text.split(";")):
        if not token:
            continue
        sign, _, flag = token.rpartition(":")
        groups.setdefault(_SIGN_WORDS.get(sign, sign), []).append(_FLAG_WORDS.get(flag, flag))
    return "; ".join(f"{who}: {', '.join(what)}" if who else ", ".join(what)
                     for who, what in groups.items())  # fmt: skip


def header_section(results: Any, run_info: Mapping[str, Any], synthetic: bool) -> str:
    """The title, the synthetic-data banner if ``synthetic``, the run metadata and configuration."""
    cfg = results.config
    info = dict(run_info)
    date = info.pop("date", None) or info.pop("run_date", None)
    if date is None:
        date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    engine = info.pop("engine", None) or getattr(cfg, "engine", None)
    source = info.pop("input", None) or info.pop("asset", None)
    pairs = [
        ("run date", format_text(date)),
        ("engine", format_text(engine)),
        ("input asset", format_text(source)),
    ]
    pairs += [(str(k), format_config_value(v)) for k, v in info.items()]
    grid = (results.summary or {}).get("grid")
    if isinstance(grid, Mapping) and grid:
        pairs.append(("grid", "; ".join(f"{k}: {format_config_value(v)}" for k, v in grid.items())))
    parts = [
        f"<h1>Vegetation carbon sink carrying capacity: {escape(cfg.start)}–{escape(cfg.end)}</h1>"
    ]
    if synthetic:
        parts.append(
            '<div class="banner">SYNTHETIC DEMO DATA: every number and map on this page comes '
            "from a generated NPP cube, not from observations. Do not cite.</div>"
        )
    parts.append(
        '<p class="muted">Method of Wu et al. (2023), Front. For. Glob. Change 6:1266688 '
        "(doi:10.3389/ffgc.2023.1266688), as set out in gee_cscc's docs/method.md.</p>"
    )
    parts.append(key_value_table(pairs))
    config = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(vars(cfg))
    parts.append(
        "<details><summary>Run configuration</summary>"
        + key_value_table(((k, format_config_value(v)) for k, v in config.items()), css="kv config")
        + "</details>"
    )
    return "\n".join(parts)


def _national_fit(results: Any) -> Any:
    table = results.resilience
    if table is None or table.empty:
        return None
    rows = table[table["region"].astype(str) == all_label(results)]
    return rows.iloc[0] if not rows.empty else None


def headline_section(results: Any) -> str:
    """The headline numbers of the run's summary, as one key–value table."""
    cfg = results.config
    s = results.summary or {}
    last = s.get("last_year", cfg.end)
    series = s.get("npp_series") or {}
    slopes = s.get("maintenance_slopes") or {}
    shares = s.get("trend_class_area_share") or {}
    pairs = [
        (
            "Vegetation-covered area (VCA)",
            f"{format_number(s.get('vca_area_km2'), 0)} km² ({format_count(s.get('vca_cells'))} cells)",
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
                f"RS {format_number(row.get('rs'), 1)} yr, grade “{format_text(row.get('grade'))}”",
            )
        )
    return "<h2>Headline numbers</h2>\n" + key_value_table(pairs)


def _p_phrase(p: Any) -> str:
    text = format_p(p)
    return text if text.startswith("<") or text == MISSING else f"= {text}"


def _tau(value: Any) -> str:
    return format_number(value, 1)


def capacity_section(results: Any) -> str:
    """Table 1: carrying capacity and increase potential per region."""
    columns: list[Column] = [
        ("region", "Region", format_text),
        ("vca_area_km2", "VCA area (km²)", lambda v: format_number(v, 0)),
        ("vca_cells", "VCA cells", format_count),
        ("cscc_tg", "CSCC (Tg C yr⁻¹)", format_number),
        ("current_npp_tg", f"NPP {results.config.end} (Tg C yr⁻¹)", format_number),
        ("potential_tg", "Possible growth (Tg C yr⁻¹)", format_number),
        ("cscc_mean_gm2", "Mean CSCC (g C m⁻² yr⁻¹)", format_number),
        ("potential_share_of_cscc", "Growth / CSCC", format_percent),
        ("potential_share_of_npp", "Growth / NPP", format_percent),
    ]
    return (
        "<h2>Table 1: carrying capacity and increase potential</h2>\n"
        f'<p class="muted">Current NPP is the last year, {escape(results.config.end)}. '
        "Totals are Σ value × cell area over the VCA cells of each region.</p>\n"
        + html_table(results.capacity, columns)
    )


_COUNT_COLUMNS: list[Column] = [
    ("year", "Year", lambda v: format_number(v, 0).replace(",", "")),
    ("n_pos", "N⁺ (cells)", format_count),
    ("q_pos_share", "q⁺", format_percent),
    ("n_neg", "N⁻ (cells)", format_count),
    ("q_neg_share", "q⁻", format_percent),
    ("changed", "Changed C (cells)", format_count),
    ("changed_cum_share", "Cumulative share of C", format_percent),
]


def counts_section(results: Any) -> str:
    """Table 2: cells that kept their trend, the whole area open and each region folded."""
    counts = results.maintenance_counts
    ref = results.config.reference_year
    parts = [
        "<h2>Table 2: cells that kept their trend</h2>",
        f'<p class="muted">N⁺ / N⁻: cells whose maintenance surface is still +1 / −1, i.e. '
        f"whose growing-window trend has kept the sign it had in t′ = {escape(ref)}; "
        f"q = N / N<sub>{escape(ref)}</sub> in percent. C: cells whose trend changed since t′, "
        "C = (N⁺<sub>t′</sub> − N⁺) + (N⁻<sub>t′</sub> − N⁻); its ratio is the cumulative "
        "share Σ<sub>j≤i</sub> C<sub>j</sub> / Σ<sub>j</sub> C<sub>j</sub> (100 % in the last "
        "year), as in the paper's Table 2.</p>",
    ]
    if counts is None or counts.empty:
        return "\n".join([*parts, '<p class="empty">No rows.</p>'])
    names = list(dict.fromkeys(counts["region"].astype(str)))
    whole = all_label(results)
    parts.append(f"<h3>Whole area ({escape(whole)})</h3>")
    parts.append(html_table(counts[counts["region"].astype(str) == whole], _COUNT_COLUMNS))
    regions = [n for n in names if n != whole]
    if regions:
        inner = "".join(
            f"<details><summary>{escape(name)}</summary>"
            f"{html_table(counts[counts['region'].astype(str) == name], _COUNT_COLUMNS)}</details>"
            for name in regions
        )
        parts.append(
            f"<details><summary>Table 2 per region ({len(regions)} regions)</summary>"
            f"{inner}</details>"
        )
    return "\n".join(parts)


def trend_section(results: Any) -> str:
    """The trend-class area shares per region at ``alpha`` (open) and ``alpha_strict`` (folded)."""
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
            ("region", "Region", format_text),
            ("area_km2", "VCA area (km²)", lambda v: format_number(v, 0)),
            *((c, c, format_percent) for c in _TREND_ORDER),
        ]
        title = f"α = {alpha:g}" + (" (significant)" if i == 0 else " (extremely significant)")
        body = html_table(wide, columns)
        if i == 0:
            parts.append(f"<h3>{escape(title)}</h3>{body}")
        else:
            parts.append(f"<details><summary>{escape(title)}</summary>{body}</details>")
    return "\n".join(parts)


def _flags(row: Any) -> set[str]:
    return set(str(row.get("flags", "") or "").split(";"))


def _ci(sign: str) -> Callable[[Any], str]:
    def fmt(row: Any) -> str:
        low, high = as_float(row.get(f"tau_{sign}_low")), as_float(row.get(f"tau_{sign}_high"))
        if (low is None or math.isnan(low)) and (high is None or math.isnan(high)):
            return MISSING
        return f"{_tau(low)} – {_tau(high)}"

    return fmt


def resilience_section(results: Any) -> str:
    """Decay times τ with intervals, RS and grades per region, with how τ was fitted."""
    cfg = results.config
    table = results.resilience
    n_eval = cfg.n_evaluation_years
    limit = cfg.extrapolation_factor * n_eval
    mode = getattr(cfg, "fit_mode", "free")
    parts = [
        "<h2>Decay times and carbon sink resilience (CSR)</h2>",
        f"<p><b>How τ was fitted</b> (fit mode <code>{escape(mode)}</code>): "
        f"{escape(_FIT_MODES.get(mode, mode))}, to the ratios q of every evaluation year "
        f"{escape(cfg.reference_year)}–{escape(cfg.end)} including t′ (q = 1). "
        f"Confidence interval: {escape(_CI.get(mode, '95 % interval'))}. Plateau rule: "
        + (
            "the fitted τ is used (the onset year of a plateau is listed beside it)."
            if cfg.plateau == "fit"
            else "a plateaued series takes τ = onset year − t′ (no interval)."
        )
        + f" A sign with fewer than {escape(getattr(cfg, 'min_fit_cells', 1))} cells at t′ is "
        "not fitted (too few cells: q moves in steps too coarse for a decay time)."
        + " RS = τ⁺ − τ⁻ (years); +∞ − finite = +∞, finite − ∞ = −∞, ∞ − ∞ or a missing τ "
        "leaves RS undefined (grade “none”).</p>",
        f'<div class="note"><b>Extrapolated τ.</b> Values marked † are flagged '
        f"<code>extrapolated</code>: τ exceeds {escape(format_number(limit, 0))} years "
        f"({escape(f'{cfg.extrapolation_factor:g}')} × the {escape(n_eval)}-year fitting window). "
        "Such a τ is an extrapolation of an exponential fitted to a short, barely decaying "
        "series, far beyond anything observed, not a measured decay time (docs/method.md §5); the "
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
        v = as_float(value)
        return MISSING if v is None or math.isnan(v) else f"{v:.0f}"

    def right(value: Any) -> str:  # preformatted numbers, right-aligned
        return format_text(value)

    columns: list[Column] = [
        ("region", "Region", format_text),
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
        ("grade", "Grade", format_text),
        ("flags", "Flags", readable_flags),
    ]
    parts.append(html_table(frame, columns, cell_class=extrapolated))
    parts.append(
        '<p class="muted">Flags (in resilience.csv as tokens such as '
        "<code>pos:plateau;neg:no_cells</code>): "
        + "; ".join(
            f"{escape(_FLAG_WORDS[k])} (<code>{escape(k)}</code>): {escape(v)}" for k, v in _FLAGS
        )
        + ".</p>"
    )
    return "\n".join(parts)


def yearly_section(results: Any) -> str:
    """The national series per year (NPP, saturation, potential), folded."""
    columns: list[Column] = [
        ("year", "Year", lambda v: format_number(v, 0).replace(",", "")),
        ("mean_npp_gm2", "Mean NPP (g C m⁻² yr⁻¹)", format_number),
        ("total_npp_pg", "Total NPP (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
        ("saturation_share", "Saturation", format_percent),
        ("potential_pg", "Potential (Pg C yr⁻¹)", lambda v: format_number(v, 3)),
    ]
    return (
        "<details><summary>National series per year</summary>"
        + html_table(results.yearly, columns)
        + "</details>"
    )


def figures_section(results: Any, figures: Mapping[str, Path]) -> str:
    """The figures embedded as base64 PNG with numbered captions; "" when there are none."""
    if not figures:
        return ""
    captions = figure_captions(results)
    parts = ['<h2 id="figures">Figures</h2>']
    for i, (name, path) in enumerate(figures.items(), start=1):
        caption = captions.get(name, name)
        path = Path(path)
        if not path.is_file():
            parts.append(f'<p class="empty">Figure {escape(name)} is missing ({escape(path)}).</p>')
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(  # a click shows it full size (CSS :target), "close" puts it back
            f'<figure id="fig-{escape(name)}"><a href="#fig-{escape(name)}">'
            f'<img alt="{escape(caption)}" src="data:image/png;base64,{data}"></a>'
            f'<a class="close" href="#figures">close ✕</a>'
            f"<figcaption><b>Figure {i}.</b> {escape(caption)}</figcaption></figure>"
        )
    return "\n".join(parts)
