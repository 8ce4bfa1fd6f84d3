"""Executing report notebooks with papermill and rendering their pages (slow: starts kernels)."""

import json
import os
import re
import shutil
from html.parser import HTMLParser

import nbformat
import pandas as pd
import pytest

from analysis.fleet import build
from analysis import config
from analysis.reports.report import format_value

pytestmark = pytest.mark.slow
FIXTURES = config.PROJECT_ROOT / "tests" / "fixtures"


@pytest.fixture
def paths(processed_dir, tmp_path):
    return build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "reports",
                            config.RAW_DIR)


class _TextCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def visible_text(page: str) -> str:
    """What a reader sees: the page's text with markup removed and entities decoded."""
    collector = _TextCollector()
    collector.feed(page)
    return re.sub(r"\s+", " ", " ".join(collector.parts))


def _no_network_assets(page: str) -> None:
    # The only script and stylesheet are the site's own, beside the page.
    assert re.findall(r"<script[^>]+src=\"([^\"]+)\"", page) == ["assets/site.js"]
    assert re.findall(r"<link[^>]+href=\"([^\"]+)\"", page) == ["assets/site.css"]
    # No resource of any kind (script, style, image, font) is fetched from another host.
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page)
    assert "@import" not in page


def test_province_notebook_renders_its_figures_with_quotes(paths, ledger):
    unit = build.Unit("53", "province.ipynb", "Yunnan", {"province_code": "53"})
    outcome = build.execute_unit(unit, paths)
    assert outcome.status == "ok", outcome.error
    page = (paths.site_dir / "province-53.html").read_text()
    text = visible_text(page)
    own = ledger[ledger["scope"] == "53"]
    assert len(own) > 5
    for row in own.itertuples():
        assert row.figure_id in text
        assert re.sub(r"\s+", " ", row.quote) in text, row.figure_id
        if pd.notna(row.value):
            assert format_value(row.value, row.unit, row.qualifier) in text, row.figure_id
    assert "province_code =" not in text, "code cells must not be shown"
    _no_network_assets(page)
    results = json.loads((paths.results_dir / "53.json").read_text())
    assert results["numbers"]["published_figures"]["value"] == len(own)
    recorded = {row["figure"] for row in results["tables"]["figures_53"]}
    assert recorded == set(own["figure_id"])
    executed = nbformat.read(paths.executed_dir / "53.ipynb", as_version=4)
    assert executed.metadata["analysis"]["status"] == "ok"
    assert "Provenance" in page and "sha256" in page
    _html_elements_are_closed(page)
    assert re.search(r'<h2 id="[^"]+">[^<]+<a class="anchor-link" href="#[^"]+"></a></h2>', page)
    # Where the unit's time went: every phase, the cells as the kernel timed them.
    assert list(outcome.phases) == list(build.UNIT_PHASES)
    timed = [pd.Timestamp(cell.metadata["execution"]["shell.execute_reply"])
             - pd.Timestamp(cell.metadata["execution"]["iopub.execute_input"])
             for cell in executed.cells if cell.cell_type == "code"]
    assert outcome.phases["cells"] == pytest.approx(sum(t.total_seconds() for t in timed))
    assert all(seconds >= 0 for seconds in outcome.phases.values())
    assert 0 < sum(outcome.phases.values()) <= outcome.seconds


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                 "source", "track", "wbr"}


def _html_elements_are_closed(page: str) -> None:
    """No HTML element but a void one is written as ``<x ... />``: a browser ignores the slash
    and leaves it open, so an empty heading anchor (hidden by the stylesheet) would swallow, and
    hide, the rest of its section. SVG elements may close themselves."""
    outside_svg = re.sub(r"<svg\b.*?</svg>", "", page, flags=re.S)
    self_closed = {match[1].lower()
                   for match in re.finditer(r"<([a-zA-Z][\w-]*)\b[^<>]*/>", outside_svg)}
    assert self_closed <= VOID_ELEMENTS, f"self-closed HTML elements: {self_closed - VOID_ELEMENTS}"


def test_province_without_figures_says_so(paths):
    unit = build.Unit("14", "province.ipynb", "Shanxi", {"province_code": "14"})
    assert build.execute_unit(unit, paths).status == "ok"
    page = (paths.site_dir / "province-14.html").read_text()
    assert "No figures specific to Shanxi have been published" in visible_text(page)


