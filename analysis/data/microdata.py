"""The person-year panel for ``ingest``: an analyst's own extract, or the demonstration panel.

An analyst puts CSV or Parquet files under ``data/raw/microdata/`` with ``column_map.json``
(:mod:`analysis.data.column_map`), which names the file (or a folder of files, or a list) and
maps its columns and values to ours (:class:`analysis.data.schemas.PanelSchema`). The extract
is read strictly: every cell as text, turned into a number or a yes/no only when it spells one
(or through the map's ``recode``, which must list every value the column holds), ids as whole
numbers or, with ``"ids": "text"``, as text mapped to stable integers (:func:`stable_integer`).
``stable_employment`` and ``first_trained_year`` may be omitted: they are derived from
``months_worked`` and ``trained``. Failures are sentences naming the extract's own columns.

This module reads an extract whole (:func:`read_analyst_panel`); ingest reads it in chunks and
checks it province by province with the same results (:mod:`analysis.data.extract`).

A folder without any file but ``README.md`` and the example map gives the seeded
demonstration panel of :mod:`analysis.data.simulator` instead (written by
:mod:`analysis.data.demonstration`), and every page built from it says that it is simulated; a
folder with a file but no ``column_map.json`` is an error, never a fallback to simulated data.

The panel is written partitioned by province (``panel/<code>.parquet``) so that a change in one
province's data rebuilds only that province's report and the national one.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis import config
from analysis.config import display_path
from analysis.data import column_map as column_maps
from analysis.data import reading, schemas, validation
from analysis.data.failures import InputError, InputFailure, quoted

COLUMN_MAP = column_maps.NAME
NOT_DATA = ("README.md", column_maps.EXAMPLE)  # committed beside the analyst's files
# Spellings of yes and no, for suggesting a recode (never applied without one).
YES_WORDS = ("yes", "y", "是", "有", "t")
NO_WORDS = ("no", "n", "否", "无", "没有", "f")
WOMAN_WORDS = ("f", "female", "woman", "女", "女性")
MAN_WORDS = ("m", "male", "man", "男", "男性")
DERIVED = {"stable_employment": "months_worked", "first_trained_year": "trained"}
HOW_TO_NAME_ENCODING = 'name the encoding in column_map.json: "encoding":'


def analyst_files(folder: Path) -> list[Path]:
    """The analyst's files in the microdata folder (not hidden files, the README or example)."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and not path.name.startswith(".") and path.name not in NOT_DATA)


def has_analyst_files(folder: Path) -> bool:
    return bool(analyst_files(folder))


def _no_column_map(folder: Path, files: list[Path]) -> InputFailure:
    names = [path.name for path in files]
    looks_like = difflib.get_close_matches(COLUMN_MAP, names, n=1, cutoff=0.6) or \
        [name for name in names if name.lower().endswith(".json")][:1]
    hint = f" If {looks_like[0]} is the column map, rename it {COLUMN_MAP}." if looks_like else ""
    return InputFailure(
        f"{display_path(folder)}/", "file", "column map present",
        f"{COLUMN_MAP} beside the extract, saying how its columns map to the panel",
        f"{', '.join(names)} but no {COLUMN_MAP}",
        f"Write {COLUMN_MAP} (start from {column_maps.EXAMPLE} and docs/panel_schema.md), or "
        "move the files out of the folder to use the simulated demonstration panel." + hint)


