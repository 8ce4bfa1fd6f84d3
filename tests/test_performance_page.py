"""The methods page's "How fast and how large" section, read from benchmarks/results/."""

from __future__ import annotations

import json

from analysis.reports import pages
from analysis.reports.report import UnitReport


def _write(folder, name, payload):
    (folder / name).write_text(json.dumps(payload))


def _fleet():
    return {"units": [f"u{i}" for i in range(46)], "workers": 3, "cores": 2,
            "naive": {"seconds": 451.5}, "cold": {"seconds": 40.2}, "floor": 31.0,
            "noop": {"seconds": 0.61}, "change": {"seconds": 9.9},
            "speed_up": 451.5 / 40.2, "floor_ratio": 40.2 / 31.0}


def test_the_section_shows_what_the_files_hold(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(UnitReport, "say", lambda self, text: shown.append(text))
    _write(tmp_path, "fleet.json", _fleet())
    _write(tmp_path, "build_scale.json", {
        "persons": 2_000_000, "person_years": 10_000_000, "build_seconds": 95.4,
        "unit_seconds": {"national": 7.5, "53": 12.0, "13": 4.0}})
    _write(tmp_path, "ingest.json", {"runs": [
        {"label": "simulated 2,000,000", "kind": "simulated", "persons": 2_000_000,
         "panel_rows": 10_000_000, "seconds": 58.84, "peak_rss_bytes": 802004992},
        {"label": "x", "kind": "analyst extract", "persons": 2_000_000,
         "panel_rows": 10_000_000, "seconds": 117.6, "peak_rss_bytes": 1025253376}]})
    report = UnitReport("methods", "Methods")
    pages.performance_section(report, tmp_path)
    ingest = report.tables["ingest_benchmark"]
    assert [row["peak_rss_bytes"] for row in ingest] == [802004992, 1025253376]
    text = " ".join(shown)
    assert "1.30 times the floor" in text
    assert "2,000,000 laborers" in text and "10,000,000 person-years" in text
    assert "7.5 seconds against 12.0 for the slowest province" in text
    chart = report.tables["fleet_benchmark_chart"]
    assert [row["seconds"] for row in chart] == [451.5, 40.2, 31.0, 9.9, 0.61]
    assert "Of the" not in text  # results recorded before the phases were: nothing invented


def test_the_overhead_is_split_as_the_benchmark_recorded_it(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(UnitReport, "say", lambda self, text: shown.append(text))
    fleet = _fleet()
    fleet["cold"]["phases"] = {"kernel start": 4.84, "reset": 1.26, "cells": 52.31,
                               "papermill": 1.42, "notebook rewrite": 0.31, "page": 1.86}
    _write(tmp_path, "fleet.json", fleet)
    pages.performance_section(UnitReport("methods", "Methods"), tmp_path)
    text = " ".join(shown)
    assert ("Of the 62.0 seconds the units took in their workers, the notebooks' cells took "
            "52.3; starting and warming the kernels 4.8, papermill around the cells 1.4, "
            "rendering the pages 1.9, clearing the kernels between units 1.3 and rewriting the "
            "executed notebooks 0.3.") in text


def test_without_results_the_section_says_so(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(UnitReport, "say", lambda self, text: shown.append(text))
    pages.performance_section(UnitReport("methods", "Methods"), tmp_path)
    assert "No benchmark has been run yet" in shown[-1]
