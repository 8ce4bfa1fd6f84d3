"""pandera models for every table that crosses a stage boundary.

Raw tables (``sources.csv``, ``provinces.csv``, ``published_figures.csv``) and the person-year
panel are validated here; checks that need a second table (a ledger row's province code must be
a known province) are built by :func:`ledger_reference_schema` from that table's keys.
"""

from __future__ import annotations

import math
import re

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

    province_code: Series[str] = pa.Field(unique=True, str_matches=r"^[1-6]\d$")
    name_en: Series[str] = pa.Field(unique=True)
    name_zh: Series[str] = pa.Field(unique=True, str_matches=r"^[\u4e00-\u9fff]+$")
    region: Series[str] = pa.Field(isin=REGIONS)
    poverty_task: Series[bool]

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="expected the 31 provincial-level units")
    def thirty_one_units(cls, df: pd.DataFrame) -> bool:
        return len(df) == 31

    @pa.dataframe_check(error="expected 22 provinces with poverty-alleviation tasks")
    def twenty_two_poverty_task_provinces(cls, df: pd.DataFrame) -> bool:
        return int(df["poverty_task"].sum()) == 22


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

    @pa.dataframe_check(error="percent must lie within 0-100 and fraction within 0-1")
    def shares_in_range(cls, df: pd.DataFrame) -> Series[bool]:
        upper = df["unit"].map({"percent": 100.0, "fraction": 1.0})
        return upper.isna() | df["value"].isna() | (df["value"] <= upper)

    @pa.dataframe_check(error="value_as_written must appear verbatim in quote")
    def written_value_in_quote(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series(
            [
                not isinstance(written, str) or written in quote
                for written, quote in zip(df["value_as_written"], df["quote"])
            ],
            index=df.index,
        )

    @pa.dataframe_check(error="value must equal value_as_written read in base units")
    def value_matches_written(cls, df: pd.DataFrame) -> Series[bool]:
        parsed = df["value_as_written"].map(_parsed_or_nan)
        both_missing = parsed.isna() & df["value"].isna()
        close = (parsed - df["value"]).abs() <= 1e-6 * parsed.abs().clip(lower=1.0)
        return both_missing | close

    @pa.dataframe_check(error="a missing value needs a missing_reason, and only then")
    def missing_value_explained(cls, df: pd.DataFrame) -> Series[bool]:
        has_reason = df["missing_reason"].fillna("").str.strip() != ""
        return df["value"].isna() == has_reason

    @pa.dataframe_check(error="a target needs a target year: period must be YYYY or YYYY-YYYY")
    def targets_have_year(cls, df: pd.DataFrame) -> Series[bool]:
        is_year = df["period"].astype(str).str.match(YEAR_OR_RANGE)
        return (df["kind"] != "target") | is_year


def ledger_reference_schema(source_ids: list[str], scopes: list[str]) -> pa.DataFrameSchema:
    """Checks of ledger rows against the source and province tables' keys."""
    return pa.DataFrameSchema(
        {
            "source_id": pa.Column(str, pa.Check.isin(source_ids, error="known source_id")),
            "scope": pa.Column(str, pa.Check.isin(scopes, error="'national' or a province code")),
        },
        strict=False,
    )


class PanelSchema(pa.DataFrameModel):
    """The person-year panel: one registered poor laborer in one year.

    Ids are integers; county ids are unique across provinces. ``first_trained_year`` is the year
    of the person's first vocational-skills training (missing when never trained in the panel).
    ``workshop_job``, ``public_welfare_post`` and ``organized_labor_export``: placed through the
    channel this year (in the simulated panel, this year or earlier: placement is absorbing).
    ``employment_services``: received other employment-assistance services this year: job
    information, referral, job-seeking or transport subsidy.
    """

    person_id: Series[int] = pa.Field(ge=0)
    household_id: Series[int] = pa.Field(ge=0)
    province_code: Series[str] = pa.Field(str_matches=r"^[1-6]\d$")
    county_id: Series[int] = pa.Field(ge=0)
    year: Series[int] = pa.Field(ge=2000, le=2035)
    age: Series[int] = pa.Field(ge=PANEL_AGE_RANGE[0], le=PANEL_AGE_RANGE[1])
    female: Series[bool]
    schooling_years: Series[float] = pa.Field(ge=0, le=22)
    disability_or_weak_labor: Series[bool]
    household_size: Series[int] = pa.Field(ge=1, le=30)
    trained: Series[bool]
    first_trained_year: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=2000, le=2035)
    months_worked: Series[float] = pa.Field(ge=0, le=12)
    stable_employment: Series[bool]
    worked_outside_county: Series[bool]
    worked_outside_province: Series[bool]
    wage_income: Series[float] = pa.Field(ge=0)
    workshop_job: Series[bool]
    public_welfare_post: Series[bool]
    organized_labor_export: Series[bool]
    employment_services: Series[bool]

    class Config:
        strict = True
        coerce = True
        unique = ["person_id", "year"]

    @pa.dataframe_check(error="stable_employment must equal months_worked >= 6")
    def stable_means_six_months(cls, df: pd.DataFrame) -> Series[bool]:
        return df["stable_employment"] == (df["months_worked"] >= 6)

    @pa.dataframe_check(error="working outside the province implies working outside the county")
    def outside_province_within_outside_county(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["worked_outside_province"] | df["worked_outside_county"]

    @pa.dataframe_check(error="a person belongs to one household in every year")
    def one_household_per_person(cls, df: pd.DataFrame) -> Series[bool]:
        households = df.groupby("person_id")["household_id"].transform("nunique")
        return households == 1

    @pa.dataframe_check(error="a county lies in one province")
    def county_in_one_province(cls, df: pd.DataFrame) -> Series[bool]:
        provinces = df.groupby("county_id")["province_code"].transform("nunique")
        return provinces == 1

    @pa.dataframe_check(error="trained in a year before first_trained_year")
    def training_not_before_first(cls, df: pd.DataFrame) -> Series[bool]:
        first = df["first_trained_year"]
        return ~df["trained"] | (first.notna() & (df["year"] >= first)).fillna(False)
