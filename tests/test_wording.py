"""Sentences about an effect follow the interval, use the reader's unit and name what was used;
chart titles state the finding; a missing estimate is explained in words."""

import pandas as pd
import pytest

from analysis.estimators.spec import AnalysisSpec
from analysis.reports import wording


def _record(estimate, low, high, method="callaway_santanna", n_obs=9265, clusters=12):
    return pd.Series({"method": method, "estimate": estimate, "ci_low": low, "ci_high": high,
                      "n_obs": n_obs, "n_clusters": clusters, "cluster_var": "county_id"})


def test_an_interval_above_zero_says_raised_in_percentage_points():
    spec = AnalysisSpec()
    text = wording.effect_sentence(_record(0.081, 0.02, 0.14), spec, "In Yunnan")
    assert text.startswith("In Yunnan, vocational skills training raised the probability of "
                           "stable employment")
    assert "**8.1 percentage points**" in text
    assert "between +2.0 and +14.0 percentage points" in text
    assert "ATT, years after first receipt" in text
    assert "Callaway-Sant'Anna (staggered) from 9,265 person-years in 12 counties" in text


def test_an_interval_including_zero_says_no_clear_effect_and_never_raised():
    spec = AnalysisSpec(program="workshop_job", outcome="wage_income")
    text = wording.effect_sentence(_record(-154.4, -6808, 6500), spec, "In Yunnan")
    assert "raised" not in text and "lowered" not in text
    assert "a job in a poverty-alleviation workshop had **no clear effect** on annual wage " \
           "income" in text
    assert "**between -6,808 and +6,500 yuan**" in text
    assert "-154 yuan" in text and "includes zero" in text and "cannot tell" in text


def test_an_interval_below_zero_says_lowered_with_the_size_unsigned():
    spec = AnalysisSpec(program="workshop_job", outcome="worked_outside_county",
                        population="women")
    text = wording.effect_sentence(_record(-0.05, -0.08, -0.02, method="aipw", n_obs=1891),
                                   spec, "Nationally")
    assert "lowered the probability of working outside the home county among women by " \
           "**5.0 percentage points**" in text
    assert "1,891 laborers in the last panel year" in text


def test_no_negative_zero_and_months_keep_two_decimals():
    spec = AnalysisSpec(outcome="months_worked")
    assert wording.effect_number(-0.0001, spec) == "0.00 months"
    assert wording.effect_number(0.7, spec) == "+0.70 months"
    assert wording.short_effect(_record(0.7, 0.2, 1.2), spec) == "+0.70 months [+0.20 to +1.20]"
    assert wording.signed_number(-0.0004, 3) == "0.000"
    assert wording.plain_number(float("nan"), 1) == ""


def test_summaries_follow_the_interval():
    spec = AnalysisSpec()
    assert wording.summary_effect(_record(0.081, 0.02, 0.14), spec) == \
        "raised by 8.1 percentage points (95% confidence interval +2.0 to +14.0)"
    assert wording.summary_effect(_record(0.019, -0.209, 0.384), spec) == \
        "no clear effect (between -20.9 and +38.4 percentage points)"
    assert wording.summary_effect(_record(float("nan"), float("nan"), float("nan")), spec) == \
        "not estimated"
    assert wording.summary_effect(_record(0.019, -0.209, 0.384), spec, simulated=True) == \
        "no clear effect (between -20.9 and +38.4 percentage points; simulated data)"


@pytest.mark.parametrize("record, simulated, title", [
    (_record(0.081, 0.02, 0.14), False,
     "Training raised stable employment by 8.1 percentage points in Yunnan"),
    (_record(0.038, -0.037, 0.112), True,
     "No clear effect of training on stable employment in Yunnan (simulated data)"),
    (_record(-0.05, -0.08, -0.02), False,
     "Training lowered stable employment by 5.0 percentage points in Yunnan"),
])
def test_chart_titles_state_the_finding(record, simulated, title):
    assert wording.finding_title(record, AnalysisSpec(), "In Yunnan (云南省)", simulated) == title


def test_places_in_titles():
    assert wording.place("In Tibet (西藏自治区)") == "in Tibet"
    assert wording.place("Across all provinces pooled") == "across all provinces pooled"
    assert wording.place("Yunnan (云南省)") == "in Yunnan"
    assert wording.place("across all provinces pooled") == "across all provinces pooled"


