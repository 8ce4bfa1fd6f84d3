"""HTML pieces: text from data is escaped; the footer states provenance."""

import re

import pandas as pd
import pytest

from analysis.reports import report, site

HOSTILE = 'Quote with <script>alert("x")</script> & "marks"'


def test_quotes_in_source_text_are_escaped_and_marked():
    from analysis.reports import sources_page

    rendered = sources_page.highlight_quotes(f"First paragraph.\n\n{HOSTILE} end.",
                                             [("SCIO-01", HOSTILE)])
    assert "<script>" not in rendered
    assert '<mark id="SCIO-01"' in rendered
    assert rendered.count("<p>") == 2


def test_report_tables_escape_cells_but_keep_package_links(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "display", lambda item: shown.append(item.data))
    unit = report.UnitReport("53", "Yunnan")
    table = pd.DataFrame({"quote": [HOSTILE], "source": ['<a href="sources.html#X">X</a>']})
    unit.table("quotes", table, html_columns=("source",))
    assert "<script>" not in shown[0] and '<a href="sources.html#X">' in shown[0]
    assert unit.as_dict()["tables"]["quotes"] == [{"quote": HOSTILE,
                                                  "source": '<a href="sources.html#X">X</a>'}]


def test_a_result_name_cannot_be_used_twice():
    unit = report.UnitReport("national", "National")
    unit.number("x", 1.0, "count")
    try:
        unit.number("x", 2.0, "count")
    except ValueError as error:
        assert "used twice" in str(error)
    else:
        raise AssertionError("duplicate result name accepted")


def test_format_value_by_unit():
    assert report.format_value(32_430_000, "persons") == "32.43 million"
    assert report.format_value(440_000, "persons") == "440,000"
    assert report.format_value(93.8, "percent") == "93.8%"
    assert report.format_value(2_700_000, "persons", "more_than") == "more than 2.70 million"
    assert report.format_value(float("nan"), "persons") == "not given in the source"


def test_provenance_footer_names_commit_hashes_packages_and_parameters():
    footer = site.provenance_html("abc123", {"data/raw/x.csv": "f" * 64}, {"unit": "53"})
    assert "abc123" in footer and "ffffffffffffffff" in footer
    assert "pandas" in footer and "unit=&#x27;53&#x27;" in footer


# ----------------------------------------------------------------------------------------------
# The page shell, charts, tables and downloads


def _shown(monkeypatch) -> list[str]:
    shown = []
    monkeypatch.setattr(report, "display", lambda item: shown.append(item.data))
    return shown


def _chart(title: str):
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4, 2))
    axes.plot([0, 1], [2, 3])
    axes.set_title(title)
    return figure


def test_charts_are_inline_svg_with_their_alt_text_and_no_repeated_ids():
    import re

    first = report.figure_svg(_chart("Hebei (河北省) rose"), "Employment rose from 2 to 3")
    second = report.figure_svg(_chart("Another chart"), "A second chart")
    assert first.startswith("<svg role='img' aria-label='Employment rose from 2 to 3'")
    assert "<title>Employment rose from 2 to 3</title>" in first
    assert "河北省" in first  # text kept as text, drawn by the reader's fonts
    ids = re.findall(r' id="([^"]+)"', first) + re.findall(r' id="([^"]+)"', second)
    shared = {found for found in ids if ids.count(found) > 1}
    # Only identical clip paths or markers (same content, same hashed id) may repeat.
    assert all(re.search(rf'id="{found}"', first) and re.search(rf'id="{found}"', second)
               for found in shared)
    assert "figure_1" not in first and "<?xml" not in first
    assert report.figure_svg(_chart("Same"), "x") == report.figure_svg(_chart("Same"), "x")


def test_a_chart_needs_alt_text_and_records_its_data_for_download(monkeypatch, tmp_path):
    shown = _shown(monkeypatch)
    unit = report.UnitReport("53", "Yunnan", results_path=tmp_path / "53-training_x.json")
    data = pd.DataFrame({"year": [2019, 2020], "value": [0.5, 0.75]})
    unit.figure(_chart("t"), "trend", "Value rose from 0.5 to 0.75", data=data)
    assert "<figure class='chart'>" in shown[0] and "aria-label='Value rose" in shown[0]
    assert "href='data/53-training_x/trend.csv'" in shown[0]
    assert unit.as_dict()["tables"]["trend"] == [{"year": 2019, "value": 0.5},
                                                {"year": 2020, "value": 0.75}]
    with pytest.raises(ValueError, match="alt text"):
        unit.figure(_chart("t"), "other", "  ")


def test_tables_show_reader_names_and_numbers_for_people(monkeypatch):
    shown = _shown(monkeypatch)
    unit = report.UnitReport("53", "Yunnan")
    table = pd.DataFrame({"ci_low": [-0.00001, 0.25], "n_clusters": [4.0, 12.0],
                          "persons": [17_160_000.0, None], "covers_truth": [True, False]})
    unit.table("estimates", table, caption="Estimates")
    page = shown[0]
    assert "95% interval, low" in page and "ci_low" not in page
    assert "<td>0.000</td>" in page and "-0.000" not in page
    assert "<td>4</td>" in page and "4.000" not in page
    assert "17,160,000" in page and "nan" not in page.lower().replace("nano", "")
    assert "<td>yes</td>" in page and "True" not in page
    assert "class='table-scroll'" in page and "data-link" not in page  # no results path


def test_details_fold_everything_shown_inside_into_one_element(monkeypatch):
    shown = _shown(monkeypatch)
    unit = report.UnitReport("53", "Yunnan")
    with unit.details("Technical details: balance"):
        unit.say("Balance **improves** after weighting.")
        unit.table("balance", pd.DataFrame({"smd": [0.1]}))
    unit.say("After the fold.")
    assert len(shown) == 2
    assert shown[0].startswith("<details class='technical'><summary>Technical details: balance")
    assert "<strong>improves</strong>" in shown[0] and "<table" in shown[0]
    assert shown[1] == "After the fold."


