"""The reader's words for an estimate: units, signs, and sentences that follow the uncertainty.

Every sentence about an effect is built here from the spec (what was estimated, on whom) and
the estimate record it reports (estimator, estimand, n actually used, clusters), so a page
never says "raised" when its interval includes zero and never names an estimator it did not
use. Chart titles state the finding the same way (:func:`finding_title`), and a missing
estimate is explained in plain words (:func:`why_not_estimated`), never by exception text.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import AnalysisSpec

SIMULATED_SUFFIX = " (simulated data)"

# Short names for chart titles: "Training raised stable employment by ...".
PROGRAM_SUBJECTS = {"training": "Training", "workshop_job": "Workshop jobs",
                    "public_welfare_post": "Public-welfare posts",
                    "organized_labor_export": "Organized labor export",
                    "employment_services": "Employment services"}
OUTCOME_SHORT = {"stable_employment": "stable employment", "months_worked": "months worked",
                 "wage_income": "annual wage income",
                 "worked_outside_county": "work outside the home county",
                 "worked_outside_province": "work outside the home province"}

# The estimand in plain words, after its short label ("ATT, years after first receipt").
ESTIMAND_WORDS = {
    "att_post": "the average effect on the laborers who received it, over the years after "
                "they first did",
    "att_last_year": "the average effect on the laborers who had received it by the last "
                     "panel year, in that year",
}


def _clean_zero(value: float, decimals: int) -> float:
    rounded = round(value, decimals)
    return 0.0 if rounded == 0 else rounded  # never "-0.0"


def plain_number(value: float, decimals: int) -> str:
    """A number with thousands separators, no "-0", and "" when missing (for table cells)."""
    if value is None or pd.isna(value):
        return ""
    return f"{_clean_zero(value, decimals):,.{decimals}f}"


def signed_number(value: float, decimals: int) -> str:
    """A number with its sign ("+3.1", "-0.4", "0.0"); "" when missing."""
    if value is None or pd.isna(value):
        return ""
    shown = _clean_zero(value, decimals)
    return f"{'+' if shown > 0 else ''}{shown:,.{decimals}f}"


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


def range_text(low: float, high: float, spec: AnalysisSpec) -> str:
    """An interval in the reader's unit, signs shown: "between -3.7 and +11.2 percentage
    points"."""
    outcome = spec.outcome_info
    return (f"between {signed_number(low * outcome.scale, outcome.decimals)} and "
            f"{signed_number(high * outcome.scale, outcome.decimals)} {outcome.effect_unit}")


def interval_text(record: pd.Series | dict, spec: AnalysisSpec) -> str:
    return f"95% confidence interval {range_text(record['ci_low'], record['ci_high'], spec)}"


def direction(record: pd.Series | dict) -> str:
    """"raised", "lowered" or "unclear", from the interval, not the point estimate."""
    if record["ci_low"] > 0:
        return "raised"
    if record["ci_high"] < 0:
        return "lowered"
    return "unclear"


def sample_words(record: pd.Series | dict) -> str:
    """What the estimate actually used: estimator, clusters and rows, in words."""
    estimator = ESTIMATORS[record["method"]]
    rows = "person-years" if estimator.sample == "panel" else "laborers in the last panel year"
    clusters = record.get("n_clusters")
    cluster_text = ""
    if clusters is not None and not pd.isna(clusters):
        kind = {"county_id": "counties", "household_id": "households"}.get(
            record.get("cluster_var"), "clusters")
        cluster_text = f" in {int(clusters):,} {kind}"
    return f"{estimator.label} from {int(record['n_obs']):,} {rows}{cluster_text}"


def estimand_words(record: pd.Series | dict) -> str:
    """"ATT, years after first receipt (the average effect on the laborers who received it,
    over the years after they first did)"."""
    key = ESTIMATORS[record["method"]].estimand
    return f"{ESTIMANDS[key].label} ({ESTIMAND_WORDS.get(key, ESTIMANDS[key].description)})"


