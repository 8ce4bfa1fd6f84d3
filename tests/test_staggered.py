"""Tests of analysis.estimators.staggered against linearmodels, statsmodels dummies, csdid and
planted effects in simulated staggered panels."""

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from csdid.att_gt import ATTgt
from linearmodels.panel import PanelOLS
from wildboottest.wildboottest import wildboottest

from analysis.estimators import effects as E
from analysis.estimators import staggered as S

COHORTS = [0, 2003, 2004, 2005]
PERIODS = np.arange(2001, 2007)


def staggered_panel(seed=0, n_units=300, dynamic=0.0, effect=2.0, covariate_trend=0.0):
    """Balanced panel; cohorts 2003-2005 and never-treated (0). Effect in event time e
    is ``effect + dynamic * e``. ``x`` shifts trends when ``covariate_trend`` != 0."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice(COHORTS, size=n_units, p=[0.4, 0.2, 0.2, 0.2])
    x = rng.normal(size=n_units)
    unit = np.repeat(np.arange(n_units), len(PERIODS))
    year = np.tile(PERIODS, n_units)
    g = cohort[unit]
    treated = (g > 0) & (year >= g)
    tau = np.where(treated, effect + dynamic * (year - g), 0.0)
    y = (rng.normal(size=n_units)[unit] + 0.1 * (year - 2000)
         + covariate_trend * x[unit] * (year - 2000) + tau + rng.normal(size=len(unit)))
    return pd.DataFrame({"id": unit, "year": year, "g": g, "d": treated.astype(int),
                         "x": x[unit], "county": unit % 25, "y": y, "tau": tau})


def cr1_factor(n_obs, n_clusters, k):
    return n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - k)


# --------------------------------------------------------------------------- TWFE
@pytest.mark.parametrize("drop", [0.0, 0.15])
def test_twfe_matches_linearmodels_panelols(drop):
    df = staggered_panel(seed=1)
    df = df.sample(frac=1 - drop, random_state=2) if drop else df
    r = S.two_way_fixed_effects(df, "y", "d", "id", "year", se="cluster")
    panel = df.set_index(["id", "year"])
    # linearmodels' raw cluster sandwich (no small-sample factors), rescaled by our
    # documented CR1 factor: units nested in clusters, so K = 1 slope + (T - 1) years.
    lm = PanelOLS(panel.y, panel[["d"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True, debiased=False, auto_df=False,
        count_effects=False)
    k = 1 + df.year.nunique() - 1
    assert r.estimate == pytest.approx(lm.params["d"], abs=1e-8)
    assert r.std_error == pytest.approx(
        lm.std_errors["d"] * np.sqrt(cr1_factor(len(df), df.id.nunique(), k)), rel=1e-6)
    assert r.cluster_var == "id" and r.n_clusters == df.id.nunique()


def test_twfe_counts_unit_effects_when_not_nested_in_clusters():
    df = staggered_panel(seed=3)
    r = S.two_way_fixed_effects(df, "y", "d", "id", "year", cluster="year", se="cluster")
    panel = df.set_index(["id", "year"])
    lm = PanelOLS(panel.y, panel[["d"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", clusters=panel[["county"]].assign(county=df.year.to_numpy()),
        debiased=False, auto_df=False, count_effects=False)
    k = 1 + df.id.nunique() - 1        # years nested in year clusters; unit effects counted
    assert r.std_error == pytest.approx(
        lm.std_errors["d"] * np.sqrt(cr1_factor(len(df), 6, k)), rel=1e-6)
    auto = S.two_way_fixed_effects(df, "y", "d", "id", "year", cluster="year")
    assert auto.se_type.startswith("wild")  # 6 clusters: "auto" switches to the bootstrap
    assert auto.std_error == pytest.approx(r.std_error)


def test_twfe_matches_dummy_variable_regression_on_unbalanced_panel():
    df = staggered_panel(seed=4, n_units=60).sample(frac=0.8, random_state=0)
    r = S.two_way_fixed_effects(df, "y", "d", "id", "year", se="cluster")
    fit = smf.ols("y ~ d + C(id) + C(year)", df).fit()
    assert r.estimate == pytest.approx(fit.params["d"], abs=1e-8)


def test_twfe_recovers_a_homogeneous_planted_effect():
    r = S.two_way_fixed_effects(staggered_panel(seed=5), "y", "d", "id", "year", "county")
    assert r.ci_low <= 2.0 <= r.ci_high
    assert r.se_type.startswith("wild") and r.n_clusters == 25


def test_twfe_wild_bootstrap_equals_wildboottest_on_dummy_residualized_data():
    # Frisch-Waugh-Lovell: the WCR bootstrap on within-transformed data equals the
    # bootstrap on data residualized on unit and year dummies.
    df = staggered_panel(seed=17, n_units=80)
    df["cl"] = df.id % 10
    r = S.two_way_fixed_effects(df, "y", "d", "id", "year", cluster="cl")
    resid = {v: smf.ols(f"{v} ~ C(id) + C(year)", df).fit().resid for v in ("y", "d")}
    model = sm.OLS(resid["y"], resid["d"].rename("d").to_frame())
    wild = E.WildOptions()
    with contextlib.redirect_stdout(io.StringIO()):
        ref = wildboottest(model, B=wild.reps, cluster=df.cl.to_numpy(), param="d",
                           weights_type=wild.weights, seed=wild.seed, show=False)
    assert r.se_type.startswith("wild") and r.n_clusters == 10
    assert r.p_value == pytest.approx(ref["p-value"].iloc[0], abs=1e-12)


def test_twfe_raises_when_treatment_is_absorbed():
    df = staggered_panel(seed=6).assign(d=lambda f: (f.g > 0).astype(int))
    with pytest.raises(E.NoVariationError, match="absorbed"):
        S.two_way_fixed_effects(df, "y", "d", "id", "year")


# --------------------------------------------------------------------------- event study
def _dummies(df, window, reference):
    rel = (df.year - df.g).clip(*window)
    names = {}
    for k in range(window[0], window[1] + 1):
        if k != reference:
            name = f"e{k}".replace("-", "m")
            names[k] = name
            df[name] = ((df.g > 0) & (rel == k)).astype(float)
    return names


def test_event_study_matches_linearmodels_with_hand_built_dummies():
    df = staggered_panel(seed=7, dynamic=0.5)
    window, reference = (-3, 2), -1
    records = S.event_study(df, "y", "id", "year", "g", window=window, reference=reference)
    names = _dummies(df, window, reference)
    panel = df.set_index(["id", "year"])
    lm = PanelOLS(panel.y, panel[list(names.values())], entity_effects=True,
                  time_effects=True).fit(cov_type="clustered", cluster_entity=True,
                                         debiased=False, auto_df=False, count_effects=False)
    factor = cr1_factor(len(df), df.id.nunique(), len(names) + df.year.nunique() - 1)
    by_k = {r.event_time: r for r in records}
    assert sorted(by_k) == list(range(-3, 3))
    for k, name in names.items():
        assert by_k[k].estimate == pytest.approx(lm.params[name], abs=1e-8)
        assert by_k[k].std_error == pytest.approx(lm.std_errors[name] * np.sqrt(factor), rel=1e-6)
    ref = by_k[reference]
    assert ref.is_reference and ref.estimate == 0 and np.isnan(ref.std_error)
    assert "binned" in by_k[-3].notes and "binned" in by_k[2].notes


def test_event_study_covers_planted_dynamic_effects_and_flat_pretrends():
    df = staggered_panel(seed=8, n_units=600, dynamic=0.0)
    for r in S.event_study(df, "y", "id", "year", "g", window=(-2, 3)):
        truth = 2.0 if r.event_time >= 0 else 0.0
        if not r.is_reference:
            assert r.ci_low <= truth <= r.ci_high, r


def test_event_study_accepts_nan_for_never_treated():
    df = staggered_panel(seed=9)
    zero = S.event_study(df, "y", "id", "year", "g")
    nan = S.event_study(df.assign(g=df.g.replace(0, np.nan)), "y", "id", "year", "g")
    assert [r.estimate for r in zero] == pytest.approx([r.estimate for r in nan], nan_ok=True)


def test_event_study_reports_empty_event_times_as_missing():
    # 2001-2006 with cohorts 2003-2005: event time 4 is never observed.
    records = S.event_study(staggered_panel(seed=9), "y", "id", "year", "g", window=(-4, 4))
    empty = records[-1]
    assert empty.event_time == 4 and np.isnan(empty.estimate)
    assert "no observations" in empty.notes
    assert all(np.isfinite(r.estimate) for r in records[:-1])


def test_event_study_without_never_treated_and_no_binning_is_singular():
    df = staggered_panel(seed=10)
    df = df[df.g > 0]
    with pytest.raises(E.SingularDesignError):
        S.event_study(df, "y", "id", "year", "g", window=(-4, 3))


def test_event_study_rejects_a_bad_window():
    with pytest.raises(E.InvalidOptionError):
        S.event_study(staggered_panel(), "y", "id", "year", "g", window=(-2, 2), reference=0)


# --------------------------------------------------------------------------- Callaway-Sant'Anna
def csdid_fit(df, control_group, xformla=None, clustervar=None, est_method="reg"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ATTgt(yname="y", tname="year", idname="id", gname="g", data=df,
                     control_group=control_group, xformla=xformla,
                     clustervar=clustervar).fit(est_method=est_method, bstrap=False)


def csdid_aggregate(fit, typec):
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit.aggte(typec=typec, bstrap=False).atte


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("covariates,est_method", [(None, "dr"), (["x"], "reg"), (["x"], "dr"),
                                                   (["x"], "ipw")])
def test_callaway_santanna_matches_csdid(control_group, covariates, est_method):
    df = staggered_panel(seed=11, n_units=200, dynamic=0.5, covariate_trend=0.3)
    ref = csdid_fit(df, control_group.replace("_", ""), None if covariates is None else "y~x",
                    est_method=est_method)
    # Our clustered SEs carry G/(G-1); R did / csdid do not.
    dof = np.sqrt(200 / 199)
    cells = S.callaway_santanna(df, "y", "id", "year", "g", covariates,
                                control_group=control_group, aggregate="group_time",
                                est_method=est_method)
    assert [(c.cohort, c.period) for c in cells] == list(zip(ref.results["group"],
                                                            ref.results["year"]))
    assert [c.estimate for c in cells] == pytest.approx(list(ref.results["att"]), abs=1e-8)
    assert [c.std_error / dof for c in cells] == pytest.approx(list(ref.results["se"]),
                                                               rel=1e-6)
    for ours, theirs in [("simple", "simple"), ("event", "dynamic"), ("group", "group")]:
        records = S.callaway_santanna(df, "y", "id", "year", "g", covariates,
                                      control_group=control_group, aggregate=ours,
                                      est_method=est_method)
        agg = csdid_aggregate(ref, theirs)
        assert records[0].estimate == pytest.approx(agg["overall_att"], abs=1e-8)
        assert records[0].std_error / dof == pytest.approx(agg["overall_se"], rel=1e-6)
        if agg["att_egt"] is not None:
            assert [r.estimate for r in records[1:]] == pytest.approx(list(agg["att_egt"]),
                                                                      abs=1e-8)
            assert [r.std_error / dof for r in records[1:]] == pytest.approx(
                list(np.ravel(agg["se_egt"])), rel=1e-6)


def test_callaway_santanna_cluster_matches_csdid_clustervar():
    df = staggered_panel(seed=12, n_units=200)
    records = S.callaway_santanna(df, "y", "id", "year", "g", cluster="county")
    agg = csdid_aggregate(csdid_fit(df, "nevertreated", clustervar="county"), "simple")
    assert records[0].std_error / np.sqrt(25 / 24) == pytest.approx(agg["overall_se"], rel=1e-6)
    assert records[0].n_clusters == 25 and records[0].cluster_var == "county"


def test_callaway_santanna_recovers_heterogeneous_effects_where_twfe_fails():
    # Effects grow with exposure and cohorts are staggered: TWFE's forbidden
    # comparisons (early-treated as controls) bias it (Goodman-Bacon 2021).
    df = staggered_panel(seed=13, n_units=1500, dynamic=1.0, effect=1.0)
    post = df[(df.g > 0) & (df.year >= df.g)]
    # simple aggregation: cohort-size weights on post cells = mean of tau over post rows
    truth = post.tau.mean()
    cs = S.callaway_santanna(df, "y", "id", "year", "g")[0]
    twfe = S.two_way_fixed_effects(df, "y", "d", "id", "year")
    assert cs.ci_low <= truth <= cs.ci_high
    assert not twfe.ci_low <= truth <= twfe.ci_high
    events = S.callaway_santanna(df, "y", "id", "year", "g", aggregate="event")[1:]
    for r in events:
        true_e = 1.0 + r.event_time if r.event_time >= 0 else 0.0
        assert r.ci_low <= true_e <= r.ci_high, r


def test_callaway_santanna_reports_and_drops_units_treated_in_the_first_period():
    df = staggered_panel(seed=14)
    df.loc[df.id < 5, "g"] = 2001
    records = S.callaway_santanna(df, "y", "id", "year", "g")
    assert "dropped 5 units treated in the first period" in records[0].notes


def test_callaway_santanna_input_errors():
    df = staggered_panel(seed=15)
    with pytest.raises(E.PanelStructureError, match="unbalanced"):
        S.callaway_santanna(df.iloc[1:], "y", "id", "year", "g")
    changing = df.assign(g=np.where((df.id == 0) & (df.year == 2006), 2002, df.g))
    with pytest.raises(E.PanelStructureError, match="changes over time"):
        S.callaway_santanna(changing, "y", "id", "year", "g")
    with pytest.raises(E.NoVariationError, match="never-treated"):
        S.callaway_santanna(df[df.g > 0], "y", "id", "year", "g")
    with pytest.raises(E.InvalidOptionError):
        S.callaway_santanna(df, "y", "id", "year", "g", aggregate="calendar")
    with pytest.raises(E.PanelStructureError, match="constant within"):
        S.callaway_santanna(df.assign(c=np.arange(len(df))), "y", "id", "year", "g",
                            cluster="c")
    with pytest.raises(E.MissingColumnError, match="cohort"):
        S.callaway_santanna(df, "y", "id", "year", "cohort")


def test_not_yet_treated_controls_work_without_never_treated_units():
    df = staggered_panel(seed=16, n_units=600)
    df = df[df.g > 0]
    records = S.callaway_santanna(df, "y", "id", "year", "g", control_group="not_yet_treated",
                                  aggregate="group_time")
    # Controls must have g' > t and g' != g. No unit is untreated from 2005 on (2 cells
    # skipped per cohort), and cohort 2005 at t=2004 has none either: 7 of 15 skipped.
    assert all(r.period < 2005 for r in records)
    assert "skipped 7 (g,t) cells without control units" in records[0].notes
    post = [r for r in records if r.event_time >= 0]
    assert all(r.ci_low <= 2.0 <= r.ci_high for r in post)


def _no_never_treated_panel(seed=3):
    """Three cohorts (2, 3, 4) over periods 1-4, no never-treated unit, effect 1 from g on."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(300):
        cohort = (2, 3, 4)[unit % 3]
        level = rng.normal()
        for period in (1, 2, 3, 4):
            rows.append({"unit": unit, "period": period, "g": cohort, "cluster": unit % 30,
                         "y": level + 0.3 * period + (period >= cohort) + rng.normal(0, 0.5)})
    return pd.DataFrame(rows)


