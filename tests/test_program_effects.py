"""Program effects for any specification, checked against the simulator's planted truth."""

import numpy as np
import pandas as pd
import pytest

from analysis.estimators import program_effects as pe
from analysis.estimators.registry import ESTIMATORS
from analysis.estimators.spec import AnalysisSpec, SpecError
from analysis.fleet.plan import read_plan


def test_the_registry_drives_the_estimates_table(simulated):
    spec = AnalysisSpec(program="public_welfare_post", outcome="months_worked")
    table = pe.estimate_effects(simulated.panel, spec)
    assert list(table["method"]) == list(ESTIMATORS)
    assert list(table["estimand"]) == [e.estimand for e in ESTIMATORS.values()]
    assert set(table["treatment"]) == {"public_welfare_post"}
    assert set(table["outcome"]) == {"months_worked"}
    logit = table.set_index("method").loc["logit_average_marginal_effect"]
    assert np.isnan(logit["estimate"]) and "yes/no" in logit["notes"]


# The simulator's untreated trends are parallel for the probability outcomes and months worked,
# not for wage income, whose growth is proportional to its level (see analysis.data.simulator):
# no difference-in-differences is expected to recover wage effects, so those analyses are held
# to a different check below.
PARALLEL_TRENDS_HOLD = [p for p in read_plan() if p.spec.outcome != "wage_income"]


@pytest.mark.parametrize("planned", PARALLEL_TRENDS_HOLD, ids=lambda p: p.spec.name)
def test_each_plan_analysis_recovers_its_planted_effect(simulated, planned):
    spec = planned.spec
    table = pe.with_truth(pe.estimate_effects(simulated.panel, spec), simulated.truth,
                          simulated.panel, spec)
    headline = table.set_index("method").loc[spec.headline_estimator]
    assert np.isfinite(headline["estimate"]) and np.isfinite(headline["true_effect"])
    # Deterministic (fixed seed); three standard errors leaves room for the ten analyses.
    assert abs(headline["estimate"] - headline["true_effect"]) < 3 * headline["std_error"], \
        (spec.name, headline["estimate"], headline["true_effect"], headline["std_error"])


def test_wage_income_trends_are_not_parallel_and_the_pre_period_cells_show_it(simulated_large):
    # Where parallel trends fail, the page's pre-period placebo cells must say so: their joint
    # Wald test (from the cells' influence functions) rejects for public-welfare posts.
    from analysis.estimators import staggered
    from analysis.estimators.inference import influence_scores, score_adjustment
    spec = AnalysisSpec(program="public_welfare_post", outcome="wage_income")
    prepared = pe.prepare_panel(simulated_large.panel, spec)
    records, influence, clusters = staggered.callaway_santanna(
        prepared, spec.outcome, "person_id", "year", pe.FIRST_TREATED, cluster=spec.cluster,
        aggregate="group_time", return_influence=True)
    pre = [j for j, r in enumerate(records) if r.period < r.cohort]
    scores = np.column_stack([influence_scores(influence[:, j], clusters) for j in pre])
    vcov = score_adjustment(clusters.n) * scores.T @ scores
    beta = np.array([records[j].estimate for j in pre])
    wald = float(beta @ np.linalg.solve(vcov, beta))
    from scipy import stats
    assert stats.chi2(len(pre)).sf(wald) < 0.05


def test_truth_follows_the_specs_own_program_outcome_and_population(simulated):
    panel, truth = simulated.panel, simulated.truth
    stable = pe.true_values(truth, panel, AnalysisSpec())
    months = pe.true_values(truth, panel, AnalysisSpec(outcome="months_worked"))
    export = pe.true_values(truth, panel, AnalysisSpec(program="organized_labor_export"))
    assert months["att_post"] > 5 * stable["att_post"]  # months, not a probability
    assert export["att_post"] != stable["att_post"]
    # By hand: the women's truth is the mean effect over women's post-receipt person-years.
    women = pe.true_values(truth, panel, AnalysisSpec(population="women"))
    female = panel.drop_duplicates("person_id").set_index("person_id")["female"]
    rows = truth[(truth["program"] == "training") & truth["person_id"].map(female)]
    last = rows[rows["year"] == panel["year"].max()]
    assert women["att_last_year"] == pytest.approx(last["effect_stable_employment"].mean())
    identified = rows[rows["first_year"] > panel["year"].min()]
    assert women["att_post"] == pytest.approx(identified["effect_stable_employment"].mean())


def test_first_receipt_is_the_first_year_the_program_is_received():
    panel = pd.DataFrame({"person_id": [1, 1, 1, 2, 2, 2], "year": [2018, 2019, 2020] * 2,
                          "workshop_job": [False, True, True, False, False, False]})
    first = pe.first_receipt_year(panel, AnalysisSpec(program="workshop_job"))
    assert first.to_dict() == {1: 2019.0}


def test_a_population_constant_covariate_is_left_out_and_said(simulated):
    spec = AnalysisSpec(population="women")
    table = pe.estimate_effects(simulated.panel, spec, estimators=[ESTIMATORS["aipw"]])
    assert "left out: female" in table["notes"].iloc[0]
    assert np.isfinite(table["estimate"].iloc[0])


def test_a_spec_the_panel_cannot_support_fails_with_the_field_named(simulated):
    few = simulated.panel[simulated.panel["province_code"].astype(str) == "54"]
    with pytest.raises(SpecError, match="^years:"):
        pe.analyse(few, AnalysisSpec(years=(2012, 2020)))


def test_headline_by_province_uses_the_specs_estimator_and_truth(simulated):
    spec = AnalysisSpec(program="organized_labor_export", outcome="worked_outside_county",
                        headline_estimator="aipw")
    by_province = pe.headline_by_province(simulated.panel, spec, simulated.truth)
    assert set(by_province["method"]) == {"aipw"} and len(by_province) == 22
    yunnan = simulated.panel[simulated.panel["province_code"].astype(str) == "53"]
    expected = pe.true_values(simulated.truth, yunnan, spec)["att_last_year"]
    assert by_province.set_index("province_code").loc["53", "true_effect"] == \
        pytest.approx(expected)


def test_a_province_whose_headline_fails_becomes_a_row_that_says_why(simulated):
    panel = simulated.panel.copy()
    tibet = panel["province_code"].astype(str) == "54"
    panel.loc[tibet, "trained"] = False  # nobody trained in Tibet: no cohort to estimate
    panel.loc[tibet, "first_trained_year"] = pd.NA
    by_province = pe.headline_by_province(panel, AnalysisSpec())
    assert len(by_province) == 22
    row = by_province.set_index("province_code").loc["54"]
    assert np.isnan(row["estimate"]) and row["notes"].startswith("not estimable here")
    others = by_province[by_province["province_code"] != "54"]
    assert np.isfinite(others["estimate"]).all()
