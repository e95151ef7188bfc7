"""Region reports and summaries read the narrow latest-score tables; they must say what the wide rows said.

The reference below is the query code the service used before `latest_scores` and `household_runs` existed
(issue #7), moved here unchanged in substance: each household's latest score ranked in SQL over `score_records`,
counts and the visit list from the wide rows, reason keys from the stored JSON, the trend as distinct households
per run and level over every score, and the rule flags tested on the JSON text. Random data covers what the
narrow tables must get right: households scored several times, in several runs, twice in one batch, with ties
in probability and in as_of, some in two villages or two counties, and scores arriving out of date order.
The reference also leaves current monitoring objects out of every new-risk output, as the service must: it
reads each household's status from its wide row.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Subquery, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from features.contract.codes import RISK_TYPES
from features.profiles.rules import RULES
from service.db import Database
from service.keys import Caller
from service.reports._cache import region_data_cached
from service.reports._queries import RegionData, region_data
from service.scope import Scope
from service.store import (
    Disagreement,
    ExpectedIdentifications,
    RegionSummary,
    RiskTypeCount,
    ScoreInput,
    ScoreView,
    TrendPoint,
    commit_chunk,
    create_job,
    record_scores,
    region_summary,
    update_job,
)
from service.tables import JobStatus, RiskLevel, Role
from tests.service.api_support import bearer

pytestmark = pytest.mark.xdist_group("reports")

COUNTIES = ("990101", "990102")
VILLAGES = tuple(
    f"{county}{township:03d}{village:03d}" for county in COUNTIES for township in (1, 2) for village in (1, 2)
)
RUNS = (date(2024, 1, 1), date(2024, 7, 1), date(2025, 1, 1), date(2025, 7, 1))
PROBABILITIES = (0.02, 0.05, 0.05, 0.12, 0.3, 0.3, 0.3, 0.61, 0.9)  # repeated values: ties in the lists
REASON_KEYS = ("01", "02", "04", "income", "housing")
SCOPES = ("", "99", "990101", "990102", "990101001", "990101002", "990101001001", "990102002002", "990103")


# --- the reference: the former queries over the wide score rows ---------------------------------------------


def _latest_scores(inner: Scope) -> Subquery:
    from service.tables import ScoreRecord

    rank = (
        func.row_number()
        .over(
            partition_by=ScoreRecord.household_pseudonym,
            order_by=(ScoreRecord.as_of.desc(), ScoreRecord.scored_at.desc(), ScoreRecord.id.desc()),
        )
        .label("rank")
    )
    ranked = select(ScoreRecord.id, rank).where(inner.filter(ScoreRecord.region_code)).subquery("ranked")
    return select(ranked.c.id).where(ranked.c.rank == 1).subquery("latest")


OFFICIAL_RISK_TYPES = {*RISK_TYPES, "02"}  # "02": the disaster family as reason keys name it


def reference_summary(session: Session, inner: Scope, top_k: int) -> RegionSummary:
    from service.tables import ScoreRecord

    latest = _latest_scores(inner)
    record = aliased(ScoreRecord, name="record")
    joined = select(record).join(latest, latest.c.id == record.id)
    synthetic = bool(session.scalar(joined.with_only_columns(func.max(case((record.synthetic, 1), else_=0)))))
    latest_as_of = session.scalar(joined.with_only_columns(func.max(record.as_of)))
    fresh_rows = joined.where(record.monitoring_status != "monitored")
    by_level = dict.fromkeys(RiskLevel, 0)
    for level, count in session.execute(
        fresh_rows.with_only_columns(record.level, func.count()).group_by(record.level)
    ):
        by_level[level] = count
    visits = session.scalars(fresh_rows.order_by(record.probability.desc(), record.household_pseudonym).limit(top_k))
    monitored = session.scalars(
        joined.where(record.monitoring_status == "monitored")
        .order_by(record.identified_date.is_(None), record.identified_date, record.household_pseudonym)
        .limit(top_k)
    )
    risk_types: Counter[str] = Counter()
    at_risk = fresh_rows.where(record.level.in_([RiskLevel.HIGH, RiskLevel.MEDIUM]))
    reasons_of_at_risk = list(session.execute(at_risk.with_only_columns(record.reasons)))
    for (reasons,) in reasons_of_at_risk:
        keys = {str(reason["key"]) for reason in reasons or [] if isinstance(reason, dict)}
        risk_types.update(keys & OFFICIAL_RISK_TYPES)
    probabilities = list(session.scalars(fresh_rows.with_only_columns(record.probability)))
    statuses = Counter(session.scalars(joined.with_only_columns(record.monitoring_status)))
    years = Counter(d.year for d in session.scalars(joined.with_only_columns(record.identified_date)) if d)
    expected = math.fsum(probabilities)
    half = 1.959963984540054 * math.sqrt(math.fsum(p * (1 - p) for p in probabilities))
    return RegionSummary(
        region_code=inner.region_prefix,
        households=sum(statuses.values()),
        by_level=by_level,
        top_risk_types=[
            RiskTypeCount(key, count, count / len(reasons_of_at_risk))
            for key, count in sorted(risk_types.items(), key=lambda item: (-item[1], item[0]))
        ],
        visit_list=[ScoreView.of(row) for row in visits],
        latest_as_of=latest_as_of,
        synthetic=synthetic,
        newly_identifiable=len(probabilities),
        by_status={status: statuses.get(status, 0) for status in STATUS_ORDER},
        monitored_list=[ScoreView.of(row) for row in monitored],
        expected_identifications=ExpectedIdentifications(
            expected, max(0.0, expected - half), min(float(len(probabilities)), expected + half), len(probabilities)
        ),
        latest_identifications_by_year=dict(sorted(years.items())),
        identifications_by_year={},  # the random data comes without source tables
        risk_type_households=len(reasons_of_at_risk),
    )


STATUS_ORDER = ("not_monitored", "monitored", "eliminated", "unknown")


def reference_trend(session: Session, scope: Scope, max_runs: int = 12) -> list[TrendPoint]:
    from service.tables import ScoreRecord

    dates = list(
        session.scalars(
            select(ScoreRecord.as_of)
            .where(scope.filter(ScoreRecord.region_code))
            .group_by(ScoreRecord.as_of)
            .order_by(ScoreRecord.as_of.desc())
            .limit(max_runs)
        )
    )
    rows = session.execute(
        select(ScoreRecord.as_of, ScoreRecord.level, func.count(func.distinct(ScoreRecord.household_pseudonym)))
        .where(
            scope.filter(ScoreRecord.region_code),
            ScoreRecord.as_of.in_(dates),
            ScoreRecord.monitoring_status != "monitored",
        )
        .group_by(ScoreRecord.as_of, ScoreRecord.level)
    )
    points = {as_of: dict.fromkeys(RiskLevel, 0) for as_of in dates}
    for as_of, level, count in rows:
        points[as_of][RiskLevel(level)] = int(count)
    return [TrendPoint(as_of, points[as_of]) for as_of in sorted(points)]


def reference_disagreements(session: Session, scope: Scope, limit: int) -> tuple[Disagreement, Disagreement]:
    from service.tables import ScoreRecord

    latest = _latest_scores(scope)
    record = aliased(ScoreRecord, name="record")
    any_flag = cast(record.rule_flags, String).like("%true%")
    out = []
    for level, flagged in ((RiskLevel.HIGH, False), (RiskLevel.LOW, True)):
        condition = (record.level == level, any_flag if flagged else ~any_flag, record.monitoring_status != "monitored")
        base = select(record).join(latest, latest.c.id == record.id).where(*condition)
        count = session.scalar(base.with_only_columns(func.count()))
        rows = session.scalars(base.order_by(record.probability.desc(), record.household_pseudonym).limit(limit))
        out.append(Disagreement(int(count or 0), [ScoreView.of(row) for row in rows]))
    return out[0], out[1]


def reference_region_data(session: Session, scope: Scope, visit_max: int, compare_max: int) -> RegionData:
    model_only, rules_only = reference_disagreements(session, scope, compare_max)
    return RegionData(
        reference_summary(session, scope, visit_max), reference_trend(session, scope), model_only, rules_only
    )


# --- random data -----------------------------------------------------------------------------------------


def random_batches(
    seed: int, households: int = 70, batches: int = 9, *, statuses: bool = True
) -> list[list[ScoreInput]]:
    """Scoring batches in the order they are stored. Each batch has one as_of, not in date order across
    batches (a late re-run of an earlier date); some households appear twice in a batch, some in a second
    village (of the same or the other county), and probabilities repeat."""
    rng = random.Random(seed)
    home = {f"hh{i:03d}": rng.choice(VILLAGES) for i in range(households)}
    moved = {pseudonym: rng.choice(VILLAGES) for pseudonym in rng.sample(sorted(home), households // 6)}
    rules = [rule.name for rule in RULES[:4]]
    out = []
    for _ in range(batches):
        as_of = rng.choice(RUNS)
        chosen = rng.sample(sorted(home), rng.randint(households // 3, households))
        chosen += rng.sample(chosen, 3)  # scored twice in one batch: the later row (larger id) wins
        rows = []
        for pseudonym in chosen:
            village = moved[pseudonym] if pseudonym in moved and rng.random() < 0.5 else home[pseudonym]
            keys = rng.sample(REASON_KEYS, rng.randint(0, 3))
            if keys and rng.random() < 0.2:
                keys.append(keys[0])  # a key named twice counts once
            rows.append(
                ScoreInput(
                    household_pseudonym=pseudonym,
                    region_code=village,
                    as_of=as_of,
                    model_version="relapse-risk/3",
                    probability=rng.choice(PROBABILITIES),
                    level=rng.choice(list(RiskLevel)),
                    input_hash=f"sha256:{pseudonym}{rng.getrandbits(32):08x}",
                    reasons=[{"key": key, "points": round(rng.random(), 3)} for key in keys],
                    measures=[{"measure": "medical_assistance", "risks": keys[:1]}],
                    rule_flags={name: rng.random() < 0.25 for name in rules},
                    synthetic=rng.random() < 0.15,
                    status=random_status(pseudonym, as_of, seed) if statuses else None,
                )
            )
        out.append(rows)
    return out


def random_status(pseudonym: str, as_of: date, seed: int) -> dict[str, Any] | None:
    """A status that is a function of the household and the date, as the profile builder's is (None: unknown)."""
    rng = random.Random(f"{seed}:{pseudonym}:{as_of}")
    status = rng.choice(STATUS_ORDER)
    if status == "unknown":
        return None if rng.random() < 0.5 else {"monitoring_status": "unknown"}
    if status == "not_monitored":
        return {"monitoring_status": status}
    identified = as_of - timedelta(days=rng.randint(30, 2000))
    out: dict[str, Any] = {
        "monitoring_status": status,
        "monitoring_type": rng.choice(["unstable", "marginal", "sudden"]),
        "monitoring_risk_types": rng.sample(["01", "0203", "03", "07"], rng.randint(1, 2)),
        "identified_date": identified if rng.random() < 0.9 else None,
    }
    if status == "eliminated":
        out |= {"elimination_date": identified + timedelta(days=20), "elimination_way": "natural"}
    return out


