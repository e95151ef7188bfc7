"""`relapse serve [--host H] [--port P] [--workers N]`: run the scoring API (uvicorn) on the registry's champion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from service.settings import ServiceSettings

errors = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add this module's command to the app."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default: RELAPSE_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: RELAPSE_PORT, 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="uvicorn worker processes, about one per core (default: RELAPSE_WORKERS, 1)."),
    ] = None,
) -> None:
    """Serve the scoring API with OpenAPI docs at /docs; the model is the registry's champion."""
    import uvicorn

    from service.app import create_app
    from service.settings import get_settings

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    prepare_shared_state(settings)
    errors.print(
        f"serving on http://{host}:{port} (docs at /docs) with {workers} worker process(es); "
        f"model {settings.model_name}@{settings.model_alias}"
    )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
        return
    # Worker processes build their own app from the same environment (settings are read from RELAPSE_*).
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def prepare_shared_state(settings: ServiceSettings) -> None:
    """What every worker process shares, made once before they start: the migrated database, the pseudonym key
    and the report-signing secret. Created by racing workers instead, two processes could each write a key
    file (pseudonyms or report sessions that differ between workers) or run the same migration at once."""
    from features.pseudonyms.keys import ensure_local_key
    from service.migrate import upgrade_database
    from service.reports.auth import load_secret

    upgrade_database(settings.database_url)
    ensure_local_key()
    load_secret(settings.reports_secret, settings.data_dir)
