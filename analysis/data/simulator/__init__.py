"""The demonstration panel: a seeded simulator of registered poor laborers.

Where no analyst microdata is present, the pipeline runs on this simulated person-year panel.
Nothing in it is an official figure. The panel reproduces a few published national
aggregates (the calibration targets, below). It also plants known effects of four programs:
vocational training, poverty-alleviation workshop jobs, public-welfare posts and organized
labor export. These effects reach every outcome, so that any estimator, for any program and
outcome, can be checked against the truth. Parameters are of three kinds:

* **calibrated**: solved from published figures;
* **published**: taken as is;
* **illustrative**: chosen to look plausible, with no source.

Every parameter and its kind is recorded in ``SimulatedPanel.parameters``. The parameter
table lists the illustrative ones, each with a one-line description.

Notation: person ``i`` lives in household ``h``, county ``c`` and province ``p``; ``t`` is
the year; ``expit(z) = 1 / (1 + exp(-z))``. A person who first received a program in year
``g`` is at event time ``e = t - g`` in year ``t``. ``T`` is the number of simulated years,
and ``age0`` is a person's age in 2016.

Years
-----
The population is always simulated from 2016, the first published year, to 2020 or to the
last requested year if that is later. The published figures cover 2016-2020, so every
calibration uses those years. The requested years, anywhere from 2016 to 2035, are then cut
out. Examples:

* a 2021-2025 panel follows the same people as a 2016-2025 panel with the same seed;
* its calibration is that of their 2016-2020 years, which are simulated but not returned.

Years after 2020 are an illustrative extrapolation:

* the year effects of the outcomes are held at their 2020 values;
* wages keep growing at the same rate;
* each program keeps being taken up at its 2020 yearly hazard.

In a panel that starts after 2016, some people received a program before the first panel
year. They are already treated when the panel opens, and their truth rows still appear for
every panel year.

Population (illustrative)
-------------------------
* Households have 1, 2, 3 or 4 laborers, with probabilities 0.25, 0.40, 0.25 and 0.10.
  ``household_size`` adds Poisson(1.5) dependants and is capped at 12.
* Provinces. The persons are split over the provinces in proportion to size weights
  (largest remainders):
  - 3 for the six largest poverty-task provinces (Henan, Hunan, Guangxi, Sichuan, Guizhou,
    Yunnan);
  - 2 for nine medium-sized ones;
  - 1 for the seven smallest.

  No ledger source gives these weights.
* Counties. A province has 4 counties per unit of weight, and its persons are split evenly
  over them; a county's persons form its households. ``county_id = 10000 * province_code + k``
  for ``k = 1, 2, ...``.
* ``age0 = 16 + floor((50 - T) * Beta(1.8, 1.5))``. Everyone ages one year per year, so ages
  stay within 16-64 over all simulated years. A longer simulation therefore has a narrower
  range of ages in any one year.
* ``female`` is Bernoulli(0.42).
* ``schooling_years`` is ``round(8.5 - 0.08 (age0 - 35) - 0.6 female + N(0, 2.5^2))``,
  clipped to 0-16.
* ``disability_or_weak_labor`` is Bernoulli(0.04 + 0.004 (age0 - 16)).

The covariates enter every index centred: ``schooling - 9``, ``a = (age0 - 38) / 10``, ``a^2``,
disability, female and ``household_size - 4``.

Outcomes without any program, Y(0)
----------------------------------
Each person has two time-invariant propensities, for stable employment and for working
outside the county:

    P_S(i) = 0.05 + 0.67 expit(zS(i))        P_O(i) = 0.03 + 0.37 expit(zO(i))

Both indexes use the centred covariates. Each also adds normal province, county, household
and person effects, with standard deviations 0.25/0.20/0.35/0.60 for ``zS`` and
0.30/0.20/0.50/0.60 for ``zO``. The two person effects are correlated (0.5). All of these
numbers are illustrative.

    zS = 0.35 + 0.12 (schooling - 9) - 0.25 a^2 - 1.2 disability - 0.3 female
         - 0.05 (household_size - 4) + effects
    zO = -0.15 + 0.06 (schooling - 9) - 0.35 a - 0.1 a^2 - 1.5 disability - 0.6 female
         - 0.05 (household_size - 4) + effects

Age enters through ``age0``, the birth cohort. Everyone ages alike, so a linear ageing
effect would be common to all and sit in the year effect.

Without programs, in year ``t``:

* the probability of stable employment is ``qS = P_S(i) + lambda_t``;
* the probability of working outside the county is ``qO = P_O(i) + omega_t``.

These year effects are additive and common to everyone. As a result, **untreated trends
are parallel in the probabilities themselves**, not only in a latent index, across any
groups defined by time-invariant traits, program cohorts included. The same holds for
expected months worked, which is linear in ``qS``. It does not hold for wage income, whose
growth is proportional. Nor does it hold across provinces for working outside the province,
since the share crossing a province border differs by region.

This holds because probabilities are never clipped. A check raises a CalibrationError if one
would be.

* ``lambda_t`` rises by 0.06 from 2016 to 2020, in step with the working-away index. This is
  illustrative: the sources say only that the share working away for more than half a year
  "increased significantly".
* ``omega_t`` is calibrated (below).

Each person-year draws its own primitive shocks: uniforms ``U`` (months) and ``V``
(crossing a province border), and standard normals ``Z`` (working outside the county) and
``E`` (wage). Every potential outcome of a person-year uses these same shocks.

* **Stable employment** = ``1[U < qS]``.
* **Months worked** is a deterministic function of ``U`` and ``qS``.
  - If ``U < qS``: let ``x = (1 - U/qS) / 0.6``. Months are 12 if ``x >= 1`` (40% of
    stable person-years), otherwise ``6 + 6x`` floored to the half month.
  - Otherwise: let ``x = (U - qS) / (1 - qS) / 0.8``. Months are 0 if ``x >= 1`` (20% of
    the others), otherwise ``0.5 + 5.5 (1 - x)`` floored to the half month and capped at
    5.5.

  So ``stable_employment == (months_worked >= 6)`` exactly, in every potential outcome.
  Within each branch the distribution of months does not depend on ``qS``. Hence
  ``E[months] = 2.4 + 7.65 qS`` is linear in ``qS``: unstable person-years average 2.4
  months (0.8 x 3.0) and stable ones 10.05.
* **Working outside the county** requires months > 0, which happens exactly when
  ``U < w = 1 - 0.2 (1 - qS)``. Let ``r = qO / w``, the probability of working outside the
  county among those who work. Let ``R = U / w``, uniform among those who work, and
  ``UO = Phi(0.5 Phi^-1(R) + sqrt(0.75) Z)``. Then
  ``worked_outside_county = 1[U < w] 1[UO < r]``, whose probability is exactly ``qO``.
  - People with more months are likelier to work away, and nobody works away for zero
    months.
  - This needs ``qO <= w`` without programs, which is checked.
* **Working outside the province** = ``worked_outside_county * 1[V < psi]``. The
  illustrative ``psi`` is 0.60 in central, 0.45 in western and 0.40 in eastern and
  north-eastern provinces.
* **Wage income** = months worked x monthly wage, rounded to the yuan. The monthly wage is

      1800 exp(0.06 (t - 2016) + 0.03 (schooling - 9) - 0.15 female + 0.35 outside_county
               + 0.10 outside_province + N(0, 0.25^2) person effect + 0.2 E
               + program wage shifts)

  in yuan. All of these numbers are illustrative.

Programs: who takes them up, and when
-------------------------------------
The programs are ``training``, ``workshop_job``, ``public_welfare_post``,
``organized_labor_export`` and ``employment_services``. Every program is a staggered
adoption: a person's first receipt year ``g``, treated from ``g`` on.

* **Training**: ``first_trained_year`` holds ``g``. ``trained`` is true in that year only:
  the panel records first training, not repeat courses.
* **The three channels** are alternative placements, so a person gets at most one of them.
  A workshop job and a public-welfare post are local jobs; export is work far away. Their
  panel columns are **absorbing**: true from the first receipt year on. A column records
  having been placed through the channel, not the job held that year. The first receipt year
  is the first year the column is true. In a panel starting in 2016 that is exact, because
  nobody is placed before 2016.
* **Training** is independent of the channel given the covariates.

Take-up by 2020 depends on the observed covariates only, through illustrative slopes:

* training: ``pi(i) = expit(gamma0 + x(i)'b_T)``, a logit;
* the channels: a multinomial logit
  ``p_k(i) = exp(a_k + x(i)'b_k) / (1 + sum_j exp(a_j + x(i)'b_j))``.

The intercepts ``gamma0`` and ``a_k`` are calibrated (below). The slopes are:

    slope on            schooling   a     a^2   disability  female  household
    training               0.25   -0.4    0      -1.5       -0.2      0
    workshop job          -0.05    0.2   -0.4    -0.2        0.9      0.25
    public-welfare post   -0.15    0.5    0       1.2        0.4      0
    organized export       0.05   -0.7   -0.2    -1.5       -0.9     -0.1

The slopes follow the sources' description of each program:

* **Public-welfare posts** go to weaker laborers: older, disabled or weak labor, less
  schooled, women. These are the traits that lower ``P_S``. A naive comparison of post
  holders with others therefore understates the post's effect on stable employment.
* **Organized labor export** goes to those able to travel: younger, men, not disabled,
  from smaller households. These traits raise ``P_O``. A naive comparison therefore
  overstates export's effect on working outside the county.
* **Workshop jobs** go to those who cannot migrate: women, the middle-aged, larger
  households.
* **Training** goes to younger, more schooled, able-bodied men, who also have a higher
  ``P_S``. A naive comparison therefore overstates training's effect on stable employment.

Take-up is independent of the province, county, household and person effects and of all
outcome shocks. So regression adjustment, IPW and AIPW on these covariates are consistent
when their models are correctly specified. Difference-in-differences against never-treated
or not-yet-treated persons is unbiased for the probability outcomes, by the parallel trends
above.

How take-up is drawn:

* **Exact counts by 2020.** Each program has an exact count of persons by 2020. Among the
  eligible, the persons with the smallest ``W / probability`` are chosen, where ``W`` is a
  uniform person draw. This is sequential Poisson sampling, and it makes a person's chance
  of being chosen very close to the probability.
  - Training is drawn this way among everyone, with probability ``pi``.
  - For a channel, a person first draws a type, channel ``k`` with probability
    ``p_k / sum_j p_j``. The count for channel ``k`` is then chosen among the persons of
    that type, with ``W / sum_j p_j``.

  The counts are the published ratios times the realized number working outside the county
  in 2020. That number depends on the placements, so the counts are re-aligned to it for a
  few rounds, until they stop changing. Beyond a person's own covariates and draws, their
  selection depends only on this aggregate.
* **First receipt years** 2016-2020 are shared out among the chosen persons exactly, by
  largest remainders, in the order of an independent uniform timing draw.
  - Training: 2020 gets trained_2020 / trained_2016_2020 (2.7 / 10 = 0.27, published), and
    the other years share the rest equally (illustrative).
  - The channels: 2016-2020 get equal shares (illustrative).

  So every program has never-treated persons and later cohorts.
* **After 2020**, persons not yet treated take a program up in each year at its expected
  2020 hazard, P(first receipt in 2020 | none before). Channels are again exclusive.
* **Employment services** record other employment assistance received in the year: job
  information, referral, a job-seeking or transport subsidy. Each person-year draws them
  independently, with probability

      sigma(i) = expit(delta0 - 0.05 (schooling - 9) + 0.2 a + 0.4 disability + 0.1 female)

  They lean towards the people whom training and migration reach least. ``delta0`` is
  calibrated to the coverage. The probability is the same in every year (illustrative).
  Services depend on covariates only and **change no outcome**: their planted effect is
  zero. Their first receipt year is the first year with services. They exist so that the
  coverage figure can be met without inflating the other programs.

Planted effects (illustrative)
------------------------------
Each program ``k`` acts on four levers:

* ``qS``, the stable-employment probability;
* ``r``, the probability of working outside the county among those who work;
* ``psi``, the share crossing a province border;
* the log monthly wage.

At event time ``e >= 0`` the size of an effect is

    tau_k(p, e) = m_k(p) [L - (L - A) 0.5^e]

where ``A`` is the effect at first receipt and ``L`` the long run; the gap to the long run
halves every year. ``m_k(p) = 1 + u - mean(u)`` is a province multiplier, with one
Uniform(-0.3, 0.3) draw per province and program. The multipliers average exactly 1 across
provinces.

    program               stable qS     outside r     crossing psi  log wage
    training              0.14 -> 0.25  0.08 -> 0.15  0             0.02 -> 0.05
    workshop job          0.35          -0.5          0             -0.10
    public-welfare post   0.30          -0.6          0             -0.5
    organized export      0.15 -> 0.20  0.45          0.4           0.10

For the probabilities, ``tau`` is a share of the headroom, which keeps every probability in
[0, 1] without clipping:

* a positive effect gives ``q1 = q0 + tau (1 - q0)``;
* a negative one gives ``q1 = q0 (1 - |tau|)``.

When several programs act, the positive ones apply first, each to the headroom left by the
others, and then the negative ones scale what is left. Every combination of programs thus
stays within [0, 1]. The wage shifts add up.

An effect on ``qS`` also changes ``w``, the chance of working at all. Working outside the
county therefore moves through both ``r`` and ``w``: ``qO1 = r1 w1``. Y(0) is untouched by
all of this, so the untreated trends stay parallel.

In words:

* training raises stable employment and working away, and slightly raises wages;
* workshop jobs and public-welfare posts raise stable employment and months, and lower
  working outside the county;
* posts pay little, so wage income can fall;
* export raises working outside the county and the province a lot, and wages.

Effects depend on the person's untreated probability (through the headroom) and on the
province, so they are heterogeneous. The ATT and the ATE differ as selection predicts.

The truth
---------
``SimulatedPanel.truth`` has one row per (program, person_id, year) for every post-receipt
person-year (``year >= first_year``) of every program, within the requested years. Its
columns are ``program``, ``person_id``, ``year``, ``province_code``, ``first_year``,
``event_time`` and one ``effect_<outcome>`` for each outcome: stable employment, months
worked, working outside the county, working outside the province and wage income.

The effect is the exact Y(with the program) - Y(without it), where every other program
stays as realized. Both sides are computed from the same primitive shocks. The rows of
employment services are all zeros. ``true_effects(truth, program, outcome, by)`` averages
them: it gives the ATT over any group. To restrict it to a population, join the truth to the
panel on person_id and year first.

Calibration (published aggregates; deterministic, from expectations)
--------------------------------------------------------------------
The targets are read from the figure ledger.

``W_t`` is the published number of poor laborers working away from home: 15.27 million in
2016 and 32.43 million in 2020. For 2019 the number is implied: the end-October 2020 count
of 29.73 million is 108.9% of the 2019 total, so 2019 = 29.73 million / 1.089. The years in
between (2017 and 2018) are interpolated log-linearly, which is an assumption. "Working
away" is equated with working outside the county.

1. **Trajectory**: the share working outside the county is ``s_t = s_2020 W_t / W_2020``.
   ``omega_t`` is set so that the expected share, over every person's possible program
   states, equals ``s_t``.
2. **Level**: ``omega_2020`` is set so that, in expectation, 2/3 of households have a
   member working outside the county in 2020. This comes from the SCIO press conference of
   2020: "two-thirds of poor families have been involved in migrant work". The ledger has no
   row for it. This gives ``s_2020``.
3. **Channels**: the number of persons placed by 2020 (with absorbing participation, those
   "in the channel in 2020"), relative to the number working outside the county in 2020,
   matches the published 2020 counts relative to the 32.43 million working away:
   - workshop jobs 0.44 million;
   - public-welfare posts 5.02 million;
   - organized labor export (transport) 1.6 million.

   The intercepts ``a_k`` are solved for the expected counts. The realized counts are then
   exact (above).
4. **Training volume**: ``gamma0`` is solved in the same way. The number of persons first
   trained in 2016-2020, per person working outside the county in 2020, equals
   trained_2016_2020 / W_2020 = 10 / 32.43 (about 0.31). The published 10 million is read as
   persons trained, not course places. That is an assumption: the panel records first
   training only, so repeat courses could not be represented anyway.
5. **Coverage**: ``delta0`` is set so that 93.8% of households were reached by employment
   assistance in 2020. Reached means that a member was trained in 2016-2020 or, in 2020,
   had a workshop job, a public-welfare post, organized labor export or employment
   services.

How these are solved:

* Draws are independent across household members given their covariates. A household
  share is therefore one minus the mean, over households, of the product of the members'
  probabilities of "none".
* The expected outside-county probability of a person sums over every combination of a
  training state and a channel state, each with its probability.
  - Given the states, it is linear in ``omega_t``.
  - The intercepts, ``omega_2020`` and the expected number working away are iterated to a
    fixed point.
* For coverage, a member's probability of "none" is ``(1 - pi)(1 - sum_k p_k)(1 - sigma)``.
  Root finding gives ``delta0``.
* The remaining gaps between targets and simulated values are sampling noise, reported in
  ``SimulatedPanel.calibration``.
  - Household shares and the working-away index are off by about ``1/sqrt(households)``.
  - The program counts and the 2020 share of first trainings are exact up to rounding.

Why coverage is broader than training
-------------------------------------
The 93.8% counts registered poor households that received any "employment assistance
policy": job information, referrals, transport and job-seeking subsidies and other
services, as well as training and placement. Training and the three channels are far rarer.
About 10 million poor laborers were trained in 2016-2020, against 32.43 million working away
in 2020, and the channels placed about 7 million. Training and the channels alone reach
about two households in five. The parameter record gives the expected share
(``expected_households_reached_without_services``) and the mean services probability that
closes the gap (``mean_employment_services_probability``). No source gives the services
rate separately, so it is the least grounded number in the model.

Implementation
--------------
The panel is simulated county by county (``layout.py``), so that memory holds one county, or a
batch of neighbouring counties, at a time, whatever the size of the nation:

* Every random draw comes from the stream of its province or county: a
  ``np.random.SeedSequence`` with the seed and the spawn key (province code, county number;
  county 0 is the province's own stream). A county spawns independent streams for its
  persons, its take-up draws, each year's shocks, each year's employment services and each
  later year's take-up. So a county's draws depend on neither the other counties nor the
  number of persons elsewhere, nor on which provinces are simulated together or in what order;
  province-level draws (effect multipliers, province and county effects) do not depend on the
  number of persons. Counties are processed in batches (``BATCH_PERSONS``), which changes
  nothing but speed: every sum over persons is made per county and added in county order.
* Calibration is national: what depends on covariates alone is computed per covariate cell,
  weighted by the nation's persons per cell; sums over persons and households come from each
  county (household shares for ``omega`` as polynomials of degree four), see
  ``calibration.py``.
* The exact counts by 2020 are chosen nationally, as described above: each batch writes its
  ranking ratios, sorted, to a scratch folder, and the ratio that chooses the count-th person
  of the nation (and the timing draws that start each year) is found from those files
  (``selection.py``). Each county then applies these cut-offs to its own persons.
* The code is vectorised over persons and loops over years. Columns use compact dtypes; the
  pandera schema coerces them on validation.
"""

from analysis.data.simulator.calibration import calibration_table
from analysis.data.simulator.panel import SimulatedPanel, simulate_panel
from analysis.data.simulator.parameters import (
    OUTCOMES,
    PROGRAMS,
    ModelParameters,
    parameter_table,
)
from analysis.data.simulator.targets import (
    CalibrationError,
    CalibrationTargets,
    calibration_targets_from_ledger,
)
from analysis.data.simulator.truth import true_effects

__all__ = ["simulate_panel", "SimulatedPanel", "ModelParameters", "CalibrationTargets",
           "calibration_targets_from_ledger", "calibration_table", "true_effects",
           "parameter_table", "CalibrationError", "OUTCOMES", "PROGRAMS"]
