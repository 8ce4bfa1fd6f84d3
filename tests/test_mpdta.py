"""Validation of the Callaway-Sant'Anna estimator on R ``did``'s ``mpdta`` against R's output.

The expected values are R's, never ours: ``data/raw/benchmarks/mpdta_did_printed.csv`` holds
what R ``did`` 2.5.1 prints in its README, its vignette "Getting Started with the did Package"
and its reference pages of ``att_gt`` and ``aggte`` (to 4 decimals; pre-test p-values to 5),
and what R wrote with the bootstrap off for the csdid package's parity tests (15 significant
digits); each row names its file, line and commit (see data/raw/benchmarks/README.md). If an
intended change of the estimator breaks one of these tests, the estimator no longer computes
what R does: say so in the module's documentation rather than editing the benchmark.
"""

import warnings

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from csdid.att_gt import ATTgt
from scipy import stats

from analysis import config
from analysis.estimators import mpdta

G = 500   # counties, the clusters of every standard error


@pytest.fixture(scope="module")
def data():
    return mpdta.load_mpdta()


@pytest.fixture(scope="module")
def printed():
    return mpdta.published()


@pytest.fixture(scope="module")
def compared():
    return mpdta.comparison()


@pytest.fixture(scope="module")
def pretests():
    return mpdta.pretest_comparison()


def side_by_side(rows: pd.DataFrame, columns) -> str:
    return "\n" + rows[["run", "table", "label", *columns]].to_string()


# --------------------------------------------------------------------------- the data
def test_mpdta_is_the_balanced_panel_r_did_documents(data):
    assert data.shape == (2500, 6) and tuple(data.columns) == mpdta.COLUMNS
    assert data["countyreal"].nunique() == 500
    assert sorted(data["year"].unique()) == [2003, 2004, 2005, 2006, 2007]
    assert not data.duplicated(["countyreal", "year"]).any() and not data.isna().any().any()
    counties = data.drop_duplicates("countyreal")
    assert counties["first.treat"].value_counts().sort_index().to_dict() == {
        0: 309, 2004: 20, 2006: 40, 2007: 131}
    assert (counties["treat"] == (counties["first.treat"] > 0)).all()
    # The first rows as did's vignette prints head(mpdta) (docs/articles/did-basics.md).
    first = data.iloc[0]
    assert (first["year"], first["countyreal"], first["first.treat"]) == (2003, 8001, 2007)
    assert (round(first["lpop"], 6), round(first["lemp"], 6)) == (5.896761, 8.461469)


def test_the_benchmark_files_state_their_source_and_licence():
    readme = (config.RAW_DIR / "benchmarks" / "README.md").read_text()
    for needed in ("mpdta.csv", "mpdta_did_printed.csv", "GPL-3",
                   "github.com/bcallaway11/did", "71ba8a564ead", "Callaway and Sant'Anna (2021)"):
        assert needed in readme, needed


def test_printed_file_holds_every_run_with_its_source(printed):
    counts = printed.groupby(["run", "table"]).size().to_dict()
    assert counts[("readme", "group_time")] == 12 and counts[("readme", "dynamic")] == 8
    assert counts[("readme", "group")] == 4 and counts[("aggte_example", "simple")] == 1
    assert printed.loc[printed["table"] == "pretest", "run"].nunique() == 8
    assert printed["source"].str.contains(r"line \d+|ref_\w+\.csv").all()


def test_r_printed_the_same_estimates_in_every_run(printed):
    # Point estimates are deterministic in R; only the bootstrap SEs change between runs, so
    # differing estimates would mean a transcription error.
    shown = printed[printed["table"] != "pretest"].copy()
    shown["rounded"] = shown["estimate"].round(4)
    shown = shown[shown["decimals"].notna()]
    same = shown.groupby(["table", "cohort", "period", "event_time", "covariates",
                          "control_group"], dropna=False)["rounded"].nunique()
    assert (same == 1).all(), same[same > 1]


# --------------------------------------------------------------------------- point estimates
def test_every_estimate_r_reported_is_reproduced(compared):
    off = compared[~compared["agrees"]]
    assert off.empty, side_by_side(off, ["estimate", "printed_estimate", "difference"])
    printed_rows = compared[compared["decimals"].notna()]
    assert printed_rows["difference"].abs().max() <= 0.5e-4
    full = compared[compared["decimals"].isna()]
    assert full["difference"].abs().max() < 1e-12
    assert len(compared) == 168


def test_overall_effects_are_the_averages_r_defines(data):
    # aggte(type = "dynamic"): mean of the event-time effects from 0 on; type = "group":
    # cohort effects weighted by cohort size.
    event = mpdta.our_estimates("dynamic")
    post = event[event["event_time"] >= 0]
    assert event["estimate"].iloc[0] == pytest.approx(post["estimate"].mean(), abs=1e-14)
    group = mpdta.our_estimates("group")
    sizes = data.drop_duplicates("countyreal")["first.treat"].value_counts()
    weights = sizes.loc[group["cohort"].iloc[1:].astype(int)].to_numpy()
    assert group["estimate"].iloc[0] == pytest.approx(
        np.average(group["estimate"].iloc[1:], weights=weights), abs=1e-14)


