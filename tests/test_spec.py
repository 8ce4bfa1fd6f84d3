"""The analysis specification: validation on construction, names, parameters and data checks."""

import pandas as pd
import pytest

from analysis.estimators.spec import (
    DEFAULT_COVARIATES, OUTCOMES, PROGRAMS, AnalysisSpec, SpecError, check_against_panel,
    in_population,
)


@pytest.mark.parametrize("field, value, allowed", [
    ("program", "cash_transfer", "training"),
    ("outcome", "income", "wage_income"),
    ("covariates", "age,height", "schooling_years"),
    ("population", "children", "women"),
    ("cluster", "village_id", "county_id"),
    ("headline_estimator", "magic", "callaway_santanna"),
])
def test_unknown_values_name_the_field_and_the_allowed_values(field, value, allowed):
    with pytest.raises(SpecError) as raised:
        AnalysisSpec(**{field: value})
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}:")
    assert allowed in str(raised.value)


@pytest.mark.parametrize("years", ["2020-2016", "2018", (2019, 2019), "a-b"])
def test_years_must_be_an_increasing_pair(years):
    with pytest.raises(SpecError, match="^years:"):
        AnalysisSpec(years=years)


def test_strings_from_papermill_are_split_and_names_follow_the_choices():
    spec = AnalysisSpec(program="workshop_job", outcome="wage_income",
                        covariates="age, female", population="women+ages_16_35",
                        years="2017-2020")
    assert spec.covariates == ("age", "female")
    assert spec.population == ("women", "ages_16_35")
    assert spec.years == (2017, 2020)
    assert spec.name == "workshop_job__wage_income__women__ages_16_35__cov_age_female__2017_2020"
    assert spec.title == "Job in a poverty-alleviation workshop and annual wage income"
    assert spec.population_label == "women and laborers aged 16-35 in the first year"


def test_parameters_round_trip_and_replace_renames():
    spec = AnalysisSpec(program="public_welfare_post", population="weak_labor")
    assert AnalysisSpec.from_parameters(**spec.to_parameters()) == spec
    other = spec.replace(outcome="months_worked")
    assert other.outcome == "months_worked" and other.name != spec.name
    assert spec.to_dict()["covariates"] == list(DEFAULT_COVARIATES)


def test_every_program_and_outcome_has_reader_words():
    for program in PROGRAMS.values():
        assert program.label and program.noun and program.description
    for outcome in OUTCOMES.values():
        assert outcome.effect_unit in ("percentage points", "months", "yuan")
        assert (outcome.scale == 100) == outcome.binary


def _panel(received: list[int], female: list[bool]) -> pd.DataFrame:
    rows = []
    for person, (got, woman) in enumerate(zip(received, female)):
        for year in (2019, 2020):
            rows.append({"person_id": person, "year": year, "female": woman, "age": 30,
                         "county_id": 1, "stable_employment": True,
                         "workshop_job": bool(got and year == 2020), "trained": False})
    return pd.DataFrame(rows)


def test_a_population_without_anyone_treated_is_refused_naming_the_population():
    panel = _panel(received=[1, 0, 0, 0], female=[False, True, True, False])
    spec = AnalysisSpec(program="workshop_job", population="women")
    assert in_population(panel, spec).sum() == 4  # two women, two years each
    with pytest.raises(SpecError, match="^population: no laborer among women received"):
        check_against_panel(panel, spec)
    check_against_panel(panel, spec.replace(population="men"))  # one treated man, one not


def test_a_non_binary_program_column_is_refused():
    panel = _panel(received=[1, 0], female=[True, False])
    panel["workshop_job"] = [0, 2, 0, 1]
    with pytest.raises(SpecError, match="^program: column 'workshop_job' must be yes/no"):
        check_against_panel(panel, AnalysisSpec(program="workshop_job"))


def test_years_outside_the_panel_are_refused():
    panel = _panel(received=[1, 0], female=[True, False])
    with pytest.raises(SpecError, match=r"^years: the panel has no rows for \[2018\]"):
        check_against_panel(panel, AnalysisSpec(program="workshop_job", years=(2018, 2020)))
