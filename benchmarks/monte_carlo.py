"""Monte Carlo validation of the program-effect estimators on the demonstration panel.

The seeded simulator (``analysis.data.simulate``) plants known effects of every program on every
outcome, so every estimator of the registry (``analysis.estimators.registry.ESTIMATORS``) can be
checked against the truth, analysis by analysis. This script draws the demonstration panel ``R``
times (seed ``--seed + r`` for draw ``r``), runs every estimator of every analysis in
``MONTE_CARLO_ANALYSES`` (several programs and outcomes) on each draw and compares each one with
the planted value of *its own* estimand for *its own* program and outcome in *that* draw
(``program_effects.true_values``: the exact sample ATT).

Two designs share each draw:

* ``national_pooled``: the whole panel (22 provinces, ~170 county clusters);
* ``one_province``: the same draw restricted to one mid-sized province (``--province``, 8
  county clusters), where the OLS-based estimators switch to the wild cluster bootstrap; its
  truth is the truth restricted to that province.

Per design and estimator it reports the mean estimate and mean truth, bias (mean of estimate
minus truth) with its Monte Carlo standard error, RMSE, the mean reported standard error
against the spread of the estimates across draws (``sd_estimate``) and of the errors
(``sd_error``, estimate minus truth: the quantity a standard error should match, since the
truth itself varies from draw to draw), and the coverage of the 95% confidence interval (share
of draws whose interval contains that draw's truth) with its Monte Carlo standard error
``sqrt(p (1 - p) / R)``.

Outputs (``--out``, default ``benchmarks/results``): ``monte_carlo.csv`` (one row per design
and estimator) and ``monte_carlo.json`` (run metadata, a plain-English description, the same
table and diagnostics). Results are deterministic for given options: each draw is
single-threaded and seeded, and draws are collected in order whatever the number of workers.

Run::

    .venv/bin/python benchmarks/monte_carlo.py            # the committed results (~10 min, 2 cores)
    .venv/bin/python benchmarks/monte_carlo.py --quick    # smoke test, a few draws
"""

from __future__ import annotations

import os

# One BLAS thread per process: the draws run in parallel instead, and results do not depend
# on the machine's thread count. Must be set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analysis import config  # noqa: E402
from analysis.data import simulate  # noqa: E402
from analysis.estimators import program_effects, registry  # noqa: E402
from analysis.estimators.spec import AnalysisSpec  # noqa: E402

ROOT = config.PROJECT_ROOT
DEFAULT_OUT = ROOT / "benchmarks" / "results"
# Measured at 20,000 persons with 2 workers: 3,000 draws took 426 s on 2 idle cores (~7 draws
# a second) and 1,000 s with other jobs competing for them (load average ~4). 4,000 draws take
# ~10 minutes on 2 idle cores.
DEFAULT_REPS = 4_000
QUICK_REPS = 4
DEFAULT_PERSONS = 20_000
DEFAULT_SEED = config.DEMO_SEED
DEFAULT_PROVINCE = "42"  # Hubei: medium size weight, 8 counties
DESIGNS = ("national_pooled", "one_province")
T_COMPANION_SUFFIX = "__t_interval"
# Two or more programs and three or more outcomes, each checked against its own planted truth.
MONTE_CARLO_ANALYSES = (
    AnalysisSpec(program="training", outcome="stable_employment"),
    AnalysisSpec(program="training", outcome="months_worked"),
    AnalysisSpec(program="public_welfare_post", outcome="stable_employment"),
    AnalysisSpec(program="organized_labor_export", outcome="worked_outside_county"),
    AnalysisSpec(program="workshop_job", outcome="wage_income"),
)
CSV_COLUMNS = ["analysis", "design", "method", "label", "target", "reps", "mean_estimate", "mean_truth",
               "bias", "rmse", "mean_se", "sd_estimate", "coverage", "coverage_mcse",
               # extra diagnostics, after the agreed columns
               "bias_mcse", "sd_error", "inference", "mean_clusters", "failed_draws"]