@pytest.mark.parametrize("reason, words", [
    ("not estimable here: logit did not converge (perfect separation or collinear covariates?)",
     "too few people received vocational skills training in Tibet"),
    ("not estimable here: covariates ['age', 'female'] are collinear within an arm",
     "too alike in age, schooling"),
    ("not estimable: no unit is treated within the sample (first_treated)",
     "nobody in Tibet received vocational skills training"),
    ("something nobody foresaw: ValueError", "do not allow it to be computed"),
])
def test_a_missing_estimate_says_why_in_plain_words(reason, words):
    sentence = wording.not_estimated_sentence("The headline estimate", reason,
                                              "vocational skills training", "in Tibet")
    assert sentence.startswith("The headline estimate: not estimated, because ")
    assert words in sentence
    for technical in ("converge", "collinear", "logit", "first_treated", "Error", "_"):
        assert technical not in sentence


def test_inference_and_notes_in_plain_words():
    wild = ("wild cluster bootstrap (WCR, Webb, 499 draws, test-inversion CI; SE shown is CR1) "
            "by county_id")
    assert wording.inference_words(wild).startswith("Wild cluster bootstrap by county (499 "
                                                    "draws)")
    score = ("cluster score bootstrap, null imposed (Webb weights, 499 draws, test-inversion "
             "CI) by county_id; SE from the influence function")
    assert "Score bootstrap by county" in wording.inference_words(score)
    assert wording.inference_words("not estimated") == ""
    notes = ("dropped 18 units treated in the first period; control group: never_treated; base "
             "period: varying; doubly robust (propensity and outcome models) with covariates "
             "age, age_squared, female; n_obs counts unit-periods, n_treated units")
    said = wording.notes_words(notes)
    assert said.startswith("18 laborers treated in the first panel year left out")
    assert "compared with laborers never treated" in said
    assert "age squared (hundreds), woman" in said
    trimmed = ("trimmed 0 treated and 0 control rows with propensity outside [0, 0.99]; "
               "propensity range treated [0.012, 0.678], control [0.004, 0.580]")
    assert wording.notes_words(trimmed).startswith("No laborer left out")
    for text in (said, wording.notes_words(trimmed), wording.inference_words(wild),
                 wording.inference_words(score)):
        assert "_" not in text and "never_treated" not in text


def test_identifiers_become_words():
    assert wording.plain_identifiers("covariates ['age', 'schooling_years'] by county_id") == \
        "covariates age, years of schooling by county"
    assert wording.plain_identifiers("some_new_name") == "some new name"


@pytest.mark.parametrize("population, whose", [("women", " among women"),
                                               ("all", "")])
def test_every_title_and_sentence_naming_the_outcome_says_whose(population, whose):
    from analysis.reports import effect_sections
    from analysis.reports.report import UnitReport

    spec = AnalysisSpec(program="public_welfare_post", outcome="months_worked",
                        population=population)
    events = pd.DataFrame({"method": "callaway_santanna", "event_time": [0, 1],
                           "ci_low": [0.5, 0.4], "ci_high": [2.0, 1.9]})
    provinces = pd.DataFrame({"province_code": ["53", "52"], "estimate": [1.2, 0.1],
                              "ci_low": [0.3, -0.5], "ci_high": [2.1, 0.7]})
    texts = {
        "event title": effect_sections.event_title(events, spec, "In Yunnan", False),
        "group title": effect_sections.who_gains_title(spec, "In Yunnan", [], False),
        "provinces": effect_sections.provinces_in_words(
            UnitReport("national", "China"), spec, provinces, {"53": "Yunnan", "52": "Guizhou"}),
        "finding": wording.finding_title(_record(1.2, 0.3, 2.1), spec, "In Yunnan"),
        "sentence": wording.effect_sentence(_record(1.2, 0.3, 2.1), spec, "In Yunnan"),
    }
    for name, text in texts.items():
        assert f"months worked in the year{whose} " in text or \
            f"months worked{whose} " in text, (name, text)
        assert ("among" in text) == bool(whose), (name, text)
    assert "raised months worked in the year" + whose + " in 1 province" in texts["provinces"]
