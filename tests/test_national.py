"""The national estimates combined from the provinces' own (analysis.estimators.national)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data import microdata
from analysis.estimators import national
from analysis.estimators import program_effects as pe
from analysis.estimators.spec import AnalysisSpec
from analysis.fleet import build, plan

TWO_PROVINCES = ("52", "53")


@pytest.fixture(scope="module")
def two_provinces(processed_dir):
    """Each province's panel, truth and recorded inputs for the default analysis."""
    spec = AnalysisSpec()
    found = {}
    for code in TWO_PROVINCES:
        panel = microdata.read_panel(processed_dir, code)
        truth = microdata.read_truth(processed_dir, code)
        results = pe.analyse(panel, spec, truth, seed=int(code))
        found[code] = (panel, truth, national.province_inputs(results))
    return spec, found


def _treated_person_years_after_first_year(panel: pd.DataFrame) -> int:
    """By hand from the raw columns: rows of laborers first trained after the panel's first
    year, from their first training year on."""
    first_year = panel["year"].min()
    trained = panel["first_trained_year"].astype("Float64")
    return int(((trained > first_year) & (panel["year"] >= trained)).fillna(False).sum())


def _treated_in_last_year(panel: pd.DataFrame) -> int:
    last = panel[panel["year"] == panel["year"].max()]
    return int((last["first_trained_year"].astype("Float64") <= last["year"]).fillna(False).sum())


def test_combination_equals_a_hand_computation_on_two_provinces(two_provinces):
    spec, found = two_provinces
    inputs = {code: recorded for code, (_, _, recorded) in found.items()}
    combined = national.combined_estimates(inputs).set_index("method")
    for method, weight_by_hand in (("callaway_santanna", _treated_person_years_after_first_year),
                                   ("difference_in_means", _treated_in_last_year)):
        rows = {code: next(r for r in recorded["estimates"] if r["method"] == method)
                for code, (_, _, recorded) in found.items()}
        weights = {code: weight_by_hand(panel) for code, (panel, _, _) in found.items()}
        assert all(rows[code]["weight"] == weights[code] for code in rows)
        total = sum(weights.values())
        estimate = sum(weights[c] * rows[c]["estimate"] for c in rows) / total
        se = np.sqrt(sum((weights[c] / total) ** 2 * rows[c]["std_error"] ** 2 for c in rows))
        assert combined.loc[method, "estimate"] == pytest.approx(estimate, rel=1e-12)
        assert combined.loc[method, "std_error"] == pytest.approx(se, rel=1e-12)
        assert combined.loc[method, "ci_low"] == pytest.approx(estimate - 1.959963984540054 * se,
                                                               rel=1e-9)
        assert combined.loc[method, "provinces"] == 2


def test_combined_planted_value_equals_the_pooled_truth(two_provinces):
    """The weights are the planted estimands' own denominators, so combining the provinces'
    planted values gives the pooled planted value (computed independently on both provinces'
    rows at once)."""
    spec, found = two_provinces
    inputs = {code: recorded for code, (_, _, recorded) in found.items()}
    panel = pd.concat([panel for panel, _, _ in found.values()], ignore_index=True)
    truth = pd.concat([truth for _, truth, _ in found.values()], ignore_index=True)
    pooled = pe.true_values(truth, panel, spec)
    combined = national.combined_estimates(inputs)
    for estimand, value in pooled.items():
        rows = combined[(combined["estimand"] == estimand) & (combined["provinces"] == 2)]
        assert len(rows)
        assert np.allclose(rows["true_effect"], value, rtol=1e-12, atol=0)


def test_event_times_combine_with_cohort_weights(two_provinces):
    spec, found = two_provinces
    inputs = {code: recorded for code, (_, _, recorded) in found.items()}
    events, covariances = national.combined_events(inputs)
    cs = events[(events["method"] == "callaway_santanna") & ~events["is_reference"]]
    row = cs[cs["event_time"] == 1].iloc[0]
    parts = {code: next(r for r in recorded["events"] if r["method"] == "callaway_santanna"
                        and r["event_time"] == 1) for code, recorded in inputs.items()}
    for code, (panel, _, _) in found.items():  # laborers first trained after 2016, one year on
        first_year = panel["year"].min()
        trained = panel["first_trained_year"].astype("Float64")
        by_hand = int(((trained > first_year) & (panel["year"] - trained == 1)).fillna(False).sum())
        assert parts[code]["weight"] == by_hand
    total = sum(p["weight"] for p in parts.values())
    assert row["estimate"] == pytest.approx(
        sum(p["weight"] * p["estimate"] for p in parts.values()) / total, rel=1e-12)
    variance = covariances["callaway_santanna"].loc[1, 1]
    assert np.sqrt(variance) == pytest.approx(row["std_error"], rel=1e-9)


def test_combined_covariance_by_hand():
    index = [0, 1]
    covariances = {"a": pd.DataFrame([[4.0, 1.0], [1.0, 9.0]], index=index, columns=index),
                   "b": pd.DataFrame([[1.0]], index=[0], columns=[0])}
    weights = pd.DataFrame({0: [30.0, 10.0], 1: [20.0, 0.0]}, index=["a", "b"])
    combined = national.combine_covariance(covariances, weights, index)
    expected = np.array([[0.75 ** 2 * 4 + 0.25 ** 2 * 1, 0.75 * 1.0 * 1.0],
                         [0.75 * 1.0 * 1.0, 1.0 * 9.0]])
    assert np.allclose(combined.to_numpy(), expected)


