"""Scoring requests: profiles → probabilities → explanations → decisions stored with their audit entries.

Profiles are built by `features.profiles.build.build_profiles`, the function batch scoring and training use, and
turned into the booster's matrix by the same `RiskModel` (docs/architecture.md, non-negotiable 2); the API's
profile rows become what this module takes in `service.profile_rows`. Every decision is stored with its audit
entry in one transaction before the response exists (non-negotiable 4): when the database fails, the caller gets
503 and no score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from features.profiles.monitoring_type import expected_type_row
from features.profiles.readiness import readiness_row
from features.profiles.rules import describe_flags, rule_flags, rule_flags_row
from features.profiles.status import StatusValueError
from models.explain import HouseholdExplanation, explain_prepared
from models.outcomes import level_thresholds
from models.reasons import with_sentences
from models.record import nested_status, optional_number
from models.risk_model import ROWWISE_MAX, profiles_frame
from service.db import Database
from service.errors import InvalidFieldError
from service.input_hash import input_hashes
from service.keys import Caller, Permission
from service.model_holder import ServingModel
from service.schemas import (
    MeasureOut,
    MonitoringTypeOut,
    ReadinessOut,
    ReasonOut,
    RuleFlagsOut,
    ScoreItem,
    ScoreResponse,
)
from service.settings import ServiceSettings
from service.store import Decisions, ScoreInput, check_decisions, write_decisions
from service.tables import RiskLevel

# Further rows a request stores with its scores, given the scores' transaction.
Writes = Callable[[Connection], None]

SYNTHETIC_NOTICE: Final = (
    "SYNTHETIC: the serving model was trained on a fictional city (region codes 99…); "
    "its scores are a demonstration and say nothing about real households."
)


@dataclass(frozen=True)
class ScoreContext:
    """What one scoring request needs besides its input: who asks, with which model, where decisions go."""

    caller: Caller
    serving: ServingModel
    database: Database
    settings: ServiceSettings
    request_id: str | None = None


def thresholds(settings: ServiceSettings, label: str) -> tuple[float, float]:
    """(high, medium) for the serving model's label: the deployment's settings where set (`models.outcomes`)."""
    return level_thresholds(label, settings.high_threshold, settings.medium_threshold)


def risk_level(probability: float, levels: tuple[float, float]) -> RiskLevel:
    """The level of a probability against `thresholds`' (high, medium)."""
    high, medium = levels
    if probability >= high:
        return RiskLevel.HIGH
    if probability >= medium:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def check_batch(count: int, settings: ServiceSettings, field: str) -> None:
    if count > settings.max_batch:
        raise InvalidFieldError(field, f"at most {settings.max_batch} per request; use a batch job for more")


def score_profiles(
    context: ScoreContext,
    profiles: pd.DataFrame | list[dict[str, Any]],
    *,
    explain: bool,
    context_version: str | None = None,
    writes: Writes | None = None,
) -> ScoreResponse:
    """Score, explain, store with audit entries in one transaction, then answer; nothing unaudited leaves.

    `profiles` is a profile frame, or the values of its rows (`service.profile_rows.profile_values`): the same
    answer either way. `writes`, if given, writes the request's further rows in that transaction."""
    outcome = score_requests([ScoreRequest(context, profiles, explain, context_version, writes)])[0]
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
    writes: Writes | None = None  # rows stored with the scores, in their transaction (a document's own rows)

    def __len__(self) -> int:
        return len(self.profiles)


