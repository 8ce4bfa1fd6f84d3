"""The person-year panel for ``ingest``: an analyst's own extract, or the demonstration panel.

An analyst puts a CSV or Parquet file under ``data/raw/microdata/`` with ``column_map.json``::

    {
      "file": "survey_2016_2020.csv",
      "columns": {"pid": "person_id", "hh": "household_id", "prov": "province_code", ...},
      "recode": {"female": {"F": true, "M": false}, "trained": {"yes": true, "no": false}},
      "defaults": {"employment_services": false}
    }

``columns`` maps their names to ours (:class:`analysis.data.schemas.PanelSchema`); ``recode`` maps
values column by column (after renaming); ``defaults`` fills a column the extract lacks with one
value, a choice the analyst makes explicitly and the manifest records. ``stable_employment`` and ``first_trained_year`` may be
omitted: they are derived from ``months_worked`` and ``trained``. The extract is validated with
the same schema and the same all-failures-at-once report as the ledger. Without a column map,
the seeded demonstration panel of :mod:`analysis.data.simulator` is generated instead, and
every page built from it says that it is simulated.

The panel is written partitioned by province (``panel/<code>.parquet``) so that a change in one
province's data rebuilds only that province's report and the national one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis import config
from analysis.data import schemas

COLUMN_MAP = "column_map.json"


class ColumnMapError(ValueError):
    """Raised when ``column_map.json`` is malformed or names a file that does not exist."""


def read_column_map(microdata_dir: Path) -> dict:
    path = microdata_dir / COLUMN_MAP
    try:
        column_map = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ColumnMapError(f"{path}: not valid JSON ({error})") from error
    missing = {"file", "columns"} - set(column_map)
    if missing:
        raise ColumnMapError(f"{path}: missing key(s) {sorted(missing)}; expected 'file', "
                             "'columns' and optionally 'recode'")
    if not (microdata_dir / column_map["file"]).exists():
        raise ColumnMapError(f"{path}: data file {column_map['file']!r} not found in "
                             f"{microdata_dir}")
    return column_map


def read_analyst_panel(microdata_dir: Path) -> tuple[pd.DataFrame, Path]:
    """The analyst's extract renamed, recoded and completed with derived columns."""
    column_map = read_column_map(microdata_dir)
    path = microdata_dir / column_map["file"]
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
        path, dtype={theirs: str for theirs, ours in column_map["columns"].items()
                     if ours == "province_code"})
    frame = frame.rename(columns=column_map["columns"])
    for column, value in column_map.get("defaults", {}).items():
        if column not in frame:
            frame[column] = value
    for column, mapping in column_map.get("recode", {}).items():
        if column in frame:
            frame[column] = frame[column].map(lambda value, m=mapping: m.get(str(value), value))
    if "stable_employment" not in frame and "months_worked" in frame:
        frame["stable_employment"] = pd.to_numeric(frame["months_worked"], errors="coerce") >= \
            config.STABLE_EMPLOYMENT_MIN_MONTHS
    if "first_trained_year" not in frame and {"trained", "person_id", "year"} <= set(frame):
        trained_years = frame["year"].where(frame["trained"].astype(bool))
        frame["first_trained_year"] = trained_years.groupby(frame["person_id"]).transform("min")
    return frame, path


def validate_panel(frame: pd.DataFrame, file: Path, provinces: list[str],
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate a panel lazily; failures are rows of (file, row, column, check, value)."""
    schema = schemas.PanelSchema.to_schema()
    schema = schema.update_column(
        "province_code", checks=[*schema.columns["province_code"].checks,
                                 pa.Check.isin(provinces, error="a known province code")])
    return schemas.validate_lazily(schema, frame, str(file))


def simulated_panel(figures: pd.DataFrame, provinces: pd.DataFrame, persons: int, seed: int,
                    years: tuple[int, int] = config.DEMO_YEARS):
    """The seeded demonstration panel, calibrated to the ledger (a ``SimulatedPanel``)."""
    from analysis.data import simulator

    targets = simulator.calibration_targets_from_ledger(figures)
    return simulator.simulate_panel(provinces, targets, n_persons=persons, years=years,
                                    seed=seed)


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


def panel_tables(microdata_dir: Path, figures: pd.DataFrame, provinces: pd.DataFrame,
                 persons: int, seed: int, years: tuple[int, int] = config.DEMO_YEARS,
                 ) -> tuple[dict[str, pd.DataFrame], dict, pd.DataFrame]:
    """(tables to write, manifest entry, validation failures) for the person-year panel.

    For the demonstration panel the tables are ``panel/<province>``, ``truth/<province>`` (the
    planted effects: one row per program and post-receipt person-year, see
    ``SimulatedPanel.truth``) and ``calibration``.
    """
    known = list(provinces["province_code"])
    if (microdata_dir / COLUMN_MAP).exists():
        frame, path = read_analyst_panel(microdata_dir)
        panel, failures = validate_panel(frame, path, known)
        if not failures.empty:
            return {}, {}, failures
        info = {"origin": "analyst", "file": path.name, "rows": len(panel),
                "column_map": read_column_map(microdata_dir)}
        return partition_by_province("panel", compact(panel)), info, failures
    simulated = simulated_panel(figures, provinces, persons, seed, years)
    panel, failures = validate_panel(simulated.panel, Path("simulated demonstration panel"), known)
    if not failures.empty:  # the simulator broke its own contract: a bug, not bad input
        raise AssertionError(f"simulated panel fails PanelSchema:\n{failures.head(20)}")
    tables = {**partition_by_province("panel", compact(panel)),
              **partition_by_province("truth", simulated.truth),
              "calibration": simulated.calibration}
    info = {"origin": "simulated", "seed": seed, "persons": persons, "years": list(years),
            "rows": len(panel), "truth_rows": len(simulated.truth),
            "parameters": simulated.parameters}
    return tables, info, failures


def read_partitions(processed_dir: Path, table: str,
                    province_code: str | None = None) -> pd.DataFrame | None:
    """A province-partitioned table (``panel``, ``truth``, ``projection``) of one province, or
    of all provinces; None when it has no partition."""
    pattern = f"{province_code}.parquet" if province_code else "*.parquet"
    files = sorted((Path(processed_dir) / table).glob(pattern))
    if not files:
        return None
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)


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
