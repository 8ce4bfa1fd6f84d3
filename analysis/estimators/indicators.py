"""Published targets measured from the person-year panel, per year, with county-clustered CIs.

The ledger (``data/raw/published_figures.csv``) states targets a person-year panel can measure.
Each is defined here on the panel columns of :class:`analysis.data.schemas.PanelSchema`, with
"employed" meaning ``months_worked > 0`` (any work in the year; ``stable_employment`` is the
stricter six months or more):

* ``outside_county_employment_share`` (YN-09): among persons employed in year t, the percent
  who worked outside their county (``worked_outside_county``).
* ``trainee_employment_rate`` (YN-04): among persons first trained in or before year t
  (``first_trained_year <= t``), the percent employed in year t.
* ``outside_province_employment_annual_growth`` (YN-10): percent growth of the number of
  persons working outside their province (``worked_outside_province``) from t-1 to t.
* ``poverty_alleviated_population_employed_relative_to_previous_year`` (YN-08): the number
  employed in t as a percent of the number employed in t-1.
* ``poverty_alleviated_population_employed`` (NOTICE-01, CQ-02): the number employed in t,
  in persons represented: panel count x an expansion factor.

Inference treats counties as sampled clusters (G of them: every county of the scope observed
in the year or pair of years) with the factor G/(G-1) and t(G-1) intervals, as the effect
estimators do. Shares are ratio estimators ``R = sum y / sum x`` with linearization (delta
method) variance ``G/(G-1) sum_c (y_c - R x_c)^2 / (sum x)^2``; a share's domain is a subset
of the persons, and counties without domain members still count in G (domain estimation).
Year-on-year figures are the same ratio with ``y`` and ``x`` a person's indicator in t and in
t-1 (0 when not observed that year); a person in both years enters one county total, so the
correlation between the years is carried by the clustering. Counts are ``expansion * n * ybar``
with the number of panel persons n and the expansion factor held fixed; their uncertainty is
that of the employed share ``ybar``. A year outside the panel (or, for year-on-year figures,
without the previous year) gives no row; so does a year whose denominator is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from analysis.data.ledger import NATIONAL, find_figure
from analysis.estimators.inference import Clusters, inference, influence_std_error

PERSON, YEAR, COUNTY, PROVINCE = "person_id", "year", "county_id", "province_code"
COLUMNS_READ = (PERSON, YEAR, COUNTY, PROVINCE, "months_worked", "worked_outside_county",
                "worked_outside_province", "first_trained_year")
"""Every panel column an indicator reads (a test checks that these suffice)."""
MEASURE_COLUMNS = ["indicator", "year", "value", "std_error", "ci_low", "ci_high", "unit",
                   "n_persons", "n_clusters"]
TARGET_COLUMNS = ["target_figure_id", "target_value", "target_qualifier", "target_period",
                  "target_note", "year_vs_target_period", "status"]
ACTUAL_COLUMNS = ["actual_figure_id", "actual_value", "actual_period"]


# --------------------------------------------------------------------------- estimators
@dataclass(frozen=True)
class Measurement:
    """One year's value of an indicator (as a fraction or count before unit scaling)."""

    value: float
    std_error: float
    n_persons: int
    n_clusters: int


