"""Benchmark of the report fleet: naive papermill loop versus `analysis.fleet.build`, in one run.

On the same units (national + every planned province, or the first ``--units N``) and the same
copy of data/processed, it measures:

(a) naive: for each unit, ``papermill`` then ``jupyter nbconvert --to html`` on the command line,
    one subprocess pair per unit, sequentially;
(b) cold build: ``build(paths=..., force=True)`` into an empty reports folder (empty cache);
(c) no-op build: the same build again, nothing changed;
(d) one province changed: every ``<processed>/*/<code>.parquet`` of one province is rewritten
    with its rows in reverse order, then build; the units that re-ran must be that province and
    ``national``.

(b)-(d) each run in a fresh ``python -c`` subprocess, so interpreter start-up and imports count,
as for a user typing the command. Everything is written to a temporary folder; the project's
data/ and reports/ are not touched. Targets: naive / cold >= 10x, cold / floor <= 1.5x (the
floor: each unit's own compute, in one warm process, over the processes that can compute at
once), no-op < 1 s, (d) re-runs exactly the province and national. A missed target prints FAIL, but the exit status is 0: this
is a measurement, not a test. Numbers also go to benchmarks/results/fleet.json.

Run::

    .venv/bin/python benchmarks/fleet.py                 # all units, the build's default workers
    .venv/bin/python benchmarks/fleet.py --units 5 --workers 2 --province 53
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import config
from analysis.fleet.build import UNIT_PHASES, default_workers, notebook_parameters, plan_units

ROOT = config.PROJECT_ROOT
BIN = Path(sys.executable).parent  # .venv/bin: papermill and jupyter live next to python
OUTPUT = ROOT / "benchmarks" / "results" / "fleet.json"
TARGET_SPEED_UP, TARGET_NOOP_SECONDS, TARGET_FLOOR_RATIO = 10.0, 1.0, 1.5

# Each unit's own compute: its notebook's code run in one warm process (imports done once, as in
# a warm kernel), no kernel, papermill, nbformat or nbconvert; argv[1] is a JSON list of
# {"unit", "notebook", "parameters"}; prints a JSON {unit: seconds}.
COMPUTE_CODE = """
import contextlib, io, json, sys, time
import matplotlib
matplotlib.use("Agg")
import nbformat
from analysis.fleet import kernels
exec(kernels.IMPORT_ANALYSIS_CODE)
seconds = {}
for job in json.loads(sys.argv[1]):
    notebook = nbformat.read(job["notebook"], as_version=4)
    namespace = {"__name__": "__main__"}
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            exec(compile(cell.source, job["unit"], "exec"), namespace)
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(job["parameters"])
    seconds[job["unit"]] = time.perf_counter() - started
    import matplotlib.pyplot as plt
    plt.close("all")
print(json.dumps(seconds))
"""

# What a user runs, in a fresh interpreter; argv[1] is a JSON of arguments.
BUILD_CODE = """
import json, sys
from pathlib import Path
from analysis.fleet.platform import start_workers_early, stop_unused_workers
start_workers_early()  # as `python -m analysis build` does, before it imports the build
from analysis.fleet.build import BuildPaths, build
args = json.loads(sys.argv[1])
paths = BuildPaths(**{name: Path(value) for name, value in args["paths"].items()})
try:
    table = build(only=args["only"], workers=args["workers"], paths=paths, force=args["force"],
                  exact=True)
finally:
    stop_unused_workers()  # as the command does
