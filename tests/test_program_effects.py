"""Estimators on the demonstration panel recover the planted effects; naive is biased up."""

import numpy as np
import pandas as pd
import pytest

from analysis import config
from analysis.estimators import program_effects as pe
from analysis.data import simulate


@pytest.fixture(scope="module")
def simulated():
    ledger = pd.read_csv(config.LEDGER_CSV, dtype={"scope": str, "period": str,
                                                   "value_as_written": str})
    provinces = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    targets = simulate.calibration_targets_from_ledger(ledger)
    return simulate.simulate_panel(provinces, targets, n_persons=40_000, seed=11)


@pytest.fixture(scope="module")
def estimates(simulated):
    return pe.with_truth(pe.estimate_effects(simulated.panel, seed=1), simulated.truth)


def test_truth_targets_are_the_simulators_own_aggregates(simulated):
    targets = pe.true_targets(simulated.truth)
    later_cohorts = simulated.truth[simulated.truth["first_trained_year"] > 2016]
    by_hand = (later_cohorts["att_stable_employment"] * later_cohorts["n_treated"]).sum() / \
        later_cohorts["n_treated"].sum()
    assert targets[pe.POST_TRAINING_ATT] == pytest.approx(by_hand)
    overall = simulate.true_effects(simulated.truth)["att"].iloc[0]
    assert targets[pe.POST_TRAINING_ATT] != pytest.approx(overall)  # the 2016 cohort is out
    last = simulated.truth[simulated.truth["year"] == 2020]
    by_hand = (last["att_stable_employment"] * last["n_treated"]).sum() / last["n_treated"].sum()
    assert targets[pe.FINAL_YEAR_ATT] == pytest.approx(by_hand)


@pytest.mark.parametrize("method", ["regression_adjustment", "ipw_att", "aipw",
                                    "callaway_santanna", "logit_average_marginal_effect"])
def test_consistent_estimators_cover_the_planted_effect(estimates, method):
    row = estimates.set_index("method").loc[method]
    assert row["ci_low"] <= row["true_effect"] <= row["ci_high"], row[
        ["estimate", "ci_low", "ci_high", "true_effect"]]


def test_naive_difference_is_biased_upward(estimates):
    naive = estimates.set_index("method").loc["difference_in_means"]
    adjusted = estimates.set_index("method").loc["aipw"]
    assert naive["estimate"] > naive["true_effect"] + 2 * naive["std_error"]
    assert abs(adjusted["estimate"] - adjusted["true_effect"]) < abs(
        naive["estimate"] - naive["true_effect"])


def test_every_record_names_its_standard_errors_and_clusters(estimates):
    assert estimates["se_type"].str.contains("county_id").all()
    assert (estimates["n_clusters"] > 100).all()  # pooled: every county of 22 provinces


def test_last_year_cross_section_uses_baseline_covariates(simulated):
    prepared = pe.prepare_panel(simulated.panel)
    cross = pe.last_year_cross_section(prepared)
    first_year_age = prepared.loc[prepared["year"] == 2016].set_index("person_id")["age"]
    assert (cross.set_index("person_id")["age"] == first_year_age.loc[cross["person_id"]]).all()
    assert (cross["year"] == 2020).all()
    treated = cross["trained_by_year"] == 1
    assert (cross.loc[treated, "first_treated"] <= 2020).all()
    assert (cross.loc[~treated, "first_treated"] == 0).all()


def test_an_estimator_that_cannot_run_becomes_an_explained_row(simulated):
    small = pe.prepare_panel(simulated.panel)
    small = small[small["person_id"].isin(small["person_id"].unique()[:40])].copy()
    small["disability_or_weak_labor"] = 0.0  # no variation: the logit models are singular
    small["household_size"] = 4.0
    table = pe.estimate_effects(small)
    assert len(table) == 7
    unusable = table[table["se_type"] == "not estimated"]
    assert (unusable["notes"].str.startswith("not estimable here")).all()
    assert np.isnan(unusable["estimate"]).all()


def test_province_headline_flags_intervals_excluding_zero(simulated):
    table = pe.headline_by_province(simulated.panel)
    assert len(table) == 22
    expected = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    assert (table["distinguishable_from_zero"] == expected).all()


def test_true_effect_by_province_weights_identifiable_cells_by_treated(simulated):
    planted = pe.true_effect_by_province(simulated.truth, first_year=2016)
    cells = simulated.truth[(simulated.truth["province_code"].astype(str) == "53")
                            & (simulated.truth["first_trained_year"] > 2016)]
    by_hand = (cells["att_stable_employment"] * cells["n_treated"]).sum() / cells["n_treated"].sum()
    assert len(planted) == 22
    assert planted.loc["53"] == pytest.approx(by_hand)
