"""The demonstration panel: a seeded simulator of registered poor laborers, 2016-2020.

Where no analyst microdata is present, the pipeline runs on this simulated person-year panel.
Nothing in it is an official figure. The panel reproduces a few published national
aggregates (the calibration targets, below) and plants known effects of vocational training,
so that estimators can be checked against the truth. Parameters are of three kinds:

* **calibrated**: solved from published figures;
* **published**: taken as is;
* **illustrative**: chosen to look plausible, with no source.

Every parameter and its kind is recorded in ``SimulatedPanel.parameters``.

Notation: person ``i`` lives in household ``h``, county ``c`` and province ``p``; ``t`` is
the year; ``expit(z) = 1 / (1 + exp(-z))``. A person trained in year ``g`` is at event time
``e = t - g`` in year ``t``. ``T`` is the number of panel years, and ``age0`` is a person's
age in the first panel year.

Population (illustrative)
-------------------------
* Households have 1, 2, 3 or 4 laborers, with probabilities 0.25, 0.40, 0.25 and 0.10.
  ``household_size`` adds Poisson(1.5) dependants and is capped at 12.
* Provinces. A household's province is drawn with size weights:
  - 3 for the six largest poverty-task provinces (Henan, Hunan, Guangxi, Sichuan, Guizhou,
    Yunnan);
  - 2 for nine medium-sized ones;
  - 1 for the seven smallest.

  No ledger source gives these weights.
* Counties. A province has 4 counties per unit of weight, and its households are spread
  evenly over them. ``county_id = 10000 * province_code + k`` for ``k = 1, 2, ...``.
* ``age0 = 16 + floor((50 - T) * Beta(1.8, 1.5))``. Everyone ages one year per year, so ages
  stay within 16-64.
* ``female`` is Bernoulli(0.42).
* ``schooling_years`` is ``round(8.5 - 0.08 (age0 - 35) - 0.6 female + N(0, 2.5^2))``,
  clipped to 0-16.
* ``disability_or_weak_labor`` is Bernoulli(0.04 + 0.004 (age0 - 16)).

Outcomes without training, Y(0)
-------------------------------
Each person has two time-invariant propensities, for stable employment and for working
outside the county:

    P_S(i) = 0.05 + 0.67 expit(zS(i))        P_O(i) = 0.03 + 0.37 expit(zO(i))

Both indexes use the same centred covariates: schooling - 9, a = (age0 - 38) / 10, a^2,
disability, female, and household_size - 4. Each also adds normal province, county,
household and person effects, with standard deviations 0.25/0.20/0.35/0.60 for ``zS`` and
0.30/0.20/0.50/0.60 for ``zO``. The two person effects are correlated (0.5). All of these
numbers are illustrative.

    zS = 0.35 + 0.12 (schooling - 9) - 0.25 a^2 - 1.2 disability - 0.3 female
         - 0.05 (household_size - 4) + effects
    zO = -0.15 + 0.06 (schooling - 9) - 0.35 a - 0.1 a^2 - 1.5 disability - 0.6 female
         - 0.05 (household_size - 4) + effects

Age enters through ``age0``, the birth cohort. Everyone ages alike, so a linear ageing
effect would be common to all and sit in the year effect.

In year ``t``, without training, the probability of stable employment is
``qS = P_S(i) + lambda_t`` and the probability of working outside the county is
``qO = P_O(i) + omega_t``. These year effects are additive and common to everyone. As a
result, **trends are parallel in the probabilities themselves**, not only in a latent
index, across any groups defined by time-invariant traits, training cohorts included. This
holds because probabilities are never clipped: a check raises :class:`CalibrationError`
if one would be. ``lambda_t`` rises by 0.06 from 2016 to 2020, in step with the
working-away index; this is illustrative, since the sources say only that the share
working away for more than half a year "increased significantly". ``omega_t`` is
calibrated (below).

Each person-year draws its own primitive shocks: uniforms ``U`` (months), ``V`` (crossing
a province border) and ``K`` (channel ranks), and standard normals ``Z`` (working outside
the county) and ``E`` (wage).

* **Stable employment** = ``1[U < qS]``.
* **Months worked** is a deterministic function of ``U`` and ``qS``.
  - If ``U < qS``: let ``x = (1 - U/qS) / 0.6``. Months are 12 if ``x >= 1`` (40% of
    stable person-years), otherwise ``6 + 6x`` floored to the half month.
  - Otherwise: let ``x = (U - qS) / (1 - qS) / 0.8``. Months are 0 if ``x >= 1`` (20% of
    the others), otherwise ``0.5 + 5.5 (1 - x)`` floored to the half month and capped at
    5.5.

  So ``stable_employment == (months_worked >= 6)`` exactly. Within each branch the
  distribution of months does not depend on ``qS``. Hence ``E[months] = 2.4 + 7.65 qS`` is
  linear in ``qS`` too: unstable person-years average 2.4 months (0.8 x 3.0) and stable ones
  10.05.
* **Working outside the county** requires months > 0, which happens exactly when
  ``U < w = 1 - 0.2 (1 - qS)``. Let ``R = U / w``, uniform among those who work, and
  ``UO = Phi(0.5 Phi^-1(R) + sqrt(0.75) Z)``. Then
  ``worked_outside_county = 1[U < w] 1[UO < qO / w]``, whose probability is exactly ``qO``.
  People with more months are likelier to work away, and nobody works away for zero
  months. This needs ``qO <= w``, which is checked.
* **Working outside the province** = ``worked_outside_county * 1[V < psi]``. The
  illustrative ``psi`` is 0.60 in central, 0.45 in western and 0.40 in eastern and
  north-eastern provinces.
* **Wage income** = months worked x monthly wage, rounded to the yuan. The monthly wage is
  ``1800 exp(0.06 (t - 2016) + 0.03 (schooling - 9) - 0.15 female + 0.35 outside_county +
  0.10 outside_province + N(0, 0.25^2) person effect + 0.2 E)`` yuan. All illustrative.

Training: selection and timing
------------------------------
* **Ever trained in 2016-2020** = ``1[W < pi(i)]``, where ``W`` is a uniform person draw
  and ``pi(i) = expit(gamma0 + 0.25 (schooling - 9) - 0.4 a - 1.5 disability
  - 0.2 female)``. The slopes are illustrative; ``gamma0`` is calibrated to the published
  training volume (calibration step 4).
  - Younger, more schooled, able-bodied men train more, and the same traits raise ``P_S``.
    A **naive trained-versus-untrained comparison therefore overstates the effect of
    training (upward bias)**.
  - Training also piles up in the later years, whose ``lambda_t`` is higher. This pushes
    the naive comparison further up.
  - Selection is on observed covariates only. Take-up is independent of the province,
    county, household and person effects and of all shocks. So regression adjustment,
    IPW and AIPW on these covariates (with year effects) are consistent when their models
    are correctly specified.
* **Year of first training**, among the ever trained, is assigned over 2016-2020 by a random
  permutation, independent of everything else. The years get exact shares of the ever
  trained (up to rounding, by largest remainders). The share of 2020 is trained_2020 /
  trained_2016_2020 (2.7 / 10 = 0.27, published). The other years share the rest equally
  (illustrative). Exact shares keep the 2020 share on target even though few are trained.
  ``first_trained_year`` holds that year, or is missing for the never trained. ``trained``
  is true in that year only: the panel records first training, not repeat courses. A panel
  that starts after 2016 keeps earlier training years in ``first_trained_year``.

Effects of training (planted, illustrative; absorbing from the training year on)
-------------------------------------------------------------------------------
At event time ``e >= 0``:

* training adds ``tauS(p, e) = mS(p) [0.145 - 0.065 * 0.5^e]`` to ``qS``: +8 points in the
  training year, rising towards +14.5;
* it adds ``tauO(p, e) = mO(p) [0.08 - 0.04 * 0.5^e]`` to ``qO``: +4 points, rising
  towards +8.

The province multipliers are ``m(p) = 1 + u_p - mean(u)`` with ``u_p`` drawn from
Uniform(-0.3, 0.3). They average exactly 1 across provinces, so the paths above are the
unweighted national means. The expected effect on months worked is ``7.65 tauS``. The effect
on wage income follows from months and work location. Effects do not vary with covariates,
so within a cell the ATT equals the ATE.

Both potential outcomes of a person-year use the **same primitive shocks**. The truth for a
(province, training year, year) cell is therefore the exact sample mean of ``Y(1) - Y(0)``
over its treated person-years: the ``att_*`` columns of ``truth``. The ``planted_*``
columns give the model's expected effect for the same person-years.

Employment services (illustrative)
----------------------------------
``employment_services`` records other employment assistance received in the year: job
information, referral, a job-seeking or transport subsidy. Each person-year draws it
independently as ``1[S < sigma(i)]``, where ``S`` is a uniform person-year draw and

    sigma(i) = expit(delta0 - 0.05 (schooling - 9) + 0.2 a + 0.4 disability + 0.1 female)

* The slopes are illustrative. They lean towards the people whom training and migration
  reach least: older, less schooled, disabled and female laborers. ``delta0`` is
  calibrated to the coverage (calibration step 5).
* The probability is the same in every panel year (illustrative); only 2020 is calibrated.
* Services depend on covariates only. They are independent of training, of the planted
  effects and of every outcome shock, and **they change no outcome**. They are not a second
  treatment: they exist so that the coverage figure can be met without inflating training,
  and the truth table ignores them.

Calibration (published aggregates; deterministic, from expectations)
--------------------------------------------------------------------
:func:`calibration_targets_from_ledger` reads the targets from the figure ledger.

``W_t`` is the published number of poor laborers working away from home: 15.27 million in
2016 and 32.43 million in 2020. For 2019 the number is implied: the end-October 2020 count
of 29.73 million is 108.9% of the 2019 total, so 2019 = 29.73 million / 1.089. The years in
between (2017 and 2018) are interpolated log-linearly, which is an assumption. "Working
away" is equated with working outside the county.

1. **Trajectory**: the share working outside the county is ``s_t = s_2020 W_t / W_2020``.
2. **Level**: ``omega_2020`` is set so that, in expectation, 2/3 of households have a
   member working outside the county in 2020 ("two-thirds of poor families have been
   involved in migrant work", SCIO 2020). This gives ``s_2020``. For the other years,
   ``omega_t = s_t - mean(P_O + pi E[tauO_t])``.
3. **Channels** in each year are exact counts, in proportion to the 2020 published counts
   relative to the 32.43 million working away:
   - organized labor export: 1.6 / 32.43 of those working outside the county;
   - workshop jobs (0.44 / 32.43) and public-welfare posts (5.02 / 32.43): people who
     worked (months > 0) but not outside the county, one channel each.

   Within each pool the lowest ranks ``K`` get the channel. Only 2020 is calibrated;
   carrying the ratios back to earlier years is illustrative.
4. **Training volume**: ``gamma0`` is set so that, in expectation, the number of persons
   ever trained in 2016-2020 divided by the number working outside the county in 2020 equals
   trained_2016_2020 / W_2020 = 10 / 32.43 (about 0.31). Both are counts of persons in the
   panel: the numerator counts persons whose ``first_trained_year`` lies in 2016-2020, each
   once; the denominator counts persons with ``worked_outside_county`` in 2020. The published
   10 million is read as persons trained, not course places. That is an assumption: the
   panel records first training only, so repeat courses could not be represented anyway.
   The year of first training keeps its published 2020 weight of 0.27.
5. **Coverage**: ``delta0`` is set so that 93.8% of households were reached by employment
   assistance in 2020. Reached means that a member was trained in 2016-2020 or, in 2020, had
   a workshop job, a public-welfare post, organized labor export or employment services.

How steps 2, 4 and 5 are solved:

* Draws are independent across household members given their covariates. A household
  share is therefore one minus the mean, over households, of the product of the members'
  probabilities of "none". For coverage, a member's probability of "none" is
  ``(1 - pi) (1 - P(channel | untrained)) (1 - sigma)``. Root-finding on these expressions
  gives the calibrated values exactly.
* Steps 2 and 4 are solved together. Training raises the chance of working away, so
  ``omega_2020`` is re-solved for each trial ``gamma0``. Step 5 then solves ``delta0`` with
  training and the channels fixed.
* The expectations use the take-up probabilities ``pi``, not the realized training draws.
  No one's outcome depends on anyone else's training.
* The only gap between a target and its simulated value is sampling noise.
  ``SimulatedPanel.calibration`` reports it.
  - Household shares are off by about ``1/sqrt(households)``: about half a point at 30,000
    persons and a few hundredths of a point at a million.
  - Training is rarer, so its volume is noisier. At 30,000 persons (about 4,000 trained),
    the trained-to-working-away ratio has a relative standard error of about 2% (roughly
    ``1/sqrt(persons trained)``). The 2020 share of first trainings is exact up to rounding.

Why coverage is broader than training
-------------------------------------
The 93.8% counts registered poor households that received any "employment assistance
policy": job information, referrals, transport and job-seeking subsidies and other
services, as well as training and placement. Training, the treatment whose effect the
project estimates, is far rarer: about 10 million poor laborers trained in 2016-2020
against 32.43 million working away in 2020. Reaching 93.8% through training and the three
channels alone would take roughly four in five laborers ever trained, six times the
published volume, and would misstate the size and make-up of the treated group.

So training is calibrated to its published volume (step 4), and ``employment_services``
carries the rest of the coverage (step 5). Training and the three channels alone reach well
under half of households; the parameter record gives the expected share
(``expected_households_reached_without_services``) and the mean services probability that
closes the gap (``mean_employment_services_probability``). No source gives the services
rate separately, so it is the least grounded number in the model.

Implementation: ``np.random.default_rng(seed)`` spawns independent streams for province
draws, persons, training, each year's shocks and each year's employment services.
Province-level draws (effect multipliers, province and county effects) therefore do not
depend on the number of persons. The code is vectorised over persons and loops only over
years. Columns use compact dtypes; the pandera schema coerces them on validation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.config import DEMO_PERSONS, DEMO_SEED, DEMO_YEARS, STABLE_EMPLOYMENT_MIN_MONTHS
from analysis.data.ledger import FigureNotFoundError, find_figure

OUTCOMES = ("stable_employment", "months_worked", "worked_outside_county", "wage_income")
TRUTH_KEYS = ["province_code", "first_trained_year", "year"]
CALIBRATION_COLUMNS = ["aggregate", "description", "targeted", "target", "simulated", "error",
                       "abs_error", "rel_error", "figure_ids"]
MIGRANT_HOUSEHOLDS_UNLINKED = "published (SCIO 2020), slug to be linked"
# Assistance in the reference year that counts towards the coverage, besides training.
ASSISTANCE_COLUMNS = ("workshop_job", "public_welfare_post", "organized_labor_export",
                      "employment_services")
COUNTY_ID_MULTIPLIER = 10_000
# Divisors that turn a ledger share or ratio into a fraction ("index": 100 = the base).
SHARE_UNITS = {"percent": 100.0, "index": 100.0, "fraction": 1.0}

# Illustrative province size weights (no ledger source): 3 = large, 2 = medium, 1 = small.
PROVINCE_WEIGHTS = {
    "41": 3, "43": 3, "45": 3, "51": 3, "52": 3, "53": 3,
    "13": 2, "14": 2, "34": 2, "36": 2, "42": 2, "50": 2, "61": 2, "62": 2, "65": 2,
    "15": 1, "22": 1, "23": 1, "46": 1, "54": 1, "63": 1, "64": 1,
}


class CalibrationError(RuntimeError):
    """Raised when the targets cannot be reached, or a probability would leave [0, 1]."""


# ----------------------------------------------------------------------------------------------
# Calibration targets from the figure ledger


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
        for name in ("households_with_migrant_work_share", "employment_assistance_share"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be a fraction in (0, 1), got {getattr(self, name)}")

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
    by its ratio to the previous year. The two-thirds household share has no agreed ledger
    slug yet: by default it is ``households_with_migrant_work_share`` and recorded as
    unlinked; pass ``households_with_migrant_work_figure=(indicator, period)`` to read it
    from the ledger instead.

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
        ids["households_with_migrant_work_share"] = [MIGRANT_HOUSEHOLDS_UNLINKED]
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


# ----------------------------------------------------------------------------------------------
# Model parameters (illustrative unless calibrated; see the module docstring)


@dataclass(frozen=True)
class ModelParameters:
    """Every illustrative parameter of the simulator; the calibrated ones are solved for."""

    laborers_per_household_probabilities: tuple[float, ...] = (0.25, 0.40, 0.25, 0.10)
    dependants_mean: float = 1.5
    max_household_size: int = 12
    province_weights: dict[str, float] = field(default_factory=lambda: dict(PROVINCE_WEIGHTS))
    counties_per_weight: int = 4
    age_beta: tuple[float, float] = (1.8, 1.5)
    female_share: float = 0.42
    schooling: dict[str, float] = field(default_factory=lambda: {
        "mean_at_35": 8.5, "age_slope": -0.08, "female_gap": -0.6, "sd": 2.5})
    disability: dict[str, float] = field(default_factory=lambda: {
        "at_16": 0.04, "age_slope": 0.004})
    # Time-invariant propensities: bounds of P_S and P_O and their linear indexes (centred
    # covariates: schooling - 9, (age0 - 38) / 10 and its square, household_size - 4).
    stable_bounds: tuple[float, float] = (0.05, 0.72)
    stable_index: dict[str, float] = field(default_factory=lambda: {
        "intercept": 0.35, "schooling": 0.12, "age": 0.0, "age_squared": -0.25,
        "disability": -1.2, "female": -0.3, "household_size": -0.05})
    outside_bounds: tuple[float, float] = (0.03, 0.40)
    outside_index: dict[str, float] = field(default_factory=lambda: {
        "intercept": -0.15, "schooling": 0.06, "age": -0.35, "age_squared": -0.1,
        "disability": -1.5, "female": -0.6, "household_size": -0.05})
    random_effect_sd: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "province": (0.25, 0.30), "county": (0.20, 0.20), "household": (0.35, 0.50),
        "person": (0.60, 0.60)})
    person_effect_correlation: float = 0.5
    stable_year_effect_span: float = 0.06
    twelve_month_share_of_stable: float = 0.40
    zero_month_share_of_unstable: float = 0.20
    outside_months_rank_correlation: float = 0.5
    outside_province_share_by_region: dict[str, float] = field(default_factory=lambda: {
        "central": 0.60, "west": 0.45, "east": 0.40, "northeast": 0.40})
    training_index: dict[str, float] = field(default_factory=lambda: {
        "schooling": 0.25, "age": -0.4, "disability": -1.5, "female": -0.2})
    # Slopes of the employment-services index; its intercept is calibrated to the coverage.
    employment_services_index: dict[str, float] = field(default_factory=lambda: {
        "schooling": -0.05, "age": 0.2, "disability": 0.4, "female": 0.1})
    stable_effect: tuple[float, float] = (0.08, 0.145)  # at training, long run
    outside_effect: tuple[float, float] = (0.04, 0.08)
    effect_gap_decay: float = 0.5  # the gap to the long run halves every year
    province_effect_spread: float = 0.3
    wage: dict[str, float] = field(default_factory=lambda: {
        "base_monthly_2016": 1800.0, "growth": 0.06, "schooling": 0.03, "female": -0.15,
        "outside_county": 0.35, "outside_province": 0.10, "person_sd": 0.25, "shock_sd": 0.20})

    def effect_path(self, effect: tuple[float, float], event_time: np.ndarray) -> np.ndarray:
        at_training, long_run = effect
        return long_run - (long_run - at_training) * self.effect_gap_decay ** event_time

    def months_means(self) -> tuple[float, float]:
        """Mean months of an unstable and of a stable person-year (constants of the model)."""
        threshold = STABLE_EMPLOYMENT_MIN_MONTHS
        unstable = (1 - self.zero_month_share_of_unstable) * threshold / 2
        stable_spread = threshold + (2 * (12 - threshold) - 1) / 4
        stable = (self.twelve_month_share_of_stable * 12
                  + (1 - self.twelve_month_share_of_stable) * stable_spread)
        return unstable, stable


# ----------------------------------------------------------------------------------------------
# The simulator


@dataclass
class SimulatedPanel:
    """The panel, the planted truth, the calibration report and every parameter used.

    * ``panel``: one row per person-year, in person then year order. It passes
      ``schemas.PanelSchema``; columns use compact dtypes, which the schema coerces.
    * ``truth``: one row per (province_code, first_trained_year, year) cell of treated
      post-training person-years. Columns: ``event_time``, ``n_treated``; ``att_<outcome>``,
      the exact sample mean of Y(1) - Y(0), for each of :data:`OUTCOMES`; and
      ``planted_<outcome>``, the model's expected effect (not for wage income). Aggregate it
      with :func:`true_effects`.
    * ``calibration``: :func:`calibration_table` of the panel.
    * ``parameters``: JSON-ready, grouped by provenance (``published_targets``, ``calibrated``,
      ``illustrative``, ``provinces``, ...).
    """

    panel: pd.DataFrame
    truth: pd.DataFrame
    calibration: pd.DataFrame
    parameters: dict


@dataclass
class _Population:
    """Time-invariant person attributes (arrays over persons) and province tables."""

    codes: list[str]
    household: np.ndarray
    province: np.ndarray
    county_id: np.ndarray
    age0: np.ndarray
    female: np.ndarray
    schooling: np.ndarray
    disability: np.ndarray
    household_size: np.ndarray
    stable_propensity: np.ndarray
    outside_propensity: np.ndarray
    wage_person: np.ndarray
    crossing_share: np.ndarray
    stable_multiplier: np.ndarray
    outside_multiplier: np.ndarray
    counties: np.ndarray


def simulate_panel(provinces: pd.DataFrame, targets: CalibrationTargets,
                   n_persons: int = DEMO_PERSONS, years: tuple[int, int] = DEMO_YEARS,
                   seed: int = DEMO_SEED, params: ModelParameters | None = None
                   ) -> SimulatedPanel:
    """Simulate the demonstration person-year panel (see the module docstring).

    ``years`` is an inclusive range that must end in the calibration reference year (2020)
    and start no earlier than the first published working-away year (2016). The same
    ``seed`` gives the same panel; province-level draws do not depend on ``n_persons``.
    """
    params = params or ModelParameters()
    panel_years = _panel_years(years, targets)
    if (2 * STABLE_EMPLOYMENT_MIN_MONTHS) % 1 or not 1 <= STABLE_EMPLOYMENT_MIN_MONTHS <= 11.5:
        raise ValueError("the months model needs a stable-employment threshold in half months "
                         f"within 1-11.5; config has {STABLE_EMPLOYMENT_MIN_MONTHS}")
    if n_persons < 100:
        raise ValueError(f"n_persons must be at least 100, got {n_persons}")
    streams = dict(zip(("provinces", "population", "treatment", "shocks", "services"),
                       np.random.default_rng(seed).spawn(5)))
    population = _population(_poverty_task_provinces(provinces, params), n_persons,
                             len(panel_years), params, streams)
    calibrated = _calibrate(population, targets, panel_years, params)
    ever, first_year = _training(population, calibrated, streams["treatment"])
    panel, truth = _outcomes(population, calibrated, ever, first_year, panel_years, params,
                             streams["shocks"], streams["services"])
    return SimulatedPanel(
        panel=panel,
        truth=truth,
        calibration=calibration_table(panel, targets),
        parameters=_parameter_record(population, calibrated, targets, params,
                                     dict(n_persons=n_persons, years=list(years), seed=seed)),
    )


def _panel_years(years: tuple[int, int], targets: CalibrationTargets) -> range:
    first, last = years
    if last != targets.reference_year or first > last:
        raise ValueError(f"years must be a range ending in {targets.reference_year}, the "
                         f"calibration reference year; got {years}")
    panel_years = range(first, last + 1)
    targets.working_away_index(panel_years)  # refuses years outside the published trajectory
    return panel_years


def _poverty_task_provinces(provinces: pd.DataFrame, params: ModelParameters) -> pd.DataFrame:
    if not pd.api.types.is_bool_dtype(provinces["poverty_task"]):
        raise ValueError("provinces['poverty_task'] must be boolean; validate the table first")
    table = provinces.assign(province_code=provinces["province_code"].astype(str).str.zfill(2))
    table = table[table["poverty_task"]].sort_values("province_code")
    unweighted = sorted(set(table["province_code"]) - set(params.province_weights))
    if table.empty or unweighted:
        raise ValueError("poverty-task provinces without a size weight: "
                         f"{unweighted or 'none given'}")
    unknown = sorted(set(table["region"]) - set(params.outside_province_share_by_region))
    if unknown:
        raise ValueError(f"no outside-province share for regions {unknown}")
    return table.reset_index(drop=True)


def _two_normals(rng: np.random.Generator, sds: tuple[float, float], size: int) -> np.ndarray:
    """Independent normal effects for the stable (row 0) and outside (row 1) indexes."""
    return rng.standard_normal((2, size)) * np.array(sds)[:, None]


def _population(table: pd.DataFrame, n: int, n_years: int, params: ModelParameters,
                streams: dict[str, np.random.Generator]) -> _Population:
    codes = table["province_code"].tolist()
    weights = np.array([params.province_weights[code] for code in codes], dtype=float)
    counties = np.maximum(1, np.round(params.counties_per_weight * weights)).astype(np.int32)
    # Province-level draws come first, from their own stream, so they do not depend on n.
    prov_rng, sd = streams["provinces"], params.random_effect_sd
    spread = params.province_effect_spread
    u_stable, u_outside = prov_rng.uniform(-spread, spread, (2, len(codes)))
    province_effect = _two_normals(prov_rng, sd["province"], len(codes))
    county_effect = _two_normals(prov_rng, sd["county"], int(counties.sum()))

    rng = streams["population"]
    household, household_size, province, county = _households(n, weights, counties, params, rng)
    county_index = (np.concatenate([[0], np.cumsum(counties)[:-1]])[province] + county)
    age0, female, schooling, disability = _persons(n, n_years, params, rng)
    rho = params.person_effect_correlation
    person_effect = _two_normals(rng, (1.0, 1.0), n)
    person_effect[1] = rho * person_effect[0] + math.sqrt(1 - rho**2) * person_effect[1]
    person_effect *= np.array(sd["person"])[:, None]
    household_effect = _two_normals(rng, sd["household"], int(household[-1]) + 1)
    wage_person = rng.normal(0, params.wage["person_sd"], n)

    covariates = _centred_covariates(schooling, age0, disability, female, household_size)
    random_part = (province_effect[:, province] + county_effect[:, county_index]
                   + household_effect[:, household] + person_effect)
    return _Population(
        codes=codes, household=household, province=province.astype(np.int16),
        county_id=np.array(codes, dtype=np.int32)[province] * COUNTY_ID_MULTIPLIER + county + 1,
        age0=age0, female=female, schooling=schooling, disability=disability,
        household_size=household_size.astype(np.int8),
        stable_propensity=_bounded(params.stable_bounds,
                                   _index(params.stable_index, covariates) + random_part[0]),
        outside_propensity=_bounded(params.outside_bounds,
                                    _index(params.outside_index, covariates) + random_part[1]),
        wage_person=wage_person,
        crossing_share=table["region"].map(params.outside_province_share_by_region)
        .to_numpy(float),
        stable_multiplier=1 + u_stable - u_stable.mean(),
        outside_multiplier=1 + u_outside - u_outside.mean(),
        counties=counties,
    )


def _households(n: int, weights: np.ndarray, counties: np.ndarray, params: ModelParameters,
                rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per person: household index, household size, province index and county number."""
    probabilities = np.array(params.laborers_per_household_probabilities)
    sizes = np.arange(1, len(probabilities) + 1)
    laborers = rng.choice(sizes, int(n / (probabilities @ sizes) * 1.5) + 10, p=probabilities)
    n_households = int(np.searchsorted(np.cumsum(laborers), n)) + 1
    laborers = laborers[:n_households]
    laborers[-1] -= laborers.sum() - n  # the last household keeps at least one laborer
    household = np.repeat(np.arange(n_households, dtype=np.int32), laborers)
    size = np.minimum(laborers + rng.poisson(params.dependants_mean, n_households),
                      params.max_household_size)
    province = rng.choice(len(weights), n_households, p=weights / weights.sum())
    county = (rng.random(n_households) * counties[province]).astype(np.int32)
    return household, size[household], province[household], county[household]


