"""Tests of analysis.estimators.inference (cluster-robust and influence-function standard errors, the
restricted wild cluster bootstrap) through the estimators that use it.

Second libraries: statsmodels (OLS cluster covariance), drdid (the clustered influence function
of the DR ATT) and wildboottest (the WCR p-value with an equal seed).
"""

import contextlib
import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats
import statsmodels.api as sm
from drdid.drdid import drdid_panel
from wildboottest.wildboottest import wildboottest

from analysis.estimators import effects as E
from sample_data import selected_sample

COVARIATES = ["x1", "x2"]


# --------------------------------------------------------------------------- cluster-robust SE
def test_difference_in_means_cluster_matches_statsmodels_cr1():
    df = selected_sample(n_clusters=40)
    r = E.difference_in_means(df, "y", "d", cluster="county", se="cluster")
    fit = sm.OLS(df.y, sm.add_constant(df.d)).fit(
        cov_type="cluster", cov_kwds={"groups": df.county}, use_t=True)
    assert r.std_error == pytest.approx(fit.bse["d"], rel=1e-10)
    assert r.p_value == pytest.approx(fit.pvalues["d"], rel=1e-8)
    assert r.ci_high == pytest.approx(fit.conf_int().loc["d", 1], rel=1e-10)
    assert r.n_clusters == 40 and r.se_type == "cluster-robust (CR1) by county"


def test_se_auto_switches_to_wild_bootstrap_below_threshold():
    few = E.difference_in_means(selected_sample(n_clusters=12), "y", "d", cluster="county")
    many = E.difference_in_means(selected_sample(n_clusters=40), "y", "d", cluster="county")
    assert E.WILD_CLUSTER_THRESHOLD == 30
    assert few.se_type.startswith("wild cluster bootstrap") and few.n_clusters == 12
    assert many.se_type.startswith("cluster-robust (CR1)")


# --------------------------------------------------------------------------- influence-function SE
def test_clustered_influence_function_se_sums_within_clusters():
    df = selected_sample(seed=7)
    r = E.aipw(df, "y", "d", COVARIATES, cluster="county", estimand="ATT", trim=None)
    _, influence = drdid_panel(df.y.to_numpy(), np.zeros(len(df)), df.d.to_numpy(),
                               df[COVARIATES].to_numpy(), trim_level=0.9999)
    sums = pd.Series(influence).groupby(df.county.to_numpy()).sum()
    g = len(sums)
    assert r.std_error == pytest.approx(np.sqrt(g / (g - 1) * np.sum(sums ** 2)) / len(df),
                                        rel=1e-6)
    assert r.se_type == "influence function, clustered by county, t(G-1)" and r.n_clusters == 40
    # The interval uses t with G-1 degrees of freedom, not the normal.
    half_width = (r.ci_high - r.ci_low) / 2
    assert half_width == pytest.approx(stats.t.ppf(0.975, g - 1) * r.std_error, rel=1e-9)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(r.estimate / r.std_error), g - 1))


# --------------------------------------------------------------------------- wild bootstrap
def few_cluster_sample(seed=14, n_clusters=12):
    rng = np.random.default_rng(seed)
    n = 600
    cl = rng.integers(0, n_clusters, n)
    shock = rng.normal(size=n_clusters)[cl]
    x = rng.normal(size=n) + 0.5 * shock
    d = rng.binomial(1, 0.5, n)
    return pd.DataFrame({"y": 0.15 * d + 0.3 * x + shock + rng.normal(size=n),
                         "d": d, "x": x, "cl": cl})


@pytest.mark.parametrize("weights", ["webb", "rademacher"])
def test_wild_bootstrap_pvalue_equals_wildboottest_with_equal_seed(weights):
    df = few_cluster_sample()
    r = E.wild_cluster_bootstrap(df, "y", ["d", "x"], "cl", "d", reps=999, weights=weights,
                                 seed=42)
    model = sm.OLS(df.y, sm.add_constant(df[["d", "x"]]))
    with contextlib.redirect_stdout(io.StringIO()):
        ref = wildboottest(model, B=999, cluster=df.cl.to_numpy(), param="d",
                           weights_type=weights, seed=42, show=False)
    assert r.p_value == pytest.approx(ref["p-value"].iloc[0], abs=1e-12)


