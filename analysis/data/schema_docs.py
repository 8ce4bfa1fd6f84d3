"""The table of panel columns and rules in ``docs/panel_schema.md``, generated from the model.

Each column's values come from its checks (:func:`analysis.data.schemas.allowed_values`, the
same words the failure messages use), its meaning and unit from the field's ``description`` and
``metadata``, and the rules from :data:`analysis.data.schemas.RULES`. Run
``python -m analysis.data.schema_docs`` after changing :class:`PanelSchema`;
``tests/test_schemas.py`` fails while the document and the model differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis import config
from analysis.data import schemas

DOCUMENT = config.PROJECT_ROOT / "docs" / "panel_schema.md"
BEGIN = ("<!-- generated from PanelSchema by `python -m analysis.data.schema_docs`; "
         "edit analysis/data/schemas.py, not this table -->")
END = "<!-- end of the generated part -->"


def column_table() -> str:
    schema = schemas.PanelSchema.to_schema()
    lines = ["| column | values | unit | meaning |", "| --- | --- | --- | --- |"]
    for name, column in schema.columns.items():
        unit = (column.metadata or {}).get("unit", "")
        lines.append(f"| `{name}` | {schemas.allowed_values(column)} | {unit} | "
                     f"{column.description} |")
    return "\n".join(lines)


def rules_list() -> str:
    schema = schemas.PanelSchema.to_schema()
    rules = [schemas.RULES[check.error] for check in schema.checks]
    key = " and ".join(f"`{name}`" for name in schema.unique)
    within = [f"- {rule.error} ({', '.join(rule.columns)})" for rule in rules
              if rule.spans == "row"]
    across = [f"- one row per {key}"] + [f"- {rule.error} ({', '.join(rule.columns)})"
                                         for rule in rules if rule.spans == "table"]
    return "\n".join(["Within one row:", "", *within, "", "Across rows:", "", *across])


def generated() -> str:
    return f"{BEGIN}\n\n{column_table()}\n\n{rules_list()}\n\n{END}"


def updated(document: str) -> str:
    """``document`` with the part between the markers generated afresh."""
    start, end = document.index(BEGIN), document.index(END) + len(END)
    return document[:start] + generated() + document[end:]


def main(path: Path = DOCUMENT) -> int:
    text = path.read_text(encoding="utf-8")
    new = updated(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"schema_docs: updated {config.display_path(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