def test_cs_drops_cohorts_without_valid_controls_and_says_so():
    # Before the fix the group aggregation returned NaN for cohort 4 and for the overall.
    panel = _no_never_treated_panel()
    records = S.callaway_santanna(panel, "y", "unit", "period", "g",
                                  control_group="not_yet_treated", aggregate="group")
    overall, *by_cohort = records
    assert np.isfinite(overall.estimate) and np.isfinite(overall.std_error)
    assert [r.cohort for r in by_cohort] == [2, 3]
    assert "dropped cohort(s) 4" in overall.notes
    # By hand: each kept cohort's ATT(g,t) compares its change since g-1 with the cohorts not
    # yet treated at t; the group aggregate weights cohorts 2 and 3 equally (same size).
    wide = panel.pivot(index="unit", columns="period", values="y")
    cohort = panel.drop_duplicates("unit").set_index("unit")["g"]

    def att(g, t):
        change = wide[t] - wide[g - 1]
        return change[cohort == g].mean() - change[cohort > t].mean()

    cohort2 = np.mean([att(2, 2), att(2, 3)])
    cohort3 = att(3, 3)
    assert by_cohort[0].estimate == pytest.approx(cohort2, abs=1e-10)
    assert by_cohort[1].estimate == pytest.approx(cohort3, abs=1e-10)
    assert overall.estimate == pytest.approx((cohort2 + cohort3) / 2, abs=1e-10)
    simple = S.callaway_santanna(panel, "y", "unit", "period", "g",
                                 control_group="not_yet_treated", aggregate="simple")[0]
    assert np.isfinite(simple.estimate) and "dropped cohort(s) 4" in simple.notes