def test_a_province_without_an_estimate_is_left_out_and_named():
    rows = pd.DataFrame({"province_code": ["11", "12", "13"], "method": "m",
                         "estimate": [1.0, np.nan, 3.0], "std_error": [1.0, np.nan, 1.0],
                         "weight": [1, 2, 3]})
    row = national.combine(rows, ["method"]).iloc[0]
    assert row["estimate"] == pytest.approx((1 * 1 + 3 * 3) / 4)
    assert row["provinces"] == 2 and row["provinces_left_out"] == "12"
    assert row["weight_share"] == pytest.approx(4 / 6)


def test_missing_or_foreign_province_results_are_named(tmp_path, two_provinces):
    spec, found = two_provinces
    recorded = found["52"][2]
    (tmp_path / "52.json").write_text(json.dumps({national.RESULTS_KEY: recorded}))
    other = AnalysisSpec(outcome="months_worked")
    (tmp_path / "53.json").write_text(json.dumps(
        {national.RESULTS_KEY: {**recorded, "spec": other.to_dict()}}))
    assert set(national.read_province_inputs(tmp_path, {"52": "52"}, spec)) == {"52"}
    with pytest.raises(national.MissingProvinceResults) as error:
        national.read_province_inputs(tmp_path, {"52": "52", "53": "53", "54": "54"}, spec)
    message = str(error.value)
    assert "53" in message and "another specification" in message
    assert "54" in message and "does not exist" in message
    assert f"--only {spec.name}" in message


def test_national_units_wait_for_their_provinces(processed_dir, monkeypatch):
    units = plan.expand(plan.read_plan(), processed_dir)
    by_id = {unit.unit_id: unit for unit in units}
    with_data = {path.stem for path in (processed_dir / "panel").glob("*.parquet")}
    assert set(by_id["national"].depends_on) == with_data
    analysis = next(u.analysis for u in units if u.scope == "national" and not u.overview)
    assert set(by_id[f"national-{analysis}"].depends_on) == {f"{c}-{analysis}" for c in with_data}

    monkeypatch.setattr(build, "key_of", lambda unit, paths: None)
    monkeypatch.setattr(build, "is_up_to_date", lambda unit, key, paths: False)
    chosen = [by_id[u] for u in ("national", *sorted(with_data)[:2])]
    schedule = build.Schedule(chosen, build.BuildPaths())
    first = {unit.unit_id for unit in schedule.ready()}
    assert first == set(sorted(with_data)[:2])  # the provinces outside the build do not count
    schedule.finished(sorted(with_data)[0])
    assert schedule.ready() == []
    schedule.finished(sorted(with_data)[1])
    assert [unit.unit_id for unit in schedule.ready()] == ["national"]


def test_an_up_to_date_dependent_is_not_run(processed_dir, monkeypatch):
    units = {unit.unit_id: unit for unit in plan.expand(plan.read_plan(), processed_dir)}
    province = sorted(units["national"].depends_on)[0]
    monkeypatch.setattr(build, "key_of", lambda unit, paths: None)
    monkeypatch.setattr(build, "is_up_to_date",
                        lambda unit, key, paths: unit.unit_id == "national")
    schedule = build.Schedule([units["national"], units[province]], build.BuildPaths())
    assert [unit.unit_id for unit in schedule.ready()] == [province]
    schedule.finished(province)
    assert schedule.ready() == [] and schedule.expected_runs() == 1


def test_without_microdata_the_national_page_says_so(tmp_path, monkeypatch):
    """No province has person-year rows (published figures only): nothing to combine, and the
    page says so instead of failing."""
    from analysis.reports import effect_sections
    from analysis.reports.report import UnitReport

    shown = []
    monkeypatch.setattr(UnitReport, "say", lambda self, text: shown.append(text))
    combined = national.read_national_results(tmp_path, tmp_path, AnalysisSpec(), True)
    assert combined is None
    report = UnitReport("national", "China")
    effect_sections.national_effects(report, combined, {}, simulated=False)
    effect_sections.national_who_gains(report, combined, simulated=False)
    assert "No person-year microdata are available, so no effects are estimated." in shown
    assert "No person-year microdata cover this scope, so effects by group cannot be " \
        "estimated." in shown


def test_provinces_left_out_are_named_for_readers(two_provinces, monkeypatch):
    from analysis.reports import effect_sections
    from analysis.reports.report import UnitReport

    spec, found = two_provinces
    shown = []
    monkeypatch.setattr(UnitReport, "say", lambda self, text: shown.append(text))
    combined = national.NationalResults(spec, {"52": found["52"][2]}, ["52", "53"],
                                        missing={"53": "53.json does not exist"})
    effect_sections.national_estimand_sentence(UnitReport("national", "China"), combined,
                                               {"52": "Guizhou", "53": "Yunnan"})
    assert shown[-1] == ("Left out because their results were not available when this page "
                         "was built: Yunnan.")
