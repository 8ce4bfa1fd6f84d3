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
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Image, Markdown, display

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


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(table: pd.DataFrame) -> list[dict]:
    return [{key: _jsonable(value) for key, value in row.items()}
            for row in table.to_dict(orient="records")]


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

    def __init__(self, unit: str, title: str, parameters: dict | None = None):
        self.unit = unit
        self.title = title
        self.parameters = parameters or {}
        self.tables: dict[str, list[dict]] = {}
        self.numbers: dict[str, dict] = {}
        self.summary = ""
        self.spec: dict | None = None
        self.headline: dict | None = None

    def table(self, name: str, table: pd.DataFrame, caption: str = "",
              html_columns: tuple[str, ...] = (),
              display_table: pd.DataFrame | None = None) -> None:
        """Display ``table`` (or its formatted twin ``display_table``) and record it.

        ``html_columns`` hold markup built by this package (links); every other cell is escaped.
        """
        self._claim(name)
        self.tables[name] = _records(table)
        shown = (table if display_table is None else display_table).copy()
        for column in shown.select_dtypes(include="float").columns:
            shown[column] = shown[column].map(lambda cell: "" if pd.isna(cell) else f"{cell:,.3f}")
        for column in shown.columns:
            if column not in html_columns:
                shown[column] = shown[column].map(
                    lambda cell: "" if cell is None or (isinstance(cell, float) and math.isnan(cell))
                    else html.escape(str(cell)))
        body = shown.to_html(index=False, escape=False, classes="report-table", border=0)
        caption_html = f"<p class='caption'>{html.escape(caption)}</p>" if caption else ""
        display(HTML(caption_html + body))

    def number(self, name: str, value: float, unit: str, qualifier: str = "exact",
               sources: tuple[str, ...] = ()) -> str:
        """Record one number and return its formatted text for use in a sentence."""
        self._claim(name)
        self.numbers[name] = {"value": _jsonable(value), "unit": unit, "qualifier": qualifier,
                              "sources": list(sources)}
        return format_value(value, unit, qualifier)

    def figure(self, figure) -> None:
        """Display a matplotlib figure as an embedded PNG, then free it.

        Rendering to PNG here, not through the kernel's matplotlib backend, makes the output the
        same whichever backend is active and keeps pages self-contained.
        """
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        display(Image(data=buffer.getvalue(), format="png"))

    def html(self, markup: str) -> None:
        """Display markup built by this package (never text from data, which must be escaped)."""
        display(HTML(markup))

    def set_headline(self, spec, record: pd.Series) -> None:
        """Record the analysis spec and its headline estimate for the index and matrices.

        ``record`` is the headline estimator's row; effects are stored in the outcome's own
        scale and, under ``shown``, in the reader's unit.
        """
        self.spec = spec.to_dict()
        scale = spec.outcome_info.scale
        raw = {key: _jsonable(record.get(key)) for key in (
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
        display(Markdown(markdown_text))

    def set_summary(self, text: str) -> None:
        """The one-line summary shown for this unit on the index page."""
        self.summary = text

    def _claim(self, name: str) -> None:
        if name in self.tables or name in self.numbers:
            raise ValueError(f"result name {name!r} is used twice in unit {self.unit!r}")

    def as_dict(self) -> dict:
        return {"unit": self.unit, "title": self.title, "summary": self.summary,
                "parameters": self.parameters, "spec": self.spec, "headline": self.headline,
                "numbers": self.numbers, "tables": self.tables}

    def save(self, path: str | os.PathLike | None) -> None:
        """Write the results JSON atomically (nothing when ``path`` is None, e.g. in JupyterLab)."""
        if path is None:
            return
        write_json_atomically(Path(path), self.as_dict())


def write_json_atomically(path: Path, payload: dict) -> None:
    from analysis.files import write_text_atomically

    write_text_atomically(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str))
