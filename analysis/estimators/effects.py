"""Cross-sectional program-effect estimators that return tidy, comparable records.

Every public estimator takes a DataFrame plus column names and returns an
:class:`EffectEstimate`. Panel estimators (two-way fixed effects, event study,
Callaway & Sant'Anna) live in :mod:`analysis.estimators.staggered` and return the same record.
Standard errors and the wild cluster bootstrap live in :mod:`analysis.estimators.inference`, the
exception classes in :mod:`analysis.estimators.exceptions`; both are re-exported here.

Conventions shared by all estimators
------------------------------------
* Treatment is coded 0/1 (bool accepted); anything else raises
  :class:`NonBinaryTreatmentError`.
* Rows with a missing value in a used column (outcome, treatment, covariates) are
  dropped and counted in ``notes``. A missing *cluster* id raises
  :class:`NanInClusterError` instead: dropping it would silently change the design.
* OLS-based estimators (difference in means, regression adjustment, additive regression, TWFE)
  report HC1 or CR1 standard errors with t critical values by default; the cross-sectional ones
  also offer the classical homoskedastic SE (``se="classical"``). With fewer than
  :data:`WILD_CLUSTER_THRESHOLD` clusters ``se="auto"`` switches to the restricted wild
  cluster bootstrap; the record's ``std_error`` is then still the CR1 SE, while
  ``p_value`` and the confidence interval come from the bootstrap.
* M-estimators (IPW, AIPW, Callaway-Sant'Anna) use influence-function standard errors,
  summed within clusters when clustered, with t(G-1) intervals when clustered.

Formulas, small-sample corrections and references are in :mod:`analysis.estimators.inference`.

Common parameters
-----------------
df : pandas.DataFrame
    One row per observation; nothing else is assumed about its index or dtypes.
outcome, treatment : str
    Column names; ``treatment`` must be 0/1.
covariates : list of str
    Columns entering the propensity and/or outcome models linearly (add squares or
    interactions as columns).
cluster : str, optional
    Column of cluster ids (e.g. ``"county_id"``); no missing values allowed.
alpha : float, default 0.05
    1 - confidence level of ``ci_low``/``ci_high``.

Every estimator returns an :class:`EffectEstimate`; collect several with
:func:`estimates_to_frame`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationError

# Re-exported: effects.WildOptions, effects.EffectsError, ... are part of this
# module's interface (analysis.estimators.staggered, analysis.estimators.program_effects and the tests).
from analysis.estimators.exceptions import (
    EffectsError, InvalidOptionError, MissingColumnError, NanInClusterError,
    NonBinaryOutcomeError, NonBinaryTreatmentError, NoVariationError,
    PanelStructureError, SingularDesignError,
)
from analysis.estimators.inference import (
    SE_MODES, WILD_CLUSTER_THRESHOLD, WILD_WEIGHTS, Clusters, OLSFit, WildOptions,
    inference, influence_inference, influence_scores, influence_std_error, ols_effect,
    ols_score_factor, resolve_influence_se_mode, resolve_se_mode, wcr_pvalue_function,
    wild_bootstrap_arrays, wild_draws, wild_label,
)

ATE_TRIM = (0.01, 0.99)
"""Default propensity trimming for the ATE (Crump, Hotz, Imbens & Mitnik 2009)."""
ATT_TRIM = (0.0, 0.99)
"""Default for the ATT: only scores near 1 matter (treated units without comparable
controls, controls with extreme weights p/(1-p)); low scores get weight ~0 anyway."""


# --------------------------------------------------------------------------- record
@dataclass(frozen=True)
class EffectEstimate:
    """One estimate with its uncertainty and provenance, ready for a results table."""

    method: str
    estimand: str
    outcome: str
    treatment: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n_obs: int
    n_treated: int | None
    n_clusters: int | None
    cluster_var: str | None
    se_type: str
    notes: str = ""
    alpha: float = 0.05
    event_time: int | None = None
    cohort: int | None = None
    period: int | None = None
    is_reference: bool = False

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-serialisable apart from NaN)."""
        return asdict(self)


def estimates_to_frame(estimates) -> pd.DataFrame:
    """Stack records into one tidy DataFrame, one row per estimate."""
    columns = [f.name for f in EffectEstimate.__dataclass_fields__.values()]
    return pd.DataFrame([e.to_dict() for e in estimates], columns=columns)


