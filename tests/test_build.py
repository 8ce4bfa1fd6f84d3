"""Executing report notebooks with papermill and rendering their pages (slow: starts kernels)."""

import json
import re
import shutil
from html.parser import HTMLParser

import nbformat
import pandas as pd
import pytest

from analysis import build, config
from analysis.report import format_value

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
    assert not re.search(r"<script[^>]+src=", page), "page loads a script from elsewhere"
    assert not re.search(r"<link[^>]+href=\"?https?:", page), "page loads a stylesheet"
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


def test_build_runs_units_in_parallel_and_writes_index(paths):
    summary = build.build(only=["national", "50"], workers=2, paths=paths)
    assert summary.set_index("unit_id")["status"].to_dict() == {"50": "ok", "national": "ok"}
    index = (paths.site_dir / "index.html").read_text()
    assert "national.html" in index and "province-50.html" in index
    national = json.loads((paths.results_dir / "national.json").read_text())
    assert national["numbers"]["headline_working_away_2020"]["value"] == 32_430_000
    assert national["numbers"]["headline_assistance_share_2020"]["value"] == 93.8
    page = (paths.site_dir / "national.html").read_text()
    assert "32.43 million" in visible_text(page) and "93.8%" in visible_text(page)
    assert "data:image/png;base64" in page
    _no_network_assets(page)
    sources = (paths.site_dir / "sources.html").read_text()
    assert 'id="MOHRSS-02"' in sources
    assert sources.count("<section") == 5


def test_unknown_unit_is_refused(paths):
    with pytest.raises(build.UnknownUnitError, match="known units"):
        build.plan_units(paths.processed_dir, only=["99"])
