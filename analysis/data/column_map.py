"""``column_map.json``: how an analyst's extract becomes the person-year panel.

::

    {
      "file": "survey_2016_2020.csv",
      "encoding": "gb18030",
      "ids": "text",
      "columns": {"pid": "person_id", "hh": "household_id", "prov": "province_code", ...},
      "recode": {"female": {"F": true, "M": false}, "trained": {"是": true, "否": false}},
      "defaults": {"employment_services": false}
    }

:func:`read_column_map` checks every key and value against the panel's model
(:class:`analysis.data.schemas.PanelSchema`) before the extract is read, and lists every problem
with its place in the file; ``docs/panel_schema.md`` explains each key to analysts.
"""

from __future__ import annotations

import codecs
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import pandera.pandas as pa

from analysis.config import display_path
from analysis.data import reading, schemas
from analysis.data.failures import InputError, InputFailure, quoted

NAME = "column_map.json"
EXAMPLE = "column_map.example.json"
KEYS = ("file", "encoding", "ids", "columns", "recode", "defaults")
REQUIRED = ("file", "columns")
ID_COLUMNS = ("person_id", "household_id", "county_id")
ID_KINDS = ("integers", "text")


@dataclass(frozen=True)
class ColumnMap:
    """A checked column map; ``recode`` and ``defaults`` hold our values written as text
    (``true`` as ``"true"``), ready for :mod:`analysis.data.validation` to read."""

    path: Path
    file: str | list[str]  # as written: a file, a folder of files or a list of files
    files: tuple[str, ...]  # the extract's files, relative to the microdata folder
    columns: dict[str, str]
    recode: dict[str, dict[str, str]]
    defaults: dict[str, str]
    encoding: str | None
    ids: str
    written: dict  # as the analyst wrote it, for the manifest

    @property
    def shown(self) -> str:
        return display_path(self.path)


def _where(*keys: str) -> str:
    return "key " + " > ".join(f'"{key}"' for key in keys)


def _close(name: str, known) -> str:
    match = difflib.get_close_matches(name, list(known), n=1)
    return f' Did you mean "{match[0]}"?' if match else ""


def value_as_text(value: object, column: pa.Column) -> str | None:
    """Our value (a JSON value of the map) written as text for the column, or None when the
    JSON value does not fit the column: true/false for yes/no, numbers for numbers, text for
    text; null only where the column may be empty."""
    kind = schemas.value_kind(column)
    if value is None:
        return "" if column.nullable else None
    if kind == "yes/no":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if kind in ("integer", "number") and isinstance(value, (int, float)) and \
            not isinstance(value, bool):
        if kind == "integer" and not float(value).is_integer():
            return None
        return str(int(value)) if kind == "integer" else repr(float(value))
    return value if kind == "text" and isinstance(value, str) else None


class _Checker:
    """Collects the failures of one column map."""

    def __init__(self, path: Path, folder: Path):
        self.path, self.folder, self.failures = path, folder, []
        self.panel = schemas.PanelSchema.to_schema().columns

    def fail(self, where: str, found: str, expected: str, action: str, check: str) -> None:
        self.failures.append(InputFailure(display_path(self.path), "column", check, expected,
                                          found, action, where=where))

    def our_column(self, name: str, *keys: str) -> bool:
        if name in self.panel:
            return True
        self.fail(_where(*keys), f'"{name}", which is not a panel column',
                  f"a panel column ({', '.join(self.panel)})",
                  "Use our column's name (docs/panel_schema.md)." + _close(name, self.panel),
                  "our column name")
        return False

    def our_value(self, value: object, name: str, *keys: str) -> str | None:
        text = value_as_text(value, self.panel[name])
        if text is None:
            column = self.panel[name]
            self.fail(_where(*keys), json.dumps(value, ensure_ascii=False),
                      f"a value for {name}: {schemas.allowed_values(column)}",
                      'Write true/false (no quotes) for yes/no, a number for numbers, "text" '
                      "for text.", "value fits the column")
        return text

    def mapping(self, written: dict, key: str) -> dict:
        value = written.get(key, {})
        if isinstance(value, dict):
            return value
        self.fail(_where(key), json.dumps(value, ensure_ascii=False)[:60],
                  f'an object ({{...}}) under "{key}"', f"See {EXAMPLE}.", "key holds an object")
        return {}

    def files(self, written: object) -> tuple[str, ...]:
        """The extract's files: one file, every file of a sub-folder (by name), or a list."""
        if isinstance(written, str) and (self.folder / written).is_dir():
            inside = sorted(path.name for path in (self.folder / written).iterdir()
                            if path.is_file() and not path.name.startswith("."))
            if not inside:
                self.fail(_where("file"), f"{quoted(written)}, a folder without files",
                          "a folder holding the extract's files", "Put the extract's files in "
                          "the folder, or name the file.", "data file exists")
            return tuple(f"{written}/{name}" for name in inside)
        names = written if isinstance(written, list) and written else [written]
        return tuple(name for name in names if self.file(name))

    def file(self, name: object) -> str:
        present = sorted(path.name for path in self.folder.iterdir()
                         if not path.name.startswith("."))
        if isinstance(name, str) and (self.folder / name).is_file():
            return name
        self.fail(_where("file"), f"{quoted(name)}, which is not a file in "
                  f"{display_path(self.folder)}/ (it holds: {', '.join(present)})",
                  "the name of the extract file in that folder (or of a folder of extract "
                  "files, or a list of names)",
                  "Put the extract in the folder, or correct the name." +
                  (_close(str(name), present) if isinstance(name, str) else ""),
                  "data file exists")
        return ""

    def encoding(self, name: object) -> str | None:
        if name is None:
            return None
        try:
            return codecs.lookup(str(name)).name if isinstance(name, str) else None
        except LookupError:
            pass
        self.fail(_where("encoding"), quoted(name), 'an encoding Python knows, e.g. "utf-8" '
                  'or "gb18030"', "Correct the encoding's name, or remove the key for UTF-8.",
                  "known encoding")
        return None

    def ids(self, value: object) -> str:
        if value in ID_KINDS:
            return value
        self.fail(_where("ids"), quoted(value), '"integers" or "text"', '"integers": ids are '
                  'whole numbers; "text": ids are text, mapped to stable integers.', "ids kind")
        return "integers"


