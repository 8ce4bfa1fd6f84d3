"""Two builds from the same inputs give the same bytes.

Pages and results JSON must be byte-identical, and executed notebooks identical apart from the
execution times papermill and the kernel record. Nothing that depends on the run (random cell
ids, scratch paths, dates, the order in which a warm kernel ran its units) may reach them.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest

from analysis import config
from analysis.fleet import build, kernels
from project_tree import copy_project, run

pytestmark = pytest.mark.slow
FIXTURES = config.PROJECT_ROOT / "tests" / "fixtures"
# Chongqing's main page (figures, matrices, effect sections) and the methods page.
ONLY = "50,training_stable_employment,methods"


def without_execution_times(path: Path) -> dict:
    """An executed notebook without the times of its execution (the only part allowed to vary)."""
    notebook = json.loads(path.read_text())
    for key in ("start_time", "end_time", "duration"):
        notebook["metadata"].get("papermill", {}).pop(key, None)
    for cell in notebook["cells"]:
        cell["metadata"].pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell["metadata"].get("papermill", {}).pop(key, None)
    return notebook


def outputs_of(reports: Path) -> dict[str, object]:
    """Every output of a build by its path in ``reports``: bytes, or a notebook without times."""
    found = {}
    for folder in ("site", "results", "notebooks"):
        for path in sorted(p for p in (reports / folder).rglob("*") if p.is_file()):
            name = f"{folder}/{path.relative_to(reports / folder).as_posix()}"
            found[name] = (without_execution_times(path) if path.suffix == ".ipynb"
                           else path.read_bytes())
    return found


def test_two_builds_from_the_same_inputs_give_the_same_outputs(tmp_path):
    tree = copy_project(tmp_path / "project")
    ingested = run(tree, "ingest", "--persons", "3000")
    assert ingested.returncode == 0, ingested.stderr
    command = ["build", "--only", ONLY, "--workers", "2"]
    stated = {"SOURCE_DATE_EPOCH": "1700000000"}  # 2023-11-14: the date pages state
    first = run(tree, *command, **stated)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    before = outputs_of(tree / "reports")
    second = run(tree, *command, "--force", **stated)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    after = outputs_of(tree / "reports")

    assert sorted(after) == sorted(before)
    assert {"site/province-50.html", "site/methods.html", "results/50.json",
            "notebooks/50.ipynb"} <= set(after)
    differing = [name for name in sorted(after) if after[name] != before[name]]
    assert not differing, f"outputs that differ between two builds of the same inputs: {differing}"
    # Pages state the date of their sources (SOURCE_DATE_EPOCH, else the commit), never the
    # clock's, so a rebuild of the same inputs is byte-identical.
    pages = {name: content for name, content in after.items() if name.endswith(".html")}
    today = datetime.date.today().isoformat()
    assert not [name for name, content in pages.items() if today.encode() in content]
    undated = [name for name, content in pages.items() if b"built 2023-11-14" not in content]
    assert not undated, f"pages that do not state the build date: {undated}"


def test_a_failed_notebook_does_not_depend_on_what_its_kernel_ran_before(processed_dir,
                                                                          tmp_path):
    """The warm kernel numbers cells from 1 and papermill's failure banner follows; the cells
    papermill adds get fixed ids."""
    paths = build.BuildPaths(FIXTURES, processed_dir, tmp_path / "reports", config.RAW_DIR)
    broken = build.Unit("53", "broken1.ipynb", "Broken")
    executed = paths.executed_dir / "53.ipynb"
    try:
        assert build.execute_unit(broken, paths).status == "failed"
        alone = without_execution_times(executed)
        page_alone = (paths.site_dir / "province-53.html").read_bytes()
        for index in range(3):
            echo = build.Unit(f"u{index}", "echo_unit.ipynb", "Echo", {"unit_tag": f"u{index}"})
            assert build.execute_unit(echo, paths).status == "ok"
        assert build.execute_unit(broken, paths).status == "failed"
    finally:
        kernels.shutdown_thread_kernel()
    after_others = without_execution_times(executed)
    assert after_others == alone
    assert (paths.site_dir / "province-53.html").read_bytes() == page_alone
    ids = [cell["id"] for cell in after_others["cells"]]
    assert {"injected-parameters", "papermill-error", "papermill-error-2"} <= set(ids)
    banner = "".join(after_others["cells"][0]["source"])
    assert "In [3]" in banner  # parameters, injected parameters, then the failing cell
    shutil.rmtree(paths.reports_dir)
