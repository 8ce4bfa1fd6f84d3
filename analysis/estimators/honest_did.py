"""Robust confidence intervals when parallel trends may fail (Rambachan & Roth 2023).

A port of the R package ``HonestDiD`` (Rambachan & Roth; GitHub asheshrambachan/HonestDiD)
for the two restrictions on the post-program violation of parallel trends ``delta_post`` that
the project reports, each with its *breakdown value*: the smallest restriction parameter at
which the robust 95% interval includes zero.

* Relative magnitudes, Delta^RM(Mbar): no post-program change in the violation between
  consecutive periods is larger than ``Mbar`` times the largest such change before the program.
  Intervals are HonestDiD's default "C-LF": the conditional test of Andrews, Roth & Pakes
  (ARP, 2023) with the least-favourable first stage, inverted over a grid of the target, for
  each (period s of the largest pre-program change, its sign) and united
  (``computeConditionalCS_DeltaRM``). Coverage of at least 1 - alpha holds uniformly over
  Delta^RM(Mbar) (the ARP hybrid test has size alpha for each (s, sign), and Delta^RM is the
  union of those polyhedra, so the union of the sets covers whichever piece holds).
* Smoothness, Delta^SD(M): the slope of the violation changes by at most ``M`` between
  consecutive periods; M = 0 is a linear extrapolation of the pre-trend. Intervals are the
  optimal fixed-length confidence intervals of Armstrong & Kolesar (2018; HonestDiD
  ``findOptimalFLCI``), with coverage of at least 1 - alpha over Delta^SD(M) (exactly 1 - alpha
  at the worst-case violation).

Conventions: ``betahat`` holds the event-study coefficients ordered by event time, the
``n_pre`` pre-program ones first and then the ``n_post`` post-program ones, the reference period
(normalised to zero, between them) left out; periods are consecutive and equally spaced.
``sigma`` is their covariance. The target is ``theta = l_vec' tau_post`` (default: the first
post-program period). All inference is normal, as in HonestDiD.

Known differences from HonestDiD, all numerical, none in what is estimated:

* The ARP linear programs are solved through the vertices of their dual polytope, which
  under Delta^RM are known in closed form (:func:`_rm_dual_vertices`). This gives the test
  statistic, the optimal dual vertex and the conditioning interval [v_lo, v_up] exactly, where
  HonestDiD solves the LP numerically and finds v_lo, v_up by bisection to 1e-6 (its "dual
  approach"; without degeneracy its "primal approach" conditions on the same event).
* The least-favourable critical value is simulated with numpy's generator (default 10,000
  draws; HonestDiD draws 1,000 with R's), so endpoints can differ by a grid step where the
  first stage binds. The FLCI's folded-normal quantile is solved exactly (HonestDiD
  simulates 10^6 draws) and its optimal bias-variance trade-off is found on the same frontier
  parameterised by the bias bound instead of the standard deviation.

References
----------
Rambachan, A. & Roth, J. (2023). A more credible approach to parallel trends. *Review of
Economic Studies* 90(5), 2555-2591. doi:10.1093/restud/rdad018

Andrews, I., Roth, J. & Pakes, A. (2023). Inference for linear conditional moment
inequalities. *Review of Economic Studies*. doi:10.1093/restud/rdad004

Armstrong, T. B. & Kolesar, M. (2018). Optimal inference in a class of regression models.
*Econometrica* 86(2), 655-683. doi:10.3982/ECTA14434
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.estimators.exceptions import InvalidOptionError

DEFAULT_MBARS = (0.0, 0.5, 1.0, 1.5, 2.0)
KAPPA_SHARE = 0.1
"""Size of the least-favourable first stage as a share of alpha (HonestDiD: alpha / 10)."""


@dataclass(frozen=True)
class RobustIntervals:
    """Robust intervals over a grid of the restriction parameter, and its breakdown value.

    ``table`` has columns ``restriction_value`` (Mbar or M), ``lower`` and ``upper``; an empty
    confidence set (the data reject the restriction) has NaN bounds, an interval still open at
    the end of the widest grid tried has infinite bounds. ``breakdown`` is the smallest
    parameter value at which the robust interval includes zero: 0.0 when the conventional
    interval already does, ``inf`` when even ``search_limit`` does not.
    """

    restriction: str
    method: str
    table: pd.DataFrame
    original: tuple[float, float]
    breakdown: float
    search_limit: float
    alpha: float


@dataclass(frozen=True)
class FixedLengthInterval:
    """An FLCI ``estimate +- half_length``; ``weights`` (pre then post) give
    ``estimate = weights' betahat``."""

    lower: float
    upper: float
    estimate: float
    half_length: float
    weights: np.ndarray
    m: float


