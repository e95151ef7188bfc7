"""`relapse serve [--host H] [--port P]`: run the scoring API (uvicorn) on the registry's champion model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

errors = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add this module's command to the app."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default: RELAPSE_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: RELAPSE_PORT, 8000).")] = None,
) -> None:
    """Serve the scoring API with OpenAPI docs at /docs; the model is the registry's champion."""
    import uvicorn

    from service.app import create_app
    from service.settings import get_settings

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    errors.print(f"serving on http://{host}:{port} (docs at /docs); model {settings.model_name}@{settings.model_alias}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
