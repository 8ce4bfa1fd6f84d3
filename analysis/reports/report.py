"""What a report page shows, recorded as it is shown.

A notebook creates one :class:`UnitReport` and passes every table and number it displays through
it. The same call renders the HTML a reader sees and records the values in the unit's results
JSON, so the page and ``reports/results/<unit>.json`` can never disagree, and no number needs to
be typed into markdown.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

from analysis.files import json_records, json_value
from analysis.reports.wording import plain_number

QUALIFIER_WORDS = {"exact": "", "more_than": "more than ", "at_least": "at least ",
                   "about": "about ", "nearly": "nearly ", "at_most": "at most ",
                   "approximate": "about "}


# Units of effects and indicators, with the decimals a reader needs.
READER_UNIT_DECIMALS = {"percentage points": 1, "months": 2, "yuan": 0, "dollars": 0}


def format_value(value: float, unit: str, qualifier: str = "exact") -> str:
    """Human-readable number: ``32430000, persons`` -> ``32.43 million``; ``93.8, percent`` ->
    ``93.8%``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not given in the source"
    prefix = QUALIFIER_WORDS.get(qualifier, "")
    if unit == "percent":
        return f"{prefix}{value:,.1f}%"
    if unit == "fraction":
        return f"{prefix}{value:.3g} ({value * 100:.1f}%)"
    if unit == "ratio":
        return f"{prefix}{value:,.3f}"
    if unit in READER_UNIT_DECIMALS:
        decimals = READER_UNIT_DECIMALS[unit]
        shown = round(value, decimals) or 0.0  # never "-0.0"
        return f"{prefix}{shown:,.{decimals}f} {unit}"
    if abs(value) >= 1e6:
        return f"{prefix}{value / 1e6:,.2f} million"
    if float(value).is_integer():
        return f"{prefix}{value:,.0f}"
    return f"{prefix}{value:,.1f}"


# Characters that markdown reads as syntax (emphasis, links, headings, lists, tables, code, math).
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
# Raw HTML in markdown: "<" directly followed by a tag name, "/", "!" or "?" (CommonMark 6.6).
_RAW_HTML = re.compile(r"(?<!\\)<[A-Za-z/!?]")
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)


class RawHtmlError(ValueError):
    """Raised when :meth:`UnitReport.say` receives raw HTML, which markdown would pass through
    to the page unescaped; data text must go through :func:`escape_markdown` first."""


def escape_markdown(text) -> str:
    """Text from data (names, quotes, periods, notes), made safe to put in a markdown sentence.

    The page shows it verbatim: ``<``, ``>`` and ``&`` become HTML entities, so a quote holding
    ``<script>`` is displayed as text, and markdown syntax is backslash-escaped, so ``*`` or
    ``[a](b)`` stay characters. Line breaks become spaces (a sentence stays one paragraph).
    """
    flat = re.sub(r"\s+", " ", str(text)).strip()
    return _MARKDOWN_SYNTAX.sub(r"\\\1", html.escape(flat, quote=False))


