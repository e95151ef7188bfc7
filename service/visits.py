"""Home visits: what a grid worker or village official found at a household, recorded as it comes back.

The department early-warning channel hands a work list to grid workers; a visit closes the loop for one
household. A visit says when and by whom (role and grid), which list and rank sent the visitor, what was found
(`OUTCOMES`), for a household taken into monitoring its monitoring type and risk types, the measures started
(codes of the measure table), the next review date, and a short note.

Visits are append-only: nothing updates or deletes one. A mistake is corrected by a new visit that names the one
it corrects (`corrects`); readers take the latest visit that no later visit corrects. Each visit records the key
that wrote it (NULL for the operator's `relapse visits import`) and when: the table is its own audit trail.

A note is free text typed on a phone, so it is refused if it holds an ID number or a mobile-phone number: such a
note would carry personal data into storage in clear. Names cannot be recognised reliably and are left to the
visitor's instructions (docs/api.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.contract import codes
from features.contract.id_numbers import contains_id_number
from service.errors import InvalidFieldError, NotFoundError
from service.scope import Scope
from service.tables import IssuedList, IssuedListRow, LatestScore, Visit

# Outcome code → (zh, en). The wording follows the monitoring process: a visit either takes the household into
# monitoring, finds it not eligible, finds it already in (or already out of) monitoring, or could not be done.
OUTCOMES: Final[dict[str, tuple[str, str]]] = {
    "enrolled": ("纳入监测", "taken into monitoring"),
    "not_at_risk": ("不符合条件（无风险）", "not eligible: no risk found"),
    "already_monitored": ("已是监测对象", "already a monitoring object"),
    "already_eliminated": ("已风险消除", "risk already eliminated"),
    "not_found": ("未找到", "household not found"),
    "refused": ("拒绝", "refused the visit"),
    "away": ("外出", "away from home"),
}
# Who visited (assumed list: the people the monitoring process sends to a household).
VISITOR_ROLES: Final[dict[str, tuple[str, str]]] = {
    "grid_worker": ("网格员", "grid worker"),
    "village_cadre": ("村干部", "village cadre"),
    "resident_team": ("驻村工作队", "resident work team"),
    "township_cadre": ("乡镇干部", "township cadre"),
    "department_staff": ("行业部门人员", "department staff"),
}
# Outcomes after which the household needs no new visit until new evidence arrives (the work list drops it).
SETTLED: Final = frozenset({"not_at_risk", "already_monitored", "already_eliminated"})
# Outcomes of a visit that met nobody: they say nothing about the household (not counted as visited).
NOT_MET: Final = frozenset({"not_found", "refused", "away"})
NOTE_MAX_CHARS: Final = 200
EARLIEST: Final = date(1900, 1, 1)

# A mainland mobile number (11 digits, 1[3-9]…), with or without +86 and separators.
_PHONE: Final = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9][0-9](?:[\s-]?[0-9]{4}){2}(?![0-9])")
_GRID: Final = re.compile(r"^[0-9A-Za-z_-]{1,32}$")

Outcome = Literal["enrolled", "not_at_risk", "already_monitored", "already_eliminated", "not_found", "refused", "away"]
VisitorRole = Literal["grid_worker", "village_cadre", "resident_team", "township_cadre", "department_staff"]


def holds_phone_number(text: str) -> bool:
    return _PHONE.search(text) is not None


class VisitIn(BaseModel):
    """One visit as a visitor reports it (the API's body, one row of an imported sheet)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "visited_on": "2025-07-10",
                    "visitor_role": "grid_worker",
                    "visitor_grid": "G-07",
                    "list_version": "990101001001-20250701",
                    "list_rank": 3,
                    "outcome": "enrolled",
                    "monitoring_type": "unstable",
                    "risk_types": ["01", "04"],
                    "measures_started": ["medical_assistance"],
                    "next_review_on": "2025-10-10",
                    "note": "住院后家中缺劳力",
                },
                {"visited_on": "2025-07-11", "visitor_role": "village_cadre", "outcome": "not_at_risk"},
            ]
        },
    )

    visited_on: date
    visitor_role: VisitorRole
    visitor_grid: str | None = Field(default=None, description="the visitor's grid (网格) code")
    list_version: str | None = Field(default=None, max_length=64, description="the work list that sent the visitor")
    list_rank: int | None = Field(default=None, ge=1, le=1_000_000, description="the household's rank on that list")
    outcome: Outcome
    monitoring_type: str | None = Field(
        default=None, validate_default=True, description="for `enrolled`: 监测类型 code"
    )
    risk_types: list[str] = Field(
        default_factory=list, max_length=5, validate_default=True, description="for `enrolled`: 风险类型 codes"
    )
    measures_started: list[str] = Field(default_factory=list, max_length=20, description="measure-table codes")
    next_review_on: date | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)
    corrects: int | None = Field(default=None, ge=1, description="id of the visit this one corrects")

    @field_validator("visited_on", "next_review_on")
    @classmethod
    def _within_bounds(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST <= value <= date(2100, 12, 31):
            raise ValueError("must lie between 1900-01-01 and 2100-12-31")
        return value

    @field_validator("visitor_grid")
    @classmethod
    def _grid_code(cls, value: str | None) -> str | None:
        if value is not None and not _GRID.match(value):
            raise ValueError("a grid code is 1–32 letters, digits, '-' or '_'")
        return value

    @field_validator("monitoring_type")
    @classmethod
    def _monitoring_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        enrolled = info.data.get("outcome") == "enrolled"
        if value is None and enrolled:
            raise ValueError("an `enrolled` visit gives the monitoring type")
        if value is not None and not enrolled:
            raise ValueError("belongs to `enrolled` visits only")
        if value is not None and value not in codes.MONITORING_TYPES:
            raise ValueError(f"not a monitoring type; one of {', '.join(codes.MONITORING_TYPES)}")
        return value

    @field_validator("risk_types")
    @classmethod
    def _risk_types(cls, value: list[str], info: ValidationInfo) -> list[str]:
        enrolled = info.data.get("outcome") == "enrolled"
        if not value and enrolled:
            raise ValueError("an `enrolled` visit gives at least one risk type")
        if value and not enrolled:
            raise ValueError("belongs to `enrolled` visits only")
        unknown = [v for v in value if v not in codes.RISK_TYPES]
        if unknown:
            raise ValueError(f"not risk-type codes: {', '.join(unknown)}")
        if len(set(value)) != len(value):
            raise ValueError("a risk type is listed twice")
        return value

    @field_validator("measures_started")
    @classmethod
    def _measures(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in codes.MEASURES]
        if unknown:
            raise ValueError(f"not measure codes: {', '.join(unknown)}")
        return value

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        if value and contains_id_number(value):
            raise ValueError("holds an ID number; write the note without it")
        if value and holds_phone_number(value):
            raise ValueError("holds a phone number; write the note without it")
        return value or None

    @field_validator("next_review_on")
    @classmethod
    def _after_the_visit(cls, value: date | None, info: ValidationInfo) -> date | None:
        visited = info.data.get("visited_on")
        if value is not None and visited is not None and value < visited:
            raise ValueError("is before visited_on")
        return value


@dataclass(frozen=True)
class VisitProblem:
    """Why one visit cannot be stored: the row (of an imported sheet; 0 for an API request), field and reason."""

    row: int
    field: str
    message: str


def problems_of(error_list: Sequence[dict[str, object]], row: int) -> list[VisitProblem]:
    """Pydantic's validation errors as problems naming the field (never the submitted value)."""
    out = []
    for error in error_list:
        location = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]  # type: ignore[attr-defined]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        out.append(VisitProblem(row, ".".join(location) or "visit", message))
    return out


