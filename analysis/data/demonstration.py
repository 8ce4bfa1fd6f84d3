"""The demonstration panel for ingest, simulated and written a province at a time.

Without an analyst's extract, ingest writes the seeded demonstration panel of
:mod:`analysis.data.simulator`: ``panel/<province>`` (validated against ``PanelSchema``),
``truth/<province>`` (the planted effects), ``calibration``, ``expansion`` and
``projection/<province>`` (a second simulated extract covering 2021-2025). The national steps of
the simulator hold sums only; each province is then simulated in batches of counties and its
files written part by part, locally or as one Dask task per province, so memory does not grow
with the size of the nation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.data import ledger
from analysis.data.output import TableFile, write_table
from analysis.data.simulator.calibration import (
    add_calibration_statistics,
    calibration_table_from,
)
from analysis.data.simulator.panel import SimulationPlan, plan_simulation, simulate_province
from analysis.data.simulator.parameters import PROGRAMS
from analysis.data.simulator.targets import calibration_targets_from_ledger

PROJECTION_YEARS = (2021, 2025)


def write_demonstration(staging: Path, figures: pd.DataFrame, provinces: pd.DataFrame,
                        known_provinces: list[str], persons: int, seed: int, runner,
                        scratch: Path) -> tuple[dict, dict]:
    """Write every table of the demonstration panel; (manifest outputs, manifest ``panel``).

    ``scratch`` holds the simulator's scratch files (shared with Dask workers).
    """
    targets = calibration_targets_from_ledger(figures)
    plan = plan_simulation(provinces, targets, persons, config.DEMO_YEARS, seed,
                           workdir=scratch / "panel",
                           runner=runner)
    written = runner.map(write_province, plan.codes, plan=plan, staging=staging,
                         scratch=scratch / "panel", table="panel", known=known_provinces)
    outputs = {name: entry for part in written for name, entry in part["outputs"].items()}
    statistics = add_calibration_statistics([part["statistics"] for part in written])
    outputs.update(write_table(staging, "calibration",
                               calibration_table_from(statistics, targets)))
    outputs.update(write_table(staging, "expansion", expansion(figures, statistics)))
    projection = plan_simulation(provinces, targets, persons, PROJECTION_YEARS, seed,
                                 workdir=scratch / "projection", runner=runner)
    for part in runner.map(write_province, projection.codes, plan=projection, staging=staging,
                           scratch=scratch / "projection", table="projection", known=None):
        outputs.update(part["outputs"])
    info = {"origin": "simulated", "seed": seed, "persons": persons, "years": list(config.DEMO_YEARS),
            "rows": sum(part["rows"] for part in written),
            "truth_rows": sum(part["truth_rows"] for part in written),
            "parameters": plan.parameters()}
    return outputs, info


def expansion(figures: pd.DataFrame, statistics: dict) -> pd.DataFrame:
    """Persons represented per panel person.

    The simulator is calibrated so that the panel persons working outside their county in 2020
    stand for the published count of poor laborers working away from home, so the factor is
    that count over the panel's.
    """
    away = ledger.find_figure(figures, "poor_laborers_working_away", "2020")
    count = int(statistics["outside_by_year"][2020])
    return pd.DataFrame([{
        "factor": float(away["value"]) / count, "figure_id": away["figure_id"],
        "published": float(away["value"]), "panel_count": count, "year": 2020}])


def write_province(code: str, plan: SimulationPlan, staging: Path, scratch: Path, table: str,
                   known: list[str] | None) -> dict:
    """One province's ``<table>/<code>`` (and, for the panel, ``truth/<code>``), batch by batch.

    The panel is validated against ``PanelSchema`` (a failure is a bug of the simulator); the
    projection is written as simulated, as before. Truth rows are ordered by program, person
    and year: each batch's rows of a program go to a scratch file first, and the province's
    file is then written program by program.
    """
    from analysis.data.microdata import compact, validate_panel

    panel = TableFile(staging, f"{table}/{code}")
    pieces = Path(scratch) / "truth" / code
    statistics, truth_files = [], {program: [] for program in PROGRAMS}
    for result in simulate_province(plan, code):
        frame = result.panel if table != "panel" else validate_panel(result.panel, known)
        panel.write(compact(frame))
        statistics.append(result.statistics)
        if table == "panel":
            for program, rows in result.truth.groupby("program", sort=False):
                path = pieces / program / f"{result.batch.name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                rows.to_parquet(path, index=False)
                truth_files[program].append(path)
    outputs = panel.close()
    truth = TableFile(staging, f"truth/{code}")
    for program in PROGRAMS:
        for path in truth_files[program]:
            truth.write(pd.read_parquet(path))
    outputs.update(truth.close())
    shutil.rmtree(pieces, ignore_errors=True)
    return {"outputs": outputs, "statistics": add_calibration_statistics(statistics),
            "rows": panel.rows, "truth_rows": truth.rows}
