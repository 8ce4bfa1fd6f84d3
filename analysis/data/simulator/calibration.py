"""Calibration from expectations, and the calibration table of a simulated panel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.data.simulator.parameters import CHANNELS, ModelParameters
from analysis.data.simulator.population import Population, linear_index
from analysis.data.simulator.programs import (
    affine_in_base,
    channel_probabilities,
    compose,
    hazard_after,
    take_up_indexes,
    training_probability,
)
from analysis.data.simulator.targets import CalibrationError, CalibrationTargets

CALIBRATION_COLUMNS = ["aggregate", "description", "targeted", "target", "simulated", "error",
                       "abs_error", "rel_error", "figure_ids"]
# Assistance in the reference year that counts towards the coverage, besides training.
ASSISTANCE_COLUMNS = (*CHANNELS, "employment_services")


@dataclass
class Calibrated:
    intercepts: dict[str, float]
    take_up: dict[str, np.ndarray]  # P(first receipt by the reference year | covariates)
    hazard: dict[str, np.ndarray]  # yearly hazard of first receipt after the reference year
    years: list[int]  # the calibration years (first receipts are calibrated over these)
    first_year_weights: dict[str, np.ndarray]  # "training" and "channels"
    stable_year_effect: dict[int, float]
    outside_year_effect: dict[int, float]
    outside_share: dict[int, float]
    expected_outside_reference: float  # expected persons working outside the county
    services_intercept: float
    services_probability: np.ndarray
    reached_without_services: float


def share_of_households_with_any(p_none: np.ndarray, household: np.ndarray) -> float:
    """1 - mean over households of the product of members' probabilities of 'none'."""
    with np.errstate(divide="ignore"):
        log_none = np.bincount(household, weights=np.log(p_none))
    return float(1 - np.exp(log_none).mean())


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


def _program_states(pop: Population, take_up: dict[str, np.ndarray],
                    weights: dict[str, np.ndarray], years: list[int], year: int,
                    params: ModelParameters) -> tuple[list, list]:
    """Training states and channel states in ``year``: (probability, stable and outside
    effects). Training and the channel are independent given covariates; the channels exclude
    one another. Probabilities and effects are arrays over persons (None: no effect)."""

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


def expected_outside(pop: Population, take_up: dict[str, np.ndarray],
                     weights: dict[str, np.ndarray], years: list[int], year: int,
                     stable_year: float, params: ModelParameters
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with E[P(outside the county) | covariates] = A + B omega in ``year``.

    The expectation runs over every combination of a training state and a channel state.
    """
    q_stable0 = pop.stable_propensity + stable_year
    zero = params.zero_month_share_of_unstable
    works0 = 1 - zero * (1 - q_stable0)
    a, b = np.zeros(len(pop)), np.zeros(len(pop))
    training, channel = _program_states(pop, take_up, weights, years, year, params)
    for p_training, training_effects in training:
        for p_channel, channel_effects in channel:
            state = [e for e in (training_effects, channel_effects) if e is not None]
            stable = [e[0] for e in state]
            works = 1 - zero * (1 - compose(q_stable0, stable)) if stable else works0
            alpha, beta = affine_in_base([e[1] for e in state]) if state else (0.0, 1.0)
            probability = p_training * p_channel
            a += probability * works * (alpha + beta * pop.outside_propensity / works0)
            b += probability * works * beta / works0
    return a, b


def _channel_intercepts(indexes: np.ndarray, totals: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Multinomial-logit intercepts whose expected counts are ``totals`` (raking)."""
    intercepts = start.copy()
    for _ in range(500):
        expected = channel_probabilities(intercepts, indexes).sum(axis=1)
        step = np.log(totals / expected)
        intercepts += step
        if np.abs(step).max() < 1e-12:
            return intercepts
    raise CalibrationError("the channel take-up intercepts did not converge")


def calibrate(pop: Population, targets: CalibrationTargets, span: range,
              params: ModelParameters) -> Calibrated:
    """Solve the take-up intercepts, omega_t and the services intercept from expectations."""
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
    indexes = take_up_indexes(pop, params)
    channel_indexes = np.stack([indexes[channel] for channel in CHANNELS])

    expected_count = float(pop.outside_propensity.mean()) * len(pop)
    intercepts = {"training": -2.0}
    channel_start = np.full(len(CHANNELS), -3.0)
    omega = None
    for _ in range(200):
        gamma0 = _root(lambda g: training_probability(g, indexes["training"]).sum()
                       - ratios["training"] * expected_count, (-15.0, 15.0),
                       "the published training volume", 1e-12, intercepts["training"], 1.0)
        channel_start = _channel_intercepts(
            channel_indexes, np.array([ratios[c] for c in CHANNELS]) * expected_count,
            channel_start)
        intercepts = {"training": gamma0, **dict(zip(CHANNELS, channel_start.tolist()))}
        take_up = {"training": training_probability(gamma0, indexes["training"]),
                   **dict(zip(CHANNELS, channel_probabilities(channel_start, channel_indexes)))}
        a, b = expected_outside(pop, take_up, weights, years, reference,
                                stable_year[reference], params)
        omega = _root(
            lambda w: share_of_households_with_any(1 - a - b * w, pop.household)
            - targets.households_with_migrant_work_share,
            (-pop.outside_propensity.min(), float(((1 - a) / b).min())),
            f"the household share with migrant work in {reference}", 1e-13, omega)
        updated = float((a + b * omega).sum())
        converged = abs(updated - expected_count) < 1e-9 * len(pop)
        expected_count = updated
        if converged:
            break
    else:
        raise CalibrationError("the take-up and working-away calibration did not converge")

    share_reference = expected_count / len(pop)
    outside_share = {t: share_reference * index[t] for t in years}
    outside_year = {}
    for t in years:
        a, b = expected_outside(pop, take_up, weights, years, t, stable_year[t], params)
        outside_year[t] = (outside_share[t] * len(pop) - a.sum()) / b.sum()
    outside_year[reference] = omega
    outside_year.update({t: omega for t in span if t > reference})

    # Coverage: P(no member reached) = product over members of
    # P(not trained by the reference year) P(no channel by then) P(no services then).
    not_reached_otherwise = (1 - take_up["training"]) * (
        1 - sum(take_up[channel] for channel in CHANNELS))
    reached_without_services = share_of_households_with_any(not_reached_otherwise,
                                                            pop.household)
    coverage = targets.employment_assistance_share
    if reached_without_services >= coverage:
        raise CalibrationError(
            f"training and the three channels alone reach {reached_without_services:.3f} of "
            f"households, at or above the coverage target {coverage:.3f}")
    services_index = linear_index(params.employment_services_index, pop.covariates())

    def reached(delta0):
        services = special.expit(delta0 + services_index)
        return share_of_households_with_any(not_reached_otherwise * (1 - services),
                                            pop.household)

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
        reached_without_services=reached_without_services)