def _persons(n: int, n_years: int, params: ModelParameters,
             rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Age in the first panel year, sex, schooling and disability (module docstring)."""
    age_span = (64 - 16 + 1) - (n_years - 1)  # everyone stays within 16-64
    age0 = 16 + np.floor(age_span * rng.beta(*params.age_beta, n)).astype(np.int16)
    female = rng.random(n) < params.female_share
    school = params.schooling
    schooling = np.clip(np.round(school["mean_at_35"] + school["age_slope"] * (age0 - 35)
                                 + school["female_gap"] * female
                                 + rng.normal(0, school["sd"], n)), 0, 16)
    disability = rng.random(n) < (params.disability["at_16"]
                                  + params.disability["age_slope"] * (age0 - 16))
    return age0, female, schooling, disability


def _centred_covariates(schooling, age0, disability, female, household_size) -> dict:
    age = (age0 - 38) / 10
    return {"schooling": schooling - 9, "age": age, "age_squared": age**2,
            "disability": disability.astype(float), "female": female.astype(float),
            "household_size": household_size - 4.0}


def _index(coefficients: dict[str, float], covariates: dict[str, np.ndarray]) -> np.ndarray:
    index = np.full(len(covariates["schooling"]), coefficients.get("intercept", 0.0))
    for name, value in covariates.items():
        index += coefficients.get(name, 0.0) * value
    return index


def _bounded(bounds: tuple[float, float], index: np.ndarray) -> np.ndarray:
    low, high = bounds
    return low + (high - low) * special.expit(index)


# ----------------------------------------------------------------------------------------------
# Calibration from expectations


@dataclass
class _Calibrated:
    gamma0: float
    take_up: np.ndarray
    training_years: list[int]
    training_weights: np.ndarray
    stable_year_effect: dict[int, float]
    outside_year_effect: dict[int, float]
    outside_share: dict[int, float]
    local_channel_rate: float
    channel_ratios: dict[str, float]
    services_intercept: float
    services_probability: np.ndarray
    reached_without_services: float


def _share_of_households_with_any(p_none: np.ndarray, household: np.ndarray) -> float:
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


def _calibrate(population: _Population, targets: CalibrationTargets, panel_years: range,
               params: ModelParameters) -> _Calibrated:
    """Solve gamma0, omega_t, the local channel rate and the services intercept (docstring)."""
    first, last = targets.training_period
    training_years = list(range(first, last + 1))
    weights = np.full(len(training_years),
                      (1 - targets.training_share_last_year()) / (len(training_years) - 1))
    weights[-1] = targets.training_share_last_year()
    published = targets.working_away_by_year
    index = targets.working_away_index(range(min(published), targets.reference_year + 1))
    base = published[min(published)] / published[targets.reference_year]
    stable_year = {t: params.stable_year_effect_span * (index[t] - base) / (1 - base)
                   for t in panel_years}
    pop = population

    def expected_effect(effect, multiplier, year):
        """E[tau(p, year - g)] over the training-year distribution (0 before training)."""
        event = np.array([year - g for g in training_years])
        path = params.effect_path(effect, np.maximum(event, 0))
        return (multiplier * float(np.where(event >= 0, weights, 0.0) @ path))[pop.province]

    reference = targets.reference_year
    ratios = targets.channel_ratios()
    tau_out_ref = expected_effect(params.outside_effect, pop.outside_multiplier, reference)
    tau_stable_ref = expected_effect(params.stable_effect, pop.stable_multiplier, reference)
    zero = params.zero_month_share_of_unstable
    works_untrained = 1 - zero * (1 - pop.stable_propensity - stable_year[reference])
    covariates = _centred_covariates(pop.schooling, pop.age0, pop.disability, pop.female,
                                     pop.household_size)
    training_index = _index(params.training_index, covariates)
    solved = {"omega": None}

    def outside_level(take_up):
        """omega_ref that gives the published share of households with migrant work."""
        expected_out = pop.outside_propensity + take_up * tau_out_ref
        omega = _root(
            lambda omega: _share_of_households_with_any(1 - expected_out - omega, pop.household)
            - targets.households_with_migrant_work_share,
            (-pop.outside_propensity.min(), 1 - expected_out.max()),
            f"the household share with migrant work in {reference}", 1e-10, solved["omega"])
        solved["omega"] = omega
        return omega, float((expected_out + omega).mean())

    def trained_per_working_away(gamma0):
        take_up = special.expit(gamma0 + training_index)
        return float(take_up.mean()) / outside_level(take_up)[1]

    gamma0 = _root(lambda g: trained_per_working_away(g) - targets.trained_per_working_away(),
                   (-10.0, 15.0), "the published training volume", 1e-7, guess=-2.0, step=1.0)
    take_up = special.expit(gamma0 + training_index)
    omega_ref, share_ref = outside_level(take_up)

    # Coverage: P(no member reached) = product over members of
    # P(not trained) P(no channel | untrained) P(no employment services).
    works = works_untrained + zero * take_up * tau_stable_ref
    local_rate = (ratios["workshop_job"] + ratios["public_welfare_post"]) * share_ref / \
        (works.mean() - share_ref)
    outside_untrained = pop.outside_propensity + omega_ref
    no_channel = (1 - local_rate * (works_untrained - outside_untrained)
                  - ratios["organized_labor_export"] * outside_untrained)
    not_reached_otherwise = (1 - take_up) * no_channel
    reached_without_services = _share_of_households_with_any(not_reached_otherwise,
                                                             pop.household)
    coverage = targets.employment_assistance_share
    if reached_without_services >= coverage:
        raise CalibrationError(
            f"training and the three channels alone reach {reached_without_services:.3f} of "
            f"households, at or above the coverage target {coverage:.3f}")
    services_index = _index(params.employment_services_index, covariates)

    def reached(delta0):
        services = special.expit(delta0 + services_index)
        return _share_of_households_with_any(not_reached_otherwise * (1 - services),
                                             pop.household)

    delta0 = _root(lambda d: reached(d) - coverage, (-15.0, 15.0),
                   "the employment-assistance coverage", 1e-7, guess=0.5, step=1.0)
    outside_share = {t: share_ref * index[t] for t in panel_years}
    outside_year = {t: outside_share[t] - float(np.mean(
        pop.outside_propensity
        + take_up * expected_effect(params.outside_effect, pop.outside_multiplier, t)))
        for t in panel_years}
    outside_year[reference] = omega_ref
    return _Calibrated(gamma0=gamma0, take_up=take_up, training_years=training_years,
                       training_weights=weights, stable_year_effect=stable_year,
                       outside_year_effect=outside_year, outside_share=outside_share,
                       local_channel_rate=float(local_rate), channel_ratios=ratios,
                       services_intercept=delta0,
                       services_probability=special.expit(delta0 + services_index),
                       reached_without_services=reached_without_services)


def _training(population: _Population, calibrated: _Calibrated,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ever trained (selection on covariates) and the year of first training.

    Years go to the ever trained in exact proportions, in random order. ``first_year`` of the
    never trained is a placeholder (the last training year); it is masked wherever used.
    """
    n = len(population.household)
    ever = rng.random(n) < calibrated.take_up
    n_ever = int(ever.sum())
    quotas = calibrated.training_weights * n_ever
    counts = np.floor(quotas).astype(np.int64)
    remainders = np.argsort(-(quotas - counts), kind="stable")
    counts[remainders[:n_ever - counts.sum()]] += 1  # largest remainders
    years = np.array(calibrated.training_years, dtype=np.int16)
    first_year = np.full(n, years[-1], dtype=np.int16)
    first_year[ever] = rng.permutation(np.repeat(years, counts))
    return ever, first_year


# ----------------------------------------------------------------------------------------------
# Outcomes: potential outcomes from shared shocks, year by year


@dataclass
class _Shocks:
    months: np.ndarray
    outside: np.ndarray
    crossing: np.ndarray
    wage: np.ndarray
    export_rank: np.ndarray
    local_rank: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> _Shocks:
        return cls(rng.random(n), rng.standard_normal(n), rng.random(n), rng.standard_normal(n),
                   rng.random(n), rng.random(n))

    def subset(self, mask: np.ndarray) -> _Shocks:
        return _Shocks(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))


