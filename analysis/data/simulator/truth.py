"""The planted truth: one row per program and post-receipt person-year, and its means."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.simulator.parameters import OUTCOMES, PROGRAMS

TRUTH_KEYS = ["program", "person_id", "year"]
TRUTH_COLUMNS = [*TRUTH_KEYS, "province_code", "first_year", "event_time",
                 *(f"effect_{outcome}" for outcome in OUTCOMES)]


def truth_rows(program: str, person: np.ndarray, year: int, province_code: np.ndarray,
               first_year: np.ndarray, effects: dict[str, np.ndarray] | None) -> dict:
    """Columns of the truth rows of one program in one year (``effects`` None: all zero)."""
    n = len(person)
    columns = {"program": np.full(n, program, dtype=object),
               "person_id": person.astype(np.int64),
               "year": np.full(n, year, dtype=np.int64),
               "province_code": province_code,
               "first_year": first_year.astype(np.int64),
               "event_time": (year - first_year).astype(np.int64)}
    for outcome in OUTCOMES:
        columns[f"effect_{outcome}"] = (np.zeros(n) if effects is None
                                        else effects[outcome].astype(float))
    return columns


def truth_frame(parts: list[dict]) -> pd.DataFrame:
    """Concatenate truth parts, sorted by program (in ``PROGRAMS`` order), person and year."""
    columns = {column: np.concatenate([part[column] for part in parts]) if parts
               else np.array([], dtype=object if column in ("program", "province_code")
                             else float if column.startswith("effect_") else np.int64)
               for column in TRUTH_COLUMNS}
    rank = {program: k for k, program in enumerate(PROGRAMS)}
    program_rank = np.concatenate([np.full(len(part["program"]), rank[part["program"][0]])
                                   for part in parts if len(part["program"])] or [[]])
    order = np.lexsort((columns["year"], columns["person_id"], program_rank))
    return pd.DataFrame({column: values[order] for column, values in columns.items()})


def sort_truth(truth: pd.DataFrame) -> pd.DataFrame:
    """Rows by program (in ``PROGRAMS`` order), person and year."""
    program_rank = pd.Categorical(truth["program"], categories=PROGRAMS).codes
    order = np.lexsort((truth["year"].to_numpy(), truth["person_id"].to_numpy(), program_rank))
    return truth.iloc[order].reset_index(drop=True)


def true_effects(truth: pd.DataFrame, program: str, outcome: str,
                 by: list[str] | str | None = None) -> pd.DataFrame:
    """The mean planted effect of ``program`` on ``outcome`` over its truth rows.

    Each row of ``truth`` is one post-receipt person-year, so the mean is the effect on the
    treated person-years (the ATT). ``by`` names truth columns to group by, e.g.
    ``province_code``, ``event_time``, ``year`` or ``first_year``; to restrict to a population
    (say, women), join the truth to the panel on ``person_id`` and ``year`` and filter first.
    Returns the ``by`` columns, ``program``, ``outcome``, ``n`` (person-years) and ``effect``;
    without ``by``, one row.
    """
    if program not in PROGRAMS:
        raise ValueError(f"unknown program {program!r}; choose one of {PROGRAMS}")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; choose one of {OUTCOMES}")
    by = [by] if isinstance(by, str) else list(by or [])
    unknown = sorted(set(by) - set(truth.columns))
    if unknown:
        raise ValueError(f"cannot group the truth by {unknown}; columns: {list(truth.columns)}")
    rows = truth[truth["program"] == program]
    effect = rows[f"effect_{outcome}"]
    if by:
        grouped = effect.groupby([rows[key] for key in by], observed=True, sort=True)
        result = pd.DataFrame({"n": grouped.size(), "effect": grouped.mean()}).reset_index()
    else:
        result = pd.DataFrame({"n": [len(effect)],
                               "effect": [effect.mean() if len(effect) else np.nan]})
    result.insert(len(by), "program", program)
    result.insert(len(by) + 1, "outcome", outcome)
    result["n"] = result["n"].astype(np.int64)
    return result[[*by, "program", "outcome", "n", "effect"]]
