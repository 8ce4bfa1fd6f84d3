"""One county's simulated persons: households and time-invariant traits, and covariate cells.

Take-up and employment services depend on the covariates only, and every covariate is a whole
number or a yes/no, so each person falls in one **cell** of (schooling, age in 2016,
disability, sex, household size). National calibration needs only the number of persons per
cell for everything that depends on covariates alone, which keeps it small whatever the size of
the nation (:mod:`analysis.data.simulator.calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from analysis.data.simulator.layout import County, ProvinceDraws
from analysis.data.simulator.parameters import EFFECT_PROGRAMS, ModelParameters

MAX_SCHOOLING = 16
AGE_RANGE = (16, 64)


@dataclass
class Population:
    """Persons of one or more neighbouring counties of one province (arrays over persons).

    ``age0`` is the age in the first simulated year (2016); ``household`` numbers the
    households of these persons from 0 (members are adjacent), ``household_id`` is unique in
    the nation.
    """

    code: str
    province: int
    codes: list[str]
    person_id: np.ndarray
    household: np.ndarray
    household_id: np.ndarray
    county_id: np.ndarray
    age0: np.ndarray
    female: np.ndarray
    schooling: np.ndarray
    disability: np.ndarray
    household_size: np.ndarray
    stable_propensity: np.ndarray
    outside_propensity: np.ndarray
    wage_person: np.ndarray
    cell: np.ndarray
    crossing_share: float
    multiplier: dict[str, float]
    county_sizes: tuple[int, ...]  # persons per county, in order

    def __len__(self) -> int:
        return len(self.household)

    @property
    def n_households(self) -> int:
        return int(self.household[-1]) + 1 if len(self) else 0

    def person_multiplier(self, program: str) -> float:
        """The effect multiplier of ``program`` in the province (one value)."""
        return self.multiplier[program]


def poverty_task_provinces(provinces: pd.DataFrame, params: ModelParameters) -> pd.DataFrame:
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


def draw_county(county: County, provinces: ProvinceDraws, n_years: int, params: ModelParameters,
                rng: np.random.Generator) -> Population:
    """The county's persons over ``n_years`` simulated years (all stay within ages 16-64)."""
    n, p = county.persons, county.province
    household, household_size = _households(n, params, rng)
    age0, female, schooling, disability = _persons(n, n_years, params, rng)
    sd = params.random_effect_sd
    rho = params.person_effect_correlation
    person_effect = _two_normals(rng, (1.0, 1.0), n)
    person_effect[1] = rho * person_effect[0] + math.sqrt(1 - rho**2) * person_effect[1]
    person_effect *= np.array(sd["person"])[:, None]
    household_effect = _two_normals(rng, sd["household"], int(household[-1]) + 1)
    wage_person = rng.normal(0, params.wage["person_sd"], n)

    covariates = centred_covariates(schooling, age0, disability, female, household_size)
    random_part = (provinces.effect[:, p][:, None]
                   + provinces.county_effect[p][:, county.number - 1][:, None]
                   + household_effect[:, household] + person_effect)
    return Population(
        code=county.code, province=p, codes=provinces.codes,
        person_id=county.first_person + np.arange(n, dtype=np.int64), household=household,
        # Households never outnumber persons, so the county's person ids have room for them.
        household_id=county.first_person + household.astype(np.int64),
        county_id=np.full(n, county.county_id, dtype=np.int32),
        age0=age0, female=female, schooling=schooling, disability=disability,
        household_size=household_size.astype(np.int8),
        stable_propensity=bounded(params.stable_bounds,
                                  linear_index(params.stable_index, covariates) + random_part[0]),
        outside_propensity=bounded(params.outside_bounds,
                                   linear_index(params.outside_index, covariates)
                                   + random_part[1]),
        wage_person=wage_person,
        cell=cell_of(schooling, age0, disability, female, household_size, params),
        crossing_share=float(provinces.crossing_share[p]),
        multiplier={program: float(provinces.multiplier[program][p])
                    for program in EFFECT_PROGRAMS},
        county_sizes=(n,),
    )


