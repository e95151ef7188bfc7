"""Report pages in a real browser: sign-in, content per role and region, no console errors, accessibility basics,
phone and desktop screenshots, the PDF download, and 404 for another region's household."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.reports.i18n import catalogue
from tests.browser.conftest import COUNTY, Service

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("reports")]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Accessibility basics checked in the page itself: lang, one h1, table headers, text alternatives of charts,
# labelled inputs, WCAG AA contrast (4.5:1) of every visible text against its background, no sideways scrolling.
A11Y_SCRIPT = """() => {
  const problems = [];
  const lang = document.documentElement.lang;
  if (!lang) problems.push('html has no lang');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  for (const t of document.querySelectorAll('table')) if (!t.querySelector('th')) problems.push('table without th');
  for (const s of document.querySelectorAll('svg')) {
    if (s.getAttribute('role') !== 'img' || !s.getAttribute('aria-label') || !s.querySelector('title'))
      problems.push('chart without text alternative');
  }
  for (const i of document.querySelectorAll('img')) if (!i.alt) problems.push('img without alt');
  for (const i of document.querySelectorAll('input:not([type=hidden])'))
    if (!(i.id && document.querySelector(`label[for="${i.id}"]`))) problems.push('input without label');
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (el.closest('.skip') || style.display === 'none' || style.visibility === 'hidden') continue;
    const fg = el.closest('svg') ? rgb(style.fill).slice(0, 3) : rgb(style.color).slice(0, 3);
    const r = ratio(fg, background(el.closest('svg') ? el.closest('svg').parentElement : el));
    if (r < 4.5) problems.push(`contrast ${r.toFixed(2)} of "${node.textContent.trim().slice(0, 20)}"`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push('page scrolls sideways');
  return problems;
}"""


@pytest.fixture
def errors() -> list[str]:
    return []


def _page(browser: Any, service: Service, key: str, viewport: dict[str, int], errors: list[str]) -> Any:
    context = browser.new_context(viewport=viewport, base_url=service.url, accept_downloads=True)
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/reports/login")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def official(browser: Any, service: Service, request: pytest.FixtureRequest, errors: list[str]) -> Iterator[Any]:
    page = _page(browser, service, service.official_key, request.param, errors)
    yield page
    page.context.close()


def _check(page: Any, errors: list[str], screenshots: Path, name: str) -> None:
    assert page.evaluate(A11Y_SCRIPT) == []
    assert errors == []
    width = page.viewport_size["width"]
    page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)


def test_official_signs_in_and_reads_the_county_report_in_chinese(
    official: Any, service: Service, errors: list[str], screenshots: Path
) -> None:
    assert official.url.endswith(f"/reports/region/{COUNTY}?lang=zh")  # the official's own county
    zh = catalogue("zh")
    assert official.locator("html").get_attribute("lang") == "zh-CN"
    assert zh["region.visit_list"] in official.inner_text("main")
    assert zh["synthetic.banner"] in official.inner_text("main")
    assert official.locator("svg[role=img]").count() >= 3  # levels, trend, risk types
    top = service.own_households[0]["household_pseudonym"]
    village = official.locator("table.work").filter(has=official.locator(f"a:text-is('{top}')"))
    assert village.locator("tbody tr").first.locator("td").nth(1).inner_text() == top  # first of its village
    _check(official, errors, screenshots, "region")
    official.locator("table.work").locator(f"a:text-is('{top}')").click()  # the work list links households
    official.wait_for_load_state()
    assert official.url.endswith(f"/reports/household/{top}?lang=zh") and top in official.inner_text("h1")


def test_household_report_and_the_english_switch(
    official: Any, service: Service, errors: list[str], screenshots: Path
) -> None:
    item = service.own_households[0]
    official.goto(f"/reports/household/{item['household_pseudonym']}")
    text = official.inner_text("main")
    assert catalogue("zh")["notice.body"] in text
    assert all(reason["zh"] in text for reason in item["reasons"])
    _check(official, errors, screenshots, "household-zh")
    official.click("text=English")
    official.wait_for_load_state()
    assert official.locator("html").get_attribute("lang") == "en"
    text = official.inner_text("main")
    assert catalogue("en")["household.reasons"] in text and all(r["en"] in text for r in item["reasons"])
    _check(official, errors, screenshots, "household-en")


def test_another_regions_household_answers_404(official: Any, service: Service) -> None:
    response = official.goto(f"/reports/household/{service.other_household}")
    assert response is not None and response.status == 404
    assert catalogue("zh")["error.title"] in official.inner_text("main")


def test_the_pdf_download_is_a_pdf(browser: Any, service: Service, errors: list[str]) -> None:
    page = _page(browser, service, service.official_key, DESKTOP, errors)
    try:
        with page.expect_download() as download:
            page.click(f"text={catalogue('zh')['nav.pdf']}")
        path = download.value.path()
        assert Path(path).read_bytes().startswith(b"%PDF")
        assert download.value.suggested_filename == f"region-{COUNTY}-zh.pdf"
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_scientist_reads_the_model_report_but_no_household(
    browser: Any, service: Service, errors: list[str], screenshots: Path, viewport: dict[str, int]
) -> None:
    page = _page(browser, service, service.scientist_key, viewport, errors)
    try:
        assert "/reports/model" in page.url
        zh = catalogue("zh")
        assert zh["model.fairness"] in page.inner_text("main")
        # The households the service scored are the champion's served scores: their drift has a chart.
        assert zh["model.score_drift_value"].split("{")[0] in page.inner_text("main")
        alt_start = zh["model.score_drift_alt"].split("{")[0]
        assert page.locator(f'svg[role=img][aria-label^="{alt_start}"]').count() == 1
        _check(page, errors, screenshots, "model")
        response = page.goto(f"/reports/household/{service.own_households[0]['household_pseudonym']}")
        assert response is not None and response.status == 403
    finally:
        page.context.close()


# Every element of a list (the tables `selector` picks) lies inside the viewport (the page does not scroll sideways,
# and no cell is cut off inside a scrolling box either), and the list is there.
OVERFLOW_SCRIPT = """(selector) => {
  const width = window.innerWidth, out = [];
  const cells = document.querySelectorAll(`${selector}, ${selector} *`);
  for (const el of cells) {
    const box = el.getBoundingClientRect();
    if (box.width && (box.left < -0.5 || box.right > width + 0.5)) out.push(`${el.tagName} ${box.left}-${box.right}`);
  }
  if (document.documentElement.scrollWidth > width) out.push(`page ${document.documentElement.scrollWidth}`);
  return {problems: out.slice(0, 10), cells: cells.length};
}"""

# Every text of every chart lies inside its SVG's box: nothing is clipped at the chart's edge.
CLIPPED_SCRIPT = """() => {
  const out = [];
  let texts = 0;
  for (const svg of document.querySelectorAll('svg.chart')) {
    const frame = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      texts += 1;
      const b = t.getBoundingClientRect();
      if (b.left < frame.left - 0.5 || b.right > frame.right + 0.5 || b.top < frame.top - 0.5 ||
          b.bottom > frame.bottom + 0.5) out.push(t.textContent);
    }
  }
  return {clipped: out, texts: texts};
}"""


def test_the_work_list_fits_a_phone(browser: Any, service: Service, errors: list[str], screenshots: Path) -> None:
    page = _page(browser, service, service.official_key, PHONE, errors)
    try:
        page.goto(f"/reports/region/{COUNTY}?lang=zh&visits_per_worker=3&workers=2")
        for table in ("table.work", "table.hidden-need"):
            result = page.evaluate(OVERFLOW_SCRIPT, table)
            assert result["cells"] > 0, f"no {table} on the page"
            assert result["problems"] == [], table
        assert page.locator("table.work tbody tr").count() <= 6 * page.locator("table.work").count()
        page.screenshot(path=str(screenshots / "worklist-390.png"), full_page=True)
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_chart_label_is_clipped(browser: Any, service: Service, errors: list[str], lang: str) -> None:
    official = _page(browser, service, service.official_key, DESKTOP, errors)
    scientist = _page(browser, service, service.scientist_key, DESKTOP, errors)
    try:
        pseudonym = service.own_households[0]["household_pseudonym"]
        checked = 0
        for page, path in (
            (official, f"/reports/region/{COUNTY}"),
            (official, f"/reports/household/{pseudonym}"),
            (scientist, "/reports/model"),
        ):
            page.goto(f"{path}?lang={lang}")
            result = page.evaluate(CLIPPED_SCRIPT)
            assert result["clipped"] == [], path
            checked += result["texts"]
        assert checked > 20, "too few chart labels to have checked anything"
    finally:
        official.context.close()
        scientist.context.close()
