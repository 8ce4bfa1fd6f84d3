"""Reading files strictly: encodings, line numbers, damaged files."""

import pytest

from analysis.data import reading
from analysis.data.failures import InputError


def _table(tmp_path, data: bytes, **options):
    path = tmp_path / "table.csv"
    path.write_bytes(data)
    return reading.read_csv_table(path, **options)


def test_rows_keep_their_line_numbers_across_blank_lines_and_quoted_line_breaks(tmp_path):
    table, failures = _table(tmp_path, b'a,b\r\n1,"two\r\nlines"\r\n\r\n3,x\r\n')
    assert list(table.numbers) == [2, 5] and failures == []
    assert list(table.frame["b"]) == ["two\r\nlines", "x"]


def test_a_byte_order_mark_is_accepted_and_gbk_is_named(tmp_path):
    table, _ = _table(tmp_path, "\ufeffname\n云南\n".encode("utf-8"))
    assert list(table.frame.columns) == ["name"]
    with pytest.raises(InputError) as caught:
        _table(tmp_path, "name\n云南\n".encode("gbk"), how_to_name="set")
    (failure,) = caught.value.failures
    assert "line 2" in failure.found and "GB18030/GBK" in failure.action
    assert 'set "gb18030"' in failure.action
    table, _ = _table(tmp_path, "name\n云南\n".encode("gbk"), encoding="gb18030")
    assert table.frame.loc[0, "name"] == "云南"


@pytest.mark.parametrize(("data", "words"), [
    (b"", "an empty file"),
    (b"a,b\n", "no data rows"),
    (b"a,b\n1,2,3\n", "3 cells"),
    (b"a,a\n1,2\n", '2 columns named "a"'),
])
def test_files_that_cannot_be_read_say_why(tmp_path, data, words):
    with pytest.raises(InputError) as caught:
        _table(tmp_path, data)
    assert words in caught.value.failures[0].found


def test_a_nul_byte_is_a_failure_of_its_cell(tmp_path):
    _, (failure,) = _table(tmp_path, b"a,b\n1,x\x00y\n")
    assert (failure.column, failure.rows, failure.found) == ("b", (2,), r'"x\x00y"')


def test_parquet_cells_become_text(tmp_path):
    import pandas as pd

    pd.DataFrame({"code": [53.0, None], "flag": [True, False], "n": [1, 2]}).to_parquet(
        tmp_path / "t.parquet")
    table, _ = reading.read_parquet_table(tmp_path / "t.parquet")
    assert table.frame.to_dict("list") == {"code": ["53", ""], "flag": ["true", "false"],
                                           "n": ["1", "2"]}
    assert list(table.numbers) == [1, 2] and table.row_word == "row"
