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
