"""Tests of the demonstration-panel simulator (analysis/data/simulator)."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from analysis import config
from analysis.data import simulate, simulator
from analysis.data.ledger import FigureNotFoundError
from analysis.data.schemas import PanelSchema
from analysis.data.simulator import (
    OUTCOMES,
    PROGRAMS,
    CalibrationTargets,
    ModelParameters,
    calibration_targets_from_ledger,
    parameter_table,
    simulate_panel,
    true_effects,
)
from analysis.data.simulator.outcomes import months_worked

# About 22,700 households; training reaches some 6,500 persons, workshop jobs only ~290.
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
# Calibration tolerances at N_PERSONS (about 22,700 households, 21,500 working outside the
# county in 2020). Each is about four standard errors of the sampling noise. Program counts
# are exact, so their only error is rounding.
TOLERANCES = {
    "working_away_index": ("rel", 0.04),  # ratio of two shares of >= 10,000 persons: ~1%
    "households_with_migrant_work_share": ("abs", 0.0125),  # sqrt(.22 / 22700) = 0.0031
    "channel_ratio": ("rel", 0.01),  # rounding of a count >= 250
    "trained_per_working_away": ("rel", 0.05),
    "training_share_last_year": ("abs", 0.001),  # exact shares: rounding, 1 / 13200
    "employment_assistance_share": ("abs", 0.0065),  # sqrt(.062 * .938 / 22700) = 0.0016
}
CHANNELS = ["workshop_job", "public_welfare_post", "organized_labor_export"]
ASSISTANCE = [*CHANNELS, "employment_services"]
COVARIATES = ["schooling", "age", "age_squared", "disability", "female", "household_size"]
# The documented take-up slopes and planted effects (the package docstring's tables).
TAKE_UP_SLOPES = {
    "training": [0.25, -0.4, 0.0, -1.5, -0.2, 0.0],
    "workshop_job": [-0.05, 0.2, -0.4, -0.2, 0.9, 0.25],
    "public_welfare_post": [-0.15, 0.5, 0.0, 1.2, 0.4, 0.0],
    "organized_labor_export": [0.05, -0.7, -0.2, -1.5, -0.9, -0.1],
}
STABLE_EFFECT = {"training": (0.14, 0.25), "workshop_job": (0.35, 0.35),
                 "public_welfare_post": (0.30, 0.30), "organized_labor_export": (0.15, 0.20)}
SERVICES_SLOPES = {"schooling": -0.05, "age": 0.2, "disability": 0.4, "female": 0.1}
# E[months] = 2.4 + 7.65 qS: unstable person-years average 0.8 x 3.0 months, stable ones
# 0.4 x 12 + 0.6 x 8.75 = 10.05.
MONTHS_PER_STABLE_POINT = 10.05 - 2.4


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
    params = ModelParameters().without_effects()
    return simulate_panel(provinces, targets, n_persons=150_000, seed=SEED, params=params)


@pytest.fixture(scope="module")
def to_2025(provinces, targets):
    return simulate_panel(provinces, targets, n_persons=20_000, seed=SEED, years=(2016, 2025))


@pytest.fixture(scope="module")
def from_2021(provinces, targets):
    return simulate_panel(provinces, targets, n_persons=20_000, seed=SEED, years=(2021, 2025))


def first_receipt(panel: pd.DataFrame) -> pd.DataFrame:
    """Each person's first receipt year of every program, read from the panel alone."""
    person = panel.groupby("person_id")
    first = pd.DataFrame({program: panel["year"].where(panel[program]).groupby(
        panel["person_id"]).min() for program in ASSISTANCE})
    first["training"] = person["first_trained_year"].first().astype(float)
    return first[list(PROGRAMS)]