# --------------------------------------------------------------------------- inputs
def _checked(betahat, sigma, n_pre, n_post, l_vec):
    betahat = np.asarray(betahat, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float)
    n_periods = n_pre + n_post
    if n_pre < 1 or n_post < 1:
        raise InvalidOptionError(f"need at least one pre- and one post-program coefficient; "
                                 f"got n_pre={n_pre}, n_post={n_post}")
    if betahat.size != n_periods or sigma.shape != (n_periods, n_periods):
        raise InvalidOptionError(
            f"betahat ({betahat.size}) and sigma {sigma.shape} must both have n_pre + n_post = "
            f"{n_periods} entries per side (leave the reference period out)")
    if not (np.isfinite(betahat).all() and np.isfinite(sigma).all()):
        raise InvalidOptionError("betahat and sigma must be finite: every event time between "
                                 "the first and the last needs an estimate")
    scale = np.abs(sigma).max()
    if np.abs(sigma - sigma.T).max() > 1e-8 * scale:
        raise InvalidOptionError("sigma must be symmetric")
    if np.linalg.eigvalsh(sigma).min() < -1e-8 * scale or np.diag(sigma).min() <= 0:
        raise InvalidOptionError("sigma must be positive semi-definite with positive variances")
    if l_vec is None:
        l_vec = np.eye(n_post)[0]
    l_vec = np.asarray(l_vec, dtype=float).ravel()
    if l_vec.size != n_post or not np.any(l_vec):
        raise InvalidOptionError(f"l_vec needs {n_post} weights, not all zero; got {l_vec}")
    return betahat, (sigma + sigma.T) / 2, l_vec


def _check_alpha(alpha):
    if not 0 < alpha < 1:
        raise InvalidOptionError(f"alpha must lie in (0, 1); got {alpha}")


def original_interval(betahat, sigma, n_pre, n_post, l_vec=None, alpha=0.05):
    """Conventional confidence interval for ``l_vec' beta_post`` (parallel trends exact).

    HonestDiD ``constructOriginalCS``: ``l' beta_post +- z_{1-alpha/2} sqrt(l' Sigma_post l)``.

    Returns
    -------
    (float, float)
        Lower and upper bound.
    """
    betahat, sigma, l_vec = _checked(betahat, sigma, n_pre, n_post, l_vec)
    _check_alpha(alpha)
    post = slice(n_pre, n_pre + n_post)
    estimate = float(l_vec @ betahat[post])
    se = math.sqrt(l_vec @ sigma[post, post] @ l_vec)
    z = stats.norm.ppf(1 - alpha / 2)
    return estimate - z * se, estimate + z * se


# --------------------------------------------------------------------------- Delta^RM
def _rm_constraints(n_pre, n_post, mbar, s, max_positive):
    """Rows ``A`` of ``A delta <= 0`` for Delta^RM_{s,sign}(Mbar), HonestDiD ``.create_A_RM``.

    Columns are delta_{-n_pre..-1} and delta_{1..n_post} (delta_0 = 0 dropped); each row bounds
    one first difference by Mbar (1 before the program) times the pre-program difference
    ending at period ``s`` (s = -(n_pre-1)..0), with the sign given by ``max_positive``.
    """
    n_periods = n_pre + n_post
    differences = np.zeros((n_periods, n_periods + 1))
    for row in range(n_periods):
        differences[row, row:row + 2] = (-1.0, 1.0)
    largest = np.zeros(n_periods + 1)
    largest[n_pre + s - 1:n_pre + s + 1] = (-1.0, 1.0)
    if not max_positive:
        largest = -largest
    bound = np.vstack([np.tile(largest, (n_pre, 1)), np.tile(mbar * largest, (n_post, 1))])
    rows = np.vstack([differences - bound, -differences - bound])
    rows = rows[(rows ** 2).sum(axis=1) > 1e-10]
    return np.delete(rows, n_pre, axis=1)