def concatenate(parts: list[Population]) -> Population:
    """Neighbouring counties of one province as one population (households renumbered)."""
    first = parts[0]
    offsets = np.cumsum([0] + [part.n_households for part in parts[:-1]])
    arrays = {name: np.concatenate([getattr(part, name) for part in parts])
              for name in ("person_id", "household_id", "county_id", "age0", "female",
                           "schooling", "disability", "household_size", "stable_propensity",
                           "outside_propensity", "wage_person", "cell")}
    household = np.concatenate([part.household + offset for part, offset in zip(parts, offsets)])
    return Population(code=first.code, province=first.province, codes=first.codes,
                      household=household.astype(np.int32), crossing_share=first.crossing_share,
                      multiplier=first.multiplier,
                      county_sizes=tuple(len(part) for part in parts), **arrays)


def _households(n: int, params: ModelParameters,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per person: household index (members adjacent) and household size."""
    probabilities = np.array(params.laborers_per_household_probabilities)
    sizes = np.arange(1, len(probabilities) + 1)
    laborers = rng.choice(sizes, int(n / (probabilities @ sizes) * 1.5) + 10, p=probabilities)
    n_households = int(np.searchsorted(np.cumsum(laborers), n)) + 1 if n else 0
    laborers = laborers[:n_households]
    laborers[-1:] -= laborers.sum() - n  # the last household keeps at least one laborer
    household = np.repeat(np.arange(n_households, dtype=np.int32), laborers)
    size = np.minimum(laborers + rng.poisson(params.dependants_mean, n_households),
                      params.max_household_size)
    return household, size[household]


def _persons(n: int, n_years: int, params: ModelParameters,
             rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Age in the first simulated year, sex, schooling and disability."""
    age_span = (64 - 16 + 1) - (n_years - 1)  # everyone stays within 16-64
    if age_span < 1:
        raise ValueError(f"{n_years} simulated years leave no admissible age in 16-64")
    age0 = 16 + np.floor(age_span * rng.beta(*params.age_beta, n)).astype(np.int16)
    female = rng.random(n) < params.female_share
    school = params.schooling
    schooling = np.clip(np.round(school["mean_at_35"] + school["age_slope"] * (age0 - 35)
                                 + school["female_gap"] * female
                                 + rng.normal(0, school["sd"], n)), 0, 16)
    disability = rng.random(n) < (params.disability["at_16"]
                                  + params.disability["age_slope"] * (age0 - 16))
    return age0, female, schooling, disability


def centred_covariates(schooling, age0, disability, female, household_size) -> dict:
    age = (age0 - 38) / 10
    return {"schooling": schooling - 9, "age": age, "age_squared": age**2,
            "disability": disability.astype(float), "female": female.astype(float),
            "household_size": household_size - 4.0}


def linear_index(coefficients: dict[str, float],
                 covariates: dict[str, np.ndarray]) -> np.ndarray:
    index = np.full(len(covariates["schooling"]), coefficients.get("intercept", 0.0))
    for name, value in covariates.items():
        index += coefficients.get(name, 0.0) * value
    return index


def bounded(bounds: tuple[float, float], index: np.ndarray) -> np.ndarray:
    low, high = bounds
    return low + (high - low) * special.expit(index)


# ----------------------------------------------------------------------------------------------
# Covariate cells


def cell_shape(params: ModelParameters) -> tuple[int, ...]:
    """(schooling, age in 2016, disability, female, household size) levels."""
    return (MAX_SCHOOLING + 1, AGE_RANGE[1] - AGE_RANGE[0] + 1, 2, 2, params.max_household_size)


def cell_of(schooling, age0, disability, female, household_size,
            params: ModelParameters) -> np.ndarray:
    """Each person's covariate cell, an index into :func:`cell_covariates`."""
    return np.ravel_multi_index(
        (schooling.astype(np.int64), age0.astype(np.int64) - AGE_RANGE[0],
         disability.astype(np.int64), female.astype(np.int64),
         household_size.astype(np.int64) - 1), cell_shape(params)).astype(np.int32)


def cell_covariates(params: ModelParameters) -> dict[str, np.ndarray]:
    """The centred covariates of every cell (the same order as :func:`cell_of`)."""
    schooling, age, disability, female, size = np.unravel_index(
        np.arange(np.prod(cell_shape(params))), cell_shape(params))
    return centred_covariates(schooling.astype(float), age + AGE_RANGE[0],
                              disability.astype(bool), female.astype(bool), size + 1.0)
