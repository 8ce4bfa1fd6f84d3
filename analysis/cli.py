"""Command line: ``python -m analysis ingest | build | verify | clean`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from analysis import config

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def _ingest(args: argparse.Namespace) -> int:
    from analysis.data.ingest import IngestError, format_failures, ingest

    try:
        manifest = ingest(config.RAW_DIR, config.PROCESSED_DIR, persons=args.persons,
                          seed=args.seed)
    except IngestError as error:
        print(f"ingest: {len(error.failures)} validation failure(s); "
              f"{config.PROCESSED_DIR} left unchanged\n", file=sys.stderr)
        print(format_failures(error.failures), file=sys.stderr)
        return EXIT_FAILED
    print(f"ingest: wrote {len(manifest['outputs'])} tables to {config.PROCESSED_DIR}")
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    from analysis.estimators.spec import SpecError
    from analysis.fleet.build import BuildInterrupted, BuildPaths, UnknownUnitError, build
    from analysis.fleet.plan import PlanError, read_plan, variant_spec

    only = [unit.strip() for unit in args.only.split(",")] if args.only else None
    try:
        paths = BuildPaths(config.NOTEBOOKS_DIR, config.PROCESSED_DIR, config.REPORTS_DIR,
                           config.RAW_DIR)
        variants = []
        if args.parameter or args.spec:
            base = next(planned.spec for planned in read_plan(paths.plan_path) if planned.overview)
            variant = variant_spec(base, args.parameter or [], args.spec)
            if variant.name in {planned.spec.name for planned in read_plan(paths.plan_path)}:
                raise SpecError("name", f"{variant.name!r} is an analysis of the plan; give the "
                                        "variant another name (-p name=...)")
            variants.append(variant)
            only = (only or []) + [variant.name]
            print(f"build: variant {variant.name!r} ({variant.title}, "
                  f"population: {variant.population_label})")
        summary = build(only=only, workers=args.workers, paths=paths, force=args.force,
                        scheduler=args.scheduler, variants=variants)
    except (UnknownUnitError, FileNotFoundError, SpecError, PlanError) as error:
        print(f"build: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BuildInterrupted as interrupted:
        print(f"\nbuild: {interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary.to_string(index=False, float_format=lambda seconds: f"{seconds:.1f}"))
    failed = summary[summary["status"] == "failed"]
    ran = int((summary["cached"] == "run").sum())
    print(f"\nbuild: {len(summary) - len(failed)} ok, {len(failed)} failed, {ran} run, "
          f"{len(summary) - ran} unchanged; "
          f"site at {config.SITE_DIR / 'index.html'}")
    return EXIT_FAILED if len(failed) else EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from analysis.files import sha256_file

    manifest_path = config.PROCESSED_DIR / config.MANIFEST_NAME
    if not manifest_path.exists():
        print(f"verify: {manifest_path} missing; run `python -m analysis ingest`", file=sys.stderr)
        return EXIT_FAILED
    manifest = json.loads(manifest_path.read_text())
    problems = []
    for relative, digest in manifest["inputs"].items():
        path = config.PROJECT_ROOT / relative
        if not path.exists() or sha256_file(path) != digest:
            problems.append(f"input changed since ingest: {relative}")
    for relative, entry in manifest["outputs"].items():
        path = config.PROCESSED_DIR / relative
        if not path.exists() or sha256_file(path) != entry["sha256"]:
            problems.append(f"processed output differs from manifest: {relative}")
    for problem in problems:
        print(f"verify: {problem}", file=sys.stderr)
    if not problems:
        print(f"verify: {len(manifest['inputs'])} inputs and {len(manifest['outputs'])} outputs "
              "match the manifest")
    return EXIT_FAILED if problems else EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    for directory in (config.PROCESSED_DIR, config.REPORT_NOTEBOOKS_DIR, config.RESULTS_DIR,
                      config.SITE_DIR):
        shutil.rmtree(directory, ignore_errors=True)
        print(f"clean: removed {directory}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser(
        "ingest", help="validate data/raw and write data/processed",
        description="Validate every raw table (all failures at once) and write Parquet tables "
                    "plus manifest.json to data/processed; on failure, write nothing.")
    ingest.add_argument("--persons", type=int, default=config.DEMO_PERSONS,
                        help="persons in the simulated demonstration panel (default %(default)s)")
    ingest.add_argument("--seed", type=int, default=config.DEMO_SEED,
                        help="seed of the demonstration panel (default %(default)s)")
    ingest.set_defaults(handler=_ingest)
    build = commands.add_parser(
        "build", help="execute the report notebooks and render the site",
        description="Expand the analysis plan (notebooks/analysis_plan.csv) over the nation and "
                    "the provinces, execute each unit's notebook with papermill in warm kernels, "
                    "skipping units whose inputs, parameters, notebook, code and environment "
                    "are unchanged, then render reports/site.")
    build.add_argument("--only", help="comma-separated unit ids, scopes and/or analyses of the "
                                      "plan, e.g. national,53,training_wage_income (scopes and "
                                      "analyses given together intersect)")
    build.add_argument("-p", "--parameter", action="append", metavar="KEY=VALUE",
                       help="build an ad hoc variant of the headline analysis into its own "
                            "outputs, e.g. -p program=workshop_job -p outcome=wage_income "
                            "(fields: program, outcome, covariates, population, cluster, years, "
                            "headline_estimator, name)")
    build.add_argument("--spec", type=Path, metavar="FILE",
                       help="a JSON file of analysis fields, for an ad hoc variant")
    build.add_argument("--workers", type=int, default=None,
                       help="parallel local workers (default: number of cores + 1)")
    build.add_argument("--force", action="store_true",
                       help="rebuild every unit even when nothing it depends on changed")
    build.add_argument("--scheduler", metavar="ADDRESS",
                       help="run units on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                            "(workers need this environment and the same project paths)")
    build.set_defaults(handler=_build)
    verify = commands.add_parser(
        "verify", help="check data/processed against its manifest",
        description="Re-hash raw inputs and processed outputs and compare with manifest.json.")
    verify.set_defaults(handler=_verify)
    clean = commands.add_parser("clean", help="remove generated data and reports",
                                description="Remove data/processed and every generated report.")
    clean.set_defaults(handler=_clean)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)
