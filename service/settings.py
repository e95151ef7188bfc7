"""Settings of the `service` package (environment variables `RELAPSE_*`, or a git-ignored `.env`).

Nothing is read at import time: `get_settings()` builds the settings on first use and caches them;
tests clear the cache with `get_settings.cache_clear()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Where the service keeps its database; later: host, port, limits, thresholds."""

    model_config = SettingsConfigDict(env_prefix="RELAPSE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # SQLAlchemy URL. Unset: an SQLite file in the data folder, enough for one machine. At team or province
    # scale: `postgresql+psycopg://user:password@host:5432/dbname`.
    database_url: str = ""
    # Seconds an SQLite writer waits for another writer's lock before giving up (the API then answers 503).
    sqlite_busy_timeout_s: float = 15.0
    # Connections kept open per process for PostgreSQL (ignored for SQLite).
    database_pool_size: int = 5

    @model_validator(mode="after")
    def _default_database_url(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = default_database_url(self.data_dir)
        return self


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'service.db').resolve()}"


@lru_cache
def get_settings() -> ServiceSettings:
    return ServiceSettings()