def test_difference_in_means_wild_option_equals_wildboottest():
    df = few_cluster_sample(seed=16)
    r = E.difference_in_means(df, "y", "d", cluster="cl", se="wild")
    wild = E.WildOptions()
    model = sm.OLS(df.y, sm.add_constant(df[["d"]]))
    with contextlib.redirect_stdout(io.StringIO()):
        ref = wildboottest(model, B=wild.reps, cluster=df.cl.to_numpy(), param="d",
                           weights_type=wild.weights, seed=wild.seed, show=False)
    assert r.p_value == pytest.approx(ref["p-value"].iloc[0], abs=1e-12)
    assert r.std_error == pytest.approx(
        model.fit(cov_type="cluster", cov_kwds={"groups": df.cl}).bse["d"], rel=1e-10)


def test_wild_bootstrap_ci_inverts_the_test():
    df = few_cluster_sample(seed=15)
    kw = dict(reps=999, weights="webb", seed=3)
    r = E.wild_cluster_bootstrap(df, "y", ["d", "x"], "cl", "d", **kw)
    assert r.ci_low < r.estimate < r.ci_high
    at_bound = E.wild_cluster_bootstrap(df, "y", ["d", "x"], "cl", "d", null=r.ci_low, **kw)
    inside = E.wild_cluster_bootstrap(df, "y", ["d", "x"], "cl", "d",
                                      null=0.9 * r.ci_low + 0.1 * r.estimate, **kw)
    outside = E.wild_cluster_bootstrap(df, "y", ["d", "x"], "cl", "d",
                                       null=r.ci_low - 0.1 * (r.estimate - r.ci_low), **kw)
    assert at_bound.p_value == pytest.approx(0.05, abs=0.01)
    assert inside.p_value >= 0.05 > outside.p_value
    assert "test-inversion" in r.se_type and r.n_clusters == 12


# --------------------------------------------------------------------------- classical and HC1
def test_classical_se_is_statsmodels_nonrobust_and_the_pooled_two_sample_se():
    df = selected_sample(seed=3)
    r = E.difference_in_means(df, "y", "d", se="classical")
    fit = sm.OLS(df.y, sm.add_constant(df.d)).fit(cov_type="nonrobust")
    y1, y0 = df.loc[df.d == 1, "y"], df.loc[df.d == 0, "y"]
    pooled = ((len(y1) - 1) * y1.var() + (len(y0) - 1) * y0.var()) / (len(df) - 2)
    assert r.std_error == pytest.approx(fit.bse["d"], rel=1e-10)
    assert r.std_error == pytest.approx(np.sqrt(pooled * (1 / len(y1) + 1 / len(y0))), rel=1e-10)
    assert r.p_value == pytest.approx(fit.pvalues["d"], rel=1e-8)
    assert r.se_type == "classical (homoskedastic OLS)"


def test_explicit_hc1_equals_auto_without_clusters():
    df = selected_sample(seed=3)
    explicit = E.regression_adjustment(df, "y", "d", COVARIATES, estimand="ATT", se="hc1")
    assert explicit == E.regression_adjustment(df, "y", "d", COVARIATES, estimand="ATT")
    assert explicit.se_type == "HC1"


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_classical_regression_adjustment_adds_the_covariate_mean_term(estimand):
    # Homoskedastic variance of the stacked coefficient (statsmodels, means held fixed) plus the
    # sampling variance of the covariate means, delta'(x_i - m) T_i / P(T), summed over rows.
    df = selected_sample(seed=3, n=800, heterogeneity=1.0)
    r = E.regression_adjustment(df, "y", "d", COVARIATES, estimand=estimand, se="classical")
    target = np.ones(len(df)) if estimand == "ATE" else df.d.to_numpy(float)
    x = df[COVARIATES].to_numpy()
    centred = x - target @ x / target.sum()
    d = df.d.to_numpy(float)[:, None]
    X = np.column_stack([np.ones(len(df)), d, centred, d * centred])
    fit = sm.OLS(df.y.to_numpy(), X).fit(cov_type="nonrobust")
    extra = centred @ fit.params[4:] * target / target.mean()
    expected = fit.bse[1] ** 2 + np.sum(extra ** 2) / len(df) ** 2
    assert r.estimate == pytest.approx(fit.params[1], rel=1e-10)
    assert r.std_error == pytest.approx(np.sqrt(expected), rel=1e-10)
    assert r.se_type.startswith("classical")


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call", [
    lambda df: E.difference_in_means(df, "y", "d", se="wild"),
    lambda df: E.difference_in_means(df, "y", "d", se="cluster"),
    lambda df: E.additive_regression(df, "y", "d", COVARIATES, se="cluster"),
    lambda df: E.difference_in_means(df, "y", "d", cluster="county", se="classical"),
    lambda df: E.regression_adjustment(df, "y", "d", COVARIATES, "county", se="hc1"),
    lambda df: E.difference_in_means(df, "y", "d", se="classical", return_scores=True),
    lambda df: E.regression_adjustment(df, "y", "d", COVARIATES, se="classical",
                                       return_scores=True),
    lambda df: E.additive_regression(df, "y", "d", COVARIATES, se="classical",
                                     return_scores=True),
    lambda df: E.difference_in_means(df, "y", "d", cluster="county", se="bootstrap"),
    lambda df: E.wild_cluster_bootstrap(df, "y", ["d"], "county", "d", weights="mammen"),
])
def test_invalid_se_options_raise_invalid_option_error(call):
    with pytest.raises(E.InvalidOptionError):
        call(selected_sample(n=300))


