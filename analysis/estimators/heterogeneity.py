"""Who gains: program effects by group of persons, and a test that the effects are equal.

Groups are defined on baseline traits, read from each person's first row in the panel (the
first panel year in a balanced panel), so a person belongs to one group in every year:
sex, age band, disability or weak labor, and schooling band (:data:`DIMENSIONS`).

The caller chooses the estimator: ``estimate(subset) -> (EffectEstimate, scores)``, where
``scores`` are the estimate's cluster-level influence scores, a :class:`pandas.Series`
indexed by cluster id (``return_scores=True`` of the estimators in
:mod:`analysis.estimators.effects` and :mod:`analysis.estimators.staggered`). They satisfy
``std_error^2 = adj * sum_c s_c^2`` with ``adj = G/(G-1)`` the estimator's small-sample factor
(G its own number of clusters). Groups are disjoint sets of persons but share counties, so
their estimates are correlated; the covariance of groups g and h is

    V_gh = sqrt(adj_g adj_h) * sum_c s_gc s_hc

over the union of clusters (a group's scores are 0 in a county where it has nobody). The
diagonal reproduces each group's reported standard error exactly; when every group spans all
counties, ``adj_g = G/(G-1)`` for all g and ``V = G/(G-1) S'S``.

The test of equal effects is the Wald test of H0: b_1 = ... = b_K with R the K-1 successive
differences, ``W = (Rb)'(RVR')^-1 (Rb)``, reported in its small-cluster form
``F = W/(K-1)`` against F(K-1, G-1), G the number of clusters in the union.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimators.effects import EffectEstimate
from analysis.estimators.exceptions import EffectsError, InvalidOptionError, MissingColumnError
from analysis.estimators.inference import score_adjustment

Estimator = Callable[[pd.DataFrame], "tuple[EffectEstimate, pd.Series]"]
TABLE_COLUMNS = ["group", "estimate", "std_error", "ci_low", "ci_high", "n_obs", "n_treated",
                 "n_clusters", "n_persons", "status"]
ESTIMATED = "estimated"


# --------------------------------------------------------------------------- catalog
@dataclass(frozen=True)
class GroupDimension:
    """One way of splitting persons: a baseline column, cut points and reader labels.

    ``bins`` are right-closed interval edges for :func:`pandas.cut` (numeric traits);
    ``None`` means a 0/1 trait whose labels are ``(label for 1, label for 0)``.
    """

    name: str
    title: str
    column: str
    labels: tuple[str, ...]
    bins: tuple[float, ...] | None = None

    def assign(self, values: pd.Series) -> pd.Series:
        """Group label of each baseline value (an ordered categorical)."""
        if self.bins is None:
            yes, no = self.labels
            labels = np.where(values.astype(bool), yes, no)
        else:
            labels = pd.cut(values, bins=list(self.bins), labels=list(self.labels), right=True)
        return pd.Series(pd.Categorical(labels, categories=list(self.labels), ordered=True),
                         index=values.index, name=self.name)


INF = float("inf")
DIMENSIONS: dict[str, GroupDimension] = {
    "sex": GroupDimension("sex", "Sex", "female", ("Women", "Men")),
    "age": GroupDimension("age", "Age at the start of the panel", "age",
                          ("Aged 16-29", "Aged 30-44", "Aged 45-64"), (-INF, 29, 44, INF)),
    "weak_labor": GroupDimension("weak_labor", "Disability or weak labor capacity",
                                 "disability_or_weak_labor",
                                 ("Disability or weak labor", "No disability or weak labor")),
    "schooling": GroupDimension("schooling", "Years of schooling", "schooling_years",
                                ("0-6 years of schooling", "7-9 years of schooling",
                                 "10 or more years of schooling"), (-INF, 6, 9, INF)),
}
"""The catalog of group dimensions. Age bands use the age in the person's first panel row;
schooling bands are up to 6, more than 6 up to 9, and more than 9 years."""


def dimension(name: str) -> GroupDimension:
    """The catalog entry ``name``; :class:`InvalidOptionError` lists the known ones."""
    if name not in DIMENSIONS:
        raise InvalidOptionError(f"unknown group dimension {name!r}; "
                                 f"choose one of {list(DIMENSIONS)}")
    return DIMENSIONS[name]


def assign_groups(data: pd.DataFrame, dimension_name: str, *, person: str = "person_id",
                  time: str = "year") -> pd.Series:
    """Group label of every row, from the person's first row (earliest ``time``).

    Returns
    -------
    pandas.Series
        Ordered categorical aligned to ``data.index``; missing where the baseline trait is
        missing.
    """
    spec = dimension(dimension_name)
    missing = [c for c in (person, time, spec.column) if c not in data.columns]
    if missing:
        raise MissingColumnError(f"column(s) {missing} not in the data")
    baseline = data.sort_values([person, time]).drop_duplicates(person).set_index(person)
    by_person = spec.assign(baseline[spec.column])
    return pd.Series(pd.Categorical(data[person].map(by_person), categories=spec.labels,
                                    ordered=True), index=data.index, name=spec.name)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EqualityTest:
    """Wald test of equal effects across the estimated groups."""

    statistic: float           # F = W / (K-1)
    wald: float                # W
    df_num: int                # K-1
    df_denom: int | None       # G-1 (None: chi-square reference without clustering)
    p_value: float
    n_clusters: int | None
    groups: tuple[str, ...]
    excluded: tuple[str, ...]
    method: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GroupEffects:
    """Effects by group (``table``, one row per group label) and the test of equality.

    ``covariance`` is the K x K matrix V of the estimated groups (labels as index).
    """

    dimension: str
    table: pd.DataFrame
    test: EqualityTest
    covariance: pd.DataFrame


# --------------------------------------------------------------------------- estimation
def _row(label, record: EffectEstimate | None, n_persons: int, status: str) -> dict:
    if record is None:
        return {"group": label, "n_persons": n_persons, "status": status}
    fields = ("estimate", "std_error", "ci_low", "ci_high", "n_obs", "n_treated", "n_clusters")
    return {"group": label, **{f: getattr(record, f) for f in fields},
            "n_persons": n_persons, "status": status}


def _estimate_groups(data, groups, labels, estimate, person):
    """Per label: table row, and (record, scores) when estimable."""
    rows, fits = [], {}
    for label in labels:
        subset = data.loc[groups == label]
        n_persons = int(subset[person].nunique())
        if subset.empty:
            rows.append(_row(label, None, 0, "not estimable: no persons in this group"))
            continue
        try:
            record, scores = estimate(subset)
        except EffectsError as error:
            rows.append(_row(label, None, n_persons, f"not estimable: {error}"))
            continue
        rows.append(_row(label, record, n_persons, ESTIMATED))
        fits[label] = (record, scores)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS), fits


def group_covariance(fits: dict) -> tuple[pd.DataFrame, int | None]:
    """Covariance of the group estimates from their scores, and the union's cluster count.

    ``V_gh = sqrt(adj_g adj_h) sum_c s_gc s_hc`` (see the module docstring); clusters a
    group does not reach contribute 0 to its scores.
    """
    labels = list(fits)
    scores = pd.concat([fits[g][1].rename(g) for g in labels], axis=1).fillna(0.0)
    clustered = all(fits[g][0].n_clusters for g in labels)
    scale = np.sqrt([score_adjustment(fits[g][0].n_clusters) for g in labels])
    matrix = scores.to_numpy(float)
    cov = scale[:, None] * (matrix.T @ matrix) * scale[None, :]
    return pd.DataFrame(cov, index=labels, columns=labels), (len(scores) if clustered else None)


def wald_equal_effects(estimates: np.ndarray, cov: np.ndarray,
                       n_clusters: int | None) -> tuple[float, float, float]:
    """``(W, F, p)`` for H0: all equal, R = successive differences; F(K-1, G-1) reference
    (chi-square(K-1) on W when ``n_clusters`` is None)."""
    k = len(estimates)
    R = np.eye(k)[:-1] - np.eye(k, k=1)[:-1]
    diff = R @ estimates
    wald = float(diff @ np.linalg.solve(R @ cov @ R.T, diff))
    if n_clusters is None:
        return wald, wald / (k - 1), float(stats.chi2.sf(wald, k - 1))
    f_stat = wald / (k - 1)
    return wald, f_stat, float(stats.f.sf(f_stat, k - 1, n_clusters - 1))


def test_method_words(k, n_clusters, excluded) -> str:
    if n_clusters is None:
        text = f"Wald test of equal effects across {k} groups, chi-square({k - 1}), unclustered"
    else:
        text = (f"Wald test of equal effects across {k} groups with cluster-robust covariance"
                f" from the groups' influence scores; F = W/{k - 1} against "
                f"F({k - 1}, {n_clusters - 1}) with {n_clusters} clusters")
    if excluded:
        text += f"; left out as not estimable: {', '.join(excluded)}"
    return text


def not_tested(labels, excluded, reason, n_clusters=None) -> EqualityTest:
    return EqualityTest(np.nan, np.nan, max(len(labels) - 1, 0), None, np.nan, n_clusters,
                        tuple(labels), tuple(excluded), f"not computed: {reason}")


def equality_test(fits: dict, excluded=()) -> tuple[EqualityTest, pd.DataFrame]:
    """The :class:`EqualityTest` of the estimated groups and their covariance matrix."""
    labels = list(fits)
    if len(labels) < 2:
        return (not_tested(labels, excluded, "fewer than two groups could be estimated"),
                pd.DataFrame())
    cov, g = group_covariance(fits)
    if g is not None and g - 1 < len(labels) - 1:
        return not_tested(labels, excluded, f"only {g} clusters for {len(labels)} groups",
                           g), cov
    estimates = np.array([fits[label][0].estimate for label in labels], float)
    try:
        wald, f_stat, p_value = wald_equal_effects(estimates, cov.to_numpy(), g)
    except np.linalg.LinAlgError:
        return not_tested(labels, excluded, "singular covariance of the differences", g), cov
    test = EqualityTest(f_stat, wald, len(labels) - 1, g - 1 if g else None, p_value, g,
                        tuple(labels), tuple(excluded), test_method_words(len(labels), g, excluded))
    return test, cov


def effects_by_group(data: pd.DataFrame, dimension_name: str, estimate: Estimator, *,
                     person: str = "person_id", time: str = "year") -> GroupEffects:
    """Effect in each group of ``dimension_name`` and the Wald test of equal effects.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-year panel (or cross-section with ``person`` and ``time`` columns).
    dimension_name : str
        A key of :data:`DIMENSIONS` ("sex", "age", "weak_labor", "schooling").
    estimate : callable
        ``estimate(subset) -> (EffectEstimate, scores)`` on one group's rows; ``scores``
        indexed by cluster id as returned with ``return_scores=True``. An
        :class:`EffectsError` makes the group a "not estimable" row, left out of the test.
    person, time : str
        Person id and period columns used to read baseline traits.

    Returns
    -------
    GroupEffects
        ``table`` with columns ``group, estimate, std_error, ci_low, ci_high, n_obs,
        n_treated, n_clusters, n_persons, status`` (the estimator's own SE and interval),
        ``test`` (:class:`EqualityTest`) and ``covariance``.
    """
    spec = dimension(dimension_name)
    groups = assign_groups(data, dimension_name, person=person, time=time)
    table, fits = _estimate_groups(data, groups, spec.labels, estimate, person)
    excluded = tuple(table.loc[table["status"] != ESTIMATED, "group"])
    test, cov = equality_test(fits, excluded)
    return GroupEffects(spec.name, table, test, cov)
