"""The API's documentation pages load nothing from outside the service, and can be turned off."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder
from tests.service.api_support import KEY, service_settings

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_the_services_own_assets(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    urls = [a or b for a, b in ASSET.findall(response.text)]
    assert urls, response.text[:500]
    for url in urls:
        assert not url.startswith(("http:", "https:", "//")), url  # no CDN, no font service
        assert client.get(url).status_code == 200, url
    assert "cdn.jsdelivr" not in response.text and "fonts.googleapis" not in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_have_no_inline_script_and_a_policy_that_forbids_one(client: TestClient, page: str) -> None:
    response = client.get(page)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, flags=re.S)
    assert scripts and all("src=" in attributes and not body.strip() for attributes, body in scripts), scripts
    policy = {part.split()[0]: part.split()[1:] for part in response.headers["content-security-policy"].split(";")}
    assert policy["script-src"] == ["'self'"] and policy["default-src"] == ["'none'"], policy
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_redoc_bundle_names_no_outside_address_to_load(client: TestClient) -> None:
    bundle = client.get("/redoc/redoc.standalone.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in bundle.text


def test_docs_off_removes_the_pages_and_the_openapi_document(tmp_path: Path, db: Database, holder: ModelHolder) -> None:
    settings = service_settings(tmp_path, db, api_docs="off")
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        for path in (
            "/docs",
            "/redoc",
            "/openapi.json",
            "/docs-assets/swagger-ui-bundle.js",
            "/docs/swagger-ui-init.js",
            "/redoc/redoc.standalone.js",
        ):
            assert client.get(path).status_code == 404, path
        assert client.get("/health/live").status_code == 200
