"""Batch explanations: scores, top reasons, measures and what-if for many households as one flat table.

`explain_batch(model, profiles)` gives, row for row, what `models.explain.explain_households` gives for one
household — the same probability, the same top reasons in the same order with the same points and sentences,
the same proposed measures and what-if estimates (tests/models/test_batch.py checks the two agree) — but
computed column-wise, so that a million households take seconds rather than a quarter of an hour:

- contributions: exact TreeSHAP of the whole batch (cached by model version and profile hash when a cache is
  given, `models.explanation_cache`), turned into probability points by `models.reasons.probability_points`;
- reasons: each row's columns routed to their reason keys by its evidence and missing values
  (`models._reason_keys.route_batch`), points summed per key column by column in feature order (so the sums are
  bitwise those of `household_reasons`), ranked per row as there (kind, points, log-odds, key), risk-raising
  ones kept;
- sentences: the catalogue's templates, filled once per distinct (feature, value);
- measures: `models.measures.propose_measures` for the risk types and needs among the top reasons, once per
  distinct (those keys, household status);
- what-if: `models.whatif.what_if_batch`, one vectorised re-score per measure.

Beside the probability, `identification_probability` is that of the model's identification companion (a need
model's second output, `models.risk_model`), missing for a model without one.

The result has one row per profile with flat columns (`reason1_key`, `reason1_points`, …, `measure1`,
`measure1_points`, …), which Parquet and CSV carry as they are. The same input and model give the same table.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np
import pandas as pd

from features.profiles import catalogue
from models._batch_measures import margins, propose_groups, what_if_probabilities
from models._reason_keys import plan, route_batch
from models.explanation_cache import ExplanationCache, profile_hashes
from models.measures import Proposal
from models.reasons import (
    ADDITIVITY_TOLERANCE,
    EVIDENCE_KINDS,
    KIND_ORDER,
    LANGS,
    AdditivityError,
    Explainer,
    Lang,
    default_explainer,
    feature_sentence,
    nonzero_values,
    probability_points,
    reason_code,
    reason_kind,
    reason_names,
)
from models.record import measure_columns, reason_columns
from models.risk_model import RiskModel

ID_COLUMNS: Final = ("household_id", "region_code", "as_of")
_TEXT_SUFFIXES: Final = ("_key", "_code", "_zh", "_en", "_risks")
SEPARATORS: Final[dict[Lang, str]] = {"zh": "；", "en": "; "}  # between the quoted features of one reason


@dataclass(frozen=True)
class BatchOptions:
    top: int = 3  # reasons per household (risk-raising only)
    per_reason: int = 2  # measures per reason
    features_per_reason: int = 2  # features quoted in a reason's sentence
    sentences: bool = True  # fill the zh/en sentences (the costliest part: skip for scores only)


DEFAULT_OPTIONS: Final = BatchOptions()


def output_columns(options: BatchOptions = DEFAULT_OPTIONS) -> list[str]:
    """The columns of `explain_batch`'s table, in order (the measure count is bounded by top × per_reason)."""
    columns = [*ID_COLUMNS, "probability", "identification_probability", "margin", "profile_hash"]
    return [*columns, *reason_columns(options.top), *measure_columns(options.top * options.per_reason)]


