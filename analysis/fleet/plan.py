"""The analysis plan and the units a build runs: plan x scopes, plus ad hoc variants.

The plan (``notebooks/analysis_plan.csv``) is a table of named analyses, one specification per
row, validated with pandera and then by :class:`AnalysisSpec` itself. Exactly one row is the
``overview`` analysis: its pages are a scope's main page (the province or national page with
the published figures, targets and who gains). ``expand`` multiplies the plan by the scopes:
the nation, the 22 poverty-task provinces, every other province with microdata, and every
other province with published figures (a scope without microdata gets its main page only,
which says so).

Unit ids: the overview analysis of a scope is the scope itself (``53``, ``national``); any
other analysis is ``<scope>-<analysis>`` (``53-training_wage_income``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from analysis import config
from analysis.data.schemas import validate_lazily
from analysis.estimators.spec import (
    DEFAULT_COVARIATES, OUTCOMES, POPULATIONS, PROGRAMS, AnalysisSpec, SpecError,
)

PLAN_FILE = "analysis_plan.csv"  # beside the notebooks it parameterizes
PLAN_CSV = config.NOTEBOOKS_DIR / PLAN_FILE
PAGE_UNITS = ("validation", "methods")


class PlanError(ValueError):
    """Raised when the analysis plan fails validation; ``failures`` lists every problem."""

    def __init__(self, message: str, failures: pd.DataFrame | None = None):
        super().__init__(message)
        self.failures = failures


class UnknownUnitError(ValueError):
    """Raised when ``--only`` names neither a unit, a scope nor an analysis of the plan."""


def _known_population(value: str) -> bool:
    return all(part.strip() in POPULATIONS for part in value.split("+"))


# One named analysis per row. An object schema rather than a DataFrameModel: building a model's
# schema makes pandera import every dataframe library it supports (dask costs a second), and
# every build, even one with nothing to do, reads the plan.
PLAN_SCHEMA = pa.DataFrameSchema(
    {
        "analysis": pa.Column(str, [pa.Check.str_matches(r"^[a-z0-9][a-z0-9_]*$")], unique=True),
        "program": pa.Column(str, pa.Check.isin(list(PROGRAMS))),
        "outcome": pa.Column(str, pa.Check.isin(list(OUTCOMES))),
        "population": pa.Column(str, pa.Check(
            _known_population, element_wise=True,
            error=f"populations joined with '+' from: {', '.join(POPULATIONS)}")),
        "covariates": pa.Column(str),
        "headline_estimator": pa.Column(str),
        "overview": pa.Column(bool),
        "description": pa.Column(str, nullable=True),
    },
    checks=pa.Check(lambda df: int(df["overview"].sum()) == 1,
                    error="exactly one analysis must have overview = true"),
    strict=True, coerce=True, name="PlanSchema")


@dataclass(frozen=True)
class PlannedAnalysis:
    spec: AnalysisSpec
    overview: bool
    description: str = ""


def _covariates(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text == "default":
        return DEFAULT_COVARIATES
    return () if text in ("", "none") else tuple(p.strip() for p in text.split(","))


def read_plan(path: Path = PLAN_CSV) -> list[PlannedAnalysis]:
    """Read and validate the plan; :class:`PlanError` lists every failing row and field."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["overview"] = frame["overview"].str.strip().str.lower().map(
        {"true": True, "false": False, "yes": True, "no": False})
    validated, failures = validate_lazily(PLAN_SCHEMA, frame, str(path))
    if not failures.empty:
        raise PlanError(f"{config.display_path(path)} fails validation:\n"
                        f"{failures.to_string(index=False)}", failures)
    planned = []
    for line, row in enumerate(validated.itertuples(), start=2):
        try:
            spec = AnalysisSpec(program=row.program, outcome=row.outcome,
                                covariates=_covariates(row.covariates),
                                population=row.population,
                                headline_estimator=row.headline_estimator, name=row.analysis)
        except SpecError as error:
            raise PlanError(f"{config.display_path(path)}, line {line} "
                            f"({row.analysis}): {error}") from error
        planned.append(PlannedAnalysis(spec, bool(row.overview), row.description or ""))
    return planned


def variant_spec(base: AnalysisSpec, assignments: list[str], spec_file: Path | None) -> AnalysisSpec:
    """An ad hoc variant: the base spec changed by ``key=value`` pairs and/or a JSON file."""
    changes: dict = {}
    if spec_file is not None:
        changes.update(json.loads(Path(spec_file).read_text(encoding="utf-8")))
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator:
            raise SpecError(assignment, "expected key=value, e.g. -p outcome=wage_income")
        changes[key.strip()] = value.strip()
    known = set(base.to_dict())
    unknown = sorted(set(changes) - known)
    if unknown:
        raise SpecError(unknown[0], f"not a field of an analysis; fields: {', '.join(sorted(known))}")
    return base.replace(**changes)


# ----------------------------------------------------------------------------------------------
# Units


@dataclass(frozen=True)
class Unit:
    """One report: a notebook and the parameters it is executed with."""

    unit_id: str
    notebook: str  # file name in the notebooks folder
    title: str
    parameters: dict = field(default_factory=dict)
    extra_inputs: tuple[str, ...] = ()  # files outside data/processed, relative to the project
    scope: str = ""  # "national", a province code, or "" for site-wide pages
    analysis: str = ""  # the plan's analysis name, or "" for site-wide pages
    overview: bool = False
    # Units whose results this one reads (the national unit of an analysis: its provinces').
    depends_on: tuple[str, ...] = ()


