"""The nation's estimates combined from the provinces' own, not re-estimated on a pooled panel.

Each province unit runs every estimator, the event study and the effects by group on its own
rows, and records beside its page (:func:`province_inputs`) what the combination needs: each
estimate, its standard error and its **weight**, the number of treated units its estimand
averages over. The national estimate of one estimator is then

    theta = sum_p w_p theta_p / sum_p w_p,

with ``w_p`` the province's treated person-years for the average effect over the years after
first receipt (``att_post``), or its treated laborers in the last year (``att_last_year``).
Because each province's own estimate compares its treated laborers with untreated ones of the
same province, ``theta`` is **the average effect over every treated person-year (or treated
laborer) in the covered provinces, each compared within its own province**: the estimand of
the pooled estimator when trends and covariate effects may differ by province.

The standard error is exact given the weights: standard errors are clustered by county and
counties nest within provinces, so no two province estimates share a cluster; they are
independent and

    Var(theta) = sum_p (w_p / W)^2 Var(theta_p).

The weights are the realized numbers of treated person-years in the registry and are treated
as fixed. The same holds for covariance matrices (event times, groups): ``V = sum_p D_p V_p
D_p`` with ``D_p`` the diagonal of the province's weight shares. On simulated data the planted
value combines with the same weights, which are exactly the denominators of the planted
estimands (:func:`analysis.estimators.program_effects.true_values`), so the combined planted
value equals the pooled one.

A province whose estimate could not be computed (too few treated laborers, say) is left out of
that combination, and the result says which provinces are covered and what share of the
treated they hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis import config
from analysis.estimators import program_effects as pe
from analysis.files import json_records, json_value
from analysis.estimators.registry import ESTIMANDS, ESTIMATORS
from analysis.estimators.spec import AnalysisSpec

RESULTS_KEY = "national_inputs"
"""Where a province unit's results JSON keeps what the national combination reads."""

ESTIMATE_FIELDS = ("method", "estimand", "estimate", "std_error", "ci_low", "ci_high",
                   "p_value", "n_obs", "n_treated", "n_clusters", "se_type", "notes",
                   "true_effect")


class MissingProvinceResults(FileNotFoundError):
    """Raised when a province's results are missing or are for another specification."""


# ----------------------------------------------------------------------------------------------
# What a province records


def estimand_weights(prepared: pd.DataFrame) -> dict[str, int]:
    """The number of treated units each estimand averages over in one prepared panel.

    ``att_last_year``: laborers treated by the last panel year (person-years of that year);
    ``att_post``: treated person-years of laborers first treated after the first panel year.
    """
    first_year, last_year = prepared["year"].min(), prepared["year"].max()
    treated = prepared[pe.TREATMENT] == 1
    return {"att_last_year": int((treated & (prepared["year"] == last_year)).sum()),
            "att_post": int((treated & (prepared[pe.FIRST_TREATED] > first_year)).sum())}


def event_time_weights(prepared: pd.DataFrame) -> pd.Series:
    """Laborers first treated after the first panel year, observed at each event time: the
    cohort weights of an event-time average."""
    first_year = prepared["year"].min()
    eligible = prepared[(prepared[pe.FIRST_TREATED] > first_year)
                        & prepared["event_time"].notna()]
    return eligible.groupby("event_time").size().rename("weight")


def _covariance_record(covariance: pd.DataFrame) -> dict:
    return {"index": [json_value(value) for value in covariance.index],
            "matrix": covariance.to_numpy(float).tolist()}


