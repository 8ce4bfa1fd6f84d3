"""Raw inputs -> validated processed tables, written atomically with a manifest.

``ingest`` reads every raw table, validates all of them lazily (every failure at once, not the
first), and only when nothing failed writes Parquet tables and ``manifest.json`` into a staging
folder that then replaces ``data/processed/`` in one rename. On any failure ``data/processed/``
is left exactly as it was and :class:`IngestError` carries the table of failures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.data import ledger, schemas
from analysis.files import sha256_file

FAILURE_COLUMNS = schemas.FAILURE_COLUMNS
REPORTED_PACKAGES = ("pandas", "pandera", "pyarrow", "numpy", "statsmodels")


class IngestError(Exception):
    """Raised when raw inputs fail validation; ``failures`` lists every failing row and check."""

    def __init__(self, failures: pd.DataFrame):
        self.failures = failures
        super().__init__(
            f"{len(failures)} validation failure(s) in raw inputs; data/processed/ left unchanged"
            f"\n{format_failures(failures)}"
        )


def format_failures(failures: pd.DataFrame, max_rows: int = 200) -> str:
    """A plain-text table of failures, one line each."""
    shown = failures.head(max_rows).astype(str)
    shown["value"] = shown["value"].map(lambda value: value if len(value) <= 60
                                        else value[:57] + "...")
    text = shown.to_string(index=False)
    if len(failures) > max_rows:
        text += f"\n... and {len(failures) - max_rows} more"
    return text


@dataclass
class RawTables:
    """Raw inputs read as strings, plus where each came from."""

    sources: pd.DataFrame
    provinces: pd.DataFrame
    ledger: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)


def read_raw(raw_dir: Path = config.RAW_DIR) -> RawTables:
    """Read the raw CSVs with text kept as text (codes like "50" must not become numbers)."""
    paths = {
        "sources": raw_dir / "sources.csv",
        "provinces": raw_dir / "provinces.csv",
        "ledger": raw_dir / "published_figures.csv",
    }
    missing = [str(path) for path in paths.values() if not path.exists()]
    if missing:
        raise FileNotFoundError(f"raw input(s) missing: {', '.join(missing)}")
    text_columns = {"province_code": str, "scope": str, "period": str, "value_as_written": str}
    frames = {name: pd.read_csv(path, dtype=text_columns, keep_default_na=False,
                                na_values=[""]) for name, path in paths.items()}
    return RawTables(frames["sources"], frames["provinces"], frames["ledger"], paths)


def validate(schema, frame: pd.DataFrame, file: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate lazily; return (validated frame or the input, failures table)."""
    return schemas.validate_lazily(schema, frame, config.display_path(file))


def _collapse_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check_quotes_in_sources(
    figures: pd.DataFrame, sources: pd.DataFrame, sources_dir: Path, ledger_path: Path
) -> pd.DataFrame:
    """Every quote must be verbatim text of its source document (whitespace collapsed)."""
    texts = {
        row.source_id: _collapse_whitespace((sources_dir / row.file).read_text(encoding="utf-8"))
        for row in sources.itertuples()
        if (sources_dir / row.file).exists()
    }
    failures = []
    for index, row in figures.iterrows():
        text = texts.get(row["source_id"])
        if text is None:
            check, ok = "source document exists in data/raw/sources", False
        else:
            check, ok = "quote is verbatim text of the source", \
                _collapse_whitespace(str(row["quote"])) in text
        if not ok:
            failures.append([config.display_path(ledger_path), index + 2, "quote", check,
                             str(row["quote"])[:80]])
    return pd.DataFrame(failures, columns=FAILURE_COLUMNS)


def check_published_dates(figures: pd.DataFrame, sources: pd.DataFrame,
                          ledger_path: Path) -> pd.DataFrame:
    """A ledger row's ``published`` date must be its source document's date."""
    dates = dict(zip(sources["source_id"], pd.to_datetime(sources["published"], errors="coerce")))
    published = pd.to_datetime(figures["published"], errors="coerce")
    expected = figures["source_id"].map(dates)
    wrong = expected.notna() & (published != expected)
    return pd.DataFrame({
        "file": config.display_path(ledger_path),
        "row": figures.index[wrong] + 2,
        "column": "published",
        "check": "equals the source's publication date in sources.csv",
        "value": figures.loc[wrong, "published"].astype(str),
    }, columns=FAILURE_COLUMNS)


def validate_raw(raw: RawTables, sources_dir: Path) -> tuple[RawTables, pd.DataFrame]:
    """Validate every raw table and the references between them; collect all failures."""
    sources, source_failures = validate(schemas.SourceSchema, raw.sources, raw.paths["sources"])
    provinces, province_failures = validate(
        schemas.ProvinceSchema, raw.provinces, raw.paths["provinces"])
    figures, ledger_failures = validate(schemas.LedgerSchema, raw.ledger, raw.paths["ledger"])
    reference_schema = schemas.ledger_reference_schema(
        list(raw.sources["source_id"]), ["national", *raw.provinces["province_code"]])
    _, reference_failures = validate(reference_schema, raw.ledger, raw.paths["ledger"])
    failures = pd.concat([
        source_failures, province_failures, ledger_failures, reference_failures,
        check_quotes_in_sources(raw.ledger, raw.sources, sources_dir, raw.paths["ledger"]),
        check_published_dates(raw.ledger, raw.sources, raw.paths["ledger"]),
    ], ignore_index=True)
    return RawTables(sources, provinces, figures, raw.paths), failures


