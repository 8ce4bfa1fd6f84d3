"""The site's front page: headline figures, the national trend, a province tile map, a forest
plot of the headline analysis, and a table of every unit, for readers first.

Everything the page shows is assembled in :func:`index_tables` as a handful of DataFrames, from
the figure ledger and what each unit recorded (:class:`analysis.reports.matrix.UnitResult`); the
build writes those same frames as the page's CSV downloads (:func:`write_index_data`) and
:func:`index_body` draws the page from them, so a chart, its table and its download cannot
disagree. No number is typed here: published values come from the ledger, effects from the
results JSON (already in the reader's units, ``headline["shown"]``).

Charts are hand-built inline SVG (no images, no scripts needed to read them); ``site.js`` only
sorts and filters tables and switches the map between analyses. The output is deterministic:
no random ids, and the only date is the build date passed in.
"""

from __future__ import annotations

import html
import math
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.estimators.spec import OUTCOMES, PROGRAMS, AnalysisSpec
from analysis.reports import matrix, site
from analysis.reports.report import READER_UNIT_DECIMALS, format_value
from analysis.reports.site import PACKAGE, SITE_NAME as PROJECT_NAME, package_version
from analysis.reports.tables import working_away_trajectory
from analysis.reports.wording import plain_number, signed_number

DATA_UNIT = "index"  # the downloads' folder: data/index/<name>.csv

# The headline cards, in order: ledger indicators (national, published actuals). An indicator
# missing from the ledger is skipped; when it has several rows, the card shows the latest period
# (ties: the longer period, then an exact value, then the first figure id).
HEADLINE_INDICATORS = (
    "poor_laborers_working_away",
    "registered_poor_households_employment_assistance_share",
    "poor_laborers_trained",
    "public_welfare_post_placements",
    "organized_transport_poor_laborers",
    "workshop_jobs",
)

# Tile-grid map of the 31 mainland provinces: GB/T 2260 code -> (column, row, short label),
# column 0 at the west, row 0 at the north. Each province is one square at roughly its
# geographic position (neighbours stay neighbours where a grid allows), in the manner of the
# common tile-grid maps of China; Hong Kong, Macao and Taiwan are not in the data.
TILE_GRID: dict[str, tuple[int, int, str]] = {
    "23": (6, 0, "Heilongjiang"),
    "15": (4, 1, "Inner Mongolia"), "21": (5, 1, "Liaoning"), "22": (6, 1, "Jilin"),
    "65": (0, 2, "Xinjiang"), "62": (1, 2, "Gansu"), "64": (2, 2, "Ningxia"),
    "14": (3, 2, "Shanxi"), "11": (4, 2, "Beijing"), "12": (5, 2, "Tianjin"),
    "54": (0, 3, "Tibet"), "63": (1, 3, "Qinghai"), "61": (2, 3, "Shaanxi"),
    "41": (3, 3, "Henan"), "13": (4, 3, "Hebei"), "37": (5, 3, "Shandong"),
    "51": (1, 4, "Sichuan"), "50": (2, 4, "Chongqing"), "42": (3, 4, "Hubei"),
    "34": (4, 4, "Anhui"), "32": (5, 4, "Jiangsu"), "31": (6, 4, "Shanghai"),
    "53": (1, 5, "Yunnan"), "52": (2, 5, "Guizhou"), "43": (3, 5, "Hunan"),
    "36": (4, 5, "Jiangxi"), "33": (5, 5, "Zhejiang"),
    "45": (2, 6, "Guangxi"), "44": (3, 6, "Guangdong"), "35": (4, 6, "Fujian"),
    "46": (3, 7, "Hainan"),
}

# The site's main pages besides the province pages, in the order the index lists them.
MAIN_PAGES = (("national.html", "China (national)", "published figures and every analysis"),
              ("methods.html", "Methods", "how the effects are estimated, and the data"),
              ("validation.html", "Validation", "the estimators checked on known answers"),
              ("sources.html", "Sources", "the press releases, with every quoted figure"),
              ("glossary.html", "Glossary", "the terms the reports use"),
              ("replication.html", "Replication", "how to rebuild every page"))

NATIONAL_NAME = "China (national)"
STATUS_WORDS = {"ok": "built", "failed": "failed: see notebook", "not built": "not built yet"}

# Diverging palette centred on zero (orange below, blue above; ColorBrewer-like, readable by
# the common colour-vision deficiencies) and the grey of "no estimate".
NEGATIVE = ("#f7f7f7", "#fdd0a2", "#fd8d3c", "#a63603")
POSITIVE = ("#f7f7f7", "#c6dbef", "#6baed6", "#08519c")
NO_ESTIMATE = "#b4b4b4"
LEGEND_STEPS = (-1.0, -2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3, 1.0)

CSV_LINK = ("<p class='data-link-row'><a class='data-link' href='{href}' download>"
            "Download the data (CSV)</a></p>")


# ----------------------------------------------------------------------------------------------
# Small helpers


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, (str, bytes)) and pd.isna(value))


def _flag(value) -> bool | None:
    """True/False of a yes-no-unknown column (pandas may hold numpy bools or NaN)."""
    return None if _missing(value) else bool(value)


def _number(value, unit: str, signed: bool = False) -> str:
    """A reader-unit number with thousands separators, no "-0", optional "+"."""
    decimals = READER_UNIT_DECIMALS.get(unit, 1)
    return (signed_number if signed else plain_number)(value, decimals)


def _sort_value(value) -> str:
    """A ``data-sort`` attribute: a plain decimal number, or "" when missing."""
    if _missing(value):
        return ""
    number = round(float(value), 6) + 0.0
    return "0" if number == 0 else f"{number:.10g}"


def slug(analysis: str) -> str:
    """The analysis name as it appears in ``data-`` attribute names (hyphens, not underscores)."""
    return analysis.replace("_", "-")


def period_words(period: str) -> str:
    """"2020" -> "2020"; "2016-2020" -> "2016 to 2020"; "2020-10" -> "end of October 2020"."""
    text = str(period)
    parts = text.split("-")
    if len(parts) == 2 and len(parts[0]) == 4 and len(parts[1]) == 2:
        return f"end of {pd.Timestamp(text + '-01'):%B %Y}"
    if len(parts) == 2 and len(parts[0]) == 4 and len(parts[1]) == 4:
        return f"{parts[0]} to {parts[1]}"
    return text


def _period_order(period: str) -> tuple:
    """(end, length) of a period, for choosing the latest (and then longest) ledger row."""
    parts = str(period).split("-")
    try:
        if len(parts) == 2 and len(parts[1]) == 2:
            return (int(parts[0]) * 12 + int(parts[1]), 0)
        start, end = int(parts[0]), int(parts[-1])
        return (end * 12 + 12, end - start)
    except ValueError:
        return (0, 0)


