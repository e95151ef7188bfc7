"""Prometheus metrics: requests, latency, scores by risk level and the serving model version (`GET /metrics`).

Each app has its own registry, so several apps in one process (tests) never share or clash on counters.
Labels carry route templates, never paths: a household pseudonym in a path must not become a metric label.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
        self.scoring_passes = Histogram(
            "relapse_scoring_pass_requests",
            "profiles:score requests answered by one scoring pass (requests that arrived together)",
            buckets=(1, 2, 3, 4, 6, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.model = Gauge(
            "relapse_model_info",
            "Serving model version (value 1 for the serving one)",
            ["version", "source"],
            registry=self.registry,
        )

        self.model_refusals = Gauge(
            "relapse_model_refusals",
            "Model versions refused since start (unsigned, tampered or unloadable); the previous one keeps serving",
            registry=self.registry,
        )

    def set_model(self, version: str | None, source: str | None) -> None:
        self.model.clear()
        if version is not None:
            self.model.labels(version=version, source=source or "").set(1)


class ObserveMiddleware:
    """Counts and times every HTTP request (plain ASGI: no extra task and stream per request, unlike
    `@app.middleware("http")`). The time runs from the request reaching the app to the response's start."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - start
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(scope["method"], route, str(message["status"])).inc()
                self.metrics.latency.labels(route).observe(elapsed)
                # The same server-side time per response (W3C Server-Timing), for clients and the benchmark.
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={elapsed * 1000:.3f}")
            await send(message)

        await self.app(scope, receive, observed)


def install_metrics(app: FastAPI) -> Metrics:
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(ObserveMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        holder = getattr(app.state, "holder", None)
        current = holder.current if holder is not None else None
        metrics.set_model(current.version if current else None, current.source if current else None)
        metrics.model_refusals.set(holder.refusals if holder is not None else 0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
