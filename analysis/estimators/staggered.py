"""Panel estimators for staggered program take-up: TWFE, event study, Callaway-Sant'Anna.

All three return :class:`analysis.estimators.effects.EffectEstimate` records and raise the
exceptions of :mod:`analysis.estimators.effects`. Conventions specific to panels:

* A unit's cohort is ``first_treated``, the first period in which it is treated.
  **Never-treated units carry 0 or NaN** (both accepted; NaN in ``first_treated`` is
  therefore *not* treated as a missing value). A cohort later than the last period is
  treated as never treated in the sample window (as R ``did``).
* Fixed effects are absorbed by alternating projections (Gaure 2013), so no unit
  dummies are built and 10^6 rows fit in memory and seconds.
* TWFE and event-study SEs are CR1 clustered (by the unit unless ``cluster`` is
  given): ``G/(G-1) * (N-1)/(N-K)``, where K counts the slopes plus the fixed effects
  *not nested* in the clusters (unit effects nested in unit or county clusters are not
  counted; time effects add T-1), the convention of Stata's ``reghdfe`` and R's
  ``fixest`` (Cameron & Miller 2015, sec. IV.C).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special
from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

from analysis.estimators.effects import EffectEstimate, as_binary, check_columns, join_notes, prepare
from analysis.estimators.exceptions import (
    InvalidOptionError, NoVariationError, PanelStructureError, SingularDesignError,
)
from analysis.estimators.inference import (
    Clusters, OLSFit, WildOptions, influence_inference, influence_scores, ols_effect,
    resolve_influence_se_mode, resolve_se_mode,
)

CONTROL_GROUPS = ("never_treated", "not_yet_treated")
AGGREGATIONS = ("simple", "event", "group", "group_time")
BASE_PERIODS = ("varying", "universal")


# --------------------------------------------------------------------------- within transform
def _group_means(matrix, codes, counts):
    sums = np.stack([np.bincount(codes, weights=matrix[:, c], minlength=len(counts))
                     for c in range(matrix.shape[1])], axis=1)
    return (sums / counts[:, None])[codes]


def within_transform(matrix, unit_codes, time_codes, tol=1e-10, max_iter=1000):
    """Residualize columns of ``matrix`` on unit and time fixed effects.

    Alternating projections (demean by unit, then by period, repeat) converge to the
    two-way within transformation; one sweep is exact for balanced panels.
    """
    out = np.array(matrix, dtype=float, copy=True)
    unit_counts, time_counts = np.bincount(unit_codes), np.bincount(time_codes)
    scale = max(1.0, float(np.abs(out).max()))
    for _ in range(max_iter):
        out -= _group_means(out, unit_codes, unit_counts)
        out -= _group_means(out, time_codes, time_counts)
        if np.abs(_group_means(out, unit_codes, unit_counts)).max() < tol * scale:
            return out
    raise SingularDesignError(f"fixed-effect demeaning did not converge in {max_iter} sweeps")


def _nested(inner_codes, outer_codes) -> bool:
    """True when every level of ``inner`` lies within one level of ``outer``."""
    pairs = pd.DataFrame({"i": inner_codes, "o": outer_codes}).drop_duplicates()
    return pairs["i"].is_unique


def _absorbed_df(unit_codes, time_codes, clusters: Clusters) -> int:
    """Fixed-effect parameters counted in K: levels of non-nested effects, minus one."""
    levels = [len(np.unique(c)) for c in (unit_codes, time_codes)
              if not _nested(c, clusters.codes)]
    return max(sum(levels) - 1, 0)


def _panel_sample(df, columns, unit, time, cluster):
    sample, note = prepare(df, [*columns, unit, time], cluster=cluster)
    if sample.duplicated([unit, time]).any():
        raise PanelStructureError(
            f"{int(sample.duplicated([unit, time]).sum())} duplicated ({unit}, {time}) rows")
    unit_codes = pd.factorize(sample[unit], sort=True)[0]
    time_codes = pd.factorize(sample[time], sort=True)[0]
    return sample, note, unit_codes, time_codes


def _panel_clusters(sample, unit, cluster):
    name = cluster or unit
    return Clusters(name, pd.factorize(sample[name], sort=True)[0].astype(np.int64))


# --------------------------------------------------------------------------- TWFE
def two_way_fixed_effects(df, outcome, treatment, unit, time, cluster=None, *, se="auto",
                          alpha=0.05, wild=WildOptions()):
    """Two-way fixed-effects DiD: ``y_it = a_i + l_t + b D_it + e_it``.

    ``b`` is a variance-weighted average of 2x2 DiD comparisons and can be biased
    under staggered timing with heterogeneous effects (Goodman-Bacon 2021); compare
    with :func:`callaway_santanna`. Clustered by ``cluster`` (default: ``unit``,
    Bertrand, Duflo & Mullainathan 2004); CR1 as in the module docstring, or the
    wild cluster bootstrap on the within-transformed data (``se="wild"``, or
    ``"auto"`` with few clusters).

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period (unbalanced allowed).
    outcome, treatment : str
        Outcome and the 0/1 indicator of being treated in that period.
    unit, time : str
        Columns identifying the unit and the period.
    cluster : str, optional
        Cluster column (default ``unit``).
    se : {"auto", "cluster", "wild"}
        As in :func:`analysis.estimators.effects.difference_in_means`.
    wild : analysis.estimators.effects.WildOptions
        Bootstrap settings.

    Returns
    -------
    EffectEstimate
        ``method="two_way_fixed_effects"``; ``n_treated`` counts units ever treated.
    """
    sample, note, unit_codes, time_codes = _panel_sample(
        df, [outcome, treatment], unit, time, cluster)
    sample[treatment] = as_binary(sample[treatment], treatment)
    clusters = _panel_clusters(sample, unit, cluster)
    mode = resolve_se_mode(se, clusters)
    demeaned = within_transform(sample[[outcome, treatment]].to_numpy(float),
                                unit_codes, time_codes)
    if np.sum(demeaned[:, 1] ** 2) < 1e-12 * len(sample):
        raise NoVariationError(f"{treatment} does not vary within units and periods; "
                               "it is absorbed by the fixed effects")
    result = ols_effect(demeaned[:, 0], demeaned[:, 1:], 0, clusters, mode, alpha,
                        extra_k=_absorbed_df(unit_codes, time_codes, clusters), wild=wild)
    estimate, std_error, ci_low, ci_high, p_value, label = result
    return EffectEstimate(
        "two_way_fixed_effects", "ATT (TWFE-weighted)", outcome, treatment, estimate,
        std_error, ci_low, ci_high, p_value, len(sample),
        int(sample.loc[sample[treatment] == 1, unit].nunique()), clusters.n, clusters.name,
        label, join_notes(note, "n_treated counts units ever treated"), alpha)


# --------------------------------------------------------------------------- cohorts
def _cohorts(sample, unit, time, first_treated) -> pd.Series:
    """Per-row cohort with never-treated (0, NaN or later than the last period) as 0."""
    cohort = sample[first_treated].fillna(0)
    if (cohort < 0).any():
        raise InvalidOptionError(f"{first_treated} must be a period, 0 or NaN (never treated)")
    if (cohort.groupby(sample[unit]).nunique() > 1).any():
        bad = cohort.groupby(sample[unit]).nunique()
        raise PanelStructureError(f"{first_treated} changes over time for units "
                                  f"{list(bad[bad > 1].index[:5])}")
    return cohort.where(cohort <= sample[time].max(), 0)


# --------------------------------------------------------------------------- event study
def _event_design(relative, treated, window, reference):
    low, high = window
    binned = np.clip(relative, low, high)
    times = [k for k in range(low, high + 1) if k != reference]
    X = np.column_stack([(treated & (binned == k)).astype(float) for k in times])
    return X, times


def event_study(df, outcome, unit, time, first_treated, cluster=None, *, window=(-4, 4),
                reference=-1, alpha=0.05, se="auto", wild=WildOptions(), return_vcov=False):
    """TWFE event study on relative-time indicators with binned endpoints.

    ``y_it = a_i + l_t + sum_{k != ref} b_k 1[t - g_i = k] + e_it`` where event times
    at or beyond the window ends are pooled into the end bins (Schmidheiny & Siegloch
    2023) and never-treated units (``first_treated`` 0 or NaN) have all indicators
    zero. Returns one record per event time in the window, the reference period with
    estimate 0, NaN SE and ``is_reference=True``. Under heterogeneous effects the
    ``b_k`` mix cohorts with possibly negative weights (Sun & Abraham 2021); compare
    with :func:`callaway_santanna` with ``aggregate="event"``.

    Parameters
    ----------
    first_treated : str
        First treated period of the unit; 0 or NaN for never treated.
    cluster : str, optional
        Cluster column (default ``unit``).
    se : {"auto", "cluster", "wild"}
        CR1, or the wild cluster bootstrap for each coefficient on the within-transformed
        data (``"auto"``: with few clusters, as :func:`two_way_fixed_effects` does).
    wild : analysis.estimators.effects.WildOptions
        Bootstrap settings.
    window : (int, int), default (-4, 4)
        First and last event time; event times outside are binned into the ends.
    reference : int, default -1
        Omitted (normalised) event time, negative and inside the window.
    return_vcov : bool, default False
        Also return the CR1 covariance matrix of the estimated coefficients (a DataFrame
        indexed by event time, reference and empty event times left out), for joint tests
        and simultaneous bands; its diagonal is the square of the CR1 SEs.

    Returns
    -------
    list of EffectEstimate, or (list of EffectEstimate, pandas.DataFrame)
        One per event time ``window[0]..window[1]`` with ``event_time`` set; the
        reference has estimate 0, NaN SE and ``is_reference=True``; an event time with
        no observations has NaN estimate and a note.

    Raises
    ------
    SingularDesignError
        If the indicators are collinear with the fixed effects (all units treated and
        no binning).
    """
    low, high = window
    if not low < 0 <= high or not low <= reference <= high or reference >= 0:
        raise InvalidOptionError(f"need window low < 0 <= high and a negative reference inside it;"
                                 f" got window={window}, reference={reference}")
    check_columns(df, [first_treated])
    sample, note, unit_codes, time_codes = _panel_sample(df, [outcome], unit, time, cluster)
    sample[first_treated] = df.loc[sample.index, first_treated]
    cohort = _cohorts(sample, unit, time, first_treated)
    treated = (cohort > 0).to_numpy()
    if not treated.any():
        raise NoVariationError(f"no unit is treated within the sample ({first_treated})")
    relative = np.where(treated, sample[time] - cohort, 0).astype(int)
    X, times = _event_design(relative, treated, window, reference)
    observed = X.any(axis=0)
    X, estimated = X[:, observed], [k for k, seen in zip(times, observed) if seen]
    clusters = _panel_clusters(sample, unit, cluster)
    mode = resolve_se_mode(se, clusters)
    demeaned = within_transform(np.column_stack([sample[outcome].to_numpy(float), X]),
                                unit_codes, time_codes)
    if np.linalg.matrix_rank(demeaned[:, 1:].T @ demeaned[:, 1:]) < len(estimated):
        raise SingularDesignError(
            "event-time indicators are collinear with the fixed effects; include never-treated"
            " units or narrow the window so endpoints are binned")
    fit = OLSFit.of(demeaned[:, 0], demeaned[:, 1:])
    extra_k = _absorbed_df(unit_codes, time_codes, clusters)
    common = dict(n_obs=len(sample), n_treated=int(sample.loc[treated, unit].nunique()),
                  n_clusters=clusters.n, cluster_var=clusters.name, alpha=alpha)
    records = []
    for k in range(low, high + 1):
        bin_note = (f"binned: event times <= {k}" if k == low else
                    f"binned: event times >= {k}" if k == high else "")
        if k == reference:
            result, label = (0.0, np.nan, np.nan, np.nan, np.nan), "none (reference period)"
            bin_note = join_notes(bin_note, "reference period (normalised to 0)")
        elif k not in estimated:
            result, label = (np.nan,) * 5, "none (no observations)"
            bin_note = join_notes(bin_note, "no observations at this event time")
        else:
            *result, label = ols_effect(demeaned[:, 0], demeaned[:, 1:], estimated.index(k),
                                        clusters, mode, alpha, extra_k=extra_k, fit=fit,
                                        wild=wild)
        records.append(EffectEstimate(
            "event_study_twfe", f"ATT (event time {k})", outcome, first_treated, *result,
            se_type=label, notes=join_notes(note, bin_note), event_time=k,
            is_reference=k == reference, **common))
    if not return_vcov:
        return records
    return records, _cr1_covariance(fit, clusters, extra_k, estimated)


def _cr1_covariance(fit: OLSFit, clusters: Clusters, extra_k: int, labels) -> pd.DataFrame:
    """CR1 covariance of all coefficients of ``fit`` (the SEs of :func:`ols_effect`)."""
    n, k = fit.X.shape
    influence = n * (fit.X @ fit.bread) * fit.resid[:, None]
    sums = np.stack([np.bincount(clusters.codes, weights=influence[:, j], minlength=clusters.n)
                     for j in range(k)], axis=1)
    g = clusters.n
    factor = g / (g - 1) * (n - 1) / (n - k - extra_k)
    return pd.DataFrame(factor * sums.T @ sums / n ** 2, index=labels, columns=labels)


# --------------------------------------------------------------------------- Callaway-Sant'Anna
def _wide_panel(df, outcome, unit, time, first_treated, covariates, cluster):
    """Balanced-panel arrays: outcome and covariates as units x periods."""
    check_columns(df, [first_treated])
    sample, note, _, _ = _panel_sample(df, [outcome, *covariates], unit, time, cluster)
    sample[first_treated] = df.loc[sample.index, first_treated]
    counts = sample.groupby(unit)[time].size()
    n_periods = sample[time].nunique()
    if (counts != n_periods).any():
        raise PanelStructureError(
            f"panel is unbalanced: {int((counts != n_periods).sum())} units are not observed in"
            f" all {n_periods} periods; drop them or balance the panel first")
    sample["_cohort"] = _cohorts(sample, unit, time, first_treated)
    # One pivot for every column: a pivot per column costs its own reshaping (10 ms each).
    columns = list(dict.fromkeys([outcome, *covariates]))
    pivoted = sample.pivot(index=unit, columns=time, values=columns)
    wide = {c: pivoted[c] for c in columns}
    units = wide[outcome].index
    first = sample.drop_duplicates(unit).set_index(unit).loc[units]
    if cluster is not None and (sample.groupby(unit)[cluster].nunique() > 1).any():
        raise PanelStructureError(f"cluster {cluster!r} must be constant within {unit}")
    return wide, first["_cohort"].to_numpy(float), first, note


def _reg_did(dy, treated, x, propensity=None):
    """Outcome-regression DiD for one 2x2 cell (Heckman, Ichimura & Todd 1997;
    ``reg_did_panel`` of Sant'Anna & Zhao 2020). ``x`` includes an intercept, so with
    no covariates this is the difference in mean changes. Returns ATT and IF."""
    control = ~treated
    beta, bread = _control_regression(dy, control, x)
    fitted = x @ beta
    w = treated.astype(float)
    eta_treat, eta_cont = np.sum(w * dy) / w.sum(), np.sum(w * fitted) / w.sum()
    rep_ols = (x * (control * (dy - fitted))[:, None]) @ bread
    inf_treat = w * (dy - eta_treat) / w.mean()
    inf_cont = (w * (fitted - eta_cont) + rep_ols @ np.mean(w[:, None] * x, axis=0)) / w.mean()
    return eta_treat - eta_cont, inf_treat - inf_cont


def _control_regression(dy, control, x):
    """OLS of the outcome change on ``x`` among the controls, and its bread (X'X/n)^-1."""
    gram = x[control].T @ x[control] / len(dy)
    if np.linalg.matrix_rank(gram) < x.shape[1]:
        raise SingularDesignError("covariates are collinear among the control units of a "
                                  "(g,t) cell")
    beta = np.linalg.lstsq(x[control], dy[control], rcond=None)[0]
    return beta, np.linalg.inv(gram)


PROPENSITY_FAILURE = ("the propensity model of a (g,t) cell cannot be fitted (perfect "
                      "separation or collinear covariates in a small cohort)")
PSCORE_TRIM = 0.995
"""Controls with a propensity score above this are dropped from a cell, as R ``DRDID``."""


def _cell_propensity(treated, x):
    """Logit propensity of the cohort vs its controls within a cell: capped fitted scores,
    the controls kept after trimming, and the score's linear representation
    ``score_i' H^-1`` (Sant'Anna & Zhao 2020, R ``DRDID``)."""
    d = treated.astype(float)
    if x.shape[1] == 1:  # no covariates: the score is the share treated, no fit needed
        params = np.array([np.log(d.mean() / (1 - d.mean()))])
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = sm.GLM(d, x, family=sm.families.Binomial()).fit()
            except (np.linalg.LinAlgError, PerfectSeparationError) as error:
                raise SingularDesignError(PROPENSITY_FAILURE) from error
        separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
        if separated or not fit.converged or not np.all(np.isfinite(fit.params)):
            raise SingularDesignError(PROPENSITY_FAILURE)
        params = fit.params
    ps = np.minimum(special.expit(x @ params), 1 - 1e-6)
    keep = treated | (ps < PSCORE_TRIM)
    information = x.T @ (x * (ps * (1 - ps))[:, None])
    if np.linalg.matrix_rank(information) < x.shape[1]:
        raise SingularDesignError(PROPENSITY_FAILURE)
    linear_rep = (x * (d - ps)[:, None]) @ np.linalg.inv(information) * len(d)
    return ps, keep, linear_rep


def _ipw_did(dy, treated, x, propensity=None):
    """Normalized inverse-probability-weighted DiD for one cell (Abadie 2005; Sant'Anna &
    Zhao 2020 ``std_ipw_did_panel``, the ``ipw`` method of R ``did``). Returns ATT and IF."""
    ps, keep, linear_rep = propensity or _cell_propensity(treated, x)
    w_treat = keep * treated
    w_cont = keep * ps * ~treated / (1 - ps)
    eta_treat = np.mean(w_treat * dy) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * dy) / np.mean(w_cont)
    inf_treat = w_treat * (dy - eta_treat) / np.mean(w_treat)
    m2 = np.mean((w_cont * (dy - eta_cont))[:, None] * x, axis=0)
    inf_cont = (w_cont * (dy - eta_cont) + linear_rep @ m2) / np.mean(w_cont)
    return eta_treat - eta_cont, inf_treat - inf_cont


def _dr_did(dy, treated, x, propensity=None):
    """Doubly robust DiD for one cell (Sant'Anna & Zhao 2020 ``drdid_panel``, the default
    ``dr`` method of R ``did``): propensity weights applied to outcome changes net of a
    linear model of the controls' change. Consistent if either model is right."""
    ps, keep, linear_rep = propensity or _cell_propensity(treated, x)
    beta, bread = _control_regression(dy, ~treated, x)
    resid = dy - x @ beta
    w_treat = keep * treated
    w_cont = keep * ps * ~treated / (1 - ps)
    eta_treat = np.mean(w_treat * resid) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * resid) / np.mean(w_cont)
    rep_ols = (x * (~treated * resid)[:, None]) @ bread
    inf_treat = (w_treat * (resid - eta_treat)
                 - rep_ols @ np.mean(w_treat[:, None] * x, axis=0)) / np.mean(w_treat)
    m2 = np.mean((w_cont * (resid - eta_cont))[:, None] * x, axis=0)
    inf_cont = (w_cont * (resid - eta_cont) + linear_rep @ m2
                - rep_ols @ np.mean(w_cont[:, None] * x, axis=0)) / np.mean(w_cont)
    return eta_treat - eta_cont, inf_treat - inf_cont


