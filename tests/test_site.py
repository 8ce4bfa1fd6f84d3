"""HTML pieces: text from data is escaped; the footer states provenance."""

import pandas as pd

from analysis.reports import report, site

HOSTILE = 'Quote with <script>alert("x")</script> & "marks"'


def test_quotes_in_source_text_are_escaped_and_marked():
    rendered = site.highlight_quotes(f"First paragraph.\n\n{HOSTILE} end.", [("SCIO-01", HOSTILE)])
    assert "<script>" not in rendered
    assert '<mark id="SCIO-01"' in rendered
    assert rendered.count("<p>") == 2


def test_index_escapes_titles_and_summaries():
    page = site.UnitPage("53", HOSTILE, "ok", HOSTILE, "province-53.html", "../n.ipynb")
    body = site.index_body([page], simulated=True)
    assert "<script>" not in body
    assert "simulated demonstration panel" in body


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