def effect_sentence(record: pd.Series | dict, spec: AnalysisSpec, where: str) -> str:
    """The headline in words, following the interval: "In Yunnan, vocational skills training
    raised ... by **8.1 percentage points** (95% confidence interval between +2.0 and +14.0
    percentage points)", or "... had no clear effect on ...: between -3.7 and +11.2
    percentage points"."""
    program, outcome = spec.program_info, spec.outcome_info
    who = among(spec)
    basis = f"This is the {estimand_words(record)}, estimated with {sample_words(record)}."
    size = effect_number(abs(record["estimate"]), spec, signed=False)
    verb = direction(record)
    interval = range_text(record["ci_low"], record["ci_high"], spec)
    if verb == "unclear":
        return (f"{where}, {program.noun} had **no clear effect** on {outcome.noun}{who}: "
                f"the 95% confidence interval runs **{interval}** and includes zero, so the "
                f"data cannot tell whether it changed anything (best estimate "
                f"{effect_number(record['estimate'], spec)}). {basis}")
    return (f"{where}, {program.noun} {verb} {outcome.noun}{who} by **{size}** (95% "
            f"confidence interval {interval}). {basis}")


def short_effect(record: pd.Series | dict, spec: AnalysisSpec) -> str:
    """A compact estimate with interval for summaries and matrix cells."""
    if pd.isna(record["estimate"]):
        return "not estimated"
    decimals = spec.outcome_info.decimals
    low = signed_number(effect_value(record["ci_low"], spec), decimals)
    high = signed_number(effect_value(record["ci_high"], spec), decimals)
    return f"{effect_number(record['estimate'], spec)} [{low} to {high}]"


def summary_effect(record: pd.Series | dict, spec: AnalysisSpec,
                   simulated: bool = False) -> str:
    """One line for the index: "raised by 8.1 percentage points (95% confidence interval +2.0
    to +14.0)" or "no clear effect (between -3.7 and +11.2 percentage points)", with
    "; simulated data" inside the brackets on simulated data."""
    tag = "; simulated data" if simulated else ""
    if pd.isna(record["estimate"]):
        return "not estimated" + (" (simulated data)" if simulated else "")
    verb = direction(record)
    if verb == "unclear":
        return f"no clear effect ({range_text(record['ci_low'], record['ci_high'], spec)}{tag})"
    decimals = spec.outcome_info.decimals
    low = signed_number(effect_value(record["ci_low"], spec), decimals)
    high = signed_number(effect_value(record["ci_high"], spec), decimals)
    return (f"{verb} by {effect_number(abs(record['estimate']), spec, signed=False)} "
            f"(95% confidence interval {low} to {high}{tag})")


# ----------------------------------------------------------------------------------------------
# Chart titles


def program_subject(spec: AnalysisSpec) -> str:
    return PROGRAM_SUBJECTS.get(spec.program, spec.program_info.label)


def outcome_short(spec: AnalysisSpec) -> str:
    return OUTCOME_SHORT.get(spec.outcome, spec.outcome_info.label.split(" (")[0].lower())


def among(spec: AnalysisSpec) -> str:
    """" among women" (with its leading space) when the spec studies part of the laborers,
    nothing when it studies them all: every sentence and title naming the outcome says whose."""
    return "" if spec.population == ("all",) else f" among {spec.population_label}"


def place(where: str) -> str:
    """"In Yunnan (云南省)" or "Yunnan (云南省)" -> "in Yunnan"; "Across all provinces pooled"
    -> "across all provinces pooled" (chart titles stay short; the page names the province
    fully)."""
    short = re.sub(r"\s*\([^)]*\)\s*$", "", where.strip())
    first = short.split(" ")[0]
    if first.lower() in ("in", "across", "among", "nationally"):
        return first.lower() + short[len(first):]
    return short if not short else f"in {short}"


def simulated_suffix(simulated: bool) -> str:
    return SIMULATED_SUFFIX if simulated else ""


def finding_title(record: pd.Series | dict, spec: AnalysisSpec, where: str,
                  simulated: bool = False) -> str:
    """A chart title that states the headline finding: "Training raised stable employment by
    8.1 percentage points in Yunnan", "No clear effect of training on stable employment in
    Yunnan", with " (simulated data)" on simulated data."""
    subject, outcome, at = program_subject(spec), outcome_short(spec), place(where)
    who = among(spec)
    if record is None or pd.isna(record["estimate"]):
        text = f"Effect of {subject.lower()} on {outcome}{who} {at}: not estimated"
    elif direction(record) == "unclear":
        text = f"No clear effect of {subject.lower()} on {outcome}{who} {at}"
    else:
        size = effect_number(abs(record["estimate"]), spec, signed=False)
        text = f"{subject} {direction(record)} {outcome}{who} by {size} {at}"
    return text + simulated_suffix(simulated)


# ----------------------------------------------------------------------------------------------
# Why something was not estimated

