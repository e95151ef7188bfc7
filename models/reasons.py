"""Reasons: exact SHAP contributions turned into probability points, aggregated by the policy's risk types.

Contributions
    The booster's exact TreeSHAP values φ_i (`models.treeshap.TreeExplainer`, or LightGBM's `pred_contrib`,
    which is equally exact) are in log-odds of the *uncalibrated* booster: b + Σ φ_i = margin, with b the
    explainer's expected value. Additivity is checked for every household (|b + Σφ − margin| ≤ 1e-6).

Probability points
    Officials read the calibrated probability p = g(margin), g the calibrator, against the base rate
    p₀ = g(b). Points say how much of p − p₀ each feature accounts for. Because g is monotone but not linear
    (isotonic calibration is piecewise linear and may be flat), log-odds cannot simply be rescaled by one
    factor without amplifying mixed-sign contributions. We split the contributions into the risk-raising sum
    P = Σ_{φ_i > 0} φ_i and the risk-lowering sum N = Σ_{φ_i < 0} φ_i, give the two "players" their Shapley
    shares of the calibrated change along g,

        Δ⁺ = ½ [g(b + P) − g(b) + g(b + P + N) − g(b + N)]
        Δ⁻ = ½ [g(b + N) − g(b) + g(b + P + N) − g(b + P)]

    and share each within its sign in proportion to the log-odds: points_i = φ_i · Δ⁺ / P for φ_i > 0 and
    φ_i · Δ⁻ / N for φ_i < 0 (0 for φ_i = 0). Then Σ points_i = Δ⁺ + Δ⁻ = p − p₀ exactly (to rounding), a
    risk-raising feature never gets negative points (g is non-decreasing), and no point exceeds the range of g.
    Points are probabilities (0.034 = 3.4 percentage points).

Aggregation
    Reasons are named as a village review could check them (`features.profiles.evidence`). A feature whose
    household has the evidence of its risk type or need (an illness, a disaster loss, a job loss, a C/D house …)
    gives its points to that *risk type* (docs/domain.md §4; "02" stands for the whole 02xx disaster family) or
    *need* (housing, water, insurance); otherwise its points go to its *background* — a plain name such as
    income level or household structure, shown as 背景因素 and never counted as a risk type. A feature whose
    value is missing, and the counts of unrecorded fields, give their points to *data quality*, which is never
    a reason. Every feature's points go to exactly one key, so a household's reasons still add up to p − p₀.

    Reasons are ordered risk types and needs first, then backgrounds, then data quality; inside each, by points,
    then log-odds (both descending), then key. Officials record and act on risk types, so a household's
    evidence-backed risk types lead even when a background (its income, say) weighs more; every reason shows its
    points. The top reasons are the household's risk types and needs that have a fact to quote (a value other
    than 0), whatever their points — what the village review records and measures answer — then the backgrounds
    with positive points and a risk-raising feature; data quality never. Each quotes the household's own values
    through the catalogue's reason templates: its risk-raising features first, then, for a risk type or need, its
    other facts. The top *risk types* are the household's evidence-backed risk types and needs in the same order,
    whatever their points — what the national system records as risk types 1–5 and what measures answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.contract import codes
from features.profiles import catalogue
from features.profiles.evidence import BACKGROUNDS, DATA_QUALITY, NEEDS, number
from models._reason_keys import plan, route_row

Lang = Literal["zh", "en"]
Kind = Literal["risk_type", "need", "background", "data_quality"]
EVIDENCE_KINDS: tuple[Kind, ...] = ("risk_type", "need")
KIND_ORDER: dict[Kind, int] = {"risk_type": 0, "need": 0, "background": 1, "data_quality": 2}
LANGS: tuple[Lang, ...] = ("zh", "en")
ADDITIVITY_TOLERANCE = 1e-6


class Calibrator(Protocol):
    """What the points need of a calibrator (models.calibration): margin → calibrated probability."""

    def predict(self, margin: np.ndarray) -> np.ndarray: ...


class AdditivityError(RuntimeError):
    """The explainer's contributions do not add up to the model's margin."""


class Explainer(Protocol):
    expected_value: float

    def shap_values(self, x: np.ndarray) -> np.ndarray: ...


class PredContribExplainer:
    """LightGBM's own exact TreeSHAP (`pred_contrib`): the reference and the fallback explainer."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        zero = np.zeros((1, booster.num_feature()))
        self.expected_value = float(np.asarray(booster.predict(zero, pred_contrib=True, num_threads=1))[0, -1])

    def shap_values(self, x: np.ndarray) -> np.ndarray:
        contrib = np.asarray(self.booster.predict(x, pred_contrib=True, num_threads=1), dtype=float)
        return contrib[:, :-1]


