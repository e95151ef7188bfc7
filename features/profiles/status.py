"""A household's monitoring status as of the reference date: its codes and how a profile row's status is read.

The profile builder computes the status from the identifications table (`features.profiles._monitoring`) as six
meta columns (`STATUS_COLUMNS`), never as model features. The four states (docs/domain.md §11):

- `not_monitored` 未纳入监测: no identification dated before `as_of`;
- `monitored` 已纳入监测: an identification dated before `as_of` whose risk elimination is not dated before
  `as_of` — a current monitoring object (防止返贫致贫对象);
- `eliminated` 已风险消除: identified before, and every such identification's risk eliminated before `as_of`;
- `unknown` 未知: the input cannot tell — profile rows sent to `POST /v1/profiles:score` without the status
  columns, or profiles brought from another system.

A current monitoring object cannot be *newly* identified: the model was not trained on such households, and the
"new risk" outputs (risk-level counts, visit lists, disagreements with the rules) leave them out. Households
whose risk was eliminated can be identified again, and households of unknown status are kept, marked unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from features.contract import codes

NOT_MONITORED: Final = "not_monitored"
MONITORED: Final = "monitored"
ELIMINATED: Final = "eliminated"
UNKNOWN: Final = "unknown"

STATUSES: Final[codes.Labels] = {
    NOT_MONITORED: ("未纳入监测", "not under monitoring"),
    MONITORED: ("已纳入监测", "under monitoring"),
    ELIMINATED: ("已风险消除", "risk eliminated"),
    UNKNOWN: ("监测状态未知", "monitoring status unknown"),
}

# Statuses of households that can be newly identified: what the model's probability speaks about.
NEWLY_IDENTIFIABLE: Final = frozenset({NOT_MONITORED, ELIMINATED, UNKNOWN})

# The status meta columns of a profile, with (zh, en) descriptions; the result record carries the same names.
STATUS_COLUMNS: Final[dict[str, tuple[str, str]]] = {
    "monitoring_status": (
        "参考日的监测状态：未纳入监测、已纳入监测、已风险消除或未知",
        "monitoring status on the reference date: not_monitored, monitored, eliminated or unknown",
    ),
    "monitoring_type": ("监测对象类型（最近一次识别）", "monitoring type of the latest identification"),
    "monitoring_risk_types": (
        "最近一次识别登记的风险类型代码，逗号分隔",
        "risk-type codes recorded by the latest identification, comma-separated",
    ),
    "identified_date": ("最近一次纳入监测的日期", "date of the latest identification"),
    "elimination_date": ("风险消除日期（参考日之前）", "date the risk was eliminated (before the reference date)"),
    "elimination_way": ("风险消除方式：帮扶消除或自然消除", "way the risk was eliminated: assisted or natural"),
}
DATE_COLUMNS: Final = ("identified_date", "elimination_date")


class StatusValueError(ValueError):
    """A status column holds a value outside its code list or not a date; `field` names the column."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MonitoringStatus:
    """One household's status as of `as_of` (module docstring); details are None where they do not apply."""

    status: str
    monitoring_type: str | None = None
    risk_types: tuple[str, ...] = ()
    identified_date: date | None = None
    elimination_date: date | None = None
    elimination_way: str | None = None

    @property
    def newly_identifiable(self) -> bool:
        return self.status in NEWLY_IDENTIFIABLE

    def columns(self) -> dict[str, Any]:
        """The values as the status columns hold them (risk types comma-joined, None where empty)."""
        return {
            "monitoring_status": self.status,
            "monitoring_type": self.monitoring_type,
            "monitoring_risk_types": ",".join(self.risk_types) or None,
            "identified_date": self.identified_date,
            "elimination_date": self.elimination_date,
            "elimination_way": self.elimination_way,
        }


def status_of(row: Mapping[str, Any]) -> MonitoringStatus:
    """The status a profile row (or a result row) carries; `unknown` when it carries none.

    Raises `StatusValueError` for a value outside the code lists or a date that cannot be read."""
    status = _text(row.get("monitoring_status"))
    if status is None:
        return MonitoringStatus(UNKNOWN)
    if status not in STATUSES:
        raise StatusValueError("monitoring_status", f"must be one of {', '.join(STATUSES)}")
    kind = _code(row, "monitoring_type", codes.MONITORING_TYPES)
    way = _code(row, "elimination_way", codes.ELIMINATION_WAYS)
    raw = row.get("monitoring_risk_types")
    risks = ",".join(map(str, raw)) if isinstance(raw, list | tuple) else _text(raw)  # nested or flat form
    risk_types = tuple(code.strip() for code in risks.split(",") if code.strip()) if risks else ()
    for code in risk_types:
        if code not in codes.RISK_TYPES:
            raise StatusValueError("monitoring_risk_types", f"holds {code!r}, not a risk-type code")
    return MonitoringStatus(
        status, kind, risk_types, _date(row, "identified_date"), _date(row, "elimination_date"), way
    )


def status_frame(profiles: pd.DataFrame) -> pd.DataFrame:
    """The status columns of a profile frame, one row per profile: missing columns or values read as unknown.

    What the batch scorer writes into result records; the same values as `status_of` on each row."""
    n = len(profiles)
    out: dict[str, Any] = {}
    for name in STATUS_COLUMNS:
        column = profiles[name] if name in profiles.columns else pd.Series([None] * n, index=profiles.index)
        if name in DATE_COLUMNS:
            out[name] = pd.to_datetime(column, errors="raise").dt.normalize().to_numpy(dtype="datetime64[ns]")
        else:
            values = column.to_numpy(dtype=object, copy=True)
            missing = pd.isna(column).to_numpy()
            values[missing] = None
            out[name] = values
    status = out["monitoring_status"]
    status[pd.isna(status)] = UNKNOWN
    return pd.DataFrame(out, index=profiles.index)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value) if str(value) else None


def _code(row: Mapping[str, Any], field: str, labels: codes.Labels) -> str | None:
    value = _text(row.get(field))
    if value is not None and value not in labels:
        raise StatusValueError(field, f"must be one of {', '.join(labels)}")
    return value


def _date(row: Mapping[str, Any], field: str) -> date | None:
    value = row.get(field)
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise StatusValueError(field, "must be a date (YYYY-MM-DD) or null") from None