def _plain_description(text: str) -> str:
    """The ledger description without the trailing scope ("..., national")."""
    words = str(text).strip()
    for suffix in (", national", " (section headline)"):
        if words.endswith(suffix):
            words = words[: -len(suffix)]
    return words


def _spec(result: matrix.UnitResult) -> AnalysisSpec | None:
    if not result.spec:
        return None
    known = AnalysisSpec().to_dict()
    try:
        return AnalysisSpec(**{key: value for key, value in result.spec.items() if key in known})
    except (ValueError, TypeError):
        return None


def analysis_title(result: matrix.UnitResult, analysis_titles: dict[str, str]) -> str:
    """The reader's title of a unit's analysis; never its identifier."""
    if result.analysis in analysis_titles:
        return analysis_titles[result.analysis]
    spec = _spec(result)
    return spec.short_title if spec else "Analysis"


def _has_estimate(result: matrix.UnitResult) -> bool:
    headline = result.headline or {}
    shown = headline.get("shown") or {}
    return result.status == "ok" and not _missing(shown.get("estimate"))


def interval_words(ci_low, ci_high, has_estimate: bool) -> tuple[str, object]:
    """Whether the 95% interval excludes zero, in words, and as True/False/None."""
    if not has_estimate:
        return "no estimate", None
    if _missing(ci_low) or _missing(ci_high):
        return "no interval", None
    if ci_low > 0:
        return "yes: above zero", True
    if ci_high < 0:
        return "yes: below zero", True
    return "no: includes zero", False


def _place_names(ledger: dict[str, pd.DataFrame], scope_titles: dict[str, str] | None):
    provinces = ledger["provinces"]
    english = dict(zip(provinces["province_code"], provinces["name_en"]))
    full = {row.province_code: f"{row.name_en} ({row.name_zh})"
            for row in provinces.itertuples()}

    def short(scope: str) -> str:
        if scope == config.NATIONAL_UNIT:
            return NATIONAL_NAME
        return english.get(scope) or (scope_titles or {}).get(scope) or "Unnamed province"

    def long(scope: str) -> str:
        if scope == config.NATIONAL_UNIT:
            return NATIONAL_NAME
        return full.get(scope) or (scope_titles or {}).get(scope) or "Unnamed province"

    return short, long


def default_headline(results: list[matrix.UnitResult]) -> str:
    """The headline analysis when none is given: the spec default (training x stable
    employment, whole population), else the first analysis recorded."""
    default = AnalysisSpec()
    for result in results:
        spec = _spec(result)
        if spec and (spec.program, spec.outcome, spec.population) == (
                default.program, default.outcome, default.population):
            return result.analysis
    return results[0].analysis if results else ""


# ----------------------------------------------------------------------------------------------
# The tables (one per chart or table of the page; the CSV downloads)


def headline_figures_table(ledger: dict[str, pd.DataFrame],
                           indicators: tuple[str, ...] = HEADLINE_INDICATORS) -> pd.DataFrame:
    """One ledger row per headline indicator (national, published actual, with a value)."""
    figures, sources = ledger["figures"], ledger["sources"]
    national = figures[(figures["scope"] == config.NATIONAL_UNIT) & (figures["kind"] == "actual")
                       & figures["value"].notna()]
    by_source = sources.set_index("source_id")
    rows = []
    for indicator in indicators:
        own = national[national["indicator"] == indicator]
        if own.empty:
            continue
        ranked = own.assign(
            _end=[_period_order(p)[0] for p in own["period"]],
            _length=[_period_order(p)[1] for p in own["period"]],
            _exact=(own["qualifier"] == "exact").astype(int))
        row = ranked.sort_values(["_end", "_length", "_exact", "figure_id"],
                                 ascending=[False, False, False, True]).iloc[0]
        source = by_source.loc[row["source_id"]] if row["source_id"] in by_source.index else None
        published = source["published"] if source is not None else row.get("published")
        rows.append({
            "figure_id": row["figure_id"], "indicator": indicator,
            "description": _plain_description(row["description"]),
            "period": row["period"], "period_words": period_words(row["period"]),
            "qualifier": row["qualifier"], "value": float(row["value"]), "unit": row["unit"],
            "value_shown": format_value(float(row["value"]), row["unit"], row["qualifier"]),
            "source_id": row["source_id"],
            "publisher": "" if source is None else source["publisher"],
            "source_title": "" if source is None else source["title"],
            "source_published": "" if _missing(published)
            else pd.Timestamp(published).date().isoformat(),
            "source_link": f"sources.html#{row['figure_id']}",
        })
    return pd.DataFrame(rows, columns=[
        "figure_id", "indicator", "description", "period", "period_words", "qualifier", "value",
        "unit", "value_shown", "source_id", "publisher", "source_title", "source_published",
        "source_link"])


