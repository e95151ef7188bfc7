"""The official-rule baseline: the criteria monitoring offices apply today, as flags on a profile table.

Each rule is declared once, as data (`RULES`): the profile value it reads, the comparisons that raise it and
where each threshold comes from. `rule_flags` (a profile table) and `rule_flags_row` (one household, for the
API) both evaluate that declaration through the same walk (`_raised`); they differ only in how a value is
read and combined, a column at a time or one Python number at a time. A rule change is made in one place.

Each rule cites its source in docs/domain.md; thresholds that are local policy or our assumption live in
`RuleConfig` so that a deployment sets its own. The rule score ranks households by the weighted number of
flags, ties broken by the lower income-to-line ratio: the baseline every model must beat, and the flags
shown beside a model's score.

Flags read only profile columns, so they inherit the profile's point-in-time guarantee. A value that is
missing (no income record, no housing check) never raises a flag: unknown is not evidence.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import pandas as pd

from features.contract.monitoring_lines import YearProvinceTable, default_rural_incomes

# --- the vocabulary of a rule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A threshold read from the `RuleConfig` field `name`; `negate` turns "a fall of at least x" into `<= -x`."""

    name: str
    negate: bool = False


@dataclass(frozen=True)
class ByStatus:
    """`then` for a household with any of the `statuses` columns equal to 1, `otherwise` for the rest.

    A missing status is not the status: the household gets `otherwise`.
    """

    statuses: tuple[str, ...]
    then: Setting
    otherwise: Setting


@dataclass(frozen=True)
class ShareOfRuralIncome:
    """`share` × the province's rural per-capita income of the year before the expenditure year.

    The reference is `RuleConfig.rural_incomes`, read for the household's `province_code` and the expenditure
    year: the year of the day before `as_of`, where the 12-month window ends. Unknown when `as_of` is missing.
    """

    share: Setting | ByStatus


@dataclass(frozen=True)
class LargestKnown:
    """The largest of several profile columns, skipping missing ones; missing only when all of them are.

    For "A or B exceeds t": the largest known value exceeds t exactly when one of the known values does.
    """

    columns: tuple[str, ...]


Threshold: TypeAlias = float | Setting | ByStatus | ShareOfRuralIncome
Comparison: TypeAlias = Literal["<", "<=", ">", ">=", "=="]

