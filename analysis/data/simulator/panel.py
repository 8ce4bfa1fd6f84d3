"""simulate_panel: population, calibration, take-up, then outcomes year by year."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import DEMO_PERSONS, DEMO_SEED, DEMO_YEARS, STABLE_EMPLOYMENT_MIN_MONTHS
from analysis.data.simulator.calibration import Calibrated, calibrate, calibration_table
from analysis.data.simulator.outcomes import (
    Shocks,
    YearBase,
    potential,
    subset_taus,
    year_base,
)
from analysis.data.simulator.parameters import (
    CHANNELS,
    EFFECT_PROGRAMS,
    LAST_SIMULATED_YEAR,
    OUTCOMES,
    ModelParameters,
)
from analysis.data.simulator.population import Population, draw_population, poverty_task_provinces
from analysis.data.simulator.programs import (
    NEVER,
    SelectionDraws,
    assign_programs,
    effects_in_year,
    extend_after_reference,
)
from analysis.data.simulator.record import parameter_record
from analysis.data.simulator.targets import CalibrationTargets
from analysis.data.simulator.truth import truth_frame, truth_rows

# How often the exact program counts are re-aligned to the realized count working away.
ALIGNMENT_ROUNDS = 8
PANEL_OUTCOME_DTYPES = {"stable_employment": bool, "months_worked": np.float32,
                        "worked_outside_county": bool, "worked_outside_province": bool,
                        "wage_income": np.float32}


@dataclass
class SimulatedPanel:
    """The panel, the planted truth, the calibration report and every parameter used.

    * ``panel``: one row per person-year of the requested years, in person then year order.
      It passes ``schemas.PanelSchema``; columns use compact dtypes, which the schema coerces.
    * ``truth``: one row per (program, person_id, year) for every post-receipt person-year of
      every program in ``PROGRAMS`` within the requested years. Columns: ``program``,
      ``person_id``, ``year``, ``province_code``, ``first_year`` (the first receipt year,
      possibly before the panel's first year), ``event_time`` (year - first_year) and, for
      each outcome, ``effect_<outcome>``: Y(with the program) - Y(without it, every other
      program as realized), from the same primitive shocks. Average it with ``true_effects``.
    * ``calibration``: ``calibration_table`` of the simulated 2016-2020 person-years (these
      may lie outside the requested years).
    * ``parameters``: JSON-ready, grouped by provenance (``published_targets``, ``calibrated``,
      ``illustrative``, ``provinces``, ...).
    """

    panel: pd.DataFrame
    truth: pd.DataFrame
    calibration: pd.DataFrame
    parameters: dict


def simulate_panel(provinces: pd.DataFrame, targets: CalibrationTargets,
                   n_persons: int = DEMO_PERSONS, years: tuple[int, int] = DEMO_YEARS,
                   seed: int = DEMO_SEED, params: ModelParameters | None = None
                   ) -> SimulatedPanel:
    """Simulate the demonstration person-year panel (see the package docstring).

    ``years`` is an inclusive range starting no earlier than the first published year (2016)
    and ending by 2035. The population is always simulated from 2016 on, through 2020 at
    least, and calibrated on 2016-2020; the requested years are then cut out. The same
    arguments give the same panel; province-level draws do not depend on ``n_persons``.
    """
    params = params or ModelParameters()
    span, window = _years(years, targets)
    if (2 * STABLE_EMPLOYMENT_MIN_MONTHS) % 1 or not 1 <= STABLE_EMPLOYMENT_MIN_MONTHS <= 11.5:
        raise ValueError("the months model needs a stable-employment threshold in half months "
                         f"within 1-11.5; config has {STABLE_EMPLOYMENT_MIN_MONTHS}")
    if n_persons < 100:
        raise ValueError(f"n_persons must be at least 100, got {n_persons}")
    streams = dict(zip(("provinces", "population", "selection", "shocks", "services", "later"),
                       np.random.default_rng(seed).spawn(6)))
    pop = draw_population(poverty_task_provinces(provinces, params), n_persons, len(span),
                          params, streams["provinces"], streams["population"])
    calibrated = calibrate(pop, targets, span, params)
    shocks = [Shocks.draw(rng, n_persons) for rng in streams["shocks"].spawn(len(span))]
    bases = {t: _year_base(pop, calibrated, params, t) for t in span}
    first, counts = _take_up(pop, calibrated, targets, params, streams["selection"],
                             shocks[span.index(targets.reference_year)],
                             bases[targets.reference_year])
    later = [t for t in span if t > targets.reference_year]
    extend_after_reference(first, calibrated.hazard, later, streams["later"].spawn(len(later)))
    columns, truth_parts = _outcomes(
        pop, first, calibrated, bases, shocks, span, window, params,
        streams["services"].spawn(len(span)))
    full = _panel_frame(pop, first, span, columns)
    in_window = full["year"].between(window.start, window.stop - 1).to_numpy()
    panel = full[in_window].reset_index(drop=True)
    return SimulatedPanel(
        panel=panel,
        truth=truth_frame(truth_parts),
        calibration=calibration_table(full, targets),
        parameters=parameter_record(pop, calibrated, targets, params, counts,
                                    dict(n_persons=n_persons, years=list(years), seed=seed)),
    )


def _years(years: tuple[int, int], targets: CalibrationTargets) -> tuple[range, range]:
    """(simulated years, requested years)."""
    first, last = (int(year) for year in years)
    start = min(targets.working_away_by_year)
    if first < start:
        raise ValueError(f"years {first}-{last} start before {start}, the first year of the "
                         "published working-away trajectory")
    if first > last or last > LAST_SIMULATED_YEAR:
        raise ValueError(f"years must be an increasing range ending by {LAST_SIMULATED_YEAR}; "
                         f"got {years}")
    return range(start, max(last, targets.reference_year) + 1), range(first, last + 1)


def _year_base(pop: Population, calibrated: Calibrated, params: ModelParameters,
               year: int) -> YearBase:
    wage = params.wage
    log_wage = (np.log(wage["base_monthly_2016"]) + wage["growth"] * (year - 2016)
                + wage["schooling"] * (pop.schooling - 9) + wage["female"] * pop.female
                + pop.wage_person)
    return year_base(pop.stable_propensity + calibrated.stable_year_effect[year],
                     pop.outside_propensity + calibrated.outside_year_effect[year],
                     pop.crossing_share[pop.province], log_wage, params, year)


def _take_up(pop: Population, calibrated: Calibrated, targets: CalibrationTargets,
             params: ModelParameters, rng: np.random.Generator, shocks: Shocks,
             base: YearBase) -> tuple[dict[str, np.ndarray], dict]:
    """First receipts with counts aligned to the realized count working away in 2020."""
    draws = SelectionDraws.draw(rng, len(pop))
    weights = {"training": calibrated.first_year_weights["training"],
               "channels": calibrated.first_year_weights["channels"]}
    ratios = targets.program_ratios()
    working_away = calibrated.expected_outside_reference
    history = []
    for _ in range(ALIGNMENT_ROUNDS):
        counts = {program: int(round(ratio * working_away)) for program, ratio in ratios.items()}
        if history and counts == history[-1]:
            break
        history.append(counts)
        first = assign_programs(draws, calibrated.take_up, counts, weights, calibrated.years)
        taus = effects_in_year(pop, first, targets.reference_year, params)
        outcomes = potential(base, taus, shocks, params, only=("worked_outside_county",))
        working_away = int(outcomes["worked_outside_county"].sum())
    return first, {"counts_by_reference_year": history[-1],
                   "alignment_rounds": len(history)}


def _outcomes(pop: Population, first: dict[str, np.ndarray], calibrated: Calibrated,
              bases: dict[int, YearBase], shocks: list[Shocks], span: range, window: range,
              params: ModelParameters, services_rngs: list[np.random.Generator]
              ) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Outcome columns over the simulated years and truth parts for the requested years."""
    n = len(pop)
    columns = {name: np.empty((n, len(span)), dtype=dtype)
               for name, dtype in {**PANEL_OUTCOME_DTYPES, "employment_services": bool}.items()}
    codes = np.array(pop.codes, dtype=object)[pop.province]
    persons = np.arange(n)
    first_services = np.zeros(n, dtype=np.int16)
    truth_parts = []
    for k, (year, rng) in enumerate(zip(span, services_rngs)):
        taus = effects_in_year(pop, first, year, params)
        observed = potential(bases[year], taus, shocks[k], params)
        for name in OUTCOMES:
            columns[name][:, k] = observed[name]
        # Employment services: covariates only, independent of programs, shocks and outcomes.
        services = rng.random(n) < calibrated.services_probability
        columns["employment_services"][:, k] = services
        first_services[(first_services == NEVER) & services] = year
        if year not in window:
            continue
        for program in EFFECT_PROGRAMS:
            rows = (first[program] != NEVER) & (first[program] <= year)
            others = [other for other in EFFECT_PROGRAMS if other != program]
            without = potential(bases[year].subset(rows), subset_taus(taus, rows),
                                shocks[k].subset(rows), params, programs=others)
            effects = {name: observed[name][rows].astype(float) - without[name].astype(float)
                       for name in OUTCOMES}
            truth_parts.append(truth_rows(program, persons[rows], year, codes[rows],
                                          first[program][rows], effects))
        rows = first_services != NEVER
        truth_parts.append(truth_rows("employment_services", persons[rows], year, codes[rows],
                                      first_services[rows], None))
    return columns, truth_parts


def _panel_frame(pop: Population, first: dict[str, np.ndarray], span: range,
                 columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Person-year rows over the simulated years, in person then year order."""
    n, n_years = len(pop), len(span)

    def per_row(values):
        return np.repeat(values, n_years)

    years = np.tile(np.arange(span.start, span.stop, dtype=np.int16), n)
    trained = per_row(first["training"])
    frame = pd.DataFrame({
        "person_id": per_row(np.arange(n, dtype=np.int32)),
        "household_id": per_row(pop.household),
        "province_code": pd.Categorical.from_codes(per_row(pop.province), categories=pop.codes),
        "county_id": per_row(pop.county_id.astype(np.int32)),
        "year": years,
        "age": (per_row(pop.age0) + years - span.start).astype(np.int8),
        "female": per_row(pop.female),
        "schooling_years": per_row(pop.schooling.astype(np.float32)),
        "disability_or_weak_labor": per_row(pop.disability),
        "household_size": per_row(pop.household_size),
        "trained": (trained != NEVER) & (years == trained),
        "first_trained_year": pd.arrays.IntegerArray(trained.astype(np.int64),
                                                     trained == NEVER),
    })
    for name in PANEL_OUTCOME_DTYPES:
        frame[name] = columns[name].ravel()
    for channel in CHANNELS:  # absorbing: true from the first receipt year on
        received = per_row(first[channel])
        frame[channel] = (received != NEVER) & (years >= received)
    frame["employment_services"] = columns["employment_services"].ravel()
    return frame
