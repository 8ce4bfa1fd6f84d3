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


def test_reference_event_plot_draws_ours_and_each_printing_at_its_values():
    ours = pd.DataFrame({"event_time": [-1, 0, 1], "estimate": [0.0, -0.02, -0.05],
                         "ci_low": [-0.03, -0.04, -0.08], "ci_high": [0.03, 0.0, -0.02]})
    reference = pd.DataFrame({"printing": ["README"] * 3 + ["vignette"] * 3,
                              "event_time": [-1, 0, 1] * 2,
                              "estimate": [0.0, -0.02, -0.05] * 2,
                              "std_error": [0.01, 0.01, 0.02, 0.012, 0.011, 0.019]})
    figure = plots.reference_event_plot(ours, reference, "title", "log points", "source")
    ax = figure.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["this package, 95% CI", "README", "vignette"]
    series = [line for line in ax.lines if line.get_marker() in ("o", "s", "D")]
    assert [list(line.get_ydata()) for line in series] == [[0.0, -0.02, -0.05]] * 3
    offsets = [line.get_xdata()[0] + 1 for line in series]
    assert offsets == sorted(offsets) and len(set(offsets)) == 3 and max(map(abs, offsets)) < 0.5
