"""Result records: their columns and fixed Arrow schema, typed frames and tables, and the Parquet writer.

A result row carries the household's monitoring status as of `as_of` (`models.record.STATUS_FIELDS`) from its
profile: its dates as dates, the rest as text, `unknown` when the profile had none; then the monitoring type the
household would enter as (`models.record.EXPECTED_TYPE_FIELDS`, code and names as text); then a monitoring
object's elimination readiness (`models.record.READINESS_FIELDS`: states as text, counts and values as numbers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.profiles.rules import RULE_NAMES
from features.profiles.status import DATE_COLUMNS
from features.reading.partitions import Partition
from models.batch import DEFAULT_OPTIONS, BatchOptions, output_columns
from models.record import EXPECTED_TYPE_FIELDS, READINESS_FIELDS, READINESS_NUMBERS, STATUS_FIELDS

RULE_PREFIX: Final = "rule_"
WRITE_AHEAD: Final = 2  # result tables handed to the writer thread and not yet written


def result_columns(options: BatchOptions = DEFAULT_OPTIONS) -> list[str]:
    rules = (RULE_PREFIX + name for name in RULE_NAMES)
    return [
        *output_columns(options),
        *STATUS_FIELDS,
        *EXPECTED_TYPE_FIELDS,
        *READINESS_FIELDS,
        "model_version",
        "synthetic",
        *rules,
        "source_digest",
    ]


def result_schema(options: BatchOptions = DEFAULT_OPTIONS) -> pa.Schema:
    """The fixed Arrow schema of result tables (the same for every partition, whatever it holds)."""
    floats = {"probability", "identification_probability", "margin", *READINESS_NUMBERS}
    fields = []
    for name in result_columns(options):
        if name == "as_of" or name in DATE_COLUMNS:
            kind = pa.date32()
        elif name == "synthetic" or name.startswith(RULE_PREFIX):
            kind = pa.bool_()
        elif name in floats or name.endswith(("_points", "_probability_after")):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def result_frame(table: pd.DataFrame, options: BatchOptions, *, partial: bool = False) -> pd.DataFrame:
    """The result columns in order with the schema's types (text as pandas' `str`, missing as NaN); `partial`:
    only the columns `table` has, index kept."""
    schema = result_schema(options)
    out = {}
    for item in schema:
        if partial and item.name not in table.columns:
            continue
        values = table[item.name]
        if pa.types.is_floating(item.type):
            out[item.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif pa.types.is_boolean(item.type):
            out[item.name] = values.astype(bool)
        elif pa.types.is_date(item.type):
            out[item.name] = pd.to_datetime(values).dt.normalize()
        else:
            out[item.name] = values.astype("str")
    return pd.DataFrame(out, index=table.index if partial else None)


def result_table(table: pd.DataFrame, options: BatchOptions = DEFAULT_OPTIONS) -> pa.Table:
    """A result frame (`score_partition`, `score_profiles`) as an Arrow table of `result_schema`."""
    return pa.Table.from_pandas(table, schema=result_schema(options), preserve_index=False).replace_schema_metadata()


def write_scores(
    results: Iterable[tuple[Partition, pa.Table]], out: Path, options: BatchOptions = DEFAULT_OPTIONS
) -> int:
    """Append every result table to the Parquet file `out` (written to a temporary name, then renamed).

    Encoding runs on a writer thread (Arrow releases the GIL) while the next tables are produced; at most
    `WRITE_AHEAD` tables wait for it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    rows = 0
    pending: deque[Future[None]] = deque()
    with (
        pq.ParquetWriter(partial, result_schema(options), compression="zstd") as writer,
        ThreadPoolExecutor(1, thread_name_prefix="write-scores") as thread,
    ):
        try:
            for _, table in results:
                pending.append(thread.submit(writer.write_table, table))
                rows += table.num_rows
                while len(pending) > WRITE_AHEAD:
                    pending.popleft().result()
        finally:
            for future in pending:  # the tables already handed over are written (or their error raised)
                future.result()
    partial.replace(out)
    return rows
