"""Many provinces at once: equal effects, their spread, multiplicity, and shrinkage.

Province estimates of one analysis are independent: counties, the clusters, nest within
provinces, so no two provinces share a cluster. With estimates ``Y_i`` and standard errors
``s_i`` (i = 1..K):

* **Equal effects.** Cochran's Q = sum w_i (Y_i - Ybar_w)^2 with w_i = 1/s_i^2 and Ybar_w the
  precision-weighted mean, against chi-square(K-1). The spread of the true effects is the
  DerSimonian-Laird tau^2 = max(0, (Q - (K-1)) / (sum w - sum w^2 / sum w)).
* **Multiplicity.** Which provinces' effects differ from zero after adjusting the K p-values:
  Holm (family-wise error) and Benjamini-Hochberg (false discovery rate), via statsmodels.
* **Empirical-Bayes shrinkage with robust intervals** (Armstrong, Kolesar and
  Plagborg-Moller 2022, "Robust Empirical Bayes Confidence Intervals", Econometrica). Each
  estimate is pulled towards the precision-weighted mean mu by w_i = mu2 / (mu2 + s_i^2), mu2
  the variance of the true effects (moment estimate, floored). The interval is
  ``mu + w_i (Y_i - mu) +- cva(s_i^2 / mu2) w_i s_i``: its critical value accounts for the
  shrinkage bias, whose normalized second moment is s_i^2 / mu2, against any distribution of
  the true effects with that second moment, so the intervals keep 95% coverage on average
  across provinces without assuming the effects are normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests


def non_coverage(bias: float, chi: float) -> float:
    """P(|Z - b| > chi) for Z standard normal: the interval +-chi misses at normalized bias b."""
    return float(stats.norm.cdf(-chi - bias) + stats.norm.sf(chi - bias))


def max_non_coverage(m2: float, chi: float) -> float:
    """Largest non-coverage of +-chi over all bias distributions with E[b^2] = m2.

    The worst case puts mass at 0 and at one point +-sqrt(t0) (t0 >= m2), or all mass at
    sqrt(m2): the least concave majorant of t -> r(sqrt(t), chi), evaluated at m2 (AKP 2022,
    Proposition B.1).
    """
    r0 = non_coverage(0.0, chi)
    if m2 <= 0:
        return r0

    def line_slope(t):  # slope of the chord from (0, r0) to (t, r(sqrt t))
        return (non_coverage(np.sqrt(t), chi) - r0) / t

    # The chord of steepest slope touches the majorant at t0; beyond t0 the curve itself is it.
    result = optimize.minimize_scalar(lambda log_t: -line_slope(np.exp(log_t)),
                                      bounds=(-12, np.log(max(m2, 1.0) * 400 + 400)),
                                      method="bounded", options={"xatol": 1e-10})
    t0 = float(np.exp(result.x))
    if m2 >= t0:
        return non_coverage(np.sqrt(m2), chi)
    return r0 + m2 * line_slope(t0)


def robust_critical_value(m2: float, alpha: float = 0.05) -> float:
    """``cva_alpha(m2)``: the half-width, in standard errors, that keeps non-coverage at most
    ``alpha`` for any bias distribution with second moment m2 (1.96 at m2 = 0)."""
    return float(optimize.brentq(lambda chi: max_non_coverage(m2, chi) - alpha,
                                 stats.norm.isf(alpha / 2) - 1e-9,
                                 stats.norm.isf(alpha / 2) + 10 * np.sqrt(m2) + 5, xtol=1e-10))


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q test of equal effects and the DerSimonian-Laird spread."""

    q: float
    df: int
    p_value: float
    tau2: float
    weighted_mean: float
    weighted_mean_se: float


def equal_effects_test(estimates: np.ndarray, std_errors: np.ndarray) -> Heterogeneity:
    y, s = np.asarray(estimates, float), np.asarray(std_errors, float)
    w = 1 / s ** 2
    mean = float(np.sum(w * y) / w.sum())
    q = float(np.sum(w * (y - mean) ** 2))
    k = len(y)
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - np.sum(w ** 2) / w.sum()))
    return Heterogeneity(q, k - 1, float(stats.chi2.sf(q, k - 1)), tau2, mean,
                         float(np.sqrt(1 / w.sum())))


def shrink(estimates: np.ndarray, std_errors: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Robust empirical-Bayes estimates and intervals (module docstring).

    Returns columns ``shrunk, ci_low, ci_high, weight, critical_value`` aligned with the
    inputs; ``mu`` and ``mu2`` are in ``.attrs``.
    """
    y, s = np.asarray(estimates, float), np.asarray(std_errors, float)
    w_prec = 1 / s ** 2
    mu = float(np.sum(w_prec * y) / w_prec.sum())
    moment = float(np.mean((y - mu) ** 2 - s ** 2))
    # AKP's truncation of the moment estimate, 2 sum(s^4) / (K sum(s^2)): an estimate near 0
    # would shrink everything to mu with intervals that miss when the spread is real.
    mu2 = max(moment, 2 * float(np.sum(s ** 4)) / (len(s) * float(np.sum(s ** 2))))
    weight = mu2 / (mu2 + s ** 2)
    critical = np.array([robust_critical_value(v / mu2, alpha) for v in s ** 2])
    shrunk = mu + weight * (y - mu)
    half = critical * weight * s
    table = pd.DataFrame({"shrunk": shrunk, "ci_low": shrunk - half, "ci_high": shrunk + half,
                          "weight": weight, "critical_value": critical})
    table.attrs.update(mu=mu, mu2=mu2, mu2_floored=moment < mu2)
    return table


def adjusted_flags(p_values: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Holm and Benjamini-Hochberg adjusted p-values and whether each rejects at ``alpha``."""
    p = np.asarray(p_values, float)
    holm_reject, holm_p, _, _ = multipletests(p, alpha=alpha, method="holm")
    bh_reject, bh_p, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
    return pd.DataFrame({"p_holm": holm_p, "differs_holm": holm_reject,
                         "p_bh": bh_p, "differs_bh": bh_reject})


def combine(by_province: pd.DataFrame, alpha: float = 0.05) -> tuple[pd.DataFrame, Heterogeneity]:
    """The province table with adjusted flags and shrunken estimates, and the Q test.

    Provinces whose estimate is missing are kept as rows without the new columns.
    """
    ok = by_province["estimate"].notna() & (by_province["std_error"] > 0)
    part = by_province.loc[ok]
    test = equal_effects_test(part["estimate"], part["std_error"])
    extra = pd.concat([adjusted_flags(part["p_value"], alpha),
                       shrink(part["estimate"], part["std_error"], alpha)
                       .rename(columns={"ci_low": "shrunk_ci_low", "ci_high": "shrunk_ci_high"})],
                      axis=1)
    extra.index = part.index
    return by_province.join(extra), test
