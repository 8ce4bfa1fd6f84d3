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

Pass 1 also gives its findings before they become failures (:class:`ReadFindings`): a table
read in chunks adds up the findings of every chunk, so that an unreadable value found in many
chunks is one failure with its count and first rows, as when the table is read whole.
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
from analysis.data.reading import Places, TextTable

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
    failures = [failure for name in expected
                if name not in values and schema.columns[name].required
                for failure in table.failures(
                    "column", "column present", f"a column for {name} (the {what} has "
                    f"{len(expected)}: {', '.join(expected)})", column=name,
                    found="no such column", action=advice.missing_column(name, expected))]
    if schema.strict:
        failures += [failure for name in table.frame.columns if name not in schema.columns
                     for failure in table.failures(
                         "column", "column known", f"only the {what}'s columns", column=name,
                         found=f"a column that is not part of the {what}",
                         action=advice.extra_column(table.name(name), expected))]
    return failures


def value_places(table: TextTable, name: str, mask: np.ndarray) -> dict[str, Places]:
    """Each distinct text of column ``name`` in the rows of ``mask``, with its places."""
    positions = np.flatnonzero(mask)
    codes, values = pd.factorize(table.frame[name].to_numpy(dtype=object)[positions])
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.diff(codes[order], prepend=-1))
    return {str(values[codes[order[start]]]): table.places(group)
            for start, group in zip(starts, np.split(positions[order], starts[1:]))}


def by_frequency(values: dict[str, Places]) -> list[str]:
    """The values, most frequent first; of equally frequent ones, the first found first."""
    return sorted(values, key=lambda value: (-values[value].count, values[value].first_place))


def by_appearance(values: dict[str, Places]) -> list[str]:
    return sorted(values, key=lambda value: values[value].first_place)


def distinct_value_failures(files: tuple, column: str, ours: str, values: dict[str, Places],
                            check: str, expected: str, action: Callable[[list[str]], str],
                            ) -> list[InputFailure]:
    """One failure per distinct value (the ``SHOWN_VALUES`` most frequent), with its count
    and first rows, and one for all other values; ``column`` is the file's name."""
    ordered = by_frequency(values)
    act = action(ordered)
    failures = []
    for value in ordered[:SHOWN_VALUES]:
        failures += values[value].failures(files, "cell", check, expected, column=column,
                                           ours=ours, found=quoted(value), action=act)
    if len(ordered) > SHOWN_VALUES:
        rest = Places.merged([values[value] for value in ordered[SHOWN_VALUES:]])
        failures += rest.failures(files, "cell", check, expected, column=column, ours=ours,
                                  found=f"{len(ordered) - SHOWN_VALUES} other unreadable values",
                                  action=act)
    return failures


def _merged_values(many: list[dict[str, Places]]) -> dict[str, Places]:
    gathered: dict[str, list[Places]] = {}
    for values in many:
        for value, places in values.items():
            gathered.setdefault(value, []).append(places)
    return {value: Places.merged(places) for value, places in gathered.items()}


@dataclass
class ReadFindings:
    """Pass 1's findings by column (our name): values a recode does not list, empty cells
    and unreadable values, each with its places. Findings of chunks of a table add up
    (:meth:`merged`) to those of the whole table."""

    unmapped: dict[str, dict[str, Places]]
    empty: dict[str, Places]
    unreadable: dict[str, dict[str, Places]]

    @classmethod
    def merged(cls, many: list[ReadFindings]) -> ReadFindings:
        def values(kind: str) -> dict:
            names = dict.fromkeys(name for findings in many for name in getattr(findings, kind))
            return {name: _merged_values([getattr(findings, kind).get(name, {})
                                          for findings in many]) for name in names}

        empty_names = dict.fromkeys(name for findings in many for name in findings.empty)
        return cls(values("unmapped"),
                   {name: Places.merged([findings.empty[name] for findings in many
                                         if name in findings.empty]) for name in empty_names},
                   values("unreadable"))

    def failures(self, schema: pa.DataFrameSchema, recode: dict[str, dict[str, str]] | None,
                 advice: Advice, files: tuple, their_name: Callable[[str], str],
                 ) -> list[InputFailure]:
        failures = []
        for name, column in schema.columns.items():
            kind, expected = schemas.value_kind(column), schemas.allowed_values(column)
            theirs = their_name(name)
            if self.unmapped.get(name):
                keys = [quoted(key) for key in (recode or {})[name]]
                unlisted, act = advice.unmapped(name, by_appearance(self.unmapped[name]), keys)
                failures += distinct_value_failures(
                    files, theirs, name, self.unmapped[name], "not listed in the recode",
                    unlisted, lambda found, act=act: act)
            if name in self.empty:
                failures += self.empty[name].failures(
                    files, "cell", "empty cell", expected, column=theirs, ours=name,
                    found="an empty cell", action=advice.empty(name, kind))
            if self.unreadable.get(name):
                failures += distinct_value_failures(
                    files, theirs, name, self.unreadable[name], f"not {KIND_NAMES[kind]}",
                    expected, lambda found, name=name, kind=kind:
                    advice.unreadable(name, kind, found))
        return failures


def _recoded(table: TextTable, name: str, mapping: dict[str, str],
             ) -> tuple[pd.Series, np.ndarray]:
    """A column through its recode, which must list every value; an empty cell that the
    recode does not list (as "") stays empty."""
    text = table.frame[name].astype(str)
    unmapped = ~text.isin(list(mapping)).to_numpy() & (text.str.strip() != "").to_numpy()
    return text.map(mapping).fillna("").astype(str), unmapped


