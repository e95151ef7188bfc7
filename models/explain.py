"""One entry point for what officials read about a household: probability, reasons, measures and what-if.

`explain_households(model, profiles)` scores the profiles, attributes every score exactly to the features
(`models.reasons`), keeps the top risk-raising reasons in the policy's risk types, proposes measures for them
(`models.measures`) and re-scores each proposal (`models.whatif`, a model estimate, not a causal effect).
The result depends only on the model and the profiles: identical input gives identical output, in the same
order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

from models.measure_table import measure
from models.measures import Proposal, has_labour, propose_measures
from models.reasons import (
    LANGS,
    Attribution,
    Explainer,
    FeatureContribution,
    Lang,
    Reason,
    attribute,
    default_explainer,
    feature_contributions,
    household_reasons,
    top_reasons,
    top_risk_types,
)
from models.risk_model import RiskModel
from models.whatif import LABEL_EN, LABEL_ZH, WhatIf, what_if_batch

LangOption = Literal["zh", "en", "both"]


@dataclass(frozen=True)
class HouseholdExplanation:
    household_id: str | None
    as_of: str | None
    probability: float  # calibrated
    base_probability: float  # calibrated base rate: the probability at the explainer's expected value
    margin: float
    expected_value: float
    has_labour: bool
    reasons: tuple[Reason, ...]  # top risk-raising reasons
    risk_types: tuple[Reason, ...]  # top risk-raising reasons with an official risk-type code
    all_reasons: tuple[Reason, ...]  # every reason key, largest points first (they add up to p − p_base)
    top_features: tuple[FeatureContribution, ...]  # the largest risk-raising features
    measures: tuple[Proposal, ...]
    what_if: tuple[WhatIf, ...]  # one per measure, same order
    what_if_label_zh: str = LABEL_ZH
    what_if_label_en: str = LABEL_EN

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for item, source in zip(data["what_if"], self.what_if, strict=True):
            item["points"] = source.points
        return data


def explain_households(
    model: RiskModel,
    profiles: pd.DataFrame,
    *,
    top: int = 3,
    lang: LangOption = "both",
    per_reason: int = 2,
    features_per_reason: int = 2,
    explainer: Explainer | None = None,
) -> list[HouseholdExplanation]:
    """Explanations of every profile row, in row order (see the module docstring).

    `explainer` defaults to the fast exact TreeSHAP of `models.treeshap`; build it once and pass it when
    explaining many batches with the same model.
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    langs: tuple[Lang, ...] = LANGS if lang == "both" else (lang,)
    explainer = explainer or default_explainer(model.booster)
    x = model.prepare(profiles)
    attribution = attribute(x, model.feature_names, explainer, model.calibrator, model.margin(x))
    rows = [profiles.iloc[i] for i in range(len(profiles))]
    parts = []
    for i, row in enumerate(rows):
        everything = household_reasons(attribution, i, row, langs=langs, features_per_reason=features_per_reason)
        reasons = top_reasons(everything, top)
        parts.append((everything, reasons, propose_measures(row, [r.key for r in reasons], per_reason=per_reason)))
    scenarios = what_if_batch(
        model, profiles, [[measure(p.measure) for p in proposals] for *_, proposals in parts], attribution.probability
    )
    return [
        _explanation(attribution, i, row, *part, scenarios[i], top)
        for i, (row, part) in enumerate(zip(rows, parts, strict=True))
    ]


def _explanation(
    attribution: Attribution,
    i: int,
    row: pd.Series,
    everything: list[Reason],
    reasons: list[Reason],
    proposals: list[Proposal],
    scenarios: list[WhatIf],
    top: int,
) -> HouseholdExplanation:
    features = [f for f in feature_contributions(attribution, i, row) if f.points > 0][: max(top, 5)]
    return HouseholdExplanation(
        household_id=_text(row.get("household_id")),
        as_of=_text(row.get("as_of"), date=True),
        probability=float(attribution.probability[i]),
        base_probability=attribution.base_probability,
        margin=float(attribution.margin[i]),
        expected_value=attribution.expected_value,
        has_labour=has_labour(row),
        reasons=tuple(reasons),
        risk_types=tuple(top_risk_types(everything, top)),
        all_reasons=tuple(everything),
        top_features=tuple(features),
        measures=tuple(proposals),
        what_if=tuple(scenarios),
    )


def _text(value: object, *, date: bool = False) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if date:
        return str(pd.Timestamp(value).date())  # type: ignore[arg-type]
    return str(value)
