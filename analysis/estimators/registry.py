"""Every estimator the pages, the NSW validation and the Monte Carlo run, in one table.

An :class:`Estimator` names the estimator, gives the reader's label, the estimand it targets
(a key of :data:`ESTIMANDS`), the sample it needs (the last year's cross-section or the whole
panel), whether it adjusts for covariates, and the callable. Callers iterate over
:data:`ESTIMATORS`; the estimand of a result row comes from here, never from its position in a
list. To add an estimator: write it in :mod:`analysis.estimators.effects` or
:mod:`analysis.estimators.staggered` (returning an ``EffectEstimate``), then add one entry here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable



class _ImportedOnUse:
    """A module imported on first use: the registry's names are needed to check a spec or a
    plan (a build with nothing to run), its estimators only to estimate, and importing them
    means importing statsmodels."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        import importlib

        return getattr(importlib.import_module(self._name), attribute)


effects = _ImportedOnUse("analysis.estimators.effects")
staggered = _ImportedOnUse("analysis.estimators.staggered")

WILD_REPS = 499


@dataclass(frozen=True)
class Estimand:
    key: str
    label: str
    description: str


ESTIMANDS: dict[str, Estimand] = {e.key: e for e in (
    Estimand("att_last_year", "ATT, last panel year",
             "Among laborers who had received the program by the last panel year, the average "
             "effect of having received it on the outcome in that year."),
    Estimand("att_post", "ATT, years after first receipt",
             "The average effect over every person-year from first receipt on, among laborers "
             "who first received the program after the first panel year (those treated in the "
             "first year have no year before treatment, so no panel method identifies their "
             "effect)."),
)}


@dataclass(frozen=True)
class EstimationInput:
    """What an estimator needs, by column name: the same shape for panels and cross-sections.

    ``data`` is a cross-section (one row per person) for cross-section estimators and a
    balanced person-year panel for panel estimators; ``first_treated`` (0 = never) and
    ``unit``/``time`` are used by the panel estimators only.
    """

    data: object
    outcome: str
    treatment: str
    covariates: tuple[str, ...] = ()
    cluster: str | None = None
    unit: str = "person_id"
    time: str = "year"
    first_treated: str = "first_treated"
    binary_outcome: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Estimator:
    name: str
    label: str
    estimand: str  # key of ESTIMANDS
    sample: str  # "cross_section" or "panel"
    uses_covariates: bool
    run: Callable[..., effects.EffectEstimate]  # run(inputs) or, with scores, run(inputs, True)
    binary_outcome_only: bool = False
    description: str = ""
    # Whether run(inputs, True) also returns cluster-level influence scores, which the test
    # of equal effects across groups needs (analysis.estimators.heterogeneity).
    has_scores: bool = True

    @property
    def estimand_label(self) -> str:
        return ESTIMANDS[self.estimand].label


def _wild(inputs: EstimationInput) -> effects.WildOptions:
    return effects.WildOptions(reps=WILD_REPS, seed=inputs.seed)


def _difference_in_means(i: EstimationInput, scores: bool = False):
    return effects.difference_in_means(i.data, i.outcome, i.treatment, i.cluster, wild=_wild(i),
                                       return_scores=scores)


def _regression_adjustment(i: EstimationInput, scores: bool = False):
    return effects.regression_adjustment(i.data, i.outcome, i.treatment, list(i.covariates),
                                         i.cluster, estimand="ATT", wild=_wild(i),
                                         return_scores=scores)


def _logit(i: EstimationInput, scores: bool = False):
    return effects.logit_average_marginal_effect(i.data, i.outcome, i.treatment,
                                                 list(i.covariates), i.cluster, estimand="ATT",
                                                 wild=_wild(i))


def _ipw(i: EstimationInput, scores: bool = False):
    return effects.ipw_att(i.data, i.outcome, i.treatment, list(i.covariates), i.cluster,
                           wild=_wild(i), return_scores=scores)


def _aipw(i: EstimationInput, scores: bool = False):
    return effects.aipw(i.data, i.outcome, i.treatment, list(i.covariates), i.cluster,
                        estimand="ATT", wild=_wild(i), return_scores=scores)


def _twfe(i: EstimationInput, scores: bool = False):
    return staggered.two_way_fixed_effects(i.data, i.outcome, i.treatment, i.unit, i.time,
                                           i.cluster, wild=_wild(i))


def _callaway_santanna(i: EstimationInput, scores: bool = False):
    # With covariates, conditional parallel trends and the doubly robust cells (R did's default).
    # A small cohort can separate perfectly in a cell's propensity model; the outcome-regression
    # cells still identify the same conditional ATT, so they are used and the record says so.
    def run(method):
        return staggered.callaway_santanna(i.data, i.outcome, i.unit, i.time, i.first_treated,
                                           list(i.covariates), cluster=i.cluster,
                                           aggregate="simple", est_method=method,
                                           wild=_wild(i), return_scores=scores)
    try:
        result, fallback = run("dr"), ""
    except effects.SingularDesignError as error:
        if str(error) != staggered.PROPENSITY_FAILURE:
            raise
        result = run("reg")
        fallback = ("doubly robust not estimable (a small cohort's propensity model separates "
                    "perfectly); outcome regression on the same covariates used instead")
    records = result[0] if scores else result
    first = dataclasses.replace(records[0], notes=effects.join_notes(records[0].notes, fallback))
    return (first, result[1]) if scores else first


ESTIMATORS: dict[str, Estimator] = {e.name: e for e in (
    Estimator("difference_in_means", "Difference in means (no adjustment)", "att_last_year",
              "cross_section", False, _difference_in_means,
              description="Treated minus untreated mean in the last year; biased when those "
                          "who receive the program differ from those who do not."),
    Estimator("regression_adjustment", "Regression adjustment (linear)", "att_last_year",
              "cross_section", True, _regression_adjustment,
              description="Separate linear outcome models by arm, averaged over the treated."),
    Estimator("logit_average_marginal_effect", "Logit average marginal effect",
              "att_last_year", "cross_section", True, _logit, binary_outcome_only=True,
              has_scores=False,
              description="A logit outcome model; the effect averaged over the treated. Only "
                          "for yes/no outcomes."),
    Estimator("ipw_att", "Inverse-probability weighting", "att_last_year", "cross_section",
              True, _ipw,
              description="Untreated laborers reweighted by their odds of receiving the "
                          "program, from a logit propensity model."),
    Estimator("aipw", "Doubly robust (AIPW)", "att_last_year", "cross_section", True, _aipw,
              description="Outcome model and propensity weights combined; consistent if "
                          "either is right."),
    Estimator("two_way_fixed_effects", "Two-way fixed effects", "att_post", "panel", False,
              _twfe, has_scores=False,
              description="Person and year fixed effects; can be biased when effects grow "
                          "with time since first receipt (staggered adoption)."),
    Estimator("callaway_santanna", "Callaway-Sant'Anna (staggered)", "att_post", "panel",
              True, _callaway_santanna,
              description="Each cohort of first receipt compared, before and after, with "
                          "never-treated laborers of similar characteristics (doubly robust: "
                          "propensity weights and an outcome model); robust to effects that "
                          "vary over time."),
)}


def estimators_for(sample: str | None = None, binary_outcome: bool = True) -> list[Estimator]:
    """Registry entries for a sample kind, without binary-only ones for other outcomes."""
    return [e for e in ESTIMATORS.values()
            if (sample is None or e.sample == sample)
            and (binary_outcome or not e.binary_outcome_only)]