DESCRIPTION = (
    "Each Monte Carlo draw simulates a fresh demonstration panel of registered poor laborers "
    "(2016-2020) with its own random seed, using the same published calibration targets, and "
    "runs every estimator of several analyses on it ({analyses}). Because the simulator plants "
    "the effect of every program on every outcome, the true value of what each estimator aims "
    "at (its estimand) is known exactly in every draw: the average effect among the people of "
    "that draw who received the program, either in the last panel year (cross-sectional "
    "estimators) or over all their years from first receipt on (panel estimators, for people "
    "who first received it after the first panel year: without a year before, no panel method "
    "can identify the others' effect). "
    "Two designs are run on the same draws: the national pooled panel, with "
    "{pooled_clusters:.0f} county clusters, and one province alone ({province}), with only "
    "{province_clusters:.0f} county clusters, where the regression-based estimators take "
    "their confidence intervals from the wild cluster bootstrap and the others (logit, "
    "weighting, doubly robust and Callaway-Sant'Anna) from the cluster multiplier bootstrap; "
    "beside each, the usual interval from the t distribution with G-1 degrees of freedom on "
    "the same estimate and standard error shows what the bootstrap changes. Bias is the average gap between estimate and truth; RMSE is the "
    "typical size of that gap. \"Coverage\" is the share of draws in which the estimator's "
    "95% confidence interval contains that draw's true value: an estimator whose intervals "
    "are honest covers about 95% of the time, while lower coverage means its intervals are "
    "too narrow or it is "
    "centred on the wrong value. Coverage is itself estimated from a finite number of draws, "
    "so it carries a Monte Carlo standard error of sqrt(p(1-p)/R), about {mcse:.2f} points "
    "at 95% coverage with the R = {reps:,} draws of this run. "
    "The naive difference in means does not adjust for who receives a program and is expected "
    "to be biased; it is shown for contrast. All data are simulated; nothing here is an "
    "official figure."
)

# ---------------------------------------------------------------------------------- one draw
_STATE: dict = {}


def _init_worker(provinces: pd.DataFrame, targets, persons: int, province: str) -> None:
    _STATE.update(provinces=provinces, targets=targets, persons=persons, province=province)


def _design_rows(panel: pd.DataFrame, truth: pd.DataFrame, seed: int) -> dict:
    rows, messages = [], set()
    for spec in MONTE_CARLO_ANALYSES:
        result = _analysis_rows(panel, truth, spec, seed)
        if "error" in result:
            return result
        rows += result["rows"]
        messages |= set(result["warnings"])
    return {"rows": rows, "warnings": sorted(messages)}


def _analysis_rows(panel: pd.DataFrame, truth: pd.DataFrame, spec: AnalysisSpec,
                   seed: int) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = program_effects.estimate_effects(panel, spec, seed=seed)
        except Exception as error:  # noqa: BLE001 - a failed draw is data, not a crash
            return {"error": f"{spec.name}: {type(error).__name__}: {error}",
                    "traceback": traceback.format_exc(limit=3)}
    targets = program_effects.true_values(truth, panel, spec)
    rows = []
    for record in table.itertuples(index=False):
        if not spec.outcome_info.binary and record.method == "logit_average_marginal_effect":
            continue  # only for yes/no outcomes
        rows.append({
            "analysis": spec.name, "method": record.method, "label": record.label,
            "target": record.estimand_label,
            "estimate": float(record.estimate), "std_error": float(record.std_error),
            "ci_low": float(record.ci_low), "ci_high": float(record.ci_high),
            "truth": targets[record.estimand],
            "se_type": record.se_type, "n_clusters": record.n_clusters,
            "notes": record.notes if not np.isfinite(record.estimate) else "",
        })
        if "bootstrap" in str(record.se_type) and np.isfinite(record.std_error):
            rows.append(_t_interval_companion(rows[-1]))
    return {"rows": rows, "warnings": sorted({f"{w.category.__name__}: {w.message}"[:200]
                                              for w in caught})}


