"""Sup-t bands, Cinelli-Hazlett sensitivity to confounding, and the reader's sentences.

Reference values
----------------
The Darfur example of Cinelli & Hazlett (2020) as printed in the README of the R package
sensemakr (github.com/carloscinelli/sensemakr, README.md, commit
07445236f094ef7d637ea402a93c57e555331da1): ``print(sensitivity)`` and the bounds table of
``summary(sensitivity)`` for ``lm(peacefactor ~ directlyharmed + age + farmer_dar + herder_dar
+ pastvoted + hhsize_darfur + female + village)`` with ``benchmark_covariates = "female"``,
``kd = 1:3``. The data are ``tests/fixtures/darfur.csv`` (provenance in its header). Printed
values are kept as strings and must agree to the printed digits.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.estimators import sensitivity as sens
from analysis.estimators.exceptions import InvalidOptionError, MissingColumnError
from analysis.estimators.honest_did import RobustIntervals

DARFUR = Path(__file__).parent / "fixtures" / "darfur.csv"
DARFUR_FORMULA = ("peacefactor ~ directlyharmed + age + farmer_dar + herder_dar + pastvoted"
                  " + hhsize_darfur + female + village")


def _assert_printed(actual, printed):
    decimals = len(printed.split(".")[1])
    assert abs(actual - float(printed)) <= 0.5 * 10.0 ** -decimals + 1e-12, (actual, printed)


# --------------------------------------------------------------------------- sup-t band
def test_sup_t_with_independent_estimates_is_the_sidak_value():
    k, alpha = 5, 0.05
    band = sens.sup_t_band(np.zeros(k), np.diag([1.0, 4.0, 0.25, 9.0, 2.0]), alpha,
                           reps=400_000)
    sidak = stats.norm.ppf((1 + (1 - alpha) ** (1 / k)) / 2)
    assert band.critical_value == pytest.approx(sidak, abs=0.01)  # simulation SE about 0.0025


def test_sup_t_with_perfectly_correlated_estimates_is_the_pointwise_value():
    band = sens.sup_t_band(np.arange(4.0), 2.0 * np.ones((4, 4)), reps=400_000)
    assert band.critical_value == pytest.approx(stats.norm.ppf(0.975), abs=0.01)
    assert band.pointwise_critical_value == pytest.approx(1.959964, abs=1e-6)


def test_sup_t_band_is_the_estimates_plus_minus_critical_value_standard_errors():
    estimates, covariance = np.array([0.1, -0.2, 0.3]), np.array(
        [[0.04, 0.01, 0.0], [0.01, 0.09, 0.02], [0.0, 0.02, 0.01]])
    band = sens.sup_t_band(estimates, covariance)
    sd = np.sqrt(np.diag(covariance))
    np.testing.assert_allclose(band.lower, estimates - band.critical_value * sd)
    np.testing.assert_allclose(band.upper, estimates + band.critical_value * sd)
    assert stats.norm.ppf(0.975) < band.critical_value < stats.norm.ppf(1 - 0.025 / 3)


def test_sup_t_with_few_clusters_uses_the_multivariate_t():
    single = sens.sup_t_band([0.0], [[1.0]], df=5, reps=400_000)
    assert single.critical_value == pytest.approx(stats.t.ppf(0.975, 5), abs=0.03)
    assert single.pointwise_critical_value == pytest.approx(stats.t.ppf(0.975, 5))
    covariance = np.diag([1.0, 1.0, 1.0])
    assert (sens.sup_t_band(np.zeros(3), covariance, df=5).critical_value
            > sens.sup_t_band(np.zeros(3), covariance).critical_value + 0.3)


def test_sup_t_refuses_a_reference_period_with_zero_variance():
    with pytest.raises(InvalidOptionError, match="leave the reference period out"):
        sens.sup_t_band([0.0, 0.1], np.diag([0.0, 1.0]))


# --------------------------------------------------------------------------- Cinelli-Hazlett
@pytest.fixture(scope="module")
def darfur_fit():
    """OLS of DARFUR_FORMULA, with village dummies (first village as the reference)."""
    data = pd.read_csv(DARFUR, comment="#")
    regressors = pd.get_dummies(data.drop(columns="peacefactor"), columns=["village"],
                                drop_first=True, dtype=float)
    return sm.OLS(data["peacefactor"], sm.add_constant(regressors)).fit()


def test_darfur_reproduces_the_sensemakr_readme(darfur_fit):
    result = sens.from_statsmodels(darfur_fit, "directlyharmed", ["female"])
    # print(sensitivity): Coef. estimate 0.09732, Standard Error 0.02326, t-value 4.18445,
    # Partial R2 of treatment with outcome 0.02187, RV q = 1 0.13878, RV q = 1 alpha = 0.05
    # 0.07626. The paper rounds these to 2.2%, 13.9% and 7.6%.
    for actual, printed in [(result.estimate, "0.09732"), (result.se, "0.02326"),
                            (result.t_statistic, "4.18445"), (result.partial_r2, "0.02187"),
                            (result.rv_q, "0.13878"), (result.rv_qa, "0.07626")]:
        _assert_printed(actual, printed)
    assert result.dof == 783


def test_darfur_female_benchmark_bounds_reproduce_the_sensemakr_readme(darfur_fit):
    result = sens.from_statsmodels(darfur_fit, "directlyharmed", ["female"], kd=(1, 2, 3))
    # summary(sensitivity), "Bounds on omitted variable bias": 1x, 2x, 3x female.
    printed = pd.DataFrame(
        [["0.0092", "0.1246", "0.0752", "0.0219", "3.4389", "0.0323", "0.1182"],
         ["0.0183", "0.2493", "0.0529", "0.0204", "2.6002", "0.0130", "0.0929"],
         ["0.0275", "0.3741", "0.0304", "0.0187", "1.6281", "-0.0063", "0.0670"]],
        columns=["r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_se", "adjusted_t",
                 "adjusted_lower", "adjusted_upper"])
    for column in printed:
        for actual, expected in zip(result.bounds[column], printed[column]):
            _assert_printed(actual, expected)
    assert list(result.bounds["benchmark"]) == ["female"] * 3


def test_the_numeric_interface_gives_the_same_statistics_as_the_fitted_model(darfur_fit):
    fitted = sens.from_statsmodels(darfur_fit, "directlyharmed")
    numeric = sens.confounding_sensitivity(fitted.estimate, fitted.se, fitted.dof)
    assert (numeric.partial_r2, numeric.rv_q, numeric.rv_qa) == pytest.approx(
        (fitted.partial_r2, fitted.rv_q, fitted.rv_qa), rel=1e-12)
    assert fitted.bounds is None


def test_from_statsmodels_uses_the_classical_se_whatever_the_fitted_covariance(darfur_fit):
    robust = darfur_fit.model.fit(cov_type="HC1")
    assert sens.from_statsmodels(robust, "directlyharmed").se == pytest.approx(
        sens.from_statsmodels(darfur_fit, "directlyharmed").se, rel=1e-12)
    with pytest.raises(MissingColumnError, match="'education'"):
        sens.from_statsmodels(darfur_fit, "directlyharmed", ["education"])
    wls = sm.WLS(darfur_fit.model.endog, darfur_fit.model.exog).fit()
    with pytest.raises(InvalidOptionError, match="need an OLS fit"):
        sens.from_statsmodels(wls, "x1")


def test_robustness_value_closed_forms():
    t, dof = 3.0, 100
    f = t / math.sqrt(dof)
    assert sens.robustness_value(t, dof) == pytest.approx(0.5 * (math.sqrt(f**4 + 4 * f**2) - f**2))
    assert sens.robustness_value(t, dof, q=0.5) == pytest.approx(
        0.5 * (math.sqrt((f / 2) ** 4 + 4 * (f / 2) ** 2) - (f / 2) ** 2))
    assert sens.robustness_value(1.5, dof, alpha=0.05) == 0.0  # not significant
    # Extreme case (f_q > 1 / f*): the bound on the treatment's partial R2 does not bind.
    f_crit = stats.t.ppf(0.975, 9) / 3
    assert sens.robustness_value(5.0, 10, alpha=0.05) == pytest.approx(
        (2.5 - f_crit**2) / 3.5)
    assert sens.partial_r2(t, dof) == pytest.approx(9 / 109)


def test_benchmark_bounds_grow_with_the_multiple_and_refuse_impossible_ones():
    bounds = sens.confounding_bounds(-0.5, 0.1, 200, 0.05, 0.1, kd=(1, 2, 4))
    assert (np.diff(bounds["r2dz_x"]) > 0).all()
    assert (np.diff(bounds["adjusted_estimate"]) > 0).all()
    assert (bounds["adjusted_estimate"] < 0).iloc[0]  # moved towards zero from below
    with pytest.raises(InvalidOptionError, match="use smaller multiples"):
        sens.confounding_bounds(0.5, 0.1, 200, 0.5, 0.1, kd=(2,))


# --------------------------------------------------------------------------- sentences
def _sentences_are_clean(*sentences):
    for sentence in sentences:
        assert "nan" not in sentence.lower() and "inf" not in sentence.lower(), sentence
        assert sentence.endswith(".") and sentence[0].isupper(), sentence


def test_pretrend_sentences():
    texts = [sens.describe_pretrend_test(0.41), sens.describe_pretrend_test(0.0004),
             sens.describe_pretrend_test(float("nan")), sens.describe_pretrend_test(None, n_pre=0)]
    assert texts[0] == ("Parallel trends before the program cannot be rejected "
                        "(joint test p = 0.41).")
    assert "p < 0.001" in texts[1] and "in doubt" in texts[1]
    assert texts[2].endswith("could not be computed from the estimates available.")
    assert "no event times before" in texts[3]
    assert sens.describe_pretrend_test(None, reason="the covariance is singular").endswith(
        "could not be computed: the covariance is singular.")
    _sentences_are_clean(*texts)


def test_sup_t_sentence_counts_where_the_band_excludes_zero():
    band = sens.SupTBand(critical_value=2.6, pointwise_critical_value=1.96,
                         lower=np.array([-0.1, 0.05, 0.02, -0.3]),
                         upper=np.array([0.1, 0.3, 0.4, 0.1]), alpha=0.05)
    text = sens.describe_sup_t_band(band, event_times=[-2, 0, 1, 2])
    assert text == ("The band that covers all 4 event-time estimates at once with 95% probability"
                    " is 1.3 times as wide as the pointwise intervals and excludes zero at 2 of"
                    " them (event times 0 and 1).")
    unnamed = sens.describe_sup_t_band(band)
    assert unnamed.endswith("excludes zero at 2 of them.")
    _sentences_are_clean(text, unnamed)


def _intervals(restriction, breakdown, limit=20.0):
    return RobustIntervals(restriction=restriction, method="", table=pd.DataFrame(),
                           original=(0.1, 0.3), breakdown=breakdown, search_limit=limit,
                           alpha=0.05)


def test_relative_magnitude_sentences_follow_the_breakdown_value():
    texts = [sens.describe_relative_magnitudes(_intervals("relative_magnitudes", value))
             for value in (1.7, 0.45, 0.0, math.inf)]
    assert texts[0] == ("The effect stays distinguishable from zero unless period-to-period "
                        "departures from parallel trends after the program exceed 1.7 times the "
                        "largest such departure before it.")
    assert "exceed 45% of the largest" in texts[1]
    assert texts[2].startswith("The effect is not distinguishable from zero even if")
    assert "were 20 times the largest" in texts[3] and "largest multiple checked" in texts[3]
    _sentences_are_clean(*texts)
    with pytest.raises(InvalidOptionError, match="expected relative_magnitudes"):
        sens.describe_relative_magnitudes(_intervals("smoothness", 1.0))


def test_smoothness_sentences_use_the_readers_unit():
    text = sens.describe_smoothness(_intervals("smoothness", 0.0022), unit="percentage points",
                                    scale=100)
    assert "by more than 0.22 percentage points per period" in text
    texts = [text, sens.describe_smoothness(_intervals("smoothness", 0.0)),
             sens.describe_smoothness(_intervals("smoothness", math.inf, limit=1234.5))]
    assert "straight line" in texts[1] and "1,200 per period" in texts[2]
    _sentences_are_clean(*texts)


def test_confounding_sentences(darfur_fit):
    result = sens.from_statsmodels(darfur_fit, "directlyharmed", ["female"])
    text = sens.describe_confounding(result)
    assert text == ("An unobserved confounder would have to explain 14% of the residual variance"
                    " of both the program and the outcome to remove the estimated effect, and "
                    "7.6% to make it statistically indistinguishable from zero.")
    benchmark = sens.describe_confounding_benchmark(result, "female")
    assert benchmark.startswith("Confounders up to 2 times as strong as female")
    assert benchmark.endswith("but 3 times as strong would not.")
    weak = sens.confounding_sensitivity(0.02, 0.02, 500)
    zero = sens.confounding_sensitivity(0.0, 0.02, 500)
    texts = [text, benchmark, sens.describe_confounding(weak), sens.describe_confounding(zero)]
    assert "not statistically distinguishable from zero even without confounding" in texts[2]
    assert "zero, so there is no effect" in texts[3]
    _sentences_are_clean(*texts)
