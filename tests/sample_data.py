"""Small simulated cross-sections shared by the estimator tests."""

import numpy as np
import pandas as pd


def selected_sample(seed=1, n=2000, effect=2.0, heterogeneity=0.0, n_clusters=40):
    """Take-up rises with x1, which also raises the outcome: naive comparisons are
    biased upward. Planted effect ``effect + heterogeneity * x1`` (ATE = effect)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n)
    county = rng.integers(0, n_clusters, n)
    d = rng.binomial(1, 1 / (1 + np.exp(-(-0.3 + 1.0 * x1 + 0.5 * x2))))
    y = 1 + (effect + heterogeneity * x1) * d + 1.5 * x1 + x2 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2, "county": county})
