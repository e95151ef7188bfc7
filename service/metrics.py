"""Prometheus metrics: requests, latency, scores by risk level and the serving model version (`GET /metrics`).

Each app has its own registry, so several apps in one process (tests) never share or clash on counters.
Labels carry route templates, never paths: a household pseudonym in a path must not become a metric label.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "relapse_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "relapse_request_seconds",
            "Server-side request latency",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.scores = Counter(
            "relapse_scores_total", "Households scored, by risk level", ["level"], registry=self.registry
        )
        self.model = Gauge(
            "relapse_model_info",
            "Serving model version (value 1 for the serving one)",
            ["version", "source"],
            registry=self.registry,
        )

    def set_model(self, version: str | None, source: str | None) -> None:
        self.model.clear()
        if version is not None:
            self.model.labels(version=version, source=source or "").set(1)


def install_metrics(app: FastAPI) -> Metrics:
    metrics = Metrics()
    app.state.metrics = metrics

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - start
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        # The same server-side time per response (W3C Server-Timing), for clients and the service benchmark.
        response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.3f}"
        return response

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        holder = getattr(app.state, "holder", None)
        current = holder.current if holder is not None else None
        metrics.set_model(current.version if current else None, current.source if current else None)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
