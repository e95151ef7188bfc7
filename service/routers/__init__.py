"""The API's routers, one per resource: scores, households, regions, jobs, model, reports, health."""

from service.routers import health, households, jobs, model, regions, reports, scores

__all__ = ["health", "households", "jobs", "model", "regions", "reports", "scores"]