def test_group_time_effects_match_the_installed_csdid(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ATTgt(yname="lemp", tname="year", idname="countyreal", gname="first.treat",
                    data=data, control_group="nevertreated").fit(est_method="reg",
                                                                 bstrap=False)
    ours = mpdta.our_estimates("group_time")
    assert list(zip(ours["cohort"], ours["period"])) == list(zip(fit.results["group"],
                                                                 fit.results["year"]))
    assert ours["estimate"].tolist() == pytest.approx(list(fit.results["att"]), abs=1e-12)
    assert ours["std_error_r_convention"].tolist() == pytest.approx(list(fit.results["se"]),
                                                                    rel=1e-9)


# --------------------------------------------------------------------------- standard errors
def test_standard_errors_equal_r_analytic_ones_up_to_our_small_sample_factor(compared):
    analytic = compared[compared["std_error_method"] == mpdta.ANALYTIC]
    assert len(analytic) == 75
    assert analytic["std_error_ratio"].tolist() == pytest.approx([1.0] * 75, abs=1e-9)
    assert (analytic["std_error"] / analytic["printed_std_error"]).tolist() == pytest.approx(
        [np.sqrt(G / (G - 1))] * 75, rel=1e-9)


def test_printed_bootstrap_standard_errors_are_within_r_bootstrap_noise(compared):
    # R's bootstrap SE is random (1,000 draws); each printed one must lie within four run-to-run
    # SDs of the mean of simulated runs of R's procedure. Across 93 numbers that is a wide
    # margin: the largest gap is 2.5 SDs and the gaps average 0.2 SDs.
    boot = compared[compared["std_error_method"] == mpdta.BOOTSTRAP]
    assert len(boot) == 93
    off = boot[~boot["std_error_agrees"]]
    assert off.empty, side_by_side(off, ["printed_std_error", "bootstrap_mean", "bootstrap_sd",
                                         "bootstrap_sds"])
    assert abs(boot["bootstrap_sds"].mean()) < 0.5 and 0.6 < boot["bootstrap_sds"].std() < 1.4
    # The bootstrap's interquartile range overstates the SD where the 20 counties of the
    # 2004 cohort dominate: R prints more than our analytic SE, on average.
    early = boot[boot["label"].isin(["cohort 2004, year 2006", "2 years after the rise"])]
    assert (early["bootstrap_mean"] > 1.04 * early["std_error_r_convention"]).all()


def test_simulated_bootstrap_matches_theory_for_many_equal_contributions():
    # With many small, equal-sized contributions the draws are normal: the mean bootstrap SE
    # is the analytic one and its relative SD is 0.5 / (f(q) sqrt(B) (q75 - q25)), 3.7% for
    # B = 1,000 (the asymptotic variance of a sample quartile, Cramer 1946, sec. 28.5).
    influence = np.random.default_rng(5).normal(size=(2000, 2))
    mean, sd = mpdta.bootstrap_std_errors(influence, runs=400)
    analytic = np.sqrt((influence ** 2).sum(axis=0)) / 2000
    quartile = stats.norm.ppf(0.75)
    theory = 0.5 / (stats.norm.pdf(quartile) * np.sqrt(1000) * 2 * quartile)
    assert theory == pytest.approx(0.0369, abs=1e-4)
    assert mean == pytest.approx(analytic, rel=0.01)
    assert sd / mean == pytest.approx([theory] * 2, rel=0.15)


# --------------------------------------------------------------------------- pre-test
def test_pretest_reproduces_r_p_values_with_r_covariance(pretests):
    assert len(pretests) == 8 and (pretests["df"] == 5).all()
    off = pretests[~pretests["agrees"]]
    assert off.empty, "\n" + off[["run", "printed_p_value", "p_value_r_convention"]].to_string()
    readme = pretests.set_index("run").loc["readme"]
    assert round(readme["p_value_r_convention"], 5) == 0.16812


def test_pretest_statistic_equals_the_one_r_wrote(pretests):
    written = pretests.dropna(subset=["printed_statistic"])
    assert len(written) == 3
    assert written["statistic_r_convention"].tolist() == pytest.approx(
        written["printed_statistic"].tolist(), rel=1e-9)


def test_our_pretest_differs_from_r_only_by_the_small_sample_factor(pretests):
    assert (pretests["statistic"] / pretests["statistic_r_convention"]).tolist() == \
        pytest.approx([(G - 1) / G] * 8, rel=1e-12)
    # 0.16904 against R's 0.16812 for the README's run: same conclusion.
    assert ((pretests["p_value"] - pretests["p_value_r_convention"]).between(0, 0.002)).all()


# --------------------------------------------------------------------------- for the page
def test_notes_and_labels_read_as_words(compared, pretests):
    for text in [*compared["note"], *compared["label"], *pretests["note"]]:
        assert "nan" not in text.lower() and "_" not in text
    summary = mpdta.summary_by_run(compared)
    assert summary["estimates_agree"].all() and summary["std_errors_agree"].all()
    assert summary.loc[summary["run"] == "att_gt_example_3", "specification"].item() == (
        "adjusting for log county population, not-yet-treated counties as controls, "
        "doubly robust")


def test_printed_file_refuses_duplicates_and_unknown_runs(printed):
    broken = pd.concat([printed, printed.iloc[[0]], printed.iloc[[1]].assign(run="somewhere")],
                       ignore_index=True)
    with pytest.raises(pandera.errors.SchemaErrors) as failure:
        mpdta.PrintedSchema.validate(broken, lazy=True)
    checks = set(failure.value.failure_cases["check"].astype(str))
    assert any("isin" in check for check in checks) and any("unique" in c for c in checks)