# --- storage ------------------------------------------------------------------------------------------------
def household_region(session: Session, scope: Scope, pseudonym: str) -> str | None:
    """The village the household was last scored in, inside `scope` (None: unknown to the caller)."""
    query = (
        select(LatestScore.region_code)
        .where(LatestScore.household_pseudonym == pseudonym, scope.filter(LatestScore.region_code))
        .order_by(LatestScore.as_of.desc(), LatestScore.scored_at.desc())
        .limit(1)
    )
    return session.scalar(query)


def record_visit(
    session: Session, scope: Scope, pseudonym: str, visit: VisitIn, *, key_id: int | None, source: str
) -> Visit:
    """Store one visit of a household the caller can see (NotFoundError otherwise, as for any unknown household).

    A correction must name an earlier visit of the same household. The caller commits."""
    region = household_region(session, scope, pseudonym)
    if region is None:
        raise NotFoundError("no household with this id in your region")
    if visit.corrects is not None:
        corrected = session.get(Visit, visit.corrects)
        if corrected is None or corrected.household_pseudonym != pseudonym or not scope.contains(corrected.region_code):
            raise InvalidFieldError("corrects", "no visit of this household with this id")
    _check_listed(session, pseudonym, visit)
    row = Visit(
        household_pseudonym=pseudonym,
        region_code=region,
        visited_on=visit.visited_on,
        visitor_role=visit.visitor_role,
        visitor_grid=visit.visitor_grid,
        list_version=visit.list_version,
        list_rank=visit.list_rank,
        outcome=visit.outcome,
        monitoring_type=visit.monitoring_type,
        risk_types=list(visit.risk_types),
        measures_started=list(visit.measures_started),
        next_review_on=visit.next_review_on,
        note=visit.note,
        corrects_id=visit.corrects,
        key_id=key_id,
        source=source,
    )
    session.add(row)
    session.flush()
    return row


