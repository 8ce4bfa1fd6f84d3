"""Where the simulated persons live, and the random streams of every province and county.

The panel is simulated county by county. Each county has a fixed number of persons and its own
random streams, spawned from the seed and its province code and county number (a
``numpy.random.SeedSequence`` with that spawn key), so:

* a county's draws do not depend on any other county or province, nor on which of them are
  simulated in the same run, nor on the order in which they are simulated;
* no step holds more than one county's persons at a time, so memory is bounded by the largest
  county, however many persons the nation has.

Persons per province are the requested number split in proportion to the province size weights
(largest remainders); a province's persons are split evenly over its counties. Person ids run
through the provinces in code order and through each province's counties in order, so that the
panel, read in person order, is grouped by province and county.

Neighbouring counties of a province are processed together in **batches** of at most
``BATCH_PERSONS`` persons (a larger county is a batch of its own). Batching only saves the
per-call overhead of small counties: every draw still comes from its county's streams, so the
panel does not depend on the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.simulator.parameters import EFFECT_PROGRAMS, ModelParameters

COUNTY_ID_MULTIPLIER = 10_000
PROVINCE_STREAM = 0  # county numbers start at 1, so (code, 0) is the province's own stream
COUNTY_STREAMS = ("population", "selection", "shocks", "services", "later")
BATCH_PERSONS = 100_000


def exact_counts(total: int, weights) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` by largest remainders."""
    quotas = np.asarray(weights, dtype=float) / np.sum(weights) * total
    counts = np.floor(quotas).astype(np.int64)
    remainders = np.argsort(-(quotas - counts), kind="stable")
    counts[remainders[:total - counts.sum()]] += 1
    return counts


@dataclass(frozen=True)
class County:
    """One county's persons: the unit of simulation."""

    code: str  # province code
    province: int  # index into the province table of the run
    number: int  # 1, 2, ... within the province
    first_person: int  # person id of its first person
    persons: int

    @property
    def county_id(self) -> int:
        return int(self.code) * COUNTY_ID_MULTIPLIER + self.number

    @property
    def name(self) -> str:
        return f"{self.code}-{self.number:03d}"


@dataclass(frozen=True)
class Batch:
    """Neighbouring counties of one province, processed together."""

    counties: tuple[County, ...]

    @property
    def code(self) -> str:
        return self.counties[0].code

    @property
    def province(self) -> int:
        return self.counties[0].province

    @property
    def persons(self) -> int:
        return sum(county.persons for county in self.counties)

    @property
    def name(self) -> str:
        return self.counties[0].name


def batches(counties: list[County], size: int = BATCH_PERSONS) -> list[Batch]:
    """Consecutive counties of each province with persons, grouped up to ``size`` persons."""
    grouped, current = [], []
    for county in (county for county in counties if county.persons):
        if current and (county.code != current[0].code
                        or sum(c.persons for c in current) + county.persons > size):
            grouped.append(Batch(tuple(current)))
            current = []
        current.append(county)
    if current:
        grouped.append(Batch(tuple(current)))
    return grouped


@dataclass(frozen=True)
class ProvinceDraws:
    """Province-level draws: drawn once per run from each province's own stream, so they do
    not depend on the number of persons. ``multiplier[program]`` has one value per province
    and averages exactly 1 over the provinces."""

    codes: list[str]
    counties: np.ndarray
    effect: np.ndarray  # (2, provinces): stable and outside-county index effects
    county_effect: list[np.ndarray]  # per province: (2, counties)
    multiplier: dict[str, np.ndarray]
    crossing_share: np.ndarray


def counties_per_province(table: pd.DataFrame, params: ModelParameters) -> np.ndarray:
    weights = np.array([params.province_weights[code] for code in table["province_code"]],
                       dtype=float)
    return np.maximum(1, np.round(params.counties_per_weight * weights)).astype(np.int32)


def county_layout(table: pd.DataFrame, n_persons: int, params: ModelParameters) -> list[County]:
    """Every county of the poverty-task provinces in ``table`` with its persons."""
    codes = table["province_code"].tolist()
    weights = np.array([params.province_weights[code] for code in codes], dtype=float)
    persons = exact_counts(n_persons, weights)
    counties = []
    first = 0
    for index, (code, n_province, n_counties) in enumerate(
            zip(codes, persons, counties_per_province(table, params))):
        for number, n_county in enumerate(exact_counts(int(n_province), np.ones(n_counties)),
                                          start=1):
            counties.append(County(code, index, number, first, int(n_county)))
            first += int(n_county)
    return counties


def province_stream(seed: int, code: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed,
                                                        spawn_key=(int(code), PROVINCE_STREAM)))


def county_streams(seed: int, county: County) -> dict[str, np.random.SeedSequence]:
    """The county's independent streams (``COUNTY_STREAMS``), as seed sequences to spawn."""
    sequence = np.random.SeedSequence(seed, spawn_key=(int(county.code), county.number))
    return dict(zip(COUNTY_STREAMS, sequence.spawn(len(COUNTY_STREAMS))))


def draw_provinces(table: pd.DataFrame, params: ModelParameters, seed: int) -> ProvinceDraws:
    """Province and county effects and effect multipliers, from each province's own stream."""
    codes = table["province_code"].tolist()
    counties = counties_per_province(table, params)
    sd, spread = params.random_effect_sd, params.province_effect_spread
    effect, county_effect, raw = [], [], {program: [] for program in EFFECT_PROGRAMS}
    for code, n_counties in zip(codes, counties):
        rng = province_stream(seed, code)
        effect.append(rng.standard_normal(2) * np.array(sd["province"]))
        county_effect.append(rng.standard_normal((2, n_counties))
                             * np.array(sd["county"])[:, None])
        for program in EFFECT_PROGRAMS:
            raw[program].append(rng.uniform(-spread, spread))
    multiplier = {program: 1 + np.array(u) - np.mean(u) for program, u in raw.items()}
    return ProvinceDraws(
        codes=codes, counties=counties, effect=np.array(effect).T, county_effect=county_effect,
        multiplier=multiplier,
        crossing_share=table["region"].map(params.outside_province_share_by_region)
        .to_numpy(float))
