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

A large file is read in chunks of rows (:func:`csv_chunks`, :func:`parquet_chunks`) with the
same cells, the same row numbers and the same refusals as reading it whole; a table may hold
the rows of several files (:meth:`TextTable.concatenated`), and where a failure was found is
kept per file (:class:`Places`), so that failures found in different chunks add up.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import display_path
from analysis.data.failures import SHOWN_ROWS, InputError, InputFailure, quoted

FALLBACK_ENCODING = "gb18030"  # a superset of GBK and GB2312
BLOCK_BYTES = 1 << 20  # bytes decoded at a time when a file is read in chunks
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
        bad_byte = data[error.start]
    raise _encoding_failure(path, encoding, how_to_name, line, bad_byte,
                            _decodes(iter([data]), FALLBACK_ENCODING))


def _decodes(blocks, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for block in blocks:
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _encoding_failure(path: Path, encoding: str | None, how_to_name: str, line: int,
                      bad_byte: int, fallback_decodes: bool) -> InputError:
    found = f"bytes that are not {encoding or 'UTF-8'} (0x{bad_byte:02x} on line {line})"
    if encoding:
        return file_failure(path, "encoding", found, f"text in {encoding}, as column_map.json "
                            "says", "Name the file's real encoding in column_map.json "
                            '("encoding"), or save the file as UTF-8.')
    save_as = "save it as \"CSV UTF-8\"" if path.suffix.lower() == ".csv" else "save it as UTF-8"
    if fallback_decodes:
        excel = (", the encoding Excel uses for \"CSV\" on Chinese Windows"
                 if path.suffix.lower() == ".csv" else "")
        looks_like = f"The file reads as GB18030/GBK{excel}: {save_as}"
        name = f"{how_to_name} \"{FALLBACK_ENCODING}\"" if how_to_name else ""
    else:
        looks_like = f"The file is in an encoding other than UTF-8 and GB18030: {save_as}"
        name = f"{how_to_name} \"<its encoding>\"" if how_to_name else ""
    action = f"{looks_like}{', or ' + name if name else ''}."
    return file_failure(path, "encoding", found, "UTF-8 text", action)


@dataclass
class Places:
    """Where a failure was found: for each file of a table (by its index), how many rows and
    the first of them (at most ``SHOWN_ROWS``, in the file's order). The places of one failure
    found in several chunks of a table add up (:meth:`merged`) to those found reading it whole.
    """

    counts: dict[int, int] = field(default_factory=dict)
    first: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def at(cls, parts: np.ndarray, numbers: np.ndarray) -> Places:
        """Rows given by their file's index and their number, in the files' order."""
        places = cls()
        parts, numbers = np.asarray(parts), np.asarray(numbers)
        for part in np.unique(parts):
            rows = numbers[parts == part]
            places.counts[int(part)] = len(rows)
            places.first[int(part)] = tuple(int(row) for row in rows[:SHOWN_ROWS])
        return places

    @classmethod
    def merged(cls, many: list[Places]) -> Places:
        total = cls()
        for places in many:
            for part, count in places.counts.items():
                total.counts[part] = total.counts.get(part, 0) + count
                total.first[part] = tuple(sorted(set(total.first.get(part, ()))
                                                 | set(places.first[part])))[:SHOWN_ROWS]
        return total

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @property
    def first_place(self) -> tuple[int, int]:
        """(file index, row) of the first row."""
        return min((part, rows[0]) for part, rows in self.first.items())

    def failures(self, files: tuple[tuple[str, str], ...], level: str, check: str,
                 expected: str, *, column: str = "", ours: str = "", found: str = "",
                 action: str = "") -> list[InputFailure]:
        """One failure per file with rows here; one per file of ``files`` ((file, row word)
        pairs) when the failure is not about rows."""
        if not self.counts:
            return [InputFailure(file, level, check, expected, found, action, column=column,
                                 ours=ours, row_word=row_word) for file, row_word in files]
        return [InputFailure(files[part][0], level, check, expected, found, action,
                             column=column, ours=ours, rows=self.first[part],
                             count=self.counts[part], row_word=files[part][1])
                for part in sorted(self.counts)]


@dataclass
class TextTable:
    """A table whose every cell is text (``""`` when empty), and where each row came from."""

    frame: pd.DataFrame  # a RangeIndex: position i is row ``numbers[i]`` of the file
    file: str  # as messages show it
    numbers: np.ndarray
    row_word: str = "line"
    their_names: dict[str, str] = field(default_factory=dict)  # our name -> the file's
    # Several files: (file, row word) of each, and each row's file (an index into ``files``).
    files: tuple[tuple[str, str], ...] = ()
    part: np.ndarray | None = None

    def __post_init__(self):
        if not self.files:
            self.files = ((self.file, self.row_word),)
        if self.part is None:
            self.part = np.zeros(len(self.numbers), dtype=np.int16)

    def name(self, ours: str) -> str:
        return self.their_names.get(ours, ours)

    def places(self, positions) -> Places:
        positions = np.asarray(positions, dtype=int)
        return Places.at(self.part[positions], self.numbers[positions])

    def failures(self, level: str, check: str, expected: str, *, column: str = "",
                 positions=(), found: str = "", action: str = "") -> list[InputFailure]:
        """The failures of this table at ``positions`` (row positions): one per file with such
        rows (one per file when there are none); ``column`` is our name."""
        return self.places(positions).failures(
            self.files, level, check, expected, column=self.name(column) if column else "",
            ours=column, found=found, action=action)

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
                         self.row_word, names, self.files, self.part)

    @classmethod
    def concatenated(cls, tables: list[TextTable]) -> TextTable:
        """The rows of several files (with the same columns) as one table."""
        files = tuple(file for table in tables for file in table.files)
        offsets = np.cumsum([0] + [len(table.files) for table in tables[:-1]])
        return cls(pd.concat([table.frame for table in tables], ignore_index=True),
                   tables[0].file, np.concatenate([table.numbers for table in tables]),
                   tables[0].row_word, dict(tables[0].their_names), files,
                   np.concatenate([table.part + offset
                                   for table, offset in zip(tables, offsets)]).astype(np.int16))


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


