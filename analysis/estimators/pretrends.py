"""Joint Wald tests that pre-treatment effects are zero: the pre-test of parallel trends.

Under parallel trends every pre-treatment (placebo) effect is zero. R ``did`` (Callaway &
Sant'Anna 2021) reports "P-value for pre-test of parallel trends assumption" for the
pre-treatment group-time effects ATT(g,t), g > t: in ``R/att_gt.R``,
``W = n * t(preatt) %*% solve(preV) %*% preatt`` with ``V = t(inffunc) %*% inffunc / n`` the
analytic influence-function covariance (no G/(G-1) factor), and ``1 - pchisq(W, q)`` with q
the number of pre-treatment cells; cells with zero or missing variance are left out first.

:func:`wald_pretest` is that test for any estimates and covariance: chi-squared(q) by default,
or ``F = W / q`` against F(q, d) when a denominator d is given (d = G - 1 with G clusters, as
the t(G-1) intervals of :mod:`analysis.estimators.inference`; with few clusters the
chi-squared version over-rejects). :func:`group_time_pretest` selects the pre-treatment cells
of :func:`analysis.estimators.staggered.callaway_santanna` (``aggregate="group_time"``,
``return_influence=True``) and builds their covariance with the project's G/(G-1) factor, or
without it (``small_sample_factor=False``) to reproduce R ``did``.

Reference: Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-Differences with multiple
time periods. *Journal of Econometrics* 225(2), 200-230, sec. 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.estimators.effects import EffectEstimate
from analysis.estimators.exceptions import InvalidOptionError, NoVariationError, SingularDesignError
from analysis.estimators.inference import Clusters, influence_scores, score_adjustment


@dataclass(frozen=True)
class PretestResult:
    """A joint Wald test that ``df`` effects are all zero."""

    statistic: float            # W (chi-squared) or W / df (F)
    df: int                     # number of restrictions q
    df_denominator: int | None  # d of F(q, d); None for chi-squared
    p_value: float
    method: str                 # in words, for tables


def wald_pretest(estimates: np.ndarray, covariance: np.ndarray,
                 df_denominator: int | None = None) -> PretestResult:
    """Wald test of ``estimates == 0`` given their ``covariance``.

    ``W = b' V^-1 b``; p-value from chi-squared(q), or from F(q, ``df_denominator``) for
    ``F = W / q``.

    Raises
    ------
    InvalidOptionError
        If the shapes do not match, a value is not finite, the covariance is not symmetric or
        ``df_denominator`` is not a positive integer.
    SingularDesignError
        If the covariance is singular (reciprocal condition number at or below machine
        epsilon, R ``did``'s rule).
    """
    b = np.asarray(estimates, dtype=float)
    v = np.asarray(covariance, dtype=float)
    q = b.size
    if b.ndim != 1 or q == 0 or v.shape != (q, q):
        raise InvalidOptionError(f"need q estimates and a q x q covariance; got {b.shape} "
                                 f"and {v.shape}")
    if not (np.isfinite(b).all() and np.isfinite(v).all()):
        raise InvalidOptionError("estimates and covariance must be finite")
    if not np.allclose(v, v.T, rtol=1e-10, atol=0):
        raise InvalidOptionError("the covariance must be symmetric")
    if df_denominator is not None and (int(df_denominator) != df_denominator
                                       or df_denominator < 1):
        raise InvalidOptionError(f"df_denominator must be a positive integer, "
                                 f"got {df_denominator!r}")
    if 1 / np.linalg.cond(v, 1) <= np.finfo(float).eps:
        raise SingularDesignError("the covariance of the tested effects is singular; drop "
                                  "effects that are linear combinations of others")
    wald = float(b @ np.linalg.solve(v, b))
    if df_denominator is None:
        return PretestResult(wald, q, None, float(stats.chi2.sf(wald, q)),
                             f"Wald test, chi-squared with {q} degrees of freedom")
    d = int(df_denominator)
    return PretestResult(wald / q, q, d, float(stats.f.sf(wald / q, q, d)),
                         f"Wald test, F({q}, {d}) on W/{q}")


def influence_covariance(influence: np.ndarray, clusters: Clusters,
                         small_sample_factor: bool = True) -> np.ndarray:
    """Covariance of estimators from their per-unit influence functions (one per column).

    ``adj * S' S`` with ``S`` the cluster scores of each column
    (:func:`analysis.estimators.inference.influence_scores`) and ``adj`` = G/(G-1), or 1 with
    ``small_sample_factor=False`` (R ``did``'s analytic ``V / n``).
    """
    scores = np.column_stack([influence_scores(influence[:, j], clusters)
                              for j in range(influence.shape[1])])
    adj = score_adjustment(clusters.n) if small_sample_factor else 1.0
    return adj * scores.T @ scores


def pretreatment_cells(records: list[EffectEstimate], influence: np.ndarray) -> list[int]:
    """Positions of the pre-treatment ATT(g,t) (cohort after period) with non-zero variance.

    Zero-variance cells (the reference cell t = g - 1 of a universal base period, which is 0 by
    construction) are left out, as R ``did`` leaves them out.
    """
    if len(records) != influence.shape[1]:
        raise InvalidOptionError(f"{len(records)} records but {influence.shape[1]} influence "
                                 "columns")
    if any(r.cohort is None or r.period is None for r in records):
        raise InvalidOptionError("records must be group-time effects (cohort and period set): "
                                 "use aggregate='group_time'")
    return [i for i, r in enumerate(records)
            if r.cohort > r.period and np.any(influence[:, i] != 0)]


def group_time_pretest(records: list[EffectEstimate], influence: np.ndarray, clusters: Clusters,
                       *, small_sample_factor: bool = True,
                       df_denominator: int | None = None) -> PretestResult:
    """The pre-test of parallel trends on Callaway-Sant'Anna group-time effects.

    ``records, influence, clusters`` as returned by ``callaway_santanna(...,
    aggregate="group_time", return_influence=True)``. With ``small_sample_factor=False`` and
    ``df_denominator=None`` this is R ``did``'s printed pre-test; the project's default keeps
    the G/(G-1) factor of its standard errors, which lowers the statistic by (G-1)/G.

    Raises
    ------
    NoVariationError
        If there is no pre-treatment cell (every cohort treated in the second period).
    """
    pre = pretreatment_cells(records, influence)
    if not pre:
        raise NoVariationError("no pre-treatment group-time effect to test")
    covariance = influence_covariance(influence[:, pre], clusters, small_sample_factor)
    return wald_pretest(np.array([records[i].estimate for i in pre]), covariance,
                        df_denominator)


def score_bootstrap_wald(estimates: np.ndarray, influence: np.ndarray, clusters: Clusters,
                         wild=None) -> PretestResult:
    """Joint test that ``estimates`` are all zero, p-value from the restricted cluster score
    bootstrap: for few clusters, where a Wald test on the cluster covariance with F(q, G-1)
    rejects far too often (over half the time at 5% with eight counties and six placebo
    cells, in the project's Monte Carlo).

    The multi-parameter analogue of :func:`analysis.estimators.inference.multiplier_bootstrap`
    (the restricted wild bootstrap's Wald test, Roodman et al. 2019, sec. 3): the null is
    imposed on each cluster's scores, ``S_c + w_c b`` with ``w_c = n_c / n``; each draw
    perturbs them by multipliers ``v_c``, re-estimates the covariance from its own perturbed
    scores and computes its Wald statistic; the p-value is the share of draws whose statistic
    exceeds the observed ``W = b' V^-1 b``. With one estimate it is the restricted score
    bootstrap's two-sided p-value.

    Raises
    ------
    SingularDesignError
        If the clusters are too few for the number of estimates (q > G - 1).
    """
    from analysis.estimators.inference import WildOptions, wild_draws

    wild = wild or WildOptions()
    b = np.asarray(estimates, dtype=float)
    q, g, n = b.size, clusters.n, influence.shape[0]
    if q > g - 1:
        raise SingularDesignError(f"{q} effects cannot be tested jointly with {g} clusters")
    sums = np.stack([np.bincount(clusters.codes, weights=influence[:, j], minlength=g)
                     for j in range(q)], axis=1) / n
    shares = np.bincount(clusters.codes, minlength=g) / n
    factor = g / (g - 1)
    observed = factor * sums.T @ sums
    wald = float(b @ np.linalg.solve(observed, b))
    restricted = sums + shares[:, None] * b[None, :]
    draws = wild_draws(g, wild).T                                    # B x G
    perturbed = draws[:, :, None] * restricted[None, :, :]           # B x G x q
    total = perturbed.sum(axis=1)                                    # B x q
    centred = perturbed - shares[None, :, None] * total[:, None, :]
    covariance = factor * np.einsum("bgi,bgj->bij", centred, centred)
    boot = np.einsum("bi,bi->b", total, np.linalg.solve(covariance, total[:, :, None])[..., 0])
    p_value = float(np.mean(boot > wald * (1 + 1e-10)))
    return PretestResult(wald, q, None, p_value,
                         f"Wald test, p-value from the cluster score bootstrap with the null "
                         f"imposed ({wild.weights.capitalize()} weights, {wild.reps} draws)")
