"""The work list: cut per village to the staff's capacity, grouped and named, "why now", and its CSV and Excel files.

The cut is checked against a reference written independently here (each household's latest stored input, ranked
per village in Python) over generated score histories; names, capacity rules and "why now" on hand-made cases.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.db import Database
from service.errors import InvalidFieldError
from service.keys import Caller
from service.reports import pages, work_table
from service.reports.build import capacity_of
from service.reports.i18n import Messages
from service.reports.render import render_page
from service.reports.worklist import Capacity, WorkList, places_from, work_list
from service.scope import Scope
from service.settings import ServiceSettings
from service.store import ScoreInput, ScoreView, record_scores
from service.tables import Base, RiskLevel

pytestmark = pytest.mark.xdist_group("reports")

VILLAGES = ("990101001001", "990101001002", "990101002001", "990102001001")
ZH, EN = Messages("zh"), Messages("en")


def clear(db: Database) -> None:
    with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(text(f"DELETE FROM {table.name}"))


def score(
    pseudonym: str,
    village: str,
    probability: float,
    as_of: date = date(2025, 7, 1),
    keys: tuple[str, ...] = ("01",),
) -> ScoreInput:
    return ScoreInput(
        household_pseudonym=pseudonym,
        region_code=village,
        as_of=as_of,
        model_version="relapse-risk/3",
        probability=probability,
        level=RiskLevel.HIGH if probability >= 0.1 else RiskLevel.LOW,
        input_hash=f"sha256:{pseudonym}",
        reasons=[{"key": key, "points": 0.01} for key in keys],
        measures=[{"measure": "medical_assistance", "zh": "医疗救助", "en": "medical assistance"}],
    )


def store(db: Database, rows: list[ScoreInput]) -> None:
    with db.session() as session:
        record_scores(session, Scope.everything(), Caller.local_operator(), rows)


def reference_cut(batches: list[list[ScoreInput]], prefix: str, per_village: int) -> dict[str, list[str]]:
    """Village → pseudonyms listed: each household's latest input (largest as_of, then the later stored), in
    the village of that input, the `per_village` highest probabilities (ties by pseudonym)."""
    latest: dict[str, tuple[date, int, ScoreInput]] = {}
    order = 0
    for rows in batches:
        for row in rows:
            order += 1
            if not row.region_code.startswith(prefix):
                continue
            seen = latest.get(row.household_pseudonym)
            if seen is None or (row.as_of, order) > seen[:2]:
                latest[row.household_pseudonym] = (row.as_of, order, row)
    by_village: dict[str, list[ScoreInput]] = defaultdict(list)
    for _, _, row in latest.values():
        by_village[row.region_code].append(row)
    return {
        village: [r.household_pseudonym for r in sorted(rows, key=lambda r: (-r.probability, r.household_pseudonym))][
            :per_village
        ]
        for village, rows in by_village.items()
    }


histories = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 11),  # household
            st.sampled_from(VILLAGES),
            st.sampled_from((0.01, 0.05, 0.05, 0.2, 0.5, 0.9)),  # repeated values: ties
            st.sampled_from((date(2024, 7, 1), date(2025, 1, 1), date(2025, 7, 1))),
        ),
        min_size=1,
        max_size=15,
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, per_village=st.integers(1, 4), prefix=st.sampled_from(("990101", "990101001", "99")))
def test_each_village_lists_its_highest_households_up_to_the_capacity(
    db: Database, history: list[list[tuple[int, str, float, date]]], per_village: int, prefix: str
) -> None:
    clear(db)
    batches = [[score(f"hh{h:02d}", v, p, as_of) for h, v, p, as_of in rows] for rows in history]
    for rows in batches:
        store(db, rows)
    with db.read_session() as session:
        work = work_list(session, Scope(prefix), Capacity(1, 1, per_village), {})
    got = {v.place.village_code: [r.view.household_pseudonym for r in v.rows] for v in work.villages}
    assert got == {k: v for k, v in reference_cut(batches, prefix, per_village).items() if v}
    listed = [r.view.household_pseudonym for v in work.villages for r in v.rows]
    assert len(listed) == len(set(listed)), "a household is listed once"
    codes = [v.place.village_code for v in work.villages]
    assert codes == sorted(codes, key=lambda c: (c[:9], c))


def test_capacity_is_visits_per_worker_times_workers_unless_a_count_is_given() -> None:
    assert Capacity(7, 3).per_village == 21
    assert Capacity(7, 3, count=5).per_village == 5
    with pytest.raises(InvalidFieldError, match="at least 1"):
        Capacity(0, 3)
    with pytest.raises(InvalidFieldError, match="at most"):
        Capacity(100, 100)
    deployment = ServiceSettings(reports_visits_per_worker=4, reports_workers=2, reports_visits_per_village=30)
    assert capacity_of(deployment).per_village == 30  # the deployment's explicit count
    assert capacity_of(deployment, visits_per_worker=5).per_village == 10  # a request's sizing wins: 5 × 2
    assert capacity_of(deployment, workers=3).per_village == 12  # 4 × 3
    assert capacity_of(deployment, visits_per_village=6).per_village == 6
    assert capacity_of(ServiceSettings(reports_visits_per_worker=4, reports_workers=2)).per_village == 8


def test_a_household_left_out_gives_its_place_to_the_next(db: Database) -> None:
    store(db, [score(f"hh{i}", VILLAGES[0], p) for i, p in enumerate((0.9, 0.8, 0.7, 0.6, 0.5))])
    with db.read_session() as session:
        work = work_list(
            session, Scope("990101"), Capacity(1, 2), {}, listable=lambda v: v.household_pseudonym != "hh0"
        )
    assert [r.view.household_pseudonym for r in work.villages[0].rows] == ["hh1", "hh2"]
    assert work.villages[0].households == 5


def test_why_now_names_the_reasons_new_since_the_previous_score_and_the_change(db: Database) -> None:
    store(db, [score("hh1", VILLAGES[0], 0.10, date(2025, 1, 1), ("01",)), score("hh2", VILLAGES[0], 0.3)])
    store(db, [score("hh1", VILLAGES[0], 0.25, date(2025, 7, 1), ("01", "02"))])
    with db.read_session() as session:
        work = work_list(session, Scope("990101"), Capacity(5, 1), {})
    rows = {r.view.household_pseudonym: r for r in work.villages[0].rows}
    assert rows["hh1"].new_reason_keys == ["02"]
    assert work_table.why_now(rows["hh1"], ZH) == "较2025年1月1日的评分新出现：因灾；估计概率变化 +15.0 个百分点"
    assert work_table.why_now(rows["hh1"], EN) == (
        "new since the score of 2025-01-01: natural disaster; estimated probability +15.0 percentage points"
    )
    assert work_table.why_now(rows["hh2"], ZH) == "首次评分；风险证据：因病"  # its one reason, 01, without a sentence


VILLAGE_TABLE = pd.DataFrame(
    {
        "region_code": ["990101001001", "990112001001"],
        "village_name": ["北岭村", "川口村"],
        "township_code": ["990101001", "990112001"],
        "township_name": ["北岭镇", "川口街道"],
        "county_code": ["990101", "990112"],
        "county_name": ["岭峁县", "山清区"],
        "province_code": ["99", "99"],
    }
)


def test_regions_are_named_as_the_villages_table_names_them() -> None:
    places = places_from(VILLAGE_TABLE)
    assert pages.place_title("990112", places, ZH) == "山清区（990112）"  # a 区 is never titled 县
    assert pages.place_title("990112001", places, ZH) == "山清区 川口街道（990112001）"
    assert pages.place_title("990101001001", places, EN) == "岭峁县 北岭镇 北岭村 (990101001001)"
    assert pages.place_title("990105", places, ZH) == "县级单位 990105"  # unknown: its level, not "县"


def test_why_now_of_a_first_score_gives_its_evidence_or_says_there_is_none(db: Database) -> None:
    evidence = {"key": "01", "points": 0.05, "sentence_zh": "近3个月住院自付 21,542 元", "sentence_en": "hospital"}
    background = {"key": "income", "points": 0.09}
    store(
        db,
        [
            dataclasses.replace(score("hh1", VILLAGES[0], 0.3), reasons=[background, evidence]),
            dataclasses.replace(score("hh2", VILLAGES[0], 0.2), reasons=[background]),
        ],
    )
    with db.read_session() as session:
        rows = {
            r.view.household_pseudonym: r for r in work_list(session, Scope("99"), Capacity(5, 1), {}).villages[0].rows
        }
    assert work_table.why_now(rows["hh1"], ZH) == "首次评分；风险证据：因病（近3个月住院自付 21,542 元）"
    assert work_table.why_now(rows["hh1"], EN) == "first score; evidence: illness (hospital)"
    assert work_table.why_now(rows["hh2"], ZH) == "首次评分；前列原因均为背景因素，无风险事件证据"


def _two_village_list(db: Database) -> WorkList:
    store(db, [score(f"a{i}", "990101001001", 0.5 - i / 100) for i in range(4)])
    store(db, [score(f"b{i}", "990112001001", 0.3 - i / 100) for i in range(2)])
    with db.read_session() as session:
        return work_list(session, Scope("99"), Capacity(3, 1), places_from(VILLAGE_TABLE))


def test_csv_and_excel_hold_the_same_cells_with_blank_columns_to_fill_in(db: Database) -> None:
    from openpyxl import load_workbook

    work = _two_village_list(db)
    table = list(csv.reader(io.StringIO(work_table.to_csv(work, ZH).decode("utf-8-sig"))))
    assert table[0][:5] == ["县（区、市）", "乡镇", "村", "序号", "户编号"]
    assert table[0][-3:] == ["走访日期", "走访结果", "走访人签字"]
    assert [row[4] for row in table[1:]] == ["a0", "a1", "a2", "b0", "b1"]
    assert [row[2] for row in table[1:]] == ["北岭村"] * 3 + ["川口村"] * 2
    assert all(row[-3:] == ["", "", ""] for row in table[1:])
    sheet = load_workbook(io.BytesIO(work_table.to_xlsx(work, ZH, "标题", ["说明"]))).active
    assert sheet is not None
    cells = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert cells == table
    assert sheet.print_title_rows == "$3:$3"


def test_the_page_groups_villages_by_township(db: Database) -> None:
    work = _two_village_list(db)
    context = pages.worklist_context(work, ZH)
    assert [t["name"] for t in context["townships"]] == ["北岭镇", "川口街道"]
    assert context["townships"][0]["villages"][0]["heading"] == "北岭镇 北岭村：已评分 4 户，列出 3 户"
    assert context["n"] == 5
    assert "每村按估计概率从高到低列出 3 户（每名工作人员 3 户 × 1 人）" in context["note"]


def _with_status(row: ScoreInput, **status: object) -> ScoreInput:
    return dataclasses.replace(row, status=status)


def test_current_monitoring_objects_are_counted_never_listed_and_statuses_read_in_words(db: Database) -> None:
    store(
        db,
        [
            _with_status(
                score("mon", VILLAGES[0], 0.95),
                monitoring_status="monitored",
                monitoring_type="unstable",
                monitoring_risk_types=["01", "03"],
                identified_date=date(2024, 3, 5),
            ),
            _with_status(
                score("out", VILLAGES[0], 0.5),
                monitoring_status="eliminated",
                identified_date=date(2023, 1, 1),
                elimination_date=date(2025, 1, 2),
                elimination_way="assisted",
            ),
            _with_status(score("new", VILLAGES[0], 0.4), monitoring_status="not_monitored"),
            score("old", VILLAGES[0], 0.3),  # a score without a status: unknown
        ],
    )
    with db.read_session() as session:
        work = work_list(session, Scope("990101"), Capacity(2, 1), {})
    village = work.villages[0]
    assert [r.view.household_pseudonym for r in village.rows] == ["out", "new"]
    assert (village.households, village.monitored, work.monitored) == (3, 1, 1)
    with db.read_session() as session:
        views = {
            r.view.household_pseudonym: r for r in work_list(session, Scope("99"), Capacity(5, 1), {}).villages[0].rows
        }
        monitored = record_view(session, "mon")
    words = {name: work_table.status_text(row.view, ZH) for name, row in views.items()}
    assert words == {
        "out": "已风险消除（2025年1月2日消除，帮扶消除）",
        "new": "未纳入监测",
        "old": "监测状态未知",
    }
    assert work_table.status_text(monitored, ZH) == "已纳入监测（脱贫不稳定户，因病，因残，2024年3月5日纳入）"
    assert work_table.status_text(monitored, EN) == (
        "under monitoring (unstable poverty-alleviated household, illness, disability, identified 2024-03-05)"
    )


def record_view(session: Session, pseudonym: str) -> ScoreView:
    from service.tables import ScoreRecord

    return ScoreView.of(session.scalars(select(ScoreRecord).where(ScoreRecord.household_pseudonym == pseudonym)).one())


def _view(probability: float, as_of: date, status: str, score_id: int) -> ScoreView:
    return ScoreView(
        id=score_id,
        household_pseudonym="hh9",
        region_code=VILLAGES[0],
        as_of=as_of,
        scored_at=datetime(2026, 1, 2, tzinfo=UTC),
        model_version="relapse-risk/3",
        probability=probability,
        level=RiskLevel.HIGH,
        reasons=[{"key": "01", "points": 0.2}],
        measures=[
            {
                "measure": "medical_assistance",
                "zh": "医疗救助",
                "en": "medical assistance",
                "probability_after": 0.123,
                "points": -0.25,
            }
        ],
        rule_flags={},
        synthetic=True,
        job_id=None,
        monitoring_status=status,
        monitoring_type="sudden" if status == "monitored" else None,
        identified_date=date(2025, 9, 1) if status == "monitored" else None,
    )


def test_a_monitoring_objects_page_shows_no_new_identification_probability() -> None:
    history = [_view(0.371, date(2026, 1, 1), "monitored", 2), _view(0.052, date(2025, 7, 1), "not_monitored", 1)]
    page = render_page("household", pages.household_context(history, ZH, now=datetime(2026, 2, 1, tzinfo=UTC)))
    assert "已纳入监测（突发严重困难户，2025年9月1日纳入）" in page
    assert ZH.t("household.monitored_note") in page
    assert "37.1" not in page and "12.3%" not in page  # neither its probability nor a what-if estimate
    assert "5.2%" in page  # the earlier score, made while it could still be newly identified
    fresh = render_page("household", pages.household_context(history[1:], ZH, now=datetime(2026, 2, 1, tzinfo=UTC)))
    assert "5.2%" in fresh and "12.3%" in fresh and ZH.t("household.monitored_note") not in fresh


def test_the_page_names_what_the_serving_models_probability_estimates() -> None:
    history = [_view(0.052, date(2025, 7, 1), "not_monitored", 1)]
    now = datetime(2026, 2, 1, tzinfo=UTC)
    need = render_page("household", pages.household_context(history, ZH, now=now, label="need_12m"))
    identification = render_page("household", pages.household_context(history, ZH, now=now, label="identified_12m"))
    assert "一年内陷入困难的估计概率（无论是否被发现）" in need and "一年内新纳入监测的估计概率" not in need
    assert ZH.t("prob.words_100_need", n=5) in need and ZH.t("prob.words_100", n=5) in identification
    assert "一年内新纳入监测的估计概率" in identification and "陷入困难" not in identification


def test_the_page_gives_the_second_output_and_says_when_need_is_far_more_likely_than_identification() -> None:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    pages_of = {
        found: render_page(
            "household",
            pages.household_context(
                [
                    dataclasses.replace(
                        _view(0.30, date(2025, 7, 1), "not_monitored", 1), identification_probability=found
                    )
                ],
                m,
                now=now,
                label="need_12m",
            ),
        )
        for m in (ZH,)
        for found in (0.15, 0.151, None)
    }
    assert ZH.t("household.identification", p="15.0") in pages_of[0.15]
    assert ZH.t("household.identification_gap") in pages_of[0.15]  # 0.30 is twice 0.15
    assert ZH.t("household.identification", p="15.1") in pages_of[0.151]
    assert ZH.t("household.identification_gap") not in pages_of[0.151]
    assert "常规渠道" not in pages_of[None]  # a score without the second output says nothing of it
    low = dataclasses.replace(
        _view(0.30, date(2025, 7, 1), "not_monitored", 1), level=RiskLevel.LOW, identification_probability=0.01
    )
    quiet = pages.household_context([low], ZH, now=now, label="need_12m")["identification"]
    assert quiet == ZH.t("household.identification", p="1.0")  # a low-risk household is not sent to the door
    english = pages.household_context(
        [dataclasses.replace(_view(0.30, date(2025, 7, 1), "not_monitored", 1), identification_probability=0.05)],
        EN,
        now=now,
    )
    assert english["identification"] == EN.t("household.identification", p="5.0") + EN.t("household.identification_gap")


def test_a_stored_score_keeps_its_second_output(db: Database) -> None:
    clear(db)
    store(
        db,
        [
            dataclasses.replace(score("i1", VILLAGES[0], 0.3), identification_probability=0.07),
            score("i2", VILLAGES[0], 0.2),
        ],
    )
    with db.read_session() as session:
        assert record_view(session, "i1").identification_probability == 0.07
        assert record_view(session, "i2").identification_probability is None
    with pytest.raises(InvalidFieldError, match="identification_probability"):
        store(db, [dataclasses.replace(score("i3", VILLAGES[0], 0.3), identification_probability=1.5)])


def test_each_row_names_the_monitoring_type_the_household_would_enter_as(db: Database) -> None:
    store(
        db,
        [
            dataclasses.replace(score("s", VILLAGES[0], 0.6), expected_type="sudden"),
            dataclasses.replace(score("u", VILLAGES[0], 0.5), expected_type="unstable"),
            score("x", VILLAGES[0], 0.4),  # stored without a type
        ],
    )
    with db.read_session() as session:
        work = work_list(session, Scope("99"), Capacity(5, 1), {})
    assert [(r["pseudonym"], r["expected_type"]) for r in work_table.rows(work, ZH)] == [
        ("s", "突发严重困难户"),
        ("u", "脱贫不稳定户"),
        ("x", ""),
    ]
    assert [r["expected_type"] for r in work_table.rows(work, EN)][:2] == [
        "household in sudden severe difficulty",
        "unstable poverty-alleviated household",
    ]
    table = list(csv.reader(io.StringIO(work_table.to_csv(work, ZH).decode("utf-8-sig"))))
    column = table[0].index("预计监测类型")
    assert table[0][column - 1] == "监测状态"
    assert [row[column] for row in table[1:]] == ["突发严重困难户", "脱贫不稳定户", ""]
