"""Proposed assistance measures: from a household's reasons and profile to an ordered list (docs/domain.md §4).

Rules, in the order they are applied:
1. Eligibility first: a measure is proposed only when the profile satisfies its rule (`eligible_when` in
   `models.measure_table`, with its policy basis); a missing value never makes a household eligible. This holds
   whatever reason keys the caller passes.
2. Labour decides the line: a household with labour (`no_labour_household` ≠ 1) follows the table's with-labour
   lists — development-oriented measures plus basic services; a household without labour follows the
   without-labour lists — social protection plus basic services.
3. Risk types first: the keys that name a risk (official risk types, housing, water, insurance) are served in
   reason order before any background key (income level, …); within a key the table's order holds, so illness
   gets the medical chain basic insurance → critical-illness insurance → medical assistance.
4. The income floor: a household whose income is below the local 低保 standard and that does not receive 低保
   gets it proposed after its risk-type measures, whether or not income is among its reasons (应保尽保) —
   unless it is in 特困供养 or meets its conditions (one safety net: the `dibao` rule says so).
5. A measure the household already receives (`received_when`) is not proposed again; the next one in the list
   is, and the proposal records what it replaced.
6. Combined risks get combined measures: every reason key contributes up to `per_reason` measures; a measure
   that answers several keys is proposed once and names all of them. At most `per_reason` × the number of
   keys are proposed (the income floor is never the one cut).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from features.contract.dibao_standards import default_dibao_standards
from features.contract.monitoring_lines import YearProvinceTable
from models.measure_table import (
    BY_RISK,
    CATEGORIES,
    DIBAO_STANDARD,
    FAMILIES,
    FLOOR,
    RISK_TYPE_KEYS,
    Condition,
    Measure,
    Rule,
    measure,
)

# A household's profile row: `profiles.iloc[i]`, or any mapping from column name to value.
Profile = Mapping[str, Any] | pd.Series
# Yearly standards a condition may compare with, by name (`Condition.standard`).
Standards = Mapping[str, YearProvinceTable]
YEAR_COLUMN = "income_year"  # standards are those of the income year the income features describe
PROVINCE_COLUMN = "province_code"


@lru_cache(maxsize=1)
def default_standards() -> Standards:
    return {DIBAO_STANDARD: default_dibao_standards()}


@dataclass(frozen=True)
class Proposal:
    measure: str
    zh: str
    en: str
    category: str
    category_zh: str
    category_en: str
    family: str
    family_zh: str
    family_en: str
    risks: tuple[str, ...]  # the reason keys it addresses, in reason order ("income" for the income floor)
    replaces: tuple[str, ...] = ()  # measures skipped because the household already receives them


def threshold(profile: Profile, condition: Condition, standards: Standards | None = None) -> float:
    """The number `condition.feature` is compared with, for this profile (NaN when it cannot be known)."""
    if condition.times is not None:
        return condition.value * _number(profile.get(condition.times))
    if condition.standard is not None:
        year = _number(profile.get(YEAR_COLUMN))
        if np.isnan(year):
            return float("nan")
        province = profile.get(PROVINCE_COLUMN)
        table = (standards or default_standards())[condition.standard]
        return condition.value * table.value(int(year), province if isinstance(province, str) else None)
    return condition.value


def holds(profile: Profile, condition: Condition, standards: Standards | None = None) -> bool:
    value = _number(profile.get(condition.feature))
    if np.isnan(value):
        return False
    if condition.times is None and condition.standard is None:
        limit = condition.value
    else:
        limit = threshold(profile, condition, standards)
        if np.isnan(limit):
            return False
    return bool(compare(value, condition.op, limit))


def compare(value: Any, op: str, limit: Any) -> Any:
    """`value op limit`, element-wise for arrays (NaN compares False)."""
    if op == ">":
        return value > limit
    if op == ">=":
        return value >= limit
    if op == "<":
        return value < limit
    if op == "<=":
        return value <= limit
    return value == limit


def satisfies(rule: Rule, outcome: Callable[[Condition], bool]) -> bool:
    """Every clause has a condition that holds (an empty rule always does)."""
    return all(any(outcome(c) for c in clause) for clause in rule)


def has_labour(profile: Profile) -> bool:
    """Labour in the household, as the profile records it (docs/domain.md §4; whole-household flag of §6)."""
    flag = _number(profile.get("no_labour_household"))
    if not np.isnan(flag):
        return flag != 1
    return _number(profile.get("labour_capable_count")) >= 1  # NaN compares False: no evidence of labour


def receives(profile: Profile, item: Measure) -> bool:
    return item.received_when is not None and holds(profile, item.received_when)


def eligible(profile: Profile, item: Measure, standards: Standards | None = None) -> bool:
    return satisfies(item.eligible_when, lambda c: holds(profile, c, standards))


def propose_measures(
    profile: Profile, reason_keys: Sequence[str], *, per_reason: int = 2, standards: Standards | None = None
) -> list[Proposal]:
    """Measures for one household's reasons (keys in reason order); see the module docstring for the rules.

    `standards` are the yearly tables eligibility compares with (default: `default_standards()`); a year
    missing from a table raises `features.contract.monitoring_lines.MissingYearError`.
    """
    memo: dict[Condition, bool] = {}

    def outcome(condition: Condition) -> bool:
        if condition not in memo:
            memo[condition] = holds(profile, condition, standards)
        return memo[condition]

    return propose_from(
        lambda item: satisfies(item.eligible_when, outcome),
        lambda item: item.received_when is not None and outcome(item.received_when),
        has_labour(profile),
        reason_keys,
        per_reason,
    )


def propose_from(
    eligible_for: Callable[[Measure], bool],
    receiving: Callable[[Measure], bool],
    labour: bool,
    reason_keys: Sequence[str],
    per_reason: int,
) -> list[Proposal]:
    """`propose_measures` given which measures the household is eligible for and receives, and its labour.

    The batch road (`models._batch_measures`) calls it with eligibility evaluated column-wise; both roads share
    every rule below.
    """
    keys = [k for k in reason_keys if k in RISK_TYPE_KEYS] + [k for k in reason_keys if k not in RISK_TYPE_KEYS]
    order: list[str] = []
    risks: dict[str, list[str]] = {}
    replaced: dict[str, list[str]] = {}

    def add(code: str, key: str, skipped: Sequence[str]) -> None:
        if code not in risks:
            order.append(code)
            risks[code], replaced[code] = [], []
        if key not in risks[code]:
            risks[code].append(key)
        replaced[code].extend(s for s in skipped if s not in replaced[code])

    floor = measure(FLOOR)
    floor_due = eligible_for(floor) and not receiving(floor)
    floor_at: int | None = None
    for key in keys:
        if floor_due and floor_at is None and key not in RISK_TYPE_KEYS:
            floor_at = len(order)
        entry = BY_RISK.get(key)
        if entry is None:
            continue
        skipped: list[str] = []
        taken = 0
        for code in entry.with_labour if labour else entry.without_labour:
            if taken >= per_reason:
                break
            item = measure(code)
            if receiving(item):  # named as replaced even where no longer eligible (低保 turning into 特困)
                skipped.append(code)
                continue
            if not eligible_for(item):
                continue
            taken += 1
            add(code, key, skipped)
            skipped = []
    limit = per_reason * max(len(keys), 1)
    if floor_due and FLOOR not in risks:
        at = len(order) if floor_at is None else floor_at
        order.insert(min(at, limit - 1), FLOOR)
        risks[FLOOR], replaced[FLOOR] = ["income"], []
    return [_proposal(code, tuple(risks[code]), tuple(replaced[code])) for code in order[:limit]]


def _proposal(code: str, risks: tuple[str, ...], replaces: tuple[str, ...]) -> Proposal:
    item = measure(code)
    category = CATEGORIES[item.category]
    family_zh, family_en = FAMILIES[category.family]
    return Proposal(
        measure=code,
        zh=item.zh,
        en=item.en,
        category=item.category,
        category_zh=category.zh,
        category_en=category.en,
        family=category.family,
        family_zh=family_zh,
        family_en=family_en,
        risks=risks,
        replaces=replaces,
    )


def _number(value: object) -> float:
    if value is None or value is pd.NA:
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


# --- documentation ----------------------------------------------------------------------------------------
DOC_PATH = "docs/measures.md"


def render_measures_doc() -> str:
    """docs/measures.md, generated from `models.measure_table` (a test checks the file is up to date)."""
    from features.contract.dibao_standards import DEFAULT_DIBAO_STANDARDS, DEMO_DIBAO_STANDARDS
    from models import measure_table as table
    from models.reasons import reason_names

    lines = [
        "# Assistance measures, reasons and what-if",
        "",
        "<!-- Generated by `python -m models.measures` from models/measure_table.py; do not edit by hand. -->",
        "",
        "The mapping from reasons to assistance measures follows docs/domain.md §4 (a default mapping, not an official",
        "table); who may receive each measure follows the policy named in the eligibility table below. Both are data",
        "in `models/measure_table.py`; this page is generated from it.",
        "",
        "## How a household's proposals are made",
        "",
        "1. **Reasons.** The model's exact SHAP contributions are turned into points of the calibrated",
        "   probability and summed per reason key: an official risk type (02 = the whole 02xx disaster family)",
        "   or need where the household shows evidence of it (docs/domain.md §12), otherwise a background. The",
        "   top reasons (default 3) are the household's risk types and needs, whatever their points, then the",
        "   backgrounds that raise the risk, largest first; measures answer the risk types and needs among them.",
        "2. **Eligibility.** A measure is proposed only when the household's profile meets its rule (table",
        "   below), whatever reasons it has. A missing value never meets a condition: missing data never makes a",
        "   household eligible.",
        "3. **Labour decides the line.** Households with labour (`no_labour_household` ≠ 1) follow the",
        "   with-labour list: development-oriented measures plus basic services. Households without labour follow",
        "   the without-labour list: social protection plus basic services.",
        "4. **Risk types first.** Reasons that name a risk the household has evidence of (official risk types,",
        "   housing, water, insurance) are served first, in reason order; background reasons (income level, …)",
        "   after them. For illness the list is the medical chain: basic medical insurance, critical-illness",
        "   insurance, medical assistance.",
        "5. **The income floor (应保尽保).** A household whose income is below the local 低保 standard and that",
        "   does not receive 低保 gets 低保 proposed after its risk-type measures, even when income is not among",
        "   its reasons; the proposal names the reason key `income`.",
        "6. **Already received.** A measure the profile shows as received is skipped and the next one in the",
        "   list is proposed; the proposal names what it replaced.",
        "7. **Combined risks.** Each reason contributes up to 2 measures (configurable); a measure answering",
        "   several reasons is proposed once and names all of them; at most 2 × the number of reasons are",
        "   proposed, and the income floor is never the one left out.",
        "",
        "## The 低保 standard",
        "",
        "Conditions on `dibao_standard` compare with the rural 低保 standard (yuan per person a year) of the",
        "profile's income year (`income_year`) and province (`province_code`), from the yearly table",
        "`features/contract/dibao_standards.py`; a deployment adds its own province's values. A year missing from",
        "the table is an error naming the table and the year. Default values, all `assumed` (national: of the",
        "order of the Ministry of Civil Affairs' yearly national average, about 5 % a year higher from 2023, 2026",
        "on included; demo province 99: 0.9 × its monitoring line, the standard the synthetic city grants 低保",
        "against — docs/domain.md §13):",
        "",
        "| year | " + " | ".join(str(y) for y in DEFAULT_DIBAO_STANDARDS) + " |",
        "|---|" + "---|" * len(DEFAULT_DIBAO_STANDARDS),
        "| national, yuan | " + " | ".join(f"{v:,.0f}" for v in DEFAULT_DIBAO_STANDARDS.values()) + " |",
        "| province 99, yuan | "
        + " | ".join(
            f"{DEMO_DIBAO_STANDARDS[y]:,.0f}" if y in DEMO_DIBAO_STANDARDS else "—" for y in DEFAULT_DIBAO_STANDARDS
        )
        + " |",
        "",
        "## Probability points",
        "",
        "SHAP values φᵢ are log-odds of the uncalibrated booster (b + Σφᵢ = margin). With g the calibrator,",
        "p = g(margin) and the base rate p₀ = g(b), the risk-raising sum P = Σ_{φᵢ>0} φᵢ and the risk-lowering",
        "sum N = Σ_{φᵢ<0} φᵢ get their two-player Shapley shares of the calibrated change,",
        "Δ⁺ = ½[g(b+P) − g(b) + g(b+P+N) − g(b+N)] and Δ⁻ = ½[g(b+N) − g(b) + g(b+P+N) − g(b+P)],",
        "shared within each sign in proportion to the log-odds: pointsᵢ = φᵢ·Δ⁺/P (φᵢ > 0) or φᵢ·Δ⁻/N (φᵢ < 0).",
        "The points add up to p − p₀ exactly; a risk-raising feature never has negative points. A reason's",
        "points are the sum of its features' points.",
        "",
        "## What-if: model estimate, not a causal effect (模型估计，非因果效应)",
        "",
        "Each proposed measure's declared effects are applied to the household's profile; the features derived",
        "from the changed quantities (income per capita and to the monitoring line, income after medical costs,",
        "cost-to-income ratios) are recomputed, and the model scores the changed profile. The difference to the",
        "household's probability is what the model associates with such a profile, not what the measure would",
        "cause. Amounts marked `assumed` are this project's choices; set them per deployment.",
        "",
        "A what-if never raises the estimate: every feature a measure changes is trained with a monotone",
        "constraint in the direction the measure acts (more income, lower costs, assistance received never raise",
        "the risk; the catalogue's `direction`), the calibrators are non-decreasing, and derived features without",
        "a policy direction (income shares, production-cost ratio) keep the household's value. A missing value",
        "stays missing.",
        "",
        "## Reasons → measures",
        "",
        "| reason | with labour | without labour |",
        "|---|---|---|",
    ]
    for entry in table.RISK_MEASURES:
        zh, en = reason_names(entry.key)
        with_labour = ", ".join(f"{table.measure(c).zh} `{c}`" for c in entry.with_labour)
        without_labour = ", ".join(f"{table.measure(c).zh} `{c}`" for c in entry.without_labour)
        lines.append(f"| `{entry.key}` {zh} {en} | {with_labour} | {without_labour} |")
    lines += [
        "",
        "Reason keys without measures of their own: household composition, monitoring history, village context,",
        "assistance received.",
        "",
        "## Eligibility",
        "",
        "A rule is a list of clauses joined by **and**; a clause holds when any of its conditions holds.",
        "",
        "| measure | eligible when | policy basis | already received when |",
        "|---|---|---|---|",
    ]
    for item in table.MEASURE_LIST:
        received = _condition_text(item.received_when) if item.received_when else "—"
        lines.append(
            f"| {item.zh} {item.en} `{item.code}` | {_rule_text(item.eligible_when)} | {item.eligibility} | "
            f"{received} |"
        )
    lines += [
        "",
        "## Effects",
        "",
        "| measure | category | effect on the profile | basis |",
        "|---|---|---|---|",
    ]
    for item in table.MEASURE_LIST:
        category = table.CATEGORIES[item.category]
        family_zh, family_en = table.FAMILIES[category.family]
        effects = "; ".join(_effect_text(e) for e in item.effects) or "none declared"
        lines.append(
            f"| {item.zh} {item.en} `{item.code}` | {category.zh} {category.en} ({family_zh} {family_en}) | "
            f"{effects} | {item.basis} |"
        )
    return "\n".join(lines) + "\n"


def _rule_text(rule: Rule) -> str:
    if not rule:
        return "always"
    clauses = [" or ".join(_condition_text(c) for c in clause) for clause in rule]
    return "; and ".join(f"({c})" if len(clause) > 1 else c for c, clause in zip(clauses, rule, strict=True))


def _condition_text(condition: Condition) -> str:
    if condition.times is not None:
        limit = f"`{condition.times}`" if condition.value == 1 else f"{condition.value:g} × `{condition.times}`"
    elif condition.standard is not None:
        limit = f"`{condition.standard}`" if condition.value == 1 else f"{condition.value:g} × `{condition.standard}`"
    else:
        limit = f"{condition.value:,g}"
    return f"`{condition.feature}` {condition.op} {limit}"


def _effect_text(effect: object) -> str:
    from models.measure_table import Change, Income

    if isinstance(effect, Income):
        per = {"household": "a year", "member": "per member a year"}.get(effect.per, f"× `{effect.per}` a year")
        return f"+{effect.yuan:,.0f} yuan {effect.part} {per}"
    if isinstance(effect, Change):
        verb = {"set": "=", "add": "+=", "scale": "×=", "at_most": "at most"}[effect.op]
        return f"`{effect.feature}` {verb} {effect.value:g}"
    raise TypeError(f"unknown effect {effect!r}")


if __name__ == "__main__":  # pragma: no cover
    from pathlib import Path

    Path(DOC_PATH).write_text(render_measures_doc(), encoding="utf-8")
