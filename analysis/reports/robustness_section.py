"""The page section "How far the headline can be trusted": one plain sentence per check, the
details below (see :mod:`analysis.estimators.robustness` for the methods)."""

from __future__ import annotations

import math
import re

import pandas as pd

from analysis.estimators import program_effects as pe
from analysis.estimators import robustness as rb
from analysis.estimators import sensitivity
from analysis.estimators.spec import AnalysisSpec
from analysis.reports import wording
from analysis.reports.report import UnitReport


def compute(results: pe.AnalysisResults, seed: int = 0) -> rb.Robustness:
    """The checks of :mod:`analysis.estimators.robustness` on one analysis's own samples."""
    spec = results.spec
    prepared = pe.prepare_panel(results.panel, spec)
    cross_section = pe.last_year_cross_section(prepared, spec)
    covariates, _ = pe.usable_covariates(cross_section, spec)
    return rb.robustness(results, cross_section, pe.TREATMENT, covariates, seed)


def _effect(value: float, spec: AnalysisSpec) -> str:
    """An effect in the reader's unit, signed, e.g. "+3.1 percentage points"."""
    if not math.isfinite(value):
        return "unbounded" if math.isinf(value) else "empty"
    return wording.effect_number(value, spec)


def _interval(low: float, high: float, spec: AnalysisSpec) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no informative interval" if (math.isinf(low) or math.isinf(high)) else \
            "none (the data reject this much parallelism)"
    unit = spec.outcome_info.effect_unit
    return f"{_effect(low, spec).removesuffix(' ' + unit)} to {_effect(high, spec)}"


def _plain_reason(reason: str, spec: AnalysisSpec) -> str:
    """A check's reason for not running, with any error text inside it put in words."""
    match = re.match(r"^(.*?) \((.*)\)$", str(reason))
    if match and re.search(r"error|converge|singular|collinear|==|_", match.group(2)):
        why = wording.why_not_estimated(match.group(2), spec.program_info.noun)
        return f"{match.group(1)} ({why})"
    return wording.plain_identifiers(reason)


def sentences(checks: rb.Robustness, spec: AnalysisSpec) -> list[str]:
    """One sentence per check, in the reader's words."""
    said = []
    if checks.pretest is not None:
        said.append(sensitivity.describe_pretrend_test(checks.pretest.p_value,
                                                       checks.pretest.df))
    else:
        said.append(f"Parallel trends before first receipt cannot be tested here: "
                    f"{_plain_reason(checks.pretest_reason, spec)}.")
    if checks.band is not None:
        said.append(sensitivity.describe_sup_t_band(
            checks.band, [f"{e:+d}" for e in checks.event_times]))
    if checks.relative_magnitudes is not None:
        said.append(sensitivity.describe_relative_magnitudes(checks.relative_magnitudes)
                    .replace("The effect", "The average effect over the years since first "
                             "receipt", 1))
        smooth = sensitivity.describe_smoothness(
            checks.smoothness, spec.outcome_info.effect_unit, spec.outcome_info.scale)
        # A different assumption from the sentence before: say so, or the two read as a
        # contradiction when one interval includes zero and the other does not.
        said.append("If instead the gap in trends before receipt is allowed to continue along "
                    "a straight line: " + smooth[0].lower() + smooth[1:])
    else:
        said.append(f"No sensitivity analysis to departures from parallel trends: "
                    f"{_plain_reason(checks.parallel_reason, spec)}.")
    if checks.confounding is not None:
        said.append(sensitivity.describe_confounding(checks.confounding))
        said.append(sensitivity.describe_confounding_benchmark(checks.confounding,
                                                               checks.confounding_benchmark))
    else:
        said.append(f"No sensitivity analysis to unobserved confounding: "
                    f"{_plain_reason(checks.confounding_reason, spec)}.")
    return said


