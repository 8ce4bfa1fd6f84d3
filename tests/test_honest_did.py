"""Rambachan-Roth robust intervals: closed forms, and HonestDiD's published Benzarti-Carloni runs.

Reference values
----------------
``BC_BETA`` and ``BC_SIGMA`` are the Benzarti & Carloni (2019) event study (4 pre- and 4
post-program coefficients) shipped as text with the Stata port of HonestDiD:
github.com/mcaceresb/stata-honestdid, ``src/mata/utilities.mata`` (``_honestExampleBCBeta``,
``_honestExampleBCSigma``), commit f56934c399d357fac9f3036fc15ce3adf8968597. The printed
intervals come from the same commit:

* ``test/unit-tests-consistency.md``, columns "Stata lb/ub", computed by the Stata port from
  these matrices (rows agree with the R package to the printed digits);
* ``test/unit-tests-consistency.R.log``, printed by R HonestDiD on its ``BCdata_EventStudy``
  (the same numbers; used where the markdown has no Stata column).

Printed values are kept as strings: a value matches when it agrees to the printed digits
(half a unit in the last place). Grid-based intervals (C-LF) are reported on the same grid as
HonestDiD, so they match exactly where both accept the same grid points; the fine-grid case
allows one grid step, the spread between HonestDiD's own runs.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from analysis.estimators import honest_did as hd
from analysis.estimators.exceptions import InvalidOptionError

BC_BETA = np.array([0.006696352, 0.029345034, -0.006472972, 0.073014989,
                    0.195961118, 0.312063903, 0.239541546, 0.126042500])
BC_SIGMA = np.array([
    [8.428358e-04, 4.768687e-04, 2.618051e-04, 0.0002354220, 0.0001676371, 0.0001128708,
     1.992816e-05, -1.368265e-04],
    [4.768687e-04, 6.425420e-04, 3.987425e-04, 0.0002435515, 0.0002201960, 0.0001804591,
     3.843765e-05, -2.960422e-05],
    [2.618051e-04, 3.987425e-04, 5.229950e-04, 0.0002117686, 0.0001840722, 0.0001458528,
     7.005197e-05, 5.952995e-05],
    [2.354220e-04, 2.435515e-04, 2.117686e-04, 0.0003089595, 0.0001197866, 0.0001334081,
     1.016335e-04, 1.079052e-04],
    [1.676371e-04, 2.201960e-04, 1.840722e-04, 0.0001197866, 0.0003599704, 0.0002478819,
     1.749579e-04, 1.654257e-04],
    [1.128708e-04, 1.804591e-04, 1.458528e-04, 0.0001334081, 0.0002478819, 0.0004263950,
     2.171438e-04, 2.892748e-04],
    [1.992816e-05, 3.843765e-05, 7.005197e-05, 0.0001016335, 0.0001749579, 0.0002171438,
     4.886698e-04, 3.805322e-04],
    [-1.368265e-04, -2.960422e-05, 5.952995e-05, 0.0001079052, 0.0001654257, 0.0002892748,
     3.805322e-04, 7.617394e-04]])
FIRST, THIRD, AVERAGE = np.eye(4)[0], np.eye(4)[2], np.full(4, 0.25)
MBARS = (0.0, 0.5, 1.0, 1.5, 2.0)


def _assert_printed(actual, printed, slack=0.0, what=""):
    """``actual`` equals the printed number to its printed digits (plus ``slack``)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    tolerance = 0.5 * 10.0 ** -decimals + slack + 1e-12
    assert abs(actual - float(printed)) <= tolerance, (
        f"{what}: ours {actual:.6f}, printed {printed} (tolerance {tolerance:.2g})")


def _assert_table(intervals, printed_rows, slack=0.0):
    for (low, high), (printed_low, printed_high), parameter in zip(
            intervals, printed_rows, range(len(printed_rows))):
        _assert_printed(low, printed_low, slack, what=f"row {parameter} lower")
        _assert_printed(high, printed_high, slack, what=f"row {parameter} upper")


# --------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("mbar", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("beta_pre", [0.3, -0.3])
def test_rm_identified_set_with_one_pre_period_is_beta_post_plus_minus_mbar_abs_beta_pre(
        mbar, beta_pre):
    low, high = hd.relative_magnitudes_identified_set([beta_pre, 1.2], 1, 1, mbar)
    assert low == pytest.approx(1.2 - mbar * abs(beta_pre), abs=1e-9)
    assert high == pytest.approx(1.2 + mbar * abs(beta_pre), abs=1e-9)


