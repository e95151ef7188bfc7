"""The monitoring type a household would enter as, were it identified: from its status, registration and shocks.

The 2021 guidance names three kinds of monitoring object (docs/domain.md §2, §15) [中农组发〔2021〕7号]. A current
monitoring object keeps the type its identification recorded. Every other household (not monitored, risk
eliminated, status unknown) gets the type it would enter as, by the first rule of `TYPE_RULE` that holds:

1. a poverty-alleviated household (`poverty_alleviated` == 1) → 脱贫不稳定户 `unstable`;
2. income above the line on the latest income year and a shock in the last 12 months large against its means
   (any of `SHOCKS`) → 突发严重困难户 `sudden`;
3. otherwise → 边缘易致贫户 `marginal`: an ordinary household at risk from income near or below the line.

The guidance describes a sudden-difficulty household as one whose income is *above* the monitoring range; one
already inside it is marginal whatever befell it, which also keeps the margin ratios (whose denominator is floored
at 10 % of the line) from calling a small loss of a poor household a shock. The thresholds are `assumed`.

The rule is declared once, as data; `expected_type_row` (one household, for the API) and `expected_types` (a
profile table, for batch scoring) both walk it. A missing value never makes a shock nor a former poor household.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from features.profiles.status import MONITORED, status_frame, status_of

UNSTABLE: Final = "unstable"
MARGINAL: Final = "marginal"
SUDDEN: Final = "sudden"
FIELD: Final = "expected_monitoring_type"

Comparison = Literal[">=", "<="]
# With a NaN on either side both comparisons are false: a missing value stays silent.
_COMPARE: Final[Mapping[Comparison, Callable[[Any, Any], Any]]] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Condition:
    """`column` `compare` `threshold` on a profile value; `zh`/`en` say what it means."""

    column: str
    compare: Comparison
    threshold: float
    zh: str
    en: str


@dataclass(frozen=True)
class TypeRule:
    """The rule of the module docstring: who is former poor, the income gate and the shocks of `sudden`."""

    former_poor: Condition
    above_line: Condition
    shocks: tuple[Condition, ...]


# fmt: off
SHOCKS: Final[tuple[Condition, ...]] = (
    # assumed: rigid medical spending above half the household's yearly net income.
    Condition("oop_to_income_12m", ">=", 0.5, "住院自付达家庭纯收入的50%", "hospital costs ≥ 50 % of net income"),
    # assumed: the same share for direct disaster losses.
    Condition("disaster_loss_to_income_12m", ">=", 0.5, "灾害损失达家庭纯收入的50%",
              "disaster losses ≥ 50 % of net income"),
    # assumed: per-member accident or business losses that use up the whole margin above the line.
    Condition("accident_cost_to_margin_12m", ">=", 1.0, "人均意外事故损失超过收入高出监测线部分",
              "accident costs per member ≥ the income margin above the line"),
    Condition("business_loss_to_margin_12m", ">=", 1.0, "人均产业损失超过收入高出监测线部分",
              "business losses per member ≥ the income margin above the line"),
    # assumed: the same sharp fall as the official-rule flag `income_sharp_drop` (features.profiles.rules).
    Condition("income_pc_change_1y", "<=", -0.5, "人均纯收入较上年下降50%以上",
              "per-capita income fell by ≥ 50 % on the year before"),
)
TYPE_RULE: Final = TypeRule(
    former_poor=Condition("poverty_alleviated", ">=", 1.0, "脱贫户", "poverty-alleviated household"),
    above_line=Condition("income_to_line", ">=", 1.0, "人均纯收入不低于监测线", "income at or above the line"),
    shocks=SHOCKS,
)
# fmt: on


def expected_type_row(row: Mapping[str, Any], rule: TypeRule = TYPE_RULE) -> str | None:
    """The monitoring-type code of one profile row (module docstring); None for a monitored household whose
    identification recorded no type. Raises `StatusValueError` for a status value outside its code list."""
    status = status_of(row)
    if status.status == MONITORED:
        return status.monitoring_type
    holds = [_holds_value(row.get(c.column), c) for c in _conditions(rule)]
    return _choose(holds[0], holds[1], any(holds[2:]))


def expected_types(profiles: pd.DataFrame, rule: TypeRule = TYPE_RULE) -> np.ndarray:
    """The monitoring-type codes of a profile table, an object array in row order: `expected_type_row` on
    every row, a column at a time."""
    status = status_frame(profiles)
    n = len(profiles)
    holds = [_holds_column(profiles, c, n) for c in _conditions(rule)]
    shock = np.logical_or.reduce(holds[2:]) if len(holds) > 2 else np.zeros(n, dtype=bool)
    out = np.select(
        [holds[0], holds[1] & shock], [np.array(UNSTABLE, dtype=object), np.array(SUDDEN, dtype=object)], MARGINAL
    ).astype(object)
    monitored = (status["monitoring_status"] == MONITORED).to_numpy()
    recorded = status["monitoring_type"].to_numpy(dtype=object)
    out[monitored] = [None if pd.isna(code) else code for code in recorded[monitored]]
    return out


def _conditions(rule: TypeRule) -> tuple[Condition, ...]:
    return (rule.former_poor, rule.above_line, *rule.shocks)


def _choose(former_poor: bool, above_line: bool, shock: bool) -> str:
    if former_poor:
        return UNSTABLE
    return SUDDEN if above_line and shock else MARGINAL


def _holds_value(value: Any, condition: Condition) -> bool:
    number = _number(value)
    return bool(_COMPARE[condition.compare](number, condition.threshold))


def _holds_column(profiles: pd.DataFrame, condition: Condition, n: int) -> np.ndarray:
    if condition.column not in profiles.columns:
        return np.zeros(n, dtype=bool)
    values = pd.to_numeric(profiles[condition.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(_COMPARE[condition.compare](values, condition.threshold), dtype=bool)


def _number(value: Any) -> float:
    """A profile value as a float; missing or unreadable values as NaN (never a shock)."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
