"""simulate_panel: the demonstration panel, county by county.

1. **Layout** (:mod:`analysis.data.simulator.layout`): persons per province and county, and
   each county's own random streams.
2. **Calibration inputs**: each county draws its persons and keeps what calibration reads
   (propensities, covariate cell, household) in a scratch folder; the nation's persons per
   covariate cell are added up.
3. **Calibration** (:func:`analysis.data.simulator.calibration.calibrate`), national, from
   sums over counties.
4. **Take-up cut-offs**: each county writes its ranking ratios; the national cut-offs that
   choose the exact counts are found from those files
   (:mod:`analysis.data.simulator.selection`), and the counts are re-aligned to the realized
   count working away in the reference year, summed over counties, for a few rounds.
5. **Outcomes**: each county, on its own, draws its outcomes year by year and its planted
   truth (:func:`simulate_county`).

Every step runs per province through a runner (:mod:`analysis.data.runner`): one after another
here, or on a Dask cluster. Memory holds one county at a time, and the national steps hold
sums and cell tables only, so it does not grow with the nation.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import DEMO_PERSONS, DEMO_SEED, DEMO_YEARS, STABLE_EMPLOYMENT_MIN_MONTHS
from analysis.data.runner import LocalRunner
from analysis.data.simulator.calibration import (
    Calibrated,
    CalibrationPersons,
    add_calibration_statistics,
    calibrate,
    calibration_statistics,
    calibration_table_from,
    persons_take_up,
)
from analysis.data.simulator.layout import (
    BATCH_PERSONS,
    Batch,
    County,
    ProvinceDraws,
    batches,
    county_layout,
    county_streams,
    draw_provinces,
)
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
from analysis.data.simulator.population import (
    Population,
    cell_shape,
    concatenate,
    draw_county,
    poverty_task_provinces,
)
from analysis.data.simulator.programs import (
    NEVER,
    Cutoffs,
    SelectionDraws,
    effects_in_year,
    extend_after_reference,
    first_receipts,
    ranking_ratios,
)
from analysis.data.simulator.record import parameter_record
from analysis.data.simulator.selection import national_cutoffs, write_rankings
from analysis.data.simulator.targets import CalibrationTargets
from analysis.data.simulator.truth import sort_truth, truth_frame, truth_rows

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


@dataclass
class SimulationPlan:
    """Everything national about one run, sent to every county's task: the layout, the
    province-level draws, the calibration and the take-up cut-offs."""

    seed: int
    params: ModelParameters
    targets: CalibrationTargets
    span: range  # simulated years
    window: range  # requested years
    provinces: ProvinceDraws
    counties: list[County]
    workdir: Path  # scratch files of the calibration inputs and the rankings
    batch_persons: int  # persons processed together (memory, not data: see layout)
    calibrated: Calibrated | None = None
    cutoffs: dict[str, Cutoffs] = field(default_factory=dict)
    take_up: dict = field(default_factory=dict)  # exact counts and alignment rounds

    @property
    def codes(self) -> list[str]:
        return self.provinces.codes

    def batches_of(self, code: str) -> list[Batch]:
        return [batch for batch in self.batches if batch.code == code]

    @property
    def batches(self) -> list[Batch]:
        return batches(self.counties, self.batch_persons)

    @property
    def n_persons(self) -> int:
        return sum(county.persons for county in self.counties)

    def parameters(self) -> dict:
        run = dict(n_persons=self.n_persons, years=[self.window.start, self.window.stop - 1],
                   seed=self.seed)
        return parameter_record(self.provinces, self.calibrated, self.targets, self.params,
                                self.take_up, run)


@dataclass
class BatchResult:
    """Some counties' rows of the requested years, their truth and their calibration sums."""

    batch: Batch
    panel: pd.DataFrame
    truth: pd.DataFrame
    statistics: dict


def simulate_panel(provinces: pd.DataFrame, targets: CalibrationTargets,
                   n_persons: int = DEMO_PERSONS, years: tuple[int, int] = DEMO_YEARS,
                   seed: int = DEMO_SEED, params: ModelParameters | None = None,
                   runner=None, batch_persons: int = BATCH_PERSONS) -> SimulatedPanel:
    """Simulate the demonstration person-year panel (see the package docstring), in memory.

    ``years`` is an inclusive range starting no earlier than the first published year (2016)
    and ending by 2035. The population is always simulated from 2016 on, through 2020 at
    least, and calibrated on 2016-2020; the requested years are then cut out. The same
    arguments give the same panel; province-level draws do not depend on ``n_persons``.
    For a large nation, :func:`plan_simulation` and :func:`simulate_province` give the panel
    a province at a time.
    """
    with tempfile.TemporaryDirectory(prefix="simulation-") as workdir:
        plan = plan_simulation(provinces, targets, n_persons, years, seed, params,
                               Path(workdir), runner, batch_persons)
        results = [result for code in plan.codes for result in simulate_province(plan, code)]
    statistics = add_calibration_statistics([result.statistics for result in results])
    return SimulatedPanel(
        panel=pd.concat([result.panel for result in results], ignore_index=True),
        truth=sort_truth(pd.concat([result.truth for result in results], ignore_index=True)),
        calibration=calibration_table_from(statistics, targets),
        parameters=plan.parameters(),
    )


