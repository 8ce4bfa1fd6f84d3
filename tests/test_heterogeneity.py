"""Tests of analysis.estimators.heterogeneity: effects by group and the test of equal effects.

Checked against a fully interacted statsmodels OLS (estimates, clustered SEs, Wald test), the
size and power of the test in simulations, the score identity std_error^2 = adj * sum s^2 of
every estimator that returns scores, and groups that cannot be estimated.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.estimators import effects as E
from analysis.estimators import heterogeneity as H
from analysis.estimators import staggered as S
from sample_data import selected_sample

COVARIATES = ["x1", "x2"]


def dim_by_county(subset):
    return E.difference_in_means(subset, "y", "d", "county_id", se="cluster",
                                 return_scores=True)


def cross_section(seed=0, n=900, n_counties=12, effects=(1.0, 1.0, 1.0), drop_county=None):
    """One row per person; effect by schooling band; county shocks in the outcome.
    ``drop_county``: no one with 10+ years of schooling lives in that county."""
    rng = np.random.default_rng(seed)
    county = rng.integers(0, n_counties, n)
    schooling = rng.integers(0, 14, n).astype(float)
    band = np.digitize(schooling, [6.5, 9.5])           # 0: 0-6, 1: 7-9, 2: 10+
    if drop_county is not None:
        county = np.where((band == 2) & (county == drop_county), (drop_county + 1) % n_counties,
                          county)
    d = rng.binomial(1, 0.4, n)
    y = (rng.normal(size=n_counties)[county] + 0.1 * schooling + np.take(effects, band) * d
         + rng.normal(size=n))
    return pd.DataFrame({"person_id": np.arange(n), "year": 2020, "county_id": county + 100,
                         "schooling_years": schooling, "d": d, "y": y})


def staggered_panel(seed=0, n_units=300, n_counties=25):
    """Balanced 2001-2006 panel, cohorts 2003-2005 and never treated (0); effect 1 + 0.3 e."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([0, 2003, 2004, 2005], size=n_units, p=[0.4, 0.2, 0.2, 0.2])
    periods = np.arange(2001, 2007)
    unit = np.repeat(np.arange(n_units), len(periods))
    year = np.tile(periods, n_units)
    g = cohort[unit]
    tau = np.where((g > 0) & (year >= g), 1.0 + 0.3 * (year - g), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.1 * (year - 2000) + tau + rng.normal(size=len(unit))
    return pd.DataFrame({"id": unit, "year": year, "g": g, "county": unit % n_counties,
                         "y": y})


# --------------------------------------------------------------------------- catalog
def test_groups_use_baseline_traits_so_a_person_stays_in_one_group():
    panel = pd.DataFrame({"person_id": [1, 1, 2, 2, 3, 3], "year": [2016, 2017] * 3,
                          "age": [29, 30, 44, 45, 50, 51], "female": [True] * 2 + [False] * 4})
    age = H.assign_groups(panel, "age")
    assert list(age) == ["Aged 16-29"] * 2 + ["Aged 30-44"] * 2 + ["Aged 45-64"] * 2
    assert list(H.assign_groups(panel, "sex")) == ["Women"] * 2 + ["Men"] * 4
    shuffled = panel.sample(frac=1, random_state=0)
    assert H.assign_groups(shuffled, "age").equals(age.loc[shuffled.index])


def test_schooling_bands_and_unknown_dimension():
    people = pd.DataFrame({"person_id": range(5), "year": 2020,
                           "schooling_years": [0, 6, 6.5, 9, 10]})
    assert list(H.assign_groups(people, "schooling")) == (
        ["0-6 years of schooling"] * 2 + ["7-9 years of schooling"] * 2
        + ["10 or more years of schooling"])
    with pytest.raises(E.InvalidOptionError, match="sex"):
        H.assign_groups(people, "income")


# --------------------------------------------------------------------------- (a) interacted OLS
def interacted_ols(df):
    """y on group dummies and d x group dummies, raw cluster sandwich (no correction)."""
    band = np.digitize(df["schooling_years"], [6.5, 9.5])
    dummies = np.eye(3)[band]
    X = np.column_stack([dummies, dummies * df["d"].to_numpy()[:, None]])
    fit = sm.OLS(df["y"].to_numpy(), X).fit(
        cov_type="cluster", cov_kwds={"groups": df["county_id"].to_numpy(),
                                      "use_correction": False})
    counts = [(int((band == g).sum()), df.loc[band == g, "county_id"].nunique())
              for g in range(3)]
    # The per-group CR1 correction of the separate regressions: G_g/(G_g-1) (n_g-1)/(n_g-2).
    scale = np.sqrt([gg / (gg - 1) * (n - 1) / (n - 2) for n, gg in counts])
    cov = fit.cov_params()[3:, 3:] * np.outer(scale, scale)
    return fit, cov


@pytest.mark.parametrize("drop_county", [None, 3])
def test_difference_in_means_by_group_equals_fully_interacted_ols(drop_county):
    df = cross_section(seed=4, effects=(0.5, 1.0, 1.5), drop_county=drop_county)
    result = H.effects_by_group(df, "schooling", dim_by_county)
    fit, cov = interacted_ols(df)
    table = result.table
    np.testing.assert_allclose(table["estimate"], fit.params[3:], rtol=0, atol=1e-12)
    np.testing.assert_allclose(table["std_error"], np.sqrt(np.diag(cov)), rtol=1e-10)
    np.testing.assert_allclose(result.covariance.to_numpy(), cov, rtol=1e-10, atol=1e-15)
    R = np.zeros((2, 6))
    R[0, 3:5], R[1, 4:6] = [1, -1], [1, -1]
    wald = fit.wald_test(R, cov_p=np.pad(cov, ((3, 0), (3, 0))), use_f=False, scalar=True)
    assert result.test.wald == pytest.approx(float(wald.statistic), rel=1e-10)
    assert result.test.statistic == pytest.approx(result.test.wald / 2, rel=1e-12)
    assert result.test.n_clusters == 12 and result.test.df_denom == 11
    expected_clusters = [12, 12, 11 if drop_county is not None else 12]
    assert list(table["n_clusters"]) == expected_clusters


def test_unclustered_groups_use_a_chi_square_reference():
    df = cross_section(seed=1)
    result = H.effects_by_group(
        df, "schooling", lambda s: E.difference_in_means(s, "y", "d", return_scores=True))
    assert result.test.df_denom is None and "chi-square(2)" in result.test.method
    fit, _ = interacted_ols(df)
    hc1 = sm.OLS(df["y"].to_numpy(), fit.model.exog).fit(cov_type="HC0")
    n = df.groupby(np.digitize(df["schooling_years"], [6.5, 9.5])).size().to_numpy()
    np.testing.assert_allclose(result.table["std_error"],
                               np.sqrt(np.diag(hc1.cov_params())[3:] * n / (n - 2)), rtol=1e-10)


# --------------------------------------------------------------------------- (b) size and power
def simulated_age_sample(seed, effects, n=800, n_counties=20):
    rng = np.random.default_rng(seed)
    county = rng.integers(0, n_counties, n)
    age = rng.integers(16, 65, n)
    d = rng.binomial(1, 0.4, n)
    tau = np.select([age <= 29, age <= 44], effects[:2], effects[2])
    y = rng.normal(size=n_counties)[county] + 0.02 * age + tau * d + rng.normal(size=n)
    return pd.DataFrame({"person_id": np.arange(n), "year": 2020, "county_id": county,
                         "age": age, "d": d, "y": y})


def rejection_rate(effects, reps=200):
    p = [H.effects_by_group(simulated_age_sample(seed, effects), "age", dim_by_county)
         .test.p_value for seed in range(reps)]
    return np.mean(np.array(p) < 0.05)


def test_equal_effects_are_rejected_at_about_the_nominal_rate():
    # 20 counties: in 1,000 replications the rate was 5.7% (7.5% with 12 counties, where
    # the CR1-based F test over-rejects somewhat).
    assert 0.02 <= rejection_rate((0.5, 0.5, 0.5), reps=400) <= 0.10


def test_clearly_different_effects_are_rejected_nearly_always():
    assert rejection_rate((0.0, 0.7, 1.4)) >= 0.95


# --------------------------------------------------------------------------- (c) score identity
def assert_identity(record, scores):
    adj = (record.n_clusters / (record.n_clusters - 1)) if record.n_clusters else 1.0
    assert np.sqrt(adj * np.sum(scores.to_numpy() ** 2)) == pytest.approx(
        record.std_error, rel=1e-10, abs=0)
    if record.n_clusters:
        assert len(scores) == record.n_clusters


CROSS_SECTION_CALLS = {
    "dim_cluster": lambda df: E.difference_in_means(df, "y", "d", "county", se="cluster",
                                                    return_scores=True),
    "dim_wild": lambda df: E.difference_in_means(df, "y", "d", "county", se="wild",
                                                 return_scores=True),
    "dim_hc1": lambda df: E.difference_in_means(df, "y", "d", return_scores=True),
    "ra_ate": lambda df: E.regression_adjustment(df, "y", "d", COVARIATES, "county",
                                                 se="cluster", return_scores=True),
    "ra_att": lambda df: E.regression_adjustment(df, "y", "d", COVARIATES, "county",
                                                 estimand="ATT", return_scores=True),
    "ra_hc1": lambda df: E.regression_adjustment(df, "y", "d", COVARIATES,
                                                 return_scores=True),
    "ipw_att": lambda df: E.ipw_att(df, "y", "d", COVARIATES, "county", return_scores=True),
    "ipw_att_unclustered": lambda df: E.ipw_att(df, "y", "d", COVARIATES, return_scores=True),
    "aipw_ate": lambda df: E.aipw(df, "y", "d", COVARIATES, "county", return_scores=True),
    "aipw_att": lambda df: E.aipw(df, "y", "d", COVARIATES, "county", estimand="ATT",
                                  return_scores=True),
}


@pytest.mark.parametrize("name", list(CROSS_SECTION_CALLS))
def test_cross_section_scores_reproduce_the_standard_error(name):
    df = selected_sample(heterogeneity=0.5, n_clusters=15)
    record, scores = CROSS_SECTION_CALLS[name](df)
    assert_identity(record, scores)
    if record.n_clusters:
        assert list(scores.index) == sorted(df["county"].unique())


PLAIN_CALLS = {
    "dim_wild": lambda df: E.difference_in_means(df, "y", "d", "county", se="wild"),
    "ra_att": lambda df: E.regression_adjustment(df, "y", "d", COVARIATES, "county",
                                                 estimand="ATT"),
    "ipw_att": lambda df: E.ipw_att(df, "y", "d", COVARIATES, "county"),
    "aipw_ate": lambda df: E.aipw(df, "y", "d", COVARIATES, "county"),
}


@pytest.mark.parametrize("name", list(PLAIN_CALLS))
def test_return_scores_leaves_the_record_unchanged(name):
    df = selected_sample(n_clusters=15)
    record, _ = CROSS_SECTION_CALLS[name](df)
    assert record == PLAIN_CALLS[name](df)


@pytest.mark.parametrize("aggregate", ["simple", "event", "group"])
@pytest.mark.parametrize("cluster", [None, "county"])
def test_callaway_santanna_scores_reproduce_the_standard_error(aggregate, cluster):
    df = staggered_panel(seed=3)
    records, scores = S.callaway_santanna(df, "y", "id", "year", "g", cluster=cluster,
                                          aggregate=aggregate, return_scores=True)
    assert_identity(records[0], scores)
    plain = S.callaway_santanna(df, "y", "id", "year", "g", cluster=cluster,
                                aggregate=aggregate)
    assert records == plain


def test_callaway_santanna_refuses_scores_without_an_overall_aggregate():
    with pytest.raises(E.InvalidOptionError, match="group_time"):
        S.callaway_santanna(staggered_panel(), "y", "id", "year", "g",
                            aggregate="group_time", return_scores=True)


def cs_by_county(subset):
    records, scores = S.callaway_santanna(subset, "y", "person_id", "year", "g",
                                          cluster="county", return_scores=True)
    return records[0], scores


def test_callaway_santanna_by_group_runs_through_the_scores():
    df = staggered_panel(seed=5, n_units=600).rename(columns={"id": "person_id"})
    df["female"] = (df["person_id"] % 2).astype(bool)
    result = H.effects_by_group(df, "sex", cs_by_county)
    assert list(result.table["status"]) == ["estimated", "estimated"]
    assert result.test.n_clusters == 25 and 0 <= result.test.p_value <= 1
    np.testing.assert_allclose(np.sqrt(np.diag(result.covariance)),
                               result.table["std_error"], rtol=1e-10)


# --------------------------------------------------------------------------- (d) not estimable
def test_group_without_treated_persons_is_a_not_estimable_row():
    df = cross_section(seed=2)
    df.loc[df["schooling_years"] >= 10, "d"] = 0
    result = H.effects_by_group(df, "schooling", dim_by_county)
    row = result.table.set_index("group").loc["10 or more years of schooling"]
    assert row["status"].startswith("not estimable") and "d == 1" in row["status"]
    assert np.isnan(row["estimate"]) and row["n_persons"] == (df["schooling_years"] >= 10).sum()
    assert result.test.excluded == ("10 or more years of schooling",)
    assert result.test.groups == ("0-6 years of schooling", "7-9 years of schooling")
    assert result.test.df_num == 1 and "left out as not estimable" in result.test.method
    assert np.isfinite(result.test.p_value)


def test_empty_group_and_single_estimable_group_give_no_test():
    df = cross_section(seed=2)
    df = df[df["schooling_years"] <= 9].copy()
    df.loc[df["schooling_years"] > 6, "d"] = 1
    result = H.effects_by_group(df, "schooling", dim_by_county)
    assert list(result.table["status"].str.startswith("not estimable")) == [False, True, True]
    assert "no persons" in result.table["status"].iloc[2]
    assert np.isnan(result.test.p_value) and result.test.method.startswith("not computed")
