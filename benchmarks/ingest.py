"""Benchmark of registry-scale ingest: wall time and peak memory of every process involved.

For each ``--persons`` size it runs ``python -m analysis ingest --persons N`` (the seeded
demonstration panel: ``panel/``, ``truth/``, ``projection/``, calibration) in a fresh
subprocess, on a copy of data/raw without analyst microdata, into a temporary processed folder.
Every ~50 ms it samples with psutil the resident memory (RSS) of the ingest process and of all
its descendants, and, with ``--dask-workers``, of the Dask scheduler and workers this script
starts (``ingest --scheduler``). It reports each process's peak and the peak of their sum.

With ``--extract-persons N`` it also measures the analyst-extract path: the demonstration
panel of N persons is written, province by province, as one CSV extract in the analyst's own
column names with a ``column_map.json`` (the shape of ``tests/test_microdata.py``'s extracts),
and ingested with ``--chunk-rows``.

Targets: peak < 4 GiB at 10,000,000 persons, and "nearly flat": the peak at 10 M persons
within 1.5x of the peak at 2 M. A missed target prints FAIL; the exit status is 0: this is a
measurement, not a test. Results go to benchmarks/results/ingest.json and ingest.csv. Nothing
in data/ or reports/ is touched.

Run::

    .venv/bin/python benchmarks/ingest.py                              # 2, 6 and 10 million
    .venv/bin/python benchmarks/ingest.py --persons 100000 300000 --extract-persons 100000
    .venv/bin/python benchmarks/ingest.py --persons 2000000 --dask-workers 2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil

from analysis import config
from processes import Sampler  # benchmarks/processes.py, beside this script

ROOT = config.PROJECT_ROOT
RESULTS = ROOT / "benchmarks" / "results"
GIB = 2**30
TARGET_PEAK_BYTES, TARGET_FLAT_RATIO = 4 * GIB, 1.5
TARGET_AT, FLAT_FROM = 10_000_000, 2_000_000
THEIR_NAMES = {"person_id": "pid", "household_id": "hh", "province_code": "prov",
               "county_id": "county", "female": "sex", "months_worked": "months"}


def measure(command: list[str], log: Path, env: dict, interval: float,
            watched: list[psutil.Process], roles: dict[int, str]) -> dict:
    """Run ``command`` to completion, sampling it and ``watched``; wall time and peaks."""
    sampler = Sampler(interval)
    start = time.perf_counter()
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        root = psutil.Process(process.pid)
        roles = {**roles, process.pid: "ingest"}
        while process.poll() is None:
            sampler.sample([root, *watched], roles)
            time.sleep(interval)
    seconds = time.perf_counter() - start
    return {"exit_code": process.returncode, "seconds": round(seconds, 2),
            "peak_rss_bytes": sampler.total_peak,
            "processes": sorted(sampler.peaks.values(), key=lambda p: -p["peak_rss_bytes"]),
            "log_tail": log.read_text()[-600:]}


def ingest_command(raw: Path, processed: Path, persons: int, scheduler: str | None,
                   chunk_rows: int | None = None) -> list[str]:
    command = [sys.executable, "-m", "analysis", "ingest", "--raw", str(raw), "--processed",
               str(processed), "--persons", str(persons)]
    if chunk_rows:
        command += ["--chunk-rows", str(chunk_rows)]
    return command + (["--scheduler", scheduler] if scheduler else [])


def start_cluster(workers: int, scratch: Path, env: dict) -> tuple[str, list[subprocess.Popen]]:
    """A Dask scheduler and ``workers`` single-threaded workers, as processes of this script."""
    address_file = scratch / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    log = open(scratch / "cluster.log", "w")
    started = [subprocess.Popen([dask, "scheduler", "--scheduler-file", str(address_file),
                                 "--no-dashboard"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)]
    for _ in range(100):
        if address_file.exists():
            break
        time.sleep(0.2)
    address = json.loads(address_file.read_text())["address"]
    started += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                  "--no-dashboard", "--local-directory", str(scratch)],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                for _ in range(workers)]
    time.sleep(5)  # the workers connect
    return address, started


def write_extract(processed: Path, raw: Path) -> int:
    """The processed panel as one CSV extract in the analyst's names, province by province."""
    folder = raw / "microdata"
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(folder / "extract.csv", "w", newline="", encoding="utf-8") as stream:
        for k, path in enumerate(sorted((processed / "panel").glob("*.parquet"))):
            part = pd.read_parquet(path).drop(columns=["stable_employment",
                                                       "first_trained_year"])
            part = part.rename(columns=THEIR_NAMES)
            part["sex"] = part["sex"].map({True: "F", False: "M"})
            part.to_csv(stream, index=False, header=k == 0, quoting=csv.QUOTE_MINIMAL)
            rows += len(part)
    (folder / "column_map.json").write_text(json.dumps({
        "file": "extract.csv", "columns": {theirs: ours for ours, theirs in THEIR_NAMES.items()},
        "recode": {"female": {"F": True, "M": False}}}))
    return rows


