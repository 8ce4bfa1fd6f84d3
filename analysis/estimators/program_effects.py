"""The effect of vocational training on stable employment, estimated every way we trust.

Two estimands, each matched with the estimators that target it:

* **ATT in the last panel year** (cross-section): among laborers trained in any panel year up to
  and including the last, the effect of having been trained on stable employment that year.
  Estimators: difference in means (naive), regression adjustment, logit average marginal
  effect, inverse-probability weighting and doubly robust AIPW, all on the last year's
  cross-section with baseline covariates.
* **ATT over post-training person-years** (panel): the average effect over every person-year
  from the training year on, for laborers first trained after the first panel year (those
  trained in the first year have no pre-training year, so no panel method identifies their
  effect; Callaway-Sant'Anna drops them and reports it). Estimators: two-way fixed effects (biased when effects grow with
  time since training, a known result) and Callaway & Sant'Anna (2021) with never-trained
  laborers as controls, whose simple aggregate targets exactly this average.

Standard errors are clustered by county (the sampling and labour-market unit); with few
counties the OLS-based estimators use the wild cluster bootstrap (see :mod:`analysis.estimators.effects`).
When the panel is simulated, :func:`true_targets` gives the planted value of each estimand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.estimators import effects, staggered

OUTCOME = "stable_employment"
TREATMENT = "trained_by_year"
CLUSTER = "county_id"
COVARIATES = ("age", "age_squared", "female", "schooling_years", "disability_or_weak_labor",
              "household_size")
FINAL_YEAR_ATT = "ATT, last panel year"
POST_TRAINING_ATT = "ATT, post-training person-years"
HEADLINE_METHOD = "callaway_santanna"
WILD_REPS = 499

METHOD_LABELS = {
    "difference_in_means": "Difference in means (naive)",
    "regression_adjustment": "Regression adjustment (linear probability)",
    "logit_average_marginal_effect": "Logit average marginal effect",
    "ipw_att": "Inverse-probability weighting",
    "aipw": "Doubly robust (AIPW)",
    "two_way_fixed_effects": "Two-way fixed effects",
    "callaway_santanna": "Callaway-Sant'Anna (staggered)",
}


def prepare_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """Add ``first_treated`` (0 = never trained), ``trained_by_year`` and ``event_time``."""
    first = panel["first_trained_year"].astype("Float64")
    prepared = panel.assign(
        province_code=panel["province_code"].astype(str),
        first_treated=first.fillna(0).astype(int),
        trained_by_year=(first.notna() & (panel["year"] >= first)).astype(int).to_numpy(),
        stable_employment=panel["stable_employment"].astype(int),
    )
    # Age enters the employment profile as a curve (rising, then falling), so the outcome models
    # get its square as well, in hundreds of years squared to keep the design well scaled.
    prepared["age_squared"] = panel["age"].astype(float) ** 2 / 100
    prepared["event_time"] = np.where(prepared["first_treated"] > 0,
                                      prepared["year"] - prepared["first_treated"], np.nan)
    for column in COVARIATES:
        prepared[column] = prepared[column].astype(float)
    return prepared


def last_year_cross_section(panel: pd.DataFrame) -> pd.DataFrame:
    """The last panel year with covariates measured at the first year (before training)."""
    first_year, last_year = panel["year"].min(), panel["year"].max()
    baseline = panel.loc[panel["year"] == first_year, ["person_id", *COVARIATES]]
    last = panel.loc[panel["year"] == last_year].drop(columns=list(COVARIATES))
    return last.merge(baseline, on="person_id", how="inner", validate="one_to_one")


def _attempt(method: str, estimand: str, outcome: str, estimator, /, *args, **kwargs):
    """Run one estimator; a design it cannot handle becomes a row that says why, not a crash.

    Small provinces can leave an arm without variation in a covariate; the other estimators
    still deserve to be shown.
    """
    try:
        return estimator(*args, **kwargs)
    except effects.EffectsError as error:
        return effects.EffectEstimate(
            method=method, estimand=estimand, outcome=outcome, treatment=TREATMENT,
            estimate=np.nan, std_error=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
            n_obs=0, n_treated=None, n_clusters=None, cluster_var=None, se_type="not estimated",
            notes=f"not estimable here: {type(error).__name__}: {error}")


def cross_section_estimates(panel: pd.DataFrame, outcome: str = OUTCOME,
                            cluster: str = CLUSTER, seed: int = 0) -> list:
    data = last_year_cross_section(panel)
    covariates = list(COVARIATES)
    wild = effects.WildOptions(reps=WILD_REPS, seed=seed)
    return [
        _attempt("difference_in_means", "ATE", outcome, effects.difference_in_means, data,
                 outcome, TREATMENT, cluster, wild=wild),
        _attempt("regression_adjustment", "ATT", outcome, effects.regression_adjustment, data,
                 outcome, TREATMENT, covariates, cluster, estimand="ATT", wild=wild),
        _attempt("logit_average_marginal_effect", "ATT", outcome,
                 effects.logit_average_marginal_effect, data, outcome, TREATMENT, covariates,
                 cluster, estimand="ATT"),
        _attempt("ipw_att", "ATT", outcome, effects.ipw_att, data, outcome, TREATMENT,
                 covariates, cluster),
        _attempt("aipw", "ATT", outcome, effects.aipw, data, outcome, TREATMENT, covariates,
                 cluster, estimand="ATT"),
    ]


def panel_estimates(panel: pd.DataFrame, outcome: str = OUTCOME, cluster: str = CLUSTER,
                    seed: int = 0) -> list:
    wild = effects.WildOptions(reps=WILD_REPS, seed=seed)
    twfe = _attempt("two_way_fixed_effects", "ATT", outcome, staggered.two_way_fixed_effects,
                    panel, outcome, TREATMENT, "person_id", "year", cluster, wild=wild)
    cs = _attempt("callaway_santanna", "ATT", outcome,
                  lambda *args, **kwargs: staggered.callaway_santanna(*args, **kwargs)[0],
                  panel, outcome, "person_id", "year", "first_treated", cluster=cluster,
                  aggregate="simple")
    return [twfe, cs]


def estimate_effects(panel: pd.DataFrame, outcome: str = OUTCOME, cluster: str = CLUSTER,
                     seed: int = 0) -> pd.DataFrame:
    """Every estimator on one panel: a tidy table with the estimand each one targets."""
    prepared = prepare_panel(panel)
    cross = cross_section_estimates(prepared, outcome, cluster, seed)
    within = panel_estimates(prepared, outcome, cluster, seed)
    table = effects.estimates_to_frame(cross + within)
    table["target"] = [FINAL_YEAR_ATT] * len(cross) + [POST_TRAINING_ATT] * len(within)
    table["label"] = table["method"].map(METHOD_LABELS).fillna(table["method"])
    return table


def event_study_effects(panel: pd.DataFrame, outcome: str = OUTCOME,
                        cluster: str = CLUSTER) -> pd.DataFrame:
    """Effects by years since training: TWFE event study and Callaway-Sant'Anna by event time."""
    prepared = prepare_panel(panel)
    years = prepared["year"].nunique()
    window = (-(years - 1), years - 1)
    twfe = staggered.event_study(prepared, outcome, "person_id", "year", "first_treated",
                                 cluster, window=window)
    cs = staggered.callaway_santanna(prepared, outcome, "person_id", "year", "first_treated",
                                     cluster=cluster, aggregate="event")[1:]
    table = effects.estimates_to_frame(list(twfe) + list(cs))
    table["label"] = table["method"].map(METHOD_LABELS).fillna(table["method"])
    return table