# Technical reasons (exception texts of the estimators) and what they mean for a reader.
_REASONS = (
    (r"only for yes/no outcomes", "this estimator is only for yes-or-no outcomes"),
    (r"no persons in this group", "nobody in this group"),
    (r"no rows with \S+ == 1|no unit is treated|nobody .*treated|no treated",
     "nobody here received {program}"),
    (r"no rows with \S+ == 0|no never-treated|no (g,t) cell has control|no cohort has control",
     "too few laborers here did not receive {program} to compare with"),
    (r"logit did not converge|separat|propensity",
     "too few people received {program} here, or they differ too sharply from those who did "
     "not, to fit the model of who receives it"),
    (r"collinear with the fixed effects",
     "the years since first receipt cannot be told apart from calendar years here"),
    (r"collinear|singular",
     "the laborers here are too alike in age, schooling and the other characteristics to "
     "adjust for all of them"),
    (r"only one cluster|fewer than two|cannot be tested jointly with only",
     "there are too few counties here to measure the uncertainty"),
    (r"no complete rows|no variation|does not vary", "the data here do not vary enough"),
    (r"did not converge", "the computation did not settle on an answer"),
)


def why_not_estimated(reason: str | None, program_noun: str = "the program") -> str:
    """The reason an estimate is missing, in plain words (never exception text): "too few
    people received vocational skills training here ... to fit the model"."""
    text = str(reason or "")
    for pattern, words in _REASONS:
        if re.search(pattern, text, re.I):
            return words.format(program=program_noun)
    return "the data here do not allow it to be computed"


def not_estimated_sentence(what: str, reason: str | None, program_noun: str,
                           where: str = "") -> str:
    """"Callaway-Sant'Anna (staggered): not estimated, because too few people received
    vocational skills training in Tibet ... to fit the model of who receives it." ``where``
    ("in Tibet") replaces "here" in the reason."""
    words = why_not_estimated(reason, program_noun)
    if where:
        words = words.replace(" here", f" {where}", 1) if " here" in words else \
            f"{words} ({where})"
    lead = f"{what}: not estimated" if what else "Not estimated"
    return f"{lead}, because {words}."


# ----------------------------------------------------------------------------------------------
# How an estimate was computed, in words (the record's se_type and notes)

CLUSTER_WORDS = {"county_id": "county", "household_id": "household",
                 "province_code": "province"}
_IDENTIFIER_WORDS = {"never_treated": "never treated", "not_yet_treated": "not yet treated",
                     "n_obs": "rows used", "n_treated": "number treated",
                     "first_treated": "first year of receipt", "first.treat": "first year of "
                     "receipt", "person_id": "person", **CLUSTER_WORDS}
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def plain_identifiers(text: str) -> str:
    """Identifiers in a technical text made words: covariate names by their labels
    ("age_squared" -> "age squared (hundreds)"), "county_id" -> "county", lists unbracketed,
    any other snake_case name with spaces."""
    from analysis.estimators.spec import COVARIATES

    words = {**_IDENTIFIER_WORDS, **COVARIATES}
    text = re.sub(r"\[((?:'[^']*'(?:, )?)+)\]", lambda m: m.group(1).replace("'", ""), str(text))
    text = re.sub(r"\b[\w.]+\b", lambda m: words.get(m.group(0), m.group(0)), text)
    return _SNAKE.sub(lambda m: m.group(0).replace("_", " "), text)


def inference_words(se_type: str | None) -> str:
    """How the uncertainty of an estimate was computed, in a reader's words."""
    text = str(se_type or "")
    if not text or text == "not estimated":
        return ""
    cluster = re.search(r"by (\w+)", text)
    by = f" by {CLUSTER_WORDS.get(cluster.group(1), cluster.group(1).replace('_', ' '))}" \
        if cluster else ""
    draws = re.search(r"(\d[\d,]*) draws", text)
    draws_text = f" ({draws.group(1)} draws)" if draws else ""
    if "wild cluster bootstrap" in text:
        said = (f"Wild cluster bootstrap{by}{draws_text}; the interval collects the effects the "
                "bootstrap test does not reject; the standard error shown is the usual "
                "clustered one")
        if "covariate means held fixed" in text:
            said += "; covariate averages held fixed"
        return said + "."
    if "score bootstrap" in text:
        return (f"Score bootstrap{by}{draws_text}; the interval collects the effects the "
                "bootstrap test does not reject; the standard error shown comes from the "
                "estimator's influence function.")
    if text.startswith("influence function") and cluster:
        return (f"Clustered standard errors{by} from the estimator's influence function, with "
                "a t distribution on one fewer degrees of freedom than clusters.")
    if text.startswith("influence function"):
        return ("Heteroskedasticity-robust standard errors from the estimator's influence "
                "function.")
    if text.startswith("delta method") and cluster:
        return (f"Clustered standard errors{by} of the logit model, carried to the effect by "
                "the delta method, with a t distribution on one fewer degrees of freedom than "
                "clusters.")
    if text.startswith("delta method"):
        return ("Heteroskedasticity-robust standard errors of the logit model, carried to the "
                "effect by the delta method.")
    if "cluster-robust" in text:
        return f"Clustered standard errors{by}."
    if "classical" in text:
        return "Classical standard errors (no clustering)."
    if re.search(r"\bHC\d\b", text) or "heteroskedasticity" in text:
        return "Heteroskedasticity-robust standard errors."
    if text.startswith("none"):
        return ""
    return plain_identifiers(text)[:1].upper() + plain_identifiers(text)[1:] + "."