def score_requests(requests: Sequence[ScoreRequest]) -> list[ScoreResponse | Exception]:
    """Each request's answer, or the error it gets, scored together: one model pass per model version and
    `explain` setting, and one transaction storing every decision with its audit entry.

    Requests are checked one by one (caller, regions, stored values), so one request's bad input fails that
    request only. Each request is answered by the one model version its context holds. When the transaction
    fails, every request in it gets the error and no score: nothing unaudited leaves. Several requests are
    only combined when they hold row values (`profile_values`, or a frame's rows as it holds them); a frame is
    scored alone.
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
                for k in members:
                    writes = requests[k].writes
                    if writes is not None:
                        writes(connection)
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
    profiles: pd.DataFrame | list[dict[str, Any]]
    profiles = first.profiles if len(requests) == 1 else [row for r in requests for row in cast(list, r.profiles)]
    values, x, probabilities, explanations = _predict(first.context.serving, profiles, first.explain)
    identification = first.context.serving.model.identification_proba(x, [v.get("monitoring_status") for v in values])
    flags = _rule_flags(profiles, values)
    versions = [request.context_version for request in requests for _ in range(len(request))]
    hashes = input_hashes(x)
    items, records = _decisions(
        first.context, values, hashes, (probabilities, identification), explanations, flags, versions
    )
    parts = []
    start = 0
    for request in requests:
        end = start + len(request)
        parts.append((items[start:end], records[start:end]))
        start = end
    return parts


def _predict(
    serving: ServingModel, profiles: pd.DataFrame | list[dict[str, Any]], explain: bool
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, list[HouseholdExplanation | None]]:
    """Each row's values, the model matrix, and each row's probability and explanation (None without
    `explain`), all from that one matrix."""
    model = serving.model
    values: list[dict[str, Any]]
    rows: Sequence[Mapping[str, Any] | pd.Series]
    if isinstance(profiles, pd.DataFrame):
        # Each row is taken once and serves the matrix, the explanation and the rule flags.
        series = [profiles.iloc[i] for i in range(len(profiles))]
        x = model.prepare_rows(profiles, series)
        # Each row's values as plain objects, read once: the rule flags and the answer read them.
        values = [row_values(profile) for profile in series]
        rows = series
    else:
        values = rows = profiles
        x = model.prepare_rows(values)
    explanations: list[HouseholdExplanation | None]
    if explain:
        # No reason sentences here: only the returned reasons get theirs (`_explanation_parts`).
        explanations = list(explain_prepared(model, profiles, x, rows=rows, lang=None, explainer=serving.explainer))
        # The same numbers as `model.predict_proba(profiles)`: the calibrator on the margin of the same matrix.
        probabilities = np.array([e.probability for e in explanations if e is not None])
    else:
        explanations = [None] * len(values)
        probabilities = model.predict_proba(x)
    return values, x, probabilities, explanations


def row_values(row: pd.Series) -> dict[str, Any]:
    """A profile frame row's values as the frame holds them (`frame.iloc[i]`): what scoring reads from a frame."""
    return dict(zip(row.index, row.to_numpy(dtype=object), strict=True))


def _rule_flags(profiles: pd.DataFrame | list[dict[str, Any]], values: list[dict[str, Any]]) -> list[dict[str, bool]]:
    """The official-rule flags of each row: row by row for small requests (tested equal), else on the frame."""
    if len(values) <= ROWWISE_MAX:
        return [rule_flags_row(row) for row in values]
    frame = rule_flags(profiles if isinstance(profiles, pd.DataFrame) else profiles_frame(values))
    names = [str(name) for name in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in frame.to_numpy(dtype=bool).tolist()]


def _decisions(
    context: ScoreContext,
    values: list[dict[str, Any]],
    hashes: list[str],
    outputs: tuple[np.ndarray, np.ndarray | None],
    explanations: list[HouseholdExplanation | None],
    flags: list[dict[str, bool]],
    versions: list[str | None],
) -> tuple[list[ScoreItem], list[ScoreInput]]:
    """Each row's answer item and the decision to store with its audit entry; `outputs` are each row's probability
    and, when the model has an identification companion, its probability of identification."""
    serving, settings = context.serving, context.settings
    probabilities, identification = outputs
    levels = thresholds(settings, serving.model.label)
    items: list[ScoreItem] = []
    records: list[ScoreInput] = []
    for i, (profile, flag_values) in enumerate(zip(values, flags, strict=True)):
        probability = float(probabilities[i])
        identified = None if identification is None else optional_number(identification[i])
        level = risk_level(probability, levels)
        reasons, measures = _explanation_parts(explanations[i])
        row_flags = cast(pd.Series, flag_values)  # describe_flags reads a row of flags by name only
        as_of = pd.Timestamp(profile["as_of"]).date()
        try:
            status = nested_status(profile)
            expected_type = expected_type_row(profile)
            readiness = readiness_row(profile)
        except StatusValueError as error:
            raise InvalidFieldError(error.field, error.message, i) from None
        item = ScoreItem(
            **status,
            expected_monitoring_type=MonitoringTypeOut.of(expected_type),
            elimination_readiness=ReadinessOut.of(readiness),
            household_pseudonym=str(profile["household_id"]),
            region_code=str(profile["region_code"]),
            as_of=as_of,
            probability=probability,
            identification_probability=identified,
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
                identification_probability=identified,
                level=level,
                input_hash=hashes[i],
                reasons=[reason.model_dump() for reason in reasons],
                measures=[measure.model_dump() for measure in measures],
                rule_flags=flag_values,
                synthetic=serving.synthetic,
                context_version=versions[i],
                status=status,
                expected_type=expected_type,
                readiness=readiness,
            )
        )
    return items, records


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