# The same operators compare NumPy columns and Python numbers; with a NaN on either side they are false,
# which is how a missing value stays silent.
_COMPARE: Final[Mapping[Comparison, Callable[[Any, Any], Any]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Rule:
    """One official trigger: its texts, source and score weight, and when it is raised.

    The flag is raised when `value` (a profile column, or the largest known of several) passes every
    `(comparison, threshold)` of `when`. Missing values never raise it: a comparison with a missing value is
    false, `LargestKnown` skips missing columns, a missing status is not the status (`ByStatus`), and a
    missing `as_of` leaves the rural income reference unknown (`ShareOfRuralIncome`).
    """

    name: str
    zh: str
    en: str
    source: str
    weight: int  # points in the rule score (documented choice: income evidence counts most)
    value: str | LargestKnown
    when: tuple[tuple[Comparison, Threshold], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The profile columns the rule reads: its value's, then its thresholds'."""
        read = [self.value] if isinstance(self.value, str) else list(self.value.columns)
        for _, threshold in self.when:
            read += _threshold_columns(threshold)
        return tuple(dict.fromkeys(read))

    @property
    def settings(self) -> tuple[str, ...]:
        """The `RuleConfig` fields the rule's thresholds read."""
        return tuple(dict.fromkeys(name for _, threshold in self.when for name in _threshold_settings(threshold)))


def _threshold_columns(threshold: Threshold) -> list[str]:
    if isinstance(threshold, ByStatus):
        return list(threshold.statuses)
    if isinstance(threshold, ShareOfRuralIncome):
        return [*_threshold_columns(threshold.share), "as_of", "province_code"]
    return []


def _threshold_settings(threshold: Threshold) -> list[str]:
    if isinstance(threshold, Setting):
        return [threshold.name]
    if isinstance(threshold, ByStatus):
        return [threshold.then.name, threshold.otherwise.name]
    if isinstance(threshold, ShareOfRuralIncome):
        return [*_threshold_settings(threshold.share), "rural_incomes"]
    return []


# --- the rules ----------------------------------------------------------------------------------------------

# docs/domain.md §3: monitored or poverty-alleviated people have the lower limits.
_PROTECTED: Final = ("poverty_alleviated", "under_monitoring")
_ALLEVIATED: Final = ("poverty_alleviated",)
_YES: Final = 1.0  # indicator columns: 1 = yes, 0 = no

RULES: Final[tuple[Rule, ...]] = (
    Rule("income_below_line", "人均纯收入低于监测线", "per-capita net income below the monitoring line",
         "docs/domain.md §2–§3 (income inside the monitoring range)", 3,
         value="income_to_line", when=(("<", Setting("income_line_multiple")),)),
    Rule("income_near_line", "人均纯收入接近监测线", "per-capita net income just above the monitoring line",
         "docs/domain.md §2 (marginal households; band width assumed)", 1,
         value="income_to_line",
         when=((">=", Setting("income_line_multiple")), ("<", Setting("near_line_multiple")))),
    Rule("income_sharp_drop", "收入大幅下降", "sharp drop of per-capita net income",
         "docs/domain.md §2 (突发严重困难户: sharp income drop; threshold assumed)", 2,
         value="income_pc_change_1y", when=(("<=", Setting("sharp_drop", negate=True)),)),
    Rule("rigid_medical_single_stay", "单次住院自付超标", "one hospital stay over the out-of-pocket limit",
         "docs/domain.md §3 (single stay > 6,000 / 10,000 yuan)", 2,
         value="max_stay_oop_12m_yuan",
         when=((">", ByStatus(_PROTECTED, Setting("single_stay_oop_protected_yuan"),
                              Setting("single_stay_oop_other_yuan"))),)),
    # The year's out-of-pocket cost: the larger of the hospital records and the declared figure.
    Rule("rigid_medical_yearly", "年度医疗自付超标", "yearly out-of-pocket medical cost over the threshold",
         "docs/domain.md §3 (> 50 % / 100 % of the prior-year provincial rural income)", 2,
         value=LargestKnown(("hospital_oop_12m_yuan", "medical_oop_last_year_yuan")),
         when=((">", ShareOfRuralIncome(ByStatus(_ALLEVIATED, Setting("yearly_oop_share_alleviated"),
                                                 Setting("yearly_oop_share_other")))),)),
    Rule("child_out_of_school", "义务教育阶段儿童失学辍学", "child aged 6–15 out of school or dropped out",
         "docs/domain.md §5 (compulsory education)", 1,
         value=LargestKnown(("children_out_of_school_count", "dropouts_12m")), when=((">", 0.0),)),
    Rule("uninsured_member", "有成员未参加基本医保", "member without basic medical insurance",
         "docs/domain.md §5 (basic medical care)", 1,
         value="uninsured_count", when=((">", 0.0),)),
    Rule("housing_unsafe", "住房为C/D级危房", "house rated C/D", "docs/domain.md §5 (safe housing)", 1,
         value="housing_unsafe", when=(("==", _YES),)),
    Rule("water_unsafe", "饮水安全未达标", "drinking water not safe", "docs/domain.md §5 (drinking water)", 1,
         value="water_unsafe", when=(("==", _YES),)),
    Rule("no_labour_household", "整户无劳动力", "whole household without labour",
         "docs/domain.md §4 and §6 (households without labour)", 1,
         value="no_labour_household", when=(("==", _YES),)),
)  # fmt: skip

RULE_NAMES: Final = tuple(r.name for r in RULES)


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the rules. Defaults: docs/domain.md §3 where it gives a figure, `assumed` otherwise."""

    income_line_multiple: float = 1.0  # income inside the range: below k × line (docs/domain.md §2)
    near_line_multiple: float = 1.5  # assumed: the band just above the range watched as "marginal"
    sharp_drop: float = 0.5  # assumed: a fall of at least 50 % on the year before
    single_stay_oop_protected_yuan: float = 6_000.0  # docs/domain.md §3: monitored or poverty-alleviated people
    single_stay_oop_other_yuan: float = 10_000.0  # docs/domain.md §3: others
    yearly_oop_share_alleviated: float = 0.5  # docs/domain.md §3: of the prior-year rural income
    yearly_oop_share_other: float = 1.0
    rural_incomes: YearProvinceTable = field(default_factory=default_rural_incomes)
    weights: Mapping[str, int] = field(default_factory=lambda: {r.name: r.weight for r in RULES})


def _check_declaration() -> None:
    """A rule naming a threshold `RuleConfig` does not have fails at import, not on the first household."""
    known = {f.name for f in fields(RuleConfig)}
    for rule in RULES:
        unknown = set(rule.settings) - known
        if unknown:
            raise TypeError(f"rule {rule.name}: RuleConfig has no {sorted(unknown)}")
        if not rule.when or any(op not in _COMPARE for op, _ in rule.when):
            raise TypeError(f"rule {rule.name}: needs comparisons among {sorted(_COMPARE)}")


_check_declaration()


# --- evaluation: one walk over the declaration, two ways of reading a profile ------------------------------


def _raised(rule: Rule, data: _Frame | _Row, config: RuleConfig) -> Any:
    """The rule's flag: a bool column for `_Frame`, a bool for `_Row`."""
    value = data.number(rule.value) if isinstance(rule.value, str) else data.largest_known(rule.value.columns)
    raised: Any = None
    for op, threshold in rule.when:
        hit = _COMPARE[op](value, _threshold(threshold, data, config))
        raised = hit if raised is None else raised & hit
    return raised


def _threshold(threshold: Threshold, data: _Frame | _Row, config: RuleConfig) -> Any:
    if isinstance(threshold, Setting):
        value = getattr(config, threshold.name)
        return -value if threshold.negate else value
    if isinstance(threshold, ByStatus):
        then, otherwise = _threshold(threshold.then, data, config), _threshold(threshold.otherwise, data, config)
        return data.either(threshold.statuses, then, otherwise)
    if isinstance(threshold, ShareOfRuralIncome):
        return _threshold(threshold.share, data, config) * data.rural_income(config)
    return threshold


class _Frame:
    """A profile table read a column at a time, as float arrays with NaN for missing."""

    def __init__(self, profiles: pd.DataFrame) -> None:
        self.profiles = profiles
        self._numbers: dict[str, np.ndarray] = {}

    def number(self, name: str) -> np.ndarray:
        if name not in self._numbers:
            self._numbers[name] = self.profiles[name].to_numpy(dtype=float, na_value=np.nan)
        return self._numbers[name]

    def largest_known(self, names: tuple[str, ...]) -> np.ndarray:
        return functools.reduce(np.fmax, (self.number(name) for name in names))

    def either(self, statuses: tuple[str, ...], then: float, otherwise: float) -> np.ndarray:
        has_status = functools.reduce(operator.or_, (self.number(name) == 1 for name in statuses))
        return np.where(has_status, then, otherwise)

    def rural_income(self, config: RuleConfig) -> np.ndarray:
        # The 12-month window ends on the day before as_of: that day's year is the expenditure year.
        as_of = pd.to_datetime(self.profiles["as_of"])
        spend_year = (as_of - pd.Timedelta(days=1)).dt.year.to_numpy(dtype=float)
        provinces = self.profiles["province_code"].to_numpy(dtype=object)
        return config.rural_incomes.lookup(spend_year, provinces)


class _Row:
    """One profile (column name → value) read as Python floats, NaN for None, NaN and pd.NA."""

    __slots__ = ("profile",)

    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.profile = profile

    def number(self, name: str) -> float:
        value = self.profile[name]  # a missing column raises KeyError, as in the frame path
        if value is None or value is pd.NA:
            return math.nan
        return float(value)

    def largest_known(self, names: tuple[str, ...]) -> float:
        largest = math.nan
        for name in names:
            value = self.number(name)
            if math.isnan(largest) or value > largest:  # NaN > x is false: a missing value is skipped
                largest = value
        return largest

    def either(self, statuses: tuple[str, ...], then: float, otherwise: float) -> float:
        for name in statuses:
            if self.number(name) == 1:
                return then
        return otherwise

    def rural_income(self, config: RuleConfig) -> float:
        as_of = self.profile["as_of"]
        if as_of is None or pd.isna(as_of):
            return math.nan
        province = self.profile["province_code"]
        return config.rural_incomes.value(_spend_year(as_of), province if isinstance(province, str) else None)


def _spend_year(as_of: Any) -> int:
    """The year of the day before `as_of`; remembered per value, since a batch of profiles shares one as_of.

    The key holds the type and time zone beside the value: equal instants in different zones, or a date
    and a timestamp that compare equal, may fall in different years.
    """
    try:
        return _remembered_spend_year((type(as_of), getattr(as_of, "tzinfo", None), as_of))
    except TypeError:  # an unhashable value: computed, not remembered (and refused there if not a date)
        return _day_before_year(as_of)


@functools.lru_cache(maxsize=1024)
def _remembered_spend_year(key: tuple[type, Any, Any]) -> int:
    return _day_before_year(key[2])


def _day_before_year(as_of: Any) -> int:
    # The 12-month window ends on the day before as_of: that day's year is the expenditure year.
    return int((pd.Timestamp(as_of) - pd.Timedelta(days=1)).year)


# --- the public API ------------------------------------------------------------------------------------------


def rule_flags(profiles: pd.DataFrame, config: RuleConfig | None = None) -> pd.DataFrame:
    """One boolean column per rule, aligned with `profiles` (a profile table from `build_profiles`)."""
    config = config or RuleConfig()
    data = _Frame(profiles)
    return pd.DataFrame({rule.name: _raised(rule, data, config) for rule in RULES}, index=profiles.index)


def rule_flags_row(profile: Mapping[str, Any], config: RuleConfig | None = None) -> dict[str, bool]:
    """`rule_flags` of one profile (column name → value), in plain Python: the same flags in the same order.

    The API asks for the flags of one household per request; the frame path's column reads and date
    arithmetic cost more than the rules themselves. Missing values (None, NaN, pd.NA) compare false, as NaN
    does in the frame path.
    """
    config = config or RuleConfig()
    data = _Row(profile)
    return {rule.name: _raised(rule, data, config) for rule in RULES}


def rule_scores(profiles: pd.DataFrame, config: RuleConfig | None = None) -> pd.Series:
    """Weighted flag count plus a tie-break in [0, 1): a lower income-to-line ratio ranks higher."""
    config = config or RuleConfig()
    flags = rule_flags(profiles, config)
    points = sum(flags[name].to_numpy(dtype=float) * config.weights.get(name, 0) for name in RULE_NAMES)
    ratio = profiles["income_to_line"].to_numpy(dtype=float, na_value=np.nan)
    # Integer weights keep the tie-break from reordering households with different point totals.
    tie_break = np.where(np.isnan(ratio), 0.0, 0.999 / (1.0 + np.maximum(ratio, 0.0)))
    return pd.Series(points + tie_break, index=profiles.index, name="rule_score")


def rank_by_rules(profiles: pd.DataFrame, config: RuleConfig | None = None) -> pd.DataFrame:
    """household_id, rule score, rank (1 = highest risk) and the flags, highest score first."""
    flags = rule_flags(profiles, config)
    ranked = pd.concat([profiles[["household_id"]], rule_scores(profiles, config), flags], axis=1)
    ranked = ranked.sort_values("rule_score", ascending=False, kind="stable").reset_index(drop=True)
    ranked.insert(2, "rule_rank", np.arange(1, len(ranked) + 1))
    return ranked


def describe_flags(flags: pd.Series, lang: Literal["zh", "en"] = "zh") -> list[str]:
    """The raised flags of one household (a row of `rule_flags`) as display texts."""
    return [(r.zh if lang == "zh" else r.en) for r in RULES if bool(flags.get(r.name, False))]
