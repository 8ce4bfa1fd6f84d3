"""An analyst's extract read in chunks and checked province by province, in bounded memory.

:func:`write_analyst_panel` gives the same processed tables and the same failures as reading
every file of the extract whole (:func:`analysis.data.microdata.read_analyst_panel`, which it
runs when ``chunk_rows`` is None), while holding at most one chunk of text and one province of
values:

1. **Headers.** The column map is checked against the first file's header; every other file
   must have the same columns.
2. **Chunks** (one task per file). Each file is read ``chunk_rows`` rows at a time
   (:func:`analysis.data.reading.csv_chunks`, :func:`~analysis.data.reading.parquet_chunks`).
   Every check of a single cell runs on the chunk (passes 1 and 2 of
   :mod:`analysis.data.validation`); unreadable values are kept as findings that add up over
   chunks. The chunk's values, with each row's file and number and the text of the cells that
   messages quote, are spooled to a scratch folder, one part per province: rows whose cells
   all passed go to their province, the others to ``unplaced``. A derived
   ``first_trained_year`` needs each person's earliest trained year, kept as two arrays (person
   ids and years of trained persons).
3. **Provinces** (one task per province). A province's rows are loaded together; the derived
   columns are added and checked, then the rules over several cells run on the rows whose
   cells all passed: rules within a row, one row per person and year and one household per
   person. A person with rows in two provinces, or a county in two provinces, is found from
   each province's sorted ids (compact arrays): such persons' rows are checked together, and
   every row of such a county fails "a county lies in one province".
4. **Output** (one task per province), when nothing failed: the province's rows in the panel's
   types, written as ``panel/<province>``.

Failures are the same records (file, row, column in the analyst's name and ours, value,
expected, action) as when reading whole, in one order (:func:`canonical`). Memory grows with
the largest province (step 3), with the number of persons (their sorted ids, 8 bytes each, in
step 3) and with the number of distinct unreadable values; a failing extract also holds one
record per failing cell, as when reading whole.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow_module
import pyarrow.parquet as pq

from analysis.config import display_path
from analysis.data import column_map as column_maps
from analysis.data import failures as failures_module
from analysis.data import microdata, reading, schemas, validation
from analysis.data.failures import InputError, InputFailure
from analysis.data.output import write_table

UNPLACED = "unplaced"  # rows with a failing cell: checked only for their derived cells
TEXT = "text:"  # spooled text of a cell that messages quote
FILE, NUMBER = "_file", "_number"


@dataclass(frozen=True)
class ExtractPlan:
    """What every task needs to know about the extract (sent to Dask workers)."""

    folder: Path
    column_map: column_maps.ColumnMap
    files: tuple[tuple[str, str], ...]  # (file as messages show it, row word)
    known: list[str] | None
    scratch: Path
    chunk_rows: int
    header: tuple[str, ...]  # the first file's column names
    validate: bool  # False when files cannot be read or headers fail: only scan them

    @property
    def schema(self) -> pa.DataFrameSchema:
        return _panel_schema(None if self.known is None else tuple(self.known))

    @property
    def advice(self) -> microdata.ExtractAdvice:
        return microdata.ExtractAdvice(self.column_map.ids)

    @property
    def their_names(self) -> dict[str, str]:
        """Our column names -> the extract's (as :func:`microdata.prepared` sets them)."""
        names = {ours: theirs for theirs, ours in self.column_map.columns.items()}
        names.update({ours: f"{ours} (from defaults)" for ours in self._defaulted})
        return names

    @property
    def _renamed(self) -> list[str]:
        return [self.column_map.columns.get(name, name) for name in self.header]

    @property
    def _defaulted(self) -> list[str]:
        return [ours for ours in self.column_map.defaults if ours not in self._renamed]

    @property
    def table_columns(self) -> list[str]:
        """Our names of the extract's columns, then the columns the defaults add."""
        return self._renamed + self._defaulted

    def their_name(self, ours: str) -> str:
        return self.their_names.get(ours, ours)

    @property
    def value_columns(self) -> list[str]:
        return [name for name in self.schema.columns if name in self.table_columns]

    @property
    def derived(self) -> list[str]:
        """The derived columns the extract lacks and can have (:func:`microdata.derive`)."""
        present = set(self.table_columns)
        derived = []
        if "stable_employment" not in present and "months_worked" in present:
            derived.append("stable_employment")
        if "first_trained_year" not in present and {"trained", "person_id", "year"} <= present:
            derived.append("first_trained_year")
        return derived

    @property
    def complete(self) -> bool:
        """Whether every column of the panel is there: rules run only then."""
        return set(self.schema.columns) <= set(self.table_columns) | set(self.derived)

    @property
    def quoted_columns(self) -> list[str]:
        """Columns whose text messages quote: those rules over several cells read."""
        rule_columns = {name for check in self.schema.checks
                        for name in schemas.RULES[str(check.error)].columns}
        return [name for name in self.table_columns
                if name in rule_columns | set(self.schema.unique or [])]

    def path(self, index: int) -> Path:
        return self.folder / self.column_map.files[index]


