"""Registry-scale ingest: an extract read in chunks gives what reading it whole gives, the
demonstration panel is simulated county by county, and both run the same on a Dask cluster.

Every comparison is between two ways of doing the same work (whole and chunked, local and on
Dask, one batching and another), never against numbers the code once produced.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import cli, config
from analysis.data import microdata, reading, simulator
from analysis.data.ingest import IngestError, ingest
from analysis.data.simulator import layout
from analysis.data.simulator.panel import plan_simulation, simulate_province
from analysis.data.simulator.population import draw_county
from analysis.data.simulator.selection import kth_smallest

THEIR_NAMES = {"person_id": "pid", "household_id": "hh", "province_code": "prov",
               "county_id": "county", "female": "sex", "months_worked": "months"}
CHUNK = 23  # rows: every file is read in many chunks
PROVINCES = ["45", "52", "53", "62"]


@pytest.fixture(scope="module")
def extract(processed_dir) -> pd.DataFrame:
    """About 900 person-years of four provinces in the analyst's names, provinces and persons
    interleaved as in a real export (so every chunk and file holds several provinces)."""
    panel = microdata.read_panel(processed_dir)
    persons = panel.loc[panel["province_code"].isin(PROVINCES), "person_id"].unique()[::8]
    rows = panel[panel["person_id"].isin(persons)]
    frame = rows.drop(columns=["stable_employment", "first_trained_year",
                               "employment_services"]).rename(columns=THEIR_NAMES)
    frame["sex"] = frame["sex"].map({True: "F", False: "M"})
    frame = frame.astype({"wage_income": object, "prov": object, "months": object, "age": object,
                          "year": object})
    return frame.sample(frac=1, random_state=5).reset_index(drop=True)


def write_extract(raw: Path, frame: pd.DataFrame, *, parts: int = 3, parquet: bool = False,
                  **column_map) -> list[Path]:
    """The extract split into ``parts`` files of a sub-folder, with its column map."""
    folder = raw / "microdata"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "parts").mkdir(parents=True)
    paths = []
    for k in range(parts):
        piece = frame.iloc[len(frame) * k // parts:len(frame) * (k + 1) // parts]
        path = folder / "parts" / f"part{k}.{'parquet' if parquet else 'csv'}"
        if parquet:
            piece.astype({name: str for name in piece.columns if piece[name].dtype == object}
                         ).to_parquet(path, index=False)
        else:
            piece.to_csv(path, index=False)
        paths.append(path)
    written = {"file": "parts", "columns": {theirs: ours for ours, theirs in THEIR_NAMES.items()},
               "recode": {"female": {"F": True, "M": False}},
               "defaults": {"employment_services": False}, **column_map}
    (folder / "column_map.json").write_text(json.dumps(written))
    return paths


def run(raw: Path, out: Path, **options):
    """("ok", manifest, folder) or ("failed", failure records)."""
    try:
        return "ok", ingest(raw, out / "processed", **options), out / "processed"
    except IngestError as error:
        return "failed", error.records


def assert_same_tables(whole, chunked) -> None:
    assert whole[0] == chunked[0] == "ok"
    assert sorted(whole[1]["outputs"]) == sorted(chunked[1]["outputs"])
    assert whole[1]["panel"] == chunked[1]["panel"]
    for name in whole[1]["outputs"]:
        pd.testing.assert_frame_equal(pd.read_parquet(whole[2] / name),
                                      pd.read_parquet(chunked[2] / name), obj=name)


def failures_in_both_modes(raw: Path, tmp_path: Path) -> list:
    whole = run(raw, tmp_path / "whole", chunk_rows=None)
    chunked = run(raw, tmp_path / "chunked", chunk_rows=CHUNK)
    assert whole[0] == chunked[0] == "failed"
    assert chunked[1] == whole[1]
    return chunked[1]


# ----------------------------------------------------------------------------------------------
# An extract read in chunks


@pytest.mark.parametrize("parts, parquet, ids", [(3, False, "integers"), (2, True, "integers"),
                                                 (1, False, "text")],
                         ids=["csv-3-files", "parquet-2-files", "one-csv-text-ids"])
def test_chunks_give_the_tables_of_reading_whole(extract, raw_copy, tmp_path, parts, parquet,
                                                 ids):
    frame = extract.copy()
    if ids == "text":
        frame["pid"] = "P-" + frame["pid"].astype(str)
        frame["county"] = "C" + frame["county"].astype(str)
    write_extract(raw_copy, frame, parts=parts, parquet=parquet, ids=ids)
    whole = run(raw_copy, tmp_path / "whole", chunk_rows=None)
    chunked = run(raw_copy, tmp_path / "chunked", chunk_rows=CHUNK)
    assert_same_tables(whole, chunked)
    panel = microdata.read_panel(chunked[2])
    assert len(panel) == len(extract) and set(panel["province_code"]) == set(PROVINCES)
    # first_trained_year is derived from every row of the person, wherever the rows are.
    trained = panel[panel["trained"]].groupby("person_id")["year"].min()
    expected = panel["person_id"].map(trained).fillna(0).to_numpy()
    assert (panel["first_trained_year"].fillna(0).to_numpy() == expected).all()


def _rows_of(frame: pd.DataFrame, parts: int) -> dict[int, tuple[int, int]]:
    """Each row's (file, line) when split like :func:`write_extract` (CSV: the header is
    line 1)."""
    places = {}
    for k in range(parts):
        start, stop = len(frame) * k // parts, len(frame) * (k + 1) // parts
        places.update({row: (k, row - start + 2) for row in range(start, stop)})
    return places


def test_a_broken_extract_gives_the_same_failures_in_chunks(extract, raw_copy, tmp_path):
    frame = extract.copy()
    last = len(frame) - 1
    frame.loc[last] = frame.loc[0]  # a person-year again, in the last file
    moved = frame.index[frame["pid"] == frame.loc[1, "pid"]][-1]
    frame.loc[moved, "hh"] = 987654  # one of the person's rows in another household
    other = frame.loc[frame["prov"] != frame.loc[2, "prov"]].iloc[-1]
    frame.loc[2, "county"] = other["county"]  # the county now lies in two provinces
    frame.loc[5, "age"] = 12  # a cell out of range
    frame.loc[[7, 400, 700], "sex"] = "女"  # a value the recode does not list, in every file
    wages = range(10, 10 + 11 * 40, 40)
    for k, row in enumerate(wages):  # 11 distinct unreadable values
        frame.loc[row, "wage_income"] = f"{k + 1},000"
    frame.loc[9, "months"] = ""  # an empty cell
    failing_cells = {5, 7, 400, 700, 9, *wages}  # rules skip these rows
    write_extract(raw_copy, frame)
    failures = failures_in_both_modes(raw_copy, tmp_path)

    place = _rows_of(frame, 3)
    files = {failure.file for failure in failures}
    assert len(files) == 3
    key = [f for f in failures if f.check == "one row per person_id and year"]
    assert {(Path(f.file).stem, f.rows) for f in key} == {
        (f"part{place[row][0]}", (place[row][1],)) for row in (0, last)}
    household = {(Path(f.file).stem, f.rows[0]) for f in failures
                 if f.check == "a person belongs to one household in every year"}
    person_rows = frame.index[frame["pid"] == frame.loc[moved, "pid"]]
    assert household >= {(f"part{place[row][0]}", place[row][1]) for row in person_rows
                         if row not in (0, last)}
    assert len({stem for stem, _ in household}) >= 2 or len(person_rows) < 3
    county = [f for f in failures if f.check == "a county lies in one province"]
    in_county = frame.index[frame["county"] == frame.loc[2, "county"]]
    assert len(county) == len(set(in_county) - failing_cells)
    assert len({f.file for f in county}) >= 2
    age = next(f for f in failures if f.column == "age")
    assert (Path(age.file).stem, age.rows, age.found) == (f"part{place[5][0]}", (place[5][1],),
                                                          '"12"')
    unlisted = [f for f in failures if f.check == "not listed in the recode"]
    assert sum(f.count for f in unlisted) == 3 and len(unlisted) == 3
    wages = [f for f in failures if f.column == "wage_income" and f.level == "cell"]
    assert '3 other unreadable values' in {f.found for f in wages}
    assert any(f.found == "an empty cell" and f.column == "months" for f in failures)


def test_a_person_in_two_provinces_is_checked_across_them(extract, raw_copy, tmp_path):
    frame = extract.copy()
    person = frame.loc[0, "pid"]
    elsewhere = frame[frame["prov"] != frame.loc[0, "prov"]].iloc[0]
    row = frame.index[frame["pid"] == person][-1]
    frame.loc[row, ["prov", "county", "year"]] = [elsewhere["prov"], elsewhere["county"],
                                                  frame.loc[0, "year"]]
    write_extract(raw_copy, frame, parts=2)
    failures = failures_in_both_modes(raw_copy, tmp_path)
    key = [f for f in failures if f.check == "one row per person_id and year"]
    assert sum(f.count for f in key) == 2 and f'pid="{person}"' in key[0].found


def test_a_derived_first_training_before_2000_fails_on_every_row_of_the_person(
        extract, raw_copy, tmp_path):
    frame = extract.copy()
    person = frame.loc[3, "pid"]
    frame.loc[3, ["year", "trained"]] = [1990, True]
    write_extract(raw_copy, frame)
    failures = failures_in_both_modes(raw_copy, tmp_path)
    derived = [f for f in failures if f.ours == "first_trained_year"]
    assert len(derived) == (frame["pid"] == person).sum()
    assert {f.found for f in derived} == {'"1990"'}


def test_a_file_that_cannot_be_read_is_reported_alone(extract, raw_copy, tmp_path):
    paths = write_extract(raw_copy, extract)
    lines = paths[1].read_text().splitlines(keepends=True)
    lines[-5] = lines[-5].rstrip("\n") + ",surplus\n"  # a line with one cell too many
    paths[1].write_text("".join(lines))
    (failure,) = failures_in_both_modes(raw_copy, tmp_path)
    assert failure.check == "cells per line" and failure.rows == (len(lines) - 4,)


def test_files_with_other_columns_are_named(extract, raw_copy, tmp_path):
    paths = write_extract(raw_copy, extract)
    pd.read_csv(paths[2]).drop(columns=["age"]).to_csv(paths[2], index=False)
    (failure,) = failures_in_both_modes(raw_copy, tmp_path)
    assert failure.file.endswith("part2.csv") and 'no column "age"' in failure.found


def test_csv_chunks_keep_cells_and_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "BLOCK_BYTES", 5)  # many blocks, split inside characters
    path = tmp_path / "t.csv"
    path.write_bytes('a,b\r\n1,"two\r\nlines"\r\n\r\n3,云南\r\n4,x\n5,y\n'.encode("utf-8-sig"))
    whole, _ = reading.read_csv_table(path)
    chunks = list(reading.csv_chunks(path, 2))
    assert [len(chunk.frame) for chunk in chunks] == [2, 2]
    pd.testing.assert_frame_equal(pd.concat([c.frame for c in chunks], ignore_index=True),
                                  whole.frame)
    assert list(np.concatenate([c.numbers for c in chunks])) == list(whole.numbers) \
        == [2, 5, 6, 7]


def test_a_bad_byte_late_in_a_file_is_named_as_when_reading_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "BLOCK_BYTES", 8)
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n".encode() + "1,云南\n".encode("utf-8") * 20
                     + "2,云南\n".encode("gbk"))
    with pytest.raises(reading.InputError) as whole:
        reading.read_csv_table(path, how_to_name="set")
    with pytest.raises(reading.InputError) as chunked:
        list(reading.csv_chunks(path, 3, how_to_name="set"))
    assert chunked.value.failures == whole.value.failures
    assert "on line 22" in whole.value.failures[0].found


def test_kth_smallest_of_sorted_arrays():
    rng = np.random.default_rng(3)
    arrays = [np.sort(rng.random(n) * 10) for n in (0, 1, 57, 300)]
    union = np.sort(np.concatenate(arrays))
    for k in (1, 2, 100, len(union) - 1):
        assert kth_smallest(arrays, k) == union[k - 1]
    assert kth_smallest(arrays, 0) == -np.inf and kth_smallest(arrays, len(union)) == np.inf


# ----------------------------------------------------------------------------------------------
# The demonstration panel, county by county


@pytest.fixture(scope="module")
def provinces() -> pd.DataFrame:
    table = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    table["poverty_task"] = table["poverty_task"].astype(bool)
    return table


@pytest.fixture(scope="module")
def targets() -> simulator.CalibrationTargets:
    figures = pd.read_csv(config.LEDGER_CSV, dtype={"scope": str, "period": str,
                                                    "value_as_written": str})
    return simulator.calibration_targets_from_ledger(figures)


def test_the_panel_does_not_depend_on_how_counties_are_batched(provinces, targets):
    one = simulator.simulate_panel(provinces, targets, n_persons=3_000, seed=5)
    other = simulator.simulate_panel(provinces, targets, n_persons=3_000, seed=5,
                                     batch_persons=150)
    pd.testing.assert_frame_equal(one.panel, other.panel)
    pd.testing.assert_frame_equal(one.truth, other.truth)
    pd.testing.assert_frame_equal(one.calibration, other.calibration)
    assert one.parameters == other.parameters


def test_provinces_give_the_same_rows_in_any_order(provinces, targets, tmp_path):
    plan = plan_simulation(provinces, targets, 2_000, seed=9, workdir=tmp_path)
    forward = {code: [r.panel for r in simulate_province(plan, code)] for code in plan.codes}
    for code in reversed(plan.codes):
        for mine, theirs in zip(simulate_province(plan, code), forward[code]):
            pd.testing.assert_frame_equal(mine.panel, theirs)
    assert {len(frames) for frames in forward.values()} == {1}


def test_a_countys_draws_do_not_depend_on_the_other_provinces(provinces, targets):
    params = simulator.ModelParameters()
    nation = provinces[provinces["poverty_task"]]
    alone = nation[nation["province_code"] == "53"]
    county = layout.County("53", 0, 2, first_person=0, persons=400)
    drawn = []
    for table in (nation.sort_values("province_code").reset_index(drop=True),
                  alone.reset_index(drop=True)):
        draws = layout.draw_provinces(table, params, seed=4)
        index = draws.codes.index("53")
        county = layout.County("53", index, 2, first_person=0, persons=400)
        rng = np.random.default_rng(layout.county_streams(4, county)["population"])
        drawn.append(draw_county(county, draws, 5, params, rng))
    for name in ("age0", "female", "schooling", "household", "stable_propensity",
                 "outside_propensity", "wage_person"):
        np.testing.assert_array_equal(getattr(drawn[0], name), getattr(drawn[1], name), name)
    other = layout.County("53", 0, 3, first_person=0, persons=400)
    rng = np.random.default_rng(layout.county_streams(4, other)["population"])
    assert not np.array_equal(draw_county(other, draws, 5, params, rng).age0, drawn[1].age0)


def test_same_seed_and_size_same_tables_other_seed_other_tables(raw_copy, tmp_path):
    first = ingest(raw_copy, tmp_path / "a" / "processed", persons=1_500, seed=3)
    again = ingest(raw_copy, tmp_path / "b" / "processed", persons=1_500, seed=3)
    other = ingest(raw_copy, tmp_path / "c" / "processed", persons=1_500, seed=4)
    assert first["outputs"] == again["outputs"]
    assert {name: entry["sha256"] for name, entry in first["outputs"].items()
            if name.startswith("panel/")} != \
        {name: entry["sha256"] for name, entry in other["outputs"].items()
         if name.startswith("panel/")}
    panel = microdata.read_panel(tmp_path / "a" / "processed")
    assert len(panel) == 1_500 * 5 and panel["person_id"].is_monotonic_increasing


# ----------------------------------------------------------------------------------------------
# On a Dask cluster


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local:
        yield local


def test_a_dask_cluster_writes_what_this_process_writes(raw_copy, tmp_path, cluster):
    local = ingest(raw_copy, tmp_path / "local" / "processed", persons=1_200)
    assert cli.main(["ingest", "--raw", str(raw_copy), "--processed",
                     str(tmp_path / "dask" / "processed"), "--persons", "1200",
                     "--scheduler", cluster.scheduler_address]) == 0
    on_dask = json.loads((tmp_path / "dask" / "processed" / config.MANIFEST_NAME).read_text())
    assert on_dask["outputs"] == local["outputs"]


def test_an_extract_checked_on_dask_gives_the_same_tables_and_failures(
        extract, raw_copy, tmp_path, cluster):
    write_extract(raw_copy, extract)
    assert_same_tables(run(raw_copy, tmp_path / "local", chunk_rows=CHUNK),
                       run(raw_copy, tmp_path / "dask", chunk_rows=CHUNK,
                           scheduler=cluster.scheduler_address))
    frame = extract.copy()
    frame.loc[len(frame) - 1] = frame.loc[0]
    frame.loc[5, "age"] = 12
    write_extract(raw_copy, frame)
    local = run(raw_copy, tmp_path / "local-broken", chunk_rows=CHUNK)
    on_dask = run(raw_copy, tmp_path / "dask-broken", chunk_rows=CHUNK,
                  scheduler=cluster.scheduler_address)
    assert local[0] == on_dask[0] == "failed" and local[1] == on_dask[1]