def read_cells(table: TextTable, schema: pa.DataFrameSchema,
               recode: dict[str, dict[str, str]] | None = None,
               ) -> tuple[pd.DataFrame, np.ndarray, ReadFindings]:
    """Pass 1: (values of the schema's columns, rows with a failing cell, findings)."""
    values = {}
    findings = ReadFindings({}, {}, {})
    failing = np.zeros(len(table.frame), dtype=bool)
    for name, column in schema.columns.items():
        if name not in table.frame:
            continue
        kind = schemas.value_kind(column)
        text = table.frame[name].astype(str)
        unmapped = np.zeros(len(text), dtype=bool)
        if name in (recode or {}):
            text, unmapped = _recoded(table, name, recode[name])
            if unmapped.any():
                findings.unmapped[name] = value_places(table, name, unmapped)
            failing |= unmapped
        empty = (text.str.strip() == "").to_numpy() & ~unmapped
        parsed = KINDS[kind].parse(text if kind == "text" else text.str.strip())
        parsed = parsed.where(~empty) if kind != "text" else parsed.where(~empty, None)
        unreadable = ~empty & ~unmapped & parsed.isna().to_numpy()
        if empty.any() and not column.nullable:
            findings.empty[name] = table.places(np.flatnonzero(empty))
            failing |= empty
        if unreadable.any():
            findings.unreadable[name] = value_places(table, name, unreadable)
            failing |= unreadable
        values[name] = parsed
    return pd.DataFrame(values, index=table.frame.index), failing, findings


def read_values(table: TextTable, schema: pa.DataFrameSchema, advice: Advice,
                recode: dict[str, dict[str, str]] | None = None,
                ) -> tuple[pd.DataFrame, np.ndarray, list[InputFailure]]:
    """Pass 1: (values of the schema's columns, rows with a failing cell, failures).

    ``recode`` maps a column's text to the text of our values ("F" -> "true"); a column with a
    recode accepts only the values it lists.
    """
    values, failing, findings = read_cells(table, schema, recode)
    return values, failing, findings.failures(schema, recode, advice, table.files, table.name)


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
        failures += [failure for position in positions for failure in table.failures(
            "cell", failed_check_label(check),
            schemas.allowed_values(column) if built_in else words, column=name,
            positions=[position], found=_cell_text(table, values, name, position),
            action=action)]
    return failing, failures


def _duplicate_failures(table: TextTable, values: pd.DataFrame, name: str,
                        positions: np.ndarray) -> list[InputFailure]:
    repeated = values[name].iloc[positions]
    return [failure for value, group in repeated.groupby(repeated, sort=False)
            for failure in table.failures(
                "cell", "repeated value", f"each {name} on one row only", column=name,
                positions=group.index.to_numpy(), found=f"{quoted(value)} on {len(group)} rows",
                action="Keep one of these rows, or give each its own value.")]


def typed(values: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Values in the schema's own types (for rows without empty or unreadable cells)."""
    converted = values[[name for name in schema.columns if name in values]].copy()
    for name in converted.columns:
        column = schema.columns[name]
        if schemas.value_kind(column) in ("integer", "number", "yes/no"):
            converted[name] = converted[name].astype(column.dtype.type)
    return converted


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
    clean_rows = typed(values[clean], schema)
    failures = _compound_key_failures(table, values, clean_rows, schema)
    checks = [check for check in schema.checks if clean.all() or not _about_whole_table(check)]
    cases = _failure_cases(pa.DataFrameSchema(checks=checks), clean_rows)
    if cases is None:
        return failures
    for error, group in cases.groupby("check", sort=False):
        rule = schemas.RULES.get(error, schemas.Rule(error, (), "table"))
        column = rule.columns[0] if rule.columns else ""
        positions = sorted(group["index"].dropna().astype(int).unique())
        if not positions:  # a rule about the whole table
            failures += table.failures(
                "table", error, error, column=column, action=rule.action,
                found=rule.describe(clean_rows) if rule.describe else "")
        failures += rule_failures(table, values, error, positions)
    return failures


def rule_failures(table: TextTable, values: pd.DataFrame, error: str,
                  positions) -> list[InputFailure]:
    """One failure per row of a rule over several cells (of :data:`schemas.RULES`), naming the
    cells it reads."""
    rule = schemas.RULES.get(error, schemas.Rule(error, (), "table"))
    column = rule.columns[0] if rule.columns else ""
    return [failure for position in positions for failure in table.failures(
        rule.spans, error, error, column=column, positions=[position], action=rule.action,
        found=_found_in_row(table, values, position, rule.columns))]


def _compound_key_failures(table: TextTable, values: pd.DataFrame, clean_rows: pd.DataFrame,
                           schema: pa.DataFrameSchema) -> list[InputFailure]:
    key = list(schema.unique or [])
    if not key:
        return []
    repeated = clean_rows[clean_rows.duplicated(key, keep=False)]
    rule = f"one row per {' and '.join(key)}"
    return [failure for _, group in repeated.groupby(key, sort=False)
            for failure in table.failures(
                "table", rule, rule, column=key[0], positions=group.index.to_numpy(),
                found=f"{len(group)} rows with " + _found_in_row(table, values, group.index[0],
                                                                 tuple(key)),
                action="Keep one of these rows, or correct the others' keys.")]


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
        return schema.validate(typed(values, schema), lazy=True), []
    except pa.errors.SchemaErrors as error:  # a check the passes above do not translate
        return values, [failure for case in error.failure_cases.itertuples()
                        for failure in table.failures("table", str(case.check), str(case.check),
                                                      column=str(case.column or ""),
                                                      found=quoted(case.failure_case))]
