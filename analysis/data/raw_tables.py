"""The three raw tables read and validated: sources, provinces and the figure ledger.

Each CSV is read as text (:mod:`analysis.data.reading`) and validated against its pandera model
(:mod:`analysis.data.validation`); then the references between them are checked: a ledger row's
``source_id`` and ``scope`` must be keys of the other tables, its ``quote`` verbatim text of
the source document and its ``published`` date the source's. Every problem is collected, so one
run lists them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from analysis.config import display_path
from analysis.data import reading, schemas, validation
from analysis.data.failures import InputError, InputFailure, quoted

FILES = {"sources": "sources.csv", "provinces": "provinces.csv",
         "ledger": "published_figures.csv"}


@dataclass
class RawTables:
    """The validated raw tables (None where a table has failures), and where each came from."""

    sources: pd.DataFrame | None
    provinces: pd.DataFrame | None
    ledger: pd.DataFrame | None
    paths: dict[str, Path] = field(default_factory=dict)


def _read(path: Path, failures: list[InputFailure]) -> reading.TextTable | None:
    try:
        table, read_failures = reading.read_csv_table(path)
    except InputError as error:
        failures += error.failures
        return None
    failures += read_failures
    return table


def _validated(table: reading.TextTable | None, schema: pa.DataFrameSchema, what: str,
               failures: list[InputFailure]) -> pd.DataFrame | None:
    if table is None:
        return None
    validated, table_failures = validation.validate_table(table, schema, what)
    failures += table_failures
    return None if table_failures else validated


def _source_schema(sources_dir: Path) -> pa.DataFrameSchema:
    def document_exists(files: pd.Series) -> pd.Series:
        return files.map(lambda name: (sources_dir / str(name)).is_file()).astype(bool)

    error = f"{schemas.SOURCE_DOCUMENT_CHECK}, {display_path(sources_dir)}/"
    return schemas.with_checks(schemas.SourceSchema.to_schema(),
                               {"file": [pa.Check(document_exists, error=error)]})


def _ledger_schema(source_ids: list[str] | None, codes: list[str] | None) -> pa.DataFrameSchema:
    """The ledger's model plus its references to the other tables, where those could be read."""
    reference = schemas.ledger_reference_schema(source_ids or [], ["national", *(codes or [])])
    extra = {}
    if source_ids is not None:
        extra["source_id"] = reference.columns["source_id"].checks
    if codes is not None:
        extra["scope"] = reference.columns["scope"].checks
    return schemas.with_checks(schemas.LedgerSchema.to_schema(), extra)


def read_raw(raw_dir: Path) -> tuple[RawTables, list[InputFailure]]:
    """Read and validate every raw table and the references between them: (tables, failures)."""
    paths = {name: raw_dir / file for name, file in FILES.items()}
    sources_dir = raw_dir / "sources"
    failures: list[InputFailure] = []
    tables = {name: _read(path, failures) for name, path in paths.items()}
    sources = _validated(tables["sources"], _source_schema(sources_dir), "sources table",
                         failures)
    provinces = _validated(tables["provinces"], schemas.ProvinceSchema.to_schema(),
                           "province table", failures)
    # References are checked against tables without failures only, so that one wrong province
    # code is reported once, on provinces.csv, and not again on every ledger row citing it.
    ledger_schema = _ledger_schema(
        None if sources is None else list(sources["source_id"]),
        None if provinces is None else list(provinces["province_code"]))
    figures = _validated(tables["ledger"], ledger_schema, "ledger", failures)
    if tables["ledger"] is not None and tables["sources"] is not None:
        failures += check_quotes_in_sources(tables["ledger"], tables["sources"], sources_dir)
        failures += check_published_dates(tables["ledger"], tables["sources"])
    return RawTables(sources, provinces, figures, paths), failures


def _collapse_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _source_texts(sources: reading.TextTable, sources_dir: Path,
                  failures: list[InputFailure]) -> dict[str, tuple[Path, str]]:
    """Each source id's document and its text, whitespace collapsed; a document that exists
    but cannot be read is a failure here (a missing one is reported on sources.csv)."""
    texts = {}
    if not {"source_id", "file"} <= set(sources.frame.columns):
        return texts
    for source_id, name in zip(sources.frame["source_id"], sources.frame["file"]):
        path = sources_dir / name
        if not name or not path.is_file():
            continue
        try:
            texts[source_id] = path, _collapse_whitespace(reading.decode(path, path.read_bytes()))
        except InputError as error:
            failures += error.failures
    return texts


def check_quotes_in_sources(figures: reading.TextTable, sources: reading.TextTable,
                            sources_dir: Path) -> list[InputFailure]:
    """Every quote must be verbatim text of its source document (whitespace collapsed)."""
    failures: list[InputFailure] = []
    texts = _source_texts(sources, sources_dir, failures)
    if not {"source_id", "quote"} <= set(figures.frame.columns):
        return failures
    for position, (source_id, quote) in enumerate(zip(figures.frame["source_id"],
                                                      figures.frame["quote"])):
        if source_id not in texts or not quote.strip():
            continue  # an unknown source, a missing document or an empty quote: reported
        path, text = texts[source_id]
        if _collapse_whitespace(quote) not in text:
            failures.append(figures.failure(
                "row", "quote is verbatim text of its source",
                f"text found word for word in {display_path(path)} (spaces and line breaks "
                "aside)", column="quote", positions=[position], found=quoted(quote),
                action="Copy the sentence from the source document exactly."))
    return failures


def check_published_dates(figures: reading.TextTable,
                          sources: reading.TextTable) -> list[InputFailure]:
    """A ledger row's ``published`` date must be its source document's date."""
    if not {"source_id", "published"} <= set(figures.frame.columns) or \
            not {"source_id", "published"} <= set(sources.frame.columns):
        return []
    dates = dict(zip(sources.frame["source_id"], sources.frame["published"].str.strip()))
    failures = []
    for position, (source_id, published) in enumerate(zip(figures.frame["source_id"],
                                                          figures.frame["published"])):
        expected = dates.get(source_id)
        if expected and re.fullmatch(r"\d{4}-\d{2}-\d{2}", published.strip()) and \
                published.strip() != expected:
            failures.append(figures.failure(
                "row", "published is the source's date",
                f"{expected}, the date of {source_id} in {sources.file}", column="published",
                positions=[position], found=quoted(published),
                action="Copy the date from sources.csv (or correct it there)."))
    return failures
