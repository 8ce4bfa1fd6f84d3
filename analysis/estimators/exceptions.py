"""Input errors of the effect estimators (:mod:`analysis.estimators.effects`, :mod:`analysis.estimators.inference`,
:mod:`analysis.estimators.staggered`), one class per thing the user has to fix.

All derive from :class:`EffectsError`, itself a :class:`ValueError`, so callers can catch
every estimator input error at once. :mod:`analysis.estimators.effects` re-exports them all.
"""


class EffectsError(ValueError):
    """Base class of every input error raised by the estimators."""


class MissingColumnError(EffectsError):
    """Raised when a named column is not in the DataFrame."""


class NonBinaryTreatmentError(EffectsError):
    """Raised when the treatment column holds values other than 0/1."""


class NonBinaryOutcomeError(EffectsError):
    """Raised when a binary-outcome estimator (logit) gets a non-0/1 outcome."""


class NoVariationError(EffectsError):
    """Raised when a group needed for estimation is empty (no treated, no controls,
    no never-treated units, or a regressor absorbed by the fixed effects)."""


class NanInClusterError(EffectsError):
    """Raised when the cluster column has missing values."""


class InvalidOptionError(EffectsError):
    """Raised for an unknown option value (estimand, se mode, weights, trim...)."""


class PanelStructureError(EffectsError):
    """Raised when panel data are unbalanced, duplicated, or a unit's cohort or
    cluster changes over time."""


class SingularDesignError(EffectsError):
    """Raised when the regressors are collinear (e.g. a fully dynamic event study
    without never-treated units)."""
