"""An analyst's own extract: renamed, recoded, validated with the same all-failures report."""

import json

import pytest

from analysis.data import microdata
from analysis.data.ingest import IngestError, ingest

THEIR_NAMES = {"person_id": "pid", "household_id": "hh", "province_code": "prov",
               "county_id": "county", "female": "sex", "months_worked": "months"}


def _write_extract(raw_dir, processed_dir, mutate=None):
    """An extract in the analyst's own names and codes, made from the demonstration panel."""
    panel = microdata.read_panel(processed_dir).head(3_000)
    extract = panel.drop(columns=["stable_employment", "first_trained_year",
                                  "employment_services"]).rename(columns=THEIR_NAMES)
    extract["sex"] = extract["sex"].map({True: "F", False: "M"})
    if mutate:
        mutate(extract)
    folder = raw_dir / "microdata"
    folder.mkdir()
    extract.to_csv(folder / "extract.csv", index=False)
    (folder / microdata.COLUMN_MAP).write_text(json.dumps({
        "file": "extract.csv",
        "columns": {theirs: ours for ours, theirs in THEIR_NAMES.items()},
        "recode": {"female": {"F": True, "M": False}},
        "defaults": {"employment_services": False},
    }))
    return panel


def test_analyst_extract_replaces_the_demonstration_panel(raw_copy, processed_dir, tmp_path):
    original = _write_extract(raw_copy, processed_dir)
    manifest = ingest(raw_copy, tmp_path / "processed")
    assert manifest["panel"]["origin"] == "analyst"
    assert not (tmp_path / "processed" / "truth").exists()
    loaded = microdata.read_panel(tmp_path / "processed")
    assert len(loaded) == len(original)
    merged = loaded.merge(original, on=["person_id", "year"], suffixes=("", "_original"))
    assert (merged["female"] == merged["female_original"]).all()
    assert (merged["stable_employment"] == merged["stable_employment_original"]).all()
    first = merged["first_trained_year"].fillna(0) == merged["first_trained_year_original"].fillna(0)
    # Derived from `trained` within the extract: equal wherever the extract covers the first year.
    assert first.mean() > 0.95


def test_bad_extract_lists_every_failure_and_writes_nothing(raw_copy, processed_dir, tmp_path):
    def break_rows(extract):
        extract.loc[3, "months"] = 14
        extract.loc[5, "age"] = 12
        extract.loc[7, "prov"] = "99"

    _write_extract(raw_copy, processed_dir, break_rows)
    with pytest.raises(IngestError) as caught:
        ingest(raw_copy, tmp_path / "processed")
    failures = caught.value.failures
    assert not (tmp_path / "processed").exists()
    assert failures["file"].str.endswith("extract.csv").all()
    found = {(row.column, row.row) for row in failures.itertuples()}
    assert {("months_worked", 5), ("age", 7), ("province_code", 9)} <= found


def test_column_map_naming_a_missing_file_is_refused(raw_copy, tmp_path):
    folder = raw_copy / "microdata"
    folder.mkdir()
    (folder / microdata.COLUMN_MAP).write_text(json.dumps({"file": "nope.csv", "columns": {}}))
    with pytest.raises(microdata.ColumnMapError, match="nope.csv"):
        ingest(raw_copy, tmp_path / "processed")


def test_demonstration_panel_is_partitioned_by_province(processed_dir):
    files = sorted(path.stem for path in (processed_dir / "panel").glob("*.parquet"))
    assert len(files) == 22
    for code in files[:3]:
        assert set(microdata.read_panel(processed_dir, code)["province_code"]) == {code}
    manifest = json.loads((processed_dir / "manifest.json").read_text())
    assert manifest["panel"]["origin"] == "simulated"