def ratio_estimate(y: np.ndarray, x: np.ndarray, counties: np.ndarray) -> tuple[float, float]:
    """``R = sum y / sum x`` and its county-clustered linearization SE.

    The influence of row i is ``(y_i - R x_i) / mean(x)``, so
    ``Var = G/(G-1) sum_c (y_c - R x_c)^2 / (sum x)^2`` (NaN with fewer than two counties).
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    ratio = y.sum() / x.sum()
    codes = pd.factorize(counties, sort=True)[0].astype(np.int64)
    clusters = Clusters(COUNTY, codes)
    if clusters.n < 2:
        return float(ratio), np.nan
    return float(ratio), influence_std_error((y - ratio * x) / x.mean(), clusters)


def _share(rows: pd.DataFrame, numerator: pd.Series, domain: pd.Series) -> Measurement | None:
    if not domain.any():
        return None
    y = (numerator & domain).to_numpy(float)
    value, se = ratio_estimate(y, domain.to_numpy(float), rows[COUNTY].to_numpy())
    return Measurement(value, se, int(rows.loc[domain, PERSON].nunique()),
                       int(rows[COUNTY].nunique()))


def _year_rows(panel: pd.DataFrame, year: int) -> pd.DataFrame:
    return panel[panel[YEAR] == year]


def _employed(rows: pd.DataFrame) -> pd.Series:
    return rows["months_worked"] > 0


def _two_years(panel: pd.DataFrame, year: int, flag: Callable) -> pd.DataFrame | None:
    """Person-level ``now`` (flag in year) and ``before`` (flag in year-1), 0 when absent;
    a person's county is that of their first row in the two years."""
    rows = panel[panel[YEAR].isin([year - 1, year])]
    if not {year - 1, year} <= set(rows[YEAR]):
        return None
    values = pd.DataFrame({PERSON: rows[PERSON], COUNTY: rows[COUNTY],
                           "now": flag(rows).where(rows[YEAR] == year, False).astype(float),
                           "before": flag(rows).where(rows[YEAR] == year - 1, False)
                           .astype(float)})
    return values.groupby(PERSON).agg({COUNTY: "first", "now": "sum", "before": "sum"})


def _year_on_year(panel, year, flag) -> Measurement | None:
    persons = _two_years(panel, year, flag)
    if persons is None or persons["before"].sum() == 0:
        return None
    value, se = ratio_estimate(persons["now"], persons["before"], persons[COUNTY].to_numpy())
    return Measurement(value, se, len(persons), int(persons[COUNTY].nunique()))


# --------------------------------------------------------------------------- indicators
def outside_county_share(panel: pd.DataFrame, year: int) -> Measurement | None:
    """Persons working outside their county / persons employed (months_worked > 0), year t.

    ``n_persons`` counts the employed (the denominator)."""
    rows = _year_rows(panel, year)
    return _share(rows, rows["worked_outside_county"].astype(bool), _employed(rows))


def trainee_employment(panel: pd.DataFrame, year: int) -> Measurement | None:
    """Trainees employed in t / trainees, trainees being persons with
    ``first_trained_year <= t``; ``n_persons`` counts the trainees."""
    rows = _year_rows(panel, year)
    trained = (rows["first_trained_year"] <= year).fillna(False).astype(bool)
    return _share(rows, _employed(rows), trained)


def outside_province_ratio(panel: pd.DataFrame, year: int) -> Measurement | None:
    """Persons working outside their province in t / the same in t-1 (a ratio, 1 = no
    growth); ``n_persons`` counts persons observed in either year."""
    return _year_on_year(panel, year, lambda rows: rows["worked_outside_province"].astype(bool))


def employed_ratio(panel: pd.DataFrame, year: int) -> Measurement | None:
    """Persons employed in t / persons employed in t-1; ``n_persons`` as above."""
    return _year_on_year(panel, year, _employed)


def employed_count(panel: pd.DataFrame, year: int, expansion: float) -> Measurement | None:
    """``expansion * (persons employed in t)``; SE ``expansion * n * SE(employed share)``
    with the n panel persons of year t and ``expansion`` fixed; ``n_persons`` = n."""
    rows = _year_rows(panel, year)
    share = _share(rows, _employed(rows), pd.Series(True, index=rows.index))
    if share is None:
        return None
    scale = expansion * len(rows)
    return Measurement(share.value * scale, share.std_error * scale, share.n_persons,
                       share.n_clusters)


@dataclass(frozen=True)
class Indicator:
    """A ledger indicator measured on the panel: ``measure(panel, year, expansion)`` gives
    a :class:`Measurement`; the reported value is ``scale * value + shift``."""

    name: str
    unit: str
    measure: Callable
    scale: float = 100.0
    shift: float = 0.0