def summary_table(checks: rb.Robustness) -> pd.DataFrame:
    """The numbers behind the sentences (recorded in the unit's results)."""
    rows = []
    if checks.pretest is not None:
        rows += [("joint pre-trend test", "statistic", checks.pretest.statistic),
                 ("joint pre-trend test", "p-value", checks.pretest.p_value),
                 ("joint pre-trend test", "restrictions", checks.pretest.df)]
    if checks.band is not None:
        rows += [("simultaneous band", "critical value", checks.band.critical_value),
                 ("simultaneous band", "pointwise critical value",
                  checks.band.pointwise_critical_value)]
    if checks.relative_magnitudes is not None:
        rows += [("relative magnitudes", "breakdown Mbar", checks.relative_magnitudes.breakdown),
                 ("smoothness", "breakdown M", checks.smoothness.breakdown)]
    if checks.confounding is not None:
        c = checks.confounding
        rows += [("unobserved confounding", "partial R2 of receipt with the outcome",
                  c.partial_r2),
                 ("unobserved confounding", "robustness value RV (q = 1)", c.rv_q),
                 ("unobserved confounding", "robustness value RV (q = 1, 5% level)", c.rv_qa)]
    return pd.DataFrame(rows, columns=["check", "quantity", "value"])


def robustness_section(report: UnitReport, results: pe.AnalysisResults,
                       checks: rb.Robustness | None = None) -> None:
    """Pre-trends, simultaneous band, Rambachan-Roth and Cinelli-Hazlett for one analysis
    (``checks`` from :func:`compute`, computed here when not given)."""
    spec = results.spec
    checks = checks if checks is not None else compute(results)
    report.say("### How far the headline can be trusted")
    report.say(" ".join(sentences(checks, spec)))
    numbers = summary_table(checks)
    if numbers.empty:  # no check could be computed: the sentences say why
        return
    with report.details("Technical details: robustness checks"):
        report.table("robustness_summary", numbers,
                     "The numbers behind these sentences",
                     display_table=numbers.assign(
                         value=lambda t: t["value"].map(
                             lambda v: f"{v:,.3g}" if math.isfinite(v)
                             else "beyond the range checked")))
        _parallel_trends_details(report, checks, spec)
        _confounding_details(report, checks, spec)


def _parallel_trends_details(report: UnitReport, checks: rb.Robustness, spec: AnalysisSpec):
    if checks.relative_magnitudes is None:
        return
    rm, sd = checks.relative_magnitudes, checks.smoothness
    rows = [{"restriction": "relative magnitudes (Mbar)", "value": r.restriction_value,
             "lower": r.lower, "upper": r.upper} for r in rm.table.itertuples()]
    rows += [{"restriction": f"smoothness (M, in {spec.outcome_info.effect_unit})",
              "value": r.restriction_value * spec.outcome_info.scale, "lower": r.lower,
              "upper": r.upper} for r in sd.table.itertuples()]
    table = pd.DataFrame(rows)
    report.table(
        "parallel_trends_sensitivity", table,
        "Robust 95% intervals for the average effect over the years since first receipt "
        "(Rambachan and Roth 2023). Relative magnitudes: departures from parallel trends after "
        "receipt, year to year, at most Mbar times the largest such departure before receipt "
        "(Mbar = 0: exactly parallel). Smoothness: the gap in trends may bend away from a "
        "straight line by at most M per year",
        display_table=pd.DataFrame({
            "restriction": table["restriction"],
            "allowed departure": table["value"].map(lambda v: f"{v:,.3g}"),
            "robust interval": [_interval(lo, hi, spec) for lo, hi in
                                zip(table["lower"], table["upper"])]}))


def _confounding_details(report: UnitReport, checks: rb.Robustness, spec: AnalysisSpec):
    if checks.confounding is None or checks.confounding.bounds is None:
        return
    bounds = checks.confounding.bounds
    report.table(
        "confounding_bounds", bounds,
        "Effect in the last panel year (regression of the outcome on receipt and the "
        "covariates) if an unobserved confounder were kd times as strong as each observed "
        "covariate in explaining receipt and the outcome (Cinelli and Hazlett 2020)",
        display_table=pd.DataFrame({
            "as strong as": bounds["benchmark"],
            "times": bounds["kd"].map(lambda k: f"{k:g}"),
            "adjusted effect": bounds["adjusted_estimate"].map(lambda v: _effect(v, spec)),
            "95% interval": [_interval(lo, hi, spec) for lo, hi in
                             zip(bounds["adjusted_lower"], bounds["adjusted_upper"])]}))
