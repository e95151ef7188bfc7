"""Alembic migrations of the service database, run from Python (no alembic.ini needed at the repository root).

`upgrade_database(url)` brings any database to the newest schema and is cheap when it is already there, so the
service and `relapse keys` call it on start. Developers can also run Alembic itself:
`alembic -c service/migrations/alembic.ini upgrade head` (URL from `RELAPSE_DATABASE_URL`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from service.db import create_db_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url`; the URL travels as an attribute, so passwords need no %-escaping."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str = "base") -> None:
    """Undo migrations down to `revision` (default: an empty database)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def script_revision_known(revision: str) -> bool:
    """True when this release's migrations include `revision` (a database from a newer release is at one they
    do not)."""
    try:
        return ScriptDirectory.from_config(alembic_config("")).get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(url: str) -> str | None:
    """The revision the database is at (`None` for an empty database)."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
