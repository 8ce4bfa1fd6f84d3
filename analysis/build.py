"""The report fleet: plan units, execute each notebook with papermill, render the site.

One unit is one executed notebook: the nation, or one province. Units run in parallel worker
processes; a unit that fails keeps its executed notebook (error cell visible), is marked failed
on the index page, and makes the build's exit status non-zero while the others complete. Every
output is written under a temporary name and renamed into place, so an interrupted build leaves
no half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from analysis import config, site


@dataclass(frozen=True)
class Unit:
    """One report: a notebook and the parameters it is executed with."""

    unit_id: str
    notebook: str  # file name in notebooks/
    title: str
    parameters: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BuildPaths:
    """Where a build reads and writes; tests point these at a temporary tree."""

    notebooks_dir: Path = config.NOTEBOOKS_DIR
    processed_dir: Path = config.PROCESSED_DIR
    reports_dir: Path = config.REPORTS_DIR
    raw_dir: Path = config.RAW_DIR

    @property
    def executed_dir(self) -> Path:
        return self.reports_dir / "notebooks"

    @property
    def results_dir(self) -> Path:
        return self.reports_dir / "results"

    @property
    def site_dir(self) -> Path:
        return self.reports_dir / "site"


@dataclass
class UnitOutcome:
    """How one unit's run ended."""

    unit_id: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""
    cached: bool = False


class UnknownUnitError(ValueError):
    """Raised when ``--only`` names a unit that the plan does not contain."""


def plan_units(processed_dir: Path = config.PROCESSED_DIR,
               only: list[str] | None = None) -> list[Unit]:
    """The national unit plus one unit per poverty-task province and per province with figures."""
    provinces = pd.read_parquet(processed_dir / "provinces.parquet")
    figures = pd.read_parquet(processed_dir / "figures.parquet")
    with_figures = set(figures.loc[figures["scope"] != config.NATIONAL_UNIT, "scope"])
    chosen = provinces[provinces["poverty_task"] | provinces["province_code"].isin(with_figures)]
    units = [Unit(config.NATIONAL_UNIT, "national.ipynb", "National figures")]
    units += [Unit(row.province_code, "province.ipynb", f"{row.name_en} ({row.name_zh})",
                   {"province_code": row.province_code})
              for row in chosen.sort_values("province_code").itertuples()]
    if only:
        known = {unit.unit_id for unit in units}
        unknown = sorted(set(only) - known)
        if unknown:
            raise UnknownUnitError(f"unknown unit(s) {unknown}; known units: {sorted(known)}")
        units = [unit for unit in units if unit.unit_id in only]
    return units


