"""`python -m analysis verify`: published numbers against the committed reference.

Every test uses small synthetic results, never the committed reference, whose numbers move
whenever an estimator changes.
"""

import copy
import json

import pytest

from analysis import cli, config
from analysis.fleet import build
from analysis.reports import reference


def _results(estimate: float = 0.05, figure: float = 32_430_000.0) -> dict:
    """A unit's results JSON as UnitReport.save writes it, in miniature."""
    return {
        "unit": "53", "title": "Yunnan", "summary": "", "parameters": {},
        "spec": {"program": "training", "outcome": "stable_employment"},
        "headline": {"method": "aipw", "estimate": estimate, "ci_low": estimate - 0.02,
                     "ci_high": estimate + 0.02, "n_obs": 1891, "n_clusters": 12,
                     "unit": "percentage points",
                     "shown": {"estimate": estimate * 100, "ci_low": (estimate - 0.02) * 100,
                               "ci_high": (estimate + 0.02) * 100, "true_effect": None}},
        "numbers": {
            "headline_working_away_2020": {"value": figure, "unit": "persons",
                                           "qualifier": "exact", "sources": ["SCIO-01"]},
            "published_figures": {"value": 14, "unit": "count", "qualifier": "exact",
                                  "sources": []},
            "equal_effects_p_sex": {"value": 0.5714752454811086, "unit": "ratio",
                                    "qualifier": "exact", "sources": []},
            "equal_effects_p_age": {"value": None, "unit": "ratio", "qualifier": "exact",
                                    "sources": []},
            "expansion_factor": {"value": 2546.925312180947, "unit": "count",
                                 "qualifier": "exact", "sources": []},
        },
        "tables": {"effect_estimates": [
            {"method": "aipw", "estimate": estimate, "ci_low": estimate - 0.02,
             "ci_high": estimate + 0.02},
            {"method": "difference_in_means", "estimate": 0.1, "ci_low": None, "ci_high": None},
        ]},
    }


def _current(**changes) -> dict:
    return {"53": {"page": "province-53.html",
                   "quantities": reference.published_numbers(_results(**changes))}}


def test_published_numbers_are_the_page_numbers_in_reader_units():
    quantities = reference.published_numbers(_results())
    assert quantities["numbers.published_figures"] == {"value": 14, "unit": "count",
                                                       "tolerance": "exact"}
    assert quantities["headline.n_obs"]["value"] == 1891
    aipw = quantities["effect_estimates.aipw.estimate"]
    assert aipw["value"] == pytest.approx(5.0) and aipw["unit"] == "percentage points"
    assert quantities["effect_estimates.difference_in_means.ci_low"]["value"] is None


def test_tolerance_kind_is_exact_for_ledger_figures_and_whole_counts():
    quantities = reference.published_numbers(_results())
    assert quantities["numbers.headline_working_away_2020"]["tolerance"] == "exact"
    assert quantities["numbers.published_figures"]["tolerance"] == "exact"
    assert quantities["headline.n_clusters"]["tolerance"] == "exact"
    assert quantities["numbers.expansion_factor"]["tolerance"] == "estimate"  # not whole
    assert quantities["numbers.equal_effects_p_sex"]["tolerance"] == "estimate"


def test_reference_file_is_json_with_one_quantity_per_line(tmp_path):
    path = tmp_path / "numbers.json"
    reference.write_reference(path, _current(), {"origin": "simulated", "seed": 1})
    document = reference.read_reference(path)
    assert document["units"] == _current()
    lines = path.read_text().splitlines()
    assert sum('"numbers.published_figures"' in line for line in lines) == 1
    assert any('"value": 14' in line and '"numbers.published_figures"' in line for line in lines)


def test_the_same_build_matches_and_rounding_noise_is_tolerated():
    expected = reference.reference_document(_current(), {})
    assert reference.compare(expected, _current()) == []
    # A BLAS-sized difference in an estimate is not a change readers could see.
    assert reference.compare(expected, _current(estimate=0.05 * (1 + 1e-12))) == []


def test_a_moved_estimate_and_a_moved_ledger_figure_are_reported():
    expected = reference.reference_document(_current(), {})
    changes = reference.compare(expected, _current(estimate=0.06, figure=32_430_001.0))
    moved = {change.quantity: change for change in changes}
    assert set(moved) == {"numbers.headline_working_away_2020",
                          "effect_estimates.aipw.estimate", "effect_estimates.aipw.ci_low",
                          "effect_estimates.aipw.ci_high"}
    figure = moved["numbers.headline_working_away_2020"]
    assert (figure.status, figure.old, figure.new, figure.page, figure.measure) == (
        "moved", 32_430_000.0, 32_430_001.0, "province-53.html", "persons")