@functools.lru_cache(maxsize=4)
def _panel_schema(known: tuple[str, ...] | None) -> pa.DataFrameSchema:
    """Built once per process (each chunk would otherwise rebuild it several times)."""
    return microdata.panel_schema(None if known is None else list(known))


# ----------------------------------------------------------------------------------------------
# The entry point


def write_analyst_panel(folder: Path, known: list[str] | None, staging: Path, scratch: Path,
                        runner, chunk_rows: int | None,
                        ) -> tuple[dict, dict, list[InputFailure]]:
    """Validate the extract and, when nothing failed, write ``panel/<province>`` into
    ``staging``: (manifest outputs, manifest ``panel`` entry, failures)."""
    if chunk_rows is None:
        return _whole(folder, known, staging)
    column_map, failures = microdata.read_column_map(folder)
    if column_map is None:
        return {}, {}, failures
    headers, header_failures = _headers(folder, column_map)
    plan = ExtractPlan(folder, column_map, tuple(
        (display_path(folder / name), "row" if _is_parquet(name) else "line")
        for name in column_map.files), known, Path(scratch), int(chunk_rows),
        tuple(headers[0][1]) if headers else (),
        validate=len(headers) == len(column_map.files) and not header_failures)
    scans = runner.map(scan_file, list(range(len(column_map.files))), plan=plan)
    refused = [failure for scan in scans for failure in scan.refused]
    if refused:  # as when reading whole: a file that cannot be read is reported alone
        return {}, {}, canonical(refused, plan)
    failures = [failure for scan in scans for failure in scan.control]
    if not plan.validate:
        return {}, {}, canonical(failures + header_failures, plan)
    failures += _chunk_failures(plan, scans)
    trained = _earliest_trained([scan.trained for scan in scans])
    provinces = sorted({name for scan in scans for name in scan.partitions} - {UNPLACED})
    failures += _province_failures(plan, runner, provinces, trained)
    if failures:
        return {}, {}, canonical(failures, plan)
    written = runner.map(write_province, provinces, plan=plan, trained=trained, staging=staging)
    outputs = {name: entry for part in written for name, entry in part["outputs"].items()}
    info = {"origin": "analyst", "file": column_map.file,
            "rows": sum(part["rows"] for part in written), "column_map": column_map.written}
    return outputs, info, canonical([failure for part in written
                                     for failure in part["failures"]], plan)


def _province_failures(plan: ExtractPlan, runner, provinces: list[str],
                       trained: tuple[np.ndarray, np.ndarray]) -> list[InputFailure]:
    """Step 3: derived cells in every province (and the unplaced rows), then the rules over
    several cells, within provinces and, for persons and counties in several, across them."""
    keys = runner.map(province_keys, provinces + [UNPLACED], plan=plan, trained=trained)
    failures = [failure for part in keys for failure in part["failures"]]
    if not plan.complete:  # as when reading whole: no rules while a column is missing
        return failures
    shared = _in_several([part["persons"] for part in keys])
    counties = _in_several([part["counties"] for part in keys])
    for part in runner.map(province_rules, provinces, plan=plan, trained=trained,
                           shared=shared, counties=counties):
        failures += part
    return failures + shared_person_failures(plan)


def _whole(folder: Path, known: list[str] | None, staging: Path):
    """Every file read whole, as one table in memory."""
    panel, column_map, failures = microdata.read_analyst_panel(folder, known)
    if failures:
        return {}, {}, canonical(failures, None, column_map, folder)
    outputs = {}
    for name, part in microdata.partition_by_province("panel",
                                                      microdata.compact(panel)).items():
        outputs.update(write_table(staging, name, part))
    info = {"origin": "analyst", "file": column_map.file, "rows": len(panel),
            "column_map": column_map.written}
    return outputs, info, []