def tables_written(processed: Path) -> tuple[int, int | None]:
    manifest = json.loads((processed / config.MANIFEST_NAME).read_text())
    return len(manifest["outputs"]), manifest["panel"].get("rows")


def run_size(label: str, command: list[str], processed: Path, scratch: Path, env: dict,
             args, watched, roles) -> dict:
    print(f"{label} ...", flush=True)
    result = measure(command, scratch / f"{label}.log", env, args.interval, watched, roles)
    result["label"] = label
    if result["exit_code"] == 0:
        result["tables"], result["panel_rows"] = tables_written(processed)
    print(f"  {result['seconds']:.1f} s, peak {result['peak_rss_bytes'] / GIB:.2f} GiB "
          f"(exit {result['exit_code']})", flush=True)
    return result


def targets(runs: list[dict]) -> list[tuple[str, bool | None, str]]:
    """(target, passed or None when not measured, detail)."""
    by_persons = {run["persons"]: run for run in runs if run["kind"] == "simulated"}
    checks = []
    at = by_persons.get(TARGET_AT)
    checks.append((f"peak < 4 GiB at {TARGET_AT:,} persons",
                   None if at is None else at["peak_rss_bytes"] < TARGET_PEAK_BYTES,
                   "not measured" if at is None else f"{at['peak_rss_bytes'] / GIB:.2f} GiB"))
    low, high = by_persons.get(FLAT_FROM), by_persons.get(TARGET_AT)
    label = f"peak at {TARGET_AT:,} within {TARGET_FLAT_RATIO}x of peak at {FLAT_FROM:,}"
    if low is None or high is None:  # the smallest and largest measured instead
        sizes = sorted(by_persons)
        if len(sizes) >= 2:
            low, high = by_persons[sizes[0]], by_persons[sizes[-1]]
            label = (f"(sizes measured) peak at {sizes[-1]:,} within {TARGET_FLAT_RATIO}x of "
                     f"peak at {sizes[0]:,}")
    if low is None or high is None:
        checks.append((label, None, "not measured"))
    else:
        ratio = high["peak_rss_bytes"] / low["peak_rss_bytes"]
        checks.append((label, ratio <= TARGET_FLAT_RATIO, f"ratio {ratio:.2f}"))
    checks.append(("every ingest exits 0", all(run["exit_code"] == 0 for run in runs),
                   ", ".join(f"{run['label']}: {run['exit_code']}" for run in runs)))
    return checks


