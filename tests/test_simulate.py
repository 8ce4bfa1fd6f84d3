"""Tests of the demonstration-panel simulator (analysis/simulate.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis import config
from analysis.data.ledger import FigureNotFoundError
from analysis.data.schemas import PanelSchema
from analysis.data.simulate import (
    CalibrationTargets,
    ModelParameters,
    _months_worked,
    calibration_targets_from_ledger,
    simulate_panel,
    true_effects,
)

# About 22,700 households and 6,600 persons ever trained: training is rare (some 13% of
# laborers), so the treated groups need a larger panel than the household shares do.
N_PERSONS = 50_000
SEED = 7
LEDGER_COLUMNS = ["figure_id", "indicator", "scope", "period", "kind", "value", "unit"]
# A hand-built ledger. The figure ids are placeholders, not the ids of the real ledger.
LEDGER_ROWS = [
    # mohrss_briefing_2021: "The number of poor laborers has increased from 15.27 million in
    # 2016 to 32.43 million in 2020; 93.8% of poor households with registered cards have
    # received employment assistance policy."
    ("MOHRSS-01", "poor_laborers_working_away", "national", "2016", "actual", 15.27e6, "persons"),
    ("MOHRSS-02", "poor_laborers_working_away", "national", "2020", "actual", 32.43e6, "persons"),
    ("MOHRSS-03", "registered_poor_households_employment_assistance_share", "national", "2020",
     "actual", 93.8, "percent"),
    # scio_press_conference_2020: "as of the end of October, 29.73 million poor laborers were
    # migrant workers nationwide, which was 108.9% of the total number of migrant workers last
    # year."
    ("SCIO-01", "poor_laborers_working_away", "national", "2020-10", "actual", 29.73e6,
     "persons"),
    ("SCIO-02", "poor_laborers_working_away_relative_to_previous_year", "national", "2020-10",
     "actual", 108.9, "percent"),
    # mohrss_briefing_2021: "During the 'Thirteenth Five-Year Plan' period, a total of about 10
    # million poor laborers were trained. Among them, more than 2.7 million poor laborers will
    # be trained in 2020"
    ("MOHRSS-04", "poor_laborers_trained", "national", "2020", "actual", 2.7e6, "persons"),
    ("MOHRSS-05", "poor_laborers_trained", "national", "2016-2020", "actual", 10e6, "persons"),
    # mohrss_briefing_2021: "Throughout the year, a total of 440,000 people were employed
    # through poverty alleviation workshops, and 5.02 million were placed through public
    # welfare positions."
    ("MOHRSS-06", "workshop_jobs", "national", "2020", "actual", 440_000, "persons"),
    ("MOHRSS-07", "public_welfare_post_placements", "national", "2020", "actual", 5.02e6,
     "persons"),
    # mohrss_briefing_2021: "... 'leave home, get in the car, and enter the factory',
    # transporting 1.6 million poor laborers."
    ("MOHRSS-08", "organized_transport_poor_laborers", "national", "2020", "actual", 1.6e6,
     "persons"),
]
# Calibration tolerances at N_PERSONS (about 22,700 households, 6,600 persons ever trained,
# 21,500 working outside the county in 2020). Each is about four standard errors of the
# sampling noise. Channel counts are aligned exactly, so their only error is rounding.
TOLERANCES = {
    "working_away_index": ("rel", 0.04),  # ratio of two shares of >= 10,000 persons: ~1%
    "households_with_migrant_work_share": ("abs", 0.0125),  # sqrt(.22 / 22700) = 0.0031
    "channel_ratio": ("rel", 0.01),  # rounding of a count >= 250
    # sqrt(.87 / 6600) = 1.15% for the trained, sqrt(.57 / 21500) = 0.5% for working away
    "trained_per_working_away": ("rel", 0.05),
    "training_share_last_year": ("abs", 0.001),  # exact shares: rounding, 1 / 13200
    "employment_assistance_share": ("abs", 0.0065),  # sqrt(.062 * .938 / 22700) = 0.0016
}
ASSISTANCE = ["workshop_job", "public_welfare_post", "organized_labor_export",
              "employment_services"]
# The documented slopes of the employment-services index (module docstring).
SERVICES_SLOPES = {"schooling": -0.05, "age": 0.2, "disability": 0.4, "female": 0.1}


@pytest.fixture(scope="module")
def ledger() -> pd.DataFrame:
    return pd.DataFrame(LEDGER_ROWS, columns=LEDGER_COLUMNS)


@pytest.fixture(scope="module")
def targets(ledger) -> CalibrationTargets:
    return calibration_targets_from_ledger(ledger)


@pytest.fixture(scope="module")
def provinces() -> pd.DataFrame:
    return pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})


@pytest.fixture(scope="module")
def simulated(provinces, targets):
    return simulate_panel(provinces, targets, n_persons=N_PERSONS, seed=SEED)


@pytest.fixture(scope="module")
def no_effects(provinces, targets):
    """The same model with every planted effect set to zero."""
    params = ModelParameters(stable_effect=(0.0, 0.0), outside_effect=(0.0, 0.0))
    return simulate_panel(provinces, targets, n_persons=200_000, seed=SEED, params=params)


def post_training(panel: pd.DataFrame) -> pd.Series:
    first = panel["first_trained_year"]
    return (first.notna() & (panel["year"] >= first)).fillna(False).astype(bool)


# ----------------------------------------------------------------------------------------------
# Targets from the ledger


def test_targets_are_read_and_derived_from_the_ledger(targets):
    assert targets.working_away_by_year == pytest.approx(
        {2016: 15.27e6, 2019: 29.73e6 / 1.089, 2020: 32.43e6})
    assert targets.employment_assistance_share == pytest.approx(0.938)
    assert targets.households_with_migrant_work_share == pytest.approx(2 / 3)
    assert targets.training_share_last_year() == pytest.approx(0.27)
    assert targets.channel_ratios()["public_welfare_post"] == pytest.approx(5.02 / 32.43)
    assert targets.source_figure_ids["working_away_2019"] == ["SCIO-01", "SCIO-02"]
    assert targets.source_figure_ids["households_with_migrant_work_share"] == [
        "published (SCIO 2020), slug to be linked"]


@pytest.mark.parametrize("indicator, period", [
    ("workshop_jobs", "2020"),
    ("poor_laborers_working_away_relative_to_previous_year", "2020-10"),
    ("poor_laborers_trained", "2016-2020"),
])
def test_missing_ledger_row_is_named(ledger, indicator, period):
    incomplete = ledger[~((ledger["indicator"] == indicator) & (ledger["period"] == period))]
    with pytest.raises(FigureNotFoundError, match=f"{indicator}.*{period}"):
        calibration_targets_from_ledger(incomplete)


def test_ledger_row_without_a_value_is_refused(ledger):
    garbled = ledger.copy()
    garbled.loc[garbled["indicator"] == "workshop_jobs", "value"] = np.nan
    with pytest.raises(FigureNotFoundError, match="MOHRSS-06.*no value"):
        calibration_targets_from_ledger(garbled)


def test_migrant_household_share_can_come_from_a_ledger_row(ledger):
    # scio_press_conference_2020: "At present, two-thirds of poor families have been involved
    # in migrant work."
    row = ("SCIO-03", "poor_families_with_migrant_work_share", "national", "2020-11", "actual",
           2 / 3, "fraction")
    extended = pd.concat([ledger, pd.DataFrame([row], columns=LEDGER_COLUMNS)])
    targets = calibration_targets_from_ledger(extended, households_with_migrant_work_figure=(
        "poor_families_with_migrant_work_share", "2020-11"))
    assert targets.households_with_migrant_work_share == pytest.approx(2 / 3)
    assert targets.source_figure_ids["households_with_migrant_work_share"] == ["SCIO-03"]


def test_ratio_units_are_read_not_assumed(ledger):
    relative = ledger["indicator"] == "poor_laborers_working_away_relative_to_previous_year"
    as_index = ledger.copy()
    as_index.loc[relative, "unit"] = "index"  # 108.9 with last year = 100
    targets = calibration_targets_from_ledger(as_index)
    assert targets.working_away_by_year[2019] == pytest.approx(29.73e6 / 1.089)
    as_count = ledger.copy()
    as_count.loc[relative, "unit"] = "count"
    with pytest.raises(ValueError, match="SCIO-02.*'count'"):
        calibration_targets_from_ledger(as_count)


# ----------------------------------------------------------------------------------------------
# The panel


def test_panel_passes_the_schema(simulated):
    PanelSchema.validate(simulated.panel, lazy=True)
    assert len(simulated.panel) == N_PERSONS * 5


def test_same_seed_same_panel_other_seed_other_panel(provinces, targets):
    first = simulate_panel(provinces, targets, n_persons=2_000, seed=11)
    again = simulate_panel(provinces, targets, n_persons=2_000, seed=11)
    other = simulate_panel(provinces, targets, n_persons=2_000, seed=12)
    pd.testing.assert_frame_equal(first.panel, again.panel)
    pd.testing.assert_frame_equal(first.truth, again.truth)
    pd.testing.assert_frame_equal(first.calibration, again.calibration)
    assert not first.panel.equals(other.panel)
    assert not first.panel["months_worked"].equals(other.panel["months_worked"])


def test_panel_structure(simulated):
    panel = simulated.panel
    laborers = panel.groupby("household_id")["person_id"].nunique()
    assert laborers.between(1, 4).all() and set(laborers) == {1, 2, 3, 4}
    assert (panel["household_size"] >= panel["household_id"].map(laborers)).all()
    by_person = panel.groupby("person_id")
    assert (by_person["age"].diff().dropna() == 1).all()
    assert (by_person["first_trained_year"].nunique(dropna=False) == 1).all()
    trained_years = panel.loc[panel["trained"]]
    assert (trained_years["year"] == trained_years["first_trained_year"]).all()
    assert trained_years["person_id"].is_unique
    assert panel["first_trained_year"].dropna().between(2016, 2020).all()
    assert ((panel["months_worked"] * 2) % 1 == 0).all()
    assert ((panel["wage_income"] > 0) == (panel["months_worked"] > 0)).all()
    assert (panel["county_id"] // 10_000 == panel["province_code"].astype(int)).all()
    channels = panel[["workshop_job", "public_welfare_post", "organized_labor_export"]]
    assert (channels.sum(axis=1) <= 1).all()
    assert (panel["organized_labor_export"] <= panel["worked_outside_county"]).all()
    local = panel["workshop_job"] | panel["public_welfare_post"]
    assert not (local & panel["worked_outside_county"]).any()
    assert (panel.loc[panel["worked_outside_county"], "months_worked"] > 0).all()
    columns = list(panel.columns)
    assert columns.index("employment_services") == columns.index("organized_labor_export") + 1
    assert panel["employment_services"].dtype == bool
    # Services may come on top of a channel: they are not a fourth exclusive channel.
    assert (panel["employment_services"] & channels.any(axis=1)).any()


def test_selection_runs_through_the_documented_covariates(simulated):
    person = simulated.panel.groupby("person_id").first()
    ever = person["first_trained_year"].notna()
    assert person.loc[ever, "schooling_years"].mean() > person.loc[~ever, "schooling_years"].mean()
    assert person.loc[ever, "age"].mean() < person.loc[~ever, "age"].mean()
    disabled = person["disability_or_weak_labor"]
    assert ever[disabled].mean() < ever[~disabled].mean()


def test_years_must_lie_on_the_published_trajectory_and_end_in_2020(provinces, targets):
    with pytest.raises(ValueError, match="ending in 2020"):
        simulate_panel(provinces, targets, n_persons=500, years=(2016, 2019))
    with pytest.raises(ValueError, match="outside the published"):
        simulate_panel(provinces, targets, n_persons=500, years=(2015, 2020))
    short = simulate_panel(provinces, targets, n_persons=2_000, years=(2018, 2020))
    PanelSchema.validate(short.panel, lazy=True)
    assert sorted(short.panel["year"].unique()) == [2018, 2019, 2020]
    assert (short.panel["first_trained_year"].dropna() < 2018).any()


def test_months_mapping_is_linear_in_the_stable_probability():
    params = ModelParameters()
    unstable_mean, stable_mean = params.months_means()
    u = (np.arange(200_000) + 0.5) / 200_000
    for q in (0.1, 0.45, 0.9):
        months = _months_worked(u, np.full(len(u), q), params)
        assert ((months >= 6) == (u < q)).all()
        works = 1 - params.zero_month_share_of_unstable * (1 - q)
        assert ((months > 0) == (u < works)).all()
        assert months.mean() == pytest.approx(unstable_mean + (stable_mean - unstable_mean) * q,
                                              abs=1e-3)


def test_province_draws_do_not_depend_on_the_number_of_persons(provinces, targets):
    small = simulate_panel(provinces, targets, n_persons=1_000, seed=SEED)
    large = simulate_panel(provinces, targets, n_persons=3_000, seed=SEED)
    assert small.parameters["provinces"] == large.parameters["provinces"]


# ----------------------------------------------------------------------------------------------
# Calibration, recomputed from the panel


def recomputed_aggregates(panel: pd.DataFrame) -> dict[str, float]:
    """The calibrated aggregates, computed from the panel alone with pandas."""
    outside = panel.groupby("year")["worked_outside_county"].mean()
    now = panel[panel["year"] == 2020]
    n_outside = now["worked_outside_county"].sum()
    trained = now["first_trained_year"].notna().to_numpy()
    assisted = now[ASSISTANCE].any(axis=1).to_numpy()
    reached = pd.Series(trained | assisted).groupby(now["household_id"].to_numpy())
    first_years = now["first_trained_year"].dropna()
    return {
        "working_away_index_2016": outside[2016] / outside[2020],
        "working_away_index_2019": outside[2019] / outside[2020],
        "households_with_migrant_work_share":
            now.groupby("household_id")["worked_outside_county"].max().mean(),
        "workshop_job_per_working_away": now["workshop_job"].sum() / n_outside,
        "public_welfare_post_per_working_away": now["public_welfare_post"].sum() / n_outside,
        "organized_labor_export_per_working_away":
            now["organized_labor_export"].sum() / n_outside,
        "employment_assistance_share": reached.max().mean(),
        "training_share_last_year": (first_years == 2020).mean(),
        "trained_per_working_away": trained.sum() / n_outside,
    }


def tolerance_for(aggregate: str) -> tuple[str, float]:
    if aggregate in TOLERANCES:
        return TOLERANCES[aggregate]
    if aggregate.startswith("working_away_index"):
        return TOLERANCES["working_away_index"]
    if aggregate.endswith("_per_working_away"):
        return TOLERANCES["channel_ratio"]
    raise KeyError(aggregate)


def test_calibrated_aggregates_match_published_targets(simulated, targets):
    published = {
        "working_away_index_2016": 15.27 / 32.43,
        "working_away_index_2019": 29.73 / 1.089 / 32.43,
        "households_with_migrant_work_share": 2 / 3,
        "workshop_job_per_working_away": 0.44 / 32.43,
        "public_welfare_post_per_working_away": 5.02 / 32.43,
        "organized_labor_export_per_working_away": 1.6 / 32.43,
        "employment_assistance_share": 0.938,
        "training_share_last_year": 2.7 / 10,
        "trained_per_working_away": 10 / 32.43,
    }
    simulated_values = recomputed_aggregates(simulated.panel)
    for aggregate, target in published.items():
        kind, tolerance = tolerance_for(aggregate)
        error = abs(simulated_values[aggregate] - target)
        assert error <= tolerance * (abs(target) if kind == "rel" else 1), (
            f"{aggregate}: simulated {simulated_values[aggregate]:.4f}, target {target:.4f}")


def test_calibration_table_reports_the_panel(simulated):
    table = simulated.calibration.set_index("aggregate")
    recomputed = recomputed_aggregates(simulated.panel)
    assert set(table.index) == set(recomputed)
    for aggregate, value in recomputed.items():
        assert table.loc[aggregate, "simulated"] == pytest.approx(value, rel=1e-12)
    assert table["error"].to_numpy() == pytest.approx(
        (table["simulated"] - table["target"]).to_numpy())
    assert table.loc["employment_assistance_share", "figure_ids"] == "MOHRSS-03"
    assert table.loc["trained_per_working_away", "figure_ids"] == "MOHRSS-05;MOHRSS-02"
    assert table["targeted"].all()  # the training volume and the coverage are both targeted
    assert table.loc["trained_per_working_away", "target"] == pytest.approx(10 / 32.43)
    for aggregate, row in table.iterrows():
        kind, tolerance = tolerance_for(aggregate)
        assert row["abs_error" if kind == "abs" else "rel_error"] <= tolerance, aggregate


def test_training_is_rare_and_employment_services_carry_the_coverage(simulated):
    """Training is rare (its published volume); employment services carry the coverage."""
    panel, record = simulated.panel, simulated.parameters["calibrated"]
    person = panel[panel["year"] == 2020]
    ever_trained = person["first_trained_year"].notna()
    assert 0.08 < ever_trained.mean() < 0.2  # ~10/32.43 of the ~43% working away
    assert ever_trained.mean() == pytest.approx(record["mean_take_up_probability"], abs=0.006)
    channels = person[["workshop_job", "public_welfare_post", "organized_labor_export"]]
    households = person["household_id"]
    without = (ever_trained | channels.any(axis=1)).groupby(households).any().mean()
    with_services = (ever_trained | person[ASSISTANCE].any(axis=1)).groupby(households).any()
    # "well under half" (module docstring); sqrt(.24 / 22700) = 0.0033
    assert without < 0.5
    assert without == pytest.approx(record["expected_households_reached_without_services"],
                                    abs=0.013)
    assert with_services.mean() - without > 0.4
    services_by_year = panel.groupby("year")["employment_services"].mean()
    assert services_by_year.to_numpy() == pytest.approx(  # sqrt(.18 / 50000) = 0.0019
        record["mean_employment_services_probability"], abs=0.008)


def test_employment_services_depend_on_the_documented_covariates_only(simulated):
    """A logit recovers the documented slopes and finds no trace of training or outcomes."""
    panel = simulated.panel
    data = pd.DataFrame({
        "services": panel["employment_services"].astype(float),
        "schooling": panel["schooling_years"].astype(float) - 9,
        "age": (panel["age"].astype(float) - (panel["year"] - 2016) - 38) / 10,  # from age0
        "disability": panel["disability_or_weak_labor"].astype(float),
        "female": panel["female"].astype(float),
        "household_size": panel["household_size"].astype(float) - 4,
        "ever_trained": panel["first_trained_year"].notna().astype(float),
        "post": post_training(panel).astype(float),
        "stable": panel["stable_employment"].astype(float),
        "outside": panel["worked_outside_county"].astype(float),
        "year": panel["year"].astype(int)})
    fit = smf.logit("services ~ schooling + age + I(age**2) + disability + female"
                    " + household_size + ever_trained + post + stable + outside + C(year)",
                    data).fit(disp=0)
    expected = {**SERVICES_SLOPES, "Intercept":
                simulated.parameters["calibrated"]["employment_services_intercept"]}
    for name in fit.params.index:  # every other coefficient is zero in the model
        gap = fit.params[name] - expected.get(name, 0.0)
        assert abs(gap) < 4 * fit.bse[name], f"{name}: {fit.params[name]:+.3f}"
    # Fresh draws every year: P(services in 2019 and 2020) = E[sigma^2], not E[sigma].
    wide = panel.pivot(index="person_id", columns="year", values="employment_services")
    sigma = pd.Series(fit.predict(data), index=data.index)[panel["year"] == 2020].to_numpy()
    both = (wide[2019] & wide[2020]).mean()
    assert both == pytest.approx((sigma**2).mean(), abs=0.009)  # sqrt(.25 / 50000) = 0.0022


# ----------------------------------------------------------------------------------------------
# The planted truth


def test_truth_cells_count_the_treated_person_years(simulated):
    panel = simulated.panel
    treated = panel[post_training(panel)]
    counts = treated.groupby(["province_code", "first_trained_year", "year"],
                             observed=True).size()
    truth = simulated.truth.set_index(["province_code", "first_trained_year", "year"])
    assert truth["n_treated"].sum() == len(treated)
    pd.testing.assert_series_equal(truth["n_treated"].sort_index(), counts.sort_index(),
                                   check_names=False, check_dtype=False, check_index_type=False)
    assert (truth["event_time"] == truth.index.get_level_values("year")
            - truth.index.get_level_values("first_trained_year")).all()


def test_planted_effects_recomputed_from_the_parameter_record(simulated):
    params = simulated.parameters
    provinces = params["provinces"]
    at_training, long_run = params["illustrative"]["stable_effect"]
    decay = params["illustrative"]["effect_gap_decay"]
    truth = simulated.truth
    multiplier = truth["province_code"].astype(str).map(
        {code: p["stable_effect_multiplier"] for code, p in provinces.items()})
    path = long_run - (long_run - at_training) * decay ** truth["event_time"]
    assert truth["planted_stable_employment"].to_numpy() == pytest.approx(
        (multiplier * path).to_numpy())
    multipliers = [p["stable_effect_multiplier"] for p in provinces.values()]
    assert np.mean(multipliers) == pytest.approx(1.0)
    assert np.ptp(multipliers) > 0.1  # effects really differ by province


def test_truth_agrees_with_the_planted_effects(simulated):
    overall = true_effects(simulated.truth).iloc[0]
    assert 0.08 < overall["att"] < 0.14
    assert overall["att"] == pytest.approx(overall["planted"], abs=0.01)
    dynamic = true_effects(simulated.truth, by=["event_time"]).set_index("event_time")
    # Y(1) - Y(0) of a treated person-year is Bernoulli(planted): four standard errors.
    noise = np.sqrt(dynamic["planted"] * (1 - dynamic["planted"]) / dynamic["n_treated"])
    assert (abs(dynamic["att"] - dynamic["planted"]) < 4 * noise).all(), dynamic
    assert dynamic.loc[0, "att"] == pytest.approx(0.08, abs=0.015)
    assert dynamic.loc[4, "att"] > dynamic.loc[0, "att"] + 0.03
    for outcome in ("months_worked", "worked_outside_county"):
        row = true_effects(simulated.truth, outcome=outcome).iloc[0]
        assert row["att"] == pytest.approx(row["planted"], rel=0.15)
    assert true_effects(simulated.truth, outcome="wage_income").iloc[0]["att"] > 0


def test_zero_planted_effects_give_exactly_zero_truth(no_effects):
    att_columns = [column for column in no_effects.truth if column.startswith("att_")]
    assert (no_effects.truth[att_columns] == 0).all().all()


@pytest.mark.parametrize("outcome", ["stable_employment", "worked_outside_county"])
def test_trends_are_parallel_without_training_effects(no_effects, outcome):
    """Without effects, the 2016-2020 change is the same in any time-invariant group."""
    panel = no_effects.panel
    wide = panel.pivot(index="person_id", columns="year", values=outcome).astype(float)
    change = wide[2020] - wide[2016]
    person = panel[panel["year"] == 2020].set_index("person_id")
    never = person["first_trained_year"].isna()
    groups = {"ever trained": ~never, "disabled": person["disability_or_weak_labor"],
              "schooling <= 6": person["schooling_years"] <= 6, "female": person["female"]}
    for name, group in groups.items():  # each group has >= 25,000 persons: noise sd ~0.004
        gap = change[group].mean() - change[~group].mean()
        assert abs(gap) < 0.012, f"{outcome}: {name} changes by {gap:+.4f} more"
    for cohort in range(2016, 2021):
        gap = change[person["first_trained_year"] == cohort].mean() - change[never].mean()
        assert abs(gap) < 0.025, f"{outcome}: cohort {cohort} changes by {gap:+.4f} more"
    assert change.mean() > 0.03  # the common year effect is there to be differenced out


def test_true_effects_weights_cells_by_treated_persons(simulated):
    truth = simulated.truth
    by_province = true_effects(truth, by=["province_code"], outcome="worked_outside_county")
    assert len(by_province) == 22
    first = truth[truth["province_code"] == by_province["province_code"].iloc[0]]
    expected = np.average(first["att_worked_outside_county"], weights=first["n_treated"])
    assert by_province["att"].iloc[0] == pytest.approx(expected)
    overall = true_effects(truth).iloc[0]
    assert overall["n_treated"] == truth["n_treated"].sum()
    assert overall["att"] == pytest.approx(np.average(truth["att_stable_employment"],
                                                      weights=truth["n_treated"]))
    with pytest.raises(ValueError, match="unknown outcome"):
        true_effects(truth, outcome="happiness")
    with pytest.raises(ValueError, match="county_id"):
        true_effects(truth, by=["county_id"])


# ----------------------------------------------------------------------------------------------
# Selection bias and adjustment


def test_naive_comparison_is_biased_upward_and_adjustment_recovers_the_truth(simulated):
    panel = simulated.panel
    post = post_training(panel)
    truth = true_effects(simulated.truth).iloc[0]["att"]
    stable = panel["stable_employment"].astype(float)
    naive = stable[post].mean() - stable[~post].mean()
    data = pd.DataFrame({
        "stable": stable, "post": post.astype(float), "age": panel["age"].astype(float),
        "schooling": panel["schooling_years"].astype(float),
        "disability": panel["disability_or_weak_labor"].astype(float),
        "female": panel["female"].astype(float),
        "household_size": panel["household_size"].astype(float),
        "year": panel["year"].astype(int), "province": panel["province_code"].astype(str)})
    adjusted = smf.ols("stable ~ post + age + I(age**2) + schooling + disability + female"
                       " + household_size + C(year) + C(province)", data).fit().params["post"]
    assert naive > truth + 0.025
    assert abs(adjusted - truth) < 0.4 * (naive - truth)
    assert abs(adjusted - truth) < 0.015


def test_parameter_record_is_complete_and_json_ready(simulated):
    record = simulated.parameters
    json.dumps(record)
    assert set(record) >= {"run", "published_targets", "calibrated", "illustrative",
                           "provinces"}
    assert record["run"] == {"n_persons": N_PERSONS, "years": [2016, 2020], "seed": SEED}
    assert record["calibrated"]["training_year_weights"]["2020"] == pytest.approx(0.27)
    assert len(record["provinces"]) == 22