def plan_simulation(provinces: pd.DataFrame, targets: CalibrationTargets,
                    n_persons: int = DEMO_PERSONS, years: tuple[int, int] = DEMO_YEARS,
                    seed: int = DEMO_SEED, params: ModelParameters | None = None,
                    workdir: Path | None = None, runner=None,
                    batch_persons: int = BATCH_PERSONS) -> SimulationPlan:
    """Everything national about a run (steps 1-4 of the module docstring).

    ``workdir`` receives scratch files (about 60 bytes per person); with a Dask ``runner`` it
    must be on a file system the workers share.
    """
    params = params or ModelParameters()
    runner = runner or LocalRunner()
    span, window = _years(years, targets)
    if (2 * STABLE_EMPLOYMENT_MIN_MONTHS) % 1 or not 1 <= STABLE_EMPLOYMENT_MIN_MONTHS <= 11.5:
        raise ValueError("the months model needs a stable-employment threshold in half months "
                         f"within 1-11.5; config has {STABLE_EMPLOYMENT_MIN_MONTHS}")
    if n_persons < 100:
        raise ValueError(f"n_persons must be at least 100, got {n_persons}")
    table = poverty_task_provinces(provinces, params)
    for folder in ("calibration", "rankings"):
        (Path(workdir) / folder).mkdir(parents=True, exist_ok=True)
    plan = SimulationPlan(seed, params, targets, span, window, draw_provinces(table, params, seed),
                          county_layout(table, n_persons, params), Path(workdir), batch_persons)
    totals = _over_provinces(runner, plan, _calibration_inputs)
    plan.calibrated = calibrate(
        totals.pop("cells"), totals, targets, span, params,
        lambda function, **arguments: _over_provinces(runner, plan, _calibration_pass,
                                                      function=function, arguments=arguments))
    _over_provinces(runner, plan, _write_rankings)
    _align_take_up(plan, runner)
    return plan


def simulate_province(plan: SimulationPlan, code: str):
    """The province's counties, a batch at a time (:class:`BatchResult` each)."""
    for batch in plan.batches_of(code):
        yield simulate_batch(plan, batch)


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


# ----------------------------------------------------------------------------------------------
# Passes over the counties, one task per province


def _over_provinces(runner, plan: SimulationPlan, step, **arguments) -> dict:
    """``step(plan, batch, **arguments)`` over every batch, added up: arrays are per-county
    sums (county first), concatenated in county order and then summed, so that the result
    does not depend on how counties are batched; keys starting with ``min_`` take the
    minimum; whole numbers add up."""
    return _added(part for province in runner.map(_province_step, plan.codes, plan=plan,
                                                  step=step, arguments=arguments)
                  for part in province)


def _exact(key: str, value) -> bool:
    """Whole numbers, which add up exactly in any order."""
    return not key.startswith("min_") and not (isinstance(value, np.ndarray)
                                               and value.dtype.kind == "f")


def _added(parts) -> dict:
    """Batch statistics added up (see :func:`_over_provinces`)."""
    parts, total = list(parts), {}
    for key in dict.fromkeys(key for part in parts for key in part):
        values = [part[key] for part in parts if key in part]
        if key.startswith("min_"):
            total[key] = min(values)
        elif _exact(key, values[0]):
            total[key] = sum(values[1:], values[0])
        else:
            total[key] = np.concatenate(values, axis=0).sum(axis=0)
    return total


def _province_step(code: str, plan: SimulationPlan, step, arguments: dict) -> list[dict]:
    """The province's batch statistics; whole numbers added as they come, so that the cell
    counts of every batch of the nation are never held together."""
    exact, parts = {}, []
    for batch in plan.batches_of(code):
        part = step(plan, batch, **arguments)
        for key, value in part.items():
            if _exact(key, value):
                exact[key] = exact[key] + value if key in exact else value
        parts.append({key: value for key, value in part.items() if not _exact(key, value)})
    return [exact, *parts]


