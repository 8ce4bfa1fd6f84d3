"""The index page: headline cards from the ledger, the tile map, the forest plot, the unit
table, and CSV downloads that carry the same numbers as the page."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from analysis.estimators.spec import AnalysisSpec
from analysis.reports import index_page, matrix, tables
from analysis.reports.report import format_value

HEADLINE = "training_stable_employment"
ANALYSES = {HEADLINE: ("training", "stable_employment", "percentage points"),
            "training_wage_income": ("training", "wage_income", "yuan")}
TEMPLATES = Path(index_page.__file__).parent / "templates"


def _result(scope: str, analysis: str, status: str = "ok", shown=None) -> matrix.UnitResult:
    program, outcome, unit = ANALYSES[analysis]
    spec = AnalysisSpec(program=program, outcome=outcome, name=analysis).to_dict()
    unit_id = scope if analysis == HEADLINE else f"{scope}-{analysis}"
    page = {"national": "national.html"}.get(unit_id) or (
        f"{unit_id}.html" if scope == "national" else f"province-{unit_id}.html")
    headline = None
    if shown is not None:
        estimate, low, high = shown
        scale = 100.0 if unit == "percentage points" else 1.0
        headline = {"method": "callaway_santanna", "estimand": "att_post",
                    "estimate": estimate / scale, "ci_low": low / scale, "ci_high": high / scale,
                    "unit": unit, "shown": {"estimate": estimate, "ci_low": low, "ci_high": high}}
    return matrix.UnitResult(unit_id, scope, analysis, status, page, headline, spec)


# Yunnan and Hubei exclude zero (one above, one below), Gansu includes it, Guizhou failed,
# Tibet is not built yet; Hebei has only its headline, estimated near zero.
RESULTS = [
    _result("national", HEADLINE, shown=(8.74, 6.58, 10.91)),
    _result("national", "training_wage_income", shown=(2704.2, 2120.4, 3289.0)),
    _result("53", HEADLINE, shown=(4.04, 0.5, 12.93)),
    _result("53", "training_wage_income", shown=(-2109.4, -5335.3, -637.4)),
    _result("42", HEADLINE, shown=(-3.2, -6.1, -0.4)),
    _result("42", "training_wage_income", status="failed"),
    _result("62", HEADLINE, shown=(9.3, -6.1, 23.5)),
    _result("52", HEADLINE, status="failed"),
    _result("54", HEADLINE, status="not built"),
    _result("13", HEADLINE, shown=(-0.04, -10.6, 12.7)),
]
TITLES = {name: AnalysisSpec(program=p, outcome=o, name=name).short_title
          for name, (p, o, _) in ANALYSES.items()}


@pytest.fixture(scope="module")
def ledger(processed_dir: Path) -> dict[str, pd.DataFrame]:
    return tables.load_processed(processed_dir)


@pytest.fixture(scope="module")
def frames(ledger) -> dict[str, pd.DataFrame]:
    return index_page.index_tables(RESULTS, ledger, TITLES, HEADLINE)


@pytest.fixture(scope="module")
def body(frames) -> str:
    return index_page.index_body(frames, simulated=True, build_date="2025-01-15",
                                 headline_analysis=HEADLINE)


class _Text(HTMLParser):
    """The text a reader can see (and the text the map's script can swap in)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.parts += [value for name, value in attrs
                       if value and name.startswith("data-text-")]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(markup: str) -> list[str]:
    parser = _Text()
    parser.feed(markup)
    return [part.strip() for part in parser.parts if part.strip()]


def _svg(body: str, svg_id: str) -> str:
    match = re.search(rf"<svg id='{svg_id}'.*?</svg>", body, re.S)
    assert match, f"no svg #{svg_id}"
    return match.group(0)


# ---------------------------------------------------------------------------------------------


def test_cards_show_the_ledger_values(ledger, frames, body):
    figures = ledger["figures"].set_index("figure_id")
    cards = frames["headline_figures"]
    assert 4 <= len(cards) <= 8
    for card in cards.itertuples():
        row = figures.loc[card.figure_id]
        assert card.value == row["value"] and row["scope"] == "national"
        shown = format_value(row["value"], row["unit"], row["qualifier"])
        match = re.search(rf"<article class='card' data-figure='{card.figure_id}'.*?</article>",
                          body, re.S)
        assert match and f"<p class='card-value'>{html.escape(shown)}</p>" in match.group(0)
        assert f"href='sources.html#{card.figure_id}'" in match.group(0)
    by_indicator = cards.set_index("indicator")
    away = by_indicator.loc["poor_laborers_working_away"]
    assert (away["value_shown"], away["period"]) == ("32.43 million", "2020")
    reached = by_indicator.loc["registered_poor_households_employment_assistance_share"]
    assert reached["value_shown"] == "93.8%"


def test_a_card_indicator_missing_from_the_ledger_is_skipped(ledger):
    cards = index_page.headline_figures_table(
        ledger, ("no_such_indicator", "poor_laborers_working_away"))
    assert list(cards["indicator"]) == ["poor_laborers_working_away"]


