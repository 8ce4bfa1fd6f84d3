"""Safe rendering and parameters: text from data reaches a page as text, never as markup, and
unknown units are refused before any notebook runs."""

import shutil

import pandas as pd
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from analysis import cli, config
from analysis.fleet import build
from analysis.reports import pages, report

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _said(monkeypatch) -> list[str]:
    """Collect what a UnitReport displays, as the HTML a page would get from it."""
    shown = []

    def display(item):
        data = item.data
        shown.append(markdown2html_mistune(data) if type(item).__name__ == "Markdown" else data)

    monkeypatch.setattr(report, "display", display)
    return shown


def test_escaped_data_text_renders_as_the_same_text():
    hostile = f"Quote {SCRIPT} with *stars*, [a link](javascript:alert(2)) & a | pipe\n\n# not"
    rendered = markdown2html_mistune(report.escape_markdown(hostile))
    assert "<script" not in rendered and "<a " not in rendered and "<h1" not in rendered
    assert ESCAPED_SCRIPT in rendered
    assert "*stars*" in rendered and "[a link](javascript:alert(2))" in rendered
    assert "&amp; a | pipe # not" in rendered


def test_say_refuses_raw_html_but_not_code_or_escaped_text(monkeypatch):
    shown = _said(monkeypatch)
    unit = report.UnitReport("53", "Yunnan")
    with pytest.raises(report.RawHtmlError, match="escape_markdown"):
        unit.say(f"In Yunnan {SCRIPT}")
    unit.say("The file ``effect_<outcome>`` holds x < y; months > 0.")
    unit.say(f"In {report.escape_markdown(SCRIPT)}")
    assert len(shown) == 2 and ESCAPED_SCRIPT in shown[1]


def test_province_header_escapes_names_from_the_province_table(monkeypatch):
    from analysis.estimators.spec import AnalysisSpec

    shown = _said(monkeypatch)
    provinces = pd.DataFrame({"province_code": ["53"], "name_en": [f"Yunnan {SCRIPT}"],
                              "name_zh": ["云南省"], "region": ["west *wild*"],
                              "poverty_task": [True]})
    figures = pd.DataFrame({"scope": ["53"], "kind": ["target"]})
    unit = report.UnitReport("53", "Yunnan")
    for overview in (True, False):
        pages.province_header(unit, {"provinces": provinces, "figures": figures}, "53",
                              AnalysisSpec(), overview)
    page = "".join(shown)
    assert "<script" not in page and ESCAPED_SCRIPT in page
    assert "West *wild* region" in page
    assert "href=\"province-53.html\"" in page


@pytest.mark.slow
def test_a_quote_and_a_name_holding_script_are_shown_as_text_on_built_pages(
        processed_dir, raw_copy, tmp_path):
    processed = tmp_path / "processed"
    shutil.copytree(processed_dir, processed)
    figures = pd.read_parquet(processed / "figures.parquet")
    row = figures.index[figures["scope"] == "53"][0]
    source = raw_copy / "sources" / pd.read_parquet(processed / "sources.parquet").set_index(
        "source_id").loc[figures.loc[row, "source_id"], "file"]
    quote = f"Officials said {SCRIPT} twice."
    source.write_text(source.read_text(encoding="utf-8") + f"\n\n{quote}\n", encoding="utf-8")
    figures.loc[row, "quote"] = quote
    figures.to_parquet(processed / "figures.parquet")
    provinces = pd.read_parquet(processed / "provinces.parquet")
    provinces.loc[provinces["province_code"] == "53", "name_en"] = "Yunnan <b>bold</b>"
    provinces.to_parquet(processed / "provinces.parquet")

    paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed, tmp_path / "reports", raw_copy)
    unit = build.Unit("53", "province.ipynb", "Yunnan", {"province_code": "53"})
    outcome = build.execute_unit(unit, paths)
    assert outcome.status == "ok", outcome.error
    page = (paths.site_dir / "province-53.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and ESCAPED_SCRIPT in page
    assert "<b>bold</b>" not in page and "Yunnan &lt;b&gt;bold&lt;/b&gt;" in page

    build.render_site_pages([unit], {"53": outcome}, paths)
    sources = (paths.site_dir / "sources.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in sources and ESCAPED_SCRIPT in sources


# ----------------------------------------------------------------------------------------------
# Unit parameters are checked before any notebook runs


@pytest.fixture
def project(processed_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "PROCESSED_DIR", processed_dir)
    monkeypatch.setattr(config, "REPORTS_DIR", tmp_path / "reports")
    return tmp_path / "reports"


@pytest.mark.parametrize("name, sentence", [
    ("99", "'99' is not a province code of data/raw/provinces.csv"),
    ("53-nonsense", "'nonsense' is not an analysis of notebooks/analysis_plan.csv"),
    ("53-training_stable_employment", "is its main page '53'"),
])
def test_unknown_units_are_refused_with_a_sentence_before_anything_runs(project, capsys, name,
                                                                         sentence):
    assert cli.main(["build", "--only", name]) == cli.EXIT_FAILED
    assert sentence in capsys.readouterr().err
    assert not project.exists()


def test_a_province_without_pages_is_named(processed_dir, project, capsys):
    provinces = pd.read_parquet(processed_dir / "provinces.parquet")
    scopes = {unit.scope for unit in build.plan_units(processed_dir)}
    without = provinces[~provinces["province_code"].isin(scopes)]
    if without.empty:
        pytest.skip("every province of this panel has pages")
    without = without.iloc[0]
    assert cli.main(["build", "--only", without["province_code"]]) == cli.EXIT_FAILED
    assert f"{without['name_en']} ({without['province_code']}) has no pages" in \
        capsys.readouterr().err


@pytest.mark.parametrize("parameter, sentence", [
    ("program=nonsense", "program: unknown value 'nonsense'"),
    ("province_code=53", "province_code: not a field of an analysis"),
    ("name=../../etc", "must be lower-case letters, digits and underscores"),
])
def test_unknown_parameters_are_refused_before_anything_runs(project, capsys, parameter,
                                                             sentence):
    assert cli.main(["build", "--only", "53", "-p", parameter]) == cli.EXIT_FAILED
    assert sentence in capsys.readouterr().err
    assert not project.exists()