def default_explainer(booster: lgb.Booster) -> Explainer:
    """The fast exact explainer of `models.treeshap`; LightGBM's `pred_contrib` where it does not apply."""
    try:
        from models.treeshap import TreeExplainer, UnsupportedModelError
    except ImportError:  # pragma: no cover - the fast explainer is part of the package
        return PredContribExplainer(booster)
    try:
        return TreeExplainer(booster)
    except UnsupportedModelError:
        return PredContribExplainer(booster)


# --- probability points ----------------------------------------------------------------------------
def probability_points(phi: np.ndarray, expected_value: float, calibrator: Calibrator) -> np.ndarray:
    """Per-feature points of the calibrated probability (module docstring); rows add up to p − p₀."""
    phi = np.atleast_2d(np.asarray(phi, dtype=float))
    positive = np.where(phi > 0, phi, 0.0).sum(axis=1)
    negative = np.where(phi < 0, phi, 0.0).sum(axis=1)
    b = np.full(len(phi), float(expected_value))

    def g(margin: np.ndarray) -> np.ndarray:
        return np.asarray(calibrator.predict(margin), dtype=float)

    g_b, g_p, g_n, g_pn = g(b), g(b + positive), g(b + negative), g(b + positive + negative)
    up = 0.5 * ((g_p - g_b) + (g_pn - g_n))
    down = 0.5 * ((g_n - g_b) + (g_pn - g_p))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale_up = np.where(positive > 0, up / positive, 0.0)
        scale_down = np.where(negative < 0, down / negative, 0.0)
    return np.where(phi > 0, phi * scale_up[:, None], np.where(phi < 0, phi * scale_down[:, None], 0.0))


@dataclass(frozen=True)
class Attribution:
    """Exact contributions of a batch of households, in log-odds and in probability points."""

    feature_names: tuple[str, ...]
    shap: np.ndarray  # (n, k) log-odds
    points: np.ndarray  # (n, k) calibrated probability
    expected_value: float
    margin: np.ndarray  # (n,)
    probability: np.ndarray  # (n,) calibrated
    base_probability: float
    missing: np.ndarray | None = None  # (n, k) the model saw no value (NaN); None: read from the profile
    nonzero: np.ndarray | None = None  # (n, k) the model saw a value other than 0; None: read from the profile


def attribute(
    x: np.ndarray, feature_names: Sequence[str], explainer: Explainer, calibrator: Calibrator, margin: np.ndarray
) -> Attribution:
    """SHAP values of `x`, checked against `margin`, and their probability points."""
    phi = np.asarray(explainer.shap_values(x), dtype=float)
    expected = float(explainer.expected_value)
    gap = np.abs(phi.sum(axis=1) + expected - margin)
    if len(gap) and float(gap.max()) > ADDITIVITY_TOLERANCE:
        raise AdditivityError(f"SHAP values miss the margin by {float(gap.max()):.2e} (row {int(gap.argmax())})")
    points = probability_points(phi, expected, calibrator)
    return Attribution(
        feature_names=tuple(feature_names),
        shap=phi,
        points=points,
        expected_value=expected,
        margin=np.asarray(margin, dtype=float),
        probability=np.asarray(calibrator.predict(margin), dtype=float),
        base_probability=float(np.asarray(calibrator.predict(np.array([expected])))[0]),
        missing=np.isnan(np.asarray(x, dtype=float)),
        nonzero=nonzero_values(x),
    )


def nonzero_values(x: np.ndarray) -> np.ndarray:
    """Where the model's matrix holds a fact: a value that is neither missing nor 0."""
    x = np.asarray(x, dtype=float)
    return ~np.isnan(x) & (x != 0)


