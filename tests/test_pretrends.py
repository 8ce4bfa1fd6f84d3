"""Tests of analysis.estimators.pretrends: the Wald test against hand computations and scipy,
the pre-test on Callaway-Sant'Anna cells against the installed csdid (R ``did``'s port)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from csdid.att_gt import ATTgt
from scipy import stats

from analysis.estimators import effects as E
from analysis.estimators import pretrends as P
from analysis.estimators.staggered import callaway_santanna


def panel(seed=3, n_units=400, pre_trend=0.0):
    """Balanced 2001-2006 panel, cohorts 2003-2005 and never treated; ``pre_trend`` adds a
    trend to treated units before treatment, which the pre-test should detect."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([0, 2003, 2004, 2005], size=n_units, p=[0.4, 0.2, 0.2, 0.2])
    unit = np.repeat(np.arange(n_units), 6)
    year = np.tile(np.arange(2001, 2007), n_units)
    g = cohort[unit]
    y = (rng.normal(size=n_units)[unit] + 0.1 * (year - 2000) + np.where(
        (g > 0) & (year >= g), 1.0, 0.0) + pre_trend * (g > 0) * np.minimum(year, g)
        + rng.normal(size=len(unit)))
    return pd.DataFrame({"id": unit, "year": year, "g": g, "county": unit % 20, "y": y})


def cells(df, **options):
    return callaway_santanna(df, "y", "id", "year", "g", aggregate="group_time",
                             est_method="reg", return_influence=True, **options)


# --------------------------------------------------------------------------- wald_pretest
def test_diagonal_covariance_gives_the_sum_of_squared_t_statistics():
    estimates, std_errors = np.array([0.3, -0.1, 0.2]), np.array([0.2, 0.1, 0.4])
    result = P.wald_pretest(estimates, np.diag(std_errors ** 2))
    by_hand = np.sum((estimates / std_errors) ** 2)   # 2.25 + 1 + 0.25
    assert result.statistic == pytest.approx(by_hand) == pytest.approx(3.5)
    assert result.p_value == pytest.approx(stats.chi2.sf(3.5, 3))
    assert (result.df, result.df_denominator) == (3, None)
    assert result.method == "Wald test, chi-squared with 3 degrees of freedom"


def test_correlated_estimates_use_the_inverse_covariance():
    estimates = np.array([0.5, 0.4])
    covariance = np.array([[0.04, 0.03], [0.03, 0.04]])
    # inverse of [[a, b], [b, a]] is [[a, -b], [-b, a]] / (a^2 - b^2)
    by_hand = (0.04 * 0.25 - 2 * 0.03 * 0.2 + 0.04 * 0.16) / (0.04 ** 2 - 0.03 ** 2)
    result = P.wald_pretest(estimates, covariance)
    assert result.statistic == pytest.approx(by_hand)
    assert result.p_value == pytest.approx(stats.chi2.sf(by_hand, 2))


def test_f_version_divides_by_the_restrictions_and_tends_to_chi_squared():
    estimates, covariance = np.array([0.3, -0.1, 0.2]), np.diag([0.04, 0.01, 0.16])
    few = P.wald_pretest(estimates, covariance, df_denominator=7)
    assert few.statistic == pytest.approx(3.5 / 3)
    assert few.p_value == pytest.approx(stats.f.sf(3.5 / 3, 3, 7))
    assert few.method == "Wald test, F(3, 7) on W/3"
    chi2 = P.wald_pretest(estimates, covariance)
    many = P.wald_pretest(estimates, covariance, df_denominator=10 ** 7)
    assert few.p_value > chi2.p_value     # few clusters: less evidence against zero
    assert many.p_value == pytest.approx(chi2.p_value, rel=1e-4)


@pytest.mark.parametrize("estimates,covariance,df_denominator", [
    (np.array([0.1, 0.2]), np.eye(3), None),
    (np.array([[0.1, 0.2]]), np.eye(2), None),
    (np.array([0.1, np.nan]), np.eye(2), None),
    (np.array([0.1, 0.2]), np.array([[1.0, 0.5], [0.4, 1.0]]), None),
    (np.array([0.1, 0.2]), np.eye(2), 0),
    (np.array([0.1, 0.2]), np.eye(2), 2.5),
])
def test_malformed_inputs_are_refused(estimates, covariance, df_denominator):
    with pytest.raises(E.InvalidOptionError):
        P.wald_pretest(estimates, covariance, df_denominator)


def test_singular_covariance_is_refused():
    with pytest.raises(E.SingularDesignError, match="singular"):
        P.wald_pretest(np.array([0.1, 0.2]), np.array([[1.0, 1.0], [1.0, 1.0]]))


# --------------------------------------------------------------------------- on group-time cells
def test_influence_covariance_has_the_records_variances_on_its_diagonal():
    records, influence, clusters = cells(panel(), cluster="county")
    covariance = P.influence_covariance(influence, clusters)
    assert np.sqrt(np.diag(covariance)) == pytest.approx([r.std_error for r in records],
                                                         rel=1e-12)
    without = P.influence_covariance(influence, clusters, small_sample_factor=False)
    assert without == pytest.approx(covariance * (clusters.n - 1) / clusters.n, rel=1e-12)