def test_failing_notebook_is_kept_with_its_error_and_marked(paths, tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES, notebooks)
    failing = build.BuildPaths(notebooks, paths.processed_dir, paths.reports_dir, config.RAW_DIR)
    stale = failing.results_dir / "53.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    outcome = build.execute_unit(build.Unit("53", "broken1.ipynb", "Broken"), failing)
    assert outcome.status == "failed"
    assert "planted failure for 53" in outcome.error
    assert not stale.exists(), "a failed unit must not leave an old result behind"
    executed = nbformat.read(failing.executed_dir / "53.ipynb", as_version=4)
    errors = [output for cell in executed.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert errors and errors[0]["evalue"] == "planted failure for 53"
    page = (failing.site_dir / "province-53.html").read_text()
    assert "This report failed to build" in page and "planted failure for 53" in visible_text(page)
    _html_elements_are_closed(page)


def test_build_runs_units_in_parallel_and_writes_index(paths):
    only = ["national", "50", "training_stable_employment", "public_welfare_post_wage_income"]
    summary = build.build(only=only, workers=2, paths=paths)
    assert summary.set_index("unit_id")["status"].to_dict() == {
        "50": "ok", "national": "ok", "50-public_welfare_post_wage_income": "ok",
        "national-public_welfare_post_wage_income": "ok"}
    index = (paths.site_dir / "index.html").read_text()
    assert "national.html" in index and "province-50.html" in index
    # The index and Chongqing's main page link every analysis built, with its estimate.
    detail = json.loads((paths.results_dir / "50-public_welfare_post_wage_income.json").read_text())
    assert detail["spec"]["program"] == "public_welfare_post" and detail["headline"]["unit"] == "yuan"
    assert "province-50-public_welfare_post_wage_income.html" in index
    main_page = (paths.site_dir / "province-50.html").read_text()
    assert "province-50-public_welfare_post_wage_income.html" in main_page
    shown = detail["headline"]["shown"]
    assert f"{round(shown['estimate']):,} yuan" in visible_text(main_page).replace("+", "")
    national = json.loads((paths.results_dir / "national.json").read_text())
    assert national["numbers"]["headline_working_away_2020"]["value"] == 32_430_000
    assert national["numbers"]["headline_assistance_share_2020"]["value"] == 93.8
    page = (paths.site_dir / "national.html").read_text()
    assert "32.43 million" in visible_text(page) and "93.8%" in visible_text(page)
    # Charts are inline SVG with an accessible name, each with its data as CSV.
    assert re.search(r"<figure class=.chart.><div class=.chart-scroll.><svg [^>]*aria-label=", page)
    assert re.search(r"href=.data/national/working_away_chart\.csv.", page)
    assert (paths.site_dir / "data" / "national" / "working_away_chart.csv").exists()
    _no_network_assets(page)
    sources = (paths.site_dir / "sources.html").read_text()
    assert 'id="MOHRSS-02"' in sources
    assert sources.count("<section") == 5


def test_unknown_unit_is_refused(paths):
    with pytest.raises(build.UnknownUnitError, match="unknown unit"):
        build.plan_units(paths.processed_dir, only=["99"])


# ----------------------------------------------------------------------------------------------
# The fleet: warm kernels, cache, parallel stress, Dask, interruption


def _code_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    return [(cell.execution_count, [
        {key: value for key, value in output.items() if key != "metadata"}
        for output in cell.outputs]) for cell in notebook.cells if cell.cell_type == "code"]


def test_warm_kernel_gives_the_same_notebook_as_plain_papermill(processed_dir, tmp_path):
    from analysis.fleet import kernels

    plain = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "plain",
                             config.RAW_DIR)
    warm = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "warm",
                            config.RAW_DIR)
    yunnan = build.Unit("53", "province.ipynb", "Yunnan", {"province_code": "53"})
    chongqing = build.Unit("50", "province.ipynb", "Chongqing", {"province_code": "50"})
    try:
        assert build.execute_unit(yunnan, plain, warm=False).status == "ok"
        # Another unit first, so that the comparison also proves the reset between units.
        assert build.execute_unit(chongqing, warm, warm=True).status == "ok"
        assert build.execute_unit(yunnan, warm, warm=True).status == "ok"
    finally:
        kernels.shutdown_thread_kernel()
    assert _code_outputs(warm.executed_dir / "53.ipynb") == _code_outputs(
        plain.executed_dir / "53.ipynb")
    assert (warm.results_dir / "53.json").read_text() == (plain.results_dir / "53.json").read_text()
    # papermill gives its injected-parameters cell a random id on every run, warm or not.
    def page(paths):
        text = (paths.site_dir / "province-53.html").read_text()
        return re.sub(r"cell-id=[0-9a-f-]+", "cell-id=*", text)

    assert page(warm) == page(plain)


