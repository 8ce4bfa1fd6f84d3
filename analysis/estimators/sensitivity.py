"""Sensitivity analyses of the headline effects, and one plain sentence for readers about each.

Pure functions of numbers and arrays, independent of the estimators:

* :func:`sup_t_band`: simultaneous confidence band for an event study (Montiel Olea &
  Plagborg-Moller 2019).
* Violations of parallel trends (Rambachan & Roth 2023) live in
  :mod:`analysis.estimators.honest_did` (``relative_magnitudes``, ``smoothness``); their
  sentences are here.
* Unobserved confounding of an OLS effect (Cinelli & Hazlett 2020): partial R2, robustness
  values and benchmark bounds, from the estimate, its classical standard error and the
  residual degrees of freedom (:func:`confounding_sensitivity`), or from a fitted statsmodels
  OLS (:func:`from_statsmodels`).
* ``describe_*``: the reader's sentence for each analysis; numbers are rounded for people and
  an undefined quantity is explained in words, never printed as "nan".

References
----------
Montiel Olea, J. L. & Plagborg-Moller, M. (2019). Simultaneous confidence bands: theory,
implementation, and an application to SVARs. *Journal of Applied Econometrics* 34(1), 1-17.
doi:10.1002/jae.2656

Cinelli, C. & Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable
bias. *Journal of the Royal Statistical Society B* 82(1), 39-67. doi:10.1111/rssb.12348
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analysis.estimators.exceptions import InvalidOptionError, MissingColumnError
from analysis.estimators.honest_did import RobustIntervals


# --------------------------------------------------------------------------- sup-t band
@dataclass(frozen=True)
class SupTBand:
    """Simultaneous band ``estimates +- critical_value * se`` and its pointwise counterpart."""

    critical_value: float
    pointwise_critical_value: float
    lower: np.ndarray
    upper: np.ndarray
    alpha: float


def sup_t_band(estimates, covariance, alpha=0.05, reps=100_000, seed=0, df=None):
    """Sup-t simultaneous confidence band for a vector of estimates (e.g. an event study).

    The critical value is the 1 - alpha quantile of ``max_k |Z_k| / sd_k`` with
    ``Z ~ N(0, covariance)``, simulated (Montiel Olea & Plagborg-Moller 2019), so
    that all K intervals cover at once with probability 1 - alpha. It lies between the
    pointwise value (perfectly correlated estimates) and the Sidak value
    ``Phi^-1((1 + (1 - alpha)^(1/K)) / 2)`` (independent estimates).

    With ``df`` (e.g. clusters - 1) ``Z`` is multivariate t: ``Z / sqrt(W / df)`` with one
    ``W ~ chi2(df)`` shared by all K. That is the exact law of the t statistics when the
    covariance is ``s^2`` times a known matrix and ``df s^2 / sigma^2 ~ chi2(df)`` (normal
    homoskedastic regression): the estimation noise of the covariance is common to all
    coefficients, not independent across them. With few clusters it is the joint counterpart
    of the t(G - 1) pointwise intervals of :mod:`analysis.estimators.inference` (the same
    approximation), and with K = 1 it gives the t(df) quantile.

    Parameters
    ----------
    estimates : array-like, shape (K,)
    covariance : array-like, shape (K, K)
        Positive semi-definite with positive variances (leave the reference period out).
    alpha : float, default 0.05
    reps, seed : int
        Simulation draws and seed; the simulation error of the critical value is about
        ``sqrt(alpha (1 - alpha) / reps) / density`` (about 0.006 at 100,000 draws, K = 1).
    df : int, optional
        Degrees of freedom of the multivariate t; None for the normal.

    Returns
    -------
    SupTBand
    """
    estimates = np.asarray(estimates, dtype=float).ravel()
    covariance = np.asarray(covariance, dtype=float)
    if covariance.shape != (estimates.size, estimates.size) or estimates.size == 0:
        raise InvalidOptionError(f"covariance {covariance.shape} must be K x K for the "
                                 f"{estimates.size} estimates")
    if not 0 < alpha < 1:
        raise InvalidOptionError(f"alpha must lie in (0, 1); got {alpha}")
    if df is not None and df < 1:
        raise InvalidOptionError(f"df must be at least 1; got {df}")
    sd = np.sqrt(np.diag(covariance))
    if not (np.isfinite(sd).all() and (sd > 0).all() and np.isfinite(estimates).all()):
        raise InvalidOptionError("estimates and variances must be finite and variances positive"
                                 " (leave the reference period out)")
    values, vectors = np.linalg.eigh(covariance / np.outer(sd, sd))
    root = vectors * np.sqrt(np.clip(values, 0, None))
    rng = np.random.default_rng(seed)
    draws = rng.standard_normal((reps, estimates.size)) @ root.T
    if df is not None:
        draws /= np.sqrt(rng.chisquare(df, reps) / df)[:, None]
    critical = float(np.quantile(np.abs(draws).max(axis=1), 1 - alpha))
    pointwise = float((stats.t(df) if df is not None else stats.norm()).ppf(1 - alpha / 2))
    return SupTBand(critical_value=critical, pointwise_critical_value=pointwise,
                    lower=estimates - critical * sd, upper=estimates + critical * sd, alpha=alpha)


# --------------------------------------------------------------------------- Cinelli-Hazlett
@dataclass(frozen=True)
class ConfoundingSensitivity:
    """Cinelli-Hazlett sensitivity statistics of one OLS coefficient.

    ``partial_r2`` is R2_{Y~D|X}; ``rv_q`` the robustness value for reducing the estimate by
    ``q`` times its size (q = 1: to zero); ``rv_qa`` the same until the reduced estimate is no
    longer significant at ``alpha``. ``bounds`` (one row per benchmark and multiple kd) or None.
    """

    estimate: float
    se: float
    dof: int
    t_statistic: float
    partial_r2: float
    rv_q: float
    rv_qa: float
    q: float
    alpha: float
    bounds: pd.DataFrame | None


def _check_dof(dof):
    if not dof > 1:
        raise InvalidOptionError(f"residual degrees of freedom must exceed 1; got {dof}")


def partial_r2(t_statistic, dof):
    """Partial R2 of a regressor with the outcome, ``t^2 / (t^2 + dof)`` (Cinelli & Hazlett)."""
    _check_dof(dof)
    return t_statistic ** 2 / (t_statistic ** 2 + dof)


def robustness_value(t_statistic, dof, q=1.0, alpha=None):
    """Robustness value RV_q, or RV_{q,alpha} when ``alpha`` is given (Cinelli & Hazlett 2020).

    The partial R2 that confounders need with both treatment and outcome to reduce the
    estimate by ``100 q`` percent (RV_q) or to make the reduced estimate insignificant at
    ``alpha`` (RV_{q,alpha}): with ``f_q = q |t| / sqrt(dof)`` and the critical
    ``f* = t_{1-alpha/2, dof-1} / sqrt(dof - 1)``, ``d = f_q - f*``,
    ``RV = (sqrt(d^4 + 4 d^2) - d^2) / 2``; 0 when ``d <= 0``; and, as sensemakr
    ``robustness_value``, the extreme value ``(f_q^2 - f*^2) / (1 + f_q^2)`` when the bound on
    the treatment's partial R2 does not bind (``f_q > 1 / f*``).
    """
    _check_dof(dof)
    if q <= 0:
        raise InvalidOptionError(f"q must be positive; got {q}")
    f_q = q * abs(t_statistic) / math.sqrt(dof)
    f_crit = 0.0 if alpha is None else abs(stats.t.ppf(alpha / 2, dof - 1)) / math.sqrt(dof - 1)
    gap = f_q - f_crit
    if gap <= 0:
        return 0.0
    if f_crit > 0 and f_q > 1 / f_crit:
        return (f_q ** 2 - f_crit ** 2) / (1 + f_q ** 2)
    return 2 / (1 + math.sqrt(1 + 4 / gap ** 2))


def confounding_bounds(estimate, se, dof, r2dxj_x, r2yxj_dx, kd=(1, 2, 3), ky=None, alpha=0.05,
                       label="benchmark"):
    """Bounds on confounders ``kd`` (``ky``) times as strong as an observed covariate X_j.

    Cinelli & Hazlett (2020, footnote 10; sensemakr ``ovb_partial_r2_bound``,
    ``adjusted_estimate``, ``adjusted_se``): with the benchmark's partial R2 with the treatment
    ``r2dxj_x`` (from the treatment regression on all other covariates) and with the outcome
    ``r2yxj_dx``, ``R2_{D~Z|X} = kd r2dxj_x / (1 - r2dxj_x)`` and
    ``R2_{Y~Z|D,X} = ((sqrt(ky) + sqrt(eta)) / sqrt(1 - eta))^2 r2yxj_dx / (1 - r2yxj_dx)``
    (capped at 1), ``eta = kd r2dxj_x^2 / ((1 - kd r2dxj_x)(1 - r2dxj_x))``. The estimate is
    moved towards zero by ``sqrt(R2_Y R2_D / (1 - R2_D)) se sqrt(dof)`` and its SE becomes
    ``se sqrt((1 - R2_Y) / (1 - R2_D)) sqrt(dof / (dof - 1))``; intervals use t(dof).

    Returns
    -------
    pandas.DataFrame
        Columns benchmark, kd, ky, r2dz_x, r2yz_dx, adjusted_estimate, adjusted_se,
        adjusted_t, adjusted_lower, adjusted_upper.
    """
    _check_dof(dof)
    kd = np.atleast_1d(np.asarray(kd, dtype=float))
    ky = kd if ky is None else np.broadcast_to(np.asarray(ky, dtype=float), kd.shape)
    if not (0 <= r2dxj_x < 1 and 0 <= r2yxj_dx < 1):
        raise InvalidOptionError("benchmark partial R2 values must lie in [0, 1)")
    r2dz = kd * r2dxj_x / (1 - r2dxj_x)
    impossible = InvalidOptionError(f"kd = {kd.max():g} implies a confounder explaining all of "
                                    f"the treatment; use smaller multiples")
    if np.any(r2dz >= 1):  # implies kd r2dxj_x < 1 below
        raise impossible
    eta = kd * r2dxj_x ** 2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if np.any(eta >= 1):
        raise impossible
    r2yz = np.minimum(((np.sqrt(ky) + np.sqrt(eta)) / np.sqrt(1 - eta)) ** 2
                      * r2yxj_dx / (1 - r2yxj_dx), 1.0)
    bias = np.sqrt(r2yz * r2dz / (1 - r2dz)) * se * math.sqrt(dof)
    adjusted = np.where(estimate < 0, -1, 1) * (abs(estimate) - bias)
    adjusted_se = np.sqrt((1 - r2yz) / (1 - r2dz)) * se * math.sqrt(dof / (dof - 1))
    t_crit = stats.t.ppf(1 - alpha / 2, dof)
    return pd.DataFrame({
        "benchmark": label, "kd": kd, "ky": ky, "r2dz_x": r2dz, "r2yz_dx": r2yz,
        "adjusted_estimate": adjusted, "adjusted_se": adjusted_se,
        "adjusted_t": adjusted / adjusted_se, "adjusted_lower": adjusted - t_crit * adjusted_se,
        "adjusted_upper": adjusted + t_crit * adjusted_se})


def confounding_sensitivity(estimate, se, dof, q=1.0, alpha=0.05, benchmarks=None,
                            kd=(1, 2, 3)):
    """Cinelli-Hazlett sensitivity of an OLS coefficient to unobserved confounding.

    Parameters
    ----------
    estimate, se : float
        The treatment coefficient and its classical (homoskedastic) OLS standard error; the
        partial R2 identity ``t^2 / (t^2 + dof)`` holds only for that SE.
    dof : int
        Residual degrees of freedom of the regression.
    q, alpha : float
        Share of the estimate to be removed and significance level of RV_{q,alpha}.
    benchmarks : mapping of str to (float, float), optional
        Benchmark covariates: label -> (partial R2 with the treatment, partial R2 with the
        outcome), see :func:`confounding_bounds`.
    kd : sequence of float
        Multiples of each benchmark's strength.

    Returns
    -------
    ConfoundingSensitivity

    References
    ----------
    Cinelli & Hazlett (2020); R package ``sensemakr`` (``sensemakr.numeric``).
    """
    if not (math.isfinite(estimate) and se > 0):
        raise InvalidOptionError(f"need a finite estimate and a positive SE; got {estimate}, {se}")
    t_statistic = estimate / se
    bounds = None
    if benchmarks:
        bounds = pd.concat([confounding_bounds(estimate, se, dof, r2d, r2y, kd=kd, alpha=alpha,
                                               label=label)
                            for label, (r2d, r2y) in benchmarks.items()], ignore_index=True)
    return ConfoundingSensitivity(
        estimate=float(estimate), se=float(se), dof=int(dof), t_statistic=float(t_statistic),
        partial_r2=float(partial_r2(t_statistic, dof)),
        rv_q=robustness_value(t_statistic, dof, q),
        rv_qa=robustness_value(t_statistic, dof, q, alpha),
        q=float(q), alpha=float(alpha), bounds=bounds)


def _classical_se(result, index):
    """Classical OLS SE (``scale`` and ``normalized_cov_params`` ignore the fit's cov_type)."""
    return math.sqrt(result.scale * np.asarray(result.normalized_cov_params)[index, index])


def _classical_t(result, index):
    return np.asarray(result.params)[index] / _classical_se(result, index)


def from_statsmodels(result, treatment, benchmark_covariates: Sequence[str] = (), kd=(1, 2, 3),
                     q=1.0, alpha=0.05):
    """:func:`confounding_sensitivity` of a fitted statsmodels OLS (as sensemakr for ``lm``).

    Uses the classical standard error whatever ``cov_type`` the model was fitted with. A
    benchmark's partial R2 with the outcome comes from its t statistic in ``result``; with the
    treatment, from its t statistic in the OLS of the treatment on all other regressors.

    Parameters
    ----------
    result : statsmodels RegressionResults
        From ``sm.OLS(...).fit()`` or ``smf.ols(...).fit()``, with named regressors.
    treatment : str
        Name of the treatment regressor.
    benchmark_covariates : sequence of str
        Names of observed regressors to benchmark confounders against.
    """
    if type(result.model) is not sm.OLS:
        raise InvalidOptionError(f"need an OLS fit; got {type(result.model).__name__}")
    names = list(result.model.exog_names)
    for name in [treatment, *benchmark_covariates]:
        if name not in names:
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            raise MissingColumnError(f"{name!r} is not a regressor of the model ({shown})")
    position = names.index(treatment)
    estimate = float(np.asarray(result.params)[position])
    benchmarks = {}
    if benchmark_covariates:
        exog = pd.DataFrame(result.model.exog, columns=names)
        treatment_fit = sm.OLS(exog[treatment], exog.drop(columns=treatment)).fit()
        others = [n for n in names if n != treatment]
        for name in benchmark_covariates:
            benchmarks[name] = (
                partial_r2(_classical_t(treatment_fit, others.index(name)),
                           treatment_fit.df_resid),
                partial_r2(_classical_t(result, names.index(name)), result.df_resid))
    return confounding_sensitivity(estimate, _classical_se(result, position), result.df_resid,
                                   q=q, alpha=alpha, benchmarks=benchmarks, kd=kd)


# --------------------------------------------------------------------------- sentences
def _p_text(p_value):
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {p_value:.3f}" if p_value < 0.01 else f"p = {p_value:.2f}"


def _percent(share):
    if share <= 0:
        return "0%"
    if share < 0.001:
        return "less than 0.1%"
    return f"{100 * share:.1f}%" if share < 0.1 else f"{100 * share:.0f}%"


def _amount(value):
    """Two significant digits, thousands separators, no exponent: 0.0031, 0.22, 1,300."""
    if value == 0:
        return "0"
    digits = 1 - int(math.floor(math.log10(abs(value))))
    return f"{round(value, digits):,.{max(digits, 0)}f}"


def _level(alpha):
    return f"{100 * (1 - alpha):g}%"


def _listing(items):
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_pretrend_test(p_value, n_pre=None, alpha=0.05, reason=None):
    """One sentence on the joint test that all pre-program event-study coefficients are zero.

    E.g. "Parallel trends before the program cannot be rejected (joint test p = 0.41)."
    A missing p-value is explained by ``reason`` (words, e.g. "the covariance of the
    pre-program estimates is singular") or, without one, said to be unavailable.
    """
    if n_pre == 0:
        return ("There are no event times before the program, so parallel trends before it "
                "cannot be checked.")
    if p_value is None or not math.isfinite(p_value):
        why = f": {reason}" if reason else " from the estimates available"
        return f"The joint test of parallel trends before the program could not be computed{why}."
    if p_value >= alpha:
        return (f"Parallel trends before the program cannot be rejected "
                f"(joint test {_p_text(p_value)}).")
    return (f"Trends before the program differ between participants and comparison units "
            f"(joint test {_p_text(p_value)}), so the parallel-trends assumption is in doubt.")


def describe_sup_t_band(band: SupTBand, event_times=None):
    """One sentence on a simultaneous band: how much wider it is, and where it excludes zero.

    ``event_times`` (labels in the order of the estimates) name the event times excluding zero.
    """
    n = band.lower.size
    excludes = (band.lower > 0) | (band.upper < 0)
    ratio = band.critical_value / band.pointwise_critical_value
    where = "includes zero at every one of them"
    if excludes.any():
        where = f"excludes zero at {int(excludes.sum())} of them"
        if event_times is not None:
            named = [label for label, out in zip(event_times, excludes) if out]
            where += f" ({'event time' if len(named) == 1 else 'event times'} {_listing(named)})"
    return (f"The band that covers all {n} event-time estimates at once with "
            f"{_level(band.alpha)} probability is {ratio:.1f} times as wide as the pointwise "
            f"intervals and {where}.")


def _check_restriction(result: RobustIntervals, restriction):
    if result.restriction != restriction:
        raise InvalidOptionError(f"expected {restriction} results; got {result.restriction}")


def describe_relative_magnitudes(result: RobustIntervals):
    """One sentence on the breakdown value of Mbar (Rambachan & Roth relative magnitudes).

    E.g. "The effect stays distinguishable from zero unless period-to-period departures from
    parallel trends after the program exceed 1.6 times the largest such departure before it."
    """
    _check_restriction(result, "relative_magnitudes")
    breakdown = result.breakdown
    if breakdown == 0:
        return ("The effect is not distinguishable from zero even if trends after the program "
                "stay exactly parallel.")
    if math.isinf(breakdown):
        return (f"The effect stays distinguishable from zero even if period-to-period departures"
                f" from parallel trends after the program were {_amount(result.search_limit)} "
                f"times the largest such departure before it (the largest multiple checked).")
    size = (f"{100 * breakdown:.0f}% of" if breakdown < 1 else f"{breakdown:.1f} times")
    return (f"The effect stays distinguishable from zero unless period-to-period departures from"
            f" parallel trends after the program exceed {size} the largest such departure "
            f"before it.")


def describe_smoothness(result: RobustIntervals, unit="", scale=1.0):
    """One sentence on the breakdown value of M (Rambachan & Roth smoothness restriction).

    ``scale`` and ``unit`` express M in the reader's unit (e.g. 100 and "percentage points").
    """
    _check_restriction(result, "smoothness")
    suffix = f" {unit}" if unit else ""
    if result.breakdown == 0:
        return ("The effect is not distinguishable from zero even if the pre-program gap in "
                "trends between participants and comparison units continued in a straight line.")
    if math.isinf(result.breakdown):
        return (f"The effect stays distinguishable from zero even if the gap in trends between "
                f"participants and comparison units bent away from a straight line by "
                f"{_amount(result.search_limit * scale)}{suffix} per period (the largest bend "
                f"checked).")
    return (f"The effect stays distinguishable from zero unless the gap in trends between "
            f"participants and comparison units bends away from a straight-line extension of "
            f"its pre-program path by more than {_amount(result.breakdown * scale)}{suffix} "
            f"per period.")


def describe_confounding(result: ConfoundingSensitivity):
    """One sentence on the robustness values of an effect to unobserved confounding.

    E.g. "An unobserved confounder would have to explain 14% of the residual variance of both
    the program and the outcome to remove the estimated effect, and 7.6% to make it
    statistically indistinguishable from zero."
    """
    who = "the residual variance of both the program and the outcome"
    if result.estimate == 0:
        return "The estimated effect is zero, so there is no effect for a confounder to remove."
    removal = "remove the estimated effect" if result.q == 1 else (
        f"remove {100 * result.q:g}% of the estimated effect")
    if result.rv_qa == 0:
        return (f"The estimated effect is not statistically distinguishable from zero even "
                f"without confounding; an unobserved confounder explaining {_percent(result.rv_q)}"
                f" of {who} would {removal}.")
    return (f"An unobserved confounder would have to explain {_percent(result.rv_q)} of {who} to "
            f"{removal}, and {_percent(result.rv_qa)} to make it statistically "
            f"indistinguishable from zero.")


def describe_confounding_benchmark(result: ConfoundingSensitivity, benchmark: str):
    """One sentence comparing confounders with an observed covariate (kd multiples).

    E.g. "Confounders up to 2 times as strong as female (in explaining the program and the
    outcome) would leave the effect distinguishable from zero, but 3 times as strong would
    not." Needs ``result.bounds`` for ``benchmark`` (see :func:`confounding_sensitivity`).
    """
    bounds = None if result.bounds is None else result.bounds[
        result.bounds["benchmark"] == benchmark].sort_values("kd")
    if bounds is None or bounds.empty:
        raise InvalidOptionError(f"no bounds for benchmark {benchmark!r}")
    if result.rv_qa == 0:
        return ("The effect is not statistically distinguishable from zero even without "
                "confounding, so no benchmark comparison is needed.")
    sign = 1 if result.estimate > 0 else -1
    survives = ((bounds["adjusted_lower"] > 0) if sign > 0 else (bounds["adjusted_upper"] < 0))
    strength = f"as strong as {benchmark} (in explaining the program and the outcome)"
    kds = [f"{k:g}" for k in bounds["kd"]]
    def multiple(k, lead="up to "):  # "as strong as", never "1 times as strong as"
        return f"{lead}{k} times " if k != "1" else ""
    if survives.all():
        return (f"Confounders {multiple(kds[-1])}{strength} would leave the effect "
                f"distinguishable from zero.")
    first_fail = int(np.argmin(survives.to_numpy()))
    if first_fail == 0:
        return (f"Confounders {multiple(kds[0], '')}{strength} would already make the effect "
                f"indistinguishable from zero.")
    return (f"Confounders {multiple(kds[first_fail - 1])}{strength} would leave the effect "
            f"distinguishable from zero, but {kds[first_fail]} times as strong would not.")