def report(runs: list[dict], checks: list, meta: dict) -> None:
    print(f"\n{'run':<34}{'persons':>12}{'rows':>12}{'seconds':>9}{'peak GiB':>10}"
          f"{'processes':>11}")
    for run in runs:
        print(f"{run['label']:<34}{run['persons']:>12,}{run.get('panel_rows') or 0:>12,}"
              f"{run['seconds']:>9.1f}{run['peak_rss_bytes'] / GIB:>10.2f}"
              f"{len(run['processes']):>11}")
        for process in run["processes"]:
            print(f"    {process['role']:<16} pid {process['pid']:<8} peak "
                  f"{process['peak_rss_bytes'] / GIB:6.2f} GiB  {process['command']}")
    print("\ntargets")
    for label, passed, detail in checks:
        verdict = "n/a " if passed is None else ("PASS" if passed else "FAIL")
        print(f"  {verdict}  {label}: {detail}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps({
        **meta, "runs": runs,
        "targets": [{"target": label, "passed": passed, "detail": detail}
                    for label, passed, detail in checks]}, indent=2))
    with open(RESULTS / "ingest.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["run", "kind", "persons", "panel_rows", "seconds", "peak_rss_gib",
                         "largest_process_gib", "processes", "exit_code"])
        for run in runs:
            writer.writerow([run["label"], run["kind"], run["persons"], run.get("panel_rows"),
                             run["seconds"], round(run["peak_rss_bytes"] / GIB, 3),
                             round(max((p["peak_rss_bytes"] for p in run["processes"]),
                                       default=0) / GIB, 3),
                             len(run["processes"]), run["exit_code"]])
    print(f"\nwrote {(RESULTS / 'ingest.json').relative_to(ROOT)} and "
          f"{(RESULTS / 'ingest.csv').relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, nargs="+",
                        default=[2_000_000, 6_000_000, 10_000_000],
                        help="sizes of the demonstration panel (default 2, 6 and 10 million)")
    parser.add_argument("--extract-persons", type=int, default=0, metavar="N",
                        help="also ingest the N-person panel as an analyst's CSV extract")
    parser.add_argument("--chunk-rows", type=int, default=config.INGEST_CHUNK_ROWS,
                        help="rows of the extract read at a time (default %(default)s)")
    parser.add_argument("--dask-workers", type=int, default=0, metavar="N",
                        help="run ingest on a Dask cluster of N worker processes started here")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between samples")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    scratch = Path(tempfile.mkdtemp(prefix="ingest-benchmark-"))
    cluster: list[subprocess.Popen] = []
    runs = []
    try:
        raw = scratch / "raw"
        shutil.copytree(config.RAW_DIR, raw, ignore=shutil.ignore_patterns("microdata"))
        scheduler, watched, roles = None, [], {}
        if args.dask_workers:
            scheduler, cluster = start_cluster(args.dask_workers, scratch, env)
            watched = [psutil.Process(process.pid) for process in cluster]
            roles = {process.pid: "scheduler" if k == 0 else "worker"
                     for k, process in enumerate(cluster)}
        sizes = sorted(set(args.persons) | ({args.extract_persons} - {0}))
        for persons in sizes:
            processed = scratch / f"simulated-{persons}" / "processed"
            run = run_size(f"simulated {persons:,}", ingest_command(
                raw, processed, persons, scheduler), processed, scratch, env, args, watched,
                roles)
            run.update(kind="simulated", persons=persons)
            if persons in args.persons:
                runs.append(run)
            if persons == args.extract_persons and run["exit_code"] == 0:
                extract_raw = scratch / "raw-extract"
                shutil.copytree(raw, extract_raw)
                print(f"  writing the {persons:,}-person panel as a CSV extract ...", flush=True)
                rows = write_extract(processed, extract_raw)
                target = scratch / f"extract-{persons}" / "processed"
                extract_run = run_size(f"analyst CSV extract {persons:,}", ingest_command(
                    extract_raw, target, persons, scheduler, args.chunk_rows), target, scratch,
                    env, args, watched, roles)
                extract_run.update(kind="analyst extract", persons=persons, extract_rows=rows,
                                   extract_bytes=(extract_raw / "microdata" /
                                                  "extract.csv").stat().st_size,
                                   chunk_rows=args.chunk_rows)
                runs.append(extract_run)
                shutil.rmtree(extract_raw, ignore_errors=True)
                shutil.rmtree(target.parent, ignore_errors=True)
            shutil.rmtree(processed.parent, ignore_errors=True)
    finally:
        for process in reversed(cluster):
            process.terminate()
        for process in cluster:
            process.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)
    meta = {"command": " ".join(sys.argv), "cpus": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total, "interval_seconds": args.interval,
            "dask_workers": args.dask_workers}
    report(runs, targets(runs), meta)


if __name__ == "__main__":
    main()
