"""Grid workers' visit sheets: Chinese headers and labels understood, every problem reported by row and field, and a
sheet with any problem stores nothing (`relapse visits import`)."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from relapse.cli import app
from service.db import Database
from service.scope import Scope
from service.settings import ServiceSettings, get_settings
from service.tables import Role, Visit
from service.visit_sheets import import_sheet, read_sheet
from tests.service.api_support import bearer
from tests.service.test_api_scores import _household_in, profile_row


@pytest.fixture
def households(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> list[str]:
    rows = [profile_row(batch_profiles, _household_in(batch_profiles, "990101", k)) for k in range(3)]
    answer = client.post("/v1/profiles:score", json={"profiles": rows}, headers=bearer(db, Role.MONITOR))
    assert answer.status_code == 200, answer.text
    return [str(row["household_id"]) for row in rows]


def _sheet(households: list[str]) -> pd.DataFrame:
    """Three visits as a township prints and fills them: Chinese headers and labels, lists with 、."""
    return pd.DataFrame(
        {
            "户编号": households,
            "走访日期": ["2025-07-10", "2025-07-11", "2025-07-12"],
            "走访人员": ["网格员", "村干部", "grid_worker"],
            "网格": ["G-01", "", "G-02"],
            "走访结果": ["纳入监测", "不符合条件（无风险）", "外出"],
            "监测类型": ["脱贫不稳定户", "", ""],
            "风险类型": ["因病、缺劳动力", "", ""],
            "已启动措施": ["医疗救助", "", ""],
            "备注": ["", "家中已有务工收入", ""],
        }
    )


def _stored(db: Database) -> list[Visit]:
    with db.session() as session:
        return list(session.scalars(select(Visit).order_by(Visit.id)))


def test_a_filled_excel_sheet_is_stored_whole_with_labels_read_as_codes(
    db: Database, households: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "visits.xlsx"
    _sheet(households).to_excel(path, index=False)
    with db.session() as session:
        stored, problems = import_sheet(session, Scope("990101"), read_sheet(path))
    assert (stored, problems) == (3, [])
    visits = _stored(db)
    assert [v.outcome for v in visits] == ["enrolled", "not_at_risk", "away"]
    assert visits[0].risk_types == ["01", "04"] and visits[0].measures_started == ["medical_assistance"]
    assert visits[0].monitoring_type == "unstable" and visits[1].visitor_role == "village_cadre"
    assert {v.source for v in visits} == {"import"} and {v.key_id for v in visits} == {None}


def test_a_sheet_with_problems_names_each_by_row_and_field_and_stores_nothing(
    db: Database, households: list[str], tmp_path: Path
) -> None:
    sheet = _sheet(households)
    sheet.loc[1, "走访日期"] = "2025-13-40"
    sheet.loc[2, "备注"] = "电话13812345678"
    sheet.loc[3] = ["H-unknown", "2025-07-12", "网格员", "", "外出", "", "", "", ""]
    path = tmp_path / "visits.csv"
    sheet.to_csv(path, index=False)
    with db.session() as session:
        stored, problems = import_sheet(session, Scope("990101"), read_sheet(path))
        session.rollback()
    assert stored == 0
    assert {(p.row, p.field) for p in problems} == {(2, "visited_on"), (3, "note")}
    assert "13812345678" not in " ".join(p.message for p in problems)
    assert _stored(db) == []

    # Once the field problems are fixed, the unknown household is the only one left, and still nothing is stored.
    sheet.loc[1, "走访日期"], sheet.loc[2, "备注"] = "2025-07-11", ""
    sheet.to_csv(path, index=False)
    with db.session() as session:
        stored, problems = import_sheet(session, Scope("990101"), read_sheet(path))
        session.rollback()
    assert stored == 0 and [(p.row, p.field) for p in problems] == [(4, "household_id")]
    assert _stored(db) == []


def test_relapse_visits_import_stores_a_good_sheet_and_lists_a_bad_ones_problems(
    db: Database, households: list[str], settings: ServiceSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RELAPSE_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
        sheet = _sheet(households)
        sheet.to_csv(good, index=False)
        sheet.assign(走访结果="visited").to_csv(bad, index=False)
        runner = CliRunner()
        refused = runner.invoke(app, ["visits", "import", str(bad), "--region", "990101"])
        assert refused.exit_code == 1 and "nothing stored" in refused.output and "outcome" in refused.output
        assert _stored(db) == []
        done = runner.invoke(app, ["visits", "import", str(good), "--region", "990101"])
        assert done.exit_code == 0, done.output
        assert "stored 3 visit(s)" in done.output and len(_stored(db)) == 3
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Visit)) == 3
    finally:
        get_settings.cache_clear()