def covariate_balance(panel: pd.DataFrame) -> pd.DataFrame:
    """Standardized differences before and after inverse-probability (ATT) weighting."""
    data = last_year_cross_section(prepare_panel(panel))
    return effects.overlap_diagnostics(data, TREATMENT, list(COVARIATES)).balance


def overlap_by_arm(panel: pd.DataFrame) -> pd.DataFrame:
    data = last_year_cross_section(prepare_panel(panel))
    return effects.overlap_diagnostics(data, TREATMENT, list(COVARIATES)).by_arm


def identifiable_truth(truth: pd.DataFrame, first_year: int | None = None) -> pd.DataFrame:
    """Truth cells of laborers first trained after the first panel year (see module docstring).

    ``first_year`` is the panel's first year; without it, the simulator's first year.
    """
    first_year = config.DEMO_YEARS[0] if first_year is None else first_year
    return truth[truth["first_trained_year"] > first_year]


def true_targets(truth: pd.DataFrame, outcome: str = OUTCOME,
                 first_year: int | None = None) -> dict[str, float]:
    """The planted value of each estimand (simulated panels only)."""
    from analysis.data.simulate import true_effects

    last_year = truth["year"].max()
    identifiable = identifiable_truth(truth, first_year)
    return {
        FINAL_YEAR_ATT: float(true_effects(truth[truth["year"] == last_year],
                                           outcome=outcome)["att"].iloc[0]),
        POST_TRAINING_ATT: float(true_effects(identifiable, outcome=outcome)["att"].iloc[0]),
    }


def true_event_time_effects(truth: pd.DataFrame, outcome: str = OUTCOME,
                            first_year: int | None = None) -> pd.DataFrame:
    """Planted effect by years since training, for the identifiable cohorts."""
    from analysis.data.simulate import true_effects

    return true_effects(identifiable_truth(truth, first_year), by=["event_time"],
                        outcome=outcome)


def true_effect_by_province(truth: pd.DataFrame, outcome: str = OUTCOME,
                            first_year: int | None = None) -> pd.Series:
    """The planted post-training ATT of each province, indexed by province code."""
    from analysis.data.simulate import true_effects

    by_province = true_effects(identifiable_truth(truth, first_year), by=["province_code"],
                               outcome=outcome)
    return by_province.set_index("province_code")["att"]


def with_truth(estimates: pd.DataFrame, truth: pd.DataFrame | None,
               first_year: int | None = None) -> pd.DataFrame:
    """Add the planted value of each row's estimand and whether its interval covers it."""
    if truth is None:
        return estimates
    targets = true_targets(truth, first_year=first_year)
    true_value = estimates["target"].map(targets)
    return estimates.assign(
        true_effect=true_value,
        covers_truth=(estimates["ci_low"] <= true_value) & (true_value <= estimates["ci_high"]))


def headline_by_province(panel: pd.DataFrame, cluster: str = CLUSTER) -> pd.DataFrame:
    """The headline estimator (Callaway-Sant'Anna, post-training ATT) for each province."""
    prepared = prepare_panel(panel)
    rows = []
    for code, part in prepared.groupby("province_code", sort=True):
        record = staggered.callaway_santanna(part, OUTCOME, "person_id", "year", "first_treated",
                                             cluster=cluster, aggregate="simple")[0]
        rows.append({"province_code": code, **record.to_dict()})
    table = pd.DataFrame(rows)
    table["distinguishable_from_zero"] = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    return table


def pooled_headline(panel: pd.DataFrame, cluster: str = CLUSTER) -> pd.DataFrame:
    prepared = prepare_panel(panel)
    record = staggered.callaway_santanna(prepared, OUTCOME, "person_id", "year", "first_treated",
                                         cluster=cluster, aggregate="simple")[0]
    return effects.estimates_to_frame([record])