def canonical(failures: list[InputFailure], plan: ExtractPlan | None,
              column_map: column_maps.ColumnMap | None = None,
              folder: Path | None = None) -> list[InputFailure]:
    """Failures in one order however the extract was read: the extract's files in the map's
    order, then the column map, then anything else; within a file as
    :func:`analysis.data.failures.ordered` sorts them."""
    if plan is not None:
        column_map, folder = plan.column_map, plan.folder
    rank = {}
    if column_map is not None:
        rank = {display_path(folder / name): k for k, name in enumerate(column_map.files)}
        rank.setdefault(column_map.shown, len(rank))
    ranked = sorted(failures, key=lambda failure: (rank.get(failure.file, len(rank)),
                                                   failure.file))
    return failures_module.ordered(ranked)


def _is_parquet(name: str) -> bool:
    return name.lower().endswith(".parquet")


def _headers(folder: Path, column_map: column_maps.ColumnMap,
             ) -> tuple[list[tuple[str, list[str]]], list[InputFailure]]:
    """The readable files' headers, and the failures of the map or of differing columns (only
    when every header could be read: a file that cannot be read is reported alone)."""
    headers = []
    for name in column_map.files:
        try:
            headers.append((display_path(folder / name), _header(folder / name, column_map)))
        except InputError:
            continue  # scanning the file reports why, as reading it whole would
    if len(headers) < len(column_map.files):
        return headers, []
    return headers, column_maps.header_failures(column_map, headers)


def _header(path: Path, column_map: column_maps.ColumnMap) -> list[str]:
    """The file's column names (an :class:`InputError` without failures when they cannot be
    read: the scan of the file then says why)."""
    try:
        if _is_parquet(path.name):
            return [str(name) for name in pq.ParquetFile(path).schema_arrow.names]
        records = reading.csv_records(path, column_map.encoding)
        return next(records)[0]
    except (pyarrow_module.ArrowException, OSError, ValueError, StopIteration):
        raise InputError([]) from None


# ----------------------------------------------------------------------------------------------
# Step 2: chunks, one task per file


@dataclass
class FileScan:
    """What one file's chunks found: refusals (the file cannot be read), control characters,
    failing cells, findings that add up over chunks, the spooled partitions and the earliest
    trained year of its trained persons."""

    refused: list[InputFailure] = field(default_factory=list)
    control: list[InputFailure] = field(default_factory=list)
    cells: list[InputFailure] = field(default_factory=list)
    read: list[validation.ReadFindings] = field(default_factory=list)
    padded: list[dict] = field(default_factory=list)
    trained: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.empty(0, np.int64), np.empty(0, np.int64)))
    partitions: set[str] = field(default_factory=set)


def _chunks(plan: ExtractPlan, index: int):
    path = plan.path(index)
    if _is_parquet(path.name):
        return reading.parquet_chunks(path, plan.chunk_rows)
    return reading.csv_chunks(path, plan.chunk_rows, plan.column_map.encoding,
                              microdata.HOW_TO_NAME_ENCODING)


def scan_file(index: int, plan: ExtractPlan) -> FileScan:
    """Step 2 for file ``index`` of the extract."""
    scan = FileScan()
    spool = Spool(plan, index)
    trained = []
    try:
        for chunk in _chunks(plan, index):
            chunk.files = plan.files
            chunk.part = np.full(len(chunk.numbers), index, dtype=np.int16)
            scan.control += reading.control_character_failures(chunk)
            if plan.validate:
                trained.append(_scan_chunk(plan, chunk, scan, spool))
    except InputError as error:
        spool.close()
        return FileScan(refused=error.failures)
    spool.close()
    scan.partitions = spool.partitions
    scan.trained = _earliest_trained(trained)
    return scan


def _scan_chunk(plan: ExtractPlan, chunk: reading.TextTable, scan: FileScan,
                spool: Spool) -> tuple[np.ndarray, np.ndarray]:
    """Passes 1 and 2 on one chunk; its rows spooled; its persons' earliest trained years."""
    table = microdata.prepared(chunk, plan.column_map)
    table.frame = table.frame[plan.table_columns]  # the first file's order, as when whole
    scan.padded.append(microdata.padded_ids(table, plan.column_map.ids))
    recode = {**microdata.id_recodes(table, plan.column_map.ids), **plan.column_map.recode}
    values, unreadable, findings = validation.read_cells(table, plan.schema, recode)
    scan.read.append(findings)
    failing, cell_failures = validation.check_cells(table, values, plan.schema, plan.advice)
    scan.cells += cell_failures
    spool.write(table, values, ~(unreadable | failing))
    if "first_trained_year" not in plan.derived:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    trained = (values["trained"].fillna(False).astype(bool) & values["person_id"].notna()
               & values["year"].notna()).to_numpy()
    return (values["person_id"][trained].to_numpy(np.int64),
            values["year"][trained].to_numpy(np.int64))


