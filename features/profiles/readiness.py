"""Elimination readiness: which risk-elimination conditions a current monitoring object meets on `as_of`.

Risk is eliminated when income is stably above the line — for at least half a year — the three guarantees and
drinking water are secure and the assistance measures are in place (docs/domain.md §17) [中农组发〔2021〕7号].
Each condition is checked from the household's own profile, which reads only records dated before `as_of`, and
takes one of three states: met, not met, or not observed — a condition whose records are missing is never
counted as met. The household is ready when every condition is met.

The conditions are declared once, as data (`CONDITIONS`); `readiness_frame` (a profile table, for batch
scoring) and `readiness_row` (one household, for the API) both walk them. How each is read from the records
and its thresholds are this project's choices (`assumed`, docs/domain.md §17):

- income: the latest yearly income, after compliant medical costs, at or above that year's line, recorded after
  the identification (a record from before it says nothing about recovery) and in the last 400 days (the
  latest yearly collection); a yearly record covers twelve months, more than the six asked;
- six months: the latest identification at least 183 days before `as_of`, so that the stability the policy
  asks for can have been seen;
- housing, water: the latest check safe (grade A/B; all four water criteria met); no check is not observed;
- schooling: no child of compulsory-school age out of school and no dropout in 12 months; basic medical
  insurance: every member enrolled. Both read the yearly member collection, which covers every monitoring
  object, so a household without an out-of-school child there is read as met;
- measures: at least one assistance spell active on `as_of` or started in the last 12 months.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from features.profiles.status import MONITORED, status_frame, status_of

MET: Final = "met"
NOT_MET: Final = "not_met"
NOT_OBSERVED: Final = "not_observed"
STATES: Final[dict[str, tuple[str, str]]] = {
    MET: ("已满足", "met"),
    NOT_MET: ("未满足", "not met"),
    NOT_OBSERVED: ("未观测到", "not observed"),
}
FIELD: Final = "elimination_readiness"

Comparison = Literal[">=", "<=", "<"]
_COMPARE: Final[Mapping[Comparison, Callable[[Any, Any], Any]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Check:
    """`column` `compare` `threshold`, where the threshold is a number or another profile column's name."""

    column: str
    compare: Comparison
    threshold: float | str


@dataclass(frozen=True)
class ReadinessCondition:
    """One elimination condition: met when `met` holds (all checks, or any with `any_of`); not observed when a
    value a `met` check reads is missing or an `observed` check fails."""

    key: str
    zh: str
    en: str
    met: tuple[Check, ...]
    observed: tuple[Check, ...] = ()
    any_of: bool = False

    @property
    def shown(self) -> str:
        """The profile column whose value is shown beside the state."""
        return self.met[0].column


# Days: the six months of stable income the policy asks for, and how old the latest yearly income may be.
SIX_MONTHS_DAYS: Final = 183
INCOME_FRESH_DAYS: Final = 400

# fmt: off
CONDITIONS: Final[tuple[ReadinessCondition, ...]] = (
    ReadinessCondition(
        "income_above_line", "人均纯收入（扣除合规医疗自付）稳定超过监测线",
        "income after compliant medical costs above the line",
        met=(Check("income_after_medical_to_line", ">=", 1.0),),
        # assumed: a record dated before the identification says nothing about recovery; one older than the
        # latest yearly collection says nothing about now.
        observed=(Check("income_recorded_days_ago", "<", "days_since_identification"),
                  Check("income_recorded_days_ago", "<=", INCOME_FRESH_DAYS)),
    ),
    ReadinessCondition(
        "six_months_monitored", "纳入监测满6个月（收入稳定观察期）", "monitored for at least 6 months",
        met=(Check("days_since_identification", ">=", SIX_MONTHS_DAYS),),
    ),
    ReadinessCondition("housing_safe", "住房安全有保障", "housing safe (grade A/B)",
                       met=(Check("housing_unsafe", "<=", 0.0),)),
    ReadinessCondition("water_safe", "饮水安全有保障", "drinking water safe",
                       met=(Check("water_unsafe", "<=", 0.0),)),
    ReadinessCondition("schooling_secured", "义务教育有保障", "compulsory education secured",
                       met=(Check("children_out_of_school_count", "<=", 0.0), Check("dropouts_12m", "<=", 0.0))),
    ReadinessCondition("medical_insured", "基本医疗有保障（全员参保）", "every member in basic medical insurance",
                       met=(Check("uninsured_count", "<=", 0.0),)),
    ReadinessCondition(
        "measures_in_place", "帮扶措施已落实", "assistance measures in place",
        met=(Check("active_measures_count", ">=", 1.0), Check("assistance_spells_12m", ">=", 1.0)), any_of=True,
    ),
)
# fmt: on
KEYS: Final = tuple(c.key for c in CONDITIONS)


