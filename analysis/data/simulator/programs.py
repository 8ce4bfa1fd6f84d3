"""Programs: take-up on covariates, staggered first receipt, and planted effects.

A program's state is one array per program, ``first[program]``: the year of first receipt, or
0 for persons who have not received it in the simulated years. The three channels exclude one
another, so at most one of their arrays is non-zero for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.data.simulator.parameters import (
    CHANNELS,
    EFFECT_PROGRAMS,
    PROBABILITY_LEVERS,
    ModelParameters,
)
from analysis.data.simulator.population import Population, linear_index
from analysis.data.simulator.targets import CalibrationError

NEVER = 0  # first-receipt year of persons who never received a program


# ----------------------------------------------------------------------------------------------
# Take-up probabilities


def training_probability(intercept: float, index: np.ndarray) -> np.ndarray:
    """P(first trained by the reference year | covariates): a logit."""
    return special.expit(intercept + index)


def channel_probabilities(intercepts: np.ndarray, indexes: np.ndarray) -> np.ndarray:
    """P(placed in each channel by the reference year | covariates): a multinomial logit.

    ``indexes`` has one row per channel (slopes times covariates, without intercept); the
    result has the same shape, and one minus its column sums is the probability of none.
    """
    utility = np.exp(intercepts[:, None] + indexes)
    return utility / (1 + utility.sum(axis=0))


def take_up_indexes(population: Population, params: ModelParameters) -> dict[str, np.ndarray]:
    covariates = population.covariates()
    return {program: linear_index(params.take_up_slopes[program], covariates)
            for program in EFFECT_PROGRAMS}


def hazard_after(by_reference: np.ndarray, last_weight: float) -> np.ndarray:
    """The reference year's expected hazard of first receipt, kept for the later years.

    ``by_reference`` is P(received by the reference year) (for channels, one row per channel)
    and ``last_weight`` the reference year's share of first receipts; the hazard is
    P(first receipt in the reference year | none before).
    """
    total = by_reference.sum(axis=0) if by_reference.ndim == 2 else by_reference
    return by_reference * last_weight / (1 - total * (1 - last_weight))


# ----------------------------------------------------------------------------------------------
# Realized take-up: exact counts by order sampling, exact year shares


@dataclass
class SelectionDraws:
    """Uniform person draws behind take-up; independent of every outcome shock."""

    training_rank: np.ndarray
    training_timing: np.ndarray
    channel_rank: np.ndarray
    channel_type: np.ndarray
    channel_timing: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> SelectionDraws:
        return cls(*rng.random((5, n)))


def _smallest(ratio: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """Mask of the ``count`` eligible elements with the smallest ratio."""
    chosen = np.zeros(len(ratio), dtype=bool)
    candidates = np.flatnonzero(eligible)
    count = min(count, len(candidates))
    if count > 0:
        chosen[candidates[np.argpartition(ratio[candidates], count - 1)[:count]]] = True
    return chosen


def exact_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` by largest remainders."""
    quotas = np.asarray(weights, dtype=float) / np.sum(weights) * total
    counts = np.floor(quotas).astype(np.int64)
    remainders = np.argsort(-(quotas - counts), kind="stable")
    counts[remainders[:total - counts.sum()]] += 1
    return counts


def _first_years(selected: np.ndarray, timing: np.ndarray, weights: np.ndarray,
                 years: list[int]) -> np.ndarray:
    """Exact shares of the selected by year, in the order of their timing draws."""
    first = np.zeros(len(selected), dtype=np.int16)
    members = np.flatnonzero(selected)
    ordered = members[np.argsort(timing[members], kind="stable")]
    first[ordered] = np.repeat(np.array(years, dtype=np.int16),
                               exact_counts(len(members), weights))
    return first