def test_cs_universal_base_period_matches_csdid_and_a_long_difference_by_hand():
    df = staggered_panel(seed=12, n_units=200, dynamic=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ATTgt(yname="y", tname="year", idname="id", gname="g", data=df,
                    control_group="nevertreated").fit(est_method="reg", base_period="universal",
                                                      bstrap=False)
    cells = S.callaway_santanna(df, "y", "id", "year", "g", aggregate="group_time",
                                base_period="universal")
    ours = {(c.cohort, c.period): c.estimate for c in cells}
    theirs = dict(zip(zip(ref.results["group"], ref.results["year"]), ref.results["att"]))
    assert set(ours) == set(theirs)
    assert [ours[k] for k in theirs] == pytest.approx(list(theirs.values()), abs=1e-8)
    # By hand: a pre cell is a long difference to g-1, so ATT(2005, 2002) compares the change
    # 2004 -> 2002 of cohort 2005 with that of the never-treated; ATT(g, g-1) is exactly 0.
    wide = df.pivot(index="id", columns="year", values="y")
    cohort = df.drop_duplicates("id").set_index("id")["g"]
    change = wide[2002] - wide[2004]
    by_hand = change[cohort == 2005].mean() - change[cohort == 0].mean()
    assert ours[(2005, 2002)] == pytest.approx(by_hand, abs=1e-10)
    assert ours[(2005, 2004)] == 0.0
    assert "base period: universal" in cells[0].notes


def test_event_study_uses_the_wild_bootstrap_with_few_clusters_like_twfe():
    # Before: always CR1, even where TWFE itself switched to the wild bootstrap.
    df = staggered_panel(seed=17, n_units=80)
    df["cl"] = df.id % 10
    records = S.event_study(df, "y", "id", "year", "g", cluster="cl", window=(-2, 2))
    estimated = [r for r in records if not r.is_reference]
    assert all(r.se_type.startswith("wild cluster bootstrap") for r in estimated)
    # Frisch-Waugh-Lovell: each coefficient's WCR p-value equals wildboottest's on the
    # regression of y on every event-time indicator, all residualized on unit and year dummies.
    names = _dummies(df, (-2, 2), -1)
    wild = E.WildOptions()
    resid = pd.DataFrame({v: smf.ols(f"{v} ~ C(id) + C(year)", df).fit().resid
                          for v in ["y", *names.values()]})
    model = sm.OLS(resid["y"], resid[list(names.values())])
    for record in estimated[:2]:
        name = names[record.event_time]
        with contextlib.redirect_stdout(io.StringIO()):
            ref = wildboottest(model, B=wild.reps, cluster=df.cl.to_numpy(), param=name,
                               weights_type=wild.weights, seed=wild.seed, show=False)
        assert record.p_value == pytest.approx(ref["p-value"].iloc[0], abs=1e-12)
    cr1 = S.event_study(df, "y", "id", "year", "g", cluster="cl", window=(-2, 2), se="cluster")
    assert all(r.se_type.startswith("cluster-robust") for r in cr1 if not r.is_reference)


# --------------------------------------------------------------------------- joint inference
def test_event_study_covariance_matches_linearmodels_and_the_standard_errors():
    df = staggered_panel(seed=14)
    records, vcov = S.event_study(df, "y", "id", "year", "g", cluster="county",
                                  window=(-3, 3), se="cluster", return_vcov=True)
    shown = [r for r in records if not r.is_reference and np.isfinite(r.estimate)]
    assert list(vcov.index) == [r.event_time for r in shown]
    assert np.sqrt(np.diag(vcov)) == pytest.approx([r.std_error for r in shown], rel=1e-10)
    # Off-diagonal terms against linearmodels' clustered sandwich on the same dummies,
    # rescaled by the documented CR1 factor (unit effects are not nested in counties).
    cohort = df.g.where(df.g > 0)
    rel = (df.year - cohort).clip(-3, 3)
    dummies = pd.DataFrame({f"e{k}": ((rel == k) & cohort.notna()).astype(float)
                            for k in vcov.index}, index=df.index)
    panel = pd.concat([df, dummies], axis=1).set_index(["id", "year"])
    lm = PanelOLS(panel.y, panel[list(dummies)], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", clusters=panel["county"], debiased=False, auto_df=False,
        count_effects=False)
    # Units nest in counties, so K = slopes + (T - 1) years (the SEs' own tests check this).
    n, k = len(df), len(vcov) + df.year.nunique() - 1
    factor = 25 / 24 * (n - 1) / (n - k)
    assert vcov.to_numpy() == pytest.approx(factor * lm.cov.to_numpy(), rel=1e-6)


def test_callaway_santanna_influence_gives_the_standard_errors_and_covariances():
    df = staggered_panel(seed=15, n_units=200)
    records, influence, clusters = S.callaway_santanna(
        df, "y", "id", "year", "g", aggregate="group_time", return_influence=True)
    assert influence.shape == (200, len(records))
    from analysis.estimators.inference import influence_scores, score_adjustment
    scores = np.column_stack([influence_scores(influence[:, j], clusters)
                              for j in range(influence.shape[1])])
    vcov = score_adjustment(clusters.n) * scores.T @ scores
    assert np.sqrt(np.diag(vcov)) == pytest.approx([r.std_error for r in records], rel=1e-10)
    # Two cells of one cohort share their base period and controls: positively correlated.
    assert vcov[0, 1] != 0


def test_doubly_robust_callaway_santanna_recovers_the_effect_under_conditional_trends():
    # Units with high x are both likelier to be treated and on steeper trends: parallel trends
    # hold only conditional on x. The unconditional estimate is biased; DR, IPW and regression
    # adjustment recover the planted effect of 2.
    rng = np.random.default_rng(16)
    n_units = 3000
    x = rng.normal(size=n_units)
    cohort = np.where(rng.uniform(size=n_units) < 1 / (1 + np.exp(-1.5 * x)),
                      rng.choice([2003, 2004, 2005], size=n_units), 0)
    unit = np.repeat(np.arange(n_units), len(PERIODS))
    year = np.tile(PERIODS, n_units)
    treated = (cohort[unit] > 0) & (year >= cohort[unit])
    y = (rng.normal(size=n_units)[unit] + 0.5 * x[unit] * (year - 2000) + 2.0 * treated
         + rng.normal(size=len(unit)))
    df = pd.DataFrame({"id": unit, "year": year, "g": cohort[unit], "x": x[unit], "y": y})
    plain = S.callaway_santanna(df, "y", "id", "year", "g")[0]
    assert not plain.ci_low <= 2.0 <= plain.ci_high
    for method in ("dr", "ipw", "reg"):
        adjusted = S.callaway_santanna(df, "y", "id", "year", "g", ["x"], est_method=method)[0]
        assert adjusted.ci_low <= 2.0 <= adjusted.ci_high, method
        assert "with covariates x" in adjusted.notes


def test_callaway_santanna_rejects_an_unknown_method():
    with pytest.raises(E.InvalidOptionError, match="est_method"):
        S.callaway_santanna(staggered_panel(), "y", "id", "year", "g", ["x"], est_method="ols")


def test_callaway_santanna_bootstraps_with_few_clusters():
    df = staggered_panel(seed=17).assign(county=lambda d: d.id % 8)
    auto = S.callaway_santanna(df, "y", "id", "year", "g", cluster="county", aggregate="event",
                               wild=S.WildOptions(reps=499, seed=2))
    analytic = S.callaway_santanna(df, "y", "id", "year", "g", cluster="county",
                                   aggregate="event", se="analytic")
    assert all(r.se_type.startswith("cluster score bootstrap, null imposed") for r in auto)
    assert [r.estimate for r in auto] == [r.estimate for r in analytic]
    assert [r.std_error for r in auto] == pytest.approx([r.std_error for r in analytic])
    # Every interval holds its estimate, and the bootstrap differs from t(7).
    for r in auto:
        assert r.ci_low < r.estimate < r.ci_high
    assert [r.ci_low for r in auto] != pytest.approx([r.ci_low for r in analytic])
    by_unit = S.callaway_santanna(df, "y", "id", "year", "g")[0]
    assert by_unit.se_type == "influence function, clustered by id, t(G-1)"
