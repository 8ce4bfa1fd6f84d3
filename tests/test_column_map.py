"""column_map.json checked key by key before the extract is read."""

import json

import pytest

from analysis.data import column_map
from analysis.data.failures import InputError


def _read(tmp_path, written: dict | str):
    (tmp_path / "extract.csv").write_text("pid\n1\n")
    text = written if isinstance(written, str) else json.dumps(written, ensure_ascii=False)
    (tmp_path / column_map.NAME).write_text(text, encoding="utf-8")
    return column_map.read_column_map(tmp_path)


def test_a_valid_map_gives_our_values_as_text(tmp_path):
    checked = _read(tmp_path, {"file": "extract.csv", "columns": {"pid": "person_id"},
                               "recode": {"female": {"女": True, "男": False},
                                          "first_trained_year": {"never": None}},
                               "defaults": {"year": 2020}, "encoding": "GBK"})
    assert checked.recode == {"female": {"女": "true", "男": "false"},
                              "first_trained_year": {"never": ""}}
    assert checked.defaults == {"year": "2020"} and checked.encoding == "gbk"
    assert checked.ids == "integers"


def test_every_problem_is_listed_with_its_key(tmp_path):
    with pytest.raises(InputError) as caught:
        _read(tmp_path, {"file": "extract.cvs", "colums": {},
                         "columns": {"pid": "person", "hh": "household_id",
                                     "hh2": "household_id"},
                         "recode": {"female": {"F": "yes"}, "trained": ["yes"]},
                         "defaults": {"age": None}, "encoding": "klingon", "ids": "strings"})
    places = {failure.where: failure for failure in caught.value.failures}
    assert set(places) == {
        'key "colums"', 'key "file"', 'key "columns" > "pid"', 'key "columns"',
        'key "recode" > "female" > "F"', 'key "recode" > "trained"', 'key "defaults" > "age"',
        'key "encoding"', 'key "ids"'}
    assert 'Did you mean "columns"?' in places['key "colums"'].action
    assert 'Did you mean "extract.csv"?' in places['key "file"'].action
    assert "person_id" in places['key "columns" > "pid"'].action
    assert all(failure.file.endswith("column_map.json") for failure in caught.value.failures)


def test_a_map_that_is_not_json_names_the_line(tmp_path):
    with pytest.raises(InputError) as caught:
        _read(tmp_path, '{"file": "extract.csv",\n "columns": {},\n}')
    (failure,) = caught.value.failures
    assert failure.rows == (3,) and "not JSON" in failure.found