def _records(lines) -> Iterator[tuple[list[str], int]]:
    """Every non-blank CSV record of ``lines`` (text lines, each with its line break) with the
    line it starts on."""
    reader = csv.reader(lines)
    end = 0
    for record in reader:
        start, end = end + 1, reader.line_num
        if len(record) > 1 or (record and record[0].strip()):
            yield record, start


def _file_blocks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            yield block


def _line_at(path: Path, offset: int) -> int:
    """The line (from 1) of byte ``offset`` of the file."""
    newlines, start = 0, 0
    for block in _file_blocks(path):
        newlines += block.count(b"\n", 0, max(0, offset - start))
        start += len(block)
        if start >= offset:
            break
    return newlines + 1


def _decoded_lines(path: Path, encoding: str | None, how_to_name: str) -> Iterator[str]:
    """The file's text line by line (split at line feeds, which are kept), decoded a block at a
    time; a byte that is not in the encoding raises the same failure as :func:`decode`."""
    decoder = codecs.getincrementaldecoder(encoding or "utf-8-sig")()
    read, pending = 0, ""
    blocks = _file_blocks(path)
    while True:
        block = next(blocks, b"")
        buffered = decoder.getstate()[0]
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            given = buffered + block  # the error's bytes are the end of these
            at = read - len(buffered) + len(given) - len(error.object) + error.start
            raise _encoding_failure(path, encoding, how_to_name, _line_at(path, at),
                                    error.object[error.start],
                                    _decodes(_file_blocks(path), FALLBACK_ENCODING)) from None
        read += len(block)
        lines = (pending + text).split("\n")
        pending = lines.pop()
        yield from (line + "\n" for line in lines)
        if not block:
            break
    if pending:
        yield pending


def csv_records(path: Path, encoding: str | None = None,
                how_to_name: str = "") -> Iterator[tuple[list[str], int]]:
    """The file's non-blank CSV records, each with the line it starts on, read a block at a
    time."""
    return _records(_decoded_lines(path, encoding, how_to_name))


