"""Batch jobs: submit source tables (upload or a path under the allowed root), follow progress, fetch results."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
