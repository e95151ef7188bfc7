"""One writer at a time on an SQLite file, queued outside SQLite's busy handler.

SQLite lets one connection write at a time. A connection that finds the write lock taken sleeps in SQLite's busy
handler — 1, 2, 5, 10, … up to 100 ms between tries — and a later arrival may take the lock while it sleeps, so
under steady concurrent writes (two uvicorn workers, each with several request threads) an unlucky writer
waits many times longer than the writes ahead of it hold the lock.

`WriteGate` queues writers before they begin: the threads of one process on a lock (they block, nothing
polls), and the one thread at the head of each process on an advisory `flock` of `<database>.write-gate`,
tried every 0.2 ms. The lock is then free when the writer's `BEGIN IMMEDIATE` asks for it. Waiting longer
than the busy timeout is "database unavailable", as a busy SQLite is. The gate is advisory: writers that do not
use it (migrations, other programs) still queue in SQLite's busy handler.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from service.errors import DatabaseUnavailableError

POLL_S: Final = 0.0002  # between tries of the file lock, by one thread per process


class WriteGate:
    """Writers of one SQLite file, one at a time across threads and processes."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for one write transaction."""
        deadline = time.monotonic() + self.timeout_s
        if not self._threads.acquire(timeout=self.timeout_s):
            raise DatabaseUnavailableError("database busy: no write slot within the busy timeout")
        try:
            fd = self._file()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DatabaseUnavailableError("database busy: no write slot within the busy timeout") from None
                    time.sleep(POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # Opened by each process itself: a descriptor inherited across fork shares its lock with the parent.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd
