"""Text cells validated in three passes; pandera's failure cases as sentences."""

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis.data import schemas, validation
from analysis.data.reading import TextTable


class Small(pa.DataFrameModel):
    key: pa.typing.Series[int] = pa.Field(ge=0)
    group: pa.typing.Series[str]
    flag: pa.typing.Series[bool]
    share: pa.typing.Series[float] = pa.Field(le=1, nullable=True)

    class Config:
        strict = True
        unique = ["key"]

    @schemas.table_rule("a group has one flag", ("group", "flag"))
    def one_flag_per_group(cls, df: pd.DataFrame) -> pa.typing.Series[bool]:
        return df.groupby("group")["flag"].transform("nunique") == 1


def _validate(rows: dict, **options):
    frame = pd.DataFrame(rows).astype(str)
    table = TextTable(frame, "small.csv", np.arange(2, len(frame) + 2), "line",
                      {"flag": "their_flag"})
    return validation.validate_table(table, Small.to_schema(), "small table", **options)


def test_a_valid_table_comes_back_in_the_schemas_types():
    validated, failures = _validate({"key": ["1", "2"], "group": ["a", "a"],
                                     "flag": ["true", "1"], "share": ["0.5", ""]})
    assert failures == []
    assert validated["flag"].tolist() == [True, True] and validated["share"].isna().iloc[1]


def test_text_is_never_taken_for_a_number_or_a_yes():
    _, failures = _validate({"key": ["1", "x"], "group": ["a", "a"], "flag": ["yes", "1"],
                             "share": ["", "1,5"]})
    found = {(failure.column, failure.found, failure.rows) for failure in failures}
    assert found == {("key", '"x"', (3,)), ("their_flag", '"yes"', (2,)),
                     ("share", '"1,5"', (3,))}


def test_a_wrong_cell_is_named_and_not_blamed_again_on_its_group():
    _, failures = _validate({"key": ["1", "2", "3"], "group": ["a", "a", "a"],
                             "flag": ["true", "maybe", "true"], "share": ["", "", "2"]})
    assert [(f.level, f.column, f.rows) for f in failures] == [
        ("cell", "their_flag", (3,)), ("cell", "share", (4,))]


def test_rules_and_keys_run_on_the_clean_rows():
    _, failures = _validate({"key": ["1", "1", "2"], "group": ["a", "b", "b"],
                             "flag": ["true", "true", "false"], "share": ["", "", ""]})
    assert {(f.check, f.rows) for f in failures} == {
        ("one row per key", (2, 3)), ("a group has one flag", (3,)),
        ("a group has one flag", (4,))}


def test_a_recode_lists_every_value_and_may_give_empty_cells_a_value():
    rows = {"key": ["1", "2", "3"], "group": ["a", "a", "a"], "flag": ["Y", "", "N?"],
            "share": ["", "", ""]}
    _, failures = _validate(rows, recode={"flag": {"Y": "true", "": "true"}})
    assert [(f.column, f.found, f.check) for f in failures] == [
        ("their_flag", '"N?"', "not listed in the recode")]