def store_batch(db: Database, rows: list[ScoreInput], *, as_job: bool) -> None:
    """Through the API's path (`record_scores`) or a batch job's chunk commit (`commit_chunk`)."""
    operator = Caller.local_operator()
    everything = Scope.everything()
    with db.session() as session:
        if not as_job:
            record_scores(session, everything, operator, rows)
            return
        job = create_job(session, everything, operator, total_chunks=1)
        update_job(session, everything, job.id, status=JobStatus.RUNNING)
        assert commit_chunk(session, everything, operator, job.id, 0, rows)


def store_random_data(db: Database, seed: int, *, statuses: bool = True) -> None:
    for i, rows in enumerate(random_batches(seed, statuses=statuses)):
        store_batch(db, rows, as_job=i % 3 == 2)


# --- the tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_region_summary_equals_the_former_query_over_the_score_rows(db: Database, seed: int) -> None:
    store_random_data(db, seed)
    with db.session() as session:
        for code in SCOPES:
            for top_k in (1, 7, 1000):
                expected = reference_summary(session, Scope(code), top_k)
                assert region_summary(session, Scope.everything(), code, top_k) == expected, (code, top_k)
        everything = reference_summary(session, Scope(""), 1000)
    # The data has what the comparison is meant to exercise.
    assert everything.households == 70 and all(everything.by_level.values())
    probabilities = [view.probability for view in everything.visit_list]
    assert len(set(probabilities)) < len(probabilities)  # ties, ordered by pseudonym


