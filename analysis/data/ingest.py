"""Raw inputs -> validated processed tables, written atomically with a manifest.

``ingest`` reads every raw table, validates all of them lazily (every failure at once, not the
first), and writes Parquet tables and ``manifest.json`` into a staging folder that replaces
``data/processed/`` in one step (a link swapped by one rename) only when nothing failed. On any
failure the staging folder is removed, ``data/processed/`` is left exactly as it was and
:class:`IngestError` carries the table of failures.

The person-year panel is written into the staging folder a part at a time, so that memory
depends on the largest province, not on the nation: an analyst's extract is read in chunks and
checked province by province (:mod:`analysis.data.extract`), the demonstration panel is
simulated in batches of counties (:mod:`analysis.data.demonstration`). Both can run on a Dask
cluster (``scheduler``), one task per file or province.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.data import failures as failures_module
from analysis.data import ledger
from analysis.data.failures import InputFailure
from analysis.data.output import write_table
from analysis.data.raw_tables import RawTables, read_raw
from analysis.data.runner import runner_for
from analysis.files import replacing_directory, sha256_file

REPORTED_PACKAGES = ("pandas", "pandera", "pyarrow", "numpy", "statsmodels")
SCRATCH = ".scratch"  # in the staging folder, removed before it is swapped in


class IngestError(Exception):
    """Raised when raw inputs fail reading or validation; nothing has been written.

    ``records`` are the :class:`~analysis.data.failures.InputFailure` sentences; ``failures``
    is the same as a table (file, row, column, ours, check, value, expected, action, ...).
    """

    def __init__(self, records: list[InputFailure]):
        self.records = failures_module.ordered(records)
        self.failures = failures_module.as_table(self.records)
        files = len({record.file for record in self.records})
        super().__init__(f"{len(self.records)} failure(s) in {files} input file(s); nothing "
                         f"written\n{self.report()}")

    def report(self, full_list: Path | str | None = None) -> str:
        """The summary and sentences an analyst reads (:func:`failures.report`)."""
        return failures_module.report(self.records, full_list)

    def write_full_list(self, path: Path) -> None:
        failures_module.write_full_list(self.records, path)


def full_list_path(processed_dir: Path) -> Path:
    """Where the command line writes every failure: beside ``processed_dir``, not in it."""
    return Path(processed_dir).parent / failures_module.FULL_LIST_NAME


def _input_files(raw_dir: Path) -> list[Path]:
    return sorted(path for path in raw_dir.rglob("*") if path.is_file())


def manifest_of(outputs: dict, raw_dir: Path, extra: dict) -> dict:
    return {
        "inputs": {config.display_path(path): sha256_file(path) for path in _input_files(raw_dir)},
        "outputs": dict(sorted(outputs.items())),
        "packages": {name: metadata.version(name) for name in REPORTED_PACKAGES},
        **extra,
    }


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


def _missing_figure(validated: RawTables, error: LookupError) -> InputFailure:
    """A valid ledger that lacks a figure the derived figures or the simulator are built on."""
    return InputFailure(
        config.display_path(validated.paths["ledger"]), "table", "figures the analysis needs",
        "the figures that derived figures and the demonstration panel are computed from",
        found=str(error), action="Restore the row (see data/raw/published_figures.csv in the "
        "repository), or change analysis/data/ledger.py if the figure is no longer used.")


def ingest(raw_dir: Path = config.RAW_DIR, processed_dir: Path = config.PROCESSED_DIR,
           persons: int = config.DEMO_PERSONS, seed: int = config.DEMO_SEED, *,
           chunk_rows: int | None = config.INGEST_CHUNK_ROWS,
           scheduler: str | None = None) -> dict:
    """Validate raw inputs and write ``processed_dir``; return the manifest.

    ``chunk_rows`` is how many rows of an analyst's extract are read at a time (None: each file
    whole, in memory; the same tables and failures, for small extracts and as a reference).
    ``scheduler`` is the address of a Dask scheduler to run the panel's tasks on.

    Raises
    ------
    IngestError
        When any raw input cannot be read or fails validation; nothing is written.
    """
    from analysis.data import extract, microdata

    validated, failures = read_raw(raw_dir)
    microdata_dir = raw_dir / "microdata"
    analyst_data = microdata.has_analyst_files(microdata_dir)
    if failures and not analyst_data:
        raise IngestError(failures)
    known = None if validated.provinces is None else list(validated.provinces["province_code"])
    with runner_for(scheduler) as runner, replacing_directory(processed_dir) as staging:
        scratch = staging / SCRATCH
        try:
            if analyst_data:
                outputs, panel_info, panel_failures = extract.write_analyst_panel(
                    microdata_dir, known, staging, scratch, runner, chunk_rows)
                failures += panel_failures
                if failures:
                    raise IngestError(failures)
            else:
                from analysis.data.demonstration import write_demonstration

                outputs, panel_info = write_demonstration(
                    staging, validated.ledger, validated.provinces, known, persons, seed, runner,
                    scratch)
            for name, table in ledger_tables(validated).items():
                outputs.update(write_table(staging, name, table))
        except LookupError as error:  # a valid ledger without a figure that the code looks up
            raise IngestError([_missing_figure(validated, error)]) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        manifest = manifest_of(outputs, raw_dir, {"panel": panel_info})
        (staging / config.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest
