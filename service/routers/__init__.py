"""The API's routers, one per resource: scores, households, regions, model, health."""

from service.routers import health, households, model, regions, scores

__all__ = ["health", "households", "model", "regions", "scores"]
