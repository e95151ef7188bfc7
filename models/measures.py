"""Proposed assistance measures: from a household's top reasons and status to an ordered list (docs/domain.md §4).

Rules, in the order they are applied:
1. Labour decides the line: a household with labour (`no_labour_household` ≠ 1) gets the table's with-labour
   measures — development-oriented ones plus basic services; a household without labour gets social protection
   (dibao, tekun, temporary assistance) plus basic services. The table (`models.measure_table`) holds both lists.
2. A measure applies only where the profile shows its object (`applies_when`: a member with a disability for
   the disability subsidies, a C/D house for renovation, …).
3. A measure the household already receives (`received_when`: dibao_active, tekun_active, …) is not proposed
   again; the next one in the list is, and the proposal records what it replaced.
4. Combined risks get combined measures: every top reason contributes up to `per_reason` measures; a measure
   that answers several reasons is proposed once and names all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.measure_table import BY_RISK, CATEGORIES, FAMILIES, Condition, Measure, measure

# A household's profile row: `profiles.iloc[i]`, or any mapping from column name to value.
Profile = Mapping[str, Any] | pd.Series


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
    risks: tuple[str, ...]  # the reason keys it addresses, in reason order
    replaces: tuple[str, ...] = ()  # measures skipped because the household already receives them


def holds(profile: Profile, condition: Condition) -> bool:
    value = _number(profile.get(condition.feature))
    if np.isnan(value):
        return False
    if condition.op == ">":
        return value > condition.value
    if condition.op == ">=":
        return value >= condition.value
    return value == condition.value


def has_labour(profile: Profile) -> bool:
    """Labour in the household, as the profile records it (docs/domain.md §4; whole-household flag of §6)."""
    flag = _number(profile.get("no_labour_household"))
    if not np.isnan(flag):
        return flag != 1
    return _number(profile.get("labour_capable_count")) >= 1  # NaN compares False: no evidence of labour


def receives(profile: Profile, item: Measure) -> bool:
    return item.received_when is not None and holds(profile, item.received_when)


def applies(profile: Profile, item: Measure) -> bool:
    return not item.applies_when or any(holds(profile, c) for c in item.applies_when)


def propose_measures(profile: Profile, reason_keys: Sequence[str], *, per_reason: int = 2) -> list[Proposal]:
    """Measures for one household's reasons (keys in reason order); see the module docstring for the rules."""
    labour = has_labour(profile)
    order: list[str] = []
    risks: dict[str, list[str]] = {}
    replaced: dict[str, list[str]] = {}
    for key in reason_keys:
        entry = BY_RISK.get(key)
        if entry is None:
            continue
        skipped: list[str] = []
        taken = 0
        for code in entry.with_labour if labour else entry.without_labour:
            if taken >= per_reason:
                break
            item = measure(code)
            if not applies(profile, item):
                continue
            if receives(profile, item):
                skipped.append(code)
                continue
            taken += 1
            if code not in risks:
                order.append(code)
                risks[code], replaced[code] = [], []
            if key not in risks[code]:
                risks[code].append(key)
            replaced[code].extend(s for s in skipped if s not in replaced[code])
            skipped = []
    return [_proposal(code, tuple(risks[code]), tuple(replaced[code])) for code in order]


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
    from models import measure_table as table
    from models.reasons import reason_names

    lines = [
        "# Assistance measures, reasons and what-if",
        "",
        "<!-- Generated by `python -m models.measures` from models/measure_table.py; do not edit by hand. -->",
        "",
        "The mapping from reasons to assistance measures follows docs/domain.md §4 (a default mapping, not an official",
        "table). It is data in `models/measure_table.py`; this page is generated from it.",
        "",
        "## How a household's proposals are made",
        "",
        "1. **Reasons.** The model's exact SHAP contributions are turned into points of the calibrated",
        "   probability and summed per reason key: the official risk-type code of the feature's catalogue group",
        "   (02 = the whole 02xx disaster family) or the group itself when it has no code. The top reasons",
        "   (default 3) are the keys that raise the risk, largest first.",
        "2. **Labour decides the line.** Households with labour (`no_labour_household` ≠ 1) get the with-labour",
        "   list: development-oriented measures plus basic services. Households without labour get the",
        "   without-labour list: social protection plus basic services.",
        "3. **Applicability.** A measure with a condition is proposed only when the profile shows its object.",
        "4. **Already received.** A measure the profile shows as received is skipped and the next one in the",
        "   list is proposed; the proposal names what it replaced.",
        "5. **Combined risks.** Each top reason contributes up to 2 measures (configurable); a measure answering",
        "   several reasons is proposed once and names all of them.",
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
        "from the changed quantities (income per capita and to the monitoring line, income shares, income after",
        "medical costs, cost-to-income ratios) are recomputed, and the model scores the changed profile. The",
        "difference to the household's probability is what the model associates with such a profile, not what",
        "the measure would cause. Amounts marked `assumed` are this project's choices; set them per deployment.",
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
        "## Measures",
        "",
        "| measure | category | already received when | proposed only when | effect on the profile | basis |",
        "|---|---|---|---|---|---|",
    ]
    for item in table.MEASURE_LIST:
        category = table.CATEGORIES[item.category]
        family_zh, family_en = table.FAMILIES[category.family]
        received = _condition_text(item.received_when) if item.received_when else "—"
        applies_text = " or ".join(_condition_text(c) for c in item.applies_when) or "always"
        effects = "; ".join(_effect_text(e) for e in item.effects) or "none declared"
        lines.append(
            f"| {item.zh} {item.en} `{item.code}` | {category.zh} {category.en} ({family_zh} {family_en}) | "
            f"{received} | {applies_text} | {effects} | {item.basis} |"
        )
    return "\n".join(lines) + "\n"


def _condition_text(condition: Condition) -> str:
    return f"`{condition.feature}` {condition.op} {condition.value:g}"


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
