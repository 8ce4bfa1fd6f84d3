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
# # One province, one analysis (parameterized notebook)
#
# One province, one analysis: the effect of one employment program on one outcome, estimated
# every way we trust, with the published figures and targets of the province on its main page.

# %% tags=["parameters"]
# Change these (or pass them with `papermill -p`) and re-run: every title, label, sentence and
# comparison follows them.
province_code = "53"  # GB/T 2260 code, e.g. "53" Yunnan, "50" Chongqing
analysis_name = ""  # names the outputs; empty: made from the choices below
program = "training"  # training, workshop_job, public_welfare_post, organized_labor_export, employment_services
outcome = "stable_employment"  # stable_employment, months_worked, wage_income, worked_outside_county, worked_outside_province
covariates = "age,age_squared,female,schooling_years,disability_or_weak_labor,household_size"
population = "all"  # all, women, men, ages_16_35, ages_36_64, weak_labor, ... (join with "+")
cluster = "county_id"  # county_id or household_id
years = ""  # e.g. "2017-2020"; empty: every panel year
headline_estimator = "callaway_santanna"  # any name in analysis.ESTIMATORS
overview = True  # the province's main page: published figures, targets and who gains
processed_dir = None  # None: the project's data/processed
results_path = None  # set by `python -m analysis build`; None when run by hand

# %%
from analysis import AnalysisSpec
from analysis.estimators import program_effects as pe
from analysis.reports import effect_sections as sections
from analysis.reports import pages, tables
from analysis.reports.report import UnitReport

spec = AnalysisSpec.from_parameters(analysis_name, program, outcome, covariates, population,
                                    cluster, years, headline_estimator)
data = tables.load_processed(processed_dir)
province_code = tables.province_code(data["provinces"], province_code)
province = tables.province_name(data["provinces"], province_code)
report = UnitReport(province_code, f"{province}: {spec.title}",
                    {"province_code": province_code, "overview": overview, **spec.to_dict()},
                    results_path=results_path)
panel = sections.load_panel(processed_dir, province_code)  # None: no microdata here
truth = sections.load_truth(processed_dir, province_code)  # planted effects, simulated data only
pages.province_header(report, data, province_code, spec, overview)

# %% [markdown]
# ## What is estimated

# %%
sections.design_section(report, spec, simulated=truth is not None)

# %% [markdown]
# ## Estimates
#
# Every estimator we trust, side by side, the headline estimate first; then effects by years
# since first receipt, and how alike those who received the program and those who did not were.

# %%
# pe.analyse checks the spec against the panel, runs every estimator of the registry
# (analysis.ESTIMATORS) on the last year's cross-section and on the whole panel, adds the planted
# effect when the data are simulated, and estimates effects by years since first receipt.
# One estimator on another outcome: pe.estimate_effects(panel, spec.replace(outcome="wage_income"))
results = pe.analyse(panel, spec, truth, seed=int(province_code))
sections.effects_sections(report, results, where=f"In {province}", simulated=truth is not None)

# %%
# The province's main page (overview = True) adds who gains, the targets beside what the panel
# measures, the table of every analysis of the province and its published figures.
groups = None
if overview:
    groups = sections.who_gains_section(report, spec, panel, where=province,
                                        seed=int(province_code), simulated=truth is not None)
    pages.province_targets_section(report, data, province_code)
    projection = sections.load_panel(processed_dir, province_code, "projection")
    pages.targets_from_microdata_section(report, data, panel, province_code,
                                         simulated=truth is not None, projection=projection)
    sections.matrix_placeholder(report, province_code)
    pages.all_figures_section(report, data, province_code)
# What the national page combines: every estimate with the number of treated it averages over.
sections.record_for_national(report, results, groups)
report.save()
