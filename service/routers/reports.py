"""Reports for officials: household, region and model pages (HTML and PDF) under /reports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/reports", tags=["reports"])
