"""The published-figure ledger: look-ups, derived figures and consistency checks.

Every number a report shows is either a ledger row (a figure read from a source sentence) or a
derived figure computed here from named ledger rows. Derived figures record the ``figure_id`` of
every input, so a reader can walk from a growth rate back to the sentences it came from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import combinations

import pandas as pd

NATIONAL = "national"
# How far an "about"/"nearly" figure may sit from an exact figure and still be called consistent.
APPROXIMATE_TOLERANCE = 0.10
YEAR_RANGE = re.compile(r"^\d{4}-\d{4}$")


class FigureNotFoundError(LookupError):
    """Raised when the ledger holds no row for the requested indicator, scope and period."""


class AmbiguousFigureError(LookupError):
    """Raised when several ledger rows match a look-up that expects exactly one."""


def find_figure(
    ledger: pd.DataFrame, indicator: str, period: str, scope: str = NATIONAL, kind: str = "actual"
) -> pd.Series:
    """Return the single ledger row for an indicator, period, scope and kind."""
    rows = ledger[
        (ledger["indicator"] == indicator)
        & (ledger["period"] == period)
        & (ledger["scope"] == scope)
        & (ledger["kind"] == kind)
    ]
    if rows.empty:
        available = sorted(ledger.loc[ledger["indicator"] == indicator, "period"].unique())
        raise FigureNotFoundError(
            f"no {kind} figure for indicator {indicator!r}, scope {scope!r}, period {period!r}; "
            f"periods present for that indicator: {available or 'none'}"
        )
    if len(rows) > 1:
        raise AmbiguousFigureError(
            f"{len(rows)} ledger rows match {indicator!r} {scope!r} {period!r}: "
            f"{', '.join(rows['figure_id'])}"
        )
    return rows.iloc[0]


def figures_for_scope(ledger: pd.DataFrame, scope: str) -> pd.DataFrame:
    """Rows of one scope (``'national'`` or a province code), in source and reading order."""
    return ledger[ledger["scope"] == scope].sort_values(["published", "figure_id"])


@dataclass(frozen=True)
class DerivedFigure:
    """A number computed from ledger rows; ``inputs`` are their figure ids."""

    derived_id: str
    description: str
    value: float
    unit: str
    formula: str
    inputs: tuple[str, ...]
    approximate: bool

    def as_record(self) -> dict:
        record = self.__dict__.copy()
        record["inputs"] = ";".join(self.inputs)
        return record


def _derive(derived_id, description, unit, formula, compute, *rows: pd.Series) -> DerivedFigure:
    values = [float(row["value"]) for row in rows]
    return DerivedFigure(
        derived_id=derived_id,
        description=description,
        value=compute(*values),
        unit=unit,
        formula=formula,
        inputs=tuple(str(row["figure_id"]) for row in rows),
        approximate=any(row["qualifier"] != "exact" for row in rows),
    )


def implied_working_away_2019(ledger: pd.DataFrame) -> DerivedFigure:
    """2019 count implied by "29.73 million ... 108.9% of the total number ... last year"."""
    end_october = find_figure(ledger, "poor_laborers_working_away", "2020-10")
    ratio = find_figure(ledger, "poor_laborers_working_away_relative_to_previous_year", "2020-10")
    return _derive(
        "working_away_2019_implied",
        "Poor laborers working away from home in 2019, implied by the end-October 2020 count "
        "and its ratio to the previous year",
        "persons",
        "end-October 2020 count / (ratio to last year / 100)",
        lambda count, percent: count / (percent / 100.0),
        end_october,
        ratio,
    )


def derived_figures(ledger: pd.DataFrame) -> pd.DataFrame:
    """Every derived figure, one row each, with its formula and input figure ids."""
    w2016 = find_figure(ledger, "poor_laborers_working_away", "2016")
    w2020 = find_figure(ledger, "poor_laborers_working_away", "2020")
    years = int(w2020["period"]) - int(w2016["period"])
    cq_employees = find_figure(ledger, "workshop_employees", "2021-09", scope="50")
    cq_lifted = find_figure(
        ledger, "workshop_employees_lifted_out_of_poverty", "2021-09", scope="50"
    )
    cq_workshops = find_figure(ledger, "employment_assistance_workshops", "2021-09", scope="50")
    workshop_jobs = find_figure(ledger, "workshop_jobs", "2020-11")
    workshops = _national_workshop_count(ledger)
    trained_2020 = find_figure(ledger, "poor_laborers_trained", "2020")
    trained_plan = find_figure(ledger, "poor_laborers_trained", "2016-2020")
    implied_2019 = implied_working_away_2019(ledger)
    figures = [
        implied_2019,
        _derive(
            "working_away_increase_2016_2020",
            "Increase in poor laborers working away from home, 2016 to 2020",
            "persons", "count 2020 - count 2016", lambda a, b: b - a, w2016, w2020,
        ),
        _derive(
            "working_away_ratio_2020_to_2016",
            "Poor laborers working away from home in 2020 relative to 2016",
            "ratio", "count 2020 / count 2016", lambda a, b: b / a, w2016, w2020,
        ),
        _derive(
            "working_away_annual_growth_2016_2020",
            f"Average annual growth of poor laborers working away from home, 2016-2020 "
            f"({years} years, compound)",
            "percent", f"((count 2020 / count 2016) ** (1/{years}) - 1) * 100",
            lambda a, b: ((b / a) ** (1 / years) - 1) * 100, w2016, w2020,
        ),
        DerivedFigure(
            "working_away_growth_2019_2020",
            "Growth of poor laborers working away from home from 2019 (implied) to 2020",
            (float(w2020["value"]) / implied_2019.value - 1) * 100,
            "percent",
            "(count 2020 / implied count 2019 - 1) * 100",
            (*implied_2019.inputs, str(w2020["figure_id"])),
            implied_2019.approximate or w2020["qualifier"] != "exact",
        ),
        _derive(
            "chongqing_workshop_employees_lifted_share",
            "Share of Chongqing employment-assistance workshop employees lifted out of poverty",
            "percent", "lifted out of poverty / workshop employees * 100",
            lambda lifted, employees: lifted / employees * 100, cq_lifted, cq_employees,
        ),
        _derive(
            "chongqing_employees_per_workshop",
            "Employees per employment-assistance workshop in Chongqing",
            "persons", "workshop employees / workshops",
            lambda employees, count: employees / count, cq_employees, cq_workshops,
        ),
        _derive(
            "national_jobs_per_workshop",
            "Jobs per poverty-alleviation workshop nationally",
            "persons", "workshop jobs / workshops built",
            lambda jobs, count: jobs / count, workshop_jobs, workshops,
        ),
        _derive(
            "training_2020_share_of_13th_plan",
            "Poor laborers trained in 2020 as a share of those trained in the 13th Five-Year Plan "
            "(2016-2020)",
            "percent", "trained in 2020 / trained 2016-2020 * 100",
            lambda year, plan: year / plan * 100, trained_2020, trained_plan,
        ),
    ]
    return pd.DataFrame([figure.as_record() for figure in figures])


def _national_workshop_count(ledger: pd.DataFrame) -> pd.Series:
    """The exact national workshop count (the ledger also holds a "more than" headline)."""
    rows = ledger[
        (ledger["indicator"] == "poverty_alleviation_workshops")
        & (ledger["scope"] == NATIONAL)
        & (ledger["qualifier"] == "exact")
    ]
    if len(rows) != 1:
        raise FigureNotFoundError(
            "expected exactly one exact national 'poverty_alleviation_workshops' figure, "
            f"found {len(rows)}"
        )
    return rows.iloc[0]


# ----------------------------------------------------------------------------------------------
# Consistency between figures


def _periods_comparable(first: str, second: str) -> str | None:
    """'same period', 'same year' (different reference dates within a year), or None."""
    if first == second:
        return "same period"
    is_range = YEAR_RANGE.match(first) or YEAR_RANGE.match(second)
    if not is_range and first[:4] == second[:4]:
        return "same year"
    return None


def _bounds_agree(bound: pd.Series, other: pd.Series) -> bool:
    """Whether an exact figure ``other`` satisfies the bound stated by ``bound``."""
    limit, value = float(bound["value"]), float(other["value"])
    qualifier = bound["qualifier"]
    if qualifier == "more_than":
        return value > limit
    if qualifier == "at_least":
        return value >= limit
    if qualifier == "at_most":
        return value <= limit
    if qualifier == "nearly":
        return limit * (1 - APPROXIMATE_TOLERANCE) <= value <= limit
    if qualifier == "about":
        return abs(value - limit) <= APPROXIMATE_TOLERANCE * limit
    return math.isclose(value, limit, rel_tol=1e-9)


def _compare_pair(first: pd.Series, second: pd.Series, relation: str) -> dict:
    exact_first = first["qualifier"] == "exact"
    bound, other = (second, first) if exact_first else (first, second)
    agree = _bounds_agree(bound, other)
    difference = float(second["value"]) - float(first["value"])
    if agree:
        status = "consistent"
    elif relation == "same period":
        status = "disagree"
    else:
        status = "differ across reference dates"
    return {
        "indicator": first["indicator"],
        "scope": first["scope"],
        "figure_ids": f"{first['figure_id']};{second['figure_id']}",
        "periods": f"{first['period']} vs {second['period']}",
        "values": f"{_describe(first)} vs {_describe(second)}",
        "relation": relation,
        "difference": difference,
        "relative_difference_percent": difference / float(first["value"]) * 100,
        "status": status,
    }


def _describe(row: pd.Series) -> str:
    prefix = {"exact": "", "more_than": "more than ", "at_least": "at least ",
              "about": "about ", "nearly": "nearly ", "at_most": "at most "}[row["qualifier"]]
    return f"{prefix}{row['value_as_written']} ({row['source_id']})"


def consistency_findings(ledger: pd.DataFrame) -> pd.DataFrame:
    """Compare every pair of actual figures of one indicator and scope in comparable periods.

    Pairs in the same period that cannot both be true are ``disagree``; pairs at different
    reference dates within one year that differ are reported too, never silently resolved.
    """
    actual = ledger[(ledger["kind"] == "actual") & ledger["value"].notna()]
    findings = []
    for _, group in actual.groupby(["indicator", "scope", "unit"], sort=True):
        for (_, first), (_, second) in combinations(group.iterrows(), 2):
            relation = _periods_comparable(str(first["period"]), str(second["period"]))
            if relation:
                findings.append(_compare_pair(first, second, relation))
    columns = ["indicator", "scope", "figure_ids", "periods", "values", "relation",
               "difference", "relative_difference_percent", "status"]
    return pd.DataFrame(findings, columns=columns)


def derived_against_published(ledger: pd.DataFrame, derived: pd.DataFrame) -> pd.DataFrame:
    """Check derived figures against published statements of the same quantity.

    The 2016-2020 increase computed from the two counts is compared with the separately
    published "increased by more than 10 million".
    """
    checks = []
    increase = derived.set_index("derived_id").loc["working_away_increase_2016_2020"]
    published = find_figure(ledger, "poor_laborers_working_away_increase", "2016-2020")
    computed = pd.Series({**published.to_dict(), "qualifier": "exact", "value": increase["value"]})
    checks.append({
        "derived_id": "working_away_increase_2016_2020",
        "computed": float(increase["value"]),
        "published_figure_id": published["figure_id"],
        "published": _describe(published),
        "status": "consistent" if _bounds_agree(published, computed) else "disagree",
    })
    return pd.DataFrame(checks)
