"""The parameter record of a run: every parameter, grouped by provenance, JSON-ready."""

from __future__ import annotations

from dataclasses import asdict

from analysis.data.simulator.calibration import Calibrated
from analysis.data.simulator.parameters import EFFECT_PROGRAMS, ModelParameters
from analysis.data.simulator.layout import ProvinceDraws
from analysis.data.simulator.targets import CalibrationTargets


def _by_year(values: dict) -> dict[str, float]:
    return {str(year): float(value) for year, value in values.items()}


def parameter_record(provinces: ProvinceDraws, calibrated: Calibrated, targets: CalibrationTargets,
                     params: ModelParameters, take_up: dict, run: dict) -> dict:
    """Every parameter of a run, grouped by provenance, as plain JSON-ready values."""
    unstable_mean, stable_mean = params.months_means()
    published = {key: value for key, value in asdict(targets).items()
                 if key != "working_away_by_year"}
    published["working_away_by_year"] = _by_year(targets.working_away_by_year)
    published["training_period"] = list(targets.training_period)
    return {
        "run": run,
        "published_targets": published,
        "calibrated": {
            "take_up_intercepts": {k: float(v) for k, v in calibrated.intercepts.items()},
            "mean_take_up_probability": {k: calibrated.mean(v)
                                         for k, v in calibrated.take_up.items()},
            "first_year_weights": {
                kind: dict(zip(map(str, calibrated.years), weights.tolist()))
                for kind, weights in calibrated.first_year_weights.items()},
            "mean_yearly_hazard_after_reference": {k: calibrated.mean(v)
                                                   for k, v in calibrated.hazard.items()},
            "counts_by_reference_year": take_up["counts_by_reference_year"],
            "alignment_rounds": take_up["alignment_rounds"],
            "outside_county_year_effect": _by_year(calibrated.outside_year_effect),
            "outside_county_share_target": _by_year(calibrated.outside_share),
            "employment_services_intercept": float(calibrated.services_intercept),
            "mean_employment_services_probability":
                calibrated.mean(calibrated.services_probability),
            "expected_households_reached_without_services":
                float(calibrated.reached_without_services),
        },
        "derived_from_index_illustrative": {
            "stable_employment_year_effect": _by_year(calibrated.stable_year_effect)},
        "illustrative": asdict(params),
        "model_constants": {"mean_months_unstable": unstable_mean,
                            "mean_months_stable": stable_mean,
                            "months_per_stable_employment_point": stable_mean - unstable_mean},
        "provinces": {code: {"counties": int(provinces.counties[k]),
                             "effect_multiplier": {program: float(provinces.multiplier[program][k])
                                                   for program in EFFECT_PROGRAMS},
                             "outside_province_share_of_outside_county":
                                 float(provinces.crossing_share[k])}
                      for k, code in enumerate(provinces.codes)},
    }
