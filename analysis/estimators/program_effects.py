"""Program effects on the person-year panel, for any :class:`AnalysisSpec`.

The spec says which program, which outcome, on whom and adjusted for what; this module turns
the panel into the two samples the estimators need and runs every estimator of the registry:

* **Treatment from program receipt.** Programs are received year by year, so receipt is turned
  into a staggered adoption: a laborer's cohort is the first year of receipt (for training, the
  recorded first-training year) and the laborer counts as treated from then on.
* **ATT in the last panel year** (cross-section): the last year's outcomes, with covariates
  measured in the first panel year, before the later cohorts were treated.
* **ATT over the years after first receipt** (panel): every person-year from first receipt on,
  for laborers first treated after the first panel year.

Standard errors are clustered by the spec's cluster (county by default); with few counties the
OLS-based estimators switch to the wild cluster bootstrap. When the panel is simulated,
:func:`true_values` gives the planted value of each estimand for the spec's own program,
outcome and population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimators import effects, heterogeneity, staggered
from analysis.estimators.pretrends import influence_covariance
from analysis.estimators.registry import ESTIMANDS, ESTIMATORS, EstimationInput, Estimator
from analysis.estimators.spec import AnalysisSpec, check_against_panel, in_population

TREATMENT = "treated_by_year"
FIRST_TREATED = "first_treated"


# ----------------------------------------------------------------------------------------------
# Samples


def first_receipt_year(panel: pd.DataFrame, spec: AnalysisSpec) -> pd.Series:
    """Each person's first year of receipt (NaN when never), indexed by person id."""
    program = spec.program_info
    if program.first_year_column and program.first_year_column in panel:
        recorded = panel.groupby("person_id")[program.first_year_column].first()
        return recorded.astype("Float64").astype(float)
    received = panel.loc[panel[program.column].astype(bool), ["person_id", "year"]]
    return received.groupby("person_id")["year"].min().astype(float)


