"""Propensity-score estimators: inverse-probability weighting, doubly robust AIPW, and the
balance and overlap diagnostics that go with them.

Split from :mod:`analysis.estimators.effects`, which re-exports every public name here and
documents the conventions shared by all estimators (0/1 treatment, dropped incomplete rows,
clustered influence-function standard errors with t(G-1) intervals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.estimators.effects import (
    ATE_TRIM, ATT_TRIM, _check_estimand, _fit_logit, _record,
    join_notes, make_clusters, prepare, score_series,
)
from analysis.estimators.exceptions import InvalidOptionError, NoVariationError
from analysis.estimators.inference import (
    WildOptions, influence_inference, resolve_influence_se_mode,
)


# --------------------------------------------------------------------------- propensity scores
@dataclass(frozen=True)
class Propensity:
    """Logit propensity model on the (trimmed) estimation sample."""

    sample: pd.DataFrame
    design: np.ndarray          # n x (1 + p): intercept and covariates
    score: np.ndarray           # fitted P(D=1|X)
    treated: np.ndarray         # D as float
    info_inv: np.ndarray        # (mean p(1-p) x x')^-1
    trim_note: str
    n_trimmed: dict


def _check_trim(trim):
    if trim is None:
        return None
    low, high = trim
    if not 0 <= low < high <= 1:
        raise InvalidOptionError(f"trim must be (low, high) with 0 <= low < high <= 1, got {trim}")
    return float(low), float(high)


def _logit_scores(sample, treatment, covariates):
    design = sm.add_constant(sample[covariates].to_numpy(float), has_constant="add")
    fit = _fit_logit(sample[treatment].to_numpy(float), design)
    return design, fit.predict(design)


def fit_propensity(sample, treatment, covariates, trim) -> Propensity:
    """Fit a logit propensity score, drop rows outside ``trim`` and refit on the rest.

    Rows with an estimated score outside ``[low, high]`` are dropped, so the estimand becomes
    the effect on the overlap population that remains, and inference treats the trimmed sample
    as given. The bounds are the caller's: Crump, Hotz, Imbens & Mitnik (2009) derive the rule
    for the ATE (drop scores outside [a, 1-a], a near 0.1; :data:`ATE_TRIM` is the looser
    [0.01, 0.99]); for the ATT only treated units with scores near 1 lack comparable controls
    and only controls near 1 get extreme weights, so :data:`ATT_TRIM` is a conventional upper
    bound of 0.99, not a derived rule. When treated rows are dropped the note says which ATT
    remains.
    """
    trim = _check_trim(trim)
    design, score = _logit_scores(sample, treatment, covariates)
    treated = sample[treatment].to_numpy(bool)
    n_trimmed = {"treated": 0, "control": 0}
    note = ""
    if trim is not None:
        outside = (score < trim[0]) | (score > trim[1])
        n_trimmed = {"treated": int((outside & treated).sum()),
                     "control": int((outside & ~treated).sum())}
        note = (f"trimmed {n_trimmed['treated']} treated and {n_trimmed['control']} control rows"
                f" with propensity outside [{trim[0]:g}, {trim[1]:g}]")
        if n_trimmed["treated"]:
            kept = int(treated.sum()) - n_trimmed["treated"]
            note += (f"; the estimand is the effect on the {kept} of {int(treated.sum())} "
                     f"treated with propensity in [{trim[0]:g}, {trim[1]:g}], not on all "
                     "treated")
        if outside.any():
            sample = sample.loc[~outside]
            for arm in (0, 1):
                if not (sample[treatment] == arm).any():
                    raise NoVariationError(f"trimming removed every row with {treatment} == {arm}")
            design, score = _logit_scores(sample, treatment, covariates)
    d = sample[treatment].to_numpy(float)
    info = (design * (score * (1 - score))[:, None]).T @ design / len(d)
    return Propensity(sample, design, score, d, np.linalg.inv(info), note, n_trimmed)


def _score_range_note(ps: Propensity) -> str:
    t, c = ps.score[ps.treated == 1], ps.score[ps.treated == 0]
    return (f"propensity range treated [{t.min():.3f}, {t.max():.3f}], "
            f"control [{c.min():.3f}, {c.max():.3f}]")


def _pscore_linear_rep(ps: Propensity) -> np.ndarray:
    """Per-row influence of the logit coefficients: (E[p(1-p)xx'])^-1 x (D - p)."""
    return (ps.design * (ps.treated - ps.score)[:, None]) @ ps.info_inv


def ipw_att(df, outcome, treatment, covariates, cluster=None, *, trim=ATT_TRIM, alpha=0.05,
            se="auto", wild=WildOptions(), return_scores=False):
    """ATT by normalized (Hajek) inverse-probability weighting.

    ``ATT = mean_{D=1}(y) - sum_{D=0} w_i y_i / sum_{D=0} w_i`` with ``w = p/(1-p)`` and
    ``p`` a logit propensity score (Hirano, Imbens & Ridder 2003; Imbens & Wooldridge
    2009, sec. 5.4). Rows with a score outside ``trim`` are dropped first (see
    :func:`fit_propensity`; ``trim=None`` keeps all). The notes report the trimming
    and the score range by arm; :func:`overlap_diagnostics` gives the full table.

    Parameters
    ----------
    trim : (float, float) or None, default :data:`ATT_TRIM`
        Keep rows whose estimated score lies in ``[low, high]``, then refit.
    se : {"auto", "analytic", "multiplier"}
        With ``cluster``: t(G-1) on the clustered influence-function SE ("analytic"), or
        the p-value and interval of the cluster multiplier bootstrap-t
        (:func:`analysis.estimators.inference.multiplier_bootstrap`, "multiplier"); "auto"
        bootstraps below :data:`WILD_CLUSTER_THRESHOLD` clusters.
    wild : WildOptions
        Draws, weights and seed of the multiplier bootstrap.
    return_scores : bool, default False
        Also return the cluster-level scores (:func:`score_series`;
        ``std_error^2 = G/(G-1) * sum(scores^2)``).

    Returns
    -------
    EffectEstimate or (EffectEstimate, pandas.Series)
        ``method="ipw_att"``, ``estimand="ATT"``; ``n_obs`` counts rows after trimming. SE by M-estimation: the influence function of the stacked
    estimating equations (logit score, the two weighted means), as in Sant'Anna & Zhao
    (2020)'s standardized IPW; summed within clusters when ``cluster`` is given.
    """
    covariates = list(covariates)
    sample, note = prepare(df, [outcome, treatment, *covariates], treatment=treatment,
                           cluster=cluster)
    ps = fit_propensity(sample, treatment, covariates, trim)
    y = ps.sample[outcome].to_numpy(float)
    d = ps.treated
    w_treat, w_cont = d, (1 - d) * ps.score / (1 - ps.score)
    eta_treat = np.sum(w_treat * y) / np.sum(w_treat)
    eta_cont = np.sum(w_cont * y) / np.sum(w_cont)
    moment = np.mean((w_cont * (y - eta_cont))[:, None] * ps.design, axis=0)
    inf_treat = w_treat * (y - eta_treat) / np.mean(w_treat)
    inf_cont = (w_cont * (y - eta_cont) + _pscore_linear_rep(ps) @ moment) / np.mean(w_cont)
    notes = join_notes(note, ps.trim_note, _score_range_note(ps))
    record = _m_record("ipw_att", "ATT", outcome, treatment, ps.sample, cluster,
                       eta_treat - eta_cont, inf_treat - inf_cont, notes, alpha, se, wild)
    if not return_scores:
        return record
    return record, score_series(ps.sample, cluster, inf_treat - inf_cont)


def _m_record(method, estimand, outcome, treatment, sample, cluster, estimate, influence,
              notes, alpha, se="auto", wild=WildOptions()):
    clusters = make_clusters(sample, cluster)
    mode = resolve_influence_se_mode(se, clusters)
    result = influence_inference(float(estimate), influence, clusters, mode, wild, alpha)
    return _record(method, estimand, outcome, treatment, sample, clusters,
                   (float(estimate), *result), notes, alpha)


# --------------------------------------------------------------------------- AIPW
def _arm_regression(y, design, mask):
    """OLS of y on design within ``mask``; returns fitted values for all rows and the
    per-row influence of the coefficients (zero outside the arm)."""
    beta = np.linalg.lstsq(design[mask], y[mask], rcond=None)[0]
    fitted = design @ beta
    bread = np.linalg.inv(design[mask].T @ design[mask] / len(y))
    return fitted, (design * (mask * (y - fitted))[:, None]) @ bread


def _aipw_att(y, ps: Propensity):
    """Doubly robust ATT (Sant'Anna & Zhao 2020, eq. 3.1 with y_pre = 0) and its IF."""
    d, x = ps.treated, ps.design
    m0, rep_ols = _arm_regression(y, x, d == 0)
    w_treat, w_cont = d, (1 - d) * ps.score / (1 - ps.score)
    resid = y - m0
    eta_treat = np.sum(w_treat * resid) / np.sum(w_treat)
    eta_cont = np.sum(w_cont * resid) / np.sum(w_cont)
    inf_treat = (w_treat * (resid - eta_treat)
                 - rep_ols @ np.mean(w_treat[:, None] * x, axis=0)) / np.mean(w_treat)
    ps_moment = np.mean((w_cont * (resid - eta_cont))[:, None] * x, axis=0)
    inf_cont = (w_cont * (resid - eta_cont) + _pscore_linear_rep(ps) @ ps_moment
                - rep_ols @ np.mean(w_cont[:, None] * x, axis=0)) / np.mean(w_cont)
    return eta_treat - eta_cont, inf_treat - inf_cont


def _aipw_ate(y, ps: Propensity):
    """AIPW ATE (Robins, Rotnitzky & Zhao 1994; Glynn & Quinn 2010) and its IF.

    ``phi = m1 - m0 + D(y - m1)/p - (1-D)(y - m0)/(1-p)``; the IF is ``phi - ATE`` (the
    efficient influence function) plus the first-order terms of the estimated logit
    and outcome coefficients, which vanish when both models are correct.
    """
    d, x, p = ps.treated, ps.design, ps.score
    m1, rep1 = _arm_regression(y, x, d == 1)
    m0, rep0 = _arm_regression(y, x, d == 0)
    phi = m1 - m0 + d * (y - m1) / p - (1 - d) * (y - m0) / (1 - p)
    estimate = np.mean(phi)
    grad_b1 = np.mean(x * (1 - d / p)[:, None], axis=0)
    grad_b0 = -np.mean(x * (1 - (1 - d) / (1 - p))[:, None], axis=0)
    grad_ps = np.mean(x * (-d * (y - m1) * (1 - p) / p
                           - (1 - d) * (y - m0) * p / (1 - p))[:, None], axis=0)
    influence = (phi - estimate + rep1 @ grad_b1 + rep0 @ grad_b0
                 + _pscore_linear_rep(ps) @ grad_ps)
    return estimate, influence


def aipw(df, outcome, treatment, covariates, cluster=None, *, estimand="ATE", trim="auto",
         alpha=0.05, se="auto", wild=WildOptions(), return_scores=False):
    """Augmented IPW (doubly robust) estimate of the ATE or ATT.

    Logit propensity score and linear outcome models by arm (only the control model
    for the ATT). Consistent if either model is correct. SE from the influence
    function (efficient influence function plus nuisance-estimation terms, so it stays
    valid when one model is misspecified), summed within clusters when given.
    ATE: Glynn & Quinn (2010); ATT: Sant'Anna & Zhao (2020) with a zero pre-period.

    Parameters
    ----------
    estimand : {"ATE", "ATT"}
    trim : (float, float), None or "auto"
        As in :func:`ipw_att`; "auto" uses :data:`ATT_TRIM` or :data:`ATE_TRIM`.
    se, wild, return_scores
        As in :func:`ipw_att`.

    Returns
    -------
    EffectEstimate or (EffectEstimate, pandas.Series)
        ``method="aipw"``; with ``return_scores`` also the scores.
    """
    covariates = list(covariates)
    _check_estimand(estimand)
    sample, note = prepare(df, [outcome, treatment, *covariates], treatment=treatment,
                           cluster=cluster)
    if isinstance(trim, str) and trim == "auto":
        trim = ATT_TRIM if estimand == "ATT" else ATE_TRIM
    ps = fit_propensity(sample, treatment, covariates, trim)
    y = ps.sample[outcome].to_numpy(float)
    estimate, influence = (_aipw_att if estimand == "ATT" else _aipw_ate)(y, ps)
    notes = join_notes(note, ps.trim_note, _score_range_note(ps))
    record = _m_record("aipw", estimand, outcome, treatment, ps.sample, cluster, estimate,
                       influence, notes, alpha, se, wild)
    if not return_scores:
        return record
    return record, score_series(ps.sample, cluster, influence)


# --------------------------------------------------------------------------- diagnostics
def covariate_balance(df, treatment, covariates, weights=None) -> pd.DataFrame:
    """Standardized mean differences of covariates, before and (optionally) after weighting.

    ``SMD = (mean_T - mean_C) / sqrt((s_T^2 + s_C^2) / 2)`` with unweighted sample
    variances in the denominator for both columns, so a change reflects the means
    only (Austin 2009). ``weights`` is a Series aligned to ``df``'s index or a column
    name; rows with missing weights are excluded from the weighted means. Rule of thumb:
    |SMD| < 0.1 indicates good balance.

    Returns
    -------
    pandas.DataFrame
        One row per covariate: ``covariate``, ``mean_treated``, ``mean_control``,
        ``smd``, ``variance_ratio`` and, with weights, ``mean_treated_weighted``,
        ``mean_control_weighted``, ``smd_weighted``.
    """
    covariates = list(covariates)
    sample, _ = prepare(df, [treatment, *covariates], treatment=treatment)
    treated = sample[treatment] == 1
    rows = []
    for cov in covariates:
        xt, xc = sample.loc[treated, cov], sample.loc[~treated, cov]
        pooled = np.sqrt((xt.var() + xc.var()) / 2)
        rows.append({"covariate": cov, "mean_treated": xt.mean(), "mean_control": xc.mean(),
                     "smd": (xt.mean() - xc.mean()) / pooled if pooled > 0 else np.nan,
                     "variance_ratio": xt.var() / xc.var() if xc.var() > 0 else np.nan,
                     "_pooled": pooled})
    table = pd.DataFrame(rows)
    if weights is not None:
        w = (df[weights] if isinstance(weights, str) else pd.Series(weights)).reindex(sample.index)
        ok = w.notna()
        for arm, label in ((treated, "treated"), (~treated, "control")):
            sub = sample.loc[arm & ok, covariates]
            table[f"mean_{label}_weighted"] = np.average(sub, axis=0, weights=w[arm & ok])
        table["smd_weighted"] = ((table["mean_treated_weighted"] - table["mean_control_weighted"])
                                 / table["_pooled"])
    return table.drop(columns="_pooled")


@dataclass(frozen=True)
class OverlapDiagnostics:
    """Propensity-score overlap report for the ATT weights of :func:`ipw_att`.

    ``by_arm``: n, min/mean/max propensity and rows trimmed per arm; ``balance``: the
    :func:`covariate_balance` table before and after ATT weighting on the trimmed
    sample; ``weights``: the ATT weights (1 for treated, p/(1-p) for controls, NaN for
    dropped or trimmed rows) aligned to the input's index.
    """

    by_arm: pd.DataFrame
    balance: pd.DataFrame
    weights: pd.Series
    n_trimmed: int


def overlap_diagnostics(df, treatment, covariates, trim=ATT_TRIM) -> OverlapDiagnostics:
    """Propensity ranges by arm, rows trimmed, and covariate balance under ATT weights.

    Uses the same logit and trimming rule as :func:`ipw_att`; ``by_arm`` describes the
    scores before trimming, ``balance`` and ``weights`` the trimmed sample.

    Returns
    -------
    OverlapDiagnostics
    """
    covariates = list(covariates)
    sample, _ = prepare(df, [treatment, *covariates], treatment=treatment)
    _, raw_score = _logit_scores(sample, treatment, covariates)
    ps = fit_propensity(sample, treatment, covariates, trim)
    raw = pd.Series(raw_score, index=sample.index)
    rows = []
    for arm, label in ((1, "treated"), (0, "control")):
        s = raw[sample[treatment] == arm]
        rows.append({"arm": label, "n": len(s), "ps_min": s.min(), "ps_mean": s.mean(),
                     "ps_max": s.max(), "n_trimmed": ps.n_trimmed[label]})
    odds = ps.score / (1 - ps.score)
    weights = pd.Series(np.where(ps.treated == 1, 1.0, odds), index=ps.sample.index)
    weights = weights.reindex(df.index)
    balance = covariate_balance(ps.sample, treatment, covariates, weights.loc[ps.sample.index])
    return OverlapDiagnostics(pd.DataFrame(rows).set_index("arm"), balance, weights,
                              sum(ps.n_trimmed.values()))