def test_rm_identified_set_at_mbar_zero_is_the_estimate_and_widens_with_mbar():
    sets = [hd.relative_magnitudes_identified_set(BC_BETA, 4, 4, mbar, AVERAGE) for mbar in MBARS]
    assert sets[0] == pytest.approx((AVERAGE @ BC_BETA[4:],) * 2, abs=1e-9)
    lows, highs = zip(*sets)
    assert np.all(np.diff(lows) < 0) and np.all(np.diff(highs) > 0)


def _rm_identified_set_by_linear_programming(betahat, n_pre, n_post, mbar, l_vec):
    """HonestDiD's ``.compute_IDset_DeltaRM``: bound ``l' delta_post`` by linear programming in
    each case (s, sign), ``delta_pre`` fixed at ``beta_pre``; the hull of the feasible cases."""
    from scipy import optimize

    objective = np.concatenate([np.zeros(n_pre), l_vec])
    fix_pre = np.hstack([np.eye(n_pre), np.zeros((n_pre, n_post))])
    estimate = float(l_vec @ betahat[n_pre:])
    lows, highs = [estimate], [estimate]
    for s, positive in hd._rm_cases(n_pre):
        rows = hd._rm_constraints(n_pre, n_post, mbar, s, positive)
        solutions = [optimize.linprog(sign * objective, A_ub=rows, b_ub=np.zeros(len(rows)),
                                      A_eq=fix_pre, b_eq=betahat[:n_pre],
                                      bounds=[(None, None)] * (n_pre + n_post), method="highs")
                     for sign in (1.0, -1.0)]
        if all(solution.status == 0 for solution in solutions):
            lows.append(estimate + solutions[1].fun)
            highs.append(estimate - solutions[0].fun)
    return min(lows), max(highs)


def test_rm_identified_set_equals_honestdids_linear_programs():
    rng = np.random.default_rng(11)
    for n_pre, n_post in itertools.product(range(1, 5), range(1, 4)):
        for scale, mbar in ((0.01, 0.3), (1.0, 1.0), (100.0, 2.5), (1.0, 0.0)):
            betahat = scale * rng.standard_normal(n_pre + n_post)
            l_vec = rng.standard_normal(n_post) if n_post > 1 else np.ones(1)
            expected = _rm_identified_set_by_linear_programming(betahat, n_pre, n_post, mbar,
                                                                l_vec)
            got = hd.relative_magnitudes_identified_set(betahat, n_pre, n_post, mbar, l_vec)
            width = max(expected[1] - expected[0], scale)
            assert got == pytest.approx(expected, abs=1e-9 * width), (n_pre, n_post, mbar)
    # A flat pre-period path allows no violation at all.
    flat = hd.relative_magnitudes_identified_set([0.0, 0.0, 0.4, 0.5], 2, 2, 3.0, [0.5, 0.5])
    assert flat == pytest.approx((0.45, 0.45))


def test_rm_with_one_post_period_and_mbar_zero_is_the_conventional_interval_at_the_hybrid_level():
    """Two moments +-(beta_1 - theta) <= 0: the LF hybrid's second stage (size
    (alpha - kappa) / (1 - kappa), no truncation at the LF value in HonestDiD's no-nuisance
    test) reduces to a two-sided z test at that size: 2.003 standard errors, not 1.96."""
    beta, sigma = np.array([0.05, 0.40]), np.array([[0.010, 0.004], [0.004, 0.020]])
    se, kappa = math.sqrt(0.020), 0.005
    z = stats.norm.ppf(1 - (0.05 - kappa) / (1 - kappa) / 2)
    bounds = (0.40 - 10 * se, 0.40 + 10 * se)
    result = hd.relative_magnitudes(beta, sigma, 1, 1, [0.0], grid_points=20_001,
                                    grid_bounds=bounds)
    step = 20 * se / 20_000
    row = result.table.iloc[0]
    assert z == pytest.approx(2.0025, abs=1e-4)
    assert row["lower"] == pytest.approx(0.40 - z * se, abs=step)
    assert row["upper"] == pytest.approx(0.40 + z * se, abs=step)
    assert result.original == pytest.approx((0.40 - 1.96 * se, 0.40 + 1.96 * se), abs=1e-4)


