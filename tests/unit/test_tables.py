"""Tests of gee_cscc.stats.tables (METHOD.md §2, §3, §4, §5b).

Expected numbers come from the paper's Tables 1 and 2 and headline figures, from hand-worked
cases, or from NumPy/SciPy computations written here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gee_cscc.errors import InputError
from gee_cscc.stats.tables import (
    capacity_table,
    maintenance_slopes,
    maintenance_table,
    trend_series_summary,
    yearly_table,
)

# The paper's Table 2 (Wu et al. 2023), exactly as published.
TABLE2 = pd.DataFrame(
    {
        "year": np.arange(2000, 2019),
        "n_pos": [250139, 239740, 234023, 227525, 223575, 219457, 215577, 211820, 208897,
                  205734, 202627, 200074, 197873, 195627, 193896, 192211, 190575, 189153,
                  187513],
        "ratio_pos": [100, 95.84, 93.56, 90.96, 89.38, 87.73, 86.18, 84.68, 83.51, 82.25,
                      81.01, 79.99, 79.11, 78.21, 77.52, 76.84, 76.19, 75.62, 74.96],
        "n_neg": [134180, 93389, 79037, 68794, 61061, 55182, 50254, 47142, 44265, 41809,
                  39510, 37720, 35503, 33249, 31906, 30707, 29414, 27925, 26226],
        "ratio_neg": [100, 69.6, 58.9, 51.27, 45.51, 41.13, 37.45, 35.13, 32.99, 31.16,
                      29.45, 28.11, 26.46, 24.78, 23.78, 22.88, 21.92, 20.81, 19.55],
        "changed": [np.nan, 51190, 71259, 88000, 99683, 109680, 118488, 125357, 131157,
                    136776, 142182, 146525, 150943, 155443, 158517, 161401, 164330, 167241,
                    170580],
        "changed_ratio": [np.nan, 2.18, 5.21, 8.96, 13.2, 17.87, 22.92, 28.26, 33.84, 39.66,
                          45.72, 51.96, 58.38, 65.0, 71.75, 78.62, 85.62, 92.74, 100],
    }
)  # fmt: skip

# Rows of the paper's Table 1 (Tg C yr⁻¹): region, CSCC, current NPP, possible growth.
TABLE1 = [
    ("CN", 4134.32, 3255.24, 879.08),
    ("HUN", 141.23, 113.59, 27.64),
    ("ZJ", 72.14, 60.88, 11.26),
    ("XJ", 240.61, 114.40, 126.20),
    ("HK", 0.23, 0.17, 0.06),
]


@pytest.fixture
def table2() -> pd.DataFrame:
    return maintenance_table(TABLE2["year"], TABLE2["n_pos"], TABLE2["n_neg"], reference_year=2000)


# --------------------------------------------------------------------------- Table 2


def test_maintenance_table_has_exactly_the_paper_columns(table2):
    assert list(table2.columns) == [
        "year", "n_pos", "q_pos_share", "n_neg", "q_neg_share", "changed", "changed_cum_share",
    ]  # fmt: skip
    assert len(table2) == 19


@pytest.mark.parametrize(
    ("column", "published"),
    [
        ("q_pos_share", "ratio_pos"),
        ("q_neg_share", "ratio_neg"),
        ("changed_cum_share", "changed_ratio"),
    ],
)
def test_paper_table2_share_columns_reproduce(table2, column, published):
    # the paper prints percent; the table's shares are fractions
    got = table2[column].to_numpy() * 100
    want = TABLE2[published].to_numpy()
    assert np.isnan(got[0]) == np.isnan(want[0])
    # published to two decimals
    np.testing.assert_allclose(got[1:], want[1:], atol=0.005 + 1e-9)
    np.testing.assert_array_equal(np.round(got[1:], 2), want[1:])


def test_paper_table2_changed_column_reproduces(table2):
    assert table2["changed"].iloc[0] == 0  # C = 0 at t' (METHOD.md §5b), not empty
    np.testing.assert_array_equal(table2["changed"].to_numpy()[1:], TABLE2["changed"][1:])
    assert table2["changed_cum_share"].iloc[-1] == pytest.approx(1.0)


def test_changed_ratio_is_a_cumulative_share_not_a_share_of_the_last_year(table2):
    # 51190 / 170580 = 30.0 %: the paper's 2.18 is 51190 / Σ C_j instead
    c = TABLE2["changed"].to_numpy()[1:]
    assert c[0] / c.sum() * 100 == pytest.approx(2.18, abs=0.005)
    assert table2["changed_cum_share"].iloc[1] == pytest.approx(c[0] / c.sum())


def test_paper_table2_slopes(table2):
    slopes = maintenance_slopes(table2)
    assert round(slopes["slope_n_neg"], 1) == -4162.4
    assert round(slopes["slope_changed"], 1) == 6210.7
    t = TABLE2["year"].to_numpy(dtype=float)
    assert slopes["slope_n_pos"] == pytest.approx(np.polyfit(t, TABLE2["n_pos"], 1)[0])
    assert slopes["slope_n_neg"] == pytest.approx(np.polyfit(t, TABLE2["n_neg"], 1)[0])
    c = TABLE2["changed"].to_numpy()[1:]
    assert slopes["slope_changed"] == pytest.approx(np.polyfit(t[1:], c, 1)[0])


def test_no_change_leaves_the_shares_empty():
    table = maintenance_table([2000, 2001, 2002], [5, 5, 5], [3, 3, 3], reference_year=2000)
    assert table["changed"].tolist() == [0, 0, 0]
    assert table["changed_cum_share"].isna().all()
    assert table["q_pos_share"].tolist() == [1.0, 1.0, 1.0]


def test_zero_reference_count_leaves_its_ratio_empty():
    table = maintenance_table([2000, 2001, 2002], [4, 3, 2], [0, 0, 0], reference_year=2000)
    assert table["q_neg_share"].isna().all()
    assert table["q_pos_share"].tolist() == [1.0, 0.75, 0.5]
    # C = 1, 2 → cumulative shares 1/3, 3/3
    np.testing.assert_allclose(table["changed_cum_share"].to_numpy()[1:], [1 / 3, 1.0])


def test_single_year_table():
    table = maintenance_table([2000], [4], [2], reference_year=2000)
    assert len(table) == 1 and math.isnan(table["changed_cum_share"].iloc[0])
    assert table["changed"].iloc[0] == 0
    slopes = maintenance_slopes(table)
    assert all(math.isnan(v) for v in slopes.values())


@pytest.mark.parametrize(
    ("years", "n_pos", "n_neg", "ref", "match"),
    [
        ([2001, 2002], [1, 1], [1, 1], 2000, "reference year"),
        ([2000, 2000], [1, 1], [1, 1], 2000, "increasing"),
        ([2000, 2001], [1, 1, 1], [1, 1], 2000, "n_pos"),
        ([2000, 2001], [1, -1], [1, 1], 2000, "2001"),
    ],
)
def test_maintenance_table_rejects_bad_input(years, n_pos, n_neg, ref, match):
    with pytest.raises(InputError, match=match):
        maintenance_table(years, n_pos, n_neg, reference_year=ref)


@st.composite
def counts(draw):
    n = draw(st.integers(1, 20))
    start = draw(st.integers(0, 1000))
    drops = draw(st.lists(st.integers(0, 50), min_size=n - 1, max_size=n - 1))
    return np.maximum(start - np.cumsum([0, *drops]), 0)


@settings(max_examples=50, deadline=None)
@given(counts(), counts())
def test_maintenance_table_properties(pos, neg):
    n = min(pos.size, neg.size)
    pos, neg = pos[:n], neg[:n]
    table = maintenance_table(np.arange(2000, 2000 + n), pos, neg, reference_year=2000)
    c = (pos[0] - pos) + (neg[0] - neg)
    np.testing.assert_array_equal(table["changed"].to_numpy()[1:], c[1:])
    if pos[0] > 0:
        np.testing.assert_allclose(table["q_pos_share"], pos / pos[0])
    assert table["changed"].iloc[0] == 0
    share = table["changed_cum_share"].to_numpy()
    assert np.isnan(share[0])
    if c[1:].sum() > 0:
        assert np.all(np.diff(share[1:]) >= -1e-12)
        assert share[-1] == pytest.approx(1.0)
    else:
        assert np.isnan(share).all()


# --------------------------------------------------------------------------- Table 1


def test_capacity_table_reproduces_paper_table1():
    regions = [r[0] for r in TABLE1]
    cscc = np.array([r[1] for r in TABLE1]) * 1e12
    npp = np.array([r[2] for r in TABLE1]) * 1e12
    area = np.full(len(TABLE1), 1e10)
    table = capacity_table(regions, cscc, npp, area)
    assert list(table.columns) == [
        "region", "cscc_tg", "current_npp_tg", "potential_tg", "cscc_mean_gm2",
        "potential_share_of_cscc", "potential_share_of_npp",
    ]  # fmt: skip
    # published values are rounded to 0.01 Tg, so their difference is within 0.01
    np.testing.assert_allclose(table["potential_tg"], [r[3] for r in TABLE1], atol=0.0101)
    cn = table.iloc[0]
    assert cn["cscc_tg"] == pytest.approx(4134.32)
    # the paper: potential is 21.26 % of CSCC and 27 % of the 2018 NPP
    assert round(cn["potential_share_of_cscc"] * 100, 2) == 21.26
    assert round(cn["potential_share_of_npp"] * 100) == 27


def test_capacity_table_means_and_zero_area():
    table = capacity_table(["A", "EMPTY"], [6e12, 0.0], [4.5e12, 0.0], [1e10, 0.0])
    a, empty = table.iloc[0], table.iloc[1]
    assert a["cscc_mean_gm2"] == pytest.approx(600.0)  # 6e12 g / 1e10 m²
    assert a["potential_tg"] == pytest.approx(1.5)
    assert a["potential_share_of_cscc"] == pytest.approx(0.25)
    assert a["potential_share_of_npp"] == pytest.approx(1.5 / 4.5)
    assert empty["cscc_tg"] == 0.0
    for col in ("cscc_mean_gm2", "potential_share_of_cscc", "potential_share_of_npp"):
        assert math.isnan(empty[col])


def test_capacity_table_rejects_mismatched_lengths():
    with pytest.raises(InputError):
        capacity_table(["A", "B"], [1.0], [1.0, 1.0], [1.0, 1.0])


# --------------------------------------------------------------------------- §2 yearly


def test_yearly_table_reproduces_paper_headline_2018():
    # CSCC 4134.32 Tg, 2018 NPP 3255.24 Tg, VCA 8.42 million km² (the paper)
    table = yearly_table([2017, 2018], [3.2e15, 3255.24e12], 4134.32e12, 8.42e12)
    row = table.iloc[-1]
    assert round(row["saturation_share"] * 100, 2) == 78.74
    assert round(row["total_npp_pg"], 2) == 3.26
    assert round(row["potential_pg"], 2) == 0.88
    assert row["mean_npp_gm2"] == pytest.approx(3255.24e12 / 8.42e12)
    assert list(table.columns)[:5] == [
        "year", "mean_npp_gm2", "total_npp_pg", "saturation_share", "potential_pg",
    ]  # fmt: skip


def test_yearly_table_zero_area_gives_empty_means():
    table = yearly_table([2000, 2001], [0.0, 0.0], 0.0, 0.0)
    assert table["mean_npp_gm2"].isna().all()
    assert table["saturation_share"].isna().all()
    assert (table["potential_pg"] == 0).all()


# --------------------------------------------------------------------------- §3 series


def test_trend_summary_hand_worked():
    # centred years −2 … 2, centred values −2, 0, −1, 2, 1 → slope 8/10 = 0.8
    summary = trend_series_summary([2000, 2001, 2002, 2003, 2004], [1, 3, 2, 5, 4])
    assert summary["slope"] == pytest.approx(0.8)
    assert summary["net_change_slope"] == pytest.approx(3.2)
    assert summary["net_change"] == pytest.approx(3.0)
    assert summary["pct_change"] == pytest.approx(300.0)
    assert summary["pct_change_slope"] == pytest.approx(320.0)
    reg = stats.linregress([0, 1, 2, 3, 4], [1, 3, 2, 5, 4])
    assert summary["p_value"] == pytest.approx(reg.pvalue)


@pytest.mark.parametrize(
    ("values", "slope", "p_value"),
    [
        ([5.0] * 6, 0.0, 1.0),  # flat: K = 0, p = 1
        ([1, 2, 3, 4, 5, 6], 1.0, 0.0),  # perfect line: p = 0
        (5 + 1e-8 * np.arange(6), 0.0, 1.0),  # |K| < 1e-6 counts as 0
    ],
)
def test_trend_summary_special_slopes(values, slope, p_value):
    summary = trend_series_summary(np.arange(1981, 1987), values)
    assert summary["slope"] == pytest.approx(slope)
    assert summary["p_value"] == p_value


def test_trend_summary_paper_like_series():
    # a series rising 1.66 g C m⁻² yr⁻¹ over 1981–2018 nets 1.66 × 37 = 61.42
    years = np.arange(1981, 2019)
    values = 400 + 1.66 * (years - 1981) + np.where(years % 2 == 0, 3.0, -3.0)
    reg = stats.linregress(years, values)
    summary = trend_series_summary(years, values)
    assert summary["slope"] == pytest.approx(reg.slope)
    assert summary["net_change_slope"] == pytest.approx(reg.slope * 37)
    assert summary["pct_change_slope"] == pytest.approx(reg.slope * 37 / values[0] * 100)
    assert summary["p_value"] == pytest.approx(reg.pvalue, rel=1e-6, abs=1e-300)


def test_trend_summary_zero_first_value_gives_empty_percent():
    summary = trend_series_summary([2000, 2001, 2002], [0.0, 1.0, 2.0])
    assert math.isnan(summary["pct_change"]) and math.isnan(summary["pct_change_slope"])