@pytest.mark.parametrize(("visit_max", "compare_max"), [(200, 20), (5, 3)])
def test_region_report_data_equals_the_former_queries_over_the_score_rows(
    db: Database, visit_max: int, compare_max: int
) -> None:
    store_random_data(db, 3)
    with db.session() as session:
        for code in SCOPES:
            expected = reference_region_data(session, Scope(code), visit_max, compare_max)
            assert region_data(session, Scope(code), visit_max, compare_max) == expected, code
        county = reference_region_data(session, Scope("990101"), visit_max, compare_max)
    assert len(county.trend) == len(RUNS) and county.model_only.households and county.rules_only.households


def test_cached_region_data_follows_every_batch_like_the_former_queries(db: Database) -> None:
    """The cache merges the households whose latest score changed; after each batch it equals the reference."""
    scopes = [Scope(code) for code in ("990101", "990101001", "990102002002", "")]
    for i, rows in enumerate(random_batches(4)):
        store_batch(db, rows, as_job=i % 2 == 1)
        with db.session() as session:
            for scope in scopes:
                expected = reference_region_data(session, scope, 30, 5)
                assert region_data_cached(db, session, scope, 30, 5) == expected, (i, scope)


def test_an_older_score_stored_later_does_not_replace_the_latest(db: Database) -> None:
    def score(as_of: date, probability: float) -> ScoreInput:
        return ScoreInput("hh1", VILLAGES[0], as_of, "relapse-risk/3", probability, "high", "sha256:x")

    def latest() -> list[tuple[date, float]]:
        with db.session() as session:
            summary = region_summary(session, Scope.everything(), "990101", 5)
        assert summary == reference_summary_of(db, "990101")
        return [(v.as_of, v.probability) for v in summary.visit_list]

    store_batch(db, [score(RUNS[2], 0.4)], as_job=False)
    store_batch(db, [score(RUNS[0], 0.9)], as_job=False)  # a late re-run of an earlier date
    assert latest() == [(RUNS[2], 0.4)]
    store_batch(db, [score(RUNS[2], 0.7), score(RUNS[1], 0.2)], as_job=True)  # same date, stored later: wins
    assert latest() == [(RUNS[2], 0.7)]
    store_batch(db, [score(RUNS[2], 0.1), score(RUNS[2], 0.3)], as_job=False)  # same date and time: larger id
    assert latest() == [(RUNS[2], 0.3)]
    with db.session() as session:
        trend = region_data(session, Scope("990101"), 5, 5).trend
    assert [(p.as_of, p.by_level[RiskLevel.HIGH]) for p in trend] == [(RUNS[0], 1), (RUNS[1], 1), (RUNS[2], 1)]