CELL_ESTIMATORS = {"reg": _reg_did, "ipw": _ipw_did, "dr": _dr_did}
"""2x2 estimators of a (g,t) cell, by R ``did``'s ``est_method`` names."""
CELL_METHOD_NOTES = {"reg": "outcome regression", "ipw": "inverse-probability weighting",
                     "dr": "doubly robust (propensity and outcome models)"}


def _group_time_cells(wide, outcome, cohort, covariates, control_group,
                      base_period="varying", est_method="reg", post_only=False):
    """ATT(g,t) and n-vector influence functions. Post cells compare t with g-1. Pre cells
    compare t with t-1 (R ``did``'s "varying" base: short placebo differences) or, with
    ``base_period="universal"``, with g-1 like the post cells (long differences, the same
    reference as a two-way fixed-effects event study; the cell t = g-1 is then 0 by
    construction and is returned as such). ``post_only`` skips the pre cells (aggregations
    that do not use them)."""
    y = wide[outcome].to_numpy(float)
    periods = wide[outcome].columns.to_numpy()
    n = len(cohort)
    cells = []
    # The propensity model of a cell depends only on its sample and base period, which post
    # cells of a cohort share: fit it once per (cohort, base, sample).
    propensities = {}
    for g in np.unique(cohort[cohort > 0]):
        base_post = np.flatnonzero(periods < g)[-1]
        first_cell = 0 if base_period == "universal" else 1  # varying needs a period before
        for t_idx in range(first_cell, len(periods)):
            t = periods[t_idx]
            if post_only and t < g:
                continue
            base = base_post if (g <= t or base_period == "universal") else t_idx - 1
            control = cohort == 0
            if control_group == "not_yet_treated":
                control = control | ((cohort > t) & (cohort != g))
            mask = (cohort == g) | control
            if not control.any():
                continue
            x = np.column_stack([np.ones(n)] + [wide[c].to_numpy(float)[:, base]
                                                for c in covariates])
            if t_idx == base:  # universal base: the reference period itself
                cells.append({"g": g, "t": t, "att": 0.0, "inf": np.zeros(n)})
                continue
            treated = (cohort == g)[mask]
            propensity = None
            if est_method in ("dr", "ipw") and covariates:
                key = (g, base, mask.tobytes())
                if key not in propensities:
                    propensities[key] = _cell_propensity(treated, x[mask])
                propensity = propensities[key]
            att, inf = CELL_ESTIMATORS[est_method](y[mask, t_idx] - y[mask, base], treated,
                                                   x[mask], propensity)
            full = np.zeros(n)
            full[mask] = inf * n / mask.sum()
            cells.append({"g": g, "t": t, "att": att, "inf": full})
    return cells


