"""Many provinces at once: Q test, multiplicity flags and robust empirical-Bayes intervals."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from analysis.estimators import many_provinces as M


def test_q_test_and_spread_match_statsmodels_meta_analysis():
    rng = np.random.default_rng(1)
    y, s = rng.normal(0.1, 0.12, 12), rng.uniform(0.02, 0.06, 12)  # real spread: tau^2 > 0
    ours = M.equal_effects_test(y, s)
    ref = combine_effects(y, s ** 2, method_re="dl")
    assert ours.q == pytest.approx(ref.q, rel=1e-10)
    assert ref.tau2 > 0 and ours.tau2 == pytest.approx(ref.tau2, rel=1e-10)
    assert ours.weighted_mean == pytest.approx(ref.mean_effect_fe, rel=1e-10)
    assert ours.p_value == pytest.approx(stats.chi2.sf(ref.q, 11), rel=1e-10)


def test_holm_and_benjamini_hochberg_by_hand():
    p = np.array([0.001, 0.04, 0.03, 0.2])
    flags = M.adjusted_flags(p)
    # Holm: sorted p times (4, 3, 2, 1), cumulative maximum.
    assert list(flags["p_holm"]) == pytest.approx([0.004, 0.09, 0.09, 0.2])
    # BH: sorted p times 4/rank, cumulative minimum from the top.
    assert list(flags["p_bh"]) == pytest.approx([0.004, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert list(flags["differs_holm"]) == [True, False, False, False]


def test_robust_critical_value_is_196_without_bias_and_grows_with_the_bias_moment():
    assert M.robust_critical_value(0.0) == pytest.approx(stats.norm.isf(0.025), abs=1e-8)
    values = [M.robust_critical_value(m2) for m2 in (0.1, 0.5, 1, 4, 400)]
    assert values == sorted(values) and values[0] > 1.96
    for m2, chi in zip((0.1, 0.5, 1, 4, 400), values):
        assert M.max_non_coverage(m2, chi) == pytest.approx(0.05, abs=1e-8)
        # Between all bias at sqrt(m2) and a Chebyshev-type bound sqrt(m2 / alpha) + z.
        assert np.sqrt(m2) + stats.norm.isf(0.05) <= chi <= np.sqrt(m2 / 0.05) + 1.96


@pytest.mark.parametrize("m2, chi", [(0.3, 2.2), (1.0, 2.6), (3.0, 3.4)])
def test_worst_case_non_coverage_equals_a_brute_force_search(m2, chi):
    # Over two-point bias distributions {0 w.p. 1-p, b w.p. p} with p b^2 = m2 (p <= 1).
    b = np.linspace(np.sqrt(m2), np.sqrt(m2) + 12, 60_001)
    p = m2 / b ** 2
    r = stats.norm.cdf(-chi - b) + stats.norm.sf(chi - b)
    r0 = 2 * stats.norm.sf(chi)
    brute = np.max(p * r + (1 - p) * r0)
    assert M.max_non_coverage(m2, chi) == pytest.approx(brute, rel=1e-6)


def test_shrunken_intervals_keep_95_percent_coverage_for_skewed_effects():
    rng = np.random.default_rng(7)
    k, reps = 22, 40
    s = rng.uniform(0.03, 0.08, k)
    covered, lengths = [], []
    for _ in range(reps):
        # Skewed true effects: most near 0.08, a few far above (not normal).
        theta = 0.08 + rng.exponential(0.03, k) * (rng.random(k) < 0.3)
        y = theta + s * rng.standard_normal(k)
        table = M.shrink(y, s)
        covered.append((table["ci_low"] <= theta) & (theta <= table["ci_high"]))
        lengths.append((table["ci_high"] - table["ci_low"]).mean())
    coverage = np.mean(covered)
    assert coverage >= 0.93, coverage  # 880 intervals: Monte Carlo error under a point
    assert np.mean(lengths) < 2 * 1.96 * s.mean()  # and shorter than the raw intervals
