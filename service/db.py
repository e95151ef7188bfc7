"""Engines and sessions for the service database: SQLite on one machine, PostgreSQL at scale.

`open_database(url)` builds both; nothing connects until the first query. SQLite runs in WAL mode (readers do not
block the writer) with foreign keys enforced (SQLite ignores them unless asked, per connection).
`session_scope()` is the one transaction boundary: commit on success, roll back on any error, and turn
"cannot reach or lock the database" into `DatabaseUnavailableError` so the API can answer 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import URL, Connection, Engine, create_engine, event, insert, make_url, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service._write_gate import WriteGate
from service.errors import DatabaseUnavailableError
from service.settings import ServiceSettings, get_settings
from service.tables import HealthProbe, utcnow


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT construct, which can say ON CONFLICT (spelled alike by SQLite and PostgreSQL, but
    built per dialect by SQLAlchemy)."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, *, busy_timeout_s: float = 15.0, pool_size: int = 5, echo: bool = False) -> Engine:
    """An engine for `url`; for an SQLite file, its folder is created and every connection gets the pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (file := sqlite_file(url)) is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, echo=echo, pool_size=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 module issues BEGIN itself, late and not before SAVEPOINT; hand transactions to SQLAlchemy
    # (its documented recipe) so that savepoints and transactional DDL in migrations work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


# Execution option of the connections `Database.read` hands out: they only read, so they never take the write lock.
READ_ONLY_OPTION: Final = "relapse_read_only"


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE: take the write lock at the start. A deferred transaction that reads and then writes fails at
    # once ("database is locked", no busy wait) when another connection wrote in between; immediate ones queue
    # behind each other for up to the busy timeout instead. Readers outside transactions are not blocked (WAL).
    # A read-only connection (`Database.read`) begins a deferred transaction: a consistent snapshot for its
    # reads, without queueing behind every writer for a lock it never needs (an API key check per request).
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: the store returns plain values, but callers may hold ORM rows.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises."""
    session = sessions()
    try:
        yield session
        session.commit()
    except (OperationalError, DBAPIError) as error:
        session.rollback()
        _raise_unavailable(error)
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _raise_unavailable(error: DBAPIError) -> None:
    """`DatabaseUnavailableError` for "cannot reach or lock the database"; other database errors pass."""
    if isinstance(error, OperationalError) or error.connection_invalidated:
        raise DatabaseUnavailableError("database unavailable; nothing was written") from error


@dataclass(frozen=True)
class Database:
    """An engine and its session factory, created once per process; on an SQLite file, its write gate."""

    engine: Engine
    sessions: sessionmaker[Session]
    gate: WriteGate | None = None  # writers queue here before SQLite's lock (service/_write_gate.py)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """`session_scope` on this database (on SQLite a session's transaction takes the write lock)."""
        with self._gated(), session_scope(self.sessions) as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on a Core connection (no ORM session), committed when the block ends and rolled back
        if it raises; unreachable or locked → `DatabaseUnavailableError`, as `session`. The API writes each
        request's scores and audit entries in one of these."""
        try:
            with self._gated(), self.engine.begin() as connection:
                yield connection
        except DBAPIError as error:
            _raise_unavailable(error)
            raise

    def _gated(self) -> AbstractContextManager[None]:
        return self.gate.held() if self.gate is not None else nullcontext()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads only (Core statements), in a transaction that never takes SQLite's write lock
        and is rolled back at the end; unreachable or locked → `DatabaseUnavailableError`, as `session`."""
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**{READ_ONLY_OPTION: True})
                yield connection
        except DBAPIError as error:
            _raise_unavailable(error)
            raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """An ORM session for reads only, on a `read` connection: it never takes SQLite's write lock, so pages,
        histories and job listings answer while a batch job or another request writes. Rolled back at the end."""
        with self.read() as connection, Session(bind=connection, expire_on_commit=False) as session:
            yield session

    def ping(self) -> bool:
        """Whether the database answers a read (for `/health/ready`)."""
        try:
            with self.read() as connection:
                connection.execute(text("SELECT 1"))
        except (DBAPIError, DatabaseUnavailableError):
            return False
        return True

    def probe_write(self) -> bool:
        """Whether the database takes a write now (for `/health/ready`): one row rewritten in one transaction,
        through the write gate like every decision. A full disk, a read-only file or a held lock says False."""
        try:
            with self.transaction() as connection:
                now = utcnow()
                changed = connection.execute(update(HealthProbe).where(HealthProbe.id == 1).values(written_at=now))
                if changed.rowcount == 0:
                    connection.execute(insert(HealthProbe).values(id=1, written_at=now))
        except IntegrityError:
            return True  # another process inserted the row at the same moment: the database took its write
        except (DatabaseUnavailableError, DBAPIError):
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, settings: ServiceSettings | None = None) -> Database:
    """The database at `url` (default: the settings' `database_url`). Does not create tables: see `service.migrate`."""
    settings = settings or get_settings()
    url = url or settings.database_url
    engine = create_db_engine(url, busy_timeout_s=settings.sqlite_busy_timeout_s, pool_size=settings.database_pool_size)
    return Database(engine, create_session_factory(engine), _write_gate(url, settings.sqlite_busy_timeout_s))


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of an SQLite URL (None: another server, an in-memory database or a `file:` URI)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return None if parsed.database.startswith("file:") else Path(parsed.database)


def _write_gate(url: str, timeout_s: float) -> WriteGate | None:
    """The gate of an SQLite file (none for an in-memory database or another server)."""
    file = sqlite_file(url)
    return WriteGate(file.with_name(file.name + ".write-gate"), timeout_s) if file is not None else None