def _drop_cohorts_without_post_cells(cells, cohorts):
    """Cells of cohorts that have at least one post-treatment cell, and the cohorts dropped."""
    with_post = {c["g"] for c in cells if c["g"] <= c["t"]}
    dropped = sorted(set(cohorts) - with_post)
    return [c for c in cells if c["g"] in with_post], dropped


def _weight_influence(keep_groups, pg, cohort):
    """Influence of estimated cohort shares on a pg-weighted average (R ``did`` ``wif``)."""
    indicator = (cohort[:, None] == keep_groups[None, :]).astype(float) - pg[None, :]
    total = pg.sum()
    return indicator / total - np.outer(indicator.sum(axis=1), pg / total ** 2)


def _aggregate(att, inf, groups, cohort):
    """Cohort-share weighted average of cells; its influence function includes the
    estimation of the shares."""
    pg = np.array([np.mean(cohort == g) for g in groups])
    weights = pg / pg.sum()
    influence = inf @ weights + _weight_influence(groups, pg, cohort) @ att
    return float(att @ weights), influence


def _cs_aggregations(cells, cohort, aggregate):
    """(label, estimate, influence, extra fields) tuples for the requested aggregation."""
    g = np.array([c["g"] for c in cells])
    t = np.array([c["t"] for c in cells])
    att = np.array([c["att"] for c in cells])
    inf = np.column_stack([c["inf"] for c in cells])
    if aggregate == "group_time":
        return [(f"ATT(g={gi:g}, t={ti:g})", a, inf[:, i],
                 {"cohort": int(gi), "period": int(ti), "event_time": int(ti - gi)})
                for i, (gi, ti, a) in enumerate(zip(g, t, att))]
    post = g <= t
    if aggregate == "simple":
        est, influence = _aggregate(att[post], inf[:, post], g[post], cohort)
        return [("ATT (simple average of post-treatment ATT(g,t))", est, influence, {})]
    if aggregate == "group":
        groups = np.unique(g)
        per = [(gg, att[post & (g == gg)].mean(), inf[:, post & (g == gg)].mean(axis=1))
               for gg in groups]
        est, influence = _aggregate(np.array([p[1] for p in per]),
                                    np.column_stack([p[2] for p in per]), groups, cohort)
        return [("ATT (average over cohorts)", est, influence, {})] + [
            (f"ATT (cohort {gg:g})", a, i, {"cohort": int(gg)}) for gg, a, i in per]
    events = []
    for e in np.unique(t - g):
        sel = (t - g) == e
        events.append((e, *_aggregate(att[sel], inf[:, sel], g[sel], cohort)))
    post_events = [ev for ev in events if ev[0] >= 0]
    est = float(np.mean([ev[1] for ev in post_events]))
    influence = np.mean(np.column_stack([ev[2] for ev in post_events]), axis=1)
    return [("ATT (average over event times >= 0)", est, influence, {})] + [
        (f"ATT (event time {int(e)})", a, i, {"event_time": int(e)}) for e, a, i in events]