def _parse(path: Path) -> dict:
    text = reading.decode(path, reading.read_bytes(path, "column map"))
    try:
        written = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError([InputFailure(
            display_path(path), "file", "file is JSON", f"a JSON object, as in {EXAMPLE}",
            f"text that is not JSON ({error.msg}, column {error.colno})",
            "Correct the JSON there; common causes are a comma after the last entry, single "
            "quotes instead of double quotes and a missing comma between entries.",
            rows=(error.lineno,), count=1)]) from None
    if not isinstance(written, dict):
        raise InputError([InputFailure(
            display_path(path), "file", "file is a JSON object", f"a JSON object ({{...}}), "
            f"as in {EXAMPLE}", f"a JSON {type(written).__name__}", f"See {EXAMPLE}.")])
    return written


def read_column_map(folder: Path) -> ColumnMap:
    """The folder's ``column_map.json``, every key and value checked.

    Raises
    ------
    InputError
        Listing every problem: not UTF-8, not JSON, an unknown or missing key, a data file
        that is not there, a column that is not ours, a value that does not fit its column.
    """
    path = folder / NAME
    written = _parse(path)
    checker = _Checker(path, folder)
    for key in written:
        if key not in KEYS:
            checker.fail(_where(key), f'the key "{key}"', f"only the keys {', '.join(KEYS)}",
                         "Remove it." + _close(key, KEYS), "known key")
    for key in REQUIRED:
        if key not in written:
            checker.fail("", f'no key "{key}"', 'the keys "file" and "columns"',
                         f"Add it; see {EXAMPLE}.", "required key")
    files = checker.files(written["file"]) if "file" in written else ()
    columns = {}
    for theirs, ours in checker.mapping(written, "columns").items():
        if isinstance(ours, str) and checker.our_column(ours, "columns", theirs):
            columns[theirs] = ours
        elif not isinstance(ours, str):
            checker.our_column(json.dumps(ours), "columns", theirs)
    for ours in {ours for ours in columns.values() if list(columns.values()).count(ours) > 1}:
        theirs = [name for name, target in columns.items() if target == ours]
        checker.fail(_where("columns"), f"{', '.join(map(quoted, theirs))} all mapped to {ours}",
                     f"one of your columns for {ours}", "Map only one of them.", "one source")
    recode = {}
    for ours, mapping in checker.mapping(written, "recode").items():
        if not checker.our_column(ours, "recode", ours):
            continue
        if not isinstance(mapping, dict):
            checker.fail(_where("recode", ours), json.dumps(mapping, ensure_ascii=False)[:60],
                         'an object {"your value": our value, ...}', f"See {EXAMPLE}.",
                         "recode is an object")
            continue
        recode[ours] = {theirs: checker.our_value(value, ours, "recode", ours, theirs)
                        for theirs, value in mapping.items()}
    defaults = {ours: checker.our_value(value, ours, "defaults", ours)
                for ours, value in checker.mapping(written, "defaults").items()
                if checker.our_column(ours, "defaults", ours)}
    encoding = checker.encoding(written.get("encoding"))
    ids = checker.ids(written.get("ids", "integers"))
    if checker.failures:
        raise InputError(checker.failures)
    return ColumnMap(path, written["file"], files, columns, recode, defaults, encoding, ids,
                     written)


def header_failures(column_map: ColumnMap, headers: list[tuple[str, list[str]]],
                    ) -> list[InputFailure]:
    """Columns that ``"columns"`` names but the extract does not have, and our names that
    would be given twice (a column mapped to a name that another column already has); then
    files whose columns differ from the first file's. ``headers`` holds each file's name (as
    messages show it) and column names."""
    failures = _map_failures(column_map, *headers[0])
    first, expected = headers[0]
    for file, header in headers[1:]:
        missing = [name for name in expected if name not in header]
        extra = [name for name in header if name not in expected]
        if missing or extra:
            found = "; ".join(part for part in (
                f"no column {', '.join(map(quoted, missing))}" if missing else "",
                f"a column {', '.join(map(quoted, extra))} that {Path(first).name} does not "
                "have" if extra else "") if part)
            failures.append(InputFailure(
                file, "column", "same columns in every file",
                f"the columns of {Path(first).name}: {', '.join(expected)}", found,
                "Export every file of the extract with the same columns (their order may "
                "differ)."))
    return failures


def _map_failures(column_map: ColumnMap, file: str, present: list[str]) -> list[InputFailure]:
    extract = Path(file).name
    failures = [InputFailure(
        column_map.shown, "column", "column in the extract",
        f"a column of {extract} (it has: {', '.join(present)})",
        f'"{theirs}", which {extract} does not have',
        "Correct the name to the extract's header." + _close(theirs, present),
        where=_where("columns", theirs)) for theirs in column_map.columns if theirs not in present]
    kept = [name for name in present if name not in column_map.columns]
    failures += [InputFailure(
        column_map.shown, "column", "one source", f"one column of {extract} named {ours}",
        f'"{theirs}" mapped to {ours}, and a column already named {ours}',
        f"Drop one of the two columns from the extract, or map {ours} to another name.",
        where=_where("columns", theirs))
        for theirs, ours in column_map.columns.items() if theirs in present and ours in kept]
    return failures
