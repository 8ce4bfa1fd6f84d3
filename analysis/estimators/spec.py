"""An analysis as a specification: which program, which outcome, on whom, adjusted for what.

:class:`AnalysisSpec` is the one object passed from a notebook's ``parameters`` cell (or a row of
the analysis plan) to estimation, truth comparison, labels, sentences and the cache key. It is
validated on construction: an unknown program, outcome, covariate, population, cluster or
estimator raises :class:`SpecError` naming the field and the allowed values. Whether a
population leaves anyone treated depends on the data, so :func:`check_against_panel` does that
part once the panel is loaded.

The catalogs below (:data:`PROGRAMS`, :data:`OUTCOMES`, :data:`POPULATIONS`, :data:`COVARIATES`)
are where a new program, outcome or population is added: a column of the person-year panel and
the reader's words for it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable

import pandas as pd


class SpecError(ValueError):
    """Raised when a specification names something the package does not know, or a population
    that leaves no one to compare. ``field`` is the offending field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


# ----------------------------------------------------------------------------------------------
# Catalogs


@dataclass(frozen=True)
class Program:
    """A program whose effect can be estimated, and how receipt becomes a treatment."""

    key: str
    label: str  # a heading: "Vocational skills training"
    noun: str  # inside a sentence: "vocational skills training"
    column: str  # per-year panel column: received (or, for training, first received) this year
    first_year_column: str | None = None  # a recorded first-receipt year, when the panel has one
    description: str = ""


@dataclass(frozen=True)
class Outcome:
    """An outcome of the person-year panel, and the unit a reader thinks in."""

    key: str
    label: str  # a heading
    noun: str  # inside a sentence
    effect_unit: str  # unit of an effect: "percentage points", "months", "yuan"
    scale: float  # effect in reader units = estimate * scale
    binary: bool
    decimals: int = 1


@dataclass(frozen=True)
class Population:
    """A subpopulation defined on traits in the first panel year, so nobody switches groups."""

    key: str
    label: str
    rule: Callable[[pd.DataFrame], pd.Series] = field(repr=False, compare=False)


PROGRAMS: dict[str, Program] = {p.key: p for p in (
    Program("training", "Vocational skills training", "vocational skills training", "trained",
            "first_trained_year",
            "A laborer counts as treated from the year of first training on (staggered "
            "adoption); later courses do not restart the clock."),
    Program("workshop_job", "Job in a poverty-alleviation workshop",
            "a job in a poverty-alleviation workshop", "workshop_job", None,
            "A laborer counts as treated from the first year with a workshop job on (first "
            "receipt as staggered adoption), whether or not the job continues."),
    Program("public_welfare_post", "Public-welfare post", "a public-welfare post",
            "public_welfare_post", None,
            "A laborer counts as treated from the first year in a public-welfare post on "
            "(first receipt as staggered adoption)."),
    Program("organized_labor_export", "Organized 'point-to-point' labor export",
            "organized 'point-to-point' labor export", "organized_labor_export", None,
            "A laborer counts as treated from the first year of organized transport to a job "
            "on (first receipt as staggered adoption)."),
    Program("employment_services", "Employment services",
            "employment services (job information, referral, subsidies)",
            "employment_services", None,
            "A laborer counts as treated from the first year of receiving employment services "
            "on (first receipt as staggered adoption)."),
)}

OUTCOMES: dict[str, Outcome] = {o.key: o for o in (
    Outcome("stable_employment", "Stable employment (at least six months of work in the year)",
            "the probability of stable employment (at least six months of work in the year)",
            "percentage points", 100.0, True),
    Outcome("months_worked", "Months worked in the year", "months worked in the year",
            "months", 1.0, False, 2),
    Outcome("wage_income", "Annual wage income", "annual wage income", "yuan", 1.0, False, 0),
    Outcome("worked_outside_county", "Work outside the home county",
            "the probability of working outside the home county", "percentage points", 100.0,
            True),
    Outcome("worked_outside_province", "Work outside the home province",
            "the probability of working outside the home province", "percentage points", 100.0,
            True),
)}

POPULATIONS: dict[str, Population] = {p.key: p for p in (
    Population("all", "all registered poor laborers", lambda base: base["age"] >= 0),
    Population("women", "women", lambda base: base["female"].astype(bool)),
    Population("men", "men", lambda base: ~base["female"].astype(bool)),
    Population("ages_16_35", "laborers aged 16-35 in the first year",
               lambda base: base["age"].between(16, 35)),
    Population("ages_36_64", "laborers aged 36-64 in the first year",
               lambda base: base["age"].between(36, 64)),
    Population("weak_labor", "laborers with a disability or weak labor capacity",
               lambda base: base["disability_or_weak_labor"].astype(bool)),
    Population("not_weak_labor", "laborers without a disability or weak labor capacity",
               lambda base: ~base["disability_or_weak_labor"].astype(bool)),
    Population("schooling_0_6", "laborers with at most six years of schooling",
               lambda base: base["schooling_years"] <= 6),
    Population("schooling_7_plus", "laborers with seven or more years of schooling",
               lambda base: base["schooling_years"] >= 7),
)}