def _note_words(part: str) -> str:
    part = part.strip()
    rules = (
        (r"^n_obs counts .*|^n_treated counts .*", lambda m: ""),
        (r"^dropped (\d+) units? treated in the first period$",
         lambda m: f"{int(m.group(1)):,} laborers treated in the first panel year left out "
                   "(no year before receipt to compare)"),
        (r"^dropped (\d+) of (\d+) rows with missing values.*$",
         lambda m: f"{int(m.group(1)):,} of {int(m.group(2)):,} rows left out for missing "
                   "values"),
        (r"^control group: (\w+)$",
         lambda m: f"compared with laborers {plain_identifiers(m.group(1))}"),
        (r"^base period: varying$",
         lambda m: "years before receipt each compared with the year before"),
        (r"^base period: universal$",
         lambda m: "every year compared with the year before first receipt"),
        (r"^doubly robust \(propensity and outcome models\) with covariates (.*)$",
         lambda m: f"doubly robust, adjusting for {plain_identifiers(m.group(1))}"),
        (r"^outcome regression with covariates (.*)$",
         lambda m: f"outcome regression, adjusting for {plain_identifiers(m.group(1))}"),
        (r"^doubly robust not estimable.*$",
         lambda m: "the doubly robust version could not be fitted (a small cohort's model of "
                   "who receives the program fits perfectly), so the outcome regression on the "
                   "same characteristics is used"),
        (r"^outcome regression on the same covariates used instead$", lambda m: ""),
        (r"^trimmed (\d+) treated and (\d+) control rows with propensity outside "
         r"\[([\d.]+), ([\d.]+)\]$",
         lambda m: ("no laborer left out for an extreme probability of receipt"
                    if m.group(1) == m.group(2) == "0" else
                    f"{m.group(1)} treated and {m.group(2)} comparison laborers left out for a "
                    f"probability of receipt outside {m.group(3)} to {m.group(4)}")),
        (r"^propensity range treated \[([\d.]+), ([\d.]+)\], control \[([\d.]+), ([\d.]+)\]$",
         lambda m: f"estimated probability of receipt {m.group(1)} to {m.group(2)} among those "
                   f"who received the program, {m.group(3)} to {m.group(4)} among the others"),
        (r"^covariates constant in this population, left out: (.*)$",
         lambda m: f"characteristics that do not vary here left out: "
                   f"{plain_identifiers(m.group(1))}"),
        (r"^not estimable( here)?: (.*)$", lambda m: why_not_estimated(m.group(2))),
        (r"^only for yes/no outcomes$", lambda m: "only for yes-or-no outcomes"),
        (r"^coefficient of an additive OLS.*$",
         lambda m: "coefficient of a linear regression: the average effect only if the effect "
                   "is the same for everyone"),
    )
    for pattern, words in rules:
        match = re.match(pattern, part)
        if match:
            return words(match)
    return plain_identifiers(part)


def notes_words(notes: str | None) -> str:
    """An estimate record's notes in plain words, one clause per note."""
    if notes is None or (isinstance(notes, float) and math.isnan(notes)) or not str(notes):
        return ""
    # Parenthesised parts hold semicolons of their own; split outside brackets only.
    parts, depth, current = [], 0, ""
    for char in str(notes):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == ";" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    said = [words for words in map(_note_words, parts) if words]
    if not said:
        return ""
    text = "; ".join(dict.fromkeys(said))
    return text[:1].upper() + text[1:] + "."
