"""How far the headline can be trusted: pre-trends, simultaneous bands and sensitivity analyses.

Run on one analysis's results (:class:`~analysis.estimators.program_effects.AnalysisResults`):

* **Parallel trends before receipt.** R ``did``'s pre-test: a joint Wald test that every
  pre-receipt placebo cell ATT(g,t) of the headline's Callaway-Sant'Anna is zero, chi-squared
  with 30 clusters or more; with fewer, its p-value comes from the restricted cluster score
  bootstrap (:func:`~analysis.estimators.pretrends.score_bootstrap_wald`), because F(q, G-1)
  on the cluster covariance rejected over half the time at 5% with eight counties in the
  project's Monte Carlo. When the clusters are too few for that many cells, the pre-receipt
  coefficients of the event study (fewer: one per year) are tested instead, the same way.
* **Simultaneous band.** A sup-t band over every event time of that event study (Montiel Olea &
  Plagborg-Moller 2019), multivariate t with G-1 degrees of freedom when clusters are few.
* **Violations of parallel trends** (Rambachan & Roth 2023). The average effect over the years
  since first receipt, robust to post-receipt departures from parallel trends up to Mbar times
  the largest pre-receipt one (relative magnitudes), with the breakdown value of Mbar; and the
  fixed-length intervals under the smoothness restriction, with the breakdown value of M.
* **Unobserved confounding** of the cross-section (Cinelli & Hazlett 2020): the robustness
  value of the program's coefficient in the last year's regression of the outcome on receipt
  and the covariates, and bounds from confounders as strong as the observed covariate that best
  predicts receipt.

Each part that cannot be computed on a panel (too few pre-receipt years, a singular
covariance, too few clusters) is None with the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.estimators import honest_did, pretrends, sensitivity
from analysis.estimators import program_effects as pe
from analysis.estimators.exceptions import EffectsError
from analysis.estimators.inference import WILD_CLUSTER_THRESHOLD, WildOptions
from analysis.estimators.pretrends import PretestResult, pretreatment_cells, wald_pretest
from analysis.estimators.spec import COVARIATES, AnalysisSpec

HEADLINE_EVENT_STUDY = "callaway_santanna"
MBARS = (0.0, 0.5, 1.0, 1.5, 2.0)
"""Multiples of the largest pre-receipt departure shown in the relative-magnitudes table."""


@dataclass
class Robustness:
    """Every check of one analysis; a part is None when it cannot be computed, with the reason."""

    event_times: list[int]
    pretest: PretestResult | None
    pretest_reason: str
    pretest_cells: str  # what was tested: placebo group-time cells or event-time coefficients
    band: sensitivity.SupTBand | None
    band_reason: str
    relative_magnitudes: honest_did.RobustIntervals | None
    smoothness: honest_did.RobustIntervals | None
    parallel_reason: str
    confounding: sensitivity.ConfoundingSensitivity | None
    confounding_benchmark: str
    confounding_reason: str


def _few_clusters_df(n_clusters: int) -> int | None:
    return n_clusters - 1 if n_clusters < WILD_CLUSTER_THRESHOLD else None


def event_study_inputs(results) -> tuple[pd.Series, pd.DataFrame, int] | None:
    """The headline event study's estimated coefficients (by event time, reference left out),
    their covariance and the number of clusters; None when the event study failed."""
    study = results.event_study
    if study is None or HEADLINE_EVENT_STUDY not in study.covariance:
        return None
    covariance = study.covariance[HEADLINE_EVENT_STUDY]
    rows = study.table[(study.table["method"] == HEADLINE_EVENT_STUDY)
                       & ~study.table["is_reference"].astype(bool)]
    estimates = rows.set_index("event_time")["estimate"].reindex(covariance.index)
    return estimates, covariance, study.n_clusters[HEADLINE_EVENT_STUDY]


def pretrend_test(estimates: pd.Series, covariance: pd.DataFrame, n_clusters: int,
                  influence: tuple | None = None):
    """Joint test of the event study's pre-receipt coefficients, or (None, reason). With few
    clusters and the coefficients' ``influence`` (array, clusters), the score bootstrap's
    p-value; without it, F(q, G-1)."""
    pre = [e for e in estimates.index if e < 0]
    if not pre:
        return None, "there is no year before first receipt to compare"
    df = _few_clusters_df(n_clusters)
    if df is not None and len(pre) > df:
        return None, (f"{len(pre)} pre-receipt years cannot be tested jointly with only "
                      f"{n_clusters} clusters")
    try:
        if df is not None and influence is not None:
            columns, clusters = influence
            positions = [list(estimates.index).index(e) for e in pre]
            return pretrends.score_bootstrap_wald(estimates[pre].to_numpy(),
                                                  columns[:, positions], clusters,
                                                  WildOptions(reps=999, seed=0)), ""
        return wald_pretest(estimates[pre].to_numpy(), covariance.loc[pre, pre].to_numpy(),
                            df), ""
    except EffectsError:
        return None, "the covariance of the pre-receipt estimates is singular"


def group_time_pretest(results):
    """R ``did``'s pre-test: every pre-receipt placebo cell ATT(g,t) of the headline's
    Callaway-Sant'Anna (each cohort's change from one year to the next before its receipt,
    against the never treated) jointly zero; F(q, G-1) with few clusters. (None, reason) when
    there are no such cells, more cells than the clusters can test, or a singular covariance."""
    try:
        records, influence, clusters = pe.group_time_effects(results.panel, results.spec)
        pre = pretreatment_cells(records, influence)
    except EffectsError as error:
        return None, f"the placebo cells could not be estimated ({error})"
    df = _few_clusters_df(clusters.n)
    if not pre:
        return None, "there is no year before first receipt to compare"
    if df is not None and len(pre) > df:
        return None, (f"{len(pre)} placebo cells cannot be tested jointly with only "
                      f"{clusters.n} clusters")
    try:
        if df is not None:  # few clusters: F(q, G-1) over-rejects badly; bootstrap the Wald
            return pretrends.score_bootstrap_wald(
                np.array([records[i].estimate for i in pre]), influence[:, pre], clusters,
                WildOptions(reps=999, seed=0)), ""
        return pretrends.group_time_pretest(records, influence, clusters), ""
    except EffectsError:
        return None, "the covariance of the placebo cells is singular"


def simultaneous_band(estimates: pd.Series, covariance: pd.DataFrame, n_clusters: int,
                      seed: int = 0):
    try:
        return sensitivity.sup_t_band(estimates.to_numpy(), covariance.to_numpy(), reps=20_000,
                                      seed=seed, df=_few_clusters_df(n_clusters)), ""
    except EffectsError as error:
        return None, f"no simultaneous band ({error})"


def parallel_trends_sensitivity(estimates: pd.Series, covariance: pd.DataFrame, seed: int = 0):
    """Rambachan-Roth relative magnitudes and smoothness for the average post-receipt effect."""
    pre = [e for e in estimates.index if e < 0]
    post = [e for e in estimates.index if e >= 0]
    if not pre or not post:
        return None, None, "a sensitivity analysis needs years both before and after receipt"
    order = pre + post
    beta = estimates[order].to_numpy()
    sigma = covariance.loc[order, order].to_numpy()
    average = np.full(len(post), 1 / len(post))
    try:
        magnitudes = honest_did.relative_magnitudes(beta, sigma, len(pre), len(post), MBARS,
                                                    l_vec=average, seed=seed)
        scale = float(np.sqrt(average @ sigma[len(pre):, len(pre):] @ average))
        smooth = honest_did.smoothness(beta, sigma, len(pre), len(post),
                                       [0.0, 0.25 * scale, 0.5 * scale, scale], l_vec=average)
    except EffectsError as error:
        return None, None, f"the sensitivity analysis could not be computed ({error})"
    return magnitudes, smooth, ""


def confounding_regression(cross_section: pd.DataFrame, spec: AnalysisSpec, treatment: str,
                           covariates: list[str]):
    """The last year's OLS of the outcome on receipt and the covariates (classical), with the
    regressors named by their reader's labels."""
    names = {treatment: "program receipt", **{c: COVARIATES.get(c, c) for c in covariates}}
    design = sm.add_constant(cross_section[[treatment, *covariates]].astype(float)
                             .rename(columns=names), has_constant="add")
    return sm.OLS(cross_section[spec.outcome].astype(float), design).fit(), names


