"""Scoring requests: documents → sources → `ingest` → `build_profiles` → probabilities → explanations → audit.

Profiles are built by `features.profiles.build.build_profiles`, the function batch scoring and training use
(docs/architecture.md, non-negotiable 2). Every decision is stored with its audit entry in one transaction before the
response exists (non-negotiable 4): when the database fails, the caller gets 503 and no score.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from features.profiles.build import feature_dtype
from features.profiles.catalogue import FEATURES, META_COLUMNS
from features.profiles.rules import describe_flags, rule_flags, rule_flags_row
from features.reading.frames import column_block
from models.explain import HouseholdExplanation, explain_prepared
from models.reasons import with_sentences
from models.risk_model import RiskModel, prepare_matrix
from service.db import Database
from service.errors import InvalidFieldError
from service.keys import Caller, Permission
from service.model_holder import ServingModel
from service.schemas import (
    MeasureOut,
    ReasonOut,
    RuleFlagsOut,
    ScoreItem,
    ScoreResponse,
)
from service.scope import check_region_code
from service.settings import ServiceSettings
from service.store import Decisions, ScoreInput, check_decisions, write_decisions
from service.tables import RiskLevel

SYNTHETIC_NOTICE: Final = (
    "SYNTHETIC: the serving model was trained on a fictional city (region codes 99…); "
    "its scores are a demonstration and say nothing about real households."
)
_FEATURES_BY_NAME: Final = {f.name: f for f in FEATURES}
_FEATURE_KINDS: Final = {f.name: f.kind == "category" for f in FEATURES}  # name → whether a category


@dataclass(frozen=True)
class ScoreContext:
    """What one scoring request needs besides its input: who asks, with which model, where decisions go."""

    caller: Caller
    serving: ServingModel
    database: Database
    settings: ServiceSettings
    request_id: str | None = None


def risk_level(probability: float, settings: ServiceSettings) -> RiskLevel:
    if probability >= settings.high_threshold:
        return RiskLevel.HIGH
    if probability >= settings.medium_threshold:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def check_batch(count: int, settings: ServiceSettings, field: str) -> None:
    if count > settings.max_batch:
        raise InvalidFieldError(field, f"at most {settings.max_batch} per request; use a batch job for more")


# --- already-built profiles -------------------------------------------------------------------------------------


def profiles_for_scoring(rows: Sequence[dict[str, Any]], as_of: date) -> pd.DataFrame | list[dict[str, Any]]:
    """What `score_profiles` takes: the rows' values (`profile_values`) for small requests, else the frame."""
    return profile_values(rows, as_of) if len(rows) <= _ROWWISE_MAX else profiles_from_rows(rows, as_of)


def profiles_from_rows(rows: Sequence[dict[str, Any]], as_of: date) -> pd.DataFrame:
    """A profile frame (catalogue dtypes) from JSON rows; unknown names and unreadable values name field and row."""
    meta = _meta_columns(rows, as_of)
    # The frame is assembled from one block per dtype, as `features.profiles.build` assembles it: inserting ~100
    # columns one by one into a DataFrame costs more than scoring one household. The dtypes are those of
    # `pd.DataFrame` on the same lists (meta columns inferred; features as `_feature_values` types them).
    n = len(rows)
    blocks: list[tuple[Any, np.ndarray]] = []
    for position, name in enumerate(META_COLUMNS):
        values = meta[name] if name in meta else [row.get(name) for row in rows]
        blocks.append((column_block(pd.Series(values)), np.array([position])))
    floats: list[tuple[int, np.ndarray]] = []
    counts: list[tuple[int, np.ndarray]] = []
    for position, item in enumerate(FEATURES, start=len(META_COLUMNS)):
        column = _feature_values(item.name, [row.get(item.name) for row in rows])
        if isinstance(column, pd.Categorical):
            blocks.append((column, np.array([position])))
        else:
            (counts if column.dtype == np.int64 else floats).append((position, column))
    for group, dtype in ((floats, np.float64), (counts, np.int64)):
        if group:
            block = np.empty((len(group), n), dtype=dtype)
            for k, (_, column) in enumerate(group):
                block[k] = column
            blocks.append((block, np.array([position for position, _ in group])))
    order = pd.Index([*META_COLUMNS, *(item.name for item in FEATURES)])
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(n), order)