def province_inputs(results: pe.AnalysisResults, groups: list | None = None) -> dict:
    """What the national combination needs from one province's analysis (JSON-ready).

    ``groups`` are the province's :class:`~analysis.estimators.heterogeneity.GroupEffects`
    (main pages only), each with its covariance.
    """
    spec = results.spec
    prepared = pe.prepare_panel(results.panel, spec)
    weights = estimand_weights(prepared)
    estimates = results.estimates.assign(weight=results.estimates["estimand"].map(weights))
    fields = [field for field in ESTIMATE_FIELDS if field in estimates] + ["weight"]
    recorded = {"spec": spec.to_dict(), "weights": weights,
                "estimates": json_records(estimates[fields])}
    by_event = event_time_weights(prepared)
    if not results.events.empty:
        events = results.events.assign(weight=results.events["event_time"].map(by_event)
                                       .fillna(0).astype(int))
        recorded["events"] = json_records(events[["method", "label", "event_time", "estimate",
                                              "std_error", "is_reference", "weight"]])
    if results.event_study is not None:
        recorded["event_covariance"] = {method: _covariance_record(matrix) for method, matrix
                                        in results.event_study.covariance.items()}
    if results.true_events is not None:
        recorded["true_events"] = json_records(results.true_events.assign(
            weight=results.true_events["event_time"].map(by_event).fillna(0).astype(int)))
    if groups:
        estimand = pe.group_estimator(spec).estimand
        recorded["groups"] = [_group_record(result, prepared, estimand) for result in groups]
    return recorded


def _group_record(result, prepared: pd.DataFrame, estimand: str) -> dict:
    """One dimension's groups: estimate, standard error, the group's treated units for the
    estimand (its weight), and the covariance of the group estimates."""
    from analysis.estimators.heterogeneity import assign_groups

    labels = assign_groups(prepared, result.dimension).astype(str)
    weights = {label: estimand_weights(rows)[estimand]
               for label, rows in prepared.groupby(labels.to_numpy())}
    table = result.table.assign(group=result.table["group"].astype(str))
    table["weight"] = table["group"].map(weights).fillna(0).astype(int)
    covariance = result.covariance.rename(index=str, columns=str)
    return {"dimension": result.dimension, "estimand": estimand, "table": json_records(table),
            "covariance": None if covariance.empty else _covariance_record(covariance)}


# ----------------------------------------------------------------------------------------------
# Reading the provinces' records


def read_province_inputs(results_dir: Path, unit_ids: dict[str, str],
                         spec: AnalysisSpec) -> dict[str, dict]:
    """Each province's recorded inputs (province code -> record), from its results JSON.

    ``unit_ids`` maps province codes to the unit whose results hold the same analysis (the
    province's main page or its analysis page). Raises :class:`MissingProvinceResults` naming
    every province whose results are missing or were made for another specification.
    """
    found, problems = {}, []
    for code, unit_id in unit_ids.items():
        path = Path(results_dir) / f"{unit_id}.json"
        if not path.exists():
            problems.append(f"{unit_id} ({path} does not exist)")
            continue
        recorded = json.loads(path.read_text()).get(RESULTS_KEY)
        if recorded is None:
            problems.append(f"{unit_id} (its results hold no national inputs)")
        elif recorded["spec"] != spec.to_dict():
            problems.append(f"{unit_id} (made for another specification: "
                            f"{recorded['spec'].get('name')!r}, not {spec.name!r})")
        else:
            found[code] = recorded
    if problems:
        raise MissingProvinceResults(
            "the national estimates combine the provinces' own results, and these are missing "
            "or out of date: " + "; ".join(problems) + ". Build the provinces first: "
            f"python -m analysis build --only {spec.name}")
    return found


# ----------------------------------------------------------------------------------------------
# Combining