def explain_batch(
    model: RiskModel,
    profiles: pd.DataFrame,
    *,
    options: BatchOptions = DEFAULT_OPTIONS,
    explainer: Explainer | None = None,
    cache: ExplanationCache | None = None,
    model_version: str | None = None,
) -> pd.DataFrame:
    """One row per profile: calibrated probability, top reasons, measures and what-if (module docstring).

    With a `cache` and a `model_version`, SHAP values of profiles seen before under that version are read
    from the cache and only the others are computed (and then stored).
    """
    if options.top < 1 or options.per_reason < 1 or options.features_per_reason < 1:
        raise ValueError("top, per_reason and features_per_reason must be at least 1")
    profiles = profiles.reset_index(drop=True)
    if not len(profiles):
        return _empty(options)
    explainer = explainer or default_explainer(model.booster)
    x = model.prepare(profiles)
    margin, leaves = margins(model, x)
    hashes = profile_hashes(x)
    phi = _shap(explainer, x, hashes, cache, model_version)
    expected = float(explainer.expected_value)
    gap = np.abs(phi.sum(axis=1) + expected - margin) if len(phi) else np.zeros(0)
    if len(gap) and float(gap.max()) > ADDITIVITY_TOLERANCE:
        raise AdditivityError(f"SHAP values miss the margin by {float(gap.max()):.2e} (row {int(gap.argmax())})")
    points = probability_points(phi, expected, model.calibrator)
    probability = np.asarray(model.calibrator.predict(margin), dtype=float)

    out: dict[str, Any] = {name: profiles[name].to_numpy() for name in ID_COLUMNS if name in profiles.columns}
    out["probability"] = probability
    statuses = profiles["monitoring_status"].tolist() if "monitoring_status" in profiles.columns else None
    identification = model.identification_proba(x, statuses)
    out["identification_probability"] = np.full(len(x), np.nan) if identification is None else identification
    out["margin"] = margin
    out["profile_hash"] = [h.hex() for h in hashes]
    names = tuple(model.feature_names)
    routes = route_batch(names, profiles, np.isnan(x))
    nonzero = nonzero_values(x)
    keys, ranks = _rank_reasons(names, routes, phi, points, nonzero, options.top)
    quoted = [
        _quote(keys, routes, key_index, phi, points, nonzero, names, options.features_per_reason)
        for key_index, _ in ranks
    ]
    # Lookup arrays with a trailing None: key index −1 (no reason at this rank) picks it.
    lookup = {
        "key": np.array([*keys, None], dtype=object),
        "code": np.array([*(reason_code(key) for key in keys), None], dtype=object),
        "zh": np.array([*(reason_names(key)[0] for key in keys), None], dtype=object),
        "en": np.array([*(reason_names(key)[1] for key in keys), None], dtype=object),
    }
    for k, ((key_index, key_points), columns) in enumerate(zip(ranks, quoted, strict=True), start=1):
        for field, table in lookup.items():
            out[f"reason{k}_{field}"] = table[key_index]
        out[f"reason{k}_points"] = key_points
        for lang in LANGS:
            out[f"reason{k}_sentence_{lang}"] = (
                _sentences(columns, model, profiles, x, lang) if options.sentences else [None] * len(profiles)
            )
    evidence = np.array([*(reason_kind(key) in EVIDENCE_KINDS for key in keys), False])
    key_indexes = np.column_stack([np.where(evidence[key_index], key_index, -1) for key_index, _ in ranks])
    groups = propose_groups(profiles, keys, key_indexes, options.per_reason)
    slots = options.top * options.per_reason
    fields = _measure_fields(groups.proposals, slots)
    codes = fields["code"][:, groups.group_of_row].T  # rows × slots
    after = what_if_probabilities(model, profiles, x, leaves, codes)
    for k in range(1, slots + 1):
        for field in ("code", "zh", "en", "risks"):
            out[f"measure{k}_{field}"] = fields[field][k - 1][groups.group_of_row]
        out[f"measure{k}_probability_after"] = after[:, k - 1]
        out[f"measure{k}_points"] = after[:, k - 1] - probability
    result = pd.DataFrame(out, columns=[c for c in output_columns(options) if c in out])
    for name in result.columns:  # text columns as pandas' str whatever they hold (all missing included)
        if name in ("household_id", "region_code", "profile_hash") or name.endswith(_TEXT_SUFFIXES):
            result[name] = result[name].astype("str")
    return result


def _empty(options: BatchOptions) -> pd.DataFrame:
    floats = ("probability", "identification_probability", "margin")
    return pd.DataFrame(
        {
            name: pd.Series(
                dtype="float64"
                if name in floats or name.endswith(("_points", "_probability_after"))
                else "datetime64[ns]"
                if name == "as_of"
                else "str"
            )
            for name in output_columns(options)
        }
    )


# --- contributions ---------------------------------------------------------------------------------------------


def _shap(
    explainer: Explainer,
    x: np.ndarray,
    hashes: list[bytes],
    cache: ExplanationCache | None,
    version: str | None,
) -> np.ndarray:
    if cache is None or version is None or not len(x):
        return np.asarray(explainer.shap_values(x), dtype=float)
    keys = [(version, h) for h in hashes]
    phi, found = cache.get_many(keys)
    if found.all():
        return phi
    missing = np.flatnonzero(~found)
    fresh = np.asarray(explainer.shap_values(x[missing]), dtype=float)
    cache.put_many([keys[i] for i in missing], fresh)
    if not found.any():
        return fresh
    phi[missing] = fresh
    return phi


