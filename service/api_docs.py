"""The API's documentation pages (Swagger UI at /docs, ReDoc at /redoc), served from this installation.

FastAPI's default pages load their scripts and styles from a public CDN, which a county office's network
usually cannot reach, and which would let a third party's script run on a page of the service. Here the same
pages load the assets the `fastapi-offline` package ships, from `/docs-assets/`, and Swagger UI is started by a
script file of the service's own (`docs_static/swagger-ui-init.js`) instead of an inline script, so both pages
carry a Content-Security-Policy that lets only the service's own script files run. `api_docs = "off"` removes
the pages and the OpenAPI document (`/openapi.json`) altogether, for deployments that publish the document
elsewhere.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Final, Literal

import fastapi_offline
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, HTMLResponse, Response

ApiDocs = Literal["public", "off"]
ASSETS_URL: Final = "/docs-assets"
SWAGGER_INIT_URL: Final = "/docs/swagger-ui-init.js"
REDOC_JS_URL: Final = "/redoc/redoc.standalone.js"
_ASSETS: Final = Path(fastapi_offline.__file__).parent / "static"
_SWAGGER_INIT: Final = Path(__file__).parent / "docs_static" / "swagger-ui-init.js"

# ReDoc's sidebar shows a logo it fetches from Redocly's CDN, with no option to turn it off: the page's own copy
# of the bundle shows the local icon instead, so the browser neither contacts a third party nor reports a refusal.
_REDOC_LOGO: Final = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def _redoc_bundle() -> bytes:
    bundle = (_ASSETS / "redoc.standalone.js").read_bytes()
    return bundle.replace(_REDOC_LOGO, f"{ASSETS_URL}/favicon.png".encode())


# Scripts only from the service itself, never inline. Styles may be inline: both UIs set element styles from
# script (ReDoc through styled-components), and a style cannot run code. ReDoc's search runs in a worker it
# starts from a blob: URL; images are the UIs' own icons, some as data: URLs.
_CSP_COMMON: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SWAGGER_CSP: Final = _CSP_COMMON
REDOC_CSP: Final = _CSP_COMMON + "; worker-src blob:"


def install_api_docs(app: FastAPI, mode: ApiDocs) -> None:
    """Add /docs and /redoc with local assets (the app must be built with `docs_url=None, redoc_url=None`)."""
    if mode == "off" or app.openapi_url is None:
        return
    openapi_url = escape(app.openapi_url)
    title = escape(app.title)
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_swagger_page(title, openapi_url), headers={"Content-Security-Policy": SWAGGER_CSP})

    @app.get(SWAGGER_INIT_URL, include_in_schema=False)
    def swagger_ui_init() -> FileResponse:
        return FileResponse(_SWAGGER_INIT, media_type="text/javascript")

    redoc_bundle = _redoc_bundle()

    @app.get(REDOC_JS_URL, include_in_schema=False)
    def redoc_js() -> Response:
        return Response(redoc_bundle, media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_redoc_page(title, openapi_url), headers={"Content-Security-Policy": REDOC_CSP})


def _swagger_page(title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
<link rel="icon" href="{ASSETS_URL}/favicon.png">
<title>{title} - Swagger UI</title>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{SWAGGER_INIT_URL}"></script>
</body>
</html>
"""


def _redoc_page(title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{ASSETS_URL}/favicon.png">
<title>{title} - ReDoc</title>
</head>
<body style="margin: 0; padding: 0">
<noscript>ReDoc needs JavaScript to show the documentation.</noscript>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{REDOC_JS_URL}"></script>
</body>
</html>
"""