def _t_interval_companion(row: dict) -> dict:
    """The same estimate and standard error with the t(G-1) interval the bootstrap replaces,
    so the table shows both inference methods on the same draws."""
    half = stats.t.ppf(0.975, row["n_clusters"] - 1) * row["std_error"]
    return {**row, "method": row["method"] + T_COMPANION_SUFFIX,
            "label": row["label"] + " (t(G-1) interval)",
            "ci_low": row["estimate"] - half, "ci_high": row["estimate"] + half,
            "se_type": "t(G-1) on the same standard error"}


def one_draw(rep: int, seed: int) -> dict:
    """Simulate draw ``rep`` with seed ``seed`` and estimate both designs on it."""
    simulated = simulate.simulate_panel(_STATE["provinces"], _STATE["targets"],
                                        n_persons=_STATE["persons"], seed=seed)
    panel, truth = simulated.panel, simulated.truth
    code = _STATE["province"]
    in_province = panel["province_code"].astype(str) == code
    province_panel = panel.loc[in_province].reset_index(drop=True)
    province_truth = truth.loc[truth["province_code"].astype(str) == code]
    return {"rep": rep, "seed": seed,
            "national_pooled": _design_rows(panel, truth, rep),
            "one_province": _design_rows(province_panel, province_truth, rep)}


def _one_draw_star(args: tuple[int, int]) -> dict:
    return one_draw(*args)


# ---------------------------------------------------------------------------------- summary
def summarise(draws: list[dict]) -> tuple[pd.DataFrame, dict]:
    """One row per design and estimator; diagnostics (failures, warnings)."""
    rows, diagnostics = [], {}
    for design in DESIGNS:
        results = [draw[design] for draw in draws]
        ok = [result for result in results if "rows" in result]
        failures = [{"rep": draw["rep"], "error": draw[design]["error"]}
                    for draw in draws if "error" in draw[design]]
        warning_counts: dict[str, int] = {}
        for result in ok:
            for message in result["warnings"]:
                warning_counts[message] = warning_counts.get(message, 0) + 1
        diagnostics[design] = {"failed_draws": failures[:20], "n_failed": len(failures),
                               "warnings_by_number_of_draws": warning_counts}
        if not ok:
            continue
        long = pd.DataFrame([{**row, "rep": draw["rep"]} for draw in draws
                             if "rows" in draw[design] for row in draw[design]["rows"]])
        estimated = np.isfinite(long[["estimate", "std_error", "ci_low", "ci_high"]]).all(axis=1)
        not_estimated = long.loc[~estimated]
        diagnostics[design]["not_estimated"] = {
            f"{analysis} {method}": {"draws": len(part),
                                     "first_reps": part["rep"].head(10).tolist(),
                                     "example": part["notes"].iloc[0]}
            for (analysis, method), part in not_estimated.groupby(["analysis", "method"],
                                                                  sort=False)}
        for (analysis, method), all_draws in long.groupby(["analysis", "method"], sort=False):
            group = all_draws.loc[estimated.loc[all_draws.index]]
            n_failed = len(failures) + len(all_draws) - len(group)
            if group.empty:
                continue
            est, truth = group["estimate"].to_numpy(), group["truth"].to_numpy()
            error = est - truth
            covered = (group["ci_low"] <= group["truth"]) & (group["truth"] <= group["ci_high"])
            r = len(group)
            p = float(covered.mean())
            rows.append({
                "analysis": analysis, "design": design, "method": method, "label": group["label"].iloc[0],
                "target": group["target"].iloc[0], "reps": r,
                "mean_estimate": est.mean(), "mean_truth": truth.mean(),
                "bias": error.mean(), "rmse": float(np.sqrt(np.mean(error ** 2))),
                "mean_se": group["std_error"].mean(),
                "sd_estimate": est.std(ddof=1) if r > 1 else math.nan,
                "coverage": p, "coverage_mcse": math.sqrt(p * (1 - p) / r),
                "bias_mcse": error.std(ddof=1) / math.sqrt(r) if r > 1 else math.nan,
                "sd_error": error.std(ddof=1) if r > 1 else math.nan,
                "inference": "; ".join(sorted(group["se_type"].astype(str).unique())),
                "mean_clusters": float(pd.to_numeric(group["n_clusters"]).mean()),
                "failed_draws": n_failed,
            })
    return pd.DataFrame(rows, columns=CSV_COLUMNS), diagnostics


