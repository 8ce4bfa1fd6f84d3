"""Reading input files strictly: bytes to text, text to a table of text cells.

Nothing here guesses. A file is UTF-8 (a byte-order mark is accepted, as are Windows line ends)
unless an encoding is named; a file that is not, is refused with the encoding it appears to be
in (GB18030/GBK, as Excel saves "CSV" on Chinese Windows). Every cell is kept as text, an empty
cell as ``""``, so that turning text into numbers or yes/no values is done explicitly, column
by column, by :mod:`analysis.data.validation`. Each row keeps its number in the analyst's file:
the line of a CSV file (the header is line 1; a quoted cell may span lines) or the row of a
Parquet file (the first is row 1). Problems become
:class:`~analysis.data.failures.InputFailure` records; a file that cannot be read at all raises
:class:`~analysis.data.failures.InputError`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import display_path
from analysis.data.failures import SHOWN_ROWS, InputError, InputFailure, quoted

FALLBACK_ENCODING = "gb18030"  # a superset of GBK and GB2312
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def file_failure(path: Path, check: str, found: str, expected: str, action: str) -> InputError:
    """An :class:`InputError` for a file that cannot be read at all."""
    return InputError([InputFailure(display_path(path), "file", check, expected, found,
                                    action)])


def read_bytes(path: Path, what: str = "input file") -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise file_failure(path, "file exists", "no such file", f"the {what}",
                           f"Put the {what} at {display_path(path)}.") from None
    except OSError as error:
        raise file_failure(path, "file can be read", f"an unreadable file ({error.strerror})",
                           f"a readable {what}", "Check the file's permissions.") from None


def decode(path: Path, data: bytes, encoding: str | None = None, how_to_name: str = "") -> str:
    """The text of a file: UTF-8 (byte-order mark accepted) unless ``encoding`` is given.

    ``how_to_name`` tells the analyst how to name another encoding (e.g. the column map's
    ``"encoding"`` key); without it the file must be UTF-8.
    """
    try:
        return data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        found = (f"bytes that are not {encoding or 'UTF-8'} (0x{data[error.start]:02x} on line "
                 f"{line})")
    if encoding:
        raise file_failure(path, "encoding", found, f"text in {encoding}, as column_map.json "
                           "says", "Name the file's real encoding in column_map.json "
                           '("encoding"), or save the file as UTF-8.')
    save_as = "save it as \"CSV UTF-8\"" if path.suffix.lower() == ".csv" else "save it as UTF-8"
    try:
        data.decode(FALLBACK_ENCODING)
        excel = (", the encoding Excel uses for \"CSV\" on Chinese Windows"
                 if path.suffix.lower() == ".csv" else "")
        looks_like = f"The file reads as GB18030/GBK{excel}: {save_as}"
        name = f"{how_to_name} \"{FALLBACK_ENCODING}\"" if how_to_name else ""
    except UnicodeDecodeError:
        looks_like = f"The file is in an encoding other than UTF-8 and GB18030: {save_as}"
        name = f"{how_to_name} \"<its encoding>\"" if how_to_name else ""
    action = f"{looks_like}{', or ' + name if name else ''}."
    raise file_failure(path, "encoding", found, "UTF-8 text", action)


@dataclass
class TextTable:
    """A table whose every cell is text (``""`` when empty), and where each row came from."""

    frame: pd.DataFrame  # a RangeIndex: position i is row ``numbers[i]`` of the file
    file: str  # as messages show it
    numbers: np.ndarray
    row_word: str = "line"
    their_names: dict[str, str] = field(default_factory=dict)  # our name -> the file's

    def name(self, ours: str) -> str:
        return self.their_names.get(ours, ours)

    def failure(self, level: str, check: str, expected: str, *, column: str = "",
                positions=(), found: str = "", action: str = "") -> InputFailure:
        """A failure of this table; ``column`` is our name, ``positions`` row positions."""
        positions = np.asarray(positions, dtype=int)
        return InputFailure(
            self.file, level, check, expected, found, action,
            column=self.name(column) if column else "", ours=column,
            rows=tuple(int(row) for row in self.numbers[positions[:SHOWN_ROWS]]),
            count=len(positions), row_word=self.row_word)

    def renamed(self, columns: dict[str, str]) -> TextTable:
        """Columns renamed from the file's names to ours; messages keep showing the file's."""
        names = {**self.their_names, **{ours: theirs for theirs, ours in columns.items()}}
        return TextTable(self.frame.rename(columns=columns), self.file, self.numbers,
                         self.row_word, names)


def _record_lines(text: str) -> tuple[list[list[str]], list[int]]:
    """Every non-blank CSV record with the line it starts on."""
    records, lines = [], []
    reader = csv.reader(io.StringIO(text))
    end = 0
    for record in reader:
        start, end = end + 1, reader.line_num
        if len(record) > 1 or (record and record[0].strip()):
            records.append(record)
            lines.append(start)
    return records, lines


def _header_failures(path: Path, header: list[str]) -> list[InputFailure]:
    failures = []
    for position, name in enumerate(header, start=1):
        if not name.strip():
            failures.append(InputFailure(
                display_path(path), "column", "column has a name", "a name for every column",
                f"column {position} of the header without a name", "Name the column, or "
                "delete it if it is empty.", rows=(1,), count=1))
    for name, count in pd.Series(header).value_counts().items():
        if count > 1 and name.strip():
            failures.append(InputFailure(
                display_path(path), "column", "column names differ", "each name once",
                f"{count} columns named {quoted(name)}", "Rename or delete the repeated "
                "column.", column=name, rows=(1,), count=1))
    return failures


def _ragged_failures(path: Path, records: list[list[str]], lines: list[int],
                     ) -> list[InputFailure]:
    width = len(records[0])
    failures = []
    for record, line in zip(records[1:], lines[1:]):
        if len(record) != width:
            failures.append(InputFailure(
                display_path(path), "file", "cells per line", f"{width} cells, as in the "
                "header", f"{len(record)} cells", "A cell containing a comma or a line "
                "break must be in double quotes; check this line's cells.", rows=(line,),
                count=1))
    return failures


def read_csv_table(path: Path, encoding: str | None = None, how_to_name: str = "",
                   ) -> tuple[TextTable, list[InputFailure]]:
    """A CSV file as text cells, plus problems that do not stop reading (control characters).

    Raises
    ------
    InputError
        When the file is missing, not in its encoding, empty, without data rows, with lines of
        the wrong width or with a header naming a column twice or not at all.
    """
    text = decode(path, read_bytes(path), encoding, how_to_name)
    if not text.strip():
        raise file_failure(path, "file has rows", "an empty file", "a header line naming the "
                           "columns, then one line per row", "Export the table again.")
    records, lines = _record_lines(text)
    failures = _header_failures(path, records[0]) + _ragged_failures(path, records, lines)
    if failures:
        raise InputError(failures)
    if len(records) == 1:
        raise file_failure(path, "file has rows", "a header line and no data rows",
                           "one line per row after the header", "Add the rows, or export the "
                           "table again.")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            na_filter=False)
    except (pd.errors.ParserError, ValueError) as error:
        raise file_failure(path, "file is CSV", f"text the CSV reader stops at ({error})",
                           "comma-separated values", "Export the table as CSV again.") from None
    numbers, row_word = np.asarray(lines[1:]), "line"
    if len(numbers) != len(frame):  # a dialect the two readers split differently: count rows
        numbers, row_word = np.arange(1, len(frame) + 1), "data row"
    table = TextTable(frame.reset_index(drop=True), display_path(path), numbers, row_word)
    return table, control_character_failures(table)


def control_character_failures(table: TextTable) -> list[InputFailure]:
    """A cell holding a NUL byte or another control character (a damaged export)."""
    failures = []
    for column in table.frame.columns:
        cells = table.frame[column]
        if not pd.api.types.is_string_dtype(cells):
            continue
        bad = np.flatnonzero(cells.str.contains(CONTROL_CHARACTERS, regex=True).to_numpy(bool))
        for position in bad:
            failures.append(table.failure(
                "cell", "control character", "text without control characters (NUL and "
                "other invisible bytes)", column=column, positions=[position],
                found=quoted(cells.iloc[position]), action="Delete the control character; it "
                "usually comes from a damaged export or a copy from a binary file."))
    return failures


def as_text(values: pd.Series) -> pd.Series:
    """A column of any type as text: missing -> "", yes/no -> "true"/"false", a whole float
    without its ".0" (so that 53.0 reads as "53"), other numbers as Python writes them."""
    def one(value) -> str:
        if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
            return ""
        if isinstance(value, (bool, np.bool_)):
            return "true" if value else "false"
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return values.map(one).astype(str)


def read_parquet_table(path: Path) -> tuple[TextTable, list[InputFailure]]:
    """A Parquet file as text cells (see :func:`as_text`), rows numbered from 1.

    Raises
    ------
    InputError
        When the file is missing, damaged or truncated, or has no rows.
    """
    import pyarrow
    import pyarrow.parquet as pq

    read_bytes(path)  # a missing or unreadable file is named before pyarrow is asked
    try:
        frame = pq.read_table(path).to_pandas()
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        raise file_failure(path, "file is Parquet", f"a file that is not readable Parquet "
                           f"({error})", "a complete Parquet file", "The file is damaged or "
                           "truncated (an interrupted copy or export?): copy or export it "
                           "again.") from None
    if frame.empty:
        raise file_failure(path, "file has rows", "no rows", "one row per person and year",
                           "Export the table again.")
    frame.columns = [str(column) for column in frame.columns]
    text = pd.DataFrame({column: as_text(frame[column]) for column in frame.columns})
    table = TextTable(text.reset_index(drop=True), display_path(path),
                      np.arange(1, len(frame) + 1), "row")
    return table, control_character_failures(table)
