"""Every path, default and seed of the project, derived from the project root.

Functions elsewhere take paths as arguments with these as defaults, so tests can point a stage at a
temporary copy of the tree without touching the real one.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

RAW_DIR = PROJECT_ROOT / "data" / "raw"
SOURCES_DIR = RAW_DIR / "sources"
SOURCES_CSV = RAW_DIR / "sources.csv"
PROVINCES_CSV = RAW_DIR / "provinces.csv"
LEDGER_CSV = RAW_DIR / "published_figures.csv"
MICRODATA_DIR = RAW_DIR / "microdata"
DEHEJIA_WAHBA_TABLE3_CSV = RAW_DIR / "benchmarks" / "dehejia_wahba_1999_table3.csv"
MPDTA_CSV = RAW_DIR / "benchmarks" / "mpdta.csv"
MPDTA_PRINTED_CSV = RAW_DIR / "benchmarks" / "mpdta_did_printed.csv"

PROCESSED_DIR = PROJECT_ROOT / "data" / "processed"
MANIFEST_NAME = "manifest.json"

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORTS_DIR = PROJECT_ROOT / "reports"
REPORT_NOTEBOOKS_DIR = REPORTS_DIR / "notebooks"
RESULTS_DIR = REPORTS_DIR / "results"
BENCHMARK_RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
# What make benchmark writes and the methods page shows (part of the methods unit's key).
METHODS_BENCHMARKS = ("fleet.json", "build_scale.json", "ingest.json")
SITE_DIR = REPORTS_DIR / "site"
# Committed: the numbers every page publishes (`python -m analysis verify --update`).
REFERENCE_NUMBERS = REPORTS_DIR / "reference" / "numbers.json"
# Written by every build: the replication package (data, software, seeds, outputs).
REPLICATION_MD = REPORTS_DIR / "REPLICATION.md"

NATIONAL_UNIT = "national"

# The demonstration panel is seeded so that every build on every machine draws the same data.
DEMO_SEED = 20201231
DEMO_YEARS = (2016, 2020)
DEMO_PERSONS = 30_000
# Rows of an analyst's extract read at a time: memory holds one chunk as text, besides one
# province of the panel.
INGEST_CHUNK_ROWS = 100_000



def display_path(path: Path) -> str:
    """A path as messages show it: relative to the project when inside it.

    Links inside the project are kept (``data/processed``, not the version it links to).
    """
    for candidate in (Path(path).absolute(), Path(path).resolve()):
        try:
            return str(candidate.relative_to(PROJECT_ROOT))
        except ValueError:
            continue
    return str(path)


# "More than half a year" of work: the sources' notion of stable employment.
STABLE_EMPLOYMENT_MIN_MONTHS = 6
