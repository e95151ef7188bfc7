"""The data layer: scores with their audit entries in one transaction, history, region summaries and jobs."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.db import Database, open_database
from service.errors import (
    DatabaseUnavailableError,
    InvalidFieldError,
    JobStateError,
    OutOfScopeError,
    PermissionDeniedError,
)
from service.keys import Caller
from service.migrate import upgrade_database
from service.scope import Scope
from service.settings import ServiceSettings
from service.store import (
    commit_chunk,
    committed_chunks,
    create_job,
    get_job,
    household_history,
    iter_job_scores,
    level_trend,
    list_jobs,
    record_scores,
    region_summary,
    update_job,
)
from service.tables import AuditEntry, JobStatus, RiskLevel, Role, ScoreRecord
from tests.service.factories import make_caller, make_score

COUNTY = Scope("990101")
VILLAGE = "990101001001"


def _count(session: Session, table: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_scores_and_their_audit_entries_are_written_together(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        written = record_scores(
            session, COUNTY, caller, [make_score("hh1"), make_score("hh2", probability=0.8)], request_id="req-1"
        )
    assert written == 2
    with db.session() as session:
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        scores = session.scalars(select(ScoreRecord).order_by(ScoreRecord.id)).all()
    assert [a.household_pseudonym for a in audit] == [s.household_pseudonym for s in scores] == ["hh1", "hh2"]
    entry = audit[1]
    assert (entry.key_id, entry.role, entry.region_code, entry.request_id) == (
        caller.key_id,
        Role.MONITOR,
        VILLAGE,
        "req-1",
    )
    assert (entry.model_version, entry.probability, entry.level) == ("relapse-risk/3", 0.8, RiskLevel.MEDIUM)
    assert entry.input_hash == "sha256:hh220240630" and entry.reasons == scores[1].reasons
    assert entry.at.tzinfo is not None and scores[1].scored_at == entry.at
    assert scores[1].measures == [{"measure": "medical_assistance", "risks": ["01"]}] and scores[1].synthetic


def test_a_failed_transaction_leaves_neither_score_nor_audit_entry(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        caller = make_caller(session)
        record_scores(session, COUNTY, caller, [make_score("hh1")])
        raise RuntimeError("the response could not be built")
    with db.session() as session:
        assert _count(session, ScoreRecord) == _count(session, AuditEntry) == 0


def test_rows_outside_the_scope_are_refused_whole_naming_row_and_field(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
    with pytest.raises(OutOfScopeError) as raised, db.session() as session:
        rows = [make_score("hh1"), make_score("hh2", "990102001001")]
        record_scores(session, COUNTY, caller, rows)
    assert (raised.value.row, raised.value.field) == (1, "region_code")
    with db.session() as session:
        assert _count(session, ScoreRecord) == _count(session, AuditEntry) == 0


def test_a_scope_wider_than_the_callers_is_refused(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        with pytest.raises(OutOfScopeError) as raised:
            record_scores(session, Scope("99"), caller, [make_score()])
    assert raised.value.field == "region_prefix"


@pytest.mark.parametrize("role", [Role.OFFICIAL, Role.SCIENTIST])
def test_roles_without_score_permission_cannot_record(db: Database, role: Role) -> None:
    with db.session() as session:
        caller = make_caller(session, role, "990101")
        with pytest.raises(PermissionDeniedError):
            record_scores(session, COUNTY, caller, [make_score()])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"probability": 1.5}, "probability"),
        ({"probability": float("nan")}, "probability"),
        ({"probability": True}, "probability"),
        ({"level": "severe"}, "level"),
        ({"region_code": "99010100100"}, "region_code"),
        ({"region_code": "99010100100a"}, "region_code"),
        ({"household_pseudonym": "110101199003074477"}, "household_pseudonym"),  # an ID number, not a pseudonym
        ({"household_pseudonym": "张三"}, "household_pseudonym"),
        ({"household_pseudonym": ""}, "household_pseudonym"),
        ({"as_of": datetime(2024, 6, 30, 12)}, "as_of"),
        ({"reasons": [{"points": 0.1}]}, "reasons"),
        ({"reasons": "01"}, "reasons"),
        ({"measures": {}}, "measures"),
        ({"rule_flags": []}, "rule_flags"),
        ({"model_version": "v 3"}, "model_version"),
        ({"input_hash": ""}, "input_hash"),
        ({"expected_type": "poor"}, "expected_monitoring_type"),
    ],
)
def test_bad_values_are_typed_errors_naming_row_and_field(db: Database, change: dict[str, Any], field: str) -> None:
    with db.session() as session:
        caller = make_caller(session)
        rows = [make_score("hh1"), replace(make_score("hh2"), **change)]
        with pytest.raises(InvalidFieldError) as raised:
            record_scores(session, COUNTY, caller, rows)
        assert (raised.value.row, raised.value.field) == (1, field)
        assert _count(session, ScoreRecord) == 0


def test_history_is_newest_first_and_limited_to_the_household(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session)
        record_scores(
            session,
            COUNTY,
            caller,
            [
                make_score("hh1", as_of=date(2024, 3, 31), probability=0.2),
                make_score("hh1", as_of=date(2024, 6, 30), probability=0.4),
                make_score("hh2", as_of=date(2024, 6, 30), probability=0.9),
            ],
        )
    with db.session() as session:
        history = household_history(session, COUNTY, "hh1")
        assert [(h.as_of, h.probability) for h in history] == [(date(2024, 6, 30), 0.4), (date(2024, 3, 31), 0.2)]
        assert [h.as_of for h in household_history(session, COUNTY, "hh1", limit=1)] == [date(2024, 6, 30)]
        assert household_history(session, COUNTY, "nobody") == []
        with pytest.raises(InvalidFieldError, match="limit"):
            household_history(session, COUNTY, "hh1", limit=0)


def _summary_fixture(session: Session) -> Caller:
    caller = make_caller(session, Role.MONITOR, "990101")
    rows = [
        # hh1's older score is high; only its latest (low) one counts.
        make_score("hh1", as_of=date(2024, 3, 31), probability=0.9, level=RiskLevel.HIGH, reasons=["01"]),
        make_score("hh1", as_of=date(2024, 6, 30), probability=0.1, level=RiskLevel.LOW, reasons=["income"]),
        make_score("hh2", probability=0.8, level=RiskLevel.HIGH, reasons=["01", "0201"]),
        make_score("hh3", "990101002001", probability=0.6, level=RiskLevel.HIGH, reasons=["01", "income"]),
        make_score("hh4", "990101002001", probability=0.3, level=RiskLevel.MEDIUM, reasons=["07"]),
    ]
    record_scores(session, COUNTY, caller, rows)
    return caller


def test_region_summary_counts_latest_scores_and_lists_the_visits(db: Database) -> None:
    with db.session() as session:
        _summary_fixture(session)
    with db.session() as session:
        summary = region_summary(session, COUNTY, "990101", top_k=2)
    assert summary.region_code == "990101" and summary.households == 4
    assert summary.by_level == {RiskLevel.HIGH: 2, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 1}
    # Official risk types among the high- and medium-risk households (hh2, hh3, hh4); "income" is background.
    assert [(t.key, t.households, t.share) for t in summary.top_risk_types] == [
        ("01", 2, 2 / 3),
        ("0201", 1, 1 / 3),
        ("07", 1, 1 / 3),
    ]
    assert [(v.household_pseudonym, v.probability) for v in summary.visit_list] == [("hh2", 0.8), ("hh3", 0.6)]
    assert summary.visit_list[0].reasons[0]["key"] == "01" and summary.visit_list[0].measures
    assert summary.latest_as_of == date(2024, 6, 30) and summary.synthetic
    # Scores stored without a status say unknown, and stay in the new-risk outputs.
    assert summary.by_status == {"not_monitored": 0, "monitored": 0, "eliminated": 0, "unknown": 4}
    assert summary.newly_identifiable == 4 and summary.monitored_list == []
    assert all(v.monitoring_status == "unknown" for v in summary.visit_list)


MONITORED = {
    "monitoring_status": "monitored",
    "monitoring_type": "unstable",
    "monitoring_risk_types": ["01", "03"],
    "identified_date": date(2021, 5, 4),
}


def test_current_monitoring_objects_are_left_out_of_every_new_risk_output(db: Database) -> None:
    caller = None
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        rows = [
            make_score("m1", probability=0.95, level=RiskLevel.HIGH, reasons=["01"], status=MONITORED),
            make_score("m2", probability=0.2, level=RiskLevel.LOW, reasons=["04"],
                       status={**MONITORED, "identified_date": date(2019, 1, 2)}),
            make_score("n1", probability=0.7, level=RiskLevel.HIGH, reasons=["05", "income"],
                       status={"monitoring_status": "not_monitored"}),
            make_score("e1", probability=0.4, level=RiskLevel.MEDIUM, reasons=["01"],
                       status={"monitoring_status": "eliminated", "identified_date": date(2020, 3, 1),
                               "elimination_date": date(2021, 3, 1), "elimination_way": "assisted"}),
            make_score("u1", probability=0.1, level=RiskLevel.LOW, reasons=["income"]),
        ]  # fmt: skip
        record_scores(session, COUNTY, caller, rows)
    with db.session() as session:
        summary = region_summary(session, COUNTY, "990101", top_k=10)
        trend = level_trend(session, COUNTY)
    assert summary.households == 5 and summary.newly_identifiable == 3
    assert summary.by_status == {"not_monitored": 1, "monitored": 2, "eliminated": 1, "unknown": 1}
    assert summary.by_level == {RiskLevel.HIGH: 1, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 1}
    assert [v.household_pseudonym for v in summary.visit_list] == ["n1", "e1", "u1"]
    assert [(t.key, t.households, t.share) for t in summary.top_risk_types] == [("01", 1, 0.5), ("05", 1, 0.5)]
    # The monitored section: oldest identification first, with the status details.
    assert [v.household_pseudonym for v in summary.monitored_list] == ["m2", "m1"]
    first = summary.monitored_list[1]
    assert (first.monitoring_type, first.monitoring_risk_types, first.identified_date) == (
        "unstable",
        ("01", "03"),
        date(2021, 5, 4),
    )
    eliminated = summary.visit_list[1]
    assert (eliminated.monitoring_status, eliminated.elimination_date, eliminated.elimination_way) == (
        "eliminated",
        date(2021, 3, 1),
        "assisted",
    )
    # Hand-computed: p = 0.7, 0.4, 0.1 → Σp = 1.2, Σp(1−p) = 0.21 + 0.24 + 0.09 = 0.54.
    expected = summary.expected_identifications
    half = 1.959963984540054 * math.sqrt(0.54)
    assert expected.households == 3 and expected.expected == pytest.approx(1.2)
    assert (expected.low, expected.high) == (0.0, pytest.approx(1.2 + half))
    assert summary.latest_identifications_by_year == {2019: 1, 2020: 1, 2021: 1}
    assert trend[-1].by_level == {RiskLevel.HIGH: 1, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 1}


def test_the_expected_monitoring_type_is_stored_and_read_back(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        rows = [replace(make_score("s1"), expected_type="sudden"), make_score("s2")]
        record_scores(session, COUNTY, caller, rows)
    with db.session() as session:
        types = {h: household_history(session, COUNTY, h)[0].expected_monitoring_type for h in ("s1", "s2")}
    assert types == {"s1": "sudden", "s2": None}


def test_a_status_outside_the_code_lists_is_refused_naming_the_field(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        with pytest.raises(InvalidFieldError, match="monitoring_status"):
            record_scores(session, COUNTY, caller, [make_score(status={"monitoring_status": "watched"})])
        with pytest.raises(InvalidFieldError, match="monitoring_risk_types"):
            record_scores(session, COUNTY, caller, [make_score(status={**MONITORED, "monitoring_risk_types": ["88"]})])


def test_region_summary_of_a_village_and_of_an_empty_region(db: Database) -> None:
    with db.session() as session:
        _summary_fixture(session)
    with db.session() as session:
        village = region_summary(session, COUNTY, "990101002001")
        empty = region_summary(session, COUNTY, "990101009")
    assert village.households == 2 and {v.household_pseudonym for v in village.visit_list} == {"hh3", "hh4"}
    assert empty.households == 0 and empty.visit_list == [] and empty.top_risk_types == []
    assert empty.by_level == dict.fromkeys(RiskLevel, 0) and not empty.synthetic and empty.latest_as_of is None


def test_region_summary_refuses_bad_arguments(db: Database) -> None:
    with db.session() as session:
        with pytest.raises(InvalidFieldError, match="top_k"):
            region_summary(session, COUNTY, "990101", top_k=0)
        with pytest.raises(InvalidFieldError, match="region_code"):
            region_summary(session, COUNTY, "9901011")


# --- jobs ------------------------------------------------------------------------------------------------
def test_job_lifecycle_and_chunks_committed_exactly_once(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session)
        job = create_job(session, COUNTY, caller, source="upload households.parquet", options={"explain": True})
    assert (job.status, job.done_chunks, job.rows_done, job.progress) == (JobStatus.QUEUED, 0, 0, None)
    with db.session() as session:
        update_job(session, COUNTY, job.id, status="running", total_chunks=2)
        assert commit_chunk(session, COUNTY, caller, job.id, 0, [make_score("hh1"), make_score("hh2")])
    with db.session() as session:  # a resumed runner repeats chunk 0: nothing is written twice
        assert not commit_chunk(session, COUNTY, caller, job.id, 0, [make_score("hh1"), make_score("hh2")])
        assert commit_chunk(session, COUNTY, caller, job.id, 1, [make_score("hh3")])
    with db.session() as session:
        assert committed_chunks(session, COUNTY, job.id) == {0, 1}
        done = update_job(session, COUNTY, str(job.id), status=JobStatus.DONE)
        assert [s.household_pseudonym for s in iter_job_scores(session, COUNTY, job.id)] == ["hh1", "hh2", "hh3"]
        assert _count(session, ScoreRecord) == _count(session, AuditEntry) == 3
        assert set(session.scalars(select(AuditEntry.job_id))) == {job.id}
    assert (done.status, done.done_chunks, done.rows_done, done.progress) == (JobStatus.DONE, 2, 3, 1.0)
    assert done.options == {"explain": True} and done.source == "upload households.parquet"
    assert done.updated_at >= job.updated_at


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["cancelled", "running"], "running"),
        (["running", "done", "queued"], "queued"),
        (["running", "failed", "done"], "done"),
    ],
)
def test_job_status_moves_only_along_allowed_transitions(db: Database, path: list[str], refused: str) -> None:
    with db.session() as session:
        job = create_job(session, COUNTY, make_caller(session))
        for status in path[:-1]:
            update_job(session, COUNTY, job.id, status=status)
        with pytest.raises(JobStateError, match=f"cannot become {refused}"):
            update_job(session, COUNTY, job.id, status=path[-1])


def test_failed_jobs_can_be_queued_again_with_their_error_kept(db: Database) -> None:
    with db.session() as session:
        job = create_job(session, COUNTY, make_caller(session))
        update_job(session, COUNTY, job.id, status="running")
        update_job(session, COUNTY, job.id, status="failed", error="row 17, region_code: must be a 12-digit code")
        again = update_job(session, COUNTY, job.id, status="queued")
    assert again.status is JobStatus.QUEUED and again.error is not None and "row 17" in again.error


def test_chunks_need_a_running_job_and_rows_inside_its_region(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session, Role.MONITOR, "990101")
        job = create_job(session, Scope("990101001"), caller)
        with pytest.raises(JobStateError, match="cannot commit chunks"):
            commit_chunk(session, COUNTY, caller, job.id, 0, [make_score()])
        update_job(session, COUNTY, job.id, status="running")
        with pytest.raises(OutOfScopeError) as raised:
            commit_chunk(session, COUNTY, caller, job.id, 0, [make_score(region_code="990101002001")])
        assert (raised.value.row, raised.value.field) == (0, "region_code")
        assert committed_chunks(session, COUNTY, job.id) == set()


def test_list_jobs_newest_first_filtered_by_status(db: Database) -> None:
    with db.session() as session:
        caller = make_caller(session)
        first = create_job(session, COUNTY, caller)
        second = create_job(session, COUNTY, caller)
        update_job(session, COUNTY, second.id, status="running")
    with db.session() as session:
        assert {j.id for j in list_jobs(session, COUNTY)} == {first.id, second.id}
        assert [j.id for j in list_jobs(session, COUNTY, statuses=["queued", "running"], limit=1)] in (
            [[first.id], [second.id]]
        )
        assert [j.id for j in list_jobs(session, COUNTY, statuses=[JobStatus.RUNNING])] == [second.id]
        with pytest.raises(InvalidFieldError, match="status"):
            list_jobs(session, COUNTY, statuses=["paused"])


def test_malformed_job_ids_name_the_field(db: Database) -> None:
    with db.session() as session, pytest.raises(InvalidFieldError, match="job_id"):
        get_job(session, COUNTY, "not-a-uuid")


def test_racing_runners_commit_a_chunk_once(db: Database) -> None:
    """Two runners commit the same chunk at the same time: one wins; the other writes nothing (it returns False,
    or on SQLite may be told the database is busy and retry)."""
    with db.session() as session:
        caller = make_caller(session)
        job = create_job(session, COUNTY, caller)
        update_job(session, COUNTY, job.id, status="running")
    outcomes: list[object] = []
    first_wrote = threading.Event()
    release = threading.Event()

    def runner(wait_for_first: bool) -> None:
        try:
            with db.session() as session:
                if wait_for_first:
                    first_wrote.wait(5)
                wrote = commit_chunk(session, COUNTY, caller, job.id, 0, [make_score("hh1")])
                if not wait_for_first:
                    first_wrote.set()
                    release.wait(5)  # hold the transaction open while the second runner tries
            outcomes.append(wrote)
        except DatabaseUnavailableError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=runner, args=(False,)), threading.Thread(target=runner, args=(True,))]
    for thread in threads:
        thread.start()
    first_wrote.wait(5)
    time.sleep(0.5)  # let the second runner reach its insert while the first transaction is still open
    release.set()
    for thread in threads:
        thread.join(30)
    assert outcomes.count(True) == 1 and len(outcomes) == 2
    if db.engine.dialect.name == "postgresql":  # the unique (job, chunk) pair made the loser wait, then give up
        assert outcomes == [True, False]
    with db.session() as session:
        assert _count(session, ScoreRecord) == _count(session, AuditEntry) == 1
        assert get_job(session, COUNTY, job.id).rows_done == 1


# --- an unavailable database ---------------------------------------------------------------------------
def test_an_unreachable_database_is_a_typed_error_and_fails_the_readiness_check(tmp_path: Path) -> None:
    url = "postgresql+psycopg://relapse:wrong@127.0.0.1:1/nothing?connect_timeout=2"
    database = open_database(url, ServiceSettings(data_dir=tmp_path, database_url=url))
    assert not database.ping()
    with pytest.raises(DatabaseUnavailableError), database.session() as session:
        session.execute(text("SELECT 1"))


def test_a_locked_sqlite_database_writes_neither_score_nor_audit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade_database(url)
    database = open_database(url, ServiceSettings(data_dir=tmp_path, database_url=url, sqlite_busy_timeout_s=0.2))
    assert database.ping()
    with database.session() as session:
        caller = make_caller(session)
    with database.engine.connect() as blocker:
        blocker.exec_driver_sql("COMMIT")  # leave the transaction the engine began, to take the lock by hand
        blocker.exec_driver_sql("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseUnavailableError), database.session() as session:
            record_scores(session, COUNTY, caller, [make_score()])
        blocker.exec_driver_sql("ROLLBACK")
    with database.session() as session:
        assert _count(session, ScoreRecord) == _count(session, AuditEntry) == 0
    database.dispose()
