"""Figures show the numbers of the table they are drawn from, each label on its own bar, with
the caller's title, and fit a phone: at most 6.4 in wide, no text under 10 pt."""

import io
import re

import matplotlib.pyplot as plt
import numpy as np
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
    figure = plots.working_away_plot(trajectory, "Poor laborers working away from home rose")
    ax = figure.axes[0]
    bars, _ = _bars_and_labels(ax)
    drawn = sorted((bar.get_x(), bar.get_height()) for bar in bars if bar.get_height() > 0)
    heights_in_axis_order = [height for _, height in drawn]
    expected = (trajectory["persons"] / 1e6).tolist()  # the table is in period order
    assert heights_in_axis_order == pytest.approx(expected)
    tick_labels = [tick.get_text().replace("\n", " ") for tick in ax.get_xticklabels()]
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


# ----------------------------------------------------------------------------------------------
# Every builder: the caller's title, readable on a phone

TITLE = ("No clear effect of public-welfare posts on work outside the home province across all "
         "provinces pooled (simulated data)")
ESTIMATORS = ["Difference in means (no adjustment)", "Regression adjustment (linear)",
              "Logit average marginal effect", "Inverse-probability weighting",
              "Doubly robust (AIPW)", "Two-way fixed effects", "Callaway-Sant'Anna (staggered)"]


def _estimates():
    return pd.DataFrame({"label": ESTIMATORS, "estimate": np.linspace(-5, 10, 7),
                         "ci_low": np.linspace(-15, 2, 7), "ci_high": np.linspace(5, 20, 7),
                         "true_effect": [9.0] * 7})


def _events():
    rows = [{"method": method, "label": method, "event_time": e, "estimate": float(e),
             "ci_low": e - 5.0, "ci_high": e + 5.0}
            for method in ("event_study_twfe", "callaway_santanna") for e in range(-4, 4)]
    return pd.DataFrame(rows)


BUILDERS = {
    "working_away": lambda: plots.working_away_plot(pd.DataFrame({
        "point": ["2016", "2019 (implied)", "end of October 2020", "2020"],
        "period": ["2016", "2019", "2020-10", "2020"],
        "persons": [15.27e6, 27.3e6, 29.73e6, 32.43e6],
        "basis": ["published", "derived", "published", "published"],
        "figure_ids": ["MOHRSS-01", "SCIO-01;SCIO-02", "SCIO-01", "MOHRSS-02"]}), TITLE),
    "channels": lambda: plots.channel_plot(pd.DataFrame({
        "label": ["Placed in public-welfare posts",
                  "Transported by organized 'point-to-point' services",
                  "Employed through poverty-alleviation workshops"],
        "value": [5.02e6, 1.6e6, 0.44e6], "figure_id": ["A-1", "A-2", "A-3"]}), TITLE),
    "estimates": lambda: plots.estimates_plot(
        _estimates(), TITLE, "effect on work outside the home province (percentage points)"),
    "event_study": lambda: plots.event_study_plot(
        _events(), pd.DataFrame({"event_time": range(4), "att": [5.0, 6, 7, 8]}),
        "effect on stable employment (percentage points)",
        "organized 'point-to-point' labor export", TITLE,
        pd.DataFrame({"event_time": range(-4, 4), "low": np.arange(-4, 4) - 8.0,
                      "high": np.arange(-4, 4) + 8.0})),
    "balance": lambda: plots.balance_plot(pd.DataFrame({
        "covariate": ["age", "age_squared", "female", "schooling_years",
                      "disability_or_weak_labor", "household_size"],
        "smd": [0.3, -0.2, 0.1, 0.8, -0.1, 0.05], "smd_weighted": [0.01] * 6}),
        "received organized 'point-to-point' labor export vs not", TITLE,
        {"disability_or_weak_labor": "disability or weak labor capacity"}),
    "forest": lambda: plots.forest_plot(
        pd.DataFrame({"province_code": [str(c) for c in range(11, 33)],
                      "estimate": np.linspace(-5, 20, 22), "ci_low": np.linspace(-15, 10, 22),
                      "ci_high": np.linspace(5, 30, 22), "true_effect": [9.0] * 22}),
        pd.Series({"estimate": 8.7, "ci_low": 6.6, "ci_high": 10.9}),
        {str(c): "Inner Mongolia" for c in range(11, 33)},
        "effect on stable employment (percentage points)", TITLE, "percentage points"),
    "monte_carlo": lambda: plots.monte_carlo_plot(pd.DataFrame({
        "label": [f"{label} (all provinces pooled)" for label in ESTIMATORS] * 2,
        "bias": np.linspace(-0.05, 0.05, 14), "coverage": np.linspace(0.1, 0.96, 14),
        "coverage_mcse": [0.01] * 14}), TITLE),
    "target": lambda: plots.target_plot(pd.DataFrame({
        "extract": ["simulated demonstration panel"] * 5
        + ["simulated extract for 2021-2025 (illustrative)"] * 5,
        "year": list(range(2016, 2026)), "value": np.linspace(30, 60, 10),
        "ci_low": np.linspace(25, 55, 10), "ci_high": np.linspace(35, 65, 10),
        "unit": ["percent"] * 10, "target_value": [60.0] * 10,
        "target_figure_id": ["YN-10"] * 10, "target_period": ["2025"] * 10,
        "target_label": ["target YN-10 (2025)"] * 10, "actual_value": [np.nan] * 10,
        "actual_figure_id": [None] * 10}), TITLE, simulated=True),
    "reference": lambda: plots.reference_event_plot(
        pd.DataFrame({"event_time": [-1, 0, 1], "estimate": [0.0, -0.02, -0.05],
                      "ci_low": [-0.03, -0.04, -0.08], "ci_high": [0.03, 0.0, -0.02]}),
        pd.DataFrame({"printing": ["R did, README, short example"] * 3
                      + ["R did, vignette Getting Started, minimum-wage example"] * 3,
                      "event_time": [-1, 0, 1] * 2, "estimate": [0.0, -0.02, -0.05] * 2,
                      "std_error": [0.01] * 6}),
        TITLE, "effect on log teen employment",
        "Data: mpdta of R did (GPL-3), 500 U.S. counties, 2003-2007. R's bars: its printed "
        "estimate plus or minus 1.96 printed bootstrap standard errors (R itself draws "
        "simultaneous bands). Ours: analytic standard errors, 95% intervals."),
}