def _rm_post_rows(n_pre, n_post, mbar, s, max_positive):
    """The rows involving post-program periods, the only ones HonestDiD's test uses."""
    rows = _rm_constraints(n_pre, n_post, mbar, s, max_positive)
    return rows[np.any(rows[:, n_pre:] != 0, axis=1)]


def _rm_cases(n_pre):
    return [(s, positive) for s in range(-(n_pre - 1), 1) for positive in (True, False)]


def relative_magnitudes_identified_set(betahat, n_pre, n_post, mbar, l_vec=None):
    """Identified set of ``theta = l' tau_post`` under Delta^RM(Mbar), treating betahat as known.

    HonestDiD ``.compute_IDset_DeltaRM`` bounds ``l' delta_post`` by linear programming for
    each (s, sign) with ``delta_pre = beta_pre`` and takes the hull of the union. Those
    programs have a closed-form solution, used here (``tests/test_honest_did.py`` checks it
    against the linear programs): with the pre-program path fixed, case (s, sign) is feasible
    only if ``sign`` times the pre-program difference ending at s is the largest absolute one,
    ``D``; each post-program first difference is then bounded by ``Mbar D``, and ``l' delta_post``
    weighs the t-th of them by ``c_t = sum_{k >= t} l_k``. So the set is
    ``l' beta_post +- Mbar D sum_t |c_t|``; with one pre- and one post-program period,
    ``beta_post +- Mbar |beta_pre|``.

    Returns
    -------
    (float, float)
        Lower and upper bound.
    """
    betahat, _, l_vec = _checked(betahat, np.eye(n_pre + n_post), n_pre, n_post, l_vec)
    if not mbar >= 0 or math.isinf(mbar):  # also refuses NaN
        raise InvalidOptionError(f"Mbar must be a non-negative number; got {mbar}")
    estimate = float(l_vec @ betahat[n_pre:])
    # delta_{-n_pre}..delta_{-1}, then delta_0 = 0 (the reference period)
    largest_pre_difference = float(np.abs(np.diff(np.append(betahat[:n_pre], 0.0))).max())
    weights = np.cumsum(l_vec[::-1])[::-1]
    half_width = mbar * largest_pre_difference * float(np.abs(weights).sum())
    return estimate - half_width, estimate + half_width


def _normal_draws(covariance, sims, seed):
    values, vectors = np.linalg.eigh(covariance)
    root = vectors * np.sqrt(np.clip(values, 0, None))
    return _standard_normals(sims, len(covariance), seed) @ root.T


@lru_cache(maxsize=16)
def _standard_normals(sims, dimension, seed):
    """The seed's standard normal draws, kept: a breakdown search asks for the same ones at
    every candidate bound (3,000 times a fleet), and drawing them is most of the cost."""
    draws = np.random.default_rng(seed).standard_normal((sims, dimension))
    draws.flags.writeable = False
    return draws


def _truncated_normal_quantile(p, lower, upper):
    """``p`` quantile of N(0, 1) truncated to [lower, upper] (NaN when the range is empty)."""
    lower, upper = np.broadcast_arrays(np.asarray(lower, float), np.asarray(upper, float))
    out = np.full(lower.shape, np.nan)
    valid = lower < upper
    out[valid] = stats.truncnorm.ppf(p, lower[valid], upper[valid])
    return out


def _test_no_nuisance(y, sigma, rows, alpha, kappa, lf_cv):
    """Rejections of the LF-hybrid test without nuisance parameters, one per row of ``y``.

    HonestDiD ``.testInIdentifiedSet_LF_Hybrid`` with d = 0: condition on the location of the
    largest standardized moment; the second stage is *not* truncated at ``lf_cv``.
    """
    moments = rows / np.sqrt(np.einsum("ij,jk,ik->i", rows, sigma, rows))[:, None]
    values = y @ moments.T
    location = values.argmax(axis=1)
    largest = values[np.arange(len(y)), location]
    reject = largest > lf_cv
    size = (alpha - kappa) / (1 - kappa)
    for j in np.unique(location[~reject]):
        which = (location == j) & ~reject
        gamma = moments[j]
        variance = gamma @ sigma @ gamma
        direction = sigma @ gamma / variance
        others = moments - moments[j]
        slope = others @ direction
        residual = y[which] - np.outer(y[which] @ gamma, direction)
        with np.errstate(divide="ignore", invalid="ignore"):
            cut = -(residual @ others.T) / slope
        v_lo = np.max(np.where(slope < 0, cut, -np.inf), axis=1)
        v_up = np.min(np.where(slope > 0, cut, np.inf), axis=1)
        sd = math.sqrt(variance)
        critical = np.maximum(0, sd * _truncated_normal_quantile(1 - size, v_lo / sd, v_up / sd))
        reject[which] = largest[which] > critical  # NaN critical value: no rejection
    return reject