# --- reason keys -----------------------------------------------------------------------------------
def reason_kind(key: str) -> Kind:
    """What a reason key names: an official risk type, a basic-needs gap, a background, or data quality."""
    if key in NEEDS:
        return "need"
    if key == DATA_QUALITY:
        return "data_quality"
    return "risk_type" if key[:1].isdigit() else "background"


def reason_code(key: str) -> str | None:
    """The official risk-type code of a reason key (None for needs, backgrounds and data quality)."""
    return key if reason_kind(key) == "risk_type" else None


def reason_names(key: str) -> tuple[str, str]:
    """(zh, en) name of a reason key: the risk type's official name, the need's, or "背景因素：<background>"."""
    if key == "02":
        group = catalogue.GROUPS["disaster"]
        return group.zh, group.en
    if key in codes.RISK_TYPES:
        return codes.RISK_TYPES[key]
    if key in NEEDS:
        return NEEDS[key]
    if key == DATA_QUALITY:
        return "数据缺失或未采集（不计为原因）", "missing or unrecorded data (never a reason)"
    # A key of an earlier catalogue (a stored result) is read as the background it was.
    zh, en = BACKGROUNDS.get(key) or _legacy_group(key)
    return f"背景因素：{zh}", f"background factor: {en}"


def _legacy_group(key: str) -> tuple[str, str]:
    group = catalogue.GROUPS.get(key)
    return (group.zh, group.en) if group else BACKGROUNDS["other"]


@dataclass(frozen=True)
class FeatureContribution:
    name: str
    value: Any  # the household's own value, as in the profile
    shap: float  # log-odds
    points: float  # calibrated probability


@dataclass(frozen=True)
class Reason:
    key: str
    code: str | None
    zh: str
    en: str
    points: float  # calibrated probability (sum over the key's features)
    shap: float  # log-odds (sum over the key's features)
    features: tuple[FeatureContribution, ...]  # quoted: risk-raising ones by points, then a risk type's other facts
    sentence_zh: str | None
    sentence_en: str | None

    def sentence(self, lang: Lang) -> str | None:
        return self.sentence_zh if lang == "zh" else self.sentence_en

    @property
    def kind(self) -> Kind:
        return reason_kind(self.key)


def feature_sentence(name: str, value: Any, lang: Lang) -> str:
    """The catalogue's reason template filled with the value; a generic one for non-catalogue features."""
    if name in catalogue.BY_NAME:
        return catalogue.format_reason(name, _plain(value), lang)
    return f"{name} = {value}"


def household_reasons(
    attribution: Attribution,
    row: int,
    profile: Mapping[str, Any] | pd.Series,
    *,
    langs: Sequence[Lang] = LANGS,
    features_per_reason: int = 2,
) -> list[Reason]:
    """Every reason key of one household with its points, in reason order (module docstring); sentences filled.

    `profile` is the household's row (a Series, or any mapping from column name to value): its evidence decides
    the keys, and the quoted features' values fill the sentences. With `langs=()` no sentence is filled.
    """
    names = attribution.feature_names
    # Python floats: the same values as the array's, summed one by one in column order.
    phi, points = attribution.shap[row].tolist(), attribution.points[row].tolist()
    if attribution.missing is not None:
        missing = attribution.missing[row].tolist()
    else:
        missing = [_is_missing(profile.get(name)) for name in names]
    if attribution.nonzero is not None:
        nonzero = attribution.nonzero[row].tolist()
    else:
        nonzero = [not gap and number(profile.get(name)) != 0 for name, gap in zip(names, missing, strict=True)]
    keys = plan(names).keys
    by_key: dict[int, list[int]] = {}
    for j, k in enumerate(route_row(names, profile, missing)):
        by_key.setdefault(k, []).append(j)
    reasons = []
    for k, columns in by_key.items():
        # A risk type or need quotes its facts even where the model gives them no weight; a background only
        # what raises the estimate.
        facts = reason_kind(keys[k]) in EVIDENCE_KINDS
        shown = sorted(
            (j for j in columns if phi[j] > 0 or (facts and nonzero[j])),
            key=lambda j: (phi[j] <= 0, -points[j], -phi[j], names[j]),
        )
        quoted = tuple(
            FeatureContribution(names[j], profile.get(names[j]), float(phi[j]), float(points[j]))
            for j in shown[:features_per_reason]
        )
        zh, en = reason_names(keys[k])
        sentences = _sentences(quoted, langs)
        reasons.append(
            Reason(
                key=keys[k],
                code=reason_code(keys[k]),
                zh=zh,
                en=en,
                points=float(sum(points[j] for j in columns)),
                shap=float(sum(phi[j] for j in columns)),
                features=quoted,
                sentence_zh=sentences.get("zh"),
                sentence_en=sentences.get("en"),
            )
        )
    return sorted(reasons, key=lambda r: (KIND_ORDER[r.kind], -r.points, -r.shap, r.key))