def test_added_removed_and_missing_values_are_reported():
    expected = reference.reference_document(_current(), {})
    current = copy.deepcopy(_current())
    quantities = current["53"]["quantities"]
    del quantities["numbers.published_figures"]
    quantities["numbers.new_count"] = {"value": 3, "unit": "count", "tolerance": "exact"}
    quantities["numbers.equal_effects_p_age"]["value"] = 0.5  # was missing (None)
    current["50"] = {"page": "province-50.html", "quantities": {"numbers.x": quantities[
        "numbers.new_count"]}}
    status = {change.quantity: change.status for change in reference.compare(expected, current)}
    assert status == {"numbers.published_figures": "removed", "numbers.new_count": "added",
                      "numbers.equal_effects_p_age": "moved",
                      "(all 1 numbers of the unit)": "added"}


def test_report_names_page_unit_quantity_measure_old_and_new():
    expected = reference.reference_document(_current(), {})
    changes = reference.compare(expected, _current(estimate=0.06))
    text = reference.format_changes(changes)
    header, first = text.splitlines()[:2]
    assert header.split() == ["page", "unit", "quantity", "measured", "in", "old", "new",
                              "change"]
    assert first.split()[:3] == ["province-53.html", "53", "effect_estimates.aipw.ci_high"]
    assert "percentage points" in first and "7" in first and "8" in first
    assert reference.summary_line(changes).startswith("3 published number(s) moved")


# ----------------------------------------------------------------------------------------------
# The command: verify after a build, verify --update


@pytest.fixture
def built_tree(processed_dir, tmp_path, monkeypatch):
    """A tree whose every planned unit looks freshly built, with synthetic results."""
    monkeypatch.setattr(config, "PROCESSED_DIR", processed_dir)
    monkeypatch.setattr(config, "REPORTS_DIR", tmp_path / "reports")
    paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "reports",
                             config.RAW_DIR)
    units = build.plan_units(processed_dir, plan_path=paths.plan_path)
    for unit in units:
        for output in paths.outputs(unit.unit_id):
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text("{}")
        (paths.results_dir / f"{unit.unit_id}.json").write_text(json.dumps(_results()))
    # Keys once every result exists: a national unit's key holds its provinces' results.
    for unit in units:
        build.write_cache_record(unit, build.key_of(unit, paths),
                                 build.UnitOutcome(unit.unit_id, "ok", 1.0), paths)
    return paths


def test_verify_update_then_verify_passes_then_fails_on_a_moved_number(built_tree, tmp_path,
                                                                       capsys):
    path = tmp_path / "numbers.json"
    assert cli.main(["verify", "--reference", str(path)]) == cli.EXIT_FAILED  # no reference
    assert cli.main(["verify", "--update", "--reference", str(path)]) == cli.EXIT_OK
    assert cli.main(["verify", "--reference", str(path)]) == cli.EXIT_OK
    assert "match" in capsys.readouterr().out

    (built_tree.results_dir / "53.json").write_text(json.dumps(_results(estimate=0.07)))
    # A build that moved Yunnan's numbers re-runs the national unit, which combines them.
    for unit in build.plan_units(built_tree.processed_dir, plan_path=built_tree.plan_path):
        if "53" in unit.depends_on:
            build.write_cache_record(unit, build.key_of(unit, built_tree),
                                     build.UnitOutcome(unit.unit_id, "ok", 1.0), built_tree)
    assert cli.main(["verify", "--reference", str(path)]) == cli.EXIT_FAILED
    report = capsys.readouterr().err
    assert "province-53.html" in report and "effect_estimates.aipw.estimate" in report
    assert "verify --update" in report  # says how to accept an intended change


def test_verify_refuses_results_older_than_the_code(built_tree, tmp_path, capsys):
    path = tmp_path / "numbers.json"
    assert cli.main(["verify", "--update", "--reference", str(path)]) == cli.EXIT_OK
    record = built_tree.cache_dir / "53.json"
    stale = json.loads(record.read_text())
    stale["key"] = "from an older build"
    record.write_text(json.dumps(stale))
    assert cli.main(["verify", "--reference", str(path)]) == cli.EXIT_FAILED
    assert "53" in capsys.readouterr().err
    assert cli.main(["verify", "--update", "--reference", str(path)]) == cli.EXIT_FAILED
