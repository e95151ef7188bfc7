"""A consistent copy of the service database for backups, and putting one back into an empty database.

SQLite is copied with its online backup API: page by page under the database's own locks, so a service that keeps
writing meanwhile yields a copy of one committed state, never a torn file (copying the file and its WAL by hand
could). PostgreSQL is dumped with `pg_dump`, which reads everything in one repeatable-read snapshot; only the
service's schema (the URL's `search_path`, `public` by default) is dumped, in the custom format `pg_restore`
reads. `pg_dump` must be at least the server's major version (Debian: `postgresql-client`).

The password of a PostgreSQL URL goes to the client programs through the environment, never on their command
line, where every user of the machine could read it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Final, Literal

from sqlalchemy import inspect, make_url, text

from service.db import create_db_engine, is_sqlite, sqlite_file
from service.errors import ServiceError

Backend = Literal["sqlite", "postgresql"]
SNAPSHOT_FILES: Final[dict[str, str]] = {"sqlite": "service.sqlite", "postgresql": "service.pgdump"}


class DatabaseBackupError(ServiceError):
    """The database cannot be copied or restored: a missing client program, a database that is not empty, a
    dump from another schema."""


def backend_of(url: str) -> Backend:
    return "sqlite" if is_sqlite(url) else "postgresql"


def is_empty(url: str) -> bool:
    """True when the service's schema holds no table at all (a fresh database, or an SQLite file not created yet)."""
    if is_sqlite(url):
        file = sqlite_file(url)
        if file is not None and not file.exists():
            return True
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names()
    finally:
        engine.dispose()


def snapshot_database(url: str, folder: Path) -> Path:
    """Write a consistent copy of the database at `url` into `folder`; returns the file written."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / SNAPSHOT_FILES[backend_of(url)]
    if is_sqlite(url):
        _copy_sqlite(_sqlite_path(url), target)
    else:
        schema = _current_schema(url)
        _run(
            "pg_dump", ["--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}", "--file"], url, target
        )
    return target


def restore_database(url: str, snapshot: Path, *, force: bool = False) -> None:
    """Put `snapshot` (from `snapshot_database`) into the database at `url`, which must be empty unless `force`
    (then its tables are replaced)."""
    if not force and not is_empty(url):
        raise DatabaseBackupError("the database is not empty; restore into an empty one, or pass --force to replace it")
    if is_sqlite(url):
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)  # a WAL left by another database would be replayed over the restored one
        _copy_sqlite(snapshot, path)
        return
    schema = _current_schema(url)
    dumped = _dumped_schema(snapshot)
    if dumped != schema:
        raise DatabaseBackupError(f"the backup holds schema {dumped!r}, the database URL's schema is {schema!r}")
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", f"--schema={schema}"]
    if force:
        options += ["--clean", "--if-exists"]
    _run("pg_restore", [*options, str(snapshot), "--dbname"], url, None)


def _sqlite_path(url: str) -> Path:
    path = sqlite_file(url)
    if path is None:
        raise DatabaseBackupError("an in-memory SQLite database cannot be backed up or restored")
    return path


def _copy_sqlite(source: Path, target: Path) -> None:
    if not source.is_file():
        raise DatabaseBackupError(f"no SQLite database at {source}")
    with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
        reader.backup(writer)
    reader.close()
    writer.close()


def _current_schema(url: str) -> str:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT current_schema()")).scalar_one())
    finally:
        engine.dispose()


def _dumped_schema(snapshot: Path) -> str:
    """The schema a custom-format dump holds, from its table of contents."""
    listing = _run("pg_restore", ["--list", str(snapshot)], None, None)
    for line in listing.splitlines():
        parts = line.split()
        # A table-of-contents line: "<id>; <oid> <oid> TABLE <schema> <name> <owner>"
        if len(parts) >= 6 and parts[3] == "TABLE":
            return parts[4]
    raise DatabaseBackupError(f"{snapshot.name} holds no table")


def _run(program: str, arguments: list[str], url: str | None, output: Path | None) -> str:
    """Run a PostgreSQL client program; `url`'s connection string is appended after the arguments (after
    `output` when given), its password passed in PGPASSWORD."""
    executable = shutil.which(program)
    if executable is None:
        raise DatabaseBackupError(
            f"{program} not found: install postgresql-client (the server's major version or newer)"
        )
    environment = dict(os.environ)
    command = [executable, *arguments]
    if output is not None:
        command.append(str(output))
    if url is not None:
        conninfo, password = _libpq(url)
        command.append(conninfo)
        if password is not None:
            environment["PGPASSWORD"] = password
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if finished.returncode != 0:
        lines = [line for line in finished.stderr.strip().splitlines() if line.strip()]
        raise DatabaseBackupError(f"{program} failed: {lines[-1] if lines else f'exit code {finished.returncode}'}")
    return finished.stdout


def _libpq(url: str) -> tuple[str, str | None]:
    """`url` as a libpq connection URI without its password, and the password."""
    parsed = make_url(url)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), parsed.password
