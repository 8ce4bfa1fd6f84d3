"""seaborn figure builders in one house style.

Each builder takes a tidy table and the chart's title from the caller, returns the matplotlib
``Figure`` and never reads files, so a notebook shows it and a test can inspect it. The caller
computes the title from the results so that it states the finding ("Training raised stable
employment by 8.1 percentage points in Yunnan"), and says "(simulated data)" in it when the
chart is drawn from simulated data: a shared screenshot keeps the label.

Charts are drawn for a phone as much as for a desk: at most :data:`WIDTH` inches wide, text of
at least :data:`MIN_FONT_SIZE` points, legends below the axes, titles wrapped. The page shows
them as inline SVG, so only sizes in points and inches matter (no pixel density).
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # headless: notebooks executed by papermill have no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = {"published": "#1f5f8b", "derived": "#9bbfd6", "simulated": "#c2410c",
           "estimate": "#1f5f8b", "pooled": "#111827", "truth": "#c2410c"}
SIMULATED_NOTE = "Simulated demonstration data, not official statistics"
# Inches: with the 0.1 in margin of a tight bounding box, a saved chart is at most 6.4 in wide,
# which a 390 px phone shows with its 10 pt text still legible.
WIDTH = 6.2
MAX_SAVED_WIDTH = 6.4
MIN_FONT_SIZE = 10  # points
TITLE_CHARACTERS = 54  # a wrapped title line at 12 pt bold across WIDTH
NOTE_CHARACTERS = 78  # a wrapped note line at 10 pt across WIDTH
YLABEL_CHARACTERS = 28  # a wrapped vertical axis label that fits beside short axes
AXIS_CHARACTERS = 42  # a wrapped axis label at 11 pt below axes narrowed by long tick labels

HOUSE_RC = {"font.size": 11, "axes.titlesize": 12, "axes.titleweight": "bold",
            "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
            "legend.fontsize": 10, "legend.title_fontsize": 10, "figure.titlesize": 12,
            "figure.titleweight": "bold", "savefig.bbox": "tight"}


def set_house_style() -> None:
    """seaborn's white grid with every font at least :data:`MIN_FONT_SIZE` points."""
    sns.set_theme(context="notebook", style="whitegrid", rc=HOUSE_RC)


def _figure(height: float, columns: int = 1, **options) -> tuple[plt.Figure, object]:
    set_house_style()
    return plt.subplots(1, columns, figsize=(WIDTH, height), layout="constrained", **options)


def _title(fig: plt.Figure, text: str) -> None:
    """The finding, wrapped to the figure's width, left-aligned above the axes."""
    fig.suptitle(textwrap.fill(text, TITLE_CHARACTERS), x=0.01, ha="left")


