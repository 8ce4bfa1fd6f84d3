"""Monte Carlo of the national page's many-provinces methods on the demonstration panel.

Each draw simulates a fresh panel (seed ``--seed + r``), estimates the headline analysis
(training on stable employment, Callaway-Sant'Anna) in each of the 22 provinces, and compares
with each province's planted effect in that draw:

* the raw 95% intervals and the robust empirical-Bayes intervals (coverage, average across
  provinces, and mean length);
* the test of equal effects across provinces (rejection rate: the simulator's province effects
  do differ, with multipliers drawn from Uniform(-0.3, 0.3));
* Holm and Benjamini-Hochberg flags (share of provinces flagged; every planted effect is
  positive, so a flag is never a false finding here: the rate is power).

Outputs (``--out``, default ``benchmarks/results``): ``monte_carlo_provinces.csv`` (one row per
interval kind) and ``monte_carlo_provinces.json`` (run metadata and the same numbers).

Run::

    .venv/bin/python benchmarks/monte_carlo_provinces.py            # committed results (~5 min)
    .venv/bin/python benchmarks/monte_carlo_provinces.py --reps 4   # smoke test
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analysis import config  # noqa: E402
from analysis.data import simulate  # noqa: E402
from analysis.estimators import many_provinces  # noqa: E402
from analysis.estimators import program_effects as pe  # noqa: E402
from analysis.estimators.spec import AnalysisSpec  # noqa: E402

SPEC = AnalysisSpec(program="training", outcome="stable_employment")
DEFAULT_OUT = config.PROJECT_ROOT / "benchmarks" / "results"
_STATE: dict = {}


def _init(provinces, targets, persons) -> None:
    _STATE.update(provinces=provinces, targets=targets, persons=persons)


def one_draw(seed: int) -> dict:
    simulated = simulate.simulate_panel(_STATE["provinces"], _STATE["targets"],
                                        n_persons=_STATE["persons"], seed=seed)
    by_province = pe.headline_by_province(simulated.panel, SPEC, simulated.truth)
    table, test = many_provinces.combine(by_province)
    table = table[table["estimate"].notna()]
    truth = table["true_effect"]
    return {
        "raw_covered": float(((table["ci_low"] <= truth) & (truth <= table["ci_high"])).mean()),
        "raw_length": float((table["ci_high"] - table["ci_low"]).mean()),
        "eb_covered": float(((table["shrunk_ci_low"] <= truth)
                             & (truth <= table["shrunk_ci_high"])).mean()),
        "eb_length": float((table["shrunk_ci_high"] - table["shrunk_ci_low"]).mean()),
        "raw_rmse": float(np.sqrt(np.mean((table["estimate"] - truth) ** 2))),
        "eb_rmse": float(np.sqrt(np.mean((table["shrunk"] - truth) ** 2))),
        "equal_effects_rejected": bool(test.p_value < 0.05),
        "flagged_unadjusted": float((table["ci_low"] > 0).mean()),
        "flagged_holm": float(table["differs_holm"].mean()),
        "flagged_bh": float(table["differs_bh"].mean()),
        "provinces": int(len(table)),
        "true_spread_sd": float(truth.std()),
    }


def summarise(draws: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(draws)
    reps = len(frame)

    def row(kind, covered, length, rmse):
        p = frame[covered].mean()
        return {"interval": kind, "reps": reps, "coverage": p,
                "coverage_mcse": frame[covered].std(ddof=1) / np.sqrt(reps),
                "mean_length": frame[length].mean(), "rmse": frame[rmse].mean()}

    return pd.DataFrame([
        row("raw 95% interval (Callaway-Sant'Anna, as on the province pages: the cluster "
            "score bootstrap below 30 counties)", "raw_covered", "raw_length",
            "raw_rmse"),
        row("robust empirical-Bayes 95% interval", "eb_covered", "eb_length", "eb_rmse"),
    ])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--persons", type=int, default=config.DEMO_PERSONS)
    parser.add_argument("--seed", type=int, default=config.DEMO_SEED)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    provinces = pd.read_csv(config.PROVINCES_CSV, dtype={"province_code": str})
    ledger = pd.read_csv(config.LEDGER_CSV, dtype={"scope": str, "period": str,
                                                   "value_as_written": str})
    targets = simulate.calibration_targets_from_ledger(ledger)
    seeds = [args.seed + rep for rep in range(args.reps)]
    started = time.perf_counter()
    if args.workers == 1:  # in this process (also what the tests use)
        _init(provinces, targets, args.persons)
        draws = [one_draw(seed) for seed in tqdm(seeds, desc="draws")]
    else:
        with ProcessPoolExecutor(args.workers, initializer=_init,
                                 initargs=(provinces, targets, args.persons)) as pool:
            draws = list(tqdm(pool.map(one_draw, seeds), total=len(seeds), desc="draws"))
    seconds = time.perf_counter() - started
    table = summarise(draws)
    frame = pd.DataFrame(draws)
    meta = {
        "description": (
            f"{args.reps} simulated panels of {args.persons:,} persons; in each, training's "
            "effect on stable employment is estimated in every province with Callaway-Sant'Anna "
            "and compared with that province's planted effect in the draw. Coverage is the "
            "share of provinces whose interval contains the planted effect, averaged over "
            "draws. The test of equal effects rejected in "
            f"{frame['equal_effects_rejected'].mean():.0%} of draws (the planted province "
            f"effects differ, with a standard deviation of {frame['true_spread_sd'].mean():.3f}"
            "); provinces flagged as differing from zero: "
            f"{frame['flagged_unadjusted'].mean():.0%} unadjusted, "
            f"{frame['flagged_holm'].mean():.0%} with Holm, "
            f"{frame['flagged_bh'].mean():.0%} with Benjamini-Hochberg (every planted effect "
            "is positive, so these rates are power). Simulated data only."),
        "reps": args.reps, "persons": args.persons, "seed": args.seed, "workers": args.workers,
        "seconds": round(seconds, 1),
        "run_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.PROJECT_ROOT,
                                     capture_output=True, text=True).stdout.strip(),
        "rates": {key: float(frame[key].mean()) for key in (
            "equal_effects_rejected", "flagged_unadjusted", "flagged_holm", "flagged_bh")},
        "results": table.to_dict(orient="records"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "monte_carlo_provinces.csv", index=False, float_format="%.6g")
    (args.out / "monte_carlo_provinces.json").write_text(json.dumps(meta, indent=2) + "\n")
    with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    print(meta["description"])
    print(f"{args.reps} draws, {seconds:.0f} s")


if __name__ == "__main__":
    main()
