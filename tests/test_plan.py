"""The analysis plan: validation, expansion over scopes, unit selection and ad hoc variants."""

import shutil

import pandas as pd
import pytest

from analysis import config
from analysis.estimators.spec import AnalysisSpec, SpecError
from analysis.fleet import plan as plan_module
from analysis.fleet.cache import unit_key
from analysis.fleet.plan import PlanError, UnknownUnitError, expand, read_plan, select, variant_spec

REQUIRED = {("training", "stable_employment"), ("training", "months_worked"),
            ("training", "wage_income"), ("training", "worked_outside_county"),
            ("workshop_job", "stable_employment"), ("workshop_job", "wage_income"),
            ("public_welfare_post", "stable_employment"), ("public_welfare_post", "wage_income"),
            ("organized_labor_export", "stable_employment"),
            ("organized_labor_export", "wage_income")}


def test_the_default_plan_covers_the_required_analyses_with_one_overview():
    planned = read_plan()
    assert {(p.spec.program, p.spec.outcome) for p in planned} >= REQUIRED
    overview = [p for p in planned if p.overview]
    assert len(overview) == 1
    assert (overview[0].spec.program, overview[0].spec.outcome) == ("training",
                                                                      "stable_employment")


def _write_plan(tmp_path, edit):
    text = plan_module.PLAN_CSV.read_text().splitlines()
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(edit(text)) + "\n")
    return path


def test_a_bad_plan_lists_every_failing_row_and_field(tmp_path):
    def break_it(lines):
        lines[2] = lines[2].replace("training,months_worked", "training,happiness")
        lines[3] = lines[3].replace("training_wage_income,training", "training_wage_income,cash")
        lines[4] = lines[4].replace(",false,", ",true,")  # a second overview
        return lines

    with pytest.raises(PlanError) as raised:
        read_plan(_write_plan(tmp_path, break_it))
    failures = raised.value.failures
    assert {"outcome", "program"} <= set(failures["column"].dropna())
    assert "happiness" in set(failures["value"].astype(str))
    assert "exactly one analysis must have overview = true" in str(raised.value)


@pytest.fixture(scope="module")
def units(processed_dir):
    return expand(read_plan(), processed_dir)


def test_plan_times_scopes_gives_one_unit_per_analysis_and_scope(units, processed_dir):
    with_data = {path.stem for path in (processed_dir / "panel").glob("*.parquet")}
    analysis_units = [u for u in units if u.scope]
    assert len(with_data) == 22
    assert len(analysis_units) >= (len(with_data) + 1) * len(REQUIRED)
    ids = [u.unit_id for u in units]
    assert len(ids) == len(set(ids))
    yunnan = {u.unit_id for u in units if u.scope == "53"}
    assert "53" in yunnan and "53-training_wage_income" in yunnan
    main = next(u for u in units if u.unit_id == "53")
    assert main.overview and main.parameters["program"] == "training"
    detail = next(u for u in units if u.unit_id == "53-workshop_job_wage_income")
    assert not detail.overview
    assert (detail.parameters["program"], detail.parameters["outcome"]) == ("workshop_job",
                                                                            "wage_income")


def test_only_selects_scopes_analyses_and_their_intersection(units):
    assert {u.scope for u in select(units, ["53"])} == {"53"}
    assert len(select(units, ["53"])) == len(read_plan())
    wage = select(units, ["training_wage_income"])
    assert {u.analysis for u in wage} == {"training_wage_income"} and len(wage) == 23
    both = select(units, ["50", "national", "training_wage_income"])
    assert {u.unit_id for u in both} == {"50-training_wage_income",
                                         "national-training_wage_income"}
    assert [u.unit_id for u in select(units, ["validation"])] == ["validation"]
    with pytest.raises(UnknownUnitError, match="99"):
        select(units, ["99"])


def test_every_unit_has_its_own_cache_key(units, processed_dir):
    chosen = select(units, ["53"])
    keys = {unit_key(config.NOTEBOOKS_DIR / u.notebook, u.parameters, u.unit_id,
                     processed_dir).key for u in chosen}
    assert len(keys) == len(chosen)


def test_a_variant_gets_its_own_units_and_key_without_touching_the_defaults(processed_dir):
    base = next(p.spec for p in read_plan() if p.overview)
    variant = variant_spec(base, ["program=workshop_job", "outcome=wage_income",
                                  "population=women"], None)
    assert variant.name == "workshop_job__wage_income__women"
    plain = expand(read_plan(), processed_dir)
    with_variant = expand(read_plan(), processed_dir, [variant])
    added = {u.unit_id for u in with_variant} - {u.unit_id for u in plain}
    assert "53-workshop_job__wage_income__women" in added and len(added) == 23
    assert [u for u in with_variant if u.unit_id in {p.unit_id for p in plain}] == plain
    unit = next(u for u in with_variant if u.unit_id == "53-workshop_job__wage_income__women")
    assert AnalysisSpec.from_parameters(**{k: unit.parameters[k] for k in variant.to_parameters()
                                           }) == variant


def test_a_variant_with_an_unknown_field_or_value_is_refused():
    base = AnalysisSpec()
    with pytest.raises(SpecError, match="^colour: not a field"):
        variant_spec(base, ["colour=blue"], None)
    with pytest.raises(SpecError, match="^outcome: unknown value 'happiness'"):
        variant_spec(base, ["outcome=happiness"], None)


def test_a_province_outside_the_22_with_microdata_gets_its_units(processed_dir, tmp_path):
    copy = tmp_path / "processed"
    shutil.copytree(processed_dir, copy)
    extract = pd.read_parquet(copy / "panel" / "53.parquet")
    extract = extract.assign(province_code="33", county_id=extract["county_id"] - 530000 + 330000)
    extract.to_parquet(copy / "panel" / "33.parquet")
    units = expand(read_plan(), copy)
    zhejiang = {u.unit_id for u in units if u.scope == "33"}
    assert "33" in zhejiang and "33-training_wage_income" in zhejiang


def test_every_analysis_of_a_province_depends_on_that_provinces_data_only(units, processed_dir,
                                                                         tmp_path):
    from analysis.fleet.build import BuildPaths, key_of

    copy = tmp_path / "processed"
    shutil.copytree(processed_dir, copy)
    paths = BuildPaths(config.NOTEBOOKS_DIR, copy, tmp_path / "reports", config.RAW_DIR)
    chosen = select(units, ["53", "50", "national"])
    before = {u.unit_id: key_of(u, paths).key for u in chosen}
    part = pd.read_parquet(copy / "panel" / "53.parquet")
    part.iloc[::-1].reset_index(drop=True).to_parquet(copy / "panel" / "53.parquet")
    after = {u.unit_id: key_of(u, paths).key for u in chosen}
    changed = {unit_id for unit_id in before if before[unit_id] != after[unit_id]}
    assert changed == {u.unit_id for u in chosen if u.scope in ("53", "national")}
    assert "53-workshop_job_wage_income" in changed and "50-training_wage_income" not in changed