def _rm_dual_vertices(rows, sd, n_pre, n_post, l_vec):
    """Candidate vertices (a superset of the vertices) of the ARP dual under Delta^RM_{s,sign}.

    The dual is ``max lam' y`` over ``{lam >= 0 : lam' sd = 1, lam' X = 0}``. The post rows
    come in pairs ``+-D`` (D the first differences of tau_post), so with ``lam = (lam+, lam-)``
    the constraint ``lam' X = 0`` says ``lam+ - lam- = t mu``, ``mu = D'^-1 l``. The vertices are
    therefore among: the two "trend" points ``t > 0`` and ``t < 0`` with no mass on both rows
    of a pair, and the n_post "pair" points putting equal weight on both rows of one pair
    (HonestDiD finds the optimal one by solving the LP). Points that are not vertices lie in
    the polytope, so maxima over the list are the LP's; trend points come first so that a tie
    picks a vertex.
    """
    post = rows[:, n_pre:]
    differences = post[:n_post]
    if post.shape[0] != 2 * n_post or not np.allclose(post[n_post:], -differences):
        raise AssertionError("Delta^RM post rows are not +-pairs; the dual vertices below "
                             "do not apply")
    candidates = []
    mu = np.linalg.solve(differences.T, l_vec)
    for direction in (mu, -mu):
        weights = np.concatenate([np.clip(direction, 0, None), np.clip(-direction, 0, None)])
        candidates.append(weights / (weights @ sd))
    pairs = np.zeros((n_post, 2 * n_post))
    period = np.arange(n_post)
    pairs[period, period] = pairs[period, n_post + period] = 1 / (sd[:n_post] + sd[n_post:])
    return np.vstack([np.array(candidates), pairs])


def _test_with_nuisance(y, sigma_y, vertices, alpha, kappa, lf_cv):
    """Rejections of the LF-hybrid ARP test with nuisance parameters, one per row of ``y``.

    HonestDiD ``.lp_conditional_test_fn`` (dual approach, exact): ``eta = max_v v'y`` over the
    dual vertices; condition on the optimal vertex ``gamma`` and the part of y independent of
    ``gamma' y``; the second stage is truncated at ``lf_cv``.
    """
    values = y @ vertices.T
    best = values.argmax(axis=1)
    eta = values[np.arange(len(y)), best]
    gamma = vertices[best]
    variance = np.einsum("gi,ij,gj->g", gamma, sigma_y, gamma)
    degenerate = variance < np.finfo(float).eps
    variance = np.where(degenerate, 1.0, variance)
    direction = gamma @ sigma_y / variance[:, None]
    residual = y - direction * eta[:, None]
    intercept, slope = residual @ vertices.T, direction @ vertices.T - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = -intercept / slope
    v_lo = np.max(np.where(slope < -1e-10, cut, -np.inf), axis=1)
    v_up = np.min(np.where(slope > 1e-10, cut, np.inf), axis=1)
    sd = np.sqrt(variance)
    z_lo, z_up, statistic = v_lo / sd, np.minimum(v_up, lf_cv) / sd, eta / sd
    tolerance = 1e-9 * np.maximum(1.0, np.abs(statistic))
    conditioned = (z_lo <= statistic + tolerance) & (statistic <= z_up + tolerance)
    size = (alpha - kappa) / (1 - kappa)
    critical = np.maximum(0, _truncated_normal_quantile(1 - size, z_lo, z_up))
    reject = conditioned & (statistic > critical)
    reject = np.where(degenerate, eta > 0, reject)
    return reject | (eta > lf_cv)


def _gamma_basis(l_vec):
    """Invertible matrix with first row l' and unit rows (HonestDiD ``.construct_Gamma``)."""
    rows = [l_vec]
    for unit in np.eye(len(l_vec)):
        if len(rows) < len(l_vec) and np.linalg.matrix_rank(np.vstack(rows + [unit])) > len(rows):
            rows.append(unit)
    return np.vstack(rows)