def reference_summary_of(db: Database, code: str, top_k: int = 5) -> RegionSummary:
    with db.session() as session:
        return reference_summary(session, Scope(code), top_k)


def test_summary_endpoint_answers_what_the_former_query_answered(client: TestClient, db: Database) -> None:
    store_random_data(db, 5)
    response = client.get("/v1/regions/990101/summary?top_k=12", headers=bearer(db, Role.OFFICIAL, "990101"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    expected = reference_summary_of(db, "990101", 12)
    assert body["households"] == expected.households
    assert body["by_level"] == {level.value: n for level, n in expected.by_level.items()}
    assert body["top_risk_types"] == [
        {"key": t.key, "households": t.households, "share": t.share} for t in expected.top_risk_types
    ]
    assert [(v["household_pseudonym"], v["probability"], v["as_of"]) for v in body["visit_list"]] == [
        (v.household_pseudonym, v.probability, v.as_of.isoformat()) for v in expected.visit_list
    ]
    assert all(v["monitoring_status"] != "monitored" for v in body["visit_list"])
    assert [
        (v["household_pseudonym"], v["monitoring_status"], v["identified_date"]) for v in body["monitored_list"]
    ] == [
        (v.household_pseudonym, "monitored", v.identified_date and v.identified_date.isoformat())
        for v in expected.monitored_list
    ]
    assert (body["newly_identifiable"], body["by_status"]) == (expected.newly_identifiable, expected.by_status)
    counted = expected.expected_identifications
    assert body["expected_identifications"] == {
        "expected": counted.expected,
        "low": counted.low,
        "high": counted.high,
        "confidence": counted.confidence,
        "households": counted.households,
    }
    assert body["latest_identifications_by_year"] == {
        str(y): n for y, n in expected.latest_identifications_by_year.items()
    }
    assert expected.latest_as_of is not None and body["latest_as_of"] == expected.latest_as_of.isoformat()
    assert body["synthetic"] is expected.synthetic
