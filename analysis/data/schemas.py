"""pandera models for every table that crosses a stage boundary.

Raw tables (``sources.csv``, ``provinces.csv``, ``published_figures.csv``) and the person-year
panel are validated here; checks that need a second table (a ledger row's province code must be
a known province) are built by :func:`ledger_reference_schema` from that table's keys.

Checks that read several cells are declared with :func:`row_rule` or :func:`table_rule`, which
record the columns each one reads (:data:`RULES`), so that a failure can name them. The words an
analyst reads for a column's allowed values come from the checks themselves
(:func:`allowed_values`): the failure messages of ingest and ``docs/panel_schema.md`` use them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from analysis.data.written_numbers import UnreadableNumberError, parse_written_number

REGIONS = ("east", "central", "west", "northeast")
QUALIFIERS = ("exact", "more_than", "at_least", "about", "nearly", "at_most")
KINDS = ("actual", "target")
UNITS = ("persons", "households", "percent", "fraction", "index", "count", "years", "months")
# "index": a level relative to a base of 100 (e.g. 108.9% of last year); may exceed 100.
FIGURE_ID_PATTERN = r"^(YN|MOHRSS|CQ|NOTICE|SCIO)-\d{2}$"
PERIOD_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$|^\d{4}-\d{4}$"
YEAR_OR_RANGE = re.compile(r"^\d{4}(-\d{4})?$")
PANEL_AGE_RANGE = (16, 64)
FAILURE_COLUMNS = ["file", "row", "column", "check", "value"]
# GB/T 2260: the 31 provincial-level units of mainland China.
PROVINCE_CODES = ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
                  "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
                  "61", "62", "63", "64", "65")
PROVINCE_CODE_PATTERN = r"^[1-6]\d$"
# How a pattern reads in a message or a document.
PATTERN_WORDS = {
    PROVINCE_CODE_PATTERN: 'a two-digit GB/T 2260 province code, first digit 1-6, e.g. "53"',
    FIGURE_ID_PATTERN: "an id such as YN-01: YN, MOHRSS, CQ, NOTICE or SCIO, a dash, two digits",
    PERIOD_PATTERN: "a year (2020), a month (2020-10), a day (2020-10-17) or a range (2016-2020)",
    r"^[a-z0-9_]+$": "lower-case letters, digits and _",
    r"^[a-z0-9_]+\.txt$": "a file name of lower-case letters, digits and _ ending in .txt",
    r"^[a-z][a-z0-9_]*$": "lower-case letters, digits and _, starting with a letter",
    r"^(national|\d{2})$": '"national" or a two-digit province code',
    r"^[\u4e00-\u9fff]+$": "Chinese characters",
}


@dataclass(frozen=True)
class Rule:
    """A check that reads several cells: within one row (``"row"``) or across rows
    (``"table"``), with the columns it reads and what to do when it fails."""

    error: str
    columns: tuple[str, ...]
    spans: str
    action: str = ""
    describe: Callable[[pd.DataFrame], str] | None = None  # what was found, for a whole table


RULES: dict[str, Rule] = {}


def row_rule(error: str, columns: tuple[str, ...], action: str = ""):
    """``pa.dataframe_check`` for a rule within one row, recorded in :data:`RULES`."""
    RULES[error] = Rule(error, tuple(columns), "row", action)
    return pa.dataframe_check(error=error)


def table_rule(error: str, columns: tuple[str, ...], action: str = "",
               describe: Callable[[pd.DataFrame], str] | None = None):
    """``pa.dataframe_check`` for a rule across rows, recorded in :data:`RULES`."""
    RULES[error] = Rule(error, tuple(columns), "table", action, describe)
    return pa.dataframe_check(error=error)


def value_kind(column: pa.Column) -> str:
    """``"integer"``, ``"number"``, ``"yes/no"``, ``"date"`` or ``"text"``."""
    dtype = column.dtype.type
    if pd.api.types.is_bool_dtype(dtype):
        return "yes/no"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    return "text"


KIND_WORDS = {"integer": "a whole number", "number": "a number", "yes/no": "true or false (1 or 0)",
              "date": "a date written YYYY-MM-DD", "text": "text"}
BUILT_IN_CHECKS = ("greater_than_or_equal_to", "less_than_or_equal_to", "in_range",
                   "str_matches", "isin", "str_length")


def is_built_in(check: pa.Check) -> bool:
    """A pandera built-in check without an error text of our own."""
    return check.name in BUILT_IN_CHECKS and str(check.error).startswith(check.name)


def _limits(checks: list[pa.Check]) -> str:
    low = next((c.statistics["min_value"] for c in checks
                if c.name == "greater_than_or_equal_to"), None)
    high = next((c.statistics["max_value"] for c in checks
                 if c.name == "less_than_or_equal_to"), None)
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    if low is not None:
        return f"{low:g} or more"
    return f"{high:g} or less" if high is not None else ""


def check_words(check: pa.Check) -> str:
    """A check as words: a built-in's statistics, or our own error text."""
    if not is_built_in(check):
        return str(check.error)
    statistics = check.statistics
    if check.name == "str_matches":
        return PATTERN_WORDS.get(statistics["pattern"], f"text matching {statistics['pattern']}")
    if check.name == "isin":
        allowed = [str(value) for value in statistics["allowed_values"]]
        if sorted(allowed) == sorted(PROVINCE_CODES):
            return "one of the 31 GB/T 2260 province codes"
        return "one of " + _listed(allowed)
    if check.name == "str_length":
        return f"of at least {statistics['min_value']} characters"
    return _limits([check])