def _meta_columns(rows: Sequence[dict[str, Any]], as_of: date) -> dict[str, list[Any]]:
    """The checked meta columns of the rows (the first problem raised, naming field and row)."""
    allowed = set(META_COLUMNS) | set(_FEATURES_BY_NAME)
    for i, row in enumerate(rows):
        for name in row:
            if name not in allowed:
                raise InvalidFieldError(name, "is not a catalogue feature or profile column", i)
        if not isinstance(row.get("household_id"), str) or not row["household_id"]:
            raise InvalidFieldError("household_id", "is required", i)
        check_region_code(row.get("region_code"), row=i)
    region = [row["region_code"] for row in rows]
    return {
        "household_id": [row["household_id"] for row in rows],
        "as_of": [_as_of(row.get("as_of"), as_of, i) for i, row in enumerate(rows)],
        "region_code": region,
        "county_code": [row.get("county_code") or code[:6] for row, code in zip(rows, region, strict=True)],
        "province_code": [row.get("province_code") or code[:2] for row, code in zip(rows, region, strict=True)],
    }


def profile_values(rows: Sequence[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    """Each row's values exactly as `profiles_from_rows(rows, as_of).iloc[i]` holds them (same keys, order,
    values and scalar types; same errors), without the frame: for one household a DataFrame of 108 columns
    cost more than scoring it. Tested equal to the frame's rows (tests/service/test_scoring.py)."""
    meta = _meta_columns(rows, as_of)
    n = len(rows)
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name in META_COLUMNS:
        values = meta[name] if name in meta else [row.get(name) for row in rows]
        for value, target in zip(_cells(name, values), out, strict=True):
            target[name] = value
    for item in FEATURES:
        for value, target in zip(_feature_cells(item.name, [row.get(item.name) for row in rows]), out, strict=True):
            target[item.name] = value
    return out


def _cells(name: str, values: list[Any]) -> list[Any]:
    """The cells of a meta column as `pd.DataFrame` would type them: text as it is, else pandas' inference."""
    if name == "as_of" or all(isinstance(value, str) for value in values):
        return values  # Timestamps from `_as_of`; a column of text is `str`, its cells the same strings
    if all(value is None for value in values):
        return values  # object
    numbers = [value for value in values if value is not None]
    if all(type(value) in (int, float) for value in numbers) and all(abs(value) < 2**63 for value in numbers):
        # The income year and the monitoring line: int64 when all are ints, else float64 (None → NaN).
        if len(numbers) == len(values) and all(type(value) is int for value in numbers):
            return [np.int64(value) for value in values]
        return [np.float64(math.nan if value is None else value) for value in values]
    column = pd.Series(values)  # anything else as pandas types it
    return [column.iloc[i] for i in range(len(values))]


def _feature_cells(name: str, values: list[Any]) -> list[Any]:
    """`_feature_values` as a frame row holds it: category text or NaN, numpy float64, or int64 for a count
    column without missing values (in any row). Checked, in order, as `_feature_values` checks."""
    item = _FEATURES_BY_NAME[name]
    if item.kind == "category":
        for i, value in enumerate(values):
            if value is not None and value not in item.categories:
                raise InvalidFieldError(name, f"must be one of {', '.join(map(str, item.categories))}", i)
        return [np.nan if value is None else item.categories[item.categories.index(value)] for value in values]
    numbers: list[float] = []
    for i, value in enumerate(values):
        if value is None:
            numbers.append(math.nan)
        elif isinstance(value, bool | int | float) and math.isfinite(value):
            numbers.append(float(value))
        else:
            raise InvalidFieldError(name, "must be a finite number or null", i)
    if item.kind == "count" and not any(math.isnan(number) for number in numbers):
        if all(abs(number) < 2.0**63 for number in numbers):
            return [np.int64(number) for number in numbers]  # as `astype(np.int64)`: truncated toward zero
        return list(np.array(numbers).astype(np.int64))
    return [np.float64(number) for number in numbers]


def _as_of(value: Any, default: date, row: int) -> pd.Timestamp:
    if value is None:
        return pd.Timestamp(default)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise InvalidFieldError("as_of", "must be a date (YYYY-MM-DD)", row) from None
    if stamp.tz is not None or stamp != stamp.normalize():
        raise InvalidFieldError("as_of", "must be a date without time of day", row)
    return stamp


def _feature_values(name: str, values: list[Any]) -> pd.Categorical | np.ndarray:
    """A feature column: categorical, float64, or int64 for a count without missing values."""
    item = _FEATURES_BY_NAME[name]
    if item.kind == "category":
        for i, value in enumerate(values):
            if value is not None and value not in item.categories:
                raise InvalidFieldError(name, f"must be one of {', '.join(map(str, item.categories))}", i)
        codes = [-1 if value is None else item.categories.index(value) for value in values]
        return pd.Categorical.from_codes(codes, dtype=cast(pd.CategoricalDtype, feature_dtype(item)))
    numbers = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None:
            numbers[i] = np.nan
        elif isinstance(value, bool | int | float) and math.isfinite(value):
            numbers[i] = float(value)
        else:
            raise InvalidFieldError(name, "must be a finite number or null", i)
    if item.kind == "count" and not np.isnan(numbers).any():
        return numbers.astype(np.int64)
    return numbers


# --- scoring ----------------------------------------------------------------------------------------------------


def score_profiles(
    context: ScoreContext,
    profiles: pd.DataFrame | list[dict[str, Any]],
    *,
    explain: bool,
    context_version: str | None = None,
) -> ScoreResponse:
    """Score, explain, store with audit entries in one transaction, then answer; nothing unaudited leaves.

    `profiles` is a profile frame, or the values of its rows (`profile_values`): the same answer either way."""
    outcome = score_requests([ScoreRequest(context, profiles, explain, context_version)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@dataclass(frozen=True)
class ScoreRequest:
    """One request's profiles to score: a profile frame, or the values of its rows (`profile_values`)."""

    context: ScoreContext
    profiles: pd.DataFrame | list[dict[str, Any]]
    explain: bool
    context_version: str | None = None  # the villages reference the profiles were built with

    def __len__(self) -> int:
        return len(self.profiles)


def score_requests(requests: Sequence[ScoreRequest]) -> list[ScoreResponse | Exception]:
    """Each request's answer, or the error it gets, scored together: one model pass per model version and
    `explain` setting, and one transaction storing every decision with its audit entry.

    Requests are checked one by one (caller, regions, stored values), so one request's bad input fails that
    request only. Each request is answered by the one model version its context holds. When the transaction
    fails, every request in it gets the error and no score: nothing unaudited leaves. Several requests are
    only combined when they hold row values (`profile_values`); a frame is scored alone.
    """
    outcomes: list[ScoreResponse | Exception | None] = [None] * len(requests)
    groups: dict[tuple[object, ...], list[int]] = {}
    for k, request in enumerate(requests):
        try:
            _check_scope(request)
        except Exception as error:  # handed to that request, which raises it
            outcomes[k] = error
            continue
        alone = isinstance(request.profiles, pd.DataFrame)
        group = ("frame", k) if alone else (id(request.context.serving), request.explain)
        groups.setdefault(group, []).append(k)
    decided: dict[int, tuple[list[ScoreItem], Decisions]] = {}
    for members in groups.values():
        try:
            parts = _decide([requests[k] for k in members])
        except Exception as error:
            for k in members:
                outcomes[k] = error
            continue
        for k, (items, records) in zip(members, parts, strict=True):
            context = requests[k].context
            try:
                checked = check_decisions(context.caller.scope, context.caller, records, request_id=context.request_id)
            except Exception as error:
                outcomes[k] = error
                continue
            decided[k] = (items, checked)
    for database, members in _by_database(requests, decided).items():
        try:
            with database.transaction() as connection:
                write_decisions(connection, [decided[k][1] for k in members])
        except Exception as error:
            for k in members:
                outcomes[k] = error
            continue
        for k in members:
            serving = requests[k].context.serving
            outcomes[k] = ScoreResponse(
                model_version=serving.version,
                synthetic=serving.synthetic,
                notice=SYNTHETIC_NOTICE if serving.synthetic else None,
                items=decided[k][0],
            )
    assert all(outcome is not None for outcome in outcomes)
    return cast(list[ScoreResponse | Exception], outcomes)


def _check_scope(request: ScoreRequest) -> None:
    caller = request.context.caller
    caller.require(Permission.SCORE)
    profiles = request.profiles
    codes = profiles["region_code"] if isinstance(profiles, pd.DataFrame) else (row["region_code"] for row in profiles)
    for i, code in enumerate(codes):
        caller.scope.require(str(code), row=i)  # from the codes alone: reveals nothing about stored households


def _by_database(requests: Sequence[ScoreRequest], decided: Mapping[int, Any]) -> dict[Database, list[int]]:
    out: dict[Database, list[int]] = {}
    for k in sorted(decided):
        out.setdefault(requests[k].context.database, []).append(k)
    return out


def _decide(requests: Sequence[ScoreRequest]) -> list[tuple[list[ScoreItem], list[ScoreInput]]]:
    """Score and explain the requests' rows in one pass (one model version, one `explain` setting): each
    request's answer items and the decisions to store, in request order."""
    first = requests[0]
    serving, settings, explain = first.context.serving, first.context.settings, first.explain
    model = serving.model
    profiles: pd.DataFrame | list[dict[str, Any]]
    profiles = first.profiles if len(requests) == 1 else [row for r in requests for row in cast(list, r.profiles)]
    values: list[dict[str, Any]]
    rows: Sequence[Mapping[str, Any] | pd.Series]
    if isinstance(profiles, pd.DataFrame):
        # Each row is taken once and serves the matrix, the explanation and the input hash.
        series = [profiles.iloc[i] for i in range(len(profiles))]
        x = model_matrix(model, profiles, series)
        # Each row's values as plain objects, read once: the rule flags and the input hash both need them.
        values = [dict(zip(profile.index, profile.to_numpy(dtype=object), strict=True)) for profile in series]
        rows = series
    else:
        values = rows = profiles
        x = values_matrix(model, values)
    explanations: list[HouseholdExplanation | None]
    if explain:
        # No reason sentences here: only the returned reasons get theirs (`_explanation_parts`).
        explanations = list(explain_prepared(model, profiles, x, rows=rows, lang=None, explainer=serving.explainer))
        # The same numbers as `model.predict_proba(profiles)`: the calibrator on the margin of the same matrix.
        probabilities = np.array([e.probability for e in explanations if e is not None])
    else:
        explanations = [None] * len(values)
        probabilities = model.predict_proba(x)
    if len(rows) <= _ROWWISE_MAX:
        flags = [rule_flags_row(row) for row in values]  # the frame path's flags, tested equal
    else:
        frame = rule_flags(profiles if isinstance(profiles, pd.DataFrame) else profiles_frame(values))
        names = [str(name) for name in frame.columns]
        flags = [dict(zip(names, row, strict=True)) for row in frame.to_numpy(dtype=bool).tolist()]
    items: list[ScoreItem] = []
    records: list[ScoreInput] = []
    versions = [request.context_version for request in requests for _ in range(len(request))]
    for i, (profile, flag_values) in enumerate(zip(values, flags, strict=True)):
        probability = float(probabilities[i])
        level = risk_level(probability, settings)
        reasons, measures = _explanation_parts(explanations[i])
        row_flags = cast(pd.Series, flag_values)  # describe_flags reads a row of flags by name only
        as_of = pd.Timestamp(profile["as_of"]).date()
        item = ScoreItem(
            household_pseudonym=str(profile["household_id"]),
            region_code=str(profile["region_code"]),
            as_of=as_of,
            probability=probability,
            risk_level=level.value,
            reasons=reasons,
            measures=measures,
            rule_flags=RuleFlagsOut(
                flags=flag_values, zh=describe_flags(row_flags, "zh"), en=describe_flags(row_flags, "en")
            ),
            model_version=serving.version,
            synthetic=serving.synthetic,
            context_version=versions[i],
        )
        items.append(item)
        records.append(
            ScoreInput(
                household_pseudonym=item.household_pseudonym,
                region_code=item.region_code,
                as_of=as_of,
                model_version=serving.version,
                probability=probability,
                level=level,
                input_hash=_hash_values(values[i]),
                reasons=[reason.model_dump() for reason in reasons],
                measures=[measure.model_dump() for measure in measures],
                rule_flags=flag_values,
                synthetic=serving.synthetic,
                context_version=versions[i],
            )
        )
    parts = []
    start = 0
    for request in requests:
        end = start + len(request)
        parts.append((items[start:end], records[start:end]))
        start = end
    return parts


# Up to this many rows the matrix is converted from the rows already taken; larger frames column by column.
_ROWWISE_MAX: Final = 64


def model_matrix(model: RiskModel, profiles: pd.DataFrame, rows: Sequence[pd.Series]) -> np.ndarray:
    """`model.prepare(profiles)`, bitwise, from the profile rows `profiles.iloc[i]` for small requests.

    `prepare` converts numeric columns with `pd.to_numeric(...).astype("float64")` and categories to their
    index in the model's list; for numpy numeric columns and string categories the rows' values convert to
    the same floats without ~100 pandas calls per request. Other dtypes go through `prepare` itself.
    """
    features = model.features
    positions = profiles.columns.get_indexer(pd.Index([f.name for f in features]))
    if len(rows) > _ROWWISE_MAX or (positions < 0).any():
        return model.prepare(profiles)  # names the missing features, if any
    dtypes = profiles.dtypes.tolist()
    values = np.array([row.to_numpy(dtype=object) for row in rows], dtype=object).reshape(len(rows), -1)
    x = np.empty((len(rows), len(features)), dtype=np.float64)
    numeric: list[int] = []
    other: list[int] = []
    for j, (f, position) in enumerate(zip(features, positions.tolist(), strict=True)):
        dtype = dtypes[position]
        if f.kind == "category" and _string_categories(dtype):
            index = _category_index(f.categories)
            x[:, j] = [index.get(v, np.nan) if isinstance(v, str) else np.nan for v in values[:, position]]
        elif f.kind != "category" and isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            numeric.append(j)
        else:
            other.append(j)
    if numeric:
        x[:, numeric] = values[:, positions[numeric]].astype(np.float64)
    if other:
        x[:, other] = prepare_matrix(profiles, tuple(features[j] for j in other))
    return x


def values_matrix(model: RiskModel, values: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """`model.prepare` of the frame whose rows are `values` (`profile_values`), bitwise, as `model_matrix`
    converts rows: numbers to float64, category text to its index in the model's list (else missing)."""
    features = model.features
    if not values or not all(_FEATURE_KINDS.get(f.name) == (f.kind == "category") for f in features):
        # Features beyond the catalogue's, or of another kind: `prepare` converts them (and names missing ones).
        return model.prepare(profiles_frame(values))
    x = np.empty((len(values), len(features)), dtype=np.float64)
    for j, f in enumerate(features):
        if f.kind == "category":
            index = _category_index(f.categories)
            x[:, j] = [index.get(v, np.nan) if isinstance(v, str) else np.nan for v in (row[f.name] for row in values)]
        else:
            x[:, j] = [float(row[f.name]) for row in values]
    return x


def profiles_frame(values: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame of profile rows as values (for the rare paths that need one)."""
    return pd.DataFrame({name: pd.Series([row[name] for row in values], dtype=object) for name in values[0]})


def _string_categories(dtype: object) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in dtype.categories)


@lru_cache(maxsize=256)
def _category_index(categories: tuple[str, ...]) -> dict[str, int]:
    return {str(c): k for k, c in reversed(list(enumerate(categories)))}  # the first match, as get_indexer


def _explanation_parts(explanation: HouseholdExplanation | None) -> tuple[list[ReasonOut], list[MeasureOut]]:
    if explanation is None:
        return [], []
    reasons = [
        ReasonOut(
            key=r.key,
            code=r.code,
            zh=r.zh,
            en=r.en,
            points=float(r.points),
            sentence_zh=r.sentence_zh,
            sentence_en=r.sentence_en,
        )
        for r in map(with_sentences, explanation.reasons)
    ]
    measures = [
        MeasureOut(
            measure=p.measure,
            zh=p.zh,
            en=p.en,
            risks=list(p.risks),
            probability_after=float(w.probability_after),
            points=float(w.points),
        )
        for p, w in zip(explanation.measures, explanation.what_if, strict=True)
    ]
    return reasons, measures


def input_hash(profile: pd.Series) -> str:
    """SHA-256 of the profile the decision was made on (after pseudonymisation: no ID number is hashed)."""
    return _hash_values(dict(zip(profile.index, profile.to_numpy(dtype=object), strict=True)))


def _hash_values(values: dict[str, Any]) -> str:
    plain = {name: _plain(value) for name, value in values.items()}
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    kind = type(value)
    # The cells of a profile row, by far the most common first: `.item()` of a float64 is `float()` of it.
    if kind is np.float64 or kind is float:
        return None if value != value else float(value)
    if kind is str or kind is int:
        return value
    if kind is np.int64:
        return int(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
