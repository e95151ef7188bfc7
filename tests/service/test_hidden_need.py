"""The hidden-need list: who is left out (monitoring objects, rule-flagged, settled by a visit), the share of each
county, the order, and the endpoint's paging and region scope — against a hand-computed list."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.db import Database
from service.keys import Caller
from service.reports import build
from service.reports.hidden_need import hidden_need_list
from service.reports.i18n import Messages
from service.reports.render import render_page
from service.scope import Scope
from service.settings import ServiceSettings
from service.store import ScoreInput
from service.tables import Role
from service.visits import VisitIn, latest_visits, record_visit
from tests.service.api_support import bearer
from tests.service.test_reports_worklist import clear, score, store

pytestmark = pytest.mark.xdist_group("reports")

V1, V2, V3 = "990101001001", "990101002001", "990102001001"
ZH, EN = Messages("zh"), Messages("en")
FLAG = {"income_below_line": True, "major_illness": False}


def _status(row: ScoreInput, status: str, **more: object) -> ScoreInput:
    return dataclasses.replace(row, status={"monitoring_status": status, **more})


def _flagged(row: ScoreInput) -> ScoreInput:
    return dataclasses.replace(row, rule_flags=FLAG)


def _city(db: Database) -> None:
    """County 990101: one monitoring object (never counted), a rule-flagged household, one a visit settled, and
    eleven households in its pool; county 990102: four households, one of them flagged."""
    clear(db)
    store(
        db,
        [
            _status(score("m1", V1, 0.99), "monitored", monitoring_type="unstable", identified_date=date(2024, 3, 5)),
            _flagged(score("f1", V1, 0.95)),
            score("s1", V2, 0.9),
            _status(
                score("a1", V2, 0.8, keys=("income", "01")),
                "eliminated",
                identified_date=date(2022, 1, 1),
                elimination_date=date(2024, 1, 2),
                elimination_way="assisted",
            ),
            dataclasses.replace(score("a3", V1, 0.6), identification_probability=0.4),
            # a tie with a3: household number decides; its identification is far less likely than its need
            dataclasses.replace(score("a2", V2, 0.6, keys=("income",)), identification_probability=0.0625),
            *(score(f"a{i}", V1, 0.1 - i / 100) for i in range(4, 10)),
            score("b1", V3, 0.7, keys=("02", "household")),
            score("b2", V3, 0.3),
            score("b3", V3, 0.2),
            _flagged(score("b4", V3, 0.9)),
        ],
    )
    with db.session() as session:
        visit = VisitIn.model_validate(
            {"visited_on": date(2025, 7, 20), "visitor_role": "grid_worker", "outcome": "not_at_risk"}
        )
        record_visit(session, Scope("990101"), "s1", visit, key_id=None, source="api")


def test_each_county_lists_its_share_of_households_left_unraised_by_rules_and_visits(db: Database) -> None:
    _city(db)
    with db.read_session() as session:
        listed = hidden_need_list(
            session, Scope("99"), {}, 0.25, visits=latest_visits(session, Scope("99")), include_flagged=False
        )
    # County 990101: 11 households not monitored → ceil(0.25 × 11) = 3 listed, after f1 (flag) and s1 (visit).
    # County 990102: 4 → ceil(1.0) = 1, b4 flagged.
    assert [(e.pseudonym, e.rank, e.county_rank) for e in listed.entries] == [
        ("a1", 1, 1),
        ("b1", 2, 1),
        ("a2", 3, 2),
        ("a3", 4, 3),
    ]
    counts = [(c.county_code, c.households, c.size, c.listed, c.flagged, c.settled) for c in listed.counties]
    assert counts == [("990101", 11, 3, 3, 1, 1), ("990102", 4, 1, 1, 1, 0)]

    with db.read_session() as session:
        small = hidden_need_list(
            session, Scope("990101"), {}, visits=latest_visits(session, Scope("990101")), include_flagged=False
        )
    assert [e.pseudonym for e in small.entries] == ["a1"]  # ceil(0.05 × 11) = 1


def test_a_county_with_too_few_listable_households_lists_them_all(db: Database) -> None:
    clear(db)
    store(db, [_flagged(score("x1", V3, 0.9)), _flagged(score("x2", V3, 0.8)), score("x3", V3, 0.01)])
    with db.read_session() as session:
        listed = hidden_need_list(session, Scope("990102"), {}, 0.25, include_flagged=False)
    assert [e.pseudonym for e in listed.entries] == ["x3"]
    assert (listed.counties[0].size, listed.counties[0].listed, listed.counties[0].flagged) == (1, 1, 2)


def _pages(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items.extend(body["items"])
        cursor = body["cursor"]
        if not body["more"]:
            return items


def test_the_endpoint_pages_the_list_with_risk_types_and_keeps_to_the_region(client: TestClient, db: Database) -> None:
    _city(db)
    province = bearer(db, Role.OFFICIAL, "99")
    whole = client.get("/v1/regions/99/hidden-need?share=0.25&include_flagged=false", headers=province).json()
    assert whole["total"] == 4 and not whole["more"]
    assert [c["listed"] for c in whole["counties"]] == [3, 1]
    paged = _pages(client, "/v1/regions/99/hidden-need?share=0.25&include_flagged=false&limit=1", province)
    assert [(i["household_pseudonym"], i["rank"]) for i in paged] == [("a1", 1), ("b1", 2), ("a2", 3), ("a3", 4)]
    assert paged == whole["items"]

    first = paged[0]
    assert (
        first["monitoring_status"] == "eliminated" and first["region_code"] == V2 and first["county_code"] == "990101"
    )
    assert [r["key"] for r in first["risk_types"]] == ["01"]  # the risk type, not the background reason
    assert [r["key"] for r in first["reasons"]] == ["income", "01"]
    assert [r["key"] for r in paged[1]["risk_types"]] == ["02"] and paged[2]["risk_types"] == []

    county = bearer(db, Role.MONITOR, "990101")
    own = client.get("/v1/regions/990101/hidden-need?share=0.25&include_flagged=false", headers=county).json()
    assert [i["household_pseudonym"] for i in own["items"]] == ["a1", "a2", "a3"]
    url = "/v1/regions/990101/hidden-need?share=0.25"  # flagged households are listed by default
    with_flagged = client.get(url, headers=county).json()
    assert [i["household_pseudonym"] for i in with_flagged["items"]] == ["f1", "a1", "a2"]  # s1 still settled
    assert with_flagged["include_flagged"] and with_flagged["counties"][0]["flagged"] == 1  # f1, listed
    assert client.get("/v1/regions/990102/hidden-need", headers=county).status_code == 403
    assert client.get("/v1/regions/99/hidden-need", headers=county).status_code == 403
    assert client.get("/v1/regions/990101/hidden-need?share=0.5", headers=county).status_code == 422
    assert client.get("/v1/regions/990101/hidden-need?cursor=xyz", headers=county).status_code == 422
    assert client.get("/v1/regions/990101/hidden-need", headers=bearer(db, Role.SCIENTIST, "990101")).status_code == 403

    official = bearer(db, Role.OFFICIAL, "990101")
    page = client.get("/reports/region/990101?share=0.25", headers=official).text
    assert "list=hidden_need" in page and "f1" in page  # flagged households are listed by default
    file = client.get("/reports/region/990101?format=csv&list=hidden_need&share=0.25", headers=official)
    assert file.status_code == 200 and "hidden-need-990101-zh.csv" in file.headers["content-disposition"]
    assert [row[4] for row in _csv(file.content)[1:]] == ["f1", "a1", "a2"]
    other = client.get("/reports/region/990102?format=csv&list=hidden_need", headers=official)
    assert other.status_code == 403


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_files_and_the_page_show_the_list_county_by_county_with_the_risk_types_in_words(
    db: Database, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    _city(db)
    operator = Caller.local_operator()
    table = _csv(build.hidden_need_file(db, operator, "99", 0.25, ZH, "csv"))
    header = table[0]
    assert header[3:5] == ["序号", "户编号"] and header[-3:] == ["走访日期", "走访结果", "走访人签字"]
    cells = [dict(zip(header, row, strict=True)) for row in table[1:]]
    # With flagged households listed (the default): 990101 takes f1, a1, a2 (s1 settled); 990102 its flagged b4.
    assert [(c["户编号"], c["序号"]) for c in cells] == [("f1", "1"), ("a1", "2"), ("a2", "3"), ("b4", "1")]
    assert cells[1]["风险类型及依据"] == "因病" and cells[1]["监测状态"].startswith("已风险消除")
    assert cells[2]["风险类型及依据"] == ZH.t("hidden_need.background")
    assert [c["规则提示"] != "—" for c in cells] == [True, False, False, True]
    # The second output, stored with the score: "—" where the score has none.
    assert [c["经常规渠道纳入监测的概率"] for c in cells] == ["—", "—", "6.2%", "—"]
    assert all(c["走访日期"] == c["走访结果"] == c["走访人签字"] == "" for c in cells)
    sheet = load_workbook(io.BytesIO(build.hidden_need_file(db, operator, "99", 0.25, ZH, "xlsx"))).active
    assert sheet is not None and sheet.title == "隐性需求清单"
    assert [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(min_row=3, values_only=True)] == table

    settings = ServiceSettings(data_dir=tmp_path)
    for m in (ZH, EN):
        context = build.region_report(db, operator, "99", settings, m, share=0.25)
        assert [r["pseudonym"] for r in context["hidden_need"]["rows"]] == ["f1", "a1", "a2", "b4"]
        page = render_page("region", context)
        assert m.t("region.hidden_need") in page and m.t("hidden_need.by_county") in page
    assert [c["listed"] for c in context["hidden_need"]["counties"]] == ["3", "1"]
    assert "4 households in 2 counties" in context["hidden_need"]["note"]
    assert "official rule already flags (2, see the rule-flag column)" in context["hidden_need"]["note"]
    assert [c["flagged"] for c in context["hidden_need"]["counties"]] == ["1", "1"]  # listed, not left out
    # The expected count says what the serving model's probabilities estimate.
    need = render_page("region", build.region_report(db, operator, "99", settings, ZH, share=0.25, label="need_12m"))
    identification = render_page("region", build.region_report(db, operator, "99", settings, ZH, share=0.25))
    assert ZH.t("region.expected_need") in need and "陷入困难（无论是否被发现" in need
    assert ZH.t("region.expected") in identification and "陷入困难（无论是否被发现" not in identification
