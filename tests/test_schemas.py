"""Schema tests: valid rows pass, each kind of invalid row is caught with its column named."""

import pandas as pd
import pandera.pandas as pa
import pytest

from analysis import config
from analysis.data import schemas


def _valid_figure(**changes) -> dict:
    row = {
        "figure_id": "MOHRSS-02", "source_id": "mohrss_briefing_2021", "published": "2021-01-26",
        "indicator": "poor_laborers_working_away", "description": "Poor laborers working away",
        "scope": "national", "period": "2020", "period_note": None, "kind": "actual",
        "qualifier": "exact", "value": 32_430_000.0, "unit": "persons",
        "value_as_written": "32.43 million",
        "quote": "The number of poor laborers has increased from 15.27 million in 2016 to "
                 "32.43 million in 2020",
        "missing_reason": None, "note": None,
    }
    row.update(changes)
    return row


def _failures(schema, rows: list[dict]) -> pd.DataFrame:
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(pd.DataFrame(rows), lazy=True)
    return caught.value.failure_cases


def test_valid_figure_passes():
    schemas.LedgerSchema.validate(pd.DataFrame([_valid_figure()]), lazy=True)


@pytest.mark.parametrize(
    ("changes", "column", "check_words"),
    [
        ({"value": 120.0, "unit": "percent", "value_as_written": "120%",
          "quote": "reached 120% of households"}, "value", "0-100"),
        ({"value_as_written": "32.44 million"}, "value_as_written", "verbatim"),
        ({"value": 32_000_000.0}, "value", "base units"),
        ({"kind": "target", "period": "2020-10"}, "period", "target year"),
        ({"value": None, "value_as_written": None}, "missing_reason", "missing_reason"),
        ({"figure_id": "XX-1"}, "figure_id", "str_matches"),
        ({"qualifier": "roughly"}, "qualifier", "isin"),
        ({"period": "Oct 2020"}, "period", "str_matches"),
        ({"published": "not a date"}, "published", "coerce"),
    ],
)
def test_invalid_figure_is_caught(changes, column, check_words):
    cases = _failures(schemas.LedgerSchema, [_valid_figure(**changes)])
    relevant = cases[cases["check"].astype(str).str.contains(check_words)]
    assert not relevant.empty, cases
    # Column checks name their column; table-wide checks list the row's cells column by column.
    assert column in set(relevant["column"]) or relevant["schema_context"].eq(
        "DataFrameSchema").all(), relevant


def test_duplicate_figure_ids_are_caught():
    cases = _failures(schemas.LedgerSchema, [_valid_figure(), _valid_figure()])
    assert (cases["check"] == "field_uniqueness").any()


def test_missing_value_with_reason_passes():
    row = _valid_figure(value=None, value_as_written=None,
                        missing_reason="Source reads 'More than% of'")
    schemas.LedgerSchema.validate(pd.DataFrame([row]), lazy=True)


def test_reference_schema_rejects_unknown_province_and_source():
    frame = pd.DataFrame([_valid_figure(scope="99", source_id="nowhere")])
    schema = schemas.ledger_reference_schema(["mohrss_briefing_2021"], ["national", "53"])
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(frame, lazy=True)
    assert set(caught.value.failure_cases["column"]) == {"scope", "source_id"}


def test_committed_provinces_and_sources_are_valid():
    provinces = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    schemas.ProvinceSchema.validate(provinces, lazy=True)
    schemas.SourceSchema.validate(pd.read_csv(config.SOURCES_CSV), lazy=True)


def test_provinces_schema_catches_bad_codes_and_counts():
    provinces = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    broken = provinces.copy()
    broken.loc[0, "province_code"] = "99"
    broken.loc[1, "region"] = "south"
    broken = broken.iloc[:-1]
    cases = _failures(schemas.ProvinceSchema, broken.to_dict("records"))
    checks = " ".join(cases["check"].astype(str))
    assert "isin" in checks and "31" in checks


def _panel_rows() -> list[dict]:
    base = dict(person_id=1, household_id=10, province_code="53", county_id=530101, year=2019,
                age=30, female=True, schooling_years=9.0, disability_or_weak_labor=False,
                household_size=4, trained=False, first_trained_year=2020, months_worked=3.0,
                stable_employment=False, worked_outside_county=False,
                worked_outside_province=False, wage_income=1_000.0, workshop_job=False,
                public_welfare_post=False, organized_labor_export=False,
                employment_services=True)
    later = {**base, "year": 2020, "age": 31, "trained": True, "months_worked": 8.0,
             "stable_employment": True, "worked_outside_county": True}
    return [base, later]


def test_valid_panel_passes():
    frame = pd.DataFrame(_panel_rows()).astype({"first_trained_year": "Int64"})
    schemas.PanelSchema.validate(frame, lazy=True)


@pytest.mark.parametrize(
    ("row", "changes", "words"),
    [
        (0, {"months_worked": 13.0}, "less_than_or_equal_to(12)"),
        (0, {"age": 15}, "greater_than_or_equal_to(16)"),
        (1, {"stable_employment": False}, "6"),
        (1, {"worked_outside_province": True, "worked_outside_county": False}, "only if"),
        (1, {"household_id": 11}, "one household"),
        (1, {"year": 2019, "age": 30}, "unique"),
        (0, {"trained": True}, "in or after first_trained_year"),
        (1, {"province_code": "54"}, "one province"),
    ],
)
def test_invalid_panel_rows_are_caught(row, changes, words):
    rows = _panel_rows()
    rows[row].update(changes)
    frame = pd.DataFrame(rows).astype({"first_trained_year": "Int64"})
    cases = _failures(schemas.PanelSchema, frame.to_dict("records"))
    assert cases["check"].astype(str).str.contains(words, regex=False).any(), cases


def test_every_rule_names_columns_of_its_own_model():
    for model in (schemas.ProvinceSchema, schemas.LedgerSchema, schemas.PanelSchema):
        schema = model.to_schema()
        for check in schema.checks:
            rule = schemas.RULES[check.error]
            assert set(rule.columns) <= set(schema.columns), rule


@pytest.mark.parametrize(("model", "column", "words"), [
    (schemas.PanelSchema, "age", "a whole number from 16 to 64"),
    (schemas.PanelSchema, "wage_income", "a number, 0 or more"),
    (schemas.PanelSchema, "first_trained_year", "a whole number from 2000 to 2035, or empty"),
    (schemas.PanelSchema, "female", "true or false (1 or 0)"),
    (schemas.LedgerSchema, "qualifier", "text: one of exact, more_than, at_least, about, "
                                        "nearly, at_most"),
    (schemas.LedgerSchema, "quote", "text of at least 10 characters"),
])
def test_allowed_values_read_as_words(model, column, words):
    assert schemas.allowed_values(model.to_schema().columns[column]) == words


def test_provinces_must_be_the_31_gb_t_2260_codes():
    provinces = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    provinces.loc[provinces["province_code"] == "65", "province_code"] = "71"
    cases = _failures(schemas.ProvinceSchema, provinces.to_dict("records"))
    assert set(cases.loc[cases["column"] == "province_code", "failure_case"]) >= {"71"}


def test_panel_schema_document_is_generated_from_the_model():
    """docs/panel_schema.md may not drift from PanelSchema; to update it after changing the
    model, run `python -m analysis.data.schema_docs`."""
    from analysis.data import schema_docs

    document = schema_docs.DOCUMENT.read_text(encoding="utf-8")
    assert schema_docs.generated() in document