def spec_of(unit: Unit) -> AnalysisSpec:
    """The analysis spec a scope unit runs, rebuilt from its notebook parameters."""
    names = AnalysisSpec().to_parameters()
    return AnalysisSpec.from_parameters(**{name: unit.parameters[name] for name in names})


def unit_id(scope: str, analysis: PlannedAnalysis | AnalysisSpec, overview: bool) -> str:
    name = analysis.name if isinstance(analysis, AnalysisSpec) else analysis.spec.name
    return scope if overview else f"{scope}-{name}"


def _scope_unit(scope: str, title: str, spec: AnalysisSpec, overview: bool) -> Unit:
    if scope == config.NATIONAL_UNIT:
        notebook, parameters = "national.ipynb", {}
    else:
        notebook, parameters = "province.ipynb", {"province_code": scope}
    return Unit(unit_id(scope, spec, overview), notebook,
                title if overview else f"{title}: {spec.title}",
                {**parameters, **spec.to_parameters(), "overview": overview},
                scope=scope, analysis=spec.name, overview=overview)


def scopes(processed_dir: Path) -> tuple[list[tuple[str, str]], set[str]]:
    """(code, title) of the nation and every province with microdata or published figures, and
    the set of scopes whose panel has rows."""
    provinces = pd.read_parquet(processed_dir / "provinces.parquet")
    figures = pd.read_parquet(processed_dir / "figures.parquet")
    with_data = {path.stem for path in (processed_dir / "panel").glob("*.parquet")}
    with_figures = set(figures.loc[figures["scope"] != config.NATIONAL_UNIT, "scope"])
    chosen = provinces[provinces["province_code"].isin(with_data | with_figures)
                       | provinces["poverty_task"]]
    listed = [(config.NATIONAL_UNIT, "National")]
    listed += [(row.province_code, f"{row.name_en} ({row.name_zh})")
               for row in chosen.sort_values("province_code").itertuples()]
    return listed, with_data | ({config.NATIONAL_UNIT} if with_data else set())


def expand(plan: list[PlannedAnalysis], processed_dir: Path,
           variants: list[AnalysisSpec] = ()) -> list[Unit]:
    """Plan x scopes (and variants x scopes), plus the site-wide validation and methods pages."""
    units = [
        Unit("validation", "validation.ipynb", "Validation: the NSW experiment and Monte Carlo",
             extra_inputs=("benchmarks/results/monte_carlo.csv",
                           "benchmarks/results/monte_carlo.json",
                           "data/raw/benchmarks/mpdta.csv",
                           "data/raw/benchmarks/mpdta_did_printed.csv",
                           "benchmarks/results/monte_carlo_provinces.csv",
                           "benchmarks/results/monte_carlo_provinces.json")),
        Unit("methods", "methods.ipynb", "Methods and the demonstration panel",
             extra_inputs=tuple(f"benchmarks/results/{name}"
                                for name in config.METHODS_BENCHMARKS)),
    ]
    listed, with_data = scopes(processed_dir)
    for scope, title in listed:
        for planned in plan:
            if planned.overview or scope in with_data:
                units.append(_scope_unit(scope, title, planned.spec, planned.overview))
        for spec in variants:
            if scope in with_data:
                units.append(_scope_unit(scope, title, spec, overview=False))
    return [_with_dependencies(unit, units, with_data) for unit in units]


def _with_dependencies(unit: Unit, units: list[Unit], with_data: set[str]) -> Unit:
    """A national unit depends on the same analysis in every province with panel rows, whose
    results it combines."""
    if unit.scope != config.NATIONAL_UNIT:
        return unit
    provinces = tuple(other.unit_id for other in units
                      if other.scope not in ("", config.NATIONAL_UNIT)
                      and other.analysis == unit.analysis and other.overview == unit.overview
                      and other.scope in with_data)
    return replace(unit, depends_on=provinces)


def select(units: list[Unit], only: list[str] | None, exact: bool = False) -> list[Unit]:
    """Units named by ``--only``: unit ids, scopes (every analysis of a province) and analysis
    names (that analysis everywhere); scopes and analyses given together intersect. With
    ``exact``, only unit ids count (``53`` is then Yunnan's main page alone)."""
    if not only:
        return units
    ids = {u.unit_id for u in units}
    if exact:
        unknown = sorted(set(only) - ids)
        if unknown:
            raise UnknownUnitError(f"unknown unit id(s) {unknown}")
        return [u for u in units if u.unit_id in only]
    scope_names = {u.scope for u in units if u.scope}
    analyses = {u.analysis for u in units if u.analysis}
    unknown = sorted(set(only) - ids - scope_names - analyses)
    if unknown:
        raise UnknownUnitError(
            f"unknown unit(s) {unknown}; give unit ids, scopes ({', '.join(sorted(scope_names))})"
            f" or analyses ({', '.join(sorted(analyses))})")
    wanted_scopes = set(only) & scope_names
    wanted_analyses = set(only) & analyses
    chosen = []
    for unit in units:
        if unit.unit_id in only and unit.unit_id not in wanted_scopes:
            chosen.append(unit)
            continue
        in_scope = not wanted_scopes or unit.scope in wanted_scopes
        in_analysis = not wanted_analyses or unit.analysis in wanted_analyses
        if (wanted_scopes or wanted_analyses) and unit.scope and in_scope and in_analysis:
            chosen.append(unit)
    return chosen