def load_manifest(processed_dir: Path) -> dict:
    path = processed_dir / config.MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m analysis ingest` first")
    return json.loads(path.read_text())


def is_simulated(manifest: dict) -> bool:
    return manifest.get("panel", {}).get("origin") == "simulated"


def _kernel_config(ipc_dir: str):
    """Kernel connection over IPC sockets in a private folder: no TCP ports to collide."""
    from traitlets.config import Config

    kernel_config = Config()
    kernel_config.KernelManager.transport = "ipc"
    kernel_config.KernelManager.ip = os.path.join(ipc_dir, "kernel")
    return kernel_config


def execute_unit(unit: Unit, paths: BuildPaths) -> UnitOutcome:
    """Execute one unit's notebook and render its page; never raises for a notebook error."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    for directory in (paths.executed_dir, paths.results_dir, paths.site_dir):
        directory.mkdir(parents=True, exist_ok=True)
    executed = paths.executed_dir / f"{unit.unit_id}.ipynb"
    results = paths.results_dir / f"{unit.unit_id}.json"
    with tempfile.TemporaryDirectory(prefix=f"unit-{unit.unit_id}-") as scratch:
        partial_notebook = Path(scratch) / executed.name
        partial_results = Path(scratch) / results.name
        parameters = {**unit.parameters, "processed_dir": str(paths.processed_dir),
                      "results_path": str(partial_results)}
        status, error = "ok", ""
        try:
            papermill.execute_notebook(
                str(paths.notebooks_dir / unit.notebook), str(partial_notebook),
                parameters=parameters, cwd=str(paths.notebooks_dir), progress_bar=False,
                kernel_name="python3", config=_kernel_config(scratch))
        except PapermillExecutionError as failure:
            status, error = "failed", f"{failure.ename}: {failure.evalue}"
        if not partial_notebook.exists():
            raise RuntimeError(f"papermill wrote no notebook for unit {unit.unit_id}")
        _stamp_unit_metadata(partial_notebook, unit, status)
        shutil.move(str(partial_notebook), executed)
        if status == "ok":
            shutil.move(str(partial_results), results)
        else:
            results.unlink(missing_ok=True)  # a stale result must not outlive a failed run
    render_unit_page(unit, paths, failed=status == "failed")
    return UnitOutcome(unit.unit_id, status, time.perf_counter() - started, error)


def _stamp_unit_metadata(notebook_path: Path, unit: Unit, status: str) -> None:
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.metadata["analysis"] = {"unit": unit.unit_id, "title": unit.title,
                                     "parameters": unit.parameters, "status": status}
    nbformat.write(notebook, notebook_path)


def render_unit_page(unit: Unit, paths: BuildPaths, failed: bool) -> None:
    manifest = load_manifest(paths.processed_dir)
    notebook_link = f"../notebooks/{unit.unit_id}.ipynb"
    header = site.navigation_html() + site.banner_html(
        simulated=is_simulated(manifest), failed_notebook=notebook_link if failed else None)
    footer = site.provenance_html(site.git_commit(), manifest.get("inputs", {}),
                                  {"unit": unit.unit_id, **unit.parameters})
    site.render_notebook(paths.executed_dir / f"{unit.unit_id}.ipynb",
                         paths.site_dir / site.page_name(unit.unit_id), header, footer)


def _unit_page(unit: Unit, outcome: UnitOutcome, paths: BuildPaths) -> site.UnitPage:
    results_path = paths.results_dir / f"{unit.unit_id}.json"
    summary = ""
    if outcome.status == "ok" and results_path.exists():
        summary = json.loads(results_path.read_text()).get("summary", "")
    elif outcome.status == "failed":
        summary = outcome.error
    return site.UnitPage(unit.unit_id, unit.title, outcome.status, summary,
                         site.page_name(unit.unit_id), f"../notebooks/{unit.unit_id}.ipynb",
                         outcome.seconds, outcome.cached)


def _previous_outcome(unit: Unit, paths: BuildPaths) -> UnitOutcome:
    """A unit not run in this build keeps the status of its last executed notebook."""
    import nbformat

    executed = paths.executed_dir / f"{unit.unit_id}.ipynb"
    if not executed.exists():
        return UnitOutcome(unit.unit_id, "not built", 0.0, "not built yet")
    status = nbformat.read(executed, as_version=4).metadata.get("analysis", {}).get("status")
    return UnitOutcome(unit.unit_id, status or "failed", 0.0, cached=True)


def render_site_pages(units: list[Unit], outcomes: dict[str, UnitOutcome],
                      paths: BuildPaths) -> None:
    """The index and the sources page (unit pages are rendered by their workers)."""
    manifest = load_manifest(paths.processed_dir)
    header = site.navigation_html()
    footer = site.provenance_html(site.git_commit(), manifest.get("inputs", {}), {})
    pages = [_unit_page(unit, outcomes.get(unit.unit_id) or _previous_outcome(unit, paths), paths)
             for unit in units]
    site.render_page(paths.site_dir / "index.html", "Employment-based poverty alleviation reports",
                     site.index_body(pages, is_simulated(manifest)), header, footer)
    sources = pd.read_parquet(paths.processed_dir / "sources.parquet")
    figures = pd.read_parquet(paths.processed_dir / "figures.parquet")
    site.render_page(paths.site_dir / "sources.html", "Source documents",
                     site.sources_body(sources, figures, paths.raw_dir / "sources"),
                     header, footer)


def run_units(units: list[Unit], paths: BuildPaths, workers: int) -> dict[str, UnitOutcome]:
    """Execute units in parallel with a progress bar; a failing unit does not stop the others."""
    outcomes: dict[str, UnitOutcome] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(units), desc="reports", unit="unit") as progress:
        futures = {pool.submit(execute_unit, unit, paths): unit for unit in units}
        for future in as_completed(futures):
            unit = futures[future]
            try:
                outcome = future.result()
            except Exception as crash:  # a worker crash is a unit failure, not a build crash
                outcome = UnitOutcome(unit.unit_id, "failed", 0.0, f"{type(crash).__name__}: "
                                      f"{crash}")
            outcomes[unit.unit_id] = outcome
            progress.set_postfix_str(f"{unit.unit_id} {outcome.status}")
            progress.update()
    return outcomes


def summary_table(outcomes: dict[str, UnitOutcome]) -> pd.DataFrame:
    rows = [asdict(outcome) for outcome in outcomes.values()]
    table = pd.DataFrame(rows, columns=["unit_id", "status", "seconds", "cached", "error"])
    return table.sort_values("unit_id").reset_index(drop=True)


def build(only: list[str] | None = None, workers: int | None = None,
          paths: BuildPaths = BuildPaths()) -> pd.DataFrame:
    """Build every planned unit and the site; return the summary table."""
    load_manifest(paths.processed_dir)
    planned = plan_units(paths.processed_dir)
    chosen = plan_units(paths.processed_dir, only)
    outcomes = run_units(chosen, paths, workers or os.cpu_count() or 1)
    render_site_pages(planned, outcomes, paths)
    return summary_table(outcomes)