def calibration_table(panel: pd.DataFrame, targets: CalibrationTargets) -> pd.DataFrame:
    """Each calibrated aggregate: published target, simulated value, errors, figure ids.

    ``panel`` must contain the reference year (2020) and the published years before it.
    """
    reference = targets.reference_year
    if reference not in set(panel["year"].unique()):
        raise ValueError(f"the calibration table needs the panel's {reference} rows")
    ids = targets.source_figure_ids
    now = panel[panel["year"] == reference]
    outside_share = panel.groupby("year")["worked_outside_county"].mean()
    n_outside = now["worked_outside_county"].sum()
    households = now.groupby("household_id")
    trained = now["first_trained_year"]  # constant within person; one reference row each
    in_plan = trained.between(*targets.training_period).fillna(False).astype(bool)
    assisted = now[list(ASSISTANCE_COLUMNS)].any(axis=1)
    reached = (in_plan | assisted).groupby(now["household_id"]).any()
    channels = targets.channel_ratios()
    published_index = {year: value / targets.working_away_by_year[reference]
                       for year, value in targets.working_away_by_year.items() if year != reference}
    rows = [
        (f"working_away_index_{year}",
         f"share working outside the county in {year} relative to {reference}", True,
         value, outside_share.get(year, np.nan) / outside_share[reference],
         ids.get(f"working_away_{year}", []) + ids.get(f"working_away_{reference}", []))
        for year, value in sorted(published_index.items()) if year in outside_share.index
    ]
    rows += [
        ("households_with_migrant_work_share",
         f"share of households with a member working outside the county in {reference}", True,
         targets.households_with_migrant_work_share,
         households["worked_outside_county"].any().mean(),
         ids.get("households_with_migrant_work_share", [])),
        *[(f"{channel}_per_working_away",
           f"persons placed by {reference} through {channel.replace('_', ' ')}s per laborer "
           f"working outside the county in {reference}",
           True, ratio, now[channel].sum() / n_outside,
           ids.get(target, []) + ids.get(f"working_away_{reference}", []))
          for (channel, ratio), target in zip(channels.items(), (
              "workshop_jobs_2020", "public_welfare_posts_2020", "organized_transport_2020"))],
        ("trained_per_working_away",
         f"persons first trained in {targets.training_period[0]}-{targets.training_period[1]} "
         f"per laborer working outside the county in {reference}", True,
         targets.trained_per_working_away(), in_plan.sum() / n_outside,
         ids.get("trained_2016_2020", []) + ids.get(f"working_away_{reference}", [])),
        ("training_share_last_year",
         f"share of first trainings {targets.training_period[0]}-{reference} that were in "
         f"{reference}", True, targets.training_share_last_year(),
         (trained[in_plan] == reference).mean(),
         ids.get("trained_2020", []) + ids.get("trained_2016_2020", [])),
        ("employment_assistance_share",
         f"share of households with a member trained in {targets.training_period[0]}-"
         f"{targets.training_period[1]} or, in {reference}, with a workshop job, public-welfare "
         "post, organized labor export or employment services", True,
         targets.employment_assistance_share, reached.mean(),
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



