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
# # Employment-based poverty alleviation in China: national report
#
# Officially published national figures on getting registered poor laborers into work, read
# from five press releases, and the effect of one employment program on one outcome in every
# province. Every number is a row of the figure ledger (with the sentence it was read from and a
# link to its source), is computed from ledger rows, or is estimated from the person-year panel.

# %% tags=["parameters"]
unit = "national"
analysis_name = ""  # names the outputs; empty: made from the choices below
program = "training"  # training, workshop_job, public_welfare_post, organized_labor_export, employment_services
outcome = "stable_employment"  # stable_employment, months_worked, wage_income, worked_outside_county, worked_outside_province
covariates = "age,age_squared,female,schooling_years,disability_or_weak_labor,household_size"
population = "all"  # all, women, men, ages_16_35, ages_36_64, weak_labor, ... (join with "+")
cluster = "county_id"  # county_id or household_id
years = ""  # e.g. "2017-2020"; empty: every panel year
headline_estimator = "callaway_santanna"  # any name in analysis.ESTIMATORS
overview = True  # the national main page: published figures, targets and who gains
pooled_check = False  # also estimate the headline on all provinces pooled, as a check (reads the whole panel)
processed_dir = None  # None: the project's data/processed
province_results_dir = None  # None: the project's reports/results, where the province units write
results_path = None  # set by `python -m analysis build`; None when run by hand

# %%
from analysis import AnalysisSpec
from analysis.estimators import national
from analysis.reports import effect_sections as sections
from analysis.reports import pages, tables
from analysis.reports.report import UnitReport

spec = AnalysisSpec.from_parameters(analysis_name, program, outcome, covariates, population,
                                    cluster, years, headline_estimator)
data = tables.load_processed(processed_dir)
report = UnitReport(unit, f"National: {spec.title}", {"overview": overview, **spec.to_dict()},
                    results_path=results_path)
simulated = sections.panel_is_simulated(processed_dir)
names = tables.province_names(data["provinces"])

# %%
# The national main page (overview = True) opens with the published national figures.
if overview:
    pages.national_figures(report, data)
else:
    pages.national_analysis_header(report, spec)

# %% [markdown]
# ## Program effects in every province
#
# Each province's own estimates, combined: the national estimate is their average weighted by
# each province's treated laborers, not a second estimation on all provinces pooled.

# %%
sections.design_section(report, spec, simulated=simulated)
# The provinces' units record every estimate with its weight; combining them costs no
# estimation (analysis.estimators.national). Build the provinces first when running by hand.
combined = national.read_national_results(province_results_dir, processed_dir, spec, overview)
sections.national_effects(report, combined, names, simulated=simulated)
if pooled_check:
    sections.pooled_check_section(report, combined, processed_dir)

# %%
# The national main page adds who gains (combined from the provinces' main pages), the national
# targets beside what the panel measures, the table of every analysis and every published
# national figure.
if overview:
    sections.national_who_gains(report, combined, simulated=simulated)
    columns = sections.indicator_columns()  # only what the targets read, not the whole panel
    panel = sections.load_panel(processed_dir, None, columns=columns)
    projection = sections.load_panel(processed_dir, None, "projection", columns=columns)
    pages.targets_from_microdata_section(report, data, panel, "national",
                                         simulated=simulated, projection=projection)
    sections.matrix_placeholder(report, "national")
    pages.all_figures_section(report, data, "national")
report.save()
