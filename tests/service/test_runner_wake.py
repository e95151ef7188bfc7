"""The job runner's wake signal reaches the lease holder from another process through the wake file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from service._runner_wake import WakeSignal


def test_another_process_touching_the_file_ends_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite.job-runner.wake"
    holder = WakeSignal(path)
    seen = holder.stamp()
    woke = threading.Event()

    def wait() -> None:
        holder.wait(seen, timeout_s=60)
        woke.set()

    waiting = threading.Thread(target=wait)
    waiting.start()
    time.sleep(0.2)
    assert not woke.is_set()  # nothing happened yet: still waiting
    code = (
        f"from pathlib import Path; from service._runner_wake import WakeSignal; WakeSignal(Path({str(path)!r})).set()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
    assert woke.wait(30)  # far below the 60 s the wait would otherwise last
    waiting.join()
    assert path.stat().st_mode & 0o077 == 0  # private to the service's user


def test_a_touch_during_the_work_is_not_missed_and_without_one_the_wait_times_out(tmp_path: Path) -> None:
    signal = WakeSignal(tmp_path / "wake")
    seen = signal.stamp()
    WakeSignal(tmp_path / "wake").set()  # another process, while this one was working
    started = time.monotonic()
    signal.wait(seen, timeout_s=60)
    assert time.monotonic() - started < 30
    quiet = signal.stamp()
    started = time.monotonic()
    signal.wait(quiet, timeout_s=0.3)
    assert time.monotonic() - started >= 0.3


def test_without_a_file_the_event_alone_wakes(tmp_path: Path) -> None:
    signal = WakeSignal(None)
    signal.set()
    started = time.monotonic()
    signal.wait(signal.stamp(), timeout_s=60)
    assert time.monotonic() - started < 30 and signal.stamp() == 0
