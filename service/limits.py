"""Per-key limits: requests per minute (a token bucket per key) and requests in flight at once.

A leaked or runaway key must not take the whole service: past its role's rate, or with too many requests in
flight, a key gets 429 with `Retry-After` while every other key is served as before. The counters live in each
worker process (`relapse serve --workers N` allows N times the rate); assumed sufficient against one client
flooding the service, not a distributed quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from service.errors import ServiceError


class RateLimitedError(ServiceError):
    """The key is over its limit; `retry_after_s` says when it may try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    updated: float
    in_flight: int = 0


class KeyLimits:
    def __init__(self, per_minute: Mapping[str, int], concurrent: int) -> None:
        self.per_minute = dict(per_minute)
        self.concurrent = concurrent
        self._buckets: dict[int | None, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key_id: int | None, role: str, now: float | None = None) -> None:
        """Count one request of the key, or raise `RateLimitedError` (nothing counted then)."""
        rate = self.per_minute.get(role, 0)
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.setdefault(key_id, _Bucket(float(rate), now))
            if rate > 0:
                bucket.tokens = min(float(rate), bucket.tokens + (now - bucket.updated) * rate / 60.0)
                bucket.updated = now
                if bucket.tokens < 1.0:
                    wait = math.ceil((1.0 - bucket.tokens) * 60.0 / rate)
                    raise RateLimitedError(f"this key is over its {rate} requests per minute", max(wait, 1))
            if bucket.in_flight >= self.concurrent:
                raise RateLimitedError(f"this key has {self.concurrent} requests in flight already", 1)
            if rate > 0:
                bucket.tokens -= 1.0
            bucket.in_flight += 1

    def release(self, key_id: int | None) -> None:
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is not None and bucket.in_flight > 0:
                bucket.in_flight -= 1
