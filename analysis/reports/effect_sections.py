"""Page sections about program effects, for any analysis specification.

Each section takes the spec and already-estimated tables (the notebook shows the estimation
calls), displays narrative, figure and table through the unit's :class:`UnitReport`, and takes
every label, unit and sentence from the spec and the estimate records.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import config
from analysis.data import microdata
from analysis.estimators import effects
from analysis.estimators import program_effects as pe
from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import COVARIATES, AnalysisSpec
from analysis.reports import plots, robustness_section, wording
from analysis.reports.matrix import MATRIX_END, MATRIX_START
from analysis.reports.report import UnitReport, escape_markdown

SIMULATED_NOTE = ("These estimates use the simulated demonstration panel; the planted effects "
                  "are shown beside them. They are not estimates of the real programs.")
EFFECT_COLUMNS = ("estimate", "std_error", "ci_low", "ci_high", "true_effect")


def load_panel(processed_dir, scope: str | None, table: str = "panel") -> pd.DataFrame | None:
    """The processed panel of a province (or every province for None); None without microdata.

    ``table="projection"`` reads the simulated 2021-2025 extract that ingest writes beside a
    simulated panel.
    """
    return microdata.read_partitions(Path(processed_dir or config.PROCESSED_DIR), table, scope)


def load_truth(processed_dir, scope: str | None) -> pd.DataFrame | None:
    """The planted effects when the panel is simulated; None for an analyst's own extract."""
    return microdata.read_truth(Path(processed_dir or config.PROCESSED_DIR), scope)