def csv_chunks(path: Path, chunk_rows: int | None = None, encoding: str | None = None,
               how_to_name: str = "") -> Iterator[TextTable]:
    """A CSV file's data rows as text tables of at most ``chunk_rows`` rows (None: one table),
    each row numbered by the line it starts on.

    The file is read a block at a time. It is refused as a whole (:class:`InputError`, raised
    where reading the file whole would refuse it, so possibly after some chunks were given)
    when it is missing, not in its encoding, empty, without data rows, with lines of the wrong
    width or with a header naming a column twice or not at all; the caller then drops what it
    made of the earlier chunks.
    """
    try:
        records = csv_records(path, encoding, how_to_name)
        header, _ = next(records, (None, 0))
        if header is None:
            raise file_failure(path, "file has rows", "an empty file", "a header line naming "
                               "the columns, then one line per row", "Export the table again.")
        refused = _header_failures(path, header)
        rows, numbers, count = [], [], 0
        for record, line in records:
            count += 1
            if len(record) != len(header):
                refused += _ragged_failures(path, [header, record], [1, line])
            elif not refused:
                rows.append(record)
                numbers.append(line)
                if chunk_rows and len(rows) == chunk_rows:
                    yield _text_table(path, header, rows, numbers)
                    rows, numbers = [], []
    except csv.Error as error:
        raise file_failure(path, "file is CSV", f"text the CSV reader stops at ({error})",
                           "comma-separated values", "Export the table as CSV again.") from None
    except OSError as error:
        raise unreadable_file_failure(path, error) from None
    if refused:
        raise InputError(refused)
    if not count:
        raise file_failure(path, "file has rows", "a header line and no data rows",
                           "one line per row after the header", "Add the rows, or export the "
                           "table again.")
    if rows:
        yield _text_table(path, header, rows, numbers)


def _text_table(path: Path, header: list[str], rows: list[list[str]],
                numbers: list[int]) -> TextTable:
    frame = pd.DataFrame(rows, columns=header, dtype=str) if rows else \
        pd.DataFrame({name: pd.Series([], dtype=str) for name in header})
    return TextTable(frame, display_path(path), np.asarray(numbers, dtype=np.int64), "line")


def read_csv_table(path: Path, encoding: str | None = None, how_to_name: str = "",
                   ) -> tuple[TextTable, list[InputFailure]]:
    """A CSV file as text cells, plus problems that do not stop reading (control characters).

    Raises
    ------
    InputError
        When the file is missing, not in its encoding, empty, without data rows, with lines of
        the wrong width or with a header naming a column twice or not at all.
    """
    (table,) = list(csv_chunks(path, None, encoding, how_to_name))
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
            failures += table.failures(
                "cell", "control character", "text without control characters (NUL and "
                "other invisible bytes)", column=column, positions=[position],
                found=quoted(cells.iloc[position]), action="Delete the control character; it "
                "usually comes from a damaged export or a copy from a binary file.")
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


def parquet_chunks(path: Path, chunk_rows: int | None = None) -> Iterator[TextTable]:
    """A Parquet file's rows as text tables (see :func:`as_text`) of at most ``chunk_rows``
    rows (None: one table), numbered from 1.

    Raises
    ------
    InputError
        When the file is missing, damaged or truncated, or has no rows (see :func:`csv_chunks`
        for when).
    """
    import pyarrow
    import pyarrow.parquet as pq

    _readable(path)
    damaged = (pyarrow.ArrowException, OSError, ValueError)
    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=chunk_rows or max(parquet.metadata.num_rows, 1))
        first = 1
        for batch in batches:
            if batch.num_rows:
                yield _parquet_table(path, batch.to_pandas(integer_object_nulls=True), first)
                first += batch.num_rows
    except damaged as error:
        raise file_failure(path, "file is Parquet", f"a file that is not readable Parquet "
                           f"({error})", "a complete Parquet file", "The file is damaged or "
                           "truncated (an interrupted copy or export?): copy or export it "
                           "again.") from None
    if first == 1:
        raise file_failure(path, "file has rows", "no rows", "one row per person and year",
                           "Export the table again.")


def _readable(path: Path) -> None:
    """A missing or unreadable file is named before pyarrow is asked."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise unreadable_file_failure(path, error) from None


def unreadable_file_failure(path: Path, error: OSError) -> InputError:
    """The failure of a file that is missing or cannot be opened, in words."""
    if isinstance(error, FileNotFoundError):
        return file_failure(path, "file exists", "no such file", "the input file",
                            f"Put the input file at {display_path(path)}.")
    return file_failure(path, "file can be read", f"an unreadable file ({error.strerror})",
                        "a readable input file", "Check the file's permissions.")


def _parquet_table(path: Path, frame: pd.DataFrame, first: int) -> TextTable:
    frame.columns = [str(column) for column in frame.columns]
    text = pd.DataFrame({column: as_text(frame[column]) for column in frame.columns})
    return TextTable(text.reset_index(drop=True), display_path(path),
                     np.arange(first, first + len(frame)), "row")


def read_parquet_table(path: Path) -> tuple[TextTable, list[InputFailure]]:
    """A Parquet file as text cells (see :func:`as_text`), rows numbered from 1.

    Raises
    ------
    InputError
        When the file is missing, damaged or truncated, or has no rows.
    """
    (table,) = list(parquet_chunks(path, None))
    return table, control_character_failures(table)
