"""Each rule that invalidates a unit's cache key, and the changes that must not."""

import shutil

import pandas as pd
import pytest

from analysis.fleet import cache
from analysis import config


@pytest.fixture
def tree(tmp_path):
    processed = tmp_path / "processed"
    (processed / "panel").mkdir(parents=True)
    pd.DataFrame({"a": [1]}).to_parquet(processed / "figures.parquet")
    for code in ("50", "53"):
        pd.DataFrame({"code": [code]}).to_parquet(processed / "panel" / f"{code}.parquet")
    notebook = tmp_path / "province.ipynb"
    shutil.copy(config.NOTEBOOKS_DIR / "province.ipynb", notebook)
    return processed, notebook


def _key(tree, unit="53", parameters=None):
    processed, notebook = tree
    return cache.unit_key(notebook, parameters or {"province_code": unit}, unit, processed).key


def test_key_is_stable_when_nothing_changes(tree):
    assert _key(tree) == _key(tree)


def test_notebook_change_invalidates(tree):
    before = _key(tree)
    tree[1].write_text(tree[1].read_text().replace("One province, one analysis", "One province and one analysis"))
    assert _key(tree) != before


def test_parameter_change_invalidates(tree):
    assert _key(tree, parameters={"province_code": "53"}) != _key(
        tree, parameters={"province_code": "53", "extra": 1})


def test_own_partition_change_invalidates_province_and_national_only(tree):
    processed, _ = tree
    before = {unit: _key(tree, unit) for unit in ("53", "50", "national")}
    pd.DataFrame({"code": ["53"], "changed": [True]}).to_parquet(processed / "panel" / "53.parquet")
    after = {unit: _key(tree, unit) for unit in ("53", "50", "national")}
    assert after["53"] != before["53"]
    assert after["national"] != before["national"]
    assert after["50"] == before["50"]


def test_shared_table_change_invalidates_every_unit(tree):
    processed, _ = tree
    before = {unit: _key(tree, unit) for unit in ("53", "50", "national")}
    pd.DataFrame({"a": [2]}).to_parquet(processed / "figures.parquet")
    assert all(_key(tree, unit) != before[unit] for unit in before)


def test_touching_a_file_without_changing_it_does_not_invalidate(tree):
    processed, _ = tree
    before = _key(tree)
    (processed / "panel" / "53.parquet").touch()
    assert _key(tree) == before


def test_code_change_invalidates(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "module.py").write_text("x = 1\n")
    before = cache.code_digest(package)
    cache.code_digest.cache_clear()
    (package / "module.py").write_text("x = 2\n")
    assert cache.code_digest(package) != before
    cache.code_digest.cache_clear()
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "module.pyc").write_bytes(b"compiled")
    assert cache.code_digest(package) == cache.code_digest.__wrapped__(package)


def test_environment_change_invalidates(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("pandas==3.1.1\n")
    before = cache.environment_digest(lock)
    lock.write_text("pandas==3.1.2\n")
    assert cache.environment_digest(lock) != before


def test_changed_parts_names_what_changed(tree):
    processed, notebook = tree
    parts = cache.unit_key(notebook, {"province_code": "53"}, "53", processed)
    record = {"parts": {**parts.__dict__, "inputs": "old"}}
    assert cache.changed_parts(record, parts) == ["inputs"]
    assert cache.changed_parts(None, parts) == ["no previous run"]