class UnitReport:
    """Collects every table and number of one unit's page and writes them to JSON.

    Parameters
    ----------
    unit : str
        ``"national"`` or a province code.
    title : str
        Page title, recorded in the results.
    parameters : dict
        The notebook's parameters, recorded for provenance.
    """

    def __init__(self, unit: str, title: str, parameters: dict | None = None,
                 results_path: str | os.PathLike | None = None):
        self.unit = unit
        self.title = title
        self.parameters = parameters or {}
        # Where save() writes; its stem names the unit's data folder on the site, so the page
        # can link the CSV of every table and chart (none when run by hand in JupyterLab).
        self.results_path = results_path
        self._folded: list[str] | None = None
        self.tables: dict[str, list[dict]] = {}
        self.numbers: dict[str, dict] = {}
        self.summary = ""
        self.spec: dict | None = None
        self.headline: dict | None = None
        self.attached: dict[str, object] = {}

    def table(self, name: str, table: pd.DataFrame, caption: str = "",
              html_columns: tuple[str, ...] = (),
              display_table: pd.DataFrame | None = None) -> None:
        """Display ``table`` (or its formatted twin ``display_table``) and record it.

        ``html_columns`` hold markup built by this package (links); every other cell is escaped.
        Column names are shown in the reader's words (:func:`labels.column_label`), numbers with
        the decimals they carry (counts without any), and the recorded table is offered as CSV.
        """
        from analysis.reports import labels

        self._claim(name)
        self.tables[name] = json_records(table)
        shown = (table if display_table is None else display_table).copy()
        for column in shown.columns:
            if column in html_columns:
                continue
            if pd.api.types.is_float_dtype(shown[column]):
                shown[column] = format_numbers(shown[column])
            else:
                shown[column] = shown[column].map(_cell_text)
        shown.columns = [labels.column_label(column) for column in shown.columns]
        body = shown.to_html(index=False, escape=False, classes="report-table", border=0)
        label = html.escape(caption or labels.column_label(name), quote=True)
        caption_html = f"<p class='caption'>{html.escape(caption)}</p>" if caption else ""
        self._show(f"{caption_html}<div class='table-scroll' tabindex='0' role='region' "
                   f"aria-label='{label}'>{body}</div>{self._data_link(name)}")

    def number(self, name: str, value: float, unit: str, qualifier: str = "exact",
               sources: tuple[str, ...] = ()) -> str:
        """Record one number and return its formatted text for use in a sentence."""
        self._claim(name)
        self.numbers[name] = {"value": json_value(value), "unit": unit, "qualifier": qualifier,
                              "sources": list(sources)}
        return format_value(value, unit, qualifier)

    def figure(self, figure, name: str, alt: str, data: pd.DataFrame | None = None) -> None:
        """Display a matplotlib figure as inline SVG with ``alt`` as its accessible name, record
        the table it was drawn from as ``name`` and link it as CSV, then free the figure.

        ``alt`` says what the chart shows and finds, in a sentence (screen readers read it; it
        stands in for the chart when it cannot be seen).
        """
        if not alt or not alt.strip():
            raise ValueError(f"unit {self.unit!r}: chart {name!r} needs alt text saying what it "
                             "shows")
        if data is not None:
            self._claim(name)
            self.tables[name] = json_records(data)
        import matplotlib.pyplot as plt

        svg = figure_svg(figure, alt)
        plt.close(figure)
        link = self._data_link(name) if data is not None else ""
        self._show(f"<figure class='chart'><div class='chart-scroll'>{svg}</div>{link}</figure>")

    def html(self, markup: str) -> None:
        """Display markup built by this package (never text from data, which must be escaped)."""
        self._show(markup)

    @contextmanager
    def details(self, summary: str):
        """Fold what is shown inside the ``with`` block under ``summary`` (technical diagnostics
        below the story): one ``<details>`` element, closed until the reader opens it."""
        if self._folded is not None:
            raise ValueError("details() blocks do not nest")
        self._folded = []
        try:
            yield self
        finally:
            parts, self._folded = self._folded, None
            if parts:
                display(HTML(f"<details class='technical'><summary>{html.escape(summary)}"
                             f"</summary>{''.join(parts)}</details>"))

    def _show(self, markup: str) -> None:
        if self._folded is not None:
            self._folded.append(markup)
        else:
            display(HTML(markup))

    def _data_link(self, name: str) -> str:
        if self.results_path is None:
            return ""
        from analysis.reports.site import data_href

        href = html.escape(data_href(Path(self.results_path).stem, name), quote=True)
        return (f"<p class='data-download'><a class='data-link' href='{href}' download>"
                "Download the data (CSV)</a></p>")

    def set_headline(self, spec, record: pd.Series) -> None:
        """Record the analysis spec and its headline estimate for the index and matrices.

        ``record`` is the headline estimator's row; effects are stored in the outcome's own
        scale and, under ``shown``, in the reader's unit.
        """
        self.spec = spec.to_dict()
        scale = spec.outcome_info.scale
        raw = {key: json_value(record.get(key)) for key in (
            "method", "estimand", "estimate", "std_error", "ci_low", "ci_high", "p_value",
            "n_obs", "n_treated", "n_clusters", "cluster_var", "se_type", "notes",
            "true_effect", "covers_truth")}
        shown = {key: None if raw[key] is None else raw[key] * scale
                 for key in ("estimate", "ci_low", "ci_high", "true_effect")}
        self.headline = {**raw, "unit": spec.outcome_info.effect_unit, "shown": shown}

    def say(self, markdown_text: str) -> None:
        """Display narrative whose numbers were produced by :meth:`number`.

        Text from data must pass through :func:`escape_markdown`; raw HTML outside code spans
        is refused with :class:`RawHtmlError`, because markdown would copy it into the page.
        """
        outside_code = _CODE_SPAN.sub("", markdown_text)
        tag = _RAW_HTML.search(outside_code)
        if tag:
            raise RawHtmlError(
                f"unit {self.unit!r}: narrative holds raw HTML near "
                f"{outside_code[tag.start():tag.start() + 40]!r}; pass text from data through "
                "analysis.reports.report.escape_markdown, and markup built by the package "
                "through UnitReport.html")
        if self._folded is not None:
            # say() has refused raw HTML already; escaped text must stay as it is.
            self._folded.append(markdown_to_html(markdown_text, escape=False))
        else:
            display(Markdown(markdown_text))

    def attach(self, name: str, payload: dict) -> None:
        """Keep machine-readable data in the results JSON that the page does not show (what
        the national page combines, for instance); ``payload`` must be JSON-ready."""
        self.attached[name] = payload

    def set_summary(self, text: str) -> None:
        """The one-line summary shown for this unit on the index page."""
        self.summary = text

    def _claim(self, name: str) -> None:
        if name in self.tables or name in self.numbers:
            raise ValueError(f"result name {name!r} is used twice in unit {self.unit!r}")

    def as_dict(self) -> dict:
        return {"unit": self.unit, "title": self.title, "summary": self.summary,
                "parameters": self.parameters, "spec": self.spec, "headline": self.headline,
                "numbers": self.numbers, "tables": self.tables, **self.attached}

    def save(self, path: str | os.PathLike | None = None) -> None:
        """Write the results JSON atomically (nothing when neither ``path`` nor the constructor's
        ``results_path`` is given, e.g. in JupyterLab)."""
        path = self.results_path if path is None else path
        if path is None:
            return
        write_json_atomically(Path(path), self.as_dict())


