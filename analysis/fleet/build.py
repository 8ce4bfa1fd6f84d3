"""The report fleet: plan units, execute each notebook with papermill, render the site.

One unit is one executed notebook: one analysis of the plan for one scope (the nation or a
province, see :mod:`analysis.fleet.plan`), or a site-wide page. A build

1. plans the units and computes each one's content key (:mod:`analysis.fleet.cache`); units whose key,
   outputs and last status are unchanged are skipped;
2. runs the others in parallel: in local worker processes that each keep a warm kernel
   (:mod:`analysis.fleet.kernels`), or on an existing Dask cluster (``scheduler=ADDRESS``);
3. renders each unit's page in the worker that ran it, then the index and sources pages.

A unit that fails keeps its executed notebook (error cell visible), is marked failed on the index
page, and makes the build's exit status non-zero while the others complete. Every output is
written under a temporary name and renamed into place, and a unit's cache record is written only
after its outputs, so an interrupted build leaves no half-written file and the next build resumes
from the units that finished. A build killed outright (SIGKILL, a crash) leaves temporaries named
for their dead processes; the next build removes them first (:func:`remove_leftovers`), and its
workers end with their kernels as soon as the build process is gone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from analysis.files import (
    pause_for_tests, remove_abandoned, temporary_directory,
    write_text_atomically,
)
from analysis.fleet import cache
from analysis.fleet import platform as fleet_platform
from analysis.fleet.plan import (  # noqa: F401 (UnknownUnitError: part of this module's API)
    PLAN_CSV, PLAN_FILE, Unit, UnknownUnitError, expand, read_plan, select, spec_of,
)
from analysis import config
from analysis.reports import site




@dataclass(frozen=True)
class BuildPaths:
    """Where a build reads and writes; tests point these at a temporary tree."""

    notebooks_dir: Path = config.NOTEBOOKS_DIR
    processed_dir: Path = config.PROCESSED_DIR
    reports_dir: Path = config.REPORTS_DIR
    raw_dir: Path = config.RAW_DIR

    @property
    def plan_path(self) -> Path:
        return self.notebooks_dir / PLAN_FILE

    @property
    def executed_dir(self) -> Path:
        return self.reports_dir / "notebooks"

    @property
    def results_dir(self) -> Path:
        return self.reports_dir / "results"

    @property
    def site_dir(self) -> Path:
        return self.reports_dir / "site"

    @property
    def cache_dir(self) -> Path:
        return self.reports_dir / ".cache"

    def outputs(self, unit_id: str) -> list[Path]:
        return [self.executed_dir / f"{unit_id}.ipynb", self.results_dir / f"{unit_id}.json",
                self.site_dir / site.page_name(unit_id)]


@dataclass
class UnitOutcome:
    """How one unit's run ended."""

    unit_id: str
    status: str  # "ok", "failed" or "not built"
    seconds: float
    error: str = ""
    cached: bool = False
    # Where the unit's seconds went (UNIT_PHASES), for the benchmark's account of the overhead.
    phases: dict[str, float] = field(default_factory=dict)


UNIT_PHASES = {
    "kernel start": "starting a kernel and importing the libraries (a worker's first unit)",
    "reset": "clearing the kernel between units",
    "cells": "the notebook's own cells, as the kernel timed them",
    "papermill": "papermill and nbclient around the cells (parameters, messages, writing)",
    "notebook rewrite": "renumbering and recording the executed notebook (nbformat)",
    "page": "rendering the page (nbconvert) and writing its CSVs",
}


class BuildInterrupted(KeyboardInterrupt):
    """Raised when a build is stopped by Ctrl-C; ``finished`` units are kept and cached."""

    def __init__(self, finished: int, total: int):
        super().__init__(f"interrupted after {finished} of {total} units; the next build resumes")
        self.finished, self.total = finished, total


# ----------------------------------------------------------------------------------------------
# Planning