# ---------------------------------------------------------------------------------- metadata
def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


SOURCE_FILES = ("analysis/data/simulate.py", "analysis/estimators/program_effects.py",
                "analysis/estimators/effects.py", "analysis/estimators/inference.py",
                "analysis/estimators/registry.py", "analysis/estimators/spec.py",
                "analysis/estimators/staggered.py", "benchmarks/monte_carlo.py")


def _source_digests() -> dict[str, str]:
    """SHA-256 (first 16 hex digits) of the code that produced the numbers: the commit alone
    does not identify it while these files are modified or untracked."""
    return {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:16]
            for name in SOURCE_FILES if (ROOT / name).exists()}


def _load() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _json_ready(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return _json_ready(float(value))
    return value


# ---------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=None,
                        help=f"Monte Carlo draws (default {DEFAULT_REPS}; {QUICK_REPS} with "
                             "--quick)")
    parser.add_argument("--persons", type=int, default=DEFAULT_PERSONS,
                        help=f"persons per simulated panel (default {DEFAULT_PERSONS:,})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"base seed; draw r uses seed + r (default {DEFAULT_SEED})")
    parser.add_argument("--province", default=DEFAULT_PROVINCE,
                        help=f"province code of the one-province design (default "
                             f"{DEFAULT_PROVINCE})")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (default 2; results do not depend on it)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_REPS} draws unless --reps is given")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = QUICK_REPS if args.quick else DEFAULT_REPS
    if args.reps < 1 or args.workers < 1:
        parser.error("--reps and --workers must be at least 1")
    return args


def load_inputs(province: str) -> tuple[pd.DataFrame, object]:
    provinces = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    ledger = pd.read_csv(config.LEDGER_CSV,
                         dtype={"scope": str, "period": str, "value_as_written": str})
    known = set(provinces.loc[provinces["poverty_task"].astype(bool), "province_code"])
    if province not in known:
        raise SystemExit(f"--province {province!r} is not a poverty-task province: "
                         f"{sorted(known)}")
    return provinces, simulate.calibration_targets_from_ledger(ledger)