def _largest_in_each_row(values):
    """Each row's largest value. numpy reduces a short last axis slowly; for 10,000 draws of a
    few moments, reducing the transposed copy along its first axis gives the same values ten
    times faster."""
    return np.ascontiguousarray(values.T).max(axis=0)


def _rm_accepts(thetas, betahat, sigma, n_pre, n_post, mbar, l_vec, alpha, lf_sims, seed):
    """Whether each theta lies in the C-LF confidence set under Delta^RM(Mbar)."""
    kappa = KAPPA_SHARE * alpha
    accept = np.zeros(len(thetas), dtype=bool)
    for s, positive in _rm_cases(n_pre):
        rows = _rm_post_rows(n_pre, n_post, mbar, s, positive)
        sigma_y = rows @ sigma @ rows.T
        if n_post == 1:
            draws = _normal_draws(sigma_y, lf_sims, seed) / np.sqrt(np.diag(sigma_y))
            lf_cv = np.quantile(_largest_in_each_row(draws), 1 - kappa)
            y = betahat[None, :] - np.outer(thetas, np.eye(n_pre + 1)[n_pre])
            reject = _test_no_nuisance(y, sigma, rows, alpha, kappa, lf_cv)
        else:
            vertices = _rm_dual_vertices(rows, np.sqrt(np.diag(sigma_y)), n_pre, n_post, l_vec)
            draws = _normal_draws(sigma_y, lf_sims, seed)
            lf_cv = np.quantile(_largest_in_each_row(draws @ vertices.T), 1 - kappa)
            target = rows[:, n_pre:] @ np.linalg.inv(_gamma_basis(l_vec))[:, 0]
            y = (rows @ betahat)[None, :] - np.outer(thetas, target)
            reject = _test_with_nuisance(y, sigma_y, vertices, alpha, kappa, lf_cv)
        accept |= ~reject
    return accept


def _accepted_hull(thetas, accept):
    if not accept.any():
        return math.nan, math.nan
    return float(thetas[accept].min()), float(thetas[accept].max())


def _rm_interval(betahat, sigma, n_pre, n_post, mbar, l_vec, alpha, grid_points, grid_bounds,
                 lf_sims, seed):
    if grid_bounds is not None:
        thetas = np.linspace(*grid_bounds, grid_points)
        accept = _rm_accepts(thetas, betahat, sigma, n_pre, n_post, mbar, l_vec, alpha,
                             lf_sims, seed)
        return _accepted_hull(thetas, accept)
    post = slice(n_pre, n_pre + n_post)
    sd_theta = math.sqrt(l_vec @ sigma[post, post] @ l_vec)
    low, high = relative_magnitudes_identified_set(betahat, n_pre, n_post, mbar, l_vec)
    margin = 20 * sd_theta
    for _ in range(6):
        thetas = np.linspace(low - margin, high + margin, grid_points)
        accept = _rm_accepts(thetas, betahat, sigma, n_pre, n_post, mbar, l_vec, alpha,
                             lf_sims, seed)
        if not (accept[0] or accept[-1]):
            return _accepted_hull(thetas, accept)
        margin *= 4
    lower, upper = _accepted_hull(thetas, accept)
    return (-math.inf if accept[0] else lower), (math.inf if accept[-1] else upper)


def _breakdown(includes_zero, start, limit, tolerance):
    """Smallest parameter in [0, limit] whose interval includes zero, by doubling and bisection.

    Assumes the interval widens with the parameter (the restriction sets are nested); the
    value returned is the upper end of the final bracket, so within ``tolerance`` above.
    """
    if includes_zero(0.0):
        return 0.0
    low, high = 0.0, min(start, limit)
    while not includes_zero(high):
        if high >= limit:
            return math.inf
        low, high = high, min(2 * high, limit)
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (low, middle) if includes_zero(middle) else (middle, high)
    return high


