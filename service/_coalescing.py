"""Scoring requests that arrive together, scored together: one model pass and one transaction for all.

A worker process scores one batch at a time on a thread. A request that arrives while a batch is being scored
waits for the next batch, which takes every request waiting then (up to `max_rows` rows in all). With one
client a request is scored alone, at once; under load the fixed costs of a scoring pass — the model and SHAP
calls, the what-if predictions, the transaction with its write lock — are shared by the requests that would
otherwise have queued for the CPU one after another (dynamic batching, as model servers do it).

The passes run in the worker's scoring lane (`scoring_lane`): one thread at a time, in arrival order, shared with
small households:score requests. Scoring holds the GIL, so requests scored on several threads at once only take
turns, slowly: each switch costs time, and a request can lose many turns in a row. The effect on latency and
CPU per request, with the lane and without (`RELAPSE_COALESCE_ROWS=0`), is in docs/benchmarks.md ("Scoring
service").

A batch changes nothing a request sees: each keeps its caller, region checks, model version, answer and
errors (`service.scoring.score_requests`), and every decision is stored and audited before any answer of
the batch leaves. When the transaction fails, each request of the batch gets the error and no score.

The same queue serves pushed department events (`service.event_pushes`): the events of the requests waiting
together are stored in one transaction and their households rebuilt and re-scored in one pass.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence, Sized
from typing import Generic, TypeVar

import anyio

Request = TypeVar("Request", bound=Sized)  # its length is its number of rows
Answer = TypeVar("Answer")


def scoring_lane() -> anyio.CapacityLimiter:
    """One worker's lane for small scoring requests: one at a time, waiting in arrival order (anyio's
    limiter is first come, first served)."""
    return anyio.CapacityLimiter(1)


class Coalescer(Generic[Request, Answer]):
    """Collects the requests of one event loop and scores them in batches, one batch at a time. `scorer` takes a
    batch and hands back each request's answer or its own error, in order."""

    def __init__(
        self,
        max_rows: int,
        scorer: Callable[[Sequence[Request]], Sequence[Answer | Exception]],
        on_pass: Callable[[int], None] | None = None,
        lane: anyio.CapacityLimiter | None = None,
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self._scorer = scorer
        self._lane = lane  # the worker's scoring lane (`scoring_lane`), shared with small households:score requests
        self._on_pass = on_pass  # told the number of requests of every pass (the /metrics histogram)
        self._waiting: deque[tuple[Request, asyncio.Future[Answer]]] = deque()
        self._draining: asyncio.Task[None] | None = None

    async def score(self, request: Request) -> Answer:
        """The request's answer, scored with whatever requests wait with it; its own error raised."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Request, asyncio.Future[Answer]]] = []
        try:
            while self._waiting:
                batch = self._next_batch()
                if not batch:
                    break
                outcomes: Sequence[Answer | Exception]
                try:
                    requests = [request for request, _ in batch]
                    outcomes = await anyio.to_thread.run_sync(self._scorer, requests, limiter=self._lane)
                except Exception as error:  # the scorer hands errors back per request; this is a failure of its own
                    outcomes = [error] * len(batch)
                if self._on_pass is not None:
                    self._on_pass(len(batch))
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # the client went away; its decision is stored and audited all the same
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = None
            # Stopped (the event loop shuts down): no request is left waiting for an answer that never comes.
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting.clear()

    def _next_batch(self) -> list[tuple[Request, asyncio.Future[Answer]]]:
        """The waiting requests in arrival order, up to `max_rows` rows in all (at least one request, if any
        waits). Requests whose callers went away before scoring began are dropped: nothing was decided."""
        batch: list[tuple[Request, asyncio.Future[Answer]]] = []
        rows = 0
        while self._waiting:
            request, future = self._waiting[0]
            if future.done():
                self._waiting.popleft()
                continue
            if batch and rows + len(request) > self.max_rows:
                break
            self._waiting.popleft()
            batch.append((request, future))
            rows += len(request)
        return batch
