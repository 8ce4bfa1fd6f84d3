"""A table of text cells validated against a pandera schema, every failure a sentence.

Validation runs in three passes, so that a wrong cell is named before any rule it breaks:

1. **Reading** (:func:`read_values`): each cell's text becomes a value of its column's kind
   (:data:`KINDS`). Text is never taken for a number or a yes/no that it does not spell:
   ``"12"`` is a number and ``"true"``, ``"1"`` are yes, but ``"yes"``, ``"是"`` or
   ``"1,200"`` are failures. An empty cell is a failure unless the column may be empty.
2. **Cells** (:func:`check_cells`): the schema's column checks (ranges, patterns, allowed
   values, uniqueness) on every cell that was read, with pandera's lazy validation.
3. **Rules** (:func:`check_rules`): the schema's checks over several cells and its compound
   keys, on the rows whose cells all passed; a county is not reported for lying in two
   provinces because one of its rows says "Yunnan".

pandera's failure cases (``SchemaErrors.failure_cases``) are translated into
:class:`~analysis.data.failures.InputFailure` records: the check's words come from
:func:`analysis.data.schemas.allowed_values` and :data:`analysis.data.schemas.RULES`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis.data import schemas
from analysis.data.failures import InputFailure, quoted
from analysis.data.reading import TextTable

NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
WHOLE_NUMBER = r"[+-]?\d{1,18}"  # 18 digits fit in a 64-bit integer
TRUE_TEXT, FALSE_TEXT = ("true", "1", "1.0"), ("false", "0", "0.0")
KIND_NAMES = {"integer": "a whole number", "number": "a number", "yes/no": "yes/no",
              "date": "a date", "text": "text"}
SHOWN_VALUES = 8  # distinct unreadable values reported per column


def _whole_numbers(text: pd.Series) -> pd.Series:
    digits = text.str.replace(r"\.0*$", "", regex=True)
    readable = digits.str.fullmatch(WHOLE_NUMBER).fillna(False).astype(bool)
    values = pd.Series(pd.NA, index=text.index, dtype="Int64")
    values[readable] = digits[readable].astype("int64")  # exact, unlike a detour via float
    return values


def _floats(text: pd.Series) -> pd.Series:
    readable = text.str.fullmatch(NUMBER).fillna(False).astype(bool)
    numbers = pd.to_numeric(text.where(readable), errors="coerce").astype("Float64")
    return numbers.where(numbers.abs() < np.inf)  # "1e999" is not a number anyone wrote


def _yes_no(text: pd.Series) -> pd.Series:
    lower = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[lower.isin(TRUE_TEXT)] = True
    values[lower.isin(FALSE_TEXT)] = False
    return values


def _dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.where(text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)),
                          format="%Y-%m-%d", errors="coerce")


@dataclass(frozen=True)
class Kind:
    """How text becomes one kind of value; ``parse`` gives NA for text it cannot read."""

    parse: Callable[[pd.Series], pd.Series]
    action: str


KINDS = {
    "integer": Kind(_whole_numbers, "Write a whole number in digits only, e.g. 2016 (no units, "
                                    "words or thousands separators)."),
    "number": Kind(_floats, "Write the number in digits, with a decimal point if needed, e.g. "
                            "1200.5 (no units, words or thousands separators)."),
    "yes/no": Kind(_yes_no, "Write true/false or 1/0."),
    "date": Kind(_dates, "Write the date as YYYY-MM-DD, e.g. 2021-01-26."),
    "text": Kind(lambda text: text, ""),
}


class Advice:
    """What to tell the analyst to do; :mod:`analysis.data.microdata` tells more."""

    cell = "Correct the cell."

    def missing_column(self, ours: str, expected: list[str]) -> str:
        return f"Add a column named {ours} to the header, with a value on every line."

    def extra_column(self, theirs: str, expected: list[str]) -> str:
        close = difflib.get_close_matches(theirs, expected, n=1)
        hint = f' If it is "{close[0]}" misspelled, correct the header.' if close else ""
        return f"Delete the column.{hint}"

    def unreadable(self, ours: str, kind: str, values: list[str]) -> str:
        return KINDS[kind].action

    def empty(self, ours: str, kind: str) -> str:
        return "Fill the cell."

    def unmapped(self, ours: str, values: list[str], keys: list[str]) -> tuple[str, str]:
        """(expected, action) for values that a recode does not list."""
        return f"one of the recoded values ({', '.join(keys)})", "Add the values to the recode."


def check_columns(table: TextTable, values: pd.DataFrame, schema: pa.DataFrameSchema,
                  what: str, advice: Advice) -> list[InputFailure]:
    """Missing columns, and (for a strict schema) columns the schema does not know."""
    expected = list(schema.columns)
    failures = [table.failure(
        "column", "column present", f"a column for {name} (the {what} has {len(expected)}: "
        f"{', '.join(expected)})", column=name, found="no such column",
        action=advice.missing_column(name, expected))
        for name in expected if name not in values and schema.columns[name].required]
    if schema.strict:
        failures += [table.failure(
            "column", "column known", f"only the {what}'s columns", column=name,
            found=f"a column that is not part of the {what}",
            action=advice.extra_column(table.name(name), expected))
            for name in table.frame.columns if name not in schema.columns]
    return failures


def _distinct_value_failures(table: TextTable, name: str, mask: np.ndarray, check: str,
                             expected: str, action: Callable[[list[str]], str],
                             ) -> list[InputFailure]:
    """One failure per distinct value of the cells in ``mask``, with its count and rows."""
    cells = table.frame[name][mask]
    values = list(cells.value_counts(sort=True).index)
    act = action(values)
    failures = []
    for value in values[:SHOWN_VALUES]:
        positions = np.flatnonzero(mask & (table.frame[name] == value).to_numpy())
        failures.append(table.failure("cell", check, expected, column=name, positions=positions,
                                      found=quoted(value), action=act))
    if len(values) > SHOWN_VALUES:
        rest = np.flatnonzero(mask & ~table.frame[name].isin(values[:SHOWN_VALUES]).to_numpy())
        failures.append(table.failure(
            "cell", check, expected, column=name, positions=rest, action=act,
            found=f"{len(values) - SHOWN_VALUES} other unreadable values"))
    return failures


def _recoded(table: TextTable, name: str, mapping: dict[str, str], advice: Advice,
             ) -> tuple[pd.Series, np.ndarray, list[InputFailure]]:
    """A column through its recode, which must list every value; an empty cell that the
    recode does not list (as "") stays empty."""
    text = table.frame[name].astype(str)
    unmapped = ~text.isin(list(mapping)).to_numpy() & (text.str.strip() != "").to_numpy()
    failures = []
    if unmapped.any():
        keys = [quoted(key) for key in mapping]
        expected, action = advice.unmapped(name, list(text[unmapped].unique()), keys)
        failures = _distinct_value_failures(table, name, unmapped, "not listed in the recode",
                                            expected, lambda found: action)
    return text.map(mapping).fillna("").astype(str), unmapped, failures


def read_values(table: TextTable, schema: pa.DataFrameSchema, advice: Advice,
                recode: dict[str, dict[str, str]] | None = None,
                ) -> tuple[pd.DataFrame, np.ndarray, list[InputFailure]]:
    """Pass 1: (values of the schema's columns, rows with a failing cell, failures).

    ``recode`` maps a column's text to the text of our values ("F" -> "true"); a column with a
    recode accepts only the values it lists.
    """
    values, failures = {}, []
    failing = np.zeros(len(table.frame), dtype=bool)
    for name, column in schema.columns.items():
        if name not in table.frame:
            continue
        kind = schemas.value_kind(column)
        text = table.frame[name].astype(str)
        unmapped = np.zeros(len(text), dtype=bool)
        if name in (recode or {}):
            text, unmapped, unmapped_failures = _recoded(table, name, recode[name], advice)
            failures += unmapped_failures
            failing |= unmapped
        empty = (text.str.strip() == "").to_numpy() & ~unmapped
        parsed = KINDS[kind].parse(text if kind == "text" else text.str.strip())
        parsed = parsed.where(~empty) if kind != "text" else parsed.where(~empty, None)
        unreadable = ~empty & ~unmapped & parsed.isna().to_numpy()
        expected = schemas.allowed_values(column)
        if empty.any() and not column.nullable:
            failures.append(table.failure(
                "cell", "empty cell", expected, column=name,
                positions=np.flatnonzero(empty), found="an empty cell",
                action=advice.empty(name, kind)))
            failing |= empty
        if unreadable.any():
            failures += _distinct_value_failures(
                table, name, unreadable, f"not {KIND_NAMES[kind]}", expected,
                lambda found, name=name, kind=kind: advice.unreadable(name, kind, found))
            failing |= unreadable
        values[name] = parsed
    return pd.DataFrame(values, index=table.frame.index), failing, failures


def failed_check_label(check: pa.Check) -> str:
    """A failed check in a few words, for the summary: "below 16", "not one of ..."."""
    statistics = check.statistics or {}
    if not schemas.is_built_in(check):
        return f"not {schemas.check_words(check)}"
    if check.name == "greater_than_or_equal_to":
        return f"below {statistics['min_value']:g}"
    if check.name == "less_than_or_equal_to":
        return f"above {statistics['max_value']:g}"
    if check.name == "str_length":
        return f"shorter than {statistics['min_value']} characters"
    return f"not {schemas.check_words(check)}"


def _cell_schema(schema: pa.DataFrameSchema, present: list[str]) -> pa.DataFrameSchema:
    """The column checks only, on nullable values (pass 1 has reported empty cells)."""
    return pa.DataFrameSchema({
        name: pa.Column(None, checks=schema.columns[name].checks, nullable=True,
                        unique=schema.columns[name].unique, name=name)
        for name in present})


def _failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame | None:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        return error.failure_cases
    return None


def _cell_text(table: TextTable, values: pd.DataFrame, name: str, position: int) -> str:
    """A cell as the analyst wrote it (or, for a derived column, as we computed it)."""
    cells = table.frame[name] if name in table.frame else values[name]
    return quoted(cells.iloc[position])


def check_cells(table: TextTable, values: pd.DataFrame, schema: pa.DataFrameSchema,
                advice: Advice) -> tuple[np.ndarray, list[InputFailure]]:
    """Pass 2: (rows with a failing cell, failures) of the schema's column checks; a cell
    that fails several checks is reported once, for the first."""
    failing = np.zeros(len(values), dtype=bool)
    cases = _failure_cases(_cell_schema(schema, list(values.columns)), values)
    if cases is None:
        return failing, []
    cases = cases.dropna(subset=["index"]).copy()
    cases["position"] = cases["index"].astype(int)
    cases["number"] = cases["check_number"].fillna(-1).astype(int)
    cases = cases.drop_duplicates(["column", "position"])
    failing[cases["position"].to_numpy()] = True
    failures = []
    for (name, check_name, number), group in cases.groupby(["column", "check", "number"],
                                                           sort=False):
        positions = group["position"].to_numpy()
        if check_name == "field_uniqueness":
            failures += _duplicate_failures(table, values, name, positions)
            continue
        column = schema.columns[name]
        check = column.checks[number]
        built_in = schemas.is_built_in(check)
        words = schemas.check_words(check)
        action = next((todo for start, todo in schemas.ACTIONS.items()
                       if str(check.error).startswith(start)), advice.cell)
        failures += [table.failure(
            "cell", failed_check_label(check),
            schemas.allowed_values(column) if built_in else words, column=name,
            positions=[position], found=_cell_text(table, values, name, position),
            action=action) for position in positions]
    return failing, failures


def _duplicate_failures(table: TextTable, values: pd.DataFrame, name: str,
                        positions: np.ndarray) -> list[InputFailure]:
    repeated = values[name].iloc[positions]
    return [table.failure(
        "cell", "repeated value", f"each {name} on one row only", column=name,
        positions=group.index.to_numpy(), found=f"{quoted(value)} on {len(group)} rows",
        action="Keep one of these rows, or give each its own value.")
        for value, group in repeated.groupby(repeated, sort=False)]


def _typed(values: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Values in the schema's own types (for rows without empty or unreadable cells)."""
    typed = values[[name for name in schema.columns if name in values]].copy()
    for name in typed.columns:
        column = schema.columns[name]
        if schemas.value_kind(column) in ("integer", "number", "yes/no"):
            typed[name] = typed[name].astype(column.dtype.type)
    return typed


def _found_in_row(table: TextTable, values: pd.DataFrame, position: int,
                  columns: tuple[str, ...]) -> str:
    return ", ".join(f"{table.name(name)}={_cell_text(table, values, name, position)}"
                     for name in columns if name in values)


def _about_whole_table(check: pa.Check) -> bool:
    """A rule about the whole table (31 provinces), which rows left out would make fail."""
    rule = schemas.RULES.get(str(check.error))
    return rule is not None and rule.describe is not None


def check_rules(table: TextTable, values: pd.DataFrame, schema: pa.DataFrameSchema,
                clean: np.ndarray) -> list[InputFailure]:
    """Pass 3: the schema's rules over several cells and its compound keys, on clean rows."""
    if not clean.any() or any(name not in values for name in schema.columns):
        return []
    typed = _typed(values[clean], schema)
    failures = _compound_key_failures(table, values, typed, schema)
    checks = [check for check in schema.checks if clean.all() or not _about_whole_table(check)]
    cases = _failure_cases(pa.DataFrameSchema(checks=checks), typed)
    if cases is None:
        return failures
    for error, group in cases.groupby("check", sort=False):
        rule = schemas.RULES.get(error, schemas.Rule(error, (), "table"))
        column = rule.columns[0] if rule.columns else ""
        positions = sorted(group["index"].dropna().astype(int).unique())
        if not positions:  # a rule about the whole table
            failures.append(table.failure(
                "table", error, error, column=column, action=rule.action,
                found=rule.describe(typed) if rule.describe else ""))
        failures += [table.failure(
            rule.spans, error, error, column=column, positions=[position], action=rule.action,
            found=_found_in_row(table, values, position, rule.columns))
            for position in positions]
    return failures


def _compound_key_failures(table: TextTable, values: pd.DataFrame, typed: pd.DataFrame,
                           schema: pa.DataFrameSchema) -> list[InputFailure]:
    key = list(schema.unique or [])
    if not key:
        return []
    repeated = typed[typed.duplicated(key, keep=False)]
    rule = f"one row per {' and '.join(key)}"
    return [table.failure(
        "table", rule, rule, column=key[0], positions=group.index.to_numpy(),
        found=f"{len(group)} rows with " + _found_in_row(table, values, group.index[0],
                                                         tuple(key)),
        action="Keep one of these rows, or correct the others' keys.")
        for _, group in repeated.groupby(key, sort=False)]


def validate_table(table: TextTable, schema: pa.DataFrameSchema, what: str,
                   advice: Advice | None = None,
                   recode: dict[str, dict[str, str]] | None = None,
                   derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                   ) -> tuple[pd.DataFrame, list[InputFailure]]:
    """(the table in the schema's types, failures); the table is meaningful only without
    failures. ``derive`` may add columns computed from the values read (pass 1)."""
    advice = advice or Advice()
    values, unreadable, read_failures = read_values(table, schema, advice, recode)
    if derive is not None:
        values = derive(values)
    failures = check_columns(table, values, schema, what, advice) + read_failures
    failing, cell_failures = check_cells(table, values, schema, advice)
    failures += cell_failures + check_rules(table, values, schema, ~(unreadable | failing))
    if failures:
        return values, failures
    try:
        return schema.validate(_typed(values, schema), lazy=True), []
    except pa.errors.SchemaErrors as error:  # a check the passes above do not translate
        return values, [table.failure("table", str(case.check), str(case.check),
                                      column=str(case.column or ""),
                                      found=quoted(case.failure_case))
                        for case in error.failure_cases.itertuples()]