def relative_magnitudes(betahat, sigma, n_pre, n_post, mbars=DEFAULT_MBARS, *, l_vec=None,
                        alpha=0.05, grid_points=1000, grid_bounds=None, lf_sims=10_000, seed=0,
                        mbar_limit=20.0, tolerance=1e-3):
    """Robust "C-LF" intervals under Delta^RM(Mbar) and the breakdown value of Mbar.

    HonestDiD ``createSensitivityResults_relativeMagnitudes`` (method "C-LF", bound "deviation
    from parallel trends"): for each Mbar, the set of theta on a grid not rejected by the
    least-favourable hybrid ARP test (kappa = alpha / 10) for some (s, sign), reported as the
    smallest and largest accepted grid point. Mbar = 1 allows post-program changes in the
    violation as large as the largest pre-program one. With one post-program period and
    Mbar = 0 the interval is ``beta_post +- z_{1 - alpha~/2} se`` with
    ``alpha~ = (alpha - kappa) / (1 - kappa)`` (2.0025 instead of 1.96 at alpha = 0.05).

    Parameters
    ----------
    betahat, sigma : array-like
        Event-study coefficients (pre-program first, reference period left out) and their
        covariance.
    n_pre, n_post : int
        Numbers of pre- and post-program coefficients.
    mbars : sequence of float
        Values of Mbar for the table.
    l_vec : array-like, optional
        Weights defining ``theta = l' tau_post``; default the first post-program period
        (``np.full(n_post, 1 / n_post)`` for the average).
    grid_points : int, default 1000
        Number of theta values tested.
    grid_bounds : (float, float), optional
        Fixed theta grid, as HonestDiD's ``grid.lb``/``grid.ub`` (an accepted end point is
        then reported as the bound). By default the grid spans the identified set +- 20
        standard errors of ``l' beta_post`` and is widened fourfold (up to 5 times) while an
        end point is accepted.
    lf_sims, seed : int
        Draws and seed for the least-favourable critical value.
    mbar_limit, tolerance : float
        Search range and precision of the breakdown value, found by testing theta = 0.

    Returns
    -------
    RobustIntervals

    References
    ----------
    Rambachan & Roth (2023); Andrews, Roth & Pakes (2023); HonestDiD ``deltarm.R``,
    ``arp-nuisance.R``, ``arp-nonuisance.R``.
    """
    betahat, sigma, l_vec = _checked(betahat, sigma, n_pre, n_post, l_vec)
    _check_alpha(alpha)
    if min(mbars, default=0.0) < 0:
        raise InvalidOptionError(f"Mbar values must be non-negative; got {list(mbars)}")
    options = dict(alpha=alpha, lf_sims=lf_sims, seed=seed)
    rows = [(float(mbar), *_rm_interval(betahat, sigma, n_pre, n_post, mbar, l_vec,
                                        grid_points=grid_points, grid_bounds=grid_bounds,
                                        **options))
            for mbar in mbars]

    def includes_zero(mbar):
        return bool(_rm_accepts(np.zeros(1), betahat, sigma, n_pre, n_post, mbar, l_vec,
                                **options)[0])

    return RobustIntervals(
        restriction="relative_magnitudes", method="C-LF",
        table=pd.DataFrame(rows, columns=["restriction_value", "lower", "upper"]),
        original=original_interval(betahat, sigma, n_pre, n_post, l_vec, alpha),
        breakdown=_breakdown(includes_zero, 1.0, mbar_limit, tolerance), search_limit=mbar_limit,
        alpha=alpha)


# --------------------------------------------------------------------------- Delta^SD FLCI
def folded_normal_quantile(p, mean):
    """``p`` quantile of ``|N(mean, 1)|``: the FLCI critical value ``cv_alpha(bias / sd)``.

    Solves ``Phi(c - mean) - Phi(-c - mean) = p`` (Armstrong & Kolesar 2018);
    HonestDiD ``.qfoldednormal`` approximates it with 10^6 simulated draws.
    """
    mean = abs(mean)
    # special.ndtr is the normal cdf without scipy.stats' per-call overhead (this runs in loops).
    return optimize.brentq(lambda c: special.ndtr(c - mean) - special.ndtr(-c - mean) - p,
                           0.0, mean + 10.0, xtol=1e-14)


@dataclass(frozen=True)
class _FlciProblem:
    """Affine estimators ``a' beta`` with ``a = (l_pre, l)`` unbiased under linear trends.

    HonestDiD ``flci.R``: with ``w = cumsum(l_pre)`` and ``c = cumsum(w)``, the constraint is
    ``c_K = sum_t t l_t``; the worst-case bias over Delta^SD(1) is
    ``bias_constant + sum_k |c_k|``; ``l_pre = D D c`` with D the first-difference matrix.
    The free variables are ``c_1..c_{K-1}``; the variance is ``x'Qx + 2 q'x + variance0``.
    """

    to_l_pre: np.ndarray
    l_pre_fixed: np.ndarray
    quadratic: np.ndarray
    linear: np.ndarray
    variance0: float
    bias_fixed: float


