"""Sections of the national and province pages.

A notebook cell calls one section; the section displays its narrative, table and figure through
the unit's :class:`~analysis.report.UnitReport`, so every number shown is also recorded.
"""

from __future__ import annotations

import pandas as pd

from analysis import plots, tables
from analysis.ledger import find_figure
from analysis.report import UnitReport

CHANNEL_LABELS = {
    "public_welfare_post_placements": "Placed in public-welfare posts",
    "organized_transport_poor_laborers": "Transported by organized 'point-to-point' services",
    "workshop_jobs": "Employed through poverty-alleviation workshops",
}


def _figure_number(report: UnitReport, name: str, row: pd.Series) -> str:
    return report.number(name, row["value"], row["unit"], row["qualifier"],
                         sources=(row["figure_id"],))


def national_headline(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    away = find_figure(figures, "poor_laborers_working_away", "2020")
    reached = find_figure(figures, "registered_poor_households_employment_assistance_share", "2020")
    away_text = _figure_number(report, "headline_working_away_2020", away)
    reached_text = _figure_number(report, "headline_assistance_share_2020", reached)
    report.say(
        f"**{away_text}** poor laborers were working away from home in {away['period']} "
        f"([{away['figure_id']}](sources.html#{away['figure_id']})), and **{reached_text}** of "
        f"registered poor households had received employment-assistance policies "
        f"([{reached['figure_id']}](sources.html#{reached['figure_id']}))."
    )
    report.set_summary(f"{away_text} poor laborers working away from home in {away['period']}; "
                       f"{reached_text} of registered poor households reached by employment "
                       "assistance")


def working_away_section(report: UnitReport, data: dict) -> None:
    trajectory = tables.working_away_trajectory(data["figures"], data["derived_figures"])
    derived = data["derived_figures"].set_index("derived_id")
    growth = derived.loc["working_away_annual_growth_2016_2020"]
    increase = derived.loc["working_away_increase_2016_2020"]
    growth_text = report.number("working_away_annual_growth_2016_2020", growth["value"],
                                "percent", sources=tuple(growth["inputs"].split(";")))
    increase_text = report.number("working_away_increase_2016_2020", increase["value"],
                                  "persons", sources=tuple(increase["inputs"].split(";")))
    report.say(f"Between 2016 and 2020 the count rose by {increase_text}, an average annual "
               f"growth of {growth_text} (computed from the two published counts).")
    report.figure(plots.working_away_plot(trajectory))
    shown = trajectory.assign(persons=trajectory["persons"].map(
        lambda value: f"{value / 1e6:.2f} million"))
    report.table("working_away_trajectory", trajectory, "Published and derived counts",
                 display_table=shown)


def indicator_section(report: UnitReport, data: dict, name: str,
                      indicators: tuple[str, ...], caption: str) -> None:
    rows = tables.select_indicators(data["figures"], indicators)
    report.table(name, tables.figures_for_display(rows), caption, html_columns=("source",))


def channels_section(report: UnitReport, data: dict) -> None:
    figures = data["figures"]
    channels = figures[figures["indicator"].isin(list(CHANNEL_LABELS))
                       & (figures["scope"] == "national") & (figures["period"] == "2020")
                       & (figures["unit"] == "persons")]
    channels = channels.assign(label=channels["indicator"].map(CHANNEL_LABELS))
    report.figure(plots.channel_plot(channels.sort_values("value", ascending=False)))
    indicator_section(report, data, "channels", tables.CHANNEL_INDICATORS,
                      "Workshops, public-welfare posts and organized labor transport")


def derived_section(report: UnitReport, data: dict) -> None:
    report.table("derived_figures", tables.derived_for_display(data["derived_figures"]),
                 "Figures computed from ledger rows (inputs listed by figure id)")
    report.table("derived_checks", data["derived_checks"],
                 "Derived figures checked against separately published statements")


def consistency_section(report: UnitReport, data: dict) -> None:
    findings = data["consistency"]
    differing = findings[findings["status"] != "consistent"]
    count = report.number("figure_pairs_compared", len(findings), "count")
    flagged = report.number("figure_pairs_not_consistent", len(differing), "count")
    report.say(f"{count} pairs of figures for the same indicator and period (or year) were "
               f"compared; {flagged} do not agree and are listed first. Neither value is "
               "preferred: both stay in the ledger.")
    ordered = pd.concat([differing, findings[findings["status"] == "consistent"]])
    report.table("consistency", ordered, "Figures for the same indicator compared")


def all_figures_section(report: UnitReport, data: dict, scope: str) -> None:
    rows = data["figures"][data["figures"]["scope"] == scope]
    report.table(f"figures_{scope}", tables.figures_for_display(rows),
                 "Every published figure of this scope, with the sentence it was read from",
                 html_columns=("source",))


def province_header(report: UnitReport, data: dict, code: str) -> pd.DataFrame:
    """Introduce a province page; return the province's own figures."""
    provinces = data["provinces"].set_index("province_code")
    province = provinces.loc[code]
    own = data["figures"][data["figures"]["scope"] == code]
    count = report.number("published_figures", len(own), "count")
    targets = report.number("published_targets", int((own["kind"] == "target").sum()), "count")
    task = ("one of the 22 provinces with poverty-alleviation tasks" if province["poverty_task"]
            else "not among the 22 provinces with poverty-alleviation tasks")
    report.say(f"**{province['name_en']} ({province['name_zh']})**, {province['region']} region, "
               f"{task}.")
    if own.empty:
        report.say(f"No figures specific to {province['name_en']} have been published in the "
                   "source documents yet; the national page shows the national figures.")
        report.set_summary("No published figures yet")
    else:
        report.say(f"The source documents publish {count} figures for {province['name_en']}, "
                   f"{targets} of them targets.")
        report.set_summary(f"{count} published figures, {targets} targets")
    return own


def province_targets_section(report: UnitReport, data: dict, code: str) -> None:
    comparison = tables.targets_and_actuals(data["figures"], code)
    if comparison.empty:
        report.say("No targets have been published for this province.")
        return
    report.table("targets_and_actuals", comparison,
                 "Each published target beside the latest published actual of the same indicator")
