"""The simulator's illustrative parameters, each with its kind and a one-line description."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from analysis.config import STABLE_EMPLOYMENT_MIN_MONTHS

OUTCOMES = ("stable_employment", "months_worked", "worked_outside_county",
            "worked_outside_province", "wage_income")
CHANNELS = ("workshop_job", "public_welfare_post", "organized_labor_export")
# Programs with planted effects, and every program an analyst may pick.
EFFECT_PROGRAMS = ("training", *CHANNELS)
PROGRAMS = (*EFFECT_PROGRAMS, "employment_services")
# What a program acts on: the stable-employment probability, the probability of working
# outside the county among those who work, the share of those crossing a province border, and
# the log monthly wage. The first three are probabilities (effects act on the headroom).
LEVERS = ("stable", "outside", "crossing", "log_wage")
PROBABILITY_LEVERS = ("stable", "outside", "crossing")
COVARIATES = ("schooling", "age", "age_squared", "disability", "female", "household_size")
KINDS = ("illustrative", "published", "calibrated")
# The last year a panel may reach (PanelSchema accepts years up to 2035).
LAST_SIMULATED_YEAR = 2035

# Illustrative province size weights (no ledger source): 3 = large, 2 = medium, 1 = small.
PROVINCE_WEIGHTS = {
    "41": 3, "43": 3, "45": 3, "51": 3, "52": 3, "53": 3,
    "13": 2, "14": 2, "34": 2, "36": 2, "42": 2, "50": 2, "61": 2, "62": 2, "65": 2,
    "15": 1, "22": 1, "23": 1, "46": 1, "54": 1, "63": 1, "64": 1,
}

TAKE_UP_SLOPES = {
    # Younger, more schooled, able-bodied men train more.
    "training": {"schooling": 0.25, "age": -0.4, "age_squared": 0.0, "disability": -1.5,
                 "female": -0.2, "household_size": 0.0},
    # Those who cannot migrate: women, the middle-aged, larger households.
    "workshop_job": {"schooling": -0.05, "age": 0.2, "age_squared": -0.4, "disability": -0.2,
                     "female": 0.9, "household_size": 0.25},
    # Weaker laborers: older, disabled or weak labor, less schooled, women.
    "public_welfare_post": {"schooling": -0.15, "age": 0.5, "age_squared": 0.0,
                            "disability": 1.2, "female": 0.4, "household_size": 0.0},
    # Those able to travel: younger, men, not disabled, smaller households.
    "organized_labor_export": {"schooling": 0.05, "age": -0.7, "age_squared": -0.2,
                               "disability": -1.5, "female": -0.9, "household_size": -0.1},
}

# (at first receipt, long run) for each lever; the gap to the long run decays geometrically.
EFFECTS = {
    "training": {"stable": (0.14, 0.25), "outside": (0.08, 0.15), "crossing": (0.0, 0.0),
                 "log_wage": (0.02, 0.05)},
    "workshop_job": {"stable": (0.35, 0.35), "outside": (-0.5, -0.5), "crossing": (0.0, 0.0),
                     "log_wage": (-0.10, -0.10)},
    "public_welfare_post": {"stable": (0.30, 0.30), "outside": (-0.6, -0.6),
                            "crossing": (0.0, 0.0), "log_wage": (-0.5, -0.5)},
    "organized_labor_export": {"stable": (0.15, 0.20), "outside": (0.45, 0.45),
                               "crossing": (0.4, 0.4), "log_wage": (0.10, 0.10)},
}


def _param(default=None, *, factory=None, description: str, kind: str = "illustrative"):
    """A dataclass field carrying its description and kind as metadata."""
    metadata = {"description": description, "kind": kind}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _copy(value):
    return lambda: {key: (dict(inner) if isinstance(inner, dict) else inner)
                    for key, inner in value.items()}


@dataclass(frozen=True)
class ModelParameters:
    """Every illustrative parameter of the simulator; the calibrated ones are solved for.

    Each field's ``metadata`` holds its ``kind`` and a one-line ``description``;
    ``parameter_table`` lists them.
    """

    laborers_per_household_probabilities: tuple[float, ...] = _param(
        (0.25, 0.40, 0.25, 0.10),
        description="probabilities that a household has 1, 2, 3 or 4 laborers")
    dependants_mean: float = _param(
        1.5, description="mean of the Poisson number of dependants added to household size")
    max_household_size: int = _param(12, description="cap on household size")
    province_weights: dict[str, float] = _param(
        factory=lambda: dict(PROVINCE_WEIGHTS),
        description="province size weights (3 large, 2 medium, 1 small); no ledger source")
    counties_per_weight: int = _param(4, description="counties per unit of province weight")
    age_beta: tuple[float, float] = _param(
        (1.8, 1.5), description="Beta shape of the age in 2016 over the admissible range")
    female_share: float = _param(0.42, description="share of women among laborers")
    schooling: dict[str, float] = _param(
        factory=lambda: {"mean_at_35": 8.5, "age_slope": -0.08, "female_gap": -0.6, "sd": 2.5},
        description="years of schooling: mean at age 35, slope per year of age, female gap, sd")
    disability: dict[str, float] = _param(
        factory=lambda: {"at_16": 0.04, "age_slope": 0.004},
        description="probability of disability or weak labor at 16 and its slope per year")
    stable_bounds: tuple[float, float] = _param(
        (0.05, 0.72), description="lower and upper bound of the stable-employment propensity")
    stable_index: dict[str, float] = _param(
        factory=lambda: {"intercept": 0.35, "schooling": 0.12, "age": 0.0,
                         "age_squared": -0.25, "disability": -1.2, "female": -0.3,
                         "household_size": -0.05},
        description="linear index of the stable-employment propensity (centred covariates)")
    outside_bounds: tuple[float, float] = _param(
        (0.03, 0.40), description="lower and upper bound of the outside-county propensity")
    outside_index: dict[str, float] = _param(
        factory=lambda: {"intercept": -0.15, "schooling": 0.06, "age": -0.35,
                         "age_squared": -0.1, "disability": -1.5, "female": -0.6,
                         "household_size": -0.05},
        description="linear index of the outside-county propensity (centred covariates)")
    random_effect_sd: dict[str, tuple[float, float]] = _param(
        factory=lambda: {"province": (0.25, 0.30), "county": (0.20, 0.20),
                         "household": (0.35, 0.50), "person": (0.60, 0.60)},
        description="sd of the normal effects in the stable and the outside-county index")
    person_effect_correlation: float = _param(
        0.5, description="correlation of a person's stable and outside-county effects")
    stable_year_effect_span: float = _param(
        0.06, description="rise of the stable-employment year effect from 2016 to 2020")
    twelve_month_share_of_stable: float = _param(
        0.40, description="share of stable person-years with 12 months of work")
    zero_month_share_of_unstable: float = _param(
        0.20, description="share of unstable person-years with no work at all")
    outside_months_rank_correlation: float = _param(
        0.5, description="normal-copula correlation of months worked and working away")
    outside_province_share_by_region: dict[str, float] = _param(
        factory=lambda: {"central": 0.60, "west": 0.45, "east": 0.40, "northeast": 0.40},
        description="share of those working outside the county who cross a province border")
    wage: dict[str, float] = _param(
        factory=lambda: {"base_monthly_2016": 1800.0, "growth": 0.06, "schooling": 0.03,
                         "female": -0.15, "outside_county": 0.35, "outside_province": 0.10,
                         "person_sd": 0.25, "shock_sd": 0.20},
        description="monthly wage: 2016 base (yuan), log growth per year, log-wage slopes and "
                    "premia, person and person-year sd")
    take_up_slopes: dict[str, dict[str, float]] = _param(
        factory=_copy(TAKE_UP_SLOPES),
        description="slopes of each program's take-up index on the centred covariates")
    channel_first_year_weights: tuple[float, ...] = _param(
        (1.0, 1.0, 1.0, 1.0, 1.0),
        description="relative shares of 2016-2020 among first channel receipts (normalised)")
    employment_services_index: dict[str, float] = _param(
        factory=lambda: {"schooling": -0.05, "age": 0.2, "disability": 0.4, "female": 0.1},
        description="slopes of the yearly employment-services index")
    effects: dict[str, dict[str, tuple[float, float]]] = _param(
        factory=_copy(EFFECTS),
        description="planted effect of each program on each lever: (at first receipt, long "
                    "run); headroom shares for probabilities, log points for the wage")
    effect_gap_decay: float = _param(
        0.5, description="yearly factor by which an effect's gap to its long run shrinks")
    province_effect_spread: float = _param(
        0.3, description="half-width of the uniform draw behind the province effect multipliers")

    def __post_init__(self):
        unknown = set(self.effects) - set(EFFECT_PROGRAMS)
        if unknown or set(self.take_up_slopes) != set(EFFECT_PROGRAMS):
            raise ValueError(f"effects and take-up slopes are for {EFFECT_PROGRAMS}; got "
                             f"{sorted(self.effects)} and {sorted(self.take_up_slopes)}")
        for program, levers in self.effects.items():
            if set(levers) - set(LEVERS):
                raise ValueError(f"{program}: unknown levers {sorted(set(levers) - set(LEVERS))}")
            for lever, (at_receipt, long_run) in levers.items():
                if at_receipt * long_run < 0:
                    raise ValueError(f"{program} {lever}: the effect changes sign over time")
                if lever in PROBABILITY_LEVERS and max(abs(at_receipt), abs(long_run)) >= 1:
                    raise ValueError(f"{program} {lever}: a headroom share must lie in (-1, 1)")

    def effect(self, program: str, lever: str) -> tuple[float, float]:
        return tuple(self.effects.get(program, {}).get(lever, (0.0, 0.0)))

    def effect_path(self, effect: tuple[float, float], event_time: np.ndarray) -> np.ndarray:
        at_receipt, long_run = effect
        return long_run - (long_run - at_receipt) * self.effect_gap_decay ** event_time

    def without_effects(self, programs=EFFECT_PROGRAMS) -> ModelParameters:
        """The same model with every planted effect of ``programs`` set to zero."""
        effects = {program: {lever: (0.0, 0.0) if program in programs else value
                             for lever, value in levers.items()}
                   for program, levers in self.effects.items()}
        return replace(self, effects=effects)

    def months_means(self) -> tuple[float, float]:
        """Mean months of an unstable and of a stable person-year (constants of the model)."""
        threshold = STABLE_EMPLOYMENT_MIN_MONTHS
        unstable = (1 - self.zero_month_share_of_unstable) * threshold / 2
        stable_spread = threshold + (2 * (12 - threshold) - 1) / 4
        stable = (self.twelve_month_share_of_stable * 12
                  + (1 - self.twelve_month_share_of_stable) * stable_spread)
        return unstable, stable


def _text(value) -> str:
    """A parameter value as readable text."""
    if isinstance(value, dict):
        nested = any(isinstance(inner, dict) for inner in value.values())
        return ("; " if nested else ", ").join(
            f"{key}: {_text(inner)}" if nested else f"{key} {_text(inner)}"
            for key, inner in value.items())
    if isinstance(value, (tuple, list)):
        if len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            return f"({_text(value[0])}, {_text(value[1])})"
        return ", ".join(_text(inner) for inner in value)
    if isinstance(value, (float, np.floating)):
        if value == int(value) and abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.6g}"
    return str(value)


def parameter_table(params: ModelParameters | None = None,
                    record: dict | None = None) -> pd.DataFrame:
    """Every parameter as a row: name, value (readable text), kind, description.

    ``params`` gives the illustrative parameters (the defaults when omitted). With ``record``
    (``SimulatedPanel.parameters`` of a run, or the manifest's copy of it), the published
    targets and the calibrated values of that run are added.
    """
    params = params or ModelParameters()
    rows = []
    for item in fields(params):
        value, kind, description = (getattr(params, item.name), item.metadata["kind"],
                                    item.metadata["description"])
        if isinstance(value, dict) and all(isinstance(inner, dict) for inner in value.values()):
            # One row per program, e.g. ``effects.training``.
            rows += [(f"{item.name}.{key}", _text(inner), kind, f"{description}; program: {key}")
                     for key, inner in value.items()]
        else:
            rows.append((item.name, _text(value), kind, description))
    if record is not None:
        for name, value in record.get("published_targets", {}).items():
            if name != "source_figure_ids":
                rows.append((name, _text(value), "published",
                             PUBLISHED_DESCRIPTIONS.get(name, "published target")))
        for name, value in record.get("calibrated", {}).items():
            rows.append((name, _text(value), "calibrated",
                         CALIBRATED_DESCRIPTIONS.get(name, "calibrated value")))
        for name, value in record.get("derived_from_index_illustrative", {}).items():
            rows.append((name, _text(value), "illustrative",
                         "stable-employment year effect: the span spread in step with the "
                         "published working-away index, held at 2020 afterwards"))
    return pd.DataFrame(rows, columns=["name", "value", "kind", "description"])


CALIBRATED_DESCRIPTIONS = {
    "take_up_intercepts": "intercept of each program's take-up index",
    "mean_take_up_probability": "mean probability of first receipt by 2020, by program",
    "first_year_weights": "share of first receipts in each year 2016-2020 (training: 2020 "
                          "published, the rest equal; channels: illustrative weights)",
    "mean_yearly_hazard_after_reference": "mean yearly hazard of first receipt after 2020, "
                                          "by program (the expected 2020 hazard)",
    "counts_by_reference_year": "persons with each program by 2020 (exact counts)",
    "alignment_rounds": "rounds aligning the exact counts to the realized count working away",
    "outside_county_year_effect": "year effect omega_t of the outside-county probability",
    "outside_county_share_target": "share working outside the county implied by the "
                                   "published trajectory",
    "employment_services_intercept": "intercept of the employment-services index",
    "mean_employment_services_probability": "mean yearly probability of employment services",
    "expected_households_reached_without_services": "expected share of households reached "
                                                    "by training and the channels alone",
}


PUBLISHED_DESCRIPTIONS = {
    "working_away_by_year": "poor laborers working away from home (2019 derived from the "
                            "end-October 2020 count and its ratio to 2019)",
    "households_with_migrant_work_share": "share of poor households with migrant work (2020)",
    "employment_assistance_share": "share of registered poor households reached by employment "
                                   "assistance (2020)",
    "trained_2020": "poor laborers trained in 2020",
    "trained_2016_2020": "poor laborers trained in 2016-2020",
    "workshop_jobs_2020": "poor laborers employed in poverty-alleviation workshops (2020)",
    "public_welfare_posts_2020": "poor laborers placed in public-welfare posts (2020)",
    "organized_transport_2020": "poor laborers transported by organized labor export (2020)",
    "reference_year": "the year of the published channel counts and the coverage",
    "training_period": "the years of the published training volume",
}