def test_cluster_without_a_cluster_column_says_what_to_do():
    with pytest.raises(E.InvalidOptionError, match="needs a cluster column"):
        E.difference_in_means(selected_sample(n=300), "y", "d", se="cluster")


# --------------------------------------------------------------------------- multiplier bootstrap
def equal_cluster_sample(seed=21, n_clusters=8, per_cluster=40):
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(n_clusters), per_cluster)
    y = 0.2 + rng.normal(size=n_clusters)[cl] + rng.normal(size=len(cl))
    return pd.DataFrame({"y": y, "cl": cl})


@pytest.mark.parametrize("weights", ["webb", "rademacher"])
def test_score_bootstrap_of_a_mean_equals_wildboottest_restricted(weights):
    # For a mean with equal cluster sizes, imposing the null on the cluster scores is exactly
    # the restricted wild cluster bootstrap (WCR) of the intercept-only regression: the same
    # draws (same stream and seed) must give the same p-value, at the null and elsewhere.
    from analysis.estimators.inference import Clusters, multiplier_bootstrap
    df = equal_cluster_sample()
    y = df.y.to_numpy()
    influence = y - y.mean()
    clusters = Clusters("cl", df.cl.to_numpy())
    se = E.influence_std_error(influence, clusters)
    wild = E.WildOptions(reps=999, weights=weights, seed=5)
    for null in (0.0, 0.5):
        ours = multiplier_bootstrap(float(y.mean()), se, influence, clusters, wild, null=null)
        # wildboottest tests a zero coefficient: shift the outcome by the null.
        model = sm.OLS(y - null, np.ones((len(y), 1)))
        with contextlib.redirect_stdout(io.StringIO()):
            theirs = wildboottest(model, param="const", cluster=df.cl.to_numpy(), B=999,
                                  weights_type=weights, impose_null=True, seed=5, show=False)
        # Under full enumeration (Rademacher, 2^8 < 999) the all-ones and all-minus-ones draws
        # give t* = t up to rounding; we never count those ties, wildboottest's raw comparison
        # counts them when rounding falls that way: at most 2 of the 256 draws apart.
        ties = 2 / 2 ** 8 if weights == "rademacher" else 0.0
        assert ours.p_value == pytest.approx(float(theirs["p-value"].iloc[0]),
                                             abs=ties + 1e-9), null
    assert ours.ci_low < y.mean() < ours.ci_high
    assert "null imposed" in ours.label


def test_score_bootstrap_interval_inverts_its_test():
    from analysis.estimators.inference import (
        Clusters, multiplier_bootstrap, restricted_score_pvalue_function, wild_draws)
    df = equal_cluster_sample(seed=22, n_clusters=6)
    df.loc[df.cl == 0, "y"] += 2.0  # unequal clusters: the interval is not symmetric
    influence = df.y.to_numpy() - df.y.mean()
    clusters = Clusters("cl", df.cl.to_numpy())
    wild = E.WildOptions(reps=999, weights="rademacher", seed=1)   # 2^6 = 64: enumerated
    se = E.influence_std_error(influence, clusters)
    boot = multiplier_bootstrap(float(df.y.mean()), se, influence, clusters, wild)
    p_value, _ = restricted_score_pvalue_function(float(df.y.mean()), influence, clusters,
                                                  wild_draws(6, wild))
    # Just inside the interval the test does not reject at 5%; just outside it does.
    for bound, inward in ((boot.ci_low, +1), (boot.ci_high, -1)):
        assert p_value(bound + inward * 1e-6) >= 0.05
        assert p_value(bound - inward * 1e-6) < 0.05
    # By hand at one null: the share of sign vectors whose |t*| reaches the observed |t|.
    signs = wild_draws(6, wild)
    n = len(influence)
    sums = np.bincount(clusters.codes, weights=influence) / n
    shares = np.bincount(clusters.codes) / n
    d = df.y.mean() - 0.3
    restricted = sums + shares * d
    t_star = []
    for b in range(signs.shape[1]):
        perturbed = signs[:, b] * restricted
        centred = perturbed - shares * perturbed.sum()
        t_star.append(abs(perturbed.sum()) / np.sqrt(6 / 5 * np.sum(centred ** 2)))
    assert p_value(0.3) == pytest.approx(np.mean(np.array(t_star) > abs(d) / se * (1 + 1e-10)))
    assert "all 64 sign vectors" in boot.label


