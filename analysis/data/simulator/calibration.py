"""Calibration from expectations, and the calibration table of a simulated panel.

The calibration is national: every target is a published national aggregate. It needs sums
over every person of the nation, which are gathered county by county as sufficient statistics,
so that no step holds more than one county's persons:

* everything that depends on covariates alone (take-up, employment services) is computed per
  covariate cell and weighted by the number of persons in each cell;
* the expected number working outside the county is a sum of per-person terms ``a + b omega``;
* a share of households is one minus the mean over households of a product over their
  members. For ``omega`` each product is a polynomial of degree at most four (households have
  at most four laborers), so each county contributes five coefficients; for the services
  intercept each county contributes its sum of products at the value being tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.data.simulator.parameters import CHANNELS, ModelParameters
from analysis.data.simulator.population import cell_covariates, linear_index
from analysis.data.simulator.programs import (
    affine_in_base,
    channel_probabilities,
    hazard_after,
    training_probability,
)
from analysis.data.simulator.targets import CalibrationError, CalibrationTargets

CALIBRATION_COLUMNS = ["aggregate", "description", "targeted", "target", "simulated", "error",
                       "abs_error", "rel_error", "figure_ids"]
# Assistance in the reference year that counts towards the coverage, besides training.
ASSISTANCE_COLUMNS = (*CHANNELS, "employment_services")


@dataclass
class Calibrated:
    """Calibrated values; arrays ``by cell`` are indexed by covariate cell
    (:func:`analysis.data.simulator.population.cell_of`)."""

    intercepts: dict[str, float]
    take_up: dict[str, np.ndarray]  # P(first receipt by the reference year), by cell
    hazard: dict[str, np.ndarray]  # yearly hazard of first receipt after the reference year
    years: list[int]  # the calibration years (first receipts are calibrated over these)
    first_year_weights: dict[str, np.ndarray]  # "training" and "channels"
    stable_year_effect: dict[int, float]
    outside_year_effect: dict[int, float]
    outside_share: dict[int, float]
    expected_outside_reference: float  # expected persons working outside the county
    services_intercept: float
    services_probability: np.ndarray  # by cell
    reached_without_services: float
    cell_counts: np.ndarray  # persons per cell in the nation

    def mean(self, by_cell: np.ndarray) -> float:
        """The mean over persons of a value given by cell."""
        return float(self.cell_counts @ by_cell / self.cell_counts.sum())


@dataclass
class CalibrationPersons:
    """What calibration reads of some neighbouring counties of one province (so each
    program's effect multiplier is one number)."""

    stable_propensity: np.ndarray
    outside_propensity: np.ndarray
    cell: np.ndarray
    household: np.ndarray  # 0, 1, ... with members adjacent
    multiplier: dict[str, float]
    county_starts: np.ndarray  # each county's first person

    def __len__(self) -> int:
        return len(self.cell)

    def person_multiplier(self, program: str) -> float:
        return self.multiplier[program]

    def by_county(self, values: np.ndarray) -> np.ndarray:
        """Sums over each county's persons (the last axis), county first.

        National sums add these per-county sums in county order, so they are the same to the
        last bit however counties are batched.
        """
        return np.add.reduceat(values, self.county_starts, axis=-1).T

    def by_county_households(self, values: np.ndarray) -> np.ndarray:
        """Sums over each county's households (the first axis), county first."""
        return np.add.reduceat(values, self.household[self.county_starts], axis=0)


def _root(gap, bounds: tuple[float, float], what: str, xtol: float,
          guess: float | None = None, step: float = 0.05) -> float:
    """Root of an increasing ``gap``: first near ``guess``, then over all of ``bounds``."""
    brackets = [bounds]
    if guess is not None:
        brackets.insert(0, (max(bounds[0], guess - step), min(bounds[1], guess + step)))
    for low, high in brackets:
        try:
            return optimize.brentq(gap, low, high, xtol=xtol)
        except ValueError:  # no sign change in this bracket
            continue
    raise CalibrationError(f"no value in [{bounds[0]:.3g}, {bounds[1]:.3g}] reaches {what}")


def _program_states(pop, take_up: dict[str, np.ndarray],
                    weights: dict[str, np.ndarray], years: list[int], year: int,
                    params: ModelParameters) -> tuple[list, list]:
    """Training states and channel states in ``year``: (probability, stable and outside
    effects). Training and the channel are independent given covariates; the channels exclude
    one another. Probabilities are arrays over persons; effects are numbers, since a county
    lies in one province (None: no effect)."""

    def effects(program, first):
        scale = pop.person_multiplier(program)
        return tuple(scale * params.effect_path(params.effect(program, lever), year - first)
                     for lever in ("stable", "outside"))

    received = [(g, w) for g, w in zip(years, weights["training"]) if g <= year]
    pi = take_up["training"]
    training = [(1 - pi * sum(w for _, w in received), None)]
    training += [(pi * w, effects("training", g)) for g, w in received]
    received = [(g, w) for g, w in zip(years, weights["channels"]) if g <= year]
    placed = sum(take_up[channel] for channel in CHANNELS) * sum(w for _, w in received)
    channel = [(1 - placed, None)]
    channel += [(take_up[c] * w, effects(c, g)) for c in CHANNELS for g, w in received]
    return training, channel


def expected_outside(pop, take_up: dict[str, np.ndarray],
                     weights: dict[str, np.ndarray], years: list[int], year: int,
                     stable_year: float, params: ModelParameters
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with E[P(outside the county) | covariates] = A + B omega in ``year``.

    The expectation runs over every combination of a training state and a channel state. In
    a state, the chance of working is affine in the untreated stable probability ``q0``
    (``c + d q0``) and the outside-county probability among workers is affine in the untreated
    one (``alpha + beta r``), with numbers that depend on the state only (one province). So
    ``A = M1 + M2 r + M3 q0 + M4 q0 r`` where each ``Mk`` is the state probabilities weighted
    by the state's numbers: a product of the training and channel probability matrices.
    """
    q_stable0 = pop.stable_propensity + stable_year
    zero = params.zero_month_share_of_unstable
    works0 = 1 - zero * (1 - q_stable0)
    outside_given_work0 = pop.outside_propensity / works0
    training, channel = _program_states(pop, take_up, weights, years, year, params)
    numbers = np.zeros((4, len(training), len(channel)))
    for t, (_, training_effects) in enumerate(training):
        for c, (_, channel_effects) in enumerate(channel):
            state = [e for e in (training_effects, channel_effects) if e is not None]
            stable = affine_in_base([e[0] for e in state]) if state else (0.0, 1.0)
            works = (1 - zero + zero * stable[0], zero * stable[1])  # c + d q0
            alpha, beta = affine_in_base([e[1] for e in state]) if state else (0.0, 1.0)
            numbers[:, t, c] = [works[0] * alpha, works[0] * beta, works[1] * alpha,
                                works[1] * beta]
    p_channel = np.stack([np.broadcast_to(p, len(pop)) for p, _ in channel])
    m1, m2, m3, m4 = (sum(p * row for (p, _), row in zip(training, state_numbers @ p_channel))
                      for state_numbers in numbers)
    a = m1 + m2 * outside_given_work0 + m3 * q_stable0 + m4 * q_stable0 * outside_given_work0
    b = (m2 + m4 * q_stable0) / works0
    return a, b


def _channel_intercepts(indexes: np.ndarray, totals: np.ndarray, start: np.ndarray,
                        counts: np.ndarray) -> np.ndarray:
    """Multinomial-logit intercepts whose expected counts are ``totals`` (raking); the
    indexes are by cell, with ``counts`` persons each."""
    intercepts = start.copy()
    for _ in range(500):
        expected = channel_probabilities(intercepts, indexes) @ counts
        step = np.log(totals / expected)
        intercepts += step
        if np.abs(step).max() < 1e-12:
            return intercepts
    raise CalibrationError("the channel take-up intercepts did not converge")


def household_polynomials(constant: np.ndarray, slope: np.ndarray, household: np.ndarray,
                          degree: int) -> np.ndarray:
    """Per household, the coefficients (lowest first, ``degree + 1`` of them) of the product
    over members of ``constant + slope * x``; members of a household are adjacent."""
    sizes = np.bincount(household)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    coefficients = np.zeros((len(sizes), degree + 1))
    coefficients[:, 0] = 1.0
    for rank in range(int(sizes.max(initial=0))):
        having = np.flatnonzero(sizes > rank)
        member = starts[having] + rank
        old = coefficients[having]
        new = old * constant[member][:, None]
        new[:, 1:] += old[:, :-1] * slope[member][:, None]
        coefficients[having] = new
    return coefficients


def reference_statistics(persons: CalibrationPersons, take_up: dict[str, np.ndarray],
                         weights: dict[str, np.ndarray], years: list[int], year: int,
                         stable_year: float, params: ModelParameters) -> dict:
    """Per county, its part of the expected count working outside the county in ``year``
    (``a + b omega`` summed) and of the household share with a member working there."""
    a, b = expected_outside(persons, persons_take_up(take_up, persons.cell), weights, years,
                            year, stable_year, params)
    degree = len(params.laborers_per_household_probabilities)
    return {"a": persons.by_county(a), "b": persons.by_county(b),
            "polynomial": persons.by_county_households(
                household_polynomials(1 - a, -b, persons.household, degree)),
            "min_omega_bound": float(((1 - a) / b).min())}


def year_statistics(persons: CalibrationPersons, take_up: dict[str, np.ndarray],
                    weights: dict[str, np.ndarray], years: list[int],
                    stable_year: dict[int, float], params: ModelParameters,
                    not_reached: np.ndarray) -> dict:
    """Per county, the expected-count terms of every calibration year, and its households'
    chance of being reached by neither training nor a channel."""
    person_take_up = persons_take_up(take_up, persons.cell)  # the same in every year
    terms = [expected_outside(persons, person_take_up, weights, years, year, stable_year[year],
                              params) for year in years]
    return {"a": persons.by_county(np.stack([a for a, _ in terms])),
            "b": persons.by_county(np.stack([b for _, b in terms])),
            "none_reached": persons.by_county_households(
                households_without_any(not_reached[persons.cell], persons.household))}


def services_statistics(persons: CalibrationPersons, not_reached: np.ndarray,
                        services_index: np.ndarray, intercept: float) -> dict:
    """Per county, the sum over households of the chance that no member is reached, with
    employment services at ``intercept``."""
    services = special.expit(intercept + services_index[persons.cell])
    return {"none_reached": persons.by_county_households(
        households_without_any(not_reached[persons.cell] * (1 - services), persons.household))}


def households_without_any(p_none: np.ndarray, household: np.ndarray) -> np.ndarray:
    """Per household, the product of members' probabilities of 'none'."""
    with np.errstate(divide="ignore"):
        return np.exp(np.bincount(household, weights=np.log(p_none)))


def persons_take_up(take_up: dict[str, np.ndarray], cell: np.ndarray) -> dict[str, np.ndarray]:
    return {program: by_cell[cell] for program, by_cell in take_up.items()}


def calibrate(cell_counts: np.ndarray, totals: dict, targets: CalibrationTargets, span: range,
              params: ModelParameters, over_counties) -> Calibrated:
    """Solve the take-up intercepts, omega_t and the services intercept from expectations.

    ``cell_counts`` are the nation's persons per covariate cell; ``totals`` hold the nation's
    ``persons``, ``households``, ``outside_propensity`` (sum) and ``min_outside_propensity``;
    ``over_counties(function, **arguments)`` adds up ``function(persons, **arguments)`` (per
    county sums, see :meth:`CalibrationPersons.by_county`) over the nation.
    """
    years = list(targets.calibration_years)
    reference = targets.reference_year
    weights = {"training": np.array([(1 - targets.training_share_last_year())
                                     / (len(years) - 1)] * (len(years) - 1)
                                    + [targets.training_share_last_year()]),
               "channels": np.asarray(params.channel_first_year_weights, dtype=float)}
    if len(weights["channels"]) != len(years):
        raise ValueError(f"channel_first_year_weights needs one weight per year {years}")
    weights["channels"] = weights["channels"] / weights["channels"].sum()
    published = targets.working_away_by_year
    index = targets.working_away_index(range(min(published), reference + 1))
    base = published[min(published)] / published[reference]
    stable_year = {t: params.stable_year_effect_span * (index[min(t, reference)] - base)
                   / (1 - base) for t in span}
    ratios = targets.program_ratios()
    covariates = cell_covariates(params)
    indexes = {program: linear_index(params.take_up_slopes[program], covariates)
               for program in params.take_up_slopes}
    channel_indexes = np.stack([indexes[channel] for channel in CHANNELS])
    counts = cell_counts.astype(float)
    n_persons, n_households = totals["persons"], totals["households"]

    expected_count = float(totals["outside_propensity"])
    intercepts = {"training": -2.0}
    channel_start = np.full(len(CHANNELS), -3.0)
    omega = None
    for _ in range(200):
        gamma0 = _root(lambda g: counts @ training_probability(g, indexes["training"])
                       - ratios["training"] * expected_count, (-15.0, 15.0),
                       "the published training volume", 1e-12, intercepts["training"], 1.0)
        channel_start = _channel_intercepts(
            channel_indexes, np.array([ratios[c] for c in CHANNELS]) * expected_count,
            channel_start, counts)
        intercepts = {"training": gamma0, **dict(zip(CHANNELS, channel_start.tolist()))}
        take_up = {"training": training_probability(gamma0, indexes["training"]),
                   **dict(zip(CHANNELS, channel_probabilities(channel_start, channel_indexes)))}
        sums = over_counties(reference_statistics, take_up=take_up, weights=weights,
                             years=years, year=reference, stable_year=stable_year[reference],
                             params=params)
        polynomial = sums["polynomial"]
        omega = _root(
            lambda w: 1 - np.polynomial.polynomial.polyval(w, polynomial) / n_households
            - targets.households_with_migrant_work_share,
            (-totals["min_outside_propensity"], sums["min_omega_bound"]),
            f"the household share with migrant work in {reference}", 1e-13, omega)
        updated = float(sums["a"] + sums["b"] * omega)
        converged = abs(updated - expected_count) < 1e-9 * n_persons
        expected_count = updated
        if converged:
            break
    else:
        raise CalibrationError("the take-up and working-away calibration did not converge")

    # Coverage: P(no member reached) = product over members of
    # P(not trained by the reference year) P(no channel by then) P(no services then).
    not_reached = (1 - take_up["training"]) * (1 - sum(take_up[channel] for channel in CHANNELS))
    sums = over_counties(year_statistics, take_up=take_up, weights=weights, years=years,
                         stable_year=stable_year, params=params, not_reached=not_reached)
    share_reference = expected_count / n_persons
    outside_share = {t: share_reference * index[t] for t in years}
    outside_year = {t: (outside_share[t] * n_persons - a) / b
                    for t, a, b in zip(years, sums["a"], sums["b"])}
    outside_year[reference] = omega
    outside_year.update({t: omega for t in span if t > reference})

    reached_without_services = 1 - sums["none_reached"] / n_households
    coverage = targets.employment_assistance_share
    if reached_without_services >= coverage:
        raise CalibrationError(
            f"training and the three channels alone reach {reached_without_services:.3f} of "
            f"households, at or above the coverage target {coverage:.3f}")
    services_index = linear_index(params.employment_services_index, covariates)

    def reached(delta0):
        sums = over_counties(services_statistics, not_reached=not_reached,
                             services_index=services_index, intercept=delta0)
        return 1 - sums["none_reached"] / n_households

    delta0 = _root(lambda d: reached(d) - coverage, (-15.0, 15.0),
                   "the employment-assistance coverage", 1e-7, guess=0.5, step=1.0)
    channel_matrix = np.stack([take_up[channel] for channel in CHANNELS])
    channel_hazard = hazard_after(channel_matrix, weights["channels"][-1])
    return Calibrated(
        intercepts=intercepts, take_up=take_up,
        hazard={"training": hazard_after(take_up["training"], weights["training"][-1]),
                **dict(zip(CHANNELS, channel_hazard))},
        years=years, first_year_weights=weights, stable_year_effect=stable_year,
        outside_year_effect=outside_year, outside_share=outside_share,
        expected_outside_reference=expected_count, services_intercept=delta0,
        services_probability=special.expit(delta0 + services_index),
        reached_without_services=reached_without_services, cell_counts=cell_counts)


def calibration_statistics(panel: pd.DataFrame, targets: CalibrationTargets) -> dict:
    """The sums behind :func:`calibration_table` of some of the panel's households (all
    their person-years): add those of every part of the panel, then make the table."""
    reference = targets.reference_year
    now = panel[panel["year"] == reference]
    by_year = panel.groupby("year")["worked_outside_county"]
    trained = now["first_trained_year"]  # constant within person; one reference row each
    in_plan = trained.between(*targets.training_period).fillna(False).astype(bool)
    assisted = now[list(ASSISTANCE_COLUMNS)].any(axis=1)
    households = now["household_id"]
    return {
        "rows_by_year": by_year.size().to_dict(),
        "outside_by_year": by_year.sum().astype(int).to_dict(),
        "households": int(households.nunique()),
        "households_with_outside": int(now["worked_outside_county"].groupby(households).any()
                                       .sum()),
        "households_reached": int((in_plan | assisted).groupby(households).any().sum()),
        "placed": {channel: int(now[channel].sum()) for channel in CHANNELS},
        "trained_in_period": int(in_plan.sum()),
        "trained_in_reference_year": int((trained[in_plan] == reference).sum()),
    }


def add_calibration_statistics(parts: list[dict]) -> dict:
    """The statistics of several parts of the panel (different households) together."""
    total: dict = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                inner = total.setdefault(key, {})
                for name, number in value.items():
                    inner[name] = inner.get(name, 0) + number
            else:
                total[key] = total.get(key, 0) + value
    return total


def calibration_table(panel: pd.DataFrame, targets: CalibrationTargets) -> pd.DataFrame:
    """Each calibrated aggregate: published target, simulated value, errors, figure ids.

    ``panel`` must contain the reference year (2020) and the published years before it.
    """
    return calibration_table_from(calibration_statistics(panel, targets), targets)


def calibration_table_from(statistics: dict, targets: CalibrationTargets) -> pd.DataFrame:
    """:func:`calibration_table` from the statistics of the whole panel."""
    reference = targets.reference_year
    if not statistics.get("rows_by_year", {}).get(reference):
        raise ValueError(f"the calibration table needs the panel's {reference} rows")
    ids = targets.source_figure_ids
    outside_share = {year: statistics["outside_by_year"][year] / rows
                     for year, rows in statistics["rows_by_year"].items()}
    n_outside = statistics["outside_by_year"][reference]
    households = statistics["households"]
    trained_in_period = statistics["trained_in_period"]
    channels = targets.channel_ratios()
    published_index = {year: value / targets.working_away_by_year[reference]
                       for year, value in targets.working_away_by_year.items() if year != reference}
    rows = [
        (f"working_away_index_{year}",
         f"share working outside the county in {year} relative to {reference}", True,
         value, outside_share[year] / outside_share[reference],
         ids.get(f"working_away_{year}", []) + ids.get(f"working_away_{reference}", []))
        for year, value in sorted(published_index.items()) if year in outside_share
    ]
    rows += [
        ("households_with_migrant_work_share",
         f"share of households with a member working outside the county in {reference}", True,
         targets.households_with_migrant_work_share,
         statistics["households_with_outside"] / households,
         ids.get("households_with_migrant_work_share", [])),
        *[(f"{channel}_per_working_away",
           f"persons placed by {reference} through {channel.replace('_', ' ')}s per laborer "
           f"working outside the county in {reference}",
           True, ratio, statistics["placed"][channel] / n_outside,
           ids.get(target, []) + ids.get(f"working_away_{reference}", []))
          for (channel, ratio), target in zip(channels.items(), (
              "workshop_jobs_2020", "public_welfare_posts_2020", "organized_transport_2020"))],
        ("trained_per_working_away",
         f"persons first trained in {targets.training_period[0]}-{targets.training_period[1]} "
         f"per laborer working outside the county in {reference}", True,
         targets.trained_per_working_away(), trained_in_period / n_outside,
         ids.get("trained_2016_2020", []) + ids.get(f"working_away_{reference}", [])),
        ("training_share_last_year",
         f"share of first trainings {targets.training_period[0]}-{reference} that were in "
         f"{reference}", True, targets.training_share_last_year(),
         statistics["trained_in_reference_year"] / trained_in_period if trained_in_period
         else np.nan,
         ids.get("trained_2020", []) + ids.get("trained_2016_2020", [])),
        ("employment_assistance_share",
         f"share of households with a member trained in {targets.training_period[0]}-"
         f"{targets.training_period[1]} or, in {reference}, with a workshop job, public-welfare "
         "post, organized labor export or employment services", True,
         targets.employment_assistance_share, statistics["households_reached"] / households,
         ids.get("employment_assistance_share", [])),
    ]
    table = pd.DataFrame(rows, columns=["aggregate", "description", "targeted", "target",
                                        "simulated", "figure_ids"])
    table["simulated"] = table["simulated"].astype(float)
    table["error"] = table["simulated"] - table["target"]
    table["abs_error"] = table["error"].abs()
    table["rel_error"] = table["abs_error"] / table["target"].abs()
    table["figure_ids"] = table["figure_ids"].map(lambda figure_ids: ";".join(figure_ids))
    return table[CALIBRATION_COLUMNS]