@dataclass
class _Streams:
    """Each county's streams of a batch; every draw is made per county and concatenated, so
    that it does not depend on how counties are batched."""

    counties: list[dict]
    sizes: list[int]

    def draws(self, name: str, draw) -> np.ndarray:
        """``draw(rng, n)`` from stream ``name`` of each county, concatenated on the last axis."""
        return np.concatenate([draw(np.random.default_rng(streams[name]), n)
                               for streams, n in zip(self.counties, self.sizes)], axis=-1)

    def yearly(self, name: str, count: int, draw, only: int | None = None) -> list[np.ndarray]:
        """The same from each of ``count`` child streams of ``name`` (one per year), or from
        child ``only`` alone."""
        children = [streams[name].spawn(count) for streams in self.counties]
        return [np.concatenate([draw(np.random.default_rng(child[k]), n)
                                for child, n in zip(children, self.sizes)], axis=-1)
                for k in (range(count) if only is None else [only])]


def _population(plan: SimulationPlan, batch: Batch) -> tuple[Population, _Streams]:
    """The batch's persons and streams; the same every time they are drawn."""
    streams = [county_streams(plan.seed, county) for county in batch.counties]
    pop = concatenate([draw_county(county, plan.provinces, len(plan.span), plan.params,
                                   np.random.default_rng(county_streams_["population"]))
                       for county, county_streams_ in zip(batch.counties, streams)])
    return pop, _Streams(streams, [county.persons for county in batch.counties])


def _cache_path(plan: SimulationPlan, batch: Batch) -> Path:
    return plan.workdir / "calibration" / f"{batch.name}.npz"


def _calibration_inputs(plan: SimulationPlan, batch: Batch) -> dict:
    """Draw the batch, keep what calibration reads, and count its persons per cell."""
    pop, _ = _population(plan, batch)
    starts = np.cumsum((0,) + pop.county_sizes[:-1])
    np.savez(_cache_path(plan, batch), stable_propensity=pop.stable_propensity,
             outside_propensity=pop.outside_propensity, cell=pop.cell, household=pop.household,
             county_starts=starts)
    cells = np.bincount(pop.cell, minlength=int(np.prod(cell_shape(plan.params))))
    return {"cells": cells, "persons": len(pop), "households": pop.n_households,
            "outside_propensity": np.add.reduceat(pop.outside_propensity, starts),
            "min_outside_propensity": float(pop.outside_propensity.min())}


def _calibration_pass(plan: SimulationPlan, batch: Batch, function, arguments: dict) -> dict:
    with np.load(_cache_path(plan, batch)) as saved:
        persons = CalibrationPersons(
            saved["stable_propensity"], saved["outside_propensity"], saved["cell"],
            saved["household"], {program: float(plan.provinces.multiplier[program]
                                                [batch.province])
                                 for program in EFFECT_PROGRAMS}, saved["county_starts"])
    return function(persons, **arguments)


def _selection_draws(streams: _Streams) -> SelectionDraws:
    return SelectionDraws(*streams.draws("selection", lambda rng, n: rng.random((5, n))))


def _write_rankings(plan: SimulationPlan, batch: Batch) -> dict:
    pop, streams = _population(plan, batch)
    take_up = persons_take_up(plan.calibrated.take_up, pop.cell)
    write_rankings(plan.workdir / "rankings", batch,
                   ranking_ratios(_selection_draws(streams), take_up))
    return {}


def _draw_shocks(rng: np.random.Generator, n: int) -> np.ndarray:
    """The order of ``Shocks`` fields: months, outside, crossing, wage."""
    return np.stack([rng.random(n), rng.standard_normal(n), rng.random(n),
                     rng.standard_normal(n)])


def _shocks(streams: _Streams, span: range) -> list[Shocks]:
    return [Shocks(*draws) for draws in streams.yearly("shocks", len(span), _draw_shocks)]


def _working_away(plan: SimulationPlan, batch: Batch) -> dict:
    """The batch's count working outside the county in the reference year under the plan's
    cut-offs."""
    pop, streams = _population(plan, batch)
    reference = plan.targets.reference_year
    take_up = persons_take_up(plan.calibrated.take_up, pop.cell)
    first = first_receipts(_selection_draws(streams), take_up, plan.cutoffs,
                           plan.calibrated.years)
    (draws,) = streams.yearly("shocks", len(plan.span), _draw_shocks,
                              only=plan.span.index(reference))
    shocks = Shocks(*draws)
    taus = effects_in_year(pop, first, reference, plan.params)
    outcomes = potential(_year_base(pop, plan.calibrated, plan.params, reference), taus, shocks,
                         plan.params, only=("worked_outside_county",))
    return {"working_away": int(outcomes["worked_outside_county"].sum())}


