"""Raw inputs -> validated processed tables, written atomically with a manifest.

``ingest`` reads every raw table, validates all of them lazily (every failure at once, not the
first), and only when nothing failed writes Parquet tables and ``manifest.json`` into a staging
folder that then replaces ``data/processed/`` in one step (a link swapped by one rename). On any
failure ``data/processed/`` is left exactly as it was and :class:`IngestError` carries the table
of failures.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.data import failures as failures_module
from analysis.data import ledger
from analysis.data.failures import InputFailure
from analysis.data.raw_tables import RawTables, read_raw
from analysis.files import replacing_directory, sha256_file

REPORTED_PACKAGES = ("pandas", "pandera", "pyarrow", "numpy", "statsmodels")


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


def write_tables_atomically(tables: dict[str, pd.DataFrame], processed_dir: Path,
                            raw_dir: Path, extra: dict) -> dict:
    """Write Parquet tables and the manifest to a staging folder, then swap it into place.

    ``tables`` maps a relative path without suffix (``"panel/53"``) to a table.
    ``processed_dir`` becomes a link to the complete new folder in one step, and what a killed
    ingest left beside it is removed first (:func:`analysis.files.replacing_directory`).
    """
    with replacing_directory(processed_dir) as staging:
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
    return manifest


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
           persons: int = config.DEMO_PERSONS, seed: int = config.DEMO_SEED) -> dict:
    """Validate raw inputs and write ``processed_dir``; return the manifest.

    Raises
    ------
    IngestError
        When any raw input cannot be read or fails validation; nothing is written.
    """
    from analysis.data import microdata  # the panel stage: analyst extract or simulated panel

    validated, failures = read_raw(raw_dir)
    microdata_dir = raw_dir / "microdata"
    analyst_data = microdata.has_analyst_files(microdata_dir)
    if failures and not analyst_data:
        raise IngestError(failures)
    known = None if validated.provinces is None else list(validated.provinces["province_code"])
    try:
        panel_tables, panel_info, panel_failures = microdata.panel_tables(
            microdata_dir, validated.ledger, validated.provinces, known, persons, seed)
        failures += panel_failures
        if failures:
            raise IngestError(failures)
        tables = {**ledger_tables(validated), **panel_tables}
        if panel_info.get("origin") == "simulated":
            tables.update(simulated_extras(tables, validated, persons, seed))
    except LookupError as error:  # a valid ledger without a figure that the code looks up
        raise IngestError([_missing_figure(validated, error)]) from None
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