# --- reasons ---------------------------------------------------------------------------------------------------


def _rank_reasons(
    names: tuple[str, ...], routes: np.ndarray, phi: np.ndarray, points: np.ndarray, nonzero: np.ndarray, top: int
) -> tuple[tuple[str, ...], list[tuple[np.ndarray, np.ndarray]]]:
    """The reason keys, and per rank 1…top each row's key index (−1: none) and the key's points (NaN: none).

    Keys are ordered per row as `models.reasons.household_reasons` orders them — kind, then points and
    log-odds (both descending), then key — and only the reasons `models.reasons.shown_reason` shows count: risk
    types and needs with a fact (a risk-raising feature or a value other than 0), backgrounds with positive
    points and a risk-raising feature, data quality never.
    """
    n = len(phi)
    keys = plan(names).keys
    key_points = np.zeros((n, len(keys)))
    key_shap = np.zeros((n, len(keys)))
    raising = np.zeros((n, len(keys)), dtype=bool)
    fact = np.zeros((n, len(keys)), dtype=bool)
    rows = np.arange(n)
    for j in range(len(names)):  # one column at a time, in feature order: the same sums as Python's sum()
        to = routes[:, j]
        key_points[rows, to] += points[:, j]
        key_shap[rows, to] += phi[:, j]
        raising[rows, to] |= phi[:, j] > 0
        fact[rows, to] |= nonzero[:, j]
    kinds = [reason_kind(key) for key in keys]
    kind_rank = np.broadcast_to(np.array([KIND_ORDER[kind] for kind in kinds]), key_points.shape)
    key_rank = np.broadcast_to(_rank(keys), key_points.shape)
    evidence = np.broadcast_to(np.array([kind in EVIDENCE_KINDS for kind in kinds]), key_points.shape)
    background = np.broadcast_to(np.array([kind == "background" for kind in kinds]), key_points.shape)
    eligible = np.where(evidence, raising | fact, background & (key_points > 0) & raising)
    order = np.lexsort((key_rank, -key_shap, -key_points, kind_rank, ~eligible), axis=1)
    ranks = []
    for k in range(top):
        if k >= len(keys):
            ranks.append((np.full(n, -1), np.full(n, np.nan)))
            continue
        pick = order[:, k]
        ok = eligible[rows, pick]
        ranks.append((np.where(ok, pick, -1), np.where(ok, key_points[rows, pick], np.nan)))
    return keys, ranks


def _quote(
    keys: Sequence[str],
    routes: np.ndarray,
    key_index: np.ndarray,
    phi: np.ndarray,
    points: np.ndarray,
    nonzero: np.ndarray,
    names: Sequence[str],
    width: int,
) -> np.ndarray:
    """Feature columns each row's reason quotes (−1: none), as `models.reasons.household_reasons` quotes them: its
    risk-raising features by (−points, −shap, name), then for a risk type or need its other facts the same way."""
    quoted = np.full((len(key_index), width), -1, dtype=np.int64)
    name_rank = _rank(names)
    for r in range(len(keys)):
        rows = np.flatnonzero(key_index == r)
        if not len(rows):
            continue
        columns = np.flatnonzero((routes[rows] == r).any(axis=0))
        sub_phi, sub_points = phi[np.ix_(rows, columns)], points[np.ix_(rows, columns)]
        raising = sub_phi > 0
        facts = nonzero[np.ix_(rows, columns)] if reason_kind(keys[r]) in EVIDENCE_KINDS else False
        candidate = (raising | facts) & (routes[np.ix_(rows, columns)] == r)
        tie = np.broadcast_to(name_rank[columns], sub_phi.shape)
        order = np.lexsort((tie, -sub_phi, -sub_points, ~raising, ~candidate), axis=1)[:, :width]
        chosen = np.where(np.take_along_axis(candidate, order, axis=1), columns[order], -1)
        quoted[rows, : chosen.shape[1]] = chosen
    return quoted


def _rank(labels: Sequence[str]) -> np.ndarray:
    """Each label's position in sorted order (the tie-break by name or key)."""
    rank = np.empty(len(labels), dtype=np.int64)
    rank[np.argsort(np.array(labels, dtype=object), kind="stable")] = np.arange(len(labels))
    return rank


# --- sentences -------------------------------------------------------------------------------------------------


def _sentences(columns: np.ndarray, model: RiskModel, profiles: pd.DataFrame, x: np.ndarray, lang: Lang) -> np.ndarray:
    """Each row's reason sentence: the quoted features' catalogue sentences joined (None: nothing quoted).

    Every distinct (feature, value) is formatted once and spread to the rows that quote it: numeric catalogue
    features through their template's format spec on the float the model saw (what
    `features.profiles.catalogue.format_reason` does with `float(value)`), others — and the catalogue's
    features printed in words (levels, flags, categories) — through `models.reasons.feature_sentence`.
    """
    names = model.feature_names
    sentence = np.full(len(columns), None, dtype=object)
    for q in range(columns.shape[1]):
        part = np.full(len(columns), None, dtype=object)
        for j in np.unique(columns[:, q]):
            if j < 0:
                continue
            rows = np.flatnonzero(columns[:, q] == j)
            part[rows] = _feature_sentences(names[j], model.features[j].kind, profiles, x[rows, j], rows, lang)
        has = part != None  # noqa: E711 — element-wise on an object array
        both = has & (sentence != None)  # noqa: E711
        sentence[both] = sentence[both] + SEPARATORS[lang] + part[both]
        only = has & ~both
        sentence[only] = part[only]
    return sentence


def _feature_sentences(
    name: str, kind: str, profiles: pd.DataFrame, values: np.ndarray, rows: np.ndarray, lang: Lang
) -> np.ndarray:
    template = _template(name, lang) if name not in catalogue.WORDED and kind != "category" else None
    if template is None:
        column = profiles[name].iloc[rows] if name in profiles.columns else pd.Series([None] * len(rows))
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        texts = np.array([*(feature_sentence(name, v, lang) for v in uniques), _missing(name, lang)], dtype=object)
        return texts[codes]  # code −1 (missing) picks the last entry
    # Distinct bit patterns, so that −0.0 and 0.0 keep their own text (a format can tell them apart).
    bits, inverse = np.unique(np.ascontiguousarray(values).view(np.int64), return_inverse=True)
    distinct = bits.view(np.float64)
    missing = _missing(name, lang)

    def filled(v: float) -> str:
        return "".join(p + (format(v, spec) if field else "") for p, field, spec in template)

    texts = np.array(
        [missing if v != v else catalogue.grammatical(filled(v), lang) for v in distinct.tolist()], dtype=object
    )
    return texts[np.asarray(inverse).reshape(-1)]


@lru_cache(maxsize=1024)
def _template(name: str, lang: Lang) -> tuple[tuple[str, bool, str], ...] | None:
    """A numeric catalogue feature's template as (literal, has value, format spec) pieces; None: not simple."""
    if name not in catalogue.BY_NAME:
        return None
    item = catalogue.feature(name)
    pieces = []
    for literal, field, spec, conversion in string.Formatter().parse(
        item.reason_zh if lang == "zh" else item.reason_en
    ):
        if field not in (None, "value") or conversion is not None or (spec and "{" in spec):
            return None
        pieces.append((literal, field is not None, spec or ""))
    return tuple(pieces)


def _missing(name: str, lang: Lang) -> str:
    return feature_sentence(name, float("nan"), lang)


# --- measures --------------------------------------------------------------------------------------------------


def _measure_fields(proposals: list[list[Proposal]], slots: int) -> dict[str, np.ndarray]:
    """Per field, a slots × groups object array of each group's proposals (None past its last proposal)."""
    out = {field: np.full((slots, len(proposals)), None, dtype=object) for field in ("code", "zh", "en", "risks")}
    for g, items in enumerate(proposals):
        for k, p in enumerate(items[:slots]):
            out["code"][k, g] = p.measure
            out["zh"][k, g] = p.zh
            out["en"][k, g] = p.en
            out["risks"][k, g] = ",".join(p.risks)
    return out
