"""Report tables built from the processed ledger tables, for the national and province pages.

These functions only select, order and format; every value comes from a ledger row or a derived
figure, and each output row keeps the figure ids it shows.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.reports.report import format_value

LEDGER_TABLES = ("sources", "provinces", "figures", "derived_figures", "consistency",
                 "derived_checks")
OPTIONAL_TABLES = ("expansion",)

COVERAGE_INDICATORS = ("registered_poor_households_employment_assistance_share",)
TRAINING_INDICATORS = ("poor_laborers_trained",)
CHANNEL_INDICATORS = ("poverty_alleviation_workshops", "workshop_jobs",
                      "public_welfare_post_placements", "organized_transport_poor_laborers")


def load_processed(processed_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the processed ledger tables written by ``python -m analysis ingest``."""
    directory = Path(processed_dir) if processed_dir else config.PROCESSED_DIR
    missing = [name for name in LEDGER_TABLES if not (directory / f"{name}.parquet").exists()]
    if missing:
        raise FileNotFoundError(
            f"processed tables {missing} not found in {directory}: run `python -m analysis ingest`"
        )
    loaded = {name: pd.read_parquet(directory / f"{name}.parquet") for name in LEDGER_TABLES}
    for name in OPTIONAL_TABLES:  # written only for some panels (e.g. simulated ones)
        if (directory / f"{name}.parquet").exists():
            loaded[name] = pd.read_parquet(directory / f"{name}.parquet")
    return loaded


def source_link(source_id: str, anchor: str | None = None) -> str:
    """Markup linking to a source document (and a highlighted quote) on the site's sources page."""
    target = html.escape(anchor or source_id, quote=True)
    return f'<a href="sources.html#{target}">{html.escape(source_id)}</a>'


def figures_for_display(figures: pd.DataFrame) -> pd.DataFrame:
    """One row per figure: what it measures, value as published, period, source link, quote."""
    return pd.DataFrame({
        "figure": figures["figure_id"],
        "what": figures["description"],
        "value": [
            format_value(row.value, row.unit, row.qualifier) if pd.notna(row.value)
            else f"not given ({row.missing_reason})"
            for row in figures.itertuples()
        ],
        "period": figures["period"],
        "kind": figures["kind"],
        "source": [source_link(row.source_id, row.figure_id) for row in figures.itertuples()],
        "quote": figures["quote"],
    })


def select_indicators(figures: pd.DataFrame, indicators: tuple[str, ...],
                      scope: str = "national") -> pd.DataFrame:
    rows = figures[figures["indicator"].isin(indicators) & (figures["scope"] == scope)]
    return rows.sort_values(["indicator", "period", "figure_id"])


def working_away_trajectory(figures: pd.DataFrame, derived: pd.DataFrame) -> pd.DataFrame:
    """Poor laborers working away from home: published counts plus the implied 2019 count."""
    published = figures[(figures["indicator"] == "poor_laborers_working_away")
                        & (figures["scope"] == "national") & (figures["kind"] == "actual")]
    rows = [
        {"point": _period_label(row.period), "period": row.period, "persons": row.value,
         "basis": "published", "figure_ids": row.figure_id}
        for row in published.itertuples()
    ]
    implied = derived.set_index("derived_id").loc["working_away_2019_implied"]
    rows.append({"point": "2019 (implied)", "period": "2019", "persons": implied["value"],
                 "basis": "derived", "figure_ids": implied["inputs"]})
    order = {"2016": 0, "2019": 1, "2020-10": 2, "2020": 3}
    table = pd.DataFrame(rows)
    return table.sort_values("period", key=lambda periods: periods.map(order)).reset_index(
        drop=True)


def _period_label(period: str) -> str:
    if len(period) == 7:
        return f"end of {pd.Timestamp(period + '-01'):%B %Y}"
    return period


def derived_for_display(derived: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "figure": derived["derived_id"],
        "what": derived["description"],
        "value": [format_value(row.value, row.unit, "approximate" if row.approximate else "exact")
                  for row in derived.itertuples()],
        "formula": derived["formula"],
        "computed from": derived["inputs"].str.replace(";", ", "),
    })


def targets_and_actuals(figures: pd.DataFrame, scope: str) -> pd.DataFrame:
    """Each target of a scope beside the published actual of the same indicator, if any."""
    own = figures[figures["scope"] == scope]
    targets = own[own["kind"] == "target"]
    actuals = own[own["kind"] == "actual"]
    rows = []
    for target in targets.itertuples():
        matches = actuals[actuals["indicator"] == target.indicator]
        latest = matches.sort_values("period").iloc[-1] if len(matches) else None
        rows.append({
            "indicator": target.indicator,
            "target": format_value(target.value, target.unit, target.qualifier)
            if pd.notna(target.value) else "not given",
            "by": target.period,
            "target figure": target.figure_id,
            "latest actual": "no published actual"
            if latest is None else format_value(latest["value"], latest["unit"],
                                                latest["qualifier"]),
            "actual period": "" if latest is None else latest["period"],
            "actual figure": "" if latest is None else latest["figure_id"],
        })
    return pd.DataFrame(rows, columns=["indicator", "target", "by", "target figure",
                                       "latest actual", "actual period", "actual figure"])


class UnknownProvinceError(ValueError):
    """Raised when a province code is not one of the 31 GB/T 2260 provincial codes."""


def province_code(provinces: pd.DataFrame, code: str | int) -> str:
    """Normalize a code given as ``53`` or ``"53"`` and check that the province exists."""
    normalized = str(code).strip().zfill(2)
    if normalized not in set(provinces["province_code"]):
        raise UnknownProvinceError(
            f"unknown province code {code!r}; expected one of "
            f"{', '.join(sorted(provinces['province_code']))}")
    return normalized


def province_name(provinces: pd.DataFrame, code: str) -> str:
    row = provinces.set_index("province_code").loc[code]
    return f"{row['name_en']} ({row['name_zh']})"


def province_names(provinces: pd.DataFrame) -> dict[str, str]:
    """English name of each province, by code."""
    return dict(zip(provinces["province_code"], provinces["name_en"]))
