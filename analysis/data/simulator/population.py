"""The simulated population: households, provinces, counties and time-invariant traits."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from analysis.data.simulator.parameters import EFFECT_PROGRAMS, ModelParameters

COUNTY_ID_MULTIPLIER = 10_000


@dataclass
class Population:
    """Time-invariant person attributes (arrays over persons) and province tables.

    ``age0`` is the age in the first simulated year (2016). ``multiplier[program]`` holds one
    effect multiplier per province.
    """

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
    multiplier: dict[str, np.ndarray]
    counties: np.ndarray

    def __len__(self) -> int:
        return len(self.household)

    def covariates(self) -> dict[str, np.ndarray]:
        return centred_covariates(self.schooling, self.age0, self.disability, self.female,
                                  self.household_size)

    def person_multiplier(self, program: str) -> np.ndarray:
        """Each person's effect multiplier for ``program`` (cached)."""
        cache = self.__dict__.setdefault("_person_multiplier", {})
        if program not in cache:
            cache[program] = self.multiplier[program][self.province]
        return cache[program]


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


def draw_population(table: pd.DataFrame, n: int, n_years: int, params: ModelParameters,
                    province_rng: np.random.Generator,
                    rng: np.random.Generator) -> Population:
    """Persons over ``n_years`` simulated years (everyone stays within ages 16-64)."""
    codes = table["province_code"].tolist()
    weights = np.array([params.province_weights[code] for code in codes], dtype=float)
    counties = np.maximum(1, np.round(params.counties_per_weight * weights)).astype(np.int32)
    # Province-level draws come first, from their own stream, so they do not depend on n.
    sd, spread = params.random_effect_sd, params.province_effect_spread
    province_effect = _two_normals(province_rng, sd["province"], len(codes))
    county_effect = _two_normals(province_rng, sd["county"], int(counties.sum()))
    multiplier = {}
    for program in EFFECT_PROGRAMS:
        u = province_rng.uniform(-spread, spread, len(codes))
        multiplier[program] = 1 + u - u.mean()

    household, household_size, province, county = _households(n, weights, counties, params, rng)
    county_index = (np.concatenate([[0], np.cumsum(counties)[:-1]])[province] + county)
    age0, female, schooling, disability = _persons(n, n_years, params, rng)
    rho = params.person_effect_correlation
    person_effect = _two_normals(rng, (1.0, 1.0), n)
    person_effect[1] = rho * person_effect[0] + math.sqrt(1 - rho**2) * person_effect[1]
    person_effect *= np.array(sd["person"])[:, None]
    household_effect = _two_normals(rng, sd["household"], int(household[-1]) + 1)
    wage_person = rng.normal(0, params.wage["person_sd"], n)

    covariates = centred_covariates(schooling, age0, disability, female, household_size)
    random_part = (province_effect[:, province] + county_effect[:, county_index]
                   + household_effect[:, household] + person_effect)
    return Population(
        codes=codes, household=household, province=province.astype(np.int16),
        county_id=np.array(codes, dtype=np.int32)[province] * COUNTY_ID_MULTIPLIER + county + 1,
        age0=age0, female=female, schooling=schooling, disability=disability,
        household_size=household_size.astype(np.int8),
        stable_propensity=bounded(params.stable_bounds,
                                  linear_index(params.stable_index, covariates) + random_part[0]),
        outside_propensity=bounded(params.outside_bounds,
                                   linear_index(params.outside_index, covariates)
                                   + random_part[1]),
        wage_person=wage_person,
        crossing_share=table["region"].map(params.outside_province_share_by_region)
        .to_numpy(float),
        multiplier=multiplier,
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
