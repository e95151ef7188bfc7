"""Plain typed factories for the service tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from service.keys import Caller, create_key, verify_key
from service.store import ScoreInput
from service.tables import RiskLevel, Role


def make_caller(session: Session, role: Role = Role.MONITOR, region_prefix: str = "990101") -> Caller:
    """A real key in the database, verified like an API request would."""
    created = create_key(session, role=role, region_prefix=region_prefix, label=f"test {role} {region_prefix}")
    return verify_key(session, created.plaintext)


def make_score(
    pseudonym: str = "hh0001",
    region_code: str = "990101001001",
    *,
    probability: float = 0.3,
    level: RiskLevel = RiskLevel.MEDIUM,
    as_of: date = date(2024, 6, 30),
    reasons: list[str] | None = None,
    synthetic: bool = True,
    model_version: str = "relapse-risk/3",
    status: dict[str, Any] | None = None,
) -> ScoreInput:
    keys = ["01", "income"] if reasons is None else reasons
    reason_objects: list[dict[str, Any]] = [
        {"key": key, "points": round(0.1 / (i + 1), 4)} for i, key in enumerate(keys)
    ]
    return ScoreInput(
        household_pseudonym=pseudonym,
        region_code=region_code,
        as_of=as_of,
        model_version=model_version,
        probability=probability,
        level=level,
        input_hash=f"sha256:{pseudonym}{as_of:%Y%m%d}",
        reasons=reason_objects,
        measures=[{"measure": "medical_assistance", "risks": keys[:1]}],
        rule_flags={"income_below_line": probability > 0.5},
        synthetic=synthetic,
        status=status,
    )
