# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Methods
#
# How the effect of each employment program is estimated, which programs, outcomes and populations an analysis can choose, and how the simulated demonstration panel is generated. The technical details below are the documentation of the code that does it, so the two cannot drift apart.

# %% tags=["parameters"]
processed_dir = None  # None: the project's data/processed
results_path = None  # set by the build

# %%
from analysis.reports import pages
from analysis.reports.report import UnitReport

report = UnitReport("methods", "Methods", results_path=results_path)
report.set_summary("Estimators, standard errors and the demonstration-panel simulator")
pages.methods_section(report, processed_dir)
report.save()