def test_one_kernel_client_serves_every_unit_and_each_unit_reads_only_its_own_output(tmp_path):
    """The warm kernel's client is connected once; a failed unit, and output a unit printed,
    do not reach the next unit's notebook."""
    import nbformat.v4 as nbf
    from papermill.exceptions import PapermillExecutionError

    from analysis.fleet import kernels

    def notebook(name, *sources):
        path = tmp_path / name
        nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell(s) for s in sources]), path)
        return path

    kernel = kernels.WarmKernel(tmp_path)
    try:
        def no_new_client(*args, **kwargs):
            raise AssertionError("a unit connected a client of its own")

        kernel.manager.client = no_new_client
        first = notebook("first.ipynb", "print('first unit')",
                         "import sys; print('first unit, stderr', file=sys.stderr)",
                         "raise ValueError('planted')")
        with pytest.raises(PapermillExecutionError, match="planted"):
            kernel.execute(first, tmp_path / "first-out.ipynb", {})
        second = notebook("second.ipynb", "print('second unit')", "21 * 2",
                          "get_ipython().history_manager.enabled")
        kernel.execute(second, tmp_path / "second-out.ipynb", {})
    finally:
        kernel.shutdown()
    outputs = [output for cell in nbformat.read(tmp_path / "second-out.ipynb", 4).cells
               for output in cell.get("outputs", [])]
    assert [output.get("text") for output in outputs if output["output_type"] == "stream"] \
        == ["second unit\n"]
    assert [output["data"]["text/plain"] for output in outputs
            if output["output_type"] == "execute_result"] == ["42", "False"]  # no history file


def _kernel_processes() -> set[int]:
    import subprocess

    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {int(line.split()[0]) for line in listing.splitlines() if "ipykernel_launcher" in line}


def _wait_for_kernels_to_exit(before: set[int], seconds: float = 15.0) -> set[int]:
    import time

    deadline = time.monotonic() + seconds
    while (left := _kernel_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def test_fifty_units_in_parallel_each_output_belongs_to_its_unit(processed_dir, tmp_path):
    paths = build.BuildPaths(FIXTURES, processed_dir, tmp_path / "reports", config.RAW_DIR)
    units = [build.Unit(f"u{index:02d}", "echo_unit.ipynb", f"Echo {index}",
                        {"unit_tag": f"u{index:02d}"}) for index in range(54)]
    kernels_before = _kernel_processes()
    outcomes = build.run_units(build.Schedule(units, paths, force=True), paths, workers=2)
    assert {outcome.status for outcome in outcomes.values()} == {"ok"}
    for unit in units:
        tag = unit.unit_id
        results = json.loads((paths.results_dir / f"{tag}.json").read_text())
        assert results["unit"] == tag and results["numbers"]["tag_number"]["value"] == int(tag[1:])
        executed = nbformat.read(paths.executed_dir / f"{tag}.ipynb", as_version=4)
        assert executed.metadata["analysis"]["unit"] == tag
        assert executed.metadata["papermill"]["parameters"]["unit_tag"] == tag
        shown = json.dumps([cell.get("outputs", []) for cell in executed.cells])
        assert f"belongs to unit {tag}." in shown
        assert not re.search(r"belongs to unit (?!%s\.)u\d\d" % tag, shown)
        page = visible_text((paths.site_dir / f"province-{tag}.html").read_text())
        assert f"This page belongs to unit {tag}." in page
        assert json.loads((paths.cache_dir / f"{tag}.json").read_text())["status"] == "ok"
    assert not _wait_for_kernels_to_exit(kernels_before), "kernels left behind"
    leftovers = [path for path in paths.reports_dir.rglob("*") if path.name.startswith(".")
                 and path.is_file() and path.parent != paths.cache_dir]
    assert not leftovers


def _copy_processed(processed_dir, tmp_path):
    copy = tmp_path / "processed"
    shutil.copytree(processed_dir, copy)
    return copy


def _rewrite_partition(processed, code):
    partitions = sorted(processed.glob(f"*/{code}.parquet"))
    assert partitions, "expected per-province partitions in data/processed"
    table = pd.read_parquet(partitions[0])
    table.attrs = {}
    changed = pd.concat([table, table.tail(1)]).drop_duplicates()  # same rows, new bytes
    changed = changed.iloc[::-1].reset_index(drop=True)
    changed.to_parquet(partitions[0], index=False)


def test_incremental_build_reruns_exactly_what_changed(processed_dir, tmp_path):
    processed = _copy_processed(processed_dir, tmp_path)
    paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed, tmp_path / "reports",
                             config.RAW_DIR)
    only = ["national", "50", "53", "training_stable_employment"]
    first = build.build(only=only, workers=2, paths=paths)
    assert set(first["cached"]) == {"run"} and set(first["status"]) == {"ok"}
    second = build.build(only=only, workers=2, paths=paths)
    assert set(second["cached"]) == {"cached"}
    _rewrite_partition(processed, "53")
    third = build.build(only=only, workers=2, paths=paths).set_index("unit_id")["cached"]
    assert third.to_dict() == {"50": "cached", "53": "run", "national": "run"}
    forced = build.build(only=only, workers=2, paths=paths, force=True)
    assert set(forced["cached"]) == {"run"}
    (paths.site_dir / "province-50.html").unlink()  # a missing output is rebuilt
    fourth = build.build(only=only, workers=2, paths=paths).set_index("unit_id")["cached"]
    assert fourth.to_dict() == {"50": "run", "53": "cached", "national": "cached"}