Path(args["summary"]).write_text(table.to_json(orient="records"))
"""


def run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def naive_loop(units, processed: Path, out_dir: Path, env: dict) -> dict:
    out_dir.mkdir(parents=True)
    times = {"papermill": 0.0, "nbconvert": 0.0}
    failed = []
    for unit in units:
        output = out_dir / f"{unit.unit_id}.ipynb"
        # A national unit combines the provinces' results written before it.
        parameters = notebook_parameters(unit, processed, out_dir / f"{unit.unit_id}.json",
                                         out_dir)
        steps = {"papermill": [str(BIN / "papermill"), str(ROOT / "notebooks" / unit.notebook),
                               str(output)]
                 + [part for name, value in parameters.items()
                    for part in (("-p", name, str(value)) if isinstance(value, bool)
                                 else ("-r", name, str(value)))],
                 "nbconvert": [str(BIN / "jupyter"), "nbconvert", "--to", "html", str(output)]}
        for step, command in steps.items():
            started = time.perf_counter()
            result = run(command, env)
            times[step] += time.perf_counter() - started
            if result.returncode:
                failed.append(f"{unit.unit_id} ({step}): {last_line(result.stderr)}")
                break
    return {"seconds": sum(times.values()), **{f"{k}_seconds": v for k, v in times.items()},
            "failed": failed}


def own_compute(units, processed: Path, scratch: Path, env: dict) -> dict:
    """Each unit's notebook code run in-process, after the cold build (whose province results
    the national units read)."""
    jobs = [{"unit": unit.unit_id, "notebook": str(ROOT / "notebooks" / unit.notebook),
             "parameters": notebook_parameters(unit, processed,
                                               scratch / "compute" / f"{unit.unit_id}.json",
                                               scratch / "reports" / "results")}
            for unit in units]
    (scratch / "compute").mkdir(exist_ok=True)
    # One thread per numerical library, as in the fleet's kernels (kernels.SINGLE_THREADED).
    from analysis.fleet.kernels import SINGLE_THREADED

    result = subprocess.run([sys.executable, "-c", COMPUTE_CODE, json.dumps(jobs)],
                            cwd=ROOT / "notebooks", env={**env, **SINGLE_THREADED},
                            capture_output=True, text=True)
    if result.returncode:
        return {"seconds": None, "unit_seconds": {}, "failed": [last_line(result.stderr)]}
    unit_seconds = json.loads(result.stdout.strip().splitlines()[-1])
    return {"seconds": sum(unit_seconds.values()), "unit_seconds": unit_seconds, "failed": []}


def cache_records(reports: Path) -> dict[str, dict]:
    """Each unit's cache record: its key parts (notebook, parameters, inputs, code,
    environment) and where its seconds went (phases)."""
    return {path.stem: json.loads(path.read_text())
            for path in (reports / ".cache").glob("*.json")}


def timed_build(paths: dict, only, workers: int, force: bool, scratch: Path, env: dict) -> dict:
    summary = scratch / "summary.json"
    summary.unlink(missing_ok=True)
    args = {"paths": paths, "only": only, "workers": workers, "force": force,
            "summary": str(summary)}
    before = cache_records(Path(paths["reports_dir"]))
    started = time.perf_counter()
    result = run([sys.executable, "-c", BUILD_CODE, json.dumps(args)], env)
    seconds = time.perf_counter() - started
    if result.returncode or not summary.exists():
        return {"seconds": seconds, "ran": [], "unit_seconds": {}, "why": {}, "phases": {},
                "failed": [f"build crashed: {last_line(result.stderr)}"]}
    rows = json.loads(summary.read_text())
    ran = sorted(row["unit_id"] for row in rows if row["cached"] == "run")
    after = cache_records(Path(paths["reports_dir"]))
    # Why each unit re-ran: which key parts differ from its previous record.
    why = {unit: [name for name, value in after.get(unit, {}).get("parts", {}).items()
                  if before[unit].get("parts", {}).get(name) != value]
           if unit in before else ["no record"]
           for unit in ran}
    # Where the units' seconds went, summed over the units that ran (build.UNIT_PHASES).
    phases = {name: sum(after.get(unit, {}).get("phases", {}).get(name, 0.0) for unit in ran)
              for name in UNIT_PHASES}
    return {"seconds": seconds, "ran": ran, "why": why, "phases": phases,
            "unit_seconds": {row["unit_id"]: row["seconds"] for row in rows
                             if row["cached"] == "run"},
            "failed": [f"{row['unit_id']}: {row['error']}" for row in rows
                       if row["status"] != "ok"]}


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][-300:] if lines else "(no output)"


def change_partitions(processed: Path, code: str) -> list[str]:
    """Reverse the row order of every partition of one province (same rows, new bytes)."""
    changed = []
    for path in sorted(processed.glob(f"*/{code}.parquet")):
        before = path.read_bytes()
        table = pq.read_table(path)
        table = table.take(pa.array(range(table.num_rows - 1, -1, -1)))
        pq.write_table(table, path)
        if path.read_bytes() == before:
            raise RuntimeError(f"rewriting {path} did not change its bytes")
        changed.append(str(path.relative_to(processed)))
    return changed


def kernel_processes(marker: str = "") -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "ipykernel_launcher" in cmdline and marker in cmdline:
            found.append(process)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, help="use the first N planned units (default all)")
    parser.add_argument("--only", help="units, scopes or analyses, as for build --only "
                                       "(e.g. training_stable_employment,training_wage_income)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="worker processes (default: the build's, one per core)")
    parser.add_argument("--province", help="province changed in (d) (default: first with "
                                           "partitions)")
    parser.add_argument("--processed", type=Path, default=config.PROCESSED_DIR,
                        help="processed folder to copy (default data/processed)")
    args = parser.parse_args()

    kernels_before = len(kernel_processes())
    scratch = Path(tempfile.mkdtemp(prefix="fleet-benchmark-"))
    # Kernels' connection files go under the scratch folder, so our own kernels can be told apart.
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(scratch / "runtime")}
    try:
        processed = scratch / "processed"
        shutil.copytree(args.processed, processed)
        if not (processed / config.MANIFEST_NAME).exists():
            from analysis.data.ingest import ingest

            ingest(config.RAW_DIR, processed)
        units = plan_units(processed, args.only.split(",") if args.only else None)[:args.units]
        # Dependents (a national unit combines its provinces' results) after their provinces.
        units = sorted(units, key=lambda unit: bool(unit.depends_on))
        ids = [unit.unit_id for unit in units]
        only = ids if (args.units or args.only) else None
        scope_of = {unit.unit_id: unit.scope for unit in units}
        with_partitions = list(dict.fromkeys(
            scope_of[i] for i in ids if scope_of[i] and any(processed.glob(f"*/{scope_of[i]}.parquet"))))
        province = args.province or (with_partitions[0] if with_partitions else None)
        problem = None
        if province is None or province not in with_partitions:
            problem = (f"no partition files */{province or '<code>'}.parquet in {args.processed} "
                       f"for {'any chosen unit' if province is None else 'unit ' + province}:"
                       " step (d) cannot run")
            print(f"WARNING: {problem}", flush=True)
        paths = {"notebooks_dir": str(config.NOTEBOOKS_DIR), "processed_dir": str(processed),
                 "reports_dir": str(scratch / "reports"), "raw_dir": str(config.RAW_DIR)}
        print(f"{len(units)} units, {args.workers} workers, scratch {scratch}", flush=True)

        print("(a) naive papermill + nbconvert loop ...", flush=True)
        naive = naive_loop(units, processed, scratch / "naive", env)
        print("(b) cold build ...", flush=True)
        cold = timed_build(paths, only, args.workers, True, scratch, env)
        print("(e) each unit's own compute, in one process ...", flush=True)
        compute = own_compute(units, processed, scratch, env)
        print("(c) no-op build ...", flush=True)
        noop = timed_build(paths, only, args.workers, False, scratch, env)
        changed, change = [], {"seconds": None, "ran": [], "why": {}, "failed": []}
        if problem is None:
            print(f"(d) build after changing province {province} ...", flush=True)
            changed = change_partitions(processed, province)
            change = timed_build(paths, only, args.workers, False, scratch, env)

        time.sleep(3)  # kernels exit on their own shortly after their parent is gone
        ours_left = kernel_processes(str(scratch))
        kernels_after = len(kernel_processes())
        for process in ours_left:  # don't let a leak accumulate over repeated runs
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    n = len(units)
    speed_up = naive["seconds"] / cold["seconds"]
    cores = os.cpu_count() or 1
    # The floor: the units' own compute spread over the processes that can compute at once.
    floor = (compute["seconds"] or float("nan")) / min(args.workers, cores)
    floor_ratio = cold["seconds"] / floor
    # A province's data feed its own units (every analysis) and the national units.
    expected = sorted(u.unit_id for u in units if u.scope in {province, config.NATIONAL_UNIT}) \
        if province else []
    targets = {
        f"naive / cold = {speed_up:.1f}x (target >= {TARGET_SPEED_UP:g}x)":
            speed_up >= TARGET_SPEED_UP,
        f"cold / floor = {floor_ratio:.2f}x (target <= {TARGET_FLOOR_RATIO:g}x)":
            floor_ratio <= TARGET_FLOOR_RATIO,
        f"no-op build = {noop['seconds']:.2f} s (target < {TARGET_NOOP_SECONDS:g} s)":
            noop["seconds"] < TARGET_NOOP_SECONDS,
        (problem or f"(d) re-ran {change['ran']} (target {expected})"):
            problem is None and change["ran"] == expected,
        "every unit ok in every step":
            not any(step["failed"] for step in (naive, cold, noop, change, compute)),
        f"kernels left behind by this run: {len(ours_left)} (target 0)": not ours_left,
    }
    print(f"\n{'measurement':<36}{'seconds':>9}{'s/unit':>9}{'units run':>11}")
    for name, step, count in [("(a) naive papermill + nbconvert", naive, n),
                              ("(b) cold build", cold, len(cold["ran"])),
                              (f"(e) floor: own compute / {min(args.workers, cores)}",
                               {"seconds": floor}, n),
                              ("(c) no-op build", noop, len(noop["ran"])),
                              (f"(d) one province ({province}) changed", change, len(change["ran"]))]:
        if step["seconds"] is None:
            print(f"{name:<36}{'-':>9}{'-':>9}{'-':>11}")
        else:
            print(f"{name:<36}{step['seconds']:>9.2f}{step['seconds'] / n:>9.2f}{count:>11}")
    print(f"    naive split: papermill {naive['papermill_seconds']:.1f} s, "
          f"nbconvert {naive['nbconvert_seconds']:.1f} s")
    if cold["unit_seconds"]:
        unit_times = cold["unit_seconds"]
        print(f"    cold build, per unit in its worker: median "
              f"{statistics.median(unit_times.values()):.2f} s, max {max(unit_times.values()):.2f}"
              f" s ({max(unit_times, key=unit_times.get)}), national "
              f"{unit_times.get(config.NATIONAL_UNIT, float('nan')):.2f} s, sum "
              f"{sum(unit_times.values()):.1f} s over {args.workers} workers")
        print("    cold build, where the units' seconds went: " + ", ".join(
            f"{name} {seconds:.1f} s" for name, seconds in cold["phases"].items()))
        print(f"    cold build, wall time outside the units (start-up, worker pool, site pages, "
              f"replication): {cold['seconds'] - sum(unit_times.values()) / args.workers:.1f} s")
    if changed:
        print(f"    (d) rewrote {', '.join(changed)} (rows reversed)")
    for name, step in [("no-op", noop), ("(d)", change)]:
        reasons = sorted({", ".join(parts) for parts in step["why"].values()})
        if reasons:
            print(f"    {name} re-ran units because their key changed in: {'; '.join(reasons)}")
    print(f"    ipykernel_launcher processes: {kernels_before} before, {kernels_after} after"
          f" (all users' kernels); {len(ours_left)} of ours left behind")
    print("\ntargets")
    for label, passed in targets.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {label}")
    for name, step in [("naive", naive), ("cold", cold), ("no-op", noop), ("change", change),
                       ("own compute", compute)]:
        for failure in step["failed"]:
            print(f"  FAIL  {name}: {failure}")

    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({
        "units": ids, "workers": args.workers, "province_changed": province,
        "partitions_changed": changed, "naive": naive, "cold": cold, "noop": noop,
        "compute": compute, "floor": floor, "floor_ratio": floor_ratio, "cores": cores,
        "change": change, "speed_up": speed_up, "expected_rerun": expected,
        "kernels_before": kernels_before, "kernels_after": kernels_after,
        "kernels_left_by_run": len(ours_left),
        "targets": {label: passed for label, passed in targets.items()}}, indent=2,
        default=str))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
