"""Tests of analysis.estimators.effects against hand computations, second libraries and planted truths.

Second libraries: statsmodels (OLS, logit get_margeff) and drdid (the Python port of R DRDID,
installed with csdid: its panel IPW and DR estimators with a zero pre-period are the
cross-sectional IPW-ATT and AIPW-ATT). Standard errors, their clustering and the wild cluster
bootstrap are tested in test_inference.py.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from drdid.drdid import drdid_panel
from drdid.ipwd_did import std_ipw_did_panel
from scipy import stats

from analysis.estimators import effects as E
from sample_data import selected_sample

COVARIATES = ["x1", "x2"]


def covers(record, truth):
    return record.ci_low <= truth <= record.ci_high


# --------------------------------------------------------------------------- difference in means
def test_difference_in_means_matches_group_means_and_hc1_formula():
    df = selected_sample()
    r = E.difference_in_means(df, "y", "d")
    y1, y0 = df.loc[df.d == 1, "y"], df.loc[df.d == 0, "y"]
    n = len(df)
    hc0 = np.sqrt(y1.var(ddof=0) / len(y1) + y0.var(ddof=0) / len(y0))
    assert r.estimate == pytest.approx(y1.mean() - y0.mean(), abs=1e-12)
    assert r.std_error == pytest.approx(np.sqrt(n / (n - 2)) * hc0, rel=1e-10)
    crit = stats.t.ppf(0.975, n - 2)
    assert r.ci_low == pytest.approx(r.estimate - crit * r.std_error, rel=1e-10)
    assert (r.n_obs, r.n_treated, r.se_type, r.n_clusters) == (n, int(df.d.sum()), "HC1", None)


def test_naive_difference_is_biased_in_the_direction_of_selection():
    r = E.difference_in_means(selected_sample(), "y", "d")
    assert r.ci_low > 2.0  # x1 raises both take-up and the outcome: upward bias


# --------------------------------------------------------------------------- regression adjustment
@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_regression_adjustment_equals_separate_arm_regressions(estimand):
    df = selected_sample(heterogeneity=0.5)
    r = E.regression_adjustment(df, "y", "d", COVARIATES, estimand=estimand)
    X = sm.add_constant(df[COVARIATES]).to_numpy()
    b1 = np.linalg.lstsq(X[df.d == 1], df.y[df.d == 1], rcond=None)[0]
    b0 = np.linalg.lstsq(X[df.d == 0], df.y[df.d == 0], rcond=None)[0]
    target = X if estimand == "ATE" else X[df.d == 1]
    assert r.estimate == pytest.approx(np.mean(target @ b1 - target @ b0), abs=1e-10)


def test_regression_adjustment_recovers_planted_effect_and_beats_naive():
    df = selected_sample(seed=2)
    r = E.regression_adjustment(df, "y", "d", COVARIATES)
    assert covers(r, 2.0)
    assert abs(r.estimate - 2) < abs(E.difference_in_means(df, "y", "d").estimate - 2) / 5


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_regression_adjustment_se_agrees_with_bootstrap(estimand):
    df = selected_sample(seed=3, n=800, heterogeneity=1.0)
    r = E.regression_adjustment(df, "y", "d", COVARIATES, estimand=estimand)
    rng = np.random.default_rng(0)
    draws = [E.regression_adjustment(df.iloc[rng.integers(0, len(df), len(df))], "y", "d",
                                     COVARIATES, estimand=estimand).estimate
             for _ in range(250)]
    assert r.std_error == pytest.approx(np.std(draws), rel=0.15)


def test_regression_adjustment_se_includes_covariate_mean_term():
    # With strong effect heterogeneity the stacked-regression SE that holds the
    # covariate mean fixed is too small; ours adds delta' Var(mean X) delta.
    df = selected_sample(seed=3, n=800, heterogeneity=1.0)
    r = E.regression_adjustment(df, "y", "d", ["x1"])
    xc = df.x1 - df.x1.mean()
    X = np.column_stack([np.ones(len(df)), df.d, xc, df.d * xc])
    fixed = sm.OLS(df.y.to_numpy(), X).fit(cov_type="HC1").bse[1]
    assert r.std_error ** 2 == pytest.approx(fixed ** 2 + df.x1.var() / len(df), rel=0.1)


def test_regression_adjustment_wild_se_describes_what_the_bootstrap_resamples():
    # The wild bootstrap holds the covariate means fixed, so the SE shown beside its p-value and
    # interval must too: the CR1 SE of the stacked regression coefficient (statsmodels).
    df = selected_sample(seed=5, n=600, heterogeneity=1.0, n_clusters=8)
    wild = E.regression_adjustment(df, "y", "d", ["x1"], "county", estimand="ATT", se="wild",
                                   wild=E.WildOptions(reps=199, seed=1))
    cr1 = E.regression_adjustment(df, "y", "d", ["x1"], "county", estimand="ATT",
                                  se="cluster")
    xc = df.x1 - df.x1[df.d == 1].mean()
    X = np.column_stack([np.ones(len(df)), df.d, xc, df.d * xc])
    fixed = sm.OLS(df.y.to_numpy(), X).fit(cov_type="cluster",
                                           cov_kwds={"groups": df.county}).bse[1]
    assert wild.std_error == pytest.approx(fixed, rel=1e-8)
    assert "covariate means held fixed" in wild.se_type
    assert cr1.std_error > wild.std_error  # CR1 mode keeps the covariate-mean term
    record, scores = E.regression_adjustment(df, "y", "d", ["x1"], "county", estimand="ATT",
                                             se="wild", wild=E.WildOptions(reps=199, seed=1),
                                             return_scores=True)
    g = scores.size
    assert np.sqrt(g / (g - 1) * (scores ** 2).sum()) == pytest.approx(record.std_error,
                                                                       rel=1e-10)


# --------------------------------------------------------------------------- additive regression
@pytest.mark.parametrize(("se", "cluster", "cov"), [
    ("classical", None, {"cov_type": "nonrobust"}),
    ("hc1", None, {"cov_type": "HC1"}),
    ("cluster", "county", {"cov_type": "cluster"}),
])
def test_additive_regression_matches_statsmodels_ols(se, cluster, cov):
    df = selected_sample(seed=6, heterogeneity=0.5)
    r = E.additive_regression(df, "y", "d", COVARIATES, cluster, se=se)
    if cluster:
        cov = {**cov, "cov_kwds": {"groups": df[cluster]}}
    fit = sm.OLS(df.y, sm.add_constant(df[["d", *COVARIATES]])).fit(use_t=True, **cov)
    assert r.estimate == pytest.approx(fit.params["d"], rel=1e-10)
    assert r.std_error == pytest.approx(fit.bse["d"], rel=1e-10)
    assert r.p_value == pytest.approx(fit.pvalues["d"], rel=1e-8)
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(fit.conf_int().loc["d"]), rel=1e-10)
    assert r.method == "additive_regression" and r.estimand == E.ADDITIVE_ESTIMAND


def test_additive_regression_is_not_the_att_when_effects_vary():
    # Effect 2 + x1 with take-up rising in x1: the ATT exceeds 2, and the additive coefficient,
    # a weighted average of effects that also weighs the untreated, is pulled away from it.
    df = selected_sample(seed=8, n=20_000, heterogeneity=1.0)
    att = 2 + df.x1[df.d == 1].mean()
    additive = E.additive_regression(df, "y", "d", COVARIATES)
    interacted = E.regression_adjustment(df, "y", "d", COVARIATES, estimand="ATT")
    assert covers(interacted, att) and not covers(additive, att)
    assert "homogeneous" in additive.notes


def test_additive_regression_scores_reproduce_its_standard_error():
    df = selected_sample(seed=9)
    record, scores = E.additive_regression(df, "y", "d", COVARIATES, return_scores=True)
    assert np.sqrt((scores ** 2).sum()) == pytest.approx(record.std_error, rel=1e-10)
    assert len(scores) == len(df)


def test_additive_regression_refuses_collinear_covariates():
    df = selected_sample(n=300).assign(d_copy=lambda frame: frame.d)
    with pytest.raises(E.SingularDesignError, match="collinear"):
        E.additive_regression(df, "y", "d", ["x1", "d_copy"])


# --------------------------------------------------------------------------- logit AME
@pytest.mark.parametrize("cluster", [None, "county"])
def test_logit_ame_matches_statsmodels_get_margeff(cluster):
    df = selected_sample(seed=4)
    df["employed"] = (df.y > 2).astype(int)
    r = E.logit_average_marginal_effect(df, "employed", "d", COVARIATES, cluster=cluster)
    kwargs = ({"cov_type": "HC0"} if cluster is None else
              {"cov_type": "cluster", "cov_kwds": {"groups": df.county}})
    fit = sm.Logit(df.employed, sm.add_constant(df[["d", *COVARIATES]])).fit(disp=0, **kwargs)
    margeff = fit.get_margeff(at="overall", dummy=True)
    assert r.estimate == pytest.approx(margeff.margeff[0], rel=1e-8)
    assert r.std_error == pytest.approx(margeff.margeff_se[0], rel=1e-6)


def test_logit_att_se_matches_numerical_delta_method():
    df = selected_sample(seed=5)
    df["employed"] = (df.y > 2).astype(int)
    r = E.logit_average_marginal_effect(df, "employed", "d", COVARIATES, estimand="ATT")
    X = sm.add_constant(df[["d", *COVARIATES]]).to_numpy()
    fit = sm.Logit(df.employed.to_numpy(), X).fit(disp=0, cov_type="HC0")
    treated = X[df.d == 1]

    def ame(beta):
        x1, x0 = treated.copy(), treated.copy()
        x1[:, 1], x0[:, 1] = 1, 0
        return np.mean(1 / (1 + np.exp(-x1 @ beta)) - 1 / (1 + np.exp(-x0 @ beta)))

    grad = np.array([(ame(fit.params + h) - ame(fit.params - h)) / 2e-6
                     for h in np.eye(len(fit.params)) * 1e-6])
    assert r.estimate == pytest.approx(ame(fit.params), rel=1e-10)
    assert r.std_error == pytest.approx(np.sqrt(grad @ fit.cov_params() @ grad), rel=1e-5)


# --------------------------------------------------------------------------- IPW and AIPW
def test_ipw_att_matches_drdid_and_hajek_weights():
    df = selected_sample(seed=6)
    r = E.ipw_att(df, "y", "d", COVARIATES, trim=None)
    att, influence = std_ipw_did_panel(df.y.to_numpy(), np.zeros(len(df)), df.d.to_numpy(),
                                       df[COVARIATES].to_numpy(), trim_level=0.9999)
    assert r.estimate == pytest.approx(att, abs=1e-9)
    assert r.std_error == pytest.approx(np.sqrt(np.sum(influence ** 2)) / len(df), rel=1e-6)
    p = sm.Logit(df.d, sm.add_constant(df[COVARIATES])).fit(disp=0).predict()
    control = df.d == 0
    hajek = df.y[~control].mean() - np.average(df.y[control], weights=(p / (1 - p))[control])
    assert r.estimate == pytest.approx(hajek, abs=1e-9)


def test_aipw_att_matches_drdid():
    df = selected_sample(seed=7, heterogeneity=0.5)
    r = E.aipw(df, "y", "d", COVARIATES, estimand="ATT", trim=None)
    att, influence = drdid_panel(df.y.to_numpy(), np.zeros(len(df)), df.d.to_numpy(),
                                 df[COVARIATES].to_numpy(), trim_level=0.9999)
    assert r.estimate == pytest.approx(att, abs=1e-9)
    assert r.std_error == pytest.approx(np.sqrt(np.sum(influence ** 2)) / len(df), rel=1e-6)


def test_ipw_and_aipw_recover_planted_effect():
    df = selected_sample(seed=8)
    for record in (E.ipw_att(df, "y", "d", COVARIATES),
                   E.aipw(df, "y", "d", COVARIATES, estimand="ATT"),
                   E.aipw(df, "y", "d", COVARIATES, estimand="ATE")):
        assert covers(record, 2.0), record


def test_aipw_ate_covers_truth_when_the_outcome_model_is_wrong():
    # Outcome depends on exp(x1) (linear outcome models are wrong), the logit is right:
    # double robustness keeps AIPW consistent.
    rng = np.random.default_rng(9)
    n = 4000
    x1 = rng.normal(size=n)
    d = rng.binomial(1, 1 / (1 + np.exp(-x1)))
    df = pd.DataFrame({"y": 1.0 * d + 2 * np.exp(x1) + rng.normal(size=n), "d": d, "x1": x1})
    dr = E.aipw(df, "y", "d", ["x1"], trim=None)
    assert covers(dr, 1.0)
    assert not covers(E.difference_in_means(df, "y", "d"), 1.0)


def test_aipw_ate_se_agrees_with_bootstrap():
    df = selected_sample(seed=10, n=800, heterogeneity=0.5)
    r = E.aipw(df, "y", "d", COVARIATES, trim=None)
    rng = np.random.default_rng(1)
    draws = [E.aipw(df.iloc[rng.integers(0, len(df), len(df))], "y", "d", COVARIATES,
                    trim=None).estimate for _ in range(200)]
    assert r.std_error == pytest.approx(np.std(draws), rel=0.15)


def test_trimming_drops_the_rows_outside_the_bounds():
    df = selected_sample(seed=11)
    p = sm.Logit(df.d, sm.add_constant(df[COVARIATES])).fit(disp=0).predict()
    outside = (p < 0.1) | (p > 0.9)
    r = E.ipw_att(df, "y", "d", COVARIATES, trim=(0.1, 0.9))
    assert r.n_obs == len(df) - outside.sum()
    assert f"trimmed {(outside & (df.d == 1)).sum()} treated" in r.notes
    # Dropping treated rows changes the estimand; the record says which treated remain.
    kept, total = int(((~outside) & (df.d == 1)).sum()), int((df.d == 1).sum())
    assert f"the estimand is the effect on the {kept} of {total} treated" in r.notes
    assert r.n_treated == kept
    diagnostics = E.overlap_diagnostics(df, "d", COVARIATES, trim=(0.1, 0.9))
    assert diagnostics.n_trimmed == outside.sum()
    assert diagnostics.by_arm.loc["control", "ps_min"] == pytest.approx(p[df.d == 0].min())


# --------------------------------------------------------------------------- balance
def test_covariate_balance_matches_hand_smd():
    df = selected_sample(seed=12)
    table = E.covariate_balance(df, "d", COVARIATES).set_index("covariate")
    t, c = df[df.d == 1].x1, df[df.d == 0].x1
    assert table.loc["x1", "smd"] == pytest.approx((t.mean() - c.mean())
                                                   / np.sqrt((t.var() + c.var()) / 2))
    weights = pd.Series(np.where(df.d == 1, 1.0, 2.0), index=df.index)
    weighted = E.covariate_balance(df, "d", COVARIATES, weights).set_index("covariate")
    assert weighted.loc["x1", "mean_control_weighted"] == pytest.approx(c.mean())


def test_att_weights_improve_balance():
    diagnostics = E.overlap_diagnostics(selected_sample(seed=13), "d", COVARIATES)
    balance = diagnostics.balance
    assert (balance.smd.abs() > 0.15).any()
    assert (balance.smd_weighted.abs() < 0.1).all()
    assert diagnostics.weights.notna().all()


# --------------------------------------------------------------------------- records and errors
def test_records_round_trip_to_a_tidy_frame():
    df = selected_sample()
    records = [E.difference_in_means(df, "y", "d"), E.ipw_att(df, "y", "d", COVARIATES)]
    frame = E.estimates_to_frame(records)
    assert list(frame.method) == ["difference_in_means", "ipw_att"]
    assert {"estimate", "std_error", "ci_low", "ci_high", "se_type", "notes"} <= set(frame)
    assert records[0].to_dict()["estimand"] == "ATE"


def test_rows_with_missing_values_are_dropped_and_reported():
    df = selected_sample()
    df.loc[:4, "x1"] = np.nan
    r = E.regression_adjustment(df, "y", "d", COVARIATES)
    assert r.n_obs == len(df) - 5 and "dropped 5 of 2000 rows" in r.notes


def test_missing_column_error_names_the_column_and_lists_available():
    with pytest.raises(E.MissingColumnError, match=r"\['wage'\].*available columns.*'y'"):
        E.difference_in_means(selected_sample(), "wage", "d")


def test_non_binary_treatment_error_lists_values():
    df = selected_sample().assign(d=lambda f: f.d * 2 + 1)
    with pytest.raises(E.NonBinaryTreatmentError, match=r"\[3\]"):
        E.difference_in_means(df, "y", "d")


def test_no_variation_error_when_an_arm_is_empty():
    with pytest.raises(E.NoVariationError, match="d == 0"):
        E.ipw_att(selected_sample().assign(d=1), "y", "d", COVARIATES)


def test_nan_in_cluster_error_reports_row_count():
    df = selected_sample().astype({"county": float})
    df.loc[:2, "county"] = np.nan
    with pytest.raises(E.NanInClusterError, match="3 missing"):
        E.difference_in_means(df, "y", "d", cluster="county")


def test_non_binary_outcome_error_for_logit():
    with pytest.raises(E.NonBinaryOutcomeError):
        E.logit_average_marginal_effect(selected_sample(), "y", "d", COVARIATES)


@pytest.mark.parametrize("call", [
    lambda df: E.regression_adjustment(df, "y", "d", COVARIATES, estimand="ATU"),
    lambda df: E.ipw_att(df, "y", "d", COVARIATES, trim=(0.9, 0.1)),
    lambda df: E.wild_cluster_bootstrap(df, "y", ["x1"], "county", "d"),
])
def test_invalid_options_raise_invalid_option_error(call):
    with pytest.raises(E.InvalidOptionError):
        call(selected_sample(n=300))


def test_perfect_separation_in_the_propensity_model_raises():
    df = selected_sample(n=300).assign(d=lambda f: (f.x1 > 0).astype(int))
    with pytest.raises(E.SingularDesignError, match="separation"):
        E.ipw_att(df, "y", "d", COVARIATES)


def test_collinear_covariates_raise_singular_design_error():
    df = selected_sample().assign(x3=lambda f: 2 * f.x1)
    with pytest.raises(E.SingularDesignError):
        E.regression_adjustment(df, "y", "d", ["x1", "x3"])