def stable_integer(text: str) -> int:
    """A text id as a non-negative integer of at most 18 digits: the first 59 bits of the
    SHA-256 of its UTF-8 bytes.

    The same text gives the same integer in every run and every extract, whatever the other
    ids are; ``stable_integer("53012319900101123X")`` finds a person in the processed panel.
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 5


def _yes_no_suggestion(ours: str, values: list[str]) -> str:
    yes, no = (WOMAN_WORDS, MAN_WORDS) if ours == "female" else (YES_WORDS, NO_WORDS)
    guessed = {value: value.strip().lower() in yes for value in values
               if value.strip().lower() in yes + no}
    if len(guessed) == len(values):
        pairs = ", ".join(f"{json.dumps(value, ensure_ascii=False)}: {str(flag).lower()}"
                          for value, flag in guessed.items())
    else:
        pairs = ", ".join(f"{json.dumps(value, ensure_ascii=False)}: true or false"
                          for value in values[:4])
    return (f'Text is never read as yes/no on its own: map it in column_map.json, e.g. '
            f'"recode": {{"{ours}": {{{pairs}}}}} (a recode lists every value of the column).')


class ExtractAdvice(validation.Advice):
    """What to do, in the terms of the extract and its column map."""

    cell = 'Correct the value in the extract, or map it under "recode" in column_map.json.'

    def __init__(self, ids: str):
        self.ids = ids

    def missing_column(self, ours: str, expected: list[str]) -> str:
        derived = (f" It is derived from {DERIVED[ours]} when the extract has that."
                   if ours in DERIVED else "")
        return (f'Map a column of the extract to {ours} under "columns" in column_map.json, '
                f'or give one value for every row under "defaults".{derived}')

    def extra_column(self, theirs: str, expected: list[str]) -> str:
        match = difflib.get_close_matches(theirs, expected, n=1)
        hint = f' (did you mean "{match[0]}"?)' if match else ""
        return (f'Map it to a panel column under "columns" in column_map.json{hint}, or remove '
                "it from the extract.")

    def unreadable(self, ours: str, kind: str, values: list[str]) -> str:
        if kind == "yes/no":
            return _yes_no_suggestion(ours, values)
        if ours in column_maps.ID_COLUMNS and self.ids == "integers":
            return ('For ids that are not whole numbers, set "ids": "text" in column_map.json: '
                    "text ids are mapped to stable integers.")
        return (validation.KINDS[kind].action + ' Text is never read as a number on its own; '
                'map such values under "recode" in column_map.json if they mean a number.')

    def empty(self, ours: str, kind: str) -> str:
        return (f'Fill the cells, or give empty cells a value in column_map.json: "recode": '
                f'{{"{ours}": {{"": ...}}}} (a recode lists every value of the column).')

    def unmapped(self, ours: str, values: list[str], keys: list[str]) -> tuple[str, str]:
        example = json.dumps(values[0], ensure_ascii=False)
        return (f'a value listed under "recode" > "{ours}" in column_map.json '
                f"({', '.join(keys)})",
                f'Add each value to "recode" > "{ours}" with our value (e.g. {example}: ...), '
                "or correct the rows.")


def id_recodes(table: reading.TextTable, ids: str) -> dict[str, dict[str, str]]:
    """Text ids as recodes to stable integers (none for whole-number ids)."""
    if ids != "text":
        return {}
    recodes = {}
    for name in [name for name in column_maps.ID_COLUMNS if name in table.frame]:
        texts = [text for text in table.frame[name].unique() if text.strip()]
        recodes[name] = {text: str(stable_integer(text)) for text in texts}
        if len(set(recodes[name].values())) < len(texts):  # 2**-59 per pair: never seen
            raise AssertionError(f"two {name} texts share a stable integer")
    return recodes


def padded_ids(table: reading.TextTable, ids: str) -> dict[str, tuple[reading.Places, str]]:
    """Whole-number ids written with leading zeros, by column: (places, the first such id)."""
    if ids == "text":
        return {}
    padded = {}
    for name in [name for name in column_maps.ID_COLUMNS if name in table.frame]:
        mask = table.frame[name].str.fullmatch(r"\s*[+-]?0\d+\s*").to_numpy(bool)
        if mask.any():
            padded[name] = (table.places(np.flatnonzero(mask)),
                            table.frame[name][mask].iloc[0])
    return padded


def merged_padded_ids(many: list[dict]) -> dict[str, tuple[reading.Places, str]]:
    """Padded ids found in chunks of a table, as found in the whole table."""
    merged = {}
    for name in dict.fromkeys(name for padded in many for name in padded):
        parts = [padded[name] for padded in many if name in padded]
        first = min(parts, key=lambda part: part[0].first_place)[1]
        merged[name] = (reading.Places.merged([places for places, _ in parts]), first)
    return merged


def padded_id_failures(padded: dict[str, tuple[reading.Places, str]], files: tuple,
                       their_name) -> list[InputFailure]:
    return [failure for name, (places, first) in padded.items() for failure in places.failures(
        files, "cell", "id without leading zeros", "an id written as a whole number without "
        'leading zeros (read as numbers, "007" and "7" would be one id)', column=their_name(name),
        ours=name, found=quoted(first),
        action='Set "ids": "text" in column_map.json: ids are then read as text and mapped to '
               "stable integers.")]


def _id_recodes(table: reading.TextTable, ids: str) -> tuple[dict, list[InputFailure]]:
    """Text ids as recodes to stable integers; whole-number ids must not start with 0."""
    return id_recodes(table, ids), padded_id_failures(padded_ids(table, ids), table.files,
                                                      table.name)


def derive(values: pd.DataFrame) -> pd.DataFrame:
    """``stable_employment`` and ``first_trained_year`` when the extract lacks them.

    ``first_trained_year`` is the earliest year with ``trained`` true, copied to every row of
    the person (also rows before it) and empty for people never trained.
    """
    values = values.copy()
    if "stable_employment" not in values and "months_worked" in values:
        values["stable_employment"] = (
            values["months_worked"] >= config.STABLE_EMPLOYMENT_MIN_MONTHS).astype("boolean")
    if "first_trained_year" not in values and {"trained", "person_id", "year"} <= set(values):
        trained_years = values["year"].where(values["trained"].fillna(False).astype(bool))
        values["first_trained_year"] = trained_years.groupby(
            values["person_id"]).transform("min").astype("Int64")
    return values


def panel_schema(known_provinces: list[str] | None) -> pa.DataFrameSchema:
    """:class:`PanelSchema`, and province codes of ``provinces.csv`` when that could be read."""
    schema = schemas.PanelSchema.to_schema()
    if known_provinces is None:
        return schema
    return schemas.with_checks(schema, {"province_code": [
        pa.Check.isin(known_provinces, error=schemas.KNOWN_PROVINCE_CHECK)]})


def _read_extract(path: Path, encoding: str | None) -> tuple[reading.TextTable, list]:
    if path.suffix.lower() == ".parquet":
        return reading.read_parquet_table(path)
    return reading.read_csv_table(path, encoding, how_to_name=HOW_TO_NAME_ENCODING)


def read_column_map(folder: Path) -> tuple[column_maps.ColumnMap | None, list[InputFailure]]:
    """The folder's checked column map, or the failures that stop reading the extract."""
    if not (folder / COLUMN_MAP).is_file():
        return None, [_no_column_map(folder, analyst_files(folder))]
    try:
        return column_maps.read_column_map(folder), []
    except InputError as error:
        return None, error.failures


def prepared(table: reading.TextTable, column_map: column_maps.ColumnMap) -> reading.TextTable:
    """The extract's columns renamed to ours, and the map's defaults filled in."""
    table = table.renamed(column_map.columns)
    for ours, value in column_map.defaults.items():
        if ours not in table.frame:
            table.frame[ours] = value
            table.their_names[ours] = f"{ours} (from defaults)"
    return table


def read_analyst_panel(folder: Path, known_provinces: list[str] | None,
                       ) -> tuple[pd.DataFrame, column_maps.ColumnMap | None, list[InputFailure]]:
    """(the validated panel, its column map, failures) of the analyst's extract, every file
    read whole and validated as one table (memory grows with the extract; see
    :mod:`analysis.data.extract` for reading it in chunks).

    A file that cannot be read is reported alone (with the other files that cannot be read);
    the column map is checked against the first file's header, and every other file must have
    the same columns.
    """
    column_map, failures = read_column_map(folder)
    if column_map is None:
        return pd.DataFrame(), None, failures
    tables, refused = [], []
    for name in column_map.files:
        try:
            table, read_failures = _read_extract(folder / name, column_map.encoding)
        except InputError as error:
            refused += error.failures
            continue
        tables.append(table)
        failures += read_failures
    if refused:
        return pd.DataFrame(), column_map, refused
    header_failures = column_maps.header_failures(
        column_map, [(table.file, list(table.frame.columns)) for table in tables])
    if header_failures:  # the columns cannot be named until the map matches the header
        return pd.DataFrame(), column_map, failures + header_failures
    columns = list(tables[0].frame.columns)
    for table in tables:
        table.frame = table.frame[columns]
    table = prepared(reading.TextTable.concatenated(tables), column_map)
    id_recodes, id_failures = _id_recodes(table, column_map.ids)
    panel, panel_failures = validation.validate_table(
        table, panel_schema(known_provinces), "panel", ExtractAdvice(column_map.ids),
        recode={**id_recodes, **column_map.recode}, derive=derive)
    return panel, column_map, failures + id_failures + panel_failures


def validate_panel(frame: pd.DataFrame, known_provinces: list[str]) -> pd.DataFrame:
    """The simulated panel validated; a failure is a bug of the simulator, not bad input."""
    try:
        return panel_schema(known_provinces).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        raise AssertionError(f"simulated panel fails PanelSchema:\n"
                             f"{error.failure_cases.head(20)}") from None


def partition_by_province(name: str, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    codes = frame["province_code"].astype(str)
    return {f"{name}/{code}": part.reset_index(drop=True)
            for code, part in frame.groupby(codes, sort=True, observed=True)}


def compact(panel: pd.DataFrame) -> pd.DataFrame:
    """Narrow dtypes for storage; the schema coerces them back when read for validation."""
    narrowed = panel.copy()
    narrowed["province_code"] = narrowed["province_code"].astype(str)
    for column in ("person_id", "household_id", "county_id"):
        narrowed[column] = narrowed[column].astype(np.int64)
    return narrowed


def read_partitions(processed_dir: Path, table: str, province_code: str | None = None,
                    columns: list[str] | None = None) -> pd.DataFrame | None:
    """A province-partitioned table (``panel``, ``truth``, ``projection``) of one province, or
    of all provinces (only ``columns`` when given); None when it has no partition."""
    pattern = f"{province_code}.parquet" if province_code else "*.parquet"
    files = sorted((Path(processed_dir) / table).glob(pattern))
    if not files:
        return None
    return pd.concat([pd.read_parquet(path, columns=columns) for path in files],
                     ignore_index=True)


def read_panel(processed_dir: Path, province_code: str | None = None) -> pd.DataFrame:
    """The processed panel of one province, or of all provinces."""
    panel = read_partitions(processed_dir, "panel", province_code)
    if panel is None:
        pattern = f"{province_code}.parquet" if province_code else "*.parquet"
        raise FileNotFoundError(f"no panel partition {pattern} in {processed_dir}/panel: run "
                                "`python -m analysis ingest`")
    return panel


def read_truth(processed_dir: Path, province_code: str | None = None) -> pd.DataFrame | None:
    """The planted effects of the simulated panel (None for analyst data).

    One row per (program, person_id, year) post-receipt person-year; join it to the panel on
    ``person_id`` and ``year`` to restrict it to a population.
    """
    return read_partitions(processed_dir, "truth", province_code)