def person_covariates(panel: pd.DataFrame) -> pd.DataFrame:
    """Centred covariates per person (age in 2016 from the first panel year)."""
    person = panel.groupby("person_id").first()
    age = (person["age"] - (person["year"] - 2016) - 38) / 10
    return pd.DataFrame({
        "schooling": person["schooling_years"].astype(float) - 9, "age": age,
        "age_squared": age**2, "disability": person["disability_or_weak_labor"].astype(float),
        "female": person["female"].astype(float),
        "household_size": person["household_size"].astype(float) - 4})


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
        "published in the SCIO 2020 press conference; no ledger row"]


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
    assert first.parameters == again.parameters
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
    assert ((panel["months_worked"] * 2) % 1 == 0).all()
    assert ((panel["wage_income"] > 0) == (panel["months_worked"] > 0)).all()
    assert (panel["county_id"] // 10_000 == panel["province_code"].astype(int)).all()
    assert (panel.loc[panel["worked_outside_county"], "months_worked"] > 0).all()
    columns = list(panel.columns)
    assert columns.index("employment_services") == columns.index("organized_labor_export") + 1
    # Services may come on top of a channel: they are not a fourth exclusive channel.
    assert (panel["employment_services"] & panel[CHANNELS].any(axis=1)).any()


def test_channels_are_exclusive_absorbing_and_staggered(simulated):
    panel = simulated.panel
    ever = panel.groupby("person_id")[CHANNELS].any()
    assert (ever.sum(axis=1) <= 1).all()  # one channel per person at most
    for channel in CHANNELS:
        wide = panel.pivot(index="person_id", columns="year", values=channel)
        assert (wide.astype(int).diff(axis=1).iloc[:, 1:] >= 0).all().all(), channel
    first = first_receipt(panel)
    for program in PROGRAMS:
        years = first[program].value_counts()
        assert set(years.index) == set(range(2016, 2021)), program  # every cohort present
        assert first[program].isna().any(), program  # and never-treated persons
    # Channel cohorts get equal shares (exact up to rounding).
    for channel in CHANNELS:
        counts = first[channel].value_counts()
        assert counts.max() - counts.min() <= 1, channel


def test_selection_runs_through_the_documented_covariates(simulated):
    """Take-up by 2020 on the covariates recovers each program's documented slopes."""
    panel = simulated.panel
    x = person_covariates(panel)
    first = first_receipt(panel)
    exog = sm.add_constant(x[COVARIATES])
    trained = first["training"].notna().astype(float)
    fit = sm.Logit(trained, exog).fit(disp=0)
    for name, slope in zip(COVARIATES, TAKE_UP_SLOPES["training"]):
        assert abs(fit.params[name] - slope) < 4 * fit.bse[name], ("training", name)
    channel = np.select([first[c].notna() for c in CHANNELS], [1, 2, 3], 0)
    fit = sm.MNLogit(channel, exog).fit(disp=0, method="newton", maxiter=100)
    for k, name in enumerate(CHANNELS):
        for covariate, slope in zip(COVARIATES, TAKE_UP_SLOPES[name]):
            estimate, se = fit.params.loc[covariate, k], fit.bse.loc[covariate, k]
            assert abs(estimate - slope) < 4 * se, (name, covariate, estimate)
    # The sources' descriptions, read off the panel directly.
    person = panel.groupby("person_id").first()
    disabled, female = person["disability_or_weak_labor"], person["female"]
    posts = first["public_welfare_post"].notna()
    export = first["organized_labor_export"].notna()
    workshop = first["workshop_job"].notna()
    assert posts[disabled].mean() > 2 * posts[~disabled].mean()
    assert export[female].mean() < 0.6 * export[~female].mean()
    assert workshop[female].mean() > 1.5 * workshop[~female].mean()
    assert export[disabled].mean() < 0.5 * export[~disabled].mean()


def test_months_mapping_is_linear_in_the_stable_probability():
    params = ModelParameters()
    u = (np.arange(200_000) + 0.5) / 200_000
    for q in (0.1, 0.45, 0.9):
        months = months_worked(u, np.full(len(u), q), params)
        assert ((months >= 6) == (u < q)).all()
        assert ((months > 0) == (u < 1 - 0.2 * (1 - q))).all()
        assert months.mean() == pytest.approx(2.4 + MONTHS_PER_STABLE_POINT * q, abs=1e-3)


def test_province_draws_do_not_depend_on_the_number_of_persons(provinces, targets):
    small = simulate_panel(provinces, targets, n_persons=1_000, seed=SEED)
    large = simulate_panel(provinces, targets, n_persons=3_000, seed=SEED)
    assert small.parameters["provinces"] == large.parameters["provinces"]


def test_province_multipliers_average_one_and_differ(simulated):
    provinces = simulated.parameters["provinces"]
    assert len(provinces) == 22
    for program in STABLE_EFFECT:
        multipliers = [p["effect_multiplier"][program] for p in provinces.values()]
        assert np.mean(multipliers) == pytest.approx(1.0)
        assert np.ptp(multipliers) > 0.1, program


# ----------------------------------------------------------------------------------------------
# Years


def test_years_must_start_on_the_published_trajectory(provinces, targets):
    with pytest.raises(ValueError, match="before 2016"):
        simulate_panel(provinces, targets, n_persons=500, years=(2015, 2020))
    with pytest.raises(ValueError, match="increasing range"):
        simulate_panel(provinces, targets, n_persons=500, years=(2020, 2018))
    with pytest.raises(ValueError, match="increasing range"):
        simulate_panel(provinces, targets, n_persons=500, years=(2016, 2040))


@pytest.mark.parametrize("fixture, first, last", [("to_2025", 2016, 2025),
                                                  ("from_2021", 2021, 2025)])
def test_later_years_work(request, fixture, first, last):
    result = request.getfixturevalue(fixture)
    panel, truth = result.panel, result.truth
    PanelSchema.validate(panel, lazy=True)
    assert sorted(panel["year"].unique()) == list(range(first, last + 1))
    assert truth["year"].between(first, last).all()
    assert set(truth["program"]) == set(PROGRAMS)
    # Calibrated on 2016-2020 even when those years are not returned.
    table = result.calibration.set_index("aggregate")
    assert table.loc["public_welfare_post_per_working_away", "rel_error"] < 0.02
    assert table.loc["employment_assistance_share", "abs_error"] < 0.02
    # Take-up goes on after 2020, with exclusive channels.
    first_years = truth.groupby(["program", "person_id"])["first_year"].first()
    for program in ("training", "public_welfare_post", "organized_labor_export"):
        assert (first_years[program] > 2020).any(), program
    assert (panel.groupby("person_id")[CHANNELS].any().sum(axis=1) <= 1).all()


def test_a_later_panel_follows_the_same_people(to_2025, from_2021):
    later_part = to_2025.panel[to_2025.panel["year"] >= 2021].reset_index(drop=True)
    pd.testing.assert_frame_equal(later_part, from_2021.panel)
    truth = to_2025.truth[to_2025.truth["year"] >= 2021].reset_index(drop=True)
    pd.testing.assert_frame_equal(truth, from_2021.truth)
    # Already treated when the panel opens: truth rows with first receipts before 2021.
    assert (from_2021.truth["first_year"] < 2021).any()
    assert (from_2021.truth["event_time"] == from_2021.truth["year"]
            - from_2021.truth["first_year"]).all()


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


def test_calibrated_aggregates_match_published_targets(simulated):
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
    assert table["targeted"].all()


def test_training_is_rare_and_employment_services_carry_the_coverage(simulated):
    panel, record = simulated.panel, simulated.parameters["calibrated"]
    person = panel[panel["year"] == 2020]
    ever_trained = person["first_trained_year"].notna()
    assert 0.08 < ever_trained.mean() < 0.2  # ~10/32.43 of the ~43% working away
    assert ever_trained.mean() == pytest.approx(
        record["mean_take_up_probability"]["training"], abs=0.006)
    households = person["household_id"]
    without = (ever_trained | person[CHANNELS].any(axis=1)).groupby(households).any().mean()
    with_services = (ever_trained | person[ASSISTANCE].any(axis=1)).groupby(households).any()
    assert without < 0.5  # "about two households in five"; sqrt(.24 / 22700) = 0.0033
    assert without == pytest.approx(record["expected_households_reached_without_services"],
                                    abs=0.013)
    assert with_services.mean() - without > 0.4
    services_by_year = panel.groupby("year")["employment_services"].mean()
    assert services_by_year.to_numpy() == pytest.approx(  # sqrt(.18 / 50000) = 0.0019
        record["mean_employment_services_probability"], abs=0.008)


def test_employment_services_depend_on_the_documented_covariates_only(simulated):
    """A logit recovers the documented slopes and finds no trace of programs or outcomes."""
    panel = simulated.panel
    age = (panel["age"].astype(float) - (panel["year"] - 2016) - 38) / 10
    data = pd.DataFrame({
        "services": panel["employment_services"].astype(float),
        "schooling": panel["schooling_years"].astype(float) - 9, "age": age,
        "disability": panel["disability_or_weak_labor"].astype(float),
        "female": panel["female"].astype(float),
        "household_size": panel["household_size"].astype(float) - 4,
        "ever_trained": panel["first_trained_year"].notna().astype(float),
        "post": panel["public_welfare_post"].astype(float),
        "export": panel["organized_labor_export"].astype(float),
        "stable": panel["stable_employment"].astype(float),
        "outside": panel["worked_outside_county"].astype(float),
        "year": panel["year"].astype(int)})
    fit = smf.logit("services ~ schooling + age + I(age**2) + disability + female"
                    " + household_size + ever_trained + post + export + stable + outside"
                    " + C(year)", data).fit(disp=0)
    expected = {**SERVICES_SLOPES, "Intercept":
                simulated.parameters["calibrated"]["employment_services_intercept"]}
    for name in fit.params.index:  # every other coefficient is zero in the model
        gap = fit.params[name] - expected.get(name, 0.0)
        assert abs(gap) < 4 * fit.bse[name], f"{name}: {fit.params[name]:+.3f}"


# ----------------------------------------------------------------------------------------------
# The planted truth


def test_truth_has_one_row_per_post_receipt_person_year(simulated):
    truth = simulated.truth
    assert list(truth.columns) == [
        "program", "person_id", "year", "province_code", "first_year", "event_time",
        *(f"effect_{outcome}" for outcome in OUTCOMES)]
    assert truth["person_id"].dtype == np.int64
    assert truth["province_code"].str.fullmatch(r"\d{2}").all()
    assert not truth.duplicated(["program", "person_id", "year"]).any()
    panel = simulated.panel
    first = first_receipt(panel)
    for program in PROGRAMS:
        rows = truth[truth["program"] == program]
        g = panel["person_id"].map(first[program])
        expected = panel.loc[g.notna() & (panel["year"] >= g), ["person_id", "year"]]
        got = rows[["person_id", "year"]]
        pd.testing.assert_frame_equal(
            got.sort_values(["person_id", "year"]).reset_index(drop=True),
            expected.astype(np.int64).sort_values(["person_id", "year"]).reset_index(drop=True))
        assert (rows["first_year"].to_numpy() == rows["person_id"].map(first[program])).all()
    assert (truth["event_time"] == truth["year"] - truth["first_year"]).all()
    merged = truth.merge(panel[["person_id", "year", "province_code"]],
                         on=["person_id", "year"], suffixes=("", "_panel"))
    assert len(merged) == len(truth)
    assert (merged["province_code"] == merged["province_code_panel"].astype(str)).all()


def test_counterfactuals_keep_the_panel_rules(simulated):
    truth = simulated.truth.merge(simulated.panel, on=["person_id", "year"],
                                  suffixes=("", "_panel"))
    without = {outcome: truth[outcome].astype(float) - truth[f"effect_{outcome}"]
               for outcome in OUTCOMES}
    assert ((without["months_worked"] >= 6) == (without["stable_employment"] == 1)).all()
    assert without["stable_employment"].isin([0, 1]).all()
    assert without["worked_outside_county"].isin([0, 1]).all()
    assert (without["worked_outside_province"] <= without["worked_outside_county"]).all()
    assert without["months_worked"].between(0, 12).all()
    assert ((without["months_worked"] * 2) % 1 == 0).all()
    assert (without["wage_income"] >= 0).all()
    assert ((without["wage_income"] > 0) == (without["months_worked"] > 0)).all()
    assert (without["worked_outside_county"] <= (without["months_worked"] > 0)).all()
    # Every program raises the stable-employment probability: with the same shock U, months
    # never fall.
    effect_programs = truth["program"] != "employment_services"
    assert (truth.loc[effect_programs, "effect_months_worked"] >= 0).all()
    assert (truth.loc[effect_programs, "effect_stable_employment"] >= 0).all()


def test_truth_agrees_with_the_planted_headroom_effects(simulated):
    """E[Y(1) - Y(0)] = tau(p, e) (1 - q0) for stable employment, and 7.65 times that for
    months, where E[1 - Y(0)] = 1 - q0: tau comes from the documented table."""
    truth = simulated.truth
    stable_without = (truth.merge(simulated.panel, on=["person_id", "year"])["stable_employment"]
                      .astype(float).to_numpy() - truth["effect_stable_employment"].to_numpy())
    provinces = simulated.parameters["provinces"]
    for program, (at_receipt, long_run) in STABLE_EFFECT.items():
        rows = (truth["program"] == program).to_numpy()
        part = truth[rows]
        multiplier = part["province_code"].map(
            {code: p["effect_multiplier"][program] for code, p in provinces.items()})
        tau = multiplier * (long_run - (long_run - at_receipt) * 0.5 ** part["event_time"])
        expected = tau.to_numpy() * (1 - stable_without[rows])
        for outcome, scale in (("stable_employment", 1.0),
                               ("months_worked", MONTHS_PER_STABLE_POINT)):
            gap = part[f"effect_{outcome}"].to_numpy() - scale * expected
            noise = gap.std() / np.sqrt(len(gap))
            assert abs(gap.mean()) < 4 * noise, (program, outcome, gap.mean(), noise)
            assert part[f"effect_{outcome}"].mean() > 0.05 * scale  # large enough to estimate


def test_planted_effects_have_the_documented_signs(simulated):
    def effect(program, outcome):
        return true_effects(simulated.truth, program, outcome)["effect"].iloc[0]

    for program in ("workshop_job", "public_welfare_post"):
        assert effect(program, "worked_outside_county") < -0.1
        assert effect(program, "worked_outside_province") < 0
    assert effect("organized_labor_export", "worked_outside_county") > 0.15
    assert effect("organized_labor_export", "worked_outside_province") > 0.15
    assert effect("organized_labor_export", "wage_income") > 0
    assert effect("training", "worked_outside_county") > 0
    assert effect("training", "wage_income") > 0
    # Posts pay little: wage income falls although months rise.
    assert effect("public_welfare_post", "wage_income") < 0
    dynamic = true_effects(simulated.truth, "training", "stable_employment", by="event_time")
    dynamic = dynamic.set_index("event_time")["effect"]
    assert dynamic.loc[4] > dynamic.loc[0] + 0.03  # training's effect builds up


def test_zero_planted_effects_give_exactly_zero_truth(no_effects):
    effects = no_effects.truth.filter(like="effect_")
    assert len(effects) > 0 and (effects == 0).all().all()
    assert set(no_effects.truth["program"]) == set(PROGRAMS)


@pytest.mark.parametrize("outcome", ["stable_employment", "worked_outside_county",
                                     "months_worked"])
def test_trends_are_parallel_without_effects(no_effects, outcome):
    """Without effects, the 2016-2020 change is the same in any time-invariant group."""
    panel = no_effects.panel
    wide = panel.pivot(index="person_id", columns="year", values=outcome).astype(float)
    change = wide[2020] - wide[2016]
    scale = 12 if outcome == "months_worked" else 1
    person = panel[panel["year"] == 2020].set_index("person_id")
    first = first_receipt(panel)
    groups = {"disabled": person["disability_or_weak_labor"],
              "schooling <= 6": person["schooling_years"] <= 6, "female": person["female"]}
    groups.update({f"ever {program}": first[program].notna() for program in PROGRAMS
                   if program != "employment_services"})
    for name, group in groups.items():
        gap = change[group].mean() - change[~group].mean()
        noise = np.sqrt(change[group].var() / group.sum() + change[~group].var() / (~group).sum())
        assert abs(gap) < 4 * noise, f"{outcome}: {name} changes by {gap:+.4f} more"
    for program in ("training", "public_welfare_post", "organized_labor_export"):
        never = first[program].isna()
        for cohort in range(2017, 2021):
            group = first[program] == cohort
            gap = change[group].mean() - change[never].mean()
            noise = np.sqrt(change[group].var() / group.sum() + change[never].var() / never.sum())
            assert abs(gap) < 4 * noise, f"{outcome}: {program} cohort {cohort}: {gap:+.4f}"
    assert change.mean() > 0.03 * scale  # the common year effect is there to be differenced out


def test_true_effects_averages_the_rows(simulated):
    truth = simulated.truth
    by_province = true_effects(truth, "organized_labor_export", "worked_outside_county",
                               by=["province_code"])
    assert list(by_province.columns) == ["province_code", "program", "outcome", "n", "effect"]
    assert len(by_province) == 22
    code = by_province["province_code"].iloc[0]
    rows = truth[(truth["program"] == "organized_labor_export")
                 & (truth["province_code"] == code)]
    assert by_province["effect"].iloc[0] == pytest.approx(
        rows["effect_worked_outside_county"].mean())
    assert by_province["n"].iloc[0] == len(rows)
    overall = true_effects(truth, "training", "stable_employment").iloc[0]
    training = truth[truth["program"] == "training"]
    assert overall["n"] == len(training)
    assert overall["effect"] == pytest.approx(training["effect_stable_employment"].mean())
    services = true_effects(truth, "employment_services", "wage_income").iloc[0]
    assert services["effect"] == 0 and services["n"] > 0
    with pytest.raises(ValueError, match="unknown outcome"):
        true_effects(truth, "training", "happiness")
    with pytest.raises(ValueError, match="unknown program"):
        true_effects(truth, "microcredit", "wage_income")
    with pytest.raises(ValueError, match="county_id"):
        true_effects(truth, "training", "wage_income", by=["county_id"])


# ----------------------------------------------------------------------------------------------
# Selection bias and adjustment


@pytest.mark.parametrize("program, outcome, direction", [
    ("public_welfare_post", "stable_employment", -1),  # weaker laborers: naive too low
    ("organized_labor_export", "worked_outside_county", +1),  # the mobile: naive too high
    ("training", "stable_employment", +1),  # the young and schooled: naive too high
])
def test_naive_comparison_is_biased_and_adjustment_recovers_the_truth(simulated, program,
                                                                     outcome, direction):
    panel = simulated.panel
    first = first_receipt(panel)[program]
    wide = panel.pivot(index="person_id", columns="year", values=outcome).astype(float)
    truth = simulated.truth
    effect = truth[(truth["program"] == program) & (truth["year"] == 2020)].set_index(
        "person_id")[f"effect_{outcome}"]
    treated = first.notna()
    naive = wide.loc[treated, 2020].mean() - wide.loc[~treated, 2020].mean()
    att = effect.mean()
    assert direction * (naive - att) > 0.03, (naive, att)
    # Regression adjustment on the 2020 cross-section (imputation): the treated minus their
    # predictions from a model of the untreated on the covariates and provinces.
    x = person_covariates(panel)
    data = x.assign(y=wide[2020], treated=treated.astype(float),
                    province=panel.groupby("person_id")["province_code"].first().astype(str))
    formula = ("y ~ (schooling + age + age_squared + disability + female"
               " + household_size)**2 + C(province)")
    y, design = patsy.dmatrices(formula, data, return_type="dataframe")
    is_treated = treated.reindex(design.index).to_numpy()
    control = sm.OLS(y[~is_treated], design[~is_treated]).fit()
    gaps = y[is_treated].to_numpy().ravel() - design[is_treated].to_numpy() @ control.params
    adjusted = gaps.mean()
    mean_row = design[is_treated].to_numpy().mean(axis=0)
    se = np.sqrt(gaps.var() / is_treated.sum()
                 + mean_row @ control.cov_params().to_numpy() @ mean_row)
    assert abs(adjusted - att) < 1.96 * se, (adjusted, att, se)
    # Two-period DiD, 2016 -> 2020: later cohorts against the never treated.
    # Not for training: its never-trained comparison group gets more posts over the years
    # (posts go to those who train least), so its DiD would mix in the posts' effects.
    if program != "training":
        later = (first >= 2017).fillna(False)
        change = wide[2020] - wide[2016]
        did = change[later].mean() - change[~treated].mean()
        did_se = np.sqrt(change[later].var() / later.sum()
                         + change[~treated].var() / (~treated).sum())
        assert abs(did - effect.reindex(later[later].index).mean()) < 1.96 * did_se
    assert abs(naive - att) > 2 * abs(adjusted - att)


# ----------------------------------------------------------------------------------------------
# Parameters and the old module


def test_parameter_table_describes_every_parameter(simulated):
    params = ModelParameters()
    table = parameter_table(params)
    assert list(table.columns) == ["name", "value", "kind", "description"]
    names = table["name"].str.split(".").str[0]  # dicts of programs: one row per program
    assert list(names.unique()) == [item.name for item in fields(ModelParameters)]
    assert set(table["kind"]) <= {"illustrative", "published", "calibrated"}
    assert (table["description"].str.len() > 15).all()
    assert (table["value"].str.len() > 0).all()
    assert "log_wage (-0.5, -0.5)" in table.set_index("name").loc[
        "effects.public_welfare_post", "value"]
    full = parameter_table(params, simulated.parameters)
    assert {"published", "calibrated"} <= set(full["kind"])
    assert (full["description"].str.len() > 15).all()
    assert "take_up_intercepts" in set(full["name"])


def test_parameter_record_is_complete_and_json_ready(simulated):
    record = simulated.parameters
    json.dumps(record)
    assert set(record) >= {"run", "published_targets", "calibrated", "illustrative",
                           "provinces"}
    assert record["run"] == {"n_persons": N_PERSONS, "years": [2016, 2020], "seed": SEED}
    weights = record["calibrated"]["first_year_weights"]
    assert weights["training"]["2020"] == pytest.approx(0.27)
    assert set(record["calibrated"]["take_up_intercepts"]) == set(STABLE_EFFECT)


def test_the_old_module_re_exports_the_simulator():
    assert simulate.simulate_panel is simulator.simulate_panel
    assert simulate.true_effects is simulator.true_effects
    assert set(simulate.__all__) >= {"simulate_panel", "SimulatedPanel", "ModelParameters",
                                     "CalibrationTargets", "calibration_targets_from_ledger",
                                     "calibration_table", "true_effects", "parameter_table",
                                     "CalibrationError", "OUTCOMES", "PROGRAMS"}
    assert simulate.__doc__ == simulator.__doc__
    for program in PROGRAMS:
        assert program in simulate.__doc__
    for role in (":func:", ":mod:", ":class:", "DESIGN.md"):
        assert role not in simulate.__doc__