def _saved_inches(figure) -> tuple[float, float]:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    width = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg).group(1))
    height = float(re.search(r'<svg[^>]*\sheight="([\d.]+)pt"', svg).group(1))
    return width / 72, height / 72


@pytest.mark.parametrize("name", BUILDERS)
def test_every_chart_carries_the_callers_title_and_fits_a_phone(name):
    figure = BUILDERS[name]()
    try:
        titles = [text.get_text() for text in figure.findobj(plt.Text)
                  if text.get_text().replace("\n", " ") == TITLE]
        assert titles, f"{name}: the caller's title is not on the chart"
        assert all(len(line) <= plots.TITLE_CHARACTERS for line in titles[0].split("\n"))
        width, _ = _saved_inches(figure)
        assert width <= plots.MAX_SAVED_WIDTH + 0.01, f"{name}: {width:.2f} in wide"
        sizes = [text.get_fontsize() for text in figure.findobj(plt.Text)
                 if text.get_text().strip()]
        assert min(sizes) >= plots.MIN_FONT_SIZE, f"{name}: text of {min(sizes)} pt"
    finally:
        plt.close(figure)


def test_the_house_style_sets_no_pixel_density():
    plt.rcdefaults()
    before = plt.rcParams["figure.dpi"]
    plots.set_house_style()
    assert plt.rcParams["figure.dpi"] == before
    assert plt.rcParams["xtick.labelsize"] >= plots.MIN_FONT_SIZE
    assert plt.rcParams["legend.fontsize"] >= plots.MIN_FONT_SIZE


def test_a_note_below_a_legend_does_not_overlap_it():
    figure = BUILDERS["working_away"]()
    try:
        figure.savefig(io.BytesIO(), format="svg", bbox_inches="tight")
        renderer = figure.canvas.get_renderer()
        legend = figure.legends[0].get_window_extent(renderer)
        note = figure.texts[-1].get_window_extent(renderer)
        assert note.y1 <= legend.y0
    finally:
        plt.close(figure)