def _flci_problem(sigma, n_pre, n_post, l_vec):
    periods = np.arange(1, n_post + 1)
    slope_sum = float(periods @ l_vec)
    bias_constant = sum(abs(np.arange(1, s + 1) @ l_vec[n_post - s:])
                        for s in range(1, n_post + 1)) - slope_sum
    difference = np.eye(n_pre) - np.eye(n_pre, k=-1)
    second = difference @ difference
    to_l_pre, l_pre_fixed = second[:, :-1], second[:, -1] * slope_sum
    pre, post = slice(0, n_pre), slice(n_pre, n_pre + n_post)
    cross = sigma[pre, post] @ l_vec
    shift = sigma[pre, pre] @ l_pre_fixed + cross
    return _FlciProblem(
        to_l_pre=to_l_pre, l_pre_fixed=l_pre_fixed,
        quadratic=to_l_pre.T @ sigma[pre, pre] @ to_l_pre, linear=to_l_pre.T @ shift,
        variance0=float(l_pre_fixed @ sigma[pre, pre] @ l_pre_fixed + 2 * l_pre_fixed @ cross
                        + l_vec @ sigma[post, post] @ l_vec),
        bias_fixed=bias_constant + abs(slope_sum))


def _variance(problem, x):
    return float(x @ problem.quadratic @ x + 2 * problem.linear @ x + problem.variance0)


def _min_variance_within(problem, radius, start):
    """Minimum-variance free weights with ``sum |x| <= radius`` (a QP, solved by SLSQP)."""
    n = len(problem.linear)
    scale = max(problem.variance0, np.abs(problem.quadratic).max(), 1e-300)
    quadratic, linear = problem.quadratic / scale, problem.linear / scale
    constraints = {
        "type": "ineq",
        "fun": lambda z: np.concatenate([z[n:] - z[:n], z[n:] + z[:n], [radius - z[n:].sum()]]),
        "jac": lambda z: np.vstack([np.hstack([-np.eye(n), np.eye(n)]),
                                    np.hstack([np.eye(n), np.eye(n)]),
                                    np.concatenate([np.zeros(n), -np.ones(n)])[None, :]])}
    shrink = min(1.0, radius / max(np.abs(start).sum(), 1e-300))
    z0 = np.concatenate([start * shrink, np.abs(start * shrink)])
    result = optimize.minimize(
        lambda z: z[:n] @ quadratic @ z[:n] + 2 * linear @ z[:n], z0,
        jac=lambda z: np.concatenate([2 * quadratic @ z[:n] + 2 * linear, np.zeros(n)]),
        constraints=[constraints], method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000})
    return result.x[:n]


def smoothness_flci(betahat, sigma, n_pre, n_post, m, l_vec=None, alpha=0.05):
    """Optimal fixed-length confidence interval for theta under Delta^SD(M).

    HonestDiD ``findOptimalFLCI``: among affine estimators ``a' betahat`` unbiased when the
    violation is linear, choose the one minimising the half-length
    ``cv_alpha(M bias / sd) * sd``, where ``bias`` is the worst-case bias over Delta^SD(1) and
    ``cv_alpha(t)`` the 1 - alpha quantile of ``|N(t, 1)|``. At M = 0 this is the
    minimum-variance linear extrapolation of the pre-trend, e.g. ``beta_1 + beta_-1`` with one
    pre- and one post-program period, where the FLCI is ``beta_1 + beta_-1 +- cv(M / sd) sd``.

    Parameters
    ----------
    betahat, sigma, n_pre, n_post, l_vec
        As in :func:`relative_magnitudes`.
    m : float
        Largest change in the slope of the violation between consecutive periods, in the
        outcome's units.

    Returns
    -------
    FixedLengthInterval

    References
    ----------
    Rambachan & Roth (2023); Armstrong & Kolesar (2018); HonestDiD ``flci.R``.
    """
    betahat, sigma, l_vec = _checked(betahat, sigma, n_pre, n_post, l_vec)
    _check_alpha(alpha)
    return _flci(betahat, _Frontier(_flci_problem(sigma, n_pre, n_post, l_vec)), l_vec, m,
                 alpha)