def test_dask_cluster_build_matches_local_build(processed_dir, tmp_path):
    from distributed import LocalCluster

    only = ["national", "53", "training_stable_employment"]
    local = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "local",
                             config.RAW_DIR)
    remote = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "dask",
                              config.RAW_DIR)
    build.build(only=only, workers=2, paths=local)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        summary = build.build(only=only, paths=remote, scheduler=cluster.scheduler_address)
    assert set(summary["status"]) == {"ok"}
    for unit in ("national", "53"):
        # Equal up to floating-point summation order (BLAS threads differ between a Dask
        # worker and a local one): 1e-9 relative.
        _assert_close(json.loads((remote.results_dir / f"{unit}.json").read_text()),
                      json.loads((local.results_dir / f"{unit}.json").read_text()), unit)
        remote_cells = _code_outputs(remote.executed_dir / f"{unit}.ipynb")
        local_cells = _code_outputs(local.executed_dir / f"{unit}.ipynb")
        assert [count for count, _ in remote_cells] == [count for count, _ in local_cells]
        assert [len(outputs) for _, outputs in remote_cells] == \
            [len(outputs) for _, outputs in local_cells]


def _assert_close(left, right, where):
    if isinstance(left, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            _assert_close(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right)):
            _assert_close(a, b, f"{where}[{index}]")
    elif isinstance(left, float) and isinstance(right, float):
        assert left == pytest.approx(right, rel=1e-9, abs=1e-12), where
    else:
        assert left == right, where


INTERRUPTIBLE_BUILD = """
import sys
from pathlib import Path
from analysis.fleet import build
from analysis import config
paths = build.BuildPaths(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), config.RAW_DIR)
units = [build.Unit(f"u{i:02d}", "echo_unit.ipynb", "Echo", {"unit_tag": f"u{i:02d}"})
         for i in range(40)]
schedule = build.Schedule(units, paths)
print("TODO", schedule.expected_runs(), flush=True)
try:
    build.run_units(schedule, paths, workers=2)
except build.BuildInterrupted as interrupted:
    print("INTERRUPTED", interrupted.finished, flush=True)
    sys.exit(130)
"""