@pytest.mark.parametrize("m", [0.0, 0.05, 0.3])
def test_flci_with_one_pre_and_one_post_period_is_linear_extrapolation_plus_folded_normal(m):
    """Delta^SD with periods -1, 1 says |delta_1 + delta_-1| <= M, so theta = beta_1 + beta_-1
    - (delta_1 + delta_-1) and the FLCI is beta_1 + beta_-1 +- cv_alpha(M / sd) sd."""
    beta, sigma = np.array([0.05, 0.40]), np.array([[0.010, 0.004], [0.004, 0.020]])
    sd = math.sqrt(0.010 + 0.020 + 2 * 0.004)
    flci = hd.smoothness_flci(beta, sigma, 1, 1, m)
    half = hd.folded_normal_quantile(0.95, m / sd) * sd
    assert flci.estimate == pytest.approx(0.45, abs=1e-12)
    assert (flci.lower, flci.upper) == pytest.approx((0.45 - half, 0.45 + half), abs=1e-12)
    np.testing.assert_allclose(flci.weights, [1.0, 1.0])


def test_folded_normal_quantile_is_the_two_sided_z_at_zero_bias_and_solves_its_cdf():
    assert hd.folded_normal_quantile(0.95, 0.0) == pytest.approx(stats.norm.ppf(0.975), abs=1e-10)
    c = hd.folded_normal_quantile(0.95, 1.3)
    assert stats.norm.cdf(c - 1.3) - stats.norm.cdf(-c - 1.3) == pytest.approx(0.95, abs=1e-12)
    assert hd.folded_normal_quantile(0.95, 8.0) == pytest.approx(8 + stats.norm.ppf(0.95),
                                                                 abs=1e-6)


def test_flci_at_m_zero_is_the_minimum_variance_estimator_unbiased_under_linear_trends():
    flci = hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 4, 0.0)
    times = np.array([-4, -3, -2, -1, 1, 2, 3, 4])
    assert flci.weights @ times == pytest.approx(0.0, abs=1e-9)  # a linear trend cancels
    assert flci.half_length == pytest.approx(
        stats.norm.ppf(0.975) * math.sqrt(flci.weights @ BC_SIGMA @ flci.weights), rel=1e-9)


def _basic_feasible_solutions(sd, nuisance):
    """All vertices of {lam >= 0 : lam' sd = 1, lam' X = 0}, by brute force over bases."""
    matrix = np.column_stack([sd, nuisance])
    n_moments, n_basis = matrix.shape
    vertices = []
    for basis in itertools.combinations(range(n_moments), n_basis):
        square = matrix[list(basis)]
        if abs(np.linalg.det(square)) < 1e-12:
            continue
        weights = np.linalg.solve(square.T, np.eye(n_basis)[0])
        if (weights >= -1e-12).all():
            vertex = np.zeros(n_moments)
            vertex[list(basis)] = weights
            vertices.append(vertex)
    return np.array(vertices)


@pytest.mark.parametrize("n_pre, n_post, l_vec, mbar", [
    (4, 4, FIRST, 1.0), (4, 4, AVERAGE, 0.0), (2, 5, np.array([0.3, -1.0, 0.0, 2.0, 0.5]), 2.5),
    (1, 3, np.eye(3)[2], 0.7)])
def test_rm_dual_vertices_contain_every_vertex_of_the_arp_dual(n_pre, n_post, l_vec, mbar):
    """The closed-form candidates stand in for HonestDiD's LP: each brute-force vertex of the
    dual polytope is a candidate, and every candidate lies in the polytope."""
    sigma = np.eye(n_pre + n_post) + 0.3
    for s, positive in hd._rm_cases(n_pre):
        rows = hd._rm_post_rows(n_pre, n_post, mbar, s, positive)
        sd = np.sqrt(np.diag(rows @ sigma @ rows.T))
        nuisance = (rows[:, n_pre:] @ np.linalg.inv(hd._gamma_basis(l_vec)))[:, 1:]
        candidates = hd._rm_dual_vertices(rows, sd, n_pre, n_post, l_vec)
        assert (candidates >= 0).all()
        np.testing.assert_allclose(candidates @ sd, 1.0)
        np.testing.assert_allclose(candidates @ nuisance, 0.0, atol=1e-12)
        for vertex in _basic_feasible_solutions(sd, nuisance):
            assert np.abs(candidates - vertex).max(axis=1).min() < 1e-9