def test_the_trend_chart_draws_the_national_trajectory(ledger, frames, body):
    expected = tables.working_away_trajectory(ledger["figures"], ledger["derived_figures"])
    pd.testing.assert_frame_equal(frames["working_away"], expected)
    svg = _svg(body, "trend-chart")
    drawn = [float(v) for v in re.findall(r"<g class='bar' data-value='([^']*)'", svg)]
    assert drawn == pytest.approx(list(expected["persons"]))
    assert "Million persons" in svg and "<title id='trend-chart-title'>" in svg
    assert "data/index/working_away.csv" in body


def test_the_tile_map_has_31_tiles_at_distinct_places_linking_to_existing_pages(ledger, body):
    svg = _svg(body, "tile-map")
    assert svg.count("<rect class='tile'") == 31
    places = re.findall(r"data-province='(\d\d)' data-col='(\d+)' data-row='(\d+)'", svg)
    assert len(places) == 31
    assert {code for code, _, _ in places} == set(ledger["provinces"]["province_code"])
    assert len({(col, row) for _, col, row in places}) == 31
    assert set(index_page.TILE_GRID) == set(ledger["provinces"]["province_code"])
    rendered = {r.page for r in RESULTS if r.unit_id == r.scope and r.status in ("ok", "failed")}
    links = set(re.findall(r"<a href='([^']*)' class='tile-group'", svg))
    assert links == rendered - {"national.html"}
    assert "province-54.html" not in links  # Tibet: not built, so no page to link to
    # A labelled group (its tiles are links a screen reader must reach), not an opaque image.
    assert "role='group' aria-labelledby='tile-map-title tile-map-desc'" in svg
    assert "<desc id='tile-map-desc'>" in svg
    assert "<select id='map-analysis'>" in body
    assert "map review number" in body and "hatched" in body


def test_the_map_tiles_carry_every_analysis_and_hatch_intervals_that_include_zero(body):
    svg = _svg(body, "tile-map")
    gansu = re.search(r"data-province='62'.*?</(?:a|g)>", svg, re.S).group(0)
    assert "class='tile-hatch'" in gansu and "visibility='visible'" in gansu
    yunnan = re.search(r"data-province='53'.*?</(?:a|g)>", svg, re.S).group(0)
    assert "visibility='hidden'" in yunnan.split("class='tile-hatch'")[1][:200]
    for analysis in ANALYSES:
        assert f"data-fill-{index_page.slug(analysis)}=" in yunnan
    beijing = re.search(r"data-province='11'.*?</(?:a|g)>", svg, re.S).group(0)
    assert f"fill='{index_page.NO_ESTIMATE}'" in beijing


def test_the_forest_plot_has_one_interval_per_province_with_an_estimate(frames, body):
    svg = _svg(body, "forest-plot")
    estimated = [r for r in RESULTS if r.analysis == HEADLINE and r.headline]
    rows = re.findall(r"<g class='forest-row( national)?' data-scope='([^']*)' "
                      r"data-estimate='([^']*)'", svg)
    assert len(rows) == len(estimated)
    assert svg.count("<line class='interval'") == len(estimated)
    assert rows[0][:2] == (" national", "national")
    province_estimates = [float(value) for _, _, value in rows[1:]]
    assert province_estimates == sorted(province_estimates, reverse=True)
    assert {scope for _, scope, _ in rows} == {r.scope for r in estimated}
    assert "<line class='zero-line'" in svg and "percentage points" in svg


def test_the_headline_sentence_says_simulated_only_when_simulated(frames):
    forest = frames["forest_plot"]
    simulated = index_page.forest_title(forest, simulated=True)
    assert "simulated data" in simulated
    assert "in 2 of 4 provinces the 95% interval excludes zero" in simulated
    assert simulated.startswith("Nationally, vocational skills training raised")
    assert "simulated" not in index_page.forest_title(forest, simulated=False)
    body = index_page.index_body(frames, simulated=False, build_date="2025-01-15")
    heading = re.search(r"<h2 id='headline-finding'>(.*?)</h2>", body).group(1)
    assert "simulated" not in heading


def test_the_headline_heading_on_the_page_says_simulated(body):
    heading = re.search(r"<h2 id='headline-finding'>(.*?)</h2>", body).group(1)
    assert "simulated data" in heading


def test_the_units_table_lists_every_unit_with_words_not_codes(frames, body):
    units = frames["units"]
    assert len(units) == len(RESULTS)
    table = re.search(r"<table id='units' class='site-table sortable'>.*?</table>", body,
                      re.S).group(0)
    assert table.count("<tr>") == len(RESULTS) + 1
    assert "<input id='units-filter' type='search' data-filter-table='units'" in body
    statuses = set(units["status_words"])
    assert statuses == {"built", "failed: see notebook", "not built yet"}
    assert ">ok<" not in table
    national = units[units["scope"] == "national"]
    assert set(national["place"]) == {"China (national)"}
    figures_53 = units.loc[units["unit_id"] == "53", "published_figures"].item()
    assert figures_53 > 0 and f"<td data-sort='{figures_53}'>{figures_53}</td>" in table
    for page in ("national.html", "methods.html", "validation.html", "sources.html",
                 "glossary.html", "replication.html", "province-53.html"):
        assert f"href='{page}'" in body


