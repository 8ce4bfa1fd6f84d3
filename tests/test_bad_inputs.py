"""Bad inputs, one test each: ``python -m analysis ingest`` run the way an analyst runs it.

Each case copies data/raw to a temporary folder, puts one file of the corpus in
``tests/bad_inputs/`` (or a file made from one: GBK bytes, a NUL byte, a truncated Parquet file)
in place of a raw input, and runs the command in a subprocess. The command must exit with 1,
print no traceback, name the file and the column (the analyst's name, ours beside it) in a
sentence, and leave the processed folder byte for byte as it was. ``tests/bad_inputs/README.md``
describes the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from analysis import config

CORPUS = Path(__file__).parent / "bad_inputs"
PERSONS = "200"  # the simulated panel of the cases that get as far as building it


def run_ingest(raw: Path, processed: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "ingest", "--raw", str(raw), "--processed",
         str(processed), "--persons", PERSONS],
        capture_output=True, text=True, cwd=raw.parent, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})


def tree_digest(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (links followed) with its sha256."""
    digests = {}
    for folder, _, files in os.walk(directory, followlinks=True):
        for name in files:
            path = Path(folder) / name
            digests[str(path.relative_to(directory))] = hashlib.sha256(
                path.read_bytes()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    """A processed folder written by a successful ingest, which every case must leave alone."""
    root = tmp_path_factory.mktemp("ingested")
    raw = root / "raw"
    shutil.copytree(config.RAW_DIR, raw, ignore=shutil.ignore_patterns("microdata"))
    result = run_ingest(raw, root / "processed")
    assert result.returncode == 0, result.stderr
    return root / "processed"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(config.RAW_DIR, target, ignore=shutil.ignore_patterns("microdata"))
    return target


# How each case puts its bad input into a copy of data/raw.

def ledger(name: str) -> Callable[[Path], None]:
    return lambda raw: shutil.copy(CORPUS / "ledger" / name, raw / "published_figures.csv")


def table(folder: str, name: str, target: str) -> Callable[[Path], None]:
    return lambda raw: shutil.copy(CORPUS / folder / name, raw / target)


def extract(name: str = "valid.csv", column_map: str | None = "column_map.json",
            as_name: str = "extract.csv") -> Callable[[Path], None]:
    def put(raw: Path) -> None:
        folder = raw / "microdata"
        folder.mkdir(exist_ok=True)
        shutil.copy(CORPUS / "microdata" / name, folder / as_name)
        if column_map:
            shutil.copy(CORPUS / "microdata" / column_map, folder / "column_map.json")
    return put


def ledger_bytes(change: Callable[[str], bytes]) -> Callable[[Path], None]:
    def put(raw: Path) -> None:
        text = (CORPUS / "ledger" / "valid.csv").read_text(encoding="utf-8")
        (raw / "published_figures.csv").write_bytes(change(text))
    return put


def with_nul_byte(text: str) -> bytes:
    return text.replace("Number of measures", "Number of\x00measures").encode("utf-8")


def gbk_extract(raw: Path) -> None:
    """The valid extract as Excel saves it on Chinese Windows, with 是/否 for trained."""
    extract()(raw)
    path = raw / "microdata" / "extract.csv"
    text = path.read_text(encoding="utf-8").replace(",yes,", ",是,").replace(",no,", ",否,")
    path.write_bytes(text.encode("gbk"))
    column_map = json.loads((raw / "microdata" / "column_map.json").read_text())
    column_map["recode"]["trained"] = {"是": True, "否": False}
    (raw / "microdata" / "column_map.json").write_text(json.dumps(column_map, ensure_ascii=False))


def gbk_column_map(raw: Path) -> None:
    extract()(raw)
    path = raw / "microdata" / "column_map.json"
    column_map = json.loads(path.read_text())
    column_map["recode"]["trained"] = {"是": True, "否": False}
    path.write_bytes(json.dumps(column_map, ensure_ascii=False).encode("gbk"))


def truncated_parquet(raw: Path) -> None:
    extract()(raw)
    folder = raw / "microdata"
    pd.read_csv(folder / "extract.csv", dtype=str).to_parquet(folder / "extract.parquet")
    data = (folder / "extract.parquet").read_bytes()
    (folder / "extract.parquet").write_bytes(data[:len(data) // 2])
    (folder / "extract.csv").unlink()
    column_map = json.loads((folder / "column_map.json").read_text())
    column_map["file"] = "extract.parquet"
    (folder / "column_map.json").write_text(json.dumps(column_map))


def missing_data_file(raw: Path) -> None:
    extract()(raw)
    (raw / "microdata" / "extract.csv").rename(raw / "microdata" / "extract_2020.csv")


@dataclass(frozen=True)
class Case:
    """A bad input and the sentence it must produce: ``words`` from it, and the file and
    column (as the message shows it) it names."""

    name: str
    put: Callable[[Path], None]
    words: str
    file: str
    column: str | None


LEDGER = "published_figures.csv"
CASES = [
    Case("ledger_non_number", ledger("non_number.csv"), 'found "thirteen"; expected a number',
         LEDGER, "value"),
    Case("ledger_percent_above_100", ledger("percent_above_100.csv"),
         "expected percent within 0-100", LEDGER, "value"),
    Case("ledger_negative_count", ledger("negative_count.csv"), 'found "-13"', LEDGER, "value"),
    Case("ledger_unknown_scope", ledger("unknown_scope.csv"), 'found "99"', LEDGER, "scope"),
    Case("ledger_duplicate_id", ledger("duplicate_id.csv"), '"YN-01" on 2 rows', LEDGER,
         "figure_id"),
    Case("ledger_quote_without_value", ledger("quote_without_value.csv"),
         "value_as_written appears verbatim in quote", LEDGER, "value_as_written"),
    Case("ledger_missing_column", ledger("missing_column.csv"), "found no such column",
         LEDGER, "unit"),
    Case("ledger_extra_column", ledger("extra_column.csv"), "not part of the ledger", LEDGER,
         "comment"),
    Case("ledger_empty_file", ledger("empty.csv"), "found an empty file", LEDGER, None),
    Case("ledger_header_only", ledger("header_only.csv"), "no data rows", LEDGER, None),
    Case("ledger_gbk", ledger_bytes(lambda text: text.encode("gbk")), "GB18030/GBK", LEDGER,
         None),
    Case("ledger_nul_byte", ledger_bytes(with_nul_byte), r"Number of\x00measures", LEDGER,
         "description"),
    Case("provinces_duplicate", table("provinces", "duplicate.csv", "provinces.csv"),
         '"53" on 2 rows', "provinces.csv", "province_code"),
    Case("provinces_malformed_code", table("provinces", "malformed_code.csv", "provinces.csv"),
         'found "530"', "provinces.csv", "province_code"),
    Case("provinces_missing_rows", table("provinces", "missing_rows.csv", "provinces.csv"),
         "no row for code 54, 65", "provinces.csv", "province_code"),
    Case("sources_missing_document", table("sources", "missing_document.csv", "sources.csv"),
         'found "chongqing_plan_2012.txt"', "sources.csv", "file"),
    Case("sources_unknown_id", table("sources", "unknown_id_in_ledger.csv", LEDGER),
         'found "yunnan_opinions_2021"', LEDGER, "source_id"),
    Case("microdata_out_of_range", extract("out_of_range.csv"), 'found "12"', "extract.csv",
         "age"),
    Case("microdata_duplicate_person_year", extract("duplicate_person_year.csv"),
         "one row per person_id and year", "extract.csv", '"pid" (our person_id)'),
    Case("microdata_unknown_province", extract("unknown_province.csv"), 'found "Yunnan"',
         "extract.csv", '"prov" (our province_code)'),
    Case("microdata_text_in_number", extract("text_in_number.csv"), 'found "31,000"',
         "extract.csv", '"wage" (our wage_income)'),
    Case("microdata_empty_cells", extract("empty_cells.csv"), "found an empty cell",
         "extract.csv", "age"),
    Case("microdata_unmapped_value", extract("unmapped_value.csv"), 'found "maybe"',
         "extract.csv", "trained"),
    Case("microdata_yes_no_without_recode",
         extract(column_map="column_map_without_trained_recode.json"), 'found "yes"',
         "extract.csv", "trained"),
    Case("microdata_missing_column", extract("missing_column.csv"), "found no such column",
         "extract.csv", "age"),
    Case("microdata_truncated_parquet", truncated_parquet, "not readable Parquet",
         "extract.parquet", None),
    Case("microdata_empty_csv", extract("empty.csv"), "found an empty file", "extract.csv",
         None),
    Case("microdata_gbk_csv", gbk_extract, "GB18030/GBK", "extract.csv", None),
    Case("column_map_not_json", extract(column_map="column_map_not_json.json"),
         "not JSON", "column_map.json", None),
    Case("column_map_names_a_missing_column",
         extract(column_map="column_map_names_a_missing_column.json"),
         '"month", which extract.csv does not have', "column_map.json", None),
    Case("column_map_gbk", gbk_column_map, "GB18030/GBK", "column_map.json", None),
    Case("column_map_missing_data_file", missing_data_file, '"extract.csv", which is not a file',
         "column_map.json", None),
    Case("microdata_without_column_map", extract(column_map=None), "but no column_map.json",
         "microdata/", None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_gives_a_sentence_and_changes_nothing(case, raw, processed):
    case.put(raw)
    before = tree_digest(processed)
    result = run_ingest(raw, processed)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    sentences = [line for line in output.splitlines() if case.words in line]
    assert sentences, output
    assert case.file in sentences[0], sentences[0]
    if case.column:
        assert f"column {case.column}" in sentences[0] or \
            f'column "{case.column}"' in sentences[0], sentences[0]
    assert tree_digest(processed) == before
    listed = pd.read_csv(processed.parent / "ingest_failures.csv", encoding="utf-8-sig")
    assert listed["sentence"].str.contains(case.words, regex=False).any()


@pytest.mark.parametrize("change", [
    pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"), id="bom"),
    pytest.param(lambda text: text.replace("\n", "\r\n").encode("utf-8"), id="crlf"),
])
def test_ledger_saved_with_bom_or_crlf_is_accepted(change, raw, tmp_path):
    path = raw / LEDGER
    path.write_bytes(change(path.read_text(encoding="utf-8")))
    result = run_ingest(raw, tmp_path / "processed")
    assert result.returncode == 0, result.stderr
    figures = pd.read_parquet(tmp_path / "processed" / "figures.parquet")
    assert list(figures.columns)[0] == "figure_id"
    assert figures["quote"].str.contains("\r").sum() == 0


def test_valid_extract_in_the_analysts_own_names_is_accepted(raw, tmp_path):
    extract()(raw)
    result = run_ingest(raw, tmp_path / "processed")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "processed" / config.MANIFEST_NAME).read_text())
    assert manifest["panel"]["origin"] == "analyst"
    assert (tmp_path / "processed" / "panel" / "53.parquet").exists()


def test_many_failures_come_with_a_summary_cells_first_and_a_full_list(raw, processed):
    """The issue's case: one province written as a name breaks a county-wide rule for every
    row of that county; the cell is named first and the rule is not blamed on other rows."""
    panel = pd.read_parquet(processed / "panel" / "53.parquet")
    panel["province_code"] = panel["province_code"].astype(str)
    panel.loc[panel.index[:3], "province_code"] = "Yunnan"
    panel.loc[panel.index[3:20], "age"] = 99
    folder = raw / "microdata"
    folder.mkdir()
    panel.to_csv(folder / "extract.csv", index=False)
    (folder / "column_map.json").write_text(json.dumps({"file": "extract.csv", "columns": {}}))
    result = run_ingest(raw, processed)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    blocks = result.stderr.split("\n\n")
    assert blocks[1].startswith("Summary")
    assert "age" in blocks[1] and "province_code" in blocks[1]
    assert "a county lies in one province" not in result.stderr
    sentences = [line for line in result.stderr.splitlines() if line.startswith("- ")]
    assert 'found "Yunnan"' in sentences[0] and "line 2," in sentences[0]
    listed = pd.read_csv(processed.parent / "ingest_failures.csv", encoding="utf-8-sig")
    assert len(listed) == 20 and listed["row"].notna().all()