# --------------------------------------------------------------------------- HonestDiD FLCI
@pytest.mark.parametrize("l_vec, printed, source", [
    (FIRST, [("0.131", "0.216"), ("0.119", "0.419"), ("0.019", "0.519"), ("-0.081", "0.619")],
     "unit-tests-consistency.md, FLCI for l_vec, Stata"),
    (THIRD, [("0.144", "0.260"), ("-0.244", "1.161"), ("-0.844", "1.761"), ("-1.444", "2.361")],
     "unit-tests-consistency.md, FLCI for l_alt = basis(3), Stata"),
    (AVERAGE, [("0.133", "0.230"), ("-0.186", "0.988"), ("-0.686", "1.49"), ("-1.19", "1.99")],
     "unit-tests-consistency.R.log, FLCI for BC_l_alt = rep(1, 4) / 4, R"),
])
def test_flci_reproduces_honestdid_for_benzarti_carloni(l_vec, printed, source):
    intervals = [(f.lower, f.upper) for f in
                 (hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 4, m, l_vec) for m in (0, .1, .2, .3))]
    _assert_table(intervals, printed)


def test_flci_reproduces_honestdid_with_seven_pre_periods_and_one_post_period():
    """Stata port, test/unit-tests-consistency.do.log ("One post-period", method(FLCI)); R's
    log prints 0.0919 for the third lower bound, 0.0918 here and in Stata: R simulates the
    folded-normal quantile with 10^6 draws, worth about 1e-4 in this half-length."""
    printed = [("-0.182", "-0.106"), ("0.192", "0.539"), ("0.092", "0.639"),
               ("-0.008", "0.739")]
    intervals = [(f.lower, f.upper) for f in
                 (hd.smoothness_flci(BC_BETA, BC_SIGMA, 7, 1, m) for m in (0, .1, .2, .3))]
    _assert_table(intervals, printed)


# --------------------------------------------------------------------------- HonestDiD C-LF
@pytest.mark.parametrize("l_vec, printed, source", [
    (FIRST, [("0.172", "0.232"), ("0.131", "0.253"), ("0.071", "0.313"), ("0.030", "0.354"),
             ("-0.030", "0.414")], "unit-tests-consistency.md, RM l_vec, Stata"),
    (THIRD, [("0.212", "0.273"), ("0.071", "0.414"), ("-0.091", "0.576"), ("-0.253", "0.737"),
             ("-0.434", "0.919")], "unit-tests-consistency.md, RM l_alt = basis(3), Stata"),
    (AVERAGE, [("0.192", "0.253"), ("0.0707", "0.354"), ("-0.0505", "0.495"), ("-0.192", "0.636"),
               ("-0.333", "0.778")], "unit-tests-consistency.R.log, RM BC_l_alt, C-LF, R"),
])
def test_relative_magnitudes_reproduces_honestdid_on_its_100_point_grid(l_vec, printed, source):
    """HonestDiD call: gridPoints = 100, grid.lb = -1, grid.ub = 1, Mbarvec = 0, 0.5, ..., 2."""
    result = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4, MBARS, l_vec=l_vec,
                                    grid_points=100, grid_bounds=(-1, 1))
    _assert_table(result.table[["lower", "upper"]].to_numpy(), printed)


def test_relative_magnitudes_reproduces_honestdid_without_nuisance_parameters():
    """Seven pre-periods, one post-period: HonestDiD's no-nuisance test on its default grid
    (1,000 points on +-20 standard errors around 0; the upper 0.552 is the grid's end)."""
    printed = [("0.0713", "0.181"), ("-0.0315", "0.306"), ("-0.151", "0.441"),
               ("-0.278", "0.552"), ("-0.411", "0.552")]  # R.log, "One post-period", C-LF
    sd = math.sqrt(BC_SIGMA[7, 7])
    result = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 7, 1, MBARS, grid_points=1000,
                                    grid_bounds=(-20 * sd, 20 * sd))
    _assert_table(result.table[["lower", "upper"]].to_numpy(), printed)


def test_relative_magnitudes_reproduces_honestdid_defaults_within_a_grid_step():
    """HonestDiD defaults: Mbar = 10 values on [0, 2], 1,000 points on +-20 SE around 0
    (R.log, "Base relative magnitudes comparison"); its runs differ by a grid step."""
    printed = [("0.159", "0.233"), ("0.143", "0.248"), ("0.123", "0.266"), ("0.102", "0.287"),
               ("0.0786", "0.308"), ("0.0551", "0.329"), ("0.0315", "0.352"),
               ("0.00722", "0.376"), ("-0.0171", "0.379"), ("-0.0422", "0.379")]
    sd = math.sqrt(BC_SIGMA[4, 4])
    result = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4, np.linspace(0, 2, 10),
                                    grid_points=1000, grid_bounds=(-20 * sd, 20 * sd))
    _assert_table(result.table[["lower", "upper"]].to_numpy(), printed, slack=40 * sd / 999)


