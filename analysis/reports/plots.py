"""seaborn figure builders in one house style.

Each builder takes a tidy table, returns the matplotlib ``Figure`` and never reads files, so a
notebook shows it and a test can inspect it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: notebooks executed by papermill have no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = {"published": "#1f5f8b", "derived": "#9bbfd6", "simulated": "#c2410c",
           "estimate": "#1f5f8b", "pooled": "#111827", "truth": "#c2410c"}
SIMULATED_NOTE = "Simulated demonstration data, not official statistics"


def set_house_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight",
                         "axes.titleweight": "bold", "axes.titlesize": 12})


def _source_note(fig: plt.Figure, text: str) -> None:
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=8, color="#4b5563", wrap=True)


def working_away_plot(trajectory: pd.DataFrame) -> plt.Figure:
    """Bar chart of poor laborers working away from home, published vs derived points."""
    set_house_style()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    millions = trajectory.assign(millions=trajectory["persons"] / 1e6)
    sns.barplot(data=millions, x="point", y="millions", hue="basis", palette=PALETTE,
                dodge=False, ax=ax)
    for container in ax.containers:  # each bar labelled with its own height
        ax.bar_label(container, fmt="%.2f", fontsize=9, padding=2)
    ax.set(xlabel="", ylabel="million persons",
           title="Poor laborers working away from home, China")
    ax.legend(title="", loc="upper left")
    _source_note(fig, "Sources: figure ledger rows " + ", ".join(trajectory["figure_ids"]) +
                 ". The 2019 value is derived from the end-October 2020 count and its ratio "
                 "to the previous year.")
    return fig


def channel_plot(channels: pd.DataFrame) -> plt.Figure:
    """Horizontal bars of people reached by each employment channel (persons)."""
    set_house_style()
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(channels) + 1.2))
    shown = channels.assign(millions=channels["value"] / 1e6)
    sns.barplot(data=shown, y="label", x="millions", color=PALETTE["published"], ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f m", fontsize=9, padding=3)
    ax.set(xlabel="million persons", ylabel="", title="Employment channels for poor laborers")
    _source_note(fig, "Sources: figure ledger rows " + ", ".join(channels["figure_id"]))
    return fig


def estimates_plot(estimates: pd.DataFrame, title: str, xlabel: str,
                   truth_label: str = "planted effect (simulation)") -> plt.Figure:
    """Point estimates with 95% intervals, one row per estimator, planted truth when known."""
    set_house_style()
    shown = estimates.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(shown) + 1.4))
    positions = range(len(shown))[::-1]
    ax.errorbar(shown["estimate"], list(positions),
                xerr=[shown["estimate"] - shown["ci_low"], shown["ci_high"] - shown["estimate"]],
                fmt="o", color=PALETTE["estimate"], capsize=3, label="estimate, 95% CI")
    if "true_effect" in shown:
        ax.scatter(shown["true_effect"], list(positions), marker="x", s=60,
                   color=PALETTE["truth"], zorder=3, label=truth_label)
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    ax.set_yticks(list(positions), shown["label"])
    ax.set(xlabel=xlabel, title=title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=8, frameon=False)
    return fig


def event_study_plot(event_estimates: pd.DataFrame, truth: pd.DataFrame | None, ylabel: str,
                     program_noun: str, band: pd.DataFrame | None = None) -> plt.Figure:
    """Effects by years since first receipt with 95% confidence bands, per estimator.

    ``band`` (columns ``event_time``, ``low``, ``high``): Callaway-Sant'Anna's simultaneous band,
    drawn as dashed lines around its pointwise one."""
    set_house_style()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    colors = {"event_study_twfe": PALETTE["estimate"], "callaway_santanna": "#0f766e"}
    labels = {"event_study_twfe": "TWFE event study",
              "callaway_santanna": "Callaway-Sant'Anna"}
    offsets = {"event_study_twfe": -0.08, "callaway_santanna": 0.08}
    for method, part in event_estimates.groupby("method", sort=False):
        part = part.sort_values("event_time")
        x = part["event_time"] + offsets.get(method, 0)
        ax.plot(x, part["estimate"], marker="o", color=colors.get(method), label=labels.get(
            method, method))
        ax.fill_between(x, part["ci_low"].fillna(part["estimate"]),
                        part["ci_high"].fillna(part["estimate"]), alpha=0.18,
                        color=colors.get(method))
    if band is not None and not band.empty:
        band = band.sort_values("event_time")
        x = band["event_time"] + offsets["callaway_santanna"]
        for edge, label in (("low", "Callaway-Sant'Anna, simultaneous 95% band"), ("high", None)):
            ax.plot(x, band[edge], linestyle="--", linewidth=0.9,
                    color=colors["callaway_santanna"], label=label)
    if truth is not None:
        ax.plot(truth["event_time"], truth["att"], linestyle="--", marker="x",
                color=PALETTE["truth"], label="planted effect (simulation)")
    ax.axhline(0, color="#6b7280", linewidth=0.8)
    ax.axvline(-0.5, color="#9ca3af", linewidth=0.8, linestyle=":")
    ax.set(xlabel=f"years since first receipt of {program_noun} (0 = first year; -1 is the "
                  "reference)", ylabel=ylabel, title="Effects by years since first receipt")
    ax.legend(fontsize=8)
    return fig


def balance_plot(balance: pd.DataFrame, arms: str) -> plt.Figure:
    """Standardized mean differences of covariates before and after ATT weighting."""
    set_house_style()
    long = balance.melt(id_vars="covariate", value_vars=["smd", "smd_weighted"],
                        var_name="sample", value_name="difference")
    long["sample"] = long["sample"].map({"smd": "before weighting",
                                         "smd_weighted": "after weighting"})
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * balance["covariate"].nunique() + 1.4))
    sns.scatterplot(data=long, x="difference", y="covariate", hue="sample", style="sample", s=70,
                    palette=[PALETTE["derived"], PALETTE["estimate"]], ax=ax)
    for limit in (-0.1, 0.1):
        ax.axvline(limit, color="#9ca3af", linestyle=":", linewidth=0.8)
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    ax.set(xlabel=f"standardized mean difference, {arms}", ylabel="",
           title="Covariate balance before and after inverse-probability weighting")
    ax.legend(fontsize=8, title="")
    return fig


def forest_plot(by_province: pd.DataFrame, pooled: pd.Series, names: dict[str, str],
                xlabel: str, title: str, unit: str) -> plt.Figure:
    """Province estimates with 95% intervals and the pooled estimate."""
    set_house_style()
    shown = by_province.sort_values("estimate").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(shown) + 1.8))
    y = list(range(len(shown)))
    ax.errorbar(shown["estimate"], y, xerr=[shown["estimate"] - shown["ci_low"],
                                           shown["ci_high"] - shown["estimate"]],
                fmt="o", color=PALETTE["estimate"], capsize=2, markersize=4)
    if "true_effect" in shown:
        ax.scatter(shown["true_effect"], y, marker="x", color=PALETTE["truth"], zorder=3,
                   label="planted effect (simulation)")
    ax.axvspan(pooled["ci_low"], pooled["ci_high"], color=PALETTE["pooled"], alpha=0.12,
               label=f"all provinces pooled: {pooled['estimate']:.1f} {unit} (95% CI)")
    ax.axvline(pooled["estimate"], color=PALETTE["pooled"], linewidth=1)
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    ax.set_yticks(y, [names.get(code, code) for code in shown["province_code"]])
    ax.set(xlabel=xlabel, title=title)
    # Below the axes: inside, it hid the lowest province's interval.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.6 / fig.get_figheight()
                                                                - 0.02), ncol=2, frameon=False)
    return fig


def monte_carlo_plot(table: pd.DataFrame, title: str) -> plt.Figure:
    """Bias and 95% CI coverage per estimator from the Monte Carlo table."""
    set_house_style()
    fig, (bias_ax, coverage_ax) = plt.subplots(1, 2, figsize=(9, 0.45 * len(table) + 1.6),
                                               sharey=True)
    y = list(range(len(table)))[::-1]
    bias_ax.barh(y, table["bias"], color=PALETTE["estimate"])
    bias_ax.axvline(0, color="#6b7280", linewidth=0.8)
    bias_ax.set_yticks(y, table["label"])
    bias_ax.set(xlabel="bias (estimate - planted effect)", title="Bias")
    coverage_ax.errorbar(table["coverage"], y, xerr=1.96 * table["coverage_mcse"], fmt="o",
                         color=PALETTE["estimate"], capsize=3)
    coverage_ax.axvline(0.95, color=PALETTE["truth"], linestyle="--", label="nominal 95%")
    coverage_ax.set(xlabel="share of 95% CIs covering the planted effect", title="Coverage",
                    xlim=(0, 1.02))
    coverage_ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Monte Carlo: {title} (simulated data)", fontweight="bold")
    return fig


def target_plot(measured: pd.DataFrame, title: str, simulated: bool) -> plt.Figure:
    """One indicator per year with 95% intervals, the target line and published actuals."""
    set_house_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    unit = measured["unit"].iloc[0]
    scale, axis_unit = (1e6, "million persons") if unit == "persons" else (1.0, unit)
    colors = [PALETTE["estimate"], "#0f766e", "#7c3aed"]
    for color, (extract, part) in zip(colors, measured.groupby("extract", sort=False)):
        part = part.sort_values("year")
        ax.errorbar(part["year"], part["value"] / scale,
                    yerr=[(part["value"] - part["ci_low"]) / scale,
                          (part["ci_high"] - part["value"]) / scale],
                    fmt="o-", color=color, capsize=3, label=f"{extract}, 95% CI")
    target = measured.dropna(subset=["target_value"]).iloc[:1]
    if not target.empty:
        row = target.iloc[0]
        ax.axhline(row["target_value"] / scale, color=PALETTE["truth"], linestyle="--",
                   label=f"target {row['target_figure_id']} ({row['target_period']})")
    actual = measured.dropna(subset=["actual_value"]).drop_duplicates("actual_figure_id")
    if not actual.empty:
        ax.scatter(actual["year"], actual["actual_value"] / scale, marker="D", s=50,
                   color=PALETTE["pooled"], zorder=3, label="published actual")
    ax.set(xlabel="year", ylabel=axis_unit,
           title=title + (" (simulated data)" if simulated else ""))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
              frameon=False)
    if simulated:
        _source_note(fig, SIMULATED_NOTE)
    return fig


def reference_event_plot(ours: pd.DataFrame, reference: pd.DataFrame, title: str,
                         ylabel: str, source: str) -> plt.Figure:
    """Our event study with 95% intervals beside another package's printed points.

    ``ours`` has ``event_time``, ``estimate``, ``ci_low``, ``ci_high``; ``reference`` has
    ``printing`` (one series per value), ``event_time``, ``estimate`` and ``std_error``, drawn
    as estimate +- 1.96 standard errors.
    """
    set_house_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    printings = list(dict.fromkeys(reference["printing"]))
    width = 0.5 / (len(printings) + 1)
    ours = ours.sort_values("event_time")
    ax.errorbar(ours["event_time"] - width * len(printings) / 2, ours["estimate"],
                yerr=[ours["estimate"] - ours["ci_low"], ours["ci_high"] - ours["estimate"]],
                fmt="o", color=PALETTE["estimate"], capsize=3, label="this package, 95% CI")
    markers = ["s", "D", "^", "v"]
    for position, printing in enumerate(printings):
        part = reference[reference["printing"] == printing].sort_values("event_time")
        offset = width * (position + 1 - len(printings) / 2)
        ax.errorbar(part["event_time"] + offset, part["estimate"],
                    yerr=1.96 * part["std_error"], fmt=markers[position % len(markers)],
                    color=PALETTE["truth"], alpha=0.55 + 0.45 / (position + 1), capsize=2,
                    markersize=4, label=printing)
    ax.axhline(0, color="#6b7280", linewidth=0.8)
    ax.axvline(-0.5, color="#9ca3af", linewidth=0.8, linestyle=":")
    ax.set(xlabel="years since the first rise (0 = year of the rise)", ylabel=ylabel,
           title=title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="lower left")
    _source_note(fig, source)
    return fig
