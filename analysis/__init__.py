"""Reproducible policy analysis of China's employment-based poverty alleviation.

The package is grouped by stage, data flowing one way:

* ``analysis.data``: the figure ledger, validated ingest, analysts' microdata and the simulated
  demonstration panel;
* ``analysis.estimators``: the analysis specification, the estimator registry and the
  estimators themselves;
* ``analysis.reports``: page sections, plots, results records and the HTML site;
* ``analysis.fleet``: the analysis plan, cache keys, warm kernels and the parallel build.

The names below are the public API; ``python -m analysis --help`` lists the commands.
"""

__version__ = "0.2.0"

__all__ = [
    "AnalysisSpec", "SpecError", "PROGRAMS", "OUTCOMES", "POPULATIONS", "COVARIATES",
    "ESTIMATORS", "ESTIMANDS", "Estimator", "estimate_effects", "analyse", "ingest", "build",
    "read_plan",
]


def __getattr__(name: str):
    # Imported on first use: `import analysis` stays cheap for the command line and the kernel.
    if name in ("AnalysisSpec", "SpecError", "PROGRAMS", "OUTCOMES", "POPULATIONS",
                "COVARIATES"):
        from analysis.estimators import spec
        return getattr(spec, name)
    if name in ("ESTIMATORS", "ESTIMANDS", "Estimator"):
        from analysis.estimators import registry
        return getattr(registry, name)
    if name in ("estimate_effects", "analyse"):
        from analysis.estimators import program_effects
        return getattr(program_effects, name)
    if name == "ingest":
        from analysis.data.ingest import ingest
        return ingest
    if name == "build":
        from analysis.fleet.build import build
        return build
    if name == "read_plan":
        from analysis.fleet.plan import read_plan
        return read_plan
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
