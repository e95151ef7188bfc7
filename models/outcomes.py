"""What a model's probability estimates: the label it was trained on, in Chinese and English.

A model records its label in its metadata (`RiskModel.label`); the model card, `relapse explain` and the reports
say what the probability means from it, so that a need model is never read as a chance of identification.
"""

from __future__ import annotations

from typing import Final

# The label the served model is trained on by default: need, found by monitoring or not.
NEED_LABEL: Final = "need_12m"
# The label of a model whose metadata names none: every model of the first release was trained on it.
LEGACY_LABEL: Final = "identified_12m"

# label → (zh, en): what the score ranks households by (the model card's "intended use").
PURPOSES: Final[dict[str, tuple[str, str]]] = {
    "identified_12m": (
        "在 12 个月内新纳入监测（防止返贫动态监测）的估计概率",
        "the probability of being newly identified as a monitoring object (防止返贫动态监测) within 12 months",
    ),
    "need_12m": (
        "在 12 个月内陷入困难（扣除合规医疗自付后收入低于监测线、刚性支出触发或“三保障”和饮水安全未达标，"
        "无论是否被发现）的估计概率",
        "the probability of being in need within 12 months — income after medical costs below the monitoring "
        "line, a rigid-expenditure trigger or a failed guarantee — whether or not monitoring finds it",
    ),
    "income_below_line": (
        "来年收入低于监测线的估计概率",
        "the probability that the income of the year ahead falls below the monitoring line",
    ),
    "eliminated_6m": (
        "监测对象在 6 个月内风险消除的估计概率",
        "for a current monitoring object, the probability that its risk is eliminated within 6 months",
    ),
    "returned_12m": (
        "已风险消除户在 12 个月内再次纳入监测的估计概率",
        "for a household whose risk was eliminated, the probability of being identified again within 12 months",
    ),
}

# label → (zh, en): the probability's name in one line of output.
NAMES: Final[dict[str, tuple[str, str]]] = {
    "identified_12m": ("12个月内被识别为监测对象的概率", "risk of identification within 12 months"),
    "need_12m": ("12个月内陷入困难的概率", "risk of need within 12 months"),
    "income_below_line": ("来年收入低于监测线的概率", "risk of income below the line next year"),
    "eliminated_6m": ("6个月内风险消除的概率", "chance of risk elimination within 6 months"),
    "returned_12m": ("12个月内返贫致贫的概率", "risk of return within 12 months"),
}


# label → (high, medium): the probabilities from which a household is high or medium risk, where the operator sets
# none. Assumed (neither the policy nor its sources fix figures): for identification, with a base rate of about
# 2 %, 10 % is five times the average risk and 3 % one and a half times; for need, with about 12 % of households
# in need within a year, high is "more likely than not" and medium "one in five" (on the demo city 4.2 % of the
# households not under monitoring are high, 18.1 % high or medium).
LEVEL_THRESHOLDS: Final[dict[str, tuple[float, float]]] = {
    "identified_12m": (0.10, 0.03),
    "need_12m": (0.50, 0.20),
}


def level_thresholds(label: str, high: float | None = None, medium: float | None = None) -> tuple[float, float]:
    """(high, medium) for a model trained on `label`: the operator's where set, else the label's own; a medium
    above the high is lowered to it (an operator who sets only a low high threshold)."""
    own_high, own_medium = LEVEL_THRESHOLDS.get(label, LEVEL_THRESHOLDS[LEGACY_LABEL])
    chosen_high = own_high if high is None else high
    return chosen_high, min(own_medium if medium is None else medium, chosen_high)


def purpose(label: str, lang: str) -> str:
    """What a model trained on `label` ranks households by, in `lang` ("zh" or "en")."""
    zh, en = PURPOSES.get(label, (f"标签 `{label}` 的估计概率", f"the label `{label}`"))
    return zh if lang == "zh" else en


def name(label: str, lang: str) -> str:
    """The probability's short name for a model trained on `label`."""
    zh, en = NAMES.get(label, (f"标签 {label} 的概率", f"probability of {label}"))
    return zh if lang == "zh" else en