def assign_programs(draws: SelectionDraws, probability: dict[str, np.ndarray],
                    counts: dict[str, int], weights: dict[str, np.ndarray],
                    years: list[int]) -> dict[str, np.ndarray]:
    """First-receipt years over the calibration years, with exact counts per program.

    Training: the ``counts['training']`` persons with the smallest ``rank / pi`` (sequential
    Poisson sampling: inclusion probability close to ``pi`` when the count is its expectation).
    Channels: a type drawn with probabilities ``p_k / P``, then within each type the
    ``counts[k]`` persons with the smallest ``rank / P``, so inclusion is close to ``p_k``.
    """
    pi = probability["training"]
    trained = _smallest(draws.training_rank / pi, np.ones(len(pi), bool), counts["training"])
    first = {"training": _first_years(trained, draws.training_timing, weights["training"],
                                      years)}
    p = np.stack([probability[channel] for channel in CHANNELS])
    total = p.sum(axis=0)
    kind = (draws.channel_type[None, :] * total > np.cumsum(p, axis=0)).sum(axis=0)
    ratio = draws.channel_rank / total
    for k, channel in enumerate(CHANNELS):
        placed = _smallest(ratio, kind == k, counts[channel])
        first[channel] = _first_years(placed, draws.channel_timing, weights["channels"], years)
    return first


def extend_after_reference(first: dict[str, np.ndarray], hazard: dict[str, np.ndarray],
                           later_years: list[int], rngs: list[np.random.Generator]) -> None:
    """First receipts in years after the reference year, at the reference year's hazard."""
    h = np.stack([hazard[channel] for channel in CHANNELS])
    bounds = np.cumsum(h, axis=0)
    for year, rng in zip(later_years, rngs):
        train_draw, channel_draw = rng.random((2, len(h[0])))
        untrained = first["training"] == NEVER
        first["training"][untrained & (train_draw < hazard["training"])] = year
        none = np.all([first[channel] == NEVER for channel in CHANNELS], axis=0)
        kind = (channel_draw[None, :] >= bounds).sum(axis=0)
        for k, channel in enumerate(CHANNELS):
            first[channel][none & (kind == k)] = year


# ----------------------------------------------------------------------------------------------
# Planted effects


def effects_in_year(population: Population, first: dict[str, np.ndarray], year: int,
                    params: ModelParameters) -> dict[str, dict[str, np.ndarray]]:
    """Each program's effect on each lever for every person in ``year`` (0 when not active)."""
    taus = {}
    for program in EFFECT_PROGRAMS:
        active = (first[program] != NEVER) & (first[program] <= year)
        event = np.where(active, year - first[program], 0)
        scale = active * population.person_multiplier(program)
        taus[program] = {lever: scale * params.effect_path(params.effect(program, lever), event)
                         for lever in (*PROBABILITY_LEVERS, "log_wage")}
        for lever in PROBABILITY_LEVERS:
            if np.abs(taus[program][lever]).max(initial=0) >= 1:
                raise CalibrationError(f"{program}: a province multiplier pushes the {lever} "
                                       "effect beyond the whole headroom")
    return taus


def compose(q0: np.ndarray, taus: list[np.ndarray]) -> np.ndarray:
    """Probability after several programs: positive shares of the headroom, then negative
    shares of what is left. ``q0`` is returned unchanged where no effect applies."""
    keep_headroom = np.ones_like(q0)
    keep = np.ones_like(q0)
    for tau in taus:
        keep_headroom *= np.where(tau > 0, 1 - tau, 1.0)
        keep *= np.where(tau < 0, 1 + tau, 1.0)
    raised = np.where(keep_headroom == 1, q0, 1 - (1 - q0) * keep_headroom)
    return np.where(keep == 1, raised, raised * keep)


def affine_in_base(taus: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) with compose(q0, taus) = alpha + beta q0, for calibration."""
    keep_headroom = np.prod([np.where(tau > 0, 1 - tau, 1.0) for tau in taus], axis=0)
    keep = np.prod([np.where(tau < 0, 1 + tau, 1.0) for tau in taus], axis=0)
    return keep * (1 - keep_headroom), keep * keep_headroom
