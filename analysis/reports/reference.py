"""The numbers every page publishes, and the committed reference they are checked against.

``python -m analysis verify --update`` reads the results JSON of every unit of the plan
(``reports/results/<unit>.json``, written by :class:`~analysis.reports.report.UnitReport`) and
writes the numbers a reader sees to ``reports/reference/numbers.json``:

- every number of the page (``numbers.<name>``: what :meth:`UnitReport.number` recorded);
- the rows and clusters of the headline estimate (``headline.n_obs``, ``headline.n_clusters``),
  named in its sentence (the estimate and interval are numbers of the page);
- every estimator's estimate and interval (``effect_estimates.<method>.<part>``) in the reader's
  unit (percentage points, months, yuan).

``python -m analysis verify`` compares a fresh build with that file and lists every number that
moved beyond its tolerance, was added or was removed, with the page it appears on. A change that
moves a published number therefore has to change the reference in the same commit.

Tolerances depend on the kind of quantity (:data:`TOLERANCES`): figures of the ledger and counts
must be equal (to a relative 1e-12, the last bits of a double); estimates may differ by a
millionth of their value, since their last digits change with the BLAS library and the
processor. Every random draw of a build is seeded (the demonstration panel, the
bootstraps, the simulated critical values), so no tolerance allows for simulation noise: two
builds of the same commit agree to rounding error.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from analysis.estimators.spec import OUTCOMES
from analysis.files import write_text_atomically
from analysis.reports.site import page_name

REFERENCE_FORMAT = 1
UPDATE_COMMAND = "python -m analysis verify --update"


@dataclass(frozen=True)
class Tolerance:
    """How far a quantity may move before :func:`compare` reports it.

    Two values agree when ``|new - old| <= absolute + relative * |old|`` (both missing also
    agree).
    """

    relative: float
    absolute: float
    applies_to: str

    def allows(self, old: float | None, new: float | None) -> bool:
        if old is None or new is None:
            return old is None and new is None
        return abs(new - old) <= self.absolute + self.relative * abs(old)


TOLERANCES = {
    "exact": Tolerance(1e-12, 0.0, "figures of the ledger or a benchmark table (numbers that "
                                   "name their sources, including figures derived from them) "
                                   "and whole counts: equal to the last bits of a double, which "
                                   "a C library's pow or log may round differently"),
    "estimate": Tolerance(1e-6, 1e-9, "everything else: estimates, intervals, p-values and "
                                      "shares computed with floating-point linear algebra, "
                                      "whose last digits differ between BLAS builds and CPUs; "
                                      "a millionth is far below the decimals a page shows and "
                                      "far above those differences"),
}
COUNT_UNITS = ("count", "persons")


def tolerance_kind(value: float | None, unit: str, sources: list | tuple = ()) -> str:
    """``"exact"`` for ledger figures and whole counts, ``"estimate"`` otherwise."""
    if sources:
        return "exact"
    if unit in COUNT_UNITS and (value is None or float(value).is_integer()):
        return "exact"
    return "estimate"


def _quantity(value, unit: str, sources: list | tuple = ()) -> dict:
    if isinstance(value, float) and math.isnan(value):
        value = None
    return {"value": value, "unit": unit, "tolerance": tolerance_kind(value, unit, sources)}


def published_numbers(results: dict) -> dict[str, dict]:
    """The numbers of one unit's page, by quantity name, from its results JSON."""
    quantities = {f"numbers.{name}": _quantity(record["value"], record["unit"],
                                               record.get("sources", ()))
                  for name, record in results.get("numbers", {}).items()}
    headline = results.get("headline") or {}
    if headline.get("estimate") is not None:  # its estimate and interval: numbers.headline_*
        for part in ("n_obs", "n_clusters"):
            quantities[f"headline.{part}"] = _quantity(headline.get(part), "count")
    spec = results.get("spec") or {}
    if spec.get("outcome") in OUTCOMES:
        outcome = OUTCOMES[spec["outcome"]]
        for row in results.get("tables", {}).get("effect_estimates", []):
            for part in ("estimate", "ci_low", "ci_high"):
                value = row.get(part)
                quantities[f"effect_estimates.{row['method']}.{part}"] = _quantity(
                    None if value is None else value * outcome.scale, outcome.effect_unit)
    return dict(sorted(quantities.items()))


def collect(results_dir: Path, unit_ids: list[str]) -> tuple[dict[str, dict], list[str]]:
    """Published numbers of each unit (``{unit: {"page", "quantities"}}``) and the units that
    have no results JSON (not built yet, or failed)."""
    units, missing = {}, []
    for unit_id in unit_ids:
        path = Path(results_dir) / f"{unit_id}.json"
        if not path.exists():
            missing.append(unit_id)
            continue
        results = json.loads(path.read_text(encoding="utf-8"))
        units[unit_id] = {"page": page_name(unit_id), "quantities": published_numbers(results)}
    return units, missing


# ----------------------------------------------------------------------------------------------
# The reference file


