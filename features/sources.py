"""Reading and writing a folder of source tables (one Parquet or CSV file per table).

A source folder holds `<table>.parquet` (or `<table>.csv`) for each table of `features.contract.TABLES`
plus `dataset.json`, the manifest (`{"synthetic": true, ...}` for generated data). Tables that a deployment
does not have yet may be absent; they read as empty frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TABLES, Column, Table

MANIFEST = "dataset.json"
Format = Literal["parquet", "csv"]

_PANDAS_DTYPES: dict[str, str] = {
    "str": "string",
    "code": "string",
    "codes": "string",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "code": pa.string(),
    "codes": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
}


def pandas_dtype(column: Column) -> str:
    """The pandas dtype a column has after reading."""
    return _PANDAS_DTYPES[column.kind]


def arrow_schema(table: Table, columns: tuple[str, ...] | None = None) -> pa.Schema:
    """The Parquet schema of a table (all contract columns, or the given subset in that order)."""
    names = columns or table.column_names
    return pa.schema([pa.field(n, _ARROW_TYPES[table.column(n).kind]) for n in names])


def empty_frame(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series([], dtype=pandas_dtype(c)) for c in table.columns})


@dataclass
class Sources:
    """The source tables of one deployment (or one synthetic city), typed as the contract says."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            return empty_frame(TABLES[name])
        return self.tables[name]

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic", False))


class SourceWriter:
    """Writes tables chunk by chunk so that a large city never sits in memory whole."""

    def __init__(self, out_dir: Path, fmt: Format = "parquet") -> None:
        self.out_dir = Path(out_dir)
        self.fmt = fmt
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._csv_started: set[str] = set()
        self.rows: dict[str, int] = {}
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def append(self, table_name: str, frame: pd.DataFrame) -> None:
        table = TABLES[table_name]
        columns = tuple(str(c) for c in frame.columns)
        self.rows[table_name] = self.rows.get(table_name, 0) + len(frame)
        if self.fmt == "csv":
            path = self.out_dir / f"{table_name}.csv"
            first = table_name not in self._csv_started
            frame.to_csv(path, mode="w" if first else "a", header=first, index=False, date_format="%Y-%m-%d")
            self._csv_started.add(table_name)
            return
        schema = _schema_for(table, columns)
        batch = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        writer = self._writers.get(table_name)
        if writer is None:
            writer = pq.ParquetWriter(self.out_dir / f"{table_name}.parquet", schema, compression="zstd")
            self._writers[table_name] = writer
        writer.write_table(batch)

    def close(self, manifest: dict[str, Any]) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        meta = dict(manifest, rows=dict(sorted(self.rows.items())), format=self.fmt)
        (self.out_dir / MANIFEST).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")


def _schema_for(table: Table, columns: tuple[str, ...]) -> pa.Schema:
    """Contract types for contract columns; pseudonym columns (added at ingestion) are strings."""
    fields = []
    for name in columns:
        if name in table.column_names:
            fields.append(pa.field(name, _ARROW_TYPES[table.column(name).kind]))
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def write_sources(sources: Sources, out_dir: Path, fmt: Format = "parquet") -> None:
    """Write every table of `sources` to `out_dir` in one format, with the manifest."""
    writer = SourceWriter(out_dir, fmt)
    for name, frame in sources.tables.items():
        writer.append(name, frame)
    writer.close(sources.manifest)
