"""Tests of analysis.estimators.indicators: panel measures of published targets.

Values are checked on a hand-made panel (six persons, two counties, three years) against
numbers worked out by hand below; standard errors against the formula computed with numpy,
statsmodels' cluster-robust OLS, a county jackknife and a county bootstrap; target matching
against the real ledger.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis import config
from analysis.data.ledger import find_figure
from analysis.estimators import indicators as I

COLUMNS = ["person_id", "county_id", "year", "months_worked", "worked_outside_county",
           "worked_outside_province", "first_trained_year"]
NA = pd.NA
# person, county, year, months, outside county, outside province, first trained
HAND_ROWS = [
    (1, 1, 2019, 12, True, True, NA), (1, 1, 2020, 8, True, False, NA),
    (1, 1, 2021, 0, False, False, NA),
    (2, 1, 2019, 0, False, False, 2020), (2, 1, 2020, 0, False, False, 2020),
    (2, 1, 2021, 6, True, True, 2020),
    (3, 1, 2019, 5, True, False, 2019), (3, 1, 2020, 10, True, True, 2019),
    (3, 1, 2021, 10, True, True, 2019),
    (4, 2, 2019, 7, False, False, 2021), (4, 2, 2020, 0, False, False, 2021),
    (4, 2, 2021, 4, True, False, 2021),
    (5, 2, 2019, 12, True, True, NA), (5, 2, 2020, 12, True, True, NA),
    (5, 2, 2021, 12, False, False, NA),
    (6, 2, 2020, 2, False, False, NA), (6, 2, 2021, 9, True, True, NA),   # joins in 2020
]


def hand_panel(province="53"):
    panel = pd.DataFrame(HAND_ROWS, columns=COLUMNS)
    panel["first_trained_year"] = panel["first_trained_year"].astype("Int64")
    panel["province_code"] = province
    return panel


@pytest.fixture(scope="module")
def real_ledger():
    return pd.read_csv(config.LEDGER_CSV, dtype={"scope": str, "period": str,
                                                 "value_as_written": str})


def values(panel, indicator, **kwargs):
    table = I.indicator_by_year(panel, indicator, **kwargs)
    return dict(zip(table["year"], table["value"]))


# --------------------------------------------------------------------------- values by hand
def test_outside_county_share_by_hand():
    # Employed (months > 0): 2019 p1 p3 p4 p5, of whom p1 p3 p5 outside: 3/4.
    # 2020 p1 p3 p5 p6; outside p1 p3 p5: 3/4. 2021 p2 p3 p4 p5 p6; outside all but p5: 4/5.
    assert values(hand_panel(), "outside_county_employment_share") == pytest.approx(
        {2019: 75.0, 2020: 75.0, 2021: 80.0})


def test_outside_county_share_standard_error_by_hand():
    panel = hand_panel()
    rows = panel[panel["year"] == 2021]
    employed = (rows["months_worked"] > 0).to_numpy(float)
    outside = employed * rows["worked_outside_county"].to_numpy(float)
    county = rows["county_id"].to_numpy()
    x_c = np.array([employed[county == c].sum() for c in (1, 2)])   # 2 and 3 employed
    y_c = np.array([outside[county == c].sum() for c in (1, 2)])    # 2 and 2 outside
    ratio = y_c.sum() / x_c.sum()
    se = np.sqrt(2 / (2 - 1) * np.sum((y_c - ratio * x_c) ** 2)) / x_c.sum()
    assert se == pytest.approx(0.16)   # sqrt(2 * (0.4^2 + 0.4^2)) / 5
    row = I.indicator_by_year(panel, "outside_county_employment_share", years=[2021]).iloc[0]
    assert row["std_error"] == pytest.approx(100 * se, rel=1e-12)
    crit = stats.t.ppf(0.975, 1)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((80 - crit * 16, 80 + crit * 16))
    assert (row["n_persons"], row["n_clusters"], row["unit"]) == (5, 2, "percent")


def test_trainee_employment_rate_by_hand():
    # Trainees (first_trained_year <= t): 2019 p3 (employed); 2020 p2 (0 months), p3: 1/2;
    # 2021 p2 p3 p4, all employed. Never-trained persons (NA) are not trainees.
    table = I.indicator_by_year(hand_panel(), "trainee_employment_rate")
    assert dict(zip(table["year"], table["value"])) == pytest.approx(
        {2019: 100.0, 2020: 50.0, 2021: 100.0})
    assert list(table["n_persons"]) == [1, 2, 3]


def test_outside_province_growth_by_hand():
    # Outside the province: 2019 p1 p5; 2020 p3 p5; 2021 p2 p3 p6 -> 0% then +50%.
    table = I.indicator_by_year(hand_panel(), "outside_province_employment_annual_growth")
    assert dict(zip(table["year"], table["value"])) == pytest.approx({2020: 0.0, 2021: 50.0})
    assert list(table["n_persons"]) == [6, 6]        # persons seen in either year


def test_employed_relative_to_previous_year_by_hand():
    # Employed: 4 in 2019, 4 in 2020, 5 in 2021.
    indicator = "poverty_alleviated_population_employed_relative_to_previous_year"
    assert values(hand_panel(), indicator) == pytest.approx({2020: 100.0, 2021: 125.0})


def test_employed_count_by_hand_and_its_standard_error():
    panel = hand_panel()
    table = I.indicator_by_year(panel, "poverty_alleviated_population_employed",
                                expansion=1000.0)
    assert dict(zip(table["year"], table["value"])) == pytest.approx(
        {2019: 4000.0, 2020: 4000.0, 2021: 5000.0})
    # 2021: county 1 has 2 of 3 employed, county 2 has 3 of 3; mean 5/6 over 6 persons.
    e = np.array([2.0, 3.0]) - np.array([3, 3]) * 5 / 6
    se = 1000 * np.sqrt(2 * np.sum(e ** 2))
    assert table.set_index("year").loc[2021, "std_error"] == pytest.approx(se)
    assert set(table["unit"]) == {"persons"}
    with pytest.raises(ValueError, match="expansion"):
        I.indicator_by_year(panel, "poverty_alleviated_population_employed")


# --------------------------------------------------------------------------- years
def test_years_outside_the_panel_give_no_row():
    panel = hand_panel()
    for indicator in I.INDICATORS:
        table = I.indicator_by_year(panel, indicator, expansion=10.0, years=[2015, 2019, 2030])
        expected = [] if indicator in ("outside_province_employment_annual_growth",
                                       "poverty_alleviated_population_employed_relative_"
                                       "to_previous_year") else [2019]
        assert list(table["year"]) == expected, indicator
        assert table["value"].notna().all()


# --------------------------------------------------------------------------- independent SEs
def larger_panel(seed=0, n=3000, n_counties=30):
    """Two years; county shocks and persistent persons, so both years are correlated."""
    rng = np.random.default_rng(seed)
    county = rng.integers(0, n_counties, n)
    base = rng.normal(size=n_counties)[county] + rng.normal(size=n)
    rows = []
    for year, shift in ((2019, 0.0), (2020, 0.2)):
        latent = base + shift + rng.normal(size=n)
        months = np.where(latent > -0.5, 8.0, 0.0)
        outside = (latent > 0.3) & (months > 0)
        rows.append(pd.DataFrame({
            "person_id": np.arange(n), "county_id": county, "year": year,
            "months_worked": months, "worked_outside_county": outside,
            "worked_outside_province": outside & (rng.random(n) < 0.5),
            "first_trained_year": pd.array([pd.NA] * n, dtype="Int64")}))
    return pd.concat(rows, ignore_index=True)


def test_share_standard_error_equals_statsmodels_cluster_ols():
    panel = larger_panel()
    rows = panel[panel["year"] == 2020]
    x = (rows["months_worked"] > 0).to_numpy(float)
    y = x * rows["worked_outside_county"].to_numpy(float)
    # OLS of y on x without intercept: coefficient sum(xy)/sum(x^2) = sum(y)/sum(x) here.
    fit = sm.OLS(y, x[:, None]).fit(cov_type="cluster", cov_kwds={
        "groups": rows["county_id"].to_numpy(), "use_correction": False})
    g = rows["county_id"].nunique()
    row = I.indicator_by_year(panel, "outside_county_employment_share", years=[2020]).iloc[0]
    assert row["value"] == pytest.approx(100 * fit.params[0], rel=1e-12)
    assert row["std_error"] == pytest.approx(100 * fit.bse[0] * np.sqrt(g / (g - 1)), rel=1e-10)


def growth_of(panel):
    counts = panel[panel["worked_outside_province"]].groupby("year").size()
    return 100 * (counts.loc[2020] / counts.loc[2019] - 1)


def test_growth_standard_error_agrees_with_county_jackknife_and_bootstrap():
    panel = larger_panel(seed=1)
    row = I.indicator_by_year(panel, "outside_province_employment_annual_growth").iloc[0]
    assert row["value"] == pytest.approx(growth_of(panel), rel=1e-12)
    counties = np.sort(panel["county_id"].unique())
    g = len(counties)
    leave_out = np.array([growth_of(panel[panel["county_id"] != c]) for c in counties])
    jackknife = np.sqrt((g - 1) / g * np.sum((leave_out - leave_out.mean()) ** 2))
    assert row["std_error"] == pytest.approx(jackknife, rel=0.05)
    rng = np.random.default_rng(7)
    by_county = {c: part for c, part in panel.groupby("county_id")}
    draws = [growth_of(pd.concat([by_county[c] for c in rng.choice(counties, g)]))
             for _ in range(1000)]
    bootstrap = np.std(draws, ddof=1) * np.sqrt(g / (g - 1))   # same G/(G-1) factor
    assert row["std_error"] == pytest.approx(bootstrap, rel=0.10)


# --------------------------------------------------------------------------- ledger
def national_panel():
    """Hand panel in Yunnan (53), a copy in Chongqing (50, counties 3-4) and one in Henan."""
    parts = []
    for k, code in enumerate(("53", "50", "41")):
        part = hand_panel(code)
        part["person_id"] += 10 * k
        part["county_id"] += 2 * k
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_expansion_is_the_published_count_over_the_panel_count(real_ledger):
    panel = national_panel()
    expansion = I.expansion_from_ledger(panel, real_ledger)
    published = find_figure(real_ledger, "poor_laborers_working_away", "2020")
    # 2020 outside the county: p1 p3 p5 in each of three provinces.
    assert expansion.panel_count == 9 and expansion.figure_id == "MOHRSS-02"
    assert expansion.factor == pytest.approx(float(published["value"]) / 9)
    assert expansion.factor == pytest.approx(32.43e6 / 9)
    assert "fixed" in expansion.note


def test_targets_match_the_right_ledger_rows(real_ledger):
    table = I.measured_targets(national_panel(), real_ledger, expansion=1000.0)
    matched = table.drop_duplicates(["indicator", "scope"]).set_index("target_figure_id")
    expected = {
        "YN-04": ("trainee_employment_rate", "53", 90.0, "at_least", "2021-2025"),
        "YN-08": ("poverty_alleviated_population_employed_relative_to_previous_year", "53",
                  100.0, "at_least", "2021-2025"),
        "YN-09": ("outside_county_employment_share", "53", 60.0, "more_than", "2025"),
        "YN-10": ("outside_province_employment_annual_growth", "53", 5.0, "exact",
                  "2021-2025"),
        "NOTICE-01": ("poverty_alleviated_population_employed", "national", 30e6, "at_least",
                      "2022"),
        "CQ-02": ("poverty_alleviated_population_employed", "50", 760_000.0, "more_than",
                  "2025"),
    }
    assert set(matched.index) == set(expected)
    got = matched[["indicator", "scope", "target_value", "target_qualifier", "target_period"]]
    assert {k: tuple(v) for k, v in got.iterrows()} == expected
    ledger_rows = real_ledger.set_index("figure_id")
    for figure_id, (indicator, scope, *_) in expected.items():
        assert (ledger_rows.loc[figure_id, "indicator"], ledger_rows.loc[figure_id, "scope"]) \
            == (indicator, scope)
    assert "previous year" in matched.loc["YN-08", "target_note"]
    assert np.isnan(ledger_rows.loc["YN-08", "value"])


def test_targets_use_the_scope_rows_and_say_where_the_interval_lies(real_ledger):
    table = I.measured_targets(national_panel(), real_ledger, expansion=1000.0)
    counts = table[table["indicator"] == "poverty_alleviated_population_employed"]
    by_scope = counts.pivot(index="year", columns="scope", values="value")
    assert by_scope["50"].tolist() == pytest.approx([4000.0, 4000.0, 5000.0])
    assert by_scope["national"].tolist() == pytest.approx([12000.0, 12000.0, 15000.0])
    assert table["status"].isin(["above the target", "below the target",
                                 "the interval includes the target",
                                 "no interval: the estimated standard error is zero"]).all()
    trainees = table[table["indicator"] == "trainee_employment_rate"].set_index("year")
    # 2019: the one trainee is employed, 100% in both counties' balance: zero SE.
    assert trainees.loc[2019, "status"] == "no interval: the estimated standard error is zero"
    assert set(table.loc[table["target_figure_id"] == "NOTICE-01", "status"]) == {
        "below the target"}
    assert set(table["year_vs_target_period"]) == {"before the target period 2021-2025",
                                                   "within the target period 2021-2025",
                                                   "before the target period 2025",
                                                   "before the target period 2022"}
    assert trainees.loc[2021, "year_vs_target_period"] == "within the target period 2021-2025"
    assert table["actual_figure_id"].isna().all()   # the ledger has no actual of these
    assert table["value"].notna().all()


def test_status_wording():
    assert I.status(61, 70, 60) == "above the target"
    assert I.status(np.nan, np.nan, 60, n_clusters=1) == "no interval: fewer than two counties"
    assert I.status(50, 59, 60) == "below the target"
    assert I.status(55, 65, 60) == "the interval includes the target"
    assert I.status(55, 65, np.nan) == "no target value in the ledger"
    assert I.year_vs_period(2023, "2021-2025") == "within the target period 2021-2025"
    assert I.year_vs_period(2026, "2025") == "after the target period 2025"


def test_published_actual_of_the_same_indicator_scope_and_year(real_ledger):
    extra = real_ledger.iloc[[0, 0]].copy()
    extra[["figure_id", "indicator", "kind", "value"]] = [
        ["YN-98", "outside_county_employment_share", "actual", 41.0],
        ["YN-99", "outside_county_employment_share", "actual", 43.0]]
    extra["period"] = ["2020-10", "2020"]
    ledger = pd.concat([real_ledger, extra], ignore_index=True)
    table = I.measured_targets(national_panel(), ledger, expansion=1000.0)
    share = table[table["indicator"] == "outside_county_employment_share"].set_index("year")
    assert share.loc[2020, ["actual_figure_id", "actual_value", "actual_period"]].tolist() == [
        "YN-99", 43.0, "2020"]
    assert share.loc[[2019, 2021], "actual_figure_id"].isna().all()