def confounding_sensitivity(cross_section: pd.DataFrame, spec: AnalysisSpec, treatment: str,
                            covariates: list[str]):
    """Cinelli-Hazlett sensitivity, benchmarked against the covariate that best predicts
    receipt; (None, "", reason) when there are no covariates or the regression is singular."""
    if not covariates:
        return None, "", "the analysis adjusts for no covariates to benchmark against"
    fit, names = confounding_regression(cross_section, spec, treatment, covariates)
    labels = [names[c] for c in covariates]
    try:
        everything = sensitivity.from_statsmodels(fit, "program receipt", labels, kd=(1, 2, 3))
    except EffectsError as error:
        return None, "", f"the regression could not be analysed ({error})"
    bounds = everything.bounds
    strongest = bounds.loc[bounds["kd"] == 1].sort_values("r2dz_x").iloc[-1]["benchmark"]
    return everything, str(strongest), ""


def robustness(results, cross_section: pd.DataFrame, treatment: str, covariates: list[str],
               seed: int = 0) -> Robustness:
    """Every check for one analysis (see the module docstring)."""
    inputs = event_study_inputs(results)
    if inputs is None:
        reason = "effects by years since first receipt could not be estimated"
        pretest, pretest_reason, band, band_reason = None, reason, None, reason
        pretest_cells = ""
        magnitudes, smooth, parallel_reason, event_times = None, None, reason, []
    else:
        estimates, covariance, n_clusters = inputs
        event_times = [int(e) for e in estimates.index]
        pretest, pretest_reason = group_time_pretest(results)
        pretest_cells = "placebo group-time cells"
        if pretest is None:  # e.g. few clusters: the fewer event-time coefficients instead
            pretest, fallback_reason = pretrend_test(estimates, covariance, n_clusters,
                                                     results.event_study.cs_influence)
            pretest_cells = "pre-receipt event-time coefficients"
            pretest_reason = "" if pretest is not None else fallback_reason
        band, band_reason = simultaneous_band(estimates, covariance, n_clusters, seed)
        magnitudes, smooth, parallel_reason = parallel_trends_sensitivity(estimates, covariance,
                                                                          seed)
    confounding, benchmark, confounding_reason = confounding_sensitivity(
        cross_section, results.spec, treatment, covariates)
    return Robustness(event_times, pretest, pretest_reason, pretest_cells, band, band_reason,
                      magnitudes, smooth, parallel_reason, confounding, benchmark,
                      confounding_reason)