def _align_take_up(plan: SimulationPlan, runner) -> None:
    """Exact counts by the reference year, aligned to the realized count working away."""
    weights = plan.calibrated.first_year_weights
    by_program = {program: weights["training" if program == "training" else "channels"]
                  for program in EFFECT_PROGRAMS}
    ratios = plan.targets.program_ratios()
    working_away = plan.calibrated.expected_outside_reference
    history = []
    for _ in range(ALIGNMENT_ROUNDS):
        counts = {program: int(round(ratio * working_away)) for program, ratio in ratios.items()}
        if history and counts == history[-1]:
            break
        history.append(counts)
        plan.cutoffs = national_cutoffs(plan.workdir / "rankings", plan.batches, counts,
                                        by_program)
        working_away = int(_over_provinces(runner, plan, _working_away)["working_away"])
    plan.take_up = {"counts_by_reference_year": history[-1], "alignment_rounds": len(history)}


# ----------------------------------------------------------------------------------------------
# One county's outcomes


def simulate_batch(plan: SimulationPlan, batch: Batch) -> BatchResult:
    """The batch's person-years, planted truth and calibration sums (step 5)."""
    pop, streams = _population(plan, batch)
    calibrated, params, span = plan.calibrated, plan.params, plan.span
    take_up = persons_take_up(calibrated.take_up, pop.cell)
    first = first_receipts(_selection_draws(streams), take_up, plan.cutoffs, calibrated.years)
    later = [t for t in span if t > plan.targets.reference_year]
    extend_after_reference(first, persons_take_up(calibrated.hazard, pop.cell), later,
                           streams.yearly("later", len(later),
                                          lambda rng, n: rng.random((2, n))))
    bases = {t: _year_base(pop, calibrated, params, t) for t in span}
    services = streams.yearly("services", len(span), lambda rng, n: rng.random(n))
    columns, truth_parts = _outcomes(pop, first, calibrated.services_probability[pop.cell],
                                     bases, _shocks(streams, span), span, plan.window, params,
                                     services)
    full = _panel_frame(pop, first, span, columns)
    in_window = full["year"].between(plan.window.start, plan.window.stop - 1).to_numpy()
    return BatchResult(batch, full[in_window].reset_index(drop=True), truth_frame(truth_parts),
                       calibration_statistics(full, plan.targets))


def _year_base(pop: Population, calibrated: Calibrated, params: ModelParameters,
               year: int) -> YearBase:
    wage = params.wage
    log_wage = (np.log(wage["base_monthly_2016"]) + wage["growth"] * (year - 2016)
                + wage["schooling"] * (pop.schooling - 9) + wage["female"] * pop.female
                + pop.wage_person)
    return year_base(pop.stable_propensity + calibrated.stable_year_effect[year],
                     pop.outside_propensity + calibrated.outside_year_effect[year],
                     np.full(len(pop), pop.crossing_share), log_wage, params, year)


def _outcomes(pop: Population, first: dict[str, np.ndarray], services_probability: np.ndarray,
              bases: dict[int, YearBase], shocks: list[Shocks], span: range, window: range,
              params: ModelParameters, services_uniforms: list[np.ndarray]
              ) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Outcome columns over the simulated years and truth parts for the requested years."""
    n = len(pop)
    columns = {name: np.empty((n, len(span)), dtype=dtype)
               for name, dtype in {**PANEL_OUTCOME_DTYPES, "employment_services": bool}.items()}
    codes = np.full(n, pop.code, dtype=object)
    persons = pop.person_id
    first_services = np.zeros(n, dtype=np.int16)
    truth_parts = []
    for k, (year, uniform) in enumerate(zip(span, services_uniforms)):
        taus = effects_in_year(pop, first, year, params)
        observed = potential(bases[year], taus, shocks[k], params)
        for name in OUTCOMES:
            columns[name][:, k] = observed[name]
        # Employment services: covariates only, independent of programs, shocks and outcomes.
        services = uniform < services_probability
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
        "person_id": per_row(pop.person_id.astype(np.int32)),
        "household_id": per_row(pop.household_id.astype(np.int32)),
        "province_code": pd.Categorical.from_codes(np.full(n * n_years, pop.province),
                                                   categories=pop.codes),
        "county_id": per_row(pop.county_id),
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