def _check_listed(session: Session, pseudonym: str, visit: VisitIn) -> None:
    """A visit that names a list the service issued must match it: training weighs its outcome by the household's
    selection probability on that list (service.outcomes). A version the service did not issue (a printed work
    list's) is taken as named: assumed, those visits then carry no selection probability."""
    if visit.list_version is None:
        return
    listed = session.scalar(select(IssuedList.id).where(IssuedList.list_version == visit.list_version))
    if listed is None:
        return
    rank = session.scalar(
        select(IssuedListRow.rank).where(
            IssuedListRow.list_id == listed, IssuedListRow.household_pseudonym == pseudonym
        )
    )
    if rank is None:
        raise InvalidFieldError("list_version", "this household is not on that issued list")
    if visit.list_rank is not None and visit.list_rank != rank:
        raise InvalidFieldError("list_rank", f"the household is ranked {rank} in its village on that issued list")


def household_visits(session: Session, scope: Scope, pseudonym: str) -> list[Visit]:
    """Every visit of the household inside `scope`, newest first (corrections included, each naming its target)."""
    query = (
        select(Visit)
        .where(Visit.household_pseudonym == pseudonym, scope.filter(Visit.region_code))
        .order_by(Visit.visited_on.desc(), Visit.id.desc())
    )
    return list(session.scalars(query))


def standing(visits: Sequence[Visit]) -> list[Visit]:
    """The visits no other visit corrects: what the household's record says now."""
    corrected = {v.corrects_id for v in visits if v.corrects_id is not None}
    return [v for v in visits if v.id not in corrected]


def latest_visits(session: Session, scope: Scope) -> dict[str, Visit]:
    """Each household's latest standing visit in `scope` (by visit date, then id): what the work list shows."""
    visits = list(session.scalars(select(Visit).where(scope.filter(Visit.region_code)).order_by(Visit.id)))
    latest: dict[str, Visit] = {}
    for visit in standing(visits):
        current = latest.get(visit.household_pseudonym)
        if current is None or (visit.visited_on, visit.id) > (current.visited_on, current.id):
            latest[visit.household_pseudonym] = visit
    return latest


@dataclass(frozen=True)
class HitRate:
    """Of the households a work list sent visitors to, how many were visited and how many taken into monitoring."""

    list_version: str
    visited: int
    enrolled: int

    @property
    def rate(self) -> float | None:
        return self.enrolled / self.visited if self.visited else None


def hit_rates(session: Session, scope: Scope) -> list[HitRate]:
    """Per work-list version (latest first): households visited from it and those taken into monitoring."""
    latest = latest_visits(session, scope)
    by_list: dict[str, tuple[set[str], set[str]]] = {}
    for visit in latest.values():
        if visit.list_version is None or visit.outcome in NOT_MET:
            continue
        visited, enrolled = by_list.setdefault(visit.list_version, (set(), set()))
        visited.add(visit.household_pseudonym)
        if visit.outcome == "enrolled":
            enrolled.add(visit.household_pseudonym)
    return [HitRate(version, len(v), len(e)) for version, (v, e) in sorted(by_list.items(), reverse=True)]