def in_reader_units(table: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Effect columns converted to the outcome's reader unit (points, months, yuan)."""
    scaled = table.copy()
    for column in EFFECT_COLUMNS:
        if column in scaled:
            scaled[column] = scaled[column] * spec.outcome_info.scale
    return scaled


def axis_label(spec: AnalysisSpec) -> str:
    return f"effect on {spec.outcome_info.noun} ({spec.outcome_info.effect_unit})"


# ----------------------------------------------------------------------------------------------
# What the analysis is


def design_section(report: UnitReport, spec: AnalysisSpec, simulated: bool) -> None:
    """The estimand and design in words, read from the spec and the registry."""
    program, outcome = spec.program_info, spec.outcome_info
    headline = ESTIMATORS[spec.headline_estimator]
    report.say(
        f"**Program:** {program.label}. {program.description}\n\n"
        f"**Outcome:** {outcome.label}, effects in {outcome.effect_unit}.\n\n"
        f"**Who:** {spec.population_label}.\n\n"
        f"**Headline estimate:** {headline.label}: {ESTIMANDS[headline.estimand].description} "
        f"Standard errors are clustered by {spec.cluster_label}. Adjusted estimators use "
        f"{spec.covariate_labels()}, measured in the first panel year.")
    if simulated:
        report.say(f"*{SIMULATED_NOTE}*")


# ----------------------------------------------------------------------------------------------
# One scope (a province, or the nation pooled)


def headline_section(report: UnitReport, spec: AnalysisSpec, estimates: pd.DataFrame,
                     where: str, simulated: bool) -> pd.Series:
    """The headline sentence, built from the headline estimator's own record."""
    headline = estimates[estimates["method"] == spec.headline_estimator].iloc[0]
    if pd.isna(headline["estimate"]):
        report.say(f"{escape_markdown(where)}, the headline estimator "
                   f"({ESTIMATORS[spec.headline_estimator].label}) could not be computed: "
                   f"{escape_markdown(headline['notes'] or 'no reason recorded')}.")
        report.set_summary("; ".join(filter(None, [report.summary,
                                                   f"{spec.title}: not estimated"])))
        report.set_headline(spec, headline)
        return headline
    for part in ("estimate", "ci_low", "ci_high"):
        report.number(f"headline_{part}", wording.effect_value(headline[part], spec),
                      spec.outcome_info.effect_unit)
    report.say(wording.effect_sentence(headline, spec, escape_markdown(where)))
    if "true_effect" in headline and pd.notna(headline["true_effect"]):
        report.number("headline_planted_effect", wording.effect_value(headline["true_effect"],
                                                                       spec),
                      spec.outcome_info.effect_unit)
        covered = "covers" if headline["covers_truth"] else "does not cover"
        report.say(f"The planted effect in the simulation is "
                   f"{wording.effect_number(headline['true_effect'], spec)}; the interval "
                   f"{covered} it.")
    report.set_summary("; ".join(filter(None, [
        report.summary, f"{spec.title}: {wording.short_effect(headline, spec)}"
        + (" (simulated data)" if simulated else "")])))
    report.set_headline(spec, headline)
    return headline


def estimates_table(estimates: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Every estimator's row in the reader's units, ready to show."""
    unit = spec.outcome_info.effect_unit
    decimals = spec.outcome_info.decimals
    shown = in_reader_units(estimates, spec)

    def fmt(value):
        return wording.plain_number(value, decimals)

    table = pd.DataFrame({
        "estimator": shown["label"],
        "what it estimates": shown["estimand_label"],
        f"effect ({unit})": shown["estimate"].map(fmt),
        "standard error": shown["std_error"].map(fmt),
        "95% confidence interval": [
            "" if pd.isna(low) else f"{fmt(low)} to {fmt(high)}"
            for low, high in zip(shown["ci_low"], shown["ci_high"])],
        "rows used": shown["n_obs"].map(lambda n: f"{int(n):,}" if n else ""),
        "clusters": shown["n_clusters"].map(lambda n: "" if pd.isna(n) else f"{int(n):,}"),
        "standard errors": shown["se_type"],
        "notes": shown["notes"],
    })
    if "true_effect" in shown:
        table["planted effect"] = shown["true_effect"].map(fmt)
        table["interval covers it"] = [
            "" if pd.isna(est) else ("yes" if covers else "no")
            for est, covers in zip(shown["estimate"], shown["covers_truth"])]
    return table


def estimators_section(report: UnitReport, spec: AnalysisSpec, estimates: pd.DataFrame) -> None:
    report.figure(plots.estimates_plot(
        in_reader_units(estimates, spec), f"{spec.title}: every estimator",
        xlabel=axis_label(spec)))
    report.table("effect_estimates", estimates, "Estimates by estimator",
                 display_table=estimates_table(estimates, spec))


def _band_in_reader_units(checks, spec: AnalysisSpec) -> pd.DataFrame | None:
    if checks is None or checks.band is None:
        return None
    scale = spec.outcome_info.scale
    band = pd.DataFrame({"event_time": checks.event_times, "low": checks.band.lower * scale,
                         "high": checks.band.upper * scale})
    # The reference year is 0 by construction: the band closes there, as the intervals do.
    reference = pd.DataFrame({"event_time": [-1], "low": [0.0], "high": [0.0]})
    return pd.concat([band, reference], ignore_index=True)


def event_study_section(report: UnitReport, spec: AnalysisSpec, events: pd.DataFrame,
                        true_events: pd.DataFrame | None, checks=None) -> None:
    truth = None if true_events is None else true_events.assign(
        att=true_events["att"] * spec.outcome_info.scale)
    report.figure(plots.event_study_plot(in_reader_units(events, spec), truth,
                                         ylabel=axis_label(spec),
                                         program_noun=spec.program_info.noun,
                                         band=_band_in_reader_units(checks, spec)))
    shown = in_reader_units(events, spec)
    decimals = spec.outcome_info.decimals
    for column in ("estimate", "ci_low", "ci_high"):
        shown[column] = shown[column].map(lambda v: wording.plain_number(v, decimals))
    report.table("event_study", events[["label", "event_time", "estimate", "std_error",
                                        "ci_low", "ci_high", "is_reference"]],
                 f"Effects by years since first receipt, in {spec.outcome_info.effect_unit}. "
                 "Both estimators compare each year with the year before first receipt and use "
                 "the same laborers (those first treated after the first panel year, and those "
                 "never treated). Two-way fixed effects pool every cohort in one regression; "
                 "Callaway-Sant'Anna compares each cohort with the never treated and averages. "
                 "Estimates before year 0 check parallel trends: they should be near zero. In "
                 "the chart, the dashed lines around Callaway-Sant'Anna are a simultaneous 95% "
                 "band, which covers every year at once, so a reader may judge the whole path "
                 "(the shaded intervals cover one year each)",
                 display_table=shown[["label", "event_time", "estimate", "ci_low", "ci_high"]]
                 .rename(columns={"label": "estimator", "event_time": "years since first receipt",
                                  "estimate": "effect", "ci_low": "95% CI from",
                                  "ci_high": "95% CI to"}))


def balance_section(report: UnitReport, spec: AnalysisSpec, panel: pd.DataFrame) -> None:
    program = spec.program_info.noun
    try:
        diagnostics = pe.propensity_diagnostics(panel, spec)
    except effects.EffectsError as error:
        report.say(f"Covariate balance cannot be assessed here: the propensity model could not "
                   f"be fitted ({error}).")
        return
    balance, overlap = diagnostics.balance, diagnostics.by_arm
    report.figure(plots.balance_plot(balance, f"received {program} vs not"))
    covariate_words = {**COVARIATES}
    report.table("covariate_balance", balance, "Covariate balance in the last panel year "
                 "(standardized mean differences; below 0.1 in absolute value is "
                 "conventionally balanced)",
                 display_table=pd.DataFrame({
                     "covariate": balance["covariate"].map(covariate_words)
                     .fillna(balance["covariate"]),
                     "mean, received": balance["mean_treated"].map(lambda v: f"{v:,.2f}"),
                     "mean, did not": balance["mean_control"].map(lambda v: f"{v:,.2f}"),
                     "difference before weighting": balance["smd"].map(lambda v: f"{v:.2f}"),
                     "difference after weighting": balance["smd_weighted"].map(
                         lambda v: f"{v:.2f}")}))
    arms = overlap.reset_index()
    report.table("propensity_overlap", arms,
                 "Estimated probability of receiving the program, by arm",
                 display_table=pd.DataFrame({
                     "laborers": arms[arms.columns[0]].map(
                         {"treated": "received", "control": "did not receive"}),
                     "number": arms["n"].map(lambda n: f"{int(n):,}"),
                     "lowest": arms["ps_min"].map(lambda v: f"{v:.3f}"),
                     "mean": arms["ps_mean"].map(lambda v: f"{v:.3f}"),
                     "highest": arms["ps_max"].map(lambda v: f"{v:.3f}"),
                     "left out (trimmed)": arms["n_trimmed"].map(lambda n: f"{int(n):,}")}))


def dynamics_and_balance_sections(report: UnitReport, results: pe.AnalysisResults) -> None:
    """Effects by years since first receipt, who received the program, and how far the
    headline can be trusted (pre-trends and sensitivity)."""
    spec = results.spec
    checks = robustness_section.compute(results)
    report.say("### Effects by years since first receipt")
    if results.events.empty:
        report.say("Effects by years since first receipt could not be estimated here: "
                   f"{results.events.attrs.get('not_estimated', 'too few cohorts')}.")
    else:
        event_study_section(report, spec, results.events, results.true_events, checks)
    report.say(f"### Who received {spec.program_info.noun}: balance of covariates")
    balance_section(report, spec, results.panel)
    robustness_section.robustness_section(report, results, checks)


def effects_sections(report: UnitReport, results: pe.AnalysisResults | None, where: str,
                     simulated: bool) -> None:
    """Headline, every estimator, effects by years since first receipt, and balance."""
    if results is None:
        report.say("No person-year microdata cover this scope, so no effects are estimated.")
        return
    spec = results.spec
    headline_section(report, spec, results.estimates, where, simulated)
    estimators_section(report, spec, results.estimates)
    dynamics_and_balance_sections(report, results)


def matrix_placeholder(report: UnitReport, scope: str) -> None:
    """Where the site puts the program-by-outcome matrix of this scope's analyses."""
    report.html(f"<div class='analysis-matrix' data-scope='{scope}'>{MATRIX_START}"
                "<p>The table of every analysis for this scope is added when the site is "
                f"built.</p>{MATRIX_END}</div>")


# ----------------------------------------------------------------------------------------------
# The nation: every province and the pooled estimate


def _provinces(count_text: str) -> str:
    return f"{count_text} province" + ("" if count_text == "1" else "s")


def _many_provinces_sentences(report: UnitReport, spec: AnalysisSpec,
                              by_province: pd.DataFrame) -> pd.DataFrame:
    """Equal effects, spread, adjusted flags and shrinkage, in words; returns the table with
    the new columns (:mod:`analysis.estimators.many_provinces`)."""
    from analysis.estimators import many_provinces

    table, test = many_provinces.combine(by_province)
    unit = spec.outcome_info.effect_unit
    spread = report.number("province_effect_spread", (test.tau2 ** 0.5) * spec.outcome_info.scale,
                           unit)
    p_text = report.number("equal_effects_p", test.p_value, "ratio")
    verdict = ("the provinces' effects differ" if test.p_value < 0.05 else
               "the data cannot tell the provinces' effects apart")
    holm = report.number("provinces_differ_holm", int(table["differs_holm"].sum()), "count")
    bh = report.number("provinces_differ_bh", int(table["differs_bh"].sum()), "count")
    report.say(
        f"A test of equal effects across provinces says {verdict} (Cochran's Q = "
        f"{test.q:.1f} on {test.df} degrees of freedom, p = {p_text}); the estimated spread of "
        f"the true province effects is {spread} (standard deviation). After adjusting for "
        f"testing {test.df + 1} provinces at once, the effect differs from zero in "
        f"{_provinces(holm)} controlling the chance of any false finding (Holm), and in "
        f"{_provinces(bh)} controlling the share of false findings (Benjamini-Hochberg). "
        "The shrunken "
        "estimates pull each province towards the average in proportion to its noise; their "
        "robust empirical-Bayes intervals keep 95% coverage on average across provinces "
        "whatever the shape of the province effects (Armstrong, Kolesar and "
        "Plagborg-Moller 2022).")
    return table


def national_effects_section(report: UnitReport, spec: AnalysisSpec, by_province: pd.DataFrame,
                             pooled: pd.Series, names: dict[str, str]) -> None:
    """Province estimates of the headline estimator beside the pooled one, with the test of
    equal effects, multiplicity-adjusted flags and robust empirical-Bayes estimates."""
    estimated_rows = by_province["estimate"].notna() & (by_province["std_error"] > 0)
    provinces = report.number("provinces_estimated", int(estimated_rows.sum()), "count")
    report.say(f"The headline estimator could be computed in {provinces} of "
               f"{len(by_province)} provinces.")
    if estimated_rows.sum() >= 3:
        by_province = _many_provinces_sentences(report, spec, by_province)
    shown = in_reader_units(by_province, spec)
    for column in ("shrunk", "shrunk_ci_low", "shrunk_ci_high"):
        if column in shown:
            shown[column] = shown[column] * spec.outcome_info.scale
    estimated = shown[shown["estimate"].notna()]
    failed = by_province[by_province["estimate"].isna()]
    for row in failed.itertuples():
        report.say(f"- {escape_markdown(names.get(row.province_code, row.province_code))}: "
                   f"not estimated ({escape_markdown(row.notes)}).")
    pooled_shown = in_reader_units(pooled.to_frame().T, spec).iloc[0]
    headline_label = ESTIMATORS[spec.headline_estimator].label
    report.figure(plots.forest_plot(
        estimated, pooled_shown, names, xlabel=axis_label(spec),
        title=f"{spec.title}: {headline_label} by province", unit=spec.outcome_info.effect_unit))
    table = shown.assign(province=shown["province_code"].map(names))
    decimals = spec.outcome_info.decimals
    for column in ("estimate", "std_error", "ci_low", "ci_high", "true_effect"):
        if column in table:
            table[column] = table[column].map(lambda v: wording.plain_number(v, decimals))
    for column in ("n_obs", "n_clusters"):
        table[column] = table[column].map(lambda n: "" if pd.isna(n) or not n else f"{int(n):,}")
    for column in ("shrunk", "shrunk_ci_low", "shrunk_ci_high"):
        if column in table:
            table[column] = table[column].map(lambda v: wording.plain_number(v, decimals))
    for column in ("differs_holm", "differs_bh"):
        if column in table:
            table[column] = table[column].map({True: "yes", False: "no"}).fillna("")
    columns = ["province_code", "province", "estimate", "std_error", "ci_low", "ci_high",
               *[c for c in ("differs_holm", "differs_bh", "shrunk", "shrunk_ci_low",
                             "shrunk_ci_high") if c in table],
               "n_obs", "n_clusters", *(["true_effect"] if "true_effect" in table else [])]
    report.table("effects_by_province", by_province.assign(
        province=by_province["province_code"].map(names))[columns],
        f"{headline_label} by province, in {spec.outcome_info.effect_unit}",
        display_table=table[columns].rename(columns={
            "province_code": "code", "estimate": "effect", "std_error": "standard error",
            "ci_low": "95% CI from", "ci_high": "95% CI to", "n_obs": "rows used",
            "differs_holm": "differs from zero (Holm)",
            "differs_bh": "differs from zero (Benjamini-Hochberg)",
            "shrunk": "shrunken estimate", "shrunk_ci_low": "robust EB CI from",
            "shrunk_ci_high": "robust EB CI to",
            "n_clusters": "counties", "true_effect": "planted effect"}))


def national_effects(report: UnitReport, results: pe.AnalysisResults | None,
                     by_province: pd.DataFrame | None, names: dict[str, str],
                     simulated: bool) -> None:
    """The pooled headline, the provinces' estimates, then every estimator pooled."""
    if results is None or by_province is None:
        report.say("No person-year microdata are available, so no effects are estimated.")
        return
    spec = results.spec
    pooled = headline_section(report, spec, results.estimates, "Across all provinces pooled",
                              simulated)
    report.say("### Province by province")
    national_effects_section(report, spec, by_province, pooled, names)
    report.say("### Every estimator, all provinces pooled")
    estimators_section(report, spec, results.estimates)
    dynamics_and_balance_sections(report, results)


# ----------------------------------------------------------------------------------------------
# Who gains


def _equality_sentence(title: str, test) -> str:
    if not pd.notna(test.p_value):
        reason = test.method.removeprefix("not computed: ")
        return f"- {title}: equal effects could not be tested ({reason})."
    verdict = ("the effects differ between these groups" if test.p_value < 0.05 else
               "the data cannot tell these groups' effects apart")
    return (f"- {title}: {verdict} (test of equal effects: F = {test.statistic:.2f}, "
            f"p = {test.p_value:.3f}, {test.n_clusters} clusters).")


def who_gains_section(report: UnitReport, spec: AnalysisSpec, panel: pd.DataFrame | None,
                      where: str, seed: int = 0) -> None:
    """Effects by sex, age band, weak labor and schooling, each with a test of equal effects."""
    from analysis.estimators.heterogeneity import DIMENSIONS

    report.say("## Who gains")
    if panel is None:
        report.say("No person-year microdata cover this scope, so effects by group cannot be "
                   "estimated.")
        return
    estimator = pe.group_estimator(spec)
    note = "" if estimator.name == spec.headline_estimator else (
        f" The headline estimator ({ESTIMATORS[spec.headline_estimator].label}) does not give "
        f"the influence scores the test needs, so groups use {estimator.label}.")
    report.say(f"{escape_markdown(where)}: the effect of {spec.program_info.noun} on "
               f"{spec.outcome_info.noun} "
               f"for each group ({estimator.label}; groups by traits in the first panel year), "
               "and a test of whether the groups' effects are equal. The test accounts for "
               f"groups sharing {spec.cluster_label} clusters.{note}")
    tables, sentences = [], []
    for name, dimension in DIMENSIONS.items():
        result = pe.effects_by_group(panel, spec, name, seed)
        tables.append(result.table.assign(dimension=dimension.title))
        sentences.append(_equality_sentence(dimension.title, result.test))
        report.number(f"equal_effects_p_{name}", result.test.p_value, "ratio")
    report.say("\n".join(sentences))
    groups = pd.concat(tables, ignore_index=True)
    estimated = groups[groups["status"] == "estimated"]
    report.figure(plots.estimates_plot(
        in_reader_units(estimated.assign(label=estimated["dimension"] + ": "
                                         + estimated["group"].astype(str)), spec),
        f"{spec.title}: effect by group", xlabel=axis_label(spec)))
    shown = in_reader_units(groups, spec)
    decimals = spec.outcome_info.decimals

    def fmt(value):
        return wording.plain_number(value, decimals)

    report.table("effects_by_group", groups.assign(group=groups["group"].astype(str)),
                 f"Effect by group, in {spec.outcome_info.effect_unit}",
                 display_table=pd.DataFrame({
                     "dimension": shown["dimension"], "group": shown["group"].astype(str),
                     "effect": shown["estimate"].map(fmt),
                     "95% CI": [f"{fmt(lo)} to {fmt(hi)}" if pd.notna(lo) else ""
                                for lo, hi in zip(shown["ci_low"], shown["ci_high"])],
                     "laborers": shown["n_persons"],
                     "status": shown["status"]}))