# Covariates are measured in the first panel year (before anyone in a later cohort is treated).
COVARIATES: dict[str, str] = {
    "age": "age",
    "age_squared": "age squared (hundreds)",
    "female": "woman",
    "schooling_years": "years of schooling",
    "disability_or_weak_labor": "disability or weak labor capacity",
    "household_size": "household size",
}
DEFAULT_COVARIATES = ("age", "age_squared", "female", "schooling_years",
                      "disability_or_weak_labor", "household_size")
CLUSTERS = {"county_id": "county", "household_id": "household"}
DEFAULT_HEADLINE_ESTIMATOR = "callaway_santanna"


# ----------------------------------------------------------------------------------------------
# The specification


def _as_tuple(value, field_name: str) -> tuple[str, ...]:
    """Accept a list/tuple or a comma- or plus-separated string (papermill ``-p`` gives text)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in re.split(r"[,+;]", value) if part.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(part).strip() for part in value)
    raise SpecError(field_name, f"expected a list or a comma-separated string, got {value!r}")


def _choose(field_name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise SpecError(field_name, f"unknown value {value!r}; allowed values: "
                                    f"{', '.join(sorted(allowed))}")


@dataclass(frozen=True)
class AnalysisSpec:
    """One analysis: program, outcome, covariates, population, cluster, years and estimator.

    Parameters
    ----------
    program, outcome : str
        Keys of :data:`PROGRAMS` and :data:`OUTCOMES`.
    covariates : tuple of str or str
        Keys of :data:`COVARIATES` ("a, b" strings are split); ``()`` for none.
    population : tuple of str or str
        Keys of :data:`POPULATIONS`, combined with "and" (``"women+ages_16_35"``).
    cluster : str
        Column the standard errors are clustered by (:data:`CLUSTERS`).
    years : (int, int) or None
        First and last panel year to use; None uses every year of the panel.
    headline_estimator : str
        Name in :data:`analysis.estimators.registry.ESTIMATORS`.
    name : str
        A slug naming the analysis in file names; made from the other fields when empty.
    """

    program: str = "training"
    outcome: str = "stable_employment"
    covariates: tuple[str, ...] = DEFAULT_COVARIATES
    population: tuple[str, ...] = ("all",)
    cluster: str = "county_id"
    years: tuple[int, int] | None = None
    headline_estimator: str = DEFAULT_HEADLINE_ESTIMATOR
    name: str = ""

    def __post_init__(self):
        from analysis.estimators.registry import ESTIMATORS

        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "covariates", _as_tuple(self.covariates, "covariates"))
        set_(self, "population", _as_tuple(self.population, "population") or ("all",))
        _choose("program", self.program, PROGRAMS)
        _choose("outcome", self.outcome, OUTCOMES)
        for covariate in self.covariates:
            _choose("covariates", covariate, COVARIATES)
        if len(set(self.covariates)) != len(self.covariates):
            raise SpecError("covariates", f"a covariate is listed twice: {self.covariates}")
        for population in self.population:
            _choose("population", population, POPULATIONS)
        _choose("cluster", self.cluster, CLUSTERS)
        _choose("headline_estimator", self.headline_estimator, ESTIMATORS)
        if self.years is not None:
            set_(self, "years", self._checked_years(self.years))
        if not self.name:
            set_(self, "name", self.default_name())
        if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", self.name):
            raise SpecError("name", f"{self.name!r} must be lower-case letters, digits and "
                                    "underscores (it names files and pages)")

    @staticmethod
    def _checked_years(years) -> tuple[int, int]:
        if isinstance(years, str):
            years = [part for part in re.split(r"[-,: ]+", years.strip()) if part]
        try:
            first, last = (int(year) for year in years)
        except (TypeError, ValueError):
            raise SpecError("years", f"expected two years (first, last), got {years!r}") from None
        if first >= last:
            raise SpecError("years", f"the first year must come before the last, got "
                                     f"{first}-{last} (panel estimators need two years or more)")
        return first, last

    def default_name(self) -> str:
        parts = [self.program, self.outcome]
        parts += [key for key in self.population if key != "all"]
        if self.covariates != DEFAULT_COVARIATES:
            parts.append("cov_" + ("_".join(self.covariates) if self.covariates else "none"))
        if self.cluster != "county_id":
            parts.append(f"by_{self.cluster}")
        if self.years:
            parts.append(f"{self.years[0]}_{self.years[1]}")
        if self.headline_estimator != DEFAULT_HEADLINE_ESTIMATOR:
            parts.append(self.headline_estimator)
        return "__".join(parts)

    # -- reader's words ---------------------------------------------------------------------

    @property
    def program_info(self) -> Program:
        return PROGRAMS[self.program]

    @property
    def outcome_info(self) -> Outcome:
        return OUTCOMES[self.outcome]

    @property
    def population_label(self) -> str:
        return " and ".join(POPULATIONS[key].label for key in self.population)

    @property
    def title(self) -> str:
        return f"{self.program_info.label} and {self.outcome_info.label.lower()}"

    @property
    def short_title(self) -> str:
        """A column heading: "Training: stable employment"."""
        program = self.program_info.label.split(" (")[0]
        short_programs = {"training": "Training", "workshop_job": "Workshop job",
                          "organized_labor_export": "Labor export"}
        outcome = self.outcome_info.label.split(" (")[0].lower()
        who = "" if self.population == ("all",) else f", {self.population_label}"
        return f"{short_programs.get(self.program, program)}: {outcome}{who}"

    @property
    def cluster_label(self) -> str:
        return CLUSTERS[self.cluster]

    def covariate_labels(self) -> str:
        return ", ".join(COVARIATES[c] for c in self.covariates) or "none"

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain JSON-ready fields (lists for tuples), as results JSON and cache keys record."""
        record = asdict(self)
        record["covariates"] = list(self.covariates)
        record["population"] = list(self.population)
        record["years"] = list(self.years) if self.years else None
        return record

    def to_parameters(self) -> dict:
        """The notebook parameters that reproduce this spec (strings papermill can pass)."""
        return {"analysis_name": self.name, "program": self.program, "outcome": self.outcome,
                "covariates": ",".join(self.covariates),
                "population": "+".join(self.population), "cluster": self.cluster,
                "years": f"{self.years[0]}-{self.years[1]}" if self.years else "",
                "headline_estimator": self.headline_estimator}

    @classmethod
    def from_parameters(cls, analysis_name: str = "", program: str = "training",
                        outcome: str = "stable_employment", covariates=DEFAULT_COVARIATES,
                        population="all", cluster: str = "county_id", years=None,
                        headline_estimator: str = DEFAULT_HEADLINE_ESTIMATOR) -> AnalysisSpec:
        """Build a spec from notebook parameters (empty ``years`` means every panel year)."""
        return cls(program=program, outcome=outcome, covariates=covariates,
                   population=population, cluster=cluster, years=years or None,
                   headline_estimator=headline_estimator, name=analysis_name or "")

    def replace(self, **changes) -> AnalysisSpec:
        """A copy with ``changes``; the name is re-derived unless given."""
        fields_ = {**self.to_dict(), "name": "", **changes}
        return AnalysisSpec(**fields_)