def test_logit_ame_influence_function_reproduces_the_delta_method():
    # The coefficient part of the AME's influence function, summed within clusters, is the
    # delta method on statsmodels' cluster sandwich (without its small-sample factors).
    df = selected_sample(seed=23, n_clusters=12)
    df["employed"] = (df.y > 2).astype(int)
    X = sm.add_constant(df[["d", *COVARIATES]]).to_numpy()
    fit = sm.Logit(df.employed.to_numpy(), X).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": df.county, "use_correction": False})
    treated = df.d.to_numpy() == 1
    x1, x0 = X[treated].copy(), X[treated].copy()
    x1[:, 1], x0[:, 1] = 1, 0
    p1, p0 = fit.predict(x1), fit.predict(x0)
    gradient = ((p1 * (1 - p1))[:, None] * x1 - (p0 * (1 - p0))[:, None] * x0).mean(axis=0)
    from analysis.estimators.effects import _ame_influence
    from analysis.estimators.inference import Clusters
    coefficient_part = _ame_influence(fit, X, df.employed.to_numpy(float), treated,
                                      np.zeros(treated.sum()), gradient)
    clusters = Clusters("county", df.county.to_numpy())
    se = E.influence_std_error(coefficient_part, clusters) * np.sqrt(11 / 12)
    assert se == pytest.approx(np.sqrt(gradient @ fit.cov_params() @ gradient), rel=1e-6)


@pytest.mark.parametrize("call", [
    lambda df, **kw: E.ipw_att(df, "employed", "d", COVARIATES, "county", **kw),
    lambda df, **kw: E.aipw(df, "employed", "d", COVARIATES, "county", estimand="ATT", **kw),
    lambda df, **kw: E.logit_average_marginal_effect(df, "employed", "d", COVARIATES, "county",
                                                     estimand="ATT", **kw),
], ids=["ipw", "aipw", "logit"])
def test_m_estimators_bootstrap_automatically_with_few_clusters(call):
    few = selected_sample(seed=24, n_clusters=8)
    few["employed"] = (few.y > 2).astype(int)
    auto = call(few, wild=E.WildOptions(reps=499, seed=3))
    again = call(few, wild=E.WildOptions(reps=499, seed=3))
    analytic = call(few, se="analytic")
    assert auto.se_type.startswith("cluster score bootstrap, null imposed (Webb weights, 499 "
                                   "draws")
    assert (auto.ci_low, auto.ci_high, auto.p_value) == (again.ci_low, again.ci_high,
                                                         again.p_value)
    assert auto.estimate == analytic.estimate
    # With 8 clusters the bootstrap interval differs from t(7) on the same estimate.
    assert auto.ci_high - auto.ci_low != pytest.approx(analytic.ci_high - analytic.ci_low)
    many = selected_sample(seed=24, n_clusters=40)
    many["employed"] = (many.y > 2).astype(int)
    assert "t(G-1)" in call(many).se_type
    with pytest.raises(E.InvalidOptionError, match="se must be one of"):
        call(few, se="wild")


def test_test_inversion_finds_the_bound_to_its_stated_precision():
    from analysis.estimators.inference import INVERSION_PRECISION, _invert

    center, step, bound = 3.0, 0.25, 1.2345678901234
    calls = []

    def p_value(r):  # rejects (p = 0) exactly beyond center +- bound
        calls.append(r)
        return 1.0 if abs(r - center) <= bound else 0.0

    for direction in (-1, +1):
        calls.clear()
        found = _invert(p_value, center, step, 0.05, direction)
        assert abs(found - (center + direction * bound)) <= INVERSION_PRECISION * step
        assert len(calls) < 45  # doubling, then bisection that stops at the precision
    assert _invert(lambda r: 1.0, center, step, 0.05, +1) == np.inf
