"""Which process runs batch jobs: the one holding the database's runner lease.

With several service processes on one database (`relapse serve --workers N`, or several machines on one
PostgreSQL) every process starts a `JobRunner`, but only the holder of the lease requeues jobs a dead process
left running and runs queued jobs. Without it, a process starting while another is mid-job would put that job
back in the queue and a second runner would score it at the same time.

The lease dies with its holder, so another process takes over when the holder exits or is killed:
- PostgreSQL: a session-level advisory lock on a connection kept open (released by the server when the
  connection closes), keyed by the schema, so databases that share a server but not a schema do not compete.
- SQLite file: an exclusive `flock` on `<database file>.job-runner.lock` (released by the kernel when the
  process exits). SQLite serves one machine, where a file lock reaches every process.
- SQLite in memory: one process only; the lease is always granted.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from service.db import Database, sqlite_file

# pg_try_advisory_lock takes a bigint; hashtext gives a stable int4 from the name and the schema.
_PG_LOCK_KEY: Final = "hashtext('relapse-job-runner:' || current_schema())"


class RunnerLease:
    """Try to take the lease with `acquire()` (non-blocking); `release()` gives it up. One instance per runner."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._held = False
        self._connection: Connection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> bool:
        """True when this runner holds the lease (now or already)."""
        if self._held and self._connection is not None and not self._connection_alive():
            self._connection = None  # the server dropped the session, and with it the lock: compete again
            self._held = False
        if self._held:
            return True
        url = self.database.engine.url
        if url.get_backend_name() == "sqlite":
            self._held = self._acquire_file(_lock_path(sqlite_file(url)))
        else:
            self._held = self._acquire_advisory()
        return self._held

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text(f"SELECT pg_advisory_unlock({_PG_LOCK_KEY})"))
            finally:
                self._connection.close()
                self._connection = None
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
        self._held = False

    def _connection_alive(self) -> bool:
        assert self._connection is not None
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except DBAPIError:
            self._connection.invalidate()
            return False
        return True

    def _acquire_file(self, path: Path | None) -> bool:
        if path is None:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _acquire_advisory(self) -> bool:
        connection = self.database.engine.connect()
        try:
            got = bool(connection.execute(text(f"SELECT pg_try_advisory_lock({_PG_LOCK_KEY})")).scalar())
            connection.commit()  # the lock is the session's, not the transaction's: end the transaction
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True


def _lock_path(database: Path | None) -> Path | None:
    """The lock file next to an SQLite database file; None for in-memory databases."""
    return database.with_name(database.name + ".job-runner.lock") if database is not None else None