def combine(rows: pd.DataFrame, by: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """Weighted combination of province estimates, one output row per ``by`` key.

    ``rows`` holds ``province_code``, the ``by`` columns, ``estimate``, ``std_error`` and
    ``weight`` (optionally ``true_effect``, ``n_obs``, ``n_treated``, ``n_clusters``). A
    province enters a key's combination when its estimate and standard error are finite and its
    weight positive. Returns ``estimate, std_error, ci_low, ci_high, p_value, weight,
    weight_share`` (of the key's treated units in covered provinces), ``provinces``,
    ``provinces_left_out`` and the summed counts; ``true_effect`` combined with the same
    weights over the same provinces.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    out = []
    for key, part in rows.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        usable = (np.isfinite(part["estimate"].astype(float))
                  & np.isfinite(part["std_error"].astype(float))
                  & (part["weight"].astype(float) > 0))
        used = part[usable]
        total = float(part["weight"].clip(lower=0).sum())
        record = dict(zip(by, key))
        record.update(_weighted(used, z))
        record["weight_share"] = float(used["weight"].sum()) / total if total > 0 else np.nan
        record["provinces"] = len(used)
        record["provinces_left_out"] = ",".join(part.loc[~usable, "province_code"].astype(str))
        for count in ("n_obs", "n_treated", "n_clusters"):
            if count in used:
                record[count] = int(pd.to_numeric(used[count], errors="coerce").fillna(0).sum())
        if "true_effect" in used:
            truth = pd.to_numeric(used["true_effect"], errors="coerce")
            w = used["weight"].astype(float)
            record["true_effect"] = float((w * truth).sum() / w.sum()) \
                if len(used) and truth.notna().all() else np.nan
        out.append(record)
    return pd.DataFrame(out)


def _weighted(used: pd.DataFrame, z: float) -> dict:
    if used.empty:
        return {"estimate": np.nan, "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p_value": np.nan, "weight": 0.0}
    w = used["weight"].to_numpy(float)
    share = w / w.sum()
    estimate = float(share @ used["estimate"].to_numpy(float))
    se = float(np.sqrt(share ** 2 @ used["std_error"].to_numpy(float) ** 2))
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else np.nan
    return {"estimate": estimate, "std_error": se, "ci_low": estimate - z * se,
            "ci_high": estimate + z * se, "p_value": p_value, "weight": float(w.sum())}


def combine_covariance(covariances: dict[str, pd.DataFrame], weights: pd.DataFrame,
                       index: list) -> pd.DataFrame:
    """``sum_p D_p V_p D_p`` over provinces, with ``D_p`` the province's weight shares.

    ``weights`` has one row per province code (index) and one column per element of
    ``index`` (0 where the province has no estimate of that element); ``covariances`` maps
    province codes to their covariance matrices (indexed by the same elements).
    """
    shares = weights[index].div(weights[index].sum(axis=0).replace(0, np.nan), axis=1).fillna(0)
    total = np.zeros((len(index), len(index)))
    for code, covariance in covariances.items():
        if code not in shares.index:
            continue
        matrix = covariance.reindex(index=index, columns=index).fillna(0.0).to_numpy(float)
        d = shares.loc[code, index].to_numpy(float)
        total += d[:, None] * matrix * d[None, :]
    return pd.DataFrame(total, index=index, columns=index)


# ----------------------------------------------------------------------------------------------
# The national tables, from the provinces' records


def _estimate_rows(inputs: dict[str, dict]) -> pd.DataFrame:
    return pd.DataFrame([{**row, "province_code": code}
                         for code, recorded in inputs.items() for row in recorded["estimates"]])


def combined_estimates(inputs: dict[str, dict], alpha: float = 0.05) -> pd.DataFrame:
    """Every estimator combined over the provinces, in the shape of
    :func:`~analysis.estimators.program_effects.estimate_effects` (plus coverage columns)."""
    rows = _estimate_rows(inputs)
    for column in ("estimate", "std_error", "true_effect"):
        if column in rows:
            rows[column] = pd.to_numeric(rows[column], errors="coerce")
    table = combine(rows, ["method", "estimand"], alpha)
    order = {name: position for position, name in enumerate(ESTIMATORS)}
    table = table.sort_values("method", key=lambda names: names.map(order)).reset_index(drop=True)
    table["label"] = table["method"].map(lambda name: ESTIMATORS[name].label)
    table["estimand_label"] = table["estimand"].map(lambda key: ESTIMANDS[key].label)
    table["se_type"] = "combined from the provinces"
    table["notes"] = [_coverage_note(row, len(inputs)) for row in table.itertuples()]
    if "true_effect" in table:
        table["covers_truth"] = (table["ci_low"] <= table["true_effect"]) & (
            table["true_effect"] <= table["ci_high"])
    return table


def _coverage_note(row, provinces: int) -> str:
    if row.provinces == 0:
        return "not estimated in any province"
    if row.provinces == provinces:
        return f"combined over all {provinces} provinces"
    return (f"combined over {row.provinces} of {provinces} provinces holding "
            f"{row.weight_share:.1%} of the treated; not estimated in the others")


def province_headlines(inputs: dict[str, dict], spec: AnalysisSpec,
                       all_codes: list[str]) -> pd.DataFrame:
    """Each province's own headline row, as its page shows it (a province without a record
    gets a row saying why)."""
    rows = []
    for code in all_codes:
        recorded = inputs.get(code)
        row = next((r for r in recorded["estimates"] if r["method"] == spec.headline_estimator),
                   None) if recorded else None
        if row is None:
            rows.append({"province_code": code, "method": spec.headline_estimator,
                         "estimate": np.nan, "std_error": np.nan,
                         "notes": "no person-year microdata for this province"})
        else:
            rows.append({"province_code": code, **row})
    # Each province's own interval and p-value, as its page shows them (t or wild bootstrap
    # with few counties).
    # "weight" is the treated count the combination uses (the shrinkage has its own weight).
    table = pd.DataFrame(rows).rename(columns={"weight": "treated_weight"})
    for column in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "true_effect"):
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def combined_events(inputs: dict[str, dict], alpha: float = 0.05) -> tuple[pd.DataFrame, dict]:
    """Effects by years since first receipt combined over provinces, and each method's
    combined covariance of its non-reference coefficients."""
    rows = pd.DataFrame([{**row, "province_code": code} for code, recorded in inputs.items()
                         for row in recorded.get("events", [])])
    if rows.empty:
        return rows, {}
    rows["estimate"] = pd.to_numeric(rows["estimate"], errors="coerce")
    rows["std_error"] = pd.to_numeric(rows["std_error"], errors="coerce")
    rows["is_reference"] = rows["is_reference"].fillna(False).astype(bool)
    estimated = combine(rows[~rows["is_reference"]], ["method", "label", "event_time"], alpha)
    reference = (rows[rows["is_reference"]].groupby(["method", "label", "event_time"])
                 .size().reset_index()[["method", "label", "event_time"]]
                 .assign(estimate=0.0, is_reference=True))
    events = pd.concat([estimated.assign(is_reference=False), reference], ignore_index=True)
    events = events.sort_values(["method", "event_time"]).reset_index(drop=True)
    covariances = {}
    for method, part in rows[~rows["is_reference"]].groupby("method"):
        times = sorted(events.loc[(events["method"] == method) & ~events["is_reference"]
                                  & events["estimate"].notna(), "event_time"])
        usable = part[np.isfinite(part["estimate"]) & np.isfinite(part["std_error"])]
        weights = usable.pivot_table(index="province_code", columns="event_time",
                                     values="weight", aggfunc="sum").reindex(columns=times)
        matrices = {code: _matrix(recorded["event_covariance"][method])
                    for code, recorded in inputs.items()
                    if method in recorded.get("event_covariance", {})}
        covariances[method] = combine_covariance(matrices, weights.fillna(0), times)
    return events, covariances


def _matrix(record: dict) -> pd.DataFrame:
    return pd.DataFrame(record["matrix"], index=record["index"], columns=record["index"])


def combined_true_events(inputs: dict[str, dict]) -> pd.DataFrame | None:
    """Planted effects by event time, combined with the event-time weights."""
    rows = [{**row, "province_code": code} for code, recorded in inputs.items()
            for row in recorded.get("true_events", [])]
    if not rows:
        return None
    table = pd.DataFrame(rows)
    table = table[table["weight"] > 0]
    return (table.groupby("event_time")
            .apply(lambda part: float(np.average(part["att"], weights=part["weight"])),
                   include_groups=False)
            .rename("att").reset_index())


def combined_groups(inputs: dict[str, dict], alpha: float = 0.05) -> list[dict]:
    """Effects by group combined over provinces, each dimension with its combined covariance
    (for the test of equal effects): ``[{"dimension", "table", "covariance", "n_clusters"}]``."""
    by_dimension: dict[str, list] = {}
    for code, recorded in inputs.items():
        for group in recorded.get("groups", []):
            by_dimension.setdefault(group["dimension"], []).append((code, group))
    combined = []
    for dimension, parts in by_dimension.items():
        rows = pd.DataFrame([{**row, "province_code": code} for code, group in parts
                             for row in group["table"]])
        rows["estimate"] = pd.to_numeric(rows["estimate"], errors="coerce")
        rows["std_error"] = pd.to_numeric(rows["std_error"], errors="coerce")
        table = combine(rows, ["group"], alpha)
        persons = rows.groupby("group")["n_persons"].sum()
        table["n_persons"] = table["group"].map(persons).fillna(0).astype(int)
        labels = list(table.loc[table["estimate"].notna(), "group"])
        usable = rows[np.isfinite(rows["estimate"]) & np.isfinite(rows["std_error"])
                      & (rows["weight"] > 0)]
        weights = usable.pivot_table(index="province_code", columns="group", values="weight",
                                     aggfunc="sum").reindex(columns=labels).fillna(0)
        matrices = {code: _matrix(group["covariance"]) for code, group in parts
                    if group["covariance"] is not None}
        covariance = combine_covariance(matrices, weights, labels)
        clusters = int(usable.groupby("province_code")["n_clusters"].max().sum()) \
            if len(usable) else 0
        combined.append({"dimension": dimension, "table": table, "covariance": covariance,
                         "n_clusters": clusters})
    return combined


def group_equality_test(combined_dimension: dict, labels_in_order: tuple[str, ...]):
    """The Wald test of equal effects across a dimension's combined groups, on their combined
    covariance (F against F(K-1, G-1) with the provinces' clusters added up)."""
    from analysis.estimators import heterogeneity as het

    table = combined_dimension["table"]
    estimated = table[table["estimate"].notna()]
    labels = [label for label in labels_in_order if label in set(estimated["group"])]
    excluded = tuple(label for label in labels_in_order if label not in labels)
    clusters = combined_dimension["n_clusters"] or None
    if len(labels) < 2:
        return het.not_tested(labels, excluded, "fewer than two groups could be estimated")
    estimates = estimated.set_index("group").loc[labels, "estimate"].to_numpy(float)
    covariance = combined_dimension["covariance"].loc[labels, labels].to_numpy(float)
    try:
        wald, f_stat, p_value = het.wald_equal_effects(estimates, covariance, clusters)
    except np.linalg.LinAlgError:
        return het.not_tested(labels, excluded, "singular covariance of the differences",
                               clusters)
    return het.EqualityTest(f_stat, wald, len(labels) - 1, clusters - 1 if clusters else None,
                            p_value, clusters, tuple(labels), excluded,
                            het.test_method_words(len(labels), clusters, excluded))


def province_units(processed_dir: Path, spec: AnalysisSpec, overview: bool) -> dict[str, str]:
    """Province code -> the unit holding this analysis there, for every province with panel
    rows (a main page's unit id is the code; an analysis page's is ``<code>-<analysis>``)."""
    codes = sorted(path.stem for path in (Path(processed_dir) / "panel").glob("*.parquet"))
    return {code: code if overview else f"{code}-{spec.name}" for code in codes}


class NationalResults:
    """The national tables combined from the provinces' records (see the module docstring)."""

    def __init__(self, spec: AnalysisSpec, inputs: dict[str, dict], all_codes: list[str],
                 missing: dict[str, str] | None = None, alpha: float = 0.05):
        self.spec = spec
        self.inputs = inputs
        self.missing = missing or {}
        self.estimates = combined_estimates(inputs, alpha)
        self.by_province = province_headlines(inputs, spec, all_codes)
        self.events, self.event_covariance = combined_events(inputs, alpha)
        self.true_events = combined_true_events(inputs)
        self.groups = combined_groups(inputs, alpha)

    @property
    def headline(self) -> pd.Series:
        return self.estimates[self.estimates["method"] == self.spec.headline_estimator].iloc[0]


def read_national_results(results_dir: Path | None, processed_dir: Path | None,
                          spec: AnalysisSpec, overview: bool) -> NationalResults | None:
    """The provinces' records of this analysis, combined (from the project's reports/results and
    data/processed unless given); None when no province has person-year data. Provinces whose
    results are missing are listed in ``missing`` (raises :class:`MissingProvinceResults` when
    none is found)."""
    results_dir = Path(results_dir or config.RESULTS_DIR)
    units = province_units(Path(processed_dir or config.PROCESSED_DIR), spec, overview)
    if not units:
        return None
    inputs, missing = {}, {}
    for code, unit_id in units.items():
        try:
            inputs.update(read_province_inputs(results_dir, {code: unit_id}, spec))
        except MissingProvinceResults as error:
            missing[code] = str(error)
    if units and not inputs:
        raise MissingProvinceResults(
            f"no province has results for {spec.name!r} in {results_dir}: build the provinces "
            f"first (python -m analysis build --only {spec.name})")
    return NationalResults(spec, inputs, list(units), missing)
