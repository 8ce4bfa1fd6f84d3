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


def load_panel(processed_dir, scope: str | None, table: str = "panel",
               columns: list[str] | None = None) -> pd.DataFrame | None:
    """The processed panel of a province (or every province for None); None without microdata.

    ``table="projection"`` reads the simulated 2021-2025 extract that ingest writes beside a
    simulated panel; ``columns`` reads only those (the nation's whole panel need not fit).
    """
    return microdata.read_partitions(Path(processed_dir or config.PROCESSED_DIR), table, scope,
                                     columns)


def panel_is_simulated(processed_dir) -> bool:
    """Whether ingest wrote the simulated demonstration panel (its manifest says so)."""
    import json

    manifest = Path(processed_dir or config.PROCESSED_DIR) / config.MANIFEST_NAME
    return (json.loads(manifest.read_text()).get("panel", {}).get("origin") == "simulated"
            if manifest.exists() else False)


def indicator_columns() -> list[str]:
    """The panel columns the published targets are measured from."""
    from analysis.estimators import indicators

    return list(indicators.COLUMNS_READ)


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
    """"effect on stable employment (percentage points)": short enough for a phone."""
    return f"effect on {wording.outcome_short(spec)} ({spec.outcome_info.effect_unit})"


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


def _headline_record(spec: AnalysisSpec, estimates: pd.DataFrame) -> pd.Series:
    return estimates[estimates["method"] == spec.headline_estimator].iloc[0]


def headline_section(report: UnitReport, spec: AnalysisSpec, estimates: pd.DataFrame,
                     where: str, simulated: bool) -> pd.Series:
    """The headline sentence, built from the headline estimator's own record."""
    headline = _headline_record(spec, estimates)
    if pd.isna(headline["estimate"]):
        report.say(wording.not_estimated_sentence(
            f"The headline estimate ({ESTIMATORS[spec.headline_estimator].label})",
            headline["notes"], spec.program_info.noun, wording.place(where)))
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
        report.summary, f"{spec.title}: {wording.summary_effect(headline, spec, simulated)}"])))
    report.set_headline(spec, headline)
    return headline


def _shown_estimates(estimates: pd.DataFrame) -> pd.DataFrame:
    """The estimators that apply (the logit's row is left out for outcomes that are not
    yes-or-no: it does not apply, rather than failing)."""
    return estimates[estimates["notes"].fillna("") != "only for yes/no outcomes"]