def units_table(results: list[matrix.UnitResult], ledger: dict[str, pd.DataFrame],
                analysis_titles: dict[str, str],
                scope_titles: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per analysis unit: place, analysis, headline effect, interval, figures, status."""
    figures = ledger["figures"]
    counts = figures.groupby("scope").size().to_dict()
    _, long_name = _place_names(ledger, scope_titles)
    rows = []
    for result in results:
        has = _has_estimate(result)
        shown = ((result.headline or {}).get("shown") or {}) if has else {}
        low, high = shown.get("ci_low"), shown.get("ci_high")
        words, excludes = interval_words(low, high, has)
        rows.append({
            "unit_id": result.unit_id, "scope": result.scope, "place": long_name(result.scope),
            "analysis": result.analysis,
            "analysis_title": analysis_title(result, analysis_titles),
            "estimate": shown.get("estimate") if has else None,
            "ci_low": None if _missing(low) else low, "ci_high": None if _missing(high) else high,
            "unit": (result.headline or {}).get("unit", "") if has else "",
            "effect_text": matrix.cell_text(result),
            "interval_excludes_zero": words, "excludes_zero": excludes,
            "published_figures": int(counts.get(result.scope, 0)),
            "status": result.status,
            "status_words": STATUS_WORDS.get(result.status, "failed: see notebook"),
            "page": result.page,
        })
    return pd.DataFrame(rows, columns=[
        "unit_id", "scope", "place", "analysis", "analysis_title", "estimate", "ci_low", "ci_high",
        "unit", "effect_text", "interval_excludes_zero", "excludes_zero", "published_figures",
        "status", "status_words", "page"])


def map_table(results: list[matrix.UnitResult], ledger: dict[str, pd.DataFrame],
              analysis_titles: dict[str, str], headline_analysis: str) -> pd.DataFrame:
    """Every mainland province x every analysis: the headline effect, or why there is none.

    ``province_page`` is the province's main page when it was rendered (built or failed)."""
    provinces = ledger["provinces"].sort_values("province_code")
    analyses = list(dict.fromkeys(r.analysis for r in results if r.scope != config.NATIONAL_UNIT))
    if headline_analysis in analyses:  # the default view first
        analyses.remove(headline_analysis)
        analyses.insert(0, headline_analysis)
    by_cell = {(r.scope, r.analysis): r for r in results}
    main_pages = {r.scope: r.page for r in results
                  if r.unit_id == r.scope and r.status in ("ok", "failed")}
    titles = {r.analysis: analysis_title(r, analysis_titles) for r in results}
    rows = []
    for analysis in analyses:
        for province in provinces.itertuples():
            code = province.province_code
            result = by_cell.get((code, analysis))
            has = result is not None and _has_estimate(result)
            shown = result.headline["shown"] if has else {}
            low, high = shown.get("ci_low"), shown.get("ci_high")
            words, excludes = interval_words(low, high, has)
            if result is None:
                effect = ("no report for this province" if code not in main_pages
                          else "not analysed for this province")
            else:
                effect = matrix.cell_text(result)
            rows.append({
                "analysis": analysis, "analysis_title": titles[analysis],
                "province_code": code, "province": province.name_en,
                "province_zh": province.name_zh,
                "estimate": shown.get("estimate") if has else None,
                "ci_low": None if _missing(low) else low,
                "ci_high": None if _missing(high) else high,
                "unit": result.headline.get("unit", "") if has else "",
                "effect_text": effect, "interval_excludes_zero": words,
                "excludes_zero": excludes,
                "status_words": "no report" if result is None
                else STATUS_WORDS.get(result.status, "failed: see notebook"),
                "province_page": main_pages.get(code, ""),
                "analysis_page": "" if result is None or result.status not in ("ok", "failed")
                else result.page,
            })
    return pd.DataFrame(rows, columns=[
        "analysis", "analysis_title", "province_code", "province", "province_zh", "estimate",
        "ci_low", "ci_high", "unit", "effect_text", "interval_excludes_zero", "excludes_zero",
        "status_words", "province_page", "analysis_page"])


def forest_table(results: list[matrix.UnitResult], ledger: dict[str, pd.DataFrame],
                 analysis_titles: dict[str, str], headline_analysis: str,
                 scope_titles: dict[str, str] | None = None) -> pd.DataFrame:
    """The headline analysis in the nation (first row) and every province with an estimate,
    provinces sorted by estimate, largest first."""
    short_name, _ = _place_names(ledger, scope_titles)
    own = [r for r in results if r.analysis == headline_analysis and _has_estimate(r)]
    rows = []
    for result in own:
        shown, spec = result.headline["shown"], _spec(result)
        low, high = shown.get("ci_low"), shown.get("ci_high")
        words, excludes = interval_words(low, high, True)
        rows.append({
            "scope": result.scope, "place": short_name(result.scope),
            "national": result.scope == config.NATIONAL_UNIT,
            "analysis": result.analysis,
            "analysis_title": analysis_title(result, analysis_titles),
            "program": spec.program if spec else "", "outcome": spec.outcome if spec else "",
            "estimate": shown["estimate"], "ci_low": None if _missing(low) else low,
            "ci_high": None if _missing(high) else high,
            "unit": result.headline.get("unit", ""), "effect_text": matrix.cell_text(result),
            "interval_excludes_zero": words, "excludes_zero": excludes, "page": result.page,
        })
    columns = ["scope", "place", "national", "analysis", "analysis_title", "program", "outcome",
               "estimate", "ci_low", "ci_high", "unit", "effect_text", "interval_excludes_zero",
               "excludes_zero", "page"]
    table = pd.DataFrame(rows, columns=columns)
    if table.empty:
        return table
    table = table.sort_values(["national", "estimate", "place"], ascending=[False, False, True])
    return table.reset_index(drop=True)


def index_tables(results: list[matrix.UnitResult], ledger: dict[str, pd.DataFrame],
                 analysis_titles: dict[str, str], headline_analysis: str | None = None,
                 scope_titles: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Every table the index shows, by CSV name: ``headline_figures``, ``working_away``,
    ``province_map``, ``forest_plot`` and ``units``.

    ``ledger`` holds the processed tables ``figures``, ``sources``, ``provinces`` and
    ``derived_figures`` (as :func:`analysis.reports.tables.load_processed` returns them).
    ``headline_analysis`` is the plan's overview analysis (:func:`default_headline` if None).
    """
    headline = headline_analysis or default_headline(results)
    return {
        "headline_figures": headline_figures_table(ledger),
        "working_away": working_away_trajectory(ledger["figures"], ledger["derived_figures"]),
        "province_map": map_table(results, ledger, analysis_titles, headline),
        "forest_plot": forest_table(results, ledger, analysis_titles, headline, scope_titles),
        "units": units_table(results, ledger, analysis_titles, scope_titles),
    }


def data_href(name: str) -> str:
    return site.data_href(DATA_UNIT, name)


def write_index_data(tables: dict[str, pd.DataFrame], site_dir: Path) -> list[Path]:
    """Write each table as ``<site>/data/index/<name>.csv`` (the page's download links)."""
    return [site.write_csv(table, Path(site_dir) / data_href(name))
            for name, table in tables.items()]


# ----------------------------------------------------------------------------------------------
# Colours and scales


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _mix(first: str, second: str, share: float) -> str:
    a, b = _rgb(first), _rgb(second)
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))


def diverging_colour(value, limit: float) -> str:
    """The fill of an effect: white at zero, orange below, blue above, full at ``limit``."""
    if _missing(value):
        return NO_ESTIMATE
    position = max(-1.0, min(1.0, float(value) / limit)) if limit > 0 else 0.0
    stops = POSITIVE if position >= 0 else NEGATIVE
    scaled = abs(position) * (len(stops) - 1)
    index = min(int(scaled), len(stops) - 2)
    return _mix(stops[index], stops[index + 1], scaled - index)


def ink_for(fill: str) -> str:
    """Dark text on light fills, white on dark ones."""
    red, green, blue = _rgb(fill)
    return "#111827" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#ffffff"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (1 for nothing)."""
    if _missing(value) or value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    step = nice_ceiling((high - low) / count)
    first = math.floor(low / step) * step
    ticks, tick = [], first
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 10) + 0.0)
        tick += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10) + 0.0)
    return ticks


