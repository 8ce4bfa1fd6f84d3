"""The reader's words for an estimate: units, signs, and sentences that follow the uncertainty.

Every sentence about an effect is built here from the spec (what was estimated, on whom) and
the estimate record it reports (estimator, estimand, n actually used, clusters), so a page
never says "raised" when its interval includes zero and never names an estimator it did not
use.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import AnalysisSpec


def _clean_zero(value: float, decimals: int) -> float:
    rounded = round(value, decimals)
    return 0.0 if rounded == 0 else rounded  # never "-0.0"


def plain_number(value: float, decimals: int) -> str:
    """A number with thousands separators, no "-0", and "" when missing (for table cells)."""
    if value is None or pd.isna(value):
        return ""
    return f"{_clean_zero(value, decimals):,.{decimals}f}"


def effect_number(value: float, spec: AnalysisSpec, signed: bool = True) -> str:
    """An effect (in the outcome's own scale) in the reader's unit: "8.1 percentage points"."""
    outcome = spec.outcome_info
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not estimated"
    shown = _clean_zero(value * outcome.scale, outcome.decimals)
    sign = "+" if signed and shown > 0 else ""
    return f"{sign}{shown:,.{outcome.decimals}f} {outcome.effect_unit}"


def effect_value(value: float, spec: AnalysisSpec) -> float:
    """An effect in the reader's unit, as a number (percentage points, months or yuan)."""
    return value * spec.outcome_info.scale


def interval_text(record: pd.Series | dict, spec: AnalysisSpec) -> str:
    low = effect_number(record["ci_low"], spec, signed=False)
    high = effect_number(record["ci_high"], spec, signed=False)
    return f"95% confidence interval {low} to {high}"


def direction(record: pd.Series | dict) -> str:
    """"raised", "lowered" or "unclear", from the interval, not the point estimate."""
    if record["ci_low"] > 0:
        return "raised"
    if record["ci_high"] < 0:
        return "lowered"
    return "unclear"


def sample_words(record: pd.Series | dict) -> str:
    """What the estimate actually used: clusters and rows, in words."""
    estimator = ESTIMATORS[record["method"]]
    rows = "person-years" if estimator.sample == "panel" else "laborers in the last year"
    clusters = record.get("n_clusters")
    cluster_text = ""
    if clusters is not None and not pd.isna(clusters):
        kind = {"county_id": "counties", "household_id": "households"}.get(
            record.get("cluster_var"), "clusters")
        cluster_text = f"{int(clusters):,} {kind}, "
    return f"{estimator.label}; {cluster_text}{int(record['n_obs']):,} {rows}"


def effect_sentence(record: pd.Series | dict, spec: AnalysisSpec, where: str) -> str:
    """One sentence for one estimate, e.g. "In Yunnan, training raised ... by 8.1 points"."""
    program, outcome = spec.program_info, spec.outcome_info
    who = "" if spec.population == ("all",) else f" among {spec.population_label}"
    estimand = ESTIMANDS[ESTIMATORS[record["method"]].estimand].label
    basis = f"({interval_text(record, spec)}; {estimand}; {sample_words(record)})"
    size = effect_number(abs(record["estimate"]), spec, signed=False)
    verb = direction(record)
    if verb == "unclear":
        return (f"{where}, the data cannot tell whether {program.noun} changed "
                f"{outcome.noun}{who}: the estimate is "
                f"{effect_number(record['estimate'], spec)}, and the interval includes zero "
                f"{basis}.")
    return (f"{where}, {program.noun} {verb} {outcome.noun}{who} by **{size}** {basis}.")


def short_effect(record: pd.Series | dict, spec: AnalysisSpec) -> str:
    """A compact estimate with interval for summaries and matrix cells."""
    if pd.isna(record["estimate"]):
        return "not estimated"
    low = effect_number(record["ci_low"], spec, signed=False).split(" ")[0]
    high = effect_number(record["ci_high"], spec, signed=False).split(" ")[0]
    return f"{effect_number(record['estimate'], spec)} [{low} to {high}]"
