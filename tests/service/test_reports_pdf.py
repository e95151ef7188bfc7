"""PDF exports (API and `relapse report`): a real engine with CJK fonts — Chinese text extracts, no missing glyphs."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from features.reading.sources import write_sources
from relapse.cli import app
from service.db import Database
from service.reports.i18n import catalogue
from service.settings import ServiceSettings, get_settings
from service.tables import Role
from tests.service.api_support import Registered, bearer
from tests.service.test_reports_api import COUNTY, score_region

pytestmark = pytest.mark.xdist_group("reports")
# Pango marks a character no installed font can draw with glyph id 0xFFFF (drawn as a hex box); id 0 is .notdef.
MISSING_GLYPHS = {"ffff", "0000"}


def pdf_text(data: bytes) -> tuple[str, list[str], set[str]]:
    """(extracted text, base-font names, glyph ids shown) of a PDF."""
    reader = PdfReader(io.BytesIO(data))
    texts, fonts, glyphs = [], set(), set()
    for page in reader.pages:
        texts.append(page.extract_text())
        for font in page["/Resources"].get("/Font", {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
        content = page.get_contents()
        for hexes in re.findall(rb"<([0-9a-fA-F]+)>", content.get_data() if content else b""):
            text = hexes.decode().lower()
            glyphs.update(text[i : i + 4] for i in range(0, len(text), 4))
    return "\n".join(texts), sorted(fonts), glyphs


def assert_clean_cjk(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    text, fonts, glyphs = pdf_text(data)
    assert fonts and all("Noto" in name for name in fonts), fonts  # Noto CJK, no fallback font
    assert not glyphs & MISSING_GLYPHS, "a character was drawn as a missing-glyph box"
    return re.sub(r"\s+", "", text)  # pypdf may break lines anywhere


def test_household_pdf_has_chinese_headings_and_reasons(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 4)
    item = max(items, key=lambda i: len(i["reasons"]))
    response = client.get(
        f"/reports/household/{item['household_pseudonym']}?format=pdf", headers=bearer(db, Role.OFFICIAL, COUNTY)
    )
    assert response.status_code == 200
    text = assert_clean_cjk(response.content)
    zh = catalogue("zh")
    for key in ("household.reasons", "household.rules", "household.measures", "household.history", "notice.title"):
        assert zh[key] in text, key
    assert item["reasons"], "the test needs a household with reasons"
    for reason in item["reasons"]:
        assert reason["zh"] in text
    assert "演示数据" in text and item["household_pseudonym"] in text


def test_region_pdf_in_english_lists_the_visits(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 10)
    response = client.get(f"/reports/region/{COUNTY}?format=pdf&lang=en", headers=bearer(db, Role.OFFICIAL, COUNTY))
    text = assert_clean_cjk(response.content)
    assert catalogue("en")["region.visit_list"].replace(" ", "") in text
    assert all(item["household_pseudonym"] in text for item in items)


@pytest.mark.slow
def test_cli_writes_the_same_reports_and_the_drift(
    client: TestClient,
    db: Database,
    batch_profiles: pd.DataFrame,
    registered: Registered,
    settings: ServiceSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 5)
    monkeypatch.setenv("RELAPSE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RELAPSE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAPSE_MLFLOW_URI", registered.tracking_uri)
    for name, value in registered.signing_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = tmp_path / "region.pdf"
        result = runner.invoke(app, ["report", "region", COUNTY, "--format", "pdf", "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = assert_clean_cjk(out.read_bytes())
        assert catalogue("zh")["region.visit_list"] in text
        assert all(item["household_pseudonym"] in text for item in items)

        work = tmp_path / "worklist.xlsx"
        args = ["report", "region", COUNTY, "--visits-per-worker", "2", "--workers", "1", "--format", "xlsx"]
        result = runner.invoke(app, [*args, "--out", str(work)])
        assert result.exit_code == 0, result.output
        from openpyxl import load_workbook

        sheet = load_workbook(work).active
        assert sheet is not None
        listed = [row[4] for row in sheet.iter_rows(min_row=4, values_only=True)]
        villages = {item["region_code"] for item in items}
        assert len(listed) == sum(min(2, sum(i["region_code"] == v for i in items)) for v in villages)
        assert set(listed) <= {item["household_pseudonym"] for item in items}

        hidden = tmp_path / "hidden.csv"
        args = ["report", "region", COUNTY, "--format", "csv", "--list", "hidden-need", "--share", "0.25"]
        result = runner.invoke(app, [*args, "--out", str(hidden)])
        assert result.exit_code == 0, result.output
        table = list(csv.reader(io.StringIO(hidden.read_text(encoding="utf-8-sig"))))
        assert table[0][4] == "户编号" and len(table) > 1
        # Households not under monitoring, flagged by a rule or not (the list's default); the rule-flag column
        # says which a rule raises.
        listable = {i["household_pseudonym"]: i for i in items if i["monitoring_status"] != "monitored"}
        assert {row[4] for row in table[1:]} <= set(listable)
        column = table[0].index("规则提示")
        for row in table[1:]:
            assert (row[column] != "—") == any(listable[row[4]]["rule_flags"]["flags"].values()), row
        result = runner.invoke(app, [*args[:-1], "0.9", "--out", str(hidden)])
        assert result.exit_code == 1 and "share" in result.output

        page = tmp_path / "household.html"
        pseudonym = items[0]["household_pseudonym"]
        result = runner.invoke(app, ["report", "household", pseudonym, "--lang", "en", "--out", str(page)])
        assert result.exit_code == 0, result.output
        assert '<html lang="en">' in page.read_text() and pseudonym in page.read_text()

        result = runner.invoke(app, ["report", "household", "H000nobody", "--out", str(page)])
        assert result.exit_code == 1 and "no scores for this household" in result.output

        city = tmp_path / "city"
        write_sources(registered.city, city, "parquet")
        result = runner.invoke(app, ["report", "drift", "--data", str(city), "--as-of", "2025-07-01"])
        assert result.exit_code == 0, result.output
        model_page = tmp_path / "model.html"
        result = runner.invoke(app, ["report", "model", "--lang", "en", "--out", str(model_page)])
        assert result.exit_code == 0, result.output
        html = model_page.read_text()
        assert "Reference: training data" in html and "(members_count)" in html
    finally:
        get_settings.cache_clear()