def _legend_below(fig: plt.Figure, ax, columns: int = 2) -> None:
    """The axes' legend below the chart, where it hides no data."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=columns, frameon=False)


def _source_note(fig: plt.Figure, text: str) -> None:
    """A note below everything else, legends included (the tight bounding box takes it in).

    The layout is run once and then frozen, so the note can be put under the lowest legend."""
    fig.canvas.draw()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    lowest = 0.0
    for legend in fig.legends:
        # Anchored to the figure's box, a legend would follow that box when the tight bounding
        # box grows to take the note in, and land on the note: pin it in figure coordinates.
        box = legend.get_window_extent(renderer).transformed(fig.transFigure.inverted())
        legend.set_bbox_to_anchor((box.x0, box.y0), transform=fig.transFigure)
        legend.set_loc("lower left")
        legend.borderaxespad = 0
        lowest = min(lowest, box.y0)
    fig.text(0.01, lowest - 0.02, textwrap.fill(text, NOTE_CHARACTERS), ha="left", va="top",
             fontsize=MIN_FONT_SIZE, color="#4b5563")


def working_away_plot(trajectory: pd.DataFrame, title: str) -> plt.Figure:
    """Bar chart of poor laborers working away from home, published vs derived points."""
    fig, ax = _figure(4.2)
    millions = trajectory.assign(millions=trajectory["persons"] / 1e6)
    sns.barplot(data=millions, x="point", y="millions", hue="basis", palette=PALETTE,
                dodge=False, ax=ax)
    for container in ax.containers:  # each bar labelled with its own height
        ax.bar_label(container, fmt="%.2f", fontsize=MIN_FONT_SIZE, padding=2)
    ax.set(xlabel="", ylabel="million persons")
    ax.set_xticks(ax.get_xticks(), [textwrap.fill(label.get_text(), 12)
                                    for label in ax.get_xticklabels()])
    _title(fig, title)
    _legend_below(fig, ax)
    _source_note(fig, "Sources: figure ledger rows "
                 + ", ".join(trajectory["figure_ids"].str.replace(";", ", ")) +
                 ". The 2019 value is derived from the end-October 2020 count and its ratio "
                 "to the previous year.")
    return fig


def channel_plot(channels: pd.DataFrame, title: str) -> plt.Figure:
    """Horizontal bars of people reached by each employment channel (persons)."""
    fig = _labelled_bars(channels.assign(millions=channels["value"] / 1e6), "millions",
                         title, height=0.7 * len(channels) + 1.6, wrap=26, fmt="%.2f m",
                         xlabel="million persons", color=PALETTE["published"])
    _source_note(fig, "Sources: figure ledger rows " + ", ".join(channels["figure_id"]))
    return fig


def timing_plot(timings: pd.DataFrame, title: str) -> plt.Figure:
    """Horizontal bars of wall times (``label``, ``seconds``), labelled in seconds."""
    return _labelled_bars(timings, "seconds", title, height=0.6 * len(timings) + 1.6, wrap=30,
                          fmt="%.1f s", xlabel="seconds (wall time)", color=PALETTE["estimate"])


def _labelled_bars(table: pd.DataFrame, value: str, title: str, *, height: float, wrap: int,
                   fmt: str, xlabel: str, color: str) -> plt.Figure:
    """Horizontal bars of ``value`` by ``label`` (wrapped at ``wrap`` characters), each bar
    labelled with its value."""
    fig, ax = _figure(height)
    shown = table.assign(label=table["label"].map(lambda text: textwrap.fill(text, wrap)))
    sns.barplot(data=shown, y="label", x=value, color=color, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt=fmt, fontsize=MIN_FONT_SIZE, padding=3)
    ax.set(xlabel=xlabel, ylabel="")
    ax.set_xlim(0, shown[value].max() * 1.25)  # room for the labels
    _title(fig, title)
    return fig


def estimates_plot(estimates: pd.DataFrame, title: str, xlabel: str,
                   truth_label: str = "planted effect (simulation)") -> plt.Figure:
    """Point estimates with 95% intervals, one row per estimator, planted truth when known.

    Rows without an estimate are left out (the table beside the chart says why)."""
    shown = estimates[estimates["estimate"].notna()].reset_index(drop=True)
    fig, ax = _figure(0.5 * len(shown) + 2.0)
    positions = list(range(len(shown)))[::-1]
    ax.errorbar(shown["estimate"], positions,
                xerr=[shown["estimate"] - shown["ci_low"], shown["ci_high"] - shown["estimate"]],
                fmt="o", color=PALETTE["estimate"], capsize=3, label="estimate, 95% CI")
    if "true_effect" in shown and shown["true_effect"].notna().any():
        ax.scatter(shown["true_effect"], positions, marker="x", s=60,
                   color=PALETTE["truth"], zorder=3, label=truth_label)
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    ax.set_yticks(positions, [textwrap.fill(str(label), 30) for label in shown["label"]])
    ax.set(xlabel=textwrap.fill(xlabel, AXIS_CHARACTERS))
    _title(fig, title)
    _legend_below(fig, ax)
    return fig


def event_study_plot(event_estimates: pd.DataFrame, truth: pd.DataFrame | None, ylabel: str,
                     program_noun: str, title: str,
                     band: pd.DataFrame | None = None) -> plt.Figure:
    """Effects by years since first receipt with 95% confidence bands, per estimator.

    ``band`` (columns ``event_time``, ``low``, ``high``): Callaway-Sant'Anna's simultaneous band,
    drawn as dashed lines around its pointwise one."""
    fig, ax = _figure(4.6)
    colors = {"event_study_twfe": PALETTE["estimate"], "callaway_santanna": "#0f766e"}
    labels = {"event_study_twfe": "Two-way fixed effects",
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
    ax.set(xlabel=textwrap.fill(f"years since first receipt of {program_noun} (0 = first "
                                "year; -1 is the reference)", AXIS_CHARACTERS),
           ylabel=textwrap.fill(ylabel, YLABEL_CHARACTERS))
    ax.xaxis.get_major_locator().set_params(integer=True)
    _title(fig, title)
    _legend_below(fig, ax)
    return fig


def balance_plot(balance: pd.DataFrame, arms: str, title: str,
                 labels: dict[str, str] | None = None) -> plt.Figure:
    """Standardized mean differences of covariates before and after ATT weighting
    (``labels``: the reader's name of each covariate)."""
    long = balance.melt(id_vars="covariate", value_vars=["smd", "smd_weighted"],
                        var_name="sample", value_name="difference")
    long["sample"] = long["sample"].map({"smd": "before weighting",
                                         "smd_weighted": "after weighting"})
    long["covariate"] = long["covariate"].map(lambda name: (labels or {}).get(name, name))
    fig, ax = _figure(0.5 * balance["covariate"].nunique() + 2.0)
    sns.scatterplot(data=long, x="difference", y="covariate", hue="sample", style="sample", s=70,
                    palette=[PALETTE["derived"], PALETTE["estimate"]], ax=ax)
    for limit in (-0.1, 0.1):
        ax.axvline(limit, color="#9ca3af", linestyle=":", linewidth=0.8)
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    ax.set(xlabel=textwrap.fill(f"standardized mean difference, {arms}", AXIS_CHARACTERS),
           ylabel="")
    _title(fig, title)
    _legend_below(fig, ax)
    return fig


def forest_plot(by_province: pd.DataFrame, pooled: pd.Series, names: dict[str, str],
                xlabel: str, title: str, unit: str, decimals: int = 1) -> plt.Figure:
    """Province estimates with 95% intervals and the estimate combined over them."""
    shown = by_province.sort_values("estimate").reset_index(drop=True)
    fig, ax = _figure(0.3 * len(shown) + 2.4)
    y = list(range(len(shown)))
    ax.errorbar(shown["estimate"], y, xerr=[shown["estimate"] - shown["ci_low"],
                                           shown["ci_high"] - shown["estimate"]],
                fmt="o", color=PALETTE["estimate"], capsize=2, markersize=4)
    if "true_effect" in shown:
        ax.scatter(shown["true_effect"], y, marker="x", color=PALETTE["truth"], zorder=3,
                   label="planted effect (simulation)")
    estimate = round(float(pooled["estimate"]), decimals) or 0.0
    ax.axvspan(pooled["ci_low"], pooled["ci_high"], color=PALETTE["pooled"], alpha=0.12,
               label=f"provinces combined: {estimate:+,.{decimals}f} {unit} (95% CI)")
    ax.axvline(pooled["estimate"], color=PALETTE["pooled"], linewidth=1)
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    ax.set_yticks(y, [names.get(code, code) for code in shown["province_code"]])
    ax.set(xlabel=textwrap.fill(xlabel, AXIS_CHARACTERS))
    _title(fig, title)
    _legend_below(fig, ax, columns=1)
    return fig


def monte_carlo_plot(table: pd.DataFrame, title: str) -> plt.Figure:
    """Bias and 95% CI coverage per estimator from the Monte Carlo table."""
    fig, (bias_ax, coverage_ax) = _figure(0.5 * len(table) + 2.4, columns=2, sharey=True)
    y = list(range(len(table)))[::-1]
    bias_ax.barh(y, table["bias"], color=PALETTE["estimate"])
    bias_ax.axvline(0, color="#6b7280", linewidth=0.8)
    bias_ax.set_yticks(y, [textwrap.fill(str(label), 30) for label in table["label"]])
    bias_ax.set(xlabel=textwrap.fill("bias (estimate minus planted effect)", 20), title="Bias")
    coverage_ax.errorbar(table["coverage"], y, xerr=1.96 * table["coverage_mcse"], fmt="o",
                         color=PALETTE["estimate"], capsize=3)
    coverage_ax.axvline(0.95, color=PALETTE["truth"], linestyle="--", label="nominal 95%")
    coverage_ax.set(xlabel=textwrap.fill("share of 95% intervals covering the planted effect",
                                         24), title="Coverage", xlim=(0, 1.02))
    _title(fig, title)
    _legend_below(fig, coverage_ax, columns=1)
    return fig


def target_plot(measured: pd.DataFrame, title: str, simulated: bool) -> plt.Figure:
    """One indicator per year with 95% intervals, the target line and published actuals.

    ``measured`` carries ``target_label`` (e.g. "target YN-06 (2025)") and ``extract``."""
    fig, ax = _figure(4.4)
    unit = measured["unit"].iloc[0]
    scale, axis_unit = {"persons": (1e6, "million persons"),
                        "fraction": (0.01, "percent")}.get(unit, (1.0, unit))
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
        label = row["target_label"] if "target_label" in row else \
            f"target {row['target_figure_id']} ({row['target_period']})"
        ax.axhline(row["target_value"] / scale, color=PALETTE["truth"], linestyle="--",
                   label=label)
    actual = measured.dropna(subset=["actual_value"]).drop_duplicates("actual_figure_id")
    if not actual.empty:
        ax.scatter(actual["year"], actual["actual_value"] / scale, marker="D", s=50,
                   color=PALETTE["pooled"], zorder=3, label="published actual")
    ax.set(xlabel="year", ylabel=axis_unit)
    ax.xaxis.get_major_locator().set_params(integer=True)
    _title(fig, title)
    _legend_below(fig, ax, columns=1)
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
    fig, ax = _figure(4.8)
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
    ax.set(xlabel="years since the first rise (0 = year of the rise)",
           ylabel=textwrap.fill(ylabel, YLABEL_CHARACTERS))
    ax.xaxis.get_major_locator().set_params(integer=True)
    _title(fig, title)
    ax.legend(loc="lower left")
    _source_note(fig, source)
    return fig