def callaway_santanna(df, outcome, unit, time, first_treated, covariates=None, *,
                      control_group="never_treated", cluster=None, aggregate="simple",
                      alpha=0.05, return_scores=False, base_period="varying", est_method="dr",
                      return_influence=False, se="auto", wild=WildOptions()):
    """Heterogeneity-robust staggered DiD of Callaway & Sant'Anna (2021), balanced panels.

    Group-time effects ``ATT(g,t)`` compare the change in outcomes from the base
    period (g-1 for t >= g; t-1 for placebo cells t < g) between cohort ``g`` and the
    control group (never treated, or not yet treated by t). With ``covariates``
    (base-period values), conditional parallel trends: each cell is the doubly robust DiD of
    Sant'Anna & Zhao (2020) (``est_method="dr"``, R ``did``'s default), inverse-probability
    weighting (``"ipw"``) or outcome regression (``"reg"``); without covariates the three
    are the same difference in mean changes. Aggregations follow R ``did``: ``"simple"`` (cohort-size weighted mean of
    post cells), ``"event"`` (by event time e = t - g; the overall is the mean over
    e >= 0), ``"group"`` (by cohort; overall weighted by cohort size) and
    ``"group_time"`` (the cells themselves). SEs from the influence function
    including the estimated cohort shares, clustered by ``unit`` by default or by a
    coarser ``cluster`` constant within unit, with a G/(G-1) factor (R ``did`` has
    none; the difference is negligible with many clusters). Units treated in the
    first period (no pre-period) are dropped and reported, as in R ``did``.

    Parameters
    ----------
    df : pandas.DataFrame
        Balanced long panel (else :class:`PanelStructureError`).
    first_treated : str
        First treated period; 0 or NaN for never treated.
    covariates : list of str, optional
        Conditioning covariates (values in the base period are used).
    control_group : {"never_treated", "not_yet_treated"}
    cluster : str, optional
        Column constant within unit; default clusters by ``unit``.
    aggregate : {"simple", "event", "group", "group_time"}
    base_period : {"varying", "universal"}
        Reference of the pre-treatment cells: the previous period ("varying", R ``did``'s
        default) or g-1 for every cell ("universal", comparable with a TWFE event study).
    est_method : {"dr", "ipw", "reg"}
        Estimator of each (g,t) cell when there are covariates (R ``did``'s names). The
        propensity methods fit a logit of cohort membership within each cell and drop
        controls whose score exceeds :data:`PSCORE_TRIM`, as R ``DRDID``.
    se : {"auto", "analytic", "multiplier"}
        t(G-1) on the clustered influence-function SE, or the p-value and interval of the
        cluster multiplier bootstrap-t (:func:`analysis.estimators.inference.multiplier_bootstrap`,
        the same draws for every record); "auto" bootstraps below
        :data:`~analysis.estimators.inference.WILD_CLUSTER_THRESHOLD` clusters.
    wild : WildOptions
        Draws, weights and seed of the multiplier bootstrap.
    return_influence : bool, default False
        Also return the per-unit influence functions of every record, an (n units x n
        records) array, and the :class:`Clusters` they are summed over: the covariance
        of the records is ``adj * S' S`` with ``S`` the :func:`influence_scores` of each
        column (joint tests, simultaneous bands). Not with ``return_scores``.
    return_scores : bool, default False
        Also return the cluster-level scores of the overall aggregate (the first record),
        a :class:`pandas.Series` indexed by cluster id with
        ``std_error^2 = G/(G-1) * sum(scores^2)``. Not available for ``"group_time"``.

    Returns
    -------
    list of EffectEstimate, (list of EffectEstimate, pandas.Series) or
    (list of EffectEstimate, numpy.ndarray, Clusters)
        The overall aggregate first, then its components (per event time or cohort);
        for ``"group_time"`` one record per ATT(g,t) with ``cohort``, ``period`` and
        ``event_time`` set. ``n_obs`` counts unit-periods, ``n_treated`` units.
    """
    covariates = list(covariates or [])
    if control_group not in CONTROL_GROUPS:
        raise InvalidOptionError(f"control_group must be one of {CONTROL_GROUPS}")
    if aggregate not in AGGREGATIONS:
        raise InvalidOptionError(f"aggregate must be one of {AGGREGATIONS}")
    if return_scores and aggregate == "group_time":
        raise InvalidOptionError("return_scores needs an overall aggregate; "
                                 "aggregate='group_time' has none")
    wide, cohort, first, note = _wide_panel(df, outcome, unit, time, first_treated,
                                            covariates, cluster)
    periods = wide[outcome].columns.to_numpy()
    early = (cohort > 0) & (cohort <= periods[0])
    if early.any():
        note = join_notes(note, f"dropped {int(early.sum())} units treated in the first period")
        keep = ~early
        wide = {k: v.loc[keep] for k, v in wide.items()}
        cohort, first = cohort[keep], first.loc[keep]
    if control_group == "never_treated" and not (cohort == 0).any():
        raise NoVariationError("no never-treated units; use control_group='not_yet_treated'")
    if not (cohort > 0).any():
        raise NoVariationError(f"no unit is treated within the sample ({first_treated})")
    if base_period not in BASE_PERIODS:
        raise InvalidOptionError(f"base_period must be one of {BASE_PERIODS}")
    if est_method not in CELL_ESTIMATORS:
        raise InvalidOptionError(f"est_method must be one of {tuple(CELL_ESTIMATORS)}")
    if return_scores and return_influence:
        raise InvalidOptionError("ask for return_scores or return_influence, not both")
    post_only = aggregate in ("simple", "group")
    cells = _group_time_cells(wide, outcome, cohort, covariates, control_group, base_period,
                              est_method, post_only)
    cohorts = np.unique(cohort[cohort > 0])
    n_possible = (sum(int((periods >= g).sum()) for g in cohorts) if post_only else
                  len(cohorts) * (len(periods) - (0 if base_period == "universal" else 1)))
    if not cells:
        raise NoVariationError("no (g,t) cell has control units")
    if len(cells) < n_possible:
        note = join_notes(note, f"skipped {n_possible - len(cells)} (g,t) cells without "
                                "control units")
    cells, dropped = _drop_cohorts_without_post_cells(cells, cohorts)
    if dropped:
        # As R `did`: with not-yet-treated controls and no never-treated units, the last cohort
        # has no one left to compare with once it is treated; it serves as a control only.
        note = join_notes(note, "dropped cohort(s) " + ", ".join(f"{g:g}" for g in dropped)
                          + ": no valid control units after treatment (used as controls only)")
        if not cells:
            raise NoVariationError("no cohort has control units after its treatment")
    codes, ids = pd.factorize(first[cluster] if cluster else first.index, sort=True)
    clusters = Clusters(cluster or unit, codes.astype(np.int64))
    mode = resolve_influence_se_mode(se, clusters)
    aggregations = _cs_aggregations(cells, cohort, aggregate)
    records = []
    for label, est, influence, extra in aggregations:
        std_error, ci_low, ci_high, p_value, se_label = influence_inference(
            float(est), influence, clusters, mode, wild, alpha)
        records.append(EffectEstimate(
            "callaway_santanna", label, outcome, first_treated, float(est), std_error,
            ci_low, ci_high, p_value, len(cohort) * len(periods),
            int((cohort > 0).sum()), clusters.n, clusters.name, se_label,
            join_notes(note, f"control group: {control_group}",
                       f"base period: {base_period}",
                       f"{CELL_METHOD_NOTES[est_method]} with covariates "
                       f"{', '.join(covariates)}" if covariates else "",
                       "n_obs counts unit-periods, n_treated units"), alpha, **extra))
    if return_influence:
        return records, np.column_stack([a[2] for a in aggregations]), clusters
    if not return_scores:
        return records
    scores = influence_scores(aggregations[0][2], clusters)
    return records, pd.Series(scores, index=ids, name="score")