HEADLINE_SPEC = AnalysisSpec(name="training_stable_employment")


# ----------------------------------------------------------------------------------------------
# Checks that need the data


def baseline_traits(panel: pd.DataFrame) -> pd.DataFrame:
    """Each person's traits in their first panel year (one row per person, indexed by id)."""
    first_rows = panel.sort_values("year").drop_duplicates("person_id")
    return first_rows.set_index("person_id")


def in_population(panel: pd.DataFrame, spec: AnalysisSpec) -> pd.Series:
    """Boolean per row of ``panel``: does the row's person belong to the spec's population?"""
    base = baseline_traits(panel)
    keep = pd.Series(True, index=base.index)
    for key in spec.population:
        keep &= POPULATIONS[key].rule(base).astype(bool)
    return panel["person_id"].map(keep).fillna(False).astype(bool)


def check_against_panel(panel: pd.DataFrame, spec: AnalysisSpec) -> None:
    """Raise :class:`SpecError` when the panel cannot support the spec.

    The program column must be binary, the years must lie in the panel, and the population
    must contain people who received the program and people who did not.
    """
    program = spec.program_info
    for field_name, column in (("program", program.column), ("outcome", spec.outcome),
                               ("cluster", spec.cluster)):
        if column not in panel.columns:
            raise SpecError(field_name, f"column {column!r} is not in the panel")
    values = set(pd.unique(panel[program.column].dropna()).tolist())
    if not values <= {0, 1, True, False}:
        raise SpecError("program", f"column {program.column!r} must be yes/no (0/1); found "
                                   f"{sorted(map(str, values))[:5]}")
    if spec.years:
        present = set(panel["year"].unique())
        missing = [year for year in range(spec.years[0], spec.years[1] + 1)
                   if year not in present]
        if missing:
            raise SpecError("years", f"the panel has no rows for {missing}; it covers "
                                     f"{min(present)}-{max(present)}")
    members = panel.loc[in_population(panel, spec)]
    if members.empty:
        raise SpecError("population", f"no laborer in the panel belongs to "
                                      f"{spec.population_label}")
    ever = members.groupby("person_id")[program.column].max().astype(bool)
    if not ever.any():
        raise SpecError("population", f"no laborer among {spec.population_label} received "
                                      f"{program.noun} in the panel years")
    if ever.all():
        raise SpecError("population", f"every laborer among {spec.population_label} received "
                                      f"{program.noun}: there is no one to compare with")

