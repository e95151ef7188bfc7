"""The pandas and Arrow types each kind of contract column is read as: what reading, coercion and writing share."""

from __future__ import annotations

import pyarrow as pa

from features.contract.tables import Column, Table

PANDAS_DTYPES: dict[str, str] = {
    "str": "string",
    "code": "string",
    "codes": "string",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
}

ARROW_TYPES: dict[str, pa.DataType] = {
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
    return PANDAS_DTYPES[column.kind]


def arrow_schema(table: Table, columns: tuple[str, ...] | None = None) -> pa.Schema:
    """The Parquet schema of a table (all contract columns, or the given subset in that order)."""
    names = columns or table.column_names
    return pa.schema([pa.field(n, ARROW_TYPES[table.column(n).kind]) for n in names])