def _tick_text(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else min(3, max(0, -math.floor(math.log10(step))))
    return plain_number(value, decimals)


# ----------------------------------------------------------------------------------------------
# SVG builders


def _basis_words(basis: str) -> str:
    return "published" if basis == "published" else "implied by published figures"


def trend_chart_svg(trajectory: pd.DataFrame, title: str, svg_id: str = "trend-chart") -> str:
    """Bars of poor laborers working away from home, published counts and the implied one."""
    width, height = 560, 370
    left, right, top, bottom = 58, 12, 26, 96
    plot_w, plot_h = width - left - right, height - top - bottom
    millions = [float(v) / 1e6 for v in trajectory["persons"]]
    ticks = nice_ticks(0, max(millions, default=1), 5)
    top_value = ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    parts = [f"<svg id='{_e(svg_id)}' class='chart trend-chart' viewBox='0 0 {width} {height}' "
             f"role='img' aria-labelledby='{_e(svg_id)}-title {_e(svg_id)}-desc'>",
             f"<title id='{_e(svg_id)}-title'>{_e(title)}</title>",
             f"<desc id='{_e(svg_id)}-desc'>Bar chart of poor laborers working away from home, "
             "in million persons, for each period with a count: "
             + _e("; ".join(f"{row.point}: {format_value(row.persons, 'persons')} "
                            f"({_basis_words(row.basis)})" for row in trajectory.itertuples()))
             + ".</desc>",
             "<defs><pattern id='trend-hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
             "patternTransform='rotate(45)'><rect width='6' height='6' fill='#9bbfd6'/>"
             "<line x1='0' y1='0' x2='0' y2='6' stroke='#1f5f8b' stroke-width='2'/></pattern>"
             "</defs>"]
    for tick in ticks:
        parts.append(f"<line class='grid' x1='{left}' x2='{width - right}' y1='{y(tick):.1f}' "
                     f"y2='{y(tick):.1f}'/><text class='tick' x='{left - 8}' y='{y(tick) + 4:.1f}'"
                     f" text-anchor='end'>{_e(_tick_text(tick, step))}</text>")
    slot = plot_w / max(len(millions), 1)
    bar_w = min(90, slot * 0.6)
    for index, row in enumerate(trajectory.itertuples()):
        value = float(row.persons) / 1e6
        x = left + slot * index + (slot - bar_w) / 2
        fill = "#1f5f8b" if row.basis == "published" else "url(#trend-hatch)"
        label = format_value(float(row.persons), "persons")
        lines = _wrap(row.point)
        ticks_text = "".join(
            f"<tspan x='{x + bar_w / 2:.1f}' dy='{0 if number == 0 else 15}'>{_e(line)}</tspan>"
            for number, line in enumerate(lines))
        parts.append(
            f"<g class='bar' data-value='{_sort_value(row.persons)}'>"
            f"<rect x='{x:.1f}' y='{y(value):.1f}' width='{bar_w:.1f}' "
            f"height='{y(0) - y(value):.1f}' fill='{fill}'><title>{_e(row.point)}: {_e(label)}"
            f" ({_basis_words(row.basis)})"
            f"</title></rect>"
            f"<text class='bar-label' x='{x + bar_w / 2:.1f}' y='{y(value) - 6:.1f}' "
            f"text-anchor='middle'>{_e(plain_number(value, 2))}</text>"
            f"<text class='tick' x='{x + bar_w / 2:.1f}' y='{y(0) + 18:.1f}' "
            f"text-anchor='middle'>{ticks_text}</text></g>")
    parts.append(f"<line class='axis' x1='{left}' x2='{width - right}' y1='{y(0):.1f}' "
                 f"y2='{y(0):.1f}'/>")
    parts.append(f"<text class='axis-label' x='{left + plot_w / 2:.1f}' y='{height - 32}' "
                 "text-anchor='middle'>Year of the count</text>")
    parts.append(f"<text class='axis-label' transform='translate(15 {top + plot_h / 2:.1f}) "
                 "rotate(-90)' text-anchor='middle'>Million persons</text>")
    legend_y = height - 8
    parts.append(f"<rect x='{left}' y='{legend_y - 11}' width='13' height='13' fill='#1f5f8b'/>"
                 f"<text class='legend' x='{left + 19}' y='{legend_y}'>Published count</text>"
                 f"<rect x='{left + 170}' y='{legend_y - 11}' width='13' height='13' "
                 "fill='url(#trend-hatch)'/>"
                 f"<text class='legend' x='{left + 189}' y='{legend_y}'>Implied by published "
                 "figures</text>")
    parts.append("</svg>")
    return "".join(parts)


def _wrap(label: str, width: int = 12) -> list[str]:
    """A tick label on two lines when long: "end of October 2020" -> "end of October", "2020"."""
    text = str(label)
    if len(text) <= width or " " not in text:
        return [text]
    head, tail = text.rsplit(" ", 1)
    return [head, tail]


def _tile_note(row) -> str:
    """What a tile's tooltip says: the province and its value in words."""
    if _missing(row.estimate):
        return f"{row.province}: {row.effect_text}"
    words = {True: "excludes zero", False: "includes zero"}.get(_flag(row.excludes_zero),
                                                                  "no interval")
    return f"{row.province}: {row.effect_text} (95% interval {words})"


def _tile_value(row) -> str:
    if _missing(row.estimate):
        return "no est." if row.province_page else ""
    return _number(row.estimate, row.unit, signed=True)


def _analysis_limits(table: pd.DataFrame) -> dict[str, float]:
    limits = {}
    for analysis, own in table.groupby("analysis", sort=False):
        values = own["estimate"].dropna().abs()
        limits[analysis] = nice_ceiling(float(values.max()) if len(values) else 0.0)
    return limits


def tile_map_svg(table: pd.DataFrame, default_analysis: str, title: str, desc: str,
                 svg_id: str = "tile-map") -> str:
    """The province tile map of :func:`map_table`: every analysis's fills in ``data-``
    attributes, the default analysis's drawn."""
    size, gap, margin = 64, 4, 2
    columns = max(col for col, _, _ in TILE_GRID.values()) + 1
    rows = max(row for _, row, _ in TILE_GRID.values()) + 1
    width = margin * 2 + columns * (size + gap) - gap
    height = margin * 2 + rows * (size + gap) - gap
    limits = _analysis_limits(table)
    analyses = list(dict.fromkeys(table["analysis"]))
    by_province = {code: {row.analysis: row for row in own.itertuples()}
                   for code, own in table.groupby("province_code", sort=False)}
    # A group, not an image: each tile is a link that screen readers must be able to reach.
    parts = [f"<svg id='{_e(svg_id)}' class='chart tile-map' viewBox='0 0 {width} {height}' "
             f"role='group' aria-labelledby='{_e(svg_id)}-title {_e(svg_id)}-desc'>",
             f"<title id='{_e(svg_id)}-title'>{_e(title)}</title>",
             f"<desc id='{_e(svg_id)}-desc'>{_e(desc)}</desc>",
             "<defs><pattern id='tile-hatch' width='7' height='7' patternUnits='userSpaceOnUse' "
             "patternTransform='rotate(45)'><line x1='0' y1='0' x2='0' y2='7' "
             "stroke='#1f2937' stroke-opacity='0.45' stroke-width='2'/></pattern></defs>"]
    for code, (col, row_index, label) in sorted(TILE_GRID.items(), key=lambda item: item[0]):
        x = margin + col * (size + gap)
        y = margin + row_index * (size + gap)
        cells = by_province.get(code, {})
        attributes = {"rect": [], "hatch": [], "name": [], "value": [], "title": []}
        shown = {}
        for analysis in analyses:
            cell = cells.get(analysis)
            key = slug(analysis)
            if cell is None:
                fill, hatch, note, value = NO_ESTIMATE, "hidden", f"{label}: no report", ""
            else:
                fill = diverging_colour(cell.estimate, limits[analysis])
                hatch = "visible" if _flag(cell.excludes_zero) is False else "hidden"
                note, value = _tile_note(cell), _tile_value(cell)
            ink = ink_for(fill)
            attributes["rect"].append(f"data-fill-{key}='{fill}'")
            attributes["hatch"].append(f"data-visibility-{key}='{hatch}'")
            attributes["name"].append(f"data-fill-{key}='{ink}'")
            attributes["value"].append(f"data-fill-{key}='{ink}' data-text-{key}='{_e(value)}'")
            attributes["title"].append(f"data-text-{key}='{_e(note)}'")
            if analysis == default_analysis or not shown:
                shown = {"fill": fill, "hatch": hatch, "ink": ink, "note": note, "value": value}
        if not shown:  # no analysis at all: a grey tile
            shown = {"fill": NO_ESTIMATE, "hatch": "hidden", "ink": ink_for(NO_ESTIMATE),
                     "note": f"{label}: no report", "value": ""}
        page = next((cell.province_page for cell in cells.values() if cell.province_page), "")
        short_label = _tile_label(label)
        fit = (f" textLength='{size - 8}' lengthAdjust='spacingAndGlyphs'"
               if len(short_label) > 9 else "")
        tile = (
            f"<title {' '.join(attributes['title'])}>{_e(shown['note'])}</title>"
            f"<rect class='tile' x='{x}' y='{y}' width='{size}' height='{size}' rx='3' "
            f"fill='{shown['fill']}' {' '.join(attributes['rect'])}/>"
            f"<rect class='tile-hatch' x='{x}' y='{y}' width='{size}' height='{size}' rx='3' "
            f"fill='url(#tile-hatch)' visibility='{shown['hatch']}' "
            f"{' '.join(attributes['hatch'])}/>"
            f"<text class='tile-name' x='{x + size / 2}' y='{y + size / 2 - 4}' "
            f"text-anchor='middle' fill='{shown['ink']}'{fit} {' '.join(attributes['name'])}>"
            f"{_e(short_label)}</text>"
            f"<text class='tile-value' x='{x + size / 2}' y='{y + size / 2 + 12}' "
            f"text-anchor='middle' fill='{shown['ink']}' {' '.join(attributes['value'])}>"
            f"{_e(shown['value'])}</text>")
        common = (f"class='tile-group' data-province='{_e(code)}' data-col='{col}' "
                  f"data-row='{row_index}'")
        if page:
            parts.append(f"<a href='{_e(page)}' {common}>{tile}</a>")
        else:
            parts.append(f"<g {common}>{tile}</g>")
    parts.append("</svg>")
    return "".join(parts)


def _tile_label(label: str) -> str:
    """Labels short enough for a tile."""
    return {"Heilongjiang": "Heilongj.", "Inner Mongolia": "Inner Mong."}.get(label, label)


def forest_plot_svg(table: pd.DataFrame, title: str, desc: str, axis_label: str,
                    svg_id: str = "forest-plot") -> str:
    """Estimates with 95% intervals, the nation first (diamond), then provinces by estimate."""
    row_h, top, bottom, left, right = 26, 16, 58, 150, 178
    width = 700
    height = top + bottom + row_h * (len(table) + (1 if table["national"].any() else 0))
    lows = [v for v in list(table["ci_low"]) + list(table["estimate"]) if not _missing(v)]
    highs = [v for v in list(table["ci_high"]) + list(table["estimate"]) if not _missing(v)]
    ticks = nice_ticks(min(lows + [0.0]), max(highs + [0.0]), 6)
    low, high = ticks[0], ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    plot_w = width - left - right

    def x(value: float) -> float:
        return left + plot_w * (value - low) / (high - low)

    parts = [f"<svg id='{_e(svg_id)}' class='chart forest-plot' viewBox='0 0 {width} {height}' "
             f"role='img' aria-labelledby='{_e(svg_id)}-title {_e(svg_id)}-desc'>",
             f"<title id='{_e(svg_id)}-title'>{_e(title)}</title>",
             f"<desc id='{_e(svg_id)}-desc'>{_e(desc)}</desc>"]
    axis_y = height - bottom
    for tick in ticks:
        parts.append(f"<line class='grid' x1='{x(tick):.1f}' x2='{x(tick):.1f}' y1='{top}' "
                     f"y2='{axis_y}'/><text class='tick' x='{x(tick):.1f}' y='{axis_y + 16}' "
                     f"text-anchor='middle'>{_e(_tick_text(tick, step))}</text>")
    parts.append(f"<line class='zero-line' x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top - 6}' "
                 f"y2='{axis_y}'/>")
    y = top + row_h / 2
    for row in table.itertuples():
        national = bool(row.national)
        css = "forest-row national" if national else "forest-row"
        excludes = "yes" if _flag(row.excludes_zero) else "no"
        item = [f"<g class='{css}' data-scope='{_e(row.scope)}' "
                f"data-estimate='{_sort_value(row.estimate)}' "
                f"data-ci-low='{_sort_value(row.ci_low)}' "
                f"data-ci-high='{_sort_value(row.ci_high)}' data-excludes-zero='{excludes}'>"
                f"<title>{_e(row.place)}: {_e(row.effect_text)}</title>"]
        if national:
            item.append(f"<rect class='national-band' x='0' y='{y - row_h / 2:.1f}' "
                        f"width='{width}' height='{row_h}'/>")
        item.append(f"<text class='forest-label' x='{left - 10}' y='{y + 4:.1f}' "
                    f"text-anchor='end'>{_e(row.place)}</text>")
        if not _missing(row.ci_low) and not _missing(row.ci_high):
            item.append(f"<line class='interval' x1='{x(row.ci_low):.1f}' "
                        f"x2='{x(row.ci_high):.1f}' y1='{y:.1f}' y2='{y:.1f}'/>")
        cx = x(row.estimate)
        if national:
            item.append(f"<path class='point national' d='M{cx:.1f} {y - 7:.1f} L{cx + 7:.1f} "
                        f"{y:.1f} L{cx:.1f} {y + 7:.1f} L{cx - 7:.1f} {y:.1f} Z'/>")
        else:
            hollow = " hollow" if _flag(row.excludes_zero) is False else ""
            item.append(f"<circle class='point{hollow}' cx='{cx:.1f}' cy='{y:.1f}' r='4.5'/>")
        item.append(f"<text class='forest-value' x='{width - right + 10}' y='{y + 4:.1f}'>"
                    f"{_e(row.effect_text)}</text></g>")
        parts.append("".join(item))
        y += row_h
        if national:
            parts.append(f"<line class='separator' x1='0' x2='{width}' y1='{y:.1f}' "
                         f"y2='{y:.1f}'/>")
            y += row_h
    parts.append(f"<line class='axis' x1='{left}' x2='{width - right}' y1='{axis_y}' "
                 f"y2='{axis_y}'/>")
    parts.append(f"<text class='axis-label' x='{left + plot_w / 2:.1f}' y='{height - 14}' "
                 f"text-anchor='middle'>{_e(axis_label)}</text>")
    parts.append("</svg>")
    return "".join(parts)


# ----------------------------------------------------------------------------------------------
# Sentences


def trend_title(trajectory: pd.DataFrame) -> str:
    """The finding of the trend chart, from its first and last published counts."""
    published = trajectory[trajectory["basis"] == "published"]
    if len(published) < 2:
        return "Poor laborers working away from home, China"
    first, last = published.iloc[0], published.iloc[-1]
    ratio = float(last["persons"]) / float(first["persons"])
    verb = ("more than doubled" if ratio >= 2 else "rose" if ratio > 1
            else "fell" if ratio < 1 else "did not change")
    return (f"Poor laborers working away from home {verb}, from "
            f"{format_value(float(first['persons']), 'persons')} in {first['point']} to "
            f"{format_value(float(last['persons']), 'persons')} in {last['point']}")


def _outcome_words(outcome_key: str) -> str:
    outcome = OUTCOMES.get(outcome_key)
    return outcome.noun.split(" (")[0] if outcome else "the outcome"


def forest_title(table: pd.DataFrame, simulated: bool) -> str:
    """The headline finding: the national effect in words and how many province intervals
    exclude zero."""
    tag = " (simulated data)" if simulated else ""
    if table.empty:
        return "No estimate of the headline analysis has been built yet" + tag
    provinces = table[~table["national"]]
    excluding = sum(_flag(value) is True for value in provinces["excludes_zero"])
    national = table[table["national"]]
    counted = (f"in {excluding} of {len(provinces)} provinces the 95% interval excludes zero"
               if len(provinces) else "no province has an estimate yet")
    first = table.iloc[0]
    program = PROGRAMS[first["program"]].noun if first["program"] in PROGRAMS else "the program"
    outcome = _outcome_words(first["outcome"])
    if national.empty:
        sentence = f"Effect of {program} on {outcome}: {counted}"
    else:
        row = national.iloc[0]
        unit = row["unit"]
        if _flag(row["excludes_zero"]):
            verb = "raised" if row["ci_low"] > 0 else "lowered"
            size = _number(abs(row["estimate"]), unit)
            sentence = f"Nationally, {program} {verb} {outcome} by {size} {unit}; {counted}"
        else:
            sentence = (f"Nationally, the data cannot tell whether {program} changed {outcome} "
                        f"(the interval includes zero); {counted}")
    return sentence[:1].upper() + sentence[1:] + tag


def _map_caption(own: pd.DataFrame, simulated: bool) -> str:
    title = own["analysis_title"].iloc[0]
    unit = next((u for u in own["unit"] if u), "")
    estimated = own["estimate"].notna()
    excluding = sum(_flag(value) is True for value in own["excludes_zero"])
    in_unit = f", in {unit}" if unit else ""
    tag = "; simulated data" if simulated else ""
    return (f"{title}. Estimated effect by province{in_unit}{tag}. {int(estimated.sum())} of "
            f"{len(own)} provinces have an estimate; in {excluding} the 95% interval excludes "
            "zero.")


def _legend_labels(own: pd.DataFrame, limit: float) -> dict[str, str]:
    unit = next((u for u in own["unit"] if u), "")
    short = matrix.unit_short(unit) if unit else ""
    return {"low": f"{_number(-limit, unit)} {short}".strip(), "mid": "0",
            "high": f"{_number(limit, unit, signed=True)} {short}".strip()}


# ----------------------------------------------------------------------------------------------
# The page body


def _table(table_id: str, label: str, headers: list[tuple[str, bool]], rows: list[str],
           css: str = "site-table sortable", scroll_css: str = "table-scroll") -> str:
    number = " data-type='number'"
    heads = "".join(
        f"<th scope='col'{number if numeric else ''}><button type='button'>"
        f"{_e(text)}</button></th>" for text, numeric in headers)
    return (f"<div class='{scroll_css}' tabindex='0' role='region' aria-label='{_e(label)}'>"
            f"<table id='{_e(table_id)}' class='{css}'><thead><tr>{heads}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _cards_html(cards: pd.DataFrame) -> str:
    items = []
    for row in cards.itertuples():
        source = row.publisher or "Source document"
        date = pd.Timestamp(row.source_published) if row.source_published else None
        published = f", {date.day} {date:%B %Y}" if date is not None else ""
        items.append(
            f"<article class='card' data-figure='{_e(row.figure_id)}' "
            f"data-value='{_sort_value(row.value)}'>"
            f"<p class='card-value'>{_e(row.value_shown)}</p>"
            f"<p class='card-what'>{_e(row.description)}</p>"
            f"<p class='card-period'>{_e(row.period_words)}</p>"
            f"<p class='card-source'>Source: <a href='{_e(row.source_link)}' "
            f"title='{_e(row.source_title)}'>{_e(source)}{_e(published)}</a></p></article>")
    return "<div class='cards'>" + "".join(items) + "</div>"


def _map_section(table: pd.DataFrame, default: str, simulated: bool) -> str:
    analyses = list(dict.fromkeys(table["analysis"]))
    if not analyses:
        return ("<section id='map-section' class='index-section'><h2>Effects by province</h2>"
                "<p>No analysis has been built yet.</p></section>")
    if default not in analyses:
        default = analyses[0]
    limits = _analysis_limits(table)
    groups = {analysis: own for analysis, own in table.groupby("analysis", sort=False)}
    options = "".join(
        f"<option value='{slug(a)}'{' selected' if a == default else ''}>"
        f"{_e(groups[a]['analysis_title'].iloc[0])}</option>" for a in analyses)
    captions = {a: _map_caption(groups[a], simulated) for a in analyses}
    labels = {a: _legend_labels(groups[a], limits[a]) for a in analyses}

    def swapped(kind: str) -> str:
        attributes = " ".join(f"data-text-{slug(a)}='{_e(labels[a][kind])}'" for a in analyses)
        return f"<span class='legend-{kind}' {attributes}>{_e(labels[default][kind])}</span>"

    swatches = "".join(
        f"<span class='swatch' style='background:{diverging_colour(step, 1.0)}'></span>"
        for step in LEGEND_STEPS)
    legend = (
        "<div class='map-legend'>"
        f"<div class='legend-scale'><div class='legend-swatches'>{swatches}</div>"
        f"<div class='legend-labels'>{swapped('low')}{swapped('mid')}{swapped('high')}</div>"
        "</div><p class='legend-keys'>"
        "<span class='legend-key'><span class='swatch hatched'></span>95% interval includes "
        "zero (hatched)</span>"
        f"<span class='legend-key'><span class='swatch' style='background:{NO_ESTIMATE}'></span>"
        "no estimate or no report</span>"
        "<span class='legend-key'>Orange: below zero; blue: above zero; white: zero</span>"
        "</p></div>")
    caption_attributes = " ".join(f"data-text-{slug(a)}='{_e(captions[a])}'" for a in analyses)
    title = "Estimated effect by province"
    desc = ("Tile map of China's 31 mainland provinces, one equal square each at its "
            "approximate position; colour shows the estimated effect of the chosen analysis, "
            "hatching that its 95% interval includes zero, grey no estimate. The table beside "
            "the map lists the same values.")
    svg = tile_map_svg(table, default, title, desc)
    tables_html = []
    for analysis in analyses:
        own = groups[analysis]
        rows = []
        for row in own.sort_values("province").itertuples():
            name = _e(row.province)
            if row.province_page:
                name = f"<a href='{_e(row.province_page)}'>{name}</a>"
            effect = _e(row.effect_text)
            if row.analysis_page and not _missing(row.estimate):
                effect = f"<a href='{_e(row.analysis_page)}'>{effect}</a>"
            rows.append(f"<tr><td>{name}</td><td data-sort='{_sort_value(row.estimate)}'>"
                        f"{effect}</td><td>{_e(row.interval_excludes_zero)}</td></tr>")
        hidden = "" if analysis == default else " hidden"
        tables_html.append(
            f"<div class='map-table' data-for-analysis='{slug(analysis)}'{hidden}>"
            + _table(f"map-table-{slug(analysis)}",
                     f"Effects by province: {own['analysis_title'].iloc[0]}",
                     [("Province", False), ("Effect [95% interval]", True),
                      ("Interval excludes zero", False)], rows) + "</div>")
    return (
        "<section id='map-section' class='index-section'>"
        "<h2>Estimated effects by province</h2>"
        "<p class='map-control'><label for='map-analysis'>Analysis shown on the map</label> "
        f"<select id='map-analysis'>{options}</select></p>"
        f"<p class='map-caption' aria-live='polite' {caption_attributes}>"
        f"{_e(captions[default])}</p>"
        f"<div class='map-layout'><figure class='map-figure'>{svg}{legend}</figure>"
        f"<div class='map-tables'>{''.join(tables_html)}</div></div>"
        "<p class='index-note'>Tile maps give every province the same weight, whatever its area or "
        "population. No boundaries are drawn: maps of China published in China need an "
        "approved map review number.</p>"
        + CSV_LINK.format(href=data_href("province_map")) + "</section>")


def _forest_section(table: pd.DataFrame, units: pd.DataFrame, headline: str,
                    simulated: bool) -> str:
    title = forest_title(table, simulated)
    if table.empty:
        return (f"<section id='forest-section' class='index-section'><h2>{_e(title)}</h2>"
                + CSV_LINK.format(href=data_href("forest_plot")) + "</section>")
    unit = table["unit"].iloc[0]
    outcome = OUTCOMES.get(table["outcome"].iloc[0])
    outcome_label = outcome.label.split(" (")[0].lower() if outcome else "outcome"
    axis = f"Effect on {outcome_label}, {unit}"
    desc = ("Forest plot: each row is an estimated effect (dot; hollow when its 95% interval "
            "includes zero) with its 95% confidence interval (line); the national estimate is "
            "the diamond at the top. The vertical line marks zero, no effect."
            + (" Simulated data." if simulated else ""))
    svg = forest_plot_svg(table, title, desc, axis)
    missing = units[(units["analysis"] == headline) & units["estimate"].isna()]
    note = ""
    if len(missing):
        names = "; ".join(
            f"{row.place} ({row.status_words if row.status != 'ok' else 'not estimated'})"
            for row in missing.itertuples())
        note = f"<p class='index-note'>No estimate for: {_e(names)}.</p>"
    source = ("Estimates from the simulated demonstration panel, not official statistics. "
              if simulated else "")
    return (
        "<section id='forest-section' class='index-section'>"
        f"<h2 id='headline-finding'>{_e(title)}</h2>"
        f"<p class='chart-subtitle'>{_e(table['analysis_title'].iloc[0])}. Estimated effect "
        f"in {_e(unit)} with its 95% confidence interval. Filled dots: the interval excludes "
        f"zero; hollow: it includes zero.</p>"
        "<figure class='forest-figure'><div class='chart-scroll' tabindex='0' role='region' "
        f"aria-label='Forest plot (scrolls sideways on narrow screens)'>{svg}</div>"
        f"<figcaption>{_e(source)}Each province's page "
        "has the estimate's method, sample and robustness checks.</figcaption></figure>"
        + note + CSV_LINK.format(href=data_href("forest_plot")) + "</section>")


def _units_section(units: pd.DataFrame) -> str:
    rows = []
    for row in units.itertuples():
        status = _e(row.status_words)
        status_css = {"ok": "status-built", "failed": "status-failed"}.get(row.status,
                                                                          "status-pending")
        analysis = _e(row.analysis_title)
        if row.status in ("ok", "failed"):
            analysis = f"<a href='{_e(row.page)}'>{analysis}</a>"
            if row.status == "failed":
                status = f"<a href='{_e(row.page)}'>{status}</a>"
        rows.append(
            f"<tr><td>{_e(row.place)}</td><td>{analysis}</td>"
            f"<td data-sort='{_sort_value(row.estimate)}'>{_e(row.effect_text)}</td>"
            f"<td>{_e(row.interval_excludes_zero)}</td>"
            f"<td data-sort='{_sort_value(row.published_figures)}'>{row.published_figures}</td>"
            f"<td class='{status_css}'>{status}</td></tr>")
    table = _table("units", "Every report (the table scrolls)", [
        ("Place", False), ("Analysis", False), ("Effect [95% interval]", True),
        ("Interval excludes zero", False), ("Published figures", True), ("Build status", False)],
        rows, scroll_css="table-scroll units-scroll")
    return (
        "<section id='units-section' class='index-section'><h2>Every report</h2>"
        f"<p>{len(units)} reports: each analysis in the nation and in each province, with its "
        "headline effect and 95% interval (pp = percentage points), the number of figures the "
        "government published for that place, and whether the page was built. Click a column "
        "heading to sort.</p>"
        "<p class='table-filter'><label for='units-filter'>Filter the reports</label> "
        "<input id='units-filter' type='search' data-filter-table='units' "
        "placeholder='e.g. Yunnan, wage, failed' autocomplete='off'> "
        f"<span id='units-count' class='filter-count' aria-live='polite'>{len(units)} of "
        f"{len(units)} shown</span></p>"
        + table + CSV_LINK.format(href=data_href("units")) + "</section>")


def _pages_section(units: pd.DataFrame, provinces_map: pd.DataFrame,
                   page_status: dict[str, str]) -> str:
    built = units[(units["unit_id"] == units["scope"]) & units["status"].isin(["ok", "failed"])]

    def status(href: str) -> str:
        words = STATUS_WORDS.get(page_status.get(href, "ok"), "failed: see notebook")
        return "" if words == "built" else f" ({words})"

    main = "".join(f"<li><a href='{_e(href)}'>{_e(name)}</a>: {_e(what)}{_e(status(href))}</li>"
                   for href, name, what in MAIN_PAGES)
    names = dict(zip(provinces_map["province_code"], provinces_map["province"]))
    province_pages = built[built["scope"] != config.NATIONAL_UNIT]
    links = "".join(f"<li><a href='{_e(row.page)}'>{_e(names.get(row.scope, row.place))}</a></li>"
                    for row in province_pages.sort_values("place").itertuples())
    provinces_html = (f"<h3>Province reports</h3><ul class='page-list columns'>{links}</ul>"
                      if links else "")
    return ("<section id='pages' class='index-section'><h2>All pages</h2>"
            f"<ul class='page-list'>{main}</ul>{provinces_html}</section>")


def cite_html(build_date: str, version: str | None = None) -> str:
    """The "How to cite" block (``id="cite"``): suggested citation and licences."""
    version = version or package_version()
    try:
        licence = metadata.metadata(PACKAGE).get("License") or "MIT"
    except metadata.PackageNotFoundError:
        licence = "MIT"
    citation = (f"{PROJECT_NAME}, version {version} (built {build_date}). Reproducible reports "
                "on China's employment-based poverty alleviation: published figures and "
                "estimated program effects, national and by province.")
    return (
        "<section id='cite' class='index-section cite'><h2>How to cite</h2>"
        f"<p>Suggested citation:</p><blockquote class='citation'><p>{_e(citation)}</p>"
        "</blockquote><h3>Licence and terms</h3><ul>"
        f"<li>Code: {_e(licence)} licence.</li>"
        "<li>Published figures are quoted from public press releases for research; each is "
        "linked to its source on the <a href='sources.html'>sources page</a>.</li>"
        "<li>The simulated demonstration data are not official statistics; estimates from "
        "them show how the methods work, not what the programs did.</li></ul></section>")


def index_body(tables: dict[str, pd.DataFrame], *, simulated: bool, build_date: str,
               headline_analysis: str | None = None, version: str | None = None,
               page_status: dict[str, str] | None = None) -> str:
    """The index page's body (no ``<html>``/``<head>``), drawn only from the frames of
    :func:`index_tables`, the ones written as its CSV downloads.

    ``build_date`` is the only date shown (the citation's); ``version`` defaults to the
    installed package's. ``page_status`` gives the build status ("ok", "failed", "not built")
    of site-wide pages by file name (``{"validation.html": "failed"}``); the page list says so
    beside their links.
    """
    forest, units, cards = tables["forest_plot"], tables["units"], tables["headline_figures"]
    trajectory, provinces_map = tables["working_away"], tables["province_map"]
    headline = headline_analysis or (forest["analysis"].iloc[0] if len(forest) else (
        provinces_map["analysis"].iloc[0] if len(provinces_map) else ""))
    evidence = ("the simulated demonstration panel (not official statistics)" if simulated
                else "the survey microdata")
    lede = ("<p class='lede'>Reproducible reports on China's employment-based poverty "
            "alleviation, for the nation and each province. The figures are those the "
            "government published, each traced to the sentence it was read from; the program "
            f"effects are estimated from {evidence}.</p>")
    cards_html = ("<section id='headline-figures' class='index-section'>"
                  "<h2>Key figures the government published</h2>"
                  + _cards_html(cards) + CSV_LINK.format(href=data_href("headline_figures"))
                  + "</section>")
    title = trend_title(trajectory)
    trend = ("<section id='trend-section' class='index-section'>"
             f"<h2>{_e(title)}</h2><p class='chart-subtitle'>Poor laborers working away from "
             "home, China, million persons. The 2019 count is implied by the end-of-October "
             "2020 count and its published ratio to the previous year.</p>"
             f"<figure class='trend-figure'>{trend_chart_svg(trajectory, title)}"
             "<figcaption>Sources: <a href='sources.html'>government press releases</a> "
             "(figure ledger).</figcaption></figure>"
             + CSV_LINK.format(href=data_href("working_away")) + "</section>")
    return (lede + cards_html + trend
            + _forest_section(forest, units, headline, simulated)
            + _map_section(provinces_map, headline, simulated)
            + _units_section(units) + _pages_section(units, provinces_map, page_status or {})
            + cite_html(build_date, version))
