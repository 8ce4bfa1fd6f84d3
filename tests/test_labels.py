"""Pages speak the reader's language: every table header is a name chosen in labels.py, and the
visible text of built pages holds no code identifiers, nan, None, True/False or -0.0."""

import re
from html.parser import HTMLParser

import pytest

from analysis import config
from analysis.reports import labels


def test_a_column_is_shown_by_its_label_or_its_words():
    assert labels.column_label("std_error") == "Standard error"
    assert labels.column_label("what it estimates") == "What it estimates"
    assert labels.column_label("some_new_column") == "Some new column"


def test_labels_are_words():
    for column, label in labels.COLUMN_LABELS.items():
        assert label.strip() and "_" not in label, column
        assert label[0].isupper() or label[0].isdigit() or label.startswith("p-"), label


# ----------------------------------------------------------------------------------------------
# Built pages (slow: runs notebooks on the small simulated panel of the test session)

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
FORBIDDEN = [(SNAKE, "code identifier"), (re.compile(r"\bnan\b", re.I), "nan"),
             (re.compile(r"\bNone\b"), "None"), (re.compile(r"\b(?:True|False)\b"), "True/False"),
             (re.compile(r"(?<![\d.])-0\.0+(?!\d)"), "-0.0"),
             (re.compile(r"Traceback|converge|\w+Error\b|:func:|:mod:|:class:"),
              "exception or markup"),
             (re.compile(r"\bin (?:in|across|among)\b"), "doubled preposition")]


class _Page(HTMLParser):
    """Visible text (with whether it lies in folded code), table headers and charts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[tuple[str, bool]] = []
        self.headers: list[str] = []
        self.headings: list[str] = []
        self.charts: list[str] = []
        self.tables: list[int] = []  # body rows of each report table
        self._header = None
        self._heading = None
        self._report_tables: list[bool] = []  # open tables: is each a report table?

    VOID = {"br", "img", "meta", "link", "input", "hr", "path", "use", "rect", "circle",
            "line", "polyline", "polygon", "ellipse", "stop"}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "svg":
            self.charts.append(attributes.get("aria-label") or "")
        in_report = bool(self._report_tables and self._report_tables[-1])
        if tag == "table":
            in_report = "report-table" in (attributes.get("class") or "")
            self._report_tables.append(in_report)
            if in_report:
                self.tables.append(0)
        if tag == "tr" and in_report and "tbody" in self.stack:
            self.tables[-1] += 1
        if tag == "th" and in_report and "thead" in self.stack:
            self._header = ""
        if tag in ("h1", "h2", "h3"):
            self._heading = ""
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "table" and self._report_tables:
            self._report_tables.pop()
        if tag == "th" and self._header is not None:
            self.headers.append(self._header.strip())
            self._header = None
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if {"script", "style"} & set(self.stack):
            return
        folded_code = "code" in self.stack and "details" in self.stack
        self.text.append((data, folded_code))
        if self._header is not None:
            self._header += data
        if self._heading is not None:
            self._heading += data


@pytest.fixture(scope="module")
def site(processed_dir, tmp_path_factory):
    from analysis.fleet import build

    paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir,
                             tmp_path_factory.mktemp("plain") / "reports", config.RAW_DIR)
    summary = build.build(only=["54", "national", "methods", "validation"], workers=2,
                          paths=paths, exact=True)
    assert set(summary["status"]) == {"ok"}, summary
    pages = {}
    for name in ("province-54.html", "national.html", "methods.html", "validation.html"):
        parser = _Page()
        parser.feed((paths.site_dir / name).read_text(encoding="utf-8"))
        pages[name] = parser
    return pages


@pytest.mark.slow
def test_visible_text_holds_no_identifiers_nan_or_negative_zero(site):
    for name, page in site.items():
        for text, folded_code in page.text:
            if folded_code:  # identifiers are allowed as code inside folded details
                continue
            for pattern, what in FORBIDDEN:
                match = pattern.search(text)
                assert not match, (f"{name}: {what} {match.group(0)!r} in "
                                   f"{text[max(0, match.start() - 60):match.end() + 40]!r}")


@pytest.mark.slow
def test_every_table_header_is_a_chosen_label_and_no_table_is_empty(site):
    chosen = set(labels.COLUMN_LABELS.values())
    for name, page in site.items():
        assert page.tables and all(page.tables), f"{name}: an empty table is shown"
        for header in page.headers:
            assert header in chosen, f"{name}: column {header!r} has no entry in COLUMN_LABELS"


@pytest.mark.slow
def test_charts_are_described_and_simulated_ones_say_so_in_their_title(site):
    for name in ("province-54.html", "national.html"):
        charts = site[name].charts
        assert charts and all(alt.strip() for alt in charts), name
        published = ("Poor laborers working away", "reached the most poor laborers")
        for alt in charts:
            if not any(words in alt.split(". ")[0] for words in published):
                assert "(simulated data)" in alt.split(". ")[0], f"{name}: {alt[:120]!r}"


@pytest.mark.slow
def test_pages_open_with_their_unit_not_the_notebook_heading(site):
    page = site["province-54.html"]
    assert "Province report" not in page.headings
    assert page.headings[0].startswith("Tibet (西藏自治区): published figures and "), \
        page.headings[:3]
    assert page.headings[1] == "About Tibet", page.headings[:3]
    text = " ".join(text for text, _ in page.text)
    assert "No figures were published for Tibet" in text