def missing_features(attribution: Attribution, row: int, profile: Mapping[str, Any] | pd.Series) -> tuple[str, ...]:
    """The features of one household the model saw no value for (reported as missing data, never a reason)."""
    names = attribution.feature_names
    if attribution.missing is not None:
        return tuple(name for name, gap in zip(names, attribution.missing[row].tolist(), strict=True) if gap)
    return tuple(name for name in names if _is_missing(profile.get(name)))


def with_sentences(reason: Reason, langs: Sequence[Lang] = LANGS) -> Reason:
    """The reason with its sentences filled as `household_reasons` fills them (for reasons built without)."""
    sentences = _sentences(reason.features, langs)
    return replace(reason, sentence_zh=sentences.get("zh"), sentence_en=sentences.get("en"))


def _sentences(quoted: Sequence[FeatureContribution], langs: Sequence[Lang]) -> dict[Lang, str | None]:
    return {lang: _join([feature_sentence(f.name, f.value, lang) for f in quoted], lang) for lang in langs}


def top_reasons(reasons: Sequence[Reason], top: int = 3) -> list[Reason]:
    """The first `top` reasons shown to officials, `reasons` in reason order as `household_reasons` gives them:
    the household's risk types and needs with a fact to quote, whatever their points, then the backgrounds that
    raise the risk (positive points and at least one risk-raising feature); data quality never."""
    return [r for r in reasons if shown_reason(r.kind, r.points, bool(r.features))][:top]


def shown_reason(kind: Kind, points: float, quotes: bool) -> bool:
    """Whether a reason that `quotes` a feature may be among the top ones (`top_reasons`; the batch road applies
    the same rule). A background quotes only its risk-raising features, so for it `quotes` means it has one."""
    if kind in EVIDENCE_KINDS:
        return quotes
    return kind == "background" and points > 0 and quotes


def top_risk_types(reasons: Sequence[Reason], top: int = 3) -> list[Reason]:
    """The household's first `top` evidence-backed risk types and needs (the 风险类型 of the system), in reason
    order whatever their points: what measures answer."""
    return [r for r in reasons if r.kind in EVIDENCE_KINDS][:top]


def feature_contributions(
    attribution: Attribution, row: int, profile: Mapping[str, Any] | pd.Series
) -> list[FeatureContribution]:
    """Every feature of one household, largest points first (ties: by name)."""
    names = attribution.feature_names
    items = [
        FeatureContribution(name, profile.get(name), float(attribution.shap[row, j]), float(attribution.points[row, j]))
        for j, name in enumerate(names)
    ]
    return sorted(items, key=lambda f: (-f.points, -f.shap, f.name))


def top_features(
    attribution: Attribution, row: int, profile: Mapping[str, Any] | pd.Series, count: int
) -> list[FeatureContribution]:
    """The first `count` risk-raising features of `feature_contributions` (points > 0), building only those."""
    names = attribution.feature_names
    phi, points = attribution.shap[row], attribution.points[row]
    positive = np.flatnonzero(points > 0).tolist()
    chosen = sorted(positive, key=lambda j: (-float(points[j]), -float(phi[j]), names[j]))[:count]
    return [FeatureContribution(names[j], profile.get(names[j]), float(phi[j]), float(points[j])) for j in chosen]


def _join(parts: list[str], lang: Lang) -> str | None:
    if not parts:
        return None
    return ("；" if lang == "zh" else "; ").join(parts)


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _plain(value: Any) -> Any:
    """pandas' missing markers as NaN, numpy scalars as Python numbers (the templates format floats)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    if isinstance(value, np.generic):
        return value.item()
    return value