class _Frontier:
    """The minimum-variance free weights of one FLCI problem at each bound on their absolute
    sum, each solved once: a sensitivity table and its breakdown search ask for the same 21
    bounds at every M."""

    def __init__(self, problem):
        self.problem = problem
        self.unconstrained = (np.linalg.lstsq(problem.quadratic, -problem.linear, rcond=None)[0]
                              if len(problem.linear) else np.zeros(0))
        self._solved: dict[float, np.ndarray] = {}

    def weights(self, radius):
        radius = float(radius)
        if radius not in self._solved:
            self._solved[radius] = _min_variance_within(self.problem, radius, self.unconstrained)
        return self._solved[radius]


def _flci(betahat, frontier, l_vec, m, alpha):
    if m < 0:
        raise InvalidOptionError(f"M must be non-negative; got {m}")
    problem = frontier.problem
    free = _optimal_free_weights(frontier, m, alpha)
    half_length = _half_length(problem, free, m, alpha)
    weights = np.concatenate([problem.to_l_pre @ free + problem.l_pre_fixed, l_vec])
    estimate = float(weights @ betahat)
    return FixedLengthInterval(lower=estimate - half_length, upper=estimate + half_length,
                               estimate=estimate, half_length=float(half_length),
                               weights=weights, m=float(m))


def _half_length(problem, free, m, alpha):
    bias = problem.bias_fixed + np.abs(free).sum()
    sd = math.sqrt(max(_variance(problem, free), 0.0))
    return folded_normal_quantile(1 - alpha, m * bias / sd) * sd if sd > 0 else m * bias


def _optimal_free_weights(frontier, m, alpha):
    """Free weights on the bias-variance frontier that minimise the FLCI half-length."""
    problem, unconstrained = frontier.problem, frontier.unconstrained
    if not len(problem.linear):
        return np.zeros(0)
    radius_max = float(np.abs(unconstrained).sum())
    if m == 0 or radius_max == 0:
        return unconstrained
    weights = frontier.weights

    def half_length(radius):
        return _half_length(problem, weights(radius), m, alpha)

    radii = np.linspace(0.0, radius_max, 21)
    best = int(np.argmin([half_length(r) for r in radii]))
    bracket = (radii[max(best - 1, 0)], radii[min(best + 1, len(radii) - 1)])
    refined = optimize.minimize_scalar(half_length, bounds=bracket, method="bounded",
                                       options={"xatol": 1e-10 * max(radius_max, 1e-300)})
    radius = refined.x if refined.fun <= half_length(radii[best]) else radii[best]
    return unconstrained if radius >= radius_max else weights(radius)


def smoothness(betahat, sigma, n_pre, n_post, ms, *, l_vec=None, alpha=0.05, m_limit=None,
               tolerance=None):
    """FLCIs under Delta^SD(M) over a grid of M, and the breakdown value of M.

    HonestDiD ``createSensitivityResults`` with method "FLCI" (its default for Delta^SD).

    Parameters
    ----------
    betahat, sigma, n_pre, n_post, l_vec, alpha
        As in :func:`relative_magnitudes`.
    ms : sequence of float
        Values of M for the table, in the outcome's units.
    m_limit, tolerance : float, optional
        Search range and precision of the breakdown value; default 1,000 and 0.001 times the
        standard error of ``l' beta_post``.

    Returns
    -------
    RobustIntervals
    """
    betahat, sigma, l_vec = _checked(betahat, sigma, n_pre, n_post, l_vec)
    post = slice(n_pre, n_pre + n_post)
    sd_theta = math.sqrt(l_vec @ sigma[post, post] @ l_vec)
    m_limit = 1000 * sd_theta if m_limit is None else m_limit
    tolerance = 1e-3 * sd_theta if tolerance is None else tolerance

    _check_alpha(alpha)
    frontier = _Frontier(_flci_problem(sigma, n_pre, n_post, l_vec))

    def interval(m):
        return _flci(betahat, frontier, l_vec, m, alpha)

    def includes_zero(m):
        flci = interval(m)
        return flci.lower <= 0 <= flci.upper

    rows = [(float(m), (flci := interval(m)).lower, flci.upper) for m in ms]
    return RobustIntervals(
        restriction="smoothness", method="FLCI",
        table=pd.DataFrame(rows, columns=["restriction_value", "lower", "upper"]),
        original=original_interval(betahat, sigma, n_pre, n_post, l_vec, alpha),
        breakdown=_breakdown(includes_zero, sd_theta, m_limit, tolerance), search_limit=m_limit,
        alpha=alpha)