def test_ctrl_c_stops_cleanly_and_the_next_build_resumes(processed_dir, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    reports = tmp_path / "reports"
    command = [sys.executable, "-c", INTERRUPTIBLE_BUILD, str(FIXTURES), str(processed_dir),
               str(reports)]
    kernels_before = _kernel_processes()
    # A shell running jobs in the background starts them with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler; a terminal's Ctrl-C arrives with the default.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((reports / ".cache").glob("*.json"))) < 3:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    finished = int(re.search(r"INTERRUPTED (\d+)", output)[1])
    assert 3 <= finished < 40
    assert not _wait_for_kernels_to_exit(kernels_before), "kernels left behind"
    for notebook in (reports / "notebooks").glob("*.ipynb"):
        nbformat.read(notebook, as_version=4)  # every notebook written is whole
    for result in (reports / "results").glob("*.json"):
        json.loads(result.read_text())
    assert not [path for path in reports.rglob("*") if path.name.startswith(".")
                and path.is_file() and path.parent.name != ".cache"]
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    todo = int(re.search(r"TODO (\d+)", resumed.stdout)[1])
    assert todo <= 40 - finished
    assert len(list((reports / "results").glob("*.json"))) == 40


def _headline_of(results_path):
    recorded = json.loads(results_path.read_text())
    return recorded["headline"], recorded["summary"], recorded["tables"]["effect_estimates"]


def _run_sequence(kernel, paths, tmp_path, tag):
    """A real analysis unit, then a notebook that mutates module constants, then the unit again."""
    unit = build.Unit("50-training", "province.ipynb", "Chongqing",
                      {"province_code": "50", "overview": False})
    outputs = []
    for step, (notebook, parameters) in enumerate([
            ("province.ipynb", unit.parameters), ("mutates_module_state.ipynb", {}),
            ("province.ipynb", unit.parameters)]):
        directory = FIXTURES if notebook.startswith("mutates") else config.NOTEBOOKS_DIR
        source = tmp_path / f"{tag}-{step}-{notebook}"
        shutil.copy(directory / notebook, source)
        results = tmp_path / f"{tag}-{step}.json"
        kernel.execute(source, tmp_path / f"{tag}-{step}-out.ipynb",
                       {**parameters, "processed_dir": str(paths.processed_dir),
                        "results_path": str(results)})
        outputs.append(results)
    return _headline_of(outputs[0]), _headline_of(outputs[2])


def test_a_notebook_that_mutates_module_state_cannot_change_the_next_unit(paths, tmp_path):
    from analysis.fleet import kernels

    kernel = kernels.WarmKernel(config.NOTEBOOKS_DIR)
    try:
        before, after = _run_sequence(kernel, paths, tmp_path, "isolated")
    finally:
        kernel.shutdown()
    assert after == before
    assert "percentage points" in before[0]["unit"] and "MUTATED" not in before[1]

    # The same sequence in a kernel that only clears variables (the old reset) does change the
    # second run: the test above can fail.
    class LeakyKernel(kernels.WarmKernel):
        def _run_quietly(self, code):
            super()._run_quietly(code.replace("_sys.modules.pop(_stale)", "pass"))

    leaky = LeakyKernel(config.NOTEBOOKS_DIR)
    try:
        before, after = _run_sequence(leaky, paths, tmp_path, "leaky")
    finally:
        leaky.shutdown()
    assert after != before
    assert after[0]["unit"] == "share" and "MUTATED" in after[1]


def test_command_line_variant_builds_into_its_own_outputs(processed_dir, tmp_path, monkeypatch,
                                                          capsys):
    from analysis import cli

    reports = tmp_path / "reports"
    monkeypatch.setattr(config, "PROCESSED_DIR", processed_dir)
    monkeypatch.setattr(config, "REPORTS_DIR", reports)
    status = cli.main(["build", "--only", "50", "-p", "program=public_welfare_post",
                       "-p", "outcome=months_worked", "-p", "population=women"])
    assert status == 0, capsys.readouterr().err
    unit = "50-public_welfare_post__months_worked__women"
    recorded = json.loads((reports / "results" / f"{unit}.json").read_text())
    assert recorded["spec"]["population"] == ["women"]
    assert recorded["headline"]["unit"] == "months"
    page = visible_text((reports / "site" / f"province-{unit}.html").read_text())
    # The page's title and heading name the place, the analysis and the population.
    assert "Chongqing (重庆市): public-welfare post and months worked in the year, women" in page
    assert "among women" in page or "cannot tell" in page
    assert "population='women'" in page  # the provenance footer records the whole spec
    assert not (reports / "results" / "50.json").exists()  # the defaults are not touched
    assert cli.main(["build", "-p", "outcome=happiness"]) == 1
    assert "outcome: unknown value 'happiness'" in capsys.readouterr().err
