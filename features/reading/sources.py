"""Reading and writing a folder of source tables (one Parquet or CSV file per table).

A source folder holds `<table>.parquet` (or `<table>.csv`) for each table of `features.contract.tables.TABLES`
plus `dataset.json`, the manifest (`{"synthetic": true, ...}` for generated data). Tables that a deployment
does not have yet may be absent; they read as empty frames.

Reading coerces every column to its contract dtype (`features.reading._coercion`): CSV cells are text, empty cells
are missing, Chinese labels become codes. Nothing is rejected here — cells that cannot be parsed become
missing and are remembered in `Sources.unparsed` for `features.validation.report` to report.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract.dtypes import ARROW_TYPES, pandas_dtype
from features.contract.tables import TABLES, Table
from features.errors import SourceFolderError
from features.reading._coercion import CoercedTable, coerce_table
from features.reading._coercion_rows import coerce_rows

MANIFEST = "dataset.json"
Format = Literal["parquet", "csv"]


def empty_frame(table: Table) -> pd.DataFrame:
    """A table without rows: every contract column, with its dtype (a copy the caller may change)."""
    if TABLES.get(table.name) is table:
        return _contract_empty_frame(table.name).copy(deep=False)  # copy-on-write keeps the cached frame intact
    return _build_empty_frame(table)


@cache
def _contract_empty_frame(name: str) -> pd.DataFrame:
    # One household's document usually lacks several tables; building ~10 typed columns each time costs more
    # than copying them.
    return _build_empty_frame(TABLES[name])


def _build_empty_frame(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series([], dtype=pandas_dtype(c)) for c in table.columns})


@dataclass
class Sources:
    """The source tables of one deployment (or one synthetic city), typed as the contract says.

    Frames built in memory may be loosely typed; `coerce_sources` (done by `read_sources` and by
    validation) types them and fills the bookkeeping fields below.
    """

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any] = field(default_factory=dict)
    # (table, column) → raw text of the cells that could not be parsed, indexed by row position.
    unparsed: dict[tuple[str, str], pd.Series] = field(default_factory=dict)
    # table → non-nullable contract columns absent from its file.
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    coerced: bool = False

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            return empty_frame(TABLES[name])
        return self.tables[name]

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic", False))


class SourceWriter:
    """Writes tables chunk by chunk so that a large city never sits in memory whole.

    Parquet encoding and compression run on a background thread (pyarrow releases the GIL), so the producer
    computes the next chunk while the previous one is written; at most `max_pending` chunks wait in memory.
    Chunks of one table are written in the order they were appended (a single writer thread).
    """

    def __init__(self, out_dir: Path, fmt: Format = "parquet", max_pending: int = 3) -> None:
        self.out_dir = Path(out_dir)
        self.fmt = fmt
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._csv_started: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._pending: deque[Future[None]] = deque()
        self._max_pending = max_pending
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
            # Dictionary-encode text only: trying it on floats and dates costs time and rarely pays off.
            text = [f.name for f in schema if pa.types.is_string(f.type)]
            writer = pq.ParquetWriter(
                self.out_dir / f"{table_name}.parquet", schema, compression="zstd", use_dictionary=text
            )
            self._writers[table_name] = writer
        while len(self._pending) >= self._max_pending:
            self._pending.popleft().result()  # back-pressure; re-raises a failed write here
        self._pending.append(self._pool.submit(writer.write_table, batch))

    def close(self, manifest: dict[str, Any]) -> None:
        while self._pending:
            self._pending.popleft().result()
        self._pool.shutdown(wait=True)
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
            fields.append(pa.field(name, ARROW_TYPES[table.column(name).kind]))
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def write_sources(sources: Sources, out_dir: Path, fmt: Format = "parquet") -> None:
    """Write every table of `sources` to `out_dir` in one format, with the manifest."""
    writer = SourceWriter(out_dir, fmt)
    for name, frame in sources.tables.items():
        writer.append(name, frame)
    writer.close(sources.manifest)


_STRING_TYPES = (pa.string(), pa.large_string())


def read_sources(path: Path | str) -> Sources:
    """Read a source folder and coerce every table to the contract's dtypes (see the module docstring)."""
    tables, manifest, warnings = read_arrow_tables(path)
    frames = {name: arrow_to_frame(tables.pop(name)) for name in list(tables)}  # each Arrow table freed once converted
    sources = coerce_sources(Sources(frames, manifest))
    sources.warnings[:0] = warnings
    return sources