def estimates_table(estimates: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Every estimator's row in the reader's units, ready to show."""
    unit = spec.outcome_info.effect_unit
    decimals = spec.outcome_info.decimals
    shown = in_reader_units(estimates, spec)

    def fmt(value):
        return wording.signed_number(value, decimals)

    table = pd.DataFrame({
        "estimator": shown["label"],
        "what it estimates": shown["estimand_label"],
        f"effect ({unit})": [fmt(value) if pd.notna(value) else "not estimated"
                             for value in shown["estimate"]],
        "95% confidence interval": [
            wording.why_not_estimated(notes, spec.program_info.noun) if pd.isna(low)
            else f"{fmt(low)} to {fmt(high)}"
            for low, high, notes in zip(shown["ci_low"], shown["ci_high"], shown["notes"])],
    })
    if "true_effect" in shown:
        table["planted effect"] = shown["true_effect"].map(fmt)
        table["interval covers it"] = [
            "" if pd.isna(est) else ("yes" if covers else "no")
            for est, covers in zip(shown["estimate"], shown["covers_truth"])]
    return table


def inference_table(estimates: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """How each estimate was computed: standard error, sample, clusters, inference, notes."""
    shown = in_reader_units(estimates, spec)
    decimals = spec.outcome_info.decimals

    def count(value):
        return "" if pd.isna(value) or not value else f"{int(value):,}"

    return pd.DataFrame({
        "estimator": shown["label"],
        f"standard error ({spec.outcome_info.effect_unit})": shown["std_error"].map(
            lambda value: wording.plain_number(value, decimals)),
        "rows used": shown["n_obs"].map(count),
        "received the program": shown["n_treated"].map(count),
        "clusters": shown["n_clusters"].map(count),
        "how the uncertainty was computed": shown["se_type"].map(wording.inference_words),
        "notes": shown["notes"].map(wording.notes_words),
    })


def estimators_section(report: UnitReport, spec: AnalysisSpec, estimates: pd.DataFrame,
                       where: str = "", simulated: bool = False) -> None:
    """The chart of every estimator (its title states the headline finding), the table, and
    how each estimate was computed (folded)."""
    estimates = _shown_estimates(estimates)
    headline = _headline_record(spec, estimates)
    title = wording.finding_title(headline, spec, where, simulated)
    drawn = in_reader_units(estimates, spec)
    drawn = drawn[["method", "label", "estimate", "ci_low", "ci_high",
                   *(["true_effect"] if "true_effect" in drawn else [])]]
    missing = int(drawn["estimate"].isna().sum())
    if missing == len(drawn):
        report.say("No estimator could be computed here, so there is no chart; the table says "
                   "why for each.")
    else:
        _estimates_chart(report, spec, drawn, title, missing)
    report.table("effect_estimates", estimates, "Estimates by estimator",
                 display_table=estimates_table(estimates, spec))
    with report.details("Technical details: how each estimate was computed"):
        report.table("effect_estimates_inference", estimates[[
            "method", "std_error", "n_obs", "n_treated", "n_clusters", "se_type", "notes"]],
            "Standard errors, samples and inference of each estimator",
            display_table=inference_table(estimates, spec))


def _estimates_chart(report: UnitReport, spec: AnalysisSpec, drawn: pd.DataFrame, title: str,
                     missing: int) -> None:
    report.figure(
        plots.estimates_plot(drawn, title, xlabel=axis_label(spec)), "effect_estimates_chart",
        f"{title}. The chart shows the estimate of each estimator with its 95% confidence "
        f"interval, in {spec.outcome_info.effect_unit}"
        + ("; crosses mark the planted effect" if "true_effect" in drawn else "")
        + (f"; {missing} estimator(s) could not be computed and are left out" if missing
           else "") + ".",
        data=drawn)


def _band_in_reader_units(checks, spec: AnalysisSpec) -> pd.DataFrame | None:
    if checks is None or checks.band is None:
        return None
    scale = spec.outcome_info.scale
    band = pd.DataFrame({"event_time": checks.event_times, "low": checks.band.lower * scale,
                         "high": checks.band.upper * scale})
    # The reference year is 0 by construction: the band closes there, as the intervals do.
    reference = pd.DataFrame({"event_time": [-1], "low": [0.0], "high": [0.0]})
    return pd.concat([band, reference], ignore_index=True)


def event_title(events: pd.DataFrame, spec: AnalysisSpec, where: str, simulated: bool,
                checks=None) -> str:
    """The event-study chart's finding: in how many years after receipt the effect is clearly
    above or below zero, and whether trends differed before receipt."""
    method = "callaway_santanna" if (events["method"] == "callaway_santanna").any() else \
        events["method"].iloc[0]
    after = events[(events["method"] == method) & (events["event_time"] >= 0)
                   & events["ci_low"].notna()]
    above, below = int((after["ci_low"] > 0).sum()), int((after["ci_high"] < 0).sum())
    years = len(after)
    if not years:
        found = "no year after receipt could be estimated"
    elif above and not below:
        found = f"above zero in {above} of {years} years after receipt"
    elif below and not above:
        found = f"below zero in {below} of {years} years after receipt"
    elif above and below:
        found = f"above zero in {above} and below zero in {below} of {years} years after receipt"
    else:
        found = f"not clearly different from zero in any of {years} years after receipt"
    pretest = getattr(checks, "pretest", None)
    if pretest is not None and pd.notna(pretest.p_value):
        found += ("; no sign of different trends before" if pretest.p_value >= 0.05
                  else "; trends differed before receipt")
    subject = wording.program_subject(spec).lower()
    return (f"Effect of {subject} on {wording.outcome_short(spec)}{wording.among(spec)} "
            f"{wording.place(where)}, year by year: {found}"
            + wording.simulated_suffix(simulated)).replace("  ", " ")


def event_study_section(report: UnitReport, spec: AnalysisSpec, events: pd.DataFrame,
                        true_events: pd.DataFrame | None, checks=None, where: str = "",
                        simulated: bool = False) -> None:
    truth = None if true_events is None else true_events.assign(
        att=true_events["att"] * spec.outcome_info.scale)
    band = _band_in_reader_units(checks, spec)
    shown = in_reader_units(events, spec)
    title = event_title(shown, spec, where, simulated, checks)
    report.say(
        "Both estimators compare each year with the year before first receipt and use the same "
        "laborers (those first treated after the first panel year, and those never treated). "
        "Two-way fixed effects pool every cohort in one regression; Callaway-Sant'Anna "
        "compares each cohort with the never treated and averages. Estimates before year 0 "
        "check parallel trends: they should be near zero. The shaded intervals cover one year "
        "each; the dashed lines around Callaway-Sant'Anna are a simultaneous 95% band, which "
        "covers every year at once, so a reader may judge the whole path.")
    drawn = shown[["method", "label", "event_time", "estimate", "ci_low", "ci_high"]].copy()
    if band is not None:
        drawn = drawn.merge(band.rename(columns={"low": "band_low", "high": "band_high"})
                            .assign(method="callaway_santanna"),
                            on=["method", "event_time"], how="left")
    if truth is not None:
        drawn = drawn.merge(truth[["event_time", "att"]].rename(columns={"att": "true_effect"}),
                            on="event_time", how="left")
    report.figure(
        plots.event_study_plot(shown, truth, ylabel=axis_label(spec),
                               program_noun=spec.program_info.noun, title=title, band=band),
        "event_study_chart",
        f"{title}. The chart shows the effect in each year before and after first receipt, "
        f"in {spec.outcome_info.effect_unit}, for two estimators, with 95% intervals"
        + ("; the planted effect is drawn as a dashed line with crosses" if truth is not None
           else "") + ".",
        data=drawn)
    decimals = spec.outcome_info.decimals

    def fmt(value):
        return wording.signed_number(value, decimals)

    with report.details("Technical details: effects year by year"):
        report.table("event_study", events[["label", "event_time", "estimate", "std_error",
                                            "ci_low", "ci_high", "is_reference"]],
                     f"Effects by years since first receipt, in {spec.outcome_info.effect_unit}"
                     " (year -1 is the reference, 0 by construction)",
                     display_table=pd.DataFrame({
                         "estimator": shown["label"],
                         "years since first receipt": shown["event_time"].map(
                             lambda e: f"{int(e):+d}" if e else "0"),
                         "effect": shown["estimate"].map(fmt),
                         "95% confidence interval": [
                             "reference year" if ref else
                             ("" if pd.isna(lo) else f"{fmt(lo)} to {fmt(hi)}")
                             for lo, hi, ref in zip(shown["ci_low"], shown["ci_high"],
                                                    shown["is_reference"])]}))


def balance_finding(balance: pd.DataFrame) -> str:
    """"after weighting, all 6 characteristics are balanced" or how many are not."""
    total = len(balance)
    before = int((balance["smd"].abs() >= 0.1).sum())
    after = int((balance["smd_weighted"].abs() >= 0.1).sum())
    if after == 0:
        found = (f"after weighting, all {total} characteristics are balanced"
                 + (f", {before} of which were not before" if before else ""))
    else:
        found = (f"after weighting, {after} of {total} characteristics still differ by 0.1 "
                 "standard deviations or more")
    return found


def balance_title(balance: pd.DataFrame, program: str) -> str:
    return f"Those who received {program} and those who did not: {balance_finding(balance)}"


def balance_section(report: UnitReport, spec: AnalysisSpec, panel: pd.DataFrame,
                    where: str = "", simulated: bool = False) -> None:
    """Who received the program: a plain sentence, then balance and overlap folded."""
    program = spec.program_info.noun
    try:
        diagnostics = pe.propensity_diagnostics(panel, spec)
    except effects.EffectsError as error:
        report.say(wording.not_estimated_sentence(
            "Covariate balance", str(error), program, wording.place(where)))
        return
    balance, overlap = diagnostics.balance, diagnostics.by_arm
    title = balance_title(balance, program) + wording.simulated_suffix(simulated)
    labels = {**COVARIATES}
    worst = balance.loc[balance["smd"].abs().idxmax()]
    report.say(
        f"Before weighting, those who received {program} differed most from those who did not "
        f"in {labels.get(worst['covariate'], worst['covariate'])} (a standardized mean "
        f"difference of {wording.plain_number(worst['smd'], 2)}); {balance_finding(balance)}. "
        "Estimators that adjust for these characteristics compare like with like only as far "
        "as this balance holds.")
    with report.details("Technical details: balance and overlap"):
        shown = balance.assign(covariate=balance["covariate"].map(labels)
                               .fillna(balance["covariate"]))
        report.figure(
            plots.balance_plot(balance, f"received {program} vs not", title, labels),
            "covariate_balance_chart",
            f"{title}. The chart shows, for each characteristic, the standardized mean "
            "difference between those who received the program and those who did not, before "
            "and after inverse-probability weighting; dotted lines mark 0.1 either side.",
            data=shown[["covariate", "smd", "smd_weighted"]])
        report.table("covariate_balance", balance, "Covariate balance in the last panel year "
                     "(standardized mean differences; below 0.1 in absolute value is "
                     "conventionally balanced)",
                     display_table=pd.DataFrame({
                         "covariate": shown["covariate"],
                         "mean, received": balance["mean_treated"].map(lambda v: f"{v:,.2f}"),
                         "mean, did not": balance["mean_control"].map(lambda v: f"{v:,.2f}"),
                         "difference before weighting": balance["smd"].map(
                             lambda v: wording.plain_number(v, 2)),
                         "difference after weighting": balance["smd_weighted"].map(
                             lambda v: wording.plain_number(v, 2))}))
        arms = overlap.reset_index()
        report.table("propensity_overlap", arms,
                     "Overlap: estimated probability of receiving the program, by arm",
                     display_table=pd.DataFrame({
                         "laborers": arms[arms.columns[0]].map(
                             {"treated": "received", "control": "did not receive"}),
                         "number": arms["n"].map(lambda n: f"{int(n):,}"),
                         "lowest": arms["ps_min"].map(lambda v: f"{v:.3f}"),
                         "mean": arms["ps_mean"].map(lambda v: f"{v:.3f}"),
                         "highest": arms["ps_max"].map(lambda v: f"{v:.3f}"),
                         "left out (trimmed)": arms["n_trimmed"].map(lambda n: f"{int(n):,}")}))


def dynamics_and_balance_sections(report: UnitReport, results: pe.AnalysisResults,
                                  where: str = "", simulated: bool = False) -> None:
    """Effects by years since first receipt, who received the program, and how far the
    headline can be trusted (pre-trends and sensitivity)."""
    spec = results.spec
    checks = robustness_section.compute(results)
    report.say("### Effects by years since first receipt")
    if results.events.empty:
        report.say(wording.not_estimated_sentence(
            "Effects by years since first receipt",
            results.events.attrs.get("not_estimated", ""), spec.program_info.noun,
            wording.place(where)))
    else:
        event_study_section(report, spec, results.events, results.true_events, checks,
                            where, simulated)
    report.say(f"### Who received {spec.program_info.noun}: balance of covariates")
    balance_section(report, spec, results.panel, where, simulated)
    robustness_section.robustness_section(report, results, checks)


def effects_sections(report: UnitReport, results: pe.AnalysisResults | None, where: str,
                     simulated: bool) -> None:
    """Headline, every estimator, effects by years since first receipt, and balance."""
    if results is None:
        report.say("No person-year microdata cover this scope, so no effects are estimated.")
        return
    spec = results.spec
    headline_section(report, spec, results.estimates, where, simulated)
    estimators_section(report, spec, results.estimates, where, simulated)
    dynamics_and_balance_sections(report, results, where, simulated)


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


def _province_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def provinces_in_words(report: UnitReport, spec: AnalysisSpec, estimated: pd.DataFrame,
                       names: dict[str, str]) -> str:
    """Which provinces' intervals lie above zero, below zero, or include it (estimates in the
    outcome's own scale)."""
    raised = estimated[estimated["ci_low"] > 0]
    lowered = estimated[estimated["ci_high"] < 0]
    unclear = len(estimated) - len(raised) - len(lowered)
    report.number("provinces_raised", len(raised), "count")
    report.number("provinces_lowered", len(lowered), "count")
    report.number("provinces_no_clear_effect", unclear, "count")
    program = spec.program_info.noun
    outcome = spec.outcome_info.noun + wording.among(spec)
    said = []
    for verb, part in (("raised", raised), ("lowered", lowered)):
        if len(part):
            listed = [f"{escape_markdown(names.get(row.province_code, row.province_code))} "
                      f"({wording.effect_number(row.estimate, spec)})"
                      for row in part.sort_values("estimate", ascending=verb == "lowered")
                      .itertuples()]
            said.append(f"{verb} {outcome} in {_provinces(str(len(part)))}: "
                        f"{_province_list(listed)}")
    if not said:
        return (f"In no province does the 95% confidence interval exclude zero: the data "
                f"cannot tell whether {program} changed {outcome} in any single province.")
    lead = f"Province by province, {program} " + "; it ".join(said)
    if unclear:
        lead += (f". In the other {_provinces(str(unclear))} the 95% confidence interval "
                 "includes zero: no clear effect")
    return lead + "."


def forest_title(spec: AnalysisSpec, pooled: pd.Series, estimated: pd.DataFrame,
                 simulated: bool) -> str:
    """The province chart's finding: the pooled effect and how many provinces show one."""
    pooled_text = wording.finding_title(pooled, spec, "across the provinces")
    clear = int(((estimated["ci_low"] > 0) | (estimated["ci_high"] < 0)).sum())
    return (f"{pooled_text}; clear effect in {clear} of {len(estimated)} provinces"
            + wording.simulated_suffix(simulated))


def national_effects_section(report: UnitReport, spec: AnalysisSpec, by_province: pd.DataFrame,
                             pooled: pd.Series, names: dict[str, str],
                             simulated: bool = False) -> None:
    """Province estimates of the headline estimator beside the pooled one, with the test of
    equal effects, multiplicity-adjusted flags and robust empirical-Bayes estimates."""
    estimated_rows = by_province["estimate"].notna() & (by_province["std_error"] > 0)
    provinces = report.number("provinces_estimated", int(estimated_rows.sum()), "count")
    report.say(f"The headline estimator could be computed in {provinces} of "
               f"{len(by_province)} provinces.")
    report.say(provinces_in_words(report, spec, by_province[by_province["estimate"].notna()],
                                  names))
    failed = by_province[by_province["estimate"].isna()]
    if len(failed):
        report.say("\n".join(
            "- " + wording.not_estimated_sentence(
                escape_markdown(names.get(row.province_code, row.province_code)), row.notes,
                spec.program_info.noun, "in " + names.get(row.province_code, ""))
            for row in failed.itertuples()))
    if estimated_rows.sum() >= 3:
        by_province = _many_provinces_sentences(report, spec, by_province)
    shown = in_reader_units(by_province, spec)
    for column in ("shrunk", "shrunk_ci_low", "shrunk_ci_high"):
        if column in shown:
            shown[column] = shown[column] * spec.outcome_info.scale
    estimated = shown[shown["estimate"].notna()]
    pooled_shown = in_reader_units(pooled.to_frame().T, spec).iloc[0]
    if len(estimated) and pd.notna(pooled["estimate"]):
        title = forest_title(spec, pooled, by_province[by_province["estimate"].notna()],
                             simulated)
        drawn = estimated[["province_code", "estimate", "ci_low", "ci_high",
                           *(["true_effect"] if "true_effect" in estimated else [])]].assign(
            province=estimated["province_code"].map(names))
        report.figure(plots.forest_plot(
            estimated, pooled_shown, names, xlabel=axis_label(spec), title=title,
            unit=spec.outcome_info.effect_unit, decimals=spec.outcome_info.decimals),
            "effects_by_province_chart",
            f"{title}. The chart shows each province's estimate with its 95% confidence "
            f"interval, sorted from lowest to highest, in {spec.outcome_info.effect_unit}; the "
            "shaded band is the interval of the estimate combined over the provinces.",
            data=drawn)
    table = shown.assign(province=shown["province_code"].map(names))
    decimals = spec.outcome_info.decimals

    def fmt(value):
        return wording.signed_number(value, decimals)

    display = pd.DataFrame({
        "province": table["province"],
        "effect": table["estimate"].map(lambda v: fmt(v) if pd.notna(v) else "not estimated"),
        "95% confidence interval": [
            "" if pd.isna(lo) else f"{fmt(lo)} to {fmt(hi)}"
            for lo, hi in zip(table["ci_low"], table["ci_high"])],
    })
    for column, label in (("differs_holm", "differs from zero (Holm)"),
                          ("differs_bh", "differs from zero (Benjamini-Hochberg)")):
        if column in table:
            display[label] = table[column].map({True: "yes", False: "no"}).fillna("")
    if "shrunk" in table:
        display["shrunken estimate"] = table["shrunk"].map(fmt)
        display["robust empirical Bayes interval"] = [
            "" if pd.isna(lo) else f"{fmt(lo)} to {fmt(hi)}"
            for lo, hi in zip(table["shrunk_ci_low"], table["shrunk_ci_high"])]
    display["rows used"] = table["n_obs"].map(
        lambda n: "" if pd.isna(n) or not n else f"{int(n):,}")
    display["counties"] = table["n_clusters"].map(
        lambda n: "" if pd.isna(n) or not n else f"{int(n):,}")
    if "true_effect" in table:
        display["planted effect"] = table["true_effect"].map(fmt)
    columns = ["province_code", "province", "estimate", "std_error", "ci_low", "ci_high",
               *[c for c in ("differs_holm", "differs_bh", "shrunk", "shrunk_ci_low",
                             "shrunk_ci_high") if c in by_province],
               "n_obs", "n_clusters", *(["true_effect"] if "true_effect" in by_province else [])]
    headline_label = ESTIMATORS[spec.headline_estimator].label
    report.table("effects_by_province", by_province.assign(
        province=by_province["province_code"].map(names))[columns],
        f"{headline_label} by province, in {spec.outcome_info.effect_unit}",
        display_table=display)


NATIONAL_WHERE = "Across the provinces"


def national_estimand_sentence(report: UnitReport, combined, names: dict[str, str]) -> None:
    """Which national estimand the page shows, and how far the provinces cover it."""
    spec = combined.spec
    headline = ESTIMATORS[spec.headline_estimator]
    unit_words = ("treated person-years" if headline.estimand == "att_post"
                  else "laborers treated by the last year")
    covered = report.number("provinces_combined", len(combined.inputs), "count")
    report.say(
        f"**The national estimate combines the provinces' own estimates.** Each province "
        f"compares its laborers who received {spec.program_info.noun} with those of the same "
        f"province who did not; the national figure is the average of those effects weighted "
        f"by each province's {unit_words}, so it is the average effect over every "
        f"{unit_words.removesuffix('s')} of the {covered} provinces with person-year data, each "
        "compared within its own province. Standard errors are clustered by county, and "
        "counties nest within provinces, so the province estimates are independent and the "
        "variance of the weighted average is the weighted sum of their variances; the weights "
        "are the registry's own counts and are held fixed. The province pages and this page "
        "therefore agree by construction.")
    if combined.missing:
        left_out = sorted(names.get(code, code) for code in combined.missing)
        report.say(f"Left out because their results were not available when this page was "
                   f"built: {escape_markdown(', '.join(left_out))}.")


def national_effects(report: UnitReport, combined, names: dict[str, str],
                     simulated: bool) -> None:
    """The combined headline, the provinces' own estimates, every estimator combined, and the
    combined effects by years since first receipt."""
    if combined is None:
        report.say("No person-year microdata are available, so no effects are estimated.")
        return
    spec = combined.spec
    national_estimand_sentence(report, combined, names)
    headline = headline_section(report, spec, combined.estimates, NATIONAL_WHERE, simulated)
    report.say("### Province by province")
    national_effects_section(report, spec, combined.by_province, headline, names, simulated)
    report.say("### Every estimator, combined over the provinces")
    estimators_section(report, spec, combined.estimates, NATIONAL_WHERE, simulated)
    report.say("### Effects by years since first receipt")
    checks = national_event_checks(combined)
    if combined.events.empty:
        report.say("Effects by years since first receipt could not be estimated in any "
                   "province.")
    else:
        event_study_section(report, spec, combined.events, combined.true_events, checks,
                            NATIONAL_WHERE, simulated)
        if checks.pretest is not None:
            from analysis.estimators import sensitivity

            report.say(sensitivity.describe_pretrend_test(checks.pretest.p_value,
                                                          checks.pretest.df))
    report.say("Balance of covariates, overlap and the sensitivity of the estimates to "
               "departures from parallel trends and to unobserved confounding are checked "
               "province by province, where each comparison is made: see each province's "
               "page.")


def pooled_check_section(report: UnitReport, combined, processed_dir) -> None:
    """The headline estimator once more on every province's laborers pooled, beside the
    combination: a check, reading the whole panel (``pooled_check = True`` in the notebook)."""
    panel = load_panel(processed_dir, None)
    report.say("### Check: the headline estimator on all provinces pooled")
    if panel is None or combined is None:
        report.say("No person-year microdata are available, so there is nothing to pool.")
        return
    spec = combined.spec
    pooled = pe.headline_estimate(panel, spec)
    combined_row = combined.headline
    for name, row in (("pooled_check", pooled), ("combined", combined_row)):
        report.number(f"{name}_estimate", wording.effect_value(row["estimate"], spec),
                      spec.outcome_info.effect_unit)
    report.say(
        f"Estimated once on all provinces pooled, where laborers may be compared across "
        f"provinces, the headline estimator gives "
        f"{wording.effect_number(pooled['estimate'], spec)} (95% confidence interval "
        f"{wording.effect_number(pooled['ci_low'], spec)} to "
        f"{wording.effect_number(pooled['ci_high'], spec)}); combined from the provinces' own "
        f"estimates it gives {wording.effect_number(combined_row['estimate'], spec)}. The two "
        "average the same effects with the same weights only when trends and the effect of "
        "covariates are alike across provinces; a large gap says comparisons across provinces "
        "are doing work the within-province comparisons do not.")


def national_event_checks(combined):
    """The pre-trend test and simultaneous band of the combined Callaway-Sant'Anna event study
    (reference year left out), on the combined covariance."""
    from analysis.estimators import robustness as rb
    from analysis.estimators import sensitivity
    from analysis.estimators.exceptions import EffectsError
    from analysis.estimators.pretrends import wald_pretest

    covariance = combined.event_covariance.get(rb.HEADLINE_EVENT_STUDY)
    none = rb.Robustness([], None, "no combined event study", "", None, "", None, None, "",
                         None, "", "")
    if covariance is None or covariance.empty:
        return none
    rows = combined.events[(combined.events["method"] == rb.HEADLINE_EVENT_STUDY)
                           & ~combined.events["is_reference"].astype(bool)]
    estimates = rows.set_index("event_time")["estimate"].reindex(covariance.index)
    times = list(covariance.index)
    pre = [t for t in times if t < -1]
    pretest, band = None, None
    try:
        if pre:
            pretest = wald_pretest(estimates.loc[pre].to_numpy(),
                                   covariance.loc[pre, pre].to_numpy())
        band = sensitivity.sup_t_band(estimates.to_numpy(), covariance.to_numpy())
    except EffectsError:
        pass
    return rb.Robustness(times, pretest, "", "event-time coefficients", band, "", None, None,
                         "", None, "", "")


def national_who_gains(report: UnitReport, combined, simulated: bool) -> None:
    """Effects by group combined over the provinces' main pages, with the test of equal
    effects on the combined covariance."""
    from analysis.estimators import national
    from analysis.estimators.heterogeneity import DIMENSIONS

    report.say("## Who gains")
    if combined is None:
        report.say("No person-year microdata cover this scope, so effects by group cannot be "
                   "estimated.")
        return
    by_dimension = {found["dimension"]: found for found in combined.groups}
    if not by_dimension:
        report.say("No province recorded effects by group, so they cannot be combined.")
        return
    spec = combined.spec
    estimator = pe.group_estimator(spec)
    report.say(f"Across the provinces: the effect of {spec.program_info.noun} on "
               f"{spec.outcome_info.noun}{wording.among(spec)} for each group "
               f"({estimator.label}; groups by traits "
               "in the first panel year), each province's group effect weighted by its treated "
               "person-years in that group, and a test of whether the groups' effects are "
               "equal on the combined covariance.")
    found = []
    for name, dimension in DIMENSIONS.items():
        part = by_dimension.get(name)
        if part is None:
            continue
        table = part["table"].assign(status=[
            "estimated" if pd.notna(value) else "not estimable: no province could estimate it"
            for value in part["table"]["estimate"]])
        found.append((name, table, national.group_equality_test(part, dimension.labels)))
    show_groups(report, spec, found, NATIONAL_WHERE, simulated)


def record_for_national(report: UnitReport, results: pe.AnalysisResults | None,
                        groups: list | None = None) -> None:
    """Keep in the results what the national page combines: every estimate with its weight,
    the event study with its covariance and, on main pages, the effects by group."""
    from analysis.estimators import national

    if results is not None:
        report.attach(national.RESULTS_KEY, national.province_inputs(results, groups))


# ----------------------------------------------------------------------------------------------
# Who gains


def _equality_sentence(title: str, test) -> str:
    if not pd.notna(test.p_value):
        reason = wording.plain_identifiers(test.method.removeprefix("not computed: "))
        return f"- {title}: equal effects could not be tested ({reason})."
    verdict = ("the effects differ between these groups" if test.p_value < 0.05 else
               "the data cannot tell these groups' effects apart")
    return (f"- {title}: {verdict} (test of equal effects: F = {test.statistic:.2f}, "
            f"p-value {test.p_value:.3f}, {test.n_clusters} clusters).")


def who_gains_title(spec: AnalysisSpec, where: str, differing: list[str],
                    simulated: bool) -> str:
    subject = wording.program_subject(spec).lower()
    found = ("the groups' effects cannot be told apart" if not differing else
             "effects differ by " + _province_list([d.lower() for d in differing]))
    return (f"Effect of {subject} on {wording.outcome_short(spec)}{wording.among(spec)} by group "
            f"{wording.place(where)}: {found}" + wording.simulated_suffix(simulated))


def who_gains_section(report: UnitReport, spec: AnalysisSpec, panel: pd.DataFrame | None,
                      where: str, seed: int = 0, simulated: bool = False) -> list | None:
    """Effects by sex, age band, weak labor and schooling, each with a test of equal effects;
    returns each dimension's :class:`~analysis.estimators.heterogeneity.GroupEffects` (None
    without a panel)."""
    from analysis.estimators.heterogeneity import DIMENSIONS

    report.say("## Who gains")
    if panel is None:
        report.say("No person-year microdata cover this scope, so effects by group cannot be "
                   "estimated.")
        return None
    estimator = pe.group_estimator(spec)
    note = "" if estimator.name == spec.headline_estimator else (
        f" The headline estimator ({ESTIMATORS[spec.headline_estimator].label}) does not give "
        f"the influence scores the test needs, so groups use {estimator.label}.")
    report.say(f"{escape_markdown(where)}: the effect of {spec.program_info.noun} on "
               f"{spec.outcome_info.noun}{wording.among(spec)} "
               f"for each group ({estimator.label}; groups by traits in the first panel year), "
               "and a test of whether the groups' effects are equal. The test accounts for "
               f"groups sharing {spec.cluster_label} clusters.{note}")
    results = [pe.effects_by_group(panel, spec, name, seed) for name in DIMENSIONS]
    show_groups(report, spec, [(name, result.table, result.test)
                               for name, result in zip(DIMENSIONS, results)], where, simulated)
    return results


def show_groups(report: UnitReport, spec: AnalysisSpec, found: list, where: str,
                simulated: bool) -> None:
    """The sentences, chart and table of effects by group: ``found`` holds one
    ``(dimension name, table, EqualityTest)`` per dimension."""
    from analysis.estimators.heterogeneity import DIMENSIONS

    tables, sentences, differing = [], [], []
    for name, table, test in found:
        dimension = DIMENSIONS[name]
        tables.append(table.assign(dimension=dimension.title))
        sentences.append(_equality_sentence(dimension.title, test))
        if pd.notna(test.p_value) and test.p_value < 0.05:
            differing.append(dimension.title)
        report.number(f"equal_effects_p_{name}", test.p_value, "ratio")
    report.say("\n".join(sentences))
    groups = pd.concat(tables, ignore_index=True)
    estimated = groups[groups["status"] == "estimated"]
    title = who_gains_title(spec, where, differing, simulated)
    drawn = in_reader_units(estimated.assign(label=estimated["dimension"] + ": "
                                             + estimated["group"].astype(str)), spec)[
        ["dimension", "group", "label", "estimate", "ci_low", "ci_high"]]
    if drawn["estimate"].notna().any():
        report.figure(plots.estimates_plot(drawn, title, xlabel=axis_label(spec)),
                      "effects_by_group_chart",
                      f"{title}. The chart shows the effect for each group (by sex, age, "
                      "disability or weak labor capacity and schooling) with its 95% "
                      f"confidence interval, in {spec.outcome_info.effect_unit}.", data=drawn)
    shown = in_reader_units(groups, spec)
    decimals = spec.outcome_info.decimals

    def fmt(value):
        return wording.signed_number(value, decimals)

    report.table("effects_by_group", groups.assign(group=groups["group"].astype(str)),
                 f"Effect by group, in {spec.outcome_info.effect_unit}",
                 display_table=pd.DataFrame({
                     "dimension": shown["dimension"], "group": shown["group"].astype(str),
                     "effect": [fmt(v) if status == "estimated" else "not estimated"
                                for v, status in zip(shown["estimate"], shown["status"])],
                     "95% CI": [f"{fmt(lo)} to {fmt(hi)}" if pd.notna(lo) else
                                wording.why_not_estimated(status, spec.program_info.noun)
                                for lo, hi, status in zip(shown["ci_low"], shown["ci_high"],
                                                          shown["status"])],
                     "laborers": shown["n_persons"].map(
                         lambda n: "" if pd.isna(n) else f"{int(n):,}")}))