def prepare_panel(panel: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """The spec's population and years, with cohort, treatment and event-time columns.

    Adds ``first_treated`` (0 = never treated), ``treated_by_year``, ``event_time`` and
    ``age_squared`` (hundreds of years squared, so the design stays well scaled).
    """
    first = panel["person_id"].map(first_receipt_year(panel, spec))
    data = panel.assign(province_code=panel["province_code"].astype(str), first_receipt=first)
    data = data.loc[in_population(data, spec).to_numpy()]
    if spec.years:
        data = data[data["year"].between(*spec.years)]
    first = data.pop("first_receipt")
    data[FIRST_TREATED] = first.fillna(0).astype(int)
    data[TREATMENT] = (first.notna() & (data["year"] >= first)).astype(int).to_numpy()
    data["event_time"] = np.where(first.notna(), data["year"] - first, np.nan)
    data["age_squared"] = data["age"].astype(float) ** 2 / 100
    data[spec.outcome] = data[spec.outcome].astype(float)
    for column in spec.covariates:
        data[column] = data[column].astype(float)
    return data.reset_index(drop=True)


def last_year_cross_section(prepared: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """The last year's outcomes with covariates from the first year (before later cohorts)."""
    first_year, last_year = prepared["year"].min(), prepared["year"].max()
    covariates = list(spec.covariates)
    baseline = prepared.loc[prepared["year"] == first_year, ["person_id", *covariates]]
    last = prepared.loc[prepared["year"] == last_year].drop(columns=covariates)
    return last.merge(baseline, on="person_id", how="inner", validate="one_to_one")


def usable_covariates(cross_section: pd.DataFrame, spec: AnalysisSpec) -> tuple[list, str]:
    """The spec's covariates that vary in the sample, and a note naming those dropped.

    A population of women leaves ``female`` constant; a constant regressor would make every
    adjusted estimator fail, so it is dropped and the page says so.
    """
    constant = [c for c in spec.covariates if cross_section[c].nunique(dropna=True) < 2]
    kept = [c for c in spec.covariates if c not in constant]
    note = f"covariates constant in this population, left out: {', '.join(constant)}" \
        if constant else ""
    return kept, note


# ----------------------------------------------------------------------------------------------
# Estimation


def _not_estimated(estimator: Estimator, spec: AnalysisSpec, reason: str) -> effects.EffectEstimate:
    return effects.EffectEstimate(
        method=estimator.name, estimand=estimator.estimand, outcome=spec.outcome,
        treatment=spec.program, estimate=np.nan, std_error=np.nan, ci_low=np.nan,
        ci_high=np.nan, p_value=np.nan, n_obs=0, n_treated=None, n_clusters=None,
        cluster_var=None, se_type="not estimated", notes=reason)


def run_estimator(estimator: Estimator, inputs: EstimationInput,
                  spec: AnalysisSpec) -> effects.EffectEstimate:
    """One estimator; a design it cannot handle becomes a record that says why, not a crash.

    Small provinces can leave an arm without variation in a covariate; the other estimators
    still deserve to be shown.
    """
    if estimator.binary_outcome_only and not spec.outcome_info.binary:
        return _not_estimated(estimator, spec, "only for yes/no outcomes")
    try:
        record = estimator.run(inputs)
    except effects.EffectsError as error:
        return _not_estimated(estimator, spec, f"not estimable here: {error}")
    # The registry, not the estimator function, says which estimand a row targets.
    return effects.EffectEstimate(**{**record.to_dict(), "estimand": estimator.estimand,
                                     "treatment": spec.program})


def estimation_inputs(prepared: pd.DataFrame, spec: AnalysisSpec, sample: str,
                      seed: int = 0) -> tuple[EstimationInput, str]:
    """The inputs of one sample kind for the spec, and a note on dropped covariates."""
    if sample == "panel":
        data = prepared
        # Covariates enter the panel estimators at their base-period values; a covariate
        # constant in the population (``female`` among women) is dropped as for the others.
        covariates, note = usable_covariates(prepared, spec)
    else:
        data = last_year_cross_section(prepared, spec)
        covariates, note = usable_covariates(data, spec)
    return EstimationInput(data=data, outcome=spec.outcome, treatment=TREATMENT,
                           covariates=tuple(covariates), cluster=spec.cluster,
                           first_treated=FIRST_TREATED, binary_outcome=spec.outcome_info.binary,
                           seed=seed), note


def estimate_effects(panel: pd.DataFrame, spec: AnalysisSpec, seed: int = 0,
                     estimators: list[Estimator] | None = None) -> pd.DataFrame:
    """Every registry estimator on one panel: a tidy table, one row per estimator.

    Columns are those of :class:`~analysis.estimators.effects.EffectEstimate` plus ``label``
    and ``estimand_label`` from the registry.
    """
    prepared = prepare_panel(panel, spec)
    chosen = list(ESTIMATORS.values()) if estimators is None else estimators
    inputs = {sample: estimation_inputs(prepared, spec, sample, seed)
              for sample in {e.sample for e in chosen}}
    records = []
    for estimator in chosen:
        sample_inputs, note = inputs[estimator.sample]
        record = run_estimator(estimator, sample_inputs, spec)
        if note and estimator.uses_covariates:
            record = effects.EffectEstimate(**{**record.to_dict(),
                                               "notes": effects.join_notes(record.notes, note)})
        records.append(record)
    table = effects.estimates_to_frame(records)
    table["label"] = table["method"].map(lambda name: ESTIMATORS[name].label)
    table["estimand_label"] = table["estimand"].map(lambda key: ESTIMANDS[key].label)
    return table


def headline_estimate(panel: pd.DataFrame, spec: AnalysisSpec, seed: int = 0) -> pd.Series:
    """The spec's headline estimator alone, as one row of :func:`estimate_effects`."""
    table = estimate_effects(panel, spec, seed, [ESTIMATORS[spec.headline_estimator]])
    return table.iloc[0]


@dataclass
class EventStudy:
    """Effects by years since first receipt, with what joint inference needs.

    ``table`` has one row per estimator and event time (the reference year included, with no
    standard error). ``covariance`` maps each estimator to the covariance of its estimated
    (non-reference) coefficients, a DataFrame indexed by event time; ``n_clusters`` to the
    clusters it was computed over.
    """

    table: pd.DataFrame
    covariance: dict[str, pd.DataFrame]
    n_clusters: dict[str, int]
    # Callaway-Sant'Anna's per-unit influence functions (columns in the covariance's order) and
    # clusters, for bootstrap tests with few clusters.
    cs_influence: tuple | None = None


def event_study(panel: pd.DataFrame, spec: AnalysisSpec) -> EventStudy:
    """Effects by years since first receipt: TWFE event study and Callaway-Sant'Anna, made
    comparable: the same cohorts (those first treated after the first panel year, and the never
    treated) and the same reference (the year before first receipt, a universal base period
    for Callaway-Sant'Anna), so their pre-receipt estimates are the same kind of object.
    Callaway-Sant'Anna conditions on the spec's covariates (doubly robust), as the headline does;
    the TWFE event study has no covariates."""
    prepared = prepare_panel(panel, spec)
    first_year = prepared["year"].min()
    already = (prepared[FIRST_TREATED] > 0) & (prepared[FIRST_TREATED] <= first_year)
    comparable = prepared.loc[~already]
    years = prepared["year"].nunique()
    window = (-(years - 1), years - 1)
    twfe, twfe_vcov = staggered.event_study(comparable, spec.outcome, "person_id", "year",
                                            FIRST_TREATED, spec.cluster, window=window,
                                            return_vcov=True)
    covariates, _ = usable_covariates(comparable, spec)
    cs, influence, clusters = _cs_event_study(comparable, spec, covariates)
    table = effects.estimates_to_frame(list(twfe) + cs)
    reference = (table["method"] == "callaway_santanna") & (table["event_time"] == -1)
    table.loc[reference, ["std_error", "ci_low", "ci_high", "p_value"]] = np.nan
    table.loc[reference, "is_reference"] = True
    # Event times no kept cohort reaches (e.g. the longest, once first-year cohorts are left
    # out) carry no estimate; they are not shown.
    table = table[table["estimate"].notna() | table["is_reference"]].reset_index(drop=True)
    table["label"] = table["method"].map(
        lambda name: ESTIMATORS[name].label if name in ESTIMATORS else "Two-way fixed effects "
                                                                       "event study")
    kept = [j for j, r in enumerate(cs) if r.event_time != -1 and np.isfinite(r.estimate)]
    cs_vcov = pd.DataFrame(influence_covariance(influence[:, kept], clusters),
                           index=[cs[j].event_time for j in kept],
                           columns=[cs[j].event_time for j in kept])
    return EventStudy(table, {"event_study_twfe": twfe_vcov, "callaway_santanna": cs_vcov},
                      {"event_study_twfe": int(twfe[0].n_clusters), "callaway_santanna": clusters.n},
                      (influence[:, kept], clusters))


def _cs_event_study(comparable, spec, covariates):
    """Callaway-Sant'Anna by event time (universal base) with its influence functions."""
    records, influence, clusters = cs_with_influence(comparable, spec, covariates, "event",
                                                     "universal")
    return records[1:], influence[:, 1:], clusters


def cs_with_influence(prepared, spec, covariates, aggregate, base_period="varying"):
    """Callaway-Sant'Anna records with their influence functions and clusters, as the headline
    runs it: doubly robust on the covariates, or outcome-regression cells when a small cohort's
    propensity model separates perfectly."""
    def run(method):
        return staggered.callaway_santanna(
            prepared, spec.outcome, "person_id", "year", FIRST_TREATED, covariates,
            cluster=spec.cluster, aggregate=aggregate, base_period=base_period,
            est_method=method, return_influence=True)
    try:
        return run("dr")
    except effects.SingularDesignError as error:
        if str(error) != staggered.PROPENSITY_FAILURE:
            raise
        return run("reg")


def group_time_effects(panel: pd.DataFrame, spec: AnalysisSpec):
    """The headline's group-time effects ATT(g,t) (varying base: pre-receipt cells are short
    placebo differences, R ``did``'s pre-test), with influence functions and clusters."""
    prepared = prepare_panel(panel, spec)
    covariates, _ = usable_covariates(prepared, spec)
    return cs_with_influence(prepared, spec, covariates, "group_time")


def event_study_effects(panel: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """The table of :func:`event_study`."""
    return event_study(panel, spec).table


def propensity_diagnostics(panel: pd.DataFrame, spec: AnalysisSpec) -> effects.OverlapDiagnostics:
    """Covariate balance before and after inverse-probability (ATT) weighting, and propensity
    overlap by arm, on the last year's cross-section (one propensity fit for both)."""
    inputs, _ = estimation_inputs(prepare_panel(panel, spec), spec, "cross_section")
    return effects.overlap_diagnostics(inputs.data, TREATMENT, list(inputs.covariates))


def covariate_balance(panel: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Standardized differences before and after inverse-probability (ATT) weighting."""
    return propensity_diagnostics(panel, spec).balance


def overlap_by_arm(panel: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    return propensity_diagnostics(panel, spec).by_arm


def headline_by_province(panel: pd.DataFrame, spec: AnalysisSpec, truth: pd.DataFrame | None = None,
                         seed: int = 0) -> pd.DataFrame:
    """The spec's headline estimator in each province (a failure becomes a row saying why),
    with the planted value of its estimand when ``truth`` is given."""
    rows = []
    for code, part in panel.groupby(panel["province_code"].astype(str), sort=True):
        rows.append({"province_code": code, **headline_estimate(part, spec, seed).to_dict()})
    table = pd.DataFrame(rows)
    if truth is not None:
        table["true_effect"] = table["province_code"].map(
            true_effect_by_province(truth, panel, spec))
    return table


# ----------------------------------------------------------------------------------------------
# The planted truth (simulated panels)


def _truth_rows(truth: pd.DataFrame, prepared: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """Post-receipt person-years of the spec's program, population and years."""
    rows = truth[(truth["program"] == spec.program)
                 & truth["person_id"].isin(prepared["person_id"].unique())]
    first_year, last_year = prepared["year"].min(), prepared["year"].max()
    return rows[rows["year"].between(first_year, last_year)]


def true_values(truth: pd.DataFrame, panel: pd.DataFrame, spec: AnalysisSpec) -> dict[str, float]:
    """The planted value of each estimand (:data:`ESTIMANDS`) for the spec.

    ``att_last_year``: mean effect over the treated person-years of the last year;
    ``att_post``: over every post-receipt person-year of cohorts first treated after the first
    panel year (the ones a panel method identifies).
    """
    prepared = prepare_panel(panel, spec)
    rows = _truth_rows(truth, prepared, spec)
    effect = f"effect_{spec.outcome}"
    first_year, last_year = prepared["year"].min(), prepared["year"].max()
    return {
        "att_last_year": float(rows.loc[rows["year"] == last_year, effect].mean()),
        "att_post": float(rows.loc[rows["first_year"] > first_year, effect].mean()),
    }


def true_event_time_effects(truth: pd.DataFrame, panel: pd.DataFrame,
                            spec: AnalysisSpec) -> pd.DataFrame:
    """Planted effect by years since first receipt, for the identifiable cohorts."""
    prepared = prepare_panel(panel, spec)
    rows = _truth_rows(truth, prepared, spec)
    rows = rows[rows["first_year"] > prepared["year"].min()]
    return (rows.groupby("event_time")[f"effect_{spec.outcome}"].mean()
            .rename("att").reset_index())


def true_effect_by_province(truth: pd.DataFrame, panel: pd.DataFrame,
                            spec: AnalysisSpec) -> pd.Series:
    """The planted value of the headline estimand in each province, indexed by code."""
    estimand = ESTIMATORS[spec.headline_estimator].estimand
    return pd.Series({code: true_values(truth, part, spec)[estimand]
                      for code, part in panel.groupby(panel["province_code"].astype(str))})


def with_truth(estimates: pd.DataFrame, truth: pd.DataFrame | None, panel: pd.DataFrame,
               spec: AnalysisSpec) -> pd.DataFrame:
    """Add the planted value of each row's estimand and whether its interval covers it."""
    if truth is None:
        return estimates
    planted = estimates["estimand"].map(true_values(truth, panel, spec))
    return estimates.assign(
        true_effect=planted,
        covers_truth=(estimates["ci_low"] <= planted) & (planted <= estimates["ci_high"]))


# ----------------------------------------------------------------------------------------------
# Everything a page shows for one scope


@dataclass
class AnalysisResults:
    """The estimates of one spec on one panel (a province's, or the nation's pooled)."""

    spec: AnalysisSpec
    panel: pd.DataFrame  # the panel the estimates came from (before the spec's filters)
    estimates: pd.DataFrame  # every registry estimator, with the planted truth when simulated
    events: pd.DataFrame  # effects by years since first receipt
    true_events: pd.DataFrame | None  # planted effects by years since first receipt
    person_years: int
    event_study: EventStudy | None = None  # the events with their covariances (None: failed)


def analyse(panel: pd.DataFrame | None, spec: AnalysisSpec, truth: pd.DataFrame | None = None,
            seed: int = 0) -> AnalysisResults | None:
    """Check the spec against the panel, then run every estimator and the event studies.

    Returns None when there is no panel (no microdata cover this scope). Raises
    :class:`~analysis.estimators.spec.SpecError` when the panel cannot support the spec.
    """
    if panel is None:
        return None
    check_against_panel(panel, spec)
    estimates = with_truth(estimate_effects(panel, spec, seed), truth, panel, spec)
    try:
        dynamics = event_study(panel, spec)
        events = dynamics.table
    except effects.EffectsError as error:
        dynamics = None
        events = pd.DataFrame(columns=["method", "label", "event_time", "estimate", "std_error",
                                       "ci_low", "ci_high", "is_reference", "notes"])
        events.attrs["not_estimated"] = str(error)
    true_events = None if truth is None else true_event_time_effects(truth, panel, spec)
    return AnalysisResults(spec, panel, estimates, events, true_events,
                           len(prepare_panel(panel, spec)), dynamics)


# ----------------------------------------------------------------------------------------------
# Who gains: the spec's headline estimator by group, with the test of equal effects


def group_estimator(spec: AnalysisSpec) -> Estimator:
    """The estimator used by group: the headline one when it gives influence scores (needed
    for the cluster-aware test of equal effects), otherwise Callaway-Sant'Anna."""
    headline = ESTIMATORS[spec.headline_estimator]
    return headline if headline.has_scores else ESTIMATORS["callaway_santanna"]


def effects_by_group(panel: pd.DataFrame, spec: AnalysisSpec, dimension: str,
                     seed: int = 0) -> heterogeneity.GroupEffects:
    """The effect in each group of ``dimension`` (sex, age, weak_labor, schooling) and the Wald
    test that the groups' effects are equal (:mod:`analysis.estimators.heterogeneity`)."""
    estimator = group_estimator(spec)
    prepared = prepare_panel(panel, spec)

    def estimate(rows: pd.DataFrame):
        inputs, _ = estimation_inputs(rows.reset_index(drop=True), spec, estimator.sample, seed)
        record, scores = estimator.run(inputs, True)
        return effects.EffectEstimate(**{**record.to_dict(), "estimand": estimator.estimand,
                                         "treatment": spec.program}), scores

    return heterogeneity.effects_by_group(prepared, dimension, estimate)