def plan_units(processed_dir: Path = config.PROCESSED_DIR, only: list[str] | None = None,
               plan_path: Path | None = None, variants: list = (),
               exact: bool = False) -> list[Unit]:
    """Every unit of the plan (and of ``variants``) over the scopes, filtered by ``only``
    (see :func:`analysis.fleet.plan.select`)."""
    plan = read_plan(plan_path or PLAN_CSV)
    return select(expand(plan, processed_dir, list(variants)), only, exact)


def load_manifest(processed_dir: Path) -> dict:
    path = processed_dir / config.MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m analysis ingest` first")
    return json.loads(path.read_text())


def is_simulated(manifest: dict) -> bool:
    return manifest.get("panel", {}).get("origin") == "simulated"


def key_of(unit: Unit, paths: BuildPaths) -> cache.KeyParts:
    extra = [config.PROJECT_ROOT / path for path in unit.extra_inputs]
    # A national unit combines its provinces' results: they are its inputs.
    extra += [paths.results_dir / f"{dependency}.json" for dependency in unit.depends_on]
    # A unit reads its scope's partitions: every analysis of Yunnan reads panel/53.parquet.
    return cache.unit_key(paths.notebooks_dir / unit.notebook, unit.parameters,
                          unit.scope or unit.unit_id, paths.processed_dir, extra)


def is_up_to_date(unit: Unit, parts: cache.KeyParts, paths: BuildPaths) -> bool:
    record = cache.read_record(paths.cache_dir, unit.unit_id)
    return (record is not None and record.get("key") == parts.key
            and record.get("status") == "ok"
            and all(path.exists() for path in paths.outputs(unit.unit_id)))


def write_cache_record(unit: Unit, parts: cache.KeyParts, outcome: UnitOutcome,
                       paths: BuildPaths) -> None:
    record = {"key": parts.key, "parts": parts.__dict__, "status": outcome.status,
              "seconds": outcome.seconds, "error": outcome.error, "phases": outcome.phases}
    write_text_atomically(cache.record_path(paths.cache_dir, unit.unit_id),
                               json.dumps(record, indent=2))


# ----------------------------------------------------------------------------------------------
# Executing one unit (runs in a worker process, local or on a Dask worker)


def _kernel_config(kernel_dir: Path):
    """The cold path's kernel connection, with its files in the private folder ``kernel_dir``:
    IPC sockets, or (portable mode) TCP on 127.0.0.1 with ports the kernel binds itself. Either
    way kernels started together cannot collide (:mod:`analysis.fleet.platform`)."""
    from traitlets.config import Config

    kernel_config = Config()
    for name, value in fleet_platform.kernel_settings(kernel_dir).items():
        kernel_config.KernelManager[name] = value
    kernel_config.NotebookClient.kernel_manager_class = fleet_platform.kernel_manager_class(
        asynchronous=True)
    return kernel_config


def _execute_notebook(unit: Unit, paths: BuildPaths, output: Path, parameters: dict,
                      warm: bool, phases: dict[str, float]) -> None:
    """Run the notebook into ``output``, adding the time of each phase to ``phases`` (also when
    a cell fails)."""
    from analysis.fleet import kernels

    notebook = paths.notebooks_dir / unit.notebook
    if warm:
        started = time.perf_counter()
        kernel = kernels.warm_kernel(paths.notebooks_dir)
        phases["kernel start"] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            kernel.execute(notebook, output, parameters)
        finally:
            phases["reset"] = kernel.reset_seconds
            phases["papermill"] = time.perf_counter() - started - kernel.reset_seconds
        return
    import papermill

    started = time.perf_counter()
    try:
        with temporary_directory(Path(tempfile.gettempdir()), kernels.KERNEL_DIR_STEM,
                                 private=True) as kernel_dir:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                       cwd=str(paths.notebooks_dir), progress_bar=False,
                                       kernel_name="python3", config=_kernel_config(kernel_dir))
    finally:
        phases["papermill"] = time.perf_counter() - started  # its kernel's start included


def notebook_parameters(unit: Unit, processed_dir: Path, results_path: Path,
                        results_dir: Path) -> dict:
    """What papermill passes a unit's notebook: its own parameters, where to read the processed
    tables and where to write its results; a national unit also reads its provinces' results
    from ``results_dir``. Not part of the unit's key (the paths differ between trees)."""
    parameters = {**unit.parameters, "processed_dir": str(processed_dir),
                  "results_path": str(results_path)}
    if unit.depends_on:
        parameters["province_results_dir"] = str(results_dir)
    return parameters


def execute_unit(unit: Unit, paths: BuildPaths, warm: bool = True) -> UnitOutcome:
    """Execute one unit's notebook and render its page; never raises for a notebook error.

    ``warm=False`` runs plain papermill with a fresh kernel (the reference behaviour).
    """
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    for directory in (paths.executed_dir, paths.results_dir, paths.site_dir):
        directory.mkdir(parents=True, exist_ok=True)
    executed, results = paths.outputs(unit.unit_id)[:2]
    # Each unit works in a private scratch folder beside its outputs (same file system, so they
    # are renamed into place whole): nothing it writes can meet another unit's.
    with temporary_directory(paths.executed_dir, f".scratch-{unit.unit_id}") as scratch:
        partial_notebook = scratch / executed.name
        partial_results = scratch / results.name
        parameters = notebook_parameters(unit, paths.processed_dir, partial_results,
                                         paths.results_dir)
        status, error, phases = "ok", "", {}
        try:
            _execute_notebook(unit, paths, partial_notebook, parameters, warm, phases)
        except PapermillExecutionError as failure:
            status, error = "failed", f"{failure.ename}: {failure.evalue}"
        if not partial_notebook.exists():
            raise RuntimeError(f"papermill wrote no notebook for unit {unit.unit_id}")
        if status == "ok" and not partial_results.exists():
            status, error = "failed", "the notebook ran but wrote no results JSON"
        rewriting = time.perf_counter()
        phases["cells"] = finish_notebook(partial_notebook, unit, status,
                                          {partial_notebook: executed, partial_results: results})
        phases["papermill"] -= phases["cells"]
        phases["notebook rewrite"] = time.perf_counter() - rewriting
        pause_for_tests("unit-executed")
        os.replace(partial_notebook, executed)
        if status == "ok":
            os.replace(partial_results, results)
        else:
            results.unlink(missing_ok=True)  # a stale result must not outlive a failed run
    rendering = time.perf_counter()
    render_unit_page(unit, paths, failed=status == "failed")
    phases["page"] = time.perf_counter() - rendering
    return UnitOutcome(unit.unit_id, status, time.perf_counter() - started, error,
                       phases={name: phases.get(name, 0.0) for name in UNIT_PHASES})


# Cells papermill adds (the parameters it injects, the banners of a failure) get random ids;
# these fixed ids, numbered from the second on, replace them.
ADDED_CELL_IDS = {"injected-parameters": "injected-parameters",
                  "papermill-error-cell-tag": "papermill-error"}


def finish_notebook(notebook_path: Path, unit: Unit, status: str,
                    moved: dict[Path, Path]) -> float:
    """Record the unit in the notebook's metadata and remove what differs from run to run;
    return the seconds its cells took, as the kernel reported them.

    Papermill gives the cells it adds random ids and records the scratch paths; the cells get
    fixed ids and the paths become those the files are ``moved`` to, so two builds of the same
    inputs differ only in execution times.
    """
    import nbformat
    from papermill.translators import PythonTranslator

    from analysis.fleet.kernels import renumber_cells

    notebook = nbformat.read(notebook_path, as_version=4)
    renumber_cells(notebook)  # as a fresh kernel would: a warm kernel's counts ran on
    notebook.metadata["analysis"] = {"unit": unit.unit_id, "title": unit.title,
                                     "parameters": unit.parameters, "status": status}
    renamed = {str(scratch): str(final) for scratch, final in moved.items()}
    recorded = notebook.metadata.get("papermill", {})
    if recorded.get("output_path") in renamed:
        recorded["output_path"] = renamed[recorded["output_path"]]
    parameters = recorded.get("parameters", {})
    for name, value in parameters.items():
        if isinstance(value, str) and value in renamed:
            parameters[name] = renamed[value]
    added = {tag: 0 for tag in ADDED_CELL_IDS}
    for cell in notebook.cells:
        for tag in set(cell.metadata.get("tags", [])) & set(ADDED_CELL_IDS):
            added[tag] += 1
            cell.id = ADDED_CELL_IDS[tag] + (f"-{added[tag]}" if added[tag] > 1 else "")
        if "injected-parameters" in cell.metadata.get("tags", []):
            for scratch, final in renamed.items():
                cell.source = cell.source.replace(PythonTranslator.translate_escaped_str(scratch),
                                                  PythonTranslator.translate_escaped_str(final))
    nbformat.write(notebook, notebook_path)
    return sum(map(cell_seconds, notebook.cells))


def cell_seconds(cell) -> float:
    """How long the kernel took for a cell: from its input reaching the kernel to its reply
    (the times nbclient records in the cell's metadata); 0 for a cell that did not run."""
    times = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in times or "shell.execute_reply" not in times:
        return 0.0
    return (datetime.fromisoformat(times["shell.execute_reply"])
            - datetime.fromisoformat(times["iopub.execute_input"])).total_seconds()


def page_title(unit: Unit) -> str:
    """The title and heading of a unit's page: its place, its analysis and, when not everyone,
    its population."""
    if not unit.scope:
        return unit.title
    place = "China (national)" if unit.scope == config.NATIONAL_UNIT else unit.title.split(":")[0]
    spec = spec_of(unit)
    analysis = spec.title[:1].lower() + spec.title[1:]
    if spec.population != ("all",):
        analysis += f", {spec.population_label}"
    if unit.overview:
        return f"{place}: published figures and {analysis}"
    return f"{place}: {analysis}"


def render_unit_page(unit: Unit, paths: BuildPaths, failed: bool) -> None:
    """The unit's page, and the CSVs of its tables and charts from its results JSON."""
    manifest = load_manifest(paths.processed_dir)
    notebook_link = f"reports/notebooks/{unit.unit_id}.ipynb"
    provenance = site.provenance_html(site.git_commit(), manifest.get("inputs", {}),
                                      {"unit": unit.unit_id, **unit.parameters})
    site.write_unit_data(paths.results_dir / f"{unit.unit_id}.json", paths.site_dir,
                         unit.unit_id)
    site.render_notebook(paths.executed_dir / f"{unit.unit_id}.ipynb",
                         paths.site_dir / site.page_name(unit.unit_id), page_title(unit),
                         simulated=is_simulated(manifest),
                         failed_notebook=notebook_link if failed else None,
                         provenance=provenance)


def _start_worker() -> None:
    # Ctrl-C reaches every process of the terminal; the parent alone decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_build, name="exit-with-build", daemon=True).start()


def _exit_with_build() -> None:
    """End this worker and its kernel once the build process is gone, however it ended.

    Without this, a worker of a killed build would wait for work for ever (its task queue has
    other writers) and keep its warm kernel alive.
    """
    from multiprocessing.connection import wait

    from analysis.fleet import kernels

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    wait([parent.sentinel])
    kernels.kill_all()
    os._exit(1)


def remove_leftovers(paths: BuildPaths) -> list[Path]:
    """Remove what killed builds left behind: temporary files, scratch folders and kernel
    folders of processes that are gone, and any kernel still running from such a folder."""
    from analysis.fleet import kernels

    removed = kernels.remove_abandoned_kernels()
    removed += remove_abandoned(Path(tempfile.gettempdir()), fleet_platform.BUILD_DIR_STEM)
    for folder in (paths.reports_dir, paths.executed_dir, paths.results_dir, paths.site_dir,
                   paths.cache_dir):
        removed += remove_abandoned(folder)
    return removed


# ----------------------------------------------------------------------------------------------
# Running many units


class Schedule:
    """The units a build runs, released in dependency order.

    A unit without dependencies in this build is keyed at once and runs when stale. A unit with
    dependencies (the national unit of an analysis needs its provinces' results) is keyed only
    once all of them have finished, run or found up to date, because their results are part of
    its key; it then runs if stale. A failed dependency still releases it: the national page
    says which provinces it could not combine.
    """

    def __init__(self, units: list[Unit], paths: BuildPaths, force: bool = False):
        self.paths, self.force = paths, force
        chosen = {unit.unit_id for unit in units}
        self.waiting_for = {unit.unit_id: {d for d in unit.depends_on if d in chosen}
                            for unit in units}
        self.units = {unit.unit_id: unit for unit in units}
        self.keys: dict[str, cache.KeyParts] = {}
        self.settled: set[str] = set()
        self.released: set[str] = set()
        self.to_run: list[Unit] = []
        self.started = 0
        self._release()

    def _release(self) -> None:
        progressed = True
        while progressed:
            progressed = False
            for unit_id, unit in self.units.items():
                if unit_id in self.released or self.waiting_for[unit_id] - self.settled:
                    continue
                self.released.add(unit_id)
                self.keys[unit_id] = key_of(unit, self.paths)
                if self.force or not is_up_to_date(unit, self.keys[unit_id], self.paths):
                    self.to_run.append(unit)
                else:
                    self.settled.add(unit_id)
                    progressed = True

    def ready(self) -> list[Unit]:
        """Units released since the last call, to be run now: the longest first (by their last
        run's time, main pages first when there is none), so that no worker is left with a long
        unit at the end while the others wait."""
        ready = sorted(self.to_run, key=self._expected_seconds, reverse=True)
        self.to_run = []
        self.started += len(ready)
        return ready

    def finished(self, unit_id: str) -> None:
        self.settled.add(unit_id)
        self._release()

    def _expected_seconds(self, unit: Unit) -> float:
        record = cache.read_record(self.paths.cache_dir, unit.unit_id) or {}
        # Main pages (who gains, targets) cost about twice an analysis page.
        return float(record.get("seconds") or (2.0 if unit.overview else 1.0))

    def expected_runs(self) -> int:
        """Units run or to run, as far as known now (a waiting dependent counts as one)."""
        return self.started + len(self.to_run) + len(self.units) - len(self.released)


def _run_schedule(schedule: Schedule, submit, wait_for, on_done) -> None:
    """Submit each released unit, hand each finished one to ``on_done``, release dependents.

    ``wait_for`` is ``concurrent.futures.wait`` or ``distributed.wait`` (the same signature).
    """
    running: dict = {}

    def submit_ready() -> None:
        for unit in schedule.ready():
            running[submit(unit)] = unit

    submit_ready()
    while running:
        done = wait_for(list(running), return_when=FIRST_COMPLETED).done
        finished = {future: running.pop(future) for future in done}
        _deliver(finished, on_done)
        for unit in finished.values():
            schedule.finished(unit.unit_id)
        submit_ready()


def _deliver(finished: dict, on_done) -> None:
    """Hand each finished unit's outcome to ``on_done`` in the order units finish.

    A worker crash is a unit failure, not a build crash.
    """
    for future, unit in finished.items():
        try:
            outcome = future.result()
        except Exception as crash:
            outcome = UnitOutcome(unit.unit_id, "failed", 0.0, f"{type(crash).__name__}: {crash}")
        on_done(unit, outcome)


def _report_progress(progress, outcome: UnitOutcome) -> None:
    progress.set_postfix_str(f"{outcome.unit_id} {outcome.status}")
    progress.update()
    progress.write(f"  {outcome.unit_id:>8}  {outcome.status:<6} {outcome.seconds:5.1f} s"
                   + (f"  {outcome.error}" if outcome.error else ""))


def run_units_locally(schedule: Schedule, paths: BuildPaths, workers: int, on_done) -> None:
    # Workers start from a clean process, never a fork: a forked copy of a parent that already
    # holds ZeroMQ sockets (a parent that ran a kernel itself) can deadlock. "forkserver" where
    # there is one, "spawn" on Windows (analysis.fleet.platform).
    fleet_platform.name_multiprocessing_folder()
    fleet_platform.workers_in_use()
    context = fleet_platform.process_context()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_start_worker)

    try:
        _run_schedule(schedule, lambda unit: pool.submit(execute_unit, unit, paths), wait,
                      on_done)
    except KeyboardInterrupt:
        workers_running = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers_running:
            process.terminate()  # its kernel follows: ipykernel exits when its parent is gone
        for process in workers_running:
            process.join(timeout=10)
        remove_leftovers(paths)
        raise
    pool.shutdown(wait=True)


def run_units_on_cluster(schedule: Schedule, paths: BuildPaths, scheduler: str,
                         on_done) -> None:
    """Run units on an existing Dask cluster; workers need this environment and shared paths."""
    from distributed import Client
    from distributed import wait as wait_on_cluster

    with Client(scheduler) as client:
        submitted = []

        def submit(unit: Unit):
            future = client.submit(execute_unit, unit, paths, pure=False,
                                   key=f"report-unit-{unit.unit_id}-{time.time_ns()}")
            submitted.append(future)
            return future

        try:
            _run_schedule(schedule, submit, wait_on_cluster, on_done)
        except KeyboardInterrupt:
            client.cancel(submitted)
            raise


def run_units(schedule: Schedule, paths: BuildPaths, workers: int,
              scheduler: str | None = None) -> dict[str, UnitOutcome]:
    """Execute the schedule's stale units with a progress bar; record each finished unit in the
    cache at once."""
    outcomes: dict[str, UnitOutcome] = {}
    if not schedule.expected_runs():
        return outcomes
    with tqdm(total=schedule.expected_runs(), desc="reports", unit="unit") as progress:
        def on_done(unit: Unit, outcome: UnitOutcome) -> None:
            outcomes[unit.unit_id] = outcome
            write_cache_record(unit, schedule.keys[unit.unit_id], outcome, paths)
            _report_progress(progress, outcome)

        try:
            if scheduler:
                run_units_on_cluster(schedule, paths, scheduler, on_done)
            else:
                run_units_locally(schedule, paths, workers, on_done)
        except KeyboardInterrupt as interrupt:
            raise BuildInterrupted(len(outcomes), schedule.expected_runs()) from interrupt
        progress.total = len(outcomes)  # dependents found up to date did not run
        progress.refresh()
    return outcomes


# ----------------------------------------------------------------------------------------------
# Site pages and the whole build


def _previous_outcome(unit: Unit, paths: BuildPaths) -> UnitOutcome:
    """A unit not run in this build keeps the status of its last run."""
    record = cache.read_record(paths.cache_dir, unit.unit_id)
    if record is None or not paths.outputs(unit.unit_id)[0].exists():
        return UnitOutcome(unit.unit_id, "not built", 0.0, "not built yet", cached=True)
    return UnitOutcome(unit.unit_id, record.get("status", "failed"), 0.0,
                       record.get("error", ""), cached=True)


def _analysis_results(units: list[Unit], known: dict[str, UnitOutcome], paths: BuildPaths):
    """What each analysis unit recorded (headline and spec), for the matrices."""
    from analysis.reports import matrix

    results = []
    for unit in units:
        if not unit.scope:
            continue
        path = paths.results_dir / f"{unit.unit_id}.json"
        recorded = json.loads(path.read_text()) if path.exists() else {}
        status = known[unit.unit_id].status
        results.append(matrix.UnitResult(unit.unit_id, unit.scope, unit.analysis, status,
                                         site.page_name(unit.unit_id), recorded.get("headline"),
                                         recorded.get("spec")))
    return results


def render_site_pages(units: list[Unit], outcomes: dict[str, UnitOutcome],
                      paths: BuildPaths) -> None:
    """The shared assets, the index, sources and glossary pages (unit pages are rendered by
    their workers)."""
    from analysis.reports import glossary, index_page, matrix, sources_page, tables

    manifest = load_manifest(paths.processed_dir)
    provenance = site.provenance_html(site.git_commit(), manifest.get("inputs", {}), {})
    site.write_assets(paths.site_dir)
    known = {unit.unit_id: outcomes.get(unit.unit_id) or _previous_outcome(unit, paths)
             for unit in units}
    results = _analysis_results(units, known, paths)
    for scope in dict.fromkeys(result.scope for result in results):
        own = [result for result in results if result.scope == scope]
        matrix.inject_matrix(paths.site_dir / site.page_name(scope), matrix.scope_matrix_html(own))
    scope_titles = {unit.scope: unit.title for unit in units if unit.overview}
    analysis_titles = {unit.analysis: spec_of(unit).short_title for unit in units if unit.scope}
    headline = next((unit.analysis for unit in units if unit.overview), None)
    frames = index_page.index_tables(results, tables.load_processed(paths.processed_dir),
                                     analysis_titles, headline, scope_titles)
    index_page.write_index_data(frames, paths.site_dir)
    page_status = {site.page_name(unit.unit_id): known[unit.unit_id].status
                   for unit in units if not unit.scope}
    simulated = is_simulated(manifest)
    site.render_page(paths.site_dir / "index.html", site.SITE_NAME,
                     index_page.index_body(frames, simulated=simulated,
                                           build_date=site.build_date(),
                                           headline_analysis=headline, page_status=page_status),
                     simulated=simulated, provenance=provenance)
    sources = pd.read_parquet(paths.processed_dir / "sources.parquet")
    figures = pd.read_parquet(paths.processed_dir / "figures.parquet")
    site.render_page(paths.site_dir / "sources.html", "Source documents",
                     sources_page.sources_body(sources, figures, paths.raw_dir / "sources"),
                     provenance=provenance)
    site.render_page(paths.site_dir / "glossary.html", "Glossary", glossary.glossary_body())


def replication_outputs(paths: BuildPaths) -> list[Path]:
    return [paths.reports_dir / "REPLICATION.md", paths.site_dir / "replication.html"]


def summary_table(outcomes: dict[str, UnitOutcome]) -> pd.DataFrame:
    rows = [asdict(outcome) for outcome in outcomes.values()]
    table = pd.DataFrame(rows, columns=["unit_id", "status", "seconds", "cached", "error"])
    table["cached"] = table["cached"].map({True: "cached", False: "run"})
    return table.sort_values("unit_id").reset_index(drop=True)


def default_workers() -> int:
    """One worker per core. A worker and its kernel take turns (the kernel computes, then the
    worker renders the page), so the pair keeps one core busy; an extra worker only adds a
    kernel to warm up. Measured on 2 cores, 46 units: 35.0 s with 2 workers, 37.6 s with 3.
    (Before each kernel kept one connected client, papermill's wait for a new client per unit
    left the cores idle and 3 workers were about 10% faster.)"""
    workers = os.cpu_count() or 1
    # Windows' process pools wait on at most 61 process handles.
    return min(workers, 61) if os.name == "nt" else workers


def build(only: list[str] | None = None, workers: int | None = None,
          paths: BuildPaths = BuildPaths(), force: bool = False,
          scheduler: str | None = None, variants: list = (),
          exact: bool = False) -> pd.DataFrame:
    """Build the planned units that changed (all with ``force``) and the site.

    Returns the summary table: one row per unit, run or cached.
    """
    load_manifest(paths.processed_dir)
    remove_leftovers(paths)
    planned = plan_units(paths.processed_dir, plan_path=paths.plan_path)
    chosen = plan_units(paths.processed_dir, only, paths.plan_path, variants, exact)
    schedule = Schedule(chosen, paths, force)
    outcomes = run_units(schedule, paths, workers or default_workers(), scheduler)
    cached = {unit.unit_id: _previous_outcome(unit, paths) for unit in chosen
              if unit.unit_id not in outcomes}
    site_pages = [paths.site_dir / name for name in (
        "index.html", "sources.html", "glossary.html", "assets/site.css", "assets/site.js")]
    if outcomes or not all(page.exists() for page in site_pages):
        render_site_pages(planned, outcomes, paths)
    if outcomes or not all(path.exists() for path in replication_outputs(paths)):
        # A build that ran nothing leaves the replication package as the last one wrote it.
        from analysis.reports import replication

        replication.write_replication(paths, planned)
    return summary_table({**cached, **outcomes})