INDICATORS: dict[str, Indicator] = {i.name: i for i in (
    Indicator("outside_county_employment_share", "percent",
              lambda panel, year, _: outside_county_share(panel, year)),
    Indicator("trainee_employment_rate", "percent",
              lambda panel, year, _: trainee_employment(panel, year)),
    Indicator("outside_province_employment_annual_growth", "percent",
              lambda panel, year, _: outside_province_ratio(panel, year), shift=-100.0),
    Indicator("poverty_alleviated_population_employed_relative_to_previous_year", "percent",
              lambda panel, year, _: employed_ratio(panel, year)),
    Indicator("poverty_alleviated_population_employed", "persons", employed_count, scale=1.0),
)}
"""Ledger indicator slug -> its panel definition (see the module docstring)."""


def indicator_by_year(panel: pd.DataFrame, indicator: str, *, expansion: float | None = None,
                      years=None, alpha: float = 0.05) -> pd.DataFrame:
    """One indicator per year with a county-clustered ``1 - alpha`` interval, t(G-1).

    Parameters
    ----------
    panel : pandas.DataFrame
        Person-year panel of one scope (a province's rows, or all for national).
    indicator : str
        A key of :data:`INDICATORS`.
    expansion : float, optional
        Persons represented per panel person; required for counts ("persons").
    years : iterable of int, optional
        Years to report (default: every panel year); years without data give no row.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator, year, value, std_error, ci_low, ci_high, unit, n_persons,
        n_clusters``.
    """
    spec = INDICATORS[indicator]
    if spec.unit == "persons" and expansion is None:
        raise ValueError(f"{indicator} is a count of persons: pass expansion (persons "
                         "represented per panel person), e.g. expansion_from_ledger(...).factor")
    rows = []
    for year in sorted(set(panel[YEAR]) if years is None else set(years)):
        found = spec.measure(panel, int(year), expansion)
        if found is not None:
            rows.append(_measure_row(spec, int(year), found, alpha))
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def _measure_row(spec: Indicator, year: int, found: Measurement, alpha: float) -> dict:
    value = spec.scale * found.value + spec.shift
    se = spec.scale * found.std_error
    low, high, _ = inference(value, se, alpha, found.n_clusters - 1)
    return {"indicator": spec.name, "year": year, "value": value, "std_error": se,
            "ci_low": low, "ci_high": high, "unit": spec.unit, "n_persons": found.n_persons,
            "n_clusters": found.n_clusters}


# --------------------------------------------------------------------------- expansion factor
@dataclass(frozen=True)
class Expansion:
    """Persons represented per panel person, with where it comes from."""

    factor: float
    figure_id: str
    published: float
    panel_count: int
    year: int
    note: str


def expansion_from_ledger(panel: pd.DataFrame, ledger: pd.DataFrame, *,
                          indicator: str = "poor_laborers_working_away",
                          period: str = "2020") -> Expansion:
    """Expansion factor of the simulated national panel: published count / panel count.

    The panel is calibrated so that the persons working outside their county in the reference
    year stand for the published number of poor laborers working away (32.43 million in
    2020, MOHRSS-02). The factor is that figure divided by the panel's count of persons with
    ``worked_outside_county`` in that year, and is treated as fixed (no sampling error). Pass
    the whole national panel, not one province.
    """
    row = find_figure(ledger, indicator, period)
    year = int(period[:4])
    count = int(panel.loc[panel[YEAR] == year, "worked_outside_county"].astype(bool).sum())
    if count == 0:
        raise ValueError(f"no panel person worked outside the county in {year}")
    note = (f"{row['figure_id']}: {float(row['value']):,.0f} working away in {period} / "
            f"{count:,} panel persons working outside their county in {year}; treated as "
            "fixed, so intervals of counts exclude its uncertainty")
    return Expansion(float(row["value"]) / count, str(row["figure_id"]), float(row["value"]),
                     count, year, note)


# --------------------------------------------------------------------------- targets
IMPLIED_TARGETS = {
    "poverty_alleviated_population_employed_relative_to_previous_year": (
        100.0, "the ledger gives no number; 'no less than the previous year' is read as "
               "100 percent of the previous year"),
}


def _period_years(period: str) -> tuple[int, int]:
    years = [int(y) for y in re.findall(r"\d{4}", str(period))[:2]]
    return years[0], years[-1]


def year_vs_period(year: int, period: str) -> str:
    """Whether ``year`` lies before, within or after the target ``period``, in words."""
    start, end = _period_years(period)
    where = "before" if year < start else "after" if year > end else "within"
    return f"{where} the target period {period}"