def _months_worked(u: np.ndarray, q: np.ndarray, params: ModelParameters) -> np.ndarray:
    """Months as a function of the shock and the stable-employment probability (docstring).

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


def _potential(shocks: _Shocks, q_stable: np.ndarray, q_outside: np.ndarray, crossing: np.ndarray,
               log_wage: np.ndarray, params: ModelParameters) -> dict[str, np.ndarray]:
    """Outcomes of one treatment state given the probabilities and the shared shocks."""
    if q_stable.min() <= 0 or q_stable.max() >= 1:
        raise CalibrationError("a stable-employment probability left (0, 1)")
    months = _months_worked(shocks.months, q_stable, params)
    works = 1 - params.zero_month_share_of_unstable * (1 - q_stable)
    if q_outside.min() < 0 or (q_outside > works).any():
        raise CalibrationError(
            f"{int((q_outside < 0).sum() + (q_outside > works).sum())} person-years have an "
            "outside-county probability below 0 or above the probability of working at all; "
            "narrow outside_bounds or the outside-county effects")
    rank = np.clip(shocks.months / works, 1e-300, 1.0)
    rho = params.outside_months_rank_correlation
    u_outside = special.ndtr(rho * special.ndtri(rank) + math.sqrt(1 - rho**2) * shocks.outside)
    outside_county = (months > 0) & (u_outside < q_outside / works)
    outside_province = outside_county & (shocks.crossing < crossing)
    wage = params.wage
    monthly = np.exp(log_wage + wage["outside_county"] * outside_county
                     + wage["outside_province"] * outside_province)
    return {"stable_employment": months >= STABLE_EMPLOYMENT_MIN_MONTHS, "months_worked": months,
            "worked_outside_county": outside_county, "worked_outside_province": outside_province,
            "wage_income": np.round(months * monthly)}


def _outcomes(population: _Population, calibrated: _Calibrated, ever: np.ndarray,
              first_year: np.ndarray, panel_years: range, params: ModelParameters,
              shock_stream: np.random.Generator, services_stream: np.random.Generator
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    pop = population
    n, n_years = len(pop.household), len(panel_years)
    columns = {name: np.empty((n, n_years), dtype=dtype) for name, dtype in (
        ("stable_employment", bool), ("months_worked", np.float32),
        ("worked_outside_county", bool), ("worked_outside_province", bool),
        ("wage_income", np.float32), ("workshop_job", bool), ("public_welfare_post", bool),
        ("organized_labor_export", bool), ("employment_services", bool))}
    wage = params.wage
    log_wage_person = (np.log(wage["base_monthly_2016"]) + wage["schooling"] * (pop.schooling - 9)
                       + wage["female"] * pop.female + pop.wage_person)
    truth_frames = []
    services_rngs = services_stream.spawn(n_years)
    for k, (t, rng) in enumerate(zip(panel_years, shock_stream.spawn(n_years))):
        shocks = _Shocks.draw(rng, n)
        post = ever & (t >= first_year)
        event = np.where(post, t - first_year, 0)
        tau_stable = post * params.effect_path(params.stable_effect, event) * \
            pop.stable_multiplier[pop.province]
        tau_outside = post * params.effect_path(params.outside_effect, event) * \
            pop.outside_multiplier[pop.province]
        q_stable = pop.stable_propensity + calibrated.stable_year_effect[t]
        q_outside = pop.outside_propensity + calibrated.outside_year_effect[t]
        log_wage = log_wage_person + wage["growth"] * (t - 2016) + wage["shock_sd"] * shocks.wage
        crossing = pop.crossing_share[pop.province]
        observed = _potential(shocks, q_stable + tau_stable, q_outside + tau_outside, crossing,
                              log_wage, params)
        untreated = _potential(shocks.subset(post), q_stable[post], q_outside[post],
                               crossing[post], log_wage[post], params)
        for name in observed:
            columns[name][:, k] = observed[name]
        _assign_channels(columns, k, observed, shocks, calibrated.channel_ratios)
        # Employment services: covariates only, independent of training, shocks and outcomes.
        columns["employment_services"][:, k] = (services_rngs[k].random(n)
                                                < calibrated.services_probability)
        truth_frames.append(_truth_cells(pop, first_year[post], t, observed, untreated, post,
                                         tau_stable[post], tau_outside[post], params))
    panel = _panel_frame(pop, ever, first_year, panel_years, columns)
    truth = pd.concat(truth_frames, ignore_index=True)
    return panel, truth.sort_values(TRUTH_KEYS, ignore_index=True)


def _assign_channels(columns: dict, k: int, observed: dict, shocks: _Shocks,
                     ratios: dict[str, float]) -> None:
    """Exact channel counts in proportion to the count working outside the county."""
    outside = observed["worked_outside_county"]
    n_outside = int(outside.sum())
    columns["organized_labor_export"][:, k] = _lowest(
        shocks.export_rank, outside, round(ratios["organized_labor_export"] * n_outside))
    local = (observed["months_worked"] > 0) & ~outside
    n_workshop = round(ratios["workshop_job"] * n_outside)
    n_post = round(ratios["public_welfare_post"] * n_outside)
    if n_workshop + n_post > local.sum():
        raise CalibrationError("more workshop jobs and public-welfare posts than local workers")
    chosen = _lowest(shocks.local_rank, local, n_workshop + n_post)
    workshop = chosen & (shocks.local_rank <= _kth_smallest(shocks.local_rank[chosen], n_workshop))
    columns["workshop_job"][:, k] = workshop
    columns["public_welfare_post"][:, k] = chosen & ~workshop


def _lowest(rank: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """Mask of the ``count`` eligible elements with the lowest rank."""
    chosen = np.zeros(len(rank), dtype=bool)
    if count > 0:
        candidates = np.flatnonzero(eligible)
        chosen[candidates[np.argpartition(rank[candidates], count - 1)[:count]]] = True
    return chosen


def _kth_smallest(values: np.ndarray, k: int) -> float:
    return -np.inf if k == 0 else float(np.partition(values, k - 1)[k - 1])


def _truth_cells(pop: _Population, first_year: np.ndarray, year: int, observed: dict,
                 untreated: dict, post: np.ndarray, tau_stable: np.ndarray,
                 tau_outside: np.ndarray, params: ModelParameters) -> pd.DataFrame:
    """Exact mean of Y(1) - Y(0) per (province, training year) among treated person-years."""
    province = pop.province[post].astype(np.int64)
    cohorts = first_year.astype(np.int64) - 2000
    cell = province * 100 + cohorts
    cells, inverse, counts = np.unique(cell, return_inverse=True, return_counts=True)
    frame = pd.DataFrame({
        "province_code": pd.Categorical.from_codes(cells // 100, categories=pop.codes),
        "first_trained_year": (cells % 100 + 2000).astype(np.int64),
        "year": year, "event_time": year - (cells % 100 + 2000), "n_treated": counts})
    unstable_mean, stable_mean = params.months_means()
    planted = {"stable_employment": tau_stable,
               "months_worked": (stable_mean - unstable_mean) * tau_stable,
               "worked_outside_county": tau_outside}
    for name in OUTCOMES:
        difference = observed[name][post].astype(float) - untreated[name].astype(float)
        frame[f"att_{name}"] = np.bincount(inverse, weights=difference) / counts
    for name, values in planted.items():
        frame[f"planted_{name}"] = np.bincount(inverse, weights=values) / counts
    return frame


def _panel_frame(pop: _Population, ever: np.ndarray, first_year: np.ndarray,
                 panel_years: range, columns: dict) -> pd.DataFrame:
    n, n_years = len(pop.household), len(panel_years)

    def per_row(values):
        return np.repeat(values, n_years)

    years = np.tile(np.arange(panel_years.start, panel_years.stop, dtype=np.int16), n)
    first = pd.arrays.IntegerArray(per_row(first_year.astype(np.int64)), per_row(~ever))
    frame = pd.DataFrame({
        "person_id": per_row(np.arange(n, dtype=np.int32)),
        "household_id": per_row(pop.household),
        "province_code": pd.Categorical.from_codes(per_row(pop.province), categories=pop.codes),
        "county_id": per_row(pop.county_id.astype(np.int32)),
        "year": years,
        "age": (per_row(pop.age0) + years - panel_years.start).astype(np.int8),
        "female": per_row(pop.female),
        "schooling_years": per_row(pop.schooling.astype(np.float32)),
        "disability_or_weak_labor": per_row(pop.disability),
        "household_size": per_row(pop.household_size),
        "trained": per_row(ever) & (years == per_row(first_year)),
        "first_trained_year": first,
    })
    for name, values in columns.items():
        frame[name] = values.ravel()
    return frame


# ----------------------------------------------------------------------------------------------
# Reports: calibration table, parameter record, true effects


def calibration_table(panel: pd.DataFrame, targets: CalibrationTargets) -> pd.DataFrame:
    """Each calibrated aggregate: published target, simulated value, errors, figure ids."""
    reference = targets.reference_year
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
           f"{channel.replace('_', ' ')}s in {reference} per laborer working outside the county",
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


def _parameter_record(pop: _Population, calibrated: _Calibrated, targets: CalibrationTargets,
                      params: ModelParameters, run: dict) -> dict:
    """Every parameter, grouped by provenance, as plain JSON-ready values."""
    unstable_mean, stable_mean = params.months_means()
    return {
        "run": run,
        "published_targets": {**{k: v for k, v in asdict(targets).items()
                                 if k != "working_away_by_year"},
                              "working_away_by_year": {str(year): value for year, value
                                                       in targets.working_away_by_year.items()}},
        "calibrated": {
            "training_intercept_gamma0": calibrated.gamma0,
            "mean_take_up_probability": float(calibrated.take_up.mean()),
            "training_year_weights": dict(zip(map(str, calibrated.training_years),
                                              calibrated.training_weights.tolist())),
            "outside_county_year_effect": {str(t): v for t, v
                                           in calibrated.outside_year_effect.items()},
            "outside_county_share_target": {str(t): v for t, v
                                            in calibrated.outside_share.items()},
            "local_channel_rate_among_local_workers": calibrated.local_channel_rate,
            "channel_ratios_to_working_away": calibrated.channel_ratios,
            "employment_services_intercept": calibrated.services_intercept,
            "mean_employment_services_probability":
                float(calibrated.services_probability.mean()),
            "expected_households_reached_without_services": calibrated.reached_without_services,
        },
        "derived_from_index_illustrative": {
            "stable_employment_year_effect": {str(t): v for t, v
                                              in calibrated.stable_year_effect.items()}},
        "illustrative": asdict(params),
        "model_constants": {"mean_months_unstable": unstable_mean,
                            "mean_months_stable": stable_mean,
                            "months_per_stable_employment_point": stable_mean - unstable_mean},
        "provinces": {code: {"counties": int(pop.counties[k]),
                             "stable_effect_multiplier": float(pop.stable_multiplier[k]),
                             "outside_effect_multiplier": float(pop.outside_multiplier[k]),
                             "outside_province_share_of_outside_county":
                                 float(pop.crossing_share[k])}
                      for k, code in enumerate(pop.codes)},
    }


def true_effects(truth: pd.DataFrame, by: list[str] | None = None,
                 outcome: str = "stable_employment") -> pd.DataFrame:
    """Aggregate the truth table: the ATT over treated post-training person-years.

    Cells are weighted by their number of treated persons. ``by`` may name any truth column,
    e.g. ``province_code``, ``event_time``, ``year`` or ``first_trained_year``; without it
    the result is one row, the overall ATT. ``planted`` is the model's expected effect on the
    same person-years (missing for wage income, which has no closed form).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; choose one of {OUTCOMES}")
    by = list(by or [])
    unknown = sorted(set(by) - set(truth.columns))
    if unknown:
        raise ValueError(f"cannot group the truth by {unknown}; columns: {list(truth.columns)}")
    planted = f"planted_{outcome}"
    weighted = pd.DataFrame({
        "n_treated": truth["n_treated"],
        "att": truth["n_treated"] * truth[f"att_{outcome}"],
        "planted": truth["n_treated"] * truth[planted] if planted in truth else np.nan,
    })
    if by:
        sums = weighted.groupby([truth[key] for key in by], observed=True, sort=True).sum(
            min_count=1).reset_index()
    else:
        sums = weighted.sum(min_count=1).to_frame().T
    sums["att"] = sums["att"] / sums["n_treated"]
    sums["planted"] = sums["planted"] / sums["n_treated"]
    sums.insert(len(by), "outcome", outcome)
    sums["n_treated"] = sums["n_treated"].astype(np.int64)
    return sums[[*by, "outcome", "n_treated", "att", "planted"]]
