"""The replication package every build writes (reports/REPLICATION.md, site/replication.html)."""

import json
import re

import pandas as pd
import pytest

from analysis import config
from analysis.fleet import build
from analysis.reports import replication, site


@pytest.fixture
def written(processed_dir, raw_copy, tmp_path):
    """REPLICATION.md of a tree where one unit ran and the others have not yet."""
    sources = pd.read_csv(raw_copy / "sources.csv", dtype=str, keep_default_na=False)
    sources.loc[0, "title"] = "Notice <script>alert(1)</script> | with a pipe"
    sources.to_csv(raw_copy / "sources.csv", index=False)
    paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "reports",
                             raw_copy)
    units = build.plan_units(processed_dir, plan_path=paths.plan_path)
    ran = next(unit for unit in units if unit.unit_id == "53")
    build.write_cache_record(ran, build.key_of(ran, paths),
                             build.UnitOutcome("53", "ok", 12.5), paths)
    path = replication.write_replication(paths, units)
    return paths, units, path.read_text(encoding="utf-8")


def _seed_rows(text: str) -> list[list[str]]:
    section = text.split("### Controlled randomness")[1].split("\n## ")[0]
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| ")][1:]


def test_lists_every_page_with_its_notebook_parameters_and_inputs(written):
    paths, units, text = written
    outputs = text.split("## Outputs")[1]
    for unit in units:
        row = next(line for line in outputs.splitlines()
                   if line.startswith(f"| site/{site.page_name(unit.unit_id)} |"))
        assert f"notebooks/{unit.notebook}" in row
        for key in unit.parameters:
            assert f"{key}=" in row
    for page in ("index.html", "sources.html", "replication.html"):
        assert f"site/{page}" in outputs
    row_53 = next(line for line in outputs.splitlines()
                  if line.startswith("| site/province-53.html |"))
    assert "panel/53.parquet" in row_53 and "| ok | 12.5 |" in row_53
    assert "pe.analyse: 53" in row_53  # the notebook's seed=int(province_code), resolved


def test_lists_every_seed_written_in_the_code_and_the_notebooks(written):
    _, _, text = written
    rows = _seed_rows(text)
    listed = {(where, value) for where, _, value in rows}
    written_seeds = set()
    for path in sorted((config.PROJECT_ROOT / "analysis").rglob("*.py")):
        where = str(path.relative_to(config.PROJECT_ROOT))
        for value in re.findall(r"(?i)\bseed\b\s*(?::\s*int\s*)?=\s*(\d+)|_SEED\s*=\s*(\d+)",
                                path.read_text(encoding="utf-8")):
            written_seeds.add((where, "".join(value)))
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for value in re.findall(r"\bseed=(\w+\(\w+\)|\w+)", code):
            written_seeds.add((f"notebooks/{path.name}", value))
    assert written_seeds and written_seeds <= listed, written_seeds - listed
    assert ("analysis/config.py", str(config.DEMO_SEED)) in listed
    panel_seed = json.loads((config.PROJECT_ROOT / "benchmarks" / "results"
                             / "monte_carlo.json").read_text())["seed"]
    assert ("benchmarks/results/monte_carlo.json", str(panel_seed)) in listed


def test_has_the_sections_of_the_aea_and_world_bank_templates(written):
    _, _, text = written
    for heading in ("## Overview", "## Instructions to replicators",
                    "## Data availability and provenance", "## Computational requirements",
                    "### Software", "### Hardware and runtime", "### Controlled randomness",
                    "## Outputs"):
        assert f"\n{heading}\n" in text
    assert "12 seconds of unit time" in text or "13 seconds of unit time" in text


def test_data_availability_gives_source_licence_and_simulation_of_each_input(written):
    paths, _, text = written
    data = text.split("## Data availability and provenance")[1].split("\n## ")[0]
    sources = pd.read_csv(paths.raw_dir / "sources.csv", dtype=str)
    for source in sources.itertuples():
        assert f"data/raw/sources/{source.file}" in data
    panel_row = next(line for line in data.splitlines() if line.startswith("| Person-year"))
    assert panel_row.rstrip(" |-").endswith("| yes")  # simulated
    assert "GPL-3" in data and "data/raw/published_figures.csv" in data
    assert "with a pipe" in data and "\\| with a pipe" in data  # one cell, not two


def test_software_lists_every_locked_package_with_its_version(written):
    _, _, text = written
    software = text.split("### Software")[1].split("\n### ")[0]
    pinned = replication.locked_versions()
    assert len(pinned) > 50
    for name, version in pinned.items():
        assert f"| {name} | {version} |" in software


def test_the_site_page_shows_data_text_as_text(written):
    paths, _, _ = written
    page = (paths.site_dir / "replication.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<table>" in page and "replication.html" in page


def test_every_build_writes_it(processed_dir, tmp_path, monkeypatch):
    paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / "reports",
                             config.RAW_DIR)
    monkeypatch.setattr(build, "run_units", lambda *args, **kwargs: {})  # no kernels here
    build.build(only=["methods"], paths=paths)
    assert "## Outputs" in (paths.reports_dir / "REPLICATION.md").read_text(encoding="utf-8")
    assert (paths.site_dir / "replication.html").exists()