def read_manifest(folder: Path) -> dict[str, Any]:
    """A source folder's manifest (`dataset.json`: extract date, synthetic …); empty when it has none."""
    path = Path(folder) / MANIFEST
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return manifest


def read_arrow_tables(path: Path | str) -> tuple[dict[str, pa.Table], dict[str, Any], list[str]]:
    """The folder's tables as Arrow tables (CSV cells as text), its manifest, and warnings about other files.

    Arrow holds a large city in a fraction of the memory pandas needs; `arrow_to_frame` converts a table (or
    a slice of one) to the frame `coerce_sources` expects.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise SourceFolderError(f"source folder {folder} does not exist")
    manifest = read_manifest(folder)
    tables: dict[str, pa.Table] = {}
    warnings: list[str] = []
    for name in TABLES:
        candidates = [p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.is_file()]
        if len(candidates) > 1:
            raise SourceFolderError(f"{folder} holds both {name}.parquet and {name}.csv; keep one")
        if candidates:
            file = candidates[0]
            tables[name] = pq.read_table(file) if file.suffix == ".parquet" else _read_csv(file)
    known = {f"{n}{ext}" for n in TABLES for ext in (".parquet", ".csv")} | {MANIFEST}
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.name not in known and not file.name.startswith("."):
            warnings.append(f"ignored file {file.name}: not a table of the contract")
    return tables, manifest, warnings


def coerce_sources(sources: Sources) -> Sources:
    """Contract dtypes for every table; cells that cannot be parsed are recorded, not raised."""
    if sources.coerced:
        return sources
    result = Sources({}, dict(sources.manifest), warnings=list(sources.warnings), coerced=True)
    for name, frame in sources.tables.items():
        if name not in TABLES:
            result.warnings.append(f"ignored table {name}: not a table of the contract")
            continue
        _add_table(result, name, coerce_table(frame, TABLES[name]), len(frame))
    return result


def coerce_records(records: Mapping[str, Sequence[Mapping[str, Any]]], manifest: dict[str, Any]) -> Sources:
    """`coerce_sources` of the tables `pd.DataFrame(rows)` makes of each table's rows (JSON objects).

    A table of a few rows of plain JSON cells (one household's, as the API receives it) is coerced cell by
    cell (`coerce_rows`), with the same result; any other table goes through its frame."""
    result = Sources({}, dict(manifest), coerced=True)
    for name, rows in records.items():
        if name not in TABLES:
            result.warnings.append(f"ignored table {name}: not a table of the contract")
            continue
        coerced = coerce_rows(rows, TABLES[name])
        if coerced is None:
            coerced = coerce_table(pd.DataFrame(list(rows)), TABLES[name])
        _add_table(result, name, coerced, len(rows))
    return result


def _add_table(result: Sources, name: str, coerced: CoercedTable, rows: int) -> None:
    """A coerced table and what coercion noticed (unparsed cells, absent required columns, dropped ones)."""
    table = TABLES[name]
    result.tables[name] = coerced.frame
    for column, raw in coerced.unparsed.items():
        result.unparsed[(name, column)] = raw
    required = tuple(c for c in coerced.missing_columns if not table.column(c).nullable)
    if required and rows:
        result.missing_columns[name] = required
    if coerced.dropped_columns:
        result.warnings.append(f"{name}: dropped columns not in the contract: {', '.join(coerced.dropped_columns)}")


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas, Arrow types mapped straight onto the contract's nullable dtypes."""
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype()}
    mapping[pa.large_string()] = pd.StringDtype()
    # split_blocks: no consolidation copy (self_destruct would free buffers a shared or sliced table still uses).
    return table.to_pandas(
        types_mapper=mapping.get, date_as_object=False, coerce_temporal_nanoseconds=True, split_blocks=True
    )


def _read_csv(path: Path) -> pa.Table:
    """Every cell as text (empty → missing); UTF-8 (with or without BOM) or, failing that, GB 18030."""
    encoding = _csv_encoding(path)
    with path.open(encoding="utf-8-sig" if encoding == "utf8" else encoding, newline="") as handle:
        header = next(csv.reader(handle), [])
    if not header:
        return pa.table({})
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 24),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, null_values=[""], strings_can_be_null=True
        ),
    )


def _csv_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """Chinese spreadsheets are often saved as GBK; GB 18030 is its superset."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            decoder.decode(handle.read(sample_bytes), final=False)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf8"
