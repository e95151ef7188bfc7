"""Chinese an office would sign: full-width punctuation, the field's own words, Beijing time, the data's age.

Checked on the zh message catalogue and on zh pages rendered from scores stored through the real API, and
the work list's files downloaded from the region page.
"""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from service.db import Database
from service.reports.i18n import Messages, catalogue
from service.reports.pages import freshness
from service.tables import Role
from tests.service.api_support import bearer
from tests.service.test_reports_api import COUNTY, score_region

pytestmark = pytest.mark.xdist_group("reports")

# ASCII punctuation touching a Chinese character: "时间: 2026年" or "(北京" — to be written ：and （.
HALF_WIDTH = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef][ ]?[,;:!?()]|[,;:!?(][ ]?[\u4e00-\u9fff]")


def visible_text(page: str) -> str:
    """The page's text without markup, styles, and the parts marked as another language (lang="en")."""
    page = re.sub(r"<style>.*?</style>|<title>.*?</title>", " ", page, flags=re.S)
    page = re.sub(r'<(\w+)[^>]*\blang="en"[^>]*>.*?</\1>', " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_chinese_catalogue_uses_full_width_punctuation_and_the_fields_words() -> None:
    zh = catalogue("zh")
    offending = {key: text for key, text in zh.items() if HALF_WIDTH.search(text)}
    assert offending == {}
    assert not [key for key, text in zh.items() if "化名" in text]  # 化名 means alias: 户编号 / 脱敏编号
    assert not [key for key, text in zh.items() if "被识别为监测对象" in text]  # the policy says 纳入监测
    assert zh["table.pseudonym"] == "户编号"


def test_the_checker_finds_half_width_punctuation() -> None:
    assert HALF_WIDTH.search("报告生成时间: 2026年")
    assert HALF_WIDTH.search("风险(估计)")
    assert not HALF_WIDTH.search("报告生成时间：2026年1月1日（北京时间）")
    assert not HALF_WIDTH.search("PR-AUC (model)")


def test_times_are_beijing_time_and_dates_chinese() -> None:
    moment = datetime(2025, 12, 31, 17, 30, tzinfo=UTC)  # already 1 January in Beijing
    assert Messages("zh").time(moment) == "2026年1月1日 01:30（北京时间）"
    assert Messages("en").time(moment) == "2026-01-01 01:30 (Beijing time, UTC+8)"
    assert Messages("zh").time(moment.replace(tzinfo=None)) == "2026年1月1日 01:30（北京时间）"  # naive is UTC
    assert Messages("zh").date(date(2025, 7, 1)) == "2025年7月1日"


def test_freshness_counts_from_the_datas_date_not_the_scoring() -> None:
    scored_today = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert freshness(date(2026, 1, 1), Messages("zh"), scored_today) == "数据截至2026年1月1日，距今 333 天"
    assert freshness(date(2026, 1, 1), Messages("en"), scored_today) == "data as of 2026-01-01, 333 days ago"


def test_chinese_pages_use_full_width_punctuation(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 12)
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    pages = {
        "region": client.get(f"/reports/region/{COUNTY}", headers=headers).text,
        "household": client.get(f"/reports/household/{items[0]['household_pseudonym']}", headers=headers).text,
        "model": client.get("/reports/model", headers=headers).text,
    }
    for name, page in pages.items():
        text = visible_text(page)
        assert "北京时间" in text, name
        found = sorted({text[max(m.start() - 8, 0) : m.end() + 8] for m in HALF_WIDTH.finditer(text)})
        assert found == [], name
    assert "UTC" not in visible_text(pages["household"])


def test_the_work_list_downloads_as_csv_and_excel(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    from openpyxl import load_workbook

    items = score_region(client, db, batch_profiles, COUNTY, 12)
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    query = "visits_per_worker=2&workers=1"
    response = client.get(f"/reports/region/{COUNTY}?format=csv&{query}", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    villages = {i["region_code"] for i in items}
    per_village = {v: sum(i["region_code"] == v for i in items) for v in villages}
    assert len(table) - 1 == sum(min(2, n) for n in per_village.values())  # two visits per village at most
    assert table[0][-1] == catalogue("zh")["table.signature"]
    response = client.get(f"/reports/region/{COUNTY}?format=xlsx&lang=en&{query}", headers=headers)
    assert (
        response.status_code == 200
        and "filename*=UTF-8''worklist-990101-en.xlsx" in response.headers["content-disposition"]
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r[0] == catalogue("en")["table.county"]))
    assert len(rows) - header - 1 == len(table) - 1
    bad = client.get(f"/reports/region/{COUNTY}?format=csv&workers=0", headers=headers)
    assert bad.status_code == 422
