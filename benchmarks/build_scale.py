"""Benchmark of a build at registry scale: the headline analysis at 2 million persons.

Ingests the demonstration panel at ``--persons`` (default 2,000,000 persons, 10 million
person-years) into a temporary folder, then builds the headline analysis (``--only``, default
``training_stable_employment``: every province's main page and the national one) from a cold
cache, in a fresh ``python -c`` subprocess as a user would. It samples the memory of every
process of the run (the build, its workers and their kernels) every 50 ms and prints each
unit's time, the national unit against the slowest province unit (target: within 2x, since the
national unit combines the provinces' results instead of re-estimating them), wall times and the
peak memory of each kind of process. A missed target prints FAIL; the exit status is 0 (this is
a measurement, not a test). Results go to ``benchmarks/results/build_scale.json``.

Run::

    .venv/bin/python benchmarks/build_scale.py                      # 2 million persons (~5 min)
    .venv/bin/python benchmarks/build_scale.py --persons 200000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from analysis import config
from analysis.fleet.build import default_workers
from processes import Sampler  # benchmarks/processes.py, beside this script

ROOT = config.PROJECT_ROOT
OUTPUT = ROOT / "benchmarks" / "results" / "build_scale.json"
TARGET_NATIONAL_RATIO = 2.0

INGEST_CODE = """
import sys
from pathlib import Path
from analysis import config
from analysis.data.ingest import ingest
ingest(config.RAW_DIR, Path(sys.argv[1]), persons=int(sys.argv[2]))
"""
BUILD_CODE = """
import json, sys
from pathlib import Path
from analysis.fleet.platform import start_workers_early, stop_unused_workers
start_workers_early()  # as `python -m analysis build` does, before it imports the build
from analysis.fleet.build import BuildPaths, build
args = json.loads(sys.argv[1])
paths = BuildPaths(**{name: Path(value) for name, value in args["paths"].items()})
try:
    table = build(only=args["only"], workers=args["workers"], paths=paths, force=True)
finally:
    stop_unused_workers()  # as the command does
Path(args["summary"]).write_text(table.to_json(orient="records"))
"""


def process_kind(entry: dict) -> str:
    command = entry["command"]
    if "ipykernel_launcher" in command:
        return "kernel"
    if "forkserver" in command or "multiprocessing" in command or "spawn_main" in command:
        return "worker"
    return "main"


def measured_run(command: list[str], env: dict) -> tuple[float, dict, subprocess.CompletedProcess]:
    """Run ``command``, sampling the memory of it and every process it starts every 50 ms."""
    sampler = Sampler(0.05)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    # Read the pipes in threads, so that a full pipe cannot stop the process being sampled.
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda name=name, pipe=pipe: output.__setitem__(
        name, pipe.read()), daemon=True)
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr))]
    for reader in readers:
        reader.start()
    while process.poll() is None:
        sampler.sample([root], {process.pid: "main"})
        time.sleep(sampler.interval)
    for reader in readers:
        reader.join()
    seconds = time.perf_counter() - started
    gib = 1024 ** 3
    peaks = {"peak_gib_by_kind": {k: v / gib for k, v in
                                  sorted(sampler.peaks_by_kind(process_kind).items())},
             "peak_gib_all_processes": sampler.total_peak / gib}
    return seconds, peaks, subprocess.CompletedProcess(command, process.returncode,
                                                       output.get("stdout", ""),
                                                       output.get("stderr", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=2_000_000)
    parser.add_argument("--only", default="training_stable_employment")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="worker processes (default: the build's, one per core)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="build-scale-"))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(scratch / "runtime")}
    try:
        processed = scratch / "processed"
        print(f"ingest {args.persons:,} persons ...", flush=True)
        ingest_seconds, ingest_memory, ingested = measured_run(
            [sys.executable, "-c", INGEST_CODE, str(processed), str(args.persons)], env)
        if ingested.returncode:
            sys.exit(f"ingest failed: {ingested.stderr[-2000:]}")
        summary = scratch / "summary.json"
        build_args = {"paths": {"notebooks_dir": str(config.NOTEBOOKS_DIR),
                                "processed_dir": str(processed),
                                "reports_dir": str(scratch / "reports"),
                                "raw_dir": str(config.RAW_DIR)},
                      "only": args.only.split(","), "workers": args.workers,
                      "summary": str(summary)}
        print(f"build --only {args.only} ({args.workers} workers) ...", flush=True)
        build_seconds, build_memory, built = measured_run(
            [sys.executable, "-c", BUILD_CODE, json.dumps(build_args)], env)
        if built.returncode or not summary.exists():
            sys.exit(f"build failed: {built.stderr[-3000:]}")
        rows = json.loads(summary.read_text())
        person_years = sum(
            __import__("pyarrow.parquet").parquet.ParquetFile(path).metadata.num_rows
            for path in (processed / "panel").glob("*.parquet"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    units = {row["unit_id"]: row for row in rows}
    national = next(row for row in rows if row["unit_id"].startswith(config.NATIONAL_UNIT))
    provinces = [row for row in rows if not row["unit_id"].startswith(config.NATIONAL_UNIT)]
    slowest = max(provinces, key=lambda row: row["seconds"])
    ratio = national["seconds"] / slowest["seconds"]
    failed = [f"{row['unit_id']}: {row['error']}" for row in rows if row["status"] != "ok"]
    targets = {f"national unit / slowest province unit = {ratio:.2f}x "
               f"(target <= {TARGET_NATIONAL_RATIO:g}x)": ratio <= TARGET_NATIONAL_RATIO,
               "every unit ok": not failed}

    print(f"\n{args.persons:,} persons, {person_years:,} person-years, {len(units)} units, "
          f"{args.workers} workers")
    print(f"{'step':<28}{'seconds':>9}{'peak GiB, all processes':>26}")
    print(f"{'ingest':<28}{ingest_seconds:>9.1f}{ingest_memory['peak_gib_all_processes']:>26.2f}")
    print(f"{'build (cold)':<28}{build_seconds:>9.1f}{build_memory['peak_gib_all_processes']:>26.2f}")
    print("    build, peak by process kind: " + ", ".join(
        f"{kind} {gib:.2f} GiB" for kind, gib in build_memory["peak_gib_by_kind"].items()))
    print(f"\n{'unit':<14}{'seconds':>9}")
    for row in sorted(rows, key=lambda row: -row["seconds"]):
        print(f"{row['unit_id']:<14}{row['seconds']:>9.1f}")
    print(f"\nnational {national['seconds']:.1f} s; slowest province {slowest['unit_id']} "
          f"{slowest['seconds']:.1f} s; sum of province units "
          f"{sum(row['seconds'] for row in provinces):.1f} s")
    print("\ntargets")
    for label, passed in targets.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {label}")
    for failure in failed:
        print(f"  FAIL  {failure}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({
        "persons": args.persons, "person_years": person_years, "only": args.only,
        "workers": args.workers, "ingest_seconds": ingest_seconds, "ingest_memory": ingest_memory,
        "build_seconds": build_seconds, "build_memory": build_memory,
        "unit_seconds": {row["unit_id"]: row["seconds"] for row in rows},
        "national_over_slowest_province": ratio,
        "targets": targets}, indent=2))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
