"""Security headers on every response: no MIME sniffing, no framing, no referrer to other sites, and no caching
of API data.

Answers under `/v1/` carry household pseudonyms, scores and reasons: `Cache-Control: no-store` keeps them out of
browser and proxy caches. A route that sets its own value (report pages, PDFs) keeps it. The referrer policy is
`same-origin`, not `no-referrer`: a page URL (which may name a household) never reaches another site, while the
service's own form posts keep their `Origin`, which the report sign-in checks against cross-site posts. Pure
ASGI, so the headers cost a few list operations per response rather than a middleware task.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
NO_STORE: Final = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        personal = str(scope.get("path", "")).startswith("/v1/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in ALWAYS if name not in present]
                if personal and NO_STORE[0] not in present:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
