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


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call", [
    lambda df: E.difference_in_means(df, "y", "d", se="wild"),
    lambda df: E.difference_in_means(df, "y", "d", cluster="county", se="bootstrap"),
    lambda df: E.wild_cluster_bootstrap(df, "y", ["d"], "county", "d", weights="mammen"),
])
def test_invalid_se_options_raise_invalid_option_error(call):
    with pytest.raises(E.InvalidOptionError):
        call(selected_sample(n=300))