def _cell_text(cell) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
        return ""
    if isinstance(cell, (bool,)) or type(cell).__name__ == "bool_":
        return "yes" if cell else "no"
    return html.escape(str(cell))


def format_numbers(column: pd.Series) -> pd.Series:
    """A float column for people: counts without decimals, otherwise three decimals, thousands
    separators, no "-0.000" and nothing for missing values."""
    present = column.dropna()
    whole = len(present) > 0 and bool((present == present.round()).all()) and \
        bool((present.abs() >= 1).any() or (present == 0).all())
    decimals = 0 if whole else 3
    return column.map(lambda value: plain_number(value, decimals))


_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


def figure_svg(figure, alt: str) -> str:
    """A matplotlib figure as inline SVG markup whose accessible name is ``alt``.

    Text stays text (``svg.fonttype = none``): it is searchable, small, and drawn by the
    reader's fonts, so Chinese names render wherever the browser has a CJK font. Ids are
    salted with a constant and the date left out, so the same figure gives the same bytes.
    """
    # Imported here: the build's own process uses this module's formatting, never a figure.
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "analysis-site"}), \
            warnings.catch_warnings():
        # Matplotlib lays text out with its own font, which lacks Chinese glyphs; the browser
        # draws the text, so its warning about them is noise on the page.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = _SVG_METADATA.sub("", _SVG_PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
    # Matplotlib names every group ("figure_1", "axes_1"...); several charts on one page would
    # repeat those ids, so only the ids the chart itself refers to (clip paths) are kept.
    referenced = set(re.findall(r"#([\w.-]+)", svg))
    svg = re.sub(r' id="([^"]+)"', lambda m: m.group(0) if m.group(1) in referenced else "", svg)
    label = html.escape(re.sub(r"\s+", " ", alt).strip(), quote=True)
    return svg.replace("<svg ", f"<svg role='img' aria-label='{label}' ", 1).replace(
        ">", f"><title>{label}</title>", 1)


def markdown_to_html(text: str, escape: bool = True) -> str:
    """Markdown as HTML with mistune (which nbconvert already installs), as nbconvert renders
    markdown cells; ``escape`` turns raw HTML in the text into visible text."""
    import mistune

    return mistune.create_markdown(escape=escape, plugins=["table"])(text)


def write_json_atomically(path: Path, payload: dict) -> None:
    from analysis.files import write_text_atomically

    write_text_atomically(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str))