def run(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    provinces, targets = load_inputs(args.province)
    jobs = [(rep, args.seed + rep) for rep in range(args.reps)]
    init = (provinces, targets, args.persons, args.province)
    # Provenance of the code actually imported, taken before the draws: files may change while
    # a long run is under way.
    commit, status, digests = (_git("rev-parse", "HEAD"),
                               _git("status", "--porcelain", "--untracked-files=no"),
                               _source_digests())
    load_before = _load()
    start = time.perf_counter()
    progress = dict(total=len(jobs), desc="Monte Carlo draws", unit="draw", smoothing=0.05)
    if args.workers == 1:
        _init_worker(*init)
        draws = [one_draw(*job) for job in tqdm(jobs, **progress)]
    else:
        with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=init) as pool:
            draws = list(tqdm(pool.map(_one_draw_star, jobs, chunksize=1), **progress))
    seconds = time.perf_counter() - start
    table, diagnostics = summarise(draws)
    province_name = provinces.loc[provinces["province_code"] == args.province,
                                  "name_en"].iloc[0]
    meta = {
        "reps": args.reps, "persons": args.persons, "seed": args.seed,
        "seeds": f"draw r uses seed {args.seed} + r, r = 0..{args.reps - 1}",
        "province": {"code": args.province, "name": province_name},
        "workers": args.workers,
        "run_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "seconds_per_draw_per_worker": round(seconds * args.workers / args.reps, 3),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15_min": {"start": load_before, "end": _load()},
        "git_commit": commit,
        "git_tracked_files_modified": None if status is None else bool(status),
        "source_sha256": digests,
        "command": " ".join(["benchmarks/monte_carlo.py", *sys.argv[1:]]),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in ("numpy", "pandas", "statsmodels",
                                                       "scipy")},
        "wild_bootstrap_reps": registry.WILD_REPS,
        "analyses": {spec.name: {"title": spec.title, **spec.to_dict()}
                     for spec in MONTE_CARLO_ANALYSES},
        "description": DESCRIPTION.format(
            reps=args.reps, mcse=100 * math.sqrt(0.95 * 0.05 / args.reps),
            analyses="; ".join(spec.title.lower() for spec in MONTE_CARLO_ANALYSES),
            province=province_name, **{
                f"{key}_clusters": table.loc[table["design"] == design, "mean_clusters"].max()
                for key, design in (("pooled", "national_pooled"),
                                    ("province", "one_province"))}),
        "estimands": {estimand.label: estimand.description
                      for estimand in registry.ESTIMANDS.values()},
        "columns": {
            "bias": "mean over draws of estimate minus that draw's truth",
            "rmse": "root mean square of estimate minus truth",
            "mean_se": "mean reported standard error (CR1 clustered or influence-function; "
                       "with the wild cluster bootstrap the interval comes from the bootstrap "
                       "but the reported standard error is still CR1)",
            "sd_estimate": "standard deviation of the estimates across draws",
            "sd_error": "standard deviation of estimate minus truth across draws; the truth "
                        "varies between draws, so this is what mean_se should match",
            "coverage": "share of draws whose 95% interval contains that draw's truth",
            "coverage_mcse": "sqrt(coverage (1 - coverage) / reps)",
            "bias_mcse": "Monte Carlo standard error of the bias",
            "failed_draws": "draws in which this estimator could not be computed (e.g. a "
                            "covariate without variation in one arm); excluded from every "
                            "statistic of its row",
        },
        "diagnostics": diagnostics,
    }
    return table, meta


def write(table: pd.DataFrame, meta: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "monte_carlo.csv", index=False, float_format="%.6g")
    meta = {**meta, "results": table.to_dict(orient="records")}
    (out / "monte_carlo.json").write_text(json.dumps(_json_ready(meta), indent=2,
                                                     ensure_ascii=False) + "\n",
                                          encoding="utf-8")


def show(table: pd.DataFrame, meta: dict) -> None:
    shown = table[["analysis", "design", "method", "target", "reps", "mean_estimate", "mean_truth", "bias",
                   "bias_mcse", "rmse", "mean_se", "sd_estimate", "sd_error", "coverage",
                   "coverage_mcse"]].copy()
    shown["target"] = shown["target"].str.replace("ATT, ", "", regex=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30,
                           "display.float_format", "{:.4f}".format):
        print(shown.to_string(index=False))
    for design, info in meta["diagnostics"].items():
        if info["n_failed"]:
            print(f"{design}: {info['n_failed']} failed draws, e.g. {info['failed_draws'][0]}")
        for method, missing in info.get("not_estimated", {}).items():
            print(f"{design} {method}: not estimated in {missing['draws']} draws, e.g. "
                  f"{missing['example'][:160]}")
    print(f"{meta['reps']} draws x {meta['persons']:,} persons, seed {meta['seed']}, province "
          f"{meta['province']['code']} ({meta['province']['name']}), {meta['workers']} workers: "
          f"{meta['seconds']:.0f} s")


def main(argv=None) -> None:
    args = parse_args(argv)
    table, meta = run(args)
    write(table, meta, args.out)
    show(table, meta)
    print(f"wrote {args.out / 'monte_carlo.csv'} and {args.out / 'monte_carlo.json'}")


if __name__ == "__main__":
    main()
