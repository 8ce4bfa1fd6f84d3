"""Figures show the numbers of the table they are drawn from, each label on its own bar."""

import pandas as pd
import pytest

from analysis.reports import plots, tables


def _bars_and_labels(ax):
    bars = [patch for container in ax.containers for patch in container]
    labels = [text.get_text() for text in ax.texts]
    return bars, labels


def test_working_away_bars_carry_their_own_values(ledger, processed_dir):
    derived = pd.read_parquet(processed_dir / "derived_figures.parquet")
    trajectory = tables.working_away_trajectory(ledger, derived)
    figure = plots.working_away_plot(trajectory)
    ax = figure.axes[0]
    bars, _ = _bars_and_labels(ax)
    drawn = sorted((bar.get_x(), bar.get_height()) for bar in bars if bar.get_height() > 0)
    heights_in_axis_order = [height for _, height in drawn]
    expected = (trajectory["persons"] / 1e6).tolist()  # the table is in period order
    assert heights_in_axis_order == pytest.approx(expected)
    tick_labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert tick_labels == trajectory["point"].tolist()
    centers = {round(bar.get_x() + bar.get_width() / 2, 6): bar.get_height()
               for bar in bars if bar.get_height() > 0}
    assert len(ax.texts) == len(centers)
    for label in ax.texts:  # the label drawn above a bar states that bar's height
        assert label.get_text() == f"{centers[round(label.xy[0], 6)]:.2f}"
    assert trajectory["point"].tolist() == ["2016", "2019 (implied)", "end of October 2020",
                                            "2020"]
