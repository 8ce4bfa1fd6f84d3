"""Tables of every analysis's headline estimate, built from the units' results JSON.

A scope's main page carries a program x outcome matrix linking to the detail pages, and the
index a scope x analysis table. Both are assembled after the units have run, from what each
unit recorded (:meth:`UnitReport.set_headline`), so they never recompute an estimate and always
agree with the detail pages. The scope matrix replaces the placeholder the notebook left
between two HTML comments, so re-running the site step is idempotent.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from analysis.estimators.spec import OUTCOMES, PROGRAMS
from analysis.files import write_text_atomically

MATRIX_START, MATRIX_END = "<!-- analysis-matrix:start -->", "<!-- analysis-matrix:end -->"


@dataclass(frozen=True)
class UnitResult:
    """What the site knows of one analysis unit after the build."""

    unit_id: str
    scope: str
    analysis: str
    status: str
    page: str
    headline: dict | None
    spec: dict | None


def cell_text(result: UnitResult) -> str:
    """The headline estimate of a unit in reader units, or why there is none."""
    if result.status != "ok":
        return "failed" if result.status == "failed" else "not built yet"
    headline = result.headline
    if not headline or headline.get("estimate") is None:
        return "not estimated"
    shown, unit = headline["shown"], headline["unit"]
    decimals = 0 if unit == "yuan" else (2 if unit == "months" else 1)

    def fmt(value: float) -> str:
        return f"{(round(value, decimals) or 0.0):,.{decimals}f}"

    sign = "+" if round(shown["estimate"], decimals) > 0 else ""
    return (f"{sign}{fmt(shown['estimate'])} {unit_short(unit)} "
            f"[{fmt(shown['ci_low'])} to {fmt(shown['ci_high'])}]")


def scope_cell_text(result: UnitResult) -> str:
    """A scope matrix cell that follows the interval: "+8.7 pp [6.6 to 10.9]" when it excludes
    zero, "no clear effect: +1.9 pp [-20.9 to 38.4]" when it includes it."""
    text = cell_text(result)
    headline = result.headline or {}
    shown = headline.get("shown") or {}
    if result.status != "ok" or headline.get("estimate") is None or \
            shown.get("ci_low") is None or shown.get("ci_high") is None:
        return text
    if shown["ci_low"] > 0 or shown["ci_high"] < 0:
        return text
    return f"no clear effect: {text}"


def unit_short(unit: str) -> str:
    return {"percentage points": "pp", "months": "months", "yuan": "yuan"}.get(unit, unit)


def _cell(result: UnitResult | None, words=cell_text) -> str:
    if result is None:
        return "<td class='empty'>—</td>"
    text = html.escape(words(result))
    css = "status-failed" if result.status == "failed" else ""
    return (f"<td class='{css}'><a href='{html.escape(result.page, quote=True)}'>{text}</a></td>")


def scope_matrix_html(results: list[UnitResult]) -> str:
    """Program rows x outcome columns of one scope's analyses, each cell linking to its page."""
    specs = [r for r in results if r.spec]
    programs = [p for p in PROGRAMS if any(r.spec["program"] == p for r in specs)]
    outcomes = [o for o in OUTCOMES if any(r.spec["outcome"] == o for r in specs)]
    if not specs:
        return "<p>No analysis of this scope has been built yet.</p>"
    by_cell = {}
    for result in specs:
        by_cell.setdefault((result.spec["program"], result.spec["outcome"]), result)
    table = _grid("Program", [(p, PROGRAMS[p].label) for p in programs],
                  [(o, OUTCOMES[o].label) for o in outcomes], by_cell, scope_cell_text)
    return ("<h2>Every analysis of this page's scope</h2><p>Headline estimate of each program on "
            "each outcome, with its 95% confidence interval in brackets (pp = percentage "
            "points); \u201cno clear effect\u201d where the interval includes zero. Each cell "
            f"links to its page.</p>{table}")


def _grid(corner: str, rows: list[tuple], columns: list[tuple], by_cell: dict,
          words=cell_text) -> str:
    """A table of cells keyed by (row key, column key), with row and column headings."""
    header = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = "".join(
        f"<tr><th>{html.escape(row_label)}</th>"
        + "".join(_cell(by_cell.get((row, column)), words) for column, _ in columns) + "</tr>"
        for row, row_label in rows)
    return ("<div class='table-scroll'><table class='site-table analysis-matrix'><thead><tr>"
            f"<th>{html.escape(corner)}</th>{header}</tr></thead><tbody>{body}</tbody></table>"
            "</div>")


def inject_matrix(page: Path, matrix_html: str) -> bool:
    """Replace the matrix placeholder of a rendered page; False when it has none."""
    if not page.exists():
        return False
    text = page.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MATRIX_START) + ".*?" + re.escape(MATRIX_END), re.S)
    if not pattern.search(text):
        return False
    updated = pattern.sub(lambda _: MATRIX_START + matrix_html + MATRIX_END, text, count=1)
    if updated != text:
        write_text_atomically(page, updated)
    return True