def test_pretest_matches_csdid_and_selects_the_pre_treatment_cells():
    df = panel()
    records, influence, clusters = cells(df)
    pre = P.pretreatment_cells(records, influence)
    assert [(records[i].cohort, records[i].period) for i in pre] == [
        (2003, 2002), (2004, 2002), (2004, 2003), (2005, 2002), (2005, 2003), (2005, 2004)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ATTgt(yname="y", tname="year", idname="id", gname="g", data=df,
                    control_group="nevertreated").fit(est_method="reg", bstrap=False).MP
    as_r = P.group_time_pretest(records, influence, clusters, small_sample_factor=False)
    assert as_r.statistic == pytest.approx(float(ref["W"]), rel=1e-8)
    assert round(as_r.p_value, 5) == pytest.approx(float(ref["Wpval"]), abs=1e-12)
    ours = P.group_time_pretest(records, influence, clusters)
    assert ours.statistic == pytest.approx(as_r.statistic * (clusters.n - 1) / clusters.n)


def test_pretest_rejects_a_planted_pre_trend_and_not_parallel_trends():
    assert P.group_time_pretest(*cells(panel(seed=4))).p_value > 0.01
    assert P.group_time_pretest(*cells(panel(seed=4, pre_trend=0.5))).p_value < 1e-6


def test_universal_base_leaves_out_the_reference_cell_and_few_clusters_use_f():
    records, influence, clusters = cells(panel(), base_period="universal", cluster="county")
    pre = P.pretreatment_cells(records, influence)
    assert [(records[i].cohort, records[i].period) for i in pre] == [
        (2003, 2001), (2004, 2001), (2004, 2002), (2005, 2001), (2005, 2002), (2005, 2003)]
    result = P.group_time_pretest(records, influence, clusters, df_denominator=clusters.n - 1)
    assert (result.df, result.df_denominator) == (6, 19)


def test_pretest_needs_group_time_records_with_pre_treatment_cells():
    df = panel()
    records, influence, clusters = callaway_santanna(df, "y", "id", "year", "g",
                                                     aggregate="event", return_influence=True)
    with pytest.raises(E.InvalidOptionError, match="group_time"):
        P.group_time_pretest(records, influence, clusters)
    early = df.assign(g=np.where(df["g"] > 0, 2002, 0))   # treated in the second period
    with pytest.raises(E.NoVariationError, match="no pre-treatment"):
        P.group_time_pretest(*cells(early))


def test_score_bootstrap_wald_with_one_effect_is_the_restricted_score_bootstrap():
    # One estimate: W = t^2, and the bootstrap Wald p-value equals the two-sided p-value of the
    # restricted score bootstrap (itself checked against wildboottest's WCR) on the same draws.
    from analysis.estimators.inference import (
        Clusters, WildOptions, influence_std_error, restricted_score_pvalue_function,
        wild_draws)
    from analysis.estimators.pretrends import score_bootstrap_wald
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 9, 400)
    y = 0.15 + rng.normal(size=9)[codes] + rng.normal(size=400)
    influence = y - y.mean()
    clusters = Clusters("c", codes)
    wild = WildOptions(reps=999, seed=4)
    test = score_bootstrap_wald(np.array([y.mean()]), influence[:, None], clusters, wild)
    p_value, _ = restricted_score_pvalue_function(float(y.mean()), influence, clusters,
                                                  wild_draws(9, wild))
    assert test.p_value == pytest.approx(p_value(0.0), abs=1e-12)
    se = influence_std_error(influence, clusters)
    assert test.statistic == pytest.approx((y.mean() / se) ** 2)


def test_score_bootstrap_wald_holds_its_size_with_few_clusters_where_f_does_not():
    # Six correlated effects, eight clusters, true effects zero: the F(6, 7) Wald test on the
    # cluster covariance over-rejects; the bootstrap stays near 5% (simulation, 200 draws).
    from analysis.estimators.inference import Clusters, WildOptions
    from analysis.estimators.pretrends import score_bootstrap_wald, wald_pretest
    rng = np.random.default_rng(5)
    rejected_f, rejected_boot = [], []
    for _ in range(200):
        codes = np.repeat(np.arange(8), 50)
        shocks = rng.normal(size=(8, 6))[codes] + rng.normal(size=(400, 6))
        b = shocks.mean(axis=0)
        influence = shocks - b
        clusters = Clusters("c", codes)
        sums = np.stack([np.bincount(codes, weights=influence[:, j]) for j in range(6)], 1) / 400
        v = 8 / 7 * sums.T @ sums
        rejected_f.append(wald_pretest(b, v, 7).p_value < 0.05)
        rejected_boot.append(score_bootstrap_wald(b, influence, clusters,
                                                  WildOptions(reps=199)).p_value < 0.05)
    assert np.mean(rejected_f) > 0.2
    assert np.mean(rejected_boot) < 0.1