def test_the_csv_downloads_carry_the_numbers_the_page_shows(frames, body, tmp_path):
    written = index_page.write_index_data(frames, tmp_path)
    assert {path.name for path in written} == {f"{name}.csv" for name in frames}
    for name in frames:
        assert f"<a class='data-link' href='data/index/{name}.csv' download>" in body
    units = pd.read_csv(tmp_path / "data" / "index" / "units.csv", dtype={"scope": str})
    rows = re.findall(r"<tr><td>[^<]*</td><td>(?:<a[^>]*>)?[^<]*(?:</a>)?</td>"
                      r"<td data-sort='([^']*)'>([^<]*)</td>", body)
    assert len(rows) == len(units)
    for (sort_value, text), row in zip(rows, units.itertuples()):
        assert html.unescape(text) == row.effect_text
        if pd.isna(row.estimate):
            assert sort_value == ""
        else:
            assert float(sort_value) == pytest.approx(row.estimate, abs=1e-6)
    forest = pd.read_csv(tmp_path / "data" / "index" / "forest_plot.csv")
    drawn = re.findall(r"data-estimate='([^']*)' data-ci-low='([^']*)' data-ci-high='([^']*)'",
                       _svg(body, "forest-plot"))
    assert [float(value) for row in drawn for value in row] == pytest.approx(
        [value for row in zip(forest["estimate"], forest["ci_low"], forest["ci_high"])
         for value in row], abs=1e-6)
    cards = pd.read_csv(tmp_path / "data" / "index" / "headline_figures.csv")
    for shown in cards["value_shown"]:
        assert f"<p class='card-value'>{html.escape(shown)}</p>" in body


def test_sort_attributes_are_plain_numbers(body):
    values = re.findall(r"data-sort='([^']*)'", body)
    assert values
    for value in values:
        if value:
            float(value)
            assert value not in ("-0", "-0.0") and "e" not in value.lower()


def test_no_identifier_nan_or_negative_zero_is_shown(body):
    text = " ".join(visible_text(body))
    assert not re.findall(r"\b[a-z0-9]+_[a-z0-9_]+\b", text)
    assert not re.search(r"\bnan\b", text, re.I)
    assert not re.search(r"(?<![\d.])-0(?:\.0+)?(?![\d.])", text)
    assert "None" not in text


def test_text_from_data_is_escaped(ledger):
    titles = {**TITLES, HEADLINE: "<script>alert(1)</script> & more"}
    frames = index_page.index_tables(RESULTS, ledger, titles, HEADLINE)
    body = index_page.index_body(frames, simulated=True, build_date="2025-01-15")
    assert "<script>" not in body and "&lt;script&gt;" in body


def test_the_body_is_deterministic_and_cites_the_build(ledger, frames, body):
    again = index_page.index_body(index_page.index_tables(RESULTS, ledger, TITLES, HEADLINE),
                                  simulated=True, build_date="2025-01-15",
                                  headline_analysis=HEADLINE)
    assert again == body
    cite = re.search(r"<section id='cite'.*?</section>", body, re.S).group(0)
    assert index_page.package_version() in cite and "2025-01-15" in cite
    assert "MIT" in cite and "not official statistics" in cite and "http" not in cite
    assert not re.search(r"<(html|head|body)\b", body)


def test_the_default_headline_is_training_and_stable_employment():
    assert index_page.default_headline(list(reversed(RESULTS))) == HEADLINE


def test_the_script_and_stylesheet_cover_the_components():
    script = (TEMPLATES / "site.js").read_text(encoding="utf-8")
    for needed in ("table.sortable", "aria-sort", "data-filter-table", "map-analysis"):
        assert needed in script
    assert not re.search(r"\bfetch\(|XMLHttpRequest|https?://", script)
    css = (TEMPLATES / "index.css").read_text(encoding="utf-8")
    assert re.search(r"@media \(max-width: 600px\) \{\s*\.cards \{ grid-template-columns: 1fr",
                     css)
    assert "max-width: 100%" in css and "height: auto" in css


def test_site_wide_pages_say_when_they_did_not_build(frames):
    body = index_page.index_body(frames, simulated=True, build_date="2025-01-15",
                                 page_status={"validation.html": "failed",
                                              "methods.html": "not built"})
    pages = re.search(r"<section id='pages'.*?</section>", body, re.S).group(0)
    assert re.search(r"href='validation.html'>Validation</a>[^<]*\(failed: see notebook\)", pages)
    assert re.search(r"href='methods.html'>Methods</a>[^<]*\(not built yet\)", pages)
    assert "(built)" not in pages


def test_an_empty_build_still_renders(ledger):
    frames = index_page.index_tables([], ledger, {}, None)
    body = index_page.index_body(frames, simulated=True, build_date="2025-01-15")
    assert "No analysis has been built yet" in body and "id='cite'" in body
    assert frames["units"].empty and list(frames["units"].columns)