# --------------------------------------------------------------------------- input checks
def check_columns(df: pd.DataFrame, columns) -> None:
    """Raise :class:`MissingColumnError` naming absent columns and listing present ones."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"column(s) {missing} not in the data; available columns: {list(df.columns)}")


def as_binary(values: pd.Series, name: str, error=NonBinaryTreatmentError) -> pd.Series:
    """Return a 0/1 integer copy of ``values`` or raise ``error`` listing bad values."""
    if values.dtype == bool:
        return values.astype(int)
    bad = sorted(set(pd.unique(values).tolist()) - {0, 1})
    if bad:
        raise error(f"column {name!r} must be coded 0/1; found other values {bad[:10]}"
                    f" in {int((~values.isin([0, 1])).sum())} rows")
    return values.astype(int)


def prepare(df, columns, *, treatment=None, cluster=None, binary_outcome=None):
    """Validate ``df`` and return ``(sample, note)`` with incomplete rows dropped.

    ``columns`` are the used columns; ``cluster`` is checked for missing values
    (raising :class:`NanInClusterError`) rather than dropped.
    """
    used = list(dict.fromkeys(c for c in columns if c is not None))
    check_columns(df, used + ([cluster] if cluster else []))
    if cluster is not None and df[cluster].isna().any():
        raise NanInClusterError(
            f"cluster column {cluster!r} has {int(df[cluster].isna().sum())} missing values;"
            " fill or drop those rows first (dropping them silently would change the design)")
    keep = df[used].notna().all(axis=1)
    sample = df.loc[keep, list(dict.fromkeys(used + ([cluster] if cluster else [])))].copy()
    if sample.empty:
        raise NoVariationError(f"no complete rows in columns {used}")
    if treatment is not None:
        sample[treatment] = as_binary(sample[treatment], treatment)
        for arm in (0, 1):
            if not (sample[treatment] == arm).any():
                raise NoVariationError(f"no rows with {treatment} == {arm}; both arms are needed")
    if binary_outcome is not None:
        sample[binary_outcome] = as_binary(sample[binary_outcome], binary_outcome,
                                           NonBinaryOutcomeError)
    n_dropped = int((~keep).sum())
    note = (f"dropped {n_dropped} of {len(df)} rows with missing values in {used}"
            if n_dropped else "")
    return sample, note


def make_clusters(sample: pd.DataFrame, cluster: str | None) -> Clusters | None:
    """Integer-code the cluster column (None when unclustered)."""
    if cluster is None:
        return None
    codes = pd.factorize(sample[cluster], sort=True)[0]
    return Clusters(cluster, codes.astype(np.int64))


def join_notes(*notes) -> str:
    return "; ".join(n for n in notes if n)


def score_series(sample: pd.DataFrame, cluster: str | None, influence: np.ndarray,
                 factor: float = 1.0) -> pd.Series:
    """Scores of ``return_scores=True``: :func:`influence_scores` indexed by cluster id
    (by row label when unclustered), so ``std_error^2 = adj * sum(scores^2)`` with
    ``adj = score_adjustment(n_clusters)``."""
    clusters = make_clusters(sample, cluster)
    ids = (pd.factorize(sample[cluster], sort=True)[1] if cluster is not None
           else sample.index)
    return pd.Series(influence_scores(influence, clusters, factor), index=ids,
                     name="score")


def _ols_scores(sample, cluster, influence, n_params) -> pd.Series:
    clusters = make_clusters(sample, cluster)
    return score_series(sample, cluster, influence,
                        ols_score_factor(len(sample), n_params, clusters))


# --------------------------------------------------------------------------- OLS estimators
def _refuse_classical_scores(mode, return_scores):
    if return_scores and mode == "classical":
        raise InvalidOptionError(
            "return_scores=True needs a standard error that is a sum of per-observation scores "
            "(se='hc1', 'cluster' or 'wild'); the classical SE assumes one error variance for "
            "everyone and has none")


def _record(method, estimand, outcome, treatment, sample, clusters, result, notes, alpha):
    estimate, se, ci_low, ci_high, p_value, label = result
    return EffectEstimate(
        method, estimand, outcome, treatment, estimate, se, ci_low, ci_high, p_value,
        len(sample), int(sample[treatment].sum()), clusters.n if clusters else None,
        clusters.name if clusters else None, label, notes, alpha)


def difference_in_means(df, outcome, treatment, cluster=None, *, se="auto", alpha=0.05,
                        wild=WildOptions(), return_scores=False):
    """Difference in mean outcomes, treated minus control: OLS of y on (1, D).

    SE: HC1 without ``cluster``; CR1 or the wild cluster bootstrap with it (see
    ``se`` and :data:`WILD_CLUSTER_THRESHOLD`). Under random assignment this is the
    ATE (Imbens & Rubin 2015, ch. 6).

    Parameters
    ----------
    se : {"auto", "classical", "hc1", "cluster", "wild"}
        Without ``cluster``: HC1 ("auto" or "hc1") or the classical homoskedastic OLS SE
        ("classical", the pooled-variance two-sample SE). With ``cluster``: CR1 ("cluster"),
        the WCR wild cluster bootstrap ("wild"), or the bootstrap only when there are fewer
        than :data:`WILD_CLUSTER_THRESHOLD` clusters ("auto"). An option that contradicts
        ``cluster`` ("classical"/"hc1" with it, "cluster"/"wild" without) raises
        :class:`InvalidOptionError`.
    wild : WildOptions
        Draws, weights and seed of the bootstrap.
    return_scores : bool, default False
        Also return the cluster-level scores of the estimate (:func:`score_series`); not with
        ``se="classical"``, which has none (:class:`InvalidOptionError`).

    Returns
    -------
    EffectEstimate or (EffectEstimate, pandas.Series)
        ``method="difference_in_means"``, ``estimand="ATE"``; ``se_type`` says which
        standard error was used. With ``return_scores``, also the scores indexed by
        cluster id: ``std_error^2 = G/(G-1) * sum(scores^2)`` (CR1 SE, also under the
        wild bootstrap).
    """
    sample, note = prepare(df, [outcome, treatment], treatment=treatment, cluster=cluster)
    clusters = make_clusters(sample, cluster)
    mode = resolve_se_mode(se, clusters)
    _refuse_classical_scores(mode, return_scores)
    X = sm.add_constant(sample[treatment].to_numpy(float), has_constant="add")
    fit = OLSFit.of(sample[outcome].to_numpy(float), X)
    result = ols_effect(fit.y, X, 1, clusters, mode, alpha, wild=wild, fit=fit)
    record = _record("difference_in_means", "ATE", outcome, treatment, sample, clusters, result,
                     note, alpha)
    if not return_scores:
        return record
    return record, _ols_scores(sample, cluster, fit.influence(1), X.shape[1])


def _check_estimand(estimand):
    if estimand not in ("ATE", "ATT"):
        raise InvalidOptionError(f"estimand must be 'ATE' or 'ATT', got {estimand!r}")


def _target(sample, treatment, estimand):
    _check_estimand(estimand)
    if estimand == "ATE":
        return np.ones(len(sample))
    return sample[treatment].to_numpy(float)


def regression_adjustment(df, outcome, treatment, covariates, cluster=None, *,
                          estimand="ATE", se="auto", alpha=0.05, wild=WildOptions(),
                          return_scores=False):
    """Fully interacted linear regression adjustment (Imbens & Wooldridge 2009, sec. 5.3).

    OLS of y on (1, D, X - m, D (X - m)) with ``m`` the covariate mean of the target
    population (all rows for the ATE, the treated for the ATT); the coefficient on D
    equals the average over the target of ``mu_1(X) - mu_0(X)`` from separate linear
    models by arm. Linear probability model for a binary outcome.

    SE: the coefficient's OLS influence function plus ``delta'(X_i - m) T_i / P(T)``
    (``delta`` = interaction coefficients, ``T`` = target indicator), which accounts for
    estimating ``m``; HC1 or CR1 scaled. ``se="classical"`` adds the homoskedastic variance
    of the coefficient and the variance of the ``m`` term (:func:`classical_std_error`).
    ``se="wild"`` bootstraps the stacked
    regression coefficient holding ``m`` fixed, and the SE it reports (CR1) holds ``m`` fixed
    too, so standard error, p-value and interval describe the same quantity.

    Parameters
    ----------
    estimand : {"ATE", "ATT"}
        Population over which the arm-specific predictions are averaged.
    se, wild, return_scores
        As in :func:`difference_in_means`.

    Returns
    -------
    EffectEstimate or (EffectEstimate, pandas.Series)
        ``method="regression_adjustment"``; with ``return_scores`` also the scores.

    Raises
    ------
    SingularDesignError
        If the covariates are collinear.
    """
    covariates = list(covariates)
    sample, note = prepare(df, [outcome, treatment, *covariates], treatment=treatment,
                           cluster=cluster)
    clusters = make_clusters(sample, cluster)
    mode = resolve_se_mode(se, clusters)
    _refuse_classical_scores(mode, return_scores)
    target = _target(sample, treatment, estimand)
    x = sample[covariates].to_numpy(float)
    d = sample[treatment].to_numpy(float)
    centred = x - (target @ x) / target.sum()
    X = np.column_stack([np.ones(len(d)), d, centred, d[:, None] * centred])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise SingularDesignError(f"covariates {covariates} are collinear within an arm")
    fit = OLSFit.of(sample[outcome].to_numpy(float), X)
    extra = centred @ fit.params[2 + len(covariates):] * target / target.mean()
    result = ols_effect(fit.y, X, 1, clusters, mode, alpha, extra_influence=extra, wild=wild,
                        fit=fit)
    record = _record("regression_adjustment", estimand, outcome, treatment, sample, clusters,
                     result, note, alpha)
    if not return_scores:
        return record
    # Scores describe the SE shown: with the wild bootstrap, covariate means held fixed.
    held_fixed = mode == "wild" and clusters is not None
    influence = fit.influence(1) + (0 if held_fixed else extra)
    return record, _ols_scores(sample, cluster, influence, X.shape[1])


ADDITIVE_ESTIMAND = "OLS-weighted average of effects"
"""Estimand of :func:`additive_regression`: neither the ATE nor the ATT unless effects are equal."""


def additive_regression(df, outcome, treatment, covariates, cluster=None, *, se="auto",
                        alpha=0.05, wild=WildOptions(), return_scores=False):
    """Plain additive regression adjustment: the coefficient on D in OLS of y on (1, D, X).

    The specification of most applied work before the treatment-effects literature (e.g.
    Dehejia & Wahba 1999, Table 3, column 2). When the effect of D varies with X, the
    coefficient is a weighted average of covariate-specific effects with weights proportional
    to the conditional variance of D, not the ATE or the ATT (Angrist 1998; Angrist & Pischke
    2009, sec. 3.3.1); with linear covariates it is a convex combination of effects on the
    treated and untreated whose weights fall with each group's share (Słoczyński 2022). It
    equals the ATE and the ATT only if the effect is the same for everyone; for those
    estimands use :func:`regression_adjustment`.

    Parameters
    ----------
    covariates : list of str
        Entered additively, no interactions with D.
    se, wild, return_scores
        As in :func:`difference_in_means`; the SE is that of the OLS coefficient.

    Returns
    -------
    EffectEstimate or (EffectEstimate, pandas.Series)
        ``method="additive_regression"``, ``estimand`` :data:`ADDITIVE_ESTIMAND`; with
        ``return_scores`` also the scores.

    Raises
    ------
    SingularDesignError
        If treatment and covariates are collinear.
    """
    covariates = list(covariates)
    sample, note = prepare(df, [outcome, treatment, *covariates], treatment=treatment,
                           cluster=cluster)
    clusters = make_clusters(sample, cluster)
    mode = resolve_se_mode(se, clusters)
    _refuse_classical_scores(mode, return_scores)
    X = sm.add_constant(sample[[treatment, *covariates]].to_numpy(float), has_constant="add")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise SingularDesignError(f"treatment {treatment!r} and covariates {covariates} are "
                                  "collinear")
    fit = OLSFit.of(sample[outcome].to_numpy(float), X)
    result = ols_effect(fit.y, X, 1, clusters, mode, alpha, wild=wild, fit=fit)
    notes = join_notes(note, "coefficient of an additive OLS: equals the ATE or ATT only if "
                             "effects are homogeneous")
    record = _record("additive_regression", ADDITIVE_ESTIMAND, outcome, treatment, sample,
                     clusters, result, notes, alpha)
    if not return_scores:
        return record
    return record, _ols_scores(sample, cluster, fit.influence(1), X.shape[1])


# --------------------------------------------------------------------------- wild bootstrap
def wild_cluster_bootstrap(df, outcome, regressors, cluster, coef, *, reps=999,
                           weights="webb", seed=20240101, alpha=0.05, null=0.0):
    """Restricted wild cluster bootstrap (WCR) for one OLS coefficient.

    OLS of ``outcome`` on a constant and ``regressors``; H0: ``coef == null`` is imposed
    when generating bootstrap samples ``y* = X b_r + u_r * v_g`` with cluster-level
    weights ``v_g`` (Cameron, Gelbach & Miller 2008; Roodman et al. 2019 "Fast and
    wild"). The p-value is the share of bootstrap CR1 |t*| above the sample |t|; the
    confidence interval inverts the test (the set of r not rejected at ``alpha``),
    found by bisection on the same draws. Use when clusters are few (< ~30).

    Parameters
    ----------
    regressors : list of str
        Right-hand-side columns (a constant is added).
    cluster : str
        Cluster column (required).
    coef : str
        The regressor whose coefficient is tested; one of ``regressors``.
    reps : int, default 999
        Bootstrap draws; Rademacher weights are fully enumerated when 2^G < reps.
    weights : {"webb", "rademacher"}
        Webb's six-point weights (recommended for G < 12) or Rademacher signs.
    seed : int
        Seed of ``numpy.random.default_rng``; the draw stream equals the
        ``wildboottest`` package's, so equal seeds reproduce its p-value.
    null : float, default 0
        Hypothesised value of the coefficient for ``p_value``.

    Returns
    -------
    EffectEstimate
        ``estimate`` the OLS coefficient, ``std_error`` the analytic CR1 SE,
        ``p_value`` and ``ci_low``/``ci_high`` from the bootstrap.
    """
    if coef not in regressors:
        raise InvalidOptionError(f"coef {coef!r} must be one of the regressors {regressors}")
    sample, note = prepare(df, [outcome, *regressors], cluster=cluster)
    clusters = make_clusters(sample, cluster)
    if clusters.n < 2:
        raise NoVariationError(f"only one cluster in {cluster!r}")
    X = sm.add_constant(sample[regressors].to_numpy(float), has_constant="add")
    j = 1 + list(regressors).index(coef)
    y = sample[outcome].to_numpy(float)
    wild = WildOptions(reps, weights, seed)
    estimate, se, *_ = ols_effect(y, X, j, clusters, "cluster", alpha)
    p_value, ci_low, ci_high = wild_bootstrap_arrays(y, X, clusters.codes, j, wild, alpha, null)
    binary = set(pd.unique(sample[coef])) <= {0, 1}
    return EffectEstimate(
        "ols_wild_cluster_bootstrap", f"coefficient on {coef} (H0: = {null:g})", outcome,
        coef, estimate, se, ci_low, ci_high, p_value, len(sample),
        int(sample[coef].sum()) if binary else None, clusters.n, cluster,
        wild_label(wild, clusters), note, alpha)


# --------------------------------------------------------------------------- logit AME
def logit_average_marginal_effect(df, outcome, treatment, covariates, cluster=None, *,
                                  estimand="ATE", alpha=0.05, se="auto", wild=WildOptions()):
    """Average marginal effect of a binary treatment from a logit model.

    ``AME = mean_i [Lambda(x_i1' b) - Lambda(x_i0' b)]`` over all rows (ATE) or the
    treated (ATT), with ``x_i1``/``x_i0`` setting D to 1/0. Delta-method SE
    ``sqrt(g' V g)``, ``g = mean[lambda(x_i1'b) x_i1 - lambda(x_i0'b) x_i0]``, holding the
    covariates at their sample values (as statsmodels ``get_margeff`` and Stata
    ``margins``). ``V`` is statsmodels' HC0 sandwich, or its cluster-robust covariance
    with the G/(G-1)(N-1)/(N-K) correction when ``cluster`` is given.

    Parameters
    ----------
    outcome : str
        A 0/1 column (else :class:`NonBinaryOutcomeError`).
    estimand : {"ATE", "ATT"}
        Average the discrete change over all rows or over the treated.
    se : {"auto", "analytic", "multiplier"}
        With ``cluster`` and fewer than :data:`WILD_CLUSTER_THRESHOLD` clusters ("auto") or
        always ("multiplier"): the p-value and interval of the cluster multiplier bootstrap-t
        on the AME's influence function, which also counts the sampling of the covariates
        averaged over; its SE is that influence function's. Otherwise the delta method.
    wild : WildOptions
        Draws, weights and seed of the multiplier bootstrap.

    Returns
    -------
    EffectEstimate
        ``method="logit_average_marginal_effect"``; the estimate is a difference in
        probabilities.
    """
    covariates = list(covariates)
    sample, note = prepare(df, [outcome, treatment, *covariates], treatment=treatment,
                           cluster=cluster, binary_outcome=outcome)
    clusters = make_clusters(sample, cluster)
    target = _target(sample, treatment, estimand).astype(bool)
    X = sm.add_constant(sample[[treatment, *covariates]].to_numpy(float), has_constant="add")
    fit = _fit_logit(sample[outcome].to_numpy(float), X, clusters)
    x1, x0 = X[target].copy(), X[target].copy()
    x1[:, 1], x0[:, 1] = 1.0, 0.0
    p1, p0 = fit.predict(x1), fit.predict(x0)
    gradient = ((p1 * (1 - p1))[:, None] * x1 - (p0 * (1 - p0))[:, None] * x0).mean(axis=0)
    estimate = float(np.mean(p1 - p0))
    if resolve_influence_se_mode(se, clusters) == "multiplier":
        influence = _ame_influence(fit, X, sample[outcome].to_numpy(float), target,
                                   p1 - p0, gradient)
        result = (estimate, *influence_inference(estimate, influence, clusters, "multiplier",
                                                 wild, alpha))
        return _record("logit_average_marginal_effect", estimand, outcome, treatment, sample,
                       clusters, result, note, alpha)
    se = float(np.sqrt(gradient @ fit.cov_params() @ gradient))
    label = (f"delta method, logit cluster-robust by {clusters.name}, t(G-1)" if clusters
             else "delta method, logit HC0")
    result = (estimate, se, *inference(estimate, se, alpha, _cluster_df(clusters)), label)
    return _record("logit_average_marginal_effect", estimand, outcome, treatment, sample,
                   clusters, result, note, alpha)


def _ame_influence(fit, X, y, target, changes, gradient):
    """Per-row influence function of a logit AME over ``target`` rows: the averaging over the
    target (``target_i (change_i - AME) / P(target)``) plus the coefficients' own,
    ``gradient' (E[p(1-p)xx'])^-1 x_i (y_i - p_i)`` (Newey & McFadden 1994, sec. 6)."""
    p = fit.predict(X)
    info = X.T @ (X * (p * (1 - p))[:, None]) / len(y)
    coefficients = (X * (y - p)[:, None]) @ np.linalg.solve(info, gradient)
    averaging = np.zeros(len(y))
    averaging[target] = (changes - changes.mean()) / target.mean()
    return averaging + coefficients


def _fit_logit(y, X, clusters=None):
    """statsmodels logit; failure to converge raises :class:`SingularDesignError`."""
    cov = ({"cov_type": "HC0"} if clusters is None else
           {"cov_type": "cluster", "cov_kwds": {"groups": clusters.codes}})
    message = "logit did not converge (perfect separation or collinear covariates?)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # replaced by the check below
            fit = sm.Logit(y, X).fit(disp=0, **cov)
    except (np.linalg.LinAlgError, PerfectSeparationError) as error:
        raise SingularDesignError(message) from error
    if not fit.mle_retvals.get("converged", True) or not np.all(np.isfinite(fit.params)):
        raise SingularDesignError(message)
    return fit


def _cluster_df(clusters) -> int | None:
    """Degrees of freedom G-1 for clustered intervals.

    With few clusters the normal critical value gives intervals that are too narrow (a Monte
    Carlo with 8 counties covered 90%, not 95%); t(G-1) is the usual correction and tends to
    the normal as clusters grow.
    """
    return clusters.n - 1 if clusters else None


# Propensity-score estimators live in their own module; imported last because they build on
# the records and helpers above. Re-exported so `effects.aipw` etc. keep working.
from analysis.estimators.weighting import (  # noqa: E402
    OverlapDiagnostics, Propensity, aipw, covariate_balance, fit_propensity, ipw_att,
    overlap_diagnostics,
)