# --------------------------------------------------------------------------- breakdown values
def test_rm_breakdown_is_where_the_interval_first_includes_zero():
    result = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4, MBARS)
    lower = result.table.set_index("restriction_value")["lower"]
    assert lower[1.5] > 0 > lower[2.0]
    assert 1.5 < result.breakdown < 2.0
    around = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4,
                                    [result.breakdown - 0.002, result.breakdown])
    assert around.table["lower"].iloc[0] > 0 >= around.table["lower"].iloc[1] - 1e-3


def test_rm_default_grid_is_widened_until_the_interval_closes():
    """HonestDiD's default grid cuts the Mbar = 2 interval at 0.379; ours keeps going."""
    result = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4, [2.0])
    row = result.table.iloc[0]
    low, high = hd.relative_magnitudes_identified_set(BC_BETA, 4, 4, 2.0)
    assert row["lower"] < low and row["upper"] > max(high, 0.40)
    assert np.isfinite(row[["lower", "upper"]].to_numpy()).all()


def test_sd_breakdown_is_where_the_flci_first_includes_zero():
    result = hd.smoothness(BC_BETA, BC_SIGMA, 4, 4, [0.0, 0.1, 0.2, 0.3])
    assert 0.2 < result.breakdown < 0.3
    below = hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 4, result.breakdown - 2e-5)
    at = hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 4, result.breakdown)
    assert below.lower > 0 >= at.lower


def test_breakdown_is_zero_when_the_conventional_interval_includes_zero_and_inf_past_the_limit():
    weak = BC_BETA.copy()
    weak[4] = 0.01
    assert hd.relative_magnitudes(weak, BC_SIGMA, 4, 4, [0.0]).breakdown == 0.0
    assert hd.smoothness(weak, BC_SIGMA, 4, 4, [0.0]).breakdown == 0.0
    capped = hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4, [0.0], mbar_limit=1.0)
    assert capped.breakdown == math.inf and capped.search_limit == 1.0


# --------------------------------------------------------------------------- inputs
def test_inputs_that_do_not_conform_are_refused_with_a_reason():
    with pytest.raises(InvalidOptionError, match="leave the reference period out"):
        hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 5, 0.1)
    with pytest.raises(InvalidOptionError, match="l_vec needs 4 weights"):
        hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 4, 0.1, l_vec=[1, 0])
    with pytest.raises(InvalidOptionError, match="symmetric"):
        hd.original_interval(BC_BETA, BC_SIGMA + np.triu(np.full((8, 8), 1e-3), 1), 4, 4)
    with pytest.raises(InvalidOptionError, match="Mbar values must be non-negative"):
        hd.relative_magnitudes(BC_BETA, BC_SIGMA, 4, 4, [-1.0])
    for mbar in (-0.5, math.nan, math.inf):
        with pytest.raises(InvalidOptionError, match="Mbar must be a non-negative number"):
            hd.relative_magnitudes_identified_set(BC_BETA, 4, 4, mbar)


def test_sd_table_solves_each_bound_once_and_gives_what_each_interval_alone_gives():
    """smoothness() keeps the frontier's solutions across M; every row must still be exactly
    the interval smoothness_flci finds for that M on its own."""
    ms = [0.0, 0.05, 0.1, 0.2, 0.3]
    solved = []
    original = hd._min_variance_within

    def counted(problem, radius, start):
        solved.append(radius)
        return original(problem, radius, start)

    hd._min_variance_within = counted
    try:
        table = hd.smoothness(BC_BETA, BC_SIGMA, 4, 4, ms, l_vec=AVERAGE).table
    finally:
        hd._min_variance_within = original
    assert solved and len(solved) == len(set(solved))  # no bound solved twice
    alone = [hd.smoothness_flci(BC_BETA, BC_SIGMA, 4, 4, m, AVERAGE) for m in ms]
    assert table["lower"].tolist() == [flci.lower for flci in alone]
    assert table["upper"].tolist() == [flci.upper for flci in alone]


def test_largest_in_each_row_is_numpys_row_maximum():
    values = np.random.default_rng(3).standard_normal((1000, 5))
    values[7, 2] = np.nan
    assert np.array_equal(hd._largest_in_each_row(values), values.max(axis=1), equal_nan=True)
