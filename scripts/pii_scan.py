"""Scan what a test run left on disk for national ID numbers in clear: `python scripts/pii_scan.py DIR`.

`make test` runs the suite with its temporary files under one folder and then this scan over it. Every file the
service, the batch path, training or the reports wrote there — databases, MLflow stores, model and explanation
caches, job results, reports, logs — must hold no ID number (an 18-character number with a valid check character
and a real birth date, `features.contract.id_numbers`). The raw source tables the tests generate are inputs and
carry ID numbers on purpose: a Parquet, Arrow or CSV file with an `id_number` column (a raw table, or a batch run's
temporary copy of part of one) is skipped, and only such a file.

Text is searched as UTF-8 and as bytes, so SQLite pages, JSON, HTML and logs are covered; Parquet files are read
column by column (their pages may be compressed). Exit status 1 and one line per finding (the file and how many, never
the number itself) when anything is found.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq

from features.contract.id_numbers import contains_id_number

RAW_COLUMN: Final = "id_number"
MAX_BYTES: Final = 512 * 2**20
# Candidates in raw bytes: 18 characters, not part of a longer number or a decimal fraction.
_CANDIDATE: Final = re.compile(rb"(?<![0-9.])[0-9]{17}[0-9Xx](?![0-9])")


def findings(root: Path) -> Iterator[tuple[Path, int]]:
    """(file, ID numbers found) for every file under `root` that holds one."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        if path.stat().st_size > MAX_BYTES:
            continue
        count = _table(path) if path.suffix in (".parquet", ".arrow") else _bytes(path)
        if count:
            yield path, count


def _table(path: Path) -> int:
    try:
        table = pq.read_table(path) if path.suffix == ".parquet" else pa_ipc.open_file(path).read_all()
    except Exception:  # noqa: BLE001 — not a readable table file: scan its bytes like any other
        return _bytes(path)
    if RAW_COLUMN in table.column_names:
        return 0  # a raw source table: an input, not something the system wrote
    count = 0
    for column in table.columns:
        for value in column.to_pylist():
            if isinstance(value, str) and contains_id_number(value):
                count += 1
    return count


def _bytes(path: Path) -> int:
    data = path.read_bytes()
    if path.suffix == ".csv" and RAW_COLUMN.encode() in data.split(b"\n", 1)[0]:
        return 0  # a raw source table written as CSV
    return sum(1 for m in _CANDIDATE.finditer(data) if contains_id_number(m.group().decode("ascii")))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python scripts/pii_scan.py DIR", file=sys.stderr)  # noqa: T201
        return 2
    found = list(findings(Path(argv[0])))
    for path, count in found:
        print(f"ID numbers in clear: {count} in {path}", file=sys.stderr)  # noqa: T201
    files = sum(1 for p in Path(argv[0]).rglob("*") if p.is_file())
    print(f"pii scan: {files} files under {argv[0]}, {len(found)} with ID numbers")  # noqa: T201
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
