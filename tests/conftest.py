"""Shared fixtures: a private copy of data/raw and a processed tree built from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis import config

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def raw_copy(tmp_path: Path) -> Path:
    """A writable copy of data/raw (without analyst microdata)."""
    target = tmp_path / "raw"
    shutil.copytree(config.RAW_DIR, target, ignore=shutil.ignore_patterns("microdata"))
    return target


@pytest.fixture(scope="session")
def raw_ledger() -> pd.DataFrame:
    return pd.read_csv(config.LEDGER_CSV, dtype={"scope": str, "period": str,
                                                 "value_as_written": str})


@pytest.fixture(scope="session")
def processed_dir(tmp_path_factory) -> Path:
    """data/processed built once per test session from the committed raw data."""
    from analysis.data.ingest import ingest

    target = tmp_path_factory.mktemp("processed") / "processed"
    ingest(config.RAW_DIR, target, persons=6_000)
    return target


@pytest.fixture(scope="session")
def ledger(processed_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(processed_dir / "figures.parquet")
