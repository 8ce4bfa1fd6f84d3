"""ingest: all failures at once, nothing written on failure, hashes in the manifest."""

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis import cli, config
from analysis.data.ingest import IngestError, ingest


def _tree_digest(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def _break_ledger(raw_dir: Path) -> None:
    path = raw_dir / "published_figures.csv"
    figures = pd.read_csv(path, dtype=str, keep_default_na=False)
    figures.loc[0, "value"] = "14"  # YN-01 "13 measures"
    figures.loc[5, "scope"] = "99"  # unknown province
    figures.loc[7, "quote"] = "A sentence that is in no source document at all."
    figures.to_csv(path, index=False)


def test_success_writes_tables_and_manifest_with_true_hashes(raw_copy, tmp_path):
    processed = tmp_path / "processed"
    manifest = ingest(raw_copy, processed, persons=2_000)
    on_disk = json.loads((processed / config.MANIFEST_NAME).read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    for relative, entry in manifest["outputs"].items():
        digest = hashlib.sha256((processed / relative).read_bytes()).hexdigest()
        assert digest == entry["sha256"], relative
    ledger_csv = raw_copy / "published_figures.csv"
    input_digests = {Path(key).name: value for key, value in manifest["inputs"].items()}
    assert input_digests["published_figures.csv"] == hashlib.sha256(
        ledger_csv.read_bytes()).hexdigest()
    figures = pd.read_parquet(processed / "figures.parquet")
    assert len(figures) == len(pd.read_csv(ledger_csv))


def test_failure_reports_every_problem_and_leaves_processed_untouched(raw_copy, tmp_path):
    processed = tmp_path / "processed"
    ingest(raw_copy, processed, persons=2_000)
    before = _tree_digest(processed)
    _break_ledger(raw_copy)
    with pytest.raises(IngestError) as caught:
        ingest(raw_copy, processed, persons=2_000)
    failures = caught.value.failures
    assert _tree_digest(processed) == before
    assert {"file", "row", "column", "ours", "check", "value", "expected", "action",
            "sentence"} <= set(failures.columns)
    assert failures["file"].str.endswith("published_figures.csv").all()
    by_column = failures.groupby("column")["row"].apply(set)
    assert 2 in by_column["value"]  # data row 0 is CSV line 2
    assert 7 in by_column["scope"]
    assert 9 in by_column["quote"]
    assert not any(path.name.startswith(".processed-") for path in tmp_path.iterdir())


def test_cli_exits_nonzero_and_prints_the_failure_table(raw_copy, tmp_path, monkeypatch, capsys):
    _break_ledger(raw_copy)
    monkeypatch.setattr(config, "RAW_DIR", raw_copy)
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    status = cli.main(["ingest", "--persons", "2000"])
    error_output = capsys.readouterr().err
    assert status != 0
    assert "published_figures.csv" in error_output and "scope" in error_output
    assert not (tmp_path / "processed").exists()


def test_missing_raw_file_is_named(raw_copy, tmp_path):
    (raw_copy / "provinces.csv").unlink()
    with pytest.raises(IngestError) as caught:
        ingest(raw_copy, tmp_path / "processed")
    (sentence,) = caught.value.failures["sentence"]
    assert "provinces.csv: found no such file" in sentence


def test_every_failure_is_a_sentence_with_file_line_column_and_action(raw_copy, tmp_path):
    _break_ledger(raw_copy)
    with pytest.raises(IngestError) as caught:
        ingest(raw_copy, tmp_path / "processed")
    sentences = list(caught.value.failures["sentence"])
    scope = next(sentence for sentence in sentences if 'column "scope"' in sentence)
    assert scope.startswith(config.display_path(raw_copy / "published_figures.csv") + ", line 7")
    assert 'found "99"; expected "national" or a province code' in scope
    assert scope.endswith("or national.")


def test_a_ledger_without_the_figures_the_analysis_needs_is_named(raw_copy, tmp_path):
    path = raw_copy / "published_figures.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:4]), encoding="utf-8")  # three valid Yunnan rows
    with pytest.raises(IngestError) as caught:
        ingest(raw_copy, tmp_path / "processed", persons=200)
    (failure,) = caught.value.records
    assert failure.file.endswith("published_figures.csv") and "no actual figure" in failure.found


def test_cli_writes_every_failure_beside_processed_and_removes_the_list_on_success(
        raw_copy, tmp_path, capsys):
    processed = tmp_path / "out" / "processed"
    _break_ledger(raw_copy)
    assert cli.main(["ingest", "--raw", str(raw_copy), "--processed", str(processed)]) == 1
    listed = pd.read_csv(tmp_path / "out" / "ingest_failures.csv", encoding="utf-8-sig")
    assert "ingest_failures.csv" in capsys.readouterr().err
    assert set(listed["column"]) >= {"value", "scope", "quote"}
    shutil.copy(config.LEDGER_CSV, raw_copy / "published_figures.csv")
    assert cli.main(["ingest", "--raw", str(raw_copy), "--processed", str(processed),
                     "--persons", "200"]) == 0
    assert not (tmp_path / "out" / "ingest_failures.csv").exists()
