"""Sentences about an effect follow the interval, use the reader's unit and name what was used."""

import pandas as pd

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
    assert "2.0 percentage points to 14.0 percentage points" in text
    assert "Callaway-Sant'Anna (staggered); 12 counties, 9,265 person-years" in text


def test_an_interval_including_zero_never_says_raised():
    spec = AnalysisSpec(program="workshop_job", outcome="wage_income")
    text = wording.effect_sentence(_record(-154.4, -6808, 6500), spec, "In Yunnan")
    assert "raised" not in text and "lowered" not in text
    assert "cannot tell whether a job in a poverty-alleviation workshop changed annual wage " \
           "income" in text
    assert "-154 yuan" in text and "includes zero" in text


def test_an_interval_below_zero_says_lowered_with_the_size_unsigned():
    spec = AnalysisSpec(program="workshop_job", outcome="worked_outside_county",
                        population="women")
    text = wording.effect_sentence(_record(-0.05, -0.08, -0.02, method="aipw", n_obs=1891),
                                   spec, "Nationally")
    assert "lowered the probability of working outside the home county among women by " \
           "**5.0 percentage points**" in text
    assert "1,891 laborers in the last year" in text


def test_no_negative_zero_and_months_keep_two_decimals():
    spec = AnalysisSpec(outcome="months_worked")
    assert wording.effect_number(-0.0001, spec) == "0.00 months"
    assert wording.effect_number(0.7, spec) == "+0.70 months"
    assert wording.short_effect(_record(0.7, 0.2, 1.2), spec) == "+0.70 months [0.20 to 1.20]"
