"""An analyst's own extract: renamed, recoded, validated with the same all-failures report."""

import json
import shutil

import pytest

from analysis import config
from analysis.data import column_map, microdata
from analysis.data.ingest import IngestError, ingest

THEIR_NAMES = {"person_id": "pid", "household_id": "hh", "province_code": "prov",
               "county_id": "county", "female": "sex", "months_worked": "months"}


def _write_extract(raw_dir, processed_dir, mutate=None, *, sex=("F", "M"), encoding="utf-8",
                   parquet=False, **column_map_keys):
    """An extract in the analyst's own names and codes, made from the demonstration panel;
    ``column_map_keys`` are added to (or replace) the column map's keys."""
    panel = microdata.read_panel(processed_dir).head(3_000)
    extract = panel.drop(columns=["stable_employment", "first_trained_year",
                                  "employment_services"]).rename(columns=THEIR_NAMES)
    extract["sex"] = extract["sex"].map({True: sex[0], False: sex[1]})
    if mutate:
        mutate(extract)
    folder = raw_dir / "microdata"
    folder.mkdir()
    name = "extract.parquet" if parquet else "extract.csv"
    if parquet:
        extract.to_parquet(folder / name)
    else:
        extract.to_csv(folder / name, index=False, encoding=encoding)
    column_map = {
        "file": name,
        "columns": {theirs: ours for ours, theirs in THEIR_NAMES.items()},
        "recode": {"female": {sex[0]: True, sex[1]: False}},
        "defaults": {"employment_services": False},
        **({} if encoding == "utf-8" else {"encoding": encoding}),
        **column_map_keys,
    }
    (folder / microdata.COLUMN_MAP).write_text(json.dumps(column_map, ensure_ascii=False))
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
    found = {(row.column, row.ours, row.row) for row in failures.itertuples()}
    assert {("months", "months_worked", 5), ("age", "age", 7),
            ("prov", "province_code", 9)} <= found


def test_column_map_naming_a_missing_file_is_refused(raw_copy, tmp_path):
    folder = raw_copy / "microdata"
    folder.mkdir()
    (folder / microdata.COLUMN_MAP).write_text(json.dumps({"file": "nope.csv", "columns": {}}))
    with pytest.raises(IngestError) as caught:
        ingest(raw_copy, tmp_path / "processed")
    (failure,) = caught.value.records
    assert failure.file.endswith("column_map.json") and '"nope.csv"' in failure.found


def _failures(raw_dir, tmp_path) -> list:
    with pytest.raises(IngestError) as caught:
        ingest(raw_dir, tmp_path / "processed")
    return caught.value.records


def test_text_ids_become_stable_integers(raw_copy, processed_dir, tmp_path):
    def text_ids(extract):
        extract["pid"] = "P-" + extract["pid"].astype(str)
        extract["county"] = "C" + extract["county"].astype(str).str.zfill(8)

    original = _write_extract(raw_copy, processed_dir, text_ids, ids="text")
    ingest(raw_copy, tmp_path / "processed")
    loaded = microdata.read_panel(tmp_path / "processed")
    first = original.iloc[0]
    person = loaded[loaded["person_id"] == microdata.stable_integer(f"P-{first['person_id']}")]
    assert len(person) == (original["person_id"] == first["person_id"]).sum()
    assert loaded["county_id"].nunique() == original["county_id"].nunique()
    assert microdata.stable_integer("P-1") == microdata.stable_integer("P-1") >= 0


def test_ids_with_leading_zeros_need_ids_text(raw_copy, processed_dir, tmp_path):
    _write_extract(raw_copy, processed_dir,
                   lambda extract: extract.__setitem__("pid", extract["pid"].astype(str)
                                                       .str.zfill(9)))
    (failure,) = _failures(raw_copy, tmp_path)
    assert failure.column == "pid" and '"ids": "text"' in failure.action


def test_a_recode_must_list_every_value(raw_copy, processed_dir, tmp_path):
    def unlisted_value(extract):
        extract.loc[[4, 9, 11], "sex"] = "女"

    _write_extract(raw_copy, processed_dir, unlisted_value)
    (failure,) = _failures(raw_copy, tmp_path)
    assert (failure.column, failure.ours, failure.found) == ("sex", "female", '"女"')
    assert failure.count == 3 and failure.rows == (6, 11, 13)
    assert '"F", "M"' in failure.expected


def test_empty_cells_may_be_recoded(raw_copy, processed_dir, tmp_path):
    def services_sometimes_blank(extract):
        extract["services"] = ["" if index % 2 else "1" for index in extract.index]

    columns = {theirs: ours for ours, theirs in THEIR_NAMES.items()}
    _write_extract(raw_copy, processed_dir, services_sometimes_blank, defaults={},
                   columns={**columns, "services": "employment_services"},
                   recode={"female": {"F": True, "M": False},
                           "employment_services": {"": False, "1": True}})
    ingest(raw_copy, tmp_path / "processed")
    loaded = microdata.read_panel(tmp_path / "processed")
    assert 0 < loaded["employment_services"].mean() < 1


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_named_encoding_and_byte_order_mark_are_read(raw_copy, processed_dir, tmp_path,
                                                     encoding):
    _write_extract(raw_copy, processed_dir, sex=("女", "男"), encoding=encoding)
    ingest(raw_copy, tmp_path / "processed")
    assert microdata.read_panel(tmp_path / "processed")["female"].any()


def test_parquet_extract_is_read_with_the_same_rules(raw_copy, processed_dir, tmp_path):
    original = _write_extract(raw_copy, processed_dir, parquet=True)
    ingest(raw_copy, tmp_path / "processed")
    assert len(microdata.read_panel(tmp_path / "processed")) == len(original)


def test_a_file_without_column_map_is_an_error_not_the_simulated_panel(raw_copy, tmp_path):
    folder = raw_copy / "microdata"
    folder.mkdir()
    (folder / "extract.csv").write_text("pid\n1\n")
    (folder / "columns_map.json").write_text("{}")
    (failure,) = _failures(raw_copy, tmp_path)
    assert "rename it column_map.json" in failure.action and "columns_map.json" in failure.found


def test_readme_and_example_alone_give_the_simulated_panel(tmp_path):
    folder = tmp_path / "microdata"
    folder.mkdir()
    (folder / "README.md").write_text("how to")
    (folder / "column_map.example.json").write_text("{}")
    assert not microdata.has_analyst_files(folder)


def test_demonstration_panel_is_partitioned_by_province(processed_dir):
    files = sorted(path.stem for path in (processed_dir / "panel").glob("*.parquet"))
    assert len(files) == 22
    for code in files[:3]:
        assert set(microdata.read_panel(processed_dir, code)["province_code"]) == {code}
    manifest = json.loads((processed_dir / "manifest.json").read_text())
    assert manifest["panel"]["origin"] == "simulated"


def test_the_example_column_map_is_valid(tmp_path):
    shutil.copy(config.MICRODATA_DIR / column_map.EXAMPLE, tmp_path / column_map.NAME)
    example = json.loads((tmp_path / column_map.NAME).read_text(encoding="utf-8"))
    (tmp_path / example["file"]).write_text("")
    checked = column_map.read_column_map(tmp_path)
    assert checked.ids == "text" and checked.recode["female"] == {"女": "true", "男": "false"}


def test_extracts_are_git_ignored_but_the_instructions_are_not():
    lines = (config.PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "data/raw/microdata/*" in lines
    assert {"!data/raw/microdata/README.md", "!data/raw/microdata/column_map.example.json"} <= \
        set(lines)
    assert set(microdata.NOT_DATA) == {"README.md", column_map.EXAMPLE}
