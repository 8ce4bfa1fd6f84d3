"""Input failures as sentences: where, what was found, what was expected and what to do.

Every problem that reading or validating an input finds becomes one :class:`InputFailure`:
the file, the rows (numbered as the analyst's file numbers them: a CSV's line, with the header
as line 1, or a Parquet file's row, the first being row 1), the column in the analyst's own name
with ours beside it, the value found, the value expected and the action that fixes it.
:func:`report` turns a list of them into the text ``python -m analysis ingest`` prints: for a
file with many failures a summary grouped by column and check comes first, cell-level failures
come before rules that read several cells, and :func:`write_full_list` writes every failure to
a CSV file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from analysis.files import write_text_atomically

# The order in which failures are reported: a file that cannot be read at all first, then
# missing or unexpected columns, single cells, rules over one row, rules across rows.
LEVELS = ("file", "column", "cell", "row", "table")
SHOWN_ROWS = 5
MANY = 10  # a file with more failures than this gets a summary first
SHOWN_FAILURES = 40
FULL_LIST_NAME = "ingest_failures.csv"


@dataclass(frozen=True)
class InputFailure:
    """One problem in one input file (see the module docstring)."""

    file: str
    level: str
    check: str
    expected: str
    found: str = ""
    action: str = ""
    column: str = ""  # as the analyst's file names it
    ours: str = ""  # our name for that column, when it differs
    rows: tuple[int, ...] = ()  # the first few rows affected, in the analyst's numbering
    count: int = 0  # how many rows are affected (0: the failure is not about rows)
    row_word: str = "line"  # "line" for CSV files, "row" for Parquet files
    where: str = ""  # a place that is not a row, e.g. a key of column_map.json

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {self.level!r}")

    def place(self) -> str:
        """``line 9``, ``lines 9, 12 and 30 more (32 rows)``, a JSON key, or ``""``."""
        if self.where:
            return self.where
        if not self.rows:
            return ""
        shown = [f"{row:,}" for row in self.rows[:SHOWN_ROWS]]
        if self.count <= 1:
            return f"{self.row_word} {shown[0]}"
        hidden = self.count - len(shown)
        if hidden > 0:
            return f"{self.row_word}s {', '.join(shown)} and {hidden:,} more ({self.count:,} rows)"
        listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        return f"{self.row_word}s {listed}"

    def column_words(self) -> str:
        if not self.column:
            return ""
        if self.ours and self.ours != self.column:
            return f'column "{self.column}" (our {self.ours})'
        return f'column "{self.column}"'

    def sentence(self) -> str:
        """The failure as one sentence (two, with the action)."""
        head = ", ".join(part for part in (self.file, self.place(), self.column_words()) if part)
        found = f"found {self.found}; " if self.found else ""
        text = f"{head}: {found}expected {self.expected}."
        return f"{text} {self.action}" if self.action else text


class InputError(Exception):
    """Raised by a reader when an input cannot be read at all; ``failures`` say why."""

    def __init__(self, failures: list[InputFailure]):
        self.failures = list(failures)
        super().__init__("\n".join(failure.sentence() for failure in self.failures))


def quoted(value: object, limit: int = 60) -> str:
    """A cell value as messages show it: in double quotes, control characters made visible."""
    visible = re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], str(value))
    if len(visible) > limit:
        visible = visible[:limit - 3] + "..."
    return f'"{visible}"'


def ordered(failures: list[InputFailure]) -> list[InputFailure]:
    """Files in the order they were first reported; within a file, by level, then row (then
    column, check and what was found, so that the order never depends on how the file was
    read: whole, in chunks or by province)."""
    file_order = {file: rank for rank, file in enumerate(dict.fromkeys(f.file for f in failures))}
    return sorted(failures, key=lambda f: (file_order[f.file], LEVELS.index(f.level),
                                           f.rows[0] if f.rows else 0, f.column, f.check,
                                           f.found, f.where, f.rows, f.count))


def summary(failures: list[InputFailure]) -> list[str]:
    """One line per (level, column, check) of one file: how many rows, and the first ones."""
    groups: dict[tuple, list[InputFailure]] = {}
    for failure in ordered(failures):
        groups.setdefault((failure.level, failure.column_words(), failure.check), []).append(
            failure)
    lines = []
    for (level, column, check), members in groups.items():
        rows = sorted({row for member in members for row in member.rows})
        count = sum(max(member.count, 1) for member in members)
        where = ""
        if rows:
            shown = ", ".join(f"{row:,}" for row in rows[:SHOWN_ROWS])
            more = ", ..." if count > len(rows[:SHOWN_ROWS]) else ""
            where = f" ({members[0].row_word}s {shown}{more})"
        label = column or "the whole file"
        lines.append(f"  {count:>7,} x {label}: {check}{where}")
    return lines


def report(failures: list[InputFailure], full_list: Path | str | None = None,
           shown: int = SHOWN_FAILURES) -> str:
    """The text an analyst reads: per file a summary when it has many failures, then sentences.

    Cell-level failures come before rules over several cells, so that a wrong cell is named
    before the rules it breaks. At most ``shown`` sentences are printed; ``full_list`` names
    the file that holds all of them.
    """
    failures = ordered(failures)
    counts = Counter(failure.file for failure in failures)
    blocks = []
    if any(count > MANY for count in counts.values()):
        lines = ["Summary (count x column: check, first rows):"]
        for file, count in counts.items():
            lines.append(f"{file}: {count:,} failure(s)")
            lines.extend(summary([failure for failure in failures if failure.file == file]))
        blocks.append("\n".join(lines))
    blocks.append("\n".join(f"- {failure.sentence()}" for failure in failures[:shown]))
    if len(failures) > shown:
        blocks.append(f"... and {len(failures) - shown:,} more failure(s)"
                      + (f"; all of them are listed in {full_list}" if full_list else ""))
    elif full_list:
        blocks.append(f"The same list, one failure per line: {full_list}")
    return "\n\n".join(blocks)


def as_table(failures: list[InputFailure]) -> pd.DataFrame:
    """Failures as a table: one row each, with the place and the sentence spelled out."""
    records = []
    for failure in ordered(failures):
        record = asdict(failure)
        record["row"] = failure.rows[0] if failure.rows else None
        record["rows"] = " ".join(str(row) for row in failure.rows)
        record["value"] = record.pop("found")
        record["place"] = failure.place()
        record["sentence"] = failure.sentence()
        records.append(record)
    columns = ["file", "row", "column", "ours", "level", "check", "value", "expected", "action",
               "count", "rows", "row_word", "where", "place", "sentence"]
    table = pd.DataFrame(records, columns=columns)
    table["row"] = table["row"].astype("Int64")
    return table


def write_full_list(failures: list[InputFailure], path: Path) -> None:
    """Every failure, one per line, as CSV (UTF-8 with a byte-order mark, for Excel)."""
    buffer = io.StringIO()
    as_table(failures).to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    write_text_atomically(path, "\ufeff" + buffer.getvalue())