def test_csv_downloads_are_the_recorded_tables_without_markup(tmp_path):
    import csv
    import json

    results = tmp_path / "53.json"
    records = [{"figure_id": '<a href="sources.html#YN-01">YN-01</a>', "value": 13.0,
                "note": None}, {"figure_id": "YN-02", "value": 10000.0, "note": "a, b"}]
    results.write_text(json.dumps({"tables": {"figures_53": records}}))
    written = site.write_unit_data(results, tmp_path / "site", "53")
    assert written == [tmp_path / "site" / "data" / "53" / "figures_53.csv"]
    rows = list(csv.DictReader(written[0].open()))
    assert rows == [{"figure_id": "YN-01", "value": "13.0", "note": ""},
                    {"figure_id": "YN-02", "value": "10000.0", "note": "a, b"}]


def test_every_page_has_the_shell_date_version_licence_and_shared_assets(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    page = site.page_html("Yunnan: training and stable employment", "<p>Body</p>",
                          current="province-53.html", simulated=True)
    assert "<title>Yunnan: training and stable employment · " in page
    assert page.count("<h1>") == 1
    assert "<link rel=\"stylesheet\" href=\"assets/site.css\">" in page and "<style>" not in page
    assert "built 2023-11-14" in page and "MIT licence" in page
    assert "href='index.html#cite'" in page and "version " in page
    assert "simulated demonstration panel" in page
    site.write_assets(tmp_path)
    css = (tmp_path / "assets" / "site.css").read_text()
    assert css.startswith((site.TEMPLATES_DIR / "site.css").read_text())
    assert (tmp_path / "assets" / "site.js").exists()


def test_empty_html_elements_are_closed_as_a_browser_reads_them():
    # A browser ignores the slash of <a ... />: the anchor would stay open and hide what follows.
    heading = '<h2 id="a">Title<a class="anchor-link" href="#a" /></h2><p>Text</p>'
    assert site.close_empty_elements(heading) == \
        '<h2 id="a">Title<a class="anchor-link" href="#a"></a></h2><p>Text</p>'
    # Quoted attributes may hold ">"; void elements and SVG may close themselves.
    assert site.close_empty_elements('<div title="a > b"/>') == '<div title="a > b"></div>'
    kept = '<br/><hr /><svg viewBox="0 0 1 1"><path d="M0 0"/><g><rect/></g></svg><br/>'
    assert site.close_empty_elements(kept) == kept
    assert site.close_empty_elements('<svg><path/></svg><span/>') == \
        '<svg><path/></svg><span></span>'
    # Scripts and styles are text, never tags.
    script = '<script>var markup = "<a/>";</script><style>a::after{content:"<b/>"}</style>'
    assert site.close_empty_elements(script) == script
    # Images without alt text get nbconvert's placeholder, as its exporter gives them.
    assert site.close_empty_elements('<img src="x.png">') == \
        f'<img src="x.png" alt="{site.MISSING_ALT}">'
    assert site.close_empty_elements('<img alt="" src="x.png"/>') == '<img alt="" src="x.png"/>'
    assert site.close_empty_elements('<img alt src=x>') == '<img alt src=x>'
    assert site.close_empty_elements('<img title="no alt=here" src=x>') == \
        f'<img title="no alt=here" src=x alt="{site.MISSING_ALT}">'
    # The slash after an unquoted value is part of the value, as a browser reads it.
    unquoted = '<a href=https://example.org/>site</a>'
    assert site.close_empty_elements(unquoted) == unquoted
    assert site.close_empty_elements('<a href=x />') == '<a href=x></a>'
    # Tags in comments and CDATA are not tags: they neither open SVG nor start a script.
    assert site.close_empty_elements('<!-- <svg> <script> --><a href="#a"/>') == \
        '<!-- <svg> <script> --><a href="#a"></a>'
    assert site.close_empty_elements('<![CDATA[<a/>]]><b/>') == '<![CDATA[<a/>]]><b></b>'


def test_page_exporter_gives_what_nbconvert_gives_without_its_rewriting_pass():
    """The exporter skips nbconvert's BeautifulSoup pass; parsed back, its markup must equal
    nbconvert's own (which is that pass's output) for every kind of cell and output."""
    import nbformat
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    cells = [
        nbformat.v4.new_markdown_cell("# Title\n\n## A section\n\nSome *text* & a [link](#x)."),
        nbformat.v4.new_code_cell("shown()", outputs=[
            nbformat.v4.new_output("display_data", data={
                "text/html": "<figure><svg viewBox='0 0 2 2'><path d='M0 0'/></svg></figure>"}),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
            nbformat.v4.new_output("stream", name="stdout", text="a < b\n"),
            nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                   traceback=["ValueError: bad"])]),
        nbformat.v4.new_markdown_cell("### Closing words\n\n<br/>Done."),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    ours, _ = site._page_exporter().from_notebook_node(notebook)
    theirs, _ = HTMLExporter(template_name="basic", exclude_input=True,
                             exclude_input_prompt=True, exclude_output_prompt=True,
                             anchor_link_text="").from_notebook_node(notebook)
    assert ours != theirs  # the pass was skipped: the markup is not re-written
    assert str(BeautifulSoup(ours, "html.parser")) == theirs
    assert "anchor-link" in ours and site.MISSING_ALT in ours
    # BeautifulSoup closes <a ... /> as it parses; a browser would not.
    assert not re.search(r"<a\b[^>]*/>", ours)
