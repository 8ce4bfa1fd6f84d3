"""Input failures as sentences: the place, the summary and the full list."""

import pandas as pd

from analysis.data.failures import InputFailure, ordered, report, write_full_list


def _cell(row: int, column: str = "age", count: int = 1, level: str = "cell") -> InputFailure:
    return InputFailure("extract.csv", level, "below 16", "a whole number from 16 to 64",
                        found='"12"', action="Correct the cell.", column=column, ours=column,
                        rows=(row,), count=count)


def test_a_failure_reads_as_one_sentence_with_the_analysts_column_and_ours():
    failure = InputFailure("data/raw/microdata/extract.csv", "cell", "not yes/no",
                           "true or false (1 or 0)", found='"yes"', action="Recode it.",
                           column="trained_flag", ours="trained", rows=(3, 7, 9), count=3)
    assert failure.sentence() == (
        'data/raw/microdata/extract.csv, lines 3, 7 and 9, column "trained_flag" (our trained): '
        'found "yes"; expected true or false (1 or 0). Recode it.')


def test_many_rows_are_counted_and_the_first_shown():
    failure = InputFailure("a.parquet", "cell", "c", "e", rows=(1, 2, 3, 4, 5), count=1_204,
                           row_word="row")
    assert failure.place() == "rows 1, 2, 3, 4, 5 and 1,199 more (1,204 rows)"


def test_cells_come_before_rules_and_a_summary_before_the_sentences(tmp_path):
    failures = [_cell(row, level="table") for row in range(2, 8)] + \
        [_cell(row) for row in range(20, 26)]
    assert [f.level for f in ordered(failures)][:6] == ["cell"] * 6
    text = report(failures, full_list="all.csv", shown=3)
    summary, sentences, tail = text.split("\n\n")
    assert summary.splitlines()[1] == "extract.csv: 12 failure(s)"
    assert "6 x column \"age\": below 16 (lines 20, 21, 22, 23, 24, ...)" in summary
    assert sentences.splitlines()[0].startswith("- extract.csv, line 20,")
    assert tail == "... and 9 more failure(s); all of them are listed in all.csv"
    write_full_list(failures, tmp_path / "all.csv")
    listed = pd.read_csv(tmp_path / "all.csv", encoding="utf-8-sig")
    assert len(listed) == 12 and listed.loc[0, "row"] == 20
