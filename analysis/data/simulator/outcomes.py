"""Outcomes of one year from the probabilities of a treatment state and shared shocks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.config import STABLE_EMPLOYMENT_MIN_MONTHS
from analysis.data.simulator.parameters import EFFECT_PROGRAMS, ModelParameters
from analysis.data.simulator.programs import compose
from analysis.data.simulator.targets import CalibrationError


@dataclass
class Shocks:
    """Primitive person-year shocks, shared by every potential outcome of a person-year."""

    months: np.ndarray
    outside: np.ndarray
    crossing: np.ndarray
    wage: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> Shocks:
        return cls(rng.random(n), rng.standard_normal(n), rng.random(n), rng.standard_normal(n))

    def subset(self, mask: np.ndarray) -> Shocks:
        return Shocks(self.months[mask], self.outside[mask], self.crossing[mask],
                      self.wage[mask])


@dataclass
class YearBase:
    """Untreated probabilities and log wage of every person in one year.

    ``outside_given_work`` is the probability of working outside the county among those who
    work at all, ``q_outside / works``; ``crossing`` the chance of crossing a province border
    when working outside the county.
    """

    q_stable: np.ndarray
    outside_given_work: np.ndarray
    crossing: np.ndarray
    log_wage: np.ndarray

    def subset(self, mask: np.ndarray) -> YearBase:
        return YearBase(self.q_stable[mask], self.outside_given_work[mask], self.crossing[mask],
                        self.log_wage[mask])


def works_probability(q_stable: np.ndarray, params: ModelParameters) -> np.ndarray:
    """P(months > 0) given the stable-employment probability."""
    return 1 - params.zero_month_share_of_unstable * (1 - q_stable)


def year_base(q_stable: np.ndarray, q_outside: np.ndarray, crossing: np.ndarray,
              log_wage: np.ndarray, params: ModelParameters, year: int) -> YearBase:
    if q_stable.min() <= 0 or q_stable.max() >= 1:
        raise CalibrationError(f"{year}: a stable-employment probability left (0, 1)")
    works = works_probability(q_stable, params)
    outside_given_work = q_outside / works
    bad = int((q_outside < 0).sum() + (outside_given_work > 1).sum())
    if bad:
        raise CalibrationError(
            f"{year}: {bad} persons have an outside-county probability below 0 or above the "
            "probability of working at all; narrow outside_bounds")
    return YearBase(q_stable, outside_given_work, crossing, log_wage)


def months_worked(u: np.ndarray, q: np.ndarray, params: ModelParameters) -> np.ndarray:
    """Months as a function of the shock and the stable-employment probability.

    Built around the stable-employment threshold ``m`` (6 months): stable person-years get
    ``m`` to 12 months, the others 0 to ``m - 0.5``, in half months.
    """
    threshold = STABLE_EMPLOYMENT_MIN_MONTHS
    months = np.empty(len(u))
    stable = u < q
    x = (1 - u[stable] / q[stable]) / (1 - params.twelve_month_share_of_stable)
    spread = 2 * threshold + 2 * (12 - threshold) * np.minimum(x, 1)
    months[stable] = np.where(x >= 1, 12.0, np.floor(spread) / 2)
    qu = q[~stable]
    x = (u[~stable] - qu) / (1 - qu) / (1 - params.zero_month_share_of_unstable)
    spread = 1 + (2 * threshold - 1) * (1 - np.minimum(x, 1))
    months[~stable] = np.where(x >= 1, 0.0, np.minimum(np.floor(spread) / 2, threshold - 0.5))
    return months


def potential(base: YearBase, taus: dict[str, dict[str, np.ndarray]], shocks: Shocks,
              params: ModelParameters, programs=EFFECT_PROGRAMS,
              only: tuple[str, ...] = ("stable_employment", "months_worked",
                                       "worked_outside_county", "worked_outside_province",
                                       "wage_income")) -> dict[str, np.ndarray]:
    """Outcomes of one treatment state: the effects of ``programs`` applied to ``base``."""
    q_stable = compose(base.q_stable, [taus[p]["stable"] for p in programs])
    outside_given_work = compose(base.outside_given_work, [taus[p]["outside"] for p in programs])
    crossing = compose(base.crossing, [taus[p]["crossing"] for p in programs])
    months = months_worked(shocks.months, q_stable, params)
    works = works_probability(q_stable, params)
    rank = np.clip(shocks.months / works, 1e-300, 1.0)
    rho = params.outside_months_rank_correlation
    u_outside = special.ndtr(rho * special.ndtri(rank) + math.sqrt(1 - rho**2) * shocks.outside)
    outside_county = (months > 0) & (u_outside < outside_given_work)
    outcomes = {"stable_employment": months >= STABLE_EMPLOYMENT_MIN_MONTHS,
                "months_worked": months, "worked_outside_county": outside_county}
    if "worked_outside_province" in only or "wage_income" in only:
        outside_province = outside_county & (shocks.crossing < crossing)
        outcomes["worked_outside_province"] = outside_province
        wage = params.wage
        log_wage = base.log_wage + sum(taus[p]["log_wage"] for p in programs)
        monthly = np.exp(log_wage + wage["outside_county"] * outside_county
                         + wage["outside_province"] * outside_province)
        outcomes["wage_income"] = np.round(months * monthly)
    return outcomes


def subset_taus(taus: dict[str, dict[str, np.ndarray]],
                mask: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    return {program: {lever: values[mask] for lever, values in levers.items()}
            for program, levers in taus.items()}
