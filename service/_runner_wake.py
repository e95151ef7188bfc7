"""Waking the job runner from another process: a file whose modification time any process moves.

`relapse serve --workers N` runs N processes, and only the runner lease's holder (`service._runner_lease`) runs
jobs and dispatches alerts; a job or a department event may reach any of them. The process that takes it touches
the wake file; the holder, while it waits for work, looks at the file's time every `SLICE_S` and goes back to work
as soon as it moved — a `stat` call, far cheaper than querying the database that often. The file lies next to an
SQLite database file, else in the data directory, so it reaches the processes of one machine; processes on other
machines (sharing one PostgreSQL) see the work at the runner's next poll.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Final

SLICE_S: Final = 0.01  # a stat call per slice: cheap, and a woken holder starts within 10 ms


class WakeSignal:
    """This process's wake event and the machine's wake file (None: the event alone)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._event = threading.Event()

    def set(self) -> None:
        """Wake this process's runner, and the holder's in another process through the file."""
        self._event.set()
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.utime(fd)
            finally:
                os.close(fd)
        except OSError:  # a read-only or vanished folder: the other processes poll as before
            return

    def stamp(self) -> int:
        """The wake file's time now (0 when there is none); `wait` compares with a stamp taken before the work."""
        if self.path is None:
            return 0
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return 0

    def wait(self, seen: int, timeout_s: float) -> None:
        """Return when this process was woken, the file moved since `seen`, or `timeout_s` passed."""
        deadline = time.monotonic() + timeout_s
        while not self._event.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._event.wait(min(SLICE_S, left)) or self.stamp() != seen:
                break
        self._event.clear()