def _earliest_trained(parts: list[tuple[np.ndarray, np.ndarray]],
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Person ids (sorted) and the earliest year each was trained in."""
    persons = np.concatenate([part[0] for part in parts] + [np.empty(0, np.int64)])
    years = np.concatenate([part[1] for part in parts] + [np.empty(0, np.int64)])
    order = np.lexsort((years, persons))
    persons, years = persons[order], years[order]
    first = np.flatnonzero(np.diff(persons, prepend=-1) != 0) if len(persons) else order[:0]
    return persons[first], years[first]


def _chunk_failures(plan: ExtractPlan, scans: list[FileScan]) -> list[InputFailure]:
    """The failures of steps 1-2 once every chunk is read: columns, unreadable cells (added up
    over chunks), ids written with leading zeros and failing cells."""
    their_name = plan.their_name
    header = reading.TextTable(pd.DataFrame(columns=plan.table_columns), plan.files[0][0],
                               np.empty(0, np.int64), plan.files[0][1], plan.their_names,
                               plan.files, np.empty(0, np.int16))
    present = pd.DataFrame(columns=plan.value_columns + plan.derived)
    failures = validation.check_columns(header, present, plan.schema, "panel", plan.advice)
    failures += microdata.padded_id_failures(
        microdata.merged_padded_ids([padded for scan in scans for padded in scan.padded]),
        plan.files, their_name)
    read = validation.ReadFindings.merged([found for scan in scans for found in scan.read])
    failures += read.failures(plan.schema, plan.column_map.recode, plan.advice, plan.files,
                              their_name)
    return failures + [failure for scan in scans for failure in scan.cells]


class Spool:
    """One file's rows, written per province (rows with a failing cell: ``unplaced``) as
    Parquet parts of ``<scratch>/spool/<province>/<file index>.parquet``."""

    def __init__(self, plan: ExtractPlan, index: int):
        self.plan, self.index = plan, index
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.schema: pyarrow_module.Schema | None = None

    @property
    def partitions(self) -> set[str]:
        return set(self.writers)

    def write(self, table: reading.TextTable, values: pd.DataFrame, clean: np.ndarray) -> None:
        rows = values[self.plan.value_columns].copy()
        for name in self.plan.quoted_columns:
            rows[TEXT + name] = table.frame[name].to_numpy(dtype=object)
        rows[FILE] = table.part
        rows[NUMBER] = table.numbers
        province = values["province_code"].astype(object) if "province_code" in values \
            else pd.Series(None, index=values.index, dtype=object)
        where = np.where(clean & province.notna().to_numpy(), province.fillna(""), UNPLACED)
        for name, part in rows.groupby(where, sort=True):
            self._writer(name, part).write_table(self._arrow(part))

    def _arrow(self, part: pd.DataFrame) -> pyarrow_module.Table:
        if self.schema is None:
            self.schema = _spool_schema(self.plan)
        return pyarrow_module.Table.from_pandas(part, schema=self.schema, preserve_index=False)

    def _writer(self, name: str, part: pd.DataFrame) -> pq.ParquetWriter:
        if name not in self.writers:
            path = self.plan.scratch / "spool" / name / f"{self.index:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[name] = pq.ParquetWriter(path, self._arrow(part.iloc[:0]).schema)
        return self.writers[name]

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _spool_schema(plan: ExtractPlan) -> pyarrow_module.Schema:
    """The spool's columns: values in the types pass 1 reads them as, texts, file, row."""
    kinds = {"integer": pyarrow_module.int64(), "number": pyarrow_module.float64(),
             "yes/no": pyarrow_module.bool_(), "text": pyarrow_module.string()}
    fields = [(name, kinds[schemas.value_kind(plan.schema.columns[name])])
              for name in plan.value_columns]
    fields += [(TEXT + name, pyarrow_module.string()) for name in plan.quoted_columns]
    fields += [(FILE, pyarrow_module.int16()), (NUMBER, pyarrow_module.int64())]
    return pyarrow_module.schema(fields)


# ----------------------------------------------------------------------------------------------
# Step 3: provinces, one task each


def _partition(plan: ExtractPlan, name: str, texts: bool = False,
               ) -> tuple[reading.TextTable, pd.DataFrame]:
    """A province's rows in file and row order: (a table of the quoted cells' texts, or of no
    cells, with each row's file and number; the values read in pass 1)."""
    folder = plan.scratch / "spool" / name
    columns = plan.value_columns + [FILE, NUMBER]
    if texts:
        columns += [TEXT + column for column in plan.quoted_columns]
    pieces = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    frame = pd.concat([pd.read_parquet(piece, columns=columns) for piece in pieces]
                      or [_spool_schema(plan).empty_table().to_pandas()[columns]],
                      ignore_index=True)
    text = pd.DataFrame({column: frame[TEXT + column] for column in plan.quoted_columns}
                        if texts else {}, index=frame.index)
    table = reading.TextTable(text, plan.files[0][0], frame[NUMBER].to_numpy(np.int64),
                              plan.files[0][1], plan.their_names, plan.files,
                              frame[FILE].to_numpy(np.int16))
    values = frame[plan.value_columns].copy()
    for name in plan.value_columns:  # the nullable types pass 1 gives
        kind = schemas.value_kind(plan.schema.columns[name])
        values[name] = values[name].astype({"integer": "Int64", "number": "Float64",
                                            "yes/no": "boolean"}.get(kind, values[name].dtype))
    return table, values


def _with_derived(plan: ExtractPlan, values: pd.DataFrame,
                  trained: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """Derived columns: ``first_trained_year``, the earliest trained year among all the
    person's rows in every file, then what :func:`microdata.derive` adds within a row."""
    values = values.copy()
    if "first_trained_year" in plan.derived:
        persons, years = trained
        known = values["person_id"].notna().to_numpy()
        ids = values["person_id"].fillna(0).to_numpy(np.int64)
        at = np.searchsorted(persons, ids)
        found = known & (at < len(persons))
        found[found] = persons[at[found]] == ids[found]
        first = np.zeros(len(values), dtype=np.int64)
        first[found] = years[at[found]]
        values["first_trained_year"] = pd.arrays.IntegerArray(first, ~found)
    return microdata.derive(values)


def province_keys(name: str, plan: ExtractPlan, trained: tuple[np.ndarray, np.ndarray],
                  ) -> dict:
    """The province's failing derived cells, and the persons and counties of its rows whose
    cells all passed (sorted, unique)."""
    table, values = _partition(plan, name)
    clean, failures = _derived_cells(plan, table, values, trained, name)
    keys = {"failures": failures}
    for key, column in (("persons", "person_id"), ("counties", "county_id")):
        keys[key] = (np.unique(values[column][clean].to_numpy(np.int64))
                     if column in values and name != UNPLACED else np.empty(0, np.int64))
    return keys


def _derived_cells(plan: ExtractPlan, table: reading.TextTable, values: pd.DataFrame,
                   trained, name: str) -> tuple[np.ndarray, list[InputFailure]]:
    """(rows whose cells all passed, failures of the derived ``first_trained_year``)."""
    clean = np.full(len(values), name != UNPLACED)
    if "first_trained_year" not in plan.derived:
        return clean, []
    derived = _with_derived(plan, values, trained)[["first_trained_year"]]
    failing, failures = validation.check_cells(table, derived, plan.schema, plan.advice)
    return clean & ~failing, failures


def _rule_schemas(plan: ExtractPlan) -> dict[str, pa.DataFrameSchema]:
    """The panel's rules by what they span: a row, a person (with the key person and year),
    a county."""
    schema, spans = plan.schema, {"row": [], "person_id": [], "county_id": []}
    for check in schema.checks:
        rule = schemas.RULES[str(check.error)]
        span = "row" if rule.spans == "row" else rule.columns[0]
        if span not in spans:
            raise AssertionError(f"bounded ingest does not check the rule {rule.error!r} "
                                 "across provinces; add it to analysis/data/extract.py")
        spans[span].append(check)
    return {span: pa.DataFrameSchema(schema.columns, checks=checks,
                                     unique=schema.unique if span == "person_id" else None)
            for span, checks in spans.items()}


def province_rules(name: str, plan: ExtractPlan, trained: tuple[np.ndarray, np.ndarray],
                   shared: np.ndarray, counties: np.ndarray) -> list[InputFailure]:
    """Rules over several cells on the province's rows whose cells all passed. Persons with
    such rows in other provinces too (``shared``) are set aside for
    :func:`shared_person_failures`; every row of a county in several provinces fails."""
    failures, quoting = _province_rules(plan, name, trained, shared, counties, texts=False)
    if quoting:  # found without the cells' texts: again, with them, for the messages
        failures, _ = _province_rules(plan, name, trained, shared, counties, texts=True)
    return failures


def _province_rules(plan: ExtractPlan, name: str, trained, shared: np.ndarray,
                    counties: np.ndarray, texts: bool) -> tuple[list[InputFailure], bool]:
    """(failures, whether they or rows set aside need the cells' texts)."""
    table, values = _partition(plan, name, texts)
    clean, _ = _derived_cells(plan, table, values, trained, name)
    values = _with_derived(plan, values, trained)
    rules = _rule_schemas(plan)
    persons = values["person_id"].to_numpy(np.int64)
    elsewhere = np.isin(persons, shared)
    failures = validation.check_rules(table, values, rules["row"], clean)
    failures += validation.check_rules(table, values, rules["person_id"], clean & ~elsewhere)
    in_several = clean & np.isin(values["county_id"].to_numpy(np.int64), counties)
    for check in rules["county_id"].checks:
        failures += validation.rule_failures(table, values, str(check.error),
                                             np.flatnonzero(in_several))
    if texts:
        _set_aside(plan, name, table, values, clean & elsewhere)
    return failures, bool(failures) or bool((clean & elsewhere).any())


def _set_aside(plan: ExtractPlan, name: str, table: reading.TextTable, values: pd.DataFrame,
               rows: np.ndarray) -> None:
    """Rows of persons with rows in several provinces, for :func:`shared_person_failures`."""
    if not rows.any():
        return
    frame = values[rows].copy()
    for column in plan.quoted_columns:
        frame[TEXT + column] = table.frame[column].to_numpy(dtype=object)[rows]
    frame[FILE] = table.part[rows]
    frame[NUMBER] = table.numbers[rows]
    path = plan.scratch / "shared" / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def shared_person_failures(plan: ExtractPlan) -> list[InputFailure]:
    """One row per person and year, and one household per person, for persons with rows in
    several provinces (all their rows whose cells passed, in file and row order)."""
    pieces = sorted((plan.scratch / "shared").glob("*.parquet"))
    if not pieces:
        return []
    frame = pd.concat([pd.read_parquet(piece) for piece in pieces], ignore_index=True)
    frame = frame.sort_values([FILE, NUMBER], kind="stable").reset_index(drop=True)
    text = pd.DataFrame({column: frame[TEXT + column] for column in plan.quoted_columns})
    table = reading.TextTable(text, plan.files[0][0], frame[NUMBER].to_numpy(np.int64),
                              plan.files[0][1], plan.their_names, plan.files,
                              frame[FILE].to_numpy(np.int16))
    values = frame[[column for column in plan.schema.columns if column in frame]]
    return validation.check_rules(table, values, _rule_schemas(plan)["person_id"],
                                  np.ones(len(frame), dtype=bool))


def _in_several(sorted_ids: list[np.ndarray]) -> np.ndarray:
    """Ids found in more than one of the (sorted, unique) arrays."""
    ids = np.sort(np.concatenate(sorted_ids + [np.empty(0, np.int64)]))
    return np.unique(ids[1:][ids[1:] == ids[:-1]])


# ----------------------------------------------------------------------------------------------
# Step 4: output, one task per province


def write_province(name: str, plan: ExtractPlan, trained, staging: Path) -> dict:
    """The province's rows in the panel's types, written as ``panel/<province>``."""
    table, values = _partition(plan, name)
    values = _with_derived(plan, values, trained)
    try:
        panel = plan.schema.validate(validation.typed(values, plan.schema), lazy=True)
    except pa.errors.SchemaErrors as error:  # a check the passes above do not translate
        return {"outputs": {}, "rows": 0, "failures": [
            failure for case in error.failure_cases.itertuples()
            for failure in table.failures("table", str(case.check), str(case.check),
                                          column=str(case.column or ""),
                                          found=failures_module.quoted(case.failure_case))]}
    outputs = write_table(staging, f"panel/{name}", microdata.compact(panel))
    return {"outputs": outputs, "rows": len(panel), "failures": []}