def status(ci_low: float, ci_high: float, target: float, n_clusters: int = 2) -> str:
    """Where the interval lies relative to the target, in words."""
    if np.isnan(target):
        return "no target value in the ledger"
    if n_clusters < 2:
        return "no interval: fewer than two counties"
    if np.isnan(ci_low) or np.isnan(ci_high):
        return "no interval: the estimated standard error is zero"
    if ci_low > target:
        return "above the target"
    if ci_high < target:
        return "below the target"
    return "the interval includes the target"


def _target_fields(target: pd.Series) -> dict:
    value, note = float(target["value"]), ""
    if np.isnan(value) and target["indicator"] in IMPLIED_TARGETS:
        value, note = IMPLIED_TARGETS[target["indicator"]]
    return {"target_figure_id": target["figure_id"], "target_value": value,
            "target_qualifier": target["qualifier"], "target_period": str(target["period"]),
            "target_note": note}


def published_actual(ledger: pd.DataFrame, indicator: str, scope: str, year: int) -> dict:
    """The ledger's actual of the same indicator and scope in ``year`` (period ``YYYY`` or
    ``YYYY-MM...``, the exact year preferred), or empty fields."""
    rows = ledger[(ledger["indicator"] == indicator) & (ledger["scope"] == scope)
                  & (ledger["kind"] == "actual")]
    rows = rows[rows["period"].astype(str).str.match(rf"^{year}(-\d{{2}})*$")]
    if rows.empty:
        return dict.fromkeys(ACTUAL_COLUMNS)
    row = rows.sort_values("period", key=lambda p: p.astype(str) != str(year)).iloc[0]
    return {"actual_figure_id": row["figure_id"], "actual_value": float(row["value"]),
            "actual_period": str(row["period"])}


def scope_rows(panel: pd.DataFrame, scope: str) -> pd.DataFrame:
    """All rows for ``"national"``, else the rows of province ``scope``."""
    if scope == NATIONAL:
        return panel
    return panel[panel[PROVINCE].astype(str) == str(scope)]


def measured_targets(panel: pd.DataFrame, ledger: pd.DataFrame, *, expansion,
                     years=None, alpha: float = 0.05) -> pd.DataFrame:
    """Every ledger target of an :data:`INDICATORS` slug, measured per panel year.

    Parameters
    ----------
    panel : pandas.DataFrame
        The national person-year panel; each target's scope selects its rows.
    ledger : pandas.DataFrame
        The published-figure ledger (``scope`` and ``period`` as strings).
    expansion : float or Expansion
        Persons represented per panel person, for counts (see :func:`expansion_from_ledger`).
    years : iterable of int, optional
        Years to report; default every panel year.

    Returns
    -------
    pandas.DataFrame
        One row per target and year: ``indicator, scope`` and the columns of
        :func:`indicator_by_year`, then ``target_figure_id, target_value, target_qualifier,
        target_period, target_note, year_vs_target_period, status`` and the published
        ``actual_figure_id, actual_value, actual_period`` where the ledger has one.
    """
    factor = float(getattr(expansion, "factor", expansion))
    targets = ledger[(ledger["kind"] == "target") & ledger["indicator"].isin(list(INDICATORS))]
    rows = []
    for _, target in targets.sort_values("figure_id").iterrows():
        scope = str(target["scope"])
        measured = indicator_by_year(scope_rows(panel, scope), target["indicator"],
                                     expansion=factor, years=years, alpha=alpha)
        fields = _target_fields(target)
        for record in measured.to_dict("records"):
            rows.append({**record, "scope": scope, **fields,
                         "year_vs_target_period": year_vs_period(record["year"],
                                                                 fields["target_period"]),
                         "status": status(record["ci_low"], record["ci_high"],
                                          fields["target_value"], record["n_clusters"]),
                         **published_actual(ledger, target["indicator"], scope,
                                            record["year"])})
    columns = ["indicator", "scope", *MEASURE_COLUMNS[1:], *TARGET_COLUMNS, *ACTUAL_COLUMNS]
    return pd.DataFrame(rows, columns=columns)
