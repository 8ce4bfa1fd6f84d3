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
# # Validation
#
# Three checks that the estimators are right. On **real data**: the NSW job-training experiment (LaLonde 1986; Dehejia and Wahba 1999), whose randomized comparison gives the true effect, against which each observational estimator is run on the trainees with a non-experimental comparison group; and the example data of R's `did` package (Callaway and Sant'Anna 2021), county teen employment and state minimum-wage rises, where every number R prints for the staggered Callaway-Sant'Anna estimator is set beside ours. On **simulated data**: repeated draws of the demonstration panel, whose planted effects are known, give the bias and confidence-interval coverage of each estimator, for several programs and outcomes, each against its own planted effect.

# %% tags=["parameters"]
processed_dir = None  # unused here; every unit receives it
results_path = None  # set by the build
monte_carlo_dir = None  # None: benchmarks/results

# %%
from analysis.reports import pages
from analysis.reports.report import UnitReport

report = UnitReport("validation", "Validation", results_path=results_path)
report.set_summary("NSW experimental benchmark, R did's minimum-wage example and Monte Carlo bias "
                   "and coverage of every estimator")

# %% [markdown]
# ## The NSW job-training experiment

# %%
pages.nsw_section(report)

# %% [markdown]
# ## A staggered benchmark: minimum wages and teen employment (R did's mpdta)

# %%
pages.mpdta_section(report)

# %% [markdown]
# ## Monte Carlo on the demonstration panel

# %%
pages.monte_carlo_section(report, monte_carlo_dir)
report.save()
