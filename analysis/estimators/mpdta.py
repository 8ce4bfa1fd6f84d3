"""Validation of the staggered Callaway-Sant'Anna estimator on R ``did``'s ``mpdta`` data.

``mpdta`` is the example data of the R package ``did`` (Callaway & Sant'Anna 2021): log teen
employment (``lemp``) in 500 U.S. counties, 2003-2007, whose states first raised the minimum
wage in 2004, 2006 or 2007 (``first.treat``; 0 for never). The package's README, vignette and
reference pages print, for this data, the group-time effects ATT(g,t), their ``simple``,
``dynamic`` (event study) and ``group`` aggregations and the pre-test of parallel trends;
``data/raw/benchmarks/mpdta_did_printed.csv`` holds every such number with the line it was read
from, plus R output with the bootstrap off that the ``csdid`` package keeps as its reference.

:func:`comparison` runs :func:`analysis.estimators.staggered.callaway_santanna` with the
specification of each R run and sets ours beside R's. Point estimates are deterministic and
must agree to the decimals R printed. Standard errors are not expected to: R's default
(``bstrap = TRUE, biters = 1000``) reports a multiplier-bootstrap standard error, while ours
are analytic from the influence function with a G/(G-1) factor. Against R's analytic standard
errors (bootstrap off) ours are larger by exactly sqrt(G/(G-1)). R's bootstrap standard error
(``R/mboot.R`` with ``BMisc::multiplier_bootstrap``) is the interquartile range of 1,000 draws
``sum_i U_i IF_i / n``, U_i = +-1 (Rademacher), divided by that of a standard normal: it is
random, and where a few counties dominate an estimate (the 2004 cohort has 20) the draws are
flatter than a normal, so the interquartile range overstates the standard deviation by a few
percent. :func:`bootstrap_std_errors` simulates R's procedure on our influence functions to
give the mean and spread of what a run of R would print; each printed bootstrap standard error
is compared with that. :func:`pretest_comparison` does the same for R's Wald pre-test
(:mod:`analysis.estimators.pretrends`).

Not compared: R's calendar-time aggregation and balanced event study (``balance_e``), which
the estimator does not implement, and R's simultaneous confidence bands.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from scipy import stats

from analysis import config
from analysis.estimators import effects, pretrends
from analysis.estimators.inference import score_adjustment
from analysis.estimators.staggered import callaway_santanna

OUTCOME, UNIT, TIME, FIRST_TREATED = "lemp", "countyreal", "year", "first.treat"
COLUMNS = ("year", "countyreal", "lpop", "lemp", "first.treat", "treat")

AGGREGATES = {"group_time": "group_time", "simple": "simple", "dynamic": "event",
              "group": "group"}
"""R ``aggte`` type (the printed file's ``table``) -> ``aggregate`` of ``callaway_santanna``."""
AGGREGATE_NAMES = {"group_time": "cohort and year", "simple": "simple average",
                   "dynamic": "event study", "group": "by cohort"}
CONTROL_GROUPS = {"nevertreated": "never_treated", "notyettreated": "not_yet_treated"}
"""R ``control_group`` -> ours."""
CONTROL_GROUP_WORDS = {"nevertreated": "never-treated counties",
                       "notyettreated": "not-yet-treated counties"}
COVARIATE_WORDS = {"lpop": "log county population"}
EST_METHOD_WORDS = {"reg": "outcome regression", "dr": "doubly robust", "ipw": "inverse "
                    "probability weighting"}

RUN_WORDS = {
    "readme": "README, short example",
    "did_basics_vignette": "vignette Getting Started, minimum-wage example",
    "att_gt_example_1": "reference page of att_gt, example 1",
    "att_gt_example_2": "reference page of att_gt, example 2",
    "att_gt_example_3": "reference page of att_gt, example 3",
    "aggte_example": "reference page of aggte, examples",
    "csdid_r_reference_nev_dr": "R output kept by csdid, never-treated controls",
    "csdid_r_reference_nyt_dr": "R output kept by csdid, not-yet-treated controls",
    "csdid_r_reference_nev_reg_cov": "R output kept by csdid, with log population",
}
"""Each R run of the printed file in the reader's words."""

BOOTSTRAP = "multiplier bootstrap (R default, 1000 draws)"
BOOTSTRAP_DRAWS = 1000
ANALYTIC = "analytic influence function (bstrap = FALSE)"
PRETEST = "Wald test on the analytic influence-function covariance"
FULL_PRECISION = 1e-10
"""Agreement required of values R wrote at full precision (empty ``decimals``)."""
BOOTSTRAP_RUNS = 200
"""Simulated runs of R's bootstrap behind :func:`bootstrap_std_errors`."""
BOOTSTRAP_SEED = 20240915
BOOTSTRAP_SDS = 4
"""Printed bootstrap SEs must lie within this many run-to-run SDs of the simulated mean."""
ANALYTIC_SE_RELATIVE = 1e-6
"""Our SE without G/(G-1) must equal R's analytic SE to this relative difference."""


class PrintedSchema(pa.DataFrameModel):
    """``mpdta_did_printed.csv``: one row per number R reported (see its README)."""

    run: Series[str] = pa.Field(isin=list(RUN_WORDS))
    table: Series[str] = pa.Field(isin=[*AGGREGATES, "pretest"])
    cohort: Series[pd.Int64Dtype] = pa.Field(nullable=True, coerce=True)
    period: Series[pd.Int64Dtype] = pa.Field(nullable=True, coerce=True)
    event_time: Series[pd.Int64Dtype] = pa.Field(nullable=True, coerce=True)
    estimate: Series[float] = pa.Field(nullable=True, coerce=True)
    std_error: Series[float] = pa.Field(nullable=True, gt=0, coerce=True)
    statistic: Series[float] = pa.Field(nullable=True, ge=0, coerce=True)
    p_value: Series[float] = pa.Field(nullable=True, ge=0, le=1, coerce=True)
    decimals: Series[pd.Int64Dtype] = pa.Field(nullable=True, coerce=True)
    covariates: Series[str] = pa.Field(isin=["", *COVARIATE_WORDS])
    control_group: Series[str] = pa.Field(isin=list(CONTROL_GROUPS))
    est_method: Series[str] = pa.Field(isin=list(EST_METHOD_WORDS))
    std_error_method: Series[str] = pa.Field(isin=[BOOTSTRAP, ANALYTIC, PRETEST])
    source: Series[str]

    class Config:
        strict = True
        unique = ["run", "table", "cohort", "period", "event_time"]

    @pa.dataframe_check
    def numbers_match_the_table(cls, df: pd.DataFrame) -> pd.Series:
        pretest = df["table"] == "pretest"
        return (pretest == df["estimate"].isna()) & (pretest == df["p_value"].notna())


def load_mpdta(path: Path = config.MPDTA_CSV) -> pd.DataFrame:
    """The ``mpdta`` panel: 2,500 county-years (500 counties, 2003-2007)."""
    data = pd.read_csv(path)
    if tuple(data.columns) != COLUMNS:
        raise effects.MissingColumnError(f"{config.display_path(path)} has columns "
                                         f"{list(data.columns)}, expected {list(COLUMNS)}")
    return data


def published(path: Path = config.MPDTA_PRINTED_CSV) -> pd.DataFrame:
    """What R ``did`` reported for ``mpdta``, validated (``SchemaErrors`` lists every failure)."""
    printed = pd.read_csv(path, keep_default_na=False, na_values=[""])
    printed["covariates"] = printed["covariates"].fillna("")
    return PrintedSchema.validate(printed, lazy=True)


def bootstrap_std_errors(influence: np.ndarray, draws: int = BOOTSTRAP_DRAWS,
                         runs: int = BOOTSTRAP_RUNS, seed: int = BOOTSTRAP_SEED):
    """Mean and SD, over ``runs`` simulated runs, of R ``did``'s bootstrap SE of each column.

    One run is R's ``mboot``: ``draws`` draws ``U' IF / n`` with Rademacher U (one per unit,
    as ``BMisc::multiplier_bootstrap``), then per column
    ``(b[ceiling(.75 B)] - b[ceiling(.25 B)]) / (qnorm(.75) - qnorm(.25))`` on the sorted
    draws b (R's type-1 quartiles). Seeded, so the result is the same on every machine.
    """
    rng = np.random.default_rng(seed)
    n = influence.shape[0]
    upper, lower = int(np.ceil(0.75 * draws)) - 1, int(np.ceil(0.25 * draws)) - 1
    scale = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)
    column_sums = influence.sum(axis=0)
    per_run = []
    for batch in np.array_split(np.arange(runs), -(-runs // 10)):  # 10 runs per product
        # U = 2 B - 1 with B fair random bits, so U'IF = 2 B'IF - sum(IF).
        bits = np.unpackbits(rng.integers(0, 256, size=(len(batch) * draws, -(-n // 8)),
                                          dtype=np.uint8), axis=1, count=n)
        runs_draws = ((2 * (bits.astype(float) @ influence) - column_sums) / n).reshape(
            len(batch), draws, -1)
        sorted_draws = np.sort(runs_draws, axis=1)
        per_run.append((sorted_draws[:, upper] - sorted_draws[:, lower]) / scale)
    per_run = np.concatenate(per_run)
    return per_run.mean(axis=0), per_run.std(axis=0, ddof=1)


# --------------------------------------------------------------------------- our estimates
@lru_cache(maxsize=32)
def _fit(covariates: str, control_group: str, est_method: str, aggregate: str):
    return callaway_santanna(
        load_mpdta(), outcome=OUTCOME, unit=UNIT, time=TIME, first_treated=FIRST_TREATED,
        covariates=[c for c in covariates.split(",") if c],
        control_group=CONTROL_GROUPS[control_group], aggregate=aggregate,
        base_period="varying", est_method=est_method, return_influence=True)


def label(table: str, cohort, period, event_time) -> str:
    """The reader's name of one reported number: "cohort 2004, year 2006", "overall", ..."""
    if table == "group_time":
        return f"cohort {int(cohort)}, year {int(period)}"
    if table == "dynamic" and not pd.isna(event_time):
        e = int(event_time)
        if e == 0:
            return "year of the rise"
        return f"{abs(e)} year{'s' if abs(e) > 1 else ''} {'before' if e < 0 else 'after'} the rise"
    if table == "group" and not pd.isna(cohort):
        return f"cohort {int(cohort)}"
    return "overall"


def our_estimates(table: str, covariates: str = "", control_group: str = "nevertreated",
                  est_method: str = "reg", with_bootstrap: bool = False) -> pd.DataFrame:
    """Our Callaway-Sant'Anna records for one R table and R specification, keyed like R's.

    ``std_error_r_convention`` drops our G/(G-1) factor, as R ``did`` computes its analytic
    standard errors. ``with_bootstrap`` adds ``bootstrap_mean`` and ``bootstrap_sd``, what R's
    default bootstrap would print (:func:`bootstrap_std_errors`).
    """
    records, influence, clusters = _fit(covariates, control_group, est_method,
                                        AGGREGATES[table])
    frame = effects.estimates_to_frame(records)
    if table == "dynamic":
        frame["cohort"] = pd.NA
    if table in ("simple", "dynamic", "group"):
        frame["period"] = pd.NA
    if table != "dynamic":
        frame["event_time"] = pd.NA
    for key in ("cohort", "period", "event_time"):
        frame[key] = frame[key].astype("Int64")
    frame["table"] = table
    frame["label"] = [label(table, *keys) for keys in
                      zip(frame["cohort"], frame["period"], frame["event_time"])]
    frame["std_error_r_convention"] = frame["std_error"] / np.sqrt(score_adjustment(clusters.n))
    if with_bootstrap:
        frame["bootstrap_mean"], frame["bootstrap_sd"] = bootstrap_std_errors(influence)
    return frame


# --------------------------------------------------------------------------- comparisons
SPECIFICATION = ["covariates", "control_group", "est_method"]
KEYS = ["table", "cohort", "period", "event_time"]


def _tolerance(decimals) -> float:
    """Half a unit of the last decimal R printed (plus float noise), or full precision."""
    return FULL_PRECISION if pd.isna(decimals) else 0.5 * 10.0 ** -int(decimals) + 1e-12


def _tolerances(decimals: pd.Series) -> pd.Series:
    return decimals.astype(float).map(_tolerance).astype(float)


def comparison(printed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every estimate R reported for ``mpdta`` beside ours, one row per R number.

    Columns: the R ``run`` and cell, ``estimate`` (ours), ``printed_estimate``, ``difference``
    and ``agrees`` (within half a unit of the last printed decimal); ``std_error`` (ours),
    ``std_error_r_convention`` (ours without G/(G-1)), ``printed_std_error``, how R computed it
    and ``std_error_ratio`` (R's over ours in R's convention); for bootstrap rows
    ``bootstrap_mean`` and ``bootstrap_sd`` (what a run of R's bootstrap prints, on average and
    from run to run) and ``bootstrap_sds`` (how many such SDs the printed value lies from the
    mean); ``std_error_agrees`` and a ``note`` in words.
    """
    printed = published() if printed is None else printed
    rows = printed[printed["table"] != "pretest"]
    fits = rows.groupby(["table", *SPECIFICATION], sort=False)["std_error_method"].apply(
        lambda methods: (methods == BOOTSTRAP).any())
    ours = pd.concat([
        our_estimates(table, *spec, with_bootstrap=bootstrapped).assign(
            **dict(zip(SPECIFICATION, spec)))
        for (table, *spec), bootstrapped in fits.items()], ignore_index=True)
    merged = rows.rename(columns={"estimate": "printed_estimate",
                                  "std_error": "printed_std_error"}).merge(
        ours.reindex(columns=[*KEYS, *SPECIFICATION, "label", "estimate", "std_error",
                              "std_error_r_convention", "bootstrap_mean", "bootstrap_sd",
                              "ci_low", "ci_high"]),
        on=[*KEYS, *SPECIFICATION], how="left", validate="m:1")
    if merged["estimate"].isna().any():
        missing = merged.loc[merged["estimate"].isna(), ["run", *KEYS]]
        raise effects.NoVariationError(f"our estimator returned no estimate for R's\n{missing}")
    merged["difference"] = merged["estimate"] - merged["printed_estimate"]
    merged["agrees"] = merged["difference"].abs() <= _tolerances(merged["decimals"])
    merged = _standard_errors(merged)
    merged["note"] = [_note(row) for row in merged.itertuples()]
    return merged[["run", "table", "label", *KEYS[1:], *SPECIFICATION, "estimate",
                   "printed_estimate", "difference", "decimals", "agrees", "std_error",
                   "std_error_r_convention", "printed_std_error", "std_error_method",
                   "std_error_ratio", "bootstrap_mean", "bootstrap_sd", "bootstrap_sds",
                   "std_error_agrees", "ci_low", "ci_high", "note", "source"]]


def _standard_errors(merged: pd.DataFrame) -> pd.DataFrame:
    """R's standard errors against ours: analytic ones exactly, bootstrap ones against the
    simulated spread of R's bootstrap."""
    bootstrap = merged["std_error_method"] == BOOTSTRAP
    rounding = _tolerances(merged["decimals"])
    merged["std_error_ratio"] = merged["printed_std_error"] / merged["std_error_r_convention"]
    merged["bootstrap_mean"] = merged["bootstrap_mean"].where(bootstrap)
    merged["bootstrap_sd"] = merged["bootstrap_sd"].where(bootstrap)
    gap = merged["printed_std_error"] - merged["bootstrap_mean"]
    merged["bootstrap_sds"] = gap / merged["bootstrap_sd"]
    analytic_gap = merged["printed_std_error"] - merged["std_error_r_convention"]
    merged["std_error_agrees"] = np.where(
        bootstrap, gap.abs() <= BOOTSTRAP_SDS * merged["bootstrap_sd"] + rounding,
        analytic_gap.abs() <= ANALYTIC_SE_RELATIVE * merged["printed_std_error"] + rounding
    ).astype(bool)
    return merged


def _note(row) -> str:
    digits = ("all digits R wrote" if pd.isna(row.decimals)
              else f"the {int(row.decimals)} decimals R printed")
    estimate = (f"Estimate agrees with R's to {digits}." if row.agrees
                else f"Estimate differs from R's beyond {digits}.")
    if row.std_error_method == ANALYTIC:
        se = ("R's standard error is its analytic one (bootstrap off): ours equals it apart "
              "from our G/(G-1) factor.")
    else:
        se = (f"R's standard error is from its default bootstrap (1,000 random draws), ours is "
              f"analytic. A run of R's bootstrap would print {row.bootstrap_mean:.4f} on "
              f"average, give or take {row.bootstrap_sd:.4f}; this one printed "
              f"{row.printed_std_error:.4f}, {row.bootstrap_sds:+.1f} such deviations away.")
    return f"{estimate} {se}"


def pretest_comparison(printed: pd.DataFrame | None = None) -> pd.DataFrame:
    """R's pre-test of parallel trends beside ours, one row per R run that reported it.

    ``statistic_r_convention`` and ``p_value_r_convention`` use R's covariance (no G/(G-1)
    factor) and must give R's p-value to its 5 printed decimals (``agrees``); ``statistic`` and
    ``p_value`` are the project's (with the factor, a statistic (G-1)/G as large).
    """
    printed = published() if printed is None else printed
    rows = []
    for row in printed[printed["table"] == "pretest"].itertuples():
        records, influence, clusters = _fit(row.covariates, row.control_group, row.est_method,
                                            "group_time")
        as_r = pretrends.group_time_pretest(records, influence, clusters,
                                            small_sample_factor=False)
        ours = pretrends.group_time_pretest(records, influence, clusters)
        rows.append({
            "run": row.run, **{key: getattr(row, key) for key in SPECIFICATION},
            "df": ours.df, "printed_statistic": row.statistic, "printed_p_value": row.p_value,
            "statistic_r_convention": as_r.statistic, "p_value_r_convention": as_r.p_value,
            "agrees": abs(as_r.p_value - row.p_value) <= _tolerance(row.decimals),
            "statistic": ours.statistic, "p_value": ours.p_value, "method": ours.method,
            "source": row.source})
        rows[-1]["note"] = (
            f"With R's covariance our p-value {'equals' if rows[-1]['agrees'] else 'differs from'}"
            f" R's to the 5 printed decimals; with our G/(G-1) factor the statistic is "
            f"{clusters.n - 1}/{clusters.n} as large.")
    return pd.DataFrame(rows)


def summary_by_run(compared: pd.DataFrame) -> pd.DataFrame:
    """One row per R run: what it is, how many numbers, the largest gaps, all agree or not."""
    groups = compared.groupby("run", sort=False)
    first = groups.first()
    return pd.DataFrame({
        "run": first.index,
        "specification": [specification_words(*spec) for spec in
                          first[SPECIFICATION].itertuples(index=False)],
        "std_error_method": first["std_error_method"].to_numpy(),
        "numbers": groups.size().to_numpy(),
        "largest_difference": groups["difference"].apply(lambda d: d.abs().max()).to_numpy(),
        "estimates_agree": groups["agrees"].all().to_numpy(),
        "largest_std_error_gap": groups["std_error_ratio"].apply(
            lambda r: (r - 1).abs().max()).to_numpy(),
        "largest_bootstrap_sds": groups["bootstrap_sds"].apply(
            lambda z: z.abs().max()).to_numpy(),
        "std_errors_agree": groups["std_error_agrees"].all().to_numpy(),
    })


def specification_words(covariates: str, control_group: str, est_method: str) -> str:
    """"no covariates, never-treated counties as controls, outcome regression"."""
    adjusted = (f"adjusting for {COVARIATE_WORDS[covariates]}" if covariates
                else "no covariates")
    return (f"{adjusted}, {CONTROL_GROUP_WORDS[control_group]} as controls, "
            f"{EST_METHOD_WORDS[est_method]}")


def default_specification(compared: pd.DataFrame) -> pd.DataFrame:
    """R's example specification (no covariates, never-treated controls) across R's runs.

    One row per number, in R's order (group-time effects, simple average, event study, by
    cohort): ours with its 95% interval, R's printed estimate, the largest gap over R's
    printings and whether all agree, our SE, R's analytic SE (bootstrap off), the lowest and
    highest SE R printed with its bootstrap, how many times R printed it and what R's bootstrap
    prints on average.
    """
    part = compared[(compared["covariates"] == "") & (compared["control_group"] == "nevertreated")]
    keys = ["table", "label"]
    shown = part[part["decimals"].notna()].groupby(keys, sort=False).agg(
        estimate=("estimate", "first"), ci_low=("ci_low", "first"),
        ci_high=("ci_high", "first"), printed_estimate=("printed_estimate", "first"),
        largest_difference=("difference", lambda d: d.abs().max()),
        std_error=("std_error", "first"), printed_std_error_low=("printed_std_error", "min"),
        printed_std_error_high=("printed_std_error", "max"), printings=("run", "size"),
        bootstrap_mean=("bootstrap_mean", "first"), agrees=("agrees", "all"))
    analytic = part[part["std_error_method"] == ANALYTIC].set_index(keys)["printed_std_error"]
    shown["r_analytic_std_error"] = analytic.reindex(shown.index)
    order = {table: position for position, table in enumerate(AGGREGATES)}
    return (shown.reset_index()
            .sort_values("table", key=lambda tables: tables.map(order), kind="stable")
            .reset_index(drop=True))
