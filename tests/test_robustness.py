"""Pre-trends and sensitivity of an analysis (analysis.estimators.robustness), on simulated
panels whose parallel trends hold or fail by construction, against independent computations."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.estimators import program_effects as pe
from analysis.estimators import robustness as rb
from analysis.estimators.spec import COVARIATES, AnalysisSpec
from analysis.reports import robustness_section


def test_event_study_covariances_match_the_standard_errors(simulated):
    study = pe.event_study(simulated.panel, AnalysisSpec())
    for method, covariance in study.covariance.items():
        rows = study.table[(study.table["method"] == method) & ~study.table["is_reference"]]
        se = rows.set_index("event_time")["std_error"].reindex(covariance.index)
        assert np.sqrt(np.diag(covariance)) == pytest.approx(se.to_numpy(), rel=1e-8), method


def test_the_pre_trend_test_rejects_where_trends_are_not_parallel_and_not_elsewhere(simulated_large):
    # Wage income grows in proportion to its level in the simulator, so trends are not parallel
    # for public-welfare posts (who go to weaker laborers); stable employment's trends are.
    # No covariates, so nothing adjusts the violation away.
    def p_value(program, outcome):
        spec = AnalysisSpec(program=program, outcome=outcome, covariates=())
        results = pe.analyse(simulated_large.panel, spec)
        test, reason = rb.group_time_pretest(results)
        assert reason == ""
        # By hand: chi-squared Wald on the pre-receipt cells (170 county clusters).
        records, influence, clusters = pe.group_time_effects(simulated_large.panel, spec)
        pre = [j for j, r in enumerate(records) if r.period < r.cohort]
        sums = np.stack([np.bincount(clusters.codes, weights=influence[:, j])
                         for j in pre], axis=1) / influence.shape[0]
        v = clusters.n / (clusters.n - 1) * sums.T @ sums
        b = np.array([records[j].estimate for j in pre])
        assert test.df == len(pre)
        assert test.p_value == pytest.approx(stats.chi2(len(pre)).sf(b @ np.linalg.solve(v, b)))
        return test.p_value
    assert p_value("public_welfare_post", "wage_income") < 0.01
    assert p_value("training", "stable_employment") > 0.05


def test_few_clusters_bootstrap_the_pre_test_and_fall_back_to_fewer_coefficients(simulated):
    yunnan = simulated.panel[simulated.panel["province_code"].astype(str) == "53"]
    results = pe.analyse(yunnan, AnalysisSpec())
    estimates, covariance, n_clusters = rb.event_study_inputs(results)
    assert n_clusters < 30
    # Without influence functions: F(q, G-1); with them: the score bootstrap.
    f_test, _ = rb.pretrend_test(estimates, covariance, n_clusters)
    assert f_test.df_denominator == n_clusters - 1
    boot, _ = rb.pretrend_test(estimates, covariance, n_clusters,
                               results.event_study.cs_influence)
    assert "score bootstrap" in boot.method and boot.df == f_test.df
    # The same Wald statistic (q W / q): only the reference distribution differs.
    assert boot.statistic == pytest.approx(f_test.statistic * f_test.df, rel=1e-6)
    assert rb.pretrend_test(estimates, covariance, 3) == (
        None, f"{f_test.df} pre-receipt years cannot be tested jointly with only 3 clusters")
    # Yunnan's 12 counties test the six placebo cells by the bootstrap; with four counties the
    # page tests the fewer event-time coefficients, or says why it cannot.
    checks = robustness_section.compute(results)
    assert checks.pretest is not None and "score bootstrap" in checks.pretest.method
    assert checks.pretest_cells == "placebo group-time cells"
    four = yunnan[yunnan["county_id"].isin(sorted(yunnan["county_id"].unique())[:4])]
    small = robustness_section.compute(pe.analyse(four, AnalysisSpec()))
    assert small.pretest_cells == "pre-receipt event-time coefficients" or small.pretest is None
    if small.pretest is None:
        assert "cannot be tested jointly with only 4 clusters" in small.pretest_reason


def test_the_confounding_benchmark_is_the_covariate_that_best_predicts_receipt(simulated):
    spec = AnalysisSpec()
    results = pe.analyse(simulated.panel, spec)
    checks = robustness_section.compute(results)
    cross_section = pe.last_year_cross_section(pe.prepare_panel(simulated.panel, spec), spec)
    covariates = list(spec.covariates)
    # Independently: partial R2 of each covariate with receipt, t^2 / (t^2 + dof), from the
    # regression of receipt on all covariates.
    fit = sm.OLS(cross_section[pe.TREATMENT].astype(float),
                 sm.add_constant(cross_section[covariates].astype(float))).fit()
    partial = (fit.tvalues[covariates] ** 2 / (fit.tvalues[covariates] ** 2 + fit.df_resid))
    assert checks.confounding_benchmark == COVARIATES[partial.idxmax()]
    # And the robustness value from the program's t statistic in the outcome regression.
    outcome_fit, _ = rb.confounding_regression(cross_section, spec, pe.TREATMENT, covariates)
    t = outcome_fit.tvalues["program receipt"]
    assert checks.confounding.partial_r2 == pytest.approx(t ** 2 / (t ** 2 + outcome_fit.df_resid))


@pytest.mark.parametrize("spec", [AnalysisSpec(), AnalysisSpec(program="workshop_job",
                                                               outcome="wage_income",
                                                               covariates=())])
def test_the_sentences_are_plain_and_follow_the_spec(simulated, spec):
    results = pe.analyse(simulated.panel, spec)
    checks = robustness_section.compute(results)
    text = " ".join(robustness_section.sentences(checks, spec))
    assert "nan" not in text.lower() and "inf" not in text.lower() and " 1 times" not in text
    assert "Parallel trends" in text or "Trends before" in text
    if spec.covariates:
        assert "confounder" in text
    else:
        assert "adjusts for no covariates" in text
    if checks.smoothness is not None and np.isfinite(checks.smoothness.breakdown) \
            and checks.smoothness.breakdown > 0:
        assert spec.outcome_info.effect_unit in text