def reference_document(units: dict[str, dict], data: dict) -> dict:
    """What ``verify --update`` writes: the numbers, the data they come from, the rules."""
    return {
        "format": REFERENCE_FORMAT,
        "about": "The numbers every page of the default build publishes, checked by "
                 "`python -m analysis verify` after `python -m analysis build`. Written by "
                 f"`{UPDATE_COMMAND}`; never edit by hand.",
        "data": data,
        "tolerances": {kind: {"relative": rule.relative, "absolute": rule.absolute,
                              "applies_to": rule.applies_to}
                       for kind, rule in TOLERANCES.items()},
        "units": dict(sorted(units.items())),
    }


def dumps(document: dict) -> str:
    """JSON with one quantity per line, so a commit's diff shows exactly the numbers it moved."""
    head = {key: value for key, value in document.items() if key != "units"}
    lines = ["{"] + [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},"
                     for key, value in head.items()]
    lines.append('  "units": {')
    unit_blocks = []
    for unit_id, unit in document["units"].items():
        rows = [f"      {json.dumps(name)}: {json.dumps(record, ensure_ascii=False)}"
                for name, record in unit["quantities"].items()]
        unit_blocks.append(f"    {json.dumps(unit_id)}: {{\n"
                           f"     \"page\": {json.dumps(unit['page'])},\n"
                           "     \"quantities\": {\n" + ",\n".join(rows) + "\n     }\n    }")
    lines.append(",\n".join(unit_blocks))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def write_reference(path: Path, units: dict[str, dict], data: dict) -> None:
    text = dumps(reference_document(units, data))
    json.loads(text)  # the hand-made layout must still be JSON
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(Path(path), text)


def read_reference(path: Path) -> dict:
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != REFERENCE_FORMAT:
        raise ValueError(f"{path} has format {document.get('format')!r}, expected "
                         f"{REFERENCE_FORMAT}; regenerate it with `{UPDATE_COMMAND}`")
    return document


# ----------------------------------------------------------------------------------------------
# Comparing a build with the reference


@dataclass(frozen=True)
class Change:
    """One published number that differs from the reference."""

    unit: str
    page: str
    quantity: str
    measure: str  # unit of measure
    old: float | None
    new: float | None
    status: str  # "moved", "added" or "removed"
    tolerance: str = ""


def _unit_changes(unit_id: str, page: str, old: dict, new: dict) -> list[Change]:
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None:
            changes.append(Change(unit_id, page, name, after["unit"], None, after["value"],
                                  "added", after["tolerance"]))
        elif after is None:
            changes.append(Change(unit_id, page, name, before["unit"], before["value"], None,
                                  "removed", before["tolerance"]))
        elif (before["unit"] != after["unit"]
              or not TOLERANCES[before["tolerance"]].allows(before["value"], after["value"])):
            measure = before["unit"] if before["unit"] == after["unit"] else \
                f"{before['unit']} -> {after['unit']}"
            changes.append(Change(unit_id, page, name, measure, before["value"], after["value"],
                                  "moved", before["tolerance"]))
    return changes


def _whole_unit(unit_id: str, unit: dict, status: str) -> Change:
    """One line for a unit the plan gained or lost, rather than one per number."""
    return Change(unit_id, unit["page"], f"(all {len(unit['quantities'])} numbers of the unit)",
                  "", None, None, status)


def compare(reference: dict, current: dict[str, dict], unbuilt: tuple[str, ...] = ()
            ) -> list[Change]:
    """Every quantity of ``current`` (from :func:`collect`) that moved beyond its tolerance, or
    that one side has and the other lacks. Units in ``unbuilt`` (no results to compare; the
    caller reports them) are skipped."""
    changes = []
    expected = reference["units"]
    for unit_id in sorted((set(expected) | set(current)) - set(unbuilt)):
        if unit_id not in expected:
            changes.append(_whole_unit(unit_id, current[unit_id], "added"))
        elif unit_id not in current:
            changes.append(_whole_unit(unit_id, expected[unit_id], "removed"))
        else:
            changes += _unit_changes(unit_id, current[unit_id]["page"],
                                     expected[unit_id]["quantities"],
                                     current[unit_id]["quantities"])
    return changes


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


def _change_text(change: Change) -> str:
    if change.status != "moved" or change.old is None or change.new is None:
        return change.status
    if change.old == 0:
        return f"{change.new - change.old:+.3g}"
    return f"{(change.new - change.old) / abs(change.old):+.3%}"


def format_changes(changes: list[Change]) -> str:
    """A table of the changes: page, unit, quantity, unit of measure, old, new, change."""
    header = ("page", "unit", "quantity", "measured in", "old", "new", "change")
    rows = [header] + [(c.page, c.unit, c.quantity, c.measure, _number(c.old), _number(c.new),
                        _change_text(c)) for c in changes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def summary_line(changes: list[Change]) -> str:
    counts = {status: sum(c.status == status for c in changes)
              for status in ("moved", "added", "removed")}
    return (f"{counts['moved']} published number(s) moved beyond their tolerance, "
            f"{counts['added']} added, {counts['removed']} removed")