def readiness_frame(profiles: pd.DataFrame, conditions: tuple[ReadinessCondition, ...] = CONDITIONS) -> pd.DataFrame:
    """Every profile's condition states (one column per key, codes of `STATES`) and `ready` (all met), in row
    order, whatever the household's status; an absent column reads as missing."""
    n = len(profiles)
    out: dict[str, Any] = {}
    for condition in conditions:
        out[condition.key] = _states(profiles, condition, n)
    states = np.column_stack([out[c.key] for c in conditions]) if conditions else np.zeros((n, 0), object)
    out["ready"] = (states == MET).all(axis=1)
    return pd.DataFrame(out, index=profiles.index)


def elimination_readiness(
    profiles: pd.DataFrame, conditions: tuple[ReadinessCondition, ...] = CONDITIONS
) -> list[dict[str, Any] | None]:
    """The nested readiness of each profile (`readiness_row`), None for households not under monitoring."""
    frame = readiness_frame(profiles, conditions)
    monitored = (status_frame(profiles)["monitoring_status"] == MONITORED).to_numpy()
    out: list[dict[str, Any] | None] = [None] * len(profiles)
    for i in np.flatnonzero(monitored):
        out[i] = _nested(frame.iloc[i], profiles.iloc[i], conditions)
    return out


def readiness_row(
    row: Mapping[str, Any], conditions: tuple[ReadinessCondition, ...] = CONDITIONS
) -> dict[str, Any] | None:
    """One household's readiness: {ready, met, conditions: [{key, zh, en, state, value}]}; None unless it is
    a current monitoring object. Raises `StatusValueError` for a status value outside its code list."""
    if status_of(row).status != MONITORED:
        return None
    return elimination_readiness(pd.DataFrame([dict(row)]), conditions)[0]


def _nested(states: pd.Series, profile: pd.Series, conditions: tuple[ReadinessCondition, ...]) -> dict[str, Any]:
    items = [
        {"key": c.key, "zh": c.zh, "en": c.en, "state": states[c.key], "value": _value(profile.get(c.shown))}
        for c in conditions
    ]
    return {
        "ready": bool(states["ready"]),
        "met": sum(item["state"] == MET for item in items),
        "conditions": items,
    }


def _states(profiles: pd.DataFrame, condition: ReadinessCondition, n: int) -> np.ndarray:
    met_checks = [_check(profiles, c, n) for c in condition.met]
    holds = np.stack([h for h, _ in met_checks])
    known = np.stack([k for _, k in met_checks])
    met = holds.any(axis=0) if condition.any_of else holds.all(axis=0)
    # One check that holds decides an any-of condition; otherwise every value it reads must be known.
    observed = known.all(axis=0) | (condition.any_of & met)
    for check in condition.observed:
        holds_obs, _ = _check(profiles, check, n)
        observed &= holds_obs
    return np.where(observed, np.where(met, MET, NOT_MET), NOT_OBSERVED).astype(object)


def _check(profiles: pd.DataFrame, check: Check, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(holds, known) per row; with a missing value on either side the check neither holds nor is known."""
    values = _column(profiles, check.column, n)
    threshold = _column(profiles, check.threshold, n) if isinstance(check.threshold, str) else check.threshold
    known = ~np.isnan(values) & ~np.isnan(threshold)
    with np.errstate(invalid="ignore"):
        holds = np.asarray(_COMPARE[check.compare](values, threshold), dtype=bool) & known
    return holds, known


def _column(profiles: pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in profiles.columns:
        return np.full(n, np.nan)
    return pd.to_numeric(profiles[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _value(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number
