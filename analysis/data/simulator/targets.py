"""The published national aggregates the simulator is calibrated to, read from the ledger."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.data.ledger import FigureNotFoundError, find_figure

# The "two-thirds of poor families have been involved in migrant work" sentence of the SCIO
# press conference of 2020-11-19 has no row in data/raw/published_figures.csv.
MIGRANT_HOUSEHOLDS_SOURCE = "published in the SCIO 2020 press conference; no ledger row"
# Divisors that turn a ledger share or ratio into a fraction ("index": 100 = the base).
SHARE_UNITS = {"percent": 100.0, "index": 100.0, "fraction": 1.0}


class CalibrationError(RuntimeError):
    """Raised when the targets cannot be reached, or a probability would leave [0, 1]."""


@dataclass(frozen=True)
class CalibrationTargets:
    """The national published aggregates the simulator reproduces (shares as fractions)."""

    working_away_by_year: dict[int, float]
    households_with_migrant_work_share: float
    employment_assistance_share: float
    trained_2020: float
    trained_2016_2020: float
    workshop_jobs_2020: float
    public_welfare_posts_2020: float
    organized_transport_2020: float
    source_figure_ids: dict[str, list[str]] = field(default_factory=dict)
    reference_year: int = 2020
    training_period: tuple[int, int] = (2016, 2020)

    def __post_init__(self):
        published = sorted(self.working_away_by_year)
        if len(published) < 2 or published[-1] != self.reference_year:
            raise ValueError("working_away_by_year needs at least two years, the last being "
                             f"{self.reference_year}; got {published}")
        if self.training_period[1] != self.reference_year or \
                self.training_period[0] < published[0]:
            raise ValueError(f"training_period {self.training_period} must end in "
                             f"{self.reference_year} and start no earlier than {published[0]}")
        for name in ("households_with_migrant_work_share", "employment_assistance_share"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be a fraction in (0, 1), got {getattr(self, name)}")

    @property
    def calibration_years(self) -> range:
        """The training period: the years over which first receipts are calibrated."""
        return range(self.training_period[0], self.training_period[1] + 1)

    def working_away_index(self, years: range) -> dict[int, float]:
        """``W_t / W_reference``, log-linearly interpolated between published years."""
        known = sorted(self.working_away_by_year)
        if years.start < known[0] or years.stop - 1 > known[-1]:
            raise ValueError(f"years {years.start}-{years.stop - 1} lie outside the published "
                             f"working-away trajectory {known[0]}-{known[-1]}")
        logs = np.log([self.working_away_by_year[year] for year in known])
        reference = self.working_away_by_year[self.reference_year]
        return {year: float(np.exp(np.interp(year, known, logs)) / reference) for year in years}

    def channel_ratios(self) -> dict[str, float]:
        """Each 2020 channel count relative to the 2020 count working away."""
        working_away = self.working_away_by_year[self.reference_year]
        return {"workshop_job": self.workshop_jobs_2020 / working_away,
                "public_welfare_post": self.public_welfare_posts_2020 / working_away,
                "organized_labor_export": self.organized_transport_2020 / working_away}

    def training_share_last_year(self) -> float:
        return self.trained_2020 / self.trained_2016_2020

    def trained_per_working_away(self) -> float:
        """Persons trained over the training period per person working away in the last year."""
        return self.trained_2016_2020 / self.working_away_by_year[self.reference_year]

    def program_ratios(self) -> dict[str, float]:
        """Persons with each program by the reference year per person working away then."""
        return {"training": self.trained_per_working_away(), **self.channel_ratios()}


def _figure(ledger: pd.DataFrame, target: str, indicator: str, period: str,
            share: bool = False) -> tuple[float, str]:
    """One national actual ledger value (a share or ratio as a fraction) and its figure id."""
    try:
        row = find_figure(ledger, indicator, period)
    except FigureNotFoundError as err:
        raise FigureNotFoundError(f"calibration target {target!r} needs indicator "
                                  f"{indicator!r} period {period!r}: {err}") from err
    value = float(row["value"])
    if math.isnan(value):
        raise FigureNotFoundError(f"calibration target {target!r}: ledger row "
                                  f"{row['figure_id']} ({indicator!r}, {period!r}) has no value")
    if share:
        unit = row.get("unit", "percent")
        if unit not in SHARE_UNITS:
            raise ValueError(f"calibration target {target!r}: ledger row {row['figure_id']} has "
                             f"unit {unit!r}; expected one of {sorted(SHARE_UNITS)}")
        value /= SHARE_UNITS[unit]
    return value, str(row["figure_id"])


def calibration_targets_from_ledger(
    ledger: pd.DataFrame,
    households_with_migrant_work_share: float = 2 / 3,
    households_with_migrant_work_figure: tuple[str, str] | None = None,
) -> CalibrationTargets:
    """Read the calibration targets from the figure ledger (national, actual rows).

    The 2019 working-away count is derived, never typed: the end-October 2020 count divided
    by its ratio to the previous year. The two-thirds household share (SCIO press conference,
    2020) has no ledger row: by default it is ``households_with_migrant_work_share`` and its
    source is recorded in words; pass ``households_with_migrant_work_figure=(indicator,
    period)`` to read it from a ledger row instead.

    Raises
    ------
    analysis.data.ledger.FigureNotFoundError
        Naming the target, indicator and period of a row that is absent or has no value.
    ValueError
        When a share or ratio row has a unit other than percent, index or fraction.
    """
    ids: dict[str, list[str]] = {}

    def take(target: str, indicator: str, period: str, share: bool = False) -> float:
        value, figure_id = _figure(ledger, target, indicator, period, share)
        ids.setdefault(target, []).append(figure_id)
        return value

    working_away = {
        2016: take("working_away_2016", "poor_laborers_working_away", "2016"),
        2020: take("working_away_2020", "poor_laborers_working_away", "2020"),
    }
    end_october = take("working_away_2019", "poor_laborers_working_away", "2020-10")
    ratio = take("working_away_2019", "poor_laborers_working_away_relative_to_previous_year",
                 "2020-10", share=True)
    working_away[2019] = end_october / ratio
    if households_with_migrant_work_figure is None:
        migrant_share = households_with_migrant_work_share
        ids["households_with_migrant_work_share"] = [MIGRANT_HOUSEHOLDS_SOURCE]
    else:
        migrant_share = take("households_with_migrant_work_share",
                             *households_with_migrant_work_figure, share=True)
    return CalibrationTargets(
        working_away_by_year=dict(sorted(working_away.items())),
        households_with_migrant_work_share=migrant_share,
        employment_assistance_share=take(
            "employment_assistance_share",
            "registered_poor_households_employment_assistance_share", "2020", share=True),
        trained_2020=take("trained_2020", "poor_laborers_trained", "2020"),
        trained_2016_2020=take("trained_2016_2020", "poor_laborers_trained", "2016-2020"),
        workshop_jobs_2020=take("workshop_jobs_2020", "workshop_jobs", "2020"),
        public_welfare_posts_2020=take("public_welfare_posts_2020",
                                       "public_welfare_post_placements", "2020"),
        organized_transport_2020=take("organized_transport_2020",
                                      "organized_transport_poor_laborers", "2020"),
        source_figure_ids=ids,
    )
