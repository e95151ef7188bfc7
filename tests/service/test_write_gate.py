"""The SQLite write gate: one writer at a time across threads and processes, and a bounded wait."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from service._write_gate import WriteGate
from service.db import open_database
from service.errors import DatabaseUnavailableError


def _hold_and_log(path: str, log: str, times: int) -> None:
    gate = WriteGate(Path(path), timeout_s=10)
    for _ in range(times):
        with gate.held():
            start = time.monotonic()
            time.sleep(0.002)
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{start} {time.monotonic()}\n")


def _intervals(log: Path) -> list[tuple[float, float]]:
    return sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())  # type: ignore[misc]


def test_threads_and_processes_hold_the_gate_one_at_a_time(tmp_path: Path) -> None:
    path, log = tmp_path / "db.sqlite.write-gate", tmp_path / "held.log"
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_hold_and_log, args=(str(path), str(log), 15)) for _ in range(2)]
    threads = [threading.Thread(target=_hold_and_log, args=(str(path), str(log), 15)) for _ in range(3)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(60)
    assert all(p.exitcode == 0 for p in processes)
    held = _intervals(log)
    assert len(held) == 5 * 15
    assert all(end <= next_start for (_, end), (next_start, _) in zip(held, held[1:], strict=False))


def test_a_gate_held_elsewhere_longer_than_the_busy_timeout_is_database_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite.write-gate"
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with WriteGate(path, timeout_s=10).held():  # another gate object: as another process would
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError), WriteGate(path, timeout_s=0.2).held():
        pass
    assert 0.2 <= time.monotonic() - started < 2
    release.set()
    holder.join(10)
    with WriteGate(path, timeout_s=0.2).held():  # free again
        pass


def test_only_sqlite_files_have_a_gate(tmp_path: Path) -> None:
    gated = open_database(f"sqlite:///{tmp_path / 'service.db'}")
    assert gated.gate is not None and gated.gate.path == tmp_path / "service.db.write-gate"
    assert open_database("sqlite://").gate is None
    assert open_database("postgresql+psycopg://user@localhost/none").gate is None
    with gated.transaction() as connection:  # a write transaction goes through the gate
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