def allowed_values(column: pa.Column) -> str:
    """What a column accepts, in words: its kind, its built-in checks and whether it may be
    empty; checks with an error text of their own are left to their failure messages."""
    built_in = [check for check in column.checks if is_built_in(check)]
    parts = [_limits(built_in)] + [check_words(check) for check in built_in if check.name
                                   not in ("greater_than_or_equal_to", "less_than_or_equal_to")]
    words = KIND_WORDS[value_kind(column)]
    details = "; ".join(part for part in parts if part)
    if details:
        separator = " " if details.startswith(("from", "of ")) else \
            ", " if details[0].isdigit() else ": "
        words = f"{words}{separator}{details}"
    if column.unique:
        words += ", different on every row"
    return words + (", or empty" if column.nullable else "")


def validate_lazily(schema, frame: pd.DataFrame, file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate collecting every failure; return (validated frame or the input, failures).

    Failures are rows of (file, row, column, check, value); ``row`` is the line in a CSV file,
    whose first data row is line 2 (line 1 is the header).
    """
    try:
        return schema.validate(frame, lazy=True), pd.DataFrame(columns=FAILURE_COLUMNS)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
        failures = pd.DataFrame({
            "file": file,
            "row": cases["index"].map(lambda index: "" if pd.isna(index) else int(index) + 2),
            "column": cases["column"].fillna(""),
            "check": cases["check"].astype(str),
            "value": cases["failure_case"].astype(str),
        })
        return frame, failures


class SourceSchema(pa.DataFrameModel):
    """``data/raw/sources.csv``: one row per source document."""

    source_id: Series[str] = pa.Field(unique=True, str_matches=r"^[a-z0-9_]+$")
    file: Series[str] = pa.Field(unique=True, str_matches=r"^[a-z0-9_]+\.txt$")
    original_file: Series[str] = pa.Field(unique=True)
    title: Series[str] = pa.Field(str_length={"min_value": 5})
    publisher: Series[str]
    published: Series[pd.Timestamp] = pa.Field(ge=pd.Timestamp("2015-01-01"))
    published_inferred: Series[bool]
    date_basis: Series[str] = pa.Field(str_length={"min_value": 5})

    class Config:
        strict = True
        coerce = True


class ProvinceSchema(pa.DataFrameModel):
    """``data/raw/provinces.csv``: the 31 provincial-level units of mainland China."""

    province_code: Series[str] = pa.Field(unique=True, isin=PROVINCE_CODES)
    name_en: Series[str] = pa.Field(unique=True)
    name_zh: Series[str] = pa.Field(unique=True, str_matches=r"^[\u4e00-\u9fff]+$")
    region: Series[str] = pa.Field(isin=REGIONS)
    poverty_task: Series[bool]

    class Config:
        strict = True
        coerce = True

    @table_rule("one row for each of the 31 provincial-level units", ("province_code",),
                action="Add a row for each missing code (GB/T 2260).",
                describe=lambda df: _missing_provinces(df))
    def thirty_one_units(cls, df: pd.DataFrame) -> bool:
        return sorted(df["province_code"]) == sorted(PROVINCE_CODES)

    @table_rule("22 provinces with poverty-alleviation tasks (poverty_task true)",
                ("poverty_task",), action="Correct poverty_task: the 22 are the central and "
                "western provinces plus Hebei, Hainan, Jilin and Heilongjiang.",
                describe=lambda df: f"{int(df['poverty_task'].sum())} marked true")
    def twenty_two_poverty_task_provinces(cls, df: pd.DataFrame) -> bool:
        return int(df["poverty_task"].sum()) == 22


def _missing_provinces(df: pd.DataFrame) -> str:
    missing = sorted(set(PROVINCE_CODES) - set(df["province_code"]))
    return f"{len(df)} rows" + (f"; no row for code {', '.join(missing)}" if missing else "")


def _parsed_or_nan(written: object) -> float:
    if not isinstance(written, str) or not written.strip():
        return math.nan
    try:
        return parse_written_number(written)
    except UnreadableNumberError:
        return math.nan


class LedgerSchema(pa.DataFrameModel):
    """``data/raw/published_figures.csv``: one row per published number (docs/architecture.md)."""

    figure_id: Series[str] = pa.Field(unique=True, str_matches=FIGURE_ID_PATTERN)
    source_id: Series[str]
    published: Series[pd.Timestamp]
    indicator: Series[str] = pa.Field(str_matches=r"^[a-z][a-z0-9_]*$")
    description: Series[str] = pa.Field(str_length={"min_value": 5})
    scope: Series[str] = pa.Field(str_matches=r"^(national|\d{2})$")
    period: Series[str] = pa.Field(str_matches=PERIOD_PATTERN)
    period_note: Series[str] = pa.Field(nullable=True)
    kind: Series[str] = pa.Field(isin=KINDS)
    qualifier: Series[str] = pa.Field(isin=QUALIFIERS)
    value: Series[float] = pa.Field(nullable=True, ge=0)
    unit: Series[str] = pa.Field(isin=UNITS)
    value_as_written: Series[str] = pa.Field(nullable=True)
    quote: Series[str] = pa.Field(str_length={"min_value": 10})
    missing_reason: Series[str] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True

    @row_rule("percent within 0-100 and fraction within 0-1", ("value", "unit"),
              action="Correct the value or the unit (a level relative to 100, such as 108.9% "
                     "of last year, has unit index).")
    def shares_in_range(cls, df: pd.DataFrame) -> Series[bool]:
        upper = df["unit"].map({"percent": 100.0, "fraction": 1.0})
        return upper.isna() | df["value"].isna() | (df["value"] <= upper)

    @row_rule("value_as_written appears verbatim in quote", ("value_as_written", "quote"),
              action="Copy value_as_written exactly as the quote prints it, or complete the "
                     "quote.")
    def written_value_in_quote(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series(
            [
                not isinstance(written, str) or written in quote
                for written, quote in zip(df["value_as_written"], df["quote"])
            ],
            index=df.index,
        )

    @row_rule("value equals value_as_written read in base units", ("value", "value_as_written"),
              action='Give value in base units: "32.43 million" is 32430000, "93.8%" is 93.8.')
    def value_matches_written(cls, df: pd.DataFrame) -> Series[bool]:
        parsed = df["value_as_written"].map(_parsed_or_nan)
        both_missing = parsed.isna() & df["value"].isna()
        close = (parsed - df["value"]).abs() <= 1e-6 * parsed.abs().clip(lower=1.0)
        return both_missing | close

    @row_rule("a missing value has a missing_reason, and only a missing value has one",
              ("value", "missing_reason"),
              action="Fill value, or leave it empty and say why in missing_reason.")
    def missing_value_explained(cls, df: pd.DataFrame) -> Series[bool]:
        has_reason = df["missing_reason"].fillna("").str.strip() != ""
        return df["value"].isna() == has_reason

    @row_rule("a target has a target year: period YYYY or YYYY-YYYY", ("kind", "period"),
              action="Give the target's year or range of years in period.")
    def targets_have_year(cls, df: pd.DataFrame) -> Series[bool]:
        is_year = df["period"].astype(str).str.match(YEAR_OR_RANGE)
        return (df["kind"] != "target") | is_year


SOURCE_ID_CHECK = "a source_id listed in data/raw/sources.csv"
SCOPE_CHECK = '"national" or a province code listed in data/raw/provinces.csv'
KNOWN_PROVINCE_CHECK = "a province code listed in data/raw/provinces.csv"
SOURCE_DOCUMENT_CHECK = "a document in the sources folder"
# What to do when a check with an error text of our own fails.
ACTIONS = {
    SOURCE_ID_CHECK: "Use the source_id of a row of data/raw/sources.csv, or add the source "
                     "there (its text goes in data/raw/sources/).",
    SCOPE_CHECK: "Use a province_code of data/raw/provinces.csv, or national.",
    SOURCE_DOCUMENT_CHECK: "Put the source document in the sources folder under this name, or "
                           "correct the name.",
    KNOWN_PROVINCE_CHECK: "Use the province's two-digit GB/T 2260 code (53 for Yunnan); map "
                          "names or other codes to codes with \"recode\" in column_map.json.",
}


def _listed(values: list[str], limit: int = 12) -> str:
    return ", ".join(values) if len(values) <= limit else f"{len(values)} values"


def ledger_reference_schema(source_ids: list[str], scopes: list[str]) -> pa.DataFrameSchema:
    """Checks of ledger rows against the source and province tables' keys."""
    return pa.DataFrameSchema(
        {
            "source_id": pa.Column(str, pa.Check.isin(
                source_ids, error=f"{SOURCE_ID_CHECK} ({_listed(source_ids)})")),
            "scope": pa.Column(str, pa.Check.isin(scopes, error=SCOPE_CHECK)),
        },
        strict=False,
    )


def with_checks(schema: pa.DataFrameSchema, extra: dict[str, list[pa.Check]],
                ) -> pa.DataFrameSchema:
    """``schema`` with more checks on some of its columns (e.g. references to another table)."""
    for name, checks in extra.items():
        schema = schema.update_column(name, checks=[*schema.columns[name].checks, *checks])
    return schema


class PanelSchema(pa.DataFrameModel):
    """The person-year panel: one registered poor laborer in one year.

    Ids are integers; county ids are unique across provinces. ``first_trained_year`` is the year
    of the person's first vocational-skills training (missing when never trained in the panel).
    ``workshop_job``, ``public_welfare_post`` and ``organized_labor_export``: placed through the
    channel this year (in the simulated panel, this year or earlier: placement is absorbing).
    Each field's ``description`` and ``metadata["unit"]`` are the analyst's documentation:
    ``docs/panel_schema.md`` is generated from them (``python -m analysis.data.schema_docs``).
    """

    person_id: Series[int] = pa.Field(ge=0, description="the laborer")
    household_id: Series[int] = pa.Field(ge=0, description="the laborer's household")
    province_code: Series[str] = pa.Field(
        str_matches=PROVINCE_CODE_PATTERN,
        description='GB/T 2260 code of the home province, e.g. "53" Yunnan; it must be a code '
                    "of data/raw/provinces.csv")
    county_id: Series[int] = pa.Field(
        ge=0, description="home county; unique across provinces. The default cluster of the "
                          "standard errors")
    year: Series[int] = pa.Field(ge=2000, le=2035, description="calendar year of the row",
                                 metadata={"unit": "year"})
    age: Series[int] = pa.Field(ge=PANEL_AGE_RANGE[0], le=PANEL_AGE_RANGE[1],
                                description="age in that year", metadata={"unit": "years"})
    female: Series[bool] = pa.Field(description="woman")
    schooling_years: Series[float] = pa.Field(ge=0, le=22, description="years of schooling",
                                              metadata={"unit": "years"})
    disability_or_weak_labor: Series[bool] = pa.Field(
        description="disability or weak labor capacity")
    household_size: Series[int] = pa.Field(ge=1, le=30, description="persons in the household",
                                           metadata={"unit": "persons"})
    trained: Series[bool] = pa.Field(
        description="received vocational-skills training in this year")
    first_trained_year: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=2000, le=2035, metadata={"unit": "year"},
        description="year of the person's first vocational-skills training; empty when never "
                    "trained in the panel (derived from trained if the extract lacks it)")
    months_worked: Series[float] = pa.Field(ge=0, le=12, description="months worked in the year",
                                            metadata={"unit": "months"})
    stable_employment: Series[bool] = pa.Field(
        description="stable employment: at least six months of work in the year (derived from "
                    "months_worked if the extract lacks it)")
    worked_outside_county: Series[bool] = pa.Field(
        description="worked outside the home county in the year")
    worked_outside_province: Series[bool] = pa.Field(
        description="worked outside the home province in the year")
    wage_income: Series[float] = pa.Field(ge=0, description="annual wage income",
                                          metadata={"unit": "yuan"})
    workshop_job: Series[bool] = pa.Field(
        description="placed in a poverty-alleviation workshop job this year")
    public_welfare_post: Series[bool] = pa.Field(
        description="placed in a public-welfare post this year")
    organized_labor_export: Series[bool] = pa.Field(
        description='placed through organized "point-to-point" labor export this year')
    employment_services: Series[bool] = pa.Field(
        description="received other employment-assistance services this year: job "
                    "information, referral, job-seeking or transport subsidy")

    class Config:
        strict = True
        coerce = True
        unique = ["person_id", "year"]

    @row_rule("stable_employment equals months_worked >= 6",
              ("stable_employment", "months_worked"),
              action="Drop stable_employment from the extract to have it derived, or correct "
                     "it.")
    def stable_means_six_months(cls, df: pd.DataFrame) -> Series[bool]:
        return df["stable_employment"] == (df["months_worked"] >= 6)

    @row_rule("worked_outside_province only if worked_outside_county",
              ("worked_outside_province", "worked_outside_county"),
              action="Working outside the province is working outside the county: correct one "
                     "of the two.")
    def outside_province_within_outside_county(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["worked_outside_province"] | df["worked_outside_county"]

    @row_rule("trained only in or after first_trained_year",
              ("trained", "first_trained_year", "year"),
              action="Correct first_trained_year, or drop it from the extract to have it "
                     "derived from trained.")
    def training_not_before_first(cls, df: pd.DataFrame) -> Series[bool]:
        first = df["first_trained_year"]
        return ~df["trained"] | (first.notna() & (df["year"] >= first)).fillna(False)

    @table_rule("a person belongs to one household in every year", ("person_id", "household_id"),
                action="Give the person the same household_id in every year.")
    def one_household_per_person(cls, df: pd.DataFrame) -> Series[bool]:
        households = df.groupby("person_id")["household_id"].transform("nunique")
        return households == 1

    @table_rule("a county lies in one province", ("county_id", "province_code"),
                action="Give the county the same province_code on every row (county ids must "
                       "be unique across provinces).")
    def county_in_one_province(cls, df: pd.DataFrame) -> Series[bool]:
        provinces = df.groupby("county_id")["province_code"].transform("nunique")
        return provinces == 1