def _input_files(raw_dir: Path) -> list[Path]:
    return sorted(path for path in raw_dir.rglob("*") if path.is_file())


def write_tables_atomically(tables: dict[str, pd.DataFrame], processed_dir: Path,
                            raw_dir: Path, extra: dict) -> dict:
    """Write Parquet tables and the manifest to a staging folder, then swap it into place.

    ``tables`` maps a relative path without suffix (``"panel/53"``) to a table.
    """
    processed_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".processed-", dir=processed_dir.parent))
    try:
        outputs = {}
        for name, table in sorted(tables.items()):
            path = staging / f"{name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            table.to_parquet(path, index=False)
            outputs[f"{name}.parquet"] = {"sha256": sha256_file(path), "rows": len(table)}
        manifest = {
            "inputs": {config.display_path(path): sha256_file(path) for path in _input_files(raw_dir)},
            "outputs": outputs,
            "packages": {name: metadata.version(name) for name in REPORTED_PACKAGES},
            **extra,
        }
        (staging / config.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        _swap_into_place(staging, processed_dir)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(staging: Path, processed_dir: Path) -> None:
    # Keep untracked files such as a .gitkeep; everything we own is replaced as a whole.
    previous = processed_dir.with_name(f".{processed_dir.name}-previous")
    shutil.rmtree(previous, ignore_errors=True)
    if processed_dir.exists():
        os.replace(processed_dir, previous)
    os.replace(staging, processed_dir)
    gitkeep = previous / ".gitkeep"
    if gitkeep.exists():
        shutil.copy2(gitkeep, processed_dir / ".gitkeep")
    shutil.rmtree(previous, ignore_errors=True)


def ledger_tables(validated: RawTables) -> dict[str, pd.DataFrame]:
    """The processed ledger tables, derived figures and consistency findings included."""
    figures = validated.ledger
    derived = ledger.derived_figures(figures)
    return {
        "sources": validated.sources,
        "provinces": validated.provinces,
        "figures": figures,
        "derived_figures": derived,
        "consistency": ledger.consistency_findings(figures),
        "derived_checks": ledger.derived_against_published(figures, derived),
    }


def ingest(raw_dir: Path = config.RAW_DIR, processed_dir: Path = config.PROCESSED_DIR,
           persons: int = config.DEMO_PERSONS, seed: int = config.DEMO_SEED) -> dict:
    """Validate raw inputs and write ``processed_dir``; return the manifest.

    Raises
    ------
    IngestError
        When any raw table fails validation; nothing is written.
    """
    from analysis.data import microdata  # the panel stage: analyst extract or simulated panel

    raw = read_raw(raw_dir)
    validated, failures = validate_raw(raw, raw_dir / "sources")
    microdata_dir = raw_dir / "microdata"
    analyst_data = (microdata_dir / microdata.COLUMN_MAP).exists()
    if not failures.empty and not analyst_data:
        raise IngestError(failures)
    panel_tables, panel_info, panel_failures = microdata.panel_tables(
        microdata_dir, validated.ledger, validated.provinces, persons, seed)
    failures = pd.concat([failures, panel_failures], ignore_index=True)
    if not failures.empty:
        raise IngestError(failures)
    tables = {**ledger_tables(validated), **panel_tables}
    if panel_info.get("origin") == "simulated":
        tables.update(simulated_extras(tables, validated, persons, seed))
    return write_tables_atomically(tables, processed_dir, raw_dir, {"panel": panel_info})


PROJECTION_YEARS = (2021, 2025)


def simulated_extras(tables: dict, validated: RawTables, persons: int,
                     seed: int) -> dict[str, pd.DataFrame]:
    """Two tables that only a simulated panel has.

    * ``expansion``: persons represented per panel person. The simulator is calibrated so that
      the panel persons working outside their county in 2020 stand for the published count of
      poor laborers working away from home, so the factor is that count over the panel's.
    * ``projection/<code>``: a second simulated extract covering 2021-2025 (same seed and
      size; illustrative beyond 2020), so pages can show what an extract of the target years
      would give against the 2025 targets.
    """
    from analysis.data import microdata, simulate

    panel = pd.concat([table for name, table in tables.items() if name.startswith("panel/")],
                      ignore_index=True)
    away = ledger.find_figure(validated.ledger, "poor_laborers_working_away", "2020")
    count = int(panel.loc[panel["year"] == 2020, "worked_outside_county"].astype(bool).sum())
    expansion = pd.DataFrame([{
        "factor": float(away["value"]) / count, "figure_id": away["figure_id"],
        "published": float(away["value"]), "panel_count": count, "year": 2020}])
    targets = simulate.calibration_targets_from_ledger(validated.ledger)
    projection = simulate.simulate_panel(validated.provinces, targets, n_persons=persons,
                                         years=PROJECTION_YEARS, seed=seed).panel
    return {"expansion": expansion,
            **microdata.partition_by_province("projection", microdata.compact(projection))}
