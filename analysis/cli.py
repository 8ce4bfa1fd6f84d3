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
    from analysis.data.ingest import IngestError, full_list_path, ingest

    raw = args.raw or config.RAW_DIR
    processed = args.processed or config.PROCESSED_DIR
    full_list = full_list_path(processed)
    try:
        manifest = ingest(raw, processed, persons=args.persons, seed=args.seed,
                          chunk_rows=args.chunk_rows or None, scheduler=args.scheduler)
    except IngestError as error:
        error.write_full_list(full_list)
        files = len({record.file for record in error.records})
        print(f"ingest: {len(error.records)} failure(s) in {files} input file(s); "
              f"{config.display_path(processed)} left unchanged\n", file=sys.stderr)
        print(error.report(config.display_path(full_list)), file=sys.stderr)
        return EXIT_FAILED
    full_list.unlink(missing_ok=True)  # the failures of an earlier run no longer hold
    print(f"ingest: wrote {len(manifest['outputs'])} tables to "
          f"{config.display_path(processed)}")
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    from analysis.fleet.platform import (
        FleetModeError, mode, start_workers_early, stop_unused_workers,
    )

    try:
        if not args.scheduler:
            # A bad ANALYSIS_FLEET_MODE stops the build before anything runs; a good one starts
            # the workers' imports while this process imports and plans.
            start_workers_early(mode())
    except FleetModeError as error:
        print(f"build: {error}", file=sys.stderr)
        return EXIT_FAILED
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
        _refuse_unknown_names(only, paths, variants)
        summary = build(only=only, workers=args.workers, paths=paths, force=args.force,
                        scheduler=args.scheduler, variants=variants)
    except (UnknownUnitError, FileNotFoundError, SpecError, PlanError) as error:
        print(f"build: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BuildInterrupted as interrupted:
        print(f"\nbuild: {interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        stop_unused_workers()  # a build refused before it ran anything
    print(summary.to_string(index=False, float_format=lambda seconds: f"{seconds:.1f}"))
    failed = summary[summary["status"] == "failed"]
    ran = int((summary["cached"] == "run").sum())
    print(f"\nbuild: {len(summary) - len(failed)} ok, {len(failed)} failed, {ran} run, "
          f"{len(summary) - ran} unchanged; "
          f"site at {config.SITE_DIR / 'index.html'}")
    return EXIT_FAILED if len(failed) else EXIT_OK


def _refuse_unknown_names(only: list[str] | None, paths, variants: list) -> None:
    """Check ``--only`` against the province table and the plan before any notebook runs;
    :class:`UnknownUnitError` says, for each unknown name, what it is not."""
    import pandas as pd

    from analysis.fleet.build import UnknownUnitError, plan_units

    if not only or not (paths.processed_dir / config.MANIFEST_NAME).exists():
        return  # nothing to check, or build() says to run ingest first
    units = plan_units(paths.processed_dir, plan_path=paths.plan_path, variants=variants)
    scopes = {unit.scope for unit in units if unit.scope}
    analyses = sorted({unit.analysis for unit in units if unit.analysis})
    known = {unit.unit_id for unit in units} | scopes | set(analyses)
    provinces = pd.read_parquet(paths.processed_dir / "provinces.parquet")
    names = dict(zip(provinces["province_code"], provinces["name_en"]))
    plan_file = config.display_path(paths.plan_path)

    def why(name: str) -> str:
        scope, _, analysis = name.partition("-")
        if scope in names and scope not in scopes:
            return (f"{name!r}: {names[scope]} ({scope}) has no pages, since it is not one of "
                    "the poverty-task provinces and has neither panel rows nor published "
                    "figures")
        if scope not in scopes and scope not in analyses:
            return (f"{name!r} is not a province code of "
                    f"{config.display_path(config.PROVINCES_CSV)}, 'national', a site-wide page "
                    f"or an analysis of {plan_file}")
        if analysis in analyses:
            return (f"{name!r}: the unit of that analysis in scope {scope!r} is its main page "
                    f"{scope!r}, or the scope has no panel rows for other analyses")
        return (f"{name!r}: {analysis!r} is not an analysis of {plan_file} (analyses: "
                f"{', '.join(analyses)})")

    unknown = [name for name in only if name not in known]
    if unknown:
        raise UnknownUnitError("nothing was run. " + "; ".join(why(name) for name in unknown)
                               + ".")


def _verify(args: argparse.Namespace) -> int:
    manifest_path = config.PROCESSED_DIR / config.MANIFEST_NAME
    if not manifest_path.exists():
        print(f"verify: {manifest_path} missing; run `python -m analysis ingest`", file=sys.stderr)
        return EXIT_FAILED
    manifest = json.loads(manifest_path.read_text())
    problems = _manifest_problems(manifest)
    for problem in problems:
        print(f"verify: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAILED
    print(f"verify: {len(manifest['inputs'])} inputs and {len(manifest['outputs'])} outputs "
          "match the manifest")
    return _verify_numbers(manifest, args.reference, args.update)


def _manifest_problems(manifest: dict) -> list[str]:
    from analysis.files import sha256_file

    problems = []
    for relative, digest in manifest["inputs"].items():
        path = config.PROJECT_ROOT / relative
        if not path.exists() or sha256_file(path) != digest:
            problems.append(f"input changed since ingest: {relative}")
    for relative, entry in manifest["outputs"].items():
        path = config.PROCESSED_DIR / relative
        if not path.exists() or sha256_file(path) != entry["sha256"]:
            problems.append(f"processed output differs from manifest: {relative}")
    return problems


def _unbuilt_units(units: list, paths) -> dict[str, str]:
    """Units whose results a comparison cannot use, with the reason."""
    from analysis.fleet import build, cache

    reasons = {}
    for unit in units:
        record = cache.read_record(paths.cache_dir, unit.unit_id)
        if record is None or not (paths.results_dir / f"{unit.unit_id}.json").exists():
            reasons[unit.unit_id] = "not built"
        elif record.get("status") != "ok":
            reasons[unit.unit_id] = "failed in the last build"
        elif not build.is_up_to_date(unit, build.key_of(unit, paths), paths):
            reasons[unit.unit_id] = ("built before a change to its notebook, parameters, "
                                     "inputs, code or environment")
    return reasons


def _verify_numbers(manifest: dict, reference_path: Path, update: bool) -> int:
    """Compare the plan's results JSON with the committed reference (or rewrite it)."""
    from analysis.fleet.build import BuildPaths, plan_units
    from analysis.reports import reference

    panel = manifest.get("panel", {})
    shown = config.display_path(reference_path)
    if panel.get("origin") != "simulated":
        print(f"verify: numbers {'not written' if update else 'not compared'}: {shown} holds "
              "the numbers of the demonstration data, and data/processed holds a panel of "
              f"origin {panel.get('origin')!r}", file=sys.stderr if update else sys.stdout)
        return EXIT_FAILED if update else EXIT_OK
    paths = BuildPaths(config.NOTEBOOKS_DIR, config.PROCESSED_DIR, config.REPORTS_DIR,
                       config.RAW_DIR)
    units = plan_units(paths.processed_dir, plan_path=paths.plan_path)
    unbuilt = _unbuilt_units(units, paths)
    for reason in dict.fromkeys(unbuilt.values()):
        named = [unit_id for unit_id, why in unbuilt.items() if why == reason]
        listed = ", ".join(named[:8]) + (f" and {len(named) - 8} more" if len(named) > 8 else "")
        print(f"verify: {len(named)} unit(s) {reason}: {listed}", file=sys.stderr)
    if unbuilt:
        print(f"verify: {len(unbuilt)} of {len(units)} units lack current results: run "
              "`python -m analysis build`, then verify again", file=sys.stderr)
        return EXIT_FAILED
    current, _ = reference.collect(paths.results_dir, [unit.unit_id for unit in units])
    count = sum(len(unit["quantities"]) for unit in current.values())
    if update:
        data = {key: panel.get(key) for key in ("origin", "seed", "persons", "years")}
        reference.write_reference(reference_path, current, data)
        print(f"verify: wrote {count} published numbers of {len(current)} units to {shown}; "
              "commit it with the change that moved them")
        return EXIT_OK
    if not reference_path.exists():
        print(f"verify: {shown} missing; write it with `{reference.UPDATE_COMMAND}`",
              file=sys.stderr)
        return EXIT_FAILED
    expected = reference.read_reference(reference_path)
    changes = reference.compare(expected, current)
    data = {key: panel.get(key) for key in expected.get("data", {})}
    if changes and data != expected.get("data"):
        print(f"verify: the reference was written from other data ({expected.get('data')}); "
              f"data/processed holds {data}", file=sys.stderr)
    if not changes:
        print(f"verify: {count} published numbers of {len(current)} units match {shown}")
        return EXIT_OK
    print(f"verify: {reference.summary_line(changes)} (reference {shown}):\n", file=sys.stderr)
    print(reference.format_changes(changes), file=sys.stderr)
    print(f"\nIf the change is intended, run `{reference.UPDATE_COMMAND}` and commit {shown} "
          "with it.", file=sys.stderr)
    return EXIT_FAILED


def _clean(args: argparse.Namespace) -> int:
    from analysis.files import remove_directory

    remove_directory(config.PROCESSED_DIR)  # the link and every version it pointed to
    print(f"clean: removed {config.PROCESSED_DIR}")
    for directory in (config.REPORT_NOTEBOOKS_DIR, config.RESULTS_DIR, config.SITE_DIR):
        shutil.rmtree(directory, ignore_errors=True)
        print(f"clean: removed {directory}")
    config.REPLICATION_MD.unlink(missing_ok=True)  # written by every build
    print(f"clean: removed {config.REPLICATION_MD}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser(
        "ingest", help="validate data/raw and write data/processed",
        description="Validate every raw table (all failures at once) and write Parquet tables "
                    "plus manifest.json to data/processed; on failure, write nothing. The "
                    "panel is read and written a province at a time, so memory depends on the "
                    "largest province, not on the nation.")
    ingest.add_argument("--persons", type=int, default=config.DEMO_PERSONS,
                        help="persons in the simulated demonstration panel (default %(default)s)")
    ingest.add_argument("--seed", type=int, default=config.DEMO_SEED,
                        help="seed of the demonstration panel (default %(default)s)")
    ingest.add_argument("--raw", type=Path, metavar="DIR",
                        help="folder of raw inputs (default data/raw)")
    ingest.add_argument("--processed", type=Path, metavar="DIR",
                        help="folder to write (default data/processed); every failure is "
                             "listed in ingest_failures.csv beside it")
    ingest.add_argument("--chunk-rows", type=int, default=config.INGEST_CHUNK_ROWS,
                        metavar="N",
                        help="rows of an analyst's extract read at a time (default "
                             "%(default)s; 0 reads each file whole, in memory)")
    ingest.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the panel's tasks (one per extract file or province) on an "
                             "existing Dask cluster, e.g. tcp://10.0.0.5:8786 (workers need "
                             "this environment and the same project paths)")
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
                       help="parallel local workers (default: number of cores)")
    build.add_argument("--force", action="store_true",
                       help="rebuild every unit even when nothing it depends on changed")
    build.add_argument("--scheduler", metavar="ADDRESS",
                       help="run units on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                            "(workers need this environment and the same project paths)")
    build.set_defaults(handler=_build)
    verify = commands.add_parser(
        "verify", help="check data/processed against its manifest and the published numbers "
                       "against the committed reference",
        description="Re-hash raw inputs and processed outputs and compare with manifest.json; "
                    "then compare the numbers of every page of the last build "
                    "(reports/results) with the committed reference and list every number "
                    "that moved beyond its tolerance, was added or was removed.")
    verify.add_argument("--update", action="store_true",
                        help="write the reference from the current results instead of "
                             "comparing (after a full build; commit the file)")
    verify.add_argument("--reference", type=Path, default=config.REFERENCE_NUMBERS,
                        help="the reference file (default "
                             f"{config.display_path(config.REFERENCE_NUMBERS)})")
    verify.set_defaults(handler=_verify)
    clean = commands.add_parser("clean", help="remove generated data and reports",
                                description="Remove data/processed and every generated report.")
    clean.set_defaults(handler=_clean)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)
