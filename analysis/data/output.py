"""Processed tables written into ingest's staging folder, a part at a time.

A table is written with pandas' own Parquet conversion, so the dtypes read back are those of
``DataFrame.to_parquet``; a large table is written in parts (one Parquet row group each), so
that no step holds more than one part. Each written file gives its manifest entry: sha256 and
rows, under its path relative to the staging folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.files import sha256_file


class TableFile:
    """One Parquet file of the staging folder (``name`` without suffix, e.g. ``panel/53``),
    written part by part; every part must have the same columns and dtypes."""

    def __init__(self, staging: Path, name: str):
        self.name = f"{name}.parquet"
        self.path = Path(staging) / self.name
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> dict[str, dict]:
        """The manifest entry; nothing when no part was written."""
        if self._writer is None:
            return {}
        self._writer.close()
        return {self.name: {"sha256": sha256_file(self.path), "rows": self.rows}}


def write_table(staging: Path, name: str, frame: pd.DataFrame) -> dict[str, dict]:
    """A whole table as one file; its manifest entry."""
    path = Path(staging) / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return {f"{name}.parquet": {"sha256": sha256_file(path), "rows": len(frame)}}
