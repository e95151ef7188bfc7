"""The API documentation pages in a real browser: every operation is shown, under a Content-Security-Policy that
allows no inline script, and the browser reports no violation of it and no error."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import Service

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("reports")]

# Registered before any of the page's scripts: every CSP violation the browser reports, as "directive uri".
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
# What each page renders per operation.
OPERATION = {"/docs": "#swagger-ui .opblock", "/redoc": "[data-section-id^='operation/']"}


def _operations(service: Service) -> int:
    document = httpx.get(f"{service.url}/openapi.json", timeout=30).json()
    methods = {"get", "put", "post", "delete", "patch"}
    return sum(1 for item in document["paths"].values() for method in item if method in methods)


def _script_sources(policy: str) -> list[str]:
    directives = {part.split()[0]: part.split()[1:] for part in (d.strip() for d in policy.split(";")) if part}
    return directives.get("script-src", directives.get("default-src", []))


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_page_shows_every_operation_under_a_policy_without_inline_script(
    browser: Any, service: Service, path: str
) -> None:
    context = browser.new_context(base_url=service.url)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: console.append(str(error)))
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        response = page.goto(path)
        assert response is not None and response.status == 200
        policy = response.headers.get("content-security-policy", "")
        assert _script_sources(policy) == ["'self'"], policy

        expected = _operations(service)
        page.wait_for_function(f"document.querySelectorAll({OPERATION[path]!r}).length >= {expected}", timeout=60_000)
        assert page.locator(OPERATION[path]).count() == expected
        page.wait_for_timeout(500)  # late workers and images report their violations too
        assert page.evaluate("window.cspViolations") == []
        assert not [line for line in console if "Content Security Policy" in line or "Refused" in line], console
        assert [line for line in console if "error" in line.lower()] == [], console

        # The policy is enforced, not only sent: an inline script added now is refused, and reported.
        with pytest.raises(Exception, match="(?i)refused|content security policy|error"):
            page.add_script_tag(content="window.inlineRan = true;")
        assert page.evaluate("window.inlineRan === undefined")
        assert any("script-src" in v for v in page.evaluate("window.cspViolations"))
    finally:
        context.close()
