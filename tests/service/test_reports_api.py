"""Report pages through the API: sign-in, roles, region scope, languages, content from real stored scores."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from features.profiles.rules import RULES
from service.db import Database
from service.keys import create_key, revoke_key
from service.reports import auth
from service.reports.i18n import Messages, catalogue
from service.tables import Role
from tests.service.api_support import AS_OF, bearer

COUNTY = "990101"
OTHER_COUNTY = "990102"
EARLIER = "2024-07-01"

pytestmark = pytest.mark.xdist_group("reports")


def _rows(profiles: pd.DataFrame, prefix: str, n: int, as_of: str) -> list[dict[str, Any]]:
    from tests.service.test_api_scores import profile_row

    matches = profiles.index[profiles["region_code"].astype(str).str.startswith(prefix)][:n]
    rows = [profile_row(profiles, profiles.index.get_loc(i)) for i in matches]
    return [{**row, "as_of": as_of} for row in rows]


def score_region(client: TestClient, db: Database, profiles: pd.DataFrame, prefix: str, n: int) -> list[dict]:
    """Score `n` households of `prefix` twice (an earlier and the current run) through the real API."""
    headers = bearer(db, Role.MONITOR, prefix)
    items = []
    for as_of in (EARLIER, AS_OF):
        response = client.post(
            "/v1/profiles:score", json={"profiles": _rows(profiles, prefix, n, as_of)}, headers=headers
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
    return items  # the current run's items


def key_of(db: Database, role: Role, prefix: str) -> str:
    with db.session() as session:
        return create_key(session, role=role, region_prefix=prefix, label="report test").plaintext


def login(client: TestClient, key: str) -> None:
    response = client.post("/reports/login", data={"api_key": key, "next": "/reports/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/reports" in cookie
    assert key not in cookie  # the cookie holds a signed key id, never the key


def test_household_report_in_chinese_by_default_with_reasons_measures_and_history(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 6)
    # the highest probability of a household the model speaks for (a monitoring object's is not shown)
    item = max((i for i in items if i["monitoring_status"] != "monitored"), key=lambda i: i["probability"])
    login(client, key_of(db, Role.OFFICIAL, COUNTY))
    page = client.get(f"/reports/household/{item['household_pseudonym']}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")  # no script, nothing fetched
    html = page.text
    assert '<html lang="zh-CN">' in html
    assert html.count("<h1") == 1
    zh = catalogue("zh")
    for key in ("household.reasons", "household.rules", "household.measures", "household.history", "notice.body"):
        assert zh[key] in html, key
    assert zh["synthetic.banner"] in html  # the demo model was trained on a synthetic city
    assert f"{item['probability'] * 100:.1f}%" in html
    if item["monitoring_status"] != "monitored":  # the type it would enter as, beside the probability
        assert f"<dt>{zh['table.expected_type']}</dt><dd>{item['expected_monitoring_type']['zh']}</dd>" in html
    for reason in item["reasons"]:
        assert reason["zh"] in html and reason["sentence_zh"] and str(escape(reason["sentence_zh"])) in html
    for measure in item["measures"]:
        assert measure["zh"] in html and f"{measure['probability_after'] * 100:.1f}%" in html
    raised = [r.zh for r in RULES if item["rule_flags"]["flags"].get(r.name)]
    assert all(text in html for text in raised)
    assert html.count(f"<td>{item['model_version']}</td>") == 2  # both scoring runs in the history table
    day = Messages("zh").date  # the zh page writes dates the Chinese way
    assert day(date.fromisoformat(EARLIER)) in html and day(date.fromisoformat(AS_OF)) in html
    assert not re.search(r"\d{17}[\dXx]", html)  # no national ID number anywhere


def test_english_switch_uses_the_english_catalogue(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    item = score_region(client, db, batch_profiles, COUNTY, 2)[0]
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    html = client.get(f"/reports/household/{item['household_pseudonym']}?lang=en", headers=headers).text
    assert '<html lang="en">' in html
    assert catalogue("en")["household.reasons"] in html and catalogue("zh")["household.reasons"] not in html
    assert all(reason["en"] in html for reason in item["reasons"])
    assert re.search(r'href="[^"]*lang=zh', html)  # the switch back to Chinese


def test_probability_in_words_matches_the_score(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 8)
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    for item in items:
        html = client.get(f"/reports/household/{item['household_pseudonym']}?lang=en", headers=headers).text
        p = item["probability"]
        if item["monitoring_status"] == "monitored":  # already monitored: a notice and its readiness, no probability
            assert catalogue("en")["household.monitored_note"] in html
            for condition in item["elimination_readiness"]["conditions"]:
                assert f'<th scope="row">{escape(condition["en"])}</th>' in html
            continue
        if p >= 0.095:
            expected = f"About {max(1, round(p * 10))} in 10 similar households"
        elif p >= 0.005:
            expected = f"About {max(1, round(p * 100))} in 100 similar households"
        else:
            expected = "Fewer than 1 in 100"
        assert expected in html


def test_another_regions_household_is_404_and_an_unknown_one_too(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    other = score_region(client, db, batch_profiles, OTHER_COUNTY, 1)[0]
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    response = client.get(f"/reports/household/{other['household_pseudonym']}", headers=headers)
    unknown = client.get("/reports/household/H999999999", headers=headers)
    assert response.status_code == unknown.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == unknown.json()["detail"]  # nothing tells them apart
    browser = client.get(
        f"/reports/household/{other['household_pseudonym']}", headers={**headers, "Accept": "text/html"}
    )
    assert browser.status_code == 404 and catalogue("zh")["error.404"] in browser.text


def test_region_report_counts_levels_lists_visits_and_disagreements(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 30)
    score_region(client, db, batch_profiles, OTHER_COUNTY, 5)
    url = f"/reports/region/{COUNTY}?lang=en&visits_per_village=40"  # more than a village has: everyone listed
    html = client.get(url, headers=bearer(db, Role.OFFICIAL, COUNTY)).text
    fresh = [i for i in items if i["monitoring_status"] != "monitored"]  # monitoring objects are counted apart
    counts = {level: sum(i["risk_level"] == level for i in fresh) for level in ("high", "medium", "low")}
    en = catalogue("en")
    assert en["region.by_level_alt"].format(**counts) in html
    assert en["region.households_n"].format(n=len(items)) in html  # only this county's latest scores
    for item in items:
        assert item["household_pseudonym"] in html
    model_only = sum(i["risk_level"] == "high" and not any(i["rule_flags"]["flags"].values()) for i in fresh)
    rules_only = sum(i["risk_level"] == "low" and any(i["rule_flags"]["flags"].values()) for i in fresh)
    assert en["region.model_only_note"].format(n=model_only, shown=min(model_only, 20)) in html
    assert en["region.rules_only_note"].format(n=rules_only, shown=min(rules_only, 20)) in html
    assert f'<th scope="row">{EARLIER}</th>' in html and f'<th scope="row">{AS_OF}</th>' in html  # the trend


def test_region_outside_scope_is_403_and_bad_codes_422(client: TestClient, db: Database) -> None:
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    assert client.get(f"/reports/region/{OTHER_COUNTY}", headers=headers).status_code == 403
    assert client.get("/reports/region/99", headers=headers).status_code == 403
    response = client.get("/reports/region/9901x1", headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "region_code"
    response = client.get(f"/reports/region/{COUNTY}?lang=fr", headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "lang"


@pytest.mark.parametrize(
    ("role", "household", "model"), [(Role.MONITOR, 403, 403), (Role.SCIENTIST, 403, 200), (Role.OFFICIAL, 200, 200)]
)
def test_roles(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame, role: Role, household: int, model: int
) -> None:
    item = score_region(client, db, batch_profiles, COUNTY, 1)[0]
    headers = bearer(db, role, COUNTY)
    assert client.get(f"/reports/household/{item['household_pseudonym']}", headers=headers).status_code == household
    assert client.get("/reports/model", headers=headers).status_code == model


def test_without_sign_in_browsers_go_to_the_login_and_clients_get_401(client: TestClient) -> None:
    browser = client.get(f"/reports/region/{COUNTY}", headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and browser.headers["location"].startswith("/reports/login?next=")
    assert client.get(f"/reports/region/{COUNTY}").status_code == 401
    form = client.get(browser.headers["location"])
    assert form.status_code == 200 and 'type="password"' in form.text


def test_login_refuses_bad_keys_and_never_redirects_off_site(client: TestClient, db: Database) -> None:
    response = client.post("/reports/login", data={"api_key": "rr_000000000000_nope"})
    assert response.status_code == 401 and catalogue("zh")["login.failed"] in response.text
    key = key_of(db, Role.OFFICIAL, COUNTY)
    response = client.post(
        "/reports/login", data={"api_key": key, "next": "https://evil.example/"}, follow_redirects=False
    )
    assert response.headers["location"] == "/reports/"


def test_session_ends_when_the_key_is_revoked(client: TestClient, db: Database) -> None:
    with db.session() as session:
        created = create_key(session, role=Role.OFFICIAL, region_prefix=COUNTY, label="revoked later")
    login(client, created.plaintext)
    assert client.get(f"/reports/region/{COUNTY}").status_code == 200
    with db.session() as session:
        revoke_key(session, created.info.id)
    assert client.get(f"/reports/region/{COUNTY}").status_code == 401


def test_signed_link_opens_one_page_only_until_it_expires(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    item = score_region(client, db, batch_profiles, COUNTY, 1)[0]
    path = f"/reports/household/{item['household_pseudonym']}"
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    link = client.post("/reports/links", json={"path": path, "minutes": 5, "lang": "en"}, headers=headers)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    client.cookies.clear()
    assert client.get(url).status_code == 200
    token = url.split("token=")[1]
    assert client.get(f"/reports/region/{COUNTY}?token={token}").status_code == 401  # bound to its page
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"{path}?token={tampered}").status_code == 401
    secret = client.app.state.report_secret  # type: ignore[attr-defined]
    expired = auth.sign(secret, auth.Token(auth.verify(secret, token, path=path).key_id, 1, path))
    assert client.get(f"{path}?token={expired}").status_code == 401
    too_long = client.post("/reports/links", json={"path": path, "minutes": 10**6}, headers=headers)
    assert too_long.status_code == 422


def test_model_report_shows_version_metrics_fairness_and_history(client: TestClient, db: Database, holder: Any) -> None:
    html = client.get("/reports/model?lang=en", headers=bearer(db, Role.OFFICIAL, COUNTY)).text
    serving = holder.current
    en = catalogue("en")
    assert en["model.title"].format(name="relapse-risk", version=serving.version) in html
    pr_auc = serving.info["metrics"]["test_pr_auc"]
    assert f"{pr_auc:.3f}" in html
    assert en["model.fairness.tpr"] in html and en["model.fairness_missing"] not in html
    assert "<td>champion</td>" in html  # the promotion history lists the version's alias
    assert str(escape(en["model.drift_missing"])) in html  # no drift computed in this test
    # A need model names its base rate and fairness counts as need, and shows its companion's figures.
    assert en["model.metric.base_rate_need"] in html and en["model.fairness.positives_need"] in html
    assert en["model.fairness.positives"] not in html.replace(en["model.fairness.positives_need"], "")
    assert en["model.identification"] in html
    companion_auc = serving.info["metrics"]["identification_test_roc_auc"]
    assert f'<td class="num">{companion_auc:.3f}</td>' in html


def test_pdf_download(client: TestClient, db: Database) -> None:
    response = client.get(f"/reports/region/{COUNTY}?format=pdf", headers=bearer(db, Role.OFFICIAL, COUNTY))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert f"region-{COUNTY}-zh.pdf" in response.headers["content-disposition"]


def test_region_report_follows_new_scores(client: TestClient, db: Database, batch_profiles: pd.DataFrame) -> None:
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    score_region(client, db, batch_profiles, COUNTY, 3)
    first = client.get(f"/reports/region/{COUNTY}?lang=en", headers=headers).text
    assert catalogue("en")["region.households_n"].format(n=3) in first
    score_region(client, db, batch_profiles, COUNTY, 7)  # the report's cached data must not hide these
    second = client.get(f"/reports/region/{COUNTY}?lang=en", headers=headers).text
    assert catalogue("en")["region.households_n"].format(n=7) in second


def test_cached_region_data_merges_new_scores_like_a_fresh_read(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    from service.reports._cache import region_data_cached
    from service.reports._queries import region_data
    from service.scope import Scope

    scope = Scope(COUNTY)
    score_region(client, db, batch_profiles, COUNTY, 6)
    with db.session() as session:
        before = region_data_cached(db, session, scope, 50, 5)
    score_region(client, db, batch_profiles, COUNTY, 12)  # six re-scored households and six new ones
    with db.session() as session:
        merged = region_data_cached(db, session, scope, 50, 5)
        fresh = region_data(session, scope, 50, 5)
    assert before.summary.households == 6 and merged.summary.households == 12
    assert merged == fresh


def test_township_and_village_reports_narrow_the_county(
    client: TestClient, db: Database, batch_profiles: pd.DataFrame
) -> None:
    items = score_region(client, db, batch_profiles, COUNTY, 20)
    village = items[0]["region_code"]
    headers = bearer(db, Role.OFFICIAL, COUNTY)
    zh = catalogue("zh")
    for code, level in ((village[:9], "township"), (village, "village")):
        html = client.get(f"/reports/region/{code}", headers=headers).text
        inside = [i for i in items if i["region_code"].startswith(code)]
        unnamed = zh["region.unnamed"].format(level=zh[f"region.level.{level}"], code=code)  # no villages reference
        assert zh["region.title"].format(name=unnamed) in html
        assert zh["region.households_n"].format(n=len(inside)) in html
        assert all(i["household_pseudonym"] in html for i in inside)


def test_logout_ends_the_session_on_the_server_and_a_session_is_never_a_link(client: TestClient, db: Database) -> None:
    login(client, key_of(db, Role.OFFICIAL, COUNTY))
    cookie = client.cookies[auth.COOKIE]
    assert client.get(f"/reports/region/{COUNTY}").status_code == 200
    client.cookies.clear()
    assert client.get(f"/reports/region/{COUNTY}?token={cookie}").status_code == 401  # not accepted in a URL
    client.cookies.set(auth.COOKIE, cookie, path="/reports")
    logged_out = client.post("/reports/logout", follow_redirects=False)
    assert logged_out.status_code == 303
    client.cookies.set(auth.COOKIE, cookie, path="/reports")  # a copy of the cookie kept after logout
    assert client.get(f"/reports/region/{COUNTY}").status_code == 401


def test_sign_in_and_sign_out_refuse_cross_site_posts(client: TestClient, db: Database) -> None:
    key = key_of(db, Role.OFFICIAL, COUNTY)
    form = {"api_key": key, "next": "/reports/"}
    forged = client.post(
        "/reports/login", data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    referred = client.post(
        "/reports/login", data=form, headers={"Referer": "https://evil.example/page"}, follow_redirects=False
    )
    assert referred.status_code == 403
    own = client.post("/reports/login", data=form, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert own.status_code == 303 and auth.COOKIE in own.headers["set-cookie"]
    assert client.post("/reports/logout", headers={"Origin": "https://evil.example"}).status_code == 403
