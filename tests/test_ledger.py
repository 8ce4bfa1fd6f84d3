"""The committed figure ledger and the figures derived from it."""

import math
import re

import pandas as pd
import pytest

from analysis import config
from analysis.data import ledger as ledger_module
from analysis.data.written_numbers import parse_written_number


def _collapsed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_ledger_has_well_over_fifty_figures_from_all_five_sources(raw_ledger):
    assert len(raw_ledger) > 50
    assert raw_ledger["source_id"].nunique() == 5


def test_every_value_appears_in_its_quote_and_every_quote_in_its_source(raw_ledger):
    sources = pd.read_csv(config.SOURCES_CSV).set_index("source_id")
    for row in raw_ledger.itertuples():
        text = _collapsed((config.SOURCES_DIR / sources.loc[row.source_id, "file"]).read_text())
        assert _collapsed(row.quote) in text, f"{row.figure_id}: quote not in {row.source_id}"
        if pd.notna(row.value):
            assert row.value_as_written in row.quote, row.figure_id
            assert math.isclose(parse_written_number(row.value_as_written), row.value,
                                rel_tol=1e-6), row.figure_id


def test_garbled_figures_are_recorded_without_a_value(raw_ledger):
    garbled = raw_ledger[raw_ledger["quote"].str.contains("More than%", regex=False)]
    assert len(garbled) == 2
    assert garbled["value"].isna().all()
    assert garbled["missing_reason"].str.len().gt(10).all()


@pytest.mark.parametrize(
    ("indicator", "period", "written"),
    [
        # The headline figures named in the project brief, as the sources print them.
        ("poor_laborers_working_away", "2016", "15.27 million"),
        ("poor_laborers_working_away", "2020", "32.43 million"),
        ("poor_laborers_working_away", "2020-10", "29.73 million"),
        ("registered_poor_households_employment_assistance_share", "2020", "93.8%"),
    ],
)
def test_headline_figures_are_in_the_ledger(ledger, indicator, period, written):
    row = ledger_module.find_figure(ledger, indicator, period)
    assert row["value_as_written"] == written


def _derived(ledger) -> pd.Series:
    return ledger_module.derived_figures(ledger).set_index("derived_id")["value"]


def test_derived_figures_match_hand_computation(ledger):
    derived = _derived(ledger)
    # Hand computations from the numbers as printed in the sources.
    assert derived["working_away_2019_implied"] == pytest.approx(29_730_000 / 1.089)
    assert derived["working_away_increase_2016_2020"] == pytest.approx(17_160_000)
    assert derived["working_away_ratio_2020_to_2016"] == pytest.approx(32.43 / 15.27)
    assert derived["working_away_annual_growth_2016_2020"] == pytest.approx(
        ((32.43 / 15.27) ** 0.25 - 1) * 100)
    assert derived["working_away_annual_growth_2016_2020"] == pytest.approx(20.71, abs=0.01)
    assert derived["chongqing_workshop_employees_lifted_share"] == pytest.approx(
        4121 / 9986 * 100)
    assert derived["chongqing_employees_per_workshop"] == pytest.approx(9986 / 473)
    assert derived["national_jobs_per_workshop"] == pytest.approx(437_000 / 32_688)
    assert derived["training_2020_share_of_13th_plan"] == pytest.approx(27.0)
    assert derived["working_away_growth_2019_2020"] == pytest.approx(
        (32.43e6 / (29.73e6 / 1.089) - 1) * 100)


def test_derived_figures_name_their_input_rows(ledger):
    table = ledger_module.derived_figures(ledger).set_index("derived_id")
    inputs = table.loc["working_away_2019_implied", "inputs"].split(";")
    rows = ledger.set_index("figure_id").loc[inputs]
    assert set(rows["value_as_written"]) == {"29.73 million", "108.9%"}
    assert bool(table.loc["training_2020_share_of_13th_plan", "approximate"])  # "more than"/"about"


def test_workshop_jobs_at_two_dates_are_reported_not_resolved(ledger):
    findings = ledger_module.consistency_findings(ledger)
    jobs = findings[findings["indicator"] == "workshop_jobs"]
    assert len(jobs) == 1
    assert jobs["status"].iloc[0] == "differ across reference dates"
    assert jobs["difference"].abs().iloc[0] == pytest.approx(3_000)


def test_same_period_disagreement_is_flagged(ledger):
    row = ledger_module.find_figure(ledger, "workshop_jobs", "2020").copy()
    conflicting = row.copy()
    conflicting["figure_id"], conflicting["value"] = "SCIO-99", 500_000.0
    findings = ledger_module.consistency_findings(
        pd.DataFrame([row, conflicting]).reset_index(drop=True))
    assert findings["status"].tolist() == ["disagree"]


def test_more_than_bound_is_checked_against_exact_figure(ledger):
    findings = ledger_module.consistency_findings(ledger)
    workshops = findings[findings["indicator"] == "poverty_alleviation_workshops"]
    assert workshops["status"].tolist() == ["consistent"]  # "more than 30,000" vs 32,688


def test_derived_increase_checked_against_published_more_than_ten_million(ledger):
    checks = ledger_module.derived_against_published(ledger, ledger_module.derived_figures(ledger))
    assert checks["status"].tolist() == ["consistent"]


def test_find_figure_names_what_is_missing(ledger):
    with pytest.raises(ledger_module.FigureNotFoundError, match="periods present"):
        ledger_module.find_figure(ledger, "poor_laborers_working_away", "2018")
