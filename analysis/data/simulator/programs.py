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


def hazard_after(by_reference: np.ndarray, last_weight: float) -> np.ndarray:
    """The reference year's expected hazard of first receipt, kept for the later years.

    ``by_reference`` is P(received by the reference year) (for channels, one row per channel)
    and ``last_weight`` the reference year's share of first receipts; the hazard is
    P(first receipt in the reference year | none before).
    """
    total = by_reference.sum(axis=0) if by_reference.ndim == 2 else by_reference
    return by_reference * last_weight / (1 - total * (1 - last_weight))


# ----------------------------------------------------------------------------------------------
# Realized take-up: exact national counts by order sampling, exact year shares


@dataclass
class SelectionDraws:
    """Uniform person draws behind take-up; independent of every outcome shock."""

    training_rank: np.ndarray
    training_timing: np.ndarray
    channel_rank: np.ndarray
    channel_type: np.ndarray
    channel_timing: np.ndarray


@dataclass(frozen=True)
class Cutoffs:
    """Who receives a program by the reference year, and when: the national thresholds.

    A person is chosen when their ranking ratio is at most ``ratio`` (the count-th smallest
    ratio in the nation), and a chosen person's first year is ``years[k]`` with ``k`` the
    number of ``timing`` boundaries at or below their timing draw (the boundaries are the
    timing draws that start each year in the national order).
    """

    ratio: float
    timing: tuple[float, ...]


def ranking_ratios(draws: SelectionDraws, probability: dict[str, np.ndarray],
                   ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per program: (candidates, ranking ratio, timing draw), arrays over the candidates.

    Training: everyone, ranked by ``rank / pi`` (sequential Poisson sampling: inclusion
    probability close to ``pi`` when the count is its expectation). Channels: a type drawn with
    probabilities ``p_k / P``; the candidates of channel ``k`` are the persons of its type,
    ranked by ``rank / P``, so that inclusion is close to ``p_k``.
    """
    everyone = np.arange(len(draws.training_rank))
    ratios = {"training": (everyone, draws.training_rank / probability["training"],
                           draws.training_timing)}
    p = np.stack([probability[channel] for channel in CHANNELS])
    total = p.sum(axis=0)
    kind = (draws.channel_type[None, :] * total > np.cumsum(p, axis=0)).sum(axis=0)
    ratio = draws.channel_rank / total
    for k, channel in enumerate(CHANNELS):
        members = np.flatnonzero(kind == k)
        ratios[channel] = (members, ratio[members], draws.channel_timing[members])
    return ratios


def first_receipts(draws: SelectionDraws, probability: dict[str, np.ndarray],
                   cutoffs: dict[str, Cutoffs], years: list[int]) -> dict[str, np.ndarray]:
    """First-receipt years over the calibration years under the national cut-offs."""
    first = {}
    for program, (members, ratio, timing) in ranking_ratios(draws, probability).items():
        cut = cutoffs[program]
        chosen = ratio <= cut.ratio
        year = np.array(years, dtype=np.int16)[np.searchsorted(np.array(cut.timing),
                                                               timing[chosen], side="right")]
        first[program] = np.zeros(len(draws.training_rank), dtype=np.int16)
        first[program][members[chosen]] = year
    return first


def extend_after_reference(first: dict[str, np.ndarray], hazard: dict[str, np.ndarray],
                           later_years: list[int], uniforms: list[np.ndarray]) -> None:
    """First receipts in years after the reference year, at the reference year's hazard;
    ``uniforms`` holds two uniform draws per person (training, channel) for each later year."""
    h = np.stack([hazard[channel] for channel in CHANNELS])
    bounds = np.cumsum(h, axis=0)
    for year, (train_draw, channel_draw) in zip(later_years, uniforms):
        untrained = first["training"] == NEVER
        first["training"][untrained & (train_draw < hazard["training"])] = year
        none = np.all([first[channel] == NEVER for channel in CHANNELS], axis=0)
        kind = (channel_draw[None, :] >= bounds).sum(axis=0)
        for k, channel in enumerate(CHANNELS):
            first[channel][none & (kind == k)] = year


# ----------------------------------------------------------------------------------------------
# Planted effects


def effects_in_year(population, first: dict[str, np.ndarray], year: int,
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
