"""Benchmark: validating a large source folder (`relapse validate`, `features.validation.report.validate_sources`).

    python -m benchmarks.validation_bench --households 100000

A synthetic city of N households (2019–2025) is written to a temporary folder. The timed step is
`validate_sources(folder)`: reading and coercing every table, then every column check and row rule. The baseline
measured in the same run is `read_sources(folder)` alone — reading and coercing the same folder without checking
anything — so the ratio is what the checks cost on top of merely loading the data. Baseline and validation
alternate `--repeats` times (the first read warms the page cache for both); medians are reported, with CPU time
beside wall time because a busy machine inflates the latter.

A second measurement is one household's document, as the API validates it: docs/examples/household.json becomes
tables as `service.documents.documents_to_sources` builds them, and `validate_sources` judges them column by column
(`method="columns"`, the vectorised checks) and cell by cell (`method="rows"`, what "auto" takes for small sources),
alternating `--document-repeats` times; min and median of each and their ratio. The same comparison is made on the
document repeated (fresh ids) up to `ROWWISE_MAX_ROWS` rows, the largest sources "auto" judges cell by cell, where
the row path must still be the faster.

Tests assert no time budget (they run on loaded machines); tests/features/test_validation.py checks what a large
folder reports, tests/features/test_validation_rows.py that both paths report the same; this measures how long
they take.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from features.reading.sources import Sources

T = TypeVar("T")

EXAMPLE_DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "examples" / "household.json"
ID_COLUMNS = ("household_id", "member_id", "event_id", "spell_id", "identification_id")


def _timed(call: Callable[[], T], wall: list[float], cpu: list[float]) -> T:
    """Run `call`, append its wall and CPU seconds to the two lists, return its result."""
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    result = call()
    wall.append(time.perf_counter() - wall_start)
    cpu.append(time.process_time() - cpu_start)
    return result


def main(argv: list[str] | None = None) -> None:
    from features.reading.sources import read_sources
    from features.simulation import CityConfig, simulate_city
    from features.validation.report import validate_sources

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--document-repeats", type=int, default=300)
    args = parser.parse_args(argv)
    today = date(2026, 1, 1)  # after the city's last year, as the tests use
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "city"
        simulate_city(CityConfig(households=args.households), seed=20_260_101, out_dir=folder)
        read_sources(folder)  # warm the page cache
        read_wall: list[float] = []
        read_cpu: list[float] = []
        check_wall: list[float] = []
        check_cpu: list[float] = []
        for _ in range(args.repeats):
            _timed(lambda: read_sources(folder), read_wall, read_cpu)
            report = _timed(lambda: validate_sources(folder, today=today), check_wall, check_cpu)
    rows = sum(report.rows.values())
    read_s, check_s = statistics.median(read_wall), statistics.median(check_wall)
    print(f"validation: {args.households:,} households, {rows:,} rows in {len(report.rows)} tables")
    print(f"  report: {report}")
    print(
        f"  validate_sources  {check_s:.2f} s wall, {statistics.median(check_cpu):.2f} s CPU "
        f"({rows / check_s / 1e6:.2f} M rows/s; median of {args.repeats}, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"  baseline          read_sources of the same folder: {read_s:.2f} s wall, "
        f"{statistics.median(read_cpu):.2f} s CPU"
    )
    print(f"  ratio validate / read: {check_s / read_s:.2f}× (checks add {check_s - read_s:.2f} s)")
    _compare_methods(args.document_repeats, today)


def _compare_methods(repeats: int, today: date) -> None:
    """One household's document, and copies of it up to the threshold: columns vs rows, alternating."""
    import json

    from features.validation.report import ROWWISE_MAX_ROWS
    from service.documents import documents_to_sources
    from service.schemas import HouseholdScoreRequest

    request = HouseholdScoreRequest.model_validate(json.loads(EXAMPLE_DOCUMENT.read_text(encoding="utf-8")))
    document = documents_to_sources(request.households).sources
    rows = sum(len(frame) for frame in document.tables.values())
    copies = max(ROWWISE_MAX_ROWS // rows, 1)
    for label, sources, runs in (
        (f"one document ({rows} rows in {len(document.tables)} tables)", document, repeats),
        (f"{copies} copies ({rows * copies} rows; rows up to {ROWWISE_MAX_ROWS})", _copies(document, copies), 20),
    ):
        times = _alternate(sources, runs, today)
        columns, by_rows = times["columns"], times["rows"]
        print(f"validate_sources on {label}, {runs} runs each, alternating:")
        for method, values in times.items():
            low, middle = min(values) * 1e3, statistics.median(values) * 1e3
            print(f"  method={method:<8} min {low:7.2f} ms, median {middle:7.2f} ms")
        print(
            f"  ratio columns / rows: {statistics.median(columns) / statistics.median(by_rows):.1f}× (median), "
            f"{min(columns) / min(by_rows):.1f}× (min); load average {os.getloadavg()[0]:.1f}"
        )


def _alternate(sources: Sources, runs: int, today: date) -> dict[str, list[float]]:
    from features.validation.report import validate_sources

    assert validate_sources(sources, today=today, method="rows") == validate_sources(
        sources, today=today, method="columns"
    )
    times: dict[str, list[float]] = {"columns": [], "rows": []}
    for _ in range(runs):
        for method, values in times.items():
            start = time.perf_counter()
            validate_sources(sources, today=today, method=method)  # type: ignore[arg-type]
            values.append(time.perf_counter() - start)
    return times


def _copies(sources: Sources, copies: int) -> Sources:
    """The tables repeated `copies` times with fresh ids (villages once: they are shared)."""
    import pandas as pd

    from features.reading.sources import Sources, coerce_sources

    tables = {}
    for name, frame in sources.tables.items():
        if name == "villages":
            tables[name] = frame
            continue
        parts = []
        for copy in range(copies):
            part = frame.copy()
            for column in set(ID_COLUMNS) & set(part.columns):
                part[column] = part[column] + f"-{copy}"
            parts.append(part)
        tables[name] = pd.concat(parts, ignore_index=True)
    return coerce_sources(Sources(tables, dict(sources.manifest)))


if __name__ == "__main__":
    main()
