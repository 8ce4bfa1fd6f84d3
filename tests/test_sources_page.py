"""The sources page gives every ledger figure exactly one anchor, and names each document's
publisher and date."""

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from analysis import config
from analysis.reports import sources_page


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.ids += [value for name, value in attrs if name == "id"]
        if tag in ("mark", "span", "p", "section", "ul", "li"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in ("mark", "span", "p", "section", "ul", "li"):
            assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
            self.open.pop()


def _ids(body: str) -> list[str]:
    parser = _Ids()
    parser.feed(body)
    assert not parser.open, f"unclosed {parser.open}"
    return parser.ids


@pytest.fixture(scope="module")
def page(processed_dir):
    # The session's own ingest of the committed raw data (a fresh clone has no data/processed).
    sources = pd.read_parquet(processed_dir / "sources.parquet")
    figures = pd.read_parquet(processed_dir / "figures.parquet")
    body = sources_page.sources_body(sources, figures, config.RAW_DIR / "sources")
    return sources, figures, body


def test_every_ledger_figure_has_exactly_one_anchor(page):
    _, figures, body = page
    ids = _ids(body)
    for figure_id in figures["figure_id"]:
        assert ids.count(figure_id) == 1, figure_id
    # The quotes that once had no anchor: overlapping another figure's quote, or differing in
    # typography from the text.
    for figure_id in ("SCIO-08", "SCIO-10", "SCIO-11", "CQ-03", "YN-04", "YN-10"):
        assert f'id="{figure_id}"' in body or f"id='{figure_id}'" in body


def test_each_document_names_its_publisher_and_date(page):
    sources, _, body = page
    for source in sources.itertuples():
        section = body[body.index(f"<section id='{source.source_id}'>"):]
        section = section[:section.index("</section>")]
        date = pd.Timestamp(source.published)
        assert f"Published by <strong>{source.publisher.replace(chr(39), '&#x27;')}" \
               "</strong>" in section
        assert f"{date.day} {date:%B %Y}" in section
    assert body.startswith("<p>The five source documents")


def test_overlapping_and_identical_quotes_each_get_an_anchor_in_valid_markup():
    text = "Alpha beta gamma delta. Epsilon zeta eta."
    quotes = [("A-1", "Alpha beta gamma"), ("A-2", "beta gamma delta"),
              ("A-3", "Alpha beta gamma"), ("A-4", "Epsilon zeta"), ("A-5", "not in the text")]
    rendered = sources_page.highlight_quotes(text, quotes)
    assert sorted(_ids(rendered)) == ["A-1", "A-2", "A-3", "A-4"]
    assert '<mark id="A-1"' in rendered and '<mark id="A-4"' in rendered
    assert '<span class="anchor" id="A-2"' in rendered
    assert '<span class="anchor" id="A-3"' in rendered
    # The text itself is unchanged once the markup is removed.
    assert re.sub(r"<[^>]+>", "", rendered) == text
    assert sources_page.missing_quotes(text, quotes) == [("A-5", "not in the text")]


def test_quotes_differing_in_typography_or_escaping_are_found():
    text = "By 2025, the city\u2019s population will remain at 760,000 &amp; more."
    rendered = sources_page.highlight_quotes(text, [("CQ-X", "the city's population"),
                                                    ("CQ-Y", "760,000 & more")])
    assert '<mark id="CQ-X"' in rendered and '<mark id="CQ-Y"' in rendered
    assert "city\u2019s" in rendered  # the document's own typography is kept


def test_a_missing_quote_is_listed_with_its_anchor(tmp_path):
    (tmp_path / "doc.txt").write_text("Only this sentence.", encoding="utf-8")
    sources = pd.DataFrame({"source_id": ["doc_1"], "file": ["doc.txt"], "title": ["A doc"],
                            "publisher": ["A publisher"],
                            "published": [pd.Timestamp("2021-01-26")],
                            "published_inferred": [False], "date_basis": ["Dated."]})
    figures = pd.DataFrame({"figure_id": ["D-1"], "source_id": ["doc_1"],
                            "quote": ["A sentence that is not there."]})
    body = sources_page.sources_body(sources, figures, tmp_path)
    assert "not found verbatim" in body and _ids(body).count("D-1") == 1
    assert "26 January 2021" in body and body.startswith("<p>The source document, verbatim")
