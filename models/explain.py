"""One entry point for what officials read about a household: probability, reasons, measures and what-if.

`explain_households(model, profiles)` scores the profiles, attributes every score exactly to the features
(`models.reasons`), keeps the top risk-raising reasons — risk types only where the household shows evidence of
them, backgrounds by their plain names — proposes measures for the evidence-backed risk types and needs among
them (`models.measures`) and re-scores each proposal (`models.whatif`, a model estimate, not a causal effect).
The result depends only on the model and the profiles: identical input gives identical output, in the same
order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from models.measure_table import measure
from models.measures import Proposal, has_labour, propose_measures
from models.reasons import (
    EVIDENCE_KINDS,
    LANGS,
    Attribution,
    Explainer,
    FeatureContribution,
    Lang,
    Reason,
    attribute,
    default_explainer,
    household_reasons,
    missing_features,
    top_features,
    top_reasons,
    top_risk_types,
)
from models.risk_model import RiskModel
from models.whatif import LABEL_EN, LABEL_ZH, WhatIf, what_if_prepared

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
    reasons: tuple[Reason, ...]  # top risk-raising reasons: evidence-backed risk types and needs, then backgrounds
    risk_types: tuple[Reason, ...]  # top evidence-backed risk types and needs, whatever their points
    all_reasons: tuple[Reason, ...]  # every reason key in reason order (their points add up to p − p_base)
    top_features: tuple[FeatureContribution, ...]  # the largest risk-raising features
    measures: tuple[Proposal, ...]
    what_if: tuple[WhatIf, ...]  # one per measure, same order
    missing_features: tuple[str, ...] = ()  # features without a value: missing data, never part of a reason
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
    return explain_prepared(
        model,
        profiles,
        model.prepare(profiles),
        top=top,
        lang=lang,
        per_reason=per_reason,
        features_per_reason=features_per_reason,
        explainer=explainer,
    )


def explain_prepared(
    model: RiskModel,
    profiles: pd.DataFrame | Sequence[Mapping[str, Any]],
    x: np.ndarray,
    *,
    rows: Sequence[Mapping[str, Any] | pd.Series] | None = None,
    top: int = 3,
    lang: LangOption | None = "both",
    per_reason: int = 2,
    features_per_reason: int = 2,
    explainer: Explainer | None = None,
) -> list[HouseholdExplanation]:
    """`explain_households` for callers that already hold the model's matrix `x = model.prepare(profiles)`
    and, optionally, the profile rows (`profiles.iloc[i]`, or mappings with the same values). `profiles` may
    itself be such rows (all with the same keys; `models.whatif.what_if_prepared`). `lang=None` fills no
    reason sentences (for callers that show none, such as the API); everything else is the same.
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    langs: tuple[Lang, ...] = () if lang is None else LANGS if lang == "both" else (lang,)
    explainer = explainer or default_explainer(model.booster)
    attribution = attribute(x, model.feature_names, explainer, model.calibrator, model.margin(x))
    if rows is None:
        rows = [profiles.iloc[i] for i in range(len(profiles))] if isinstance(profiles, pd.DataFrame) else profiles
    parts = []
    for i, row in enumerate(rows):
        everything = household_reasons(attribution, i, row, langs=langs, features_per_reason=features_per_reason)
        reasons = top_reasons(everything, top)
        risks = [r.key for r in reasons if r.kind in EVIDENCE_KINDS]  # never a background or data quality
        parts.append((everything, reasons, propose_measures(row, risks, per_reason=per_reason)))
    scenarios = what_if_prepared(
        model,
        profiles,
        x,
        [[measure(p.measure) for p in proposals] for *_, proposals in parts],
        attribution.probability,
    )
    return [
        _explanation(attribution, i, row, *part, scenarios[i], top)
        for i, (row, part) in enumerate(zip(rows, parts, strict=True))
    ]


def _explanation(
    attribution: Attribution,
    i: int,
    row: Mapping[str, Any] | pd.Series,
    everything: list[Reason],
    reasons: list[Reason],
    proposals: list[Proposal],
    scenarios: list[WhatIf],
    top: int,
) -> HouseholdExplanation:
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
        top_features=tuple(top_features(attribution, i, row, max(top, 5))),
        measures=tuple(proposals),
        what_if=tuple(scenarios),
        missing_features=missing_features(attribution, i, row),
    )


def _text(value: object, *, date: bool = False) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if date:
        return str(pd.Timestamp(value).date())  # type: ignore[arg-type]
    return str(value)
