"""Region scope: a key for one county never sees another county's households, not even their existence."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from service.db import Database
from service.errors import InvalidFieldError, JobNotFoundError, OutOfScopeError
from service.scope import Scope
from service.store import (
    RegionSummary,
    committed_chunks,
    create_job,
    get_job,
    household_history,
    iter_job_scores,
    list_jobs,
    record_scores,
    region_summary,
)
from service.tables import RiskLevel, Role
from tests.service.factories import make_caller, make_score


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def county_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two different 6-digit county codes, often sharing their province, city or all but the last digit."""
    first = draw(_digits(6))
    shared = draw(st.sampled_from([0, 2, 4, 5]))
    second = draw(_digits(6 - shared).map(lambda rest: first[:shared] + rest).filter(lambda code: code != first))
    return first, second


def _summary_is_empty(summary: RegionSummary) -> bool:
    return (
        summary.households == 0
        and set(summary.by_level.values()) == {0}
        and summary.visit_list == []
        and summary.top_risk_types == []
        and summary.latest_as_of is None
        and not summary.synthetic
    )


def _out_of_scope_message(session: Session, scope: Scope, region: str) -> str:
    with pytest.raises(OutOfScopeError) as raised:
        region_summary(session, scope, region)
    return str(raised.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counties=county_pairs(), villages=st.lists(_digits(6), min_size=1, max_size=4, unique=True))
def test_one_countys_records_are_invisible_to_another_and_visible_above(
    db: Database, counties: tuple[str, str], villages: list[str]
) -> None:
    county_a, county_b = counties
    scope_a, scope_b = Scope(county_a), Scope(county_b)
    session = db.sessions()
    try:  # every example writes in one transaction and rolls it back: the database is empty for the next one
        writer = make_caller(session, Role.MONITOR, county_a)
        reader = make_caller(session, Role.MONITOR, county_b)
        # What the other county's key sees of county A, and the errors it gets, before anything exists there.
        before = _out_of_scope_message(session, reader.scope, county_a)
        unknown_job = uuid.uuid4()

        rows = [
            make_score(f"hh{i}", county_a + village, probability=0.5 + i / 10, level=RiskLevel.HIGH)
            for i, village in enumerate(villages)
        ]
        record_scores(session, scope_a, writer, rows)
        job = create_job(session, scope_a, writer, source="test")

        # Reads under county B return nothing, and their answers are those for a region with no data at all.
        for row in rows:
            assert household_history(session, scope_b, row.household_pseudonym) == []
        assert _summary_is_empty(region_summary(session, scope_b, county_b))
        assert _out_of_scope_message(session, scope_b, county_a) == before
        for village in villages:
            with pytest.raises(OutOfScopeError):
                region_summary(session, scope_b, county_a + village)
        assert list_jobs(session, scope_b) == []
        for job_id in (job.id, unknown_job):
            for read in (get_job, committed_chunks, lambda s, sc, j: list(iter_job_scores(s, sc, j))):
                with pytest.raises(JobNotFoundError, match=f"^no job {job_id} in this region scope$"):
                    read(session, scope_b, job_id)

        # Nor can county B's key write there.
        with pytest.raises(OutOfScopeError):
            record_scores(session, scope_b, reader, rows)

        # The province above county A and the whole country see everything written.
        for wider in (Scope(county_a[:2]), Scope(county_a[:4]), Scope.everything()):
            for row in rows:
                assert [h.household_pseudonym for h in household_history(session, wider, row.household_pseudonym)] == [
                    row.household_pseudonym
                ]
            summary = region_summary(session, wider, county_a, top_k=len(rows))
            assert summary.households == len(rows) and summary.by_level[RiskLevel.HIGH] == len(rows)
            assert {v.household_pseudonym for v in summary.visit_list} == {r.household_pseudonym for r in rows}
            assert [j.id for j in list_jobs(session, wider)] == [job.id]
            assert get_job(session, wider, job.id).id == job.id
    finally:
        session.rollback()
        session.close()


@pytest.mark.parametrize(
    ("prefix", "code", "contains"),
    [
        ("", "990101001001", True),
        ("99", "990101001001", True),
        ("990101", "990101001001", True),
        ("990101", "990102001001", False),
        ("990101", "980101001001", False),
        ("990101001", "990101001999", True),
        ("990101001001", "990101001001", True),
        ("990101001001", "990101001002", False),
    ],
)
def test_contains_is_a_prefix_match(prefix: str, code: str, contains: bool) -> None:
    assert Scope(prefix).contains(code) is contains


@pytest.mark.parametrize(
    ("outer", "inner", "covers"),
    [
        ("", "99", True),
        ("99", "990101", True),
        ("990101", "99", False),
        ("990101", "990102", False),
        ("990101", "990101", True),
    ],
)
def test_narrow_allows_only_regions_inside(outer: str, inner: str, covers: bool) -> None:
    assert Scope(outer).covers(Scope(inner)) is covers
    if covers:
        assert Scope(outer).narrow(inner) == Scope(inner)
    else:
        with pytest.raises(OutOfScopeError, match="region_code: lies outside"):
            Scope(outer).narrow(inner)


@pytest.mark.parametrize("prefix", ["9", "99010", "9901010", "99%", "9901_1", "99 01", "٩٩", "99010１", None, 99])
def test_malformed_prefixes_are_refused(prefix: object) -> None:
    with pytest.raises(InvalidFieldError, match="region_prefix"):
        Scope(prefix)  # type: ignore[arg-type]


def test_the_sql_filter_is_a_like_on_the_prefix() -> None:
    from service.tables import ScoreRecord

    assert str(Scope("990101").filter(ScoreRecord.region_code).compile(compile_kwargs={"literal_binds": True})) == (
        "score_records.region_code LIKE '990101%'"
    )
    assert str(Scope.everything().filter(ScoreRecord.region_code).compile()) == "true"
    assert Scope.everything().level == "everything" and Scope("990101").level == "county" and str(Scope("")) == "*"
