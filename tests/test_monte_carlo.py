"""The Monte Carlo script: every analysis, design and registry estimator, each against the
planted truth of its own program and outcome (a two-draw smoke run)."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from analysis import config
from analysis.estimators.registry import ESTIMATORS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def monte_carlo():
    path = config.PROJECT_ROOT / "benchmarks" / "monte_carlo.py"
    spec = importlib.util.spec_from_file_location("monte_carlo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_monte_carlo_covers_several_programs_and_outcomes(monte_carlo, tmp_path):
    analyses = monte_carlo.MONTE_CARLO_ANALYSES
    assert len({spec.program for spec in analyses}) >= 2
    assert len({spec.outcome for spec in analyses}) >= 3
    args = monte_carlo.parse_args(["--reps", "2", "--persons", "4000", "--workers", "1",
                                   "--out", str(tmp_path)])
    table, meta = monte_carlo.run(args)
    for spec in analyses:
        rows = table[table["analysis"] == spec.name]
        expected = {name for name, e in ESTIMATORS.items()
                    if spec.outcome_info.binary or not e.binary_outcome_only}
        pooled = rows[rows["design"] == "national_pooled"]
        assert set(pooled["method"]) == expected, spec.name
        # With 8 county clusters every estimator bootstraps; its t(G-1) twin sits beside it.
        # (4,000 persons leave too few in one province for some adjusted estimators.)
        province = set(rows.loc[rows["design"] == "one_province", "method"])
        suffix = monte_carlo.T_COMPANION_SUFFIX
        assert province == {m for m in province if not m.endswith(suffix)} | {
            m + suffix for m in province if not m.endswith(suffix)}, spec.name
        assert {"difference_in_means", "callaway_santanna"} <= province
        assert np.isfinite(rows["mean_truth"]).all()
    # Each row's truth is its own analysis's: months worked are not a probability.
    truth = table.groupby("analysis")["mean_truth"].mean()
    assert truth["training__months_worked"] > 3 * truth["training__stable_employment"]
    monte_carlo.write(table, meta, tmp_path)
    assert (tmp_path / "monte_carlo.csv").exists() and (tmp_path / "monte_carlo.json").exists()


def test_the_t_interval_twin_uses_the_same_estimate_and_standard_error(monte_carlo):
    row = {"method": "ipw_att", "label": "Inverse-probability weighting", "estimate": 0.1,
           "std_error": 0.04, "ci_low": 0.0, "ci_high": 0.3, "n_clusters": 8,
           "se_type": "cluster multiplier bootstrap-t"}
    twin = monte_carlo._t_interval_companion(row)
    # t(7) 97.5% quantile, from a table: 2.364624.
    assert twin["ci_low"] == pytest.approx(0.1 - 2.364624 * 0.04, abs=1e-6)
    assert twin["ci_high"] == pytest.approx(0.1 + 2.364624 * 0.04, abs=1e-6)
    assert twin["method"] == "ipw_att" + monte_carlo.T_COMPANION_SUFFIX
    assert (twin["estimate"], twin["std_error"]) == (0.1, 0.04)


def test_the_provinces_monte_carlo_scores_raw_and_shrunken_intervals(tmp_path):
    path = config.PROJECT_ROOT / "benchmarks" / "monte_carlo_provinces.py"
    spec = importlib.util.spec_from_file_location("monte_carlo_provinces", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--reps", "2", "--persons", "4000", "--workers", "1", "--out", str(tmp_path)])
    import pandas as pd

    table = pd.read_csv(tmp_path / "monte_carlo_provinces.csv")
    assert len(table) == 2 and set(table["reps"]) == {2}
    assert table["coverage"].between(0, 1).all()
    # Shrinkage pulls towards the mean: shorter intervals than the raw ones.
    raw, shrunk = table["mean_length"]
    assert shrunk < raw


def test_the_pretrends_monte_carlo_scores_the_page_checks(tmp_path):
    path = config.PROJECT_ROOT / "benchmarks" / "monte_carlo_pretrends.py"
    spec = importlib.util.spec_from_file_location("monte_carlo_pretrends", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--reps", "1", "--persons", "8000", "--workers", "1", "--out", str(tmp_path)])
    table = pd.read_csv(tmp_path / "monte_carlo_pretrends.csv")
    assert set(table["case"]) == set(module.ANALYSES)
    assert set(table["design"]) == {"all provinces pooled", "one province"}
    assert (table["failed"] == 0).all()
    # One draw: every share is 0 or 1, and the band is wider than the pointwise intervals.
    for column in ("pretest_rejects", "band_covers_all", "pointwise_covers_all"):
        assert table[column].isin([0.0, 1.0]).all(), column
    assert (table["median_band_width_ratio"] > 1).all()
    # By hand: the summary of rows is their mean, with sqrt(p(1-p)/n) beside it.
    rows = [{"design": "d", "case": "c", "pretest_rejects": r, "band_covers_all": 1.0}
            for r in (True, False, False, False)]
    summary = module.summarise(rows).iloc[0]
    assert summary["pretest_rejects"] == 0.25
    assert summary["pretest_rejects_mcse"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
