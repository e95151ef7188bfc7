"""The API's documentation pages (Swagger UI at /docs, ReDoc at /redoc), served from this installation.

FastAPI's default pages load their scripts and styles from a public CDN, which a county office's network
usually cannot reach, and which would let a third party's script run on a page of the service. Here the same
pages load the assets the `fastapi-offline` package ships, from `/docs-assets/`. `api_docs = "off"` removes the
pages and the OpenAPI document (`/openapi.json`) altogether, for deployments that publish the document elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ApiDocs = Literal["public", "off"]
ASSETS_URL: Final = "/docs-assets"
_ASSETS: Final = Path(fastapi_offline.__file__).parent / "static"


def install_api_docs(app: FastAPI, mode: ApiDocs) -> None:
    """Add /docs and /redoc with local assets (the app must be built with `docs_url=None, redoc_url=None`)."""
    if mode == "off" or app.openapi_url is None:
        return
    openapi_url = app.openapi_url
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
